"""The `stoic-workshop` command.

    stoic-workshop workshop [--out runs]   run the course notebooks headless (the main job)
    stoic-workshop models                  list the model presets
    stoic-workshop prepare [NAME ...]      convert and cache the offline models now
    stoic-workshop hardware                what this machine offers
    stoic-workshop data [--out data]       write the default Stoic dataset as JSONL
    stoic-workshop train [--model M] [--data FILE] [--out adapters] [--steps 60] [--resume]
                                           fine-tune with LoRA (the workshop's StoicConfig) and save the adapters
    stoic-workshop eval ADAPTERS [--out eval]  scores before/after with intervals, forgetting, HTML report
    stoic-workshop export ADAPTERS [--out export] [--quant q8_0 ...]
                                           merge, write GGUF + Ollama Modelfile, run each file to check it
    stoic-workshop run [--out stoic-run]   the whole workshop: data -> train -> evaluate -> export, resumable
    stoic-workshop preflight               go/no-go table for instructors, the day before and at the venue
    stoic-workshop chat PATH               talk to adapters, a merged folder or a GGUF file in the terminal
    stoic-workshop slides [--run stoic-run] [--out slides/deck.html]
                                           the workshop deck: figures from a run, one self-contained HTML file
    stoic-workshop sweep [--out sweep]     energy against quality: a grid of fine-tunes, its table and Pareto chart
    stoic-workshop launch-config [ddp|fsdp|fsdp-qlora]
                                           the path of a shipped accelerate config, for `train` on several GPUs:
    accelerate launch --config_file "$(stoic-workshop launch-config ddp)" -m stoic_workshop train ...
"""

from __future__ import annotations

import argparse
import os
import sys


