"""De-duplication by perceptual hash (rsdata.phash, rsdata.dedup, `rsdata dedup`): the bucket search against
brute force, the hash's stability, the removal rules, and the whole command on datasets built from generated DOTA
sources with planted near-duplicates."""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from rsdata import dedup
from rsdata.build import ConvertOptions, convert
from rsdata.cli import main
from rsdata.errors import OptionError, OutputFolderError, SourceLayoutError
from rsdata.phash import (DedupInputError, HashIndex, brute_force_pairs, chunk_layout, perceptual_hash,
                          popcount64)
from rsdata.synthetic import write_synthetic_dota
from tests.conftest import realdata, shard_path


def shard_name(folder: Path, split: str = "train") -> str:
    """The published shard's name relative to its dataset folder, as reports name it."""
    return shard_path(folder, split).relative_to(folder).as_posix()


def distance(a: int, b: int) -> int:
    return bin(a ^ b).count("1")


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def variants(data: bytes) -> dict[str, bytes]:
    """Re-encodings and slight resizes of an encoded image, in a fixed order."""
    image = Image.open(io.BytesIO(data))
    out = {f"jpeg{q}": jpeg(image, q) for q in (95, 85, 75)}
    for scale in (0.95, 0.9, 0.8):
        size = (round(image.width * scale), round(image.height * scale))
        out[f"resize{scale}"] = jpeg(image.resize(size, Image.BILINEAR), 90)
    return out


def variant_at(data: bytes, wanted: int) -> bytes:
    """The first of :func:`variants` whose hash lies exactly ``wanted`` bits from the original's."""
    original = perceptual_hash(data)
    for encoded in variants(data).values():
        if distance(original, perceptual_hash(encoded)) == wanted:
            return encoded
    raise AssertionError(f"no variant at distance {wanted}")


# ---------------------------------------------------------------------------------------------------------------
# The search


def random_hashes_with_planted_pairs(seed: int, n: int):
    """``n`` random hashes, then copies of some of them at distance 0, 1 and 2 and a crowd of 60 equal hashes."""
    rng = np.random.default_rng(seed)
    hashes = rng.integers(0, 2 ** 64, size=n, dtype=np.uint64)
    planted = {}
    extra = []
    for wanted in (0, 1, 2):
        for source in rng.choice(n, size=5, replace=False).tolist():
            bits = rng.choice(64, size=wanted, replace=False)
            flipped = int(hashes[source]) ^ sum(1 << int(b) for b in bits)
            planted[(source, n + len(extra))] = wanted
            extra.append(flipped)
    # A crowded bucket: the same high 32 bits, different low bits, plus exact repeats.
    high = int(hashes[0]) & 0xFFFFFFFF00000000
    extra += [high | int(v) for v in rng.integers(0, 2 ** 32, size=40)] + [int(hashes[1])] * 20
    return np.concatenate([hashes, np.array(extra, dtype=np.uint64)]), planted


@pytest.mark.parametrize("max_distance", [0, 1, 2, 3])
def test_index_finds_exactly_the_brute_force_pairs(max_distance):
    hashes, planted = random_hashes_with_planted_pairs(seed=max_distance, n=3000)
    index = HashIndex(hashes)
    self_pairs = index.self_pairs(max_distance)
    assert self_pairs.as_set() == brute_force_pairs(hashes, None, max_distance).as_set()
    assert np.all(self_pairs.left < self_pairs.right)
    assert np.all(np.diff(self_pairs.left * len(hashes) + self_pairs.right) > 0)  # sorted, no repeats
    for (a, b), wanted in planted.items():
        assert ((a, b, wanted) in self_pairs.as_set()) == (wanted <= max_distance)

    rng = np.random.default_rng(100 + max_distance)
    queries = np.concatenate([rng.integers(0, 2 ** 64, size=500, dtype=np.uint64),
                              hashes[:300] ^ np.uint64(1 << 40), hashes[:50] ^ np.uint64(0b101)])
    found = index.query(queries, max_distance)
    assert found.as_set() == brute_force_pairs(queries, hashes, max_distance).as_set()
    assert len(found) >= 300 * (max_distance >= 1) + 50 * (max_distance >= 2)


def test_the_paper_threshold_keeps_distance_two_apart():
    base = 0xF0F0_1234_5678_9ABC
    hashes = [base, base, base ^ 1, base ^ (1 << 63) ^ (1 << 62), 0]
    # Hash 3 lies 2 bits from hashes 0 and 1 (one bit in each 32-bit chunk): not a duplicate by "distance < 2".
    assert HashIndex(hashes).self_pairs(1).as_set() == {(0, 1, 0), (0, 2, 1), (1, 2, 1)}
    assert HashIndex(hashes).self_pairs(2).as_set() == {(0, 1, 0), (0, 2, 1), (1, 2, 1), (0, 3, 2), (1, 3, 2)}


