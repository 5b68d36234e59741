"""Memory bench: `stoic_workshop.estimate_memory` against measurement, every case, with the ratio.

CPU cases are measured live, each in a fresh process (`measure_load` and `measure_training` below run this script
again with --worker, so that no case inherits another's memory): the resident size of both packaged models in
fp32, bf16 and NF4, and the peak of a short LoRA and QLoRA fine-tune (also their step times).

The GPU cases, the Gemma 2 2B architecture at 2 x 512 and 2 x 2048 tokens, come from a results JSON of
bench/train_gpu.py (its "throughput" entries of the transformers backend: peak allocated at micro-batch 2, through
`finetune`'s own QLoRA route). By default that is bench/results/gpu_h200.json, measured on an H200 with transformers
5.17, torch 2.11, peft 0.21.2, bitsandbytes 0.50.2 and trl 1.15 (`python bench/train_gpu.py --only throughput`).

    python bench/memory.py [--gpu-json bench/results/gpu_h200.json] [--seq 128] [--batch 2] [--steps 3]
                           [--out memory.json]
    python bench/memory.py --framework      # resident memory of a process with the framework imported, no model
                                            # (stoic_workshop.memory_estimate.CPU_FRAMEWORK_GB)
    python bench/memory.py --worker CASE    # one case, in this process, printed as JSON (what measure_* run)

Linux only: resident memory is read from /proc/self/status.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import stoic_workshop.memory_estimate as mem  # noqa: E402
from stoic_workshop.memory_estimate import GB  # noqa: E402

MODELS = ("smollm2-135m-instruct", "gemma-3-270m")
# Peak allocated GiB on an H200: transformers + bitsandbytes NF4 + PEFT QLoRA r=16 on the 7 projections + trl 1.15
# SFTTrainer, micro-batch 2, AdamW 8-bit, bf16, the random-weight Gemma 2 2B with the Gemma 3 vocabulary (262,144
# rows), as bench/train_gpu.py measures it. (The older reference in shared/gpu/README.md, 8.85 / 21.56 GiB, came
# from a plain PyTorch loop that formed the full fp32 logits; it is not this route, so it is no fallback.)
GPU_JSON = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "gpu_h200.json")
GIB = 2**30
SCRIPT = os.path.abspath(__file__)


# ---------------------------------------------------------------------------------------------
# Measurement, each case in a fresh process so that none inherits another's memory


def _status(key: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"{key} not in /proc/self/status: these measurements need Linux")


def _trim() -> None:
    """Give freed heap back to the system, so that resident memory counts only what is held."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except OSError:
        pass


def _import_framework() -> None:
    import bitsandbytes  # noqa: F401
    import datasets  # noqa: F401
    import peft  # noqa: F401
    import torch  # noqa: F401
    import transformers  # noqa: F401
    import trl  # noqa: F401


