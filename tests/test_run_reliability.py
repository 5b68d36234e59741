"""`stoic-workshop run` into a folder that already holds a run: what is redone, what is skipped, what fails loudly.

The session's one tiny real run (conftest.finished_run: SmolLM2, 2 training steps, 2 prompts) is shared; each test
works on its own copy. The commands run in-process (conftest.cli), except where two processes are the point.
"""

import hashlib
import shutil
import subprocess

import pandas as pd
import pytest

import stoic_workshop.export as export
from stoic_workshop.pipeline import run

TINY = ["--prompts", "2", "--no-energy"]


def _sha(path):
    return hashlib.sha1(path.read_bytes()).hexdigest()


def test_a_rerun_with_more_steps_exports_the_new_adapter_and_a_rerun_without_changes_skips_everything(
        finished_run, cli, tmp_path):
    out = tmp_path / "run"
    shutil.copytree(finished_run[0], out)
    weights, gguf = out / "merged" / "model.safetensors", out / "stoic-q8_0.gguf"
    old = {"adapter": _sha(out / "adapter" / "adapter_model.safetensors"), "merged": _sha(weights),
           "gguf": _sha(gguf)}

    code, more, err = cli("run", "--out", out, "--steps", "3", *TINY)
    assert code == 0, err[-3000:]
    # 3 > 2 steps: a new adapter, so everything made from it is made again, and each redo says so in one line
    assert _sha(out / "adapter" / "adapter_model.safetensors") != old["adapter"]
    assert _sha(weights) != old["merged"] and _sha(gguf) != old["gguf"], "merged/ or the GGUF is the step-2 one"
    for label in ("evaluate", "merge", "gguf q8_0"):
        assert f"[{label}] redone" in more, label
    assert "generating them again" in more  # the fine-tuned answers are the new adapter's
    checks = pd.read_csv(out / "checks.csv")  # the new GGUF file answered through llama.cpp and ended its turn
    assert checks["ok"].all() and (checks["stopped by"] == "stop").all()

    new = {"answers": _sha(out / "answers.csv"), "merged": _sha(weights), "gguf": _sha(gguf)}
    code, same, err = cli("run", "--out", out, "--steps", "3", *TINY)
    assert code == 0, err[-3000:]
    # nothing changed: every step is skipped, the evaluation too (it used to be redone on every run)
    for label in ("data", "train", "evaluate", "merge", "gguf q8_0"):
        assert f"[{label}] already there" in same, label
    assert new == {"answers": _sha(out / "answers.csv"), "merged": _sha(weights), "gguf": _sha(gguf)}
    assert (out / "report.html").is_file() and len(pd.read_csv(out / "scores.csv")) == 4  # 2 prompts x 2 models


def test_run_says_a_gguf_check_failed_and_exits_non_zero_after_writing_everything(finished_run, tmp_path,
                                                                                 monkeypatch, cli):
    out = tmp_path / "run"
    shutil.copytree(finished_run[0], out)
    for name in ("report.html", "run.json", "checks.csv", "Modelfile"):
        (out / name).unlink()
    real = export.verify
    # 2 tokens cannot hold a reply that ends its turn: the real check on the real file fails, "stopped by length"
    monkeypatch.setattr(export, "verify", lambda *args, **kw: real(*args, **{**kw, "max_tokens": 2}))

    code, printed, err = cli("run", "--out", out, "--steps", "2", *TINY)
    assert code == 1
    assert "FAILED" in printed and "why it failed: the reply ran to 2 tokens" in printed
    # one error line, the last thing said (stderr also carries progress bars and library warnings)
    assert err.strip().splitlines()[-1].startswith("error: the check of stoic-q8_0.gguf failed")
    checks = pd.read_csv(out / "checks.csv")
    assert not checks["ok"].any() and (checks["stopped by"] == "length").all()
    for name in ("report.html", "run.json", "Modelfile", "stoic-q8_0.gguf", "merged/config.json", "summary.csv"):
        assert (out / name).is_file(), name  # written (or kept) before the error
    assert "why it failed" in (out / "report.html").read_text()


