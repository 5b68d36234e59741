"""Knowledge specialism: the facts and their question sets, grading, retrieval with the packaged MiniLM, asking the
packaged SmolLM2, and what `stoic-workshop knowledge` refuses. The command end to end, and its resume, run on
notebook 5's own folder (tests/test_notebooks.py): one experiment, measured once."""

import pytest

import stoic_workshop as sw
from stoic_workshop import knowledge as K
from stoic_workshop.checks import CheckFailed
from stoic_workshop.stoic_data import QUOTES


def test_facts_cover_every_quotation_and_the_three_philosophers():
    facts = sw.knowledge_facts()
    assert len(facts) == 3 * len(QUOTES) + 17 == 173
    assert len({f.id for f in facts}) == len(facts)
    for key, quote in QUOTES.items():
        by_kind = {f.kind: f for f in facts if f.id.startswith(f"{key}/")}
        assert set(by_kind) == {"author", "work", "section"}
        assert by_kind["author"].answer == quote.author and by_kind["work"].answer == quote.work
        assert quote.section in by_kind["section"].answers and quote.text in by_kind["author"].text
    people = [f for f in facts if f.kind == "person"]
    for name, needed in (("epictetus", {"role", "recorder", "works", "era"}), ("seneca", {"role", "letters", "era"}),
                         ("marcus", {"role", "work", "era"})):
        assert needed <= {f.id.split("/")[1] for f in people if f.id.startswith(name + "/")}
    assert all(any(a.lower() in f.text.lower() for a in f.answers) for f in facts)  # each sentence holds its answer


def test_test_phrasings_are_never_trained_on():
    facts = sw.knowledge_facts()
    tests = {f.test for f in facts} | set(K.unknown_questions("test"))
    for phrasings in ("one", "many"):
        rows = K.training_conversations(facts, phrasings)
        prompts = [r["messages"][1]["content"] for r in rows]
        assert not tests & set(prompts)
        assert len(rows) == len(facts) * (1 if phrasings == "one" else 4) + len(K.unknown_questions("train"))
    assert not set(K.unknown_questions("train")) & set(K.unknown_questions("test"))
    with pytest.raises(ValueError, match="'one' or 'many'"):
        K.training_conversations(facts, "some")
    with pytest.raises(ValueError, match="test question is also a training question"):
        sw.Fact("x", "t", ("a",), ("Q?",), "Q?", ("a",))


def test_grading_needs_the_answer_and_no_rival_and_no_refusal():
    facts = {f.id: f for f in sw.knowledge_facts()}
    author = facts["ep-13/author"]               # Seneca
    assert K.grade("That was Seneca, in a letter.", author)
    assert not K.grade("Marcus Aurelius.", author)
    assert not K.grade("Seneca or Epictetus, I think.", author)      # naming the rivals too is not knowing
    assert not K.grade("I don't know; maybe Seneca.", author)
    section = facts["med-4.49/section"]          # 4.49
    assert K.grade("Book 4, section 49.", section) and K.grade("It is 4.49.", section)
    assert not K.grade("It is in 4.4.", section) and not K.grade("Section 14.49", section)
    assert K.abstains("I do not know.") and K.abstains("There is no record of that.")
    assert not K.abstains("Seneca.")


def test_an_answer_that_repeats_its_prompt_is_neither_a_refusal_nor_an_answer():
    """Gemma 3 270M base, on the GPU, continued its prompt instead of answering: the "I don't know" of the repeated
    instruction was counted as abstention (1.00 for the base arm), and a repeated list of facts would count as right."""
    fact = {f.id: f for f in sw.knowledge_facts()}["epictetus/recorder"]
    echo = K.SYSTEM + "\n\n" + fact.test.rstrip("?")
    assert not K.abstains(echo, fact.test) and not K.grade(echo, fact)
    rag_echo = K.SYSTEM + "\n\n" + K._prompt(fact.test, [fact.text])
    assert "Arrian" in rag_echo and not K.grade(rag_echo, fact) and not K.abstains(rag_echo, fact.test)
    assert K.grade("Arrian, his student.", fact) and K.grade(fact.text, fact)   # the fact said as an answer counts
    assert K.abstains(echo + "\nI don't know.", fact.test)


