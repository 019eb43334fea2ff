#!/usr/bin/env bash
# The GPU part of benchmarks/train_throughput.py as one short command for a lent CUDA machine that cannot reach a
# package registry (this workplace's `device` machines: Python 3.12 with CUDA torch, torchvision, transformers,
# accelerate, pyarrow, pandas and xxhash installed; not datasets, open_clip or their pure-Python dependencies).
#
#   bash benchmarks/device_gpu_throughput.sh stage   # here: copy those pure-Python packages from .venv into
#                                                    # benchmarks/_work/device-site (ignored by git; about 10 MB)
#   bash benchmarks/device_gpu_throughput.sh run     # there, with benchmarks/_work/device-site carried
#
# `run` prints the machine and package versions, then runs `train_throughput.py --part gpu --workers 12` under a
# hard limit of RSCLIP_GPU_LIMIT_S seconds (default 450: the part's default sizes take about 4-5 minutes on one H100
# by estimate, none measured yet; the limit keeps the whole call under 8 minutes with the machine's start). Without
# CUDA or with a package missing it exits 2 at once, saying what is missing, before any data is generated.
# Environment: PYTHON (default python3 for run, .venv/bin/python for stage), RSCLIP_DEVICE_SITE (the staged folder),
# RSCLIP_GPU_LIMIT_S, RSCLIP_BENCH_DIR (work folder, default /tmp/rsclip-bench-gpu).
set -euo pipefail

cd "$(dirname "$0")/.."
SITE="${RSCLIP_DEVICE_SITE:-benchmarks/_work/device-site}"
# Pure-Python packages the GPU part imports that the device image lacks (import names; dist-info folders follow).
PACKAGES=(datasets dill multiprocess inflect typeguard more_itertools jaraco ftfy wcwidth open_clip open_clip_train)

case "${1:-}" in
  stage)
    python="${PYTHON:-.venv/bin/python}"
    purelib="$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    rm -rf "$SITE"
    mkdir -p "$SITE"
    for package in "${PACKAGES[@]}"; do
      if [ ! -e "$purelib/$package" ]; then
        echo "stage: $package is not installed in $purelib (bash scripts/setup.sh installs it)" >&2
        exit 1
      fi
      cp -r "$purelib/$package" "$SITE/"
    done
    # Metadata too: datasets and transformers ask importlib.metadata for their dependencies' versions.
    for package in "${PACKAGES[@]}"; do
      dist="${package//_/[-_]}"
      cp -r "$purelib"/$dist-[0-9]*.dist-info "$SITE/" 2>/dev/null || true
    done
    cp -r "$purelib"/open_clip_torch-*.dist-info "$purelib"/jaraco*.dist-info "$SITE/" 2>/dev/null || true
    find "$SITE" -name __pycache__ -prune -exec rm -rf {} +
    echo "staged ${#PACKAGES[@]} packages in $SITE ($(du -sh "$SITE" | cut -f1)); carry it to the device machine"
    ;;
  run)
    python="${PYTHON:-python3}"
    # The working tree first, then the staged packages, then the machine's own (its torch, transformers, ...).
    export PYTHONPATH="$PWD:$PWD/$SITE${PYTHONPATH:+:$PYTHONPATH}"
    export TOKENIZERS_PARALLELISM=false HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
    export HF_DATASETS_CACHE="${RSCLIP_BENCH_DIR:-/tmp/rsclip-bench-gpu}/hf-cache"
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader 2>/dev/null || true
    "$python" -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__)'
    status=0
    timeout --signal=INT --kill-after=20 "${RSCLIP_GPU_LIMIT_S:-450}" \
      "$python" benchmarks/train_throughput.py --part gpu --workers 12 \
      --work-dir "${RSCLIP_BENCH_DIR:-/tmp/rsclip-bench-gpu}" || status=$?
    if [ "$status" = 124 ]; then
      echo "run: stopped after ${RSCLIP_GPU_LIMIT_S:-450} s; the lines above are what finished" >&2
    fi
    exit "$status"
    ;;
  *)
    echo "usage: bash benchmarks/device_gpu_throughput.sh stage|run" >&2
    exit 64
    ;;
esac
