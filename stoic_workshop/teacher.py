"""Teacher mode: let a larger chat model write extra complaint -> Stoic reply pairs.

Why it exists: the hand-written pairs in `stoic_data.py` are few, and a participant with access to a
bigger model (a local llama.cpp, Ollama or vLLM server, or a hosted API) can grow the training set
for new complaints. Every such server speaks the OpenAI chat API, so one client covers them all.

Why everything is validated: a generated reply is only a candidate. Models ramble past the length
limit, slip into lists, and above all invent plausible quotations from Epictetus, Seneca or Marcus
Aurelius that nobody can verify. Fine-tuning on those would teach the student model to make things
up, so a reply enters the data only if it passes the same `validate_pair` rules as the hand-written
pairs, quotes nobody, and repeats no complaint or reply already present.

    from stoic_workshop.teacher import teach
    result = teach(["My train was cancelled again."], base_url="http://127.0.0.1:8080/v1", model="local")
    print(result)            # counts, and why candidates were rejected
    result.pairs             # validated pairs, ids teacher-001, teacher-002, ...

The API key is read from an environment variable (never passed as an argument; `clients.api_key`)
so that it cannot end up in a notebook cell, and it is kept out of every message, error and result
this module makes (`clients.describe_error` scrubs it).
"""

from __future__ import annotations

import random
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tqdm.auto import tqdm

if TYPE_CHECKING:
    import openai

from .clients import api_key, describe_error
from .stoic_data import AREAS, IDEAS, eval_prompts, normalise_text, split_words, validate_pair

__all__ = ["teach", "TeachResult", "TeacherError", "guess_area"]

ID_PREFIX = "teacher-"

SYSTEM_PROMPT = (
    "You are a warm, practical Stoic mentor who answers everyday complaints. Build your answer on one "
    "Stoic idea, {name}: {explanation} Write natural prose in a single paragraph: acknowledge the feeling, "
    "explain the idea in plain words, and suggest one practical step. Do not use lists, headings or "
    "markup. Do not quote anyone, not even the Stoics; say it in your own words."
)
USER_PROMPT = "{complaint} How can the Stoic idea of {name} help me? Please answer in about 70 words."

# Words that suggest an area: "x*" matches any word starting with x; "x" and "a b" match themselves or a plural.
AREA_WORDS = {
    "work": ("job", "boss", "work*", "office", "colleague", "coworker", "meeting", "manager", "promotion",
             "interview", "deadline", "shift", "client", "overtime", "payslip"),
    "commuting": ("train", "bus", "buses", "traffic", "commut*", "motorway", "parking", "cyclist", "tube",
                  "platform", "sat nav", "detour", "roadwork", "car", "driver", "taxi", "tram", "bike", "station",
                  "road", "drive", "crash"),
    "money": ("money", "bill", "debt", "tax", "saving", "bank", "price", "afford*", "wallet", "salary", "loan",
              "mortgage", "budget", "expensive", "overdraft", "invest*", "pension", "rent", "refund", "cost",
              "pounds", "bet", "fund", "earn*", "pay"),
    "health": ("illness", "sick", "pain", "doctor", "migraine", "injur*", "diet", "gym", "hospital", "flu",
               "cold", "headache", "weight", "diagnos*", "knee", "tooth", "teeth", "dentist", "insomnia", "back",
               "running", "exercise", "sleep", "ache", "surgery", "lump", "health", "smoking", "arm"),
    "relationships": ("partner", "friend", "wife", "husband", "boyfriend", "girlfriend", "family", "sister",
                      "brother", "date", "dating", "breakup", "broke up", "wedding", "anniversary", "in law",
                      "parents", "mum", "dad", "son", "daughter", "lonely", "relationship", "ex"),
    "technology": ("phone", "laptop", "computer", "wifi", "wi fi", "internet", "app", "update", "password",
                   "printer", "email", "battery", "software", "charger", "screen", "download*", "website",
                   "router", "smart", "video call", "hacked", "account", "scroll*", "ai"),
    "weather_travel": ("rain*", "weather", "holiday", "flight", "airport", "trip", "hotel", "snow*", "heatwave",
                       "storm", "camping", "luggage", "beach", "sun", "fog", "wind", "travel*", "abroad",
                       "tourist", "plane", "flying", "winter", "turbulence"),
    "social_media": ("instagram", "posted", "likes", "follower", "online", "twitter", "tiktok", "comment*",
                     "group chat", "influencer", "facebook", "unfollow*", "selfie", "viral", "social media"),
    "study": ("exam", "essay", "revis*", "homework", "university", "class", "grade", "thesis", "school",
              "lecture", "dissertation", "tutor", "course", "student", "study", "studying", "teacher", "mark",
              "classmate", "scholarship", "procrastinat*", "test"),
    "ageing_loss": ("old", "older", "aged", "ageing", "aging", "died", "death", "dying", "grief", "funeral",
                    "retire*", "wrinkle", "grandfather", "grandmother", "grandma", "grandad", "dementia",
                    "birthday", "grey", "lose", "loss", "frail", "decades", "fifty", "sixty", "eyesight"),
    "home": ("neighbour", "neighbor", "house", "flat", "landlord", "flatmate", "garden", "dishes", "leak",
             "clean*", "mess", "renovat*", "boiler", "parcel", "moving", "home", "kitchen", "washing"),
}
FALLBACK_AREA = "home"

