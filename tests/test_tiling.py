"""Tiling large scenes, one mechanism for every format (--tile, --overlap, --tile-keep-share): windows, objects
kept by their share inside a tile (box formats), Mask-to-Box per tile (mask formats), offsets in provenance,
truthful encodings, and the recipes that tile."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from rsdata.cli import main
from rsdata.geometry import objects_in_window, tile_windows
from rsdata.records import ObjectAnnotation
from tests.conftest import image_bytes, realdata, write_dota_item

RECIPES = Path(__file__).resolve().parents[1] / "recipes" / "datasets"


@pytest.mark.parametrize("width,height,size,overlap,expected_x,expected_y", [
    (100, 50, 40, 0.0, [0, 40, 60], [0, 10]),  # last tile moved back to end at the edge
    (80, 80, 40, 0.0, [0, 40], [0, 40]),  # exact fit
    (100, 40, 40, 0.5, [0, 20, 40, 60], [0]),  # half overlap
    (30, 20, 40, 0.0, [0], [0]),  # smaller than one tile
])
def test_tile_windows(width, height, size, overlap, expected_x, expected_y):
    windows = tile_windows(width, height, size, overlap)
    assert sorted({w[0] for w in windows}) == expected_x and sorted({w[1] for w in windows}) == expected_y
    assert len(windows) == len(expected_x) * len(expected_y)
    for x, y, w, h in windows:
        assert x + w <= width and y + h <= height and w == min(size, width) and h == min(size, height)


def obj(box, category="ship"):
    x0, y0, x1, y1 = box
    return ObjectAnnotation(category, box, polygon=(x0, y0, x1, y0, x1, y1, x0, y1))


def test_objects_kept_by_share_inside_and_shifted():
    objects = [obj((10, 10, 20, 20)), obj((35, 10, 45, 20), "plane"), obj((38, 10, 48, 20), "car"),
               obj((60, 60, 60, 60), "point")]
    kept = objects_in_window(objects, (0, 0, 40, 40), 0.5)
    assert [o.category for o in kept] == ["ship", "plane"]  # plane 50 % inside, car 20 %
    assert kept[1].bbox == (35, 10, 40, 20) and kept[1].polygon[:2] == (35, 10)
    shifted = objects_in_window(objects, (30, 0, 40, 40), 0.5)
    assert [o.bbox for o in shifted] == [(5, 10, 15, 20), (8, 10, 18, 20)]
    assert [o.category for o in objects_in_window(objects, (40, 40, 40, 40), 0.5)] == ["point"]
    assert [o.category for o in objects_in_window(objects, (0, 0, 40, 40), 0.0)] == ["ship", "plane", "car"]


def test_convert_with_tiles(tmp_path, capsys):
    source = tmp_path / "src"
    lines = ["10 10 30 10 30 30 10 30 ship 0", "70 10 90 10 90 30 70 30 plane 0", "42 20 52 20 52 30 42 30 car 0"]
    write_dota_item(source, "S1", lines, image=image_bytes(150, 50, "JPEG"))
    out = tmp_path / "out"
    assert main(["convert", "dota", str(source), str(out), "--tile", "50", "--no-progress"]) == 0
    rows = pq.read_table(out / "data").to_pylist()
    by_offset = {tuple(r["tile_offset"]): r for r in rows}
    assert sorted(by_offset) == [(0, 0), (50, 0)]  # the tile at x = 100 holds nothing
    assert [o["category"] for o in by_offset[(0, 0)]["objects"]] == ["ship", "car"]  # car: 80 % inside
    assert [o["bbox"] for o in by_offset[(0, 0)]["objects"]] == [[10.0, 10.0, 30.0, 30.0], [42.0, 20.0, 50.0, 30.0]]
    assert [o["bbox"] for o in by_offset[(50, 0)]["objects"]] == [[20.0, 10.0, 40.0, 30.0]]  # car: 20 % inside
    for row in rows:
        assert (row["width"], row["height"]) == (50, 50) and row["image_encoding"] == "png"
        assert Image.open(io.BytesIO(row["image"]["bytes"])).size == (50, 50)
        assert len(row["captions"]) == 5 and row["source_id"] == "S1"
    assert "Left out 1 image(s): no_objects 1" in capsys.readouterr().out

    assert main(["convert", "dota", str(source), str(tmp_path / "o2"), "--tile", "50", "--tile-keep-share", "0.2",
                 "--no-progress"]) == 0
    rows = pq.read_table(tmp_path / "o2" / "data").to_pylist()
    assert [[o["category"] for o in r["objects"]] for r in rows] == [["ship", "car"], ["plane", "car"]]


def test_tile_options_are_checked(tmp_path, capsys, dota_source):
    assert main(["convert", "dota", str(dota_source), str(tmp_path / "o"), "--tile", "32", "--overlap", "1"]) == 2
    assert "--overlap must be a fraction in [0, 1)" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------------
# One tiling mechanism: --tile on the mask formats cuts the mask, not the scene's boxes


def read_rows(out, split: str = "train") -> list[dict]:
    """The rows as a user reads them, image bytes undecoded. The cache is the test's own: ``datasets`` names the
    cache of a local folder whose card lists ``configs`` by the folder's name and the card's file patterns, not by
    the files' contents, so two builds in folders named alike would share one cache entry."""
    import datasets

    dataset = datasets.load_dataset(str(out), split=split, cache_dir=str(Path(out).parent / "hf-cache"))
    return dataset.cast_column("image", datasets.Image(decode=False)).to_list()


