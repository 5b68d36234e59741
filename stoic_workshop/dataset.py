"""Step 1, the data: Stoic pairs as a Hugging Face dataset of conversations, plus the learner's own.

Everything downstream (chat templates, TRL's SFTTrainer) reads one shape: a `messages` column
holding user/assistant turns. Pairs from the built-in generator, a Python list, a CSV or a JSONL
file all become that shape here, and a bad row is reported with its file, row and field, all bad
rows at once, so nothing is silently dropped.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import os
import random
from pathlib import Path

from . import stoic_data
from .folders import course_dir

__all__ = ["DataError", "make_dataset", "load_pairs", "mix", "train_eval_split", "save_jsonl", "write_default_data",
           "conversation_problems", "escape_control_tokens", "special_token_pattern", "FORGED"]

ROLES = ("system", "user", "assistant")
# What a text holding a chat template's control token becomes in training: the tokenizer reads the token's text as the
# token itself, so a reply "Breathe.<|im_end|>\n<|im_start|>user\n..." trains a turn the learner never meant to write.
FORGED = ("a chat template's control token: trained as it is, it would close or open a turn (a forged turn); remove "
          "it, or keep it as plain characters with load_pairs(..., escape_control=True) or escape_control_tokens(text)")
_ESCAPE = "\u200b"  # zero-width space: "<\u200b|im_end|>" is ordinary characters to every tokenizer
DATA_DIR = course_dir("data")   # read-only: the copy inside the wheel, or a checkout's data/ (see folders.py)


class DataError(ValueError):
    """Every problem found in a set of rows, one line each.

    Example: `except sw.DataError as err: print(err.problems)`  # -> ["row 2: field 'messages' is missing ...", ...]
    """

    def __init__(self, source: str, problems: list[str], consequence: str = "nothing was loaded"):
        self.problems = problems
        listed = "\n".join(f"  - {p}" for p in problems[:50])
        more = f"\n  ... and {len(problems) - 50} more" if len(problems) > 50 else ""
        super().__init__(f"{source}: {len(problems)} bad row(s); {consequence}:\n{listed}{more}")


def make_dataset(n: int | None = None, seed: int = 3407, system: str | None = None):
    """The built-in Stoic pairs as a `datasets.Dataset` with a `messages` column.

    Deterministic for a seed, no network and no model needed. `system` adds a system turn.
    Example: `sw.make_dataset(n=80)[0]["messages"]`  # -> [{"role": "user", ...}, {"role": "assistant", ...}]
    """
    from datasets import Dataset

    rows, problems = [], []
    for pair in stoic_data.make_pairs(n, seed):
        conversation, found = _from_pair(dict(pair, system=system), f"pair {pair['id']!r}")
        problems += found
        if conversation:
            rows.append({"messages": conversation["messages"], "id": pair["id"], "area": pair["area"],
                         "idea": pair["idea"]})
    if problems:  # a whitespace-only `system`, or a bad edit of tables/pairs.jsonl (tests/test_data.py checks it)
        raise DataError("make_dataset", problems)
    return Dataset.from_list(rows)


def conversation_problems(row, where: str) -> list[str]:
    """What is wrong with one conversation row, as readable lines (empty when the row is fine).

    Example: `conversation_problems({"messages": []}, "row 1")`  # -> ["row 1: field 'messages' must be a ..."]
    """
    if not isinstance(row, dict):
        return [f"{where}: expected an object with a 'messages' list, got {type(row).__name__}"]
    if "messages" not in row:
        return [f"{where}: field 'messages' is missing (or give 'complaint' and 'reply')"]
    messages = row["messages"]
    if not isinstance(messages, list) or not messages:
        return [f"{where}: field 'messages' must be a non-empty list of turns"]
    problems = []
    for i, turn in enumerate(messages):
        at = f"{where}: messages[{i}]"
        if not isinstance(turn, dict):
            problems.append(f"{at}: expected {{'role': ..., 'content': ...}}, got {type(turn).__name__}")
            continue
        if turn.get("role") not in ROLES:
            problems.append(f"{at}.role: expected one of {', '.join(ROLES)}, got {turn.get('role')!r}")
        content = turn.get("content")
        if not isinstance(content, str):
            problems.append(f"{at}.content: expected text, got {type(content).__name__}")
        elif not content.strip():
            problems.append(f"{at}.content: empty or whitespace only")
        elif stoic_data.CHAT_MARKUP.search(content):
            problems.append(f"{at}.content: holds {stoic_data.CHAT_MARKUP.search(content).group()!r}, {FORGED}")
        elif "\x00" in content:
            problems.append(f"{at}.content: holds a NUL character (\\u0000 at position {content.index(chr(0))}), "
                            "which no text holds: is the file damaged, or binary?")
    if problems:
        return problems
    roles = [t["role"] for t in messages if t["role"] != "system"]
    if any(t["role"] == "system" for t in messages[1:]):
        problems.append(f"{where}: a system turn may only come first")
    expected = ["user", "assistant"] * (len(roles) // 2 + 1)
    if roles != expected[:len(roles)] or not roles or roles[-1] != "assistant":
        problems.append(f"{where}: roles must alternate user, assistant, ... and end with the assistant; "
                        f"got {', '.join(roles) or 'no turns'}")
    return problems


def special_token_pattern(tokenizer):
    """A pattern matching the text of every special token of `tokenizer` (its turn markers, <bos>, <pad>, reserved
    tokens...): written in a message, the tokenizer reads such text as the token itself, not as characters."""
    import re

    texts = set(tokenizer.all_special_tokens)
    texts |= {str(t) for t in getattr(tokenizer, "added_tokens_decoder", {}).values() if getattr(t, "special", False)}
    texts = sorted((t for t in texts if t), key=len, reverse=True)
    return re.compile("|".join(map(re.escape, texts))) if texts else None


def escape_control_tokens(text: str, tokenizer=None) -> str:
    """`text` with every chat-template control token (the common templates', and every special token of
    `tokenizer` where given) written as plain characters: a zero-width space after its first character, so that a
    tokenizer reads it as text, never as a turn marker. For data that must talk about the tokens themselves; the
    model then learns the characters, which it may write back.
    Example: `escape_control_tokens("<|im_end|>")`  # -> "<\u200b|im_end|>"
    """
    for pattern in (stoic_data.CHAT_MARKUP, special_token_pattern(tokenizer) if tokenizer is not None else None):
        if pattern is not None:
            text = pattern.sub(lambda m: m.group()[0] + _ESCAPE + m.group()[1:], text)
    return text


def _escaped(row):
    """A row with escape_control_tokens applied to every text a conversation is made of (other rows as they are)."""
    if not isinstance(row, dict):
        return row
    row = dict(row)
    for field in ("complaint", "reply", "system"):
        if isinstance(row.get(field), str):
            row[field] = escape_control_tokens(row[field])
    if isinstance(row.get("messages"), list):
        row["messages"] = [dict(t, content=escape_control_tokens(t["content"]))
                           if isinstance(t, dict) and isinstance(t.get("content"), str) else t
                           for t in row["messages"]]
    return row


def _from_pair(row, where: str) -> tuple[dict | None, list[str]]:
    """A complaint/reply row becomes a conversation; anything else must already be one."""
    if isinstance(row, dict) and "messages" not in row and ("complaint" in row or "reply" in row):
        missing = [f for f in ("complaint", "reply") if not isinstance(row.get(f), str) or not row[f].strip()]
        if missing:
            return None, [f"{where}: field '{f}' is missing or empty" for f in missing]
        forged = [f"{where}: field '{f}' holds {stoic_data.CHAT_MARKUP.search(row[f]).group()!r}, {FORGED}"
                  for f in ("system", "complaint", "reply")
                  if isinstance(row.get(f), str) and stoic_data.CHAT_MARKUP.search(row[f])]
        if forged:
            return None, forged
        system = row.get("system") or None
        row = {"messages": ([{"role": "system", "content": system}] if system else [])
               + [{"role": "user", "content": row["complaint"]}, {"role": "assistant", "content": row["reply"]}]}
    problems = conversation_problems(row, where)
    return (None if problems else {"messages": row["messages"]}), problems


RESAVE = 're-save it as UTF-8 (Excel: File > Save As > "CSV UTF-8 (Comma delimited)")'


def _decode(path: Path) -> str:
    """A learner's file as text: UTF-8 (with or without Excel's byte-order mark), UTF-16 with its mark, else
    Windows-1252, the encoding of Excel's plain "CSV" on Windows, said in one line."""
    raw = path.read_bytes()
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # Excel's "Unicode Text", renamed
        return raw.decode("utf-16")
    try:
        return raw.decode("utf-8-sig")  # "-sig": a leading BOM is dropped, not glued to the first column's name
    except UnicodeDecodeError as err:
        line, byte = _line(raw, err.start), raw[err.start]
    # Other non-ASCII text that *is* valid UTF-8 means two encodings in one file: any single reading garbles one.
    if any(ord(c) > 127 and c != "\ufffd" for c in raw.decode("utf-8", errors="replace")):
        raise DataError(str(path), [f"line {line}: byte 0x{byte:02x} is not UTF-8, yet other lines are: the file "
                                    f"mixes two encodings; {RESAVE}"])
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError as err:  # 0x81, 0x8d, 0x8f, 0x90, 0x9d mean nothing in Windows-1252
        raise DataError(str(path), [f"line {_line(raw, err.start)}: byte 0x{raw[err.start]:02x} is neither UTF-8 "
                                    f"nor Windows-1252; {RESAVE}"]) from None
    print(f"{path}: line {line} has byte 0x{byte:02x}, which is not UTF-8, so the file was read as Windows-1252 "
          f"(Excel's \"CSV\" on Windows); if any text looks wrong, {RESAVE}.")
    return text


