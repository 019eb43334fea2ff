"""What the build counts beyond rows and skips: objects a format's rules left out, and geo provenance."""

from __future__ import annotations

import dataclasses
import json

import pyarrow.parquet as pq

from rsdata.cli import main
from rsdata.formats import register_format
from rsdata.formats.dota import DotaFormat
from tests.conftest import shard_path


@register_format
class _DotaWithRules(DotaFormat):
    """DOTA, pretending a rule left out two objects of every image and the images were georeferenced."""

    name = "test_dota_with_rules"
    description = "test only"

    def parse(self, item):
        record = super().parse(item)
        provenance = dataclasses.replace(record.provenance, crs="EPSG:32632",
                                         geo_transform=(500000.0, 0.5, 0.0, 4000000.0, 0.0, -0.5),
                                         footprint_wgs84="POLYGON ((9 36, 9.1 36, 9.1 36.1, 9 36.1, 9 36))")
        return record.replace(provenance=provenance, dropped_objects={"region_below_min_area": 2})


def test_dropped_objects_are_counted_in_report_and_card(dota_source, tmp_path):
    out = tmp_path / "out"
    assert main(["convert", "test_dota_with_rules", str(dota_source), str(out), "--no-progress"]) == 0
    report = json.loads((out / "build_report.json").read_text())
    assert report["objects_dropped"] == {"region_below_min_area": 16}  # 8 images x 2
    assert "| region_below_min_area | 16 |" in (out / "README.md").read_text()
    row = pq.read_table(shard_path(out)).to_pylist()[0]
    assert row["crs"] == "EPSG:32632" and row["geo_transform"][1] == 0.5
    assert row["footprint_wgs84"].startswith("POLYGON")


def test_plain_sources_leave_geo_columns_empty(dota_source, tmp_path):
    out = tmp_path / "out"
    assert main(["convert", "dota", str(dota_source), str(out), "--no-progress"]) == 0
    row = pq.read_table(shard_path(out)).to_pylist()[0]
    assert (row["crs"], row["geo_transform"], row["footprint_wgs84"]) == (None, None, None)
    assert json.loads((out / "build_report.json").read_text())["objects_dropped"] == {}
