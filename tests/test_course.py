"""The course as a learner meets it, checked without running anything: install cells and pins agree with the
package's own files, every notebook can run top to bottom from a fresh kernel, every exercise has a check and
a solution. Version drift between a notebook's install line and the tested pins is what breaks courses."""

import ast
import builtins
import re
import tarfile
import tomllib
from pathlib import Path

import nbformat
import pytest
from packaging.requirements import Requirement

import stoic_workshop
from stoic_workshop.workshop import NOTEBOOKS

ROOT = Path(__file__).resolve().parent.parent
PATHS = [ROOT / "notebooks" / name for name in NOTEBOOKS]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
OWNER_REPO = "stoic-workshop/stoic-workshop"
RESULTS = ROOT / "bench" / "results"  # what the benches measured

# Pins the GPU profile deliberately does not share with the offline one, and why.
GPU_ONLY = {
    "transformers": "unsloth 2026.10 accepts transformers <= 5.17; offline needs 5.24 (Gemma 3 GGUF tokenizer)",
    "datasets": "unsloth 2026.10 wants datasets < 5",
}


def _pins(lines) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.split("#")[0].strip()
        if line and not line.startswith("-"):
            req = Requirement(line)
            spec = str(req.specifier)
            if spec.startswith("=="):
                pins[req.name.lower().replace("_", "-")] = spec[2:]
    return pins


def _requirements(name) -> dict[str, str]:
    return _pins((ROOT / name).read_text().splitlines())


def _docs(*pages: str) -> str:
    """The text of the docs/ pages named, where the README's sections moved (issue 30), one after another."""
    return "\n".join((ROOT / "docs" / page).read_text() for page in pages)


def _install_cell(nb):
    cells = [c for c in nb.cells if c.cell_type == "code" and "%pip install" in c.source]
    assert len(cells) == 1, "exactly one install cell"
    return cells[0].source


def test_every_notebook_is_run_by_the_main_job_and_listed_in_the_readme():
    assert sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb")) == sorted(NOTEBOOKS)
    readme = (ROOT / "README.md").read_text()
    assert all(f"notebooks/{name}" in readme for name in NOTEBOOKS)


def test_an_unknown_notebook_is_named_with_the_list_before_anything_runs(tmp_path):
    from stoic_workshop.workshop import workshop

    with pytest.raises(ValueError, match=r"No course notebook named 99_nothing\.ipynb; the notebooks are "
                                         r"01_base_vs_instruct\.ipynb, 02_finetune\.ipynb"):
        workshop(tmp_path / "runs", names=["03_evaluation", "99_nothing"])  # a name without .ipynb is enough
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_header_has_badge_time_and_one_install_cell(path):
    nb = nbformat.read(path, as_version=4)
    head = nb.cells[0].source
    assert head.startswith("# ")
    assert f"https://colab.research.google.com/github/{OWNER_REPO}/blob/main/notebooks/{path.name}" in head
    assert "**Time:**" in head and "T4" in head and "CPU" in head
    install = _install_cell(nb)
    assert nb.cells.index(next(c for c in nb.cells if c.source == install)) <= 3  # before anything else runs
    assert f"git+https://github.com/{OWNER_REPO}.git@v" in install


def test_install_cells_are_identical_and_agree_with_the_pins():
    cells = {_install_cell(nbformat.read(p, as_version=4)) for p in PATHS}
    assert len(cells) == 1, "every notebook installs the same way"
    cell = cells.pop()
    # the source is written once, in the cell: the package's own repository at the tag of this package's version
    sources = re.findall(r'SOURCE = "([^"]+)"', cell)
    version = PYPROJECT["project"]["version"]
    assert sources == [f"git+{PYPROJECT['project']['urls']['Repository']}.git@v{version}"]
    assert version == stoic_workshop.__version__
    assert cell.count("git+") == 1 and '@ {SOURCE}"' in cell
    # Colab's own torch (built for its CUDA) is pinned to itself, so that no dependency can replace it
    assert "KEEP = f\"torch=={md.version('torch')}\"" in cell and '"{KEEP}"' in cell
    # one line says what happened, on the first run and on every run after it
    assert "is already installed: nothing to do." in cell and 'print(f"Installed stoic-workshop' in cell
    assert cell.index("Installing stoic-workshop (") < cell.index("%pip install")  # pip -q is silent for minutes
    # the profiles it chooses between exist as extras; Unsloth only in the GPU one
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert set(re.findall(r'"(\w+)" if shutil.which\("nvidia-smi"\) else "(\w+)"', cell)[0]) == {"colab", "offline"}
    assert any(r.startswith("unsloth") for r in extras["colab"])
    assert not any(r.startswith("unsloth") for r in extras["offline"])
    # any package pinned in the cell itself is pinned the same in the requirements files
    models = _requirements("requirements-models.txt")
    for name, version in re.findall(r"([\w-]+)==([\w.]+)", cell):
        assert models.get(name) == version, f"{name}=={version} in the install cell, {models.get(name)} in the pins"


