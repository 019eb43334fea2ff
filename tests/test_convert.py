"""`rsdata convert` end to end: layout, load_dataset round trip, determinism, bad input, resume, real samples."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rsdata.cli import main
from tests.conftest import image_bytes, realdata, shard_path, write_dota_item

REPO = Path(__file__).resolve().parents[1]


def convert(*args) -> int:
    return main(["convert", "dota", *map(str, args), "--no-progress"])


def output_files(folder: Path) -> dict[str, bytes]:
    """Every file of a build except the resume state, by relative path."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and ".rsdata" not in p.parts}


def load(folder: Path, tmp_path: Path, **kwargs):
    import datasets

    return datasets.load_dataset(str(folder), cache_dir=str(tmp_path / "hf-cache"), **kwargs)


def test_layout_and_load_dataset_round_trip(dota_source, tmp_path, capsys):
    out = tmp_path / "out"
    assert convert(dota_source, out) == 0
    printed = capsys.readouterr().out
    assert "Converted 8 image(s) (train 6, validation 2)" in printed
    digest = json.loads((out / "build_report.json").read_text())["content_digest"]
    assert len(digest) == 16
    assert sorted(output_files(out)) == ["README.md", "build_report.json",
                                         f"data/train-00000-of-00001-{digest}.parquet",
                                         f"data/validation-00000-of-00001-{digest}.parquet",
                                         "images/contact_sheet.png"]

    dataset = load(out, tmp_path)
    assert {name: len(split) for name, split in dataset.items()} == {"train": 6, "validation": 2}
    row = dataset["train"][2]
    assert row["source_id"] == "P0002" and row["source_split"] == "train" and row["source_dataset"] == "dota"
    assert row["image"].size == (64, 48) and (row["width"], row["height"]) == (64, 48)
    assert len(row["captions"]) == 5 and row["caption_rule"] == "b2c/1" and len(row["caption_templates"]) == 5
    assert [o["category"] for o in row["objects"]] == ["storage-tank", "storage-tank", "plane"]
    assert row["objects"][0]["bbox"] == [20.0, 15.0, 40.0, 30.0]
    assert row["objects"][0]["polygon"] == [20, 15, 40, 15, 40, 30, 20, 30]
    assert row["tile_offset"] == [0, 0] and row["license"] == "other"
    assert dataset["validation"][0]["source_split"] == "val"

    streamed = load(out, tmp_path, streaming=True)
    rows = list(streamed["train"])
    assert [r["source_id"] for r in rows] == [r["source_id"] for r in dataset["train"]]
    assert [r["captions"] for r in rows] == dataset["train"]["captions"]
    assert rows[0]["image"].size == (64, 48)


def test_jpeg_and_png_bytes_pass_through_untouched(dota_source, tmp_path):
    out = tmp_path / "out"
    assert convert(dota_source, out, "--split", "train") == 0
    table = pq.read_table(shard_path(out, "train"))
    for row in table.to_pylist():
        source = dota_source / "train" / row["image"]["path"].split("/", 1)[1]
        assert row["image"]["bytes"] == source.read_bytes()
        assert row["image_encoding"] == "original"
        assert row["source_image_format"] == ("PNG" if source.suffix == ".png" else "JPEG")


def test_tiff_and_oversized_images_are_reencoded_and_boxes_scaled(tmp_path):
    source = tmp_path / "src"
    write_dota_item(source, "T1", ["10 10 30 10 30 20 10 20 ship 0"], image=image_bytes(64, 48, "TIFF"),
                    suffix=".tif")
    write_dota_item(source, "T2", ["10 10 30 10 30 20 10 20 ship 0"], image=image_bytes(64, 48, "JPEG"))
    out = tmp_path / "out"
    assert convert(source, out, "--max-side", "32") == 0
    rows = pq.read_table(shard_path(out, "train")).to_pylist()
    for row in rows:
        assert row["image_encoding"] == "png" and (row["width"], row["height"]) == (32, 24)
        assert row["objects"][0]["bbox"] == [5.0, 5.0, 15.0, 10.0]
        assert row["image_scale"] == [0.5, 0.5]
    assert [r["source_image_format"] for r in rows] == ["TIFF", "JPEG"]


