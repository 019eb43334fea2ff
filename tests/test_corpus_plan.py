"""The corpus dry run (``--plan``) against Table I, and rsdata's tiling against mmsegmentation's converters.

The converters' rules are written here from their published behaviour (``tools/dataset_converters/isaid.py``,
``potsdam.py``, ``vaihingen.py``), independently of :mod:`rsdata.geometry`: a patch is saved under a name made of
its corners, so the files a converter writes are its distinct patches.

The generated layout holds the sources whose Table I count follows from published split sizes (DIOR, HRRSD,
HRSC2016, LoveDA, CARPK + PUCPR+) at full size, as empty images and one-byte label files (listing reads names,
not bytes), and the tiled
sources (iSAID train, Potsdam, Vaihingen) with image headers of generated scene sizes (PNG headers, sparse
GeoTIFFs): the plan reads headers only. The other sources are absent, which the plan reports.
"""

from __future__ import annotations

import math
import random
import struct
import zlib
from pathlib import Path

import pytest

from rsdata.cli import main
from rsdata.corpus import plan_corpus
from rsdata.corpus_recipe import load_corpus_recipe
from rsdata.geometry import tile_count, tile_windows

REMOTECLIP = Path(__file__).resolve().parents[1] / "recipes" / "datasets" / "remoteclip.yaml"

# mmsegmentation's split lists of the ISPRS tiles (potsdam.py, vaihingen.py).
POTSDAM_TRAIN = ["2_10", "2_11", "2_12", "3_10", "3_11", "3_12", "4_10", "4_11", "4_12", "5_10", "5_11", "5_12",
                 "6_10", "6_11", "6_12", "6_7", "6_8", "6_9", "7_10", "7_11", "7_12", "7_7", "7_8", "7_9"]
POTSDAM_VAL = ["5_15", "6_15", "6_13", "3_13", "4_14", "6_14", "5_14", "2_13", "4_15", "2_14", "5_13", "4_13", "3_14",
               "7_13"]
VAIHINGEN_TRAIN = [1, 11, 13, 15, 17, 21, 23, 26, 28, 3, 30, 32, 34, 37, 5, 7]
VAIHINGEN_VAL = [6, 24, 35, 16, 14, 22, 10, 4, 2, 20, 8, 31, 33, 27, 38, 12, 29]


# ---------------------------------------------------------------------------------------------------------------
# mmsegmentation's rules, as published


def mmseg_isaid_patches(width: int, height: int, patch: int = 896, overlap: int = 384) -> set[tuple[int, int]]:
    """isaid.py's slide_crop_image: pad a side shorter than the patch (when the other is longer, or both are),
    then start a patch every ``patch - overlap`` pixels from 0 up to the side, moving one that hangs over the edge
    back to end there. Returns the distinct (x, y) corners (its file names)."""
    if height < patch and width > patch:
        height = patch
    elif height > patch and width < patch:
        width = patch
    elif height < patch and width < patch:
        width, height = patch, patch
    corners = set()
    for x in range(0, width, patch - overlap):
        for y in range(0, height, patch - overlap):
            corners.add((x - max(0, x + patch - width), y - max(0, y + patch - height)))
    return corners


def mmseg_isprs_crops(width: int, height: int, clip: int = 512, stride: int = 256) -> set[tuple[int, int, int, int]]:
    """potsdam.py / vaihingen.py's clip_big_image: rows and columns counted from the stride, but crops placed at
    multiples of the clip size (one more than counted), each hanging over the edge moved back inside. Returns the
    distinct boxes (its file names)."""
    def count(side: int) -> int:
        n = math.ceil((side - clip) / stride)
        return n if n * stride + clip >= side else n + 1

    boxes = set()
    for row in range(count(height) + 1):
        for col in range(count(width) + 1):
            x, y = col * clip, row * clip
            x += min(0, width - x - clip)
            y += min(0, height - y - clip)
            boxes.add((x, y, min(col * clip + clip, width), min(row * clip + clip, height)))
    return boxes


# ---------------------------------------------------------------------------------------------------------------
# Tiling arithmetic


