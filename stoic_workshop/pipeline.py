"""The whole workshop in one call: data -> train -> evaluate -> export, into one folder with stable names.

    stoic-workshop run --out stoic-run      (or `stoic_workshop.pipeline.run("stoic-run")`)

Every step writes its output before the next starts, and `made_from.json` records what each output was made
from: a fingerprint of its inputs (the adapter's bytes for the evaluation and the merge, the merged weights for
a GGUF file, the prompts). A second run into the same folder skips a step whose output is there and whose inputs
are unchanged, and redoes, saying why, one whose inputs changed (train 4 steps after 3: the evaluation, merged
model and GGUF are made again from the new adapter). So a rerun continues where the first stopped (a crash,
Ctrl-C, a Colab disconnect) instead of starting over. Training resumes from its last checkpoint.

    data.jsonl  adapter/  loss.png  answers.csv  scores.csv  summary.csv  scores.png  forgetting.csv
    emissions.csv  merged/  stoic-q8_0.gguf  Modelfile  checks.csv  report.html  run.json  made_from.json

While a run works, `run.lock` names its process: a second run into the same folder says who holds it and stops.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import socket
import time
from pathlib import Path

from .files import writable_folder

__all__ = ["run", "pick_questions"]

MADE_FROM = "made_from.json"  # {step: the fingerprints of the inputs its output was made from}
EVALUATION = ("answers.csv", "scores.csv", "summary.csv", "forgetting.csv", "scores.png")
SKIPPED, DONE, REDONE = "already there", "done", "redone"


def pick_questions(prompts: int | None = None) -> list[str]:
    """The first `prompts` held-out complaints to evaluate on, all 16 with None: `pick_questions(2)`."""
    from .data import eval_prompts

    questions = eval_prompts()
    if prompts is None:
        return questions
    if isinstance(prompts, bool) or not isinstance(prompts, int) or not 1 <= prompts <= len(questions):
        raise ValueError(f"prompts must be 1..{len(questions)} (how many held-out complaints to evaluate on), "
                         f"got {prompts!r}: leave it out to use all {len(questions)}.")
    return questions[:prompts]


def _check_arguments(model: str | None, steps: int, quants: tuple[str, ...]) -> None:
    """Refuse bad arguments before anything is written or loaded (the prompts: `pick_questions`)."""
    from .export import QUANTS
    from .models import _resolve

    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a whole number of at least 1 (optimizer steps to train), got {steps!r}: "
                         "e.g. 60, the workshop's default.")
    unknown = [q for q in quants if q not in QUANTS]
    if not quants or unknown:
        raise ValueError(f"quants must name one or more of {', '.join(QUANTS)}, got {list(quants)!r}.")
    if model is not None:
        _resolve(model)  # an unknown preset name: ValueError with the known ones


def _fingerprint(*inputs: Path | str) -> str:
    """A short sha1 of files' bytes (a folder: all its files, by path) and of strings: what an output is made from."""
    digest = hashlib.sha1()
    for item in inputs:
        if isinstance(item, str):
            digest.update(item.encode())
            continue
        for file in sorted(item.rglob("*")) if item.is_dir() else [item]:
            if file.is_file():
                digest.update(str(file.relative_to(item) if item.is_dir() else file.name).encode())
                with open(file, "rb") as handle:  # in 16 MB pieces: a merged 2B model is 5 GB
                    for piece in iter(lambda: handle.read(1 << 24), b""):
                        digest.update(piece)
    return digest.hexdigest()[:16]


def _status(out: Path, label: str, inputs: dict, *outputs: Path) -> str:
    """SKIPPED when every output is there and `made_from.json` says it was made from `inputs`, else DONE or REDONE.

    A redo is announced in one line with the reason, before the (perhaps long) work starts.
    """
    if not all(path.exists() for path in outputs):
        return DONE
    made = _made_from(out).get(label)
    if made == inputs:
        return SKIPPED
    changed = [key for key in inputs if made and made.get(key) != inputs[key]]
    why = f"its {' and '.join(changed)} changed" if changed else f"{MADE_FROM} does not say what it was made from"
    print(f"[{label}] {outputs[0].name} is out of date ({why}): making it again.", flush=True)
    return REDONE


def _made_from(out: Path) -> dict:
    path = out / MADE_FROM
    return json.loads(path.read_text()) if path.is_file() else {}


def _remember(out: Path, label: str, inputs: dict) -> None:
    """Record what `label`'s output was made from; only once it is complete, so a crash leaves it to be redone."""
    part = out / (MADE_FROM + ".part")
    part.write_text(json.dumps(_made_from(out) | {label: inputs}, indent=1))
    os.replace(part, out / MADE_FROM)


def _trained(adapter: Path, steps: int) -> bool:
    record = adapter / "training.json"
    return record.is_file() and json.loads(record.read_text()).get("steps", 0) >= steps


