"""COCO bad-input table (issue 12, item 9): a good image (id 1, ``images/good.jpg``) plus one bad record per case.

A COCO file is one JSON document: its "line" is the 1-based position of the annotation in ``annotations``
(``file.json:2``), and image entries are named by position and id (``images[1]``). Whole-file problems (truncated
JSON, an empty file, bytes that are not UTF-8) are *layout* errors that stop every split, not skippable records,
so they are not in this table."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rsdata import errors
from tests.bad_input.harness import (
    LINK_OUTSIDE_SOURCE, BadCase, bomb_png, check_case, corrupt_jpeg, image_bytes, link_outside, outside,
)

CATEGORIES = [{"id": 1, "name": "plane"}]


def coco(bad_images: list | None = None, bad_annotation: dict | None = None, *, file_name: str = "bad.jpg",
         bad_image: bytes | None = None, link: bool = False):
    """``make`` for a source whose JSON lists the good image (id 1, annotation #1) and a bad image (id 2, file
    ``file_name``, annotation #2 = ``bad_annotation`` or a good box); ``bad_images`` replaces the bad image entry
    list; ``bad_image`` the bad file's bytes (None: a good JPEG, b"": none); ``link``: the bad file is a link to
    a file outside the source."""
    def make(root: Path) -> None:
        (root / "annotations").mkdir()
        (root / "images").mkdir()
        (root / "images" / "good.jpg").write_bytes(image_bytes())
        if link:
            link_outside(root / "images" / file_name, outside(root), file_name, image_bytes())
        elif bad_image != b"":
            (root / "images" / file_name).write_bytes(image_bytes() if bad_image is None else bad_image)
        images = [{"id": 1, "file_name": "good.jpg", "width": 64, "height": 48}]
        images += bad_images if bad_images is not None else [{"id": 2, "file_name": file_name}]
        annotations = [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 10, 9, 9], "iscrowd": 0}]
        annotations.append(bad_annotation if bad_annotation is not None else
                           {"id": 2, "image_id": 2, "category_id": 1, "bbox": [10, 10, 9, 9], "iscrowd": 0})
        data = {"images": images, "annotations": annotations, "categories": CATEGORIES}
        # allow_nan: Python's json writes NaN/Infinity, which many COCO tools read back.
        (root / "annotations" / "instances_train.json").write_text(json.dumps(data, allow_nan=True), encoding="utf-8")
    return make


def ann(**changes) -> dict:
    return {"id": 2, "image_id": 2, "category_id": 1, "bbox": [10, 10, 9, 9], "iscrowd": 0, **changes}


JSON, ANN2 = r"annotations/instances_train\.json", r"instances_train\.json:2:"
CASES = [
    BadCase("coco-bbox-three-numbers", errors.MALFORMED_LINE, JSON, ANN2, coco(bad_annotation=ann(bbox=[10, 10, 9]))),
    BadCase("coco-non-numeric", errors.BAD_NUMBER, JSON, ANN2, coco(bad_annotation=ann(bbox=[10, "1O", 9, 9]))),
    BadCase("coco-nan", errors.BAD_NUMBER, JSON, ANN2, coco(bad_annotation=ann(bbox=[10, 10, float("nan"), 9]))),
    BadCase("coco-inf", errors.BAD_NUMBER, JSON, ANN2, coco(bad_annotation=ann(bbox=[10, 10, 9, float("inf")]))),
    BadCase("coco-outside-image", errors.OBJECT_OUTSIDE_IMAGE, JSON, ANN2,
            coco(bad_annotation=ann(bbox=[100, 100, 9, 9]))),  # the image is 64 x 48
    # The image entry is the record: named by its position in 'images' and its id.
    BadCase("coco-missing-image", errors.MISSING_IMAGE, JSON, r"images\[1\].*id 2", coco(bad_image=b"")),
    # Image errors name the image file, which is the record; images have no lines.
    BadCase("coco-corrupt-image", errors.CORRUPT_IMAGE, r"images/bad\.jpg", None, coco(bad_image=corrupt_jpeg())),
    BadCase("coco-bomb-header", errors.IMAGE_TOO_LARGE, r"images/bad\.png", None,
            coco(file_name="bad.png", bad_image=bomb_png())),
    BadCase("coco-link-outside-image", LINK_OUTSIDE_SOURCE, r"images/bad\.jpg", None, coco(link=True)),
    # category_id not in 'categories'.
    BadCase("coco-unknown-category", errors.UNKNOWN_CLASS, JSON, ANN2, coco(bad_annotation=ann(category_id=9))),
    # COCO's own traps: a duplicated image id (both entries are one record, id 2); an annotation on an image id
    # no entry has (the orphan annotations are one record); a file_name leading out of the image folder; a
    # negative width; an annotation with neither bbox nor segmentation; a missing category_id.
    BadCase("coco-duplicate-image-id", errors.MALFORMED_LINE, JSON, r"images\[1\].*images\[2\]",
            coco(bad_images=[{"id": 2, "file_name": "bad.jpg"}, {"id": 2, "file_name": "bad.jpg"}])),
    BadCase("coco-annotation-unknown-image", errors.MISSING_IMAGE, JSON, ANN2,
            coco(bad_images=[], bad_annotation=ann(image_id=7))),
    BadCase("coco-file-name-dotdot", errors.MALFORMED_LINE, JSON, r"images\[1\].*id 2",
            coco(bad_images=[{"id": 2, "file_name": "../bad.jpg"}])),
    BadCase("coco-negative-width", errors.BAD_NUMBER, JSON, ANN2, coco(bad_annotation=ann(bbox=[10, 10, -9, 9]))),
    BadCase("coco-no-geometry", errors.MALFORMED_LINE, JSON, ANN2, coco(bad_annotation=ann(bbox=None))),
    BadCase("coco-no-category-id", errors.MALFORMED_LINE, JSON, ANN2,
            coco(bad_annotation={k: v for k, v in ann().items() if k != "category_id"})),
]
CASES = [BadCase(**{**c.__dict__, "fmt": c.fmt or "coco", "bad_record": r"^2$|^7$|bad"}) for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_coco_bad_input(case, tmp_path, capsys):
    check_case(case, tmp_path, capsys)
