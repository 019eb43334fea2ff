"""The HRSC2016 reader: table-driven good, empty and bad files; layouts and class tables; the real sample."""

from __future__ import annotations

import json
import math
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import rsdata.formats.hrsc2016  # registers the format
from rsdata import errors
from rsdata.cli import main
from rsdata.errors import OptionError, RecordError, SourceLayoutError
from rsdata.formats import get_format
from rsdata.formats.hrsc2016 import (
    Hrsc2016Options,
    parse_hrsc_file,
    rotated_box_polygon,
)
from tests.conftest import realdata
from tests.formats.generators.hrsc2016 import (
    CLASS_TABLE,
    write_class_table,
    write_source,
)

HEAD = "<Img_ID>100000006</Img_ID><Img_FileName>100000006</Img_FileName><Img_FileFmt>bmp</Img_FileFmt>"
MBOX = "<mbox_cx>20</mbox_cx><mbox_cy>10</mbox_cy><mbox_w>10</mbox_w><mbox_h>4</mbox_h><mbox_ang>0</mbox_ang>"
GOOD_OBJECT = f"<HRSC_Object><Class_ID>100000001</Class_ID><difficult>0</difficult>{MBOX}</HRSC_Object>"
TABLE = {"100000001": "ship", "100000013": "Admiral Kuznetsov aircraft carrier"}


def hrsc_text(*objects: str, head: str = HEAD) -> str:
    """An HRSC2016 file whose objects start on lines 4, 5, ..."""
    return ("<HRSC_Image>\n" + head + "\n<HRSC_Objects>\n" + "".join(obj + "\n" for obj in objects)
            + "</HRSC_Objects>\n</HRSC_Image>\n")


def hrsc_object(*, class_id: str = "100000013", difficult: str = "<difficult>1</difficult>",
                mbox: str = MBOX) -> str:
    return (f"<HRSC_Object><Object_ID>1</Object_ID><Class_ID>{class_id}</Class_ID><truncated>0</truncated>{difficult}"
            f"<box_xmin>1</box_xmin><box_ymin>1</box_ymin><box_xmax>2</box_xmax><box_ymax>2</box_ymax>{mbox}"
            "<header_x>24</header_x><header_y>10</header_y></HRSC_Object>")


def mbox(cx, cy, w, h, angle) -> str:
    return (f"<mbox_cx>{cx}</mbox_cx><mbox_cy>{cy}</mbox_cy><mbox_w>{w}</mbox_w><mbox_h>{h}</mbox_h>"
            f"<mbox_ang>{angle}</mbox_ang>")


GOOD_OBJECTS = [
    # id, object XML, classes, category, box, difficult
    ("axis aligned", hrsc_object(), "ship", "ship", (15, 8, 25, 12), True),
    ("quarter turn", hrsc_object(mbox=mbox(20, 10, 10, 4, math.pi / 2)), "ship", "ship", (18, 5, 22, 15), True),
    ("real HRSC values", hrsc_object(mbox=mbox(341.2143, 443.3325, 778.4297, 178.2595, -1.122944)), "ship", "ship",
     (92.3326, 53.9064, 590.0960, 832.7586), True),
    ("no difficult flag", hrsc_object(difficult=""), "ship", "ship", (15, 8, 25, 12), False),
    ("empty difficult flag", hrsc_object(difficult="<difficult> </difficult>"), "ship", "ship", (15, 8, 25, 12),
     False),
    ("point", hrsc_object(mbox=mbox(20, 10, 0, 0, 1)), "ship", "ship", (20, 10, 20, 10), True),
    ("class id", hrsc_object(), "id", "100000013", (15, 8, 25, 12), True),
    ("class table", hrsc_object(class_id=" 100000013 "), TABLE, "Admiral Kuznetsov aircraft carrier",
     (15, 8, 25, 12), True),
    ("ship ignores the class id", hrsc_object(class_id=""), "ship", "ship", (15, 8, 25, 12), True),
]


@pytest.mark.parametrize("name,obj,classes,category,bbox,difficult", GOOD_OBJECTS,
                         ids=[row[0] for row in GOOD_OBJECTS])
