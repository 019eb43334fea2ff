"""iSAID masks: instance boxes from the instance-id PNG (checked against the colour PNG and an independent
reading), per-class m2b/1 boxes against an OpenCV reference, 896-pixel tiles at image edges, bad input and a
generated round trip."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from PIL import Image

import rsdata.formats.isaid  # noqa: F401  (registers the format)
from rsdata import errors
from rsdata.errors import OptionError, RecordError
from rsdata.formats import get_format
from rsdata.formats.rgb_mask import COLOUR_TABLES
from tests.conftest import image_bytes, realdata
from tests.formats.test_index_mask import convert, opencv_boxes, row_boxes
from tests.formats.test_rgb_mask import packed

LABELS = COLOUR_TABLES["isaid"].labels


def independent_instances(folder, stem, window=None) -> Counter:
    """Per instance id (R + 256 G + 65536 B, read with Pillow): its class from the colour PNG and its pixel bounds."""
    ids = np.asarray(Image.open(folder / f"{stem}_instance_id_RGB.png")).astype(np.int64)
    colours = packed(np.asarray(Image.open(folder / f"{stem}_instance_color_RGB.png")))
    ids = ids[..., 0] + 256 * ids[..., 1] + 65536 * ids[..., 2]
    if window is not None:
        x, y, w, h = window
        ids, colours = ids[y:y + h, x:x + w], colours[y:y + h, x:x + w]
    ys, xs = np.nonzero(ids)
    values, number = np.unique(ids[ys, xs], return_inverse=True)
    bounds = np.zeros((len(values), 4), dtype=np.int64)
    bounds[:, :2] = np.iinfo(np.int64).max
    np.minimum.at(bounds[:, 0], number, xs), np.minimum.at(bounds[:, 1], number, ys)
    np.maximum.at(bounds[:, 2], number, xs + 1), np.maximum.at(bounds[:, 3], number, ys + 1)
    low = np.full(len(values), np.iinfo(np.int64).max)
    high = np.zeros(len(values), dtype=np.int64)
    np.minimum.at(low, number, colours[ys, xs]), np.maximum.at(high, number, colours[ys, xs])
    assert np.array_equal(low, high)  # each instance lies on one class colour
    return Counter((LABELS[int(c)], tuple(float(v) for v in box)) for c, box in zip(low, bounds))


def test_real_samples_instances_and_m2b(tmp_path):
    source = realdata("isaid_masks")
    folder = source / "train" / "images"
    rows, report = convert(source, tmp_path / "instances", fmt="isaid")
    assert report["skipped_per_reason"] == {errors.MISSING_IMAGE: 1}  # P0002's image is not in the sample
    (row,) = rows
    expected = independent_instances(folder, "P0005")
    assert row_boxes(row) == expected
    assert Counter(label for (label, _), n in expected.items() for _ in range(n)) == {"Large_Vehicle": 99,
                                                                                      "Small_Vehicle": 32}
    assert len(row["captions"]) == 5

    rows, _ = convert(source, tmp_path / "m2b", "boxes=m2b", fmt="isaid")
    (row,) = rows
    mask = packed(np.asarray(Image.open(folder / "P0005_instance_color_RGB.png")))
    assert row_boxes(row) == opencv_boxes(mask, LABELS, ignore={0})
    assert len(row["captions"]) == 5

    # P0002 (masks only): instances parse too, 289 of them
    fmt = get_format("isaid")()
    item = next(i for i in fmt.list_items(source, None) if i.source_id == "P0002")
    objects = fmt.read_objects(item, __import__("rsdata.raster").raster.read_raster_info(item.annotation_path),
                               (0, 0, 2557, 2086))[0]
    assert Counter((o.category, o.bbox) for o in objects) == independent_instances(folder, "P0002")


def test_real_tiles_at_image_edges():
    source = realdata("isaid_masks")
    folder = source / "train" / "images"
    fmt = get_format("isaid")()
    items = fmt.tile_items([i for i in fmt.list_items(source, None) if i.source_id == "P0005"], 896, 0.25)  # 884 x 977
    assert [i.window for i in items] == [(0, 0, 884, 896), (0, 81, 884, 896)]
    for item in items:
        record = fmt.parse(item)
        assert record.provenance.tile_offset == item.window[:2] and record.image_data is not None
        assert Counter((o.category, o.bbox) for o in record.objects) == independent_instances(folder, "P0005",
                                                                                             item.window)


def write_item(root, colour, instance, *, image=True, stem="P0001"):
    folder = root / "train" / "images"
    folder.mkdir(parents=True, exist_ok=True)
    if image:
        (folder / f"{stem}.png").write_bytes(image_bytes(colour.shape[1], colour.shape[0], fmt="PNG"))
    Image.fromarray(colour).save(folder / f"{stem}_instance_color_RGB.png")
    if instance is not None:
        Image.fromarray(instance).save(folder / f"{stem}_instance_id_RGB.png")


def touching_ships():
    colour = np.zeros((48, 64, 3), dtype=np.uint8)
    instance = np.zeros((48, 64, 3), dtype=np.uint8)
    colour[10:20, 10:40] = (0, 0, 63)  # ship
    instance[10:20, 10:25] = (75, 25, 120)
    instance[10:20, 25:40] = (85, 10, 200)
    colour[30:31, 50:51] = (0, 127, 255)  # a one-pixel plane
    instance[30:31, 50:51] = (95, 35, 180)
    return colour, instance


def test_touching_instances_are_two_boxes_but_one_m2b_region(tmp_path):
    write_item(tmp_path, *touching_ships())
    instances = get_format("isaid")()
    record = instances.parse(instances.list_items(tmp_path, None)[0])
    assert [(o.category, o.bbox) for o in record.objects] == [
        ("ship", (10.0, 10.0, 25.0, 20.0)), ("ship", (25.0, 10.0, 40.0, 20.0)), ("plane", (50.0, 30.0, 51.0, 31.0))]
    regions = get_format("isaid").from_option_strings({"boxes": "m2b", "min_area": "2"})
    record = regions.parse(regions.list_items(tmp_path, None)[0])
    assert [(o.category, o.bbox) for o in record.objects] == [("ship", (10.0, 10.0, 40.0, 20.0))]
    assert dict(record.dropped_objects) == {"region_below_min_area": 1}
    ignoring = get_format("isaid").from_option_strings({"ignore": "unlabeled,plane"})
    assert [o.category for o in ignoring.parse(ignoring.list_items(tmp_path, None)[0]).objects] == ["ship", "ship"]


def test_bad_input(tmp_path):
    colour, instance = touching_ships()
    write_item(tmp_path / "no_instances", colour, None)
    fmt = get_format("isaid")()
    with pytest.raises(RecordError) as caught:
        fmt.parse(fmt.list_items(tmp_path / "no_instances", None)[0])
    assert caught.value.reason == errors.MISSING_ANNOTATION and "P0001_instance_id_RGB.png" in str(caught.value)

    bad = colour.copy()
    bad[47, 63] = (9, 9, 9)
    write_item(tmp_path / "unknown", bad, instance)
    with pytest.raises(RecordError) as caught:
        fmt.parse(fmt.list_items(tmp_path / "unknown", None)[0])
    assert caught.value.reason == errors.UNKNOWN_CLASS and "colour (9, 9, 9) at pixel (63, 47)" in str(caught.value)

    write_item(tmp_path / "size", colour, instance[:40])
    with pytest.raises(RecordError) as caught:
        fmt.parse(fmt.list_items(tmp_path / "size", None)[0])
    assert "P0001_instance_id_RGB.png" in str(caught.value) and "P0001_instance_color_RGB.png" in str(caught.value)

    write_item(tmp_path / "no_image", colour, instance, image=False)
    (item,) = fmt.list_items(tmp_path / "no_image", None)
    with pytest.raises(RecordError) as caught:
        fmt.parse(item)
    assert caught.value.reason == errors.MISSING_IMAGE

    with pytest.raises(OptionError, match="boxes='boxes': expected one of instances, m2b"):
        get_format("isaid").from_option_strings({"boxes": "boxes"})


def test_generated_source_round_trip(tmp_path):
    from tests.formats.generators.isaid import write_source

    expected = write_source(tmp_path / "src", 10, seed=4)
    for boxes in ("instances", "m2b"):
        rows, _ = convert(tmp_path / "src", tmp_path / boxes, f"boxes={boxes}", fmt="isaid")
        assert Counter(o["category"] for r in rows for o in r["objects"]) == expected
        assert all(len(r["captions"]) == 5 for r in rows)
