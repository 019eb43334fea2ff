"""What a source format is, how formats are registered, and the folder-layout helpers formats share.

A format is a small class over a typed options dataclass (unknown option names are rejected with the valid
ones listed). It does two things, both without opening images:

- ``list_items(root, splits)``: walk the source folder and return one :class:`SourceItem` per image, in a
  deterministic order (sorted), so that the same folder always gives the same plan;
- ``parse(item)``: read that item's annotations into an :class:`~rsdata.records.ImageRecord`, raising
  :class:`~rsdata.errors.RecordError` (file, line, reason) on bad input.

How records become rows, for formats that are not box-captioned (all defaults suit box formats):

- ``caption_rule`` names the rule of the format's rows; :meth:`SourceFormat.describe` applies it to a record
  without human captions (default: Box-to-Caption ``b2c/1``; an image with no objects is left out as
  ``no_objects``). Records with ``human_captions`` keep them (rule ``human``) whatever the format.
- :meth:`SourceFormat.extra_features` declares columns beyond the base schema (name -> ``datasets`` feature, e.g.
  a ``ClassLabel`` whose names the listing found); each row's values come from the record's ``extras`` and the
  description's. ``counted_columns`` are counted per value and split in the report and card.
- :meth:`SourceFormat.source_facts` gives tables about the listed source for the card (e.g. classes and their
  prompt names); ``assigns_splits`` (set by ``list_items``) says the format made the splits itself, and the
  build then writes each split's image list to ``OUT/splits/<split>.txt``.

Tiling (the build's ``--tile``/``--overlap``, one mechanism for every format): a format whose ``parse`` reads a
window of a large raster itself (the mask formats: per-tile Mask-to-Box, pixels and georeferencing read window by
window) says so by returning its items' tiles from :meth:`SourceFormat.tile_items`, one item per tile with its
``window`` set. For every other format ``tile_items`` returns None, and the build parses the whole image and cuts
it and its boxes (:func:`rsdata.geometry.objects_in_window`).

What a format may read is the build's :class:`ReadPolicy` (``SourceFormat.read_policy``, set by the build's plan):

- Nothing from outside SOURCE. The build reads records through :meth:`SourceFormat.read`, which checks every file
  a record names (its item's image and annotation file before parsing, the record's after: an image an
  annotation names) with :meth:`ReadPolicy.check_path`: a file reached through a symbolic link that resolves
  outside the (resolved) source root is ``link_outside_source``, an error naming the link and its target, unless
  ``allow_outside_links`` is set. Listing only reads folder entries, so the helpers below may walk into a folder
  that a link leads out of SOURCE (as ``images -> /mnt/disk2/images``): each image found there is then refused
  (one counted skip per image with ``--on-error skip``). Below the folder a format lists, ``os.walk`` does not
  enter folder links at all. A linked SOURCE root is fine: the build resolves it first.
- No image over the pixel limit. Formats that read rasters themselves (segmentation masks) take their headers
  through :meth:`ReadPolicy.raster_info`, which refuses a window over ``max_pixels`` and an implausible header
  (:func:`rsdata.images.check_pixels`) before any pixel is decoded; the build checks every image it stores.

Formats are registered by name with :func:`register_format` and found with :func:`get_format`.
"""

from __future__ import annotations

import dataclasses
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Iterable, Mapping, Sequence

from rsdata import errors
from rsdata.captions.b2c import RULE_ID as B2C_RULE
from rsdata.errors import OptionError, RecordError, SourceLayoutError, did_you_mean
from rsdata.images import DEFAULT_MAX_PIXELS, check_pixels, check_plausible_size
from rsdata.records import Description, ImageRecord, NothingToDescribe, ObjectAnnotation

#: Image file endings a source may use, in the order preferred when one stem has several.
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")

#: Source split folder names renamed to the Hub's split names ("val" is ``validation`` on the Hub).
HUB_SPLIT_NAMES = {"val": "validation", "valid": "validation"}

_SPLIT_NAME = re.compile(r"^\w+(\.\w+)*$")


