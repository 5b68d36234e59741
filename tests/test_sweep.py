"""The energy-against-quality sweep: the frontier's arithmetic, the sentence, and a real 2-point sweep (slow)."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest

import stoic_workshop as sw
from stoic_workshop.cli import main

ROOT = Path(__file__).resolve().parents[1]


def _table(rows):
    return pd.DataFrame([{"model": m, "lora_r": r, "steps": s, "train_kwh": k, "quality": q, "invented_rate": i,
                          "energy_how": "CPU estimated, RAM estimated"} for m, r, s, k, q, i in rows])


def test_frontier_keeps_only_points_nothing_beats():
    table = sw.frontier(_table([
        ("a", 4, 20, 1.0, 0.5, 0.0),    # cheapest: on it
        ("a", 16, 20, 2.0, 0.4, 0.0),   # dearer and worse than the first: beaten
        ("a", 16, 60, 3.0, 0.9, 0.1),   # best quality: on it
        ("a", 64, 60, 3.0, 0.8, 0.0),   # same energy, less quality: beaten
        ("a", 64, 120, 5.0, 0.9, 0.0),  # same quality, more energy: beaten
    ]))
    assert list(table["on_frontier"]) == [True, False, True, False, False]


def test_takeaway_names_the_cheapest_point_near_the_best():
    table = sw.frontier(_table([("a", 4, 60, 1.0, 0.95, 0.0), ("a", 64, 120, 4.0, 1.0, 0.25),
                                ("b", 4, 20, 0.5, 0.2, 0.0)]))
    text = sw.sweep_takeaway(table)
    assert text.startswith("On a, rank 4 for 60 steps reached 95% of the best quality (rank 64, 120 steps)")
    assert "for 25% of its training energy" in text and "in 0% of its answers against 25%" in text
    assert "No sentence" in sw.sweep_takeaway(_table([("a", 4, 20, 1.0, 0.0, 0.0)]))


def test_takeaway_weighs_the_best_against_the_dearest_when_it_is_also_the_cheapest():
    table = sw.frontier(_table([("a", 64, 20, 1.0, 0.8, 0.0), ("a", 64, 120, 6.0, 0.3, 0.1),
                                ("a", 4, 60, 3.0, 0.5, 0.0)]))
    text = sw.sweep_takeaway(table.assign(quality_low=[0.5, 0.0, 0.2], quality_high=[1.1, 0.45, 0.8]))
    assert text == ("On a, rank 64 for 20 steps gave the best quality (0.80 Stoic ideas per 100 words) for 17% of "
                    "the training energy of the dearest point (rank 64, 120 steps: 0.30); invented quotations in 0% "
                    "of its answers against 10%. Their 95% intervals do not overlap.")


def test_takeaway_calls_overlapping_intervals_a_tie():
    table = sw.frontier(_table([("a", 4, 60, 1.0, 0.95, 0.0), ("a", 64, 120, 4.0, 1.0, 0.25)]))
    tied = table.assign(quality_low=[0.7, 0.8], quality_high=[1.2, 1.3])
    assert sw.sweep_takeaway(tied).endswith("Their 95% intervals overlap: on these answers the two are a tie.")
    apart = table.assign(quality_low=[0.9, 0.97], quality_high=[0.96, 1.03])
    assert "tie" not in sw.sweep_takeaway(apart)


def test_bad_grid_is_refused_before_any_work(tmp_path, capsys):
    with pytest.raises(ValueError, match=r"ranks must be whole numbers of at least 1, e\.g\. ranks=\[4, 16, 64\]"):
        sw.sweep(tmp_path / "s", ranks=[0])
    assert main(["sweep", "--out", str(tmp_path / "s"), "--steps", "0"]) == 1
    assert "steps must be whole numbers" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
    # a model that does not load stops the sweep before its first point: no empty folder is left behind
    assert main(["sweep", "--out", str(tmp_path / "s"), "--models", "no-such-model", "--ranks", "4", "--steps", "1",
                 "--prompts", "1"]) == 1
    assert "no-such-model" in capsys.readouterr().err and not (tmp_path / "s").exists()
    (tmp_path / "mine").mkdir()  # a folder that was there before stays, empty or not
    assert main(["sweep", "--out", str(tmp_path / "mine"), "--models", "no-such-model"]) == 1
    assert (tmp_path / "mine").is_dir()


def test_plot_draws_every_point(tmp_path):
    table = sw.frontier(_table([("a", 4, 20, 1e-4, 0.5, 0.0), ("a", 16, 60, 3e-4, 0.9, 0.1)]))
    fig = sw.plot_sweep(table, tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").stat().st_size > 10_000
    assert len(fig.axes[0].collections) == 1 and len(fig.axes[0].texts) == 2  # one model's points, two labels


@pytest.mark.slow
def test_two_point_sweep_measures_scores_and_resumes(tmp_path, capsys):
    """CI's 2-point sweep: SmolLM2, rank 4, 2 and 4 steps, 2 held-out complaints each; then the same call again."""
    out = tmp_path / "sweep"
    table = sw.sweep(out, models=["smollm2-135m-instruct"], ranks=[4], steps=[2, 4], prompts=2, progress=False)
    assert list(zip(table["lora_r"], table["steps"])) == [(4, 2), (4, 4)]
    assert (table["train_kwh"] > 0).all() and (table["kwh_per_1000_answers"] > 0).all()
    assert table["energy_how"].str.contains("CPU").all()
    assert table["on_frontier"].any() and (table["invented_rate"].between(0, 1)).all()
    assert ((table["quality_low"] <= table["quality"]) & (table["quality"] <= table["quality_high"])).all()
    saved = pd.read_csv(out / "sweep.csv")
    assert list(saved["steps"]) == [2, 4] and (out / "sweep.png").stat().st_size > 10_000
    for steps in (2, 4):
        folder = out / f"smollm2-135m-instruct-r4-s{steps}"
        point = json.loads((folder / "point.json").read_text())
        record = json.loads((folder / "adapter" / "training.json").read_text())
        assert record["steps"] == steps and record["settings"]["lora_r"] == 4 and record["settings"]["lora_alpha"] == 4
        assert point["train_kwh"] == pytest.approx(record["energy"][0]["kWh"])
        assert len(pd.read_csv(folder / "answers.csv")) == 2
        from huggingface_hub import ModelCard

        card = ModelCard.load(folder / "adapter" / "README.md")  # the label travels with the adapters
        assert card.data.co2_eq_emissions["emissions"] == pytest.approx(record["energy"][0]["g CO2eq"], rel=1e-3)
        assert "from 2 answers" in card.text  # relabelled once the point had answered
        assert card.data.base_model == "smollm2-135m-instruct"  # a name any machine loads, not this cache's path
        assert "base_model:adapter:smollm2-135m-instruct" in card.data.tags
    first = capsys.readouterr().out
    assert first.count("== smollm2-135m-instruct") == 2
    # the takeaway: the 2-step point reached 90% of the 4-step point's quality, or no cheaper point did (then the
    # best point's cost beside the dearest's): which, depends on a few answers of a 2- and a 4-step model
    assert ("On smollm2-135m-instruct, rank 4 for 2 steps reached" in first and "of the best quality (rank 4, 4 steps)"
            in first) or "gave the best quality" in first
    again = sw.sweep(out, models=["smollm2-135m-instruct"], ranks=[4], steps=[2, 4], prompts=2, progress=False)
    assert "== smollm2" not in capsys.readouterr().out  # nothing trained again
    pd.testing.assert_frame_equal(again, table)


