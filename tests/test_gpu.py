"""The GPU loading paths. Skipped without CUDA (CI has none); run for real on a GPU machine:

    STOIC_GEMMA_TOKENIZER=<folder with the Gemma tokenizer> python -m pytest tests/test_gpu.py

The model is a randomly initialised Gemma 2 with the 2B model's layer shapes (fewer layers, to
load quickly), saved as a normal folder: no hub is needed, and the code paths are the real ones.
"""

import os
import subprocess
import sys

import pytest
import torch

import stoic_workshop as sw

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

BUILD = """
import sys, torch
from transformers import AutoTokenizer, Gemma2Config, Gemma2ForCausalLM
tok = AutoTokenizer.from_pretrained(sys.argv[1])
config = Gemma2Config(vocab_size=len(tok), num_hidden_layers=4)  # 2B shapes: hidden 2304, 8 heads, head_dim 256
torch.manual_seed(0)
model = Gemma2ForCausalLM(config).to(torch.bfloat16)
model.save_pretrained(sys.argv[2]); tok.save_pretrained(sys.argv[2])
"""


@pytest.fixture(scope="module")
def gemma2_folder(tmp_path_factory):
    source = os.environ.get("STOIC_GEMMA_TOKENIZER") or str(sw.model_folder("gemma-3-270m"))
    folder = tmp_path_factory.mktemp("gemma2")
    # built in another process, so this one imports Unsloth before transformers, as a learner's would
    subprocess.run([sys.executable, "-c", BUILD, source, str(folder)], check=True)
    return str(folder)


def _four_bit_layers(model):
    import bitsandbytes as bnb

    return sum(isinstance(m, bnb.nn.Linear4bit) for m in model.modules())


def test_hardware_report_names_the_gpu():
    hw = sw.hardware()
    assert hw.device == "cuda" and hw.name == torch.cuda.get_device_name(0)
    assert hw.memory_gb > 10 and hw.bf16 == torch.cuda.is_bf16_supported()
    print(hw)


def test_unsloth_on_request_loads_4bit(gemma2_folder):
    pytest.importorskip("unsloth")
    model, tok = sw.load_model(gemma2_folder, backend="unsloth")
    report = model.load_report
    assert report.backend == "unsloth" and report.four_bit and report.device == "cuda"
    assert _four_bit_layers(model) == 4 * 7  # q, k, v, o, gate, up, down in each of 4 layers
    assert tok.chat_template == sw.GEMMA_TEMPLATE  # the tokenizer had none: Gemma's was installed
    assert tok.convert_tokens_to_ids("<end_of_turn>") in model.generation_config.eos_token_id
    answer = sw.reply(model, tok, "Stuck in traffic again.", max_new_tokens=8)
    assert len(tok(answer, add_special_tokens=False).input_ids) <= 8
    del model
    torch.cuda.empty_cache()


def test_default_gpu_backend_is_transformers_with_bitsandbytes_nf4(gemma2_folder):
    pytest.importorskip("bitsandbytes")
    model, tok = sw.load_model(gemma2_folder)  # even with Unsloth installed: see load_model
    assert model.load_report.backend == "transformers + bitsandbytes" and model.load_report.four_bit
    assert _four_bit_layers(model) == 4 * 7
    quant = model.config.quantization_config
    quant = quant if isinstance(quant, dict) else quant.to_dict()
    assert quant["bnb_4bit_quant_type"] == "nf4" and quant["bnb_4bit_use_double_quant"]
    assert sw.generate(model, tok, ["a", "b"], chat=True, max_new_tokens=4, progress=False)
    del model
    torch.cuda.empty_cache()


def test_full_precision_on_gpu_uses_bf16_or_fp16(gemma2_folder, monkeypatch):
    model, _ = sw.load_model(gemma2_folder, backend="transformers", load_in_4bit=False)
    assert model.dtype == (torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16)
    assert model.device.type == "cuda"
    del model
    # A T4 has no bf16: the loader must pick fp16 there.
    t4 = sw.Hardware("cuda", "Tesla T4", 15.0, False, 2)
    monkeypatch.setattr("stoic_workshop.models.hardware", lambda: t4)
    model, _ = sw.load_model(gemma2_folder, backend="transformers", load_in_4bit=False)
    assert model.dtype == torch.float16 and model.load_report.dtype == "float16"
    del model
    torch.cuda.empty_cache()


# ---------------------------------------------------------------------------------------------
# Fine-tuning on the GPU routes


def _check_adapter(result, folder):
    """The adapters are a standard PEFT folder that loads on a plain transformers base, with no project code."""
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    assert (result.adapter_dir / "adapter_model.safetensors").exists()
    base = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16)
    loaded = PeftModel.from_pretrained(base, str(result.adapter_dir))
    assert sum(p.numel() for n, p in loaded.named_parameters() if "lora_" in n) == result.trainable
    del base, loaded


