"""HRSC2016 bad-input table (issue 12, item 9): one good image plus one bad record per case.

XML has line numbers: the reader names the line of the element at fault (the ``<HRSC_Object>`` for a missing
field or an object outside the image, the field itself for a bad number)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsdata import errors
from tests.bad_input.harness import (
    LATIN1, LINK_OUTSIDE_SOURCE, BadCase, bomb_png, check_case, corrupt_jpeg, image_bytes, link_outside, outside,
)

RECIPE = str(Path(__file__).resolve().parents[2] / "recipes" / "datasets" / "hrsc2016.yaml")
ANNOTATIONS, IMAGES = "FullDataSet/Annotations", "FullDataSet/AllImages"
SYSDATA = ("<HRSC_DataSet>\n<HRSC_Classes>\n<HRSC_Class>\n<Class_ID>100000001</Class_ID>\n"
           "<Class_EngName>ship</Class_EngName>\n</HRSC_Class>\n</HRSC_Classes>\n</HRSC_DataSet>\n")


def hrsc_xml(stem: str = "bad", fmt: str = "jpg", class_id: str = "100000001", difficult: str = "0",
             mbox: tuple[str, ...] = ("15", "15", "10", "6", "0.3")) -> str:
    """One-ship HRSC file, one element a line: <HRSC_Object> on line 5, Class_ID 6, difficult 7, mbox_cx 8,
    mbox_cy 9, mbox_w 10, mbox_h 11, mbox_ang 12 (a field left out with None shifts the lines after it)."""
    fields = [f"<{t}>{v}</{t}>" for t, v in zip(("mbox_cx", "mbox_cy", "mbox_w", "mbox_h", "mbox_ang"), mbox)
              if v is not None]
    lines = ["<HRSC_Image>", f"<Img_FileName>{stem}</Img_FileName>", f"<Img_FileFmt>{fmt}</Img_FileFmt>",
             "<HRSC_Objects>", "<HRSC_Object>", f"<Class_ID>{class_id}</Class_ID>", f"<difficult>{difficult}</difficult>",
             *fields, "</HRSC_Object>", "</HRSC_Objects>", "</HRSC_Image>"]
    return "\n".join(lines) + "\n"


def source(bad_xml: str | bytes | None, *, bad_image: bytes | None = None, image_name: str = "bad.jpg"):
    def make(root: Path) -> None:
        (root / ANNOTATIONS).mkdir(parents=True)
        (root / IMAGES).mkdir(parents=True)
        (root / "FullDataSet" / "sysdata.xml").write_text(SYSDATA, encoding="utf-8")
        (root / IMAGES / "good.jpg").write_bytes(image_bytes())
        (root / ANNOTATIONS / "good.xml").write_text(hrsc_xml("good"), encoding="utf-8")
        if bad_image != b"":
            (root / IMAGES / image_name).write_bytes(image_bytes() if bad_image is None else bad_image)
        if bad_xml is not None:
            data = bad_xml if isinstance(bad_xml, bytes) else bad_xml.encode("utf-8")
            (root / ANNOTATIONS / "bad.xml").write_bytes(data)
    return make


def linked_image(root: Path) -> None:
    source(hrsc_xml(), bad_image=b"")(root)
    link_outside(root / IMAGES / "bad.jpg", outside(root), "bad.jpg", image_bytes())


def linked_annotation(root: Path) -> None:
    source(None)(root)
    link_outside(root / ANNOTATIONS / "bad.xml", outside(root), "bad.xml", hrsc_xml().encode())


XML = rf"{ANNOTATIONS}/bad\.xml"
CASES = [
    # Truncated: the document stops inside <HRSC_Object>; the parser names the line where it ran out.
    BadCase("hrsc-truncated", errors.MALFORMED_LINE, XML, r"bad\.xml:\d+:", source(hrsc_xml()[:200])),
    BadCase("hrsc-non-numeric", errors.BAD_NUMBER, XML, r"bad\.xml:8:", source(hrsc_xml(mbox=("l5", "15", "10", "6", "0")))),
    BadCase("hrsc-nan", errors.BAD_NUMBER, XML, r"bad\.xml:9:", source(hrsc_xml(mbox=("15", "nan", "10", "6", "0")))),
    BadCase("hrsc-inf", errors.BAD_NUMBER, XML, r"bad\.xml:12:", source(hrsc_xml(mbox=("15", "15", "10", "6", "inf")))),
    BadCase("hrsc-outside-image", errors.OBJECT_OUTSIDE_IMAGE, XML, r"bad\.xml:5:",
            source(hrsc_xml(mbox=("200", "200", "10", "6", "0")))),  # the image is 64 x 48
    # A zero-byte file has no line: the file is the record.
    BadCase("hrsc-empty-file", errors.EMPTY_LABEL_FILE, XML, None, source(b"")),
    BadCase("hrsc-not-utf8", errors.NOT_UTF8, XML, r"bad\.xml:2:",
            source(hrsc_xml(stem="X").encode().replace(b"<Img_FileName>X", b"<Img_FileName>" + LATIN1))),
    # The annotation file is the record; the message names the image it asks for.
    BadCase("hrsc-missing-image", errors.MISSING_IMAGE, XML, r"bad", source(hrsc_xml(), bad_image=b"")),
    # An image without annotation file: the image is the record (no line).
    BadCase("hrsc-missing-annotation", errors.MISSING_ANNOTATION, rf"{IMAGES}/bad\.jpg", None, source(None)),
    # Image errors name the image file, which is the record; images have no lines.
    BadCase("hrsc-corrupt-image", errors.CORRUPT_IMAGE, rf"{IMAGES}/bad\.jpg", None,
            source(hrsc_xml(), bad_image=corrupt_jpeg())),
    BadCase("hrsc-bomb-header", errors.IMAGE_TOO_LARGE, rf"{IMAGES}/bad\.png", None,
            source(hrsc_xml(fmt="png"), bad_image=bomb_png(), image_name="bad.png")),
    BadCase("hrsc-link-outside-image", LINK_OUTSIDE_SOURCE, rf"{IMAGES}/bad\.jpg", None, linked_image),
    BadCase("hrsc-link-outside-annotation", LINK_OUTSIDE_SOURCE, XML, None, linked_annotation),
    # A Class_ID the class table (sysdata.xml) does not list; and one the recipe's name map does not list.
    BadCase("hrsc-unknown-class-table", errors.UNKNOWN_CLASS, XML, r"bad\.xml:6:",
            source(hrsc_xml(class_id="100000099")), args=("-o", "classes=FullDataSet/sysdata.xml")),
    BadCase("hrsc-unknown-class-recipe", errors.UNKNOWN_CLASS, XML, r"bad\.xml:[56]:",
            source(hrsc_xml(class_id="100000099")), fmt=RECIPE),
    # HRSC's own traps: a rotated box without its angle; a negative width; an empty Class_ID (with a table).
    BadCase("hrsc-no-mbox-ang", errors.MALFORMED_LINE, XML, r"bad\.xml:5:",
            source(hrsc_xml(mbox=("15", "15", "10", "6", None)))),
    BadCase("hrsc-negative-width", errors.BAD_NUMBER, XML, r"bad\.xml:10:",
            source(hrsc_xml(mbox=("15", "15", "-10", "6", "0")))),
    BadCase("hrsc-empty-class-id", errors.MALFORMED_LINE, XML, r"bad\.xml:6:", source(hrsc_xml(class_id=" ")),
            args=("-o", "classes=id")),
    BadCase("hrsc-difficult-2", errors.BAD_NUMBER, XML, r"bad\.xml:7:", source(hrsc_xml(difficult="2"))),
    # Duplicate id: two annotation files with one stem are a source *layout* error (not skippable), so not here.
]
CASES = [BadCase(**{**c.__dict__, "fmt": c.fmt or "hrsc2016", "bad_record": "bad"}) for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_hrsc2016_bad_input(case, tmp_path, capsys):
    check_case(case, tmp_path, capsys)
