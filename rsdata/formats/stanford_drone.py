"""Stanford Drone Dataset (SDD): per-video ``annotations.txt`` track files, one item per sampled video frame.

Layout, as published (``stanford_campus_dataset.zip``, https://cvgl.stanford.edu/projects/uav_data/)::

    <root>/annotations/<scene>/<video>/annotations.txt     e.g. annotations/quad/video3/annotations.txt
    <root>/annotations/<scene>/<video>/reference.jpg       one frame of the video (not used: which frame is unknown)
    <root>/videos/<scene>/<video>/video.mov                the video the annotations describe

Scenes are bookstore, coupa, deathCircle, gates, hyang, little, nexus and quad (60 videos in all). Redistributions
such as OpenTraj's drop the ``annotations/`` level (``<root>/<scene>/<video>/annotations.txt``): when
``<root>/annotations`` does not exist the scene folders are looked for directly in the root. Options
``annotations=PATH`` and ``videos=PATH`` (relative to the root) name other folders. SDD publishes no split: the
whole folder is one split, named by the single ``--split`` given, else "train".

``annotations.txt``: one line per object per frame, space-separated (the VATIC text dump)::

    track_id xmin ymin xmax ymax frame lost occluded generated "label"
    0 5 827 52 874 0 1 0 0 "Pedestrian"

- ``frame`` is the 0-based frame number in the video (30 frames per second). The box is in pixels of the video
  frame; as in VATIC, whose boxes have width ``xmax - xmin``, ``xmax``/``ymax`` are taken as the exclusive edges:
  the box is ``(xmin, ymin, xmax, ymax)`` as written.
- ``lost`` = 1: the object is outside the view; such lines are not described (their coordinates are the last
  known position). ``occluded`` = 1 objects and ``generated`` = 1 (interpolated) lines are described.
- ``label`` is quoted: Pedestrian, Biker, Skater, Cart, Car, Bus (quotes are removed; an unquoted label is
  accepted; any other label is ``unknown_class``). Flags must be 0 or 1 and coordinates integers
  (``bad_number``); a visible box with ``xmax < xmin`` or ``ymax < ymin`` is ``bad_number``; a line with fewer
  than ten fields is ``malformed_line``.

Items: one per video frame whose number is a multiple of ``frame_stride`` (option, default 30, i.e. one frame per
second) and that has at least one annotation line. Consecutive frames at 30 fps are nearly identical images with
identical captions; one frame a second keeps the views distinct and the dataset at a thirtieth of the frames
(raise the stride for fewer images, lower it for more). A sampled frame whose objects are all lost has nothing
to describe (``no_objects``). Item ids are ``<scene>_<video>_<frame, 6 digits>`` ("quad_video3_000030").
Lines of sampled frames are checked in full; a frame's first bad line is reported with its item (file and line
named). Lines of other frames are checked only for their frame number: a line whose frame number cannot be read
belongs to no item, so it stops the listing (``malformed_line``/``bad_number`` with file and line), as does a
file that is not UTF-8. An empty file gives one item, frame 0, reported as ``empty_label_file``.

Frames come from one of two places:

- ``frames_dir=PATH`` (relative to the root): pre-extracted frames, ``PATH/<scene>/<video>/frames/<n>.jpg`` or
  ``PATH/<scene>/<video>/<n>.jpg`` (any of PNG, JPEG, TIFF, BMP), where ``<n>`` is the SDD frame number, zero-padded
  or not, optionally after a prefix ("000030.jpg", "frame_30.png"). Numbers are the annotations' 0-based frame
  numbers: ``ffmpeg -i video.mov -start_number 0 %06d.jpg`` (ffmpeg numbers from 1 unless told). The output path
  is the frame file's.
- otherwise frames are decoded from ``videos/<scene>/<video>/video.mov`` with PyAV (``pip install 'rsclip[video]'``,
  imported only here). Decoded frames are stored as JPEG, quality :data:`FRAME_JPEG_QUALITY` (95), in the
  record's ``image_data``: a video frame is already lossy-compressed, and a PNG of it would be about ten times
  larger and several times slower to decode in training. Rows name ``MOV`` as ``source_image_format`` and
  ``jpeg`` as ``image_encoding``; ``--max-side`` resizes the frame from that JPEG (DCT-scaled). The output path
  is ``videos/<scene>/<video>/video.mov#frame=<n>``.
  Decoding is sequential, counting decoded frames, so frame numbers are exact whatever the stream's timestamps;
  no seeking (a seek lands on a key frame whose number would have to be inferred from timestamps). Each process
  keeps its current video open and decodes forward, converting only the sampled frames to images; items are
  sorted by video and frame and shards are contiguous, so a process decodes each video at most once, from its
  start to the last frame it needs. A frame past the video's end is ``missing_image``.

A missing video or frame file is ``missing_image`` (named, never guessed): the ``reference.jpg`` beside each
annotation file is not matched to a frame number. The listing reads each annotation file once to find its frames;
parsing then reads a file once per process, not once per frame: a two-file cache keyed by path, size, mtime and
stride holds the sampled frames' objects, and items come sorted by video.

Licence: Creative Commons Attribution-NonCommercial-ShareAlike 3.0 (``cc-by-nc-sa-3.0``). A real sample (OpenTraj's
copy of quad/video3: annotations.txt and reference.jpg, no video) was available when this reader was written;
the decoding path was tested on generated videos only.
"""

