"""Source folder -> canonical records -> captions -> Parquet shards, a build report and a dataset card.

The build is planned before anything is written: the format lists the source's images (sorted), each split's
list is cut into contiguous shards, and a fingerprint of the plan (every input file's name, size and mtime, and
every option that shapes the output) is saved in ``OUT/.rsdata/plan.json``. Shards are then written
independently, each to a hidden temporary name and renamed when complete, with its statistics saved beside it.
So:

- the output never depends on the number of processes (a shard's bytes depend only on its inputs);
- a build that was killed and is run again skips the finished shards and redoes the rest, giving the same bytes
  as an uninterrupted run; a different plan in the same folder is refused unless ``overwrite`` is set;
- no file ever carries a final name before it is complete.

Output layout (the Hugging Face ``datasets`` layout)::

    OUT/README.md                                  dataset card (configs, licence, statistics)
    OUT/build_report.json                          counts, skips with file/line/reason, settings
    OUT/data/<split>-00000-of-00004.parquet        the shards
    OUT/splits/<split>.txt                         only when the format made the splits itself (class folders
                                                   without an official split): each split's images, one path
                                                   relative to the source root per line, sorted
    OUT/.rsdata/                                   plan and per-shard statistics, for resuming

Each record becomes a row through a caption rule: its human captions when it has any (rule ``human``), else its
format's rule (:meth:`SourceFormat.describe`: Box-to-Caption for box formats, no caption for scene
classification, a counting caption for RemoteCount). A format may add columns of its own
(:meth:`SourceFormat.extra_features`); they enter the schema, the plan fingerprint and the card.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import multiprocessing
import os
import shutil
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping, Sequence

from rsdata import __version__
from rsdata.captions import RULE_ID, caption_seed
from rsdata.card import DatasetMeta
from rsdata.dataset_files import (CARD_NAME, DATA_DIR, StagedShard, arrow_nbytes, file_sha256, is_placeholder_card,
                                  mark_empty, mark_unfinished, publish_shards, remove_stale_shards)
from rsdata.errors import EmptyBuildError, OptionError, OutputFolderError, RecordError
from rsdata.formats import SourceFormat, SourceItem, get_format, hub_split_name
from rsdata.geometry import fit_objects_to_image, objects_in_window, tile_windows
from rsdata.images import (DEFAULT_MAX_PIXELS, JPEG_QUALITY, check_image_options, decode_image, describe_storage,
                           encode_window, jpeg_ready_pixels, prepare_image)
from rsdata.records import HUMAN_RULE, Description, ImageRecord, NothingToDescribe
from rsdata.atomic import write_bytes_atomic, write_json_atomic, write_text_atomic
from rsdata.report import BuildReport, ShardStats, SkippedRecord

ON_ERROR_CHOICES = ("raise", "skip")
DEFAULT_MAX_SHARD_BYTES = 256 * 1024 * 1024
# Small builds still get several shards (one per 64 images, up to 16) so that conversion and later reading
# run in parallel; large builds get as many as the byte limit asks for.
ROWS_PER_EXTRA_SHARD = 64
MAX_SHARDS_FOR_PARALLELISM = 16

STATE_DIR = ".rsdata"
STAGING_DIR = f"{STATE_DIR}/staging"
PUBLISHED_RECORD = f"{STATE_DIR}/published.json"
SPLITS_DIR = "splits"
REPORT_NAME = "build_report.json"


@dataclass(frozen=True)
class ConvertOptions:
    """Options of one conversion. Those marked ``shapes output`` enter the plan fingerprint."""

    splits: tuple[str, ...] | None = None  # shapes output; None = every split found
    limit: int | None = None  # shapes output; at most this many images per split (the first, in sorted order;
    # with tile, all tiles of those images)
    seed: int = 0  # shapes output; seeds every caption's random choices
    max_side: int | None = None  # shapes output; longer image side above this is resized (re-encoded)
    max_pixels: int = DEFAULT_MAX_PIXELS  # shapes output; larger images are bad input (image_too_large)
    reencode_format: str | None = None  # shapes output; images that cannot pass through: png (None: png, or jpeg
    # with image_format jpeg) or jpeg
    image_format: str = "published"  # shapes output; "jpeg": every image stored as JPEG (rsdata.images)
    jpeg_quality: int = JPEG_QUALITY  # shapes output; quality of every JPEG the build encodes
    image_profile: str | None = None  # the --images profile that set max_side, image_format and jpeg_quality
    # (rsdata.images.IMAGE_PROFILES); for the card and report only
    verify: str = "structure"  # shapes output; "decode" decodes every image
    max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES  # shapes output
    # Tiling, the same for every format: formats that read windows (the mask formats) give one item per tile and
    # compute each tile's objects from its own window (SourceFormat.tile_items); for the others each image is
    # parsed whole and cut, with its boxes (geometry.objects_in_window).
    tile: int | None = None  # shapes output; cut images into square tiles of this many pixels
    tile_overlap: float = 0.0  # shapes output; share of a tile's side that overlaps the next tile, in [0, 1)
    tile_stride: int | None = None  # shapes output; pixels from one tile's start to the next (instead of
    # tile_overlap: mmsegmentation's converters give patch size and overlap in pixels, e.g. 896 and 384 -> 512)
    tile_keep_share: float = 0.5  # shapes output; box formats: an object is in a tile when this share of its
    # box lies inside it
    names: Mapping[str, Any] | None = None  # shapes output; label -> caption name (a recipe's name map)
    closed_names: bool = False  # shapes output; names lists every class: another label is unknown_class
    source_name: str | None = None  # shapes output; default: the format's name
    license: str | None = None  # shapes output; default: the format's default licence
    # The source dataset's title, homepage, citation and licence note (a recipe's; DatasetMeta.from_recipe): they
    # shape the card only, so they stay out of the plan fingerprint and a rerun with new ones rewrites the card.
    dataset_meta: DatasetMeta | None = None
    allow_outside_links: bool = False  # shapes output (which rows exist); read files that links lead out of SOURCE
    on_error: str = "raise"  # "skip" leaves bad records out and counts them
    num_proc: int = 1
    overwrite: bool = False  # replace an rsdata build with a different plan in OUT
    progress: bool = True

    def check(self) -> None:
        if self.on_error not in ON_ERROR_CHOICES:
            raise OptionError(f"--on-error must be one of {', '.join(ON_ERROR_CHOICES)}, got {self.on_error!r}")
        if self.num_proc < 1:
            raise OptionError(f"--num-proc must be at least 1, got {self.num_proc}")
        if self.limit is not None and self.limit < 1:
            raise OptionError(f"--limit must be at least 1, got {self.limit}")
        if self.max_shard_bytes < 1:
            raise OptionError(f"max shard size must be positive, got {self.max_shard_bytes}")
        check_image_options(self.max_side, self.max_pixels, self.reencode_format, self.verify, self.image_format,
                            self.jpeg_quality)
        if self.names is not None:
            from rsdata.captions import CategoryVocabulary

            CategoryVocabulary(self.names, closed=self.closed_names)  # rejects malformed entries now
        elif self.closed_names:
            raise OptionError("closed_names needs names: the name map that lists every class")
        if self.tile is not None and self.tile < 1:
            raise OptionError(f"--tile must be a positive number of pixels, got {self.tile}")
        if not 0.0 <= self.tile_overlap < 1.0:
            raise OptionError(f"--overlap must be a fraction in [0, 1), got {self.tile_overlap}")
        if self.tile_stride is not None:
            if self.tile_stride < 1:
                raise OptionError(f"--tile-stride must be a positive number of pixels, got {self.tile_stride}")
            if self.tile_overlap:
                raise OptionError(f"--tile-stride {self.tile_stride} and --overlap {self.tile_overlap} both set the "
                                  "step between tiles; give one")
            if self.tile is None:
                raise OptionError(f"--tile-stride {self.tile_stride} needs --tile SIZE")
        if not 0.0 <= self.tile_keep_share <= 1.0:
            raise OptionError(f"--tile-keep-share must be a fraction in [0, 1], got {self.tile_keep_share}")

    @property
    def reencode_as(self) -> str:
        """The encoding of images that cannot pass through: ``reencode_format``, else jpeg for JPEG builds, else png."""
        return self.reencode_format or ("jpeg" if self.image_format == "jpeg" else "png")


def override_convert_options(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` conversion options (a recipe's) with ``override``'s (the command line's, a corpus source's) over
    them: an override's ``tile_overlap`` replaces the base's ``tile_stride`` and the other way round, as both set
    the step between tiles."""
    merged = dict(base)
    for key, other in (("tile_overlap", "tile_stride"), ("tile_stride", "tile_overlap")):
        if override.get(key) is not None:
            merged.pop(other, None)
    if override.get("image_format") == "jpeg" and merged.get("reencode_format") == "png":
        merged.pop("reencode_format")  # a JPEG build asked for over a base that re-encodes as PNG
    merged.update(override)
    return merged


