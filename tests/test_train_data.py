"""rsmodel.data and rsmodel.loss: the sample stream, augmentation, collator, normalisation, bad data; the loss
against a naive oracle and transformers' own CLIP loss."""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
datasets = pytest.importorskip("datasets")

from rsmodel.data import (  # noqa: E402
    ContrastiveCollator,
    CropFlipRotate,
    PixelNormalizer,
    StreamingTrainingStream,
    TrainingStream,
    open_sources,
    random_resized_crop_box,
)
from rsmodel.errors import TrainingDataError  # noqa: E402
from rsmodel.loss import clip_contrastive_loss  # noqa: E402
from rsmodel.train_recipe import AugmentationSpec, DataSource, DataSpec  # noqa: E402


def png(color, size=(40, 30)) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "PNG")
    return buffer.getvalue()


def write_dataset(folder: Path, rows: list[dict], split: str = "train") -> Path:
    """Rows {image: bytes or None, captions: list or None, source_id} as an rsdata-style Parquet folder."""
    features = datasets.Features({"image": datasets.Image(), "captions": datasets.List(datasets.Value("string")),
                                  "source_id": datasets.Value("string")})
    table = datasets.Dataset.from_dict({
        "image": [{"bytes": r["image"], "path": None} if r["image"] is not None else None for r in rows],
        "captions": [r["captions"] for r in rows], "source_id": [r["source_id"] for r in rows]}, features=features)
    (folder / "data").mkdir(parents=True, exist_ok=True)
    table.to_parquet(str(folder / "data" / f"{split}-00000-of-00001.parquet"))
    return folder


def coloured_rows(n: int, prefix: str) -> list[dict]:
    return [{"image": png((10 * i % 255, 50, 100)), "captions": [f"{prefix} {i} a", f"{prefix} {i} b"],
             "source_id": f"{prefix}{i}.png"} for i in range(n)]


def spec_for(*sources: DataSource, tmp_path: Path, streaming: bool = False) -> DataSpec:
    return DataSpec(sources=sources, streaming=streaming, cache_dir=str(tmp_path / "cache"))


def stream(tmp_path, sources, length=64, seed=0):
    opened = open_sources(spec_for(*sources, tmp_path=tmp_path))
    return TrainingStream(opened, length=length, augment=CropFlipRotate(16), image_column="image",
                          caption_column="captions", data_seed=seed)


# ------------------------------------------------------------------------------------------------- the stream

def test_sample_k_is_a_pure_function_of_seed_and_k(tmp_path):
    folder = write_dataset(tmp_path / "a", coloured_rows(10, "a"))
    first, second = stream(tmp_path, [DataSource(str(folder))]), stream(tmp_path, [DataSource(str(folder))])
    order = [37, 3, 0, 12, 3]
    items = [first[k] for k in order]
    for k, item in zip(reversed(order), reversed(items), strict=True):  # another instance, another access order
        again = second[k]
        assert again["caption"] == item["caption"] and np.array_equal(again["pixels"], item["pixels"])
    other_seed = stream(tmp_path, [DataSource(str(folder))], seed=1)
    assert [other_seed[k]["caption"] for k in range(10)] != [first[k]["caption"] for k in range(10)]


def test_each_epoch_is_a_new_permutation_and_weights_repeat_or_subsample(tmp_path):
    a = write_dataset(tmp_path / "a", coloured_rows(10, "a"))
    b = write_dataset(tmp_path / "b", coloured_rows(6, "b"))
    data = stream(tmp_path, [DataSource(str(a), weight=1.5), DataSource(str(b), weight=2.0)], length=100)
    assert data.epoch_size == 15 + 12
    epochs = [[data.locate(k) for k in range(e * 27, (e + 1) * 27)] for e in range(3)]
    for located in epochs:
        from_a = [row for source, row in located if source == 0]
        from_b = [row for source, row in located if source == 1]
        assert len(from_a) == 15 and sorted(set(from_a)) == list(range(10))  # all once, 5 of them twice
        assert sorted(from_b) == sorted(list(range(6)) * 2)
    assert epochs[0] != epochs[1] and epochs[1] != epochs[2]
    caption = data[0]["caption"]
    source, row = data.locate(0)
    assert caption.startswith(("a", "b")[source] + f" {row} ")