def evaluate(tuned, tokenizer, out: Path, questions: list[str], meter, *, progress: bool = True):
    """Answers before (adapters off) and after, scores with intervals, the forgetting check; all saved in `out`."""
    import matplotlib.pyplot as plt

    from .evaluate import answers, forgetting, plot_scores, score_answers, summary

    out = Path(out)
    with meter.phase("evaluation"):
        with tuned.disable_adapter():
            answers(tuned, tokenizer, questions, name="before", out=out / "answers.csv", progress=progress)
        table = answers(tuned, tokenizer, questions, name="fine-tuned", out=out / "answers.csv", progress=progress)
        scored = score_answers(table)
        summary_table = summary(scored)
        forgot = forgetting(tuned, tokenizer)
    scored.to_csv(out / "scores.csv", index=False)
    summary_table.to_csv(out / "summary.csv", index=False)
    forgot.to_csv(out / "forgetting.csv", index=False)
    plt.close(plot_scores(scored, out / "scores.png"))
    return scored, summary_table, forgot


def _read_evaluation(out: Path):
    """The tables `evaluate` saved in `out`, for a rerun whose evaluation is up to date."""
    import pandas as pd

    scored = pd.read_csv(out / "scores.csv")
    for column in ("prompt", "answer"):
        scored[column] = scored[column].fillna("")
    return scored, pd.read_csv(out / "summary.csv", keep_default_na=False), pd.read_csv(out / "forgetting.csv")


def run(out: str | os.PathLike = "stoic-run", *, model: str | None = None, steps: int = 60,
        quants: tuple[str, ...] = ("q8_0",), prompts: int | None = None, name: str = "stoic",
        energy: bool = True, progress: bool = True):
    """Run the workshop end to end on `model` (default: the instruct model `pick_models` chooses) into `out`.

    `prompts` limits the evaluation to the first n held-out complaints (1..16; all 16 by default).
    Returns the summary of steps as a DataFrame (also printed, and kept in `run.json`). Raises RuntimeError at
    the end, once everything is written, when an exported file failed its check (`checks.csv` says why).
    """
    questions = pick_questions(prompts)
    _check_arguments(model, steps, quants)
    out = writable_folder(out)  # a read-only or impossible folder is said before any work
    with _lock(out):  # one run per folder: a second one says who holds it and stops, before any work
        return _run(out, questions, model=model, steps=steps, quants=quants, name=name, energy=energy,
                    progress=progress)


LOCK = "run.lock"


@contextlib.contextmanager
def _lock(out: Path):
    """Hold `out` for this run: `out`/run.lock names this process until the run ends (or fails).

    Two runs into one folder duplicated all the work and one crashed in merge. A lock left by a run that was
    killed (its process is gone) is taken over, and said so.
    """
    path = out / LOCK
    me = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.strftime("%Y-%m-%d %H:%M:%S")}
    while True:
        try:
            handle = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            holder = _holder(path)
            if holder.get("host") != me["host"] or _alive(holder.get("pid")):
                raise RuntimeError(
                    f"{out} is in use by another run (pid {holder.get('pid', '?')} on {holder.get('host', '?')}, "
                    f"started {holder.get('started', '?')}): wait for it to finish, or pass another --out. If no "
                    f"run is going on, delete {path}.") from None
            print(f"{path}: left by a run that no longer runs (pid {holder.get('pid')}): taking it over.")
            path.unlink(missing_ok=True)
    with os.fdopen(handle, "w") as f:
        json.dump(me, f)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


def _holder(path: Path) -> dict:
    """Who holds a lock; a lock being written this instant reads as held by this host's process 0 (alive)."""
    try:
        found = json.loads(path.read_text())
        return found if isinstance(found, dict) else {}
    except (OSError, ValueError):
        return {"host": socket.gethostname(), "pid": 0, "started": "just now"}


