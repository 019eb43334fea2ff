"""Training data supply per CPU core: decode + augmentation on images shaped like each RemoteCLIP corpus source.

What is timed: ``rsmodel.data.CropFlipRotate(224, <the RemoteCLIP recipe's augmentation>)`` (decode, random resized
crop with area share 0.9-1.0 and aspect 3/4-4/3, bicubic resize to 224 x 224, horizontal flip with probability 0.5,
a quarter turn 0-3), called as rsmodel's sample stream calls it: one ``numpy.random.default_rng([0, 1, k])`` per
sample ``k``, on the bytes the ``image`` column holds. One process, one thread (``OMP_NUM_THREADS``, MKL, OpenBLAS
and torch set to 1 before anything is imported; Pillow decodes and resizes on the calling thread), optionally pinned
to one CPU (``--cpu``). Nothing is read from disk while timing: the images are bytes in memory, as rows arrive from
a Parquet shard already read.

Two builds of the same images:

- **as published**: what ``rsdata convert`` stores today, ``rsdata.images.prepare_image(path)`` with its defaults:
  JPEG and PNG pass through byte for byte, TIFF and BMP are re-encoded as PNG; video frames (Stanford Drone) are
  stored as JPEG quality 95 (``rsdata.formats.stanford_drone``; PNG before issue 15).
- **training-ready**: ``rsdata convert --images train448``: longer side at most 448 px, every image JPEG quality 95
  (:func:`training_ready_bytes`, which is ``prepare_image(path, max_side=448, image_format="jpeg")``).

Weighting: a source's rate is images per second on one core, ``1 / t_i`` with ``t_i`` the mean seconds per image;
the corpus rate is the harmonic mean weighted by Table I's counts ``n_i`` (:func:`weighted_rate`):
``sum(n_i) / sum(n_i * t_i)``, the rate at which one core gets through one epoch of the corpus.

The rate a node needs: ``--gpu-rate`` (default 2,000 images/s) divided by ``--usable-cores`` (default 14 of a
16-core node: one core for the training process, one for the pin-memory thread and the rest of the system).
2,000 images/s is the issue's "on the order of 2,000 or more" for ViT-B/32 training on one H100; for scale,
open_clip's published scaling-law runs (Cherti et al. 2023, ``trained_models_info.csv``) trained ViT-B/32 at a local
batch of 256 at 108,845 samples/s on 128 A100s, 850 images/s per A100, and an H100's dense bf16 peak is about 3.2x
an A100's, so 2,000-2,700 images/s per H100, or 143-190 images/s per core. The issue's range, 150-400 images/s per
core, spans 2,100-5,600 images/s per GPU; the target it sets is the top of that range: a weighted training-ready
supply of at least 400 images/s per core (``--target``).

Sources (Table I counts from ../shared/specs/corpus.md; sizes and encodings from the publishers, the dataset recipes
and the issue's brief; every assumption is printed with the table):

| source | Table I | as the publisher ships it | what is timed |
|---|---:|---|---|
| RSICD | 8,483 | 224 x 224 JPEG | the real sample ``rs_captions/rsicd_images/stadium_1.jpg`` |
| RSITMD | 3,603 | 256 x 256 TIFF | a 256 x 256 crop of real PNG content, saved as uncompressed TIFF |
| UCM-captions | 1,676 | 256 x 256 TIFF | the same, another crop |
| DOTA v1.0 | 1,409 | PNG, 800-4,000 px a side (train about 2,000-4,000) | 3,000 x 3,000 PNG mosaic of real content |
| DIOR | 23,463 | 800 x 800 JPEG | the real sample ``dior_voc_xml/JPEGImages/00001.jpg`` |
| HRRSD | 21,761 | JPEG, mixed sizes (assumed 1,000 x 800) | JPEG q90 crop of real content |
| RSOD | 936 | JPEG about 1,000 px (assumed 1,000 x 900) | JPEG q90 crop of real content |
| LEVIR | 3,791 | 800 x 600 JPEG | JPEG q90 crop of real content |
| HRSC2016 | 1,055 | BMP, 300 x 300 to 1,500 x 900 (assumed 1,000 x 600) | BMP crop of real content |
| AU-AIR | 32,823 | 1920 x 1080 JPEG | the six real frames in ``auair_json/images`` |
| CARPK + PUCPR+ | 1,568 | 1280 x 720 PNG (CARPK; PUCPR+ JPEG, 8 % of the images) | PNG crop of real content |
| Stanford Drone | 17,351 | video frames (about 1,400 x 1,900) | the real frame ``sdd_annotations/*/*/reference.jpg`` |
| VisDrone | 6,471 | JPEG up to 2,000 x 1,500 (assumed 2,000 x 1,500) | JPEG q90 mosaic of real content |
| iSAID | 30,821 | 896 x 896 PNG patches (mmsegmentation's converter) | 896 x 896 PNG mosaic of real content |
| LoveDA | 4,187 | 1024 x 1024 PNG | the real sample ``loveda_masks/img_dir/0.png`` |
| Potsdam | 5,421 | 512 x 512 PNG crops (mmsegmentation) | the real crop ``isprs_potsdam_vaihingen/potsdam/img_dir`` |
| Vaihingen | 742 | 512 x 512 PNG crops (mmsegmentation) | the Potsdam crop (no Vaihingen image in the samples) |

"Real content" is the pool of real sample pictures that were stored losslessly (DOTA ``P1888.png``, iSAID
``P0005.png``, LoveDA ``0.png``, the Potsdam crop): a generated image is one crop of one of them when it fits, else a
mosaic of 256-px crops at random offsets with random flips and quarter turns (never a repeat of the same pixels
within a row, which zlib would find and compress away). So generated PNGs weigh what real aerial PNGs weigh (about
1.5-2 bytes per pixel), unlike flat colour (far lighter) or noise (heavier). Generated JPEGs are quality 90 (the
publishers do not state theirs; DIOR's real sample is 2.6 bits per pixel, a q90 of this content about 3). When
``../shared/realdata`` is absent (CI) the pool is rsdata's synthetic scenes (``rsdata.synthetic``: ground texture,
objects, sensor noise) and the output says so: the figures are then only a smoke test.

Timing: every (source, build) pair is run ``--rounds`` times, interleaved (round 1 of every pair, then round 2...),
each round at least ``--min-seconds`` and ``--min-calls`` calls over ``--images`` distinct images of the source; the
fastest round counts. Time is the process's CPU time by default (``--clock cpu``): the cost on one core, which
stays meaningful on a shared machine where the wall clock also counts the time other processes held the core
(``--clock wall`` measures that instead). With ``--baseline REV`` the augmentation of git revision REV
(``rsmodel/data.py`` at REV, loaded beside the current one) is timed too, interleaved with the current one on both
builds, and the ratio printed.

    python benchmarks/data_supply.py                     # about 1-2 minutes on one core
    python benchmarks/data_supply.py --baseline 0d77562  # also the augmentation as it was at 0d77562
    python benchmarks/data_supply.py --quick --sources rsicd,ucm   # seconds; a smoke test, not a measurement
    python benchmarks/data_supply.py --quick --profile --sources dior,isaid,auair   # where the time goes
"""

