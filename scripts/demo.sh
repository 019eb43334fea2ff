#!/usr/bin/env bash
# Set up, then run the main job end to end on the embedded demo, in demo-output/ (or the folder given as $1):
#   1. rsdata demo: a synthetic DOTA-format source (generated shapes) converted into a captioned dataset;
#   2. rsmodel train: a tiny CLIP trained on it on the CPU (the shipped recipe tiny-cpu, about a minute);
#   3. rsmodel eval: the RemoteCLIP retrieval protocol on the dataset's validation split (the shipped suite demo).
# The recipes are named, not read from this clone, so the same steps run against an installed wheel: with
# RSCLIP_BIN=<a venv's bin folder> set-up is skipped and the demo runs in the current folder with those commands
# (scripts/check_wheel.sh does that from an empty folder outside the repository).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ -n "${RSCLIP_BIN:-}" ]; then
  bin="$RSCLIP_BIN"
else
  bash "$root/scripts/setup.sh" model
  bin="$root/.venv/bin"
  cd "$root"
fi
out="${1:-demo-output}"
"$bin/rsdata" demo "$out"
rm -rf "$out/run"  # a finished run is never overwritten by rsmodel train: the demo starts its run afresh
"$bin/rsmodel" train tiny-cpu -o "data.path=$out/dataset" -o "training.output_dir=$out/run"
"$bin/rsmodel" eval "$out/run" --suite demo --dataset "demo=$out/dataset" --cache-dir "$out/embedding-cache" \
  --no-progress
echo "demo: dataset $out/dataset, model $out/run (CLIPModel.from_pretrained), results $out/run/eval/summary.md"
