"""Energy and emissions per workshop phase, measured with CodeCarbon.

Why measure at all: this is a course about *energy-efficient* small models, and "efficient" means little until the
learner sees a number for their own run. Why per phase: the cost of a fine-tune is not only the training loop, and
naming the phases ("data", "training", "evaluation", "export") shows where the energy actually goes.

    energy = Energy()                       # offline: UK grid intensity, no network
    with energy.phase("training"):
        trainer.train()
    energy.report()                         # a DataFrame, one row per phase
    print(energy)                           # the same in plain words, with comparisons
    energy.plot("energy.png")

Measuring must never get in the way of the work: if CodeCarbon is missing or fails, the phase still runs and the
report says "not measured" and why. Where the machine has no power counter (no RAPL: Colab, most VMs, laptops
without permissions), CodeCarbon *estimates* CPU power from CPU load and a TDP table; the report says so.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from contextlib import contextmanager
from dataclasses import dataclass, field

__all__ = ["Energy", "EnergyLabel", "label_model_card", "TRAINER_REPORT_TO"]

# transformers' Trainer starts its own CodeCarbon tracker (CodeCarbonCallback) whenever `report_to` includes
# "codecarbon" or is "all": it would measure the same work twice. Pass TrainingArguments(report_to=TRAINER_REPORT_TO)
# and measure training with `energy.phase("training")` instead.
TRAINER_REPORT_TO = "none"

# Energy of one full smartphone charge: ~0.012 kWh, the figure behind the US EPA Greenhouse Gas Equivalencies
# Calculator's "smartphones charged" (there ~8 g CO2 per charge, at the US grid's marginal rate). We compare energy,
# not grams, so the comparison holds on any grid: at CodeCarbon's UK intensity (237.6 g/kWh) one charge is ~3 g.
SMARTPHONE_CHARGE_KWH = 0.012

# Pre-training Llama 2 7B: 31.22 t CO2eq (Touvron et al. 2023, "Llama 2: Open Foundation and Fine-Tuned Chat Models",
# Table 2: 184,320 A100 GPU-hours). The whole Llama 2 family (7B to 70B) came to 539 t.
LLAMA2_7B_PRETRAINING_G = 31.22e6

# Published inference energy, as measured by their authors, for the energy label's comparison (`published`):
# - Luccioni, Jernite & Strubell, "Power Hungry Processing: Watts Driving the Cost of AI Deployment?", ACM FAccT 2024:
#   text generation, 0.047 kWh per 1,000 inferences (sd 0.03), the mean over their text-generation models, each
#   generating 10 new tokens per input, on an NVIDIA A100-SXM4-80GB measured with CodeCarbon.
# - Google, "Measuring the environmental impact of delivering AI at Google Scale" (August 2025): the median Gemini
#   Apps text prompt used 0.24 Wh (0.24 kWh per 1,000), counting TPUs, host CPU and memory, idle machines and the
#   data centre's overhead; 0.03 g CO2e per prompt, market-based.
PUBLISHED = (
    ("text generation, mean of the models in Luccioni et al. (FAccT 2024), 10 new tokens each, A100", 0.047),
    ("median Gemini Apps text prompt, Google (2025), whole serving stack", 0.24),
)
# How far CodeCarbon can be off: against an external power meter, errors of up to 40% over hundreds of AI experiments
# (Fischer, "Ground-Truthing AI Energy Consumption: Validating CodeCarbon Against External Measurements", arXiv
# 2509.22092, 2025).
CODECARBON_ERROR = 0.40

# CPU power read from a hardware energy counter; any other CodeCarbon CPU mode ("cpu_load", "constant") is a model.
_MEASURED_CPU_MODES = {"intel_rapl", "windows_emi", "intel_power_gadget"}
_MEASURING_CHIPS = {"AppleSiliconChip", "Raspberry"}  # powermetrics / the Pi's PMIC: measured, not modelled


@dataclass
class _Phase:
    name: str
    seconds: float = 0.0
    kwh: float = float("nan")
    g_co2eq: float = float("nan")
    power: str = "not measured"     # "measured", "estimated" or "not measured"
    note: str = ""
    parts: dict = field(default_factory=dict)  # {"GPU"|"CPU"|"RAM": (kWh, "measured" or "estimated")}
    hardware: str = ""              # what CodeCarbon found: GPUs and CPU
    items: int | None = None        # answers the phase produced (set inside the block): energy per 1,000
    resumed: str = ""               # a training resumed from a checkpoint: "all measured" or "earlier not measured"

    def add_note(self, text: str) -> None:
        self.note = "; ".join(filter(None, [self.note, text]))

    def record(self) -> dict:
        """The phase as a row: report()'s columns, plus its parts and hardware (a checkpoint's energy.json)."""
        return {"phase": self.name, "seconds": self.seconds, "kWh": self.kwh, "g CO2eq": self.g_co2eq,
                "power": self.power, "note": self.note, "parts": self.parts, "hardware": self.hardware}

    def fill(self, data, tracker) -> None:
        """Take a CodeCarbon reading: its EmissionsData, or its row in emissions.csv (the same names)."""
        self.kwh, self.g_co2eq = float(data.energy_consumed), 1000 * float(data.emissions)
        self.power, how = _power_source(tracker)
        self.add_note(how)
        cpu = self.power  # RAPL or a model; GPUs through NVML are read, RAM is always modelled by CodeCarbon
        self.parts = {name: (float(kwh), how) for name, kwh, how in (
            ("GPU", data.gpu_energy, "measured"), ("CPU", data.cpu_energy, cpu), ("RAM", data.ram_energy, "estimated"))
            if name != "GPU" or data.gpu_count}
        self.hardware = _hardware(data.gpu_count, data.gpu_model, data.cpu_model)


class Energy:
    """Measures named phases with CodeCarbon's OfflineEmissionsTracker, one tracker (and one CSV row) per phase.

    `country` is the ISO 3166 alpha-3 code whose average grid intensity converts kWh to CO2eq (offline: no location
    lookup). CodeCarbon appends a row per phase to `output_dir`/emissions.csv, with the phase as `project_name`.
    `enabled=False` runs and times the phases without measuring energy (e.g. to rule CodeCarbon out).
    `measure_power_secs` is CodeCarbon's sampling interval; the start and end of a phase are always sampled.

    Example: `energy = sw.Energy(country="GBR")`; then `with energy.phase("training"): ...` and `energy.report()`
    """

    def __init__(self, country: str = "GBR", output_dir: str = "runs/energy", enabled: bool = True,
                 measure_power_secs: float = 15):
        self.country = country
        self.output_dir = output_dir
        self.enabled = enabled
        self.measure_power_secs = measure_power_secs
        self.phases: list[_Phase] = []
        self._said: set[str] = set()
        self._running = None  # (tracker, record) of the phase being measured

    @property
    def csv_path(self) -> str:
        """CodeCarbon's own record: one row per measured phase, appended across runs."""
        return os.path.join(self.output_dir, "emissions.csv")

    @contextmanager
    def phase(self, name: str):
        """Measure the block as phase `name`. Its exceptions propagate unchanged; measuring problems never do.

        A block that raises is still recorded, measured up to the error, with the exception named in the note.
        Phases should not nest: each has its own tracker, so a nested phase would be counted twice in the total.
        """
        record = _Phase(name)
        self.phases.append(record)
        tracker = self._start(record)
        self._running = (tracker, record) if tracker is not None else None
        t0 = time.perf_counter()
        try:
            yield record  # `with energy.phase("answers") as phase: ...; phase.items = len(answers)`
        except BaseException as error:
            record.add_note(f"raised {type(error).__name__}")
            raise
        finally:
            self._running = None
            record.seconds = time.perf_counter() - t0
            if tracker is not None:
                self._stop(tracker, record)

    def so_far(self) -> dict | None:
        """The running phase measured up to now, as a dict (seconds, kWh, g CO2eq, power, parts, hardware), or None
        when nothing is being measured. Its row in emissions.csv is brought up to date too (CodeCarbon's `flush`), so
        a process killed later leaves this much on record. Training calls it at every checkpoint."""
        if self._running is None:
            return None
        tracker, record = self._running
        try:
            tracker.flush()
            import pandas as pd

            rows = pd.read_csv(self.csv_path)
            row = rows[rows.run_id == str(tracker.run_id)].iloc[-1]
            now = _Phase(record.name, seconds=float(row.duration))
            now.fill(row, tracker)
        except Exception:  # a measurement that cannot be read must spare the training
            return None
        return now.record()

    def resumed(self, phase: _Phase, step: str, earlier: list[dict] | None) -> None:
        """`phase` continued a training from its checkpoint at `step`: count the parts measured before it (`so_far`'s
        records, kept in the checkpoint; None where they were not measured), just before it, and say so."""
        phase.add_note(f"resumed from step {step}" + ("" if earlier is not None else
                                                      ": the steps before it were not measured"))
        phase.resumed = "all measured" if earlier is not None else "earlier not measured"
        note = (f"an earlier part of this training, measured up to its checkpoint at step {step} (the work after it "
                "was lost and is not counted)")
        parts = [_Phase(p["phase"], seconds=p["seconds"], kwh=p["kWh"], g_co2eq=p["g CO2eq"], power=p["power"],
                        note="; ".join(filter(None, [note, p.get("note", "")])),
                        parts={k: tuple(v) for k, v in p.get("parts", {}).items()}, hardware=p.get("hardware", ""))
                 for p in earlier or []]
        at = next(i for i, p in enumerate(self.phases) if p is phase)
        self.phases[at:at] = parts

    def _start(self, record: _Phase):
        """A started tracker, or None with the reason noted on `record`."""
        if not self.enabled:
            record.add_note("disabled")
            return None
        try:
            tracker = _new_tracker(record.name, self.country, self.output_dir, self.measure_power_secs)
            tracker.start()
        except Exception as error:  # whatever goes wrong in the measuring must spare the measured work
            record.add_note(self._not_measured(_why(error)))
            return None
        return tracker

    def _stop(self, tracker, record: _Phase) -> None:
        """Fill `record` from the tracker's data, or note why there is none."""
        try:
            tracker.stop()
        except Exception as error:
            _halt(tracker)
            record.add_note(self._not_measured(_why(error)))
            return
        data = getattr(tracker, "final_emissions_data", None)  # None when CodeCarbon swallowed an error of its own
        if data is None:
            record.add_note(self._not_measured("CodeCarbon failed inside and recorded nothing"))
            return
        record.fill(data, tracker)

    def _not_measured(self, reason: str) -> str:
        """Say once, in one line, that energy is not being measured, and return the reason for the report."""
        if reason not in self._said:
            self._said.add(reason)
            print(f"Energy not measured ({reason}); the work itself runs as usual.")
        return reason

    def report(self):
        """One row per phase, in order: seconds, kWh, g CO2eq, whether power was measured or estimated, and notes."""
        import pandas as pd

        return pd.DataFrame([p.record() for p in self.phases],
                            columns=["phase", "seconds", "kWh", "g CO2eq", "power", "note"])

    def label(self, training: str = "training") -> EnergyLabel:
        """The run's energy label: training kWh, kWh per 1,000 answers, g CO2eq on the named grid, and for each part
        (GPU, CPU, RAM) whether it was measured or estimated. Answers are counted by the phases that set `items`.

        Example: `energy.label()` -> EnergyLabel; `energy.label().co2_eq_emissions()` for a model card's metadata
        """
        measured = [p for p in self.phases if p.power != "not measured"]
        trained = [p for p in measured if p.name == training]
        answering = [p for p in measured if p.items]
        kwh, grams = sum(p.kwh for p in measured), sum(p.g_co2eq for p in measured)
        hows: dict[str, set] = {}
        for p in measured:
            for part, (_, how) in p.parts.items():
                hows.setdefault(part, set()).add(how)
        return EnergyLabel(
            training_kwh=sum(p.kwh for p in trained) if trained else None,
            kwh_per_1000_answers=(1000 * sum(p.kwh for p in answering) / sum(p.items for p in answering)
                                  if answering else None),
            answers=sum(p.items for p in answering), g_co2eq=grams if measured else None,
            training_g_co2eq=sum(p.g_co2eq for p in trained) if trained else None,
            country=self.country, g_per_kwh=grams / kwh if kwh > 0 else None,
            parts={part: " and ".join(sorted(h)) for part, h in hows.items()},
            hardware="; ".join(sorted({p.hardware for p in measured if p.hardware})),
            training_note=_resumed(trained))

    def __str__(self) -> str:
        measured = [p for p in self.phases if p.power != "not measured"]
        if not measured:
            reasons = sorted({p.note for p in self.phases}) or ["no phase run yet"]
            return f"Energy: nothing measured ({'; '.join(reasons)})."
        kwh, grams = sum(p.kwh for p in measured), sum(p.g_co2eq for p in measured)
        intensity = f" ({grams / kwh:.1f} g CO2eq per kWh)" if kwh > 0 else ""
        return "\n".join([f"Energy per phase ({self.country} grid):", *map(_line, self.phases),
                          f"Total: {kwh:.3g} kWh, {grams:.3g} g CO2eq{intensity}.",
                          _power_caveat(measured), in_context(kwh, grams)])

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return "<pre>" + str(self) + "</pre>" + self.report().to_html(index=False)

    def plot(self, path=None):
        """Bar chart of g CO2eq per phase (phases not measured show no bar); saved to `path` if given."""
        import matplotlib.pyplot as plt

        report = self.report()
        fig, ax = plt.subplots(figsize=(6, 2.6))
        ax.bar(report["phase"], report["g CO2eq"].fillna(0), color="#4c72b0")
        ax.set(ylabel="g CO2eq", title=f"Emissions per phase ({self.country} grid)")
        fig.tight_layout()
        if path:
            fig.savefig(path, dpi=120)
        return fig


