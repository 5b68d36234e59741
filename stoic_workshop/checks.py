"""Checks for the "Your turn!" cells: like a unit test for the learner, in plain words.

Each checker prints what is right, or raises CheckFailed saying what to fix; a notebook run
headless (CI) therefore fails when an exercise is wrong, exactly as a learner would see.
"""

from __future__ import annotations

__all__ = ["CheckFailed", "check_my_pairs", "check_lora_choice", "check_my_lexicon", "check_my_rubric"]


class CheckFailed(AssertionError):
    """An exercise is not done yet; the message says what to change."""


def check_my_pairs(pairs, tokenizer, max_seq_length: int = 512) -> None:
    """Your own complaint -> Stoic reply pairs: at least two, replies of 40-120 words, and valid chat data."""
    from .align import check_dataset
    from .data import MAX_WORDS, MIN_WORDS, _words
    from .dataset import DataError, load_pairs

    fixes = []
    if not isinstance(pairs, list) or len(pairs) < 2:
        raise CheckFailed("Write at least two pairs in MY_PAIRS, each {'complaint': ..., 'reply': ...}.")
    for i, pair in enumerate(pairs, start=1):
        pair = pair if isinstance(pair, dict) else {}  # load_pairs below names what is wrong with the row itself
        reply = pair.get("reply", "")
        words = len(_words(reply)) if isinstance(reply, str) else 0
        if "..." in str(pair.get("complaint", "")) or "..." in str(reply):
            fixes.append(f"pair {i}: replace the '...' placeholder with your own text")
        elif not MIN_WORDS <= words <= MAX_WORDS:
            fixes.append(f"pair {i}: the reply has {words} words; aim for {MIN_WORDS}-{MAX_WORDS}, "
                         "like the built-in examples")
    try:
        report = check_dataset(load_pairs(pairs), tokenizer, max_seq_length=max_seq_length)
    except DataError as err:
        fixes += err.problems
        report = None
    if fixes:
        raise CheckFailed("Not yet:\n" + "\n".join(f"  - {f}" for f in fixes))
    print(f"✅ Well done: {report.rows} pairs, replies trained on {sum(report.trained)} tokens, ready to mix in.")


def check_lora_choice(mine, reference) -> None:
    """Your LoRA run vs the default one: fewer trainable parameters, and what that did to the loss."""
    if mine.trainable >= reference.trainable:
        raise CheckFailed(f"Not yet: your run trains {mine.trainable:,} parameters, no fewer than the default run "
                          f"({reference.trainable:,}). Set MY_TARGETS to fewer layers (e.g. ['q_proj', 'v_proj']) "
                          "or MY_RANK below 16, then run the training cell again.")
    steps = min(mine.steps, reference.steps)
    ours, theirs = dict(mine.losses), dict(reference.losses)
    print(f"Well done. Trainable share: {reference.share:.2%} (default, r={reference.settings['lora_r']}, "
          f"{len(reference.settings['target_modules'])} layer types) -> {mine.share:.2%} (yours, "
          f"r={mine.settings['lora_r']}, {', '.join(mine.settings['target_modules'])}): "
          f"{reference.trainable / mine.trainable:.1f}x fewer parameters to train and store "
          f"({reference.adapter_mb:.1f} MB -> {mine.adapter_mb:.1f} MB of adapters).")
    if steps in ours and steps in theirs:
        print(f"Loss after {steps} steps: default {theirs[steps]:.3f}, yours {ours[steps]:.3f}. "
              "Fewer parameters usually learn a style a little more slowly; on a task this small the gap is "
              "often within the step-to-step noise.")


def check_my_lexicon(lexicon, scored) -> None:
    """Your lexicon vs the built-in one: which words you added, and what they changed in the scores."""
    from .score import LEXICON, _check, _terms, stoic_matches

    try:
        _check(lexicon)
    except (TypeError, ValueError) as err:
        raise CheckFailed(f"Not yet: {err}") from None
    added = sorted(set(_terms(lexicon)) - set(_terms(LEXICON)))
    if not added:
        raise CheckFailed("Not yet: MY_LEXICON has no word the built-in LEXICON lacks. Add one, e.g. "
                          "sw.add_words('serenity', 'serene', 'serenity').")
    rescored = scored.assign(new_score=[stoic_matches(a, lexicon=lexicon)[0] for a in scored["answer"]])
    print(f"Well done: you added {', '.join(repr(w) for w in added)}.")
    if (rescored["new_score"] == rescored["stoic_score"]).all():
        print("No answer uses your words, so no score moved: a keyword only helps if answers actually say it.")
        return
    for model, group in rescored.groupby("model", sort=False):
        moved = int((group["new_score"] != group["stoic_score"]).sum())
        print(f"  {model}: {moved} of {len(group)} answers scored higher; mean Stoic score "
              f"{group['stoic_score'].mean():.2f} -> {group['new_score'].mean():.2f} per 100 words.")


def check_my_rubric(rubric, judged) -> None:
    """Your rubric: a new criterion with five described levels, and verdicts that used it."""
    from .judge import RUBRIC, check_rubric

    try:
        rubric = check_rubric(rubric)
    except ValueError as err:
        raise CheckFailed(f"Not yet: {err}") from None
    added = [c for c in rubric if c not in RUBRIC]
    if not added:
        raise CheckFailed("Not yet: MY_RUBRIC has no criterion the built-in RUBRIC lacks. Add one with sw.RUBRIC | "
                          "{'name': {'question': ..., 'levels': {1: ..., 2: ..., 3: ..., 4: ..., 5: ...}}}.")
    missing = [c for c in added if c not in judged.columns]
    if missing:
        raise CheckFailed(f"Not yet: the verdicts have no {', '.join(missing)} column: judge again with "
                          "rubric=MY_RUBRIC.")
    ok = judged[judged["error"].isna()]
    print(f"Well done: you added {', '.join(repr(c) for c in added)}; {len(ok)} of {len(judged)} answers were "
          "judged on it" + (f" ({len(judged) - len(ok)} verdicts failed and are counted apart, not as zeros)"
                             if len(ok) < len(judged) else "") + ".")
    for c in added:
        if len(ok):
            print(f"  {c}: mean {ok[c].mean():.2f} of 5, scores {sorted(ok[c].astype(int).tolist())}")
