"""Training data: the sources, the step-by-step sample stream, augmentation and the collator.

Sources. Each :class:`~rsmodel.train_recipe.DataSource` is a local folder, read through
:func:`rsmodel.datafolder.load_local_split` (exactly the files of that config and split on disk now, never an
earlier build that ``datasets`` cached under the same folder name), or a Hub repo, read with
``datasets.load_dataset(path, config, split=split, revision=revision)`` (rsdata's layout: an ``Image()`` column and
a ``captions`` list of strings). The run record gets the rows of the loaded split and, for a folder, a fingerprint
over the files read (names, sizes, modification times, rows); for a Hub repo the commit. The image column is read
undecoded (``Image(decode=False)``): decoding is part of the augmentation. Map-style sources are checked before
training: a row without image bytes (``no_image``) or without a non-empty caption (``no_caption``) is left out and
counted by reason.

The sample stream. Training is a sequence of samples numbered ``k = 0, 1, 2, ...``; the contrastive batch of step
``s`` is samples ``[s*G, (s+1)*G)`` with ``G`` = per-device batch x processes (x gradient accumulation steps for an
optimizer step). Sample ``k`` is defined without reference to processes or workers:

- a data epoch is every usable row of source ``i`` ``floor(w_i)`` times, plus a seeded ``round(frac(w_i) * n_i)``
  rows drawn without replacement (``w_i`` is the source's weight), shuffled with
  ``numpy.random.default_rng([data_seed, 0, epoch])``; ``epoch = k // epoch_size``;
- sample ``k`` is row ``order[k % epoch_size]`` of that epoch, with its caption choice and augmentation drawn from
  ``numpy.random.default_rng([data_seed, 1, k])``: first the caption index, then the crop, the flip, the rotation.

So one process with batch ``G`` and ``W`` processes with batch ``G / W`` see the same global batches, a run resumed
at step ``s`` continues with sample ``s*G`` (the sampler is sequential over ``k``; skipping batches loads nothing),
and the number of DataLoader workers changes nothing.

Streaming sources (``data.streaming``) are read by :mod:`rsmodel.streaming`, straight from their Parquet files (a
local folder's files as :mod:`rsmodel.datafolder` resolves them; a Hub repo's at the pinned revision through
``huggingface_hub.HfFileSystem``), in chunks of a few rows and only the image bytes, caption and ``source_id``
columns. Nothing is prepared or cached, and there is no epoch boundary to restart at. The order:

- a *unit* is one row group of one file (row counts from the footers); a *unit epoch* is every unit of source
  ``i`` ``floor(w_i)`` times plus a seeded ``floor(frac(w_i) * U_i + u)`` of its ``U_i`` units, permuted with
  ``numpy.random.default_rng([data_seed, 2, epoch])`` (so sources mix by ``w_i`` x their rows, as in map-style);
- there are ``L`` logical streams (``data.streams``, default 12); stream ``l`` reads the units at positions
  ``l, l + L, l + 2L, ...`` of the endless sequence of unit epochs 0, 1, 2, ..., leaves out unusable rows (no image
  bytes, no non-empty caption; not counted) and passes the rest through its own shuffle buffer, seeded with
  ``default_rng([data_seed, 3, l])``, holding at most ``min(shuffle_buffer, R) / L`` rows (rounded up; ``R`` =
  ``sum(w_i * rows_i)``, the rows of one unit epoch: a larger buffer would only hold repeats) and
  ``shuffle_buffer_bytes / L`` bytes (image bytes plus caption characters; a larger row passes straight through);
- with the contrastive batch ``C`` (per-device batch x processes), sample ``k`` is in block ``k // C``; block
  ``m`` is taken from stream ``m % L``: sample ``k`` is row ``(m // L) * C + k % C`` of that stream's shuffled
  output, with the same per-sample generator ``default_rng([data_seed, 1, k])`` as map-style.

So the order depends on the data, ``data_seed``, ``L``, both buffer bounds and ``C``, never on the number of
DataLoader workers or (for the same ``C``) of processes, and a run resumed at step ``s`` continues with sample
``s*G`` (the rows before it are read again, to rebuild the buffers, but not decoded). DataLoader worker ``w`` of
``W`` decodes the batches ``b`` with ``b % W == w`` and reads only the logical streams holding them: with one
process and ``W`` dividing ``L``, the ``L / W`` streams ``l % W == w``, so each worker reads only its own units.
Several processes: each reads the stream (``accelerator_config.dispatch_batches`` is set false, so that the main
process does not decode every process's batches and send them) and decodes only its own slice of every block.

Augmentation (:class:`CropFlipRotate`): torchvision's ``RandomResizedCrop`` algorithm (10 tries of a random area
share in ``crop_scale`` and log-uniform aspect ratio in ``crop_ratio``, else a centre crop), resized to the model's
image size with antialiased bicubic interpolation (Pillow's ``BICUBIC`` filter, computed by torch on ``uint8``
pixels); a horizontal flip with probability ``horizontal_flip``; a rotation by 0/90/180/270 degrees. Large JPEGs
are decoded at a reduced DCT scale (``Image.draft``) chosen so that the crop keeps at least the output size in both
directions; the crop box then snaps to whole decoded pixels. Output: ``uint8`` arrays in channel-first layout.

Collator (:class:`ContrastiveCollator`): stacks the ``uint8`` images and tokenises the captions (at most
``max_text_length`` tokens, padded to the longest caption of the batch). Normalisation with the processor's mean
and std happens after the batch reaches the device (:class:`PixelNormalizer`): moving ``uint8`` pixels moves a
quarter of the bytes.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.utils.data

from rsmodel.datafolder import PARQUET, folder_layout, load_local_split, resolve_split
from rsmodel.errors import DatasetFolderError, TrainingDataError
from rsmodel.streaming import (
    BUFFER_STREAM,
    chunk_rows,
    open_parquet,
    owned_streams,
    read_unit,
    row_size,
    shard_units,
    shuffled,
    stream_units,
)
from rsmodel.train_recipe import AugmentationSpec, DataSource, DataSpec

NO_IMAGE = "no_image"
NO_CAPTION = "no_caption"
_EPOCH_STREAM, _SAMPLE_STREAM = 0, 1


# ------------------------------------------------------------------------------------------------ augmentation

def random_resized_crop_box(width: int, height: int, rng: np.random.Generator, scale: tuple[float, float],
                            ratio: tuple[float, float]) -> tuple[int, int, int, int]:
    """``(left, top, crop_width, crop_height)`` by torchvision's ``RandomResizedCrop.get_params`` algorithm."""
    area = width * height
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target_area = area * rng.uniform(scale[0], scale[1])
        aspect = math.exp(rng.uniform(log_ratio[0], log_ratio[1]))
        crop_w = int(round(math.sqrt(target_area * aspect)))
        crop_h = int(round(math.sqrt(target_area / aspect)))
        if 0 < crop_w <= width and 0 < crop_h <= height:
            top = int(rng.integers(0, height - crop_h + 1))
            left = int(rng.integers(0, width - crop_w + 1))
            return left, top, crop_w, crop_h
    in_ratio = width / height
    if in_ratio < ratio[0]:
        crop_w, crop_h = width, int(round(width / ratio[0]))
    elif in_ratio > ratio[1]:
        crop_h, crop_w = height, int(round(height * ratio[1]))
    else:
        crop_w, crop_h = width, height
    return (width - crop_w) // 2, (height - crop_h) // 2, crop_w, crop_h


