"""The Stanford Drone Dataset reader: table-driven good, empty and bad lines; frame sampling; layouts; frames from
folders and from videos (PyAV, optional); the real sample; round trips through the command line."""

from __future__ import annotations

import importlib.util
import io
import json
import sys
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

import rsdata.formats.stanford_drone as sdd
from rsdata import errors
from rsdata.cli import main
from rsdata.errors import OptionError, RecordError, SourceLayoutError
from rsdata.formats import get_format
from rsdata.formats.stanford_drone import StanfordDroneOptions, load_annotations, parse_line
from tests.conftest import image_bytes, realdata
from tests.formats.generators.stanford_drone import frame_level, write_source, write_video

needs_av = pytest.mark.skipif(importlib.util.find_spec("av") is None,
                              reason="PyAV (av) is not installed: pip install 'rsclip[video]' to test video decoding")

GOOD_LINES = [
    # id, line, category (None: not described), bbox
    ("visible", '3 10 20 30 40 60 0 0 0 "Pedestrian"', "Pedestrian", (10, 20, 30, 40)),
    ("occluded is described", '3 10 20 30 40 60 0 1 0 "Biker"', "Biker", (10, 20, 30, 40)),
    ("generated is described", '3 10 20 30 40 60 0 0 1 "Skater"', "Skater", (10, 20, 30, 40)),
    ("lost is not described", '0 5 827 52 874 0 1 0 0 "Pedestrian"', None, None),
    ("lost with odd corners", '0 -5 900 -9 874 0 1 1 1 "Car"', None, None),
    ("unquoted label", "3 10 20 30 40 60 0 0 0 Cart", "Cart", (10, 20, 30, 40)),
    ("quoted label with spaces inside the quotes", '3 1 2 3 4 60 0 0 0 " Cart "', "Cart", (1, 2, 3, 4)),
    ("degenerate box", '3 7 8 7 8 60 0 0 0 "Bus"', "Bus", (7, 8, 7, 8)),
    ("tabs and padding", '  3\t10 20 30 40 60  0 0 0 "Car"  ', "Car", (10, 20, 30, 40)),
]


@pytest.mark.parametrize("name,line,category,bbox", GOOD_LINES, ids=[row[0] for row in GOOD_LINES])
def test_good_lines(name, line, category, bbox):
    obj = parse_line(line.split(None, 9), line, Path("annotations.txt"), 7)
    if category is None:
        assert obj is None
        return
    assert obj.category == category and obj.bbox == tuple(float(v) for v in bbox)
    assert obj.source_line == 7 and obj.polygon == () and obj.difficult is False


BAD_LINES = [
    # id, line (at sampled frame 30), reason, fragment
    ("nine fields", '3 10 20 30 40 30 0 0 0', errors.MALFORMED_LINE, "expected 10 fields"),
    ("extra field", '3 10 20 30 40 30 0 0 0 "Car" 1', errors.MALFORMED_LINE, "label (field 10) is '\"Car\" 1'"),
    ("empty label", '3 10 20 30 40 30 0 0 0 ""', errors.MALFORMED_LINE, "label (field 10) is '\"\"'"),
    ("float coordinate", '3 10.5 20 30 40 30 0 0 0 "Car"', errors.BAD_NUMBER, "xmin (field 2) is '10.5'"),
    ("text track id", 'a 10 20 30 40 30 0 0 0 "Car"', errors.BAD_NUMBER, "track_id (field 1) is 'a'"),
    ("lost flag 2", '3 10 20 30 40 30 2 0 0 "Car"', errors.BAD_NUMBER, "lost flag (field 7) is '2'"),
    ("occluded flag text", '3 10 20 30 40 30 0 x 0 "Car"', errors.BAD_NUMBER, "occluded flag (field 8) is 'x'"),
    ("inverted box", '3 30 20 10 40 30 0 0 0 "Car"', errors.BAD_NUMBER, "box (30, 20, 10, 40) has xmax < xmin"),
]


def write_annotations(root: Path, text: str | bytes, scene: str = "quad", video: str = "video3",
                      prefix: str = "annotations") -> Path:
    folder = root / prefix / scene / video if prefix else root / scene / video
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "annotations.txt"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    return path


