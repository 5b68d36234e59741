"""Tests for the synthetic complaint -> Stoic reply data.

The data is hand-written, so these tests guard what a careless edit could break: determinism,
coverage of areas and ideas, replies that credit ideas without quoting, and above all template collapse.
"""

import random
import re

import pytest

from stoic_workshop import stoic_data as data
from stoic_workshop.stoic_data import (
    AREAS,
    AUTHORS,
    IDEAS,
    diversity,
    eval_prompts,
    make_pairs,
    validate_pair,
)

WORD = re.compile(r"\w+(?:'\w+)*")


def normalise(text):
    return " ".join(text.lower().split())


# A sentence ends at . ! or ? (before or after a closing quote mark) followed by a space.
SENTENCE_END = re.compile(r"(?<=[.!?])\s+|(?<=[.!?][\"”’])\s+")
PHILOSOPHER = re.compile(r"\b(?:Epictetus|Seneca|Marcus|Aurelius)\b")
QUOTE_MARK = re.compile(r"[\"“”‘]|(?<!\w)'|(?<=[^\Ws])'(?!\w)")   # not the possessive in "Epictetus' lectures"
SAYING = re.compile(r"\b(?:put it|puts it|said|says|wrote|writes|told|tells|insisted|argued|asked|taught|added|"
                    r"warned|remarked|observed|noted)\s*[,:]", re.IGNORECASE)
OTHER_THINKERS = re.compile(r"\b(?:Zeno|Chrysippus|Cleanthes|Musonius|Cato|Socrates|Plato|Aristotle|Epicurus)\b")


@pytest.fixture(scope="module")
def pairs():
    return make_pairs()


def good_pair():
    return dict(make_pairs(n=1)[0])


# --- determinism -------------------------------------------------------------------------------

def test_same_seed_gives_identical_output():
    assert make_pairs(seed=7) == make_pairs(seed=7)
    assert make_pairs(n=20, seed=7) == make_pairs(seed=7)[:20]


def test_different_seed_gives_different_order_but_same_content():
    a, b = make_pairs(seed=1), make_pairs(seed=2)
    assert [p["id"] for p in a] != [p["id"] for p in b]
    assert sorted(a, key=lambda p: p["id"]) == sorted(b, key=lambda p: p["id"])


def test_global_random_state_is_not_used():
    random.seed(0)
    first = make_pairs(n=10)
    random.seed(12345)
    assert make_pairs(n=10) == first


def test_ids_are_stable_across_seeds(pairs):
    # The id names the row, not its shuffled position, so it must map to the same content.
    by_id = {p["id"]: p for p in make_pairs(seed=99)}
    assert all(by_id[p["id"]] == p for p in pairs)
    assert all(re.fullmatch(r"[a-z_]+-\d{3}", p["id"]) for p in pairs)


def test_n_larger_than_available_says_how_many_exist(pairs):
    with pytest.raises(ValueError, match=f"only {len(pairs)} exist"):
        make_pairs(n=len(pairs) + 1)


# --- coverage ----------------------------------------------------------------------------------

def test_at_least_150_unique_complaints_and_replies(pairs):
    assert len(pairs) >= 150
    assert len({normalise(p["complaint"]) for p in pairs}) == len(pairs)
    assert len({normalise(p["reply"]) for p in pairs}) == len(pairs)
    assert len({p["id"] for p in pairs}) == len(pairs)


def test_at_least_10_areas_with_8_pairs_each(pairs):
    assert len(AREAS) >= 10
    for area in AREAS:
        assert sum(p["area"] == area for p in pairs) >= 8, area


def test_every_idea_is_used_and_spread(pairs):
    # 160 rows over 9 ideas is about 18 each; at least 10 each keeps any one idea from dominating.
    for idea in IDEAS:
        assert sum(p["idea"] == idea for p in pairs) >= 10, idea


def test_every_pair_validates(pairs):
    for row, pair in enumerate(pairs):
        validate_pair(pair, row=row)


def test_reply_word_counts_within_40_to_120(pairs):
    counts = [len(WORD.findall(p["reply"])) for p in pairs]
    assert min(counts) >= 40
    assert max(counts) <= 120


def test_no_chat_markup_in_any_text(pairs):
    for p in pairs:
        for text in (p["complaint"], p["reply"]):
            assert "<start_of_turn>" not in text
            assert "<|" not in text


