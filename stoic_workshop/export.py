"""Step 5, deployment: adapters -> merged model -> GGUF file that llama.cpp and Ollama run.

The adapters are the small thing to keep and share; a runtime like llama.cpp or Ollama wants one
self-contained file. So: merge the adapters into a 16-bit copy of the base, save it as a normal
transformers folder, convert that to GGUF with llama.cpp's own converter, and run the file to
prove it works. Two things break exported models in practice, and both are checked here:

- the converter: usually "clone llama.cpp and compile it". Its Python converter needs no compiling
  and ships inside the llama-cpp-python source package on PyPI; it is unpacked once into the cache.
  F16, BF16 and Q8_0 are written in pure Python; Q4_K_M needs llama.cpp's quantizer, used through the
  llama-cpp-python bindings where they are installed.
- the chat template and stop token: a GGUF without them makes a model that never stops talking.
  `verify` chats with every export through llama.cpp and checks the reply ends at the end-of-turn
  token, and the `Modelfile` written for Ollama carries the same template and stop token.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path

from .chat import end_of_turn
from .serve import LLAMA_CPP_PYTHON  # the source package whose llama.cpp converter is used
from .settings import env

__all__ = ["merge", "to_gguf", "verify", "export_all", "Exported", "modelfile", "converter", "Check", "QUANTS",
           "sizes", "keep_sentencepiece"]

PYTHON_QUANTS = ("f16", "bf16", "q8_0")  # written by the converter itself, in pure Python
QUANTS = PYTHON_QUANTS + ("q4_k_m",)     # q4_k_m: llama.cpp's quantizer, through the bindings
_CONVERTER_FILES = ("convert_hf_to_gguf.py", "conversion/", "gguf-py/", "LICENSE")
MERGE_RECORD = "merged.json"  # merge's record in the folder it writes: which files it wrote, so it may replace them
# The files of a merged folder written before the record listed them (transformers' weights and config, the tokenizer)
_MERGE_FILES = ("config.json", "generation_config.json", "model.safetensors.index.json", "special_tokens_map.json",
                "chat_template.jinja", "vocab.json", "merges.txt", "added_tokens.json", MERGE_RECORD)
# The last line of every Modelfile that `modelfile` writes: a Modelfile without it is someone else's, never replaced
MODELFILE_MARK = "# Written by stoic-workshop (sw.modelfile or `stoic-workshop export`), which rewrites it each time."


def _base_of(adapters: Path) -> str:
    """What transformers loads to merge the adapters into (models.adapter_base: a name any machine resolves)."""
    from .models import PRESETS, adapter_base, model_source

    base = adapter_base(adapters)
    if not base:
        return base
    # A 4-bit training copy ("...-bnb-4bit") is merged into its 16-bit original: merging into 4-bit weights
    # would round the learned update away.
    for preset in PRESETS.values():
        if preset.repo_4bit and base == preset.repo_4bit:
            return preset.repo
    return model_source(base.removesuffix("-bnb-4bit"))


def merge(adapters: str | os.PathLike, out: str | os.PathLike, *, base: str | None = None,
          dtype: str = "float16") -> Path:
    """Fold the adapters into a fresh 16-bit copy of their base and save a plain transformers folder.

    The base is loaded again in full precision rather than reusing a 4-bit training model: W + BA is exact
    only on unquantized weights. The folder keeps the tokenizer and its chat template, so every tool that
    reads it (vLLM, llama.cpp's converter, `from_pretrained`) sees the same conversation format.
    An existing `out` is replaced only where an earlier merge wrote everything in it; otherwise NotOurs, untouched.
    Example: `sw.merge("adapters/stoic", "stoic-run/merged")`  # -> Path("stoic-run/merged")
    """
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .models import adapter_misfit

    adapters, out = Path(adapters), Path(out)
    if not (adapters / "adapter_config.json").is_file():
        raise FileNotFoundError(f"No adapters in {adapters} (adapter_config.json missing): train first "
                                "(notebook 2, or `stoic-workshop train`).")
    _check_replaceable(out)  # before the minutes of merging: a folder holding files of yours is refused, untouched
    base = base or _base_of(adapters)
    if not base:
        raise ValueError(f"{adapters}/adapter_config.json names no base model (base_model_name_or_path is empty): "
                         "pass it, e.g. merge(adapters, out, base='smollm2-135m-instruct' folder or Hub id).")
    if dtype not in ("float16", "bfloat16", "float32"):
        raise ValueError(f"dtype must be 'float16', 'bfloat16' or 'float32', got {dtype!r}")
    cuda = torch.cuda.is_available()
    # Merge in fp32 on a CPU (exact), in 16-bit on a GPU (a 2B model in fp32 would not fit Colab's RAM).
    work = torch.float32 if not cuda else getattr(torch, dtype if dtype != "float32" else "float16")
    model = AutoModelForCausalLM.from_pretrained(base, dtype=work, device_map={"": 0} if cuda else None)
    problem = adapter_misfit(model, adapters)
    if problem:
        raise ValueError(problem)
    merged = PeftModel.from_pretrained(model, str(adapters)).merge_and_unload()
    merged = merged.to(getattr(torch, dtype))
    tokenizer = AutoTokenizer.from_pretrained(str(adapters))
    if getattr(merged, "generation_config", None) is not None and end_of_turn(tokenizer):
        merged.generation_config.eos_token_id = tokenizer.convert_tokens_to_ids(end_of_turn(tokenizer))
    part = out.with_name(out.name + ".part")
    shutil.rmtree(part, ignore_errors=True)
    try:
        merged.save_pretrained(part)
        tokenizer.save_pretrained(part)
        _keep_sentencepiece(part, adapters, base)
    except Exception as err:  # a full disk: SafetensorError from the weights, OSError from the tokenizer files
        shutil.rmtree(part, ignore_errors=True)  # half a model is no use, and it holds the space that ran out
        if getattr(err, "errno", None) != errno.ENOSPC and "No space left" not in str(err):
            raise
        need = sum(p.numel() * p.element_size() for p in merged.parameters()) / 2**20
        free = shutil.disk_usage(out.parent).free / 2**20
        raise OSError(errno.ENOSPC, f"No space left on the disk to write the merged model {out}: its weights need "
                      f"about {need:,.0f} MB and {free:,.0f} MB is free there. Free some space (or choose another "
                      f"folder) and run again; the adapters in {adapters} are kept"
                      + (f", and {out} is as it was." if out.exists() else ".")) from err
    files = sorted({p.name for p in part.iterdir()} | {MERGE_RECORD})
    (part / MERGE_RECORD).write_text(json.dumps({"base": base, "adapters": str(adapters.resolve()), "dtype": dtype,
                                                 "files": files}, indent=1))
    try:
        _check_replaceable(out)  # again: a file may have been put there while the model was merging
    except ValueError:
        shutil.rmtree(part, ignore_errors=True)  # what this call wrote; `out` stays as it was
        raise
    if out.exists():
        shutil.rmtree(out)
    os.replace(part, out)
    return out


def _merge_record(folder: Path) -> dict | None:
    """merge's record in `folder` (merged.json), or None where there is none: a folder merge did not write."""
    try:
        record = json.loads((folder / MERGE_RECORD).read_text())
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and {"base", "adapters", "dtype"} <= set(record) else None


def _check_replaceable(out: Path) -> None:
    """Refuse to replace `out` unless merge wrote everything in it: merge swaps the whole folder for a new one.

    Fine: no such folder, an empty one, or an earlier merge's (its record lists the files it wrote; a record from
    before the list: transformers' and the tokenizer's usual names). Anything else would be deleted, so it stops here.
    """
    from .train import NotOurs

    if not out.exists():
        return
    if not out.is_dir():
        raise NotOurs(f"{out} is a file, and merge writes a folder there: it was left as it is. Pass another "
                      "path for the merged model (merge(adapters, out), or another --out).")
    names = sorted(p.name for p in out.iterdir())
    if not names:
        return
    record = _merge_record(out)
    if record is None:
        ours = set()
    elif record.get("files"):
        ours = set(record["files"])
    else:
        ours = {n for n in names if n in _MERGE_FILES or n.startswith("tokenizer") or n.endswith(".safetensors")}
    foreign = [n for n in names if n not in ours]
    if foreign:
        made = "merge did not make this folder" if record is None else "an earlier merge wrote this folder"
        more = f" and {len(foreign) - 1} more" if len(foreign) > 1 else ""
        raise NotOurs(f"{out} holds {foreign[0]}{more}, which merge did not write ({made}), and merging replaces the "
                      f"whole folder: nothing was changed. Move your files out of {out}, or merge into a new folder "
                      "(another --out).")


def keep_sentencepiece(folder: str | os.PathLike, base: str, adapters: str | os.PathLike | None = None) -> bool:
    """Put the base model's sentencepiece `tokenizer.model` into a merged model `folder`, where the base has one:
    llama.cpp's converter reads Gemma's vocabulary from it, and transformers 5 saves tokenizer.json only.

    `base`: the base model's folder or Hub name; `adapters`: an adapter folder to look in first. True when the
    folder has one now. SmolLM2's byte-level vocabulary needs none (False, and the converter reads tokenizer.json).
    Example: `sw.keep_sentencepiece("deploy/merged", sw.model_source("gemma-2-2b-it"))`  # -> True
    """
    folder = Path(folder)
    _keep_sentencepiece(folder, Path(adapters) if adapters else folder, base)
    return (folder / "tokenizer.model").is_file()


def _keep_sentencepiece(folder: Path, adapters: Path, base: str) -> None:
    """Put the original sentencepiece `tokenizer.model` beside the merged weights when there is one.

    transformers 5 saves Gemma's tokenizer as tokenizer.json only, and llama.cpp's converter reads Gemma 2's
    vocabulary from tokenizer.model: without it, the Colab default (Gemma 2 2B) could not become a GGUF. The file
    comes from the adapters, the base model's folder, or the base model's Hub repository, whichever has it.
    """
    if (folder / "tokenizer.model").is_file():
        return
    for candidate in (adapters / "tokenizer.model", Path(base) / "tokenizer.model"):
        if candidate.is_file():
            shutil.copyfile(candidate, folder / "tokenizer.model")
            return
    if Path(base).exists():
        return
    try:
        from huggingface_hub import hf_hub_download

        shutil.copyfile(hf_hub_download(base, "tokenizer.model"), folder / "tokenizer.model")
    except Exception:  # none in the repository (a byte-level BPE model), or no Hub: to_gguf names what is missing
        pass


def converter(cache: str | os.PathLike | None = None, *, sdist: str | os.PathLike | None = None) -> Path:
    """llama.cpp's `convert_hf_to_gguf.py` with its own `gguf-py`, unpacked once from the PyPI source package.

    Looks for the source package in `sdist`, `$STOIC_LLAMA_CPP_SDIST`, then the cache, and downloads it with
    pip only if none is found (76 MB, once: `stoic-workshop prepare` does it ahead of a workshop).
    Example: `sw.converter() / "convert_hf_to_gguf.py"`  # the script notebook 4 runs; gguf-py beside it
    """
    from filelock import FileLock

    from .models import cache_dir, writable_cache

    folder = cache_dir(cache) / f"llama.cpp-converter-{LLAMA_CPP_PYTHON}"
    if (folder / "convert_hf_to_gguf.py").is_file():
        return folder
    root = writable_cache(cache)
    with FileLock(str(root / f"{folder.name}.lock")):  # two processes at once (tests, notebooks): one fetches
        if (folder / "convert_hf_to_gguf.py").is_file():
            return folder
        return _unpack_converter(root, folder, sdist)


def _unpack_converter(root: Path, folder: Path, sdist) -> Path:
    """Find (or fetch) the source package and unpack the converter's files into `folder`, whole or not at all."""
    name = f"llama_cpp_python-{LLAMA_CPP_PYTHON}.tar.gz"
    sdist = Path(sdist or env("STOIC_LLAMA_CPP_SDIST") or root / "downloads" / name)
    if not sdist.is_file():
        sdist.parent.mkdir(parents=True, exist_ok=True)
        print(f"Fetching llama.cpp's converter: the llama-cpp-python {LLAMA_CPP_PYTHON} source package (76 MB, once)")
        done = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                               f"llama-cpp-python=={LLAMA_CPP_PYTHON}",
                               "-d", str(sdist.parent)], capture_output=True, text=True)
        if done.returncode or not sdist.is_file():
            raise RuntimeError(
                f"GGUF export needs llama.cpp's converter, which ships in the llama-cpp-python {LLAMA_CPP_PYTHON} "
                "source package, and it could not be downloaded:\n" + done.stderr.strip()[-600:] +
                f"\nRun `stoic-workshop prepare` while online, or download {name} yourself and set "
                "STOIC_LLAMA_CPP_SDIST to its path.")
    prefix = f"llama_cpp_python-{LLAMA_CPP_PYTHON}/vendor/llama.cpp/"
    part = folder.with_name(folder.name + ".part")
    shutil.rmtree(part, ignore_errors=True)
    with tarfile.open(sdist) as tar:
        members = []
        for member in tar.getmembers():
            rest = member.name[len(prefix):] if member.name.startswith(prefix) else None
            if rest and any(rest == f or (f.endswith("/") and rest.startswith(f)) for f in _CONVERTER_FILES):
                member.name = rest
                members.append(member)
        if not any(m.name == "convert_hf_to_gguf.py" for m in members):
            raise RuntimeError(f"{sdist} has no vendor/llama.cpp/convert_hf_to_gguf.py: is it llama-cpp-python "
                               f"{LLAMA_CPP_PYTHON}'s source package?")
        tar.extractall(part, members=members, filter="data")
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(part, folder)
    return folder


