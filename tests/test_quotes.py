"""Tests for the quotation checker: hand-written answers, each expected verdict explained next to its assertion.

Real quotations come from the table by id (`Q[...]`) so a fix to the table cannot leave a test behind; one is
typed out by hand on purpose, to show the checker works on text that never went through the table.
"""

import dataclasses

import pytest

from stoic_workshop.stoic_data import AUTHORS, QUOTES, Quote, make_pairs
from stoic_workshop.quotes import Passage, check_quotes, highlight_quotes, invented

Q = QUOTES
ENCH_5 = Q["ench-5"].text   # Epictetus: "Men are disturbed not by the things which happen, but by the opinions ..."
EP_13 = Q["ep-13"].text     # Seneca: "We suffer more often in imagination than in reality."
RIVER = "The mind is like a river, which flows on its own track."   # invented, in the style of the Meditations


def one(text):
    """The single passage found in `text` (fails if there are none or several)."""
    passages = check_quotes(text)
    assert len(passages) == 1, passages
    return passages[0]


# ---------------------------------------------------------------- verified


def test_verbatim_table_quotation_credited_to_its_author_is_verified():
    text = f'Marcus Aurelius wrote: "{Q["med-4.3"].text}"'
    # The exact table text, credited to its author -> verified, with the table's source string;
    # the passage spans the attribution and the quotation, i.e. the whole text here.
    assert one(text) == Passage(Q["med-4.3"].text, "Marcus Aurelius", "verified", Q["med-4.3"].source, 0, len(text))


def test_hand_typed_real_quotation_is_verified():
    text = ("Your neighbour's music is loud, but as Epictetus said, \"Men are disturbed not by the things which "
            "happen, but by the opinions about the things.\" Knock and ask kindly.")
    p = one(text)
    # Typed from Long's Enchiridion 5, not copied from the table: the same words -> verified, Enchiridion 5.
    assert (p.verdict, p.credited) == ("verified", "Epictetus")
    assert p.source == "Epictetus, Enchiridion 5 (tr. George Long)"
    # The highlight starts at "as Epictetus said" and ends at the closing quote mark.
    assert text[p.start:p.end].startswith("as Epictetus said, \"Men") and text[p.end - 1] == '"'


@pytest.mark.parametrize("text", [
    "Seneca wrote: “We suffer more often in imagination than in reality.”",        # curly double quotes
    "Seneca wrote: ‘We suffer more often in imagination than in reality.’",        # curly single quotes
    "Seneca wrote: 'We suffer more often in imagination than in reality'",         # straight single, no stop
    'Seneca wrote: "WE SUFFER MORE OFTEN IN IMAGINATION THAN IN REALITY!"',        # case and punctuation
    'Seneca wrote:"we suffer  more often, in imagination,\nthan in reality"',      # spacing, commas, a line break
])
def test_punctuation_case_and_quote_marks_do_not_matter(text):
    p = one(text)
    # Lowercased and stripped of punctuation, these are the table's words -> verified as Seneca, Letter 13.
    assert (p.verdict, p.credited, p.source) == ("verified", "Seneca", Q["ep-13"].source)


def test_small_function_word_differences_are_tolerated():
    # "the" dropped twice, "which" -> "that", "the" -> "their": only function words differ and the word-level
    # ratio is 24/30 = 0.80, right at the threshold -> still Enchiridion 5.
    p = one('Epictetus wrote: "Men are disturbed not by things that happen but by their opinions about things."')
    assert (p.verdict, p.source) == ("verified", Q["ench-5"].source)
    # Long's "thou art ... thee ... thy" modernised to "you are ... you ... your" -> the same quotation.
    modern = Q["med-8.47"].text.replace("thou art", "you are").replace("thee", "you").replace("thy", "your")
    assert one(f'Marcus Aurelius wrote: "{modern}"').verdict == "verified"


def test_fragments_of_a_longer_quotation():
    # Ten words out of the middle of Enchiridion 21: a fragment of >= 6 words -> verified.
    p = one('Epictetus told his students to let "all other things which appear terrible, be daily before your eyes".')
    assert (p.verdict, p.source) == ("verified", Q["ench-21"].source)
    # The whole Meditations 2.14 clause plus one word of the sentence around it ("For") -> verified.
    assert one(f'Marcus Aurelius wrote: "For {Q["med-2.14"].text}."').verdict == "verified"
    # A real line followed by a whole invented sentence: more new words than half the quotation -> unverified.
    assert one(f'Seneca wrote: "{EP_13} The mind is a garden that needs weeding daily."').verdict == "unverified"