def test_good_objects(tmp_path, name, obj, classes, category, bbox, difficult):
    path = tmp_path / "100000006.xml"
    path.write_text(hrsc_text(GOOD_OBJECT, obj), encoding="utf-8")
    filename, (first, parsed) = parse_hrsc_file(path, classes=classes)
    assert filename == "100000006.bmp" and first.bbox == (15, 8, 25, 12)
    assert parsed.category == category and parsed.difficult is difficult
    assert parsed.bbox == pytest.approx(bbox, abs=1e-4)
    assert len(parsed.polygon) == 8 and parsed.source_line == 5
    xs, ys = parsed.polygon[0::2], parsed.polygon[1::2]
    assert parsed.bbox == (min(xs), min(ys), max(xs), max(ys))


def test_polygon_corners_and_angle_sense():
    # The width axis turns from +x towards +y (image coordinates, y down) as the angle grows.
    corners = rotated_box_polygon(0, 0, 4, 2, math.pi / 2)
    assert corners == pytest.approx((1, -2, 1, 2, -1, 2, -1, -2))


BAD_OBJECTS = [
    # id, object XML, classes, reason, message fragment
    ("missing angle", hrsc_object(mbox=MBOX.replace("<mbox_ang>0</mbox_ang>", "")), "ship", errors.MALFORMED_LINE,
     "<HRSC_Object> has no <mbox_ang>"),
    ("text number", hrsc_object(mbox=mbox("abc", 1, 2, 3, 0)), "ship", errors.BAD_NUMBER,
     "<mbox_cx> is 'abc', not a finite number"),
    ("infinite number", hrsc_object(mbox=mbox(1, 1, 2, 3, "inf")), "ship", errors.BAD_NUMBER, "<mbox_ang> is 'inf'"),
    ("negative width", hrsc_object(mbox=mbox(1, 1, -3, 3, 0)), "ship", errors.BAD_NUMBER,
     "<mbox_w> is -3; a rotated box's side cannot be negative"),
    ("bad difficult", hrsc_object(difficult="<difficult>yes</difficult>"), "ship", errors.BAD_NUMBER,
     "<difficult> is 'yes'; expected 0 or 1"),
    ("no class id", GOOD_OBJECT.replace("<Class_ID>100000001</Class_ID>", ""), "id", errors.MALFORMED_LINE,
     "<HRSC_Object> has no <Class_ID>"),
    ("empty class id", hrsc_object(class_id=""), "id", errors.MALFORMED_LINE, "<Class_ID> is empty"),
    ("class id not in the table", hrsc_object(class_id="100000099"), TABLE, errors.UNKNOWN_CLASS,
     "<Class_ID> 100000099 is not in the class table (2 classes, 100000001 to 100000013)"),
]


@pytest.mark.parametrize("name,obj,classes,reason,fragment", BAD_OBJECTS, ids=[row[0] for row in BAD_OBJECTS])
def test_bad_objects_name_file_line_and_problem(tmp_path, name, obj, classes, reason, fragment):
    path = tmp_path / "100000009.xml"
    path.write_text(hrsc_text(GOOD_OBJECT, obj, GOOD_OBJECT), encoding="utf-8")
    with pytest.raises(RecordError) as caught:
        parse_hrsc_file(path, classes=classes)
    error = caught.value
    assert (error.reason, error.line) == (reason, 5)
    assert str(error).startswith(f"{path}:5: ") and fragment in str(error)


BAD_FILES = [
    # id, file content, reason, line, message fragment
    ("Pascal VOC file", b"<annotation>\n</annotation>\n", errors.MALFORMED_LINE, 1,
     "root element is <annotation>; an HRSC2016 annotation file has <HRSC_Image>"),
    ("unclosed", b"<HRSC_Image>\n<HRSC_Objects>\n</HRSC_Image>\n", errors.MALFORMED_LINE, 3, "mismatched tag"),
    ("entity declaration", b'<!DOCTYPE HRSC_Image [<!ENTITY big "ship">]>\n<HRSC_Image>&big;</HRSC_Image>\n',
     errors.MALFORMED_LINE, 1, "DTDs and entities are refused"),
    ("zero bytes", b"", errors.EMPTY_LABEL_FILE, None, "annotation file is empty"),
    ("GBK bytes undeclared", "<HRSC_Image><Img_Des>\u6e2f\u53e3</Img_Des></HRSC_Image>".encode("gbk"),
     errors.NOT_UTF8, 1, "not UTF-8 text"),
]


@pytest.mark.parametrize("name,data,reason,line,fragment", BAD_FILES, ids=[row[0] for row in BAD_FILES])
def test_bad_files_name_file_line_and_problem(tmp_path, name, data, reason, line, fragment):
    path = tmp_path / "bad.xml"
    path.write_bytes(data)
    with pytest.raises(RecordError) as caught:
        parse_hrsc_file(path)
    assert (caught.value.reason, caught.value.line) == (reason, line) and fragment in str(caught.value)
    assert str(caught.value).startswith(f"{path}:{line}: " if line else f"{path}: ")


