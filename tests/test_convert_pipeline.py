"""The conversion's pipeline: row groups capped in bytes, images read ahead, Parquet written on a thread, and the
caption names' plural library loaded once in the parent rather than in every worker process."""

from __future__ import annotations

import json
import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import rsdata
import rsdata.build as build
import rsdata.schema as schema
from rsdata.shard_io import BackgroundParquetWriter, ReadAhead
from tests.conftest import image_bytes, write_dota_item

REPO = Path(__file__).resolve().parents[1]


def varied_source(root: Path, count: int = 12) -> Path:
    """DOTA items whose JPEGs differ in size (noise-free but differently sized), so byte caps cut unevenly."""
    for index in range(count):
        side = 64 + 24 * (index % 5)
        write_dota_item(root, f"V{index:03d}", ["2 2 12 2 12 12 2 12 plane 0"] * (1 + index % 3),
                        image=image_bytes(side, side, "PNG", color=(index * 20, 80, 40)))
    return root


def row_groups(folder: Path) -> list[list[int]]:
    """Image byte lengths of every row group of every shard, in order."""
    groups = []
    for shard in sorted((folder / "data").glob("*.parquet")):
        parquet = pq.ParquetFile(shard)
        for index in range(parquet.num_row_groups):
            images = parquet.read_row_group(index, columns=["image"]).column("image").to_pylist()
            groups.append([len(image["bytes"]) for image in images])
    return groups


def output_files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".rsdata" not in p.parts}


@pytest.mark.parametrize("num_proc", [1, 2])
def test_row_groups_are_capped_in_bytes(tmp_path, monkeypatch, num_proc):
    source = varied_source(tmp_path / "src")
    reference = tmp_path / "uncapped"
    rsdata.convert(source, reference, format="dota", progress=False)
    sizes = [size for group in row_groups(reference) for size in group]
    assert len(row_groups(reference)) == len(list((reference / "data").glob("*.parquet")))  # 12 rows: one group

    cap = sorted(sizes)[len(sizes) // 2] * 2 + 1  # about two median images per group
    monkeypatch.setattr(schema, "ROW_GROUP_MAX_BYTES", cap)
    capped = tmp_path / f"capped-{num_proc}"
    rsdata.convert(source, capped, format="dota", num_proc=num_proc, progress=False)
    groups = row_groups(capped)
    assert len(groups) > 3
    for group in groups:
        assert sum(group) <= cap or len(group) == 1, (group, cap)
    for previous, following in zip(groups, groups[1:]):  # a group closes only when the next image would not fit
        assert sum(previous) + following[0] > cap
    assert [size for group in groups for size in group] == sizes  # same rows, same order
    assert pq.read_table(capped / "data").to_pylist() == pq.read_table(reference / "data").to_pylist()


def test_capped_row_groups_are_the_same_bytes_with_one_and_two_processes(tmp_path, monkeypatch):
    source = varied_source(tmp_path / "src", count=20)
    monkeypatch.setattr(schema, "ROW_GROUP_MAX_BYTES", 1)  # below every image: one row per group
    for num_proc in (1, 2):
        rsdata.convert(source, tmp_path / str(num_proc), format="dota", num_proc=num_proc, progress=False,
                       max_shard_bytes=1_000)
    one, two = output_files(tmp_path / "1"), output_files(tmp_path / "2")
    assert len([name for name in one if name.endswith(".parquet")]) > 3
    assert all(len(group) == 1 for group in row_groups(tmp_path / "1"))
    assert one == two


def test_image_column_from_buffers_equals_arrow_array():
    values = [b"", b"\x00\x01", bytes(range(256)) * 3, b"x"]
    built = schema.binary_array(values)
    assert built.equals(pa.array(values, pa.binary())) and built.null_count == 0
    assert schema.binary_array([]).equals(pa.array([], pa.binary()))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="workers inherit by fork")
