"""Energy where it can be measured: the workshop recipe on a GPU, its GPU read through NVML by CodeCarbon.

For one model: the workshop's fine-tune (notebook 2's 90 training pairs, 60 steps), then its answers to the 16
held-out complaints, `--rounds` times over (greedy, regenerated each round), as a phase of their own. Prints the
energy label (training kWh, kWh per 1,000 answers, each part measured or estimated), the published figures beside
it, and writes OUT/energy.json (the label, every phase with its GPU, CPU and RAM kWh, the versions).

    python bench/energy_gpu.py MODEL OUT [--steps 60] [--rounds 4]      # MODEL: a preset or a model folder
    python bench/energy_gpu.py --table OUT [OUT ...]                    # the table of several runs, side by side
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def run(model_name: str, out: str, steps: int, rounds: int) -> None:
    import torch

    import stoic_workshop as sw

    out = Path(out)
    energy = sw.Energy(output_dir=str(out / "energy"), measure_power_secs=1)
    model, tokenizer = sw.load_model(model_name)
    train = sw.train_eval_split(sw.make_dataset(n=100, seed=3407), eval_fraction=0.1, seed=3407)["train"]
    result = sw.finetune(model, tokenizer, train, sw.StoicConfig(output_dir=str(out / "adapter"), max_steps=steps),
                         energy=energy)
    prompts = sw.eval_prompts()
    with energy.phase("answers") as phase:
        for _ in range(rounds):
            table = sw.answers(result.model, tokenizer, prompts, name="fine-tuned", fresh=True, progress=False)
        phase.items = rounds * len(prompts)
    # Answer length sets the energy of an answer: the published figures used 10 new tokens (Luccioni et al.)
    tokens = [len(tokenizer(a, add_special_tokens=False)["input_ids"]) for a in table["fine-tuned"]]
    label = energy.label()
    sw.label_model_card(out / "adapter", label)  # now with kWh per 1,000 answers too
    print(energy)
    print(label)
    print(label.published().to_string(index=False))
    record = {"model": model_name, "steps": result.steps, "answers": phase.items,
              "mean_answer_tokens": sum(tokens) / len(tokens), "load": str(model.load_report),
              "gpu": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
              "label": label.table().to_dict("records"), "training_kwh": label.training_kwh,
              "kwh_per_1000_answers": label.kwh_per_1000_answers, "parts": label.parts,
              "phases": [{"phase": p.name, "seconds": p.seconds, "kWh": p.kwh, "power": p.power,
                          "parts": {k: {"kWh": v[0], "how": v[1]} for k, v in p.parts.items()}, "items": p.items}
                         for p in energy.phases]}
    (out / "energy.json").write_text(json.dumps(record, indent=1, default=str))


def table(folders: list[str]) -> None:
    from stoic_workshop.energy import CODECARBON_ERROR, PUBLISHED

    runs = [json.loads((Path(folder) / "energy.json").read_text()) for folder in folders]
    names = [Path(r["model"]).name for r in runs]
    print("| model | GPU | training kWh | of which GPU (measured) | kWh per 1,000 answers | of which GPU | answers "
          "| tokens an answer |")
    print("|---|---|---|---|---|---|---|---|")
    for name, r in zip(names, runs):
        phase = {p["phase"]: p for p in r["phases"]}
        share = {}
        for step in ("training", "answers"):
            gpu, total = phase[step]["parts"].get("GPU", {}).get("kWh"), phase[step]["kWh"]
            share[step] = f"{gpu / total:.0%}" if gpu is not None and total else "no GPU"
        print(f"| {name} | {r['gpu']} | {r['training_kwh']:.4g} | {share['training']} "
              f"| {r['kwh_per_1000_answers']:.4g} | {share['answers']} | {r['answers']} "
              f"| {r.get('mean_answer_tokens', float('nan')):.0f} |")
    print("\n| model | phase | seconds | GPU kWh | CPU kWh | RAM kWh | total kWh |")
    print("|---|---|---|---|---|---|---|")
    for name, r in zip(names, runs):
        for p in r["phases"]:
            part = {k: f"{v['kWh']:.3g} ({v['how']})" for k, v in p["parts"].items()}
            print(f"| {name} | {p['phase']} | {p['seconds']:.1f} | {part.get('GPU', '-')} "
                  f"| {part.get('CPU', '-')} | {part.get('RAM', '-')} | {p['kWh']:.3g} |")
    per_1000 = [r["kwh_per_1000_answers"] for r in runs]
    print(f"\n| kWh per 1,000 answers | {' | '.join(names)} |")
    print("|---|" + "---|" * len(runs))
    print(f"| this bench (CodeCarbon, can be off by up to {CODECARBON_ERROR:.0%}) | "
          + " | ".join(f"{x:.3g}" for x in per_1000) + " |")
    for what, kwh in PUBLISHED:
        print(f"| {what}: {kwh} | " + " | ".join(f"{x / kwh:.2f}x" for x in per_1000) + " |")

if __name__ == "__main__":
    if sys.argv[1:2] == ["--table"]:
        table(sys.argv[2:])
    else:
        parser = argparse.ArgumentParser()
        parser.add_argument("model")
        parser.add_argument("out")
        parser.add_argument("--steps", type=int, default=60)
        parser.add_argument("--rounds", type=int, default=4)
        a = parser.parse_args()
        run(a.model, a.out, a.steps, a.rounds)