from __future__ import annotations

import os

# Before numpy and torch are imported: one thread per process is the setting being measured.
for _variable in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Callable, Mapping, Sequence  # noqa: E402

import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

REALDATA = ROOT.parent / "shared" / "realdata"
#: Longer side and JPEG quality of the training-ready build (for the 224-px recipes: twice the crop size, so a random
#: resized crop never upsamples).
READY_MAX_SIDE = 448
READY_JPEG_QUALITY = 95
#: Quality of generated JPEG sources (the publishers do not state theirs).
SOURCE_JPEG_QUALITY = 90
IMAGE_SIZE = 224
#: Required rate: images/s of ViT-B/32 training on one H100 (the issue: "on the order of 2,000 or more") over the
#: cores a 16-core node can give to DataLoader workers.
GPU_RATE = 2000.0
USABLE_CORES = 14
TARGET_PER_CORE = 400.0
#: Lossless real pictures that generated sources are cut from (paths under the realdata folder).
CONTENT_POOL = ("dota_labeltxt/images/P1888.png", "isaid_masks/train/images/P0005.png",
                "loveda_masks/img_dir/0.png", "isprs_potsdam_vaihingen/potsdam/img_dir/2_10_0_0_512_512.png")
PATCH = 256


@dataclass(frozen=True)
class Source:
    """One corpus source: Table I's count and the shape of its images as the publisher ships them.

    ``file_format`` is the publisher's (``JPEG``, ``PNG``, ``TIFF``, ``BMP``, or ``frame`` for frames decoded from
    video); ``real`` names real samples (globs under the realdata folder) used as they are; ``note`` says where the
    size comes from when it is an assumption.
    """

    name: str
    group: str
    count: int
    file_format: str
    size: tuple[int, int]
    real: tuple[str, ...] = ()
    note: str = ""


