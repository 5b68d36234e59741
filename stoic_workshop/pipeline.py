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

(`files.RunFolder` names them.) It trains by the same recipe as `stoic-workshop train` and notebook 2:
`StoicConfig(output_dir=<out>/adapter, max_steps=steps)`, the learning rate picked from the model's size.

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

from .folders import RunFolder, writable_folder

__all__ = ["run", "pick_questions"]

SKIPPED, DONE, REDONE = "already there", "done", "redone"


def pick_questions(prompts: int | None = None) -> list[str]:
    """The first `prompts` held-out complaints to evaluate on, all 16 with None: `pick_questions(2)`."""
    from .stoic_data import eval_prompts

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
    from .models import resolve_model

    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a whole number of at least 1 (optimizer steps to train), got {steps!r}: "
                         "e.g. 60, the workshop's default.")
    unknown = [q for q in quants if q not in QUANTS]
    if not quants or unknown:
        raise ValueError(f"quants must name one or more of {', '.join(QUANTS)}, got {list(quants)!r}.")
    if model is not None:
        resolve_model(model)  # an unknown preset name: ValueError with the known ones


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
    why = f"its {' and '.join(changed)} changed" if changed else "made_from.json does not say what it was made from"
    print(f"[{label}] {outputs[0].name} is out of date ({why}): making it again.", flush=True)
    return REDONE


def _made_from(out: Path) -> dict:
    path = RunFolder(out).made_from
    return json.loads(path.read_text()) if path.is_file() else {}


def _remember(out: Path, label: str, inputs: dict) -> None:
    """Record what `label`'s output was made from; only once it is complete, so a crash leaves it to be redone."""
    path = RunFolder(out).made_from
    part = path.with_name(path.name + ".part")
    part.write_text(json.dumps(_made_from(out) | {label: inputs}, indent=1))
    os.replace(part, path)


def _check_trained_on(adapter: Path, model_name: str) -> None:
    """Refuse a run whose adapters, or their checkpoints, were trained on another model than the one asked."""
    from .models import portable_base, same_base, trained_on
    from .train import last_checkpoint

    for folder in (adapter, last_checkpoint(adapter)):
        recorded = trained_on(folder)
        if recorded is not None and not same_base(recorded, model_name):
            raise ValueError(f"{adapter} holds adapters trained on {portable_base(recorded)}, and this run asks for "
                             f"{model_name}: pass --out a new folder for {model_name}, or --model "
                             f"{portable_base(recorded)} to go on with this run.")


def _trained(adapter: Path, steps: int) -> bool:
    record = adapter / "training.json"
    return record.is_file() and json.loads(record.read_text()).get("steps", 0) >= steps


def evaluate(tuned, tokenizer, out: Path, questions: list[str], meter, *, progress: bool = True):
    """Answers before (adapters off) and after, scores with intervals, the forgetting check; all saved in `out`."""
    import matplotlib.pyplot as plt

    from .evaluate import answers, forgetting, plot_scores, score_answers, summary

    run = RunFolder(out)
    with meter.phase("answers") as phase:  # its own phase: the energy label's kWh per 1,000 answers
        table = answers(tuned, tokenizer, questions, name="fine-tuned", before="before", out=run.answers,
                        progress=progress)  # with its adapters off and on, decoded together
        phase.items = 2 * len(questions)
    with meter.phase("evaluation"):
        scored = score_answers(table)
        summary_table = summary(scored)
        forgot = forgetting(tuned, tokenizer)
    scored.to_csv(run.scores, index=False)
    summary_table.to_csv(run.summary, index=False)
    forgot.to_csv(run.forgetting, index=False)
    plt.close(plot_scores(scored, run.scores_plot))
    return scored, summary_table, forgot


def _read_evaluation(out: Path):
    """The tables `evaluate` saved in `out`, for a rerun whose evaluation is up to date."""
    import pandas as pd

    run = RunFolder(out)
    scored = pd.read_csv(run.scores)
    for column in ("prompt", "answer"):
        scored[column] = scored[column].fillna("")
    return scored, pd.read_csv(run.summary, keep_default_na=False), pd.read_csv(run.forgetting)


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