def to_gguf(merged: str | os.PathLike, out: str | os.PathLike | None = None, *, quant: str = "q8_0",
            cache: str | os.PathLike | None = None) -> Path:
    """Convert a merged transformers folder to one GGUF file with llama.cpp's converter; no build step.

    `quant`: "f16", "bf16" or "q8_0" (pure Python), or "q4_k_m" (needs llama-cpp-python's quantizer).
    The file keeps the tokenizer, its chat template and which tokens end a turn.
    Example: `sw.to_gguf("stoic-run/merged", quant="q8_0")`  # -> Path("stoic-run/merged-q8_0.gguf")
    """
    merged = Path(merged)
    quant = quant.lower()
    if quant not in QUANTS:
        raise ValueError(f"quant must be one of {', '.join(QUANTS)}; got {quant!r}")
    if not (merged / "config.json").is_file():
        raise FileNotFoundError(f"{merged} is not a transformers model folder (no config.json): merge first.")
    out = Path(out) if out else merged.parent / f"{merged.name}-{quant}.gguf"
    out.parent.mkdir(parents=True, exist_ok=True)
    replacing = _check_gguf_is_ours(out)  # before any work: a file that is not ours is refused, untouched
    if quant == "q4_k_m":
        llama_cpp = _need_llama_cpp("Q4_K_M needs llama.cpp's quantizer")  # before spending time on F16
        f16 = _convert(merged, out.with_name(out.stem + ".f16.gguf"), "f16", cache)
        try:
            _quantize(llama_cpp, f16, out)
        finally:
            f16.unlink(missing_ok=True)
    else:
        _convert(merged, out, quant, cache)
    _record_gguf(out, merged, quant)
    if replacing:
        print(replacing)
    return out


