"""The one image preprocessing of evaluation: CLIP's validation transform, in PIL and NumPy, whatever is installed.

transformers picks its image processor by the packages it finds (a torchvision one where torchvision is
installed, a PIL one where it is not), so the pixels a model sees, and every evaluation number, would depend on
the machine. Evaluation therefore never calls a transformers image processor: every image goes through
:class:`ClipEvalTransform`, which is written against open_clip's validation transform
(``open_clip.image_transform(size, is_train=False)``) and tested equal to it on real images (tests/eval/
test_preprocess.py). Steps, for a PIL image:

1. convert to RGB;
2. fit, by ``fit``:

   - ``center_crop`` (CLIP's, the default): resize so that the shorter side is ``size`` and the longer
     ``int(size * longer / shorter)`` (truncated, as torchvision's ``Resize(size)``), bicubic with PIL's
     antialiasing, then crop the centre ``crop_size`` square, its top-left corner at
     ``round((height - crop) / 2)``, ``round((width - crop) / 2)``;
   - ``pad_square``: resize so that the longer side is ``crop_size`` and the shorter ``round(shorter * crop_size /
     longer)`` (bicubic), then pad to a ``crop_size`` square with ``fill`` (0..255, default 0: black), the
     image centred (left/top padding ``(crop_size - side) // 2``). This is open_clip's
     ``resize_mode="longest"`` with ``fill_color=fill``: nothing of the image is cut off, so a counted object
     near the border of a non-square image stays in view;
3. to float32, divided by 255, channels first;
4. normalised per channel: ``(x - mean) / std`` (CLIP's mean and std unless the model's processor config names
   others).

``size``, ``crop_size``, ``mean`` and ``std`` come from the model folder's processor config (the rest of that
config is not consulted; a config asking for a resampling other than bicubic is refused).
:meth:`ClipEvalTransform.describe` names the implementation and every setting; it keys the embedding cache and
is written into each result file.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from rsmodel.errors import CheckpointError

IMPLEMENTATION = "rsclip-clip-eval/1"
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
FITS = ("center_crop", "pad_square")
BICUBIC = 3  # PIL.Image.Resampling.BICUBIC, as processor configs write it


@dataclass(frozen=True)
class ClipEvalTransform:
    size: int = 224
    crop_size: int = 224
    mean: tuple[float, float, float] = CLIP_MEAN
    std: tuple[float, float, float] = CLIP_STD
    fit: str = "center_crop"
    fill: int = 0

    def __post_init__(self):
        if self.fit not in FITS:
            raise ValueError(f"image fit {self.fit!r}: expected one of {', '.join(FITS)}")
        if not 0 <= self.fill <= 255:
            raise ValueError(f"pad fill {self.fill}: expected 0..255")

    def with_fit(self, fit: str, fill: int = 0) -> "ClipEvalTransform":
        return ClipEvalTransform(self.size, self.crop_size, self.mean, self.std, fit, fill)

    def describe(self) -> dict:
        described = asdict(self)
        described.update(implementation=IMPLEMENTATION, mean=list(self.mean), std=list(self.std),
                         resample="bicubic")
        if self.fit != "pad_square":
            described.pop("fill")
        return described

    def fitted(self, image):
        """The RGB PIL image after step 2 (``crop_size`` square)."""
        from PIL import Image

        image = image.convert("RGB")
        width, height = image.size
        crop = self.crop_size
        if self.fit == "center_crop":
            shorter, longer = min(width, height), max(width, height)
            long_side = int(self.size * longer / shorter)
            new = (self.size, long_side) if width <= height else (long_side, self.size)
            image = image.resize(new, Image.Resampling.BICUBIC)
            width, height = new
            if width < crop or height < crop:  # only when crop_size > size
                image = _pad(image, crop, self.fill)
                width, height = image.size
            top, left = int(round((height - crop) / 2.0)), int(round((width - crop) / 2.0))
            return image.crop((left, top, left + crop, top + crop))
        ratio = max(width, height) / crop
        new = (round(width / ratio), round(height / ratio))
        image = image.resize(new, Image.Resampling.BICUBIC)
        return _pad(image, crop, self.fill)

    def __call__(self, image) -> np.ndarray:
        """``float32 (3, crop_size, crop_size)`` pixel values of a PIL image."""
        pixels = np.asarray(self.fitted(image), dtype=np.uint8).astype(np.float32) / np.float32(255)
        pixels = pixels.transpose(2, 0, 1)
        mean = np.asarray(self.mean, np.float32)[:, None, None]
        std = np.asarray(self.std, np.float32)[:, None, None]
        return np.ascontiguousarray((pixels - mean) / std, dtype=np.float32)

    @classmethod
    def from_model_folder(cls, folder: Path) -> "ClipEvalTransform":
        """Size, crop size, mean and std of a CLIPModel folder's processor config (``processor_config.json``'s
        ``image_processor`` section, else ``preprocessor_config.json``); CLIP's 224 and statistics if it has none."""
        folder = Path(folder)
        config, source = {}, None
        for name, section in (("processor_config.json", "image_processor"), ("preprocessor_config.json", None)):
            path = folder / name
            if path.is_file():
                data = json.loads(path.read_text(encoding="utf-8"))
                data = data.get(section) if section else data
                if data:
                    config, source = data, path
                    break
        resample = config.get("resample", BICUBIC)
        if resample != BICUBIC:
            raise CheckpointError(source, f"image processor resample {resample!r}: evaluation uses CLIP's bicubic "
                                  f"({BICUBIC}) only")
        size = config.get("size", 224)
        size = size.get("shortest_edge", size.get("height")) if isinstance(size, dict) else size
        crop = config.get("crop_size", size)
        crop = crop.get("height", crop.get("width")) if isinstance(crop, dict) else crop
        if isinstance(crop, dict) or crop is None:
            crop = size
        return cls(size=int(size), crop_size=int(crop), mean=tuple(config.get("image_mean", CLIP_MEAN)),
                   std=tuple(config.get("image_std", CLIP_STD)))


def _pad(image, side: int, fill: int):
    """``image`` centred on a ``side`` x ``side`` canvas of grey ``fill`` (left/top get the smaller half)."""
    from PIL import Image

    width, height = image.size
    if width >= side and height >= side:
        return image
    canvas = Image.new("RGB", (max(side, width), max(side, height)), (fill, fill, fill))
    canvas.paste(image, (max(0, (side - width) // 2), max(0, (side - height) // 2)))
    return canvas
