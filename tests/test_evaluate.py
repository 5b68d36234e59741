"""Evaluation plumbing on real models: saved and resumed answers, intervals, perplexity, forgetting, report."""

import math

import numpy as np
import pytest
import torch

import stoic_workshop as sw
from stoic_workshop.evaluate import (answers, bootstrap_ci, forgetting, perplexity, read_answers, report, score_answers,
                                     summary)

PROMPTS = ["My train was cancelled again.", "My boss ignored my email.", "It rained all weekend.",
           "My phone screen cracked.", "My flatmate ate my leftovers."]


class Counting:
    """Counts the prompts a real model is asked to answer, and can fail on a chosen call."""

    def __init__(self, model, fail_on_call=None):
        self.model, self.prompts, self.calls, self.fail_on_call = model, 0, 0, fail_on_call
        self.generate = model.generate

    def __enter__(self):
        def counted(*args, **kwargs):
            self.calls += 1
            if self.calls == self.fail_on_call:
                raise KeyboardInterrupt
            self.prompts += kwargs["input_ids"].shape[0]
            return self.generate(*args, **kwargs)
        self.model.generate = counted
        return self

    def __exit__(self, *exc):
        self.model.generate = self.generate


def test_answers_are_saved_reused_and_only_missing_ones_generated(tiny_gemma3, gemma_tok, tmp_path):
    out = tmp_path / "answers.csv"
    with Counting(tiny_gemma3) as counter:
        first = answers(tiny_gemma3, gemma_tok, PROMPTS[:3], name="base", out=out, max_new_tokens=4,
                        batch_size=2, progress=False)
    assert counter.prompts == 3 and list(first.columns) == ["prompt", "base"]
    assert read_answers(out)["base"].tolist() == first["base"].tolist()

    with Counting(tiny_gemma3) as counter:
        more = answers(tiny_gemma3, gemma_tok, PROMPTS, name="base", out=out, max_new_tokens=4, batch_size=2,
                       progress=False)
    assert counter.prompts == 2  # the three saved answers are reused
    assert more["base"].tolist()[:3] == first["base"].tolist()
    # greedy: the reused answers are the ones a fresh generation gives
    with Counting(tiny_gemma3) as counter:
        again = answers(tiny_gemma3, gemma_tok, PROMPTS, name="base", out=out, max_new_tokens=4, batch_size=2,
                        fresh=True, progress=False)
    assert counter.prompts == 5 and again["base"].tolist() == more["base"].tolist()

    both = answers(tiny_gemma3, gemma_tok, PROMPTS, name="other", out=tmp_path / "answers.jsonl", max_new_tokens=4,
                   progress=False)
    assert read_answers(tmp_path / "answers.jsonl")["other"].tolist() == both["other"].tolist()


def test_an_interrupted_run_keeps_the_batches_already_answered(tiny_gemma3, gemma_tok, tmp_path):
    out = tmp_path / "answers.csv"
    with pytest.raises(KeyboardInterrupt), Counting(tiny_gemma3, fail_on_call=2):
        answers(tiny_gemma3, gemma_tok, PROMPTS, name="base", out=out, max_new_tokens=4, batch_size=2,
                progress=False)
    saved = read_answers(out)
    assert saved["base"].astype(bool).sum() == 2  # the first batch of two
    assert not list(tmp_path.glob("*.part"))
    with Counting(tiny_gemma3) as counter:
        answers(tiny_gemma3, gemma_tok, PROMPTS, name="base", out=out, max_new_tokens=4, batch_size=2,
                progress=False)
    assert counter.prompts == 3


def test_bad_prompts_and_names_are_refused(tiny_gemma3, gemma_tok, tmp_path):
    with pytest.raises(ValueError, match="non-empty list"):
        answers(tiny_gemma3, gemma_tok, "one prompt", name="base")
    with pytest.raises(ValueError, match="taken by the prompt column"):
        answers(tiny_gemma3, gemma_tok, PROMPTS, name="prompt")
    (tmp_path / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="no 'prompt' column"):
        answers(tiny_gemma3, gemma_tok, PROMPTS, name="base", out=tmp_path / "x.csv")


def test_bootstrap_interval_has_the_width_theory_predicts():
    rng = np.random.default_rng(1)
    values = rng.normal(3.0, 1.0, size=400)
    mean, low, high = bootstrap_ci(values)
    assert mean == pytest.approx(values.mean())
    # 95% interval of a mean: +-1.96 * sd / sqrt(n) = +-1.96 * 1 / 20 = +-0.098, so a width near 0.196
    assert high - low == pytest.approx(0.196, rel=0.15)
    assert low < mean < high
    assert bootstrap_ci(values) == bootstrap_ci(values)  # seeded
    # paired: a constant shift of 0.5 has no spread at all
    assert bootstrap_ci(values + 0.5, paired_with=values) == pytest.approx((0.5, 0.5, 0.5))
    assert bootstrap_ci([2.0]) == (2.0, 2.0, 2.0)
    assert all(math.isnan(v) for v in bootstrap_ci([]))
    with pytest.raises(ValueError, match="same length"):
        bootstrap_ci([1, 2], paired_with=[1])


