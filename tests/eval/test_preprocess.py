"""The pinned evaluation preprocessing (rsmodel.eval.preprocess) on real images: equal, within 1e-6, to an
independent re-implementation of open_clip's validation transform written here from its published behaviour, to
transformers' PIL CLIPImageProcessor, and (where torchvision is installed, so open_clip imports) to open_clip's
own ``image_transform``; and the evaluation encodes images through it whatever image processor transformers
would pick."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from rsmodel.eval.preprocess import CLIP_MEAN, CLIP_STD, ClipEvalTransform

REAL = Path("/work/wt/shared/realdata")
SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")


def real_images(limit: int = 40):
    """Real photographs of several sizes and aspect ratios (skipped where the shared samples are absent)."""
    from PIL import Image

    if not REAL.is_dir():
        pytest.skip(f"no real sample images at {REAL}")
    images = []
    for path in sorted(p for p in REAL.rglob("*") if p.suffix.lower() in SUFFIXES):
        try:
            image = Image.open(path)
            image.load()
        except OSError:
            continue
        images.append((path.relative_to(REAL).as_posix(), image))
        if len(images) == limit:
            break
    if not images:
        pytest.skip(f"no readable images under {REAL}")
    return images


def oracle(image, size: int, fit: str, fill: int = 0, offsets: str = "round") -> np.ndarray:
    """open_clip's validation transform from its documented steps (torchvision Resize(size) truncates the long
    side; CenterCrop offsets round((h - crop) / 2); resize_mode "longest" rounds both sides then pads left/top by
    (crop - side) // 2; ToTensor divides by 255; Normalize), in float64 then rounded to float32. ``offsets``
    "floor" crops at ``(h - crop) // 2`` instead, as transformers' CLIPImageProcessor does."""
    from PIL import Image

    image = image.convert("RGB")
    w, h = image.size
    if fit == "center_crop":
        if w <= h:
            new = (size, int(size * h / w))
        else:
            new = (int(size * w / h), size)
        resized = np.asarray(image.resize(new, Image.BICUBIC))
        if offsets == "round":
            top, left = int(round((new[1] - size) / 2.0)), int(round((new[0] - size) / 2.0))
        else:
            top, left = (new[1] - size) // 2, (new[0] - size) // 2
        square = resized[top:top + size, left:left + size]
    else:
        scale = max(h / size, w / size)
        new = (round(w / scale), round(h / scale))
        resized = np.asarray(image.resize(new, Image.BICUBIC))
        square = np.full((size, size, 3), fill, np.uint8)
        top, left = (size - new[1]) // 2, (size - new[0]) // 2
        square[top:top + new[1], left:left + new[0]] = resized
    x = square.astype(np.float64).transpose(2, 0, 1) / 255.0
    return ((x - np.asarray(CLIP_MEAN)[:, None, None]) / np.asarray(CLIP_STD)[:, None, None]).astype(np.float32)


@pytest.mark.parametrize("size", [224, 336])
def test_centre_crop_equals_an_independent_open_clip_reimplementation(size):
    transform = ClipEvalTransform(size=size, crop_size=size)
    for name, image in real_images():
        mine = transform(image)
        assert mine.shape == (3, size, size) and mine.dtype == np.float32
        assert np.abs(mine - oracle(image, size, "center_crop")).max() <= 1e-6, name


def test_pad_square_keeps_the_whole_image_and_pads_with_the_stated_fill():
    transform = ClipEvalTransform(fit="pad_square", fill=0)
    for name, image in real_images():
        assert np.abs(transform(image) - oracle(image, 224, "pad_square")).max() <= 1e-6, name
    # a 2:1 image: the whole width is kept, 56-pixel bands of fill above and below
    from PIL import Image

    wide = Image.new("RGB", (400, 200), (255, 255, 255))
    fitted = np.asarray(ClipEvalTransform(fit="pad_square", fill=0).fitted(wide))
    assert (fitted[:56] == 0).all() and (fitted[-56:] == 0).all() and (fitted[56:168] == 255).all()
    grey = np.asarray(ClipEvalTransform(fit="pad_square", fill=128).fitted(wide))
    assert (grey[:56] == 128).all()
    cropped = np.asarray(ClipEvalTransform().fitted(wide))
    assert (cropped == 255).all()  # the centre crop shows only the middle half of the width
    assert ClipEvalTransform(fit="pad_square", fill=128).describe()["fill"] == 128
    assert "fill" not in ClipEvalTransform().describe()