def test_profiles_pin_the_same_versions_except_the_documented_gpu_differences():
    tested = _requirements("requirements.txt")
    extras = PYPROJECT["project"]["optional-dependencies"]
    offline, colab = _pins(extras["offline"]), _pins(extras["colab"])
    for name, version in offline.items():
        assert tested.get(name) == version, f"offline extra pins {name}=={version}, requirements.txt {tested.get(name)}"
    for name, version in colab.items():
        if name in tested and name not in GPU_ONLY:
            assert tested[name] == version, f"colab extra pins {name}=={version}, requirements.txt {tested[name]}"
    assert all(colab[name] != tested[name] for name in GPU_ONLY)  # the list of differences is not stale
    # both profiles fit the package's own dependency ranges
    for line in PYPROJECT["project"]["dependencies"]:
        req = Requirement(line)
        name = req.name.lower()
        for profile in (tested, colab, offline):
            if name in profile:
                assert req.specifier.contains(profile[name]), f"{name}=={profile[name]} outside {req.specifier}"


def _names(source: str) -> tuple[set[str], set[str]]:
    """Names a cell reads and names it defines, with IPython's magics turned into Python first."""
    from IPython.core.inputtransformer2 import TransformerManager

    tree = ast.parse(TransformerManager().transform_cell(source))
    reads, writes = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            (reads if isinstance(node.ctx, ast.Load) else writes).add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            writes |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            writes.add(node.name)
        elif isinstance(node, ast.arg):
            writes.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            writes.add(node.name)
    return reads, writes


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_every_cell_only_uses_what_earlier_cells_define(path):
    """Top to bottom from a fresh kernel (or after a restart, from the top) there is no hidden state to miss."""
    defined = set(dir(builtins)) | {"get_ipython", "display"}
    for number, cell in enumerate(c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"):
        reads, writes = _names(cell.source)
        missing = reads - defined - writes
        assert not missing, f"code cell {number} uses {sorted(missing)} before any cell defines it"
        defined |= writes


def test_the_static_check_catches_a_name_from_nowhere():
    reads, writes = _names("%pip install x\nimport stoic_workshop as sw\nresult = sw.run(model)")
    assert reads - writes - {"get_ipython"} == {"model"}


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_every_exercise_has_a_check_and_a_hidden_solution(path):
    cells = nbformat.read(path, as_version=4).cells
    starts = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and c.source.startswith("## Your turn!")]
    assert starts, "every notebook has at least one exercise"
    for start in starts:
        end = next((i for i in range(start + 1, len(cells)) if cells[i].source.startswith("#")), len(cells))
        section = cells[start:end]
        checks = [c for c in section if c.cell_type == "code" and re.search(r"\bsw\.check_\w+\(", c.source)]
        solutions = [c for c in section if c.cell_type == "markdown" and c.source.startswith("<details>")]
        assert checks, f"the exercise at cell {start} has no check cell"
        assert solutions and section.index(solutions[0]) > section.index(checks[0]), "solution after the check"
        for check in checks:
            name = re.search(r"\bsw\.(check_\w+)\(", check.source).group(1)
            assert name in stoic_workshop.__all__


