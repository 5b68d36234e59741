"""The main job: run the course notebooks headless and keep the executed copies to open later.

Each notebook is copied out of the package into a working folder and run there, as a learner runs it: what it
writes (adapters/, eval/, deploy/) lands beside it, never inside the package or the repository's `notebooks/`.
Together (the default) all four share one folder, as in one Jupyter session, so notebook 3 reads the adapters
notebook 2 saved. `alone=True` gives each its own empty folder, as Colab opens a notebook from its badge on a fresh
machine. A cell that fails still leaves the executed notebook (with the error in it) on disk.

The exercises ("## Your turn! (easy|more|stretch)") start undone: each holds one stub cell of assignments marked
`# TODO` (`MY_PROMPT = ...  # TODO: ...`), whose check then says "not done yet", and the notebook runs through.
`solutions=True` (`stoic-workshop workshop --solutions`, as CI runs them) first replaces each stub cell with the
```python block of the "Solution and discussion" cell that follows it, the one place a solution is written, so
every check is run on its solution. A notebook whose exercise lacks a level, a stub or a solution is refused then.

`rehearsal=True` (`stoic-workshop workshop --rehearsal`) runs every notebook at rehearsal size, through the settings
an instructor can also set by hand (REHEARSAL below): the same cells and checks, a few training steps and a few facts.
"""

from __future__ import annotations

import ast
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .folders import course_dir

__all__ = ["NOTEBOOKS", "REHEARSAL", "LEVELS", "Exercise", "exercises", "fill_in_solutions", "notebooks_dir",
           "run_notebook", "workshop"]

NOTEBOOKS = ["01_base_vs_instruct.ipynb", "02_finetune.ipynb", "03_evaluation.ipynb", "04_deploy.ipynb",
             "05_knowledge.ipynb"]


# Rehearsal size: the environment variables the notebooks read for their sizes, and small values for them. Notebooks
# 2-4 train STOIC_TRAIN_STEPS steps (the workshop's 60); notebook 3 evaluates on STOIC_EVAL_PROMPTS held-out
# complaints (16) and calibrates its judge on STOIC_CALIBRATION_PER_LABEL hand-graded answers of each label (all
# 25, 5 of each of 5 labels); notebook 5 trains each LoRA arm STOIC_KNOWLEDGE_STEPS steps (120) on
# STOIC_KNOWLEDGE_FACTS of its 173 facts (all). A value already set in the environment wins. docs/notebooks.md has
# the table.
REHEARSAL = {"STOIC_TRAIN_STEPS": "8", "STOIC_EVAL_PROMPTS": "2", "STOIC_CALIBRATION_PER_LABEL": "1",
             "STOIC_KNOWLEDGE_STEPS": "2", "STOIC_KNOWLEDGE_FACTS": "3"}


def notebooks_dir() -> Path:
    """The clean course notebooks: packaged with the wheel, or the checkout's notebooks/ (see folders.py)."""
    return course_dir("notebooks")


LEVELS = ("easy", "more", "stretch")  # as the smol-course marks its exercises
EXERCISE = "## Your turn!"
_LEVEL = re.compile(r"^## Your turn! \((\w+)\)")
_TODO = re.compile(r"#\s*TODO\b")
_SOLUTION = re.compile(r"```python\n(.*?)```", re.S)
FILLED = "# The solution, filled in by `stoic-workshop workshop --solutions`\n"


@dataclass
class Exercise:
    """One "Your turn!" exercise: its cells by index in the notebook, and what the runner needs to fill it in."""

    heading: int                     # the "## Your turn! (level)" markdown cell
    level: str | None                # "easy", "more" or "stretch", from the heading
    stubs: list[int]                 # code cells holding "# TODO" (or, filled in, the solution): one, assignments only
    names: tuple[str, ...]           # what the stub assigns, e.g. ("MY_TARGETS", "MY_RANK")
    solution: str | None             # the ```python block of the first "<details>" cell after the stub

    def problems(self) -> list[str]:
        """What keeps the runner from filling this exercise in; [] when nothing does."""
        found = []
        if self.level not in LEVELS:
            found.append(f"its heading names no level: write '{EXERCISE} (easy)', '(more)' or '(stretch)'")
        if len(self.stubs) != 1:
            found.append(f"it has {len(self.stubs)} code cells with '# TODO', not one stub cell")
        elif not self.names:
            found.append("its stub cell must hold assignments only, e.g. MY_PROMPT = ...  # TODO: ...")
        if self.solution is None:
            found.append("no ```python block in a 'Solution and discussion' (<details>) cell after its stub")
        elif self.names and not set(self.names) <= _assigned(self.solution):
            found.append(f"its solution does not set {', '.join(sorted(set(self.names) - _assigned(self.solution)))}")
        return found


