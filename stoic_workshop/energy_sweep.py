"""Energy against quality: a small grid of fine-tunes, each measured with CodeCarbon and scored, and its frontier.

    table = sw.sweep("sweep")          # LoRA rank {4, 16, 64} x steps {20, 60, 120} x the two offline models
    sw.plot_sweep(table, "sweep/sweep.png")
    print(sw.sweep_takeaway(table))     # "rank 4 for 60 steps reached 92% of the best quality for 31% of its energy"

Each point is a real fine-tune of the workshop's recipe (notebook 2's 90 training pairs) with one setting changed,
then the fine-tuned model answers the held-out complaints. What is kept per point:
- energy: training kWh, and kWh per 1,000 answers (the answers are their own phase), each part (GPU, CPU, RAM)
  measured or estimated as CodeCarbon did it (on a CPU without RAPL, everything is estimated);
- quality: the Stoic ideas score of the answers (per 100 words, `stoic_score`) with its 95% bootstrap interval
  over the answers (`quality_low`, `quality_high`), and the share of answers with an invented or misattributed
  quotation (`quotes.check_quotes`), which a good point must keep low. 16 answers make a wide interval: read two
  points whose intervals overlap as a tie;
- copying: the share of answers that repeat a run of 8 words or more from one of the training replies
  (`copied_rate`), the sign of a model that memorised its data and recites it.
A point is on the Pareto frontier when no other point has at least its quality for at most its training energy.
LoRA alpha follows the rank (alpha = r), so that only the rank changes, not the scale of the update.

Run it alone on the machine: where CPU power is estimated (no RAPL), CodeCarbon models it from the whole machine's
CPU load, so anything else running meanwhile is counted in the point being measured.

It resumes like `run`: a point whose `point.json` is there is read back, a point cut short continues from its last
checkpoint. Every point's files are in `<out>/<model>-r<rank>-s<steps>/`; the table is `<out>/sweep.csv`.
"""

from __future__ import annotations

import functools
import json
import os
from pathlib import Path

__all__ = ["sweep", "frontier", "plot_sweep", "sweep_takeaway", "course_sweep", "RANKS", "STEPS"]

RANKS = (4, 16, 64)
STEPS = (20, 60, 120)
TABLE = "sweep.csv"
CHART = "sweep.png"
POINT = "point.json"


def frontier(table):
    """`table` with `on_frontier`: True where no other row has quality >= and training kWh <=, one of them strictly.

    Example: `sw.frontier(table)[["model", "lora_r", "steps", "on_frontier"]]`
    """
    rows = table.to_dict("records")

    def beaten(a) -> bool:
        return any(b["train_kwh"] <= a["train_kwh"] and b["quality"] >= a["quality"]
                   and (b["train_kwh"] < a["train_kwh"] or b["quality"] > a["quality"]) for b in rows)

    return table.assign(on_frontier=[not beaten(a) for a in rows])


def course_sweep():
    """The course's own sweep: all 18 points, measured on a 2-core CPU (energy estimated), shipped with the package
    (data/sweep_cpu.csv, a copy of bench/results/sweep_cpu/sweep.csv), so notebook 3 can show it without an hour of
    training.

    Example: `sw.plot_sweep(sw.course_sweep())`
    """
    import pandas as pd

    from .folders import course_dir

    return pd.read_csv(course_dir("data") / "sweep_cpu.csv")


def sweep(out: str | os.PathLike = "sweep", *, models=None, ranks=RANKS, steps=STEPS, prompts: int = 16,
          progress: bool = True):
    """Train and evaluate every point of the grid into `out`; return the table (also `<out>/sweep.csv`, and the
    chart `<out>/sweep.png`). `prompts`: how many held-out complaints each point answers (1..16).

    Example: `sw.sweep("sweep", models=["smollm2-135m-instruct"], ranks=[4, 16], steps=[20])`  # -> DataFrame
    """
    import pandas as pd

    from .folders import writable_folder
    from .models import OFFLINE_PAIR
    from .pipeline import pick_questions

    _check(ranks, steps)
    questions = pick_questions(prompts)
    new = not Path(out).exists()
    out = writable_folder(out)
    rows = []
    try:
        for name in models or OFFLINE_PAIR:
            loaded = None  # the model is loaded once, at its first point not yet done
            for r in ranks:
                for s in steps:
                    folder = out / f"{_safe(name)}-r{r}-s{s}"
                    row = _done(folder, name, r, s, questions)
                    if row is None:
                        loaded = loaded or _load(name)
                        row = _point(folder, name, r, s, questions, *loaded, progress=progress)
                    rows.append(row)
            del loaded
    except BaseException:
        if new and not any(out.iterdir()):  # stopped before anything was written (a model that does not load)
            out.rmdir()
        raise
    table = frontier(pd.DataFrame(rows))
    table.to_csv(out / TABLE, index=False)
    import matplotlib.pyplot as plt

    plt.close(plot_sweep(table, out / CHART))
    print(sweep_takeaway(table))
    return table


