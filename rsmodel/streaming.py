"""Streaming reads of Parquet data: shard units, their endless seeded order, chunked reads and the byte-bounded
shuffle buffer. The sample order built from these parts is defined in :mod:`rsmodel.data`.

A *unit* is one row group of one Parquet file of one source (:class:`ShardUnit`); units come from the files'
footers, so their row counts are exact before anything is read. Local files are read from disk; a Hub repo's files
(``hf://datasets/REPO@COMMIT/...``, resolved at the pinned revision) through ``huggingface_hub.HfFileSystem``.
A unit is read with ``pyarrow.parquet.ParquetFile.iter_batches`` in chunks of a few rows, only the needed columns
(the image column's ``bytes`` field, the caption column, ``source_id``), with buffered column-chunk reads, so the
memory a read holds is a few rows plus the data page being decoded, not a row group (rsdata's row groups of
DOTA-size PNGs are over 100 MiB; when such a group is one page, see :func:`read_unit`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from rsmodel.errors import TrainingDataError

#: seed stream of the unit order (``numpy.random.default_rng([data_seed, UNIT_STREAM, epoch])``)
UNIT_STREAM = 2
#: seed stream of a logical stream's shuffle buffer (``default_rng([data_seed, BUFFER_STREAM, stream])``)
BUFFER_STREAM = 3
#: the most rows one chunked read holds (fewer when rows are large: see :func:`chunk_rows`)
MAX_CHUNK_ROWS = 64
#: bytes pyarrow buffers per column chunk while it reads (instead of the whole column chunk of a row group)
READ_BUFFER_BYTES = 1 << 20
HF_PREFIX = "hf://"


@dataclass(frozen=True)
class ShardUnit:
    """One row group: ``file`` (a local path or an ``hf://`` URL), ``row_group``, its ``rows`` and the footer's
    uncompressed bytes per row (an estimate used to size chunked reads)."""

    file: str
    row_group: int
    rows: int
    bytes_per_row: float


def open_parquet(file: str):
    """A ``pyarrow.parquet.ParquetFile`` over a local path or an ``hf://`` URL, reading column chunks in buffered
    pieces (``pre_buffer`` off) so that memory follows the chunk being read, not the row group."""
    import pyarrow.parquet as pq

    if file.startswith(HF_PREFIX):
        from huggingface_hub import HfFileSystem

        handle = HfFileSystem().open(file, "rb")
        return pq.ParquetFile(handle, buffer_size=READ_BUFFER_BYTES, pre_buffer=False)
    return pq.ParquetFile(file, buffer_size=READ_BUFFER_BYTES, pre_buffer=False)


def shard_units(files: Sequence[str]) -> list[ShardUnit]:
    """The non-empty row groups of ``files`` in file order, from the footers; an unreadable footer is an error
    naming the file."""
    units = []
    for file in files:
        try:
            metadata = open_parquet(file).metadata
        except Exception as error:  # noqa: BLE001 - pyarrow and fsspec raise many types for "cannot read"
            raise TrainingDataError(f"{file}: not a readable Parquet file ({_reason(error)})") from None
        for group in range(metadata.num_row_groups):
            info = metadata.row_group(group)
            if info.num_rows:
                units.append(ShardUnit(file, group, info.num_rows, info.total_byte_size / info.num_rows))
    return units


def epoch_units(units: Sequence[Sequence[ShardUnit]], weights: Sequence[float], data_seed: int,
                epoch: int) -> list[ShardUnit]:
    """Unit epoch ``epoch``: every unit of source ``i`` ``floor(w_i)`` times plus ``floor(frac(w_i) * U_i + u)``
    of its units drawn without replacement (``u`` uniform in [0, 1), so the expected count is ``frac(w_i) * U_i``
    even for a source of one unit), permuted; all draws from ``default_rng([data_seed, UNIT_STREAM, epoch])``."""
    rng = np.random.default_rng([data_seed, UNIT_STREAM, epoch])
    chosen: list[ShardUnit] = []
    for source_units, weight in zip(units, weights, strict=True):
        whole, fraction = int(weight), weight - int(weight)
        chosen.extend(list(source_units) * whole)
        if fraction:
            extra = min(int(fraction * len(source_units) + rng.random()), len(source_units))
            picks = np.sort(rng.choice(len(source_units), size=extra, replace=False)) if extra else []
            chosen.extend(source_units[int(i)] for i in picks)
    return [chosen[int(i)] for i in rng.permutation(len(chosen))]


def stream_units(units: Sequence[Sequence[ShardUnit]], weights: Sequence[float], data_seed: int, stream: int,
                 streams: int) -> Iterator[ShardUnit]:
    """Logical stream ``stream`` of ``streams``: the units at positions ``stream, stream + streams, ...`` of the
    endless concatenation of unit epochs 0, 1, 2, ... (so every stream has units even when there are fewer units
    than streams)."""
    position, epoch = 0, 0
    while True:
        # An epoch may be empty (fractional weights only, no unit drawn): the next one draws again.
        for unit in epoch_units(units, weights, data_seed, epoch):
            if position % streams == stream:
                yield unit
            position += 1
        epoch += 1


def chunk_rows(unit: ShardUnit, buffer_bytes: int) -> int:
    """Rows per chunked read of ``unit``: at most :data:`MAX_CHUNK_ROWS`, and about a quarter of the stream's
    buffer bytes at most (at least one row)."""
    return int(max(1, min(MAX_CHUNK_ROWS, buffer_bytes // max(4 * unit.bytes_per_row, 1))))


def read_unit(unit: ShardUnit, image_column: str, caption_column: str, chunk: int, opened: dict | None = None,
              hold: bool = True) -> Iterator[tuple[int, dict]]:
    """``(row index in the row group, row)`` for the rows of ``unit`` in order, each row as
    ``{image_column: {"bytes": ...}, caption_column: ..., "source_id": ...}`` (``source_id`` None when the file
    has no such column), read ``chunk`` rows at a time. ``opened`` caches the last opened file.

    ``hold`` keeps one pyarrow reader open over the unit between chunks. pyarrow decodes a whole data page at a
    time, and a writer that checks page sizes every 1024 values (pyarrow's) writes a row group of large images
    as one page, so an open reader holds the whole column chunk. With ``hold`` off, each chunk is read by a reader
    opened for it and closed after it, skipping the rows before it: the page is decoded once per chunk, but no
    reader stays open while other logical streams read.
    A file that cannot be read is a :class:`TrainingDataError` naming it and the row group."""
    where = f"{unit.file}: row group {unit.row_group}"
    try:
        if opened is not None and opened.get("file") == unit.file:
            parquet = opened["parquet"]
        else:
            parquet = open_parquet(unit.file)
            if opened is not None:
                opened.clear()
                opened.update(file=unit.file, parquet=parquet)
        names = set(parquet.schema_arrow.names)
        columns = [f"{image_column}.bytes", caption_column] + (["source_id"] if "source_id" in names else [])

        def batches(skip: int = 0):
            reader = parquet.iter_batches(batch_size=chunk, row_groups=[unit.row_group], columns=columns,
                                          use_threads=False)
            for number, batch in enumerate(reader):
                if number >= skip:
                    yield batch

        if hold:
            chunks = batches()
        else:
            chunks = (next(iter(batches(skip=number))) for number in range(-(-unit.rows // chunk)))
        index = 0
        for batch in chunks:
            images = batch.column(image_column).field("bytes").to_pylist()
            captions = batch.column(caption_column).to_pylist()
            ids = batch.column("source_id").to_pylist() if "source_id" in names else [None] * len(images)
            del batch  # the rows are Python objects now; the Arrow memory may go
            for data, caption, source_id in zip(images, captions, ids, strict=True):
                yield index, {image_column: {"bytes": data}, caption_column: caption, "source_id": source_id}
                index += 1
    except TrainingDataError:
        raise
    except Exception as error:  # noqa: BLE001 - pyarrow and fsspec raise many types for "cannot read"
        raise TrainingDataError(f"{where}: cannot be read while streaming ({_reason(error)}); rebuild or remove "
                                "the file") from None


def shuffled(items: Iterable[tuple[Any, int]], rng: np.random.Generator, max_rows: int,
             max_bytes: int) -> Iterator[Any]:
    """A seeded shuffle buffer over ``(item, size in bytes)`` pairs: before an item joins the buffer, uniformly
    drawn items leave it until the item fits (at most ``max_rows`` items and ``max_bytes`` bytes together). So the
    buffer never holds more than ``max_bytes``, except one item larger than that, held alone; a buffer of one row
    keeps the input order. Items left when the input ends are drawn out in the same way."""
    buffer: list[Any] = []
    sizes: list[int] = []
    held = 0

    def draw() -> Any:
        nonlocal held
        index = int(rng.integers(len(buffer)))
        buffer[index], buffer[-1] = buffer[-1], buffer[index]
        sizes[index], sizes[-1] = sizes[-1], sizes[index]
        held -= sizes.pop()
        return buffer.pop()

    for item, size in items:
        while buffer and (len(buffer) >= max_rows or held + size > max_bytes):
            yield draw()
        buffer.append(item)
        sizes.append(size)
        held += size
    while buffer:
        yield draw()


def row_size(row: dict, image_column: str, caption_column: str) -> int:
    """The bytes a buffered row holds, as the shuffle buffer counts them: image bytes plus caption characters."""
    captions = row[caption_column]
    text = len(captions) if isinstance(captions, str) else sum(len(c) for c in captions or () if c)
    return len(row[image_column]["bytes"] or b"") + text


def owned_streams(worker: int, workers: int, first_batch: int, loader_batch: int, block: int,
                  streams: int) -> list[int]:
    """The logical streams worker ``worker`` of ``workers`` reads: those holding a sample of a loader batch
    ``b >= first_batch`` with ``(b - first_batch) % workers == worker`` (sample ``k`` is in stream
    ``(k // block) % streams``; batch ``b`` is samples ``[b * loader_batch, (b + 1) * loader_batch)``). With one
    process (``loader_batch == block``) and ``workers`` dividing ``streams`` these are ``streams / workers``
    streams; otherwise a worker may read streams whose other blocks go to other workers."""
    # The pattern of (worker, streams) repeats after lcm(workers, p) batches, p = the batches of streams blocks.
    p = streams * block // math.gcd(streams * block, loader_batch)
    period = math.lcm(workers, p)
    if period > 1_000_000:
        return list(range(streams))
    found: set[int] = set()
    for offset in range(worker, period, workers):
        b = first_batch + offset
        first, last = b * loader_batch // block, ((b + 1) * loader_batch - 1) // block
        found.update(i % streams for i in range(first, min(last, first + streams) + 1))
        if len(found) == streams:
            break
    return sorted(found)


def _reason(error: BaseException) -> str:
    text = str(error).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__

