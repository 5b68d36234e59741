"""The course's own files: the data, the notebooks and the slide deck, wherever the package was installed from.

The repository keeps one copy of each at its root (`data/`, `notebooks/`, `slides/`), where learners read them and
the Colab badges point. A wheel carries the same files inside the package as `stoic_workshop/course/<name>/`
(pyproject.toml maps the folders there), so a package installed from git or PyPI, used from an empty folder as
on Colab, finds them through `importlib.resources`. An editable install (`pip install -e .`) has no such copy and
reads the checkout's folders.

    from stoic_workshop.files import course_dir
    course_dir("data") / "general_english.txt"
"""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

__all__ = ["COURSE_DIRS", "course_dir", "in_checkout"]

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