def _check(ranks, steps) -> None:
    for name, values in (("ranks", ranks), ("steps", steps)):
        if not values or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in values):
            raise ValueError(f"sweep {name} must be whole numbers of at least 1, e.g. {name}="
                             f"{list(RANKS if name == 'ranks' else STEPS)}; got {list(values)!r}")


def _safe(name: str) -> str:
    return name.strip("/").replace("/", "--")


def _load(name: str):
    from .models import load_model

    return load_model(name, verbose=False)


def _done(folder: Path, name: str, r: int, s: int, questions: list[str]) -> dict | None:
    """The row of a point already measured with these settings, or None."""
    try:
        row = json.loads((folder / POINT).read_text())
    except (OSError, ValueError):
        return None
    same = (row.get("model"), row.get("lora_r"), row.get("steps"), row.get("prompts")) == (name, r, s, len(questions))
    return _with_interval(row, folder) if same else None


def _with_interval(row: dict, folder: Path) -> dict:
    """`row` with the 95% bootstrap interval of its quality and its copied rate, from the point's scored answers."""
    import pandas as pd

    from .evaluate import bootstrap_ci

    scored = pd.read_csv(folder / "scores.csv", keep_default_na=False)
    _, low, high = bootstrap_ci(scored["stoic_score"])
    return row | {"quality_low": low, "quality_high": high,
                  "copied_rate": copied_rate(scored["answer"], _training_replies())}


COPIED_WORDS = 8


def copied_rate(answers, replies, words: int = COPIED_WORDS) -> float:
    """The share of `answers` that repeat a run of `words` words (or more) from any of `replies`.

    Example: `copied_rate(["the obstacle is the way forward for you today my friend"], replies)` -> 0.0 or 1.0
    """
    from .stoic_data import split_words

    def runs(text: str) -> set:  # every run of `words` consecutive words
        w = split_words(text)
        return set(zip(*(w[i:] for i in range(words))))

    seen = set().union(*map(runs, replies))
    hits = [bool(runs(a) & seen) for a in answers]
    return sum(hits) / len(hits) if hits else float("nan")


@functools.cache
def _training_replies() -> tuple[str, ...]:
    """The replies every point trained on (the recipe's 90 training pairs)."""
    return tuple(turn["content"] for row in _training_pairs() for turn in row["messages"]
                 if turn["role"] == "assistant")


def _training_pairs():
    from .dataset import make_dataset, train_eval_split

    return train_eval_split(make_dataset(n=100, seed=3407), eval_fraction=0.1, seed=3407)["train"]


def _point(folder: Path, name: str, r: int, s: int, questions: list[str], model, tokenizer, *, progress: bool):
    from .config import StoicConfig
    from .energy import Energy, label_model_card
    from .evaluate import answers, score_answers
    from .train import finetune, last_checkpoint

    print(f"\n== {name}, LoRA r={r}, {s} steps")
    energy = Energy(output_dir=str(folder / "energy"))
    train = _training_pairs()
    result = finetune(model, tokenizer, train, StoicConfig(output_dir=str(folder / "adapter"), max_steps=s,
                                                           lora_r=r, lora_alpha=r),
                      resume=last_checkpoint(folder / "adapter") is not None, energy=energy, progress=progress)
    with energy.phase("answers") as phase:
        table = answers(result.model, tokenizer, questions, name="fine-tuned", out=folder / "answers.csv",
                        progress=progress)
        phase.items = len(questions)
    scored = score_answers(table, meaning=False)
    scored.to_csv(folder / "scores.csv", index=False)
    label = energy.label()
    label_model_card(folder / "adapter", label)  # the card gets kWh per 1,000 answers too
    answering = [p for p in energy.phases if p.name == "answers"][0]
    row = {"model": name, "lora_r": r, "steps": s, "prompts": len(questions),
           "quality": float(scored["stoic_score"].mean()), "invented_rate": float(scored["invented"].mean()),
           "train_kwh": label.training_kwh, "kwh_per_1000_answers": label.kwh_per_1000_answers,
           "train_seconds": result.seconds, "answer_seconds": answering.seconds, "trainable": result.trainable,
           "final_loss": result.losses[-1][1],
           "energy_how": label.how}
    (folder / POINT).write_text(json.dumps(row, indent=1))  # last: a point cut short has no point.json
    return _with_interval(row, folder)


