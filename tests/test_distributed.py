"""Several processes (distributed.py, the `launch-config` command, `train` under `accelerate launch`).

Fast tests: the arithmetic that shares the recipe's 8 examples a step out over the processes, the reading of the
launcher's environment, the refusals before any loading, the shipped accelerate configs (read with accelerate's own
loader, and packaged in the wheel), the CLI's refusal of every command but `train` under several processes.

Slow tests (marked): real two-process DDP launches on this CPU (torchrun starts the processes, Trainer uses gloo)
of docs/several-gpus.md's command, with a tiny random Gemma 3. They check what the course promises: one printed
report, one adapter folder with the right record, one energy measurement, and a resume that works under two
processes. Which process writes what is watched with an audit hook (sys.addaudithook, installed in every process
through a sitecustomize.py on PYTHONPATH) that logs Python-level writes under the output folder, one log per rank.
Files written from native code (safetensors, torch.save's zip writer) are not seen by an audit hook: that is why rank
0's record (training.json, written from Python) is the positive control that the hook works, and the adapter files
are checked by their existence.
"""

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib

from stoic_workshop.cli import main
from stoic_workshop.distributed import LAUNCH_CONFIGS, World, check_world, launch_config, main_only, split_batch, world
from stoic_workshop.serve import free_port

ROOT = Path(__file__).resolve().parents[1]
VENV_BIN = str(Path(sys.executable).parent)

# --- fast unit tests ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("processes, expected", [(1, (2, 4)), (2, (2, 2)), (4, (2, 1)), (8, (1, 1))])
def test_split_batch_keeps_the_recipe(processes, expected):
    batch, accum, note = split_batch(2, 4, processes)
    assert (batch, accum) == expected
    assert (note == "") == (processes == 1)


def test_split_batch_uneven_and_kept_per_gpu():
    batch, accum, note = split_batch(2, 4, 3)
    assert batch * accum * 3 >= 8 and "do not share out evenly" in note
    batch, accum, note = split_batch(2, 4, 2, keep_effective_batch=False)
    assert (batch, accum) == (2, 4) and "16" in note


@pytest.mark.parametrize("processes", range(1, 9))
def test_split_batch_never_fewer_examples(processes):
    batch, accum, _ = split_batch(2, 4, processes)
    assert batch >= 1 and accum >= 1
    assert batch * accum * processes >= 8
    if 8 % processes == 0:
        assert batch * accum * processes == 8


def test_world_from_environment(monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "ACCELERATE_USE_FSDP"):
        monkeypatch.delenv(name, raising=False)
    alone = world()
    assert alone.size == 1 and alone.main and not alone.fsdp
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "1")
    second = world()
    assert (second.size, second.rank, second.local_rank) == (2, 1, 1) and not second.main
    assert "DDP" in str(second)
    monkeypatch.setenv("ACCELERATE_USE_FSDP", "true")
    assert world().fsdp and "FSDP" in str(world())


def test_check_world_refuses_what_cannot_work():
    with pytest.raises(ValueError, match="4 processes") as err:
        check_world(World(size=4, rank=0, local_rank=0, local_size=4, fsdp=False), gpus=2)
    assert "--num_processes 2" in str(err.value)
    fsdp = World(size=2, rank=0, local_rank=0, local_size=2, fsdp=True)
    with pytest.raises(ValueError, match="FSDP"):
        check_world(fsdp, gpus=0)
    with pytest.raises(ValueError, match="Unsloth"):
        check_world(fsdp, backend="unsloth", gpus=2)
    alone = World(size=1, rank=0, local_rank=0, local_size=1, fsdp=False)
    assert check_world(alone, gpus=0) is alone


def test_shipped_launch_configs():
    from accelerate.commands.config.config_args import load_config_from_file

    loaded = {}
    for name in LAUNCH_CONFIGS:
        path = launch_config(name)
        assert path.is_file(), path
        loaded[name] = load_config_from_file(str(path))
        assert loaded[name].num_processes == 2, name
    assert loaded["ddp"].distributed_type.value == "MULTI_GPU"
    assert loaded["fsdp"].distributed_type.value == "FSDP" and loaded["fsdp"].fsdp_config["fsdp_version"] == 2
    qlora = loaded["fsdp-qlora"]
    assert qlora.distributed_type.value == "FSDP" and qlora.fsdp_config["fsdp_version"] == 1
    assert qlora.fsdp_config["fsdp_use_orig_params"] is False
    assert qlora.fsdp_config["fsdp_cpu_ram_efficient_loading"] is True
    with pytest.raises(ValueError, match="ddp"):
        launch_config("nope")


