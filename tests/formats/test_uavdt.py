"""The UAVDT-benchmark-M reader: table-driven good and bad ground-truth rows; frames, strides and splits; the
ground-truth file choice; the real samples."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

import rsdata.formats.uavdt  # noqa: F401  (registers the format)
from rsdata import errors
from rsdata.errors import OptionError, RecordError, SourceLayoutError
from rsdata.formats import get_format
from rsdata.formats.uavdt import frame_objects, read_ground_truth
from tests.conftest import image_bytes, realdata

GOOD_ROWS = [
    ("car", "1,7,546,307,15,19,1,1,1", "car", (546, 307, 561, 326)),
    ("truck out of view", "1,8,0,0,30,12,3,2,2", "truck", (0, 0, 30, 12)),
    ("bus occluded", "1,9,10,20,40,50,1,4,3", "bus", (10, 20, 50, 70)),
    ("decimals and padding", " 1, 3, 10.5 ,20,4.5,5,1,1,1 ", "car", (10.5, 20, 15, 25)),
    ("zero size", "1,4,5,5,0,0,1,1,1", "car", (5, 5, 5, 5)),
]

BAD_ROWS = [
    ("too few fields", "1,1,2,3,4,5,1,1", errors.MALFORMED_LINE, "expected 9 comma-separated fields"),
    ("too many fields", "1,1,2,3,4,5,1,1,1,0", errors.MALFORMED_LINE, "got 10"),
    ("non-numeric left", "1,1,x,3,4,5,1,1,1", errors.BAD_NUMBER, "bbox_left is 'x'"),
    ("negative height", "1,1,2,3,4,-5,1,1,1", errors.BAD_NUMBER, "bbox_height is -5"),
    ("fractional target", "1,1.5,2,3,4,5,1,1,1", errors.BAD_NUMBER, "target_id is '1.5'"),
    ("bad attribute", "1,1,2,3,4,5,x,1,1", errors.BAD_NUMBER, "out_of_view is 'x'"),
    ("unknown category", "1,1,2,3,4,5,1,1,4", errors.UNKNOWN_CLASS, "object_category is 4; expected 1 (car)"),
    ("no category in the whole file", "1,1,2,3,4,5,1,1,-1", errors.BAD_NUMBER, "use -o gt=mot"),
]


def write_gt(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


@pytest.mark.parametrize("name,line,category,bbox", GOOD_ROWS, ids=[row[0] for row in GOOD_ROWS])
def test_good_rows(tmp_path, name, line, category, bbox):
    path = write_gt(tmp_path / "M0101_gt_whole.txt", ["11,1,0,0,5,5,1,1,1", line])
    (obj,) = frame_objects(path, 1)
    assert obj.category == category and obj.bbox == tuple(float(v) for v in bbox) and obj.source_line == 2


@pytest.mark.parametrize("name,line,reason,fragment", BAD_ROWS, ids=[row[0] for row in BAD_ROWS])
def test_bad_rows_fail_their_frame_naming_file_and_line(tmp_path, name, line, reason, fragment):
    path = write_gt(tmp_path / "M0102_gt_whole.txt", ["1,1,0,0,5,5,1,1,1", line, "11,1,0,0,5,5,1,1,2"])
    with pytest.raises(RecordError) as caught:
        frame_objects(path, 1)
    error = caught.value
    assert error.reason == reason and error.line == 2
    assert str(error).startswith(f"{path}:2: ")
    assert fragment in str(error)
    assert [o.category for o in frame_objects(path, 11)] == ["truck"]  # other frames are unaffected


@pytest.mark.parametrize("head", ["x", "0", "-3", ""])
def test_unreadable_frame_number_fails_every_frame(tmp_path, head):
    path = write_gt(tmp_path / f"M01{len(head)}3_gt_whole.txt", ["1,1,0,0,5,5,1,1,1", f"{head},1,0,0,5,5,1,1,1"])
    for frame in (1, 11):
        with pytest.raises(RecordError) as caught:
            frame_objects(path, frame)
        assert caught.value.reason == errors.BAD_NUMBER and caught.value.line == 2 and "frame_index is" in str(
            caught.value)


def test_frames_without_rows_bom_and_not_utf8(tmp_path):
    path = tmp_path / "M0104_gt_whole.txt"
    path.write_bytes("\ufeff1,1,0,0,5,5,1,1,1\r\n\r\n".encode("utf-8"))
    assert len(frame_objects(path, 1)) == 1 and frame_objects(path, 21) == ()
    latin1 = tmp_path / "M0105_gt_whole.txt"
    latin1.write_bytes(b"1,1,0,0,5,5,1,1,1\n\xe9\n")
    with pytest.raises(RecordError) as caught:
        frame_objects(latin1, 1)
    assert caught.value.reason == errors.NOT_UTF8 and caught.value.line == 2


def test_mot_file_takes_categories_from_the_whole_file(tmp_path):
    gt_dir = tmp_path / "GT"
    write_gt(gt_dir / "M0201_gt_whole.txt", ["1,1,0,0,5,5,1,1,2", "1,2,9,9,5,5,3,1,3", "11,3,1,1,2,2,1,1,1"])
    mot = write_gt(gt_dir / "M0201_gt.txt", ["1,1,0,0,5,5,1,1,-1", "11,3,1,1,2,2,1,1,-1", "21,4,1,1,2,2,1,1,-1"])
    assert [o.category for o in frame_objects(mot, 1, "mot")] == ["truck"]
    assert [o.category for o in frame_objects(mot, 11, "mot")] == ["car"]
    with pytest.raises(RecordError) as caught:
        frame_objects(mot, 21, "mot")
    assert caught.value.reason == errors.MISSING_ANNOTATION and caught.value.line == 3
    assert "target 4 has no category" in str(caught.value)
    alone = write_gt(tmp_path / "other" / "M0202_gt.txt", ["1,1,0,0,5,5,1,1,-1"])
    with pytest.raises(RecordError) as caught:
        frame_objects(alone, 1, "mot")
    assert caught.value.reason == errors.MISSING_ANNOTATION and "M0202_gt_whole.txt" in str(caught.value)


def test_each_file_is_parsed_once_per_process_while_unchanged(tmp_path):
    path = write_gt(tmp_path / "M0301_gt_whole.txt", ["1,1,0,0,5,5,1,1,1"])
    first = read_ground_truth(path)
    assert read_ground_truth(path) is first
    write_gt(path, ["1,1,0,0,5,5,1,1,1", "1,2,0,0,5,5,1,1,3"])
    assert read_ground_truth(path) is not first and len(frame_objects(path, 1)) == 2


def write_source(root: Path, sequences: dict[str, tuple[int, list[str] | None]]) -> Path:
    """``root/UAV-benchmark-M/<seq>/img*.jpg`` (the first n frames) and the sequence's ``_gt_whole.txt``."""
    picture = image_bytes(64, 48)
    (root / "UAV-benchmark-M").mkdir(parents=True, exist_ok=True)
    (root / "UAV-benchmark-MOTD_v1.0" / "GT").mkdir(parents=True, exist_ok=True)
    for sequence, (frames, lines) in sequences.items():
        (root / "UAV-benchmark-M" / sequence).mkdir(exist_ok=True)
        for frame in range(1, frames + 1):
            (root / "UAV-benchmark-M" / sequence / f"img{frame:06d}.jpg").write_bytes(picture)
        if lines is not None:
            write_gt(root / "UAV-benchmark-MOTD_v1.0" / "GT" / f"{sequence}_gt_whole.txt", lines)
    return root


