"""COCO object-detection JSON (the ``instances_*.json`` layout of MS COCO), as remote-sensing datasets ship it.

Which datasets ship COCO JSON: HRRSD (``COCOFormat/Anns/*.json`` in its repository, beside its PASCAL VOC XML),
third-party instance-mask releases of NWPU VHR-10 (chaozhong2010/VHR-10_dataset_coco) and of SSDD, iSAID's
instance annotations, and many re-releases made with COCO tools. None of the DET-10 datasets is published *only*
as COCO JSON (HRRSD's recipe reads its VOC XML), so no recipe uses this format yet; it is the reader for the
datasets and conversions that do.

Layout::

    <root>/annotations/instances_train.json        one JSON file per split
    <root>/annotations/instances_val.json
    <root>/images/...                              the images, at each image entry's ``file_name`` below here

Options (as ``-o KEY=VALUE``):

- ``annotations=SPLIT:PATH[,SPLIT:PATH...]``: the annotation file of each split, relative to the root (for
  example ``annotations=train:annotations/train.json,val:annotations/val.json``); a single ``PATH`` without a
  split is allowed. Default: every ``*.json`` in ``<root>/annotations/`` (or, when that folder does not exist, in
  the root), the split named after the file with a leading ``instances_`` removed (``instances_val2017.json`` is
  split ``val2017``). A single file (found, or given as a lone ``PATH``) is named by a single ``--split`` when one
is given; otherwise by the split word its name states once ``instances_`` and a trailing year are removed
(``instances_train2017.json`` and ``train.json`` are ``train``, ``val2017.json`` ``val``, ``test.json`` ``test``),
and any other name (``annotations.json``, ``dataset.json``) is split ``train``; the build prints a note saying
which.
- ``images=PATH``: the folder ``file_name`` is relative to (default ``images``); ``{split}`` in it is replaced by
  the split name, so MS COCO's own layout (``train2017/``, ``val2017/``) is ``images={split}``.
- ``crowd=drop|keep``: what to do with ``iscrowd: 1`` annotations (default ``drop``; see below).

Paths in options must be relative and stay inside the root (they enter the build's plan, which names every input
relative to the root).

JSON: ``images`` (``id``, ``file_name``, optional ``width``/``height``), ``annotations`` (``id``, ``image_id``,
``category_id``, ``bbox``, ``segmentation``, ``iscrowd``) and ``categories`` (``id``, ``name``). Category ids may
start at 0 (HRRSD's do) or be any integers or strings: each annotation's label is the ``name`` of its category.
Each file is parsed once per process and kept in memory (keyed by path, size and modification time), so listing
and the parse of every image read it only once; worker processes forked by the build share it.

Boxes: ``bbox`` is ``[x, y, width, height]`` in pixels and becomes ``(x, y, x + width, y + height)``. When an
annotation has no ``bbox`` (absent, null or empty), the box comes from its ``segmentation``: polygons (a list of
flat ``[x1, y1, x2, y2, ...]`` rings) give the axis-aligned bounds of all their vertices, as every polygon does in
this project (captions.md, b2c/1), which is also how COCO derives ``bbox`` from polygons; run-length masks (RLE,
compressed or not) give the bounds of their pixels through ``pycocotools`` (``pip install pycocotools``, needed
only for RLE). An annotation with a single polygon keeps it as the object's polygon.

Excluded (not described, and not errors): ``iscrowd: 1`` annotations, which mark a crowd of objects as one region
that COCO's own evaluation ignores, so counting it as one object would give wrong counts (``crowd=keep`` keeps
them); annotations with a true ``ignore`` field (HRRSD and mmdetection-converted sets mark ignore regions so;
captions.md does not describe ignore regions).

Errors name the JSON file and the record. For an annotation, the error's line number (``file.json:12``) is the
annotation's 1-based position in the ``annotations`` array (the message repeats it with the annotation's id); for
an image entry the message names its position in ``images`` and its id. A ``file_name`` that is absolute (``/x.jpg``,
``C:\\x.jpg``) or has a ``..`` part would lead outside the image folder: ``malformed_line`` (backslashes count as
folder separators, as in files written on Windows), like a missing or duplicated image id, a
missing ``category_id`` or an unusable ``bbox``/``segmentation``; a category id not in ``categories`` is
``unknown_class``; a ``category_id`` that cannot be an id, a negative width or height or a non-finite number is
``bad_number``. Images whose file is missing are ``missing_image``;
annotations whose ``image_id`` matches no image entry are reported once per image id as ``missing_image``.
An image entry without annotations gives an image with nothing to describe (``no_objects``). A file that is not
JSON, or lacks the ``images``/``annotations``/``categories`` lists or well-formed categories, is a layout error.

Real sample checked: HRRSD's ``hrrsd_tiny_100_3084.json`` (shared realdata ``coco_rs``: 100 images, 249 boxes,
category ids from 0, empty segmentations, no images). Licence: depends on the dataset; the default card licence is
``unknown``.
"""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Sequence

