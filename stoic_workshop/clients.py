"""Clients for chat models behind an API or in this process: the judges, and the API key they share with the teacher.

Why it exists: a judge is only a model that answers a prompt, and where that model runs (a hosted API,
a llama.cpp server on this machine, a transformers model in this process) should not change how answers
are judged. `judging.py` holds the rubric and the judging; this module holds the ways of asking a model.

    from stoic_workshop.clients import LocalJudge, OpenAIJudge
    j = OpenAIJudge("http://127.0.0.1:8080/v1", model="smollm2-135m-instruct")   # any OpenAI-compatible server
    j = LocalJudge(*stoic_workshop.load_model("smollm2-135m-instruct"))          # no server, no key

Any object with a `name` and an `ask(messages, schema, attempt) -> str` method will do as a judge.

The API key is read from an environment variable, or on Colab from the notebook's secrets (`api_key`), never
passed as an argument, so that it cannot end up in a notebook cell; it is kept out of every repr, message and
error made here (`describe_error` scrubs it from what the server says).
"""

from __future__ import annotations

import json
import os
import time
import warnings
from pathlib import Path
from typing import TYPE_CHECKING

from .judging import REASON_CHARS, JudgeError

if TYPE_CHECKING:
    import openai

__all__ = ["OpenAIJudge", "LocalJudge", "OPENAI_URL", "PLACEHOLDER_KEY", "api_key", "stored_key", "is_local",
           "describe_error"]

OPENAI_URL = "https://api.openai.com/v1"
PLACEHOLDER_KEY = "not-needed"  # what local servers (llama.cpp, Ollama, vLLM) accept when they want no key


# ---------------------------------------------------------------------------------------------
# Endpoint, key and errors


def _base_url(base_url: str | None = None) -> str:
    """The endpoint as the openai client picks it: the argument, else $OPENAI_BASE_URL, else OpenAI's API."""
    return base_url or os.environ.get("OPENAI_BASE_URL", "").strip() or OPENAI_URL


def is_local(base_url: str | None) -> bool:
    """True for a server on this machine (localhost, 127.0.0.1, ::1): a local llama.cpp, Ollama or vLLM."""
    from urllib.parse import urlparse

    return bool(base_url) and urlparse(base_url).hostname in ("localhost", "127.0.0.1", "::1")


def stored_key(env_name: str, *, colab: bool = True) -> str:
    """The key in $`env_name`, else (with `colab`) the Colab secret of that name, else "" (and no warning)."""
    key = os.environ.get(env_name, "").strip()
    if not key and colab:
        try:
            from google.colab import userdata  # only on Colab; asks the user to grant access once

            key = (userdata.get(env_name) or "").strip()
        except Exception:  # not on Colab, no such secret, or access not granted
            key = ""
    return key


def api_key(env_name: str, *, colab: bool = True, stacklevel: int = 3, base_url: str | None = None) -> str:
    """The key in $`env_name`, else (with `colab`) the Colab secret of that name, else the placeholder key.

    The placeholder, which local servers accept, comes with a warning (hosted APIs will answer 401) that
    points `stacklevel` frames up, as in `warnings.warn`: the default 3 is the caller of the function that
    asked for the key. No warning where `base_url` is this machine's own server (localhost), which wants none.
    The key itself is never printed. Example: `api_key("OPENAI_API_KEY")  # -> "sk-..."`
    """
    key = stored_key(env_name, colab=colab)
    if key or is_local(base_url):
        return key or PLACEHOLDER_KEY
    where = " (nor a Colab secret of that name)" if colab else ""
    warnings.warn(f"${env_name} is not set{where}: sending the placeholder key {PLACEHOLDER_KEY!r}, which local "
                  "servers accept; hosted APIs will answer 401", stacklevel=stacklevel)
    return PLACEHOLDER_KEY


def describe_error(exc: openai.OpenAIError, client: openai.OpenAI, api_key_env: str) -> str:
    """A message that says what to fix; server text is included only with the key scrubbed out.

    Example: `describe_error(exc, client, "OPENAI_API_KEY")  # -> "HTTP 404: ... (check base_url ...)"`
    """
    import openai

    if isinstance(exc, openai.AuthenticationError):
        # Hosted APIs echo part of a rejected key in their message, so none of it is repeated here.
        return f"authentication failed (HTTP 401): the server rejected the API key from ${api_key_env}"
    if isinstance(exc, openai.APITimeoutError):
        return f"no answer within {client.timeout} s (max_retries={client.max_retries}); is the model still loading?"
    if isinstance(exc, openai.APIConnectionError):
        return (f"connection failed (max_retries={client.max_retries}): nothing answered at this address; "
                "is the server running, and does base_url end in /v1?")
    if isinstance(exc, openai.NotFoundError):
        return f"HTTP 404: {_scrub(exc.message, client.api_key)} (check base_url, usually ending in /v1, and model)"
    if isinstance(exc, openai.APIStatusError):
        return f"HTTP {exc.status_code}: {_scrub(exc.message, client.api_key)}"
    return f"{type(exc).__name__}: {_scrub(str(exc), client.api_key)}"