def test_unsloth_numbers_in_readme_and_notebook_2_are_the_bench_s():
    """The GPU route's claims (docs/performance.md, docs/fine-tuning.md, notebook 2) are the H200 bench's numbers, not
    remembered ones."""
    import json

    runs = {r["label"]: r for r in json.loads((RESULTS / "unsloth_h200.json").read_text())}
    plain = runs["transformers"]
    ours = runs["unsloth, eager soft-capping (the package since this run)"]
    readme = _docs("performance.md", "fine-tuning.md")
    for r in runs.values():
        assert (f"| {r['time_to_adapter_s']:.1f} s | {r['load_s']:.1f} s | {r['first_step_s']:.1f} s | "
                f"{r['later_step_s']:.3f} s | {r['peak_gib']:.2f} GiB |") in readme, r["label"]
    flat = " ".join(readme.split())
    assert (f"{ours['time_to_adapter_s'] / plain['time_to_adapter_s']:.2f}x the time to adapters, "
            f"{ours['later_step_s'] / plain['later_step_s']:.2f}x the time per later step, "
            f"{ours['peak_gib'] / plain['peak_gib']:.2f}x the peak memory") in flat
    assert f"({ours['time_to_adapter_s']:.0f} s against {plain['time_to_adapter_s']:.0f} s on an H200)" in flat
    notebook = " ".join(" ".join(c.source for c in nbformat.read(PATHS[1], as_version=4).cells).split())
    assert f"(measured on an H200: {ours['time_to_adapter_s']:.0f} s vs {plain['time_to_adapter_s']:.0f} s)" in notebook


def test_readme_counts_of_ideas_and_quotations_are_the_package_s():
    from stoic_workshop.stoic_data import QUOTES
    from stoic_workshop.score import LEXICON

    readme = " ".join(_docs("evaluation.md").split())
    assert f"lexicon of {len(LEXICON)} Stoic ideas" in readme
    assert f"compared with the {len(QUOTES)} real quotations" in readme
    notebook = " ".join(" ".join(c.source for c in nbformat.read(PATHS[2], as_version=4).cells).split())
    assert f"compares it with the {len(QUOTES)} real quotations the package holds" in notebook


def _executed(tarball: Path, notebook: str) -> str:
    """All text outputs of one executed notebook kept in a bench tarball, flattened to single spaces."""
    import tarfile

    with tarfile.open(tarball) as tar:
        member = next(m for m in tar.getmembers() if m.name.endswith(f"/{notebook}.ipynb"))
        cells = nbformat.reads(tar.extractfile(member).read().decode(), as_version=4).cells
    texts = [o.get("text", "") if o.output_type == "stream" else o.get("data", {}).get("text/plain", "")
             for c in cells if c.cell_type == "code" for o in c.outputs]
    return " ".join(" ".join(texts).split())


