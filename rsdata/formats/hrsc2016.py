"""HRSC2016 ship annotations: one ``<HRSC_Image>`` XML file per image, with rotated boxes.

Layout (as the dataset ships)::

    <root>/FullDataSet/Annotations/100000001.xml    one XML file per image (searched recursively)
    <root>/FullDataSet/AllImages/100000001.bmp      the images (BMP; any of PNG, JPEG, TIFF, BMP is accepted)
    <root>/FullDataSet/sysdata.xml                  the class table (read only with option classes=PATH)
    <root>/ImageSets/trainval.txt, test.txt, ...    optional split lists: one image id per line

Options (strings, as ``-o KEY=VALUE`` gives them): ``annotations`` (default ``FullDataSet/Annotations``),
``images`` (default ``FullDataSet/AllImages``) and ``image_sets`` (default ``ImageSets``; ``none`` ignores split
lists) are folders relative to the source root, with commas and glob patterns allowed; the release's
``Train/Annotations`` + ``Train/AllImages`` copy can be named instead. Splits follow the lists exactly as in the
``pascal_voc`` format (one split per ``<split>.txt``, ``trainval`` left out when ``train`` and ``val`` exist, ids
with no annotation file reported as ``missing_annotation``; without lists, one split of every file).

Annotation file: root ``<HRSC_Image>`` with image metadata (``Img_FileName`` without ending, ``Img_FileFmt``
such as ``bmp``, ``Img_SizeWidth``/``Img_SizeHeight``, ``Img_Resolution``, ...; only the file name is read) and
``<HRSC_Objects>`` holding one ``<HRSC_Object>`` per ship:

- ``Class_ID``: a nine-digit class id (100000001 = ship, 100000002 = aircraft carrier, ... 100000033), whose names
  are only in the dataset's ``sysdata.xml`` (``HRSC_Classes/HRSC_Class`` with ``Class_ID`` and ``Class_EngName``);
- ``difficult``: 0 or 1 (missing: 0); ``truncated``, ``header_x``/``header_y`` (the bow) and the segmentation
  fields are not used;
- ``box_xmin`` .. ``box_ymax``: the horizontal box, not used (it hugs the hull; the rotated box is the annotation);
- ``mbox_cx``, ``mbox_cy``, ``mbox_w``, ``mbox_h``, ``mbox_ang``: the rotated box: centre, width along the ship's
  axis, height across it, and the angle in radians of the width axis from the image x axis, positive towards +y
  (image coordinates, y down).

Coordinates: the rotated box is continuous pixel geometry, so its polygon is its four corners (cx, cy) +
R(ang) (+-w/2, +-h/2), in the order (-w/2, -h/2), (+w/2, -h/2), (+w/2, +h/2), (-w/2, +h/2), and the object's box is
the polygon's axis-aligned bounds, unshifted (clipped to the image by the build).

Class names (option ``classes``): ``ship`` (default) labels every object "ship", the single-class task most work
uses; ``id`` keeps the ``Class_ID`` as the label, for a recipe's name map to name; any other value is the path of
the class table (``sysdata.xml``, relative to the source root or absolute), whose ``Class_EngName`` becomes the
label; an id missing from the table is then ``unknown_class``. Nothing is excluded: HRSC2016 has no ignore regions.

Errors name the file and line (see :func:`rsdata.formats.pascal_voc.read_xml`: malformed XML, DTDs and entities
are ``malformed_line``); a missing ``mbox_*`` or ``Class_ID`` is ``malformed_line``, a value that is not a finite
number (or a negative width or height) ``bad_number``. A file with no ``<HRSC_Object>`` gives an image with nothing to
describe (``no_objects``).

Real sample checked: one annotation file (mmrotate's test data), without its image or the class table; the class
table's layout follows public readers of it. Licence: HRSC2016 is for academic research only (published by
Northwestern Polytechnical University on Kaggle and its former homepage), so the default card licence is ``other``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from rsdata import errors
from rsdata.errors import OptionError, RecordError, SourceLayoutError
from rsdata.formats.base import register_format
from rsdata.formats.pascal_voc import (
    XmlElement,
    XmlSourceFormat,
    difficult_flag,
    number_of,
    read_xml,
    required_child,
)
from rsdata.records import ObjectAnnotation

#: Option values of ``classes`` that are not a path.
CLASSES_SHIP = "ship"
CLASSES_ID = "id"
ROTATED_BOX_FIELDS = ("mbox_cx", "mbox_cy", "mbox_w", "mbox_h", "mbox_ang")


@dataclass(frozen=True)
class Hrsc2016Options:
    annotations: str = "FullDataSet/Annotations"
    images: str = "FullDataSet/AllImages"
    image_sets: str = "ImageSets"
    classes: str = CLASSES_SHIP

    def __post_init__(self):
        for name in ("annotations", "images", "classes"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                accepted = (f"{CLASSES_SHIP!r}, {CLASSES_ID!r} or the path of the class table sysdata.xml"
                            if name == "classes" else "a folder relative to the source root")
                raise OptionError(f"option {name}={value!r} is not accepted; expected {accepted}")
        if not isinstance(self.image_sets, str):
            raise OptionError(f"option image_sets={self.image_sets!r} is not accepted; expected a folder relative "
                              "to the source root, or 'none'")
        object.__setattr__(self, "classes", self.classes.strip())


@register_format
class Hrsc2016Format(XmlSourceFormat):
    name = "hrsc2016"
    description = "HRSC2016 HRSC_Image XML: rotated ship boxes (mbox, radians), class ids named by sysdata.xml"
    options_class = Hrsc2016Options
    default_license = "other"
    layout_hint = ("<root>/FullDataSet/Annotations/*.xml and <root>/FullDataSet/AllImages/ (name other folders "
                   "with -o annotations=PATH and -o images=PATH)")

    def __init__(self, options=None):
        super().__init__(options)
        self._class_names: dict[str, str] | None = None

    def list_items(self, root: Path, splits):
        if self.options.classes not in (CLASSES_SHIP, CLASSES_ID):
            table = Path(self.options.classes)
            self._class_names = read_class_table(table if table.is_absolute() else root / table)
        return super().list_items(root, splits)

    def read_annotation(self, path: Path) -> tuple[str | None, tuple[ObjectAnnotation, ...]]:
        if self.options.classes in (CLASSES_SHIP, CLASSES_ID):
            return parse_hrsc_file(path, classes=self.options.classes)
        if self._class_names is None:
            raise RuntimeError("list_items() reads the class table; call it before parse()")
        return parse_hrsc_file(path, classes=self._class_names)


def read_class_table(path: Path) -> dict[str, str]:
    """``Class_ID`` -> ``Class_EngName`` from HRSC2016's ``sysdata.xml``; a layout error when it is unusable."""
    if not path.is_file():
        raise SourceLayoutError(f"class table {path} (option classes) does not exist; HRSC2016 ships it as "
                                f"FullDataSet/sysdata.xml, or use -o classes={CLASSES_SHIP} or -o classes={CLASSES_ID}")
    try:
        root = read_xml(path, what="class table")
    except RecordError as error:
        raise SourceLayoutError(f"class table {error}") from None
    names: dict[str, str] = {}
    for group in root.findall("HRSC_Classes"):
        for entry in group.findall("HRSC_Class"):
            parts = entry.first_children()
            class_id = parts["Class_ID"].text.strip() if "Class_ID" in parts else ""
            name = parts["Class_EngName"].text.strip() if "Class_EngName" in parts else ""
            if not class_id or not name:
                raise SourceLayoutError(f"class table {path}:{entry.line}: <HRSC_Class> needs a Class_ID and a "
                                        "Class_EngName")
            names[class_id] = name
    if not names:
        raise SourceLayoutError(f"class table {path} has no <HRSC_Classes>/<HRSC_Class> entries; expected HRSC2016's "
                                "sysdata.xml")
    return names


