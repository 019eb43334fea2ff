"""The dry run of a corpus recipe: per source, the images a build would produce, beside the paper's count.

``rsdata convert --recipe FILE OUT --sources DIR --plan`` (or :func:`plan_corpus`) lists every source the way its
build does (the format's ``list_items`` for the source's splits and ``limit``), and for a tiled source counts the
tiles the build would cut, from image headers only (:meth:`SourceFormat.tile_items` for the formats that read
windows, else each image's header and :func:`rsdata.geometry.tile_count`): no pixel is decoded, nothing is
written. Each source's count stands beside its paper count (``paper_images``), summed over the sources that count
towards the same row (``paper_row``: PUCPR+ in CARPK's row of Table I), with the recipe's ``paper_note`` saying how
the settings match that count or why they cannot.

What the plan cannot know without parsing every record is left to the build and named here: records a format
leaves out when parsed (an image with nothing to describe, a near-duplicate) are not subtracted, except images
whose label file is empty (0 bytes: nothing to describe in any format), which are counted apart; listed images
without their image or label file are counted apart too (the build reports them, ``missing_image`` or
``missing_annotation``).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field
from pathlib import Path

from rsdata.corpus_recipe import CorpusRecipe, CorpusSource
from rsdata.errors import RsdataError


@dataclass(frozen=True)
class SourcePlan:
    """One training source of a corpus, as a build would convert it (before de-duplication)."""

    name: str
    config: str
    folder: str
    splits: tuple[str, ...]
    status: str  # "planned", "unavailable" (no folder) or "error" (the listing failed: ``reason``)
    reason: str = ""
    tiling: str = ""  # "896 px, stride 512" for a tiled source
    listed: int = 0  # source images listed for the splits
    images: int = 0  # rows the build would write: listed images (or their tiles), less the two counts below
    per_split: dict[str, int] = field(default_factory=dict)  # images per source split
    incomplete: int = 0  # listed without their image or label file (reported by the build, not converted)
    empty_labels: int = 0  # with an empty (0-byte) label file: nothing to describe
    paper_images: int | None = None
    paper_row: str | None = None
    paper_note: str = ""


@dataclass(frozen=True)
class PaperRow:
    """A row of the paper's table: its count, and the images planned for the sources counted in it."""

    source: str
    paper_images: int
    sources: tuple[str, ...]
    images: int | None  # None when a source of the row could not be planned

    @property
    def difference(self) -> int | None:
        return None if self.images is None else self.images - self.paper_images


@dataclass(frozen=True)
class CorpusPlan:
    recipe: CorpusRecipe
    sources_root: Path
    sources: tuple[SourcePlan, ...]
    image_profile: str | None = None  # the image profile (--images), None: as published

    @property
    def images(self) -> int:
        return sum(s.images for s in self.sources)

    def rows(self) -> list[PaperRow]:
        """The paper's rows, in the recipe's order: each source with ``paper_images`` and those counted in it."""
        rows = []
        for owner in self.sources:
            if owner.paper_images is None:
                continue
            members = [s for s in self.sources if s is owner or s.paper_row == owner.name]
            planned = None if any(s.status != "planned" for s in members) else sum(s.images for s in members)
            rows.append(PaperRow(owner.name, owner.paper_images, tuple(s.name for s in members), planned))
        return rows

    def row_of(self, source: str) -> PaperRow | None:
        return next((row for row in self.rows() if source in row.sources), None)


def plan_corpus(recipe: CorpusRecipe, sources_root: str | Path, *, allow_outside_links: bool = False,
                images: str | None = None) -> CorpusPlan:
    """The plan of every training source of ``recipe`` under ``sources_root`` (see the module docstring), with the
    image profile ``images`` (an unknown one is an error). A missing folder or a listing that fails is the
    source's status and reason, not an error: the plan shows every source."""
    recipe.image_storage(images)  # an unknown profile stops the plan here
    root = Path(sources_root)
    plans = tuple(plan_source(source, config, root, allow_outside_links=allow_outside_links,
                              options=recipe.source_options(source, images))
                  for config, source in recipe.training_sources())
    return CorpusPlan(recipe, root, plans, images)


def plan_source(source: CorpusSource, config: str, sources_root: Path, *,
                allow_outside_links: bool = False, options: dict | None = None) -> SourcePlan:
    """One source's plan; ``options``: its conversion options (default: the recipe's and the source's)."""
    from rsdata.build import ConvertOptions, override_convert_options
    from rsdata.formats.base import ReadPolicy
    from rsdata.geometry import tile_stride

    base = dict(name=source.name, config=config, folder=source.folder, splits=source.splits,
                paper_images=source.paper_images, paper_row=source.paper_row, paper_note=source.paper_note)
    folder = sources_root / source.folder
    if not folder.is_dir():
        return SourcePlan(status="unavailable", reason=f"folder {folder} not found", **base)
    if options is None:
        options = override_convert_options(source.recipe.convert_options, source.options)
    known = {k: v for k, v in options.items() if k in ConvertOptions.__dataclass_fields__ and k != "on_error"}
    convert_options = ConvertOptions(**known)
    tiling = ""
    if convert_options.tile is not None:
        stride = tile_stride(convert_options.tile, convert_options.tile_overlap, convert_options.tile_stride)
        tiling = f"{convert_options.tile} px, stride {stride}"
    try:
        source_format = source.source_format()
        source_format.read_policy = ReadPolicy(folder.resolve(), allow_outside_links, convert_options.max_pixels)
        items = source_format.list_items(folder, source.splits)
        by_split: dict[str, list] = {}
        for item in items:
            by_split.setdefault(item.split, []).append(item)
        listed = incomplete = empty = 0
        per_split: dict[str, int] = {}
        for split, split_items in by_split.items():
            if convert_options.limit is not None:
                split_items = split_items[:convert_options.limit]
            listed += len(split_items)
            complete = [i for i in split_items if i.image_path is not None and i.annotation_path is not None]
            incomplete += len(split_items) - len(complete)
            described = [i for i in complete if not _empty_file(i.annotation_path)]
            empty += len(complete) - len(described)
            per_split[split] = _count_tiles(source_format, described, convert_options)
    except RsdataError as error:
        return SourcePlan(status="error", reason=str(error), tiling=tiling, **base)
    return SourcePlan(status="planned", tiling=tiling, listed=listed, images=sum(per_split.values()),
                      per_split=per_split, incomplete=incomplete, empty_labels=empty, **base)


