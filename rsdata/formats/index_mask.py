"""Single-channel label masks of class indices (LoveDA, ISPRS Potsdam/Vaihingen as mmsegmentation converts them),
turned into boxes with m2b/1; and the machinery the mask formats share (:mod:`rsdata.formats.rgb_mask`,
:mod:`rsdata.formats.isaid`): layouts, the ``layout`` option, class tables, tiling, reading index or colour masks.

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
are masks, and ``exclude`` (comma list of file-name endings) leaves other files out. ``masks=.`` reads the masks
flat in the folder that holds the image folder (only the files directly in it, not its subfolders): the ISPRS
ground-truth archives unpacked as torchgeo's ``Potsdam2D``/``Vaihingen2D`` do, ``<root>/4_Ortho_RGBIR/`` or
``<root>/top/`` beside ``<root>/top_potsdam_2_10_label.tif`` or ``<root>/top_mosaic_09cm_area1.tif``.

Split names given with ``--split`` match split folders whatever their case (``--split Train`` selects
mmsegmentation's ``train``). Without ``--split``, a split folder none of whose images has a mask (LoveDA's
``Test``, mmsegmentation's ``img_dir/test`` without ``ann_dir/test``) is left out, and the build report's source
facts ("Splits left out") and the ``convert`` summary say so; named with ``--split``, its images are reported.

Option ``layout`` (the mask formats share it; the Potsdam, Vaihingen and LoveDA recipes set ``auto``):

- ``given`` (default): the folders and endings the options above name;
- ``mmseg``: mmsegmentation's converted copy, ``<root>/img_dir/<split>/*.png`` + ``<root>/ann_dir/<split>/*.png``
  (``tools/dataset_converters/{potsdam,vaihingen,loveda}.py``; splits ``train``, ``val`` (written as
  ``validation``), LoveDA's ``test`` without masks). Its masks are index masks whatever the published ones are,
  so the class table becomes the ``classes`` table's mmsegmentation counterpart: ``isprs_rgb`` -> ``isprs_mmseg``,
  ``loveda`` and ``loveda_rgb`` -> ``loveda`` (the LoveDA converter moves the masks unchanged); a table without
  one (``isaid``, ``uavid``) refuses the option. The options ``images``, ``masks``, ``image_suffix``,
  ``mask_suffix`` and ``exclude`` are replaced;
- ``auto``: ``mmseg`` when the source folder holds ``img_dir/`` and ``ann_dir/``, else ``given``.

The layout read is recorded: the report's ``settings.format_options`` hold the options as read (``layout`` is
``given`` or ``mmseg``, never ``auto``), its source facts a "Source layout" row (also on the card), and
``convert`` prints it.

Mask: one band of integer class indices (8-bit grey or palette PNG, TIFF), the same pixel size as its image
(else ``object_outside_image`` naming both files). Option ``classes`` names the class table and is required: no
table is assumed (a wrong one silently names every region wrongly), and the error lists the known tables. Values
not in the table are an ``unknown_class`` error naming the mask, the value and its first pixel. Built-in tables:

- ``loveda``: 0 no-data, 1 background, 2 building, 3 road, 4 water, 5 barren, 6 forest, 7 agricultural
  (LoveDA's ``masks_png``; the official loader subtracts 1 so that no-data becomes -1);
- ``isprs_mmseg`` (also ``isprs``, ``potsdam_mmseg``, ``vaihingen_mmseg``): 0 boundary (black: the eroded
  boundary of the ``noBoundary`` labels, and any colour outside the table), 1 impervious_surface, 2 building,
  3 low_vegetation, 4 tree, 5 car, 6 clutter, as mmsegmentation's ``tools/dataset_converters/potsdam.py`` and
  ``vaihingen.py`` write them (its colour map is in BGR order, as ``mmcv.imread`` reads). mmsegmentation's
  ``PotsdamDataset``/``ISPRSDataset`` then load them with ``reduce_zero_label`` (0 -> 255, 1..6 -> 0..5) to get
  its six classes; the files hold 0..6.

There is no ``classes=0:name,...`` form: a table is a named, documented declaration.

``ignore`` (comma list of class names or indices) names the classes that are not described; by default the
table's no-data and boundary classes. ``min_area`` (pixels, default 1) drops smaller regions, counted in the
build report as ``region_below_min_area``.

Tiling is the build's (``rsdata convert --tile SIZE --overlap F``): each image is cut into square windows as
:func:`rsdata.geometry.tile_windows` does (the last tile of a row or column moved back inside the image), one
item per tile, and each tile's boxes come from m2b/1 over that tile's window of the mask, so a region crossing
tile edges is a box in every tile it covers (``--tile-keep-share`` is for box formats; it does not apply here).
Without ``--tile`` each image is one item. (The former format options ``-o tile=``/``-o overlap=`` are refused,
naming ``--tile``/``--overlap``.) Listing reads raster headers only; parsing reads the item's window of image and
mask (:mod:`rsdata.raster`), so memory follows the tile size. A window that is not a whole PNG or JPEG file is
written as PNG (``image_encoding`` "png", ``source_image_format`` the source file's, e.g. "TIFF"); the row's
``image`` path stays the source image's, and ``tile_offset`` locates the window in it. ``bands`` (comma list,
1-based) picks the image bands shown (default 1,2,3, or 1 for a single-band image); data that is not 8-bit is
stretched between the 2nd and 98th percentiles of each band (option ``percentiles=LOW,HIGH``). Georeferenced
images (GeoTIFF) give each record (each tile) its CRS, its own geotransform (rasterio's ``window_transform``)
and its own WGS84 footprint.

Real samples checked: LoveDA masks (mmsegmentation's copy, 1024 x 1024) and one mmsegmentation Potsdam crop.
Licences differ per dataset (LoveDA CC BY-NC-SA 4.0, ISPRS benchmark terms); the recipes name them.
"""

