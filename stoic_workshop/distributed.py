"""Step 3, scaled out: the same fine-tune on several GPUs, through accelerate (DDP or FSDP), unchanged.

One GPU to several is a change of launcher line only:

    stoic-workshop train --model gemma-2-2b-it --out adapters/2b
    accelerate launch --config_file "$(stoic-workshop launch-config ddp)" -m stoic_workshop train \\
        --model gemma-2-2b-it --out adapters/2b

`accelerate launch` starts one process per GPU, each running the same command; TRL's SFTTrainer (through accelerate)
splits every batch between them and averages the gradients. This module holds the little the course adds:

- `world()`: which process this is, read from the launcher's environment (RANK, WORLD_SIZE, LOCAL_RANK, ...).
- `check_world`: a clear error before any loading, for more processes than GPUs, or a combination that cannot work
  (Unsloth under FSDP).
- `split_batch`: the recipe means the same on any number of GPUs: per-GPU batch x GPUs x accumulation stays the
  single-GPU recipe's 2 x 4 = 8 examples a step, and the step count stays 60, unless `keep_effective_batch=False`.
- `main_only`: every process trains, but only the first prints and writes (adapters, training.json, loss.png,
  energy); Trainer's checkpoints are written by all together (each keeps its own random state there).
- `launch_config(name)`: the accelerate configs shipped beside the package (`stoic_workshop/launch/*.yaml`).

Energy: CodeCarbon runs in the main process only, and reads every GPU of the machine through NVML. On a cluster of
several machines only the first machine is measured: the report says so.
"""

from __future__ import annotations

import contextlib
import io
import os
from dataclasses import dataclass
from pathlib import Path

from .settings import env

__all__ = ["World", "world", "check_world", "split_batch", "main_only", "launch_config", "LAUNCH_CONFIGS",
           "LaunchError"]

# name -> (file, what it is for); the files are accelerate's own config format, in stoic_workshop/launch/
LAUNCH_CONFIGS = {
    "ddp": ("ddp-model-fits-on-one-gpu.yaml",
            "DDP: a model that fits on one GPU; each GPU holds all of it and trains on its share of each batch"),
    "fsdp": ("fsdp-model-too-big-for-one-gpu.yaml",
             "FSDP: a model too big for one GPU; its weights are sharded across the GPUs (bf16 base, LoRA)"),
    "fsdp-qlora": ("fsdp-qlora-model-too-big-for-one-gpu.yaml",
                   "FSDP with a 4-bit NF4 base (QLoRA): the biggest model for the GPUs you have"),
}


class LaunchError(ValueError):
    """A launch that cannot work (check_world): every process finds the same, so only the first says it."""