def parse_hrsc_file(path: Path, classes: str | dict[str, str] = CLASSES_SHIP
                    ) -> tuple[str | None, tuple[ObjectAnnotation, ...]]:
    """``(image file name or None, objects)`` of one HRSC2016 file. ``classes`` is "ship", "id" or a
    ``Class_ID -> name`` table. :class:`RecordError` names the file and line of the first problem."""
    root = read_xml(path)
    if root.tag != "HRSC_Image":
        raise RecordError(path, f"root element is <{root.tag}>; an HRSC2016 annotation file has <HRSC_Image>",
                          reason=errors.MALFORMED_LINE, line=root.line)
    parts = root.first_children()
    filename = parts["Img_FileName"].text.strip() if "Img_FileName" in parts else ""
    if filename:
        extension = parts["Img_FileFmt"].text.strip() if "Img_FileFmt" in parts else ""
        filename = f"{filename}.{extension.lstrip('.')}" if extension else filename
    objects = []
    for group in root.findall("HRSC_Objects"):
        for element in group.findall("HRSC_Object"):
            objects.append(parse_hrsc_object(element, path, classes))
    return filename or None, tuple(objects)


def parse_hrsc_object(element: XmlElement, path: Path, classes: str | dict[str, str] = CLASSES_SHIP
                      ) -> ObjectAnnotation:
    parts = element.first_children()
    category = _category(element, path, classes)
    values = []
    for tag in ROTATED_BOX_FIELDS:
        field = parts.get(tag)
        if field is None:
            raise RecordError(path, f"<HRSC_Object> has no <{tag}> (the rotated box is mbox_cx, mbox_cy, mbox_w, "
                              "mbox_h, mbox_ang)", reason=errors.MALFORMED_LINE, line=element.line)
        values.append(number_of(field, path))
    cx, cy, width, height, angle = values
    for tag, value in (("mbox_w", width), ("mbox_h", height)):
        if value < 0:
            raise RecordError(path, f"<{tag}> is {value:g}; a rotated box's side cannot be negative",
                              reason=errors.BAD_NUMBER, line=parts[tag].line)
    polygon = rotated_box_polygon(cx, cy, width, height, angle)
    xs, ys = polygon[0::2], polygon[1::2]
    return ObjectAnnotation(category=category, bbox=(min(xs), min(ys), max(xs), max(ys)), polygon=polygon,
                            difficult=difficult_flag(parts.get("difficult"), path), source_line=element.line)


def rotated_box_polygon(cx: float, cy: float, width: float, height: float, angle: float) -> tuple[float, ...]:
    """The four corners of a rotated box (see the module docstring for the order and the angle's sense)."""
    cos, sin = math.cos(angle), math.sin(angle)
    corners = []
    for dx, dy in ((-width / 2, -height / 2), (width / 2, -height / 2), (width / 2, height / 2),
                   (-width / 2, height / 2)):
        corners.extend((cx + dx * cos - dy * sin, cy + dx * sin + dy * cos))
    return tuple(corners)


def _category(element: XmlElement, path: Path, classes: str | dict[str, str]) -> str:
    if classes == CLASSES_SHIP:
        return "ship"
    field = required_child(element, "Class_ID", path, "<HRSC_Object>")
    class_id = field.text.strip()
    if not class_id:
        raise RecordError(path, "<Class_ID> is empty", reason=errors.MALFORMED_LINE, line=field.line)
    if classes == CLASSES_ID:
        return class_id
    try:
        return classes[class_id]
    except KeyError:
        raise RecordError(path, f"<Class_ID> {class_id} is not in the class table ({len(classes)} classes, "
                          f"{min(classes)} to {max(classes)})", reason=errors.UNKNOWN_CLASS, line=field.line) from None
