"""Human-captioned sets (rs_captions) bad-input table, both layouts: Karpathy JSON records are named by their place
(``images[1]``), precomp caption lines by file and line. Captions are text: the box traps (NaN, out-of-image,
unknown class) have no meaning here and are replaced by the format's own."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

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
from rsdata import errors

CAPTIONS = ["many planes are parked next to a long runway .", "a runway with planes beside it .",
            "planes park near the terminal .", "an airport with several planes .", "the airport is busy ."]


def sentences(captions=CAPTIONS) -> list[dict]:
    return [{"raw": text, "tokens": text.split()} for text in captions]


def image_record(filename: str, **fields) -> dict:
    return {"filename": filename, "split": "train", "sentences": sentences(), **fields}


def karpathy(bad: dict | None = None, *, image: bytes | None = None, image_name: str = "b.jpg",
             extra: list | None = None, text: bytes | None = None):
    """``make`` for ``dataset_rsicd.json``: images[0] the good a.jpg, images[1] ``bad`` (default a good record of
    ``image_name``), ``extra`` after; ``image`` the bad image's bytes (None a good JPEG, b"" none); ``text``
    replaces the whole JSON."""
    def make(root: Path) -> None:
        write(root / "images" / "a.jpg", image_bytes())
        if image != b"":
            write(root / "images" / image_name, image_bytes() if image is None else image)
        records = [image_record("a.jpg"), bad if bad is not None else image_record(image_name), *(extra or [])]
        write(root / "dataset_rsicd.json", text if text is not None else json.dumps({"images": records}))
    return make


def precomp(caps: list[str] | None = None, names: list[str] | None = None, *, image: bytes | None = None,
            caps_bytes: bytes | None = None):
    """``make`` for ``train_caps.txt`` + ``train_filename.txt``: lines 1-5 describe a.jpg, 6-10 b.jpg (``caps`` /
    ``names`` replace the lines, ``caps_bytes`` the caps file); ``image`` is b.jpg's bytes (None good, b"" none)."""
    def make(root: Path) -> None:
        write(root / "images" / "a.jpg", image_bytes())
        if image != b"":
            write(root / "images" / "b.jpg", image_bytes() if image is None else image)
        lines = caps if caps is not None else CAPTIONS * 2
        write(root / "train_caps.txt", caps_bytes if caps_bytes is not None else "\n".join(lines) + "\n")
        write(root / "train_filename.txt", "\n".join(names if names is not None else ["a.jpg"] * 5 + ["b.jpg"] * 5)
              + "\n")
    return make


def _linked_image(root: Path) -> None:
    karpathy(image=b"")(root)
    link_outside(root / "images" / "b.jpg", outside(root), "b.jpg", image_bytes())


JSON = r"dataset_rsicd\.json"
CAPS = r"train_caps\.txt"
RECORD = r"images\[1\]"
IMAGE = r"images/b\.(jpg|png)"
WITH_EMPTY_LINE = CAPTIONS + CAPTIONS[:2] + [""] + CAPTIONS[3:]

