"""Step 3, fine-tuning: steer the model's personality with LoRA, cheaply, and show what it cost.

One call, `finetune(model, tokenizer, dataset, "adapters")`, runs TRL's SFTTrainer on whatever this machine has:

- CUDA, the default: transformers + bitsandbytes NF4 base + PEFT LoRA (the textbook QLoRA).
- CUDA, a model loaded with `backend="unsloth"`: 4-bit QLoRA through Unsloth (its LoRA kernels and "unsloth"
  gradient checkpointing): faster steps and less memory, after a minute of compiling; worth it for long runs.
- CPU: plain LoRA, no 4-bit, the default. The step is made cheap without changing what is learned: sequences no longer
  than the data needs, batches of similar lengths, and the output layer (262k words wide for Gemma 3, the
  largest cost) applied only where a label is trained. Where the CPU has bf16 matrix instructions (AMX or
  AVX512-BF16) the frozen base weights are kept in bf16 while the adapters train in fp32, as on a GPU.
- CPU, a model loaded with `load_model(..., cpu_4bit=True)`: real QLoRA, an NF4 base (bitsandbytes) under fp32
  LoRA adapters, with the same cheap step. It holds a third of the memory of fp32 (SmolLM2: 186 vs 550 MB) but
  each step costs more, since every 4-bit matrix is unpacked to fp32 in each pass, forward and backward
  (bench/memory.py). The adapters it saves load on the full-precision base like any others.

Precision on a GPU: bf16 where it has it; on a T4 (no bf16), or in T4 mode (STOIC_T4=1, see models.py), fp16 with
a loss scaler, except for Gemma 3, whose activations go above fp16's largest number (65,504) and train in fp32 there
(`models.compute_dtype`). In T4 mode nothing may be in bf16: finetune checks the model before it trains.

The recipe is one config, `StoicConfig` (config.py): TRL's own SFTConfig with the workshop's defaults (LoRA r=16,
alpha 16, dropout 0, 60 steps, batch 2 x accumulation 4, linear schedule with a short warm-up, seed 3407) and the
learning rate picked from the model's size (`learning_rate_for`). Loss on the replies only. Checkpoints are written
every `save_steps`, so a run cut short (Colab disconnects, Ctrl-C, a killed process) continues with `resume=True`.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

from .masking import IGNORE, check_dataset, encode
from .energy import earlier_parts
from .models import PROJECTIONS, check_same_base, cpu_threads
from .settings import env

__all__ = ["finetune", "TrainResult", "NotOurs", "PROJECTIONS", "LEARNING_RATE",
           "last_checkpoint", "learning_rate_for", "ensure_adapters", "plot_losses",
           "cpu_has_bf16_matmul"]

FOLD_TOKENS = 4096  # on a GPU, fold micro-batches while a pass stays under this many tokens

CHECKPOINTS = "checkpoints"
RECORD = "training.json"
LOSS_PLOT = "loss.png"
MARKER = ".stoic-workshop"  # written in every folder finetune makes: a later run may write over its files there
# What finetune writes into output_dir (PEFT's adapters and model card, the tokenizer's files, its own): a folder
# that finetune did not make is refused, and these are the files there that would be lost.
WRITES = ("adapter_config.json", "adapter_model.safetensors", "README.md", "tokenizer.json", "tokenizer_config.json",
          "special_tokens_map.json", "chat_template.jinja", "tokenizer.model", "vocab.json", "merges.txt",
          "added_tokens.json", RECORD, LOSS_PLOT, CHECKPOINTS, "energy")


LEARNING_RATE = 2e-4     # the workshop's rate, for models of 500M parameters and more (Gemma 2 2B on the slides)
SMALL_MODEL = 500e6      # parameters: below this, 60 steps at 2e-4 barely move the model
SMALL_MODEL_LR = 1e-3


def learning_rate_for(model) -> float:
    """The workshop's 2e-4 suits 2B models; a 135M model at 2e-4 for 60 steps hardly changes its answers.

    Measured on SmolLM2-135M-Instruct, 60 CPU steps: at 2e-4 the reply loss went 3.97 -> 3.63 and the answers
    stayed generic; at 1e-3 it went 4.10 -> 2.7 and the answers took up the Stoic voice. `StoicConfig`'s
    `learning_rate=None` (its default) means this rule. Example: `sw.learning_rate_for(model)` -> 0.001 for SmolLM2.
    """
    total = sum(p.numel() for p in model.parameters())
    return SMALL_MODEL_LR if total < SMALL_MODEL else LEARNING_RATE


class NotOurs(FileExistsError, ValueError):
    """An output folder (or file) that the project did not write: it is left as it is and nothing is written there.

    A ValueError too, so that every command that reports bad input (train, export, run) reports this one.
    """


def _mark_folder(folder: Path, made_by: str) -> None:
    """Create `folder` and mark it as the project's, so that a rerun may write over what it wrote there."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text(json.dumps({
        "made_by": made_by, "why": "stoic-workshop writes only into folders that hold this file (or that it made "
                                   "empty), and overwrites only its own files there"}) + "\n")


def _made_by_finetune(folder: Path) -> bool:
    """True for a folder finetune made: its marker, or (from before the marker) its record or Trainer's checkpoints."""
    if (folder / MARKER).is_file():
        return True
    try:
        record = json.loads((folder / RECORD).read_text())
        if isinstance(record, dict) and {"adapter_dir", "steps", "losses", "settings"} <= set(record):
            return True
    except (OSError, ValueError):
        pass
    return last_checkpoint(folder) is not None


