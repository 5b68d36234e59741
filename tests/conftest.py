"""Shared fixtures: the real packaged models, converted once into the user's cache and reused; and the test tiers.

Spread over several processes (`pytest -n auto`, pytest-xdist, as .ci/run does), each process uses its share of the
cores ($OMP_NUM_THREADS, set here before torch starts; the package reads it too, models.cpu_threads), and the tests
that share a costly module or session fixture run on one process (`--dist loadgroup`), so that it is built once."""

import os
import subprocess
import sys

if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):  # set by pytest-xdist in each of its processes
    os.environ.setdefault("OMP_NUM_THREADS",
                          str(max(1, len(os.sched_getaffinity(0)) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))))

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

import stoic_workshop as sw  # noqa: E402
from stoic_workshop.chat import prepare_tokenizer  # noqa: E402

# Tier 3 ("slow"): every test of these files trains a model, runs a notebook or a whole command, exports or serves
# a model (measured: each takes from 10 s to many minutes on 2 cores). The notebook tests that use the executed
# notebooks are slow too; the rest of test_notebooks.py and test_course.py are tier 2 ("notebooks"): static checks.
SLOW_FILES = {"test_pipeline.py", "test_run_reliability.py", "test_export.py", "test_adapter_portability.py",
              "test_file_safety.py", "test_slides.py", "test_knowledge.py", "test_train.py", "test_wheel.py",
              "test_gpu.py"}
NOTEBOOK_FILES = {"test_notebooks.py", "test_course.py"}
SLOW_FIXTURES = {"executed", "finished_run"}  # the notebooks run by the main job; one tiny `run`, once per session


# Module and session fixtures cheap enough to build again in each process; every other one defined in a test file
# (a trained adapter, a server, a DDP launch) puts the tests that use it in one group, run by one process.
CHEAP_SHARED = {"smol", "gemma_tok", "random_adapters", "pairs", "meanings"}
# Spread over processes, the longest groups and single tests start first (measured in CI, .ci/run prints the slowest
# tests; a group's time is the sum of its tests'), so that the processes end together instead of one starting a
# notebook or a 90-s test when the others are done. A name is a group's, or a test function's.
LONGEST_FIRST = ("finished_run", "03_evaluation", "test_export.py", "05_knowledge", "04_deploy", "02_finetune",
                 "test_distributed.py", "test_two_point_sweep_measures_scores_and_resumes",
                 "test_colab_checks_a_gemma_3_export_without_llama_cpp",
                 "test_finetune_lowers_the_loss_and_saves_a_standard_peft_folder",
                 "test_a_killed_run_resumes_from_its_checkpoint_and_ends_at_the_same_step",
                 "test_export_reruns_into_its_own_folder_but_keeps_a_file_added_to_merged",
                 "01_base_vs_instruct", "test_the_install_cell_keeps_the_torch_colab_ships",
                 # tier 1
                 "test_teacher.py", "test_judge.py", "test_conversion_is_cached_verified_and_rebuilt_when_corrupted",
                 "test_real_transformers_5_17_conversion_is_refused_and_nothing_cached",
                 "test_preflight_command_prints_a_go_table_on_this_machine",
                 "test_smollm2_batched_greedy_answers_are_the_one_at_a_time_tokens")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups (it does in its own hook)
def pytest_collection_modifyitems(config, items):
    for item in items:
        name = Path(str(item.fspath)).name
        if name in SLOW_FILES or SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
        elif name in NOTEBOOK_FILES:
            item.add_marker(pytest.mark.notebooks)
        if item.get_closest_marker("xdist_group") is None:
            group = _shared_group(item, name)
            if group:
                item.add_marker(pytest.mark.xdist_group(group))

    def start(item):
        group = item.get_closest_marker("xdist_group")
        name = group and (group.args[0] if group.args else group.kwargs.get("name"))
        name = name if name in LONGEST_FIRST else getattr(item, "originalname", None)
        return LONGEST_FIRST.index(name) if name in LONGEST_FIRST else len(LONGEST_FIRST)

    items.sort(key=start)  # stable: within a group, and for the rest, the files' own order


