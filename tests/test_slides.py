"""The workshop deck: its figures are redrawn from a run folder the package itself wrote, it renders to one
self-contained HTML file with the pinned Marp CLI, it has every agenda section, and no slide overflows its page.

Screenshots of a few slides land in runs/slides/ (kept by CI as artifacts): look at them after a change to the deck.
Needs Node.js with `npm ci --prefix slides` and Debian's chromium; without them those tests skip and say why,
except in CI (CI=true), which installs both and must never skip them.
"""

import json
import os
import re
import shutil
from pathlib import Path

import pytest

import stoic_workshop as sw
from stoic_workshop import slides
from stoic_workshop.cli import main

ROOT = Path(__file__).resolve().parent.parent
DECK = ROOT / "slides" / "deck.md"
SHOTS = ROOT / "runs" / "slides"

IN_CI = os.environ.get("CI", "").lower() in ("1", "true")
needs_marp = pytest.mark.skipif(
    not IN_CI and (shutil.which("node") is None
                   or not (ROOT / "slides" / "node_modules" / "@marp-team" / "marp-cli").is_dir()),
    reason="Marp CLI not installed: needs Node.js 18+ and `npm ci --prefix slides`")
needs_chromium = pytest.mark.skipif(not IN_CI and shutil.which("chromium") is None,
                                    reason="headless Chromium not installed: apt-get install -y chromium")


def referenced(markdown: str) -> set[str]:
    """The figures deck.md uses: images under figures/ and `<!-- include: x -->` snippets."""
    return set(re.findall(r"\]\(figures/([^)\s]+)\)", markdown)) | set(
        re.findall(r"^<!-- include: (\S+) -->$", markdown, re.M))


def sections(deck_html: str) -> list[tuple[int, str, str]]:
    """(slide number, class, HTML) of every slide of a rendered deck."""
    found = re.findall(r'<section id="(\d+)"([^>]*)>(.*?)</section>', deck_html, re.S)
    return [(int(n), " ".join(re.findall(r'\sclass="([^"]*)"', attrs)), body) for n, attrs, body in found]


def slide_with(deck_html: str, text: str) -> int:
    found = [n for n, _, body in sections(deck_html) if text in body]
    assert found, f"no slide contains {text!r}"
    return found[0]


def test_the_deck_uses_exactly_the_figures_the_code_draws_and_all_are_committed():
    # One list, two sides: a figure the code stops drawing, or the deck stops showing, fails here.
    assert referenced(DECK.read_text(encoding="utf-8")) == set(slides.FIGURES)
    for name in slides.FIGURES:
        assert (ROOT / "slides" / "figures" / name).stat().st_size > 100, name


def test_slides_command_says_how_to_make_a_run_when_the_folder_is_not_one(tmp_path, capsys):
    assert main(["slides", "--run", str(tmp_path), "--figures", str(tmp_path / "f")]) == 1
    err = capsys.readouterr().err
    assert "adapter/training.json" in err and "stoic-workshop run --out" in err
    with pytest.raises(SystemExit) as done:
        main(["slides", "--help"])
    assert done.value.code == 0


def test_an_answer_on_the_slide_is_cut_between_words_to_55_words_and_330_characters():
    """A tiny random model's answer (long runs of tall scripts) overflowed the before/after slide by 6 px at 440
    characters; the cut now stops at the last whole word that fits, and says that it cut."""
    from stoic_workshop.slides import _words

    noise = " ".join(["মেয়েziehen", "তৈরি", "marketed"] * 30)
    cut = _words(noise)
    assert len(cut) <= 330 + len(" ...") and cut.endswith(" ...")
    assert noise.startswith(cut.removesuffix(" ...") + " ")  # whole words, in order
    assert _words("Calm is a choice.") == "Calm is a choice."  # a short answer is whole, with no "..."
    assert _words("word " * 60).count("word") == 55
    assert _words("x" * 1000) == "x" * 330 + " ..."  # one endless "word"


