"""stoic-workshop: the helpers behind the workshop notebooks, one module per step.

    import stoic_workshop as sw
    base, base_tok = sw.load_model("gemma-3-270m")             # offline base model
    chat, chat_tok = sw.load_model("smollm2-135m-instruct")     # offline instruct model
    sw.reply(chat, chat_tok, "Stuck in traffic again.")
    ds = sw.make_dataset(n=80)                                    # Stoic conversations
    report = sw.check_dataset(ds, chat_tok, max_seq_length=512)   # before any training
    sw.finetune(chat, chat_tok, ds, sw.StoicConfig(output_dir="adapters/stoic"))  # the workshop's recipe
"""

# ruff: noqa: E402  (the logger below is quieted before the imports that import bitsandbytes)
import logging as _logging

# On CPUs with AVX512-BF16, bitsandbytes warns at import that an optional kernel (downloaded from the Hub) is missing:
# the first line of every command, argument errors included. Its own CPU code runs without it, so only that warns less.
_logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(_logging.ERROR)

from .masking import DataReport, check_dataset, encode, masked_view
from .chat import GEMMA_TEMPLATE, check_chat_tokens, end_of_turn, render
from .checks import (CheckFailed, check_lora_choice, check_my_knowledge_question, check_my_lexicon, check_my_modelfile,
                     check_my_pairs, check_my_prompt, check_my_rubric)
from .stoic_data import eval_prompts
from .dataset import DataError, load_pairs, make_dataset, mix, save_jsonl, train_eval_split
from .distributed import World, check_world, launch_config, world
from .energy import Energy, EnergyLabel, label_model_card
from .evaluate import (answers, bootstrap_ci, forgetting, perplexity, plot_scores, pick_judge, read_answers,
                       report, score_answers, side_by_side_scored, summary)
from .clients import LocalJudge, OpenAIJudge
from .generation import complete, generate, reply
from .judging import (RUBRIC, JudgeError, calibrate, compare, judge, parse_verdict,
                      win_rate)
from .models import (PRESETS, Hardware, Preset, TokenizerMismatch, cache_dir, check_tokenizer, hardware,
                     load_adapters, load_model, model_folder, model_source, pick_models)
from .memory_estimate import Estimate, NF4Report, estimate_memory, memory_table, nf4_error
from .unsloth_fixes import tune_unsloth
from .score import LEXICON, NAMES, add_words, highlight, meaning_score, name_drops, stoic_matches, stoic_score
from .quotes import Passage, check_quotes, highlight_quotes, invented
from .knowledge import Fact, ask, knowledge_facts
from .knowledge import run as compare_arms
from .export import (Exported, converter, export_all, keep_sentencepiece, merge, modelfile, sizes,
                     to_gguf, verify)
from .folders import RunFolder
from .serve import llama_server
from .show import side_by_side
from .slides import render_slides, slide_figures
from .energy_sweep import course_sweep, frontier, plot_sweep, sweep, sweep_takeaway
from .teacher import TeacherError, TeachResult, teach
from .train import (TrainResult, cpu_has_bf16_matmul, ensure_adapters, finetune, learning_rate_for,
                    plot_losses)

__version__ = "0.1.0"


def __getattr__(name):
    """`sw.StoicConfig`, `sw.EnergyCallback`, `sw.LossGuard` and `sw.TrainingDiverged`, imported on first use: they
    extend TRL's SFTConfig and transformers' TrainerCallback, and importing those takes seconds."""
    if name == "StoicConfig":
        from .config import StoicConfig

        return StoicConfig
    if name in ("EnergyCallback", "LossGuard", "TrainingDiverged"):
        from . import callbacks

        return getattr(callbacks, name)
    raise AttributeError(f"module 'stoic_workshop' has no attribute {name!r}")


__all__ = [
    "PRESETS", "Preset", "Hardware", "TokenizerMismatch",
    "load_model", "model_folder", "model_source", "tune_unsloth", "cache_dir", "hardware", "pick_models",
    "check_tokenizer",
    "GEMMA_TEMPLATE", "render", "end_of_turn", "check_chat_tokens",
    "generate", "complete", "reply",
    "side_by_side",
    "World", "world", "check_world", "launch_config",
    "make_dataset", "load_pairs", "mix", "train_eval_split", "save_jsonl", "DataError",
    "check_dataset", "encode", "masked_view", "DataReport", "eval_prompts",
    "check_my_pairs", "check_my_lexicon", "check_my_rubric", "CheckFailed",
    "teach", "TeachResult", "TeacherError", "Energy", "EnergyLabel", "label_model_card",
    "sweep", "frontier", "plot_sweep", "sweep_takeaway", "course_sweep",
    "StoicConfig", "finetune", "TrainResult", "TrainingDiverged", "learning_rate_for",
    "EnergyCallback", "LossGuard", "plot_losses", "cpu_has_bf16_matmul",
    "check_lora_choice",
    "load_adapters", "ensure_adapters", "answers", "read_answers", "score_answers", "bootstrap_ci", "summary",
    "plot_scores",
    "perplexity", "forgetting", "pick_judge",
    "RUBRIC", "JudgeError", "LocalJudge", "OpenAIJudge", "calibrate", "compare", "judge", "parse_verdict", "win_rate",
    "llama_server", "side_by_side_scored", "report",
    "stoic_score", "stoic_matches", "highlight", "meaning_score", "LEXICON", "add_words", "NAMES", "name_drops",
    "check_quotes", "invented", "highlight_quotes", "Passage",
    "knowledge_facts", "ask", "Fact", "compare_arms", "check_my_knowledge_question",
    "merge", "to_gguf", "verify", "converter", "keep_sentencepiece", "export_all", "Exported", "RunFolder", "modelfile",
    "sizes",
    "check_my_prompt", "check_my_modelfile",
    "estimate_memory", "Estimate", "memory_table", "nf4_error", "NF4Report",
    "slide_figures", "render_slides",
]
