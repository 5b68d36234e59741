"""Model loading: presets, the converted-GGUF cache, tokenizer fidelity, and CPU behaviour."""

import json
import os
import subprocess
import sys

import pytest
import torch

import stoic_workshop as sw
from stoic_workshop.models import OFFLINE_PAIR, _cache_problem, gguf_file

MORE_TEXT = [  # beyond the golden strings: code, numbers, a quotation, a whole chat turn
    "def f(x):\n    return x**2  # square",
    "In 2024 the bill was £1,234.56 (up 7.5%)!",
    "Men are disturbed not by things, but by the opinions about things. — Epictetus",
    "<start_of_turn>model\nThe traffic is outside your control.<end_of_turn>\n",
    "<|im_start|>assistant\nBreathe.<|im_end|>",
]


def test_unknown_preset_names_the_known_ones():
    with pytest.raises(ValueError, match=r"Did you mean 'gemma-3-270m'\?.*smollm2-135m-instruct"):
        sw.load_model("gemma3-270m")


def test_offline_pair_is_one_base_and_one_instruct_model_with_pinned_files():
    base, instruct = (sw.PRESETS[n] for n in OFFLINE_PAIR)
    assert (base.kind, instruct.kind) == ("base", "instruct")
    assert all(p.offline and len(p.gguf_sha256) == 64 and p.golden for p in (base, instruct))


@pytest.mark.parametrize("name", OFFLINE_PAIR)
def test_tokenizer_matches_llama_cpp_on_the_same_file(name, tmp_path):
    llama_cpp = pytest.importorskip("llama_cpp")
    preset = sw.PRESETS[name]
    gguf = gguf_file(preset, sw.cache_dir() / "models" / "gguf")
    vocab = llama_cpp.Llama(model_path=str(gguf), vocab_only=True, verbose=False)
    tok = sw.load_model(name, verbose=False)[1]
    for text in [t for t, _ in preset.golden] + MORE_TEXT:
        expected = vocab.tokenize(text.encode(), add_bos=True, special=True)
        assert tok(text).input_ids == expected, text
    # the golden table in the package is itself llama.cpp's answer
    assert all(list(ids) == vocab.tokenize(t.encode(), add_bos=True, special=True) for t, ids in preset.golden)


def test_wrong_tokenizer_is_refused_with_the_fix(smol):
    # SmolLM2's tokenizer splits text differently from Gemma 3's: exactly the kind of silent
    # damage a wrong GGUF conversion does, and it must stop the run.
    _, wrong = smol
    with pytest.raises(sw.TokenizerMismatch, match=r"(?s)does not match llama.cpp.*transformers==5\.24\.0"):
        sw.check_tokenizer(wrong, "gemma-3-270m")


def test_missing_bos_is_refused(gemma_tok):
    # transformers 5.17 built the Gemma 3 tokenizer without <bos>: simulate that symptom.
    class NoBos:
        def __call__(self, text):
            out = gemma_tok(text)
            out["input_ids"] = out["input_ids"][1:]
            return out
    with pytest.raises(sw.TokenizerMismatch, match="9 ids"):
        sw.check_tokenizer(NoBos(), "gemma-3-270m")


