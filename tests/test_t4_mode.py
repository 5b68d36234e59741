"""T4 mode (STOIC_T4=1) and the dtype a GPU without bf16 gets, checked on a CPU with a faked CUDA device.

What is faked is only what a CPU cannot have: torch's view of a CUDA device. The decisions are the package's own
(hardware, compute_dtype, load_model's arguments to transformers, finetune's TrainingArguments, the NaN guard),
run on the real tiny Gemma 3 of conftest.py and a real Gemma 2 config. bench/t4_mode.py runs the same on a GPU.
"""

import types
from pathlib import Path

import pytest
import torch
from transformers import Gemma2Config, Gemma2ForCausalLM, TrainerControl, TrainerState

import stoic_workshop as sw
import stoic_workshop.models as models
from stoic_workshop.callbacks import diverged_message
from stoic_workshop.train import _check_t4, _compute_in_fp32, _gpu_dtype, _trainer_args

H200 = types.SimpleNamespace(name="NVIDIA H200", total_memory=150_121_594_880, major=9, minor=0)
T4 = types.SimpleNamespace(name="Tesla T4", total_memory=15_828_320_256, major=7, minor=5)


@pytest.fixture()
def fake_cuda(monkeypatch):
    """torch reports one CUDA device (`fake_cuda(props, bf16)`); SDPA flags are restored afterwards."""
    saved = (torch.backends.cuda.flash_sdp_enabled(), torch.backends.cuda.mem_efficient_sdp_enabled(),
             torch.backends.cuda.math_sdp_enabled(), torch.backends.cuda.cudnn_sdp_enabled(),
             torch.get_float32_matmul_precision())
    fractions = []
    monkeypatch.setattr(models, "_T4_APPLIED", {})  # a fresh process

    def install(props, native_bf16: bool):
        monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
        monkeypatch.setattr(torch.cuda, "get_device_properties", lambda device=None: props)
        # As torch does: True with emulation on any CUDA GPU, natively only from compute capability 8.0.
        monkeypatch.setattr(torch.cuda, "is_bf16_supported",
                            lambda including_emulation=True: native_bf16 or including_emulation)
        monkeypatch.setattr(torch.cuda, "set_per_process_memory_fraction",
                            lambda fraction, device=None: fractions.append(fraction))
        return fractions

    yield install
    torch.backends.cuda.enable_flash_sdp(saved[0])
    torch.backends.cuda.enable_mem_efficient_sdp(saved[1])
    torch.backends.cuda.enable_math_sdp(saved[2])
    torch.backends.cuda.enable_cudnn_sdp(saved[3])
    torch.set_float32_matmul_precision(saved[4])


def t4_hardware(monkeypatch, *, t4: bool = True, bf16: bool = False):
    hw = sw.Hardware("cuda", "NVIDIA H200 emulating a Tesla T4" if t4 else "NVIDIA H200", 14.74 if t4 else 139.8,
                     bf16, 16, emulating_t4=t4)
    monkeypatch.setattr("stoic_workshop.models.hardware", lambda: hw)
    return hw


def tiny_gemma2():
    torch.manual_seed(0)
    config = Gemma2Config(vocab_size=512, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                          num_attention_heads=2, num_key_value_heads=1, head_dim=16)
    return Gemma2ForCausalLM(config).eval()


@pytest.mark.parametrize("value, on", [("1", True), ("true", True), ("yes", True), ("0", False), ("", False),
                                       ("no", False)])
def test_t4_mode_is_read_from_the_environment(monkeypatch, value, on):
    monkeypatch.setenv("STOIC_T4", value)
    assert models.t4_mode() is on