_QUOTED = re.compile(r"[\"“”]([^\"“”]+)[\"“”]")
_STOIC_NAMES = re.compile(r"\b(?:Epictetus|Seneca|Marcus|Aurelius)\b", re.IGNORECASE)
_MIN_QUOTED_WORDS = 6
_LIST_OR_MARKUP = re.compile(r"^\s*(?:[-*•]|\d+[.)]|#+)\s|\*\*|__", re.MULTILINE)
_TEACHER_ID = re.compile(rf"^{ID_PREFIX}(\d+)$")


class TeacherError(RuntimeError):
    """The endpoint could not be used. `partial` holds the TeachResult gathered before the failure,
    so pairs that cost API calls are never thrown away.

    Example: `except sw.TeacherError as exc: pairs = exc.partial.pairs  # the pairs accepted before it failed`
    """

    def __init__(self, message: str, partial: TeachResult | None = None):
        super().__init__(message)
        self.partial = partial


@dataclass
class TeachResult:
    """Accepted pairs plus every rejected candidate with its reason, so a weak teacher is visible.

    Each `rejected` entry is a dict: complaint, reply (None when the complaint was refused before asking),
    idea, rule (held_out, duplicate, truncated, invalid, format or quotation) and reason.
    Example: `print(result)  # -> teacher 'local' at http://...: 3 of 4 accepted, 1 rejected (1 quotation)`
    """

    base_url: str
    model: str
    asked: int
    pairs: list[dict] = field(default_factory=list)
    rejected: list[dict] = field(default_factory=list)

    @property
    def n_accepted(self) -> int:
        return len(self.pairs)

    @property
    def n_rejected(self) -> int:
        return len(self.rejected)

    def rejected_by_rule(self) -> dict[str, int]:
        return dict(Counter(entry["rule"] for entry in self.rejected))

    def __str__(self) -> str:
        text = (f"teacher {self.model!r} at {self.base_url}: {self.n_accepted} of {self.asked} accepted, "
                f"{self.n_rejected} rejected")
        rules = ", ".join(f"{count} {rule}" for rule, count in sorted(self.rejected_by_rule().items()))
        return f"{text} ({rules})" if rules else text


def guess_area(complaint: str) -> str:
    """A cheap keyword guess, good enough to label generated pairs; pass (area, complaint) to be exact."""
    words = split_words(complaint)
    hits = {area: sum(_mentions(pattern, words) for pattern in patterns) for area, patterns in AREA_WORDS.items()}
    best = max(AREAS, key=lambda area: hits[area])  # max keeps the first of equals: AREAS order breaks ties
    return best if hits[best] else FALLBACK_AREA