def test_perplexity_of_one_window_is_the_exponentiated_loss_and_windows_see_every_token(tiny_gemma3, gemma_tok):
    text = "The tide comes in twice a day because the moon pulls on the sea. " * 6
    ids = gemma_tok(text, return_tensors="pt").input_ids
    with torch.inference_mode():
        direct = math.exp(float(tiny_gemma3(input_ids=ids, labels=ids).loss))
    assert perplexity(tiny_gemma3, gemma_tok, text, window=ids.shape[1]) == pytest.approx(direct, rel=1e-5)
    # a random model has no use for long context, so short windows give nearly the same number
    assert perplexity(tiny_gemma3, gemma_tok, text, window=16, stride=8) == pytest.approx(direct, rel=0.05)
    # By hand: an output layer of zeros gives every token of the vocabulary the same probability 1/V, so the
    # perplexity is exactly V = 262,144, in any window.
    with torch.no_grad():
        tiny_gemma3.get_output_embeddings().weight.zero_()
    assert len(gemma_tok) == 262144
    assert perplexity(tiny_gemma3, gemma_tok, text, window=16, stride=8) == pytest.approx(262144, rel=1e-4)


def test_a_real_model_finds_english_likelier_than_the_same_words_shuffled(smol):
    model, tok = smol
    text = sw.evaluate.general_text()[:3000]
    words = text.split()
    shuffled = " ".join(np.random.default_rng(0).permutation(words))
    assert perplexity(model, tok, text) < 0.5 * perplexity(model, tok, shuffled)


