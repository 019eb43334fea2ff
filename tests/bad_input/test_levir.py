"""LEVIR bad-input table (issue 12, item 9): one good image plus one bad record per case; images and labels share
``imageWithLabel/``. Bad object lines are line 2 of ``bad.txt`` (line 1 is a good object)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsdata import errors
from tests.bad_input.harness import LATIN1, BadCase, check_case
from tests.bad_input.paired import PairedLayout

RECIPE = str(Path(__file__).resolve().parents[2] / "recipes" / "datasets" / "levir.yaml")
LAYOUT = PairedLayout("imageWithLabel", "imageWithLabel", ".txt", lambda stem: "1 11 11 20 20\n")


def second(line: str) -> str:
    return LAYOUT.good("bad") + line + "\n"


LABEL, LINE = r"imageWithLabel/bad\.txt", r"bad\.txt:2:"
CASES = [
    BadCase("levir-truncated", errors.MALFORMED_LINE, LABEL, LINE, LAYOUT.source(second("1 11 11 20"))),
    BadCase("levir-non-numeric", errors.BAD_NUMBER, LABEL, LINE, LAYOUT.source(second("1 11 1l 20 20"))),
    BadCase("levir-nan", errors.BAD_NUMBER, LABEL, LINE, LAYOUT.source(second("1 11 11 nan 20"))),
    BadCase("levir-inf", errors.BAD_NUMBER, LABEL, LINE, LAYOUT.source(second("1 11 11 20 -inf"))),
    BadCase("levir-outside-image", errors.OBJECT_OUTSIDE_IMAGE, LABEL, LINE,
            LAYOUT.source(second("1 100 100 120 120"))),  # the image is 64 x 48
    # An empty label file is valid LEVIR (an image without targets: no_objects), so it is no bad case here.
    BadCase("levir-not-utf8", errors.NOT_UTF8, LABEL, LINE,
            LAYOUT.source(LAYOUT.good("bad").encode() + b"1 11 11 20 20 " + LATIN1 + b"\n")),
    *LAYOUT.generic_cases("levir"),
    # Classes are 1 plane, 2 ship, 3 oil tank.
    BadCase("levir-unknown-class", errors.UNKNOWN_CLASS, LABEL, LINE, LAYOUT.source(second("4 11 11 20 20"))),
    BadCase("levir-unknown-class-recipe", errors.UNKNOWN_CLASS, LABEL, LINE, LAYOUT.source(second("0 11 11 20 20")),
            fmt=RECIPE),
    # LEVIR's own traps: six fields; x2 left of x1; commas instead of spaces (one field).
    BadCase("levir-six-fields", errors.MALFORMED_LINE, LABEL, LINE, LAYOUT.source(second("1 11 11 20 20 0"))),
    BadCase("levir-x2-left-of-x1", errors.BAD_NUMBER, LABEL, LINE, LAYOUT.source(second("2 30 11 20 20"))),
    BadCase("levir-comma-separated", errors.MALFORMED_LINE, LABEL, LINE, LAYOUT.source(second("1,11,11,20,20"))),
]
CASES = [BadCase(**{**c.__dict__, "fmt": c.fmt or "levir", "bad_record": "bad"}) for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_levir_bad_input(case, tmp_path, capsys):
    check_case(case, tmp_path, capsys)
