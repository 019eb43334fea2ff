"""Every dataset recipe in recipes/datasets validates; the validator rejects what it must."""

from __future__ import annotations

from pathlib import Path

import pytest

from rsdata.formats import available_formats
from rsdata.corpus_recipe import is_corpus_recipe
from rsdata.recipe import RecipeError, dataset_recipes, load_dataset_recipe

RECIPES = Path(__file__).resolve().parents[1] / "recipes" / "datasets"


@pytest.mark.parametrize("path", [p for p in sorted(RECIPES.glob("*.yaml")) if not is_corpus_recipe(p)],
                         ids=lambda p: p.stem)
def test_recipe_validates(path):
    recipe = load_dataset_recipe(path)
    assert recipe.name == path.stem
    vocabulary = recipe.vocabulary()
    for label in recipe.names:
        name = vocabulary.name(label)
        assert name.singular and name.plural and name.singular == name.singular.strip()


def test_recipe_folder_is_not_empty_and_names_are_unique():
    recipes = dataset_recipes(RECIPES)
    assert recipes and len({r.name for r in recipes}) == len(recipes)
    assert {r.format for r in recipes} <= {f.name for f in available_formats()}


VALID = """name: mini
title: Mini
format: dota
layout: images/ and labelTxt/
splits: {train: pretraining}
license: cc0-1.0
homepage: https://example.org
citation: "@misc{mini}"
"""


@pytest.mark.parametrize("change,message", [
    ("extra: 1\n", "unknown field(s) extra; valid fields:"),
    ("format: nosuch\n", "unknown format 'nosuch'"),
    ("format_options: {labels_dir: x}\n", "format 'dota' has no option 'labels_dir'"),
    ("splits: {train: training}\n", "split 'train' has use 'training'; expected one of pretraining"),
    ("citation: Xia et al. 2018\n", "must be a BibTeX entry"),
    ("names: {plane: {singular: plane, plurals: planes}}\n", "plane"),
    ("name: Mini\n", "must be lower case"),
    ("closed_names: 'yes'\n", "field 'closed_names' must be true or false, got 'yes'"),
    ("convert_options: {limit: 3}\n", "convert_options has no option 'limit'; valid options: tile, tile_overlap"),
    ("convert_options: {tile: big}\n", "convert_options.tile must be int, got 'big'"),
    ("convert_options: {tile: 512, tile_overlap: 1.5}\n", "--overlap must be a fraction in [0, 1)"),
    ("format_options: {tile: '512'}\n", "format 'dota' has no option 'tile'"),
])
def test_bad_recipes_are_named_and_explained(tmp_path, change, message):
    key = change.split(":")[0]
    text = "".join(line + "\n" for line in VALID.splitlines() if not line.startswith(key + ":")) + change
    path = tmp_path / "mini.yaml"
    path.write_text(text)
    with pytest.raises(RecipeError) as caught:
        load_dataset_recipe(path)
    assert str(caught.value).startswith(f"{path}: ") and message in str(caught.value)


def test_missing_fields_and_wrong_file_name(tmp_path):
    path = tmp_path / "mini.yaml"
    path.write_text("name: mini\n")
    with pytest.raises(RecipeError, match="missing field\\(s\\) title, format, layout, splits"):
        load_dataset_recipe(path)
    other = tmp_path / "other.yaml"
    other.write_text(VALID)
    with pytest.raises(RecipeError, match="must be named after the recipe \\(mini.yaml\\)"):
        load_dataset_recipe(other)