def test_frames_stride_and_benchmark_splits(tmp_path):
    root = write_source(tmp_path / "UAVDT", {
        "M0101": (25, [f"{f},1,1,1,5,5,1,1,1" for f in range(1, 26)]),
        "M0208": (3, ["1,1,1,1,5,5,1,1,3", "11,1,1,1,5,5,1,1,3"]),  # a test sequence; frame 11 has no image
        "M0301": (12, None),  # images without ground truth
    })
    (root / "UAV-benchmark-M" / "M0101" / "notes.txt").write_text("not a frame")
    fmt = get_format("uavdt")()
    items = fmt.list_items(root, None)
    assert [(i.split, i.source_id) for i in items] == [
        ("train", "M0101/img000001"), ("train", "M0101/img000011"), ("train", "M0101/img000021"),
        ("test", "M0208/img000001"), ("test", "M0208/img000011"),
        ("train", "M0301/img000001"), ("train", "M0301/img000011"),
    ]
    by_id = {i.source_id: i for i in items}
    assert by_id["M0101/img000011"].image_name == "UAV-benchmark-M/M0101/img000011.jpg"
    record = fmt.parse(by_id["M0208/img000001"])
    assert [o.category for o in record.objects] == ["bus"] and record.provenance.source_id == "M0208/img000001"
    with pytest.raises(RecordError) as caught:
        fmt.parse(by_id["M0208/img000011"])
    assert caught.value.reason == errors.MISSING_IMAGE and "M0208_gt_whole.txt" in str(caught.value)
    assert "UAV-benchmark-M/M0208/img000011.jpg" in str(caught.value)
    with pytest.raises(RecordError) as caught:
        fmt.parse(by_id["M0301/img000011"])
    assert caught.value.reason == errors.MISSING_ANNOTATION and "M0301_gt_whole.txt" in str(caught.value)

    assert [i.source_id for i in fmt.list_items(root, ["test"])] == ["M0208/img000001", "M0208/img000011"]
    with pytest.raises(OptionError, match="split\\(s\\) val not found .*found: test, train"):
        fmt.list_items(root, ["val"])
    every = get_format("uavdt").from_option_strings({"frame_stride": "1", "split_by": "none"})
    assert len(every.list_items(root, None)) == 25 + 4 + 12  # M0208: images 1-3 and ground truth 1, 11
    assert {i.split for i in every.list_items(root, ["all"])} == {"all"}


