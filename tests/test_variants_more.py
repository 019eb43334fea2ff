"""Recipe variants beyond the publishers' layouts (issue 16, items 2-4), each on a generated fixture converted
through the recipe with the variant's format options given explicitly (``-o`` from the recipe's ``variants:``
entry; the detect engine is not used) and read back with ``datasets.load_dataset``, checked against an
independent parse of what was written:

- EuroSAT MS: 13-band 16-bit GeoTIFF class folders (variants ``ms`` and ``torchgeo-ms``), shown through bands
  4,3,2 with a 2-98 percentile stretch and stored as PNG;
- a MillionAID-like 3-level class tree (``class_depth=3``), and the depth advice of the layout errors;
- JSON-lines captions (``rsicd`` variant ``jsonl``), per-line errors;
- the ISPRS ground truth unpacked as torchgeo does (``potsdam``/``vaihingen`` variant ``torchgeo``): labels flat
  in the root beside the image folder.

Last, ``rsdata.detect.detect`` names the recipe and variant of each of these fixtures first (folders named as users
keep them: the JSON-lines captions are RSICD's only by the folder's name, ``RSICD/``).
"""

from __future__ import annotations

import io
import json
import random
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rsdata.cli import main
from rsdata.errors import SourceLayoutError
from rsdata.formats import get_format
from rsdata.recipe import load_dataset_recipe
from tests.conftest import image_bytes
from tests.variant_fixtures import assert_only_this_variant_matches

SIZE, CELL = 96, 24


def variant_options(recipe: str, variant: str) -> list[str]:
    """``-o KEY=VALUE`` for the options of one of the recipe's variants (that its globs describe the fixture is
    checked apart, :func:`assert_variant_matches`)."""
    chosen = next(v for v in load_dataset_recipe(recipe).variants if v.name == variant)
    return [arg for key, value in chosen.format_options.items() for arg in ("-o", f"{key}={value}")]


def assert_variant_matches(recipe: str, variant: str, source: Path) -> None:
    """The variant's globs describe ``source`` (every match glob finds a path, no exclude glob does), and no other
    variant of the recipe claims it."""
    entry = load_dataset_recipe(recipe)
    assert_only_this_variant_matches(entry, next(v for v in entry.variants if v.name == variant), source)


def convert(spec: str, source: Path, out: Path, *extra: str) -> int:
    return main(["convert", spec, str(source), str(out), "--no-progress", *extra])


def load(out: Path, cache: Path) -> dict[str, list[dict]]:
    import datasets

    loaded = datasets.load_dataset(str(out), cache_dir=str(cache))
    return {split: list(loaded[split]) for split in loaded}


def made_split(names_per_class: dict[str, list[str]]) -> dict[str, Counter]:
    """The class_folders split computed apart from the format: per class, file names in text order, the first
    floor(0.8 n) train, the rest test. Returns images per class per split."""
    counts = {"train": Counter(), "test": Counter()}
    for class_name, names in names_per_class.items():
        cut = 4 * len(names) // 5
        counts["train"][class_name] += cut
        counts["test"][class_name] += len(names) - cut
    return {split: c for split, c in counts.items() if sum(c.values())}


# ---------------------------------------------------------------------------------------------------------------
# EuroSAT MS: 13-band GeoTIFF class folders


def write_ms_tiff(path: Path, rng: np.random.Generator) -> np.ndarray:
    import rasterio
    from rasterio.transform import from_origin

    pixels = rng.integers(0, 4000, size=(13, 16, 16), dtype=np.uint16)
    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="GTiff", width=16, height=16, count=13, dtype="uint16",
                       crs="EPSG:32632", transform=from_origin(500000, 5000000, 10, 10)) as dataset:
        dataset.write(pixels)
    return pixels


