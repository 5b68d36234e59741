"""Deployment on the real offline model: merge, GGUF through llama.cpp's converter, run it, Ollama's Modelfile."""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

import stoic_workshop as sw
from stoic_workshop.chat import render
from stoic_workshop.export import ollama_template

GO_RENDERER = Path(__file__).parent / "ollama_template"
CONVERSATIONS = [
    [{"role": "user", "content": "My train is late again."}],
    [{"role": "system", "content": "You answer as a Stoic."}, {"role": "user", "content": "My boss ignored my email."}],
    [{"role": "user", "content": "I lost my keys."}, {"role": "assistant", "content": "Where did you last see them?"},
     {"role": "user", "content": "No idea, and now I'm late."}],
]
PROMPT = "I was stuck in traffic for two hours and missed the meeting."


@pytest.fixture(scope="module")
def adapters(tmp_path_factory, random_adapters):
    """Real LoRA adapters on SmolLM2, with small random updates: the merged model differs from the base but
    still talks (and stops) like the instruct model it came from."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    base = sw.model_folder("smollm2-135m-instruct")
    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(base)
    peft = random_adapters(model, 0.02)
    folder = tmp_path_factory.mktemp("adapters") / "stoic"
    peft.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder, peft, tokenizer


@pytest.fixture(scope="module")
def merged(adapters, tmp_path_factory):
    return sw.merge(adapters[0], tmp_path_factory.mktemp("export") / "merged")


def _logits(model, tokenizer, text):
    ids = tokenizer(text, return_tensors="pt")
    with torch.inference_mode():
        return model(**ids).logits[0]


def test_merged_model_gives_the_same_logits_as_base_plus_adapters(adapters, merged, tmp_path):
    from transformers import AutoModelForCausalLM

    folder, peft, tokenizer = adapters
    text = render(tokenizer, [{"role": "user", "content": PROMPT}])
    expected = _logits(peft, tokenizer, text)
    with peft.disable_adapter():
        unchanged = _logits(peft, tokenizer, text)
    assert (expected - unchanged).abs().max() > 0.05  # the adapters do change the model
    exact = AutoModelForCausalLM.from_pretrained(sw.merge(folder, tmp_path / "fp32", dtype="float32"))
    assert torch.allclose(_logits(exact, tokenizer, text), expected, atol=2e-3)
    half = AutoModelForCausalLM.from_pretrained(merged, dtype=torch.float32)  # saved in fp16
    got = _logits(half, tokenizer, text)
    assert (got.argmax(-1) == expected.argmax(-1)).float().mean() > 0.95
    assert (got - expected).abs().max() < 0.5
    saved = json.loads((merged / "config.json").read_text())
    assert saved["dtype"] == "float16" and "lora" not in json.dumps(saved).lower()
    config = (merged / "tokenizer_config.json").read_text()
    assert (merged / "chat_template.jinja").exists() or "chat_template" in config


def test_merge_names_the_problem():
    with pytest.raises(FileNotFoundError, match="train first"):
        sw.merge("no/such/adapters", "out")


@pytest.fixture(scope="module")
def q8(merged):
    return sw.to_gguf(merged, quant="q8_0")


def _metadata(path):
    from gguf import GGUFReader

    reader = GGUFReader(path)
    fields = {}
    for name, field in reader.fields.items():
        if name.startswith("tokenizer.") and name != "tokenizer.ggml.tokens" and field.types and len(field.data) == 1:
            value = field.parts[field.data[0]]
            fields[name] = bytes(value).decode() if field.types[0].name == "STRING" else value.tolist()[0]
    tokens = reader.fields["tokenizer.ggml.tokens"]
    fields["tokens"] = [bytes(tokens.parts[i]).decode() for i in tokens.data]
    types = reader.fields["tokenizer.ggml.token_type"]
    fields["token_types"] = [int(types.parts[i][0]) for i in types.data]
    return fields


def test_gguf_keeps_chat_template_and_end_of_turn(q8, merged):
    meta = _metadata(q8)
    template = json.loads((merged / "tokenizer_config.json").read_text()).get("chat_template") or \
        (merged / "chat_template.jinja").read_text()
    assert meta["tokenizer.chat_template"] == template
    end = meta["tokens"].index("<|im_end|>")
    assert meta["tokenizer.ggml.eos_token_id"] == end
    assert meta["token_types"][end] == 3  # CONTROL: a special token, never split into text
    assert meta["token_types"][meta["tokens"].index("<|im_start|>")] == 3


@pytest.mark.parametrize("quant", ["f16", "q8_0"])
def test_export_runs_in_llama_cpp_and_transformers_and_agrees_with_the_merged_model(quant, merged, q8):
    path = q8 if quant == "q8_0" else sw.to_gguf(merged, quant=quant)
    check = sw.verify(path, PROMPT, merged=merged, with_transformers=quant == "q8_0")
    print(check)
    assert check.reply.strip() and check.stop == "stop" and check.stop_token == "<|im_end|>"
    assert "<|im_end|>" not in check.reply and "<|im_start|>" not in check.reply
    if quant == "f16":
        assert check.agree == check.compared  # the same weights: the same greedy tokens
    else:
        assert check.agree >= 3
    assert check.ok
    if quant == "q8_0":
        assert check.transformers_reply.strip()


def test_q4_k_m_through_llama_cpps_quantizer(merged, q8):
    path = sw.to_gguf(merged, quant="q4_k_m")
    assert path.stat().st_size < q8.stat().st_size
    assert not path.with_name(path.stem + ".f16.gguf").exists()  # the intermediate file is removed
    check = sw.verify(path, PROMPT, with_transformers=False)
    assert check.reply.strip() and check.stop == "stop"


def test_bad_export_requests_name_the_problem(merged, tmp_path):
    with pytest.raises(ValueError, match="q4_k_m"):
        sw.to_gguf(merged, quant="q3")
    with pytest.raises(FileNotFoundError, match="merge first"):
        sw.to_gguf(tmp_path, quant="f16")


@pytest.mark.skipif(shutil.which("go") is None, reason="Go is needed to run Ollama's template engine "
                                                       "(.ci/run installs it)")
@pytest.mark.parametrize("model", ["smollm2-135m-instruct", "gemma"])
@pytest.mark.parametrize("conversation", CONVERSATIONS, ids=["one turn", "system", "three turns"])
def test_modelfile_template_renders_the_same_prompt_as_the_chat_template(model, conversation, smol, gemma_tok,
                                                                          tmp_path):
    tokenizer = smol[1] if model != "gemma" else gemma_tok
    template, stop = ollama_template(tokenizer)
    (tmp_path / "template").write_text(template)
    ollama = subprocess.run(["go", "run", "main.go", str(tmp_path / "template")], cwd=GO_RENDERER, text=True,
                            input=json.dumps(conversation), capture_output=True, check=True).stdout
    expected = render(tokenizer, conversation)
    if "bos_token" in tokenizer.chat_template:  # llama.cpp adds <bos> itself when Ollama tokenizes
        expected = expected.removeprefix(tokenizer.bos_token)
    assert ollama == expected
    assert stop == sw.end_of_turn(tokenizer)


def test_modelfile_is_written_beside_the_gguf(smol, tmp_path, capsys):
    gguf = tmp_path / "stoic-q8_0.gguf"
    gguf.write_bytes(b"")
    path = sw.modelfile(gguf, smol[1], system="You answer as a Stoic.")
    text = path.read_text()
    assert path == tmp_path / "Modelfile"
    assert text.startswith("FROM ./stoic-q8_0.gguf\n")
    assert 'PARAMETER stop "<|im_end|>"' in text and 'SYSTEM """You answer as a Stoic."""' in text
    assert "<|im_start|>assistant" in text
    assert "ollama create stoic -f Modelfile" in capsys.readouterr().out


def test_export_and_chat_commands(adapters, tmp_path, cli, monkeypatch):
    import io

    out = tmp_path / "export"
    code, printed, err = cli("export", adapters[0], "--out", out, "--quant", "q8_0")
    assert code == 0, err[-2000:]
    assert (out / "merged" / "config.json").is_file() and (out / "Modelfile").is_file()
    assert "stoic-q8_0.gguf: " in printed and ", OK (" in printed
    assert "ollama create stoic -f Modelfile" in printed and "vllm serve" in printed
    monkeypatch.setattr("sys.stdin", io.StringIO("My train is late.\n\n"))  # one message, then an empty line
    code, talk, err = cli("chat", out / "stoic-q8_0.gguf")
    assert code == 0, err[-2000:]
    reply = talk.split("stoic> ", 1)[1].strip()
    assert reply and "<|im_end|>" not in reply
    code, _, err = cli("export", tmp_path / "missing")
    assert code == 1 and "train first" in err


def test_chat_refuses_a_message_too_long_and_drops_the_oldest_turns_when_the_talk_outgrows_the_model(
        q8, merged, cli, monkeypatch):
    """One 21,600-character line (~5,400 tokens, over the GGUF's 2,048) is refused in one line and the session goes
    on; a conversation that outgrows the context loses its oldest exchanges, said in one line, and is answered."""
    import io
    import re

    long_line = "My neighbour's dog barks all night. " * 600
    half = "The trains are late again and again. " * 140  # ~1,100 tokens: two of them outgrow 2,048
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{long_line}\nMy train is late.\n{half}\n{half}\n\n"))
    code, talk, err = cli("chat", q8, "--max-new-tokens", "16")
    assert code == 0, err[-2000:]
    assert len(re.findall(r"^too long: that message is about \d+ tokens and this model reads at most 2032", err,
                          flags=re.M)) == 1
    assert re.search(r"the oldest [12] exchanges? left it", err)
    replies = talk.split("stoic> ")[1:]
    assert len(replies) == 3 and all(r.strip() for r in replies)  # the three messages that fit were answered
    # the merged folder through transformers: SmolLM2 reads 8,192 tokens
    monkeypatch.setattr("sys.stdin", io.StringIO("stop " * 9000 + "\nMy train is late.\n\n"))
    code, talk, err = cli("chat", merged, "--max-new-tokens", "8")
    assert code == 0 and "this model reads at most 8184 with room for its reply" in err, err[-2000:]
    assert len(talk.split("stoic> ")) == 2


def _tiny_gemma_export(tiny_gemma3, gemma_tok, tmp_path) -> Path:
    """Gemma 3's own tokenizer (from the packaged GGUF) through merge and llama.cpp's converter, on a tiny model:
    tmp_path/merged and the F16 GGUF beside it."""
    from peft import LoraConfig, get_peft_model
    from transformers import Gemma3ForCausalLM

    tiny_gemma3.save_pretrained(tmp_path / "base")
    gemma_tok.save_pretrained(tmp_path / "base")
    base = Gemma3ForCausalLM.from_pretrained(tmp_path / "base")
    torch.manual_seed(0)
    get_peft_model(base, LoraConfig(r=4, target_modules=["q_proj", "v_proj"], init_lora_weights=False,
                                    task_type="CAUSAL_LM")).save_pretrained(tmp_path / "adapters")
    gemma_tok.save_pretrained(tmp_path / "adapters")
    return sw.to_gguf(sw.merge(tmp_path / "adapters", tmp_path / "merged"), quant="f16")


def test_gemma_export_keeps_template_turn_tokens_and_tokenizes_like_transformers(tiny_gemma3, gemma_tok, tmp_path):
    """Gemma 3's own tokenizer (from the packaged GGUF) through merge and llama.cpp's converter, on a tiny model."""
    from stoic_workshop.export import turn_end
    from stoic_workshop.serve import load_gguf

    path = _tiny_gemma_export(tiny_gemma3, gemma_tok, tmp_path)
    llm = load_gguf(path, n_ctx=256)
    try:
        for conversation in CONVERSATIONS:
            text = render(gemma_tok, conversation)
            ours = gemma_tok(text, add_special_tokens=False)["input_ids"]
            assert llm.tokenize(text.encode(), add_bos=False, special=True) == ours
        assert turn_end(llm) == "<end_of_turn>"
        assert llm.metadata["tokenizer.chat_template"] == gemma_tok.chat_template
    finally:
        llm.close()


def test_merge_without_a_named_base_says_so(tiny_gemma3, tmp_path):
    from peft import LoraConfig, get_peft_model

    get_peft_model(tiny_gemma3, LoraConfig(r=4, target_modules=["q_proj"], task_type="CAUSAL_LM")).save_pretrained(
        tmp_path / "adapters")
    with pytest.raises(ValueError, match="names no base model"):
        sw.merge(tmp_path / "adapters", tmp_path / "merged")


def test_without_llama_cpp_the_checks_run_on_transformers_gguf_loader(merged, q8, monkeypatch):
    """A fresh Colab has no llama.cpp bindings: the same checks still run, and the result says what ran them."""
    import sys

    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # `import llama_cpp` now raises ImportError
    check = sw.verify(q8, PROMPT, merged=merged)
    print(check)
    assert check.engine == "transformers" and "pip install llama-cpp-python" in str(check)
    assert check.reply.strip() and "<|im_end|>" not in check.reply
    assert check.stop == "stop" and check.stop_token == "<|im_end|>"
    assert check.agree >= 3 and check.ok


def test_colab_checks_a_gemma_3_export_without_llama_cpp(tiny_gemma3, gemma_tok, tmp_path):
    """Colab has no llama.cpp bindings and pins transformers 5.17, which cannot build Gemma 3's tokenizer from a GGUF
    (TypeError while processing 'vocab': notebook 4 stopped there on the GPU run). The check must still run: the
    merged folder holds the very tokenizer that went into the file."""
    import os
    import sys

    old = os.environ.get("STOIC_OLD_TRANSFORMERS")
    if not old:
        pytest.skip("set STOIC_OLD_TRANSFORMERS to a folder holding transformers 5.17 (see .ci/run)")
    gguf = _tiny_gemma_export(tiny_gemma3, gemma_tok, tmp_path)
    code = ("import sys, transformers; sys.modules['llama_cpp'] = None; assert transformers.__version__ == '5.17.0'\n"
            "import stoic_workshop as sw\n"
            f"check = sw.verify({str(gguf)!r}, {PROMPT!r}, merged={str(tmp_path / 'merged')!r}, max_tokens=8)\n"
            "print('engine', check.engine, 'agree', check.agree, 'of', check.compared)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": old})
    assert out.returncode == 0, out.stderr[-3000:]
    assert "engine transformers agree 8 of 8" in out.stdout  # F16 of the merged weights: the same greedy tokens


def test_sizes_shows_adapters_are_a_small_fraction_of_the_export(adapters, merged, q8):
    table = sw.sizes({"adapters": adapters[0], "merged": merged, "GGUF q8_0": q8})
    mb = dict(zip(table["what"], table["MB"]))
    assert mb["GGUF q8_0"] == round(q8.stat().st_size / 1e6, 1)
    assert mb["adapters"] < mb["GGUF q8_0"] < mb["merged"]
    with pytest.raises(FileNotFoundError, match="merged: nothing at"):
        sw.sizes({"merged": merged / "nowhere"})


def test_modelfile_check_says_what_to_fix(smol, q8, tmp_path):
    gguf = tmp_path / q8.name
    gguf.symlink_to(q8)
    with pytest.raises(sw.CheckFailed, match="no Modelfile"):
        sw.check_my_modelfile(tmp_path / "Modelfile", smol[1])
    path = sw.modelfile(gguf, smol[1])
    with pytest.raises(sw.CheckFailed, match="give it a persona"):
        sw.check_my_modelfile(path, smol[1])
    path.write_text(path.read_text().replace('PARAMETER stop "<|im_end|>"\n', "") + 'SYSTEM """You are ..."""\n')
    with pytest.raises(sw.CheckFailed, match=r'(?s)add PARAMETER stop "<\|im_end\|>".*replace the \'\.\.\.\''):
        sw.check_my_modelfile(path, smol[1])
    sw.check_my_modelfile(sw.modelfile(gguf, smol[1], system="You are Seneca."), smol[1])


def test_gemma_2_export_keeps_its_sentencepiece_vocabulary(tmp_path):
    """transformers 5 saves Gemma's tokenizer without tokenizer.model, and llama.cpp's converter reads Gemma 2's
    vocabulary from it (the GPU run of notebook 4 stopped there). merge() carries the base model's file over; without
    one anywhere, to_gguf says which file is missing and where to get it."""
    import sentencepiece as spm
    from peft import LoraConfig, get_peft_model
    from transformers import Gemma2Config, Gemma2ForCausalLM, GemmaTokenizer

    from stoic_workshop.stoic_data import QUOTES  # real text to learn a small vocabulary from

    base = tmp_path / "base"
    base.mkdir()
    text = [q.text for q in QUOTES.values()] * 4 + [PROMPT]
    spm.SentencePieceTrainer.train(sentence_iterator=iter(text), model_prefix=str(base / "tokenizer"), vocab_size=400,
                                   model_type="bpe", byte_fallback=True, user_defined_symbols=["<start_of_turn>",
                                   "<end_of_turn>"], pad_id=0, unk_id=3, bos_id=2, eos_id=1, minloglevel=2)
    (base / "tokenizer.vocab").unlink()
    tokenizer = GemmaTokenizer(vocab_file=str(base / "tokenizer.model"))
    torch.manual_seed(0)
    config = Gemma2Config(vocab_size=400, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                          num_attention_heads=2, num_key_value_heads=1, head_dim=16, max_position_embeddings=256)
    Gemma2ForCausalLM(config).save_pretrained(base)
    tokenizer.save_pretrained(base)
    assert (base / "tokenizer.model").is_file()
    model = Gemma2ForCausalLM.from_pretrained(base)
    get_peft_model(model, LoraConfig(r=4, target_modules=["q_proj"], task_type="CAUSAL_LM")).save_pretrained(
        tmp_path / "adapters")
    tokenizer.save_pretrained(tmp_path / "adapters")
    assert not (tmp_path / "adapters" / "tokenizer.model").exists()  # what finetune leaves: tokenizer.json only

    merged = sw.merge(tmp_path / "adapters", tmp_path / "merged")
    assert (merged / "tokenizer.model").read_bytes() == (base / "tokenizer.model").read_bytes()
    gguf = sw.to_gguf(merged, quant="f16")
    from gguf import GGUFReader

    fields = GGUFReader(gguf).fields
    assert bytes(fields["tokenizer.ggml.model"].parts[-1]).decode() == "llama"  # the sentencepiece vocabulary
    assert len(fields["tokenizer.ggml.tokens"].data) == 400

    (merged / "tokenizer.model").unlink()
    with pytest.raises(FileNotFoundError, match="reads the gemma2 vocabulary from tokenizer.model"):
        sw.to_gguf(merged, tmp_path / "again.gguf", quant="f16")
    assert not (tmp_path / "again.gguf").exists() and not (tmp_path / "again.gguf.part").exists()


def test_a_failed_check_says_why(merged, q8):
    """On the GPU run, Gemma 3 270M fine-tuned for 60 steps never ended its turn in 512 greedy tokens: verify said
    FAILED and nothing more. It must say which check failed, and whether the file or the model is at fault."""
    check = sw.verify(q8, PROMPT, merged=merged, max_tokens=3, with_transformers=False)
    print(check)
    assert not check.ok and check.stop == "length"
    assert check.problems and "why it failed: the reply ran to 3 tokens without an end of turn" in str(check)
    assert check.agree and "so the file is faithful: the model itself does not stop" in str(check)


def test_colab_check_holds_one_model_in_memory_at_a_time(merged, q8, monkeypatch):
    """Without llama.cpp, verify loaded the GGUF into transformers and then the merged model beside it, both in fp32:
    21 GB for Gemma 2 2B, where a free Colab has 12.7 GB of RAM. One model at a time, and the result is the same."""
    import sys
    import weakref

    from transformers import AutoModelForCausalLM

    monkeypatch.setitem(sys.modules, "llama_cpp", None)
    load = AutoModelForCausalLM.from_pretrained.__func__
    live: set = set()
    held: list[int] = []

    def counting(cls, *args, **kwargs):
        model = load(cls, *args, **kwargs)
        live.add(id(model))
        weakref.finalize(model, live.discard, id(model))
        held.append(len(live))
        return model

    monkeypatch.setattr(AutoModelForCausalLM, "from_pretrained", classmethod(counting))
    check = sw.verify(q8, PROMPT, merged=merged, max_tokens=8)
    assert held == [1, 1]  # the GGUF's model, then the merged one, each alone
    assert check.engine == "transformers" and check.agree >= 3