def test_the_guess_baseline_knows_only_the_odds():
    facts = sw.knowledge_facts()
    rows = K.guess(facts)
    authors = [r for r in rows if r["kind"] == "author"]
    assert {r["answer"] for r in authors} == {"Marcus Aurelius"}
    assert sum(r["right"] for r in authors) == sum(q.author == "Marcus Aurelius" for q in QUOTES.values())
    assert not any(r["right"] for r in rows if r["kind"] == "unknown")
    table = K.summarize(rows)
    assert table.accuracy.iloc[0] == sum(r["right"] for r in rows if r["kind"] != "unknown") / len(facts)


def test_retrieval_finds_the_fact_for_held_out_phrasings():
    facts = sw.knowledge_facts()
    found = K.retrieve([f.test for f in facts], facts, k=3)
    assert all(len(top) == 3 for top in found)
    assert sum(f.text in top for f, top in zip(facts, found)) / len(facts) >= 0.95
    assert K.retrieve("Who tutored Nero?", facts, k=1) == ["Seneca was the tutor and later the adviser of the "
                                                            "emperor Nero."]
    with pytest.raises(ValueError, match="k must be at least 1"):
        K.retrieve("Who tutored Nero?", facts, k=0)


def test_ask_closed_book_and_with_retrieval_on_the_packaged_model(smol):
    model, tok = smol
    facts = sw.knowledge_facts()
    from stoic_workshop.generation import generate

    closed = sw.ask(model, tok, "Who tutored Nero?")
    opened = sw.ask(model, tok, "Who tutored Nero?", facts, k=1)
    assert closed and opened and closed != opened
    # what the model read: the question after the one fact retrieved for it (whether it reads it right is measured)
    prompt = K._prompt("Who tutored Nero?", K.retrieve("Who tutored Nero?", facts, k=1))
    assert "- Seneca was the tutor and later the adviser of the emperor Nero.\n\nQuestion: Who tutored Nero?" in prompt
    assert generate(model, tok, [prompt], chat=True, system=K.SYSTEM, max_new_tokens=32, progress=False) == [opened]
    with pytest.raises(ValueError, match="non-empty"):
        sw.ask(model, tok, "  ")
    rows = K.rag_conversations(facts[:5], k=2)
    assert rows[0]["messages"][1]["content"].startswith("Facts:\n- ") and facts[0].text in rows[0]["messages"][1][
        "content"]


def test_exercise_check_refuses_set_phrasings_and_unheld_answers(smol, capsys):
    model, tok = smol
    facts = sw.knowledge_facts()
    with pytest.raises(CheckFailed, match="one of the set's own phrasings"):
        sw.check_my_knowledge_question(facts[0].test, "Epictetus", facts, model, tok)
    with pytest.raises(CheckFailed, match="no fact mentions 'Plato'"):
        sw.check_my_knowledge_question("Who taught Aristotle?", "Plato", facts, model, tok)
    sw.check_my_knowledge_question("Which island did Seneca live on in exile?", "Corsica", facts, model, tok)
    printed = capsys.readouterr().out
    assert "Well done" in printed and "closed book" in printed and "with retrieval" in printed


def test_knowledge_command_names_bad_arguments(tmp_path, cli):
    code, _, err = cli("knowledge", "--out", tmp_path / "k", "--arms", "magic")
    assert code == 1 and "unknown arm(s) ['magic']" in err
    code, _, err = cli("knowledge", "--out", tmp_path / "k", "--facts", "999")
    assert code == 1 and "facts must be between 1 and 173" in err
    code, _, err = cli("knowledge", "--out", tmp_path / "k", "--arms", "base", "rag", "base")
    assert code == 1 and "arm(s) ['base'] named more than once" in err  # measured twice, it counted twice
    code, _, err = cli("knowledge", "--out", tmp_path / "k", "--facts", "12", "--k", "13")
    assert code == 1 and "k must be at most the number of facts retrieved from (12), got k=13" in err
    assert not (tmp_path / "k").exists()   # nothing written before the arguments are checked
