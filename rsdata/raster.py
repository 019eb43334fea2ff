"""Reading rasters window by window (GeoTIFF, PNG, JPEG, ... through rasterio/GDAL): the only module that imports
rasterio.

What it owns:

- :class:`RasterInfo` and :func:`read_raster_info`: size, bands, data type and georeferencing from the header
  alone (no pixels are read);
- :func:`read_window`: the pixels of one window ``(x, y, w, h)``, read without reading the rest of the raster, so
  memory follows the window's size, never the raster's. Strip-organised formats that cannot seek to a row
  (PNG, JPEG, BMP) would be decoded from their first row again for every window; for those, and only when the
  decoded raster fits in :data:`WHOLE_IMAGE_CACHE_BYTES`, the process keeps the last two such rasters decoded;
- :func:`to_rgb8` and :func:`stretch_for`: 8-bit output through a band list, with a percentile stretch for other
  data types computed once per raster (from a decimated read of at most :data:`STRETCH_SAMPLE_PIXELS` pixels per
  band, no-data excluded), so that every tile of one raster shares one mapping;
- :func:`encode_png`;
- :func:`window_georeference` (and :func:`georeference_window`, from a CRS and a transform): the CRS, the
  window's own geotransform and its footprint in WGS84.

Errors: a missing file is :class:`~rsdata.errors.RecordError` ``missing_image``, a file GDAL cannot read (or a
truncated or damaged PNG or JPEG, which GDAL would decode without complaint) ``corrupt_image``, a band list the
raster does not have ``unsupported_image``; each names the file.
rasterio's ``NotGeoreferencedWarning`` (plain PNG and JPEG files) is silenced here: such imagery simply has
no georeferencing (``crs``, ``transform`` None).
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import numpy as np

from rsdata import errors
from rsdata.errors import RecordError

Window = tuple[int, int, int, int]  # (x, y, width, height) in pixels

#: Default percentile stretch (low, high) for data that is not 8-bit.
DEFAULT_PERCENTILES = (2.0, 98.0)
#: Pixels per band read (decimated) to compute a raster's stretch.
STRETCH_SAMPLE_PIXELS = 1024 * 1024
#: Largest decoded strip-organised raster (PNG, JPEG, BMP) kept whole in memory between windows.
WHOLE_IMAGE_CACHE_BYTES = 256 * 1024 * 1024
#: GDAL's block cache, bounded so that reading many windows of a large raster keeps memory flat (MiB).
GDAL_CACHE_MB = 64
#: Points per footprint edge before reprojection (as rasterio's ``transform_bounds``), so curved edges are kept.
FOOTPRINT_POINTS_PER_EDGE = 21

_STRIP_DRIVERS = ("PNG", "JPEG", "BMP", "GIF")
#: GDAL driver -> Pillow's format name, so that rows name source formats one way whichever library read them.
_PILLOW_FORMAT_NAMES = {"GTiff": "TIFF", "COG": "TIFF", "PNG": "PNG", "JPEG": "JPEG", "BMP": "BMP", "GIF": "GIF",
                        "JP2OpenJPEG": "JPEG2000", "WEBP": "WEBP"}


@dataclass(frozen=True)
class RasterInfo:
    """A raster's header: pixel size, band count, data type and georeferencing.

    ``crs`` is ``"EPSG:<code>"`` when the CRS has an EPSG code, else its WKT; ``transform`` GDAL's six numbers
    ``(x0, pixel width, row rotation, y0, column rotation, pixel height)``. Both are None for imagery without
    georeferencing.
    """

    path: Path
    width: int
    height: int
    count: int
    dtype: str
    crs: str | None
    transform: tuple[float, ...] | None
    driver: str = ""
    nodata: float | None = None

    @property
    def georeferenced(self) -> bool:
        return self.crs is not None and self.transform is not None

    @property
    def image_format(self) -> str:
        """The file's format as Pillow names it (the ``source_image_format`` column): "TIFF" for a GeoTIFF."""
        return _PILLOW_FORMAT_NAMES.get(self.driver, self.driver or "unknown")


@dataclass(frozen=True)
class Stretch:
    """A linear map of each band's ``low`` .. ``high`` to 0 .. 255 (values outside are clipped)."""

    low: tuple[float, ...]
    high: tuple[float, ...]


def _rasterio():
    import rasterio

    return rasterio


@contextlib.contextmanager
def _quiet_env() -> Iterator[None]:
    rasterio = _rasterio()
    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.Env(GDAL_CACHEMAX=GDAL_CACHE_MB):
            yield