@contextlib.contextmanager
def _lock(out: Path):
    """Hold `out` for this run: `out`/run.lock names this process until the run ends (or fails).

    Two runs into one folder duplicated all the work and one crashed in merge. A lock left by a run that was
    killed (its process is gone) is taken over, and said so.
    """
    path = RunFolder(out).lock
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
    import pandas as pd

    from .config import StoicConfig
    from .dataset import load_pairs, make_dataset, save_jsonl
    from .energy import Energy, label_model_card
    from .evaluate import report
    from .export import export_all, merge, modelfile
    from .models import load_adapters, load_model, pick_models
    from .train import finetune

    model_name = model or pick_models()[1]
    run = RunFolder(out)
    meter = Energy(output_dir=str(out), enabled=energy)
    steps_done: list[dict] = []

    def step(label: str, output: Path, status: str, start: float) -> None:
        row = {"step": label, "output": output.name, "seconds": round(time.time() - start, 1), "status": status}
        steps_done.append(row)
        print(f"[{label}] {status} ({row['seconds']:.0f} s) -> {output}", flush=True)

    # 1. data
    t = time.time()
    ready = run.data.is_file()
    if not ready:
        save_jsonl(make_dataset(), run.data)
    dataset = load_pairs(run.data)
    step("data", run.data, SKIPPED if ready else DONE, t)

    # 2. training (resumes from checkpoints in adapter/), by the same recipe as `train` and notebook 2
    t = time.time()
    _check_trained_on(run.adapter, model_name)
    base, tokenizer = load_model(model_name, verbose=progress)
    ready = _trained(run.adapter, steps)
    if not ready:
        finetune(base, tokenizer, dataset, StoicConfig(output_dir=str(run.adapter), max_steps=steps), resume=True,
                 energy=meter if energy else False, progress=progress)
        # Evaluate a fresh load, not the training copy (on a CPU its frozen base may be bf16): the same model a
        # resumed run gets, so saved answers are reused rather than made again.
        del base
        base, tokenizer = load_model(model_name, verbose=False)
    if (run.adapter / "loss.png").is_file():
        shutil.copyfile(run.adapter / "loss.png", run.loss_plot)
    step("train", run.adapter, SKIPPED if ready else DONE, t)
    trained = _fingerprint(run.adapter / "adapter_model.safetensors", run.adapter / "adapter_config.json")

    # 3. evaluation, redone when the adapter or the prompts changed (answers are saved after every batch and reused)
    t = time.time()
    inputs = {"adapter": trained, "prompts": _fingerprint("\n".join(questions))}
    status = _status(out, "evaluate", inputs, *run.evaluation)
    if status == SKIPPED:
        scored, summary_table, forgot = _read_evaluation(out)
    else:
        tuned = load_adapters(base, run.adapter)
        scored, summary_table, forgot = evaluate(tuned, tokenizer, out, questions, meter, progress=progress)
        _remember(out, "evaluate", inputs)
        label = meter.label()
        if energy and label.training_kwh is not None:  # trained in this run: the card gets the whole label
            label_model_card(run.adapter, label)
    step("evaluate", run.summary, status, t)

    # 4. export: merged folder (from the adapter), GGUF file(s) (from the merged weights), Modelfile, a run of each
    t = time.time()
    inputs = {"adapter": trained}
    status = _status(out, "merge", inputs, run.merged / "merged.json")
    if status != SKIPPED:
        merge(run.adapter, run.merged)
        _remember(out, "merge", inputs)
    step("merge", run.merged, status, t)
    inputs = {"merged model": _fingerprint(run.merged)}
    statuses, checks, failed, t = {}, [], [], time.time()

    def up_to_date(quant: str, gguf: Path) -> bool:
        statuses[quant] = _status(out, f"gguf {quant}", inputs, gguf)
        return statuses[quant] == SKIPPED

    # every run checks the files again (where llama.cpp is installed): the check is the proof the file works
    for exported in export_all(run.merged, out, quants, name=name, prompt=questions[0], keep=up_to_date):
        if exported.written:
            _remember(out, f"gguf {exported.quant}", inputs)
        failed += [] if exported.check is None or exported.check.ok else [exported.path.name]
        checks.append(exported.row())
        step(f"gguf {exported.quant}", exported.path, statuses.get(exported.quant, DONE), t)
        t = time.time()
    modelfile(run.gguf(quants[0], name), tokenizer, name=name)

    # 5. one report
    sizes = pd.DataFrame([{"what": "adapters (adapter_model.safetensors)",
                           "MB": round((run.adapter / "adapter_model.safetensors").stat().st_size / 1e6, 1)},
                          {"what": "merged model (16-bit)",
                           "MB": round(sum(f.stat().st_size for f in run.merged.glob("*.safetensors")) / 1e6, 1)}]
                         + [{"what": c["file"], "MB": c["MB"]} for c in checks])
    report(run.report, scored, summary_table=summary_table, forgetting_table=forgot,
           energy=meter if energy else None, title=f"Stoic fine-tune of {model_name}",
           extra={"Exported files, run in llama.cpp": pd.DataFrame(checks), "Sizes": sizes,
                  "Steps of this run": pd.DataFrame(steps_done)})
    table = pd.DataFrame(steps_done)
    run.record.write_text(json.dumps({"model": model_name, "steps": steps, "quants": list(quants),
                                      "failed checks": failed, "log": steps_done}, indent=1))
    print("\n" + table.to_string(index=False))
    print(f"\nReport: {run.report}")
    if failed:
        raise RuntimeError(f"the check of {', '.join(failed)} failed (see 'why it failed' above and in "
                           f"{run.checks}); every other output is written to {out}.")
    return table