EMPTY_FILES = [
    # id, file content, image file name
    ("no objects element", "<HRSC_Image>" + HEAD + "<Annotated>0</Annotated></HRSC_Image>", "100000006.bmp"),
    ("empty objects", hrsc_text(), "100000006.bmp"),
    ("no file format", hrsc_text(head="<Img_FileName>100000006</Img_FileName>"), "100000006"),
    ("no file name", hrsc_text(head="<Img_ID>7</Img_ID>"), None),
]


@pytest.mark.parametrize("name,text,filename", EMPTY_FILES, ids=[row[0] for row in EMPTY_FILES])
def test_files_without_objects(tmp_path, name, text, filename):
    path = tmp_path / "x.xml"
    path.write_text(text, encoding="utf-8")
    assert parse_hrsc_file(path) == (filename, ())


# ---------------------------------------------------------------------------------------------------------------
# Layouts and class tables


def hrsc(**options) -> rsdata.formats.hrsc2016.Hrsc2016Format:
    return get_format("hrsc2016").from_option_strings(options)


def test_layout_split_lists_and_image_names(tmp_path):
    root = tmp_path / "HRSC2016"
    write_source(root, 6)
    items = hrsc().list_items(root, None)
    assert [(i.split, i.source_id) for i in items] == [("test", "100000003"), ("test", "100000006")] + [
        ("trainval", f"10000000{n}") for n in (1, 2, 4, 5)]
    assert items[0].image_name == "FullDataSet/AllImages/100000003.bmp"
    record = hrsc().parse(items[0])
    assert record.image_path == root / "FullDataSet/AllImages/100000003.bmp"
    assert {o.category for o in record.objects} == {"ship"}
    assert {i.split for i in hrsc(image_sets="none").list_items(root, None)} == {"train"}
    with pytest.raises(OptionError, match=r"split\(s\) val not found .*found: test, trainval"):
        hrsc().list_items(root, ["val"])


def test_class_table_option(tmp_path):
    root = tmp_path / "HRSC2016"
    write_source(root, 6)
    named = hrsc(classes="FullDataSet/sysdata.xml")
    categories = Counter(o.category for item in named.list_items(root, None) for o in named.parse(item).objects)
    ids = Counter(o.category for item in hrsc(classes="id").list_items(root, None)
                  for o in hrsc(classes="id").parse(item).objects)
    assert categories == Counter({CLASS_TABLE[class_id]: n for class_id, n in ids.items()})
    assert set(ids) <= set(CLASS_TABLE)
    absolute = hrsc(classes=str(root / "FullDataSet/sysdata.xml"))
    assert absolute.list_items(root, None) == named.list_items(root, None)

    with pytest.raises(SourceLayoutError, match=r"class table .*nowhere.xml \(option classes\) does not exist"):
        hrsc(classes="nowhere.xml").list_items(root, None)
    (root / "empty.xml").write_text("<sysdata>\n</sysdata>\n", encoding="utf-8")
    with pytest.raises(SourceLayoutError, match="has no <HRSC_Classes>/<HRSC_Class> entries"):
        hrsc(classes="empty.xml").list_items(root, None)
    write_class_table(root / "blank.xml", {"100000001": ""})
    with pytest.raises(SourceLayoutError, match=r"blank.xml:3: <HRSC_Class> needs a Class_ID and a Class_EngName"):
        hrsc(classes="blank.xml").list_items(root, None)
    (root / "broken.xml").write_text("<sysdata>\n<HRSC_Classes>\n</sysdata>\n", encoding="utf-8")
    with pytest.raises(SourceLayoutError, match=r"class table .*broken.xml:3: not well-formed XML"):
        hrsc(classes="broken.xml").list_items(root, None)


