"""T4 mode on a big GPU: the same fine-tune with STOIC_T4=1 (as on a free Colab T4: no bf16) and without it.

Each case runs in its own process (T4 mode sets process-wide attention kernels and a memory cap), through the
project's own `load_model` and `finetune`, on the project's data (`make_dataset()`):

- gemma3: the real Gemma 3 270M weights (the packaged Q4_K_M GGUF, de-quantized), default GPU route (4-bit NF4 base,
  LoRA r=16 on all seven projections), `learning_rate_for(model)`, 60 steps; then 3 greedy answers to held-out
  complaints (`eval_prompts()`). Cases: normal (bf16), t4 (fp32 compute, the package's choice for Gemma 3 without
  bf16), and t4-fp16: what T4 mode would do if Gemma 3 were computed in fp16 like other models (the choice before
  this fix), to show why it is not. A probe measures the largest hidden state of the plain model in fp32 and whether
  its fp16 forward is finite.
- unsloth-normal, unsloth-t4: the normal and t4 cases through Unsloth (`backend="unsloth"`), the route a learner
  picks with STOIC_BACKEND=unsloth; without bf16 Unsloth is handed fp16 and keeps Gemma 3 in fp32 itself.
- gemma2: a randomly initialised Gemma 2 2B (`Gemma2Config()` defaults; vocabulary sized to the Gemma 3 tokenizer),
  QLoRA, 20 steps: step time and peak memory in T4 mode (fp16) against normal mode (bf16). Random weights show
  speed, memory and that fp16 runs; they cannot show whether real weights overflow fp16.

    python bench/t4_mode.py gemma2 --tokenizer TOKDIR --out g2.json
    python bench/t4_mode.py gemma3 --gguf FILE.gguf --tokenizer TOKDIR --out g3.json
    python bench/t4_mode.py table g2.json g3.json            # the table with T4 / normal ratios

Step times on a big GPU in T4 mode show the cost of the T4's dtypes and kernels on that GPU, not a T4's speed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "HF_HUB_DISABLE_TELEMETRY": "1", "DO_NOT_TRACK": "1", "TOKENIZERS_PARALLELISM": "false",
           "UNSLOTH_DISABLE_STATISTICS": "1", "HF_HUB_ENABLE_HF_TRANSFER": "0"}
FP16_MAX = 65504.0


# ---------------------------------------------------------------------------------------------
# Building the models (in the parent, once)


def build_gemma2(folder: str, tokenizer: str) -> None:
    """A random Gemma 2 2B, saved in bf16 as a normal folder with the tokenizer (as bench/train_gpu.py does)."""
    import torch
    from transformers import AutoTokenizer, Gemma2Config, Gemma2ForCausalLM

    tok = AutoTokenizer.from_pretrained(tokenizer)
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = Gemma2ForCausalLM(Gemma2Config(vocab_size=len(tok))).to(torch.bfloat16)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)


def build_gemma3(folder: str, gguf: str, tokenizer: str) -> dict:
    """The packaged GGUF de-quantized to fp32 (models.dequantize_gguf), saved with the tokenizer; and a probe:
    the largest |hidden state| of the plain fp32 model on a workshop conversation, and its plain fp16 forward."""
    import torch
    from transformers import AutoTokenizer

    from stoic_workshop.models import dequantize_gguf

    t0 = time.perf_counter()
    model = dequantize_gguf(gguf)
    tok = AutoTokenizer.from_pretrained(tokenizer)
    model.save_pretrained(folder)
    tok.save_pretrained(folder)
    probe = {"convert_s": time.perf_counter() - t0}

    sys.path.insert(0, ROOT)
    import stoic_workshop as sw
    from stoic_workshop.chat import prepare_tokenizer

    try:  # the carried tokenizer must split text as llama.cpp does with this file
        sw.check_tokenizer(tok, "gemma-3-270m")
        probe["tokenizer_matches_llama_cpp"] = True
    except sw.TokenizerMismatch:
        probe["tokenizer_matches_llama_cpp"] = False
    prepare_tokenizer(tok, model, family="gemma")
    ids = torch.tensor([sw.encode(tok, sw.make_dataset(n=1)[0]["messages"])["input_ids"]], device="cuda")
    model.to("cuda").eval()
    with torch.no_grad():
        out = model(input_ids=ids, output_hidden_states=True)
        probe["fp32_max_abs_hidden"] = max(h.abs().max().item() for h in out.hidden_states)
        probe["fp32_logits_finite"] = bool(torch.isfinite(out.logits).all())
        model.half()
        out = model(input_ids=ids, output_hidden_states=True)
        probe["fp16_logits_finite"] = bool(torch.isfinite(out.logits).all())
        probe["fp16_first_nonfinite_layer"] = next(
            (i for i, h in enumerate(out.hidden_states) if not torch.isfinite(h).all()), None)
    del model
    torch.cuda.empty_cache()
    return probe


# ---------------------------------------------------------------------------------------------
# One case, in its own process


def worker(model_name: str, mode: str, folder: str, steps: int) -> dict:
    backend = "unsloth" if mode.startswith("unsloth-") else None  # None: the package's default GPU route
    os.environ["STOIC_T4"] = "0" if mode.removeprefix("unsloth-") == "normal" else "1"
    import torch

    sys.path.insert(0, ROOT)
    import stoic_workshop as sw
    import stoic_workshop.models as models

    if mode == "t4-fp16":  # the choice before this fix: fp16 for every model on a GPU without bf16
        chosen = models.compute_dtype
        models.compute_dtype = lambda hw, model=None: (torch.float16 if hw.device == "cuda" and not hw.bf16
                                                        else chosen(hw, model))
    cuda = torch.cuda.is_available()  # a CPU run is only a smoke test of this script
    device = "cuda" if cuda else "cpu"
    out = {"model": model_name, "mode": mode, "gpu": torch.cuda.get_device_name(0) if cuda else "none (CPU)"}
    t0 = time.perf_counter()
    model, tok = sw.load_model(folder, backend=backend)
    out["load_s"] = time.perf_counter() - t0
    report = model.load_report
    out.update(hardware=str(report.hardware), dtype=report.dtype, four_bit=report.four_bit,
               backend=report.backend, attention=model.config._attn_implementation,
               sdpa_flash=torch.backends.cuda.flash_sdp_enabled(),
               sdpa_mem_efficient=torch.backends.cuda.mem_efficient_sdp_enabled(),
               sdpa_math=torch.backends.cuda.math_sdp_enabled(),
               bf16_tensors_after_load=sum(t.dtype == torch.bfloat16 for t in
                                           [*model.parameters(), *model.buffers()]))
    if hasattr(torch.backends.cuda, "cudnn_sdp_enabled"):
        out["sdpa_cudnn"] = torch.backends.cuda.cudnn_sdp_enabled()

    # Which dtypes the activations really have, and how large the hidden states get, on one conversation.
    seen: set = set()
    hooks = [m.register_forward_hook(lambda mod, args, res: seen.update(
        {str(t.dtype) for t in (res if isinstance(res, tuple) else (res,)) if torch.is_tensor(t)}))
        for m in model.modules()]
    ids = torch.tensor([sw.encode(tok, sw.make_dataset(n=1)[0]["messages"])["input_ids"]], device=device)
    with torch.no_grad():
        fwd = model(input_ids=ids, output_hidden_states=True)
    for h in hooks:
        h.remove()
    out["activation_dtypes"] = sorted(seen)
    finite = [h for h in fwd.hidden_states if torch.isfinite(h).all()]
    out["max_abs_hidden"] = max((h.float().abs().max().item() for h in finite), default=float("nan"))
    out["forward_logits_finite"] = bool(torch.isfinite(fwd.logits).all())
    del fwd

    lr = sw.learning_rate_for(model)
    peak = (lambda: torch.cuda.max_memory_allocated() / 2**30) if cuda else (lambda: float("nan"))
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t0 = time.perf_counter()
    try:
        result = sw.finetune(model, tok, sw.make_dataset(), f"/tmp/t4bench-{model_name}-{mode}", max_steps=steps,
                             learning_rate=lr, energy=False, progress=False)
    except sw.TrainingDiverged as err:
        out.update(diverged=str(err), train_s=time.perf_counter() - t0,
                   peak_gib=peak())
        return out
    later = sorted(result.step_seconds[3:])
    losses = [loss for _, loss in result.losses]
    out.update(precision=result.precision, learning_rate=lr, steps=result.steps, train_s=result.seconds,
               first_step_s=result.step_seconds[0], s_per_step=later[len(later) // 2] if later else float("nan"),
               peak_gib=peak(), first_loss=losses[0], last_loss=losses[-1],
               min_loss=min(losses), all_finite=all(map(lambda x: x == x and abs(x) != float("inf"), losses)),
               losses=losses, trainable=result.trainable, total=result.total,
               bf16_tensors_trained=sum(t.dtype == torch.bfloat16 for t in
                                        [*result.model.parameters(), *result.model.buffers()]))
    if model_name == "gemma3":
        prompts = sw.eval_prompts()[:3]
        result.model.eval()
        out["answers"] = [{"complaint": p, "answer": sw.reply(result.model, tok, p, max_new_tokens=60)}
                          for p in prompts]
    return out


def run_case(model_name: str, mode: str, folder: str, steps: int) -> dict:
    env = {**os.environ, **OFFLINE, "PYTHONUNBUFFERED": "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))}
    cmd = [sys.executable, __file__, "--worker", model_name, mode, folder, str(steps)]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
    if done.returncode != 0:
        return {"model": model_name, "mode": mode, "error": (done.stderr.strip().splitlines() or ["?"])[-1]}
    res = json.loads(done.stdout.strip().splitlines()[-1])
    res["process_s"] = time.perf_counter() - t0
    return res


# ---------------------------------------------------------------------------------------------
# The table


def table(results: list[dict]) -> str:
    lines = ["| model | mode | compute | attention | as loaded: max abs hidden, logits | s/step | first step s | "
             "peak GiB | loss first -> last | activations |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in results:
        if "error" in r or "model" not in r:
            if "error" in r:
                lines.append(f"| {r['model']} | {r['mode']} | error: {r['error']} ||||||||")
            continue
        attn = r["attention"] + ("" if r["attention"] != "sdpa" else
                                 " (flash on)" if r["sdpa_flash"] else " (no flash/cuDNN)")
        compute = r["dtype"] + (", 4-bit NF4 base" if r["four_bit"] else "")
        acts = ",".join(d.replace("torch.", "") for d in r["activation_dtypes"])
        loaded = f"{r['max_abs_hidden']:,.0f}, {'finite' if r['forward_logits_finite'] else 'NOT finite'}"
        if "diverged" in r:
            lines.append(f"| {r['model']} | {r['mode']} | {compute} | {attn} | {loaded} | diverged | | "
                         f"{r['peak_gib']:.2f} | "
                         f"NaN (guard stopped it) | {acts} |")
            continue
        lines.append(f"| {r['model']} | {r['mode']} | {compute} | {attn} | {loaded} | {r['s_per_step']:.3f} | "
                     f"{r['first_step_s']:.2f} | {r['peak_gib']:.2f} | {r['first_loss']:.2f} -> {r['last_loss']:.2f} "
                     f"({r['steps']} steps) | {acts} |")
    by = {(r.get("model"), r.get("mode")): r for r in results if "s_per_step" in r}
    ratios = [("normal", "t4", "T4 mode / normal"), ("unsloth-normal", "unsloth-t4", "Unsloth: T4 mode / normal"),
              ("normal", "unsloth-normal", "Unsloth / default, normal"), ("t4", "unsloth-t4", "Unsloth / default, T4")]
    for name in ("gemma3", "gemma2"):
        for base, other, label in ratios:
            a, b = by.get((name, base)), by.get((name, other))
            if a and b:
                lines.append(f"| {name} | ratio {label} | | | | {b['s_per_step'] / a['s_per_step']:.2f}x | "
                             f"{b['first_step_s'] / a['first_step_s']:.2f}x | "
                             f"{b['peak_gib'] / a['peak_gib']:.2f}x | | |")
    for r in results:
        if "probe" in r:
            p = r["probe"]
            lines.append(f"\nGemma 3 270M probe: largest |hidden state| in fp32 {p['fp32_max_abs_hidden']:,.0f} "
                         f"(fp16 max {FP16_MAX:,.0f}); plain fp16 forward logits finite: {p['fp16_logits_finite']} "
                         f"(first non-finite hidden state: {p['fp16_first_nonfinite_layer']})")
    for r in results:
        if "diverged" in r:
            lines.append(f"\n{r['model']} {r['mode']}: {r['diverged']}")
        for a in r.get("answers", []):
            lines.append(f"\n{r['model']} {r['mode']}: {a['complaint']}\n  -> {a['answer']}")
    return "\n".join(lines)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        name, mode, folder, steps = sys.argv[2:6]
        print(json.dumps(worker(name, mode, folder, int(steps))))
        return
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["gemma2", "gemma3", "table"])
    ap.add_argument("files", nargs="*", help="for 'table': result files")
    ap.add_argument("--tokenizer", help="folder with the Gemma 3 tokenizer (converted from the packaged GGUF)")
    ap.add_argument("--gguf", help="the packaged gemma-3-270m-q4_k_m.gguf")
    ap.add_argument("--steps", type=int, default=None, help="default: 60 for gemma3, 20 for gemma2")
    ap.add_argument("--modes", default=None, help="default: normal,t4 (gemma2); normal,t4,t4-fp16 (gemma3); "
                    "unsloth-normal and unsloth-t4 run the same case with backend='unsloth'")
    ap.add_argument("--out", default=None)
    args = ap.parse_args()
    if args.what == "table":
        results = [r for f in args.files for r in json.load(open(f))]
        print(table(results))
        return
    results: list[dict] = []
    if args.what == "gemma2":
        folder = "/tmp/t4bench-gemma2-2b"
        if not os.path.exists(os.path.join(folder, "config.json")):
            build_gemma2(folder, args.tokenizer)
        modes, steps = (args.modes or "normal,t4").split(","), args.steps or 20
    else:
        folder = "/tmp/t4bench-gemma3-270m"
        results.append({"probe": build_gemma3(folder, args.gguf, args.tokenizer)})
        print(json.dumps(results[-1]), flush=True)
        modes, steps = (args.modes or "normal,t4,t4-fp16").split(","), args.steps or 60
    for mode in modes:
        results.append(run_case(args.what, mode, folder, steps if mode != "t4-fp16" else min(steps, 10)))
        print(json.dumps({k: v for k, v in results[-1].items() if k != "losses"}), flush=True)
    if args.out:
        with open(args.out, "w") as f:
            json.dump(results, f, indent=1)
    print(table(results))


if __name__ == "__main__":
    main()