# --- crediting ideas without quoting ------------------------------------------------------------
# A 135M model fine-tuned on replies that quoted ("Marcus Aurelius wrote: '...'") learned the form (name, colon,
# quote marks, maxim) and filled it with invented words. So the built-in replies credit the idea in plain words
# ("Seneca wrote that...", "Epictetus opens his handbook by sorting...") and never quote; QUOTES stays as reference
# material for checking quotations. tests/test_quotes.py checks the same with check_quotes: no passage at all.

def test_no_built_in_reply_carries_a_quote_or_source(pairs):
    assert all(p["quote"] is None and p["source"] is None for p in pairs)
    assert not any("{q}" in p["reply"] for p in pairs)


def test_no_sentence_naming_a_philosopher_quotes_him(pairs):
    # Quote marks stay allowed for the user's own words ("I told you so") in sentences that name nobody; a sentence
    # that names a philosopher must carry no quote marks, no colon and no "X said," / "X put it," (his words without
    # the marks are still a quotation): reported speech with "that" or a description of the practice instead.
    for p in pairs:
        for sentence in SENTENCE_END.split(p["reply"]):
            if PHILOSOPHER.search(sentence):
                assert not QUOTE_MARK.search(sentence), (p["id"], sentence)
                assert ":" not in sentence, (p["id"], sentence)
                assert not SAYING.search(sentence), (p["id"], sentence)


def test_every_reply_names_one_of_the_three_philosophers_or_none(pairs):
    # The course's three authors only (the ideas and the QUOTES table are theirs), at most one per reply, so that the
    # model does not learn to stack names; about half the replies name one, the rest speak of "the Stoics" or no one.
    for p in pairs:
        named = [author for author in AUTHORS if author.split()[0] in p["reply"]]
        assert len(named) <= 1, (p["id"], named)
        assert not OTHER_THINKERS.search(p["reply"]), p["id"]
    assert {author for p in pairs for author in AUTHORS if author.split()[0] in p["reply"]} == set(AUTHORS)


# --- template collapse -------------------------------------------------------------------------

def test_all_replies_are_diverse(pairs):
    # Measured on the 160 hand-written replies: distinct_1 = 0.191, distinct_2 = 0.756,
    # distinct_3 = 0.966 (0.739 / 0.937 while 77 replies still quoted, a quotation used twice counting
    # as repeats). The thresholds sit a little under those, so a few new rows can't trip them, but
    # collapse does (measured on the quoting data): swapping 40 of the 160 replies for one fixed
    # sentence template ("I hear you. <complaint> That sounds hard. As <author> said, ...")
    # measured distinct_2 = 0.657 and distinct_3 = 0.821, and all-template replies 0.253 / 0.313.
    stats = diversity([p["reply"] for p in pairs])
    assert stats["distinct_2"] > 0.70
    assert stats["distinct_3"] > 0.90


def test_no_long_run_shared_between_replies(pairs):
    # Measured: the longest run two replies share is 6 words ("living according to nature for a"),
    # as it was with the quotations removed before replies stopped quoting (with them: 35 words, a
    # quotation used in two replies). Replies crediting the same idea must not copy each other's
    # phrasing either: more than 8 would mean copy-pasted phrasing.
    stats = diversity([p["reply"] for p in pairs])
    assert stats["longest_shared_words"] <= 8, stats["longest_shared_example"]


def test_replies_do_not_share_opening_words(pairs):
    # Four words is already a visible template ("I hear you. Epictetus ..."); no opening repeats.
    openings = [" ".join(WORD.findall(p["reply"].lower())[:4]) for p in pairs]
    assert len(set(openings)) == len(openings)


# --- diversity() on hand-made inputs -----------------------------------------------------------

def test_diversity_counts_distinct_ngrams():
    # Tokens: ["a", "b", "a"] and ["a", "c"].
    # Unigrams: a, b, a, a, c -> 3 distinct of 5 = 0.6.
    # Bigrams: (a b), (b a), (a c) -> 3 distinct of 3 = 1.0 (bigrams never cross replies).
    # Trigrams: (a b a) only -> 1 of 1 = 1.0.
    stats = diversity(["A b a", "a C"])
    assert stats["distinct_1"] == pytest.approx(0.6)
    assert stats["distinct_2"] == pytest.approx(1.0)
    assert stats["distinct_3"] == pytest.approx(1.0)