def expected_rgb(pixels: np.ndarray, bands=(4, 3, 2)) -> np.ndarray:
    """The documented picture, computed apart from rsdata.raster: per band, 2nd..98th percentile to 0..255."""
    out = []
    for band in bands:
        values = pixels[band - 1].astype(np.float64)
        low, high = np.percentile(values, [2, 98])
        out.append(np.clip(np.rint((values - low) * 255.0 / (high - low)), 0, 255))
    return np.stack(out, axis=-1).astype(np.uint8)


def write_eurosat_ms(root: Path, seed: int) -> tuple[dict[str, list[str]], dict[str, np.ndarray]]:
    rng = np.random.default_rng(seed)
    written, pixels = {}, {}
    for class_name, count in (("AnnualCrop", 5), ("Forest", 3), ("SeaLake", 2)):
        written[class_name] = []
        for number in range(1, count + 1):
            name = f"{class_name}_{number}.tif"
            pixels[f"{class_name}/{name}"] = write_ms_tiff(root / class_name / name, rng)
            written[class_name].append(name)
    return written, pixels


@pytest.mark.parametrize("variant,prefix", [
    ("ms", ""), ("torchgeo-ms", "ds/images/remote_sensing/otherDatasets/sentinel_2/tif/"),
    ("ms-folder", "EuroSAT_MS/")])
def test_eurosat_ms_geotiff_through_bands(tmp_path, variant, prefix):
    source = tmp_path / "src"
    written, pixels = write_eurosat_ms(source / prefix, seed=3)
    assert_variant_matches("eurosat", variant, source)
    out = tmp_path / "out"
    assert convert("recipe:eurosat", source, out, *variant_options("eurosat", variant)) == 0
    rows = load(out, tmp_path / "cache")
    expected = made_split(written)
    assert set(rows) == set(expected)
    for split, split_rows in rows.items():
        names = load_dataset_recipe("eurosat").names
        label_names = sorted(written)
        got = Counter(label_names[r["label"]] for r in split_rows)
        assert got == expected[split]
        for row in split_rows:
            assert row["image_encoding"] == "png" and row["source_image_format"] == "TIFF"
            assert row["class_name"] == names[label_names[row["label"]]]
            relative = row["source_id"][len(prefix):]
            assert relative.split("/")[0] == label_names[row["label"]]
            image = row["image"]
            picture = np.asarray(image.convert("RGB")) if isinstance(image, Image.Image) else \
                np.asarray(Image.open(io.BytesIO(image["bytes"])).convert("RGB"))
            want = expected_rgb(pixels[relative])
            assert picture.shape == (16, 16, 3)
            assert np.abs(picture.astype(int) - want.astype(int)).max() <= 1


def test_multiband_tiff_without_bands_asks_for_them(tmp_path):
    write_eurosat_ms(tmp_path / "src", seed=4)
    fmt = get_format("class_folders").from_option_strings({})
    items = fmt.list_items(tmp_path / "src", None)
    from rsdata.errors import RecordError

    with pytest.raises(RecordError, match=r"13 bands .*-o bands=R,G,B .*-o bands=4,3,2") as error:
        fmt.parse(items[0])
    assert error.value.reason == "unsupported_image"


# ---------------------------------------------------------------------------------------------------------------
# A MillionAID-like 3-level class tree

TREE = {("agriculture_land", "arable_land", "dry_field"): 5, ("agriculture_land", "arable_land", "terraced_field"): 3,
        ("agriculture_land", "woodland", "forest"): 2, ("water_area", "lake", "lake"): 4,
        ("transportation_land", "airport_area", "apron"): 1}


def write_tree(root: Path) -> dict[str, list[str]]:
    written: dict[str, list[str]] = {}
    for levels, count in TREE.items():
        folder = root.joinpath(*levels)
        folder.mkdir(parents=True)
        written[levels[-1]] = []
        for number in range(count):
            name = f"P{number:04d}.jpg"
            (folder / name).write_bytes(image_bytes(8, 8))
            written[levels[-1]].append(name)
    return written


