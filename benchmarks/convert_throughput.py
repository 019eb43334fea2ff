"""Throughput and peak memory of `rsdata convert` against the floor and the plain `datasets` route.

For each size (default 1,000 and 4,000 images) it generates a synthetic DOTA source of 800 x 800 JPEGs (cached in
the work folder), then runs each variant in a fresh Python process, --repeats times (interleaved, after a
sync), keeping the fastest run:

- floor:        read every source file (images and labels) and write the same bytes into one file;
- rsdata-1/2:   ``rsdata.convert`` with 1 and 2 processes (pass-through JPEG, captions, shards, card);
- datasets:     ``Dataset.from_generator`` with an ``Image()`` feature, then ``to_parquet``, fed the same parsed
                objects and captions (so only the writing route differs);
- cli-1/2:      the command ``rsdata convert dota SOURCE OUT --num-proc N`` as a user runs it, timed from outside
                the process: Python start-up, imports and worker start-up included.

Times of the first four exclude Python start-up and imports (each variant is timed inside its process). Peak
memory is the largest resident set of the variant's process and of any one of its workers. Then, unless
``--large 0``, the same floor and rsdata variants run on ``--large`` PNGs of ``--large-side`` pixels a side
(DOTA's large scenes; synthetic noisy ground, so about 35 MB each), where memory is what matters.

Prints a table and the ratios the project targets: rsdata-1 within 2.5x of the floor, faster than datasets,
rsdata-2 and cli-2 at least 1.7x rsdata-1 and cli-1, peak memory flat in the number of images and under 400 MiB
on the large PNGs. Point ``PYTHONPATH`` at another checkout to measure its code with the same script (it uses only
the public API and the command line).

    python benchmarks/convert_throughput.py [--sizes 1000 4000] [--large 24] [--repeats 3] [--work-dir DIR]
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

VARIANTS = ("floor", "rsdata-1", "rsdata-2", "datasets", "cli-1", "cli-2")
LARGE_VARIANTS = ("floor", "rsdata-1", "rsdata-2")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 4000])
    parser.add_argument("--image-size", type=int, default=800)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--variants", nargs="+", choices=VARIANTS, default=list(VARIANTS),
                        help="variants of the JPEG sizes to run (default: all)")
    parser.add_argument("--large", type=int, default=24, help="number of large PNGs (0: no large case)")
    parser.add_argument("--large-side", type=int, default=4000)
    parser.add_argument("--baseline", type=Path, help="a checkout of earlier code (git worktree add DIR COMMIT): its "
                        "rsdata and cli variants run too, as NAME@base, interleaved with these")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "rsdata-bench-convert")
    parser.add_argument("--variant", choices=VARIANTS, help=argparse.SUPPRESS)  # internal: run one variant
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.variant:
        print(json.dumps(run_variant(args.variant, args.source, args.out)))
        return

    results: dict[int, dict[str, dict]] = {}
    variants = [v for v in VARIANTS if v in args.variants]
    for size in args.sizes:
        source = make_source(args.work_dir, size, args.image_size)
        source_mb = sum(p.stat().st_size for p in source.rglob("*") if p.is_file()) / 2 ** 20
        print(f"\n{size} images of {args.image_size} x {args.image_size} JPEG ({source_mb:.0f} MiB)", flush=True)
        results[size] = run_interleaved(with_baseline(variants, args.baseline), source, args.work_dir, args.repeats,
                                        size, args.baseline)
        r = results[size]
        for code in ("", "@base"):
            ratio(r, f"rsdata-1{code}", "floor", f"rsdata-1{code} / floor time", "(target <= 2.5)")
            ratio(r, "datasets", f"rsdata-1{code}", f"datasets / rsdata-1{code} time", "(target > 1: rsdata faster)")
            ratio(r, f"rsdata-1{code}", f"rsdata-2{code}", f"rsdata-1{code} / rsdata-2{code} time", "(target >= 1.7)")
            ratio(r, f"cli-1{code}", f"cli-2{code}", f"cli-1{code} / cli-2{code} time", "(target >= 1.7)")
        for variant in variants:
            ratio(r, f"{variant}@base", variant, f"{variant}: before / after", "")
    if len(args.sizes) > 1:
        small, large = min(args.sizes), max(args.sizes)
        for variant in ("rsdata-1", "rsdata-2"):
            if variant in variants:
                change = results[large][variant]["peak_mb"] / results[small][variant]["peak_mb"]
                print(f"peak memory {variant} at {large} / at {small} images: {change:.2f}x  (target: flat, about 1)")
    if args.large:
        source = make_source(args.work_dir, args.large, args.large_side, image_format="png")
        source_mb = sum(p.stat().st_size for p in source.rglob("*") if p.is_file()) / 2 ** 20
        print(f"\n{args.large} PNGs of {args.large_side} x {args.large_side} ({source_mb:.0f} MiB)", flush=True)
        r = run_interleaved(with_baseline(LARGE_VARIANTS, args.baseline), source, args.work_dir, args.repeats,
                            args.large, args.baseline)
        for code in ("", "@base"):
            ratio(r, f"rsdata-1{code}", "floor", f"rsdata-1{code} / floor time", "")
            ratio(r, f"rsdata-1{code}", f"rsdata-2{code}", f"rsdata-1{code} / rsdata-2{code} time", "")
            for variant in ("rsdata-1", "rsdata-2"):
                if variant + code in r:
                    print(f"  peak memory {variant + code}: {r[variant + code]['peak_mb']:.0f} MiB  (target < 400)")


def with_baseline(variants, baseline: Path | None) -> list[str]:
    """``variants``, and with a baseline checkout, its twin of each rsdata and cli variant."""
    twins = [f"{v}@base" for v in variants if baseline and v.startswith(("rsdata", "cli"))]
    return [*variants, *twins]


def run_interleaved(variants, source: Path, work_dir: Path, repeats: int, size: int,
                    baseline: Path | None = None) -> dict[str, dict]:
    """Each variant ``repeats`` times, interleaved (so that a slow spell of the machine does not fall on one
    variant only); keeps the fastest run's time and the largest peak memory, and prints the spread."""
    runs = {variant: [] for variant in variants}
    for _ in range(repeats):
        for variant in variants:
            runs[variant].append(measure(variant, source, work_dir / f"out-{variant}", baseline))
    results = {}
    for variant in variants:
        seconds = sorted(r["seconds"] for r in runs[variant])
        best = min(runs[variant], key=lambda r: r["seconds"])
        best["peak_mb"] = max(r["peak_mb"] for r in runs[variant])
        results[variant] = best
        print(f"  {variant:<14} {best['seconds']:7.2f} s  {size / best['seconds']:8.0f} img/s  "
              f"peak {best['peak_mb']:6.0f} MiB  (runs: {', '.join(f'{t:.2f}' for t in seconds)} s)", flush=True)
    return results