def test_workers_do_not_load_the_caption_plural_library_again(tmp_path, monkeypatch):
    """The parent loads inflect (and names the recipe's labels) before starting the pool; forked workers find both
    loaded. Before, every worker imported inflect itself (2-3 s each)."""
    from rsdata.captions import vocabulary

    monkeypatch.delitem(sys.modules, "inflect", raising=False)  # as in a fresh `rsdata convert` process
    vocabulary._engine.cache_clear()
    seen = tmp_path / "workers.jsonl"
    original = build._init_worker

    def init_and_record(job, *shared):
        original(job, *shared)
        with open(seen, "a", encoding="utf-8") as handle:
            handle.write(json.dumps({"pid": os.getpid(), "inflect": "inflect" in sys.modules,
                                     "engine": vocabulary._engine.cache_info().currsize,
                                     "ship": getattr(job.vocabulary._cache.get("ship"), "singular", None)}) + "\n")

    monkeypatch.setattr(build, "_init_worker", init_and_record)
    source = varied_source(tmp_path / "src", count=8)
    rsdata.convert(source, tmp_path / "out", format="dota", num_proc=2, progress=False, max_shard_bytes=2_000,
                   names={"ship": "boat"})
    workers = [json.loads(line) for line in seen.read_text().splitlines()]
    assert len(workers) == 2 and all(w["pid"] != os.getpid() for w in workers)
    assert all(w["inflect"] and w["engine"] == 1 for w in workers), workers
    assert all(w["ship"] == "boat" for w in workers), "the recipe's names arrive named by the parent"
    captions = pq.read_table(tmp_path / "out" / "data").column("captions").to_pylist()
    assert any("plane" in caption for row in captions for caption in row)


NAMES_SCRIPT = """
import json, sys
words = json.loads(sys.argv[1])
if sys.argv[2] == "instrumented":
    import inflect
else:
    import typeguard
    before = typeguard.typechecked
    from rsdata.captions.vocabulary import import_inflect
    inflect = import_inflect()
    assert typeguard.typechecked is before, "the decorator is put back"
engine = inflect.engine()
print(json.dumps([[engine.plural_noun(w), engine.a(w)] for w in words]))
"""

WORDS = ["plane", "ship", "storage tank", "baseball diamond", "tennis court", "basketball court", "harbor",
         "bridge", "large vehicle", "small vehicle", "helicopter", "roundabout", "soccer ball field", "swimming pool",
         "container crane", "airport", "helipad", "bus", "ferry", "person", "mouse", "child", "ox", "cactus",
         "hour", "honest broker", "unicorn", "uav", "European city", "one-way street", "x-ray machine", "FBI office",
         "yacht", "wind turbine", "chimney", "dam", "expressway service area", "overpass", "train station", "leaf"]


