"""The rs_captions reader: the real precomp files of RSICD, RSITMD and UCM, generated Karpathy JSON, the real
RSICD image, layouts and options, and a table of bad inputs (layout errors and skippable records)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from rsdata import errors
from rsdata.cli import main
from rsdata.errors import OptionError, RecordError, SourceLayoutError
from rsdata.formats import get_format
from tests.conftest import image_bytes, realdata, shard_path
from tests.formats.generators.rs_captions import write_source


def convert(*args) -> int:
    return main(["convert", "rs_captions", *map(str, args), "--no-progress"])


def rows_of(out: Path) -> list[dict]:
    return pq.read_table(out / "data").to_pylist()


def plain_lines(path: Path) -> list[str]:
    """The file's lines, read independently of the format (the real files are ASCII with "\\n" endings)."""
    return path.read_bytes().decode("ascii").split("\n")[:-1]


REAL_SETS = [("rsicd_precomp", 1093, 5465), ("rsitmd_precomp", 452, 2260), ("ucm_precomp", 210, 1050)]


@pytest.mark.parametrize("folder,images,lines", REAL_SETS, ids=[s[0] for s in REAL_SETS])
def test_real_precomp_files_group_five_captions_per_image(tmp_path, folder, images, lines):
    real = realdata("rs_captions") / folder
    source = tmp_path / "src"
    (source / "images").mkdir(parents=True)
    for name in ("test_caps.txt", "test_filename.txt"):
        (source / name).symlink_to(real / name)
    captions, names = plain_lines(real / "test_caps.txt"), plain_lines(real / "test_filename.txt")
    assert len(captions) == len(names) == lines
    stand_in = image_bytes(16, 16)  # the real images are not shared; any decodable image will do
    for name in set(names):
        (source / "images" / name).write_bytes(stand_in)

    out = tmp_path / "out"
    assert convert(source, out, "--allow-outside-links") == 0  # the caption files are links to the samples
    rows = rows_of(out)
    assert len(rows) == images and sum(len(r["captions"]) for r in rows) == lines
    assert all(len(r["captions"]) == 5 for r in rows)
    assert {r["caption_rule"] for r in rows} == {"human"} and {r["source_split"] for r in rows} == {"test"}
    assert all(r["objects"] == [] and r["caption_templates"] == [] for r in rows)
    # Rows follow the first appearance of each image in the file.
    assert [r["source_id"] for r in rows] == list(dict.fromkeys(names))
    by_id = {r["source_id"]: r for r in rows}
    for index in (0, 1, images // 2, images - 1):
        name = names[index * 5]
        expected = [caption for caption, owner in zip(captions, names) if owner == name]
        assert by_id[name]["captions"] == expected, name
        assert by_id[name]["image"]["path"] == f"images/{name}"
    report = json.loads((out / "build_report.json").read_text())
    assert report["caption_rule"] == "human" and report["caption_rules"] == {"human": images}


def test_real_precomp_reads_back_with_load_dataset(tmp_path):
    import datasets

    real = realdata("rs_captions") / "ucm_precomp"
    source = tmp_path / "src"
    (source / "imgs").mkdir(parents=True)
    shutil.copy(real / "test_caps.txt", source)
    shutil.copy(real / "test_filename.txt", source)
    for name in set(plain_lines(real / "test_filename.txt")):
        (source / "imgs" / name).write_bytes(image_bytes(16, 16, fmt="TIFF"))
    out = tmp_path / "out"
    assert convert(source, out) == 0
    dataset = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "cache"))
    row = dataset["test"][0]
    assert row["source_id"] == "91.tif" and row["captions"][0] == "There is a piece of farmland ."
    assert row["image"].size == (16, 16) and row["image_encoding"] == "png" and row["source_image_format"] == "TIFF"
    assert "keeps the captions its annotators wrote" in (out / "README.md").read_text()


def test_real_rsicd_image_through_karpathy_json_with_filepath(tmp_path):
    stadium = realdata("rs_captions") / "rsicd_images" / "stadium_1.jpg"
    source = tmp_path / "RSICD"
    (source / "RSICD_images" / "sub").mkdir(parents=True)
    shutil.copy(stadium, source / "RSICD_images" / "sub" / "stadium_1.jpg")
    (source / "RSICD_images" / "playground_2.jpg").write_bytes(image_bytes(20, 20))
    records = [
        {"filename": "stadium_1.jpg", "filepath": "sub", "split": "train",
         "sentences": [{"raw": f"a stadium with a green field {i} .\n"} for i in range(5)]},
        {"filename": "playground_2.jpg", "filepath": "nowhere", "split": "val",
         "sentences": [{"raw": "a playground .\r\n"}, {"raw": "  kept as written  "}]},
    ]
    (source / "dataset_rsicd.json").write_text(json.dumps({"images": records}))
    out = tmp_path / "out"
    assert convert(source, out) == 0
    train = pq.read_table(shard_path(out, "train")).to_pylist()
    (row,) = train
    assert row["image"]["bytes"] == stadium.read_bytes() and row["image_encoding"] == "original"
    assert (row["width"], row["height"]) == (224, 224) and row["image"]["path"] == "RSICD_images/sub/stadium_1.jpg"
    assert row["captions"] == [f"a stadium with a green field {i} ." for i in range(5)]
    (other,) = pq.read_table(shard_path(out, "validation")).to_pylist()
    assert other["image"]["path"] == "RSICD_images/playground_2.jpg"  # filepath given but not there
    assert other["captions"] == ["a playground .", "  kept as written  "] and other["source_split"] == "val"


