"""The Gemma chat template, checked against hand-written renderings of Google's format."""

import jinja2
import pytest
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import WhitespaceSplit
from transformers import PreTrainedTokenizerFast

import stoic_workshop as sw
from stoic_workshop.chat import prepare_tokenizer


def test_single_turn_with_generation_prompt(gemma_tok):
    # One <bos>, the user turn closed by "<end_of_turn>\n", then the opening of the model's turn.
    assert sw.render(gemma_tok, "Hi there") == "<bos><start_of_turn>user\nHi there<end_of_turn>\n<start_of_turn>model\n"


def test_system_message_is_folded_into_first_user_turn(gemma_tok):
    messages = [{"role": "system", "content": "Be calm."}, {"role": "user", "content": "  Hi \n"},
                {"role": "assistant", "content": "Hello."}, {"role": "user", "content": "Bye"}]
    expected = ("<bos><start_of_turn>user\nBe calm.\n\nHi<end_of_turn>\n"   # system + blank line + trimmed user text
                "<start_of_turn>model\nHello.<end_of_turn>\n"                # assistant is called "model"
                "<start_of_turn>user\nBye<end_of_turn>\n")
    assert sw.render(gemma_tok, messages, add_generation_prompt=False) == expected


def test_training_example_tokenizes_with_one_bos_and_single_turn_tokens(gemma_tok):
    messages = [{"role": "user", "content": "Stuck in traffic."}, {"role": "assistant", "content": "Breathe."}]
    ids = gemma_tok.apply_chat_template(messages, tokenize=True, return_dict=False)
    ids = list(ids["input_ids"]) if isinstance(ids, dict) else list(ids)
    bos, start, end = 2, 105, 106  # Gemma 3 ids of <bos>, <start_of_turn>, <end_of_turn>
    assert ids[0] == bos and ids.count(bos) == 1
    assert ids.count(start) == 2 and ids.count(end) == 2  # two turns, each one token per marker
    assert gemma_tok.decode(ids) == sw.render(gemma_tok, messages, add_generation_prompt=False)


def test_roles_must_alternate(gemma_tok):
    with pytest.raises(jinja2.TemplateError, match="alternate"):
        sw.render(gemma_tok, [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}])


def test_existing_template_is_kept_and_turn_end_found(smol):
    _, tok = smol
    assert "<|im_start|>" in tok.chat_template  # SmolLM2 keeps its own ChatML template
    assert sw.end_of_turn(tok) == "<|im_end|>"


def test_generation_stops_at_turn_end_ids(smol, gemma_tok, tiny_gemma3):
    model, tok = smol
    assert tok.convert_tokens_to_ids("<|im_end|>") in model.generation_config.eos_token_id
    assert 106 in tiny_gemma3.generation_config.eos_token_id  # <end_of_turn>


def _word_tokenizer(words):
    vocab = {w: i for i, w in enumerate(["[UNK]", *words])}
    backend = Tokenizer(WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = WhitespaceSplit()
    return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]")


def test_turn_marker_that_is_not_special_is_refused():
    # The marker exists in the vocabulary but as ordinary text: it would be printed, not obeyed.
    tok = _word_tokenizer(["<start_of_turn>", "<end_of_turn>", "hello"])
    with pytest.raises(ValueError, match="not marked special"):
        sw.check_chat_tokens(tok)


def test_base_tokenizer_without_template_gets_a_clear_error():
    tok = _word_tokenizer(["hello"])
    prepare_tokenizer(tok, family="llama")  # not Gemma: no template is invented for it
    with pytest.raises(ValueError, match="no chat template"):
        sw.render(tok, "hello")
