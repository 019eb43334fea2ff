"""Colour-mask (ISPRS colour table) bad-input table: ``img_dir/<id>.png`` + ``ann_dir/<id>.png``. A mask has no
lines: its record is the mask file, and a bad colour is named by its pixel."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from rsdata import errors
from tests.bad_input.harness import (
    LINK_OUTSIDE_SOURCE,
    BadCase,
    bomb_png,
    check_case,
    corrupt_png,
    image_bytes,
    link_outside,
    outside,
)
from tests.bad_input.nonbox_sources import cut_in_half, png16_rgb, png_of, write

WIDTH, HEIGHT = 64, 48
IMPERVIOUS, BUILDING, CAR = (255, 255, 255), (0, 0, 255), (255, 255, 0)


def mask(colour_at: tuple[tuple[int, ...], tuple[int, int]] | None = None, *, shape=(HEIGHT, WIDTH),
         dtype=np.uint8) -> np.ndarray:
    """An ISPRS colour mask: impervious surface with a building and a car; ``colour_at`` paints one pixel (x, y)."""
    array = np.empty((*shape, 3), dtype=dtype)
    array[:] = IMPERVIOUS
    array[5:10, 3:20] = BUILDING
    array[30:40, 40:60] = CAR
    if colour_at is not None:
        colour, (x, y) = colour_at
        array[y, x] = colour
    return array


def source(bad_mask: bytes | None = None, *, bad_image: bytes | None = None):
    """``make``: good pair ``a``, bad pair ``b`` (``bad_mask``/``bad_image``: bytes; None a good file, b"" none)."""
    def make(root: Path) -> None:
        write(root / "img_dir" / "a.png", image_bytes(WIDTH, HEIGHT, "PNG"))
        write(root / "ann_dir" / "a.png", png_of(mask()))
        if bad_image != b"":
            write(root / "img_dir" / "b.png", image_bytes(WIDTH, HEIGHT, "PNG") if bad_image is None else bad_image)
        if bad_mask != b"":
            write(root / "ann_dir" / "b.png", png_of(mask()) if bad_mask is None else bad_mask)
    return make


def _linked_mask(root: Path) -> None:
    source(b"")(root)
    link_outside(root / "ann_dir" / "b.png", outside(root), "b.png", png_of(mask()))


def _empty_mask(root: Path) -> None:
    source(b"")(root)
    write(root / "ann_dir" / "b.png", b"")


def _grey_alpha(array: np.ndarray) -> bytes:
    return png_of(np.dstack([array[..., 0], np.full(array.shape[:2], 255, np.uint8)]), mode="LA")


MASK = r"ann_dir/b\.png"
IMAGE = r"img_dir/b\.png"

CASES = [
    BadCase("rgb_mask-truncated-mask", errors.CORRUPT_IMAGE, MASK, None, source(cut_in_half(png_of(mask())))),
    # "Non-numeric", "NaN/inf": values a colour table cannot hold, in a 16-bit RGB mask.
    BadCase("rgb_mask-16-bit-mask", errors.UNSUPPORTED_IMAGE, MASK, r"uint16", source(png16_rgb(mask(dtype=np.uint16) * 257))),
    # "Out-of-image box": a mask of another size than its image.
    BadCase("rgb_mask-size-mismatch", errors.SIZE_MISMATCH, MASK, IMAGE, source(png_of(mask(shape=(32, 32))))),
    BadCase("rgb_mask-empty-mask-file", errors.CORRUPT_IMAGE, MASK, None, _empty_mask),
    # "Non-UTF-8" is a text trap; a mask is binary. In its place: a mask that is not an image at all.
    BadCase("rgb_mask-text-as-mask", errors.CORRUPT_IMAGE, MASK, None, source(b"255 255 255\n")),
    BadCase("rgb_mask-missing-image", errors.MISSING_IMAGE, MASK, r"\bb\b", source(bad_image=b"")),
    # The image file is the record: there is no line or pixel to name.
    BadCase("rgb_mask-corrupt-image", errors.CORRUPT_IMAGE, IMAGE, None, source(bad_image=corrupt_png())),
    BadCase("rgb_mask-colour-not-in-table", errors.UNKNOWN_CLASS, MASK, r"colour \(1, 2, 3\) at pixel \(5, 6\)",
            source(png_of(mask(((1, 2, 3), (5, 6)))))),
    # "Duplicate id": two masks for one image stem are a layout error that stops the listing. In its place: an
    # image without its mask.
    BadCase("rgb_mask-missing-mask", errors.MISSING_ANNOTATION, IMAGE, r"b\.png in the ann_dir folder", source(b"")),
    BadCase("rgb_mask-link-out-mask", LINK_OUTSIDE_SOURCE, MASK, None, _linked_mask),
    BadCase("rgb_mask-bomb-mask", errors.IMAGE_TOO_LARGE, MASK, None, source(bomb_png())),
    BadCase("rgb_mask-bomb-image", errors.IMAGE_TOO_LARGE, IMAGE, None, source(bad_image=bomb_png())),
    # The format's own traps. Alpha is not read (the docstring), so an RGBA mask whose colours are all in the
    # table is good; a grey mask with alpha has two bands, not three.
    BadCase("rgb_mask-grey-with-alpha", errors.UNSUPPORTED_IMAGE, MASK, r"2 band", source(_grey_alpha(mask()))),
    BadCase("rgb_mask-grey-mask", errors.UNSUPPORTED_IMAGE, MASK, r"1 band", source(png_of(mask()[..., 0]))),
    BadCase("rgb_mask-alpha-hides-unknown-colour", errors.UNKNOWN_CLASS, MASK,
            r"colour \(9, 9, 9\) at pixel \(0, 0\)", source(png_of(np.dstack([mask(((9, 9, 9), (0, 0))), np.where(
                np.arange(WIDTH)[None, :].repeat(HEIGHT, 0) == 0, 0, 255).astype(np.uint8)]), mode="RGBA"))),
]
CASES = [replace(case, fmt="rgb_mask", args=("-o", "classes=isprs_rgb"), bad_record=r"(^|/)b\b") for case in CASES]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: BadCase, tmp_path, capsys):
    check_case(case, tmp_path, capsys)