CASES = [
    # "Truncated line": a caption line cut to nothing (precomp), a sentence cut before its text (JSON).
    BadCase("rs_captions-precomp-empty-caption-line", errors.MALFORMED_LINE, CAPS, r"train_caps\.txt:8\b",
            precomp(WITH_EMPTY_LINE)),
    BadCase("rs_captions-json-sentence-without-raw", errors.MALFORMED_LINE, JSON, RECORD + r".*sentences\[2\]",
            karpathy(image_record("b.jpg", sentences=sentences()[:2] + [{"tokens": ["a"]}]))),
    # "Non-numeric": a caption that is a number, not text.
    BadCase("rs_captions-json-raw-is-a-number", errors.MALFORMED_LINE, JSON, RECORD + r".*sentences\[0\]",
            karpathy(image_record("b.jpg", sentences=[{"raw": 5}]))),
    BadCase("rs_captions-json-empty-raw", errors.MALFORMED_LINE, JSON, RECORD + r".*sentences\[1\]",
            karpathy(image_record("b.jpg", sentences=sentences(["a plane .", "   "])))),
    # "NaN/inf", "out-of-image box", "unknown class": captions carry no numbers, boxes or classes. In their place,
    # the format's own traps: sentences given as a string, and an empty list.
    BadCase("rs_captions-json-sentences-as-string", errors.MALFORMED_LINE, JSON, RECORD + r".*sentences",
            karpathy(image_record("b.jpg", sentences="many planes are parked next to a long runway ."))),
    BadCase("rs_captions-json-no-sentences", errors.MALFORMED_LINE, JSON, RECORD + r".*sentences",
            karpathy(image_record("b.jpg", sentences=[]))),
    # "Empty file" and "non-UTF-8" stop the whole listing (every record shares the file): see
    # test_whole_source_errors_stop_the_build.
    BadCase("rs_captions-json-missing-image", errors.MISSING_IMAGE, JSON, RECORD, karpathy(image=b"")),
    BadCase("rs_captions-precomp-missing-image", errors.MISSING_IMAGE, CAPS, r"train_caps\.txt:6\b",
            precomp(image=b"")),
    # The image file is the record: there is no line or record in it to name.
    BadCase("rs_captions-json-corrupt-image", errors.CORRUPT_IMAGE, IMAGE, None, karpathy(image=corrupt_jpeg())),
    BadCase("rs_captions-precomp-corrupt-image", errors.CORRUPT_IMAGE, IMAGE, None, precomp(image=corrupt_jpeg())),
    # "Duplicate id": an image listed twice in one split (Karpathy; in precomp an image named again further down
    # only gets more captions, as published).
    BadCase("rs_captions-json-image-listed-twice", errors.MALFORMED_LINE, JSON, r"images\[2\]",
            karpathy(extra=[image_record("b.jpg", sentences=sentences(["another caption ."]))])),
    BadCase("rs_captions-json-link-out", LINK_OUTSIDE_SOURCE, IMAGE, None, _linked_image),
    BadCase("rs_captions-json-bomb", errors.IMAGE_TOO_LARGE, IMAGE, None, karpathy(image=bomb_png(),
                                                                                    image_name="b.png")),
    BadCase("rs_captions-json-dotdot-filename", errors.MALFORMED_LINE, JSON, RECORD + r".*\.\./b\.jpg",
            karpathy(image_record("../b.jpg"), image=b"")),
]
CASES = [replace(case, fmt="rs_captions", bad_record=r"(^|/)b\.") for case in CASES]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: BadCase, tmp_path, capsys):
    check_case(case, tmp_path, capsys)


def _empty_caps(root: Path) -> None:
    precomp()(root)
    write(root / "train_caps.txt", b"")
    write(root / "train_filename.txt", b"")


# Errors in what every record shares (the caption file, a line of the filename file that pairs all later lines):
# SourceLayoutError, which has no reason slug and no skip; the build stops in either --on-error mode.
WHOLE_SOURCE = [
    BadCase("rs_captions-precomp-line-counts-differ", "", CAPS, r"10 caption line\(s\).*train_filename\.txt names 9",
            precomp(names=["a.jpg"] * 5 + ["b.jpg"] * 4)),
    BadCase("rs_captions-precomp-non-utf8", errors.NOT_UTF8, CAPS, r"train_caps\.txt:7\b",
            precomp(caps_bytes=("\n".join(CAPTIONS) + "\nan airport\n").encode() + LATIN1 + b"\n" +
                    ("\n".join(CAPTIONS[2:]) + "\n").encode())),
    BadCase("rs_captions-precomp-empty-files", "", CAPS, None, _empty_caps),  # no line in an empty file
    BadCase("rs_captions-precomp-empty-filename-line", "", r"train_filename\.txt", r"train_filename\.txt:7\b",
            precomp(names=["a.jpg"] * 5 + ["b.jpg", ""] + ["b.jpg"] * 3)),
    BadCase("rs_captions-json-truncated-file", "", JSON, r"dataset_rsicd\.json:1\b",
            karpathy(text=json.dumps({"images": [image_record("a.jpg"), image_record("b.jpg")]})[:-30].encode())),
    BadCase("rs_captions-json-record-without-split", "", JSON, RECORD + r".*'split'",
            karpathy({"filename": "b.jpg", "sentences": sentences()})),
]
WHOLE_SOURCE = [replace(case, fmt="rs_captions") for case in WHOLE_SOURCE]


@pytest.mark.parametrize("case", WHOLE_SOURCE, ids=[c.id for c in WHOLE_SOURCE])
def test_whole_source_errors_stop_the_build(case: BadCase, tmp_path, capsys):
    check_stops_build(case, tmp_path, capsys)
