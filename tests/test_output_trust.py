"""Outputs read the way a user reads them: ``datasets.load_dataset(OUT)`` with the default cache (one cache for
the whole test session, as ``HF_HOME`` is for a user) returns what is on disk now: never a stale build, never a
partial one, never a refusal over an empty shard."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import datasets
import pyarrow.parquet as pq
import pytest

from rsdata.cli import main
from rsdata.dataset_files import SHARD_NAME
from tests.conftest import write_dota_item

REPO = Path(__file__).resolve().parents[1]
BOX = "10 10 30 10 30 30 10 30 {} 0"


def convert(source: Path, out: Path, *args: str) -> int:
    return main(["convert", "dota", str(source), str(out), "--no-progress", *args])


def dota_source(root: Path, counts: dict[str, int], category: str = "plane") -> Path:
    for split, count in counts.items():
        for index in range(count):
            write_dota_item(root, f"{split[0].upper()}{index:04d}", [BOX.format(category)], split=split)
    return root


def rows(folder: Path, **kwargs) -> dict[str, list[str]]:
    """Each split's source ids, as load_dataset (default cache) gives them."""
    loaded = datasets.load_dataset(str(folder), **kwargs)
    return {split: list(part["source_id"]) for split, part in loaded.items()}


def output_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".rsdata" not in p.parts}


# ---------------------------------------------------------------------------------------------------------------
# 1. Fresh reads


def test_folders_of_the_same_name_and_rebuilds_load_their_own_rows(tmp_path):
    small = dota_source(tmp_path / "src-small", {"train": 3, "val": 1})  # the same splits: the same card patterns
    large = dota_source(tmp_path / "src-large", {"train": 7, "val": 2}, category="ship")
    first, second = tmp_path / "a" / "dataset", tmp_path / "b" / "dataset"
    assert convert(small, first) == 0 and convert(large, second) == 0

    assert {k: len(v) for k, v in rows(first).items()} == {"train": 3, "validation": 1}
    # Before: datasets keyed both folders' builds by their name and card patterns, and returned 3 and 1 rows here.
    assert {k: len(v) for k, v in rows(second).items()} == {"train": 7, "validation": 2}

    # A rebuild in place with other inputs is read afresh, and the earlier shards are gone.
    assert convert(large, first, "--overwrite") == 0
    assert {k: len(v) for k, v in rows(first).items()} == {"train": 7, "validation": 2}
    names = [p.name for p in (first / "data").iterdir()]
    digest = json.loads((first / "build_report.json").read_text())["content_digest"]
    assert names and all(SHARD_NAME.match(n)["digest"] == digest for n in names)
    # Streaming reads the same rows.
    streamed = datasets.load_dataset(str(first), split="train", streaming=True)
    assert [r["source_id"] for r in streamed] == rows(first)["train"]


def test_same_build_in_two_places_has_the_same_names(tmp_path):
    source = dota_source(tmp_path / "src", {"train": 4})
    assert convert(source, tmp_path / "x") == 0
    assert convert(source, tmp_path / "y", "--num-proc", "2") == 0
    assert output_files(tmp_path / "x") == output_files(tmp_path / "y")


# ---------------------------------------------------------------------------------------------------------------
# 2. No partial dataset

KILL_AFTER_SHARDS = """
import os, signal, sys
import rsdata.build as build
original, written = build._ShardJob.write, []
def write(self, shard, on_item):
    stats = original(self, shard, on_item)
    written.append(shard)
    if len(written) == int(sys.argv[1]):
        os.kill(os.getpid(), signal.SIGKILL)
    return stats
build._ShardJob.write = write
from rsdata.cli import main
main(["convert", "dota", sys.argv[2], sys.argv[3], "--max-shard-mb", "0.002", "--no-progress"])
"""


