"""The evaluation's faster paths give what the plain ones gave (issue 30), on the real models.

- Answers decoded together, left-padded (`generate`'s batches, `answers`' default of all 16 complaints at once), are
  the same tokens as one prompt at a time. Where they could differ: a step whose two likeliest tokens are within
  float rounding of each other (a few millionths of a logit), since a matrix product over 16 rows can round the
  other way than one over a single row. With the run's 2 threads, all 32 answers of a 60-step run were the same
  tokens (bench/results/main_job/alone_vs_batched.txt); with 1 thread, one of 32 parted at such a tie
  (bench/results/main_job/README.md). The prompts here have none, and the check is exact.
- Perplexity with the output layer applied only where a token is scored equals the model's own loss over the
  whole window.
"""

import pytest
import torch

import stoic_workshop as sw
from stoic_workshop.stoic_data import eval_prompts
from stoic_workshop.evaluate import _window_loss, general_text, perplexity

DECODING = dict(repetition_penalty=1.1, no_repeat_ngram_size=4)  # what `answers` decodes with


def _tokens(model, tok, prompts, batch_size, max_new_tokens):
    """The new token ids for each prompt, as `generate` makes them (left padding, greedy, answers' settings)."""
    texts = [sw.render(tok, p) for p in prompts]
    stops = model.generation_config.eos_token_id
    stops = set(stops if isinstance(stops, list) else [stops])
    side, tok.padding_side = tok.padding_side, "left"
    found = []
    try:
        for start in range(0, len(texts), batch_size):
            enc = tok(texts[start:start + batch_size], return_tensors="pt", padding=True, add_special_tokens=False)
            with torch.inference_mode():
                out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                                     pad_token_id=tok.pad_token_id, **DECODING)
            for row in out[:, enc.input_ids.shape[1]:].tolist():
                end = next((i for i, t in enumerate(row) if t in stops), len(row) - 1)
                found.append(row[:end + 1])  # a finished row is filled with pad tokens while the others go on
    finally:
        tok.padding_side = side
    return found


def test_smollm2_batched_greedy_answers_are_the_one_at_a_time_tokens(smol):
    model, tok = smol
    prompts = eval_prompts()[:5]  # 5 complaints of different lengths: the shortest gets 4 pad tokens
    widths = {len(tok(sw.render(tok, p), add_special_tokens=False).input_ids) for p in prompts}
    assert len(widths) > 1  # padding is really exercised
    batched = _tokens(model, tok, prompts, batch_size=len(prompts), max_new_tokens=40)
    alone = _tokens(model, tok, prompts, batch_size=1, max_new_tokens=40)
    assert batched == alone
    # and the strings the notebooks (sw.generate, sw.answers) and the CLI (answers) get, through the one code path
    texts = sw.generate(model, tok, prompts, chat=True, max_new_tokens=40, progress=False, **DECODING)
    assert texts == [tok.decode(ids, skip_special_tokens=True).strip() for ids in alone]
    table = sw.answers(model, tok, prompts, name="smol", max_new_tokens=40, progress=False)
    assert list(table["smol"]) == texts


def test_gemma3_batched_greedy_answers_are_the_one_at_a_time_tokens(tiny_gemma3, gemma_tok):
    prompts = ["Hi", "My neighbour plays loud music every night until two in the morning.", "Rain again."]
    assert gemma_tok.pad_token == "<pad>" and gemma_tok.pad_token_id != gemma_tok.eos_token_id
    batched = _tokens(tiny_gemma3, gemma_tok, prompts, batch_size=3, max_new_tokens=24)
    alone = _tokens(tiny_gemma3, gemma_tok, prompts, batch_size=1, max_new_tokens=24)
    assert batched == alone
    assert (sw.generate(tiny_gemma3, gemma_tok, prompts, chat=True, max_new_tokens=24, progress=False, **DECODING)
            == [sw.reply(tiny_gemma3, gemma_tok, p, max_new_tokens=24, **DECODING) for p in prompts])


def test_batched_generation_shows_progress_per_token_and_leaves_the_tokenizer_as_it_was(tiny_gemma3, gemma_tok,
                                                                                       capsys):
    side = gemma_tok.padding_side
    sw.generate(tiny_gemma3, gemma_tok, ["Hi", "Rain again."], chat=True, max_new_tokens=5, desc="Answers: x")
    err = capsys.readouterr().err
    assert "Answers: x" in err and "5/5" in err and "step" in err and "2 prompts in 1 batch" in err
    assert gemma_tok.padding_side == side


def test_batch_size_must_be_a_positive_whole_number(tiny_gemma3, gemma_tok):
    with pytest.raises(ValueError, match="batch_size must be a whole number of at least 1"):
        sw.generate(tiny_gemma3, gemma_tok, ["Hi"], chat=True, batch_size=0)


@pytest.mark.parametrize("skip", [0, 5, 40])
def test_scoring_only_the_scored_positions_is_the_models_own_loss(tiny_gemma3, gemma_tok, smol, skip):
    for model, tok in ((tiny_gemma3, gemma_tok), smol):
        chunk = tok(general_text()[:600], return_tensors="pt").input_ids[:, :64]
        with torch.inference_mode():
            fast, n_fast = _window_loss(model, chunk, skip)
            whole, n_whole = _window_loss(model, chunk, skip, whole=True)
        assert n_fast == n_whole == chunk.shape[1] - max(skip, 1)
        assert fast == pytest.approx(whole, rel=1e-5)


def test_perplexity_over_several_windows_is_unchanged(smol):
    import stoic_workshop.evaluate as ev

    model, tok = smol
    text = general_text()[:3000]
    fast = perplexity(model, tok, text, window=128, stride=64, cache=False)
    plain = ev._window_loss
    try:
        ev._window_loss = lambda *a, **k: plain(*a, whole=True, **k)
        slow = perplexity(model, tok, text, window=128, stride=64, cache=False)
    finally:
        ev._window_loss = plain
    assert fast == pytest.approx(slow, rel=1e-5)