from __future__ import annotations

import functools
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from rsdata import errors
from rsdata.errors import OptionError, RecordError, SourceLayoutError
from rsdata.images import JPEG_QUALITY
from rsdata.formats.base import (
    IMAGE_SUFFIXES,
    SourceFormat,
    SourceItem,
    file_signature,
    register_format,
)
from rsdata.records import ImageRecord, ObjectAnnotation, Provenance

SDD_LABELS = ("Pedestrian", "Biker", "Skater", "Cart", "Car", "Bus")
ANNOTATION_FILE = "annotations.txt"
VIDEO_FILE = "video.mov"
DEFAULT_FRAME_STRIDE = 30
VIDEO_INSTALL_HINT = "pip install 'rsclip[video]'"
FRAME_JPEG_QUALITY = JPEG_QUALITY  # 95, the quality of every JPEG rsdata encodes by default
# Bytes per pixel of a decoded frame stored as JPEG q95 (about 0.5 on SDD's aerial views; an upper bound keeps
# shards under their size limit), to plan shard sizes before anything is decoded.
_FRAME_BYTES_PER_PIXEL_ESTIMATE = 1

_FRAME_NUMBER = re.compile(r"(\d+)$")
_FLAGS = ("lost", "occluded", "generated")
_COORDINATES = ("xmin", "ymin", "xmax", "ymax")


@dataclass(frozen=True)
class StanfordDroneOptions:
    frame_stride: int = DEFAULT_FRAME_STRIDE  # one item per frame whose number is a multiple of this
    frames_dir: str | None = None  # pre-extracted frames, relative to the root; default: decode the videos
    annotations: str | None = None  # default: "annotations", else the root itself
    videos: str = "videos"

    def __post_init__(self):
        stride = self.frame_stride
        if isinstance(stride, str):
            try:
                stride = int(stride.strip())
            except ValueError:
                stride = None
        if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
            raise OptionError(f"option frame_stride={self.frame_stride!r}: expected a whole number of frames, at "
                              f"least 1 (default {DEFAULT_FRAME_STRIDE}: one frame per second of the 30 fps videos)")
        object.__setattr__(self, "frame_stride", stride)
        for name in ("frames_dir", "annotations", "videos"):
            value = getattr(self, name)
            if value is not None and (not value.strip() or Path(value).is_absolute()):
                raise OptionError(f"option {name}={value!r}: expected a folder path relative to the source folder")


