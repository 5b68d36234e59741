"""The workshop deck: figures from a real run, then one self-contained HTML file rendered by Marp CLI.

    stoic-workshop run --out stoic-run && stoic-workshop slides --run stoic-run
    # or: sw.slide_figures("stoic-run"); sw.render_slides()   -> slides/deck.html

Why the figures are generated and not pasted: the numbers on the slides (loss, before/after scores with intervals,
energy per phase, export sizes) must be the ones a run of this project produced, and must change when the code does.
`slide_figures` reads a `stoic-workshop run` folder and writes PNG charts and small Markdown/HTML snippets into
slides/figures/; `slides/deck.md` shows them with `![](figures/x.png)` and `<!-- include: x.md -->` lines.

Why Marp CLI from npm: it is maintained, pinned in slides/package-lock.json, and turns Markdown into an HTML deck with
no browser. Marp itself leaves images as links beside the file, so `render_slides` inlines every figure as a data:
URI and the snippets as text first: the HTML travels alone (e-mail it, open it offline at the venue).

`screenshot` and `overflowing` drive headless Chromium over the finished HTML: the test uses them, and an instructor
can use them to look at a slide without opening a browser.
"""

from __future__ import annotations

import base64
import html
import json
import mimetypes
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from .folders import RunFolder, course_dir, in_checkout

__all__ = ["AGENDA", "FIGURES", "SLIDES_DIR", "slides_workdir", "slide_figures", "render_slides", "screenshot",
           "overflowing", "SlidesError"]

SLIDES_DIR = course_dir("slides")   # the deck as shipped: the checkout's slides/, or the copy inside the package

# The workshop's agenda: each is the heading of a section title slide in deck.md, in this order.
AGENDA = ("Background", "Experiment 1", "Choosing model and data", "Chat templates", "QLoRA", "Experiment 2",
          "Evaluation methods", "Experiment 3", "Deployment", "Knowledge", "Energy")

# Everything `slide_figures` writes; deck.md references each of them (a test holds both sides to this list).
FIGURES = ("loss.png", "training.md", "summary.md", "scores.png", "answers.md", "export.md", "energy.png",
           "energy.md", "knowledge.png", "sweep.png", "sweep.md")
# The knowledge chart's numbers: `stoic-workshop knowledge` writes them; the course ships its measured run's here.
KNOWLEDGE = "knowledge.csv"

MARP_VERSION = "4.5.1"   # pinned in slides/package.json
INSTALL_MARP = "npm ci --prefix slides"
INSTALL_NODE = "apt-get install -y nodejs npm (or Node.js 18+ from https://nodejs.org)"
INSTALL_CHROMIUM = "apt-get install -y chromium"

# Headless Chromium in a closed network: without the background-networking flags it waits on connections it cannot
# make; a fresh profile per call keeps runs independent (and lets two run at once).
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--virtual-time-budget=1500")

_IMAGE = re.compile(r"\]\(figures/([^)\s]+)\)")
_INCLUDE = re.compile(r"^<!-- include: (\S+) -->$", re.M)
_WORDS_PER_ANSWER = 55   # two answers side by side at the slide's small type; longer ones end in "..."
_CHARS_PER_ANSWER = 330  # and at most this many characters, cut between words


class SlidesError(RuntimeError):
    """The deck cannot be built here: the message says what is missing and which command installs it."""


def slides_workdir() -> Path:
    """The folder the deck is drawn and rendered in.

    In a checkout (or where SLIDES_DIR was pointed elsewhere) that is SLIDES_DIR itself. An installed package never
    writes inside itself: the first call copies the shipped deck, its figures and Marp's pinned package files into
    ./slides, keeping any file already there, and works on that copy.
    Example: `slides_workdir()` -> Path("slides")
    """
    if SLIDES_DIR != course_dir("slides") or in_checkout("slides"):
        return SLIDES_DIR
    work = Path("slides")
    for source in SLIDES_DIR.rglob("*"):
        target = work / source.relative_to(SLIDES_DIR)
        if source.is_file() and not target.exists() and "__pycache__" not in source.parts:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target)
    return work


# ---------------------------------------------------------------- figures from a run folder


