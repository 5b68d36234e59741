"""The exercise checkers say what is right or what to fix, and fail loudly when it is wrong; on an exercise left
as its notebook stub they say "not done yet" and raise nothing."""

from pathlib import Path

import nbformat
import pytest

import stoic_workshop as sw
from stoic_workshop.workshop import NOTEBOOKS, exercises
from stoic_workshop.models import PROJECTIONS

GOOD = ("Epictetus would start by sorting: the delay is not yours to command, your patience is. Tell the people "
        "waiting for you, find something useful or pleasant to do with the hour, and notice how much of the "
        "misery is the story you tell about the delay rather than the delay itself.")  # 53 words


def _mix(train, pairs, tokenizer):
    """Notebook 2's cell that mixes MY_PAIRS into the training data, run as it stands in the notebook."""
    code = next(c.source for c in _notebook("02_finetune.ipynb").cells
                if c.cell_type == "code" and "concatenate_datasets" in c.source)
    names = {"sw": sw, "splits": {"train": train}, "MY_PAIRS": pairs, "tokenizer": tokenizer, "MAX_SEQ_LENGTH": 512}
    exec(code, names)
    return names["train_data"]


def test_good_pairs_pass(gemma_tok, capsys):
    sw.check_my_pairs([{"complaint": "My flight is delayed.", "reply": GOOD},
                       {"complaint": "My bus is late.", "reply": GOOD}], gemma_tok)
    assert capsys.readouterr().out.startswith("✅ Well done: 2 pairs")


def test_each_mistake_is_named(gemma_tok):
    with pytest.raises(sw.CheckFailed, match="at least two pairs"):
        sw.check_my_pairs([{"complaint": "x", "reply": GOOD}], gemma_tok)
    with pytest.raises(sw.CheckFailed) as err:
        sw.check_my_pairs([{"complaint": "...", "reply": "..."},
                           {"complaint": "My bus is late.", "reply": "Breathe."},
                           {"complaint": "My train is late.", "reply": GOOD}], gemma_tok)
    message = str(err.value)
    assert "pair 1: replace the '...' placeholder" in message
    assert "pair 2: the reply has 1 words; aim for 40-120" in message
    assert "pair 3" not in message  # a fine pair is not blamed


def test_lexicon_check_names_the_added_words_and_what_moved(capsys):
    import pandas as pd

    answers = ["Be serene: the delay is outside your control.", "Try to relax and treat yourself."]
    scored = sw.score_answers(pd.DataFrame({"prompt": ["Late train", "Rain"], "fine-tuned": answers}), meaning=False)
    with pytest.raises(sw.CheckFailed, match="no word the built-in LEXICON lacks"):
        sw.check_my_lexicon(dict(sw.LEXICON), scored)
    with pytest.raises(sw.CheckFailed, match="tuple of words"):
        sw.check_my_lexicon(sw.LEXICON | {"serenity": "serene"}, scored)
    sw.check_my_lexicon(sw.add_words("serenity", "serene"), scored)
    out = capsys.readouterr().out
    # "Be serene: the delay is outside your control." has 8 words: 1 match -> 12.5, 2 matches -> 25.0
    assert "'serene'" in out and "1 of 2 answers scored higher; mean Stoic score 6.25 -> 12.50" in out
    sw.check_my_lexicon(sw.add_words("serenity", "ataraxia"), scored)
    assert "No answer uses your words" in capsys.readouterr().out


def test_prompt_check_counts_the_template_around_your_complaint(smol, capsys):
    prompts = ["My train is late.", "It rains."]
    for wrong, why in [("", "set MY_PROMPT"), (None, "set MY_PROMPT"),
                       ("  My train is late. ", "one of the six PROMPTS")]:
        with pytest.raises(sw.CheckFailed, match=why):
            sw.check_my_prompt(wrong, prompts, smol[1])
    sw.check_my_prompt("Mondays.", prompts, smol[1])
    out = capsys.readouterr().out
    bare = len(smol[1]("Mondays.", add_special_tokens=False).input_ids)
    assert f"your complaint is {bare} tokens" in out
    templated = int(out.split("instruct model reads ")[1].split()[0])
    assert templated > bare + 4  # the system turn, the role markers and the end-of-turn tokens


# ---------------------------------------------------------------------------------------------
# The exercises as the notebooks hold them: a stub that says "not done yet", and a solution that passes

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = {"01_base_vs_instruct.ipynb": [("MY_PROMPT",)],
             "02_finetune.ipynb": [("MY_PAIRS",), ("MY_RANK", "MY_TARGETS")],
             "03_evaluation.ipynb": [("MY_LEXICON",), ("MY_RUBRIC",)], "04_deploy.ipynb": [("MY_SYSTEM",)],
             "05_knowledge.ipynb": [("MY_ANSWER", "MY_QUESTION")]}


