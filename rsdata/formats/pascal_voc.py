"""Pascal VOC XML annotations: PASCAL VOC itself and the remote-sensing sets that use it (DIOR, DIOR-R, HRRSD, RSOD).

Layout::

    <root>/Annotations/00001.xml            one XML file per image (searched recursively below the folder)
    <root>/JPEGImages/00001.jpg             the images (PNG, JPEG, TIFF or BMP)
    <root>/ImageSets/Main/train.txt ...     optional split lists: one image id (file stem) per line

Folders are options, each a path relative to the source root; several may be given separated by commas, and each
may be a glob pattern:

- ``annotations`` (default ``Annotations``). DIOR ships ``Annotations/Horizontal Bounding Boxes/`` and DIOR-R
  ``Annotations/Oriented Bounding Boxes/``; with both present the default finds two files per image and asks for
  one folder (``-o "annotations=Annotations/Horizontal Bounding Boxes"``). RSOD keeps one folder per class:
  ``-o annotations=*/Annotation/xml -o images=*/JPEGImages``.
- ``images`` (default ``JPEGImages*``): every matching folder is searched, so DIOR's ``JPEGImages-trainval/`` and
  ``JPEGImages-test/`` need no option. One image stem in two folders is a layout error.
- ``image_sets`` (default ``ImageSets/Main``; ``none`` ignores split lists).
- ``base`` (default ``1``): the corner convention, see below.

Splits: when the ``image_sets`` folder holds lists, each ``<split>.txt`` is a split and its items are exactly the
ids it lists (the first word of each non-blank line), sorted; an id with no annotation file is reported as
``missing_annotation``, and annotation files that no list names are not converted. Per-class lists
(PASCAL VOC's ``aeroplane_train.txt``, and HRRSD's likewise: a name ending in ``_<another list>``) are not splits.
``trainval.txt`` is left out when ``train.txt`` and ``val.txt`` are both present (it is their union; ask for it
with ``--split trainval``). Without lists the source is one split, named by the single ``--split`` given or
"train", whose items are every annotation file and every image, matched by stem.

Annotation file: ``<annotation>`` holding any of ``<folder>``, ``<filename>``, ``<path>``, ``<source>``,
``<size>``, ``<segmented>`` (all optional; other elements such as DIOR-RSVG's ``<description>`` are ignored) and one
``<object>`` per object:

- ``<name>``: the label, as written with the ends' whitespace stripped (HRRSD's "T junction" keeps its space;
  DIOR writes "Expressway-Service-area" with capitals);
- ``<difficult>``: 0 or 1 (missing or empty: 0); ``<pose>``, ``<truncated>``, ``<type>``, ``<angle>`` are ignored;
- ``<bndbox>`` with ``<xmin>``, ``<ymin>``, ``<xmax>``, ``<ymax>``, or DIOR-R's ``<robndbox>`` with the four corners
  ``<x_left_top>``, ``<y_left_top>``, ``<x_right_top>``, ... ``<y_left_bottom>`` (used when present; the polygon is
  kept as written and the box is its bounds).

Coordinates: VOC corners are inclusive pixel indices counted from 1 (``base=1``), so (xmin, ymin, xmax, ymax)
becomes the box (xmin - 1, ymin - 1, xmax, ymax) in the project's convention (0-based, exclusive max edges);
``base=0`` reads 0-based inclusive corners: (x1, y1, x2 + 1, y2 + 1). Oriented corners get the same treatment of
their bounds, so an axis-aligned DIOR-R box equals its DIOR box. Numbers may be integers or decimals; xmax < xmin
is an error. ``<size>`` is not read: the build takes the size from the image itself and clips boxes to it.

The image is the one ``<filename>`` names (its folder part, if any, is dropped; without an ending it is matched
by stem), looked up in the images folders; without ``<filename>`` it is the image with the XML file's stem. No
image is guessed beyond that: none found is ``missing_image``.

Errors (``RecordError`` naming the file and line): XML that is not well-formed, and any DTD (``<!DOCTYPE``)
or entity declaration (refused, so entity expansion attacks cannot run), are ``malformed_line``; a missing
``<name>`` or box element ``malformed_line``; a coordinate that is not a finite number or a bad flag
``bad_number``; a file of zero bytes (or only whitespace) ``empty_label_file``; bytes that are not in the declared
encoding (UTF-8 when none is declared) ``not_utf8``. A file with no ``<object>`` gives an image with nothing to
describe (``no_objects``). Nothing is excluded: VOC has no ignore regions.

Real samples checked: DIOR-R oriented XML with its image (mmrotate's test data) and ten HRRSD files with HRRSD's
``val.txt``. No real DIOR horizontal-box file, RSOD file or PASCAL VOC file was available; they follow the same
schema. Licence: each of these datasets has its own terms (DIOR, HRRSD and RSOD are for research use), so the
default card licence is ``other`` and a recipe states the dataset's terms.
"""