def test_configs_of_one_dataset_mix_by_name(tmp_path):
    """The corpus layout: one folder, a config per part (README.md's ``configs``), mixed by name and weight."""
    root = tmp_path / "corpus"
    for config, prefix, n in (("ret3", "r", 3), ("det10", "d", 5)):
        write_dataset(root / "data" / config, coloured_rows(n, prefix))
    (root / "README.md").write_text(
        "---\nconfigs:\n"
        "- config_name: ret3\n  data_files: [{split: train, path: data/ret3/data/train-*.parquet}]\n"
        "- config_name: det10\n  data_files: [{split: train, path: data/det10/data/train-*.parquet}]\n---\n")
    data = stream(tmp_path, [DataSource(str(root), config="ret3", weight=2.0), DataSource(str(root), config="det10")])
    assert data.epoch_size == 2 * 3 + 5
    captions = [data[k]["caption"][0] for k in range(data.epoch_size)]
    assert captions.count("r") == 6 and captions.count("d") == 5


def test_rows_without_image_or_caption_are_skipped_and_counted(tmp_path):
    rows = coloured_rows(4, "a")
    rows[1]["captions"] = []
    rows[2]["captions"] = ["   "]
    rows[3]["image"] = None
    folder = write_dataset(tmp_path / "a", rows)
    (opened,) = open_sources(spec_for(DataSource(str(folder)), tmp_path=tmp_path))
    assert opened.usable_rows.tolist() == [0]
    assert opened.skipped == {"no_caption": 2, "no_image": 1}
    record = opened.record()
    assert record["rows"] == 4 and record["usable_rows"] == 1 and record["fingerprint"].startswith("files-sha256:")


@pytest.mark.parametrize("column, message", [("captions", "no column 'captions'"),
                                             ("image", "column 'image' is Value")])
def test_bad_columns_name_the_source_and_list_the_columns(tmp_path, column, message):
    folder = tmp_path / "bad"
    (folder / "data").mkdir(parents=True)
    values = {"image": ["not an image"], "captions": [["x"]]} if column == "image" else {"image": ["x"], "text": ["y"]}
    datasets.Dataset.from_dict(values).to_parquet(str(folder / "data" / "train-00000-of-00001.parquet"))
    with pytest.raises(TrainingDataError, match=message) as error:
        open_sources(spec_for(DataSource(str(folder)), tmp_path=tmp_path))
    assert str(folder) in str(error.value) and "split train" in str(error.value)


def test_missing_source_and_split(tmp_path):
    with pytest.raises(TrainingDataError, match="cannot be loaded"):
        open_sources(spec_for(DataSource(str(tmp_path / "nowhere")), tmp_path=tmp_path))
    folder = write_dataset(tmp_path / "a", coloured_rows(2, "a"))
    with pytest.raises(TrainingDataError, match="split validation"):
        open_sources(spec_for(DataSource(str(folder), split="validation"), tmp_path=tmp_path))


def test_corrupt_image_names_the_row_and_source_id(tmp_path):
    rows = coloured_rows(2, "a")
    rows[1]["image"] = b"\x89PNG\r\n\x1a\n truncated"
    folder = write_dataset(tmp_path / "a", rows)
    data = stream(tmp_path, [DataSource(str(folder))], length=4)
    bad = next(k for k in range(4) if data.locate(k)[1] == 1)
    with pytest.raises(TrainingDataError, match=r"row 1 \(a1.png\): the image cannot be decoded"):
        data[bad]


def test_streaming_order_does_not_depend_on_dataloader_workers(tmp_path):
    # More in tests/test_train_streaming.py.
    a = write_dataset(tmp_path / "a", coloured_rows(12, "a"))
    b = write_dataset(tmp_path / "b", coloured_rows(5, "b"))
    spec = spec_for(DataSource(str(a)), DataSource(str(b), weight=2.0), tmp_path=tmp_path, streaming=True)

    def captions(workers: int) -> list[str]:
        data = StreamingTrainingStream(open_sources(spec), augment=CropFlipRotate(16), image_column="image",
                                       caption_column="captions", data_seed=3, shuffle_buffer=8, loader_batch_size=4)
        loader = torch.utils.data.DataLoader(data, batch_size=4, num_workers=workers,
                                             collate_fn=lambda batch: [e["caption"] for e in batch])
        out = []
        for batch in loader:
            out.extend(batch)
            if len(out) >= 48:  # more than one pass over the 17 rows
                return out

    single = captions(0)
    assert captions(2) == single
    assert {c[0] for c in single} == {"a", "b"}


# ------------------------------------------------------------------------------------------------ augmentation

def test_crop_box_follows_random_resized_crop():
    rng = np.random.default_rng(0)
    for _ in range(200):
        width, height = int(rng.integers(20, 400)), int(rng.integers(20, 400))
        left, top, w, h = random_resized_crop_box(width, height, rng, (0.5, 1.0), (3 / 4, 4 / 3))
        assert 0 <= left and left + w <= width and 0 <= top and top + h <= height
    # a very wide image: no try fits the ratio range, so the centre crop at the widest allowed ratio
    assert random_resized_crop_box(400, 10, np.random.default_rng(0), (0.99, 1.0), (1.0, 1.0)) == (195, 0, 10, 10)


