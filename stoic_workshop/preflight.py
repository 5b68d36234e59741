"""Preflight for instructors: will the workshop run on this machine, right now? A go/no-go table.

Checks what breaks live demos: the Python version, the hardware, package versions against the pins,
that both models load and answer, a 2-step fine-tune, energy measuring, the GGUF converter and
llama.cpp, and free disk. Each row says what to fix. Run it the day before, and again at the venue.

    stoic-workshop preflight
"""

from __future__ import annotations

import importlib.metadata
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

__all__ = ["preflight", "check_pins", "pins"]

GO, WARN, NO_GO = "GO", "WARN", "NO-GO"
ROOT = Path(__file__).resolve().parent.parent
# Pins whose drift breaks the course, not just changes it.
CRITICAL = {"transformers", "torch", "trl", "peft", "unsloth", "bitsandbytes"}


def pins(profile: str) -> dict[str, str]:
    """The pinned versions of a profile: the package's `offline` or `colab` extra (what the notebooks' install cell
    installs); in a checkout, the offline profile is requirements.txt, which pins the rest of the stack too."""
    found: dict[str, str] = {}
    source = ROOT / "requirements.txt"
    if profile == "offline" and source.is_file() and (ROOT / "pyproject.toml").is_file():
        lines = source.read_text().splitlines()
    else:
        lines = [r.split(";")[0] for r in importlib.metadata.requires("stoic-workshop") or []
                 if f'extra == "{profile}"' in r or f"extra == '{profile}'" in r]
    for line in lines:
        line = line.split("#")[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            found[name.split("[")[0].strip().lower()] = version.strip()
    return found


def _same(have: str, pinned: str) -> bool:
    """2.13.0+cpu is 2.13.0: local build tags (CPU or CUDA wheels of torch) do not count as drift."""
    from packaging.version import InvalidVersion, Version

    try:
        return Version(have).public == Version(pinned).public
    except InvalidVersion:
        return have == pinned


def check_pins(wanted: dict[str, str]) -> list[tuple[str, str, str, str]]:
    """One row per pinned package that is missing or at another version: (check, status, found, fix)."""
    rows = []
    for name, version in wanted.items():
        try:
            have = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            have = None
        if have is not None and _same(have, version):
            continue
        status = NO_GO if name in CRITICAL else WARN
        rows.append((f"package {name}", status, f"{have or 'not installed'} (pinned {version})",
                     f'pip install "{name}=={version}"'))
    if not rows:
        rows.append(("package versions", GO, f"all {len(wanted)} pins match", ""))
    return rows


def _timed(fn):
    start = time.time()
    value = fn()
    return value, time.time() - start


def preflight(profile: str | None = None, *, steps: int = 2, verbose: bool = True):
    """Run every check and return the table (check, status, found, fix); also printed when `verbose`."""
    import pandas as pd

    from .models import hardware, pick_models

    rows: list[tuple[str, str, str, str]] = []
    ok_python = (3, 10) <= sys.version_info[:2] <= (3, 12)
    rows.append(("Python", GO if ok_python else WARN, platform.python_version(),
                 "" if ok_python else "use Python 3.10-3.12, as tested"))
    hw = hardware()
    profile = profile or ("colab" if hw.device == "cuda" else "offline")
    if hw.device == "cuda":
        enough = hw.memory_gb >= 12
        rows.append(("hardware", GO if enough else WARN, str(hw),
                     "" if enough else "a GPU with 12+ GB (a Colab T4 has 16) for Gemma 2 2B in 4-bit"))
    else:
        ram = hw.memory_gb
        rows.append(("hardware", GO if ram >= 6 else WARN, f"{hw}; no GPU: the offline models, plain LoRA",
                     "" if ram >= 6 else "6+ GB of RAM for the offline models"))
    rows += check_pins(pins(profile))
    free = shutil.disk_usage(Path.home()).free / 2**30
    rows.append(("disk", GO if free >= 5 else NO_GO, f"{free:.0f} GB free",
                 "" if free >= 5 else "free 5 GB: the models, merged copy and GGUF files need it"))

    base, instruct = pick_models(profile if profile in ("offline", "colab") else None)
    model = tokenizer = None
    for name in (base, instruct):
        try:
            from .generation import complete, reply
            from .models import load_model

            (model, tokenizer), seconds = _timed(lambda n=name: load_model(n, verbose=False))
            said = (reply if name == instruct else complete)(model, tokenizer, "My train is late again.",
                                                             max_new_tokens=12)
            rows.append((f"model {name}", GO if said.strip() else NO_GO,
                         f"loads in {seconds:.0f} s, answers {said.strip()[:40]!r}",
                         "" if said.strip() else "the model answers nothing: reinstall it"))
        except Exception as err:  # a preflight reports, it does not crash
            model = None
            rows.append((f"model {name}", NO_GO, f"{type(err).__name__}: {str(err)[:120]}",
                         "run `stoic-workshop prepare` online, or check the install"))
    if model is not None:
        try:
            from .config import StoicConfig
            from .dataset import make_dataset
            from .energy import Energy
            from .train import finetune

            energy = Energy(output_dir=tempfile.mkdtemp(prefix="stoic-preflight-energy-"))
            with tempfile.TemporaryDirectory(prefix="stoic-preflight-") as folder:  # the workshop's recipe, short
                result = finetune(model, tokenizer, make_dataset(n=16), StoicConfig(output_dir=folder, max_steps=steps),
                                  energy=energy, progress=False)
            per_step = result.step_seconds[-1] if result.step_seconds else result.seconds / max(result.steps, 1)
            rows.append((f"{steps}-step fine-tune", GO, f"{result.path}, last step {per_step:.1f} s: about "
                         f"{per_step:.0f} min for the workshop's 60 steps", ""))
            power = {p.power for p in energy.phases}
            measured = bool(power & {"measured", "estimated"})
            rows.append(("energy (CodeCarbon)", GO if measured else WARN, ", ".join(sorted(power)),
                         "" if measured else "pip install codecarbon; training still runs without it"))
        except Exception as err:
            rows.append((f"{steps}-step fine-tune", NO_GO, f"{type(err).__name__}: {str(err)[:160]}",
                         "fix this before the workshop: notebook 2 will fail the same way"))

    from .serve import LLAMA_CPP_PYTHON
    from .models import cache_dir

    have = (cache_dir() / f"llama.cpp-converter-{LLAMA_CPP_PYTHON}" / "convert_hf_to_gguf.py").is_file()
    rows.append(("GGUF converter", GO if have else WARN, "unpacked" if have else "not fetched yet",
                 "" if have else "run `stoic-workshop prepare` while online (76 MB, once)"))
    try:
        version = importlib.metadata.version("llama_cpp_python")
        rows.append(("llama.cpp bindings", GO, f"llama-cpp-python {version}", ""))
    except importlib.metadata.PackageNotFoundError:
        rows.append(("llama.cpp bindings", WARN, "not installed",
                     f"pip install llama-cpp-python=={LLAMA_CPP_PYTHON} (runs GGUF files, Q4_K_M); "
                     "F16/Q8_0 export works without it"))
    table = pd.DataFrame(rows, columns=["check", "status", "found", "fix"])
    if verbose:
        with pd.option_context("display.max_colwidth", 90, "display.width", 200):
            print(table.to_string(index=False))
        blocking = (table["status"] == NO_GO).sum()
        print(f"\n{'GO' if not blocking else 'NO-GO'}: {blocking} blocking problem(s), "
              f"{(table['status'] == WARN).sum()} warning(s).")
    return table