def _assigned(source: str) -> set[str]:
    """Names a cell sets at its top level."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) else []
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


def _only_assignments(source: str) -> bool:
    try:
        return all(isinstance(node, (ast.Assign, ast.AnnAssign)) for node in ast.parse(source).body)
    except SyntaxError:
        return False


def exercises(notebook) -> list[Exercise]:
    """The exercises of a notebook (an nbformat node), in order: each from its "## Your turn!" heading to the next
    markdown heading. Example: `exercises(nbformat.read(path, as_version=4))[0].level  # -> "easy"`"""
    cells = notebook.cells
    found = []
    for start, cell in enumerate(cells):
        if cell.cell_type != "markdown" or not cell.source.startswith(EXERCISE):
            continue
        end = next((i for i in range(start + 1, len(cells))
                    if cells[i].cell_type == "markdown" and cells[i].source.startswith("#")), len(cells))
        level = _LEVEL.match(cell.source)
        stubs = [i for i in range(start + 1, end) if cells[i].cell_type == "code"  # the stub, or its solution
                 and (_TODO.search(cells[i].source) or cells[i].source.startswith(FILLED))]
        names, solution = (), None
        if len(stubs) == 1:
            source = cells[stubs[0]].source
            names = tuple(sorted(_assigned(source))) if _only_assignments(source) else ()
            details = next((cells[i].source for i in range(stubs[0] + 1, end)
                            if cells[i].cell_type == "markdown" and cells[i].source.startswith("<details>")), "")
            block = _SOLUTION.search(details)
            solution = block.group(1).strip() + "\n" if block else None
        found.append(Exercise(start, level.group(1) if level else None, stubs, names, solution))
    return found


def fill_in_solutions(notebook, name: str = "the notebook") -> int:
    """Replace each exercise's stub cell with its solution code, in place; how many were filled in.

    Raises ValueError naming the exercise when one has no level, stub or solution the runner can use.
    """
    filled = 0
    for exercise in exercises(notebook):
        problems = exercise.problems()
        if problems:
            raise ValueError(f"{name}: the exercise at cell {exercise.heading} cannot be filled in: "
                             + "; ".join(problems))
        notebook.cells[exercise.stubs[0]].source = FILLED + exercise.solution
        filled += 1
    return filled


def run_notebook(path: str | os.PathLike, out_dir: str | os.PathLike, timeout: int = 3600, *,
                 solutions: bool = False) -> Path:
    """Execute a notebook top to bottom in its own folder and write the executed copy to `out_dir`.

    `solutions=True`: the exercises' stub cells are replaced with their solutions first (`fill_in_solutions`).
    Example: `run_notebook("notebooks/01_base_vs_instruct.ipynb", "runs")`
    Raises RuntimeError naming the failing cell; the partial executed copy is written first.
    """
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    path = Path(path)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    notebook = nbformat.read(path, as_version=4)
    if solutions:
        fill_in_solutions(notebook, path.name)
    target = out_dir / path.name
    with tempfile.TemporaryDirectory(prefix="stoic-kernel-") as sockets:
        # Local sockets (ipc) where the platform has them: nothing listens on a network port. The socket
        # path must be absolute, because the kernel runs in the notebook's folder.
        kernel = (KernelManager(kernel_name="python3") if os.name == "nt" else
                  KernelManager(kernel_name="python3", transport="ipc", ip=os.path.join(sockets, "kernel")))
        client = NotebookClient(notebook, km=kernel, timeout=timeout,
                                resources={"metadata": {"path": str(path.parent)}})
        try:
            client.execute()
        except CellExecutionError as err:
            raise RuntimeError(f"{path.name} failed; the executed copy with the error is at {target}\n{err}") from err
        finally:
            nbformat.write(notebook, target)
            if kernel.has_kernel:
                kernel.shutdown_kernel(now=True)
    _write_html(notebook, target.with_suffix(".html"))
    return target


def _write_html(notebook, target: Path) -> None:
    """An HTML copy opens in any browser, for people without Jupyter."""
    try:
        from nbconvert import HTMLExporter
    except ImportError:
        return
    body, _ = HTMLExporter().from_notebook_node(notebook)
    target.write_text(body, encoding="utf-8")


def workshop(out_dir: str | os.PathLike = "runs", profile: str = "offline", *, alone: bool = False,
             names: list[str] | None = None, solutions: bool = False, rehearsal: bool = False) -> list[Path]:
    """Run the course notebooks (all of them, or `names`) on `profile` (the embedded offline models by default).

    Each is copied fresh from the package into `out_dir` (or, with `alone=True`, into `out_dir/<notebook name>/`)
    and executed there; the executed copy replaces that copy, beside what the notebook wrote.
    `solutions=True` (`--solutions`): each exercise's stub cell is replaced with the code of its "Solution and
    discussion" cell before the run, so every check runs on its solution (CI runs them so); without it the
    exercises stay undone, as a learner opens them, and their checks say "not done yet".
    `rehearsal=True` (`--rehearsal`): the notebooks run at rehearsal size (REHEARSAL's settings, unless set already).
    Example: `workshop("runs")` -> [Path("runs/01_base_vs_instruct.ipynb"), ...]
    """
    from .models import OFFLINE_PAIR, model_folder

    names = [n if n.endswith(".ipynb") else n + ".ipynb" for n in names or []]  # "03_evaluation" is enough
    unknown = sorted(set(names) - set(NOTEBOOKS))
    if unknown:
        raise ValueError(f"No course notebook named {', '.join(unknown)}; the notebooks are {', '.join(NOTEBOOKS)}.")
    os.environ["STOIC_PROFILE"] = profile  # the notebook kernels inherit it
    if rehearsal:
        for key, value in REHEARSAL.items():
            os.environ.setdefault(key, value)
        print("Rehearsal size: " + ", ".join(f"{key}={os.environ[key]}" for key in REHEARSAL), flush=True)
    if profile == "offline":
        for name in OFFLINE_PAIR:
            model_folder(name)  # converts once, with a progress bar, before any kernel starts
    written = []
    for name in names or NOTEBOOKS:
        start = time.time()
        folder = Path(out_dir) / Path(name).stem if alone else Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"Running {name} in {folder}{' with the solutions filled in' if solutions else ''} ...", flush=True)
        copy = Path(shutil.copyfile(notebooks_dir() / name, folder / name))
        target = run_notebook(copy, folder, solutions=solutions)
        html = target.with_suffix(".html")
        also = f" and {html}" if html.exists() else ""
        print(f"  done in {time.time() - start:.0f} s -> {target}{also}")
        written.append(target)
    return written