def test_gpu_run_numbers_in_readme_are_the_executed_notebooks_and_bench_s():
    """The GPU road's results in docs/performance.md and docs/hardware.md come from the executed notebooks and bench
    files kept in bench/results/."""
    import json

    readme = " ".join(_docs("performance.md", "hardware.md").split())
    real = RESULTS / "colab_h200" / "gemma3-270m-real.tar.gz"
    trained = _executed(real, "02_finetune")
    assert re.search(r"Fine-tuned for 60 steps in 47 s .* loss 4\.29 -> 1\.40", trained)
    assert "60 steps in 47 s, loss 4.29 -> 1.40" in readme
    scores = _executed(real, "03_evaluation")
    for value in ("0.71 [0.40, 1.07]", "0.06 [0.04, 0.09]", "1.81 [1.56, 2.06]", "48.83", "137.37", "181.3",
                  "agreement (stoic ranked above non-stoic, 0.5 = chance): 0.50", "'inconsistent': 16"):
        assert value in scores, value
    assert ("from 0.00 to 0.71 [0.40, 1.07] per 100 words, the meaning score changed by +0.06 [0.04, 0.09]"
            in readme and "1.81 name-drops per answer" in readme and "from 48.83 to 137.37 (+181.3%)" in readme)
    notebook_3 = " ".join(" ".join(c.source for c in nbformat.read(PATHS[2], as_version=4).cells).split())
    assert ("rose from 0.00 to 0.71 per 100 words, 1 of 16 answers carried an invented quotation, there were 1.8 "
            "name-drops per answer, and perplexity on general English went from 48.8 to 137.4 (+181%)") in notebook_3
    deployed = _executed(real, "04_deploy")
    assert "stopped by: length first 8 greedy tokens equal to the merged model's: 8" in deployed
    assert "merged (16-bit) deploy/merged 569.6" in deployed and "GGUF q8_0 deploy/stoic-q8_0.gguf 299.7" in deployed
    random = _executed(RESULTS / "colab_h200" / "gemma2-2b-random-04.tar.gz", "04_deploy")
    assert "deploy/merged 5295.6" in random and "deploy/stoic-q8_0.gguf 2800.0" in random
    assert "merged 5,296 MB, q8_0 GGUF 2,800 MB" in readme and "merged 570 MB, q8_0 GGUF 300 MB" in readme
    log = (RESULTS / "colab_h200" / "gemma2-2b-random-04.log").read_text()
    assert "04_deploy.ipynb" in log and "done in 261 s" in log and "| 261 s: merged" in readme
    notebook_4 = " ".join(" ".join(c.source for c in nbformat.read(PATHS[3], as_version=4).cells).split())
    assert "on an H200 with the same architecture it took 261 s, its own training included" in notebook_4

    runs = {(r["model"], r["mode"]): r for r in json.loads((RESULTS / "t4_unsloth_h200.json").read_text())
            if "mode" in r}
    g2, g2u, g3, g3u = (runs[k] for k in [("gemma2", "t4"), ("gemma2", "unsloth-t4"), ("gemma3", "t4"),
                                          ("gemma3", "unsloth-t4")])
    assert all(r["all_finite"] for r in runs.values())
    assert (f"{g2u['s_per_step']:.3f} s/step against the default route's {g2['s_per_step']:.3f} in T4 mode "
            f"({g2u['s_per_step'] / g2['s_per_step']:.2f}x), peak {g2u['peak_gib']:.2f} GiB against "
            f"{g2['peak_gib']:.2f} ({g2u['peak_gib'] / g2['peak_gib']:.2f}x)") in readme
    assert (f"{g3u['s_per_step']:.3f} s/step against {g3['s_per_step']:.3f}, after a {g3u['first_step_s']:.1f} s "
            f"first step") in readme
    assert (f"({g3u['first_loss']:.2f} -> {g3u['last_loss']:.2f}, against {g3['first_loss']:.2f} -> "
            f"{g3['last_loss']:.2f})") in readme
    assert "torch.float16" in g3u["activation_dtypes"] and g3["activation_dtypes"] == ["torch.float32"]


