"""iSAID bad-input table: ``train/images/<id>.png`` with ``<id>_instance_color_RGB.png`` (class colours) and
``<id>_instance_id_RGB.png`` (instance ids). A mask has no lines: its record is the mask file, and a bad colour is
named by its pixel."""

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
SHIP, PLANE = (0, 0, 63), (0, 127, 255)
COLOUR, INSTANCE = "_instance_color_RGB.png", "_instance_id_RGB.png"


def masks(colour_at=None, *, shape=(HEIGHT, WIDTH)) -> tuple[np.ndarray, np.ndarray]:
    """Colour and instance masks with a ship (id 4592855) and a plane (id 4594165) on unlabeled black;
    ``colour_at`` ((r, g, b), (x, y)) paints one pixel of the colour mask."""
    colour = np.zeros((*shape, 3), dtype=np.uint8)
    instance = np.zeros((*shape, 3), dtype=np.uint8)
    for rgb, ident, (y0, y1, x0, x1) in ((SHIP, 4592855, (5, 10, 3, 20)), (PLANE, 4594165, (30, 40, 40, 60))):
        colour[y0:y1, x0:x1] = rgb
        instance[y0:y1, x0:x1] = (ident % 256, (ident // 256) % 256, ident // 65536)
    if colour_at is not None:
        rgb, (x, y) = colour_at
        colour[y, x] = rgb
    return colour, instance


def source(colour: bytes | None = None, instance: bytes | None = None, *, image: bytes | None = None):
    """``make``: good image ``a``, bad image ``b`` (each file's bytes; None a good file, b"" none)."""
    def make(root: Path) -> None:
        folder = root / "train" / "images"
        good_colour, good_instance = (png_of(m) for m in masks())
        write(folder / "a.png", image_bytes(WIDTH, HEIGHT, "PNG"))
        write(folder / f"a{COLOUR}", good_colour)
        write(folder / f"a{INSTANCE}", good_instance)
        for name, data, good in (("b.png", image, image_bytes(WIDTH, HEIGHT, "PNG")), (f"b{COLOUR}", colour,
                                 good_colour), (f"b{INSTANCE}", instance, good_instance)):
            if data != b"":
                write(folder / name, good if data is None else data)
    return make


def _linked(name: str):
    def make(root: Path) -> None:
        good = {"b.png": image_bytes(WIDTH, HEIGHT, "PNG"), f"b{COLOUR}": png_of(masks()[0]),
                f"b{INSTANCE}": png_of(masks()[1])}
        source(**{{"b.png": "image", f"b{COLOUR}": "colour", f"b{INSTANCE}": "instance"}[name]: b""})(root)
        link_outside(root / "train" / "images" / name, outside(root), name, good[name])
    return make


def _empty_colour_mask(root: Path) -> None:
    source(colour=b"")(root)
    write(root / "train" / "images" / f"b{COLOUR}", b"")


COLOUR_MASK = r"train/images/b_instance_color_RGB\.png"
INSTANCE_MASK = r"train/images/b_instance_id_RGB\.png"
IMAGE = r"train/images/b\.png"

CASES = [
    BadCase("isaid-truncated-colour-mask", errors.CORRUPT_IMAGE, COLOUR_MASK, None,
            source(cut_in_half(png_of(masks()[0])))),
    BadCase("isaid-truncated-instance-mask", errors.CORRUPT_IMAGE, INSTANCE_MASK, None,
            source(instance=cut_in_half(png_of(masks()[1])))),
    # "Non-numeric", "NaN/inf": masks are 8-bit colours; a grey colour mask cannot hold one.
    BadCase("isaid-grey-colour-mask", errors.UNSUPPORTED_IMAGE, COLOUR_MASK, r"1 band",
            source(png_of(masks()[0][..., 2]))),
    # "Out-of-image box": masks of another size than their image.
    BadCase("isaid-colour-mask-size-mismatch", errors.SIZE_MISMATCH, COLOUR_MASK, IMAGE,
            source(png_of(masks(shape=(32, 32))[0]))),
    BadCase("isaid-instance-mask-size-mismatch", errors.SIZE_MISMATCH, INSTANCE_MASK, COLOUR_MASK,
            source(instance=png_of(masks(shape=(32, 32))[1]))),
    BadCase("isaid-empty-colour-mask", errors.CORRUPT_IMAGE, COLOUR_MASK, None, _empty_colour_mask),
    # "Non-UTF-8" is a text trap; masks are binary. In its place: an image whose instance mask is missing.
    BadCase("isaid-missing-instance-mask", errors.MISSING_ANNOTATION, COLOUR_MASK, r"b_instance_id_RGB\.png",
            source(instance=b"")),
    BadCase("isaid-missing-image", errors.MISSING_IMAGE, COLOUR_MASK, r"\bb\b", source(image=b"")),
    # The image file is the record: there is no line or pixel to name.
    BadCase("isaid-corrupt-image", errors.CORRUPT_IMAGE, IMAGE, None, source(image=corrupt_png())),
    BadCase("isaid-unknown-colour", errors.UNKNOWN_CLASS, COLOUR_MASK, r"colour \(1, 2, 3\) at pixel \(5, 6\)",
            source(png_of(masks(((1, 2, 3), (5, 6)))[0]))),
    # "Duplicate id": b.png and b.jpg beside one colour mask are a layout error that stops the listing. In its
    # place: an image with no colour mask.
    BadCase("isaid-missing-colour-mask", errors.MISSING_ANNOTATION, IMAGE, r"b_instance_color_RGB\.png",
            source(colour=b"")),
    BadCase("isaid-link-out-image", LINK_OUTSIDE_SOURCE, IMAGE, None, _linked("b.png")),
    BadCase("isaid-link-out-instance-mask", LINK_OUTSIDE_SOURCE, INSTANCE_MASK, None, _linked(f"b{INSTANCE}")),
    BadCase("isaid-bomb-image", errors.IMAGE_TOO_LARGE, IMAGE, None, source(image=bomb_png())),
    BadCase("isaid-bomb-colour-mask", errors.IMAGE_TOO_LARGE, COLOUR_MASK, None, source(bomb_png())),
]
CASES = [replace(case, fmt="isaid", args=("-o", "classes=isaid"), bad_record=r"(^|/|_)b(\b|_)") for case in CASES]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: BadCase, tmp_path, capsys):
    check_case(case, tmp_path, capsys)
