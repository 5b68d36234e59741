"""The course notebooks, run the way a Colab attendee runs them: each notebook alone in an empty folder, with the
package installed from the built wheel (not the checkout), through the main job command, on the offline models,
with the exercises' solutions filled in (`--solutions`), so every exercise check runs on its solution. They run at
rehearsal size (`--rehearsal`: the same cells, a few training steps and facts, workshop.REHEARSAL); the full-size
run is bench/course_cpu.py's, whose recorded times and results the notebooks' prose states. The notebooks run in
temporary folders; the executed copies (.ipynb, .html) are kept in runs/ci-notebooks/."""

import json
import os
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

import stoic_workshop as sw
from stoic_workshop.workshop import REHEARSAL

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "01_base_vs_instruct.ipynb"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


class _Table(HTMLParser):
    """Collects the header and body cells of the first HTML table."""

    def __init__(self):
        super().__init__()
        self.rows, self._cell, self._in_table = [], None, False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._in_table = True
        elif tag == "tr" and self._in_table:
            self.rows.append([])
        elif tag in ("td", "th") and self._in_table:
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(self._cell.strip())
            self._cell = None
        elif tag == "table":
            self._in_table = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def _tables(notebook):
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            html = out.get("data", {}).get("text/html")
            if html and "<table" in html:
                parser = _Table()
                parser.feed(html)
                yield [r for r in parser.rows if r]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_is_clean_and_has_colab_badge(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    assert f"colab.research.google.com/github/stoic-workshop/stoic-workshop/blob/main/notebooks/{path.name}" in \
        nb.cells[0].source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_notebook_exercises_have_a_level_a_stub_and_a_solution_the_runner_finds(path):
    """Each "## Your turn! (level)" holds one stub cell (assignments marked # TODO, left undone) and, after it, a
    "Solution and discussion" cell whose ```python block sets the same names: what `--solutions` runs instead."""
    from stoic_workshop.workshop import FILLED, LEVELS, exercises, fill_in_solutions

    nb = nbformat.read(path, as_version=4)
    found = exercises(nb)
    assert found and all(e.problems() == [] for e in found), [e.problems() for e in found]
    assert all(e.level in LEVELS for e in found)
    stubs = [nb.cells[e.stubs[0]].source for e in found]
    assert fill_in_solutions(nb, path.name) == len(found)
    for exercise, stub in zip(found, stubs):
        filled = nb.cells[exercise.stubs[0]].source
        assert filled.startswith(FILLED) and "TODO" not in filled and filled != stub
        compile(filled, path.name, "exec")
    # an executed notebook still shows where each exercise was, now holding its solution (what CI reads back)
    again = exercises(nb)
    assert [e.stubs for e in again] == [e.stubs for e in found] and all(e.problems() == [] for e in again)
    assert not [c for c in nb.cells if c.cell_type == "code" and "# TODO" in c.source]


def test_the_rehearsal_sizes_are_what_the_notebooks_read_and_what_the_docs_state():
    """Each rehearsal variable is read by a notebook's settings cell, with the workshop's size as its default; the
    table in docs/notebooks.md gives that default and the rehearsal value (workshop.REHEARSAL) for each."""
    import re

    import stoic_workshop as sw

    code = {p.stem: "\n".join(c.source for c in nbformat.read(p, as_version=4).cells if c.cell_type == "code")
            for p in NOTEBOOKS}
    read = {m.group(1): (name, m.group(2)) for name, text in code.items()
            for m in re.finditer(r'os\.environ\.get\("(STOIC_\w+)", (\d+)\)', text)}
    assert set(read) == set(REHEARSAL)
    assert read["STOIC_TRAIN_STEPS"] == ("02_finetune", "60") and read["STOIC_KNOWLEDGE_STEPS"][1] == "120"
    assert read["STOIC_EVAL_PROMPTS"] == ("03_evaluation", str(len(sw.eval_prompts())))  # all of them
    docs = (ROOT / "docs" / "notebooks.md").read_text()
    workshop_size = {"STOIC_TRAIN_STEPS": "60", "STOIC_EVAL_PROMPTS": "16", "STOIC_KNOWLEDGE_STEPS": "120",
                     "STOIC_KNOWLEDGE_FACTS": "all 173", "STOIC_CALIBRATION_PER_LABEL": "all 25"}
    for key, value in REHEARSAL.items():
        row = next(line for line in docs.splitlines() if line.startswith(f"| `{key}` |"))
        assert row.split(" | ")[-2:] == [workshop_size[key], f"{value} |"], row
    from stoic_workshop.knowledge import knowledge_facts

    assert len(knowledge_facts()) == 173 and read["STOIC_KNOWLEDGE_FACTS"][1] == "0"  # 0: all of them
    assert read["STOIC_CALIBRATION_PER_LABEL"] == ("03_evaluation", "0")
    assert len((ROOT / "data" / "judge_calibration.jsonl").read_text().splitlines()) == 25


def test_the_times_the_notebooks_state_are_the_full_size_bench_s():
    """Each notebook's "**Time:** about N minutes on a 2-core laptop CPU" is bench/course_cpu.py's full-size run of
    it (bench/results/course_cpu/times.json: the notebook alone, from the installed wheel), in whole minutes. A
    notebook the bench has not run yet says where its time was measured instead, and never claims the bench."""
    import re

    record = json.loads((ROOT / "bench" / "results" / "course_cpu" / "times.json").read_text())
    assert record["machine"]["cores"] == 2
    for path in NOTEBOOKS:
        head = nbformat.read(path, as_version=4).cells[0].source
        if path.stem not in record["seconds"]["full"]:
            assert "bench/course_cpu.py" not in head and "measured in the course's CI" not in head, path.name
            continue
        said = re.search(r"\*\*Time:\*\* about (\d+) minutes? on a 2-core laptop CPU", head)
        assert said, f"{path.name}: no 'about N minutes on a 2-core laptop CPU' in its header"
        assert int(said.group(1)) == max(1, round(record["seconds"]["full"][path.stem] / 60)), path.name
        trained = ROOT / "bench" / "results" / "course_cpu" / "results" / "full" / path.stem / "adapters" / "stoic"
        seconds = None
        if (trained / "trainer_state.json").exists():  # notebook 2's own record (TrainerState.save_to_json)
            state = json.loads((trained / "trainer_state.json").read_text())
            seconds = round(next(e["train_runtime"] for e in state["log_history"] if "train_runtime" in e))
        elif (trained / "training.json").exists():  # finetune's (sw.ensure_adapters in notebooks 3 and 4)
            seconds = round(json.loads((trained / "training.json").read_text())["seconds"])
        if seconds is not None:  # "its 60 training steps take N s" / "60 steps, N s on 2 cores"
            assert f"take {seconds} s of it" in head or f"60 steps, {seconds} s on 2 cores" in head, path.name


def test_the_runner_refuses_an_exercise_it_cannot_fill_in():
    from stoic_workshop.workshop import fill_in_solutions

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("## Your turn!\nWrite MY_X."),
                nbformat.v4.new_code_cell("MY_X = ...  # TODO: a number"),
                nbformat.v4.new_markdown_cell("<details>\n\n```python\nMY_Y = 1\n```\n</details>")]
    with pytest.raises(ValueError, match=r"(?s)cell 0 cannot be filled in: its heading names no level.*its solution "
                                         r"does not set MY_X"):
        fill_in_solutions(nb, "x.ipynb")
    nb.cells[0].source = "## Your turn! (stretch)\nWrite MY_X."
    nb.cells[2].source = "<details>\n\n```python\nMY_X = 42\n```\n</details>"
    assert fill_in_solutions(nb) == 1 and nb.cells[1].source.endswith("MY_X = 42\n")


