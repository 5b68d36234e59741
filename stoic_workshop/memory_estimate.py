"""Step 1, choosing the model: what fits where, from the model's shape alone, and checked against measurement.

The slides' arithmetic as a tool: `estimate_memory("gemma-2-2b", "qlora")` adds up the bytes of the base weights
(16-bit, fp32 or NF4), the LoRA adapters, their gradients and optimizer states, the activations kept for the
backward pass (with and without gradient checkpointing), the loss over the vocabulary, and the framework itself,
then says whether that fits a free Colab T4, an 8 or 16 GB laptop, or an H100. Parameter counts come from the
config (the model is built on PyTorch's "meta" device: shapes, no weights), so it works for models that are not
downloaded. bench/memory.py runs the same cases for real, each in a fresh process, and it and tests/test_memory.py
hold the estimate to within 20% of each measurement.

This module imports nothing heavy when imported (torch and transformers only inside the functions that need them),
and nothing of the later steps: it is the first thing the course calls.

Units: GB = 1e9 bytes throughout (GPU tools often print GiB = 2**30 bytes, 7% more per unit).
"""

from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["estimate_memory", "Estimate", "memory_table", "nf4_error", "NF4Report", "MACHINES",
           "CPU_FRAMEWORK_GB"]

GB = 1e9
METHODS = ("full", "lora", "qlora")

# Resident memory of a fresh Python process that has imported torch, transformers, peft, trl, datasets and
# bitsandbytes, and holds no model (measured on the 2-core CI machine, torch 2.13 CPU, transformers 5.24:
# 0.54 GB; `python bench/memory.py --framework` prints it again). On a CPU every training run pays it.
CPU_FRAMEWORK_GB = 0.54
# A fast (Rust) tokenizer held in memory, per vocabulary entry: Gemma 3's 262,144 entries took 275 MB resident
# (1,050 bytes each; SmolLM2's 49,152 took 16 MB, so this errs high for small vocabularies). CPU RAM only.
TOKENIZER_BYTES_PER_TOKEN = 1050
# On a GPU the CUDA context (kernels, cuBLAS workspaces) is held outside PyTorch's allocator: ~0.5 GB on a T4 or
# an H100 with torch 2.x. It is added for the verdicts, and left out when comparing with torch's peak allocated.
CUDA_CONTEXT_GB = 0.5

# Where a learner might train. Laptops keep ~3 GB for the system and a browser; the GPUs give all but the context.
MACHINES = {
    "Colab T4 (15 GB)": ("gpu", 15.0),
    "laptop 8 GB (CPU)": ("cpu", 8.0 - 3.0),
    "laptop 16 GB (CPU)": ("cpu", 16.0 - 3.0),
    "H100 (80 GB)": ("gpu", 80.0),
}

# Configs of every preset, so the estimate needs no download and no conversion: the Hub presets work offline, and
# the offline presets work where their packages are not installed, or where transformers cannot convert their GGUF
# tokenizer (5.17, Colab's profile, builds Gemma 3's wrongly and the conversion refuses it). Gemma 2 2B is
# transformers' Gemma2Config defaults; the offline two are the config.json of their converted GGUF files.
_GEMMA3_270M = {
    "vocab_size": 262144, "hidden_size": 640, "intermediate_size": 2048, "num_hidden_layers": 18,
    "num_attention_heads": 4, "num_key_value_heads": 1, "head_dim": 256, "sliding_window": 512,
    "max_position_embeddings": 32768, "tie_word_embeddings": True}
_HUB_CONFIGS = {
    "gemma-3-270m": ("Gemma3TextConfig", _GEMMA3_270M),
    "smollm2-135m-instruct": ("LlamaConfig", {
        "vocab_size": 49152, "hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
        "num_attention_heads": 9, "num_key_value_heads": 3, "head_dim": 64, "max_position_embeddings": 8192,
        "tie_word_embeddings": True}),
    "gemma-2-2b": ("Gemma2Config", {}),
    "gemma-2-2b-it": ("Gemma2Config", {}),
    "gemma-2-2b-4bit": ("Gemma2Config", {}),
    "gemma-2-2b-it-4bit": ("Gemma2Config", {}),
    "gemma-3-270m-it": ("Gemma3TextConfig", _GEMMA3_270M),
}
_HUB_IDS = {"google/gemma-2-2b": "gemma-2-2b", "google/gemma-2-2b-it": "gemma-2-2b-it",
            "unsloth/gemma-2-2b": "gemma-2-2b", "unsloth/gemma-2-2b-it": "gemma-2-2b-it",
            "unsloth/gemma-2-2b-bnb-4bit": "gemma-2-2b", "unsloth/gemma-2-2b-it-bnb-4bit": "gemma-2-2b-it",
            "google/gemma-3-270m-it": "gemma-3-270m-it", "unsloth/gemma-3-270m-it": "gemma-3-270m-it"}