def build_parser() -> argparse.ArgumentParser:
    """The `stoic-workshop` command line: one subcommand per job (`build_parser().parse_args(["run", "--help"])`)."""
    parser = argparse.ArgumentParser(prog="stoic-workshop", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("workshop", help="run the course notebooks headless and keep executed copies")
    run.add_argument("--out", default="runs", help="working folder: each notebook is copied there, run there and "
                                                   "saved executed, with an .html copy (default: runs)")
    run.add_argument("--profile", default="offline", choices=["offline", "colab"])
    run.add_argument("--alone", action="store_true", help="give each notebook its own empty folder, as Colab opens "
                                                          "it from its badge (default: one shared folder)")
    run.add_argument("--solutions", action="store_true", help="fill each exercise's TODO stub with the solution "
                                                              "from its 'Solution and discussion' cell first, as "
                                                              "CI runs them (default: exercises left undone)")
    run.add_argument("--rehearsal", action="store_true", help="run at rehearsal size: a few training steps, "
                                                              "complaints, judge calibration items and facts "
                                                              "(STOIC_TRAIN_STEPS, STOIC_EVAL_PROMPTS, "
                                                              "STOIC_CALIBRATION_PER_LABEL, STOIC_KNOWLEDGE_STEPS, "
                                                              "STOIC_KNOWLEDGE_FACTS; a value you set wins)")
    run.add_argument("notebooks", nargs="*", metavar="NOTEBOOK", help="only these notebooks (default: all, in order)")
    sub.add_parser("models", help="list the model presets")
    prep = sub.add_parser("prepare", help="convert and cache the offline models")
    prep.add_argument("names", nargs="*", help="presets to prepare (default: the offline pair)")
    prep.add_argument("--no-converter", action="store_true",
                      help="do not fetch llama.cpp's GGUF converter (by default it is unpacked into the cache)")
    sub.add_parser("hardware", help="describe this machine")
    grid = sub.add_parser("sweep", help="energy against quality: train and score a grid of LoRA ranks and step "
                                        "counts, with its Pareto chart (resumable)")
    grid.add_argument("--out", default="sweep", help="folder for every point, sweep.csv and sweep.png (default: sweep)")
    grid.add_argument("--models", nargs="+", default=None, help="models (default: the two offline models)")
    grid.add_argument("--ranks", nargs="+", type=int, default=[4, 16, 64], help="LoRA ranks (default: 4 16 64)")
    grid.add_argument("--steps", nargs="+", type=int, default=[20, 60, 120], help="steps (default: 20 60 120)")
    grid.add_argument("--prompts", type=int, default=16, help="held-out complaints each point answers (default 16)")
    launch = sub.add_parser("launch-config", help="print the path of a shipped accelerate config (several GPUs)")
    launch.add_argument("name", nargs="?", default=None, help="ddp, fsdp or fsdp-qlora (default: list them)")
    data = sub.add_parser("data", help="write the default Stoic dataset (train/eval JSONL, held-out prompts)")
    data.add_argument("--out", default="data", help="folder (default: data/ here; in a checkout's root that is "
                                                         "the repository's own data/)")
    data.add_argument("--seed", type=int, default=3407)
    train = sub.add_parser("train", help="fine-tune a model with LoRA on Stoic conversations; save the adapters")
    train.add_argument("--model", default=None, help="preset name or model folder (default: picked for this "
                                                     "machine, as for `run`: the offline SmolLM2 without a GPU)")
    train.add_argument("--data", default=None,
                       help="JSONL/CSV of complaint/reply pairs or conversations (default: the built-in pairs)")
    train.add_argument("--out", default="adapters", help="adapter folder (default: adapters)")
    train.add_argument("--steps", type=int, default=None, help="optimizer steps (default 60)")
    train.add_argument("--save-steps", type=int, default=None, help="checkpoint every N steps (default 10)")
    train.add_argument("--rank", type=int, default=None, help="LoRA rank r (default 16)")
    train.add_argument("--targets", default=None, help="comma-separated layers, e.g. q_proj,v_proj (default: all)")
    train.add_argument("--lr", type=float, default=None, help="learning rate (default: from the model's size, "
                                                                "1e-3 under 500M parameters, else 2e-4)")
    train.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    train.add_argument("--cpu-dtype", choices=("auto", "float32", "bfloat16"), default=None,
                       help="on a CPU, the frozen base's number format (default auto: bf16 where the CPU multiplies "
                            "bf16 in hardware, else fp32)")
    train.add_argument("--load-in-4bit", action=argparse.BooleanOptionalAction, default=None,
                       help="4-bit NF4 base on a GPU (default: yes on one GPU and under DDP, no under FSDP, where "
                            "the fsdp-qlora config asks for it)")
    train.add_argument("--keep-per-gpu-batch", action="store_true",
                       help="on several GPUs, each runs the recipe's full batch x accumulation, so a step sees "
                            "GPUs x 8 examples (default: 8 examples a step on any number of GPUs)")
    train.add_argument("--no-energy", action="store_true", help="do not measure energy with CodeCarbon")
    export = sub.add_parser("export", help="merge adapters into the base, write GGUF file(s) and an Ollama "
                                           "Modelfile, and run every file to check it")
    export.add_argument("adapters", help="adapter folder (from notebook 2 or `train`)")
    export.add_argument("--out", default="export", help="output folder (default: export)")
    export.add_argument("--quant", nargs="+", default=["q8_0"], choices=["f16", "bf16", "q8_0", "q4_k_m"],
                        help="GGUF type(s) (default: q8_0; q4_k_m needs llama-cpp-python)")
    export.add_argument("--name", default="stoic", help="model name for `ollama create` (default: stoic)")
    export.add_argument("--system", default=None, help="a SYSTEM line for the Modelfile")
    export.add_argument("--no-verify", action="store_true", help="skip running the exported files")
    ev = sub.add_parser("eval", help="answers before and after, Stoic and meaning scores with intervals, "
                                     "forgetting, and an HTML report")
    ev.add_argument("adapters", help="adapter folder (from notebook 2, `train` or `run`)")
    ev.add_argument("--out", default="eval", help="output folder (default: eval)")
    ev.add_argument("--prompts", type=int, default=None, help="evaluate on the first N held-out complaints, 1..16 "
                                                              "(default: all 16)")
    ev.add_argument("--no-energy", action="store_true", help="do not measure energy with CodeCarbon")
    whole = sub.add_parser("run", help="the whole workshop into one folder: data -> train -> evaluate -> export "
                                       "(a second run into the same folder resumes)")
    whole.add_argument("--out", default="stoic-run", help="output folder (default: stoic-run)")
    whole.add_argument("--model", default=None, help="instruct model preset or folder (default: picked for "
                                                     "this machine: the offline SmolLM2 without a GPU)")
    whole.add_argument("--steps", type=int, default=60, help="training steps (default 60)")
    whole.add_argument("--quant", nargs="+", default=["q8_0"], choices=["f16", "bf16", "q8_0", "q4_k_m"])
    whole.add_argument("--prompts", type=int, default=None, help="evaluate on the first N held-out complaints, "
                                                                 "1..16 (default: all 16)")
    whole.add_argument("--no-energy", action="store_true", help="do not measure energy with CodeCarbon")
    know = sub.add_parser("knowledge", help="what fine-tuning can and cannot teach: five arms (closed book, SFT on one "
                                            "or many phrasings, retrieval, SFT with retrieval) measured side by side")
    know.add_argument("--out", default="knowledge", help="output folder (default: knowledge); a second run into "
                                                         "it keeps the arms already measured")
    know.add_argument("--model", default=None, help="instruct model preset or folder (default: picked for this "
                                                    "machine: the offline SmolLM2 without a GPU)")
    know.add_argument("--steps", type=int, default=120, help="training steps of each SFT arm (default 120)")
    know.add_argument("--k", type=int, default=3, help="facts retrieved into the prompt (default 3)")
    know.add_argument("--arms", nargs="+", default=None, metavar="ARM",
                      help="only these arms: base sft-one sft-many rag sft-rag (default: all five)")
    know.add_argument("--facts", type=int, default=None, metavar="N",
                      help="use N of the 173 facts, spread over the set (a quick rehearsal; default: all)")
    know.add_argument("--no-energy", action="store_true", help="do not measure energy with CodeCarbon")
    pre = sub.add_parser("preflight", help="for instructors: check this machine, the pins, the models and a 2-step "
                                          "fine-tune, and print a go/no-go table")
    pre.add_argument("--profile", default=None, choices=["offline", "colab"],
                     help="which pins and models to check (default: colab with a GPU, offline without)")
    chat = sub.add_parser("chat", help="talk to a trained model in the terminal (empty line or Ctrl-D ends)")
    chat.add_argument("path", help="adapter folder, merged model folder or .gguf file")
    chat.add_argument("--max-new-tokens", type=int, default=200)
    slides = sub.add_parser("slides", help="render the workshop deck (slides/deck.md) to one self-contained HTML "
                                           "file with Marp CLI; with --run, redraw its figures from a run first")
    slides.add_argument("--run", default=None, help="a `stoic-workshop run` folder to redraw the figures from "
                                                    "(default: keep the committed figures)")
    slides.add_argument("--figures", default=None, help="folder for the figures (default: slides/figures)")
    slides.add_argument("--out", default=None, help="HTML file to write (default: slides/deck.html)")
    slides.add_argument("--deck", default=None, help="Markdown deck (default: slides/deck.md)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from .distributed import world

    if world().size > 1 and args.command != "train":
        print(f"error: `stoic-workshop {args.command}` runs as one process; only `train` runs under accelerate "
              f"launch (this is one of {world().size} processes).", file=sys.stderr)
        return 2

    if args.command == "workshop":
        from .workshop import workshop

        try:
            workshop(args.out, args.profile, alone=args.alone, names=args.notebooks or None, solutions=args.solutions,
                     rehearsal=args.rehearsal)
        except (RuntimeError, ValueError, FileNotFoundError) as err:
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
            except (ValueError, OSError) as err:  # an unknown preset; an unusable cache (CacheError)
                print(f"error: {err}", file=sys.stderr)
                return 2
        if not args.no_converter:
            from .export import converter

            try:
                print(f"GGUF converter: {converter()}")
            except (RuntimeError, OSError) as err:
                print(f"error: {err}", file=sys.stderr)
                return 1
    elif args.command == "data":
        from .dataset import write_default_data

        for name, path in write_default_data(args.out, seed=args.seed).items():
            print(f"{name}: {path}")
    elif args.command == "train":
        return _train(args)
    elif args.command == "export":
        return _export(args)
    elif args.command == "chat":
        return _chat(args)
    elif args.command == "eval":
        return _eval(args)
    elif args.command == "preflight":
        from .preflight import NO_GO, preflight

        table = preflight(args.profile)
        return 1 if (table["status"] == NO_GO).any() else 0
    elif args.command == "run":
        from .pipeline import run

        try:  # run checks its arguments before writing anything; a failed GGUF check raises once all is written
            run(args.out, model=args.model, steps=args.steps, quants=tuple(args.quant), prompts=args.prompts,
                energy=not args.no_energy)
        except (OSError, ValueError, RuntimeError, ImportError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
    elif args.command == "knowledge":
        from .knowledge import ARMS, run

        try:
            table = run(args.out, model=args.model, steps=args.steps, k=args.k, arms=tuple(args.arms or ARMS),
                        facts=args.facts, energy=not args.no_energy)
        except (OSError, ValueError, RuntimeError, ImportError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        print(table.round(3).to_string(index=False))
    elif args.command == "hardware":
        from .models import hardware

        print(hardware())
    elif args.command == "slides":
        return _slides(args)
    elif args.command == "sweep":
        from .energy_sweep import sweep

        try:
            table = sweep(args.out, models=args.models, ranks=args.ranks, steps=args.steps, prompts=args.prompts)
        except (OSError, ValueError, RuntimeError, ImportError) as err:
            print(f"error: {err}", file=sys.stderr)
            return 1
        print(table.round(5).to_string(index=False))
    elif args.command == "launch-config":
        from .distributed import LAUNCH_CONFIGS, launch_config

        if args.name is None:
            for name, (_, why) in LAUNCH_CONFIGS.items():
                print(f"{name:11} {launch_config(name)}\n            {why}")
            return 0
        try:
            print(launch_config(args.name))
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    return 0


def _train(args) -> int:
    from .dataset import DataError, load_pairs, make_dataset
    from .distributed import LaunchError, main_only, world
    from .models import load_model, pick_models
    from .callbacks import TrainingDiverged
    from .train import finetune

    settings = {k: v for k, v in {"max_steps": args.steps, "save_steps": args.save_steps, "lora_r": args.rank,
                                  "learning_rate": args.lr, "cpu_dtype": args.cpu_dtype}.items() if v is not None}
    if args.targets:
        settings["target_modules"] = [t.strip() for t in args.targets.split(",") if t.strip()]
    if args.keep_per_gpu_batch:
        settings["keep_effective_batch"] = False
    here = world()
    if here.size == 1 and os.environ.get("ACCELERATE_USE_CPU", "").lower() in ("true", "1"):
        print("accelerate launch --cpu starts one process, whatever --num_processes or the config file ask, and "
              "passes no FSDP or DDP settings to it: this trains as one process on the CPU.")
    try:
        from .config import StoicConfig

        config = StoicConfig(output_dir=args.out, **settings)  # a bad setting is said before any loading
        dataset = load_pairs(args.data) if args.data else make_dataset()
        with main_only(here):
            model, tokenizer = load_model(args.model or pick_models()[1], load_in_4bit=args.load_in_4bit)
        result = finetune(model, tokenizer, dataset, config, resume=args.resume,
                          energy=False if args.no_energy else None)
    except (DataError, TrainingDiverged, ValueError, OSError) as err:
        # Bad data, a refused launch and a diverged loss (averaged over the processes) are the same in every process:
        # the first says it. Any other error is said by the process that met it, with its number.
        if here.main:
            print(f"error: {err}", file=sys.stderr)
        elif not isinstance(err, (DataError, TrainingDiverged, LaunchError)):
            print(f"error (process {here.rank}): {err}", file=sys.stderr)
        return 1
    if here.main:
        print(result)
    return 0


def _export(args) -> int:
    from transformers import AutoTokenizer

    from .export import export_all, merge, modelfile
    from .folders import RunFolder

    out = RunFolder(args.out)
    try:
        from .folders import writable_folder

        writable_folder(out.root)  # before the minutes of merging
        print(f"Merging {args.adapters} into its base...")
        merged = merge(args.adapters, out.merged)
        print(f"merged model: {merged}")
        tokenizer = AutoTokenizer.from_pretrained(merged)
        files = list(export_all(merged, out.root, args.quant, name=args.name, check=not args.no_verify))
        modelfile(files[0].path, tokenizer, system=args.system, name=args.name)
        failed = sum(f.check is not None and not f.check.ok for f in files)
        if failed:
            print(f"error: {failed} exported file(s) failed their check (see {out.checks})", file=sys.stderr)
            return 1
    except (OSError, ValueError, RuntimeError, ImportError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"vLLM: vllm serve {merged} --served-model-name {args.name}")
    return 0


def _eval(args) -> int:
    from pathlib import Path

    from .energy import Energy
    from .evaluate import report
    from .models import adapter_base, load_adapters, load_model
    from .pipeline import evaluate, pick_questions

    adapters, out = Path(args.adapters), Path(args.out)
    try:
        questions = pick_questions(args.prompts)  # a bad --prompts stops here, before any loading or writing
        if not (adapters / "adapter_config.json").is_file():
            raise FileNotFoundError(f"No adapters in {adapters} (adapter_config.json missing): train first.")
        base = adapter_base(adapters)
        model, tokenizer = load_model(base)
        tuned = load_adapters(model, adapters)
        out.mkdir(parents=True, exist_ok=True)
        meter = Energy(output_dir=str(out), enabled=not args.no_energy)
        scored, summary_table, forgot = evaluate(tuned, tokenizer, out, questions, meter)
        from .folders import RunFolder

        path = report(RunFolder(out).report, scored, summary_table=summary_table, forgetting_table=forgot,
                      energy=None if args.no_energy else meter)
    except (FileNotFoundError, ValueError, RuntimeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(summary_table.to_string(index=False))
    print(forgot.to_string(index=False))
    print(f"Report: {path}")
    return 0


def _slides(args) -> int:
    from pathlib import Path

    from .slides import SlidesError, render_slides, slide_figures

    # Figures go where the deck looks for them: figures/ beside it, unless --figures says otherwise.
    figures = args.figures or (Path(args.deck).parent / "figures" if args.deck else None)
    try:
        if args.run:
            for name, path in slide_figures(args.run, figures).items():
                print(f"{name}: {path}")
        out = render_slides(args.out, deck=args.deck, figures=figures)
    except (SlidesError, FileNotFoundError, ValueError, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"Deck: {out} (open it in a browser; arrow keys move, F goes full screen)")
    return 0


def _chat(args) -> int:
    try:
        answer = _chat_model(args)
    except (FileNotFoundError, ValueError, ImportError, RuntimeError, OSError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    if answer is None:
        print(f"error: {args.path} is neither a .gguf file nor a model or adapter folder", file=sys.stderr)
        return 1
    print("Tell it what is bothering you (an empty line or Ctrl-D ends).")
    history = []
    while True:
        try:
            line = input("you> ").strip()
        except EOFError:
            break
        if not line:
            break
        history.append({"role": "user", "content": line})
        try:
            reply = answer(history)  # drops the oldest exchanges itself when the conversation outgrows the model
        except _TooLong as err:
            history.pop()  # that message is refused; the conversation goes on
            print(f"too long: {err}", file=sys.stderr)
            continue
        history.append({"role": "assistant", "content": reply})
        print(f"stoic> {reply}")
    return 0


class _TooLong(ValueError):
    """One message longer than the model can read, with room left for its reply."""


def _fit(history, tokens, limit: int) -> None:
    """Drop the oldest exchanges (a message and its reply) until `tokens(history)` <= `limit`, saying so in one
    line; the newest message alone over `limit` raises _TooLong."""
    dropped = 0
    while tokens(history) > limit:
        _drop_oldest(history, f"that message is about {tokens(history)} tokens and this model reads at most {limit} "
                              "with room for its reply: send a shorter one")
        dropped += 1
    if dropped:
        print(f"(the conversation outgrew what the model can read, {limit} tokens: the oldest {dropped} "
              f"exchange{'s' if dropped > 1 else ''} left it)", file=sys.stderr)


def _drop_oldest(history, too_long: str) -> None:
    """Take the oldest exchange out of `history`; where only the newest message is left, raise _TooLong(too_long)."""
    if len(history) < 3:
        raise _TooLong(too_long)
    del history[:2]


def _chat_model(args):
    """answer(history) for the model at args.path (a .gguf file, adapters, or a merged folder); None if neither."""
    from pathlib import Path

    path = Path(args.path)
    if path.suffix == ".gguf":
        from .serve import load_gguf

        llm = load_gguf(path, n_ctx=2048)
        limit = llm.n_ctx() - args.max_new_tokens

        def tokens(history):  # the texts, and a margin for the template's markers and a default system prompt
            return sum(len(llm.tokenize(t["content"].encode(), add_bos=False)) + 8 for t in history) + 48

        def answer(history):
            _fit(history, tokens, limit)
            while True:
                try:
                    out = llm.create_chat_completion(messages=history, max_tokens=args.max_new_tokens,
                                                     repeat_penalty=1.1)
                    return out["choices"][0]["message"]["content"].strip()
                except ValueError as err:  # llama.cpp: "Requested tokens (N) exceed context window of 2048"
                    if "context window" not in str(err):
                        raise
                    _drop_oldest(history, f"that message is longer than this model reads ({llm.n_ctx()} tokens, "
                                          "with room for its reply): send a shorter one")  # the estimate was short
                    print("(the conversation outgrew what the model can read: the oldest exchange left it)",
                          file=sys.stderr)

        return answer
    if not ((path / "adapter_config.json").is_file() or (path / "config.json").is_file()):
        return None
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .chat import end_of_turn, render

    if (path / "adapter_config.json").is_file():
        from .models import adapter_base, model_source, load_adapters

        # the base by a name this machine resolves (adapters may come from another learner's machine); the
        # adapters checked before they are put on it: damaged, or trained on another base, is said in one line
        base = AutoModelForCausalLM.from_pretrained(model_source(adapter_base(path)), dtype=torch.float32)
        model = load_adapters(base, path)
    else:
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(path)
    stop = end_of_turn(tokenizer)
    stop_id = tokenizer.convert_tokens_to_ids(stop) if stop else tokenizer.eos_token_id

    limit = getattr(model.config.get_text_config(), "max_position_embeddings", 2048) - args.max_new_tokens

    def answer(history):
        _fit(history, lambda h: len(tokenizer(render(tokenizer, h), add_special_tokens=False).input_ids), limit)
        ids = tokenizer(render(tokenizer, history), return_tensors="pt", add_special_tokens=False)
        with torch.inference_mode():
            out = model.generate(**ids, max_new_tokens=args.max_new_tokens, do_sample=False,
                                 repetition_penalty=1.1, eos_token_id=stop_id)
        return tokenizer.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True).strip()

    return answer


if __name__ == "__main__":
    sys.exit(main())
