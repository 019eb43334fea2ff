"""Class tables are never guessed, and the segmentation recipes read both the publishers' layouts and
mmsegmentation's converted copies (``layout: auto``), driven through the command line and read back with
``datasets.load_dataset``. Expected objects come from an independent parse of the generated masks (scipy's
8-connected components per class), not from the format."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rsdata.cli import main
from tests.conftest import image_bytes

RECIPES = Path(__file__).resolve().parents[2] / "recipes" / "datasets"
# mmsegmentation's ISPRS converters (potsdam.py, vaihingen.py) write these indices; its dataset classes then drop 0
ISPRS_MMSEG = ("boundary", "impervious_surface", "building", "low_vegetation", "tree", "car", "clutter")
LOVEDA = ("no-data", "background", "building", "road", "water", "barren", "forest", "agricultural")
SIZE, CELL = 96, 24


def region_mask(rng: random.Random, fill: int, values: range, frame: int | None = None) -> np.ndarray:
    """A SIZE x SIZE mask of ``fill`` with one rectangle per CELL-pixel cell (some cells empty), of a value from
    ``values``, never touching another (1 pixel of ``fill`` at least between them); ``frame`` draws a one-pixel
    frame of that value around some rectangles, as the eroded ISPRS boundary does."""
    mask = np.full((SIZE, SIZE), fill, dtype=np.uint8)
    for top in range(0, SIZE, CELL):
        for left in range(0, SIZE, CELL):
            if rng.random() < 0.25:
                continue
            x0, y0 = left + rng.randint(2, 6), top + rng.randint(2, 6)
            x1, y1 = rng.randint(x0 + 1, left + CELL - 3), rng.randint(y0 + 1, top + CELL - 3)
            if frame is not None and rng.random() < 0.5:
                mask[y0 - 1:y1 + 1, x0 - 1:x1 + 1] = frame
            mask[y0:y1, x0:x1] = rng.choice(values)
    return mask


def independent_boxes(mask: np.ndarray, labels, ignore) -> Counter:
    """(label, box) of every 8-connected component of each described class (the masks nest nothing)."""
    from scipy import ndimage

    boxes: Counter = Counter()
    for value in np.unique(mask):
        if int(value) in ignore:
            continue
        components, _ = ndimage.label(mask == value, structure=np.ones((3, 3)))
        for ys, xs in ndimage.find_objects(components):
            boxes[(labels[int(value)], (float(xs.start), float(ys.start), float(xs.stop), float(ys.stop)))] += 1
    return boxes


def write_item(images: Path, masks: Path | None, stem: str, mask: np.ndarray) -> None:
    images.mkdir(parents=True, exist_ok=True)
    (images / f"{stem}.png").write_bytes(image_bytes(SIZE, SIZE, fmt="PNG"))
    if masks is not None:
        masks.mkdir(parents=True, exist_ok=True)
        Image.fromarray(mask).save(masks / f"{stem}.png")


def write_isprs_mmseg(root: Path, seed: int, stems: dict[str, list[str]]) -> dict[str, Counter]:
    """mmsegmentation's ISPRS copy: img_dir/<split>/<stem>.png + ann_dir/<split>/<stem>.png, index masks 0..6 on
    impervious surface (1), boundary frames (0), clutter (6) among the rectangles. Returns the expected boxes
    per source split, boundary and clutter not described (the recipes' ignore)."""
    rng = random.Random(seed)
    expected: dict[str, Counter] = {}
    for split, names in stems.items():
        expected[split] = Counter()
        for stem in names:
            mask = region_mask(rng, 1, range(2, 7), frame=0)
            write_item(root / "img_dir" / split, root / "ann_dir" / split, stem, mask)
            expected[split] += independent_boxes(mask, ISPRS_MMSEG, ignore={0, 6})
    return expected


def convert(recipe: str, source: Path, out: Path, *extra: str, capsys=None) -> tuple[int, dict, str]:
    status = main(["convert", str(RECIPES / f"{recipe}.yaml"), str(source), str(out), "--no-progress", *extra])
    printed = capsys.readouterr() if capsys is not None else None
    report = json.loads((out / "build_report.json").read_text()) if (out / "build_report.json").is_file() else {}
    return status, report, (printed.out + printed.err) if printed else ""


def rows_boxes(out: Path, split: str, cache: Path) -> tuple[Counter, list[dict]]:
    import datasets

    rows = list(datasets.load_dataset(str(out), split=split, cache_dir=str(cache)))
    return Counter((o["category"], tuple(o["bbox"])) for r in rows for o in r["objects"]), rows


# ---------------------------------------------------------------------------------------------------------------
# (a) no class table, no guess


@pytest.mark.parametrize("fmt,tables", [("index_mask", ["loveda", "isprs_mmseg", "isprs"]),
                                        ("rgb_mask", ["isprs_rgb", "isaid", "uavid", "loveda_rgb"])])
def test_mask_formats_refuse_to_guess_a_class_table(tmp_path, capsys, fmt, tables):
    write_isprs_mmseg(tmp_path / "src", 1, {"train": ["a"]})
    status = main(["convert", fmt, str(tmp_path / "src"), str(tmp_path / "out"), "--no-progress"])
    err = capsys.readouterr().err
    assert status == 2, err
    assert "option classes is required" in err and "-o classes=NAME" in err
    for table in tables:
        assert table in err
    assert not (tmp_path / "out" / "data").exists()


# ---------------------------------------------------------------------------------------------------------------
# (b) ISPRS Potsdam and Vaihingen as mmsegmentation converts them


@pytest.mark.parametrize("recipe,stems", [
    ("potsdam", {"train": ["2_10_0_0_96_96", "2_10_96_0_192_96"], "val": ["2_13_0_0_96_96"]}),
    ("vaihingen", {"train": ["area1_0_0_96_96", "area3_0_0_96_96"], "val": ["area2_0_0_96_96"]}),
])
def test_isprs_recipes_read_the_mmseg_copy(tmp_path, capsys, recipe, stems):
    expected = write_isprs_mmseg(tmp_path / "src", 7, stems)
    status, report, printed = convert(recipe, tmp_path / "src", tmp_path / "out", capsys=capsys)
    assert status == 0, printed
    (layout,) = report["source_facts"]["Source layout"]
    # The recipe's mmsegmentation variant (found by the same detection as `rsdata detect`) asks for layout=mmseg.
    assert (layout["layout"], layout["asked"], layout["classes"]) == ("mmseg", "mmseg", "isprs_mmseg")
    assert "Source layout: mmseg (mmsegmentation's converted copy; asked: mmseg)" in printed
    assert report["settings"]["format_options"]["layout"] == "mmseg"
    for source_split, split in (("train", "train"), ("val", "validation")):
        found, rows = rows_boxes(tmp_path / "out", split, tmp_path / "cache")
        assert found == expected[source_split]
        assert len(rows) == len(stems[source_split]) and {r["source_split"] for r in rows} == {source_split}
    total = expected["train"] + expected["val"]
    per_category = Counter()
    for (label, _), count in total.items():
        per_category[label] += count
    assert report["objects_per_category"] == dict(sorted(per_category.items()))
    assert {"car", "building", "low_vegetation", "tree"} <= set(per_category)
    assert "clutter" not in per_category and "boundary" not in per_category


def test_isprs_mmseg_indices_are_named_by_mmsegs_order(tmp_path, capsys):
    """One region of each index: the captions name each as the recipe names the class mmsegmentation gives it."""
    root = tmp_path / "src"
    mask = np.full((SIZE, SIZE), 1, dtype=np.uint8)
    mask[4:20, 4:20] = 2  # building
    mask[30:50, 30:34] = 3  # low vegetation
    mask[60:70, 60:70] = 5  # car
    mask[80:90, 4:90] = 6  # clutter: not described
    mask[0, :] = 0  # boundary: not described
    write_item(root / "img_dir" / "train", root / "ann_dir" / "train", "2_10_0_0_96_96", mask)
    status, _, printed = convert("potsdam", root, tmp_path / "out", capsys=capsys)
    assert status == 0, printed
    found, (row,) = rows_boxes(tmp_path / "out", "train", tmp_path / "cache")
    assert found == Counter({("building", (4.0, 4.0, 20.0, 20.0)): 1, ("low_vegetation", (30.0, 30.0, 34.0, 50.0)): 1,
                             ("car", (60.0, 60.0, 70.0, 70.0)): 1, ("impervious_surface", (0.0, 1.0, 96.0, 96.0)): 1})
    captions = " ".join(row["captions"])
    assert "clutter" not in captions and "road" not in captions and "water" not in captions


# ---------------------------------------------------------------------------------------------------------------
# (c) LoveDA as published and as mmsegmentation converts it


def write_loveda(root: Path, seed: int, *, mmseg: bool) -> dict[str, Counter]:
    """Train and Val with masks, Test without, in the publisher's folders (Train/Urban/images_png + masks_png)
    or mmsegmentation's (img_dir/train + ann_dir/train, Urban and Rural together). Returns the expected boxes
    per split folder (no-data and background not described, as the recipe says)."""
    rng = random.Random(seed)
    expected: dict[str, Counter] = {}
    stem = 0
    for split in ("Train", "Val", "Test"):
        expected[split] = Counter()
        for domain in ("Urban", "Rural"):
            for _ in range(2):
                mask = region_mask(rng, 1, range(2, 8))
                mask[0:3, 0:3] = 0  # no-data
                labelled = split != "Test"
                if mmseg:
                    images = root / "img_dir" / split.lower()
                    masks = root / "ann_dir" / split.lower() if labelled else None
                else:
                    images = root / split / domain / "images_png"
                    masks = root / split / domain / "masks_png" if labelled else None
                write_item(images, masks, str(stem), mask)
                stem += 1
                if labelled:
                    expected[split] += independent_boxes(mask, LOVEDA, ignore={0, 1})
    return expected


@pytest.mark.parametrize("mmseg", [False, True], ids=["published", "mmseg"])
def test_loveda_recipe_reads_both_layouts_and_leaves_out_test(tmp_path, capsys, mmseg):
    expected = write_loveda(tmp_path / "src", 3, mmseg=mmseg)
    status, report, printed = convert("loveda", tmp_path / "src", tmp_path / "out", capsys=capsys)
    assert status == 0, printed
    (layout,) = report["source_facts"]["Source layout"]
    assert layout["layout"] == ("mmseg" if mmseg else "given") and layout["classes"] == "loveda"
    splits = {"Train": "train", "Val": "validation"} if mmseg else {"Train": "Train", "Val": "Val"}
    assert sorted(report["splits"]) == sorted(splits.values())
    for source_split, split in splits.items():
        found, rows = rows_boxes(tmp_path / "out", split, tmp_path / "cache")
        assert found == expected[source_split] and len(rows) == 4
    (left_out,) = report["source_facts"]["Splits left out"]
    assert (left_out["split"], left_out["images"]) == ("test" if mmseg else "Test", 4)
    assert f"Left out split {left_out['split']} (4 image(s))" in printed
    assert report["skipped"] == []


def test_loveda_publisher_split_names_select_the_mmseg_folders(tmp_path, capsys):
    """A corpus asks for the recipe's split names (Train); mmsegmentation's copy names the folder train."""
    expected = write_loveda(tmp_path / "src", 4, mmseg=True)
    status, report, printed = convert("loveda", tmp_path / "src", tmp_path / "out", "--split", "Train",
                                      capsys=capsys)
    assert status == 0, printed
    assert list(report["splits"]) == ["train"]
    assert rows_boxes(tmp_path / "out", "train", tmp_path / "cache")[0] == expected["Train"]
