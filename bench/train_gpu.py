"""GPU fine-tuning bench: Unsloth vs transformers + bitsandbytes + PEFT (the project's default GPU route).

Both through `stoic_workshop.finetune`, each path in its own fresh process (Unsloth patches transformers on
import, so the two cannot share one). No weights are downloaded: the model is a randomly initialised Gemma 2 2B
(transformers' Gemma2Config defaults: hidden 2304, 26 layers, 8 heads, 4 KV heads), with its vocabulary sized to
the Gemma 3 tokenizer used for the data (262,144 instead of 256,000 rows: +14 M parameters, 0.5%). Values do not
change speed or memory.

1. Throughput: QLoRA r=16 on all projections, batch 2 x accumulation 4, sequences of 512 and 2048 tokens:
   tokens/s (median step after warm-up) and peak GPU memory.
2. Time-to-adapter: the workshop recipe itself (the project's data, 60 steps), wall clock from a bare
   interpreter to saved adapters: imports + load + any compilation + training + saving.

    STOIC_GEMMA_TOKENIZER=<tokenizer folder> python bench/train_gpu.py [--out results.json] [--steps 60] [--profile]

`--profile` samples the main thread's stack (bench/stack_sampler.py) and prints where the time before and in the
first step went, by library. Every run starts with empty compile caches, as a fresh Colab runtime does.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

from stack_sampler import table as table_of_profile

T0 = time.perf_counter()  # time-to-adapter counts from here, before any import

OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "UNSLOTH_DISABLE_STATISTICS": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1",
           "HF_HUB_ENABLE_HF_TRANSFER": "0"}
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PATHS = {"transformers": "project default: transformers + bitsandbytes + PEFT",
         "unsloth": "Unsloth (backend='unsloth')"}
VARIANTS = {  # time-to-adapter runs: label -> (backend, finetune settings, environment)
    "transformers": ("transformers", {}, {}),              # the project default
    "unsloth": ("unsloth", {}, {}),                        # Gemma 2's soft-capped attention eager (the package)
    "unsloth-compiled": ("unsloth", {}, {"STOIC_UNSLOTH_COMPILED_ATTENTION": "1"}),  # Unsloth's max-autotune one
    "unsloth-nocompile": ("unsloth", {}, {"UNSLOTH_COMPILE_DISABLE": "1"}),
    "unsloth-2x4": ("unsloth", {"fold": False}, {}),       # 4 passes of 2 per step, as in Unsloth's notebooks
    "transformers-2x4": ("transformers", {"fold": False}, {}),
}
# Every run starts with empty compile caches (Triton, Inductor, Unsloth's), as a fresh Colab runtime does, unless
# its label ends in "-warm": it then reuses the caches the run of the same label without "-warm" left behind
# (a second run in the same Colab session).


def build(folder: str) -> None:
    """A random Gemma 2 2B saved as a normal folder, with the tokenizer."""
    import torch
    from transformers import AutoTokenizer, Gemma2Config, Gemma2ForCausalLM

    tok = AutoTokenizer.from_pretrained(os.environ["STOIC_GEMMA_TOKENIZER"])
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = Gemma2ForCausalLM(Gemma2Config(vocab_size=len(tok))).to(torch.bfloat16)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)


def synthetic_rows(tok, length: int, n: int = 64):
    """Rows of exactly `length` tokens, all trained (speed and memory do not depend on the values)."""
    import random

    rng = random.Random(0)
    return [{"input_ids": [tok.bos_token_id] + [rng.randrange(1000, 200_000) for _ in range(length - 1)],
             "labels": None} for _ in range(n)]


def worker(kind: str, backend: str, folder: str, steps: int, seqs: list[int]) -> dict:
    sampler = None
    if os.environ.get("BENCH_PROFILE") == "1":
        from stack_sampler import StackSampler

        sampler = StackSampler().start()
    import torch

    import stoic_workshop as sw

    out = {"backend": backend, "kind": kind, "gpu": torch.cuda.get_device_name(0)}
    first_call = _note_first_training_step() if sampler else None
    model, tok = sw.load_model(folder, backend=backend, max_seq_length=max(seqs + [512]))
    out["load_s"] = time.perf_counter() - T0
    if kind == "adapter":
        torch.cuda.reset_peak_memory_stats()
        result = sw.finetune(model, tok, sw.make_dataset(), f"/tmp/bench-{backend}", max_steps=steps,
                             energy=False, progress=False, **json.loads(os.environ.get("BENCH_SETTINGS", "{}")))
        out.update(time_to_adapter_s=time.perf_counter() - T0, train_s=result.seconds,
                   first_step_s=result.step_seconds[0], later_step_s=_median(result.step_seconds[3:]),
                   peak_gib=torch.cuda.max_memory_allocated() / 2**30, adapter_mb=result.adapter_mb,
                   first_loss=result.losses[0][1], last_loss=result.losses[-1][1], steps=result.steps)
        if sampler:
            sampler.stop()
            t1 = first_call[0]
            out["profile"] = {"before_first_step": sampler.summary(-1, t1),
                              "first_step": sampler.summary(t1, t1 + result.step_seconds[0])}
        return out
    for length in seqs:
        rows = synthetic_rows(tok, length)
        for r in rows:
            r["labels"] = list(r["input_ids"])
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        try:  # the second length reuses the model: finetune removes the first run's adapters and starts again
            result = sw.finetune(model, tok, rows, f"/tmp/bench-{backend}-{length}", max_steps=steps,
                                 save_steps=10_000, energy=False, progress=False, fold=False, max_length=length)
        except Exception as error:  # keep the lengths already measured
            out[str(length)] = {"error": f"{type(error).__name__}: {error}"[:500]}
            continue
        model = result.model
        step = _median(result.step_seconds[3:])
        out[str(length)] = {"s_per_step": step, "tokens_per_s": 8 * length / step,
                            "peak_gib": torch.cuda.max_memory_allocated() / 2**30,
                            "first_step_s": result.step_seconds[0]}
    return out


def _note_first_training_step() -> list[float]:
    """[perf_counter at the start of the first Trainer.training_step], filled in when it happens."""
    from transformers import Trainer

    first, original = [], Trainer.training_step

    def training_step(self, *args, **kwargs):
        if not first:
            first.append(time.perf_counter())
        return original(self, *args, **kwargs)

    Trainer.training_step = training_step
    return first


def _median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2] if xs else float("nan")


def run(kind, backend, folder, steps, seqs, extra_env=None, cache="/tmp/bench-cache/default") -> dict:
    """One measurement in a fresh interpreter, its compile caches (and working folder) under `cache`."""
    os.makedirs(cache, exist_ok=True)
    caches = {"TRITON_CACHE_DIR": f"{cache}/triton", "TORCHINDUCTOR_CACHE_DIR": f"{cache}/inductor",
              "UNSLOTH_MEGA_CACHE_DIR": f"{cache}/mega", "HOME": cache}
    env = {**os.environ, **OFFLINE, **caches, **(extra_env or {}), "PYTHONPATH": os.pathsep.join(
        filter(None, [ROOT, os.path.dirname(__file__), os.environ.get("PYTHONPATH")]))}
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", kind, backend, folder, str(steps),
           *map(str, seqs)]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=cache)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-6000:])
        return {"backend": backend, "kind": kind, "error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(results: list[dict]) -> str:
    lines = []
    thr = {r["backend"]: r for r in results if r["kind"] == "throughput" and "error" not in r}
    if thr:
        lines += ["| path | seq | s/step | tokens/s | peak GiB |", "|---|---|---|---|---|"]
        seqs = sorted({k for r in thr.values() for k in r if k.isdigit()}, key=int)
        for seq in seqs:
            for b, r in thr.items():
                m = r.get(seq, {"error": "not run"})
                if "error" in m:
                    lines.append(f"| {PATHS[b]} | {seq} | error: {m['error']} | | |")
                    continue
                lines.append(f"| {PATHS[b]} | {seq} | {m['s_per_step']:.3f} | {m['tokens_per_s']:,.0f} | "
                             f"{m['peak_gib']:.2f} |")
            if len(thr) == 2 and all("error" not in r.get(seq, {"error": 1}) for r in thr.values()):
                u, t = thr["unsloth"][seq], thr["transformers"][seq]
                lines.append(f"| ratio Unsloth / transformers | {seq} | | "
                             f"{u['tokens_per_s'] / t['tokens_per_s']:.2f}x | "
                             f"{u['peak_gib'] / t['peak_gib']:.2f}x |")
    adapter = [r for r in results if r["kind"] == "adapter" and "error" not in r]
    if adapter:
        lines += ["", "| path | time to adapter s | load s | first step s | later step s | peak GiB | loss | "
                  "adapter MB |", "|---|---|---|---|---|---|---|---|"]
        for r in adapter:
            label = r.get("label", PATHS[r["backend"]])
            lines.append(f"| {label} | {r['time_to_adapter_s']:.1f} | {r['load_s']:.1f} | "
                         f"{r['first_step_s']:.1f} | {r['later_step_s']:.3f} | {r['peak_gib']:.2f} | "
                         f"{r['first_loss']:.2f} -> {r['last_loss']:.2f} | {r['adapter_mb']:.1f} |")
    lines += [f"error: {r['backend']} {r['kind']}: {r['error']}" for r in results if "error" in r]
    if len(adapter) > 1 and adapter[0]["backend"] == "transformers":
        base = adapter[0]
        lines += ["", f"| ratio to {base.get('label', 'transformers')} | time to adapter | later step | peak |",
                  "|---|---|---|---|"]
        lines += [f"| {r.get('label')} | {r['time_to_adapter_s'] / base['time_to_adapter_s']:.2f}x | "
                  f"{r['later_step_s'] / base['later_step_s']:.2f}x | {r['peak_gib'] / base['peak_gib']:.2f}x |"
                  for r in adapter[1:]]
    for r in adapter:
        for phase, summary in r.get("profile", {}).items():
            lines += ["", table_of_profile(summary, f"{r.get('label')}, {phase.replace('_', ' ')}")]
    return "\n".join(lines)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        kind, backend, folder, steps, *seqs = sys.argv[2:]
        print(json.dumps(worker(kind, backend, folder, int(steps), [int(s) for s in seqs])))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="bench_gpu.json")
    ap.add_argument("--steps", type=int, default=60, help="steps for time-to-adapter")
    ap.add_argument("--throughput-steps", type=int, default=12)
    ap.add_argument("--only", choices=["throughput", "adapter"], default=None)
    ap.add_argument("--variants", default="transformers,unsloth", help=f"time-to-adapter runs, of {list(VARIANTS)}")
    ap.add_argument("--folder", default="/tmp/gemma2-2b-random")
    ap.add_argument("--profile", action="store_true", help="sample where time goes before and in the first step")
    args = ap.parse_args()
    if not os.path.exists(os.path.join(args.folder, "config.json")):
        build(args.folder)
    results = []
    if args.only in (None, "adapter"):
        stamp = time.strftime("%H%M%S")
        for label in args.variants.split(","):
            backend, settings, extra = VARIANTS[label.removesuffix("-warm")]
            env = {"BENCH_SETTINGS": json.dumps(settings), "BENCH_PROFILE": "1" if args.profile else "0", **extra}
            cache = f"/tmp/bench-cache/{stamp}-{label.removesuffix('-warm')}"
            results.append({**run("adapter", backend, args.folder, args.steps, [], env, cache), "label": label})
            print(table(results), flush=True)
    if args.only in (None, "throughput"):
        for backend in ("transformers", "unsloth"):
            results.append(run("throughput", backend, args.folder, args.throughput_steps, [512, 2048],
                               cache=f"/tmp/bench-cache/throughput-{backend}"))
        print(table(results))
    with open(args.out, "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
