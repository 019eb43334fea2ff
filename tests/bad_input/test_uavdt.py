"""UAVDT bad-input table (issue 12, item 9): a good sequence M0101 and a bad sequence M0201, one frame each
(``-o frame_stride=1 -o split_by=none``). Bad rows are line 2 of ``M0201_gt_whole.txt`` (line 1 is a good car of
the same frame), so the frame they name is the one record that fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsdata import errors
from tests.bad_input.harness import (
    LATIN1, LINK_OUTSIDE_SOURCE, BadCase, bomb_png, check_case, corrupt_jpeg, image_bytes, link_outside, outside,
)

RECIPE = str(Path(__file__).resolve().parents[2] / "recipes" / "datasets" / "uavdt.yaml")
FRAMES, GT = "UAV-benchmark-M", "UAV-benchmark-MOTD_v1.0/GT"
GOOD = "1,1,11,11,9,9,1,1,1\n"
OPTIONS = ("-o", "frame_stride=1", "-o", "split_by=none")


def source(bad_gt: str | bytes | None, *, bad_image: bytes | None = None, gt_name: str = "M0201_gt_whole.txt",
           extra=None):
    """Good M0101 plus M0201 with ground truth ``bad_gt`` (None: no file) and frame 1 ``bad_image`` (None: a good
    JPEG, b"": none)."""
    def make(root: Path) -> None:
        (root / FRAMES / "M0101").mkdir(parents=True)
        (root / GT).mkdir(parents=True)
        (root / FRAMES / "M0101" / "img000001.jpg").write_bytes(image_bytes())
        (root / GT / "M0101_gt_whole.txt").write_text(GOOD, encoding="utf-8")
        if bad_image != b"":
            (root / FRAMES / "M0201").mkdir()
            (root / FRAMES / "M0201" / "img000001.jpg").write_bytes(image_bytes() if bad_image is None else bad_image)
        if bad_gt is not None:
            data = bad_gt if isinstance(bad_gt, bytes) else bad_gt.encode("utf-8")
            (root / GT / gt_name).write_bytes(data)
        if extra is not None:
            extra(root)
    return make


def second(line: str) -> str:
    return GOOD + line + "\n"


def link_frame(root: Path) -> None:
    (root / FRAMES / "M0201").mkdir()
    link_outside(root / FRAMES / "M0201" / "img000001.jpg", outside(root), "img000001.jpg", image_bytes())


def link_gt(root: Path) -> None:
    link_outside(root / GT / "M0201_gt_whole.txt", outside(root), "M0201_gt_whole.txt", GOOD.encode())


def mot_files(root: Path) -> None:
    """MOT ground truth for M0101 (its categories come from its _gt_whole.txt) and a M0201 _gt_whole.txt that
    knows target 8 only."""
    (root / GT / "M0101_gt.txt").write_text(GOOD.replace(",1,1,1\n", ",1,1,-1\n"), encoding="utf-8")
    (root / GT / "M0201_gt_whole.txt").write_text("1,8,11,11,9,9,1,1,1\n", encoding="utf-8")


LABEL, LINE, FRAME = r"M0201_gt_whole\.txt", r"M0201_gt_whole\.txt:2:", r"M0201/img000001\.jpg"
CASES = [
    BadCase("uavdt-truncated", errors.MALFORMED_LINE, LABEL, LINE, source(second("1,2,11,11,9"))),
    BadCase("uavdt-non-numeric", errors.BAD_NUMBER, LABEL, LINE, source(second("1,2,1l,11,9,9,1,1,1"))),
    BadCase("uavdt-nan", errors.BAD_NUMBER, LABEL, LINE, source(second("1,2,11,11,nan,9,1,1,1"))),
    BadCase("uavdt-inf", errors.BAD_NUMBER, LABEL, LINE, source(second("1,2,11,11,9,inf,1,1,1"))),
    BadCase("uavdt-outside-image", errors.OBJECT_OUTSIDE_IMAGE, LABEL, LINE,
            source(second("1,2,100,100,9,9,1,1,1"))),  # the frame is 64 x 48
    # A zero-byte ground-truth file is no bad case by the spec: its frames have no rows, so nothing to describe
    # (no_objects, not an error). Reported as a question: DOTA, NWPU and RSOD call an empty label file an error.
    BadCase("uavdt-not-utf8", errors.NOT_UTF8, LABEL, LINE, source(GOOD.encode() + b"1,2,11,11,9,9,1,1," + LATIN1)),
    # Ground-truth rows for a frame without image: the message names the frame and the file.
    BadCase("uavdt-missing-image", errors.MISSING_IMAGE, r"M0201", r"img000001", source(GOOD, bad_image=b"")),
    # Frames without a ground-truth file: the sequence's frame is the record (no line).
    BadCase("uavdt-missing-annotation", errors.MISSING_ANNOTATION, r"M0201", None, source(None)),
    # Image errors name the frame file, which is the record; images have no lines.
    BadCase("uavdt-corrupt-image", errors.CORRUPT_IMAGE, FRAME, None, source(GOOD, bad_image=corrupt_jpeg())),
    # Frames are .jpg by name; the bomb is PNG bytes under that name (the reader goes by content).
    BadCase("uavdt-bomb-header", errors.IMAGE_TOO_LARGE, FRAME, None, source(GOOD, bad_image=bomb_png())),
    BadCase("uavdt-link-outside-image", LINK_OUTSIDE_SOURCE, FRAME, None, source(GOOD, bad_image=b"", extra=link_frame)),
    BadCase("uavdt-link-outside-gt", LINK_OUTSIDE_SOURCE, LABEL, None, source(None, extra=link_gt)),
    # Categories are 1 car, 2 truck, 3 bus.
    BadCase("uavdt-unknown-class", errors.UNKNOWN_CLASS, LABEL, LINE, source(second("1,2,11,11,9,9,1,1,4"))),
    BadCase("uavdt-unknown-class-recipe", errors.UNKNOWN_CLASS, LABEL, LINE, source(second("1,2,11,11,9,9,1,1,7")),
            fmt=RECIPE),
    # UAVDT's own traps: frame index 0 (out of range: frames count from 1; it fails its whole sequence); rows
    # for frame 2 of a sequence whose only frame is 1 (missing_image for frame 2, frame 1 stays good: but
    # M0201/img000001 here is good, so the good rows are M0101's and M0201's frame 1); a -1 category in a
    # _gt_whole.txt file; a MOT file (-o gt=mot) whose target has no category anywhere.
    BadCase("uavdt-frame-zero", errors.BAD_NUMBER, LABEL, LINE, source(second("0,2,11,11,9,9,1,1,1"))),
    BadCase("uavdt-frame-out-of-range", errors.MISSING_IMAGE, r"M0201", r"img000002",
            source(second("2,2,11,11,9,9,1,1,1")), good_rows=2),
    BadCase("uavdt-no-category-in-whole", errors.BAD_NUMBER, LABEL, LINE, source(second("1,2,11,11,9,9,1,1,-1"))),
    BadCase("uavdt-mot-target-without-category", errors.MISSING_ANNOTATION, r"M0201_gt\.txt", r"M0201_gt\.txt:1:",
            source("1,7,11,11,9,9,1,1,-1\n", gt_name="M0201_gt.txt", extra=mot_files),
            args=("-o", "gt=mot")),
]
CASES = [BadCase(**{**c.__dict__, "fmt": c.fmt or "uavdt", "args": OPTIONS + c.args,
                    "bad_record": r"M0201/img00000[2]" if c.id == "uavdt-frame-out-of-range" else "M0201"})
         for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_uavdt_bad_input(case, tmp_path, capsys):
    check_case(case, tmp_path, capsys)