# ---------------------------------------------------------------------------------------------
# The model's shape, from its config


@dataclass(frozen=True)
class Shape:
    """What the arithmetic needs, read off a model built on the meta device (no memory, no weights)."""

    name: str
    parameters: int          # distinct parameters (a tied output layer counted once)
    linear: dict             # layer name -> (in_features, out_features), output layer excluded
    head: int                # output-layer parameters when not tied to the embedding, else 0
    vocab: int
    hidden: int
    intermediate: int
    layers: int
    heads: int
    q_dim: int               # attention heads x head_dim
    kv_dim: int              # key/value heads x head_dim
    norms: int               # normalisation layers per decoder layer of width `hidden`
    qk_norm: bool            # Gemma 3 normalises queries and keys per head too
    softcap: bool            # Gemma 2 squashes its logits with tanh (inside trl's loss kernel on a GPU: no copy)
    eager: bool              # attention probabilities stored (eager attention), not fused (sdpa)
    attn_softcap: bool = False  # Gemma 2 squashes its attention scores with tanh too (eager only)

    def lora(self, r: int, targets) -> int:
        """LoRA parameters: A is r x in, B is out x r, for every linear layer whose last name is a target."""
        return sum(r * (i + o) for n, (i, o) in self.linear.items() if self._hit(n, targets))

    def targeted(self, targets) -> list[str]:
        return [n for n in self.linear if self._hit(n, targets)]

    @staticmethod
    def _hit(name: str, targets) -> bool:
        return targets == "all-linear" or name.rsplit(".", 1)[-1] in targets

    @property
    def quantized(self) -> int:
        """Parameters bitsandbytes turns to NF4: every linear layer but the output layer (transformers keeps it)."""
        return sum(i * o for i, o in self.linear.values())


def _config(source):
    """A transformers config from a model, a config, a preset name, a local folder or a Hub id."""
    from transformers import AutoConfig, PretrainedConfig

    if isinstance(source, PretrainedConfig):
        return source, getattr(source, "_name_or_path", "") or source.model_type
    if hasattr(source, "config") and isinstance(source.config, PretrainedConfig):
        return source.config, getattr(getattr(source, "load_report", None), "name", None) or source.config.model_type
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(f"estimate_memory needs a model, a config, a preset name, a folder or a Hub id; "
                        f"got {type(source).__name__}")
    name = str(source)
    from .models import PRESETS

    key = _HUB_IDS.get(name, name)
    if key in _HUB_CONFIGS:
        import transformers

        cls, kwargs = _HUB_CONFIGS[key]
        return getattr(transformers, cls)(**kwargs), name
    if Path(name).expanduser().is_dir() or "/" in name:
        try:
            return AutoConfig.from_pretrained(str(Path(name).expanduser()) if Path(name).expanduser().is_dir()
                                              else name), name
        except OSError as err:
            raise OSError(f"No config for {name!r} ({err.__class__.__name__}): offline? The estimate needs only "
                          f"config.json; pass a transformers config, or one of the presets {', '.join(PRESETS)}."
                          ) from err
    from .models import get_preset

    get_preset(name)  # raises with the close matches and the known presets
    raise ValueError(f"{name!r} has no config shipped for offline use")


def model_shape(source) -> Shape:
    """The shape of `source` (anything `estimate_memory` takes), read from a model built on the meta device."""
    if isinstance(source, (str, os.PathLike)):
        return _named_shape(str(source))
    return _shape(source)


@functools.lru_cache(maxsize=32)
def _named_shape(name: str) -> Shape:
    return _shape(name)


