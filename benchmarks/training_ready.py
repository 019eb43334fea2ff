"""Training-ready builds against builds as published, on the real samples in ../shared/realdata.

For each real sample there (LoveDA, iSAID, DOTA, Potsdam, AU-AIR, AID; missing ones are left out) it converts
the sample twice with the same recipe or format: as published (no image options, the default) and with
``--images train448`` (every image JPEG q95, longer side at most 448 px). It prints, per sample and in all:

- the bytes of ``data/`` (the Parquet shards) of each build and their ratio;
- decoding throughput of the stored images (Pillow decode to RGB, one process), images per second, best of
  ``--repeats`` interleaved runs, and the ratio;
- for JPEG sources over 448 px (AU-AIR's 1920 x 1080 frames), the time of ``prepare_image(path, max_side=448,
  image_format="jpeg")`` with DCT-scaled decoding (``Image.draft``) against a full-size decode, interleaved,
  best of ``--repeats``, and the ratio.

    python benchmarks/training_ready.py [--realdata ../shared/realdata] [--repeats 5] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import io
import shutil
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

#: name -> (sample folder, rsdata.convert keyword arguments): the sample converted as the corpus would.
SAMPLES = {
    "LoveDA (1024 px PNG)": ("loveda_masks", {"format": "index_mask", "format_options": {"classes": "loveda"}}),
    "iSAID (PNG, recipe: 896 px patches)": ("isaid_masks", {"recipe": "isaid"}),
    "DOTA (PNG)": ("dota_labeltxt", {"recipe": "dota"}),
    "Potsdam (512 px PNG patch)": ("isprs_potsdam_vaihingen/potsdam",
                                   {"format": "index_mask", "format_options": {"classes": "potsdam_mmseg"}}),
    "AU-AIR (1920 x 1080 JPEG)": ("auair_json", {"recipe": "auair"}),
    "AID (150 px JPEG thumbnails)": ("scene_classification/AID", {"recipe": "aid"}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--realdata", type=Path, default=REPO.parent / "shared" / "realdata")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--work-dir", type=Path)
    args = parser.parse_args()
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="rsdata-training-ready-"))
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)

    print(f"{'sample':<38} {'images':>6} {'published':>12} {'train448':>12} {'size':>7} "
          f"{'decode img/s':>14} {'train448':>9} {'speed':>7}")
    totals = [0, 0]
    for name, (folder, kwargs) in SAMPLES.items():
        source = args.realdata / folder
        if not source.is_dir():
            print(f"{name:<38} (no sample at {source})")
            continue
        published = build(source, work / f"{folder.replace('/', '_')}-published", kwargs)
        ready = build(source, work / f"{folder.replace('/', '_')}-448", {**kwargs, "images": "train448"})
        sizes = [data_bytes(published), data_bytes(ready)]
        totals = [totals[0] + sizes[0], totals[1] + sizes[1]]
        images = [stored_images(published), stored_images(ready)]
        rates = interleaved([lambda blobs=blobs: decode_all(blobs) for blobs in images], args.repeats)
        rates = [len(images[0]) / rates[0], len(images[1]) / rates[1]]
        print(f"{name:<38} {len(images[0]):>6} {sizes[0]:>12,} {sizes[1]:>12,} {sizes[1] / sizes[0]:>6.3f}x "
              f"{rates[0]:>14.1f} {rates[1]:>9.1f} {rates[1] / rates[0]:>6.2f}x")
    if totals[0]:
        print(f"{'all samples':<38} {'':>6} {totals[0]:>12,} {totals[1]:>12,} {totals[1] / totals[0]:>6.3f}x")

    auair = args.realdata / "auair_json" / "images"
    if auair.is_dir():
        files = sorted(auair.glob("*.jpg"))
        times = interleaved([lambda: prepare_all(files, dct=True), lambda: prepare_all(files, dct=False)],
                            args.repeats)
        print(f"\nprepare_image(max_side=448, image_format='jpeg') on {len(files)} AU-AIR 1920 x 1080 JPEGs: "
              f"DCT-scaled {times[0] / len(files) * 1000:.1f} ms/img, full decode "
              f"{times[1] / len(files) * 1000:.1f} ms/img: {times[1] / times[0]:.2f}x faster")
    shutil.rmtree(work, ignore_errors=True)


def build(source: Path, out: Path, kwargs: dict) -> Path:
    import rsdata

    rsdata.convert(source, out, on_error="skip", progress=False, **kwargs)
    return out


def data_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in (folder / "data").rglob("*.parquet"))


def stored_images(folder: Path) -> list[bytes]:
    import pyarrow.parquet as pq

    return [row["bytes"] for path in sorted((folder / "data").rglob("*.parquet"))
            for row in pq.read_table(path, columns=["image"]).column("image").to_pylist()]


def decode_all(blobs: list[bytes]) -> None:
    from PIL import Image

    for blob in blobs:
        Image.open(io.BytesIO(blob)).convert("RGB")


def prepare_all(files: list[Path], dct: bool) -> None:
    from PIL import JpegImagePlugin

    from rsdata.images import prepare_image

    original = JpegImagePlugin.JpegImageFile.draft
    if not dct:  # the full-size decode: no DCT scaling offered to the decoder
        JpegImagePlugin.JpegImageFile.draft = lambda self, mode, size: None
    try:
        for path in files:
            prepare_image(path, max_side=448, image_format="jpeg")
    finally:
        JpegImagePlugin.JpegImageFile.draft = original


def interleaved(runs, repeats: int) -> list[float]:
    """Best wall time of each run over ``repeats`` rounds, the runs taking turns within each round."""
    best = [float("inf")] * len(runs)
    for _ in range(repeats):
        for index, run in enumerate(runs):
            started = time.perf_counter()
            run()
            best[index] = min(best[index], time.perf_counter() - started)
    return best


if __name__ == "__main__":
    main()
