"""Checks for the "Your turn!" cells: like a unit test for the learner, in plain words.

Every exercise starts undone: its cell holds a stub, e.g. `MY_PROMPT = ...  # TODO: a complaint of your own`.
While the value still holds that `...` (anywhere in it), its checker prints one "Not done yet" line naming what to
fill in and returns without raising, and the cells after it carry on without the learner's part (notebook 2 mixes
in only the pairs that no longer hold `...`): a notebook run top to bottom with no exercise done goes through. On an
attempt, a checker prints what is right, or raises CheckFailed saying what to fix.
CI runs the notebooks with the solutions filled in (`stoic-workshop workshop --solutions`, see workshop.py), so a
solution that stops passing its check fails the run, exactly as a learner would see it.
"""

from __future__ import annotations

__all__ = ["CheckFailed", "check_my_prompt", "check_my_pairs", "check_lora_choice", "check_my_lexicon",
           "check_my_rubric", "check_my_modelfile", "check_my_knowledge_question"]


class CheckFailed(AssertionError):
    """An exercise attempt is not right yet; the message says what to change.

    Example: `sw.check_my_prompt("", PROMPTS, tok)` raises CheckFailed("Not yet: set MY_PROMPT to a complaint ...")
    """


def _todo(*values) -> bool:
    """Whether a value still holds the stub's `...` (Ellipsis): itself, or anywhere inside (list items, dict keys)."""
    for value in values:
        if value is Ellipsis:
            return True
        if isinstance(value, dict) and _todo(*value.keys(), *value.values()):
            return True
        if isinstance(value, (list, tuple, set)) and _todo(*value):
            return True
    return False


def _not_done(names: str, what: str, meanwhile: str = "") -> None:
    """The one line an untouched stub gets: not an error, a reminder of what to fill in."""
    print(f"⏳ Not done yet: {names} still holds `...`: {what}, then run the cells from there again."
          + (f" {meanwhile}" if meanwhile else ""))


def check_my_prompt(prompt, prompts, tokenizer) -> None:
    """Your own complaint: new, and what the chat template adds around it before the instruct model sees it.

    Example: `sw.check_my_prompt("Mondays.", PROMPTS, chat_tok)` prints "✅ Well done: your complaint is ..."
    """
    from .chat import render

    if _todo(prompt):
        return _not_done("MY_PROMPT", "write a complaint of your own there, in quotes")
    if not isinstance(prompt, str) or not prompt.strip():
        raise CheckFailed("Not yet: set MY_PROMPT to a complaint of your own, in quotes, e.g. \"Mondays.\"")
    if prompt.strip() in [p.strip() for p in prompts]:
        raise CheckFailed("Not yet: MY_PROMPT is one of the six PROMPTS above. Write a complaint of your own.")
    bare = len(tokenizer(prompt, add_special_tokens=False).input_ids)
    templated = len(tokenizer(render(tokenizer, prompt), add_special_tokens=False).input_ids)
    print(f"✅ Well done: your complaint is {bare} tokens; wrapped in the chat template the instruct model reads "
          f"{templated} ({templated - bare} tokens of markup saying who speaks and where each turn ends). "
          "The base model got your bare text: nothing told it a reply was expected, or where to stop.")


def check_my_pairs(pairs, tokenizer, max_seq_length: int = 512) -> None:
    """Your own complaint -> Stoic reply pairs: at least two, replies of 40-120 words, and valid chat data.

    Example: `sw.check_my_pairs(MY_PAIRS, tok, max_seq_length=512)` prints "✅ Well done: 2 pairs, ..."
    """
    from .masking import check_dataset
    from .stoic_data import MAX_WORDS, MIN_WORDS, split_words
    from .dataset import DataError, load_pairs

    if _todo(pairs):
        return _not_done("MY_PAIRS", "write two pairs or more of your own there (a complaint, and a Stoic reply of "
                         f"{MIN_WORDS}-{MAX_WORDS} words)", "Until then the training data is the built-in data alone.")
    fixes = []
    if not isinstance(pairs, list) or len(pairs) < 2:
        raise CheckFailed("Write at least two pairs in MY_PAIRS, each {'complaint': ..., 'reply': ...}.")
    for i, pair in enumerate(pairs, start=1):
        pair = pair if isinstance(pair, dict) else {}  # load_pairs below names what is wrong with the row itself
        reply = pair.get("reply", "")
        words = len(split_words(reply)) if isinstance(reply, str) else 0
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
    """Your LoRA choice (a PeftModel made with MY_TARGETS and MY_RANK) against the trained one: fewer trainable
    parameters, and what that saves in the adapter file (fp32, 4 bytes a parameter, as a T4 or a CPU saves them).

    `mine` is None while MY_TARGETS or MY_RANK is still `...`.
    Example: `sw.check_lora_choice(mine, model)` prints "Well done. Trainable share: 3.50% ... -> 0.24% ..."
    """
    if mine is None:
        return _not_done("MY_TARGETS or MY_RANK", "set both, then run the cell that builds `mine`")
    for name, model in (("mine", mine), ("the trained model", reference)):
        if not hasattr(model, "get_nb_trainable_parameters"):
            raise CheckFailed(f"Not yet: {name} is a {type(model).__name__}, not a model with LoRA adapters: build "
                              "it with get_peft_model(model, LoraConfig(...)).")
    (yours, total), (theirs, their_total) = mine.get_nb_trainable_parameters(), reference.get_nb_trainable_parameters()
    ours_config, their_config = mine.peft_config["default"], reference.peft_config["default"]
    if yours >= theirs:
        raise CheckFailed(f"Not yet: your choice trains {yours:,} parameters, no fewer than the trained model "
                          f"({theirs:,}). Set MY_TARGETS to fewer layers (e.g. ['q_proj', 'v_proj']) or MY_RANK "
                          "below 16, then run the cell again.")
    print(f"Well done. Trainable share: {theirs / their_total:.2%} (trained, r={their_config.r}, "
          f"{len(their_config.target_modules)} layer types) -> {yours / total:.2%} (yours, r={ours_config.r}, "
          f"{', '.join(sorted(ours_config.target_modules))}): {theirs / yours:.1f}x fewer parameters to train and "
          f"store ({theirs * 4 / 1e6:.1f} MB -> {yours * 4 / 1e6:.1f} MB of adapters in fp32).")


