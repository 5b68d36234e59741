"""Ask a model things: raw text for a base model, the chat template for an instruct model.

A base model is an autocomplete engine: it continues the text it is given. An instruct model
is a chat engine: it answers a turn, then emits its end-of-turn token. Generation here is greedy
by default (the same prompt gives the same answer on every run) and always bounded in length.
"""

from __future__ import annotations

from tqdm.auto import tqdm

from .chat import render

__all__ = ["complete", "reply", "generate", "BATCH_SIZE"]


BATCH_SIZE = 16  # prompts decoded together: the evaluation's 16 held-out complaints in one batch


def generate(model, tokenizer, prompts: list[str], *, chat: bool, system: str | None = None,
             max_new_tokens: int = 80, batch_size: int = BATCH_SIZE, do_sample: bool = False,
             temperature: float = 0.7, seed: int = 3407, progress: bool = True, desc: str = "Generating",
             adapter_names: list[str] | None = None, **kwargs) -> list[str]:
    """Answers for many prompts, decoded together in batches of `batch_size`, with a progress bar.

    `chat=True` wraps each prompt in the tokenizer's chat template (instruct models);
    `chat=False` passes the raw text (base models).
    Prompts are left-padded (with the tokenizer's pad token, masked out by the attention mask), so every prompt's
    new tokens follow it directly; a batch stops when each of its answers has reached an end-of-turn token or
    `max_new_tokens`. On a CPU a step for 16 prompts costs little more than for 4 or 1 (the weights are read once per
    step): the main job's 32 answers took 33 s in batches of 16 against 101 s in batches of 4 on the course's 2-core
    machine (bench/main_job.py, its first run; the committed one decodes them as one mixed batch of 32). Greedy
    answers are the same tokens as one prompt at a time, except at a step whose two likeliest tokens are within float
    rounding of each other (a few millionths of a logit), where a matrix product over 16 rows can round the other way
    than over one (tests/test_batched_evaluation.py).
    `batch_size=1` decodes one prompt at a time. The bar counts decoding steps (one new token for each prompt).
    `adapter_names` (a PEFT model): the adapter that answers each prompt, "__base__" for none: PEFT's mixed-adapter
    batch, which decodes a base model's and a fine-tune's answers together (see `evaluate.answers`' `before`).
    Example: `sw.generate(model, tok, ["Stuck in traffic again.", "My boss ignored me."], chat=True)  # -> 2 answers`
    """
    import torch

    if isinstance(prompts, str):
        raise TypeError("prompts must be a list of strings; for one prompt use reply() or complete()")
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a whole number of at least 1 (prompts decoded together), "
                         f"got {batch_size!r}")
    if chat:
        texts = [render(tokenizer, ([{"role": "system", "content": system}] if system else [])
                        + [{"role": "user", "content": p}]) for p in prompts]
    else:
        texts = list(prompts)
    pad = tokenizer.pad_token
    if pad is None and tokenizer.eos_token is None:
        raise ValueError("this tokenizer has neither a pad token nor an end-of-sequence token to pad prompts with: "
                         "load it with stoic_workshop.load_model, or set tokenizer.pad_token")
    settings = dict(max_new_tokens=max_new_tokens, do_sample=do_sample, **kwargs)
    if do_sample:
        settings["temperature"] = temperature
        torch.manual_seed(seed)
    batches = [texts[start:start + batch_size] for start in range(0, len(texts), batch_size)]
    if adapter_names is not None and len(adapter_names) != len(texts):
        raise ValueError(f"adapter_names names {len(adapter_names)} adapters for {len(texts)} prompts: give one each")
    bar = tqdm(total=len(batches) * max_new_tokens, desc=desc, unit="step", disable=not progress,
               postfix=f"{len(texts)} prompts in {len(batches)} batch{'es' * (len(batches) > 1)}")
    if progress:
        from transformers import StoppingCriteriaList

        settings["stopping_criteria"] = StoppingCriteriaList([*(settings.get("stopping_criteria") or []), _tick(bar)])
    device = next(model.parameters()).device
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"  # new tokens must follow every prompt directly
    if pad is None:  # a tokenizer without a pad token (load_model gives every one): its end of sequence, masked out
        tokenizer.pad_token = tokenizer.eos_token
    settings.setdefault("pad_token_id", tokenizer.pad_token_id)
    answers: list[str] = []
    try:
        for number, batch in enumerate(batches, start=1):
            # The chat template already starts with <bos>; adding special tokens again would double it.
            inputs = tokenizer(batch, return_tensors="pt", padding=True,
                               add_special_tokens=not chat).to(device)
            start = (number - 1) * batch_size
            mixed = {} if adapter_names is None else {"adapter_names": adapter_names[start:start + len(batch)]}
            with torch.inference_mode():
                out = model.generate(**inputs, **settings, **mixed)
            new = out[:, inputs["input_ids"].shape[1]:]
            answers += [a.strip() for a in tokenizer.batch_decode(new, skip_special_tokens=True)]
            bar.update(max(0, number * max_new_tokens - bar.n))  # a batch whose answers all ended early
    finally:
        tokenizer.padding_side = side
        if pad is None:
            tokenizer.pad_token = None
        bar.close()
    return answers


def _tick(bar):
    """A stopping criterion that never stops: it moves the progress bar one token per decoding step."""
    import torch
    from transformers import StoppingCriteria

    class Tick(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            bar.update(1)
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    return Tick()


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
