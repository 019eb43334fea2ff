"""De-duplication of training data by perceptual hash, across sources and against the evaluation test sets.

RemoteCLIP de-duplicated its pretraining corpus "by perceptual hash (Hamming distance < 2) across sources and
against the evaluation test sets". This module owns that step for datasets written by :func:`rsdata.build.convert`;
:mod:`rsdata.phash` owns the hash and the search (re-exported here), in short:

- **hash**: imagehash's 64-bit pHash (``hash_size=8``) of the Pillow-decoded image, as an unsigned integer whose
  most significant bit is the first (DC) element of imagehash's row-major bit array (``int(str(phash), 16)``);
- **threshold**: ``max_distance`` is inclusive, two images are near-duplicates when their Hamming distance is
  at most ``max_distance``; the paper's "distance < 2" is ``max_distance=1``, the default;
- **search**: :class:`HashIndex`, a multi-index bucket search: the 64 bits cut into ``m = max_distance + 1``
  chunks (two chunks of 32 bits for the default), candidates are the hashes sharing one chunk exactly
  (pigeonhole), each checked exactly by popcount; never all pairs.

**Rules** (:data:`RULES`, ``rule=`` / ``--rule``). ``paper`` is RemoteCLIP's rule as written: a training image
goes when its pHash is within ``max_distance`` of a test image's pHash. It misses every flipped or rotated copy
and almost every cropped one (``benchmarks/dedup_leakage.py``). ``robust`` (the default) compares each training
image's pHash with each test image's 152 variant hashes (:func:`rsdata.phash.variant_hashes`: 8 flips and
rotations of 19 crop windows) and removes it when one is within ``max(4, max_distance)``
(:data:`ROBUST_MAX_DISTANCE`); it removes everything ``paper`` removes, and flipped, rotated, 3-5 % cropped,
re-encoded and resized copies too. Only the test-set check differs: within the corpus both rules compare plain
pHashes within ``max_distance``, as the paper did. Each removal names the variant it matched
(``match_transform``, ``match_window``) and the reports count them (``removed_per_transform``,
``removed_per_window``).

**Hashing datasets** (:func:`hash_datasets`): one hash per row of every shard
``FOLDER/data/<split>-NNNNN-of-NNNNN.parquet``, in the order split, shard, row; computed row group by row group in
``num_proc`` processes (the result never depends on that number) with a progress bar, and cached per shard in
``FOLDER/.rsdata/phash/<shard name>.<key>.npy`` (uint64, one per row) as soon as the shard is hashed; ``key`` is
made of the shard's size, modification time and row count and of the hash's definition (imagehash's version
included), so a rebuilt shard is hashed again and a killed run resumes with the shards already hashed. The
variant hashes of test sets (rule ``robust``) are cached beside them as ``<shard name>.variants.<key>.npy``
(rows x 152).

**The decision** (:func:`find_duplicates`). Training sources are given in priority order; within a source, rows are
ordered by split (the order given, else sorted by name), shard and row. First, every training row within the rule's
distance of ANY image of the test sets is removed (reason ``near_duplicate_of_test``, matched to the nearest test
image, ties to the first in test order, then to the first variant). Then the remaining training rows are visited in
priority order and each is removed when it is within ``max_distance`` of a row kept before it (reason
``near_duplicate_in_corpus``, matched to the nearest such kept row, ties to the earliest). Test sets are never
modified. Every removal records the source, split, shard file, row, ``source_id``, image path and hash of the
removed image, the same for the image it matched, and their distance.

**The output** (:func:`write_deduplicated`, :func:`deduplicate`, ``rsdata dedup``): a copy of each training folder
without the removed rows: ``data/`` with the same shard names, schema, features metadata, row-group size and
writer settings as a build (a shard that loses no row is copied byte for byte; splits outside the search are
copied unchanged), ``README.md`` (the source card's metadata and text under a section on what was removed), the
source's ``build_report.json`` unchanged, and ``dedup_report.json`` (settings, counts per split and reason, and
every removed image with what it matched). Files are written under a temporary name and renamed; the same inputs
give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import re
import shutil
import sys
import warnings
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from rsdata.atomic import save_array_atomic, write_json_atomic, write_text_atomic
from rsdata.card import CONTACT_SHEET
from rsdata.dataset_files import (CARD_NAME, DATA_DIR, SHARD_NAME, StagedShard, is_placeholder_card, mark_empty,
                                  mark_unfinished, publish_shards, remove_stale_shards, split_pattern)
from rsdata.errors import OptionError, OutputFolderError, SourceLayoutError
from rsdata.phash import (CROP_WINDOWS, DEFAULT_MAX_DISTANCE, DIHEDRAL_TRANSFORMS, HASH_DEFINITION,
                          MAX_SEARCH_DISTANCE, VARIANTS, VARIANTS_DEFINITION, DedupInputError, HashIndex, Pairs,
                          brute_force_pairs, check_max_distance, hash_hex, perceptual_hash, variant_hashes)

__all__ = [
    "DEFAULT_MAX_DISTANCE", "DEFAULT_RULE", "MAX_SEARCH_DISTANCE", "ROBUST_MAX_DISTANCE", "RULES",
    "NEAR_DUPLICATE_IN_CORPUS", "NEAR_DUPLICATE_OF_TEST",
    "DatasetSide", "DedupInputError", "DedupResult", "DedupRun", "HashIndex", "ImageRef", "Pairs", "Removal",
    "brute_force_pairs", "deduplicate", "find_duplicates", "hash_datasets", "list_shards", "perceptual_hash",
    "removals_report", "rule_definition", "test_max_distance", "write_deduplicated", "write_filtered_shards",
]

NEAR_DUPLICATE_OF_TEST = "near_duplicate_of_test"
NEAR_DUPLICATE_IN_CORPUS = "near_duplicate_in_corpus"
REASONS = (NEAR_DUPLICATE_OF_TEST, NEAR_DUPLICATE_IN_CORPUS)

STATE_DIR = ".rsdata"
STAGING_DIR = f"{STATE_DIR}/staging"
PUBLISHED_RECORD = f"{STATE_DIR}/published.json"
CACHE_DIR = f"{STATE_DIR}/phash"
REPORT_NAME = "dedup_report.json"
MARKER_NAME = f"{STATE_DIR}/dedup.json"  # marks a folder written by this module (so a re-run may replace it)
SOURCE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

PAPER, ROBUST = "paper", "robust"
#: Rule name -> what it means (the report's ``rule`` and the card's sentence).
RULES = {
    PAPER: "a training image is removed when the Hamming distance of its pHash to a test image, or to a training "
           "image kept before it, is at most max_distance",
    ROBUST: "a training image is removed when its pHash lies within test_max_distance of the pHash of a test image "
            "under any of the 8 dihedral transforms (flips, rotations by 90-degree steps, transposes) of any of 19 "
            "windows (the whole image; crops keeping 97 % and 95 % of each side, at 3 x 3 positions), or within "
            "max_distance of the pHash of a training image kept before it",
}
DEFAULT_RULE = ROBUST
#: The test-set distance of rule ``robust``: catches 3-5 % crops, JPEG re-encodings and half-size copies; no pair of
#: unrelated real images came closer than 6 (``benchmarks/dedup_leakage.py``).
ROBUST_MAX_DISTANCE = 4


def check_rule(rule: str) -> str:
    if rule not in RULES:
        raise OptionError(f"--rule must be one of {', '.join(RULES)}, got {rule!r}")
    return rule


def test_max_distance(rule: str, max_distance: int) -> int:
    """The distance of the test-set check under ``rule`` (``max_distance`` is the corpus check's)."""
    return max_distance if check_rule(rule) == PAPER else max(ROBUST_MAX_DISTANCE, max_distance)


test_max_distance.__test__ = False  # not a pytest test, whatever its name


def rule_definition(rule: str) -> str:
    return RULES[check_rule(rule)]


# ---------------------------------------------------------------------------------------------------------------
# Dataset folders and their hashes


@dataclass(frozen=True)
class DatasetSide:
    """One dataset folder taking part: its ``name`` in reports, the ``folder`` and the ``splits`` used (None: all)."""

    name: str
    folder: Path
    splits: tuple[str, ...] | None = None

    @classmethod
    def of(cls, spec: "DatasetSide | Sequence") -> "DatasetSide":
        """A side from a :class:`DatasetSide`, ``(name, folder)`` or ``(name, folder, splits)``."""
        if isinstance(spec, DatasetSide):
            side = spec
        elif isinstance(spec, (tuple, list)) and len(spec) in (2, 3):
            splits = spec[2] if len(spec) == 3 else None
            if isinstance(splits, str):
                splits = (splits,)
            side = cls(str(spec[0]), Path(spec[1]), tuple(splits) if splits else None)
        else:
            raise OptionError(f"a dataset side is (name, folder) or (name, folder, splits), got {spec!r}")
        if not SOURCE_NAME_PATTERN.match(side.name):
            raise OptionError(f"dataset name {side.name!r} (folder {side.folder}) must start with a letter or digit "
                              "and hold only letters, digits, '.', '_' and '-' (it names an output folder)")
        return side


@dataclass(frozen=True)
class ShardFile:
    split: str
    index: int
    count: int
    filename: str  # relative to the dataset folder: "data/train-00000-of-00002.parquet"


def list_shards(folder: Path, splits: Sequence[str] | None = None) -> list[ShardFile]:
    """The shards of a built dataset, ordered by split (``splits``' order, else by name), then index.

    Every split must have all its shards (``-of-NNNNN`` says how many): a half-copied folder is refused.
    """
    folder = Path(folder)
    data = folder / DATA_DIR
    if not data.is_dir():
        raise SourceLayoutError(f"{folder} holds no {DATA_DIR}/ folder: expected a dataset written by rsdata "
                                f"(`rsdata convert`), with {DATA_DIR}/<split>-00000-of-00001.parquet shards")
    if is_placeholder_card(folder / CARD_NAME):
        raise SourceLayoutError(f"{folder} holds an unfinished or empty rsdata build (see its {CARD_NAME}); finish "
                                "the build first")
    by_split: dict[str, list[ShardFile]] = {}
    digests: dict[str, set[str]] = {}
    for path in sorted(data.iterdir()):
        if path.name.startswith(".") or path.suffix != ".parquet":
            continue  # temporary pieces of a running build, and non-data files
        match = SHARD_NAME.match(path.name)
        if not match:
            raise SourceLayoutError(f"{path}: shard name does not follow <split>-NNNNN-of-NNNNN[-<digest>].parquet")
        shard = ShardFile(match["split"], int(match["index"]), int(match["count"]), f"{DATA_DIR}/{path.name}")
        by_split.setdefault(shard.split, []).append(shard)
        digests.setdefault(shard.split, set()).add(match["digest"] or "")
    if not by_split:
        raise SourceLayoutError(f"{data} holds no <split>-NNNNN-of-NNNNN-<digest>.parquet shards")
    for split, shards in by_split.items():
        if len(digests[split]) > 1:
            raise SourceLayoutError(f"{data}: split {split!r} mixes the shards of {len(digests[split])} builds "
                                    f"(digests {', '.join(sorted(d or 'none' for d in digests[split]))}); an "
                                    "interrupted build or copy? run the build again")
        counts = {s.count for s in shards}
        indexes = [s.index for s in shards]
        if len(counts) != 1 or indexes != list(range(counts.pop())):
            expected = max(s.count for s in shards)
            missing = sorted(set(range(expected)) - set(indexes))
            raise SourceLayoutError(f"{data}: split {split!r} is incomplete or mixed: shards {indexes} of "
                                    f"{sorted({s.count for s in shards})}, missing {missing} (an interrupted build "
                                    "or copy? run the build again)")
    if splits is None:
        order = sorted(by_split)
    else:
        unknown = [s for s in splits if s not in by_split]
        if unknown:
            raise OptionError(f"{folder}: no split {', '.join(map(repr, unknown))}; it has "
                              f"{', '.join(sorted(by_split))}")
        order = list(dict.fromkeys(splits))
    return [shard for split in order for shard in by_split[split]]


@dataclass
class DatasetHashes:
    """The hashes of one side's rows in priority order (split, shard, row), and where each row lies."""

    side: DatasetSide
    shards: list[ShardFile]
    hashes: np.ndarray  # uint64
    shard_of_row: np.ndarray  # index into ``shards``
    row_in_shard: np.ndarray
    cached_shards: int = 0

    def __len__(self) -> int:
        return int(self.hashes.shape[0])  # rows (variant hashes are rows x 152)


@dataclass(frozen=True)
class _ShardTask:
    """One row group to hash: ``filename`` names it in errors; the numbers place its hashes in the result."""

    path: str
    filename: str
    row_group: int
    first_row: int
    rows: int
    side_number: int
    shard_number: int
    variants: bool = False


def hash_datasets(sides: Sequence[DatasetSide], *, num_proc: int = 1, progress: bool = True,
                  variants: bool = False) -> list[DatasetHashes]:
    """Hash every row of every side (cached per shard; ``num_proc`` processes; same result for any number).

    With ``variants``, each row gets :func:`rsdata.phash.variant_hashes` (``hashes`` is rows x 152, column 0 the
    plain pHash) instead of one pHash."""
    import pyarrow.parquet as pq
    from tqdm.auto import tqdm

    if isinstance(num_proc, bool) or not isinstance(num_proc, int) or num_proc < 1:
        raise OptionError(f"--num-proc must be at least 1, got {num_proc!r}")
    plans = []  # per side: (side, shards, [(rows, cached hashes or None) per shard])
    tasks: list[_ShardTask] = []
    for side in sides:
        shards = list_shards(side.folder, side.splits)
        entries = []
        for number, shard in enumerate(shards):
            metadata = pq.ParquetFile(side.folder / shard.filename).metadata
            cached = _load_cached(side.folder, shard, metadata.num_rows, variants)
            entries.append((metadata.num_rows, cached))
            if cached is None:
                first = 0
                for group in range(metadata.num_row_groups):
                    group_rows = metadata.row_group(group).num_rows
                    tasks.append(_ShardTask(str(side.folder / shard.filename), f"{side.name}: {shard.filename}",
                                            group, first, group_rows, len(plans), number, variants))
                    first += group_rows
        plans.append((side, shards, entries))

    # Tasks come back in order, so a shard is complete (and cached at once) when its last row group arrives.
    pieces: dict[tuple[int, int], list[np.ndarray]] = {}
    bar = tqdm(total=sum(t.rows for t in tasks), unit="img",
               desc="phash variants" if variants else "phash", disable=not progress or not tasks,
               file=sys.stderr)
    try:
        for task, hashes in zip(tasks, _run_hash_tasks(tasks, num_proc)):
            key = (task.side_number, task.shard_number)
            pieces.setdefault(key, []).append(hashes)
            side, shards, entries = plans[task.side_number]
            rows = entries[task.shard_number][0]
            if task.first_row + task.rows == rows:
                complete = np.concatenate(pieces.pop(key))
                entries[task.shard_number] = (rows, complete)
                _save_cached(side.folder, shards[task.shard_number], rows, complete, variants)
            bar.update(task.rows)
    finally:
        bar.close()

    results = []
    for side, shards, entries in plans:
        for number, (rows, hashes) in enumerate(entries):
            if hashes is None:  # a shard without row groups (no rows)
                entries[number] = (rows, np.empty((0, len(VARIANTS)) if variants else 0, dtype=np.uint64))
        counts = [rows for rows, _ in entries]
        results.append(DatasetHashes(
            side, shards, _concatenate([hashes for _, hashes in entries], variants),
            np.repeat(np.arange(len(shards), dtype=np.int32), counts),
            np.concatenate([np.arange(n, dtype=np.int64) for n in counts]) if counts else np.empty(0, np.int64),
            cached_shards=len(shards) - len({(t.side_number, t.shard_number) for t in tasks
                                             if t.side_number == len(results)})))
    return results


def _hash_row_group(task: _ShardTask) -> np.ndarray:
    import pyarrow.parquet as pq

    table = pq.ParquetFile(task.path).read_row_group(task.row_group, columns=["image"])
    images = table.column("image").combine_chunks()
    data = images.field("bytes").to_pylist()
    hashes = np.empty((len(data), len(VARIANTS)) if task.variants else len(data), dtype=np.uint64)
    hash_function = variant_hashes if task.variants else perceptual_hash
    for offset, image in enumerate(data):
        where = f"{task.filename}, row {task.first_row + offset}"
        if image is None:
            raise DedupInputError(f"{where}: the image has no embedded bytes (rsdata datasets embed every image)")
        hashes[offset] = hash_function(image, where=where)
    return hashes


def _run_hash_tasks(tasks: list[_ShardTask], num_proc: int):
    """The hashes of each task, in task order, from one process or from a pool."""
    processes = min(num_proc, len(tasks))
    if processes <= 1:
        for task in tasks:
            yield _hash_row_group(task)
        return
    # fork shares the imported modules with the workers at no cost; elsewhere, spawn.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    with multiprocessing.get_context(method).Pool(processes) as pool:
        yield from pool.imap(_hash_row_group, tasks)


def _cache_key(folder: Path, shard: ShardFile, rows: int, variants: bool) -> str:
    import imagehash

    stat = (folder / shard.filename).stat()
    identity = [HASH_DEFINITION, imagehash.__version__, shard.filename, stat.st_size, stat.st_mtime_ns, rows]
    if variants:
        identity.append(VARIANTS_DEFINITION)
    return hashlib.sha256(json.dumps(identity).encode()).hexdigest()[:16]


def _cache_path(folder: Path, shard: ShardFile, rows: int, variants: bool = False) -> Path:
    stem = Path(shard.filename).name[:-len(".parquet")]
    kind = ".variants" if variants else ""
    return folder / CACHE_DIR / f"{stem}{kind}.{_cache_key(folder, shard, rows, variants)}.npy"


def _load_cached(folder: Path, shard: ShardFile, rows: int, variants: bool = False) -> np.ndarray | None:
    path = _cache_path(folder, shard, rows, variants)
    if not path.is_file():
        return None
    try:
        hashes = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None  # a damaged cache file is recomputed
    if hashes.dtype != np.uint64 or hashes.shape != ((rows, len(VARIANTS)) if variants else (rows,)):
        return None
    return hashes


def _save_cached(folder: Path, shard: ShardFile, rows: int, hashes: np.ndarray, variants: bool = False) -> None:
    path = _cache_path(folder, shard, rows, variants)
    try:
        save_array_atomic(path, hashes.astype(np.uint64))
        # The same kind of hashes of an earlier build of this shard (the other kind is kept).
        stale_name = re.compile(re.escape(path.name.split(".", 1)[0]) + (r"\.variants" if variants else "")
                                + r"\.[0-9a-f]{16}\.npy$")
        for stale in path.parent.iterdir():
            if stale != path and stale_name.match(stale.name):
                stale.unlink(missing_ok=True)
    except OSError as error:
        # A read-only dataset (a shared copy of a test set) is hashed again next time; nothing else changes.
        warnings.warn(f"could not cache the hashes of {folder / shard.filename} in {path.parent}: {error}",
                      stacklevel=2)


# ---------------------------------------------------------------------------------------------------------------
# Deciding what to remove


@dataclass(frozen=True)
class ImageRef:
    """One image of a dataset side: ``source`` is the side's name, ``shard`` the shard file relative to its folder,
    ``row`` 0-based within the shard, ``path`` the ``image`` column's path, ``phash`` the hash's 16 hex digits."""

    source: str
    split: str
    shard: str
    row: int
    source_id: str | None
    path: str | None
    phash: str


@dataclass(frozen=True)
class Removal:
    """A training image left out: why, the image it duplicates, and the Hamming distance of their hashes."""

    image: ImageRef
    reason: str
    match: ImageRef
    distance: int
    #: The variant of the matched image whose hash lay within ``distance`` (rule ``robust``; else the image itself).
    match_transform: str = "identity"
    match_window: str = "full"

    # Flat names for tables and cards.
    @property
    def source(self) -> str:
        return self.image.source

    @property
    def split(self) -> str:
        return self.image.split

    @property
    def image_path(self) -> str | None:
        return self.image.path

    @property
    def match_source(self) -> str:
        return self.match.source

    @property
    def match_image_path(self) -> str | None:
        return self.match.path

    def to_json(self) -> dict:
        """The removed image's fields, ``reason``, ``distance`` and ``match`` (the matched image's fields)."""
        return {**asdict(self.image), "reason": self.reason, "distance": self.distance,
                "match_transform": self.match_transform, "match_window": self.match_window,
                "match": asdict(self.match)}


@dataclass
class DedupResult:
    """What :func:`find_duplicates` decided. ``removals`` are in training priority order."""

    max_distance: int
    training: list[str]  # source names, in priority order
    test: list[str]
    rows: dict[str, int]  # name -> rows considered (training and test sides)
    removals: list[Removal] = field(default_factory=list)
    rule: str = PAPER

    @property
    def test_max_distance(self) -> int:
        return test_max_distance(self.rule, self.max_distance)

    def removals_for(self, name: str) -> list[Removal]:
        return [r for r in self.removals if r.image.source == name]

    def removed_per_reason(self, name: str | None = None) -> dict[str, int]:
        counts = Counter(r.reason for r in self.removals if name is None or r.image.source == name)
        return {reason: counts.get(reason, 0) for reason in REASONS}

    def kept(self, name: str) -> int:
        return self.rows[name] - len(self.removals_for(name))


def find_duplicates(training_sides: Sequence, test_sides: Sequence, max_distance: int = DEFAULT_MAX_DISTANCE, *,
                    rule: str = DEFAULT_RULE, num_proc: int = 1, progress: bool = True) -> DedupResult:
    """Decide which training rows to remove (the rules are in the module docstring).

    ``training_sides`` and ``test_sides`` hold :class:`DatasetSide`, ``(name, folder)`` or
    ``(name, folder, splits)``; training sides in priority order. Names must be unique over both lists.
    ``rule`` is a name of :data:`RULES` (``paper``: the paper's rule exactly; ``robust``: also flipped, rotated
    and cropped copies of test images).
    """
    max_distance = check_max_distance(max_distance)
    rule = check_rule(rule)
    training = [DatasetSide.of(s) for s in training_sides]
    test = [DatasetSide.of(s) for s in test_sides]
    if not training:
        raise OptionError("no training dataset to de-duplicate")
    names = Counter(side.name for side in training + test)
    repeated = sorted(name for name, count in names.items() if count > 1)
    if repeated:
        raise OptionError(f"dataset names must be unique, {', '.join(repeated)} repeat (name them NAME=FOLDER)")
    variants = rule == ROBUST
    train_sets = hash_datasets(training, num_proc=num_proc, progress=progress)
    test_sets = hash_datasets(test, num_proc=num_proc, progress=progress, variants=variants)
    hashed = train_sets + test_sets
    train_hashes = _concatenate([h.hashes for h in train_sets])
    test_hashes = _concatenate([h.hashes for h in test_sets], variants)
    per_image = len(VARIANTS) if variants else 1

    # Rule 1: anything near a test image (or, for rule robust, near one of its variants) goes, whatever its
    # priority. Flat index = test row * variants per image + variant: ties go to the first test row, then variant.
    decisions: dict[int, tuple] = {}  # training row -> (reason, "test"/"train", row, distance, variant)
    if test_hashes.size and train_hashes.size:
        pairs = HashIndex(test_hashes.reshape(-1)).query(train_hashes, test_max_distance(rule, max_distance))
        for row, flat, distance in _nearest(pairs.left, pairs.right, pairs.distance):
            test_row, variant = divmod(flat, per_image)
            decisions[row] = (NEAR_DUPLICATE_OF_TEST, "test", test_row, distance, variant)

    # Rule 2: greedy over the rest, in priority order.
    still_in = np.ones(train_hashes.size, dtype=bool)
    still_in[list(decisions)] = False
    remaining = np.flatnonzero(still_in)
    for row, kept_row, distance in _greedy_in_corpus(train_hashes[remaining], max_distance):
        decisions[int(remaining[row])] = (NEAR_DUPLICATE_IN_CORPUS, "train", int(remaining[kept_row]), distance, 0)

    locate_train, locate_test = _Locator(train_sets), _Locator(test_sets)
    removals = []
    for row in sorted(decisions):
        reason, side, other, distance, variant = decisions[row]
        match = (locate_test if side == "test" else locate_train).ref(other)
        window, transform = VARIANTS[variant]
        removals.append(Removal(locate_train.ref(row), reason, match, distance, transform, window))
    return DedupResult(max_distance, [s.name for s in training], [s.name for s in test],
                       {h.side.name: len(h) for h in hashed}, removals, rule)


def _concatenate(arrays: list[np.ndarray], variants: bool = False) -> np.ndarray:
    if not arrays:
        return np.empty((0, len(VARIANTS)) if variants else 0, dtype=np.uint64)
    return np.concatenate(arrays).astype(np.uint64)


def _nearest(rows: np.ndarray, others: np.ndarray, distances: np.ndarray):
    """For each distinct row of the pairs: (row, the other row nearest to it, ties to the first, distance)."""
    if rows.size == 0:
        return []
    order = np.lexsort((others, distances, rows))
    rows, others, distances = rows[order], others[order], distances[order]
    unique_rows, first = np.unique(rows, return_index=True)
    return list(zip(unique_rows.tolist(), others[first].tolist(), distances[first].tolist()))


def _greedy_in_corpus(hashes: np.ndarray, max_distance: int) -> list[tuple[int, int, int]]:
    """Rows (positions in ``hashes``, in priority order) removed by the greedy rule: (row, kept row, distance).

    Works on distinct hash values, so that a thousand copies of one image cost a thousand rows, not a million
    pairs: only the first row of a value can be kept (the rows after it are at distance 0 from it, or as near as
    it to whatever removed it), and values are kept or removed greedily in the order of their first rows.
    """
    if hashes.size == 0:
        return []
    values, first_row, value_of_row = np.unique(hashes, return_index=True, return_inverse=True)
    by_first = np.argsort(first_row, kind="stable")  # value ranks in priority order
    rank_of_value = np.empty_like(by_first)
    rank_of_value[by_first] = np.arange(by_first.size)
    ranked_values, ranked_first = values[by_first], first_row[by_first]
    row_rank = rank_of_value[value_of_row.reshape(-1)]

    pairs = HashIndex(ranked_values).self_pairs(max_distance)  # left < right in rank order
    neighbours: dict[int, list[tuple[int, int]]] = {}
    for a, b, distance in zip(pairs.left.tolist(), pairs.right.tolist(), pairs.distance.tolist()):
        neighbours.setdefault(a, []).append((b, distance))
        neighbours.setdefault(b, []).append((a, distance))
    kept = np.ones(ranked_values.size, dtype=bool)
    by_later = np.lexsort((pairs.left, pairs.right))
    for a, b in zip(pairs.left[by_later].tolist(), pairs.right[by_later].tolist()):
        if kept[b] and kept[a]:
            kept[b] = False  # an earlier kept value is near it

    removed = []
    # A row stays only when its value is kept and it is that value's first row.
    stays = kept[row_rank] & (ranked_first[row_rank] == np.arange(hashes.size))
    for row in np.flatnonzero(~stays).tolist():
        rank = int(row_rank[row])
        if kept[rank]:
            removed.append((row, int(ranked_first[rank]), 0))
            continue
        # Nearest kept row before this one, ties to the earliest; one exists (whatever removed its first row).
        candidates = [(distance, int(ranked_first[other])) for other, distance in neighbours.get(rank, ())
                      if kept[other] and ranked_first[other] < row]
        distance, kept_row = min(candidates)
        removed.append((row, kept_row, distance))
    return removed


class _Locator:
    """Turns a global row number over several :class:`DatasetHashes` into an :class:`ImageRef`."""

    def __init__(self, sets: list[DatasetHashes]):
        self.sets = sets
        self.starts = np.cumsum([0] + [len(s) for s in sets])
        self._columns: dict[tuple[int, int], tuple[list, list]] = {}

    def ref(self, row: int) -> ImageRef:
        number = int(np.searchsorted(self.starts, row, side="right")) - 1
        hashed = self.sets[number]
        local = row - int(self.starts[number])
        shard_number = int(hashed.shard_of_row[local])
        shard = hashed.shards[shard_number]
        in_shard = int(hashed.row_in_shard[local])
        source_ids, paths = self._shard_columns(number, shard_number)
        own_hash = hashed.hashes[local] if hashed.hashes.ndim == 1 else hashed.hashes[local, 0]
        return ImageRef(hashed.side.name, shard.split, shard.filename, in_shard, source_ids[in_shard],
                        paths[in_shard], hash_hex(own_hash))

    def _shard_columns(self, number: int, shard_number: int) -> tuple[list, list]:
        key = (number, shard_number)
        if key not in self._columns:
            hashed = self.sets[number]
            self._columns[key] = read_ids_and_paths(hashed.side.folder / hashed.shards[shard_number].filename)
        return self._columns[key]


def read_ids_and_paths(shard_path: Path) -> tuple[list, list]:
    """The ``source_id`` and ``image.path`` of every row of a shard (None where a dataset lacks the column)."""
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(shard_path)
    names = parquet.schema_arrow.names
    columns = [c for c in ("source_id", "image.path") if c.split(".")[0] in names]
    table = parquet.read(columns=columns) if columns else None
    rows = parquet.metadata.num_rows
    source_ids = table.column("source_id").to_pylist() if "source_id" in names else [None] * rows
    paths = table.column("image").combine_chunks().field("path").to_pylist() if "image" in names else [None] * rows
    return source_ids, paths


# ---------------------------------------------------------------------------------------------------------------
# Writing de-duplicated copies


def removals_report(removals: Sequence[Removal], max_distance: int, *, rule: str) -> dict:
    """The JSON report of ``removals``: the hash, the rule and its thresholds, counts per reason and per matched
    variant of the test images (``removed_per_transform``: dihedral transform; ``removed_per_window``: whole image,
    3 % or 5 % crop), and every removed image."""
    reasons = Counter(r.reason for r in removals)
    of_test = [r for r in removals if r.reason == NEAR_DUPLICATE_OF_TEST]
    transforms = Counter(r.match_transform for r in of_test)
    windows = Counter(r.match_window.split("-")[0] for r in of_test)
    window_kinds = list(dict.fromkeys(name.split("-")[0] for name in CROP_WINDOWS))
    return {
        "hash": HASH_DEFINITION,
        "dedup_rule": check_rule(rule),
        "max_distance": max_distance,
        "test_max_distance": test_max_distance(rule, max_distance),
        "rule": rule_definition(rule),
        "removed": len(removals),
        "removed_per_reason": {reason: reasons.get(reason, 0) for reason in REASONS},
        "removed_per_transform": {name: transforms.get(name, 0) for name in DIHEDRAL_TRANSFORMS},
        "removed_per_window": {name: windows.get(name, 0) for name in window_kinds},
        "removed_images": [r.to_json() for r in removals],
    }


def rule_sentence(rule: str, max_distance: int) -> str:
    """What ``rule`` removed, for cards (one sentence, Markdown)."""
    if check_rule(rule) == PAPER:
        return (f"Rule `paper` (RemoteCLIP's): every image whose 64-bit perceptual hash (`{HASH_DEFINITION}`) lies "
                f"within Hamming distance {max_distance} (inclusive) of an image of the evaluation test sets, or of a "
                "training image kept before it (sources in priority order, then split, shard and row), was removed.")
    return (f"Rule `robust`: every image whose 64-bit perceptual hash (`{HASH_DEFINITION}`) lies within Hamming "
            f"distance {test_max_distance(rule, max_distance)} (inclusive) of the hash of an image of the evaluation "
            "test sets under any of its 8 flips and 90-degree rotations of any of 19 windows (the whole image, and "
            "crops keeping 97 % and 95 % of each side at 3 x 3 positions) was removed, so flipped, rotated, mildly "
            "cropped, re-encoded and resized copies of test images are gone too; then every image within distance "
            f"{max_distance} of a training image kept before it (sources in priority order, then split, shard and "
            "row).")


def write_filtered_shards(folder: str | Path, removals: Sequence[Removal], out_dir: str | Path, *,
                          progress: bool = True, name: str | None = None) -> dict[str, dict[str, int]]:
    """Write every shard of ``folder/data/`` into ``out_dir`` (flat) without the removed rows, for staging: each
    file is named ``<split>-NNNNN-of-NNNNN.parquet`` after its source shard, without the source build's digest
    (the rows differ), and a shard that loses every row is not written.
    :func:`rsdata.dataset_files.publish_shards` gives the files their final names.

    ``removals`` must all be this folder's (one source). Return, per split, ``rows_before``, ``removed`` and
    ``rows_after``. A shard that loses no row is copied byte for byte; the others are rewritten with the source
    shard's schema and features metadata, the build's writer settings and row groups of the build's size. Each
    file is written under a temporary name, then renamed. Nothing else in ``out_dir`` is touched.
    """
    return _stage_filtered(folder, removals, Path(out_dir), DATA_DIR, progress=progress, name=name)[0]


def _stage_filtered(folder: str | Path, removals: Sequence[Removal], out_dir: Path, published_folder: str, *,
                    progress: bool, name: str | None) -> tuple[dict[str, dict[str, int]], list[StagedShard]]:
    """:func:`write_filtered_shards`, also returning the staged shards (to be published under
    ``published_folder``, relative to the output dataset's root) in order."""
    import pyarrow.parquet as pq
    from tqdm.auto import tqdm

    folder, out_dir = Path(folder), Path(out_dir)
    sources = {r.image.source for r in removals}
    if len(sources) > 1:
        raise OptionError(f"removals of several sources ({', '.join(sorted(sources))}) given for one folder "
                          f"{folder}")
    shards = list_shards(folder)
    by_shard: dict[str, dict[int, Removal]] = {}
    for removal in removals:
        by_shard.setdefault(removal.image.shard, {})[removal.image.row] = removal
    unknown = sorted(set(by_shard) - {s.filename for s in shards})
    if unknown:
        raise DedupInputError(f"{folder}: the removals name shards it does not hold: {', '.join(unknown)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    for leftover in out_dir.glob(".*.tmp"):  # pieces of a killed run; never final
        leftover.unlink()

    total_rows = sum(pq.ParquetFile(folder / s.filename).metadata.num_rows for s in shards)
    label = name or (sources.pop() if sources else folder.name)
    per_split: dict[str, dict[str, int]] = {}
    staged: list[StagedShard] = []
    bar = tqdm(total=total_rows, unit="img", desc=f"write {label}", disable=not progress, file=sys.stderr)
    try:
        for shard in shards:
            target = out_dir / f"{shard.split}-{shard.index:05d}-of-{shard.count:05d}.parquet"
            rows, written = _write_shard(folder / shard.filename, by_shard.get(shard.filename, {}), target)
            staged.append(StagedShard(published_folder, shard.split, written, target))
            counts = per_split.setdefault(shard.split, {"rows_before": 0, "removed": 0, "rows_after": 0})
            counts["rows_before"] += rows
            counts["removed"] += rows - written
            counts["rows_after"] += written
            bar.update(rows)
    finally:
        bar.close()
    return per_split, staged


def write_deduplicated(folder: str | Path, removals: Sequence[Removal], out_folder: str | Path, *,
                       max_distance: int = DEFAULT_MAX_DISTANCE, rule: str = DEFAULT_RULE, name: str | None = None,
                       progress: bool = True) -> dict:
    """Write ``folder``'s dataset without the rows in ``removals`` to ``out_folder``, as a dataset folder.

    ``removals`` are this folder's (:meth:`DedupResult.removals_for`); ``name`` is its source name (default: the
    removals', else the folder's name); ``max_distance`` and ``rule`` (the decision's) are echoed in the report and
    the card. ``out_folder`` must be new, empty, or an earlier output of this function, and not inside
    ``folder``. Writes ``data/`` (see :func:`write_filtered_shards`; shards of an earlier output that this
    dataset no longer has are deleted),
    ``README.md``, ``build_report.json`` (the source's, unchanged) and ``dedup_report.json``, whose dict (the
    :func:`removals_report` fields plus ``source``, ``rows_before``, ``rows_after`` and ``splits``) is returned.
    """
    folder, out_folder = Path(folder), Path(out_folder)
    max_distance = check_max_distance(max_distance)
    sources = {r.image.source for r in removals}
    name = name or (next(iter(sources)) if len(sources) == 1 else folder.resolve().name)
    if sources - {name}:
        raise OptionError(f"removals of {', '.join(sorted(sources - {name}))} given for source {name!r} ({folder})")
    list_shards(folder)  # refuses a folder that is not a dataset before anything is written
    _prepare_output(folder, out_folder)
    mark_unfinished(out_folder, "Run the same `rsdata dedup` command again to finish it.",
                    reports=[REPORT_NAME, "build_report.json"])
    staging = out_folder / STAGING_DIR
    shutil.rmtree(staging, ignore_errors=True)
    per_split, staged = _stage_filtered(folder, removals, staging, DATA_DIR, progress=progress, name=name)
    digest, published = publish_shards(out_folder, staged, out_folder / PUBLISHED_RECORD)

    report = {
        "source": name,
        "rows_before": sum(c["rows_before"] for c in per_split.values()),
        "rows_after": sum(c["rows_after"] for c in per_split.values()),
        "splits": per_split,
        **removals_report(removals, max_distance, rule=rule),
    }
    if (folder / "build_report.json").is_file():
        _copy_atomic(folder / "build_report.json", out_folder / "build_report.json")
    if (folder / CONTACT_SHEET).is_file():  # the source card's text, copied below, shows it
        (out_folder / CONTACT_SHEET).parent.mkdir(parents=True, exist_ok=True)
        _copy_atomic(folder / CONTACT_SHEET, out_folder / CONTACT_SHEET)
    write_json_atomic(out_folder / REPORT_NAME, report)
    if published:  # the card last: it points readers at the new shards; the earlier output's go after it
        splits = list(dict.fromkeys(p.split for p in published))
        write_text_atomic(out_folder / CARD_NAME, _card_text(folder, name, report, digest, splits))
    else:
        mark_empty(out_folder, REPORT_NAME)
    remove_stale_shards(out_folder, [DATA_DIR], keep=[p.filename for p in published])
    return report


def _check_output_location(folder: Path, out_folder: Path) -> None:
    source, target = folder.resolve(), out_folder.resolve()
    if target == source or source in target.parents:
        raise OutputFolderError(f"output folder {out_folder} must lie outside the dataset {folder} it is made from")
    if out_folder.exists() and not out_folder.is_dir():
        raise OutputFolderError(f"output {out_folder} exists and is not a folder")
    if out_folder.is_dir() and any(out_folder.iterdir()) and not (out_folder / MARKER_NAME).is_file():
        entries = ", ".join(sorted(p.name for p in out_folder.iterdir())[:5])
        raise OutputFolderError(f"output folder {out_folder} is not empty ({entries}) and holds no earlier "
                                "`rsdata dedup` output; choose a new or empty folder")


def _prepare_output(folder: Path, out_folder: Path) -> None:
    _check_output_location(folder, out_folder)
    (out_folder / STATE_DIR).mkdir(parents=True, exist_ok=True)
    write_json_atomic(out_folder / MARKER_NAME, {"written_by": "rsdata dedup"})


def _write_shard(source: Path, removed: dict[int, Removal], final: Path) -> tuple[int, int]:
    """Write one shard without the ``removed`` rows; return (rows before, rows written)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from rsdata import schema as schema_module
    from rsdata.schema import ROW_GROUP_SIZE, parquet_writer_options

    parquet = pq.ParquetFile(source)
    rows = parquet.metadata.num_rows
    bad = [row for row in removed if not 0 <= row < rows]
    if bad:
        raise DedupInputError(f"{source}: removal of row {bad[0]}, but the shard has {rows} rows")
    if not removed:
        _copy_atomic(source, final)  # byte for byte: nothing to take out
        return rows, rows
    source_ids, _ = read_ids_and_paths(source)
    for row, removal in removed.items():
        if source_ids[row] != removal.image.source_id:
            raise DedupInputError(f"{source}, row {row}: source_id is {source_ids[row]!r} but the removal was "
                                  f"decided for {removal.image.source_id!r}; the dataset changed since it was "
                                  "hashed, run the de-duplication again")
    keep = np.ones(rows, dtype=bool)
    keep[list(removed)] = False
    schema = parquet.schema_arrow
    temporary = final.with_name(f".{final.name}.{os.getpid()}.tmp")
    written = 0
    try:
        with pq.ParquetWriter(temporary, schema, **parquet_writer_options(schema)) as writer:
            # Row groups are regrouped by the build's rule, whatever was removed: at most ROW_GROUP_SIZE rows and
            # ROW_GROUP_MAX_BYTES of image bytes (a group closes before the row that would cross it; a larger image
            # is a group of its own). Source groups are read a few rows at a time: an old build's 100-row groups of
            # DOTA-size PNGs were 2 GB.
            group: list = []
            group_rows = group_bytes = 0
            max_group_bytes = schema_module.ROW_GROUP_MAX_BYTES

            def flush() -> None:
                nonlocal group, group_rows, group_bytes, written
                table = pa.concat_tables(group).combine_chunks().cast(schema)
                writer.write_table(table, row_group_size=ROW_GROUP_SIZE)
                written += table.num_rows
                group, group_rows, group_bytes = [], 0, 0

            start = 0
            for batch in parquet.iter_batches(batch_size=_REWRITE_BATCH_ROWS):
                kept = pa.Table.from_batches([batch]).filter(pa.array(keep[start:start + batch.num_rows]))
                start += batch.num_rows
                sizes = pc.binary_length(pc.struct_field(kept.column("image"), "bytes")).to_pylist()
                for index, size in enumerate(sizes):
                    size = size or 0
                    if group_rows and (group_rows == ROW_GROUP_SIZE or group_bytes + size > max_group_bytes):
                        flush()
                    group.append(kept.slice(index, 1))
                    group_rows += 1
                    group_bytes += size
            if group_rows:
                flush()
        if written:
            os.replace(temporary, final)
        else:  # an emptied shard is not written: a 0-row file makes datasets refuse the whole dataset
            temporary.unlink()
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return rows, written


#: Rows read from a source shard at a time while it is rewritten.
_REWRITE_BATCH_ROWS = 16


def _copy_atomic(source: Path, target: Path) -> None:
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        shutil.copyfile(source, temporary)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _card_text(folder: Path, name: str, report: dict, digest: str, splits: Sequence[str]) -> str:
    """The source's card (metadata and text) under a section saying what de-duplication removed; its
    ``configs`` name this output's shards (``digest``, the ``splits`` that kept rows)."""
    from huggingface_hub import DatasetCard, DatasetCardData

    from rsdata.card import size_category

    source_card = folder / "README.md"
    if source_card.is_file():
        card = DatasetCard(source_card.read_text(encoding="utf-8"))
        data, source_text = card.data, card.text.strip()
    else:
        data, source_text = DatasetCardData(), ""
    data.configs = [{"config_name": "default", "data_files": [
        {"split": split, "path": split_pattern(DATA_DIR, split, digest)} for split in splits]}]
    data.size_categories = [size_category(report["rows_after"])]
    info = getattr(data, "dataset_info", None)
    if isinstance(info, dict):  # the source's split sizes are not this output's: datasets verifies num_examples
        data.dataset_info = {"features": info.get("features"), "splits": [
            {"name": split, "num_examples": report["splits"][split]["rows_after"]} for split in splits]}
    title = data.pretty_name or name
    lines = [
        "",
        f"# {title}, de-duplicated",
        "",
        f"The rsdata dataset `{name}` without its near-duplicate images, as `rsdata dedup` found them. "
        + rule_sentence(report["dedup_rule"], report["max_distance"])
        + " Every removed image is listed, with the image it matched, the variant of it that matched "
        f"(`match_transform`, `match_window`) and the distance, in `{REPORT_NAME}`.",
        "",
        "| split | images before | removed | images after |",
        "|---|---:|---:|---:|",
    ]
    for split, counts in report["splits"].items():
        lines.append(f"| {split} | {counts['rows_before']} | {counts['removed']} | {counts['rows_after']} |")
    lines += ["", "| reason | images |", "|---|---:|"]
    lines += [f"| {reason} | {count} |" for reason, count in report["removed_per_reason"].items()]
    if report["dedup_rule"] == ROBUST:
        lines += ["", "| test image variant matched | images |", "|---|---:|"]
        lines += [f"| {transform} | {count} |" for transform, count in report["removed_per_transform"].items()]
        lines += [f"| window: {window} | {count} |" for window, count in report["removed_per_window"].items()]
    if source_text:
        lines += ["", "The card of the source dataset follows; its statistics count the images before "
                      "de-duplication.", "", source_text]
    return f"---\n{data.to_yaml()}\n---\n" + "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------------------------
# The whole step


@dataclass
class DedupRun:
    """What :func:`deduplicate` did: the decision, and each training source's output folder and report."""

    result: DedupResult
    output: Path
    outputs: dict[str, Path]
    reports: dict[str, dict]


def deduplicate(training_sides: Sequence, test_sides: Sequence, out: str | Path, *,
                max_distance: int = DEFAULT_MAX_DISTANCE, rule: str = DEFAULT_RULE, num_proc: int = 1,
                progress: bool = True) -> DedupRun:
    """:func:`find_duplicates`, then a de-duplicated copy of each training source in ``out/<name>/``
    (:func:`write_deduplicated`) and the whole decision in ``out/dedup_report.json``: the :func:`removals_report`
    fields plus ``training`` (per source, in priority order: name, splits, rows, kept, removed per reason) and
    ``test`` (per test set: name, splits, rows)."""
    out = Path(out)
    training = [DatasetSide.of(s) for s in training_sides]
    test = [DatasetSide.of(s) for s in test_sides]
    if out.exists() and not out.is_dir():
        raise OutputFolderError(f"output {out} exists and is not a folder")
    for side in training:  # refuse a bad output before the (long) hashing
        if side.name == REPORT_NAME:
            raise OptionError(f"a training source may not be named {REPORT_NAME!r}")
        _check_output_location(side.folder, out / side.name)
    result = find_duplicates(training, test, max_distance, rule=rule, num_proc=num_proc, progress=progress)
    outputs, reports = {}, {}
    for side in training:
        outputs[side.name] = out / side.name
        reports[side.name] = write_deduplicated(side.folder, result.removals_for(side.name), out / side.name,
                                                max_distance=result.max_distance, rule=result.rule, name=side.name,
                                                progress=progress)
    summary = {
        "training": [{"name": side.name, "splits": list(side.splits) if side.splits else None,
                      "rows": result.rows[side.name], "kept": result.kept(side.name),
                      "removed_per_reason": result.removed_per_reason(side.name)} for side in training],
        "test": [{"name": side.name, "splits": list(side.splits) if side.splits else None,
                  "rows": result.rows[side.name]} for side in test],
        **removals_report(result.removals, result.max_distance, rule=result.rule),
    }
    write_json_atomic(out / REPORT_NAME, summary)
    return DedupRun(result, out, outputs, reports)


def parse_side(spec: str, splits: Sequence[str] | None = None) -> DatasetSide:
    """A side from a command-line ``FOLDER`` or ``NAME=FOLDER`` (default name: the folder's own name)."""
    name, sep, rest = spec.partition("=")
    if sep and SOURCE_NAME_PATTERN.match(name) and rest:
        folder = Path(rest)
    else:
        name, folder = Path(spec).resolve().name, Path(spec)
    return DatasetSide.of((name, folder, tuple(splits) if splits else None))


def summary(run: DedupRun) -> str:
    """A few lines saying what :func:`deduplicate` did."""
    result = run.result
    training_rows = sum(result.rows[name] for name in result.training)
    test_rows = sum(result.rows[name] for name in result.test)
    reasons = ", ".join(f"{reason} {count}" for reason, count in result.removed_per_reason().items())
    if result.rule == PAPER:
        how = f"pHash, Hamming distance <= {result.max_distance}"
    else:
        how = (f"rule {result.rule}: pHash within {result.test_max_distance} of a test image's flips, rotations or "
               f"3-5 % crops, within {result.max_distance} in the corpus")
    lines = [f"De-duplicated {training_rows} training image(s) from {len(result.training)} source(s) against "
             f"{test_rows} test image(s) from {len(result.test)} set(s) ({how}): removed {len(result.removals)} "
             f"({reasons}), kept {training_rows - len(result.removals)}."]
    if result.rule != PAPER:
        report = removals_report(result.removals, result.max_distance, rule=result.rule)
        matched = ", ".join(f"{name} {count}" for name, count in
                            [*report["removed_per_transform"].items(), *report["removed_per_window"].items()] if count)
        lines.append(f"  near_duplicate_of_test by matched variant: {matched or 'none'}")
    for name in result.training:
        removed = ", ".join(f"{reason} {count}" for reason, count in result.removed_per_reason(name).items())
        lines.append(f"  {name}: {result.rows[name]} -> {result.kept(name)} ({removed}) in {run.outputs[name]}")
    if result.removals:
        lines.append("First removals:")
        for removal in result.removals[:5]:
            image, match = removal.image, removal.match
            lines.append(f"  {removal.reason}: {image.source} {image.shard} row {image.row} ({image.path}) repeats "
                         f"{match.source} {match.shard} row {match.row} ({match.path}), distance {removal.distance}")
    lines.append(f"All of them are listed in {run.output / REPORT_NAME}.")
    return "\n".join(lines)