def _shared_group(item, file: str) -> str | None:
    """The group of a test that uses a costly shared fixture: "finished_run", else its file's name."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return None
    if "finished_run" in info.name2fixturedefs:
        return "finished_run"
    for name, defs in info.name2fixturedefs.items():  # pytest's own (tmp_path_factory...) are defined elsewhere
        if name not in CHEAP_SHARED and defs[-1].scope in ("module", "session") and \
                getattr(defs[-1].func, "__module__", "").startswith("test_"):
            return file
    return None


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory):
    """One finished tiny main job, shared by the tests that read a run folder: `stoic-workshop run --out run
    --steps 2 --prompts 2` on the offline model, with energy measured, from an empty folder. Where CI has installed
    the built wheel ($STOIC_WHEEL_VENV), it is that wheel's command, as an attendee runs it; else it is called in
    this process. -> (folder, what it printed). Tests that change the folder work on a copy (shutil.copytree)."""
    import contextlib
    import io
    import subprocess

    from stoic_workshop.cli import main

    empty = tmp_path_factory.mktemp("finished")
    out, argv = empty / "run", ["run", "--out", "run", "--steps", "2", "--prompts", "2"]
    venv = os.environ.get("STOIC_WHEEL_VENV")
    if venv:
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        done = subprocess.run([str(Path(venv) / "bin" / "stoic-workshop"), *argv], capture_output=True, text=True,
                              cwd=empty, env=env, timeout=1800)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return out, done.stdout
    printed, errors = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(errors):
        code = main([*argv[:2], str(out), *argv[3:]])
    assert code == 0, errors.getvalue()[-3000:]
    return out, printed.getvalue()


@pytest.fixture()
def cli(capsys):
    """`cli("run", "--out", ...)`: the `stoic-workshop` command in this process, for the tests where the process
    boundary is not what they are about. -> (exit code, stdout, stderr) of that command alone; argparse's own exits
    (--help, a bad option) give their code too."""
    from stoic_workshop.cli import main

    def call(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()  # only what this command prints
        try:
            code = main([str(a) for a in argv])
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else 1
        printed = capsys.readouterr()
        return code, printed.out, printed.err

    return call


@pytest.fixture(scope="session")
def has_llama_cpp():
    """`has_llama_cpp(python)`: whether that Python (a venv's; default, this one) imports llama.cpp's bindings. The
    offline and colab profiles have none; requirements-dev.txt has them, and the checks that run a GGUF need them."""
    def check(python: str = sys.executable) -> bool:
        return subprocess.run([python, "-c", "import llama_cpp"], capture_output=True).returncode == 0

    return check


@pytest.fixture(scope="session")
def smol():
    """SmolLM2-135M-Instruct, the offline instruct model: (model, tokenizer)."""
    return sw.load_model("smollm2-135m-instruct", verbose=False)


@pytest.fixture(scope="session")
def gemma_tok():
    """The Gemma 3 tokenizer converted from the packaged GGUF, with the Gemma chat template."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(sw.model_folder("gemma-3-270m"))
    prepare_tokenizer(tok, family="gemma")
    return tok


@pytest.fixture()
def tiny_gemma3(gemma_tok):
    """A randomly initialised Gemma 3 of the real architecture and vocabulary, small enough for tests."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    torch.manual_seed(0)
    config = Gemma3TextConfig(vocab_size=len(gemma_tok), hidden_size=32, intermediate_size=64,
                              num_hidden_layers=2, num_attention_heads=2, num_key_value_heads=1,
                              head_dim=16, sliding_window=64, max_position_embeddings=256)
    model = Gemma3ForCausalLM(config).eval()
    prepare_tokenizer(gemma_tok, model, family="gemma")
    return model


@pytest.fixture(scope="session")
def random_adapters():
    """Attach LoRA adapters with random, scaled-down updates: `random_adapters(model, scale)` -> PeftModel.

    Real PEFT adapters that change the model by an amount the test chooses, without training.
    """
    import torch
    from peft import LoraConfig, get_peft_model

    def attach(model, scale: float):
        torch.manual_seed(0)
        peft = get_peft_model(model, LoraConfig(r=8, lora_alpha=8, target_modules=["q_proj", "v_proj", "down_proj"],
                                                init_lora_weights=False, task_type="CAUSAL_LM"))
        with torch.no_grad():
            for name, p in peft.named_parameters():
                if "lora_B" in name:
                    p.mul_(scale)
        return peft

    return attach
