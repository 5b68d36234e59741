"""Notebook 2's recipe cells on a GPU, by route: what a Colab attendee's training does, minus the Hub and Jupyter.

    python bench/recipe_gpu.py --model FOLDER --route unsloth|transformers [--steps 60] [--data JSONL] [--out DIR]

Runs the settings the notebook's settings cell makes (bf16 on a GPU that has it; for the Unsloth route
`sw.tune_unsloth()` first, as the notebook does), then the code of every cell of notebooks/02_finetune.ipynb tagged
"recipe", unchanged, in this order: the data from the JSONL file, the model, the LoRA adapters, SFTConfig,
SFTTrainer, trainer.train(), save. `--route transformers` sets USE_UNSLOTH = False, as the notebook does where Unsloth
is not installed or the model is Gemma 3 without bf16. Prints one JSON line: the route, the seconds to the saved
adapters and their parts, the loss at the first and last steps, the peak GPU memory, the adapter files.
Each route in a fresh process (Unsloth patches transformers and TRL when imported).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a model folder (weights, config, tokenizer)")
    parser.add_argument("--route", choices=("unsloth", "transformers"), required=True)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--data", default=str(ROOT / ".gpu-stage" / "data" / "stoic-train.jsonl"))
    parser.add_argument("--out", default="recipe-run", help="working folder (the notebook's adapters/ and data/)")
    parser.add_argument("--notebook", default=str(ROOT / "notebooks" / "02_finetune.ipynb"))
    args = parser.parse_args()
    start = time.perf_counter()
    cells = _recipe_cells(Path(args.notebook))
    work = Path(args.out)
    (work / "data").mkdir(parents=True, exist_ok=True)
    (work / "data" / "stoic-train.jsonl").write_bytes(Path(args.data).read_bytes())
    os.chdir(work)
    import torch

    import stoic_workshop as sw

    scope = {"MODEL_PATH": args.model, "SEED": 3407, "MAX_SEQ_LENGTH": 512, "STEPS": args.steps, "GPU": True,
             "DTYPE": torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16,
             "USE_UNSLOTH": args.route == "unsloth", "torch": torch, "os": os}
    said = sw.tune_unsloth() if args.route == "unsloth" else "Unsloth not imported"
    times = {"settings": time.perf_counter() - start}
    for name, source in zip(("data", "model", "adapters", "settings2", "trainer", "train", "save"), cells):
        t = time.perf_counter()
        exec(compile(source, f"<recipe cell: {name}>", "exec"), scope)
        times[name] = time.perf_counter() - t
    state = scope["trainer"].state
    losses = [e["loss"] for e in state.log_history if "loss" in e]
    print(json.dumps({
        "route": args.route, "model": args.model, "device": torch.cuda.get_device_name(0), "unsloth": said,
        "steps": state.global_step, "seconds_to_adapters": round(time.perf_counter() - start, 1),
        "seconds": {k: round(v, 1) for k, v in times.items()},
        "first_loss": round(losses[0], 4), "last_loss": round(losses[-1], 4),
        "peak_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2),
        "adapter_mb": round(os.path.getsize("adapters/stoic/adapter_model.safetensors") / 1e6, 1),
        "files": sorted(os.listdir("adapters/stoic")),
    }))


def _recipe_cells(path: Path) -> list[str]:
    notebook = json.loads(path.read_text())
    cells = [c for c in notebook["cells"] if c["cell_type"] == "code" and "recipe" in c["metadata"].get("tags", [])]
    sources = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"] for c in cells]
    # the save cell ends with an expression the notebook displays; here it is printed
    return [s.replace('\nsorted(os.listdir("adapters/stoic"))', '\nprint(sorted(os.listdir("adapters/stoic")))')
            for s in sources]


if __name__ == "__main__":
    main()
