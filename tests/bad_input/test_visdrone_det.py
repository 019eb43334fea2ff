"""VisDrone-DET bad-input table (issue 12, item 9): one good image plus one bad record per case, in one split
folder (``images/`` + ``annotations/``). Bad rows are line 2 of ``annotations/bad.txt`` (line 1 is a good car)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsdata import errors
from tests.bad_input.harness import LATIN1, BadCase, check_case
from tests.bad_input.paired import PairedLayout

RECIPE = str(Path(__file__).resolve().parents[2] / "recipes" / "datasets" / "visdrone.yaml")
LAYOUT = PairedLayout("images", "annotations", ".txt", lambda stem: "11,11,9,9,1,4,0,0\n")


def second(line: str) -> str:
    return LAYOUT.good("bad") + line + "\n"


LABEL, LINE = r"annotations/bad\.txt", r"bad\.txt:2:"
CASES = [
    BadCase("visdrone-truncated", errors.MALFORMED_LINE, LABEL, LINE, LAYOUT.source(second("11,11,9,9,1"))),
    BadCase("visdrone-non-numeric", errors.BAD_NUMBER, LABEL, LINE, LAYOUT.source(second("11,1l,9,9,1,4,0,0"))),
    BadCase("visdrone-nan", errors.BAD_NUMBER, LABEL, LINE, LAYOUT.source(second("11,11,nan,9,1,4,0,0"))),
    BadCase("visdrone-inf", errors.BAD_NUMBER, LABEL, LINE, LAYOUT.source(second("11,11,9,inf,1,4,0,0"))),
    BadCase("visdrone-outside-image", errors.OBJECT_OUTSIDE_IMAGE, LABEL, LINE,
            LAYOUT.source(second("100,100,9,9,1,4,0,0"))),  # the image is 64 x 48
    # An empty annotation file is valid VisDrone (no_objects), so it is no bad case here.
    BadCase("visdrone-not-utf8", errors.NOT_UTF8, LABEL, LINE,
            LAYOUT.source(LAYOUT.good("bad").encode() + b"11,11,9,9,1,4,0," + LATIN1 + b"\n")),
    *LAYOUT.generic_cases("visdrone"),
    # Classes are 0-11: 12 is none of them.
    BadCase("visdrone-unknown-class", errors.UNKNOWN_CLASS, LABEL, LINE, LAYOUT.source(second("11,11,9,9,1,12,0,0"))),
    BadCase("visdrone-unknown-class-recipe", errors.UNKNOWN_CLASS, LABEL, LINE,
            LAYOUT.source(second("11,11,9,9,1,-1,0,0")), fmt=RECIPE),
    # VisDrone's own traps: a score other than 0/1; a negative width; a truncation that is not an integer.
    BadCase("visdrone-score-2", errors.BAD_NUMBER, LABEL, LINE, LAYOUT.source(second("11,11,9,9,2,4,0,0"))),
    BadCase("visdrone-negative-width", errors.BAD_NUMBER, LABEL, LINE, LAYOUT.source(second("11,11,-9,9,1,4,0,0"))),
    BadCase("visdrone-truncation-float", errors.BAD_NUMBER, LABEL, LINE,
            LAYOUT.source(second("11,11,9,9,1,4,0.5,0"))),
]
CASES = [BadCase(**{**c.__dict__, "fmt": c.fmt or "visdrone_det", "bad_record": "bad"}) for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_visdrone_det_bad_input(case, tmp_path, capsys):
    check_case(case, tmp_path, capsys)