def _markdown(notebook: str, *ids: str) -> str:
    cells = json.loads((ROOT / "notebooks" / notebook).read_text())["cells"]
    return " ".join("".join(c["source"]) for c in cells if c.get("id") in ids)


def test_the_shipped_sweep_is_the_bench_and_the_notebook_says_what_it_shows():
    table = sw.course_sweep()
    pd.testing.assert_frame_equal(table, pd.read_csv(ROOT / "bench" / "results" / "sweep_cpu" / "sweep.csv"))
    assert len(table) == 18 and set(table["lora_r"]) == {4, 16, 64} and set(table["steps"]) == {20, 60, 120}
    assert list(table["model"].unique()) == ["smollm2-135m-instruct", "gemma-3-270m"] and (table["prompts"] == 16).all()
    text = re.sub(r"\s+", " ", _markdown("03_evaluation.ipynb", "c33a", "c33d"))
    minutes = (table["train_seconds"] + table["answer_seconds"]).sum() / 60
    assert "18 fine-tunes, about an hour on a 2-core CPU" in text and 45 < minutes < 75
    smol = table[(table["model"] == "smollm2-135m-instruct") & (table["steps"] == 20)]
    assert f"at 20 steps it scored at most {smol['quality'].max():.2f} ideas per 100 words" in text
    low, mid = table[table["final_loss"] < 0.1], table[table["final_loss"].between(0.5, 2.5)]
    assert low["quality"].max() < mid["quality"].min()
    copying = table[table["copied_rate"] > 0]
    assert (copying["final_loss"] < 0.2).all() and (table[table["final_loss"] < 0.2]["copied_rate"] > 0).all()
    assert (f"only the {len(copying)} runs whose training loss ended below 0.2 repeated 8 words or more of a training "
            f"reply, in {copying['copied_rate'].min():.0%} to {copying['copied_rate'].max():.0%} of their answers, "
            f"and the {len(low)} runs below 0.1 scored {low['quality'].min():.2f} to {low['quality'].max():.2f}, "
            f"below all {len(mid)} runs that stopped between a loss of 0.5 and 2.5 "
            f"({mid['quality'].min():.2f} to {mid['quality'].max():.2f})") in text
    rows = table.to_dict("records")
    overlapping = [a["quality_high"] >= b["quality_low"] and b["quality_high"] >= a["quality_low"]
                   for i, a in enumerate(rows) for b in rows[i + 1:]]
    assert "most points tie" in text and sum(overlapping) > len(overlapping) / 2


def test_the_readme_quotes_the_sweep_it_ships():
    table = sw.course_sweep()
    readme = re.sub(r"\s+", " ", (ROOT / "docs" / "energy.md").read_text().replace("\n> ", " "))  # was the README's
    assert sw.sweep_takeaway(table) in readme
    assert "Every point on the frontier trained for 20 steps" in readme
    assert set(table[table["on_frontier"]]["steps"]) == {20}
    copying = table[table["copied_rate"] > 0]
    assert (f"Only the runs whose training loss ended below 0.2 repeated 8 words or more of a training reply (in "
            f"{copying['copied_rate'].min():.0%} to {copying['copied_rate'].max():.0%} of their answers)") in readme
    assert (table[table["final_loss"] < 0.2]["copied_rate"] > 0).all() and (copying["final_loss"] < 0.2).all()


def test_copied_rate_finds_a_recited_training_reply():
    from stoic_workshop.energy_sweep import _training_replies, copied_rate

    reply = _training_replies()[0]
    recited = "Well. " + " ".join(reply.split()[:9]) + " and so on."
    assert copied_rate([recited, "The traffic is outside your control; your response is not."], [reply]) == 0.5
    assert copied_rate(["short answer"], [reply]) == 0.0