def test_diversity_of_identical_replies_is_half():
    # Two copies of "x y z": 6 unigrams / 3 distinct, 4 bigrams / 2 distinct, 2 trigrams / 1.
    stats = diversity(["x y z", "x y z"])
    assert stats["distinct_1"] == pytest.approx(0.5)
    assert stats["distinct_2"] == pytest.approx(0.5)
    assert stats["distinct_3"] == pytest.approx(0.5)
    assert stats["longest_shared_words"] == 3


def test_longest_shared_run_finds_exact_four_word_overlap():
    # "take a deep breath" (4 words) appears in both; "breath now" vs "breath and" differ after it,
    # and "first" / "please" differ before it, so the answer is exactly 4.
    replies = [
        "First take a deep breath now and wait.",
        "Please, take a deep breath and count to ten.",
    ]
    stats = diversity(replies)
    assert stats["longest_shared_words"] == 4
    assert stats["longest_shared_example"] == "take a deep breath"


def test_longest_shared_run_ignores_repeats_inside_one_reply():
    # "one two three" repeats within the first reply only; the replies share just "one".
    stats = diversity(["one two three and one two three", "one four"])
    assert stats["longest_shared_words"] == 1
    assert stats["longest_shared_example"] == "one"


def test_diversity_of_nothing_shared_or_empty():
    assert diversity(["alpha beta", "gamma delta"])["longest_shared_words"] == 0
    assert diversity([]) == {
        "distinct_1": 0.0,
        "distinct_2": 0.0,
        "distinct_3": 0.0,
        "longest_shared_words": 0,
        "longest_shared_example": "",
    }


# --- eval prompts (the split and the messages shape are tested in tests/test_dataset.py) ----------

def test_eval_prompts_are_held_out(pairs):
    prompts = eval_prompts()
    assert len(prompts) >= 12
    assert len({normalise(p) for p in prompts}) == len(prompts)
    training = {normalise(p["complaint"]) for p in pairs}
    assert not training & {normalise(p) for p in prompts}
    prompts.clear()
    assert eval_prompts(), "eval_prompts() must hand out a fresh list"


# --- the tables' files ---------------------------------------------------------------------------

def test_a_misspelt_key_in_pairs_jsonl_is_named(monkeypatch):
    row = dict(make_pairs(n=1)[0], complaints="typo")
    del row["complaint"], row["quote"], row["source"]
    monkeypatch.setattr(data, "_table", lambda name: [row])
    data._rows.cache_clear()
    try:
        with pytest.raises(ValueError, match=r"row 1 .*missing \['complaint'\], unknown \['complaints'\]"):
            make_pairs()
    finally:
        data._rows.cache_clear()


# --- validate_pair error messages --------------------------------------------------------------

def test_validate_missing_field_names_row_and_field():
    pair = good_pair()
    del pair["source"]
    with pytest.raises(ValueError, match=r"row 7 .*missing field 'source'"):
        validate_pair(pair, row=7)


def test_validate_empty_text_names_row_and_field():
    pair = good_pair()
    pair["complaint"] = "   "
    with pytest.raises(ValueError, match=r"row 3 .*field 'complaint' must be non-empty"):
        validate_pair(pair, row=3)


def test_validate_short_reply_reports_word_count():
    pair = dict(good_pair(), reply="Too short.", quote=None, source=None)
    with pytest.raises(ValueError, match=r"row 0 .*field 'reply' must have 40-120 words, got 2"):
        validate_pair(pair, row=0)


def test_validate_unknown_area_and_idea_without_row_uses_id():
    pair = dict(good_pair(), id="x-001", area="space travel")
    with pytest.raises(ValueError, match=r"pair 'x-001': field 'area' must be one of"):
        validate_pair(pair)
    pair = dict(good_pair(), idea="hedonism")
    with pytest.raises(ValueError, match=r"field 'idea' must be one of .*'hedonism'"):
        validate_pair(pair, row=2)


def test_validate_rejects_chat_markup_and_misattributed_quote():
    pair = good_pair()
    pair["reply"] = pair["reply"] + " <|im_end|>"
    with pytest.raises(ValueError, match=r"field 'reply' must not contain chat markup"):
        validate_pair(pair, row=1)
    words = " ".join(["word"] * 45)
    pair = dict(good_pair(), reply=f'{words} "Be kind."', quote="Be kind.", source="Plato, Laws")
    with pytest.raises(ValueError, match=r"row 4 .*field 'source' must start with one of"):
        validate_pair(pair, row=4)
