"""Generated colour-mask sources (ISPRS colours, as published for Vaihingen) for tests and the parse benchmark."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import numpy as np

from tests.conftest import image_bytes
from tests.formats.generators.index_mask import HEIGHT, WIDTH, png_bytes, random_mask

# index in random_mask -> (ISPRS colour, label); index 0 is the black boundary of the noBoundary labels (ignored)
COLOURS = [((0, 0, 0), "boundary"), ((255, 255, 255), "impervious_surface"), ((0, 0, 255), "building"),
           ((0, 255, 255), "low_vegetation"), ((0, 255, 0), "tree"), ((255, 255, 0), "car"),
           ((255, 0, 0), "clutter"), ((0, 255, 0), "tree")]


def colour_mask(rng: random.Random) -> tuple[np.ndarray, Counter]:
    indices, by_index_label = random_mask(rng)
    from tests.formats.generators.index_mask import LABELS

    palette = np.array([rgb for rgb, _ in COLOURS], dtype=np.uint8)
    counts: Counter = Counter()
    for label, n in by_index_label.items():
        counts[COLOURS[LABELS.index(label)][1]] += n
    return palette[indices], counts


def write_source(root: Path, num_images: int, *, seed: int = 0, images: bool = True) -> Counter:
    """``root/top/G00000.tif`` + ``root/gts_for_participants/G00000.png`` (Vaihingen's folders; options
    ``images=top masks=gts_for_participants``); a tree is the only class that may appear twice per cell index."""
    rng = random.Random(seed)
    (root / "top").mkdir(parents=True, exist_ok=True)
    (root / "gts_for_participants").mkdir(parents=True, exist_ok=True)
    picture = image_bytes(WIDTH, HEIGHT, "PNG") if images else b""
    counts: Counter = Counter()
    for index in range(num_images):
        mask, found = colour_mask(rng)
        counts += found
        (root / "gts_for_participants" / f"G{index:05d}.png").write_bytes(png_bytes(mask))
        if images:
            (root / "top" / f"G{index:05d}.png").write_bytes(picture)
    return counts


def format_options(root: Path) -> dict[str, str]:
    """The options that read :func:`write_source`'s tree (the parse benchmark uses them)."""
    return {"classes": "isprs_rgb", "images": "top", "masks": "gts_for_participants"}
