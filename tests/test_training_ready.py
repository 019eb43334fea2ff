"""Training-ready builds: every image stored as JPEG (quality 95) with the longer side at most N, as a named image
profile (``--images train448``) beside the build as published; JPEG sources within the size kept byte for byte,
larger JPEGs decoded with DCT scaling; video frames stored as JPEG."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from PIL import Image

import rsdata
from rsdata.cli import main
from rsdata.errors import OptionError
from rsdata.images import IMAGE_PROFILES, prepare_image
from tests.conftest import image_bytes, write_dota_item

REPO = Path(__file__).resolve().parents[1]
RECIPES = REPO / "recipes"


def photo(width: int, height: int, fmt: str = "JPEG", seed: int = 0, mode: str = "RGB", **save) -> bytes:
    """A smooth random picture with some detail (so a resize and a JPEG encode do real work)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(max(2, height // 32), max(2, width // 32), 3), dtype=np.uint8)
    image = Image.fromarray(small).resize((width, height), Image.Resampling.BICUBIC)
    buffer = io.BytesIO()
    image.convert(mode).save(buffer, fmt, **save)
    return buffer.getvalue()


def decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


# ---------------------------------------------------------------------------------------------------------------
# One image: rsdata.images.prepare_image(path, max_side=448, image_format="jpeg")


def test_small_jpeg_passes_through_byte_for_byte_and_other_formats_become_jpeg(tmp_path):
    small = photo(300, 200)
    kept = prepare_image(tmp_path / "a.jpg", data=small, max_side=448, image_format="jpeg")
    assert kept.data == small and kept.encoding == "original" and kept.scale == (1.0, 1.0)
    for fmt in ("PNG", "TIFF", "BMP"):
        source = photo(300, 200, fmt)
        prepared = prepare_image(tmp_path / f"a.{fmt.lower()}", data=source, max_side=448, image_format="jpeg")
        image = decoded(prepared.data)
        assert (image.format, image.mode, image.size) == ("JPEG", "RGB", (300, 200)), fmt
        assert (prepared.encoding, prepared.source_format) == ("jpeg", fmt)
        # One encode at quality 95: close to the source's pixels.
        difference = np.abs(np.asarray(image, np.int16) - np.asarray(decoded(source).convert("RGB"), np.int16))
        assert difference.mean() < 2.0, fmt


def test_quality_is_what_was_asked():
    from PIL import JpegImagePlugin  # noqa: F401  (quantization tables)

    source = photo(300, 200, "PNG")
    low = prepare_image(Path("a.png"), data=source, image_format="jpeg", jpeg_quality=50)
    high = prepare_image(Path("a.png"), data=source, image_format="jpeg")
    assert len(low.data) < len(high.data)
    # libjpeg scales its base luminance table (first entry 16) by the quality: 95 gives 2, 50 gives 16.
    assert decoded(high.data).quantization[0][0] == 2 and decoded(low.data).quantization[0][0] == 16


def test_large_jpeg_is_decoded_with_dct_scaling_then_resized(tmp_path):
    source = photo(2000, 1500, quality=92)
    prepared = prepare_image(tmp_path / "big.jpg", data=source, max_side=448, image_format="jpeg")
    assert (prepared.width, prepared.height) == (448, 336) and prepared.encoding == "jpeg"
    assert prepared.scale == (448 / 2000, 336 / 1500)
    # 2000 // 448 = 4: libjpeg decoded at a quarter of the size (500 x 375, still over the target), not an eighth.
    assert prepared.dct_reduction == 4
    # Against a full-size decode and Lanczos resize: as close as that resize encoded once at quality 95 is.
    full = decoded(source).resize((448, 336), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    full.save(buffer, "JPEG", quality=95)

    def error(image: Image.Image) -> float:
        return float(np.abs(np.asarray(image, np.int16) - np.asarray(full, np.int16)).mean())

    assert error(decoded(prepared.data)) < error(decoded(buffer.getvalue())) + 0.5
    # Not DCT-scaled: just over the size (2x would fall under it), or a PNG.
    assert prepare_image(tmp_path / "a.jpg", data=photo(800, 600), max_side=448, image_format="jpeg").dct_reduction == 1
    assert prepare_image(tmp_path / "a.png", data=photo(2000, 1500, "PNG"), max_side=448,
                         image_format="jpeg").dct_reduction == 1


def test_dct_scaled_resize_keeps_the_geometry_of_sizes_not_divisible_by_eight(tmp_path):
    # 1601 px at 1/8 is 201 decoded columns, the last holding one source column: the resize maps the source's
    # exact extent (1601 / 8 decoded columns), so a white band at x = 1480..1519 lands where a full-size decode
    # and resize puts it (resizing all 201 columns would shift it by 0.8 output px).
    image = np.zeros((400, 1601), np.uint8)
    image[:, 1480:1520] = 255
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=95)
    prepared = prepare_image(tmp_path / "g.jpg", data=buffer.getvalue(), max_side=200, image_format="jpeg")
    assert prepared.dct_reduction == 8 and (prepared.width, prepared.height) == (200, 50)
    full = decoded(buffer.getvalue()).resize((200, 50), Image.Resampling.LANCZOS)

    def centre(picture: Image.Image) -> float:
        columns = np.asarray(picture, np.float64).mean(axis=0)
        return float((columns * np.arange(columns.size)).sum() / columns.sum())

    assert abs(centre(decoded(prepared.data)) - centre(full)) < 0.15


def test_palette_alpha_and_16_bit_sources_become_8_bit_jpeg(tmp_path):
    # Palette: expanded to RGB.
    palette = Image.new("P", (40, 30))
    palette.putpalette([0, 0, 0, 250, 10, 10] + [0] * 762)
    palette.paste(1, (0, 0, 20, 30))
    buffer = io.BytesIO()
    palette.save(buffer, "PNG")
    image = decoded(prepare_image(tmp_path / "p.png", data=buffer.getvalue(), image_format="jpeg").data)
    assert image.mode == "RGB" and image.getpixel((5, 5))[0] > 230 and image.getpixel((35, 5))[0] < 20
    # Alpha: composited over black (a transparent pixel is a pixel without data).
    rgba = Image.new("RGBA", (40, 30), (200, 100, 50, 255))
    rgba.paste((255, 255, 255, 0), (0, 0, 20, 30))
    buffer = io.BytesIO()
    rgba.save(buffer, "PNG")
    image = decoded(prepare_image(tmp_path / "a.png", data=buffer.getvalue(), image_format="jpeg").data)
    assert max(image.getpixel((5, 5))) < 10 and abs(image.getpixel((35, 5))[0] - 200) < 10
    grey_alpha = Image.new("LA", (40, 30), (180, 255))
    buffer = io.BytesIO()
    grey_alpha.save(buffer, "PNG")
    image = decoded(prepare_image(tmp_path / "la.png", data=buffer.getvalue(), image_format="jpeg").data)
    assert image.mode == "L" and abs(image.getpixel((5, 5)) - 180) < 5
    # 16-bit grey (a 12-bit sensor's range): stretched by its own percentiles to 8 bits, not clipped at 255.
    values = np.tile(np.linspace(0, 4095, 64), (48, 1)).astype(np.uint16)
    buffer = io.BytesIO()
    Image.fromarray(values).save(buffer, "PNG")
    image = decoded(prepare_image(tmp_path / "s.png", data=buffer.getvalue(), image_format="jpeg").data)
    pixels = np.asarray(image, np.int16)
    assert image.mode == "L" and pixels[:, 0].mean() < 8 and pixels[:, -1].mean() > 247
    assert 100 < pixels[:, 32].mean() < 160  # a ramp, not a wall of 255


@pytest.mark.parametrize("options, message", [
    ({"image_format": "webp"}, "--image-format 'webp' is not one of published, jpeg"),
    ({"image_format": "jpeg", "jpeg_quality": 0}, "--jpeg-quality must be an integer from 1 to 100, got 0"),
    ({"image_format": "jpeg", "jpeg_quality": 101}, "--jpeg-quality must be an integer from 1 to 100, got 101"),
    ({"image_format": "jpeg", "reencode_format": "png"}, "--reencode-format png contradicts --image-format jpeg"),
    ({"max_side": 0}, "--max-side must be a positive number of pixels, got 0"),
])
def test_bad_image_options_are_refused_with_the_value(options, message):
    with pytest.raises(OptionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        prepare_image(Path("a.jpg"), data=photo(32, 32), **options)
    with pytest.raises(OptionError, match=message.replace("(", r"\(").replace(")", r"\)")):
        rsdata.ConvertOptions(**options).check()


# ---------------------------------------------------------------------------------------------------------------
# A build: rsdata convert ... --images train448, and the Python API


def mixed_source(root: Path) -> Path:
    """A DOTA source of one large JPEG, one small JPEG, one large PNG and one TIFF, each with one box."""
    box = "100 100 300 100 300 200 100 200 plane 0"
    write_dota_item(root, "A_big_jpeg", [box], image=photo(1200, 800, seed=1), split="train")
    write_dota_item(root, "B_small_jpeg", ["10 10 30 10 30 20 10 20 ship 0"], image=photo(320, 240, seed=2),
                    split="train")
    write_dota_item(root, "C_big_png", [box], image=photo(896, 1344, "PNG", seed=3), split="train", suffix=".png")
    write_dota_item(root, "D_tiff", ["10 10 30 10 30 20 10 20 ship 0"], image=photo(400, 300, "TIFF", seed=4),
                    split="train", suffix=".tif")
    return root


def test_convert_with_images_train448_end_to_end(tmp_path, capsys):
    import datasets

    source = mixed_source(tmp_path / "src")
    out = tmp_path / "dota-448"
    assert main(["convert", "dota", str(source), str(out), "--images", "train448", "--no-progress"]) == 0
    rows = datasets.load_dataset(str(out), split="train")  # the default cache, as a user reads it
    by_id = {row["source_id"]: row for row in rows}
    expected = {"A_big_jpeg": ((448, 299), "jpeg", "JPEG"), "B_small_jpeg": ((320, 240), "original", "JPEG"),
                "C_big_png": ((299, 448), "jpeg", "PNG"), "D_tiff": ((400, 300), "jpeg", "TIFF")}
    for source_id, (size, encoding, source_format) in expected.items():
        row = by_id[source_id]
        assert row["image"].format == "JPEG" and row["image"].size == size == (row["width"], row["height"])
        assert (row["image_encoding"], row["source_image_format"]) == (encoding, source_format), source_id
    table = {r["source_id"]: r for r in pq.read_table(out / "data").to_pylist()}
    assert table["B_small_jpeg"]["image"]["bytes"] == (source / "train" / "images" / "B_small_jpeg.jpg").read_bytes()
    # Boxes scaled with the pixels, as image_scale says: the 1200 x 800 image became 448 x 299.
    big = by_id["A_big_jpeg"]
    sx, sy = big["image_scale"]
    assert (sx, sy) == pytest.approx((448 / 1200, 299 / 800))  # float32 column
    assert big["objects"][0]["bbox"] == pytest.approx([100 * sx, 100 * sy, 300 * sx, 200 * sy])
    # The report and the card say how the images are stored.
    settings = json.loads((out / "build_report.json").read_text())["settings"]
    assert (settings["image_profile"], settings["max_side"], settings["image_format"], settings["jpeg_quality"]) == (
        "train448", 448, "jpeg", 95)
    card = (out / "README.md").read_text()
    assert "Images stored JPEG q95, longer side <= 448 px" in card and "image profile `train448`" in card

    # The same build through the Python API, with the profile's options spelled out: the same data files.
    api = tmp_path / "api"
    rsdata.convert(source, api, format="dota", max_side=448, image_format="jpeg", jpeg_quality=95, progress=False)
    files = {p.name: p.read_bytes() for p in (out / "data").glob("*.parquet")}
    assert files == {p.name: p.read_bytes() for p in (api / "data").glob("*.parquet")}
    assert "Images stored JPEG q95, longer side <= 448 px" in (api / "README.md").read_text()

    # The build as published, beside it: the PNG and TIFF keep their encodings (PNG kept byte for byte).
    published = tmp_path / "dota"
    assert main(["convert", "dota", str(source), str(published), "--no-progress"]) == 0
    encodings = {r["source_id"]: r["image_encoding"] for r in pq.read_table(published / "data").to_pylist()}
    assert encodings == {"A_big_jpeg": "original", "B_small_jpeg": "original", "C_big_png": "original",
                         "D_tiff": "png"}
    assert "Images stored as published" in (published / "README.md").read_text()


def test_training_ready_output_is_the_same_whatever_the_process_count(tmp_path):
    source = tmp_path / "src"
    for index in range(6):
        write_dota_item(source, f"M{index}", ["10 10 300 10 300 200 10 200 plane 0"],
                        image=photo(900, 700, "PNG" if index % 2 else "JPEG", seed=index),
                        suffix=".png" if index % 2 else ".jpg")
    outputs = []
    for processes in ("1", "2"):
        out = tmp_path / f"out{processes}"
        assert main(["convert", "dota", str(source), str(out), "--images", "train448", "--num-proc", processes,
                     "--max-shard-mb", "0.05", "--no-progress"]) == 0
        outputs.append({p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*"))
                        if p.is_file() and ".rsdata" not in p.parts})
    assert len([name for name in outputs[0] if name.endswith(".parquet")]) > 2
    assert outputs[0] == outputs[1]


def test_tiles_are_resized_one_by_one_with_their_boxes(tmp_path):
    source = tmp_path / "src"
    write_dota_item(source, "T", ["600 100 700 100 700 200 600 200 ship 0"], image=photo(1024, 512, "PNG"),
                    suffix=".png")
    out = tmp_path / "out"
    assert main(["convert", "dota", str(source), str(out), "--tile", "512", "--max-side", "256", "--image-format",
                 "jpeg", "--no-progress"]) == 0
    (row,) = pq.read_table(out / "data").to_pylist()
    image = decoded(row["image"]["bytes"])
    assert (image.format, image.size, row["image_encoding"]) == ("JPEG", (256, 256), "jpeg")
    assert row["tile_offset"] == [512, 0] and row["image_scale"] == [0.5, 0.5]
    assert row["objects"][0]["bbox"] == [44.0, 50.0, 94.0, 100.0]  # (600 - 512) / 2 ...


def test_bad_options_on_the_command_line(tmp_path, capsys):
    source = mixed_source(tmp_path / "src")
    cases = [
        (["--images", "train999"], "no image profile named 'train999'"),
        (["--images", "train448", "--max-side", "512"], "give the profile or max_side, not both"),
        (["--image-format", "jpeg", "--jpeg-quality", "0"], "--jpeg-quality must be an integer from 1 to 100"),
        (["--image-format", "jpeg", "--reencode-format", "png"], "contradicts --image-format jpeg"),
    ]
    for extra, message in cases:
        assert main(["convert", "dota", str(source), str(tmp_path / "out"), "--no-progress", *extra]) == 2, extra
        error = capsys.readouterr().err
        assert message in error, (extra, error)
    assert main(["convert", "dota", str(source), str(tmp_path / "out"), "--images", "nope"]) == 2
    assert "profiles: train448 (JPEG q95, longer side <= 448 px" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["convert", "dota", str(source), str(tmp_path / "out"), "--image-format", "webp"])
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------------------------------------------------------
# Recipes: dataset recipes, the corpus recipe's profiles, the training recipes


def test_frame_sources_store_jpeg_through_their_recipes(tmp_path):
    from rsdata.recipe import load_dataset_recipe

    for name in ("carpk", "stanford_drone", "uavid"):
        assert load_dataset_recipe(name).convert_options["image_format"] == "jpeg", name
    # CARPK's PNG drone frames, converted with the recipe, are stored as JPEG q95; a command line can ask otherwise.
    from tests.corpus_standins import write_standin

    write_standin("carpk", tmp_path / "CARPK", num_images=2)
    out = tmp_path / "out"
    assert main(["convert", "recipe:carpk", str(tmp_path / "CARPK"), str(out), "--split", "train",
                 "--no-progress"]) == 0
    rows = pq.read_table(out / "data").to_pylist()
    assert rows and all(r["image_encoding"] == "jpeg" and r["source_image_format"] == "PNG"
                        and r["image"]["bytes"].startswith(b"\xff\xd8") for r in rows)
    assert "Images stored JPEG q95, at their published size" in (out / "README.md").read_text()
    published = tmp_path / "published"
    assert main(["convert", "recipe:carpk", str(tmp_path / "CARPK"), str(published), "--split", "train",
                 "--image-format", "published", "--no-progress"]) == 0
    assert {r["image_encoding"] for r in pq.read_table(published / "data").to_pylist()} == {"original"}


def test_a_recipe_with_a_bad_image_format_names_the_file(tmp_path):
    from rsdata.recipe import RecipeError, load_dataset_recipe

    text = (RECIPES / "datasets" / "carpk.yaml").read_text().replace("image_format: jpeg", "image_format: gif")
    path = tmp_path / "carpk.yaml"
    path.write_text(text)
    with pytest.raises(RecipeError, match=r"carpk.yaml: convert_options: --image-format 'gif' is not one of"):
        load_dataset_recipe(path)


def test_remoteclip_profiles_and_training_recipes_point_at_the_training_ready_build():
    from rsdata.corpus_recipe import load_corpus_recipe
    from rsmodel.train_recipe import load_train_recipe

    corpus = load_corpus_recipe(RECIPES / "datasets" / "remoteclip.yaml")
    assert corpus.image_profiles == IMAGE_PROFILES  # written out in the recipe, the same as the built-in ones
    assert corpus.image_profiles["train448"].options() == {"max_side": 448, "image_format": "jpeg",
                                                           "jpeg_quality": 95}
    for name, model in (("remoteclip-vit-b-32", "openai/clip-vit-base-patch32"),
                        ("remoteclip-vit-l-14", "openai/clip-vit-large-patch14")):
        path = RECIPES / "train" / f"{name}.yaml"
        text = path.read_text()
        assert "rsdata convert --recipe remoteclip corpus/remoteclip-448 --sources DIR --images train448" in text
        recipe = load_train_recipe(path)
        assert recipe.model.name_or_path == model  # 224-px models: twice 224 is the profile's 448
        assert all(source.path == "corpus/remoteclip-448" for source in recipe.data.sources), name


def _mini_corpus(tmp_path: Path, profiles: str = "") -> Path:
    folder = tmp_path / "recipes"
    folder.mkdir(exist_ok=True)
    (folder / "dota.yaml").write_text((RECIPES / "datasets" / "dota.yaml").read_text())
    path = folder / "mini.yaml"
    path.write_text("kind: corpus\nname: mini\ntitle: Mini\nconfigs:\n  det:\n    sources:\n"
                    "      - {recipe: dota, folder: DOTA}\n" + profiles)
    return path


def test_corpus_builds_a_named_image_profile_beside_the_published_build(tmp_path, capsys):
    import datasets

    from tests.corpus_standins import write_standin

    path = _mini_corpus(tmp_path, "test_sets:\n  - {recipe: dota, folder: DOTA, splits: [val]}\n"
                                  "image_profiles:\n  tiny: {max_side: 32, image_format: jpeg, jpeg_quality: 90}\n")
    write_standin("dota", tmp_path / "src" / "DOTA", num_images=2)
    common = ["--sources", str(tmp_path / "src"), "--no-progress"]
    assert main(["convert", "--recipe", str(path), str(tmp_path / "plan"), *common, "--plan", "--images",
                 "tiny"]) == 0
    assert "Images stored JPEG q90, longer side <= 32 px (JPEG sources within that size kept byte for byte) " \
           "(image profile tiny)." in capsys.readouterr().out
    published, tiny = tmp_path / "mini", tmp_path / "mini-32"
    assert main(["convert", "--recipe", str(path), str(published), *common]) == 0
    assert main(["convert", "--recipe", str(path), str(tiny), *common, "--images", "tiny"]) == 0
    rows = datasets.load_dataset(str(tiny), "det", split="train")
    assert len(rows) == len(datasets.load_dataset(str(published), "det", split="train")) > 0
    for row in rows:
        assert row["image"].format == "JPEG" and max(row["image"].size) == 32 and row["image_scale"][0] == 0.5
    # The test sets are stored alike, so that near-duplicates are looked for among images stored the same way.
    test_rows = pq.read_table(tiny / ".rsdata" / "corpus" / "test_sets" / "dota" / "data").to_pylist()
    assert test_rows and all(max(r["width"], r["height"]) == 32 and r["image_encoding"] == "jpeg" for r in test_rows)
    report = json.loads((tiny / "corpus_report.json").read_text())
    assert report["image_profile"] == "tiny" and report["image_storage"].startswith("JPEG q90, longer side <= 32")
    assert "Images stored JPEG q90, longer side <= 32 px" in (tiny / "README.md").read_text()
    assert "Images stored as published" in (published / "README.md").read_text()
    # A profile is a build of its own: the published folder is not rebuilt with it unless asked to.
    assert main(["convert", "--recipe", str(path), str(published), *common, "--images", "tiny"]) == 1
    assert "built as published (no --images); build it with --images tiny into a folder of its own" in \
        capsys.readouterr().err
    # Options that a profile sets are refused with --recipe, and point at --images.
    assert main(["convert", "--recipe", str(path), str(tiny), *common, "--max-side", "64"]) == 2
    assert "--images PROFILE" in capsys.readouterr().err
    rsdata.build_corpus(path, tmp_path / "api-32", sources=tmp_path / "src", images="tiny", progress=False)
    assert sorted(p.name for p in (tiny / "data").rglob("*.parquet")) == \
        sorted(p.name for p in (tmp_path / "api-32" / "data").rglob("*.parquet"))


@pytest.mark.parametrize("profiles, message", [
    ("image_profiles:\n  tiny: {max_side: 0}\n", "image_profiles.tiny: --max-side must be a positive number"),
    ("image_profiles:\n  tiny: {max_side: 32, image_format: png}\n", "--image-format 'png' is not one of"),
    ("image_profiles:\n  tiny: {max_side: 32, jpeg_quality: 200}\n", "--jpeg-quality must be an integer"),
    ("image_profiles:\n  tiny: {max_side: 32, colour: red}\n", "image_profiles.tiny: unknown field(s) colour"),
    ("image_profiles:\n  Tiny: {max_side: 32}\n", "image profile name 'Tiny' must be lower case"),
    ("", "field 'configs.det.sources[0].options.image_format' must be one of published, jpeg, got 'gif'"),
])
def test_bad_image_profiles_in_a_corpus_recipe_name_the_field(tmp_path, profiles, message):
    from rsdata.corpus_recipe import load_corpus_recipe
    from rsdata.recipe import RecipeError

    path = _mini_corpus(tmp_path, profiles)
    if not profiles:  # a source's own image_format
        path.write_text(path.read_text().replace("folder: DOTA}", "folder: DOTA, options: {image_format: gif}}"))
    with pytest.raises(RecipeError) as caught:
        load_corpus_recipe(path)
    assert message in str(caught.value) and "mini.yaml" in str(caught.value)
