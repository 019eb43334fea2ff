"""Single-channel label masks of class indices (LoveDA, ISPRS Potsdam/Vaihingen as mmsegmentation converts them),
turned into boxes with m2b/1; and the machinery the mask formats share (:mod:`rsdata.formats.rgb_mask`,
:mod:`rsdata.formats.isaid`).

Layout: an image folder and a mask folder side by side, masks matching images by stem::

    <root>/img_dir/0.png         + <root>/ann_dir/0.png                 one split (named by --split, or "train")
    <root>/img_dir/train/0.png   + <root>/ann_dir/train/0.png           mmsegmentation: splits below the folders
    <root>/Train/Urban/images_png/1366.png + <root>/Train/Urban/masks_png/1366.png   LoveDA as published
                                                                        (-o images=images_png -o masks=masks_png)

In general an image ``<A>/<images>/<B>/<id><image ending>`` pairs with the mask ``<A>/<masks>/<B>/<id><mask
suffix>``; the split is the first folder of ``A`` when there is one (LoveDA's ``Train``, ``Val``), else the first
folder of ``B`` (mmsegmentation's ``train``, ``val``), else the single ``--split`` given or "train". Options
``images`` and ``masks`` name the two folders (default ``img_dir`` and ``ann_dir``), ``mask_suffix`` the mask's
file ending (default ``.png``; ISPRS Potsdam ships ``top_potsdam_2_10_RGB.tif`` with
``top_potsdam_2_10_label.tif``: ``-o image_suffix=_RGB.tif -o mask_suffix=_label.tif``), ``image_suffix`` the
image's (default: any image ending). When images and masks share one folder, files ending in ``mask_suffix``
are masks, and ``exclude`` (comma list of file-name endings) leaves other files out.

Mask: one band of integer class indices (8-bit grey or palette PNG, TIFF), the same pixel size as its image
(else ``object_outside_image`` naming both files). Built-in class tables (option ``classes``; values not in the
table are an ``unknown_class`` error naming the mask, the value and its first pixel):

- ``loveda``: 0 no-data, 1 background, 2 building, 3 road, 4 water, 5 barren, 6 forest, 7 agricultural
  (LoveDA's ``masks_png``; the official loader subtracts 1 so that no-data becomes -1);
- ``isprs_mmseg`` (also ``potsdam_mmseg``, ``vaihingen_mmseg``): 0 boundary (the eroded boundary of the
  ``noBoundary`` labels), 1 impervious_surface, 2 building, 3 low_vegetation, 4 tree, 5 car, 6 clutter
  (mmsegmentation's ``tools/dataset_converters/potsdam.py`` and ``vaihingen.py``).

``ignore`` (comma list of class names or indices) names the classes that are not described; by default the
table's no-data and boundary classes. ``min_area`` (pixels, default 1) drops smaller regions, counted in the
build report as ``region_below_min_area``.

Tiling: ``tile`` (pixels) cuts each image into square windows with ``overlap`` (fraction of a tile's side, in
[0, 1)) as :func:`rsdata.geometry.tile_windows` does (the last tile of a row or column moved back inside the
image); by default each image is one item. Listing reads raster headers only; parsing reads the item's window of
image and mask (:mod:`rsdata.raster`), so memory follows the tile size. ``bands`` (comma list, 1-based) picks
the image bands shown (default 1,2,3, or 1 for a single-band image); data that is not 8-bit is stretched
between the 2nd and 98th percentiles of each band (option ``percentiles=LOW,HIGH``). Georeferenced images
(GeoTIFF) give each record its CRS, geotransform and WGS84 footprint.

Real samples checked: LoveDA masks (mmsegmentation's copy, 1024 x 1024) and one mmsegmentation Potsdam crop.
Licences differ per dataset (LoveDA CC BY-NC-SA 4.0, ISPRS benchmark terms); the recipes name them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Mapping, Sequence

import numpy as np

from rsdata import errors
from rsdata.errors import OptionError, RecordError, SourceLayoutError
from rsdata.formats.base import (
    IMAGE_SUFFIXES,
    SourceFormat,
    SourceItem,
    file_signature,
    hub_split_name,
    register_format,
)
from rsdata.records import ImageRecord, ObjectAnnotation, Provenance


@dataclass(frozen=True)
class ClassTable:
    """A built-in class table: mask value (an index, or an RGB colour packed as ``r << 16 | g << 8 | b``) ->
    source label, and the labels not described unless the ``ignore`` option says otherwise."""

    name: str
    labels: Mapping[int, str]
    default_ignore: tuple[str, ...] = ()
    colours: bool = False

    def describe_value(self, value: int) -> str:
        return f"colour {unpack_colour(value)}" if self.colours else f"value {value}"

    def listing(self) -> str:
        return ", ".join(f"{self.describe_value(v).split(' ', 1)[1]} {label}" for v, label in self.labels.items())


def pack_colour(r: int, g: int, b: int) -> int:
    return (int(r) << 16) | (int(g) << 8) | int(b)


def unpack_colour(value: int) -> tuple[int, int, int]:
    return (value >> 16) & 255, (value >> 8) & 255, value & 255


INDEX_TABLES: dict[str, ClassTable] = {}


def _index_table(name: str, labels: Sequence[str], default_ignore: Sequence[str], *aliases: str) -> None:
    table = ClassTable(name, dict(enumerate(labels)), tuple(default_ignore))
    for key in (name, *aliases):
        INDEX_TABLES[key] = table


_index_table("loveda", ["no-data", "background", "building", "road", "water", "barren", "forest", "agricultural"],
             ["no-data"])
_index_table("isprs_mmseg", ["boundary", "impervious_surface", "building", "low_vegetation", "tree", "car",
                             "clutter"], ["boundary"], "potsdam_mmseg", "vaihingen_mmseg")


# ---------------------------------------------------------------------------------------------------------------
# Options shared by the mask formats


def _positive_int(option: str, value, minimum: int = 1) -> int:
    try:
        number = int(str(value))
    except ValueError:
        number = None
    if number is None or number < minimum:
        raise OptionError(f"option {option}={value!r}: expected a whole number >= {minimum}")
    return number


def _parse_bands(value) -> tuple[int, ...] | None:
    if value is None or isinstance(value, tuple):
        return value
    try:
        bands = tuple(int(v) for v in str(value).split(","))
    except ValueError:
        bands = ()
    if len(bands) not in (1, 3) or min(bands) < 1:
        raise OptionError(f"option bands={value!r}: expected 1 or 3 band numbers from 1, comma separated "
                          "(e.g. 3,2,1)")
    return bands


def _parse_percentiles(value) -> tuple[float, float]:
    if isinstance(value, tuple):
        return value
    try:
        low, high = (float(v) for v in str(value).split(","))
    except ValueError:
        low = high = -1.0
    if not 0.0 <= low < high <= 100.0:
        raise OptionError(f"option percentiles={value!r}: expected LOW,HIGH with 0 <= LOW < HIGH <= 100 "
                          "(e.g. 2,98)")
    return low, high


@dataclass(frozen=True)
class MaskOptions:
    """Options of the mask formats, as ``-o key=value`` strings; checked and converted on creation."""

    classes: str = ""
    ignore: str | None = None
    min_area: int | str = 1
    tile: int | str | None = None
    overlap: float | str = 0.0
    images: str = "img_dir"
    masks: str = "ann_dir"
    image_suffix: str = ""
    mask_suffix: str = ".png"
    exclude: str = ""
    bands: tuple[int, ...] | str | None = None
    percentiles: tuple[float, float] | str = (2.0, 98.0)

    tables: ClassVar[Mapping[str, ClassTable]] = INDEX_TABLES
    default_classes: ClassVar[str] = ""

    def __post_init__(self):
        classes = self.classes or self.default_classes
        if classes not in self.tables:
            raise OptionError(f"option classes={self.classes!r}: expected one of {', '.join(sorted(self.tables))}")
        object.__setattr__(self, "classes", classes)
        object.__setattr__(self, "min_area", _positive_int("min_area", self.min_area))
        if self.tile is not None and str(self.tile).lower() not in ("", "none"):
            object.__setattr__(self, "tile", _positive_int("tile", self.tile))
        else:
            object.__setattr__(self, "tile", None)
        try:
            overlap = float(self.overlap)
        except ValueError:
            overlap = -1.0
        if not 0.0 <= overlap < 1.0:
            raise OptionError(f"option overlap={self.overlap!r}: expected a fraction of the tile side in [0, 1)")
        object.__setattr__(self, "overlap", overlap)
        object.__setattr__(self, "bands", _parse_bands(self.bands))
        object.__setattr__(self, "percentiles", _parse_percentiles(self.percentiles))
        for name in ("images", "masks"):
            value = getattr(self, name)
            if not value or os.path.isabs(value) or ".." in Path(value).parts:
                raise OptionError(f"option {name}={value!r}: expected a folder name inside the source folder")
        if not self.mask_suffix:
            raise OptionError("option mask_suffix='': expected the mask files' ending, e.g. .png or _label.tif")
        self.ignored_values()  # checks the names now, naming the table's classes

    @property
    def table(self) -> ClassTable:
        return self.tables[self.classes]

    def ignored_values(self) -> frozenset[int]:
        table = self.table
        names = table.default_ignore if self.ignore is None else [v.strip() for v in self.ignore.split(",")
                                                                   if v.strip()]
        by_label = {label: value for value, label in table.labels.items()}
        values = set()
        for name in names:
            if name in by_label:
                values.add(by_label[name])
            elif name.lstrip("-").isdigit() and int(name) in table.labels:
                values.add(int(name))
            else:
                raise OptionError(f"option ignore: {name!r} is not a class of table {table.name!r}; its classes: "
                                  f"{', '.join(table.labels.values())}" + ("" if table.colours else
                                                                          " (or their mask values)"))
        return frozenset(values)

    def excluded_endings(self) -> tuple[str, ...]:
        return tuple(v.strip() for v in self.exclude.split(",") if v.strip())


@dataclass(frozen=True)
class IndexMaskOptions(MaskOptions):
    classes: str = "loveda"


# ---------------------------------------------------------------------------------------------------------------
# The shared format machinery


@dataclass(frozen=True)
class _Pair:
    split: str
    source_id: str
    image_name: str
    image_path: Path | None
    mask_path: Path | None


class MaskFormat(SourceFormat):
    """Base of the mask formats: layout, tiling, image windows and provenance; subclasses read masks."""

    mask_kind: ClassVar[str] = "mask"

    # -- listing ---------------------------------------------------------------------------------------------

    def list_items(self, root: Path, splits: Sequence[str] | None) -> list[SourceItem]:
        from rsdata.raster import read_raster_info

        pairs = self._pairs(root, splits)
        items = []
        for pair in pairs:
            windows: list[tuple[int, int, int, int] | None] = [None]
            if pair.image_path is not None and pair.mask_path is not None:
                try:
                    info = read_raster_info(pair.image_path)
                except RecordError:
                    pass  # parse reports it, once, as a record of its own
                else:
                    windows = self._windows(info.width, info.height)
            size, mtime = file_signature(pair.image_path)
            share = max(1, size // len(windows))
            for window in windows:
                items.append(SourceItem(split=pair.split, source_id=pair.source_id, image_name=pair.image_name,
                                        image_path=pair.image_path, annotation_path=pair.mask_path,
                                        size_bytes=share, mtime_ns=mtime, window=window))
        return items

    def _windows(self, width: int, height: int) -> list[tuple[int, int, int, int]]:
        from rsdata.geometry import tile_windows

        if self.options.tile is None:
            return [(0, 0, width, height)]
        return tile_windows(width, height, self.options.tile, self.options.overlap)

    def _pairs(self, root: Path, splits: Sequence[str] | None) -> list[_Pair]:
        options = self.options
        if not root.is_dir():
            raise SourceLayoutError(f"source folder {root} does not exist or is not a folder")
        image_dirs = _folders_named(root, options.images, (options.images, options.masks))
        if not image_dirs:
            raise SourceLayoutError(
                f"no '{options.images}/' folder in {root} nor below it; expected <root>/{options.images}/ beside "
                f"<root>/{options.masks}/ (or <root>/<split>/{options.images}/; name the folders with "
                f"-o images=NAME -o masks=NAME)")
        found: dict[str | None, list[_Pair]] = {}
        for image_dir in image_dirs:
            above = image_dir.parent.relative_to(root).parts
            if above and splits and above[0] not in splits:
                continue  # a split not asked for (LoveDA's Test has no masks)
            mask_dir = image_dir.parent / options.masks
            if not mask_dir.is_dir():
                raise SourceLayoutError(f"no mask folder {mask_dir} beside {image_dir}; expected the {self.mask_kind}"
                                        f"s there (or name the folder with -o masks=NAME)")
            for pair in self._pairs_in(root, image_dir, mask_dir, above):
                found.setdefault(pair.split, []).append(pair)
        named = sorted(s for s in found if s is not None)
        if None in found:  # images directly in the folders: one split, named by --split
            if splits and len(splits) > 1:
                raise OptionError(f"{root} holds a single split ({options.images}/ directly holds images); give at "
                                  "most one --split to name it")
            found[splits[0] if splits else "train"] = found.pop(None) + found.get(splits[0] if splits else "train", [])
        elif splits:
            missing = [s for s in splits if s not in found]
            if missing:
                raise OptionError(f"split(s) {', '.join(missing)} not found in {root}; found: {', '.join(named)}")
            found = {s: found[s] for s in splits}
        pairs = []
        for split in sorted(found):
            hub_split_name(split)
            for pair in sorted(found[split], key=lambda p: p.image_name):
                pairs.append(_Pair(split, pair.source_id, pair.image_name, pair.image_path, pair.mask_path))
        return pairs

    def _pairs_in(self, root: Path, image_dir: Path, mask_dir: Path, above: tuple[str, ...]) -> list[_Pair]:
        options = self.options
        images = self._index(image_dir, self._is_image, self._image_id)
        masks = self._index(mask_dir, self._is_mask, self._mask_id)
        pairs = []
        for key in sorted(set(images) | set(masks)):
            sub, source_id = key
            split = above[0] if above else (sub[0] if sub else None)
            image_path, mask_path = images.get(key), masks.get(key)
            image_name = (image_path or image_dir.joinpath(*sub, source_id + (options.image_suffix or ""))
                          ).relative_to(root).as_posix()
            pairs.append(_Pair(split, source_id, image_name, image_path, mask_path))
        return pairs

    def _index(self, folder: Path, accept, identify) -> dict[tuple[tuple[str, ...], str], Path]:
        index: dict[tuple[tuple[str, ...], str], Path] = {}
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in (self.options.masks,
                                                                                             self.options.images))
            sub = Path(dirpath).relative_to(folder).parts
            for filename in sorted(filenames):
                if filename.startswith(".") or not accept(filename):
                    continue
                key = (sub, identify(filename))
                if key in index:
                    raise SourceLayoutError(f"two files for one image: {index[key]} and {Path(dirpath) / filename}; "
                                            "keep one")
                index[key] = Path(dirpath) / filename
        return index

    def _excluded(self, filename: str) -> bool:
        return filename.endswith(self.options.excluded_endings())

    def _is_mask(self, filename: str) -> bool:
        return filename.endswith(self.options.mask_suffix) and not self._excluded(filename)

    def _is_image(self, filename: str) -> bool:
        options = self.options
        if self._excluded(filename):
            return False
        if options.images == options.masks and filename.endswith(options.mask_suffix):
            return False
        if options.image_suffix:
            return filename.endswith(options.image_suffix)
        return Path(filename).suffix.lower() in IMAGE_SUFFIXES

    def _image_id(self, filename: str) -> str:
        suffix = self.options.image_suffix
        return filename[:-len(suffix)] if suffix else Path(filename).stem

    def _mask_id(self, filename: str) -> str:
        return filename[:-len(self.options.mask_suffix)]

    # -- parsing ---------------------------------------------------------------------------------------------

    def parse(self, item: SourceItem) -> ImageRecord:
        from rsdata.raster import window_georeference

        if item.annotation_path is None:
            raise RecordError(item.image_path or item.image_name, f"image has no {self.mask_kind} (expected "
                              f"{item.source_id}{self.options.mask_suffix} in the {self.options.masks} folder)",
                              reason=errors.MISSING_ANNOTATION)
        if item.image_path is None:
            raise RecordError(item.annotation_path, f"{self.mask_kind} has no image ({item.image_name} with an "
                              f"image ending, in the {self.options.images} folder)", reason=errors.MISSING_IMAGE)
        # Paths and pixel limits checked before a pixel is decoded (the build's read policy).
        image_info = self.read_policy.raster_info(item.image_path, item.window)
        mask_info = self.read_policy.raster_info(item.annotation_path, item.window)
        self._check_sizes(item, image_info, mask_info)
        window = item.window or (0, 0, image_info.width, image_info.height)
        objects, dropped = self.read_objects(item, mask_info, window)
        crs, geo_transform, footprint = window_georeference(image_info, window)
        provenance = Provenance(source_dataset=self.name, split=item.split, source_id=item.source_id,
                                tile_offset=(window[0], window[1]), license=self.default_license, crs=crs,
                                geo_transform=geo_transform, footprint_wgs84=footprint)
        image_data = None if self._passes_through(image_info, window) else self._image_bytes(item, window)
        return ImageRecord(image_path=item.image_path, image_name=item.image_name, provenance=provenance,
                           objects=objects, annotation_path=item.annotation_path, image_data=image_data,
                           width=window[2], height=window[3],
                           dropped_objects={_min_area_reason(): dropped} if dropped else {})

    def _check_sizes(self, item: SourceItem, image_info, mask_info) -> None:
        if (image_info.width, image_info.height) != (mask_info.width, mask_info.height):
            raise RecordError(item.annotation_path, f"{self.mask_kind} is {mask_info.width} x {mask_info.height} "
                              f"pixels but its image {item.image_path} is {image_info.width} x "
                              f"{image_info.height}; they must match pixel for pixel",
                              reason=errors.SIZE_MISMATCH)

    def _passes_through(self, image_info, window) -> bool:
        """A whole JPEG or PNG image shown as it is goes to the output byte for byte (the build reads it)."""
        return (window == (0, 0, image_info.width, image_info.height) and image_info.driver in ("PNG", "JPEG")
                and image_info.dtype == "uint8" and self.options.bands is None and image_info.count in (1, 3))

    def _image_bytes(self, item: SourceItem, window) -> bytes:
        from rsdata.raster import encode_png, read_rgb8

        return encode_png(read_rgb8(item.image_path, window, self.options.bands, self.options.percentiles))

    def read_objects(self, item: SourceItem, mask_info, window) -> tuple[tuple[ObjectAnnotation, ...], int]:
        """The window's objects (in window coordinates) and how many regions ``min_area`` dropped."""
        raise NotImplementedError

    # -- helpers for subclasses --------------------------------------------------------------------------------

    def boxes_from_classes(self, item: SourceItem, classes: np.ndarray, window
                           ) -> tuple[tuple[ObjectAnnotation, ...], int]:
        """m2b/1 over a mask of class values (indices, or packed colours already mapped to indices)."""
        from rsdata.captions.m2b import mask_to_boxes

        table = self.options.table
        ignore = self.options.ignored_values()
        labels = {value: label for value, label in table.labels.items() if value not in ignore}
        result = mask_to_boxes(classes, labels, ignore=ignore, min_area=self.options.min_area)
        return result.objects, result.dropped_small

    def unknown_value_error(self, item: SourceItem, value: int, pixel: tuple[int, int], window) -> RecordError:
        table = self.options.table
        x, y = pixel[0] + window[0], pixel[1] + window[1]
        return RecordError(item.annotation_path, f"{table.describe_value(value)} at pixel ({x}, {y}) is not in "
                           f"class table {table.name!r} ({table.listing()}); choose the table with -o classes=NAME",
                           reason=errors.UNKNOWN_CLASS)

    def read_mask_band(self, item: SourceItem, mask_info, window, bands: int) -> np.ndarray:
        from rsdata.raster import read_window

        if mask_info.count < bands or (bands == 1 and mask_info.count != 1):
            expected = "one band of class indices" if bands == 1 else f"{bands} bands (RGB colours)"
            raise RecordError(item.annotation_path, f"{self.mask_kind} has {mask_info.count} band(s); expected "
                              f"{expected}", reason=errors.UNSUPPORTED_IMAGE)
        if mask_info.dtype.startswith("float"):
            raise RecordError(item.annotation_path, f"{self.mask_kind} holds {mask_info.dtype} values; expected "
                              "integer class values", reason=errors.UNSUPPORTED_IMAGE)
        return read_window(item.annotation_path, window, tuple(range(1, bands + 1)))