def _scrub(text: str, key: str, limit: int = 300) -> str:
    return text.replace(key, "***")[:limit]


def _problem(exc, client, api_key_env: str) -> str:
    """describe_error's messages, except where they would name the client's max_retries, unused by the judges."""
    import openai

    if isinstance(exc, openai.APITimeoutError):
        return f"no answer within {client.timeout} s; is the model still loading, or the answer too long?"
    if isinstance(exc, openai.APIConnectionError):
        return ("connection failed: nothing answered at this address; is the server running, and does base_url "
                "end in /v1?")
    return describe_error(exc, client, api_key_env)


def _retry_after(exc) -> float:
    response = getattr(exc, "response", None)
    try:
        return float(response.headers.get("retry-after", 0)) if response is not None else 0.0
    except (TypeError, ValueError):
        return 0.0


def _without_limits(schema: dict) -> dict:
    """OpenAI's strict mode rejects minLength/maxLength: keep only what it accepts."""
    if not isinstance(schema, dict):
        return schema
    return {k: ({n: _without_limits(s) for n, s in v.items()} if k == "properties" else _without_limits(v))
            for k, v in schema.items() if k not in ("minLength", "maxLength")}


# ---------------------------------------------------------------------------------------------
# Judges


class OpenAIJudge:
    """A judge behind any OpenAI-compatible chat endpoint: OpenAI, llama.cpp, Ollama, vLLM.

    As in the official `openai` client, the endpoint is `base_url`, else $OPENAI_BASE_URL, else OpenAI's own
    API. The key comes from the environment variable `api_key_env`, or on Colab from the notebook's secrets
    (the key icon) under the same name; it is never printed, logged, shown in repr or put in an error.
    `structured=True` makes the server constrain the answer to the verdict's JSON schema: OpenAI's
    `json_schema` form when `base_url` is OpenAI's, otherwise `{"type": "json_object", "schema": ...}`,
    the form llama-cpp-python's server (and llama.cpp's own) accept. Pass "json_schema" for vLLM or
    Ollama, or False for servers without structured output (the prompt alone then asks for JSON).
    Timeouts, lost connections, 429 and 5xx answers are retried `retries` times, waiting `backoff` s,
    then twice as long each time (or what the server's Retry-After asks, up to `max_wait`).
    Example: `OpenAIJudge("http://127.0.0.1:8080/v1", model="smollm2-135m-instruct")`
    """

    def __init__(self, base_url: str | None = None, model: str = "gpt-4o-mini", *, api_key_env: str = "OPENAI_API_KEY",
                 timeout: float = 60.0, structured: bool | str = True, retries: int = 4, backoff: float = 1.0,
                 max_wait: float = 60.0, max_tokens: int = 200, temperature: float = 0.0, seed: int = 3407):
        import openai  # only needed here: LocalJudge works without

        if structured not in (True, False, "json_schema", "json_object"):
            raise ValueError(f"structured must be True, False, 'json_schema' or 'json_object', got {structured!r}")
        self.base_url = _base_url(base_url)
        self.model, self.api_key_env, self.timeout = model, api_key_env, timeout
        if structured is True:
            structured = "json_schema" if "api.openai.com" in self.base_url else "json_object"
        self.structured = structured
        self.retries, self.backoff, self.max_wait = retries, backoff, max_wait
        self.max_tokens, self.temperature, self.seed = max_tokens, temperature, seed
        # max_retries=0: retries happen in ask(), where they are counted, bounded and explained.
        self._client = openai.OpenAI(base_url=self.base_url, api_key=api_key(api_key_env, base_url=self.base_url),
                                     timeout=timeout, max_retries=0)

    @property
    def name(self) -> str:
        return self.model

    def __repr__(self) -> str:
        return (f"OpenAIJudge(base_url={self.base_url!r}, model={self.model!r}, api_key_env={self.api_key_env!r}, "
                f"structured={self.structured!r})")

    def ask(self, messages: list[dict], schema: dict | None = None, attempt: int = 0) -> str:
        """The judge's text for `messages`. Attempt 0 is greedy; later attempts sample, so a retry can differ."""
        settings = dict(model=self.model, messages=messages, max_tokens=self.max_tokens, seed=self.seed + attempt,
                        temperature=self.temperature if attempt == 0 else max(self.temperature, 0.7))
        if schema is not None and self.structured == "json_object":
            settings["response_format"] = {"type": "json_object", "schema": schema}
        elif schema is not None and self.structured == "json_schema":
            settings["response_format"] = {"type": "json_schema", "json_schema": {
                "name": "judgement", "strict": True, "schema": _without_limits(schema)}}
        for tries in range(self.retries + 1):
            text, problem, wait = self._once(settings)
            if problem is None:
                return text
            if wait is None or tries == self.retries:
                break
            time.sleep(min(self.max_wait, max(wait, self.backoff * 2 ** tries)))
        # Raised here, outside any `except`: a chained openai error would carry the request and its key.
        fatal = problem.startswith(("authentication", "HTTP 403", "HTTP 404", "connection failed"))
        raise JudgeError(f"judge {self.model!r} at {self.base_url}: {problem}"
                         + (f" (after {tries + 1} tries)" if tries else ""), fatal=fatal)

    def _once(self, settings: dict) -> tuple[str | None, str | None, float | None]:
        """(text, None, None) on success, else (None, problem, seconds to wait or None if not worth retrying)."""
        import openai

        try:
            completion = self._client.chat.completions.create(**settings)
        except openai.OpenAIError as exc:
            problem = _problem(exc, self._client, self.api_key_env)
            # llama-cpp-python answers an unknown response_format with HTTP 500, which is not worth retrying
            refused = isinstance(exc, (openai.BadRequestError, openai.UnprocessableEntityError)) or (
                "response_format" in str(getattr(exc, "message", "")))
            if refused and "response_format" in settings:
                return None, problem + (f" (structured={self.structured!r}: if this server does not accept that "
                                        "response_format, try structured='json_schema', 'json_object' or False)"), None
            transient = (openai.APITimeoutError, openai.APIConnectionError, openai.RateLimitError,
                         openai.InternalServerError)
            return None, problem, (_retry_after(exc) if isinstance(exc, transient) else None)
        if not completion.choices:
            return None, "the server answered with no choices", None
        return completion.choices[0].message.content or "", None, None