def teach(complaints, *, base_url: str, model: str, api_key_env: str = "OPENAI_API_KEY", ideas=None,
          seed: int = 3407, temperature: float = 0.7, max_tokens: int = 220, existing=(), progress: bool = True,
          timeout: float = 120.0, max_retries: int = 2) -> TeachResult:
    """Ask the teacher at `base_url` for one Stoic reply per complaint and keep only the valid ones.

    `complaints` holds strings (the area is guessed with `guess_area`) or `(area, complaint)` tuples.
    Ideas cycle through `ideas` (default: all of `IDEAS`) in an order fixed by `seed`, so a rerun asks
    the same question about the same complaint. `existing` pairs are never repeated, and new ids continue
    after the highest `teacher-NNN` id among them. Complaints held out for evaluation are refused.

    On a connection, authentication, timeout or server error this raises TeacherError; its `partial`
    attribute is the TeachResult so far, so accepted pairs are not lost.
    Example: `sw.teach(["My train was cancelled again."], base_url="http://127.0.0.1:8080/v1", model="local")`
    """
    items = [_area_and_complaint(item) for item in complaints]
    order = _idea_order(ideas, seed)
    existing = list(existing)
    result = TeachResult(base_url=base_url, model=model, asked=len(items))
    seen = _Seen(existing)
    number = _last_teacher_number(existing)
    client = _client(base_url, api_key_env, timeout, max_retries)
    settings = dict(model=model, temperature=temperature, max_tokens=max_tokens, seed=seed)
    with tqdm(items, desc="teacher", unit="complaint", disable=not progress) as bar:
        for index, (area, complaint) in enumerate(bar):
            idea = order[index % len(order)]
            problem = seen.complaint_problem(complaint)
            if problem:
                result.rejected.append(_rejection(complaint, None, idea, *problem))
                continue
            answer, failure = _ask(client, _messages(complaint, idea), settings, api_key_env)
            if failure:
                raise TeacherError(f"teacher at {base_url}: {failure}", partial=result)
            pair = _pair(f"{ID_PREFIX}{number + 1:03d}", area, idea, complaint, answer.reply)
            problem = _reply_problem(pair, answer.truncated) or seen.reply_problem(pair["reply"])
            if problem:
                result.rejected.append(_rejection(complaint, pair["reply"], idea, *problem))
                continue
            number += 1
            seen.add(pair)
            result.pairs.append(pair)
            bar.set_postfix(accepted=result.n_accepted)
    return result


# ---------------------------------------------------------------------------------------------
# Inputs


def _area_and_complaint(item) -> tuple[str, str]:
    """Fail before the first API call: a bad argument should not cost money or time."""
    area, complaint = (item if isinstance(item, tuple) else (None, item))
    if not isinstance(complaint, str) or not complaint.strip():
        raise ValueError(f"a complaint must be non-empty text, got {complaint!r}")
    if area is not None and area not in AREAS:
        raise ValueError(f"area must be one of {AREAS}, got {area!r}")
    complaint = " ".join(complaint.split())
    return (area or guess_area(complaint)), complaint


def _mentions(pattern: str, words: list[str]) -> bool:
    if pattern.endswith("*"):
        return any(word.startswith(pattern[:-1]) for word in words)
    if " " in pattern:
        text = f" {' '.join(words)} "
        return f" {pattern} " in text or f" {pattern}s " in text
    return pattern in words or f"{pattern}s" in words


def _idea_order(ideas, seed: int) -> list[str]:
    """A private RNG, like data.make_pairs, so the caller's global random state never matters."""
    names = list(IDEAS) if ideas is None else list(ideas)
    unknown = [name for name in names if name not in IDEAS]
    if unknown or not names:
        raise ValueError(f"ideas must be a non-empty list drawn from {list(IDEAS)}, got {names!r}")
    random.Random(seed).shuffle(names)
    return names


def _last_teacher_number(existing) -> int:
    """New ids continue after earlier teacher runs, so merged data never has two equal ids."""
    numbers = [int(m.group(1)) for pair in existing if (m := _TEACHER_ID.match(str(pair.get("id", ""))))]
    return max(numbers, default=0)