def test_three_level_class_tree(tmp_path):
    source, out = tmp_path / "src", tmp_path / "out"
    written = write_tree(source)
    assert convert("class_folders", source, out, "-o", "class_depth=3") == 0
    rows = load(out, tmp_path / "cache")
    label_names = sorted(written)
    expected = made_split(written)
    assert {split: Counter(label_names[r["label"]] for r in split_rows) for split, split_rows in rows.items()} \
        == expected
    for split_rows in rows.values():
        for row in split_rows:
            levels = row["source_id"].split("/")
            assert len(levels) == 4 and levels[2] == label_names[row["label"]]
            assert row["class_name"] == levels[2].replace("_", " ")


@pytest.mark.parametrize("depth,advice", [
    (1, "use -o class_depth=3"), (2, "use -o class_depth=3"), (4, "use -o class_depth=3")])
def test_class_depth_errors_count_the_depth_found(tmp_path, capsys, depth, advice):
    source = tmp_path / "src"
    write_tree(source)
    fmt = get_format("class_folders").from_option_strings({"class_depth": str(depth)})
    with pytest.raises(SourceLayoutError) as error:
        fmt.list_items(source, None)
    message = str(error.value)
    assert advice in message
    assert f"class_depth={depth}" not in message.split("use -o")[-1]
    # The command line says the same, once.
    assert convert("class_folders", source, tmp_path / "out", "-o", f"class_depth={depth}") == 1
    assert advice in capsys.readouterr().err


def test_class_depth_error_counts_a_deeper_tree(tmp_path):
    source = tmp_path / "src"
    deep = source / "a" / "b" / "c" / "d" / "e"
    deep.mkdir(parents=True)
    (deep / "x.jpg").write_bytes(image_bytes(8, 8))
    with pytest.raises(SourceLayoutError, match="use -o class_depth=5"):
        get_format("class_folders").from_option_strings({"class_depth": "2"}).list_items(source, None)


# ---------------------------------------------------------------------------------------------------------------
# JSON-lines captions (CLIP-rsicd)


