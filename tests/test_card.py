"""The dataset card: what the Hub and datasets read from its header, and the statistics in its body."""

from __future__ import annotations

import json
from pathlib import Path

from huggingface_hub import DatasetCard

from rsdata.card import size_category
from rsdata.cli import main
from tests.conftest import write_dota_item


def test_card_header_and_statistics(dota_source, tmp_path):
    write_dota_item(dota_source, "P0099", "", split="train")  # one bad record, skipped and counted
    out = tmp_path / "out"
    assert main(["convert", "dota", str(dota_source), str(out), "--on-error", "skip", "--no-progress",
                 "--license", "cc-by-4.0", "--source-name", "dota-mini"]) == 0
    card = DatasetCard.load(out / "README.md")
    data = card.data.to_dict()
    assert data["license"] == "cc-by-4.0"
    assert data["source_datasets"] == ["dota-mini"]
    assert data["size_categories"] == ["n<1K"]
    assert "zero-shot-image-classification" in data["task_categories"]
    digest = json.loads((out / "build_report.json").read_text())["content_digest"]
    assert data["configs"] == [{"config_name": "default", "data_files": [
        {"split": "train", "path": f"data/train-*-{digest}.parquet"},
        {"split": "validation", "path": f"data/validation-*-{digest}.parquet"}]}]
    text = card.text
    assert "| train | 6 | 1 |" in text and "| validation | 2 | 1 |" in text
    assert "Images: 8. Captions: 40. Objects: 24." in text
    assert "| ship | 13 |" in text and "| tennis-court | 2 |" in text
    assert "| empty_label_file | 1 |" in text
    assert "`original`: 8 image(s)" in text and "b2c/1" in text and "| seed | `0` |" in text


def test_size_categories():
    assert [size_category(n) for n in (0, 999, 1000, 54_321, 2_000_000)] == [
        "n<1K", "n<1K", "1K<n<10K", "10K<n<100K", "1M<n<10M"]


DOTA_RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "datasets" / "dota.yaml"


def test_recipe_card_facts_dataset_info_and_examples(dota_source, tmp_path):
    """A card built from a recipe: its title, homepage, citation and licence note; the Hub's fields for licence
    "other"; language; dataset_info that datasets reads back and verifies; example captions and a contact sheet."""
    import datasets
    from PIL import Image

    from rsdata.recipe import load_dataset_recipe

    recipe = load_dataset_recipe(DOTA_RECIPE)
    out = tmp_path / "out"
    assert main(["convert", str(DOTA_RECIPE), str(dota_source), str(out), "-o", "labels=labelTxt",
                 "--no-progress"]) == 0
    card = DatasetCard.load(out / "README.md")
    data = card.data.to_dict()
    assert data["license"] == "other" and data["license_name"] == "dota-license"
    assert data["license_link"] == recipe.homepage
    assert data["language"] == ["en"] and data["pretty_name"] == "DOTA v1.0 (rsdata, b2c/1)"
    text = card.text
    assert f"[DOTA v1.0]({recipe.homepage})" in text
    assert " ".join(recipe.license_note.split()) in text
    assert recipe.citation.strip() in text and "```bibtex" in text

    # dataset_info: the output features and each split's rows and Arrow size, as datasets records them
    from rsdata.schema import output_features

    info = data["dataset_info"]
    assert datasets.Features._from_yaml_list(info["features"]) == output_features()
    assert [(s["name"], s["num_examples"]) for s in info["splits"]] == [("train", 6), ("validation", 2)]
    assert info["download_size"] == sum(p.stat().st_size for p in (out / "data").glob("*.parquet"))
    builder = datasets.load_dataset_builder(str(out), cache_dir=str(tmp_path / "cache"))
    assert builder.info.features == output_features()
    assert {name: s.num_examples for name, s in builder.info.splits.items()} == {"train": 6, "validation": 2}
    loaded = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))  # verifies the split sizes
    assert {name: split.num_rows for name, split in loaded.items()} == {"train": 6, "validation": 2}
    for name, split in loaded.items():  # num_bytes: what datasets records itself as it prepares the split
        assert split.info.splits[name].num_bytes == next(s["num_bytes"] for s in info["splits"] if s["name"] == name)

    # examples: the captions of the first three train images; the contact sheet beside the card, linked
    first = loaded["train"].select(range(3))
    for row in first:
        assert f"`{row['source_id']}`" in text and row["captions"][0] in text
    assert "![The first 6 images of split train, with their object boxes](images/contact_sheet.png)" in text
    sheet = Image.open(out / "images" / "contact_sheet.png")
    assert sheet.format == "PNG" and sheet.size == (4 * 256 + 3 * 2, 2 * 256 + 2)

    # identical runs give identical cards and sheets; a rebuild in place keeps loading
    again = tmp_path / "again"
    assert main(["convert", str(DOTA_RECIPE), str(dota_source), str(again), "-o", "labels=labelTxt",
                 "--no-progress"]) == 0
    assert (again / "README.md").read_bytes() == (out / "README.md").read_bytes()
    assert (again / "images" / "contact_sheet.png").read_bytes() == (out / "images" / "contact_sheet.png").read_bytes()


def test_cards_without_recipe_name_no_other_licence_fields(dota_source, tmp_path):
    out = tmp_path / "out"
    assert main(["convert", "dota", str(dota_source), str(out), "--no-progress", "--license", "cc-by-4.0"]) == 0
    data = DatasetCard.load(out / "README.md").data.to_dict()
    assert "license_name" not in data and "license_link" not in data and data["language"] == ["en"]


def test_deduplicated_copy_states_its_own_split_sizes(dota_source, tmp_path):
    """rsdata dedup keeps the source card's metadata: its dataset_info must give the copy's sizes, not the
    source's (datasets verifies num_examples), and the contact sheet the copied text shows comes along."""
    import datasets

    out, test_set, deduplicated = tmp_path / "out", tmp_path / "test", tmp_path / "dedup"
    assert main(["convert", str(DOTA_RECIPE), str(dota_source), str(out), "-o", "labels=labelTxt",
                 "--no-progress"]) == 0
    assert main(["convert", str(DOTA_RECIPE), str(dota_source), str(test_set), "-o", "labels=labelTxt",
                 "--split", "val", "--no-progress"]) == 0
    assert main(["dedup", f"dota={out}", "--against", str(test_set), "--out", str(deduplicated),
                 "--no-progress"]) == 0
    copy = deduplicated / "dota"
    info = DatasetCard.load(copy / "README.md").data.to_dict()["dataset_info"]
    kept = {split: counts["rows_after"] for split, counts in
            json.loads((copy / "dedup_report.json").read_text())["splits"].items() if counts["rows_after"]}
    assert kept == {"train": 4}  # the fixture's images repeat; both validation images are in the test set
    assert info["splits"] == [{"name": "train", "num_examples": 4}]
    assert (copy / "images" / "contact_sheet.png").read_bytes() == (out / "images" / "contact_sheet.png").read_bytes()
    loaded = datasets.load_dataset(str(copy), cache_dir=str(tmp_path / "cache"))
    assert {name: split.num_rows for name, split in loaded.items()} == {"train": 4}
