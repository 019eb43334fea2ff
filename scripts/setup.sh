#!/usr/bin/env bash
# Create (or bring up to date) the project's virtual environment and install rsclip into it, editable.
#   bash scripts/setup.sh [EXTRAS]      EXTRAS: comma-separated extras of setup.cfg, e.g. "model,test"
# Idempotent: a stamp named after the packaging files and the extras skips work already done.
# torch: when an extra needs it and none is installed, a machine without an NVIDIA GPU gets the CPU build
# ($RSCLIP_CPU_TORCH, default torch==2.13.0, which this project's CPU machines hold as a local wheel), so pip
# never pulls the multi-gigabyte CUDA packages there.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
extras="${1:-}"
venv="${RSCLIP_VENV:-$root/.venv}"
python="${PYTHON:-python3}"

[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
pip=("$venv/bin/python" -m pip --disable-pip-version-check --quiet)
packaging="$(cat setup.cfg pyproject.toml scripts/setup.sh | sha256sum | cut -c1-16)"
stamp="$venv/.rsclip-setup-$packaging-${extras//,/+}"
[ -f "$stamp" ] && exit 0

if [[ ",$extras," == *",model,"* ]] && ! "$venv/bin/python" -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "setup: installing torch (GPU machine)" >&2
    "${pip[@]}" install torch
  else
    echo "setup: installing the CPU build of torch (${RSCLIP_CPU_TORCH:-torch==2.13.0})" >&2
    "${pip[@]}" install "${RSCLIP_CPU_TORCH:-torch==2.13.0}"
  fi
fi
echo "setup: installing rsclip${extras:+[$extras]} into $venv" >&2
"${pip[@]}" install -e ".${extras:+[$extras]}"
if [[ ",$extras," == *",test,"* ]]; then
  # The conversion and preprocessing tests compare against open_clip itself (rsmodel needs none of it: the CLIP
  # BPE vocabulary ships inside rsmodel). Without --no-deps it would pull torchvision and timm, which break the
  # CPU torch.
  "${pip[@]}" install --no-deps "open_clip_torch>=2.20"
fi
if ! { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; } \
   && "$venv/bin/python" -m pip list 2>/dev/null | grep -qi '^nvidia-'; then
  echo "setup: CUDA packages were installed on a machine without a GPU; remove $venv and set RSCLIP_CPU_TORCH" >&2
  exit 1
fi
for old in "$venv"/.rsclip-setup-*; do  # stamps of older packaging files no longer hold
  case "$old" in "$venv/.rsclip-setup-$packaging-"*) ;; *) rm -f "$old" ;; esac
done
touch "$stamp"
