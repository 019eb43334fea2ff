"""Local dataset folders, read exactly as they are on disk: the one place rsmodel loads a local folder.

Why not ``datasets.load_dataset(folder)``: ``datasets`` caches the Arrow tables it prepares from a folder under a
key built from the folder's basename and, when the folder's README.md card declares ``configs:``, from the
config's data_files *patterns* (``data/train-*``), not from the files they match. A second folder with the same
basename, or the same folder rebuilt with other rows, is then answered from the earlier build's cache.

What happens instead (:func:`load_local_split`):

1. The folder's data files are resolved the way ``datasets`` resolves them (``datasets.load_dataset_builder``:
   the card's ``configs:`` when it has them, else the standard layouts such as ``data/<split>-*`` or
   ``<split>.parquet``), for the requested config and split only.
2. Parquet files are checked by their footers: an unreadable file is refused, naming it; files holding no rows
   are left out (they add nothing, and ``datasets`` cannot read a file whose first row group is empty).
3. The split is loaded with the packaged builder of the files' format (``parquet``) and ``data_files`` set to the
   resolved files. ``datasets`` keys that cache on the files' absolute paths and modification times, so other
   files, or the same files rewritten, get their own cache entry, while an unchanged folder is read from the
   cache without being prepared again.
4. The loaded row count is checked against the footers' row counts; on a mismatch (a file replaced with its old
   modification time) the split is prepared again once, and refused if it still differs.

:class:`LocalSplit` says what was read: the files (path, size, modification time, rows), the row count and a
fingerprint over them. Everything ``datasets`` refuses becomes a :class:`~rsmodel.errors.DatasetFolderError`
naming the folder, the file when known, and what was wrong.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rsmodel.errors import DatasetFolderError

PARQUET = "parquet"


@dataclass(frozen=True)
class DataFile:
    """One data file of a split as it was when the split was read."""

    path: Path
    size: int
    mtime_ns: int
    rows: int | None  # from the Parquet footer; None for other formats


@dataclass(frozen=True)
class LocalSplit:
    """The files of one split of a local folder (``files`` are read; ``empty`` hold no rows and are left out)."""

    folder: Path
    config: str | None
    split: str
    builder: str
    files: tuple[DataFile, ...]
    empty: tuple[DataFile, ...] = ()

    @property
    def rows(self) -> int | None:
        """The rows on disk (the footers' sum); None when a file's format keeps no row count."""
        counts = [f.rows for f in self.files]
        return None if any(c is None for c in counts) else sum(counts)

    def fingerprint(self) -> str:
        """sha256 over the name (relative to the folder), size, modification time and rows of every file read."""
        digest = hashlib.sha256()
        for file in self.files:
            digest.update(f"{self.relative(file.path)}\0{file.size}\0{file.mtime_ns}\0{file.rows}\n".encode())
        return "files-sha256:" + digest.hexdigest()

    def relative(self, path: Path) -> str:
        try:
            return Path(path).relative_to(self.folder).as_posix()
        except ValueError:
            return str(path)


@dataclass(frozen=True)
class FolderLayout:
    """A local folder's data files per split (one config), resolved as ``datasets`` resolves them."""

    folder: Path
    config: str | None
    builder: str  # the packaged datasets builder of the files' format ("parquet", "json", ...)
    splits: dict[str, tuple[Path, ...]]


def folder_layout(folder: str | Path, config: str | None = None) -> FolderLayout:
    """The data files of every split of ``folder`` (config ``config``): the card's ``configs:`` when it has
    them, else ``datasets``' standard layouts. Nothing is prepared or cached."""
    import datasets

    folder = Path(folder).resolve()
    try:
        builder = datasets.load_dataset_builder(str(folder), config)
    except Exception as error:  # noqa: BLE001 - datasets raises many unrelated types for "cannot read this folder"
        raise DatasetFolderError(f"{folder}: {_reason(error)}") from None
    # datasets' order (sorted within a pattern, patterns as the card lists them): the rows' order, which the
    # training sample stream depends on
    splits = {str(split): tuple(dict.fromkeys(Path(f) for f in files))
              for split, files in (builder.config.data_files or {}).items()}
    return FolderLayout(folder, config, builder.name, splits)


def resolve_split(layout: FolderLayout, split: str) -> LocalSplit:
    """The files of ``split`` with their sizes, modification times and (Parquet) rows."""
    folder, config = layout.folder, layout.config
    if split not in layout.splits:
        raise DatasetFolderError(f"{folder}: no split {split!r}{' in config ' + repr(config) if config else ''}; "
                                 f"its splits: {', '.join(sorted(layout.splits)) or 'none'}")
    if not layout.splits[split]:
        raise DatasetFolderError(f"{folder}: split {split!r} has no data files")
    read, empty = [], []
    for path in layout.splits[split]:
        try:
            stat = path.stat()
        except OSError as error:
            raise DatasetFolderError(f"{path}: cannot be read ({error.strerror or error})") from None
        rows = _parquet_rows(path) if layout.builder == PARQUET else None
        (empty if rows == 0 else read).append(DataFile(path, stat.st_size, stat.st_mtime_ns, rows))
    resolved = LocalSplit(folder, config, split, layout.builder, tuple(read), tuple(empty))
    if not read:
        names = ", ".join(resolved.relative(f.path) for f in empty)
        raise DatasetFolderError(f"{folder}: split {split!r} holds no rows (its Parquet file(s) {names} are empty); "
                                 "rebuild the dataset or choose another split")
    return resolved


def load_local_split(folder: str | Path | FolderLayout, split: str, config: str | None = None, *,
                     streaming: bool = False, cache_dir: str | None = None) -> tuple[Any, LocalSplit]:
    """``(dataset, what was read)``: split ``split`` of the local ``folder`` (or of an earlier
    :func:`folder_layout`), exactly the rows on disk (see the module docstring); a ``datasets.IterableDataset``
    when ``streaming``."""
    layout = folder if isinstance(folder, FolderLayout) else folder_layout(folder, config)
    resolved = resolve_split(layout, split)
    dataset = _load(resolved, streaming=streaming, cache_dir=cache_dir, force=False)
    expected = resolved.rows
    if not streaming and expected is not None and len(dataset) != expected:
        dataset = _load(resolved, streaming=False, cache_dir=cache_dir, force=True)
        if len(dataset) != expected:
            raise DatasetFolderError(f"{resolved.folder}: split {split!r}: datasets read {len(dataset)} rows where "
                                     f"the Parquet footers of its {len(resolved.files)} file(s) count {expected}")
    return dataset, resolved


def _load(resolved: LocalSplit, *, streaming: bool, cache_dir: str | None, force: bool):
    import datasets

    kwargs: dict[str, Any] = {"split": resolved.split, "streaming": streaming}
    if cache_dir:
        kwargs["cache_dir"] = cache_dir
    if force:
        kwargs["download_mode"] = "force_redownload"
    data_files = {resolved.split: [str(f.path) for f in resolved.files]}
    try:
        return datasets.load_dataset(resolved.builder, data_files=data_files, **kwargs)
    except Exception as error:  # noqa: BLE001 - datasets raises many unrelated types for "cannot read these files"
        file = _file_named(error, resolved)
        where = resolved.relative(file) if file else f"split {resolved.split!r}"
        raise DatasetFolderError(f"{resolved.folder}: {where}: datasets cannot read it: {_reason(error)}") from None


def _parquet_rows(path: Path) -> int:
    import pyarrow.parquet as pq

    try:
        return int(pq.read_metadata(path).num_rows)
    except Exception as error:  # noqa: BLE001 - pyarrow raises ArrowInvalid, OSError, ... for a bad footer
        raise DatasetFolderError(f"{path}: not a readable Parquet file ({_reason(error)}); rebuild or remove "
                                 "it") from None


def _file_named(error: BaseException, resolved: LocalSplit) -> Path | None:
    text = f"{error} {getattr(error, '__cause__', '') or ''} {getattr(error, '__context__', '') or ''}"
    for file in resolved.files:
        if str(file.path) in text:
            return file.path
    return resolved.files[0].path if len(resolved.files) == 1 else None


def _reason(error: BaseException) -> str:
    """The first line of the most specific message in ``error``'s chain (datasets wraps the cause)."""
    while isinstance(error.__cause__ or error.__context__, BaseException) and \
            type(error).__name__ in ("DatasetGenerationError", "DatasetGenerationCastError"):
        error = error.__cause__ or error.__context__
    text = str(error).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(error).__name__}: {first}" if first else type(error).__name__