def test_wheel_ships_the_launch_configs():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert "stoic_workshop.launch" in setuptools["packages"]
    assert setuptools["package-data"]["stoic_workshop.launch"] == ["*.yaml"]


def test_cli_launch_config_and_refusal(capsys, monkeypatch):
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert main(["launch-config", "ddp"]) == 0
    assert capsys.readouterr().out.strip() == str(launch_config("ddp"))
    assert main(["launch-config", "nope"]) == 2
    assert "ddp" in capsys.readouterr().err
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(["models"]) == 2
    err = capsys.readouterr().err
    assert "`stoic-workshop models`" in err and "`train`" in err


@pytest.mark.parametrize("rank, seen", [("0", True), ("1", False)])
def test_main_only_prints_from_the_first_process(capsys, monkeypatch, rank, seen):
    monkeypatch.setenv("RANK", rank)
    monkeypatch.setenv("WORLD_SIZE", "2")
    with main_only():
        print("hello from a process")
    assert ("hello from a process" in capsys.readouterr().out) == seen


# --- slow: real two-process launches on the CPU -------------------------------------------------------------------

HOOK = '''import os, sys
_rank, _out, _logs = os.environ.get("RANK"), os.environ.get("WATCH_OUT"), os.environ.get("WATCH_LOGS")
if _rank is not None and _out and _logs:
    _log = open(os.path.join(_logs, f"writes-{_rank}.log"), "a", buffering=1)  # opened before the hook exists
    _WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT

    def _watch(event, args):
        if event == "open":
            path, mode, flags = args
            if not ((isinstance(mode, str) and any(c in mode for c in "wax+")) or (flags or 0) & _WRITE):
                return
            paths = [path]
        elif event in ("os.rename", "os.replace"):
            paths = args[:2]
        elif event in ("os.remove", "os.mkdir"):
            paths = args[:1]
        else:
            return
        for p in paths:
            if isinstance(p, (str, bytes, os.PathLike)):
                p = os.path.abspath(os.fsdecode(p))
                if p == _out or p.startswith(_out + os.sep):
                    _log.write(f"{event}\\t{p}\\n")

    sys.addaudithook(_watch)
'''


def _launch(cwd: Path, *command: str, logs: Path | None = None, out: Path | None = None):
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "ACCELERATE_USE_FSDP"):
        env.pop(name, None)
    if logs is not None:
        (logs / "site").mkdir(parents=True, exist_ok=True)
        (logs / "site" / "sitecustomize.py").write_text(HOOK)
        env.update(PYTHONPATH=str(logs / "site"), WATCH_OUT=str(out.resolve()), WATCH_LOGS=str(logs))
    cmd = ["accelerate", "launch", "--config_file", str(launch_config("ddp")), "--num_processes", "2",
           "--main_process_port", str(free_port()), "-m", "stoic_workshop", *command]
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory, gemma_tok):
    """The tiny random Gemma 3 of conftest's `tiny_gemma3`, saved with its tokenizer as a model folder."""
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    from stoic_workshop.chat import prepare_tokenizer

    torch.manual_seed(0)
    model = Gemma3ForCausalLM(Gemma3TextConfig(
        vocab_size=len(gemma_tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, head_dim=16, sliding_window=64, max_position_embeddings=256))
    prepare_tokenizer(gemma_tok, model, family="gemma")
    folder = tmp_path_factory.mktemp("tiny-gemma3")
    model.save_pretrained(folder)
    gemma_tok.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory, tiny_folder):
    """docs/several-gpus.md's DDP command, 2 steps, once for the module: (completed process, work folder, OUT, logs)."""
    work = tmp_path_factory.mktemp("ddp")
    out, logs = work / "out", work / "logs"
    done = _launch(work, "train", "--model", str(tiny_folder), "--out", "out", "--steps", "2", "--save-steps", "2",
                   logs=logs, out=out)
    return done, work, out, logs


def _writes(logs: Path, rank: int) -> list[tuple[str, Path]]:
    lines = (logs / f"writes-{rank}.log").read_text().splitlines()
    return [(event, Path(path)) for event, path in (line.split("\t") for line in lines)]


