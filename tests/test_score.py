"""Tests for the Stoic scores: keyword counting by hand, and the meaning score with the real packaged MiniLM."""

import json
import re
from pathlib import Path

import pytest

from stoic_workshop.stoic_data import split_words
from stoic_workshop.score import (LEXICON, add_words, highlight, load_references, meaning_score, name_drops,
                                  stoic_matches, stoic_score)

DATA = Path(__file__).resolve().parent.parent / "data"


# ---------------------------------------------------------------- keyword score


def test_score_is_matches_per_100_words():
    text = "We cannot choose the weather on the day of the trip, but we can accept it with courage and humour."
    assert len(split_words(text)) == 20
    # 2 matches ("accept", "courage") in 20 words -> 2 / 20 * 100 = 10.0
    assert stoic_matches(text) == (10.0, ["accept", "courage"])


@pytest.mark.parametrize("text", ["", "   \n", "The bus was late and the coffee was cold."])
def test_no_words_or_no_matches_score_zero(text):
    assert stoic_score(text) == 0.0


def test_keywords_not_meaning():
    # The documented limit: 3 matches in 3 words -> 100.0, a nonsense answer beats any real one.
    assert stoic_score("Virtue virtue control") == 100.0


@pytest.mark.parametrize("word", ["virtues", "virtuous", "accepts", "accepted", "accepting", "acceptance",
                                  "judges", "judged", "judging", "judgement", "judgment", "controlled",
                                  "controlling", "indifferents", "reasoning", "fated"])
def test_inflections_match(word):
    assert stoic_matches(f"It was {word} here.")[1] == [word]


@pytest.mark.parametrize("word", ["signature", "reasonable", "unreasonable", "natural", "acceptable",
                                  "prejudge", "controller", "fatal"])
def test_whole_words_only(word):
    # "reasonable" is everyday English (a reasonable price), so only reason/reasons/reasoned/reasoning count.
    assert stoic_matches(f"It was {word} here.")[1] == []


def test_phrase_counts_once_and_spans_whitespace():
    # "outside your control" is 1 match, not 2 (the phrase wins over its word "control"): 1 / 5 words -> 20.0
    assert stoic_matches("It is outside your control.") == (20.0, ["outside your control"])
    assert stoic_matches("outside\n  your\tcontrol")[1] == ["outside\n  your\tcontrol"]
    # "not up to us" is one phrase, not "not up to" + "up to us": 1 / 7 words -> 14.29
    score, found = stoic_matches("The weather is not up to us.")
    assert found == ["not up to us"] and score == pytest.approx(100 / 7)


def test_case_insensitive_and_matches_kept_as_written():
    assert stoic_score("VIRTUE matters") == stoic_score("virtue matters") == 50.0  # 1 match / 2 words
    # 3 matches in 5 words -> 60.0, in text order, spelled as in the text
    assert stoic_matches("VIRTUE and Nature accepted it.") == (60.0, ["VIRTUE", "Nature", "accepted"])


def test_names_are_not_ideas():
    # an invented quotation from a real Stoic must not raise the score: names are counted apart
    text = "Marcus Aurelius wrote, as Seneca and the Stoics did: accept it."
    assert stoic_matches(text) == (pytest.approx(100 / 11), ["accept"])  # 1 idea in 11 words
    assert name_drops(text) == ["Marcus Aurelius", "Seneca", "Stoics"]
    assert name_drops("No philosophers here, only a stoical face.") == []  # "stoical" is another word


def test_same_answer_twice_scores_the_same():
    text = "The delay is outside your control. Your reply is up to you, so answer with patience."
    assert stoic_score(text + " " + text) == pytest.approx(stoic_score(text))


def test_highlight_escapes_html():
    text = "<script>alert('virtue')</script> & nature"
    assert highlight(text) == ("&lt;script&gt;alert(&#x27;<mark>virtue</mark>&#x27;)&lt;/script&gt; &amp; "
                               "<mark>nature</mark>")
    assert highlight("no keywords <b>") == "no keywords &lt;b&gt;"