def test_brute_force_agrees_with_a_plain_python_loop():
    rng = np.random.default_rng(5)
    a = rng.integers(0, 2 ** 64, size=120, dtype=np.uint64)
    a[7] = a[3] ^ np.uint64(1 << 17)
    a[9] = a[3]
    b = np.concatenate([a[:40] ^ np.uint64(3), rng.integers(0, 2 ** 64, size=30, dtype=np.uint64)])
    naive_self = {(i, j, distance(int(a[i]), int(a[j]))) for i, j in itertools.combinations(range(len(a)), 2)
                  if distance(int(a[i]), int(a[j])) <= 2}
    naive_cross = {(i, j, distance(int(a[i]), int(b[j]))) for i in range(len(a)) for j in range(len(b))
                   if distance(int(a[i]), int(b[j])) <= 2}
    assert brute_force_pairs(a, None, 2).as_set() == naive_self and naive_self
    assert brute_force_pairs(a, b, 2).as_set() == naive_cross and len(naive_cross) >= 40


def test_chunks_cover_every_bit_once_and_popcount_without_numpy_2(monkeypatch):
    for chunks in range(1, 9):
        layout = chunk_layout(chunks)
        assert len(layout) == chunks
        bits = sorted(bit for shift, width in layout for bit in range(shift, shift + width))
        assert bits == list(range(64))
        assert max(w for _, w in layout) - min(w for _, w in layout) <= 1
    assert chunk_layout(2) == [(32, 32), (0, 32)]  # the default max_distance=1
    values = np.array([0, 1, 2 ** 64 - 1, 0x8000_0000_0000_0001, 0x0F0F], dtype=np.uint64)
    expected = [0, 1, 64, 2, 8]
    assert popcount64(values).tolist() == expected
    monkeypatch.delattr(np, "bitwise_count")  # the byte-table route of NumPy < 2
    assert popcount64(values).tolist() == expected


def test_bad_arguments_are_refused():
    with pytest.raises(OptionError, match="max-distance must be an integer from 0 to 7"):
        HashIndex([1, 2]).self_pairs(8)
    with pytest.raises(OptionError, match="max-distance"):
        HashIndex([1, 2]).query([1], -1)
    with pytest.raises(OptionError, match="unsigned 64-bit"):
        HashIndex([-1])
    with pytest.raises(OptionError, match="flat"):
        HashIndex(np.zeros((2, 2), dtype=np.uint64))


# ---------------------------------------------------------------------------------------------------------------
# The hash


@pytest.fixture(scope="module")
def generated_images(tmp_path_factory) -> list[bytes]:
    root = tmp_path_factory.mktemp("phash") / "syn"
    write_synthetic_dota(root, num_images=16, image_size=128, splits={"train": 1.0}, seed=11, image_format="jpeg")
    return [p.read_bytes() for p in sorted((root / "train" / "images").iterdir())]


def test_hash_is_imagehash_phash_with_documented_bit_order(generated_images):
    import imagehash

    for data in generated_images[:4]:
        value = perceptual_hash(data)
        reference = imagehash.phash(Image.open(io.BytesIO(data)), hash_size=8)
        assert value == int(str(reference), 16) and f"{value:016x}" == str(reference)
        bits = reference.hash.flatten()
        assert bool(value >> 63) == bool(bits[0]) and bool(value & 1) == bool(bits[-1])
        assert 0 <= value < 2 ** 64
        # Median threshold over 64 coefficients: 32 bits set, so distances between hashes are even.
        assert bin(value).count("1") == 32


def test_hash_is_stable_under_reencoding_and_differs_between_images(generated_images):
    hashes = [perceptual_hash(data) for data in generated_images]
    assert min(distance(a, b) for a, b in itertools.combinations(hashes, 2)) >= 10
    moved: dict[str, list[int]] = {}
    for data, value in zip(generated_images, hashes):
        for name, encoded in variants(data).items():
            moved.setdefault(name, []).append(distance(value, perceptual_hash(encoded)))
    # Each re-encoding or slight resize keeps the hash of most images exactly (so the paper's "distance < 2"
    # catches them), moves the others by 2 bits at most; distinct images lie 10 bits apart or more.
    for name, distances in moved.items():
        assert distances.count(0) >= 0.6 * len(distances), name
        assert set(distances) <= {0, 2}, name


def test_hash_of_real_aerial_images():
    folder = realdata("scene_classification") / "AID"
    files = sorted(folder.glob("*/*.jpg"))
    assert len(files) == 10
    hashes = [perceptual_hash(f.read_bytes()) for f in files]
    assert min(distance(a, b) for a, b in itertools.combinations(hashes, 2)) >= 10
    for file, value in zip(files, hashes):
        assert all(distance(value, perceptual_hash(v)) <= 2 for v in variants(file.read_bytes()).values())


def test_undecodable_bytes_name_the_image():
    with pytest.raises(DedupInputError, match="shard.parquet, row 3: the image cannot be decoded"):
        perceptual_hash(b"\xff\xd8\xff not really a jpeg", where="shard.parquet, row 3")


# ---------------------------------------------------------------------------------------------------------------
# Datasets with planted near-duplicates


POOL_SIZE = 24


