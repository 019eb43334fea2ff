"""Issue 16: the layout variants of the UAV recipes (AU-AIR, Stanford Drone, UAVDT, UAVid) and of Sydney-captions,
each as a generated fixture in that variant's layout (after the format's docstring, the spec), converted through
``recipe:NAME`` with the variant's format options, read back with ``datasets.load_dataset`` and compared with an
independent parse of the fixture's files; ``rsdata.detect.detect`` names the recipe and the variant first.

Sydney-captions shares its layouts with UCM-captions (``dataset.json``) and with RSICD/RSITMD/UCM (the precomp
text pairs): the fixture folder is named ``Sydney_captions`` as the release unpacks, which detection uses to rank
Sydney first among equal confidences."""

from __future__ import annotations

import glob
import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rsdata.cli import main
from tests.variant_fixtures import (SIZE, assert_only_this_variant_matches, boxes, recipe, write_image,
                                     write_text)



# ---- AU-AIR ---------------------------------------------------------------------------------------------------

AUAIR_CATEGORIES = ["Human", "Car", "Truck", "Van", "Motorbike", "Bicycle", "Bus", "Trailer"]
AUAIR_FRAMES = {"frame_20190829091111_x_0000000.jpg": [1, 1, 0], "frame_20190829091111_x_0000001.jpg": [6],
                "frame_20190829091111_x_0000002.jpg": [2, 3, 4, 7]}
AUAIR_PATHS = {"publisher": ("auair2019annotations/annotations.json", "auair2019data/images"),
               "example-subset": ("annotations.json", "images"),
               "images-flat": ("auair2019annotations/annotations.json", "images")}


def make_auair(root: Path, variant: str) -> None:
    annotations, images = AUAIR_PATHS[variant]
    records = []
    for name, classes in AUAIR_FRAMES.items():
        write_image(root / images / name)
        records.append({"image_name": name, "image_width:": float(SIZE), "image_height": float(SIZE),
                        "platform": "bebop2", "altitude": 12000.0,
                        "bbox": [{"top": y1, "left": x1, "height": y2 - y1, "width": x2 - x1, "class": c}
                                 for c, (x1, y1, x2, y2) in zip(classes, boxes(len(classes)))]})
    write_text(root / annotations, json.dumps({"info": {}, "licenses": [], "categories": AUAIR_CATEGORIES,
                                               "annotations": records}))


def parse_auair(root: Path, variant: str) -> Counter:
    data = json.loads((root / AUAIR_PATHS[variant][0]).read_text())
    return Counter(("train", data["categories"][box["class"]]) for record in data["annotations"]
                   for box in record["bbox"])


# ---- Stanford Drone ---------------------------------------------------------------------------------------------

SDD_VIDEOS = ("quad/video3", "bookstore/video0")
SDD_LABELS = ["Pedestrian", "Biker", "Skater", "Cart", "Car", "Bus"]
SDD_FRAMES = 61  # frames 0..60: the recipe's stride 30 keeps 0, 30 and 60


def sdd_lines(seed: int) -> str:
    rng = random.Random(seed)
    lines = []
    for track in range(4):
        label = SDD_LABELS[(track + seed) % len(SDD_LABELS)]
        x1, y1, x2, y2 = boxes(4)[track]
        for frame in (0, 1, 29, 30, 31, 60):
            lost = 1 if rng.random() < 0.2 else 0
            lines.append(f'{track} {x1} {y1} {x2} {y2} {frame} {lost} {rng.randint(0, 1)} {rng.randint(0, 1)} '
                         f'"{label}"')
    return "\n".join(lines) + "\n"


