"""Record errors carry the reason that names the real problem, across formats (issue 12, "Vocabulary and reasons"):
a class id that the class table does not list is ``unknown_class`` (a value that is not a number stays
``bad_number``), and an unreadable mask is ``corrupt_image``. Driven through the command line, read back from the
build report."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from rsdata.cli import main
from tests.formats.generators import (
    auair as auair_generator,
    carpk as carpk_generator,
    coco as coco_generator,
    hrsc2016 as hrsc2016_generator,
    levir as levir_generator,
    nwpu_vhr10 as nwpu_generator,
    uavdt as uavdt_generator,
    visdrone_det as visdrone_generator,
)


def _first(folder: Path, pattern: str) -> Path:
    return sorted(folder.glob(pattern))[0]


def _sub_first_line(path: Path, pattern: str, replacement: str) -> None:
    """Rewrite the first line matching ``pattern`` (a regex over the whole line) in ``path``."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    for number, line in enumerate(lines):
        if re.search(pattern, line):
            lines[number] = re.sub(pattern, replacement, line, count=1)
            break
    else:
        raise AssertionError(f"no line of {path} matches {pattern!r}")
    path.write_text("".join(lines), encoding="utf-8")


def _carpk(root: Path) -> list[str]:
    carpk_generator.write_source(root, 3)
    _sub_first_line(_first(root / "data" / "Annotations", "*.txt"), r" 1$", " 7")
    return ["carpk"]


def _nwpu(root: Path) -> list[str]:
    nwpu_generator.write_source(root, 3)
    _sub_first_line(_first(root / "ground truth", "*.txt"), r",\s*\d+(\s*)$", r",11\1")
    return ["nwpu_vhr10"]


def _levir(root: Path) -> list[str]:
    levir_generator.write_source(root, 3)
    label = next(p for p in sorted((root / "imageWithLabel").glob("*.txt")) if p.read_text().strip())
    _sub_first_line(label, r"^\d+ ", "9 ")
    return ["levir"]


def _visdrone(root: Path) -> list[str]:
    visdrone_generator.write_source(root, 3)
    label = next(p for p in sorted(root.glob("*/annotations/*.txt")) if p.read_text().strip())
    _sub_first_line(label, r"^((?:[^,]*,){5})[^,]*", r"\g<1>12")
    return ["visdrone_det"]


def _uavdt(root: Path) -> list[str]:
    uavdt_generator.write_source(root, 3)
    _sub_first_line(_first(root, "**/GT/*_gt_whole.txt"), r"^1,(.*),\d+$", r"1,\1,4")
    return ["uavdt"]


def _auair(root: Path) -> list[str]:
    auair_generator.write_source(root, 3)
    path = root / "auair2019annotations" / "annotations.json"
    document = json.loads(path.read_text(encoding="utf-8"))
    next(record for record in document["annotations"] if record["bbox"])["bbox"][0]["class"] = 99
    path.write_text(json.dumps(document), encoding="utf-8")
    return ["auair"]


def _coco(root: Path) -> list[str]:
    coco_generator.write_source(root, 5)
    path = root / "annotations" / "instances_train.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    annotation = next(a for a in data["annotations"] if not a.get("iscrowd") and not a.get("ignore"))
    annotation["category_id"] = 999
    path.write_text(json.dumps(data), encoding="utf-8")
    return ["coco"]


def _hrsc2016(root: Path) -> list[str]:
    hrsc2016_generator.write_source(root, 3)
    _sub_first_line(_first(root / "FullDataSet" / "Annotations", "*.xml"), r"<Class_ID>\d+</Class_ID>",
                    "<Class_ID>100000099</Class_ID>")
    return ["hrsc2016", "-o", "classes=FullDataSet/sysdata.xml"]


UNKNOWN_IDS = {"carpk": _carpk, "nwpu_vhr10": _nwpu, "levir": _levir, "visdrone_det": _visdrone, "uavdt": _uavdt,
               "auair": _auair, "coco": _coco, "hrsc2016": _hrsc2016}


@pytest.mark.parametrize("name", list(UNKNOWN_IDS))
def test_a_numeric_class_id_outside_the_class_table_is_unknown_class(tmp_path, name, capsys):
    source, out = tmp_path / "src", tmp_path / "out"
    format_and_options = UNKNOWN_IDS[name](source)
    fmt, options = format_and_options[0], format_and_options[1:]
    assert main(["convert", fmt, str(source), str(out), *options, "--no-progress"]) == 1
    error = capsys.readouterr().err
    assert "under unknown_class)" in error, error
    assert main(["convert", fmt, str(source), str(out), *options, "--on-error", "skip", "--no-progress",
                 "--overwrite"]) == 0
    report = json.loads((out / "build_report.json").read_text())
    assert report["skipped_per_reason"].get("unknown_class", 0) >= 1, report["skipped_per_reason"]
    assert "bad_number" not in report["skipped_per_reason"]


def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def _index_mask(root: Path) -> list[str]:
    from tests.formats.generators import index_mask

    index_mask.write_source(root, 2)
    _truncate(_first(root / "ann_dir", "*.png"))
    return ["index_mask", "-o", "classes=loveda"]


def _rgb_mask(root: Path) -> list[str]:
    from tests.formats.generators import rgb_mask

    rgb_mask.write_source(root, 2)
    _truncate(_first(root / "gts_for_participants", "*.png"))
    return ["rgb_mask", "-o", "classes=isprs", "-o", "images=top", "-o", "masks=gts_for_participants"]


def _isaid(root: Path) -> list[str]:
    from tests.formats.generators import isaid

    isaid.write_source(root, 2)
    _truncate(_first(root / "train" / "images", "*_instance_color_RGB.png"))
    return ["isaid"]


def _isaid_instances(root: Path) -> list[str]:
    from tests.formats.generators import isaid

    isaid.write_source(root, 2)
    _truncate(_first(root / "train" / "images", "*_instance_id_RGB.png"))
    return ["isaid", "-o", "boxes=instances"]


TRUNCATED_MASKS = {"index_mask": _index_mask, "rgb_mask": _rgb_mask, "isaid colour mask": _isaid,
                   "isaid instance mask": _isaid_instances}


@pytest.mark.parametrize("name", list(TRUNCATED_MASKS))
def test_a_truncated_png_mask_is_corrupt_image_not_an_unknown_class(tmp_path, name, capsys):
    source, out = tmp_path / "src", tmp_path / "out"
    fmt, *options = TRUNCATED_MASKS[name](source)
    assert main(["convert", fmt, str(source), str(out), *options, "--no-progress"]) == 1
    error = capsys.readouterr().err
    assert "PNG is truncated" in error and "under corrupt_image)" in error, error
    assert main(["convert", fmt, str(source), str(out), *options, "--on-error", "skip", "--no-progress"]) == 0
    report = json.loads((out / "build_report.json").read_text())
    assert report["skipped_per_reason"] == {"corrupt_image": 1}, report["skipped_per_reason"]
    (skipped,) = report["skipped"]
    assert skipped["path"].endswith(".png") and "PNG is truncated" in skipped["message"]