@pytest.fixture(scope="module")
def planted(tmp_path_factory) -> dict:
    """Three datasets built by ``rsdata.build.convert`` from generated DOTA sources:

    - alpha (training, first priority): train = pool images 0-9; val = 10, 11 and ``copy_of_00001`` (a byte copy
      of alpha's own train image 1: removed, in corpus, matching alpha train 1);
    - beta (training): train = pool images 12-19, ``dup_of_00002`` (re-encoded alpha 2, same hash: removed in
      corpus), ``copy_of_00003`` (byte copy of alpha 3: removed in corpus), ``copy_of_00005`` (byte copy of alpha
      5, which is also in the test set: removed as of test, rule 1 first) and ``near_00007`` (a re-encoding of
      alpha 7 whose hash is 2 bits away: kept);
    - testset: test = pool images 20-23, ``resized_00005`` (a resized alpha 5, same hash: alpha 5 goes) and
      ``reencoded_00013`` (beta 13 re-encoded, same hash: beta 13 goes).
    """
    root = tmp_path_factory.mktemp("planted")
    write_synthetic_dota(root / "pool", num_images=POOL_SIZE, image_size=96, splits={"train": 1.0}, seed=7,
                         image_format="jpeg")
    pool_images = root / "pool" / "train" / "images"
    pool = {p.stem: p.read_bytes() for p in sorted(pool_images.iterdir())}
    hashes = [perceptual_hash(data) for data in pool.values()]
    # Precondition of the expected counts: no two pool images are near-duplicates by chance.
    assert min(distance(a, b) for a, b in itertools.combinations(hashes, 2)) > 2

    def put(source: str, split: str, stem: str, pool_stem: str | None = None, data: bytes | None = None) -> None:
        pool_stem = pool_stem or stem
        (root / source / split / "images").mkdir(parents=True, exist_ok=True)
        (root / source / split / "labelTxt").mkdir(parents=True, exist_ok=True)
        (root / source / split / "images" / f"{stem}.jpg").write_bytes(data if data is not None else pool[pool_stem])
        shutil.copy(root / "pool" / "train" / "labelTxt" / f"{pool_stem}.txt",
                    root / source / split / "labelTxt" / f"{stem}.txt")

    for i in range(10):
        put("alpha", "train", f"syn_{i:05d}")
    for stem in ("syn_00010", "syn_00011"):
        put("alpha", "val", stem)
    put("alpha", "val", "copy_of_00001", "syn_00001")
    for i in range(12, 20):
        put("beta", "train", f"syn_{i:05d}")
    put("beta", "train", "dup_of_00002", "syn_00002", variant_at(pool["syn_00002"], 0))
    put("beta", "train", "copy_of_00003", "syn_00003")
    put("beta", "train", "copy_of_00005", "syn_00005")
    put("beta", "train", "near_00007", "syn_00007", variant_at(pool["syn_00007"], 2))
    for i in range(20, 24):
        put("testset", "test", f"syn_{i:05d}")
    resized = Image.open(io.BytesIO(pool["syn_00005"]))
    resized_bytes = jpeg(resized.resize((86, 86), Image.BILINEAR), 90)
    assert perceptual_hash(resized_bytes) == hashes[5]  # a planted duplicate must be one by the paper's rule
    put("testset", "test", "resized_00005", "syn_00005", resized_bytes)
    put("testset", "test", "reencoded_00013", "syn_00013", variant_at(pool["syn_00013"], 0))

    datasets = {}
    for name in ("alpha", "beta", "testset"):
        datasets[name] = root / "built" / name
        convert("dota", root / name, datasets[name], ConvertOptions(progress=False, source_name=name))
    return datasets


EXPECTED_REMOVALS = {
    # (source, source_id): (reason, matched source, matched source_id, distance)
    ("alpha", "syn_00005"): ("near_duplicate_of_test", "testset", "resized_00005", 0),
    ("alpha", "copy_of_00001"): ("near_duplicate_in_corpus", "alpha", "syn_00001", 0),
    ("beta", "syn_00013"): ("near_duplicate_of_test", "testset", "reencoded_00013", 0),
    ("beta", "dup_of_00002"): ("near_duplicate_in_corpus", "alpha", "syn_00002", 0),
    ("beta", "copy_of_00003"): ("near_duplicate_in_corpus", "alpha", "syn_00003", 0),
    ("beta", "copy_of_00005"): ("near_duplicate_of_test", "testset", "resized_00005", 0),
}


def files_of(folder: Path, *, with_state: bool = False) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and (with_state or ".rsdata" not in p.parts)}


def run_dedup(planted: dict, out: Path, *extra: str) -> int:
    return main(["dedup", f"alpha={planted['alpha']}", f"beta={planted['beta']}",
                 "--against", f"testset={planted['testset']}", "--out", str(out), "--no-progress",
                 *(extra if "--rule" in extra else ("--rule", "paper", *extra))])