@dataclass(frozen=True)
class CropFlipRotate:
    """The paper's augmentation at ``image_size``: ``__call__(image_bytes, rng)`` -> ``uint8`` array (3, S, S).

    Pillow decodes (at a reduced DCT scale for large JPEGs, see the module docstring); the crop is resized by
    torch's antialiased bicubic interpolation on ``uint8`` pixels, which is Pillow's ``BICUBIC`` filter (the cubic
    kernel with a = -0.5, widened by the reduction factor, 8-bit fixed-point weights) in vectorised form: on 448 px
    JPEGs it is 3-4x faster than ``Image.resize``, which was the largest single cost of a sample. Its output differs
    from Pillow's by a level or two on a few pixels inside (mean about 0.02 of a level), and by up to a few tens of
    levels on some of the outermost output pixels, where Pillow's filter also reads source pixels just outside the
    crop box (``tests/test_train_data.py``).
    The flip and the quarter turn are index views of the result (no copy).
    """

    image_size: int
    spec: AugmentationSpec = field(default_factory=AugmentationSpec)

    def __call__(self, data: bytes, rng: np.random.Generator) -> np.ndarray:
        from PIL import Image

        image = Image.open(io.BytesIO(data))
        width, height = image.size
        left, top, crop_w, crop_h = random_resized_crop_box(width, height, rng, self.spec.crop_scale,
                                                            self.spec.crop_ratio)
        if image.format == "JPEG":
            shrink = min(crop_w, crop_h) / self.image_size
            if shrink >= 2:
                # DCT scaling (1/2, 1/4, 1/8) while the crop keeps >= image_size pixels in both directions. The
                # box is rounded to whole decoded pixels (torch resizes whole pixels): it moves by <= 0.5 of them.
                image.draft("RGB", (math.ceil(width / shrink), math.ceil(height / shrink)))
                sx, sy = image.size[0] / width, image.size[1] / height
                right, bottom = round((left + crop_w) * sx), round((top + crop_h) * sy)
                left, top = min(round(left * sx), right - 1), min(round(top * sy), bottom - 1)
                crop_w, crop_h = right - left, bottom - top
        if image.mode != "RGB":
            image = image.convert("RGB")
        pixels = resize_uint8(np.asarray(image)[top:top + crop_h, left:left + crop_w], self.image_size)
        if rng.random() < self.spec.horizontal_flip:
            pixels = pixels[:, ::-1]
        if self.spec.rotate90:
            quarter_turns = int(rng.integers(4))
            if quarter_turns:
                pixels = np.rot90(pixels, quarter_turns)  # counter-clockwise, as Image.ROTATE_90/180/270
        return pixels.transpose(2, 0, 1)


