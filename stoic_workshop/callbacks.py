"""What the course adds to TRL's SFTTrainer, as transformers callbacks: plug them in by name, or leave them out.

    trainer = SFTTrainer(model=model, args=args, train_dataset=train_ds, processing_class=tokenizer)
    trainer.add_callback(sw.EnergyCallback(energy))   # CodeCarbon measures the training as the phase "training"
    trainer.add_callback(sw.LossGuard())              # a NaN loss stops the run, before a broken step is saved
    trainer.train()

`finetune` (the command line's `train` and `run`) plugs the same two into its trainer. Importing this module imports
transformers' Trainer, so `stoic_workshop` loads it only when one of them is used.
"""

from __future__ import annotations

import json
import math
from contextlib import ExitStack
from pathlib import Path

from transformers import TrainerCallback
from transformers.trainer_utils import get_last_checkpoint

__all__ = ["EnergyCallback", "LossGuard", "TrainingDiverged", "diverged_message", "compute_dtype_name"]


class TrainingDiverged(RuntimeError):
    """The loss became NaN or infinite: the run stopped and nothing broken was saved.

    Example: `except sw.TrainingDiverged as err: print(err)`  # -> "The loss became nan at step 12, ..."
    """


def diverged_message(loss: float, step: int, learning_rate: float, good, dtype: str = "fp16",
                     model_type: str | None = None) -> str:
    """What the NaN guard says: the likely cause first, the fix, and the checkpoint to resume from.

    `dtype`: what the run computed in ("fp16", "bf16", "fp32"); `model_type`: the model's config.model_type.
    """
    from .models import FP16_MAX, fp16_safe

    limit = f"{FP16_MAX:,.0f}"
    if dtype == "fp16" and not fp16_safe(model_type):
        causes = (f"fp16 overflow, this model's known one: Gemma 3's activations go above fp16's largest number, "
                  f"{limit} (with the real 270M weights its hidden states reach about 104,000), so in fp16 they become "
                  f"inf and the loss NaN, whatever the learning rate. Train it in bf16 or fp32: load_model picks fp32 "
                  f"for Gemma 3 on a GPU without bf16 (a T4); a model loaded by hand in fp16 must be loaded again in "
                  f"fp32 (dtype=torch.float32, or bnb_4bit_compute_dtype=torch.float32 for 4-bit)")
    elif dtype == "fp16":
        causes = (f"fp16 overflow (activations above fp16's largest number, {limit}; Gemma 3 does this in fp16, which "
                  f"is why it trains in fp32 on a GPU without bf16 such as a T4; for another model on a T4 lower the "
                  f"learning rate or use a GPU with bf16) or a learning rate too high for this model "
                  f"(lr {learning_rate:g}; try half)")
    else:
        causes = (f"a learning rate too high for this model (lr {learning_rate:g}; try half). Not fp16 overflow "
                  f"(activations above fp16's largest number, {limit}, as Gemma 3's are in fp16): this run computed "
                  f"in {dtype}")
    return (f"The loss became {loss} at step {step}, so training stopped and nothing from this step on was saved. "
            f"Likely cause: {causes}. Last good checkpoint: {good or 'none yet (it diverged before the first save)'}; "
            f"continue from it with resume=True after changing the setting.")


def compute_dtype_name(args, model) -> str:
    """"fp16", "bf16" or "fp32": what a run with these TrainingArguments computes in on this model."""
    if args.fp16:
        return "fp16"
    if args.bf16:
        return "bf16"
    import torch

    names = {torch.float16: "fp16", torch.bfloat16: "bf16"}
    return next((names[p.dtype] for p in model.parameters() if p.dtype in names and not p.requires_grad), "fp32")


