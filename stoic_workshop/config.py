"""The training recipe: TRL's own `SFTConfig` with the workshop's defaults, plus the LoRA fields. Nothing else.

    config = sw.StoicConfig(output_dir="adapters/stoic", max_steps=60)   # the workshop's recipe
    result = sw.finetune(model, tokenizer, data, config)

In the alignment-handbook way, the config extends the library's own rather than wrapping it: every field of
`SFTConfig` (and of transformers' `TrainingArguments` under it) can be set here with its own name, and only what
the course needs is added: the LoRA fields (`lora_r`, `lora_alpha`, `lora_dropout`, `target_modules`), the
frozen base's precision on a CPU (`cpu_dtype`) and `fold`. What the workshop changes from TRL's defaults is
declared again below, with the reason.

Two defaults are decided when training starts, not here, because they depend on the model and the machine:
- `learning_rate=None`: from the model's size (`learning_rate_for`): 1e-3 under 500M parameters, else 2e-4.
- `optim=None`: AdamW 8-bit (bitsandbytes) on a GPU, AdamW (torch) on a CPU.
`finetune` also sets what belongs to the machine: the precision (bf16, fp16 or fp32), the device, gradient
checkpointing on the 4-bit route, and folding short micro-batches into one pass. `output_dir` is the adapter
folder; the Trainer's checkpoints go into its `checkpoints/`.

Importing this module imports TRL (several seconds), so `stoic_workshop` loads it only when `StoicConfig` is used.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from enum import Enum

from trl import SFTConfig

from .models import PROJECTIONS

__all__ = ["StoicConfig", "CPU_DTYPES"]

CPU_DTYPES = ("auto", "float32", "bfloat16")
RECIPE = ("lora_r", "lora_alpha", "lora_dropout", "target_modules", "learning_rate", "max_steps",
          "per_device_train_batch_size", "gradient_accumulation_steps", "warmup_steps", "lr_scheduler_type",
          "weight_decay", "seed", "save_steps", "max_length", "optim", "cpu_dtype", "fold",
          "keep_effective_batch")  # what training.json keeps


@dataclass
class StoicConfig(SFTConfig):
    """TRL's SFTConfig with the workshop's recipe: LoRA r=16 on all seven projections, 60 steps of 2 x 4 examples.

    Example: `sw.StoicConfig(output_dir="adapters/stoic", max_steps=60, lora_r=8)`; `config.recipe()` lists the
    values that make the recipe (what `training.json` records).
    """

    # Where the adapters go (TRL's output_dir; the Trainer's checkpoints go in its checkpoints/ folder)
    output_dir: str | None = "adapters"

    # LoRA: the fields TRL leaves to PEFT
    lora_r: int = 16                    # rank of the update matrices: 8-64 is usual; 16 is the workshop's
    lora_alpha: int = 16                # scale alpha / r = 1
    lora_dropout: float = 0.0           # 0: Unsloth's fast path, and little data to overfit in 60 steps
    target_modules: list[str] = field(default_factory=lambda: list(PROJECTIONS))  # all 7 projections; slides: q, v

    # The workshop's changes to TRL's defaults
    learning_rate: float | None = None  # None: from the model's size when training starts (learning_rate_for)
    max_steps: int = 60                 # optimizer steps: ~480 conversations seen at 2 x 4 per step
    per_device_train_batch_size: int = 2
    gradient_accumulation_steps: int = 4  # 2 x 4 = 8 examples per optimizer step
    warmup_steps: float = 5
    weight_decay: float = 0.01
    seed: int = 3407                    # Unsloth's notebooks' seed: the same data order and LoRA init every run
    max_length: int | None = 512        # longer rows are left out, not cut (a cut reply loses its end of turn)
    optim: str | None = None            # None: AdamW 8-bit on a GPU (bitsandbytes); AdamW on a CPU, under FSDP
    save_steps: float = 10              # a checkpoint every 10 steps: a run cut short resumes from there
    save_total_limit: int | None = 2
    logging_steps: float = 1            # every step's loss: the loss curve and the NaN guard read it
    logging_nan_inf_filter: bool = False  # a NaN loss must reach the guard, not be hidden
    disable_tqdm: bool = True           # the course's own progress bar replaces Trainer's
    report_to: None | str | list[str] = "none"  # energy is measured by CodeCarbon around the whole run instead
    train_sampling_strategy: str = "group_by_length"  # batches of similar lengths: less padding on a CPU
    include_num_input_tokens_seen: str | bool = "non_padding"  # tokens trained on, for tokens/s
    dataset_kwargs: dict | str | None = field(default_factory=lambda: {"skip_prepare_dataset": True})  # rows come
    remove_unused_columns: bool = False  # tokenized by align.encode, with labels on the replies only
    bf16: bool | None = False           # TRL turns it on by default; finetune sets the precision for the machine
    gradient_checkpointing: bool | None = None  # TRL's default is on; finetune turns it on for the 4-bit GPU route

    # The frozen base on a CPU: "auto" keeps it in bf16 where the CPU has bf16 matrix instructions, else fp32
    cpu_dtype: str = "auto"
    # Run batch x accumulation examples in one pass when they are short (None: decide by length; see train._fold)
    fold: bool | None = None
    # On several GPUs (accelerate launch): per-GPU batch x GPUs x accumulation stays batch x accumulation above (the
    # one-GPU recipe's 8 examples a step), so 60 steps mean the same; False: each GPU runs the whole batch x accum
    keep_effective_batch: bool = True

    def __post_init__(self):
        problems = []
        for name in ("lora_r", "lora_alpha", "max_steps", "per_device_train_batch_size",
                     "gradient_accumulation_steps", "max_length"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                problems.append(f"{name} must be a whole number of at least 1, e.g. {name}={_example(name)}; "
                                f"got {value!r}")
        if isinstance(self.save_steps, bool) or not isinstance(self.save_steps, (int, float)) or self.save_steps <= 0:
            problems.append(f"save_steps must be a number above 0, e.g. save_steps=10; got {self.save_steps!r}")
        if not 0 <= self.lora_dropout < 1:
            problems.append(f"lora_dropout must be in [0, 1), e.g. lora_dropout=0.05; got {self.lora_dropout!r}")
        if self.learning_rate is not None and (isinstance(self.learning_rate, bool) or
                                               not isinstance(self.learning_rate, (int, float)) or
                                               self.learning_rate <= 0):
            problems.append(f"learning_rate must be a number above 0 (e.g. learning_rate=2e-4), or None to pick it "
                            f"from the model's size; got {self.learning_rate!r}")
        if (isinstance(self.target_modules, str) or not isinstance(self.target_modules, (list, tuple))
                or not self.target_modules or not all(isinstance(t, str) and t for t in self.target_modules)):
            problems.append("target_modules must be a list of layer names, e.g. target_modules=['q_proj', 'v_proj']; "
                            f"got {self.target_modules!r}")
        else:
            self.target_modules = list(self.target_modules)
        if self.cpu_dtype not in CPU_DTYPES:
            problems.append(f"cpu_dtype must be one of {', '.join(map(repr, CPU_DTYPES))}; got {self.cpu_dtype!r}")
        if problems:
            raise ValueError("StoicConfig: " + "; ".join(problems))
        # None stays None (finetune decides); TrainingArguments' own checks and conversions see stand-ins meanwhile
        learning_rate, optim = self.learning_rate, self.optim
        self.learning_rate, self.optim = learning_rate or 0.0, optim or "adamw_torch"
        super().__post_init__()
        self.learning_rate, self.optim = learning_rate, self.optim if optim else None

    def recipe(self) -> dict:
        """The fields this class declares (the workshop's recipe), as plain values: what `training.json` records.

        Example: `sw.StoicConfig().recipe()["lora_r"]` -> 16
        """
        return {name: _plain(getattr(self, name)) for name in RECIPE}


def _example(name: str):
    return {f.name: f.default for f in fields(StoicConfig)}.get(name)


def _plain(value):
    """Enums (TRL turns names such as "linear" into SchedulerType) as their values, lists copied: JSON-ready."""
    if isinstance(value, Enum):
        return value.value
    return list(value) if isinstance(value, (list, tuple)) else value

