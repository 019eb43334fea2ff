"""NWPU VHR-10 bad-input table (issue 12, item 9): one good image plus one bad record per case. Bad box lines are
line 2 of ``ground truth/bad.txt`` (line 1 is a good box)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsdata import errors
from tests.bad_input.harness import LATIN1, BadCase, check_case
from tests.bad_input.paired import PairedLayout

RECIPE = str(Path(__file__).resolve().parents[2] / "recipes" / "datasets" / "nwpu_vhr10.yaml")
LAYOUT = PairedLayout("positive image set", "ground truth", ".txt", lambda stem: "(11,11),(20,20),1\n")


def second(line: str) -> str:
    return LAYOUT.good("bad") + line + "\n"


LABEL, LINE = r"ground truth/bad\.txt", r"bad\.txt:2:"
CASES = [
    BadCase("nwpu-truncated", errors.MALFORMED_LINE, LABEL, LINE, LAYOUT.source(second("(11,11),(20,2"))),
    BadCase("nwpu-non-numeric", errors.BAD_NUMBER, LABEL, LINE, LAYOUT.source(second("(11,1l),(20,20),1"))),
    BadCase("nwpu-nan", errors.BAD_NUMBER, LABEL, LINE, LAYOUT.source(second("(11,11),(nan,20),1"))),
    BadCase("nwpu-inf", errors.BAD_NUMBER, LABEL, LINE, LAYOUT.source(second("(11,11),(20,inf),1"))),
    BadCase("nwpu-outside-image", errors.OBJECT_OUTSIDE_IMAGE, LABEL, LINE,
            LAYOUT.source(second("(100,100),(120,120),1"))),  # the image is 64 x 48
    # A zero-byte file has no line: the file is the record.
    BadCase("nwpu-empty-file", errors.EMPTY_LABEL_FILE, LABEL, None, LAYOUT.source(b"")),
    BadCase("nwpu-not-utf8", errors.NOT_UTF8, LABEL, LINE,
            LAYOUT.source(LAYOUT.good("bad").encode() + b"(11,11),(20,20)," + LATIN1 + b"\n")),
    *LAYOUT.generic_cases("nwpu"),
    # Class ids are 1-10 (the readme's table): 11 is no class.
    BadCase("nwpu-unknown-class", errors.UNKNOWN_CLASS, LABEL, LINE, LAYOUT.source(second("(11,11),(20,20),11"))),
    BadCase("nwpu-unknown-class-recipe", errors.UNKNOWN_CLASS, LABEL, LINE,
            LAYOUT.source(second("(11,11),(20,20),0")), fmt=RECIPE),
    # NWPU's own traps: a line without its parentheses; a bottom-right corner above the top-left one.
    BadCase("nwpu-no-parentheses", errors.MALFORMED_LINE, LABEL, LINE, LAYOUT.source(second("11,11,20,20,1"))),
    BadCase("nwpu-y2-above-y1", errors.BAD_NUMBER, LABEL, LINE, LAYOUT.source(second("(11,30),(20,20),1"))),
]
CASES = [BadCase(**{**c.__dict__, "fmt": c.fmt or "nwpu_vhr10", "bad_record": "bad"}) for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_nwpu_vhr10_bad_input(case, tmp_path, capsys):
    check_case(case, tmp_path, capsys)