@pytest.mark.parametrize("options,fragment", [
    ({"frame_stride": "0"}, "option frame_stride='0': expected a whole number of frames, at least 1"),
    ({"frame_stride": "2.5"}, "option frame_stride='2.5'"),
    ({"frame_stride": "ten"}, "option frame_stride='ten'"),
    ({"gt": "ignore"}, "option gt='ignore': expected 'whole'"),
    ({"split_by": "random"}, "option split_by='random': expected 'benchmark'"),
    ({"images": ""}, "option images='': expected a folder path relative to the root"),
    ({"gt_folder": "/data/GT"}, "option gt_folder='/data/GT': expected a folder path relative to the root"),
    ({"stride": "5"}, "no option 'stride'; valid options: frame_stride, gt, gt_folder, images, split_by"),
])
def test_bad_options_name_option_value_and_choices(options, fragment):
    with pytest.raises(OptionError) as caught:
        get_format("uavdt").from_option_strings(options)
    assert fragment in str(caught.value)


def test_good_options():
    fmt = get_format("uavdt").from_option_strings({"frame_stride": "30", "gt": "mot", "split_by": "none"})
    assert (fmt.options.frame_stride, fmt.options.gt, fmt.options.split_by) == (30, "mot", "none")


def test_layout_errors_name_the_folder(tmp_path):
    fmt = get_format("uavdt")()
    with pytest.raises(SourceLayoutError, match="does not exist"):
        fmt.list_items(tmp_path / "nowhere", None)
    (tmp_path / "only_images" / "UAV-benchmark-M").mkdir(parents=True)
    with pytest.raises(SourceLayoutError) as caught:
        fmt.list_items(tmp_path / "only_images", None)
    assert "UAV-benchmark-MOTD_v1.0/GT for the ground-truth files" in str(caught.value)
    assert "-o gt_folder=PATH" in str(caught.value)
    (tmp_path / "only_gt" / "UAV-benchmark-MOTD_v1.0" / "GT").mkdir(parents=True)
    with pytest.raises(SourceLayoutError, match="no folder .*only_gt/UAV-benchmark-M for the sequence folders"):
        fmt.list_items(tmp_path / "only_gt", None)