@pytest.mark.slow
def test_ddp_launch_trains_once_and_only_rank_0_writes(ddp_run):
    done, _, out, logs = ddp_run
    assert done.returncode == 0, done.stderr[-4000:]
    for line in ("Route:", "Several processes: 2 processes", "2 processes x 2 x 2 = 8 examples a step",
                 "Fine-tuned for 2 steps"):
        assert done.stdout.count(line) == 1, (line, done.stdout)
    for name in ("adapter_config.json", "adapter_model.safetensors", "training.json", "loss.png"):
        assert (out / name).is_file(), name
    settings = json.loads((out / "training.json").read_text())
    assert settings["steps"] == 2
    settings = settings["settings"]
    assert (settings["processes"], settings["effective_batch"], settings["per_process"]) == (2, 8, [2, 2])

    rank0 = _writes(logs, 0)
    assert ("open", out / "training.json") in rank0  # the positive control: the hook sees rank 0's writes
    assert (logs / "writes-1.log").is_file()  # the hook was installed in rank 1 too
    assert (out / "checkpoints" / "checkpoint-2" / "rng_state_1.pth").is_file()  # rank 1's own (torch: native)
    for event, path in _writes(logs, 1):
        assert path.is_relative_to(out / "checkpoints"), (event, path)
        assert path.name == "rng_state_1.pth" or (event == "os.mkdir" and path.name.startswith("checkpoint")), \
            (event, path)

    with open(out / "energy" / "emissions.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [row["project_name"] for row in rows] == ["training"]  # one measurement: rank 0's


@pytest.mark.slow
def test_ddp_resume_under_two_processes(ddp_run, tiny_folder):
    done, work, out, _ = ddp_run
    assert done.returncode == 0, done.stderr[-4000:]
    again = work / "again"  # a copy, so that the first run's folder stays as it was for the test above
    shutil.copytree(out, again)
    resumed = _launch(work, "train", "--model", str(tiny_folder), "--out", "again", "--steps", "4",
                      "--save-steps", "2", "--resume")
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert resumed.stdout.count("Resuming from") == 1, resumed.stdout
    record = json.loads((again / "training.json").read_text())
    assert record["steps"] == 4
    assert [step for step, _ in record["losses"]] == [1, 2, 3, 4]
    checkpoint = again / "checkpoints" / "checkpoint-4"
    assert (checkpoint / "rng_state_0.pth").is_file() and (checkpoint / "rng_state_1.pth").is_file()


@pytest.mark.slow
def test_only_train_runs_under_accelerate_launch(tmp_path):
    done = _launch(tmp_path, "models")
    assert done.returncode != 0
    assert "only `train` runs under accelerate launch" in done.stderr


def test_accelerate_launch_on_the_cpu_says_that_it_trains_in_one_process(tmp_path):
    """`accelerate launch --cpu` starts one plain process whatever --num_processes and the config ask, and passes the
    config's FSDP settings to none: `train` says so in one line instead of training quietly as one process."""
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "ACCELERATE_USE_FSDP", "ACCELERATE_USE_CPU"):
        env.pop(name, None)
    cmd = ["accelerate", "launch", "--cpu", "--num_processes", "2", "--config_file", str(launch_config("fsdp")),
           "-m", "stoic_workshop", "train", "--data", str(tmp_path / "missing.jsonl"), "--out", str(tmp_path / "out")]
    done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    said = [line for line in done.stdout.splitlines() if "accelerate launch --cpu" in line]
    assert len(said) == 1 and "one process" in said[0] and "FSDP" in said[0], done.stdout[-2000:]
    assert done.returncode == 1 and "missing.jsonl" in done.stderr  # then the run goes on as one process
    plain = subprocess.run([sys.executable, "-m", "stoic_workshop", "train", "--data", str(tmp_path / "missing.jsonl"),
                            "--out", str(tmp_path / "out")], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert "accelerate launch --cpu" not in plain.stdout and plain.returncode == 1


# --- docs/several-gpus.md ("More than one GPU") says what the code does and what was measured ------------------


def _gpu_page() -> str:
    """The page docs/several-gpus.md, once the README's section "More than one GPU" (issue 30)."""
    text = (ROOT / "docs" / "several-gpus.md").read_text()
    return text.split("# More than one GPU", 1)[1].split("\n## ", 1)[0]


def test_readme_commands_parse_with_accelerate_and_the_cli():
    """Every launch line of docs/several-gpus.md (the Slurm one too) parses with accelerate's own launch parser, names a
    shipped config, and hands `train` arguments that the package's parser accepts."""
    import shlex

    from accelerate.commands.launch import launch_command_parser

    from stoic_workshop.cli import build_parser

    section = _gpu_page()
    joined = section.replace("\\\n", " ")  # continuation lines joined
    lines = [line.split("accelerate launch ", 1)[1] for line in joined.splitlines() if "accelerate launch " in line]
    assert len(lines) == 4, lines  # ddp, fsdp, fsdp-qlora, Slurm
    names = set()
    env = {"SLURM_NNODES": "2", "SLURM_NODEID": "0", "MAIN_HOST": "node1"}
    for line in lines:
        line = line.split("'")[0]  # the Slurm line ends inside bash -c '...'
        for key, value in env.items():
            line = line.replace(f'"${key}"', value)
        line = line.replace("$((SLURM_NNODES * 4))", "8")
        name = line.split("launch-config ", 1)[1].split(")", 1)[0]
        names.add(name)
        args = shlex.split(line.replace(f'"$(stoic-workshop launch-config {name})"', str(launch_config(name))))
        parsed = launch_command_parser().parse_args(args)
        assert Path(parsed.config_file).is_file() and parsed.module and parsed.training_script == "stoic_workshop"
        train = build_parser().parse_args(parsed.training_script_args)
        assert train.command == "train" and train.out.startswith("adapters/")
    assert names == set(LAUNCH_CONFIGS)


def test_readme_numbers_match_the_committed_bench():
    """docs/several-gpus.md's 2 x H200 table and 9B sentence are the numbers in bench/results/multi_gpu_h200x2, not
    retyped ones."""
    bench = ROOT / "bench" / "results" / "multi_gpu_h200x2"
    section = _gpu_page()
    for run in ("1", "2", "2-each", "1-b4", "2-b4"):
        main = json.loads((bench / f"ddp-{run}gpu" / "rank0.json").read_text())
        peaks = ", ".join(f"{json.loads(p.read_text())['peak_allocated_gib']:.2f}"
                          for p in sorted((bench / f"ddp-{run}gpu").glob("rank*.json")))
        speed = main["tokens"] / main["steps"] / main["median_step_s"]
        row = f"| {main['median_step_s']:.3f} | {speed:,.0f} |"
        assert row in section and f"| {peaks} |" in section, (run, row, peaks)
    fsdp = json.loads((bench / "fsdp-2gpu" / "rank0.json").read_text())
    losses = [v for _, v in fsdp["losses"]]
    reload = json.loads((bench / "fsdp-2gpu" / "reload.json").read_text())
    for number in (f"{sum(losses[:5]) / 5:.2f}", f"{sum(losses[-5:]) / 5:.2f}", f"{fsdp['median_step_s']:.2f}",
                   f"{reload['loss_without']:.2f}", f"{reload['loss_with']:.2f}"):
        assert number in section, number
    assert losses[-1] < losses[0] - 2 and reload["loss_with"] < reload["loss_without"] - 2
    # the deck's slide says the same: the 2-GPU ratio, the one-GPU larger-batch ratio, the 9B's memory per GPU
    slide = (ROOT / "slides" / "deck.md").read_text().split("# Outgrowing one GPU", 1)[1].split("\n---", 1)[0]
    speed = {run: (lambda m: m["tokens"] / m["steps"] / m["median_step_s"])(
        json.loads((bench / f"ddp-{run}gpu" / "rank0.json").read_text())) for run in ("1", "2", "1-b4")}
    peak = max(json.loads(p.read_text())["peak_allocated_gib"] for p in (bench / "fsdp-2gpu").glob("rank*.json"))
    for said in (f"{speed['2'] / speed['1']:.2f}x", f"{speed['1-b4'] / speed['1']:.2f}x", f"{peak:.0f} GiB each"):
        assert said in slide, said


@pytest.mark.slow
def test_nan_guard_stops_every_process(tiny_folder, tmp_path):
    """A loss that turns NaN (learning rate 1e30) stops both processes at the same step, with one error message,
    nothing saved but the last good checkpoint: the loss the guard reads is averaged over the processes."""
    out = tmp_path / "nan"
    run = _launch(tmp_path, "train", "--model", str(tiny_folder), "--out", str(out), "--steps", "4",
                  "--save-steps", "2", "--lr", "1e30", "--no-energy")
    assert run.returncode == 1, run.stderr[-3000:]
    errors = [line for line in run.stderr.splitlines() if line.startswith("error")]
    assert len(errors) == 1 and "The loss became nan" in errors[0], errors
    assert not (out / "adapter_model.safetensors").exists()
    assert sorted(p.name for p in (out / "checkpoints").glob("checkpoint-*")) == ["checkpoint-2"]