def _count_tiles(source_format, items: list, options) -> int:
    """Rows of ``items``: one per image, or per tile from image headers when the source is tiled."""
    from rsdata.geometry import tile_count

    if options.tile is None or not items:
        return len(items)
    tiles = source_format.tile_items(items, options.tile, options.tile_overlap, stride=options.tile_stride)
    if tiles is not None:
        return len(tiles)
    # A format that parses whole images: the build cuts each image; its header gives the tiles.
    count = 0
    for item in items:
        width, height = _image_size(item.image_path)
        count += tile_count(width, height, options.tile, options.tile_overlap, stride=options.tile_stride)
    return count


def _image_size(path: Path) -> tuple[int, int]:
    from rsdata.images import read_jpeg_or_png_header
    from rsdata.raster import read_raster_info

    with open(path, "rb") as handle:
        found = read_jpeg_or_png_header(handle.read(64 * 1024))
    if found is not None:
        return found[1], found[2]
    info = read_raster_info(path)
    return info.width, info.height


def _empty_file(path: Path) -> bool:
    try:
        return path.is_file() and path.stat().st_size == 0
    except OSError:
        return False


def plan_text(plan: CorpusPlan, *, width: int = 118) -> str:
    """The plan as the command prints it: a table of sources, then each source's note."""
    header = ("config", "source", "splits", "tiling", "images", "Table I", "difference")
    lines: list[tuple[str, ...]] = []
    for s in plan.sources:
        row = plan.row_of(s.name)
        if s.status != "planned":
            images = f"{s.status}"
        else:
            images = f"{s.images:,}"
        if s.paper_row is not None:
            paper, difference = f"in {s.paper_row}", ""
        elif row is None:
            paper, difference = "-", ""
        else:
            paper = f"{row.paper_images:,}"
            if len(row.sources) > 1:
                paper += f" ({' + '.join(row.sources)})"
            difference = "" if row.difference is None else f"{row.difference:+,}"
        lines.append((s.config, s.name, ", ".join(s.splits), s.tiling or "-", images, paper, difference))
    rows = plan.rows()
    paper_total = sum(r.paper_images for r in rows)
    # The difference over the rows whose sources were all planned: a missing folder is not a shortfall.
    difference = sum(r.difference for r in rows if r.difference is not None)
    lines.append(("all", "", "", "", f"{plan.images:,}", f"{paper_total:,}", f"{difference:+,}"))
    widths = [max(len(line[i]) for line in lines + [header]) for i in range(len(header))]
    right = {4, 5, 6}

    def show(cells) -> str:
        return "  ".join(c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(cells, widths)))

    out = [f"Plan of corpus {plan.recipe.name} from {plan.sources_root} (nothing written; images before "
           "de-duplication, tiles from image headers):",
           f"Images stored {plan.recipe.image_storage(plan.image_profile)}.", "", show(header),
           show(["-" * w for w in widths])]
    out += [show(line) for line in lines]
    out += ["", "Per source:"]
    for s in plan.sources:
        facts = []
        if s.status != "planned":
            facts.append(f"{s.status}: {s.reason}")
        else:
            facts.append(", ".join(f"{split} {n:,}" for split, n in s.per_split.items()) or "no images")
            if s.tiling:
                facts.append(f"{s.listed:,} images cut into tiles of {s.tiling}")
            if s.incomplete:
                facts.append(f"{s.incomplete:,} listed without image or labels (left out)")
            if s.empty_labels:
                facts.append(f"{s.empty_labels:,} with an empty label file (nothing to describe, left out)")
        text = f"- {s.name}: {'; '.join(facts)}." + (f" {s.paper_note}" if s.paper_note else "")
        out += textwrap.wrap(text, width=width, subsequent_indent="  ")
    return "\n".join(out)


def plan_card_lines(plan: CorpusPlan) -> list[str]:
    """The card's section on the paper's counts: per source, the planned images, the paper's, and the note."""
    lines = ["## Table I, source by source", "",
             "What the recipe's settings give for each source before de-duplication (the dry run, `rsdata convert "
             "--recipe ... --plan`), beside the paper's count, and how the settings match it or why they cannot.",
             "", "| source | splits | tiling | images planned | paper's images | difference | how |",
             "|---|---|---|---:|---:|---:|---|"]
    for s in plan.sources:
        row = plan.row_of(s.name)
        images = f"{s.images:,}" if s.status == "planned" else s.status
        if s.paper_row is not None:
            paper, difference = f"in {s.paper_row}", ""
        elif row is None:
            paper, difference = "-", ""
        else:
            paper = f"{row.paper_images:,}"
            difference = "" if row.difference is None else f"{row.difference:+,}"
        note = s.paper_note.replace("|", "\\|").replace("\n", " ")
        lines.append(f"| {s.name} | {', '.join(s.splits)} | {s.tiling or '-'} | {images} | {paper} | {difference} "
                     f"| {note} |")
    return lines
