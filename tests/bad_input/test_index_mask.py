"""Index-mask (LoveDA class table) bad-input table: ``img_dir/<id>.png`` + ``ann_dir/<id>.png``. A mask has no
lines: its record is the mask file, and a bad value is named by its pixel."""

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
from tests.bad_input.nonbox_sources import cut_in_half, png_of, write

WIDTH, HEIGHT = 64, 48


def mask(value_at: tuple[int, tuple[int, int]] | None = None, *, dtype=np.uint8, shape=(HEIGHT, WIDTH)) -> np.ndarray:
    """A LoveDA mask: background (1) with a building (2) and water (4); ``value_at`` puts one value at (x, y)."""
    array = np.ones(shape, dtype=dtype)
    array[5:10, 3:20] = 2
    array[30:40, 40:60] = 4
    if value_at is not None:
        value, (x, y) = value_at
        array[y, x] = value
    return array


def source(bad_mask: bytes | None = None, *, bad_image: bytes | None = None, suffix: str = ".png"):
    """``make``: good pair ``a``, bad pair ``b`` (``bad_mask``/``bad_image``: the files' bytes; None a good one,
    b"" none); ``suffix`` is the mask files' ending."""
    def make(root: Path) -> None:
        write(root / "img_dir" / "a.png", image_bytes(WIDTH, HEIGHT, "PNG"))
        write(root / "ann_dir" / f"a{suffix}", png_of(mask()) if suffix == ".png" else _tiff(mask()))
        if bad_image != b"":
            write(root / "img_dir" / "b.png", image_bytes(WIDTH, HEIGHT, "PNG") if bad_image is None else bad_image)
        if bad_mask != b"":
            write(root / "ann_dir" / f"b{suffix}", png_of(mask()) if bad_mask is None else bad_mask)
    return make


def _tiff(array: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "TIFF")
    return buffer.getvalue()


def _linked(which: str):
    def make(root: Path) -> None:
        source(**{"bad_mask" if which == "ann_dir" else "bad_image": b""})(root)
        data = png_of(mask()) if which == "ann_dir" else image_bytes(WIDTH, HEIGHT, "PNG")
        link_outside(root / which / "b.png", outside(root), "b.png", data)
    return make


def _empty_file(root: Path) -> None:
    source(bad_mask=b"")(root)
    write(root / "ann_dir" / "b.png", b"")


MASK = r"ann_dir/b\.(png|tif)"
IMAGE = r"img_dir/b\.png"

CASES = [
    # "Truncated line": a mask cut in half (PNG without its end). Masks are read by rasterio, not Pillow.
    BadCase("index_mask-truncated-mask", errors.CORRUPT_IMAGE, MASK, None, source(cut_in_half(png_of(mask())))),
    # "Non-numeric", "NaN/inf": a float mask (TIFF, mode F) holding NaN is not a mask of class indices.
    BadCase("index_mask-nan-float-mask", errors.UNSUPPORTED_IMAGE, MASK, None,
            source(_tiff(mask((float("nan"), (3, 4)), dtype=np.float32)), suffix=".tif"),
            args=("-o", "mask_suffix=.tif")),
    # "Out-of-image box": a mask of another size than its image.
    BadCase("index_mask-size-mismatch", errors.SIZE_MISMATCH, MASK, r"img_dir/b\.png",
            source(png_of(mask(shape=(32, 32))))),
    BadCase("index_mask-empty-mask-file", errors.CORRUPT_IMAGE, MASK, None, _empty_file),
    # "Non-UTF-8" is a text trap; a mask is binary. In its place: a mask that is not an image at all.
    BadCase("index_mask-text-as-mask", errors.CORRUPT_IMAGE, MASK, None, source(b"0 1 2\n1 1 2\n")),
    BadCase("index_mask-missing-image", errors.MISSING_IMAGE, MASK, r"\bb\b", source(bad_image=b"")),
    # The image file is the record: there is no line or pixel to name.
    BadCase("index_mask-corrupt-image", errors.CORRUPT_IMAGE, IMAGE, None, source(bad_image=corrupt_png())),
    BadCase("index_mask-unknown-class", errors.UNKNOWN_CLASS, MASK, r"value 9 at pixel \(5, 6\)",
            source(png_of(mask((9, (5, 6)))))),
    # "Duplicate id": two images for one mask stem (b.png and b.jpg) are a layout error that stops the listing.
    # In its place: an image without its mask.
    BadCase("index_mask-missing-mask", errors.MISSING_ANNOTATION, IMAGE, r"b\.png in the ann_dir folder",
            source(b"")),
    BadCase("index_mask-link-out-image", LINK_OUTSIDE_SOURCE, IMAGE, None, _linked("img_dir")),
    BadCase("index_mask-link-out-mask", LINK_OUTSIDE_SOURCE, MASK, None, _linked("ann_dir")),
    BadCase("index_mask-bomb-image", errors.IMAGE_TOO_LARGE, IMAGE, None, source(bad_image=bomb_png())),
    BadCase("index_mask-bomb-mask", errors.IMAGE_TOO_LARGE, MASK, None, source(bomb_png())),
    # The format's own traps.
    BadCase("index_mask-mask-with-alpha", errors.UNSUPPORTED_IMAGE, MASK, r"2 band",
            source(png_of(np.dstack([mask(), np.full((HEIGHT, WIDTH), 255, np.uint8)]), mode="LA"))),
    BadCase("index_mask-rgb-mask", errors.UNSUPPORTED_IMAGE, MASK, r"3 band",
            source(png_of(np.dstack([mask()] * 3)))),
    BadCase("index_mask-16-bit-unknown-value", errors.UNKNOWN_CLASS, MASK, r"value 300 at pixel \(7, 8\)",
            source(png_of(mask((300, (7, 8)), dtype=np.uint16)))),
]
CASES = [replace(case, fmt="index_mask", args=("-o", "classes=loveda", *case.args), bad_record=r"(^|/)b\b")
         for case in CASES]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: BadCase, tmp_path, capsys):
    check_case(case, tmp_path, capsys)
