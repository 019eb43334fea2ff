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
                 "-o", "ignore=no-data,background", "-o", "tile=256", "--allow-outside-links"]) == 0
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