class LocalJudge:
    """A transformers chat model as the judge, in this process: no server and no key.

    Structured output by hand, as llama.cpp's grammar does it: the JSON is written field by field, the
    model writes free text only inside strings (the reason), and for each score or A/B/tie it is the
    option the model finds most likely. So even a 135M model always answers valid JSON, and the scores
    are the model's own preference. Without a schema it just answers (see `generate`).
    `max_new_tokens` bounds the answer, or the reason inside the JSON (the scores cost one step each).
    Greedy on the first attempt; a retry samples (temperature 0.7), so it can differ.
    Example: `LocalJudge(*stoic_workshop.load_model("smollm2-135m-instruct"))`
    """

    def __init__(self, model, tokenizer, *, name: str | None = None, max_new_tokens: int = 80, seed: int = 3407):
        if not getattr(tokenizer, "chat_template", None):
            raise ValueError("LocalJudge needs an instruct model with a chat template; a base model only "
                             "continues text and will not follow a rubric")
        self.model, self.tokenizer, self.max_new_tokens, self.seed = model, tokenizer, max_new_tokens, seed
        self.name = name or Path(getattr(model.config, "_name_or_path", "") or type(model).__name__).name

    def __repr__(self) -> str:
        return f"LocalJudge({self.name!r})"

    def ask(self, messages: list[dict], schema: dict | None = None, attempt: int = 0) -> str:
        from .chat import render

        fields = (schema or {}).get("properties", {})
        if not fields or not all("enum" in f or f.get("type") == "string" for f in fields.values()):
            return self._answer(messages, attempt)
        writer, text = _Writer(self.model, self.tokenizer, self.seed + attempt), "{"
        prompt = render(self.tokenizer, messages)
        for number, (name, field) in enumerate(fields.items()):
            text += (", " if number else "") + json.dumps(name) + ": "
            if "enum" in field:
                options = [json.dumps(value) for value in field["enum"]]
                text += options[writer.choose(prompt + text, options)]
            else:
                words = writer.string(prompt + text + '"', field.get("maxLength", REASON_CHARS),
                                      max_tokens=self.max_new_tokens, sample=attempt > 0)
                text += json.dumps(words)
        return text + "}"

    def _answer(self, messages, attempt: int) -> str:
        from .generation import generate

        system = [m["content"] for m in messages if m["role"] == "system"]
        users = [m["content"] for m in messages if m["role"] == "user"]
        if len(users) != 1 or len(system) > 1 or len(messages) != len(system) + len(users):
            raise ValueError("LocalJudge takes one optional system message and one user message")
        return generate(self.model, self.tokenizer, users, chat=True, system=system[0] if system else None,
                        max_new_tokens=self.max_new_tokens, do_sample=attempt > 0, seed=self.seed + attempt,
                        progress=False)[0]