SOURCES: tuple[Source, ...] = (
    Source("rsicd", "RET-3", 8483, "JPEG", (224, 224), ("rs_captions/rsicd_images/*.jpg",)),
    Source("rsitmd", "RET-3", 3603, "TIFF", (256, 256)),
    Source("ucm", "RET-3", 1676, "TIFF", (256, 256)),
    Source("dota", "DET-10", 1409, "PNG", (3000, 3000), note="DOTA v1.0 train is 800-4,000 px; 3,000 assumed"),
    Source("dior", "DET-10", 23463, "JPEG", (800, 800), ("dior_voc_xml/JPEGImages/*.jpg",)),
    Source("hrrsd", "DET-10", 21761, "JPEG", (1000, 800), note="mixed sizes; 1,000 x 800 assumed"),
    Source("rsod", "DET-10", 936, "JPEG", (1000, 900), note="about 1,000 px; 1,000 x 900 assumed"),
    Source("levir", "DET-10", 3791, "JPEG", (800, 600)),
    Source("hrsc2016", "DET-10", 1055, "BMP", (1000, 600), note="300 x 300 to 1,500 x 900; 1,000 x 600 assumed"),
    Source("auair", "DET-10", 32823, "JPEG", (1920, 1080), ("auair_json/images/*.jpg",)),
    Source("carpk", "DET-10", 1568, "PNG", (1280, 720), note="CARPK PNG; PUCPR+ (8 %) JPEG counted as PNG"),
    Source("stanford_drone", "DET-10", 17351, "frame", (1983, 1088), ("sdd_annotations/*/*/reference.jpg",),
           note="the real reference frame, 1983 x 1088, decoded and stored as a frame"),
    Source("visdrone", "DET-10", 6471, "JPEG", (2000, 1500), note="up to 2,000 x 1,500; the largest assumed"),
    Source("isaid", "SEG-4", 30821, "PNG", (896, 896)),
    Source("loveda", "SEG-4", 4187, "PNG", (1024, 1024), ("loveda_masks/img_dir/*.png",)),
    Source("potsdam", "SEG-4", 5421, "PNG", (512, 512), ("isprs_potsdam_vaihingen/potsdam/img_dir/*.png",)),
    Source("vaihingen", "SEG-4", 742, "PNG", (512, 512), ("isprs_potsdam_vaihingen/potsdam/img_dir/*.png",),
           note="the Potsdam crop stands in (same size and encoding)"),
)
BUILDS = ("published", "ready")


# ------------------------------------------------------------------------------------------------ the arithmetic

