"""Serve a GGUF model behind an OpenAI-compatible API on this machine, for as long as a `with` block runs.

Why it exists: the judge (notebook 3), teacher mode and deployment all talk to models through the
OpenAI chat API, so the same code works for a hosted model and for a small local one. This starts
llama-cpp-python's server on 127.0.0.1 with a packaged model, waits until it answers, and always stops it:

    from stoic_workshop.serve import llama_server
    with llama_server("smollm2-135m-instruct") as server:
        print(server.base_url)          # http://127.0.0.1:PORT/v1, give it to OpenAIJudge or teach()

The server runs in a child process with llama.cpp's weight repacking switched off: repacking into
AMX/AVX-512 buffers crashes with SIGILL on VMs that advertise AMX without enabling it, and the plain
kernels are fast enough for the course's small models.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .models import PRESETS, cache_dir, cpu_threads, gguf_file

__all__ = ["llama_server", "Server", "ServerError", "load_gguf", "LLAMA_CPP_PYTHON"]

LLAMA_CPP_PYTHON = "0.3.36"  # llama.cpp's Python bindings (= requirements-dev.txt); export uses its source's converter
INSTALL = f'pip install "llama-cpp-python[server]=={LLAMA_CPP_PYTHON}"'
CHAT_FORMATS = {"gemma": "gemma", "llama": "chatml"}  # preset family -> llama-cpp-python chat format

# Runs in the child: exit when the parent dies (a restarted notebook kernel must not leave a server
# holding the port and memory), turn repacking off in the default model parameters, start the server.
SERVER = """
import os, runpy, threading, time
def exit_with_parent(parent=os.getppid()):
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)
threading.Thread(target=exit_with_parent, daemon=True).start()
from stoic_workshop.serve import no_repacking
no_repacking()
runpy.run_module("llama_cpp.server", run_name="__main__", alter_sys=True)
"""


def no_repacking():
    """Make llama.cpp's default model parameters skip weight repacking; returns the function to undo it."""
    import llama_cpp.llama_cpp as lib

    default_params = lib.llama_model_default_params

    def without_repacking():
        params = default_params()
        params.use_extra_bufts = False
        return params

    lib.llama_model_default_params = without_repacking
    return lambda: setattr(lib, "llama_model_default_params", default_params)