def _notebook(name):
    return nbformat.read(ROOT / "notebooks" / name, as_version=4)


def _run(source: str) -> dict:
    """What a cell's assignments set, run as the notebook runs them (`sw` imported)."""
    names = {"sw": sw}
    exec(source, names)
    return names


def _cells(part: str) -> dict:
    """Every exercise's values: part="stub" as committed, part="solution" from its Solution and discussion cell."""
    values = {}
    for name in NOTEBOOKS:
        nb = _notebook(name)
        for exercise in exercises(nb):
            values |= _run(nb.cells[exercise.stubs[0]].source if part == "stub" else exercise.solution)
    return values


def _prompts() -> list[str]:
    return _run(next(c.source for c in _notebook(NOTEBOOKS[0]).cells if c.source.startswith("PROMPTS = [")))["PROMPTS"]


class NoJudge:
    """A judge that must not be asked: an exercise not done yet judges nothing."""

    name = "no-judge"

    def ask(self, *args, **kwargs):
        raise AssertionError("the judge was asked")


@pytest.fixture()
def scored():
    import pandas as pd

    answers = ["Be serene and calm: the delay is outside your control.", "Try to relax and treat yourself."]
    return sw.score_answers(pd.DataFrame({"prompt": ["Late train", "Rain"], "fine-tuned": answers}), meaning=False)


def _fake_gguf(folder: Path) -> Path:
    gguf = folder / "stoic-q8_0.gguf"
    gguf.write_bytes(b"GGUF" + bytes(64))  # what the check reads of it: the magic bytes
    return gguf


def test_the_notebooks_hold_these_exercises_each_a_stub():
    for name in NOTEBOOKS:
        found = exercises(_notebook(name))
        assert [e.names for e in found] == EXERCISES[name], name
        for exercise in found:
            source = _notebook(name).cells[exercise.stubs[0]].source
            assert "# TODO: " in source and all(sw.checks._todo(_run(source)[n]) for n in exercise.names), source


def test_every_untouched_stub_says_not_done_yet_and_raises_nothing(smol, scored, tmp_path, capsys):
    """Run All on notebooks nobody touched: each check prints what to fill in, and the cells after a stub go on
    without it (no generation, no training, no judging), with the real models and data."""
    model, tok = smol
    stub = _cells("stub")
    assert all(stub[name] is not None for names in EXERCISES.values() for group in names for name in group)

    def said(*names):
        out = capsys.readouterr().out
        assert "not done yet" in out.lower() and all(n in out for n in names), out
        assert "Well done" not in out

    sw.check_my_prompt(stub["MY_PROMPT"], _prompts(), tok)
    said("MY_PROMPT")
    sw.check_my_pairs(stub["MY_PAIRS"], tok)
    said("MY_PAIRS")
    train = sw.make_dataset(n=12)
    assert len(_mix(train, stub["MY_PAIRS"], tok)) == len(train)  # the built-in data alone, and it says so
    assert f"{len(train)} built-in conversations and 0 of yours" in capsys.readouterr().out
    sw.check_lora_choice(None, None)  # notebook 2 leaves `mine` None while MY_TARGETS or MY_RANK is `...`
    said("MY_TARGETS")
    sw.check_my_lexicon(stub["MY_LEXICON"], scored)
    said("MY_LEXICON")
    assert sw.check_my_rubric(stub["MY_RUBRIC"], NoJudge(), ["Late train"], ["Breathe."]) is None
    said("MY_RUBRIC", "No answer was judged")
    path = sw.modelfile(_fake_gguf(tmp_path), tok)
    before = path.read_text()
    sw.check_my_modelfile(path, tok, system=stub["MY_SYSTEM"])
    said("MY_SYSTEM")
    assert path.read_text() == before and "SYSTEM" not in before
    sw.check_my_knowledge_question(stub["MY_QUESTION"], stub["MY_ANSWER"], sw.knowledge_facts(), model, tok)
    said("MY_QUESTION")


def test_half_done_is_not_done_yet(smol, capsys):
    """A `...` left anywhere in the value (one pair of two, one level of five) still counts as the stub."""
    sw.check_my_pairs([{"complaint": "My bus is late.", "reply": GOOD}, {"complaint": ..., "reply": ...}], smol[1])
    assert "Not done yet: MY_PAIRS" in capsys.readouterr().out
    rubric = sw.RUBRIC | {"brevity": {"question": "Short?", "levels": {1: "long", 2: ..., 3: "", 4: "", 5: "short"}}}
    assert sw.check_my_rubric(rubric, NoJudge(), ["x"], ["y"]) is None
    sw.check_my_knowledge_question("Who taught Epictetus?", ..., [], *smol)
    assert capsys.readouterr().out.count("Not done yet") == 2