def test_isaid_patches_match_mmsegmentation_on_generated_scene_sizes():
    rng = random.Random(13)
    sizes = [(rng.randint(300, 6000), rng.randint(300, 6000)) for _ in range(400)]
    sizes += [(896, 896), (897, 2000), (1408, 1408), (1409, 1920), (4000, 4000), (500, 3000), (3000, 500)]
    for width, height in sizes:
        expected = mmseg_isaid_patches(width, height)
        windows = tile_windows(width, height, 896, stride=512)
        assert len(windows) == len(expected) == tile_count(width, height, 896, stride=512), (width, height)
        if width >= 896 and height >= 896:  # the same patches; a smaller side is padded there, one tile here
            assert {(x, y) for x, y, _, _ in windows} == expected, (width, height)
        assert all(x >= 0 and y >= 0 and x + w <= width and y + h <= height for x, y, w, h in windows)


def test_the_issues_isaid_scene_has_20_patches_where_untiled_overlap_gave_9():
    assert len(mmseg_isaid_patches(2000, 2500)) == 20 == tile_count(2000, 2500, 896, stride=512)
    assert tile_count(2000, 2500, 896) == 9  # the former recipe: 896 px without overlap


def test_isprs_crops_match_mmsegmentation_on_generated_tile_sizes():
    rng = random.Random(7)
    sizes = [(rng.randint(512, 7000), rng.randint(512, 7000)) for _ in range(400)] + [(6000, 6000), (512, 512)]
    for width, height in sizes:
        expected = mmseg_isprs_crops(width, height)
        windows = tile_windows(width, height, 512)  # stride 512: the crops sit at multiples of 512
        assert {(x, y, x + w, y + h) for x, y, w, h in windows} == expected, (width, height)
    assert len(mmseg_isprs_crops(6000, 6000)) == 144  # 24 train tiles -> 3,456; 14 val tiles -> 2,016


def test_tile_stride_is_one_way_to_set_the_step(tmp_path, capsys):
    from rsdata.build import ConvertOptions, override_convert_options
    from rsdata.errors import OptionError

    assert tile_windows(2000, 900, 896, 384 / 896) == tile_windows(2000, 900, 896, stride=512)
    with pytest.raises(OptionError, match="both set the step"):
        ConvertOptions(tile=896, tile_overlap=0.25, tile_stride=512).check()
    with pytest.raises(OptionError, match="needs --tile"):
        ConvertOptions(tile_stride=512).check()
    # The command line's --overlap replaces a recipe's tile_stride (and the other way round).
    assert override_convert_options({"tile": 896, "tile_stride": 512}, {"tile_overlap": 0.5}) == {
        "tile": 896, "tile_overlap": 0.5}
    assert main(["convert", "dota", str(tmp_path), str(tmp_path / "out"), "--tile", "64", "--tile-stride", "0"]) != 0
    assert "--tile-stride must be a positive number" in capsys.readouterr().err


# ---------------------------------------------------------------------------------------------------------------
# A generated layout with the publishers' counts


def _png_header(width: int, height: int) -> bytes:
    """A PNG's signature, header and an empty data chunk: enough for a header reader, nothing to decode."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


def _sparse_tiff(path: Path, width: int, height: int) -> None:
    import rasterio

    path.parent.mkdir(parents=True, exist_ok=True)
    with rasterio.open(path, "w", driver="GTiff", width=width, height=height, count=3, dtype="uint8", tiled=True,
                       SPARSE_OK=True):
        pass


def _empty(folder: Path, names) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).touch()


def _labels(folder: Path, names) -> None:
    """Label files of one byte: an empty one means "nothing to describe", which the plan leaves out."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_bytes(b"-")


