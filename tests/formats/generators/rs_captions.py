"""Generated human-caption sources (Karpathy-style JSON or precomp text pairs) for tests and the parse benchmark."""

from __future__ import annotations

import json
import random
from pathlib import Path

from tests.conftest import image_bytes

WORDS = ("many", "green", "trees", "buildings", "are", "around", "a", "playground", "river", "bridge", "cars",
         "parked", "beside", "the", "road", "café", "white", "planes")
SPLITS = ("train", "train", "train", "train", "train", "train", "train", "val", "test", "test")


def caption(rng: random.Random) -> str:
    """A caption as the real files write them: lower case, sometimes a space before the final period."""
    words = " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 12)))
    return words + rng.choice((" .", ".", " ."))


def write_source(root: Path, num_images: int, *, seed: int = 0, images: bool = True,
                 layout: str = "karpathy") -> dict[tuple[str, str], list[str]]:
    """``root/dataset_gen.json`` (or ``root/<split>_caps.txt`` + ``_filename.txt``) and ``root/images/*.jpg``.

    Images get 5 captions, every 7th gets 3, every 11th 6. Returns {(split, file name): captions} as written.
    """
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    if images:
        (root / "images").mkdir(exist_ok=True)
    expected: dict[tuple[str, str], list[str]] = {}
    picture = image_bytes(32, 32)
    for index in range(num_images):
        filename = f"scene_{index}.jpg"
        count = 3 if index % 7 == 6 else 6 if index % 11 == 10 else 5
        expected[(SPLITS[index % len(SPLITS)], filename)] = [caption(rng) for _ in range(count)]
        if images:
            (root / "images" / filename).write_bytes(picture)
    if layout == "karpathy":
        records = [{"filename": filename, "imgid": i, "split": split,
                    "sentences": [{"raw": text, "tokens": text.split(), "imgid": i} for text in captions]}
                   for i, ((split, filename), captions) in enumerate(expected.items())]
        (root / "dataset_gen.json").write_text(json.dumps({"images": records, "dataset": "gen"}), encoding="utf-8")
    else:
        for split in sorted(set(SPLITS)):
            pairs = [(text, filename) for (s, filename), captions in expected.items() if s == split
                     for text in captions]
            (root / f"{split}_caps.txt").write_text("".join(f"{text}\n" for text, _ in pairs), encoding="utf-8")
            (root / f"{split}_filename.txt").write_text("".join(f"{name}\n" for _, name in pairs),
                                                        encoding="utf-8")
    return expected