def test_a_missing_marp_names_the_install_command(tmp_path, monkeypatch):
    deck = tmp_path / "deck.md"
    deck.write_text("---\nmarp: true\n---\n\n# One slide\n")
    monkeypatch.setattr(slides, "SLIDES_DIR", tmp_path)  # a slides folder with no node_modules
    with pytest.raises(slides.SlidesError, match=re.escape(f"npm ci --prefix {tmp_path}")):
        slides.render_slides(tmp_path / "deck.html", deck=deck)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """A run folder written by the package's own code on tiny inputs, in `stoic-workshop run`'s layout.

    The real job takes ~10 minutes; here a randomly initialised Gemma 3 of the real architecture is fine-tuned for
    2 steps with energy measured, then evaluated on 2 held-out complaints by the same `pipeline.evaluate` the run
    uses. Its answers are noise, which is the point for a layout test: the slides must cope with any text.
    """
    import torch
    from transformers import AutoTokenizer, Gemma3ForCausalLM, Gemma3TextConfig

    from stoic_workshop import evaluate as evaluate_module
    from stoic_workshop.chat import prepare_tokenizer
    from stoic_workshop.pipeline import evaluate

    GENERAL_TEXT = evaluate_module.general_text

    run = tmp_path_factory.mktemp("run")
    tokenizer = AutoTokenizer.from_pretrained(sw.model_folder("gemma-3-270m"))
    torch.manual_seed(0)
    model = Gemma3ForCausalLM(Gemma3TextConfig(
        vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, head_dim=16, sliding_window=64, max_position_embeddings=256)).eval()
    prepare_tokenizer(tokenizer, model, family="gemma")
    meter = sw.Energy(output_dir=str(run), measure_power_secs=1)
    data = sw.make_dataset(n=8)
    sw.save_jsonl(data, run / "data.jsonl")  # what the adapters train on, where `stoic-workshop run` keeps it
    result = sw.finetune(model, tokenizer, data, run / "adapter", max_steps=2, energy=meter, progress=False)
    # The forgetting check's perplexity over the whole general-English text costs about a minute at this vocabulary
    # (262,144 logits a token); its first paragraph makes the same table.
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(evaluate_module, "general_text", lambda: GENERAL_TEXT().split("\n\n")[0])
        evaluate(result.model, tokenizer, run, sw.eval_prompts()[:2], meter, progress=False)
    # checks.csv as export_all writes it once llama.cpp has run a GGUF file: this row is the test's
    import pandas as pd

    from stoic_workshop.export import Check, Exported

    gguf = sw.RunFolder(run).gguf("q8_0")
    gguf.write_bytes(b"GGUF" + bytes(12_499_996))  # 12.5 MB
    check = Check(gguf, 12.5, "Accept it.", "stop", "<end_of_turn>", 7, 8, None, 1.0)
    pd.DataFrame([Exported("q8_0", gguf, True, check).row()]).to_csv(sw.RunFolder(run).checks, index=False)
    return run


def test_figures_are_redrawn_from_a_run_folder(tiny_run, tmp_path):
    import pandas as pd
    from PIL import Image

    written = slides.slide_figures(tiny_run, tmp_path)
    assert set(written) == set(slides.FIGURES)
    for name, path in written.items():
        if name.endswith(".png"):
            assert Image.open(path).size[0] >= 1000, name  # sharp on a 1280-wide slide
    training = json.loads((tiny_run / "adapter" / "training.json").read_text())
    summary = pd.read_csv(tiny_run / "summary.csv")
    energy = pd.read_csv(tiny_run / "emissions.csv")
    assert list(energy["project_name"]) == ["training", "answers", "evaluation"]
    text = {name: path.read_text() for name, path in written.items() if name.endswith(".md")}
    assert "| steps x examples | 2 x 8 |" in text["training.md"]                   # 2 steps, batch 2 x accumulation 4
    assert sw.sweep_takeaway(sw.course_sweep()) in text["sweep.md"]  # the course's measured sweep, its own sentence
    assert text["sweep.md"] == (ROOT / "slides" / "figures" / "sweep.md").read_text()  # the committed one is current
    assert f"{training['trainable'] / 1e6:.2f} M" in text["training.md"]
    assert all(change in text["summary.md"] for change in summary["change (paired)"])  # the run's own intervals
    assert "held-out complaints; the adapters trained on 8 conversations;" in text["summary.md"]  # its data.jsonl
    assert sw.eval_prompts()[0] in text["answers.md"]                                  # the first complaint, unpicked
    assert "| stoic-q8_0.gguf | 12.5 | ok: ended its turn, 7/8 first tokens as merged |" in text["export.md"]
    assert f"Total: {energy['energy_consumed'].sum() * 1000:.2f} Wh" in text["energy.md"]  # kWh summed, shown in Wh


@needs_marp
@needs_chromium
def test_the_deck_renders_with_freshly_drawn_figures_and_still_fits(tiny_run, tmp_path):
    figures = tmp_path / "figures"
    slides.slide_figures(tiny_run, figures)
    deck = slides.render_slides(tmp_path / "deck.html", figures=figures)
    assert slides.overflowing(deck) == {}