def test_augmentation_is_deterministic_and_rotates_and_flips():
    from PIL import Image

    image = Image.new("RGB", (64, 64), (0, 0, 0))
    image.paste((255, 0, 0), (0, 0, 32, 32))  # red top-left quarter
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    data = buffer.getvalue()
    augment = CropFlipRotate(32, AugmentationSpec(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0)))
    out = augment(data, np.random.default_rng(5))
    assert out.shape == (3, 32, 32) and out.dtype == np.uint8
    assert np.array_equal(out, augment(data, np.random.default_rng(5)))
    corners = set()
    for seed in range(40):
        red = augment(data, np.random.default_rng(seed))[0]
        corners.add((red[:16].mean() > red[16:].mean(), red[:, :16].mean() > red[:, 16:].mean()))
    assert corners == {(True, True), (True, False), (False, True), (False, False)}, "flips and quarter turns"
    still = CropFlipRotate(32, AugmentationSpec(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), horizontal_flip=0,
                                                rotate90=False))
    assert all(still(data, np.random.default_rng(seed))[0, :8, :8].mean() > 200 for seed in range(10))


def test_large_jpeg_is_decoded_at_reduced_scale_with_the_same_picture():
    from PIL import Image

    rng = np.random.default_rng(0)
    coarse = Image.fromarray(rng.integers(0, 255, (12, 12, 3), dtype=np.uint8)).resize((1200, 1200), Image.BICUBIC)
    buffer = io.BytesIO()
    coarse.save(buffer, "JPEG", quality=95)
    spec = AugmentationSpec(crop_scale=(1.0, 1.0), crop_ratio=(1.0, 1.0), horizontal_flip=0, rotate90=False)
    fast = CropFlipRotate(64, spec)(buffer.getvalue(), np.random.default_rng(1))
    reference = np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB").resize((64, 64), Image.BICUBIC))
    assert np.abs(fast.transpose(1, 2, 0).astype(float) - reference).mean() < 3



def _pillow_crop_flip_rotate(data: bytes, rng: np.random.Generator, size: int, spec: AugmentationSpec) -> np.ndarray:
    """The augmentation written with Pillow alone (as rsmodel had it up to 0d77562), for images that are not
    decoded at a reduced DCT scale: Image.resize(BICUBIC, box), then FLIP_LEFT_RIGHT, then ROTATE_90/180/270."""
    from PIL import Image

    image = Image.open(io.BytesIO(data)).convert("RGB")
    left, top, w, h = random_resized_crop_box(*image.size, rng, spec.crop_scale, spec.crop_ratio)
    image = image.resize((size, size), Image.BICUBIC, box=(left, top, left + w, top + h))
    if rng.random() < spec.horizontal_flip:
        image = image.transpose(Image.FLIP_LEFT_RIGHT)
    turns = int(rng.integers(4))
    if spec.rotate90 and turns:
        image = image.transpose((Image.ROTATE_90, Image.ROTATE_180, Image.ROTATE_270)[turns - 1])
    return np.asarray(image).transpose(2, 0, 1)


@pytest.mark.parametrize("fmt, size, out", [("PNG", (300, 200), 64), ("JPEG", (448, 448), 224),
                                            ("JPEG", (448, 252), 224), ("PNG", (150, 170), 224)])