@register_format
class StanfordDroneFormat(SourceFormat):
    name = "stanford_drone"
    description = ("Stanford Drone Dataset annotations.txt tracks: one item per sampled frame of video.mov (PyAV) "
                   "or extracted frames")
    options_class = StanfordDroneOptions
    default_license = "cc-by-nc-sa-3.0"
    output_revision = 2  # 2: decoded frames are stored as JPEG q95 (1: PNG)

    def list_items(self, root: Path, splits: Sequence[str] | None) -> list[SourceItem]:
        if not root.is_dir():
            raise SourceLayoutError(f"source folder {root} does not exist or is not a folder")
        if splits and len(splits) > 1:
            raise OptionError(f"the Stanford Drone Dataset has no split folders: {root} is one split; give at most "
                              "one --split to name it")
        split = splits[0] if splits else "train"
        stride = self.options.frame_stride
        frames_root = self._frames_root(root)
        videos_root = root / self.options.videos
        items: list[SourceItem] = []
        for annotation_path in self._annotation_files(root):
            scene, video = annotation_path.parent.parent.name, annotation_path.parent.name
            annotations = load_annotations(annotation_path, stride)
            frames = [0] if annotations.empty else sorted(annotations.frames)  # an empty file is reported once
            if frames_root is not None:
                folder = _frame_folder(frames_root / scene / video)
                frame_files = _index_frames(folder) if folder is not None else {}
                folder_name = (folder or frames_root / scene / video / "frames").relative_to(root).as_posix()
                for frame in frames:
                    path = frame_files.get(frame)
                    image_name = (path.relative_to(root).as_posix() if path is not None
                                  else f"{folder_name}/{frame:06d}")
                    size, mtime = file_signature(path)
                    items.append(SourceItem(split=split, source_id=frame_id(scene, video, frame),
                                            image_name=image_name, image_path=path,
                                            annotation_path=annotation_path, size_bytes=size, mtime_ns=mtime))
                continue
            video_path = videos_root / scene / video / VIDEO_FILE
            video_name = video_path.relative_to(root).as_posix()
            if video_path.is_file():
                # Needs PyAV: a missing decoder stops the planning here, not at the first frame.
                size, mtime = _estimated_frame_bytes(video_path), file_signature(video_path)[1]
            else:
                video_path, size, mtime = None, 0, 0
            for frame in frames:
                items.append(SourceItem(split=split, source_id=frame_id(scene, video, frame),
                                        image_name=f"{video_name}#frame={frame}", image_path=video_path,
                                        annotation_path=annotation_path, size_bytes=size, mtime_ns=mtime))
        return items

    def _annotation_files(self, root: Path) -> list[Path]:
        if self.options.annotations is not None:
            folder = root / self.options.annotations
            if not folder.is_dir():
                raise SourceLayoutError(f"annotations folder {folder} (option annotations={self.options.annotations})"
                                        " does not exist")
        else:
            folder = root / "annotations" if (root / "annotations").is_dir() else root
        files = sorted(folder.glob(f"*/*/{ANNOTATION_FILE}"),
                       key=lambda p: (p.parent.parent.name, _natural(p.parent.name)))
        if not files:
            looked = (f"{folder}/<scene>/<video>/{ANNOTATION_FILE}" if folder != root else
                      f"{root}/annotations/<scene>/<video>/{ANNOTATION_FILE} nor {root}/<scene>/<video>/"
                      f"{ANNOTATION_FILE}")
            raise SourceLayoutError(f"no Stanford Drone annotation files: looked for {looked} (for example "
                                    f"annotations/quad/video3/{ANNOTATION_FILE}); unpack the dataset there or name "
                                    "the folder with -o annotations=PATH")
        return files

    def _frames_root(self, root: Path) -> Path | None:
        if self.options.frames_dir is None:
            return None
        folder = root / self.options.frames_dir
        if not folder.is_dir():
            raise SourceLayoutError(f"frames folder {folder} (option frames_dir={self.options.frames_dir}) does not "
                                    "exist; expected <frames_dir>/<scene>/<video>/frames/000030.jpg ...")
        return folder

    def parse(self, item: SourceItem) -> ImageRecord:
        provenance = Provenance(source_dataset=self.name, split=item.split, source_id=item.source_id)
        path = item.annotation_path
        if path is None:
            raise RecordError(item.image_name, "frame has no annotation file", reason=errors.MISSING_ANNOTATION)
        frame = frame_number(item.source_id)
        annotations = load_annotations(path, self.options.frame_stride)
        if annotations.empty:
            raise RecordError(path, f"annotation file is empty; an SDD {ANNOTATION_FILE} has one line per object "
                              "per frame", reason=errors.EMPTY_LABEL_FILE)
        result = annotations.frames.get(frame, ())
        if isinstance(result, RecordError):  # cached: raise a fresh copy
            raise RecordError(result.path, result.message, reason=result.reason, line=result.line)
        if self.options.frames_dir is not None:
            if item.image_path is None:
                raise RecordError(path, f"no frame image for frame {frame} (expected {item.image_name}.jpg or "
                                  "another image ending, named by the frame number)", reason=errors.MISSING_IMAGE)
            return ImageRecord(image_path=item.image_path, image_name=item.image_name, provenance=provenance,
                               objects=result, annotation_path=path)
        if item.image_path is None:
            raise RecordError(path, f"no video for frame {frame}: {item.image_name.split('#')[0]} does not exist",
                              reason=errors.MISSING_IMAGE)
        data = read_video_frame(item.image_path, frame)
        return ImageRecord(image_path=item.image_path, image_name=item.image_name, provenance=provenance,
                           objects=result, annotation_path=path, image_data=data, reencoded_from="MOV")


