"""Unsloth, imported with the two fixes the course measured: for notebook 2's GPU route and `load_model`'s.

    if USE_UNSLOTH:
        print(sw.tune_unsloth())   # before any model is loaded: Unsloth patches transformers, TRL and PEFT
"""

from __future__ import annotations

import os

from .settings import env_flag

__all__ = ["tune_unsloth", "unsloth_environment", "unsloth_eager_softcapping"]


def unsloth_environment() -> None:
    """Settings Unsloth needs offline, and the fix for its block compile crash on torch 2.11.

    Example: `unsloth_environment()` before `import unsloth`  # sets UNSLOTH_BLOCK_COMPILE=0 on torch 2.11
    """
    import torch

    os.environ.setdefault("UNSLOTH_DISABLE_STATISTICS", "1")
    if torch.__version__.startswith("2.11"):
        # torch 2.11 + triton 3.6: Unsloth's per-block torch.compile crashes in the first backward
        # (InductorError in decompose_triton_kernel_wrapper_functional); this keeps its LoRA kernels.
        os.environ.setdefault("UNSLOTH_BLOCK_COMPILE", "0")


def unsloth_eager_softcapping() -> bool:
    """Run Unsloth's Gemma 2 attention (logit soft-capping) eagerly instead of compiled with Inductor's max-autotune.

    Profiled on an H200 (bench/train_gpu.py --profile, bench/results/unsloth_h200.json): that one compiled function took
    37 s of the first step's forward and most of its 108 s backward with empty caches, as on a fresh Colab runtime, and
    still 40 s with warm ones; UNSLOTH_COMPILE_DISABLE does not reach it. Eager costs nothing to start, and at the
    course's sequence lengths the attention scores are small. STOIC_UNSLOTH_COMPILED_ATTENTION=1 keeps Unsloth's
    compiled version (worth it for long runs on long sequences). Returns whether the eager path was chosen.
    Example: `unsloth_eager_softcapping()` after `import unsloth`  # -> True with Unsloth 2026.10
    """
    if env_flag("STOIC_UNSLOTH_COMPILED_ATTENTION"):
        return False
    from unsloth.kernels import flex_attention

    eager = getattr(flex_attention, "_SOFTCAP_EAGER", None)  # Unsloth's own switch for when compiling fails
    if eager is None:
        return False
    eager["cuda"] = True
    return True


def tune_unsloth() -> str:
    """Import Unsloth (first: it patches transformers, TRL and PEFT) with the course's two measured fixes, and say
    which were set: its per-block compile off on torch 2.11 (it crashed in the first backward), and Gemma 2's
    soft-capped attention run eagerly (compiled, it made the first step take 2 minutes on an H200).

    Example: `if USE_UNSLOTH: print(sw.tune_unsloth())`  # notebook 2's settings cell, before any model is loaded
    """
    unsloth_environment()
    import unsloth  # noqa: F401

    eager = unsloth_eager_softcapping()
    block = os.environ.get("UNSLOTH_BLOCK_COMPILE") == "0"
    return (f"Unsloth {getattr(unsloth, '__version__', '')} imported"
            + (", its per-block compile off (torch 2.11)" if block else "")
            + (", Gemma 2's soft-capped attention eager" if eager else "") + ".")