def slide_figures(run, out=None) -> dict[str, Path]:
    """Write every figure of FIGURES from the `stoic-workshop run` folder `run` into `out` (default slides/figures).

    Needs adapter/training.json, summary.csv, scores.csv, answers.csv, forgetting.csv and emissions.csv; checks.csv
    and run.json are optional (a run without export or a notebook's eval folder still makes a deck). The knowledge
    chart comes from `run`/knowledge/knowledge.csv (`stoic-workshop knowledge --out RUN/knowledge`) where there is
    one, else from the course's measured run (slides/figures/knowledge.csv).
    Example: `slide_figures("stoic-run")["loss.png"]` -> Path("slides/figures/loss.png")
    """
    import matplotlib

    matplotlib.use("Agg")   # files only: never open a window
    folder = RunFolder(run)
    run = folder.root
    out = Path(out) if out is not None else slides_workdir() / "figures"
    needed = [folder.training, folder.summary, folder.scores, folder.answers, folder.forgetting, folder.emissions]
    missing = [str(path.relative_to(run)) for path in needed if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"{run} is not a finished run folder: {', '.join(missing)} missing. Make one with "
                                f"`stoic-workshop run --out {run}` (about 10 minutes on a CPU; without --no-energy, "
                                "which leaves no emissions.csv).")
    out.mkdir(parents=True, exist_ok=True)
    training = json.loads(folder.training.read_text())
    model = _model_name(run)
    written = {
        "loss.png": _loss(training, out / "loss.png"),
        "training.md": _write(out / "training.md", _training_table(training, model)),
        "summary.md": _write(out / "summary.md", _summary_table(run)),
        "scores.png": _scores(run, out / "scores.png"),
        "answers.md": _write(out / "answers.md", _answer_pair(run)),
        "export.md": _write(out / "export.md", _export_table(run, training, model)),
    }
    written["energy.png"], energy_text = _energy(run, training, out / "energy.png")
    written["energy.md"] = _write(out / "energy.md", energy_text)
    written["knowledge.png"] = _knowledge(run, out / "knowledge.png")
    written["sweep.png"], sweep_text = _sweep(out / "sweep.png")
    written["sweep.md"] = _write(out / "sweep.md", sweep_text)
    return written


def _sweep(path: Path) -> tuple[Path, str]:
    """Energy against quality, from the course's measured sweep (`sw.course_sweep()`): its chart and its sentence."""
    import matplotlib.pyplot as plt

    from .energy_sweep import course_sweep, plot_sweep, sweep_takeaway

    table = course_sweep()
    with _slide_style():
        fig = plot_sweep(table)
        fig.set_size_inches(9, 4.2)
        fig.tight_layout()
        fig.savefig(path)
    plt.close(fig)
    copying = table[table["copied_rate"] > 0]
    return path, (f'<p class="note">{sweep_takeaway(table)} The {len(copying)} runs that recited their training '
                  f"replies (8 words or more, in {copying['copied_rate'].min():.0%} to "
                  f"{copying['copied_rate'].max():.0%} of their answers) had all driven the training loss to "
                  f"{copying['final_loss'].max():.2f} or less. {len(table)} fine-tunes on a 2-core CPU, energy "
                  "estimated.</p>")


def _knowledge(run: Path, path: Path) -> Path:
    """The five arms' chart, by the experiment's own plot, from the run's knowledge folder or the course's run."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from .knowledge import plot_arms

    source = RunFolder(run).knowledge / KNOWLEDGE
    source = source if source.is_file() else SLIDES_DIR / "figures" / KNOWLEDGE
    with _slide_style():
        fig = plot_arms(pd.read_csv(source))
        fig.set_size_inches(9, 4.2)
        fig.tight_layout()
        fig.savefig(path)
    plt.close(fig)
    return path


def _write(path: Path, text: str) -> Path:
    path.write_text(text.rstrip() + "\n", encoding="utf-8")
    return path


def _model_name(run: Path) -> str:
    """The preset the run trained: run.json says it; a folder without one falls back to the adapter's base."""
    folder = RunFolder(run)
    if folder.record.is_file():
        return json.loads(folder.record.read_text())["model"]
    config = folder.adapter / "adapter_config.json"
    base = json.loads(config.read_text()).get("base_model_name_or_path") if config.is_file() else None
    return Path(base).name if base else "a model not named in the run"


def _slide_style():
    """Matplotlib settings for a chart read from the back of a room: larger type, no top/right frame."""
    import matplotlib.pyplot as plt

    return plt.rc_context({"font.size": 13, "axes.titlesize": 14, "axes.spines.top": False,
                           "axes.spines.right": False, "savefig.dpi": 150})