@pytest.mark.parametrize("prompts", [0, -1, 17])
def test_run_rejects_a_prompt_count_outside_1_to_16_before_writing_anything(tmp_path, prompts):
    out = tmp_path / "run"
    # "no-such-model" would fail later, at loading; the prompt count must be refused before that and before any file
    with pytest.raises(ValueError, match=r"prompts must be 1\.\.16.*got " + str(prompts)):
        run(out, model="no-such-model", steps=2, prompts=prompts, energy=False, progress=False)
    assert not out.exists()


@pytest.mark.parametrize("command", [["run", "--model", "no-such-model"], ["eval", "no-adapters-here"]])
@pytest.mark.parametrize("prompts", ["0", "-1"])
def test_cli_rejects_a_prompt_count_outside_1_to_16_with_one_error_line(tmp_path, command, prompts, cli):
    out = tmp_path / "out"
    code, _, err = cli(*command, "--out", out, "--prompts", prompts)
    assert code != 0
    assert err.strip().splitlines()[-1].startswith("error: prompts must be 1..16"), err[-2000:]
    assert not out.exists()


def test_run_with_zero_steps_stops_before_writing_anything(tmp_path, cli):
    out = tmp_path / "run"
    code, _, err = cli("run", "--out", out, "--steps", "0", *TINY)
    assert code != 0
    assert err.strip().splitlines()[-1].startswith("error: steps must be"), err[-2000:]
    assert not out.exists()  # no data.jsonl, no emissions.csv: nothing


def test_a_second_run_into_a_folder_in_use_says_who_holds_it_and_a_killed_runs_lock_is_taken_over(tmp_path, capsys,
                                                                                                cli):
    """Two runs into one folder duplicated all the work, and one crashed in merge."""
    import json
    import signal
    import time

    from stoic_workshop.folders import RunFolder
    from stoic_workshop.pipeline import _lock

    out = tmp_path / "run"
    first = subprocess.Popen(["stoic-workshop", "run", "--out", str(out), "--steps", "2", *TINY],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not RunFolder(out).lock.is_file() and first.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    try:
        assert json.loads(RunFolder(out).lock.read_text())["pid"] == first.pid
        code, _, err = cli("run", "--out", out, "--steps", "2", *TINY)  # the second run: this process
        assert code == 1
        assert err.strip().splitlines()[-1].startswith(
            f"error: {out} is in use by another run (pid {first.pid} on ")
    finally:
        first.send_signal(signal.SIGKILL)  # as when Colab drops the runtime: its lock stays behind
        first.wait()
    assert json.loads(RunFolder(out).lock.read_text())["pid"] == first.pid
    with _lock(out):
        assert json.loads(RunFolder(out).lock.read_text())["pid"] != first.pid
    assert f"left by a run that no longer runs (pid {first.pid}): taking it over" in capsys.readouterr().out
    assert not RunFolder(out).lock.exists()


@pytest.mark.parametrize("command", [["run", "--steps", "2", *TINY], ["export", "no-adapters-needed"]])
def test_run_and_export_into_a_folder_they_cannot_write_say_so_before_any_work(tmp_path, cli, command):
    """A read-only --out crashed with a traceback after the work (as root, a folder under a file stands in for one
    that is read-only: both fail at the first write)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    out = blocker / "run"
    code, _, err = cli(*command, "--out", out)
    assert code == 1
    error = err.strip().splitlines()[-1]
    assert error.startswith(f"error: Cannot write into {out} (") and "pass --out a folder you can write" in error


def test_a_run_into_a_folder_trained_on_another_model_is_refused_before_any_work(finished_run, cli, tmp_path):
    """The adapters in OUT/adapter were trained on SmolLM2; `run --model gemma-3-270m` into that folder would resume
    or evaluate them on another model. It stops with one line naming both models, and nothing in the folder changes."""
    out = tmp_path / "run"
    shutil.copytree(finished_run[0], out)
    before = {p.name: _sha(p) for p in (out / "adapter").iterdir() if p.is_file()}
    code, printed, err = cli("run", "--out", out, "--model", "gemma-3-270m", "--steps", "2", *TINY)
    assert code == 1
    line = err.strip().splitlines()[-1]
    assert line.startswith("error:") and "smollm2-135m-instruct" in line and "gemma-3-270m" in line, line
    assert "--out" in line  # what to do: another folder, or the model the folder was trained on
    assert "[train]" not in printed
    assert before == {p.name: _sha(p) for p in (out / "adapter").iterdir() if p.is_file()}
