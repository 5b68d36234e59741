"""Notebook 2 teaches the libraries' own calls, and its recipe is what a learner takes home (issue 31).

- Each library call the course is about appears in a code cell of the notebook that teaches it.
- The recipe cells of notebook 2 (tagged "recipe") run in a venv where stoic_workshop is NOT installed: from a JSONL
  file of conversations to adapters that load with plain PEFT, on a tiny model of SmolLM2's architecture with its
  real tokenizer, on the CPU.
- `stoic-workshop train` (StoicConfig, finetune) trains the same data the same way: the same loss at every step
  (within 1e-4) and the same adapter weights. In fp32: in bf16 the two losses (the notebook's is the model's own
  cross-entropy, the package's applies the output layer only to the reply tokens) round differently.
"""

import json
import os
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest

import stoic_workshop as sw
from stoic_workshop.cli import main

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"

# (notebook, what its code shows): the calls of transformers, peft, trl, unsloth and CodeCarbon that the course names
TAUGHT = {
    "01_base_vs_instruct": ["AutoTokenizer.from_pretrained(", "AutoModelForCausalLM.from_pretrained(",
                            ".apply_chat_template(", ".generate("],
    "02_finetune": [".apply_chat_template(", "BitsAndBytesConfig(load_in_4bit=True", 'bnb_4bit_quant_type="nf4"',
                    "FastLanguageModel.from_pretrained(", "load_in_4bit=True", "LoraConfig(", "get_peft_model(",
                    "FastLanguageModel.get_peft_model(", "target_modules=", "lora_alpha=", "SFTConfig(", "SFTTrainer",
                    "trainer.train()", "trainer.save_model(", "sw.EnergyCallback(", "sw.LossGuard()",
                    'load_dataset("json"', "Dataset.from_list(", "concatenate_datasets(", ".generate("],
    "03_evaluation": ["AutoModelForCausalLM.from_pretrained(", "PeftModel.from_pretrained(", ".disable_adapter()",
                      ".apply_chat_template(", ".generate("],
    "05_knowledge": ["AutoTokenizer.from_pretrained(", "AutoModelForCausalLM.from_pretrained(", ".apply_chat_template(",
                     ".generate("],
    "04_deploy": ["PeftModel.from_pretrained(", ".merge_and_unload()", ".save_pretrained(", "convert_hf_to_gguf.py",
                  "--outtype", "Llama(model_path=", ".create_chat_completion(", ".apply_chat_template(", ".generate("],
}


def _code(stem: str, tag: str | None = None) -> list[str]:
    nb = nbformat.read(NOTEBOOKS / f"{stem}.ipynb", as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "code" and (tag is None or tag in c.metadata.get("tags", []))]


@pytest.mark.parametrize("stem", sorted(TAUGHT))
def test_each_library_call_is_in_the_notebook_that_teaches_it(stem):
    code = "\n".join(_code(stem))
    missing = [call for call in TAUGHT[stem] if call not in code]
    assert missing == [], f"{stem} shows none of {missing}"


def test_notebook_2s_recipe_cells_use_only_the_libraries():
    recipe = _code("02_finetune", "recipe")
    assert len(recipe) == 7  # data, model, adapters, settings, trainer, train, save
    assert not [cell for cell in recipe if "sw." in cell or "stoic_workshop" in cell]
    # the settings they read come from notebook 2's settings cell, the only cell before them they need
    settings = next(c for c in _code("02_finetune") if "MODEL_PATH = " in c)
    for name in ("MODEL_PATH", "DTYPE", "GPU", "USE_UNSLOTH", "SEED", "MAX_SEQ_LENGTH", "STEPS"):
        assert re.search(rf"^\s*{name} = ", settings, re.MULTILINE), name


def _venv_without_the_package(folder: Path) -> Path:
    """A venv whose site-packages reach this environment's packages, all but stoic_workshop: a learner's machine
    with the libraries installed and not this course's package."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True)
    python = folder / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    libraries = folder / "libraries"
    libraries.mkdir()
    ours = ("stoic_workshop", "__editable__", "_stoic_workshop", "stoic-workshop")
    for entry in Path(sysconfig.get_paths()["purelib"]).iterdir():
        if not entry.name.lower().replace("-", "_").startswith(tuple(o.replace("-", "_") for o in ours)) \
                and entry.suffix != ".pth":
            (libraries / entry.name).symlink_to(entry)
    (site / "libraries.pth").write_text(str(libraries) + "\n")
    return python


@pytest.fixture(scope="module")
def tiny_smol(tmp_path_factory):
    """A randomly initialised model of SmolLM2's architecture (Llama) with SmolLM2's real tokenizer, in a folder."""
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    folder = tmp_path_factory.mktemp("tiny-smollm2")
    tokenizer = AutoTokenizer.from_pretrained(sw.model_folder("smollm2-135m-instruct"))
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=1024,
                         tie_word_embeddings=True, bos_token_id=tokenizer.bos_token_id,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


STEPS = 3


def test_notebook_2s_recipe_runs_without_the_package_and_trains_what_the_cli_trains(tiny_smol, tmp_path):
    from safetensors.torch import load_file

    work = tmp_path / "learner"
    (work / "data").mkdir(parents=True)
    train = sw.train_eval_split(sw.make_dataset(n=30, seed=3407), eval_fraction=0.1, seed=3407)["train"]
    train.to_json(str(work / "data" / "stoic-train.jsonl"))  # what notebook 2 writes before its recipe
    settings = f"""
