"""The memory estimate: hand-computed for a tiny config, and within 20% of what the packaged models really use.

The measurements come from bench/memory.py's harness (each case in a fresh process), imported here as `bench`: loaded
from its file under the module name `bench_memory`, so that it never stands in for `stoic_workshop.memory_estimate` or
any other module named `memory` (no bench/ folder on sys.path).
"""

import importlib.util
import re
import sys
from pathlib import Path

import pytest
from transformers import LlamaConfig

import stoic_workshop as sw
from stoic_workshop.memory_estimate import GB, model_shape


def _load_bench(path: Path, name: str):
    """The bench script at `path` as the module `name`, registered in sys.modules as an import would be."""
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


bench = _load_bench(Path(__file__).resolve().parents[1] / "bench" / "memory.py", "bench_memory")

# A tiny Llama: hidden 64, MLP 128, 2 layers, 4 heads of 16 (64 wide), 2 KV heads (32 wide), 1000 words, tied.
TINY = LlamaConfig(vocab_size=1000, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                   num_attention_heads=4, num_key_value_heads=2, head_dim=16, tie_word_embeddings=True)


def test_tiny_config_parameters_by_hand():
    s = model_shape(TINY)
    # per layer: q 64x64 = 4096, k 64x32 = 2048, v 2048, o 4096, gate/up/down 3 x 64x128 = 24576 -> 36864 linear
    # + 2 norms x 64 = 128; two layers: 2 x 36992 = 73984; embedding 1000 x 64 = 64000 (tied head: counted once);
    # final norm 64. Total 73984 + 64000 + 64 = 138048.
    assert s.parameters == 138048
    assert s.quantized == 2 * 36864  # every linear layer of the blocks, not the (tied) output layer
    # LoRA r=4 on q and v: q A 4x64 + B 64x4 = 512; v A 4x64 + B 32x4 = 384; (512 + 384) x 2 layers = 1792
    assert s.lora(4, ["q_proj", "v_proj"]) == 1792


def test_tiny_config_estimate_by_hand():
    e = sw.estimate_memory(TINY, "lora", device="cpu", seq_len=8, batch_size=2, lora_r=4,
                           target_modules=["q_proj", "v_proj"], machines=False)
    assert e.parts["base weights"] == 138048 * 4              # fp32 on a CPU
    assert e.parts["adapter weights"] == 1792 * 4 == e.parts["gradients"]
    assert e.parts["optimizer states"] == 1792 * 8            # AdamW: two fp32 moments
    # 16 tokens; per layer and token: 2 norms x 2 x 64 + 3 q (3 x 64) + 2 kv (2 x 32) + 4 x 128 = 1024 floats
    assert e.parts["activations"] == 2 * 16 * 1024 * 4
    # with checkpointing: each layer's input (2 x 16 x 64) plus one layer rebuilt (16 x 1024), in fp32
    assert e.other_activations == (2 * 16 * 64 + 16 * 1024) * 4
    assert e.parts["logits + loss"] == 16 * 1000 * 4          # one fp32 block of <= 256 rows x vocabulary on a CPU

    q = sw.estimate_memory(TINY, "qlora", device="gpu", seq_len=8, batch_size=2, lora_r=4,
                           target_modules=["q_proj", "v_proj"], machines=False)
    # NF4 half a byte per weight + double-quantised scales (1 byte per 64 weights + 4 bytes per 256 x 64);
    # the rest (embedding 64000, norms 5 x 64) upcast to fp32 by PEFT; no 16-bit copy of the tied output layer.
    quant = 73728 * (0.5 + (1 + 4 / 256) / 64)
    assert q.parts["base weights"] == pytest.approx(quant + (138048 - 73728) * 4)
    assert q.parts["optimizer states"] == 1792 * 2            # AdamW 8-bit on a GPU
    # trl's chunked log-prob head: one bf16 tile of 16 tokens x 1000 rows; the fp32 hidden states saved, their fp32
    # gradient and their bf16 cast (16 x 64 x (4 + 4 + 2)); two bf16 slices of the fp32 output layer (2 x 1000 x 64
    # x 2). With checkpointing the layer rebuilt in the backward pass (16 x 1024 x 2) is never held with it: only
    # the excess counts.
    head = 16 * 1000 * 2 + 16 * 64 * 10 + 2 * 1000 * 64 * 2
    assert q.parts["logits + loss"] == head - 16 * 1024 * 2
    assert q.parts["activations"] == 2 * 16 * 64 * 4 + 16 * 1024 * 2    # fp32 layer inputs + one layer in bf16
    # PEFT's upcast holds the embedding in bf16 and fp32 at once: a one-off peak, counted where above training's
    upcast = quant + (138048 - 73728) * 4 + 1000 * 64 * 2
    training = sum(v for k, v in q.parts.items() if k not in ("upcast (one-off)", "framework"))
    assert q.parts["upcast (one-off)"] == pytest.approx(max(0, upcast - training))
    assert q.allocated == pytest.approx(max(upcast, training))
    full = sw.estimate_memory(TINY, "full", device="gpu", machines=False)
    assert full.trainable == 138048 and full.parts["gradients"] == 138048 * 2


