"""Pictures of a built dataset: ``rsdata show OUT`` writes a static HTML gallery and a PNG contact sheet of
sampled rows, for a person to look at what a build made.

What it writes in ``HTML_DIR`` (default ``OUT-show`` beside ``OUT``, so that ``rsdata push`` never uploads it; a
folder that works offline, copied anywhere)::

    index.html            one card per sampled row: the image with its boxes and category names drawn, its
                          captions each with its template id, its objects, and its provenance columns; two
                          selects filter the cards by split and by category (a few lines of inline script, no
                          network)
    images/<split>-<row>.png   each sampled image with its boxes drawn (Pillow), as the page shows it
    contact_sheet.png     every sampled image as a thumbnail in a grid, boxes and names drawn (rsdata.contact_sheet)

The dataset is read the way a user reads it, ``datasets.load_dataset(OUT)``: an unfinished or empty build is
refused with what to do next. Sampling is deterministic: the rows of the chosen splits (``split``) that have an
object of ``category`` (when given) are listed in split order, then row order, and ``num`` of them are drawn
with ``numpy.random.default_rng(seed)`` and shown in that listing order. Images are shown scaled (boxes with
them) to at most :data:`MAX_SIDE` and at least :data:`MIN_SIDE` pixels on their longer side.

Once the page has loaded, its script sets ``data-images-loaded`` and ``data-images-broken`` on ``<body>`` and
names any image that failed to load in the header: a gallery copied without its ``images/`` says so.
"""

from __future__ import annotations

import html
import io
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from rsdata.dataset_files import CARD_NAME, is_placeholder_card
from rsdata.errors import OptionError, RsdataError

DEFAULT_NUM = 12
MAX_SIDE = 768  # the longest side of an image in the gallery
MIN_SIDE = 512  # smaller images are scaled up to this
THUMBNAIL = 256  # the cell of the contact sheet
# Box colours: distinct, readable on imagery; a category keeps its colour across a gallery (sorted names).
PALETTE = ("#e6194b", "#3cb44b", "#ffe119", "#4363d8", "#f58231", "#911eb4", "#46f0f0", "#f032e6", "#bcf60c",
           "#fabebe", "#008080", "#e6beff", "#9a6324", "#fffac8", "#800000", "#aaffc3", "#808000", "#ffd8b1")
PROVENANCE = ("source_dataset", "source_split", "source_id", "license", "tile_offset", "image_encoding",
              "source_image_format", "image_scale", "crs", "geo_transform", "footprint_wgs84")


@dataclass
class SampledRow:
    split: str
    row: int
    image_file: str  # relative to the gallery folder
    image_path: str | None  # the image column's path (the source image, provenance)
    size: tuple[int, int]
    captions: list[str]
    templates: list[str]
    caption_rule: str | None
    objects: list[dict]
    provenance: dict


@dataclass
class ShowResult:
    dataset: Path
    output: Path
    html: Path
    contact_sheet: Path
    rows: list[SampledRow] = field(default_factory=list)
    candidates: int = 0  # rows that passed the filters

    def line(self) -> str:
        return (f"showed {len(self.rows)} of {self.candidates} matching row(s) of {self.dataset}: open "
                f"{self.html} (offline); contact sheet {self.contact_sheet}")


def resolve_dataset_folder(path: str | Path) -> Path:
    """The rsdata output folder to read: ``path`` itself, or ``path/dataset`` for an ``rsdata demo`` folder.
    Refuses (with the next step) a folder that is missing, holds no card, or holds an unfinished or empty build."""
    path = Path(path)
    if not (path / CARD_NAME).is_file() and (path / "dataset" / CARD_NAME).is_file():
        path = path / "dataset"  # `rsdata demo OUT` writes the dataset to OUT/dataset
    if not path.is_dir():
        raise RsdataError(f"{path}: no such folder; give the output folder of `rsdata convert` or `rsdata demo`")
    card = path / CARD_NAME
    if not card.is_file():
        raise RsdataError(f"{path}: no {CARD_NAME}, so not an rsdata output folder; give the output folder of "
                          "`rsdata convert` or `rsdata demo`")
    if is_placeholder_card(card):
        text = card.read_text(encoding="utf-8", errors="replace")
        if "unfinished" in text:
            raise RsdataError(f"{path}: the build there has not finished, so it holds no dataset yet; run the same "
                              "rsdata command again to finish it, then show it")
        raise RsdataError(f"{path}: the build left every source record out, so there is nothing to show; "
                          f"{path / 'build_report.json'} lists each one with its reason")
    return path


