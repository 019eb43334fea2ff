#!/usr/bin/env bash
# Set up, then run the main job end to end on the embedded demo, in demo-output/ (or the folder given as $1):
#   1. rsdata demo: a synthetic DOTA-format source (generated shapes) converted into a captioned dataset;
#   2. rsmodel train: a tiny CLIP trained on it on the CPU (recipes/train/tiny-cpu.yaml, about a minute);
#   3. rsmodel eval: the RemoteCLIP retrieval protocol on the dataset's validation split (recipes/eval/demo.yaml).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$root/scripts/setup.sh" model
bin="$root/.venv/bin"
out="${1:-demo-output}"
cd "$root"
"$bin/rsdata" demo "$out"
rm -rf "$out/run"  # a finished run is never overwritten by rsmodel train: the demo starts its run afresh
"$bin/rsmodel" train recipes/train/tiny-cpu.yaml -o "data.path=$out/dataset" -o "training.output_dir=$out/run"
"$bin/rsmodel" eval "$out/run" --suite recipes/eval/demo.yaml --dataset "demo=$out/dataset" \
  --cache-dir "$out/embedding-cache" --no-progress
echo "demo: dataset $out/dataset, model $out/run (CLIPModel.from_pretrained), results $out/run/eval/summary.md"
