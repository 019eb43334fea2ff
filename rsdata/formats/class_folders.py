"""Scene-classification sets laid out as one folder per class (AID, RESISC45, EuroSAT, PatternNet, ...).

Layouts (option ``layout``: ``auto``, the default, ``classes`` or ``splits``)::

    <root>/<Class>/<image>             "classes": no official split; the format makes one (below)
    <root>/<split>/<Class>/<image>     "splits": the publisher's split folders

``auto`` takes ``splits`` when every folder in the root is named like a split (train, val, valid, validation,
test, trainval) and ``classes`` otherwise. Option ``class_depth=N`` (any N from 1, default 1) reads classes N
levels below the root (or below each split folder): ``class_depth=2`` is ``<root>/<group>/<Class>/<image>``
(sets that group their classes under parent categories), ``class_depth=3`` MillionAID's
``<root>/<level 1>/<level 2>/<level 3>/<image>``. A class is named by its own, deepest folder (not the path of
its groups: the prompt names are the dataset's finest classes, as MillionAID's 51 level-3 names are), and those
names must then be unique across groups. Images are the files directly in a class folder ending in PNG, JPEG,
TIFF or BMP (any case); other files are ignored, and so are folders whose name starts with "." or "__"
(``__MACOSX``). Images at another depth are a layout error whose advice counts the depth actually found: a class
folder that holds folders with images D levels below the root is answered with ``use -o class_depth=D``, and a
folder above the class depth that holds images directly with the smaller depth.

Multi-band images (EuroSAT MS: 13-band GeoTIFF of Sentinel-2 bands, 16-bit) go through rasterio, as the raster
formats do: option ``bands`` (comma list of 1 or 3 band numbers from 1, e.g. ``bands=4,3,2`` for EuroSAT MS's
B04, B03, B02) picks the bands shown, and data that is not 8-bit is stretched between the 2nd and 98th percentiles
of each band of each image (option ``percentiles=LOW,HIGH``, :func:`rsdata.raster.stretch_for`). Such an image
is written as PNG (``image_encoding`` "png", ``source_image_format`` "TIFF"). With ``bands`` every image is read
this way; without it, a TIFF of 8-bit grey or RGB goes to the output as it is, a TIFF of 1 or 3 bands of other
data types is stretched, and a TIFF of more than 3 bands is an ``unsupported_image`` error that names its band
count and asks for ``-o bands=R,G,B``.

Split made by the format (layout ``classes``), the RemoteCLIP protocol: within each class, the images sorted by
file name (Python's string order, so ``airport_10.jpg`` comes before ``airport_2.jpg``); the first
``floor(0.8 n)`` (= ``4 n // 5``, integer arithmetic) of the class's ``n`` images are ``train``, the rest ``test``.
So a class of 10 images gives 8 + 2, of 7 gives 5 + 2, of 1 gives 0 + 1. The build writes each split's images,
one path relative to the root per line, sorted, to ``OUT/splits/<split>.txt``.

Columns added to the base ones (the classification set of the evaluation contract):

- ``label``: ``ClassLabel`` whose names are all class folder names found (in every split), sorted;
- ``class_name``: the class's prompt name: the recipe's name for that folder when it gives one, else the folder
  name with "_" and CamelCase boundaries turned into spaces, lower-cased ("StorageTanks" -> "storage tanks",
  "dense_residential" -> "dense residential", "BaseballField" -> "baseball field").

Rows have no captions (caption rule ``none``) and no objects; ``source_id`` is the image's path relative to the
root. The card lists the classes with their prompt names and the images per class and split. Licence: each
set's own (see its recipe); the default card licence is ``unknown``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

from rsdata import errors
from rsdata.errors import OptionError, RecordError, SourceLayoutError
from rsdata.formats.base import IMAGE_SUFFIXES, SourceFormat, SourceItem, choose_splits, file_signature, register_format
from rsdata.records import NO_CAPTION_RULE, Description, ImageRecord, NothingToDescribe, Provenance

LAYOUTS = ("auto", "classes", "splits")
SPLIT_FOLDER_NAMES = frozenset({"train", "val", "valid", "validation", "test", "trainval"})
#: The share of each class that goes to ``train`` is TRAIN_PARTS / ALL_PARTS (0.8), rounded down.
TRAIN_PARTS, ALL_PARTS = 4, 5

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def prompt_name(folder: str) -> str:
    """The default prompt name of a class folder: "_" and CamelCase boundaries to spaces, lower case."""
    spaced = _CAMEL_BOUNDARY.sub(" ", folder.replace("_", " "))
    return " ".join(spaced.split()).lower()


def train_count(n: int) -> int:
    """How many of a class's ``n`` images go to ``train`` when the format makes the split: floor(0.8 n)."""
    return TRAIN_PARTS * n // ALL_PARTS