# Executed copies are kept here (git-ignored): CI keeps them as artifacts, to open and read after a run. The
# notebooks themselves run in temporary folders, each alone in <folder>/<its name>/, as Colab opens it from its badge.
ARTIFACTS = ROOT / "runs" / "ci-notebooks"


def _wheel_venv() -> Path | None:
    """The venv with the built wheel installed (not editable), as .ci/run makes it: $STOIC_WHEEL_VENV."""
    venv = os.environ.get("STOIC_WHEEL_VENV")
    if not venv and os.environ.get("CI"):
        pytest.fail("CI runs the notebooks from the built wheel: .ci/run sets STOIC_WHEEL_VENV to its venv")
    return Path(venv) if venv else None


def _run_alone(out: Path, names=(), cwd=None):
    """`stoic-workshop workshop --alone --solutions --rehearsal --out OUT` from the wheel's venv (else this
    environment), from an empty folder."""
    venv = _wheel_venv()
    command = [str(venv / "bin" / "stoic-workshop")] if venv else [sys.executable, "-m", "stoic_workshop.cli"]
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    run = subprocess.run([*command, "workshop", "--alone", "--solutions", "--rehearsal", "--out", str(out), *names],
                         capture_output=True, text=True, cwd=cwd, env=env)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]


def _keep(work: Path, into: str, names) -> Path:
    """Copy the executed notebooks (.ipynb + .html) out of their working folders in `work` into ARTIFACTS/`into`."""
    out = ARTIFACTS / into
    out.mkdir(parents=True, exist_ok=True)
    for name in names:
        for suffix in (".ipynb", ".html"):
            shutil.copyfile(work / Path(name).stem / Path(name).with_suffix(suffix).name,
                            out / Path(name).with_suffix(suffix).name)
    return out


