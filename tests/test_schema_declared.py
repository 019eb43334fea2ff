"""The base columns are declared once (``rsdata.schema.BASE_COLUMNS``) and turned into the Arrow schema and the
card's ``dataset_info`` without importing ``datasets``: each derived form must equal what ``datasets`` makes of
the same features, and a conversion of a format without extra columns must not import ``datasets`` at all."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from huggingface_hub import DatasetCardData

from rsdata import schema
from rsdata.card import _add_dataset_info
from rsdata.report import BuildReport

REPO = Path(__file__).resolve().parents[1]


def test_base_arrow_schema_equals_the_one_datasets_makes_metadata_included():
    made_here = schema.base_arrow_schema()
    by_datasets = schema.base_features().arrow_schema
    assert made_here.equals(by_datasets, check_metadata=True)
    assert made_here.metadata == by_datasets.metadata  # byte for byte: it is written into every shard
    assert schema.output_arrow_schema() is made_here


def test_card_features_and_dataset_info_equal_what_datasets_writes():
    report = BuildReport(source_dataset="x", format="dota", caption_rule="b2c/1", settings={},
                         splits={"train": {"images": 3}, "validation": {"images": 1}})
    for split_bytes, download_size in (({"train": 10, "validation": 5}, 7), ({"train": 4}, None)):
        by_datasets, made_here = DatasetCardData(), DatasetCardData()
        _add_dataset_info(by_datasets, report, schema.base_features(), split_bytes, download_size)
        _add_dataset_info(made_here, report, schema.base_features_yaml(), split_bytes, download_size)
        assert made_here.to_dict() == by_datasets.to_dict()
        assert json.dumps(made_here.to_dict()) == json.dumps(by_datasets.to_dict())  # key order too


def test_extra_columns_named_like_base_columns_are_refused_without_datasets():
    import pytest

    with pytest.raises(ValueError, match="width"):
        schema.check_extra_columns({"width": object()})
    schema.check_extra_columns({"label": object()})
    schema.check_extra_columns(None)


def test_a_conversion_without_extra_columns_never_imports_datasets(tmp_path):
    """``datasets`` (about 1.4 s to import) is not needed to write shards or the card; the command line's
    --no-progress must not import it either. Checked in a fresh interpreter, with the output then loaded by it."""
    from tests.conftest import write_dota_item

    for index in range(3):
        write_dota_item(tmp_path / "src", f"P{index}", ["1 1 9 1 9 9 1 9 plane 0"])
    code = (
        "import sys\n"
        "from rsdata.cli import main\n"
        f"code = main(['convert', 'dota', {str(tmp_path / 'src')!r}, {str(tmp_path / 'out')!r}, '--no-progress'])\n"
        "print(code, 'datasets' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "0 False", done.stdout + done.stderr
    import datasets

    loaded = datasets.load_dataset(str(tmp_path / "out"))
    assert loaded["train"].num_rows == 3 and loaded["train"].features == schema.base_features()
    assert loaded["train"][0]["image"].size == (64, 48)