def independent_counts(gt_dir: Path) -> tuple[Counter, Counter]:
    """Objects per category in M0208's whole and MOT files, counted with plain string handling."""
    names = {"1": "car", "2": "truck", "3": "bus"}
    whole_lines = [line.split(",") for line in (gt_dir / "M0208_gt_whole.txt").read_text().split("\n") if line]
    whole = Counter(names[parts[8]] for parts in whole_lines)
    category_of_target = {parts[1]: names[parts[8]] for parts in whole_lines}
    mot_lines = [line.split(",") for line in (gt_dir / "M0208_gt.txt").read_text().split("\n") if line]
    mot = Counter(category_of_target[parts[1]] for parts in mot_lines)
    return whole, mot


def test_real_samples_parse_to_the_files_counts():
    gt_dir = realdata("uavdt_mot") / "GT"
    expected_whole, expected_mot = independent_counts(gt_dir)
    for name, gt, expected in (("M0208_gt_whole.txt", "whole", expected_whole), ("M0208_gt.txt", "mot", expected_mot)):
        truth = read_ground_truth(gt_dir / name)
        assert truth.file_error is None and not truth.frame_errors
        counts = Counter(o.category for frame in truth.frames for o in frame_objects(gt_dir / name, frame, gt))
        assert counts == expected, name
    assert expected_whole == Counter({"car": 790}) and expected_mot == Counter({"car": 784})
    # The ignore file parses too (it is never read by the format: ignore regions are not described).
    ignore = read_ground_truth(gt_dir / "M0208_gt_ignore.txt")
    assert sum(len(rows) for rows in ignore.frames.values()) == 265


def test_real_sample_without_images_reports_missing_images(tmp_path):
    import pyarrow.parquet as pq

    from rsdata.cli import main

    gt_dir = realdata("uavdt_mot") / "GT"
    root = tmp_path / "UAVDT"
    (root / "UAV-benchmark-M").mkdir(parents=True)
    (root / "UAV-benchmark-MOTD_v1.0").mkdir()
    (root / "UAV-benchmark-MOTD_v1.0" / "GT").symlink_to(gt_dir, target_is_directory=True)  # read in place
    out = tmp_path / "out"
    # Every record left out: exit 1, no dataset.
    assert main(["convert", "uavdt", str(root), str(out), "--no-progress", "--on-error", "skip",
                 "--allow-outside-links"]) == 1
    report = json.loads((out / "build_report.json").read_text())
    frames = {int(line.split(",")[0]) for line in (gt_dir / "M0208_gt_whole.txt").read_text().split("\n") if line}
    kept = [f for f in frames if (f - 1) % 10 == 0]
    assert report["skipped_per_reason"] == {errors.MISSING_IMAGE: len(kept)} and len(kept) == 27
    assert not list(out.glob("data/*.parquet"))


def test_generated_source_round_trip(tmp_path):
    import pyarrow.parquet as pq

    from rsdata.cli import main
    from tests.formats.generators.uavdt import write_source as generate

    expected = generate(tmp_path / "src", 8, seed=5)
    out = tmp_path / "out"
    assert main(["convert", "uavdt", str(tmp_path / "src"), str(out), "--no-progress", "--on-error", "skip"]) == 0
    rows = pq.read_table(out / "data").to_pylist()
    assert len(rows) == 8
    assert Counter(o["category"] for r in rows for o in r["objects"]) == expected
    assert all(len(r["captions"]) == 5 for r in rows)
    assert {r["source_split"] for r in rows} == {"train", "test"}
    assert all(r["source_id"].split("/")[1] in ("img000001", "img000011", "img000021") for r in rows)