def load_splits(folder: Path):
    """``datasets.load_dataset(folder)`` as a user calls it, with its errors turned into a clear message."""
    import datasets

    try:
        loaded = datasets.load_dataset(str(folder))
    except (FileNotFoundError, ValueError) as error:
        raise RsdataError(f"{folder}: datasets.load_dataset cannot read it ({error}); rebuild it with the same "
                          "rsdata command") from None
    return loaded


def sample_rows(splits, *, split: str | None, category: str | None, num: int, seed: int) -> tuple[list, int]:
    """``([(split, row), ...], candidates)``: the deterministic sample described in the module docstring."""
    import numpy as np

    names = list(splits)
    if split is not None and split not in names:
        raise OptionError(f"--split {split!r}: the dataset has no such split; its splits: {', '.join(names)}")
    chosen = [split] if split is not None else names
    candidates: list[tuple[str, int]] = []
    seen_categories: set[str] = set()
    for name in chosen:
        table = splits[name]
        if category is None:
            candidates += [(name, row) for row in range(table.num_rows)]
            continue
        if "objects" not in table.column_names:
            continue
        for row, objects in enumerate(table.select_columns(["objects"])["objects"]):
            labels = {obj["category"] for obj in objects}
            seen_categories |= labels
            if category in labels:
                candidates.append((name, row))
    if category is not None and not candidates:
        where = f"split {split}" if split else "any split"
        known = ", ".join(sorted(seen_categories)) or "none (the rows have no objects)"
        raise OptionError(f"--category {category!r}: no row of {where} has an object of that category; "
                          f"categories: {known}")
    if num < 1:
        raise OptionError(f"--num {num}: expected a number of rows >= 1")
    if len(candidates) <= num:
        return candidates, len(candidates)
    picked = np.random.default_rng(seed).choice(len(candidates), size=num, replace=False)
    return [candidates[i] for i in sorted(picked.tolist())], len(candidates)


def category_colours(categories: Sequence[str]) -> dict[str, str]:
    return {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(sorted(set(categories)))}


