"""The AU-AIR annotations.json reader: table-driven good, empty and bad records; layouts; the JSON cache; the real
sample; a round trip through the command line."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rsdata import errors
from rsdata.cli import main
from rsdata.errors import OptionError, RecordError, SourceLayoutError
from rsdata.formats import auair, get_format
from rsdata.formats.auair import AUAIR_CATEGORIES, AuairOptions, load_annotations, parse_record
from tests.conftest import image_bytes, realdata
from tests.formats.generators.auair import write_source


def record(boxes, **fields) -> dict:
    base = {"image_name": "frame_1.jpg", "image_width": 1920.0, "image_height": 1080.0, "longtitude": 10.1,
            "latitude": 56.2, "altitude": 19921.6, "bbox": boxes}
    base.update(fields)
    return base


def box(top=10, left=20, height=30, width=40, label=1, **extra) -> dict:
    return {"top": top, "left": left, "height": height, "width": width, "class": label, **extra}


GOOD_BOXES = [
    # id, box, categories, category, bbox (left, top, left + width, top + height)
    ("real sample box", box(163, 1098, 185, 420, 1), AUAIR_CATEGORIES, "Car", (1098, 163, 1518, 348)),
    ("reaches the far edges", box(927, 1703, 153, 217, 0), AUAIR_CATEGORIES, "Human", (1703, 927, 1920, 1080)),
    ("float coordinates", box(1.5, 2.25, 3.0, 4.0, 3), AUAIR_CATEGORIES, "Van", (2.25, 1.5, 6.25, 4.5)),
    ("zero width kept", box(5, 6, 7, 0, 7), AUAIR_CATEGORIES, "Trailer", (6, 5, 6, 12)),
    ("integral float class", box(label=2.0), AUAIR_CATEGORIES, "Truck", (20, 10, 60, 40)),
    ("file's own categories", box(label=1), ("person", "vehicle"), "vehicle", (20, 10, 60, 40)),
    ("extra keys ignored", box(label=6, score=0.9), AUAIR_CATEGORIES, "Bus", (20, 10, 60, 40)),
]


@pytest.mark.parametrize("name,raw,categories,category,bbox", GOOD_BOXES, ids=[row[0] for row in GOOD_BOXES])
def test_good_boxes(name, raw, categories, category, bbox):
    (obj,) = parse_record(record([raw]), 0, categories, Path("annotations.json"))
    assert obj.category == category
    assert obj.bbox == tuple(float(v) for v in bbox)
    assert obj.polygon == () and obj.difficult is False


@pytest.mark.parametrize("fields", [{}, {"image_width:": 1920.0, "image_width": None}, {"image_height": 1080}],
                         ids=["plain keys", "colon width key", "integer height"])
def test_size_key_spellings(fields):
    rec = record([box()], **fields)
    if fields.get("image_width", 0) is None:
        del rec["image_width"]
    assert len(parse_record(rec, 0, AUAIR_CATEGORIES, Path("a.json"))) == 1


def test_empty_bbox_list_is_a_frame_without_objects():
    assert parse_record(record([]), 0, AUAIR_CATEGORIES, Path("a.json")) == ()


BAD_RECORDS = [
    # id, record, reason, fragment
    ("bbox missing", {"image_name": "frame_1.jpg"}, errors.MALFORMED_LINE, "annotations[1].bbox is null"),
    ("bbox not a list", record({"top": 1}), errors.MALFORMED_LINE, "annotations[1].bbox is {"),
    ("box not an object", record([[1, 2, 3, 4]]), errors.MALFORMED_LINE, "annotations[1].bbox[0] is [1, 2, 3, 4]"),
    ("class missing", record([box(), {"top": 1, "left": 2, "height": 3, "width": 4}]), errors.MALFORMED_LINE,
     "annotations[1].bbox[1] lacks class"),
    ("text coordinate", record([box(top="12")]), errors.BAD_NUMBER, 'annotations[1].bbox[0].top is "12"'),
    ("nan width", record([box(width=float("nan"))]), errors.BAD_NUMBER, "bbox[0].width is NaN, not a finite"),
    ("negative height", record([box(height=-3)]), errors.BAD_NUMBER, "negative size (width 40, height -3)"),
    ("class out of range", record([box(label=8)]), errors.UNKNOWN_CLASS, "bbox[0].class is 8, not an index"),
    ("fractional class", record([box(label=1.5)]), errors.BAD_NUMBER, "bbox[0].class is 1.5; expected an integer"),
    ("boolean class", record([box(label=True)]), errors.BAD_NUMBER, "bbox[0].class is true"),
    ("bad declared width", record([box()], image_width="wide"), errors.BAD_NUMBER,
     'annotations[1].image_width is "wide"'),
    ("zero declared height", record([box()], image_height=0), errors.BAD_NUMBER, "image_height is 0"),
    ("box outside the frame", record([box(), box(left=1925)]), errors.OBJECT_OUTSIDE_IMAGE,
     "annotations[1].bbox[1] (frame_1.jpg): Car box (1925, 10, 1965, 40) lies outside the 1920 x 1080 image"),
]


def write_tree(root: Path, records: list, *, categories=AUAIR_CATEGORIES, images=("frame_0.jpg", "frame_1.jpg"),
               layout: str = "flat") -> Path:
    annotations = root / ("annotations.json" if layout == "flat" else "auair2019annotations/annotations.json")
    images_dir = root / ("images" if layout == "flat" else "auair2019data/images")
    annotations.parent.mkdir(parents=True, exist_ok=True)
    images_dir.mkdir(parents=True, exist_ok=True)
    document = {"info": {}, "licenses": [], "annotations": records}
    if categories is not None:
        document["categories"] = list(categories)
    annotations.write_text(json.dumps(document), encoding="utf-8")
    for name in images:
        (images_dir / name).write_bytes(image_bytes())
    return annotations


@pytest.mark.parametrize("name,rec,reason,fragment", BAD_RECORDS, ids=[row[0] for row in BAD_RECORDS])
def test_bad_records_name_file_record_and_problem(tmp_path, name, rec, reason, fragment):
    path = write_tree(tmp_path, [record([box()], image_name="frame_0.jpg"), rec])
    source = get_format("auair")()
    items = {item.source_id: item for item in source.list_items(tmp_path, None)}
    assert source.parse(items["frame_0"]).objects  # the good record beside it parses
    with pytest.raises(RecordError) as caught:
        source.parse(items["frame_1"])
    error = caught.value
    assert error.reason == reason
    assert str(error).startswith(f"{path}: ") and fragment in str(error), str(error)


BAD_FILES = [
    ("empty", b"", errors.EMPTY_LABEL_FILE, "annotation file is empty", None),
    ("not json", b'{"annotations": [\n{"image_name": "a.jpg",,}]}', errors.MALFORMED_LINE, "not valid JSON", 2),
    ("not utf-8", b'{"annotations": [{"image_name": "v\xe9hicule.jpg"}]}', errors.NOT_UTF8, "0xe9", 1),
    ("a list", b"[]", errors.MALFORMED_LINE, "expected an object with an 'annotations' list", None),
    ("no annotations key", b'{"images": []}', errors.MALFORMED_LINE, "found ['images']", None),
    ("bad categories", b'{"categories": [1, 2], "annotations": []}', errors.MALFORMED_LINE,
     "'categories' is [1, 2]", None),
]


@pytest.mark.parametrize("name,data,reason,fragment,line", BAD_FILES, ids=[row[0] for row in BAD_FILES])
def test_bad_annotation_files_stop_the_listing_naming_the_file(tmp_path, name, data, reason, fragment, line):
    (tmp_path / "images").mkdir()
    (tmp_path / "annotations.json").write_bytes(data)
    with pytest.raises(RecordError) as caught:
        get_format("auair")().list_items(tmp_path, None)
    assert caught.value.reason == reason and caught.value.line == line
    assert str(caught.value).startswith(str(tmp_path / "annotations.json")) and fragment in str(caught.value)


def test_categories_default_table_and_coco_style_objects(tmp_path):
    write_tree(tmp_path, [record([box(label=7)], image_name="frame_0.jpg")], categories=None)
    source = get_format("auair")()
    (item,) = [i for i in source.list_items(tmp_path, None) if i.source_id == "frame_0"]
    assert source.parse(item).objects[0].category == "Trailer"

    coco = tmp_path / "coco"
    write_tree(coco, [record([box(label=1)], image_name="frame_0.jpg")],
               categories=[{"id": 1, "name": "Car"}, {"id": 0, "name": "Human"}])
    (item,) = [i for i in source.list_items(coco, None) if i.source_id == "frame_0"]
    assert source.parse(item).objects[0].category == "Car"


def test_missing_image_missing_record_duplicates_and_nameless_records(tmp_path):
    path = write_tree(tmp_path, [
        record([box()], image_name="frame_0.jpg"),
        record([box()], image_name="frame_gone.jpg"),
        record([box()], image_name="frame_twice.jpg"),
        record([box(label=0)], image_name="frame_twice.jpg"),
        {"bbox": [box()]},
    ], images=("frame_0.jpg", "frame_1.jpg", "frame_twice.jpg"))
    source = get_format("auair")()
    items = source.list_items(tmp_path, None)
    assert [i.source_id for i in items] == ["annotations[4]", "frame_0", "frame_1", "frame_gone", "frame_twice"]
    by_id = {i.source_id: i for i in items}
    assert by_id["frame_0"].image_name == "images/frame_0.jpg" and by_id["frame_0"].size_bytes > 0

    expected = {
        "frame_gone": (errors.MISSING_IMAGE, "annotations[1] names image images/frame_gone.jpg, which does not exist"),
        "frame_twice": (errors.MALFORMED_LINE, ("2 records name image images/frame_twice.jpg: annotations[2], "
                                                "annotations[3]")),
        "annotations[4]": (errors.MALFORMED_LINE, "annotations[4] has no image_name"),
    }
    for source_id, (reason, fragment) in expected.items():
        with pytest.raises(RecordError) as caught:
            source.parse(by_id[source_id])
        assert caught.value.reason == reason and str(caught.value).startswith(str(path)), source_id
        assert fragment in str(caught.value)
    with pytest.raises(RecordError) as caught:
        source.parse(by_id["frame_1"])
    assert caught.value.reason == errors.MISSING_ANNOTATION and "frame_1.jpg" in str(caught.value)


def test_an_image_name_leading_outside_the_images_folder_is_named_as_such(tmp_path, capsys):
    path = write_tree(tmp_path / "src", [record([box()], image_name="frame_0.jpg"),
                                         record([box()], image_name="../frame_1.jpg")])
    assert main(["convert", "auair", str(tmp_path / "src"), str(tmp_path / "out"), "--no-progress"]) == 1
    error = capsys.readouterr().err
    assert (f"{path}: annotations[1].image_name '../frame_1.jpg' leads outside the images folder (an absolute path "
            "or a '..' part") in error
    assert "expected a file name in the images folder" in error and "has no image_name" not in error


def test_layouts_publisher_flat_and_options(tmp_path):
    published = tmp_path / "published"
    write_tree(published, [record([box()], image_name="frame_0.jpg")], images=("frame_0.jpg",), layout="published")
    source = get_format("auair")()
    (item,) = source.list_items(published, None)
    assert item.image_name == "auair2019data/images/frame_0.jpg" and item.split == "train"
    assert item.annotation_path == published / "auair2019annotations" / "annotations.json"
    assert source.list_items(published, ["trainval"])[0].split == "trainval"
    with pytest.raises(OptionError, match="no split folders: .* at most one --split"):
        source.list_items(published, ["train", "val"])

    moved = tmp_path / "moved"
    write_tree(moved / "json", [record([box()], image_name="frame_0.jpg")], images=("frame_0.jpg",))
    chosen = get_format("auair").from_option_strings({"annotations": "json/annotations.json", "images": "json/images"})
    assert chosen.options == AuairOptions(annotations="json/annotations.json", images="json/images")
    assert chosen.list_items(moved, None)[0].image_path == moved / "json" / "images" / "frame_0.jpg"
    with pytest.raises(SourceLayoutError, match="no AU-AIR annotation file in .*moved: looked for annotations.json "
                       "and auair2019annotations/annotations.json"):
        source.list_items(moved, None)
    with pytest.raises(OptionError, match="no option 'image'; valid options: annotations, images"):
        get_format("auair").from_option_strings({"image": "x"})
    with pytest.raises(OptionError, match="option images='/abs': expected a path relative to the source folder"):
        get_format("auair").from_option_strings({"images": "/abs"})


def test_missing_folders_name_what_was_searched(tmp_path):
    source = get_format("auair")()
    with pytest.raises(SourceLayoutError, match="does not exist"):
        source.list_items(tmp_path / "nowhere", None)
    (tmp_path / "annotations.json").write_text('{"annotations": []}')
    with pytest.raises(SourceLayoutError, match=f"no AU-AIR images folder in {tmp_path}: looked for images and "
                       "auair2019data/images"):
        source.list_items(tmp_path, None)
    with pytest.raises(SourceLayoutError, match="annotation file .*nope.json \\(option annotations=nope.json\\) does "
                       "not exist"):
        get_format("auair").from_option_strings({"annotations": "nope.json"}).list_items(tmp_path, None)


def test_the_json_is_parsed_once_per_process(tmp_path, monkeypatch):
    write_source(tmp_path, 20)
    reads = []
    original = auair._read_index
    monkeypatch.setattr(auair, "_read_index", lambda path: reads.append(path) or original(path))
    auair._CACHE.clear()
    source = get_format("auair")()
    for item in source.list_items(tmp_path, None):
        source.parse(item)
    assert len(reads) == 1
    path = reads[0]
    path.write_text(path.read_text(encoding="utf-8") + "\n", encoding="utf-8")  # a changed file is read again
    load_annotations(path)
    assert len(reads) == 2


def independent_auair_count(path: Path) -> Counter:
    """Objects per category with plain string handling: the categories list and every box's "class" number."""
    text = path.read_text(encoding="utf-8")
    names = re.findall(r'"([^"]+)"', re.search(r'"categories":\s*\[([^\]]*)\]', text).group(1))
    return Counter(names[int(n)] for n in re.findall(r'"class":\s*(\d+)', text))


