"""The dataset card: what the Hub and datasets read from its header, and the statistics in its body."""

from __future__ import annotations

import json

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
