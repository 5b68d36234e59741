"""Generation: bounded, deterministic, and stopping at the end of the model's turn."""

import pytest

import stoic_workshop as sw

HELLO, END_OF_TURN = 9259, 106  # Gemma 3 ids of "Hello" and <end_of_turn>


def _script(prompt_len, stop_after):
    """Force the tiny model to say "Hello" `stop_after` times, then <end_of_turn>, then "Hello" forever."""
    def allowed(batch_id, ids):
        step = len(ids) - prompt_len
        return [END_OF_TURN] if step == stop_after else [HELLO]
    return allowed


def test_reply_stops_at_end_of_turn(tiny_gemma3, gemma_tok):
    prompt_len = len(gemma_tok(sw.render(gemma_tok, "Hi"), add_special_tokens=False).input_ids)
    answer = sw.reply(tiny_gemma3, gemma_tok, "Hi", max_new_tokens=20,
                      prefix_allowed_tokens_fn=_script(prompt_len, stop_after=3))
    # Three "Hello"s, then <end_of_turn> ends generation and is not shown: 4 of 20 tokens used.
    assert answer == "HelloHelloHello"


def test_without_turn_end_in_stop_ids_generation_runs_on(tiny_gemma3, gemma_tok):
    # The control for the test above: the stop ids, not the scripted tokens, end the turn.
    tiny_gemma3.generation_config.eos_token_id = [1]  # <eos> only, as a GGUF-converted Gemma comes
    prompt_len = len(gemma_tok(sw.render(gemma_tok, "Hi"), add_special_tokens=False).input_ids)
    answer = sw.reply(tiny_gemma3, gemma_tok, "Hi", max_new_tokens=8,
                      prefix_allowed_tokens_fn=_script(prompt_len, stop_after=3))
    # 3 + <end_of_turn> (dropped when decoding) + 4 more: 7 "Hello"s in 8 tokens.
    assert answer == "Hello" * 7


def test_greedy_generation_is_deterministic_and_bounded(smol):
    model, tok = smol
    prompts = ["My train is late again.", "It rained on my picnic."]
    first = sw.generate(model, tok, prompts, chat=True, max_new_tokens=12, progress=False)
    second = sw.generate(model, tok, prompts, chat=True, max_new_tokens=12, progress=False)
    assert first == second and all(first)
    assert all(len(tok(a, add_special_tokens=False).input_ids) <= 12 for a in first)
    assert not any("<|im_" in a for a in first)


def test_batched_answers_match_one_by_one(smol):
    # Left padding must not change what a prompt gets (greedy, fp32).
    model, tok = smol
    prompts = ["Stuck in traffic.", "My boss ignored my email for the third time this week."]
    batched = sw.generate(model, tok, prompts, chat=True, max_new_tokens=10, batch_size=2, progress=False)
    single = [sw.reply(model, tok, p, max_new_tokens=10) for p in prompts]
    assert batched == single


def test_a_single_string_is_refused(smol):
    model, tok = smol
    with pytest.raises(TypeError, match="list of strings"):
        sw.generate(model, tok, "one prompt", chat=True)


def test_side_by_side_checks_lengths_and_shows_every_prompt():
    table = sw.side_by_side(["a complaint", "another"], {"Base": ["x", "y"], "IT": ["p", "q"]})
    html = table.to_html()
    assert "a complaint" in html and "another" in html and list(table.data.columns) == ["Prompt", "Base", "IT"]
    with pytest.raises(ValueError, match="'IT' has 1 answers for 2 prompts"):
        sw.side_by_side(["a", "b"], {"Base": ["x", "y"], "IT": ["p"]})
