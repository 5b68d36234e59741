"""Evaluation: did the fine-tune work, what did it cost, and what did it break?

Three ways to look, as on the slides, each with its blind spot:
- read the answers side by side (the only method that sees everything, and the slowest);
- score them: the keyword Stoic score (cheap, rewards words not meaning) and the meaning score (embeddings),
  beside two counts that catch a model imitating the form of Stoic writing: name-drops, and invented quotations
  (`quotes.check_quotes`: a quotation credited to a real Stoic that is not in the package's table);
- ask a judge model with a rubric (see `judging.py`: as good as the judge, so calibrate it first).
Plus the check the fine-tuning slides only warn about: catastrophic forgetting, measured as the change in
perplexity on ordinary English text that has nothing to do with Stoicism.

    table = answers(base, tok, prompts, name="base", out="eval/answers.csv")
    table = answers(tuned, tok, prompts, name="fine-tuned", out="eval/answers.csv")
    scored = score_answers(table)              # one row per prompt and model
    summary(scored)                            # means with bootstrap 95% intervals
    plot_scores(scored)
    forgetting({"base": base, "fine-tuned": tuned}, tok)

Answers are saved after every batch, so an interrupted run keeps what it generated, and a rerun only generates
what is missing: evaluation can be repeated (new lexicon, new judge) without generating again.
"""

from __future__ import annotations

import base64
import contextlib
import html
import io
import json
import os
from pathlib import Path

from .stoic_data import eval_prompts
from .dataset import DATA_DIR
from .generation import BATCH_SIZE, generate
from .clients import LocalJudge
from .quotes import check_quotes, highlight_quotes
from .score import highlight, meaning_score, name_drops, stoic_matches
from .settings import env

__all__ = ["answers", "read_answers", "score_answers", "bootstrap_ci", "summary", "plot_scores", "perplexity",
           "forgetting", "general_text", "side_by_side_scored", "report", "pick_judge"]


# ---------------------------------------------------------------- answers


def read_answers(path):
    """A saved answer table (CSV or JSONL), or None if there is none yet.

    Example: `sw.read_answers("eval/answers.csv")`  # -> DataFrame (a `prompt` column, one per model), or None
    """
    import pandas as pd

    path = Path(path)
    if not path.exists():
        return None
    table = pd.read_json(path, lines=True) if path.suffix == ".jsonl" else pd.read_csv(path, keep_default_na=False)
    if "prompt" not in table.columns:
        raise ValueError(f"{path} is not an answer table: it has no 'prompt' column (columns: {list(table.columns)})")
    return table


