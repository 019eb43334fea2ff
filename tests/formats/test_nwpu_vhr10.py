"""The NWPU VHR-10 ground-truth reader: table-driven good, empty and bad rows; layouts; the real samples; a round
trip through ``rsdata convert``."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import rsdata.formats.nwpu_vhr10  # noqa: F401  (registers the format)
from rsdata import errors
from rsdata.cli import main
from rsdata.errors import OptionError, RecordError, SourceLayoutError
from rsdata.formats import get_format
from rsdata.formats.nwpu_vhr10 import NwpuVhr10Options, parse_box_line, parse_ground_truth
from tests.conftest import image_bytes, realdata
from tests.formats.generators.nwpu_vhr10 import CLASSES, write_source

GOOD_LINES = [
    ("plain", "(563,478),(630,573),1", "airplane", (563, 478, 630, 573)),
    ("trailing space", "(401,596),(443,636),1 ", "airplane", (401, 596, 443, 636)),
    ("padded first corner", "( 52,515),(152,594),3 ", "storage tank", (52, 515, 152, 594)),
    ("padded second corner", "(154,336),( 228,419),8 ", "harbor", (154, 336, 228, 419)),
    ("padded class", "(259,248),(423,350), 6 ", "basketball court", (259, 248, 423, 350)),
    ("class 10", "(567,512),(614,540),10 ", "vehicle", (567, 512, 614, 540)),
    ("spaces and tabs everywhere", " ( 1 ,\t2 ) , ( 3 , 4 ) ,\t9\t", "bridge", (1, 2, 3, 4)),
    ("floats", "(1.5,2),(3.5,4.25),2", "ship", (1.5, 2, 3.5, 4.25)),
    ("zero-size box", "(7,7),(7,9),5", "tennis court", (7, 7, 7, 9)),
]

BAD_LINES = [
    ("no parentheses", "563,478,630,573,1", errors.MALFORMED_LINE, "expected '(x1,y1),(x2,y2),class'"),
    ("class missing", "(563,478),(630,573)", errors.MALFORMED_LINE, "expected '(x1,y1),(x2,y2),class'"),
    ("one corner", "(563,478),1", errors.MALFORMED_LINE, "got '(563,478),1'"),
    ("extra field", "(1,2),(3,4),1,5", errors.MALFORMED_LINE, "expected '(x1,y1),(x2,y2),class'"),
    ("DOTA line", "1 2 3 2 3 4 1 4 plane 0", errors.MALFORMED_LINE, "expected '(x1,y1),(x2,y2),class'"),
    ("letter in coordinate", "(56a,478),(630,573),1", errors.BAD_NUMBER, "x1 is '56a', not a finite number"),
    ("nan coordinate", "(1,nan),(3,4),1", errors.BAD_NUMBER, "y1 is 'nan'"),
    ("empty coordinate", "(1,2),(,4),1", errors.BAD_NUMBER, "x2 is ''"),
    ("class 0", "(1,2),(3,4),0", errors.UNKNOWN_CLASS, "class id is '0'; expected an integer 1-10"),
    ("class 11", "(1,2),(3,4),11", errors.UNKNOWN_CLASS, "class id is '11'"),
    ("class name", "(1,2),(3,4),airplane", errors.BAD_NUMBER, "class id is 'airplane'"),
    ("swapped corners", "(30,2),(3,4),1", errors.BAD_NUMBER, "bottom-right corner (3, 4) lies left of or above"),
]


@pytest.mark.parametrize("name,line,category,bbox", GOOD_LINES, ids=[row[0] for row in GOOD_LINES])
def test_good_box_lines(name, line, category, bbox):
    obj = parse_box_line(line, Path("001.txt"), 3)
    assert obj.category == category
    assert obj.bbox == tuple(float(v) for v in bbox)
    assert obj.source_line == 3 and obj.polygon == () and obj.difficult is False


@pytest.mark.parametrize("name,line,reason,fragment", BAD_LINES, ids=[row[0] for row in BAD_LINES])
def test_bad_box_lines_name_file_line_and_problem(tmp_path, name, line, reason, fragment):
    label = tmp_path / "017.txt"
    label.write_text(f"(1,1),(5,5),1 \n\n{line}\n", encoding="utf-8")
    with pytest.raises(RecordError) as caught:
        parse_ground_truth(label)
    error = caught.value
    assert error.reason == reason
    assert error.line == 3
    assert str(error).startswith(f"{label}:3: ")
    assert fragment in str(error)


EMPTY_FILES = [
    ("zero bytes", b""),
    ("blank lines only", b"\n \r\n\t\n"),
    ("byte-order mark only", "\ufeff".encode("utf-8")),
]


@pytest.mark.parametrize("name,data", EMPTY_FILES, ids=[row[0] for row in EMPTY_FILES])
def test_empty_ground_truth_files_are_errors(tmp_path, name, data):
    label = tmp_path / "042.txt"
    label.write_bytes(data)
    with pytest.raises(RecordError) as caught:
        parse_ground_truth(label)
    assert caught.value.reason == errors.EMPTY_LABEL_FILE
    assert str(caught.value).startswith(f"{label}: ") and "no box line" in str(caught.value)


def test_blank_lines_crlf_and_bom_are_accepted(tmp_path):
    label = tmp_path / "005.txt"
    label.write_bytes("\ufeff(401,596),(443,636),1 \r\n\r\n(606,138),(668,199),2 \r\n".encode("utf-8"))
    objects = parse_ground_truth(label)
    assert [(o.category, o.source_line) for o in objects] == [("airplane", 1), ("ship", 3)]


def test_not_utf8_names_the_line(tmp_path):
    label = tmp_path / "latin1.txt"
    label.write_bytes(b"(1,1),(5,5),1 \n(1,1),(5,5),\xe9\n")
    with pytest.raises(RecordError) as caught:
        parse_ground_truth(label)
    assert caught.value.reason == errors.NOT_UTF8 and caught.value.line == 2 and "0xe9" in str(caught.value)


COORDINATES = [
    ("corners", (10, 20, 30, 40)),
    ("pixels0", (10, 20, 31, 41)),
    ("pixels1", (9, 19, 30, 40)),
]


@pytest.mark.parametrize("convention,bbox", COORDINATES, ids=[row[0] for row in COORDINATES])
def test_coordinates_option(tmp_path, convention, bbox):
    nwpu = get_format("nwpu_vhr10").from_option_strings({"coordinates": convention})
    assert nwpu.options == NwpuVhr10Options(coordinates=convention)
    label = tmp_path / "001.txt"
    label.write_text("(10,20),(30,40),1\n")
    (obj,) = parse_ground_truth(label, nwpu.options.coordinates)
    assert obj.bbox == tuple(float(v) for v in bbox)


def test_bad_options_name_the_option_value_and_choices():
    with pytest.raises(OptionError, match="coordinates='one-based' is not a box convention; accepted: corners"):
        get_format("nwpu_vhr10").from_option_strings({"coordinates": "one-based"})
    with pytest.raises(OptionError, match="no option 'label'; valid options: coordinates, images, labels"):
        get_format("nwpu_vhr10").from_option_strings({"label": "gt"})


# ---------------------------------------------------------------------------------------------------------------
# Layout


def write_item(root: Path, stem: str, lines: str | None, image: bool = True) -> None:
    (root / "positive image set").mkdir(parents=True, exist_ok=True)
    (root / "ground truth").mkdir(parents=True, exist_ok=True)
    if image:
        (root / "positive image set" / f"{stem}.jpg").write_bytes(image_bytes())
    if lines is not None:
        (root / "ground truth" / f"{stem}.txt").write_text(lines, encoding="utf-8")


def test_layout_lists_positive_images_only(tmp_path):
    root = tmp_path / "NWPU VHR-10 dataset"
    for stem in ("002", "001"):
        write_item(root, stem, "(1,1),(9,9),1 \n")
    (root / "negative image set").mkdir()
    (root / "negative image set" / "003.jpg").write_bytes(image_bytes())
    nwpu = get_format("nwpu_vhr10")()
    items = nwpu.list_items(root, None)
    assert [(i.split, i.source_id, i.image_name) for i in items] == [
        ("train", "001", "positive image set/001.jpg"), ("train", "002", "positive image set/002.jpg")]
    assert [i.split for i in nwpu.list_items(root, ["all"])] == ["all", "all"]
    record = nwpu.parse(items[0])
    assert record.annotation_path == root / "ground truth" / "001.txt" and record.provenance.source_id == "001"


def test_missing_folders_name_the_folder_and_what_was_expected(tmp_path):
    nwpu = get_format("nwpu_vhr10")()
    with pytest.raises(SourceLayoutError, match="does not exist"):
        nwpu.list_items(tmp_path / "nowhere", None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceLayoutError, match="no 'positive image set/' folder in .*empty"):
        nwpu.list_items(tmp_path / "empty", None)
    (tmp_path / "no-gt" / "positive image set").mkdir(parents=True)
    with pytest.raises(SourceLayoutError) as caught:
        nwpu.list_items(tmp_path / "no-gt", None)
    assert str(tmp_path / "no-gt" / "ground truth") in str(caught.value)
    assert "ground-truth file per positive image" in str(caught.value) and "-o labels=NAME" in str(caught.value)


def test_missing_image_and_missing_ground_truth_are_reported_not_guessed(tmp_path):
    root = tmp_path / "src"
    write_item(root, "010", "(1,1),(9,9),1 \n", image=False)
    write_item(root, "011", None)
    nwpu = get_format("nwpu_vhr10")()
    by_id = {i.source_id: i for i in nwpu.list_items(root, None)}
    with pytest.raises(RecordError) as caught:
        nwpu.parse(by_id["010"])
    assert caught.value.reason == errors.MISSING_IMAGE and "010.txt" in str(caught.value)
    with pytest.raises(RecordError) as caught:
        nwpu.parse(by_id["011"])
    assert caught.value.reason == errors.MISSING_ANNOTATION and "011.jpg" in str(caught.value)


# ---------------------------------------------------------------------------------------------------------------
# Real samples


def independent_count(label: Path) -> Counter:
    """Objects per category of a ground-truth file, with plain string handling: the class id is the text after the
    last comma of each non-blank line."""
    counts: Counter = Counter()
    for line in label.read_text(encoding="utf-8").splitlines():
        if line.strip():
            counts[CLASSES[int(line.rsplit(",", 1)[1])]] += 1
    return counts


def test_real_ground_truth_files_parse_to_the_files_counts():
    folder = realdata("nwpu_vhr10_txt") / "ground truth"
    labels = sorted(folder.glob("*.txt"))
    assert len(labels) == 10
    total: Counter = Counter()
    for label in labels:
        objects = parse_ground_truth(label)
        counts = Counter(o.category for o in objects)
        assert counts == independent_count(label), label.name
        total += counts
        for obj in objects:
            x0, y0, x1, y1 = obj.bbox
            assert 0 <= x0 < x1 and 0 <= y0 < y1
    assert sum(total.values()) == 58 and len(total) == 10  # every class occurs in the sample


def test_real_sample_without_images_converts_to_missing_image_skips(tmp_path):
    """The sample has no images: each ground-truth file is reported as missing_image, none is guessed."""
    real = realdata("nwpu_vhr10_txt") / "ground truth"
    source = tmp_path / "nwpu"
    (source / "positive image set").mkdir(parents=True)
    (source / "ground truth").symlink_to(real, target_is_directory=True)
    out = tmp_path / "out"
    # Every record left out: exit 1, no dataset.
    assert main(["convert", "nwpu_vhr10", str(source), str(out), "--no-progress", "--on-error", "skip",
                 "--allow-outside-links"]) == 1
    report = json.loads((out / "build_report.json").read_text())
    assert report["skipped_per_reason"] == {"missing_image": 10}
    assert sum(pq.read_table(p).num_rows for p in (out / "data").glob("*.parquet")) == 0


# ---------------------------------------------------------------------------------------------------------------
# Round trip


def test_generated_source_round_trip_through_convert(tmp_path):
    source = tmp_path / "NWPU VHR-10 dataset"
    expected = write_source(source, 12, seed=3)
    out = tmp_path / "out"
    assert main(["convert", "nwpu_vhr10", str(source), str(out), "--no-progress"]) == 0
    rows = [row for p in sorted((out / "data").glob("*.parquet")) for row in pq.read_table(p).to_pylist()]
    assert len(rows) == 12  # the two negative images are not converted
    assert all(len(row["captions"]) == 5 for row in rows)
    assert Counter(o["category"] for row in rows for o in row["objects"]) == expected
    assert {row["image"]["path"].split("/")[0] for row in rows} == {"positive image set"}
