"""Energy per phase: real CodeCarbon measuring real CPU work, and the work surviving every measuring failure."""

import json
import sys
import time
from pathlib import Path
from importlib.resources import files

import pytest
import torch

from stoic_workshop.energy import TRAINER_REPORT_TO, Energy

PHASES = ["data", "training"]


def _work(seconds: float) -> float:
    """Busy the CPU with matmuls for about `seconds`; return the time it really took."""
    t0 = time.perf_counter()
    a = torch.randn(256, 256)
    while time.perf_counter() - t0 < seconds:
        a = (a @ a).tanh()
    return time.perf_counter() - t0


@pytest.fixture(scope="module")
def measured(tmp_path_factory):
    """Two real phases measured once for the module: (energy, {phase: wall seconds of its work})."""
    energy = Energy(output_dir=str(tmp_path_factory.mktemp("energy")), measure_power_secs=1)
    walls = {}
    for name in PHASES:
        with energy.phase(name):
            walls[name] = _work(0.4)
    return energy, walls


def _gbr_intensity() -> float:
    """CodeCarbon's UK grid intensity, g CO2eq/kWh, from its own data (237.589 in 3.3.2: Ember/OWID 2023 figure)."""
    mix = json.loads((files("codecarbon") / "data/private_infra/global_energy_mix.json").read_text())
    return mix["GBR"]["carbon_intensity"]


def _rapl_readable() -> bool:
    from codecarbon.core.cpu import is_rapl_available

    return is_rapl_available()


def test_phases_measured_in_order(measured):
    energy, walls = measured
    report = energy.report()
    assert list(report["phase"]) == PHASES
    for row in report.to_dict("records"):
        assert row["seconds"] == pytest.approx(walls[row["phase"]], abs=0.05)
        assert row["kWh"] > 0
        # Offline, CodeCarbon turns energy into emissions with the country's average intensity only:
        # kg = kWh x g/kWh / 1000, and the report gives grams, so g = kWh x 237.589 for GBR.
        assert row["g CO2eq"] == pytest.approx(row["kWh"] * _gbr_intensity(), rel=1e-9)
        assert row["power"] == ("measured" if _rapl_readable() else "estimated")
    assert "ESTIMATED" in str(energy) or _rapl_readable()


def test_codecarbon_csv_has_a_row_per_phase(measured):
    import pandas as pd

    energy, _ = measured
    csv = pd.read_csv(energy.csv_path)
    assert list(csv["project_name"]) == PHASES
    assert list(csv["energy_consumed"]) == pytest.approx(list(energy.report()["kWh"]), rel=1e-9)
    assert set(csv["country_iso_code"]) == {"GBR"}


def test_summary_puts_numbers_in_context(measured):
    text = str(measured[0])
    assert all(name in text for name in PHASES)
    assert "smartphone charge" in text and "Llama 2 7B" in text and "237.6 g CO2eq per kWh" in text
    from stoic_workshop.energy import in_context  # two significant figures: the comparison is a round figure

    assert in_context(0.00219, 0.52).startswith("That is about 18% of one smartphone charge (~0.012 kWh).")
    assert "60 million times this" in in_context(0.00219, 0.52) and "4.2 smartphone charges" in in_context(0.05, 12)


def test_plot_writes_png(measured, tmp_path):
    path = tmp_path / "energy.png"
    fig = measured[0].plot(path)
    assert fig.axes[0].get_ylabel() == "g CO2eq"
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _run_phases(energy):
    """Both phases' work must run to the end whatever happens to the measuring."""
    done = []
    for name in PHASES:
        with energy.phase(name):
            done.append(_work(0.01))
    assert len(done) == 2


def _assert_not_measured(energy, reason, capsys):
    report = energy.report()
    assert list(report["power"]) == ["not measured"] * 2
    assert all(reason in note for note in report["note"])
    assert report["kWh"].isna().all() and (report["seconds"] > 0).all()
    printed = capsys.readouterr().out.strip().splitlines()
    assert len(printed) == 1 and reason in printed[0]  # one short line for both phases, no traceback


def test_work_runs_without_codecarbon(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "codecarbon", None)  # `import codecarbon` now raises ImportError
    energy = Energy(output_dir=str(tmp_path))
    _run_phases(energy)
    _assert_not_measured(energy, "codecarbon is not installed", capsys)
    assert "nothing measured" in str(energy)


