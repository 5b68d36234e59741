"""The course's own files: the data, the notebooks and the slide deck, wherever the package was installed from.

The repository keeps one copy of each at its root (`data/`, `notebooks/`, `slides/`), where learners read them and
the Colab badges point. A wheel carries the same files inside the package as `stoic_workshop/course/<name>/`
(pyproject.toml maps the folders there), so a package installed from git or PyPI, used from an empty folder as
on Colab, finds them through `importlib.resources`. An editable install (`pip install -e .`) has no such copy and
reads the checkout's folders.

    from stoic_workshop.folders import course_dir
    course_dir("data") / "general_english.txt"

And the files a run writes: `RunFolder` names every file of a `stoic-workshop run` folder (pipeline, CLI, slides
and tests all read the layout from it).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

__all__ = ["COURSE_DIRS", "course_dir", "in_checkout", "writable_folder", "RunFolder"]

COURSE_DIRS = ("data", "notebooks", "slides")
CHECKOUT = Path(__file__).resolve().parent.parent


def in_checkout(name: str) -> bool:
    """True where `course_dir(name)` is the repository's own folder (an editable install), not the packaged copy."""
    return course_dir(name) == CHECKOUT / name


def course_dir(name: str) -> Path:
    """The folder of the course's `name` files ("data", "notebooks" or "slides"), read-only for the package.

    Example: `course_dir("notebooks") / "01_base_vs_instruct.ipynb"`
    """
    if name not in COURSE_DIRS:
        raise ValueError(f"course_dir takes one of {', '.join(COURSE_DIRS)}, got {name!r}")
    packaged = Path(str(files("stoic_workshop") / "course" / name))
    if packaged.is_dir():
        return packaged
    if (CHECKOUT / name).is_dir() and (CHECKOUT / "pyproject.toml").is_file():
        return CHECKOUT / name
    raise FileNotFoundError(
        f"The course's {name}/ files are missing: neither the installed package ({packaged}) nor a checkout of "
        f"the repository ({CHECKOUT / name}) has them. Reinstall the package (pip install --force-reinstall "
        "stoic-workshop) or run from a checkout installed with `pip install -e .`.")


def writable_folder(folder: str | os.PathLike, option: str = "--out") -> Path:
    """`folder`, created if needed, once it is known that files can be written there: otherwise a PermissionError
    that names the folder and the way out, before any work is done (a read-only folder crashed `run` and `export`
    with a traceback after minutes of work)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".stoic-write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as err:
        raise PermissionError(f"Cannot write into {folder} ({err.strerror or err}): pass {option} a folder you can "
                              "write, e.g. one in your home or working folder.") from None
    return folder


@dataclass(frozen=True)
class RunFolder:
    """The layout of a run folder (`stoic-workshop run --out DIR`): every file it holds, by name, in one place.

        data.jsonl  adapter/  loss.png  answers.csv  scores.csv  summary.csv  scores.png  forgetting.csv
        emissions.csv  merged/  stoic-q8_0.gguf  Modelfile  checks.csv  report.html  run.json  made_from.json

    Example: `RunFolder("stoic-run").report` -> Path("stoic-run/report.html")
    """

    root: Path

    def __init__(self, root: str | os.PathLike):
        object.__setattr__(self, "root", Path(root))

    data = property(lambda self: self.root / "data.jsonl")              # the training pairs, as trained on
    adapter = property(lambda self: self.root / "adapter")              # PEFT folder, training.json, checkpoints/
    training = property(lambda self: self.adapter / "training.json")    # the training record (finetune writes it)
    loss_plot = property(lambda self: self.root / "loss.png")
    answers = property(lambda self: self.root / "answers.csv")          # before / fine-tuned answers per prompt
    scores = property(lambda self: self.root / "scores.csv")
    summary = property(lambda self: self.root / "summary.csv")
    scores_plot = property(lambda self: self.root / "scores.png")
    forgetting = property(lambda self: self.root / "forgetting.csv")
    emissions = property(lambda self: self.root / "emissions.csv")      # CodeCarbon's, one row per phase
    merged = property(lambda self: self.root / "merged")                # the 16-bit merged model (merged.json)
    modelfile = property(lambda self: self.root / "Modelfile")          # for `ollama create`
    checks = property(lambda self: self.root / "checks.csv")            # each GGUF file run in llama.cpp
    report = property(lambda self: self.root / "report.html")
    record = property(lambda self: self.root / "run.json")              # the model, steps, and the log of steps
    made_from = property(lambda self: self.root / "made_from.json")     # what each output was made from
    lock = property(lambda self: self.root / "run.lock")                # held while a run works in the folder
    knowledge = property(lambda self: self.root / "knowledge")          # `stoic-workshop knowledge --out DIR/knowledge`

    @property
    def evaluation(self) -> tuple[Path, ...]:
        """The evaluation's outputs: all there, or the evaluation is not done."""
        return self.answers, self.scores, self.summary, self.forgetting, self.scores_plot

    def gguf(self, quant: str, name: str = "stoic") -> Path:
        """`RunFolder("stoic-run").gguf("q8_0")` -> Path("stoic-run/stoic-q8_0.gguf")"""
        return self.root / f"{name}-{quant}.gguf"