def test_the_slides_arithmetic_for_gemma_2_2b():
    full, lora, qlora = (sw.estimate_memory("gemma-2-2b", m) for m in ("full", "lora", "qlora"))
    assert 2.6e9 < full.parameters < 2.65e9 and full.parts["base weights"] / GB == pytest.approx(5.2, abs=0.1)
    assert 0.005 < lora.trainable / lora.parameters < 0.01             # "0.8% of Gemma 2 2B's parameters"
    weights = full.parts["base weights"] + full.parts["gradients"] + full.parts["optimizer states"]
    assert 3 <= weights / full.parts["base weights"] <= 4               # "full fine-tuning needs 3-4x the model"
    assert qlora.fits["Colab T4 (15 GB)"][1].startswith("fits") and full.fits["Colab T4 (15 GB)"][1].startswith("does")
    assert qlora.total < lora.total < full.total
    # The deck's table and notebook 2's prose state these estimates, rounded as written there
    root = Path(__file__).resolve().parent.parent
    deck = (root / "slides" / "deck.md").read_text()
    table = dict(re.findall(r"^\| (.+?) \| \**([\d.]+)\** \|$", deck.split("# QLoRA: the *bit*")[1], re.M))
    gb = {"16-bit weights": full.parts["base weights"], "NF4 weights, the embedding kept in fp32":
          qlora.parts["base weights"], "full fine-tuning, all of it": full.total, "QLoRA, all of it": qlora.total}
    assert {k: table[k] for k in gb} == {k: f"{v / GB:.1f}" for k, v in gb.items()}
    share = f"{qlora.trainable / qlora.parameters:.1%}"
    assert f"{qlora.parts['base weights'] / GB:.1f} GB of frozen weights + adapters for {share} of the" in deck
    two = (root / "notebooks" / "02_finetune.ipynb").read_text()
    for said in (f"{full.parts['base weights'] / GB:.1f} GB of weights in 16-bit", f"{full.total / GB:.1f} GB in all",
                 f"({qlora.parts['base weights'] / GB:.1f} GB for Gemma 2 2B", f"{qlora.total / GB:.1f} GB in all",
                 f"{share} of Gemma 2 2B's"):
        assert said in two, said


def test_gpu_estimate_is_within_20_percent_of_the_h200_measurement():
    """bench/results/gpu_h200.json: finetune's QLoRA route on an H200 (bench/train_gpu.py), peak allocated at
    2 x 512/2048."""
    rows = bench.gpu_cases()
    assert len(rows) == 2
    for r in rows:
        within_20_percent(r["case"], r["estimate"], r["measured"])


def test_bad_arguments_name_the_fix():
    with pytest.raises(ValueError, match="method must be one of"):
        sw.estimate_memory(TINY, "qlora4")
    with pytest.raises(ValueError, match=r"match no linear layer.*'q_proj'"):
        sw.estimate_memory(TINY, "lora", target_modules=["query"])
    with pytest.raises(ValueError, match="Did you mean 'gemma-2-2b'"):
        sw.estimate_memory("gemma-2b-2")


def within_20_percent(case: str, estimate: float, measured: float) -> None:
    print(f"{case}: estimate {estimate / GB:.3f} GB, measured {measured / GB:.3f} GB, ratio {estimate / measured:.2f}")
    assert 0.8 < estimate / measured < 1.2, case


def weights(model, dtype):
    method = "qlora" if dtype == "nf4" else "lora"
    return sw.estimate_memory(model, method, device="cpu", dtype=None if dtype == "nf4" else dtype,
                              machines=False).parts["base weights"]


@pytest.mark.parametrize("method", ["lora", "qlora"])
def test_smollm2_resident_size_and_training_peak_are_within_20_percent(method):
    """One fresh process per method: resident size after loading (fp32 / NF4), then the peak of one step."""
    got = bench.measure_training("smollm2-135m-instruct", method, seq_len=128, batch_size=2, steps=1)
    assert got["route"] == f"cpu-{method}"
    within_20_percent(f"SmolLM2 resident {method}", weights("smollm2-135m-instruct", "nf4" if method == "qlora"
                                                              else "float32"), got["resident"])
    est = sw.estimate_memory("smollm2-135m-instruct", method, device="cpu", seq_len=128, batch_size=2,
                             machines=False)
    within_20_percent(f"SmolLM2 {method} training peak, 2 x 128", est.total, got["peak"])


@pytest.mark.parametrize("dtype", ["float32", "nf4"])  # bf16 and Gemma's training peaks: bench/memory.py
def test_gemma3_resident_size_is_within_20_percent(dtype):
    got = bench.measure_load("gemma-3-270m", dtype)
    within_20_percent(f"Gemma 3 270M resident {dtype}", weights("gemma-3-270m", dtype), got["resident"])


def test_nf4_error_is_small_but_not_zero():
    r = sw.nf4_error("smollm2-135m-instruct", perplexity=False)
    # 4 bits per weight + one fp32 scale per block of 64 = 4 + 32 / 64 = 4.5 bits (quantize_4bit of an fp32
    # matrix; the Linear4bit layers of a loaded model keep bf16 scales: 4.25 bits)
    assert r.bits_per_weight == pytest.approx(4.5)
    assert 0.02 < r.relative_rms < 0.2
    assert r.shape == (576, 1536)


@pytest.mark.parametrize("name", ["gemma-3-270m", "smollm2-135m-instruct"])
def test_offline_presets_are_estimated_from_built_in_configs_equal_to_their_converted_ones(name):
    """The estimate never converts a model (Colab's transformers 5.17 cannot convert Gemma 3's tokenizer), so the
    built-in config must say what the converted GGUF's config.json says, field for field."""
    from transformers import AutoConfig

    from stoic_workshop.memory_estimate import _HUB_CONFIGS, _config

    converted = AutoConfig.from_pretrained(sw.model_folder(name))
    built_in, _ = _config(name)
    assert type(built_in) is type(converted)
    for field in _HUB_CONFIGS[name][1]:
        assert getattr(built_in, field) == getattr(converted, field), field
    assert sw.estimate_memory(name, "qlora").total == sw.estimate_memory(converted, "qlora").total