def _alone(stem: str):
    """The marks of a test that reads notebook `stem`'s run: spread over several processes (pytest -n, as CI does),
    each notebook runs once, on one process, with every test that reads it."""
    return pytest.mark.xdist_group(stem)


def _each(stems=None):
    """Parameters for a test run once per notebook (or per notebook in `stems`), each in that notebook's group."""
    return [pytest.param(p.stem, id=p.name, marks=_alone(p.stem)) for p in NOTEBOOKS if not stems or p.stem in stems]


@pytest.fixture(scope="session")
def work(tmp_path_factory) -> Path:
    """The first run's working folder: <work>/<notebook name>/ holds what each notebook wrote."""
    return tmp_path_factory.mktemp("first-run")


@pytest.fixture(scope="session")
def executed(work, tmp_path_factory):
    """`executed("03_evaluation")` -> that notebook's executed copy: run alone in <work>/03_evaluation/ from an
    empty folder, once in this session, the first time a test asks for it."""
    done: dict[str, Path] = {}

    def run(stem: str):
        if stem not in done:
            for suffix in (".ipynb", ".html"):  # an earlier session's copy must not pass for this one's
                (ARTIFACTS / "first-run" / f"{stem}{suffix}").unlink(missing_ok=True)
            _run_alone(work, [f"{stem}.ipynb"], cwd=tmp_path_factory.mktemp("empty"))
            done[stem] = _keep(work, "first-run", [f"{stem}.ipynb"]) / f"{stem}.ipynb"
        return nbformat.read(done[stem], as_version=4)

    return run


@pytest.mark.parametrize("stem", _each())
def test_notebooks_ran_alone_on_the_installed_package(executed, work, stem):
    """Each notebook found only itself in its folder, and its kernel imported the installed package."""
    printed = _printed(executed(stem))
    assert "stoic-workshop 0.1.0 is already installed: nothing to do." in printed  # the install cell, run again
    if stem in ("03_evaluation", "04_deploy"):  # no notebook 2 beside them: they trained their own adapters
        assert "No adapters in adapters/stoic yet" in printed and "Saved the adapters in adapters/stoic" in printed
    venv = _wheel_venv()
    if venv:  # the kernel is this venv's python started in the notebook's folder: what does it import there?
        where = subprocess.run([str(venv / "bin" / "python"), "-c", "import stoic_workshop as s; print(s.__file__)"],
                               capture_output=True, text=True, cwd=work / stem, env={"PATH": "/usr/bin:/bin"})
        assert where.returncode == 0, where.stderr
        assert Path(where.stdout.strip()).is_relative_to(venv) and "site-packages" in where.stdout


@pytest.mark.parametrize("stem", _each())
def test_main_job_writes_every_executed_notebook_without_errors(executed, stem):
    from stoic_workshop.workshop import FILLED, exercises

    nb = executed(stem)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    assert all(nb.cells[e.stubs[0]].source.startswith(FILLED) for e in exercises(nb))  # run on the solutions
    assert "not done yet" not in _printed(nb).lower()
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code")
    assert (ARTIFACTS / "first-run" / f"{stem}.html").stat().st_size > 10_000


