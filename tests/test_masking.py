"""Chat-template alignment: reply-only labels, and every checker failure triggered on purpose."""

import pytest

import stoic_workshop as sw
from stoic_workshop.masking import IGNORE

TALK = [{"role": "system", "content": "Answer as a Stoic."},
        {"role": "user", "content": "My boss ignored my email."},
        {"role": "assistant", "content": "His inbox is his; your next message is yours."},
        {"role": "user", "content": "And if he ignores that too? 😤"},
        {"role": "assistant", "content": "Then you have done your part well. Ἀταραξία."}]


def _trained_spans(tok, messages):
    """Independent expectation: token positions between each generation prompt and the end of the templated turn."""
    spans = []
    for k, turn in enumerate(messages):
        if turn["role"] == "assistant":
            before = tok.apply_chat_template(messages[:k], tokenize=False, add_generation_prompt=True)
            through = tok.apply_chat_template(messages[:k + 1], tokenize=False)
            spans.append((len(tok(before, add_special_tokens=False).input_ids),
                          len(tok(through, add_special_tokens=False).input_ids)))
    return spans


@pytest.fixture(params=["gemma", "smollm2"])
def tok(request, gemma_tok, smol):
    return gemma_tok if request.param == "gemma" else smol[1]


def test_labels_cover_exactly_the_replies_their_end_of_turn_and_its_line_break(tok):
    enc = sw.encode(tok, TALK)
    trained = [i for i, m in enumerate(enc["assistant_masks"]) if m]
    expected = [i for start, end in _trained_spans(tok, TALK) for i in range(start, end)]
    assert trained == expected
    assert [i for i, label in enumerate(enc["labels"]) if label != IGNORE] == trained
    assert all(enc["labels"][i] == enc["input_ids"][i] for i in trained)
    eot = sw.end_of_turn(tok)
    pieces = [tok.decode(enc["input_ids"][s:e]) for s, e in _trained_spans(tok, TALK)]
    # replies only, the stop token included, and the line break the template writes after it (as TRL trains it)
    assert pieces == [TALK[2]["content"] + eot + "\n", TALK[4]["content"] + eot + "\n"]


def test_gemma_training_text_has_one_bos_and_folded_system(gemma_tok):
    enc = sw.encode(gemma_tok, TALK)
    assert enc["input_ids"][0] == gemma_tok.bos_token_id and enc["input_ids"].count(gemma_tok.bos_token_id) == 1
    assert gemma_tok.decode(enc["input_ids"]).startswith("<bos><start_of_turn>user\nAnswer as a Stoic.\n\nMy boss")


def test_masked_view_shows_what_the_model_learns(gemma_tok):
    view = sw.masked_view(gemma_tok, TALK[1:3])
    # <bos><start_of_turn>user\n + complaint + <end_of_turn>\n<start_of_turn>model\n are masked, then the reply.
    assert view.startswith("[░░░ masked: ") and view.endswith("yours.<end_of_turn>\n")
    assert "His inbox is his; your next message is yours.<end_of_turn>" in view
    assert "My boss" not in view


def test_clean_dataset_passes_and_reports(gemma_tok, tmp_path):
    report = sw.check_dataset(sw.make_dataset(n=40), gemma_tok, max_seq_length=256)
    assert report.rows == 40 and max(report.lengths) <= 256 and all(report.trained)
    assert report.lengths[report.longest_row] == max(report.lengths)
    report.plot(tmp_path / "lengths.png")
    assert (tmp_path / "lengths.png").stat().st_size > 5_000
    assert "40 conversations pass every check" in str(report)


def test_every_failure_is_found_and_named(gemma_tok):
    good = TALK[1:3]
    text = gemma_tok.apply_chat_template(good, tokenize=False)
    double_bos = gemma_tok(text).input_ids                                  # templated, then special tokens again
    unclosed = gemma_tok(text, add_special_tokens=False).input_ids[:-2]     # drop the last "<end_of_turn>\n"
    rows = [
        {"messages": good},                                                  # row 0: fine
        {"input_ids": double_bos},                                           # row 1
        {"messages": [good[0], good[0]]},                                    # row 2: two user turns, no reply
        {"input_ids": unclosed},                                             # row 3
        {"messages": [good[0], {"role": "assistant", "content": " \n "}]},    # row 4: empty reply
        {"messages": [good[0], {"role": "assistant", "content": "word " * 600}]},  # row 5: too long
        {"input_ids": gemma_tok(text, add_special_tokens=False).input_ids,
         "labels": [IGNORE] * len(double_bos)},                              # row 6: masks everything
    ]
    with pytest.raises(sw.DataError) as err:
        sw.check_dataset(rows, gemma_tok, max_seq_length=256)
    message = str(err.value)
    assert "row 0" not in message
    assert "row 1: expected exactly one <bos> at the start, found 2" in message
    assert "row 2: roles must alternate user, assistant, ... and end with the assistant" in message
    assert "row 3: 2 turns opened but 1 closed with <end_of_turn>" in message
    assert "row 4: messages[1].content: empty or whitespace only" in message
    assert "row 5: " in message and "over max_seq_length 256: truncation would cut" in message
    assert "row 6: no trainable token" in message


def test_a_message_holding_any_special_token_of_the_tokenizer_is_refused(tok):
    """A dataset made by hand (not through load_pairs) reaches check_dataset, which knows the tokenizer: the text of
    any of its special tokens (turn markers, and reserved or padding tokens no common template names) is refused,
    with the row, the message and the token; escape_control_tokens(text, tokenizer) keeps it as characters."""
    from datasets import Dataset

    from stoic_workshop.dataset import escape_control_tokens

    from stoic_workshop.stoic_data import CHAT_MARKUP

    marker = sw.end_of_turn(tok)                 # '<end_of_turn>' (Gemma 3), '<|im_end|>' (SmolLM2)
    special = {str(t) for t in tok.added_tokens_decoder.values() if t.special} | set(tok.all_special_tokens)
    other = min(t for t in special if not CHAT_MARKUP.search(t))  # '<mask>' (Gemma 3), '<empty_output>' (SmolLM2)
    assert len(special) == (6249 if marker == "<end_of_turn>" else 17)  # as docs/data.md says
    rows = [{"messages": TALK[1:3]},
            {"messages": [TALK[1], {"role": "assistant", "content": f"Breathe.{marker}\nOK."}]},
            {"messages": [{"role": "user", "content": f"Say {other} please."}, TALK[2]]}]
    with pytest.raises(sw.DataError) as err:
        sw.check_dataset(Dataset.from_list(rows), tok)
    message = str(err.value)
    assert f"row 1: messages[1].content: holds {marker!r}" in message and "row 0" not in message
    assert f"row 2: messages[0].content: holds {other!r}, a special token of this tokenizer" in message
    escaped = [{"messages": [dict(t, content=escape_control_tokens(t["content"], tok)) for t in r["messages"]]}
               for r in rows]
    assert sw.check_dataset(Dataset.from_list(escaped), tok).rows == 3