def weighted_rate(seconds_per_image: Mapping[str, float], counts: Mapping[str, int]) -> float:
    """Images per second over a corpus whose source ``name`` has ``counts[name]`` images, each taking
    ``seconds_per_image[name]``: ``sum(n) / sum(n * t)`` (the count-weighted harmonic mean of the rates ``1 / t``)."""
    names = list(seconds_per_image)
    if not names:
        raise ValueError("weighted_rate needs at least one source")
    missing = [name for name in names if name not in counts]
    if missing:
        raise ValueError(f"no count for source(s) {', '.join(missing)}")
    bad = [name for name in names if not seconds_per_image[name] > 0 or counts[name] < 0]
    if bad:
        raise ValueError(f"time per image must be > 0 and counts >= 0; bad: {', '.join(bad)}")
    total = sum(counts[name] for name in names)
    seconds = sum(counts[name] * seconds_per_image[name] for name in names)
    if total == 0:
        raise ValueError("the counts add up to 0")
    return total / seconds


def required_per_core(gpu_rate: float, usable_cores: int) -> float:
    """Images per second each DataLoader core must supply so that ``usable_cores`` of them feed ``gpu_rate``."""
    if gpu_rate <= 0 or usable_cores < 1:
        raise ValueError(f"gpu rate must be > 0 and usable cores >= 1, got {gpu_rate} and {usable_cores}")
    return gpu_rate / usable_cores


# ----------------------------------------------------------------------------------------------------- the images

def training_ready_bytes(path: Path, data: bytes) -> bytes:
    """The training-ready bytes of one source image, as ``rsdata convert --images train448`` stores them: longer
    side at most 448 px, JPEG quality 95 (a JPEG already within 448 px keeps its bytes; larger JPEGs are decoded
    DCT-scaled)."""
    from rsdata.images import prepare_image

    return prepare_image(path, data=data, max_side=READY_MAX_SIDE, image_format="jpeg",
                         jpeg_quality=READY_JPEG_QUALITY).data


def published_bytes(source: Source, path: Path, data: bytes) -> bytes:
    """What ``rsdata convert`` stores for this source as published (see the module docstring): the file's own bytes
    for JPEG and PNG, PNG for other formats, and JPEG q95 for frames decoded from video."""
    from rsdata.images import prepare_image

    if source.file_format == "frame":
        from PIL import Image

        from rsdata.formats.stanford_drone import FRAME_JPEG_QUALITY

        with Image.open(io.BytesIO(data)) as frame:
            buffer = io.BytesIO()
            frame.convert("RGB").save(buffer, "JPEG", quality=FRAME_JPEG_QUALITY)
        return buffer.getvalue()
    return prepare_image(path, data=data).data


def content_pool(realdata: Path | None) -> tuple[list, str]:
    """Pictures (RGB PIL images) that generated sources are cut from, and a line saying what they are."""
    from PIL import Image

    if realdata is not None:
        paths = [realdata / name for name in CONTENT_POOL]
        if all(path.is_file() for path in paths):
            pictures = []
            for path in paths:
                with Image.open(path) as image:
                    pictures.append(image.convert("RGB"))
            return pictures, "real lossless samples: " + ", ".join(CONTENT_POOL)
    # Without the shared samples (CI): rsdata's synthetic aerial scenes (private renderer, the one the public
    # write_synthetic_dota draws with), so that the script runs anywhere; not a measurement of real content.
    from rsdata.synthetic import _render_image

    pictures = [_render_image(0, index, 1024)[0] for index in range(4)]
    return pictures, "SYNTHETIC scenes (rsdata.synthetic), no real samples found: figures are a smoke test only"


def cut(pool: Sequence, width: int, height: int, rng: np.random.Generator):
    """A ``width`` x ``height`` RGB picture of pool content: one crop when a pool picture is large enough, else a
    mosaic of ``PATCH``-px crops at random offsets, each flipped and turned at random."""
    from PIL import Image

    fits = [picture for picture in pool if picture.width >= width and picture.height >= height]
    if fits:
        picture = fits[int(rng.integers(len(fits)))]
        left = int(rng.integers(picture.width - width + 1))
        top = int(rng.integers(picture.height - height + 1))
        return picture.crop((left, top, left + width, top + height))
    canvas = Image.new("RGB", (width, height))
    for top in range(0, height, PATCH):
        for left in range(0, width, PATCH):
            picture = pool[int(rng.integers(len(pool)))]
            x = int(rng.integers(picture.width - PATCH + 1))
            y = int(rng.integers(picture.height - PATCH + 1))
            patch = picture.crop((x, y, x + PATCH, y + PATCH))
            turn = int(rng.integers(8))
            if turn:
                patch = patch.transpose(turn - 1)  # one of the 7 non-identity flips/turns (Image.Transpose 0-6)
            canvas.paste(patch, (left, top))
    return canvas


