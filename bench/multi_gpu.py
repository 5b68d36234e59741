"""Several GPUs: the same fine-tune on 1 and 2 GPUs (DDP), and a model trained sharded (FSDP), through the package.

Models have random weights of the exact architectures (transformers' Gemma2Config: its defaults are Gemma 2 2B;
Gemma 2 9B is hidden 3584, 42 layers, 16 heads, 8 KV heads, intermediate 14336), with the real Gemma tokenizer
(Gemma 3's, converted from the packaged GGUF: 262,144 rows instead of 256,000, +0.5% parameters). Speed and memory
do not depend on the values.

1. Scaling: Gemma 2 2B, QLoRA r=16 on all projections, rows of 2048 tokens (the project's conversations packed end
   to end, loss on the replies), 8 rows a step on 1 GPU (2 x 4) and on 2 GPUs under DDP (2 x 2 on each):
   tokens/s from the median step after 3 warm-up steps, the ratio, peak memory per GPU.
2. FSDP: Gemma 2 9B, LoRA on a bf16 base sharded over 2 GPUs (the shipped fsdp config) on the project's data:
   the loss per step, and the adapters it saved, loaded on one GPU with plain PEFT: the loss of the first rows
   without and with them.

On the GPU machine, from the repository root, with the package installed (its wheel):
    python bench/multi_gpu.py make TOKENIZER_DIR MODELS_DIR     # the two random models (bf16 safetensors)
    python bench/multi_gpu.py scaling MODELS_DIR/gemma2-2b OUT  # 1 GPU, then 2 GPUs, each its own launch
    python bench/multi_gpu.py fsdp MODELS_DIR/gemma2-9b OUT     # train sharded, then reload on one GPU
    python bench/multi_gpu.py table OUT                         # both tables (also printed by each step)
`worker` is what `accelerate launch` runs in each process.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

SEQ = 2048
WARMUP = 3
GEMMA2_9B = dict(hidden_size=3584, intermediate_size=14336, num_hidden_layers=42, num_attention_heads=16,
                 num_key_value_heads=8, head_dim=256)


def make(tokenizer_dir: str, models: str) -> None:
    import torch
    from transformers import AutoTokenizer, Gemma2Config, Gemma2ForCausalLM

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    for name, shape in (("gemma2-2b", {}), ("gemma2-9b", GEMMA2_9B)):
        out = Path(models) / name
        if (out / "config.json").exists():
            continue
        start = time.time()
        torch.manual_seed(0)
        config = Gemma2Config(vocab_size=len(tok), bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                              pad_token_id=tok.pad_token_id, **shape)
        with torch.device("cuda"):
            model = Gemma2ForCausalLM(config).to(torch.bfloat16)
        model.save_pretrained(out)
        tok.save_pretrained(out)
        print(f"{name}: {model.num_parameters() / 1e9:.2f} B parameters, random, in {time.time() - start:.0f} s")
        del model
        torch.cuda.empty_cache()


def packed_rows(tokenizer, seq: int, n: int) -> list[dict]:
    """`n` long conversations of just under `seq` tokens: the project's complaint/reply pairs as the turns of one
    conversation, as many as fit (one <bos>, every turn closed, so check_dataset passes them), loss on replies."""
    import stoic_workshop as sw

    pairs = [row["messages"] for row in sw.make_dataset(n=160, seed=3407)]
    rows, turns, i = [], [], 0
    while len(rows) < n:
        longer = turns + pairs[i % len(pairs)]
        i += 1
        if len(sw.encode(tokenizer, longer)["input_ids"]) > seq:
            rows.append({"messages": turns})
            turns = pairs[(i - 1) % len(pairs)]
        else:
            turns = longer
    return rows


def worker(model_path: str, out: str, steps: int, packed: str) -> None:
    """One process of a launch: train through sw.finetune, then write this process's numbers (the bench's file)."""
    import torch

    import stoic_workshop as sw

    here = sw.world()
    model, tok = sw.load_model(model_path, verbose=here.main)
    long = packed.startswith("packed")
    data = packed_rows(tok, SEQ, steps * 8 * here.size + 8) if long else sw.make_dataset(n=160, seed=3407)
    shape = {"per_device_train_batch_size": 4, "gradient_accumulation_steps": 2} if packed.endswith("b4") else {}
    config = sw.StoicConfig(output_dir=f"{out}/adapters", max_steps=steps, save_steps=10_000,
                            max_length=SEQ if long else 512, keep_effective_batch=packed != "packed-each", **shape)
    result = sw.finetune(model, tok, data, config, energy=None)
    step = result.step_seconds[WARMUP:] or result.step_seconds
    record = {"rank": here.rank, "processes": here.size, "steps": result.steps, "route": result.path,
              "precision": result.precision, "tokens": result.tokens, "seconds": result.seconds,
              "median_step_s": statistics.median(step), "losses": result.losses,
              "effective_batch": result.settings["effective_batch"], "per_process": result.settings["per_process"],
              "trainable": result.trainable, "total": result.total}
    if torch.cuda.is_available():
        record.update(peak_allocated_gib=torch.cuda.max_memory_allocated() / 2**30,
                      peak_reserved_gib=torch.cuda.max_memory_reserved() / 2**30, gpu=torch.cuda.get_device_name())
    if here.main and result.energy is not None:
        record["energy"] = result.energy.report().to_dict(orient="records")
    Path(out, f"rank{here.rank}.json").write_text(json.dumps(record, indent=1, default=str))


def _launch(config: str, processes: int, args: list[str], log: Path, env: dict | None = None) -> int:
    cmd = ["accelerate", "launch", "--config_file", config, "--num_processes", str(processes),
           "--main_process_port", str(29500 + processes), __file__, "worker", *args]
    if processes == 1:  # one process: no launcher config needed, one GPU visible (as on a one-GPU machine)
        cmd = [sys.executable, __file__, "worker", *args]
        env = {**(env or {}), "CUDA_VISIBLE_DEVICES": "0"}
    print("$", " ".join(cmd), flush=True)
    with open(log, "w") as f:
        return subprocess.call(cmd, stdout=f, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})


def scaling(model: str, out: str, runs: str = "1,2,2-each", steps: int = 23) -> None:
    """`runs`: 1 (one GPU, 2 x 4), 2 (two GPUs, 2 x 2 each: the same 8 rows a step, the package's default),
    2-each (two GPUs, 2 x 4 each: 16 rows a step, keep_effective_batch=False)."""
    import stoic_workshop as sw

    for run in runs.split(","):
        gpus = int(run[0])
        folder = Path(out) / f"ddp-{run}gpu"
        folder.mkdir(parents=True, exist_ok=True)
        mode = {"each": "packed-each", "b4": "packed-b4"}.get(run.split("-")[-1], "packed")
        rc = _launch(str(sw.launch_config("ddp")), gpus, [model, str(folder), str(steps), mode],
                     folder / "log.txt")
        print(f"{gpus} GPU(s): exit {rc}", flush=True)
    table(out)


def fsdp(model: str, out: str, steps: int = 40) -> None:
    import stoic_workshop as sw

    folder = Path(out) / "fsdp-2gpu"
    folder.mkdir(parents=True, exist_ok=True)
    rc = _launch(str(sw.launch_config("fsdp")), 2, [model, str(folder), str(steps), "project"], folder / "log.txt")
    print(f"FSDP: exit {rc}", flush=True)
    if rc == 0:
        reload(model, str(folder / "adapters"), str(folder / "reload.json"))
    table(out)


def reload(model_path: str, adapters: str, out: str) -> None:
    """The adapters FSDP saved, on one GPU with plain PEFT: the loss of 16 project rows without and with them."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import stoic_workshop as sw

    tok = AutoTokenizer.from_pretrained(adapters)
    base = AutoModelForCausalLM.from_pretrained(model_path, dtype=torch.bfloat16, device_map={"": 0})
    tuned = PeftModel.from_pretrained(base, adapters).eval()
    rows = [sw.encode(tok, r["messages"]) for r in list(sw.make_dataset(n=160, seed=3407))[:16]]

    def loss():
        total = count = 0.0
        for enc in rows:
            ids = torch.tensor([enc["input_ids"]], device="cuda")
            labels = torch.tensor([[t if m else -100 for t, m in zip(enc["input_ids"], enc["assistant_masks"])]],
                                  device="cuda")
            with torch.inference_mode():
                n = int((labels[:, 1:] != -100).sum())
                total += float(tuned(input_ids=ids, labels=labels).loss) * n
                count += n
        return total / count

    with tuned.disable_adapter():
        without = loss()
    record = {"gpus": torch.cuda.device_count(), "loaded_on": str(next(tuned.parameters()).device),
              "loss_without": without, "loss_with": loss()}
    Path(out).write_text(json.dumps(record, indent=1))
    print(record, flush=True)


def _read(folder: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted(folder.glob("rank*.json"))]


def table(out: str) -> None:
    out = Path(out)
    print("\n1. Gemma 2 2B (random weights), QLoRA r=16, conversations of ~2048 tokens (1956-2044)")
    print("| GPUs | rows a step | per GPU x accumulation | steps | median s/step | tokens/s | vs 1 GPU, same "
          "per-GPU batch | peak GiB per GPU |")
    print("|---|---|---|---|---|---|---|---|")
    speeds = {}
    for run in ("1", "2", "2-each", "1-b4", "2-b4"):  # each 2-GPU run against the 1-GPU run of its per-GPU batch
        ranks = _read(out / f"ddp-{run}gpu")
        if not ranks:
            print(f"| {run} | not run or failed: see ddp-{run}gpu/log.txt | | | | | | |")
            continue
        main = ranks[0]
        per_step = main["tokens"] / main["steps"]  # every GPU's tokens (Trainer gathers them)
        speed = speeds[run] = per_step / main["median_step_s"]
        base = speeds.get("1-b4" if run.endswith("b4") else "1", speed)
        batch, accum = main["per_process"]
        peaks = ", ".join(f"{r['peak_allocated_gib']:.2f}" for r in ranks)
        print(f"| {main['processes']} | {main['effective_batch']} | {batch} x {accum} | {main['steps']} | "
              f"{main['median_step_s']:.3f} | {speed:,.0f} | {speed / base:.2f}x | {peaks} |")
    ranks = _read(out / "fsdp-2gpu")
    print("\n2. Gemma 2 9B (random weights), LoRA r=16 on a bf16 base, FSDP over 2 GPUs, the project's data")
    if not ranks:
        print("not run or failed: see fsdp-2gpu/log.txt")
        return
    main = ranks[0]
    losses = [v for _, v in main["losses"]]
    k = min(5, len(losses))
    print("| steps | loss first 5 steps | loss last 5 steps | median s/step | peak GiB per GPU | trainable |")
    print("|---|---|---|---|---|---|")
    peaks = ", ".join(f"{r['peak_allocated_gib']:.2f}" for r in ranks)
    print(f"| {main['steps']} | {statistics.mean(losses[:k]):.3f} | {statistics.mean(losses[-k:]):.3f} | "
          f"{main['median_step_s']:.3f} | {peaks} | {main['trainable'] / 1e6:.1f} M of {main['total'] / 1e9:.2f} B |")
    reload_file = out / "fsdp-2gpu" / "reload.json"
    if reload_file.exists():
        r = json.loads(reload_file.read_text())
        print(f"Adapters reloaded with plain PEFT on {r['loaded_on']}: loss of 16 project rows {r['loss_without']:.3f} "
              f"without them, {r['loss_with']:.3f} with them.")


if __name__ == "__main__":
    command, *rest = sys.argv[1:]
    {"make": make, "worker": lambda m, o, s, p: worker(m, o, int(s), p), "scaling": scaling, "fsdp": fsdp,
     "table": table, "reload": reload}[command](*rest)