def _worker(case: dict) -> dict:
    """Runs in the fresh process: one load (and optionally a short training run), resident memory throughout.

    "resident": what the model adds once each weight was touched (a memory-mapped model counts only pages used),
    measured with its tokenizer already loaded so that it counts the model alone. "peak": the highest resident
    memory of the whole process during training, reset after loading.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    _import_framework()
    import stoic_workshop as sw
    from stoic_workshop.chat import prepare_tokenizer
    from stoic_workshop.models import PRESETS, cpu_threads

    torch.set_num_threads(cpu_threads())
    _trim()
    framework = _status("VmRSS")
    if case["kind"] == "framework":
        return {"framework": framework}
    folder = sw.model_folder(case["model"])
    tok = AutoTokenizer.from_pretrained(folder)
    _trim()
    before = _status("VmRSS")
    if case["dtype"] == "nf4":  # the package's own 4-bit CPU route; its second tokenizer is dropped at once
        model = sw.load_model(case["model"], cpu_4bit=True, verbose=False)[0]
    else:
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=getattr(torch, case["dtype"]))
    with torch.no_grad():  # touch every weight, as a first forward pass does
        model(input_ids=torch.tensor([[1, 2, 3, 4]]))
    _trim()
    out = {"framework": framework, "tokenizer": before - framework, "resident": _status("VmRSS") - before}
    if case["kind"] == "load":
        return out
    prepare_tokenizer(tok, model, family=PRESETS[case["model"]].family)
    rows = _synthetic_rows(tok, case["seq_len"], case["batch_size"] * case["steps"])
    Path("/proc/self/clear_refs").write_text("5")  # reset the peak: loading is measured above, training here
    result = sw.finetune(model, tok, rows, case["out"], max_steps=case["steps"],
                         per_device_train_batch_size=case["batch_size"], gradient_accumulation_steps=1,
                         save_steps=10_000, energy=False, progress=False, learning_rate=1e-3, warmup_steps=0,
                         max_length=max(case["seq_len"], 8))
    return {**out, "peak": _status("VmHWM"), "steps": result.step_seconds, "losses": [x for _, x in result.losses],
            "route": result.path}


def _synthetic_rows(tok, length: int, n: int) -> list[dict]:
    """Rows of exactly `length` tokens, the last three quarters trained (memory does not depend on the words)."""
    import random

    rng = random.Random(0)
    bos = tok("x").input_ids[:1] if tok.bos_token_id is not None and tok("x").input_ids[0] == tok.bos_token_id \
        else []  # as the tokenizer itself would start a row
    rows = []
    for _ in range(n):
        ids = bos + [rng.randrange(1000, min(len(tok), 30_000)) for _ in range(length - len(bos))]
        labels = [-100] * (length // 4) + ids[length // 4:]
        rows.append({"input_ids": ids, "attention_mask": [1] * length, "labels": labels})
    return rows


def _run(case: dict, timeout: float = 600) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    cmd = [sys.executable, SCRIPT, "--worker", json.dumps(case)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"measuring {case} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure_load(model: str, dtype: str) -> dict:
    """Resident bytes a packaged model adds to a fresh process, loaded in "float32", "bfloat16" or "nf4".

    The delta over the same process with the framework imported, after every weight was touched once (a model
    read from a memory-mapped file counts only the pages used). Example: `measure_load("gemma-3-270m", "nf4")`
    """
    if dtype not in ("float32", "bfloat16", "nf4"):
        raise ValueError(f"dtype must be 'float32', 'bfloat16' or 'nf4', got {dtype!r}")
    return _run({"kind": "load", "model": model, "dtype": dtype})


def measure_training(model: str, method: str = "lora", *, seq_len: int = 128, batch_size: int = 2,
                     steps: int = 2, out: str | None = None) -> dict:
    """Peak resident bytes of a short CPU fine-tune (`method` "lora" or "qlora") in a fresh process.

    The peak covers training only (reset after loading), framework and model included: what the machine must hold.
    Returns {"peak", "resident" (the model after loading, as `measure_load`), "framework", "tokenizer",
    "steps" (seconds each), "losses", "route"}.
    """
    import tempfile

    if method not in ("lora", "qlora"):
        raise ValueError(f"method must be 'lora' or 'qlora' (full fine-tuning is not a route of finetune), "
                         f"got {method!r}")
    with tempfile.TemporaryDirectory() as tmp:
        return _run({"kind": "train", "model": model, "method": method, "seq_len": seq_len,
                     "dtype": "nf4" if method == "qlora" else "float32",
                     "batch_size": batch_size, "steps": steps, "out": out or tmp})


# ---------------------------------------------------------------------------------------------
# Estimate against measurement


def gpu_shape():
    """The bench's model: Gemma 2 2B with the Gemma 3 tokenizer's vocabulary, as bench/train_gpu.py builds it."""
    from transformers import Gemma2Config

    return mem.model_shape(Gemma2Config(vocab_size=262144))


def cpu_cases(seq: int, batch: int, steps: int) -> list[dict]:
    rows = []
    for model in MODELS:
        for dtype in ("float32", "bfloat16", "nf4"):
            got = measure_load(model, dtype)
            est = mem.estimate_memory(model, "qlora" if dtype == "nf4" else "lora", device="cpu",
                                      dtype=None if dtype == "nf4" else dtype, machines=False)
            rows.append({"case": f"{model} resident, {dtype}", "estimate": est.parts["base weights"],
                         "measured": got["resident"], "what": "weights (RSS over the framework)"})
            print(_line(rows[-1]), flush=True)
    for model in MODELS:
        for method in ("lora", "qlora"):
            got = measure_training(model, method, seq_len=seq, batch_size=batch, steps=steps)
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
    ap.add_argument("--framework", action="store_true", help="print the framework's resident memory, and stop")
    ap.add_argument("--worker", metavar="CASE", help="measure one case (JSON) in this process and print it as JSON")
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(_worker(json.loads(args.worker))))
        return
    if args.framework:
        print(f"framework resident: {_run({'kind': 'framework'})['framework'] / GB:.3f} GB")
        return
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
