"""The remotecount format (rule remotecount/1): caption wording, which images qualify and which category is
counted (checked against counts made apart from the format), the candidate columns read back with
load_dataset, determinism, and the real DOTA label files."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rsdata.captions import CategoryVocabulary, caption_seed
from rsdata.cli import main
from rsdata.formats import get_format
from rsdata.records import ImageRecord, NothingToDescribe, ObjectAnnotation, Provenance
from tests.conftest import realdata
from tests.formats.generators.remotecount import write_source

# The 13 DOTA-v1.0 categories of RemoteCount, written out here rather than imported from the format.
THIRTEEN = {"plane", "ship", "storage-tank", "baseball-diamond", "tennis-court", "basketball-court",
            "ground-track-field", "harbor", "bridge", "helicopter", "roundabout", "soccer-ball-field", "swimming-pool"}
WORDS = "one two three four five six seven eight nine ten".split()


def convert(*args) -> int:
    return main(["convert", "remotecount", *map(str, args), "--no-progress"])


def qualifying(counts: Counter) -> list[str]:
    return sorted(label for label, n in counts.items() if label in THIRTEEN and 1 <= n <= 10)


def expected_choice(stem: str, counts: Counter, seed: int = 0, source: str = "remotecount") -> str:
    return random.Random(caption_seed(seed, source, stem)).choice(qualifying(counts))


def describe(labels: list[str], names=None):
    objects = [ObjectAnnotation(label, (1.0, 1.0, 5.0, 5.0)) for label in labels]
    record = ImageRecord(Path("x.png"), "x.png", Provenance("remotecount", "val", "x"), objects=tuple(objects))
    return get_format("remotecount")().describe(record, record.objects, None, seed=7,
                                                vocabulary=CategoryVocabulary(names))


@pytest.mark.parametrize("labels,caption", [
    (["tennis-court"], "There is one tennis court in the picture."),
    (["tennis-court"] * 3, "There are three tennis courts in the picture."),
    (["storage-tank"] * 10 + ["small-vehicle"] * 4, "There are ten storage tanks in the picture."),
    (["harbor"] * 2 + ["ship"] * 11, "There are two harbors in the picture."),
    (["soccer-ball-field"] * 4 + ["large-vehicle"], "There are four soccer ball fields in the picture."),
    (["ground-track-field"] * 7 + ["container-crane"] * 2, "There are seven ground track fields in the picture."),
])
def test_caption_and_candidates(labels, caption):
    description = describe(labels)
    assert description.captions == (caption,) and description.rule == "remotecount/1"
    extras = description.extras
    count, category = extras["count"], extras["count_category"]
    assert extras["count_candidates"][count - 1] == caption and len(extras["count_candidates"]) == 10
    assert extras["count_candidates"][0].startswith("There is one ") and " ten " in extras["count_candidates"][9]
    assert extras["count_candidates_digits"][count - 1] == caption.replace(f" {WORDS[count - 1]} ", f" {count} ")
    assert Counter(labels)[category] == count


@pytest.mark.parametrize("labels", [[], ["small-vehicle"] * 3, ["ship"] * 11, ["container-crane", "helipad"]])
def test_nothing_to_count(labels):
    result = describe(labels)
    assert isinstance(result, NothingToDescribe) and result.reason == "nothing_to_count"
    assert "appears 1 to 10 times" in result.message


def test_recipe_names_name_the_category():
    description = describe(["plane"] * 2, names={"plane": {"singular": "airplane", "plural": "airplanes"}})
    assert description.captions == ("There are two airplanes in the picture.",)
    assert description.extras["count_category"] == "plane"


def test_generated_dota_source(tmp_path):
    import datasets

    counts = write_source(tmp_path / "src", 60, seed=11)
    out = tmp_path / "out"
    assert convert(tmp_path / "src", out, "--split", "val", "--on-error", "skip") == 0
    rows = pq.read_table(out / "data").to_pylist()
    counted = {stem for stem, c in counts.items() if qualifying(c)}
    assert {r["source_id"] for r in rows} == counted and len(counted) > 20
    assert sum(len(qualifying(c)) > 1 for c in counts.values()) > 5, "the seeded choice should be exercised"
    for row in rows:
        stem, image_counts = row["source_id"], counts[row["source_id"]]
        category = expected_choice(stem, image_counts)
        count = image_counts[category]
        assert (row["count_category"], row["count"]) == (category, count)
        assert row["captions"] == [row["count_candidates"][count - 1]] and row["caption_rule"] == "remotecount/1"
        assert WORDS[count - 1] in row["captions"][0]
        assert len(row["objects"]) == sum(image_counts.values()), "every object of the image is kept"
        assert row["source_split"] == "val"
    report = json.loads((out / "build_report.json").read_text())
    assert report["skipped_per_reason"] == {"nothing_to_count": len(counts) - len(counted)}
    assert [entry["value"] for entry in report["value_counts"]["count"]] == sorted(
        {str(r["count"]) for r in rows}, key=int)

    dataset = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    features = dataset["validation"].features
    assert features["count"].dtype == "int32" and features["count_candidates"].length == 10
    row = dataset["validation"][0]
    assert row["count_candidates_digits"][row["count"] - 1] == row["captions"][0].replace(
        WORDS[row["count"] - 1], str(row["count"]))
    card = (out / "README.md").read_text()
    assert "RemoteCount-style counting set" in card and "| nothing_to_count |" in card
    assert "### Images per `count_category`" in card


def test_same_bytes_on_two_processes_and_seed_changes_choices(tmp_path):
    counts = write_source(tmp_path / "src", 40, seed=12)
    tiny = ("--max-shard-mb", "0.001", "--on-error", "skip")
    assert convert(tmp_path / "src", tmp_path / "one", *tiny) == 0
    assert convert(tmp_path / "src", tmp_path / "two", "--num-proc", "2", *tiny) == 0
    read = [pq.read_table(tmp_path / name / "data").to_pylist() for name in ("one", "two")]
    assert read[0] == read[1]
    assert convert(tmp_path / "src", tmp_path / "seed5", "--seed", "5", *tiny) == 0
    seeded = {r["source_id"]: r["count_category"] for r in pq.read_table(tmp_path / "seed5" / "data").to_pylist()}
    assert seeded == {stem: expected_choice(stem, counts[stem], seed=5) for stem in seeded}
    assert seeded != {r["source_id"]: r["count_category"] for r in read[0]}


def test_real_dota_label_files(tmp_path):
    from PIL import Image

    real = realdata("dota_labeltxt")
    source = tmp_path / "DOTA" / "val"
    (source / "images").mkdir(parents=True)
    (source / "labelTxt").mkdir()
    counts = {}
    for label_file in sorted((real / "labelTxt").glob("*.txt")):
        (source / "labelTxt" / label_file.name).symlink_to(label_file)
        fields = [line.split() for line in label_file.read_text().splitlines()[2:] if line.strip()]
        counts[label_file.stem] = Counter(f[8] for f in fields)
        real_image = real / "images" / f"{label_file.stem}.png"
        if real_image.exists():
            (source / "images" / real_image.name).symlink_to(real_image)
            continue
        # A blank stand-in just large enough for every object of the label file.
        width = int(max(float(v) for f in fields for v in f[0:8:2])) + 1
        height = int(max(float(v) for f in fields for v in f[1:8:2])) + 1
        Image.new("1", (width, height)).save(source / "images" / f"{label_file.stem}.png", compress_level=1)

    out = tmp_path / "out"
    assert convert(tmp_path / "DOTA", out, "--split", "val", "--on-error", "skip", "--allow-outside-links") == 0
    rows = {r["source_id"]: r for r in pq.read_table(out / "data").to_pylist()}
    assert set(rows) == {stem for stem, c in counts.items() if qualifying(c)}
    assert {"P0706", "P0770", "P2709"} <= set(rows) and "P1888" not in rows  # P1888: vehicles only
    assert rows["P0706"]["captions"] == ["There are five harbors in the picture."]
    assert rows["P2709"]["captions"] == ["There are six ships in the picture."]
    for stem, row in rows.items():
        category = expected_choice(stem, counts[stem])
        assert (row["count_category"], row["count"]) == (category, counts[stem][category])
    report = json.loads((out / "build_report.json").read_text())
    skipped = {Path(s["path"]).stem for s in report["skipped"]}
    assert skipped == {"P1088", "P1888"} and report["skipped_per_reason"] == {"nothing_to_count": 2}
