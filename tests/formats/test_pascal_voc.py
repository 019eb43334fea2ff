"""The Pascal VOC XML reader: table-driven good, empty and bad files; layouts (DIOR, HRRSD, RSOD); real samples."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import rsdata.formats.pascal_voc  # registers the format
from rsdata import errors
from rsdata.cli import main
from rsdata.errors import OptionError, RecordError, SourceLayoutError
from rsdata.formats import get_format
from rsdata.formats.pascal_voc import PascalVocOptions, parse_voc_file
from tests.conftest import image_bytes, realdata
from tests.formats.generators.pascal_voc import write_source

BOX = "<bndbox><xmin>11</xmin><ymin>21</ymin><xmax>30</xmax><ymax>40</ymax></bndbox>"
GOOD_OBJECT = f"<object><name>ship</name><difficult>0</difficult>{BOX}</object>"
CORNERS = ("<robndbox><x_left_top>10</x_left_top><y_left_top>20</y_left_top><x_right_top>30</x_right_top>"
           "<y_right_top>10</y_right_top><x_right_bottom>40</x_right_bottom><y_right_bottom>30</y_right_bottom>"
           "<x_left_bottom>20</x_left_bottom><y_left_bottom>40</y_left_bottom></robndbox>")


def voc_text(*objects: str, head: str = "<folder>OPTIMAL_Z</folder><filename>00001.jpg</filename>") -> str:
    """A VOC file whose objects start on lines 3, 4, ..."""
    return "<annotation>\n" + head + "\n" + "".join(obj + "\n" for obj in objects) + "</annotation>\n"


GOOD_OBJECTS = [
    # id, object XML, base, category, box, difficult, polygon points
    ("voc 1-based", ("<object><name>airplane</name><bndbox><xmin>453</xmin><ymin>556</ymin><xmax>552</xmax>"
     "<ymax>692</ymax></bndbox></object>"), 1, "airplane", (452, 555, 552, 692), False, 0),
    ("0-based option", ("<object><name>airplane</name><bndbox><xmin>453</xmin><ymin>556</ymin><xmax>552</xmax>"
     "<ymax>692</ymax></bndbox></object>"), 0, "airplane", (453, 556, 553, 693), False, 0),
    ("single pixel", ("<object><name>vehicle</name><bndbox><xmin>5</xmin><ymin>5</ymin><xmax>5</xmax>"
     "<ymax>5</ymax></bndbox></object>"), 1, "vehicle", (4, 4, 5, 5), False, 0),
    ("decimals and padding", ("<object><name>ship</name><bndbox><xmin> 10.5 </xmin><ymin>\n2</ymin>"
     "<xmax>30.25</xmax><ymax>4.0</ymax></bndbox></object>"), 1, "ship", (9.5, 1, 30.25, 4), False, 0),
    ("name with spaces", "<object><name>\n  T junction  </name>" + BOX + "</object>", 1, "T junction",
     (10, 20, 30, 40), False, 0),
    ("DIOR capitals", "<object><name>Expressway-Service-area</name>" + BOX + "</object>", 1,
     "Expressway-Service-area", (10, 20, 30, 40), False, 0),
    ("difficult", "<object><name>ship</name><difficult>1</difficult>" + BOX + "</object>", 1, "ship",
     (10, 20, 30, 40), True, 0),
    ("empty difficult", "<object><name>ship</name><difficult></difficult>" + BOX + "</object>", 1, "ship",
     (10, 20, 30, 40), False, 0),
    ("DIOR-R robndbox", "<object><type>robndbox</type><name>golffield</name><pose>Unspecified</pose>"
     "<truncated>0</truncated><difficult>0</difficult>" + CORNERS + "<angle>0</angle></object>", 1, "golffield",
     (9, 9, 40, 40), False, 8),
    ("robndbox wins over bndbox", "<object><name>bridge</name>" + BOX + CORNERS + "</object>", 1, "bridge",
     (9, 9, 40, 40), False, 8),
    ("extra fields and parts", "<object><name>person</name><description>the man on the left</description>"
     "<part><name>head</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>2</xmax><ymax>2</ymax></bndbox></part>"
     + BOX + "</object>", 1, "person", (10, 20, 30, 40), False, 0),
]


@pytest.mark.parametrize("name,obj,base,category,bbox,difficult,points", GOOD_OBJECTS,
                         ids=[row[0] for row in GOOD_OBJECTS])
def test_good_objects(tmp_path, name, obj, base, category, bbox, difficult, points):
    path = tmp_path / "00001.xml"
    path.write_text(voc_text(GOOD_OBJECT, obj), encoding="utf-8")
    filename, (first, parsed) = parse_voc_file(path, base=base)
    assert filename == "00001.jpg" and first.category == "ship"
    assert parsed.category == category
    assert parsed.bbox == tuple(float(v) for v in bbox)
    assert parsed.difficult is difficult
    assert len(parsed.polygon) == points and parsed.source_line == 4


BAD_OBJECTS = [
    # id, object XML, reason, message fragment
    ("no name", f"<object>{BOX}</object>", errors.MALFORMED_LINE, "object has no <name>"),
    ("blank name", f"<object><name>  </name>{BOX}</object>", errors.MALFORMED_LINE, "object has no <name>"),
    ("no box", "<object><name>ship</name></object>", errors.MALFORMED_LINE, "neither <bndbox> nor <robndbox>"),
    ("missing xmax", ("<object><name>ship</name><bndbox><xmin>1</xmin><ymin>1</ymin><ymax>3</ymax></bndbox>"
     "</object>"), errors.MALFORMED_LINE, "<bndbox> of ship has no <xmax>"),
    ("text coordinate", ("<object><name>ship</name><bndbox><xmin>a12</xmin><ymin>1</ymin><xmax>3</xmax>"
     "<ymax>3</ymax></bndbox></object>"), errors.BAD_NUMBER, "<xmin> is 'a12', not a finite number"),
    ("empty coordinate", ("<object><name>ship</name><bndbox><xmin>1</xmin><ymin></ymin><xmax>3</xmax>"
     "<ymax>3</ymax></bndbox></object>"), errors.BAD_NUMBER, "<ymin> is '', not a finite number"),
    ("nan coordinate", ("<object><name>ship</name><bndbox><xmin>1</xmin><ymin>1</ymin><xmax>nan</xmax>"
     "<ymax>3</ymax></bndbox></object>"), errors.BAD_NUMBER, "<xmax> is 'nan'"),
    ("inverted box", ("<object><name>ship</name><bndbox><xmin>10</xmin><ymin>1</ymin><xmax>3</xmax>"
     "<ymax>3</ymax></bndbox></object>"), errors.BAD_NUMBER, "<xmax> 3 is less than <xmin> 10"),
    ("bad difficult", f"<object><name>ship</name><difficult>2</difficult>{BOX}</object>", errors.BAD_NUMBER,
     "<difficult> is '2'; expected 0 or 1"),
    ("robndbox missing a corner", "<object><name>ship</name>" + CORNERS.replace(
        "<y_left_bottom>40</y_left_bottom>", "") + "</object>", errors.MALFORMED_LINE,
     "<robndbox> of ship has no <y_left_bottom>"),
]


@pytest.mark.parametrize("name,obj,reason,fragment", BAD_OBJECTS, ids=[row[0] for row in BAD_OBJECTS])
def test_bad_objects_name_file_line_and_problem(tmp_path, name, obj, reason, fragment):
    path = tmp_path / "00009.xml"
    path.write_text(voc_text(GOOD_OBJECT, obj, GOOD_OBJECT), encoding="utf-8")
    with pytest.raises(RecordError) as caught:
        parse_voc_file(path)
    error = caught.value
    assert error.reason == reason and error.line == 4
    assert str(error).startswith(f"{path}:4: ") and fragment in str(error)


BAD_FILES = [
    # id, file content, reason, line, message fragment
    ("not XML", b"xmin 1 ymin 2\n", errors.MALFORMED_LINE, 1, "not well-formed XML (syntax error"),
    ("mismatched tag", b"<annotation>\n<object><name>ship</name>\n</annotation>\n", errors.MALFORMED_LINE, 3,
     "mismatched tag"),
    ("truncated", b"<annotation>\n<object><name>ship</name>\n", errors.MALFORMED_LINE, 3, "no element found"),
    ("entity expansion", (b'<?xml version="1.0"?>\n<!DOCTYPE lolz [\n<!ENTITY lol "lol">\n'
     b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;">\n]>\n<annotation><object><name>&lol2;</name></object></annotation>\n'),
     errors.MALFORMED_LINE, 2, "document type declaration (<!DOCTYPE lolz ...>)"),
    ("external entity", b'<!DOCTYPE annotation SYSTEM "file:///etc/passwd">\n<annotation/>\n',
     errors.MALFORMED_LINE, 1, "DTDs and entities are refused"),
    ("undefined entity", b"<annotation>\n<object><name>&ship;</name></object>\n</annotation>\n",
     errors.MALFORMED_LINE, 2, "undefined entity"),
    ("wrong root", b"<HRSC_Image>\n</HRSC_Image>\n", errors.MALFORMED_LINE, 1, "root element is <HRSC_Image>"),
    ("latin-1 bytes", b"<annotation>\n<object><name>v\xe9hicule</name></object>\n</annotation>\n",
     errors.NOT_UTF8, 2, "not UTF-8 text (byte 0xe9"),
    ("wrong declared encoding", b'<?xml version="1.0" encoding="GBK"?>\n<annotation>\n' + b"\xff\xff\n",
     errors.NOT_UTF8, 3, "not GBK text as declared"),
    ("zero bytes", b"", errors.EMPTY_LABEL_FILE, None, "annotation file is empty (0 bytes)"),
    ("whitespace only", b"\n  \n", errors.EMPTY_LABEL_FILE, None, "annotation file is empty (4 bytes)"),
]


@pytest.mark.parametrize("name,data,reason,line,fragment", BAD_FILES, ids=[row[0] for row in BAD_FILES])
def test_bad_files_name_file_line_and_problem(tmp_path, name, data, reason, line, fragment):
    path = tmp_path / "bad.xml"
    path.write_bytes(data)
    with pytest.raises(RecordError) as caught:
        parse_voc_file(path)
    error = caught.value
    assert (error.reason, error.line) == (reason, line)
    assert str(error).startswith(f"{path}:{line}: " if line else f"{path}: ") and fragment in str(error)


EMPTY_AND_ODD_FILES = [
    # id, file content, filename, categories
    ("no objects", voc_text().encode(), "00001.jpg", []),
    ("bare annotation", b"<annotation/>", None, []),
    ("no folder, size or filename", b"<annotation><object><name>ship</name>" + BOX.encode() + b"</object>"
     b"</annotation>", None, ["ship"]),
    ("byte-order mark", "\ufeff".encode() + voc_text(GOOD_OBJECT).encode(), "00001.jpg", ["ship"]),
    ("GBK declared", '<?xml version="1.0" encoding="GBK"?>\n<annotation><filename>a.jpg</filename><object><name>'
     '\u8239</name>'.encode("gbk") + BOX.encode() + b"</object></annotation>", "a.jpg", ["\u8239"]),
    ("UTF-16", '<?xml version="1.0" encoding="UTF-16"?><annotation><object><name>ship</name>'.encode("utf-16")
     + (BOX + "</object></annotation>").encode("utf-16-le"), None, ["ship"]),
]


@pytest.mark.parametrize("name,data,filename,categories", EMPTY_AND_ODD_FILES,
                         ids=[row[0] for row in EMPTY_AND_ODD_FILES])
def test_empty_and_unusual_files(tmp_path, name, data, filename, categories):
    path = tmp_path / "x.xml"
    path.write_bytes(data)
    found_filename, objects = parse_voc_file(path)
    assert found_filename == filename and [o.category for o in objects] == categories


def test_line_of_a_bad_value_in_a_multi_line_file(tmp_path):
    path = tmp_path / "multi.xml"
    path.write_text("<annotation>\n\t<object>\n\t\t<name>ship</name>\n\t\t<bndbox>\n\t\t\t<xmin>1</xmin>\n"
                    "\t\t\t<ymin>x</ymin>\n\t\t</bndbox>\n\t</object>\n</annotation>\n", encoding="utf-8")
    with pytest.raises(RecordError, match=r"multi.xml:6: <ymin> is 'x'") as caught:
        parse_voc_file(path)
    assert caught.value.reason == errors.BAD_NUMBER


# ---------------------------------------------------------------------------------------------------------------
# Layouts


def write_item(root: Path, stem: str, objects: tuple[str, ...] = (GOOD_OBJECT,), *, annotations: str = "Annotations",
               images: str | None = "JPEGImages", filename: str | None = "", suffix: str = ".jpg") -> None:
    """One annotation file (``filename=""``: <filename> names the image; None: no <filename>) and its image
    (``images=None``: no image)."""
    (root / annotations).mkdir(parents=True, exist_ok=True)
    name = f"{stem}{suffix}" if filename == "" else filename
    head = "" if name is None else f"<filename>{name}</filename>"
    (root / annotations / f"{stem}.xml").write_text(voc_text(*objects, head=head), encoding="utf-8")
    if images is not None:
        (root / images).mkdir(parents=True, exist_ok=True)
        (root / images / f"{stem}{suffix}").write_bytes(image_bytes())


def voc(**options) -> rsdata.formats.pascal_voc.PascalVocFormat:
    return get_format("pascal_voc").from_option_strings(options)


def test_split_lists_give_the_splits(tmp_path):
    root = tmp_path / "voc"
    write_source(root, 8)
    items = voc().list_items(root, None)
    assert [(i.split, i.source_id) for i in items] == [("train", f"{n:05d}") for n in (1, 2, 3, 5, 6, 7)] + [
        ("val", "00004"), ("val", "00008")], "trainval (the union) and the per-class list are not splits"
    assert {i.split for i in voc().list_items(root, ["trainval"])} == {"trainval"}
    with pytest.raises(OptionError, match=r"split\(s\) test not found in .*Main; found: train, trainval, val"):
        voc().list_items(root, ["test"])

    single = voc(image_sets="none").list_items(root, None)
    assert {i.split for i in single} == {"train"} and len(single) == 8
    assert {i.split for i in voc(image_sets="none").list_items(root, ["all"])} == {"all"}
    with pytest.raises(OptionError, match="give at most one --split"):
        voc(image_sets="none").list_items(root, ["a", "b"])


def test_listed_id_without_annotation_and_annotation_without_image(tmp_path):
    root = tmp_path / "voc"
    write_item(root, "A")
    write_item(root, "B", images=None)
    (root / "ImageSets" / "Main").mkdir(parents=True)
    (root / "ImageSets" / "Main" / "test.txt").write_text("A\n\nB\nC 1\n", encoding="utf-8")
    fmt = voc()
    by_id = {i.source_id: i for i in fmt.list_items(root, None)}
    assert sorted(by_id) == ["A", "B", "C"] and {i.split for i in by_id.values()} == {"test"}
    assert fmt.parse(by_id["A"]).image_path == root / "JPEGImages" / "A.jpg"
    with pytest.raises(RecordError) as caught:
        fmt.parse(by_id["B"])
    assert caught.value.reason == errors.MISSING_IMAGE and str(caught.value).startswith(str(root / "Annotations/B.xml"))
    assert "the image 'B.jpg' that its <filename> names is not in the images folder(s)" in str(caught.value)
    with pytest.raises(RecordError) as caught:
        fmt.parse(by_id["C"])
    assert caught.value.reason == errors.MISSING_ANNOTATION and "expected C.xml" in str(caught.value)


def test_image_is_found_through_filename(tmp_path):
    root = tmp_path / "voc"
    write_item(root, "named", filename="other.png", images=None)
    write_item(root, "windows", filename="C:\\data\\VOC\\other.png", images=None)
    write_item(root, "bare", filename="other", images=None)
    write_item(root, "stem", filename=None, suffix=".png")
    write_item(root, "ending", filename="ending.jpg", suffix=".png")
    (root / "JPEGImages" / "ending.jpg").write_bytes(image_bytes())
    (root / "JPEGImages" / "other.png").write_bytes(image_bytes(fmt="PNG"))
    fmt = voc()
    by_id = {i.source_id: i for i in fmt.list_items(root, None)}
    for stem in ("named", "windows", "bare"):
        record = fmt.parse(by_id[stem])
        assert (record.image_path, record.image_name) == (root / "JPEGImages/other.png", "JPEGImages/other.png")
    assert fmt.parse(by_id["stem"]).image_path == root / "JPEGImages/stem.png"
    assert fmt.parse(by_id["ending"]).image_path == root / "JPEGImages/ending.jpg", "the named ending wins"


def test_missing_folders_name_what_was_searched(tmp_path):
    with pytest.raises(SourceLayoutError, match="does not exist"):
        voc().list_items(tmp_path / "nowhere", None)
    root = tmp_path / "voc"
    (root / "JPEGImages").mkdir(parents=True)
    with pytest.raises(SourceLayoutError) as caught:
        voc().list_items(root, None)
    assert f"no folder {root / 'Annotations'} (option annotations=Annotations)" in str(caught.value)
    assert "expected <root>/Annotations/*.xml and <root>/JPEGImages/" in str(caught.value)
    (root / "JPEGImages").rmdir()
    (root / "Annotations").mkdir()
    with pytest.raises(SourceLayoutError, match=re.escape(f"no folder {root / 'JPEGImages*'} (option images=")):
        voc().list_items(root, None)
    (root / "JPEGImages").mkdir()
    missing_lists = r"split lists folder .*Sets \(option image_sets=Sets\) does not exist; use -o image_sets=none"
    with pytest.raises(SourceLayoutError, match=missing_lists):
        voc(image_sets="Sets").list_items(root, None)
    assert voc().list_items(root, None) == []


def test_dior_layout(tmp_path):
    """DIOR: both box folders (one must be chosen), JPEGImages-trainval + JPEGImages-test, three split lists."""
    root = tmp_path / "DIOR"
    for stem, images in (("00001", "JPEGImages-trainval"), ("11726", "JPEGImages-test")):
        write_item(root, stem, annotations="Annotations/Horizontal Bounding Boxes", images=images)
        write_item(root, stem, (f"<object><name>golffield</name>{CORNERS}</object>",),
                   annotations="Annotations/Oriented Bounding Boxes", images=None)
    lists = root / "ImageSets" / "Main"
    lists.mkdir(parents=True)
    for split, ids in (("train", "00001"), ("val", ""), ("test", "11726")):
        (lists / f"{split}.txt").write_text(ids + "\n", encoding="utf-8")
    with pytest.raises(SourceLayoutError) as caught:
        voc().list_items(root, None)
    assert "two annotation files for image 00001" in str(caught.value)
    assert "-o annotations=FOLDER" in str(caught.value) and "'Annotations/Horizontal Bounding Boxes'" in str(
        caught.value)
    for folder, category in (("Horizontal", "ship"), ("Oriented", "golffield")):
        fmt = voc(annotations=f"Annotations/{folder} Bounding Boxes")
        items = fmt.list_items(root, None)
        assert [(i.split, i.image_name) for i in items] == [("test", "JPEGImages-test/11726.jpg"),
                                                             ("train", "JPEGImages-trainval/00001.jpg")]
        assert [o.category for o in fmt.parse(items[0]).objects] == [category]


def test_rsod_layout_with_glob_patterns(tmp_path):
    root = tmp_path / "RSOD"
    write_item(root, "aircraft_1", annotations="aircraft/Annotation/xml", images="aircraft/JPEGImages")
    write_item(root, "oiltank_1", annotations="oiltank/Annotation/xml", images="oiltank/JPEGImages")
    fmt = voc(annotations="*/Annotation/xml", images="*/JPEGImages")
    items = fmt.list_items(root, None)
    assert [(i.split, i.image_name) for i in items] == [("train", "aircraft/JPEGImages/aircraft_1.jpg"),
                                                         ("train", "oiltank/JPEGImages/oiltank_1.jpg")]
    assert all(fmt.parse(item).objects for item in items)
    comma = voc(annotations="aircraft/Annotation/xml, oiltank/Annotation/xml", images="*/JPEGImages")
    assert comma.list_items(root, None) == items


def test_options_are_checked():
    assert voc(base="0").options == PascalVocOptions(base=0)
    for bad in ("2", "one", ""):
        with pytest.raises(OptionError, match=f"option base={bad!r} is not accepted; expected 1"):
            voc(base=bad)
    with pytest.raises(OptionError, match="option images='' is not accepted"):
        voc(images="")
    with pytest.raises(OptionError, match="no option 'labels'; valid options: annotations, base, image_sets, images"):
        voc(labels="x")


# ---------------------------------------------------------------------------------------------------------------
# Real samples and conversions


def independent_voc_count(path: Path) -> Counter:
    """Count <object> entries per <name> with plain string handling, independently of the reader."""
    counts: Counter = Counter()
    for chunk in path.read_text(encoding="utf-8").split("<object>")[1:]:
        counts[chunk.split("<name>", 1)[1].split("</name>", 1)[0].strip()] += 1
    return counts


def rows_of(out: Path) -> list[dict]:
    return [row for shard in sorted((out / "data").glob("*.parquet")) for row in pq.read_table(shard).to_pylist()]


def test_real_dior_r_sample_converts(tmp_path):
    root = realdata("dior_voc_xml")
    items = voc().list_items(root, None)
    assert [(i.split, i.source_id, i.image_name) for i in items] == [("train", "00001", "JPEGImages/00001.jpg")]
    (xml,) = (root / "Annotations").rglob("*.xml")
    filename, objects = parse_voc_file(xml)
    assert filename == "00001.jpg" and Counter(o.category for o in objects) == independent_voc_count(xml)
    assert objects[0].bbox == (132.0, 236.0, 684.0, 672.0) and len(objects[0].polygon) == 8

    out = tmp_path / "out"
    assert main(["convert", "pascal_voc", str(root), str(out), "--no-progress", "--on-error", "skip"]) == 0
    (row,) = rows_of(out)
    assert len(row["captions"]) == 5 and (row["width"], row["height"]) == (800, 800)
    assert Counter(o["category"] for o in row["objects"]) == independent_voc_count(xml)
    assert row["image"]["bytes"] == (root / "JPEGImages/00001.jpg").read_bytes()


def test_real_hrrsd_samples(tmp_path):
    root = realdata("hrrsd_voc_xml")
    files = sorted((root / "Annotations").glob("*.xml"))
    assert len(files) == 10
    total = Counter()
    for path in files:
        filename, objects = parse_voc_file(path)
        assert filename == f"{path.stem}.jpg"
        assert Counter(o.category for o in objects) == independent_voc_count(path), path.name
        assert all(0 <= o.bbox[0] < o.bbox[2] and 0 <= o.bbox[1] < o.bbox[3] for o in objects)
        total.update(o.category for o in objects)
    assert {"T junction", "ground track field", "storage tank"} <= set(total)

    # The publisher's layout around the real files (linked, not copied), without the images.
    source = tmp_path / "OPT2017"
    source.mkdir()
    for name in ("Annotations", "ImageSets"):
        (source / name).symlink_to(root / name)
    (source / "JPEGImages").mkdir()
    listed = [line.strip() for line in (root / "ImageSets/Main/val.txt").read_text().splitlines() if line.strip()]
    items = voc().list_items(source, None)
    assert {i.split for i in items} == {"val"} and [i.source_id for i in items] == sorted(set(listed))
    assert sum(i.annotation_path is not None for i in items) == len({p.stem for p in files} & set(listed))

    items = voc(image_sets="none").list_items(source, None)
    assert [i.source_id for i in items] == [p.stem for p in files]
    out = tmp_path / "out"
    assert main(["convert", "pascal_voc", str(source), str(out), "-o", "image_sets=none", "--no-progress",
                 "--on-error", "skip", "--allow-outside-links"]) == 1  # every record left out: no dataset
    import json

    report = json.loads((out / "build_report.json").read_text())
    assert report["skipped_per_reason"] == {"missing_image": 10} and rows_of(out) == []


def test_generated_source_round_trip(tmp_path):
    source = tmp_path / "src"
    expected = write_source(source, 24, seed=3)
    out = tmp_path / "out"
    assert main(["convert", "pascal_voc", str(source), str(out), "--no-progress"]) == 0
    rows = rows_of(out)
    assert len(rows) == 24 and {r["source_split"] for r in rows} == {"train", "val"}
    assert all(len(r["captions"]) == 5 for r in rows)
    assert Counter(o["category"] for r in rows for o in r["objects"]) == expected
