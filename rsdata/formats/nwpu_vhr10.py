"""NWPU VHR-10 ground-truth text files (Cheng et al., 2014), as the dataset's own readme.txt documents them.

Layout (the download, ``NWPU VHR-10 dataset/``)::

    <root>/positive image set/001.jpg ... 650.jpg   650 images, each with at least one object: converted
    <root>/negative image set/001.jpg ... 150.jpg   150 images without any object of the ten classes: NOT converted
    <root>/ground truth/001.txt ... 650.txt          the boxes of the positive image with the same stem

The dataset has no official split: the root is one split, named by a single ``--split`` or "train" (a root whose
sub-folders each hold ``positive image set/`` gives one split per sub-folder, as for DOTA). Option
``images=NAME`` renames the images folder, ``labels=NAME`` the ground-truth folder (both relative to the split
folder). The negative image set is left out on purpose: its images have nothing to describe, and captions are made
only for images with objects (captions.md, b2c/1); converting it would only add 150 ``no_objects`` skips.

Ground-truth file: text, one box per line::

    (563,478),(630,573),1
    ( 52,515),(152,594),1            numbers may be space-padded inside the parentheses
    (259,248),(423,350), 6           ... and before the class; lines usually end with a space

``(x1,y1)`` is the box's top-left corner, ``(x2,y2)`` its bottom-right corner, in pixels; the last number is the
class id. Blank lines are ignored. Class ids (the readme's table) and the category label each becomes:

    1 airplane, 2 ship, 3 storage tank, 4 baseball diamond, 5 tennis court, 6 basketball court,
    7 ground track field, 8 harbor, 9 bridge, 10 vehicle

Coordinates: the readme calls the numbers the "top-left" and "right-bottom" coordinates without saying whether
they are pixel indices (and from 0 or 1) or corner points. The default ``coordinates=corners`` takes them as the
box's corners, ``(x1, y1, x2, y2)`` as written (what the published converters do); ``coordinates=pixels1`` reads
them as 1-based inclusive pixel indices (PASCAL VOC style, giving ``(x1 - 1, y1 - 1, x2, y2)``) and
``coordinates=pixels0`` as 0-based inclusive indices (``(x1, y1, x2 + 1, y2 + 1)``). The difference is one pixel.

Errors: a file of zero bytes, or with no box line, is ``empty_label_file`` (every ground-truth file of the
dataset lists at least one box); a line that is not ``(x1,y1),(x2,y2),c`` is ``malformed_line``; a coordinate
that is not a finite number, a class id that is not a whole number, or a bottom-right corner above or left of
the top-left one is ``bad_number``; a whole-number class id outside 1-10 is ``unknown_class``. Images with no
ground-truth file are ``missing_annotation``; ground-truth files with no image ``missing_image``. Real samples
checked: 10 ground-truth files from the dataset (shared realdata
``nwpu_vhr10_txt``, without images). The helpers for two-corner boxes and text label files defined here are shared
by the LEVIR and RSOD formats.

Licence: the readme says the dataset is "used for research purposes only"; its images come from Google Earth and
the Vaihingen data set (DGPF). The default card licence is therefore ``other``.
"""

from __future__ import annotations

import re
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
    parse_coordinate,
)
from rsdata.records import ImageRecord, ObjectAnnotation, Provenance

# ---------------------------------------------------------------------------------------------------------------
# NWPU VHR-10

#: NWPU VHR-10 class ids (readme.txt) -> category labels.
NWPU_CLASSES = {
    1: "airplane", 2: "ship", 3: "storage tank", 4: "baseball diamond", 5: "tennis court",
    6: "basketball court", 7: "ground track field", 8: "harbor", 9: "bridge", 10: "vehicle",
}
_CLASS_BY_TEXT = {str(number): name for number, name in NWPU_CLASSES.items()}

# Loose on purpose: each field is "anything but separators", so that a bad number gets its own precise error.
_LINE = re.compile(r"\(\s*([^,()\s]*)\s*,\s*([^,()\s]*)\s*\)\s*,\s*\(\s*([^,()\s]*)\s*,\s*([^,()\s]*)\s*\)\s*,"
                   r"\s*([^,\s]*)")
_FIELD_NAMES = ("x1", "y1", "x2", "y2")


@dataclass(frozen=True)
class NwpuVhr10Options:
    images: str = "positive image set"
    labels: str = "ground truth"
    coordinates: str = "corners"

    def __post_init__(self):
        check_box_convention("coordinates", self.coordinates)


@register_format
class NwpuVhr10Format(SourceFormat):
    name = "nwpu_vhr10"
    description = "NWPU VHR-10 ground truth: '(x1,y1),(x2,y2),class' lines, 10 classes (positive image set only)"
    options_class = NwpuVhr10Options
    default_license = "other"

    def list_items(self, root: Path, splits: Sequence[str] | None) -> list[SourceItem]:
        items: list[SourceItem] = []
        for split, folder in find_split_folders(root, self.options.images, splits):
            labels_dir = labels_folder(folder, self.options.labels, "labels",
                                       "one <image stem>.txt ground-truth file per positive image")
            items.extend(paired_items(root, split, folder / self.options.images, index_annotations(labels_dir, ".txt")))
        return items

    def parse(self, item: SourceItem) -> ImageRecord:
        check_pair(item, "ground-truth file")
        objects = parse_ground_truth(item.annotation_path, self.options.coordinates)
        return ImageRecord(image_path=item.image_path, image_name=item.image_name,
                           provenance=Provenance(source_dataset=self.name, split=item.split,
                                                 source_id=item.source_id),
                           objects=objects, annotation_path=item.annotation_path)


def parse_ground_truth(path: Path, coordinates: str = "corners") -> tuple[ObjectAnnotation, ...]:
    """Parse one NWPU VHR-10 ground-truth file; raise :class:`RecordError` naming the file and line of the first
    problem."""
    text = read_text_file(path)
    objects = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            objects.append(parse_box_line(line, path, number, coordinates))
    if not objects:
        raise RecordError(path, "ground-truth file has no box line (it is empty); every NWPU VHR-10 ground-truth "
                          "file lists at least one '(x1,y1),(x2,y2),class' line", reason=errors.EMPTY_LABEL_FILE)
    return tuple(objects)


def parse_box_line(line: str, path: Path, number: int, coordinates: str = "corners") -> ObjectAnnotation:
    """Parse one ``(x1,y1),(x2,y2),class`` line (spaces allowed anywhere between the fields)."""
    match = _LINE.fullmatch(line.strip())
    if match is None:
        raise RecordError(path, f"expected '(x1,y1),(x2,y2),class' (two corners in parentheses and a class id "
                          f"1-10, separated by commas), got {line.strip()!r}", reason=errors.MALFORMED_LINE,
                          line=number)
    *raw_coords, raw_class = match.groups()
    x1, y1, x2, y2 = (parse_coordinate(raw, name, path, number) for raw, name in zip(raw_coords, _FIELD_NAMES))
    category = _CLASS_BY_TEXT.get(raw_class)
    if category is None:
        raise RecordError(path, f"class id is {raw_class!r}; expected an integer 1-10 ("
                          + ", ".join(f"{k} {v}" for k, v in NWPU_CLASSES.items()) + ")",
                          reason=class_id_reason(raw_class), line=number)
    check_corner_order(x1, y1, x2, y2, path, number)
    return ObjectAnnotation(category=category, bbox=corner_box(x1, y1, x2, y2, coordinates), source_line=number)
