"""The streaming sample stream (rsmodel.data.StreamingTrainingStream over rsmodel.streaming): order independent of
DataLoader workers, each worker reading only its own logical streams, the byte-bounded shuffle buffer,
determinism, resume, unusable rows and unreadable shards."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
datasets = pytest.importorskip("datasets")

import rsmodel.data as rsdata_module  # noqa: E402
from rsmodel import streaming  # noqa: E402
from rsmodel.data import CropFlipRotate, StreamingTrainingStream, open_sources  # noqa: E402
from rsmodel.errors import TrainingDataError, TrainRecipeError  # noqa: E402
from rsmodel.train_recipe import DataSource, DataSpec, recipe_from_dict  # noqa: E402


def png(color, size=(24, 20)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def write_parquet(folder: Path, rows: list[dict], row_group_size: int, files: int = 1) -> Path:
    """Rows {image, captions, source_id} as an rsdata-style folder: ``files`` Parquet files of row groups of
    ``row_group_size`` rows, with datasets' schema metadata (``image`` an ``Image()``)."""
    import pyarrow.parquet as pq

    features = datasets.Features({"image": datasets.Image(), "captions": datasets.List(datasets.Value("string")),
                                  "source_id": datasets.Value("string")})
    (folder / "data").mkdir(parents=True, exist_ok=True)
    share = -(-len(rows) // files)
    for index in range(files):
        part = rows[index * share:(index + 1) * share]
        table = datasets.Dataset.from_dict({
            "image": [{"bytes": r["image"], "path": None} if r["image"] is not None else None for r in part],
            "captions": [r["captions"] for r in part], "source_id": [r["source_id"] for r in part]},
            features=features).data.table
        pq.write_table(table, folder / "data" / f"train-{index:05d}-of-{files:05d}.parquet",
                       row_group_size=row_group_size)
    return folder


def rows_of(n: int, prefix: str) -> list[dict]:
    return [{"image": png((7 * i % 255, 40, 90)), "captions": [f"{prefix}{i}"], "source_id": f"{prefix}{i}.png"}
            for i in range(n)]


def two_sources(tmp_path: Path) -> tuple[DataSource, DataSource]:
    a = write_parquet(tmp_path / "a", rows_of(30, "a"), row_group_size=4, files=2)
    b = write_parquet(tmp_path / "b", rows_of(9, "b"), row_group_size=3)
    return DataSource(str(a)), DataSource(str(b), weight=1.5)


def make_stream(sources, *, seed=3, batch=4, block=None, streams=6, rows=10000, size=256 << 20, cls=None):
    opened = open_sources(DataSpec(sources=tuple(sources), streaming=True))
    return (cls or StreamingTrainingStream)(opened, augment=CropFlipRotate(16), image_column="image",
                                            caption_column="captions", data_seed=seed, loader_batch_size=batch,
                                            block_size=block, streams=streams, shuffle_buffer=rows,
                                            shuffle_buffer_bytes=size)


def loaded(data, workers: int, samples: int, batch: int = 4) -> list[tuple[str, bytes]]:
    loader = torch.utils.data.DataLoader(data, batch_size=batch, num_workers=workers,
                                         collate_fn=lambda items: [(e["caption"], e["pixels"].tobytes())
                                                                   for e in items])
    out = []
    for items in loader:
        out.extend(items)
        if len(out) >= samples:
            return out[:samples]


# -------------------------------------------------------------------------------------------------- the order

@pytest.mark.parametrize("streams", [6, 4])
def test_order_does_not_depend_on_dataloader_workers(tmp_path, streams):
    sources = two_sources(tmp_path)
    single = loaded(make_stream(sources, streams=streams, rows=24), 0, 120)
    for workers in (1, 2, 3):
        assert loaded(make_stream(sources, streams=streams, rows=24), workers, 120) == single, workers
    captions = [caption for caption, _ in single]
    assert {c[0] for c in captions} == {"a", "b"}
    # Weights: a's 30 rows once, b's 9 rows 1.5 times per unit epoch (at row-group granularity).
    assert 0.1 < sum(c.startswith("b") for c in captions) / len(captions) < 0.5


def test_same_seed_same_samples_other_seed_other_samples(tmp_path):
    sources = two_sources(tmp_path)
    first, again = loaded(make_stream(sources), 0, 48), loaded(make_stream(sources), 0, 48)
    assert first == again
    assert [c for c, _ in loaded(make_stream(sources, seed=4), 0, 48)] != [c for c, _ in first]


def test_the_contrastive_batch_not_the_per_process_batch_defines_the_order(tmp_path):
    """One process with batch 8, or the main process of two reading batches of 4 for a contrastive batch of 8
    (accelerate dispatches an IterableDataset's batches from the main process): the same samples."""
    sources = two_sources(tmp_path)
    one = loaded(make_stream(sources, batch=8, block=8), 0, 96, batch=8)
    two = loaded(make_stream(sources, batch=4, block=8), 2, 96, batch=4)
    assert one == two


def test_each_process_decodes_only_its_slice_of_every_block(tmp_path):
    """Two processes (each reading the stream in blocks of the contrastive batch, as accelerate's
    IterableDatasetShard does): process p decodes slice p of every block and yields None for the other slice."""
    sources = two_sources(tmp_path)
    one = loaded(make_stream(sources, batch=8, block=8), 0, 48, batch=8)
    parts = []
    for rank in range(2):
        opened = open_sources(DataSpec(sources=tuple(sources), streaming=True))
        data = StreamingTrainingStream(opened, augment=CropFlipRotate(16), image_column="image",
                                       caption_column="captions", data_seed=3, loader_batch_size=8, block_size=8,
                                       streams=6, process=(rank, 2))
        items = [next(it) for it in [iter(data)] for _ in range(48)]
        assert all((item is None) == ((k % 8) // 4 != rank) for k, item in enumerate(items))
        parts.append(items)
    merged = [a if a is not None else b for a, b in zip(*parts, strict=True)]
    assert [(e["caption"], e["pixels"].tobytes()) for e in merged] == one


def test_every_row_is_read_each_unit_epoch(tmp_path):
    """With weight 1, one buffer-free pass over a unit epoch's rows covers every row exactly once."""
    folder = write_parquet(tmp_path / "a", rows_of(24, "a"), row_group_size=4, files=3)
    data = make_stream([DataSource(str(folder))], streams=2, rows=1, batch=4, block=4)
    captions = [caption for caption, _ in loaded(data, 0, 240)]
    assert sorted(set(captions)) == sorted(f"a{i}" for i in range(24))
    counts = {c: captions.count(c) for c in set(captions)}
    assert min(counts.values()) >= 8 and max(counts.values()) <= 12


# ------------------------------------------------------------------------------------- workers and their shards

def _recording(path: Path):
    real = streaming.read_unit

    def read_unit(unit, *args, **kwargs):
        info = torch.utils.data.get_worker_info()
        for index, row in real(unit, *args, **kwargs):
            with open(path, "a") as log:
                log.write(f"{info.id if info else -1} {unit.file} {unit.row_group} {index}\n")
            yield index, row

    return read_unit


def _streams_logged(path: Path):
    real = streaming.stream_units

    def stream_units(units, weights, seed, stream, streams):
        info = torch.utils.data.get_worker_info()
        with open(path, "a") as log:
            log.write(f"{info.id if info else -1} {stream}\n")
        yield from real(units, weights, seed, stream, streams)

    return stream_units


@pytest.mark.skipif(torch.multiprocessing.get_start_method(allow_none=True) not in (None, "fork"),
                    reason="the patched readers reach DataLoader workers only through fork")
def test_each_worker_reads_only_its_own_logical_streams(tmp_path, monkeypatch):
    sources = two_sources(tmp_path)
    reads, streams_log = tmp_path / "reads.log", tmp_path / "streams.log"
    monkeypatch.setattr(rsdata_module, "read_unit", _recording(reads))
    monkeypatch.setattr(rsdata_module, "stream_units", _streams_logged(streams_log))
    samples = 4 * 6 * 5  # five rounds of the 6 streams
    loaded(make_stream(sources, streams=6, rows=6), 0, samples)
    rows_one_worker = len(reads.read_text().splitlines())
    reads.unlink()
    streams_log.unlink()

    loaded(make_stream(sources, streams=6, rows=6), 3, samples)
    opened = {}
    for line in streams_log.read_text().splitlines():
        worker, stream = map(int, line.split())
        opened.setdefault(worker, set()).add(stream)
    assert opened == {0: {0, 3}, 1: {1, 4}, 2: {2, 5}}
    per_worker = {}
    for line in reads.read_text().splitlines():
        per_worker[int(line.split()[0])] = per_worker.get(int(line.split()[0]), 0) + 1
    assert set(per_worker) == {0, 1, 2}
    # Together the three workers read about what one reads alone (DataLoader prefetching reads a little more).
    assert sum(per_worker.values()) <= 1.5 * rows_one_worker
    assert max(per_worker.values()) <= 0.6 * rows_one_worker


def test_owned_streams():
    # One process: batch b is block b; worker w of W (W dividing L) owns the streams l with l % W == w.
    assert [streaming.owned_streams(w, 3, 0, 4, 4, 6) for w in range(3)] == [[0, 3], [1, 4], [2, 5]]
    assert streaming.owned_streams(0, 1, 0, 4, 4, 6) == [0, 1, 2, 3, 4, 5]
    # A resumed run starts at batch 7: worker 0 serves batches 7, 9, 11 ...
    assert streaming.owned_streams(0, 2, 7, 4, 4, 6) == [1, 3, 5]
    # Main process of two: blocks of 8 from loader batches of 4; worker 0 serves the first half of every block.
    assert streaming.owned_streams(0, 2, 0, 4, 8, 6) == list(range(6))
    # W not dividing L: a worker reads streams whose other blocks other workers decode.
    assert streaming.owned_streams(0, 4, 0, 4, 4, 6) == [0, 2, 4]


# ----------------------------------------------------------------------------------------- the shuffle buffer

def test_the_shuffle_buffer_is_bounded_in_bytes():
    held, peak = [0], [0]

    def items():
        for i in range(200):
            size = 10 if i % 3 else 35
            yield (i, size), size
            held[0] += size  # the buffer has taken the item by the time the next one is asked for
            peak[0] = max(peak[0], held[0])

    out = []
    for item, size in streaming.shuffled(items(), np.random.default_rng(0), max_rows=1000, max_bytes=100):
        held[0] -= size
        out.append(item)
    assert sorted(out) == list(range(200)) and out != sorted(out)
    assert 90 <= peak[0] <= 100
    # A one-row buffer keeps the order; items larger than max_bytes are held alone, one at a time.
    assert list(streaming.shuffled(((i, 1) for i in range(5)), np.random.default_rng(0), 1, 100)) == [0, 1, 2, 3, 4]
    assert list(streaming.shuffled(((i, 500) for i in range(3)), np.random.default_rng(0), 10, 100)) == [0, 1, 2]


def test_the_byte_bound_limits_how_far_rows_move(tmp_path):
    """End to end: 6 streams sharing 6 rows' worth of bytes hold one row each, so the order is the unit order;
    with room for all rows it is shuffled."""
    folder = write_parquet(tmp_path / "a", rows_of(24, "a"), row_group_size=24)
    source = DataSource(str(folder))
    row_bytes = max(len(r["image"]) + len(r["captions"][0]) for r in rows_of(24, "a"))
    tight = make_stream([source], streams=6, size=6 * row_bytes, batch=4, block=4)
    assert tight.stream_bytes == row_bytes
    first = [int(c[1:]) for c, _ in loaded(tight, 0, 4)]
    assert first == [0, 1, 2, 3]  # one row group, stream 0: the rows in file order
    roomy = make_stream([source], streams=6, batch=4, block=4)
    assert [int(c[1:]) for c, _ in loaded(roomy, 0, 24)] != list(range(24))


def test_recipe_options(tmp_path):
    base = {"name": "r", "model": {"config": {}}, "training": {"max_steps": 1, "output_dir": str(tmp_path)},
            "data": {"path": "x", "streaming": True, "shuffle_buffer_bytes": 1 << 20, "streams": 8}}
    recipe = recipe_from_dict(base)
    assert (recipe.data.shuffle_buffer_bytes, recipe.data.streams) == (1 << 20, 8)
    assert recipe_from_dict({**base, "data": {"path": "x"}}).data.shuffle_buffer_bytes == 256 << 20
    for key, value in (("shuffle_buffer_bytes", 0), ("streams", "many"), ("shuffle_buffer_bytes", 1.5)):
        with pytest.raises(TrainRecipeError, match=f"data.{key} must be an integer"):
            recipe_from_dict({**base, "data": {"path": "x", key: value}})


# ------------------------------------------------------------------------------------------------- resume

def test_a_stream_started_later_continues_the_same_samples(tmp_path):
    sources = two_sources(tmp_path)
    whole = loaded(make_stream(sources), 0, 96)
    for workers in (0, 2):
        later = make_stream(sources)
        later.start_at(40)
        assert loaded(later, workers, 56) == whole[40:], workers
    with pytest.raises(ValueError, match="multiple of the loader batch"):
        make_stream(sources).start_at(6)


# ------------------------------------------------------------------------------------------------- bad data

def test_unusable_rows_are_skipped(tmp_path):
    rows = rows_of(12, "a")
    for i in (1, 4):
        rows[i]["captions"] = ["  "]
    rows[7]["captions"] = None
    rows[9]["image"] = None
    for group in (5, 12):  # several units, and one unit read over and over
        folder = write_parquet(tmp_path / f"a{group}", rows, row_group_size=group)
        captions = {c for c, _ in loaded(make_stream([DataSource(str(folder))], streams=2), 0, 80)}
        assert captions == {f"a{i}" for i in range(12) if i not in (1, 4, 7, 9)}

    bad = write_parquet(tmp_path / "bad", [{**row, "captions": []} for row in rows_of(5, "b")], row_group_size=2)
    with pytest.raises(TrainingDataError, match="yielded no usable row"):
        loaded(make_stream([DataSource(str(bad))], streams=2), 0, 4)


def test_an_unreadable_shard_is_named(tmp_path):
    folder = write_parquet(tmp_path / "a", rows_of(16, "a"), row_group_size=4, files=2)
    broken = folder / "data" / "train-00001-of-00002.parquet"
    good = broken.read_bytes()
    broken.write_bytes(b"PAR1 not really")
    with pytest.raises(TrainingDataError, match=f"{broken}: not a readable Parquet file"):
        make_stream([DataSource(str(folder))])

    broken.write_bytes(good)
    data = make_stream([DataSource(str(folder))], streams=1)
    # Replaced after the footers were read: the first read of one of its row groups names the file and group.
    broken.write_bytes(good[:4] + bytes(len(good) - 8) + good[-4:])
    with pytest.raises(TrainingDataError, match=rf"{broken}: row group \d+: cannot be read while streaming"):
        loaded(data, 0, 64)


def test_streaming_needs_parquet_and_the_columns(tmp_path):
    folder = tmp_path / "json"
    folder.mkdir()
    (folder / "train.jsonl").write_text(json.dumps({"image": "x", "captions": ["c"]}) + "\n")
    with pytest.raises(TrainingDataError, match="streaming reads Parquet files; its data files are json"):
        open_sources(DataSpec(sources=(DataSource(str(folder)),), streaming=True))
    no_captions = tmp_path / "nocap"
    (no_captions / "data").mkdir(parents=True)
    datasets.Dataset.from_dict({"image": [{"bytes": png((1, 2, 3)), "path": None}], "text": ["y"]},
                               features=datasets.Features({"image": datasets.Image(),
                                                           "text": datasets.Value("string")})) \
        .to_parquet(str(no_captions / "data" / "train-00000-of-00001.parquet"))
    with pytest.raises(TrainingDataError, match="no column 'captions'"):
        open_sources(DataSpec(sources=(DataSource(str(no_captions)),), streaming=True))


def test_the_record_has_the_footer_rows_and_fingerprint(tmp_path):
    a, _ = two_sources(tmp_path)
    (opened,) = open_sources(DataSpec(sources=(a,), streaming=True))
    record = opened.record()
    assert record["rows"] == 30 and record["files"] == 2 and record["usable_rows"] is None
    assert record["fingerprint"].startswith("files-sha256:")
    assert [(Path(u.file).name, u.row_group, u.rows) for u in opened.table][:3] == \
        [("train-00000-of-00002.parquet", 0, 4), ("train-00000-of-00002.parquet", 1, 4),
         ("train-00000-of-00002.parquet", 2, 4)]
    assert os.path.isabs(opened.table[0].file)


def test_a_hub_repo_streams_from_its_parquet_files_at_the_pinned_revision(rsdata_demo_dataset, tmp_path, local_hub):
    import shutil

    from rsdata.publish import push_dataset

    folder = tmp_path / "dataset"
    shutil.copytree(rsdata_demo_dataset, folder)
    push_dataset(folder, "user/demo", progress=False)
    commit = local_hub.branches("user/demo", "dataset")["main"]
    source = DataSource("user/demo", revision=commit)
    (opened,) = open_sources(DataSpec(sources=(source,), streaming=True, cache_dir=str(tmp_path / "cache")))
    assert opened.commit == commit and opened.num_rows == 40
    assert all(unit.file.startswith(f"hf://datasets/user/demo@{commit}/") for unit in opened.table)
    local = make_stream([DataSource(str(rsdata_demo_dataset))])
    hub = StreamingTrainingStream([opened], augment=CropFlipRotate(16), image_column="image",
                                  caption_column="captions", data_seed=3, loader_batch_size=4, streams=6)
    assert loaded(hub, 0, 24) == loaded(local, 0, 24)


@pytest.mark.parametrize("chunk", [1, 3, 5])
def test_a_unit_read_chunk_by_chunk_without_an_open_reader_gives_the_same_rows(tmp_path, chunk):
    """Units larger than a stream's buffer are read by a reader per chunk (pyarrow holds a whole data page, and a
    row group of large images is one page): the same rows either way."""
    folder = write_parquet(tmp_path / "a", rows_of(13, "a"), row_group_size=13)
    (unit,) = streaming.shard_units([str(next((folder / "data").iterdir()))])
    held = list(streaming.read_unit(unit, "image", "captions", chunk))
    assert [index for index, _ in held] == list(range(13)) and held[4][1]["source_id"] == "a4.png"
    assert list(streaming.read_unit(unit, "image", "captions", chunk, hold=False)) == held
