"""Chat templates: the exact text a chat model sees, and where its turn ends.

An instruction-tuned model only behaves like a chat engine when its input is wrapped in the
turn markup it was trained on, and it only stops talking when generation stops at its
end-of-turn token. Fine-tuning data must use the same markup, byte for byte: badly formatted
data teaches nonsense. The Gemma 3 270M GGUF file carries no template, so this module owns
Google's Gemma template and installs it where it is missing.
"""

from __future__ import annotations

__all__ = ["GEMMA_TEMPLATE", "prepare_tokenizer", "end_of_turn", "render", "check_chat_tokens"]

# Google's published Gemma 3 chat template (text and image parts). A system message is folded
# into the first user turn, the assistant role is called "model", and every turn ends with
# "<end_of_turn>\n". Gemma 2 renders conversations without a system message identically.
GEMMA_TEMPLATE = (
    "{{ bos_token }}\n"
    "{%- if messages[0]['role'] == 'system' -%}\n"
    "    {%- if messages[0]['content'] is string -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'] + '\\n\\n' -%}\n"
    "    {%- else -%}\n"
    "        {%- set first_user_prefix = messages[0]['content'][0]['text'] + '\\n\\n' -%}\n"
    "    {%- endif -%}\n"
    "    {%- set loop_messages = messages[1:] -%}\n"
    "{%- else -%}\n"
    "    {%- set first_user_prefix = \"\" -%}\n"
    "    {%- set loop_messages = messages -%}\n"
    "{%- endif -%}\n"
    "{%- for message in loop_messages -%}\n"
    "    {%- if (message['role'] == 'user') != (loop.index0 % 2 == 0) -%}\n"
    "        {{ raise_exception(\"Conversation roles must alternate user/assistant/user/assistant/...\") }}\n"
    "    {%- endif -%}\n"
    "    {%- if (message['role'] == 'assistant') -%}\n"
    "        {%- set role = \"model\" -%}\n"
    "    {%- else -%}\n"
    "        {%- set role = message['role'] -%}\n"
    "    {%- endif -%}\n"
    "    {{ '<start_of_turn>' + role + '\\n' + (first_user_prefix if loop.first else \"\") }}\n"
    "    {%- if message['content'] is string -%}\n"
    "        {{ message['content'] | trim }}\n"
    "    {%- elif message['content'] is iterable -%}\n"
    "        {%- for item in message['content'] -%}\n"
    "            {%- if item['type'] == 'image' -%}\n"
    "                {{ '<start_of_image>' }}\n"
    "            {%- elif item['type'] == 'text' -%}\n"
    "                {{ item['text'] | trim }}\n"
    "            {%- endif -%}\n"
    "        {%- endfor -%}\n"
    "    {%- else -%}\n"
    "        {{ raise_exception(\"Invalid content type\") }}\n"
    "    {%- endif -%}\n"
    "    {{ '<end_of_turn>\\n' }}\n"
    "{%- endfor -%}\n"
    "{%- if add_generation_prompt -%}\n"
    "    {{'<start_of_turn>model\\n'}}\n"
    "{%- endif -%}\n"
)

# End-of-turn markers of the chat formats the course meets: Gemma, ChatML (SmolLM2), Llama 3.
_TURN_ENDS = ("<end_of_turn>", "<|im_end|>", "<|eot_id|>")


def _token_id(tokenizer, token: str) -> int | None:
    ids = tokenizer.convert_tokens_to_ids([token])
    tid = ids[0] if ids else None
    if tid is None or (tid == tokenizer.unk_token_id and token != tokenizer.unk_token):
        return None
    return tid


def end_of_turn(tokenizer) -> str | None:
    """The token that closes a chat turn for this tokenizer, e.g. "<end_of_turn>" for Gemma.

    Example: `sw.end_of_turn(chat_tok)`  # -> "<|im_end|>" for SmolLM2 (ChatML); None if it has no turn marker
    """
    for token in _TURN_ENDS:
        if _token_id(tokenizer, token) is not None:
            return token
    return None


def check_chat_tokens(tokenizer) -> None:
    """Each turn marker must be one special token; split into pieces, the model never learns it.

    Example: `sw.check_chat_tokens(tok)`  # -> None if the markers are fine; raises ValueError naming a split marker
    """
    names = ("<start_of_turn>", "<end_of_turn>") if _token_id(tokenizer, "<start_of_turn>") is not None \
        else tuple(t for t in ("<|im_start|>", "<|im_end|>") if _token_id(tokenizer, t) is not None)
    for token in names:
        ids = tokenizer(token, add_special_tokens=False).input_ids
        if len(ids) != 1:
            raise ValueError(f"{token} is split into {len(ids)} tokens {ids}: it must be a single special "
                             "token, or the model cannot learn where turns begin and end.")
        if token not in tokenizer.all_special_tokens and ids[0] not in tokenizer.added_tokens_decoder:
            raise ValueError(f"{token} (id {ids[0]}) is not marked special: it would be printed as text.")


def prepare_tokenizer(tokenizer, model=None, family: str = "gemma") -> None:
    """Give the tokenizer a chat template and a pad token, and make generation stop at end of turn."""
    if family == "gemma" and not getattr(tokenizer, "chat_template", None):
        tokenizer.chat_template = GEMMA_TEMPLATE
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if getattr(tokenizer, "chat_template", None):
        check_chat_tokens(tokenizer)
    if model is None:
        return
    stops = [tokenizer.eos_token_id]
    turn_end = end_of_turn(tokenizer)
    if turn_end is not None:
        stops.append(_token_id(tokenizer, turn_end))
    model.generation_config.eos_token_id = list(dict.fromkeys(i for i in stops if i is not None))
    model.generation_config.pad_token_id = tokenizer.pad_token_id


def render(tokenizer, messages, add_generation_prompt: bool = True) -> str:
    """The exact text a chat model receives for `messages` (a string is one user message).

    Example: `print(render(tok, "Stuck in traffic again."))`
    """
    if isinstance(messages, str):
        messages = [{"role": "user", "content": messages}]
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError("This tokenizer has no chat template: it belongs to a base model. Give it raw "
                         "text, or load it with stoic_workshop.load_model, which installs Gemma's template.")
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)