@contextlib.contextmanager
def _open(path: Path):
    """Open ``path`` read-only, turning GDAL's failures into :class:`RecordError` naming the file."""
    rasterio = _rasterio()
    from rasterio.errors import RasterioIOError

    path = Path(path)
    if not path.is_file():
        what = "is a folder, not an image file" if path.is_dir() else "image file does not exist"
        raise RecordError(path, what, reason=errors.MISSING_IMAGE)
    with _quiet_env():
        try:
            dataset = rasterio.open(path)
        except RasterioIOError as exc:
            raise RecordError(path, f"not a raster GDAL can read ({_gdal_message(exc)})",
                              reason=errors.CORRUPT_IMAGE) from None
        with dataset:
            yield dataset


def _gdal_message(exc: Exception) -> str:
    return str(exc).replace(" \n", " ").strip() or type(exc).__name__


def read_raster_info(path: str | Path) -> RasterInfo:
    """The header of the raster at ``path`` (no pixels are read)."""
    path = Path(path)
    with _open(path) as dataset:
        return _info(path, dataset)


def _info(path: Path, dataset) -> RasterInfo:
    crs = None
    if dataset.crs is not None:
        epsg = dataset.crs.to_epsg()
        crs = f"EPSG:{epsg}" if epsg is not None else dataset.crs.to_wkt()
    transform = None
    if crs is not None or not dataset.transform.is_identity:
        transform = tuple(float(v) for v in dataset.transform.to_gdal())
    return RasterInfo(path=path, width=dataset.width, height=dataset.height, count=dataset.count,
                      dtype=str(dataset.dtypes[0]), crs=crs, transform=transform, driver=dataset.driver,
                      nodata=dataset.nodata)


def default_bands(count: int) -> tuple[int, ...]:
    """Bands shown when none are chosen: 1, 2, 3 for rasters with three bands or more (RGB, RGB-NIR), else 1."""
    return (1, 2, 3) if count >= 3 else (1,)


def check_bands(path: Path, count: int, bands: Sequence[int] | None) -> tuple[int, ...]:
    """``bands`` (1-based) as a tuple, or all bands when None; a band the raster lacks is ``unsupported_image``."""
    if bands is None:
        return tuple(range(1, count + 1))
    bands = tuple(int(b) for b in bands)
    missing = [b for b in bands if not 1 <= b <= count]
    if missing:
        raise RecordError(path, f"raster has {count} band(s); band(s) {', '.join(map(str, missing))} were asked "
                          f"for (bands are numbered from 1)", reason=errors.UNSUPPORTED_IMAGE)
    return bands


def read_window(path: str | Path, window: Window, bands: Sequence[int] | None = None) -> np.ndarray:
    """The pixels of ``window`` = (x, y, w, h) as an array (bands, h, w), reading only that window.

    ``bands`` are 1-based band numbers (None: all bands). A window reaching outside the raster is a
    ``ValueError`` (windows come from :func:`rsdata.geometry.tile_windows`, which keeps them inside).
    """
    path = Path(path)
    with _open(path) as dataset:
        return _read_window(path, dataset, window, bands)


def _read_window(path: Path, dataset, window: Window, bands: Sequence[int] | None) -> np.ndarray:
    from rasterio.errors import RasterioIOError
    from rasterio.windows import Window as RioWindow

    x, y, w, h = (int(v) for v in window)
    if x < 0 or y < 0 or w < 1 or h < 1 or x + w > dataset.width or y + h > dataset.height:
        raise ValueError(f"window {window} is not inside the {dataset.width} x {dataset.height} raster {path}")
    bands = check_bands(path, dataset.count, bands)
    whole = _whole_image(path, dataset)
    if whole is not None:
        return whole[[b - 1 for b in bands], y:y + h, x:x + w].copy()
    _check_not_truncated(path, dataset)
    try:
        return dataset.read(list(bands), window=RioWindow(x, y, w, h))
    except RasterioIOError as exc:
        raise RecordError(path, f"raster data is damaged ({_gdal_message(exc)})", reason=errors.CORRUPT_IMAGE) \
            from None