@pytest.mark.parametrize("name,line,reason,fragment", BAD_LINES, ids=[row[0] for row in BAD_LINES])
def test_bad_lines_fail_only_their_frame_naming_file_and_line(tmp_path, name, line, reason, fragment):
    path = write_annotations(tmp_path, '1 1 1 5 5 0 0 0 0 "Car"\n1 1 1 5 5 30 0 0 0 "Car"\n'
                             f'{line}\n1 1 1 5 5 60 0 0 0 "Car"\n3 1 1 5 5 31 2 x 0 "not sampled"\n')
    source = get_format("stanford_drone")()
    items = {item.source_id: item for item in source.list_items(tmp_path, None)}
    assert sorted(items) == ["quad_video3_000000", "quad_video3_000030", "quad_video3_000060"]
    annotations = load_annotations(path, 30)
    assert annotations.frames[0][0].category == annotations.frames[60][0].category == "Car"
    with pytest.raises(RecordError) as caught:
        source.parse(items["quad_video3_000030"])
    error = caught.value
    assert error.reason == reason and error.line == 3
    assert str(error).startswith(f"{path}:3: ") and fragment in str(error), str(error)


LISTING_ERRORS = [
    ("too few fields for a frame", b'1 1 1 5 5 0 0 0 0 "Car"\n1 2 3 4\n', errors.MALFORMED_LINE, 2,
     "got 4, so the line's frame is unknown"),
    ("frame not a number", b'1 1 1 5 5 0 0 0 0 "Car"\n1 1 1 5 5 x1 0 0 0 "Car"\n', errors.BAD_NUMBER, 2,
     "frame (field 6) is 'x1'"),
    ("negative frame", b'1 1 1 5 5 -30 0 0 0 "Car"\n', errors.BAD_NUMBER, 1, "frame (field 6) is '-30'"),
    ("not utf-8", b'1 1 1 5 5 0 0 0 0 "Car"\n1 1 1 5 5 0 0 0 0 "V\xe9lo"\n', errors.NOT_UTF8, 2, "0xe9"),
]


@pytest.mark.parametrize("name,data,reason,line,fragment", LISTING_ERRORS, ids=[row[0] for row in LISTING_ERRORS])
def test_lines_without_a_frame_stop_the_listing(tmp_path, name, data, reason, line, fragment):
    path = write_annotations(tmp_path, data)
    with pytest.raises(RecordError) as caught:
        get_format("stanford_drone")().list_items(tmp_path, None)
    assert caught.value.reason == reason and caught.value.line == line
    assert str(caught.value).startswith(f"{path}:{line}: ") and fragment in str(caught.value)


def test_empty_file_is_one_reported_item_and_lost_only_frames_have_no_objects(tmp_path):
    empty = write_annotations(tmp_path, "\n\n", video="video0")
    write_annotations(tmp_path, '1 1 1 5 5 0 1 0 0 "Car"\n2 1 1 5 5 0 1 1 1 "Bus"\n1 1 1 5 5 7 0 0 0 "Car"\n',
                      video="video1")
    write_annotations(tmp_path, '1 1 1 5 5 7 0 0 0 "Car"\n', video="video2")  # no sampled frame: no item
    source = get_format("stanford_drone")()
    first, second = source.list_items(tmp_path, None)
    assert (first.source_id, second.source_id) == ("quad_video0_000000", "quad_video1_000000")
    with pytest.raises(RecordError) as caught:
        source.parse(first)
    assert caught.value.reason == errors.EMPTY_LABEL_FILE and str(caught.value).startswith(str(empty))
    assert load_annotations(second.annotation_path, 30).frames == {0: ()}


def test_frame_stride_option(tmp_path):
    write_annotations(tmp_path, "".join(f'1 1 1 5 5 {f} 0 0 0 "Car"\n' for f in range(66)))
    frames = {stride: [sdd.frame_number(i.source_id) for i in get_format("stanford_drone").from_option_strings(
        {"frame_stride": stride}).list_items(tmp_path, None)] for stride in ("30", "25", "1")}
    assert frames == {"30": [0, 30, 60], "25": [0, 25, 50], "1": list(range(66))}
    assert StanfordDroneOptions().frame_stride == 30
    for bad in ("0", "-3", "1.5", "every"):
        with pytest.raises(OptionError, match=f"option frame_stride='{bad}': expected a whole number of frames"):
            get_format("stanford_drone").from_option_strings({"frame_stride": bad})
    with pytest.raises(OptionError, match="no option 'stride'; valid options: annotations, frame_stride, frames_dir"):
        get_format("stanford_drone").from_option_strings({"stride": "5"})