def frame_id(scene: str, video: str, frame: int) -> str:
    return f"{scene}_{video}_{frame:06d}"


def frame_number(source_id: str) -> int:
    return int(source_id.rsplit("_", 1)[1])


def _natural(name: str) -> tuple:
    """Sort key putting video2 before video10."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def _frame_folder(video_folder: Path) -> Path | None:
    for folder in (video_folder / "frames", video_folder):
        if folder.is_dir():
            return folder
    return None


def _index_frames(folder: Path) -> dict[int, Path]:
    """Frame number -> image file in ``folder``; two files for one number are a layout error."""
    found: dict[int, Path] = {}
    with os.scandir(folder) as entries:
        for entry in sorted(entries, key=lambda e: e.name):
            path = Path(entry.path)
            match = _FRAME_NUMBER.search(path.stem)
            if entry.name.startswith(".") or path.suffix.lower() not in IMAGE_SUFFIXES or not match:
                continue
            number = int(match.group(1))
            if number in found:
                raise SourceLayoutError(f"two frame images for frame {number} in {folder}: {found[number].name} and "
                                        f"{entry.name}; keep one")
            found[number] = path
    return found


# ---------------------------------------------------------------------------------------------------------------
# annotations.txt, read once per process


@dataclass(frozen=True)
class VideoAnnotations:
    """The sampled frames of one annotation file: frame -> its described objects, or the first error in its lines."""

    path: Path
    frames: dict
    empty: bool


def load_annotations(path: Path, stride: int) -> VideoAnnotations:
    size, mtime = file_signature(path)
    return _load_annotations(str(path), size, mtime, stride)


@functools.lru_cache(maxsize=2)  # the current video and the previous one: items come sorted by video
def _load_annotations(path_text: str, size: int, mtime: int, stride: int) -> VideoAnnotations:
    path = Path(path_text)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise RecordError(path, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
                          reason=errors.NOT_UTF8, line=data.count(b"\n", 0, exc.start) + 1) from None
    frames: dict[int, list | RecordError] = {}
    empty = True
    for number, line in enumerate(text.splitlines(), start=1):
        fields = line.split(None, 9)
        if not fields:
            continue
        empty = False
        frame = _frame_of(fields, line, path, number)
        if frame % stride:
            continue
        entry = frames.setdefault(frame, [])
        if isinstance(entry, RecordError):
            continue  # the frame's first problem is the one reported
        try:
            obj = parse_line(fields, line, path, number)
        except RecordError as error:
            frames[frame] = error
            continue
        if obj is not None:
            entry.append(obj)
    return VideoAnnotations(path, {f: v if isinstance(v, RecordError) else tuple(v) for f, v in frames.items()},
                            empty)


def _frame_of(fields: list[str], line: str, path: Path, number: int) -> int:
    """The line's frame number; a line without one cannot be given to any item, so it stops the listing."""
    if len(fields) < 6:
        raise RecordError(path, f"expected 10 fields (track_id xmin ymin xmax ymax frame lost occluded generated "
                          f"\"label\"), got {len(fields)}, so the line's frame is unknown: {line.strip()!r}",
                          reason=errors.MALFORMED_LINE, line=number)
    raw = fields[5]
    if not raw.isdigit():
        raise RecordError(path, f"frame (field 6) is {raw!r}, not a frame number (a whole number from 0)",
                          reason=errors.BAD_NUMBER, line=number)
    return int(raw)


def parse_line(fields: list[str], line: str, path: Path, number: int) -> ObjectAnnotation | None:
    """One annotation line (already split with ``maxsplit=9``): its object, or None when the object is lost."""
    if len(fields) != 10:
        raise RecordError(path, f"expected 10 fields (track_id xmin ymin xmax ymax frame lost occluded generated "
                          f"\"label\"), got {len(fields)}: {line.strip()!r}", reason=errors.MALFORMED_LINE,
                          line=number)
    values = []
    for position, name in enumerate(("track_id", *_COORDINATES), start=1):
        raw = fields[position - 1]
        try:
            values.append(int(raw))
        except ValueError:
            raise RecordError(path, f"{name} (field {position}) is {raw!r}, not an integer",
                              reason=errors.BAD_NUMBER, line=number) from None
    for position, name in enumerate(_FLAGS, start=7):
        if fields[position - 1] not in ("0", "1"):
            raise RecordError(path, f"{name} flag (field {position}) is {fields[position - 1]!r}; expected 0 or 1",
                              reason=errors.BAD_NUMBER, line=number)
    label = fields[9].strip()
    if len(label) >= 2 and label[0] == label[-1] == '"':
        label = label[1:-1].strip()
    if not label or '"' in label:
        raise RecordError(path, f"label (field 10) is {fields[9]!r}; expected a quoted name such as \"Pedestrian\"",
                          reason=errors.MALFORMED_LINE, line=number)
    if label not in SDD_LABELS:
        raise RecordError(path, f"label (field 10) {label!r} is not one of the dataset's classes "
                          f"({', '.join(SDD_LABELS)})", reason=errors.UNKNOWN_CLASS, line=number)
    if fields[6] == "1":
        return None  # lost: outside the view, not described
    _, x0, y0, x1, y1 = values
    if x1 < x0 or y1 < y0:
        raise RecordError(path, f"box ({x0}, {y0}, {x1}, {y1}) has xmax < xmin or ymax < ymin",
                          reason=errors.BAD_NUMBER, line=number)
    return ObjectAnnotation(category=label, bbox=(float(x0), float(y0), float(x1), float(y1)), source_line=number)


