"""The LEVIR label reader: table-driven good, empty and bad rows; the column-order and coordinate options; layouts;
a round trip through ``rsdata convert``. No real LEVIR sample is available (see the module's docstring)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import rsdata.formats.levir  # noqa: F401  (registers the format)
from rsdata import errors
from rsdata.cli import main
from rsdata.errors import OptionError, RecordError, SourceLayoutError
from rsdata.formats import get_format
from rsdata.formats.levir import LevirOptions, parse_columns, parse_label_file, parse_object_line
from tests.conftest import image_bytes
from tests.formats.generators.levir import write_source

CLASS_LAST = parse_columns("columns", "x1,y1,x2,y2,class", ("class", "x1", "y1", "x2", "y2"))

GOOD_LINES = [
    ("plane", "1 314 196 361 237", None, "plane", (314, 196, 361, 237)),
    ("ship", "2 10 20 30 40", None, "ship", (10, 20, 30, 40)),
    ("oil tank", "3 0 0 5 5", None, "oil tank", (0, 0, 5, 5)),
    ("tabs and padding", "  3\t10   20 30\t40  ", None, "oil tank", (10, 20, 30, 40)),
    ("floats", "1 1.5 2 3.5 4.25", None, "plane", (1.5, 2, 3.5, 4.25)),
    ("class last", "10 20 30 40 2", CLASS_LAST, "ship", (10, 20, 30, 40)),
]

BAD_LINES = [
    ("four fields", "1 314 196 361", None, errors.MALFORMED_LINE, "expected 5 fields (class x1 y1 x2 y2), got 4"),
    ("six fields", "1 314 196 361 237 0", None, errors.MALFORMED_LINE, "got 6"),
    ("class 0", "0 314 196 361 237", None, errors.UNKNOWN_CLASS, "class is '0' (column 1); expected 1 (plane)"),
    ("class 4", "4 314 196 361 237", None, errors.UNKNOWN_CLASS, "class is '4'"),
    ("class name", "plane 314 196 361 237", None, errors.BAD_NUMBER, "class is 'plane'"),
    ("class-last line read class first", "314 196 361 237 1", None, errors.UNKNOWN_CLASS, "class is '314'"),
    ("letter in coordinate", "1 31a 196 361 237", None, errors.BAD_NUMBER, "x1 is '31a', not a finite number"),
    ("infinite coordinate", "1 31 196 inf 237", None, errors.BAD_NUMBER, "x2 is 'inf'"),
    ("swapped corners", "1 361 196 314 237", None, errors.BAD_NUMBER, "bottom-right corner (314, 237) lies left"),
    ("class-last order error", "10 20 30 40 1 2", CLASS_LAST, errors.MALFORMED_LINE,
     "expected 5 fields (x1 y1 x2 y2 class)"),
]


@pytest.mark.parametrize("name,line,positions,category,bbox", GOOD_LINES, ids=[row[0] for row in GOOD_LINES])
def test_good_object_lines(name, line, positions, category, bbox):
    obj = parse_object_line(line, Path("00001.txt"), 4, *([positions] if positions else []))
    assert obj.category == category
    assert obj.bbox == tuple(float(v) for v in bbox)
    assert obj.source_line == 4


@pytest.mark.parametrize("name,line,positions,reason,fragment", BAD_LINES, ids=[row[0] for row in BAD_LINES])
def test_bad_object_lines_name_file_line_and_problem(tmp_path, name, line, positions, reason, fragment):
    label = tmp_path / "00042.txt"
    first = "10 20 30 40 1" if positions else "1 10 20 30 40"
    label.write_text(f"{first}\n{line}\n", encoding="utf-8")
    with pytest.raises(RecordError) as caught:
        parse_label_file(label, *([positions] if positions else []))
    error = caught.value
    assert error.reason == reason
    assert error.line == 2
    assert str(error).startswith(f"{label}:2: ")
    assert fragment in str(error)


EMPTY_FILES = [
    ("zero bytes", b"", 0),
    ("blank lines only", b"\n \r\n", 0),
    ("blank lines between objects", b"1 1 1 5 5\n\n\n2 1 1 5 5\r\n", 2),
    ("byte-order mark", "\ufeff3 1 1 5 5\n".encode("utf-8"), 1),
]


@pytest.mark.parametrize("name,data,count", EMPTY_FILES, ids=[row[0] for row in EMPTY_FILES])
def test_empty_files_and_lines_give_no_objects_not_errors(tmp_path, name, data, count):
    label = tmp_path / "00007.txt"
    label.write_bytes(data)
    assert len(parse_label_file(label)) == count


def test_not_utf8_names_the_line(tmp_path):
    label = tmp_path / "00008.txt"
    label.write_bytes(b"1 1 1 5 5\n\xff 1 1 5 5\n")
    with pytest.raises(RecordError) as caught:
        parse_label_file(label)
    assert caught.value.reason == errors.NOT_UTF8 and caught.value.line == 2


def test_column_and_coordinate_options(tmp_path):
    levir = get_format("levir").from_option_strings({"columns": "x1,y1,x2,y2,class", "coordinates": "pixels0"})
    assert levir.options == LevirOptions(columns="x1,y1,x2,y2,class", coordinates="pixels0")
    root = tmp_path / "levir"
    write_item(root, "00001", "10 20 30 40 3\n")
    (item,) = levir.list_items(root, None)
    (obj,) = levir.parse(item).objects
    assert obj.category == "oil tank" and obj.bbox == (10.0, 20.0, 31.0, 41.0)


@pytest.mark.parametrize("options,message", [
    ({"columns": "class,x1,y1,x2"}, "option columns='class,x1,y1,x2' must name each of the columns class, x1, y1, "
                                    "x2, y2 once"),
    ({"columns": "class,x1,x1,x2,y2"}, "must name each of the columns"),
    ({"coordinates": "voc"}, "option coordinates='voc' is not a box convention; accepted: corners"),
    ({"column": "x"}, "no option 'column'; valid options: columns, coordinates, images, labels"),
], ids=["column missing", "column twice", "bad convention", "unknown option"])
def test_bad_options_name_the_option_value_and_choices(options, message):
    with pytest.raises(OptionError) as caught:
        get_format("levir").from_option_strings(options)
    assert message in str(caught.value)


# ---------------------------------------------------------------------------------------------------------------
# Layout


def write_item(root: Path, stem: str, lines: str | None, image: bool = True, folder: str = "imageWithLabel") -> None:
    (root / folder).mkdir(parents=True, exist_ok=True)
    if image:
        (root / folder / f"{stem}.jpg").write_bytes(image_bytes())
    if lines is not None:
        (root / folder / f"{stem}.txt").write_text(lines, encoding="utf-8")


def test_layout_images_and_labels_side_by_side(tmp_path):
    root = tmp_path / "LEVIR"
    write_item(root, "00002", "1 1 1 5 5\n")
    write_item(root, "00001", "")
    levir = get_format("levir")()
    items = levir.list_items(root, None)
    assert [(i.split, i.source_id, i.image_name, i.annotation_path.name) for i in items] == [
        ("train", "00001", "imageWithLabel/00001.jpg", "00001.txt"),
        ("train", "00002", "imageWithLabel/00002.jpg", "00002.txt")]
    assert levir.parse(items[0]).objects == ()


def test_layout_options_for_other_folders(tmp_path):
    root = tmp_path / "flat"
    write_item(root, "a", None, folder=".")
    (root / "labels").mkdir()
    (root / "labels" / "a.txt").write_text("2 1 1 4 4\n")
    levir = get_format("levir").from_option_strings({"images": ".", "labels": "labels"})
    (item,) = levir.list_items(root, None)
    assert item.image_name == "a.jpg" and item.annotation_path == root / "labels" / "a.txt"
    assert [o.category for o in levir.parse(item).objects] == ["ship"]


def test_missing_folders_name_the_folder_and_what_was_expected(tmp_path):
    levir = get_format("levir")()
    with pytest.raises(SourceLayoutError, match="does not exist"):
        levir.list_items(tmp_path / "nowhere", None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceLayoutError, match="no 'imageWithLabel/' folder in .*empty"):
        levir.list_items(tmp_path / "empty", None)
    write_item(tmp_path / "src", "a", "1 1 1 5 5\n")
    with pytest.raises(SourceLayoutError) as caught:
        get_format("levir").from_option_strings({"labels": "labelTxt"}).list_items(tmp_path / "src", None)
    assert str(tmp_path / "src" / "labelTxt") in str(caught.value) and "label file per image" in str(caught.value)


def test_missing_image_and_missing_label_are_reported_not_guessed(tmp_path):
    root = tmp_path / "src"
    write_item(root, "only_label", "1 1 1 5 5\n", image=False)
    write_item(root, "only_image", None)
    levir = get_format("levir")()
    by_id = {i.source_id: i for i in levir.list_items(root, None)}
    with pytest.raises(RecordError) as caught:
        levir.parse(by_id["only_label"])
    assert caught.value.reason == errors.MISSING_IMAGE and "only_label.txt" in str(caught.value)
    with pytest.raises(RecordError) as caught:
        levir.parse(by_id["only_image"])
    assert caught.value.reason == errors.MISSING_ANNOTATION and "only_image.jpg" in str(caught.value)


# ---------------------------------------------------------------------------------------------------------------
# Round trip


def convert_rows(source: Path, out: Path, *options: str) -> list[dict]:
    assert main(["convert", "levir", str(source), str(out), "--no-progress", *options]) == 0
    return [row for p in sorted((out / "data").glob("*.parquet")) for row in pq.read_table(p).to_pylist()]


def test_generated_source_round_trip_through_convert(tmp_path):
    source = tmp_path / "LEVIR"
    expected = write_source(source, 15, seed=5)
    rows = convert_rows(source, tmp_path / "out")
    assert len(rows) == 12  # every fifth image has an empty label file: nothing to describe
    assert all(len(row["captions"]) == 5 for row in rows)
    assert Counter(o["category"] for row in rows for o in row["objects"]) == expected


def test_class_last_release_round_trip(tmp_path):
    source = tmp_path / "LEVIR"
    expected = write_source(source, 5, seed=1, class_last=True)
    rows = convert_rows(source, tmp_path / "out", "-o", "columns=x1,y1,x2,y2,class")
    assert Counter(o["category"] for row in rows for o in row["objects"]) == expected