def many_item_source(root: Path, count: int = 9) -> Path:
    for index in range(count):
        lines = [f"{2 + index} 2 {12 + index} 2 {12 + index} 12 {2 + index} 12 plane 0"] * (index % 4 + 1)
        lines += ["30 20 40 20 40 30 30 30 ship 0"] * (index % 3)
        write_dota_item(root, f"M{index:03d}", lines, image=image_bytes(64, 48, "JPEG", color=(index * 20, 80, 40)))
    return root


def test_same_bytes_with_one_and_two_processes(tmp_path):
    source = many_item_source(tmp_path / "src")
    tiny_shards = ("--max-shard-mb", "0.001")  # about one image per shard: several shards to share out
    assert convert(source, tmp_path / "one", "--num-proc", "1", *tiny_shards) == 0
    assert convert(source, tmp_path / "two", "--num-proc", "2", *tiny_shards) == 0
    one, two = output_files(tmp_path / "one"), output_files(tmp_path / "two")
    assert len([name for name in one if name.endswith(".parquet")]) > 3
    assert one == two
    copy = shutil.copytree(source, tmp_path / "copy", copy_function=shutil.copyfile)  # new paths and file times
    assert convert(copy, tmp_path / "from-copy", *tiny_shards) == 0
    assert output_files(tmp_path / "from-copy") == one
    assert convert(source, tmp_path / "seed1", "--seed", "1", *tiny_shards) == 0
    captions = [pq.read_table(tmp_path / d / "data").column("captions").to_pylist() for d in ("one", "seed1")]
    assert captions[0] != captions[1]


BAD_INPUTS = [
    # name, object lines (or raw text/bytes) of the bad item, image, extra args, reason, line, message fragment
    ("truncated line", ["1 1 5 1 5 5 1 5 ship 0", "1054 1028 1063 1011 11"], None, [], "malformed_line", 4,
     "got 5 field(s)"),
    ("non-numeric coordinate", ["1 1 5 1 5 5 1 5 ship 0", "1 1 5 1 five 5 1 5 ship 0"], None, [], "bad_number", 4,
     "coordinate 5 is 'five'"),
    ("polygon outside the image", ["100 100 110 100 110 110 100 110 ship 0"], None, [], "object_outside_image", 3,
     "outside the 64 x 48 image"),
    ("missing image", ["1 1 5 1 5 5 1 5 ship 0"], b"", [], "missing_image", None, "label file has no image"),
    ("corrupt image", ["1 1 5 1 5 5 1 5 ship 0"], image_bytes(256, 256)[:-40], [], "corrupt_image", None,
     "JPEG is truncated"),
    ("empty label file", b"", None, [], "empty_label_file", None, "label file is empty"),
    ("label file not UTF-8", b"imagesource:GF\ngsd:1\n1 1 5 1 5 5 1 5 b\xe2teau 0\n", None, [], "not_utf8", 3,
     "not UTF-8"),
    ("image over the pixel limit", ["1 1 5 1 5 5 1 5 ship 0"], image_bytes(80, 80), ["--max-pixels", "4000"],
     "image_too_large", None, "over the limit of 4,000"),
]


@pytest.mark.parametrize("name,lines,image,extra,reason,line,fragment", BAD_INPUTS,
                         ids=[row[0] for row in BAD_INPUTS])
