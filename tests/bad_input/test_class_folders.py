"""Class-folder (scene classification) bad-input table: ``<root>/<Class>/<image>``. There is no annotation file:
every record is one image file, named by its path, so no case has a line or record inside a file to name
(``where`` is None throughout). Class names are folder names, so there is no unknown class; files without an image
ending are ignored by design (the docstring), so a "non-image file" trap is one with an image ending."""

from __future__ import annotations

import os
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
    corrupt_png,
    image_bytes,
    link_outside,
    outside,
)
from tests.bad_input.nonbox_sources import write


def source(bad: bytes | None, name: str = "b.jpg"):
    """``make``: Airport/a.jpg and Beach/c.jpg (good) and Airport/``name`` holding ``bad`` (None: nothing)."""
    def make(root: Path) -> None:
        write(root / "Airport" / "a.jpg", image_bytes())
        write(root / "Beach" / "c.jpg", image_bytes(color=(20, 90, 200)))
        if bad is not None:
            write(root / "Airport" / name, bad)
    return make


def _linked_file(root: Path) -> None:
    source(None)(root)
    link_outside(root / "Airport" / "b.jpg", outside(root), "b.jpg", image_bytes())


def _linked_class_folder(root: Path) -> None:
    source(None)(root)
    elsewhere = outside(root) / "Desert"
    write(elsewhere / "b.jpg", image_bytes())
    (root / "Desert").symlink_to(elsewhere, target_is_directory=True)


def _dangling_link(root: Path) -> None:
    source(None)(root)
    (root / "Airport" / "b.jpg").symlink_to(root / "Airport" / "gone.jpg")


def _latin1_file_name(root: Path) -> None:
    source(None)(root)
    name = os.fsdecode(b"b_caf" + LATIN1[-1:] + b".jpg")  # "b_caf\udce9.jpg": the name is not UTF-8
    (root / "Airport" / name).write_bytes(image_bytes())


def _jpeg_claiming(width: int, height: int) -> bytes:
    """A valid small JPEG whose start-of-frame header is rewritten to claim ``width`` x ``height`` pixels."""
    data = bytearray(image_bytes())
    at = data.index(b"\xff\xc0") + 5  # SOF0: marker, length (2), precision (1), height (2), width (2)
    data[at:at + 4] = height.to_bytes(2, "big") + width.to_bytes(2, "big")
    return bytes(data)


FILE = r"Airport/b\.(jpg|png)"

CASES = [
    BadCase("class_folders-truncated-jpeg", errors.CORRUPT_IMAGE, FILE, None, source(corrupt_jpeg())),
    BadCase("class_folders-corrupt-png", errors.CORRUPT_IMAGE, FILE, None, source(corrupt_png(), "b.png")),
    BadCase("class_folders-empty-file", errors.CORRUPT_IMAGE, FILE, None, source(b"")),
    BadCase("class_folders-text-named-jpg", errors.CORRUPT_IMAGE, FILE, None, source(b"not an image\n")),
    # "Non-UTF-8": a file name that is not UTF-8 (a Latin-1 download unpacked as bytes) cannot be written as a
    # row's path.
    BadCase("class_folders-non-utf8-file-name", errors.NOT_UTF8, r"Airport/b_caf", None, _latin1_file_name,
            bad_record=r"b_caf"),
    # "Missing image": a link whose target is gone.
    BadCase("class_folders-dangling-link", errors.MISSING_IMAGE, FILE, None, _dangling_link),
    BadCase("class_folders-bomb-png", errors.IMAGE_TOO_LARGE, FILE, None, source(bomb_png(), "b.png")),
    BadCase("class_folders-bomb-jpeg-header", errors.IMAGE_TOO_LARGE, FILE, None,
            source(_jpeg_claiming(65000, 65000))),
    BadCase("class_folders-link-out-file", LINK_OUTSIDE_SOURCE, FILE, None, _linked_file),
    BadCase("class_folders-link-out-class-folder", LINK_OUTSIDE_SOURCE, r"Desert", None, _linked_class_folder,
            bad_record=r"Desert"),
    # The image file is the record in every case above; "truncated line", "NaN/inf", "out-of-image box",
    # "unknown class" and "duplicate id" have nothing to apply to (no annotation; source_id is the unique path).
    BadCase("class_folders-png-cut-after-header", errors.CORRUPT_IMAGE, FILE, None,
            source(image_bytes(fmt="PNG")[:40], "b.png")),
]
CASES = [replace(case, fmt="class_folders", good_rows=2, bad_record=case.bad_record or r"Airport/b\.")
         for case in CASES]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: BadCase, tmp_path, capsys):
    check_case(case, tmp_path, capsys)