from rsdata import errors
from rsdata.errors import OptionError, RecordError, SourceLayoutError
from rsdata.formats.base import SourceFormat, SourceItem, choose_splits, register_format
from rsdata.records import ImageRecord, ObjectAnnotation, Provenance

CROWD_CHOICES = ("drop", "keep")
_DRIVE = re.compile(r"^[A-Za-z]:")
# Source ids of the pseudo-items that report annotations whose image_id matches no image entry.
_ORPHAN_PREFIX = "no-image-entry:"
_NO_IMAGE_ID = "no-image-id"


def _is_escaping(path_text: str) -> bool:
    """True when a relative path written in a source or an option would leave its base folder."""
    posix = path_text.replace("\\", "/")
    return posix.startswith("/") or bool(_DRIVE.match(posix)) or ".." in PurePosixPath(posix).parts


@dataclass(frozen=True)
class CocoOptions:
    annotations: str | None = None
    images: str = "images"
    crowd: str = "drop"

    def __post_init__(self):
        if self.annotations is not None:
            parse_annotation_option(self.annotations)
        if not self.images.strip() or _is_escaping(self.images):
            raise OptionError(f"option images={self.images!r} must be a folder path relative to the source root, "
                              "without '..' (for example images=images or images={split})")
        if self.crowd not in CROWD_CHOICES:
            raise OptionError(f"option crowd={self.crowd!r} is not accepted; accepted: drop (leave iscrowd "
                              "annotations out, the default) or keep")


def parse_annotation_option(value: str) -> list[tuple[str | None, str]]:
    """``"train:a/train.json,val:a/val.json"`` -> ``[("train", "a/train.json"), ("val", "a/val.json")]``; a lone
    path has the split ``None``. Raises :class:`OptionError` naming the bad entry."""
    entries: list[tuple[str | None, str]] = []
    parts = [part.strip() for part in value.split(",")]
    for part in parts:
        split, sep, path = part.partition(":")
        if not sep:
            split, path = None, part
        split = split.strip() if split is not None else None
        path = path.strip()
        if not path or split == "" or (split is None and len(parts) > 1) or _is_escaping(path):
            raise OptionError(
                f"option annotations={value!r}: entry {part!r} is not SPLIT:PATH; expected comma-separated "
                "SPLIT:PATH pairs with paths relative to the source root and without '..' (for example "
                "annotations=train:annotations/train.json,val:annotations/val.json), or one PATH")
        entries.append((split, path))
    splits = [split for split, _ in entries]
    if len(set(splits)) != len(splits):
        raise OptionError(f"option annotations={value!r} names a split twice")
    return entries


# ---------------------------------------------------------------------------------------------------------------
# One parsed annotation file, cached per process.


@dataclass
class CocoIndex:
    """One COCO JSON file, indexed by image.

    Keys are image ids as text (``7132`` and ``"7132"`` are the same image). ``images`` maps each key to its
    ``(position, entry)`` pairs (more than one: a duplicated id); ``annotations`` maps an image key to its
    ``(position, annotation)`` pairs; ``orphans`` holds the annotations whose ``image_id`` matches no image entry,
    by that id (:data:`_NO_IMAGE_ID` for a missing or unusable one).
    """

    path: Path
    images: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    annotations: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    orphans: dict[str, list[tuple[int, Any]]] = field(default_factory=dict)
    categories: dict[str, str] = field(default_factory=dict)


_CACHE: dict[tuple[str, int, int], CocoIndex] = {}
_CACHE_SIZE = 4


def load_coco(path: Path) -> CocoIndex:
    """The :class:`CocoIndex` of ``path``, parsed on first use in this process and kept while the file is
    unchanged (same size and modification time)."""
    stat = path.stat()
    key = (str(path), stat.st_size, stat.st_mtime_ns)
    index = _CACHE.get(key)
    if index is None:
        index = _parse_file(path)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.pop(next(iter(_CACHE)))
        _CACHE[key] = index
    return index