@pytest.mark.parametrize("method", ["start", "stop"])
def test_work_survives_a_failing_tracker(method, monkeypatch, tmp_path, capsys):
    import codecarbon

    def broken(self):
        raise RuntimeError("sensor exploded")

    monkeypatch.setattr(codecarbon.OfflineEmissionsTracker, method, broken)
    energy = Energy(output_dir=str(tmp_path))
    _run_phases(energy)
    _assert_not_measured(energy, "RuntimeError: sensor exploded", capsys)


def test_error_in_phase_propagates_and_is_recorded(tmp_path):
    # Documented choice: the phase is kept, measured up to the error, and the note names the exception.
    energy = Energy(output_dir=str(tmp_path), measure_power_secs=1)
    with pytest.raises(ValueError, match="bad batch"):
        with energy.phase("training"):
            _work(0.05)
            raise ValueError("bad batch")
    row = energy.report().iloc[0]
    assert row["phase"] == "training" and row["kWh"] > 0
    assert "raised ValueError" in row["note"]


def test_disabled_runs_quietly(tmp_path, capsys):
    energy = Energy(output_dir=str(tmp_path), enabled=False)
    with energy.phase("export"):
        _work(0.01)
    assert energy.report()["power"].tolist() == ["not measured"]
    assert capsys.readouterr().out == "" and not (tmp_path / "emissions.csv").exists()


def test_trainer_must_not_start_a_second_tracker():
    assert TRAINER_REPORT_TO == "none"


# --- the energy label: what travels with the adapters and into report.html -------------------------------------


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """A training phase and an answers phase that says how many answers it produced."""
    energy = Energy(output_dir=str(tmp_path_factory.mktemp("label")), measure_power_secs=1)
    with energy.phase("training"):
        _work(0.4)
    with energy.phase("answers") as phase:
        _work(0.3)
        phase.items = 12
    return energy


def test_label_counts_training_and_answers_and_names_how(labelled):
    report = labelled.report().set_index("phase")
    label = labelled.label()
    assert label.training_kwh == pytest.approx(report.loc["training", "kWh"])
    assert label.kwh_per_1000_answers == pytest.approx(1000 * report.loc["answers", "kWh"] / 12)
    assert label.g_co2eq == pytest.approx(report["g CO2eq"].sum())
    assert label.g_per_kwh == pytest.approx(_gbr_intensity(), rel=1e-6) and label.country == "GBR"
    cpu = "measured" if _rapl_readable() else "estimated"
    assert label.parts == {"CPU": cpu, "RAM": "estimated"}  # no GPU here; RAM is always CodeCarbon's model
    for phase in labelled.phases:  # the parts add up to the phase's energy
        assert sum(kwh for kwh, _ in phase.parts.values()) == pytest.approx(phase.kwh, rel=1e-6)
    text = str(label)
    assert "per 1,000 answers" in text and "from 12 answers" in text and "GBR grid" in text and f"CPU {cpu}" in text


def test_label_metadata_is_hugging_face_s_co2_eq_emissions(labelled):
    meta = labelled.label().co2_eq_emissions()
    assert set(meta) == {"emissions", "source", "training_type", "geographical_location", "hardware_used"}
    assert meta["emissions"] == pytest.approx(labelled.label().training_g_co2eq, rel=1e-3)  # grams, as the spec says
    assert meta["source"].startswith("CodeCarbon") and meta["training_type"] == "fine-tuning"


def test_label_goes_into_the_model_card_once(labelled, tmp_path):
    from huggingface_hub import ModelCard

    from stoic_workshop.energy import CARD_HEADING, label_model_card

    (tmp_path / "README.md").write_text("---\nbase_model: smollm2-135m-instruct\nlibrary_name: peft\n---\n\n"
                                        "# Model Card\n\nAdapters.\n")
    assert label_model_card(tmp_path, labelled.label())
    assert label_model_card(tmp_path, labelled.label())  # a rerun replaces its own section
    card = ModelCard.load(tmp_path / "README.md")
    assert card.data.co2_eq_emissions == labelled.label().co2_eq_emissions()
    assert card.data.base_model == "smollm2-135m-instruct" and card.data.library_name == "peft"  # PEFT's kept
    assert card.text.count(CARD_HEADING) == 1 and "per 1,000 answers" in card.text