def test_convert_with_a_recipe_uses_its_names_licence_and_name(tmp_path, dota_source):
    import pyarrow.parquet as pq

    from rsdata.cli import main

    recipe = tmp_path / "mini.yaml"
    # These names only rename two labels; the others (plane, harbor, ...) keep their default names.
    recipe.write_text(VALID + "names: {ship: vessel, small-vehicle: {singular: car, plural: cars}}\n"
                      "closed_names: false\n")
    out = tmp_path / "out"
    assert main(["convert", str(recipe), str(dota_source), str(out), "--split", "train", "--no-progress"]) == 0
    rows = pq.read_table(out / "data").to_pylist()
    assert {r["source_dataset"] for r in rows} == {"mini"} and {r["license"] for r in rows} == {"cc0-1.0"}
    captions = " ".join(c for r in rows for c in r["captions"])
    assert "vessel" in captions and " cars" in captions and "ship" not in captions
    assert [o["category"] for o in rows[1]["objects"]] == ["small-vehicle"] * 3, "objects keep the source label"


def test_convert_with_a_bad_recipe_names_it(tmp_path, dota_source, capsys):
    from rsdata.cli import main

    recipe = tmp_path / "mini.yaml"
    recipe.write_text(VALID + "names: {ship: {singular: ''}}\n")
    assert main(["convert", str(recipe), str(dota_source), str(tmp_path / "out")]) == 1
    assert str(recipe) in capsys.readouterr().err


DOTA_RECIPE = RECIPES / "dota.yaml"


def _source_with_an_unknown_label(tmp_path):
    from tests.conftest import write_dota_item

    root = tmp_path / "src"
    write_dota_item(root, "P0000", ["10 10 20 10 20 20 10 20 plane 0"])
    # Line 4 (after the two header lines): a label that the recipe's class list does not know.
    write_dota_item(root, "P0001", ["30 30 40 30 40 40 30 40 ship 0", "1 1 9 1 9 9 1 9 zzz_unknown 0"])
    write_dota_item(root, "P0002", ["2 2 12 2 12 12 2 12 small-vehicle 0"])
    return root


def test_a_label_outside_the_recipes_classes_is_unknown_class(tmp_path, capsys):
    from rsdata.cli import main

    source = _source_with_an_unknown_label(tmp_path)
    status = main(["convert", str(DOTA_RECIPE), str(source), str(tmp_path / "out"), "-o", "labels=labelTxt",
                   "--no-progress"])
    error = capsys.readouterr().err
    assert status == 1
    assert f"{source / 'labelTxt' / 'P0001.txt'}:4: class 'zzz_unknown' is not one of the 18 classes" in error
    assert "unknown_class" in error


def test_skipping_a_label_outside_the_recipes_classes_counts_it_and_never_captions_it(tmp_path):
    import json

    import datasets

    from rsdata.cli import main

    source, out = _source_with_an_unknown_label(tmp_path), tmp_path / "out"
    assert main(["convert", str(DOTA_RECIPE), str(source), str(out), "-o", "labels=labelTxt", "--on-error", "skip",
                 "--no-progress"]) == 0
    report = json.loads((out / "build_report.json").read_text())
    assert report["skipped_per_reason"] == {"unknown_class": 1}
    (skipped,) = report["skipped"]
    assert (skipped["path"], skipped["line"], skipped["reason"]) == ("labelTxt/P0001.txt", 4, "unknown_class")
    rows = datasets.load_dataset(str(out), split="train")
    assert sorted(rows["source_id"]) == ["P0000", "P0002"]
    captions = " ".join(c for captions in rows["captions"] for c in captions)
    assert captions and "zzz" not in captions.lower() and "unknown" not in captions.lower()
    assert all(o["category"] != "zzz_unknown" for objects in rows["objects"] for o in objects)


def test_an_open_recipe_names_other_labels_by_default(tmp_path):
    """A recipe without names (or with closed_names: false) lists no classes, so it rejects no label."""
    from rsdata.cli import main

    recipe = tmp_path / "mini.yaml"
    recipe.write_text(VALID)
    source, out = _source_with_an_unknown_label(tmp_path), tmp_path / "out"
    assert main(["convert", str(recipe), str(source), str(out), "--no-progress"]) == 0
    assert load_dataset_recipe(recipe).lists_classes is False
