"""Generated DOTA sources for the remotecount format: category counts around the 1..10 range of RemoteCount."""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

from tests.conftest import image_bytes, write_dota_item

CLASSES = ("plane", "ship", "tennis-court", "storage-tank", "harbor", "small-vehicle", "large-vehicle",
           "container-crane")


def write_source(root: Path, num_images: int, *, seed: int = 0, images: bool = True) -> dict[str, Counter]:
    """``root/images/R00000.jpg`` + ``root/labelTxt/R00000.txt``: each image has 0-3 categories with 1-13 objects
    each (so some exceed 10), difficult flags mixed in. Returns {image stem: objects per label}."""
    rng = random.Random(seed)
    picture = image_bytes(64, 48)
    counts: dict[str, Counter] = {}
    for index in range(num_images):
        stem = f"R{index:05d}"
        lines, counter = [], Counter()
        for category in rng.sample(CLASSES, rng.randint(0, 3)):
            for _ in range(rng.randint(1, 13)):
                x, y = rng.randint(0, 50), rng.randint(0, 35)
                lines.append(f"{x} {y} {x + 8} {y} {x + 8} {y + 8} {x} {y + 8} {category} {rng.randint(0, 1)}")
                counter[category] += 1
        write_dota_item(root, stem, lines, image=picture if images else b"")
        counts[stem] = counter
    return counts