def encode(picture, file_format: str) -> bytes:
    buffer = io.BytesIO()
    if file_format == "JPEG":
        picture.save(buffer, "JPEG", quality=SOURCE_JPEG_QUALITY)
    elif file_format == "TIFF":
        picture.save(buffer, "TIFF")  # uncompressed, as UCM's and RSITMD's TIFs are
    else:
        picture.save(buffer, file_format)
    return buffer.getvalue()


@dataclass
class SourceImages:
    source: Source
    origin: str
    source_bytes: list[bytes]
    builds: dict[str, list[bytes]]


def source_images(source: Source, count: int, realdata: Path | None, pool: Sequence, seed: int) -> SourceImages:
    """``count`` distinct images of ``source``: real samples when the realdata folder has them, else cut from the
    pool and encoded in the publisher's format; with both builds' bytes."""
    real: list[Path] = []
    if realdata is not None:
        for pattern in source.real:
            real += sorted(realdata.glob(pattern))
    if real:
        paths = [real[index % len(real)] for index in range(min(count, len(real)))]
        originals = [path.read_bytes() for path in paths]
        origin = "real: " + ", ".join(sorted({str(path.relative_to(realdata)) for path in paths}))
    else:
        rng = np.random.default_rng([seed, sum(map(ord, source.name))])
        file_format = "PNG" if source.file_format == "frame" else source.file_format
        originals = [encode(cut(pool, *source.size, rng), file_format) for _ in range(count)]
        paths = [Path(f"{source.name}-{index}.{file_format.lower()}") for index in range(count)]
        origin = f"cut from the pool, {file_format}"
    builds = {"published": [published_bytes(source, path, data) for path, data in zip(paths, originals)],
              "ready": [training_ready_bytes(path, data) for path, data in zip(paths, originals)]}
    return SourceImages(source, origin, originals, builds)


def describe(data: bytes) -> str:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return f"{image.format} {image.width}x{image.height}"


# ------------------------------------------------------------------------------------------------------- timing

CLOCKS = {"cpu": time.process_time, "wall": time.perf_counter}


def seconds_per_image(augment: Callable, images: Sequence[bytes], min_seconds: float, min_calls: int,
                      clock: Callable[[], float] = time.process_time) -> float:
    """Mean seconds per call of ``augment(bytes, rng)`` over the images in turn, each call with sample ``k``'s
    generator as rsmodel's stream makes it; at least ``min_calls`` calls and ``min_seconds`` on ``clock``."""
    calls = 0
    start = clock()
    elapsed = 0.0
    while calls < min_calls or elapsed < min_seconds:
        augment(images[calls % len(images)], np.random.default_rng([0, 1, calls]))
        calls += 1
        elapsed = clock() - start
    return elapsed / calls


