"""Overlapped file reads and Parquet writes while one shard is built.

Building a shard is Python work (parsing labels, checking image headers, captions, gathering Arrow columns)
between two kinds of I/O that release the GIL: reading the source images and writing Parquet row groups. Done
in sequence they add up; here each runs on a thread of its own, so that in one process the file reads, the
Python work and the Parquet writes proceed at the same time (a 2-core machine then keeps both cores busy).

- :class:`ImagePrefetcher` reads the image files of the next items ahead of the build, bounded in files and in
  bytes. Only regular files are read ahead; anything else (a missing file, a FIFO, a folder) is left to the build
  to read and report as before. The build still applies its read policy to every record before using the bytes
  (a file that a link leads out of the source is refused, and the bytes read ahead are dropped unused), so
  prefetching changes no error and no output.
- :class:`BackgroundParquetWriter` writes each row group (an Arrow table) on a writer thread while the build
  gathers the next one. At most one table waits for the writer, so memory holds at most two row groups.

Neither changes a byte of the output: row groups are written in the order given, by one ``ParquetWriter``.
"""

from __future__ import annotations

import os
import stat
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

#: Read ahead at most this many image files, and at most this many bytes (but always the next file): enough to
#: keep the reader ahead of the build, little enough for memory (a few DOTA-size PNGs of 20-40 MB each).
PREFETCH_FILES = 8
PREFETCH_BYTES = 32 * 1024 * 1024

Item = TypeVar("Item")


class ImagePrefetcher:
    """Yields ``(item, data)`` for ``items`` in order, where ``data`` is the bytes of the file ``image_path(item)``
    names, read on a background thread, or ``None`` when the file was not read ahead (the caller reads it).
    ``max_file_bytes``: larger files are not read ahead (the caller's own size checks then see them first).
    """

    def __init__(self, image_path: Callable[[Item], Path | None], *, max_files: int = PREFETCH_FILES,
                 max_bytes: int = PREFETCH_BYTES, max_file_bytes: int | None = None):
        self._image_path = image_path
        self._max_files = max_files
        self._max_bytes = max_bytes
        self._max_file_bytes = max_file_bytes

    def __call__(self, items: Iterable[Item]) -> Iterator[tuple[Item, bytes | None]]:
        pending: deque[tuple[Item, int, Future]] = deque()
        ahead_bytes = 0
        iterator = iter(items)
        exhausted = False
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="rsdata-read") as reader:
            try:
                while True:
                    # Queue reads until the window is full; the next item is always queued.
                    while not exhausted and (not pending or (len(pending) < self._max_files
                                                             and ahead_bytes < self._max_bytes)):
                        try:
                            item = next(iterator)
                        except StopIteration:
                            exhausted = True
                            break
                        size = self._planned_size(item)
                        pending.append((item, size, reader.submit(self._read, item)))
                        ahead_bytes += size
                    if not pending:
                        return
                    item, size, future = pending.popleft()
                    ahead_bytes -= size
                    yield item, future.result()
            finally:
                for _, _, future in pending:  # the consumer stopped early (an error): read nothing more
                    future.cancel()

    def _planned_size(self, item) -> int:
        size = getattr(item, "size_bytes", None)
        return size if isinstance(size, int) and size > 0 else 0

    def _read(self, item) -> bytes | None:
        path = self._image_path(item)
        if path is None:
            return None
        try:
            # No read-policy check here: it is Python work (resolving links) that the build does anyway, and
            # doing it twice cost more than the read saves. Reading never blocks: regular files only.
            info = os.stat(path)
            if not stat.S_ISREG(info.st_mode) or info.st_size == 0:
                return None
            if self._max_file_bytes is not None and info.st_size > self._max_file_bytes:
                return None
            with open(path, "rb") as handle:
                return handle.read()
        except Exception:  # noqa: BLE001 - whatever went wrong, the build reads the file itself and reports it
            return None


class BackgroundParquetWriter:
    """A ``pyarrow.parquet.ParquetWriter`` on ``path`` whose :meth:`write` hands the table to a writer thread and
    returns once the previous table is written (so at most one table waits). An error on the writer thread is
    raised by the next :meth:`write` or by :meth:`close`. ``row_group_size``: the most rows per row group
    (each :meth:`write` is one row group when its table has no more rows)."""

    def __init__(self, path: Path, schema, *, row_group_size: int, **writer_options):
        import pyarrow.parquet as pq

        self._writer = pq.ParquetWriter(path, schema, **writer_options)
        self._row_group_size = row_group_size
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rsdata-write")
        self._pending: Future | None = None

    def write(self, table) -> None:
        self._wait()
        self._pending = self._executor.submit(self._writer.write_table, table, row_group_size=self._row_group_size)

    def close(self) -> None:
        """Finish every write and close the file (raising a writer thread's error)."""
        try:
            self._wait()
        finally:
            self._executor.shutdown(wait=True)
            self._writer.close()

    def _wait(self) -> None:
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def __enter__(self) -> "BackgroundParquetWriter":
        return self

    def __exit__(self, kind, error, traceback) -> None:
        if kind is None:
            self.close()
            return
        # Already failing: wait for the thread, close the file, and let the first error through.
        self._executor.shutdown(wait=True)
        try:
            self._writer.close()
        except Exception:  # noqa: BLE001 - the error in flight says what went wrong
            pass
