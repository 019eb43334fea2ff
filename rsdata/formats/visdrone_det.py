"""VisDrone-DET annotations: the image object-detection task of VisDrone (VisDrone2019-DET; VisDrone2018-DET has
the same layout and files).

Layout, as the publisher ships it (one folder per split, each unpacked from its own zip)::

    <root>/VisDrone2019-DET-train/images/0000002_00005_d_0000014.jpg
    <root>/VisDrone2019-DET-train/annotations/0000002_00005_d_0000014.txt    same stem as its image
    <root>/VisDrone2019-DET-val/{images,annotations}/
    <root>/VisDrone2019-DET-test-dev/{images,annotations}/
    <root>/VisDrone2019-DET-test-challenge/images/                            no public annotations

A root holding ``images/`` and ``annotations/`` directly is one split, named by the single ``--split`` given,
else by the root's own name when it is a VisDrone split folder, else "train". Split names are the folder names
without their ``VisDrone<year>-DET-`` prefix, with "-" turned into "_" (dataset split names allow letters,
digits, "_" and "." only): ``train``, ``val`` (written as ``validation``), ``test_dev``, ``test_challenge``.
``--split`` accepts either that name or the folder name. A split folder with images but no ``annotations/``
folder (test-challenge) is left out with a note when no ``--split`` is given (asking for it is a layout error).
Ultralytics' ``VisDrone.yaml`` download adds a ``labels/`` folder of YOLO txt files beside ``images/`` and
``annotations/`` in each split folder; this format reads ``annotations/`` and ignores it. Options ``images=NAME`` and
``annotations=NAME`` rename the two folders.

Annotation file: one object per line, comma-separated integers (no header)::

    bbox_left,bbox_top,bbox_width,bbox_height,score,object_category,truncation,occlusion

The box is ``(bbox_left, bbox_top, bbox_left + bbox_width, bbox_top + bbox_height)`` in pixels. One trailing
comma per line (some copies of the files have it), blank lines, a byte-order mark and CRLF endings are accepted;
numbers written as decimals ("12.0") are accepted for the box. ``score`` is 1 for boxes the publisher's evaluation
considers and 0 for boxes it ignores; ``truncation`` and ``occlusion`` must be integers and are not used.

Classes (``object_category``): 0 ignored region, 1 pedestrian, 2 people, 3 bicycle, 4 car, 5 van, 6 truck,
7 tricycle, 8 awning-tricycle, 9 bus, 10 motor, 11 others; another integer is ``unknown_class``, a value that
is not an integer ``bad_number``. Objects carry the publisher's class *name*
("awning-tricycle"), not the number. Not described (captions.md, b2c/1): ignored regions (class 0), "others"
(class 11), and any row with score 0 (the publisher's mark for boxes its evaluation ignores; in the files seen
only class 0 and 11 rows have it). A file with no lines, or only excluded rows, gives an image with nothing to
describe (``no_objects``), not an error: images without objects are plausible in a drone dataset.

Images with no annotation file are reported as ``missing_annotation``, annotation files with no image as
``missing_image``. Real samples checked: two annotation files of VisDrone2019-DET val and test-dev (no images).
Licence: the VisDrone data are published by the AISKYEYE team (Tianjin University) for research, and the
challenge forbids training on the test sets; the default card licence is ``other``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from rsdata import errors
from rsdata.errors import OptionError, RecordError, SourceLayoutError
from rsdata.formats.base import (
    IMAGE_SUFFIXES,
    SourceFormat,
    SourceItem,
    find_split_folders,
    index_annotations,
    paired_items,
    read_text_file,
    register_format,
    split_matches,
)
from rsdata.formats.boxlines import parse_coordinate
from rsdata.records import ImageRecord, ObjectAnnotation, Provenance

#: object_category -> class name, for the classes that are described.
CLASS_NAMES = {
    1: "pedestrian",
    2: "people",
    3: "bicycle",
    4: "car",
    5: "van",
    6: "truck",
    7: "tricycle",
    8: "awning-tricycle",
    9: "bus",
    10: "motor",
}
IGNORED_REGION = 0
OTHERS = 11
_VALID_CATEGORIES = "0 (ignored region), 1-10 or 11 (others)"
_SPLIT_PREFIX = re.compile(r"^VisDrone\d*-DET-", re.IGNORECASE)


@dataclass(frozen=True)
class VisDroneDetOptions:
    images: str = "images"
    annotations: str = "annotations"

    def __post_init__(self):
        for option in ("images", "annotations"):
            value = getattr(self, option)
            if not isinstance(value, str) or not value.strip() or Path(value).is_absolute():
                raise OptionError(f"option {option}={value!r}: expected a folder name relative to each split folder "
                                  f"(default {getattr(type(self), option)!r})")


def split_name(folder_name: str) -> str:
    """The split name of a VisDrone split folder: "VisDrone2019-DET-test-dev" -> "test_dev"."""
    return _SPLIT_PREFIX.sub("", folder_name).replace("-", "_")


@register_format
class VisDroneDetFormat(SourceFormat):
    name = "visdrone_det"
    description = "VisDrone-DET 2018/2019 per-image txt: x,y,w,h boxes of 10 classes; ignored regions, others left out"
    options_class = VisDroneDetOptions
    default_license = "other"

    def list_items(self, root: Path, splits: Sequence[str] | None) -> list[SourceItem]:
        items: list[SourceItem] = []
        found = self._split_folders(root, splits)
        for split, folder in found:
            annotations_dir = folder / self.options.annotations
            if not annotations_dir.is_dir() and not splits and len(found) > 1:
                self.note(f"split {split} ({folder.name}) has images but no '{self.options.annotations}/' folder: "
                          "left out (test-challenge has no public annotations)")
                continue
            if not annotations_dir.is_dir():
                raise SourceLayoutError(
                    f"no '{self.options.annotations}/' folder in {folder}; VisDrone-DET annotation files go in "
                    f"{annotations_dir} beside {folder / self.options.images} (the test-challenge split has no public "
                    "annotations: leave it out with --split)")
            annotations = index_annotations(annotations_dir, ".txt", option="annotations")
            items.extend(paired_items(root, split, folder / self.options.images, annotations))
        return items

    def _split_folders(self, root: Path, splits: Sequence[str] | None) -> list[tuple[str, Path]]:
        if root.is_dir() and (root / self.options.images).is_dir():
            # One split folder given directly: "VisDrone2019-DET-val" names itself unless --split says otherwise.
            if not splits and _SPLIT_PREFIX.match(root.name):
                return [(split_name(root.name), root)]
            return [(split_name(name), folder) for name, folder in find_split_folders(root, self.options.images,
                                                                                       splits)]
        found = [(split_name(folder.name), folder) for _, folder in find_split_folders(root, self.options.images, None)]
        if not splits:
            return found
        chosen = [(name, folder) for name, folder in found
                  if any(split_matches(s, name) or split_matches(s, folder.name) for s in splits)]
        missing = [s for s in splits if not any(split_matches(s, name) or split_matches(s, folder.name)
                                                for name, folder in found)]
        if missing:
            names = ", ".join(f"{name} ({folder.name})" for name, folder in found)
            raise OptionError(f"split(s) {', '.join(missing)} not found in {root}; found: {names}")
        return chosen

    def parse(self, item: SourceItem) -> ImageRecord:
        provenance = Provenance(source_dataset=self.name, split=item.split, source_id=item.source_id)
        if item.annotation_path is None:
            raise RecordError(item.image_path or item.image_name, "image has no annotation file (expected "
                              f"{item.source_id}.txt in the '{self.options.annotations}' folder)",
                              reason=errors.MISSING_ANNOTATION)
        # Annotations are read before the image is looked for, so that a bad file is reported as such.
        objects = parse_annotation_file(item.annotation_path)
        if item.image_path is None:
            raise RecordError(item.annotation_path, f"annotation file has no image ({item.source_id} with ending "
                              f"{', '.join(IMAGE_SUFFIXES)} in the '{self.options.images}' folder)",
                              reason=errors.MISSING_IMAGE)
        return ImageRecord(image_path=item.image_path, image_name=item.image_name, provenance=provenance,
                           objects=objects, annotation_path=item.annotation_path)


def parse_annotation_file(path: Path) -> tuple[ObjectAnnotation, ...]:
    """The described objects of one VisDrone-DET annotation file; :class:`RecordError` at the first bad line."""
    objects = []
    for number, line in enumerate(read_text_file(path).splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        obj = parse_annotation_line(stripped, path, number)
        if obj is not None:
            objects.append(obj)
    return tuple(objects)


def parse_annotation_line(line: str, path: Path, number: int) -> ObjectAnnotation | None:
    """One annotation line as an object, or None for a row that is not described (class 0 or 11, score 0)."""
    fields = line.split(",")
    if len(fields) == 9 and not fields[8].strip():
        fields.pop()  # one trailing comma
    if len(fields) == 8:
        # Fast path for well-formed lines (nearly all of them); anything unusual goes to the checking path.
        try:
            left, top, width, height, score, category = (int(v) for v in fields[:6])
            int(fields[6]), int(fields[7])
        except ValueError:
            pass
        else:
            if width >= 0 and height >= 0 and score in (0, 1) and 0 <= category <= 11:
                return _object(left, top, width, height, score, category, number)
    return _checked_line(fields, line, path, number)


def _object(left: float, top: float, width: float, height: float, score: int, category: int,
            number: int) -> ObjectAnnotation | None:
    if score == 0 or category in (IGNORED_REGION, OTHERS):
        return None
    return ObjectAnnotation(category=CLASS_NAMES[category],
                            bbox=(float(left), float(top), float(left + width), float(top + height)),
                            source_line=number)


def _checked_line(fields: list[str], line: str, path: Path, number: int) -> ObjectAnnotation | None:
    """Parse a line the fast path refused, raising the precise error for it."""
    if len(fields) != 8:
        raise RecordError(path, "expected 8 comma-separated fields (bbox_left,bbox_top,bbox_width,bbox_height,"
                          f"score,object_category,truncation,occlusion), got {len(fields)}: {line!r}",
                          reason=errors.MALFORMED_LINE, line=number)
    names = ("bbox_left", "bbox_top", "bbox_width", "bbox_height")
    box = []
    for name, raw in zip(names, fields[:4]):
        box.append(parse_coordinate(raw.strip(), name, path, number))
    for name, value in zip(names[2:], box[2:]):
        if value < 0:
            raise RecordError(path, f"{name} is {value:g}; a box size cannot be negative", reason=errors.BAD_NUMBER,
                              line=number)
    flags = {}
    for name, raw in zip(("score", "object_category", "truncation", "occlusion"), fields[4:]):
        try:
            flags[name] = int(raw)
        except ValueError:
            raise RecordError(path, f"{name} is {raw.strip()!r}, not an integer", reason=errors.BAD_NUMBER,
                              line=number) from None
    if flags["score"] not in (0, 1):
        raise RecordError(path, f"score is {flags['score']}; expected 0 (ignored by the evaluation) or 1 "
                          "(considered) in ground truth", reason=errors.BAD_NUMBER, line=number)
    if not 0 <= flags["object_category"] <= 11:
        raise RecordError(path, f"object_category is {flags['object_category']}; expected {_VALID_CATEGORIES}",
                          reason=errors.UNKNOWN_CLASS, line=number)
    return _object(*box, flags["score"], flags["object_category"], number)
