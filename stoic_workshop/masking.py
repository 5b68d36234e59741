"""Step 2, masking: the data in the chat template, checked, and labels on the replies only (the rest is masked).

"If the data isn't formatted correctly, the model learns nonsense." The silent failures are
well known: two <bos> tokens (templating, then tokenizing with special tokens again), a turn
left open so the model never learns to stop, an example cut by `max_seq_length` so its reply
is gone, labels that mask everything so a row teaches nothing. `check_dataset` finds all of
them before training, for every row, and says which rows and why.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .chat import end_of_turn
from .dataset import DataError, conversation_problems, special_token_pattern

__all__ = ["encode", "check_dataset", "masked_view", "DataReport", "IGNORE"]

IGNORE = -100  # the label PyTorch's cross-entropy skips: no loss on these tokens
_TURN_STARTS = ("<start_of_turn>", "<|im_start|>", "<|start_header_id|>")


def _assistant_spans(tokenizer, messages) -> tuple[str, list[tuple[int, int]]]:
    """The templated text and, for each assistant turn, its character span: from the end of the generation prompt
    to the end of the turn (the reply, its end-of-turn token and what the template writes after it, such as a line
    break). This is what TRL's SFTTrainer trains on for a prompt-completion row: the tokens after the prompt."""
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    spans = []
    for k, turn in enumerate(messages):
        if turn["role"] != "assistant":
            continue
        before = tokenizer.apply_chat_template(messages[:k], tokenize=False, add_generation_prompt=True)
        through = tokenizer.apply_chat_template(messages[:k + 1], tokenize=False)
        if not (text.startswith(before) and text.startswith(through)):
            raise ValueError("this chat template renders earlier turns differently once later turns exist, "
                             "so reply positions cannot be found from it")
        spans.append((len(before), len(through)))
    return text, spans


def encode(tokenizer, messages, max_seq_length: int | None = None) -> dict:
    """Token ids and labels for one conversation, training on the assistant replies only.

    The template already holds <bos>, so the text is tokenized without adding special tokens
    again. Labels are IGNORE (-100) everywhere except the assistant's turn after its opening: the
    words, the end-of-turn token (the model must learn it in order to stop) and the template's line
    break after it. These are the labels TRL's SFTTrainer builds for the same conversation given as a
    prompt and a completion (tests/test_masking.py compares them). `assistant_masks` marks them.
    Example: `sw.encode(tok, ds[0]["messages"])`  # -> {"input_ids": [...], "attention_mask": [...], "labels": [...]}
    """
    text, spans = _assistant_spans(tokenizer, messages)
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(enc["input_ids"])
    mask = [int(any(start <= a < end for start, end in spans) and b > a) for a, b in enc["offset_mapping"]]
    if max_seq_length is not None:
        ids, mask = ids[:max_seq_length], mask[:max_seq_length]
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "assistant_masks": mask,
            "labels": [t if m else IGNORE for t, m in zip(ids, mask)]}


@dataclass
class DataReport:
    """What `check_dataset` measured on rows that all passed.

    Example: `print(sw.check_dataset(ds, tok))`  # -> "160 conversations pass every check. Tokens per example: ..."
    """

    rows: int
    lengths: list[int]
    trained: list[int]
    max_seq_length: int
    longest_row: int = field(init=False)

    def __post_init__(self):
        self.longest_row = max(range(self.rows), key=self.lengths.__getitem__)

    def __str__(self) -> str:
        share = sum(self.trained) / sum(self.lengths)
        return (f"{self.rows} conversations pass every check. Tokens per example: min {min(self.lengths)}, "
                f"mean {sum(self.lengths) / self.rows:.0f}, max {max(self.lengths)} (row {self.longest_row}; "
                f"max_seq_length {self.max_seq_length}). Trained on (assistant replies): {share:.0%} of tokens.")

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return f"<p>{self}</p>"

    def plot(self, path=None):
        """Histogram of tokens per example, with the max_seq_length limit drawn in."""
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(6, 2.6))
        ax.hist(self.lengths, bins=20, color="#4c72b0", label="whole example")
        ax.hist(self.trained, bins=20, color="#dd8452", alpha=0.8, label="trained tokens (reply)")
        ax.axvline(self.max_seq_length, color="crimson", linestyle="--", label=f"max_seq_length {self.max_seq_length}")
        ax.set(xlabel="tokens", ylabel="examples", title="Tokens per training example")
        ax.legend(fontsize=8)
        fig.tight_layout()
        if path:
            fig.savefig(path, dpi=120)
        return fig


def _markers(tokenizer) -> dict:
    """The tokenizer's turn-marker ids, looked up once per check rather than once per row."""
    added = tokenizer.get_added_vocab()
    eot = end_of_turn(tokenizer)
    uses_bos = tokenizer.bos_token_id is not None and "bos_token" in (tokenizer.chat_template or "")
    return {"bos": tokenizer.bos_token_id if uses_bos else None,  # only where the template writes <bos> itself
            "starts": {added[t] for t in _TURN_STARTS if t in added},
            "eot": eot, "eot_id": tokenizer.convert_tokens_to_ids(eot) if eot else None}


