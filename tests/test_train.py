"""Fine-tuning on the CPU: the packaged model learns, a killed run resumes, and the guard rails hold."""

import json
import math
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
import torch.nn.functional as F

import stoic_workshop as sw
from stoic_workshop.masking import IGNORE, encode
from stoic_workshop.train import _chunked_cross_entropy, last_checkpoint


def reply_loss(model, tokenizer, dataset) -> float:
    """Mean cross-entropy on the reply tokens (teacher forcing), the quantity training lowers."""
    total, count = 0.0, 0
    with torch.no_grad():
        for row in dataset:
            enc = encode(tokenizer, row["messages"])
            ids, labels = torch.tensor([enc["input_ids"]]), torch.tensor([enc["labels"]])
            logits = model(input_ids=ids).logits[:, :-1].float()
            total += F.cross_entropy(logits.flatten(0, 1), labels[:, 1:].flatten(), reduction="sum").item()
            count += int((labels[:, 1:] != IGNORE).sum())
    return total / count


def test_chunked_cross_entropy_equals_autograd():
    ce = _chunked_cross_entropy()
    torch.manual_seed(0)
    weight, labels = torch.randn(1000, 32), torch.randint(0, 1000, (300,))
    hidden = torch.randn(300, 32, requires_grad=True)
    expected = F.cross_entropy(hidden @ weight.T, labels, reduction="sum")
    expected.backward()
    grad = hidden.grad.clone()
    hidden.grad = None
    got = ce.apply(hidden, weight, labels, 64)  # 64-row chunks: the last one is partial
    (0.5 * got).backward()
    assert torch.allclose(got, expected, rtol=1e-5)
    assert torch.allclose(hidden.grad, 0.5 * grad, atol=1e-5)