def test_dedup_command_end_to_end(planted, tmp_path, capsys):
    import datasets

    test_before = files_of(planted["testset"])
    out = tmp_path / "out"
    assert run_dedup(planted, out) == 0
    printed = capsys.readouterr().out
    assert ("De-duplicated 25 training image(s) from 2 source(s) against 6 test image(s) from 1 set(s) (pHash, "
            "Hamming distance <= 1): removed 6 (near_duplicate_of_test 3, near_duplicate_in_corpus 3), kept 19."
            ) in printed

    report = json.loads((out / "dedup_report.json").read_text())
    found = {(r["source"], r["source_id"]): (r["reason"], r["match"]["source"], r["match"]["source_id"],
                                             r["distance"]) for r in report["removed_images"]}
    assert found == EXPECTED_REMOVALS
    assert report["removed_per_reason"] == {"near_duplicate_of_test": 3, "near_duplicate_in_corpus": 3}
    assert [(t["name"], t["rows"], t["kept"]) for t in report["training"]] == [("alpha", 13, 11), ("beta", 12, 8)]
    first = report["removed_images"][0]  # priority order: alpha train before alpha validation before beta
    assert (first["source"], first["split"], first["shard"], first["row"], first["path"]) == (
        "alpha", "train", shard_name(planted["alpha"]), 5, "train/images/syn_00005.jpg")
    assert first["match"]["path"] == "test/images/resized_00005.jpg" and first["phash"] == first["match"]["phash"]

    # The test set is untouched (its hashes are cached beside it, in .rsdata/).
    assert files_of(planted["testset"]) == test_before

    kept_ids = {}
    for name, splits in (("alpha", {"train": 9, "validation": 2}), ("beta", {"train": 8})):
        copy = datasets.load_dataset(str(out / name), cache_dir=str(tmp_path / "hf"))
        assert {split: len(rows) for split, rows in copy.items()} == splits
        kept_ids[name] = {i for split in copy.values() for i in split["source_id"]}
        assert copy["train"].features == datasets.load_dataset(
            str(planted[name]), cache_dir=str(tmp_path / "hf"))["train"].features
        own = json.loads((out / name / "dedup_report.json").read_text())
        assert {(r["source"], r["source_id"]) for r in own["removed_images"]} == {
            key for key in EXPECTED_REMOVALS if key[0] == name}
        assert own["rows_after"] == sum(splits.values())
        card = (out / name / "README.md").read_text()
        assert f"# {name} (rsdata, b2c/1), de-duplicated" in card and "| near_duplicate_of_test |" in card
        assert (out / name / "build_report.json").read_bytes() == (planted[name] / "build_report.json").read_bytes()
    assert kept_ids["alpha"] == {f"syn_{i:05d}" for i in range(12) if i != 5}
    assert kept_ids["beta"] == {f"syn_{i:05d}" for i in range(12, 20) if i != 13} | {"near_00007"}

    # Rows that stay are the source's rows, byte for byte, in order.
    source_rows = pq.read_table(shard_path(planted["beta"])).to_pylist()
    copy_rows = pq.read_table(shard_path(out / "beta")).to_pylist()
    assert copy_rows == [r for r in source_rows if ("beta", r["source_id"]) not in EXPECTED_REMOVALS]


def test_reruns_give_identical_bytes_whatever_the_processes(planted, tmp_path):
    def hash_caches() -> dict[str, bytes]:
        caches = {}
        for name, folder in planted.items():
            cache = folder / ".rsdata" / "phash"
            caches.update({f"{name}/{k}": v for k, v in files_of(cache, with_state=True).items()})
            shutil.rmtree(cache, ignore_errors=True)  # the next run hashes everything again
        return caches

    first, second = tmp_path / "first", tmp_path / "second"
    hash_caches()
    assert run_dedup(planted, first) == 0
    caches_one_process = hash_caches()
    assert run_dedup(planted, second, "--num-proc", "2") == 0
    assert hash_caches() == caches_one_process and len(caches_one_process) == 4
    assert files_of(first, with_state=True) == files_of(second, with_state=True)
    assert run_dedup(planted, first) == 0  # again into its own earlier output
    assert files_of(first, with_state=True) == files_of(second, with_state=True)


