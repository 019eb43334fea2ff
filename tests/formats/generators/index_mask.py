"""Generated index-mask sources (LoveDA class table) for tests and the parse benchmark."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import numpy as np

from tests.conftest import image_bytes

# LoveDA indices: 0 no-data (ignored), 1 background ... 7 agricultural
LABELS = ("no-data", "background", "building", "road", "water", "barren", "forest", "agricultural")
WIDTH, HEIGHT, CELL = 64, 48, 16


def random_mask(rng: random.Random, fill: int = 0) -> tuple[np.ndarray, Counter]:
    """A 64 x 48 mask of ``fill`` with up to 12 rectangles of classes 1-7, one per 16-pixel cell, never touching
    (not even by a corner), so that each is one m2b/1 region; returns the mask and the regions per label."""
    mask = np.full((HEIGHT, WIDTH), fill, dtype=np.uint8)
    counts: Counter = Counter()
    for top in range(0, HEIGHT, CELL):
        for left in range(0, WIDTH, CELL):
            if rng.random() < 0.3:
                continue
            value = rng.randint(1, 7)
            x0, y0 = left + rng.randint(1, 5), top + rng.randint(1, 5)
            x1, y1 = rng.randint(x0 + 1, left + CELL - 1), rng.randint(y0 + 1, top + CELL - 1)
            mask[y0:y1, x0:x1] = value
            counts[LABELS[value]] += 1
    return mask, counts


def png_bytes(array: np.ndarray) -> bytes:
    import io

    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def write_source(root: Path, num_images: int, *, seed: int = 0, images: bool = True) -> Counter:
    """``root/img_dir/G00000.png`` + ``root/ann_dir/G00000.png`` (LoveDA layout as mmsegmentation keeps it)."""
    rng = random.Random(seed)
    (root / "img_dir").mkdir(parents=True, exist_ok=True)
    (root / "ann_dir").mkdir(parents=True, exist_ok=True)
    picture = image_bytes(WIDTH, HEIGHT, "PNG") if images else b""
    counts: Counter = Counter()
    for index in range(num_images):
        mask, found = random_mask(rng)
        counts += found
        (root / "ann_dir" / f"G{index:05d}.png").write_bytes(png_bytes(mask))
        if images:
            (root / "img_dir" / f"G{index:05d}.png").write_bytes(picture)
    return counts


def format_options(root: Path) -> dict[str, str]:
    """The options that read :func:`write_source`'s tree (the parse benchmark uses them)."""
    return {"classes": "loveda"}
