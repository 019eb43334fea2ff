"""The canonical record: the one shape every source format parses into.

Conventions (shared by every format, caption rule and output column):
- Pixel coordinates, origin at the top-left corner of the image, x to the right, y down.
- Boxes are axis-aligned ``(x_min, y_min, x_max, y_max)`` in pixels; ``x_max``/``y_max`` are exclusive edges, so a
  box covering the single pixel (3, 4) is ``(3, 4, 4, 5)``.
- Polygons are flat ``(x1, y1, x2, y2, ...)`` tuples exactly as the source gives them (unclipped); the box of an
  oriented object is the polygon's axis-aligned bounds, clipped to the image.
- ``category`` is the source's label as written ("small-vehicle"); readable caption names come from the caption
  vocabulary (:mod:`rsdata.captions.vocabulary`), never from editing the label.

A record becomes an output row through a caption rule: its ``human_captions`` when it has any (rule ``human``),
otherwise the rule its format applies (:meth:`rsdata.formats.base.SourceFormat.describe`), which gives a
:class:`Description` or says there is :class:`NothingToDescribe`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

#: The caption rule of captions written by people and published with the source (kept as written).
HUMAN_RULE = "human"
#: The caption rule of rows that carry no caption (scene classification: the label is the annotation).
NO_CAPTION_RULE = "none"

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class ObjectAnnotation:
    """One annotated object.

    ``source_line`` (1-based) points back into the annotation file so that later checks, such as an object lying
    outside the image, can name the line. It is not written to the output.
    """

    category: str
    bbox: Box
    polygon: tuple[float, ...] = ()
    difficult: bool = False
    source_line: int | None = None


@dataclass(frozen=True)
class Provenance:
    """Where a record comes from.

    ``tile_offset`` is the (x, y) pixel offset of this image's top-left corner inside the source image; (0, 0)
    for whole images. For georeferenced imagery, ``crs`` is the source's coordinate reference system (an
    ``EPSG:<code>`` string when it has one, else WKT), ``geo_transform`` the affine transform of THIS image (tile)
    as GDAL's six numbers ``(x0, pixel width, row rotation, y0, column rotation, pixel height)``, and
    ``footprint_wgs84`` the image's outline in longitude/latitude (WGS84) as WKT; all three are None for
    imagery without georeferencing.
    """

    source_dataset: str
    split: str
    source_id: str
    tile_offset: tuple[int, int] = (0, 0)
    license: str = "unknown"
    crs: str | None = None
    geo_transform: tuple[float, ...] | None = None
    footprint_wgs84: str | None = None


@dataclass(frozen=True)
class ImageRecord:
    """One source image with its annotations.

    ``image_path`` is the image file; ``image_name`` its path relative to the source root (written to the output
    as the image's ``path``). ``image_data``, when set, holds the image's encoded bytes (PNG or JPEG) for sources
    whose images are not files of their own (frames decoded from a video, tiles read from a large raster);
    ``image_path`` then names the file they came from, for messages. ``reencoded_from``: when ``image_data`` was
    encoded anew from pixels of ``image_path`` (a window of a raster, written as PNG) rather than being bytes of a
    file, the format of ``image_path`` (Pillow's name, e.g. "TIFF"); the row then names it as
    ``source_image_format`` and the data's own format as ``image_encoding``, never "original".
    ``dropped_objects`` counts objects a rule left out, by reason (for example ``region_below_min_area`` under
    m2b/1); the build adds them to its report. ``width``/``height`` are the image's pixel size, ``None`` until
    the image has been read (formats parse annotations without opening images; the build fills them in).
    ``annotation_path`` is the file the objects came from, for error messages.

    ``human_captions``: captions people wrote for this image (retrieval sets), in source order, each exactly as
    published without its line terminator; when there are any, they are the row's captions (rule ``human``) and
    the record needs no objects. ``extras``: values of the extra columns the format declares
    (:meth:`~rsdata.formats.base.SourceFormat.extra_features`), by column name, in the column's Python form
    (a :class:`datasets.ClassLabel` column takes the class index).
    """

    image_path: Path
    image_name: str
    provenance: Provenance
    objects: tuple[ObjectAnnotation, ...] = ()
    human_captions: tuple[str, ...] = ()
    width: int | None = None
    height: int | None = None
    annotation_path: Path | None = None
    image_data: bytes | None = None
    reencoded_from: str | None = None
    dropped_objects: Mapping[str, int] = field(default_factory=dict)
    extras: Mapping[str, Any] = field(default_factory=dict)

    def replace(self, **changes) -> "ImageRecord":
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True)
class Description:
    """What a caption rule made of one image: its ``captions``, the template id behind each (``template_ids``,
    empty when the rule has no templates), the ``rule`` id, and the values of extra columns the rule decided
    (``extras``, merged with the record's own)."""

    captions: tuple[str, ...]
    template_ids: tuple[str, ...]
    rule: str
    extras: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NothingToDescribe:
    """A caption rule found nothing it can describe in an image (not an error): the build leaves the image out
    and counts it under ``reason`` (a stable slug, e.g. ``no_objects``); ``message`` says what was missing."""

    reason: str
    message: str