def write_mask_scene(root, stem: str, mask, image=None, image_suffix: str = ".png") -> None:
    """An index_mask pair: ``img_dir/<stem><image_suffix>`` (a smooth picture unless given) + ``ann_dir/<stem>.png``."""
    import numpy as np

    (root / "img_dir").mkdir(parents=True, exist_ok=True)
    (root / "ann_dir").mkdir(parents=True, exist_ok=True)
    if image is None:
        height, width = mask.shape
        ys, xs = np.mgrid[0:height, 0:width]
        image = np.stack([xs % 256, ys % 256, (xs + ys) % 256], axis=-1).astype(np.uint8)
    Image.fromarray(image).save(root / "img_dir" / f"{stem}{image_suffix}")
    Image.fromarray(mask).save(root / "ann_dir" / f"{stem}.png")


def pixel_boxes(mask, window, values: dict) -> Counter:
    """TEST-ONLY reference: per class value, the bounds of its pixels inside the window (each class here is one
    rectangle, so one connected region per window)."""
    import numpy as np

    x, y, w, h = window
    part = mask[y:y + h, x:x + w]
    boxes = Counter()
    for value, label in values.items():
        rows, cols = np.nonzero(part == value)
        if rows.size:
            boxes[(label, (float(cols.min()), float(rows.min()), float(cols.max() + 1), float(rows.max() + 1)))] += 1
    return boxes


def test_tile_on_a_mask_format_finds_a_large_region_in_every_tile_it_covers(tmp_path):
    """A building larger than any tile is a box in each tile it covers (Mask-to-Box per tile), not left out of
    all of them as a scene box cut by --tile-keep-share; the output is the same whatever --num-proc."""
    import numpy as np

    mask = np.ones((130, 200), dtype=np.uint8)  # LoveDA background, not described here
    mask[10:120, 20:180] = 2  # a building spanning most tiles
    mask[100:110, 190:198] = 4  # a small pond in one corner
    write_mask_scene(tmp_path / "src", "scene", mask)
    outputs = []
    for processes in ("1", "2"):
        out = tmp_path / f"out{processes}"
        assert main(["convert", "index_mask", str(tmp_path / "src"), str(out), "--no-progress", "--tile", "64",
                     "--overlap", "0.25", "-o", "classes=loveda", "-o", "ignore=no-data,background",
                     "--max-shard-mb", "0.0001", "--num-proc", processes]) == 0
        outputs.append({p.relative_to(out).as_posix(): p.read_bytes() for p in sorted((out / "data").rglob("*"))
                        if p.is_file()})

    windows = tile_windows(200, 130, 64, 0.25)
    expected = {w[:2]: pixel_boxes(mask, w, {2: "building", 4: "water"}) for w in windows}
    rows = read_rows(tmp_path / "out1")
    found = {tuple(r["tile_offset"]): Counter((o["category"], tuple(o["bbox"])) for o in r["objects"]) for r in rows}
    assert found == {offset: boxes for offset, boxes in expected.items() if boxes}
    assert sum(1 for boxes in found.values() if any(label == "building" for label, _ in boxes)) >= 8
    assert len(outputs[0]) > 1 and outputs[0] == outputs[1]  # several shards, written by two processes alike


