"""The real GeoTIFFs of ../shared/realdata/geotiff through a whole conversion: tiles carry the CRS, their own
geotransform and a WGS84 footprint, and the tiles' footprints cover rasterio's own bounds of the raster."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

from rsdata.cli import main
from tests.conftest import realdata


@pytest.mark.parametrize("name,crs", [("RGB.byte.tif", "EPSG:32618"), ("shade.tif", "EPSG:3857")])
def test_real_geotiff_converts_with_crs_and_footprint(tmp_path, name, crs):
    import rasterio
    import shapely
    from rasterio.warp import transform_bounds
    from shapely.ops import unary_union

    source = realdata("geotiff") / name
    root = tmp_path / "src"
    (root / "img_dir").mkdir(parents=True)
    (root / "ann_dir").mkdir()
    (root / "img_dir" / "scene.tif").symlink_to(source)  # read in place: never a copy of the sample
    with rasterio.open(source) as dataset:
        width, height, bounds, source_crs = dataset.width, dataset.height, dataset.bounds, dataset.crs
    mask = np.ones((height, width), dtype=np.uint8)  # LoveDA "background" everywhere ...
    mask[::97, ::89] = 2  # ... with single-pixel "buildings" spread over every tile
    Image.fromarray(mask).save(root / "ann_dir" / "scene.png")

    out = tmp_path / "out"
    assert main(["convert", "index_mask", str(root), str(out), "--no-progress", "-o", "classes=loveda",
                 "-o", "classes=loveda", "-o", "ignore=no-data,background", "--tile", "256",
                 "--allow-outside-links"]) == 0
    rows = pq.read_table(out / "data").to_pylist()
    assert rows and all(row["crs"] == crs for row in rows)
    assert {tuple(row["tile_offset"]) for row in rows} == {
        (x, y) for y in sorted({min(v, max(height - 256, 0)) for v in range(0, height, 256)})
        for x in sorted({min(v, max(width - 256, 0)) for v in range(0, width, 256)})}
    for row in rows:
        x, y = row["tile_offset"]
        x0, dx, _, y0, _, dy = row["geo_transform"]
        assert x0 == pytest.approx(bounds.left + x * dx) and y0 == pytest.approx(bounds.top + y * dy)
        assert len(row["captions"]) == 5
    footprints = unary_union([shapely.from_wkt(row["footprint_wgs84"]) for row in rows])
    expected = transform_bounds(source_crs, "EPSG:4326", *bounds, densify_pts=21)
    assert footprints.bounds == pytest.approx(expected, abs=1e-6)


def test_each_tile_carries_its_window_transform_and_footprint(tmp_path):
    """--tile on a georeferenced GeoTIFF: every tile's geo_transform is rasterio's window_transform of its window,
    and its footprint is the window's bounds in WGS84 (rasterio's transform_bounds, edges densified alike), not
    the whole scene's."""
    import datasets
    import rasterio
    import shapely
    from affine import Affine
    from rasterio.warp import transform, transform_bounds
    from rasterio.windows import Window, bounds as window_bounds, transform as window_transform

    from rsdata.geometry import tile_windows

    root = tmp_path / "src"
    (root / "img_dir").mkdir(parents=True)
    (root / "ann_dir").mkdir()
    scene_transform = Affine(30.0, 0.0, 101985.0, 0.0, -30.0, 2826915.0)  # RGB.byte.tif's grid, on a smaller scene
    width, height, crs = 150, 110, "EPSG:32618"
    ys, xs = np.mgrid[0:height, 0:width]
    with rasterio.open(root / "img_dir" / "scene.tif", "w", driver="GTiff", width=width, height=height, count=3,
                       dtype="uint8", crs=crs, transform=scene_transform) as dataset:
        dataset.write(np.stack([xs, ys, xs + ys]).astype(np.uint8))
    mask = np.ones((height, width), dtype=np.uint8)  # LoveDA "background" everywhere ...
    mask[5::20, 7::20] = 2  # ... with single-pixel "buildings" in every tile
    Image.fromarray(mask).save(root / "ann_dir" / "scene.png")

    out = tmp_path / "out"
    assert main(["convert", "index_mask", str(root), str(out), "--no-progress", "--tile", "64",
                 "--overlap", "0.25", "-o", "classes=loveda", "-o", "ignore=no-data,background"]) == 0
    rows = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "hf-cache")).to_list()
    windows = {w[:2]: Window(*w) for w in tile_windows(width, height, 64, 0.25)}
    assert sorted(tuple(r["tile_offset"]) for r in rows) == sorted(windows) and len(windows) == 6
    for row in rows:
        window = windows[tuple(row["tile_offset"])]
        assert row["crs"] == crs and (row["width"], row["height"]) == (64, 64)
        assert row["geo_transform"] == pytest.approx(window_transform(window, scene_transform).to_gdal())
        footprint = shapely.from_wkt(row["footprint_wgs84"])
        expected = transform_bounds(crs, "EPSG:4326", *window_bounds(window, scene_transform), densify_pts=21)
        assert footprint.bounds == pytest.approx(expected, abs=1e-9)
        corners_x, corners_y = zip(*[scene_transform @ (window.col_off + dx, window.row_off + dy)
                                     for dx in (0, 64) for dy in (0, 64)])
        for lon, lat in zip(*transform(crs, "EPSG:4326", corners_x, corners_y)):
            assert footprint.exterior.distance(shapely.Point(lon, lat)) < 1e-9  # the window's corners