def write_video(path: Path) -> None:
    import av

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mov") as container:
        stream = container.add_stream("mpeg4", rate=30)
        stream.width = stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        for number in range(SDD_FRAMES):
            picture = np.full((SIZE, SIZE, 3), number * 4 % 256, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def make_stanford_drone(root: Path, variant: str) -> None:
    for k, video in enumerate(SDD_VIDEOS):
        write_text(root / "annotations" / video / "annotations.txt", sdd_lines(k))
        write_image(root / "annotations" / video / "reference.jpg")
        if variant == "publisher":
            write_video(root / "videos" / video / "video.mov")
        else:  # ffmpeg -start_number 0 %06d.jpg, every frame of the clip
            for number in range(SDD_FRAMES):
                write_image(root / "frames" / video / f"{number:06d}.jpg")


def parse_stanford_drone(root: Path, variant: str) -> Counter:
    stride = int(recipe("stanford_drone").format_options["frame_stride"])
    counts = Counter()
    for path in glob.glob(str(root / "annotations" / "*" / "*" / "annotations.txt")):
        for line in Path(path).read_text().splitlines():
            fields = line.split()
            if int(fields[5]) % stride == 0 and fields[6] == "0":
                counts[("train", fields[9].strip('"'))] += 1
    return counts


# ---- UAVDT ------------------------------------------------------------------------------------------------------

UAVDT_SEQUENCES = {"M0101": "train", "M0203": "test"}  # M0203 is one of the benchmark's test sequences


def make_uavdt(root: Path, variant: str) -> None:
    for k, sequence in enumerate(UAVDT_SEQUENCES):
        lines = []
        for frame in (1, 2, 11, 21):
            write_image(root / "UAV-benchmark-M" / sequence / f"img{frame:06d}.jpg")
            count = 1 + (frame + k) % 3
            for target, (x1, y1, x2, y2) in enumerate(boxes(count)):
                lines.append(f"{frame},{target + 1},{x1},{y1},{x2 - x1},{y2 - y1},1,1,{1 + (target + frame) % 3}")
        gt = root / "UAV-benchmark-MOTD_v1.0" / "GT"
        write_text(gt / f"{sequence}_gt_whole.txt", "\n".join(lines) + "\n")
        write_text(gt / f"{sequence}_gt.txt", "\n".join(",".join(line.split(",")[:8] + ["-1"]) for line in lines))
        write_text(gt / f"{sequence}_gt_ignore.txt", "1,-1,150,150,20,20,-1,-1,-1\n")


def parse_uavdt(root: Path, variant: str) -> Counter:
    stride = int(recipe("uavdt").format_options["frame_stride"])
    counts = Counter()
    for path in glob.glob(str(root / "UAV-benchmark-MOTD_v1.0" / "GT" / "*_gt_whole.txt")):
        split = UAVDT_SEQUENCES[Path(path).name[:5]]
        for line in Path(path).read_text().splitlines():
            fields = line.split(",")
            if (int(fields[0]) - 1) % stride == 0:
                counts[(split, {1: "car", 2: "truck", 3: "bus"}[int(fields[8])])] += 1
    return counts


# ---- UAVid ------------------------------------------------------------------------------------------------------

UAVID_COLOURS = {0: ((0, 0, 0), "background_clutter"), 1: ((128, 0, 0), "building"), 2: ((128, 64, 128), "road"),
                 3: ((0, 128, 0), "tree"), 4: ((128, 128, 0), "low_vegetation"), 5: ((64, 0, 128), "moving_car"),
                 6: ((192, 0, 192), "static_car"), 7: ((64, 64, 0), "human")}
UAVID_SEQUENCES = {"uavid_train": ["seq1", "seq2"], "uavid_val": ["seq16"]}
CELL, MASK = 24, 96


def uavid_mask(rng: random.Random) -> np.ndarray:
    """Background clutter (0) with separated rectangles of classes 1..7 (never touching)."""
    mask = np.zeros((MASK, MASK), dtype=np.uint8)
    for top in range(0, MASK, CELL):
        for left in range(0, MASK, CELL):
            if rng.random() < 0.25:
                continue
            x0, y0 = left + rng.randint(2, 6), top + rng.randint(2, 6)
            x1, y1 = rng.randint(x0 + 1, left + CELL - 3), rng.randint(y0 + 1, top + CELL - 3)
            mask[y0:y1, x0:x1] = rng.choice(range(1, 8))
    return mask


def make_uavid(root: Path, variant: str) -> None:
    rng = random.Random(21)
    for split, sequences in UAVID_SEQUENCES.items():
        for sequence in sequences:
            for frame in ("000000", "000100"):
                mask = uavid_mask(rng)
                colours = np.zeros((MASK, MASK, 3), dtype=np.uint8)
                for value, (colour, _) in UAVID_COLOURS.items():
                    colours[mask == value] = colour
                (root / split / sequence / "Labels").mkdir(parents=True, exist_ok=True)
                Image.fromarray(colours).save(root / split / sequence / "Labels" / f"{frame}.png")
                write_image(root / split / sequence / "Images" / f"{frame}.png", size=MASK)
    write_image(root / "uavid_test" / "seq21" / "Images" / "000000.png", size=MASK)  # no public labels


def parse_uavid(root: Path, variant: str) -> Counter:
    """8-connected components per colour, background clutter not described (the recipe's ignore)."""
    from scipy import ndimage

    lookup = {colour: name for colour, name in UAVID_COLOURS.values()}
    counts = Counter()
    for path in glob.glob(str(root / "*" / "*" / "Labels" / "*.png")):
        split = Path(path).relative_to(root).parts[0]
        pixels = np.asarray(Image.open(path).convert("RGB"))
        for colour in {tuple(int(v) for v in p) for p in pixels.reshape(-1, 3)}:
            if lookup[colour] == "background_clutter":
                continue
            _, number = ndimage.label(np.all(pixels == colour, axis=-1), structure=np.ones((3, 3)))
            counts[(split, lookup[colour])] += number
    return counts


# ---- Sydney-captions --------------------------------------------------------------------------------------------

SYDNEY_IMAGES = {"train": ["1.tif", "2.tif", "3.tif"], "val": ["4.tif"], "test": ["5.tif", "6.tif"]}


def sydney_captions_of(name: str) -> list[str]:
    return [f"caption {k} of image {name} ." for k in range(1 + int(name.split(".")[0]) % 5)]


def make_sydney_captions(root: Path, variant: str) -> None:
    for names in SYDNEY_IMAGES.values():
        for name in names:
            write_image(root / "imgs" / name, size=32)
    if variant == "karpathy":
        images = [{"filename": name, "imgid": n, "split": split,
                   "sentences": [{"raw": text, "tokens": text.split()} for text in sydney_captions_of(name)]}
                  for n, (split, name) in enumerate((s, x) for s, xs in SYDNEY_IMAGES.items() for x in xs)]
        write_text(root / "dataset.json", json.dumps({"images": images, "dataset": "sydney"}))
    else:
        for split, names in SYDNEY_IMAGES.items():
            pairs = [(name, text) for name in names for text in sydney_captions_of(name)]
            write_text(root / f"{split}_caps.txt", "".join(f"{text}\n" for _, text in pairs))
            write_text(root / f"{split}_filename.txt", "".join(f"{name}\n" for name, _ in pairs))


def parse_sydney_captions(root: Path, variant: str) -> dict:
    """Captions per (split, image) read back from the files written."""
    got: dict = {}
    if variant == "karpathy":
        for record in json.loads((root / "dataset.json").read_text())["images"]:
            got[(record["split"], record["filename"])] = [s["raw"] for s in record["sentences"]]
        return got
    for caps in sorted(root.glob("*_caps.txt")):
        split = caps.name[:-len("_caps.txt")]
        names = (root / f"{split}_filename.txt").read_text().splitlines()
        for name, text in zip(names, caps.read_text().splitlines()):
            got.setdefault((split, name.strip()), []).append(text)
    return got


FIXTURES = {
    "auair": (make_auair, parse_auair),
    "stanford_drone": (make_stanford_drone, parse_stanford_drone),
    "uavdt": (make_uavdt, parse_uavdt),
    "uavid": (make_uavid, parse_uavid),
    "sydney_captions": (make_sydney_captions, parse_sydney_captions),
}
#: Folder names as the releases unpack: Sydney-captions shares its layouts with the other caption sets.
FOLDER_NAMES = {"sydney_captions": "Sydney_captions", "uavid": "uavid_v1.5_official_release_image",
                "stanford_drone": "stanford_campus_dataset", "auair": "AU-AIR", "uavdt": "UAVDT"}
HUB = {"train": "train", "val": "validation", "test": "test"}

CASES = [(name, variant.name) for name in FIXTURES for variant in recipe(name).variants]


def test_every_variant_of_these_recipes_has_a_fixture():
    assert {name for name, _ in CASES} == set(FIXTURES)
    assert len(CASES) >= 9


def skip_without_pyav(name: str, variant_name: str) -> None:
    if (name, variant_name) == ("stanford_drone", "publisher"):
        pytest.importorskip("av")


@pytest.mark.parametrize("name,variant_name", CASES, ids=[f"{n}-{v}" for n, v in CASES])
def test_variant_fixture_converts_through_the_recipe(tmp_path, name, variant_name):
    import datasets

    skip_without_pyav(name, variant_name)
    entry = recipe(name)
    variant = next(v for v in entry.variants if v.name == variant_name)
    make, parse = FIXTURES[name]
    source = tmp_path / FOLDER_NAMES[name]
    make(source, variant_name)

    assert_only_this_variant_matches(entry, variant, source)

    expected = parse(source, variant_name)
    assert expected, "the fixture has objects or captions"
    args = ["convert", f"recipe:{name}", str(source), str(tmp_path / "out"), "--quiet", "--no-progress"]
    for key, value in variant.format_options.items():
        args += ["-o", f"{key}={value}"]
    assert main(args) == 0

    loaded = datasets.load_dataset(str(tmp_path / "out"), cache_dir=str(tmp_path / "cache"))
    if name == "sydney_captions":
        got = {(split, row["source_id"]): list(row["captions"]) for split in loaded for row in loaded[split]}
        assert got == {(HUB[split], image): captions for (split, image), captions in expected.items()}
        return
    got = Counter()
    for split in loaded:
        for row in loaded[split]:
            for obj in row["objects"]:
                got[(row["source_split"], obj["category"])] += 1
    assert got == expected, f"{name}/{variant_name}: converted {dict(got)}, parsed {dict(expected)}"


@pytest.mark.parametrize("name,variant_name", CASES, ids=[f"{n}-{v}" for n, v in CASES])
def test_rsdata_detect_names_the_recipe_and_variant_of_each_fixture(tmp_path, name, variant_name):
    from rsdata.detect import detect

    skip_without_pyav(name, variant_name)  # the content check decodes the sampled frames of the video
    source = tmp_path / FOLDER_NAMES[name]
    FIXTURES[name][0](source, variant_name)
    detection = detect(source)
    ranked = [(c.recipe, c.variant) for c in detection.candidates]
    assert ranked[0] == (name, variant_name), ranked
    assert 0.75 <= detection.best.confidence <= 1.0, detection.best.basis
