"""Hand-written complaint -> Stoic reply pairs for the fine-tuning workshop: the tables, and the code that checks them.

A small model fine-tuned on templated replies learns the template, not the philosophy,
so every reply was written individually, varies in structure, and is grounded in one
named Stoic idea. Replies credit ideas in plain words and never quote: "Epictetus opens his
handbook by sorting things into what is within our control and what is not", never "Epictetus
wrote: '...'". A small model learns the form of a quotation (name, colon, quote marks, maxim)
and not the quotations, so trained on quoting replies it fills the quote marks with invented
words. The ``QUOTES`` table stays, each passage with its exact source and translation, as
reference material: for checking quotations (``quotes.check_quotes``) and for knowledge
exercises. A row may still name a table key and put its quotation in the reply through the
``{q}`` slot (and learners' own data may carry quote and source fields, which
``validate_pair`` checks), but no built-in row does.

The tables are plain files in ``stoic_workshop/tables/``, edited by hand (UTF-8):

- ``areas.json``: the areas of life a complaint comes from, in order.
- ``ideas.json``: Stoic idea -> one sentence saying what it means.
- ``quotes.json``: key -> author, work, section, translation and text, each quotation exactly as
  printed in the named translation (a few are one clause of a longer sentence; Seneca's letters
  are cited by letter number only).
- ``pairs.jsonl``: one pair a line, grouped by area in stable id order: id, area, idea, complaint,
  reply, and an optional ``quote_key`` naming a ``quotes.json`` entry that fills the reply's ``{q}``.
- ``eval_prompts.json``: area -> complaints held out from training, so the fine-tuned model is
  judged on complaints it never saw.

Everything is deterministic and standard-library only, so workshop runs are reproducible
and the output can be wrapped into any dataset format later.
"""

import json
import random
import re
from functools import cache
from importlib.resources import files
from typing import NamedTuple

AUTHORS = ("Epictetus", "Seneca", "Marcus Aurelius")
QUOTE_SLOT = "{q}"
MIN_WORDS, MAX_WORDS = 40, 120
FIELDS = ("id", "area", "idea", "complaint", "reply", "quote", "source")
CHAT_MARKUP = re.compile(r"<\|[^>]*\|>|<(?:start|end)_of_turn>|<bos>|<eos>|</?s>|\[/?INST\]")
_WORD = re.compile(r"\w+(?:'\w+)*")
_ROW_KEYS = ("id", "area", "idea", "complaint", "reply")   # of a line of pairs.jsonl; "quote_key" is optional


class Quote(NamedTuple):
    author: str
    work: str
    section: str
    translation: str
    text: str

    @property
    def source(self) -> str:
        return f"{self.author}, {self.work} {self.section} ({self.translation})"


def _table(name):
    """One file of ``tables/``, parsed: a .json file whole, a .jsonl file as a list of its lines' objects."""
    text = (files(__package__) / "tables" / name).read_text(encoding="utf-8")
    if name.endswith(".jsonl"):
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return json.loads(text)


# The small tables load with the package (a few kilobytes); the pairs and eval prompts on first use.
AREAS = _table("areas.json")
IDEAS = _table("ideas.json")
QUOTES = {key: Quote(**fields) for key, fields in _table("quotes.json").items()}


@cache
def _rows():
    """pairs.jsonl, every row checked for its keys, so that a misspelt one is named rather than ignored."""
    rows = _table("pairs.jsonl")
    for number, row in enumerate(rows, start=1):
        missing = [key for key in _ROW_KEYS if key not in row]
        unknown = sorted(set(row) - set(_ROW_KEYS) - {"quote_key"})
        if missing or unknown:
            raise ValueError(f"tables/pairs.jsonl, row {number} (id {row.get('id', '?')!r}): "
                             f"missing {missing}, unknown {unknown}; keys are {list(_ROW_KEYS)} (+ 'quote_key')")
    return tuple(rows)


@cache
def _eval_prompts():
    return _table("eval_prompts.json")


def make_pairs(n=None, seed=3407):
    """Shuffle with a private RNG so that callers' global random state never changes the data."""
    pairs = _all_pairs()
    if n is None:
        n = len(pairs)
    if not 0 <= n <= len(pairs):
        raise ValueError(f"asked for {n} pairs but only {len(pairs)} exist")
    random.Random(seed).shuffle(pairs)
    return pairs[:n]


def eval_prompts():
    """Return a fresh list so callers can't mutate the held-out set.

    Example: `sw.eval_prompts()[0]`  # -> "My coworker keeps booking meetings over my lunch break."
    """
    return [prompt for prompts in _eval_prompts().values() for prompt in prompts]