GGUF_RECORD = "gguf-files.json"  # beside the GGUF files to_gguf wrote: each file's source, type, time and size


def _check_gguf_is_ours(out: Path) -> str | None:
    """None where `out` is new; a line saying what is replaced where to_gguf wrote it (unchanged since: the record's
    size and time); NotOurs, untouched, for any other file. GGUFs written before the record count as ours where the
    folder's checks.csv (export) or made_from.json (`stoic-workshop run`) names them."""
    from .train import NotOurs

    if not out.exists():
        return None
    entry = _gguf_records(out.parent).get(out.name, {})
    st = out.stat()
    if out.is_file() and entry.get("bytes") == st.st_size and entry.get("mtime_ns") == st.st_mtime_ns:
        return f"Replaced {out.name} (written {entry.get('written', '?')} from {entry.get('from', '?')})."
    if out.is_file() and not entry and _named_by_an_earlier_export(out):
        return f"Replaced {out.name} (written by an earlier export into this folder)."
    why = "was changed after stoic-workshop wrote it" if entry else "was not written by stoic-workshop"
    raise NotOurs(f"{out} {why}, so it was left as it is and no GGUF was written: move it away, or export into "
                  "another folder (--out) or under another name (--name).")


def _named_by_an_earlier_export(out: Path) -> bool:
    """An export's checks.csv names the file, or `stoic-workshop run`'s made_from.json records a GGUF step."""
    for record, mark in ((out.parent / "checks.csv", out.name), (out.parent / "made_from.json", '"gguf ')):
        try:
            if mark in record.read_text():
                return True
        except (OSError, UnicodeDecodeError):
            continue
    return False