def _check_not_truncated(path: Path, dataset) -> None:
    """GDAL decodes a truncated or damaged PNG or JPEG without an error, giving whatever its buffer held for the
    missing rows (in a mask: class values that look like unknown classes); so such files get the structure check
    of :mod:`rsdata.images` (end marker, PNG chunk checksums) before their pixels are read: ``corrupt_image``."""
    if dataset.driver in ("PNG", "JPEG"):
        from rsdata.images import _check_structure  # the one structure check; private there, shared here

        _check_structure(path, path.read_bytes(), dataset.driver)


_WHOLE_IMAGE_CACHE: dict[tuple, np.ndarray] = {}


def _whole_image(path: Path, dataset) -> np.ndarray | None:
    """The whole decoded raster for strip-organised formats small enough to keep (see the module docstring)."""
    if dataset.driver not in _STRIP_DRIVERS:
        return None
    size = dataset.width * dataset.height * dataset.count * np.dtype(dataset.dtypes[0]).itemsize
    if size > WHOLE_IMAGE_CACHE_BYTES:
        return None
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    cached = _WHOLE_IMAGE_CACHE.get(key)
    if cached is None:
        from rasterio.errors import RasterioIOError

        _check_not_truncated(path, dataset)
        try:
            cached = dataset.read()
        except RasterioIOError as exc:
            raise RecordError(path, f"image data is damaged ({_gdal_message(exc)})",
                              reason=errors.CORRUPT_IMAGE) from None
        # An item's image and mask are read in turn, tile after tile: keep the last two rasters.
        while len(_WHOLE_IMAGE_CACHE) >= 2:
            _WHOLE_IMAGE_CACHE.pop(next(iter(_WHOLE_IMAGE_CACHE)))
        _WHOLE_IMAGE_CACHE[key] = cached
    return cached


# ---------------------------------------------------------------------------------------------------------------
# 8-bit output


_STRETCH_CACHE: dict[tuple, Stretch] = {}


def stretch_for(path: str | Path, bands: Sequence[int],
                percentiles: tuple[float, float] = DEFAULT_PERCENTILES) -> Stretch:
    """The percentile stretch of ``bands`` of the raster at ``path``: per band, the ``percentiles`` (low, high)
    of its valid pixels (no-data excluded), read at a decimation that keeps at most
    :data:`STRETCH_SAMPLE_PIXELS` pixels per band. Cached per process by (file, size, mtime, bands, percentiles),
    so all tiles of a raster share it."""
    path = Path(path)
    low_pct, high_pct = percentiles
    if not 0.0 <= low_pct < high_pct <= 100.0:
        raise ValueError(f"percentiles must satisfy 0 <= low < high <= 100, got {percentiles}")
    stat = path.stat() if path.is_file() else None
    key = (str(path), stat and stat.st_size, stat and stat.st_mtime_ns, tuple(bands), tuple(percentiles))
    if key in _STRETCH_CACHE:
        return _STRETCH_CACHE[key]
    with _open(path) as dataset:
        bands = check_bands(path, dataset.count, bands)
        factor = max(1.0, float(np.sqrt(dataset.width * dataset.height / STRETCH_SAMPLE_PIXELS)))
        shape = (len(bands), max(1, int(dataset.height / factor)), max(1, int(dataset.width / factor)))
        from rasterio.enums import Resampling

        sample = dataset.read(list(bands), out_shape=shape, resampling=Resampling.nearest)
        nodata = dataset.nodata
    lows, highs = [], []
    for band in sample:
        values = band.ravel()
        if nodata is not None:
            values = values[values != nodata] if not np.isnan(nodata) else values[~np.isnan(values)]
        values = values[np.isfinite(values)] if values.dtype.kind == "f" else values
        if values.size == 0:
            lows.append(0.0), highs.append(1.0)
            continue
        low, high = np.percentile(values, [low_pct, high_pct])
        lows.append(float(low)), highs.append(float(high) if high > low else float(low) + 1.0)
    stretch = Stretch(tuple(lows), tuple(highs))
    _STRETCH_CACHE[key] = stretch
    return stretch


def to_rgb8(array: np.ndarray, stretch: Stretch | None = None) -> np.ndarray:
    """(bands, h, w) pixels -> (h, w) or (h, w, 3) uint8: 8-bit data as it is (when ``stretch`` is None), other
    data through ``stretch``. One band gives a grey image, three an RGB one."""
    if array.ndim != 3 or array.shape[0] not in (1, 3):
        raise ValueError(f"expected (1 or 3 bands, h, w) pixels, got shape {array.shape}")
    if stretch is None:
        if array.dtype != np.uint8:
            raise ValueError(f"{array.dtype} pixels need a stretch to become 8-bit")
        out = array
    else:
        low = np.asarray(stretch.low, dtype=np.float64)[:, None, None]
        high = np.asarray(stretch.high, dtype=np.float64)[:, None, None]
        scaled = (array.astype(np.float32) - low.astype(np.float32)) * (255.0 / (high - low)).astype(np.float32)
        out = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    return out[0] if out.shape[0] == 1 else np.ascontiguousarray(out.transpose(1, 2, 0))