def _lists(folder: Path, splits: dict[str, list[str]]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for split, ids in splits.items():
        (folder / f"{split}.txt").write_text("".join(f"{i}\n" for i in ids))


def _numbered(counts: dict[str, int], width: int = 5, start: int = 1) -> dict[str, list[str]]:
    ids, n = {}, start
    for split, count in counts.items():
        ids[split] = [f"{k:0{width}d}" for k in range(n, n + count)]
        n += count
    return ids


def write_generated_layout(root: Path) -> dict[str, int]:
    """The layout described in the module docstring; returns the tiled sources' tile counts by mmsegmentation's
    rules (the ISPRS ones per mmsegmentation split)."""
    # DIOR: train 5,862 / val 5,863 (JPEGImages-trainval) and test 11,738.
    dior = _numbered({"train": 5862, "val": 5863, "test": 11738})
    _lists(root / "DIOR/ImageSets/Main", dior)
    _empty(root / "DIOR/JPEGImages-trainval", (f"{i}.jpg" for i in dior["train"] + dior["val"]))
    _empty(root / "DIOR/JPEGImages-test", (f"{i}.jpg" for i in dior["test"]))
    _labels(root / "DIOR/Annotations/Horizontal Bounding Boxes", (f"{i}.xml" for ids in dior.values() for i in ids))
    # HRRSD: train 5,401 / val 5,417 / test 10,943 (21,761 in all); trainval repeats train + val.
    hrrsd = _numbered({"train": 5401, "val": 5417, "test": 10943})
    opt = root / "TGRS-HRRSD-Dataset/OPT2017"
    _lists(opt / "ImageSets/Main", {**hrrsd, "trainval": hrrsd["train"] + hrrsd["val"]})
    _empty(opt / "JPEGImages", (f"{i}.jpg" for ids in hrrsd.values() for i in ids))
    _labels(opt / "Annotations", (f"{i}.xml" for ids in hrrsd.values() for i in ids))
    # HRSC2016: train 436 / val 181 / test 444.
    hrsc = _numbered({"train": 436, "val": 181, "test": 444}, width=9, start=100000001)
    _lists(root / "HRSC2016/ImageSets", {**hrsc, "trainval": hrsc["train"] + hrsc["val"]})
    _empty(root / "HRSC2016/FullDataSet/AllImages", (f"{i}.bmp" for ids in hrsc.values() for i in ids))
    _labels(root / "HRSC2016/FullDataSet/Annotations", (f"{i}.xml" for ids in hrsc.values() for i in ids))
    # CARPK: train 989 / test 459; PUCPR+: train 100 / test 25.
    for folder, counts in (("CARPK", {"train": 989, "test": 459}), ("PUCPR+", {"train": 100, "test": 25})):
        ids = _numbered(counts)
        _lists(root / folder / "data/ImageSets", ids)
        _empty(root / folder / "data/Images", (f"{i}.png" for split in ids.values() for i in split))
        (root / folder / "data/Annotations").mkdir(parents=True)
        for split in ids.values():
            for i in split:
                (root / folder / "data/Annotations" / f"{i}.txt").write_text("1 1 9 9 1\n")
    # LoveDA: Train 2,522 (1,156 urban, 1,366 rural), Val 1,669 (677 + 992), Test 1,796 without masks.
    n = 0
    for split, parts in (("Train", (("Urban", 1156), ("Rural", 1366))), ("Val", (("Urban", 677), ("Rural", 992))),
                         ("Test", (("Urban", 820), ("Rural", 976)))):
        for area, count in parts:
            names = [f"{k}.png" for k in range(n, n + count)]
            n += count
            _empty(root / "LoveDA" / split / area / "images_png", names)
            if split != "Test":
                _labels(root / "LoveDA" / split / area / "masks_png", names)
    expected = {}
    # iSAID train: 1,411 scenes of generated sizes (DOTA's range: about 800 to 4,000 px, a few small ones).
    rng = random.Random(2306)
    images = root / "iSAID/train/images"
    images.mkdir(parents=True)
    expected["isaid"] = 0
    for k in range(1411):
        width, height = (rng.randint(400, 4200), rng.randint(400, 4200)) if k % 20 else (rng.randint(300, 890),) * 2
        (images / f"P{k:04d}.png").write_bytes(_png_header(width, height))
        (images / f"P{k:04d}_instance_color_RGB.png").write_bytes(b"-")
        (images / f"P{k:04d}_instance_id_RGB.png").write_bytes(b"-")
        expected["isaid"] += len(mmseg_isaid_patches(width, height))
    # Potsdam: 38 tiles of 6000 x 6000; Vaihingen: the 33 areas, sizes generated around the real ones (~2,500).
    for tile in POTSDAM_TRAIN + POTSDAM_VAL:
        _sparse_tiff(root / f"Potsdam/2_Ortho_RGB/top_potsdam_{tile}_RGB.tif", 6000, 6000)
        _labels(root / "Potsdam/5_Labels_all_noBoundary", [f"top_potsdam_{tile}_label_noBoundary.tif"])
    expected["potsdam_train"] = sum(len(mmseg_isprs_crops(6000, 6000)) for _ in POTSDAM_TRAIN)
    expected["potsdam_val"] = sum(len(mmseg_isprs_crops(6000, 6000)) for _ in POTSDAM_VAL)
    for part in ("train", "val"):
        expected[f"vaihingen_{part}"] = 0
        for area in VAIHINGEN_TRAIN if part == "train" else VAIHINGEN_VAL:
            width, height = rng.randint(1800, 2900), rng.randint(1800, 3900)
            _sparse_tiff(root / f"Vaihingen/top/top_mosaic_09cm_area{area}.tif", width, height)
            _labels(root / "Vaihingen/ISPRS_semantic_labeling_Vaihingen_ground_truth_eroded_COMPLETE",
                   [f"top_mosaic_09cm_area{area}_noBoundary.tif"])
            expected[f"vaihingen_{part}"] += len(mmseg_isprs_crops(width, height))
    return expected


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    root = tmp_path_factory.mktemp("remoteclip-layout")
    return root, write_generated_layout(root)


def test_plan_gives_table_one_for_split_sources_and_mmseg_counts_for_tiled_ones(generated):
    root, expected = generated
    plan = plan_corpus(load_corpus_recipe(REMOTECLIP), root)
    by_name = {s.name: s for s in plan.sources}
    rows = {row.source: row for row in plan.rows()}
    # Whole datasets: the published split sizes add up to Table I's count.
    for name in ("dior", "hrrsd"):
        assert by_name[name].status == "planned" and rows[name].difference == 0, by_name[name]
    assert by_name["dior"].per_split == {"train": 5862, "val": 5863, "test": 11738}
    # Within de-duplication of Table I, and the recipe's note says so.
    assert rows["hrsc2016"].images == 1061 and rows["hrsc2016"].difference == 6
    assert rows["loveda"].images == 4191 and by_name["loveda"].per_split == {"Train": 2522, "Val": 1669}
    assert rows["carpk"].sources == ("carpk", "pucpr") and rows["carpk"].images == 1448 + 125 == 1568 + 5
    for name in ("hrsc2016", "loveda", "carpk"):
        assert "de-duplication" in by_name[name].paper_note
    # Tiled sources: mmsegmentation's rule on the generated sizes.
    assert by_name["isaid"].tiling == "896 px, stride 512" and by_name["isaid"].images == expected["isaid"]
    assert by_name["potsdam"].images == expected["potsdam_train"] + expected["potsdam_val"] == 3456 + 2016
    assert by_name["vaihingen"].images == expected["vaihingen_train"] + expected["vaihingen_val"]
    assert by_name["potsdam"].tiling == by_name["vaihingen"].tiling == "512 px, stride 512"
    # Sources not in the generated layout are shown, not fatal.
    assert by_name["rsicd"].status == "unavailable" and "not found" in by_name["rsicd"].reason


def test_plan_command_prints_each_source_beside_table_one_and_writes_nothing(generated, tmp_path, capsys):
    root, _ = generated
    out = tmp_path / "out"
    assert main(["convert", "--recipe", str(REMOTECLIP), str(out), "--sources", str(root), "--plan"]) == 0
    printed = capsys.readouterr().out
    print(printed)  # the plan, for the record (pytest -s)
    assert not out.exists()
    lines = {line.split()[1]: line for line in printed.splitlines() if line.startswith(("ret3", "det10", "seg4"))}
    assert "23,463" in lines["dior"] and lines["dior"].rstrip().endswith("+0")
    assert "1,568 (carpk + pucpr)" in lines["carpk"] and "in carpk" in lines["pucpr"]
    assert "896 px, stride 512" in lines["isaid"] and "5,472" in lines["potsdam"]
    assert "- vaihingen:" in printed and "impervious surfaces and clutter" in printed
    assert main(["convert", "--recipe", str(REMOTECLIP), str(out), "--plan", "--push-to-hub", "u/x"]) != 0
    assert "--plan is a dry run" in capsys.readouterr().err


def test_plan_counts_empty_label_files_apart(tmp_path):
    """LEVIR ships an empty label file for each image without targets: the plan leaves those out, as the build
    does (no_objects)."""
    corpus = tmp_path / "recipes"
    corpus.mkdir()
    (corpus / "levir.yaml").write_text((REMOTECLIP.parent / "levir.yaml").read_text())
    (corpus / "mini.yaml").write_text("kind: corpus\nname: mini\ntitle: Mini\nconfigs:\n  det:\n    sources:\n"
                                      "      - {recipe: levir, folder: LEVIR, paper_images: 3}\n")
    images = tmp_path / "src/LEVIR/imageWithLabel"
    images.mkdir(parents=True)
    for k in range(10):
        (images / f"{k:05d}.jpg").touch()
        (images / f"{k:05d}.txt").write_text("1 10 10 50 50\n" if k < 3 else "")
    (plan,) = plan_corpus(load_corpus_recipe(corpus / "mini.yaml"), tmp_path / "src").sources
    assert (plan.listed, plan.empty_labels, plan.images) == (10, 7, 3)