def draw_boxes(image, objects: Sequence[dict], colours: dict[str, str], *, max_side: int = MAX_SIDE):
    """An RGB copy of ``image`` at most ``max_side`` pixels on a side, with each object's box and category."""
    from PIL import ImageDraw, ImageFont

    image = image.convert("RGB")
    # Large images are scaled down to max_side; small ones up to MIN_SIDE, so that category names stay legible.
    scale = min(max_side / max(image.size), max(1.0, MIN_SIDE / max(image.size)))
    if scale != 1.0:
        image = image.resize((max(1, round(image.width * scale)), max(1, round(image.height * scale))))
    draw = ImageDraw.Draw(image)
    font = ImageFont.load_default(size=max(10, min(16, image.width // 24)))
    width = max(1, round(max(image.size) / 256))
    for obj in objects:
        x0, y0, x1, y1 = (float(v) * scale for v in obj["bbox"])
        colour = colours.get(obj["category"], PALETTE[0])
        draw.rectangle((x0, y0, max(x0, x1), max(y0, y1)), outline=colour, width=width)
        label_box = draw.textbbox((x0, y0), obj["category"], font=font)
        top = y0 - (label_box[3] - label_box[1]) - 2
        top = top if top >= 0 else y1 + 1  # no room above the box: write the name under it
        label_box = draw.textbbox((x0, top), obj["category"], font=font)
        draw.rectangle(label_box, fill=colour)
        draw.text((x0, top), obj["category"], fill="black", font=font)
    return image


def show_dataset(dataset: str | Path, output: str | Path | None = None, *, split: str | None = None,
                 category: str | None = None, num: int = DEFAULT_NUM, seed: int = 0) -> ShowResult:
    """Write the gallery of ``dataset`` (see the module docstring) to ``output`` (default ``<dataset>-show``)."""
    from datasets import Image as ImageFeature
    from PIL import Image

    from rsdata.contact_sheet import contact_sheet as draw_contact_sheet

    folder = resolve_dataset_folder(dataset)
    splits = load_splits(folder)
    picks, candidates = sample_rows(splits, split=split, category=category, num=num, seed=seed)
    output = Path(output) if output is not None else folder.parent / f"{folder.name}-show"
    check_output(output)
    if (output / "images").is_dir():
        shutil.rmtree(output / "images")  # a gallery is rewritten whole: no images of an earlier sample remain
    (output / "images").mkdir(parents=True, exist_ok=True)

    raw = {name: splits[name].cast_column("image", ImageFeature(decode=False)) for name in {s for s, _ in picks}}
    records = [(name, row, raw[name][row]) for name, row in picks]
    colours = category_colours([obj["category"] for _, _, record in records for obj in record.get("objects") or []])
    result = ShowResult(folder, output, output / "index.html", output / "contact_sheet.png", candidates=candidates)
    for name, row, record in records:
        image = Image.open(io.BytesIO(record["image"]["bytes"]))
        objects = [{"category": obj["category"], "bbox": [round(float(v), 1) for v in obj["bbox"]],
                    "difficult": bool(obj.get("difficult"))} for obj in record.get("objects") or []]
        drawn = draw_boxes(image, objects, colours)
        file = f"images/{name}-{row:05d}.png"
        drawn.save(output / file, "PNG")
        captions = list(record.get("captions") or [])
        templates = list(record.get("caption_templates") or [])
        result.rows.append(SampledRow(
            split=name, row=row, image_file=file, image_path=record["image"].get("path"), size=image.size,
            captions=captions, templates=templates, caption_rule=record.get("caption_rule"), objects=objects,
            provenance={key: record[key] for key in PROVENANCE if record.get(key) is not None}))
    sheet = draw_contact_sheet([{"image": record["image"], "objects": record.get("objects") or [],
                            "class_name": record.get("class_name"), "count_category": record.get("count_category")}
                           for _, _, record in records], columns=4, tile=THUMBNAIL)
    sheet.save(result.contact_sheet, "PNG")
    result.html.write_text(gallery_html(result, colours, split=split, category=category, seed=seed),
                           encoding="utf-8")
    return result


def check_output(output: Path) -> None:
    """Refuse an output that is a file, or a folder holding files of something other than an earlier gallery."""
    if output.exists() and not output.is_dir():
        raise OptionError(f"-o {output}: exists and is not a folder")
    page = output / "index.html"
    is_gallery = page.is_file() and _GALLERY_MARK in page.read_text(encoding="utf-8", errors="replace")
    if output.is_dir() and any(output.iterdir()) and not is_gallery:
        raise OptionError(f"-o {output}: the folder holds files that `rsdata show` did not write; choose a new or "
                          "empty folder")


_GALLERY_MARK = '<meta name="generator" content="rsdata show">'
_STYLE = """
body { font-family: sans-serif; margin: 1em; background: #f4f4f4; color: #222; }
header p { margin: 0.2em 0; }
.filters { margin: 0.8em 0; }
.gallery { display: flex; flex-wrap: wrap; gap: 1em; }
.card { background: white; border: 1px solid #ccc; padding: 0.6em; width: 420px; }
.card img { width: 100%; display: block; }
.broken { color: #b00; font-weight: bold; }
.card h2 { font-size: 1em; margin: 0.3em 0; }
.captions { padding-left: 1.4em; margin: 0.4em 0; }
.template { font-family: monospace; color: #666; font-size: 0.85em; }
.category { display: inline-block; padding: 0 0.3em; margin: 0.1em; color: black; font-size: 0.85em; }
table.provenance { font-size: 0.8em; border-collapse: collapse; }
table.provenance td { padding: 0 0.4em 0 0; vertical-align: top; word-break: break-all; }
"""

_SCRIPT = """
function applyFilters() {
  var split = document.getElementById('split-filter').value;
  var category = document.getElementById('category-filter').value;
  var shown = 0;
  document.querySelectorAll('.card').forEach(function (card) {
    var ok = (!split || card.dataset.split === split) &&
             (!category || card.dataset.categories.split('|').indexOf(category) >= 0);
    card.style.display = ok ? '' : 'none';
    if (ok) { shown += 1; }
  });
  document.getElementById('shown').textContent = shown;
}
window.addEventListener('load', function () {
  var images = document.querySelectorAll('.card img'), broken = [];
  images.forEach(function (image) {
    if (!image.complete || image.naturalWidth === 0) { broken.push(image.getAttribute('src')); }
  });
  document.body.dataset.imagesLoaded = images.length - broken.length;
  document.body.dataset.imagesBroken = broken.length;
  if (broken.length) {
    document.getElementById('status').textContent = broken.length + ' image(s) failed to load: ' + broken.join(', ');
  }
});
"""


def gallery_html(result: ShowResult, colours: dict[str, str], *, split: str | None, category: str | None,
                 seed: int) -> str:
    """The page (see the module docstring); every value of the dataset is HTML-escaped."""
    e = html.escape
    splits = sorted({r.split for r in result.rows}, key=[r.split for r in result.rows].index)
    categories = sorted({obj["category"] for r in result.rows for obj in r.objects})
    options = lambda values: "".join(f'<option value="{e(v)}">{e(v)}</option>' for v in values)  # noqa: E731
    cards = []
    for r in result.rows:
        captions = "".join(
            f'<li><span class="caption">{e(text)}</span> <span class="template">'
            f'[{e(r.templates[i] if i < len(r.templates) else (r.caption_rule or ""))}]</span></li>'
            for i, text in enumerate(r.captions))
        counts: dict[str, int] = {}
        for obj in r.objects:
            counts[obj["category"]] = counts.get(obj["category"], 0) + 1
        chips = "".join(f'<span class="category" style="background:{colours[name]}">{e(name)} {n}</span>'
                        for name, n in sorted(counts.items()))
        provenance = {"image path": r.image_path, "size": f"{r.size[0]} x {r.size[1]}",
                      "caption rule": r.caption_rule, **r.provenance}
        table = "".join(f"<tr><td>{e(key)}</td><td>{e(_text(value))}</td></tr>"
                        for key, value in provenance.items() if value is not None)
        boxes = e(json.dumps([[o["category"], *o["bbox"]] for o in r.objects]))
        cards.append(
            f'<article class="card" data-split="{e(r.split)}" data-row="{r.row}" '
            f'data-categories="{e("|".join(sorted(counts)))}">\n'
            f'<h2>{e(r.split)} #{r.row}: {e(str(r.provenance.get("source_id", "")))}</h2>\n'
            f'<img src="{e(r.image_file)}" alt="{e(r.split)} row {r.row}">\n'
            f'<ol class="captions">{captions}</ol>\n'
            f'<div class="objects" data-boxes="{boxes}">{len(r.objects)} object(s) {chips}</div>\n'
            f'<table class="provenance">{table}</table>\n</article>')
    filters = ", ".join(f for f in (f"split {split}" if split else "", f"category {category}" if category else "")
                        if f) or "none"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
{_GALLERY_MARK}
<title>rsdata show: {e(result.dataset.name)}</title>
<style>{_STYLE}</style>
</head>
<body>
<header>
<h1>rsdata show: {e(str(result.dataset))}</h1>
<p>{len(result.rows)} of {result.candidates} row(s) matching the filters ({e(filters)}), drawn with seed {seed}.
Boxes are drawn in the colour of their category. <a href="contact_sheet.png">Contact sheet</a>.</p>
<p id="status" class="broken"></p>
</header>
<div class="filters">
<label>Split <select id="split-filter" onchange="applyFilters()"><option value="">all</option>{options(splits)}</select></label>
<label>Category <select id="category-filter" onchange="applyFilters()"><option value="">all</option>{options(categories)}</select></label>
<span><span id="shown">{len(result.rows)}</span> shown</span>
</div>
<main class="gallery">
{chr(10).join(cards)}
</main>
<script>{_SCRIPT}</script>
</body>
</html>
"""


def _text(value) -> str:
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_text(v) for v in value) + "]"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)