class _Seen:
    """Normalised complaints and replies already in the data, mapped to the id that holds them."""

    def __init__(self, existing):
        self.complaints: dict[str, str] = {}
        self.replies: dict[str, str] = {}
        self.held_out = {normalise_text(prompt) for prompt in eval_prompts()}
        for pair in existing:
            self.add(pair)

    def add(self, pair: dict) -> None:
        self.complaints.setdefault(normalise_text(pair["complaint"]), pair.get("id", "?"))
        self.replies.setdefault(normalise_text(pair["reply"]), pair.get("id", "?"))

    def complaint_problem(self, complaint: str) -> tuple[str, str] | None:
        """Checked before asking, so a duplicate costs no API call."""
        key = normalise_text(complaint)
        if key in self.held_out:
            return "held_out", "complaint is in eval_prompts(), held out from training"
        if key in self.complaints:
            return "duplicate", f"complaint already in pair {self.complaints[key]!r}"
        return None

    def reply_problem(self, reply: str) -> tuple[str, str] | None:
        key = normalise_text(reply)
        if key in self.replies:
            return "duplicate", f"reply identical to pair {self.replies[key]!r}"
        return None


# ---------------------------------------------------------------------------------------------
# The endpoint


@dataclass(frozen=True)
class _Answer:
    reply: str
    truncated: bool


def _client(base_url: str, api_key_env: str, timeout: float, max_retries: int) -> openai.OpenAI:
    import openai  # only the teacher needs it: the rest of the package works without

    # The environment only, as the teacher always read it; stacklevel=4: a missing key's warning names teach()'s caller.
    key = api_key(api_key_env, colab=False, stacklevel=4)
    return openai.OpenAI(base_url=base_url, api_key=key, timeout=timeout,
                         max_retries=max_retries)


def _messages(complaint: str, idea: str) -> list[dict]:
    """The idea is named in both turns: small teachers follow the user turn far better than the system one."""
    name = idea.replace("_", " ")
    return [
        {"role": "system", "content": SYSTEM_PROMPT.format(name=name, explanation=IDEAS[idea])},
        {"role": "user", "content": USER_PROMPT.format(complaint=complaint, name=name)},
    ]


def _ask(client: openai.OpenAI, messages: list[dict], settings: dict,
         api_key_env: str) -> tuple[_Answer | None, str | None]:
    """Return (answer, None) or (None, problem).

    The caller raises outside this `except` block on purpose: a chained openai exception carries the
    HTTP request, whose Authorization header holds the key.
    """
    import openai

    try:
        completion = client.chat.completions.create(messages=messages, **settings)
    except openai.OpenAIError as exc:
        return None, describe_error(exc, client, api_key_env)
    if not completion.choices:
        return None, "the server answered with no choices"
    choice = completion.choices[0]
    return _Answer((choice.message.content or "").strip(), choice.finish_reason == "length"), None


# ---------------------------------------------------------------------------------------------
# Checking a candidate


def _pair(pair_id: str, area: str, idea: str, complaint: str, reply: str) -> dict:
    return {"id": pair_id, "area": area, "idea": idea, "complaint": complaint, "reply": reply,
            "quote": None, "source": None}


def _reply_problem(pair: dict, truncated: bool) -> tuple[str, str] | None:
    """The first rule a candidate breaks, as (rule, reason), or None if it may enter the data."""
    if truncated:
        return "truncated", "reply was cut off at max_tokens, so it ends mid-thought"
    try:
        validate_pair(pair)
    except ValueError as exc:
        # validate_pair prefixes "pair '<id>': "; the id is only provisional here, so drop it.
        return "invalid", str(exc).partition(": ")[2] or str(exc)
    markup = _LIST_OR_MARKUP.search(pair["reply"])
    if markup:
        return "format", f"reply must be plain prose, found list or markup {markup.group().strip()!r}"
    return _quotation_problem(pair["reply"])


def _quotation_problem(reply: str) -> tuple[str, str] | None:
    """Quotations from the teacher cannot be checked against a translation, so attributed ones are refused."""
    author = _STOIC_NAMES.search(reply)
    if not author:
        return None
    for quoted in _QUOTED.findall(reply):
        if len(split_words(quoted)) >= _MIN_QUOTED_WORDS:
            return "quotation", f"unverifiable quotation in a reply naming {author.group()}: {quoted[:60]!r}"
    return None


def _rejection(complaint: str, reply: str | None, idea: str, rule: str, reason: str) -> dict:
    return {"complaint": complaint, "reply": reply, "idea": idea, "rule": rule, "reason": f"{rule}: {reason}"}
