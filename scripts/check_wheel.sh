#!/usr/bin/env bash
# CI: what a user gets from the wheel alone. Builds the wheel from this tree's files (tracked and untracked, not
# ignored), installs it non-editable with the model extra into a fresh virtual environment (after the CPU torch on
# a machine without a GPU, exactly as scripts/setup.sh does), checks that pip kept that torch and pulled no CUDA
# package, then from an empty folder outside the repository runs: the demo (scripts/demo.sh's steps with the
# installed commands), `rsdata recipes`, `rsmodel recipes`, `rsmodel eval --list`, and `rsdata convert dior` on a
# generated two-image DIOR-like source (the dior recipe found by name).
#   bash scripts/check_wheel.sh            (pip's cache is reused; the temporary folder is removed at the end)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
python="${PYTHON:-python3}"
work="$(mktemp -d "${TMPDIR:-/tmp}/rsclip-wheel.XXXXXX")"
trap 'rm -rf "$work"' EXIT
start=$SECONDS
step() { echo "check_wheel [$((SECONDS - start)) s]: $*" >&2; }

step "building the wheel"
mkdir -p "$work/src" "$work/dist" "$work/empty"
(cd "$root" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$work/src"
"$python" -m venv "$work/venv"
py="$work/venv/bin/python"
# --no-compile: byte-compiling torch and transformers whole takes minutes; what runs is compiled on first use.
pip=("$py" -m pip --disable-pip-version-check --quiet)
"${pip[@]}" wheel --no-deps -w "$work/dist" "$work/src"
wheel="$(ls "$work/dist"/rsclip-*.whl)"

if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
  step "installing torch (GPU machine)"
  "${pip[@]}" install --no-compile torch
else
  step "installing the CPU build of torch (${RSCLIP_CPU_TORCH:-torch==2.13.0})"
  "${pip[@]}" install --no-compile "${RSCLIP_CPU_TORCH:-torch==2.13.0}"
fi
torch_before="$("$py" -c 'import torch; print(torch.__version__)')"
step "installing $(basename "$wheel")[model] (non-editable)"
"$py" -m pip --disable-pip-version-check install --no-compile "$wheel[model]" > "$work/pip-install.log"
torch_after="$("$py" -c 'import torch; print(torch.__version__)')"
if [ "$torch_before" != "$torch_after" ] || grep -qi "uninstalling torch" "$work/pip-install.log"; then
  echo "check_wheel: installing rsclip[model] replaced torch $torch_before with $torch_after" >&2; exit 1
fi
if ! { command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; } \
   && "$py" -m pip list 2>/dev/null | grep -qi '^nvidia-'; then
  echo "check_wheel: rsclip[model] pulled CUDA packages on a machine without a GPU:" >&2
  "$py" -m pip list 2>/dev/null | grep -i '^nvidia-' >&2; exit 1
fi
if "$py" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec("open_clip") is None)'; then
  echo "check_wheel: open_clip is installed; the check must show that rsclip[model] needs none" >&2; exit 1
fi

cd "$work/empty"  # outside the repository: only the installed wheel can supply recipes and the vocabulary
bin="$work/venv/bin"
step "the demo, from $PWD"
RSCLIP_BIN="$bin" bash "$root/scripts/demo.sh" demo-output
step "rsdata recipes, rsmodel recipes, rsmodel eval --list"
"$bin/rsdata" recipes > rsdata-recipes.txt
"$bin/rsmodel" recipes > rsmodel-recipes.txt
"$bin/rsmodel" eval --list > eval-list.txt
grep "^  dior " rsdata-recipes.txt && grep "^  tiny-cpu " rsmodel-recipes.txt && grep "^datasets of suite remoteclip" eval-list.txt
step "rsdata convert dior (the recipe, by name) on a generated DIOR-like source"
"$py" - <<'PY'
from pathlib import Path
from PIL import Image

root = Path("dior-source")
xml = root / "Annotations" / "Horizontal Bounding Boxes"
for folder in (root / "JPEGImages-trainval", xml, root / "ImageSets" / "Main"):
    folder.mkdir(parents=True)
for number, split, label in ((1, "train", "airplane"), (2, "val", "Expressway-toll-station")):
    stem = f"{number:05d}"
    Image.new("RGB", (64, 64), (40 * number, 90, 120)).save(root / "JPEGImages-trainval" / f"{stem}.jpg")
    (xml / f"{stem}.xml").write_text(
        f"<annotation><filename>{stem}.jpg</filename><object><name>{label}</name>"
        "<bndbox><xmin>5</xmin><ymin>6</ymin><xmax>30</xmax><ymax>40</ymax></bndbox></object></annotation>")
    (root / "ImageSets" / "Main" / f"{split}.txt").write_text(stem + "\n")
PY
"$bin/rsdata" convert dior dior-source dior-out --no-progress
"$py" -c "
import datasets
rows = datasets.load_dataset('dior-out')
row = rows['validation'][0]
assert row['source_dataset'] == 'dior' and 'expressway toll station' in ' '.join(row['captions']), row
print('dior-out:', {split: len(rows[split]) for split in rows}, 'read back with datasets.load_dataset')
"
step "passed: wheel $(basename "$wheel") with torch $torch_after, from an empty folder"
