"""The main job, `stoic-workshop run`, end to end on the offline model, and its resume."""

import json
import subprocess

import pandas as pd


def test_run_writes_every_output_into_one_folder_and_a_second_run_resumes(tmp_path):
    out = tmp_path / "run"
    command = ["stoic-workshop", "run", "--out", str(out), "--steps", "3", "--prompts", "2"]
    first = subprocess.run(command, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-3000:]
    for name in ["data.jsonl", "adapter/adapter_config.json", "adapter/adapter_model.safetensors", "loss.png",
                 "answers.csv", "scores.csv", "summary.csv", "scores.png", "forgetting.csv", "emissions.csv",
                 "merged/config.json", "stoic-q8_0.gguf", "Modelfile", "checks.csv", "report.html", "run.json"]:
        assert (out / name).is_file(), name
    assert len((out / "data.jsonl").read_text().splitlines()) >= 60
    answers = pd.read_csv(out / "answers.csv", keep_default_na=False)
    assert len(answers) == 2 and (answers["before"] != "").all() and (answers["fine-tuned"] != "").all()
    checks = pd.read_csv(out / "checks.csv")
    assert checks["ok"].all() and (checks["stopped by"] == "stop").all()
    phases = set(pd.read_csv(out / "emissions.csv")["project_name"])
    assert {"training", "evaluation"} <= phases
    html = (out / "report.html").read_text()
    assert "stoic-q8_0.gguf" in html and "Steps of this run" in html and "data:image/png;base64," in html
    assert "[train] done" in first.stdout and "Report:" in first.stdout

    second = subprocess.run(command, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr[-3000:]
    for label in ("data", "train", "merge", "gguf q8_0"):
        assert f"[{label}] already there" in second.stdout
    assert "generating them again" not in second.stdout  # the saved answers were made by the same model
    log = json.loads((out / "run.json").read_text())["log"]
    assert [row["step"] for row in log] == ["data", "train", "evaluate", "merge", "gguf q8_0"]

    # the evaluation alone, on the adapters the run trained
    alone = subprocess.run(["stoic-workshop", "eval", str(out / "adapter"), "--out", str(tmp_path / "eval"),
                            "--prompts", "1", "--no-energy"], capture_output=True, text=True)
    assert alone.returncode == 0, alone.stderr[-3000:]
    assert (tmp_path / "eval" / "report.html").is_file() and "Stoic score" in alone.stdout


def test_every_subcommand_has_help():
    for command in ("workshop", "models", "prepare", "hardware", "data", "train", "eval", "export", "run",
                    "preflight", "chat"):
        done = subprocess.run(["stoic-workshop", command, "--help"], capture_output=True, text=True)
        assert done.returncode == 0 and "usage: stoic-workshop " + command in done.stdout, command