def test_nothing_measured_labels_nothing(tmp_path, monkeypatch):
    from stoic_workshop.energy import label_model_card

    energy = Energy(output_dir=str(tmp_path), enabled=False)
    with energy.phase("training"):
        pass
    label = energy.label()
    assert label.training_kwh is None and label.co2_eq_emissions() is None
    assert "not measured" in str(label)
    (tmp_path / "README.md").write_text("# card\n")
    assert not label_model_card(tmp_path, label) and (tmp_path / "README.md").read_text() == "# card\n"


def test_published_figures_sit_beside_this_run(labelled):
    table = labelled.label().published()
    ours = labelled.label().kwh_per_1000_answers
    assert table["kWh per 1,000"].tolist() == pytest.approx([ours, 0.047, 0.24])
    assert table["this run / it"].tolist() == pytest.approx([1.0, ours / 0.047, ours / 0.24])
    assert "up to 40%" in table["answers"][0] and "A100" in table["answers"][1] and "Gemini" in table["answers"][2]


BENCH = Path(__file__).resolve().parents[1] / "bench" / "results" / "energy_gpu_h200"


def _gpu_phases():
    """Phases CodeCarbon recorded on an H200 (bench/results/energy_gpu_h200): GPU measured, CPU and RAM estimated."""
    from stoic_workshop.energy import _Phase

    record = json.loads((BENCH / "gemma-3-270m" / "energy.json").read_text())
    return [_Phase(p["phase"], p["seconds"], p["kWh"], p["kWh"] * 237.6, p["power"], "",
                   {k: (v["kWh"], v["how"]) for k, v in p["parts"].items()}, "1 x NVIDIA H200", p["items"])
            for p in record["phases"]]


def test_a_gpu_run_says_which_parts_were_measured():
    from stoic_workshop.energy import _hardware, _line, _power_caveat

    phases = _gpu_phases()
    assert _line(phases[0]).endswith("(GPU measured, CPU estimated, RAM estimated)")
    gpu = sum(p.parts["GPU"][0] for p in phases) / sum(p.kwh for p in phases)
    assert f"The GPUs, {gpu:.0%} of the energy here, were measured through NVML" in _power_caveat(phases)
    assert 0.5 < gpu < 1  # the H200 drew most of it; CodeCarbon's CPU and RAM models the rest
    assert _hardware(1, "1 x NVIDIA H200", "Intel Xeon") == "1 x NVIDIA H200; Intel Xeon"  # CodeCarbon's own count
    assert _hardware(2, "NVIDIA H200", "Intel Xeon") == "2 x NVIDIA H200; Intel Xeon"
    assert _hardware(0, None, "AMD EPYC") == "AMD EPYC"


def test_the_readme_gpu_table_is_the_bench():
    """docs/energy.md's H200 table, row by row, from bench/results/energy_gpu_h200/*/energy.json."""
    readme = (Path(__file__).resolve().parents[1] / "docs" / "energy.md").read_text()
    for folder, name in (("gemma-3-270m", "Gemma 3 270M, real weights"),
                         ("gemma2-2b-random", "Gemma 2 2B shape, random weights")):
        r = json.loads((BENCH / folder / "energy.json").read_text())
        phase = {p["phase"]: p for p in r["phases"]}
        share = [phase[n]["parts"]["GPU"]["kWh"] / phase[n]["kWh"] for n in ("training", "answers")]
        row = (f"| {name} | {r['training_kwh']:.3g} | {r['kwh_per_1000_answers']:.3g} "
               f"| {share[0]:.0%} / {share[1]:.0%} | {r['mean_answer_tokens']:.0f} |")
        assert row in readme, row
        assert r["answers"] == 64 and r["steps"] == 60 and r["gpu"] == "NVIDIA H200"
    answers = {p["phase"]: p for p in json.loads((BENCH / "gemma-3-270m" / "energy.json").read_text())["phases"]}
    watts = answers["answers"]["parts"]["GPU"]["kWh"] * 3.6e6 / answers["answers"]["seconds"]
    assert f"drew {watts:.0f} W on average" in readme
