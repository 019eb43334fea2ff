"""Leakage check: how many transformed copies of test images each de-duplication rule catches, and how many
unrelated images it wrongly matches, with the index search checked against brute force.

Images ("test images"): the real photographs under ``--realdata`` (default ``../shared/realdata``; masks and
instance maps left out), each large one cut into non-overlapping 256 x 256 tiles, plus ``--generated`` (default
48) generated 256 x 256 DOTA-like JPEGs (``rsdata.synthetic``). Copies, one per test image and transform, hashed
with the training side's plain pHash: ``flip_h``, ``flip_v``, ``rot90``, ``rot180``, ``rot270``, ``transpose``
(lossless, saved as PNG), ``crop3`` and ``crop5`` (a window keeping 97 % or 95 % of each side at a seeded random
position, JPEG 95), ``jpeg70`` (re-encoded at quality 70) and ``half`` (0.5 x, Lanczos, PNG).

- recall: the share of copies whose test image the rule finds: ``paper``, pHash within 1 of the test image's pHash;
  ``robust``, within 4 of one of its 152 variant hashes (``rsdata.phash.variant_hashes``);
- false positives: every test image's own pHash (as a "training" image) against every OTHER test image, under each
  rule: the pairs of distinct images it would call duplicates (tiles of one scene count as unrelated).

Both searches run through ``HashIndex.query`` and through ``brute_force_pairs``; the script exits non-zero when
they differ. Prints the table and the time to hash each test image's variants against its plain pHash.

    python benchmarks/dedup_leakage.py [--realdata DIR] [--generated 48] [--seed 0]
"""

from __future__ import annotations

import argparse
import io
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from rsdata.dedup import ROBUST_MAX_DISTANCE
from rsdata.phash import VARIANTS, HashIndex, brute_force_pairs, perceptual_hash, variant_hashes

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff")
NOT_PHOTOGRAPHS = ("instance", "ann_dir", "shade")  # label masks, instance maps, a hillshade