@dataclass
class EnergyLabel:
    """What a run cost, in the numbers people remember: training kWh, kWh per 1,000 answers, grams of CO2eq on a
    named grid, and which parts were measured (GPU through NVML, CPU through RAPL) or estimated by CodeCarbon.

    `co2_eq_emissions()` is the same as Hugging Face model-card metadata, so it travels with the adapters.
    Example: `print(energy.label())`; `energy.label().table()` -> DataFrame
    """

    training_kwh: float | None
    kwh_per_1000_answers: float | None
    answers: int
    g_co2eq: float | None          # every measured phase
    training_g_co2eq: float | None
    country: str                   # the grid whose average intensity turns kWh into CO2eq (ISO 3166 alpha-3)
    g_per_kwh: float | None
    parts: dict                    # {"GPU": "measured", "CPU": "estimated", "RAM": "estimated"}
    hardware: str
    training_note: str = ""        # a training resumed from a checkpoint: how many parts, and whether all measured

    @property
    def how(self) -> str:
        """"GPU measured, CPU estimated, RAM estimated": how each part's energy was obtained."""
        return ", ".join(f"{part} {h}" for part, h in self.parts.items()) or "not measured"

    def table(self):
        """The label as rows: what, value, how it was obtained."""
        import pandas as pd

        how = self.how
        grid = f"{self.country} grid, {self.g_per_kwh:.1f} g CO2eq/kWh" if self.g_per_kwh else f"{self.country} grid"
        rows = [("training", _kwh(self.training_kwh), "; ".join(filter(None, [how, self.training_note]))),
                ("per 1,000 answers", _kwh(self.kwh_per_1000_answers),
                 f"{how}; from {self.answers} answers" if self.answers else "no answers counted"),
                ("emissions, whole run", f"{self.g_co2eq:.3g} g CO2eq" if self.g_co2eq is not None else "not measured",
                 grid),
                ("hardware", self.hardware or "unknown", "as CodeCarbon found it")]
        return pd.DataFrame(rows, columns=["energy label", "value", "how"])

    def published(self):
        """This run's kWh per 1,000 answers beside published figures, each as its authors measured it.

        Example: `energy.label().published()` -> DataFrame: what, kWh per 1,000, this run / it
        """
        import pandas as pd

        ours = self.kwh_per_1000_answers
        rows = [(f"this run ({self.how}; CodeCarbon can be off by up to {CODECARBON_ERROR:.0%})", ours,
                 1.0 if ours else None)]
        rows += [(what, kwh, ours / kwh if ours else None) for what, kwh in PUBLISHED]
        return pd.DataFrame(rows, columns=["answers", "kWh per 1,000", "this run / it"])

    def co2_eq_emissions(self) -> dict | None:
        """Hugging Face model-card metadata for the training run (grams of CO2eq), or None when nothing was measured."""
        if self.training_g_co2eq is None:
            return None
        return {"emissions": float(f"{self.training_g_co2eq:.4g}"), "source": f"CodeCarbon ({self.how})",
                "training_type": "fine-tuning", "geographical_location": f"{self.country} grid average",
                "hardware_used": self.hardware or "unknown"}

    def __str__(self) -> str:
        return "Energy label\n" + "\n".join(f"  {r['energy label']}: {r['value']} ({r['how']})"
                                            for r in self.table().to_dict("records"))

    def _repr_html_(self) -> str:
        return self.table().to_html(index=False)