def _shape(source) -> Shape:
    import torch
    from transformers import AutoModelForCausalLM

    config, name = _config(source)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    text = config.get_text_config()
    head = model.get_output_embeddings()
    tied = head is None or head.weight is model.get_input_embeddings().weight
    linear = {n: (m.in_features, m.out_features) for n, m in model.named_modules()
              if isinstance(m, torch.nn.Linear) and m is not head}
    layer = model.model.layers[0]
    norms = [m for n, m in layer.named_modules() if "norm" in type(m).__name__.lower()]
    width = [m for m in norms if getattr(m, "weight", None) is not None and m.weight.numel() == text.hidden_size]
    heads, kv = text.num_attention_heads, getattr(text, "num_key_value_heads", None) or text.num_attention_heads
    head_dim = getattr(text, "head_dim", None) or text.hidden_size // heads
    return Shape(name=name, parameters=sum(p.numel() for p in model.parameters()), linear=linear,
                 head=0 if tied else head.weight.numel(), vocab=text.vocab_size, hidden=text.hidden_size,
                 intermediate=text.intermediate_size, layers=text.num_hidden_layers, heads=heads,
                 q_dim=heads * head_dim, kv_dim=kv * head_dim, norms=len(width), qk_norm=len(norms) > len(width),
                 softcap=bool(getattr(text, "final_logit_softcapping", None)),
                 eager=getattr(config, "_attn_implementation", None) == "eager",
                 attn_softcap=bool(getattr(text, "attn_logit_softcapping", None)))


# ---------------------------------------------------------------------------------------------
# The estimate


@dataclass
class Estimate:
    """Bytes by part for one (model, method, device, batch), and a verdict per machine.

    `str()` is a short report; `.parts` holds the bytes; `.total` their sum; `.fits` machine -> (GB, verdict).
    Example: `sw.estimate_memory("gemma-2-2b", "qlora").fits["Colab T4 (15 GB)"]`  # -> (5.08, "fits: 5.1 GB of 15 GB")
    """

    model: str
    method: str
    device: str
    route: str
    seq_len: int
    batch_size: int
    parameters: int
    trainable: int
    gradient_checkpointing: bool
    parts: dict                        # name -> bytes, in the order a stacked bar draws them
    other_activations: float           # activations with checkpointing switched the other way
    fits: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)

    @property
    def total(self) -> float:
        return sum(self.parts.values())

    @property
    def allocated(self) -> float:
        """What PyTorch's own allocator holds (torch.cuda.max_memory_allocated): the total less the framework."""
        return self.total - self.parts["framework"]

    def __str__(self) -> str:
        gc = "on" if self.gradient_checkpointing else "off"
        lines = [f"{self.model}, {self.method} on {self.device} ({self.route}), {self.batch_size} x {self.seq_len} "
                 f"tokens: {self.total / GB:.2f} GB. Trainable {self.trainable / 1e6:,.1f} M of "
                 f"{self.parameters / 1e6:,.0f} M parameters ({self.trainable / self.parameters:.2%})."]
        lines += [f"  {name:<17} {size / GB:7.3f} GB" for name, size in self.parts.items()]
        lines.append(f"  (activations with gradient checkpointing {'off' if self.gradient_checkpointing else 'on'}: "
                     f"{self.other_activations / GB:.3f} GB; it is {gc} here)")
        lines += [f"  {m:<20} {v}" for m, (_, v) in self.fits.items()]
        lines += [f"  note: {n}" for n in self.notes]
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return "<pre>" + str(self) + "</pre>"


def _dtype_bytes(device: str, dtype: str | None) -> int:
    dtype = dtype or ("float32" if device == "cpu" else "bfloat16")
    sizes = {"float32": 4, "fp32": 4, "bfloat16": 2, "bf16": 2, "float16": 2, "fp16": 2}
    if dtype not in sizes:
        raise ValueError(f"dtype must be one of {sorted(sizes)}, got {dtype!r}")
    return sizes[dtype]


