"""The whole workshop in one call: data -> train -> evaluate -> export, into one folder with stable names.

    stoic-workshop run --out stoic-run      (or `stoic_workshop.pipeline.run("stoic-run")`)

Every step writes its output before the next starts and is skipped when its output is already there,
so a second run into the same folder continues where the first stopped (a crash, Ctrl-C, a Colab
disconnect) instead of starting over. Training resumes from its last checkpoint.

    data.jsonl  adapter/  loss.png  answers.csv  scores.csv  summary.csv  scores.png  forgetting.csv
    emissions.csv  merged/  stoic-q8_0.gguf  Modelfile  checks.csv  report.html  run.json
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

__all__ = ["run"]


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


def run(out: str | os.PathLike = "stoic-run", *, model: str | None = None, steps: int = 60,
        quants: tuple[str, ...] = ("q8_0",), prompts: int | None = None, name: str = "stoic",
        energy: bool = True, progress: bool = True):
    """Run the workshop end to end on `model` (default: the instruct model `pick_models` chooses) into `out`.

    `prompts` limits the evaluation to the first n held-out complaints (all 16 by default).
    Returns the summary of steps as a DataFrame (also printed, and kept in `run.json`).
    """
    import pandas as pd

    from .data import eval_prompts
    from .dataset import load_pairs, make_dataset, save_jsonl
    from .energy import Energy
    from .evaluate import report
    from .export import LLAMA_CPP_PYTHON, merge, modelfile, to_gguf, verify
    from .models import load_adapters, load_model, pick_models
    from .train import finetune, learning_rate_for

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model_name = model or pick_models()[1]
    meter = Energy(output_dir=str(out), enabled=energy)
    steps_done: list[dict] = []

    def step(label: str, output: Path, skipped: bool, start: float) -> None:
        row = {"step": label, "output": output.name, "seconds": round(time.time() - start, 1),
               "status": "already there" if skipped else "done"}
        steps_done.append(row)
        print(f"[{label}] {row['status']} ({row['seconds']:.0f} s) -> {output}", flush=True)

    # 1. data
    t = time.time()
    data_file = out / "data.jsonl"
    ready = data_file.is_file()
    if not ready:
        save_jsonl(make_dataset(), data_file)
    dataset = load_pairs(data_file)
    step("data", data_file, ready, t)

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
    tuned = load_adapters(base, adapter)
    if (adapter / "loss.png").is_file():
        shutil.copyfile(adapter / "loss.png", out / "loss.png")
    step("train", adapter, ready, t)

    # 3. evaluation (answers are saved after every batch and reused on a rerun)
    t = time.time()
    questions = eval_prompts()[:prompts] if prompts else eval_prompts()
    scored, summary_table, forgot = evaluate(tuned, tokenizer, out, questions, meter, progress=progress)
    step("evaluate", out / "summary.csv", False, t)

    # 4. export: merged folder, GGUF file(s), Modelfile, and a run of every file
    t = time.time()
    merged = out / "merged"
    ready = (merged / "merged.json").is_file()
    if not ready:
        merge(adapter, merged)
    step("merge", merged, ready, t)
    checks = []
    import importlib.util

    can_run = importlib.util.find_spec("llama_cpp") is not None
    if not can_run:
        print("llama-cpp-python is not installed: the GGUF files are written but not run "
              f"(pip install llama-cpp-python=={LLAMA_CPP_PYTHON}).")
    for quant in quants:
        t = time.time()
        gguf = out / f"{name}-{quant}.gguf"
        ready = gguf.is_file()
        if not ready:
            to_gguf(merged, gguf, quant=quant)
        if can_run:
            check = verify(gguf, questions[0], merged=merged if quant in ("f16", "q8_0") else None,
                           with_transformers=False)
            checks.append({"file": gguf.name, "MB": round(check.size_mb, 1), "ok": check.ok,
                           "stopped by": check.stop, "same first tokens": check.agree, "reply": check.reply[:300]})
        else:
            checks.append({"file": gguf.name, "MB": round(gguf.stat().st_size / 1e6, 1), "ok": None,
                           "stopped by": "not run", "same first tokens": None,
                           "reply": "install llama-cpp-python to run and check the file"})
        step(f"gguf {quant}", gguf, ready, t)
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
                                              "log": steps_done}, indent=1))
    print("\n" + table.to_string(index=False))
    print(f"\nReport: {out / 'report.html'}")
    return table