def _loss(training: dict, path: Path) -> Path:
    """The run's loss curve, drawn by the same function as adapter/loss.png so slide and notebook agree."""
    import matplotlib.pyplot as plt

    from .train import plot_losses

    with _slide_style():
        fig = plot_losses([tuple(p) for p in training["losses"]],
                          title=f"Training loss, {training['steps']} steps ({training['path']}, "
                                f"r={training['settings']['lora_r']})")
        fig.set_size_inches(8, 4)
        fig.axes[0].legend(fontsize=11)   # plot_losses sizes its legend for a notebook
        fig.tight_layout()
        fig.savefig(path)
    plt.close(fig)
    return path


def _scores(run: Path, path: Path) -> Path:
    """Per-answer score distributions before and after, from scores.csv, by the evaluation's own plot."""
    import matplotlib.pyplot as plt
    import pandas as pd

    from .evaluate import plot_scores

    with _slide_style():
        fig = plot_scores(pd.read_csv(RunFolder(run).scores))
        fig.savefig(path)
    plt.close(fig)
    return path


def _training_table(training: dict, model: str) -> str:
    settings = training["settings"]
    examples = settings.get("effective_batch",  # across every GPU; records from before it: one process
                            settings["per_device_train_batch_size"] * settings["gradient_accumulation_steps"])
    rows = [("model", model), ("route", training["path"]),
            ("steps x examples", f"{training['steps']} x {examples}"),
            ("LoRA", f"r={settings['lora_r']}, alpha={settings['lora_alpha']}, "
                     f"{len(settings['target_modules'])} projections"),
            ("learning rate", f"{settings['learning_rate']:g}"),
            ("trainable", f"{training['trainable'] / 1e6:.2f} M of {training['total'] / 1e6:.0f} M "
                          f"({training['trainable'] / training['total']:.1%})"),
            ("loss", f"{training['losses'][0][1]:.2f} -> {training['losses'][-1][1]:.2f}"),
            ("time", f"{training['seconds']:.0f} s, {training['tokens']:,} tokens"),
            ("adapters", f"{training['adapter_mb']:.1f} MB")]
    return "| this run | |\n|---|---|\n" + "\n".join(f"| {k} | {_cell(v)} |" for k, v in rows)


def _summary_table(run: Path) -> str:
    """summary.csv (means with bootstrap 95% intervals) plus the forgetting check, as one Markdown table."""
    import pandas as pd

    table = pd.read_csv(RunFolder(run).summary).fillna("")
    before, after, change = table.columns[1:4]
    lines = [f"| metric | {before} | {after} | change [95% CI] |", "|---|---|---|---|"]
    lines += [f"| {_cell(r.iloc[0])} | {_cell(r.iloc[1])} | {_cell(r.iloc[2])} | **{_cell(r.iloc[3])}** |"
              for _, r in table.iterrows()]
    forgot = pd.read_csv(RunFolder(run).forgetting)
    if len(forgot) >= 2:
        lines.append(f"| Perplexity on plain English (lower is better) | {forgot['perplexity'].iloc[0]:.2f} "
                     f"| {forgot['perplexity'].iloc[-1]:.2f} | **{forgot['change %'].iloc[-1]:+.1f}%** |")
    n = pd.read_csv(RunFolder(run).scores)["prompt"].nunique()
    data = RunFolder(run).data  # what the adapters trained on: the CLI's 160 pairs, notebook 2's 92
    trained = (f"the adapters trained on {sum(1 for line in data.open() if line.strip())} conversations; "
               if data.is_file() else "")
    return "\n".join(lines) + (f"\n\n<p class=\"note\">{n} held-out complaints; {trained}means with bootstrap 95% "
                               "intervals.</p>")


def _answer_pair(run: Path) -> str:
    """The first held-out complaint answered before and after, ideas and quotations marked: the first, not a pick."""
    import pandas as pd

    from .evaluate import highlight_answer  # Stoic ideas in yellow, quotations red (invented) or green (real)

    table = pd.read_csv(RunFolder(run).answers).fillna("")
    models = [c for c in table.columns if c != "prompt"]
    row = table.iloc[0]
    cells = "".join(f"<div><h4>{html.escape(m)}</h4><p>{highlight_answer(_words(str(row[m])))}</p></div>"
                    for m in (models[0], models[-1]))
    return (f"<p class=\"prompt\">&ldquo;{html.escape(str(row['prompt']))}&rdquo;</p>\n"
            f"<div class=\"pair\">{cells}</div>")