# ---------------------------------------------------------------------------------------------------------------
# Video frames, decoded with PyAV (optional)


def _import_av():
    try:
        import av
    except ImportError:
        raise OptionError("decoding Stanford Drone videos needs PyAV, an optional dependency: "
                          f"{VIDEO_INSTALL_HINT} (or extract the frames and pass -o frames_dir=PATH)") from None
    return av


def _estimated_frame_bytes(video_path: Path) -> int:
    """About how many bytes one decoded frame takes as JPEG (for planning shards); 0 when the video cannot say."""
    av = _import_av()
    try:
        with av.open(str(video_path)) as container:
            stream = container.streams.video[0]
            return stream.codec_context.width * stream.codec_context.height * _FRAME_BYTES_PER_PIXEL_ESTIMATE
    except (av.error.FFmpegError, OSError, IndexError):
        return 0  # parse reports the damaged video, with its frame


class _SequentialVideo:
    """One video, open and decoded forward; ``next_index`` is the number of the next frame the decoder yields."""

    def __init__(self, path: Path, key: tuple):
        av = _import_av()
        self.path, self.key = path, key
        self.container = av.open(str(path))
        if not self.container.streams.video:
            self.container.close()
            raise RecordError(path, "file holds no video stream", reason=errors.CORRUPT_IMAGE)
        stream = self.container.streams.video[0]
        stream.thread_type = "AUTO"
        self.frames = self.container.decode(stream)
        self.next_index = 0

    def frame(self, index: int):
        """The decoded frame ``index``, or None when the video ends before it."""
        for decoded in self.frames:
            current = self.next_index
            self.next_index += 1
            if current == index:
                return decoded
        return None

    def close(self) -> None:
        self.container.close()


_OPEN_VIDEO: _SequentialVideo | None = None


def _close_open_video() -> None:
    global _OPEN_VIDEO
    if _OPEN_VIDEO is not None:
        _OPEN_VIDEO.close()
        _OPEN_VIDEO = None


# A decoder's threads do not survive fork(): close the open video before the build forks its workers, so that no
# child inherits a decoder it cannot use (or free).
os.register_at_fork(before=_close_open_video)


def read_video_frame(path: Path, index: int) -> bytes:
    """Frame ``index`` (0-based) of the video ``path`` as JPEG bytes (quality :data:`FRAME_JPEG_QUALITY`);
    :class:`RecordError` when it cannot be had."""
    global _OPEN_VIDEO
    av = _import_av()
    key = (str(path), *file_signature(path))
    try:
        if _OPEN_VIDEO is not None and (_OPEN_VIDEO.key != key or index < _OPEN_VIDEO.next_index):
            _close_open_video()  # another video, or a frame already passed: start again from the beginning
        if _OPEN_VIDEO is None:
            _OPEN_VIDEO = _SequentialVideo(path, key)
        decoded = _OPEN_VIDEO.frame(index)
    except (av.error.FFmpegError, OSError) as error:
        _close_open_video()
        raise RecordError(path, f"cannot decode frame {index}: {error}", reason=errors.CORRUPT_IMAGE) from None
    if decoded is None:
        count = _OPEN_VIDEO.next_index
        _close_open_video()
        raise RecordError(path, f"video has {count} frames (0 to {count - 1}); frame {index} is past its end",
                          reason=errors.MISSING_IMAGE)
    buffer = io.BytesIO()
    decoded.to_image().save(buffer, "JPEG", quality=FRAME_JPEG_QUALITY)
    return buffer.getvalue()