def test_quotation_nested_quote_marks():
    # Enchiridion 11 holds its own single quotes inside the double ones -> one passage, verified.
    p = one(f'Epictetus offers a curious reframe: "{Q["ench-11"].text}"')
    assert (p.verdict, p.source) == ("verified", Q["ench-11"].source)


def test_whole_short_table_quotation_is_a_passage():
    # Three words would be a scare quote, but this is a whole table quotation, credited -> verified.
    assert one('Seneca: "Everywhere means nowhere."').source == Q["ep-2-everywhere"].source


def test_unattributed_real_quotation_of_six_words_or_more_is_verified():
    p = one(f'Remember: "{Q["med-7.59"].text}"')
    # No name anywhere near it, but it is the table's Meditations 7.59 -> a verified passage credited to nobody.
    assert (p.credited, p.verdict, p.source) == (None, "verified", Q["med-7.59"].source)


# ---------------------------------------------------------------- unverified and misattributed


def test_one_changed_content_word_is_unverified():
    changed = ENCH_5.replace("opinions", "feelings")
    p = one(f'Epictetus wrote: "{changed}"')
    # 15 of 16 words agree (ratio 0.94), but "feelings" is not what Epictetus wrote: a changed quotation is
    # not the quotation -> unverified, no source.
    assert (p.verdict, p.source, p.credited) == ("unverified", None, "Epictetus")
    # Dropping one content word ("often") is a change too: the popular misquotation of Letter 13 -> unverified.
    assert one('Seneca said, "We suffer more in imagination than in reality."').verdict == "unverified"
    # So is changing the last word, where a fragment check alone would not notice ("things" -> "events").
    assert one(f'Epictetus wrote: "{ENCH_5[:-7]}events."').verdict == "unverified"


def test_real_quotation_credited_to_the_wrong_author_is_misattributed():
    p = one(f'As Seneca wrote, "{ENCH_5}"')
    # The words are Enchiridion 5, but Seneca is credited -> misattributed; the source names the real author.
    assert (p.verdict, p.credited) == ("misattributed", "Seneca")
    assert p.source == Q["ench-5"].source and p.source.startswith("Epictetus")
    # Given to someone outside the table (Socrates) it is still not his -> misattributed.
    assert one(f'Socrates said: "{EP_13}"').verdict == "misattributed"


def test_invented_quotation_in_the_style_of_the_real_ones_is_unverified():
    text = f"Marcus Aurelius wrote: '{RIVER}'"
    # Nothing in the table matches -> unverified, credited as written, no source, the whole text highlighted.
    assert one(text) == Passage(RIVER, "Marcus Aurelius", "unverified", None, 0, len(text))


def test_the_stoics_as_source():
    p = one("The Stoics taught: 'A calm mind is the only fortress that no enemy can ever take.'")
    # Invented and credited to the school -> unverified, credited "the Stoics" (the capital T is the sentence's).
    assert (p.verdict, p.credited, p.source) == ("unverified", "the Stoics", None)
    # A real line credited to the school is not a misattribution: the Stoics did say it -> verified.
    p = one(f'A Stoic might answer: "{EP_13}"')
    assert (p.verdict, p.credited) == ("verified", "a Stoic")
    assert one(f'Stoicism teaches: "{Q["ench-43"].text}"').verdict == "verified"


@pytest.mark.parametrize("text, credited", [
    ("My grandmother said: 'Whatever happens, keep your hands busy and your heart open.'", "My grandmother"),
    ('Zeno of Citium taught, "We have two ears and one mouth, so we should listen more than we say."',
     "Zeno of Citium"),
    ('According to Marcus, "the obstacle is only a door you have not yet learned to open."', "Marcus"),
])
def test_other_people_and_short_names_are_credited_as_written(text, credited):
    p = one(text)
    # None of these lines is in the table -> unverified; the name is kept as the answer wrote it.
    assert (p.credited, p.verdict) == (credited, "unverified")


