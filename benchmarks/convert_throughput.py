"""Throughput and peak memory of `rsdata convert` against the floor and the plain `datasets` route.

For each size (default 1,000 and 4,000 images) it generates a synthetic DOTA source of 800 x 800 JPEGs (cached in
the work folder), then runs each variant in a fresh Python process, --repeats times (interleaved, after a
sync), keeping the fastest run:

- floor:        read every source file (images and labels) and write the same bytes into one file;
- rsdata-1/2:   ``rsdata.convert`` with 1 and 2 processes (pass-through JPEG, captions, shards, card);
- datasets:     ``Dataset.from_generator`` with an ``Image()`` feature, then ``to_parquet``, fed the same parsed
                objects and captions (so only the writing route differs).

Times exclude Python start-up and imports (every variant is timed inside its process). Peak memory is the
largest resident set of the variant's process and its workers. Prints a table and the ratios the project
targets: rsdata-1 within 2x of the floor, faster than datasets, rsdata-2 at least 1.7x rsdata-1, and peak
memory flat in the number of images.

    python benchmarks/convert_throughput.py [--sizes 1000 4000] [--work-dir DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

VARIANTS = ("floor", "rsdata-1", "rsdata-2", "datasets")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000])
    parser.add_argument("--image-size", type=int, default=800)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "rsdata-bench-convert")
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)  # internal: run one variant
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.source, args.out)))
        return

    results: dict[int, dict[str, dict]] = {}
    for size in args.sizes:
        source = make_source(args.work_dir, size, args.image_size)
        source_mb = sum(p.stat().st_size for p in source.rglob("*") if p.is_file()) / 2 ** 20
        print(f"\n{size} images of {args.image_size} x {args.image_size} JPEG ({source_mb:.0f} MiB)", flush=True)
        results[size] = {}
        # Interleaved repeats, so that a slow spell of the machine does not fall on one variant only.
        runs = {variant: [] for variant in VARIANTS}
        for _ in range(args.repeats):
            for variant in VARIANTS:
                runs[variant].append(measure(variant, source, args.work_dir / f"out-{variant}"))
        for variant in VARIANTS:
            best = min(runs[variant], key=lambda r: r["seconds"])
            best["peak_mb"] = max(r["peak_mb"] for r in runs[variant])
            results[size][variant] = best
            print(f"  {variant:<9} {best['seconds']:7.2f} s  {size / best['seconds']:8.0f} img/s  "
                  f"peak {best['peak_mb']:6.0f} MiB", flush=True)
        r = results[size]
        print(f"  rsdata-1 / floor time:      {r['rsdata-1']['seconds'] / r['floor']['seconds']:.2f}x  (target <= 2)")
        print(f"  datasets / rsdata-1 time:   {r['datasets']['seconds'] / r['rsdata-1']['seconds']:.2f}x  "
              "(target > 1: rsdata faster)")
        print(f"  rsdata-1 / rsdata-2 time:   {r['rsdata-1']['seconds'] / r['rsdata-2']['seconds']:.2f}x  "
              "(target >= 1.7)")
    if len(args.sizes) > 1:
        small, large = min(args.sizes), max(args.sizes)
        for variant in ("rsdata-1", "rsdata-2"):
            ratio = results[large][variant]["peak_mb"] / results[small][variant]["peak_mb"]
            print(f"peak memory {variant} at {large} / at {small} images: {ratio:.2f}x  (target: flat, about 1)")


def make_source(work_dir: Path, size: int, image_size: int) -> Path:
    from rsdata.synthetic import write_synthetic_dota

    source = work_dir / f"source-{size}-{image_size}"
    if not (source / "README.md").is_file():
        shutil.rmtree(source, ignore_errors=True)
        started = time.perf_counter()
        write_synthetic_dota(source, num_images=size, image_size=image_size, splits={"train": 1.0},
                             image_format="jpeg", seed=0)
        print(f"generated {source} in {time.perf_counter() - started:.0f} s", flush=True)
    return source


def measure(variant: str, source: Path, out: Path) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    os.sync()  # write back earlier runs' output now, not during this run
    completed = subprocess.run([sys.executable, __file__, "--variant", variant, "--source", str(source),
                                "--out", str(out)], capture_output=True, text=True, check=True)
    shutil.rmtree(out, ignore_errors=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def run_variant(variant: str, source: Path, out: Path) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    if variant == "floor":
        started = time.perf_counter()
        floor(source, out / "all.bin")
    elif variant.startswith("rsdata"):
        import rsdata

        _warm_up_captions()
        started = time.perf_counter()
        rsdata.convert(source, out / "dataset", format="dota", num_proc=int(variant[-1]), progress=False)
    else:
        import datasets

        datasets.disable_progress_bars()
        _warm_up_captions()
        started = time.perf_counter()
        plain_datasets_route(source, out)
    seconds = time.perf_counter() - started
    peak_kb = max(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return {"seconds": seconds, "peak_mb": peak_kb / 1024}


def floor(source: Path, target: Path) -> None:
    with open(target, "wb") as sink:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                sink.write(path.read_bytes())


def plain_datasets_route(source: Path, out: Path) -> None:
    from datasets import Dataset

    from rsdata.captions import box_to_caption, caption_seed
    from rsdata.formats import get_format
    from rsdata.schema import output_features

    dota = get_format("dota")()
    items = dota.list_items(source, None)

    def rows():
        from PIL import Image

        for item in items:
            record = dota.parse(item)
            data = item.image_path.read_bytes()
            width, height = Image.open(item.image_path).size
            captions = box_to_caption(record.objects, width, height, seed=caption_seed(0, "dota", item.source_id))
            yield {"image": {"bytes": data, "path": item.image_name}, "width": width, "height": height,
                   "captions": list(captions.captions), "caption_rule": captions.rule,
                   "caption_templates": list(captions.template_ids),
                   "objects": [{"category": o.category, "bbox": list(o.bbox), "polygon": list(o.polygon),
                                "difficult": o.difficult} for o in record.objects],
                   "source_dataset": "dota", "source_split": item.split, "source_id": item.source_id,
                   "tile_offset": [0, 0], "license": "other", "source_image_format": "JPEG",
                   "image_encoding": "original", "image_scale": [1.0, 1.0]}

    dataset = Dataset.from_generator(rows, features=output_features(), cache_dir=str(out / "cache"))
    dataset.to_parquet(str(out / "train.parquet"))


def _warm_up_captions() -> None:
    """Import what every route needs before timing: the caption rule's plural library (~2 s to import) and
    datasets (~1 s), once per process, as a long-running job pays them once."""
    from rsdata.captions import CategoryVocabulary
    from rsdata.schema import output_arrow_schema

    CategoryVocabulary().name("plane")
    output_arrow_schema()


if __name__ == "__main__":
    main()