def write_jsonl_source(root: Path, seed: int) -> dict[tuple[str, str], list[str]]:
    """train_rsicd.jsonl and test_rsicd.jsonl, one line of the train file naming split val; images in
    RSICD_images/. Returns the captions per (split, image), parsed back from the files written."""
    rng = random.Random(seed)
    images = root / "RSICD_images"
    images.mkdir(parents=True)
    for file_name, count in (("train_rsicd.jsonl", 4), ("test_rsicd.jsonl", 2)):
        lines = []
        for number in range(count):
            name = f"{file_name.split('_')[0]}_{number}.jpg"
            (images / name).write_bytes(image_bytes(16, 16))
            record = {"filename": name, "captions": [f"caption {k} of {name} ." for k in range(rng.randint(1, 5))]}
            if file_name.startswith("train") and number == 3:
                record["split"] = "val"
            lines.append(json.dumps(record))
        (root / file_name).write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    expected: dict[tuple[str, str], list[str]] = {}
    for path in sorted(root.glob("*.jsonl")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                record = json.loads(line)
                expected[(record.get("split", path.name.split("_")[0]), record["filename"])] = record["captions"]
    return expected


def test_rsicd_json_lines(tmp_path):
    source, out = tmp_path / "src", tmp_path / "out"
    expected = write_jsonl_source(source, seed=5)
    assert_variant_matches("rsicd", "jsonl", source)
    assert convert("recipe:rsicd", source, out, *variant_options("rsicd", "jsonl")) == 0
    rows = load(out, tmp_path / "cache")
    hub = {"train": "train", "val": "validation", "test": "test"}
    got = {(split, r["source_id"]): list(r["captions"]) for split, split_rows in rows.items() for r in split_rows}
    assert got == {(hub[split], name): captions for (split, name), captions in expected.items()}


def test_json_lines_in_a_json_file_without_the_layout_option(tmp_path):
    source, out = tmp_path / "src", tmp_path / "out"
    expected = write_jsonl_source(source, seed=6)
    for path in source.glob("*.jsonl"):
        path.rename(path.with_suffix(".json"))
    assert convert("rs_captions", source, out) == 0
    rows = load(out, tmp_path / "cache")
    assert sum(len(r) for r in rows.values()) == len(expected)


def test_json_lines_errors_name_the_line(tmp_path, capsys):
    source = tmp_path / "src"
    write_jsonl_source(source, seed=7)
    train = source / "train_rsicd.jsonl"
    lines = train.read_text(encoding="utf-8").splitlines()
    lines[1] = json.dumps({"filename": "train_1.jpg", "captions": "one caption, not a list"})
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    assert convert("recipe:rsicd", source, out, "-o", "layout=jsonl", "--on-error", "skip") == 0
    printed = capsys.readouterr()
    report = json.loads((out / "build_report.json").read_text())
    assert "malformed_line" in json.dumps(report)
    assert "line 2" in json.dumps(report) + printed.out + printed.err
    lines[2] = "{not json"
    train.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert convert("recipe:rsicd", source, tmp_path / "out2", "-o", "layout=jsonl") == 1
    assert "train_rsicd.jsonl:3: not valid JSON" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------------
# ISPRS ground truth unpacked as torchgeo does: labels flat in the root

ISPRS_COLOURS = {1: ((255, 255, 255), "impervious_surface"), 2: ((0, 0, 255), "building"),
                 3: ((0, 255, 255), "low_vegetation"), 4: ((0, 255, 0), "tree"), 5: ((255, 255, 0), "car"),
                 6: ((255, 0, 0), "clutter"), 0: ((0, 0, 0), "boundary")}


def region_mask(rng: random.Random) -> np.ndarray:
    """Impervious surface (1) with separated rectangles of classes 2..6 (never touching)."""
    mask = np.full((SIZE, SIZE), 1, dtype=np.uint8)
    for top in range(0, SIZE, CELL):
        for left in range(0, SIZE, CELL):
            if rng.random() < 0.25:
                continue
            x0, y0 = left + rng.randint(2, 6), top + rng.randint(2, 6)
            x1, y1 = rng.randint(x0 + 1, left + CELL - 3), rng.randint(y0 + 1, top + CELL - 3)
            mask[y0:y1, x0:x1] = rng.choice(range(2, 7))
    return mask


def expected_categories(mask: np.ndarray) -> Counter:
    """Objects per category, apart from the format: 8-connected components per class, boundary and clutter not
    described (the recipes' ignore)."""
    from scipy import ndimage

    counts: Counter = Counter()
    for value in np.unique(mask):
        if int(value) in (0, 6):
            continue
        _, number = ndimage.label(mask == value, structure=np.ones((3, 3)))
        counts[ISPRS_COLOURS[int(value)][1]] += number
    return counts


def write_tiff(path: Path, pixels: np.ndarray) -> None:
    import rasterio

    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="GTiff", width=pixels.shape[2], height=pixels.shape[1],
                       count=pixels.shape[0], dtype="uint8") as dataset:
        dataset.write(pixels)


def colour_mask(mask: np.ndarray) -> np.ndarray:
    rgb = np.zeros((3, *mask.shape), dtype=np.uint8)
    for value, (colour, _) in ISPRS_COLOURS.items():
        for channel in range(3):
            rgb[channel][mask == value] = colour[channel]
    return rgb