CARD_HEADING = "## Energy (stoic-workshop)"


def label_model_card(folder, label: EnergyLabel | None) -> bool:
    """Put `label` in the model card (README.md) of an adapter or model folder: the `co2_eq_emissions` metadata that
    Hugging Face reads, and a short section with the whole label. Only the package's own section is replaced: what
    the learner wrote before or after it stays. The card describes the weights in the folder: with nothing measured
    (`label` None, or CodeCarbon failed), an earlier run's label is taken out and the section says "not measured".
    -> True when a label was written.

    Example: `label_model_card("adapters/stoic", energy.label())` -> True
    """

    from huggingface_hub import ModelCard

    path = Path(folder) / "README.md"
    if not path.is_file():
        return False
    metadata = label.co2_eq_emissions() if label is not None else None
    card = ModelCard.load(path)
    before, had, after = _split_section(card.text)
    if metadata is None:
        if not had and card.data.get("co2_eq_emissions") is None:
            return False  # never labelled: nothing stale to take out
        card.data.co2_eq_emissions = None
        section = (f"{CARD_HEADING}\n\nNot measured for the weights in this folder: they were trained again without "
                   "an energy measurement (CodeCarbon off, or it failed).\n")
    else:
        card.data.co2_eq_emissions = metadata
        rows = "\n".join(f"| {r['energy label']} | {r['value']} | {r['how']} |"
                         for r in label.table().to_dict("records"))
        section = (f"{CARD_HEADING}\n\nMeasured with CodeCarbon while this folder was made.\n\n"
                   f"| energy label | value | how |\n|---|---|---|\n{rows}\n")
    card.text = f"{before}\n\n{section}" + (f"\n{after}" if after else "")
    card.save(path)
    return metadata is not None