def test_conversion_is_cached_verified_and_rebuilt_when_corrupted(tmp_path):
    folder = sw.model_folder("smollm2-135m-instruct", cache=tmp_path)
    manifest = json.loads((folder / "stoic_manifest.json").read_text())
    assert {"model.safetensors", "tokenizer.json", "config.json"} <= set(manifest["files"])
    assert _cache_problem(folder, sw.PRESETS["smollm2-135m-instruct"]) is None
    stamp = (folder / "stoic_manifest.json").stat().st_mtime_ns
    assert sw.model_folder("smollm2-135m-instruct", cache=tmp_path) == folder
    assert (folder / "stoic_manifest.json").stat().st_mtime_ns == stamp  # second call: no conversion

    # Flip one byte in the middle of the weights: same size, different checksum.
    weights = folder / "model.safetensors"
    with weights.open("r+b") as f:
        f.seek(weights.stat().st_size // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    assert "corrupted" in _cache_problem(folder, sw.PRESETS["smollm2-135m-instruct"])
    sw.model_folder("smollm2-135m-instruct", cache=tmp_path)
    assert _cache_problem(folder, sw.PRESETS["smollm2-135m-instruct"]) is None  # rebuilt whole

    # A conversion killed before its manifest was written is never taken as done.
    (folder / "stoic_manifest.json").unlink()
    assert "interrupted" in _cache_problem(folder, sw.PRESETS["smollm2-135m-instruct"])
    weights.write_bytes(weights.read_bytes()[:1000])
    assert "interrupted" in _cache_problem(folder, sw.PRESETS["smollm2-135m-instruct"])


def test_cached_model_equals_the_gguf_model_and_is_a_normal_model(smol, tmp_path):
    from transformers import AutoModelForCausalLM

    model, tok = smol
    gguf = gguf_file(sw.PRESETS["smollm2-135m-instruct"], tmp_path)
    reference = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32)
    ids = torch.tensor([tok("Stuck in traffic again.").input_ids])
    with torch.no_grad():
        assert torch.equal(model(ids).logits, reference(ids).logits)  # same de-quantized weights, bit for bit
    assert "quantization_config" not in model.config.to_dict()
    model.save_pretrained(tmp_path / "saved")  # a GGUF-loaded model refuses this
    loss = model(ids, labels=ids).loss
    loss.backward()  # and it can be trained
    assert model.model.layers[0].self_attn.q_proj.weight.grad is not None
    model.zero_grad(set_to_none=True)


def test_four_bit_on_cpu_warns_and_loads_full_precision():
    with pytest.warns(UserWarning, match="needs a CUDA GPU"):
        model, _ = sw.load_model("smollm2-135m-instruct", load_in_4bit=True, verbose=False)
    assert not model.load_report.four_bit and model.dtype == torch.float32
    assert model.load_report.device == "cpu" and model.load_report.backend == "transformers"


def test_pre_quantized_preset_on_cpu_is_refused_clearly():
    with pytest.raises(ValueError, match="loads only on a CUDA GPU"):
        sw.load_model("gemma-2-2b-it-4bit")


def test_cpu_load_never_imports_unsloth_or_bitsandbytes():
    code = ("import sys, stoic_workshop as sw;"
            "sw.load_model('smollm2-135m-instruct', load_in_4bit=True, verbose=False);"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('unsloth', 'bitsandbytes')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_missing_gguf_package_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "gguf", None)  # as if gguf were not installed
    with pytest.raises(ImportError, match=r"pip install gguf==0\.19\.0"):
        sw.model_folder("smollm2-135m-instruct", cache=tmp_path)


def test_hub_name_offline_points_to_offline_presets(tmp_path):
    code = "import stoic_workshop as sw; sw.load_model('some-org/not-downloaded-model')"
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode != 0
    assert "Use an offline preset: gemma-3-270m, smollm2-135m-instruct" in out.stderr


def test_hardware_and_model_choice_without_gpu(monkeypatch):
    hw = sw.hardware()
    assert hw.device == "cpu" and not hw.bf16 and hw.cores == os.cpu_count()
    assert str(hw).startswith("CPU:")
    monkeypatch.delenv("STOIC_PROFILE", raising=False)
    assert sw.pick_models() == OFFLINE_PAIR
    assert sw.pick_models("colab") == ("gemma-2-2b", "gemma-2-2b-it")
    with pytest.raises(ValueError, match="'offline' or 'colab'"):
        sw.pick_models("laptop")