def test_knowledge_numbers_in_readme_notebook_5_and_slides_are_the_measured_run_s():
    """docs/knowledge.md, notebook 5's "What you should see" and the slides' chart data: one measured run,
    bench/results/knowledge_cpu."""
    import csv

    measured = RESULTS / "knowledge_cpu" / "knowledge.csv"
    rows = {r["arm"]: r for r in csv.DictReader(measured.open())}
    assert (ROOT / "slides" / "figures" / "knowledge.csv").read_text() == measured.read_text()
    readme = _docs("knowledge.md")
    notebook = next(c.source for c in nbformat.read(ROOT / "notebooks" / "05_knowledge.ipynb", as_version=4).cells
                    if c.source.startswith("### What you should see"))

    def interval(r, what):
        return f"{float(r[what]):.2f} [{float(r[what + ' low']):.2f}, {float(r[what + ' high']):.2f}]"

    for arm, r in rows.items():
        label = "guess (no model)" if arm == "guess" else arm
        assert f"| {label} | {interval(r, 'accuracy')} |" in readme, arm
        assert f"| {label} | {interval(r, 'accuracy')} | {float(r['abstention']):.2f} |" in notebook, arm
        if arm != "guess":
            assert (f"| {float(r['trained phrasing']):.2f} | {float(r['perplexity change %']):+.0f}% | "
                    f"{float(r['kWh']) * 1000:.2f} | {float(r['seconds']):.0f} |") in readme, arm
    total = sum(float(r["seconds"]) for r in rows.values() if r["arm"] != "guess")
    assert f"All five arms took {total:,.0f} s" in readme
    executed = tarfile.open(RESULTS / "knowledge_cpu" / "05_knowledge-executed.tar.gz")
    nb = nbformat.reads(executed.extractfile("05_knowledge.ipynb").read().decode(), as_version=4)
    assert not [o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"]


def _lora_parameters(config, r: int, targets) -> tuple[int, int]:
    """(LoRA parameters, model parameters) for `config`, counted by PEFT on a model built on the meta device."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    with torch.device("meta"):  # shapes only: no memory, no download
        model = AutoModelForCausalLM.from_config(config)
        total = model.num_parameters()
        peft = get_peft_model(model, LoraConfig(r=r, lora_alpha=r, target_modules=list(targets), task_type="CAUSAL_LM"))
    return sum(p.numel() for p in peft.parameters() if p.requires_grad), total


def _sentences(notebook: str) -> str:
    return " ".join(" ".join(c.source for c in nbformat.read(ROOT / "notebooks" / notebook, as_version=4).cells
                             ).split())


def test_adapter_sizes_in_notebooks_2_and_4_are_counted_from_the_models_configs():
    """Notebooks 2 and 4 give the adapters' size for the course's recipe (StoicConfig: r=16 on all seven
    projections): counted here by PEFT from Gemma 2 2B's config and SmolLM2's, in 32-bit as a T4 or a CPU saves them
    (train.py keeps the trainable weights in fp32 there) and in 16-bit as a bf16 GPU does (the H200 bench run)."""
    from transformers import AutoConfig, Gemma2Config

    from stoic_workshop.config import StoicConfig

    recipe = StoicConfig()
    r, targets = recipe.lora_r, recipe.target_modules
    assert (r, len(targets)) == (16, 7)
    # Gemma 2 2B (google/gemma-2-2b's config.json): 26 layers of hidden 2304, MLP 9216, 8 query heads and 4 KV heads of
    # 256. Per layer 16 x (in + out) per projection: q 69,632 + k 53,248 + v 53,248 + o 69,632 + 3 x 184,320.
    gemma2 = Gemma2Config(hidden_size=2304, num_hidden_layers=26, intermediate_size=9216, num_attention_heads=8,
                          num_key_value_heads=4, head_dim=256, vocab_size=256000)
    lora, _ = _lora_parameters(gemma2, r, targets)
    assert lora == 26 * 798_720 == 20_766_720
    fp32, bf16 = round(lora * 4 / 1e6), round(lora * 2 / 1e6)
    assert (fp32, bf16) == (83, 42)
    # The H200 run (bf16 compute) counted the same parameters and saved them in 16-bit:
    trained = _executed(RESULTS / "colab_h200" / "gemma2-2b-random-01-03.tar.gz", "02_finetune")
    assert f"Trainable: {lora:,} of" in trained
    saved = float(re.search(r"Trainable: 20\.77 M of \d+ M parameters \(0\.78%\)\. Adapters: ([\d.]+) MB", trained)[1])
    assert abs(saved - lora * 2 / 1e6) < 0.5
    smol, total = _lora_parameters(AutoConfig.from_pretrained(stoic_workshop.model_folder("smollm2-135m-instruct")),
                                   r, targets)
    assert round(smol * 4 / 1e6, -1) == 20 and f"{smol / (total + smol):.2%}" == "3.50%"  # as finetune prints it
    for notebook in ("02_finetune.ipynb", "04_deploy.ipynb"):
        text = _sentences(notebook)
        assert re.findall(r"about (\d+) MB for Gemma 2 2B", text) == [str(fp32)], notebook
        assert f"about {bf16} MB where a GPU with bf16 stores them in 16-bit" in text, notebook
        assert "about 20 MB for SmolLM2-135M" in text or "Adapters of about 20 MB for SmolLM2-135M" in text, notebook
    assert "20.8 M parameters, stored in 32-bit as on a T4 or a CPU" in _sentences("02_finetune.ipynb")


def test_notebooks_1_and_2_describe_the_loading_routes_load_model_takes():
    """On a GPU, transformers + bitsandbytes unless Unsloth is asked for; on a CPU fp32, or NF4 with cpu_4bit=True."""
    import inspect

    from stoic_workshop.models import load_model
    from stoic_workshop.settings import VARIABLES

    source = inspect.getsource(load_model)
    assert 'backend = backend or env("STOIC_BACKEND")' in source
    assert VARIABLES["STOIC_BACKEND"].default == "transformers"
    assert "cpu_4bit" in inspect.signature(load_model).parameters
    one = _sentences("01_base_vs_instruct.ipynb")
    assert ("On a GPU: in 4-bit (NF4) through transformers and bitsandbytes, by default; Unsloth, which the GPU "
            'profile installs too, only when you ask for it (`backend="unsloth"`, or `STOIC_BACKEND=unsloth`)') in one
    two = _sentences("02_finetune.ipynb")  # notebook 2 loads in transformers' and Unsloth's own calls
    assert "On a CPU the small offline model trains with plain LoRA" in two
    assert "sw.load_model" not in two


def test_the_gguf_agreement_stated_is_what_each_run_measured():
    """Notebook 4 and docs/deployment.md say how many of the first 8 greedy tokens the Q8_0 file shared with the
    merged model: in notebook 4's full-size run (bench/course_cpu.py) and in the main job's run the slides show."""
    import csv

    executed = (RESULTS / "course_cpu" / "results" / "full" / "04_deploy.ipynb").read_text()
    notebook = int(re.search(r"first 8 greedy tokens equal to the merged model's: (\d)", executed).group(1))
    main_job = int(next(csv.DictReader((RESULTS / "main_job" / "run" / "checks.csv").open()))["same first tokens"])
    assert f"{main_job}/8 first tokens as merged" in (ROOT / "slides" / "figures" / "export.md").read_text()
    four = next(c.source for c in nbformat.read(ROOT / "notebooks" / "04_deploy.ipynb", as_version=4).cells
                if c.source.startswith("### What you should see"))
    assert f"{notebook} of 8 in this notebook's full-size run (`bench/course_cpu.py`), {main_job} of 8 in the" in four
    docs = " ".join(_docs("deployment.md").split())
    assert f"{notebook} of 8 in notebook 4's full-size run, {main_job} of 8 in the main job's" in docs


def test_the_run_sheet_fills_three_hours_and_its_skips_break_no_later_cell():
    """docs/instructor.md: the session's rows add up to 180 minutes, each starting where the one before ended; every
    section it says can be skipped can be: with its cells left out, every later cell still finds every name."""
    sheet = (ROOT / "docs" / "instructor.md").read_text()
    rows = re.findall(r"^\| (\d):(\d\d) \| (\d+) \|", sheet, re.M)
    clock = 0
    for hours, minutes, length in rows:
        assert int(hours) * 60 + int(minutes) == clock, f"the row at {hours}:{minutes} should start at {clock} min"
        clock += int(length)
    assert clock == 180 and len(rows) >= 8
    skips = re.findall(r"^\| (0\d_\w+) \| (#+ [^|]+?) \| [^|]+ \|$", sheet, re.M)
    assert len(skips) >= 3
    for stem, heading in skips:
        cells = nbformat.read(ROOT / "notebooks" / f"{stem}.ipynb", as_version=4).cells
        start = next(i for i, c in enumerate(cells) if c.cell_type == "markdown" and heading in c.source.splitlines())
        same_or_higher = re.compile(rf"^#{{1,{len(heading.split()[0])}}} ", re.M)  # the next heading that ends it
        end = next((i for i, c in enumerate(cells) if i > start and c.cell_type == "markdown"
                    and same_or_higher.search(c.source)), len(cells))
        assert any(c.cell_type == "code" for c in cells[start:end]), f"{stem}: {heading} holds no code to skip"
        defined = set(dir(builtins)) | {"get_ipython", "display"}
        for number, cell in enumerate(c for c in cells[:start] + cells[end:] if c.cell_type == "code"):
            reads, writes = _names(cell.source)
            missing = reads - defined - writes
            assert not missing, f"{stem} without {heading!r}: code cell {number} misses {sorted(missing)}"
            defined |= writes