def test_augmentation_pixels_match_pillow_bicubic(fmt, size, out):
    """torch's antialiased uint8 bicubic is Pillow's BICUBIC filter: downscaling (448 -> 224, 300 -> 64) and
    upscaling (150 -> 224) agree to a fraction of a level on average, every flip and quarter turn included."""
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(3)
    picture = Image.fromarray(rng.integers(0, 256, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8))
    picture = picture.resize(size, Image.BICUBIC).filter(ImageFilter.DETAIL)  # edges and texture, not noise
    buffer = io.BytesIO()
    picture.save(buffer, fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    spec = AugmentationSpec()
    augment = CropFlipRotate(out, spec)
    differences = []
    for k in range(16):
        ours = augment(buffer.getvalue(), np.random.default_rng([0, 1, k]))
        pillow = _pillow_crop_flip_rotate(buffer.getvalue(), np.random.default_rng([0, 1, k]), out, spec)
        assert ours.shape == pillow.shape == (3, out, out) and ours.dtype == np.uint8
        differences.append(np.abs(ours.astype(int) - pillow))
    differences = np.stack(differences)
    assert differences.mean() < 0.1, differences.mean()
    # Inside, the two agree to a level or two on a few pixels (fixed-point rounding); on the outermost output pixels
    # Pillow's filter also reads source pixels just outside the crop box, which torch's, given the crop, cannot.
    assert np.quantile(differences[..., 2:-2, 2:-2], 0.999) <= 2, np.quantile(differences[..., 2:-2, 2:-2], 0.999)
    assert differences.max() <= 24, differences.max()


# ---------------------------------------------------------------------------------------- collator, normaliser

@pytest.fixture(scope="module")
def tokenizer():
    from rsmodel.convert import load_tokenizer

    try:
        return load_tokenizer(None)
    except Exception as error:  # noqa: BLE001 - open_clip missing: the vocabulary comes from it
        pytest.skip(f"CLIP tokenizer unavailable: {error}")


def test_collator_pads_to_the_longest_and_truncates_at_77(tokenizer):
    pixels = np.zeros((3, 8, 8), dtype=np.uint8)
    long = " ".join(["plane"] * 120)
    batch = ContrastiveCollator(tokenizer)([{"pixels": pixels, "caption": "a ship."},
                                            {"pixels": pixels + 1, "caption": "two storage tanks near a road."}])
    assert batch["pixel_values"].dtype == torch.uint8 and batch["pixel_values"].shape == (2, 3, 8, 8)
    ids, mask = batch["input_ids"], batch["attention_mask"]
    assert ids.shape[1] == int(mask[1].sum()) < 77 and int(mask[0].sum()) < ids.shape[1]
    assert ids[0, 0] == tokenizer.bos_token_id and ids[1, int(mask[1].sum()) - 1] == tokenizer.eos_token_id
    truncated = ContrastiveCollator(tokenizer)([{"pixels": pixels, "caption": long}])
    assert truncated["input_ids"].shape == (1, 77) and truncated["input_ids"][0, -1] == tokenizer.eos_token_id


def test_normaliser_matches_the_processor():
    from PIL import Image

    from rsmodel.modeling import clip_image_processor

    processor = clip_image_processor(32)
    rng = np.random.default_rng(0)
    array = rng.integers(0, 256, (32, 32, 3), dtype=np.uint8)
    expected = processor(images=Image.fromarray(array), return_tensors="pt")["pixel_values"]
    ours = PixelNormalizer(processor.image_mean, processor.image_std)(torch.from_numpy(array.transpose(2, 0, 1))[None])
    torch.testing.assert_close(ours, expected, atol=1e-5, rtol=1e-5)


# ---------------------------------------------------------------------------------------------------- the loss

def naive_loss(image, text, scale):
    """Symmetric InfoNCE written out row by row."""
    image = image / image.norm(dim=1, keepdim=True)
    text = text / text.norm(dim=1, keepdim=True)
    n, total = image.shape[0], 0.0
    for i in range(n):
        image_row = [scale * float(image[i] @ text[j]) for j in range(n)]
        text_row = [scale * float(text[i] @ image[j]) for j in range(n)]
        total += -image_row[i] + math.log(sum(math.exp(v) for v in image_row))
        total += -text_row[i] + math.log(sum(math.exp(v) for v in text_row))
    return total / (2 * n)


def test_loss_matches_the_naive_oracle_and_clamps_the_scale():
    generator = torch.Generator().manual_seed(0)
    image, text = torch.randn(6, 8, generator=generator), torch.randn(6, 8, generator=generator)
    normed = (image / image.norm(dim=1, keepdim=True), text / text.norm(dim=1, keepdim=True))
    loss = clip_contrastive_loss(*normed, torch.tensor(math.log(20.0)))
    assert float(loss) == pytest.approx(naive_loss(image, text, 20.0), rel=1e-5)
    clamped = clip_contrastive_loss(*normed, torch.tensor(6.0))  # exp(6) = 403 -> 100
    assert float(clamped) == pytest.approx(naive_loss(image, text, 100.0), rel=1e-5)
    scale = torch.tensor(6.0, requires_grad=True)
    clip_contrastive_loss(*normed, scale).backward()
    assert float(scale.grad) == 0.0, "above ln(100) the scale gets no gradient"


def test_loss_equals_transformers_clip_loss_in_one_process():
    from transformers import CLIPConfig, CLIPModel

    torch.manual_seed(0)
    model = CLIPModel(CLIPConfig(projection_dim=8, text_config=dict(vocab_size=50, hidden_size=16, intermediate_size=32,
                                                                     num_hidden_layers=1, num_attention_heads=2,
                                                                     max_position_embeddings=10),
                                 vision_config=dict(hidden_size=16, intermediate_size=32, num_hidden_layers=1,
                                                    num_attention_heads=2, image_size=16, patch_size=8)))
    ids = torch.randint(1, 50, (5, 6))
    out = model(input_ids=ids, pixel_values=torch.randn(5, 3, 16, 16), return_loss=True)
    ours = clip_contrastive_loss(out.image_embeds, out.text_embeds, model.logit_scale)
    torch.testing.assert_close(ours, out.loss, atol=1e-5, rtol=1e-5)