def _gguf_records(folder: Path) -> dict:
    try:
        found = json.loads((folder / GGUF_RECORD).read_text())
    except (OSError, ValueError):
        return {}
    return found if isinstance(found, dict) else {}


def _record_gguf(out: Path, merged: Path, quant: str) -> None:
    """Say in the folder's record which merged model `out` was made from, and when."""
    import datetime

    records = _gguf_records(out.parent)
    st = out.stat()
    records[out.name] = {"from": str(merged.resolve()), "type": quant,
                         "written": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                         "bytes": st.st_size, "mtime_ns": st.st_mtime_ns}
    part = out.parent / (GGUF_RECORD + ".part")
    part.write_text(json.dumps(records, indent=1))
    os.replace(part, out.parent / GGUF_RECORD)


def _convert(merged: Path, out: Path, quant: str, cache) -> Path:
    """llama.cpp's convert_hf_to_gguf.py, as one could type it, writing `out` whole or not at all."""
    tool = converter(cache)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(tool / "gguf-py"), str(tool)]))
    part = out.with_name(out.name + ".part")
    done = subprocess.run([sys.executable, str(tool / "convert_hf_to_gguf.py"), str(merged), "--outfile", str(part),
                           "--outtype", quant], env=env, capture_output=True, text=True)
    if done.returncode:
        part.unlink(missing_ok=True)
        if "tokenizer.model" in done.stderr and not (merged / "tokenizer.model").is_file():
            model_type = json.loads((merged / "config.json").read_text()).get("model_type", "this model")
            raise FileNotFoundError(
                f"llama.cpp's converter reads the {model_type} vocabulary from tokenizer.model (sentencepiece), and "
                f"{merged} has none: transformers 5 saves only tokenizer.json. Copy tokenizer.model from the base "
                f"model's folder or Hub repository into {merged} and convert again.")
        raise RuntimeError(f"llama.cpp's converter failed on {merged}:\n{done.stderr.strip()[-1500:]}")
    os.replace(part, out)
    return out


def _need_llama_cpp(why: str):
    try:
        import llama_cpp
    except ImportError as err:
        raise ImportError(f"{why}: install the llama.cpp bindings with `pip install llama-cpp-python=="
                          f"{LLAMA_CPP_PYTHON}` (builds llama.cpp once, ~12 min on 2 cores), or export "
                          f"{', '.join(PYTHON_QUANTS)} instead, which need no build.") from err
    return llama_cpp


def _quantize(llama_cpp, source: Path, out: Path) -> None:
    import ctypes

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = llama_cpp.LLAMA_FTYPE_MOSTLY_Q4_K_M
    from .models import cpu_threads

    params.nthread = cpu_threads()
    part = out.with_name(out.name + ".part")
    code = llama_cpp.llama_model_quantize(str(source).encode(), str(part).encode(), ctypes.byref(params))
    if code != 0:
        part.unlink(missing_ok=True)
        raise RuntimeError(f"llama.cpp could not quantize {source} to Q4_K_M (error {code}).")
    os.replace(part, out)


