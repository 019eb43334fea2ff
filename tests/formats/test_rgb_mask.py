"""Colour masks (ISPRS colours, iSAID colour PNGs, UAVid): the real iSAID colour mask against an OpenCV reference,
tiles at image edges, unknown colours, band lists and a generated round trip."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from PIL import Image

import rsdata.formats.rgb_mask  # noqa: F401  (registers the format)
from rsdata import errors
from rsdata.errors import OptionError, RecordError
from rsdata.formats import get_format
from rsdata.formats.rgb_mask import COLOUR_TABLES
from tests.conftest import image_bytes, realdata
from tests.formats.test_index_mask import convert, opencv_boxes, row_boxes

ISAID_OPTIONS = ["classes=isaid", "images=images", "masks=images", "mask_suffix=_instance_color_RGB.png",
                 "exclude=_instance_id_RGB.png"]


def packed(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.int64)
    return (rgb[..., 0] << 16) | (rgb[..., 1] << 8) | rgb[..., 2]


def test_real_isaid_colour_masks_match_opencv(tmp_path):
    source = realdata("isaid_masks")
    rows, report = convert(source, tmp_path / "out", *ISAID_OPTIONS, fmt="rgb_mask")
    assert report["skipped_per_reason"] == {errors.MISSING_IMAGE: 1}  # P0002's image is not in the sample
    (row,) = rows
    mask = packed(np.asarray(Image.open(source / "train" / "images" / "P0005_instance_color_RGB.png")))
    labels = COLOUR_TABLES["isaid"].labels
    expected = opencv_boxes(mask, labels, ignore={0})
    assert row_boxes(row) == expected
    assert {label for label, _ in expected} == {"Large_Vehicle", "Small_Vehicle"}
    assert len(row["captions"]) == 5 and row["source_id"] == "P0005"


def test_real_isaid_tiles_at_image_edges():
    source = realdata("isaid_masks")
    fmt = get_format("rgb_mask").from_option_strings(dict(option.split("=", 1) for option in ISAID_OPTIONS))
    items = fmt.tile_items([i for i in fmt.list_items(source, None) if i.source_id == "P0005"], 512, 0.0)  # 884 x 977
    assert [i.window for i in items] == [(0, 0, 512, 512), (372, 0, 512, 512), (0, 465, 512, 512),
                                         (372, 465, 512, 512)]
    mask = packed(np.asarray(Image.open(source / "train" / "images" / "P0005_instance_color_RGB.png")))
    for item in items:
        x, y, w, h = item.window
        record = fmt.parse(item)
        assert record.provenance.tile_offset == (x, y)
        found = Counter((o.category, o.bbox) for o in record.objects)
        assert found == opencv_boxes(mask[y:y + h, x:x + w], COLOUR_TABLES["isaid"].labels, ignore={0})


def write_pair(root, mask_rgb, *, image=None, name="top_mosaic_09cm_area1"):
    (root / "top").mkdir(parents=True, exist_ok=True)
    (root / "gts").mkdir(parents=True, exist_ok=True)
    (root / "top" / f"{name}.png").write_bytes(image or image_bytes(64, 48, fmt="PNG"))
    Image.fromarray(mask_rgb).save(root / "gts" / f"{name}.png")


def isprs_mask():
    mask = np.full((48, 64, 3), 255, dtype=np.uint8)  # impervious surface
    mask[10:20, 10:30] = (0, 0, 255)  # building
    mask[30:40, 5:8] = (255, 255, 0)  # car
    mask[0, :] = 0  # boundary
    return mask


def test_isprs_colours_and_ignore(tmp_path):
    write_pair(tmp_path, isprs_mask())
    fmt = get_format("rgb_mask").from_option_strings({"classes": "isprs", "images": "top", "masks": "gts"})
    record = fmt.parse(fmt.list_items(tmp_path, None)[0])
    assert [(o.category, o.bbox) for o in record.objects] == [
        ("building", (10.0, 10.0, 30.0, 20.0)), ("car", (5.0, 30.0, 8.0, 40.0)),
        ("impervious_surface", (0.0, 1.0, 64.0, 48.0))]  # ordered by packed colour, as m2b/1 orders indices
    fmt = get_format("rgb_mask").from_option_strings({"classes": "isprs", "images": "top", "masks": "gts",
                                                      "ignore": "boundary,impervious_surface"})
    assert [o.category for o in fmt.parse(fmt.list_items(tmp_path, None)[0]).objects] == ["building", "car"]


def test_unknown_colour_names_mask_colour_and_pixel(tmp_path):
    mask = isprs_mask()
    mask[44, 61] = (1, 2, 3)
    write_pair(tmp_path, mask)
    fmt = get_format("rgb_mask").from_option_strings({"classes": "isprs", "images": "top", "masks": "gts"})
    items = fmt.tile_items(fmt.list_items(tmp_path, None), 32, 0.0)
    assert [i.window for i in items][-1] == (32, 16, 32, 32)
    with pytest.raises(RecordError) as caught:
        fmt.parse(items[-1])
    assert caught.value.reason == errors.UNKNOWN_CLASS
    assert "colour (1, 2, 3) at pixel (61, 44)" in str(caught.value) and "gts/top_mosaic_09cm_area1.png" in str(
        caught.value)
    assert fmt.parse(items[0]).objects  # the other tiles are fine


def test_grey_mask_and_size_mismatch(tmp_path):
    write_pair(tmp_path / "grey", np.zeros((48, 64), dtype=np.uint8))
    write_pair(tmp_path / "size", isprs_mask(), image=image_bytes(64, 40, fmt="PNG"))
    fmt = get_format("rgb_mask").from_option_strings({"classes": "isprs", "images": "top", "masks": "gts"})
    with pytest.raises(RecordError) as caught:
        fmt.parse(fmt.list_items(tmp_path / "grey", None)[0])
    assert caught.value.reason == errors.UNSUPPORTED_IMAGE and "1 band(s)" in str(caught.value)
    with pytest.raises(RecordError) as caught:
        fmt.parse(fmt.list_items(tmp_path / "size", None)[0])
    assert "64 x 48" in str(caught.value) and "64 x 40" in str(caught.value)
    assert "top/top_mosaic_09cm_area1.png" in str(caught.value) and "gts/" in str(caught.value)


def test_tables_and_options():
    assert set(COLOUR_TABLES) >= {"isprs_rgb", "isaid", "uavid", "loveda_rgb"}
    assert len(COLOUR_TABLES["isaid"].labels) == 16 and len(COLOUR_TABLES["uavid"].labels) == 8
    with pytest.raises(OptionError, match="classes='loveda': expected one of isaid, isprs, isprs_rgb"):
        get_format("rgb_mask").from_option_strings({"classes": "loveda"})
    with pytest.raises(OptionError, match="'Car' is not a class of table 'uavid'"):
        get_format("rgb_mask").from_option_strings({"classes": "uavid", "ignore": "Car"})


def test_generated_source_round_trip(tmp_path):
    from tests.formats.generators.rgb_mask import write_source

    expected = write_source(tmp_path / "src", 10, seed=2)
    rows, _ = convert(tmp_path / "src", tmp_path / "out", "classes=isprs_rgb", "images=top",
                      "masks=gts_for_participants", fmt="rgb_mask")
    assert Counter(o["category"] for r in rows for o in r["objects"]) == expected
    assert all(len(r["captions"]) == 5 for r in rows)
