"""`train --out` and `export --out` write only into folders the project made, and never delete a file of yours.

An existing OUT/merged/ used to be replaced wholesale (a file the user had put there went with it), OUT/Modelfile
was overwritten, and `train --out` wrote README.md and training.json over an unrelated folder's. A folder the
project made itself (an earlier run into the same place) must stay overwritable, so reruns keep working.
"""

import errno
import json
import re
import subprocess

import pytest
import torch

from stoic_workshop.cli import main


@pytest.fixture()
def tiny_model(tiny_gemma3, gemma_tok, tmp_path):
    """A tiny Gemma 3 (real architecture and tokenizer) saved as a model folder, as `train --model` takes it."""
    folder = tmp_path / "tiny-gemma3"
    tiny_gemma3.save_pretrained(folder)
    gemma_tok.save_pretrained(folder)
    return folder


@pytest.fixture()
def tiny_adapters(tiny_model, tmp_path):
    """Real LoRA adapters on the tiny Gemma 3, as `export` takes them (no training needed)."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoTokenizer, Gemma3ForCausalLM

    torch.manual_seed(0)
    base = Gemma3ForCausalLM.from_pretrained(tiny_model)
    folder = tmp_path / "adapters"
    get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False,
                                    task_type="CAUSAL_LM")).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(folder)
    return folder


def _error(capsys) -> str:
    """The one `error: ...` line the command printed."""
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
    assert len(lines) == 1, lines
    return lines[0]


def _train(model, out, capsys) -> int:
    code = main(["train", "--model", str(model), "--out", str(out), "--steps", "1", "--no-energy"])
    return code


def test_train_refuses_a_folder_it_did_not_make(tiny_model, tmp_path, capsys):
    mine = tmp_path / "notes"
    mine.mkdir()
    (mine / "README.md").write_text("# My notes\n")
    (mine / "training.json").write_text('{"my": "own record"}')
    assert _train(tiny_model, mine, capsys) == 1
    said = _error(capsys)
    assert str(mine) in said and "README.md" in said and "--out" in said
    assert (mine / "README.md").read_text() == "# My notes\n"
    assert json.loads((mine / "training.json").read_text()) == {"my": "own record"}
    assert sorted(p.name for p in mine.iterdir()) == ["README.md", "training.json"]  # nothing written beside them


def test_train_reruns_into_its_own_folder_and_keeps_a_file_added_there(tiny_model, tmp_path, capsys):
    out = tmp_path / "adapters"
    assert _train(tiny_model, out, capsys) == 0
    (out / "my-notes.txt").write_text("tried r=16")
    assert _train(tiny_model, out, capsys) == 0  # a rerun into the folder the first run made
    assert json.loads((out / "training.json").read_text())["steps"] == 1
    assert (out / "my-notes.txt").read_text() == "tried r=16"  # written only its own files


def _export(adapters, out) -> int:
    return main(["export", str(adapters), "--out", str(out), "--quant", "f16", "--no-verify"])


def test_export_keeps_a_file_the_user_put_in_merged(tiny_adapters, tmp_path, capsys):
    out = tmp_path / "export"
    (out / "merged").mkdir(parents=True)
    (out / "merged" / "notes.txt").write_text("mine")
    assert _export(tiny_adapters, out) == 1
    said = _error(capsys)
    assert str(out / "merged") in said and "notes.txt" in said
    assert (out / "merged" / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in (out / "merged").iterdir()) == ["notes.txt"]


def test_export_keeps_the_users_modelfile(tiny_adapters, tmp_path, capsys):
    out = tmp_path / "export"
    out.mkdir()
    (out / "Modelfile").write_text("FROM ./mine.gguf\nSYSTEM \"\"\"Mine.\"\"\"\n")
    assert _export(tiny_adapters, out) == 1
    said = _error(capsys)
    assert str(out / "Modelfile") in said
    assert (out / "Modelfile").read_text() == "FROM ./mine.gguf\nSYSTEM \"\"\"Mine.\"\"\"\n"


def test_export_keeps_a_gguf_file_it_did_not_write(tiny_adapters, tmp_path, capsys):
    out = tmp_path / "export"
    out.mkdir()
    (out / "stoic-f16.gguf").write_bytes(b"GGUF: someone's own model")
    assert _export(tiny_adapters, out) == 1
    said = _error(capsys)
    assert str(out / "stoic-f16.gguf") in said and "was not written by stoic-workshop" in said and "--name" in said
    assert (out / "stoic-f16.gguf").read_bytes() == b"GGUF: someone's own model"


def test_export_reruns_into_its_own_folder_but_keeps_a_file_added_to_merged(tiny_adapters, tmp_path, capsys):
    out = tmp_path / "export"
    assert _export(tiny_adapters, out) == 0
    record = json.loads((out / "gguf-files.json").read_text())["stoic-f16.gguf"]  # which file, from what, when
    assert record["from"] == str((out / "merged").resolve()) and record["type"] == "f16"
    capsys.readouterr()
    assert _export(tiny_adapters, out) == 0  # the project's own merged/, GGUF and Modelfile are replaced
    assert f"Replaced stoic-f16.gguf (written {record['written']} from {record['from']})." in capsys.readouterr().out
    assert (out / "merged" / "config.json").is_file() and (out / "Modelfile").read_text().startswith("FROM ./")
    with open(out / "stoic-f16.gguf", "ab") as gguf:  # changed by hand since the export wrote it
        gguf.write(b"edited")
    changed = (out / "stoic-f16.gguf").read_bytes()
    assert _export(tiny_adapters, out) == 1
    assert "was changed after stoic-workshop wrote it" in _error(capsys)
    assert (out / "stoic-f16.gguf").read_bytes() == changed
    (out / "stoic-f16.gguf").unlink()
    capsys.readouterr()
    (out / "merged" / "notes.txt").write_text("mine")  # added by hand to the project's merged folder
    assert _export(tiny_adapters, out) == 1
    assert "notes.txt" in _error(capsys)
    assert (out / "merged" / "notes.txt").read_text() == "mine" and (out / "merged" / "config.json").is_file()


@pytest.fixture()
def small_disk(tmp_path):
    """A real file system of 8 MB (tmpfs), smaller than the tiny Gemma 3's 17 MB of fp16 weights: a full disk."""
    disk = tmp_path / "disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("mounting a small tmpfs needs root (CAP_SYS_ADMIN)")
    yield disk
    subprocess.run(["umount", str(disk)], check=True)


def test_a_full_disk_while_merging_says_so_and_leaves_no_half_written_model(tiny_adapters, small_disk, capsys):
    """CI once filled its disk in the middle of a merge: safetensors' raw traceback, and a merged.part left behind
    holding the space. The merge now removes what it wrote and says what ran out, where, and what is kept."""
    import stoic_workshop as sw

    out = small_disk / "merged"
    with pytest.raises(OSError) as raised:
        sw.merge(tiny_adapters, out)
    said = str(raised.value)
    assert raised.value.errno == errno.ENOSPC
    assert "No space left" in said and str(out) in said and str(tiny_adapters) in said, said
    assert re.search(r"need about 1[67] MB and \d MB is free", said), said  # 8.4M fp16 parameters; an 8 MB disk
    assert list(small_disk.iterdir()) == []  # no merged.part left holding the space
    assert (tiny_adapters / "adapter_config.json").is_file()

    assert _export(tiny_adapters, small_disk / "export") == 1  # the command: one error line, no traceback
    assert "No space left" in _error(capsys)
    assert not (small_disk / "export" / "merged.part").exists()