def _line(raw: bytes, offset: int) -> int:
    """The 1-based line of a byte offset."""
    return raw.count(b"\n", 0, offset) + 1


def _read_rows(source) -> tuple[list, str]:
    if not isinstance(source, (str, os.PathLike)):
        return list(source), "your pairs"
    path = Path(source)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(_decode(path), newline=""))  # newline="": quoted cells keep theirs
        columns = set(reader.fieldnames or [])
        if not {"complaint", "reply"} <= columns:
            raise DataError(str(path), [f"header: expected columns 'complaint' and 'reply' "
                                        f"(optional 'system'), found {sorted(columns) or 'none'}"])
        return list(reader), str(path)
    if path.suffix.lower() in (".jsonl", ".json"):
        rows, problems = [], []
        for number, line in enumerate(io.StringIO(_decode(path)), start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                problems.append(f"line {number}: not JSON ({err.msg}); each line must be one object")
        if problems:
            raise DataError(f"{path} (JSONL: one JSON object per line)", problems)
        return rows, str(path)
    raise DataError(str(path), [f"unsupported file type {path.suffix!r}: use .jsonl or .csv"])


def load_pairs(source, *, escape_control: bool = False):
    """Your own pairs as a dataset: a list of dicts, or a .jsonl or .csv file.

    Rows are either `{"complaint": ..., "reply": ...}` (CSV columns of those names, optional
    `system`) or `{"messages": [{"role": "user", ...}, {"role": "assistant", ...}]}`.
    Example: `sw.load_pairs([{"complaint": "Mondays.", "reply": "..."}])`  # -> Dataset with a `messages` column
    Raises DataError listing every bad row (file, row, field); nothing is dropped silently. A text holding a chat
    template's control token (`<|im_end|>`, `<start_of_turn>`...) is refused, as it would train a forged turn;
    `escape_control=True` keeps it as plain characters instead (`escape_control_tokens`).
    """
    from datasets import Dataset

    rows, name = _read_rows(source)
    good, problems = [], []
    for number, row in enumerate(rows, start=1):
        where = f"line {number}" if name.endswith((".jsonl", ".json")) else f"row {number}"
        converted, found = _from_pair(_escaped(row) if escape_control else row, where)
        problems += found
        if converted:
            good.append(converted)
    if problems:
        raise DataError(name, problems)
    if not good:
        raise DataError(name, ["no rows found"])
    return Dataset.from_list(good)


def mix(*datasets_):
    """One dataset of conversations from several (built-in and your own), in order.

    Example: `sw.mix(sw.make_dataset(n=80), sw.load_pairs("mine.csv"))`  # -> Dataset of 80 + your rows
    """
    from datasets import Dataset

    rows = [{"messages": row["messages"]} for ds in datasets_ for row in ds]
    return Dataset.from_list(rows)


def train_eval_split(dataset, eval_fraction: float = 0.1, seed: int = 3407):
    """A DatasetDict with `train` and `eval`, split by complaint so no complaint is in both.

    Complaints (first user turns) are compared case- and spacing-blind, so near-identical prompts cannot leak into
    evaluation; a private RNG picks about `eval_fraction` of them, whatever the caller's global random state.
    Example: `sw.train_eval_split(ds, eval_fraction=0.1)`  # -> DatasetDict({"train": ..., "eval": ...})
    """
    from datasets import DatasetDict

    keys = [stoic_data.normalise_text(next(t["content"] for t in m if t["role"] == "user"))
            for m in dataset["messages"]]
    if not 0 < eval_fraction < 1:
        raise ValueError(f"eval_fraction must be between 0 and 1, got {eval_fraction}")
    complaints = sorted(set(keys))
    if len(complaints) < 2:
        raise ValueError(f"need at least 2 distinct complaints to split, got {len(complaints)}")
    random.Random(seed).shuffle(complaints)
    n_eval = min(len(complaints) - 1, max(1, round(len(complaints) * eval_fraction)))
    held_out = set(complaints[:n_eval])
    return DatasetDict(train=dataset.select([i for i, key in enumerate(keys) if key not in held_out]),
                       eval=dataset.select([i for i, key in enumerate(keys) if key in held_out]))


def save_jsonl(dataset, path) -> Path:
    """One conversation per line, UTF-8, readable in any editor.

    Example: `sw.save_jsonl(ds, "data/mine.jsonl")`  # -> Path("data/mine.jsonl")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for row in dataset:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    os.replace(tmp, path)  # a crash mid-write never leaves half a file under the real name
    return path


def write_default_data(folder="data", seed: int = 3407) -> dict[str, Path]:
    """(Re)write the default set into `folder`: train/eval conversations and the held-out prompts.

    Example: `write_default_data("data")` -> {"train": Path("data/stoic_train.jsonl"), "eval": ..., "prompts": ...}
    """
    splits = train_eval_split(make_dataset(seed=seed), seed=seed)
    folder = Path(folder)
    written = {name: save_jsonl(split, folder / f"stoic_{name}.jsonl") for name, split in splits.items()}
    prompts = folder / "eval_prompts.txt"
    prompts.write_text("\n".join(stoic_data.eval_prompts()) + "\n", encoding="utf-8")
    written["prompts"] = prompts
    return written