def _printed(nb) -> str:
    return "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))


@_alone("02_finetune")
def test_data_notebook_checks_shows_and_plots(executed):
    nb = executed("02_finetune")
    printed = _printed(nb)
    assert "row 0: messages[0].role: expected one of system, user, assistant, got 'human'" in printed
    assert "✅ Well done: 2 pairs" in printed  # the exercise's check cell passed
    # row 0 as TRL's SFTTrainer tokenized it: the prompt masked, then the reply, its end of turn and line break
    assert "[░░░ masked: " in printed and "quiet evening of thought.<|im_end|>\n" in printed
    reports = [o["data"]["text/plain"] for c in nb.cells for o in c.get("outputs", []) if "data" in o
               and "pass every check" in o["data"].get("text/plain", "")]
    assert reports[0].startswith("90 conversations pass every check")
    assert reports[1].startswith("92 conversations pass every check")  # 90 + the learner's 2
    assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))


@_alone("02_finetune")
def test_finetune_notebook_trains_plots_measures_and_saves(executed, work):
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    nb = executed("02_finetune")
    printed = _printed(nb)
    assert "trained with transformers + PEFT + TRL" in printed  # the CPU route, in the libraries' own calls
    assert "trainable params: 4,884,480 || all params: 139,399,488 || trainable%: 3.5039" in printed  # r=16, all 7
    assert "Well done. Trainable share: 3.50%" in printed  # the LoRA exercise's check passed
    assert "memory in use: " in printed and " GiB of RAM" in printed  # after training, from psutil
    summary = next(o["data"]["text/plain"] for c in nb.cells for o in c.get("outputs", [])
                   if "Energy per phase" in o.get("data", {}).get("text/plain", ""))
    assert "training:" in summary  # sw.EnergyCallback measured trainer.train()
    folder = work / "02_finetune" / "adapters" / "stoic"
    record = json.loads((folder / "trainer_state.json").read_text())  # TrainerState.save_to_json, the notebook's
    steps = int(REHEARSAL["STOIC_TRAIN_STEPS"])
    assert record["global_step"] == steps  # the rehearsal size reached the notebook
    losses = [e["loss"] for e in record["log_history"] if "loss" in e]
    assert len(losses) == steps and losses[-1] < losses[0]  # it learned: the trainer's own record
    assert f"{steps} steps in " in printed
    base = AutoModelForCausalLM.from_pretrained(sw.model_folder("smollm2-135m-instruct"))
    assert isinstance(PeftModel.from_pretrained(base, folder), PeftModel)  # a standard PEFT folder
    figures = [o for c in nb.cells for o in c.get("outputs", []) if "image/png" in o.get("data", {})]
    assert len(figures) >= 3  # token lengths, loss curve, energy


@_alone(NOTEBOOK.stem)
def test_both_models_answer_every_prompt_side_by_side(executed):
    nb = executed(NOTEBOOK.stem)
    table, mine = list(_tables(nb))  # the six prompts, then the learner's own prompt
    header, *rows = table
    assert header == ["Prompt", "Base: gemma-3-270m", "Instruct: smollm2-135m-instruct"]
    assert len(rows) == 6 and len(mine) == 2
    for prompt, base, instruct in rows + mine[1:]:
        assert prompt and base and instruct
        assert base != instruct
        assert "<|im_" not in instruct and "<end_of_turn>" not in instruct  # stopped at end of turn
    # The base model was given raw text and the instruct model its chat template:
    printed = _printed(nb)
    assert "✅ Well done: your complaint is" in printed  # the exercise's check cell passed
    assert "<|im_start|>user\nI've been stuck in traffic" in printed
    assert "Models: base=gemma-3-270m, instruct=smollm2-135m-instruct" in printed
    # loaded with transformers' own calls, in the dtype the settings cell chose for a CPU:
    assert "smollm2-135m-instruct: 135 M parameters in torch.float32, on cpu" in printed
    assert "gemma-3-270m: 268 M parameters in torch.float32, on cpu" in printed