def test_adding_a_keyword_changes_the_score():
    text = "A serene mind is a steady mind."
    assert stoic_score(text) == 0.0
    mine = add_words("serenity", "serene")
    assert stoic_score(text, lexicon=mine) == pytest.approx(100 / 7)  # 1 match / 7 words -> 14.29
    assert stoic_score(text, lexicon=LEXICON | {"serenity": ("serene",)}) == pytest.approx(100 / 7)
    assert "serenity" not in LEXICON  # the shared lexicon is never changed
    assert add_words("virtue", "kindness")["virtue"] == (*LEXICON["virtue"], "kindness")


def test_bad_lexicon_says_what_to_write():
    with pytest.raises(TypeError, match=r"tuple of words, e.g. \('serene',\)"):
        stoic_score("serene", lexicon={"serenity": "serene"})
    with pytest.raises(ValueError, match="at least one word"):
        add_words("serenity")


# ---------------------------------------------------------------- meaning score (real MiniLM, ~10 s to load)

STOIC = ("The washing machine broke halfway through a wash; machines do that, and no amount of fury will mend the "
         "pump. Decide what is within your power: wring out the clothes, ring a repair service, use the launderette "
         "for a week. A Stoic would treat this as a small test of patience and pass it calmly.")
GENERIC = ("Oh no, that sounds so stressful! Treat yourself to a nice takeaway tonight and try to relax with a bubble "
           "bath. Maybe look online for a good deal on a new machine. Remember to practise self-care, you deserve it, "
           "and everything will work out fine!")
OFF_TOPIC = ("The museum opens at nine on weekdays. Tickets cost twelve pounds for adults and six for children, and "
             "the cafe on the ground floor serves soup and sandwiches until three in the afternoon.")


@pytest.fixture(scope="module")
def meanings():
    return meaning_score([STOIC, GENERIC, OFF_TOPIC, "  "])


def test_meaning_ranks_stoic_above_generic_and_off_topic(meanings):
    stoic, generic, off_topic, blank = meanings
    assert stoic > off_topic > generic
    assert stoic > 0 > generic
    assert blank == 0.0


def test_meaning_is_deterministic(meanings):
    assert meaning_score([STOIC, GENERIC, OFF_TOPIC, "  "]) == meanings
    # Batching pads texts differently, which moves the last float digits only.
    assert meaning_score([GENERIC]) == pytest.approx([meanings[1]], abs=1e-5)


def test_meaning_takes_own_references_and_refuses_a_bare_string():
    refs = {"stoic": ["What is up to us is our judgement."], "generic": ["Treat yourself and relax."]}
    assert len(meaning_score([STOIC], references=refs)) == 1
    with pytest.raises(TypeError, match=r"meaning_score\(\[text\]\)"):
        meaning_score(STOIC)
    with pytest.raises(ValueError, match="'generic'"):
        meaning_score([STOIC], references={"stoic": ["x"]})


# ---------------------------------------------------------------- the data files behind the scores


def test_references_are_balanced_and_not_copied_from_training():
    refs = load_references()
    assert len(refs["stoic"]) == len(refs["generic"]) == 12
    assert all(30 <= len(split_words(t)) <= 70 for t in refs["stoic"] + refs["generic"])
    # No run of 7 words shared with any training reply: the score must not reward memorised training data.
    train = [m["content"] for line in (DATA / "stoic_train.jsonl").read_text().splitlines()
             for m in json.loads(line)["messages"] if m["role"] == "assistant"]
    seen = {tuple(w[i:i + 7]) for w in map(split_words, train) for i in range(len(w) - 6)}
    for text in refs["stoic"] + refs["generic"]:
        words = split_words(text)
        assert not {tuple(words[i:i + 7]) for i in range(len(words) - 6)} & seen, text


def test_general_english_is_long_plain_and_not_stoic():
    text = (DATA / "general_english.txt").read_text(encoding="utf-8")
    assert 2500 <= len(split_words(text)) <= 3500
    assert stoic_matches(text)[1] == []
    assert not re.search(r"(?i)\b(stoic|philosoph|self-care|mindful)", text)