def test_t4_mode_makes_a_big_gpu_report_a_t4_and_use_a_t4s_kernels(monkeypatch, fake_cuda):
    fractions = fake_cuda(H200, native_bf16=True)
    monkeypatch.delenv("STOIC_T4", raising=False)
    hw = sw.hardware()
    assert hw.bf16 and not hw.emulating_t4 and hw.name == "NVIDIA H200" and not fractions
    assert torch.backends.cuda.flash_sdp_enabled()  # nothing changed without the switch

    monkeypatch.setenv("STOIC_T4", "1")
    hw = sw.hardware()
    assert hw.device == "cuda" and hw.bf16 is False and hw.emulating_t4
    assert "NVIDIA H200 emulating a Tesla T4" in hw.name and "bf16 no" in str(hw)
    assert hw.memory_gb == pytest.approx(14.74)
    # The attention a T4 gets: SDPA without flash (needs compute capability 8.0) or cuDNN; no TF32.
    assert not torch.backends.cuda.flash_sdp_enabled() and not torch.backends.cuda.cudnn_sdp_enabled()
    assert torch.backends.cuda.mem_efficient_sdp_enabled() and torch.backends.cuda.math_sdp_enabled()
    assert torch.get_float32_matmul_precision() == "highest"
    # ... and no more memory than a T4 has.
    assert fractions == [pytest.approx(14.74 * 2**30 / H200.total_memory)]
    sw.hardware()
    assert len(fractions) == 1  # set once per process


def test_a_real_t4_reports_no_bf16_although_torch_counts_emulated_bf16(monkeypatch, fake_cuda):
    fake_cuda(T4, native_bf16=False)
    monkeypatch.delenv("STOIC_T4", raising=False)
    assert torch.cuda.is_bf16_supported()  # what torch says on a T4 (emulation counts): not what we decide with
    hw = sw.hardware()
    assert hw.name == "Tesla T4" and hw.bf16 is False and not hw.emulating_t4


def test_dtype_decisions_for_gemma3_and_gemma2(monkeypatch, tiny_gemma3):
    gemma2 = Gemma2Config()  # the 2B model's config
    t4 = t4_hardware(monkeypatch)
    # No bf16: Gemma 3 overflows fp16, so fp32; Gemma 2 in fp16 as Unsloth and T4 notebooks train it.
    assert models.compute_dtype(t4, tiny_gemma3) == torch.float32
    assert models.compute_dtype(t4, tiny_gemma3.config) == torch.float32
    assert models.compute_dtype(t4, "gemma3") == torch.float32  # the multimodal Gemma 3's model_type
    assert models.compute_dtype(t4, gemma2) == torch.float16
    assert not models.fp16_safe(tiny_gemma3) and models.fp16_safe(gemma2)
    assert _gpu_dtype(tiny_gemma3) == "fp32" and _gpu_dtype(gemma2) == "fp16"
    # What finetune hands TRL: fp32 turns mixed precision (and its loss scaler) off; fp16 turns it on.
    config = sw.StoicConfig()  # the recipe, with the two choices finetune makes per model and machine
    settings = config.recipe() | {"learning_rate": 2e-4, "optim": "adamw_torch"}
    g3 = _trainer_args(config, "qlora", settings, Path("/tmp/unused"), 64, "fp32")
    g2 = _trainer_args(config, "qlora", settings, Path("/tmp/unused"), 64, "fp16")
    assert (g3.fp16, g3.bf16) == (False, False) and (g2.fp16, g2.bf16) == (True, False)
    # With bf16 (normal mode on an H200) both are bf16; on a CPU both fp32.
    h200 = t4_hardware(monkeypatch, t4=False, bf16=True)
    assert models.compute_dtype(h200, tiny_gemma3) == models.compute_dtype(h200, gemma2) == torch.bfloat16
    assert _gpu_dtype(tiny_gemma3) == "bf16"
    cpu = sw.Hardware("cpu", "x86_64", 8.0, False, 2)
    assert models.compute_dtype(cpu, tiny_gemma3) == models.compute_dtype(cpu, gemma2) == torch.float32