def test_the_solutions_pass_their_checks(smol, scored, tmp_path, capsys):
    """The code of each "Solution and discussion" cell (what `workshop --solutions` runs) passes its check."""
    from stoic_workshop.stoic_data import eval_prompts, make_pairs

    model, tok = smol
    solution = _cells("solution")
    sw.check_my_prompt(solution["MY_PROMPT"], _prompts(), tok)
    assert "✅ Well done: your complaint is" in capsys.readouterr().out
    sw.check_my_pairs(solution["MY_PAIRS"], tok)
    assert capsys.readouterr().out.startswith("✅ Well done: 2 pairs")
    built_in = {p["complaint"].lower() for p in make_pairs()} | {p.lower() for p in eval_prompts()}
    assert not {p["complaint"].lower() for p in solution["MY_PAIRS"]} & built_in  # new complaints, none held out
    train = sw.make_dataset(n=12)
    assert len(_mix(train, solution["MY_PAIRS"], tok)) == len(train) + 2
    assert f"{len(train)} built-in conversations and 2 of yours" in capsys.readouterr().out
    sw.check_my_lexicon(solution["MY_LEXICON"], scored)
    assert "Well done: you added 'calm', 'serene', 'serenity'" in capsys.readouterr().out
    judged = sw.check_my_rubric(solution["MY_RUBRIC"], sw.LocalJudge(model, tok, max_new_tokens=8),
                                ["My train is late."], [GOOD])
    assert "Well done: you added 'actionable'; 1 of 1 answers were judged on it" in capsys.readouterr().out
    assert judged["actionable"].between(1, 5).all()
    path = sw.modelfile(_fake_gguf(tmp_path), tok)
    sw.check_my_modelfile(path, tok, system=solution["MY_SYSTEM"])
    assert "✅ Well done: " in capsys.readouterr().out
    assert f'SYSTEM """{solution["MY_SYSTEM"]}"""' in path.read_text()
    sw.check_my_knowledge_question(solution["MY_QUESTION"], solution["MY_ANSWER"], sw.knowledge_facts(), model, tok)
    assert "✅ Well done: a new question" in capsys.readouterr().out


def _lora(model, r, targets):
    import copy

    from peft import LoraConfig, get_peft_model

    return get_peft_model(copy.deepcopy(model), LoraConfig(task_type="CAUSAL_LM", r=r, lora_alpha=r,
                                                           target_modules=targets))


def test_the_lora_solution_trains_fewer_parameters(tiny_gemma3, capsys):
    solution = _cells("solution")
    default = _lora(tiny_gemma3, 16, list(PROJECTIONS))
    mine = _lora(tiny_gemma3, solution["MY_RANK"], solution["MY_TARGETS"])
    sw.check_lora_choice(mine, default)
    out = capsys.readouterr().out
    # hidden 32, q: 2 heads x 16 = 32 out, v: 1 KV head x 16 = 16 out, r=8, 2 layers:
    # q: A 8x32 + B 32x8 = 512; v: A 8x32 + B 16x8 = 384; (512 + 384) x 2 layers = 1,792 parameters, 7,168 bytes
    assert mine.get_nb_trainable_parameters()[0] == 1792 and "MB -> 0.0 MB of adapters in fp32" in out
    assert "Well done. Trainable share:" in out and "(yours, r=8, q_proj, v_proj)" in out
    with pytest.raises(sw.CheckFailed, match="no fewer than the trained model"):
        sw.check_lora_choice(default, mine)


def test_wrong_attempts_raise_with_what_to_fix(smol, tmp_path):
    model, tok = smol
    with pytest.raises(sw.CheckFailed, match="mine is a LlamaForCausalLM, not a model with LoRA adapters"):
        sw.check_lora_choice(model, model)
    with pytest.raises(sw.CheckFailed, match="no criterion the built-in RUBRIC lacks"):
        sw.check_my_rubric(dict(sw.RUBRIC), NoJudge(), ["x"], ["y"])
    with pytest.raises(sw.CheckFailed, match="must look like"):
        sw.check_my_rubric(sw.RUBRIC | {"brevity": {"question": "Short?", "levels": {1: "long"}}}, NoJudge(), ["x"],
                           ["y"])
    path = sw.modelfile(_fake_gguf(tmp_path), tok)
    with pytest.raises(sw.CheckFailed, match="MY_SYSTEM must be a sentence"):
        sw.check_my_modelfile(path, tok, system="  ")
    with pytest.raises(sw.CheckFailed, match="replace the '...' in MY_SYSTEM"):
        sw.check_my_modelfile(path, tok, system="You are ...")