def plot_sweep(table, path=None):
    """Training kWh (log scale) against the Stoic ideas score, one colour per model, the frontier joined.

    Example: `sw.plot_sweep(pd.read_csv("sweep/sweep.csv"), "sweep.png")`  # -> matplotlib Figure
    """
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.5))
    for (name, group), colour in zip(table.groupby("model", sort=False), ("#4c72b0", "#dd8452", "#55a868")):
        ax.scatter(group["train_kwh"], group["quality"], color=colour, label=name, s=40, zorder=3)
        if "quality_low" in group:  # the 95% interval over the answers
            ax.errorbar(group["train_kwh"], group["quality"], fmt="none", ecolor=colour, alpha=0.35, zorder=2,
                        yerr=[group["quality"] - group["quality_low"], group["quality_high"] - group["quality"]])
        for row in group.to_dict("records"):
            ax.annotate(f"r{row['lora_r']}/{row['steps']}, {row['invented_rate']:.0%} inv.",
                        (row["train_kwh"], row["quality"]), fontsize=6, xytext=(4, 3), textcoords="offset points")
    edge = table[table["on_frontier"]].sort_values("train_kwh")
    ax.plot(edge["train_kwh"], edge["quality"], color="#333333", lw=1, ls="--", label="frontier", zorder=2)
    ax.set_xscale("log")
    how = "; ".join(sorted(set(table["energy_how"])))
    ax.set(xlabel=f"training energy, kWh ({how})", ylabel="Stoic ideas per 100 words (95% interval)",
           title="Energy against quality: LoRA rank / steps (inv.: invented quotations)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=120)
    return fig


def sweep_takeaway(table, share: float = 0.9) -> str:
    """One sentence a learner can act on: on the model with the best quality, the cheapest point reaching `share` of
    it and its cost beside the best's; where that is the best point itself, its cost beside the dearest point's.
    With intervals in the table, whether the two differ beyond the noise of the answers.

    Example: `sw.sweep_takeaway(table)` -> "On smollm2-135m-instruct, rank 4 for 60 steps reached 92% of ..."
    """
    best = table.loc[table["quality"].idxmax()]
    if not best["quality"] > 0 or table["train_kwh"].isna().any():
        return ("No sentence to draw: " + ("no point scored above 0 Stoic ideas per 100 words." if not
                best["quality"] > 0 else "energy was not measured for every point (is CodeCarbon installed?)."))
    same = table[table["model"] == best["model"]]
    good = same[same["quality"] >= share * best["quality"]]
    cheap = good.loc[good["train_kwh"].idxmin()]
    if cheap.name != best.name:
        other = best
        sentence = (f"On {best['model']}, rank {cheap['lora_r']} for {cheap['steps']} steps reached "
                    f"{cheap['quality'] / best['quality']:.0%} of the best quality (rank {best['lora_r']}, "
                    f"{best['steps']} steps) for {cheap['train_kwh'] / best['train_kwh']:.0%} of its training energy")
    else:
        other = same.loc[same["train_kwh"].idxmax()]
        sentence = (f"On {best['model']}, rank {best['lora_r']} for {best['steps']} steps gave the best quality "
                    f"({best['quality']:.2f} Stoic ideas per 100 words) for "
                    f"{best['train_kwh'] / other['train_kwh']:.0%} of the training energy of the dearest point (rank "
                    f"{other['lora_r']}, {other['steps']} steps: {other['quality']:.2f})")
    sentence += (f"; invented quotations in {cheap['invented_rate']:.0%} of its answers against "
                 f"{other['invented_rate']:.0%}.")
    if "quality_low" not in table or other.name == cheap.name:
        return sentence
    tie = cheap["quality_high"] >= other["quality_low"] and other["quality_high"] >= cheap["quality_low"]
    return sentence + (" Their 95% intervals overlap: on these answers the two are a tie." if tie else
                       " Their 95% intervals do not overlap.")