def test_a_failing_cell_keeps_the_executed_copy(tmp_path):
    from stoic_workshop.workshop import run_notebook

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("answer = 6 * 7\nprint(answer)"),
                nbformat.v4.new_code_cell("1 / 0"), nbformat.v4.new_code_cell("print('never')")]
    source = tmp_path / "broken.ipynb"
    nbformat.write(nb, source)
    with pytest.raises(RuntimeError, match=r"broken.ipynb failed; the executed copy with the error is at"):
        run_notebook(source, tmp_path / "out")
    kept = nbformat.read(tmp_path / "out" / "broken.ipynb", as_version=4)
    assert kept.cells[0].outputs[0]["text"] == "42\n"  # work done before the error is kept
    assert kept.cells[1].outputs[0]["ename"] == "ZeroDivisionError"
    assert kept.cells[2].outputs == []


@_alone("03_evaluation")
def test_evaluation_notebook_scores_judges_checks_forgetting_and_reports(executed, work, has_llama_cpp):
    import pandas as pd

    nb = executed("03_evaluation")
    printed = _printed(nb)
    # The offline default judge: llama.cpp's server where its bindings are installed (requirements-dev.txt), else the
    # model itself through transformers, as for an attendee (the `offline` and `colab` profiles have no llama.cpp).
    venv = _wheel_venv()  # the Python that runs the notebooks
    judge = ("on a local llama.cpp server (offline default" if has_llama_cpp(str(venv / "bin" / "python") if venv else
                                                                             sys.executable) else
             "in this process (transformers), adapters off")
    assert f"Judge: smollm2-135m-instruct {judge}" in printed
    # one answer made with apply_chat_template and the model's own generate is the one sw.answers saved
    assert "The same as the table's answer: True" in printed
    assert "Well done: you added 'calm', 'serene', 'serenity'" in printed  # the lexicon exercise's check
    assert "Well done: you added 'actionable'" in printed                     # the rubric exercise's check
    assert "agreement (stoic ranked above non-stoic, 0.5 = chance)" in printed
    folder = work / "03_evaluation" / "eval"
    table = pd.read_csv(folder / "answers.csv", keep_default_na=False)
    assert len(table) == int(REHEARSAL["STOIC_EVAL_PROMPTS"])  # the rehearsal size reached the notebook
    assert (table["before"] != "").all() and (table["fine-tuned"] != "").all()
    assert (table["before"] != table["fine-tuned"]).mean() > 0.5  # the adapters changed the answers
    assert not table["fine-tuned"].str.contains("<|im_end|>", regex=False).any()
    # The verdict file keeps every pair ever judged (a rerun after retraining appends); this run's 16 are in it.
    pairs = [json.loads(line) for line in (folder / "pairwise.jsonl").read_text().splitlines()]
    current = {(r["prompt"], r["before"], r["fine-tuned"]) for r in table.to_dict("records")}
    judged = {(p["complaint"], *sorted([p["answer_a"], p["answer_b"]])) for p in pairs}
    assert {(c, *sorted([b, f])) for c, b, f in current} <= judged
    assert all(p["winner"] in ("before", "fine-tuned", "tie", "inconsistent", None) for p in pairs)
    html = (folder / "report.html").read_text()
    assert "<mark>" in html and "data:image/png;base64," in html and "Forgetting" in html
    assert '<mark class="quote-unverified">quotations that are invented' in html  # the legend of the colours
    tables = list(_tables(nb))
    # DataFrames render with their index as the first column
    summary = next(t for t in tables if t[0][1:3] == ["metric", "before"])
    assert [row[1] for row in summary[1:5]] == [
        "Stoic score (ideas per 100 words)", "Meaning score (Stoic minus generic similarity)",
        "Invented quotations (share of answers)", "Name-drops per answer"]
    forgetting = next(t for t in tables if t[0][1:] == ["model", "perplexity", "change %"])
    assert [row[1] for row in forgetting[1:]] == ["before", "fine-tuned"]
    assert forgetting[1][3] == "0.0"
    assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    # energy against quality: the shipped sweep's chart, its sentence and its frontier, from the installed package
    sweep = next(c for c in nb.cells if c.get("id") == "c33b")
    assert any("image/png" in o.get("data", {}) for o in sweep.outputs)
    import stoic_workshop as sw

    assert sw.sweep_takeaway(sw.course_sweep()) in printed
    frontier = next(t for t in tables if t[0][1:4] == ["model", "lora_r", "steps"])
    assert len(frontier) - 1 == int(sw.course_sweep()["on_frontier"].sum())