def test_load_model_in_t4_mode_asks_transformers_for_fp32_gemma3_and_fp16_gemma2(monkeypatch, tmp_path,
                                                                                  tiny_gemma3, gemma_tok):
    """The real load_model with a T4's Hardware: only the final transformers call is caught (no CUDA here)."""
    from transformers import AutoModelForCausalLM

    folders = {}
    for name, model in [("gemma3", tiny_gemma3), ("gemma2", tiny_gemma2())]:
        folders[name] = tmp_path / name
        model.save_pretrained(folders[name])
        gemma_tok.save_pretrained(folders[name])
    t4_hardware(monkeypatch)
    asked = {}
    real = AutoModelForCausalLM.from_pretrained

    def from_pretrained(source, **kwargs):
        asked[str(source)] = kwargs
        return real(source, dtype=kwargs["dtype"])  # on the CPU, without 4-bit

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", from_pretrained)
    g3, _ = sw.load_model(str(folders["gemma3"]), verbose=False)
    g2, _ = sw.load_model(str(folders["gemma2"]), verbose=False)
    for name, model, dtype in [("gemma3", g3, torch.float32), ("gemma2", g2, torch.float16)]:
        kwargs = asked[str(folders[name])]
        assert kwargs["dtype"] == dtype and kwargs["device_map"] == {"": 0}
        assert kwargs["quantization_config"].bnb_4bit_compute_dtype == dtype  # 4-bit NF4 base, its compute dtype
        assert model.load_report.dtype == str(dtype).removeprefix("torch.") and model.load_report.four_bit
        assert model.dtype == dtype and not any(p.dtype == torch.bfloat16 for p in model.parameters())


def test_finetune_lifts_a_hand_loaded_fp16_gemma3_to_fp32_and_t4_mode_refuses_bf16(monkeypatch, tiny_gemma3):
    t4_hardware(monkeypatch)
    tiny_gemma3.half()
    layer = torch.nn.Module()
    layer.compute_dtype = torch.float16  # as a bitsandbytes Linear4bit loaded with bnb_4bit_compute_dtype=fp16
    tiny_gemma3.model.add_module("fake_4bit", layer)
    _compute_in_fp32(tiny_gemma3)
    assert all(p.dtype == torch.float32 for p in tiny_gemma3.parameters()) and layer.compute_dtype == torch.float32
    _check_t4(tiny_gemma3, "qlora")  # nothing in bf16: passes

    gemma2 = tiny_gemma2().to(torch.bfloat16)
    with pytest.raises(RuntimeError, match=r"T4 mode \(STOIC_T4=1\): \d+ tensors of this model are in bf16"):
        _check_t4(gemma2, "gpu-lora")
    t4_hardware(monkeypatch, t4=False, bf16=True)
    _check_t4(gemma2, "gpu-lora")  # outside T4 mode bf16 is the right choice


def test_the_nan_guard_names_gemma3s_fp16_overflow(tmp_path, tiny_gemma3):
    """The guard callback itself (sw.LossGuard, as notebook 2 plugs it in), fed a NaN loss as Trainer logs it, for a
    Gemma 3 run in fp16; it raises as the training ends."""
    from stoic_workshop.callbacks import LossGuard

    guard = LossGuard()
    state, control = TrainerState(global_step=1), TrainerControl()
    args = types.SimpleNamespace(learning_rate=1e-3, logging_steps=1, fp16=True, bf16=False,
                                 output_dir=str(tmp_path / "checkpoints"))
    guard.on_train_begin(args, state, control, model=tiny_gemma3)
    guard.on_log(args, state, control, logs={"loss": float("nan")})
    assert control.should_training_stop and not control.should_save
    message = guard.diverged
    assert "became nan at step 1" in message
    assert "Gemma 3's activations go above fp16's largest number, 65,504" in message
    assert "load_model picks fp32 for Gemma 3 on a GPU without bf16" in message
    assert "none yet (it diverged before the first save)" in message
    with pytest.raises(sw.TrainingDiverged, match="became nan at step 1"):
        guard.on_train_end(args, state, control)