def load_augmentation(revision: str | None):
    """``CropFlipRotate`` of the working tree, or of ``rsmodel/data.py`` at git ``revision`` (loaded as a module of
    its own beside the current one, importing the current package's other modules)."""
    if revision is None:
        from rsmodel.data import CropFlipRotate

        return CropFlipRotate
    try:
        text = subprocess.run(["git", "-C", str(ROOT), "show", f"{revision}:rsmodel/data.py"], check=True,
                              capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        detail = getattr(error, "stderr", "") or str(error)
        raise SystemExit(f"--baseline {revision}: cannot read rsmodel/data.py at that revision in {ROOT}: "
                         f"{detail.strip()}") from None
    folder = Path(tempfile.mkdtemp(prefix="data-supply-baseline-"))
    path = folder / "rsmodel_data_baseline.py"
    path.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("rsmodel_data_baseline", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is created
    spec.loader.exec_module(module)
    return module.CropFlipRotate


def profile_stages(data: bytes, image_size: int = IMAGE_SIZE, repeats: int = 200) -> dict[str, float]:
    """Milliseconds (CPU time, best of 5 runs of ``repeats``) of each stage of CropFlipRotate on one image, with a
    fixed centre crop of 95 % of each side and no DCT scaling: decode, the resize by Pillow (``Image.resize``
    BICUBIC with a box, as up to 0d77562) and by torch (``rsmodel.data.resize_uint8``, now), the flip and quarter
    turn on Pillow images (then) and as array views (now), and the array conversion."""
    from PIL import Image

    from rsmodel.data import resize_uint8

    def best(step: Callable[[], object]) -> float:
        runs = []
        for _ in range(5):
            start = time.process_time()
            for _ in range(repeats):
                step()
            runs.append((time.process_time() - start) / repeats * 1e3)
        return min(runs)

    def decode():
        image = Image.open(io.BytesIO(data))
        image.load()
        return image.convert("RGB") if image.mode != "RGB" else image

    image = decode()
    width, height = image.size
    w, h = round(width * 0.95), round(height * 0.95)
    left, top = (width - w) // 2, (height - h) // 2
    small = image.resize((image_size, image_size), Image.BICUBIC, box=(left, top, left + w, top + h))
    pixels = np.asarray(small)
    return {"decode": best(decode),
            "resize (Pillow)": best(lambda: image.resize((image_size, image_size), Image.BICUBIC,
                                                         box=(left, top, left + w, top + h))),
            "resize (torch)": best(lambda: resize_uint8(np.asarray(image)[top:top + h, left:left + w], image_size)),
            "flip + turn (Pillow)": best(lambda: small.transpose(Image.FLIP_LEFT_RIGHT).transpose(Image.ROTATE_90)),
            "flip + turn (views)": best(lambda: np.rot90(pixels[:, ::-1], 1).transpose(2, 0, 1)),
            "to array": best(lambda: np.asarray(small, dtype=np.uint8).transpose(2, 0, 1))}


def table(images: Sequence[SourceImages], counts: Mapping[str, int], rates: Mapping[tuple[str, str, str], float],
          weighted: Mapping[tuple[str, str], float], baseline: str | None) -> str:
    """The printed table: a row per source and the weighted row; per build the stored image, its mean size and
    images/s (with a baseline: also its images/s and current / baseline)."""
    header = f"{'source':<15} {'group':<6} {'Table I':>7}"
    for build, title in (("published", "as published"), ("ready", "training-ready")):
        header += f" | {title:<16} {'KB':>6} {'img/s':>7}"
        if baseline:
            header += f" {'@' + baseline:>9} {'x':>5}"
    header += f" | {'ready/pub':>9}"
    lines = [header, "-" * len(header)]

    def cells(stored: str, kb: str, build: str, now: float, old: float | None) -> str:
        text = f" | {stored:<16} {kb:>6} {now:>7.1f}"
        if baseline:
            text += f" {old:>9.1f} {now / old:>4.2f}x"
        return text

    for item in images:
        name = item.source.name
        line = f"{name:<15} {item.source.group:<6} {item.source.count:>7,}"
        for build in BUILDS:
            kb = np.mean([len(data) for data in item.builds[build]]) / 1024
            line += cells(describe(item.builds[build][0]), f"{kb:.0f}", build, rates[(name, build, "current")],
                          rates.get((name, build, baseline)))
        line += f" | {rates[(name, 'ready', 'current')] / rates[(name, 'published', 'current')]:>8.2f}x"
        lines.append(line)
    line = f"{'weighted':<15} {'':<6} {sum(counts.values()):>7,}"
    for build in BUILDS:
        line += cells("", "", build, weighted[(build, "current")], weighted.get((build, baseline)))
    line += f" | {weighted[('ready', 'current')] / weighted[('published', 'current')]:>8.2f}x"
    lines.append(line)
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------------- main

def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sources", default=",".join(source.name for source in SOURCES),
                        help="comma-separated source names (default: all; weighting uses only these)")
    parser.add_argument("--images", type=int, default=3, help="distinct images per source (default 3)")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds, fastest kept (default 3)")
    parser.add_argument("--min-seconds", type=float, default=0.4, help="least time per round and pair (0.4)")
    parser.add_argument("--min-calls", type=int, default=3, help="least calls per round and pair (default 3)")
    parser.add_argument("--quick", action="store_true",
                        help="1 image, 1 round, 1 call per pair: checks that everything runs, measures nothing")
    parser.add_argument("--realdata", type=Path, default=REALDATA, help=f"real samples (default {REALDATA})")
    parser.add_argument("--baseline", metavar="REV", help="also time CropFlipRotate of git revision REV")
    parser.add_argument("--gpu-rate", type=float, default=GPU_RATE,
                        help=f"images/s one GPU trains on (default {GPU_RATE:,.0f}: ViT-B/32, one H100)")
    parser.add_argument("--usable-cores", type=int, default=USABLE_CORES,
                        help=f"cores of the node that feed it (default {USABLE_CORES} of 16)")
    parser.add_argument("--target", type=float, default=TARGET_PER_CORE,
                        help=f"target weighted training-ready images/s per core (default {TARGET_PER_CORE:.0f})")
    parser.add_argument("--cpu", type=int, help="pin the process to this CPU (Linux)")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="cpu",
                        help="cpu: the process's CPU time (default; what one core spends, whatever else runs on "
                             "the machine); wall: elapsed time (what this process got of a shared core)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated images (default 0)")
    parser.add_argument("--json", type=Path, help="also write the results to this JSON file")
    parser.add_argument("--profile", action="store_true",
                        help="also time each stage of the augmentation on each source's first training-ready image")
    args = parser.parse_args(argv)
    known = {source.name: source for source in SOURCES}
    names = [name.strip() for name in args.sources.split(",") if name.strip()]
    unknown = [name for name in names if name not in known]
    if unknown or not names:
        parser.error(f"unknown source(s) {', '.join(unknown) or '(none given)'}; known: {', '.join(known)}")
    args.selected = [known[name] for name in names]
    if args.quick:
        args.images, args.rounds, args.min_seconds, args.min_calls = 1, 1, 0.0, 1
    for name in ("images", "rounds", "min_calls"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be at least 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.cpu is not None:
        os.sched_setaffinity(0, {args.cpu})
    import torch

    torch.set_num_threads(1)
    import PIL

    from rsmodel.train_recipe import AugmentationSpec

    # The RemoteCLIP recipe's augmentation (recipes/train/remoteclip-vit-b-32.yaml), which is also the default.
    spec = AugmentationSpec(crop_scale=(0.9, 1.0), crop_ratio=(0.75, 1.3333333), horizontal_flip=0.5, rotate90=True)
    augmentations = {"current": load_augmentation(None)(IMAGE_SIZE, spec)}
    if args.baseline:
        augmentations[args.baseline] = load_augmentation(args.baseline)(IMAGE_SIZE, spec)
    realdata = args.realdata if args.realdata.is_dir() else None
    pool, pool_note = content_pool(realdata)

    started = time.perf_counter()
    images = [source_images(source, args.images, realdata, pool, args.seed) for source in args.selected]
    prepared_in = time.perf_counter() - started

    versions = ["current"] + ([args.baseline] if args.baseline else [])
    pairs = [(item.source.name, build, version) for item in images for build in BUILDS for version in versions]
    by_name = {item.source.name: item for item in images}
    best: dict[tuple[str, str, str], float] = {}
    for _ in range(args.rounds):
        for name, build, version in pairs:
            value = seconds_per_image(augmentations[version], by_name[name].builds[build], args.min_seconds,
                                      args.min_calls, CLOCKS[args.clock])
            best[(name, build, version)] = min(best.get((name, build, version), math.inf), value)

    counts = {source.name: source.count for source in args.selected}
    rates = {(name, build, version): 1 / seconds for (name, build, version), seconds in best.items()}
    weighted = {(build, version): weighted_rate({name: best[(name, build, version)] for name in counts}, counts)
                for build in BUILDS for version in versions}
    needed = required_per_core(args.gpu_rate, args.usable_cores)

    print(f"training data supply per core: CropFlipRotate({IMAGE_SIZE}, crop_scale 0.9-1.0, ratio 3/4-4/3, "
          f"flip 0.5, quarter turns), one process, one thread{'' if args.cpu is None else f', CPU {args.cpu}'}")
    print(f"python {platform.python_version()}, Pillow {PIL.__version__}, numpy {np.__version__}, torch "
          f"{torch.__version__}; {args.images} image(s) per source, best of {args.rounds} interleaved round(s) of "
          f">= {args.min_seconds} s and >= {args.min_calls} call(s) on the {args.clock} clock; images prepared in "
          f"{prepared_in:.1f} s")
    print(f"content of generated sources: {pool_note}")
    if args.quick:
        print("QUICK RUN: one call per pair; the rates below are not measurements")
    print(table(images, counts, rates, weighted, args.baseline))
    print("img/s: images per second on one core; weighted = sum(Table I count) / sum(count x seconds per image), "
          "one core's rate over one epoch of the corpus" + (f"; @{args.baseline}: CropFlipRotate as it was at "
                                                            f"{args.baseline}, x: current / that" if args.baseline
                                                            else ""))
    print(f"needed per core: {args.gpu_rate:,.0f} images/s (ViT-B/32 on one H100) / {args.usable_cores} usable cores "
          f"of a 16-core node = {needed:.0f} images/s; the issue's range 150-400, target {args.target:.0f}")
    ready, published = weighted[("ready", "current")], weighted[("published", "current")]
    verdict = "met" if ready >= args.target else "NOT met"
    print(f"training-ready: {ready:.0f} images/s per core = {ready / needed:.2f}x needed, target >= "
          f"{args.target:.0f}: {verdict}; as published: {published:.0f} images/s per core = {published / needed:.2f}x "
          f"needed")
    if args.profile:
        print("stages of CropFlipRotate on each source's first training-ready image, ms of CPU time (fixed centre "
              "crop of 95 %, no DCT scaling):")
        profiles = {item.source.name: profile_stages(item.builds["ready"][0]) for item in images}
        stages = list(next(iter(profiles.values())))
        print(f"  {'source':<15} {'stored':<14}" + "".join(f" {stage:>21}" for stage in stages))
        for item in images:
            print(f"  {item.source.name:<15} {describe(item.builds['ready'][0]):<14}"
                  + "".join(f" {profiles[item.source.name][stage]:>21.3f}" for stage in stages))
    print("assumptions:")
    for item in images:
        note = f"; {item.source.note}" if item.source.note else ""
        print(f"  {item.source.name}: {item.source.file_format} {item.source.size[0]}x{item.source.size[1]} as "
              f"published, {item.origin}{note}")
    if args.json:
        rows = [dict(source=item.source.name, group=item.source.group, count=item.source.count, origin=item.origin,
                     note=item.source.note,
                     stored={build: describe(item.builds[build][0]) for build in BUILDS},
                     kb={build: round(np.mean([len(data) for data in item.builds[build]]) / 1024, 1)
                         for build in BUILDS},
                     images_per_s={f"{build}@{version}": rates[(item.source.name, build, version)]
                                   for build in BUILDS for version in versions})
                for item in images]
        result = dict(rows=rows, weighted={f"{build}@{version}": value for (build, version), value in weighted.items()},
                      needed_per_core=needed, gpu_rate=args.gpu_rate, usable_cores=args.usable_cores,
                      clock=args.clock, target=args.target, quick=args.quick, content=pool_note)
        args.json.write_text(json.dumps(result, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