ENERGY_SO_FAR = "energy.json"  # in each checkpoint: the energy of the training up to it, part by part


def earlier_parts(checkpoint: Path | None) -> list[dict] | None:
    """The measured parts of the training that led to `checkpoint` ([] for a fresh start), None if not measured."""
    if checkpoint is None:
        return []
    try:
        found = json.loads((checkpoint / ENERGY_SO_FAR).read_text())
    except (OSError, ValueError):
        return None
    return found["parts"] if isinstance(found, dict) and found.get("complete") else None


def _resumed(trained: list[_Phase]) -> str:
    """What the label says of a training resumed from a checkpoint (`Energy.resumed`)."""
    resumed = [p.resumed for p in trained if p.resumed]
    if not resumed:
        return ""
    if "earlier not measured" in resumed:
        return "resumed from a checkpoint: the steps before it were not measured, so this counts only the last part"
    return f"resumed from a checkpoint: {len(trained)} parts, all counted"


def _split_section(text: str) -> tuple[str, bool, str]:
    """A card's text around the package's section: (before it, whether it was there, from the next heading of its
    level or above on)."""
    import re

    start = ("\n" + text + "\n").find("\n" + CARD_HEADING + "\n")
    if start < 0:
        return text.rstrip("\n"), False, ""
    rest = text[start + len(CARD_HEADING):]
    following = re.search(r"^#{1,2} ", rest, flags=re.M)
    return text[:start].rstrip("\n"), True, (rest[following.start():] if following else "")