def test_tiles_re_encoded_from_a_scene_say_so_and_whole_small_images_pass_through(tmp_path):
    """A window of a TIFF is PNG bytes: image_encoding "png" (not "original"), source_image_format "TIFF", and the
    bytes decode to the row's width and height and to the scene's pixels there; a PNG smaller than a tile is
    one tile, its file's bytes as they are ("original")."""
    import numpy as np

    source = tmp_path / "src"
    mask = np.ones((100, 150), dtype=np.uint8)  # background (not described) ...
    mask[3::16, 5::16] = 2  # ... with single-pixel buildings in every tile
    write_mask_scene(source, "scene", mask, image_suffix=".tif")
    write_mask_scene(source, "small", np.full((30, 40), 3, dtype=np.uint8))
    out = tmp_path / "out"
    assert main(["convert", "index_mask", str(source), str(out), "--no-progress", "--tile", "64",
                 "-o", "classes=loveda", "-o", "ignore=no-data,background"]) == 0
    scene = np.asarray(Image.open(source / "img_dir" / "scene.tif"))
    rows = read_rows(out)
    tiles = [r for r in rows if r["source_id"] == "scene"]
    assert sorted(tuple(r["tile_offset"]) for r in tiles) == sorted(w[:2] for w in tile_windows(150, 100, 64, 0))
    for row in tiles:
        assert row["image_encoding"] == "png" and row["source_image_format"] == "TIFF"
        assert row["image"]["path"] == "img_dir/scene.tif"  # provenance: the scene the tile was cut from
        picture = Image.open(io.BytesIO(row["image"]["bytes"]))
        assert picture.format == "PNG" and picture.size == (row["width"], row["height"]) == (64, 64)
        x, y = row["tile_offset"]
        assert np.array_equal(np.asarray(picture), scene[y:y + 64, x:x + 64])
    (small,) = [r for r in rows if r["source_id"] == "small"]
    assert small["image_encoding"] == "original" and small["source_image_format"] == "PNG"
    assert small["image"]["bytes"] == (source / "img_dir" / "small.png").read_bytes()


@pytest.mark.parametrize("fmt", ["index_mask", "rgb_mask", "isaid"])
@pytest.mark.parametrize("option", ["tile=512", "overlap=0.25"])
def test_format_tile_options_are_refused_naming_the_build_options(tmp_path, capsys, fmt, option):
    import numpy as np

    write_mask_scene(tmp_path / "src", "scene", np.full((30, 40), 2, dtype=np.uint8))
    assert main(["convert", fmt, str(tmp_path / "src"), str(tmp_path / "out"), "--no-progress",
                 "-o", option]) == 2
    error = capsys.readouterr().err
    assert f"-o {option} is no longer a format option" in error
    assert ("--tile SIZE" if option.startswith("tile") else "--overlap FRACTION") in error
    assert not (tmp_path / "out").exists()


def write_geotiff(path, array, transform, crs: str = "EPSG:32633") -> None:
    """A GeoTIFF of ``array`` (bands, h, w)."""
    import rasterio

    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="GTiff", width=array.shape[2], height=array.shape[1], count=array.shape[0],
                       dtype=str(array.dtype), crs=crs, transform=transform) as dataset:
        dataset.write(array)


