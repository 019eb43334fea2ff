"""CARPK and PUCPR+ car-counting annotations (the ``CARPK_devkit`` / ``PUCPR+_devkit`` releases).

Layout, as the publisher ships it::

    <root>/data/Images/20160331_NTU_00001.png        CARPK: PNG drone frames, 1280 x 720; PUCPR+: JPEG
    <root>/data/Annotations/20160331_NTU_00001.txt   same stem as its image
    <root>/data/ImageSets/train.txt                  image stems, one a line (the last line may lack its newline)
    <root>/data/ImageSets/test.txt

``<root>`` is the devkit folder (``CARPK_devkit``) or its ``data`` folder. Each list in ``ImageSets/`` is a
split named after the file (``train``, ``test``); only the images a list names are converted, in sorted order,
and a stem listed twice counts once. Without an ``ImageSets/`` folder every image and annotation file forms one
split, named by the single ``--split`` given or "train". Options ``images=``, ``annotations=`` and
``image_sets=`` rename the three folders.

Annotation file: one car per line, space-separated::

    x1 y1 x2 y2 class

Corners are 0-based *inclusive* pixel coordinates (integers in the releases; decimals are accepted): boxes that
touch the bottom of CARPK's 720-pixel-high frames end at y2 = 719. So the box is ``(x1, y1, x2 + 1, y2 + 1)``.
``class`` is always 1, car (the label "car"); another whole number is ``unknown_class``, anything else
``bad_number``. Blank lines, a
byte-order mark and CRLF endings are accepted. A file with no lines gives an image with nothing to describe
(``no_objects``). Nothing is excluded: both datasets annotate cars only.

A listed image without its annotation file is ``missing_annotation``, without its image ``missing_image``; a
stem on a list with neither file is ``missing_image``. Real samples checked: one CARPK annotation file (no
images, no PUCPR+ files). Licence: CARPK and PUCPR+ (Hsieh et al., ICCV 2017; PUCPR+ re-annotates part of the
PKLot data) are published for research; the default card licence is ``other``.

Image bytes: CARPK's PNGs are frames of drone video; the ``carpk`` recipe stores them as JPEG quality 95
(``convert_options: {image_format: jpeg}``, :mod:`rsdata.images`), and PUCPR+'s JPEGs pass through byte for byte.
With the format alone (``rsdata convert carpk ...``) the PNGs are kept unless ``--image-format jpeg`` is given.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rsdata import errors
from rsdata.errors import OptionError, RecordError, SourceLayoutError
from rsdata.formats.base import (
    IMAGE_SUFFIXES,
    SourceFormat,
    SourceItem,
    choose_splits,
    index_annotations,
    index_images,
    paired_items,
    read_text_file,
    register_format,
)
from rsdata.formats.boxlines import class_id_reason, parse_coordinate
from rsdata.records import ImageRecord, ObjectAnnotation, Provenance

CAR = "car"


@dataclass(frozen=True)
class CarpkOptions:
    images: str = "Images"
    annotations: str = "Annotations"
    image_sets: str = "ImageSets"

    def __post_init__(self):
        for option in ("images", "annotations", "image_sets"):
            value = getattr(self, option)
            if not isinstance(value, str) or not value.strip() or Path(value).is_absolute():
                raise OptionError(f"option {option}={value!r}: expected a folder name relative to the data folder "
                                  f"(default {getattr(type(self), option)!r})")


@register_format
class CarpkFormat(SourceFormat):
    name = "carpk"
    description = "CARPK / PUCPR+ devkit: per-image 'x1 y1 x2 y2 1' car boxes (inclusive corners), ImageSets splits"
    options_class = CarpkOptions
    default_license = "other"

    def list_items(self, root: Path, splits: Sequence[str] | None) -> list[SourceItem]:
        data = self._data_folder(root)
        images_dir, annotations_dir = data / self.options.images, data / self.options.annotations
        images = index_images(images_dir)
        annotations = index_annotations(annotations_dir, ".txt", option="annotations")
        items: list[SourceItem] = []
        for split, stems in self._split_lists(data, images, annotations, splits):
            items.extend(paired_items(root, split, images_dir, annotations, stems=stems, images=images))
        return items

    def _data_folder(self, root: Path) -> Path:
        if not root.is_dir():
            raise SourceLayoutError(f"source folder {root} does not exist or is not a folder")
        candidates = (root, root / "data")
        for folder in candidates:
            if (folder / self.options.annotations).is_dir() or (folder / self.options.images).is_dir():
                for needed in (self.options.images, self.options.annotations):
                    if not (folder / needed).is_dir():
                        raise SourceLayoutError(
                            f"no '{needed}/' folder in {folder}; a CARPK/PUCPR+ data folder holds "
                            f"{self.options.images}/, {self.options.annotations}/ and {self.options.image_sets}/")
                return folder
        raise SourceLayoutError(
            f"no '{self.options.annotations}/' or '{self.options.images}/' folder in {root} nor in {root / 'data'}; "
            f"expected the devkit layout <root>/data/{self.options.images}/, <root>/data/{self.options.annotations}/ "
            f"and <root>/data/{self.options.image_sets}/ (or those folders directly in <root>)")

    def _split_lists(self, data: Path, images: dict, annotations: dict,
                     splits: Sequence[str] | None) -> list[tuple[str, list[str]]]:
        sets_dir = data / self.options.image_sets
        if not sets_dir.is_dir():
            if splits and len(splits) > 1:
                raise OptionError(f"{data} has no {self.options.image_sets}/ folder, so it is a single split; give at "
                                  "most one --split to name it")
            return [(splits[0] if splits else "train", sorted(set(images) | set(annotations)))]
        lists = {p.stem: p for p in sorted(sets_dir.glob("*.txt")) if p.is_file()}
        if not lists:
            raise SourceLayoutError(f"no split list (*.txt) in {sets_dir}; expected train.txt and test.txt holding "
                                    "image names, one a line")
        lists = {name: lists[name] for name in choose_splits(splits, list(lists), sets_dir)}
        return [(name, read_image_set(path)) for name, path in lists.items()]

    def parse(self, item: SourceItem) -> ImageRecord:
        provenance = Provenance(source_dataset=self.name, split=item.split, source_id=item.source_id)
        if item.annotation_path is None and item.image_path is not None:
            raise RecordError(item.image_path, f"image has no annotation file (expected {item.source_id}.txt in the "
                              f"'{self.options.annotations}' folder)", reason=errors.MISSING_ANNOTATION)
        objects = parse_annotation_file(item.annotation_path) if item.annotation_path is not None else ()
        if item.image_path is None:
            raise RecordError(item.annotation_path or item.image_name, f"no image {item.source_id} (with ending "
                              f"{', '.join(IMAGE_SUFFIXES)}) in the '{self.options.images}' folder",
                              reason=errors.MISSING_IMAGE)
        return ImageRecord(image_path=item.image_path, image_name=item.image_name, provenance=provenance,
                           objects=objects, annotation_path=item.annotation_path)


def read_image_set(path: Path) -> list[str]:
    """The image stems of an ``ImageSets`` list, sorted and without repeats (a listed name's ending is dropped)."""
    stems = set()
    for line in read_text_file(path).splitlines():
        name = line.strip()
        if name:
            stems.add(Path(name).stem if Path(name).suffix.lower() in IMAGE_SUFFIXES else name)
    return sorted(stems)


def parse_annotation_file(path: Path) -> tuple[ObjectAnnotation, ...]:
    """The cars of one annotation file; :class:`RecordError` naming the file and line of the first problem."""
    objects = []
    for number, line in enumerate(read_text_file(path).splitlines(), start=1):
        stripped = line.strip()
        if stripped:
            objects.append(parse_annotation_line(stripped, path, number))
    return tuple(objects)


def parse_annotation_line(line: str, path: Path, number: int) -> ObjectAnnotation:
    fields = line.split()
    if len(fields) == 5 and fields[4] == "1":
        # Fast path for well-formed lines; anything unusual goes to the checking path.
        try:
            x1, y1, x2, y2 = (float(v) for v in fields[:4])
        except ValueError:
            pass
        else:
            if x1 <= x2 and y1 <= y2 and math.isfinite(x2 - x1 + y2 - y1):
                return ObjectAnnotation(category=CAR, bbox=(x1, y1, x2 + 1, y2 + 1), source_line=number)
    return _checked_line(fields, line, path, number)


def _checked_line(fields: list[str], line: str, path: Path, number: int) -> ObjectAnnotation:
    """Parse a line the fast path refused, raising the precise error for it."""
    if len(fields) != 5:
        raise RecordError(path, f"expected 5 space-separated fields (x1 y1 x2 y2 class), got {len(fields)}: {line!r}",
                          reason=errors.MALFORMED_LINE, line=number)
    coords = []
    for name, raw in zip(("x1", "y1", "x2", "y2"), fields[:4]):
        coords.append(parse_coordinate(raw, name, path, number))
    x1, y1, x2, y2 = coords
    if x2 < x1 or y2 < y1:
        raise RecordError(path, f"corners ({x1:g}, {y1:g}) and ({x2:g}, {y2:g}) are inverted; expected x1 <= x2 and "
                          "y1 <= y2", reason=errors.BAD_NUMBER, line=number)
    if fields[4] != "1":
        raise RecordError(path, f"class is {fields[4]!r}; CARPK and PUCPR+ annotate cars only (class 1)",
                          reason=class_id_reason(fields[4]), line=number)
    return ObjectAnnotation(category=CAR, bbox=(x1, y1, x2 + 1, y2 + 1), source_line=number)
