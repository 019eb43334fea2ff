"""LEVIR object-detection text labels (Zou & Shi, 2018): planes, ships and oil tanks in 800 x 600 Google Earth images.

No real sample was available when this reader was written: the layout and line format below follow the
publisher's description (Zou & Shi, IEEE TIP 2018, and the LEVIR page) and the readers published with the dataset;
the options cover what those sources disagree on. Check a few converted rows against the images before relying on
a build.

Layout::

    <root>/imageWithLabel/00001.jpg     one split; images are JPEG, 800 x 600
    <root>/imageWithLabel/00001.txt     the labels of 00001.jpg: same stem, same folder

Option ``images=NAME`` renames the images folder (``images=.`` when the images lie directly in the root);
``labels=NAME`` names a separate labels folder (default: the images folder itself). Both are relative to the split
folder; a root whose sub-folders each hold the images folder gives one split per sub-folder. The dataset has no
official split: the root is one split, named by a single ``--split`` or "train".

Label file: text, one object per line, numbers separated by spaces (any whitespace is accepted)::

    1 314 196 361 237               class x1 y1 x2 y2 (the default column order)

``class`` is 1 plane, 2 ship or 3 oil tank (the category labels "plane", "ship" and "oil tank"); ``(x1, y1)`` is
the box's top-left and ``(x2, y2)`` its bottom-right corner in pixels. Some redistributions write the class last
(``x1 y1 x2 y2 class``): option ``columns=x1,y1,x2,y2,class`` reads them (any order of the five names ``class``,
``x1``, ``y1``, ``x2``, ``y2`` is accepted). Option ``coordinates`` says how to read the corners (see
:data:`rsdata.formats.nwpu_vhr10.BOX_CONVENTIONS`; default ``corners``, the numbers as written, which is how the
published readers use them).

Many LEVIR images contain no target. A label file that is empty (zero bytes or blank lines only) gives an image
with nothing to describe, counted as ``no_objects`` by the build, not an error. A line without exactly five fields
is ``malformed_line``; a coordinate that is not a finite number, a class that is not a whole number, or a
bottom-right corner above or left of the top-left one is ``bad_number``; a whole-number class other than 1, 2 or 3
is ``unknown_class``. Images with no label file are ``missing_annotation``;
label files with no image ``missing_image``.

Licence: the publisher states none that we could find (the dataset is offered for research by the LEVIR lab of
Beihang University); the default card licence is ``unknown``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from rsdata import errors
from rsdata.errors import RecordError
from rsdata.formats.base import (
    SourceFormat,
    SourceItem,
    check_pair,
    find_split_folders,
    index_annotations,
    labels_folder,
    paired_items,
    read_text_file,
    register_format,
)
from rsdata.formats.boxlines import (
    check_box_convention,
    check_corner_order,
    class_id_reason,
    corner_box,
    parse_columns,
    parse_coordinate,
)
from rsdata.records import ImageRecord, ObjectAnnotation, Provenance

#: LEVIR class ids -> category labels.
LEVIR_CLASSES = {1: "plane", 2: "ship", 3: "oil tank"}
_CLASS_BY_TEXT = {str(number): name for number, name in LEVIR_CLASSES.items()}
_COLUMN_NAMES = ("class", "x1", "y1", "x2", "y2")


@dataclass(frozen=True)
class LevirOptions:
    images: str = "imageWithLabel"
    labels: str | None = None
    columns: str = "class,x1,y1,x2,y2"
    coordinates: str = "corners"

    def __post_init__(self):
        parse_columns("columns", self.columns, _COLUMN_NAMES)
        check_box_convention("coordinates", self.coordinates)


@register_format
class LevirFormat(SourceFormat):
    name = "levir"
    description = "LEVIR: per-image 'class x1 y1 x2 y2' text labels beside the JPEGs (plane, ship, oil tank)"
    options_class = LevirOptions
    default_license = "unknown"

    def __init__(self, options: LevirOptions | None = None):
        super().__init__(options)
        self._positions = parse_columns("columns", self.options.columns, _COLUMN_NAMES)

    def list_items(self, root: Path, splits: Sequence[str] | None) -> list[SourceItem]:
        items: list[SourceItem] = []
        for split, folder in find_split_folders(root, self.options.images, splits):
            images_dir = folder / self.options.images
            labels_dir = images_dir if self.options.labels is None else labels_folder(
                folder, self.options.labels, "labels", "one <image stem>.txt label file per image")
            items.extend(paired_items(root, split, images_dir, index_annotations(labels_dir, ".txt")))
        return items

    def parse(self, item: SourceItem) -> ImageRecord:
        check_pair(item, "label file")
        objects = parse_label_file(item.annotation_path, self._positions, self.options.coordinates)
        return ImageRecord(image_path=item.image_path, image_name=item.image_name,
                           provenance=Provenance(source_dataset=self.name, split=item.split,
                                                 source_id=item.source_id),
                           objects=objects, annotation_path=item.annotation_path)


def parse_label_file(path: Path, positions: tuple[int, ...] = (0, 1, 2, 3, 4),
                     coordinates: str = "corners") -> tuple[ObjectAnnotation, ...]:
    """Parse one LEVIR label file. ``positions`` gives the column of class, x1, y1, x2 and y2 (see
    :func:`parse_columns`)."""
    text = read_text_file(path)
    return tuple(parse_object_line(line, path, number, positions, coordinates)
                 for number, line in enumerate(text.splitlines(), start=1) if line.strip())


def parse_object_line(line: str, path: Path, number: int, positions: tuple[int, ...] = (0, 1, 2, 3, 4),
                      coordinates: str = "corners") -> ObjectAnnotation:
    fields = line.split()
    if len(fields) != 5:
        order = " ".join(name for _, name in sorted(zip(positions, _COLUMN_NAMES)))
        raise RecordError(path, f"expected 5 fields ({order}), got {len(fields)}: {line.strip()!r}",
                          reason=errors.MALFORMED_LINE, line=number)
    class_at, *coordinate_at = positions
    x1, y1, x2, y2 = (parse_coordinate(fields[at], name, path, number)
                      for at, name in zip(coordinate_at, _COLUMN_NAMES[1:]))
    raw_class = fields[class_at]
    category = _CLASS_BY_TEXT.get(raw_class)
    if category is None:
        raise RecordError(path, f"class is {raw_class!r} (column {class_at + 1}); expected 1 (plane), 2 (ship) or "
                          "3 (oil tank); if the class is another column, set -o columns=...",
                          reason=class_id_reason(raw_class), line=number)
    check_corner_order(x1, y1, x2, y2, path, number)
    return ObjectAnnotation(category=category, bbox=corner_box(x1, y1, x2, y2, coordinates), source_line=number)
