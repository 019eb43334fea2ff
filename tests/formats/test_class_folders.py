"""The class_folders reader: the 80/20 split it makes (checked against an independent computation), the split
lists, ClassLabel and prompt names read back with load_dataset, official split folders, grouped classes, layout
errors, the real AID sample and the aid recipe end to end."""

from __future__ import annotations

import json
import math
import shutil
from fractions import Fraction
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rsdata.cli import main
from rsdata.errors import OptionError, SourceLayoutError
from rsdata.formats import get_format
from rsdata.formats.class_folders import prompt_name
from tests.conftest import image_bytes, realdata
from tests.formats.generators.class_folders import write_source

REPO = Path(__file__).resolve().parents[2]


def convert(*args) -> int:
    return main(["convert", "class_folders", *map(str, args), "--no-progress"])


def rows_of(out: Path, split: str | None = None) -> list[dict]:
    folder = out / "data"
    paths = sorted(folder.glob(f"{split}-*.parquet" if split else "*.parquet"))
    return [row for path in paths for row in pq.read_table(path).to_pylist()]


def expected_split(written: dict[str, list[str]]) -> dict[str, set[str]]:
    """The documented split, computed apart from the format: per class, names in text order, floor(4/5 n) train."""
    split = {"train": set(), "test": set()}
    for class_name, names in written.items():
        ordered = sorted(names)
        cut = math.floor(Fraction(4, 5) * len(ordered))
        split["train"].update(f"{class_name}/{name}" for name in ordered[:cut])
        split["test"].update(f"{class_name}/{name}" for name in ordered[cut:])
    return split


@pytest.mark.parametrize("folder,expected", [
    ("StorageTanks", "storage tanks"), ("dense_residential", "dense residential"), ("BaseballField", "baseball field"),
    ("HerbaceousVegetation", "herbaceous vegetation"), ("SeaLake", "sea lake"), ("airport", "airport"),
    ("footballField", "football field"), ("mobile_home_park", "mobile home park"), ("USAirport", "us airport"),
    ("Parking_Lot", "parking lot"), ("Area51", "area51"), ("a__b", "a b"),
])
def test_prompt_names(folder, expected):
    assert prompt_name(folder) == expected


def test_made_split_lists_and_columns(tmp_path):
    import datasets

    written = write_source(tmp_path / "src", 40, seed=1)
    sizes = sorted(len(names) for names in written.values())
    assert sizes[0] == 1 and sizes[-1] >= 10  # a one-image class (all test) and one large enough to split
    assert any(sorted(names) != sorted(names, key=lambda n: int(n.rsplit("_", 1)[1][:-4]))
               for names in written.values()), "text order and number order should differ somewhere"
    out = tmp_path / "out"
    assert convert(tmp_path / "src", out) == 0

    expected = expected_split(written)
    for split in ("train", "test"):
        listed = (out / "splits" / f"{split}.txt").read_text().splitlines()
        assert listed == sorted(expected[split])
        assert {r["image"]["path"] for r in rows_of(out, split)} == set(listed)

    dataset = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    names = sorted(written)
    assert names == ["Airport", "BareLand", "StorageTanks", "dense_residential", "sea_ice"]
    assert dataset["train"].features["label"].names == names
    for row in list(dataset["train"]) + list(dataset["test"]):
        folder = row["source_id"].split("/")[0]
        assert row["label"] == names.index(folder) and row["class_name"] == prompt_name(folder)
        assert row["captions"] == [] and row["caption_rule"] == "none" and row["objects"] == []
    report = json.loads((out / "build_report.json").read_text())
    assert report["split_lists"] == ["splits/test.txt", "splits/train.txt"] and report["skipped"] == []
    label_counts = {entry["value"]: entry["splits"] for entry in report["value_counts"]["label"]}
    assert [entry["value"] for entry in report["value_counts"]["label"]] == names
    assert label_counts["Airport"] == {"test": 1}
    card = (out / "README.md").read_text()
    assert "| 2 | StorageTanks | storage tanks |" in card and "| 3 | dense_residential | dense residential |" in card
    assert "`splits/test.txt`, `splits/train.txt`" in card and "image-classification" in card


def test_same_bytes_with_one_and_two_processes(tmp_path):
    write_source(tmp_path / "src", 30, seed=2)
    tiny = ("--max-shard-mb", "0.001")
    assert convert(tmp_path / "src", tmp_path / "one", *tiny) == 0
    assert convert(tmp_path / "src", tmp_path / "two", "--num-proc", "2", *tiny) == 0
    files = [{p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob("*"))
              if p.is_file() and ".rsdata" not in p.parts} for d in (tmp_path / "one", tmp_path / "two")]
    assert files[0] == files[1] and len([n for n in files[0] if n.endswith(".parquet")]) > 4


def test_official_split_folders(tmp_path):
    source = tmp_path / "src"
    for split, classes in {"train": ("Beach", "Forest", "Port"), "test": ("Beach", "Forest")}.items():
        for class_name in classes:
            (source / split / class_name).mkdir(parents=True)
            for k in range(2):
                (source / split / class_name / f"{k}.png").write_bytes(image_bytes(8, 8, fmt="PNG"))
    (source / "test" / "Forest" / "notes.txt").write_text("not an image")
    (source / "__MACOSX").mkdir()
    out = tmp_path / "out"
    assert convert(source, out) == 0
    assert not (out / "splits").exists()
    test_rows = rows_of(out, "test")
    assert len(rows_of(out, "train")) == 6 and len(test_rows) == 4
    assert {(r["source_id"], r["label"]) for r in test_rows} == {
        ("test/Beach/0.png", 0), ("test/Beach/1.png", 0), ("test/Forest/0.png", 1), ("test/Forest/1.png", 1)}


