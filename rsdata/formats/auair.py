"""AU-AIR ``annotations.json``: one JSON file for every frame of the AU-AIR UAV traffic dataset.

Layout, as published (https://bozcani.github.io/auairdataset; two downloads, unpacked side by side)::

    <root>/auair2019annotations/annotations.json
    <root>/auair2019data/images/frame_20190829091111_x_0000000.jpg ...     (32,823 frames, 1920 x 1080 JPEG)

or flat, as the official example subset ships it::

    <root>/annotations.json
    <root>/images/frame_20190829091111_x_0001973.jpg ...

The annotation file is the first of ``annotations.json`` and ``auair2019annotations/annotations.json`` that
exists, the images folder the first of ``images`` and ``auair2019data/images``; options ``annotations=PATH``
and ``images=PATH`` (relative to the root) name others. AU-AIR publishes no split: the whole folder is one split,
named by the single ``--split`` given, else "train".

The JSON (UTF-8)::

    {"info": {...}, "licenses": [...],
     "categories": ["Human", "Car", "Truck", "Van", "Motorbike", "Bicycle", "Bus", "Trailer"],
     "annotations": [{"image_name": "frame_..._0001973.jpg", "image_width": 1920.0, "image_height": 1080.0,
                      "platform": ..., "time": {...}, "longtitude": ..., "latitude": ..., "altitude": ...,
                      "linear_x": ..., ..., "angle_psi": ...,
                      "bbox": [{"top": 163, "left": 1098, "height": 185, "width": 420, "class": 1}, ...]}, ...]}

- One record per frame; ``image_name`` is the file name in the images folder. Frames with an empty ``bbox`` list
  have nothing to describe (``no_objects``).
- A box is ``top`` (y of the upper edge), ``left`` (x of the left edge), ``height`` and ``width``, in pixels of
  the 1920 x 1080 frame: the box is ``(left, top, left + width, top + height)`` (x/y/width/height convention; in
  the example subset boxes reach exactly x = 1920 and y = 1080, so the far edges are exclusive). Widths and
  heights of 0 occur in the full release and are kept as written; negative ones are errors (``bad_number``).
- ``class`` is an index into the file's ``categories`` list (names, or COCO-style ``{"id", "name"}`` objects);
  without ``categories`` the dataset's documented table applies: 0 Human, 1 Car, 2 Truck, 3 Van, 4 Motorbike,
  5 Bicycle, 6 Bus, 7 Trailer. The record's category is that name as written ("Human"). An integer outside the
  list is ``unknown_class``; a ``class`` that is not an integer is ``bad_number``.
- The image size key is ``image_width``/``image_height`` in the example subset and ``image_width:`` (with a
  trailing colon) in the full release; both spellings are read. The declared size is checked (a positive number)
  and used to report a box lying entirely outside the frame with its record; the build still clips boxes to the
  real image size.
- Flight metadata (``time``, ``longtitude`` [sic], ``latitude``, ``altitude``, ``linear_*``, ``angle_*``,
  ``platform``) is not read: :class:`~rsdata.records.ImageRecord` has no field for it.

No class is an ignore region or "others": every box is described. Records name their problems by their place in
the file (``annotations[12].bbox[3]``), since the file is usually a single line. A record whose image file is
absent is ``missing_image``; an image in the folder that no record names is ``missing_annotation``; two records
naming one image are ``malformed_line``. The JSON is parsed once per process (cached by path, size and mtime).

Licence: the dataset states none beyond its JSON's ``licenses`` block (CC BY-NC-SA 2.0 and CC BY-NC 2.0, inherited
from the COCO template) and the MIT licence of its API repository; the default card licence is ``other``
(non-commercial research use). A real sample (the official 80-record example subset with 6 of its images) was
available when this reader was written.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any, Sequence

from rsdata import errors
from rsdata.errors import OptionError, RecordError, SourceLayoutError
from rsdata.formats.base import (
    IMAGE_SUFFIXES,
    SourceFormat,
    SourceItem,
    file_signature,
    register_format,
)
from rsdata.geometry import fit_objects_to_image
from rsdata.records import ImageRecord, ObjectAnnotation, Provenance

#: The class table of the AU-AIR paper and API, used when the JSON has no ``categories`` list.
AUAIR_CATEGORIES = ("Human", "Car", "Truck", "Van", "Motorbike", "Bicycle", "Bus", "Trailer")

ANNOTATION_CANDIDATES = ("annotations.json", "auair2019annotations/annotations.json")
IMAGE_FOLDER_CANDIDATES = ("images", "auair2019data/images")
_WIDTH_KEYS = ("image_width", "image_width:")
_HEIGHT_KEYS = ("image_height", "image_height:")
_BOX_KEYS = ("top", "left", "height", "width")


@dataclass(frozen=True)
class AuairOptions:
    annotations: str | None = None  # the JSON, relative to the root; default: the first candidate that exists
    images: str | None = None  # the images folder, relative to the root; default: the first candidate

    def __post_init__(self):
        for name, example in (("annotations", ANNOTATION_CANDIDATES[1]), ("images", IMAGE_FOLDER_CANDIDATES[1])):
            value = getattr(self, name)
            if value is not None and (not value.strip() or Path(value).is_absolute()):
                raise OptionError(f"option {name}={value!r}: expected a path relative to the source folder, for "
                                  f"example {name}={example}")


@dataclass(frozen=True)
class AuairIndex:
    """The parsed JSON: its records and categories, and which records name each image (by ``source_id``)."""

    path: Path
    records: list
    categories: tuple[str, ...]
    by_source_id: dict[str, list[int]]


@register_format
class AuairFormat(SourceFormat):
    name = "auair"
    description = "AU-AIR annotations.json: one JSON for all UAV frames, top/left/height/width boxes, 8 traffic classes"
    options_class = AuairOptions
    default_license = "other"

    def list_items(self, root: Path, splits: Sequence[str] | None) -> list[SourceItem]:
        if not root.is_dir():
            raise SourceLayoutError(f"source folder {root} does not exist or is not a folder")
        if splits and len(splits) > 1:
            raise OptionError(f"AU-AIR has no split folders: {root} is one split; give at most one --split to name it")
        split = splits[0] if splits else "train"
        annotation_path = self._locate(root, "annotations", ANNOTATION_CANDIDATES, Path.is_file, "annotation file")
        images_dir = self._locate(root, "images", IMAGE_FOLDER_CANDIDATES, Path.is_dir, "images folder")
        index = load_annotations(annotation_path)
        on_disk = _images_in(images_dir)
        on_disk_ids = {_source_id(name): path for name, path in on_disk.items()}
        images_rel = images_dir.relative_to(root).as_posix()

        items: list[SourceItem] = []
        for source_id in sorted(set(index.by_source_id) | set(on_disk_ids)):
            numbers = index.by_source_id.get(source_id)
            if numbers is None:  # an image that no record names
                image_path, annotation = on_disk_ids[source_id], None
                image_name = image_path.relative_to(root).as_posix()
            else:
                annotation = annotation_path
                name = _image_name_of(index.records[numbers[0]])
                if name is None:  # reported by parse, with the record
                    image_path, image_name = None, source_id
                else:
                    if "/" in name:
                        image_path = images_dir / name if (images_dir / name).is_file() else None
                    else:
                        image_path = on_disk.get(name)
                    image_name = f"{images_rel}/{name}"
            size, mtime = file_signature(image_path)
            items.append(SourceItem(split=split, source_id=source_id, image_name=image_name, image_path=image_path,
                                    annotation_path=annotation, size_bytes=size, mtime_ns=mtime))
        return items

    def _locate(self, root: Path, option: str, candidates: Sequence[str], test, what: str) -> Path:
        chosen = getattr(self.options, option)
        if chosen is not None:
            path = root / chosen
            if not test(path):
                raise SourceLayoutError(f"{what} {path} (option {option}={chosen}) does not exist")
            return path
        for candidate in candidates:
            if test(root / candidate):
                return root / candidate
        raise SourceLayoutError(
            f"no AU-AIR {what} in {root}: looked for {' and '.join(candidates)} (relative to it); unpack "
            f"auair2019annotations.zip and auair2019data.zip there, or name it with -o {option}=PATH")

    def parse(self, item: SourceItem) -> ImageRecord:
        provenance = Provenance(source_dataset=self.name, split=item.split, source_id=item.source_id)
        if item.annotation_path is None:
            raise RecordError(item.image_path or item.image_name, "image has no record in the annotation file (no "
                              "entry of its 'annotations' list has this image_name)", reason=errors.MISSING_ANNOTATION)
        index = load_annotations(item.annotation_path)
        numbers = index.by_source_id.get(item.source_id)
        path = item.annotation_path
        if not numbers:
            raise RecordError(path, f"no record for image {item.image_name} any more (the file changed since it was "
                              "listed)", reason=errors.MISSING_ANNOTATION)
        if len(numbers) > 1:
            places = ", ".join(f"annotations[{n}]" for n in numbers)
            raise RecordError(path, f"{len(numbers)} records name image {item.image_name}: {places}; keep one",
                              reason=errors.MALFORMED_LINE)
        number = numbers[0]
        record = index.records[number]
        where = f"annotations[{number}]"
        if not isinstance(record, dict):
            raise RecordError(path, f"{where} is {type(record).__name__} {_short(record)}, not an object with "
                              "image_name and bbox", reason=errors.MALFORMED_LINE)
        if _image_name_of(record) is None:
            raise RecordError(path, f"{where}{_image_name_problem(record)}; expected a file name in the images folder "
                              f"(such as frame_20190829091111_x_0001973.jpg): {_short(record)}",
                              reason=errors.MALFORMED_LINE)
        if item.image_path is None:
            raise RecordError(path, f"{where} names image {item.image_name}, which does not exist",
                              reason=errors.MISSING_IMAGE)
        objects = parse_record(record, number, index.categories, path)
        return ImageRecord(image_path=item.image_path, image_name=item.image_name, provenance=provenance,
                           objects=objects, annotation_path=path)


def parse_record(record: dict, number: int, categories: Sequence[str], path: Path) -> tuple[ObjectAnnotation, ...]:
    """The objects of one record (``annotations[number]``); raise :class:`RecordError` naming the record."""
    where = f"annotations[{number}]"
    width = _declared_size(record, _WIDTH_KEYS, where, path)
    height = _declared_size(record, _HEIGHT_KEYS, where, path)
    boxes = record.get("bbox")
    if not isinstance(boxes, list):
        raise RecordError(path, f"{where}.bbox is {_short(boxes)}; expected a list of boxes "
                          "({top, left, height, width, class}), empty for a frame without objects",
                          reason=errors.MALFORMED_LINE)
    objects = []
    for position, box in enumerate(boxes):
        objects.append(_parse_box(box, f"{where}.bbox[{position}]", categories, path))
    if width is not None and height is not None:
        for position, obj in enumerate(objects):
            try:
                fit_objects_to_image((obj,), math.ceil(width), math.ceil(height), path)
            except RecordError as error:
                raise RecordError(path, f"{where}.bbox[{position}] ({record['image_name']}): {error.message} declared "
                                  "by the record", reason=errors.OBJECT_OUTSIDE_IMAGE) from None
    return tuple(objects)


def _parse_box(box: Any, where: str, categories: Sequence[str], path: Path) -> ObjectAnnotation:
    if not isinstance(box, dict):
        raise RecordError(path, f"{where} is {_short(box)}; expected an object with top, left, height, width and "
                          "class", reason=errors.MALFORMED_LINE)
    missing = [key for key in (*_BOX_KEYS, "class") if key not in box]
    if missing:
        raise RecordError(path, f"{where} lacks {', '.join(missing)}: {_short(box)} (expected top, left, height, "
                          "width and class)", reason=errors.MALFORMED_LINE)
    top, left, height, width = (_number(box[key], f"{where}.{key}", path) for key in _BOX_KEYS)
    if width < 0 or height < 0:
        raise RecordError(path, f"{where} has a negative size (width {width:g}, height {height:g})",
                          reason=errors.BAD_NUMBER)
    label = box["class"]
    if (isinstance(label, bool) or not isinstance(label, (int, float)) or not math.isfinite(label)
            or label != int(label)):
        raise RecordError(path, f"{where}.class is {_short(label)}; expected an integer index into categories "
                          f"({_category_table(categories)})", reason=errors.BAD_NUMBER)
    label = int(label)
    if not 0 <= label < len(categories):
        raise RecordError(path, f"{where}.class is {label}, not an index into categories "
                          f"({_category_table(categories)})", reason=errors.UNKNOWN_CLASS)
    return ObjectAnnotation(category=categories[label], bbox=(left, top, left + width, top + height))


def _number(value: Any, where: str, path: Path) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RecordError(path, f"{where} is {_short(value)}, not a finite number", reason=errors.BAD_NUMBER)
    return float(value)


def _declared_size(record: dict, keys: Sequence[str], where: str, path: Path) -> float | None:
    for key in keys:
        if key in record:
            value = record[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise RecordError(path, f"{where}.{key} is {_short(value)}; expected a positive number of pixels",
                                  reason=errors.BAD_NUMBER)
            return float(value)
    return None


def _category_table(categories: Sequence[str]) -> str:
    return ", ".join(f"{i} {name}" for i, name in enumerate(categories))


def _short(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def _image_name_of(record: Any) -> str | None:
    if isinstance(record, dict):
        name = record.get("image_name")
        if isinstance(name, str) and name.strip() and not PurePosixPath(name).is_absolute() and ".." not in \
                PurePosixPath(name).parts:
            return name
    return None


def _image_name_problem(record: dict) -> str:
    """What is wrong with a record's image_name that :func:`_image_name_of` refused (continues "annotations[N]")."""
    if "image_name" not in record:
        return " has no image_name"
    name = record["image_name"]
    if not isinstance(name, str) or not name.strip():
        return f".image_name is {_short(name)}, not a file name"
    return (f".image_name {name!r} leads outside the images folder (an absolute path or a '..' part; AU-AIR names "
            "its frames in one flat folder)")


