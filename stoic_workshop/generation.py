"""Ask a model things: raw text for a base model, the chat template for an instruct model.

A base model is an autocomplete engine: it continues the text it is given. An instruct model
is a chat engine: it answers a turn, then emits its end-of-turn token. Generation here is greedy
by default (the same prompt gives the same answer on every run) and always bounded in length.
"""

from __future__ import annotations

from tqdm.auto import tqdm

from .chat import render

__all__ = ["complete", "reply", "generate"]


def generate(model, tokenizer, prompts: list[str], *, chat: bool, system: str | None = None,
             max_new_tokens: int = 80, batch_size: int = 4, do_sample: bool = False,
             temperature: float = 0.7, seed: int = 3407, progress: bool = True, **kwargs) -> list[str]:
    """Answers for many prompts, in batches, with a progress bar.

    `chat=True` wraps each prompt in the tokenizer's chat template (instruct models);
    `chat=False` passes the raw text (base models).
    Example: `sw.generate(model, tok, ["Stuck in traffic again.", "My boss ignored me."], chat=True)  # -> 2 answers`
    """
    import torch

    if isinstance(prompts, str):
        raise TypeError("prompts must be a list of strings; for one prompt use reply() or complete()")
    if chat:
        texts = [render(tokenizer, ([{"role": "system", "content": system}] if system else [])
                        + [{"role": "user", "content": p}]) for p in prompts]
    else:
        texts = list(prompts)
    settings = dict(max_new_tokens=max_new_tokens, do_sample=do_sample, **kwargs)
    if do_sample:
        settings["temperature"] = temperature
        torch.manual_seed(seed)
    device = next(model.parameters()).device
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # new tokens must follow every prompt directly
    answers: list[str] = []
    bar = tqdm(total=len(texts), desc="Generating", unit="prompt", disable=not progress)
    try:
        for start in range(0, len(texts), batch_size):
            batch = texts[start:start + batch_size]
            # The chat template already starts with <bos>; adding special tokens again would double it.
            inputs = tokenizer(batch, return_tensors="pt", padding=True,
                               add_special_tokens=not chat).to(device)
            with torch.inference_mode():
                out = model.generate(**inputs, **settings)
            new = out[:, inputs["input_ids"].shape[1]:]
            answers += [a.strip() for a in tokenizer.batch_decode(new, skip_special_tokens=True)]
            bar.update(len(batch))
    finally:
        tokenizer.padding_side = side
        bar.close()
    return answers


def complete(model, tokenizer, text: str, **kwargs) -> str:
    """Continue `text` as a base model does.

    Example: `sw.complete(model, tok, "My boss ignored")  # -> the text that follows, e.g. "my email again..."`
    """
    return generate(model, tokenizer, [text], chat=False, progress=False, **kwargs)[0]


def reply(model, tokenizer, message: str, **kwargs) -> str:
    """One chat answer to `message`, stopping at the end of the model's turn.

    Example: `sw.reply(model, tok, "My train is cancelled again.")  # -> one answer, without the end-of-turn token`
    """
    return generate(model, tokenizer, [message], chat=True, progress=False, **kwargs)[0]
