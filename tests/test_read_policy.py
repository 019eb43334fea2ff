"""What a build may read (issue 12, items 6 and 7): nothing from outside SOURCE through symbolic links, and no
image over the pixel limit or with a header its bytes cannot hold (decompression bombs), driven through the CLI."""

from __future__ import annotations

import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rsdata import errors
from rsdata.cli import main
from rsdata.images import MAX_PIXELS_PER_BYTE, PLAUSIBLE_CHECK_MIN_PIXELS, prepare_image
from tests.conftest import image_bytes, write_dota_item

OBJECT = ["10 10 20 10 20 20 10 20 plane 0"]


def run(fmt: str, source: Path, out: Path, *options: str) -> int:
    return main(["convert", fmt, str(source), str(out), "--no-progress", *options])


def report(out: Path) -> dict:
    return json.loads((out / "build_report.json").read_text())


def loaded_ids(out: Path, tmp_path: Path) -> set[str]:
    """The source ids ``datasets.load_dataset`` reads from ``out``; none when it refuses the folder (an unfinished
    build may be unloadable, which is fine: what matters is that no refused file's row is served)."""
    import datasets

    try:
        dataset = datasets.load_dataset(str(out), cache_dir=str(tmp_path / "hf-cache"))
    except Exception:  # noqa: BLE001 - which error an unfinished build gives is not this test's concern
        return set()
    return {source_id for split in dataset.values() for source_id in split["source_id"]}


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def forged_png(width: int, height: int, bit_depth: int = 1, colour_type: int = 0) -> bytes:
    """A structurally valid PNG (every CRC right, IEND at the end) whose IHDR claims ``width`` x ``height``
    pixels over a tiny zlib stream: a decompression bomb's header (the data need not decode)."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(bytes(4096), 9))
            + png_chunk(b"IEND", b""))


# ---------------------------------------------------------------------------------------------------------------
# Item 6: nothing from outside SOURCE


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A folder beside the sources, holding images that must not be read unless allowed."""
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    for stem in ("X", "Y"):
        (folder / f"{stem}.jpg").write_bytes(image_bytes(color=(200, 10, 10)))
    return folder


def test_a_linked_image_leading_out_of_source_is_refused_skipped_or_allowed(tmp_path, outside, capsys):
    source = tmp_path / "dota"
    write_dota_item(source, "A", OBJECT)
    write_dota_item(source, "B", OBJECT, image=b"")
    link = source / "images" / "B.jpg"
    link.symlink_to(outside / "X.jpg")

    refused = tmp_path / "refused"
    assert run("dota", source, refused) == 1
    message = capsys.readouterr().err
    assert str(link) in message and str(outside / "X.jpg") in message and "--allow-outside-links" in message
    assert "B" not in loaded_ids(refused, tmp_path)

    skipped = tmp_path / "skipped"
    assert run("dota", source, skipped, "--on-error", "skip") == 0
    assert report(skipped)["skipped_per_reason"] == {errors.LINK_OUTSIDE_SOURCE: 1}
    (skip,) = report(skipped)["skipped"]
    assert (skip["reason"], skip["path"]) == ("link_outside_source", "images/B.jpg"), "named inside SOURCE"
    assert loaded_ids(skipped, tmp_path) == {"A"}

    allowed = tmp_path / "allowed"
    assert run("dota", source, allowed, "--allow-outside-links") == 0
    assert loaded_ids(allowed, tmp_path) == {"A", "B"}


def test_a_linked_images_folder_leading_out_of_source_refuses_each_image_below_it(tmp_path, outside, capsys):
    source = tmp_path / "dota"
    for stem in ("X", "Y"):
        write_dota_item(source, stem, OBJECT, image=b"")
    (source / "images").rmdir()
    (source / "images").symlink_to(outside, target_is_directory=True)

    refused = tmp_path / "refused"
    assert run("dota", source, refused) == 1
    message = capsys.readouterr().err
    assert f"the symbolic link {source / 'images'}" in message and str(outside) in message
    assert loaded_ids(refused, tmp_path) == set()

    skipped = tmp_path / "skipped"
    assert run("dota", source, skipped, "--on-error", "skip") == 1, "every record left out: no dataset"
    assert report(skipped)["skipped_per_reason"] == {errors.LINK_OUTSIDE_SOURCE: 2}, "one skip per image below"

    allowed = tmp_path / "allowed"
    assert run("dota", source, allowed, "--allow-outside-links") == 0
    assert loaded_ids(allowed, tmp_path) == {"X", "Y"}


def test_a_linked_source_root_and_links_inside_source_are_fine(tmp_path):
    source = tmp_path / "dota"
    write_dota_item(source, "A", OBJECT)
    write_dota_item(source, "B", OBJECT, image=b"")
    (source / "spare").mkdir()
    (source / "spare" / "B.jpg").write_bytes(image_bytes())
    (source / "images" / "B.jpg").symlink_to(Path("..") / "spare" / "B.jpg")  # a link that stays inside
    root_link = tmp_path / "dota-link"
    root_link.symlink_to(source, target_is_directory=True)

    out = tmp_path / "out"
    assert run("dota", root_link, out) == 0
    assert loaded_ids(out, tmp_path) == {"A", "B"}


