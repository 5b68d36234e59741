"""Every course notebook at full size, and at CI's rehearsal size beside it, on this machine (the course's CPU road).

    python bench/course_cpu.py [--venv .ci-wheel-venv] [--out bench/results/course_cpu] [--sizes full,rehearsal]
                               [NOTEBOOK ...]
    python bench/course_cpu.py --table [FOLDER]         # print a recorded run's table again

Each notebook runs alone in an empty folder, as Colab opens it from its badge, through `stoic-workshop workshop
--alone --solutions` of the venv given (the built wheel installed, not editable, as .ci/run makes it; default: the
`stoic-workshop` on PATH), on the offline models. `full` is the workshop's size (60 training steps; notebook 5's 120
steps a LoRA arm on all 173 facts); `rehearsal` adds `--rehearsal`, the size CI runs (workshop.REHEARSAL). The
models must be converted already (`stoic-workshop prepare`), so no notebook pays for that.

OUT gets:
- times.json: per size and notebook, the seconds; the machine (cores, CPU, memory), versions and date;
- results/<size>/<notebook>.ipynb: the executed notebooks, every output in them;
- results/<size>/<notebook>/...: the small files that hold each notebook's results (training.json, answers and
  scores, the GGUF check, the knowledge table);
- table.md: seconds per notebook, full against rehearsal, with the ratio.
The times and results the notebooks' prose states are this run's (tests/test_notebooks.py holds them together).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from stoic_workshop.workshop import REHEARSAL  # the variables that set a notebook's size

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ["01_base_vs_instruct", "02_finetune", "03_evaluation", "04_deploy", "05_knowledge"]
# the small files that hold a notebook's results, relative to its folder (what the prose and the tests read)
KEEP = {
    "02_finetune": ["adapters/stoic/trainer_state.json"],
    "03_evaluation": ["eval/answers.csv", "adapters/stoic/training.json"],
    "04_deploy": ["deploy/Modelfile", "adapters/stoic/training.json"],
    "05_knowledge": ["knowledge/knowledge.csv", "knowledge/answers.csv"],
}


def machine() -> dict:
    import psutil

    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return {"cores": os.cpu_count(), "cpu": cpu, "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "python": platform.python_version(), "date": time.strftime("%Y-%m-%d")}


def versions(command: str) -> dict:
    python = Path(command).with_name("python")
    python = str(python) if python.exists() else sys.executable
    code = ("import importlib.metadata as m, json; print(json.dumps({p: m.version(p) for p in "
            "['stoic-workshop', 'torch', 'transformers', 'peft', 'trl']}))")
    done = subprocess.run([python, "-c", code], capture_output=True, text=True)
    return json.loads(done.stdout) if done.returncode == 0 else {}


def run(command: str, notebook: str, size: str, out: Path) -> float:
    """One notebook alone in an empty folder; its executed copy and result files into `out`/results/`size`."""
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["PATH"] = f"{Path(command).parent}:{env.get('PATH', '')}"
    for key in REHEARSAL:
        env.pop(key, None)  # the size is the one asked for, not one left in the shell
    with tempfile.TemporaryDirectory(prefix="course-bench-") as work:
        empty = Path(work) / "empty"
        empty.mkdir()
        flags = ["--rehearsal"] if size == "rehearsal" else []
        start = time.perf_counter()
        done = subprocess.run([command, "workshop", "--alone", "--solutions", *flags, "--out", work, notebook],
                              cwd=empty, env=env, capture_output=True, text=True)
        seconds = time.perf_counter() - start
        folder = Path(work) / notebook
        kept = out / "results" / size
        kept.mkdir(parents=True, exist_ok=True)
        if (folder / f"{notebook}.ipynb").exists():
            shutil.copyfile(folder / f"{notebook}.ipynb", kept / f"{notebook}.ipynb")
        for name in KEEP.get(notebook, []):
            if (folder / name).exists():
                (kept / notebook / name).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(folder / name, kept / notebook / name)
        if done.returncode != 0:
            raise SystemExit(f"{notebook} ({size}) failed after {seconds:.0f} s:\n{done.stdout[-3000:]}"
                             f"\n{done.stderr[-3000:]}")
    return seconds


def table(record: dict) -> str:
    """Seconds per notebook at each size, and full size as a multiple of the rehearsal (CI's) size."""
    full, rehearsal = (record["seconds"].get(size, {}) for size in ("full", "rehearsal"))
    rows = ["| notebook | full size, s | min | rehearsal, s | full / rehearsal |", "|---|---|---|---|---|"]
    total = f"all {len(set(full) | set(rehearsal))} measured"  # a run of some notebooks sums only those
    for notebook in [*NOTEBOOKS, total]:
        f = sum(full.values()) if notebook == total else full.get(notebook)
        r = sum(rehearsal.values()) if notebook == total else rehearsal.get(notebook)
        rows.append(f"| {notebook} | {f:.0f} | {f / 60:.1f} | " if f else f"| {notebook} |  |  | ")
        rows[-1] += (f"{r:.0f} | " if r else " | ") + (f"{f / r:.1f}x |" if f and r else " |")
    m = record["machine"]
    return (f"Measured {m['date']} on {m['cores']} cores ({m['cpu']}), {m['memory_gib']} GiB; "
            f"{', '.join(f'{k} {v}' for k, v in record['versions'].items())}.\n\n" + "\n".join(rows) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--venv", help="a venv with the wheel installed (default: stoic-workshop on PATH)")
    parser.add_argument("--out", default=str(ROOT / "bench" / "results" / "course_cpu"))
    parser.add_argument("--sizes", default="full,rehearsal", help="full, rehearsal or both, in that order")
    parser.add_argument("--table", action="store_true", help="only print the table of the run recorded in --out")
    parser.add_argument("notebooks", nargs="*", default=NOTEBOOKS)
    args = parser.parse_args()
    out = Path(args.out)
    if args.table:
        print(table(json.loads((out / "times.json").read_text())))
        return
    command = str(Path(args.venv).resolve() / "bin" / "stoic-workshop") if args.venv else shutil.which("stoic-workshop")
    if not command or not Path(command).exists():
        raise SystemExit("no stoic-workshop command: pass --venv with the wheel installed, or install the package")
    out.mkdir(parents=True, exist_ok=True)
    record = {"machine": machine(), "versions": versions(command), "seconds": {}}
    if (out / "times.json").exists():  # a run cut short, or one notebook again: keep what is recorded
        record["seconds"] = json.loads((out / "times.json").read_text())["seconds"]
    for size in args.sizes.split(","):
        for notebook in [n.removesuffix(".ipynb") for n in args.notebooks]:
            print(f"{notebook} ({size}) ...", flush=True)
            seconds = run(command, notebook, size, out)
            record["seconds"].setdefault(size, {})[notebook] = round(seconds, 1)
            (out / "times.json").write_text(json.dumps(record, indent=1) + "\n")
            print(f"  {seconds:.0f} s", flush=True)
    (out / "table.md").write_text(table(record))
    print(table(record))


if __name__ == "__main__":
    main()