@_alone("04_deploy")
def test_deploy_notebook_merges_exports_runs_and_writes_a_modelfile(executed, work):
    nb = executed("04_deploy")
    printed = _printed(nb)
    folder = work / "04_deploy" / "deploy"
    gguf = folder / "stoic-q8_0.gguf"
    with open(gguf, "rb") as f:
        assert f.read(4) == b"GGUF"
    assert (folder / "merged" / "config.json").is_file()
    assert "Model successfully exported to deploy/stoic-q8_0.gguf" in printed  # llama.cpp's converter, as typed
    llama = next(c for c in nb.cells if c.cell_type == "code" and "Llama(model_path=" in c.source)
    said = "".join(o.get("text", "") for o in llama.outputs)
    bindings = subprocess.run([str(_wheel_venv() / "bin" / "python") if _wheel_venv() else sys.executable, "-c",
                               "import llama_cpp"], capture_output=True).returncode == 0
    assert ("not installed here" in said) != bindings and said.strip()  # llama.cpp's answer, or why there is none
    check = next(line for line in printed.splitlines() if line.startswith("stoic-q8_0.gguf:"))
    assert ", OK (" in check
    assert "stopped by: end of turn '<|im_end|>'" in printed
    agree = int(printed.split("first 8 greedy tokens equal to the merged model's: ")[1].split()[0])
    assert agree >= 1  # measured 8 of 8 for Q8_0; any drift from the merged model shows here
    sizes = next(t for t in _tables(nb) if t[0][1:] == ["what", "path", "MB"])
    mb = {row[1]: float(row[3]) for row in sizes[1:]}
    assert mb["adapters"] < mb["GGUF q8_0"] < mb["merged (16-bit)"]
    modelfile = (folder / "Modelfile").read_text()
    assert modelfile.startswith("FROM ./stoic-q8_0.gguf") and 'SYSTEM """You are a Stoic teacher' in modelfile
    assert "✅ Well done: deploy/Modelfile points at stoic-q8_0.gguf" in printed  # the exercise's check
    assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))


@pytest.mark.parametrize("stem", _each({"03_evaluation", "04_deploy"}))
def test_running_a_notebook_again_continues_from_what_is_on_disk(executed, work, tmp_path, stem):
    """A learner runs notebooks 3 and 4 a second time (or after a restart): they work, and nothing is redone that a
    first run already finished: they use the adapters they trained, and notebook 3 reuses its answers and verdicts,
    neither generated nor judged again. The second run works on a copy of the first run's folder, so the first
    run's stays as the other tests read it. (Notebook 2 run again trains again from step 0, as it says:
    test_train.py shows that on a tiny model, without a second 8-step training here.)"""
    executed(stem)
    second = tmp_path / "second-run"
    shutil.copytree(work / stem, second / stem, symlinks=True)
    folder = second / stem / "eval"
    answers = (folder / "answers.csv").read_text() if stem == "03_evaluation" else None
    verdicts = {f.name: len(f.read_text().splitlines()) for f in folder.glob("*.jsonl")}
    empty = tmp_path / "empty"
    empty.mkdir()
    _run_alone(second, [f"{stem}.ipynb"], cwd=empty)  # fails, naming the cell, if any cell fails
    printed = _printed(nbformat.read(_keep(second, "second-run", [f"{stem}.ipynb"]) / f"{stem}.ipynb", as_version=4))
    assert "Adapters found in adapters/stoic: using them." in printed  # not trained a second time
    if stem == "03_evaluation":
        assert "generating them again" not in printed
        assert (folder / "answers.csv").read_text() == answers
        assert {f.name: len(f.read_text().splitlines()) for f in folder.glob("*.jsonl")} == verdicts