def _kwh(value: float | None) -> str:
    return "not measured" if value is None else f"{value:.3g} kWh"


def _new_tracker(name: str, country: str, output_dir: str, measure_power_secs: float):
    """An offline CodeCarbon tracker for phase `name`, writing only to CSV, quiet below errors.

    Imported here, not at the top: codecarbon is optional and its absence must only cost the measurement.
    """
    from codecarbon import OfflineEmissionsTracker, OutputMethod

    logging.getLogger("codecarbon").setLevel(logging.ERROR)  # before construction, which already logs
    os.makedirs(output_dir, exist_ok=True)
    return OfflineEmissionsTracker(project_name=name, country_iso_code=country, output_dir=output_dir,
                                   output_methods=[OutputMethod.CSV], measure_power_secs=measure_power_secs,
                                   log_level="error", allow_multiple_runs=True,  # no lock file to go stale
                                   on_csv_write="update")  # a flush (Energy.so_far) updates the phase's one row


def _why(error: Exception) -> str:
    if isinstance(error, ImportError):
        return "codecarbon is not installed"
    return f"CodeCarbon failed: {type(error).__name__}: {error}"


def _halt(tracker) -> None:
    """Best effort after a failed stop(): stop CodeCarbon's background sampling threads so they don't run on."""
    for name in ("_scheduler", "_scheduler_monitor_power"):
        try:
            getattr(tracker, name).stop()
        except Exception:  # nothing more to do
            pass


