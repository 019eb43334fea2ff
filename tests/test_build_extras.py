"""The build's support for rows that are not box-captioned: human captions in any format, extra columns a format
declares (a ClassLabel named from the listing included) through schema, Parquet metadata, load_dataset, report
and card, and the errors for a format that breaks its own declaration."""

from __future__ import annotations

import json

import pyarrow.parquet as pq
import pytest

from rsdata.build import ConvertOptions, convert
from rsdata.cli import main
from rsdata.errors import OutputFolderError
from rsdata.formats import register_format
from rsdata.formats.dota import DotaFormat
from tests.conftest import write_dota_item


@register_format
class _DotaWithScenes(DotaFormat):
    """DOTA where images whose name ends in an odd digit come with human captions, and every row gets a
    ``scene`` label named from the listing plus a list column."""

    name = "test_dota_with_scenes"
    description = "test only"
    counted_columns = ("scene",)

    def list_items(self, root, splits):
        items = super().list_items(root, splits)
        self.scenes = sorted({f"scene-{item.source_id[-1]}" for item in items})
        return items

    def parse(self, item):
        record = super().parse(item)
        human = (f"A person wrote this about {item.source_id} .", "  second caption, kept as written  ")
        return record.replace(human_captions=human if int(item.source_id[-1]) % 2 else (),
                              extras={"scene": self.scenes.index(f"scene-{item.source_id[-1]}"),
                                      "tags": [item.source_id, "dota"]})

    def extra_features(self):
        from datasets import ClassLabel, List, Value

        return {"scene": ClassLabel(names=self.scenes), "tags": List(Value("string"))}


@register_format
class _DotaWithBadExtras(DotaFormat):
    name = "test_dota_with_bad_extras"
    description = "test only"

    def extra_features(self):
        from datasets import Value

        return {"scene": Value("string")}


@register_format
class _DotaWithClashingExtras(_DotaWithBadExtras):
    name = "test_dota_with_clashing_extras"

    def extra_features(self):
        from datasets import Value

        return {"source_id": Value("int32")}


def _source(root):
    write_dota_item(root, "A0", ["1 1 5 1 5 5 1 5 plane 0"])
    write_dota_item(root, "A1", [])  # no objects, but human captions: kept
    write_dota_item(root, "A2", ["1 1 5 1 5 5 1 5 ship 0", "9 9 20 9 20 20 9 20 ship 0"])
    write_dota_item(root, "A4", [])  # no objects, no human captions: no_objects
    return root


def test_human_captions_and_extra_columns_round_trip(tmp_path):
    import datasets

    out = tmp_path / "out"
    assert main(["convert", "test_dota_with_scenes", str(_source(tmp_path / "src")), str(out),
                 "--no-progress"]) == 0
    rows = {r["source_id"]: r for r in pq.read_table(out / "data").to_pylist()}
    assert set(rows) == {"A0", "A1", "A2"}
    assert rows["A1"]["captions"] == ["A person wrote this about A1 .", "  second caption, kept as written  "]
    assert rows["A1"]["caption_rule"] == "human" and rows["A1"]["caption_templates"] == [] and not rows["A1"]["objects"]
    assert rows["A2"]["caption_rule"] == "b2c/1" and len(rows["A2"]["captions"]) == 5
    assert pq.read_schema(next((out / "data").glob("*.parquet"))).names[-2:] == ["scene", "tags"]

    dataset = datasets.load_dataset(str(out), split="train", cache_dir=str(tmp_path / "cache"))
    assert dataset.features["scene"].names == ["scene-0", "scene-1", "scene-2", "scene-4"]
    assert [(r["source_id"], dataset.features["scene"].int2str(r["scene"]), r["tags"]) for r in dataset] == [
        ("A0", "scene-0", ["A0", "dota"]), ("A1", "scene-1", ["A1", "dota"]), ("A2", "scene-2", ["A2", "dota"])]

    report = json.loads((out / "build_report.json").read_text())
    assert report["caption_rules"] == {"b2c/1": 2, "human": 1} and report["extra_columns"] == ["scene", "tags"]
    assert report["skipped_per_reason"] == {"no_objects": 1}
    assert report["value_counts"] == {"scene": [{"value": f"scene-{k}", "splits": {"train": 1}} for k in "012"]}
    assert "### Images per `scene`" in (out / "README.md").read_text()


def test_class_names_enter_the_plan_fingerprint(tmp_path):
    source = _source(tmp_path / "src")
    out = tmp_path / "out"
    options = ConvertOptions(progress=False)
    convert("test_dota_with_scenes", source, out, options)
    write_dota_item(source, "A7", ["1 1 5 1 5 5 1 5 plane 0"])  # a new class name: the old build is not resumed
    with pytest.raises(OutputFolderError, match="holds a build of other inputs or options"):
        convert("test_dota_with_scenes", source, out, options)


def test_a_format_that_breaks_its_declaration_is_named(tmp_path):
    source = _source(tmp_path / "src")
    with pytest.raises(ValueError, match="'test_dota_with_bad_extras' gave image images/A0.jpg extra column values "
                                         "that do not match its extra_features\\(\\): missing \\['scene'\\]"):
        convert("test_dota_with_bad_extras", source, tmp_path / "out", ConvertOptions(progress=False))
    with pytest.raises(ValueError, match="extra column\\(s\\) source_id would replace base output columns"):
        convert("test_dota_with_clashing_extras", source, tmp_path / "out2", ConvertOptions(progress=False))


def test_tiles_of_human_captioned_records_are_refused(tmp_path, capsys):
    assert main(["convert", "test_dota_with_scenes", str(_source(tmp_path / "src")), str(tmp_path / "out"),
                 "--tile", "32", "--no-progress"]) == 2
    assert "its captions were written for the whole image" in capsys.readouterr().err