def check_my_lexicon(lexicon, scored) -> None:
    """Your lexicon vs the built-in one: which words you added, and what they changed in the scores.

    Example: `sw.check_my_lexicon(sw.add_words("serenity", "serene", "calm"), scored)` prints "Well done: you added"
    """
    from .score import LEXICON, check_lexicon, lexicon_terms, stoic_matches

    if _todo(lexicon):
        return _not_done("MY_LEXICON", "set it to sw.add_words(an idea, then its words), each in quotes, with a "
                         "word the built-in LEXICON lacks")
    try:
        check_lexicon(lexicon)
    except (TypeError, ValueError) as err:
        raise CheckFailed(f"Not yet: {err}") from None
    added = sorted(set(lexicon_terms(lexicon)) - set(lexicon_terms(LEXICON)))
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


def check_my_rubric(rubric, judge, complaints, answers):
    """Your rubric: a new criterion with five described levels; if it is one, `judge` scores `answers` with it.

    Example: `check_my_rubric(MY_RUBRIC, judge, table["prompt"][:4], table["fine-tuned"][:4])`
    Returns the verdicts (one row per answer), or None while MY_RUBRIC still holds `...` (nothing is judged).
    """
    from .judging import RUBRIC, check_rubric
    from .judging import judge as judge_answers

    if _todo(rubric):
        return _not_done("MY_RUBRIC", "give your criterion a name in quotes, a question, and five levels described "
                         "in words", "No answer was judged.")
    try:
        rubric = check_rubric(rubric)
    except ValueError as err:
        raise CheckFailed(f"Not yet: {err}") from None
    added = [c for c in rubric if c not in RUBRIC]
    if not added:
        raise CheckFailed("Not yet: MY_RUBRIC has no criterion the built-in RUBRIC lacks. Add one with sw.RUBRIC | "
                          "{'name': {'question': ..., 'levels': {1: ..., 2: ..., 3: ..., 4: ..., 5: ...}}}.")
    judged = judge_answers(complaints, answers, judge, rubric=rubric)
    ok = judged[judged["error"].isna()]
    print(f"Well done: you added {', '.join(repr(c) for c in added)}; {len(ok)} of {len(judged)} answers were "
          "judged on it" + (f" ({len(judged) - len(ok)} verdicts failed and are counted apart, not as zeros)"
                             if len(ok) < len(judged) else "") + ".")
    for c in added:
        if len(ok):
            print(f"  {c}: mean {ok[c].mean():.2f} of 5, scores {sorted(ok[c].astype(int).tolist())}")
    return judged