#: The ConvertOptions fields an image profile sets (rsdata.images.ImageProfile).
PROFILE_FIELDS = ("max_side", "image_format", "jpeg_quality")


def apply_image_profile(options: Mapping[str, Any], name: str | None, profiles: Mapping[str, Any] | None = None,
                        *, explicit: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``options`` (ConvertOptions fields) with the image profile ``name`` (``--images``; a corpus recipe's
    ``profiles`` or :data:`rsdata.images.IMAGE_PROFILES`) over them, and ``image_profile`` set to its name.

    ``explicit``: the options the caller gave itself (the command line's, the API's); a profile and an explicit
    ``max_side``, ``image_format`` or ``jpeg_quality`` are refused together: the profile is the whole setting.
    Without ``name`` the options come back unchanged.
    """
    if name is None:
        return dict(options)
    from rsdata.images import image_profile

    given = sorted(key for key in PROFILE_FIELDS if (explicit or {}).get(key) is not None)
    if given:
        raise OptionError(f"--images {name} sets max_side, image_format and jpeg_quality; give the profile or "
                          f"{', '.join(given)}, not both")
    merged = override_convert_options(options, image_profile(name, profiles).options())
    merged["image_profile"] = name
    return merged


def conversion(*, recipe: Any = None, format: str | None = None, format_options: Mapping[str, Any] | None = None,
               source: str | Path | None = None, say: Callable[[str], None] | None = None,
               **options: Any) -> tuple[str, dict[str, str], ConvertOptions]:
    """What :func:`convert` needs, from a dataset recipe or a format: ``(format name, format options, options)``.

    ``recipe`` is a :class:`~rsdata.recipe.DatasetRecipe`, a recipe name (``"dior"``) or the path of a recipe
    file; it gives the format, its options, the caption names (closed when the recipe lists every class), the
    source name, the licence and its ``convert_options``. When the recipe lists layout variants and ``source``
    is given, the variant :func:`rsdata.detect.choose_variant` finds there adds its format options over the
    recipe's, and ``say`` (when given) gets the line ``layout: VARIANT (FRAMEWORK)``, or a note listing the
    variants when none matches. ``format_options`` and ``options`` (:class:`ConvertOptions` fields; ``None`` means
    unset) win over the recipe's and the variant's. The one place a recipe is unpacked: the command line and
    :func:`rsdata.convert` both come here.
    """
    if (recipe is None) == (format is None):
        raise OptionError("give a dataset recipe (recipe=NAME or PATH) or a format (format=NAME), not "
                          f"{'both' if recipe is not None else 'neither'}")
    images = options.pop("images", None)
    settings: dict[str, Any] = {}
    merged_format_options: dict[str, str] = {}
    if recipe is not None:
        from rsdata.card import DatasetMeta
        from rsdata.recipe import DatasetRecipe, find_recipe, load_dataset_recipe

        if not isinstance(recipe, DatasetRecipe):
            recipe = load_dataset_recipe(find_recipe(recipe, "dataset"))
        format = recipe.format
        merged_format_options.update(recipe.format_options)
        if recipe.variants and source is not None:
            from rsdata.detect import choose_variant

            variant = choose_variant(recipe, source)
            if variant is not None:
                merged_format_options.update(variant.format_options)
            if say is not None:
                say(f"layout: {variant.name} ({variant.framework})" if variant is not None else
                    f"note: {source} matches none of the layouts recipe {recipe.name} knows "
                    f"({', '.join(v.name for v in recipe.variants)}; `rsdata detect {source}` says what each "
                    "lacks); converting with the recipe's own format options")
        settings.update(recipe.convert_options)
        settings.update(names=dict(recipe.names), closed_names=recipe.lists_classes, source_name=recipe.name,
                        license=recipe.license, dataset_meta=DatasetMeta.from_recipe(recipe))
    merged_format_options.update({key: str(value) for key, value in (format_options or {}).items()})
    given = {key: value for key, value in options.items() if value is not None}
    settings = apply_image_profile(override_convert_options(settings, given), images, explicit=given)
    if isinstance(settings.get("splits"), str):
        settings["splits"] = (settings["splits"],)
    elif settings.get("splits") is not None:
        settings["splits"] = tuple(settings["splits"])
    fields = [f.name for f in dataclasses.fields(ConvertOptions)]
    unknown = [key for key in settings if key not in fields]
    if unknown:
        from rsdata.errors import did_you_mean

        raise OptionError(f"unknown conversion option {unknown[0]!r}{did_you_mean(unknown[0], fields)}; options: "
                          f"{', '.join(fields)} (a format's own options go in format_options)")
    return format, merged_format_options, ConvertOptions(**settings)


@dataclass(frozen=True)
class ShardPlan:
    split: str  # output split name ("validation")
    index: int
    count: int
    items: tuple[SourceItem, ...]

    @property
    def staged_name(self) -> str:
        """Where the shard is written, relative to OUT; :func:`rsdata.dataset_files.publish_shards` moves it to
        ``data/`` once the whole build is done."""
        return f"{STAGING_DIR}/{self.split}-{self.index:05d}-of-{self.count:05d}.parquet"

    @property
    def state_name(self) -> str:
        return f"{self.split}-{self.index:05d}.json"


@dataclass(frozen=True)
class BuildPlan:
    source: Path
    source_name: str
    license: str
    shards: tuple[ShardPlan, ...]
    fingerprint: str
    extra_features: Mapping[str, Any] | None = None  # the format's extra columns: name -> datasets feature

    def split_lists(self) -> dict[str, list[str]]:
        """Each output split's planned images (paths relative to the source root), sorted."""
        lists: dict[str, list[str]] = {}
        for shard in self.shards:
            lists.setdefault(shard.split, []).extend(item.image_name for item in shard.items)
        return {split: sorted(names) for split, names in lists.items()}


@dataclass
class ConvertResult:
    """What :func:`convert` returns: the report, where it wrote, and how the run went (not saved)."""

    report: BuildReport
    output: Path
    shards_written: int
    shards_resumed: int
    seconds: float


def plan_shards(items: Sequence[SourceItem], max_shard_bytes: int) -> list[list[SourceItem]]:
    """Cut one split's items into contiguous shards of near-equal length (lengths differ by at most one)."""
    if not items:
        return [[]]
    total_bytes = sum(item.size_bytes for item in items)
    count = max(1, math.ceil(total_bytes / max_shard_bytes),
                min(MAX_SHARDS_FOR_PARALLELISM, math.ceil(len(items) / ROWS_PER_EXTRA_SHARD)))
    count = min(count, len(items))
    base, extra = divmod(len(items), count)
    shards, start = [], 0
    for index in range(count):
        end = start + base + (1 if index < extra else 0)
        shards.append(list(items[start:end]))
        start = end
    return shards


def make_plan(source_format: SourceFormat, source: Path, options: ConvertOptions) -> BuildPlan:
    from rsdata.schema import check_extra_columns

    if options.tile is not None and source_format.caption_rule != RULE_ID:
        raise OptionError(f"--tile cuts box-annotated images into tiles; the rows of format {source_format.name!r} "
                          f"are captioned by rule {source_format.caption_rule!r}, which describes whole images")
    from rsdata.formats.base import ReadPolicy

    # What the format may read: set before listing, and carried to the worker processes with the format.
    source_format.read_policy = ReadPolicy(source.resolve(), options.allow_outside_links, options.max_pixels)
    items = source_format.list_items(source, options.splits)
    for text in getattr(source_format, "notes", ()):
        print(f"note: {text}", file=sys.stderr)
    extra_features = dict(source_format.extra_features())
    check_extra_columns(extra_features)  # refuses extra columns named like base columns
    by_split: dict[str, list[SourceItem]] = {}
    for item in items:
        by_split.setdefault(item.split, []).append(item)
    shards: list[ShardPlan] = []
    seen_output_splits: dict[str, str] = {}
    for source_split, split_items in by_split.items():
        split = hub_split_name(source_split)
        if split in seen_output_splits:
            raise OptionError(f"source splits {seen_output_splits[split]!r} and {source_split!r} would both be "
                              f"written as split {split!r}; convert them separately")
        seen_output_splits[split] = source_split
        if options.limit is not None:
            split_items = split_items[:options.limit]
        if options.tile is not None:
            tiles = source_format.tile_items(split_items, options.tile, options.tile_overlap,
                                             stride=options.tile_stride)
            split_items = split_items if tiles is None else tiles
        pieces = plan_shards(split_items, options.max_shard_bytes)
        shards.extend(ShardPlan(split, i, len(pieces), tuple(piece)) for i, piece in enumerate(pieces))
    source_name = options.source_name or source_format.name
    license = options.license or source_format.default_license
    shaping = {
        "rsdata": __version__,
        "format": source_format.name,
        "format_options": _jsonable(source_format.options),
        "source_name": source_name,
        "license": license,
        "options": _shaping_options(options),
    }
    if source_format.output_revision != 1:
        shaping["output_revision"] = source_format.output_revision
    if extra_features:  # class names found by listing the source shape the output too
        from datasets import Features

        shaping["extra_features"] = Features(extra_features).to_dict()
        shaping["assigns_splits"] = source_format.assigns_splits
    # Hashed item by item: a million-image plan would be a very large string to build at once.
    digest = hashlib.sha256(json.dumps(shaping, sort_keys=True, default=str).encode())
    annotation_signatures: dict[Path, tuple[int, int]] = {}  # one caption file may serve thousands of images
    for shard in shards:
        digest.update(shard.staged_name.encode())
        for item in shard.items:
            digest.update(json.dumps(_item_key(source, item, annotation_signatures)).encode())
    fingerprint = digest.hexdigest()
    return BuildPlan(source, source_name, license, tuple(shards), fingerprint, extra_features)


def convert(format_name: str, source: str | Path, output: str | Path, options: ConvertOptions | None = None,
            format_options: Mapping[str, str] | None = None) -> ConvertResult:
    """Convert the ``format_name`` source folder ``source`` into a captioned dataset in ``output``.

    Raises :class:`RecordError` on the first bad record unless ``options.on_error == "skip"``; raises
    :class:`~rsdata.errors.RsdataError` subclasses for bad options, layouts and output folders.
    """
    options = options or ConvertOptions()
    options.check()
    started = time.perf_counter()
    source, output = Path(source).resolve(), Path(output)
    source_format = get_format(format_name).from_option_strings(dict(format_options or {}))
    plan = make_plan(source_format, source, options)
    _prepare_output(output, plan, options.overwrite)

    job = _ShardJob(source_format, plan, options, output)
    done = {s.filename: s for s in _finished_shards(output, plan)}
    pending = [s for s in plan.shards if s.staged_name not in done]
    if pending or not _is_finished(output):
        mark_unfinished(output, "Run the same `rsdata convert` command again to finish it: it resumes where it "
                        "stopped.", reports=[REPORT_NAME])
    state_names = {s.staged_name: s.state_name for s in plan.shards}
    for stats in _run_shards(job, pending, options):
        done[stats.filename] = stats
        write_json_atomic(output / STATE_DIR / "shards" / state_names[stats.filename], stats.to_json())

    from rsdata.card import CONTACT_SHEET, first_rows, iter_first_rows, write_dataset_card
    from rsdata.contact_sheet import contact_sheet, png_bytes
    from rsdata.schema import base_features_yaml, output_features

    staged = [StagedShard(DATA_DIR, s.split, done[s.staged_name].rows, output / s.staged_name,
                          sha256=done[s.staged_name].sha256 or None) for s in plan.shards]
    digest, published = publish_shards(output, staged, output / PUBLISHED_RECORD)
    final_name = dict(zip((s.path for s in staged if s.rows), (p.filename for p in published)))
    if source_format.assigns_splits:
        (output / SPLITS_DIR).mkdir(exist_ok=True)
        for split, names in plan.split_lists().items():
            # Names as the file system has them (one that is no UTF-8 was refused as a record, but stays listed).
            write_text_atomic(output / SPLITS_DIR / f"{split}.txt", "".join(f"{name}\n" for name in names),
                              errors="surrogateescape")
    shard_stats = [dataclasses.replace(done[s.staged_name], filename=final_name.get(output / s.staged_name, ""))
                   for s in plan.shards]
    report = BuildReport.from_shards(shard_stats, value_order=_value_order(plan),
                                     source_dataset=plan.source_name, format=source_format.name,
                                     caption_rule=source_format.caption_rule,
                                     settings=_settings(source_format, options),
                                     extra_columns=list(plan.extra_features or {}),
                                     source_facts=_jsonable_facts(source_format.source_facts(job.vocabulary)),
                                     split_lists=sorted(f"{SPLITS_DIR}/{split}.txt" for split in plan.split_lists())
                                     if source_format.assigns_splits else [],
                                     content_digest=digest if published else "")
    write_json_atomic(output / REPORT_NAME, report.to_json())
    if not published:
        mark_empty(output, REPORT_NAME)
        remove_stale_shards(output, [DATA_DIR], keep=())
        reasons = ", ".join(f"{reason} {n}" for reason, n in report.skipped_per_reason.items()) or "none"
        raise EmptyBuildError(f"no row was written: all {len(report.skipped)} source record(s) were left out "
                              f"({reasons}); {output / REPORT_NAME} lists each with its file, line and reason, and "
                              f"{output} holds no loadable dataset")
    # The contact sheet, then the card last: the card is what points readers at the new shards. The old ones go
    # only after it.
    preview = first_rows(output, report, images=False)
    # The sheet's images are read and decoded one at a time: 12 DOTA-size PNGs held at once were 400 MB.
    write_bytes_atomic(output / CONTACT_SHEET, png_bytes(contact_sheet(iter_first_rows(output, report),
                                                                       count=len(preview))))
    split_bytes: dict[str, int] = {}
    for stats in shard_stats:
        split_bytes[stats.split] = split_bytes.get(stats.split, 0) + stats.arrow_bytes
    card = write_dataset_card(report, plan.license, options.dataset_meta,
                              # datasets is imported only for a format's extra columns
                              features=output_features(plan.extra_features) if plan.extra_features
                              else base_features_yaml(), split_bytes=split_bytes,
                              download_size=sum((output / p.filename).stat().st_size for p in published),
                              examples=preview, contact_sheet=CONTACT_SHEET)
    write_text_atomic(output / CARD_NAME, card)
    remove_stale_shards(output, [DATA_DIR], keep=[p.filename for p in published])
    return ConvertResult(report, output, len(pending), len(plan.shards) - len(pending),
                         time.perf_counter() - started)


# ---------------------------------------------------------------------------------------------------------------
# Output folder state


def _prepare_output(output: Path, plan: BuildPlan, overwrite: bool) -> None:
    if output.exists() and not output.is_dir():
        raise OutputFolderError(f"output {output} exists and is not a folder")
    plan_file = output / STATE_DIR / "plan.json"
    if output.is_dir() and any(output.iterdir()):
        if not plan_file.is_file():
            entries = ", ".join(sorted(p.name for p in output.iterdir())[:5])
            raise OutputFolderError(f"output folder {output} is not empty ({entries}) and holds no rsdata build; "
                                    "choose a new or empty folder")
        previous = json.loads(plan_file.read_text(encoding="utf-8"))
        if previous.get("fingerprint") != plan.fingerprint:
            if not overwrite:
                raise OutputFolderError(
                    f"output folder {output} holds a build of other inputs or options; run the same command as "
                    "before to resume it, or pass --overwrite to replace it")
            _remove_build(output)
    (output / STAGING_DIR).mkdir(parents=True, exist_ok=True)
    (output / STATE_DIR / "shards").mkdir(parents=True, exist_ok=True)
    for leftover in (output / STAGING_DIR).glob(".*.tmp"):  # pieces of a killed run; never final
        leftover.unlink()
    write_json_atomic(plan_file, {"fingerprint": plan.fingerprint, "rsdata": __version__,
                                  "shards": [s.staged_name for s in plan.shards]})


def _remove_build(output: Path) -> None:
    """Remove what an rsdata build wrote in ``output`` (and nothing else)."""
    # The card first: from here on the folder reads as unfinished, never as a mixture.
    mark_unfinished(output, "Run the rsdata convert command again to finish it.", reports=[REPORT_NAME])
    shutil.rmtree(output / STATE_DIR, ignore_errors=True)
    remove_stale_shards(output, [DATA_DIR], keep=())
    for split_list in (output / SPLITS_DIR).glob("*.txt"):
        split_list.unlink()


def _is_finished(output: Path) -> bool:
    """A build whose report and real card are in place (a rerun of its command changes nothing)."""
    return (output / REPORT_NAME).is_file() and (output / CARD_NAME).is_file() and \
        not is_placeholder_card(output / CARD_NAME)


def _finished_shards(output: Path, plan: BuildPlan) -> list[ShardStats]:
    """The planned shards already written: their statistics are saved, and their file is staged, or published
    by an earlier run (or was never needed: a shard whose every record was left out has no file)."""
    published = json.loads((output / PUBLISHED_RECORD).read_text(encoding="utf-8")) \
        if (output / PUBLISHED_RECORD).is_file() else {}
    finished = []
    for shard in plan.shards:
        state = output / STATE_DIR / "shards" / shard.state_name
        if not state.is_file():
            continue
        stats = ShardStats.from_json(json.loads(state.read_text(encoding="utf-8")))
        moved = published.get(shard.staged_name)
        if stats.rows == 0 or (output / shard.staged_name).is_file() or (moved and (output / moved).is_file()):
            finished.append(stats)
    return finished


# ---------------------------------------------------------------------------------------------------------------
# Writing shards


class _ShardJob:
    """Everything a worker needs to turn a :class:`ShardPlan` into a Parquet file."""

    def __init__(self, source_format: SourceFormat, plan: BuildPlan, options: ConvertOptions, output: Path):
        from rsdata import schema
        from rsdata.captions import CategoryVocabulary

        self.format = source_format
        self.plan = plan
        self.options = options
        self.output = output
        self.extra_features = dict(plan.extra_features or {})
        self.schema = schema.output_arrow_schema(self.extra_features)
        self.row_group_max_bytes = schema.ROW_GROUP_MAX_BYTES  # read here, so workers use the parent's value
        self.vocabulary = CategoryVocabulary(options.names, closed=options.closed_names)
        unknown = [c for c in source_format.counted_columns if c not in self.extra_features]
        if unknown:
            raise ValueError(f"format {source_format.name!r} counts column(s) {', '.join(unknown)} that it does not "
                             f"declare in extra_features()")

    def write(self, shard: ShardPlan, on_item: Callable[[], None]) -> ShardStats:
        """Write one shard: its rows in row groups of at most :data:`~rsdata.schema.ROW_GROUP_SIZE` rows and
        :data:`~rsdata.schema.ROW_GROUP_MAX_BYTES` image bytes, the next images read ahead by the kernel and each
        finished group written on a thread of its own (:mod:`rsdata.shard_io`) while the following
        one is gathered."""
        from rsdata.schema import ROW_GROUP_SIZE, RowBatch, parquet_writer_options
        from rsdata.shard_io import BackgroundParquetWriter

        final = self.output / shard.staged_name
        temporary = final.with_name(f".{final.name}.{os.getpid()}.tmp")
        stats = ShardStats(split=shard.split, filename=shard.staged_name)
        max_group_bytes = self.row_group_max_bytes
        batch = RowBatch(self.schema)
        try:
            with BackgroundParquetWriter(temporary, self.schema, row_group_size=ROW_GROUP_SIZE,
                                         **parquet_writer_options(self.schema)) as writer:
                for item in self._read_ahead(shard.items):
                    for row in self._rows_or_skips(item, stats):
                        if len(batch) and (len(batch) == ROW_GROUP_SIZE
                                           or batch.image_nbytes + len(row["image_bytes"]) > max_group_bytes):
                            table, batch = batch.to_table(), RowBatch(self.schema)  # the rows' bytes go now
                            writer.write(table)
                            del table
                        batch.append(**row)
                    on_item()
                if len(batch):
                    writer.write(batch.to_table())
                batch = None
            if stats.rows:
                stats.arrow_bytes = arrow_nbytes(temporary)
                # Hashed here, by this worker in parallel with the others, not serially when the build publishes.
                stats.sha256 = file_sha256(temporary)
                os.replace(temporary, final)
            else:  # no file at all: a 0-row shard would make datasets refuse the whole dataset
                temporary.unlink()
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
        return stats

    def _read_ahead(self, items: Sequence[SourceItem]) -> Iterator[SourceItem]:
        """``items``, with the kernel told to read the next ones' image files ahead (:class:`~rsdata.shard_io
        .ReadAhead`); tiles of a window-reading format read their own windows, so nothing is hinted for them."""
        from rsdata.shard_io import ReadAhead

        return ReadAhead(lambda item: item.image_path if item.window is None else None)(items)

    def _rows_or_skips(self, item: SourceItem, stats: ShardStats) -> Iterator[dict]:
        """The rows of one item, counting what is left out in ``stats``; bad input raises or is skipped."""
        try:
            record = self.format.read(item)
            for number, row in enumerate(self.rows(record, is_tile=item.window is not None)):
                if number == 0:  # the record made it past every check: count what its rules left out
                    stats.add_dropped(record.dropped_objects)
                if isinstance(row, SkippedRecord):
                    stats.skipped.append(row)
                    continue
                stats.add_row([o.category for o in row["objects"]], len(row["captions"]), row["image_encoding"],
                              rule=row["caption_rule"], counted=self._counted_values(row))
                yield row
        except RecordError as error:
            if self.options.on_error == "raise":
                raise
            stats.skipped.append(self._skipped(error))

    def rows(self, record: ImageRecord, is_tile: bool = False) -> Iterator[dict | SkippedRecord]:
        """The output rows of one parsed source image (arguments of :meth:`RowBatch.append`): one, or one per tile.

        ``is_tile``: the record is already one tile (its format read the item's window: objects, pixels and
        georeferencing are the tile's), so it is one row. Otherwise, with ``--tile``, the image is decoded whole
        and cut, its boxes with it, and each tile gets its own geotransform and footprint.

        Everything that can reject the record (parsing, reading the image, objects outside it) happens before
        the first row is produced, so a skipped record never leaves half its rows behind.
        """
        options = self.options
        data = record.image_data
        where = record.annotation_path or record.image_path
        self.vocabulary.check_labels(record.objects, where)  # a recipe's closed class list rejects the whole record
        provenance = record.provenance
        if options.tile is not None and record.human_captions:
            raise OptionError(f"--tile cannot cut {record.image_name}: its captions were written for the whole image")
        if options.tile is None or is_tile:
            image = prepare_image(record.image_path, data=data, max_side=options.max_side,
                                  max_pixels=options.max_pixels, reencode_format=options.reencode_as,
                                  verify=options.verify, image_format=options.image_format,
                                  jpeg_quality=options.jpeg_quality)
            if record.reencoded_from is not None:  # the bytes are the format's encoding of the source's pixels
                image = dataclasses.replace(
                    image, source_format=record.reencoded_from,
                    encoding=image.source_format.lower() if image.encoding == "original" else image.encoding)
            objects = fit_objects_to_image(record.objects, image.source_width, image.source_height, where,
                                           image.scale)
            yield self._row(record, image, objects, provenance.tile_offset,
                            (provenance.crs, provenance.geo_transform, provenance.footprint_wgs84))
            return
        decoded, source_format = decode_image(record.image_path, data=data,
                                              max_pixels=options.max_pixels)
        source_format = record.reencoded_from or source_format
        if options.reencode_as == "jpeg":  # once for the whole image: every tile gets the same 8-bit mapping
            decoded = jpeg_ready_pixels(decoded)
        objects = fit_objects_to_image(record.objects, decoded.width, decoded.height, where)
        base_x, base_y = provenance.tile_offset
        for window in tile_windows(decoded.width, decoded.height, options.tile, options.tile_overlap,
                                   stride=options.tile_stride):
            inside = objects_in_window(objects, window, options.tile_keep_share)
            offset = (base_x + window[0], base_y + window[1])
            if not inside:  # not worth encoding: it would be left out as no_objects
                yield self._row(record, None, (), offset, (None, None, None))
                continue
            image = encode_window(decoded, source_format, window, max_side=options.max_side,
                                  reencode_format=options.reencode_as, jpeg_quality=options.jpeg_quality)
            yield self._row(record, image, fit_objects_to_image(inside, window[2], window[3], where, image.scale),
                            offset, self._tile_georeference(provenance, window))

    @staticmethod
    def _tile_georeference(provenance, window: tuple[int, int, int, int]
                           ) -> tuple[str | None, tuple[float, ...] | None, str | None]:
        """A tile's own (crs, geotransform, WGS84 footprint), from its image's georeferencing (None without)."""
        if provenance.crs is None or provenance.geo_transform is None:
            return None, None, None
        from rsdata.raster import georeference_window

        return georeference_window(provenance.crs, provenance.geo_transform, window)

    def _row(self, record: ImageRecord, image, objects, tile_offset: tuple[int, int],
             georeference: tuple[str | None, Sequence[float] | None, str | None]) -> dict | SkippedRecord:
        """One row; ``georeference`` is the stored image's (crs, geotransform, WGS84 footprint)."""
        provenance = record.provenance
        if record.human_captions:
            description = Description(tuple(record.human_captions), (), HUMAN_RULE)
        else:
            seed = caption_seed(self.options.seed, self.plan.source_name, provenance.source_id, tile_offset)
            description = self.format.describe(record, objects, image, seed=seed, vocabulary=self.vocabulary)
        if isinstance(description, NothingToDescribe):
            where = f", tile at ({tile_offset[0]}, {tile_offset[1]})" if self.options.tile else ""
            return SkippedRecord(description.reason, self._relative(record.annotation_path or record.image_path),
                                 f"{description.message} (image {record.image_name}{where})")
        crs, geo_transform, footprint = georeference
        if geo_transform is not None and image.scale != (1.0, 1.0):  # a resized image's pixels are larger
            (sx, sy), (x0, a, b, y0, d, e) = image.scale, geo_transform
            geo_transform = (x0, a / sx, b / sy, y0, d / sx, e / sy)
        row = {
            "image_bytes": image.data,
            "image_path": record.image_name,
            "objects": objects,
            "width": image.width,
            "height": image.height,
            "captions": list(description.captions),
            "caption_rule": description.rule,
            "caption_templates": list(description.template_ids),
            "source_dataset": self.plan.source_name,
            "source_split": provenance.split,
            "source_id": provenance.source_id,
            "tile_offset": list(tile_offset),
            "license": self.plan.license,
            "crs": crs,
            "geo_transform": list(geo_transform) if geo_transform is not None else None,
            "footprint_wgs84": footprint,
            "source_image_format": image.source_format,
            "image_encoding": image.encoding,
            "image_scale": list(image.scale),
        }
        if self.extra_features or record.extras or description.extras:
            row.update(self._extra_values(record, description))
        return row

    def _extra_values(self, record: ImageRecord, description: Description) -> dict:
        """The extra columns of one row, checked against what the format declared (a mismatch is a bug in the
        format, not bad input, so it is a ``ValueError``)."""
        values = {**record.extras, **description.extras}
        if set(values) != set(self.extra_features):
            missing = sorted(set(self.extra_features) - set(values))
            unexpected = sorted(set(values) - set(self.extra_features))
            raise ValueError(f"format {self.format.name!r} gave image {record.image_name} extra column values that "
                             f"do not match its extra_features(): missing {missing}, undeclared {unexpected}")
        return values

    def _counted_values(self, row: dict) -> dict[str, str]:
        """The row's values of the format's counted columns, as the report shows them (class names for labels)."""
        counted = {}
        for column in self.format.counted_columns:
            value, feature = row[column], self.extra_features[column]
            names = getattr(feature, "names", None)  # a ClassLabel: count by class name
            counted[column] = names[value] if names is not None else str(value)
        return counted

    def _skipped(self, error: RecordError) -> SkippedRecord:
        return SkippedRecord(error.reason, self._relative(error.path), error.message, error.line)

    def _relative(self, path: str | Path | None) -> str:
        # Reports name files relative to the source root, so they do not depend on where the source lies.
        if path is None:
            return ""
        try:
            return Path(path).resolve().relative_to(self.plan.source).as_posix()
        except (ValueError, OSError, RuntimeError):  # a link out of SOURCE, or a loop: named as the source names it
            try:
                return Path(path).relative_to(self.plan.source).as_posix()
            except ValueError:
                return str(path)


def _run_shards(job: _ShardJob, pending: list[ShardPlan], options: ConvertOptions):
    """Write the pending shards, in order with one process, or in a process pool; yield their statistics."""
    from tqdm.auto import tqdm

    total = sum(len(s.items) for s in pending)
    bar = tqdm(total=total, unit="img", desc="convert", disable=not options.progress or not pending,
               file=sys.stderr)
    try:
        processes = min(options.num_proc, len(pending))
        if processes <= 1:
            for shard in pending:
                yield job.write(shard, lambda: bar.update())
            return
        yield from _run_in_pool(job, pending, processes, bar)
    finally:
        bar.close()


_WORKER_JOB: _ShardJob | None = None
_WORKER_COUNTER = None
_WORKER_STOP = None


class _StopRequested(Exception):
    """Raised in a worker when the build has stopped (another shard failed): its shard is left unfinished."""


def _init_worker(job: _ShardJob, counter, stop) -> None:
    global _WORKER_JOB, _WORKER_COUNTER, _WORKER_STOP
    _WORKER_JOB, _WORKER_COUNTER, _WORKER_STOP = job, counter, stop


def _write_in_worker(shard: ShardPlan) -> ShardStats:
    def on_item() -> None:
        with _WORKER_COUNTER.get_lock():
            _WORKER_COUNTER.value += 1
        if _WORKER_STOP.value:
            raise _StopRequested()

    if _WORKER_STOP.value:
        raise _StopRequested()
    return _WORKER_JOB.write(shard, on_item)


def _run_in_pool(job: _ShardJob, pending: list[ShardPlan], processes: int, bar):
    # fork shares the already-imported modules and the job with the workers at no cost; elsewhere, spawn.
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    context = multiprocessing.get_context(method)
    if job.format.caption_rule != HUMAN_RULE:
        # Load the caption names' plural library (and name the recipe's labels) once, here: forked workers inherit
        # both, spawned ones receive the names with the job; without this every worker loads the library itself.
        job.vocabulary.warm_up()
    counter = context.Value("q", 0)
    stop = context.Value("b", 0, lock=False)
    pool = context.Pool(processes, initializer=_init_worker, initargs=(job, counter, stop))
    try:
        results = pool.imap_unordered(_write_in_worker, pending)
        remaining = len(pending)
        while remaining:
            try:
                stats = results.next(timeout=0.2)
            except multiprocessing.TimeoutError:
                bar.update(counter.value - bar.n)
                continue
            remaining -= 1
            bar.update(counter.value - bar.n)
            yield stats
        pool.close()
    except (Exception, GeneratorExit):
        # A shard failed (bad input), or the caller stopped reading: the other workers stop at their next image
        # and the pool ends normally.
        # Pool.terminate() here could hang for ever: a worker killed while it holds the result queue's lock
        # (sending a finished shard's statistics) leaves the pool's task handler waiting for that lock.
        stop.value = 1
        pool.close()
        pool.join()
        _remove_leftovers(job)
        raise
    except BaseException:  # KeyboardInterrupt, SystemExit: the workers got the signal too; do not wait for them
        pool.terminate()
        pool.join()
        _remove_leftovers(job)
        raise
    pool.join()


def _remove_leftovers(job: _ShardJob) -> None:
    for leftover in (job.output / STAGING_DIR).glob(".*.tmp"):
        leftover.unlink(missing_ok=True)


def _item_key(source: Path, item: SourceItem, annotation_signatures: dict[Path, tuple[int, int]]) -> list:
    """What identifies one planned item: its names, its image's size and time, and its annotation file's (so an
    edited label or caption file is a new plan)."""
    annotation, signature = None, None
    if item.annotation_path is not None:
        annotation = item.annotation_path.relative_to(source).as_posix()
        signature = annotation_signatures.get(item.annotation_path)
        if signature is None:
            try:
                stat = item.annotation_path.stat()
                signature = (stat.st_size, stat.st_mtime_ns)
            except OSError:
                signature = (0, 0)
            annotation_signatures[item.annotation_path] = signature
    return [item.split, item.source_id, item.image_name, annotation, signature, item.size_bytes, item.mtime_ns,
            item.window]


def _value_order(plan: BuildPlan) -> dict[str, list[str]]:
    """The order of a counted column's values in the report: a ClassLabel's names in label order."""
    return {name: list(feature.names) for name, feature in (plan.extra_features or {}).items()
            if getattr(feature, "names", None) is not None}


def _jsonable_facts(facts: Mapping[str, list[dict]]) -> dict[str, list[dict]]:
    """A format's source facts as plain JSON values (they go into the report file)."""
    return json.loads(json.dumps({title: list(rows) for title, rows in facts.items()}, default=str))


def _shaping_options(options: ConvertOptions) -> dict:
    """The options in the plan fingerprint. Options added after a build format was settled (image_format,
    jpeg_quality) count only away from their defaults, so builds made before them resume; reencode_format counts
    as what it resolves to."""
    shaping = {k: v for k, v in asdict(options).items()
               if k not in ("on_error", "num_proc", "overwrite", "progress", "dataset_meta", "image_profile")}
    shaping["reencode_format"] = options.reencode_as
    for key, default in (("image_format", "published"), ("jpeg_quality", JPEG_QUALITY)):
        if shaping[key] == default:
            del shaping[key]
    return shaping


def _jsonable(options) -> dict:
    try:
        return asdict(options)
    except TypeError:
        return {}


def _settings(source_format: SourceFormat, options: ConvertOptions) -> dict:
    """The options echoed into the report and card (not the plan fingerprint: it holds file times, and copies of
    the same source must give the same card)."""
    return {
        "rsdata_version": __version__,
        "format_options": _jsonable(source_format.options),
        "seed": options.seed,
        "splits": list(options.splits) if options.splits else None,
        "limit": options.limit,
        "max_side": options.max_side,
        "max_pixels": options.max_pixels,
        "reencode_format": options.reencode_as,
        "image_format": options.image_format,
        "jpeg_quality": options.jpeg_quality,
        "image_profile": options.image_profile,
        "image_storage": describe_storage(options.max_side, options.image_format, options.jpeg_quality,
                                          options.reencode_as),
        "verify": options.verify,
        "max_shard_bytes": options.max_shard_bytes,
        "tile": options.tile,
        "tile_overlap": options.tile_overlap,
        "tile_stride": options.tile_stride,
        "tile_keep_share": options.tile_keep_share,
    }