def test_an_image_named_by_a_coco_file_through_an_outside_link_is_refused(tmp_path, outside, capsys):
    source = tmp_path / "coco"
    (source / "annotations").mkdir(parents=True)
    (source / "images").mkdir()
    (source / "images" / "a.jpg").write_bytes(image_bytes())
    (source / "images" / "far").symlink_to(outside, target_is_directory=True)
    images = [{"id": 1, "file_name": "a.jpg", "width": 64, "height": 48},
              {"id": 2, "file_name": "far/X.jpg", "width": 64, "height": 48}]
    annotations = [{"id": i, "image_id": i, "category_id": 1, "bbox": [1, 1, 10, 10], "area": 100, "iscrowd": 0}
                   for i in (1, 2)]
    (source / "annotations" / "instances_train.json").write_text(json.dumps(
        {"images": images, "annotations": annotations, "categories": [{"id": 1, "name": "plane"}]}))

    refused = tmp_path / "refused"
    assert run("coco", source, refused) == 1
    message = capsys.readouterr().err
    assert f"the symbolic link {source / 'images' / 'far'}" in message and str(outside) in message
    assert "2" not in loaded_ids(refused, tmp_path)

    skipped = tmp_path / "skipped"
    assert run("coco", source, skipped, "--on-error", "skip") == 0
    assert report(skipped)["skipped_per_reason"] == {errors.LINK_OUTSIDE_SOURCE: 1}
    assert loaded_ids(skipped, tmp_path) == {"1"}


def test_a_link_loop_is_a_record_error_not_a_crash(tmp_path):
    source = tmp_path / "dota"
    write_dota_item(source, "A", OBJECT)
    write_dota_item(source, "LOOP", OBJECT, image=b"")
    (source / "images" / "LOOP.jpg").symlink_to(source / "images" / "LOOP2.jpg")
    (source / "images" / "LOOP2.jpg").symlink_to(source / "images" / "LOOP.jpg")
    out = tmp_path / "out"
    assert run("dota", source, out, "--on-error", "skip") == 0
    assert report(out)["skipped_per_reason"] == {errors.LINK_OUTSIDE_SOURCE: 2}, "both images of the loop"
    assert loaded_ids(out, tmp_path) == {"A"}


def test_a_class_folder_linked_out_of_source_is_refused(tmp_path, outside):
    source = tmp_path / "scenes"
    (source / "forest").mkdir(parents=True)
    (source / "forest" / "f1.jpg").write_bytes(image_bytes())
    (source / "river").symlink_to(outside, target_is_directory=True)

    skipped = tmp_path / "skipped"
    assert run("class_folders", source, skipped, "--on-error", "skip") == 0
    assert report(skipped)["skipped_per_reason"] == {errors.LINK_OUTSIDE_SOURCE: 2}


# ---------------------------------------------------------------------------------------------------------------
# Item 7: decompression bombs


@pytest.mark.parametrize("verify", ["structure", "decode"])
def test_a_png_bomb_is_refused_with_the_default_limit(tmp_path, capsys, verify):
    bomb = forged_png(30_000, 30_000)
    assert len(bomb) < 1_000
    source = tmp_path / "dota"
    write_dota_item(source, "A", OBJECT)
    write_dota_item(source, "BOMB", OBJECT, image=bomb, suffix=".png")

    refused = tmp_path / "refused"
    assert run("dota", source, refused, "--verify", verify) == 1
    message = capsys.readouterr().err
    assert "BOMB.png" in message and "30000 x 30000 = 900,000,000 pixels" in message
    assert "150,000,000" in message and "--max-pixels" in message
    assert "BOMB" not in loaded_ids(refused, tmp_path)

    skipped = tmp_path / "skipped"
    assert run("dota", source, skipped, "--verify", verify, "--on-error", "skip") == 0
    assert report(skipped)["skipped_per_reason"] == {errors.IMAGE_TOO_LARGE: 1}
    assert loaded_ids(skipped, tmp_path) == {"A"}


def test_a_header_its_bytes_cannot_hold_is_refused_whatever_the_limit(tmp_path, capsys):
    bomb = forged_png(12_000, 12_000)  # 144 Mpx: under the default limit, but in a file of a few hundred bytes
    source = tmp_path / "dota"
    write_dota_item(source, "BOMB", OBJECT, image=bomb, suffix=".png")
    assert run("dota", source, tmp_path / "out", "--max-pixels", str(10 ** 10)) == 1
    message = capsys.readouterr().err
    assert "BOMB.png" in message and "12000 x 12000" in message and "pixels per byte" in message
    assert f"{MAX_PIXELS_PER_BYTE:,}" in message