def test_hashes_are_cached_per_shard_and_a_rebuilt_shard_is_hashed_again(planted, tmp_path, monkeypatch):
    sides = [("alpha", planted["alpha"]), ("beta", planted["beta"])]
    tests = [("testset", planted["testset"])]
    reference = dedup.find_duplicates(sides, tests, rule="paper", progress=False)
    cache = planted["alpha"] / ".rsdata" / "phash"
    assert sorted(p.name.split(".")[0] for p in cache.glob("*.npy")) == [
        shard_path(planted["alpha"], "train").stem, shard_path(planted["alpha"], "validation").stem]
    calls = []

    def counting_hash(data, *, where="image"):
        calls.append(where)
        return perceptual_hash(data, where=where)

    monkeypatch.setattr(dedup, "perceptual_hash", counting_hash)
    again = dedup.find_duplicates(sides, tests, rule="paper", progress=False)
    assert calls == [] and again.removals == reference.removals

    # A rebuilt shard (here: same bytes, new modification time) is hashed again, and only it.
    shard = shard_path(planted["beta"])
    stat = shard.stat()
    import os

    os.utime(shard, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    third = dedup.find_duplicates(sides, tests, rule="paper", progress=False)
    assert len(calls) == 12 and all(w.startswith(f"beta: {shard_name(planted['beta'])}, row ") for w in calls)
    assert third.removals == reference.removals
    assert len(list((planted["beta"] / ".rsdata" / "phash").glob("train-*.npy"))) == 1  # the stale one is gone


def test_greedy_rule_matches_a_row_by_row_oracle():
    """The value-level greedy (used so that many copies cost no quadratic pairs) equals the plain rule."""
    rng = np.random.default_rng(3)
    base = rng.integers(0, 2 ** 64, size=40, dtype=np.uint64)
    picks = rng.integers(0, 40, size=300)
    flips = rng.choice([0, 0, 1, 1 << 9, 1 << 40, 3], size=300).astype(np.uint64)
    hashes = base[picks] ^ flips
    for max_distance in (0, 1, 2):
        kept: list[int] = []
        expected = []
        for row, value in enumerate(hashes.tolist()):
            near = [(distance(value, int(hashes[k])), k) for k in kept
                    if distance(value, int(hashes[k])) <= max_distance]
            if near:
                best_distance, best = min(near)
                expected.append((row, best, best_distance))
            else:
                kept.append(row)
        assert dedup._greedy_in_corpus(hashes, max_distance) == expected


def test_library_sides_with_splits_and_write_filtered_shards(planted, tmp_path):
    # Only alpha's validation split takes part: its copy of a train image is no longer a duplicate of anything.
    result = dedup.find_duplicates([("alpha", planted["alpha"], ("validation",)), ("beta", planted["beta"])],
                                   [dedup.DatasetSide("testset", planted["testset"], ("test",))], rule="paper",
                                   progress=False)
    assert result.rows == {"alpha": 3, "beta": 12, "testset": 6}
    assert {(r.source, r.image.source_id, r.reason) for r in result.removals} == {
        ("beta", "syn_00013", "near_duplicate_of_test"), ("beta", "copy_of_00005", "near_duplicate_of_test")}
    removal = result.removals[0]
    assert (removal.split, removal.image_path, removal.match_source, removal.match_image_path) == (
        "train", "train/images/copy_of_00005.jpg", "testset", "test/images/resized_00005.jpg")

    flat = tmp_path / "flat"
    counts = dedup.write_filtered_shards(planted["beta"], result.removals_for("beta"), flat, progress=False)
    assert counts == {"train": {"rows_before": 12, "removed": 2, "rows_after": 10}}
    assert sorted(p.name for p in flat.iterdir()) == ["train-00000-of-00001.parquet"]
    # A shard that loses no row is copied byte for byte.
    untouched = dedup.write_filtered_shards(planted["alpha"], [], tmp_path / "alpha", progress=False)
    assert untouched["validation"] == {"rows_before": 3, "removed": 0, "rows_after": 3}
    for split in ("train", "validation"):  # staged without the source build's digest
        assert (tmp_path / "alpha" / f"{split}-00000-of-00001.parquet").read_bytes() == \
            shard_path(planted["alpha"], split).read_bytes()
    report = dedup.removals_report(result.removals, result.max_distance, rule=result.rule)
    assert report["removed"] == 2 and report["removed_per_reason"]["near_duplicate_of_test"] == 2

    # A removal decided on other data is refused rather than applied to the wrong row.
    moved = dedup.Removal(dedup.ImageRef("beta", "train", shard_name(planted["beta"]), 0, "not-this-one",
                                         None, "0" * 16), "near_duplicate_in_corpus", removal.match, 0)
    with pytest.raises(DedupInputError, match="row 0: source_id is 'copy_of_00003' but the removal was decided"):
        dedup.write_filtered_shards(planted["beta"], [moved], tmp_path / "other", progress=False)


def test_bad_input_and_output_folders(planted, tmp_path, capsys):
    # An incomplete split (a shard missing) is refused, naming it.
    broken = tmp_path / "broken"
    shutil.copytree(planted["alpha"], broken)
    only = shard_path(broken)
    only.rename(only.with_name(only.name.replace("-of-00001-", "-of-00002-")))
    with pytest.raises(SourceLayoutError, match=r"split 'train' is incomplete or mixed: .*missing \[1\]"):
        dedup.list_shards(broken)
    with pytest.raises(SourceLayoutError, match="holds no data/ folder"):
        dedup.list_shards(tmp_path)
    with pytest.raises(OptionError, match="no split 'test'; it has train, validation"):
        dedup.list_shards(planted["alpha"], ["test"])

    # Not an empty folder nor an earlier output: refused before any hashing, nothing written.
    occupied = tmp_path / "occupied"
    (occupied / "alpha").mkdir(parents=True)
    (occupied / "alpha" / "notes.txt").write_text("mine")
    assert run_dedup(planted, occupied) == 1
    assert "output folder" in capsys.readouterr().err and sorted(files_of(occupied)) == ["alpha/notes.txt"]
    with pytest.raises(OutputFolderError, match="must lie outside the dataset"):
        dedup.write_deduplicated(planted["beta"], [], planted["beta"] / "copy")

    assert run_dedup(planted, tmp_path / "o", "--max-distance", "9") == 2
    assert "--max-distance must be an integer from 0 to 7" in capsys.readouterr().err
    assert main(["dedup", str(planted["alpha"]), f"alpha={planted['beta']}", "--against", str(planted["testset"]),
                 "--out", str(tmp_path / "o"), "--no-progress"]) == 2
    assert "dataset names must be unique, alpha repeat" in capsys.readouterr().err


def test_corrupt_image_in_a_shard_names_shard_and_row(planted, tmp_path):
    import pyarrow as pa

    damaged = tmp_path / "damaged"
    shutil.copytree(planted["testset"], damaged, ignore=shutil.ignore_patterns(".rsdata"))
    shard = shard_path(damaged, "test")
    table = pq.read_table(shard)
    images = table.column("image").to_pylist()
    images[2] = {"bytes": images[2]["bytes"][:200], "path": images[2]["path"]}
    column = pa.array(images, type=table.schema.field("image").type)
    pq.write_table(table.set_column(table.schema.get_field_index("image"), "image", column), shard)
    with pytest.raises(DedupInputError, match=rf"testset: {shard_name(damaged, 'test')}, row 2: the image "
                                              "cannot be decoded"):
        dedup.find_duplicates([("alpha", planted["alpha"])], [("testset", damaged)], progress=False)


def big_shard_with_removals(planted, tmp_path, count: int, dropped):
    """A one-shard dataset ``tmp_path/big`` of ``count`` rows (the planted rows repeated, row groups of
    ROW_GROUP_SIZE), its table, and removals of the rows ``dropped`` as the de-duplication would decide them."""
    from rsdata.schema import ROW_GROUP_SIZE

    table = pq.read_table(shard_path(planted["beta"]))
    rows = table.take(np.arange(count) % table.num_rows)
    big = tmp_path / "big"
    (big / "data").mkdir(parents=True)
    pq.write_table(rows, big / "data/train-00000-of-00001.parquet", row_group_size=ROW_GROUP_SIZE)
    source_ids = rows.column("source_id").to_pylist()
    removals = [dedup.Removal(dedup.ImageRef("big", "train", "data/train-00000-of-00001.parquet", row,
                                             source_ids[row], None, "0" * 16), "near_duplicate_in_corpus",
                              dedup.ImageRef("big", "train", "x", 0, None, None, "0" * 16), 0) for row in dropped]
    return big, rows, removals


def test_output_shards_keep_schema_metadata_and_row_groups(planted, tmp_path):
    # A bigger shard: 250 rows in row groups of 100, written through the library with a few rows removed.
    dropped = [0, 99, 100, 101, 249]
    big, rows, removals = big_shard_with_removals(planted, tmp_path, 250, dropped)
    source_ids = rows.column("source_id").to_pylist()
    report = dedup.write_deduplicated(big, removals, tmp_path / "out", progress=False)
    assert report["rows_before"] == 250 and report["rows_after"] == 245 and report["source"] == "big"
    written = pq.ParquetFile(shard_path(tmp_path / "out"))
    assert [written.metadata.row_group(i).num_rows for i in range(written.metadata.num_row_groups)] == [100, 100, 45]
    assert written.schema_arrow.equals(rows.schema, check_metadata=True)
    assert written.read().column("source_id").to_pylist() == [s for i, s in enumerate(source_ids)
                                                              if i not in dropped]
    digest = hashlib.sha256(shard_path(tmp_path / "out").read_bytes()).hexdigest()
    dedup.write_deduplicated(big, removals, tmp_path / "out", progress=False)
    assert hashlib.sha256(shard_path(tmp_path / "out").read_bytes()).hexdigest() == digest


def test_a_rewritten_output_loads_afresh_and_an_emptied_split_is_left_out(planted, tmp_path):
    import datasets

    folder = planted["alpha"]
    out = tmp_path / "copy"
    dedup.write_deduplicated(folder, [], out, progress=False)
    before = datasets.load_dataset(str(out))  # the default cache, as a user reads it
    assert {split: len(rows) for split, rows in before.items()} == {"train": 10, "validation": 3}

    # Every validation row removed: the second output has no validation split (no 0-row file, which datasets
    # refuses), and loading the same folder again returns the new rows, not the cached earlier ones.
    ids, _ = dedup.read_ids_and_paths(shard_path(folder, "validation"))
    match = dedup.ImageRef("alpha", "train", shard_name(folder), 0, None, None, "0" * 16)
    removals = [dedup.Removal(dedup.ImageRef("alpha", "validation", shard_name(folder, "validation"), row, source_id,
                                             None, "0" * 16), "near_duplicate_in_corpus", match, 0)
                for row, source_id in enumerate(ids)]
    report = dedup.write_deduplicated(folder, removals, out, progress=False)
    assert report["splits"]["validation"] == {"rows_before": 3, "removed": 3, "rows_after": 0}
    after = datasets.load_dataset(str(out))
    assert {split: len(rows) for split, rows in after.items()} == {"train": 10}
    assert [p.name.split("-")[0] for p in sorted((out / "data").iterdir())] == ["train"]


# ---------------------------------------------------------------------------------------------------------------
# Rule robust: flipped, rotated, cropped copies of test images


def crop_share(image: Image.Image, share: float, corner: str = "nw") -> Image.Image:
    """A window keeping ``1 - share`` of each side, at a corner ("nw") or centred ("c")."""
    width, height = image.size
    keep_w, keep_h = round(width * (1 - share)), round(height * (1 - share))
    left, top = ((width - keep_w) // 2, (height - keep_h) // 2) if corner == "c" else (0, 0)
    return image.crop((left, top, left + keep_w, top + keep_h))


COPIES = {  # name -> (how the copy is made from the test image, the variant named in the report)
    "flip_h": (lambda im: im.transpose(Image.FLIP_LEFT_RIGHT), "flip_h"),
    "rot90": (lambda im: im.transpose(Image.ROTATE_90), "rot90"),
    "rot270": (lambda im: im.transpose(Image.ROTATE_270), "rot270"),
    "transpose": (lambda im: im.transpose(Image.TRANSPOSE), "transpose"),
    "crop4_rot180": (lambda im: crop_share(im, 0.04).transpose(Image.ROTATE_180), "rot180"),
}


def test_variant_hashes_name_the_transform_of_real_copies():
    from rsdata.phash import CROP_WINDOWS, DIHEDRAL_TRANSFORMS, VARIANTS, variant_hashes

    assert len(VARIANTS) == 152 == len(CROP_WINDOWS) * len(DIHEDRAL_TRANSFORMS) and VARIANTS[0] == ("full", "identity")
    files = sorted((realdata("scene_classification") / "AID").glob("*/*.jpg"))
    for file in files:
        data = file.read_bytes()
        hashes = variant_hashes(data)
        assert hashes.dtype == np.uint64 and hashes.shape == (152,) and int(hashes[0]) == perceptual_hash(data)
        original = Image.open(io.BytesIO(data))
        for name, (make, transform) in COPIES.items():
            copy = perceptual_hash(jpeg(make(original), 95))
            distances = [distance(copy, int(h)) for h in hashes]
            # The paper's rule misses the copy; one of the image's variants, the right transform, is within 4.
            assert distance(copy, perceptual_hash(data)) > 1, (file.name, name)
            best = int(np.argmin(distances))
            assert distances[best] <= dedup.ROBUST_MAX_DISTANCE and VARIANTS[best][1] == transform, (file.name, name)
    # A large image's windows are cut from a reduced copy; its whole-image hash stays exact.
    big = realdata("loveda_masks") / "img_dir" / "0.png"
    assert int(variant_hashes(big.read_bytes())[0]) == perceptual_hash(big.read_bytes())


@pytest.fixture(scope="module")
def leaky(tmp_path_factory) -> dict:
    """Real AID images as class folders: ``testset`` holds five of them (test split), ``trainset`` the other five
    plus, for each of :data:`COPIES`, a copy of one test image made that way (JPEG 95)."""
    files = sorted((realdata("scene_classification") / "AID").glob("*/*.jpg"))
    root = tmp_path_factory.mktemp("leaky")
    expected = {}
    for number, file in enumerate(files):
        split = "test" if number < 5 else "train"
        (root / split / file.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(file, root / split / file.parent.name / file.name)
    for file, (name, (make, transform)) in zip(files[:5], COPIES.items()):
        target = root / "train" / file.parent.name / f"{name}_of_{file.name}"
        target.parent.mkdir(exist_ok=True)
        target.write_bytes(jpeg(make(Image.open(file)), 95))
        expected[target.name] = (file.name, transform)
    datasets = {}
    for name, split in (("trainset", "train"), ("testset", "test")):
        (root / name).mkdir()
        shutil.copytree(root / split, root / name / split)
        datasets[name] = root / "built" / name
        convert("class_folders", root / name, datasets[name], ConvertOptions(progress=False, source_name=name))
    return {**datasets, "expected": expected}


def test_robust_rule_removes_flipped_rotated_and_cropped_copies_through_the_cli(leaky, tmp_path, capsys):
    def run(out: Path, *extra: str) -> dict:
        assert main(["dedup", f"trainset={leaky['trainset']}", "--against", f"testset={leaky['testset']}",
                     "--out", str(out), "--no-progress", *extra]) == 0
        return json.loads((out / "dedup_report.json").read_text())

    paper = run(tmp_path / "paper", "--rule", "paper")
    assert paper["dedup_rule"] == "paper" and paper["removed"] == 0 and paper["test_max_distance"] == 1
    assert "Rule `paper` (RemoteCLIP's)" in (tmp_path / "paper" / "trainset" / "README.md").read_text()
    capsys.readouterr()

    robust = run(tmp_path / "robust")  # the default rule
    printed = capsys.readouterr().out
    assert robust["dedup_rule"] == "robust" and robust["test_max_distance"] == dedup.ROBUST_MAX_DISTANCE
    assert robust["rule"] == dedup.RULES["robust"]
    found = {Path(r["path"]).name: (Path(r["match"]["path"]).name, r["match_transform"])
             for r in robust["removed_images"]}
    assert found == leaky["expected"]
    assert all(r["reason"] == "near_duplicate_of_test" and r["distance"] <= 4 for r in robust["removed_images"])
    assert robust["removed_per_transform"] == {
        "identity": 0, "flip_h": 1, "flip_v": 0, "rot90": 1, "rot180": 1, "rot270": 1, "transpose": 1,
        "transverse": 0}
    windows = robust["removed_per_window"]  # the four uncropped copies match whole-image variants
    assert set(windows) == {"full", "crop3", "crop5"} and windows["full"] == 4 and sum(windows.values()) == 5
    assert "rule robust" in printed and "near_duplicate_of_test by matched variant: flip_h 1" in printed
    card = (tmp_path / "robust" / "trainset" / "README.md").read_text()
    assert "Rule `robust`" in card and "| rot90 | 1 |" in card
    own = json.loads((tmp_path / "robust" / "trainset" / "dedup_report.json").read_text())
    assert own["dedup_rule"] == "robust" and own["removed"] == 5 and own["rows_after"] == own["rows_before"] - 5
    # The test set's variant hashes are cached beside its plain ones, under their own key.
    cache = sorted(p.name for p in (leaky["testset"] / ".rsdata" / "phash").glob("*.npy"))
    assert len(cache) == 2 and sum(".variants." in name for name in cache) == 1

    # Same bytes from a rerun with a cold cache and two processes.
    shutil.rmtree(leaky["testset"] / ".rsdata" / "phash")
    run(tmp_path / "again", "--num-proc", "2")
    assert files_of(tmp_path / "again", with_state=True) == files_of(tmp_path / "robust", with_state=True)


def test_robust_rule_removes_everything_the_paper_rule_removes(planted):
    sides = [("alpha", planted["alpha"]), ("beta", planted["beta"])]
    tests = [("testset", planted["testset"])]
    paper = dedup.find_duplicates(sides, tests, rule="paper", progress=False)
    robust = dedup.find_duplicates(sides, tests, progress=False)
    assert robust.rule == "robust" and paper.rule == "paper"
    assert {(r.source, r.image.row) for r in paper.removals} <= {(r.source, r.image.row) for r in robust.removals}
    with pytest.raises(OptionError, match="--rule must be one of paper, robust, got 'loose'"):
        dedup.find_duplicates(sides, tests, rule="loose", progress=False)


def test_corpus_recipe_names_its_dedup_rule(tmp_path):
    from rsdata.corpus_recipe import load_corpus_recipe
    from rsdata.recipe import RecipeError

    recipes = Path(__file__).resolve().parents[1] / "recipes" / "datasets"
    assert load_corpus_recipe(recipes / "remoteclip.yaml").dedup_rule == "robust"
    shutil.copy(recipes / "dota.yaml", tmp_path / "dota.yaml")
    corpus = tmp_path / "mini.yaml"
    base = "kind: corpus\nname: mini\ntitle: t\nconfigs: {a: {sources: [{recipe: dota, folder: D}]}}\n"
    corpus.write_text(base + "dedup: {rule: paper}\n")
    assert load_corpus_recipe(corpus).dedup_rule == "paper"
    corpus.write_text(base)
    assert load_corpus_recipe(corpus).dedup_rule == "robust"
    corpus.write_text(base + "dedup: {rule: loose}\n")
    with pytest.raises(RecipeError, match="'dedup.rule' must be one of paper, robust, got 'loose'"):
        load_corpus_recipe(corpus)


def test_rewritten_shards_cap_row_groups_in_bytes_like_the_build(planted, tmp_path, monkeypatch):
    """A rewritten shard's row groups follow the build's rule: at most ROW_GROUP_SIZE rows and ROW_GROUP_MAX_BYTES
    of image bytes, a group closing before the image that would cross the cap (an old build's 100-row groups of
    DOTA-size PNGs were 2 GB)."""
    from rsdata import schema
    from rsdata.schema import ROW_GROUP_SIZE

    big, rows, removals = big_shard_with_removals(planted, tmp_path, 120, (3, 50))
    sizes = [len(image["bytes"]) for image in rows.column("image").to_pylist()]
    kept_sizes = [size for row, size in enumerate(sizes) if row not in (3, 50)]
    cap = sorted(kept_sizes)[len(kept_sizes) // 2] * 3 + 1  # about three median images per group
    monkeypatch.setattr(schema, "ROW_GROUP_MAX_BYTES", cap)
    dedup.write_deduplicated(big, removals, tmp_path / "out", progress=False)
    written = pq.ParquetFile(shard_path(tmp_path / "out"))
    groups = [[len(image["bytes"]) for image in written.read_row_group(i, columns=["image"]).column("image")
               .to_pylist()] for i in range(written.metadata.num_row_groups)]
    assert [size for group in groups for size in group] == kept_sizes
    assert len(groups) > 10
    for group in groups:
        assert (sum(group) <= cap or len(group) == 1) and len(group) <= ROW_GROUP_SIZE, (group, cap)
    for previous, following in zip(groups, groups[1:]):
        assert sum(previous) + following[0] > cap or len(previous) == ROW_GROUP_SIZE