def test_layouts_published_opentraj_and_missing_folders(tmp_path):
    source = get_format("stanford_drone")()
    with pytest.raises(SourceLayoutError, match="does not exist"):
        source.list_items(tmp_path / "nowhere", None)
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceLayoutError, match="looked for .*empty/annotations/<scene>/<video>/annotations.txt nor "
                       ".*empty/<scene>/<video>/annotations.txt"):
        source.list_items(tmp_path / "empty", None)

    opentraj = tmp_path / "opentraj"
    write_annotations(opentraj, '1 1 1 5 5 0 0 0 0 "Car"\n', scene="hyang", video="video10", prefix="")
    write_annotations(opentraj, '1 1 1 5 5 0 0 0 0 "Car"\n', scene="hyang", video="video2", prefix="")
    items = source.list_items(opentraj, None)
    assert [i.source_id for i in items] == ["hyang_video2_000000", "hyang_video10_000000"]
    assert items[0].image_name == "videos/hyang/video2/video.mov#frame=0" and items[0].image_path is None
    assert source.list_items(opentraj, ["test"])[0].split == "test"
    with pytest.raises(OptionError, match="no split folders"):
        source.list_items(opentraj, ["train", "test"])
    with pytest.raises(SourceLayoutError, match="annotations folder .*labels \\(option annotations=labels\\) does "
                       "not exist"):
        get_format("stanford_drone").from_option_strings({"annotations": "labels"}).list_items(opentraj, None)
    with pytest.raises(SourceLayoutError, match="frames folder .*frames \\(option frames_dir=frames\\) does not "
                       "exist; expected <frames_dir>/<scene>/<video>/frames/000030.jpg"):
        get_format("stanford_drone").from_option_strings({"frames_dir": "frames"}).list_items(opentraj, None)


def test_frames_from_a_folder_by_frame_number(tmp_path):
    write_annotations(tmp_path, "".join(f'1 1 1 5 5 {f} 0 0 0 "Car"\n' for f in (0, 30, 60, 90)))
    frames = tmp_path / "extracted" / "quad" / "video3"
    frames.mkdir(parents=True)
    (frames / "000000.jpg").write_bytes(image_bytes())
    (frames / "frame_30.png").write_bytes(image_bytes(fmt="PNG"))
    (frames / "000090.jpg").write_bytes(image_bytes())
    (frames / "reference.jpg").write_bytes(image_bytes())  # no frame number: not a frame
    source = get_format("stanford_drone").from_option_strings({"frames_dir": "extracted"})
    items = source.list_items(tmp_path, None)
    assert [i.image_name for i in items] == ["extracted/quad/video3/000000.jpg", "extracted/quad/video3/frame_30.png",
                                             "extracted/quad/video3/000060", "extracted/quad/video3/000090.jpg"]
    assert source.parse(items[1]).image_path == frames / "frame_30.png"
    with pytest.raises(RecordError) as caught:
        source.parse(items[2])
    assert caught.value.reason == errors.MISSING_IMAGE and "no frame image for frame 60" in str(caught.value)
    (frames / "90.png").write_bytes(image_bytes(fmt="PNG"))
    with pytest.raises(SourceLayoutError, match="two frame images for frame 90 in .*: 000090.jpg and 90.png"):
        source.list_items(tmp_path, None)


def test_annotation_files_are_read_once_per_process_when_parsing(tmp_path):
    write_source(tmp_path, 24, images=False)
    source = get_format("stanford_drone")()
    items = source.list_items(tmp_path, None)
    sdd._load_annotations.cache_clear()
    for item in items:
        with pytest.raises(RecordError):  # no videos: missing_image, after the annotations were read
            source.parse(item)
    assert sdd._load_annotations.cache_info().misses == 4


