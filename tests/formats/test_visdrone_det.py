"""The VisDrone-DET reader: table-driven good, excluded and bad rows; split folders; the real samples."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

import rsdata.formats.visdrone_det  # noqa: F401  (registers the format)
from rsdata import errors
from rsdata.errors import OptionError, RecordError, SourceLayoutError
from rsdata.formats import get_format
from rsdata.formats.visdrone_det import (
    parse_annotation_file,
    parse_annotation_line,
    split_name,
)
from tests.conftest import image_bytes, realdata

GOOD_LINES = [
    ("plain", "684,8,273,116,1,4,0,0", "car", (684, 8, 957, 124)),
    ("trailing comma", "1,2,3,4,1,8,1,2,", "awning-tricycle", (1, 2, 4, 6)),
    ("padding", " 10, 20 ,5,6,1,10,0,1 ", "motor", (10, 20, 15, 26)),
    ("decimal box", "1.5,2,3,4.25,1,1,0,0", "pedestrian", (1.5, 2, 4.5, 6.25)),
    ("zero size", "5,5,0,0,1,9,0,0", "bus", (5, 5, 5, 5)),
    ("people", "0,0,7,9,1,2,0,2", "people", (0, 0, 7, 9)),
]

EXCLUDED_LINES = [
    ("ignored region", "0,0,100,50,0,0,0,0"),
    ("others", "12,30,8,8,0,11,0,0"),
    ("others scored 1", "12,30,8,8,1,11,0,0"),
    ("score 0 car", "12,30,8,8,0,4,0,0"),
]

BAD_LINES = [
    ("too few fields", "1,2,3,4,1,4,0", errors.MALFORMED_LINE, "expected 8 comma-separated fields"),
    ("too many fields", "1,2,3,4,1,4,0,0,7", errors.MALFORMED_LINE, "got 9"),
    ("space separated", "1 2 3 4 1 4 0 0", errors.MALFORMED_LINE, "got 1"),
    ("non-numeric left", "x1,2,3,4,1,4,0,0", errors.BAD_NUMBER, "bbox_left is 'x1'"),
    ("nan height", "1,2,3,nan,1,4,0,0", errors.BAD_NUMBER, "bbox_height is 'nan'"),
    ("negative width", "1,2,-3,4,1,4,0,0", errors.BAD_NUMBER, "bbox_width is -3"),
    ("unknown category", "1,2,3,4,1,12,0,0", errors.UNKNOWN_CLASS, "object_category is 12; expected 0"),
    ("bad score", "1,2,3,4,2,4,0,0", errors.BAD_NUMBER, "score is 2"),
    ("category as a word", "1,2,3,4,1,car,0,0", errors.BAD_NUMBER, "object_category is 'car'"),
    ("non-integer occlusion", "1,2,3,4,1,4,0,x", errors.BAD_NUMBER, "occlusion is 'x'"),
]


@pytest.mark.parametrize("name,line,category,bbox", GOOD_LINES, ids=[row[0] for row in GOOD_LINES])
def test_good_lines(name, line, category, bbox):
    obj = parse_annotation_line(line.strip(), Path("a.txt"), 3)
    assert obj.category == category
    assert obj.bbox == tuple(float(v) for v in bbox)
    assert obj.source_line == 3 and obj.polygon == ()


@pytest.mark.parametrize("name,line", EXCLUDED_LINES, ids=[row[0] for row in EXCLUDED_LINES])
def test_ignored_regions_others_and_score_zero_are_not_described(name, line):
    assert parse_annotation_line(line, Path("a.txt"), 1) is None


@pytest.mark.parametrize("name,line,reason,fragment", BAD_LINES, ids=[row[0] for row in BAD_LINES])
def test_bad_lines_name_file_line_and_problem(tmp_path, name, line, reason, fragment):
    path = tmp_path / "0000001_00000_d_0000001.txt"
    path.write_text(f"1,1,4,4,1,4,0,0\n0,0,9,9,0,0,0,0\n{line}\n", encoding="utf-8")
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
    only_ignored = tmp_path / "ignored.txt"
    only_ignored.write_text("0,0,10,10,0,0,0,0\n5,5,3,3,0,11,0,0\n")
    assert parse_annotation_file(only_ignored) == ()
    crlf = tmp_path / "crlf.txt"
    crlf.write_bytes("\ufeff1,2,3,4,1,6,0,0\r\n\r\n5,6,7,8,1,3,1,1\r\n".encode("utf-8"))
    assert [(o.category, o.source_line) for o in parse_annotation_file(crlf)] == [("truck", 1), ("bicycle", 3)]
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes(b"1,2,3,4,1,6,0,0\n1,2,3,4,1,6,0,0\xe9\n")
    with pytest.raises(RecordError) as caught:
        parse_annotation_file(latin1)
    assert caught.value.reason == errors.NOT_UTF8 and caught.value.line == 2 and "0xe9" in str(caught.value)


def write_item(split_folder: Path, stem: str, lines: list[str] | None, *, image: bool = True) -> None:
    (split_folder / "images").mkdir(parents=True, exist_ok=True)
    (split_folder / "annotations").mkdir(parents=True, exist_ok=True)
    if image:
        (split_folder / "images" / f"{stem}.jpg").write_bytes(image_bytes())
    if lines is not None:
        (split_folder / "annotations" / f"{stem}.txt").write_text("".join(line + "\n" for line in lines))


@pytest.mark.parametrize("folder,split", [
    ("VisDrone2019-DET-train", "train"),
    ("VisDrone2019-DET-val", "val"),
    ("VisDrone2019-DET-test-dev", "test_dev"),
    ("VisDrone2018-DET-test-challenge", "test_challenge"),
    ("custom", "custom"),
])
def test_split_names(folder, split):
    assert split_name(folder) == split


def test_layout_split_folders_and_split_choice(tmp_path):
    root = tmp_path / "VisDrone"
    for folder in ("VisDrone2019-DET-train", "VisDrone2019-DET-val", "VisDrone2019-DET-test-dev"):
        write_item(root / folder, "0000001_00001_d_0000001", ["1,1,4,4,1,4,0,0"])
    fmt = get_format("visdrone_det")()
    assert [(i.split, i.image_name) for i in fmt.list_items(root, None)] == [
        ("test_dev", "VisDrone2019-DET-test-dev/images/0000001_00001_d_0000001.jpg"),
        ("train", "VisDrone2019-DET-train/images/0000001_00001_d_0000001.jpg"),
        ("val", "VisDrone2019-DET-val/images/0000001_00001_d_0000001.jpg"),
    ]
    assert [i.split for i in fmt.list_items(root, ["val", "VisDrone2019-DET-test-dev"])] == ["test_dev", "val"]
    with pytest.raises(OptionError, match="split\\(s\\) test not found .*found: test_dev \\(VisDrone2019-DET-test-dev"):
        fmt.list_items(root, ["test"])
    # A split folder given directly names itself; a plain folder is "train" unless --split names it.
    assert fmt.list_items(root / "VisDrone2019-DET-val", None)[0].split == "val"
    plain = tmp_path / "plain"
    write_item(plain, "a", ["1,1,4,4,1,4,0,0"])
    assert fmt.list_items(plain, None)[0].split == "train"
    assert fmt.list_items(plain, ["test-dev"])[0].split == "test_dev"


def test_layout_errors_name_the_folder(tmp_path):
    fmt = get_format("visdrone_det")()
    with pytest.raises(SourceLayoutError, match="does not exist"):
        fmt.list_items(tmp_path / "nowhere", None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceLayoutError, match="no 'images/' folder in .*empty"):
        fmt.list_items(tmp_path / "empty", None)
    challenge = tmp_path / "vd" / "VisDrone2019-DET-test-challenge" / "images"
    challenge.mkdir(parents=True)
    with pytest.raises(SourceLayoutError) as caught:
        fmt.list_items(tmp_path / "vd", None)
    assert "no 'annotations/' folder in" in str(caught.value) and "VisDrone2019-DET-test-challenge" in str(caught.value)
    assert "--split" in str(caught.value)


def test_options_are_checked():
    fmt = get_format("visdrone_det").from_option_strings({"images": "imgs", "annotations": "labels"})
    assert (fmt.options.images, fmt.options.annotations) == ("imgs", "labels")
    with pytest.raises(OptionError, match="no option 'label'; valid options: annotations, images"):
        get_format("visdrone_det").from_option_strings({"label": "x"})
    with pytest.raises(OptionError, match="option images='': expected a folder name"):
        get_format("visdrone_det").from_option_strings({"images": ""})


def test_missing_image_and_missing_annotation_are_reported(tmp_path):
    root = tmp_path / "VisDrone2019-DET-train"
    write_item(root, "only_label", ["1,1,4,4,1,4,0,0"], image=False)
    write_item(root, "only_image", None)
    fmt = get_format("visdrone_det")()
    by_id = {i.source_id: i for i in fmt.list_items(root, None)}
    with pytest.raises(RecordError) as caught:
        fmt.parse(by_id["only_label"])
    assert caught.value.reason == errors.MISSING_IMAGE and "only_label.txt" in str(caught.value)
    with pytest.raises(RecordError) as caught:
        fmt.parse(by_id["only_image"])
    assert caught.value.reason == errors.MISSING_ANNOTATION and "only_image.jpg" in str(caught.value)


def independent_count(path: Path) -> Counter:
    """Described objects per class name, counted with plain string handling."""
    names = ["ignored", "pedestrian", "people", "bicycle", "car", "van", "truck", "tricycle", "awning-tricycle",
             "bus", "motor", "others"]
    counts: Counter = Counter()
    for line in path.read_text(encoding="utf-8").split("\n"):
        parts = line.split(",")
        if len(parts) >= 8 and parts[4] == "1" and parts[5] not in ("0", "11"):
            counts[names[int(parts[5])]] += 1
    return counts


def test_real_samples_parse_to_the_files_counts():
    files = sorted((realdata("visdrone_det") / "annotations").glob("*.txt"))
    assert len(files) == 2
    total = Counter()
    for path in files:
        objects = parse_annotation_file(path)
        assert Counter(o.category for o in objects) == independent_count(path), path.name
        assert all(o.bbox[0] <= o.bbox[2] and o.bbox[1] <= o.bbox[3] for o in objects)
        total += Counter(o.category for o in objects)
    # 203 rows in all, of which 3 ignored regions and 2 "others".
    assert sum(total.values()) == 198 and total["car"] == 67 and total["motor"] == 52


def test_generated_source_round_trip(tmp_path):
    import pyarrow.parquet as pq

    from rsdata.cli import main
    from tests.formats.generators.visdrone_det import write_source

    expected = write_source(tmp_path / "src", 24, seed=3)
    # An annotation file whose image is missing is a missing_image skip, not a guess.
    (tmp_path / "src" / "VisDrone2019-DET-train" / "annotations" / "9999999_00000_d_0000000.txt").write_text(
        "1,1,4,4,1,4,0,0\n")
    out = tmp_path / "out"
    assert main(["convert", "visdrone_det", str(tmp_path / "src"), str(out), "--no-progress", "--on-error",
                 "skip"]) == 0
    rows = pq.read_table(out / "data").to_pylist()
    assert Counter(o["category"] for r in rows for o in r["objects"]) == expected
    assert all(len(r["captions"]) == 5 for r in rows)
    assert {r["source_split"] for r in rows} == {"train", "val", "test_dev"}
    report = json.loads((out / "build_report.json").read_text())
    assert set(report["splits"]) == {"train", "validation", "test_dev"}
    assert report["skipped_per_reason"].get(errors.MISSING_IMAGE) == 1