def diversity(replies):
    """Numbers that fall sharply when a model (or a data generator) collapses onto a template.

    Example: `sw.diversity(["x y z", "x y z"])`  # -> {"distinct_1": 0.5, ..., "longest_shared_words": 3, ...}
    """
    token_lists = [split_words(reply) for reply in replies]
    stats = {f"distinct_{n}": _distinct_ratio(token_lists, n) for n in (1, 2, 3)}
    run = _longest_shared_run(token_lists)
    stats["longest_shared_words"] = len(run)
    stats["longest_shared_example"] = " ".join(run)
    return stats


def validate_pair(pair, row=None):
    """Fail loudly, naming the row and field, so a bad edit is found before training."""
    where = _describe(pair, row)
    for field in FIELDS:
        if field not in pair:
            raise ValueError(f"{where}: missing field '{field}'")
    for field in ("id", "area", "idea", "complaint", "reply"):
        value = pair[field]
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"{where}: field '{field}' must be non-empty text, got {value!r}")
    if pair["area"] not in AREAS:
        raise ValueError(f"{where}: field 'area' must be one of {AREAS}, got {pair['area']!r}")
    if pair["idea"] not in IDEAS:
        raise ValueError(
            f"{where}: field 'idea' must be one of {list(IDEAS)}, got {pair['idea']!r}"
        )
    n_words = len(split_words(pair["reply"]))
    if not MIN_WORDS <= n_words <= MAX_WORDS:
        raise ValueError(
            f"{where}: field 'reply' must have {MIN_WORDS}-{MAX_WORDS} words, got {n_words}"
        )
    for field in ("complaint", "reply"):
        markup = CHAT_MARKUP.search(pair[field])
        if markup:
            raise ValueError(
                f"{where}: field '{field}' must not contain chat markup, found {markup.group()!r}"
            )
    _validate_quote(pair, where)


def _validate_quote(pair, where):
    quote, source = pair["quote"], pair["source"]
    if quote is None and source is None:
        return
    if not quote or not source:
        raise ValueError(
            f"{where}: fields 'quote' and 'source' must both be set or both be None, "
            f"got quote={quote!r}, source={source!r}"
        )
    if not source.startswith(AUTHORS):
        raise ValueError(
            f"{where}: field 'source' must start with one of {list(AUTHORS)}, got {source!r}"
        )
    if quote not in pair["reply"]:
        raise ValueError(f"{where}: field 'reply' must contain its quote {quote!r} verbatim")


def _all_pairs():
    """Build fresh dicts on every call so callers may edit what they get back."""
    pairs = []
    for row in _rows():
        quote = QUOTES[row["quote_key"]] if row.get("quote_key") else None
        pairs.append({
            "id": row["id"],
            "area": row["area"],
            "idea": row["idea"],
            "complaint": row["complaint"],
            "reply": row["reply"].replace(QUOTE_SLOT, f'"{quote.text}"') if quote else row["reply"],
            "quote": quote.text if quote else None,
            "source": quote.source if quote else None,
        })
    return pairs


def _describe(pair, row):
    pair_id = pair.get("id", "?")
    return f"row {row} (id {pair_id!r})" if row is not None else f"pair {pair_id!r}"


def normalise_text(text):
    """Lower case with runs of whitespace made one space: the key under which two texts count as the same.

    Example: `normalise_text("  Stuck in  TRAFFIC ")`  # -> "stuck in traffic"
    """
    return " ".join(text.lower().split())


def split_words(text):
    """The lower-case words of `text` (an apostrophe inside a word keeps it whole): what word counts count.

    Example: `split_words("Don't panic, Lucilius.")`  # -> ["don't", "panic", "lucilius"]
    """
    return _WORD.findall(text.lower())


def _ngrams(tokens, n):
    return [tuple(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]


def _distinct_ratio(token_lists, n):
    grams = [gram for tokens in token_lists for gram in _ngrams(tokens, n)]
    return len(set(grams)) / len(grams) if grams else 0.0


def _longest_shared_run(token_lists):
    """Binary search on run length: a shared run of k words implies a shared run of k - 1."""
    best, low, high = (), 0, max(map(len, token_lists), default=0)
    while low < high:
        length = (low + high + 1) // 2
        run = _shared_ngram(token_lists, length)
        if run:
            best, low = run, length
        else:
            high = length - 1
    return best


def _shared_ngram(token_lists, n):
    """Return one n-gram found in two different replies, or () if there is none."""
    first_seen = {}
    for index, tokens in enumerate(token_lists):
        for gram in _ngrams(tokens, n):
            if first_seen.setdefault(gram, index) != index:
                return gram
    return ()