class LossGuard(TrainerCallback):
    """Stops training at a NaN or infinite loss, before the broken step is saved, and says the likely cause.

    The cause depends on the run: fp16 overflow (Gemma 3's activations exceed fp16's largest number), or a learning
    rate too high. It names the last good checkpoint to continue from. `raise_error=True` (the default) raises
    `TrainingDiverged` as `trainer.train()` ends; False leaves the message in `.diverged` for the caller.
    It also warns when the first loss is worse than guessing uniformly among the vocabulary: labels that do not line
    up with the text (a wrong chat template, or labels made with another tokenizer).

    Example: `trainer.add_callback(sw.LossGuard())`
    """

    def __init__(self, raise_error: bool = True):
        self.raise_error = raise_error
        self.diverged: str | None = None
        self._first_checked = False
        self._dtype = "fp32"
        self._model_type = None
        self._vocab_size = None

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        self.diverged, self._first_checked = None, False
        if model is not None:
            base = model.get_base_model() if hasattr(model, "get_base_model") else model
            self._dtype = compute_dtype_name(args, base)
            self._model_type = getattr(base.config, "model_type", None)
            head = base.get_output_embeddings()
            self._vocab_size = head.weight.shape[0] if head is not None else None

    def on_log(self, args, state, control, logs=None, **kwargs):
        loss = (logs or {}).get("loss")
        if loss is None:
            return
        if not math.isfinite(loss):
            control.should_training_stop = True
            control.should_save = False
            good = get_last_checkpoint(args.output_dir) if Path(args.output_dir).is_dir() else None
            self.diverged = diverged_message(loss, state.global_step, args.learning_rate, good, self._dtype,
                                             self._model_type)
        elif not self._first_checked:
            self._first_checked = True
            vocab = self._vocab_size
            if vocab and state.global_step <= args.logging_steps and loss > math.log(vocab) + 1:
                print(f"Warning: the first loss ({loss:.1f}) is above ln(vocabulary) = {math.log(vocab):.1f}, worse "
                      f"than guessing uniformly among {vocab:,} tokens. A pretrained model starts far lower: the "
                      "labels probably do not line up with the text (wrong chat template, or labels built for "
                      "another tokenizer). Check the data with check_dataset and masked_view.")

    def on_train_end(self, args, state, control, **kwargs):
        if self.diverged and self.raise_error:
            raise TrainingDiverged(self.diverged)


class EnergyCallback(TrainerCallback):
    """Measures the training with CodeCarbon, as the phase `phase` of an `Energy` (offline, one grid's intensity).

    The tracker starts when training begins and stops when it ends; each checkpoint gets the energy so far
    (`energy.json`), so that a run resumed from it can count every part. Measuring never stops the training: where
    CodeCarbon fails, the report says "not measured" and why. `earlier`: the measured parts of a resumed training
    (finetune passes them; [] for a fresh start, None where they were not measured).

    Example: `energy = sw.Energy(output_dir="runs/energy"); trainer.add_callback(sw.EnergyCallback(energy))`, then
    after `trainer.train()`: `energy` (the report) and `energy.plot()`
    """

    def __init__(self, energy=None, phase: str = "training", earlier: list[dict] | None = ()):
        from .energy import Energy

        self.energy = energy if energy is not None else Energy()
        self.phase_name = phase
        self.earlier = list(earlier) if earlier is not None else None
        self.phase = None  # the Energy phase record of the last training
        self._stack = ExitStack()

    def stop(self, error: BaseException | None = None) -> None:
        """End the phase now (a training that raised `error`: the report names it). Ending it twice is harmless."""
        stack, self._stack = self._stack, ExitStack()
        if error is None:
            stack.close()
        else:
            stack.__exit__(type(error), error, error.__traceback__)

    def on_train_begin(self, args, state, control, **kwargs):
        self.stop()  # a training interrupted before it ended: its phase stops here, measured up to then
        if state.is_world_process_zero:
            self.phase = self._stack.enter_context(self.energy.phase(self.phase_name))

    def on_save(self, args, state, control, **kwargs):
        from .energy import ENERGY_SO_FAR

        folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
        now = self.energy.so_far()
        if folder.is_dir() and state.is_world_process_zero:
            parts = (self.earlier or []) + ([now] if now else [])
            (folder / ENERGY_SO_FAR).write_text(json.dumps(
                {"parts": parts, "complete": self.earlier is not None and now is not None}, indent=1))

    def on_train_end(self, args, state, control, **kwargs):
        self.stop()
