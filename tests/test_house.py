"""The house rules of the package, checked on its source (issue 18): modules a newcomer reads in one sitting, no
module reaching into another's private names, no module named like a public function, and an example for every
public name."""

import ast
import inspect
from pathlib import Path

import pytest

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


def _imports_of(path: Path) -> set[str]:
    """The package's modules that `path` imports, at the top or inside a function (`from .x import y`)."""
    found = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found |= {node.module.split(".")[0]} if node.module else {a.name for a in node.names}
    return found - {path.stem}


def test_no_import_circle_even_inside_functions():
    """A module may not import, even lazily inside a function, one that imports it back (issue 31: export and serve
    did, for one version string). Each circle found is named, module by module."""
    graph = {p.stem: _imports_of(p) & {m.stem for m in MODULES} for p in MODULES}

    def circle_from(start: str, path: list[str]) -> list[str] | None:
        for nxt in sorted(graph[path[-1]]):
            if nxt == start:
                return path + [start]
            if nxt not in path and nxt > start:  # each circle once, from its smallest module
                found = circle_from(start, path + [nxt])
                if found:
                    return found
        return None

    circles = [" -> ".join(c) for m in sorted(graph) if (c := circle_from(m, [m]))]
    assert not circles, circles
    assert _imports_of(PACKAGE / "export.py") >= {"serve"}  # the check sees imports inside functions


def test_every_stoic_variable_is_in_the_settings_table_read_there_and_documented():
    """Issue 31: the STOIC_* variables were read in nine modules. Now: every one the package names is in
    settings.VARIABLES; only settings.py reads os.environ for one; docs/settings.md has each with its default; and the
    notebooks' own defaults (`os.environ.get("STOIC_TRAIN_STEPS", 60)`) are the table's."""
    import re

    from stoic_workshop.settings import VARIABLES, env

    named, read_elsewhere = set(), []
    for path in MODULES:
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                named |= set(re.findall(r"\bSTOIC_[A-Z0-9_]+\b", node.value))
            if path.stem != "settings" and isinstance(node, ast.Call) and \
                    ast.unparse(node.func) in ("os.environ.get", "os.getenv") and node.args and \
                    isinstance(node.args[0], ast.Constant) and str(node.args[0].value).startswith("STOIC_"):
                read_elsewhere.append(f"{path.name}:{node.lineno}")
    assert named - set(VARIABLES) == set(), "named in the package but not in settings.VARIABLES"
    assert not read_elsewhere, f"read outside settings.env: {read_elsewhere}"
    page = (PACKAGE.parent / "docs" / "settings.md").read_text()
    for v in VARIABLES.values():
        assert f"| `{v.name}` | {f'`{v.default}`' if v.default is not None else '(none)'} |" in page, v.name
    defaults = [found for nb in sorted((PACKAGE.parent / "notebooks").glob("*.ipynb"))
                for found in re.findall(r'os\.environ\.get\(\\"(STOIC_\w+)\\", (\w+)\)', nb.read_text())]
    assert len(defaults) == 5 and all(VARIABLES[name].default == default for name, default in defaults), defaults
    with pytest.raises(KeyError, match="STOIC_NOPE is not one of the course's environment variables"):
        env("STOIC_NOPE")


def test_the_layout_page_names_every_module():
    """docs/layout.md says what each module holds: a module added or renamed (issue 31 renamed align, pareto and
    memory for what they hold) is named there too, and no module that is gone."""
    import re

    page = (PACKAGE.parent / "docs" / "layout.md").read_text()
    named = set(re.findall(r"`(\w+)\.py`", page))
    modules = {p.stem for p in MODULES} - {"__init__", "__main__"}
    assert modules - named == set() and named - modules == set()


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
    assert old["train"]["losses"] == new["train"]["losses"]
    # The answers are the same text both ways, but where greedy decoding met a tie: the bench names each answer that
    # differs, with the two likeliest tokens where the ways parted, within 1e-4 of a logit in both batches.
    differ = {(name, prompt) for name in ("before", "fine-tuned")
              for prompt, a, b in zip(new["answers"]["prompt"], old["answers"][name], new["answers"][name]) if a != b}
    ties = {(row["model"], row["prompt"]) for row in bench["parted"]
            if max(row["old batch: gap"], row["new batch: gap"]) < 1e-4}
    assert differ == ties and len(differ) <= 1, (differ, ties)