@dataclass
class Check:
    """What running an exported GGUF showed: `str()` is a one-screen summary; `ok` is the verdict."""

    path: Path
    size_mb: float
    reply: str
    stop: str                 # why llama.cpp stopped: "stop" (end of turn) or "length"
    stop_token: str | None
    agree: int | None         # leading greedy tokens equal to the merged transformers model's
    compared: int
    transformers_reply: str | None
    seconds: float
    engine: str = "llama.cpp"  # what ran the file: "llama.cpp", or "transformers" where the bindings are missing
    max_tokens: int = 512      # the reply's budget: a reply that uses it all never ended its turn

    @property
    def problems(self) -> list[str]:
        """Why the check failed, each with what it means and what to try; empty when it passed."""
        found = []
        if not self.reply.strip():
            found.append("the reply is empty: the model ended its turn at once. Does the chat template in the file "
                         "match the one used in training (modelfile / check_my_modelfile)?")
        if self.agree == 0:
            found.append("its first token differs from the merged model's on the same prompt: the file does not "
                         "compute what the merged model does (a different tokenizer, chat template or weights).")
        if self.stop != "stop" or self.stop_token is None:
            faithful = (f" Its first {self.agree} greedy tokens equal the merged model's, so the file is faithful: "
                        f"the model itself does not stop." if self.agree else "")
            found.append(f"the reply ran to {self.max_tokens} tokens without an end of turn.{faithful} A model "
                         f"fine-tuned too little (or on replies that do not end with the end-of-turn token: "
                         f"masked_view shows it) keeps talking; chat front-ends then cut it off mid-sentence.")
        return found

    @property
    def ok(self) -> bool:
        return not self.problems

    def __str__(self) -> str:
        lines = [f"{self.path.name}: {self.size_mb:.1f} MB, {'OK' if self.ok else 'FAILED'} ({self.seconds:.0f} s)",
                 f"  {self.engine} reply: {self.reply[:200]!r}",
                 f"  stopped by: {'end of turn ' + repr(self.stop_token) if self.stop == 'stop' else self.stop}"]
        if self.agree is not None:
            lines.append(f"  first {self.compared} greedy tokens equal to the merged model's: {self.agree}")
        lines += [f"  why it failed: {problem}" for problem in self.problems]
        if self.transformers_reply is not None:
            lines.append(f"  transformers (GGUF loader) reply: {self.transformers_reply[:200]!r}")
        if self.engine != "llama.cpp":
            lines.append(f"  (run by {self.engine}'s GGUF loader: the llama.cpp bindings are not installed; "
                         f"`pip install llama-cpp-python=={LLAMA_CPP_PYTHON}` runs it in llama.cpp itself)")
        return "\n".join(lines)


def verify(gguf: str | os.PathLike, prompt: str, *, merged: str | os.PathLike | None = None,
           compare_tokens: int = 8, max_tokens: int = 512, with_transformers: bool = True) -> Check:
    """Run an exported GGUF the way a user will, and check what usually goes wrong.

    llama.cpp chats with `prompt` using the chat template stored in the file; the reply must be non-empty and
    end at the end-of-turn token (not run to `max_tokens`). With `merged`, the first `compare_tokens` greedy
    tokens are compared with the merged transformers model on the same rendered prompt (expect all equal for
    F16, nearly all for Q8_0). With `with_transformers`, the file is also loaded by transformers' GGUF loader.
    Without the llama.cpp bindings (a fresh Colab), the same checks run on transformers' GGUF loader instead,
    and the result says so: a learner can still check the file before installing anything.
    Example: `print(sw.verify("stoic-run/stoic-q8_0.gguf", "Stuck in traffic again.", merged="stoic-run/merged"))`
    """
    from .serve import load_gguf

    gguf = Path(gguf)
    if not gguf.is_file():
        raise FileNotFoundError(f"No GGUF file at {gguf}: export one first with to_gguf(merged_folder).")
    start = time.time()
    try:
        import llama_cpp  # noqa: F401
    except ImportError:
        return _verify_with_transformers(gguf, prompt, merged, compare_tokens, max_tokens, start)
    from .models import cpu_threads

    llm = load_gguf(gguf, n_ctx=1024, n_threads=cpu_threads(), seed=0)
    try:
        answer = llm.create_chat_completion(messages=[{"role": "user", "content": prompt}], temperature=0.0,
                                            max_tokens=max_tokens, repeat_penalty=1.1)
        choice = answer["choices"][0]
        stop_token = turn_end(llm)
        agree = None
        if merged is not None:
            agree = _agreement(llm, Path(merged), prompt, compare_tokens)
    finally:
        llm.close()
    tf_reply = _transformers_reply(gguf, prompt) if with_transformers else None
    return Check(gguf, gguf.stat().st_size / 1e6, choice["message"]["content"] or "", choice["finish_reason"],
                 stop_token, agree, compare_tokens, tf_reply, time.time() - start, max_tokens=max_tokens)


