"""The files that make an output folder a loadable dataset, and the moment they do.

Every rsdata writer (``rsdata convert``, a corpus build, ``rsdata dedup``) finishes its Parquet shards in a hidden
staging folder and calls :func:`publish_shards` once the whole output is complete. Two guarantees follow:

- **Never partial.** While a build is unfinished its ``README.md`` is the card written by :func:`mark_unfinished`,
  whose only data file is a name that cannot exist: ``datasets.load_dataset(OUT)`` then fails with
  ``FileNotFoundError: Unable to find '.../rsdata build unfinished - run the same rsdata command again to finish
  it.parquet'``, instead of loading the shards finished so far.
- **Never stale.** ``datasets`` caches the build of a local folder whose card declares ``configs:`` under a key
  made of the folder's *name* and the ``data_files`` *patterns* (not the files): two builds in folders of the
  same name, or a rebuild in place, would share one cache entry. So each published shard's name ends in the
  build's content digest, ``<split>-NNNNN-of-NNNNN-<digest>.parquet``, and the card's patterns name it
  (:func:`split_pattern`): new content is a new pattern, hence a new cache entry.

The digest is the first 16 hex digits of a SHA-256 over every published shard's name (without digest) and
content (:func:`content_digest`): the same rows give the same names whatever the number of processes. Staged
shards with no rows are dropped and the remaining ones of a split renumbered, because one 0-row Parquet file
makes ``datasets`` refuse the whole dataset (``ArrowInvalid: BatchSize must be greater than 0``).

Publishing order: each staged file is renamed to its final name in ``data/`` (a name no earlier build used
unless its content is the same), the caller writes the reports and then the card (the moment readers switch to
the new build), and :func:`remove_stale_shards` deletes the previous build's files. A reader therefore sees
either the old build whole or the new one whole.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

from rsdata.atomic import write_json_atomic, write_text_atomic

CARD_NAME = "README.md"
DATA_DIR = "data"
DIGEST_LENGTH = 16
#: A published shard: ``<split>-<index>-of-<count>[-<digest>].parquet`` (names without a digest are those of
#: rsdata 0.1 builds, still read by ``rsdata dedup``).
SHARD_NAME = re.compile(r"^(?P<split>[A-Za-z0-9_.]+?)-(?P<index>\d{5})-of-(?P<count>\d{5})"
                        r"(?:-(?P<digest>[0-9a-f]{%d}))?\.parquet$" % DIGEST_LENGTH)

UNFINISHED_DATA_FILE = "rsdata build unfinished - run the same rsdata command again to finish it.parquet"
EMPTY_DATA_FILE = "rsdata build has no rows - every source record was left out, see the build report.parquet"


@dataclass(frozen=True)
class StagedShard:
    """One finished shard waiting in the staging folder: its output ``folder`` relative to the dataset root
    (``data``, or ``data/<config>/<source>`` in a corpus), ``split``, ``rows`` and where the file is now."""

    folder: str
    split: str
    rows: int
    path: Path
    sha256: str | None = None  # the file's SHA-256 when its writer hashed it; else publishing hashes the file


@dataclass(frozen=True)
class PublishedShard:
    folder: str
    split: str
    rows: int
    filename: str  # relative to the dataset root, digest included


def shard_filename(folder: str, split: str, index: int, count: int, digest: str) -> str:
    return f"{folder}/{split}-{index:05d}-of-{count:05d}-{digest}.parquet"


def split_pattern(folder: str, split: str, digest: str) -> str:
    """The card's ``data_files`` pattern of one split's shards."""
    return f"{folder}/{split}-*-{digest}.parquet"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def arrow_nbytes(path: Path) -> int:
    """The size of a Parquet file's rows as Arrow data once read (``pyarrow.Table.nbytes``): what ``datasets``
    records as a split's ``num_bytes``. Read one row group at a time, so memory stays at one group."""
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(path)
    return sum(parquet.read_row_group(i).nbytes for i in range(parquet.num_row_groups))


def content_digest(entries: Iterable[tuple[str, str]]) -> str:
    """The build digest of ``(name without digest, file sha256)`` pairs, in publishing order."""
    digest = hashlib.sha256()
    for name, sha in entries:
        digest.update(f"{name}\0{sha}\n".encode())
    return digest.hexdigest()[:DIGEST_LENGTH]