def check_my_modelfile(path, tokenizer, system=None) -> None:
    """Your Ollama Modelfile: the GGUF it points at, the chat template, the stop token, and your SYSTEM line.

    With `system` (MY_SYSTEM), the Modelfile at `path` is first written again with it as its SYSTEM line (by
    `modelfile`, for the GGUF its FROM line names) and shown; while MY_SYSTEM is still `...`, only a line says so.
    Example: `sw.check_my_modelfile("deploy/Modelfile", tok, system="You are Seneca.")` prints "✅ Well done: ..."
    """
    import re
    from pathlib import Path

    from .chat import end_of_turn
    from .export import modelfile

    path = Path(path)
    if _todo(system):
        return _not_done("MY_SYSTEM", "write a system prompt of your own there, in quotes",
                         f"{path} has no SYSTEM line until then.")
    if not path.is_file():
        raise CheckFailed(f"Not yet: no Modelfile at {path}. Run the cell above that calls sw.modelfile(...).")
    if system is not None:
        if not isinstance(system, str) or not system.strip():
            raise CheckFailed("Not yet: MY_SYSTEM must be a sentence or two in quotes, e.g. \"You are Seneca, "
                              "writing a short letter to a friend.\"")
        named = re.search(r"^FROM (.+)$", path.read_text(), re.M)
        if named:
            modelfile(path.parent / named.group(1).strip(), tokenizer, system=system)
            print(path.read_text())
    text = path.read_text()
    fixes = []
    source = re.search(r"^FROM (.+)$", text, re.M)
    gguf = (path.parent / source.group(1).strip()) if source else None
    if gguf is None or not gguf.is_file():
        found = source.group(0) if source else "no FROM line"
        fixes.append(f"FROM must name the exported .gguf file beside the Modelfile (found {found})")
    elif _magic(gguf) != b"GGUF":
        fixes.append(f"{gguf.name} is not a GGUF file (it does not start with the GGUF magic bytes)")
    stop = end_of_turn(tokenizer)
    if 'TEMPLATE """' not in text or (stop and stop not in text.split('TEMPLATE """', 1)[-1].split('"""')[0]):
        fixes.append(f"TEMPLATE must hold the chat template, closing each turn with {stop}: without it Ollama "
                     "sends a bare prompt")
    if f'PARAMETER stop "{stop}"' not in text:
        fixes.append(f'add PARAMETER stop "{stop}", or the model talks on past the end of its turn')
    system = re.search(r'^SYSTEM """(.*?)"""', text, re.M | re.S)
    if not system or not system.group(1).strip():
        fixes.append("give it a persona: set MY_SYSTEM to a sentence or two and pass system=MY_SYSTEM")
    elif "..." in system.group(1):
        fixes.append("replace the '...' in MY_SYSTEM with your own words")
    if fixes:
        raise CheckFailed("Not yet:\n" + "\n".join(f"  - {f}" for f in fixes))
    print(f"✅ Well done: {path} points at {gguf.name} ({gguf.stat().st_size / 1e6:.0f} MB), keeps the chat "
          f"template, stops at {stop}, and starts every chat with your system line "
          f"({len(system.group(1).split())} words). With Ollama installed: "
          f"`cd {path.parent} && ollama create stoic -f Modelfile && ollama run stoic`.")


def _magic(path) -> bytes:
    with open(path, "rb") as f:
        return f.read(4)


def check_my_knowledge_question(question, answer, facts, model, tokenizer, k: int = 3) -> None:
    """Your own question about the facts: new (no phrasing in the set), with an answer the facts hold; then it is
    asked closed book and with retrieval, and each answer is marked right or wrong.

    Example: `sw.check_my_knowledge_question("To which island was Seneca sent?", "Corsica", facts, model, tok)`
    """
    from .knowledge import Fact, ask, grade, unknown_questions

    if _todo(question, answer):
        return _not_done("MY_QUESTION or MY_ANSWER", "ask a question of your own about one of the facts, in "
                         "quotes, and put the word its answer must contain in MY_ANSWER")
    if not isinstance(question, str) or len(question.split()) < 3:
        raise CheckFailed("Not yet: set MY_QUESTION to a question of at least three words, in quotes.")
    if not isinstance(answer, str) or not answer.strip():
        raise CheckFailed("Not yet: set MY_ANSWER to the word or name the right answer must contain, e.g. \"Arrian\".")
    asked = {q.strip().lower() for f in facts for q in (*f.questions, f.test)} | \
        {q.lower() for split in ("train", "test") for q in unknown_questions(split)}
    if question.strip().lower() in asked:
        raise CheckFailed("Not yet: MY_QUESTION is one of the set's own phrasings. Ask it in words of your own.")
    holding = [f for f in facts if answer.strip().lower() in f.text.lower()]
    if not holding:
        raise CheckFailed(f"Not yet: no fact mentions {answer!r}, so no arm could know it. Pick an answer that one of "
                          "the facts holds (look at `fact.text` for a few facts), or check its spelling.")
    mine = Fact("yours", holding[0].text, (answer.strip(),), (), question, ())
    closed, open_book = ask(model, tokenizer, question), ask(model, tokenizer, question, facts, k=k)
    print(f"✅ Well done: a new question, and {len(holding)} fact(s) hold {answer!r}.")
    for label, reply in (("closed book", closed), ("with retrieval", open_book)):
        print(f"  {label:15} {'right' if grade(reply, mine) else 'wrong'}: {reply[:160]}")