def independent_sdd_count(path: Path, stride: int = 30) -> Counter:
    """Described objects with plain string handling: lines of sampled frames that are not lost."""
    counts: Counter = Counter()
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) == 10 and int(parts[5]) % stride == 0 and parts[6] == "0":
            counts[parts[9].strip('"')] += 1
    return counts


def test_real_sample_counts_and_missing_frames_reported():
    root = realdata("sdd_annotations")
    annotation = root / "quad" / "video3" / "annotations.txt"
    source = get_format("stanford_drone")()
    items = source.list_items(root, None)
    assert [sdd.frame_number(i.source_id) for i in items] == list(range(0, 481, 30))
    frames = load_annotations(annotation, 30).frames
    parsed = Counter(o.category for objects in frames.values() for o in objects)
    assert parsed == independent_sdd_count(annotation) == Counter({"Pedestrian": 81})
    for obj in (o for objects in frames.values() for o in objects):  # inside the 1983 x 1088 reference frame
        x0, y0, x1, y1 = obj.bbox
        assert 0 <= x0 <= x1 <= 1983 and 0 <= y0 <= y1 <= 1088
    with pytest.raises(RecordError) as caught:
        source.parse(items[0])
    assert caught.value.reason == errors.MISSING_IMAGE and "videos/quad/video3/video.mov does not exist" in str(
        caught.value)


def test_real_sample_converts_to_no_rows_and_reports_missing_images(tmp_path):
    root = realdata("sdd_annotations")
    out = tmp_path / "out"
    # Every record left out: exit 1, no dataset.
    assert main(["convert", "stanford_drone", str(root), str(out), "--no-progress", "--on-error", "skip"]) == 1
    rows = [row for shard in sorted((out / "data").glob("*.parquet")) for row in pq.read_table(shard).to_pylist()]
    assert rows == []
    report = json.loads((out / "build_report.json").read_text())
    assert report["skipped_per_reason"] == {errors.MISSING_IMAGE: 17}
    assert {s["path"] for s in report["skipped"]} == {"quad/video3/annotations.txt"}