def test_a_killed_rebuild_is_not_loadable_and_resumes_to_the_uninterrupted_bytes(tmp_path):
    old = dota_source(tmp_path / "old", {"train": 2})
    source = dota_source(tmp_path / "src", {"train": 10, "val": 4}, category="ship")
    reference, out = tmp_path / "reference", tmp_path / "out"
    assert convert(source, reference, "--max-shard-mb", "0.002") == 0
    assert convert(old, out) == 0 and len(rows(out)["train"]) == 2

    # An --overwrite rebuild killed midway: neither the old build nor a part of the new one is loadable.
    script = KILL_AFTER_SHARDS.replace('"--no-progress"]', '"--no-progress", "--overwrite"]')
    killed = subprocess.run([sys.executable, "-c", script, "3", str(source), str(out)], cwd=REPO,
                            capture_output=True, text=True)
    assert killed.returncode < 0, killed.stderr
    with pytest.raises(FileNotFoundError, match="rsdata build unfinished - run the same rsdata command again"):
        datasets.load_dataset(str(out))
    with pytest.raises(FileNotFoundError, match="rsdata build unfinished"):
        datasets.load_dataset(str(out), streaming=True)
    assert not (out / "build_report.json").exists()
    assert "Unfinished rsdata build" in (out / "README.md").read_text()

    assert convert(source, out, "--max-shard-mb", "0.002") == 0
    assert output_files(out) == output_files(reference)
    assert {k: len(v) for k, v in rows(out).items()} == {"train": 10, "validation": 4}


def test_a_stop_on_bad_input_leaves_no_finished_split_loadable(tmp_path, capsys):
    source = dota_source(tmp_path / "src", {"train": 3, "val": 2})
    write_dota_item(source, "V0001", ["10 10 30 10 30 30 10 30 plane 0", "1 2 3"], split="val")
    out = tmp_path / "out"
    assert convert(source, out) == 1  # train is finished before val stops
    assert "[malformed_line]" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="rsdata build unfinished"):
        datasets.load_dataset(str(out))
    with pytest.raises(FileNotFoundError, match="rsdata build unfinished"):
        datasets.load_dataset(str(out), split="train")


# ---------------------------------------------------------------------------------------------------------------
# 3. No empty shards


def test_mostly_skipped_build_has_no_empty_shard_and_loads_whatever_the_processes(tmp_path):
    root = tmp_path / "src"
    for index in range(24):  # only every 8th record is good: most planned shards end up with no row
        good = index % 8 == 0
        write_dota_item(root, f"P{index:04d}", [BOX.format("plane") if good else "1 2 3"], split="train")
    one, two = tmp_path / "one", tmp_path / "two"
    small = ("--max-shard-mb", "0.002", "--on-error", "skip")
    assert convert(root, one, *small) == 0
    assert convert(root, two, *small, "--num-proc", "2") == 0
    assert output_files(one) == output_files(two)

    shards = sorted((one / "data").iterdir())
    assert shards and all(pq.ParquetFile(p).metadata.num_rows > 0 for p in shards)
    assert [SHARD_NAME.match(p.name)["index"] for p in shards] == [f"{i:05d}" for i in range(len(shards))]
    report = json.loads((one / "build_report.json").read_text())
    assert report["skipped_per_reason"] == {"malformed_line": 21}
    assert report["splits"] == {"train": {"images": 3, "shards": len(shards)}}
    assert rows(one)["train"] == ["P0000", "P0008", "P0016"]
    assert [r["source_id"] for r in datasets.load_dataset(str(one), split="train", streaming=True)] == \
        ["P0000", "P0008", "P0016"]


def test_a_build_that_skips_everything_says_so_and_is_not_loadable(tmp_path, capsys):
    root = tmp_path / "src"
    for index in range(3):
        write_dota_item(root, f"P{index:04d}", ["1 2 3"], split="train")
    out = tmp_path / "out"
    assert convert(root, out, "--on-error", "skip") == 1
    err = capsys.readouterr().err
    assert "no row was written: all 3 source record(s) were left out (malformed_line 3)" in err
    assert json.loads((out / "build_report.json").read_text())["skipped_per_reason"] == {"malformed_line": 3}
    with pytest.raises(FileNotFoundError, match="every source record was left out"):
        datasets.load_dataset(str(out))