def test_bad_input_stops_with_file_line_and_problem_or_is_skipped_and_counted(
        tmp_path, capsys, name, lines, image, extra, reason, line, fragment):
    source = tmp_path / "src"
    write_dota_item(source, "A_good", ["1 1 5 1 5 5 1 5 plane 0"])
    write_dota_item(source, "B_bad", lines, image=image)
    bad_file = source / ("images/B_bad.jpg" if reason in ("corrupt_image", "image_too_large") else "labelTxt/B_bad.txt")

    out = tmp_path / "out"
    assert convert(source, out, *extra) == 1
    error = capsys.readouterr().err
    location = f"{bad_file}:{line}:" if line else f"{bad_file}:"
    assert location in error and fragment in error
    assert not list((out / "data").glob("*.parquet")), "no shard may carry a final name after a failed run"
    assert not list((out / "data").glob(".*")), "temporary pieces are removed"

    skipped = tmp_path / "skipped"
    assert convert(source, skipped, "--on-error", "skip", *extra) == 0
    summary = capsys.readouterr().out
    assert f"Left out 1 image(s): {reason} 1" in summary and "B_bad" in summary
    report = json.loads((skipped / "build_report.json").read_text())
    assert report["images"] == 1 and report["skipped_per_reason"] == {reason: 1}
    (entry,) = report["skipped"]
    assert entry["reason"] == reason and entry["line"] == line and fragment in entry["message"]
    assert entry["path"] == bad_file.relative_to(source).as_posix()
    assert f"| {reason} | 1 |" in (skipped / "README.md").read_text()


def test_images_without_objects_are_counted_not_captioned(tmp_path):
    source = tmp_path / "src"
    write_dota_item(source, "A", ["1 1 5 1 5 5 1 5 plane 0"])
    write_dota_item(source, "B", [])  # headers only
    out = tmp_path / "out"
    assert convert(source, out) == 0
    report = json.loads((out / "build_report.json").read_text())
    assert report["images"] == 1 and report["skipped_per_reason"] == {"no_objects": 1}


KILL_AFTER = """
import os, signal, sys
import rsdata.build as build
calls = {"n": 0}
original = build.prepare_image
def prepare_then_die(*args, **kwargs):
    calls["n"] += 1
    if calls["n"] == int(sys.argv[1]):
        os.kill(os.getpid(), signal.SIGKILL)  # as hard as a stop can be: no clean-up runs
    return original(*args, **kwargs)
build.prepare_image = prepare_then_die
from rsdata.cli import main
main(["convert", "dota", sys.argv[2], sys.argv[3], "--max-shard-mb", "0.002", "--no-progress"])
"""


def test_killed_run_resumes_to_identical_bytes(tmp_path):
    source = many_item_source(tmp_path / "src", count=12)
    reference, resumed = tmp_path / "reference", tmp_path / "resumed"
    assert main(["convert", "dota", str(source), str(reference), "--max-shard-mb", "0.002", "--no-progress"]) == 0
    shards = sorted((reference / "data").glob("*.parquet"))
    assert len(shards) >= 4

    killed = subprocess.run([sys.executable, "-c", KILL_AFTER, "8", str(source), str(resumed)], cwd=REPO,
                            capture_output=True, text=True)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    staged = sorted((resumed / ".rsdata" / "staging").glob("*.parquet"))
    assert 0 < len(staged) < len(shards)
    assert not (resumed / "data").exists(), "nothing is published before the whole build is done"
    import datasets
    with pytest.raises(FileNotFoundError, match="rsdata build unfinished - run the same rsdata command again"):
        datasets.load_dataset(str(resumed))  # the default cache, as a user reads it

    assert main(["convert", "dota", str(source), str(resumed), "--max-shard-mb", "0.002", "--no-progress"]) == 0
    assert output_files(resumed) == output_files(reference)
    assert not [p for p in (resumed / "data").iterdir() if p.name.startswith(".")]


def test_output_folder_protection(dota_source, tmp_path, capsys):
    out = tmp_path / "out"
    assert convert(dota_source, out) == 0
    first = output_files(out)
    assert convert(dota_source, out) == 0, "the same command again is a no-op resume"
    assert output_files(out) == first
    assert "already done" in capsys.readouterr().out

    assert convert(dota_source, out, "--seed", "3") == 1
    assert "holds a build of other inputs or options" in capsys.readouterr().err
    assert convert(dota_source, out, "--seed", "3", "--overwrite") == 0
    assert output_files(out) != first

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    assert convert(dota_source, foreign, "--overwrite") == 1
    assert "holds no rsdata build" in capsys.readouterr().err
    assert (foreign / "notes.txt").read_text() == "mine"


def test_split_and_limit(dota_source, tmp_path):
    out = tmp_path / "out"
    assert convert(dota_source, out, "--split", "train", "--limit", "2") == 0
    report = json.loads((out / "build_report.json").read_text())
    assert report["splits"] == {"train": {"images": 2, "shards": 1}}


