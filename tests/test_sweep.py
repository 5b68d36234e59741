"""The energy-against-quality sweep: the frontier's arithmetic, the sentence, and a real 2-point sweep (slow)."""

import json

import pandas as pd
import pytest

import stoic_workshop as sw
from stoic_workshop.cli import main


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


def test_bad_grid_is_refused_before_any_work(tmp_path, capsys):
    with pytest.raises(ValueError, match=r"ranks must be whole numbers of at least 1, e\.g\. ranks=\[4, 16, 64\]"):
        sw.sweep(tmp_path / "s", ranks=[0])
    assert main(["sweep", "--out", str(tmp_path / "s"), "--steps", "0"]) == 1
    assert "steps must be whole numbers" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()


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
    first = capsys.readouterr().out
    assert first.count("== smollm2-135m-instruct") == 2 and "of the best quality" in first
    again = sw.sweep(out, models=["smollm2-135m-instruct"], ranks=[4], steps=[2, 4], prompts=2, progress=False)
    assert "== smollm2" not in capsys.readouterr().out  # nothing trained again
    pd.testing.assert_frame_equal(again, table)