@pytest.mark.parametrize("layout", ["karpathy", "precomp"])
def test_generated_sources_in_both_layouts(tmp_path, layout):
    expected = write_source(tmp_path / "src", 40, seed=3, layout=layout)
    out = tmp_path / "out"
    assert convert(tmp_path / "src", out) == 0
    rows = rows_of(out)
    got = {(r["source_split"], r["source_id"]): r["captions"] for r in rows}
    assert got == expected
    assert {len(c) for c in got.values()} == {3, 5, 6}
    assert any("café" in c for captions in got.values() for c in captions)
    assert sorted(p.name.split("-")[0] for p in (out / "data").iterdir()) == ["test", "train", "validation"]


def test_options_split_images_dir_and_layout(tmp_path):
    source = tmp_path / "src"
    expected = write_source(source, 12, layout="precomp")
    (source / "images").rename(source / "pictures")
    out = tmp_path / "out"
    assert convert(source, out, "--split", "test", "-o", "images_dir=pictures") == 0
    assert {r["source_id"] for r in rows_of(out)} == {name for split, name in expected if split == "test"}

    write_source(source, 3, layout="karpathy", images=False)  # both layouts now: auto refuses, an option picks
    fmt = get_format("rs_captions")
    with pytest.raises(SourceLayoutError, match="holds both"):
        fmt.from_option_strings({}).list_items(source, None)
    items = fmt.from_option_strings({"layout": "karpathy", "images_dir": "pictures"}).list_items(source, None)
    assert len(items) == 3
    with pytest.raises(OptionError, match="layout='json'"):
        fmt.from_option_strings({"layout": "json"})
    with pytest.raises(OptionError, match="split\\(s\\) extra not found in .*; found: test, train, val"):
        fmt.from_option_strings({"layout": "precomp"}).list_items(source, ["extra"])
    # valid, val and validation all name the split written as validation
    assert {item.split for item in fmt.from_option_strings({"layout": "precomp"}).list_items(source, ["valid"])} \
        == {"val"}
    with pytest.raises(OptionError, match="must name a file inside"):
        fmt.from_option_strings({"json_file": "../x.json"}).list_items(source, None)


def test_tiling_is_refused_for_human_captions(tmp_path, capsys):
    write_source(tmp_path / "src", 3)
    assert convert(tmp_path / "src", tmp_path / "out", "--tile", "16") == 2
    assert "rule 'human'" in capsys.readouterr().err


def _karpathy(root: Path, records) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    path = root / "dataset_x.json"
    path.write_text(records if isinstance(records, str) else json.dumps({"images": records}))
    return path


def _precomp(root: Path, caps: str, names: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "test_caps.txt").write_text(caps)
    (root / "test_filename.txt").write_text(names)
    return root / "test_filename.txt"


GOOD = {"filename": "a.jpg", "split": "test", "sentences": [{"raw": "one ."}]}

LAYOUT_ERRORS = [
    ("not JSON", lambda r: _karpathy(r, '{"images": [\n  {"filename": }]}'), ":2: not valid JSON"),
    ("no images list", lambda r: _karpathy(r, '{"imgs": []}'), "expected an object with an 'images' list"),
    ("record not an object", lambda r: _karpathy(r, [GOOD, 3]), "images[1] is int"),
    ("no filename", lambda r: _karpathy(r, [{"split": "test", "sentences": []}]),
     "images[0] needs a non-empty text 'filename', got missing"),
    ("no split", lambda r: _karpathy(r, [GOOD, {"filename": "b.jpg", "sentences": []}]),
     "images[1] needs a non-empty text 'split'"),
    ("line counts differ", lambda r: _precomp(r, "one .\ntwo .\nthree .\n", "a.jpg\na.jpg\n"),
     "has 3 caption line(s) but"),
    ("empty file name line", lambda r: _precomp(r, "one .\ntwo .\n", "a.jpg\n\n"), "test_filename.txt:2: empty line"),
    ("no filename file", lambda r: (_precomp(r, "one .\n", "a.jpg\n").unlink(), r)[1],
     "has no companion test_filename.txt"),
    ("empty caps file", lambda r: _precomp(r, "", ""), "holds no caption"),
    ("no caption file", lambda r: (r / "images").mkdir(parents=True), "no caption file in"),
    ("two JSON files", lambda r: (_karpathy(r, [GOOD]), (r / "dataset_y.json").write_text("{}")),
     "expected one dataset*.json"),
]