from __future__ import annotations

import codecs
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, fields
from pathlib import Path, PureWindowsPath
from typing import ClassVar
from xml.parsers import expat

from rsdata import errors
from rsdata.errors import OptionError, RecordError, SourceLayoutError
from rsdata.formats.base import (
    IMAGE_SUFFIXES,
    SourceFormat,
    SourceItem,
    choose_splits,
    file_signature,
    files_with_suffix,
    index_images,
    register_format,
)
from rsdata.records import ImageRecord, ObjectAnnotation, Provenance

#: DIOR-R's oriented-box corner elements, in polygon order.
ROBNDBOX_CORNERS = ("x_left_top", "y_left_top", "x_right_top", "y_right_top",
                    "x_right_bottom", "y_right_bottom", "x_left_bottom", "y_left_bottom")
BNDBOX_FIELDS = ("xmin", "ymin", "xmax", "ymax")
#: Option value that turns split lists off.
NO_SPLIT_LISTS = "none"


# ---------------------------------------------------------------------------------------------------------------
# XML reading, shared with the HRSC2016 format: a small tree that remembers each element's line, so that every
# error can name it. Built on expat directly because ElementTree keeps no line numbers.


class XmlElement:
    """One element: ``tag``, its own ``text`` (character data directly inside it), ``children`` and the 1-based
    ``line`` of its start tag."""

    __slots__ = ("children", "line", "tag", "text")

    def __init__(self, tag: str, line: int):
        self.tag = tag
        self.line = line
        self.text = ""
        self.children: list[XmlElement] = []

    def find(self, tag: str) -> XmlElement | None:
        for child in self.children:
            if child.tag == tag:
                return child
        return None

    def findall(self, tag: str) -> list[XmlElement]:
        return [child for child in self.children if child.tag == tag]

    def first_children(self) -> dict[str, XmlElement]:
        """The first child of each tag."""
        by_tag: dict[str, XmlElement] = {}
        for child in self.children:
            by_tag.setdefault(child.tag, child)
        return by_tag

    def __repr__(self) -> str:
        return f"<XmlElement {self.tag} line {self.line}>"


class _Refused(Exception):
    def __init__(self, line: int, message: str):
        self.line = line
        self.message = message


# Encodings expat decodes itself; any other declared encoding is decoded by Python first.
_EXPAT_CODECS = {"utf-8", "ascii", "iso8859-1", "utf-16", "utf-16-le", "utf-16-be"}
_DECLARED_ENCODING = re.compile(rb"^(?:\xef\xbb\xbf)?\s*<\?xml[^>]*?encoding\s*=\s*[\"']([A-Za-z0-9._-]+)[\"']")


