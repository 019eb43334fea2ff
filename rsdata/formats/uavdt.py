"""UAVDT-benchmark-M (UAVDT's detection and multi-object-tracking part): video frames with per-sequence ground truth.

Layout, as the publisher ships it (``UAV-benchmark-M.zip`` and ``UAV-benchmark-MOTD_v1.0.zip`` unpacked side by
side)::

    <root>/UAV-benchmark-M/M0101/img000001.jpg             frames of sequence M0101 (JPEG)
    <root>/UAV-benchmark-MOTD_v1.0/GT/M0101_gt_whole.txt    detection ground truth (with categories)
    <root>/UAV-benchmark-MOTD_v1.0/GT/M0101_gt.txt          MOT ground truth (no categories)
    <root>/UAV-benchmark-MOTD_v1.0/GT/M0101_gt_ignore.txt   ignore regions (not read: not described)

Options ``images=`` and ``gt_folder=`` name the two folders (paths relative to the root). A frame is
``img`` + its 1-based frame number in six digits + ``.jpg``; other files in a sequence folder are not frames and
are not read.

Ground-truth files: one box per line, comma-separated integers, no header::

    frame_index,target_id,bbox_left,bbox_top,bbox_width,bbox_height,out_of_view,occlusion,object_category

The box is ``(bbox_left, bbox_top, bbox_left + bbox_width, bbox_top + bbox_height)`` in pixels. In
``_gt_whole.txt`` ``object_category`` is 1 car, 2 truck, 3 bus, and ``out_of_view`` (1 no-out, 2 medium-out,
3 small-out) and ``occlusion`` (1 no-occ, 2 large-occ, 3 medium-occ, 4 small-occ) are attribute levels. The
MOT file ``_gt.txt`` has the same boxes except some partly out-of-view ones (in M0208, the rows with
out_of_view = 3), writes 1 in the two attribute columns and -1 for the category. Option ``gt`` chooses the file:
``whole`` (default: every annotated box) or ``mot`` (the MOT file's boxes; their categories are looked up by
target_id in the sequence's ``_gt_whole.txt``, whose absence is ``missing_annotation``). Objects are labelled
"car", "truck" and "bus"; another integer category is ``unknown_class``. Ignore regions live only in
``_gt_ignore.txt``, which is never read, so they are not described (captions.md, b2c/1). A frame without
ground-truth rows has nothing to describe (``no_objects``).

Frames: the sequences are 30 frames-per-second video, so neighbouring frames are near-duplicates; option
``frame_stride`` (default 10, i.e. three frames a second) keeps frames 1, 1 + stride, 1 + 2 * stride, ... of every
sequence (``frame_stride=1`` keeps all). Each kept frame is one item with source id ``<sequence>/img000001``. The
frames of a sequence are those with an image file or a ground-truth row; a frame with rows but no image is
``missing_image``, a sequence with images but no ground-truth file ``missing_annotation``.

Splits: the benchmark trains on 30 sequences and tests on 20 (:data:`TEST_SEQUENCES`, the list the UAVDT
toolkits and papers use; the download itself carries no split). Option ``split_by=benchmark`` (default) writes
those as splits ``train`` and ``test``; ``split_by=none`` puts every sequence in one split, named by the single
``--split`` given or "train".

Each ground-truth file is parsed once per process (kept for the few sequences last used: items are sorted by
sequence, so a worker moves through them in order). A bad line fails the frame it names, or, when its frame
number cannot be read, every frame of its sequence. Real samples checked: the three GT files of sequence M0208
(no images). Licence: UAVDT is published for research use (Du et al., ECCV 2018); the default card licence is
``other``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rsdata import errors
from rsdata.errors import OptionError, RecordError, SourceLayoutError
from rsdata.formats.base import SourceFormat, SourceItem, choose_splits, file_signature, read_text_file, register_format
from rsdata.formats.boxlines import parse_coordinate
from rsdata.records import ImageRecord, ObjectAnnotation, Provenance

CATEGORIES = {1: "car", 2: "truck", 3: "bus"}
#: The 20 test sequences of the UAVDT benchmark; the other 30 sequences of UAV-benchmark-M are for training.
TEST_SEQUENCES = frozenset({
    "M0203", "M0205", "M0208", "M0209", "M0403", "M0601", "M0602", "M0606", "M0701", "M0801",
    "M0802", "M1001", "M1004", "M1007", "M1009", "M1101", "M1301", "M1302", "M1303", "M1401",
})
GT_SUFFIXES = {"whole": "_gt_whole.txt", "mot": "_gt.txt"}
SPLIT_BY = ("benchmark", "none")
_FRAME_FILE = re.compile(r"^img(\d+)\.jpe?g$", re.IGNORECASE)
_NO_CATEGORY = -1  # what the MOT file writes in the category column
_CACHED_FILES = 8


@dataclass(frozen=True)
class UavdtOptions:
    images: str = "UAV-benchmark-M"
    gt_folder: str = "UAV-benchmark-MOTD_v1.0/GT"
    gt: str = "whole"
    frame_stride: int = 10
    split_by: str = "benchmark"

    def __post_init__(self):
        if self.gt not in GT_SUFFIXES:
            raise OptionError(f"option gt={self.gt!r}: expected 'whole' (<seq>_gt_whole.txt, with categories) or "
                              "'mot' (<seq>_gt.txt)")
        if self.split_by not in SPLIT_BY:
            raise OptionError(f"option split_by={self.split_by!r}: expected 'benchmark' (train/test as the UAVDT "
                              "benchmark) or 'none' (one split)")
        try:
            stride = int(self.frame_stride)
        except (TypeError, ValueError):
            stride = 0
        if stride < 1 or str(self.frame_stride).strip() not in (str(stride), f"+{stride}"):
            raise OptionError(f"option frame_stride={self.frame_stride!r}: expected a whole number of frames, at "
                              "least 1 (1 keeps every frame; default 10)")
        object.__setattr__(self, "frame_stride", stride)
        for option in ("images", "gt_folder"):
            value = getattr(self, option)
            if not isinstance(value, str) or not value.strip() or Path(value).is_absolute():
                raise OptionError(f"option {option}={value!r}: expected a folder path relative to the root (default "
                                  f"{getattr(type(self), option)!r})")


@register_format
class UavdtFormat(SourceFormat):
    name = "uavdt"
    description = "UAVDT-benchmark-M video frames + per-sequence MOT-style GT (car, truck, bus), every n-th frame"
    options_class = UavdtOptions
    default_license = "other"

    def list_items(self, root: Path, splits: Sequence[str] | None) -> list[SourceItem]:
        images_dir, gt_dir = self._folders(root)
        suffix = GT_SUFFIXES[self.options.gt]
        gt_files = {p.name[:-len(suffix)]: p for p in gt_dir.iterdir()
                    if p.is_file() and p.name.endswith(suffix) and len(p.name) > len(suffix)}
        image_dirs = {p.name: p for p in images_dir.iterdir() if p.is_dir() and not p.name.startswith(".")}
        sequences = sorted(set(gt_files) | set(image_dirs))
        split_of = self._split_names(sequences, splits, root)
        stride = self.options.frame_stride
        items: list[SourceItem] = []
        for sequence in sequences:
            split = split_of.get(sequence)
            if split is None:
                continue
            frame_files = _frame_files(image_dirs.get(sequence))
            gt_path = gt_files.get(sequence)
            frames = set(frame_files) | (_frames_named_in(gt_path) if gt_path is not None else set())
            for frame in sorted(f for f in frames if (f - 1) % stride == 0):
                image_path = frame_files.get(frame)
                image_file = image_path or images_dir / sequence / f"img{frame:06d}.jpg"
                size, mtime = file_signature(image_path)
                items.append(SourceItem(split=split, source_id=f"{sequence}/img{frame:06d}",
                                        image_name=image_file.relative_to(root).as_posix(), image_path=image_path,
                                        annotation_path=gt_path, size_bytes=size, mtime_ns=mtime))
        return items

    def _folders(self, root: Path) -> tuple[Path, Path]:
        if not root.is_dir():
            raise SourceLayoutError(f"source folder {root} does not exist or is not a folder")
        images_dir, gt_dir = root / self.options.images, root / self.options.gt_folder
        for folder, option, what in ((images_dir, "images", "the sequence folders (M0101/img000001.jpg, ...)"),
                                     (gt_dir, "gt_folder", "the ground-truth files (M0101_gt_whole.txt, ...)")):
            if not folder.is_dir():
                raise SourceLayoutError(
                    f"no folder {folder} for {what}; UAVDT unpacks to <root>/UAV-benchmark-M/ and "
                    f"<root>/UAV-benchmark-MOTD_v1.0/GT/ (name other folders with -o {option}=PATH)")
        return images_dir, gt_dir

    def _split_names(self, sequences: list[str], splits: Sequence[str] | None, root: Path) -> dict[str, str]:
        if self.options.split_by == "none":
            if splits and len(splits) > 1:
                raise OptionError(f"with -o split_by=none, {root} is a single split; give at most one --split to "
                                  "name it")
            return {sequence: splits[0] if splits else "train" for sequence in sequences}
        split_of = {sequence: "test" if sequence in TEST_SEQUENCES else "train" for sequence in sequences}
        if splits:
            chosen = choose_splits(splits, sorted(set(split_of.values())),
                                   f"{root} (with -o split_by=benchmark the splits are train and test)")
            split_of = {sequence: split for sequence, split in split_of.items() if split in chosen}
        return split_of

    def parse(self, item: SourceItem) -> ImageRecord:
        provenance = Provenance(source_dataset=self.name, split=item.split, source_id=item.source_id)
        sequence, frame_name = item.source_id.split("/")
        frame = int(frame_name[3:])
        if item.annotation_path is None:
            raise RecordError(item.image_path or item.image_name, f"sequence {sequence} has no ground-truth file "
                              f"(expected {sequence}{GT_SUFFIXES[self.options.gt]} in {self.options.gt_folder})",
                              reason=errors.MISSING_ANNOTATION)
        # Ground truth is read before the image is looked for, so that a bad file is reported as such.
        objects = frame_objects(item.annotation_path, frame, self.options.gt)
        if item.image_path is None:
            raise RecordError(item.annotation_path, f"frame {frame} of sequence {sequence} has ground truth but no "
                              f"image ({item.image_name})", reason=errors.MISSING_IMAGE)
        return ImageRecord(image_path=item.image_path, image_name=item.image_name, provenance=provenance,
                           objects=objects, annotation_path=item.annotation_path)


def _frame_files(folder: Path | None) -> dict[int, Path]:
    if folder is None:
        return {}
    frames = {}
    for path in folder.iterdir():
        match = _FRAME_FILE.match(path.name)
        if match:
            frames[int(match.group(1))] = path
    return frames


def _frames_named_in(path: Path) -> set[int]:
    """The frame numbers a ground-truth file has rows for, read cheaply (bad lines are left to :meth:`parse`)."""
    frames = set()
    for line in path.read_bytes().splitlines():
        head = line.split(b",", 1)[0].strip().lstrip(b"\xef\xbb\xbf")
        if head.isdigit():
            frames.add(int(head))
    frames.discard(0)
    return frames


# ---------------------------------------------------------------------------------------------------------------
# Ground-truth files, parsed once per process


#: One ground-truth row: (line number, target_id, box, object_category).
Row = tuple[int, int, tuple[float, float, float, float], int]


@dataclass
class SequenceTruth:
    """The parsed rows of one ground-truth file, by frame, and the errors found in it.

    ``frame_errors`` holds the first error of each frame whose number could be read; ``file_error`` an error that
    concerns every frame (a file that is not UTF-8, a line whose frame number cannot be read).
    """

    path: Path
    frames: dict[int, list[Row]] = field(default_factory=dict)
    frame_errors: dict[int, RecordError] = field(default_factory=dict)
    file_error: RecordError | None = None

    def rows(self, frame: int) -> list[Row]:
        error = self.file_error or self.frame_errors.get(frame)
        if error is not None:  # a fresh copy: the cached one would collect a traceback per raise
            raise RecordError(error.path, error.message, reason=error.reason, line=error.line)
        return self.frames.get(frame, [])

    @functools.cached_property
    def target_categories(self) -> dict[int, int]:
        """target_id -> object_category, from the rows that give one (for the MOT file's -1 categories)."""
        categories: dict[int, int] = {}
        for rows in self.frames.values():
            for _, target, _, category in rows:
                if category != _NO_CATEGORY:
                    categories.setdefault(target, category)
        return categories


def frame_objects(path: Path, frame: int, gt: str = "whole") -> tuple[ObjectAnnotation, ...]:
    """The objects of one frame of a ground-truth file (``gt`` as the option: how -1 categories are treated)."""
    truth = read_ground_truth(path)
    objects = []
    whole = None
    for line, target, box, category in truth.rows(frame):
        if category == _NO_CATEGORY:
            if gt == "whole":
                raise RecordError(path, "object_category is -1 (no category, as in MOT ground truth); a "
                                  "_gt_whole.txt file gives 1 car, 2 truck or 3 bus (for _gt.txt files use -o gt=mot)",
                                  reason=errors.BAD_NUMBER, line=line)
            if whole is None:
                whole = _whole_file_of(path)
            category = read_ground_truth(whole).target_categories.get(target, _NO_CATEGORY)
            if category == _NO_CATEGORY:
                raise RecordError(path, f"target {target} has no category here (-1) nor in {whole.name}",
                                  reason=errors.MISSING_ANNOTATION, line=line)
        objects.append(ObjectAnnotation(category=CATEGORIES[category], bbox=box, source_line=line))
    return tuple(objects)


def _whole_file_of(path: Path) -> Path:
    name = path.name
    stem = name[:-len(GT_SUFFIXES["mot"])] if name.endswith(GT_SUFFIXES["mot"]) else path.stem
    whole = path.with_name(stem + GT_SUFFIXES["whole"])
    if not whole.is_file():
        raise RecordError(path, f"the ground truth gives no categories (-1); they are read from {whole}, which does "
                          "not exist", reason=errors.MISSING_ANNOTATION)
    return whole


def read_ground_truth(path: Path) -> SequenceTruth:
    """The parsed ground-truth file ``path``; parsed once per process while the file is unchanged."""
    size, mtime = file_signature(path)
    return _cached_ground_truth(str(path), size, mtime)


@functools.lru_cache(maxsize=_CACHED_FILES)
def _cached_ground_truth(path: str, size: int, mtime: int) -> SequenceTruth:
    return parse_ground_truth(Path(path))


def parse_ground_truth(path: Path) -> SequenceTruth:
    """Parse one ground-truth file (any of the three kinds; categories -1 to 3 are accepted here)."""
    truth = SequenceTruth(path)
    try:
        text = read_text_file(path)
    except RecordError as error:
        truth.file_error = error
        return truth
    frames, frame_errors = truth.frames, truth.frame_errors
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped:
            continue
        fields = stripped.split(",")
        if len(fields) == 9:
            # Fast path for well-formed lines (nearly all of them); anything unusual goes to the checking path.
            try:
                frame, target, left, top, width, height, _, _, category = (int(v) for v in fields)
            except ValueError:
                pass
            else:
                if frame >= 1 and width >= 0 and height >= 0 and category in _ALLOWED_CATEGORIES:
                    frames.setdefault(frame, []).append(
                        (number, target, (float(left), float(top), float(left + width), float(top + height)),
                         category))
                    continue
        try:
            frame = _frame_number(fields, path, number)
        except RecordError as error:
            truth.file_error = truth.file_error or error
            continue
        try:
            frames.setdefault(frame, []).append(_checked_row(fields, path, number))
        except RecordError as error:
            frame_errors.setdefault(frame, error)
    return truth


_ALLOWED_CATEGORIES = frozenset({_NO_CATEGORY, *CATEGORIES})
_COLUMNS = ("frame_index", "target_id", "bbox_left", "bbox_top", "bbox_width", "bbox_height", "out_of_view",
            "occlusion", "object_category")


def _frame_number(fields: list[str], path: Path, number: int) -> int:
    raw = fields[0].strip().lstrip("\ufeff")
    if not raw.isdigit() or int(raw) < 1:
        raise RecordError(path, f"frame_index is {raw!r}; expected a frame number from 1 (line: "
                          f"{','.join(fields)!r})", reason=errors.BAD_NUMBER, line=number)
    return int(raw)


def _checked_row(fields: list[str], path: Path, number: int) -> Row:
    """Check a row the fast path refused (its frame number is good), raising the precise error for it."""
    if len(fields) != 9:
        raise RecordError(path, f"expected 9 comma-separated fields ({','.join(_COLUMNS)}), got {len(fields)}: "
                          f"{','.join(fields)!r}", reason=errors.MALFORMED_LINE, line=number)
    try:
        target = int(fields[1])
    except ValueError:
        raise RecordError(path, f"target_id is {fields[1].strip()!r}, not an integer", reason=errors.BAD_NUMBER,
                          line=number) from None
    values = []
    for name, raw in zip(_COLUMNS[2:6], fields[2:6]):
        values.append(parse_coordinate(raw.strip(), name, path, number))
    left, top, width, height = values
    for name, value in (("bbox_width", width), ("bbox_height", height)):
        if value < 0:
            raise RecordError(path, f"{name} is {value:g}; a box size cannot be negative", reason=errors.BAD_NUMBER,
                              line=number)
    for name, raw in zip(_COLUMNS[6:], fields[6:]):
        try:
            int(raw)
        except ValueError:
            raise RecordError(path, f"{name} is {raw.strip()!r}, not an integer", reason=errors.BAD_NUMBER,
                              line=number) from None
    category = int(fields[8])
    if category not in _ALLOWED_CATEGORIES:
        raise RecordError(path, f"object_category is {category}; expected 1 (car), 2 (truck), 3 (bus), or -1 (none, "
                          "in MOT ground truth)", reason=errors.UNKNOWN_CLASS, line=number)
    return number, target, (left, top, left + width, top + height), category