class _Writer:
    """The model reading a growing text: token ids with their KV cache, so each step runs only the new tokens."""

    def __init__(self, model, tokenizer, seed: int):
        import inspect

        import torch

        self.model, self.tokenizer, self.torch = model, tokenizer, torch
        # transformers 5.2x renamed `past_key_values` to `cache`; 5.17 (the Colab profile) knows only the old name.
        # A PEFT model's forward takes **kwargs, so ask the model underneath.
        inner = model.get_base_model() if hasattr(model, "get_base_model") else model
        self.cache_name = "cache" if "cache" in inspect.signature(inner.forward).parameters else "past_key_values"
        self.random = torch.Generator().manual_seed(seed)
        self.ids, self.cache, self.logits = [], None, None  # logits: for the token after self.ids

    def read(self, text: str) -> list[int]:
        ids = self.tokenizer(text, add_special_tokens=False).input_ids  # the chat template has its own <bos>
        if ids == self.ids:
            return ids
        if ids[:len(self.ids)] != self.ids:
            self.ids, self.cache = [], None  # the tokens at the seam changed: read everything again (rare)
        self._run(ids[len(self.ids):])
        self.ids = ids
        return ids

    def _run(self, new: list[int]) -> None:
        torch = self.torch
        with torch.inference_mode():
            out = self.model(input_ids=torch.tensor([new], device=self.model.device), use_cache=True,
                             **{self.cache_name: self.cache})
        self.cache, self.logits = getattr(out, self.cache_name), out.logits[0, -1].float()

    def choose(self, context: str, options: list[str]) -> int:
        """The index of the option the model would most likely write next (the first token decides)."""
        ids = self.read(context)
        scores = []
        for option in options:
            full = self.tokenizer(context + option, add_special_tokens=False).input_ids
            if full[:len(ids)] == ids and len(full) > len(ids):
                scores.append(self.logits[full[len(ids)]].item())
            else:  # the option merges with the end of the context: score its first differing token directly
                k = next((i for i, (a, b) in enumerate(zip(ids, full)) if a != b), min(len(ids), len(full) - 1))
                with self.torch.inference_mode():
                    logits = self.model(input_ids=self.torch.tensor([full[:k]], device=self.model.device)).logits
                scores.append(logits[0, -1, full[k]].item())
        return max(range(len(options)), key=scores.__getitem__)

    def string(self, context: str, max_chars: int, max_tokens: int, sample: bool) -> str:
        """Free text up to the closing quote; the cache is then put back to the end of `context`."""
        import copy

        self.read(context)
        saved = (list(self.ids), copy.deepcopy(self.cache), self.logits)
        ends = self.model.generation_config.eos_token_id
        new, stops = [], {self.tokenizer.eos_token_id, *(ends if isinstance(ends, list) else [ends])}
        while len(new) < min(max_tokens, max_chars // 2):
            if sample:
                # drawn on the CPU, whatever device the model is on: the generator is a CPU one (a CUDA tensor with
                # it fails: seen on an H200 when a judge's retry sampled), and the draws repeat across devices
                probs = self.torch.softmax(self.logits.float().cpu() / 0.7, dim=-1)
                token = int(self.torch.multinomial(probs, 1, generator=self.random))
            else:
                token = int(self.logits.argmax())
            if token in stops:
                break
            new.append(token)
            if '"' in self.tokenizer.decode([token]) or "\n" in self.tokenizer.decode([token]):
                break
            self._run([token])
        self.ids, self.cache, self.logits = saved
        text = self.tokenizer.decode(new, skip_special_tokens=True)
        return " ".join(text.split('"')[0].split())[:max_chars]