def read_xml(path: Path, what: str = "annotation file") -> XmlElement:
    """Parse the XML file ``path`` into :class:`XmlElement`; raise :class:`RecordError` naming the file and line of
    the first problem (``what`` names the kind of file in messages). DTDs and entity declarations are refused."""
    data = path.read_bytes()
    if not data.strip():
        raise RecordError(path, f"{what} is empty ({len(data)} bytes); expected an XML document",
                          reason=errors.EMPTY_LABEL_FILE)
    encoding = None  # None: expat reads the declaration (or the byte-order mark) itself
    codec = "utf-8"
    match = _DECLARED_ENCODING.match(data[:256])
    if match is not None:
        declared = match.group(1).decode("ascii")
        try:
            codec = codecs.lookup(declared).name
        except LookupError:
            raise RecordError(path, f"declares the unknown encoding {declared!r}", reason=errors.MALFORMED_LINE,
                              line=1) from None
        if codec not in _EXPAT_CODECS:  # e.g. GBK, which expat cannot read: decode here, parse as UTF-8
            try:
                data = data.decode(codec).encode("utf-8")
            except UnicodeDecodeError as exc:
                raise RecordError(path, f"not {declared} text as declared (byte 0x{data[exc.start]:02x} at offset "
                                  f"{exc.start})", reason=errors.NOT_UTF8,
                                  line=data.count(b"\n", 0, exc.start) + 1) from None
            encoding, codec = "utf-8", "utf-8"
    try:
        return _parse_xml_bytes(data, encoding)
    except _Refused as refused:
        raise RecordError(path, refused.message, reason=errors.MALFORMED_LINE, line=refused.line) from None
    except ValueError as exc:  # pyexpat refusing an encoding it cannot handle
        raise RecordError(path, f"cannot be read as XML ({exc})", reason=errors.MALFORMED_LINE, line=1) from None
    except expat.ExpatError as exc:
        if codec == "utf-8" and not data.startswith((b"\xff\xfe", b"\xfe\xff")):
            # Name the real problem when the XML is fine but its bytes are not UTF-8 (expat says "invalid token").
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as bad:
                raise RecordError(path, f"not UTF-8 text (byte 0x{data[bad.start]:02x} at offset {bad.start})",
                                  reason=errors.NOT_UTF8, line=data.count(b"\n", 0, bad.start) + 1) from None
        message = expat.errors.messages.get(exc.code, str(exc))
        raise RecordError(path, f"not well-formed XML ({message}, column {exc.offset + 1})",
                          reason=errors.MALFORMED_LINE, line=exc.lineno) from None


def _parse_xml_bytes(data: bytes, encoding: str | None) -> XmlElement:
    parser = expat.ParserCreate(encoding)
    parser.buffer_text = True
    parser.ordered_attributes = True
    stack: list[XmlElement] = []
    roots: list[XmlElement] = []

    def start(tag, _attributes):
        element = XmlElement(tag, parser.CurrentLineNumber)
        (stack[-1].children if stack else roots).append(element)
        stack.append(element)

    def end(_tag):
        stack.pop()

    def characters(text):
        if stack:
            stack[-1].text += text

    def doctype(name, *_):
        raise _Refused(parser.CurrentLineNumber, f"holds a document type declaration (<!DOCTYPE {name} ...>); DTDs "
                       "and entities are refused in annotation files")

    def entity(name, *_):
        raise _Refused(parser.CurrentLineNumber, f"declares the entity {name!r}; DTDs and entities are refused in "
                       "annotation files")

    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = characters
    parser.StartDoctypeDeclHandler = doctype
    parser.EntityDeclHandler = entity
    parser.Parse(data, True)
    return roots[0]


def number_of(element: XmlElement, path: Path) -> float:
    """The finite number an element holds, or :class:`RecordError` (``bad_number``) naming its line."""
    raw = element.text.strip()
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise RecordError(path, f"<{element.tag}> is {raw!r}, not a finite number", reason=errors.BAD_NUMBER,
                          line=element.line)
    return value


def required_child(parent: XmlElement, tag: str, path: Path, context: str) -> XmlElement:
    child = parent.find(tag)
    if child is None:
        raise RecordError(path, f"{context} has no <{tag}>", reason=errors.MALFORMED_LINE, line=parent.line)
    return child


def difficult_flag(element: XmlElement | None, path: Path) -> bool:
    """``<difficult>``: 0 or 1; missing or empty means 0."""
    if element is None:
        return False
    raw = element.text.strip()
    if raw in ("", "0"):
        return False
    if raw == "1":
        return True
    raise RecordError(path, f"<difficult> is {raw!r}; expected 0 or 1", reason=errors.BAD_NUMBER, line=element.line)


# ---------------------------------------------------------------------------------------------------------------
# Layout shared by the XML-per-image formats (Pascal VOC here, HRSC2016): annotation folders, image folders and
# optional split lists.