@dataclass(frozen=True)
class SourceItem:
    """One image of a source, as found by listing the folder (nothing is parsed yet).

    ``split`` is the source's split name (folder name, e.g. "val"); ``image_name`` the image's path relative to
    the source root with "/" separators (also used when the image is missing, naming what was looked for);
    ``size_bytes`` the image file's size (0 when missing; a tile's share of it), used to plan shards. ``window``
    ``(x, y, w, h)`` selects one tile of a large raster (set by :meth:`SourceFormat.tile_items` in a tiled build
    of a format that reads windows); None means the whole image.
    """

    split: str
    source_id: str
    image_name: str
    image_path: Path | None
    annotation_path: Path | None
    size_bytes: int = 0
    mtime_ns: int = 0
    window: tuple[int, int, int, int] | None = None


#: Raster drivers that cannot read a window without decoding every row above it (see :mod:`rsdata.raster`): a
#: bomb costs their readers the whole raster's decoding time, so their headers get the plausibility check too.
_STRIP_DRIVERS = ("PNG", "JPEG", "BMP", "GIF")


@dataclass(frozen=True)
class ReadPolicy:
    """What a build lets a format read (see the module docstring). ``root`` None (a format used outside a build)
    checks no links."""

    root: Path | None = None
    allow_outside_links: bool = False
    max_pixels: int = DEFAULT_MAX_PIXELS
    # Each folder resolved once (a source has few folders and many files): folder -> os.path.realpath(folder).
    _folders: dict = dataclasses.field(default_factory=dict, compare=False, repr=False)

    def check_path(self, path: Path | str | None) -> None:
        """Refuse (``link_outside_source``) a file that a symbolic link leads out of ``root``, naming the link and
        its target; a missing file passes (the format reports it)."""
        if path is None or self.root is None or self.allow_outside_links:
            return
        if self._plainly_inside(os.fspath(path)):
            return
        try:
            found = outside_link(Path(path), self.root, self._resolve)
        except (RuntimeError, OSError) as error:  # a link loop: it leads to no file, inside SOURCE or out
            raise RecordError(path, f"is a symbolic link that resolves to no file ({error})",
                              reason=errors.LINK_OUTSIDE_SOURCE) from None
        if found is None:
            return
        link, target = found
        if link != Path(path):
            how = f"is reached through the symbolic link {link} -> {target}"
        elif link.is_symlink():
            how = f"is a symbolic link to {target}"
        else:
            how = f"resolves to {target}"
        raise RecordError(path, f"{how}, outside the source folder {self.root}; rsdata reads nothing from outside "
                          "SOURCE unless allowed (--allow-outside-links, or ConvertOptions(allow_outside_links=True), "
                          "for images kept on another disk)", reason=errors.LINK_OUTSIDE_SOURCE)

    def _plainly_inside(self, path: str) -> bool:
        """The common case, decided on strings (every file of a build passes here): ``path`` is no link and its
        folder, resolved once per policy, is ``root`` or below it. Anything else takes :func:`outside_link`."""
        folder, name = os.path.split(path)
        if name in ("", ".", "..") or not folder or os.path.islink(path):
            return False
        resolved = self._real_folder(folder)
        root = os.fspath(self.root)
        return resolved == root or resolved.startswith(root if root.endswith(os.sep) else root + os.sep)

    def _resolve(self, path: Path) -> Path:
        """``path.resolve()``, with its folder resolved once per policy (per build): a file that is not a link
        resolves to its resolved folder and its name, one ``lstat`` instead of one per component of the path."""
        folder, name = path.parent, path.name
        if name in ("", ".", "..") or folder == path or os.path.islink(path):
            return path.resolve()
        return Path(self._real_folder(os.fspath(folder))) / name

    def _real_folder(self, folder: str) -> str:
        resolved = self._folders.get(folder)
        if resolved is None:
            resolved = self._folders[folder] = os.path.realpath(folder)
        return resolved

    def raster_info(self, path: Path, window: tuple[int, int, int, int] | None = None):
        """:func:`rsdata.raster.read_raster_info` of a file the format will decode (``window`` of it, or all):
        its path checked, and the pixels to decode at once, then the header's plausibility, checked before any
        pixel is read (``image_too_large``)."""
        from rsdata.raster import read_raster_info

        self.check_path(path)
        info = read_raster_info(path)
        width, height = (window[2], window[3]) if window is not None else (info.width, info.height)
        check_pixels(path, width, height, self.max_pixels)
        if info.driver in _STRIP_DRIVERS:
            # Tiled rasters (GeoTIFF) are read window by window; a sparse one may legitimately be tiny on disk.
            check_plausible_size(path, info.width, info.height, Path(path).stat().st_size)
        return info


