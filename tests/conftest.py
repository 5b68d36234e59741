"""Shared fixtures: the real packaged models, converted once into the user's cache and reused."""

import pytest

import stoic_workshop as sw
from stoic_workshop.chat import prepare_tokenizer


@pytest.fixture(scope="session")
def smol():
    """SmolLM2-135M-Instruct, the offline instruct model: (model, tokenizer)."""
    return sw.load_model("smollm2-135m-instruct", verbose=False)


@pytest.fixture(scope="session")
def gemma_tok():
    """The Gemma 3 tokenizer converted from the packaged GGUF, with the Gemma chat template."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(sw.model_folder("gemma-3-270m"))
    prepare_tokenizer(tok, family="gemma")
    return tok


@pytest.fixture()
def tiny_gemma3(gemma_tok):
    """A randomly initialised Gemma 3 of the real architecture and vocabulary, small enough for tests."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(0)
    config = Gemma3TextConfig(vocab_size=len(gemma_tok), hidden_size=32, intermediate_size=64,
                              num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                              head_dim=16, sliding_window=64, max_position_embeddings=256)
    model = Gemma3ForCausalLM(config).eval()
    prepare_tokenizer(gemma_tok, model, family="gemma")
    return model


@pytest.fixture(scope="session")
def random_adapters():
    """Attach LoRA adapters with random, scaled-down updates: `random_adapters(model, scale)` -> PeftModel.

    Real PEFT adapters that change the model by an amount the test chooses, without training.
    """
    import torch
    from peft import LoraConfig, get_peft_model

    def attach(model, scale: float):
        torch.manual_seed(0)
        peft = get_peft_model(model, LoraConfig(r=8, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"],
                                                init_lora_weights=False, task_type="CAUSAL_LM"))
        with torch.no_grad():
            for name, p in peft.named_parameters():
                if "lora_B" in name:
                    p.mul_(scale)
        return peft

    return attach