@_alone("05_knowledge")
def test_knowledge_notebook_measures_five_arms_and_reads_their_answers(executed, work):
    import pandas as pd

    from stoic_workshop import knowledge as K

    nb = executed("05_knowledge")
    printed = _printed(nb)
    # the open-book prompt built by hand, in transformers' calls, is the one sw.ask builds for the comparison
    assert "The same as sw.ask's, which the comparison uses: True" in printed
    assert "173 facts. One of them:" in printed and "Which student recorded the Discourses" in printed
    assert "✅ Well done: a new question" in printed  # the exercise's check
    folder = work / "05_knowledge" / "knowledge"
    table = pd.read_csv(folder / "knowledge.csv")
    assert list(table.arm) == ["guess", "base", "sft-one", "sft-many", "rag", "sft-rag"]
    facts, steps = int(REHEARSAL["STOIC_KNOWLEDGE_FACTS"]), int(REHEARSAL["STOIC_KNOWLEDGE_STEPS"])
    assert (table.questions == facts).all() and (table["unknown questions"] == 12).all()
    for arm in ("sft-one", "sft-many", "sft-rag"):
        assert (folder / arm / "adapter" / "adapter_config.json").is_file()
        record = json.loads((folder / arm / "adapter" / "training.json").read_text())
        assert record["steps"] == steps                     # the notebook's STEPS, the same for every SFT arm
    shown = [t for t in _tables(nb) if t and t[0][:2] == ["", "arm"]]
    assert shown and [row[1] for row in shown[0][1:]] == list(table.arm)
    assert any("image/png" in o.get("data", {}) for c in nb.cells for o in c.get("outputs", []))
    for column in ("accuracy", "accuracy low", "accuracy high", "abstention", "perplexity change %", "kWh",
                   "seconds"):
        assert column in table.columns
    assert (table["accuracy low"] <= table["accuracy"]).all() and (table["accuracy"] <= table["accuracy high"]).all()
    assert table.loc[table.arm == "base", "perplexity change %"].iloc[0] == 0
    assert table.loc[table.arm == "rag", "perplexity change %"].iloc[0] == 0     # same weights as the base
    answers = pd.read_csv(folder / "answers.csv")
    unknown, seen = len(K.unknown_questions()), len(range(0, facts, K.SEEN_EVERY))  # the trained phrasing of some
    assert len(answers) == 5 * (facts + unknown + seen) + facts + unknown          # five arms, and the guess
    assert set(answers[answers.kind == "trained"].arm) == set(K.ARMS)
    assert answers[answers.arm == "rag"].retrieved.dropna().all()
    for arm in ("sft-one", "sft-many", "sft-rag"):
        config = json.loads((folder / arm / "adapter" / "adapter_config.json").read_text())
        assert config["peft_type"] == "LORA" and (folder / arm / "adapter" / "adapter_model.safetensors").is_file()
    assert (folder / "knowledge.png").stat().st_size > 10_000


@_alone("05_knowledge")
def test_the_knowledge_command_continues_what_notebook_5_measured(executed, work, cli, tmp_path):
    """`stoic-workshop knowledge` and notebook 5 are one experiment: given the notebook's settings, the command finds
    the five arms measured and keeps them, and writes the same table; other settings measure an arm again."""
    import pandas as pd

    executed("05_knowledge")
    out = tmp_path / "knowledge"
    shutil.copytree(work / "05_knowledge" / "knowledge", out)
    table = pd.read_csv(out / "knowledge.csv")
    same = ["knowledge", "--out", out, "--steps", REHEARSAL["STOIC_KNOWLEDGE_STEPS"], "--k", "3",
            "--facts", REHEARSAL["STOIC_KNOWLEDGE_FACTS"], "--no-energy"]
    code, again, err = cli(*same)
    assert code == 0 and again.count("measured already") == 5, again[-2000:] + err[-2000:]
    pd.testing.assert_frame_equal(pd.read_csv(out / "knowledge.csv"), table)
    other_k_args = [*same]
    other_k_args[other_k_args.index("--k") + 1] = "2"  # k: retrieval only
    code, other_k, err = cli(*other_k_args, "--arms", "base")
    assert code == 0 and "base: measured already" in other_k, err[-2000:]
    code, other, err = cli(*same[:-3], "--facts", "5", "--no-energy", "--arms", "base")
    assert code == 0 and "measured with other settings; measuring again" in other, err[-2000:]
    assert list(pd.read_csv(out / "knowledge.csv").arm) == ["guess", "base"]
