"""The CARPK / PUCPR+ reader: table-driven good and bad rows; the devkit layout and its split lists; real samples."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

import rsdata.formats.carpk  # noqa: F401  (registers the format)
from rsdata import errors
from rsdata.errors import OptionError, RecordError, SourceLayoutError
from rsdata.formats import get_format
from rsdata.formats.carpk import parse_annotation_file, parse_annotation_line
from tests.conftest import image_bytes, realdata

GOOD_LINES = [
    ("integers", "1019 521 1129 571 1", (1019, 521, 1130, 572)),
    ("bottom edge", "1006 694 1119 719 1", (1006, 694, 1120, 720)),
    ("one pixel", "3 4 3 4 1", (3, 4, 4, 5)),
    ("decimals", "10.5 20 30.25 40 1", (10.5, 20, 31.25, 41)),
    ("tabs and padding", "  1\t2  11 12   1 ", (1, 2, 12, 13)),
]

BAD_LINES = [
    ("class missing", "1 2 3 4", errors.MALFORMED_LINE, "expected 5 space-separated fields"),
    ("too many fields", "1 2 3 4 1 0", errors.MALFORMED_LINE, "got 6"),
    ("comma separated", "1,2,3,4,1", errors.MALFORMED_LINE, "got 1"),
    ("non-numeric", "1 2 x3 4 1", errors.BAD_NUMBER, "x2 is 'x3'"),
    ("infinite", "1 2 3 inf 1", errors.BAD_NUMBER, "y2 is 'inf'"),
    ("inverted", "10 2 3 4 1", errors.BAD_NUMBER, "are inverted"),
    ("other class", "1 2 3 4 2", errors.UNKNOWN_CLASS, "class is '2'"),
    ("class as a word", "1 2 3 4 car", errors.BAD_NUMBER, "class is 'car'"),
]


@pytest.mark.parametrize("name,line,bbox", GOOD_LINES, ids=[row[0] for row in GOOD_LINES])
def test_good_lines(name, line, bbox):
    obj = parse_annotation_line(line.strip(), Path("a.txt"), 5)
    assert obj.category == "car" and obj.source_line == 5
    assert obj.bbox == tuple(float(v) for v in bbox)


@pytest.mark.parametrize("name,line,reason,fragment", BAD_LINES, ids=[row[0] for row in BAD_LINES])
def test_bad_lines_name_file_line_and_problem(tmp_path, name, line, reason, fragment):
    path = tmp_path / "20160331_NTU_00001.txt"
    path.write_text(f"1 1 4 4 1\n\n{line}\n", encoding="utf-8")
    with pytest.raises(RecordError) as caught:
        parse_annotation_file(path)
    error = caught.value
    assert error.reason == reason and error.line == 3
    assert str(error).startswith(f"{path}:3: ")
    assert fragment in str(error)


def test_empty_file_bom_crlf_and_not_utf8(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert parse_annotation_file(empty) == ()
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes("\ufeff1 2 3 4 1\r\n5 6 7 8 1".encode("utf-8"))
    assert [o.bbox for o in parse_annotation_file(crlf)] == [(1, 2, 4, 5), (5, 6, 8, 9)]
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes(b"1 2 3 4 1\n\xff\n")
    with pytest.raises(RecordError) as caught:
        parse_annotation_file(latin1)
    assert caught.value.reason == errors.NOT_UTF8 and caught.value.line == 2


def write_devkit(root: Path, stems: dict[str, list[str] | None], sets: dict[str, str] | None,
                 *, images: tuple[str, ...] | None = None, suffix: str = ".png") -> None:
    """``root/data/...``: annotation lines per stem (None: no file), ImageSets texts, images (default: all)."""
    data = root / "data"
    for folder in ("Images", "Annotations"):
        (data / folder).mkdir(parents=True, exist_ok=True)
    for stem, lines in stems.items():
        if lines is not None:
            (data / "Annotations" / f"{stem}.txt").write_text("".join(line + "\n" for line in lines))
        if images is None or stem in images:
            (data / "Images" / f"{stem}{suffix}").write_bytes(image_bytes(fmt="PNG" if suffix == ".png" else "JPEG"))
    if sets is not None:
        (data / "ImageSets").mkdir(exist_ok=True)
        for name, text in sets.items():
            (data / "ImageSets" / f"{name}.txt").write_text(text)


def test_layout_devkit_data_folder_and_split_lists(tmp_path):
    root = tmp_path / "PUCPR+_devkit"
    write_devkit(root, {"665_Rainy": ["1 1 9 9 1"], "001_Sunny": ["2 2 8 8 1"], "100_Cloudy": ["1 1 5 5 1"],
                        "unlisted": ["1 1 5 5 1"]},
                 {"train": "665_Rainy\n001_Sunny\n\n665_Rainy\n", "test": "100_Cloudy.jpg"}, suffix=".jpg")
    fmt = get_format("carpk")()
    items = fmt.list_items(root, None)
    assert [(i.split, i.source_id, i.image_name) for i in items] == [
        ("test", "100_Cloudy", "data/Images/100_Cloudy.jpg"),
        ("train", "001_Sunny", "data/Images/001_Sunny.jpg"),
        ("train", "665_Rainy", "data/Images/665_Rainy.jpg"),
    ]
    # The data folder itself works as the root too; --split picks lists.
    assert [i.source_id for i in fmt.list_items(root / "data", ["test"])] == ["100_Cloudy"]
    with pytest.raises(OptionError, match="split\\(s\\) val not found in .*ImageSets; found: test, train"):
        fmt.list_items(root, ["val"])


def test_layout_without_image_sets_is_one_split(tmp_path):
    root = tmp_path / "CARPK_devkit"
    write_devkit(root, {"b": ["1 1 5 5 1"], "a": ["2 2 4 4 1"]}, None)
    fmt = get_format("carpk")()
    assert [(i.split, i.source_id) for i in fmt.list_items(root, None)] == [("train", "a"), ("train", "b")]
    assert {i.split for i in fmt.list_items(root, ["test"])} == {"test"}
    with pytest.raises(OptionError, match="give at most one --split"):
        fmt.list_items(root, ["train", "test"])


def test_layout_errors_name_the_folder(tmp_path):
    fmt = get_format("carpk")()
    with pytest.raises(SourceLayoutError, match="does not exist"):
        fmt.list_items(tmp_path / "nowhere", None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceLayoutError, match="no 'Annotations/' or 'Images/' folder in .*empty nor in .*data"):
        fmt.list_items(tmp_path / "empty", None)
    (tmp_path / "half" / "data" / "Annotations").mkdir(parents=True)
    with pytest.raises(SourceLayoutError, match="no 'Images/' folder in .*half/data"):
        fmt.list_items(tmp_path / "half", None)
    (tmp_path / "half" / "data" / "Images").mkdir()
    (tmp_path / "half" / "data" / "ImageSets").mkdir()
    with pytest.raises(SourceLayoutError, match="no split list \\(\\*.txt\\) in .*ImageSets"):
        fmt.list_items(tmp_path / "half", None)


def test_options_are_checked(tmp_path):
    root = tmp_path / "renamed"
    (root / "imgs").mkdir(parents=True)
    (root / "labels").mkdir()
    (root / "labels" / "a.txt").write_text("1 1 5 5 1\n")
    fmt = get_format("carpk").from_option_strings({"images": "imgs", "annotations": "labels"})
    assert [i.source_id for i in fmt.list_items(root, None)] == ["a"]
    with pytest.raises(OptionError, match="no option 'image_set'; valid options: annotations, image_sets, images"):
        get_format("carpk").from_option_strings({"image_set": "x"})
    with pytest.raises(OptionError, match="option image_sets='/abs': expected a folder name"):
        get_format("carpk").from_option_strings({"image_sets": "/abs"})


def test_missing_image_and_missing_annotation_are_reported(tmp_path):
    root = tmp_path / "CARPK_devkit"
    write_devkit(root, {"only_label": ["1 1 5 5 1"], "only_image": None, "nothing": None},
                 {"train": "only_label\nonly_image\nnothing\n"}, images=("only_image",))
    fmt = get_format("carpk")()
    by_id = {i.source_id: i for i in fmt.list_items(root, None)}
    with pytest.raises(RecordError) as caught:
        fmt.parse(by_id["only_label"])
    assert caught.value.reason == errors.MISSING_IMAGE and "only_label.txt" in str(caught.value)
    with pytest.raises(RecordError) as caught:
        fmt.parse(by_id["only_image"])
    assert caught.value.reason == errors.MISSING_ANNOTATION and "only_image.png" in str(caught.value)
    with pytest.raises(RecordError) as caught:
        fmt.parse(by_id["nothing"])
    assert caught.value.reason == errors.MISSING_IMAGE and "data/Images/nothing" in str(caught.value)


def test_real_sample_parses_to_the_files_count():
    (path,) = sorted((realdata("carpk_pucpr") / "Annotations").glob("*.txt"))
    objects = parse_annotation_file(path)
    lines = [line for line in path.read_text().split("\n") if line.strip()]
    assert Counter(o.category for o in objects) == Counter({"car": len(lines)}) == Counter({"car": 4})
    # Inclusive corners: the lowest car ends on the last row (719) of the 720-pixel frame.
    assert max(o.bbox[3] for o in objects) == 720.0
    assert objects[0].bbox == (1019.0, 521.0, 1130.0, 572.0)


def test_generated_source_round_trip(tmp_path):
    import pyarrow.parquet as pq

    from rsdata.cli import main
    from tests.formats.generators.carpk import write_source

    expected = write_source(tmp_path / "src", 12, seed=2)
    # A listed image whose files are gone is a missing_image skip, not a guess.
    with (tmp_path / "src" / "data" / "ImageSets" / "test.txt").open("a") as handle:
        handle.write("\nmissing_frame\n")
    out = tmp_path / "out"
    assert main(["convert", "carpk", str(tmp_path / "src"), str(out), "--no-progress", "--on-error", "skip"]) == 0
    rows = pq.read_table(out / "data").to_pylist()
    assert Counter(o["category"] for r in rows for o in r["objects"]) == expected
    assert all(len(r["captions"]) == 5 for r in rows)
    assert Counter(r["source_split"] for r in rows) == {"train": 8, "test": 4}
    report = json.loads((out / "build_report.json").read_text())
    assert report["skipped_per_reason"] == {errors.MISSING_IMAGE: 1}