@dataclass(frozen=True)
class World:
    """This process's place among those the launcher started. One process alone is `World(1, 0, 0, 1, False)`.

    Example: `sw.world()` -> World(size=1, rank=0, local_rank=0, local_size=1, fsdp=False); `.main` -> True
    """

    size: int          # processes in all (GPUs in all, on every machine)
    rank: int          # this process, 0 .. size-1
    local_rank: int    # this process on this machine: its GPU
    local_size: int    # processes on this machine
    fsdp: bool         # launched with an FSDP config (accelerate sets ACCELERATE_USE_FSDP)

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def machines(self) -> int:
        return max(1, self.size // max(1, self.local_size))

    def __str__(self) -> str:
        if self.size == 1:
            return "one process"
        how = "FSDP (sharded weights)" if self.fsdp else "DDP (a whole copy of the model each)"
        where = f" on {self.machines} machines" if self.machines > 1 else ""
        return f"{self.size} processes{where}, {how}"


def world() -> World:
    """Read this process's place from the environment that `accelerate launch` (or torchrun) set.

    Example: `sw.world().main` -> True in a notebook or a plain `stoic-workshop train`
    """
    def number(*names, default):
        for name in names:
            value = os.environ.get(name, "").strip()
            if value.isdigit():
                return int(value)
        return default

    size = number("WORLD_SIZE", default=1)
    local_size = number("LOCAL_WORLD_SIZE", default=size)
    return World(size=size, rank=number("RANK", default=0), local_rank=number("LOCAL_RANK", default=0),
                 local_size=local_size,
                 fsdp=size > 1 and os.environ.get("ACCELERATE_USE_FSDP", "").lower() in ("1", "true", "yes"))


def check_world(here: World | None = None, *, backend: str | None = None, gpus: int | None = None) -> World:
    """Refuse, before any loading, a launch that cannot work; return the World.

    - more processes on this machine than it has GPUs (two processes on one GPU fail later, in NCCL, obscurely);
    - FSDP with no GPU (FSDP shards across GPUs; on a CPU use one process, or DDP for a test);
    - Unsloth under FSDP: Unsloth patches the model for one GPU and does not support FSDP's sharding.
    `gpus`: GPUs on this machine (default: torch's count).
    Example: `sw.check_world()` -> World(size=1, ...) alone; a ValueError naming the problem otherwise
    """
    here = here or world()
    if here.size == 1:
        return here
    if gpus is None:
        import torch

        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
    backend = backend or env("STOIC_BACKEND")
    if gpus and here.local_size > gpus:
        raise LaunchError(f"accelerate started {here.local_size} processes on this machine but it has {gpus} "
                         f"GPU{'s' if gpus > 1 else ''}: one process per GPU. Launch with --num_processes {gpus} "
                         f"(the shipped configs say num_processes: 2; --num_processes on the command line wins).")
    if here.fsdp and not gpus:
        raise LaunchError("FSDP shards a model across GPUs and this machine has none. On a CPU train with one "
                         "process (`stoic-workshop train`); the DDP config runs on CPUs too, for a test.")
    if here.fsdp and backend.startswith("unsloth"):
        raise LaunchError("Unsloth does not run under FSDP: it patches the model for one GPU. Use the transformers "
                         "backend (unset STOIC_BACKEND) with the FSDP configs, or the DDP config with Unsloth.")
    return here


def split_batch(batch: int, accumulation: int, processes: int, *, keep_effective_batch: bool = True):
    """(per-GPU batch, accumulation steps, note): the single-GPU recipe's examples per step, shared out.

    The effective batch is per-GPU batch x GPUs x accumulation. It stays batch x accumulation of the recipe when
    `keep_effective_batch` (the default): the accumulation is divided by the GPUs, then the batch if it must be.
    Where the examples cannot be shared out evenly the nearest larger effective batch is used, and the note says so.
    Examples: `split_batch(2, 4, 2)` -> (2, 2, "..."); `split_batch(2, 4, 1)` -> (2, 4, "")
    """
    wanted = batch * accumulation
    if processes == 1:
        return batch, accumulation, ""
    if not keep_effective_batch:
        return batch, accumulation, (f"{processes} processes x {batch} x {accumulation} = "
                                     f"{processes * batch * accumulation} examples a step ({processes}x the "
                                     f"recipe's {wanted}: keep_effective_batch=False)")
    for per_gpu in range(batch, 0, -1):  # the largest per-GPU batch (fewest passes) that shares out exactly
        if wanted % (per_gpu * processes) == 0:
            accum = wanted // (per_gpu * processes)
            return per_gpu, accum, (f"{processes} processes x {per_gpu} x {accum} = {wanted} examples a step, "
                                    f"as the recipe's {batch} x {accumulation} on one GPU")
    per_gpu, accum = 1, -(-wanted // processes)
    return per_gpu, accum, (f"{processes} processes x 1 x {accum} = {processes * accum} examples a step: the "
                            f"recipe's {wanted} do not share out evenly over {processes} processes, so this is "
                            "the nearest larger batch")


@contextlib.contextmanager
def main_only(here: World | None = None):
    """Inside: what every process prints goes to the screen from the first process only (errors still show)."""
    here = here or world()
    if here.main:
        yield True
        return
    with contextlib.redirect_stdout(io.StringIO()):
        yield False


def launch_config(name: str) -> Path:
    """The path of a shipped accelerate config: "ddp", "fsdp" or "fsdp-qlora" (see LAUNCH_CONFIGS).

    Example: `accelerate launch --config_file "$(stoic-workshop launch-config ddp)" -m stoic_workshop train`
    """
    if name not in LAUNCH_CONFIGS:
        raise ValueError(f"no launch config {name!r}: the shipped ones are "
                         + "; ".join(f"{key} ({why})" for key, (_, why) in LAUNCH_CONFIGS.items()))
    return Path(__file__).with_name("launch") / LAUNCH_CONFIGS[name][0]
