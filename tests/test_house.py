"""The house rules of the package, checked on its source (issue 18): modules a newcomer reads in one sitting, no
module reaching into another's private names, no module named like a public function, and an example for every
public name."""

import ast
import inspect
from pathlib import Path

import stoic_workshop as sw

PACKAGE = Path(sw.__file__).parent
MODULES = sorted(PACKAGE.glob("*.py"))
MAX_CODE_LINES = 600  # lines of code, not counting blank lines, comments and docstrings


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _code_lines(path: Path) -> int:
    tree, lines = _tree(path), path.read_text().splitlines()
    docs = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and body and \
                isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) and \
                isinstance(body[0].value.value, str):
            docs.update(range(body[0].lineno, body[0].end_lineno + 1))
    return sum(1 for i, line in enumerate(lines, 1)
               if line.strip() and not line.strip().startswith("#") and i not in docs)


def test_every_module_reads_in_one_sitting():
    sizes = {path.name: _code_lines(path) for path in MODULES}
    assert {name: n for name, n in sizes.items() if n > MAX_CODE_LINES} == {}


def test_no_module_imports_another_modules_private_names():
    found = []
    for path in MODULES:
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.ImportFrom) and node.level == 1:  # from .other import ...
                found += [f"{path.name}: from .{node.module} import {a.name}" for a in node.names
                          if a.name.startswith("_") and not a.name.startswith("__")]
    assert found == []


def test_no_module_shares_its_name_with_a_public_function():
    # `import stoic_workshop.judge` used to return the function sw.judge, which hid the module
    clashes = [name for name in sw.__all__ if (PACKAGE / f"{name}.py").is_file()]
    assert clashes == []


def test_every_public_name_has_an_example_in_its_docstring():
    missing = []
    for name in sw.__all__:
        obj = getattr(sw, name)
        if not (inspect.isfunction(obj) or inspect.isclass(obj)):
            continue  # constants (PRESETS, RUBRIC, LEXICON...) are shown where they are defined
        doc = inspect.getdoc(obj) or ""
        if "Example" not in doc and f"sw.{name}" not in doc:
            missing.append(name)
    assert missing == []


def test_ci_runs_the_readme_test_tiers_in_order():
    import re

    root = PACKAGE.parent
    readme = (root / "README.md").read_text()
    command = next(line for line in readme.splitlines() if line.startswith("pip install -r requirements-dev.txt"))
    tiers = [(t.strip('"'), n) for n, t in re.findall(r'python -m pytest (-n auto )?-m ("[^"]+"|\S+)', command)]
    assert tiers == [("not slow and not notebooks", "-n auto "), ("notebooks and not slow", ""), ("slow", "-n auto ")]
    ci = (root / ".ci" / "run").read_text()
    ran = [(t, f"{n} " if n else "") for t, n in re.findall(r'^tier \d "([^"]+)" ?(-n auto)?$', ci, flags=re.M)]
    assert ran == tiers and "ruff check ." in command


def test_the_readme_counts_the_notebooks_there_are():
    import re

    root = PACKAGE.parent
    words = {2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}
    count = len(list((root / "notebooks").glob("*.ipynb")))
    # the README and the docs/ pages its sections moved to (issue 30)
    prose = "\n".join(p.read_text() for p in [root / "README.md", *sorted((root / "docs").glob("*.md"))])
    said = re.findall(r"\b(two|three|four|five|six|seven) notebooks\b", prose, re.I)
    assert said and {w.lower() for w in said} == {words[count]}  # "three notebooks" stood beside a fourth


def test_the_readme_states_the_main_job_s_measured_time():
    """README's "60 steps, N s on 2 cores; M s for the whole command" is bench/results/main_job/run/: the training
    step of run.json and the wall time /usr/bin/time measured for `stoic-workshop run` (time_v.txt), rounded."""
    import json
    import re

    root = PACKAGE.parent
    results = root / "bench" / "results" / "main_job" / "run"
    train = next(r["seconds"] for r in json.loads((results / "run.json").read_text())["log"] if r["step"] == "train")
    clock = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (\d+):([\d.]+)",
                      (results / "time_v.txt").read_text())
    wall = int(clock.group(1)) * 60 + float(clock.group(2))  # 5:02.49 -> 302.49 s
    readme = " ".join((root / "README.md").read_text().split())
    assert f"(60 steps, {round(train)} s on 2 cores; {int(wall)} s for the whole command," in readme


def test_the_performance_page_s_main_job_table_is_the_bench_s():
    """docs/performance.md's old/new table of the main job's phases: bench/results/main_job/main_job.json, row by row
    (seconds to 0.1, the ratio old/new to 0.01), and the same answers and losses both ways."""
    import json

    root = PACKAGE.parent
    bench = json.loads((root / "bench" / "results" / "main_job" / "main_job.json").read_text())
    old, new = bench["ways"]["old"], bench["ways"]["new"]
    page = (root / "docs" / "performance.md").read_text()
    rows = {"train (60 steps)": (old["train"]["seconds"], new["train"]["seconds"]),
            "evaluate: answers (32)": (old["times"]["answers (32)"], new["times"]["answers (32)"]),
            "evaluate: forgetting": (old["times"]["forgetting"], new["times"]["forgetting"]),
            "evaluate (all)": (sum(old["times"].values()), sum(new["times"].values()))}
    for what, (before, after) in rows.items():
        assert f"| {what} | {before:.1f} | {after:.1f} | {before / after:.2f}x" in page, what
    assert old["train"]["losses"] == new["train"]["losses"] and old["answers"] == new["answers"]