def test_real_transformers_5_17_conversion_is_refused_and_nothing_cached(tmp_path):
    # The real failure, not a simulation: transformers 5.17 (the Colab profile's pin) builds the
    # Gemma 3 tokenizer from this GGUF with 12 ids and no <bos> for the first golden string.
    # .ci/run installs 5.17 into a side folder and names it in STOIC_OLD_TRANSFORMERS.
    old = os.environ.get("STOIC_OLD_TRANSFORMERS")
    if not old:
        pytest.skip("set STOIC_OLD_TRANSFORMERS to a folder holding transformers 5.17 (see .ci/run)")
    code = ("import transformers, stoic_workshop as sw; assert transformers.__version__ == '5.17.0';"
            "sw.model_folder('gemma-3-270m')")
    env = {**os.environ, "PYTHONPATH": old, "STOIC_WORKSHOP_CACHE": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode != 0
    assert "TokenizerMismatch: The gemma-3-270m tokenizer built by transformers 5.17.0" in out.stderr
    assert "got:      [9259, 515, 504" in out.stderr  # no <bos>, and "world" split into pieces
    assert not (tmp_path / "models" / "gemma-3-270m").exists()  # a broken conversion is never cached


def test_model_folders_replace_the_picked_models_through_one_setting(monkeypatch, capsys, tmp_path):
    """A GPU machine with no Hub (or a learner's own models): two variables, read by every notebook's settings."""
    monkeypatch.setenv("STOIC_PROFILE", "offline")
    monkeypatch.delenv("STOIC_BASE_MODEL", raising=False)
    monkeypatch.setenv("STOIC_INSTRUCT_MODEL", str(tmp_path / "my-model"))
    assert sw.pick_models() == ("gemma-3-270m", str(tmp_path / "my-model"))  # the base stays the profile's choice
    assert "(STOIC_BASE_MODEL / STOIC_INSTRUCT_MODEL set)" in capsys.readouterr().out
    monkeypatch.delenv("STOIC_INSTRUCT_MODEL")
    assert sw.pick_models() == ("gemma-3-270m", "smollm2-135m-instruct")
    assert "(offline profile asked for)" in capsys.readouterr().out


def test_a_4_bit_model_reports_all_its_parameters(smol):
    """bitsandbytes packs two 4-bit weights in a byte, so numel() of the stored tensors is about half: the load report
    must still say the model's size (an H200 run said "218 M parameters" for Gemma 3 270M in 4-bit)."""
    model, _ = smol
    four_bit, _ = sw.load_model("smollm2-135m-instruct", cpu_4bit=True, verbose=False)
    assert model.load_report.parameters == 134_515_008  # SmolLM2-135M: embedding 49152 x 576 tied, 30 layers
    assert four_bit.load_report.parameters == model.load_report.parameters
    assert sum(p.numel() for p in four_bit.parameters()) < 0.8 * model.load_report.parameters  # the packed count


def test_an_unusable_model_cache_is_named_with_the_variable_that_sets_it(tmp_path, monkeypatch, capsys):
    """`prepare` crashed with a traceback when STOIC_WORKSHOP_CACHE pointed somewhere unusable (issue 19, item 7)."""
    from stoic_workshop.cli import main

    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("a file where the cache should be")
    monkeypatch.setenv("STOIC_WORKSHOP_CACHE", str(not_a_folder))
    assert main(["prepare", "smollm2-135m-instruct"]) == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.startswith(f"error: The model cache {not_a_folder / 'models'} cannot be used (")
    assert "it is set by $STOIC_WORKSHOP_CACHE. Set STOIC_WORKSHOP_CACHE to a folder you can write" in error
    with pytest.raises(sw.models.CacheError, match=r"cache.*cannot be used.*STOIC_WORKSHOP_CACHE"):
        sw.export.converter()  # the converter lives in the same cache


def test_a_base_model_is_the_same_under_each_of_its_names(tmp_path):
    """A resumed or rerun training refuses another base model (train.py, pipeline.py); a preset's Hub id, its
    pre-quantized 4-bit copy (what a GPU loads) and its converted cache folder are the same model, not another."""
    from stoic_workshop.models import PRESETS, cache_dir, same_base

    for preset in PRESETS.values():
        for name in filter(None, (preset.repo, preset.repo_4bit)):
            assert same_base(name, preset.name), name
    assert same_base(str(cache_dir() / "models" / "smollm2-135m-instruct"), "smollm2-135m-instruct")
    assert same_base(str(tmp_path), f"{tmp_path}/./")  # one folder written two ways
    assert not same_base("smollm2-135m-instruct", "gemma-3-270m")
    assert not same_base("gemma-2-2b", "gemma-2-2b-it") and not same_base("org/a", "org/b")
