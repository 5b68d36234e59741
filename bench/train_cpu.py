"""CPU fine-tuning bench: `stoic_workshop.finetune` vs a plain PEFT training loop, same model, data and recipe.

The baseline is the loop a tutorial would write: fp32 model, PEFT LoRA r=16 on all projections, batch 2 x
accumulation 4 in random order padded to the batch's longest row, the model's own loss (logits for every
position), AdamW, linear schedule with 5 warm-up steps, lr 2e-4. `finetune` runs the same recipe through TRL's
SFTTrainer with its CPU route (see stoic_workshop/train.py). Both see the project's data; the table gives
seconds per step (median), the whole run, and the mean loss of the last 10 steps, so a speed-up that learned
less would show.

    python bench/train_cpu.py [--models gemma-3-270m smollm2-135m-instruct] [--steps 60]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time

import torch

import stoic_workshop as sw
from stoic_workshop.masking import encode
from stoic_workshop.train import PROJECTIONS


def plain_loop(name: str, steps: int) -> dict:
    from peft import LoraConfig, get_peft_model
    from transformers import get_linear_schedule_with_warmup

    model, tok = sw.load_model(name, verbose=False)
    rows = [encode(tok, r["messages"]) for r in sw.make_dataset()]
    torch.manual_seed(3407)
    model = get_peft_model(model, LoraConfig(r=16, lora_alpha=16, lora_dropout=0.0, target_modules=PROJECTIONS,
                                             task_type="CAUSAL_LM"))
    model.train()
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=2e-4, weight_decay=0.01)
    sched = get_linear_schedule_with_warmup(opt, 5, steps)
    rng = random.Random(3407)
    order, cursor = [], 0
    losses, seconds = [], []
    for _ in range(steps):
        t0 = time.perf_counter()
        step_loss = 0.0
        for _ in range(4):
            if cursor + 2 > len(order):
                order, cursor = rng.sample(range(len(rows)), len(rows)), 0
            batch = [rows[i] for i in order[cursor:cursor + 2]]
            cursor += 2
            width = max(len(r["input_ids"]) for r in batch)
            ids = torch.tensor([r["input_ids"] + [tok.pad_token_id] * (width - len(r["input_ids"])) for r in batch])
            mask = torch.tensor([[1] * len(r["input_ids"]) + [0] * (width - len(r["input_ids"])) for r in batch])
            labels = torch.tensor([r["labels"] + [-100] * (width - len(r["labels"])) for r in batch])
            loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss / 4
            loss.backward()
            step_loss += loss.item()
        opt.step()
        sched.step()
        opt.zero_grad()
        losses.append(step_loss)
        seconds.append(time.perf_counter() - t0)
    return {"seconds": seconds, "losses": losses}


def project(name: str, steps: int, **settings) -> dict:
    model, tok = sw.load_model(name, verbose=False)
    with tempfile.TemporaryDirectory() as out:
        result = sw.finetune(model, tok, sw.make_dataset(), out, max_steps=steps, energy=False, progress=False,
                             save_steps=max(steps, 10), **settings)
    return {"seconds": result.step_seconds, "losses": [loss for _, loss in result.losses],
            "precision": result.precision}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=["gemma-3-270m", "smollm2-135m-instruct"])
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--variants", default="plain,project,project-fp32")
    args = ap.parse_args()
    print(f"{torch.get_num_threads()} threads, bf16 matrix units: {sw.train.cpu_has_bf16_matmul()}, "
          f"{args.steps} steps\n")
    rows = []
    for name in args.models:
        runs = {}
        for variant in args.variants.split(","):
            if variant == "plain":
                runs[variant] = plain_loop(name, args.steps)
            elif variant == "project":
                runs[variant] = project(name, args.steps)
            elif variant == "project-fp32":
                runs[variant] = project(name, args.steps, cpu_dtype="float32")
            base = runs.get("plain")
            r = runs[variant]
            step = statistics.median(r["seconds"])
            rows.append(f"| {name} | {variant} | {step:.2f} | {sum(r['seconds']):.0f} | "
                        f"{statistics.mean(r['losses'][-10:]):.3f} | "
                        f"{statistics.median(base['seconds']) / step if base else float('nan'):.2f}x |")
            print(rows[-1], flush=True)
    print("\n| model | run | s/step (median) | run s | loss, last 10 steps | speed-up vs plain |")
    print("|---|---|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