def test_grouped_classes_with_class_depth_two(tmp_path):
    source = tmp_path / "src"
    for group, class_name in (("water", "river"), ("water", "lake"), ("land", "desert")):
        (source / group / class_name).mkdir(parents=True)
        (source / group / class_name / "x1.jpg").write_bytes(image_bytes(8, 8))
    fmt = get_format("class_folders")
    with pytest.raises(SourceLayoutError, match="holds folders .* use -o class_depth=2"):
        fmt.from_option_strings({}).list_items(source, None)
    grouped = fmt.from_option_strings({"class_depth": "2"})
    items = grouped.list_items(source, None)
    assert grouped.class_names == ["desert", "lake", "river"]
    assert [(i.split, i.image_name) for i in items] == [
        ("test", "land/desert/x1.jpg"), ("test", "water/lake/x1.jpg"), ("test", "water/river/x1.jpg")]
    (source / "land" / "river").mkdir()
    with pytest.raises(SourceLayoutError, match="two class folders are named 'river'"):
        grouped.list_items(source, None)


@pytest.mark.parametrize("options,message", [
    ({"layout": "flat"}, "layout='flat'"), ({"class_depth": "0"}, "class_depth=.0."),
    ({"class_depth": "x"}, "class_depth='x'"),
])
def test_bad_options(options, message):
    with pytest.raises(OptionError, match=message):
        get_format("class_folders").from_option_strings(options)


def test_layout_errors(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert convert(tmp_path / "empty", tmp_path / "out") == 1
    assert "no class folder in" in capsys.readouterr().err
    write_source(tmp_path / "src", 10)
    assert convert(tmp_path / "src", tmp_path / "out2", "--split", "val") == 2
    assert "split(s) val not found" in capsys.readouterr().err


def test_bad_image_is_counted_and_stays_in_the_split_list(tmp_path):
    written = write_source(tmp_path / "src", 15, seed=4)
    broken = f"StorageTanks/{sorted(written['StorageTanks'])[0]}"
    (tmp_path / "src" / broken).write_bytes(b"not a jpeg")
    out = tmp_path / "out"
    assert convert(tmp_path / "src", out, "--on-error", "skip") == 0
    report = json.loads((out / "build_report.json").read_text())
    assert report["skipped_per_reason"] == {"corrupt_image": 1} and report["skipped"][0]["path"] == broken
    assert broken in (out / "splits" / "train.txt").read_text().splitlines()
    assert broken not in {r["source_id"] for r in rows_of(out)}


def test_real_aid_sample(tmp_path):
    aid = realdata("scene_classification") / "AID"
    out = tmp_path / "out"
    assert convert(aid, out) == 0
    rows = rows_of(out)
    folders = sorted(p.name for p in aid.iterdir() if p.is_dir())
    assert len(folders) == 10 and len(rows) == 10  # one image per class: floor(0.8) = 0 train, all test
    assert (out / "splits" / "test.txt").read_text().splitlines() == sorted(
        p.relative_to(aid).as_posix() for p in aid.glob("*/*.jpg"))
    for row in rows:
        folder = row["image"]["path"].split("/")[0]
        assert folders[row["label"]] == folder and row["image"]["bytes"] == (aid / row["image"]["path"]).read_bytes()
    names = {r["image"]["path"].split("/")[0]: r["class_name"] for r in rows}
    assert names["StorageTanks"] == "storage tanks" and names["BareLand"] == "bare land"
    assert (rows[0]["width"], rows[0]["height"]) == (150, 150)


def test_aid_recipe_end_to_end(tmp_path):
    import datasets

    source = tmp_path / "AID"
    written = write_source(source, 25, seed=5)
    shutil.copytree(realdata("scene_classification") / "AID" / "Airport", source / "Airport", dirs_exist_ok=True)
    written["Airport"].append("airport_1.jpg")
    out = tmp_path / "out"
    assert main(["convert", str(REPO / "recipes" / "datasets" / "aid.yaml"), str(source), str(out),
                 "--no-progress"]) == 0
    dataset = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    assert {r["source_dataset"] for r in dataset["test"]} == {"aid"}
    assert {r["license"] for r in dataset["test"]} == {"unknown"}
    expected = expected_split(written)
    assert {r["source_id"] for r in dataset["train"]} == expected["train"]
    assert {r["source_id"] for r in dataset["test"]} == expected["test"]
    assert "| 0 | Airport | airport |" in (out / "README.md").read_text()


def test_recipe_names_override_prompt_names(tmp_path):
    written = write_source(tmp_path / "src", 30)
    assert written["StorageTanks"] and written["sea_ice"]
    recipe = tmp_path / "mini.yaml"
    recipe.write_text("name: mini\ntitle: Mini\nformat: class_folders\nlayout: one folder per class\n"
                      "splits: {train: evaluation, test: evaluation}\nlicense: cc0-1.0\nhomepage: unknown\n"
                      "citation: '@misc{mini}'\nnames: {StorageTanks: oil tanks}\n")
    out = tmp_path / "out"
    assert main(["convert", str(recipe), str(tmp_path / "src"), str(out), "--no-progress"]) == 0
    names = {r["image"]["path"].split("/")[0]: r["class_name"] for r in rows_of(out)}
    assert names["StorageTanks"] == "oil tanks" and names["sea_ice"] == "sea ice"
    assert "| 2 | StorageTanks | oil tanks |" in (out / "README.md").read_text()