def test_inflect_without_typeguard_instrumentation_gives_the_same_names():
    answers = {}
    for mode in ("instrumented", "uninstrumented"):
        done = subprocess.run([sys.executable, "-c", NAMES_SCRIPT, json.dumps(WORDS), mode], cwd=REPO,
                              capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
        assert done.returncode == 0, done.stderr
        answers[mode] = json.loads(done.stdout)
    assert answers["instrumented"] == answers["uninstrumented"]


# ---------------------------------------------------------------------------------------------------------------
# The two threads on their own


class Item:
    def __init__(self, path: Path):
        self.image_path, self.size_bytes = path, path.stat().st_size if path.is_file() else 0


def hinted_files(monkeypatch) -> list[str]:
    """Record the files ``ReadAhead`` hints (their names, through the descriptors it advises)."""
    hinted = []
    monkeypatch.setattr(os, "posix_fadvise", lambda fd, offset, length, advice: hinted.append(
        (os.path.basename(os.readlink(f"/proc/self/fd/{fd}")), offset, length, advice)), raising=False)
    return hinted


def test_read_ahead_yields_in_order_and_hints_only_regular_files(tmp_path, monkeypatch):
    hinted = hinted_files(monkeypatch)
    files = []
    for index in range(6):
        files.append(tmp_path / f"f{index}.bin")
        files[-1].write_bytes(bytes([index]) * (index + 1))
    missing = tmp_path / "missing.bin"
    fifo = tmp_path / "fifo.bin"
    os.mkfifo(fifo)  # opening it could block: never opened
    folder = tmp_path / "folder.bin"
    folder.mkdir()
    link = tmp_path / "link.bin"
    link.symlink_to(files[0])  # a link may lead out of the source: never followed here
    items = [Item(p) for p in (files[0], missing, files[1], fifo, folder, link, *files[2:])]

    assert list(ReadAhead(lambda item: item.image_path, max_files=2)(items)) == items
    assert [name for name, *_ in hinted] == [f"f{i}.bin" for i in range(6)]
    assert all(advice == os.POSIX_FADV_WILLNEED and (offset, length) == (0, 0) for _, offset, length, advice in hinted)


def test_read_ahead_hints_at_most_its_window_ahead(tmp_path, monkeypatch):
    hinted = hinted_files(monkeypatch)
    items = []
    for index in range(10):
        path = tmp_path / f"f{index}.bin"
        path.write_bytes(b"x" * 100)
        items.append(Item(path))
    for position, item in enumerate(ReadAhead(lambda item: item.image_path, max_files=8, max_bytes=250)(items)):
        assert position < len(hinted) <= position + 3  # 250 bytes: this file and at most two more
    assert len(hinted) == 10
    hinted.clear()
    assert len(list(ReadAhead(lambda item: None)(items))) == 10 and hinted == []  # nothing to read ahead


def test_a_build_hints_its_images_and_reads_the_same_bytes(tmp_path, monkeypatch):
    """The build hints each image file once and its output does not depend on the hints."""
    src = varied_source(tmp_path / "src", 8)
    plain = rsdata.convert(src, tmp_path / "plain", format="dota", progress=False)
    hinted = hinted_files(monkeypatch)
    hinting = rsdata.convert(src, tmp_path / "hinted", format="dota", progress=False)
    assert sorted(name for name, *_ in hinted) == sorted(p.name for p in (src / "images").iterdir())
    assert hinting.report.content_digest == plain.report.content_digest


def test_background_writer_writes_in_order_and_raises_the_threads_error(tmp_path):
    table_schema = pa.schema([("n", pa.int64())])
    path = tmp_path / "ok.parquet"
    with BackgroundParquetWriter(path, table_schema, row_group_size=10) as writer:
        for start in range(0, 30, 10):
            writer.write(pa.table({"n": list(range(start, start + 10))}, schema=table_schema))
    parquet = pq.ParquetFile(path)
    assert parquet.num_row_groups == 3 and parquet.read().column("n").to_pylist() == list(range(30))

    with pytest.raises((ValueError, pa.ArrowInvalid)):
        with BackgroundParquetWriter(tmp_path / "bad.parquet", table_schema, row_group_size=10) as writer:
            writer.write(pa.table({"other": ["text"]}))  # not the file's schema: fails on the writer thread
            writer.write(pa.table({"n": [1]}, schema=table_schema))


def test_workers_hash_their_shards_and_publishing_trusts_only_those_hashes(tmp_path, monkeypatch):
    """Each worker hashes the shard it wrote (in parallel with the other workers), publishing uses
    those hashes instead of reading every shard again, and the build digest is the one of the published files'
    own bytes."""
    from rsdata.dataset_files import content_digest, file_sha256, final_names, StagedShard

    src = varied_source(tmp_path / "src", 12)
    hashed_at_publish = []
    import rsdata.dataset_files as dataset_files

    real_sha = dataset_files.file_sha256

    monkeypatch.setattr(schema, "ROW_GROUP_MAX_BYTES", 4_000)
    monkeypatch.setattr(dataset_files, "file_sha256", lambda path: hashed_at_publish.append(path) or real_sha(path))
    result = rsdata.convert(src, tmp_path / "out", format="dota", num_proc=2, progress=False, max_shard_bytes=1)
    assert hashed_at_publish == []
    published = sorted((tmp_path / "out" / "data").glob("*.parquet"))
    assert len(published) > 1
    states = [json.loads(p.read_text()) for p in sorted((tmp_path / "out" / ".rsdata" / "shards").glob("*.json"))]
    assert sorted(s["sha256"] for s in states) == sorted(real_sha(p) for p in published)
    staged = [StagedShard("data", "train", 1, p) for p in published]
    expected = content_digest((name, real_sha(shard.path)) for shard, name in final_names(staged))
    assert all(p.name.endswith(f"-{expected}.parquet") for p in published)
    assert result.report.content_digest == expected


def test_a_failing_shard_stops_the_other_workers_without_killing_them(tmp_path, monkeypatch):
    """Bad input in one shard: the other workers stop at their next image and the pool ends by itself.
    ``Pool.terminate`` is not used: killing a worker while it holds the result queue's lock (sending its shard's
    statistics) could leave the pool waiting for that lock for ever."""
    import multiprocessing.pool

    from rsdata.errors import RecordError

    terminated = []
    monkeypatch.setattr(multiprocessing.pool.Pool, "terminate", lambda self: terminated.append(self))
    src = varied_source(tmp_path / "src", 24)
    write_dota_item(src, "V007", ["2 2 12 2 12 12 2 12 plane 0", "1 2 3"])
    with pytest.raises(RecordError, match="V007.txt"):
        rsdata.convert(src, tmp_path / "out", format="dota", num_proc=2, progress=False, max_shard_bytes=1)
    assert terminated == []
    assert not list((tmp_path / "out" / ".rsdata" / "staging").glob(".*.tmp"))
    assert not (tmp_path / "out" / "data").exists() or not list((tmp_path / "out" / "data").iterdir())
