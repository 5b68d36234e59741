"""Adapters given to another learner: they name their base so that any machine finds it (issue 19, item 6).

Adapters used to record `base_model_name_or_path` as the training machine's cache folder
(~/.cache/stoic_workshop/models/...). On another machine `eval` failed with a misleading Hub/offline error and
`export` and `chat` with tracebacks. Real SmolLM2 adapters (one training step), real commands.
"""

import io
import json
import shutil

import pytest

import stoic_workshop as sw
from stoic_workshop.cli import main
from stoic_workshop.models import adapter_base, model_source


@pytest.fixture(scope="module")
def smol_adapters(tmp_path_factory):
    out = tmp_path_factory.mktemp("portable") / "adapters"
    # no --model: `train` picks the model `run` picks (SmolLM2 without a GPU), by the same recipe (StoicConfig)
    assert main(["train", "--out", str(out), "--steps", "1", "--no-energy"]) == 0
    return out


def _given_away(adapters, folder, base):
    """A copy of the adapters whose config names `base`, as adapters written elsewhere do."""
    shutil.copytree(adapters, folder)
    config = json.loads((folder / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = base
    (folder / "adapter_config.json").write_text(json.dumps(config))
    return folder


def test_adapters_record_the_preset_not_this_machines_cache_folder(smol_adapters):
    config = json.loads((smol_adapters / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == "smollm2-135m-instruct" == sw.pick_models()[1]
    record = json.loads((smol_adapters / "training.json").read_text())
    assert record["settings"]["learning_rate"] == sw.learning_rate_for(sw.load_model(sw.pick_models()[1],
                                                                                      verbose=False)[0]) == 1e-3
    assert model_source(adapter_base(smol_adapters)) == str(sw.model_folder("smollm2-135m-instruct"))
    from huggingface_hub import ModelCard

    card = ModelCard.load(smol_adapters / "README.md")  # PEFT's model card names the same base, its tag too
    assert card.data.base_model == "smollm2-135m-instruct" and card.data.library_name == "peft"
    assert "base_model:adapter:smollm2-135m-instruct" in card.data.tags and "lora" in card.data.tags
    assert str(sw.cache_dir()) not in (smol_adapters / "README.md").read_text()


def test_adapters_written_the_old_way_on_another_machine_still_load(smol_adapters, tmp_path, monkeypatch, capsys):
    old = _given_away(smol_adapters, tmp_path / "from-a-friend",
                      "/home/friend/.cache/stoic_workshop/models/smollm2-135m-instruct")
    assert adapter_base(old) == "smollm2-135m-instruct"
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))  # an empty line ends the chat at once
    assert main(["chat", str(old)]) == 0, capsys.readouterr().err[-2000:]
    merged = sw.merge(old, tmp_path / "merged")  # export's first step
    assert json.loads((merged / "merged.json").read_text())["base"] == str(sw.model_folder("smollm2-135m-instruct"))


def test_adapters_on_a_base_that_is_on_no_machine_here_say_so_in_one_line(smol_adapters, tmp_path, capsys):
    lost = _given_away(smol_adapters, tmp_path / "lost", "/home/friend/models/my-own-model")
    expected = (f"error: The adapters in {lost} were trained on /home/friend/models/my-own-model, a folder that is "
                "not on this machine")
    for command in (["chat", str(lost)], ["export", str(lost), "--out", str(tmp_path / "export")],
                    ["eval", str(lost), "--out", str(tmp_path / "eval"), "--prompts", "1", "--no-energy"]):
        assert main(command) == 1, command
        assert capsys.readouterr().err.strip().splitlines()[-1].startswith(expected), command


# --- damaged files and mismatched models, as a learner meets them: one error line each, no traceback (item 7) ---

def _last_error(capsys) -> str:
    return capsys.readouterr().err.strip().splitlines()[-1]


def test_damaged_adapters_are_named_by_eval_export_and_chat(smol_adapters, tmp_path, capsys):
    damaged = tmp_path / "damaged"
    shutil.copytree(smol_adapters, damaged)
    weights = damaged / "adapter_model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # an interrupted copy
    for command in (["chat", str(damaged)], ["export", str(damaged), "--out", str(tmp_path / "export")],
                    ["eval", str(damaged), "--out", str(tmp_path / "eval"), "--prompts", "1", "--no-energy"]):
        assert main(command) == 1, command
        assert _last_error(capsys).startswith(f"error: {weights} is damaged or incomplete"), command


def test_chat_with_adapters_for_another_base_says_they_do_not_fit(smol_adapters, tmp_path, capsys):
    other = _given_away(smol_adapters, tmp_path / "other", "gemma-3-270m")  # SmolLM2's adapters, Gemma's name
    assert main(["chat", str(other)]) == 1
    assert _last_error(capsys).startswith(f"error: The adapters in {other} do not fit this model: they were "
                                          "trained on gemma-3-270m")


def test_chat_names_a_missing_foreign_or_cut_off_gguf_and_missing_bindings(tmp_path, capsys, monkeypatch):
    from stoic_workshop.models import gguf_file, get_preset

    missing = tmp_path / "stoic-q8_0.gguf"
    assert main(["chat", str(missing)]) == 1
    assert _last_error(capsys) == (f"error: No GGUF file at {missing}: export one first (notebook 4, or "
                                   "`stoic-workshop export`).")
    fake = tmp_path / "fake.gguf"
    fake.write_text("not a model")
    assert main(["chat", str(fake)]) == 1
    assert _last_error(capsys).startswith(f"error: {fake} is not a GGUF file")
    cut = tmp_path / "cut.gguf"
    with open(gguf_file(get_preset("smollm2-135m-instruct"), tmp_path), "rb") as real:
        cut.write_bytes(real.read(4_000_000))  # the first 4 MB of the packaged SmolLM2 file
    assert main(["chat", str(cut)]) == 1
    assert _last_error(capsys).startswith(f"error: llama.cpp could not load {cut} (4.0 MB): the file is incomplete")
    monkeypatch.setitem(__import__("sys").modules, "llama_cpp", None)  # `import llama_cpp` now fails
    assert main(["chat", str(cut)]) == 1
    assert _last_error(capsys).startswith("error: Running cut.gguf here needs llama.cpp's Python bindings: "
                                          "pip install llama-cpp-python==")