def read_rgb8(path: str | Path, window: Window, bands: Sequence[int] | None = None,
              percentiles: tuple[float, float] = DEFAULT_PERCENTILES) -> np.ndarray:
    """The 8-bit picture of ``window``: ``bands`` (default :func:`default_bands`), stretched unless uint8."""
    path = Path(path)
    with _open(path) as dataset:
        chosen = tuple(bands) if bands is not None else default_bands(dataset.count)
        if len(chosen) not in (1, 3):
            raise RecordError(path, f"a picture is made of 1 or 3 bands; {len(chosen)} were chosen "
                              f"({', '.join(map(str, chosen))})", reason=errors.UNSUPPORTED_IMAGE)
        pixels = _read_window(path, dataset, window, chosen)
        eight_bit = dataset.dtypes[0] == "uint8"
    stretch = None if eight_bit else stretch_for(path, chosen, percentiles)
    return to_rgb8(pixels, stretch)


def encode_png(array: np.ndarray, compress_level: int = 6) -> bytes:
    """PNG bytes of a (h, w) grey or (h, w, 3) RGB uint8 array."""
    from PIL import Image

    if array.dtype != np.uint8 or array.ndim not in (2, 3) or (array.ndim == 3 and array.shape[2] != 3):
        raise ValueError(f"expected (h, w) or (h, w, 3) uint8 pixels, got {array.dtype} {array.shape}")
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG", compress_level=compress_level)
    return buffer.getvalue()


# ---------------------------------------------------------------------------------------------------------------
# Georeferencing


def window_georeference(info: RasterInfo, window: Window
                        ) -> tuple[str | None, tuple[float, ...] | None, str | None]:
    """(crs, the window's geotransform as GDAL's six numbers, the window's footprint in WGS84 as WKT) of a window
    of the raster ``info`` describes; all three None for imagery without georeferencing."""
    if not info.georeferenced:
        return None, None, None
    return georeference_window(info.crs, info.transform, window)


def georeference_window(crs: str | None, transform: Sequence[float] | None, window: Window
                        ) -> tuple[str | None, tuple[float, ...] | None, str | None]:
    """(crs, the window's geotransform, the window's footprint in WGS84 as WKT) of ``window`` = (x, y, w, h) of
    an image whose CRS is ``crs`` and whose geotransform (GDAL's six numbers) is ``transform``.

    The window's transform is rasterio's ``window_transform``: the image's transform moved to the window's
    top-left pixel. The footprint is the window's outline with :data:`FOOTPRINT_POINTS_PER_EDGE` points per
    edge, reprojected with ``rasterio.warp.transform_geom`` (edges that stay straight in longitude/latitude are
    simplified back to their corners). All three are None when ``crs`` or ``transform`` is None.
    """
    if crs is None or transform is None:
        return None, None, None
    import shapely
    from affine import Affine
    from rasterio.crs import CRS
    from rasterio.warp import transform_geom

    x, y, w, h = window
    window_transform = Affine.from_gdal(*transform) @ Affine.translation(x, y)
    steps = np.linspace(0.0, 1.0, FOOTPRINT_POINTS_PER_EDGE)
    ring = ([(w * t, 0.0) for t in steps[:-1]] + [(w, h * t) for t in steps[:-1]]
            + [(w * (1 - t), h) for t in steps[:-1]] + [(0.0, h * (1 - t)) for t in steps[:-1]])
    points = [window_transform @ p for p in ring]
    geometry = {"type": "Polygon", "coordinates": [points + [points[0]]]}
    with _quiet_env():
        source_crs = CRS.from_user_input(crs)
        if source_crs.to_epsg() == 4326:
            reprojected = geometry
        else:
            reprojected = transform_geom(source_crs, "EPSG:4326", geometry)
    footprint = shapely.geometry.shape(reprojected)
    footprint = shapely.simplify(footprint, 1e-9, preserve_topology=True)
    return crs, tuple(float(v) for v in window_transform.to_gdal()), footprint.wkt