def _words(text: str, n: int = _WORDS_PER_ANSWER, chars: int = _CHARS_PER_ANSWER) -> str:
    """The first `n` words, as many as fit in `chars` characters: an untrained model can emit endless "words", or
    runs of scripts whose glyphs stand taller than Latin ones (a noise answer of 440 characters overflowed a slide)."""
    words, kept = text.split(), []
    for word in words[:n]:
        if len(" ".join([*kept, word])) > chars:
            kept = kept or [word[:chars]]
            break
        kept.append(word)
    short = " ".join(kept)
    return short + (" ..." if short != " ".join(words) else "")


def _export_table(run: Path, training: dict, model: str) -> str:
    """What deployment ships and how big it is: adapters, merged weights, each GGUF file and its llama.cpp check."""
    import pandas as pd

    lines = ["| file | MB | run in llama.cpp |", "|---|---:|---|",
             f"| adapters (adapter_model.safetensors) | {training['adapter_mb']:.1f} | with the base model |"]
    folder = RunFolder(run)
    merged = list(folder.merged.glob("*.safetensors"))
    if merged:
        lines.append(f"| merged model, 16-bit (merged/) | {sum(f.stat().st_size for f in merged) / 1e6:.1f} | - |")
    if folder.checks.is_file():
        for _, c in pd.read_csv(folder.checks).iterrows():
            ended = "ended its turn" if c["stopped by"] == "stop" else f"stopped by {c['stopped by']}"
            if str(c["ok"]) == "True":
                same = str(c["same first tokens"])
                verdict = f"ok: {ended}" + (f", {int(float(same))}/8 first tokens as merged"
                                            if same.replace(".", "").isdigit() else "")
            elif str(c["ok"]) == "not checked":
                verdict = "not run (llama.cpp's Python bindings not installed)"
            else:
                verdict = f"not ok: {ended}"
            lines.append(f"| {_cell(c['file'])} | {c['MB']:.1f} | {_cell(verdict)} |")
    else:
        lines.append("| (no GGUF in this run: `stoic-workshop export adapter`) | | |")
    return "\n".join(lines) + f"\n\n<p class=\"note\">{html.escape(model)}, files of this run.</p>"


def _energy(run: Path, training: dict, path: Path) -> tuple[Path, str]:
    """Energy per phase from CodeCarbon's emissions.csv (one row per measured phase), as a chart and one sentence.

    A resumed run appends a row per session; rows of one phase are summed, which is what that phase really cost.
    """
    import matplotlib.pyplot as plt
    import pandas as pd

    from .energy import in_context
    rows = pd.read_csv(RunFolder(run).emissions)
    phases = rows.groupby("project_name", sort=False).agg(seconds=("duration", "sum"), kwh=("energy_consumed", "sum"),
                                                          kg=("emissions", "sum"), n=("duration", "size"))
    estimated = any(e.get("power") == "estimated" for e in training.get("energy", []))
    country = rows["country_name"].iloc[-1] if "country_name" in rows else "?"
    with _slide_style():
        fig, ax = plt.subplots(figsize=(8, 1.2 + 0.8 * len(phases)))
        wh = phases["kwh"] * 1000
        ax.barh(phases.index, wh, color="#4c72b0", height=0.55)
        for i, p in enumerate(phases.itertuples()):
            label = f" {p.kwh * 1000:.2f} Wh, {p.kg * 1000:.2f} g CO2eq, {p.seconds:.0f} s"
            ax.text(wh.iloc[i], i, label + (f" ({p.n} sessions)" if p.n > 1 else ""), va="center", fontsize=12)
        ax.set_xlim(0, max(wh.max(), 1e-3) * 2.1)   # room for the labels
        ax.invert_yaxis()
        ax.set(xlabel="energy (Wh)", title=f"Energy per phase, measured by CodeCarbon ({country} grid)")
        fig.tight_layout()
        fig.savefig(path)
    plt.close(fig)
    kwh, grams = phases["kwh"].sum(), phases["kg"].sum() * 1000
    text = f"**Total: {kwh * 1000:.2f} Wh, {grams:.2f} g CO2eq**. {in_context(kwh, grams)}"
    if estimated:
        text += ("\n\n<p class=\"note\">CPU power was estimated by CodeCarbon from load and the CPU's TDP (no power "
                 "counter on this machine): read it as an order of magnitude.</p>")
    return path, text


def _cell(value) -> str:
    """Text safe inside a Markdown table cell: one line, no column breaks."""
    return str(value).replace("|", "\\|").replace("\n", " ")


