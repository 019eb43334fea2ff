"""Generated scene-classification trees (one folder per class) for tests and the parse benchmark."""

from __future__ import annotations

import random
from pathlib import Path

from tests.conftest import image_bytes

CLASSES = ("Airport", "BareLand", "StorageTanks", "dense_residential", "sea_ice")


def write_source(root: Path, num_images: int, *, seed: int = 0, images: bool = True) -> dict[str, list[str]]:
    """``root/<Class>/<class>_<k>.jpg``, classes of different sizes (one of them a single image when there are
    enough images to share), numbered so that text order and number order differ (``_10`` before ``_2``).
    Returns {class folder: file names}. ``images=False`` writes empty files (listing only)."""
    rng = random.Random(seed)
    sizes = [1] + [0] * (len(CLASSES) - 1) if num_images >= len(CLASSES) else [0] * len(CLASSES)
    for _ in range(num_images - sum(sizes)):
        sizes[rng.randrange(1, len(CLASSES))] += 1
    written: dict[str, list[str]] = {}
    for class_name, size in zip(CLASSES, sizes):
        folder = root / class_name
        folder.mkdir(parents=True, exist_ok=True)
        numbers = rng.sample(range(1, 3 * size + 2), size)
        names = [f"{class_name.lower()}_{n}.jpg" for n in numbers]
        for n, name in zip(numbers, names):
            data = image_bytes(24, 24, color=(n % 256, 80, 40)) if images else b""
            (folder / name).write_bytes(data)
        written[class_name] = names
    return written
