"""The main job's two long phases, the old way and the new way, side by side on this machine (issue 30).

`stoic-workshop run` trains (60 steps) and then evaluates (answers before and after on the 16 held-out complaints,
scores, the forgetting check). Both phases run here twice from the same code, in one process, so both ways meet
the same machine and the same load:

- old: answers 4 prompts at a time (`answers(batch_size=4)`, the default before issue 30), perplexity through the
  model's own loss over each whole window (the output layer on every position);
- new: the 16 complaints in one left-padded batch, each twice, with the adapters off and on (`answers(...,
  before="before")`: PEFT's mixed-adapter batch, as `stoic-workshop run` does), the output layer only where a token
  is scored (`evaluate._window_loss`).
Training is the same recipe both ways (`StoicConfig(max_steps=steps)`, TRL's SFTTrainer, the CPU route): the
profile found nothing to cut that leaves the losses unchanged (see the results' README); it runs twice to show its
time and losses, and each way evaluates its own adapters.

It prints a table (phase, seconds old, seconds new, old/new) and the scores of both ways (the run's summary:
Stoic score, meaning score, invented quotations, name-drops, length; perplexity), which answers differ between
the two ways and why (the gap between the two likeliest tokens where greedy decoding parted), and writes it all
to bench/results/main_job/ (main_job.json, main_job.md).

    python bench/main_job.py                       # the issue's size: 60 steps, 16 complaints
    python bench/main_job.py --steps 2 --prompts 4 # a smoke test
    python bench/main_job.py --mixed RUN/adapter   # only: the 32 answers as two batches of 16 (adapters off, then on)
                                                   # and as one mixed-adapter batch of 32, alternated, 2 rounds each
                                                   # (mixed_batch.md)
    python bench/main_job.py --alone RUN/adapter   # only: a batch of 16 against one prompt at a time, token by token,
                                                   # with those adapters off and on (alone_vs_batched.txt)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from functools import partial
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results" / "main_job"
OLD_BATCH = 4  # answers' batch size before issue 30


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def train(model_name: str, steps: int, out: Path) -> dict:
    import stoic_workshop as sw
    from stoic_workshop.dataset import make_dataset

    model, tok = sw.load_model(model_name, verbose=False)
    t = time.perf_counter()
    result = sw.finetune(model, tok, make_dataset(), sw.StoicConfig(output_dir=str(out), max_steps=steps),
                         energy=False, progress=False)
    seconds = time.perf_counter() - t
    return {"seconds": seconds, "step median": sorted(result.step_seconds)[len(result.step_seconds) // 2],
            "losses": [loss for _, loss in result.losses]}


def evaluate(model_name: str, adapter: Path, questions: list[str], *, old: bool) -> dict:
    import stoic_workshop as sw
    import stoic_workshop.evaluate as ev
    from stoic_workshop.models import load_adapters

    base, tok = sw.load_model(model_name, verbose=False)
    tuned = load_adapters(base, adapter)
    batch = OLD_BATCH if old else ev.BATCH_SIZE
    times = {}
    t = time.perf_counter()
    if old:
        with tuned.disable_adapter():
            table = ev.answers(tuned, tok, questions, name="before", batch_size=batch, progress=False)
        table["fine-tuned"] = ev.answers(tuned, tok, questions, name="fine-tuned", batch_size=batch,
                                         progress=False)["fine-tuned"]
    else:  # adapters off and on for every complaint in one mixed-adapter batch, as `stoic-workshop run` does
        table = ev.answers(tuned, tok, questions, name="fine-tuned", before="before", batch_size=batch,
                           progress=False)
    times["answers (32)"] = time.perf_counter() - t
    t = time.perf_counter()
    scored = ev.score_answers(table)
    summary = ev.summary(scored)
    times["scores"] = time.perf_counter() - t
    t = time.perf_counter()
    window_loss = ev._window_loss
    if old:
        ev._window_loss = partial(window_loss, whole=True)
    try:
        forgot = ev.forgetting(tuned, tok, cache=False)  # measured each way, not read back
    finally:
        ev._window_loss = window_loss
    times["forgetting"] = time.perf_counter() - t
    return {"times": times, "answers": table.to_dict(orient="list"), "summary": summary.to_dict(orient="records"),
            "forgetting": forgot.to_dict(orient="records")}


def parting(model_name: str, adapter: Path, questions: list[str], old: dict, new: dict) -> list[dict]:
    """For each answer that differs between the ways: the step where greedy decoding parted, and the gap there
    between the two likeliest tokens, in the old way's batch of 4 and in the new way's batch of all, each complaint
    twice (adapters off and on)."""
    import contextlib

    import torch

    import stoic_workshop as sw
    from stoic_workshop.models import load_adapters

    found = []
    base, tok = sw.load_model(model_name, verbose=False)
    tuned = load_adapters(base, adapter)
    texts = [sw.render(tok, q) for q in questions]
    tok.padding_side = "left"
    settings = dict(max_new_tokens=150, do_sample=False, repetition_penalty=1.1, no_repeat_ngram_size=4,
                    output_scores=True, return_dict_in_generate=True, pad_token_id=tok.pad_token_id)
    for name in ("before", "fine-tuned"):
        differ = [i for i, (a, b) in enumerate(zip(old["answers"][name], new["answers"][name])) if a != b]
        for i in differ:
            runs = {}
            first = i // OLD_BATCH * OLD_BATCH
            mixed = ["__base__"] * len(texts) + ["default"] * len(texts)
            for label, batch, row, names in (("old batch", texts[first:first + OLD_BATCH], i - first, None),
                                             ("new batch", texts + texts, i + len(texts) * (name != "before"),
                                              mixed)):
                enc = tok(batch, return_tensors="pt", padding=True, add_special_tokens=False)
                off = tuned.disable_adapter() if name == "before" and names is None else contextlib.nullcontext()
                with off, torch.inference_mode():
                    out = tuned.generate(**enc, **settings, **({"adapter_names": names} if names else {}))
                runs[label] = (out.sequences[row, enc.input_ids.shape[1]:], [s[row] for s in out.scores])
            (a, sa), (b, sb) = runs["old batch"], runs["new batch"]
            step = next((k for k in range(min(len(a), len(b))) if a[k] != b[k]), None)
            row = {"model": name, "prompt": questions[i], "step": step}
            if step is not None:
                for label, scores in (("old batch", sa), ("new batch", sb)):
                    top = torch.topk(scores[step].float(), 2)
                    row[f"{label}: top two"] = [tok.decode(t) for t in top.indices]
                    row[f"{label}: gap"] = float(top.values[0] - top.values[1])
            found.append(row)
    return found


def alone_vs_batched(model_name: str, adapter: Path, questions: list[str]) -> str:
    """The answers (adapters off, then on) in one batch and one prompt at a time, compared token by token; for an
    answer that differs, the step where greedy decoding parted and the gap between the two likeliest tokens there."""
    import contextlib

    import torch

    import stoic_workshop as sw
    from stoic_workshop.models import load_adapters

    base, tok = sw.load_model(model_name, verbose=False)
    tuned = load_adapters(base, adapter)
    texts = [sw.render(tok, q) for q in questions]
    settings = dict(max_new_tokens=150, do_sample=False, repetition_penalty=1.1, no_repeat_ngram_size=4,
                    output_scores=True, return_dict_in_generate=True, pad_token_id=tok.pad_token_id)
    stops = set(tuned.generation_config.eos_token_id)

    def run(batch):
        tok.padding_side = "left"
        enc = tok(batch, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.inference_mode():
            out = tuned.generate(**enc, **settings)
        rows = []
        for r in range(len(batch)):
            seq = out.sequences[r, enc.input_ids.shape[1]:].tolist()
            end = next((i for i, t in enumerate(seq) if t in stops), len(seq) - 1)
            rows.append((seq[:end + 1], [s[r] for s in out.scores]))
        return rows

    lines = [f"A batch of {len(questions)} against one prompt at a time: {model_name}, adapters {adapter} off "
             f"(before) and on, the held-out complaints, answers' decoding (greedy, 150 new tokens, repetition "
             f"penalty 1.1, no repeated 4-grams); torch {torch.__version__}, {torch.get_num_threads()} threads.",
             f"Load average at the start: {load()}"]
    for name in ("before", "fine-tuned"):
        with tuned.disable_adapter() if name == "before" else contextlib.nullcontext():
            t = time.perf_counter()
            batched = run(texts)
            tb = time.perf_counter() - t
            t = time.perf_counter()
            alone = [run([x])[0] for x in texts]
            ta = time.perf_counter() - t
        same = [b[0] == a[0] for b, a in zip(batched, alone)]
        lines.append(f"{name}: {sum(same)} of {len(texts)} answers the same tokens (one batch: {tb:.1f} s; one at a "
                     f"time: {ta:.1f} s)")
        for i in (i for i, ok in enumerate(same) if not ok):
            (b, sb), (a, sa) = batched[i], alone[i]
            step = next(k for k in range(min(len(a), len(b))) if a[k] != b[k])
            lines.append(f"  complaint {i + 1} {questions[i]!r}: parted at new token {step}")
            for label, scores in (("alone", sa), ("in the batch", sb)):
                top = torch.topk(scores[step].float(), 2)
                lines.append(f"    {label}: {[tok.decode(t) for t in top.indices]} scored {top.values.tolist()}, "
                             f"{float(top.values[0] - top.values[1]):.2g} apart")
    lines.append(f"Load average at the end: {load()}")
    return "\n".join(lines)


def mixed_vs_two_batches(model_name: str, adapter: Path, questions: list[str], rounds: int = 2) -> str:
    """The 32 answers of the main job two ways, alternated in one process: two batches of 16 (adapters off, then on)
    and one batch of 32 with PEFT's mixed adapters (`answers(..., before="before")`); seconds and same-text counts."""
    import stoic_workshop as sw
    import stoic_workshop.evaluate as ev
    from stoic_workshop.models import load_adapters

    base, tok = sw.load_model(model_name, verbose=False)
    tuned = load_adapters(base, adapter)
    times, tables = {"two batches of 16": [], "one mixed batch of 32": []}, {}
    for _ in range(rounds):
        t = time.perf_counter()
        with tuned.disable_adapter():
            two = ev.answers(tuned, tok, questions, name="before", progress=False)
        two["fine-tuned"] = ev.answers(tuned, tok, questions, name="fine-tuned", progress=False)["fine-tuned"]
        times["two batches of 16"].append(time.perf_counter() - t)
        t = time.perf_counter()
        one = ev.answers(tuned, tok, questions, name="fine-tuned", before="before", progress=False)
        times["one mixed batch of 32"].append(time.perf_counter() - t)
        tables = {"two batches of 16": two, "one mixed batch of 32": one}
    a, b = (min(v) for v in times.values())
    lines = [f"The main job's {2 * len(questions)} answers ({model_name}, {adapter}), {rounds} rounds alternated in "
             f"one process; {platform.processor() or platform.machine()}, {os.cpu_count()} cores; load average "
             f"{load()}; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}", "",
             "| way | s per round | best |", "|---|---|---|"]
    lines += [f"| {way} | {', '.join(f'{x:.1f}' for x in v)} | {min(v):.1f} |" for way, v in times.items()]
    lines += ["", f"Best two batches / best mixed batch: {a / b:.2f}x"]
    for name in ("before", "fine-tuned"):
        same = sum(x == y for x, y in zip(tables["two batches of 16"][name], tables["one mixed batch of 32"][name]))
        lines.append(f"Answers '{name}': {same} of {len(questions)} the same text both ways.")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--prompts", type=int, default=16)
    ap.add_argument("--out", default=str(RESULTS))
    ap.add_argument("--mixed", metavar="ADAPTER", help="only time the 32 answers as two batches of 16 against one "
                    "mixed-adapter batch of 32, with these adapters")
    ap.add_argument("--alone", metavar="ADAPTER", help="only compare a batch with one prompt at a time, token by "
                    "token, with these adapters (e.g. a run's adapter folder)")
    args = ap.parse_args()

    import torch

    from stoic_workshop.pipeline import pick_questions

    questions = pick_questions(args.prompts)
    only = {"mixed": (mixed_vs_two_batches, "mixed_batch.md"), "alone": (alone_vs_batched, "alone_vs_batched.txt")}
    for option, (measure, written) in only.items():  # a mode that compares answers of given adapters, alone
        if getattr(args, option):
            text = measure(args.model, Path(getattr(args, option)), questions)
            print(text)
            Path(args.out).mkdir(parents=True, exist_ok=True)
            (Path(args.out) / written).write_text(text + "\n")
            return
    import datasets, peft, trl  # noqa: E401, F401  warm: imports and the meaning model load outside the timings
    from stoic_workshop.score import meaning_score

    meaning_score(["warm-up"])
    loads, ways = {"start": load()}, {}
    with tempfile.TemporaryDirectory() as tmp:
        for way in ("old", "new"):
            ways[way] = {"train": train(args.model, args.steps, Path(tmp) / way)}
            loads[f"after {way} training"] = load()
        for way in ("old", "new"):
            ways[way] |= evaluate(args.model, Path(tmp) / way, questions, old=way == "old")
            loads[f"after {way} evaluation"] = load()
        parted = parting(args.model, Path(tmp) / "new", questions, ways["old"], ways["new"])

    rows = [("train", ways["old"]["train"]["seconds"], ways["new"]["train"]["seconds"])]
    rows += [(f"evaluate: {k}", ways["old"]["times"][k], ways["new"]["times"][k]) for k in ways["old"]["times"]]
    rows.append(("evaluate (all)", sum(ways["old"]["times"].values()), sum(ways["new"]["times"].values())))
    rows.append(("train + evaluate", rows[0][1] + rows[-1][1], rows[0][2] + rows[-1][2]))
    lines = [f"Main job phases, {args.model}, {args.steps} steps, {len(questions)} held-out complaints; "
             f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
             f"{torch.get_num_threads()} threads; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}",
             "Load average (1/5/15 min): " + "; ".join(f"{k} {v}" for k, v in loads.items()), "",
             "| phase | s old | s new | old/new |", "|---|---|---|---|"]
    lines += [f"| {name} | {a:.1f} | {b:.1f} | {a / b:.2f}x |" for name, a, b in rows]
    lines += ["", f"Training: median step {ways['old']['train']['step median']:.2f} s old, "
                  f"{ways['new']['train']['step median']:.2f} s new; first 5 losses old "
                  f"{[round(x, 6) for x in ways['old']['train']['losses'][:5]]}, new "
                  f"{[round(x, 6) for x in ways['new']['train']['losses'][:5]]}; all {args.steps} equal: "
                  f"{ways['old']['train']['losses'] == ways['new']['train']['losses']}", ""]
    for way in ("old", "new"):
        lines += [f"Scores, {way} way ("
                  + (f"{OLD_BATCH} prompts a batch, adapters off then on" if way == "old" else
                     "all prompts in one batch, each with adapters off and on") + "):", "",
                  "| metric | before | fine-tuned | change (paired) |", "|---|---|---|---|"]
        lines += [f"| {r['metric']} | {r['before']} | {r['fine-tuned']} | {r['change (paired)']} |"
                  for r in ways[way]["summary"]]
        lines += ["", "Perplexity on general English: " + ", ".join(
            f"{r['model']} {r['perplexity']} ({r['change %']:+}%)" for r in ways[way]["forgetting"]), ""]
    for name in ("before", "fine-tuned"):
        same = sum(a == b for a, b in zip(ways["old"]["answers"][name], ways["new"]["answers"][name]))
        lines.append(f"Answers '{name}': {same} of {len(questions)} the same text both ways.")
    for row in parted:
        lines.append(f"- {row['model']}, \"{row['prompt'][:60]}\": greedy decoding parted at new token "
                     f"{row['step']}; " + "; ".join(f"{label}: top two {row.get(f'{label}: top two')}, "
                                                    f"{row.get(f'{label}: gap', float('nan')):.2g} apart"
                                                    for label in ("old batch", "new batch")))
    text = "\n".join(lines)
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "main_job.md").write_text(text + "\n")
    (out / "main_job.json").write_text(json.dumps({"model": args.model, "steps": args.steps, "load": loads,
                                                   "ways": ways, "parted": parted}, indent=1, default=str))
    print(f"\nWritten: {out / 'main_job.md'}, {out / 'main_job.json'}")


if __name__ == "__main__":
    main()