def outside_link(path: Path, root: Path, resolve=Path.resolve) -> tuple[Path, Path] | None:
    """``(link, target)`` when ``path`` resolves outside ``root`` (a resolved folder), else None: ``link`` is the
    first link on the way from ``root`` that leads out of it (``path`` itself when it is not below ``root``).
    ``resolve``: how ``path`` is resolved (``Path.resolve``, or a policy's cached equivalent)."""
    resolved = resolve(path)
    if resolved == root or root in resolved.parents:
        return None
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        return path, resolved
    current = root
    for part in parts:
        current = current / part
        if current.is_symlink():
            target = current.resolve()
            if target != root and root not in target.parents:
                return current, target
    return path, resolved


class SourceFormat:
    """Base class of source formats. Subclasses set the class attributes and implement the two methods."""

    name: ClassVar[str]
    description: ClassVar[str]  # one line, shown by ``rsdata formats``
    options_class: ClassVar[type] = type(None)
    default_license: ClassVar[str] = "unknown"
    #: The caption rule of the format's rows (what :meth:`describe` applies).
    caption_rule: ClassVar[str] = B2C_RULE
    #: Extra columns whose values the report and the card count per split.
    counted_columns: ClassVar[tuple[str, ...]] = ()
    #: What the format may read; the build sets its own (source root, --allow-outside-links, --max-pixels).
    read_policy: ReadPolicy = ReadPolicy()
    #: Raised when a format's rows change for the same source and options (for example how decoded frames are
    #: encoded), so that a build started by an earlier revision is not resumed into a mix of both. It enters the plan
    #: fingerprint when it is not 1, so builds of the formats that never changed keep resuming.
    output_revision: ClassVar[int] = 1

    def __init__(self, options: Any = None):
        self.options = options if options is not None else self.options_class()
        #: Set by ``list_items`` when the format assigned images to splits itself (no official split).
        self.assigns_splits = False
        #: What ``list_items`` chose to tell the user (a split left out because it has no annotations, a split
        #: name taken from a file name); the build prints each to standard error as ``note: ...``.
        self.notes: list[str] = []

    def note(self, text: str) -> None:
        """Record a note about the listing (see :attr:`notes`)."""
        if text not in self.notes:
            self.notes.append(text)

    @classmethod
    def from_option_strings(cls, pairs: Mapping[str, str]) -> "SourceFormat":
        """Build the format from ``key=value`` strings (the CLI's ``-o``), checking names and types."""
        fields = {f.name: f for f in dataclasses.fields(cls.options_class)} if dataclasses.is_dataclass(
            cls.options_class) else {}
        values = {}
        for key, raw in pairs.items():
            if key not in fields:
                valid = ", ".join(sorted(fields)) or "none"
                raise OptionError(f"format {cls.name!r} has no option {key!r}; valid options: {valid}")
            values[key] = raw
        return cls(cls.options_class(**values)) if fields else cls()

    def list_items(self, root: Path, splits: Sequence[str] | None) -> list[SourceItem]:
        raise NotImplementedError

    def parse(self, item: SourceItem) -> ImageRecord:
        raise NotImplementedError

    def tile_items(self, items: Sequence[SourceItem], size: int, overlap: float = 0.0, *,
                   stride: int | None = None) -> list[SourceItem] | None:
        """The items of a tiled build (``--tile size --overlap overlap`` or ``--tile-stride stride``), for a format
        that reads windows itself: one item per tile of :func:`rsdata.geometry.tile_windows` (from the image's
        header, nothing decoded), with its ``window``, which :meth:`parse` then
        honours (the record holds that window's objects, pixels and georeferencing, in window coordinates).

        Default None: the format parses whole images, and the build cuts each image and its boxes into tiles.
        """
        return None

    def read(self, item: SourceItem) -> ImageRecord:
        """:meth:`parse` under :attr:`read_policy`, as the build reads every record: the item's files are checked
        before parsing, and the files the record names (an image an annotation names) after it, before any row
        is made from them."""
        policy = self.read_policy
        _check_file_name(item.image_path, item.image_name)
        policy.check_path(item.image_path)
        policy.check_path(item.annotation_path)
        record = self.parse(item)
        _check_file_name(record.image_path, record.image_name)
        if record.image_path != item.image_path:
            policy.check_path(record.image_path)
        if record.annotation_path != item.annotation_path:
            policy.check_path(record.annotation_path)
        return record

    def extra_features(self) -> Mapping[str, Any]:
        """Columns this format adds after the base output columns: name -> ``datasets`` feature, in column order.

        Called after :meth:`list_items` (a ``ClassLabel``'s names may be what the listing found). Every row must
        give each a value, from the record's ``extras`` or the :class:`Description`'s. Default: none.
        """
        return {}

    def source_facts(self, vocabulary) -> Mapping[str, list[dict]]:
        """Tables about the listed source for the report and card: title -> rows (dicts with the same keys in
        the same order). Called after :meth:`list_items`; ``vocabulary`` is the build's caption vocabulary
        (:class:`~rsdata.captions.CategoryVocabulary`, with the recipe's names). Default: none."""
        return {}

    def describe(self, record: ImageRecord, objects: Sequence[ObjectAnnotation], image, *, seed: int,
                 vocabulary) -> Description | NothingToDescribe:
        """Caption one record that has no human captions, by :attr:`caption_rule`.

        ``objects`` are the record's objects fitted to the stored image, ``image`` the
        :class:`~rsdata.images.PreparedImage` (its ``width`` and ``height``; None for a tile with no object in
        it), ``seed`` the image's caption seed (:func:`~rsdata.captions.caption_seed`), ``vocabulary`` the
        build's caption names. The default is Box-to-Caption ``b2c/1``; no object is :class:`NothingToDescribe`
        (``no_objects``).
        """
        from rsdata.captions import box_to_caption

        if not objects:
            return NothingToDescribe(errors.NO_OBJECTS, "no object to describe")
        captions = box_to_caption(objects, image.width, image.height, seed=seed, vocabulary=vocabulary)
        return Description(captions.captions, captions.template_ids, captions.rule)