def isprs_scene(root, images: str, masks: str, image_name: str, mask_name: str, width: int, height: int) -> None:
    """A georeferenced ISPRS-style pair: an RGB GeoTIFF and its colour label GeoTIFF (impervious surface with a
    black boundary line, so every tile holds something to describe)."""
    import numpy as np
    from affine import Affine

    transform = Affine(0.05, 0.0, 366000.0, 0.0, -0.05, 5808000.0)
    ys, xs = np.mgrid[0:height, 0:width]
    picture = np.stack([xs % 256, ys % 256, (xs // 7) % 256]).astype(np.uint8)
    labels = np.full((3, height, width), 255, dtype=np.uint8)
    labels[:, height // 2, :] = 0  # boundary (ignored by the recipes)
    write_geotiff(root / images / image_name, picture, transform)
    write_geotiff(root / masks / mask_name, labels, transform)


@pytest.mark.parametrize("name", ["isaid", "potsdam", "vaihingen"])
def test_recipes_that_tiled_give_the_same_tiles_through_convert_options(tmp_path, name):
    """isaid (896), potsdam and vaihingen (512) tiled with the format option ``tile``; they now carry
    ``convert_options: {tile: ...}`` and give one row per window of :func:`tile_windows`, each with its own
    geotransform when the scene is georeferenced."""
    from rsdata.recipe import load_dataset_recipe

    recipe = load_dataset_recipe(RECIPES / f"{name}.yaml")
    assert "tile" not in recipe.format_options
    size = recipe.convert_options["tile"]
    if name == "isaid":
        source, scenes = realdata("isaid_masks"), {"P0005": (884, 977)}  # P0002's image is not in the sample
    else:
        source = tmp_path / "src"
        options = recipe.format_options
        stem = "top_potsdam_2_10" if name == "potsdam" else "top_mosaic_09cm_area1"
        isprs_scene(source, options["images"], options["masks"], stem + options.get("image_suffix", ".tif"),
                    stem + options["mask_suffix"], 1100, 600)
        scenes = {stem: (1100, 600)}
    out = tmp_path / "out"
    assert main(["convert", str(RECIPES / f"{name}.yaml"), str(source), str(out), "--no-progress",
                 "--on-error", "skip"]) == 0
    rows = read_rows(out)
    assert sorted((r["source_id"], tuple(r["tile_offset"]), r["width"], r["height"]) for r in rows) == sorted(
        (stem, (x, y), w, h) for stem, (width, height) in scenes.items()
        for x, y, w, h in tile_windows(width, height, size, 0.0))
    for row in rows:
        assert row["image_encoding"] == "png" and row["objects"] and len(row["captions"]) == 5
        if name != "isaid":
            x, y = row["tile_offset"]
            assert row["crs"] == "EPSG:32633" and row["source_image_format"] == "TIFF"
            assert row["geo_transform"] == pytest.approx([366000.0 + 0.05 * x, 0.05, 0.0, 5808000.0 - 0.05 * y,
                                                          0.0, -0.05])


def test_command_line_tiling_wins_over_the_recipes(tmp_path):
    from rsdata.recipe import load_dataset_recipe

    options = load_dataset_recipe(RECIPES / "vaihingen.yaml").format_options
    isprs_scene(tmp_path / "src", options["images"], options["masks"], "top_mosaic_09cm_area1.tif",
                "top_mosaic_09cm_area1.tif", 200, 150)
    out = tmp_path / "out"
    assert main(["convert", str(RECIPES / "vaihingen.yaml"), str(tmp_path / "src"), str(out), "--no-progress",
                 "--tile", "64", "--overlap", "0.5"]) == 0
    assert sorted(tuple(r["tile_offset"]) for r in read_rows(out)) == sorted(
        w[:2] for w in tile_windows(200, 150, 64, 0.5))