def test_real_sample_parses_to_the_files_counts():
    root = realdata("auair_json")
    source = get_format("auair")()
    items = source.list_items(root, None)
    assert len(items) == 80
    assert sorted(i.source_id for i in items if i.image_path is not None) == sorted(
        p.stem for p in (root / "images").glob("*.jpg"))
    index = load_annotations(root / "annotations.json")
    parsed = Counter(o.category for number, rec in enumerate(index.records)
                     for o in parse_record(rec, number, index.categories, index.path))
    assert parsed == independent_auair_count(root / "annotations.json")
    assert parsed == Counter({"Car": 265, "Truck": 28, "Van": 18, "Human": 15, "Trailer": 6, "Bus": 2, "Bicycle": 1})


def test_real_sample_converts_its_six_images_and_reports_the_rest_missing(tmp_path):
    root = realdata("auair_json")
    out = tmp_path / "out"
    assert main(["convert", "auair", str(root), str(out), "--no-progress", "--on-error", "skip"]) == 0
    rows = [row for shard in sorted((out / "data").glob("*.parquet")) for row in pq.read_table(shard).to_pylist()]
    assert sorted(r["source_id"] for r in rows) == sorted(p.stem for p in (root / "images").glob("*.jpg"))
    assert all(len(r["captions"]) == 5 for r in rows)
    report = json.loads((out / "build_report.json").read_text())
    assert report["skipped_per_reason"] == {errors.MISSING_IMAGE: 74}
    index = load_annotations(root / "annotations.json")
    expected = Counter()
    for number, rec in enumerate(index.records):
        if (root / "images" / rec["image_name"]).is_file():
            expected.update(o.category for o in parse_record(rec, number, index.categories, index.path))
    assert Counter(o["category"] for r in rows for o in r["objects"]) == expected == Counter(
        {"Car": 12, "Human": 3, "Van": 1})


def test_round_trip_generated_source_through_the_command_line(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    expected = write_source(src, 30, seed=3)
    assert main(["convert", "auair", str(src), str(out), "--no-progress"]) == 0
    rows = [row for shard in sorted((out / "data").glob("*.parquet")) for row in pq.read_table(shard).to_pylist()]
    assert Counter(o["category"] for r in rows for o in r["objects"]) == expected
    report = json.loads((out / "build_report.json").read_text())
    assert report["skipped_per_reason"] == {errors.NO_OBJECTS: 3}  # frames 4, 13 and 22 have no boxes
    assert all(len(r["captions"]) == 5 and r["image"]["path"].startswith("auair2019data/images/") for r in rows)