def _activations(s: Shape, tokens: int, seq_len: int, width: int, checkpointing: bool) -> float:
    """Bytes of what the forward pass keeps for the backward pass, for `tokens` tokens.

    Per decoder layer and token, autograd keeps (counted from the Llama/Gemma blocks in transformers):
    - each `hidden`-wide norm: its input and its normalised output (2 x hidden each);
    - attention: the queries and keys after RoPE and the values (q + 2 kv), the attention output and its
      contiguous copy that enters o_proj (2 q); Gemma 3's per-head query/key norms add their inputs (q + kv);
      eager attention also keeps heads x seq_len scores per token (see below), sdpa keeps none;
    - gated MLP: gate and up outputs, the activation and the product that enters down_proj (4 x intermediate).
    The frozen linear layers keep nothing extra: their inputs are already in the list (LoRA needs them too).
    With gradient checkpointing only each layer's input is kept, and one layer is rebuilt at a time (its saved
    tensors are what the backward of that layer holds at its peak: measured on an H200, Gemma 2 2B at 2 x 2048,
    1.01 GB above the kept inputs, where this gives 1.06 GB).
    """
    per_layer = s.norms * 2 * s.hidden + 3 * s.q_dim + 2 * s.kv_dim + 4 * s.intermediate
    if s.qk_norm:
        per_layer += s.q_dim + s.kv_dim
    layer = tokens * per_layer * width
    if s.eager:
        # Eager attention (transformers' eager_attention_forward) keeps, per score: the softmax output, always fp32
        # (softmax(..., dtype=float32)), and its cast back to the compute dtype that enters the product with the
        # values (no new tensor when computing in fp32); with Gemma 2's tanh soft-cap of the scores, the tanh
        # output too, in the compute dtype. Gemma 2 in bf16: 2 + 4 + 2 = 8 bytes per score.
        per_score = 4 + (width if width != 4 else 0) + (width if s.attn_softcap else 0)
        layer += tokens * s.heads * seq_len * per_score
    if checkpointing:
        return s.layers * tokens * s.hidden * width + layer
    return s.layers * layer


# trl's SFTTrainer (1.15) patches the model with a fused LM head (trl.trainer.utils.add_fused_lm_head) and takes the
# loss from it on every GPU route: trl.kernels.ChunkedLogProbFunction projects the final hidden states through the
# output layer in tiles of at most 4,096 tokens x 32,768 vocabulary rows, never the full (tokens x vocab) logits.
TRL_TOKEN_CHUNK = 4096
TRL_VOCAB_CHUNK = 32768


def _loss(s: Shape, tokens: int, route: str, compute: int, *, hidden_width: int, head_width: int,
          train_head: bool) -> float:
    """Bytes of the loss over the vocabulary at its peak, beyond what the backbone keeps.

    On the CPU routes the output layer runs 256 rows at a time (train.ChunkedCrossEntropy): one fp32 block of
    256 x vocab. On a GPU, trl's chunked log-prob kernel peaks in its backward pass, which holds:
    - the final hidden states of the trained tokens, copied out by `hidden[mask]` and saved (`hidden_width`
      bytes each: fp32 on QLoRA, whose residual stream follows the fp32 embedding), and their fp32 gradient;
    - one logits tile, at most 4,096 tokens x 32,768 rows, in the compute dtype, and the tokens' hidden states
      cast to the compute dtype (when they are not in it already);
    - the output layer's rows of the tile cast to the compute dtype when the layer is stored wider (QLoRA's fp32
      embedding): two such 32,768-row slices, the next made while the last is still referenced;
    - when the output layer trains (full fine-tuning), an fp32 accumulator of its whole gradient.
    Measured on an H200 (Gemma 2 2B, 262k vocabulary, QLoRA): 0.38 GB at 2 x 512 and 0.63 GB at 2 x 2048 above
    the backbone's kept tensors; this gives 0.39 and 0.66 GB.
    """
    if route.startswith("cpu"):
        return min(tokens, 256) * s.vocab * 4
    rows, cols = min(tokens, TRL_TOKEN_CHUNK), min(s.vocab, TRL_VOCAB_CHUNK)
    total = rows * cols * compute                                  # one logits tile
    total += tokens * s.hidden * (hidden_width + 4)                # saved hidden states + their fp32 gradient
    if hidden_width != compute:
        total += rows * s.hidden * compute                         # the tile's hidden states, cast
    if head_width != compute:
        total += 2 * cols * s.hidden * compute                     # output-layer rows, cast per tile
    if train_head:
        total += s.vocab * s.hidden * 4                            # fp32 gradient accumulator of the output layer
    return total


def _route(method: str, device: str) -> str:
    if device == "cpu":
        return {"full": "cpu-full", "lora": "cpu-lora", "qlora": "cpu-qlora"}[method]
    return {"full": "gpu-full", "lora": "gpu-lora", "qlora": "qlora"}[method]