def test_the_nan_guard_names_the_fp16_limit_for_every_run():
    gemma2 = diverged_message(float("inf"), 7, 2e-4, "adapters/checkpoints/checkpoint-6", "fp16", "gemma2")
    assert "fp16 overflow (activations above fp16's largest number, 65,504; Gemma 3 does this" in gemma2
    assert "lr 0.0002; try half" in gemma2 and "checkpoint-6" in gemma2
    fp32 = diverged_message(float("nan"), 3, 1e-3, None, "fp32", "gemma3_text")
    assert fp32.index("learning rate too high") < fp32.index("Not fp16 overflow") and "computed in fp32" in fp32
    assert "65,504" in fp32


def test_gemma3_really_overflows_fp16_where_fp32_does_not(tiny_gemma3, gemma_tok):
    """The mechanism, on the real architecture: a hidden state past 65,504 is inf in fp16 and the logits NaN.

    Gemma 3 scales each block's output by its post-norm weights (1 + w); large w, as in the real 270M weights,
    push the residual stream past fp16's range (103,795 measured there). Here one block is given such a weight.
    """
    with torch.no_grad():
        tiny_gemma3.model.layers[0].post_feedforward_layernorm.weight.fill_(1e5)
    ids = torch.tensor([gemma_tok("The traffic is outside your control.").input_ids])
    with torch.no_grad():
        fp32 = tiny_gemma3(input_ids=ids, output_hidden_states=True)
        biggest = max(h.abs().max().item() for h in fp32.hidden_states)
        fp16 = tiny_gemma3.half()(input_ids=ids, output_hidden_states=True)
    assert biggest > models.FP16_MAX and torch.isfinite(fp32.logits).all()
    assert not torch.isfinite(fp16.logits).all()


def test_adapters_go_back_to_fp32_where_trl_made_them_bf16(tiny_gemma3):
    """TRL 1.15 casts a quantized model's LoRA weights to bf16; fp16 mixed precision (a T4) cannot unscale them."""
    from peft import LoraConfig, get_peft_model

    from stoic_workshop.train import _adapters_in_fp32

    peft = get_peft_model(tiny_gemma3, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"))
    for param in peft.parameters():
        if param.requires_grad:
            param.data = param.data.to(torch.bfloat16)  # what SFTTrainer.__init__ does for a 4-bit base
    frozen = {n: p.dtype for n, p in peft.named_parameters() if not p.requires_grad}
    _adapters_in_fp32(peft)
    trainable = [p for p in peft.parameters() if p.requires_grad]
    assert trainable and all(p.dtype == torch.float32 for p in trainable)
    assert {n: p.dtype for n, p in peft.named_parameters() if not p.requires_grad} == frozen


def test_colab_export_check_runs_on_the_t4_in_the_dtype_each_model_can_take(fake_cuda, tmp_path):
    """verify without llama.cpp runs the GGUF and the merged model in transformers. On a T4 that is the GPU, in fp16
    for Gemma 2 (a 2B model in fp32 on the CPU is 10.5 GB of a free Colab's 12.7 GB RAM) and in fp32 for Gemma 3,
    whose activations overflow fp16 (the architecture is read from the file, as verify does)."""
    from stoic_workshop.export import _gguf_architecture, _reference_device
    from stoic_workshop.models import gguf_file, get_preset

    fake_cuda(T4, native_bf16=False)
    smollm2 = gguf_file(get_preset("smollm2-135m-instruct"), Path("unused"))  # the packaged file, read in place
    assert _gguf_architecture(smollm2) == "llama"
    assert _gguf_architecture(gguf_file(get_preset("gemma-3-270m"), tmp_path)) == "gemma3"  # assembled there
    assert _gguf_architecture(Path(__file__)) is None  # not a GGUF file: transformers will say what is wrong
    assert _reference_device("llama") == ("cuda", torch.float16)
    assert _reference_device("gemma2") == ("cuda", torch.float16)
    assert _reference_device("gemma3") == ("cuda", torch.float32)
    fake_cuda(H200, native_bf16=True)
    assert _reference_device("gemma3") == ("cuda", torch.bfloat16)
