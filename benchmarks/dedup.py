"""Speed of the multi-index bucket search (``rsdata.phash.HashIndex``) against a brute-force NumPy search, same run.

Hashes: ``--n`` (default 100,000) seeded random 64-bit values, of which ``--planted`` (default 2 %) are replaced by
near-copies of other hashes in the set: a third at distance 0, a third at 1, a third at 2 (2 is not a duplicate at
the paper's threshold), plus groups of 50 identical hashes (1 % of the set) as blank or repeated tiles give. A
second set of ``--n-test`` (default 10,000) "test" hashes holds near-copies of 1,000 of the first set.

Searches, each giving a sorted, duplicate-free set of (row, row, distance):

- self pairs (the corpus pass): ``HashIndex(h).self_pairs(d)`` against ``brute_force_pairs(h, None, d)``, which
  compares every hash with every later one, block by block (about 32 MiB of uint64 at a time);
- query (the test-set pass): ``HashIndex(test).query(h, d)`` against ``brute_force_pairs(h, test, d)``.

Both routes must find the same pairs (checked, the script exits non-zero otherwise). The bucket search is timed
``--repeats`` times and the fastest kept (index build included); brute force once (it is the slow side, and its
time varies little). Prints the times and the speed ratio brute force / bucket search.

With ``--images N`` it also times hashing itself on N generated ``--image-size`` JPEGs (``rsdata.synthetic``,
in a temporary folder): ``perceptual_hash`` per image against the floor of decoding the same bytes with Pillow
(``Image.open(...).load()``), fastest of ``--repeats`` interleaved passes; one process.

    python benchmarks/dedup.py [--n 100000] [--n-test 10000] [--max-distance 1] [--repeats 5] [--seed 0]
                               [--images 200 --image-size 800]
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from rsdata.phash import HashIndex, brute_force_pairs


def planted_hashes(n: int, planted_share: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2 ** 64, size=n, dtype=np.uint64)
    planted = int(n * planted_share)
    targets = rng.choice(n, size=planted, replace=False)
    sources = rng.integers(0, n, size=planted)
    for number, (target, source) in enumerate(zip(targets.tolist(), sources.tolist())):
        flips = number % 3  # distance 0, 1 or 2
        mask = sum(1 << int(bit) for bit in rng.choice(64, size=flips, replace=False))
        hashes[target] = hashes[source] ^ np.uint64(mask)
    groups = rng.choice(n, size=(n // 100 // 50, 50), replace=False)
    for group in groups:
        hashes[group] = hashes[group[0]]
    return hashes


def fastest(function, repeats: int):
    best, result = float("inf"), None
    for _ in range(repeats):
        started = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - started)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--n-test", type=int, default=10_000)
    parser.add_argument("--planted", type=float, default=0.02)
    parser.add_argument("--max-distance", type=int, default=1)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--images", type=int, default=0, help="also time hashing this many generated JPEGs")
    parser.add_argument("--image-size", type=int, default=800)
    args = parser.parse_args()

    hashes = planted_hashes(args.n, args.planted, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    test = rng.integers(0, 2 ** 64, size=args.n_test, dtype=np.uint64)
    copies = rng.choice(args.n, size=min(1000, args.n_test), replace=False)
    test[:copies.size] = hashes[copies] ^ (np.uint64(1) << rng.integers(0, 64, size=copies.size).astype(np.uint64))
    d = args.max_distance
    print(f"{args.n:,} hashes ({args.planted:.0%} planted near-copies at distance 0/1/2, groups of 50 equal "
          f"hashes), {args.n_test:,} test hashes; max_distance {d} (inclusive), {d + 1} chunks")

    failed = False
    for name, bucket, brute in (
            ("self pairs", lambda: HashIndex(hashes).self_pairs(d), lambda: brute_force_pairs(hashes, None, d)),
            ("query", lambda: HashIndex(test).query(hashes, d), lambda: brute_force_pairs(hashes, test, d))):
        bucket_seconds, bucket_pairs = fastest(bucket, args.repeats)
        brute_seconds, brute_pairs = fastest(brute, 1)
        same = bucket_pairs.as_set() == brute_pairs.as_set()
        failed |= not same
        print(f"{name:<10}  pairs {len(bucket_pairs):>9,}  bucket search {bucket_seconds * 1000:9.1f} ms  "
              f"brute force {brute_seconds:8.2f} s  ratio {brute_seconds / bucket_seconds:8.0f}x  "
              f"same pairs: {'yes' if same else 'NO'}")
    if args.images:
        time_hashing(args.images, args.image_size, args.repeats, args.seed)
    if failed:
        sys.exit("the bucket search and brute force found different pairs")


def time_hashing(count: int, size: int, repeats: int, seed: int) -> None:
    import io
    import tempfile
    from pathlib import Path

    from PIL import Image

    from rsdata.phash import perceptual_hash
    from rsdata.synthetic import write_synthetic_dota

    with tempfile.TemporaryDirectory() as folder:
        write_synthetic_dota(Path(folder) / "syn", num_images=count, image_size=size, splits={"train": 1.0},
                             seed=seed, image_format="jpeg")
        images = [p.read_bytes() for p in sorted((Path(folder) / "syn" / "train" / "images").iterdir())]

    def decode() -> None:
        for data in images:
            with Image.open(io.BytesIO(data)) as image:
                image.load()

    def hash_all() -> None:
        for data in images:
            perceptual_hash(data)

    best = {"decode": float("inf"), "hash": float("inf")}
    for _ in range(repeats):  # interleaved, so that a slow spell of the machine does not fall on one route
        for name, function in (("decode", decode), ("hash", hash_all)):
            started = time.perf_counter()
            function()
            best[name] = min(best[name], time.perf_counter() - started)
    kib = sum(map(len, images)) / len(images) / 1024
    print(f"hashing   {count} JPEGs of {size} x {size} ({kib:.0f} KiB each): Pillow decode "
          f"{best['decode'] / count * 1000:.2f} ms/img, perceptual_hash {best['hash'] / count * 1000:.2f} ms/img "
          f"({count / best['hash']:.0f} img/s per process), hash / decode time {best['hash'] / best['decode']:.2f}x")


if __name__ == "__main__":
    main()
