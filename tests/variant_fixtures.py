"""Helpers shared by the variant tables (``tests/test_variants_*.py``): a shipped recipe by name, small files in a
generated layout, and whether a recipe variant's ``match``/``exclude`` globs recognise a folder."""

from __future__ import annotations

import glob
import io
import os
from pathlib import Path

from rsdata.recipe import DatasetRecipe, load_dataset_recipe

RECIPES = Path(__file__).resolve().parents[1] / "recipes" / "datasets"
SIZE = 200


def recipe(name: str) -> DatasetRecipe:
    return load_dataset_recipe(RECIPES / f"{name}.yaml")


def write_image(path: Path, fmt: str | None = None, size: int = SIZE, colour=(90, 120, 60)) -> None:
    """A plain ``size`` x ``size`` image, in the format its ending names unless ``fmt`` says (JPEG otherwise)."""
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    kind = fmt or {".png": "PNG", ".bmp": "BMP", ".tif": "TIFF"}.get(path.suffix.lower(), "JPEG")
    Image.new("RGB", (size, size), colour).save(buffer, kind)
    path.write_bytes(buffer.getvalue())


def write_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def boxes(n: int):
    """n axis-aligned boxes well inside the image: (x1, y1, x2, y2)."""
    return [(10 + 20 * i, 15 + 10 * i, 30 + 20 * i, 40 + 10 * i) for i in range(n)]


def variant_matches(root: Path, variant) -> bool:
    """Whether every ``match`` glob of ``variant`` finds a path below ``root`` and no ``exclude`` glob does."""
    def hits(pattern: str) -> bool:
        return bool(glob.glob(os.path.join(glob.escape(str(root)), pattern), recursive=True))

    return all(hits(p) for p in variant.match) and not any(hits(p) for p in variant.exclude)


def assert_only_this_variant_matches(entry: DatasetRecipe, variant, source: Path) -> None:
    """``variant``'s globs recognise ``source``, and no other variant of the recipe ``entry`` claims it."""
    where = f"{entry.name}/{variant.name}"
    assert variant_matches(source, variant), f"{where}: its match/exclude globs miss its fixture"
    others = [v.name for v in entry.variants if v.name != variant.name and variant_matches(source, v)]
    assert not others, f"{where}: variant(s) {others} also match this layout"
