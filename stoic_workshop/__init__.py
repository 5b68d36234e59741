"""stoic-workshop: the helpers behind the workshop notebooks, one module per step.

    import stoic_workshop as sw
    base, base_tok = sw.load_model("gemma-3-270m")             # offline base model
    chat, chat_tok = sw.load_model("smollm2-135m-instruct")     # offline instruct model
    sw.reply(chat, chat_tok, "Stuck in traffic again.")
"""

from .chat import GEMMA_TEMPLATE, check_chat_tokens, end_of_turn, render
from .generate import complete, generate, reply
from .models import (PRESETS, Hardware, Preset, TokenizerMismatch, cache_dir, check_tokenizer, hardware,
                     load_model, model_folder, pick_models)
from .show import side_by_side

__version__ = "0.1.0"

__all__ = [
    "PRESETS", "Preset", "Hardware", "TokenizerMismatch",
    "load_model", "model_folder", "cache_dir", "hardware", "pick_models", "check_tokenizer",
    "GEMMA_TEMPLATE", "render", "end_of_turn", "check_chat_tokens",
    "generate", "complete", "reply",
    "side_by_side",
]