def test_forgetting_is_zero_for_fresh_adapters_and_shows_a_change_once_they_move(tiny_gemma3, gemma_tok):
    from peft import LoraConfig, get_peft_model

    text = "Bread rises because yeast turns sugar into gas. " * 8
    tuned = get_peft_model(tiny_gemma3, LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    fresh = forgetting(tuned, gemma_tok, text)
    assert fresh["model"].tolist() == ["before", "fine-tuned"]
    assert fresh["change %"].tolist() == [0.0, 0.0]  # LoRA's B starts at zero: the adapters change nothing yet
    with torch.no_grad():
        for name, p in tuned.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    moved = forgetting(tuned, gemma_tok, text)
    assert moved["perplexity"][0] == fresh["perplexity"][0]  # the base is untouched
    assert moved["change %"][1] != 0.0


def test_a_perplexity_is_measured_once_for_the_same_weights_and_text(tiny_gemma3, gemma_tok, tmp_path, monkeypatch):
    from peft import LoraConfig, get_peft_model

    monkeypatch.setenv("STOIC_WORKSHOP_CACHE", str(tmp_path))
    text = "Bread rises because yeast turns sugar into gas. " * 8
    runs = []  # the output layer runs once per window measured
    tiny_gemma3.get_output_embeddings().register_forward_hook(lambda *_: runs.append(1))

    def measured(model, **kw):
        runs.clear()
        value = perplexity(model, gemma_tok, text, window=32, stride=16, **kw)
        return value, len(runs)

    base, n = measured(tiny_gemma3)
    kept = list((tmp_path / "perplexity").glob("*.json"))
    assert n > 1 and len(kept) == 1
    assert measured(tiny_gemma3) == (base, 0)  # read back, not measured
    assert measured(tiny_gemma3, cache=False) == (pytest.approx(base, rel=1e-6), n)
    kept[0].write_text("{half a file", encoding="utf-8")  # a damaged entry is measured again, not trusted
    assert measured(tiny_gemma3) == (pytest.approx(base, rel=1e-6), n)
    assert measured(tiny_gemma3) == (pytest.approx(base, rel=1e-6), 0)

    tuned = get_peft_model(tiny_gemma3, LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    with torch.no_grad():
        for name, p in tuned.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.5)
    with tuned.disable_adapter():
        assert measured(tuned) == (pytest.approx(base, rel=1e-6), 0)  # adapters off: the base's weights compute
    moved, n = measured(tuned)
    assert n > 1 and moved != pytest.approx(base, rel=1e-3)
    assert measured(tuned) == (moved, 0)
    with torch.no_grad():  # one adapter weight changed: other weights, measured again
        next(p for name, p in tuned.named_parameters() if "lora_B" in name)[0, 0] += 1.0
    assert measured(tuned)[1] == n
    tiny_gemma3.get_output_embeddings().weight.data[0, 0] += 1.0  # so is a base weight
    with tuned.disable_adapter():
        assert measured(tuned)[1] == n


def test_report_is_one_standalone_page_with_every_answer_escaped(tmp_path):
    import pandas as pd

    table = pd.DataFrame({"prompt": ["<b>Late</b> again", "Rain"],
                          "before": ["Try to relax.", "Take a nap."],
                          "fine-tuned": ["The train is outside your control; your judgement is not.",
                                         "Rain is nature; accept it with virtue."]})
    scored = score_answers(table)
    summary_table = summary(scored)
    assert summary_table.columns.tolist() == ["metric", "before", "fine-tuned", "change (paired)"]
    page = report(tmp_path / "report.html", scored, summary_table=summary_table).read_text()
    assert "&lt;b&gt;Late&lt;/b&gt; again" in page and "<b>Late</b>" not in page
    assert page.count("<mark>") >= 4 and "data:image/png;base64," in page
    assert "Try to relax." in page and "Take a nap." in page
    assert not list(tmp_path.glob("*.part"))


def test_load_adapters_explains_a_missing_folder_and_a_mismatched_base(tiny_gemma3, gemma_tok, tmp_path):
    from peft import LoraConfig, get_peft_model
    from transformers import Gemma3ForCausalLM

    with pytest.raises(FileNotFoundError, match="Run notebook 2"):
        sw.load_adapters(tiny_gemma3, tmp_path / "nothing-here")
    wider = Gemma3ForCausalLM(tiny_gemma3.config.__class__(**{**tiny_gemma3.config.to_dict(), "hidden_size": 48}))
    get_peft_model(wider, LoraConfig(r=4, target_modules=["q_proj", "v_proj"])).save_pretrained(tmp_path / "a")
    with pytest.raises(ValueError, match="do not fit this model"):
        sw.load_adapters(tiny_gemma3, tmp_path / "a")

    get_peft_model(Gemma3ForCausalLM(tiny_gemma3.config), LoraConfig(r=4, target_modules=["q_proj"])).save_pretrained(
        tmp_path / "b")
    tuned = sw.load_adapters(tiny_gemma3, tmp_path / "b")
    assert not any(p.requires_grad for p in tuned.parameters())
    with pytest.raises(ValueError, match="already carries adapters"):
        sw.load_adapters(tuned, tmp_path / "b")


def test_saved_answers_of_adapters_trained_since_are_made_again(tiny_gemma3, gemma_tok, tmp_path, capsys):
    from peft import LoraConfig, get_peft_model

    out = tmp_path / "answers.csv"
    tuned = get_peft_model(tiny_gemma3, LoraConfig(r=4, target_modules=["q_proj", "v_proj"]))
    settings = dict(name="fine-tuned", out=out, max_new_tokens=3, progress=False)
    with tuned.disable_adapter():
        answers(tuned, gemma_tok, PROMPTS[:2], **(settings | {"name": "before"}))
    answers(tuned, gemma_tok, PROMPTS[:2], **settings)
    with Counting(tuned) as counter:
        answers(tuned, gemma_tok, PROMPTS[:2], **settings)
    assert counter.prompts == 0  # same adapters: reused
    with torch.no_grad():
        next(p for n, p in tuned.named_parameters() if "lora_B" in n).add_(0.1)
    with Counting(tuned) as counter:
        answers(tuned, gemma_tok, PROMPTS[:2], **settings)
        with tuned.disable_adapter():
            answers(tuned, gemma_tok, PROMPTS[:2], **(settings | {"name": "before"}))
    assert counter.prompts == 2  # only the fine-tuned column: the model before fine-tuning did not change
    assert "made by another model or settings" in capsys.readouterr().out


def test_answers_before_and_after_decoded_together_are_the_answers_of_each_decoded_alone(tiny_gemma3, gemma_tok,
                                                                                          tmp_path):
    """`before=`: one batch holds each prompt twice, adapters off and on (PEFT's mixed-adapter batch); the answers
    are those of the base model and of the fine-tune decoded apart, saved and reused like any column."""
    from peft import LoraConfig, get_peft_model

    tuned = get_peft_model(tiny_gemma3, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False))
    settings = dict(max_new_tokens=6, progress=False)
    with tuned.disable_adapter():
        alone_before = answers(tuned, gemma_tok, PROMPTS[:3], name="before", **settings)["before"].tolist()
    alone_after = answers(tuned, gemma_tok, PROMPTS[:3], name="fine-tuned", **settings)["fine-tuned"].tolist()
    assert alone_before != alone_after  # the adapters change the answers: mixing them up could not go unseen

    out = tmp_path / "answers.csv"
    with Counting(tuned) as counter:
        table = answers(tuned, gemma_tok, PROMPTS[:3], name="fine-tuned", before="before", out=out, **settings)
    assert (counter.calls, counter.prompts) == (1, 6)  # one batch: 3 prompts, twice
    assert list(table.columns) == ["prompt", "before", "fine-tuned"]
    assert table["before"].tolist() == alone_before and table["fine-tuned"].tolist() == alone_after
    with Counting(tuned) as counter:
        again = answers(tuned, gemma_tok, PROMPTS[:4], name="fine-tuned", before="before", out=out, **settings)
    assert (counter.calls, counter.prompts) == (1, 2)  # only the new prompt, adapters off and on
    assert again["before"].tolist()[:3] == alone_before

    with pytest.raises(ValueError, match="a model with adapters"):
        answers(tiny_gemma3, gemma_tok, PROMPTS[:1], name="fine-tuned", before="before")
    with pytest.raises(ValueError, match="a name other than 'x'"):
        answers(tuned, gemma_tok, PROMPTS[:1], name="x", before="x")


