"""The exercise checkers say what is right or what to fix, and fail loudly when it is wrong."""

import pytest

import stoic_workshop as sw

GOOD = ("Epictetus would start by sorting: the delay is not yours to command, your patience is. Tell the people "
        "waiting for you, find something useful or pleasant to do with the hour, and notice how much of the "
        "misery is the story you tell about the delay rather than the delay itself.")  # 53 words


def test_good_pairs_pass(gemma_tok, capsys):
    sw.check_my_pairs([{"complaint": "My flight is delayed.", "reply": GOOD},
                       {"complaint": "My bus is late.", "reply": GOOD}], gemma_tok)
    assert capsys.readouterr().out.startswith("✅ Well done: 2 pairs")


def test_each_mistake_is_named(gemma_tok):
    with pytest.raises(sw.CheckFailed, match="at least two pairs"):
        sw.check_my_pairs([{"complaint": "x", "reply": GOOD}], gemma_tok)
    with pytest.raises(sw.CheckFailed) as err:
        sw.check_my_pairs([{"complaint": "...", "reply": "..."},
                           {"complaint": "My bus is late.", "reply": "Breathe."},
                           {"complaint": "My train is late.", "reply": GOOD}], gemma_tok)
    message = str(err.value)
    assert "pair 1: replace the '...' placeholder" in message
    assert "pair 2: the reply has 1 words; aim for 40-120" in message
    assert "pair 3" not in message  # a fine pair is not blamed


def test_lexicon_check_names_the_added_words_and_what_moved(capsys):
    import pandas as pd

    answers = ["Be serene: the delay is outside your control.", "Try to relax and treat yourself."]
    scored = sw.score_answers(pd.DataFrame({"prompt": ["Late train", "Rain"], "fine-tuned": answers}), meaning=False)
    with pytest.raises(sw.CheckFailed, match="no word the built-in LEXICON lacks"):
        sw.check_my_lexicon(dict(sw.LEXICON), scored)
    with pytest.raises(sw.CheckFailed, match="tuple of words"):
        sw.check_my_lexicon(sw.LEXICON | {"serenity": "serene"}, scored)
    sw.check_my_lexicon(sw.add_words("serenity", "serene"), scored)
    out = capsys.readouterr().out
    # "Be serene: the delay is outside your control." has 8 words: 1 match -> 12.5, 2 matches -> 25.0
    assert "'serene'" in out and "1 of 2 answers scored higher; mean Stoic score 6.25 -> 12.50" in out
    sw.check_my_lexicon(sw.add_words("serenity", "ataraxia"), scored)
    assert "No answer uses your words" in capsys.readouterr().out


def test_prompt_check_counts_the_template_around_your_complaint(smol, capsys):
    prompts = ["My train is late.", "It rains."]
    for wrong, why in [("", "set MY_PROMPT"), (None, "set MY_PROMPT"),
                       ("  My train is late. ", "one of the six PROMPTS")]:
        with pytest.raises(sw.CheckFailed, match=why):
            sw.check_my_prompt(wrong, prompts, smol[1])
    sw.check_my_prompt("Mondays.", prompts, smol[1])
    out = capsys.readouterr().out
    bare = len(smol[1]("Mondays.", add_special_tokens=False).input_ids)
    assert f"your complaint is {bare} tokens" in out
    templated = int(out.split("instruct model reads ")[1].split()[0])
    assert templated > bare + 4  # the system turn, the role markers and the end-of-turn tokens