def _verify_with_transformers(gguf: Path, prompt: str, merged, n: int, max_tokens: int, start: float) -> Check:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    # The merged folder holds the very tokenizer that went into the file. Rebuilding it from the GGUF is the fallback
    # only: transformers 5.17 (Colab's pin) cannot build Gemma 3's (docs/profiles.md).
    source = {"pretrained_model_name_or_path": merged} if merged is not None else {
        "pretrained_model_name_or_path": gguf.parent, "gguf_file": gguf.name}
    tokenizer = AutoTokenizer.from_pretrained(**source)
    device, dtype = _reference_device(_gguf_architecture(gguf))
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=dtype,
                                                 device_map={"": 0} if device == "cuda" else None)
    stop_token = end_of_turn(tokenizer)
    stop_id = tokenizer.convert_tokens_to_ids(stop_token) if stop_token else tokenizer.eos_token_id
    ids = _chat_ids(tokenizer, prompt)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else stop_id
    prompt_ids = torch.tensor([ids], device=device)
    with torch.inference_mode():
        out = model.generate(prompt_ids, max_new_tokens=max_tokens, do_sample=False, eos_token_id=stop_id,
                             pad_token_id=pad, repetition_penalty=1.1)[0, len(ids):].tolist()
        theirs = model.generate(prompt_ids, max_new_tokens=n, do_sample=False,
                                pad_token_id=pad)[0, len(ids):].tolist() if merged is not None else None
    stopped = bool(out) and out[-1] == stop_id
    answer = tokenizer.decode(out[:-1] if stopped else out, skip_special_tokens=True).strip()
    del model  # one model at a time: the merged one loads next
    _free()
    agree = _same_prefix(_greedy(Path(merged), ids, n, pad), theirs) if merged is not None else None
    return Check(gguf, gguf.stat().st_size / 1e6, answer, "stop" if stopped else "length",
                 stop_token if stopped else None, agree, n, None, time.time() - start, engine="transformers",
                 max_tokens=max_tokens)


def _reference_device(model_type: str | None):
    """Where verify runs a transformers model: on a GPU, in the dtype training used there; else on the CPU in fp32.

    On the CPU a 2B model in fp32 holds 10.5 GB, and a check that held the GGUF's and the merged model's copies at
    once needed 21 GB: more than a free Colab's 12.7 GB of RAM. So a GPU does the work where there is one, and
    verify loads one model at a time.
    """
    import torch

    from .models import compute_dtype, hardware

    hw = hardware()
    return ("cuda", compute_dtype(hw, model_type)) if hw.device == "cuda" else ("cpu", torch.float32)


def _gguf_architecture(gguf: Path) -> str | None:
    """general.architecture of a GGUF file ("gemma3", "gemma2", "llama"): it decides fp16 or fp32 without bf16.

    Read from the header's key-value pairs up to that key (llama.cpp's converter writes it first), not with
    gguf.GGUFReader, which parses every field first: Gemma 3's 262,144-token vocabulary took it ~25 s.
    """
    import struct

    try:
        from gguf import GGUFValueType as T

        scalar = {T.UINT8: 1, T.INT8: 1, T.BOOL: 1, T.UINT16: 2, T.INT16: 2, T.UINT32: 4, T.INT32: 4, T.FLOAT32: 4,
                  T.UINT64: 8, T.INT64: 8, T.FLOAT64: 8}  # bytes of each scalar type
        with open(gguf, "rb") as f:
            def number(fmt: str):
                return struct.unpack("<" + fmt, f.read(struct.calcsize(fmt)))[0]

            def text() -> str:
                return f.read(number("Q")).decode("utf-8")

            def skip(kind: int) -> None:
                if kind in scalar:
                    f.seek(scalar[kind], 1)
                elif kind == T.STRING:
                    f.seek(number("Q"), 1)
                elif kind == T.ARRAY:
                    inner, count = number("I"), number("Q")
                    if inner in scalar:
                        f.seek(scalar[inner] * count, 1)
                    else:
                        for _ in range(count):
                            skip(inner)
                else:
                    raise ValueError(f"unknown GGUF value type {kind}")

            if f.read(4) != b"GGUF" or number("I") < 2:
                return None
            _tensors, pairs = number("Q"), number("Q")
            for _ in range(pairs):
                key, kind = text(), number("I")
                if key == "general.architecture" and kind == T.STRING:
                    return text()
                skip(kind)
    except Exception:  # an unreadable header fails later, with transformers' own message
        return None
    return None


def _free() -> None:
    """Give back the memory of a model the caller has just deleted."""
    import gc

    import torch

    gc.collect()
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _chat_ids(tokenizer, prompt: str) -> list[int]:
    ids = tokenizer.apply_chat_template([{"role": "user", "content": prompt}], add_generation_prompt=True,
                                        tokenize=True, return_dict=False)
    return list(ids["input_ids"] if isinstance(ids, dict) else ids)


def _greedy(merged: Path, ids: list[int], n: int, pad: int) -> list[int]:
    """The merged transformers model's first n greedy tokens after `ids`: the reference an export must match."""
    import torch
    from transformers import AutoModelForCausalLM

    from .models import read_model_type

    device, dtype = _reference_device(read_model_type(str(merged)))
    model = AutoModelForCausalLM.from_pretrained(merged, dtype=dtype, device_map={"": 0} if device == "cuda" else None)
    with torch.inference_mode():
        tokens = model.generate(torch.tensor([ids], device=device), max_new_tokens=n, do_sample=False,
                                pad_token_id=pad)[0, len(ids):].tolist()
    del model
    _free()
    return tokens


