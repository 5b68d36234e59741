"""The course's environment variables, in one place: what each one changes, its default, and the one reader.

Every `STOIC_*` variable the package reads is in VARIABLES and is read through `env` (tests/test_house.py checks
both), when it is needed rather than at import: `os.environ["STOIC_T4"] = "1"` at the top of a notebook works.
docs/settings.md lists them for the reader, from this table.

    from stoic_workshop.settings import env
    env("STOIC_BACKEND")            # -> "transformers" unless set
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ["Variable", "VARIABLES", "env", "env_flag"]


@dataclass(frozen=True)
class Variable:
    """One environment variable: its name, its value when unset (None: no value), and what it changes.

    Example: `VARIABLES["STOIC_T4"].what`  # -> "1: a bigger GPU behaves as a free Colab T4 ..."
    """

    name: str
    default: str | None
    what: str


VARIABLES = {v.name: v for v in [
    # which models, and how they load
    Variable("STOIC_PROFILE", None, "`offline` or `colab`: the model pair `pick_models()` gives, whatever the "
                                    "machine (unset: the GPU and Hub models where both are there, else offline)"),
    Variable("STOIC_BASE_MODEL", None, "a preset, Hub id or model folder that replaces `pick_models()`' base model"),
    Variable("STOIC_INSTRUCT_MODEL", None, "the same for the instruct model"),
    Variable("STOIC_BACKEND", "transformers", "`unsloth`: load and train through Unsloth on a GPU"),
    Variable("STOIC_T4", "0", "`1`: a bigger GPU behaves as a free Colab T4 (16 GB, fp16, no bf16)"),
    Variable("STOIC_UNSLOTH_COMPILED_ATTENTION", "0", "`1`: keep Unsloth's compiled attention for Gemma 2 (off: its "
                                                      "soft-capping is computed eagerly, see docs/performance.md)"),
    Variable("STOIC_WORKSHOP_CACHE", None, "the folder for converted models and kept measurements (unset: "
                                           "$XDG_CACHE_HOME or ~/.cache, then stoic_workshop)"),
    Variable("STOIC_LLAMA_CPP_SDIST", None, "a llama-cpp-python source package (.tar.gz) to take llama.cpp's GGUF "
                                            "converter from, with no network"),
    Variable("STOIC_JUDGE_MODEL", "gpt-4o-mini", "the model a hosted judge (an OpenAI-compatible API) is asked for"),
    # the notebooks' sizes (workshop.REHEARSAL has the rehearsal values; docs/notebooks.md the table)
    Variable("STOIC_TRAIN_STEPS", "60", "training steps of notebook 2 (and of 3 and 4 when they train their own)"),
    Variable("STOIC_EVAL_PROMPTS", "16", "held-out complaints notebook 3 answers, scores and judges"),
    Variable("STOIC_CALIBRATION_PER_LABEL", "0", "hand-graded answers of each label notebook 3 calibrates its "
                                                 "judge on (0: all)"),
    Variable("STOIC_KNOWLEDGE_STEPS", "120", "training steps of each LoRA arm in notebook 5"),
    Variable("STOIC_KNOWLEDGE_FACTS", "0", "facts notebook 5 measures, spread evenly over the set (0: all 173)"),
]}


def env(name: str) -> str | None:
    """The value of one of the course's environment variables, stripped, or its default when unset or empty.

    Example: `env("STOIC_JUDGE_MODEL")`  # -> "gpt-4o-mini" unless set
    """
    if name not in VARIABLES:
        raise KeyError(f"{name} is not one of the course's environment variables: {', '.join(VARIABLES)}")
    value = os.environ.get(name, "").strip()
    return value or VARIABLES[name].default


def env_flag(name: str) -> bool:
    """Whether a yes/no variable is on: 1, true, yes or on, in any case.

    Example: `env_flag("STOIC_T4")`  # -> False unless STOIC_T4=1
    """
    return (env(name) or "").lower() in ("1", "true", "yes", "on")