def _forged_turns(messages, special, where) -> list[str]:
    """The messages whose text holds a special token of this tokenizer, naming the token."""
    found = []
    for k, turn in enumerate(messages):
        hit = special.search(turn["content"]) if special is not None else None
        if hit:
            found.append(f"{where}: messages[{k}].content: holds {hit.group()!r}, a special token of this tokenizer: "
                         "trained as it is, it is read as that token, not as text (a forged turn, where it marks "
                         "one); remove it, or keep it as plain characters with escape_control_tokens(text, tokenizer)")
    return found


def _token_problems(tokenizer, markers, ids, mask, max_seq_length, where) -> list[str]:
    problems = []
    bos = markers["bos"]
    if bos is not None:
        count = sum(1 for t in ids if t == bos)
        if ids[:1] != [bos] or count != 1:
            problems.append(f"{where}: expected exactly one {tokenizer.bos_token} at the start, found {count} "
                            f"(first ids {ids[:3]}); text already templated was tokenized with special tokens again")
    if markers["starts"] and markers["eot"]:
        opened = sum(1 for t in ids if t in markers["starts"])
        closed = ids.count(markers["eot_id"])
        if opened != closed:
            problems.append(f"{where}: {opened} turns opened but {closed} closed with {markers['eot']}")
    if len(ids) > max_seq_length:
        lost = sum(mask[max_seq_length:])
        cut = tokenizer.decode(ids[max_seq_length:max_seq_length + 12])
        problems.append(f"{where}: {len(ids)} tokens, over max_seq_length {max_seq_length}: truncation would cut "
                        f"{len(ids) - max_seq_length} tokens ({lost} of the reply), starting {cut!r}")
    elif not any(mask):
        problems.append(f"{where}: no trainable token: every label is {IGNORE}, so this row teaches nothing "
                        "(is there an assistant reply, and does the template keep it?)")
    return problems


def check_dataset(dataset, tokenizer, max_seq_length: int = 512) -> DataReport:
    """Check every conversation against the tokenizer's chat template before training.

    Rows may hold `messages` (templated and encoded here) or `input_ids` (already tokenized,
    checked as they are, e.g. for a double <bos>). Raises DataError listing every bad row;
    returns a DataReport (lengths, trained share, `.plot()`) when all pass.
    Example: `sw.check_dataset(ds, tok, max_seq_length=512)`  # -> a DataReport, or raises DataError listing bad rows
    """
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError("the tokenizer has no chat template: load it with stoic_workshop.load_model")
    markers, special = _markers(tokenizer), special_token_pattern(tokenizer)
    problems, lengths, trained = [], [], []
    for i, row in enumerate(dataset):
        where = f"row {i}"
        messages = row.get("messages") if isinstance(row, dict) else None
        if isinstance(row, dict) and "input_ids" in row and messages is None:
            ids = list(row["input_ids"])
            mask = list(row.get("assistant_masks") or [int(x != IGNORE) for x in row.get("labels", ids)])
        else:
            found = conversation_problems(row, where) or _forged_turns(messages, special, where)
            if found:
                problems += found
                continue
            enc = encode(tokenizer, messages)
            ids, mask = enc["input_ids"], enc["assistant_masks"]
        problems += _token_problems(tokenizer, markers, ids, mask, max_seq_length, where)
        lengths.append(len(ids))
        trained.append(sum(mask))
    if problems:
        raise DataError("check_dataset", problems, consequence="fix them before training")
    if not lengths:
        raise DataError("check_dataset", ["the dataset is empty"], consequence="nothing to train on")
    return DataReport(len(lengths), lengths, trained, max_seq_length)


def masked_view(tokenizer, row, placeholder: str = "░") -> str:
    """The training text as the loss sees it: masked stretches shown as a placeholder run.

    `row`: a conversation (a list of messages), or a row the trainer tokenized (`input_ids` and `labels`, e.g.
    `trainer.train_dataset[0]` of TRL's SFTTrainer), shown exactly as it will be trained.
    Example: `print(sw.masked_view(tok, ds[0]["messages"]))`  # -> "[░░░ masked: 20 tokens ░░░]<the reply>..."
    """
    from itertools import groupby

    if isinstance(row, dict) and "input_ids" in row:
        if "labels" not in row:
            raise ValueError("masked_view: this row has input_ids but no labels, so what is trained is not known; "
                             f"pass a conversation (a list of messages) or a row with labels (its keys: {sorted(row)})")
        ids, trained_mask = list(row["input_ids"]), [int(label != IGNORE) for label in row["labels"]]
    else:
        enc = encode(tokenizer, row["messages"] if isinstance(row, dict) else row)
        ids, trained_mask = enc["input_ids"], enc["assistant_masks"]
    out = []
    for trained, run in groupby(zip(ids, trained_mask), key=lambda pair: pair[1]):
        tokens = [token for token, _ in run]
        out.append(tokenizer.decode(tokens) if trained else f"[{placeholder * 3} masked: {len(tokens)} tokens "
                                                            f"{placeholder * 3}]")
    return "".join(out)
