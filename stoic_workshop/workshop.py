"""The main job: run the course notebooks headless and keep the executed copies to open later.

Each notebook is copied out of the package into a working folder and run there, as a learner runs it: what it
writes (adapters/, eval/, deploy/) lands beside it, never inside the package or the repository's `notebooks/`.
Together (the default) all four share one folder, as in one Jupyter session, so notebook 3 reads the adapters
notebook 2 saved. `alone=True` gives each its own empty folder, as Colab opens a notebook from its badge on a fresh
machine. A cell that fails still leaves the executed notebook (with the error in it) on disk.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

from .files import course_dir

__all__ = ["NOTEBOOKS", "notebooks_dir", "run_notebook", "workshop"]

NOTEBOOKS = ["01_base_vs_instruct.ipynb", "02_finetune.ipynb", "03_evaluation.ipynb", "04_deploy.ipynb",
             "05_knowledge.ipynb"]


def notebooks_dir() -> Path:
    """The clean course notebooks: packaged with the wheel, or the checkout's notebooks/ (see files.py)."""
    return course_dir("notebooks")


def run_notebook(path: str | os.PathLike, out_dir: str | os.PathLike, timeout: int = 3600) -> Path:
    """Execute a notebook top to bottom in its own folder and write the executed copy to `out_dir`.

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
             names: list[str] | None = None) -> list[Path]:
    """Run the course notebooks (all of them, or `names`) on `profile` (the embedded offline models by default).

    Each is copied fresh from the package into `out_dir` (or, with `alone=True`, into `out_dir/<notebook name>/`)
    and executed there; the executed copy replaces that copy, beside what the notebook wrote.
    Example: `workshop("runs")` -> [Path("runs/01_base_vs_instruct.ipynb"), ...]
    """
    from .models import OFFLINE_PAIR, model_folder

    unknown = sorted(set(names or []) - set(NOTEBOOKS))
    if unknown:
        raise ValueError(f"No course notebook named {', '.join(unknown)}; the notebooks are {', '.join(NOTEBOOKS)}.")
    os.environ["STOIC_PROFILE"] = profile  # the notebook kernels inherit it
    if profile == "offline":
        for name in OFFLINE_PAIR:
            model_folder(name)  # converts once, with a progress bar, before any kernel starts
    written = []
    for name in names or NOTEBOOKS:
        start = time.time()
        folder = Path(out_dir) / Path(name).stem if alone else Path(out_dir)
        folder.mkdir(parents=True, exist_ok=True)
        print(f"Running {name} in {folder} ...", flush=True)
        copy = Path(shutil.copyfile(notebooks_dir() / name, folder / name))
        target = run_notebook(copy, folder)
        html = target.with_suffix(".html")
        also = f" and {html}" if html.exists() else ""
        print(f"  done in {time.time() - start:.0f} s -> {target}{also}")
        written.append(target)
    return written