@pytest.mark.parametrize("name,make,fragment", LAYOUT_ERRORS, ids=[e[0] for e in LAYOUT_ERRORS])
def test_layout_errors_name_file_and_problem(tmp_path, capsys, name, make, fragment):
    source = tmp_path / "src"
    make(source)
    assert convert(source, tmp_path / "out") == 1
    message = capsys.readouterr().err
    assert fragment in message and str(source) in message


RECORD_ERRORS = [
    # name, karpathy records or precomp (caps, names), reason, line, fragment
    ("empty caption line", ("one .\n\nthree .\nfour .\n", "b.jpg\nb.jpg\na.jpg\na.jpg\n"), errors.MALFORMED_LINE,
     2, "caption of image b.jpg is empty"),
    ("blank caption line", ("one .\n   \r\nthree .\n", "b.jpg\nb.jpg\na.jpg\n"), errors.MALFORMED_LINE, 2,
     "caption of image b.jpg is empty"),
    ("no sentences", [GOOD, {"filename": "b.jpg", "split": "test", "sentences": []}], errors.MALFORMED_LINE, None,
     "images[1] (b.jpg): no sentences"),
    ("sentences as a string", [GOOD, {"filename": "b.jpg", "split": "test", "sentences": "a caption ."}],
     errors.MALFORMED_LINE, None, "images[1] (b.jpg): 'sentences' is a string \"a caption .\", not a list; expected "
     "a non-empty list of {\"raw\": caption} objects, even for one caption"),
    ("sentence as a string", [GOOD, {"filename": "b.jpg", "split": "test", "sentences": ["a caption ."]}],
     errors.MALFORMED_LINE, None, "images[1] (b.jpg): sentences[0] is a string \"a caption .\", not an object"),
    ("sentence without raw", [GOOD, {"filename": "b.jpg", "split": "test",
                                     "sentences": [{"raw": "x"}, {"tokens": []}]}],
     errors.MALFORMED_LINE, None, "sentences[1] has no text 'raw'"),
    ("empty raw", [GOOD, {"filename": "b.jpg", "split": "test", "sentences": [{"raw": "\n"}]}],
     errors.MALFORMED_LINE, None, "sentences[0] 'raw' is empty"),
    ("file name twice", [{**GOOD, "filename": "b.jpg"}, GOOD, {**GOOD, "filename": "b.jpg"}],
     errors.MALFORMED_LINE, None, "images[0] (b.jpg): file name given again by images[2]"),
    ("outside the images folder", [GOOD, {**GOOD, "filename": "../b.jpg"}], errors.MALFORMED_LINE, None,
     "must be a relative path inside the images folder"),
    ("image missing", ("one .\ntwo .\n", "b.jpg\na.jpg\n"), errors.MISSING_IMAGE, 1,
     "image b.jpg not found (looked for images/b.jpg)"),
]


@pytest.mark.parametrize("name,data,reason,line,fragment", RECORD_ERRORS, ids=[e[0] for e in RECORD_ERRORS])
def test_bad_records_stop_or_are_skipped_and_counted(tmp_path, capsys, name, data, reason, line, fragment):
    source = tmp_path / "src"
    if isinstance(data, tuple):
        _precomp(source, *data)
        bad_file = source / "test_caps.txt"
    else:
        bad_file = _karpathy(source, data)
    (source / "images").mkdir()
    (source / "images" / "a.jpg").write_bytes(image_bytes(16, 16))
    if reason != errors.MISSING_IMAGE:
        (source / "images" / "b.jpg").write_bytes(image_bytes(16, 16))

    fmt = get_format("rs_captions").from_option_strings({})
    bad = [item for item in fmt.list_items(source, None) if item.source_id != "a.jpg"]
    with pytest.raises(RecordError) as caught:
        fmt.parse(bad[0])
    assert caught.value.reason == reason and caught.value.line == line and fragment in str(caught.value)
    assert str(caught.value).startswith(f"{bad_file}:{line}: " if line else f"{bad_file}: ")

    assert convert(source, tmp_path / "stopped") == 1
    assert fragment in capsys.readouterr().err
    assert convert(source, tmp_path / "skipped", "--on-error", "skip") == 0
    assert [r["source_id"] for r in rows_of(tmp_path / "skipped")] == ["a.jpg"]
    report = json.loads((tmp_path / "skipped" / "build_report.json").read_text())
    assert report["skipped_per_reason"] == {reason: 1}
    (entry,) = report["skipped"]
    assert entry["path"] == bad_file.name and entry["line"] == line and fragment in entry["message"]


def test_an_edited_caption_file_is_a_new_plan(tmp_path, capsys):
    source = tmp_path / "src"
    write_source(source, 10, layout="precomp")
    out = tmp_path / "out"
    assert convert(source, out) == 0
    caps = source / "test_caps.txt"
    caps.write_text(caps.read_text().replace(".", "!", 1))
    assert convert(source, out) == 1
    assert "holds a build of other inputs or options" in capsys.readouterr().err
    assert convert(source, out, "--overwrite") == 0
    assert any("!" in c for r in rows_of(out) for c in r["captions"])
