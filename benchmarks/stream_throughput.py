"""Streaming against map-style training data: samples per second on the tiny recipe, peak memory on DOTA-size rows.

Both parts run ``rsmodel train`` through its command line (``python -m rsmodel train``), so the script runs
against any checkout: put the code to measure first on ``PYTHONPATH`` (``PYTHONPATH=/tmp/old python
benchmarks/stream_throughput.py`` measures commit 0d77562 checked out with ``git worktree add /tmp/old 0d77562``).
The baseline is the map-style route over the same folder, run in the same invocation, interleaved with the
streaming runs (``--repeats`` rounds, best of each); the script prints streaming / map-style.

1. Throughput (target: streaming >= 0.8x map-style). ``recipes/train/tiny-cpu.yaml`` as it is (100 steps of 16,
   one process, ``dataloader_num_workers`` 0) over the train split (160 rows) of ``rsdata demo --num-images 200``;
   the figure is the run's ``train_samples_per_second`` (Trainer's samples / training-loop time, data loading
   included, model and data set-up not), read from ``rsmodel_train.json``.
2. Peak memory (target: a streaming run under 1.5 GB). A DOTA-format tree of ``--big-images`` PNGs of
   ``--big-px`` x ``--big-px`` (smooth noise and rectangles, about 16 MB each at 4000 px; ``--distinct`` different
   images, repeated under other names) converted by ``rsdata convert dota`` (rsdata's default shards of 256 MiB);
   then the tiny recipe with ``global_batch_size`` 8 for ``--big-steps`` steps, streaming with the recipe's
   default buffers, and map-style alongside. The figure is the largest resident set of the training process and
   its children together, sampled every 20 ms.

Runs use one torch thread (``--threads``): on a shared 2-core machine, two spinning OpenMP threads per run turn
other people's load into a 5-10x slowdown of both routes (110 samples/s with one thread against 15 with two, at a
load average of 7), which would hide the data path being measured. Each run gets a private
``HF_DATASETS_CACHE`` and ``data.cache_dir`` (fresh reads, whatever another folder of the same name left in the
default cache). The data is made once in ``--work-dir`` and reused.

    python benchmarks/stream_throughput.py
    python benchmarks/stream_throughput.py --part memory --big-images 48
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "recipes" / "train" / "tiny-cpu.yaml"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("all", "throughput", "memory"), default="all")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "rsmodel-bench-stream")
    parser.add_argument("--repeats", type=int, default=2, help="throughput rounds of (map-style, streaming)")
    parser.add_argument("--memory-repeats", type=int, default=1,
                        help="memory rounds (peaks repeat to 0.01 GiB; one keeps the default run near 4 minutes)")
    parser.add_argument("--big-images", type=int, default=48, help="rows of the DOTA-size folder")
    parser.add_argument("--distinct", type=int, default=6, help="different images among them")
    parser.add_argument("--big-px", type=int, default=4000)
    parser.add_argument("--big-steps", type=int, default=3, help="steps of 8 samples in the memory runs")
    parser.add_argument("--threads", default="1", help="OMP_NUM_THREADS of the runs ('' leaves torch's default)")
    args = parser.parse_args()
    args.work_dir.mkdir(parents=True, exist_ok=True)
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = args.threads
    import rsmodel

    print(f"rsmodel from {Path(rsmodel.__file__).parent}")
    if args.part in ("all", "throughput"):
        throughput(args)
    if args.part in ("all", "memory"):
        memory(args)
    return 0


def throughput(args) -> None:
    demo = args.work_dir / "demo"
    if not (demo / "dataset" / "README.md").exists():
        shutil.rmtree(demo, ignore_errors=True)
        run([sys.executable, "-m", "rsdata", "demo", str(demo), "--num-images", "200", "--quiet"])
    rates: dict[str, list[float]] = {"map-style": [], "streaming": []}
    for round_ in range(args.repeats):
        for route in rates:
            record, _ = train(args.work_dir / f"tp-{route}-{round_}", demo / "dataset", route == "streaming", [])
            rates[route].append(record["result"]["samples_per_second"])
            print(f"  throughput round {round_ + 1} {route}: {rates[route][-1]:.1f} samples/s", flush=True)
    best = {route: max(values) for route, values in rates.items()}
    print(f"throughput (tiny recipe, 160 rows, best of {args.repeats}): map-style {best['map-style']:.1f}, "
          f"streaming {best['streaming']:.1f} samples/s; streaming / map-style = "
          f"{best['streaming'] / best['map-style']:.2f} (target >= 0.8)")


def memory(args) -> None:
    folder = big_dataset(args)
    size = sum(f.stat().st_size for f in folder.rglob("*.parquet"))
    peaks: dict[str, list[float]] = {"map-style": [], "streaming": []}
    extra = ["global_batch_size=8", f"training.max_steps={args.big_steps}", "training.logging_steps=1"]
    for round_ in range(args.memory_repeats):
        for route in peaks:
            _, peak = train(args.work_dir / f"mem-{route}-{round_}", folder, route == "streaming", extra)
            peaks[route].append(peak)
            print(f"  memory round {round_ + 1} {route}: peak {peak / 2**30:.2f} GiB", flush=True)
    low = {route: min(values) for route, values in peaks.items()}
    print(f"peak memory ({args.big_images} rows of {args.big_px} px PNG, {size / 2**20:.0f} MiB of Parquet, "
          f"{args.big_steps} steps of 8, lowest of {args.memory_repeats}): "
          f"map-style {low['map-style'] / 2**30:.2f} GiB, "
          f"streaming {low['streaming'] / 2**30:.2f} GiB (target < 1.5 GB = 1.40 GiB); streaming / map-style = "
          f"{low['streaming'] / low['map-style']:.2f}")


def train(run_dir: Path, dataset: Path, streaming: bool, overrides: list[str]) -> tuple[dict, float]:
    """One ``rsmodel train`` of the tiny recipe; ``(run record, peak resident bytes of the process tree)``."""
    shutil.rmtree(run_dir, ignore_errors=True)
    cache = run_dir.with_name(run_dir.name + "-cache")
    shutil.rmtree(cache, ignore_errors=True)
    flags = [f"data.path={dataset}", f"data.cache_dir={cache}", f"data.streaming={'true' if streaming else 'false'}",
             *overrides]
    command = [sys.executable, "-m", "rsmodel", "train", str(TINY), "--quiet", "--output-dir", str(run_dir)]
    for flag in flags:
        command += ["--override", flag]
    env = dict(os.environ, HF_DATASETS_CACHE=str(cache / "hf"))
    peak = run(command, env=env, watch=True)
    return json.loads((run_dir / "rsmodel_train.json").read_text()), peak


def run(command: list[str], env: dict | None = None, watch: bool = False) -> float:
    """Run ``command``; raise with its output when it fails. ``watch``: the peak RSS of its process tree."""
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = [0.0]
    if watch:
        import psutil

        def sample() -> None:
            try:
                root = psutil.Process(process.pid)
                while process.poll() is None:
                    total = 0
                    for each in [root, *root.children(recursive=True)]:
                        try:
                            total += each.memory_info().rss
                        except psutil.Error:
                            pass
                    peak[0] = max(peak[0], total)
                    time.sleep(0.02)
            except psutil.Error:
                pass

        thread = threading.Thread(target=sample, daemon=True)
        thread.start()
    output, _ = process.communicate()
    if watch:
        thread.join()
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{output[-3000:]}")
    return peak[0]


def big_dataset(args) -> Path:
    """A DOTA-format tree of large PNGs converted by ``rsdata convert dota`` (made once per size)."""
    name = f"big-{args.big_images}x{args.big_px}-{args.distinct}"
    out = args.work_dir / name / "dataset"
    if (out / "README.md").exists():
        return out
    import numpy as np
    from PIL import Image, ImageDraw

    source = args.work_dir / name / "source" / "train"
    shutil.rmtree(out.parent, ignore_errors=True)
    (source / "images").mkdir(parents=True)
    (source / "labelTxt").mkdir()
    rng = np.random.default_rng(0)
    px = args.big_px
    encoded = []
    for _ in range(args.distinct):
        # Smooth noise compresses about as badly as aerial imagery does (16 MB at 4000 px, compress_level 1).
        image = Image.fromarray(rng.integers(0, 256, (100, 100, 3), dtype=np.uint8)).resize((px, px),
                                                                                           Image.BILINEAR)
        draw = ImageDraw.Draw(image)
        for _ in range(30):
            x, y = (int(v) for v in rng.integers(0, px - 200, 2))
            draw.rectangle([x, y, x + 150, y + 80], fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
        buffer = io.BytesIO()
        image.save(buffer, "PNG", compress_level=1)
        encoded.append(buffer.getvalue())
    for index in range(args.big_images):
        (source / "images" / f"P{index:04d}.png").write_bytes(encoded[index % args.distinct])
        (source / "labelTxt" / f"P{index:04d}.txt").write_text(
            "100 100 300 100 300 200 100 200 plane 0\n400 400 700 400 700 500 400 500 ship 0\n")
    run([sys.executable, "-m", "rsdata", "convert", "dota", str(source.parent), str(out), "--quiet"])
    return out


if __name__ == "__main__":
    sys.exit(main())