def load_gguf(path, **settings):
    """A `llama_cpp.Llama` for a GGUF file in this process, with repacking off (see above), quietly.

    A missing, foreign or cut-off file, or missing bindings, is said in one sentence with the fix.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No GGUF file at {path}: export one first (notebook 4, or `stoic-workshop export`).")
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise ValueError(f"{path} is not a GGUF file (it does not start with the bytes 'GGUF'): pass the .gguf "
                             "that `stoic-workshop export` or notebook 4 wrote.")
    try:
        import llama_cpp
    except ImportError:
        raise ImportError(f"Running {path.name} here needs llama.cpp's Python bindings: "
                          f"pip install llama-cpp-python=={LLAMA_CPP_PYTHON}") from None
    undo = no_repacking()
    try:
        return llama_cpp.Llama(model_path=str(path), **{"verbose": False, **settings})
    except ValueError as err:  # llama.cpp: "Failed to load model from file"
        size = path.stat().st_size / 1e6
        raise ValueError(f"llama.cpp could not load {path} ({size:.1f} MB): the file is incomplete or damaged, e.g. "
                         f"an interrupted copy or export. Export it again. ({err})") from None
    finally:
        undo()


class ServerError(RuntimeError):
    """The local server could not be started; if it ran at all, the message ends with the tail of its log."""


@dataclass(frozen=True)
class Server:
    """A running server: pass `base_url` and `model` to any OpenAI client. The key is not kept here."""

    base_url: str
    model: str
    log: Path
    pid: int

    def log_tail(self, chars: int = 2000) -> str:
        return _tail(self.log, chars)


@contextmanager
def llama_server(model: str | os.PathLike = "smollm2-135m-instruct", *, port: int | None = None,
                 api_key: str | None = None, n_ctx: int = 2048, chat_format: str | None = None,
                 threads: int | None = None, log: str | os.PathLike | None = None, timeout: float = 120.0):
    """Start llama-cpp-python's OpenAI-compatible server for a preset name or a .gguf path; yield a `Server`.

    `api_key` makes the server demand that key (clients send it as a Bearer token); it is passed to the
    child process through its environment, so it never shows in the process list or in the log.
    `chat_format` defaults to the preset family's format (ChatML for SmolLM2), or for a .gguf path to
    the template stored in the file. The server log goes to `log` (default: a temporary file).
    Example: `with llama_server() as server: OpenAIJudge(server.base_url, server.model)`
    """
    if importlib.util.find_spec("llama_cpp") is None or importlib.util.find_spec("llama_cpp.server") is None:
        raise ServerError(f"llama-cpp-python's server is not installed: {INSTALL}")
    try:
        import llama_cpp.server.app  # noqa: F401  (fails without the [server] extra: fastapi, uvicorn, ...)
    except ImportError as exc:
        raise ServerError(f"llama-cpp-python's server needs its extra packages ({exc.name} is missing): "
                          f"{INSTALL}") from None
    gguf, alias, chat_format = _resolve(model, chat_format)
    port = port or free_port()
    log = Path(log) if log is not None else Path(tempfile.mkdtemp(prefix="llama_server_")) / "server.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-c", SERVER, "--model", str(gguf), "--model_alias", alias,
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", str(n_ctx),
               "--n_threads", str(threads or _threads()), "--verbose", "False"]
    if chat_format:
        command += ["--chat_format", chat_format]
    env = dict(os.environ)
    env.pop("API_KEY", None)  # the server reads its settings from the environment too
    if api_key:
        env["API_KEY"] = api_key
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                   env=env)
    try:
        _wait_until_ready(process, port, api_key, log, timeout)
        yield Server(base_url=f"http://127.0.0.1:{port}/v1", model=alias, log=log, pid=process.pid)
    finally:
        _stop(process)


def free_port() -> int:
    """A port nothing listens on now (the OS picks it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _threads() -> int:
    """$OMP_NUM_THREADS where it is set (models.cpu_threads), else llama-cpp-python's own default, half the logical
    CPUs: llama.cpp threads spin while they wait, so running more of them than there are physical cores (or than
    other work leaves free) slows every token."""
    return cpu_threads(otherwise=max(1, (os.cpu_count() or 2) // 2))


def _resolve(model, chat_format: str | None) -> tuple[Path, str, str | None]:
    """(gguf file, model name the server answers to, chat format) for a preset name or a .gguf path."""
    if str(model) in PRESETS:
        preset = PRESETS[str(model)]
        if not preset.offline:
            offline = [name for name, p in PRESETS.items() if p.offline]
            raise ServerError(f"preset {preset.name!r} has no packaged GGUF file; use one of {offline} "
                              "or pass the path of a .gguf file")
        gguf = gguf_file(preset, cache_dir() / "models" / "gguf")
        return gguf, preset.name, chat_format or CHAT_FORMATS.get(preset.family)
    path = Path(model).expanduser()
    if path.suffix != ".gguf" or not path.is_file():
        raise ServerError(f"model must be a preset name ({', '.join(PRESETS)}) or an existing .gguf file, "
                          f"got {str(model)!r}")
    return path, path.stem, chat_format


def _answers(port: int, api_key: str | None) -> bool:
    headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
    request = urllib.request.Request(f"http://127.0.0.1:{port}/v1/models", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _wait_until_ready(process: subprocess.Popen, port: int, api_key: str | None, log: Path, limit: float) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerError(f"llama.cpp server exited with code {process.returncode} before answering; "
                              f"log {log}:\n{_tail(log)}")
        if _answers(port, api_key):
            return
        time.sleep(0.25)
    raise ServerError(f"llama.cpp server did not answer /v1/models within {limit:.0f} s; log {log}:\n{_tail(log)}")


def _stop(process: subprocess.Popen) -> None:
    """Terminate, and kill if it does not stop within 10 s: a stray server would hold the port and memory."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _tail(path: Path, chars: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"