from __future__ import annotations

import dataclasses
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
    choose_splits,
    file_signature,
    hub_split_name,
    register_format,
    split_matches,
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
    #: The index table of mmsegmentation's converted copy of the dataset (``layout=mmseg``), if it has one.
    mmseg: str | None = None

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
    table = ClassTable(name, dict(enumerate(labels)), tuple(default_ignore), mmseg=name)
    for key in (name, *aliases):
        INDEX_TABLES[key] = table


# mmsegmentation's LoveDA converter moves the published masks unchanged, so both copies share one table.
_index_table("loveda", ["no-data", "background", "building", "road", "water", "barren", "forest", "agricultural"],
             ["no-data"])
_index_table("isprs_mmseg", ["boundary", "impervious_surface", "building", "low_vegetation", "tree", "car",
                             "clutter"], ["boundary"], "isprs", "potsdam_mmseg", "vaihingen_mmseg")

#: Values of option ``layout``.
LAYOUTS = ("given", "mmseg", "auto")
#: mmsegmentation's converted copies: ``img_dir/<split>/*.png`` + ``ann_dir/<split>/*.png``.
MMSEG_IMAGES, MMSEG_MASKS = "img_dir", "ann_dir"


def known_tables(tables: Mapping[str, ClassTable]) -> str:
    """``name (also alias, ...): listing; ...`` for an error message: every table a ``classes`` option accepts."""
    names: dict[int, list[str]] = {}
    for key, table in tables.items():
        names.setdefault(id(table), []).append(key)
    entries = []
    for keys in sorted(names.values(), key=lambda k: tables[k[0]].name):
        table = tables[keys[0]]
        aliases = [k for k in keys if k != table.name]
        classes = ", ".join(table.labels.values()) if table.colours else table.listing()
        entries.append(table.name + (f" (also {', '.join(aliases)})" if aliases else "") + f": {classes}")
    return "; ".join(entries)


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
    layout: str = "given"
    ignore: str | None = None
    min_area: int | str = 1
    images: str = "img_dir"
    masks: str = "ann_dir"
    image_suffix: str = ""
    mask_suffix: str = ".png"
    exclude: str = ""
    bands: tuple[int, ...] | str | None = None
    percentiles: tuple[float, float] | str = (2.0, 98.0)

    tables: ClassVar[Mapping[str, ClassTable]] = INDEX_TABLES

    def __post_init__(self):
        known = self._accepted_tables()
        if not self.classes:
            raise OptionError(f"option classes is required: no class table is assumed, since a wrong one names "
                              f"every region wrongly. Give -o classes=NAME (or convert with a dataset recipe, "
                              f"recipes/datasets/*.yaml, which names it); known tables: {known_tables(known)}")
        if self.classes not in known:
            raise OptionError(f"option classes={self.classes!r}: expected one of {', '.join(sorted(known))} "
                              f"({known_tables(known)})")
        if self.layout not in LAYOUTS:
            raise OptionError(f"option layout={self.layout!r}: expected one of {', '.join(LAYOUTS)}")
        if self.layout != "given" and known[self.classes].mmseg is None:
            raise OptionError(f"option layout={self.layout}: class table {self.classes!r} has no "
                              "mmsegmentation-converted copy; use layout=given")
        object.__setattr__(self, "min_area", _positive_int("min_area", self.min_area))
        object.__setattr__(self, "bands", _parse_bands(self.bands))
        object.__setattr__(self, "percentiles", _parse_percentiles(self.percentiles))
        for name in ("images", "masks"):
            value = getattr(self, name)
            if not value or os.path.isabs(value) or ".." in Path(value).parts:
                raise OptionError(f"option {name}={value!r}: expected a folder name inside the source folder")
        if not self.mask_suffix:
            raise OptionError("option mask_suffix='': expected the mask files' ending, e.g. .png or _label.tif")
        self.ignored_values()  # checks the names now, naming the table's classes

    def _accepted_tables(self) -> Mapping[str, ClassTable]:
        # mmsegmentation's copy of a colour-mask dataset holds index masks: its table is an index table.
        return {**self.tables, **INDEX_TABLES} if self.layout == "mmseg" else self.tables

    @property
    def table(self) -> ClassTable:
        return self._accepted_tables()[self.classes]

    def for_mmseg(self) -> "MaskOptions":
        """These options read mmsegmentation's converted copy: its folders, PNG endings and index table."""
        return dataclasses.replace(self, layout="mmseg", classes=self.table.mmseg, images=MMSEG_IMAGES,
                                   masks=MMSEG_MASKS, image_suffix="", mask_suffix=".png", exclude="")

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
    pass


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
    """Base of the mask formats: layout, tiles (:meth:`tile_items`), image windows and provenance; subclasses read
    masks."""

    mask_kind: ClassVar[str] = "mask"

    # -- listing ---------------------------------------------------------------------------------------------

    def __init__(self, options=None):
        super().__init__(options)
        #: The ``layout`` asked for; ``list_items`` resolves ``auto`` and replaces the options by those it read.
        self.asked_layout = self.options.layout
        #: Split folders left out because none of their images has a mask (set by ``list_items``).
        self.splits_left_out: list[dict] = []

    #: Former format options, now the build's: the message names the option to use instead.
    moved_options: ClassVar[Mapping[str, str]] = {"tile": "--tile SIZE", "overlap": "--overlap FRACTION"}

    @classmethod
    def from_option_strings(cls, pairs: Mapping[str, str]) -> "MaskFormat":
        moved = [key for key in pairs if key in cls.moved_options]
        if moved:
            given = ", ".join(f"-o {key}={pairs[key]}" for key in moved)
            instead = " and ".join(cls.moved_options[key] for key in moved)
            no_longer = "is no longer a format option" if len(moved) == 1 else "are no longer format options"
            raise OptionError(f"format {cls.name!r}: {given} {no_longer}; tiling is the same for every format: use "
                              f"{instead} (rsdata convert), or convert_options: {{tile: SIZE, tile_overlap: "
                              f"FRACTION}} in a dataset recipe")
        return super().from_option_strings(pairs)

    def list_items(self, root: Path, splits: Sequence[str] | None) -> list[SourceItem]:
        self._resolve_layout(root)
        items = []
        for pair in self._pairs(root, splits):
            size, mtime = file_signature(pair.image_path)
            items.append(SourceItem(split=pair.split, source_id=pair.source_id, image_name=pair.image_name,
                                    image_path=pair.image_path, annotation_path=pair.mask_path, size_bytes=size,
                                    mtime_ns=mtime))
        return items

    def tile_items(self, items: Sequence[SourceItem], size: int, overlap: float = 0.0, *,
                   stride: int | None = None) -> list[SourceItem]:
        """One item per window, from the image's header (an item lacking its image or mask, or whose image cannot
        be read, stays whole: parsing reports it, once)."""
        from rsdata.geometry import tile_windows
        from rsdata.raster import read_raster_info

        tiles = []
        for item in items:
            windows: list[tuple[int, int, int, int] | None] = [None]
            if item.image_path is not None and item.annotation_path is not None:
                try:
                    info = read_raster_info(item.image_path)
                except RecordError:
                    pass
                else:
                    windows = tile_windows(info.width, info.height, size, overlap, stride=stride)
            share = max(1, item.size_bytes // len(windows))
            tiles.extend(dataclasses.replace(item, size_bytes=share, window=window) for window in windows)
        return tiles

    def _resolve_layout(self, root: Path) -> None:
        options = self.options
        if options.layout == "mmseg" or (options.layout == "auto" and _is_mmseg_copy(root)):
            self.options = options.for_mmseg()
        elif options.layout == "auto":
            self.options = dataclasses.replace(options, layout="given")

    def _pairs(self, root: Path, splits: Sequence[str] | None) -> list[_Pair]:
        options = self.options
        if not root.is_dir():
            raise SourceLayoutError(f"source folder {root} does not exist or is not a folder")
        image_dirs = _folders_named(root, options.images, (options.images, options.masks))
        if not image_dirs:
            also = (f"; layout=auto also looked for mmsegmentation's converted copy, <root>/{MMSEG_IMAGES}/ beside "
                    f"<root>/{MMSEG_MASKS}/" if self.asked_layout == "auto" else "")
            raise SourceLayoutError(
                f"no '{options.images}/' folder in {root} nor below it; expected <root>/{options.images}/ beside "
                f"<root>/{options.masks}/ (or <root>/<split>/{options.images}/; name the folders with "
                f"-o images=NAME -o masks=NAME){also}")
        # Split names match folders whatever their case: LoveDA's Train is mmsegmentation's train.
        asked = {s.casefold() for s in splits} if splits else None
        found: dict[str | None, list[_Pair]] = {}
        for image_dir in image_dirs:
            above = image_dir.parent.relative_to(root).parts
            if above and splits and not any(split_matches(name, above[0]) for name in splits):
                continue  # a split not asked for
            mask_dir = image_dir.parent / options.masks
            if not mask_dir.is_dir() and (asked or not above):
                raise SourceLayoutError(f"no mask folder {mask_dir} beside {image_dir}; expected the {self.mask_kind}"
                                        f"s there (or name the folder with -o masks=NAME)")
            for pair in self._pairs_in(root, image_dir, mask_dir, above):
                found.setdefault(pair.split, []).append(pair)
        self.splits_left_out = []
        if not asked:
            for split in sorted(s for s in found if s is not None):
                if not any(pair.mask_path for pair in found[split]):
                    self.splits_left_out.append({
                        "split": split, "images": len(found.pop(split)),
                        "reason": f"no {self.mask_kind}s, so left out (as LoveDA's Test, published without them)"})
            if not found:
                raise SourceLayoutError(f"no {self.mask_kind}s in {root}: every split folder lacks them "
                                        f"({', '.join(s['split'] for s in self.splits_left_out)})")
        named = sorted(s for s in found if s is not None)
        if None in found:  # images directly in the folders: one split, named by --split
            if splits and len(splits) > 1:
                raise OptionError(f"{root} holds a single split ({options.images}/ directly holds images); give at "
                                  "most one --split to name it")
            found[splits[0] if splits else "train"] = found.pop(None) + found.get(splits[0] if splits else "train", [])
        elif splits:
            found = {s: found[s] for s in choose_splits(splits, named, root)}
        pairs = []
        for split in sorted(found):
            hub_split_name(split)
            for pair in sorted(found[split], key=lambda p: p.image_name):
                pairs.append(_Pair(split, pair.source_id, pair.image_name, pair.image_path, pair.mask_path))
        return pairs

    def _pairs_in(self, root: Path, image_dir: Path, mask_dir: Path, above: tuple[str, ...]) -> list[_Pair]:
        options = self.options
        images = self._index(image_dir, self._is_image, self._image_id)
        masks = self._index(mask_dir, self._is_mask, self._mask_id, flat=options.masks == ".")
        pairs = []
        for key in sorted(set(images) | set(masks)):
            sub, source_id = key
            split = above[0] if above else (sub[0] if sub else None)
            image_path, mask_path = images.get(key), masks.get(key)
            image_name = (image_path or image_dir.joinpath(*sub, source_id + (options.image_suffix or ""))
                          ).relative_to(root).as_posix()
            pairs.append(_Pair(split, source_id, image_name, image_path, mask_path))
        return pairs

    def _index(self, folder: Path, accept, identify, flat: bool = False) -> dict[tuple[tuple[str, ...], str], Path]:
        index: dict[tuple[tuple[str, ...], str], Path] = {}
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames[:] = [] if flat else sorted(d for d in dirnames if not d.startswith(".") and d not in (
                self.options.masks, self.options.images))
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
        passes_through = self._passes_through(image_info, window)
        image_data = None if passes_through else self._image_bytes(item, window)
        return ImageRecord(image_path=item.image_path, image_name=item.image_name, provenance=provenance,
                           objects=objects, annotation_path=item.annotation_path, image_data=image_data,
                           reencoded_from=None if passes_through else image_info.image_format,
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
        """The window's objects (in window coordinates) and how many regions ``min_area`` dropped. The class
        table says how the mask is read: mmsegmentation's copy of a colour-mask dataset holds index masks."""
        if self.options.table.colours:
            return self.colour_objects(item, mask_info, window)
        return self.index_objects(item, mask_info, window)

    def index_objects(self, item: SourceItem, mask_info, window) -> tuple[tuple[ObjectAnnotation, ...], int]:
        from rsdata.captions.m2b import unknown_values

        mask = self.read_mask_band(item, mask_info, window, 1)[0]
        unknown = unknown_values(mask, self.options.table.labels)
        if unknown:
            value, pixel = unknown[0]
            raise self.unknown_value_error(item, int(value), pixel, window)
        return self.boxes_from_classes(item, mask, window)

    def colour_objects(self, item: SourceItem, mask_info, window) -> tuple[tuple[ObjectAnnotation, ...], int]:
        from rsdata.formats.rgb_mask import colours_to_classes

        if mask_info.dtype != "uint8":
            raise RecordError(item.annotation_path, f"colour mask holds {mask_info.dtype} values; expected 8-bit "
                              "RGB", reason=errors.UNSUPPORTED_IMAGE)
        pixels = self.read_mask_band(item, mask_info, window, 3)
        packed, unknown = colours_to_classes(pixels, self.options.table)
        if unknown is not None:
            raise self.unknown_value_error(item, unknown[0], unknown[1], window)
        return self.boxes_from_classes(item, packed, window)

    def source_facts(self, vocabulary) -> Mapping[str, list[dict]]:
        """The layout read (``layout=auto`` says which it found) and the split folders left out."""
        options = self.options
        what = ("mmsegmentation's converted copy" if options.layout == "mmseg"
                else "the folders the format options name")
        facts = {"Source layout": [{
            "layout": options.layout, "asked": self.asked_layout, "what": what, "images": f"{options.images}/",
            "masks": f"{options.masks}/", "mask_ending": options.mask_suffix, "classes": options.table.name}]}
        if self.splits_left_out:
            facts["Splits left out"] = list(self.splits_left_out)
        return facts

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


def _is_mmseg_copy(root: Path) -> bool:
    return (root / MMSEG_IMAGES).is_dir() and (root / MMSEG_MASKS).is_dir()


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
