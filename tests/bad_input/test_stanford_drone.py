"""Stanford Drone Dataset bad-input table, read from extracted frames (``-o frames_dir=frames``): one item per
sampled frame (stride 30), named by the annotation file and the line of its first bad object."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from rsdata import errors
from tests.bad_input.harness import (
    LATIN1,
    LINK_OUTSIDE_SOURCE,
    BadCase,
    bomb_png,
    check_case,
    corrupt_jpeg,
    image_bytes,
    link_outside,
    outside,
)
from tests.bad_input.nonbox_sources import check_stops_build, write

VIDEO = Path("quad") / "video3"
GOOD_LINES = ['0 5 8 25 30 0 0 0 0 "Pedestrian"', '1 30 10 50 40 0 0 1 1 "Biker"']
GOOD_OBJECT = '2 10 10 30 30 30 0 0 0 "Car"'


def source(bad_line: str | None = GOOD_OBJECT, *, frame_file: str = "000030.jpg", frame: bytes | None = None,
           text: bytes | None = None):
    """``make`` for one video: frame 0 (good, lines 1-2), then ``bad_line`` (line 3) on frame 30, plus an
    unsampled frame-31 line (line 4); the frames folder holds 000000.jpg and ``frame_file`` (``frame``: its
    bytes, None a good JPEG, b"" none). ``text`` replaces the whole annotation file."""
    def make(root: Path) -> None:
        lines = [*GOOD_LINES, bad_line, '2 10 10 30 30 31 0 0 0 "Car"']
        data = text if text is not None else ("\n".join(lines) + "\n").encode()
        write(root / "annotations" / VIDEO / "annotations.txt", data)
        frames = root / "frames" / VIDEO / "frames"
        write(frames / "000000.jpg", image_bytes())
        if frame != b"":
            write(frames / frame_file, image_bytes() if frame is None else frame)
    return make


def _linked_frame(root: Path) -> None:
    source(frame=b"")(root)
    link_outside(root / "frames" / VIDEO / "frames" / "000030.jpg", outside(root), "000030.jpg", image_bytes())


def _empty_second_video(root: Path) -> None:
    source()(root)
    # the good video's frame 30 is fine here; the bad record is the other video's empty file (item frame 0)
    write(root / "annotations" / "quad" / "video4" / "annotations.txt", b"")
    write(root / "frames" / "quad" / "video4" / "frames" / "000000.jpg", image_bytes())


ANNOTATIONS = r"quad/video3/annotations\.txt"
LINE3 = r"annotations\.txt:3\b"
FRAME = r"frames/quad/video3/frames/000030\.(jpg|png)"

CASES = [
    BadCase("sdd-truncated-line", errors.MALFORMED_LINE, ANNOTATIONS, LINE3, source("2 10 10 30 30 30 0 0")),
    BadCase("sdd-non-numeric", errors.BAD_NUMBER, ANNOTATIONS, LINE3, source('2 ten 10 30 30 30 0 0 0 "Car"')),
    BadCase("sdd-nan", errors.BAD_NUMBER, ANNOTATIONS, LINE3, source('2 nan 10 30 30 30 0 0 0 "Car"')),
    BadCase("sdd-inf", errors.BAD_NUMBER, ANNOTATIONS, LINE3, source('2 10 10 inf 30 30 0 0 0 "Car"')),
    BadCase("sdd-out-of-image", errors.OBJECT_OUTSIDE_IMAGE, ANNOTATIONS, LINE3,
            source('2 5000 4000 5030 4020 30 0 0 0 "Car"')),
    # An empty file is one item (frame 0) without lines: the file is named, there is no line to name.
    BadCase("sdd-empty-file", errors.EMPTY_LABEL_FILE, r"quad/video4/annotations\.txt", None, _empty_second_video,
            good_rows=2, bad_record=r"video4"),
    # A file that is not UTF-8 stops the listing (which frames it describes is unknown): see
    # test_whole_file_errors_stop_the_build. The missing frame image is named by its frame number.
    BadCase("sdd-missing-image", errors.MISSING_IMAGE, ANNOTATIONS, r"frame 30\b", source(frame=b"")),
    # The frame file is the record: the message names it, there is no line in it.
    BadCase("sdd-corrupt-image", errors.CORRUPT_IMAGE, FRAME, None, source(frame=corrupt_jpeg())),
    BadCase("sdd-unknown-class", errors.UNKNOWN_CLASS, ANNOTATIONS, LINE3, source('2 10 10 30 30 30 0 0 0 "Dragon"')),
    # "Duplicate id": two frame files for one frame number are a layout error (the listing stops); a track id
    # repeated within a frame is not checked by the format. Substituted by an inverted box.
    BadCase("sdd-inverted-box", errors.BAD_NUMBER, ANNOTATIONS, LINE3, source('2 30 10 10 30 30 0 0 0 "Car"')),
    BadCase("sdd-link-out", LINK_OUTSIDE_SOURCE, FRAME, None, _linked_frame),
    BadCase("sdd-bomb", errors.IMAGE_TOO_LARGE, FRAME, None, source(frame_file="000030.png", frame=bomb_png())),
    # The format's own traps.
    BadCase("sdd-flag-not-binary", errors.BAD_NUMBER, ANNOTATIONS, LINE3, source('2 10 10 30 30 30 2 0 0 "Car"')),
    BadCase("sdd-stray-quote", errors.MALFORMED_LINE, ANNOTATIONS, LINE3, source('2 10 10 30 30 30 0 0 0 "Ca"r"')),
    BadCase("sdd-float-coordinate", errors.BAD_NUMBER, ANNOTATIONS, LINE3, source('2 10.5 10 30 30 30 0 0 0 "Car"')),
]
CASES = [replace(case, fmt="stanford_drone", args=("-o", "frames_dir=frames"),
                 bad_record=case.bad_record or r"000030") for case in CASES]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: BadCase, tmp_path, capsys):
    check_case(case, tmp_path, capsys)


# A line whose frame cannot be read belongs to no item, and a file that is not UTF-8 to no frame: the listing
# stops in either --on-error mode.
WHOLE_FILE = [
    BadCase("sdd-non-utf8", errors.NOT_UTF8, ANNOTATIONS, LINE3,
            source(text=("\n".join(GOOD_LINES) + '\n2 10 10 30 30 30 0 0 0 "').encode() + LATIN1 + b'"\n')),
    BadCase("sdd-frame-not-a-number", errors.BAD_NUMBER, ANNOTATIONS, LINE3,
            source('2 10 10 30 30 thirty 0 0 0 "Car"')),
    BadCase("sdd-line-without-frame", errors.MALFORMED_LINE, ANNOTATIONS, LINE3, source("2 10 10 30 30")),
]
WHOLE_FILE = [replace(case, fmt="stanford_drone", args=("-o", "frames_dir=frames")) for case in WHOLE_FILE]


@pytest.mark.parametrize("case", WHOLE_FILE, ids=[c.id for c in WHOLE_FILE])
def test_whole_file_errors_stop_the_build(case: BadCase, tmp_path, capsys):
    check_stops_build(case, tmp_path, capsys)
