"""CARPK / PUCPR+ bad-input table (issue 12, item 9): one good image plus one bad record per case, in the
devkit's ``data/`` folder. Bad box lines are line 2 of ``data/Annotations/bad.txt`` (line 1 is a good car)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsdata import errors
from tests.bad_input.harness import LATIN1, BadCase, check_case
from tests.bad_input.paired import PairedLayout

RECIPE = str(Path(__file__).resolve().parents[2] / "recipes" / "datasets" / "carpk.yaml")
LAYOUT = PairedLayout("data/Images", "data/Annotations", ".txt", lambda stem: "11 11 20 20 1\n")


def second(line: str) -> str:
    return LAYOUT.good("bad") + line + "\n"


def listed(*stems: str):
    def extra(root: Path) -> None:
        (root / "data" / "ImageSets").mkdir()
        (root / "data" / "ImageSets" / "train.txt").write_text("\n".join(stems), encoding="utf-8")
    return extra


LABEL, LINE = r"data/Annotations/bad\.txt", r"bad\.txt:2:"
CASES = [
    BadCase("carpk-truncated", errors.MALFORMED_LINE, LABEL, LINE, LAYOUT.source(second("11 11 20"))),
    BadCase("carpk-non-numeric", errors.BAD_NUMBER, LABEL, LINE, LAYOUT.source(second("11 1l 20 20 1"))),
    BadCase("carpk-nan", errors.BAD_NUMBER, LABEL, LINE, LAYOUT.source(second("11 11 NaN 20 1"))),
    BadCase("carpk-inf", errors.BAD_NUMBER, LABEL, LINE, LAYOUT.source(second("11 11 20 Infinity 1"))),
    BadCase("carpk-outside-image", errors.OBJECT_OUTSIDE_IMAGE, LABEL, LINE,
            LAYOUT.source(second("100 100 120 120 1"))),  # the image is 64 x 48
    # An empty annotation file is valid CARPK (no_objects), so it is no bad case here.
    BadCase("carpk-not-utf8", errors.NOT_UTF8, LABEL, LINE,
            LAYOUT.source(LAYOUT.good("bad").encode() + b"11 11 20 20 " + LATIN1 + b"\n")),
    *LAYOUT.generic_cases("carpk"),
    # The only class is 1 (car).
    BadCase("carpk-unknown-class", errors.UNKNOWN_CLASS, LABEL, LINE, LAYOUT.source(second("11 11 20 20 2"))),
    BadCase("carpk-unknown-class-recipe", errors.UNKNOWN_CLASS, LABEL, LINE, LAYOUT.source(second("11 11 20 20 0")),
            fmt=RECIPE),
    # CARPK's own traps: a stem on the split list with neither file (the list is the record: its line 2);
    # inclusive corners with x2 < x1.
    BadCase("carpk-listed-ghost", errors.MISSING_IMAGE, r"bad", None,
            LAYOUT.source(None, bad_image=b"", extra=listed("good", "bad"))),
    BadCase("carpk-x2-left-of-x1", errors.BAD_NUMBER, LABEL, LINE, LAYOUT.source(second("30 11 20 20 1"))),
]
CASES = [BadCase(**{**c.__dict__, "fmt": c.fmt or "carpk", "bad_record": "bad"}) for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_carpk_bad_input(case, tmp_path, capsys):
    check_case(case, tmp_path, capsys)