TIFF_SUFFIXES = (".tif", ".tiff")


@dataclass(frozen=True)
class ClassFoldersOptions:
    layout: str = "auto"
    class_depth: int | str = 1
    bands: tuple[int, ...] | str | None = None
    percentiles: tuple[float, float] | str = (2.0, 98.0)

    def __post_init__(self):
        from rsdata.formats.index_mask import _parse_bands, _parse_percentiles

        if self.layout not in LAYOUTS:
            raise OptionError(f"option layout={self.layout!r}: expected one of {', '.join(LAYOUTS)}")
        try:
            depth = int(self.class_depth)
        except ValueError:
            depth = 0
        if depth < 1:
            raise OptionError(f"option class_depth={self.class_depth!r}: expected a whole number from 1: 1 for "
                              "<root>/<Class>/, 2 for <root>/<group>/<Class>/, 3 for MillionAID's three levels")
        object.__setattr__(self, "class_depth", depth)
        object.__setattr__(self, "bands", _parse_bands(self.bands))
        object.__setattr__(self, "percentiles", _parse_percentiles(self.percentiles))


@register_format
class ClassFoldersFormat(SourceFormat):
    name = "class_folders"
    description = ("scene classification, one folder per class (<root>[/<split>]/<Class>/); 80/20 split by file "
                   "name; label, no captions")
    options_class = ClassFoldersOptions
    caption_rule = NO_CAPTION_RULE
    counted_columns = ("label",)

    def __init__(self, options: ClassFoldersOptions | None = None):
        super().__init__(options)
        self.class_names: list[str] = []
        self._class_of: dict[str, str] = {}  # image_name -> class folder name

    def list_items(self, root: Path, splits: Sequence[str] | None) -> list[SourceItem]:
        if not root.is_dir():
            raise SourceLayoutError(f"source folder {root} does not exist or is not a folder")
        layout = self._layout(root)
        self.assigns_splits = layout == "classes"
        if layout == "classes":
            by_split = self._made_split(root)
        else:
            by_split = {folder.name: self._class_images(folder) for folder in _subfolders(root)}
        self.class_names = sorted({name for classes in by_split.values() for name in classes})
        if not self.class_names:
            raise SourceLayoutError(f"no class folder in {root}: expected <root>/<Class>/<image> or "
                                    "<root>/<split>/<Class>/<image>")
        chosen = choose_splits(splits, list(by_split), root)
        self._class_of = {}
        items = []
        for split, classes in by_split.items():
            if split not in chosen:
                continue
            for class_name in sorted(classes):
                for path in classes[class_name]:
                    image_name = Path(os.path.relpath(path, root)).as_posix()
                    self._class_of[image_name] = class_name
                    size, mtime = file_signature(path)
                    items.append(SourceItem(split=split, source_id=image_name, image_name=image_name,
                                            image_path=path, annotation_path=None, size_bytes=size,
                                            mtime_ns=mtime))
        return items

    def parse(self, item: SourceItem) -> ImageRecord:
        provenance = Provenance(source_dataset=self.name, split=item.split, source_id=item.source_id)
        label = self.class_names.index(self._class_of[item.image_name])
        image_data = reencoded_from = width = height = None
        if self._through_rasterio(item.image_path):
            image_data, reencoded_from, width, height = self._raster_png(item.image_path)
        return ImageRecord(image_path=item.image_path, image_name=item.image_name, provenance=provenance,
                           extras={"label": label}, image_data=image_data, reencoded_from=reencoded_from,
                           width=width, height=height)

    def _through_rasterio(self, path: Path) -> bool:
        """Whether the image is read through rasterio (a band list, or a TIFF that is not 8-bit grey or RGB)."""
        if self.options.bands is not None:
            return True
        if path.suffix.lower() not in TIFF_SUFFIXES or not path.is_file():
            return False
        info = self.read_policy.raster_info(path)
        return not (info.dtype == "uint8" and info.count in (1, 3))

    def _raster_png(self, path: Path) -> tuple[bytes, str, int, int]:
        from rsdata.raster import encode_png, read_rgb8

        info = self.read_policy.raster_info(path)
        if self.options.bands is None and info.count > 3:
            raise RecordError(path, f"image has {info.count} bands ({info.dtype}); choose the three shown with "
                              "-o bands=R,G,B (EuroSAT MS, Sentinel-2's 13 bands: -o bands=4,3,2)",
                              reason=errors.UNSUPPORTED_IMAGE)
        pixels = read_rgb8(path, (0, 0, info.width, info.height), self.options.bands, self.options.percentiles)
        return encode_png(pixels), info.image_format, info.width, info.height

    def extra_features(self) -> Mapping[str, Any]:
        from datasets import ClassLabel, Value

        return {"label": ClassLabel(names=list(self.class_names)), "class_name": Value("string")}

    def describe(self, record: ImageRecord, objects, image, *, seed: int,
                 vocabulary) -> Description | NothingToDescribe:
        folder = self.class_names[record.extras["label"]]
        return Description((), (), NO_CAPTION_RULE, extras={"class_name": class_prompt(folder, vocabulary)})

    def source_facts(self, vocabulary) -> Mapping[str, list[dict]]:
        return {"Classes": [{"label": index, "folder": folder, "class_name": class_prompt(folder, vocabulary)}
                            for index, folder in enumerate(self.class_names)]}

    # -- layout ----------------------------------------------------------------------------------------------

    def _layout(self, root: Path) -> str:
        if self.options.layout != "auto":
            return self.options.layout
        folders = [p.name for p in _subfolders(root)]
        return "splits" if folders and all(name in SPLIT_FOLDER_NAMES for name in folders) else "classes"

    def _made_split(self, root: Path) -> dict[str, dict[str, list[Path]]]:
        train: dict[str, list[Path]] = {}
        test: dict[str, list[Path]] = {}
        for class_name, images in self._class_images(root).items():
            cut = train_count(len(images))
            train[class_name], test[class_name] = images[:cut], images[cut:]
        return {"train": train, "test": test}

    def _class_images(self, folder: Path) -> dict[str, list[Path]]:
        """Class folder name -> its images sorted by file name, for the classes ``class_depth`` levels below."""
        depth = self.options.class_depth
        class_folders = [folder]
        for level in range(depth):
            for group in class_folders if level else ():  # folders between the root and the classes
                _refuse_images_above(group, folder, level, depth)
            class_folders = [c for parent in class_folders for c in _subfolders(parent)]
        classes: dict[str, list[Path]] = {}
        for class_folder in class_folders:
            if class_folder.name in classes:
                raise SourceLayoutError(f"two class folders are named {class_folder.name!r} below {folder}; class "
                                        "names must be unique")
            nested = _subfolders(class_folder)
            if nested:
                names = ", ".join(p.name for p in nested[:3])
                found = _deepest_image_depth(class_folder)
                if found:
                    advice = (f"images lie {depth + found} levels below {folder} (e.g. {_found_example(class_folder)}"
                              f"); use -o class_depth={depth + found}")
                else:
                    advice = "no images lie below them; remove them or name the right folder"
                raise SourceLayoutError(f"class folder {class_folder} (class_depth={depth}) holds folders ({names}); "
                                        + advice)
            classes[class_folder.name] = sorted(
                # A link whose target is gone is listed too: reading it reports missing_image, not a silent gap.
                (p for p in class_folder.iterdir() if (p.is_file() or (p.is_symlink() and not p.exists()))
                 and not p.name.startswith(".")
                 and p.suffix.lower() in IMAGE_SUFFIXES), key=lambda p: p.name)
        return classes


