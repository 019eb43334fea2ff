"""Issue 16: the layout variants of the scene-classification recipes (AID, RESISC45, MLRSNet, OPTIMAL-31,
PatternNet, RS2800, RSI-CB128, RSI-CB256, WHU-earth, WHU-RS19), each as a generated fixture in that variant's layout
(every class folder of the recipe's ``names`` with a few tiny images), converted through the recipe with the
variant's format options and read back: the images per split and class match the folders. Also: each variant's
globs match its own fixture and no other variant of the recipe's does, and ``rsdata detect`` names the recipe and
variant first for a folder named as users would name it."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from rsdata.cli import main
from tests.variant_fixtures import assert_only_this_variant_matches, recipe

#: The published archives' top folder, which is also how a user names the folder that holds the class folders.
TOP = {"aid": "AID", "resisc45": "NWPU-RESISC45", "mlrsnet": "MLRSNet", "optimal31": "OPTIMAL-31",
       "patternnet": "PatternNet", "rs2800": "RSSCN7", "rsi_cb128": "RSI-CB128", "rsi_cb256": "RSI-CB256",
       "whu_earth": "SIRI-WHU", "whu_rs19": "WHU-RS19"}
#: Image types of the fixtures (the sets that ship TIFF get TIFF; the rest JPEG, one PNG).
SUFFIX = {"rsi_cb128": ".tif", "rsi_cb256": ".tif", "whu_earth": ".tif", "whu_rs19": ".png"}
PER_CLASS = 2
CASES = [(name, variant.name) for name in TOP for variant in recipe(name).variants]


def write_image(path: Path, shade: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    kind = {".png": "PNG", ".tif": "TIFF"}.get(path.suffix, "JPEG")
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8), (shade % 256, 100, 60)).save(buffer, kind)
    path.write_bytes(buffer.getvalue())


def class_parents(name: str, variant: str, root: Path) -> dict[str, list[tuple[str, Path]]]:
    """Where each class folder goes, per split ("" where the format makes the split)."""
    classes = list(recipe(name).names)
    if variant == "publisher":
        return {"": [(c, root / c) for c in classes]}
    if variant == "publisher-folder":
        return {"": [(c, root / TOP[name] / c) for c in classes]}
    if variant == "grouped-folder":  # RSI-CB: classes under parent categories inside the top folder
        return {"": [(c, root / TOP[name] / ("category_a" if i % 2 else "category_b") / c)
                     for i, c in enumerate(classes)]}
    if variant == "torchgeo":  # PatternNet.zip as torchgeo unpacks it
        return {"": [(c, root / "PatternNet" / "images" / c) for c in classes]}
    if variant == "split-folders":
        return {split: [(c, root / split / c) for c in classes] for split in ("train", "test")}
    raise AssertionError(f"no fixture for {name}/{variant}")


def make_fixture(name: str, variant: str, root: Path) -> Counter:
    """Write the fixture; return the images expected per (split, class folder)."""
    expected = Counter()
    for split, folders in class_parents(name, variant, root).items():
        count = PER_CLASS if split != "test" else 1
        for i, (cls, folder) in enumerate(folders):
            for k in range(count):
                write_image(folder / f"{cls.lower()}_{k + 1:02d}{SUFFIX.get(name, '.jpg')}", 7 * i + k)
            if split:
                expected[(split, cls)] += count
            else:  # the format's 80/20 split of each class by file name
                train = 4 * count // 5
                expected[("train", cls)] += train
                expected[("test", cls)] += count - train
    return +expected


def source_folder(tmp_path: Path, name: str, variant: str) -> Path:
    """The class folders in SOURCE: named as the set (NWPU-RESISC45, RSI-CB256); otherwise a neutral name."""
    return tmp_path / (TOP[name] if variant == "publisher" else "data")


def test_every_classification_recipe_has_variants():
    assert len(CASES) >= 3 * len(TOP)
    for name in TOP:
        assert {"publisher", "publisher-folder"} <= {v.name for v in recipe(name).variants}


@pytest.mark.parametrize("name,variant_name", CASES, ids=[f"{n}-{v}" for n, v in CASES])
def test_variant_fixture_converts_through_the_recipe(tmp_path, name, variant_name):
    import datasets

    entry = recipe(name)
    variant = next(v for v in entry.variants if v.name == variant_name)
    source = source_folder(tmp_path, name, variant_name)
    expected = make_fixture(name, variant_name, source)

    assert_only_this_variant_matches(entry, variant, source)

    out = tmp_path / "out"
    args = ["convert", f"recipe:{name}", str(source), str(out), "--quiet", "--no-progress"]
    for key, value in variant.format_options.items():
        args += ["-o", f"{key}={value}"]
    assert main(args) == 0

    loaded = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    got = Counter()
    for split in loaded:
        label_names = loaded[split].features["label"].names
        assert label_names == sorted(entry.names)
        for row in loaded[split]:
            folder = Path(row["source_id"]).parent.name
            assert label_names[row["label"]] == folder, row["source_id"]
            assert row["class_name"] == entry.names[folder]
            got[(split, folder)] += 1
    assert got == expected


@pytest.mark.parametrize("name,variant_name", CASES, ids=[f"{n}-{v}" for n, v in CASES])
def test_rsdata_detect_names_the_recipe_and_variant(tmp_path, name, variant_name):
    from rsdata.detect import detect

    source = source_folder(tmp_path, name, variant_name)
    make_fixture(name, variant_name, source)
    detection = detect(source)
    ranked = [(c.recipe, c.variant) for c in detection.candidates]
    assert ranked[0] == (name, variant_name), ranked
    assert 0.75 <= detection.best.confidence <= 1.0, detection.best.basis


def test_rsi_cb_copies_are_told_apart_by_their_classes(tmp_path):
    """RSI-CB128 and RSI-CB256 share most class names; each recipe's globs name classes only its own set has
    (RSI-CB128's city_green_tree and turning_circle, RSI-CB256's airplane), so neither claims the other's folder."""
    from rsdata.detect import detect

    for name, other in (("rsi_cb128", "rsi_cb256"), ("rsi_cb256", "rsi_cb128")):
        source = tmp_path / name / "src"
        make_fixture(name, "publisher", source)
        assert other not in {c.recipe for c in detect(source).candidates}