# ---------------------------------------------------------------- rendering with Marp CLI


def _marp(slides_dir: Path) -> list[str]:
    """The command that runs the Marp CLI installed by `npm ci --prefix slides`, or a SlidesError with the fix."""
    node = shutil.which("node")
    if node is None:
        raise SlidesError(f"Node.js is not installed: Marp CLI needs Node 18 or newer. Install it ({INSTALL_NODE}), "
                          f"then run `{INSTALL_MARP}`.")
    cli = slides_dir / "node_modules" / "@marp-team" / "marp-cli" / "marp-cli.js"
    if not cli.is_file():
        raise SlidesError(f"Marp CLI {MARP_VERSION} is not installed in {slides_dir / 'node_modules'}: run "
                          f"`npm ci --prefix {slides_dir}` (it installs the pinned version).")
    return [node, str(cli)]


def _inline(markdown: str, figures: Path) -> str:
    """deck.md with every `<!-- include: x -->` replaced by figures/x and every figures/ image made a data: URI."""
    def include(m: re.Match) -> str:
        return _read_figure(figures, m.group(1)).decode("utf-8").rstrip()

    def image(m: re.Match) -> str:
        data = base64.b64encode(_read_figure(figures, m.group(1))).decode("ascii")
        kind = mimetypes.guess_type(m.group(1))[0] or "image/png"
        return f"](data:{kind};base64,{data})"

    return _IMAGE.sub(image, _INCLUDE.sub(include, markdown))


def _read_figure(figures: Path, name: str) -> bytes:
    path = figures / name
    if not path.is_file():
        raise SlidesError(f"The deck needs {path}, which is missing. Make the figures from a run: "
                          "`stoic-workshop run --out stoic-run && stoic-workshop slides --run stoic-run`.")
    return path.read_bytes()


