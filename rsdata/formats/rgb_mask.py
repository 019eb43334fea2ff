"""Colour-coded RGB label masks (ISPRS Potsdam/Vaihingen as published, iSAID ``*_instance_color_RGB.png``,
UAVid), turned into boxes with m2b/1.

Layout, split folders without masks, tiling (the build's ``--tile``/``--overlap``: m2b/1 per tile), image bands,
georeferencing and the options ``layout``, ``ignore``, ``min_area``, ``images``, ``masks``, ``image_suffix``,
``mask_suffix``, ``exclude``, ``bands`` and ``percentiles`` are those of :mod:`rsdata.formats.index_mask` (read
its docstring). With ``layout=mmseg`` (or ``auto`` finding ``img_dir/`` + ``ann_dir/``) the source is
mmsegmentation's converted copy, whose masks are index masks: ``classes=isprs_rgb`` then reads them with
``isprs_mmseg`` (the recipes ``potsdam`` and ``vaihingen`` do this). Typical layouts::

    ISPRS Potsdam    <root>/2_Ortho_RGB/top_potsdam_2_10_RGB.tif + <root>/5_Labels_all/top_potsdam_2_10_label.tif
                     -o images=2_Ortho_RGB -o masks=5_Labels_all -o image_suffix=_RGB.tif -o mask_suffix=_label.tif
    ISPRS Vaihingen  <root>/top/top_mosaic_09cm_area1.tif + <root>/gts_for_participants/top_mosaic_09cm_area1.tif
                     -o images=top -o masks=gts_for_participants -o mask_suffix=.tif
    ISPRS, torchgeo  <root>/4_Ortho_RGBIR/top_potsdam_2_10_RGBIR.tif + <root>/top_potsdam_2_10_label.tif (labels
                     flat in the root, as torchgeo's Potsdam2D/Vaihingen2D unpack them): -o masks=. (the recipes'
                     variant ``torchgeo``)
    iSAID            <root>/train/images/P0005.png + <root>/train/images/P0005_instance_color_RGB.png
                     -o images=images -o masks=images -o mask_suffix=_instance_color_RGB.png
                     -o exclude=_instance_id_RGB.png        (or use the ``isaid`` format)
    UAVid            <root>/uavid_train/seq1/Images/000000.png + <root>/uavid_train/seq1/Labels/000000.png
                     -o images=Images -o masks=Labels       (split: uavid_train, uavid_val)

Mask: three bands (a fourth, alpha, is not read) of 8-bit RGB; every colour must be in the class table (option
``classes``, required: no table is assumed, and the error lists the known ones), else ``unknown_class`` naming
the mask, the colour and its first pixel. Built-in colour tables:

- ``isprs_rgb`` (also ``isprs``): (255, 255, 255) impervious_surface, (0, 0, 255) building, (0, 255, 255)
  low_vegetation, (0, 255, 0) tree, (255, 255, 0) car, (255, 0, 0) clutter, (0, 0, 0) boundary (the black eroded
  boundary of the ``noBoundary`` labels; ignored by default). ISPRS 2D semantic labelling benchmark.
- ``isaid``: (0, 0, 0) unlabeled (ignored by default) and the 15 classes of the iSAID devkit's ``labels.py``:
  (0, 0, 63) ship, (0, 63, 63) storage_tank, (0, 63, 0) baseball_diamond, (0, 63, 127) tennis_court,
  (0, 63, 191) basketball_court, (0, 63, 255) Ground_Track_Field, (0, 127, 63) Bridge, (0, 127, 127)
  Large_Vehicle, (0, 0, 127) Small_Vehicle, (0, 0, 191) Helicopter, (0, 0, 255) Swimming_pool, (0, 191, 127)
  Roundabout, (0, 127, 191) Soccer_ball_field, (0, 127, 255) plane, (0, 100, 155) Harbor.
- ``uavid``: (0, 0, 0) background_clutter, (128, 0, 0) building, (128, 64, 128) road, (0, 128, 0) tree,
  (128, 128, 0) low_vegetation, (64, 0, 128) moving_car, (192, 0, 192) static_car, (64, 64, 0) human (UAVid's
  published colour table; no real UAVid sample was available, the table is from the UAVid paper and toolkit).
- ``loveda_rgb``: LoveDA's visualisation colours, for colour renderings of LoveDA masks: (255, 255, 255)
  background, (255, 0, 0) building, (255, 255, 0) road, (0, 0, 255) water, (159, 129, 183) barren, (0, 255, 0)
  forest, (255, 195, 128) agricultural.

Real samples checked: the iSAID colour masks of the devkit (P0002, P0005). No native ISPRS colour label nor
UAVid label was available; those tables follow the publishers' documentation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rsdata.formats.base import register_format
from rsdata.formats.index_mask import ClassTable, MaskFormat, MaskOptions, pack_colour

COLOUR_TABLES: dict[str, ClassTable] = {}


def _colour_table(name: str, entries: list[tuple[tuple[int, int, int], str]], default_ignore=(), *,
                  aliases: tuple[str, ...] = (), mmseg: str | None = None) -> None:
    table = ClassTable(name, {pack_colour(*rgb): label for rgb, label in entries}, tuple(default_ignore),
                       colours=True, mmseg=mmseg)
    for key in (name, *aliases):
        COLOUR_TABLES[key] = table


_colour_table("isprs_rgb", [
    ((255, 255, 255), "impervious_surface"), ((0, 0, 255), "building"), ((0, 255, 255), "low_vegetation"),
    ((0, 255, 0), "tree"), ((255, 255, 0), "car"), ((255, 0, 0), "clutter"), ((0, 0, 0), "boundary"),
], ["boundary"], aliases=("isprs",), mmseg="isprs_mmseg")
_colour_table("isaid", [
    ((0, 0, 0), "unlabeled"), ((0, 0, 63), "ship"), ((0, 63, 63), "storage_tank"),
    ((0, 63, 0), "baseball_diamond"), ((0, 63, 127), "tennis_court"), ((0, 63, 191), "basketball_court"),
    ((0, 63, 255), "Ground_Track_Field"), ((0, 127, 63), "Bridge"), ((0, 127, 127), "Large_Vehicle"),
    ((0, 0, 127), "Small_Vehicle"), ((0, 0, 191), "Helicopter"), ((0, 0, 255), "Swimming_pool"),
    ((0, 191, 127), "Roundabout"), ((0, 127, 191), "Soccer_ball_field"), ((0, 127, 255), "plane"),
    ((0, 100, 155), "Harbor"),
], ["unlabeled"])
_colour_table("uavid", [
    ((0, 0, 0), "background_clutter"), ((128, 0, 0), "building"), ((128, 64, 128), "road"), ((0, 128, 0), "tree"),
    ((128, 128, 0), "low_vegetation"), ((64, 0, 128), "moving_car"), ((192, 0, 192), "static_car"),
    ((64, 64, 0), "human"),
])
_colour_table("loveda_rgb", [
    ((255, 255, 255), "background"), ((255, 0, 0), "building"), ((255, 255, 0), "road"), ((0, 0, 255), "water"),
    ((159, 129, 183), "barren"), ((0, 255, 0), "forest"), ((255, 195, 128), "agricultural"),
], mmseg="loveda")


@dataclass(frozen=True)
class RgbMaskOptions(MaskOptions):
    tables = COLOUR_TABLES


def colours_to_classes(pixels: np.ndarray, table: ClassTable) -> tuple[np.ndarray, tuple[int, tuple[int, int]] | None]:
    """(3, h, w) RGB pixels -> (h, w) packed colours restricted to the table, and the first unknown colour
    with its (x, y), or None. Unknown pixels keep their packed colour (the caller raises before using them)."""
    packed = (pixels[0].astype(np.int32) << 16) | (pixels[1].astype(np.int32) << 8) | pixels[2].astype(np.int32)
    known = np.fromiter(sorted(table.labels), dtype=np.int32)
    position = np.clip(np.searchsorted(known, packed), 0, len(known) - 1)
    bad = known[position] != packed
    if bad.any():
        y, x = divmod(int(np.flatnonzero(bad)[0]), packed.shape[1])
        return packed, (int(packed[y, x]), (x, y))
    return packed, None


@register_format
class RgbMaskFormat(MaskFormat):
    name = "rgb_mask"
    description = "colour-coded RGB segmentation masks (ISPRS, iSAID, UAVid) -> boxes with m2b/1"
    options_class = RgbMaskOptions
    default_license = "other"
    mask_kind = "colour mask"
