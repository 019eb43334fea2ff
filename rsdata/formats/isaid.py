"""iSAID instance segmentation masks (PNG), as the iSAID devkit lays them out, turned into boxes.

Layout (the devkit's ``dataset/iSAID/<split>/images/``)::

    <root>/train/images/P0005.png                        the image (a DOTA image)
    <root>/train/images/P0005_instance_color_RGB.png     semantic mask: one colour per class
    <root>/train/images/P0005_instance_id_RGB.png        instance mask: one RGB triple per instance
    <root>/val/images/...

or ``<root>/images/...`` for one split. Option ``images`` renames the folder; ``masks`` (default: the images
folder) names the folder of the two masks when they are kept apart (iSAID's download ships them as
``Semantic_masks/images/`` and ``Instance_masks/images/``: gather them in one folder, or beside the images).

Instance ids: the devkit decodes the instance mask as ``id = R + 256 G + 65536 B`` (``instances2dict_with_polygons``)
and skips ids below 1000 (0 is background); an instance's class is the colour of the semantic mask under its
pixels (checked on the devkit's samples: every instance lies on one class colour). The class table is
``rsdata.formats.rgb_mask``'s ``isaid`` table (unlabeled (0, 0, 0) is ignored by default; option ``ignore``).

Boxes (option ``boxes``):

- ``instances`` (default): one box per instance id, the bounds of all its pixels in the window (an instance cut
  by a tile edge gives the box of its part inside the tile); an instance whose pixels carry several class colours
  takes the most frequent non-ignored one; instances of ignored classes are left out;
- ``m2b``: m2b/1 over the semantic colour mask, per class, as the RemoteCLIP recipe does (touching instances of
  one class merge into one region); the instance mask is not read.

``min_area`` drops instances (or regions) of fewer pixels, counted as ``region_below_min_area``. Tiling (the
build's ``--tile``/``--overlap``; the RemoteCLIP recipe: 896-pixel tiles, boxes computed per tile), ``bands`` and
``percentiles`` are those of :mod:`rsdata.formats.index_mask`; the class table is iSAID's own (``classes``
defaults to ``isaid``, as the format is iSAID's), and ``layout`` is only ``given`` (mmsegmentation's iSAID copy
is patches with its own indices). An unknown colour in the semantic mask is ``unknown_class`` naming the mask,
colour and pixel; a missing instance mask (``boxes=instances``) is ``missing_annotation``.

Licence: iSAID's annotations are for academic use (https://captain-whu.github.io/iSAID/); the images are DOTA's
(academic use only), so the default card licence is ``other``. Real samples checked: the devkit's P0002 (masks
only; its image is not in the sample) and P0005.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rsdata import errors
from rsdata.errors import OptionError, RecordError
from rsdata.formats.base import register_format
from rsdata.formats.index_mask import MaskFormat, MaskOptions
from rsdata.formats.rgb_mask import COLOUR_TABLES, colours_to_classes
from rsdata.records import ObjectAnnotation

COLOUR_SUFFIX = "_instance_color_RGB.png"
INSTANCE_SUFFIX = "_instance_id_RGB.png"
BOXES_CHOICES = ("instances", "m2b")
#: Instance ids below this are not instances (the devkit's ``instances2dict_with_polygons``).
FIRST_INSTANCE_ID = 1000


@dataclass(frozen=True)
class IsaidOptions(MaskOptions):
    classes: str = "isaid"
    images: str = "images"
    masks: str = ""
    mask_suffix: str = COLOUR_SUFFIX
    exclude: str = INSTANCE_SUFFIX
    boxes: str = "instances"
    tables = COLOUR_TABLES

    def __post_init__(self):
        if not self.masks:
            object.__setattr__(self, "masks", self.images)
        super().__post_init__()
        if self.boxes not in BOXES_CHOICES:
            raise OptionError(f"option boxes={self.boxes!r}: expected one of {', '.join(BOXES_CHOICES)}")


@register_format
class IsaidFormat(MaskFormat):
    name = "isaid"
    description = "iSAID instance/colour PNG masks -> one box per instance, or per class region with m2b/1"
    options_class = IsaidOptions
    default_license = "other"
    mask_kind = "colour mask"

    def read_objects(self, item, mask_info, window):
        pixels = self.read_mask_band(item, mask_info, window, 3)
        packed, unknown = colours_to_classes(pixels, self.options.table)
        if unknown is not None:
            raise self.unknown_value_error(item, unknown[0], unknown[1], window)
        if self.options.boxes == "m2b":
            return self.boxes_from_classes(item, packed, window)
        return self._instance_boxes(item, packed, window)

    def instance_mask_path(self, item) -> Path:
        colour = Path(item.annotation_path)
        return colour.with_name(colour.name[:-len(COLOUR_SUFFIX)] + INSTANCE_SUFFIX)

    def _instance_boxes(self, item, packed: np.ndarray, window) -> tuple[tuple[ObjectAnnotation, ...], int]:
        from scipy import ndimage

        from rsdata.raster import read_raster_info, read_window

        path = self.instance_mask_path(item)
        if not path.is_file():
            raise RecordError(item.annotation_path, f"no instance mask {path.name} beside the colour mask (needed "
                              "for -o boxes=instances; -o boxes=m2b reads the colour mask alone)",
                              reason=errors.MISSING_ANNOTATION)
        info = self.read_policy.raster_info(path, window)  # a file of its own: path and pixels checked
        colour_info = read_raster_info(item.annotation_path)
        if (info.width, info.height) != (colour_info.width, colour_info.height) or info.count < 3:
            raise RecordError(path, f"instance mask is {info.width} x {info.height} pixels with {info.count} band(s) "
                              f"but its colour mask {item.annotation_path} is {colour_info.width} x "
                              f"{colour_info.height}; expected the same size, in RGB",
                              reason=errors.SIZE_MISMATCH)
        rgb = read_window(path, window, (1, 2, 3)).astype(np.int64)
        ids = rgb[0] + 256 * rgb[1] + 65536 * rgb[2]
        ids[ids < FIRST_INSTANCE_ID] = 0
        instance_ids, labels = np.unique(ids, return_inverse=True)
        labels = labels.reshape(ids.shape)
        if instance_ids[0] == 0:
            instance_ids = instance_ids[1:]
        else:
            labels = labels + 1  # no background in this window: label 0 must stay "not an instance"
        if instance_ids.size == 0:
            return (), 0
        table = self.options.table
        ignore = self.options.ignored_values()
        colours = np.fromiter(sorted(table.labels), dtype=np.int64)
        class_index = np.searchsorted(colours, packed)  # every colour is known (checked by the caller)
        ignored_index = np.isin(colours, np.fromiter(ignore, dtype=np.int64, count=len(ignore)))
        # votes[instance, class]: pixels of each instance on each class colour
        votes = np.bincount(labels.ravel() * len(colours) + class_index.ravel(),
                            minlength=(instance_ids.size + 1) * len(colours)).reshape(-1, len(colours))[1:]
        areas = votes.sum(axis=1)
        votes[:, ignored_index] = 0
        slices = ndimage.find_objects(labels)
        objects, dropped = [], 0
        for number, box_slices in enumerate(slices):
            if box_slices is None or votes[number].max() == 0:
                continue  # only on ignored classes (background)
            if areas[number] < self.options.min_area:
                dropped += 1
                continue
            label = table.labels[int(colours[int(votes[number].argmax())])]
            ys, xs = box_slices
            objects.append((label, (float(xs.start), float(ys.start), float(xs.stop), float(ys.stop))))
        order = {label: i for i, (_, label) in enumerate(sorted(table.labels.items()))}
        objects.sort(key=lambda o: (order[o[0]], o[1][1], o[1][0], o[1][3], o[1][2]))
        return tuple(ObjectAnnotation(category=label, bbox=box) for label, box in objects), dropped