@pytest.fixture(scope="module")
def committed_deck(tmp_path_factory):
    return slides.render_slides(tmp_path_factory.mktemp("deck") / "deck.html")


@needs_marp
def test_the_rendered_deck_is_self_contained_and_follows_the_agenda(committed_deck):
    page = committed_deck.read_text(encoding="utf-8")
    # Nothing fetched when it opens: every image inline, no stylesheet, script or font from elsewhere.
    assert not re.search(r'(?:src|href)="(?!data:|#)[^"]+"', page)
    assert not re.search(r"url\((?!['\"]?(?:data:|#))", page)
    assert "@import" not in page
    assert page.count('src="data:image/png;base64,') == sum(f.endswith(".png") for f in slides.FIGURES)
    found = sections(page)
    assert 25 <= len(found) <= 40
    titles = [re.sub(r"<[^>]+>", "", re.search(r"<h1[^>]*>(.*?)</h1>", body, re.S).group(1)).strip()
              for _, cls, body in found if "section" in cls.split()]
    assert titles == list(slides.AGENDA)
    for notebook in ("01_base_vs_instruct", "02_finetune", "03_evaluation", "04_deploy", "05_knowledge"):
        assert f"notebooks/{notebook}.ipynb" in page
    # The numbers came from the committed figures, not typed into the deck.
    assert (ROOT / "slides" / "figures" / "summary.md").read_text().splitlines()[2].split("|")[2].strip() in page


@pytest.fixture(scope="module")
def code_deck(tmp_path_factory):
    """The deck's own style, with slide 1 like "Outgrowing one GPU" (a wide code block scaled down by Marp, then a
    list that fits only once it is) and slide 2 a list far too long for its page."""
    folder = tmp_path_factory.mktemp("code-deck")
    front = DECK.read_text(encoding="utf-8").split("\n---\n")[0]
    code = ("```bash\naccelerate launch --config_file \"$(stoic-workshop launch-config ddp)\" \\\n"
            "    -m stoic_workshop train --model gemma-2-2b-it --out adapters/2b\n```")
    fits = "\n".join(f"- a point about sharding the model over the GPUs, number {i}" for i in range(7))
    (folder / "deck.md").write_text(f"{front}\n---\n\n# Code, then a list\n\n{code}\n\n{fits}\n\n---\n\n"
                                    "# Too long\n\n" + "\n".join(f"- point {i}" for i in range(30)) + "\n",
                                    encoding="utf-8")
    return slides.render_slides(folder / "deck.html", deck=folder / "deck.md")


@needs_marp
@needs_chromium
def test_overflow_is_judged_on_the_layout_marp_shows(code_deck, tmp_path):
    """Headless Chromium sometimes hands the page over before Marp has scaled a code block (then twice as tall):
    CI once failed on a slide that fits. Only the scaled layout is judged, every time; a page whose code blocks are
    never scaled (Marp's scripts taken out) is an error that says so, not a verdict."""
    for _ in range(6):
        found = slides.overflowing(code_deck)
        assert list(found) == [2] and "content 1280x" in found[2], found
    page = code_deck.read_text(encoding="utf-8")
    unscaled = tmp_path / "unscaled.html"
    unscaled.write_text(re.sub(r"<script\b[^>]*>.*?</script>", "", page, flags=re.S), encoding="utf-8")
    with pytest.raises(slides.SlidesError, match=r"not yet scaled 1 code block\(s\) .* in each of 2 tries"):
        slides.overflowing(unscaled, tries=2)


@needs_marp
@needs_chromium
def test_no_slide_overflows_and_screenshots_show_the_slides(committed_deck):
    from PIL import Image, ImageStat

    assert slides.overflowing(committed_deck) == {}
    page = committed_deck.read_text(encoding="utf-8")
    SHOTS.mkdir(parents=True, exist_ok=True)
    picks = {"title": 1, "qlora": slide_with(page, "NF4</strong>, 4-bit NormalFloat"),
             "loss-curve": slide_with(page, "The loss curve"), "before-after": slide_with(page, "the numbers</h1>"),
             "energy": slide_with(page, "Energy per phase, measured")}
    for name, number in picks.items():
        shot = slides.screenshot(committed_deck, number, SHOTS / f"{number:02d}-{name}.png")
        image = Image.open(shot).convert("L")
        assert image.size == (1280, 720)
        # Not blank: a rendered slide has text or a chart, so its grey levels spread (an empty page: stddev 0).
        assert ImageStat.Stat(image).stddev[0] > 20, f"{shot} looks blank"
