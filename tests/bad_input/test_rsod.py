"""RSOD bad-input table (issue 12, item 9): one good image plus one bad record per case, in the class folder
``aircraft/``. Bad object lines are line 2 of ``bad.txt`` (line 1 is a good object)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsdata import errors
from tests.bad_input.harness import LATIN1, BadCase, check_case
from tests.bad_input.paired import PairedLayout

RECIPE = str(Path(__file__).resolve().parents[2] / "recipes" / "datasets" / "rsod.yaml")
LAYOUT = PairedLayout("aircraft/JPEGImages", "aircraft/Annotation/labels", ".txt",
                      lambda stem: f"{stem}.jpg\taircraft\t11\t11\t20\t20\n")


def second(line: str) -> str:
    return LAYOUT.good("bad") + line + "\n"


LABEL, LINE = r"aircraft/Annotation/labels/bad\.txt", r"bad\.txt:2:"
CASES = [
    BadCase("rsod-truncated", errors.MALFORMED_LINE, LABEL, LINE, LAYOUT.source(second("bad.jpg\taircraft\t11\t11\t20"))),
    BadCase("rsod-non-numeric", errors.BAD_NUMBER, LABEL, LINE, LAYOUT.source(second("bad.jpg\taircraft\t11\tl1\t20\t20"))),
    BadCase("rsod-nan", errors.BAD_NUMBER, LABEL, LINE, LAYOUT.source(second("bad.jpg\taircraft\t11\t11\tnan\t20"))),
    BadCase("rsod-inf", errors.BAD_NUMBER, LABEL, LINE, LAYOUT.source(second("bad.jpg\taircraft\t11\t11\t20\tinf"))),
    BadCase("rsod-outside-image", errors.OBJECT_OUTSIDE_IMAGE, LABEL, LINE,
            LAYOUT.source(second("bad.jpg\taircraft\t101\t101\t120\t120"))),  # the image is 64 x 48
    # A zero-byte file has no line: the file is the record.
    BadCase("rsod-empty-file", errors.EMPTY_LABEL_FILE, LABEL, None, LAYOUT.source(b"")),
    BadCase("rsod-not-utf8", errors.NOT_UTF8, LABEL, LINE,
            LAYOUT.source(LAYOUT.good("bad").encode() + b"bad.jpg\t" + LATIN1 + b"\t11\t11\t20\t20\n")),
    *LAYOUT.generic_cases("rsod"),
    # With the recipe the four classes are known: another is unknown.
    BadCase("rsod-unknown-class", errors.UNKNOWN_CLASS, LABEL, LINE,
            LAYOUT.source(second("bad.jpg\thelicopter\t11\t11\t20\t20")), fmt=RECIPE),
    # RSOD's own traps: a line naming another image; a bottom-right corner left of the top-left one.
    BadCase("rsod-other-image", errors.MALFORMED_LINE, LABEL, LINE,
            LAYOUT.source(second("good.jpg\taircraft\t11\t11\t20\t20"))),
    BadCase("rsod-x2-left-of-x1", errors.BAD_NUMBER, LABEL, LINE,
            LAYOUT.source(second("bad.jpg\taircraft\t30\t11\t20\t20"))),
    # Duplicate id: one stem in two class folders is a source *layout* error (not skippable), so not here.
]
CASES = [BadCase(**{**c.__dict__, "fmt": c.fmt or "rsod", "bad_record": "bad"}) for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_rsod_bad_input(case, tmp_path, capsys):
    check_case(case, tmp_path, capsys)