def resize_uint8(pixels: np.ndarray, size: int) -> np.ndarray:
    """(H, W, 3) ``uint8`` pixels -> (size, size, 3) ``uint8`` by antialiased bicubic interpolation (Pillow's
    ``BICUBIC`` filter: the same kernel, support and rounding, up to fixed-point details)."""
    # One writable contiguous copy of the crop: channel-last (N, C, H, W) for torch's vectorised uint8 kernel.
    crop = torch.from_numpy(np.array(pixels, dtype=np.uint8, order="C")).permute(2, 0, 1).unsqueeze(0)
    resized = torch.nn.functional.interpolate(crop, size=(size, size), mode="bicubic", antialias=True,
                                              align_corners=False)
    return resized[0].permute(1, 2, 0).numpy()


class PixelNormalizer:
    """``(uint8 pixels - 255*mean) / (255*std)`` on the pixels' device, in float32 (autocast casts later)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]):
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)
        self._cache: dict = {}

    def __call__(self, pixels: torch.Tensor) -> torch.Tensor:
        if pixels.dtype != torch.uint8:
            raise TypeError(f"PixelNormalizer expects uint8 pixels, got {pixels.dtype}")
        key = pixels.device
        if key not in self._cache:
            shift = torch.tensor([255 * m for m in self.mean], device=pixels.device).view(1, 3, 1, 1)
            factor = torch.tensor([1 / (255 * s) for s in self.std], device=pixels.device).view(1, 3, 1, 1)
            self._cache[key] = (shift, factor)
        shift, factor = self._cache[key]
        return (pixels.float() - shift) * factor


class ContrastiveCollator:
    """Examples ``{"pixels": uint8 (3, S, S), "caption": str}`` -> ``{"pixel_values": uint8 (B, 3, S, S),
    "input_ids", "attention_mask"}`` (captions tokenised, padded to the longest, at most ``max_text_length``)."""

    def __init__(self, tokenizer, max_text_length: int = 77):
        self.tokenizer = tokenizer
        self.max_text_length = max_text_length

    def __call__(self, examples: Sequence[dict]) -> dict:
        pixels = torch.from_numpy(np.stack([example["pixels"] for example in examples]))
        tokens = self.tokenizer([example["caption"] for example in examples], padding="longest", truncation=True,
                                max_length=self.max_text_length, return_tensors="pt")
        return {"pixel_values": pixels, "input_ids": tokens["input_ids"], "attention_mask": tokens["attention_mask"]}


# ------------------------------------------------------------------------------------------------------ sources

@dataclass
class SourceTable:
    """One opened source: its table (map-style) or its row-group units (streaming, a list of
    :class:`~rsmodel.streaming.ShardUnit`), the usable rows and the skipped counts."""

    source: DataSource
    table: Any
    usable_rows: np.ndarray | None = None  # None for streams
    skipped: dict[str, int] = field(default_factory=dict)
    fingerprint: str | None = None  # local folders: sha256 of the data files read (names, sizes, mtimes, rows)
    files: int | None = None  # local folders: how many data files were read
    commit: str | None = None  # Hub sources: the commit the revision resolved to
    num_rows: int | None = None  # the rows of the loaded split (streams: the Parquet footers' count)

    def record(self) -> dict:
        return {"path": self.source.path, "config": self.source.config, "split": self.source.split,
                "revision": self.source.revision, "weight": self.source.weight, "commit": self.commit,
                "fingerprint": self.fingerprint, "files": self.files,
                "rows": self.num_rows,
                "usable_rows": None if self.usable_rows is None else int(len(self.usable_rows)),
                "skipped": dict(self.skipped)}


def open_sources(spec: DataSpec) -> list[SourceTable]:
    """Open every source of ``spec``; raise :class:`TrainingDataError` naming the source on any problem."""
    return [open_source(source, spec) for source in spec.sources]


def open_source(source: DataSource, spec: DataSpec) -> SourceTable:
    import datasets

    if spec.streaming:
        return _open_stream(source, spec)
    local = Path(source.path).exists()
    read = None
    try:
        if local:
            # Exactly the files on disk, whatever the folder's card names them (see rsmodel.datafolder).
            table, read = load_local_split(source.path, source.split, source.config, cache_dir=spec.cache_dir)
        else:
            kwargs = {"split": source.split}
            if source.revision:
                kwargs["revision"] = source.revision
            if spec.cache_dir:
                kwargs["cache_dir"] = spec.cache_dir
            table = datasets.load_dataset(source.path, source.config, **kwargs)
    except DatasetFolderError as error:
        raise TrainingDataError(f"data source {source.describe()}: cannot be loaded: {error}") from None
    except Exception as error:  # noqa: BLE001 - datasets raises many unrelated types for "cannot load"
        raise _cannot_load(source, error) from None
    _check_columns(source, spec, table.features)
    keep = [spec.image_column, spec.caption_column] + (["source_id"] if "source_id" in table.features else [])
    table = table.select_columns(keep).cast_column(spec.image_column, datasets.Image(decode=False))
    opened = SourceTable(source=source, table=table)
    if read is not None:
        opened.fingerprint = read.fingerprint()
        opened.files = len(read.files)
    else:
        opened.commit = _hub_commit(source)
    opened.num_rows = len(table)
    opened.usable_rows, opened.skipped = _usable_rows(table, spec)
    if len(opened.usable_rows) == 0:
        raise TrainingDataError(f"data source {source.describe()}: none of its {len(table)} rows has both image "
                                f"bytes and a non-empty caption ({_format_skips(opened.skipped)})")
    return opened


def _open_stream(source: DataSource, spec: DataSpec) -> SourceTable:
    """A streaming source: its Parquet files (a local folder's exactly as on disk; a Hub repo's at the pinned
    revision, as ``hf://`` URLs) split into row-group units from the footers; nothing else is read."""
    import datasets

    try:
        if Path(source.path).exists():
            resolved = resolve_split(folder_layout(source.path, source.config), source.split)
            builder, files = resolved.builder, [str(f.path) for f in resolved.files]
        else:
            kwargs = {"revision": source.revision} if source.revision else {}
            if spec.cache_dir:
                kwargs["cache_dir"] = spec.cache_dir
            hub = datasets.load_dataset_builder(source.path, source.config, **kwargs)
            resolved, builder = None, hub.name
            data_files = hub.config.data_files or {}
            if source.split not in data_files:
                raise DatasetFolderError(f"no split {source.split!r}; its splits: "
                                         f"{', '.join(sorted(map(str, data_files))) or 'none'}")
            files = [str(f) for f in dict.fromkeys(data_files[source.split])]
    except DatasetFolderError as error:
        raise TrainingDataError(f"data source {source.describe()}: cannot be loaded: {error}") from None
    except Exception as error:  # noqa: BLE001 - datasets raises many unrelated types for "cannot load"
        raise _cannot_load(source, error) from None
    if builder != PARQUET:
        raise TrainingDataError(f"data source {source.describe()}: streaming reads Parquet files; its data files "
                                f"are {builder} (set data.streaming: false to read them map-style)")
    units = shard_units(files)
    if not units:
        raise TrainingDataError(f"data source {source.describe()}: its Parquet files hold no rows")
    features = datasets.Features.from_arrow_schema(open_parquet(units[0].file).schema_arrow)
    _check_columns(source, spec, features)
    opened = SourceTable(source=source, table=units, num_rows=sum(unit.rows for unit in units))
    if resolved is not None:
        opened.fingerprint = resolved.fingerprint()
        opened.files = len(resolved.files)
    else:
        opened.commit = _hub_commit(source)
        opened.files = len(files)
    return opened


def _cannot_load(source: DataSource, error: BaseException) -> TrainingDataError:
    first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    hint = "" if "/" in source.path else " (neither a local folder nor a Hub repo id USER/NAME)"
    return TrainingDataError(f"data source {source.describe()}: cannot be loaded{hint}: {first}")


def _check_columns(source: DataSource, spec: DataSpec, features) -> None:
    from datasets import Image, LargeList, List, Sequence as HfSequence, Value

    columns = sorted(features)
    for option, column in (("image_column", spec.image_column), ("caption_column", spec.caption_column)):
        if column not in features:
            raise TrainingDataError(f"data source {source.describe()}: no column {column!r} (data.{option}); its "
                                    f"columns: {', '.join(columns)}")
    if not isinstance(features[spec.image_column], Image):
        raise TrainingDataError(f"data source {source.describe()}: column {spec.image_column!r} is "
                                f"{features[spec.image_column]}, not an Image() column")
    caption = features[spec.caption_column]
    inner = getattr(caption, "feature", None) if isinstance(caption, (List, LargeList, HfSequence)) else caption
    if not (isinstance(inner, Value) and inner.dtype in ("string", "large_string")):
        raise TrainingDataError(f"data source {source.describe()}: column {spec.caption_column!r} is {caption}; "
                                "expected a string or a list of strings")


def _usable_rows(table, spec: DataSpec) -> tuple[np.ndarray, dict[str, int]]:
    import pyarrow.compute as pc

    arrow = table.data.table if hasattr(table.data, "table") else table.data
    images = arrow.column(spec.image_column)
    has_bytes = pc.invert(pc.is_null(pc.struct_field(images, "bytes"))).to_numpy(zero_copy_only=False)
    has_bytes &= pc.invert(pc.is_null(images)).to_numpy(zero_copy_only=False)
    captions = arrow.column(spec.caption_column).to_pylist()
    has_caption = np.array([_captions_of(value) != [] for value in captions], dtype=bool)
    usable = np.flatnonzero(has_bytes & has_caption).astype(np.int64)
    skipped = {}
    if (~has_bytes).any():
        skipped[NO_IMAGE] = int((~has_bytes).sum())
    if (has_bytes & ~has_caption).any():
        skipped[NO_CAPTION] = int((has_bytes & ~has_caption).sum())
    return usable, skipped


def _captions_of(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    return [caption for caption in value if isinstance(caption, str) and caption.strip()]


def _format_skips(skipped: dict[str, int]) -> str:
    return ", ".join(f"{reason} {count}" for reason, count in sorted(skipped.items())) or "none skipped"


def _hub_commit(source: DataSource) -> str | None:
    try:
        from huggingface_hub import HfApi

        return HfApi().dataset_info(source.path, revision=source.revision).sha
    except Exception:  # noqa: BLE001 - the data loaded; a missing commit only weakens the record
        return None


# ------------------------------------------------------------------------------------------------ sample streams

class _Sampler:
    """Per-sample decoding shared by the map-style and streaming datasets."""

    def __init__(self, augment: CropFlipRotate, image_column: str, caption_column: str, data_seed: int):
        self.augment = augment
        self.image_column = image_column
        self.caption_column = caption_column
        self.data_seed = data_seed

    def example(self, row: dict, k: int, where) -> dict:
        rng = np.random.default_rng([self.data_seed, _SAMPLE_STREAM, k])
        captions = _captions_of(row[self.caption_column])
        caption = captions[int(rng.integers(len(captions)))]
        try:
            pixels = self.augment(row[self.image_column]["bytes"], rng)
        except (OSError, ValueError, SyntaxError) as error:  # PIL's errors for truncated or unreadable images
            name = f" ({row['source_id']})" if row.get("source_id") else ""
            raise TrainingDataError(f"{where()}{name}: the image cannot be decoded: {error}") from None
        return {"pixels": pixels, "caption": caption}


class TrainingStream(torch.utils.data.Dataset):
    """Map-style view of the sample stream: item ``k`` is sample ``k`` of the run (see the module docstring);
    ``len`` is the number of samples the run consumes."""

    def __init__(self, sources: Sequence[SourceTable], *, length: int, augment: CropFlipRotate, image_column: str,
                 caption_column: str, data_seed: int):
        if any(source.usable_rows is None for source in sources):
            raise ValueError("TrainingStream needs map-style sources (streaming sources go to StreamingTrainingStream)")
        self.sources = list(sources)
        self.length = int(length)
        self.sampler = _Sampler(augment, image_column, caption_column, data_seed)
        self.data_seed = data_seed
        self.offsets = np.cumsum([0] + [len(s.usable_rows) for s in self.sources])
        self.epoch_size = sum(self._rows_per_epoch(s) for s in self.sources)
        self._order_epoch, self._order = -1, None

    @staticmethod
    def _rows_per_epoch(source: SourceTable) -> int:
        n, weight = len(source.usable_rows), source.source.weight
        return int(weight) * n + int(round((weight - int(weight)) * n))

    def __len__(self) -> int:
        return self.length

    def epoch_order(self, epoch: int) -> np.ndarray:
        """The global row ids (index into the concatenated usable rows) of data epoch ``epoch``, in order."""
        if epoch != self._order_epoch:
            rng = np.random.default_rng([self.data_seed, _EPOCH_STREAM, epoch])
            parts = []
            for index, source in enumerate(self.sources):
                n, weight = len(source.usable_rows), source.source.weight
                ids = np.arange(n, dtype=np.int64) + self.offsets[index]
                parts.extend([ids] * int(weight))
                extra = int(round((weight - int(weight)) * n))
                if extra:
                    parts.append(np.sort(rng.choice(ids, size=extra, replace=False)))
            self._order = rng.permutation(np.concatenate(parts))
            self._order_epoch = epoch
        return self._order

    def locate(self, k: int) -> tuple[int, int]:
        """``(source index, row of that source's table)`` of sample ``k``."""
        epoch, position = divmod(int(k), self.epoch_size)
        global_id = int(self.epoch_order(epoch)[position])
        source_index = int(np.searchsorted(self.offsets, global_id, side="right") - 1)
        return source_index, int(self.sources[source_index].usable_rows[global_id - self.offsets[source_index]])

    def __getitem__(self, k: int) -> dict:
        if not 0 <= k < self.length:
            raise IndexError(k)
        source_index, row_index = self.locate(k)
        source = self.sources[source_index]
        row = source.table[row_index]
        return self.sampler.example(row, k, lambda: f"data source {source.source.describe()}: row {row_index}")


class StreamingTrainingStream(torch.utils.data.IterableDataset):
    """The sample stream over streaming sources (an infinite ``IterableDataset``; see the module docstring).

    ``block_size`` is the contrastive batch (per-device batch x processes): sample ``k`` comes from logical stream
    ``(k // block_size) % streams``. With several processes (``process`` = ``(rank, processes)``) every process
    reads the stream with ``loader_batch_size = block_size`` behind accelerate's ``IterableDatasetShard``, which
    keeps slice ``rank`` of every block: the samples of the other slices are yielded as ``None``, never decoded.
    ``loader_batch_size`` is the batch size of the DataLoader that reads it:
    worker ``w`` of ``W`` decodes the loader batches ``b`` with ``(b - first) % W == w`` (``first``: the first
    batch read, see :meth:`start_at`), which is the order the DataLoader takes batches from its workers in, and
    reads only the logical streams of those batches (:func:`rsmodel.streaming.owned_streams`).
    """

    def __init__(self, sources: Sequence[SourceTable], *, augment: CropFlipRotate, image_column: str,
                 caption_column: str, data_seed: int, loader_batch_size: int, block_size: int | None = None,
                 streams: int = 12, shuffle_buffer: int = 10000, shuffle_buffer_bytes: int = 256 << 20,
                 process: tuple[int, int] = (0, 1)):
        if any(not isinstance(source.table, list) for source in sources):
            raise ValueError("StreamingTrainingStream needs streaming sources (open them with data.streaming)")
        self.sources = list(sources)
        self.sampler = _Sampler(augment, image_column, caption_column, data_seed)
        self.data_seed = data_seed
        self.loader_batch_size = int(loader_batch_size)
        self.block_size = int(block_size or loader_batch_size)
        if self.block_size % self.loader_batch_size:
            raise ValueError(f"block_size {self.block_size} is not a multiple of the loader batch "
                             f"{self.loader_batch_size}")
        self.streams = int(streams)
        # Both bounds are totals over all logical streams, so over all DataLoader workers of a process together.
        # A buffer of more rows than a stream reads in one unit epoch would only hold repeats (and take that many
        # rows to fill before the first sample): the row bound is capped there.
        epoch_rows = sum(source.source.weight * source.num_rows for source in self.sources)
        self.stream_rows = max(1, -(-min(int(shuffle_buffer), math.ceil(epoch_rows)) // self.streams))
        self.stream_bytes = max(1, int(shuffle_buffer_bytes) // self.streams)
        self.process, self.processes = process
        if self.block_size % self.processes:
            raise ValueError(f"block_size {self.block_size} is not a multiple of {self.processes} processes")
        self.start_sample = 0

    def start_at(self, sample: int) -> None:
        """Begin the next iteration at sample ``sample`` (a multiple of the loader batch): a resumed run's first
        sample. The rows before it are read again (the shuffle buffers depend on them) but not decoded."""
        if sample % self.loader_batch_size:
            raise ValueError(f"start sample {sample} is not a multiple of the loader batch {self.loader_batch_size}")
        self.start_sample = int(sample)

    def stream_rows_of(self, stream: int):
        """``(row, where)`` for the usable rows of logical stream ``stream`` in order, after its shuffle buffer."""
        image_column, caption_column = self.sampler.image_column, self.sampler.caption_column
        units = [source.table for source in self.sources]
        weights = [source.source.weight for source in self.sources]
        total_units = sum(len(u) for u in units)
        opened: dict = {}

        def usable():
            barren: set = set()  # units without a usable row read since the last usable row
            for unit in stream_units(units, weights, self.data_seed, stream, self.streams):
                chunk = chunk_rows(unit, self.stream_bytes)
                # A unit larger than this stream's buffer is not held open between chunks (see read_unit).
                hold = unit.rows * unit.bytes_per_row <= self.stream_bytes
                found = False
                for index, row in read_unit(unit, image_column, caption_column, chunk, opened, hold=hold):
                    if row[image_column]["bytes"] and _captions_of(row[caption_column]):
                        found = True
                        where = f"{unit.file}: row group {unit.row_group}, row {index}"
                        yield (row, where), row_size(row, image_column, caption_column)
                if found:
                    barren.clear()
                    continue
                barren.add(unit)
                if len(barren) == total_units:
                    raise TrainingDataError("the streaming data sources yielded no usable row (image bytes and a "
                                            "non-empty caption) in any of their row groups")

        rng = np.random.default_rng([self.data_seed, BUFFER_STREAM, stream])
        return shuffled(usable(), rng, self.stream_rows, self.stream_bytes)

    def __iter__(self):
        info = torch.utils.data.get_worker_info()
        worker, workers = (info.id, info.num_workers) if info is not None else (0, 1)
        batch, block, streams = self.loader_batch_size, self.block_size, self.streams
        share = block // self.processes
        first = self.start_sample // batch
        readers = {stream: self.stream_rows_of(stream)
                   for stream in owned_streams(worker, workers, first, batch, block, streams)}
        consumed = dict.fromkeys(readers, 0)  # rows taken from each logical stream so far
        b = first + worker
        while True:
            for k in range(b * batch, (b + 1) * batch):
                blocks, offset = divmod(k, block)
                stream = blocks % streams
                position = (blocks // streams) * block + offset  # sample k is row `position` of its stream
                while consumed[stream] < position:  # rows of other workers' batches or before the start
                    next(readers[stream])
                    consumed[stream] += 1
                row, where = next(readers[stream])
                consumed[stream] += 1
                if (k % block) // share != self.process:
                    yield None  # another process's sample: accelerate's IterableDatasetShard drops it
                    continue
                yield self.sampler.example(row, k, lambda where=where: f"streaming data, sample {k}, {where}")
            b += workers