def estimate_memory(model="gemma-2-2b", method: str = "qlora", *, device: str = "gpu", seq_len: int = 512,
                    batch_size: int = 2, lora_r: int = 16, target_modules=None, optimizer: str | None = None,
                    gradient_checkpointing: bool | None = None, dtype: str | None = None,
                    machines: bool = True) -> Estimate:
    """Memory to fine-tune `model` with `method` ("full", "lora" or "qlora"), part by part, and where it fits.

    `model`: a preset name, a loaded model, a transformers config, a local folder or a Hub id (only its config is
    read). `device`: "gpu" (16-bit compute, as on a T4 or H100) or "cpu" (fp32 compute, as this package trains on a
    CPU). The defaults are the workshop's and this package's routes: LoRA r=16 on the seven projections; AdamW
    8-bit on a GPU, AdamW on a CPU; gradient checkpointing only for QLoRA on a GPU; on a GPU, QLoRA's weights that
    stay unquantized (embeddings, norms) are upcast to fp32 by PEFT's prepare_model_for_kbit_training (a one-off
    peak while the embedding is held twice), and on a GPU the loss comes from trl's chunked log-prob head, which
    never forms the full logits. Checked on an H200 against bench/results/gpu_h200.json (bench/memory.py).
    `batch_size` is the sequences in one forward pass (on a CPU `finetune` folds batch x accumulation into one).

    Example: `print(sw.estimate_memory("gemma-2-2b", "qlora"))`  # an Estimate: GB per part, and a verdict per machine
    """
    from .models import PROJECTIONS

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if device not in ("gpu", "cpu"):
        raise ValueError(f"device must be 'gpu' or 'cpu', got {device!r}")
    for name, value in (("seq_len", seq_len), ("batch_size", batch_size), ("lora_r", lora_r)):
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive whole number, got {value!r}")
    targets = "all-linear" if target_modules == "all-linear" else list(target_modules or PROJECTIONS)
    s = model if isinstance(model, Shape) else model_shape(model)
    if method != "full" and not s.targeted(targets):
        names = sorted({n.rsplit(".", 1)[-1] for n in s.linear})
        raise ValueError(f"target_modules {targets} match no linear layer of {s.name}; its layers are {names}")
    route = _route(method, device)
    width = _dtype_bytes(device, dtype)             # weights and activations in the compute dtype
    optimizer = optimizer or ("adamw_8bit" if device == "gpu" else "adamw")
    states = {"adamw": None, "adamw_torch": None, "adamw_8bit": 2, "paged_adamw_8bit": 2, "sgd": 0}
    if optimizer not in states:
        raise ValueError(f"optimizer must be one of {sorted(states)}, got {optimizer!r}")
    checkpointing = (route == "qlora") if gradient_checkpointing is None else gradient_checkpointing
    tokens = seq_len * batch_size
    notes = []

    if method == "qlora":
        # NF4: half a byte per weight plus one scale per block of 64. bitsandbytes on a GPU double-quantises the
        # scales (1 byte per block + an fp32 per 256 blocks); bitsandbytes 0.50 on a CPU keeps them in bf16.
        scale = (1 + 4 / 256) / 64 if device == "gpu" else 2 / 64
        rest = s.parameters - s.quantized
        rest_width = 4 if device == "gpu" else width  # PEFT upcasts what stays unquantized to fp32 on a GPU
        base = s.quantized * (0.5 + scale) + rest * rest_width
        if device == "gpu":
            # No 16-bit copy of the (tied) output layer: trl's fused head casts it 32,768 rows at a time (_loss).
            notes.append("the embedding stays unquantized and PEFT upcasts it to fp32; while it does, the 16-bit "
                         "original and the fp32 copy are both held (the 'upcast' part: a one-off peak, before "
                         "training, where it exceeds training's own)")
        trainable = s.lora(lora_r, targets)
    else:
        base = s.parameters * width
        trainable = s.parameters if method == "full" else s.lora(lora_r, targets)
    adapter = 0 if method == "full" else trainable * 4           # PEFT keeps adapters in fp32
    train_width = width if method == "full" else 4
    grads = trainable * train_width
    per_state = states[optimizer]
    optim = trainable * (2 * train_width if per_state is None else per_state)  # AdamW: two moments per parameter
    acts = _activations(s, tokens, seq_len, width, checkpointing)
    other = _activations(s, tokens, seq_len, width, not checkpointing)
    if checkpointing and route == "qlora":
        acts += s.layers * tokens * s.hidden * (4 - width)  # layer inputs are fp32: the residual follows the embedding
    loss = _loss(s, tokens, route, width, hidden_width=4 if route == "qlora" else width,
                 head_width=4 if route == "qlora" else width, train_head=method == "full")
    if checkpointing and device == "gpu":
        # With checkpointing the loss's backward runs before any layer is rebuilt and frees its tiles first: the
        # peak holds the kept layer inputs plus the larger of the two, so only the loss's excess over one rebuilt
        # layer is added. Without checkpointing every activation is still held when the loss runs backward.
        rebuilt = acts - s.layers * tokens * s.hidden * (4 if route == "qlora" else width)
        loss = max(0.0, loss - rebuilt)
    parts = {"base weights": base, "adapter weights": adapter, "gradients": grads, "optimizer states": optim,
             "activations": acts, "logits + loss": loss, "upcast (one-off)": 0.0}  # same parts on every route
    if route == "qlora":
        # prepare_model_for_kbit_training casts each 16-bit weight to fp32 with `param.data = param.data.to(fp32)`:
        # for the largest, the embedding, both copies are held at once, before any adapter exists. On an H200
        # (Gemma 2 2B, 262k vocabulary, 2 x 512) training's own peak was 4.03 GiB (in the loss's backward pass) and
        # the fresh run's 4.35 GiB, which this gives. What it adds above training's peak is counted here, zero where
        # training needs more (2 x 2048: 5.41 GiB, on the same model, already upcast).
        upcast = base + s.vocab * s.hidden * width  # the NF4 and fp32 weights above, plus the 16-bit embedding
        parts["upcast (one-off)"] = max(0.0, upcast - sum(parts.values()))  # the part itself is still 0 here
    parts["framework"] = CPU_FRAMEWORK_GB * GB if device == "cpu" else CUDA_CONTEXT_GB * GB
    if device == "cpu":  # on a GPU the tokenizer sits in the host's memory, not the card's
        parts["framework"] += s.vocab * TOKENIZER_BYTES_PER_TOKEN
    est = Estimate(model=s.name, method=method, device=device, route=route, seq_len=seq_len, batch_size=batch_size,
                   parameters=s.parameters, trainable=trainable, gradient_checkpointing=checkpointing, parts=parts,
                   other_activations=other, notes=notes)
    if machines:
        est.fits = {m: _verdict(s, method, kind, room, device, est, locals_=dict(
            seq_len=seq_len, batch_size=batch_size, lora_r=lora_r, target_modules=targets,
            gradient_checkpointing=gradient_checkpointing)) for m, (kind, room) in MACHINES.items()}
    return est