def _check_output_dir(output_dir: Path) -> None:
    """Refuse an output folder that finetune did not make and that holds files: they could be overwritten or lost.

    A new or empty folder, or one finetune made before (a rerun, `resume=True`), is fine.
    """
    if output_dir.exists() and not output_dir.is_dir():
        raise NotOurs(f"output folder {output_dir} is a file, not a folder: pass a new folder for the adapters "
                      "(output_dir, or --out).")
    names = sorted(p.name for p in output_dir.iterdir()) if output_dir.is_dir() else []
    if not names or _made_by_finetune(output_dir):
        return
    at_risk = [name for name in names if name in WRITES]
    example = f"{at_risk[0]}, which training would overwrite" if at_risk else names[0]
    raise NotOurs(f"{output_dir} holds files that finetune did not write ({len(names)}, e.g. {example}), so "
                  "nothing was written there: pass a new or empty folder for the adapters (output_dir, or --out), "
                  "or move your files out of it.")


def _portable_adapter_config(output_dir: Path) -> None:
    """Record the base as a name any machine resolves (a preset, a Hub id), not this machine's cache folder:
    adapters given to another learner failed there with a misleading Hub error (models.portable_base). The model
    card PEFT writes (README.md: `base_model` and its `base_model:adapter:` tag) gets the same name."""
    from .models import portable_base

    path = output_dir / "adapter_config.json"
    config = json.loads(path.read_text())
    recorded = config.get("base_model_name_or_path") or ""
    if portable_base(recorded) == recorded:
        return
    config["base_model_name_or_path"] = portable_base(recorded)
    path.write_text(json.dumps(config, indent=2, sort_keys=True))
    card_path = output_dir / "README.md"
    if card_path.is_file():
        from huggingface_hub import ModelCard

        card = ModelCard.load(card_path)
        if card.data.base_model == recorded:
            card.data.base_model = portable_base(recorded)
        card.data.tags = [t.replace(recorded, portable_base(recorded)) for t in card.data.tags or []] or None
        card.save(card_path)


@dataclass
class TrainResult:
    """What a fine-tune produced and what it cost. `str()` is a summary; `.plot()` draws the loss curve.

    Example: `result = sw.finetune(model, tok, ds, "adapters/stoic"); print(result); result.plot("loss.png")`
    """

    model: object = field(repr=False)
    adapter_dir: Path
    path: str                      # "unsloth", "qlora" (transformers + bitsandbytes), "cpu-lora", "cpu-qlora"
    precision: str
    steps: int
    seconds: float
    tokens: int
    trainable: int
    total: int
    adapter_mb: float
    losses: list[tuple[int, float]]
    settings: dict
    step_seconds: list[float] = field(default_factory=list, repr=False)  # this session's steps, in order
    energy: object = field(default=None, repr=False)   # the Energy object that measured the run, or None

    @property
    def share(self) -> float:
        return self.trainable / self.total

    def __str__(self) -> str:
        first, last = self.losses[0][1], self.losses[-1][1]
        lines = [f"Fine-tuned for {self.steps} steps in {self.seconds:.0f} s ({self.path}, {self.precision}): "
                 f"loss {first:.2f} -> {last:.2f}, {self.tokens:,} tokens seen.",
                 f"Trainable: {self.trainable / 1e6:.2f} M of {self.total / 1e6:.0f} M parameters "
                 f"({self.share:.2%}). Adapters: {self.adapter_mb:.1f} MB in {self.adapter_dir}"]
        if self.energy is not None:
            lines.append(str(self.energy))
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return "<pre>" + str(self) + "</pre>"

    def plot(self, path=None):
        """Training loss per step (and its moving average), saved to `path` if given."""
        return plot_losses(self.losses, path, title=f"Training loss ({self.path}, r={self.settings['lora_r']})")