def _same_prefix(ours: list[int], theirs: list[int]) -> int:
    same = 0
    for a, b in zip(ours, theirs):
        if a != b:
            break
        same += 1
    return same


def turn_end(llm) -> str | None:
    """The chat turn marker that llama.cpp treats as end of generation in this file, or None if there is none."""
    import llama_cpp.llama_cpp as lib

    for text in ("<end_of_turn>", "<|im_end|>", "<|eot_id|>"):
        ids = llm.tokenize(text.encode(), add_bos=False, special=True)
        if len(ids) == 1 and lib.llama_vocab_is_eog(llm._model.vocab, ids[0]):
            return text
    return None


def _agreement(llm, merged: Path, prompt: str, n: int) -> int:
    """How many of the first n greedy tokens llama.cpp and the merged transformers model share."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(merged)
    ids = _chat_ids(tokenizer, prompt)
    ours = _greedy(merged, ids, n, tokenizer.pad_token_id or tokenizer.eos_token_id)
    llm.reset()
    theirs = []
    for token in llm.generate(ids, temp=0.0, top_k=1, repeat_penalty=1.0, reset=True):
        theirs.append(token)
        if len(theirs) == len(ours):
            break
    return _same_prefix(ours, theirs)


def _transformers_reply(gguf: Path, prompt: str) -> str:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from .generation import reply

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name)
    return reply(model, tokenizer, prompt, max_new_tokens=40, repetition_penalty=1.1)


# Ollama templates are Go text/template. Each mirrors the Hugging Face template of its family for plain-text
# conversations; tests render both on the same conversation and compare (Ollama adds <bos> itself).
_OLLAMA_GEMMA = """\
{{- $system := "" }}{{ range .Messages }}{{ if eq .Role "system" }}{{ $system = .Content }}{{ end }}{{ end }}
{{- $first := true }}
{{- range .Messages }}{{ if eq .Role "user" }}<start_of_turn>user
{{ if and $first $system }}{{ $system }}

{{ end }}{{ .Content }}<end_of_turn>
{{ $first = false }}{{ else if eq .Role "assistant" }}<start_of_turn>model
{{ .Content }}<end_of_turn>
{{ end }}{{ end }}<start_of_turn>model
"""

_OLLAMA_CHATML = """\
{{- $system := "" }}{{ range .Messages }}{{ if eq .Role "system" }}{{ $system = .Content }}{{ end }}{{ end }}
{{- if $system }}<|im_start|>system
{{ $system }}<|im_end|>
{{ else }}DEFAULT_SYSTEM{{ end }}
{{- range .Messages }}{{ if ne .Role "system" }}<|im_start|>{{ .Role }}
{{ .Content }}<|im_end|>
{{ end }}{{ end }}<|im_start|>assistant
"""


def ollama_template(tokenizer) -> tuple[str, str]:
    """The Ollama TEMPLATE and stop token matching this tokenizer's chat format (Gemma or ChatML)."""
    from .chat import render

    stop = end_of_turn(tokenizer)
    if stop == "<end_of_turn>":
        return _OLLAMA_GEMMA, stop
    if stop == "<|im_end|>":
        # Some ChatML templates (SmolLM2's) add a default system turn when there is none: keep it.
        text = render(tokenizer, [{"role": "user", "content": "x"}])
        head = text.split("<|im_start|>user")[0]
        return _OLLAMA_CHATML.replace("DEFAULT_SYSTEM", head), stop
    raise ValueError(f"No Ollama template for this chat format (end of turn {stop!r}); Gemma and ChatML are known.")


@dataclass
class Exported:
    """One GGUF file of `export_all`: its type, path, whether it was written now, and its check (None: not run).

    Example: `[f.row() for f in sw.export_all("stoic-run/merged", "stoic-run")]`  # -> a dict per file: file, MB, ok...
    """

    quant: str
    path: Path
    written: bool
    check: Check | None

    def row(self) -> dict:
        """This file's line of checks.csv and of the report's table; a file not run says so in words."""
        c = self.check
        if c is None:
            return {"file": self.path.name, "MB": round(self.path.stat().st_size / 1e6, 1), "ok": "not checked",
                    "stopped by": "not run", "same first tokens": "not compared",
                    "reply": "not run: llama.cpp's Python bindings are not installed "
                             f"(pip install llama-cpp-python=={LLAMA_CPP_PYTHON})", "why it failed": ""}
        return {"file": self.path.name, "MB": round(c.size_mb, 1), "ok": c.ok, "stopped by": c.stop,
                "same first tokens": "not compared" if c.agree is None else c.agree, "reply": c.reply[:300],
                "why it failed": " ".join(c.problems)}


