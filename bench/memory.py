"""Memory bench: `stoic_workshop.estimate_memory` against measurement, every case, with the ratio.

CPU cases are measured live, each in a fresh process (stoic_workshop.memory.measure_*): the resident size of
both packaged models in fp32, bf16 and NF4, and the peak of a short LoRA and QLoRA fine-tune (also their step
times). The GPU cases, the Gemma 2 2B architecture at 2 x 512 and 2 x 2048 tokens, come from a results JSON of
bench/train_gpu.py (its "throughput" entries of the transformers backend: peak allocated at micro-batch 2, through
`finetune`'s own QLoRA route). By default that is bench/gpu_h200.json, measured on an H200 with transformers 5.17,
torch 2.11, peft 0.21.2, bitsandbytes 0.50.2 and trl 1.15 (`python bench/train_gpu.py --only throughput`).

    python bench/memory.py [--gpu-json bench/gpu_h200.json] [--seq 128] [--batch 2] [--steps 3] [--out memory.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import stoic_workshop.memory as mem  # noqa: E402

MODELS = ("smollm2-135m-instruct", "gemma-3-270m")
# Peak allocated GiB on an H200: transformers + bitsandbytes NF4 + PEFT QLoRA r=16 on the 7 projections + trl 1.15
# SFTTrainer, micro-batch 2, AdamW 8-bit, bf16, the random-weight Gemma 2 2B with the Gemma 3 vocabulary (262,144
# rows), as bench/train_gpu.py measures it. (The older reference in shared/gpu/README.md, 8.85 / 21.56 GiB, came
# from a plain PyTorch loop that formed the full fp32 logits; it is not this route, so it is no fallback.)
GPU_JSON = os.path.join(os.path.dirname(os.path.abspath(__file__)), "gpu_h200.json")
GIB = 2**30


def gpu_shape():
    """The bench's model: Gemma 2 2B with the Gemma 3 tokenizer's vocabulary, as bench/train_gpu.py builds it."""
    from transformers import Gemma2Config

    return mem.model_shape(Gemma2Config(vocab_size=262144))


def cpu_cases(seq: int, batch: int, steps: int) -> list[dict]:
    rows = []
    for model in MODELS:
        for dtype in ("float32", "bfloat16", "nf4"):
            got = mem.measure_load(model, dtype)
            est = mem.estimate_memory(model, "qlora" if dtype == "nf4" else "lora", device="cpu",
                                      dtype=None if dtype == "nf4" else dtype, machines=False)
            rows.append({"case": f"{model} resident, {dtype}", "estimate": est.parts["base weights"],
                         "measured": got["resident"], "what": "weights (RSS over the framework)"})
            print(_line(rows[-1]), flush=True)
    for model in MODELS:
        for method in ("lora", "qlora"):
            got = mem.measure_training(model, method, seq_len=seq, batch_size=batch, steps=steps)
            est = mem.estimate_memory(model, method, device="cpu", seq_len=seq, batch_size=batch, machines=False)
            rows.append({"case": f"{model} {method} train, {batch} x {seq}", "estimate": est.total,
                         "measured": got["peak"], "what": "peak RSS of the process",
                         "step_s": sorted(got["steps"])[len(got["steps"]) // 2], "losses": got["losses"]})
            print(_line(rows[-1]), flush=True)
    return rows


def gpu_cases(path: str | None = GPU_JSON) -> list[dict]:
    """One row per sequence length measured in `path` (a bench/train_gpu.py results JSON); none without it."""
    measured, source = {}, None
    if path and os.path.exists(path):
        results = json.load(open(path))
        for r in results:
            if r.get("kind") == "throughput" and r.get("backend") == "transformers":
                measured = {int(k): v["peak_gib"] for k, v in r.items() if k.isdigit() and "peak_gib" in v}
                source = f"{os.path.relpath(path)} ({r.get('gpu', 'GPU')})"
    elif path:
        print(f"(no GPU results at {path}: GPU rows left out)", file=sys.stderr)
    shape, rows = gpu_shape(), []
    for seq, gib in sorted(measured.items()):
        est = mem.estimate_memory(shape, "qlora", device="gpu", seq_len=seq, batch_size=2, machines=False)
        rows.append({"case": f"Gemma 2 2B arch qlora train, 2 x {seq} (GPU)", "estimate": est.allocated,
                     "measured": gib * GIB, "what": f"peak allocated, {source}"})
    return rows


def _line(r: dict) -> str:
    step = f" | {r['step_s']:.2f}" if "step_s" in r else " |"
    return (f"| {r['case']} | {r['estimate'] / 1e9:.3f} | {r['measured'] / 1e9:.3f} | "
            f"{r['estimate'] / r['measured']:.2f}{step} | {r['what']} |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gpu-json", default=GPU_JSON, help="results of bench/train_gpu.py (default: the H200 run)")
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--batch", type=int, default=2)
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--out", default="memory.json")
    args = ap.parse_args()
    print("| case | estimate GB | measured GB | estimate / measured | step s | what |\n|---|---|---|---|---|---|")
    rows = cpu_cases(args.seq, args.batch, args.steps)
    for r in gpu_cases(args.gpu_json):
        rows.append(r)
        print(_line(r))
    worst = max(rows, key=lambda r: abs(r["estimate"] / r["measured"] - 1))
    print(f"\nWorst case: {worst['case']}, estimate / measured = {worst['estimate'] / worst['measured']:.2f}")
    json.dump(rows, open(args.out, "w"), indent=1)


if __name__ == "__main__":
    main()