def _verdict(s: Shape, method, kind, room, device, est, locals_) -> tuple[float, str]:
    there = est if kind == device else estimate_memory(s, method, device=kind, machines=False, **locals_)
    need = there.total / GB
    if need > room:
        return need, f"does not fit: needs {need:.1f} GB of {room:.0f} GB"
    tight = " (tight)" if need > 0.8 * room else ""
    return need, f"fits{tight}: {need:.1f} GB of {room:.0f} GB"


# ---------------------------------------------------------------------------------------------
# Tables and charts for the notebook


def memory_table(models=("gemma-2-2b", "gemma-3-270m", "smollm2-135m-instruct"), methods=METHODS, **kwargs):
    """One row per (model, method): GB per part and the verdict per machine, as a DataFrame.

    Example: `sw.memory_table(["gemma-2-2b", "smollm2-135m-instruct"])`
    """
    import pandas as pd

    rows = []
    for m in models:
        shape = m if isinstance(m, Shape) else model_shape(m)
        for method in methods:
            e = estimate_memory(shape, method, **kwargs)
            row = {"model": e.model, "method": method, "trainable": f"{e.trainable / e.parameters:.2%}"}
            row.update({k: round(v / GB, 2) for k, v in e.parts.items()})
            row[f"total GB ({e.device})"] = round(e.total / GB, 2)
            row.update({k: v.split(":")[0] for k, (_, v) in e.fits.items()})
            rows.append(row)
    return pd.DataFrame(rows).set_index(["model", "method"])



# ---------------------------------------------------------------------------------------------
# NF4 made visible


