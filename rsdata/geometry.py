"""Pure box and polygon conversions (no I/O). Conventions as in :mod:`rsdata.records`."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from rsdata import errors
from rsdata.errors import RecordError
from rsdata.records import ObjectAnnotation


def fit_objects_to_image(objects: Sequence[ObjectAnnotation], width: int, height: int,
                         annotation_path: Path | str, scale: tuple[float, float] = (1.0, 1.0)
                         ) -> tuple[ObjectAnnotation, ...]:
    """Clip each object's box to the ``width`` x ``height`` source image, then scale boxes and polygons.

    Objects partly outside the image are kept with their clipped box (annotators often draw past the border).
    An object entirely outside the image means the labels do not belong to this image: that is a
    :class:`RecordError` (``object_outside_image``) naming the file and line. ``scale`` is (x, y) output pixels
    per source pixel, for images resized on output.
    """
    sx, sy = scale
    fitted = []
    for obj in objects:
        x0, y0, x1, y1 = obj.bbox
        if x0 >= width or y0 >= height or x1 <= 0 or y1 <= 0:
            if not (x0 == x1 == 0 or y0 == y1 == 0):  # a degenerate box on the image's edge still touches it
                raise RecordError(
                    annotation_path,
                    f"{obj.category} box ({x0:g}, {y0:g}, {x1:g}, {y1:g}) lies outside the {width} x {height} image",
                    reason=errors.OBJECT_OUTSIDE_IMAGE, line=obj.source_line)
        if scale == (1.0, 1.0) and x0 >= 0 and y0 >= 0 and x1 <= width and y1 <= height:
            fitted.append(obj)  # inside and unscaled: nothing to change
            continue
        box = (min(max(x0, 0.0), width) * sx, min(max(y0, 0.0), height) * sy,
               min(max(x1, 0.0), width) * sx, min(max(y1, 0.0), height) * sy)
        polygon = obj.polygon
        if scale != (1.0, 1.0):
            polygon = tuple(v * (sx if i % 2 == 0 else sy) for i, v in enumerate(polygon))
        fitted.append(ObjectAnnotation(category=obj.category, bbox=box, polygon=polygon, difficult=obj.difficult,
                                       source_line=obj.source_line))
    return tuple(fitted)


def tile_windows(width: int, height: int, size: int, overlap: float = 0.0, *,
                 stride: int | None = None) -> list[tuple[int, int, int, int]]:
    """Square tiles ``(x, y, w, h)`` covering a ``width`` x ``height`` image, row by row.

    Tiles are ``size`` pixels, starting every ``stride`` pixels, or (without ``stride``) every
    ``size * (1 - overlap)`` pixels (:func:`tile_stride`); the last tile of a row or column is moved back to end at
    the image's edge rather than hanging over it, so every tile lies inside the image and no two tiles are the same. A side shorter than ``size`` gives one
    tile of that side's length. This is the rule of mmsegmentation's converters, counted by distinct patches:
    ``isaid.py`` (896-px patches, 384 px of overlap: stride 512) and ``potsdam.py``/``vaihingen.py`` (512-px
    crops placed at multiples of 512, whatever their ``--stride_size``), which pad an image smaller than a patch
    to one patch where this gives one tile of the image's size.
    """
    stride = tile_stride(size, overlap, stride)
    if size < 1 or stride < 1:
        raise ValueError(f"tile size and stride must be positive, got {size} and {stride}")
    xs, ys = _starts(width, size, stride), _starts(height, size, stride)
    return [(x, y, min(size, width), min(size, height)) for y in ys for x in xs]


def tile_stride(size: int, overlap: float = 0.0, stride: int | None = None) -> int:
    """The step between tile starts: ``stride`` pixels when given, else ``size * (1 - overlap)`` (rounded, at
    least 1)."""
    return stride if stride is not None else max(1, round(size * (1.0 - overlap)))


def tile_count(width: int, height: int, size: int, overlap: float = 0.0, *, stride: int | None = None) -> int:
    """``len(tile_windows(...))`` without listing the windows."""
    stride = tile_stride(size, overlap, stride)
    return len(_starts(width, size, stride)) * len(_starts(height, size, stride))


def _starts(length: int, size: int, stride: int) -> list[int]:
    if length <= size:
        return [0]
    starts = list(range(0, length - size + 1, stride))
    if starts[-1] + size < length:
        starts.append(length - size)
    return starts


def objects_in_window(objects: Sequence[ObjectAnnotation], window: tuple[int, int, int, int],
                      keep_share: float) -> tuple[ObjectAnnotation, ...]:
    """The objects of a tile, in the tile's coordinates.

    An object is kept when at least ``keep_share`` of its box area lies inside the window (a box of zero area:
    when its centre does); its box is clipped to the window, and box and polygon are shifted by the window's
    offset. ``objects`` must already be clipped to the image (:func:`fit_objects_to_image`).
    """
    wx, wy, ww, wh = window
    kept = []
    for obj in objects:
        x0, y0, x1, y1 = obj.bbox
        ix0, iy0, ix1, iy1 = max(x0, wx), max(y0, wy), min(x1, wx + ww), min(y1, wy + wh)
        area = (x1 - x0) * (y1 - y0)
        if area > 0:
            inside = max(0.0, ix1 - ix0) * max(0.0, iy1 - iy0)
            if inside < keep_share * area or inside == 0:
                continue
        elif not (wx <= (x0 + x1) / 2 <= wx + ww and wy <= (y0 + y1) / 2 <= wy + wh):
            continue
        polygon = tuple(v - (wx if i % 2 == 0 else wy) for i, v in enumerate(obj.polygon))
        kept.append(ObjectAnnotation(category=obj.category, bbox=(ix0 - wx, iy0 - wy, ix1 - wx, iy1 - wy),
                                     polygon=polygon, difficult=obj.difficult, source_line=obj.source_line))
    return tuple(kept)