def _source_id(name: str) -> str:
    """An image's id: its name in the images folder without the ending ("frame_..._0001973")."""
    return PurePosixPath(name).with_suffix("").as_posix()


def _images_in(folder: Path) -> dict[str, Path]:
    """Images directly in ``folder`` (AU-AIR keeps its frames in one flat folder), by file name."""
    found = {}
    with os.scandir(folder) as entries:
        for entry in entries:
            if entry.is_file() and not entry.name.startswith(".") and Path(entry.name).suffix.lower() in IMAGE_SUFFIXES:
                found[entry.name] = Path(entry.path)
    return found


# ---------------------------------------------------------------------------------------------------------------
# The per-process cache of the parsed JSON: every worker parses it once, not once per image.

_CACHE: dict[tuple[str, int, int], AuairIndex] = {}


def load_annotations(path: Path) -> AuairIndex:
    """The parsed annotation file, from this process's cache when its size and mtime are unchanged."""
    size, mtime = file_signature(path)
    key = (str(path), size, mtime)
    index = _CACHE.get(key)
    if index is None:
        index = _read_index(path)
        _CACHE.clear()  # one annotation file at a time keeps memory bounded
        _CACHE[key] = index
    return index


def _read_index(path: Path) -> AuairIndex:
    data = path.read_bytes()
    if not data.strip():
        raise RecordError(path, "annotation file is empty; an AU-AIR annotations.json is an object with an "
                          "'annotations' list", reason=errors.EMPTY_LABEL_FILE)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RecordError(path, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
                          reason=errors.NOT_UTF8, line=data.count(b"\n", 0, exc.start) + 1) from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RecordError(path, f"not valid JSON: {exc.msg} (column {exc.colno})", reason=errors.MALFORMED_LINE,
                          line=exc.lineno) from None
    if not isinstance(document, dict) or not isinstance(document.get("annotations"), list):
        found = sorted(document) if isinstance(document, dict) else type(document).__name__
        raise RecordError(path, f"expected an object with an 'annotations' list (AU-AIR annotations.json); found "
                          f"{found}", reason=errors.MALFORMED_LINE)
    categories = _categories(document.get("categories"), path)
    records = document["annotations"]
    by_source_id: dict[str, list[int]] = {}
    for number, record in enumerate(records):
        name = _image_name_of(record)
        # A record without a usable image_name still becomes an item, so that it is reported and skippable.
        source_id = _source_id(name) if name is not None else f"annotations[{number}]"
        by_source_id.setdefault(source_id, []).append(number)
    return AuairIndex(path, records, categories, by_source_id)


def _categories(value: Any, path: Path) -> tuple[str, ...]:
    """Class names by index: the file's ``categories`` (names, or {"id", "name"} objects) or AU-AIR's table."""
    if value is None:
        return AUAIR_CATEGORIES
    if isinstance(value, list) and value and all(isinstance(v, str) and v.strip() for v in value):
        return tuple(value)
    if isinstance(value, list) and value and all(
            isinstance(v, dict) and isinstance(v.get("name"), str) and isinstance(v.get("id"), int)
            and not isinstance(v.get("id"), bool) for v in value):
        ids = sorted(v["id"] for v in value)
        if ids == list(range(len(value))):
            return tuple(v["name"] for v in sorted(value, key=lambda v: v["id"]))
    raise RecordError(path, f"'categories' is {_short(value)}; expected a list of class names indexed by the "
                      "boxes' class (or {\"id\": 0, \"name\": ...} objects numbered from 0)",
                      reason=errors.MALFORMED_LINE)
