"""The package as a Colab attendee gets it: built into a wheel, installed (not editable), used from an empty folder.

.ci/run builds dist/ (sdist and wheel) and installs the wheel into its own venv ($STOIC_WHEEL_VENV) the way the
notebooks' install cell does. Outside CI these tests run only where that venv exists.
"""

import json
import os
import subprocess
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(os.environ["STOIC_WHEEL_VENV"]) if os.environ.get("STOIC_WHEEL_VENV") else None
if VENV is None and os.environ.get("CI"):
    pytest.fail("CI tests the built wheel: .ci/run sets STOIC_WHEEL_VENV", pytrace=False)
pytestmark = pytest.mark.skipif(VENV is None, reason="no wheel venv: run .ci/run, or set STOIC_WHEEL_VENV")


def _course_files() -> list[str]:
    """Every tracked file of the course's folders: what the package reads at run time, and what learners see."""
    listed = subprocess.run(["git", "ls-files", "data", "notebooks", "slides"], capture_output=True, text=True,
                            cwd=ROOT, check=True).stdout.split()
    assert len(listed) > 20
    return listed


def _in(venv: Path, cwd: Path, *args: str, timeout: int = 1800) -> subprocess.CompletedProcess:
    """Run a command of the wheel's venv in `cwd`, with nothing of the checkout on the import path."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"
    return subprocess.run(list(args), capture_output=True, text=True, cwd=cwd, env=env, timeout=timeout)


def test_the_wheel_and_the_sdist_carry_every_course_file_unchanged():
    wheel = next((ROOT / "dist").glob("stoic_workshop-*.whl"))
    sdist = next((ROOT / "dist").glob("stoic_workshop-*.tar.gz"))
    with zipfile.ZipFile(wheel) as whl, tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        for name in _course_files():
            original = (ROOT / name).read_bytes()
            assert whl.read(f"stoic_workshop/course/{name}") == original, name  # one copy, packaged as it is
            assert tar.extractfile(f"{top}/{name}").read() == original, name    # a wheel built from the sdist too


def test_the_installed_package_reads_its_files_from_inside_itself(tmp_path):
    script = """
import json, stoic_workshop as sw
from stoic_workshop.evaluate import general_text
from stoic_workshop.folders import course_dir
from stoic_workshop.judging import CALIBRATION_FILE
print(json.dumps({
    "file": sw.__file__, "data": str(course_dir("data")), "notebooks": str(course_dir("notebooks")),
    "prompts": len(sw.eval_prompts()), "general_words": len(general_text().split()),
    "calibration": len(CALIBRATION_FILE.read_text().splitlines()),
    "stoic": sw.stoic_score("Some things are within our control, and some are not."),
    "meaning": sw.meaning_score(["Some things are within our control: our judgements. Accept the rest."]),
}))
"""
    run = _in(VENV, tmp_path, "python", "-c", script)
    assert run.returncode == 0, run.stderr[-3000:]
    found = json.loads(run.stdout.strip().splitlines()[-1])
    site = VENV.resolve()
    for key in ("file", "data", "notebooks"):
        assert Path(found[key]).resolve().is_relative_to(site), (key, found[key])  # not the checkout
    assert found["prompts"] == 16 and found["general_words"] > 3000 and found["calibration"] >= 20
    assert found["stoic"] > 0 and found["meaning"][0] > 0


def test_data_and_slides_are_written_to_the_working_folder_never_into_the_package(tmp_path):
    run = _in(VENV, tmp_path, "stoic-workshop", "data")
    assert run.returncode == 0, run.stderr[-3000:]
    written = (tmp_path / "data" / "stoic_train.jsonl").read_bytes()
    assert written == (ROOT / "data" / "stoic_train.jsonl").read_bytes()
    show = "from stoic_workshop.slides import slides_workdir; print(slides_workdir())"
    run = _in(VENV, tmp_path, "python", "-c", show)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.strip() == "slides"
    assert (tmp_path / "slides" / "deck.md").read_bytes() == (ROOT / "slides" / "deck.md").read_bytes()
    assert (tmp_path / "slides" / "figures" / "loss.png").is_file()
    assert (tmp_path / "slides" / "package-lock.json").is_file()  # so `npm ci --prefix slides` installs Marp here


def test_the_main_job_runs_from_an_empty_folder(finished_run):
    """`stoic-workshop run --steps 2 --prompts 2`: data, training, evaluation, merge, GGUF, report, from the wheel
    (conftest.finished_run runs the wheel's command where this venv exists, in an empty folder)."""
    out, _ = finished_run
    record = json.loads((out / "adapter" / "training.json").read_text())
    assert record["steps"] == 2
    assert (out / "report.html").stat().st_size > 10_000
    with open(next(out.glob("*.gguf")), "rb") as f:
        assert f.read(4) == b"GGUF"
    assert sorted(p.name for p in out.parent.iterdir()) == ["run"]  # nothing written beside the folder it was given


def test_the_install_cell_keeps_the_torch_colab_ships(tmp_path):
    """The install cell's own pip line, resolved by pip (a dry run against PyPI) where torch 2.9.0 is installed, as
    Colab ships it: the `colab` profile goes in at its pins and torch, torchvision and triton stay as they are.
    Without the cell's torch pin the same resolution replaces torch (measured: 2.14.1 and 16 nvidia-* packages)."""
    import shlex
    import sys

    import nbformat

    cell = next(c.source for c in nbformat.read(ROOT / "notebooks" / "01_base_vs_instruct.ipynb", as_version=4).cells
                if "%pip install" in c.source)
    line = next(x for x in cell.splitlines() if "{SOURCE}" in x and "%pip install" in x)
    wheel = next((ROOT / "dist").glob("stoic_workshop-*.whl")).resolve()
    args = shlex.split(line.split("%pip install", 1)[1].split("#")[0].format(
        PROFILE="colab", SOURCE=wheel.as_uri(), KEEP="torch==2.9.0"))
    colab = tmp_path / "colab"
    subprocess.run([sys.executable, "-m", "venv", str(colab)], check=True)
    site = next((colab / "lib").glob("python3*/site-packages"))
    for name, version in {"torch": "2.9.0", "torchvision": "0.24.0", "triton": "3.5.0"}.items():
        info = site / f"{name}-{version}.dist-info"   # installed, as far as pip can tell: metadata only
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "INSTALLER").write_text("pip\n")
        (info / "RECORD").write_text("")
    report = tmp_path / "report.json"
    run = subprocess.run([str(colab / "bin" / "pip"), "install", "--dry-run", "--report", str(report), *args],
                         capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    installs = json.loads(report.read_text())["install"]
    chosen = {i["metadata"]["name"].lower(): i["metadata"]["version"] for i in installs}
    assert not {"torch", "torchvision", "triton"} & set(chosen)  # Colab's own builds stay
    assert chosen["unsloth"] == "2026.10.9" and chosen["transformers"] == "5.17.0" and chosen["trl"] == "1.15.0"
    assert chosen["stoic-workshop"] == "0.1.0"