def _alive(pid) -> bool:
    """Whether a process of this machine runs under `pid` (0: unknown, taken as alive)."""
    if not isinstance(pid, int) or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def _run(out: Path, questions: list[str], *, model, steps, quants, name, energy, progress):
    import importlib.util

    import pandas as pd

    from .dataset import load_pairs, make_dataset, save_jsonl
    from .energy import Energy
    from .evaluate import report
    from .export import LLAMA_CPP_PYTHON, merge, modelfile, to_gguf, verify
    from .models import load_adapters, load_model, pick_models
    from .train import finetune, learning_rate_for

    model_name = model or pick_models()[1]
    meter = Energy(output_dir=str(out), enabled=energy)
    steps_done: list[dict] = []

    def step(label: str, output: Path, status: str, start: float) -> None:
        row = {"step": label, "output": output.name, "seconds": round(time.time() - start, 1), "status": status}
        steps_done.append(row)
        print(f"[{label}] {status} ({row['seconds']:.0f} s) -> {output}", flush=True)

    # 1. data
    t = time.time()
    data_file = out / "data.jsonl"
    ready = data_file.is_file()
    if not ready:
        save_jsonl(make_dataset(), data_file)
    dataset = load_pairs(data_file)
    step("data", data_file, SKIPPED if ready else DONE, t)

    # 2. training (resumes from checkpoints in adapter/)
    t = time.time()
    adapter = out / "adapter"
    base, tokenizer = load_model(model_name, verbose=progress)
    ready = _trained(adapter, steps)
    if not ready:
        finetune(base, tokenizer, dataset, adapter, resume=True, max_steps=steps,
                 learning_rate=learning_rate_for(base), energy=meter if energy else False, progress=progress)
        # Evaluate a fresh load, not the training copy (on a CPU its frozen base may be bf16): the same model a
        # resumed run gets, so saved answers are reused rather than made again.
        del base
        base, tokenizer = load_model(model_name, verbose=False)
    if (adapter / "loss.png").is_file():
        shutil.copyfile(adapter / "loss.png", out / "loss.png")
    step("train", adapter, SKIPPED if ready else DONE, t)
    trained = _fingerprint(adapter / "adapter_model.safetensors", adapter / "adapter_config.json")

    # 3. evaluation, redone when the adapter or the prompts changed (answers are saved after every batch and reused)
    t = time.time()
    inputs = {"adapter": trained, "prompts": _fingerprint("\n".join(questions))}
    status = _status(out, "evaluate", inputs, *(out / f for f in EVALUATION))
    if status == SKIPPED:
        scored, summary_table, forgot = _read_evaluation(out)
    else:
        tuned = load_adapters(base, adapter)
        scored, summary_table, forgot = evaluate(tuned, tokenizer, out, questions, meter, progress=progress)
        _remember(out, "evaluate", inputs)
    step("evaluate", out / "summary.csv", status, t)

    # 4. export: merged folder (from the adapter), GGUF file(s) (from the merged weights), Modelfile, a run of each
    t = time.time()
    merged = out / "merged"
    inputs = {"adapter": trained}
    status = _status(out, "merge", inputs, merged / "merged.json")
    if status != SKIPPED:
        merge(adapter, merged)
        _remember(out, "merge", inputs)
    step("merge", merged, status, t)
    inputs = {"merged model": _fingerprint(merged)}
    checks, failed = [], []
    can_run = importlib.util.find_spec("llama_cpp") is not None
    if not can_run:
        print("llama-cpp-python is not installed: the GGUF files are written but not run "
              f"(pip install llama-cpp-python=={LLAMA_CPP_PYTHON}).")
    for quant in quants:
        t = time.time()
        gguf = out / f"{name}-{quant}.gguf"
        status = _status(out, f"gguf {quant}", inputs, gguf)
        if status != SKIPPED:
            to_gguf(merged, gguf, quant=quant)
            _remember(out, f"gguf {quant}", inputs)
        if can_run:  # every run checks the files again: the check is the proof the file works
            check = verify(gguf, questions[0], merged=merged if quant in ("f16", "q8_0") else None,
                           with_transformers=False)
            print(check)
            failed += [] if check.ok else [gguf.name]
            checks.append({"file": gguf.name, "MB": round(check.size_mb, 1), "ok": check.ok,
                           "stopped by": check.stop, "same first tokens": check.agree, "reply": check.reply[:300],
                           "why it failed": " ".join(check.problems)})
        else:
            checks.append({"file": gguf.name, "MB": round(gguf.stat().st_size / 1e6, 1), "ok": None,
                           "stopped by": "not run", "same first tokens": None,
                           "reply": "install llama-cpp-python to run and check the file", "why it failed": ""})
        step(f"gguf {quant}", gguf, status, t)
    pd.DataFrame(checks).to_csv(out / "checks.csv", index=False)
    modelfile(out / f"{name}-{quants[0]}.gguf", tokenizer, name=name)

    # 5. one report
    sizes = pd.DataFrame([{"what": "adapters (adapter_model.safetensors)",
                           "MB": round((adapter / "adapter_model.safetensors").stat().st_size / 1e6, 1)},
                          {"what": "merged model (16-bit)",
                           "MB": round(sum(f.stat().st_size for f in merged.glob("*.safetensors")) / 1e6, 1)}]
                         + [{"what": c["file"], "MB": c["MB"]} for c in checks])
    report(out / "report.html", scored, summary_table=summary_table, forgetting_table=forgot,
           energy=meter if energy else None, title=f"Stoic fine-tune of {model_name}",
           extra={"Exported files, run in llama.cpp": pd.DataFrame(checks), "Sizes": sizes,
                  "Steps of this run": pd.DataFrame(steps_done)})
    table = pd.DataFrame(steps_done)
    (out / "run.json").write_text(json.dumps({"model": model_name, "steps": steps, "quants": list(quants),
                                              "failed checks": failed, "log": steps_done}, indent=1))
    print("\n" + table.to_string(index=False))
    print(f"\nReport: {out / 'report.html'}")
    if failed:
        raise RuntimeError(f"the check of {', '.join(failed)} failed (see 'why it failed' above and in "
                           f"{out / 'checks.csv'}); every other output is written to {out}.")
    return table