def resolve_folders(root: Path, spec: str, option: str, expected: str) -> list[Path]:
    """The folders an option names: comma-separated paths relative to ``root``, each possibly a glob pattern."""
    folders: list[Path] = []
    for pattern in (part.strip() for part in spec.split(",")):
        if not pattern:
            continue
        if re.search(r"[*?\[]", pattern):
            matches = sorted((p for p in root.glob(pattern) if p.is_dir()), key=lambda p: p.as_posix())
        else:
            matches = [root / pattern] if (root / pattern).is_dir() else []
        if not matches:
            raise SourceLayoutError(f"no folder {root / pattern} (option {option}={spec}); expected {expected}")
        folders.extend(m for m in matches if m not in folders)
    return folders


def index_xml_files(folders: Sequence[Path], root: Path, option: str) -> dict[str, Path]:
    """Map each XML file's stem below ``folders`` to its file; one stem twice is a layout error."""
    index: dict[str, Path] = {}
    for folder in folders:
        for path in files_with_suffix(folder, ".xml"):
            if path.stem in index and index[path.stem] != path:
                first = index[path.stem]
                raise SourceLayoutError(
                    f"two annotation files for image {path.stem}: {first} and {path}; choose one folder with "
                    f"-o {option}=FOLDER (a path relative to {root}, e.g. "
                    f"{first.parent.relative_to(root).as_posix()!r})")
            index[path.stem] = path
    return index


def index_image_folders(folders: Sequence[Path]) -> dict[str, Path]:
    index: dict[str, Path] = {}
    for folder in folders:
        for stem, path in index_images(folder).items():
            if stem in index:
                raise SourceLayoutError(f"two images are named {stem}: {index[stem]} and {path}; keep one, or "
                                        "name the images folders with -o images=FOLDER,FOLDER")
            index[stem] = path
    return index


def split_lists(folder: Path) -> dict[str, Path]:
    """``<split>.txt`` files directly in ``folder`` (per-class lists ``<class>_<split>.txt`` left out)."""
    lists = {p.stem: p for p in sorted(folder.glob("*.txt")) if p.is_file()}
    per_class = {stem for stem in lists if "_" in stem and stem.rsplit("_", 1)[1] in lists}
    return {stem: path for stem, path in lists.items() if stem not in per_class}