def _write(table, path: Path) -> None:
    """Write next to the target, then rename: a crash mid-write never leaves a truncated table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    if path.suffix == ".jsonl":
        table.to_json(part, orient="records", lines=True, force_ascii=False)
    else:
        table.to_csv(part, index=False)
    os.replace(part, path)


def answers(model, tokenizer, prompts: list[str] | None = None, *, name: str, before: str | None = None, out=None,
            chat: bool = True, max_new_tokens: int = 150, batch_size: int = BATCH_SIZE, system: str | None = None,
            fresh: bool = False, repetition_penalty: float = 1.1, no_repeat_ngram_size: int = 4,
            progress: bool = True):
    """Greedy answers of one model to the evaluation prompts, as a column `name` of the answer table.

    Default prompts: the held-out complaints, never trained on. With `out` (a .csv or .jsonl path) the table
    is read first and answers already there are reused, but only if the same model made them: a fingerprint of
    the model (its name, size and active adapter weights) is kept beside the table, so answers of adapters
    trained since are made again. `fresh=True` always regenerates. The file is rewritten after every batch.
    Greedy decoding makes the answers repeatable; generation stops at the model's end-of-turn token. The prompts are
    decoded `batch_size` at a time (`generate`: left padding; all 16 held-out complaints in one batch). Small
    models decoded greedily fall into loops ("the road is the road, and the road is the road"), so a mild
    repetition penalty and a ban on repeated 4-word runs are on for every model alike; 1.0 and 0 turn them off.
    `before` (a PEFT model): also the answers with its adapters off, as a column of that name. On a CPU both are
    decoded in the same batches (PEFT's mixed-adapter batch): a decoding step reads the weights once for the two
    answers of a prompt; the main job's 32 answers took 36.8 s against 46.0 s as two batches of 16
    (bench/results/main_job/mixed_batch.md), the same text but at a tie of greedy decoding (1 of 32). Elsewhere
    (a GPU model may carry Unsloth's own LoRA kernels, which know no mixed batch) one after the other, the first
    within `model.disable_adapter()`.
    Returns the whole table: a `prompt` column and one column per model answered so far.
    Example: `sw.answers(tuned, tok, name="fine-tuned", before="before", out="eval/answers.csv")`
    # -> a table: prompt, ..., before, fine-tuned
    """
    import contextlib

    import pandas as pd

    if isinstance(prompts, str):
        raise ValueError("prompts must be a non-empty list of strings; for one prompt write [prompt]")
    prompts = eval_prompts() if prompts is None else list(prompts)
    if not prompts:
        raise ValueError("prompts must be a non-empty list of strings")
    for taken in (name, before):
        if taken == "prompt":
            raise ValueError(f"name {taken!r} is taken by the prompt column; call the model something else")
    if before is not None and (before == name or not hasattr(model, "disable_adapter")):
        raise ValueError(f"before={before!r} names the answers of this PEFT model with its adapters off: it needs a "
                         f"model with adapters (load_adapters) and a name other than {name!r}")
    out = Path(out) if out is not None else None
    table = read_answers(out) if out is not None else None
    if table is None:
        table = pd.DataFrame({"prompt": prompts})
    else:
        missing = [p for p in prompts if p not in set(table["prompt"])]
        if missing:
            table = pd.concat([table, pd.DataFrame({"prompt": missing})], ignore_index=True)
    decoding = dict(repetition_penalty=repetition_penalty, no_repeat_ngram_size=no_repeat_ngram_size)
    made_by = {}
    if before is not None:
        with model.disable_adapter():
            made_by[before] = _fingerprint(model, max_new_tokens, system, chat, decoding)
    made_by[name] = _fingerprint(model, max_new_tokens, system, chat, decoding)
    makers = _makers(out)
    todo = {}
    for column_name, maker in made_by.items():
        again = fresh
        if column_name in table.columns and not fresh and makers.get(column_name) not in (None, maker):
            print(f"The saved answers of {column_name!r} were made by another model or settings (adapters trained "
                  "again?): generating them again.")
            again = True
        if column_name not in table.columns or again:
            table[column_name] = None
        table[column_name] = table[column_name].astype(object)
        column = table.set_index("prompt")[column_name]
        todo[column_name] = [p for p in prompts if not isinstance(column.get(p), str) or not column.get(p)]
        if todo[column_name] and len(todo[column_name]) < len(prompts) and progress:
            print(f"Answers: {column_name}: {len(prompts) - len(todo[column_name])} of {len(prompts)} saved in {out}, "
                  "reused.")
    if out is not None:
        _save_makers(out, makers | made_by)

    def decode(jobs: list[tuple[str, str]], adapter_names=None) -> None:
        replies = generate(model, tokenizer, [p for _, p in jobs], chat=chat, system=system,
                           max_new_tokens=max_new_tokens, batch_size=len(jobs), progress=progress,
                           desc=f"Answers: {' and '.join(dict.fromkeys(c for c, _ in jobs))}",
                           adapter_names=adapter_names, **decoding)
        for (column_name, prompt), reply in zip(jobs, replies):
            table.loc[table["prompt"] == prompt, column_name] = reply
        if out is not None:
            _write(table, out)

    if before is not None and next(model.parameters()).device.type == "cpu":
        jobs = [(c, p) for c in made_by for p in todo[c]]
        size = batch_size * len(made_by)  # a batch holds both answers of batch_size prompts
        training = model.training  # PEFT mixes adapters in a batch only in eval mode (greedy decoding is the same)
        model.eval()
        try:
            for start in range(0, len(jobs), size):
                part = jobs[start:start + size]
                decode(part, ["__base__" if c == before else model.active_adapter for c, _ in part])
        finally:
            model.train(training)
    else:
        for column_name in made_by:
            with model.disable_adapter() if column_name == before else contextlib.nullcontext():
                for start in range(0, len(todo[column_name]), batch_size):
                    decode([(column_name, p) for p in todo[column_name][start:start + batch_size]])
    if out is not None and not any(todo.values()):
        _write(table, out)
    return table[table["prompt"].isin(prompts)].reset_index(drop=True)


def _fingerprint(model, max_new_tokens: int, system, chat: bool, decoding: dict) -> str:
    """Who made an answer column: model name and size, the active LoRA weights, and the generation settings."""
    import hashlib

    digest = hashlib.sha1()
    config = getattr(model, "config", None)
    digest.update(f"{getattr(config, '_name_or_path', '')}|{getattr(config, 'model_type', '')}|"
                  f"{max_new_tokens}|{system}|{chat}|{sorted(decoding.items())}".encode())
    active = not any(getattr(m, "disable_adapters", False) for m in model.modules() if hasattr(m, "lora_A"))
    for name, weight in model.named_parameters():
        if "lora_" in name and active:
            digest.update(weight.detach().float().cpu().numpy().tobytes())
        elif "lora_" not in name:
            digest.update(f"{name}:{tuple(weight.shape)}".encode())
    return digest.hexdigest()[:16]


def _makers(out) -> dict:
    import json

    if out is None or not Path(f"{out}.models.json").exists():
        return {}
    return json.loads(Path(f"{out}.models.json").read_text())


def _save_makers(out, makers: dict) -> None:
    import json

    path = Path(f"{out}.models.json")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(makers, indent=1))


# ---------------------------------------------------------------- scores


def _models(table) -> list[str]:
    return [c for c in table.columns if c != "prompt"]


def score_answers(table, *, lexicon=None, meaning: bool = True):
    """One row per prompt and model: keyword score (per 100 words), matched words, meaning score, name-drops and
    invented quotations.

    The meaning score (embedding similarity to Stoic minus generic-advice references) uses the packaged
    MiniLM; `meaning=False` skips it where sentence-transformers is not installed. `invented` is 1.0 when the
    answer holds a quotation that is unverified or misattributed (`quotes.check_quotes`), listed in `quotes`.
    Example: `sw.score_answers(table, meaning=False)`  # -> DataFrame: prompt, model, answer, stoic_score, ..., quotes
    """
    import pandas as pd

    rows = []
    for model in _models(table):
        texts = [str(t) if isinstance(t, str) else "" for t in table[model]]
        meanings = meaning_score(texts) if meaning else [float("nan")] * len(texts)
        for prompt, text, m in zip(table["prompt"], texts, meanings):
            value, words = stoic_matches(text, lexicon=lexicon)
            passages = check_quotes(text)
            rows.append({"prompt": prompt, "model": model, "answer": text, "stoic_score": value,
                         "matches": ", ".join(words), "meaning_score": float(m), "words": len(text.split()),
                         "names": len(name_drops(text)),
                         "invented": float(any(p.verdict != "verified" for p in passages)),
                         "quotes": "; ".join(f"{p.verdict}: \"{p.text}\" ({p.credited or 'no one'})"
                                             for p in passages)})
    return pd.DataFrame(rows)


def bootstrap_ci(values, *, paired_with=None, confidence: float = 0.95, resamples: int = 2000, seed: int = 0):
    """Mean and its bootstrap confidence interval: (mean, low, high).

    With `paired_with`, the mean of `values - paired_with` row by row, which is the right interval for the
    same prompts answered by two models (each prompt's difficulty cancels out). Fewer than two values, or all
    values equal, give an interval as wide as the data allows (low = high when they are all the same).
    Example: `sw.bootstrap_ci([1, 2, 3, 4])`  # -> (2.5, 1.5, 3.5)
    """
    import numpy as np
    from scipy.stats import bootstrap

    x = np.asarray(values, dtype=float)
    if paired_with is not None:
        y = np.asarray(paired_with, dtype=float)
        if y.shape != x.shape:
            raise ValueError(f"paired values need the same length: {len(x)} vs {len(y)}")
        x = x - y
    x = x[~np.isnan(x)]
    if len(x) == 0:
        return float("nan"), float("nan"), float("nan")
    mean = float(x.mean())
    if len(x) < 2 or np.all(x == x[0]):
        return mean, mean, mean
    result = bootstrap((x,), np.mean, confidence_level=confidence, n_resamples=resamples, method="percentile",
                       rng=np.random.default_rng(seed))
    return mean, float(result.confidence_interval.low), float(result.confidence_interval.high)


def _interval(mean: float, low: float, high: float, digits: int = 2) -> str:
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def summary(scored, *, before: str | None = None, after: str | None = None, pairwise=None, label: str | None = None):
    """Before/after table: mean scores with bootstrap 95% intervals, the paired change, and the judge's win rate.

    `before`/`after` name the two models (default: the first and last in `scored`). `pairwise` is the table
    from `judge.compare`; its win rate counts a win only when the judge agreed in both answer orders.
    Example: `sw.summary(scored, before="base", after="tuned")`  # -> columns metric, base, tuned, change (paired)
    """
    import pandas as pd

    models = list(dict.fromkeys(scored["model"]))
    before = before or models[0]
    after = after or models[-1]
    a = scored[scored["model"] == before].set_index("prompt")
    b = scored[scored["model"] == after].set_index("prompt").reindex(a.index)
    rows = []
    for metric, title in (("stoic_score", "Stoic score (ideas per 100 words)"),
                          ("meaning_score", "Meaning score (Stoic minus generic similarity)"),
                          ("invented", "Invented quotations (share of answers)"),
                          ("names", "Name-drops per answer"),
                          ("words", "Answer length (words)")):
        if metric not in a or a[metric].isna().all():
            continue
        rows.append({"metric": title, before: _interval(*bootstrap_ci(a[metric])),
                     after: _interval(*bootstrap_ci(b[metric])),
                     "change (paired)": _interval(*bootstrap_ci(b[metric], paired_with=a[metric]))})
    if pairwise is not None and len(pairwise):
        label = label or after
        judged = pairwise[pairwise["error"].isna()]
        wins = (judged["winner"] == label).astype(float)
        failed = len(pairwise) - len(judged)
        inconsistent = int((judged["winner"] == "inconsistent").sum())
        notes = [f"{failed} failed, left out"] * bool(failed) + [
            f"{inconsistent} of {len(judged)} inconsistent across orders"] * bool(inconsistent)
        # a judge that contradicts itself on every pair gave no verdict: a win rate of 0 would read as "lost"
        value = (_interval(*bootstrap_ci(wins)) if len(judged) > inconsistent else
                 "no verdict: every judgement failed" if not len(judged) else
                 "no verdict: the judge contradicted itself on every pair")
        rows.append({"metric": f"Judge: share of pairs {label} wins in both orders"
                               + (f" ({'; '.join(notes)})" if notes else ""), before: "", after: "",
                     "change (paired)": value})
    return pd.DataFrame(rows)


def plot_scores(scored, path=None):
    """Score distributions per model, one panel per score: where the mass moved, not just the mean.

    Example: `sw.plot_scores(scored, "eval/scores.png")`  # -> a matplotlib Figure, also saved to the path
    """
    import matplotlib.pyplot as plt

    metrics = [m for m in ("stoic_score", "meaning_score") if not scored[m].isna().all()]
    titles = {"stoic_score": "Stoic score (keywords / 100 words)", "meaning_score": "Meaning score"}
    fig, axes = plt.subplots(1, len(metrics), figsize=(5.5 * len(metrics), 3.6), squeeze=False)
    models = list(dict.fromkeys(scored["model"]))
    for ax, metric in zip(axes[0], metrics):
        data = [scored.loc[scored["model"] == m, metric].dropna().to_numpy() for m in models]
        ax.boxplot(data, vert=False, widths=0.5, showmeans=True)
        for i, values in enumerate(data, start=1):
            jitter = [i + 0.12 * ((k * 7919) % 11 - 5) / 5 for k in range(len(values))]
            ax.scatter(values, jitter, s=14, alpha=0.6)
        ax.set_yticks(range(1, len(models) + 1), models)
        ax.set_title(titles[metric])
        ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


# ---------------------------------------------------------------- forgetting


def general_text() -> str:
    """Ordinary English with no Stoicism in it (data/general_english.txt): what fine-tuning must not break."""
    return (DATA_DIR / "general_english.txt").read_text(encoding="utf-8")


def perplexity(model, tokenizer, text: str | None = None, *, window: int = 512, stride: int = 256,
               cache: bool = True) -> float:
    """Perplexity of `text` with a sliding window: every token is predicted with up to `window` tokens of context.

    Lower is better; a fine-tune that raises it a lot on general text has started to forget plain English.
    On the CPU, a value is kept in the model cache (`cache_dir()/perplexity`), keyed by a checksum of the weights
    that compute it (adapters switched off or merged do not count), the model's settings, the tokens and the
    window: the same weights on the same text are measured once per machine (a rerun, the base model of every run).
    `cache=False` always measures. Example: `sw.perplexity(model, tok)`  # -> a float, on the general English text
    """
    text = general_text() if text is None else text
    ids = tokenizer(text, return_tensors="pt", add_special_tokens=True).input_ids
    if ids.shape[1] < 2:
        raise ValueError("the text is too short for perplexity: it needs at least two tokens")
    device = next(model.parameters()).device
    kept = _kept_perplexity(model, ids, window, stride) if cache and device.type == "cpu" else None
    if kept is not None and kept.exists():
        with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
            return float(json.loads(kept.read_text(encoding="utf-8"))["perplexity"])
    value = _measure_perplexity(model, ids, window, stride, device)
    if kept is not None:
        with contextlib.suppress(OSError):  # a cache that cannot be written only costs the next run the time
            kept.parent.mkdir(parents=True, exist_ok=True)
            part = kept.with_suffix(f".{os.getpid()}.part")
            part.write_text(json.dumps({"perplexity": value, "tokens": int(ids.shape[1]), "window": window,
                                        "stride": stride, "model": _model_name(model)}), encoding="utf-8")
            part.replace(kept)
    return value


def _measure_perplexity(model, ids, window: int, stride: int, device) -> float:
    import math

    import torch

    total, count, previous_end = 0.0, 0, 0
    for start in range(0, ids.shape[1], stride):
        end = min(start + window, ids.shape[1])
        chunk = ids[:, start:end].to(device)
        skip = max(0, previous_end - start)  # already scored in the previous window: context only
        with torch.inference_mode():
            nll, scored = _window_loss(model, chunk, skip)
        total += nll
        count += scored
        previous_end = end
        if end == ids.shape[1]:
            break
    return math.exp(total / count)


def _kept_perplexity(model, ids, window: int, stride: int) -> Path | None:
    """Where the perplexity of these weights on these tokens is kept, or None where a checksum cannot tell them
    apart (a quantized model keeps part of its weights outside its tensors)."""
    import hashlib

    import torch
    import transformers

    from .models import cache_dir

    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    if getattr(inner, "hf_quantizer", None) is not None or getattr(inner, "config", None) is None:
        return None
    config = {k: v for k, v in inner.config.to_dict().items()
              if not k.startswith("_") and k not in ("transformers_version", "dtype", "torch_dtype")}
    digest = hashlib.sha256(json.dumps(
        ["perplexity v1", type(inner).__name__, config, inner.config._attn_implementation, window, stride,
         torch.__version__, transformers.__version__], sort_keys=True, default=str).encode())
    digest.update(ids.numpy().tobytes())
    off = set()  # adapter weights that do not compute: switched off, merged into the base, or not active
    for module in model.modules():
        if not hasattr(module, "disable_adapters") or not hasattr(module, "adapter_layer_names"):
            continue
        on = () if module.disable_adapters or getattr(module, "merged", False) else tuple(module.active_adapters)
        for attr in module.adapter_layer_names:
            for adapter, part in getattr(module, attr, {}).items():
                if adapter not in on:
                    off.update(map(id, part.parameters() if isinstance(part, torch.nn.Module) else [part]))
        if on:
            digest.update(repr([(a, module.scaling.get(a)) for a in on if a in module.scaling]).encode())
    for tensor in [*model.parameters(), *model.buffers()]:
        if id(tensor) in off:
            continue
        data = tensor.detach().contiguous().reshape(-1)
        digest.update(f"{data.dtype}{tuple(tensor.shape)}".encode())
        digest.update(data.view(torch.uint8).numpy())
    return cache_dir() / "perplexity" / f"{digest.hexdigest()[:32]}.json"


def _model_name(model) -> str:
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    return str(getattr(getattr(inner, "config", None), "_name_or_path", "") or type(inner).__name__)


def _window_loss(model, chunk, skip: int, *, whole: bool = False) -> tuple[float, int]:
    """Summed next-token loss of `chunk` (1 x n) over its tokens from index max(skip, 1) on, and how many.

    The output layer (SmolLM2: 49,152 x 576, a fifth of the model's work per token) is applied only to the positions
    whose next token is scored, not to the context a sliding window repeats: the same loss to float rounding, about
    half the output layer's work. A model whose backbone or head this cannot reach (a logit soft-cap, a head bias)
    takes the model's own loss over the whole window, as does `whole=True` (how it was done before: bench/main_job.py).
    """
    import torch.nn.functional as F

    first = max(skip, 1)  # the first token scored: the ones before were scored in the previous window
    scored = chunk.shape[1] - first
    inner = model.get_base_model() if hasattr(model, "get_base_model") else model
    backbone = getattr(inner, getattr(inner, "base_model_prefix", ""), None)
    head = inner.get_output_embeddings() if hasattr(inner, "get_output_embeddings") else None
    config = getattr(inner, "config", None)
    softcap = getattr(config.get_text_config(), "final_logit_softcapping", None) if config is not None else None
    reachable = backbone is not None and backbone is not inner and head is not None
    if whole or not reachable or getattr(head, "bias", None) is not None or softcap:
        labels = chunk.clone()
        labels[:, :skip] = -100
        return float(model(input_ids=chunk, labels=labels).loss) * scored, scored
    hidden = backbone(input_ids=chunk, use_cache=False).last_hidden_state[0, first - 1:-1]
    logits = head(hidden).float()
    return float(F.cross_entropy(logits, chunk[0, first:], reduction="sum")), scored


def forgetting(models, tokenizer, text: str | None = None, *, window: int = 512, cache: bool = True):
    """Perplexity on general text per model, and its change in percent against the first.

    `models` is a dict of name -> model, or a PEFT model: then "before" is the same model with its adapters
    switched off (`disable_adapter`) and "fine-tuned" with them on, so only one copy sits in memory.
    Each perplexity measured before on the same weights and text is read back (see `perplexity`; `cache=False`).
    Example: `sw.forgetting({"base": base, "fine-tuned": tuned}, tok)`  # -> DataFrame: model, perplexity, change %
    """
    import pandas as pd

    if hasattr(models, "disable_adapter"):
        with models.disable_adapter():
            before = perplexity(models, tokenizer, text, window=window, cache=cache)
        values = {"before": before, "fine-tuned": perplexity(models, tokenizer, text, window=window, cache=cache)}
    else:
        values = {name: perplexity(m, tokenizer, text, window=window, cache=cache) for name, m in models.items()}
    first = next(iter(values.values()))
    return pd.DataFrame([{"model": name, "perplexity": round(v, 2), "change %": round(100 * (v / first - 1), 1)}
                         for name, v in values.items()])


# ---------------------------------------------------------------- reading and reporting


def side_by_side_scored(scored, *, lexicon=None, width: str = "28em"):
    """Complaint | one column per model with matched keywords highlighted and its scores underneath.

    Example: `sw.side_by_side_scored(sw.score_answers(table))`  # -> a pandas Styler the notebook shows as HTML
    """
    import pandas as pd

    from .show import readable_table

    models = list(dict.fromkeys(scored["model"]))
    rows = []
    for prompt, group in scored.groupby("prompt", sort=False):
        row = {"Complaint": html.escape(prompt)}
        for m in models:
            r = group[group["model"] == m]
            if r.empty:
                row[m] = ""
                continue
            r = r.iloc[0]
            meaning = "" if r["meaning_score"] != r["meaning_score"] else f" · meaning {r['meaning_score']:+.3f}"
            invented = " · <b>invented quotation</b>" if r.get("invented", 0) else ""
            row[m] = (highlight_answer(r["answer"], lexicon)
                      + f"<br><small>Stoic score {r['stoic_score']:.1f}{meaning}{invented}</small>")
        rows.append(row)
    return readable_table(pd.DataFrame(rows), width).set_table_styles(
        [{"selector": "th", "props": [("text-align", "left")]},
         {"selector": "mark", "props": [("background", IDEA_COLOUR)]},
         {"selector": "mark.quote-unverified, mark.quote-misattributed",
          "props": [("background", INVENTED_COLOUR)]},
         {"selector": "mark.quote-verified", "props": [("background", VERIFIED_COLOUR)]}], overwrite=False)


IDEA_COLOUR, INVENTED_COLOUR, VERIFIED_COLOUR = "#ffe08a", "#f7b0b0", "#bfe3c0"  # yellow, red, green


def highlight_answer(text: str, lexicon=None) -> str:
    """Stoic ideas in yellow; quotations in their own colour: red when invented or misattributed, green when real."""
    return highlight_quotes(text, between=lambda part: highlight(part, lexicon=lexicon), titles=True)


def _figure_tag(fig) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return f'<img alt="figure" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def report(path, scored, *, summary_table=None, judged=None, pairwise=None, forgetting_table=None, energy=None,
           title: str = "Stoic fine-tune: evaluation report", extra: dict | None = None) -> Path:
    """One standalone HTML file a person can open anywhere: summary, plots, tables and every answer.

    `extra`: more sections, {heading: DataFrame}, placed before the answers (the main job adds sizes and timings).
    Example: `sw.report("eval/report.html", scored, energy=energy)`  # -> Path("eval/report.html")
    """
    import matplotlib.pyplot as plt

    def table(df) -> str:
        return df.to_html(index=False, escape=True, border=0, classes="t")

    parts = [f"<h1>{html.escape(title)}</h1>"]
    summary_table = summary(scored, pairwise=pairwise) if summary_table is None else summary_table
    parts += ["<h2>Before and after</h2>", table(summary_table),
              "<p>Intervals are bootstrap 95% confidence intervals over the evaluation prompts.</p>"]
    fig = plot_scores(scored)
    parts += [_figure_tag(fig)]
    plt.close(fig)
    if judged is not None:
        parts += ["<h2>Judge scores (1-5)</h2>", table(judged.drop(columns=["answer"], errors="ignore"))]
    if pairwise is not None:
        parts += ["<h2>Pairwise verdicts</h2>", table(pairwise)]
    if forgetting_table is not None:
        parts += ["<h2>Forgetting: perplexity on general English</h2>", table(forgetting_table)]
    if energy is not None:
        parts += ["<h2>Energy</h2>", table(energy.label().table()), "<h3>Per phase</h3>", table(energy.report()),
                  f"<p>{html.escape(str(energy))}</p>"]
    for heading, frame in (extra or {}).items():
        parts += [f"<h2>{html.escape(heading)}</h2>", table(frame)]
    parts += ["<h2>Side by side</h2>",
              '<p>Highlighted: <mark>Stoic ideas</mark> (counted by the Stoic score), '
              '<mark class="quote-unverified">quotations that are invented or credited to the wrong person</mark>, '
              '<mark class="quote-verified">real quotations</mark> (checked against the package\'s table).</p>',
              side_by_side_scored(scored).to_html()]
    style = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;margin:1em 0}td,th{border-bottom:1px solid #ddd;padding:.4em .6em;"
             f"vertical-align:top;text-align:left}}mark{{background:{IDEA_COLOUR}}}img{{max-width:100%}}"
             f"mark.quote-unverified,mark.quote-misattributed{{background:{INVENTED_COLOUR}}}"
             f"mark.quote-verified{{background:{VERIFIED_COLOUR}}}")
    page = (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body>{''.join(parts)}</body></html>")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    part.write_text(page, encoding="utf-8")
    os.replace(part, path)
    return path


# ---------------------------------------------------------------- the judge notebook 3 uses


def pick_judge(kind: str | None = None, *, model=None, tokenizer=None, verbose: bool = True):
    """A judge for this machine, and a line saying which one it is (a judge is only as good as its model).

    kind:
    - "openai": a model behind OPENAI_BASE_URL (default: OpenAI's API), named by STOIC_JUDGE_MODEL (default
      gpt-4o-mini); the key from OPENAI_API_KEY or Colab's secrets, never shown.
    - "local-server": the packaged SmolLM2-135M-Instruct behind llama.cpp's server on 127.0.0.1, the
      offline default. It returns valid JSON (the server enforces the schema) but is a weak judge.
    - "local": `model` and `tokenizer` (a transformers chat model) judge in this process; a PEFT model judges
      with its adapters switched off.
    None picks the first that works in that order. A local server stops with `judge.close()` or at exit.
    Example: `judge = sw.pick_judge("local", model=chat, tokenizer=chat_tok)`  # prints "Judge: ..."; returns the judge
    """
    import atexit

    from .clients import OPENAI_URL, PLACEHOLDER_KEY, OpenAIJudge, stored_key

    if kind is None:
        import importlib.util

        hosted = stored_key("OPENAI_API_KEY") not in ("", PLACEHOLDER_KEY)  # asking only: no key is no fault here
        if os.environ.get("OPENAI_BASE_URL", "").strip() or hosted:
            kind = "openai"
        elif importlib.util.find_spec("llama_cpp") is not None:
            kind = "local-server"
        else:
            kind = "local"
    if kind == "openai":
        judge = OpenAIJudge(model=env("STOIC_JUDGE_MODEL"))
        judge.label = (f"{judge.model}, hosted (OpenAI API)" if judge.base_url == OPENAI_URL else
                       f"{judge.model} at {judge.base_url} (from $OPENAI_BASE_URL; the model from $STOIC_JUDGE_MODEL)")
        judge.close = lambda: None
    elif kind == "local-server":
        from .serve import llama_server

        stack = contextlib.ExitStack()
        server = stack.enter_context(llama_server("smollm2-135m-instruct"))
        atexit.register(stack.close)
        judge = OpenAIJudge(server.base_url, model=server.model)
        judge.label = (f"{server.model} on a local llama.cpp server (offline default: a 135M judge is weak; "
                       "read its calibration)")
        judge.close = stack.close
    elif kind == "local":
        if model is None or tokenizer is None:
            raise ValueError("pick_judge('local') needs model= and tokenizer= of a chat model to judge with")
        judge = _PlainJudge(model, tokenizer)
        judge.label = (f"{judge.name} in this process (transformers), adapters off: a model judging its own "
                       "family is biased; read its calibration")
        judge.close = lambda: None
    else:
        raise ValueError(f"kind must be 'openai', 'local-server', 'local' or None, got {kind!r}")
    if verbose:
        print(f"Judge: {judge.label}")
    return judge



class _PlainJudge(LocalJudge):
    """A LocalJudge that switches a PEFT model's adapters off while it judges."""

    def ask(self, messages, schema=None, attempt=0):
        off = getattr(self.model, "disable_adapter", None)
        with off() if off else contextlib.nullcontext():
            return super().ask(messages, schema, attempt)