def test_finetune_lowers_the_loss_and_saves_a_standard_peft_folder(tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model, tok = sw.load_model("smollm2-135m-instruct", verbose=False)
    data = sw.make_dataset(n=8)
    result = sw.finetune(model, tok, data, tmp_path / "adapters", max_steps=6, learning_rate=1e-3,
                         warmup_steps=0, save_steps=3, energy=False)
    trained = result.model
    after = reply_loss(trained, tok, data)
    with trained.disable_adapter():  # the same base weights and precision, without the adapters
        before = reply_loss(trained, tok, data)
    print(result, f"\nreply loss on the training rows: {before:.3f} -> {after:.3f}")
    assert after < before - 0.3
    assert result.path == "cpu-lora" and result.steps == 6 and len(result.losses) == 6
    assert 0.01 < result.share < 0.05  # SmolLM2-135M, r=16 on all projections: 3.5%

    folder = tmp_path / "adapters"
    assert (folder / "adapter_model.safetensors").exists() and (folder / "loss.png").stat().st_size > 5000
    record = json.loads((folder / "training.json").read_text())
    assert record["steps"] == 6 and record["trainable"] == result.trainable
    assert result.adapter_mb == pytest.approx((folder / "adapter_model.safetensors").stat().st_size / 1e6)
    # No project code: plain transformers + PEFT load the folder and give the trained model's outputs
    # Both run in fp32 from the same base weights (rounded as training stored them), so nothing blurs the check.
    dtype = next(trained.get_base_model().parameters()).dtype
    base = AutoModelForCausalLM.from_pretrained(sw.model_folder("smollm2-135m-instruct")).to(dtype).float()
    loaded = PeftModel.from_pretrained(base, str(folder)).eval()
    ids = torch.tensor([encode(tok, data[0]["messages"])["input_ids"]])
    with torch.no_grad():
        assert torch.allclose(loaded(input_ids=ids).logits, trained.float()(input_ids=ids).logits, atol=1e-4)


def tiny_folder(tmp_path, model, tokenizer):
    folder = tmp_path / "tiny-gemma3"
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_fewer_target_modules_train_fewer_parameters_and_a_rerun_starts_from_the_base(
        tiny_gemma3, gemma_tok, tmp_path, capsys):
    data = sw.make_dataset(n=8)
    default = sw.finetune(tiny_gemma3, gemma_tok, data, tmp_path / "all", max_steps=1, energy=False, progress=False)
    # The same base again, as when a notebook cell is run twice: the first run's LoRA layers must go first.
    mine = sw.finetune(tiny_gemma3, gemma_tok, data, tmp_path / "qv", target_modules=["q_proj", "v_proj"],
                       max_steps=1, energy=False, progress=False)
    assert "already carries LoRA adapters" in capsys.readouterr().out
    # hidden 32, q: 2 heads x 16 = 32 out, v: 1 KV head x 16 = 16 out, r=16, 2 layers:
    # q: A 16x32 + B 32x16 = 1024; v: A 16x32 + B 16x16 = 768; (1024 + 768) x 2 layers = 3584
    assert mine.trainable == 3584
    assert sum("lora_A" in name for name, _ in mine.model.named_parameters()) == 2 * 2  # not stacked on the first
    assert default.trainable > mine.trainable


def test_training_uses_the_threads_omp_num_threads_allows_else_every_core_it_may_run_on(
        tiny_gemma3, gemma_tok, tmp_path, monkeypatch):
    import torch

    from stoic_workshop.models import cpu_threads

    before = torch.get_num_threads()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # two jobs sharing 2 cores: one thread each
    torch.set_num_threads(3)                     # whatever this process had before
    try:
        result = sw.finetune(tiny_gemma3, gemma_tok, sw.make_dataset(n=8), tmp_path, max_steps=1, energy=False,
                             progress=False)
        assert torch.get_num_threads() == 1 and "fp32 adapters, 1 threads," in result.precision
    finally:
        torch.set_num_threads(before)
    for unusable in ("", "0", "many"):
        monkeypatch.setenv("OMP_NUM_THREADS", unusable)
        assert cpu_threads() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert cpu_threads() == 3


def test_settings_are_checked_with_the_fix_in_the_message(tiny_gemma3, gemma_tok, tmp_path):
    data = sw.make_dataset(n=8)
    with pytest.raises(TypeError, match="unknown setting.*'lora_rank'.*lora_r"):
        sw.finetune(tiny_gemma3, gemma_tok, data, tmp_path, lora_rank=8)
    with pytest.raises(ValueError, match=r"\['qproj'\] are not layers of this model.*'q_proj'"):
        sw.finetune(tiny_gemma3, gemma_tok, data, tmp_path, target_modules=["qproj"])
    bad = [{"messages": [{"role": "user", "content": "Traffic."}]}]
    with pytest.raises(sw.DataError, match="row 0"):
        sw.finetune(tiny_gemma3, gemma_tok, bad, tmp_path)
    assert not (tmp_path / "adapter_model.safetensors").exists()


def test_nan_loss_stops_the_run_and_keeps_the_last_good_checkpoint(tiny_gemma3, gemma_tok, tmp_path):
    from safetensors.torch import load_file

    calls = {"n": 0}

    def overflow_from_step_3(module, args, output):  # one forward pass per step on a CPU
        calls["n"] += 1
        if calls["n"] >= 3:
            hidden = output[0] if isinstance(output, tuple) else output
            hidden = hidden * float("inf")
            return (hidden, *output[1:]) if isinstance(output, tuple) else hidden

    tiny_gemma3.model.layers[0].register_forward_hook(overflow_from_step_3)
    with pytest.raises(sw.TrainingDiverged, match=r"became nan at step 3.*fp16 overflow.*checkpoint-2"):
        sw.finetune(tiny_gemma3, gemma_tok, sw.make_dataset(n=8), tmp_path, max_steps=6, save_steps=2,
                    energy=False, progress=False)
    assert last_checkpoint(tmp_path).name == "checkpoint-2"
    weights = load_file(last_checkpoint(tmp_path) / "adapter_model.safetensors")
    assert weights and all(torch.isfinite(w).all() for w in weights.values())
    assert not (tmp_path / "adapter_model.safetensors").exists()  # nothing broken saved as the result


def test_a_first_loss_worse_than_guessing_is_flagged(tiny_gemma3, gemma_tok, tmp_path, capsys):
    with torch.no_grad():
        tiny_gemma3.lm_head.weight.mul_(50)  # absurdly confident logits: a stand-in for misaligned labels
    sw.finetune(tiny_gemma3, gemma_tok, sw.make_dataset(n=8), tmp_path, max_steps=1, energy=False,
                progress=False)
    out = capsys.readouterr().out
    assert f"above ln(vocabulary) = {math.log(len(gemma_tok)):.1f}" in out and "check_dataset" in out


def test_training_goes_on_when_codecarbon_fails(tiny_gemma3, gemma_tok, tmp_path, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("no power data on this machine")

    monkeypatch.setattr("stoic_workshop.energy._new_tracker", broken)
    result = sw.finetune(tiny_gemma3, gemma_tok, sw.make_dataset(n=8), tmp_path, max_steps=2, progress=False)
    assert result.steps == 2 and (tmp_path / "adapter_model.safetensors").exists()
    phase = result.energy.report().iloc[0]
    assert phase["phase"] == "training" and phase["power"] == "not measured"
    assert "no power data" in phase["note"]


def test_the_card_describes_the_adapters_in_the_folder_and_keeps_the_learners_own_sections(
        tiny_gemma3, gemma_tok, tmp_path, monkeypatch):
    """Trained with energy measured, the card carries the label; a section the learner adds after it survives a
    relabel; trained again without a measurement (--no-energy, or CodeCarbon failing), the old label comes out."""
    from huggingface_hub import ModelCard

    data, card = sw.make_dataset(n=8), tmp_path / "README.md"
    sw.finetune(tiny_gemma3, gemma_tok, data, tmp_path, max_steps=1, progress=False,
                energy=sw.Energy(output_dir=str(tmp_path / "energy")))
    assert ModelCard.load(card).data.co2_eq_emissions["emissions"] > 0
    card.write_text(card.read_text() + "\n## My notes\n\nTrained on my own complaints.\n")
    sw.finetune(tiny_gemma3, gemma_tok, data, tmp_path, max_steps=1, progress=False,
                energy=sw.Energy(output_dir=str(tmp_path / "energy")))
    text = card.read_text()
    assert text.count("## Energy (stoic-workshop)") == 1 and "Measured with CodeCarbon" in text
    assert text.rstrip().endswith("## My notes\n\nTrained on my own complaints.")  # the learner's section, kept
    sw.finetune(tiny_gemma3, gemma_tok, data, tmp_path, max_steps=1, progress=False, energy=False)
    unmeasured = ModelCard.load(card)
    assert unmeasured.data.get("co2_eq_emissions") is None and "co2_eq_emissions" not in card.read_text()
    assert "Measured with CodeCarbon" not in unmeasured.text and "Not measured for the weights" in unmeasured.text
    assert "## My notes" in unmeasured.text and "energy" not in json.loads((tmp_path / "training.json").read_text())
    monkeypatch.setattr("stoic_workshop.energy._new_tracker", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("x")))
    sw.finetune(tiny_gemma3, gemma_tok, data, tmp_path, max_steps=1, progress=False)  # CodeCarbon fails: the same
    assert ModelCard.load(card).data.get("co2_eq_emissions") is None
    assert "Not measured for the weights" in card.read_text()


def test_a_killed_run_resumes_from_its_checkpoint_and_ends_at_the_same_step(tiny_gemma3, gemma_tok, tmp_path):
    """A real kill -9 after a checkpoint, then --resume: the same steps, each logged once, and the energy of both
    parts in training.json and the model card (each checkpoint holds the energy measured up to it)."""
    import pandas as pd

    folder = tiny_folder(tmp_path, tiny_gemma3, gemma_tok)
    out = tmp_path / "adapters"
    cmd = [sys.executable, "-m", "stoic_workshop.cli", "train", "--model", str(folder), "--out", str(out),
           "--steps", "16", "--save-steps", "4"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while (last_checkpoint(out) is None or not (last_checkpoint(out) / "energy.json").exists()) and \
            proc.poll() is None and time.time() < deadline:  # the checkpoint, and the energy measured up to it
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)  # no chance to clean up, as when Colab drops the runtime
    proc.wait()
    killed_at = last_checkpoint(out)
    assert killed_at is not None and not (out / "adapter_model.safetensors").exists()
    assert int(killed_at.name.split("-")[1]) < 16
    killed = json.loads((killed_at / "energy.json").read_text())["parts"]  # read now: the resumed run rotates it out

    done = subprocess.run(cmd + ["--resume"], env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"Resuming from {killed_at}" in done.stdout
    record = json.loads((out / "training.json").read_text())
    assert record["steps"] == 16
    assert [step for step, _ in record["losses"]] == list(range(1, 17))  # each step logged once, none lost

    step = killed_at.name.split("-")[1]
    first, second = record["energy"]  # the killed part up to its checkpoint, then the resumed part
    assert first["phase"] == second["phase"] == "training"
    assert f"earlier part of this training, measured up to its checkpoint at step {step}" in first["note"]
    assert f"resumed from step {step}" in second["note"]
    assert len(killed) == 1 and first["kWh"] == pytest.approx(killed[0]["kWh"]) and first["kWh"] > 0
    csv = pd.read_csv(out / "energy" / "emissions.csv")  # one row per part, the killed one as of its checkpoint
    assert len(csv) == 2 and csv.run_id.is_unique
    assert sorted(csv.energy_consumed) == pytest.approx(sorted([first["kWh"], second["kWh"]]))
    card = (out / "README.md").read_text()
    total = first["kWh"] + second["kWh"]
    assert "resumed from a checkpoint: 2 parts, all counted" in card
    assert f"{total:.3g} kWh" in card, card[-1500:]  # the label's training energy: both parts


def test_cpu_qlora_trains_a_4bit_base_whose_adapters_load_on_the_full_precision_base(tmp_path):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    model, tok = sw.load_model("smollm2-135m-instruct", cpu_4bit=True, verbose=False)
    assert model.load_report.four_bit and getattr(model, "is_loaded_in_4bit", False)
    data = sw.make_dataset(n=4)  # 4 steps of 2 rows: each row seen twice (a 4-bit CPU step is the slow one)
    result = sw.finetune(model, tok, data, tmp_path / "qlora", max_steps=4, learning_rate=1e-3, warmup_steps=0,
                         per_device_train_batch_size=2, gradient_accumulation_steps=1, energy=False,
                         progress=False)
    assert result.path == "cpu-qlora" and "4-bit NF4" in result.precision
    after = reply_loss(result.model, tok, data)
    with result.model.disable_adapter():
        before = reply_loss(result.model, tok, data)
    print(result, f"\n4-bit base, reply loss on the training rows: {before:.3f} -> {after:.3f}")
    assert after < before - 0.2

    # The same adapters on the fp32 base (no 4-bit anywhere): they must load and carry the learning across.
    base = AutoModelForCausalLM.from_pretrained(sw.model_folder("smollm2-135m-instruct"), dtype=torch.float32)
    plain = reply_loss(base, tok, data)
    tuned = PeftModel.from_pretrained(base, str(tmp_path / "qlora")).eval()
    carried = reply_loss(tuned, tok, data)
    print(f"fp32 base, reply loss: {plain:.3f} -> {carried:.3f} with the adapters trained on NF4")
    assert carried < plain - 0.2


def test_a_row_over_max_seq_length_is_left_out_and_named(tiny_gemma3, gemma_tok, tmp_path, capsys):
    """One reply of 100,000 characters among 16 rows sized every sequence to the longest example (17,432 tokens for
    `stoic-workshop train --data FILE`) and the process was OOM-killed at 23.5 GB. The recipe's max_seq_length (512)
    caps what the trainer sees; the row over it is left out, and one line says which it is."""
    rows = [{"messages": row["messages"]} for row in sw.make_dataset(n=16)]
    rows[7]["messages"][-1]["content"] = "Endure it. " * 9_090 + "Now."  # 99,994 characters
    assert len(rows[7]["messages"][-1]["content"]) >= 99_990
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    data = sw.load_pairs(path)  # what `train --data FILE` trains on
    lengths = [len(encode(gemma_tok, row["messages"])["input_ids"]) for row in data]
    assert lengths[7] > 10_000 and max(lengths[:7] + lengths[8:]) <= 512

    seen = []

    def within_the_cap(module, args, kwargs):  # stops at once, before a 17k-token batch is computed
        ids = kwargs["input_ids"] if kwargs.get("input_ids") is not None else args[0]
        seen.append(ids.shape[1])
        assert ids.shape[1] <= 512, f"the trainer was given sequences of {ids.shape[1]} tokens"

    tiny_gemma3.model.register_forward_pre_hook(within_the_cap, with_kwargs=True)
    # 8 x 2 folded into one pass on a CPU: one step sees every row that is kept
    result = sw.finetune(tiny_gemma3, gemma_tok, data, tmp_path / "adapters", max_steps=1,
                         per_device_train_batch_size=8, gradient_accumulation_steps=2, energy=False, progress=False)
    assert seen and max(seen) <= 512
    assert result.tokens == sum(lengths) - lengths[7]  # the 15 other rows, whole: nothing cut from them
    assert result.settings["max_length"] == 512
    said = [line for line in capsys.readouterr().out.splitlines() if "max_length" in line]
    assert len(said) == 1, said
    assert "1 of 16 rows" in said[0] and f"row 7 ({lengths[7]:,} tokens)" in said[0]


def test_a_run_without_resume_says_there_is_a_checkpoint_and_how_to_continue_from_it(tiny_gemma3, gemma_tok, tmp_path,
                                                                                    capsys):
    """Forgetting --resume restarted from step 0 in silence, though a checkpoint was there to continue from."""
    data = sw.make_dataset(n=4)
    sw.finetune(tiny_gemma3, gemma_tok, data, tmp_path / "adapters", max_steps=2, save_steps=2, energy=False,
                progress=False)
    assert last_checkpoint(tmp_path / "adapters").name == "checkpoint-2"
    capsys.readouterr()
    sw.finetune(tiny_gemma3, gemma_tok, data, tmp_path / "adapters", max_steps=2, energy=False, progress=False)
    said = capsys.readouterr().out
    assert "holds an earlier run's checkpoint at step 2: starting again from step 0" in said
    assert "finetune(..., resume=True), or `stoic-workshop train --resume`" in said


def test_resuming_from_a_checkpoint_of_another_model_is_refused(tiny_gemma3, gemma_tok, tmp_path):
    """A checkpoint records the base model it was trained on: resumed with another one, it would load one model's
    optimizer and adapters into the other. Refused, naming both models, before any step."""
    from transformers import AutoModelForCausalLM

    data = sw.make_dataset(n=4)
    first, other = tiny_folder(tmp_path / "a", tiny_gemma3, gemma_tok), tiny_folder(tmp_path / "b", tiny_gemma3,
                                                                                    gemma_tok)
    out = tmp_path / "adapters"
    sw.finetune(AutoModelForCausalLM.from_pretrained(first), gemma_tok, data, out, max_steps=1, save_steps=1,
                energy=False, progress=False)
    with pytest.raises(ValueError) as refused:
        sw.finetune(AutoModelForCausalLM.from_pretrained(other), gemma_tok, data, out, max_steps=2, energy=False,
                    progress=False, resume=True)
    assert str(first) in str(refused.value) and str(other) in str(refused.value)
    assert "checkpoint-1" in str(refused.value) and last_checkpoint(out).name == "checkpoint-1"
    resumed = sw.finetune(AutoModelForCausalLM.from_pretrained(first), gemma_tok, data, out, max_steps=2,
                          energy=False, progress=False, resume=True)  # the same model resumes as before
    assert resumed.steps == 2


def test_the_recipe_is_trls_own_config_plus_the_lora_fields_with_errors_that_show_the_form():
    from trl import SFTConfig

    config = sw.StoicConfig(output_dir="adapters/stoic")
    assert isinstance(config, SFTConfig)  # extends TRL's config: every SFTConfig field works with its own name
    recipe = config.recipe()
    # the workshop's recipe: r=16 on all 7 projections, 60 steps of 2 x 4 = 8 examples, lr and optimizer left open
    assert (recipe["lora_r"], len(recipe["target_modules"]), recipe["max_steps"]) == (16, 7, 60)
    assert recipe["per_device_train_batch_size"] * recipe["gradient_accumulation_steps"] == 8
    assert recipe["learning_rate"] is None and recipe["optim"] is None and recipe["lr_scheduler_type"] == "linear"
    assert recipe["max_length"] == 512 and json.dumps(recipe)  # JSON-ready: training.json records it
    with pytest.raises(ValueError, match=r"lora_r must be a whole number of at least 1, e.g. lora_r=16; got 0"):
        sw.StoicConfig(lora_r=0)
    with pytest.raises(ValueError, match=r"e.g. target_modules=\['q_proj', 'v_proj'\]; got 'q_proj,v_proj'"):
        sw.StoicConfig(target_modules="q_proj,v_proj")
    with pytest.raises(ValueError, match=r"learning_rate must be a number above 0 \(e.g. learning_rate=2e-4\)"):
        sw.StoicConfig(learning_rate=-1)
    with pytest.raises(ValueError, match="cpu_dtype must be one of 'auto', 'float32', 'bfloat16'; got 'fp8'"):
        sw.StoicConfig(cpu_dtype="fp8")


def test_finetune_takes_a_config_and_picks_the_learning_rate_from_the_model(tiny_gemma3, gemma_tok, tmp_path, capsys):
    data = sw.make_dataset(n=8)
    config = sw.StoicConfig(output_dir=str(tmp_path / "adapters"), max_steps=1)
    result = sw.finetune(tiny_gemma3, gemma_tok, data, config, energy=False, progress=False)
    # the tiny Gemma 3 has far fewer than 500M parameters: 1e-3, the rate that moves SmolLM2 (learning_rate_for)
    assert result.settings["learning_rate"] == 1e-3 == sw.learning_rate_for(tiny_gemma3)
    assert "Learning rate 0.001 (for this model size), adamw_torch, 1 steps." in capsys.readouterr().out
    record = json.loads((tmp_path / "adapters" / "training.json").read_text())
    assert record["settings"] == result.settings and record["steps"] == 1
    assert config.learning_rate is None  # the learner's config is not changed by the run
    with pytest.raises(TypeError, match="batch_size -> per_device_train_batch_size"):  # the old name, and the new
        sw.finetune(tiny_gemma3, gemma_tok, data, config, batch_size=4)