def read_id_list(path: Path) -> list[str]:
    """The ids of a split list: the first word of each non-blank line."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SourceLayoutError(f"split list {path} is not UTF-8 text (offset {exc.start}); expected one image id "
                                "per line") from None
    return [line.split()[0] for line in text.splitlines() if line.strip()]


def image_name_candidates(filename: str) -> tuple[str, str]:
    """``(file name, stem)`` of an annotation's image name: the folder part dropped (either separator), the stem
    without an image ending."""
    name = PureWindowsPath(filename.strip()).name
    suffix = Path(name).suffix.lower()
    return name, name[: -len(suffix)] if suffix in IMAGE_SUFFIXES else name


class XmlSourceFormat(SourceFormat):
    """A source of one XML file per image. Subclasses set the option defaults' wording (``layout_hint``) and
    implement :meth:`read_annotation`; options have ``annotations``, ``images`` and ``image_sets`` fields."""

    #: How the expected layout reads in error messages.
    layout_hint: ClassVar[str]

    def __init__(self, options=None):
        super().__init__(options)
        self._root: Path | None = None
        self._images: dict[str, Path] | None = None
        self._image_folders: list[Path] = []

    def read_annotation(self, path: Path) -> tuple[str | None, tuple[ObjectAnnotation, ...]]:
        """``(image file name or None, objects)`` of one annotation file."""
        raise NotImplementedError

    def list_items(self, root: Path, splits: Sequence[str] | None) -> list[SourceItem]:
        options = self.options
        if not root.is_dir():
            raise SourceLayoutError(f"source folder {root} does not exist or is not a folder")
        annotation_folders = resolve_folders(root, options.annotations, "annotations", self.layout_hint)
        self._image_folders = resolve_folders(root, options.images, "images", self.layout_hint)
        annotations = index_xml_files(annotation_folders, root, "annotations")
        images = index_image_folders(self._image_folders)
        self._root, self._images = root, images

        listed = self._listed_splits(root, splits)
        if listed is None:
            if splits and len(splits) > 1:
                raise OptionError(f"{root} has no split lists ({options.image_sets}/<split>.txt), so it is one split; "
                                  "give at most one --split to name it")
            listed = {splits[0] if splits else "train": sorted(set(annotations) | set(images))}
        items = []
        for split, ids in listed.items():
            for stem in ids:
                image_path = images.get(stem)
                image_name = (image_path or self._image_folders[0] / stem).relative_to(root).as_posix()
                size, mtime = file_signature(image_path)
                items.append(SourceItem(split=split, source_id=stem, image_name=image_name, image_path=image_path,
                                        annotation_path=annotations.get(stem), size_bytes=size, mtime_ns=mtime))
        return items

    def _listed_splits(self, root: Path, splits: Sequence[str] | None) -> dict[str, list[str]] | None:
        """Split name -> sorted ids from the split lists, or None when the source has none."""
        spec = self.options.image_sets.strip()
        if spec.lower() in (NO_SPLIT_LISTS, ""):
            return None
        folder = root / spec
        if not folder.is_dir():
            default = next(f.default for f in fields(self.options) if f.name == "image_sets")
            if spec != default:
                raise SourceLayoutError(f"split lists folder {folder} (option image_sets={spec}) does not exist; "
                                        f"use -o image_sets={NO_SPLIT_LISTS} for a source without split lists")
            return None
        lists = split_lists(folder)
        if not lists:
            return None
        if splits:
            chosen = choose_splits(splits, sorted(lists), folder)
        else:
            chosen = sorted(lists)
            if {"train", "val", "trainval"} <= set(lists):
                chosen.remove("trainval")  # the union of train and val: converting it too would duplicate them
        return {split: sorted(set(read_id_list(lists[split]))) for split in chosen}

    def parse(self, item: SourceItem) -> ImageRecord:
        provenance = Provenance(source_dataset=self.name, split=item.split, source_id=item.source_id)
        if item.annotation_path is None:
            raise RecordError(item.image_path or item.image_name, f"image has no annotation file (expected "
                              f"{item.source_id}.xml in the annotations folder, option "
                              f"annotations={self.options.annotations})", reason=errors.MISSING_ANNOTATION)
        filename, objects = self.read_annotation(item.annotation_path)
        image_path, image_name = self._image_for(item, filename)
        return ImageRecord(image_path=image_path, image_name=image_name, provenance=provenance, objects=objects,
                           annotation_path=item.annotation_path)

    def _image_for(self, item: SourceItem, filename: str | None) -> tuple[Path, str]:
        """The image an annotation names (see the module docstring); ``missing_image`` when there is none."""
        if filename is None:
            name, stem = None, item.source_id
        else:
            name, stem = image_name_candidates(filename)
        if stem == item.source_id:
            candidate = item.image_path
        else:
            candidate = self._images.get(stem) if self._images is not None else None
        if candidate is not None and name is not None and candidate.name != name \
                and (candidate.parent / name).is_file():
            candidate = candidate.parent / name  # the named ending, where the index preferred another one
        if candidate is None:
            folders = ", ".join(str(f) for f in self._image_folders) or f"option images={self.options.images}"
            looked_for = (f"the image {filename!r} that its <filename> names" if filename is not None else
                          f"an image {item.source_id} with ending {', '.join(IMAGE_SUFFIXES)}")
            raise RecordError(item.annotation_path, f"annotation file has no image: {looked_for} is not in the "
                              f"images folder(s) ({folders})", reason=errors.MISSING_IMAGE)
        if candidate == item.image_path:
            return candidate, item.image_name
        return candidate, (candidate.relative_to(self._root).as_posix() if self._root else candidate.name)


# ---------------------------------------------------------------------------------------------------------------
# Pascal VOC


@dataclass(frozen=True)
class PascalVocOptions:
    annotations: str = "Annotations"
    images: str = "JPEGImages*"
    image_sets: str = "ImageSets/Main"
    base: int = 1

    def __post_init__(self):
        base = self.base
        if isinstance(base, str) and base.strip() in ("0", "1"):
            base = int(base.strip())
        if isinstance(base, bool) or base not in (0, 1):
            raise OptionError(f"option base={self.base!r} is not accepted; expected 1 (corners are pixel indices "
                              "counted from 1, as in PASCAL VOC) or 0 (counted from 0)")
        object.__setattr__(self, "base", base)
        for name in ("annotations", "images"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise OptionError(f"option {name}={value!r} is not accepted; expected a folder relative to the "
                                  "source root (several separated by commas; glob patterns allowed)")
        if not isinstance(self.image_sets, str):
            raise OptionError(f"option image_sets={self.image_sets!r} is not accepted; expected a folder relative "
                              f"to the source root, or {NO_SPLIT_LISTS!r}")


@register_format
class PascalVocFormat(XmlSourceFormat):
    name = "pascal_voc"
    description = "Pascal VOC XML (DIOR, DIOR-R, HRRSD, RSOD): bndbox or robndbox per object, 1-based corners"
    options_class = PascalVocOptions
    default_license = "other"
    layout_hint = ("<root>/Annotations/*.xml and <root>/JPEGImages/ (name other folders with -o annotations=PATH "
                   "and -o images=PATH; commas and glob patterns allowed)")

    def read_annotation(self, path: Path) -> tuple[str | None, tuple[ObjectAnnotation, ...]]:
        return parse_voc_file(path, base=self.options.base)


def parse_voc_file(path: Path, base: int = 1) -> tuple[str | None, tuple[ObjectAnnotation, ...]]:
    """``(<filename> or None, objects)`` of one VOC file; :class:`RecordError` names the file and line of the first
    problem."""
    root = read_xml(path)
    if root.tag != "annotation":
        raise RecordError(path, f"root element is <{root.tag}>; a Pascal VOC file has <annotation>",
                          reason=errors.MALFORMED_LINE, line=root.line)
    filename = None
    objects = []
    for child in root.children:
        if child.tag == "object":
            objects.append(parse_voc_object(child, path, base))
        elif child.tag == "filename" and filename is None:
            filename = child.text.strip() or None
    return filename, tuple(objects)


def parse_voc_object(element: XmlElement, path: Path, base: int = 1) -> ObjectAnnotation:
    parts = element.first_children()
    name = parts.get("name")
    category = name.text.strip() if name is not None else ""
    if not category:
        raise RecordError(path, "object has no <name> (its class label)", reason=errors.MALFORMED_LINE,
                          line=(name or element).line)
    difficult = difficult_flag(parts.get("difficult"), path)
    rotated = parts.get("robndbox")
    if rotated is not None:
        polygon = tuple(number_of(required_child(rotated, tag, path, f"<robndbox> of {category}"), path)
                        for tag in ROBNDBOX_CORNERS)
        xs, ys = polygon[0::2], polygon[1::2]
        x0, y0, x1, y1 = min(xs), min(ys), max(xs), max(ys)
    else:
        box = parts.get("bndbox")
        if box is None:
            raise RecordError(path, f"object {category!r} has neither <bndbox> nor <robndbox>",
                              reason=errors.MALFORMED_LINE, line=element.line)
        corners = box.first_children()
        values = []
        for tag in BNDBOX_FIELDS:
            field = corners.get(tag)
            if field is None:
                raise RecordError(path, f"<bndbox> of {category} has no <{tag}> (expected xmin, ymin, xmax, ymax)",
                                  reason=errors.MALFORMED_LINE, line=box.line)
            values.append(number_of(field, path))
        x0, y0, x1, y1 = values
        for low, high, axis in ((x0, x1, "x"), (y0, y1, "y")):
            if high < low:
                raise RecordError(path, f"<{axis}max> {high:g} is less than <{axis}min> {low:g} in {category}'s box",
                                  reason=errors.BAD_NUMBER, line=corners[f"{axis}max"].line)
        polygon = ()
    return ObjectAnnotation(category=category, bbox=(x0 - base, y0 - base, x1 - base + 1, y1 - base + 1),
                            polygon=polygon, difficult=difficult, source_line=element.line)
