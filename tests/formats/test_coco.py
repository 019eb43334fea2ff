"""The COCO JSON reader: table-driven good, excluded and bad annotation records; image entries and file names;
options and layouts; parse-once caching; the real HRRSD sample; a round trip through ``rsdata convert``."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import rsdata.formats.coco as coco
from rsdata import errors
from rsdata.cli import main
from rsdata.errors import OptionError, RecordError, SourceLayoutError
from rsdata.formats import get_format
from rsdata.formats.coco import CocoOptions, annotation_object, load_coco, parse_annotation_option
from tests.conftest import image_bytes, realdata
from tests.formats.generators.coco import write_source

CATEGORIES = [{"id": 0, "name": "bridge"}, {"id": 1, "name": "airplane"}, {"id": "7", "name": "ship"}]
RLE_RECT = {"size": [10, 12], "counts": [23, 3, 7, 3, 7, 3, 7, 3, 64]}  # rows 3-5 x columns 2-5
RLE_COMPRESSED = {"size": [10, 12], "counts": "P13700000`1"}  # rows 2-4 x columns 3-6


def ann(**fields) -> dict:
    return {"id": 17, "image_id": 1, "category_id": 0, "iscrowd": 0, **fields}


GOOD = [
    ("bbox, category id 0", ann(bbox=[293, 754, 465, 313], segmentation=[]), "bridge", (293, 754, 758, 1067), ()),
    ("float bbox", ann(category_id=1, bbox=[1.5, 2.25, 3, 4]), "airplane", (1.5, 2.25, 4.5, 6.25), ()),
    ("text category id", ann(category_id=7, bbox=[0, 0, 1, 1]), "ship", (0, 0, 1, 1), ()),
    ("bbox wins over polygon", ann(bbox=[1, 1, 2, 2], segmentation=[[0, 0, 9, 0, 9, 9]]), "bridge", (1, 1, 3, 3),
     (0, 0, 9, 0, 9, 9)),
    ("polygon only", ann(segmentation=[[10, 10, 20, 10, 20, 30, 10, 30]]), "bridge", (10, 10, 20, 30),
     (10, 10, 20, 10, 20, 30, 10, 30)),
    ("null bbox, two polygons", ann(bbox=None, segmentation=[[1, 5, 4, 5, 4, 8], [6, 2, 9, 2, 9.5, 3]]), "bridge",
     (1, 2, 9.5, 8), ()),
    ("empty bbox, uncompressed RLE", ann(bbox=[], segmentation=RLE_RECT), "bridge", (2, 3, 6, 6), ()),
    ("compressed RLE", ann(segmentation=RLE_COMPRESSED), "bridge", (3, 2, 7, 5), ()),
    ("zero-size bbox", ann(bbox=[4, 4, 0, 0]), "bridge", (4, 4, 4, 4), ()),
]

EXCLUDED = [
    ("crowd", ann(iscrowd=1, segmentation=RLE_RECT, bbox=[2, 3, 4, 3])),
    ("crowd true", ann(iscrowd=True, bbox=[2, 3, 4, 3])),
    ("ignore region", ann(ignore=1, bbox=[2, 3, 4, 3])),
    ("ignored crowd with a bad box", ann(ignore=1, iscrowd=1, bbox="nonsense")),
]

BAD = [
    ("not an object", [1, 2, 3], errors.MALFORMED_LINE, "annotation #5 is [1, 2, 3], not an object"),
    ("no category_id", {"id": 17, "image_id": 1, "bbox": [1, 1, 2, 2]}, errors.MALFORMED_LINE,
     "annotation #5 (id 17) has no category_id"),
    ("unknown category", ann(category_id=99, bbox=[1, 1, 2, 2]), errors.UNKNOWN_CLASS,
     "category_id 99 is not in 'categories' (ids: 0, 1, 7)"),
    ("category id that is no id", ann(category_id=True, bbox=[1, 1, 2, 2]), errors.BAD_NUMBER,
     "category_id is True, not an id (a whole number or text) of 'categories'"),
    ("bbox of three", ann(bbox=[1, 1, 2]), errors.MALFORMED_LINE, "bbox is [1, 1, 2]; expected [x, y, width, height]"),
    ("bbox as text", ann(bbox="1,1,2,2"), errors.MALFORMED_LINE, "bbox is '1,1,2,2'"),
    ("bbox with text", ann(bbox=[1, "1", 2, 2]), errors.BAD_NUMBER, "four finite numbers"),
    ("bbox with NaN", ann(bbox=[1, float("nan"), 2, 2]), errors.BAD_NUMBER, "four finite numbers"),
    ("bbox with a boolean", ann(bbox=[1, True, 2, 2]), errors.BAD_NUMBER, "four finite numbers"),
    ("negative width", ann(bbox=[5, 5, -2, 2]), errors.BAD_NUMBER, "negative width or height"),
    ("no box at all", ann(), errors.MALFORMED_LINE, "has no bbox and no segmentation"),
    ("empty bbox and segmentation", ann(bbox=[], segmentation=[]), errors.MALFORMED_LINE, "no bbox and no segm"),
    ("odd polygon", ann(segmentation=[[1, 2, 3, 4, 5, 6, 7]]), errors.MALFORMED_LINE,
     "segmentation polygon 1 is not a flat list of at least three finite x, y pairs"),
    ("polygon of two points", ann(segmentation=[[1, 2, 3, 4]]), errors.MALFORMED_LINE, "polygon 1 is not"),
    ("text in second polygon", ann(segmentation=[[1, 2, 3, 4, 5, 6], [1, "y", 3, 4, 5, 6]]),
     errors.MALFORMED_LINE, "polygon 2 is not"),
    ("RLE without size", ann(segmentation={"counts": [120]}), errors.MALFORMED_LINE, "not a run-length mask"),
    ("RLE counts too short", ann(segmentation={"size": [10, 12], "counts": [1, 2]}), errors.MALFORMED_LINE,
     "adding up to height x width = 120"),
    ("empty RLE", ann(segmentation={"size": [10, 12], "counts": [120]}), errors.MALFORMED_LINE,
     "run-length mask is empty"),
]


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> coco.CocoIndex:
    path = tmp_path_factory.mktemp("coco") / "instances.json"
    path.write_text(json.dumps({"images": [{"id": 1, "file_name": "a.jpg"}], "annotations": [],
                                "categories": CATEGORIES}))
    return load_coco(path)


@pytest.mark.parametrize("name,annotation,category,bbox,polygon", GOOD, ids=[row[0] for row in GOOD])
def test_good_annotations(index, name, annotation, category, bbox, polygon):
    obj = annotation_object(annotation, 4, index)
    assert obj.category == category
    assert obj.bbox == tuple(float(v) for v in bbox)
    assert obj.polygon == tuple(float(v) for v in polygon)
    assert obj.source_line == 5 and obj.difficult is False


@pytest.mark.parametrize("name,annotation", EXCLUDED, ids=[row[0] for row in EXCLUDED])
def test_crowds_and_ignore_regions_are_not_described(index, name, annotation):
    assert annotation_object(annotation, 0, index) is None


def test_crowds_are_kept_on_request(index):
    obj = annotation_object(ann(iscrowd=1, segmentation=RLE_RECT), 0, index, keep_crowd=True)
    assert obj.bbox == (2.0, 3.0, 6.0, 6.0)
    assert annotation_object(ann(iscrowd=1, ignore=1, bbox=[1, 1, 1, 1]), 0, index, keep_crowd=True) is None


@pytest.mark.parametrize("name,annotation,reason,fragment", BAD, ids=[row[0] for row in BAD])
def test_bad_annotations_name_file_record_and_problem(index, name, annotation, reason, fragment):
    with pytest.raises(RecordError) as caught:
        annotation_object(annotation, 4, index)
    error = caught.value
    assert error.reason == reason
    assert error.line == 5  # the 1-based position in the annotations array
    assert str(error).startswith(f"{index.path}:5: annotation #5")
    assert fragment in str(error)


# ---------------------------------------------------------------------------------------------------------------
# Sources: image entries, file names, layout


def write_coco(root: Path, images: list, annotations: list, *, name: str = "instances_train.json",
               image_files: tuple[str, ...] = ()) -> Path:
    (root / "annotations").mkdir(parents=True, exist_ok=True)
    (root / "images").mkdir(parents=True, exist_ok=True)
    for file_name in image_files:
        (root / "images" / file_name).parent.mkdir(parents=True, exist_ok=True)
        (root / "images" / file_name).write_bytes(image_bytes())
    path = root / "annotations" / name
    path.write_text(json.dumps({"images": images, "annotations": annotations, "categories": CATEGORIES}))
    return path


def parse_all(root: Path, **options) -> dict[str, object]:
    """source id -> ImageRecord, or the RecordError its parse raised."""
    source_format = get_format("coco").from_option_strings(options)
    results = {}
    for item in source_format.list_items(root, None):
        try:
            results[item.source_id] = source_format.parse(item)
        except RecordError as error:
            results[item.source_id] = error
    return results


ESCAPING = ["/etc/passwd", "../outside.jpg", "sub/../../outside.jpg", "C:\\images\\a.jpg", "\\\\server\\a.jpg",
            "..\\outside.jpg"]


@pytest.mark.parametrize("file_name", ESCAPING)
def test_file_names_leading_outside_the_image_root_are_record_errors(tmp_path, file_name):
    root = tmp_path / "src"
    write_coco(root, [{"id": 5, "file_name": file_name}, {"id": 6, "file_name": "ok.jpg"}],
               [ann(image_id=5, bbox=[1, 1, 2, 2]), ann(image_id=6, bbox=[1, 1, 2, 2])], image_files=("ok.jpg",))
    (tmp_path / "outside.jpg").write_bytes(image_bytes())  # exists, and must not be reached
    results = parse_all(root)
    error = results["5"]
    assert isinstance(error, RecordError) and error.reason == errors.MALFORMED_LINE
    assert str(error).startswith(str(root / "annotations" / "instances_train.json"))
    assert "images[0] (id 5)" in str(error) and repr(file_name) in str(error) and "outside the image folder" in str(
        error)
    assert [o.category for o in results["6"].objects] == ["bridge"]


def test_image_entry_problems_are_named(tmp_path):
    root = tmp_path / "src"
    write_coco(root, [{"id": 1, "file_name": "a.jpg"}, {"id": 1, "file_name": "b.jpg"}, {"id": 2},
                      {"file_name": "c.jpg"}, {"id": 3, "file_name": "missing.jpg"},
                      {"id": 4, "file_name": "sub/d.jpg"}, {"id": "5", "file_name": "e.jpg"}],
               [ann(image_id=4, bbox=[1, 1, 2, 2], category_id=1), ann(image_id=42, bbox=[1, 1, 2, 2]),
                ann(image_id=42, bbox=[1, 1, 2, 2]), ann(image_id=None, bbox=[1, 1, 2, 2])],
               image_files=("a.jpg", "b.jpg", "sub/d.jpg", "e.jpg"))
    results = parse_all(root)
    expected = {
        "1": (errors.MALFORMED_LINE, "image entries images[0] (id 1, file_name 'a.jpg'), images[1] (id 1, "
              "file_name 'b.jpg') have the same id 1"),
        "2": (errors.MALFORMED_LINE, "images[2] (id 2) has no 'file_name'"),
        "images[3]": (errors.MALFORMED_LINE, "images[3] has no usable 'id'"),
        "3": (errors.MISSING_IMAGE, "image images/missing.jpg (below the source root) does not exist"),
        "no-image-entry:42": (errors.MISSING_IMAGE, "2 annotation(s) (#2, #3) with image_id 42, which no entry"),
        "no-image-entry:no-image-id": (errors.MISSING_IMAGE, "1 annotation(s) (#4) with no usable image_id"),
    }
    for source_id, (reason, fragment) in expected.items():
        error = results[source_id]
        assert isinstance(error, RecordError) and error.reason == reason, source_id
        assert fragment in str(error), str(error)
    assert [(o.category, o.bbox) for o in results["4"].objects] == [("airplane", (1.0, 1.0, 3.0, 3.0))]
    assert results["5"].objects == ()  # an image without annotations: nothing to describe, not an error
    assert results["4"].image_name == "images/sub/d.jpg"


def test_a_duplicated_image_id_names_both_entries_and_what_is_accepted(tmp_path, capsys):
    root = tmp_path / "src"
    path = write_coco(root, [{"id": 1, "file_name": "a.jpg"}, {"id": 2, "file_name": "c.jpg"},
                             {"id": "1", "file_name": "b.jpg"}],
                      [ann(image_id=1, bbox=[1, 1, 2, 2]), ann(image_id=2, bbox=[1, 1, 2, 2])],
                      image_files=("a.jpg", "b.jpg", "c.jpg"))
    assert main(["convert", "coco", str(root), str(tmp_path / "out"), "--no-progress"]) == 1
    error = capsys.readouterr().err
    assert (f"{path}: image entries images[0] (id 1, file_name 'a.jpg'), images[2] (id '1', file_name 'b.jpg') "
            "have the same id 1 (ids are compared as text") in error
    assert "give each image entry an id of its own" in error and "under malformed_line)" in error


def test_options_and_discovery(tmp_path):
    root = tmp_path / "coco2017"
    (root / "train2017").mkdir(parents=True)
    (root / "val2017").mkdir()
    for split in ("train2017", "val2017"):
        (root / split / "x.jpg").write_bytes(image_bytes())
        write_coco(root, [{"id": 1, "file_name": "x.jpg"}], [ann(bbox=[1, 1, 2, 2])], name=f"instances_{split}.json")
    os.rmdir(root / "images")  # MS COCO keeps its images in train2017/ and val2017/
    official = get_format("coco").from_option_strings({"images": "{split}"})
    items = official.list_items(root, None)
    assert [(i.split, i.image_name) for i in items] == [("train2017", "train2017/x.jpg"), ("val2017", "val2017/x.jpg")]
    assert [i.split for i in official.list_items(root, ["val2017"])] == ["val2017"]
    with pytest.raises(OptionError, match="split\\(s\\) test not found .*found: train2017, val2017"):
        official.list_items(root, ["test"])
    with pytest.raises(SourceLayoutError, match="no images folder .*images for split train2017.*-o images=PATH"):
        get_format("coco")().list_items(root, None)

    named = get_format("coco").from_option_strings({
        "annotations": "train:annotations/instances_train2017.json,val:annotations/instances_val2017.json",
        "images": "{split}2017"})
    assert named.options == CocoOptions(annotations="train:annotations/instances_train2017.json,"
                                                    "val:annotations/instances_val2017.json", images="{split}2017")
    assert [i.split for i in named.list_items(root, None)] == ["train", "val"]

    single = tmp_path / "single"
    write_coco(single, [{"id": 1, "file_name": "x.jpg"}], [], name="hrrsd.json", image_files=("x.jpg",))
    # A single file without --split: the split its name states, else "train", with a note (issue 16).
    fmt = get_format("coco")()
    assert [i.split for i in fmt.list_items(single, None)] == ["train"]
    assert "names no split" in fmt.notes[0] and "hrrsd.json" in fmt.notes[0]
    assert [i.split for i in get_format("coco")().list_items(single, ["trainval"])] == ["trainval"]


@pytest.mark.parametrize("file_name,split,noted", [
    ("instances_train2017.json", "train", True), ("train.json", "train", False), ("val2017.json", "val", True),
    ("instances_test.json", "test", False), ("annotations.json", "train", True), ("test-dev.json", "test_dev", True),
])
def test_single_file_split_name(tmp_path, file_name, split, noted):
    write_coco(tmp_path, [{"id": 1, "file_name": "x.jpg"}], [], name=file_name, image_files=("x.jpg",))
    fmt = get_format("coco")()
    assert [i.split for i in fmt.list_items(tmp_path, None)] == [split]
    assert bool(fmt.notes) == noted
    with_option = get_format("coco").from_option_strings({"annotations": f"annotations/{file_name}"})
    assert [i.split for i in with_option.list_items(tmp_path, None)] == [split]


@pytest.mark.parametrize("options,message", [
    ({"annotations": "train:"}, "entry 'train:' is not SPLIT:PATH"),
    ({"annotations": ":a.json"}, "entry ':a.json' is not SPLIT:PATH"),
    ({"annotations": "train:../a.json"}, "without '..'"),
    ({"annotations": "train:/data/a.json"}, "relative to the source root"),
    ({"annotations": "a.json,b.json"}, "entry 'a.json' is not SPLIT:PATH"),
    ({"annotations": "train:a.json,train:b.json"}, "names a split twice"),
    ({"images": "../images"}, "option images='../images' must be a folder path relative to the source root"),
    ({"images": "/data/images"}, "option images='/data/images'"),
    ({"crowd": "yes"}, "option crowd='yes' is not accepted; accepted: drop"),
    ({"crowds": "keep"}, "no option 'crowds'; valid options: annotations, crowd, images"),
], ids=["no path", "no split", "dot-dot", "absolute", "two bare paths", "split twice", "images dot-dot",
        "images absolute", "crowd value", "unknown option"])
def test_bad_options_name_the_option_value_and_choices(options, message):
    with pytest.raises(OptionError) as caught:
        get_format("coco").from_option_strings(options)
    assert message in str(caught.value)


def test_annotation_option_forms():
    assert parse_annotation_option("a/x.json") == [(None, "a/x.json")]
    assert parse_annotation_option(" train : a/t.json , val:a/v.json") == [("train", "a/t.json"), ("val", "a/v.json")]


LAYOUT_ERRORS = [
    ("not JSON", b'{"images": [}', "not valid JSON (Expecting value at line 1 column 13)"),
    ("not UTF-8", b'{"images": "\xff"}', "not UTF-8 text"),
    ("a list", b"[]", "the JSON is a list, not an object"),
    ("no images", b'{"annotations": [], "categories": []}', "'images' is missing, not a list"),
    ("annotations not a list", b'{"images": [], "annotations": {}, "categories": []}',
     "'annotations' is a dict, not a list"),
    ("category without name", b'{"images": [], "annotations": [], "categories": [{"id": 3}]}',
     "categories[0] is {'id': 3}; each category needs an 'id'"),
    ("category id twice", b'{"images": [], "annotations": [], "categories": [{"id": 3, "name": "a"}, '
     b'{"id": 3, "name": "b"}]}', "category id 3 appears twice (categories[1] 'b'"),
]


@pytest.mark.parametrize("name,data,fragment", LAYOUT_ERRORS, ids=[row[0] for row in LAYOUT_ERRORS])
def test_unusable_annotation_files_are_layout_errors(tmp_path, name, data, fragment):
    root = tmp_path / "src"
    (root / "images").mkdir(parents=True)
    (root / "annotations").mkdir()
    path = root / "annotations" / "instances_train.json"
    path.write_bytes(data)
    with pytest.raises(SourceLayoutError) as caught:
        get_format("coco")().list_items(root, None)
    assert str(caught.value).startswith(f"{path}: ") and fragment in str(caught.value)


def test_missing_folders_and_files_name_what_was_searched(tmp_path):
    source_format = get_format("coco")()
    with pytest.raises(SourceLayoutError, match="does not exist"):
        source_format.list_items(tmp_path / "nowhere", None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceLayoutError) as caught:
        source_format.list_items(tmp_path / "empty", None)
    assert f"no annotation file (*.json) in {tmp_path / 'empty'}" in str(caught.value)
    assert "annotations/instances_train.json" in str(caught.value)
    with pytest.raises(SourceLayoutError, match="annotation file .*train.json .*does not exist"):
        get_format("coco").from_option_strings({"annotations": "train:train.json"}).list_items(tmp_path / "empty",
                                                                                                None)
    write_coco(tmp_path / "noimages", [], [])
    os.rmdir(tmp_path / "noimages" / "images")
    with pytest.raises(SourceLayoutError, match=f"no images folder {tmp_path / 'noimages' / 'images'} for split"):
        source_format.list_items(tmp_path / "noimages", None)


def test_each_annotation_file_is_parsed_once_per_process(tmp_path, monkeypatch):
    root = tmp_path / "src"
    path = write_coco(root, [{"id": i, "file_name": f"{i}.jpg"} for i in range(5)],
                      [ann(image_id=i, bbox=[1, 1, 2, 2]) for i in range(5)],
                      image_files=tuple(f"{i}.jpg" for i in range(5)))
    calls = []
    parse_file = coco._parse_file
    monkeypatch.setattr(coco, "_parse_file", lambda p: calls.append(p) or parse_file(p))
    results = parse_all(root)
    assert len(results) == 5 and calls == [path]
    path.write_text(path.read_text().replace('"bridge"', '"bridges"'))
    os.utime(path, ns=(1, 1))  # a changed file (size and time) is read again
    assert [o.category for o in parse_all(root)["0"].objects] == ["bridges"] and calls == [path, path]


# ---------------------------------------------------------------------------------------------------------------
# Real sample (HRRSD's COCO JSON, without images)


def independent_count(path: Path) -> tuple[int, Counter]:
    """Images and objects per category of a COCO file, counted with plain dictionary handling: every annotation's
    category name, except crowds and ignore regions."""
    data = json.loads(path.read_text(encoding="utf-8"))
    names = {c["id"]: c["name"] for c in data["categories"]}
    return len(data["images"]), Counter(names[a["category_id"]] for a in data["annotations"]
                                        if not a.get("iscrowd") and not a.get("ignore"))


def test_real_hrrsd_json_parses_to_the_files_counts():
    path = realdata("coco_rs") / "hrrsd_tiny_100_3084.json"
    index = load_coco(path)
    counts = Counter(annotation_object(a, position, index).category
                     for entries in index.annotations.values() for position, a in entries)
    images, expected = independent_count(path)
    assert len(index.images) == images == 100 and not index.orphans
    assert counts == expected and sum(counts.values()) == 249
    assert index.categories["0"] == "bridge" and index.categories["12"] == "storage tank"


def test_real_hrrsd_json_converts_to_missing_image_skips(tmp_path):
    """The sample has no images: each image is reported as missing_image, none is guessed."""
    real = realdata("coco_rs") / "hrrsd_tiny_100_3084.json"
    source = tmp_path / "hrrsd"
    (source / "annotations").mkdir(parents=True)
    (source / "images").mkdir()
    (source / "annotations" / "instances_trainval.json").symlink_to(real)
    out = tmp_path / "out"
    # Every record left out: the build says so (exit 1) and its report lists them.
    assert main(["convert", "coco", str(source), str(out), "--no-progress", "--on-error", "skip",
                 "--allow-outside-links"]) == 1
    report = json.loads((out / "build_report.json").read_text())
    assert report["skipped_per_reason"] == {"missing_image": 100}
    first = report["skipped"][0]
    assert first["path"].endswith("instances_trainval.json") and "(below the source root) does not exist" in first[
        "message"]
    assert not list(out.glob("data/*.parquet"))


# ---------------------------------------------------------------------------------------------------------------
# Round trip


def test_generated_source_round_trip_through_convert(tmp_path):
    source = tmp_path / "coco"
    expected = write_source(source, 30, seed=4)
    out = tmp_path / "out"
    assert main(["convert", "coco", str(source), str(out), "--no-progress", "--on-error", "skip"]) == 0
    rows = [row for p in sorted((out / "data").glob("*.parquet")) for row in pq.read_table(p).to_pylist()]
    assert all(len(row["captions"]) == 5 for row in rows)
    assert {row["source_split"] for row in rows} == {"train", "val"}
    assert Counter(o["category"] for row in rows for o in row["objects"]) == expected
    report = json.loads((out / "build_report.json").read_text())
    assert set(report["skipped_per_reason"]) == {"no_objects"}  # images without annotations, nothing else