def test_missing_folders_and_other_layouts(tmp_path):
    root = tmp_path / "HRSC2016"
    write_source(root, 3, images=False)
    (root / "FullDataSet/AllImages").rmdir()
    with pytest.raises(SourceLayoutError) as caught:
        hrsc().list_items(root, None)
    assert f"no folder {root / 'FullDataSet/AllImages'} (option images=FullDataSet/AllImages)" in str(caught.value)
    assert "expected <root>/FullDataSet/Annotations/*.xml and <root>/FullDataSet/AllImages/" in str(caught.value)
    with pytest.raises(SourceLayoutError, match="does not exist or is not a folder"):
        hrsc().list_items(tmp_path / "nowhere", None)

    (root / "FullDataSet").rename(root / "Train")
    train = hrsc(annotations="Train/Annotations", images="Train/Annotations", image_sets="none")
    items = train.list_items(root, None)
    assert [i.source_id for i in items] == ["100000001", "100000002", "100000003"]
    with pytest.raises(RecordError) as caught:
        train.parse(items[0])
    assert caught.value.reason == errors.MISSING_IMAGE and "'100000001.bmp' that its <filename> names" in str(
        caught.value)


def test_options_are_checked():
    assert hrsc(classes=" id ").options == Hrsc2016Options(classes="id")
    with pytest.raises(OptionError, match="option classes='' is not accepted; expected 'ship', 'id' or the path"):
        hrsc(classes="")
    with pytest.raises(OptionError, match="valid options: annotations, classes, image_sets, images"):
        hrsc(class_table="x")


# ---------------------------------------------------------------------------------------------------------------
# The real sample and conversions


def independent_hrsc_count(path: Path) -> tuple[int, Counter]:
    """Objects and Class_IDs counted with plain string handling, independently of the reader."""
    text = path.read_text(encoding="utf-8")
    objects = text.split("<HRSC_Object>")[1:]
    ids = Counter(chunk.split("<Class_ID>", 1)[1].split("</Class_ID>", 1)[0].strip() for chunk in objects)
    return len(objects), ids


def rows_of(out: Path) -> list[dict]:
    return [row for shard in sorted((out / "data").glob("*.parquet")) for row in pq.read_table(shard).to_pylist()]


def test_real_sample(tmp_path):
    root = realdata("hrsc2016_xml")
    (path,) = sorted((root / "FullDataSet/Annotations").glob("*.xml"))
    count, ids = independent_hrsc_count(path)
    filename, objects = parse_hrsc_file(path)
    assert filename == "100000006.bmp"
    assert Counter(o.category for o in objects) == Counter({"ship": count})
    assert Counter(o.category for o in parse_hrsc_file(path, classes="id")[1]) == ids
    text = path.read_text(encoding="utf-8")

    def value(tag: str) -> float:
        return float(text.split(f"<{tag}>", 1)[1].split(f"</{tag}>", 1)[0])

    (ship,) = objects
    x0, y0, x1, y1 = ship.bbox
    assert x0 <= value("box_xmin") and y0 <= value("box_ymin") and value("box_xmax") <= x1 and value("box_ymax") <= y1
    # The bow (header_x, header_y) lies inside the rotated box only with the angle's sense read correctly.
    cx, cy, w, h, angle = (value(t) for t in ("mbox_cx", "mbox_cy", "mbox_w", "mbox_h", "mbox_ang"))
    dx, dy = value("header_x") - cx, value("header_y") - cy
    along, across = dx * math.cos(angle) + dy * math.sin(angle), -dx * math.sin(angle) + dy * math.cos(angle)
    assert abs(along) <= w / 2 and abs(across) <= h / 2

    # The publisher's layout around the real file (linked, not copied); its image is not in the sample.
    source = tmp_path / "HRSC2016"
    (source / "FullDataSet/AllImages").mkdir(parents=True)
    (source / "FullDataSet/Annotations").symlink_to(root / "FullDataSet/Annotations")
    out = tmp_path / "out"
    assert main(["convert", "hrsc2016", str(source), str(out), "--no-progress", "--on-error", "skip"]) == 0
    report = json.loads((out / "build_report.json").read_text())
    assert report["skipped_per_reason"] == {"missing_image": 1} and rows_of(out) == []
    assert report["skipped"][0]["path"].endswith("FullDataSet/Annotations/100000006.xml")


def test_generated_source_round_trip(tmp_path):
    source = tmp_path / "src"
    expected = write_source(source, 14, seed=2)
    out = tmp_path / "out"
    assert main(["convert", "hrsc2016", str(source), str(out), "--no-progress"]) == 0
    rows = rows_of(out)
    report = json.loads((out / "build_report.json").read_text())
    assert len(rows) + report["skipped_per_reason"].get("no_objects", 0) == 14
    assert {r["source_split"] for r in rows} == {"trainval", "test"} and all(len(r["captions"]) == 5 for r in rows)
    assert Counter(o["category"] for r in rows for o in r["objects"]) == expected
    assert all(r["image_encoding"] == "png" for r in rows), "BMP images are re-encoded"