def final_names(staged: Sequence[StagedShard]) -> list[tuple[StagedShard, str]]:
    """The non-empty staged shards with their final names *without* digest (``data/train-00000-of-00002``):
    shards of one folder and split are renumbered in the given order, empty ones left out."""
    kept = [s for s in staged if s.rows > 0]
    counts: dict[tuple[str, str], int] = {}
    for shard in kept:
        counts[shard.folder, shard.split] = counts.get((shard.folder, shard.split), 0) + 1
    seen: dict[tuple[str, str], int] = {}
    names = []
    for shard in kept:
        index = seen.get((shard.folder, shard.split), 0)
        seen[shard.folder, shard.split] = index + 1
        names.append((shard, f"{shard.folder}/{shard.split}-{index:05d}-of-{counts[shard.folder, shard.split]:05d}"))
    return names


def publish_shards(root: Path, staged: Sequence[StagedShard], record: Path) -> tuple[str, list[PublishedShard]]:
    """Move the non-empty ``staged`` shards to their final, digest-named places under ``root``; delete the empty
    ones. Returns the digest and the published shards in order.

    ``record`` (a JSON file in the writer's state folder) remembers where each staged file went, written before
    anything moves: a run killed while moving, or a rerun of a finished build, finds each shard either staged or
    at its recorded final name, and publishing again gives the same names.
    """
    previous = _read_record(record)
    located: list[tuple[StagedShard, str, Path]] = []
    for shard, name in final_names(staged):
        current = shard.path
        if not current.is_file():
            moved = previous.get(shard.path.relative_to(root).as_posix())
            current = root / moved if moved else None
            if current is None or not current.is_file():
                raise FileNotFoundError(f"staged shard {shard.path} is missing and was not published before; "
                                        "remove the output folder's .rsdata state and build again")
        located.append((shard, name, current))
    digest = content_digest((name, shard.sha256 or file_sha256(current)) for shard, name, current in located)
    published = [PublishedShard(shard.folder, shard.split, shard.rows, f"{name}-{digest}.parquet")
                 for shard, name, _ in located]
    write_json_atomic(record, {shard.path.relative_to(root).as_posix(): target.filename
                               for (shard, _, _), target in zip(located, published)})
    for (_, _, current), target in zip(located, published):
        destination = root / target.filename
        if current != destination:
            destination.parent.mkdir(parents=True, exist_ok=True)
            os.replace(current, destination)
    for shard in staged:
        if shard.rows == 0:
            shard.path.unlink(missing_ok=True)
    return digest, published


def remove_stale_shards(root: Path, folders: Iterable[str], keep: Iterable[str]) -> None:
    """Delete the Parquet files (and leftover temporary files) in ``folders`` (relative to ``root``) that are
    not in ``keep`` (file names relative to ``root``): the previous build's shards, once the card names the new
    ones. Empty folders left behind are removed."""
    keep = set(keep)
    for folder in folders:
        path = root / folder
        if not path.is_dir():
            continue
        for file in sorted(path.rglob("*")):
            relative = file.relative_to(root).as_posix()
            if file.is_file() and relative not in keep and (file.suffix == ".parquet" or file.name.endswith(".tmp")):
                file.unlink()
        for sub in sorted((p for p in path.rglob("*") if p.is_dir()), key=lambda p: len(p.parts), reverse=True):
            if not any(sub.iterdir()):
                sub.rmdir()


def mark_unfinished(root: Path, how_to_finish: str, *, reports: Sequence[str] = ()) -> None:
    """Make ``root`` unloadable until the build in progress publishes: replace its card by one whose only data
    file cannot exist (so ``datasets.load_dataset`` names the problem) and remove the finished build's
    ``reports`` (which ``rsdata push`` requires)."""
    for name in reports:
        (root / name).unlink(missing_ok=True)
    write_text_atomic(root / CARD_NAME, _placeholder_card(
        UNFINISHED_DATA_FILE, "Unfinished rsdata build",
        f"This folder holds a build that has not finished, so it holds no dataset yet. {how_to_finish}"))


def mark_empty(root: Path, report_name: str) -> None:
    """The card of a finished build in which every record was left out: nothing to load, and
    ``load_dataset`` says why."""
    write_text_atomic(root / CARD_NAME, _placeholder_card(
        EMPTY_DATA_FILE, "Empty rsdata build",
        f"Every source record was left out; `{report_name}` lists each one with its file, line and reason."))


def is_placeholder_card(card: Path) -> bool:
    """True when ``card`` is the card of an unfinished or empty build."""
    try:
        text = card.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return UNFINISHED_DATA_FILE in text or EMPTY_DATA_FILE in text


def _placeholder_card(data_file: str, title: str, text: str) -> str:
    # A non-glob data file that does not exist makes datasets raise FileNotFoundError naming it, config or not.
    return (f"---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n    path: {json.dumps(data_file)}"
            f"\n---\n\n# {title}\n\n{text}\n")


def _read_record(record: Path) -> dict[str, str]:
    try:
        return json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