def test_legitimately_compressible_images_pass_the_plausibility_check(tmp_path):
    # A uniform 8-bit image just over the size where the check starts: the most a PNG of 8 bits per pixel can be
    # compressed (about 1,030 pixels per byte).
    side = 8_192
    assert side * side > PLAUSIBLE_CHECK_MIN_PIXELS
    buffer = io.BytesIO()
    Image.new("L", (side, side), 0).save(buffer, "PNG", compress_level=9)
    data = buffer.getvalue()
    assert side * side / len(data) > 1_000
    prepared = prepare_image(tmp_path / "uniform.png", data=data)  # structure check only: nothing decoded
    assert (prepared.width, prepared.height, prepared.encoding) == (side, side, "original")


def test_a_recipe_raises_the_pixel_limit_for_sources_of_very_large_scenes(tmp_path, capsys):
    # 13,000 x 13,000 = 169 Mpx: over the default limit, under the DOTA recipe's; its bytes could hold it.
    header = struct.pack(">IIBBBBB", 13_000, 13_000, 8, 0, 0, 0, 0)
    large = (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header)
             + png_chunk(b"IDAT", zlib.compress(np.random.default_rng(0).bytes(100_000), 0)) + png_chunk(b"IEND", b""))
    source = tmp_path / "dota"
    write_dota_item(source, "LARGE", OBJECT, image=large, suffix=".png")

    assert run("dota", source, tmp_path / "plain") == 1
    assert "169,000,000 pixels, over the limit of 150,000,000" in capsys.readouterr().err
    recipe = Path(__file__).resolve().parents[1] / "recipes" / "datasets" / "dota.yaml"
    assert run(str(recipe), source, tmp_path / "recipe", "-o", "labels=labelTxt") == 0
    assert loaded_ids(tmp_path / "recipe", tmp_path) == {"LARGE"}
    assert run(str(recipe), source, tmp_path / "lowered", "-o", "labels=labelTxt", "--max-pixels", "1000") == 1, (
        "the option still wins")


def write_mask_pair(root: Path, stem: str, mask: bytes) -> None:
    (root / "img_dir").mkdir(parents=True, exist_ok=True)
    (root / "ann_dir").mkdir(parents=True, exist_ok=True)
    (root / "img_dir" / f"{stem}.png").write_bytes(image_bytes(64, 48, fmt="PNG"))
    (root / "ann_dir" / f"{stem}.png").write_bytes(mask)


def test_a_mask_bomb_is_refused_and_a_compressible_mask_is_accepted(tmp_path, capsys):
    source = tmp_path / "masks"
    buffer = io.BytesIO()
    uniform = np.ones((48, 64), dtype=np.uint8)
    uniform[5:10, 3:20] = 2
    Image.fromarray(uniform).convert("P").save(buffer, "PNG")  # a palette PNG: compressible, and legitimate
    write_mask_pair(source, "good", buffer.getvalue())
    write_mask_pair(source, "bomb", forged_png(30_000, 30_000, bit_depth=8))

    refused = tmp_path / "refused"
    assert run("index_mask", source, refused, "-o", "classes=loveda") == 1
    message = capsys.readouterr().err
    assert str(source / "ann_dir" / "bomb.png") in message
    assert "30000 x 30000 = 900,000,000 pixels" in message and "--max-pixels" in message
    assert "bomb" not in loaded_ids(refused, tmp_path)

    skipped = tmp_path / "skipped"
    assert run("index_mask", source, skipped, "-o", "classes=loveda", "--on-error", "skip") == 0
    assert report(skipped)["skipped_per_reason"] == {errors.IMAGE_TOO_LARGE: 1}
    assert loaded_ids(skipped, tmp_path) == {"good"}


def test_a_mask_whose_header_its_bytes_cannot_hold_is_refused(tmp_path):
    source = tmp_path / "masks"
    write_mask_pair(source, "bomb", forged_png(9_000, 9_000, bit_depth=8))  # 81 Mpx: under the pixel limit
    out = tmp_path / "out"
    assert run("index_mask", source, out, "-o", "classes=loveda", "--on-error", "skip") == 1  # nothing else to keep
    (skip,) = report(out)["skipped"]
    assert skip["reason"] == errors.IMAGE_TOO_LARGE and "pixels per byte" in skip["message"]


def test_dedup_refuses_a_bomb_before_decoding_it():
    from rsdata.phash import DedupInputError, perceptual_hash

    with pytest.raises(DedupInputError, match="pixels per byte"):
        perceptual_hash(forged_png(12_000, 12_000), where="test/0")


@pytest.mark.parametrize("value", [0, -5, "big", True, 1.5])
def test_a_recipe_max_pixels_must_be_a_positive_whole_number(tmp_path, value):
    from rsdata.recipe import RecipeError, load_dataset_recipe

    recipe = Path(__file__).resolve().parents[1] / "recipes" / "datasets" / "dota.yaml"
    text = recipe.read_text(encoding="utf-8").replace("max_pixels: 810000000", f"max_pixels: {json.dumps(value)}")
    (tmp_path / "dota.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(RecipeError, match="max_pixels"):
        load_dataset_recipe(tmp_path / "dota.yaml")