def write_isprs_torchgeo(root: Path, recipe: str, seed: int) -> Counter:
    rng = random.Random(seed)
    expected: Counter = Counter()
    stems = ["top_potsdam_2_10", "top_potsdam_3_11"] if recipe == "potsdam" else \
        ["top_mosaic_09cm_area1", "top_mosaic_09cm_area3"]
    for stem in stems:
        mask = region_mask(rng)
        bands = 4 if recipe == "potsdam" else 3
        image = np.random.default_rng(rng.randint(0, 1000)).integers(0, 255, (bands, SIZE, SIZE), dtype=np.uint8)
        if recipe == "potsdam":
            write_tiff(root / "4_Ortho_RGBIR" / f"{stem}_RGBIR.tif", image)
            write_tiff(root / f"{stem}_label.tif", colour_mask(mask))
        else:
            write_tiff(root / "top" / f"{stem}.tif", image)
            write_tiff(root / f"{stem}.tif", colour_mask(mask))
        expected += expected_categories(mask)
    (root / ("5_Labels_all.zip" if recipe == "potsdam" else "ISPRS_semantic_labeling_Vaihingen.zip")).write_bytes(b"")
    return expected


@pytest.mark.parametrize("recipe", ["potsdam", "vaihingen"])
def test_isprs_torchgeo_flat_labels(tmp_path, recipe):
    source, out = tmp_path / "src", tmp_path / "out"
    expected = write_isprs_torchgeo(source, recipe, seed=11)
    assert_variant_matches(recipe, "torchgeo", source)
    for other in load_dataset_recipe(recipe).variants:
        if other.name != "torchgeo":  # the fixture is told apart from the recipe's other layouts
            matched = all(any(source.glob(p)) for p in other.match) and \
                not any(any(source.glob(p)) for p in other.exclude)
            assert not matched, other.name
    assert convert(f"recipe:{recipe}", source, out, *variant_options(recipe, "torchgeo")) == 0
    rows = load(out, tmp_path / "cache")
    assert list(rows) == ["train"] and len(rows["train"]) == 2
    got = Counter(o["category"] for r in rows["train"] for o in r["objects"])
    assert got == expected
    stems = sorted(p.name[:-len("_label.tif")] if recipe == "potsdam" else p.stem for p in source.glob("*.tif"))
    assert sorted(r["source_id"] for r in rows["train"]) == stems
    for row in rows["train"]:
        assert row["image_encoding"] == "png" and row["source_image_format"] == "TIFF"
        assert (row["width"], row["height"]) == (SIZE, SIZE)


# ---------------------------------------------------------------------------------------------------------------
# rsdata detect names the recipe and variant of every fixture above


def _eurosat_fixture(prefix: str):
    return lambda root: write_eurosat_ms(root / prefix, seed=3)


#: (recipe, variant, folder name as users have it, writer). Layouts that several recipes share are told apart by
#: the folder's own name (rsdata.detect ranks a recipe named by the folder first among equal confidences): the
#: JSON-lines captions of RSICD, RSITMD and UCM-captions have one structure, so the RSICD fixture lives in RSICD/.
DETECT_CASES = [
    ("eurosat", "ms", "EuroSATallBands", _eurosat_fixture("")),
    ("eurosat", "torchgeo-ms", "eurosat", _eurosat_fixture("ds/images/remote_sensing/otherDatasets/sentinel_2/tif/")),
    ("eurosat", "ms-folder", "eurosat", _eurosat_fixture("EuroSAT_MS/")),
    ("rsicd", "jsonl", "RSICD", lambda root: write_jsonl_source(root, seed=5)),
    ("potsdam", "torchgeo", "potsdam", lambda root: write_isprs_torchgeo(root, "potsdam", seed=11)),
    ("vaihingen", "torchgeo", "vaihingen", lambda root: write_isprs_torchgeo(root, "vaihingen", seed=11)),
]


@pytest.mark.parametrize("name,variant,folder,write", DETECT_CASES, ids=[f"{c[0]}-{c[1]}" for c in DETECT_CASES])
def test_rsdata_detect_names_the_recipe_and_variant_of_each_fixture(tmp_path, name, variant, folder, write):
    from rsdata.detect import detect

    source = tmp_path / folder
    write(source)
    detection = detect(source)
    ranked = [(c.recipe, c.variant) for c in detection.candidates]
    assert ranked[0] == (name, variant), ranked
    assert 0.75 <= detection.best.confidence <= 1.0, detection.best.basis