def plot_losses(losses, path=None, title="Training loss"):
    """The loss per optimizer step and its moving average, saved to `path` if given.

    `losses`: (step, loss) pairs, or Trainer's own record, `trainer.state.log_history` (its entries with a loss).
    Example: `sw.plot_losses(trainer.state.log_history)`
    """
    import matplotlib.pyplot as plt

    losses = [(e["step"], e["loss"]) if isinstance(e, dict) else tuple(e) for e in losses
              if not isinstance(e, dict) or "loss" in e]
    steps, values = zip(*losses) if losses else ((), ())
    fig, ax = plt.subplots(figsize=(6, 3))
    ax.plot(steps, values, color="#4c72b0", alpha=0.45, label="loss per step")
    k = max(1, len(values) // 10)
    if len(values) > k > 1:
        smooth = [sum(values[i - k + 1:i + 1]) / k for i in range(k - 1, len(values))]
        ax.plot(steps[k - 1:], smooth, color="#4c72b0", label=f"moving average ({k} steps)")
    ax.set(xlabel="optimizer step", ylabel="cross-entropy (replies only)", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    if path:
        fig.savefig(path, dpi=120)
    return fig


def last_checkpoint(output_dir) -> Path | None:
    """The newest complete checkpoint under `output_dir`/checkpoints, or None."""
    folder = Path(output_dir) / CHECKPOINTS
    done = [p for p in folder.glob("checkpoint-*") if (p / "trainer_state.json").exists()] if folder.exists() else []
    return max(done, key=lambda p: int(p.name.split("-")[-1]), default=None)


# ---------------------------------------------------------------------------------------------
# Choosing the path


def _route(model) -> str:
    from .distributed import world

    report = getattr(model, "load_report", None)
    backend = getattr(report, "backend", "")
    device = next(model.parameters()).device.type
    if world().fsdp:  # loaded into CPU memory (or only on the first process): FSDP puts its shards on the GPUs
        device = "cuda"
    if backend.startswith("unsloth"):
        return "unsloth"
    four_bit = getattr(model, "is_loaded_in_4bit", False)
    if device == "cuda":
        return "qlora" if four_bit else "gpu-lora"
    return "cpu-qlora" if four_bit else "cpu-lora"


CPU_ROUTES = ("cpu-lora", "cpu-qlora")


def cpu_has_bf16_matmul() -> bool:
    """True where the CPU multiplies bf16 matrices in hardware (AMX or AVX512-BF16, read from /proc/cpuinfo).

    There bf16 matrix products run 2.5-3x faster than fp32 (bench/train_cpu.py); elsewhere bf16 is emulated and
    slower, so fp32 stays.
    Example: `torch.bfloat16 if sw.cpu_has_bf16_matmul() else torch.float32`  # notebook 2's DTYPE on a CPU
    """
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return " amx_bf16" in flags or " avx512_bf16" in flags


RENAMED = {"batch_size": "per_device_train_batch_size", "grad_accum": "gradient_accumulation_steps",
           "max_seq_length": "max_length"}  # finetune's own names before StoicConfig, and TRL's names for them


def _config(config, overrides: dict):
    """The StoicConfig to train with: `config` (a StoicConfig, or the adapter folder) with `overrides` applied."""
    from dataclasses import fields, replace

    from .config import StoicConfig

    if not isinstance(config, StoicConfig):
        if not isinstance(config, (str, os.PathLike)):
            raise TypeError(f"finetune's fourth argument is a StoicConfig or the adapter folder, got "
                            f"{type(config).__name__}: e.g. finetune(model, tokenizer, data, "
                            "sw.StoicConfig(output_dir='adapters/stoic', max_steps=60))")
        config = StoicConfig(output_dir=str(config))
    renamed = {name: RENAMED[name] for name in overrides if name in RENAMED}
    if renamed:
        raise TypeError("finetune() settings now use TRL's names: " +
                        ", ".join(f"{old} -> {new}" for old, new in renamed.items()))
    unknown = sorted(set(overrides) - {f.name for f in fields(StoicConfig) if f.init})
    if unknown:
        raise TypeError(f"finetune() got unknown setting(s) {unknown}: the settings are StoicConfig's fields "
                        f"({', '.join(config.recipe())}) and any other field of TRL's SFTConfig")
    return replace(config, **overrides) if overrides else config


def _check_targets(model, targets: list[str]) -> None:
    import torch

    names = {name.rsplit(".", 1)[-1] for name, module in model.named_modules()
             if isinstance(module, torch.nn.Linear) or "Linear" in type(module).__name__}
    names.discard("lm_head")
    missing = [t for t in targets if t not in names]
    if missing:
        raise ValueError(f"target_modules {missing} are not layers of this model; its linear layers are "
                         f"{sorted(names)} (e.g. ['q_proj', 'v_proj'] as on the slides)")


# ---------------------------------------------------------------------------------------------
# Data


def _rows(dataset, tokenizer, cap: int) -> tuple[list[dict], int]:
    """Checked, tokenized rows (labels on replies only) no longer than `cap`, and the length to pad batches to.

    A row over the cap is left out, not cut: cut, it would lose its end-of-turn token and teach the model not to stop
    (or lose its whole reply). Without a cap one long row sets the length of every batch: one 100,000-character reply
    among 16 rows made sequences of 17,432 tokens and the process was killed at 23.5 GB.
    """
    if isinstance(dataset, (list, tuple)) and dataset and "complaint" in dataset[0]:
        from .dataset import load_pairs

        dataset = load_pairs(list(dataset))
    # Every other problem stops the run (check_dataset); over-long rows are handled here, all named in one line.
    report = check_dataset(dataset, tokenizer, max_seq_length=1 << 30)
    over = [i for i, n in enumerate(report.lengths) if n > cap]
    if len(over) == report.rows:
        raise ValueError(f"every row is longer than max_length {cap} tokens (the shortest has "
                         f"{min(report.lengths):,}): raise max_length (memory grows with it) or shorten the "
                         "replies.")
    if over:
        shown = ", ".join(f"row {i} ({report.lengths[i]:,} tokens)" for i in over[:10])
        more = f" and {len(over) - 10} more" if len(over) > 10 else ""
        print(f"Left out {len(over)} of {report.rows} rows as longer than max_length {cap} tokens (rows counted "
              f"from 0, as check_dataset does): {shown}{more}. Shorten them, or raise max_length (memory grows "
              "with it).")
    kept = [n for n in report.lengths if n <= cap]
    max_seq_length = min(cap, -(-max(kept) // 8) * 8)
    left_out = set(over)
    rows = []
    for i, row in enumerate(dataset):
        if i in left_out:
            continue
        enc = encode(tokenizer, row["messages"]) if "messages" in row and row["messages"] else dict(row)
        rows.append({"input_ids": enc["input_ids"], "attention_mask": enc.get("attention_mask") or
                     [1] * len(enc["input_ids"]),
                     "labels": enc.get("labels") or [t if m else IGNORE for t, m in
                                                     zip(enc["input_ids"], enc["assistant_masks"])]})
    return rows, max_seq_length


# ---------------------------------------------------------------------------------------------
# Progress (the NaN guard and the energy measurement are callbacks.py's)


def _progress(show_progress: bool):
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        """One tqdm bar with the latest loss; replaces Trainer's printed dicts."""

        bar = None
        step_seconds: list[float] = []
        _t = 0.0

        def on_step_begin(self, args, state, control, **kwargs):
            self._t = time.perf_counter()

        def on_train_begin(self, args, state, control, **kwargs):
            self.step_seconds = []
            if show_progress:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc="training", unit="step")

        def on_step_end(self, args, state, control, **kwargs):
            self.step_seconds.append(time.perf_counter() - self._t)
            if self.bar is not None:
                self.bar.update(state.global_step - self.bar.n)

        def on_log(self, args, state, control, logs=None, **kwargs):
            if self.bar is not None and logs and "loss" in logs:
                self.bar.set_postfix(loss=f"{logs['loss']:.3f}")

        def on_train_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.close()

    return Progress()


# ---------------------------------------------------------------------------------------------
# The trainer


def _chunked_cross_entropy():
    import torch

    class ChunkedCrossEntropy(torch.autograd.Function):
        """Summed cross-entropy through a frozen output layer, its gradient computed in the same pass.

        The (tokens x vocabulary) logits are never held whole: 256 rows at a time, the softmax is formed in place
        and turned into the gradient (softmax - one-hot) @ W at once, so each row of logits is written and read a
        few times instead of the dozen passes autograd makes (copy, log-softmax, its backward, fill, copy back).
        Same result as F.cross_entropy(hidden @ W.T, labels, reduction="sum") to float rounding (tests/test_train).
        """

        @staticmethod
        def forward(ctx, hidden, weight, labels, chunk=256):
            loss = torch.zeros((), dtype=torch.float32)
            grad = torch.empty(hidden.shape, dtype=torch.float32)
            for s in range(0, hidden.shape[0], chunk):
                y = labels[s:s + chunk, None]
                z = (hidden[s:s + chunk] @ weight.T).float()
                picked = z.gather(1, y)
                top = z.amax(1, keepdim=True)
                z.sub_(top).exp_()
                norm = z.sum(1, keepdim=True)
                loss += (top + norm.log() - picked).sum()
                z.div_(norm).scatter_add_(1, y, torch.full_like(picked, -1.0))
                grad[s:s + chunk] = (z.to(weight.dtype) @ weight).float()
            ctx.save_for_backward(grad)
            ctx.dtype = hidden.dtype
            return loss

        @staticmethod
        def backward(ctx, grad_output):
            (grad,) = ctx.saved_tensors
            return (grad * grad_output).to(ctx.dtype), None, None, None

    return ChunkedCrossEntropy


def _trainer_class(route: str):
    """SFTTrainer, with the CPU loss that applies the output layer only where labels are trained."""
    import torch
    import torch.nn.functional as F
    from trl import SFTTrainer

    if route not in CPU_ROUTES:
        return SFTTrainer
    ChunkedCrossEntropy = _chunked_cross_entropy()

    class CpuSFTTrainer(SFTTrainer):
        """On a CPU the output layer is the biggest cost (Gemma 3: 262,144 x 640 per token, forward and backward).

        TRL's own fused head scores every position on a CPU and recomputes the logits in the backward pass; here
        the backbone runs once and the head sees only the positions whose next token is trained (about 80% of the
        workshop's tokens: the reply, not the prompt or padding). The loss is the same cross-entropy, summed and
        divided by the trained tokens of the whole accumulated batch, as Trainer does.
        """

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if self.accelerator.num_processes > 1:  # several CPU processes (a test of the launch): the model's own
                from transformers import Trainer    # loss through DDP's forward, which syncs the gradients, scaled
                                                    # by Trainer for the tokens of every process
                return Trainer.compute_loss(self, model, inputs, return_outputs, num_items_in_batch)
            base = model.get_base_model() if hasattr(model, "get_base_model") else model
            labels = inputs["labels"][:, 1:]
            hidden = base.model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                                use_cache=False).last_hidden_state[:, :-1]
            keep = labels != IGNORE
            head = base.get_output_embeddings()
            softcap = getattr(base.config.get_text_config(), "final_logit_softcapping", None)
            if softcap or head.weight.requires_grad or head.bias is not None:
                logits = head(hidden[keep]).float()
                if softcap:
                    logits = torch.tanh(logits / softcap) * softcap
                total = F.cross_entropy(logits, labels[keep], reduction="sum")
            else:
                total = ChunkedCrossEntropy.apply(hidden[keep], head.weight, labels[keep])
            count = num_items_in_batch if num_items_in_batch is not None else keep.sum().clamp(min=1)
            loss = total / count
            if return_outputs:
                return loss, {"loss": loss}
            return loss

        def log(self, logs, start_time=None):  # SFTTrainer.log adds metrics that this loss does not compute
            self._metrics["train"].clear()
            super().log(logs, start_time)

    return CpuSFTTrainer


def _prepare(model, route: str, settings: dict):
    """The model with LoRA adapters for this route, and a word on its precision."""
    import torch
    from peft import LoraConfig, PeftModel, get_peft_model

    from .distributed import world

    # A notebook cell run twice passes the same base again, now holding the first run's LoRA layers.
    wrapped = model if isinstance(model, PeftModel) else getattr(model, "_stoic_peft", None)
    if wrapped is not None:
        print("This model already carries LoRA adapters from an earlier run: they are removed and training starts "
              "again from the base weights (the earlier adapters stay saved on disk).")
        model = wrapped.unload()
        model.__dict__.pop("_stoic_peft", None)
    _check_targets(model, settings["target_modules"])
    lora = {"r": settings["lora_r"], "lora_alpha": settings["lora_alpha"], "lora_dropout": settings["lora_dropout"],
            "target_modules": settings["target_modules"], "bias": "none"}
    if route == "unsloth":
        from unsloth import FastLanguageModel

        wrapped = FastLanguageModel.get_peft_model(model, use_gradient_checkpointing="unsloth",
                                                   random_state=settings["seed"], **lora)
        model.__dict__["_stoic_peft"] = wrapped
        if _gpu_dtype(model) == "fp32":  # Unsloth was handed fp16 and upcasts itself (models.load_model)
            return wrapped, "4-bit NF4 base, fp16 compute with Unsloth's fp32 upcasts (it overflows fp16 and this " \
                            "GPU has no bf16)"
        return wrapped, f"4-bit NF4 base, {_gpu_dtype(model)} compute{_why_fp32(model)}"
    if route in ("qlora", "gpu-lora") and _gpu_dtype(model) == "fp32":
        _compute_in_fp32(model)  # Gemma 3 without bf16: a model loaded by hand in fp16 would give NaN
    if route == "qlora" and world().fsdp:
        # prepare_model_for_kbit_training would turn the unquantized weights to fp32: FSDP needs one dtype per shard
        model.enable_input_require_grads()  # what it does that gradient checkpointing needs
        precision = f"4-bit NF4 base stored as {_gpu_dtype(model)} for FSDP, {_gpu_dtype(model)} compute"
    elif route == "qlora":
        from peft import prepare_model_for_kbit_training

        several = {"gradient_checkpointing_kwargs": {"use_reentrant": False}} if world().size > 1 else {}
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=True, **several)
        precision = f"4-bit NF4 base, {_gpu_dtype(model)} compute{_why_fp32(model)}"
    elif route == "gpu-lora":
        precision = f"{_gpu_dtype(model)} base{_why_fp32(model)}"
    elif route == "cpu-qlora":
        # No prepare_model_for_kbit_training: what it adds (upcasting 16-bit weights, gradient checkpointing) buys
        # nothing on a CPU whose weights are already fp32 and whose memory is not the limit for these models.
        torch.set_num_threads(cpu_threads())
        precision = f"4-bit NF4 frozen base, fp32 compute and adapters, {torch.get_num_threads()} threads"
    else:
        want = settings["cpu_dtype"]
        bf16 = want == "bfloat16" or (want == "auto" and cpu_has_bf16_matmul())
        model.to(torch.bfloat16 if bf16 else torch.float32)
        torch.set_num_threads(cpu_threads())
        precision = f"{'bf16' if bf16 else 'fp32'} frozen base, fp32 adapters, {torch.get_num_threads()} threads"
    torch.manual_seed(settings["seed"])
    wrapped = get_peft_model(model, LoraConfig(task_type="CAUSAL_LM", **lora))
    model.__dict__["_stoic_peft"] = wrapped  # plain attribute, not a submodule: found again on a second call
    return wrapped, precision


def _gpu_dtype(model=None) -> str:
    """"bf16", "fp16" or "fp32": what a GPU route computes in for `model` (models.compute_dtype decides)."""
    import dataclasses

    import torch

    from .models import compute_dtype, hardware

    hw = dataclasses.replace(hardware(), device="cuda")  # asked for a GPU route only
    return {torch.bfloat16: "bf16", torch.float16: "fp16", torch.float32: "fp32"}[compute_dtype(hw, model)]


def _why_fp32(model) -> str:
    return " (it overflows fp16 and this GPU has no bf16)" if _gpu_dtype(model) == "fp32" else ""


def _compute_in_fp32(model) -> None:
    """Float weights to fp32, and 4-bit layers computing in fp32: for a model that must not run in fp16 (Gemma 3)."""
    import torch

    for param in model.parameters():
        if param.is_floating_point() and param.dtype in (torch.float16, torch.bfloat16):
            param.data = param.data.float()
    for module in model.modules():
        for name, buf in module.named_buffers(recurse=False):
            if buf.is_floating_point() and buf.dtype in (torch.float16, torch.bfloat16):
                module._buffers[name] = buf.float()
        if getattr(module, "compute_dtype", None) in (torch.float16, torch.bfloat16):  # bitsandbytes Linear4bit
            module.compute_dtype = torch.float32


def _adapters_in_fp32(model) -> None:
    """Trainable weights back to fp32 where the GPU computes in fp16 or fp32.

    TRL 1.15's SFTTrainer casts the LoRA weights of every quantized model to bf16 (the QLoRA paper's recipe). With
    fp16 compute, on a T4, the loss scaler then stops the first step ("_amp_foreach_non_finite_check_and_unscale_cuda"
    not implemented for 'BFloat16', seen in T4 mode on an H200); fp16 mixed precision needs fp32 master weights.
    """
    import torch

    for param in model.parameters():
        if param.requires_grad and param.dtype in (torch.bfloat16, torch.float16):
            param.data = param.data.float()


def _check_t4(model, route: str) -> None:
    """In T4 mode (STOIC_T4=1) nothing may be in bf16, which a T4 cannot compute: refuse such a model, naming it."""
    import torch

    from .models import T4_ENV, hardware

    if route not in ("qlora", "gpu-lora") or not getattr(hardware(), "emulating_t4", False):
        return
    found = [name for name, t in [*model.named_parameters(), *model.named_buffers()] if t.dtype == torch.bfloat16]
    if found:
        raise RuntimeError(f"T4 mode ({T4_ENV}=1): {len(found)} tensors of this model are in bf16 (e.g. {found[0]}), "
                           "which a T4 cannot compute. Load the model with load_model after setting "
                           f"{T4_ENV}=1, so that it picks fp16 (fp32 for Gemma 3).")


def _trainer_args(config, route: str, settings: dict, ckpt_dir: Path, max_seq_length: int,
                  dtype: str | None = None):
    """`config` completed for this machine and this data, for the Trainer. `dtype` ("bf16", "fp16", "fp32"): a GPU
    route's compute, from _gpu_dtype. bf16 and fp16 turn on mixed precision (fp16 with a loss scaler); fp32 (Gemma 3
    without bf16) turns both off. `settings`: the recipe with the learning rate and optimizer already decided.
    """
    from dataclasses import fields, replace

    gpu = route not in CPU_ROUTES
    dtype = (dtype or _gpu_dtype()) if gpu else "fp32"
    batch, accum = _fold(route, settings, max_seq_length)
    checkpointing = "activation_checkpointing" if "activation_checkpointing" in {f.name for f in fields(config)} \
        else "gradient_checkpointing"  # transformers 5.24 renamed it; a copy must set the new name to change it
    several = {}
    if settings.get("processes", 1) > 1:  # every LoRA weight gets a gradient each pass: DDP need not search for
        several = {"ddp_find_unused_parameters": False,  # unused ones; checkpointing must be the non-reentrant
                   f"{checkpointing}_kwargs": {"use_reentrant": False}}  # kind under DDP and FSDP
    return replace(config, output_dir=str(ckpt_dir), per_device_train_batch_size=batch,
                   gradient_accumulation_steps=accum, learning_rate=settings["learning_rate"],
                   optim=settings["optim"], data_seed=settings["seed"], bf16=dtype == "bf16", fp16=dtype == "fp16",
                   use_cpu=not gpu, max_length=max_seq_length, **{checkpointing: route == "qlora"}, **several)


def _fold(route: str, settings: dict, max_seq_length: int) -> tuple[int, int]:
    """(examples per pass, passes per step). Gradient accumulation exists to save memory, and costs time.

    One pass over all 8 short examples costs less than 4 passes over 2 (bigger matrix products, a quarter of the
    per-pass overhead, which dominates a small-batch GPU step), and the gradient is the same: the loss is divided
    by the trained tokens of the whole optimizer step either way. So short examples are folded into one pass
    (always on a CPU, where memory is plentiful; on a GPU while the pass stays under FOLD_TOKENS tokens).
    """
    batch, accum = settings.get("per_process", (settings["per_device_train_batch_size"],
                                                settings["gradient_accumulation_steps"]))
    fold = settings["fold"]
    if fold is None:
        fold = route in CPU_ROUTES or batch * accum * max_seq_length <= FOLD_TOKENS
    return (batch * accum, 1) if fold else (batch, accum)


def _has_bitsandbytes() -> bool:
    import importlib.util

    return importlib.util.find_spec("bitsandbytes") is not None


# ---------------------------------------------------------------------------------------------
# The one call


def finetune(model, tokenizer, dataset, config="adapters", *, resume: bool = False, energy=None,
             progress: bool = True, **overrides) -> TrainResult:
    """Fine-tune `model` on `dataset` with LoRA, by the recipe in `config`, and save the adapters in its output_dir.

    `config`: a `StoicConfig` (TRL's SFTConfig with the workshop's defaults and the LoRA fields), or just the adapter
    folder for the default recipe. Keyword settings override its fields:
    `finetune(model, tokenizer, data, sw.StoicConfig(output_dir="adapters/stoic"), max_steps=10, lora_r=8)`.

    `dataset`: conversations (a `messages` column, e.g. from `make_dataset`), complaint/reply pairs, or rows
    already tokenized with `input_ids` and `labels`. It is checked first (`check_dataset`): a badly templated
    row stops the run before any compute is spent; a row longer than the config's `max_length` (512) is left out,
    and a line says which.

    The learning rate, where the config leaves it None (the default), comes from the model's size
    (`learning_rate_for`); the optimizer, where None, is AdamW 8-bit on a GPU and AdamW on a CPU. Both are printed.

    The output folder: a new or empty folder, or one an earlier finetune made (a rerun or resume writes over its own
    files there and leaves any others). A folder holding files that finetune did not write is refused (NotOurs),
    untouched.

    `resume=True` continues from the newest checkpoint in `output_dir`/checkpoints and ends at the same step count.
    `energy`: an `Energy` to measure the run as its "training" phase (one is made if None; `energy=False` skips).
    Returns a TrainResult; `output_dir` is a standard PEFT folder (`PeftModel.from_pretrained(base, output_dir)`)
    with the tokenizer, `training.json` (the record) and `loss.png`.
    Several GPUs: the same call runs in every process under `accelerate launch` (distributed.py). The step count and
    the examples per step stay the recipe's; only the first process prints, measures energy and writes.
    Example: `sw.finetune(model, tok, ds, sw.StoicConfig(output_dir="adapters/stoic", max_steps=60))`  # -> TrainResult
    """
    from .distributed import main_only

    with main_only():
        return _finetune(model, tokenizer, dataset, config, resume=resume, energy=energy, progress=progress,
                         **overrides)


def _finetune(model, tokenizer, dataset, config, *, resume, energy, progress, **overrides) -> TrainResult:
    from datasets import Dataset
    from transformers import DataCollatorForSeq2Seq

    from .distributed import split_batch, world

    here = world()
    config = _config(config, overrides)
    output_dir = Path(config.output_dir)
    _check_output_dir(output_dir)  # before any work: a folder of someone else's files is refused, untouched
    ckpt_dir = output_dir / CHECKPOINTS
    start_from = None
    if resume:
        start_from = last_checkpoint(output_dir)
        check_same_base(start_from, model)
        print(f"Resuming from {start_from}." if start_from else
              f"Nothing to resume in {ckpt_dir}: starting from step 0.")
    elif (found := last_checkpoint(output_dir)) is not None:
        print(f"{ckpt_dir} holds an earlier run's checkpoint at step {found.name.split('-')[-1]}: starting again from "
              f"step 0, as asked. To continue from that checkpoint instead: finetune(..., resume=True), or "
              f"`stoic-workshop train --resume` (`stoic-workshop run` resumes by itself).")
    route = _route(model)
    settings = config.recipe()  # the recipe as recorded, with the two choices made for this model and machine
    settings["learning_rate"] = config.learning_rate or learning_rate_for(model)
    # bitsandbytes' 8-bit AdamW cannot step FSDP's sharded weights (DTensors), measured on 2 H200s: torch's AdamW
    settings["optim"] = config.optim or ("adamw_8bit" if route not in CPU_ROUTES and _has_bitsandbytes()
                                         and not here.fsdp else "adamw_torch")
    if here.fsdp and "8bit" in settings["optim"]:
        from .distributed import LaunchError

        raise LaunchError(f"optim={settings['optim']!r} does not run under FSDP: bitsandbytes' 8-bit optimizers "
                         "cannot update sharded weights (\"got mixed torch.Tensor and DTensor\"). Leave optim unset "
                         "(AdamW under FSDP) or pass optim='adamw_torch'.")
    batch, accum, shared_out = split_batch(settings["per_device_train_batch_size"],
                                           settings["gradient_accumulation_steps"], here.size,
                                           keep_effective_batch=settings["keep_effective_batch"])
    settings.update(processes=here.size, per_process=[batch, accum], effective_batch=batch * accum * here.size)
    # settings keeps the cap; max_seq_length is what batches are padded to (the longest row kept)
    rows, max_seq_length = _rows(dataset, tokenizer, settings["max_length"])
    model, precision = _prepare(model, route, settings)
    dtype = _gpu_dtype(model) if route not in CPU_ROUTES else ("bf16" if precision.startswith("bf16") else "fp32")
    trainable, total = model.get_nb_trainable_parameters()
    per_pass, passes = _fold(route, settings, max_seq_length)
    precision += f", {per_pass} examples x {passes} pass{'es' if passes > 1 else ''} per step"
    print(f"Route: {route} ({precision}). Trainable: {trainable:,} of {total:,} parameters ({trainable / total:.2%}); "
          f"LoRA r={settings['lora_r']} on {', '.join(settings['target_modules'])}. Learning rate "
          f"{settings['learning_rate']:g}{'' if config.learning_rate else ' (for this model size)'}, "
          f"{settings['optim']}, {settings['max_steps']} steps.")
    if here.size > 1:
        print(f"Several processes: {here}. {shared_out}; {settings['max_steps']} steps, as on one GPU.")

    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if here.main:
        _mark_folder(output_dir, "stoic_workshop.finetune")
    from .callbacks import EnergyCallback, LossGuard, TrainingDiverged

    progress_cb, guard = _progress(progress and here.main), LossGuard(raise_error=False)
    args = _trainer_args(config, route, settings, ckpt_dir, max_seq_length, dtype)
    if here.size == 1 and args.n_gpu > 1:
        # One process on a machine with several GPUs: Trainer would spread it with nn.DataParallel, which TRL
        # refuses. It trains on the GPU the model is on, as Trainer does for a model placed with device_map.
        print(f"This machine has {args.n_gpu} GPUs and this is one process: it trains on one. To use them all: "
              f'accelerate launch --config_file "$(stoic-workshop launch-config ddp)" -m stoic_workshop train ...')
        args._n_gpu = 1
    trainer = _trainer_class(route)(
        model=model, args=args,
        train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
        data_collator=DataCollatorForSeq2Seq(tokenizer, padding=True, label_pad_token_id=IGNORE),
        callbacks=[guard, progress_cb])
    if route in ("qlora", "gpu-lora") and dtype != "bf16":
        _adapters_in_fp32(trainer.model)
    _check_t4(trainer.model, route)
    from transformers.trainer_callback import PrinterCallback

    trainer.remove_callback(PrinterCallback)

    if not here.main:
        energy = False  # the first process measures the whole machine: CodeCarbon reads every GPU through NVML
    elif energy is None:
        from .energy import Energy

        energy = Energy(output_dir=str(output_dir / "energy"))
    earlier = earlier_parts(start_from)  # a resumed training: the energy of its parts before this one
    measure = EnergyCallback(energy, earlier=earlier) if energy else None
    if measure:
        trainer.add_callback(measure)
    t0 = time.perf_counter()
    try:
        trainer.train(resume_from_checkpoint=str(start_from) if start_from else None)
    except BaseException as error:
        if measure:
            measure.stop(error)  # the phase ends measured up to here, the error named in its note
        if isinstance(error, KeyboardInterrupt):
            good = last_checkpoint(output_dir)
            print(f"\nInterrupted at step {trainer.state.global_step}. Checkpoint kept: {good or 'none yet'}; "
                  "run the same call with resume=True to continue.")
        raise
    phase = measure.phase if measure else None
    seconds = time.perf_counter() - t0
    if guard.diverged:
        raise TrainingDiverged(guard.diverged)
    if energy and start_from is not None:  # the card and training.json count every part of a resumed training
        energy.resumed(phase, start_from.name.split("-")[-1], earlier)

    if trainer.is_fsdp_enabled:  # the adapters gathered whole from every shard, saved as one standard PEFT folder
        trainer.accelerator.state.fsdp_plugin.set_state_dict_type("FULL_STATE_DICT")
    trainer.save_model(str(output_dir))  # every process takes part (FSDP gathers); the first writes
    losses = [(e["step"], e["loss"]) for e in trainer.state.log_history if "loss" in e]
    adapter_mb = sum(f.stat().st_size for f in output_dir.glob("adapter_model.*")) / 1e6
    result = TrainResult(
        model=model, adapter_dir=output_dir, path=route, precision=precision, steps=trainer.state.global_step,
        seconds=seconds, tokens=int(trainer.state.num_input_tokens_seen or 0), trainable=trainable, total=total,
        adapter_mb=adapter_mb, losses=losses, settings=settings, energy=energy or None,
        step_seconds=progress_cb.step_seconds)
    if here.main:
        tokenizer.save_pretrained(str(output_dir))
        _portable_adapter_config(output_dir)
        record = {k: v for k, v in vars(result).items() if k not in ("model", "energy")}
        record["adapter_dir"] = str(output_dir)
        from .energy import label_model_card

        if energy:
            record["energy"] = energy.report().to_dict(orient="records")
        # co2_eq_emissions travels with the adapters; trained again unmeasured, an earlier run's label comes out
        label_model_card(output_dir, energy.label() if energy else None)
        (output_dir / RECORD).write_text(json.dumps(record, indent=2, default=str))
        fig = result.plot(output_dir / LOSS_PLOT)
        import matplotlib.pyplot as plt

        plt.close(fig)
    trainer.accelerator.wait_for_everyone()  # no process ends before the folder is complete
    model.eval()
    return result


def ensure_adapters(model_name: str, folder="adapters/stoic", *, steps: int | None = None) -> Path:
    """The adapters notebook 2 saves in `folder`; where there are none yet, train them now with notebook 2's recipe.

    A notebook opened from its Colab badge starts on a fresh machine, without what notebook 2 saved. Then this loads
    `model_name`, trains it on notebook 2's data (the generator's 100 pairs, seed 3407, the 90% training split;
    not the exercise's own pairs) for `steps` steps (default $STOIC_TRAIN_STEPS, else 60) at the model's learning
    rate (`learning_rate_for`), saves the standard adapter folder and frees the model. A run cut short continues
    from its last checkpoint.
    Example: `ensure_adapters("smollm2-135m-instruct", "adapters/stoic")` -> Path("adapters/stoic")
    """
    import gc

    import torch

    from .config import StoicConfig
    from .dataset import make_dataset, train_eval_split
    from .models import load_model

    folder = Path(folder)
    if (folder / "adapter_config.json").is_file():
        print(f"Adapters found in {folder}: using them.")
        return folder
    steps = steps or int(env("STOIC_TRAIN_STEPS"))
    print(f"No adapters in {folder} yet (a notebook opened on its own starts without notebook 2's): training "
          f"{model_name} now with notebook 2's recipe, {steps} steps.")
    model, tokenizer = load_model(model_name, verbose=False)
    splits = train_eval_split(make_dataset(n=100, seed=3407), eval_fraction=0.1, seed=3407)
    result = finetune(model, tokenizer, splits["train"], StoicConfig(output_dir=str(folder), max_steps=steps),
                      resume=last_checkpoint(folder) is not None)
    print(f"Saved the adapters in {folder} ({result.steps} steps, {result.seconds:.0f} s).")
    del model, result
    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()
    return folder