def test_invented_quotations_and_name_drops_are_counted_apart_from_the_ideas(tmp_path):
    """The failure this catches: a fine-tune that learned to credit invented lines to real Stoics, scored as a success.
    Two answers use the same one idea ("accept"); the tuned one adds an invented quotation and a real one."""
    import pandas as pd

    from stoic_workshop.stoic_data import QUOTES

    real = QUOTES["ench-5"]  # Epictetus, Enchiridion 5: "Men are disturbed not by the things which happen, ..."
    table = pd.DataFrame({
        "prompt": ["Stuck in traffic.", "Lost my keys."],
        "before": ["Accept the delay and plan the evening.", "Accept it and retrace your steps."],
        "fine-tuned": ['Marcus Aurelius wrote: "The road is long, but the patient soul is already home." Accept it.',
                       f'Epictetus said: "{real.text}" Accept it and retrace your steps.']})
    scored = score_answers(table, meaning=False)
    tuned = scored[scored["model"] == "fine-tuned"].set_index("prompt")
    # the names add nothing to the idea score: "accept" is the only idea in each answer
    assert tuned["matches"].tolist() == ["Accept", "Accept"]
    assert tuned["names"].tolist() == [1, 1]  # "Marcus Aurelius"; "Epictetus"
    # the first quotation is in no table; the second is Enchiridion 5, credited to its author
    assert tuned["invented"].tolist() == [1.0, 0.0]
    assert tuned.loc["Stuck in traffic.", "quotes"].startswith("unverified:")
    assert tuned.loc["Lost my keys.", "quotes"].startswith("verified:")
    rows = summary(scored).set_index("metric")
    # invented in 0 of 2 answers before, 1 of 2 after: a share of 0.50
    assert rows.loc["Invented quotations (share of answers)", "fine-tuned"].startswith("0.50")
    assert rows.loc["Invented quotations (share of answers)", "before"].startswith("0.00")
    page = report(tmp_path / "report.html", scored).read_text()
    assert page.count('<mark class="quote-unverified"') == 2  # the answer's passage and the legend
    assert '<mark class="quote-verified" title="verified: Epictetus, Enchiridion 5' in page


def test_the_judge_row_says_when_the_judge_gave_no_verdict():
    """On the GPU run every one of 16 pairs was inconsistent across orders, and the summary showed a win rate of
    0.00 [0.00, 0.00]: it read as 'the fine-tuned model always lost'. It was no verdict at all."""
    import pandas as pd

    table = pd.DataFrame({"prompt": ["Stuck in traffic.", "Lost my keys.", "Rain again."],
                          "before": ["Plan the evening.", "Retrace your steps.", "Take a coat."],
                          "fine-tuned": ["Accept the delay.", "Accept it.", "Rain is nature; accept it."]})
    scored = score_answers(table, meaning=False)
    title = "Judge: share of pairs fine-tuned wins in both orders"

    def pairs(winners, errors=None):
        return pd.DataFrame({"winner": winners, "error": errors or [None] * len(winners)})

    rows = summary(scored, pairwise=pairs(["inconsistent"] * 3))
    assert rows.iloc[-1]["metric"] == f"{title} (3 of 3 inconsistent across orders)"
    assert rows.iloc[-1]["change (paired)"] == "no verdict: the judge contradicted itself on every pair"
    rows = summary(scored, pairwise=pairs([None] * 3, ["invalid verdict"] * 3))
    assert rows.iloc[-1]["change (paired)"] == "no verdict: every judgement failed"
    # one consistent win among two inconsistent pairs and one failure: a rate over the two judged pairs
    rows = summary(scored, pairwise=pairs(["fine-tuned", "inconsistent", None], [None, None, "timeout"]))
    assert rows.iloc[-1]["metric"] == f"{title} (1 failed, left out; 1 of 2 inconsistent across orders)"
    assert rows.iloc[-1]["change (paired)"].startswith("0.50")