@dataclass
class NF4Report:
    """One weight matrix through NF4 and back, and what 4-bit does to perplexity. `.plot()` draws the errors.

    Example: `sw.nf4_error(perplexity=False).relative_rms`  # -> 0.094 for SmolLM2's first down_proj
    """

    model: str
    layer: str
    shape: tuple
    errors: object = field(repr=False)      # (quantised - original) per weight, a flat float tensor
    weights: object = field(repr=False)
    relative_rms: float                      # RMS error / RMS weight
    max_abs: float
    bits_per_weight: float
    perplexity: dict                         # "full precision" / "4-bit NF4" -> perplexity, if measured

    def __str__(self) -> str:
        lines = [f"{self.model} {self.layer} {tuple(self.shape)}: NF4 stores {self.bits_per_weight:.2f} bits per "
                 f"weight (32 in fp32); error RMS {self.relative_rms:.1%} of the weights' RMS, worst "
                 f"{self.max_abs:.4f} (weights span {float(self.weights.min()):.3f} .. "
                 f"{float(self.weights.max()):.3f})."]
        if self.perplexity:
            full, four = self.perplexity["full precision"], self.perplexity["4-bit NF4"]
            lines.append(f"Perplexity on held-out English: {full:.2f} full precision -> {four:.2f} with every linear "
                         f"layer in NF4 ({four / full - 1:+.1%}).")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return "<pre>" + str(self) + "</pre>"

    def plot(self, path=None):
        import matplotlib.pyplot as plt

        fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.2))
        a.hist(self.weights.numpy(), bins=200, color="#4c72b0")
        a.set(title=f"weights of {self.layer.split('model.')[-1]}", xlabel="value", ylabel="count")
        b.hist(self.errors.numpy(), bins=200, color="#dd8452")
        b.set(title=f"NF4 error (RMS {self.relative_rms:.1%} of the weights)", xlabel="4-bit - original")
        for ax in (a, b):
            ax.grid(alpha=0.3)
        fig.tight_layout()
        if path:
            fig.savefig(path, dpi=120)
        return fig


def nf4_error(model: str = "smollm2-135m-instruct", layer: str = "model.layers.0.mlp.down_proj", *,
              perplexity: bool = True, chars: int = 3000) -> NF4Report:
    """Quantise one real weight matrix to NF4 and back; optionally, perplexity of held-out text at 4 and 32 bits.

    "4-bit compresses the weights" as numbers: the error of each weight (a histogram), and what it costs the
    model on the first `chars` characters of data/general_english.txt, which neither model was tuned on here.
    Example: `sw.nf4_error("smollm2-135m-instruct").plot()`
    """
    import torch
    from bitsandbytes import functional as bnbf
    from transformers import AutoModelForCausalLM

    from .folders import course_dir
    from .models import model_folder

    full = AutoModelForCausalLM.from_pretrained(model_folder(model), dtype=torch.float32).eval()
    modules = dict(full.named_modules())
    if layer not in modules or not hasattr(modules[layer], "weight"):
        names = [n for n, m in modules.items() if isinstance(m, torch.nn.Linear)][:8]
        raise ValueError(f"{model} has no linear layer {layer!r}; e.g. {names}")
    w = modules[layer].weight.detach().float().clone()
    packed, state = bnbf.quantize_4bit(w, quant_type="nf4", blocksize=64)
    back = bnbf.dequantize_4bit(packed, state).float()
    err = (back - w).flatten()
    bits = 8 * (packed.numel() * packed.element_size() + state.absmax.numel() * state.absmax.element_size()) \
        / w.numel()
    ppl = {}
    if perplexity:
        from transformers import AutoTokenizer

        from .evaluate import perplexity as text_perplexity  # the evaluation step's, loaded only for this measure

        text = (course_dir("data") / "general_english.txt").read_text(encoding="utf-8")[:chars]
        tok = AutoTokenizer.from_pretrained(model_folder(model))
        ppl["full precision"] = text_perplexity(full, tok, text)
        # The weights a 4-bit layer computes with (it unpacks NF4 to fp32 before each product), made once here:
        # the same numbers in seconds, where a bitsandbytes 4-bit load and forward take minutes on 2 cores.
        with torch.no_grad():
            for m in full.modules():
                if isinstance(m, torch.nn.Linear) and m is not full.get_output_embeddings():
                    q, st = bnbf.quantize_4bit(m.weight.data, quant_type="nf4", blocksize=64)
                    m.weight.data = bnbf.dequantize_4bit(q, st).float()
        ppl["4-bit NF4"] = text_perplexity(full, tok, text)
    return NF4Report(model=model, layer=layer, shape=tuple(w.shape), errors=err, weights=w.flatten(),
                     relative_rms=float(err.pow(2).mean().sqrt() / w.pow(2).mean().sqrt()),
                     max_abs=float(err.abs().max()), bits_per_weight=bits, perplexity=ppl)
