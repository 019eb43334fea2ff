"""RemoteCount (counting set over a DOTA source) bad-input table: ``images/P0001.jpg`` + ``labelTxt/P0001.txt``,
label lines named by file and line. Counts outside 1-10 and categories outside the 13 are not errors but images
with nothing to count (``nothing_to_count``): they have a table of their own below."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from rsdata import errors
from rsdata.formats.remotecount import NOTHING_TO_COUNT
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
from tests.bad_input.nonbox_sources import write

HEADER = "imagesource:GoogleEarth\ngsd:0.5\n"
PLANE = "10 10 20 10 20 20 10 20 plane 0"


def source(bad_lines: list[str] | None = None, *, label: bytes | None = None, image: bytes | None = None,
           image_name: str = "P0001.jpg"):
    """``make``: P0000 (two planes: good) and P0001, whose label file is the header (lines 1-2), a good plane
    (line 3) and ``bad_lines`` (from line 4), or ``label`` as bytes (b"": no label file); ``image`` is P0001's
    image (None a good JPEG, b"" none)."""
    def make(root: Path) -> None:
        write(root / "images" / "P0000.jpg", image_bytes())
        write(root / "labelTxt" / "P0000.txt", HEADER + PLANE + "\n" + "30 30 40 30 40 40 30 40 plane 0\n")
        if image != b"":
            write(root / "images" / image_name, image_bytes() if image is None else image)
        if label != b"":
            write(root / "labelTxt" / "P0001.txt", label if label is not None else
                  HEADER + "\n".join([PLANE, *(bad_lines or [])]) + "\n")
    return make


def _linked_image(root: Path) -> None:
    source(image=b"")(root)
    link_outside(root / "images" / "P0001.jpg", outside(root), "P0001.jpg", image_bytes())


def _linked_labels(root: Path) -> None:
    source(label=b"")(root)
    link_outside(root / "labelTxt" / "P0001.txt", outside(root), "P0001.txt", (HEADER + PLANE + "\n").encode())


def _empty_label(root: Path) -> None:
    source(label=b"")(root)
    write(root / "labelTxt" / "P0001.txt", b"")


LABEL = r"labelTxt/P0001\.txt"
LINE4 = r"P0001\.txt:4\b"
IMAGE = r"images/P0001\.(jpg|png)"

CASES = [
    BadCase("remotecount-truncated-line", errors.MALFORMED_LINE, LABEL, LINE4, source(["30 30 40 30 40"])),
    BadCase("remotecount-non-numeric", errors.BAD_NUMBER, LABEL, LINE4, source(["30 thirty 40 30 40 40 30 40 ship 0"])),
    BadCase("remotecount-nan", errors.BAD_NUMBER, LABEL, LINE4, source(["30 nan 40 30 40 40 30 40 ship 0"])),
    BadCase("remotecount-inf", errors.BAD_NUMBER, LABEL, LINE4, source(["30 30 inf 30 40 40 30 40 ship 0"])),
    BadCase("remotecount-out-of-image", errors.OBJECT_OUTSIDE_IMAGE, LABEL, LINE4,
            source(["5000 5000 5010 5000 5010 5010 5000 5010 ship 0"])),
    # A file of zero bytes has no line to name.
    BadCase("remotecount-empty-file", errors.EMPTY_LABEL_FILE, LABEL, None, _empty_label),
    BadCase("remotecount-non-utf8", errors.NOT_UTF8, LABEL, LINE4,
            source(label=(HEADER + PLANE + "\n30 30 40 30 40 40 30 40 ").encode() + LATIN1 + b" 0\n")),
    BadCase("remotecount-missing-image", errors.MISSING_IMAGE, LABEL, r"P0001 with ending", source(image=b"")),
    # The image file is the record: there is no line in it to name.
    BadCase("remotecount-corrupt-image", errors.CORRUPT_IMAGE, IMAGE, None, source(image=corrupt_jpeg())),
    # "Unknown class": a DOTA class name is free text, and RemoteCount leaves out (does not refuse) categories
    # outside its 13 (test_images_with_nothing_to_count_are_left_out_not_refused). In its place: the class
    # missing, so that field 9 is a number.
    BadCase("remotecount-class-missing", errors.MALFORMED_LINE, LABEL, LINE4, source(["30 30 40 30 40 40 30 40 1"])),
    # "Duplicate id": two label files for one image stop the listing (a layout error naming both). In its place:
    # a difficult flag that is not 0 or 1.
    BadCase("remotecount-difficult-flag", errors.BAD_NUMBER, LABEL, LINE4, source(["30 30 40 30 40 40 30 40 ship 2"])),
    BadCase("remotecount-link-out-image", LINK_OUTSIDE_SOURCE, IMAGE, None, _linked_image),
    BadCase("remotecount-link-out-label", LINK_OUTSIDE_SOURCE, LABEL, None, _linked_labels),
    BadCase("remotecount-bomb", errors.IMAGE_TOO_LARGE, IMAGE, None, source(image=bomb_png(), image_name="P0001.png")),
    BadCase("remotecount-missing-label", errors.MISSING_ANNOTATION, IMAGE, r"P0001\.txt", source(label=b"")),
]
CASES = [replace(case, fmt="remotecount", bad_record=r"P0001") for case in CASES]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: BadCase, tmp_path, capsys):
    check_case(case, tmp_path, capsys)


@pytest.mark.parametrize("name,lines,found", [
    ("count-0", None, "none"),  # headers only: no object at all
    ("count-11", ["30 30 40 30 40 40 30 40 ship 0"] * 11, "ship 11"),
    ("category-not-among-the-13", ["30 30 40 30 40 40 30 40 small-vehicle 0"] * 3, "small-vehicle 3"),
], ids=["count-0", "count-11", "category-not-among-the-13"])
def test_images_with_nothing_to_count_are_left_out_not_refused(tmp_path, capsys, name, lines, found):
    """Not errors: in either --on-error mode the build succeeds, and the report names the image's label file and
    what it counted under ``nothing_to_count``."""
    from rsdata.cli import main

    root = tmp_path / "source"
    root.mkdir()
    source(label=(HEADER + "".join(line + "\n" for line in lines or [])).encode())(root)
    for mode in ("raise", "skip"):
        out = tmp_path / mode
        assert main(["convert", "remotecount", str(root), str(out), "--no-progress", "--on-error", mode]) == 0
        report = json.loads((out / "build_report.json").read_text(encoding="utf-8"))
        assert report["skipped_per_reason"] == {NOTHING_TO_COUNT: 1}, report["skipped"]
        (skipped,) = report["skipped"]
        assert skipped["path"].endswith("P0001.txt") and found in skipped["message"], skipped