def _power_source(tracker) -> tuple[str, str]:
    """("measured" or "estimated", how), from the hardware CodeCarbon set up for this tracker.

    CodeCarbon has no public flag for this; its hardware objects say it: a CPU whose `_mode` is "intel_rapl",
    "windows_emi" or "intel_power_gadget" is read from an energy counter, while "cpu_load" (load x TDP from its CPU
    table) and "constant" (half the TDP) are models. Anything unrecognised counts as estimated, never as measured.
    RAM power is always modelled by CodeCarbon; GPUs (NVML) are measured.
    """
    hardware = getattr(tracker, "_hardware", [])
    kinds = {type(h).__name__ for h in hardware}
    cpu_modes = {getattr(h, "_mode", None) for h in hardware if type(h).__name__ == "CPU"}
    gpu = "; GPU measured (NVML)" if "GPU" in kinds else ""
    if kinds & _MEASURING_CHIPS or (cpu_modes and cpu_modes <= _MEASURED_CPU_MODES):
        return "measured", "CPU power from a hardware counter" + gpu
    modes = ", ".join(sorted(map(str, cpu_modes))) or "no CPU found"
    return "estimated", f"CPU power estimated by CodeCarbon ({modes} mode: no power counter)" + gpu


def _hardware(gpu_count, gpu_model, cpu_model) -> str:
    """"1 x NVIDIA H200; Intel Xeon": CodeCarbon's GPU model already starts with the count of each kind."""
    model = str(gpu_model or "GPU")
    gpus = (model if model.split(" x ")[0].isdigit() else f"{int(gpu_count)} x {model}") if gpu_count else ""
    return "; ".join(filter(None, [gpus, str(cpu_model or "").strip()]))


def _line(p: _Phase) -> str:
    if p.power == "not measured":
        return f"  {p.name}: {p.seconds:.1f} s, not measured ({p.note})"
    how = ", ".join(f"{part} {h}" for part, (_, h) in p.parts.items()) if "GPU" in p.parts else p.power
    return f"  {p.name}: {p.seconds:.1f} s, {p.kwh:.3g} kWh, {p.g_co2eq:.3g} g CO2eq ({how})"


def _power_caveat(measured: list[_Phase]) -> str:
    gpu = sum(p.parts["GPU"][0] for p in measured if "GPU" in p.parts)
    total = sum(p.kwh for p in measured)
    read = (f" The GPUs, {gpu / total:.0%} of the energy here, were measured through NVML; RAM is always modelled."
            if gpu > 0 and total > 0 else "")
    if any(p.power == "estimated" for p in measured):
        return ("CPU power was ESTIMATED, not measured: no readable power counter (RAPL) here, so CodeCarbon modelled "
                "it from CPU load and a typical power (TDP) for this CPU." + (read or " Read the numbers as an order "
                                                                             "of magnitude."))
    return "CPU power was measured from a hardware energy counter." + read


def _two_figures(x: float) -> float:
    """`x` to two significant figures (18.25 -> 18, 0.5432 -> 0.54, 433611 -> 430000): the comparisons below are
    round figures, and CodeCarbon often estimates the power, so more digits would claim a precision nobody has."""
    return float(f"{x:.2g}")


def in_context(kwh: float, grams: float) -> str:
    charges = kwh / SMARTPHONE_CHARGE_KWH
    phone = (f"about {_two_figures(charges * 100):g}% of one smartphone charge" if charges < 1 else
             f"about {_two_figures(charges):g} smartphone charges")
    return (f"That is {phone} (~{SMARTPHONE_CHARGE_KWH} kWh). Pre-training Llama 2 7B emitted 31.22 t CO2eq, "
            f"{_times(LLAMA2_7B_PRETRAINING_G / grams)} times this." if grams > 0 else f"That is {phone}.")


def _times(n: float) -> str:
    for size, word in ((1e9, "billion"), (1e6, "million")):
        if n >= size:
            return f"{_two_figures(n / size):g} {word}"
    return f"{_two_figures(n):,.0f}"