import os, torch
try:
    import stoic_workshop
    raise SystemExit("stoic_workshop is importable here: the test needs a venv without it")
except ModuleNotFoundError:
    pass
MODEL_PATH, SEED, MAX_SEQ_LENGTH, STEPS = {str(tiny_smol)!r}, 3407, 512, {STEPS}
GPU, USE_UNSLOTH, DTYPE = False, False, torch.float32
"""
    check = """
import json
from peft import PeftModel
json.dump(trainer.state.log_history, open("log_history.json", "w"))
loaded = PeftModel.from_pretrained(AutoModelForCausalLM.from_pretrained(MODEL_PATH), "adapters/stoic")
print("loaded with plain PEFT:", sum("lora_A" in name for name, _ in loaded.named_parameters()), "lora_A matrices")
"""
    script = work / "recipe.py"
    script.write_text("\n\n".join([settings, *_code("02_finetune", "recipe"), check]).replace(
        '\nsorted(os.listdir("adapters/stoic"))', '\nprint(sorted(os.listdir("adapters/stoic")))'))
    python = _venv_without_the_package(tmp_path / "venv")
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    run = subprocess.run([str(python), str(script)], cwd=work, capture_output=True, text=True, env=env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    assert f"{STEPS} steps in " in run.stdout and "'adapter_model.safetensors'" in run.stdout
    assert "loaded with plain PEFT: 14 lora_A matrices" in run.stdout  # 7 projections x 2 layers

    out = tmp_path / "cli-adapters"
    assert main(["train", "--model", str(tiny_smol), "--data", str(work / "data" / "stoic-train.jsonl"),
                 "--out", str(out), "--steps", str(STEPS), "--no-energy", "--cpu-dtype", "float32"]) == 0
    notebook = [e["loss"] for e in json.loads((work / "log_history.json").read_text()) if "loss" in e]
    cli = [loss for _, loss in json.loads((out / "training.json").read_text())["losses"]]
    assert len(notebook) == len(cli) == STEPS
    assert max(abs(a - b) for a, b in zip(notebook, cli)) < 1e-4, (notebook, cli)
    ours, theirs = load_file(work / "adapters" / "stoic" / "adapter_model.safetensors"), load_file(
        out / "adapter_model.safetensors")
    assert sorted(ours) == sorted(theirs) and len(ours) == 28
    worst = max((ours[k] - theirs[k]).abs().max().item() for k in ours)
    assert worst < 1e-5, worst
    assert max(ours[k].abs().max().item() for k in ours if "lora_B" in k) > 1e-4  # trained: B started at zero


@pytest.mark.parametrize("family", ["smollm2", "gemma"])
def test_the_package_labels_what_trls_sfttrainer_labels(family, tiny_smol, tiny_gemma3, gemma_tok, tmp_path):
    """check_dataset, masked_view and finetune label a conversation as TRL's SFTTrainer labels the same conversation
    given as a prompt and a completion (notebook 2's recipe): the same tokens, the same trained positions."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from stoic_workshop.masking import encode

    if family == "gemma":
        model, tokenizer = tiny_gemma3, gemma_tok
    else:
        model, tokenizer = AutoModelForCausalLM.from_pretrained(tiny_smol), AutoTokenizer.from_pretrained(tiny_smol)
    rows = sw.make_dataset(n=12, seed=1)
    prompt_completion = Dataset.from_list([{"prompt": r["messages"][:-1], "completion": r["messages"][-1:]}
                                           for r in rows])
    trainer = SFTTrainer(model=model, processing_class=tokenizer, train_dataset=prompt_completion,
                         args=SFTConfig(output_dir=str(tmp_path), use_cpu=True, report_to="none", max_length=512))
    for i, row in enumerate(rows):
        ours, theirs = encode(tokenizer, row["messages"]), trainer.train_dataset[i]
        assert ours["input_ids"] == theirs["input_ids"], i
        assert ours["labels"] == theirs["labels"], i
        assert sw.masked_view(tokenizer, theirs) == sw.masked_view(tokenizer, row["messages"])