def test_round_trip_with_extracted_frames_through_the_command_line(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    expected = write_source(src, 21, seed=5)
    assert main(["convert", "stanford_drone", str(src), str(out), "--no-progress", "-o", "frames_dir=frames"]) == 0
    rows = [row for shard in sorted((out / "data").glob("*.parquet")) for row in pq.read_table(shard).to_pylist()]
    assert Counter(o["category"] for r in rows for o in r["objects"]) == expected
    assert all(len(r["captions"]) == 5 for r in rows)
    report = json.loads((out / "build_report.json").read_text())
    assert report["images"] + report["skipped_per_reason"].get(errors.NO_OBJECTS, 0) == 21
    assert set(report["skipped_per_reason"]) <= {errors.NO_OBJECTS}


def test_missing_pyav_is_an_option_error_with_the_install_hint(tmp_path, monkeypatch, capsys):
    write_annotations(tmp_path, '1 1 1 5 5 0 0 0 0 "Car"\n')
    video = tmp_path / "videos" / "quad" / "video3" / "video.mov"
    video.parent.mkdir(parents=True)
    video.write_bytes(b"not decoded in this test")
    monkeypatch.setitem(sys.modules, "av", None)  # makes `import av` fail
    with pytest.raises(OptionError, match="pip install 'rsclip\\[video\\]'"):
        get_format("stanford_drone")().list_items(tmp_path, None)
    assert main(["convert", "stanford_drone", str(tmp_path), str(tmp_path / "out"), "--no-progress"]) == 2
    assert "pip install 'rsclip[video]'" in capsys.readouterr().err
    # Pre-extracted frames need no decoder.
    frames = tmp_path / "frames" / "quad" / "video3"
    frames.mkdir(parents=True)
    (frames / "000000.jpg").write_bytes(image_bytes())
    (item,) = get_format("stanford_drone").from_option_strings({"frames_dir": "frames"}).list_items(tmp_path, None)
    assert item.image_path == frames / "000000.jpg"


@needs_av
def test_video_frames_are_decoded_exactly_once_per_process(tmp_path, monkeypatch):
    from PIL import Image

    write_source(tmp_path, 12, images=False, video=True)
    source = get_format("stanford_drone")()
    items = source.list_items(tmp_path, None)
    assert len(items) == 12 and all(i.image_path is not None and i.size_bytes == 64 * 48 for i in items)
    opened = []
    original = sdd._SequentialVideo
    monkeypatch.setattr(sdd, "_SequentialVideo", lambda path, key: opened.append(path) or original(path, key))
    for item in items:
        record = source.parse(item)
        image = Image.open(io.BytesIO(record.image_data))
        assert image.format == "JPEG" and image.size == (64, 48)  # video frames are stored as JPEG q95
        assert record.reencoded_from == "MOV"
        level = image.convert("L").getpixel((32, 24))
        assert abs(level - frame_level(sdd.frame_number(item.source_id))) <= 3, item.source_id  # the right frame
        assert record.image_path == item.image_path and record.image_name.endswith(
            f"video.mov#frame={sdd.frame_number(item.source_id)}")
    assert len(opened) == 4  # one per video
    source.parse(items[0])  # going back restarts that video
    assert len(opened) == 5


@needs_av
def test_frames_past_the_end_and_damaged_videos(tmp_path):
    write_annotations(tmp_path, "".join(f'1 1 1 5 5 {f} 0 0 0 "Car"\n' for f in (0, 30, 60)))
    video = tmp_path / "videos" / "quad" / "video3" / "video.mov"
    write_video(video, 40)
    source = get_format("stanford_drone")()
    items = source.list_items(tmp_path, None)
    assert source.parse(items[1]).image_data
    with pytest.raises(RecordError) as caught:
        source.parse(items[2])
    assert caught.value.reason == errors.MISSING_IMAGE and "video has 40 frames (0 to 39); frame 60 is past its end" \
        in str(caught.value) and str(caught.value).startswith(str(video))
    video.write_bytes(b"\x00" * 64)
    (item,) = source.list_items(tmp_path, None)[:1]
    assert item.size_bytes == 0
    with pytest.raises(RecordError) as caught:
        source.parse(item)
    assert caught.value.reason == errors.CORRUPT_IMAGE and str(caught.value).startswith(str(video))


@needs_av
def test_round_trip_with_decoded_video_frames_through_the_command_line(tmp_path):
    src, out = tmp_path / "src", tmp_path / "out"
    expected = write_source(src, 9, seed=2, images=False, video=True)
    assert main(["convert", "stanford_drone", str(src), str(out), "--no-progress", "--num-proc", "2"]) == 0
    rows = [row for shard in sorted((out / "data").glob("*.parquet")) for row in pq.read_table(shard).to_pylist()]
    assert Counter(o["category"] for r in rows for o in r["objects"]) == expected
    assert all(r["source_image_format"] == "MOV" and r["image_encoding"] == "jpeg"
               and r["image"]["bytes"].startswith(b"\xff\xd8") and r["image"]["path"].startswith("videos/")
               for r in rows)


def test_a_build_begun_before_frames_were_stored_as_jpeg_is_not_resumed(tmp_path, monkeypatch, capsys):
    """Frames became JPEG in output revision 2: a build folder planned by revision 1 (PNG frames) must not be
    resumed into a mix of PNG and JPEG shards; the same command is refused and --overwrite rebuilds."""
    from rsdata.build import ConvertOptions, make_plan

    src, out = tmp_path / "src", tmp_path / "out"
    write_source(src, 6, seed=3)
    frames = StanfordDroneOptions(frames_dir="frames")
    fmt = get_format("stanford_drone")
    options = ConvertOptions(progress=False)
    current = make_plan(fmt(frames), src, options).fingerprint
    monkeypatch.setattr(fmt, "output_revision", 1)
    earlier = make_plan(fmt(frames), src, options).fingerprint
    assert earlier != current
    assert main(["convert", "stanford_drone", str(src), str(out), "--no-progress", "-o", "frames_dir=frames"]) == 0  # as revision 1
    (out / "README.md").unlink()  # as if that build had been stopped before its card
    monkeypatch.undo()
    assert main(["convert", "stanford_drone", str(src), str(out), "--no-progress", "-o", "frames_dir=frames"]) == 1
    assert "holds a build of other inputs or options" in capsys.readouterr().err
    assert main(["convert", "stanford_drone", str(src), str(out), "--no-progress", "-o", "frames_dir=frames", "--overwrite"]) == 0