def encode(image, fmt: str = "PNG", quality: int = 95) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **({"quality": quality} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def test_images(realdata: Path, generated: int, seed: int) -> tuple[list[bytes], int]:
    from PIL import Image

    tiles = []
    files = sorted(p for p in realdata.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES
                   and not any(word in str(p) for word in NOT_PHOTOGRAPHS))
    for file in files:
        image = Image.open(file).convert("RGB")
        width, height = image.size
        if min(width, height) < 512:
            tiles.append(encode(image))
            continue
        for top in range(0, height - 255, 256):
            for left in range(0, width - 255, 256):
                tiles.append(encode(image.crop((left, top, left + 256, top + 256))))
    real = len(tiles)
    if generated:
        from rsdata.synthetic import write_synthetic_dota

        with tempfile.TemporaryDirectory() as folder:
            write_synthetic_dota(Path(folder) / "syn", num_images=generated, image_size=256, splits={"train": 1.0},
                                 seed=seed, image_format="jpeg")
            tiles += [p.read_bytes() for p in sorted((Path(folder) / "syn" / "train" / "images").iterdir())]
    return tiles, real


def copies(data: bytes, rng: np.random.Generator) -> dict[str, bytes]:
    from PIL import Image

    image = Image.open(io.BytesIO(data)).convert("RGB")
    width, height = image.size

    def crop(share: float) -> bytes:
        keep_w, keep_h = round(width * (1 - share)), round(height * (1 - share))
        left, top = int(rng.integers(0, width - keep_w + 1)), int(rng.integers(0, height - keep_h + 1))
        return encode(image.crop((left, top, left + keep_w, top + keep_h)), "JPEG", 95)

    return {
        "flip_h": encode(image.transpose(Image.FLIP_LEFT_RIGHT)),
        "flip_v": encode(image.transpose(Image.FLIP_TOP_BOTTOM)),
        "rot90": encode(image.transpose(Image.ROTATE_90)),
        "rot180": encode(image.transpose(Image.ROTATE_180)),
        "rot270": encode(image.transpose(Image.ROTATE_270)),
        "transpose": encode(image.transpose(Image.TRANSPOSE)),
        "crop3": crop(0.03),
        "crop5": crop(0.05),
        "jpeg70": encode(image, "JPEG", 70),
        "half": encode(image.resize((width // 2, height // 2), Image.LANCZOS)),
    }


def search(index_hashes: np.ndarray, queries: np.ndarray, max_distance: int) -> tuple[set, bool]:
    """(query row, indexed row) pairs by the index, and whether brute force found the same."""
    by_index = HashIndex(index_hashes).query(queries, max_distance)
    by_brute_force = brute_force_pairs(queries, index_hashes, max_distance)
    return {(a, b) for a, b, _ in by_index.as_set()}, by_index.as_set() == by_brute_force.as_set()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--realdata", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "realdata")
    parser.add_argument("--generated", type=int, default=48)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.realdata.is_dir():
        sys.exit(f"no real samples in {args.realdata} (pass --realdata DIR)")

    images, real = test_images(args.realdata, args.generated, args.seed)
    n, k = len(images), len(VARIANTS)
    started = time.perf_counter()
    plain = np.array([perceptual_hash(data) for data in images], dtype=np.uint64)
    plain_seconds = time.perf_counter() - started
    started = time.perf_counter()
    variants = np.stack([variant_hashes(data) for data in images])  # n x 152
    variant_seconds = time.perf_counter() - started
    assert (variants[:, 0] == plain).all()

    rng = np.random.default_rng(args.seed)
    made = [copies(data, rng) for data in images]
    transforms = list(made[0])
    copy_hashes = {t: np.array([perceptual_hash(m[t]) for m in made], dtype=np.uint64) for t in transforms}

    rules = {"paper": (plain, 1, 1), "robust": (variants.reshape(-1), k, ROBUST_MAX_DISTANCE)}
    agree = True
    rows = []
    for transform in transforms:
        recall = {}
        for rule, (index_hashes, per_image, max_distance) in rules.items():
            pairs, same = search(index_hashes, copy_hashes[transform], max_distance)
            agree &= same
            caught = {query for query, flat in pairs if flat // per_image == query}
            recall[rule] = len(caught) / n
        rows.append((transform, recall))
    false_positives = {}
    for rule, (index_hashes, per_image, max_distance) in rules.items():
        pairs, same = search(index_hashes, plain, max_distance)
        agree &= same
        false_positives[rule] = len({(query, flat // per_image) for query, flat in pairs if flat // per_image != query})
    nearest = {}
    for rule, (index_hashes, per_image, _) in rules.items():
        distances = np.bitwise_count(plain[:, None, None] ^ index_hashes.reshape(n, per_image)[None, :, :]).min(axis=2)
        np.fill_diagonal(distances, 255)
        nearest[rule] = int(distances.min())

    print(f"{n} test images ({real} real photographs or 256 x 256 tiles of them from {args.realdata}, "
          f"{n - real} generated); one copy of each per transform")
    print(f"| copy | paper (pHash <= 1) | robust (152 variants, <= {ROBUST_MAX_DISTANCE}) |")
    print("|---|---:|---:|")
    for transform, recall in rows:
        print(f"| {transform} | {recall['paper']:.1%} | {recall['robust']:.1%} |")
    pairs = n * (n - 1)
    print(f"| false positives among {pairs:,} ordered pairs of distinct images | {false_positives['paper']} | "
          f"{false_positives['robust']} |")
    print(f"| nearest distinct pair (Hamming distance) | {nearest['paper']} | {nearest['robust']} |")
    print(f"index search and brute force found the same pairs: {'yes' if agree else 'NO'}")
    print(f"hashing: pHash {plain_seconds / n * 1000:.1f} ms/img, 152 variant hashes {variant_seconds / n * 1000:.1f} "
          f"ms/img ({variant_seconds / plain_seconds:.1f}x), one process")
    if not agree:
        sys.exit("the bucket search and brute force found different pairs")


if __name__ == "__main__":
    main()