def class_prompt(folder: str, vocabulary) -> str:
    """The prompt name of a class: the recipe's name for the folder when it has one, else :func:`prompt_name`."""
    if vocabulary is not None and vocabulary.is_named(folder):
        return vocabulary.name(folder).singular
    return prompt_name(folder)


def _subfolders(folder: Path) -> list[Path]:
    return sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))),
                  key=lambda p: p.name)


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                  and p.suffix.lower() in IMAGE_SUFFIXES)


def _refuse_images_above(group: Path, root: Path, level: int, depth: int) -> None:
    """A folder above the class depth that holds images directly: the classes are shallower than ``depth``."""
    images = _images_in(group)
    if images:
        raise SourceLayoutError(f"folder {group} holds images ({images[0].name}, ...) {level} level(s) below {root}, "
                                f"above the class folders (class_depth={depth}); if its images are one class, use "
                                f"-o class_depth={level}")


def _deepest_image_depth(folder: Path) -> int:
    """How many levels below ``folder`` its deepest images lie (0: none below its subfolders)."""
    deepest = 0
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = [d for d in dirnames if not d.startswith((".", "__"))]
        level = len(Path(dirpath).relative_to(folder).parts)
        if level and any(Path(f).suffix.lower() in IMAGE_SUFFIXES and not f.startswith(".") for f in filenames):
            deepest = max(deepest, level)
    return deepest


def _found_example(folder: Path) -> str:
    """One image below ``folder``'s subfolders, relative to ``folder``'s parent, for messages."""
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "__")))
        if Path(dirpath) == folder:
            continue
        for f in sorted(filenames):
            if Path(f).suffix.lower() in IMAGE_SUFFIXES and not f.startswith("."):
                return (Path(dirpath) / f).relative_to(folder.parent).as_posix()
    return folder.name
