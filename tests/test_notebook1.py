"""Notebook 1, run the way a user runs it: through the main job command, on the offline models."""

import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "01_base_vs_instruct.ipynb"


class _Table(HTMLParser):
    """Collects the header and body cells of the first HTML table."""

    def __init__(self):
        super().__init__()
        self.rows, self._cell, self._in_table = [], None, False

    def handle_starttag(self, tag, attrs):
        if tag == "table":
            self._in_table = True
        elif tag == "tr" and self._in_table:
            self.rows.append([])
        elif tag in ("td", "th") and self._in_table:
            self._cell = ""

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(self._cell.strip())
            self._cell = None
        elif tag == "table":
            self._in_table = False

    def handle_data(self, data):
        if self._cell is not None:
            self._cell += data


def _tables(notebook):
    for cell in notebook.cells:
        for out in cell.get("outputs", []):
            html = out.get("data", {}).get("text/html")
            if html and "<table" in html:
                parser = _Table()
                parser.feed(html)
                yield [r for r in parser.rows if r]


def test_committed_notebook_is_clean_and_has_colab_badge():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in nb.cells if c.cell_type == "code")
    assert "colab.research.google.com/github/" in nb.cells[0].source


@pytest.fixture(scope="module")
def executed(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs")
    run = subprocess.run([sys.executable, "-m", "stoic_workshop.cli", "workshop", "--out", str(out)],
                         capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    return out


def test_main_job_writes_an_executed_notebook_without_errors(executed):
    nb = nbformat.read(executed / NOTEBOOK.name, as_version=4)
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]
    assert errors == []
    assert all(c.execution_count for c in nb.cells if c.cell_type == "code")
    assert (executed / "01_base_vs_instruct.html").stat().st_size > 10_000


def test_both_models_answer_every_prompt_side_by_side(executed):
    nb = nbformat.read(executed / NOTEBOOK.name, as_version=4)
    table, mine = list(_tables(nb))  # the six prompts, then the learner's own prompt
    header, *rows = table
    assert header == ["Prompt", "Base: gemma-3-270m", "Instruct: smollm2-135m-instruct"]
    assert len(rows) == 6 and len(mine) == 2
    for prompt, base, instruct in rows + mine[1:]:
        assert prompt and base and instruct
        assert base != instruct
        assert "<|im_" not in instruct and "<end_of_turn>" not in instruct  # stopped at end of turn
    # The base model was given raw text and the instruct model its chat template:
    printed = "".join(o.get("text", "") for c in nb.cells for o in c.get("outputs", []))
    assert "<|im_start|>user\nI've been stuck in traffic" in printed
    assert "Models: base=gemma-3-270m, instruct=smollm2-135m-instruct" in printed


def test_a_failing_cell_keeps_the_executed_copy(tmp_path):
    from stoic_workshop.workshop import run_notebook

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("answer = 6 * 7\nprint(answer)"),
                nbformat.v4.new_code_cell("1 / 0"), nbformat.v4.new_code_cell("print('never')")]
    source = tmp_path / "broken.ipynb"
    nbformat.write(nb, source)
    with pytest.raises(RuntimeError, match=r"broken.ipynb failed; the executed copy with the error is at"):
        run_notebook(source, tmp_path / "out")
    kept = nbformat.read(tmp_path / "out" / "broken.ipynb", as_version=4)
    assert kept.cells[0].outputs[0]["text"] == "42\n"  # work done before the error is kept
    assert kept.cells[1].outputs[0]["ename"] == "ZeroDivisionError"
    assert kept.cells[2].outputs == []