def export_all(merged: str | os.PathLike, out: str | os.PathLike, quants=("q8_0",), *, name: str = "stoic",
               prompt: str | None = None, check: bool | None = None, keep=None):
    """Quantise the merged model to each GGUF type in `quants`, and run each file to check it; yields an `Exported`
    per file as it is done, and writes the checks to `out`/checks.csv at the end.

    Files are `out`/<name>-<quant>.gguf (`RunFolder.gguf`). `check`: None runs each file where llama.cpp's Python
    bindings are installed (said once where they are not); True runs it anyway (transformers' GGUF loader stands
    in); False never. F16 and Q8_0 files are also compared token by token with the merged model. `keep(quant,
    path)`: True for a file already there that is up to date, which is then checked but not written again
    (`stoic-workshop run` decides it from made_from.json).
    Example: `for f in export_all("stoic-run/merged", "stoic-run", ["q8_0", "f16"]): print(f.check)`
    """
    import importlib.util

    import pandas as pd

    from .stoic_data import eval_prompts
    from .folders import RunFolder

    folder, merged = RunFolder(out), Path(merged)
    prompt = prompt or eval_prompts()[0]
    if check is None:
        check = importlib.util.find_spec("llama_cpp") is not None
        if not check:
            print("llama-cpp-python is not installed: the GGUF files are written but not run "
                  f"(pip install llama-cpp-python=={LLAMA_CPP_PYTHON}).")
    rows = []
    for quant in quants:
        path = folder.gguf(quant, name)
        written = not (keep and path.is_file() and keep(quant, path))
        if written:
            print(f"Converting to GGUF {quant.upper()}...", flush=True)
            to_gguf(merged, path, quant=quant)
        result = verify(path, prompt, merged=merged if quant in ("f16", "q8_0") else None,
                        with_transformers=False) if check else None
        if result is not None:
            print(result)
        exported = Exported(quant, path, written, result)
        rows.append(exported.row())
        yield exported
    pd.DataFrame(rows).to_csv(folder.checks, index=False)


def modelfile(gguf: str | os.PathLike, tokenizer, *, system: str | None = None, name: str = "stoic") -> Path:
    """Write an Ollama `Modelfile` beside the GGUF: the file, its chat template, the stop token, a system line.

    Prints the two commands that put it into Ollama. Without TEMPLATE and the stop PARAMETER, Ollama falls back
    to a bare prompt and the model talks past the end of its turn. A Modelfile already there is replaced only if
    this function wrote it (its last line says so); one of yours is refused (NotOurs), untouched.
    Example: `sw.modelfile("stoic-run/stoic-q8_0.gguf", tok)`  # -> Path("stoic-run/Modelfile"), and prints the commands
    """
    gguf = Path(gguf)
    template, stop = ollama_template(tokenizer)
    lines = [f"FROM ./{gguf.name}", f'TEMPLATE """{template}"""', f'PARAMETER stop "{stop}"',
             "PARAMETER temperature 0.7", "PARAMETER repeat_penalty 1.1"]
    if system:
        lines.append(f'SYSTEM """{system}"""')
    lines.append(MODELFILE_MARK)
    from .folders import RunFolder

    path = RunFolder(gguf.parent).modelfile
    _check_modelfile_is_ours(path)
    path.write_text("\n".join(lines) + "\n")
    print(f"Ollama:\n  cd {gguf.parent} && ollama create {name} -f Modelfile\n  ollama run {name} "
          "\"My train is late again.\"")
    return path


def _check_modelfile_is_ours(path: Path) -> None:
    """Refuse to overwrite a Modelfile that `modelfile` did not write (one of yours, for another model perhaps).

    Ours: it holds MODELFILE_MARK (edits elsewhere in it are fine: the notebook's exercise rewrites it with a SYSTEM
    line), or, from before the mark, it starts with FROM ./ and holds the two PARAMETER lines written here.
    """
    from .train import NotOurs

    if not path.exists():
        return
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError):
        text = ""
    old = text.startswith("FROM ./") and "PARAMETER temperature 0.7\nPARAMETER repeat_penalty 1.1\n" in text
    if path.is_file() and (MODELFILE_MARK in text or old):
        return
    raise NotOurs(f"{path} was not written by stoic-workshop, so it was left as it is and no Modelfile was "
                  "written: move it away (or export into another folder, --out) and run again.")


def sizes(paths: dict):
    """What each way of shipping the model weighs on disk, e.g. `sizes({"adapters": ..., "GGUF q8_0": ...})`.

    The point of adapters is this table: a few MB to send to someone who already has the base model.
    Example: `sw.sizes({"adapters": "adapters/stoic", "merged": "stoic-run/merged"})`  # -> DataFrame: what, path, MB
    """
    import pandas as pd

    def megabytes(path: Path) -> float:
        files = [path] if path.is_file() else [f for f in path.rglob("*") if f.is_file() and "checkpoint" not in
                                                 str(f.relative_to(path))]
        return sum(f.stat().st_size for f in files) / 1e6

    rows = []
    for name, path in paths.items():
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"{name}: nothing at {path}")
        rows.append({"what": name, "path": str(path), "MB": round(megabytes(path), 1)})
    return pd.DataFrame(rows)
