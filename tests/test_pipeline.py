"""The main job, `stoic-workshop run`, end to end on the offline model, and its resume (in-process: see conftest)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd

from stoic_workshop.folders import RunFolder


def _python_of(finished_run) -> str:
    """The Python that made conftest.finished_run: the wheel's venv in CI, else this one."""
    venv = os.environ.get("STOIC_WHEEL_VENV")
    return str(Path(venv) / "bin" / "python") if venv else sys.executable


def test_run_writes_every_output_into_one_folder_and_a_second_run_resumes(finished_run, cli, tmp_path,
                                                                          has_llama_cpp):
    made, printed = finished_run  # `run --steps 2 --prompts 2`, energy measured
    run = RunFolder(made)  # the one place the layout is named: every file of it is there
    for path in [run.data, run.adapter / "adapter_config.json", run.adapter / "adapter_model.safetensors",
                 run.training, run.loss_plot, *run.evaluation, run.emissions, run.merged / "config.json",
                 run.gguf("q8_0"), run.modelfile, run.checks, run.report, run.record, run.made_from]:
        assert path.is_file(), path
    assert len((made / "data.jsonl").read_text().splitlines()) >= 60
    answers = pd.read_csv(made / "answers.csv", keep_default_na=False)
    assert len(answers) == 2 and (answers["before"] != "").all() and (answers["fine-tuned"] != "").all()
    checks = pd.read_csv(made / "checks.csv", keep_default_na=False)
    if has_llama_cpp(_python_of(finished_run)):  # the GGUF file answered through llama.cpp and ended its turn
        assert (checks["ok"] == "True").all() and (checks["stopped by"] == "stop").all()
    else:  # the wheel's venv, without llama.cpp as on Colab: not checked, and the table says why
        assert (checks["ok"] == "not checked").all() and (checks["stopped by"] == "not run").all()
        assert checks["reply"].str.contains("llama.cpp's Python bindings are not installed").all()
    phases = set(pd.read_csv(made / "emissions.csv")["project_name"])
    assert {"training", "answers", "evaluation"} <= phases
    from huggingface_hub import ModelCard

    card = ModelCard.load(run.adapter / "README.md")  # the whole label travels with the adapters
    assert card.data.base_model == "smollm2-135m-instruct" and card.data.co2_eq_emissions["emissions"] > 0
    assert "from 4 answers" in card.text  # 2 prompts, answered before and after
    html = (made / "report.html").read_text()
    assert "stoic-q8_0.gguf" in html and "Steps of this run" in html and "data:image/png;base64," in html
    assert "energy label" in html and "per 1,000 answers" in html and "from 4 answers" in html
    assert "[train] done" in printed and "Report:" in printed

    out = tmp_path / "run"  # the same command again, on a copy: everything is found, nothing is made again
    shutil.copytree(made, out)
    code, second, err = cli("run", "--out", out, "--steps", "2", "--prompts", "2")
    assert code == 0, err[-3000:]
    for label in ("data", "train", "merge", "gguf q8_0"):
        assert f"[{label}] already there" in second
    assert "generating them again" not in second  # the saved answers were made by the same model
    log = json.loads((out / "run.json").read_text())["log"]
    assert [row["step"] for row in log] == ["data", "train", "evaluate", "merge", "gguf q8_0"]

    # the evaluation alone, on the adapters the run trained
    code, alone, err = cli("eval", out / "adapter", "--out", tmp_path / "eval", "--prompts", "1", "--no-energy")
    assert code == 0, err[-3000:]
    assert (tmp_path / "eval" / "report.html").is_file() and "Stoic score" in alone


def test_every_subcommand_has_help(cli):
    import argparse

    from stoic_workshop.cli import build_parser

    # every subcommand the parser knows, read from the parser itself: a new one cannot be left out
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    assert {"workshop", "train", "run", "export", "eval", "knowledge", "slides", "chat"} <= set(commands)
    for command in commands:
        code, printed, _ = cli(command, "--help")
        assert code == 0 and "usage: stoic-workshop " + command in printed, command
    # and the installed console script itself, once
    done = subprocess.run(["stoic-workshop", "run", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and "usage: stoic-workshop run" in done.stdout
    # an argument error is one line: no library's import-time warning before it (bitsandbytes on AVX512-BF16 CPUs)
    done = subprocess.run(["stoic-workshop", "knowledge", "--arms", "magic"], capture_output=True, text=True)
    assert done.returncode == 1 and done.stderr.strip().splitlines() == [
        "error: unknown arm(s) ['magic']: choose from ['base', 'sft-one', 'sft-many', 'rag', 'sft-rag']"]


def test_a_gguf_file_not_run_says_so_in_words_not_none(tmp_path):
    """Without llama.cpp's bindings the file is written but not run: its row in checks.csv and in the report's table
    says what happened (the report used to show a raw None)."""
    from stoic_workshop.export import Exported, export_all  # noqa: F401  (export_all writes these rows)

    path = RunFolder(tmp_path).gguf("q8_0")
    path.write_bytes(b"GGUF" + bytes(2_000_000))
    row = Exported("q8_0", path, True, None).row()
    assert row["file"] == "stoic-q8_0.gguf" and row["MB"] == 2.0  # 2,000,004 bytes
    assert row["ok"] == "not checked" and "llama.cpp's Python bindings are not installed" in row["reply"]
    assert "None" not in pd.DataFrame([row]).to_html()
