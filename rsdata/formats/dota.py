"""DOTA ``labelTxt`` annotations (DOTA v1.0, v1.5 and v2.0, and the headerless variant other tools write).

Layout::

    <root>/images/P0001.png          one split; or <root>/<split>/images/..., one folder per split
    <root>/labelTxt/P0001.txt         the label file of P0001 (same stem as its image)

The labels folder is ``labelTxt`` or, when that is absent, the one sub-folder whose name starts with
``labelTxt`` (``labelTxt-v1.5``, ``labelTxt-v2.0``); option ``labels=NAME`` picks another, ``images=NAME``
renames the images folder. Label files may sit in sub-folders of the labels folder; a label file and an image
match by stem (``P0001.txt`` and ``P0001.png``), the image with any of the endings PNG, JPEG, TIFF or BMP. Two
label files for one image (DOTA's download has ``labelTxt-v1.0/labelTxt/`` beside ``Train_Task2_gt/``) are a
layout error that names both and asks for ``-o labels=labelTxt-v1.0/labelTxt``.

Label file: UTF-8 text (a byte-order mark is allowed), one object per line::

    imagesource:GoogleEarth          optional header (DOTA_devkit v1.0 and later)
    gsd:0.146343590398               optional header; a number, or "null" in some v1.5 files
    x1 y1 x2 y2 x3 y3 x4 y4 class difficult

The four corners are pixel coordinates (integers in the official files, floats in files written by other
tools); ``class`` is one word ("small-vehicle", "storage-tank"); ``difficult`` is 0 or 1 and may be missing.
Blank lines are ignored. The object's box is the polygon's axis-aligned bounds; clipping to the image happens
once the image size is known (see :mod:`rsdata.geometry`). A file of zero bytes is an error (``empty_label_file``);
a file with headers but no objects gives an image with nothing to describe (``no_objects``).

Splits: a root holding ``images/`` is one split; otherwise each sub-folder holding ``images/`` is a split
(``train``, ``val``, ``test``; mmrotate's ``img_split.py`` writes ``trainval``/``test``). A split folder with
images but no label folder (DOTA's ``test/``, which has no public labels) is left out with a note when no
``--split`` was given; asking for it with ``--split`` is a layout error.

Copies written by the main frameworks (all read with this format; the ``dota`` recipe lists them as variants):

- the publisher's download: ``<split>/labelTxt-v1.0/labelTxt/`` (``labels=labelTxt-v1.0/labelTxt``), with the
  ``imagesource``/``gsd`` header and integer corners;
- mmrotate's ``tools/data/dota`` layout and DOTA_devkit's: ``<split>/images/`` + ``<split>/labelTxt/``;
- mmrotate's ``img_split.py`` output (``split_ss_dota/``): ``trainval/images/`` + ``trainval/annfiles/``
  (``labels=annfiles``), no header, float corners, ``test/`` without labels;
- DOTA_devkit's ``ImgSplit`` output: ``images/`` + ``labelTxt/`` directly in the root (one split), no header.

Not read: YOLO-OBB labels (ultralytics' ``convert_dota_to_yolo_obb`` writes ``labels/<split>/*.txt`` as
``class_index x1 y1 ... x4 y4`` with corners divided by the image size, beside ``images/<split>/``); convert the
DOTA labels that copy keeps (``labels/<split>_original/``) or the publisher's files instead.

Images with no label file are reported as ``missing_annotation``, label files with no image as ``missing_image``:
neither is guessed. Licence: DOTA's images are for academic use only (https://captain-whu.github.io/DOTA/), so
the default card licence is ``other``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from rsdata import errors
from rsdata.errors import RecordError, SourceLayoutError
from rsdata.formats.base import (
    SourceFormat,
    SourceItem,
    check_pair,
    find_split_folders,
    index_annotations,
    paired_items,
    read_text_file,
    register_format,
)
from rsdata.formats.boxlines import parse_coordinate
from rsdata.records import ImageRecord, ObjectAnnotation, Provenance

_HEADER_KEYS = ("imagesource:", "gsd:")


@dataclass(frozen=True)
class DotaOptions:
    images: str = "images"
    labels: str | None = None


@register_format
class DotaFormat(SourceFormat):
    name = "dota"
    description = "DOTA labelTxt v1.0/1.5/2.0: oriented 4-point polygons with class and difficult flag"
    options_class = DotaOptions
    default_license = "other"

    def list_items(self, root: Path, splits: Sequence[str] | None) -> list[SourceItem]:
        items: list[SourceItem] = []
        found = find_split_folders(root, self.options.images, splits)
        for split, folder in found:
            if not splits and len(found) > 1 and not self._has_labels(folder):
                # A test split without public labels (DOTA's test/images/, mmrotate's split test/images/).
                self.note(f"split {split} ({folder}) has images but no label folder"
                          f"{' ' + self.options.labels if self.options.labels else ''}: left out (a test split "
                          "without public labels)")
                continue
            labels_dir = self._labels_folder(folder)
            items.extend(paired_items(root, split, folder / self.options.images,
                                      index_annotations(labels_dir, ".txt")))
        if not items and found and all(not self._has_labels(folder) for _, folder in found):
            raise SourceLayoutError(f"no split folder of {root} has a label folder (labelTxt/, or the folder -o "
                                    "labels=NAME names)")
        return items

    def _has_labels(self, split_folder: Path) -> bool:
        if self.options.labels is not None:
            return (split_folder / self.options.labels).is_dir()
        return any(p.is_dir() and p.name.startswith("labelTxt") for p in split_folder.iterdir())

    def _labels_folder(self, split_folder: Path) -> Path:
        if self.options.labels is not None:
            folder = split_folder / self.options.labels
            if not folder.is_dir():
                raise SourceLayoutError(f"labels folder {folder} (option labels={self.options.labels}) does not exist")
            return folder
        if (split_folder / "labelTxt").is_dir():
            return split_folder / "labelTxt"
        candidates = sorted(p.name for p in split_folder.iterdir() if p.is_dir() and p.name.startswith("labelTxt"))
        if len(candidates) == 1:
            return split_folder / candidates[0]
        if not candidates:
            raise SourceLayoutError(
                f"no labelTxt folder in {split_folder}; DOTA label files go in {split_folder / 'labelTxt'} "
                f"(or name the folder with -o labels=NAME)")
        raise SourceLayoutError(
            f"several label folders in {split_folder}: {', '.join(candidates)}; choose one with -o labels=NAME")

    def parse(self, item: SourceItem) -> ImageRecord:
        provenance = Provenance(source_dataset=self.name, split=item.split, source_id=item.source_id)
        check_pair(item, "label file")
        objects = parse_label_file(item.annotation_path)
        return ImageRecord(image_path=item.image_path, image_name=item.image_name, provenance=provenance,
                           objects=objects, annotation_path=item.annotation_path)


def parse_label_file(path: Path) -> tuple[ObjectAnnotation, ...]:
    """Parse one DOTA label file; raise :class:`RecordError` naming the file and line of the first problem."""
    data = path.read_bytes()
    if not data:
        raise RecordError(path, "label file is empty (0 bytes); a DOTA label file has at least its header lines "
                          "or one object line", reason=errors.EMPTY_LABEL_FILE)
    text = read_text_file(path, data)
    objects = []
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith(_HEADER_KEYS):
            continue
        objects.append(parse_object_line(stripped, path, number))
    return tuple(objects)


def parse_object_line(line: str, path: Path, number: int) -> ObjectAnnotation:
    fields = line.split()
    if len(fields) in (9, 10):
        # Fast path for well-formed lines (nearly all of them); anything unusual goes to the checking path.
        try:
            coords = [float(v) for v in fields[:8]]
        except ValueError:
            pass
        else:
            category, flag = fields[8], fields[9] if len(fields) == 10 else "0"
            if flag in ("0", "1") and not _is_number(category) and all(map(math.isfinite, coords)):
                xs, ys = coords[0::2], coords[1::2]
                return ObjectAnnotation(category=category, bbox=(min(xs), min(ys), max(xs), max(ys)),
                                        polygon=tuple(coords), difficult=flag == "1", source_line=number)
    return _checked_object_line(fields, line, path, number)


def _checked_object_line(fields: list[str], line: str, path: Path, number: int) -> ObjectAnnotation:
    """Parse a line the fast path refused, raising the precise error for it."""
    if len(fields) not in (9, 10):
        raise RecordError(path, f"expected 8 coordinates, a class name and a difficult flag (10 fields, or 9 "
                          f"without the flag), got {len(fields)} field(s): {line!r}",
                          reason=errors.MALFORMED_LINE, line=number)
    coords = [parse_coordinate(raw, f"coordinate {position}", path, number)
              for position, raw in enumerate(fields[:8], start=1)]
    category = fields[8]
    if _is_number(category):
        raise RecordError(path, f"field 9 should be the class name but is the number {category!r} (a coordinate "
                          "too many, or the class missing)", reason=errors.MALFORMED_LINE, line=number)
    difficult = False
    if len(fields) == 10:
        if fields[9] not in ("0", "1"):
            raise RecordError(path, f"difficult flag is {fields[9]!r}; expected 0 or 1",
                              reason=errors.BAD_NUMBER, line=number)
        difficult = fields[9] == "1"
    xs, ys = coords[0::2], coords[1::2]
    return ObjectAnnotation(category=category, bbox=(min(xs), min(ys), max(xs), max(ys)), polygon=tuple(coords),
                            difficult=difficult, source_line=number)


def _is_number(text: str) -> bool:
    if not text[0].isdigit() and text[0] not in "+-.inIN":  # class names start with a letter: skip the try
        return False
    try:
        float(text)
    except ValueError:
        return False
    return True