def ratio(results: dict[str, dict], slower: str, faster: str, label: str, target: str) -> None:
    if slower in results and faster in results:
        value = results[slower]["seconds"] / results[faster]["seconds"]
        print(f"  {label + ':':<38} {value:.2f}x  {target}")


def make_source(work_dir: Path, size: int, image_size: int, image_format: str = "jpeg") -> Path:
    from rsdata.synthetic import write_synthetic_dota

    source = work_dir / f"source-{size}-{image_size}" if image_format == "jpeg" else \
        work_dir / f"source-{size}-{image_size}-{image_format}"
    if not (source / "README.md").is_file():
        shutil.rmtree(source, ignore_errors=True)
        started = time.perf_counter()
        write_synthetic_dota(source, num_images=size, image_size=image_size, splits={"train": 1.0},
                             image_format=image_format, seed=0)
        print(f"generated {source} in {time.perf_counter() - started:.0f} s", flush=True)
    return source


def measure(variant: str, source: Path, out: Path, baseline: Path | None = None) -> dict:
    """One run of ``variant`` (``NAME@base``: NAME on the baseline checkout's code) in a fresh process."""
    shutil.rmtree(out, ignore_errors=True)
    os.sync()  # write back earlier runs' output now, not during this run
    variant, _, code = variant.partition("@")
    env = {**os.environ, "PYTHONPATH": str(baseline)} if code else None
    if variant.startswith("cli"):
        return measure_command(source, out, int(variant[-1]), env)
    completed = subprocess.run([sys.executable, __file__, "--variant", variant, "--source", str(source),
                                "--out", str(out)], capture_output=True, text=True, check=True, env=env)
    shutil.rmtree(out, ignore_errors=True)
    return json.loads(completed.stdout.strip().splitlines()[-1])


def measure_command(source: Path, out: Path, num_proc: int, env: dict | None = None) -> dict:
    """``rsdata convert`` as a user runs it, timed from outside. Peak memory from ``wait4``: on Linux the larger of
    the command's own peak and that of the largest of its (waited-for) workers."""
    with tempfile.TemporaryFile() as log:
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "rsdata", "convert", "dota", str(source),
                                    str(out / "dataset"), "--num-proc", str(num_proc), "--no-progress", "--quiet"],
                                   stdout=subprocess.DEVNULL, stderr=log, env=env)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode:
            log.seek(0)
            raise RuntimeError(f"rsdata convert failed ({process.returncode}): {log.read().decode(errors='replace')}")
    shutil.rmtree(out, ignore_errors=True)
    return {"seconds": seconds, "peak_mb": usage.ru_maxrss / 1024}


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
    """Import what every route needs before timing: the caption rule's plural library (2-3 s to import before
    rsdata stopped typeguard from instrumenting it, 0.1 s since) and datasets (~1 s), once per process, as a
    long-running job pays them once. The cli variants include them."""
    from rsdata.captions import CategoryVocabulary
    from rsdata.schema import output_arrow_schema

    CategoryVocabulary().name("plane")
    output_arrow_schema()


if __name__ == "__main__":
    main()