def _min_area_reason() -> str:
    from rsdata.captions.m2b import MIN_AREA_REASON

    return MIN_AREA_REASON


def _folders_named(root: Path, name: str, skip: Sequence[str]) -> list[Path]:
    """Every folder ``<A>/<name>`` below ``root`` (``root`` included), not searching inside folders named in
    ``skip`` (mmsegmentation keeps its split folders inside the image and mask folders)."""
    found = []
    skip_names = {Path(s).name for s in skip}
    for dirpath, dirnames, _ in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(".") and d not in skip_names)
        if (Path(dirpath) / name).is_dir():
            found.append(Path(dirpath) / name)
    return found


@register_format
class IndexMaskFormat(MaskFormat):
    name = "index_mask"
    description = "segmentation masks of class indices (LoveDA, ISPRS via mmsegmentation) -> boxes with m2b/1"
    options_class = IndexMaskOptions
    default_license = "other"
    mask_kind = "label mask"

    def read_objects(self, item, mask_info, window):
        from rsdata.captions.m2b import unknown_values

        mask = self.read_mask_band(item, mask_info, window, 1)[0]
        unknown = unknown_values(mask, self.options.table.labels)
        if unknown:
            value, pixel = unknown[0]
            raise self.unknown_value_error(item, int(value), pixel, window)
        return self.boxes_from_classes(item, mask, window)
