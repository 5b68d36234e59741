"""The `stoic-workshop` command.

    stoic-workshop workshop [--out runs]   run the course notebooks headless (the main job)
    stoic-workshop models                  list the model presets
    stoic-workshop prepare [NAME ...]      convert and cache the offline models now
    stoic-workshop hardware                what this machine offers
    stoic-workshop data [--out data]       write the default Stoic dataset as JSONL
    stoic-workshop train [--model M] [--data FILE] [--out adapters] [--steps 60] [--resume]
                                           fine-tune with LoRA and save the adapters
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="stoic-workshop", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("workshop", help="run the course notebooks headless and keep executed copies")
    run.add_argument("--out", default="runs", help="folder for the executed notebooks (default: runs)")
    run.add_argument("--profile", default="offline", choices=["offline", "colab"])
    sub.add_parser("models", help="list the model presets")
    prep = sub.add_parser("prepare", help="convert and cache the offline models")
    prep.add_argument("names", nargs="*", help="presets to prepare (default: the offline pair)")
    sub.add_parser("hardware", help="describe this machine")
    data = sub.add_parser("data", help="write the default Stoic dataset (train/eval JSONL, held-out prompts)")
    data.add_argument("--out", default=None, help="folder (default: the repository's data/)")
    data.add_argument("--seed", type=int, default=3407)
    train = sub.add_parser("train", help="fine-tune a model with LoRA on Stoic conversations; save the adapters")
    train.add_argument("--model", default="gemma-3-270m", help="preset name or model folder (default: gemma-3-270m)")
    train.add_argument("--data", default=None,
                       help="JSONL/CSV of complaint/reply pairs or conversations (default: the built-in pairs)")
    train.add_argument("--out", default="adapters", help="adapter folder (default: adapters)")
    train.add_argument("--steps", type=int, default=None, help="optimizer steps (default 60)")
    train.add_argument("--save-steps", type=int, default=None, help="checkpoint every N steps (default 10)")
    train.add_argument("--rank", type=int, default=None, help="LoRA rank r (default 16)")
    train.add_argument("--targets", default=None, help="comma-separated layers, e.g. q_proj,v_proj (default: all)")
    train.add_argument("--lr", type=float, default=None, help="learning rate (default 2e-4)")
    train.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    train.add_argument("--no-energy", action="store_true", help="do not measure energy with CodeCarbon")
    args = parser.parse_args(argv)

    if args.command == "workshop":
        from .workshop import workshop

        try:
            workshop(args.out, args.profile)
        except RuntimeError as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
    elif args.command == "models":
        from .models import PRESETS

        print(f"{'name':24} {'kind':9} {'where':38} about")
        for p in PRESETS.values():
            where = f"PyPI: {p.package}" if p.offline else f"Hub: {p.repo}"
            print(f"{p.name:24} {p.kind:9} {where:38} {p.about}")
    elif args.command == "prepare":
        from .models import OFFLINE_PAIR, model_folder

        for name in args.names or OFFLINE_PAIR:
            try:
                print(f"{name}: {model_folder(name)}")
            except ValueError as err:
                print(f"error: {err}", file=sys.stderr)
                return 2
    elif args.command == "data":
        from .dataset import DATA_DIR, write_default_data

        for name, path in write_default_data(args.out or DATA_DIR, seed=args.seed).items():
            print(f"{name}: {path}")
    elif args.command == "train":
        return _train(args)
    elif args.command == "hardware":
        from .models import hardware

        print(hardware())
    return 0


def _train(args) -> int:
    from .dataset import DataError, load_pairs, make_dataset
    from .models import load_model
    from .train import TrainingDiverged, finetune

    settings = {k: v for k, v in {"max_steps": args.steps, "save_steps": args.save_steps, "lora_r": args.rank,
                                  "learning_rate": args.lr}.items() if v is not None}
    if args.targets:
        settings["target_modules"] = [t.strip() for t in args.targets.split(",") if t.strip()]
    try:
        dataset = load_pairs(args.data) if args.data else make_dataset()
        model, tokenizer = load_model(args.model)
        result = finetune(model, tokenizer, dataset, args.out, resume=args.resume,
                          energy=False if args.no_energy else None, **settings)
    except (DataError, TrainingDiverged, ValueError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