def _check_file_name(path: Path | None, name: str) -> None:
    """Refuse (``not_utf8``) an image whose file name is no UTF-8 text: the name goes into the dataset's
    ``image`` path, which Arrow stores as UTF-8 (Python keeps such names as surrogate escapes)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        def shown(text: str) -> str:  # the undecodable bytes as \xNN, so the message itself can be printed
            return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")

        raise RecordError(shown(str(path if path is not None else name)), f"file name {shown(name)!r} is not "
                          "UTF-8 text; rename the file", reason=errors.NOT_UTF8) from None


_REGISTRY: dict[str, type[SourceFormat]] = {}


def register_format(cls: type[SourceFormat]) -> type[SourceFormat]:
    """Class decorator: make ``cls`` available under ``cls.name``."""
    if cls.name in _REGISTRY and _REGISTRY[cls.name] is not cls:
        raise ValueError(f"two formats are named {cls.name!r}")
    _REGISTRY[cls.name] = cls
    return cls


def get_format(name: str) -> type[SourceFormat]:
    try:
        return _REGISTRY[name]
    except KeyError:
        raise OptionError(f"unknown format {name!r}{did_you_mean(name, _REGISTRY)}; known formats: "
                          f"{', '.join(sorted(_REGISTRY))}") from None


def available_formats() -> list[type[SourceFormat]]:
    return [_REGISTRY[name] for name in sorted(_REGISTRY)]


# ---------------------------------------------------------------------------------------------------------------
# Layout helpers shared by formats whose sources are "<root>[/<split>]/<images folder> + <labels folder>".


def hub_split_name(source_split: str) -> str:
    """The output split name for a source split folder ("val" -> "validation"); must be a valid Hub split name."""
    name = HUB_SPLIT_NAMES.get(source_split, source_split)
    if not _SPLIT_NAME.match(name):
        raise OptionError(f"split {source_split!r} cannot be a dataset split name (letters, digits, '_' and '.')")
    return name


def split_matches(asked: str, source_split: str) -> bool:
    """Whether ``--split asked`` names the source split ``source_split``: as the source writes it (``val``), as
    the output names it (``validation``, :data:`HUB_SPLIT_NAMES`), in any case (LoveDA's ``Train``)."""
    def key(name: str) -> str:
        return HUB_SPLIT_NAMES.get(name.casefold(), name.casefold())

    return asked == source_split or key(asked) == key(source_split)


def choose_splits(asked: Sequence[str] | None, found: Sequence[str], where: Path | str) -> list[str]:
    """The splits of ``found`` (source names, in their order) that ``asked`` names (:func:`split_matches`; every
    split when ``asked`` is empty); a name matching none is an :class:`OptionError` naming ``where`` and the
    splits found. The one place ``--split`` is matched, so every format accepts the same names."""
    if not asked:
        return list(found)
    missing = [name for name in asked if not any(split_matches(name, split) for split in found)]
    if missing:
        hint = did_you_mean(missing[0], found) if len(missing) == 1 else ""
        raise OptionError(f"split(s) {', '.join(missing)} not found in {where}{hint}; found: "
                          f"{', '.join(found) or 'none'}")
    return [split for split in found if any(split_matches(name, split) for name in asked)]


def find_split_folders(root: Path, images_dir: str, splits: Sequence[str] | None) -> list[tuple[str, Path]]:
    """Return ``(split name, folder)`` pairs for a source root.

    A root holding ``images_dir`` directly is one split, named by the single ``--split`` given or "train".
    Otherwise every sub-folder holding ``images_dir`` is a split (sorted by name), filtered by ``splits``.
    """
    if not root.is_dir():
        raise SourceLayoutError(f"source folder {root} does not exist or is not a folder")
    if (root / images_dir).is_dir():
        if splits and len(splits) > 1:
            raise OptionError(
                f"{root} holds a single split ({images_dir}/ directly under it); give at most one --split to name it")
        return [(splits[0] if splits else "train", root)]
    found = sorted(p.name for p in root.iterdir() if (p / images_dir).is_dir())
    if not found:
        raise SourceLayoutError(
            f"no '{images_dir}/' folder in {root} nor in any of its sub-folders; expected <root>/{images_dir}/ or "
            f"<root>/<split>/{images_dir}/ (for example train/{images_dir}/)")
    return [(name, root / name) for name in choose_splits(splits, found, root)]


def index_images(folder: Path) -> dict[str, Path]:
    """Map each image's stem (file name without its ending) below ``folder``, searched recursively, to its file.

    When one folder holds several images with the same stem, the ending earliest in :data:`IMAGE_SUFFIXES`
    wins; the same stem in two different folders is ambiguous and raises :class:`SourceLayoutError`.
    """
    rank = {suffix: i for i, suffix in enumerate(IMAGE_SUFFIXES)}
    index: dict[str, Path] = {}
    for path in _walk_files(folder):
        suffix = path.suffix.lower()
        if suffix not in rank:
            continue
        current = index.get(path.stem)
        if current is not None and current.parent != path.parent:
            raise SourceLayoutError(f"two images are named {path.stem}: {current} and {path}; keep one, or point the "
                                    "format at one of their folders")
        if current is None or rank[suffix] < rank[current.suffix.lower()]:
            index[path.stem] = path
    return index


def index_annotations(folder: Path, suffix: str, option: str = "labels") -> dict[str, Path]:
    """Map each annotation file's stem below ``folder`` (recursively) to its file; the same stem twice (as in
    DOTA's download, which ships ``labelTxt/`` beside ``Train_Task2_gt/``) raises :class:`SourceLayoutError`
    that asks for the format option ``option`` naming one folder."""
    index: dict[str, Path] = {}
    for path in files_with_suffix(folder, suffix):
        if path.stem in index:
            raise SourceLayoutError(
                f"two annotation files for image {path.stem}: {index[path.stem]} and {path}; choose one folder with "
                f"-o {option}=NAME (a path relative to {folder.parent}, e.g. "
                f"{index[path.stem].parent.relative_to(folder.parent).as_posix()})")
        index[path.stem] = path
    return index


def files_with_suffix(folder: Path, suffix: str) -> list[Path]:
    """All files below ``folder`` ending in ``suffix`` (case-insensitive), sorted by relative path."""
    return sorted((p for p in _walk_files(folder) if p.suffix.lower() == suffix), key=lambda p: p.as_posix())


def _walk_files(folder: Path) -> Iterable[Path]:
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in filenames:
            if not filename.startswith("."):
                yield Path(dirpath) / filename


def paired_items(root: Path, split: str, images_dir: Path, annotations: Mapping[str, Path],
                 stems: Iterable[str] | None = None, images: Mapping[str, Path] | None = None) -> list[SourceItem]:
    """One item per stem (default: every stem among the images below ``images_dir`` and the ``annotations``
    index, sorted), pairing image and annotation file; either may be missing, which ``parse`` reports
    (:func:`check_pair`). ``images`` is :func:`index_images` of ``images_dir`` when the caller has it already."""
    images = index_images(images_dir) if images is None else images
    items = []
    for stem in (sorted(set(images) | set(annotations)) if stems is None else stems):
        image_path = images.get(stem)
        # A missing image is named by its stem alone: which ending it should have had is unknown.
        image_name = (image_path or images_dir / stem).relative_to(root).as_posix()
        size, mtime = file_signature(image_path)
        items.append(SourceItem(split=split, source_id=stem, image_name=image_name, image_path=image_path,
                                annotation_path=annotations.get(stem), size_bytes=size, mtime_ns=mtime))
    return items


def check_pair(item: SourceItem, label_kind: str) -> None:
    """Raise ``missing_annotation`` / ``missing_image`` for an item that lacks its label file or its image."""
    if item.annotation_path is None:
        raise RecordError(item.image_path or item.image_name, f"image has no {label_kind} (expected "
                          f"{item.source_id}.txt in the labels folder)", reason=errors.MISSING_ANNOTATION)
    if item.image_path is None:
        endings = ", ".join(IMAGE_SUFFIXES)
        raise RecordError(item.annotation_path, f"{label_kind} has no image ({item.source_id} with ending "
                          f"{endings} in the images folder)", reason=errors.MISSING_IMAGE)


def labels_folder(split_folder: Path, name: str, option: str, expected: str) -> Path:
    """``split_folder / name``, or a :class:`SourceLayoutError` naming the folder searched and what it holds."""
    folder = split_folder / name
    if not folder.is_dir():
        raise SourceLayoutError(f"no labels folder {folder}; expected {expected} there (or name the folder with "
                                f"-o {option}=NAME)")
    return folder


def read_text_file(path: Path, data: bytes | None = None) -> str:
    """An annotation file's text (``data``: its bytes, when already read): UTF-8, a byte-order mark allowed; else
    :class:`RecordError` (``not_utf8``) naming the line and byte of the first bad byte."""
    data = path.read_bytes() if data is None else data
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise RecordError(path, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
                          reason=errors.NOT_UTF8, line=line) from None


def file_signature(path: Path | None) -> tuple[int, int]:
    """(size, mtime in ns) of a file, (0, 0) when there is none: enough to notice a changed input on resume."""
    if path is None:
        return 0, 0
    try:
        stat = path.stat()
    except OSError:  # a link loop, say: reading the record reports it
        return 0, 0
    return stat.st_size, stat.st_mtime_ns