def test_bad_options_are_usage_errors(dota_source, tmp_path, capsys):
    assert convert(dota_source, tmp_path / "o", "--num-proc", "0") == 2
    assert "--num-proc must be at least 1" in capsys.readouterr().err
    assert main(["convert", "nosuch", str(dota_source), str(tmp_path / "o")]) == 2
    error = capsys.readouterr().err
    assert "unknown format or dataset recipe 'nosuch'; known formats: " in error and "dota" in error
    assert convert(dota_source, tmp_path / "o", "-o", "labels") == 2


def test_progress_bar_and_formats_listing(dota_source, tmp_path, capsys):
    assert main(["convert", "dota", str(dota_source), str(tmp_path / "out")]) == 0
    assert "8/8" in capsys.readouterr().err
    assert main(["formats"]) == 0
    listed = {line.split()[0]: line.split(None, 1)[1] for line in capsys.readouterr().out.splitlines()}
    assert listed["dota"].startswith("DOTA labelTxt")
    from rsdata.formats import available_formats

    assert sorted(listed) == [f.name for f in available_formats()]
    assert all(description.strip() for description in listed.values())


def test_real_dota_samples(tmp_path, capsys):
    from rsdata.captions import box_to_caption, caption_seed
    from rsdata.records import ObjectAnnotation
    from tests.formats.test_dota import independent_dota_count

    root = realdata("dota_labeltxt")
    out = tmp_path / "out"
    assert convert(root, out) == 1, "label files without an image are an error by default"
    assert "P0706.txt: label file has no image" in capsys.readouterr().err

    assert convert(root, out, "--on-error", "skip") == 0
    summary = capsys.readouterr().out
    assert "Left out 6 image(s): missing_image 6" in summary
    report = json.loads((out / "build_report.json").read_text())
    assert report["skipped_per_reason"] == {"missing_image": 6}
    assert sorted(s["path"] for s in report["skipped"]) == [
        f"labelTxt/{stem}.txt" for stem in ("P0706", "P0770", "P1088", "P1234", "P2598", "P2709")]

    (row,) = pq.read_table(shard_path(out, "train")).to_pylist()
    assert row["source_id"] == "P1888" and (row["width"], row["height"]) == (712, 557)
    assert row["image"]["bytes"] == (root / "images/P1888.png").read_bytes()
    expected = independent_dota_count(root / "labelTxt/P1888.txt")
    assert Counter(o["category"] for o in row["objects"]) == expected
    assert report["objects_per_category"] == dict(sorted(expected.items()))

    objects = [ObjectAnnotation(o["category"], tuple(o["bbox"])) for o in row["objects"]]
    again = box_to_caption(objects, 712, 557, seed=caption_seed(0, "dota", "P1888", (0, 0)))
    assert row["captions"] == list(again.captions) and len(row["captions"]) == 5
    assert row["caption_templates"] == list(again.template_ids)


def test_bad_input_with_two_processes(tmp_path, capsys):
    source = many_item_source(tmp_path / "src", count=8)
    write_dota_item(source, "M005", ["1 1 5 1 5 5 1 5 ship 0", "1 2 3"])  # replaces a good label file
    tiny_shards = ("--max-shard-mb", "0.001")
    out = tmp_path / "out"
    assert convert(source, out, "--num-proc", "2", *tiny_shards) == 1
    assert f"{source / 'labelTxt/M005.txt'}:4: expected 8 coordinates" in capsys.readouterr().err
    assert not list((out / ".rsdata" / "staging").glob(".*")), "temporary pieces of stopped workers are removed"
    assert not (out / "data").exists() or not list((out / "data").iterdir()), "a stopped build publishes nothing"

    assert convert(source, out, "--num-proc", "2", "--on-error", "skip", *tiny_shards) == 0, \
        "the skip run resumes what the stopped run finished"
    assert convert(source, tmp_path / "one", "--on-error", "skip", *tiny_shards) == 0
    assert output_files(out) == output_files(tmp_path / "one")
