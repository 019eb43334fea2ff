"""AU-AIR bad-input table: one annotations.json for every frame, so a record is named by its place in the file
(``annotations[1]``, ``annotations[1].bbox[0]``), never by a line (the file is usually a single line)."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from rsdata import errors
from tests.bad_input.harness import (
    LINK_OUTSIDE_SOURCE,
    BadCase,
    bomb_png,
    check_case,
    corrupt_jpeg,
    image_bytes,
    link_outside,
    outside,
)
from tests.bad_input.nonbox_sources import check_stops_build

GOOD, BAD = "frame_0.jpg", "frame_1.jpg"


def box(**fields) -> dict:
    return {"top": 5, "left": 10, "height": 20, "width": 30, "class": 1, **fields}


def record(name: str | None, boxes: list, **fields) -> dict:
    named = {} if name is None else {"image_name": name}
    return {**named, "image_width": 64.0, "image_height": 48.0, "bbox": boxes, **fields}


def source(bad: dict | None = None, *, text: str | None = None, bad_image: bytes | None = None,
           bad_image_name: str = BAD, extra: list | None = None):
    """``make`` for one source: record 0 is the good frame, record 1 the bad one (``bad``, default a good record of
    ``bad_image_name``), ``extra`` records after it; ``text`` replaces the whole JSON (for NaN and Infinity, which
    only Python's json writes unquoted); ``bad_image`` is the bad frame's file (None: a good JPEG; b"": none)."""
    def make(root: Path) -> None:
        (root / "images").mkdir()
        (root / "images" / GOOD).write_bytes(image_bytes())
        if bad_image != b"":
            (root / "images" / bad_image_name).write_bytes(image_bytes() if bad_image is None else bad_image)
        records = [record(GOOD, [box()]), bad if bad is not None else record(bad_image_name, [box()]),
                   *(extra or [])]
        document = {"categories": ["Human", "Car", "Truck", "Van", "Motorbike", "Bicycle", "Bus", "Trailer"],
                    "annotations": records}
        (root / "annotations.json").write_text(text if text is not None else json.dumps(document), encoding="utf-8")
    return make


def _linked_frame(root: Path) -> None:
    source()(root)
    (root / "images" / BAD).unlink()
    link_outside(root / "images" / BAD, outside(root), BAD, image_bytes())


def _nan_source(root: Path) -> None:
    source()(root)
    path = root / "annotations.json"
    # json.dumps writes float("nan") as the bare token NaN, as some writers do; the reader must not take it
    document = json.loads(path.read_text(encoding="utf-8"))
    document["annotations"][1]["bbox"][0]["left"] = float("nan")
    path.write_text(json.dumps(document), encoding="utf-8")


def _infinite_source(root: Path) -> None:
    source()(root)
    path = root / "annotations.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    document["annotations"][1]["bbox"][0]["width"] = float("inf")
    path.write_text(json.dumps(document), encoding="utf-8")


JSON = r"annotations\.json"
RECORD = r"annotations\[1\]"
BOX = r"annotations\[1\]\.bbox\[0\]"
FRAME = r"frame_1\.(jpg|png)"

CASES = [
    # Generic cases. "Truncated line": a box cut short (a JSON file cut short is not valid JSON, which stops the
    # whole listing: every record shares the file; see test_whole_file_errors_stop_the_build).
    BadCase("auair-truncated-box", errors.MALFORMED_LINE, JSON, BOX,
            source(record(BAD, [{"top": 5, "left": 10, "height": 20}]))),
    BadCase("auair-non-numeric", errors.BAD_NUMBER, JSON, BOX + r"\.top", source(record(BAD, [box(top="ten")]))),
    BadCase("auair-nan", errors.BAD_NUMBER, JSON, BOX + r"\.left", _nan_source),
    BadCase("auair-inf", errors.BAD_NUMBER, JSON, BOX + r"\.width", _infinite_source),
    BadCase("auair-out-of-image", errors.OBJECT_OUTSIDE_IMAGE, JSON, BOX,
            source(record(BAD, [box(left=5000, top=4000)]))),
    # "Empty file" and "non-UTF-8" are whole-file errors here (one JSON holds every record): see
    # test_whole_file_errors_stop_the_build. In their place, two traps of the format's own (below).
    BadCase("auair-missing-image", errors.MISSING_IMAGE, JSON, RECORD, source(bad_image=b"")),
    # The image file is the record: the message names it, and there is no line or record inside it.
    BadCase("auair-corrupt-image", errors.CORRUPT_IMAGE, FRAME, None, source(bad_image=corrupt_jpeg())),
    BadCase("auair-unknown-class", errors.UNKNOWN_CLASS, JSON, BOX + r"\.class", source(record(BAD, [box(**{
        "class": 8})]))),
    BadCase("auair-duplicate-id", errors.MALFORMED_LINE, JSON, r"annotations\[1\], annotations\[2\]",
            source(extra=[record(BAD, [box(left=1)])])),
    BadCase("auair-link-out", LINK_OUTSIDE_SOURCE, FRAME, None, _linked_frame),
    BadCase("auair-bomb", errors.IMAGE_TOO_LARGE, FRAME, None,
            source(record("frame_1.png", [box()]), bad_image=bomb_png(), bad_image_name="frame_1.png")),
    # The format's own traps.
    BadCase("auair-dotdot-name", errors.MALFORMED_LINE, JSON, RECORD + r".*\.\./",
            source(record("../frame_1.jpg", [box()]), bad_image=b"")),
    BadCase("auair-missing-image-name", errors.MALFORMED_LINE, JSON, RECORD + r".*image_name",
            source(record(None, [box()]), bad_image=b"")),
    BadCase("auair-negative-width", errors.BAD_NUMBER, JSON, BOX, source(record(BAD, [box(width=-3)]))),
    BadCase("auair-zero-declared-width", errors.BAD_NUMBER, JSON, RECORD + r"\.image_width",
            source(record(BAD, [box()], image_width=0))),
    BadCase("auair-bbox-not-a-list", errors.MALFORMED_LINE, JSON, RECORD + r"\.bbox",
            source(record(BAD, {"top": 5}))),
    BadCase("auair-class-as-name", errors.BAD_NUMBER, JSON, BOX + r"\.class",
            source(record(BAD, [box(**{"class": "Car"})]))),
]
CASES = [replace(case, fmt="auair", bad_record=r"frame_1") for case in CASES]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: BadCase, tmp_path, capsys):
    check_case(case, tmp_path, capsys)


def _empty_file(root: Path) -> None:
    source()(root)
    (root / "annotations.json").write_bytes(b"")


def _latin1_file(root: Path) -> None:
    source()(root)
    path = root / "annotations.json"
    # a Latin-1 category name on the file's second line
    path.write_bytes(path.read_bytes().replace(b'"Trailer"]', b'"Trailer", "Caf\xe9"]').replace(b', "annotations"',
                                                                                              b',\n"annotations"'))


def _truncated_file(root: Path) -> None:
    source()(root)
    path = root / "annotations.json"
    path.write_bytes(path.read_bytes()[:-40])


# One file holds every record, so a file that cannot be read at all stops the build in either --on-error mode.
WHOLE_FILE = [
    BadCase("auair-empty-file", errors.EMPTY_LABEL_FILE, JSON, None, _empty_file),  # no line in an empty file
    BadCase("auair-non-utf8", errors.NOT_UTF8, JSON, r"annotations\.json:1\b", _latin1_file),
    BadCase("auair-truncated-file", errors.MALFORMED_LINE, JSON, r"annotations\.json:1\b", _truncated_file),
]
WHOLE_FILE = [replace(case, fmt="auair") for case in WHOLE_FILE]


@pytest.mark.parametrize("case", WHOLE_FILE, ids=[c.id for c in WHOLE_FILE])
def test_whole_file_errors_stop_the_build(case: BadCase, tmp_path, capsys):
    check_stops_build(case, tmp_path, capsys)
