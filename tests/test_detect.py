"""rsdata detect: which recipe and layout variant a generated source is, its command and what it lacks; convert
with a recipe taking the variant; the README's variants table kept equal to the recipes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rsdata.cli import main
from rsdata.detect import README_TABLE_END, README_TABLE_START, detect, readme_table, variants_table
from rsdata.recipe import load_dataset_recipe
from tests.conftest import image_bytes

README = Path(__file__).resolve().parents[1] / "README.md"
OBJECTS = ["10 10 30 10 30 30 10 30 plane 0", "5 5 20 5 20 15 5 15 ship 0"]


def write_dota(root: Path, labels: str, *, splits=("train", "val"), images: bool = True, stems=("P0000", "P0001")):
    """A DOTA source whose label files sit in ``<split>/<labels>/`` (``labelTxt-v1.0/labelTxt`` as published,
    ``labelTxt`` in mmrotate's copy)."""
    for split in splits:
        (root / split / "images").mkdir(parents=True, exist_ok=True)
        (root / split / labels).mkdir(parents=True, exist_ok=True)
        for stem in stems:
            if images:
                (root / split / "images" / f"{stem}.png").write_bytes(image_bytes(64, 48, "PNG"))
            (root / split / labels / f"{stem}.txt").write_text(
                "imagesource:GoogleEarth\ngsd:0.5\n" + "\n".join(OBJECTS) + "\n", encoding="utf-8")
    return root


def write_dior(root: Path, annotations: str, stems=("00001", "00002", "00003")):
    """A DIOR source with XML files in ``annotations`` and the images in ``JPEGImages-trainval/``."""
    (root / annotations).mkdir(parents=True, exist_ok=True)
    (root / "JPEGImages-trainval").mkdir(parents=True, exist_ok=True)
    (root / "ImageSets" / "Main").mkdir(parents=True, exist_ok=True)
    for stem in stems:
        (root / "JPEGImages-trainval" / f"{stem}.jpg").write_bytes(image_bytes())
        (root / annotations / f"{stem}.xml").write_text(
            f"<annotation><filename>{stem}.jpg</filename><object><name>airplane</name><bndbox><xmin>2</xmin>"
            "<ymin>3</ymin><xmax>30</xmax><ymax>20</ymax></bndbox></object><object><name>Expressway-Service-area"
            "</name><bndbox><xmin>10</xmin><ymin>10</ymin><xmax>40</xmax><ymax>40</ymax></bndbox></object>"
            "</annotation>\n", encoding="utf-8")
    (root / "ImageSets" / "Main" / "train.txt").write_text("00001\n00002\n", encoding="utf-8")
    (root / "ImageSets" / "Main" / "val.txt").write_text("00003\n", encoding="utf-8")
    return root


FIXTURES = {
    ("dota", "publisher"): lambda root: write_dota(root, "labelTxt-v1.0/labelTxt"),
    ("dota", "mmrotate"): lambda root: write_dota(root, "labelTxt"),
    ("dior", "publisher"): lambda root: write_dior(root, "Annotations/Horizontal Bounding Boxes"),
    ("dior", "publisher-2019"): lambda root: write_dior(root, "Annotations"),
}


@pytest.fixture(scope="module")
def recipes():
    from rsdata.detect import _shipped_recipes

    return _shipped_recipes()


@pytest.mark.parametrize("recipe, variant", sorted(FIXTURES))
def test_detect_names_the_recipe_and_variant_of_each_fixture(tmp_path, recipes, recipe, variant):
    source = FIXTURES[recipe, variant](tmp_path / "src")
    detection = detect(source, recipes=recipes)
    best = detection.best
    assert (best.recipe, best.variant) == (recipe, variant), [c.line() for c in detection.candidates]
    assert 0.9 <= best.confidence <= 1.0, best.basis
    assert best.command == f"rsdata convert recipe:{recipe} {source} OUT"  # convert detects the variant itself
    assert any("parsed" in phrase for phrase in best.basis)
    others = [c for c in detection.candidates[1:] if c.recipe == recipe]
    assert all("-o" in c.command for c in others if c.format_options)


def test_publisher_dota_reports_the_missing_test_split_and_images(tmp_path):
    source = write_dota(tmp_path / "src", "labelTxt-v1.0/labelTxt", splits=("train",), images=False)
    best = detect(source, recipes=[load_dataset_recipe("dota")]).best
    assert (best.variant, best.splits) == ("publisher", ("train",))
    missing = "\n".join(best.missing)
    assert "val (evaluation)" in missing and "test (unused)" in missing
    assert "image folder is empty" in missing


def test_an_unnamed_label_asks_for_a_class_table(tmp_path):
    source = write_dota(tmp_path / "src", "labelTxt")
    (source / "train" / "labelTxt" / "P0000.txt").write_text("1 1 9 1 9 9 1 9 zzz_unknown 0\n", encoding="utf-8")
    best = detect(source, recipes=[load_dataset_recipe("dota")]).best
    assert best.variant == "mmrotate"
    assert any("class table" in item for item in best.missing)
    assert best.confidence < 0.95


def test_detect_cli_prints_the_best_and_the_command_and_json(tmp_path, capsys):
    source = FIXTURES["dior", "publisher"](tmp_path / "src")
    assert main(["detect", str(source)]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{source}: dior / publisher (publisher; format pascal_voc)")
    assert f"command: rsdata convert recipe:dior {source} OUT" in out
    assert main(["detect", str(source), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["candidates"][0]["variant"] == "publisher"
    assert 0 <= data["candidates"][0]["confidence"] <= 1


def test_nothing_matches_exits_1_naming_the_closest(tmp_path, capsys):
    source = tmp_path / "src"
    (source / "train" / "images").mkdir(parents=True)
    (source / "train" / "images" / "P0000.png").write_bytes(image_bytes(fmt="PNG"))
    assert main(["detect", str(source)]) == 1
    err = capsys.readouterr().err
    assert "no known dataset layout matches" in err
    assert "dota/" in err and "lacks no */labelTxt" in err


@pytest.mark.parametrize("variant, options", [("publisher", []), ("mmrotate", []),
                                              ("mmrotate", ["-o", "labels=labelTxt"])])
def test_convert_with_the_recipe_takes_the_variant(tmp_path, capsys, variant, options):
    import datasets

    source = FIXTURES["dota", variant](tmp_path / "src")
    out = tmp_path / "out"
    assert main(["convert", "recipe:dota", str(source), str(out), "--no-progress", *options]) == 0
    err = capsys.readouterr().err
    assert f"layout: {variant} ({'publisher' if variant == 'publisher' else 'mmrotate'})" in err
    loaded = datasets.load_dataset(str(out))
    assert loaded["train"].num_rows == 2 and loaded["validation"].num_rows == 2


def test_convert_quiet_says_nothing_and_no_match_lists_the_variants(tmp_path, capsys):
    source = FIXTURES["dota", "mmrotate"](tmp_path / "src")
    assert main(["convert", "recipe:dota", str(source), str(tmp_path / "a"), "--quiet"]) == 0
    assert "layout:" not in capsys.readouterr().err
    # Labels in a folder no variant names: the recipe's own options apply, and the note lists the variants.
    other = write_dota(tmp_path / "other", "labelTxt-v1.5")
    assert main(["convert", "recipe:dota", str(other), str(tmp_path / "b"), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert "has a label folder" in err  # no split folder of the source has the recipe's labels folder
    assert "matches none of the layouts recipe dota knows (publisher, mmrotate" in err


def test_readme_variants_table_is_the_rendered_one():
    text = README.read_text(encoding="utf-8")
    assert README_TABLE_START in text and README_TABLE_END in text
    assert readme_table(text) == variants_table(), (
        "the README's variants table is stale: run `python -m rsdata.detect README.md`")
