"""Index masks (LoveDA, ISPRS via mmsegmentation): real samples against an OpenCV reference, tiles at image edges,
layouts, options, bad input, georeferenced tiles and a generated round trip."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import rsdata.formats.index_mask  # noqa: F401  (registers the format)
from rsdata import errors
from rsdata.errors import OptionError, RecordError, SourceLayoutError
from rsdata.formats import get_format
from tests.conftest import image_bytes, realdata

LOVEDA = ("no-data", "background", "building", "road", "water", "barren", "forest", "agricultural")
ISPRS = ("boundary", "impervious_surface", "building", "low_vegetation", "tree", "car", "clutter")


def opencv_boxes(mask: np.ndarray, labels, ignore=()) -> Counter:
    """The reference (TEST-ONLY OpenCV): per class, the bounding rectangles of findContours(RETR_EXTERNAL)."""
    import cv2

    boxes: Counter = Counter()
    for value in np.unique(mask):
        if int(value) in ignore:
            continue
        contours, _ = cv2.findContours((mask == value).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        for contour in contours:
            x, y, w, h = cv2.boundingRect(contour)
            boxes[(labels[int(value)], (float(x), float(y), float(x + w), float(y + h)))] += 1
    return boxes


def row_boxes(row) -> Counter:
    return Counter((o["category"], tuple(o["bbox"])) for o in row["objects"])


def convert(source: Path, out: Path, *options: str, fmt: str = "index_mask", tile: int | None = None):
    import pyarrow.parquet as pq

    from rsdata.cli import main

    args = ["convert", fmt, str(source), str(out), "--no-progress", "--on-error", "skip"]
    args += ["--tile", str(tile)] if tile is not None else []
    for option in options:
        args += ["-o", option]
    assert main(args) == 0
    report = json.loads((out / "build_report.json").read_text())
    return pq.read_table(out / "data").to_pylist(), report


def test_real_loveda_and_potsdam_match_opencv_and_get_five_captions(tmp_path):
    loveda = realdata("loveda_masks")
    rows, report = convert(loveda, tmp_path / "loveda", "classes=loveda")
    # 0.png has its image; 2.png's image is not in the sample: a missing_image skip, not a guess
    assert report["skipped_per_reason"] == {errors.MISSING_IMAGE: 1}
    (row,) = rows
    mask = np.asarray(Image.open(loveda / "ann_dir" / "0.png"))
    assert row_boxes(row) == opencv_boxes(mask, LOVEDA, ignore={0})
    assert len(row["captions"]) == 5 and row["caption_rule"] == "b2c/1"
    assert row["image_encoding"] == "original"  # a whole PNG passes through byte for byte
    assert row["image"]["bytes"] == (loveda / "img_dir" / "0.png").read_bytes()

    potsdam = realdata("isprs_potsdam_vaihingen") / "potsdam"
    rows, _ = convert(potsdam, tmp_path / "potsdam", "classes=potsdam_mmseg", "ignore=boundary,clutter")
    (row,) = rows
    mask = np.asarray(Image.open(potsdam / "ann_dir" / "2_10_0_0_512_512.png"))
    expected = opencv_boxes(mask, ISPRS, ignore={0, 6})
    assert row_boxes(row) == expected and sum(expected.values()) == 20
    assert len(row["captions"]) == 5


def test_real_loveda_tiles_at_image_edges(tmp_path):
    loveda = realdata("loveda_masks")
    fmt = get_format("index_mask").from_option_strings({"classes": "loveda"})
    items = fmt.tile_items([i for i in fmt.list_items(loveda, None) if i.source_id == "0"], 600, 0.25)
    # stride 450 over 1024: tiles at 0 and 424 (the last moved back to end at the edge)
    assert [i.window for i in items] == [(0, 0, 600, 600), (424, 0, 600, 600), (0, 424, 600, 600),
                                         (424, 424, 600, 600)]
    mask = np.asarray(Image.open(loveda / "ann_dir" / "0.png"))
    image = np.asarray(Image.open(loveda / "img_dir" / "0.png"))
    import io

    for item in items:
        record = fmt.parse(item)
        x, y, w, h = item.window
        assert record.provenance.tile_offset == (x, y) and record.provenance.source_id == "0"
        found = Counter((o.category, o.bbox) for o in record.objects)
        assert found == opencv_boxes(mask[y:y + h, x:x + w], LOVEDA, ignore={0})
        assert np.array_equal(np.asarray(Image.open(io.BytesIO(record.image_data))), image[y:y + h, x:x + w])


def write_pair(root: Path, stem: str, mask: np.ndarray | None, *, image_size=(64, 48), images="img_dir",
               masks="ann_dir") -> None:
    (root / images).mkdir(parents=True, exist_ok=True)
    (root / masks).mkdir(parents=True, exist_ok=True)
    if image_size is not None:
        (root / images / f"{stem}.png").write_bytes(image_bytes(*image_size, fmt="PNG"))
    if mask is not None:
        Image.fromarray(mask).save(root / masks / f"{stem}.png")


def small_mask(value_at=None) -> np.ndarray:
    mask = np.ones((48, 64), dtype=np.uint8)  # background
    mask[5:10, 3:20] = 2  # a building
    mask[30:40, 40:60] = 4  # water
    mask[0:2, 0:2] = 0  # no-data
    if value_at is not None:
        value, (x, y) = value_at
        mask[y, x] = value
    return mask


GOOD = [
    ("table default ignore", {}, {"background": 1, "building": 1, "water": 1}, {}),
    ("ignore by name", {"ignore": "no-data,background"}, {"building": 1, "water": 1}, {}),
    ("ignore by index", {"ignore": "0,1,4"}, {"building": 1}, {}),
    ("min area drops the building", {"min_area": "100", "ignore": "0"}, {"background": 1, "water": 1},
     {"region_below_min_area": 1}),
]


@pytest.mark.parametrize("name,options,expected,dropped", GOOD, ids=[row[0] for row in GOOD])
def test_good_masks(tmp_path, name, options, expected, dropped):
    write_pair(tmp_path, "a", small_mask())
    fmt = get_format("index_mask").from_option_strings({"classes": "loveda", **options})
    (item,) = fmt.list_items(tmp_path, None)
    record = fmt.parse(item)
    assert Counter(o.category for o in record.objects) == expected
    assert dict(record.dropped_objects) == dropped
    assert (record.width, record.height, record.image_data) == (64, 48, None)


def test_empty_mask_gives_no_objects(tmp_path):
    write_pair(tmp_path, "a", np.zeros((48, 64), dtype=np.uint8))
    fmt = get_format("index_mask").from_option_strings({"classes": "loveda"})
    assert fmt.parse(fmt.list_items(tmp_path, None)[0]).objects == ()


BAD = [
    ("unknown value", lambda root: write_pair(root, "a", small_mask((9, (7, 33)))), errors.UNKNOWN_CLASS,
     ["ann_dir/a.png", "value 9 at pixel (7, 33)", "'loveda'"]),
    ("missing mask", lambda root: write_pair(root, "a", None), errors.MISSING_ANNOTATION,
     ["img_dir/a.png", "a.png in the ann_dir folder"]),
    ("missing image", lambda root: write_pair(root, "a", small_mask(), image_size=None), errors.MISSING_IMAGE,
     ["ann_dir/a.png"]),
    ("size mismatch", lambda root: write_pair(root, "a", small_mask(), image_size=(60, 48)),
     errors.SIZE_MISMATCH, ["ann_dir/a.png", "img_dir/a.png", "64 x 48", "60 x 48"]),
    ("rgb mask", lambda root: write_pair(root, "a", np.zeros((48, 64, 3), dtype=np.uint8)),
     errors.UNSUPPORTED_IMAGE, ["ann_dir/a.png", "3 band(s)"]),
    ("corrupt mask", lambda root: (write_pair(root, "a", small_mask()),
                                   (root / "ann_dir" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")),
     errors.CORRUPT_IMAGE, ["ann_dir/a.png"]),
]


@pytest.mark.parametrize("name,make,reason,fragments", BAD, ids=[row[0] for row in BAD])
def test_bad_input_names_files_and_problem(tmp_path, name, make, reason, fragments):
    make(tmp_path)
    fmt = get_format("index_mask").from_option_strings({"classes": "loveda"})
    (item,) = fmt.list_items(tmp_path, None)
    with pytest.raises(RecordError) as caught:
        fmt.parse(item)
    assert caught.value.reason == reason
    for fragment in fragments:
        assert fragment in str(caught.value)


BAD_OPTIONS = [
    ({"classes": "cityscapes"}, "classes='cityscapes': expected one of isprs, isprs_mmseg, loveda"),
    ({"classes": "loveda", "ignore": "sky"}, "'sky' is not a class of table 'loveda'"),
    ({"classes": "loveda", "layout": "voc"}, "layout='voc': expected one of given, mmseg, auto"),
    ({"tile": "512"}, "-o tile=512 is no longer a format option; tiling is the same for every format: use --tile"),
    ({"overlap": "0.5"}, "use --overlap"),
    ({"min_area": "x"}, "min_area='x'"),
    ({"bands": "1,2"}, "bands='1,2'"),
    ({"percentiles": "98,2"}, "percentiles='98,2'"),
    ({"masks": "../x"}, "masks='../x'"),
    ({"colour": "x"}, "no option 'colour'"),
]


@pytest.mark.parametrize("options,fragment", BAD_OPTIONS, ids=[next(iter(o)) for o, _ in BAD_OPTIONS])
def test_bad_options(options, fragment):
    with pytest.raises(OptionError) as caught:
        get_format("index_mask").from_option_strings({"classes": "loveda", **options})
    assert fragment in str(caught.value)


def test_layouts(tmp_path):
    fmt = get_format("index_mask").from_option_strings({"classes": "loveda"})
    with pytest.raises(SourceLayoutError, match="no 'img_dir/' folder"):
        fmt.list_items(tmp_path, None)
    (tmp_path / "only" / "img_dir").mkdir(parents=True)
    with pytest.raises(SourceLayoutError, match="no mask folder .*ann_dir"):
        fmt.list_items(tmp_path / "only", None)

    mmseg = tmp_path / "mmseg"  # img_dir/<split>/ + ann_dir/<split>/
    for split in ("train", "val"):
        write_pair(mmseg, "a", small_mask(), images=f"img_dir/{split}", masks=f"ann_dir/{split}")
    items = fmt.list_items(mmseg, None)
    assert [(i.split, i.image_name) for i in items] == [("train", "img_dir/train/a.png"),
                                                        ("val", "img_dir/val/a.png")]
    assert [i.split for i in fmt.list_items(mmseg, ["val"])] == ["val"]
    with pytest.raises(OptionError, match="split\\(s\\) test not found .*found: train, val"):
        fmt.list_items(mmseg, ["test"])

    published = tmp_path / "loveda"  # LoveDA as published: Train/Urban/images_png + masks_png
    write_pair(published / "Train" / "Urban", "1366", small_mask(), images="images_png", masks="masks_png")
    write_pair(published / "Train" / "Rural", "0", small_mask(), images="images_png", masks="masks_png")
    write_pair(published / "Val" / "Rural", "2522", small_mask(), images="images_png", masks="masks_png")
    loveda = get_format("index_mask").from_option_strings({"classes": "loveda", "images": "images_png",
                                                           "masks": "masks_png"})
    items = loveda.list_items(published, None)
    assert [(i.split, i.source_id) for i in items] == [("Train", "0"), ("Train", "1366"), ("Val", "2522")]

    single = tmp_path / "single"
    write_pair(single, "a", small_mask())
    assert fmt.list_items(single, ["val"])[0].split == "val"


def test_potsdam_native_names_and_georeferenced_tiles(tmp_path):
    """ISPRS-style names (``_RGB.tif`` image, ``_label.tif`` mask): a GeoTIFF gives tiles their CRS, their own
    geotransform and a WGS84 footprint; a 16-bit RGB-NIR image is shown through a band list."""
    import io

    import rasterio
    import shapely
    from affine import Affine

    root = tmp_path / "potsdam"
    (root / "4_Ortho_RGBIR").mkdir(parents=True)
    (root / "5_Labels_all").mkdir(parents=True)
    rng = np.random.default_rng(1)
    transform = Affine(0.05, 0.0, 366000.0, 0.0, -0.05, 5808000.0)
    with rasterio.open(root / "4_Ortho_RGBIR" / "top_potsdam_2_10_RGBIR.tif", "w", driver="GTiff", width=100,
                       height=70, count=4, dtype="uint16", crs="EPSG:32633", transform=transform) as dataset:
        dataset.write(rng.integers(0, 4000, size=(4, 70, 100), dtype=np.uint16))
    mask = np.full((70, 100), 1, dtype=np.uint8)
    mask[60:70, 90:100] = 5  # a car in the bottom-right corner: in the last tile only
    with rasterio.open(root / "5_Labels_all" / "top_potsdam_2_10_label.tif", "w", driver="GTiff", width=100,
                       height=70, count=1, dtype="uint8", crs="EPSG:32633", transform=transform) as dataset:
        dataset.write(mask[None])
    fmt = get_format("index_mask").from_option_strings({
        "images": "4_Ortho_RGBIR", "masks": "5_Labels_all", "image_suffix": "_RGBIR.tif",
        "mask_suffix": "_label.tif", "classes": "potsdam_mmseg", "bands": "3,2,1"})
    items = fmt.tile_items(fmt.list_items(root, None), 64, 0.0)
    assert [i.window for i in items] == [(0, 0, 64, 64), (36, 0, 64, 64), (0, 6, 64, 64), (36, 6, 64, 64)]
    assert {i.source_id for i in items} == {"top_potsdam_2_10"}
    last = fmt.parse(items[-1])
    assert [(o.category, o.bbox) for o in last.objects if o.category == "car"] == [("car", (54.0, 54.0, 64.0, 64.0))]
    provenance = last.provenance
    assert provenance.crs == "EPSG:32633" and provenance.tile_offset == (36, 6)
    assert provenance.geo_transform == pytest.approx((366000.0 + 36 * 0.05, 0.05, 0.0, 5808000.0 - 6 * 0.05, 0.0,
                                                      -0.05))
    footprint = shapely.from_wkt(provenance.footprint_wgs84)
    assert 12.0 < footprint.centroid.x < 13.5 and 52.0 < footprint.centroid.y < 52.6  # Potsdam
    picture = Image.open(io.BytesIO(last.image_data))
    assert picture.mode == "RGB" and picture.size == (64, 64)


def test_generated_source_round_trip(tmp_path):
    from tests.formats.generators.index_mask import write_source

    expected = write_source(tmp_path / "src", 12, seed=5)
    rows, _ = convert(tmp_path / "src", tmp_path / "out", "classes=loveda", tile=32)
    # the generator's regions never cross a 16-pixel cell, so 32-pixel tiles keep each whole (tiles: x 0, 32; y 0, 16)
    found = Counter()
    for row in rows:
        assert len(row["captions"]) == 5
        found += Counter(o["category"] for o in row["objects"])
    assert sum(found.values()) >= sum(expected.values())  # the overlapping tile row (y 16) sees the middle cells twice
    rows, _ = convert(tmp_path / "src", tmp_path / "whole", "classes=loveda")
    assert Counter(o["category"] for r in rows for o in r["objects"]) == expected
