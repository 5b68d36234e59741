"""Shared fixtures: the real packaged models, converted once into the user's cache and reused; and the test tiers."""

from pathlib import Path

import pytest

import stoic_workshop as sw
from stoic_workshop.chat import prepare_tokenizer

# Tier 3 ("slow"): every test of these files trains a model, runs a notebook or a whole command, exports or serves
# a model (measured: each takes from 10 s to many minutes on 2 cores). The notebook tests that use the executed
# notebooks are slow too; the rest of test_notebooks.py and test_course.py are tier 2 ("notebooks"): static checks.
SLOW_FILES = {"test_pipeline.py", "test_run_reliability.py", "test_export.py", "test_adapter_portability.py",
              "test_file_safety.py", "test_slides.py", "test_knowledge.py", "test_train.py", "test_wheel.py",
              "test_gpu.py"}
NOTEBOOK_FILES = {"test_notebooks.py", "test_course.py"}
SLOW_FIXTURES = {"executed", "finished_run"}  # the notebooks run by the main job; one tiny `run`, once per session


def pytest_collection_modifyitems(config, items):
    for item in items:
        name = Path(str(item.fspath)).name
        if name in SLOW_FILES or SLOW_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
        elif name in NOTEBOOK_FILES:
            item.add_marker(pytest.mark.notebooks)


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory):
    """One finished tiny main job, shared by the tests that read a run folder: `stoic-workshop run --steps 2
    --prompts 2` on the offline model, with energy measured, called in-process. -> (folder, what it printed).
    Tests that change the folder work on a copy (shutil.copytree)."""
    import contextlib
    import io

    from stoic_workshop.cli import main

    out = tmp_path_factory.mktemp("finished") / "run"
    printed, errors = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(errors):
        code = main(["run", "--out", str(out), "--steps", "2", "--prompts", "2"])
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