def _id_key(value: Any) -> str | None:
    """An image or category id as text, or None when it cannot be an id."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _entry_summary(entry: Any) -> str:
    """An image entry in a message: its id as written and its file name."""
    if not isinstance(entry, dict):
        return repr(entry)
    return f"id {entry.get('id')!r}, file_name {entry.get('file_name')!r}"


def _parse_file(path: Path) -> CocoIndex:
    hint = "a COCO annotation file is one JSON object with the lists 'images', 'annotations' and 'categories'"
    try:
        with open(path, "rb") as handle:
            data = json.load(handle)
    except UnicodeDecodeError as exc:
        raise SourceLayoutError(f"{path}: not UTF-8 text ({exc.reason}); {hint}") from None
    except json.JSONDecodeError as exc:
        raise SourceLayoutError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
                                f"{hint}") from None
    if not isinstance(data, dict):
        raise SourceLayoutError(f"{path}: the JSON is a {type(data).__name__}, not an object; {hint}")
    for name in ("images", "annotations", "categories"):
        if not isinstance(data.get(name), list):
            found = "missing" if name not in data else f"a {type(data[name]).__name__}"
            raise SourceLayoutError(f"{path}: '{name}' is {found}, not a list; {hint}")

    index = CocoIndex(path=path)
    for position, category in enumerate(data["categories"]):
        key = _id_key(category.get("id")) if isinstance(category, dict) else None
        name = category.get("name") if isinstance(category, dict) else None
        if key is None or not isinstance(name, str) or not name.strip():
            raise SourceLayoutError(f"{path}: categories[{position}] is {category!r}; each category needs an 'id' "
                                    "(a number or text) and a 'name' (text)")
        if key in index.categories:
            raise SourceLayoutError(f"{path}: category id {key} appears twice (categories[{position}] "
                                    f"{name!r} and an earlier entry {index.categories[key]!r})")
        index.categories[key] = name.strip()
    for position, image in enumerate(data["images"]):
        key = _id_key(image.get("id")) if isinstance(image, dict) else None
        # An entry without a usable id still becomes an item, so that its problem is reported, not dropped.
        index.images.setdefault(key if key is not None else f"images[{position}]", []).append((position, image))
    for position, annotation in enumerate(data["annotations"]):
        key = _id_key(annotation.get("image_id")) if isinstance(annotation, dict) else None
        if key is not None and key in index.images:
            index.annotations.setdefault(key, []).append((position, annotation))
        else:
            index.orphans.setdefault(key if key is not None else _NO_IMAGE_ID, []).append((position, annotation))
    return index


# ---------------------------------------------------------------------------------------------------------------
# The format


@register_format
class CocoFormat(SourceFormat):
    name = "coco"
    description = "COCO detection JSON: bbox [x, y, w, h], or polygon / RLE segmentation bounds; crowds left out"
    options_class = CocoOptions
    default_license = "unknown"

    def list_items(self, root: Path, splits: Sequence[str] | None) -> list[SourceItem]:
        items: list[SourceItem] = []
        for split, path in self._annotation_files(root, splits):
            index = load_coco(path)
            images_dir = self._images_folder(root, split)
            relative_images = PurePosixPath(images_dir.relative_to(root).as_posix())
            split_items = []
            for key, entries in index.images.items():
                file_name = _file_name(entries[0][1])
                image_path, size, mtime = None, 0, 0
                if file_name is not None and not _is_escaping(file_name):
                    candidate = images_dir / file_name.replace("\\", "/")
                    try:
                        stat = os.stat(candidate)
                    except OSError:
                        pass
                    else:
                        image_path, size, mtime = candidate, stat.st_size, stat.st_mtime_ns
                image_name = (relative_images / file_name.replace("\\", "/")).as_posix() if file_name else ""
                split_items.append(SourceItem(split=split, source_id=key, image_name=image_name,
                                              image_path=image_path, annotation_path=path, size_bytes=size,
                                              mtime_ns=mtime))
            for key in index.orphans:
                split_items.append(SourceItem(split=split, source_id=_ORPHAN_PREFIX + key, image_name="",
                                              image_path=None, annotation_path=path))
            items.extend(sorted(split_items, key=lambda item: (item.image_name, item.source_id)))
        return items

    def _annotation_files(self, root: Path, splits: Sequence[str] | None) -> list[tuple[str, Path]]:
        if not root.is_dir():
            raise SourceLayoutError(f"source folder {root} does not exist or is not a folder")
        if self.options.annotations is not None:
            entries = parse_annotation_option(self.options.annotations)
            found = []
            for split, relative in entries:
                path = root / relative
                if not path.is_file():
                    raise SourceLayoutError(f"annotation file {path} (option annotations={self.options.annotations})"
                                            " does not exist")
                found.append((split, path))
        else:
            folder = root / "annotations" if (root / "annotations").is_dir() else root
            paths = sorted(p for p in folder.glob("*.json") if p.is_file())
            if not paths:
                raise SourceLayoutError(
                    f"no annotation file (*.json) in {folder}; expected COCO JSON files in {root / 'annotations'} "
                    "(for example annotations/instances_train.json), or name them with "
                    "-o annotations=SPLIT:PATH[,SPLIT:PATH...]")
            found = [(None, p) for p in paths]
        if len(found) == 1 and found[0][0] is None:
            if splits and len(splits) > 1:
                raise OptionError(f"{found[0][1]} is a single split; give at most one --split to name it")
            if splits:
                return [(splits[0], found[0][1])]
            return [(self._single_split_name(found[0][1]), found[0][1])]
        named = [(split if split is not None else _split_of(path), path) for split, path in found]
        if len({split for split, _ in named}) != len(named):
            raise SourceLayoutError("two annotation files give the same split name: " + ", ".join(
                f"{split}={path}" for split, path in named) + "; name the splits with -o annotations=SPLIT:PATH,...")
        chosen = choose_splits(splits, [split for split, _ in named], root)
        return [(split, path) for split, path in named if split in chosen]

    def _single_split_name(self, path: Path) -> str:
        """The split of the only annotation file, given no ``--split``: the split its name states, else "train"."""
        name = _split_of(path)
        base = re.sub(r"[-_]?\d+$", "", name).lower()
        if base in _SPLIT_WORDS:
            split = _SPLIT_WORDS[base]
            if split != name:
                self.note(f"the only annotation file, {path.name}, is taken as split {split!r} (--split names it)")
            return split
        self.note(f"the only annotation file, {path.name}, names no split; it is written as split 'train' "
                  "(--split names it)")
        return "train"

    def _images_folder(self, root: Path, split: str) -> Path:
        folder = root / self.options.images.replace("{split}", split)
        if not folder.is_dir():
            raise SourceLayoutError(f"no images folder {folder} for split {split}; the images go there, at each "
                                    "entry's file_name (or name the folder with -o images=PATH; '{split}' in it "
                                    "stands for the split name)")
        return folder

    def parse(self, item: SourceItem) -> ImageRecord:
        path = item.annotation_path
        index = load_coco(path)
        if item.source_id.startswith(_ORPHAN_PREFIX):
            image_id = item.source_id[len(_ORPHAN_PREFIX):]
            orphans = index.orphans.get(image_id, [])
            listed = ", ".join(f"#{position + 1}" for position, _ in orphans[:5]) + (
                ", ..." if len(orphans) > 5 else "")
            what = "no usable image_id" if image_id == _NO_IMAGE_ID else f"image_id {image_id}, which no entry of "\
                "'images' has"
            raise RecordError(path, f"{len(orphans)} annotation(s) ({listed}) with {what}",
                              reason=errors.MISSING_IMAGE, line=orphans[0][0] + 1 if orphans else None)
        entries = index.images.get(item.source_id)
        if entries is None:  # the file changed since listing
            raise RecordError(path, f"no image entry with id {item.source_id} (the file changed after listing?)",
                              reason=errors.MISSING_IMAGE)
        position, image = entries[0]
        where = f"image entry images[{position}]"
        if len(entries) > 1:
            shared = ", ".join(f"images[{p}] ({_entry_summary(e)})" for p, e in entries)
            raise RecordError(path, f"image entries {shared} have the same id {item.source_id} (ids are compared as "
                              f"text: 7 and \"7\" are one id), so the annotations with image_id {item.source_id} "
                              "belong to none of them; give each image entry an id of its own",
                              reason=errors.MALFORMED_LINE)
        if not isinstance(image, dict) or _id_key(image.get("id")) is None:
            raise RecordError(path, f"{where} has no usable 'id' (a number or text): {image!r}",
                              reason=errors.MALFORMED_LINE)
        where = f"{where} (id {item.source_id})"
        file_name = _file_name(image)
        if file_name is None:
            raise RecordError(path, f"{where} has no 'file_name' (text): {image.get('file_name')!r}",
                              reason=errors.MALFORMED_LINE)
        if _is_escaping(file_name):
            raise RecordError(path, f"{where}: file_name {file_name!r} leads outside the image folder; file names "
                              "must be relative paths below it, without '..'", reason=errors.MALFORMED_LINE)
        if item.image_path is None:
            raise RecordError(path, f"{where}: image {item.image_name} (below the source root) does not exist",
                              reason=errors.MISSING_IMAGE)
        objects = []
        keep_crowd = self.options.crowd == "keep"
        for ann_position, annotation in index.annotations.get(item.source_id, ()):
            obj = annotation_object(annotation, ann_position, index, keep_crowd)
            if obj is not None:
                objects.append(obj)
        return ImageRecord(image_path=item.image_path, image_name=item.image_name,
                           provenance=Provenance(source_dataset=self.name, split=item.split,
                                                 source_id=item.source_id),
                           objects=tuple(objects), annotation_path=path)


#: Split words an annotation file's name may state (after ``instances_`` and a year are removed).
_SPLIT_WORDS = {"train": "train", "training": "train", "val": "val", "valid": "val", "validation": "val",
                "test": "test", "testing": "test", "trainval": "trainval", "test-dev": "test_dev",
                "test_dev": "test_dev", "testdev": "test_dev"}


def _split_of(path: Path) -> str:
    """The split an annotation file names: its stem without a leading ``instances_`` (COCO's naming)."""
    stem = path.stem
    return stem[len("instances_"):] if stem.startswith("instances_") and len(stem) > len("instances_") else stem


def _file_name(image: Any) -> str | None:
    name = image.get("file_name") if isinstance(image, dict) else None
    return name if isinstance(name, str) and name.strip() else None


# ---------------------------------------------------------------------------------------------------------------
# Annotations -> objects


def annotation_object(annotation: Any, position: int, index: CocoIndex, keep_crowd: bool = False
                      ) -> ObjectAnnotation | None:
    """The object of one annotation (``position``: its 0-based place in ``annotations``), or None when the rules
    leave it out (crowd regions unless ``keep_crowd``, ignore regions). Raises :class:`RecordError`."""
    path, line = index.path, position + 1
    if not isinstance(annotation, dict):
        raise RecordError(path, f"annotation #{line} is {annotation!r}, not an object", reason=errors.MALFORMED_LINE,
                          line=line)
    where = f"annotation #{line} (id {annotation.get('id')!r})"
    if annotation.get("ignore") or (annotation.get("iscrowd") and not keep_crowd):
        return None
    if "category_id" not in annotation:
        raise RecordError(path, f"{where} has no category_id", reason=errors.MALFORMED_LINE, line=line)
    key = _id_key(annotation["category_id"])
    category = index.categories.get(key)
    if category is None:
        known = ", ".join(sorted(index.categories, key=_natural)[:20])
        if key is None:
            raise RecordError(path, f"{where}: category_id is {annotation['category_id']!r}, not an id (a whole "
                              f"number or text) of 'categories' (ids: {known})", reason=errors.BAD_NUMBER, line=line)
        raise RecordError(path, f"{where}: category_id {annotation['category_id']!r} is not in 'categories' "
                          f"(ids: {known})", reason=errors.UNKNOWN_CLASS, line=line)
    bbox = annotation.get("bbox")
    segmentation = annotation.get("segmentation")
    polygons = segmentation if isinstance(segmentation, list) else []
    polygon = _single_polygon(polygons, where, path, line)
    if bbox is not None and bbox != []:
        box = _bbox_box(bbox, where, path, line)
    elif polygons:
        box = _polygons_box(polygons, where, path, line)
    elif isinstance(segmentation, dict):
        box = _rle_box(segmentation, where, path, line)
    else:
        raise RecordError(path, f"{where} has no bbox and no segmentation to take a box from",
                          reason=errors.MALFORMED_LINE, line=line)
    return ObjectAnnotation(category=category, bbox=box, polygon=polygon, source_line=line)


def _natural(key: str):
    return (0, int(key), "") if key.lstrip("-").isdigit() else (1, 0, key)


def _finite_numbers(values: Any) -> list[float] | None:
    """``values`` as floats when it is a list of finite numbers (not booleans), else None."""
    if not isinstance(values, list):
        return None
    numbers = []
    for value in values:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return None
        numbers.append(float(value))
    return numbers


def _bbox_box(bbox: Any, where: str, path: Path, line: int) -> tuple[float, float, float, float]:
    numbers = _finite_numbers(bbox)
    if numbers is None or len(numbers) != 4:
        reason = errors.MALFORMED_LINE if not isinstance(bbox, list) or len(bbox) != 4 else errors.BAD_NUMBER
        raise RecordError(path, f"{where}: bbox is {bbox!r}; expected [x, y, width, height], four finite numbers",
                          reason=reason, line=line)
    x, y, width, height = numbers
    if width < 0 or height < 0:
        raise RecordError(path, f"{where}: bbox {bbox!r} has a negative width or height", reason=errors.BAD_NUMBER,
                          line=line)
    return (x, y, x + width, y + height)


def _single_polygon(polygons: list, where: str, path: Path, line: int) -> tuple[float, ...]:
    """The polygon kept on the object: the only ring of a one-ring segmentation, else none."""
    if len(polygons) != 1:
        return ()
    return tuple(_ring(polygons[0], 0, where, path, line))


def _ring(ring: Any, number: int, where: str, path: Path, line: int) -> list[float]:
    numbers = _finite_numbers(ring)
    if numbers is None or len(numbers) < 6 or len(numbers) % 2:
        raise RecordError(path, f"{where}: segmentation polygon {number + 1} is not a flat list of at least three "
                          f"finite x, y pairs: {str(ring)[:80]}", reason=errors.MALFORMED_LINE, line=line)
    return numbers


def _polygons_box(polygons: list, where: str, path: Path, line: int) -> tuple[float, float, float, float]:
    xs: list[float] = []
    ys: list[float] = []
    for number, ring in enumerate(polygons):
        values = _ring(ring, number, where, path, line)
        xs.extend(values[0::2])
        ys.extend(values[1::2])
    return (min(xs), min(ys), max(xs), max(ys))


def _rle_box(rle: dict, where: str, path: Path, line: int) -> tuple[float, float, float, float]:
    size, counts = rle.get("size"), rle.get("counts")
    if (not isinstance(size, list) or len(size) != 2 or not all(isinstance(v, int) and v > 0 for v in size)
            or not isinstance(counts, (str, list))):
        raise RecordError(path, f"{where}: segmentation is not a run-length mask ({{'size': [height, width], "
                          f"'counts': ...}}): {str(rle)[:80]}", reason=errors.MALFORMED_LINE, line=line)
    try:
        from pycocotools import mask as mask_utils
    except ImportError as error:
        raise ImportError("run-length (RLE) segmentations need pycocotools: pip install 'pycocotools>=2.0'") \
            from error
    height, width = size
    if isinstance(counts, list) and (not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0
                                             for v in counts) or sum(counts) != height * width):
        raise RecordError(path, f"{where}: run-length counts must be non-negative integers adding up to height x "
                          f"width = {height * width}", reason=errors.MALFORMED_LINE, line=line)
    try:
        encoded = mask_utils.frPyObjects(rle, height, width) if isinstance(counts, list) else rle
        x, y, box_width, box_height = (float(v) for v in mask_utils.toBbox(encoded))
        area = float(mask_utils.area(encoded))
    except Exception as error:  # pycocotools raises bare Exceptions and ValueErrors on corrupt counts
        raise RecordError(path, f"{where}: run-length mask cannot be decoded ({error})",
                          reason=errors.MALFORMED_LINE, line=line) from None
    if not (0 <= area <= height * width and 0 <= x and x + box_width <= width and 0 <= y
            and y + box_height <= height):
        raise RecordError(path, f"{where}: run-length counts {str(counts)[:40]!r} do not decode to a {width} x "
                          f"{height} mask", reason=errors.MALFORMED_LINE, line=line)
    if area == 0:
        raise RecordError(path, f"{where}: run-length mask is empty (no pixel set), so it has no box",
                          reason=errors.MALFORMED_LINE, line=line)
    # toBbox gives [x, y, w, h] with x + w one past the last column: already the exclusive edge.
    return (x, y, x + box_width, y + box_height)
