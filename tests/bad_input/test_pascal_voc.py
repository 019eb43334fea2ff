"""Pascal VOC bad-input table (issue 12, item 9): one good image ``good`` plus one bad record ``bad`` per case.

XML has line numbers: the reader names the line of the element at fault (the ``<object>`` for a missing box or
an object outside the image, the coordinate element for a bad number)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsdata import errors
from tests.bad_input.harness import (
    LATIN1, LINK_OUTSIDE_SOURCE, BadCase, bomb_png, check_case, corrupt_jpeg, image_bytes, link_outside, outside,
)

RECIPE = str(Path(__file__).resolve().parents[2] / "recipes" / "datasets" / "dior.yaml")


def voc_xml(filename: str = "bad.jpg", name: str = "plane", difficult: str = "0",
            box: tuple[str, str, str, str] | None = ("10", "10", "20", "20"), robndbox: list[str] | None = None,
            ) -> str:
    """One-object VOC XML, one element a line: <object> on line 3, <name> 4, <difficult> 5, <bndbox> 6,
    xmin 7, ymin 8, xmax 9, ymax 10 (robndbox corners from line 7 on)."""
    lines = ["<annotation>", f"<filename>{filename}</filename>", "<object>", f"<name>{name}</name>",
             f"<difficult>{difficult}</difficult>"]
    if box is not None:
        lines += ["<bndbox>"] + [f"<{t}>{v}</{t}>" for t, v in zip(("xmin", "ymin", "xmax", "ymax"), box)]
        lines += ["</bndbox>"]
    if robndbox is not None:
        tags = ("x_left_top", "y_left_top", "x_right_top", "y_right_top", "x_right_bottom", "y_right_bottom",
                "x_left_bottom", "y_left_bottom")
        lines += ["<robndbox>"] + [f"<{t}>{v}</{t}>" for t, v in zip(tags, robndbox)] + ["</robndbox>"]
    return "\n".join(lines + ["</object>", "</annotation>"]) + "\n"


def source(bad_xml: str | bytes | None, *, bad_image: bytes | None = None, image_name: str = "bad.jpg",
           good_class: str = "plane"):
    def make(root: Path) -> None:
        (root / "Annotations").mkdir()
        (root / "JPEGImages").mkdir()
        (root / "JPEGImages" / "good.jpg").write_bytes(image_bytes())
        (root / "Annotations" / "good.xml").write_text(voc_xml("good.jpg", name=good_class), encoding="utf-8")
        if bad_image != b"":
            (root / "JPEGImages" / image_name).write_bytes(image_bytes() if bad_image is None else bad_image)
        if bad_xml is not None:
            data = bad_xml if isinstance(bad_xml, bytes) else bad_xml.encode("utf-8")
            (root / "Annotations" / "bad.xml").write_bytes(data)
    return make


def linked_image(root: Path) -> None:
    source(voc_xml(), bad_image=b"")(root)
    link_outside(root / "JPEGImages" / "bad.jpg", outside(root), "bad.jpg", image_bytes())


def linked_annotation(root: Path) -> None:
    source(None)(root)
    link_outside(root / "Annotations" / "bad.xml", outside(root), "bad.xml", voc_xml().encode())


ENTITY_BOMB = ('<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>\n'
               + voc_xml(name="&lol2;"))
ROTATED = ["10", "10", "20", "10", "20", "20", "10", "20"]
XML = r"Annotations/bad\.xml"
CASES = [
    # Truncated: the document stops inside <bndbox>; the parser names the line where it ran out.
    BadCase("voc-truncated", errors.MALFORMED_LINE, XML, r"bad\.xml:\d+:", source(voc_xml()[:120])),
    BadCase("voc-non-numeric", errors.BAD_NUMBER, XML, r"bad\.xml:7:", source(voc_xml(box=("1O", "10", "20", "20")))),
    BadCase("voc-nan", errors.BAD_NUMBER, XML, r"bad\.xml:9:", source(voc_xml(box=("10", "10", "nan", "20")))),
    BadCase("voc-inf", errors.BAD_NUMBER, XML, r"bad\.xml:10:", source(voc_xml(box=("10", "10", "20", "inf")))),
    BadCase("voc-outside-image", errors.OBJECT_OUTSIDE_IMAGE, XML, r"bad\.xml:3:",
            source(voc_xml(box=("100", "100", "120", "120")))),  # the image is 64 x 48
    # A zero-byte file has no line: the file is the record.
    BadCase("voc-empty-file", errors.EMPTY_LABEL_FILE, XML, None, source(b"")),
    BadCase("voc-not-utf8", errors.NOT_UTF8, XML, r"bad\.xml:4:",
            source(voc_xml(name="X").encode().replace(b"<name>X", b"<name>" + LATIN1))),
    # The annotation file is the record; the message names the image its <filename> asks for.
    BadCase("voc-missing-image", errors.MISSING_IMAGE, XML, r"bad\.jpg", source(voc_xml(), bad_image=b"")),
    # An image without annotation file: the image is the record (no line).
    BadCase("voc-missing-annotation", errors.MISSING_ANNOTATION, r"JPEGImages/bad\.jpg", None, source(None)),
    # Image errors name the image file, which is the record; images have no lines.
    BadCase("voc-corrupt-image", errors.CORRUPT_IMAGE, r"JPEGImages/bad\.jpg", None,
            source(voc_xml(), bad_image=corrupt_jpeg())),
    BadCase("voc-bomb-header", errors.IMAGE_TOO_LARGE, r"JPEGImages/bad\.png", None,
            source(voc_xml("bad.png"), bad_image=bomb_png(), image_name="bad.png")),
    BadCase("voc-link-outside-image", LINK_OUTSIDE_SOURCE, r"JPEGImages/bad\.jpg", None, linked_image),
    BadCase("voc-link-outside-annotation", LINK_OUTSIDE_SOURCE, XML, None, linked_annotation),
    # With a recipe (DIOR) the class list is known: a class it does not list is unknown.
    BadCase("voc-unknown-class", errors.UNKNOWN_CLASS, XML, r"bad\.xml:[34]:", source(voc_xml(name="spaceship"), good_class="airplane"),
            fmt=RECIPE, args=("-o", "annotations=Annotations")),
    # VOC's own traps.
    BadCase("voc-no-bndbox", errors.MALFORMED_LINE, XML, r"bad\.xml:3:", source(voc_xml(box=None))),
    BadCase("voc-xmin-over-xmax", errors.BAD_NUMBER, XML, r"bad\.xml:9:", source(voc_xml(box=("30", "10", "20", "20")))),
    BadCase("voc-robndbox-nan", errors.BAD_NUMBER, XML, r"bad\.xml:11:",
            source(voc_xml(box=None, robndbox=ROTATED[:4] + ["nan"] + ROTATED[5:]))),  # x_right_bottom, line 11
    BadCase("voc-difficult-2", errors.BAD_NUMBER, XML, r"bad\.xml:5:", source(voc_xml(difficult="2"))),
    # An entity-expansion ("billion laughs") document: DTDs are refused before anything expands.
    BadCase("voc-entity-bomb", errors.MALFORMED_LINE, XML, r"bad\.xml:[12]:", source(ENTITY_BOMB)),
    # Duplicate id: two annotation files with one stem are a source *layout* error (not skippable), so not here.
]
CASES = [BadCase(**{**c.__dict__, "fmt": c.fmt or "pascal_voc", "bad_record": "bad"}) for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_pascal_voc_bad_input(case, tmp_path, capsys):
    check_case(case, tmp_path, capsys)