# ---------------------------------------------------------------- forms of attribution


def test_as_x_put_it_without_quote_marks():
    p = one("Worry is a rehearsal. As Seneca put it, we suffer more often in imagination than in reality. Rest.")
    # No quote marks: the rest of the sentence is the passage -> Letter 13, verified.
    assert (p.text, p.verdict, p.source) == ("w" + EP_13[1:-1], "verified", Q["ep-13"].source)
    # The same form with an invented line -> unverified.
    assert one("as Seneca put it, a quiet pen outlasts the loudest editor.").verdict == "unverified"
    # The sentence before ", as X put it." is the passage too.
    assert one(f"{EP_13[:-1]}, as Seneca put it.").verdict == "verified"
    # Mid-sentence "as X put it" refers to the words before it ("Loving your fate"), too short -> no passage.
    assert check_quotes("Loving your fate, as the Stoics put it, doesn't mean pretending the move was clever.") == []


@pytest.mark.parametrize("text", [
    f'"{ENCH_5[:-1]}," wrote Epictetus.',
    f'"{ENCH_5}" (Epictetus, Enchiridion 5)',
    f'“{ENCH_5}” — Epictetus',
    f'"{ENCH_5}" Epictetus said that to his students.',
])
def test_quotation_then_attribution(text):
    p = one(text)
    # The credit comes after the quotation -> still Epictetus, and the highlight runs to the end of the credit.
    assert (p.verdict, p.credited, p.source) == ("verified", "Epictetus", Q["ench-5"].source)
    assert text[:p.end].endswith(("Epictetus", "Enchiridion 5)", "Epictetus said"))


def test_quotation_then_attribution_to_the_wrong_author():
    # Epictetus's line followed by "— Seneca" -> misattributed.
    assert one(f'"{ENCH_5}" — Seneca').verdict == "misattributed"


def test_author_named_in_the_sentence_before_or_after():
    # Invented lines credited by the sentence around them, as the training replies do -> unverified, not missed.
    assert one('Epictetus compared life to a play. "We are actors who never chose the script we read."').credited \
        == "Epictetus"
    assert one('"We are actors who never chose the script we read." That was Epictetus, in essence.').verdict \
        == "unverified"


# ---------------------------------------------------------------- no passages


@pytest.mark.parametrize("text", [
    "",
    "The train was late again. Take the next one and read on the way.",
    "Don't worry: it's not your fault, and Epictetus' lectures won't fix the trains anyway.",   # apostrophes
    "People's 'opinions' aren't yours to manage.",                                            # possessive + scare
    'Your boss wants the "right" answer, but the "perfect" plan does not exist.',             # scare quotes
    'Seneca called this "real wealth" long ago.',                                             # 2 words, credited
    'You said "I feel like nothing I do at work ever matters to anyone", and that hurts.',    # user's own words
    'Write it down: "three things I can control today and one I cannot".',                    # unattributed, not real
    "He said, 'A man should be like a mountain that the rain cannot wear down.'",             # pronoun: unattributed
])
def test_texts_without_passages(text):
    # No quotation of a named person, and no unattributed quote that is a table quotation -> nothing found.
    assert check_quotes(text) == []
    assert invented(text) is False


# ---------------------------------------------------------------- several passages, invented(), highlight


def test_two_passages_in_one_answer():
    text = (f'Marcus wrote: "{Q["med-7.59"].text}" Later Seneca added, "{RIVER}"')
    first, second = check_quotes(text)
    # In order of appearance: a real Meditations 7.59 credited to "Marcus" -> verified; then an invented line
    # credited to Seneca -> unverified. The two highlights do not overlap.
    assert (first.credited, first.verdict, first.source) == ("Marcus", "verified", Q["med-7.59"].source)
    assert (second.credited, second.verdict) == ("Seneca", "unverified")
    assert first.end <= second.start and text[second.start:second.end] == f'Seneca added, "{RIVER}"'
    assert invented(text) is True   # one invented passage is enough