def _finetune(gemma2_folder, tmp_path, **load):
    model, tok = sw.load_model(gemma2_folder, **load)
    result = sw.finetune(model, tok, sw.make_dataset(n=16), tmp_path / "adapters", max_steps=3, save_steps=2,
                         energy=False)
    assert result.steps == 3 and all(torch.isfinite(torch.tensor(loss)) for _, loss in result.losses)
    assert 0.001 < result.share < 0.02
    return result


def test_finetune_takes_the_unsloth_route(gemma2_folder, tmp_path):
    pytest.importorskip("unsloth")
    result = _finetune(gemma2_folder, tmp_path, backend="unsloth")
    assert result.path == "unsloth" and "4-bit" in result.precision
    from unsloth.kernels import flex_attention

    # Gemma 2's soft-capped attention runs eagerly: compiled with max-autotune it cost 158 s of a cold first step
    assert flex_attention._SOFTCAP_EAGER.get("cuda") is True
    assert (tmp_path / "adapters" / "checkpoints" / "checkpoint-2" / "adapter_model.safetensors").exists()
    print(result)
    _check_adapter(result, gemma2_folder)
    del result
    torch.cuda.empty_cache()


def test_finetune_by_default_is_textbook_qlora(gemma2_folder, tmp_path):
    pytest.importorskip("bitsandbytes")
    result = _finetune(gemma2_folder, tmp_path)
    assert result.path == "qlora" and "4-bit NF4" in result.precision
    _check_adapter(result, gemma2_folder)
    del result
    torch.cuda.empty_cache()


@pytest.mark.parametrize("backend", ["unsloth", "transformers"])
def test_t4_without_bf16_trains_in_fp16_and_stays_finite(gemma2_folder, tmp_path, monkeypatch, backend):
    pytest.importorskip(backend if backend == "unsloth" else "bitsandbytes")
    t4 = sw.Hardware("cuda", "Tesla T4", 15.0, False, 2)
    monkeypatch.setattr("stoic_workshop.models.hardware", lambda: t4)
    result = _finetune(gemma2_folder, tmp_path, backend=backend)
    assert "fp16" in result.precision
    del result
    torch.cuda.empty_cache()


def test_merge_on_the_gpu_matches_base_plus_adapters(gemma2_folder, random_adapters, tmp_path):
    """On a GPU the base is merged in fp16 there (a 2B model in fp32 would not fit Colab's RAM)."""
    import json

    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gemma2_folder)
    base = AutoModelForCausalLM.from_pretrained(gemma2_folder, dtype=torch.float16, device_map={"": 0})
    peft = random_adapters(base, 0.5)
    peft.save_pretrained(tmp_path / "adapters")
    tokenizer.save_pretrained(tmp_path / "adapters")
    ids = tokenizer(["My train is late again, and my boss ignored my email."], return_tensors="pt").to("cuda")
    with torch.inference_mode():
        expected = peft(**ids).logits.float()
        with peft.disable_adapter():
            unchanged = peft(**ids).logits.float()
    del peft, base
    torch.cuda.empty_cache()
    merged = sw.merge(tmp_path / "adapters", tmp_path / "merged")
    assert json.loads((merged / "config.json").read_text())["dtype"] == "float16"
    model = AutoModelForCausalLM.from_pretrained(merged, dtype=torch.float16, device_map={"": 0})
    with torch.inference_mode():
        got = model(**ids).logits.float()
    effect = (expected - unchanged).abs().max().item()   # what the adapters change
    error = (got - expected).abs().max().item()          # what merging changes on top
    print(f"adapter effect {effect:.4f}, merge error {error:.4f}, logit scale {expected.abs().max().item():.2f}")
    assert effect > 0.1 and error < 0.2 * effect
    assert (got.argmax(-1) == expected.argmax(-1)).float().mean() > 0.9


def test_a_local_judge_on_the_gpu_retries_by_sampling(gemma2_folder):
    """A judge's retry samples (attempt > 0). Seen on an H200 running notebook 3 with a random Gemma 2: the draw failed
    ("Expected a 'cuda' device type for generator") because the generator was a CPU one and the logits were not."""
    from stoic_workshop.clients import _Writer

    model, tokenizer = sw.load_model(gemma2_folder, verbose=False)
    writer = _Writer(model, tokenizer, seed=1)
    words = writer.string("The answer, in a few words: \"", 40, max_tokens=8, sample=True)
    assert isinstance(words, str)
    again = _Writer(model, tokenizer, seed=1).string("The answer, in a few words: \"", 40, max_tokens=8, sample=True)
    assert again == words  # one seed, one draw