def test_equals_transformers_pil_clip_image_processor_where_their_crops_agree():
    """transformers' PIL CLIPImageProcessor crops at ``(h - crop) // 2``, open_clip (torchvision's CenterCrop) at
    ``round((h - crop) / 2)``: where the two differ (an odd excess whose half rounds up, e.g. 884 x 977 -> 224 x
    247, offset 12 vs 11) the processor is one pixel off open_clip. Elsewhere they agree within 1e-6; there, the
    processor equals the floor-offset oracle, and this transform does not follow it."""
    transformers = pytest.importorskip("transformers")
    processor_class = getattr(transformers, "CLIPImageProcessorPil", None)
    if processor_class is None:  # older transformers: CLIPImageProcessor is the PIL one
        processor_class = transformers.CLIPImageProcessor
    processor = processor_class(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224})
    transform = ClipEvalTransform()
    agree = differ = 0
    for name, image in real_images():
        theirs = processor(images=[image.convert("RGB")], return_tensors="np")["pixel_values"][0]
        w, h = image.size
        long_side = int(224 * max(w, h) / min(w, h))
        if round((long_side - 224) / 2.0) == (long_side - 224) // 2:
            assert np.abs(transform(image) - theirs).max() <= 1e-6, name
            agree += 1
        else:
            assert np.abs(theirs - oracle(image, 224, "center_crop", offsets="floor")).max() <= 1e-6, name
            assert np.abs(transform(image) - oracle(image, 224, "center_crop")).max() <= 1e-6, name
            differ += 1
    assert agree > 0


def test_equals_open_clip_where_torchvision_is_installed():
    pytest.importorskip("torchvision", reason="open_clip's transform needs torchvision (not installed here)")
    from open_clip.transform import image_transform

    for size in (224, 336):
        for mode, fit in (("shortest", "center_crop"), ("longest", "pad_square")):
            theirs = image_transform(size, is_train=False, resize_mode=mode)
            mine = ClipEvalTransform(size=size, crop_size=size, fit=fit)
            for name, image in real_images():
                assert np.abs(mine(image) - theirs(image).numpy()).max() <= 1e-6, (size, fit, name)


def test_sizes_and_statistics_come_from_the_model_folder(tmp_path):
    import json

    from rsmodel.errors import CheckpointError

    (tmp_path / "preprocessor_config.json").write_text(json.dumps(
        {"size": {"shortest_edge": 32}, "crop_size": {"height": 32, "width": 32}, "resample": 3,
         "image_mean": [0.5, 0.5, 0.5], "image_std": [0.25, 0.25, 0.25]}))
    transform = ClipEvalTransform.from_model_folder(tmp_path)
    assert (transform.size, transform.crop_size, transform.mean, transform.std) == (32, 32, (0.5,) * 3, (0.25,) * 3)
    (tmp_path / "preprocessor_config.json").write_text(json.dumps({"size": {"shortest_edge": 32}, "resample": 2}))
    with pytest.raises(CheckpointError, match="resample 2"):
        ClipEvalTransform.from_model_folder(tmp_path)
    assert math.isclose(ClipEvalTransform.from_model_folder(tmp_path.parent / "missing").mean[0], CLIP_MEAN[0])


def test_evaluation_never_calls_a_transformers_image_processor(tmp_path, monkeypatch):
    """With every transformers image processor broken, evaluation still encodes images, through the pinned
    transform, and the result file states the preprocessing of each split (padding for counting)."""
    pytest.importorskip("torch")
    import json

    from transformers.image_processing_utils import BaseImageProcessor

    from rsmodel.cli import main
    from tests.eval.tiny import write_counting_set, write_tiny_model

    def broken(*args, **kwargs):
        raise AssertionError("evaluation called a transformers image processor")

    monkeypatch.setattr(BaseImageProcessor, "__call__", broken)  # every image processor, PIL or torchvision
    write_tiny_model(tmp_path / "model")
    write_counting_set(tmp_path / "data" / "remotecount")
    suite = Path(__file__).resolve().parents[2] / "recipes" / "eval" / "remoteclip.yaml"
    common = ["eval", str(tmp_path / "model"), "--suite", str(suite), "--data-root", str(tmp_path / "data"),
              "--datasets", "remotecount", "--cache-dir", str(tmp_path / "cache"), "--no-progress",
              "-o", "inference.num_workers=0", "-o", "inference.batch_size=4"]
    assert main([*common, "--output", str(tmp_path / "pad")]) == 0
    record = json.loads((tmp_path / "pad" / "remotecount" / "counting.json").read_text())
    assert record["image_preprocessing"] == {"test": {
        "implementation": "rsclip-clip-eval/1", "size": 32, "crop_size": 32, "mean": list(CLIP_MEAN),
        "std": list(CLIP_STD), "fit": "pad_square", "fill": 0, "resample": "bicubic"}}
    assert record["settings"]["candidates"] == "number_only" and record["details"]["candidates"] == "number_only"
    assert main([*common, "--output", str(tmp_path / "crop"), "-o", "counting.image_fit=center_crop",
                 "-o", "counting.candidates=grammatical"]) == 0
    cropped = json.loads((tmp_path / "crop" / "remotecount" / "counting.json").read_text())
    assert cropped["image_preprocessing"]["test"]["fit"] == "center_crop"
    assert cropped["details"]["first_row_candidates"]["count_candidates"][1] == \
        "There are two tennis courts in the picture."
    assert record["details"]["first_row_candidates"]["count_candidates"][1] == \
        "There is two tennis court in the picture."