def test_same_author_twice_in_one_sentence_does_not_overlap():
    text = f'Seneca wrote: "{EP_13}" and "{Q["ep-1-postpone"].text}"'
    first, second = check_quotes(text)
    # Both are Seneca's -> verified; the second shares the first's attribution, so its highlight is the quote only.
    assert (first.verdict, second.verdict, second.credited) == ("verified", "verified", "Seneca")
    assert text[second.start] == '"' and first.end <= second.start


@pytest.mark.parametrize("text, expected", [
    (f'Marcus Aurelius wrote: "{Q["med-4.3"].text}"', False),    # only verified passages
    ("Just take a walk and breathe.", False),                      # no passages at all
    (f'Marcus Aurelius wrote: "{EP_13}"', True),                   # misattributed
    (f"Marcus Aurelius wrote: '{RIVER}'", True),                   # unverified
])
def test_invented(text, expected):
    assert invented(text) is expected


def test_highlight_quotes_escapes_html_and_marks_each_verdict():
    text = f'<b>Hi</b> & "{RIVER}" Marcus Aurelius wrote: "{Q["med-4.3"].text}" Seneca wrote: "{ENCH_5}"'
    got = highlight_quotes(text)
    # The unattributed invented line is ignored (a user's words look the same); the rest is escaped text.
    assert got.startswith("&lt;b&gt;Hi&lt;/b&gt; &amp; &quot;The mind is like a river")
    assert ('<mark class="quote-verified">Marcus Aurelius wrote: &quot;The universe is transformation: '
            'life is opinion.&quot;</mark>') in got
    assert got.endswith(f'<mark class="quote-misattributed">Seneca wrote: &quot;{ENCH_5}&quot;</mark>')
    assert highlight_quotes(f"Epictetus wrote: '{RIVER}'") == \
        f'<mark class="quote-unverified">Epictetus wrote: &#x27;{RIVER}&#x27;</mark>'
    assert highlight_quotes("No <quotes> here") == "No &lt;quotes&gt; here"


# ---------------------------------------------------------------- the table and the training data


@pytest.mark.parametrize("key", sorted(QUOTES))
def test_every_table_quotation_credited_to_its_author_is_verified(key):
    quote = QUOTES[key]
    p = one(f'{quote.author} wrote: "{quote.text}"')
    # Self-check over the whole table: each quotation, credited to its own author -> verified, its own source.
    assert (p.verdict, p.source, p.credited) == ("verified", quote.source, quote.author)


def test_no_training_reply_holds_any_passage():
    # The 160 hand-written replies credit ideas in plain words and never quote ("Epictetus opens his handbook by
    # sorting things into what is within our control and what is not"): a model trained on quoting replies learned
    # the form and filled it with invented words. So no reply may hold any passage at all, verified or not: half of
    # them name a philosopher and some put the user's own words in quote marks ("I told you so"), and neither may
    # read as a quotation.
    for pair in make_pairs():
        assert check_quotes(pair["reply"]) == [], pair["id"]


def test_custom_table_and_frozen_passage():
    table = {"mine": Quote("Seneca", "Letters to Lucilius", "99", "tr. me", "Grief, like all else, has its season.")}
    # With only this quotation as the table, Letter 13 is unknown -> unverified; the new line -> verified.
    assert check_quotes(f'Seneca wrote: "{EP_13}"', quotes=table)[0].verdict == "unverified"
    assert check_quotes('Seneca wrote: "Grief, like all else, has its season."', table)[0].source == \
        "Seneca, Letters to Lucilius 99 (tr. me)"
    with pytest.raises(dataclasses.FrozenInstanceError):
        one(f'Seneca wrote: "{EP_13}"').verdict = "unverified"
    assert set(AUTHORS) == {q.author for q in QUOTES.values()}   # the self-check above covers all three


def test_calibration_answers_built_on_invented_quotations_are_caught_and_the_others_are_not():
    """The judge's calibration set labels five answers "invented_quote": the checker must flag each of them, and no
    Stoic, generic, off-topic or harmful answer (none of which quotes anyone)."""
    import json

    from stoic_workshop.judging import CALIBRATION_FILE

    items = [json.loads(line) for line in CALIBRATION_FILE.read_text().splitlines() if line.strip()]
    flagged = {i["id"] for i in items if invented(i["answer"])}
    assert flagged == {i["id"] for i in items if i["label"] == "invented_quote"}
