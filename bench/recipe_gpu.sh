#!/usr/bin/env bash
# Notebook 2's recipe on an offline GPU machine, both routes, on models of the course's architectures with random
# weights (no Hub there): Unsloth on Gemma 2 2B, transformers + bitsandbytes + PEFT on Gemma 3 270M and on Gemma 2 2B.
# Run from the repository root, with what travelled (see docs/performance.md):
#   .whl/*.whl          /work/shared/gpu/build_wheels.sh: unsloth, unsloth_zoo, trl, datasets, bitsandbytes, ...
#   dist/*.whl          this package (python -m build)
#   .gpu-stage/         tok.tar.xz (the Gemma 3 tokenizer with its chat template), gemma3-config.json, data/
#     bash bench/recipe_gpu.sh OUT [STEPS [ROUTE:MODEL ...]]   (default: the three runs below)
# OUT gets one JSON line per route (bench/recipe_gpu.py) and the log.
set -uo pipefail
OUT=$(realpath "$1"); STEPS=${2:-60}; ROOT=$(pwd); shift $(( $# < 2 ? $# : 2 ))
RUNS=("${@:-unsloth:gemma2-2b transformers:gemma3-270m transformers:gemma2-2b}")
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 UNSLOTH_DISABLE_STATISTICS=1 \
  HF_HUB_DISABLE_TELEMETRY=1 DO_NOT_TRACK=1 HF_HUB_ENABLE_HF_TRANSFER=0 PYTHONUNBUFFERED=1
SITE=/tmp/site
[ -d "$SITE/stoic_workshop" ] || python3 -m pip install -q --no-index --no-deps --no-compile --target "$SITE" \
  "$ROOT"/.whl/*.whl "$ROOT"/dist/stoic_workshop-*.whl || exit 1
export PYTHONPATH=$SITE
mkdir -p /tmp/tok && tar -xJf .gpu-stage/tok.tar.xz -C /tmp/tok
python3 - <<'PY' || exit 1
import json, os, shutil, torch
from transformers import AutoTokenizer, Gemma2Config, Gemma2ForCausalLM, Gemma3ForCausalLM, Gemma3TextConfig
tok = AutoTokenizer.from_pretrained("/tmp/tok")
for name, make in (("gemma2-2b", lambda: Gemma2ForCausalLM(Gemma2Config(vocab_size=len(tok)))),
                   ("gemma3-270m", lambda: Gemma3ForCausalLM(Gemma3TextConfig(**{
                       k: v for k, v in json.load(open(".gpu-stage/gemma3-config.json")).items()
                       if not k.startswith("_") and k not in ("architectures", "dtype", "transformers_version")})))):
    folder = f"/tmp/models/{name}"
    if not os.path.isfile(f"{folder}/config.json"):
        torch.manual_seed(0)
        with torch.device("cuda"):
            model = make().to(torch.bfloat16)
        model.save_pretrained(folder)
        tok.save_pretrained(folder)
        print(name, f"{model.num_parameters() / 1e6:.0f} M parameters (random) in {folder}")
        del model
PY
for run in ${RUNS[@]}; do
  set -- ${run/:/ }
  timeout 400 python3 "$ROOT/bench/recipe_gpu.py" --model "/tmp/models/$2" --route "$1" --steps "$STEPS" \
    --out "/tmp/recipe-$1-$2" > "$OUT/$1-$2.log" 2>&1
  echo "$1 $2: exit $?"; tail -n 1 "$OUT/$1-$2.log"
done