def render_slides(out=None, *, deck=None, figures=None, timeout: float = 120) -> Path:
    """Render `deck` (default slides/deck.md) to one self-contained HTML file `out` (default slides/deck.html).

    `figures` is the folder the deck's figures/ references point to (default: figures/ beside the deck).
    Example: `render_slides("runs/deck.html")` -> Path("runs/deck.html"); open it in any browser, arrow keys to move.
    """
    work = slides_workdir()
    deck = Path(deck) if deck is not None else work / "deck.md"
    if not deck.is_file():
        raise SlidesError(f"No deck at {deck}: pass the path of a Marp Markdown deck, or leave it out for the "
                          "workshop's own.")
    figures = Path(figures) if figures is not None else deck.parent / "figures"
    out = Path(out) if out is not None else deck.with_suffix(".html")
    command = _marp(work if (work / "package.json").is_file() else deck.parent)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        source = Path(tmp) / deck.name
        source.write_text(_inline(deck.read_text(encoding="utf-8"), figures), encoding="utf-8")
        # --html: the generated snippets use a little HTML (<mark> for matched keywords, a two-column pair);
        # --no-stdin: never wait for input when run without a terminal (CI, subprocess).
        try:
            done = subprocess.run([*command, "--no-stdin", "--html", str(source), "-o", str(out.resolve())],
                                  capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as err:
            raise SlidesError(f"Marp CLI did not finish in {timeout:.0f} s: {(err.stderr or '')[-800:]}") from err
    if done.returncode != 0 or not out.is_file():
        raise SlidesError(f"Marp CLI failed (exit {done.returncode}):\n{done.stderr.strip() or done.stdout.strip()}")
    return out


# ---------------------------------------------------------------- looking at the deck in headless Chromium


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise SlidesError(f"Chromium is not installed: {INSTALL_CHROMIUM}")


def _browse(args: list[str], timeout: float) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as profile:
        return subprocess.run([_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout,
                              env={**os.environ, "DBUS_SESSION_BUS_ADDRESS": "/dev/null"})


# Marp's on-screen controller (page number, arrows) floats over the slide until the mouse has been still a while;
# a screenshot should show the slide alone.
_NO_CONTROLS = "<style>.bespoke-marp-osc { display: none !important; }</style>"


def _with(deck_html, extra: str) -> str:
    """The deck's HTML with `extra` added at the end of <body>, for a copy that Chromium loads instead."""
    page = Path(deck_html).read_text(encoding="utf-8")
    if "</body>" not in page:
        raise SlidesError(f"{deck_html} is not an HTML deck (no </body>): render it with render_slides() first")
    return page.replace("</body>", extra + "</body>")


def screenshot(deck_html, slide: int, path, *, size: tuple[int, int] = (1280, 720), timeout: float = 60) -> Path:
    """A PNG of slide number `slide` (1-based) of a rendered deck, as a browser at `size` shows it.

    Marp's HTML opens the slide named in the URL's #fragment, so each slide is one page load.
    Example: `screenshot("slides/deck.html", 1, "title.png")` -> Path("title.png")
    """
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "deck.html"
        page.write_text(_with(deck_html, _NO_CONTROLS), encoding="utf-8")
        done = _browse([f"--window-size={size[0]},{size[1]}", f"--screenshot={path}", f"{page.as_uri()}#{slide}"],
                       timeout)
    if not path.is_file():
        raise SlidesError(f"Chromium wrote no screenshot of slide {slide}: {done.stderr.strip()[-800:]}")
    return path


# Runs in the page after load: for each slide, what sticks out of its 1280x720 box. A slide is the <section> Marp
# draws inside an SVG; every slide is laid out (the inactive ones are only hidden), so one load measures them all.
_PROBE = """<script>
window.addEventListener('load', () => {
  const found = [];
  document.querySelectorAll('svg[data-marpit-svg] > foreignObject > section').forEach((s, i) => {
    const box = s.getBoundingClientRect(), scale = box.width / s.offsetWidth, why = [];
    if (s.scrollHeight > s.clientHeight + 1 || s.scrollWidth > s.clientWidth + 1)
      why.push(`content ${s.scrollWidth}x${s.scrollHeight} in ${s.clientWidth}x${s.clientHeight}`);
    s.querySelectorAll('*').forEach((e) => {
      const r = e.getBoundingClientRect();
      if (r.width === 0 && r.height === 0) return;
      if (r.bottom > box.bottom + scale || r.right > box.right + scale || r.top < box.top - scale
          || r.left < box.left - scale) why.push(`<${e.tagName.toLowerCase()}> outside the slide`);
      else if (e.scrollWidth > e.clientWidth + 1 && ['PRE', 'TABLE', 'CODE'].includes(e.tagName)
               && getComputedStyle(e).overflowX !== 'visible') why.push(`<${e.tagName.toLowerCase()}> scrolls`);
    });
    if (why.length) found.push([i + 1, [...new Set(why)].join('; ')]);
  });
  // Marp scales a code block to its slide (an <svg> given a viewBox) in a frame after 'load', and headless Chromium
  // sometimes dumps the page before that frame: such a layout is not the one on screen, so it is not judged.
  const unsettled = [...document.querySelectorAll('[data-auto-scaling]')].filter((e) => {
    const scaler = e.shadowRoot && e.shadowRoot.querySelector('marp-auto-scaling');
    const svg = scaler && scaler.shadowRoot && scaler.shadowRoot.querySelector('svg');
    return !(svg && svg.hasAttribute('viewBox'));
  }).length;
  const out = document.createElement('pre');
  out.id = 'overflow-probe';
  out.textContent = JSON.stringify({unsettled, found});
  document.body.appendChild(out);
});
</script>"""


def overflowing(deck_html, *, size: tuple[int, int] = (1280, 720), timeout: float = 60,
                tries: int = 20) -> dict[int, str]:
    """Slides whose content does not fit their page: {slide number: what sticks out}; {} when everything fits.

    Marp clips a slide at its edges without a warning, so a long list simply loses its last lines on screen.
    A page read before Marp had scaled its code blocks is loaded again, up to `tries` times.
    Example: `overflowing("slides/deck.html")` -> {}
    """
    with tempfile.TemporaryDirectory() as tmp:
        probe = Path(tmp) / "probe.html"
        probe.write_text(_with(deck_html, _PROBE), encoding="utf-8")
        for _ in range(tries):
            done = _browse([f"--window-size={size[0]},{size[1]}", "--dump-dom", probe.as_uri()], timeout)
            found = re.search(r'<pre id="overflow-probe">(.*?)</pre>', done.stdout, re.S)
            if found is None:
                raise SlidesError(f"Chromium did not run the overflow probe: {done.stderr.strip()[-800:]}")
            result = json.loads(html.unescape(found.group(1)))
            if not result["unsettled"]:
                return {n: why for n, why in result["found"]}
    raise SlidesError(f"Marp had not yet scaled {result['unsettled']} code block(s) of {deck_html} when Chromium "
                      f"read the page, in each of {tries} tries: run it again")
