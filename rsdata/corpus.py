"""Build a corpus recipe: convert every source, de-duplicate across sources and against the test sets, and write
one dataset with a config per recipe config.

Output layout (the Hugging Face ``datasets`` layout, one repository)::

    OUT/README.md                                       card: configs, per-source counts beside the paper's,
                                                        removed near-duplicates, licences, citations
    OUT/corpus_report.json                              per source: status, images built, removed, kept
    OUT/dedup_report.json                               every removed image, why, and what it repeats
    OUT/data/<config>/<source>/<split>-NNNNN-of-NNNNN-<digest>.parquet
    OUT/.rsdata/corpus/sources/<source>/                each source converted on its own (resumable builds)
    OUT/.rsdata/corpus/test_sets/<source>/              each test set converted (only read for de-duplication)

``load_dataset(OUT, "det10")`` reads one config; the config ``all`` (the default) reads every config. Every row
of a config is in its ``train`` split whatever the source split it came from (kept in ``source_split``).

Steps: (1) every source folder is located first, so that a missing required folder stops the build before any
work (an optional one is reported and left out); (2) each source and test set is converted with
:func:`rsdata.build.convert` into the state folder, which resumes a killed run; (3) perceptual hashes of every
row (cached beside each conversion) find training rows that repeat a test image, and later training rows that
repeat an earlier one (:mod:`rsdata.dedup`); (4) the kept rows are staged, then published into ``data/`` with
the corpus's content digest in their names (:mod:`rsdata.dataset_files`), and the reports and the card last.
From the first step until the card is written, the folder's card marks the build unfinished, so
``load_dataset(OUT)`` never reads a partial corpus.

Image profiles (``--images train448``, ``build_corpus(..., images="train448")``): every source and test set is
converted with the profile's ``max_side``, ``image_format`` and ``jpeg_quality`` over its own options, into an
OUT of its own (``corpus/remoteclip-448`` beside ``corpus/remoteclip``); ``corpus.json`` in the state folder
records the profile, and a folder built with another one is refused without ``overwrite``. The card and
``corpus_report.json`` (``image_profile``, ``image_storage``) say how the images are stored.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from rsdata import __version__
from rsdata.corpus_plan import CorpusPlan, SourcePlan, plan_card_lines, plan_corpus, plan_text  # noqa: F401
from rsdata.corpus_recipe import CorpusRecipe, CorpusSource
from rsdata.dataset_files import CARD_NAME, DATA_DIR, mark_unfinished, publish_shards, remove_stale_shards
from rsdata.errors import OutputFolderError, SourceLayoutError
from rsdata.atomic import write_json_atomic, write_text_atomic

STATE_DIR = Path(".rsdata") / "corpus"
CORPUS_REPORT = "corpus_report.json"
DEDUP_REPORT = "dedup_report.json"
ALL_CONFIG = "all"


@dataclass
class SourceOutcome:
    """What became of one source of the corpus."""

    name: str
    config: str | None  # None for a test set
    folder: str
    splits: tuple[str, ...]
    status: str = "built"  # "built", "unavailable" (folder missing) or "not_selected" (left out by ``only``)
    reason: str = ""
    images: int = 0  # rows the conversion wrote
    removed: int = 0  # rows removed as near-duplicates
    skipped: int = 0  # source records the conversion left out (see its build report)
    paper_images: int | None = None
    license: str = "unknown"

    @property
    def kept(self) -> int:
        return self.images - self.removed

    @property
    def test_name(self) -> str:
        """The name a test set goes by in the de-duplication report ("rsitmd-test"): a source may give both a
        training split and a test set."""
        return f"{self.name}-{'+'.join(self.splits)}"


@dataclass
class CorpusResult:
    recipe: CorpusRecipe
    output: Path
    sources: list[SourceOutcome]
    test_sets: list[SourceOutcome]
    removed: list = field(default_factory=list)
    digest: str = ""  # the content digest in the shard names (rsdata.dataset_files)
    seconds: float = 0.0
    plan: CorpusPlan | None = None  # the dry run of the same sources (rsdata.corpus_plan), for the card
    only: tuple[str, ...] = ()  # the training sources asked for (empty: every source)
    allow_missing: bool = False  # every missing source folder was treated as optional
    images: str | None = None  # the image profile (--images) the build stored its images with; None: as published


def build_corpus(recipe: CorpusRecipe, sources_root: str | Path, output: str | Path, *, num_proc: int = 1,
                 on_error: str = "raise", progress: bool = True, overwrite: bool = False,
                 allow_outside_links: bool = False, only: Sequence[str] = (),
                 allow_missing: bool = False, images: str | None = None) -> CorpusResult:
    """Build ``recipe`` from the source folders under ``sources_root`` into ``output`` (``allow_outside_links``:
    as :class:`~rsdata.build.ConvertOptions`, for every source).

    ``images``: an image profile (``"train448"``: JPEG q95, longer side at most 448 px; the recipe's
    ``image_profiles`` or :data:`rsdata.images.IMAGE_PROFILES`) for every source and test set, so that the
    near-duplicate search compares images stored alike. Each profile is a build of its own: ``output`` holding
    the corpus stored otherwise is refused unless ``overwrite`` is set.

    ``only``: build only these training sources (by name); the others are reported as not selected, and every
    test set is still checked for leakage. ``allow_missing``: a missing source folder or test set is left out and
    reported, as if every source were marked ``optional: true``."""
    from rsdata.build import ConvertOptions, convert

    started = time.perf_counter()
    recipe.image_storage(images)  # an unknown profile stops the build before any work
    sources_root, output = Path(sources_root), Path(output)
    training = [(config, source) for config, source in recipe.training_sources()]
    only = tuple(dict.fromkeys(only))
    _check_selection(recipe, only)
    outcomes = [_locate(source, sources_root, config, only) for config, source in training]
    test_outcomes = [_locate(source, sources_root, None) for source in recipe.test_sets]
    missing = [(o, s) for o, (_, s) in zip(outcomes, training) if o.status == "unavailable" and not s.optional]
    missing += [(o, s) for o, s in zip(test_outcomes, recipe.test_sets) if o.status == "unavailable"
                and not s.optional]
    if missing and not allow_missing:
        lines = "; ".join(f"{o.name}: {o.reason}" for o, _ in missing)
        raise SourceLayoutError(f"{recipe.path or recipe.name}: required source folder(s) missing under "
                                f"{sources_root}: {lines} (mark a source `optional: true`, or pass "
                                "--allow-missing, to build without it)")
    _prepare_output(output, recipe, overwrite, images)  # only now: a refused build leaves an earlier one untouched
    plan = plan_corpus(recipe, sources_root, allow_outside_links=allow_outside_links, images=images)

    def run(source: CorpusSource, outcome: SourceOutcome, stage: Path) -> None:
        # The staging folder belongs to the corpus build: a source whose files changed is converted again
        # (overwrite), while an unchanged one resumes where a killed run stopped (same plan fingerprint).
        options = ConvertOptions(**{
            "on_error": on_error, **recipe.source_options(source, images),
            "splits": source.splits,
            "seed": recipe.seed, "names": dict(source.recipe.names), "closed_names": source.recipe.lists_classes,
            "source_name": source.name, "license": source.recipe.license, "num_proc": num_proc,
            "progress": progress, "overwrite": True, "allow_outside_links": allow_outside_links})
        result = convert(source.recipe.format, sources_root / source.folder, stage, options,
                         source.all_format_options)
        outcome.images = result.report.images
        outcome.skipped = len(result.report.skipped)

    state = output / STATE_DIR
    for (config, source), outcome in zip(training, outcomes):
        if outcome.status == "built":
            _say(progress, f"corpus: converting {source.name} ({config}) from {sources_root / source.folder}")
            run(source, outcome, state / "sources" / source.name)
    for source, outcome in zip(recipe.test_sets, test_outcomes):
        if outcome.status == "built":
            _say(progress, f"corpus: converting test set {source.name} from {sources_root / source.folder}")
            run(source, outcome, state / "test_sets" / source.name)

    from rsdata import dedup

    built = [(o, config) for (config, _), o in zip(training, outcomes) if o.status == "built"]
    tests = [o for o in test_outcomes if o.status == "built"]
    found = dedup.find_duplicates(
        [(o.name, state / "sources" / o.name) for o, _ in built],
        [(o.test_name, state / "test_sets" / o.name) for o in tests],
        max_distance=recipe.max_distance, rule=recipe.dedup_rule, num_proc=num_proc, progress=progress)
    removed_by_source: dict[str, list] = {}
    for removal in found.removals:
        removed_by_source.setdefault(removal.source, []).append(removal)
    publishing = state / "publish"  # every config's shards, staged before any of them is published
    shutil.rmtree(publishing, ignore_errors=True)
    staged = []
    for outcome, config in built:
        removals = removed_by_source.get(outcome.name, [])
        outcome.removed = len(removals)
        staged += dedup._stage_filtered(state / "sources" / outcome.name, removals,
                                        publishing / config / outcome.name, f"{DATA_DIR}/{config}/{outcome.name}",
                                        progress=progress, name=outcome.name)[1]
    digest, published = publish_shards(output, staged, state / "published.json")

    result = CorpusResult(recipe, output, outcomes, test_outcomes, list(found.removals), digest=digest, plan=plan,
                          only=only, allow_missing=allow_missing, images=images)
    write_json_atomic(output / DEDUP_REPORT, dedup.removals_report(found.removals, recipe.max_distance,
                                                                   rule=recipe.dedup_rule))
    write_json_atomic(output / CORPUS_REPORT, _corpus_report(result))
    # The card last: it points readers at the new shards; an earlier build's go only after it.
    write_text_atomic(output / CARD_NAME, corpus_card(result))
    remove_stale_shards(output, [DATA_DIR], keep=[p.filename for p in published])
    result.seconds = time.perf_counter() - started
    return result


def _check_selection(recipe: CorpusRecipe, only: Sequence[str]) -> None:
    from rsdata.errors import OptionError, did_you_mean

    names = list(dict.fromkeys(source.name for _, source in recipe.training_sources()))
    for name in only:
        if name not in names:
            raise OptionError(f"--only: {name!r} is not a source of corpus {recipe.name}{did_you_mean(name, names)}; "
                              f"its sources: {', '.join(names)}")


def _locate(source: CorpusSource, root: Path, config: str | None, only: Sequence[str] = ()) -> SourceOutcome:
    outcome = SourceOutcome(source.name, config, source.folder, source.splits, paper_images=source.paper_images,
                            license=source.recipe.license)
    folder = root / source.folder
    if only and source.name not in only:
        outcome.status, outcome.reason = "not_selected", f"not selected (--only {' '.join(only)})"
    elif not folder.is_dir():
        outcome.status, outcome.reason = "unavailable", f"folder {folder} not found"
    return outcome


def _prepare_output(output: Path, recipe: CorpusRecipe, overwrite: bool, images: str | None = None) -> None:
    """Refuse a non-empty folder that is not a build of this corpus with these ``images`` (its image profile); the
    state folder makes a rerun resume."""
    marker = output / STATE_DIR / "corpus.json"
    if output.exists() and not output.is_dir():
        raise OutputFolderError(f"output {output} exists and is not a folder")
    if output.is_dir() and any(output.iterdir()):
        previous = json.loads(marker.read_text(encoding="utf-8")) if marker.is_file() else None
        if previous is None or previous.get("recipe") != recipe.name:
            if not overwrite or previous is None:
                raise OutputFolderError(f"output folder {output} is not empty and holds no build of corpus "
                                        f"{recipe.name!r}; choose a new or empty folder")
            shutil.rmtree(output / STATE_DIR.parts[0])
        elif previous.get("images") != images:
            if not overwrite:
                def stored(name: str | None) -> str:
                    return f"with --images {name}" if name else "as published (no --images)"

                raise OutputFolderError(
                    f"output folder {output} holds corpus {recipe.name!r} built {stored(previous.get('images'))}; "
                    f"build it {stored(images)} into a folder of its own (the builds stand side by side, e.g. "
                    f"corpus/{recipe.name} and corpus/{recipe.name}-448), or pass --overwrite to replace it")
            shutil.rmtree(output / STATE_DIR.parts[0])
    # Final files are rewritten from the (resumable) per-source conversions on every run; until they are, the
    # folder reads as unfinished, never as a mixture of two builds.
    (output / STATE_DIR).mkdir(parents=True, exist_ok=True)
    mark_unfinished(output, "Run the same `rsdata convert --recipe` command again to finish it: finished "
                    "sources are not converted again.", reports=[CORPUS_REPORT, DEDUP_REPORT])
    write_json_atomic(marker, {"recipe": recipe.name, "rsdata": __version__, "images": images})


def _corpus_report(result: CorpusResult) -> dict:
    def entry(o: SourceOutcome) -> dict:
        return {"name": o.name, "config": o.config, "folder": o.folder, "splits": list(o.splits),
                "status": o.status, "reason": o.reason, "images": o.images, "removed": o.removed, "kept": o.kept,
                "skipped_records": o.skipped, "paper_images": o.paper_images, "license": o.license}

    configs = {}
    for o in result.sources:
        if o.config is not None:
            c = configs.setdefault(o.config, {"images": 0, "removed": 0, "kept": 0, "paper_images": 0})
            c["images"] += o.images
            c["removed"] += o.removed
            c["kept"] += o.kept
            c["paper_images"] += o.paper_images or 0
    return {
        "corpus": result.recipe.name,
        "rsdata_version": __version__,
        "seed": result.recipe.seed,
        "max_distance": result.recipe.max_distance,
        "dedup_rule": result.recipe.dedup_rule,
        "configs": configs,
        "images": sum(c["kept"] for c in configs.values()),
        "removed": len(result.removed),
        "sources": [entry(o) for o in result.sources],
        "test_sets": [entry(o) for o in result.test_sets],
        "only": list(result.only),  # the sources asked for; empty: every source
        "allow_missing": result.allow_missing,
        "image_profile": result.images,
        "image_storage": result.recipe.image_storage(result.images),
    }


def config_data_files(result: CorpusResult) -> list[dict]:
    """The card's ``configs`` entries: one per recipe config, and ``all`` (the default) for every config."""
    present = [c.name for c in result.recipe.configs
               if any(o.config == c.name and o.status == "built" for o in result.sources)]
    configs = [{"config_name": ALL_CONFIG, "default": True,
                "data_files": [{"split": "train", "path": [_config_pattern(name, result.digest) for name in present]}]}]
    configs += [{"config_name": name, "data_files": [{"split": "train", "path": _config_pattern(name, result.digest)}]}
                for name in present]
    return configs


def _config_pattern(config: str, digest: str) -> str:
    return f"{DATA_DIR}/{config}/*/*-{digest}.parquet"


def corpus_card(result: CorpusResult) -> str:
    """The dataset card (README.md): YAML metadata with the configs, then the counts and the removed images."""
    from huggingface_hub import DatasetCard, DatasetCardData

    from rsdata.dedup import rule_sentence

    recipe = result.recipe
    licenses = sorted({o.license for o in result.sources if o.status == "built"})
    data = DatasetCardData(
        license=licenses[0] if len(licenses) == 1 else "other", pretty_name=recipe.title,
        task_categories=["zero-shot-image-classification", "image-to-text", "text-to-image"],
        tags=["remote-sensing", "rsdata", "clip", recipe.name], configs=config_data_files(result))
    lines = [f"# {recipe.title}", "", recipe.description.strip(), "",
             f"Built with rsdata {__version__} from the corpus recipe `{recipe.name}` (caption seed "
             f"{recipe.seed}). De-duplication: " + rule_sentence(recipe.dedup_rule, recipe.max_distance)
             + " The test sets were not modified.", "",
             f"Images stored {recipe.image_storage(result.images)}.", "",
             *([f"Only some of the recipe's sources were built: {', '.join(result.only)} (the others are marked "
                "not selected below).", ""] if result.only else []),
             "```python", "from datasets import load_dataset",
             f'ds = load_dataset("USER/{recipe.name}", "{recipe.configs[0].name}")  # or "{ALL_CONFIG}"', "```", "",
             "## Sources", "",
             "| config | source | splits | images built | removed near-duplicates | kept | paper's images | licence |",
             "|---|---|---|---:|---:|---:|---:|---|"]
    for o in result.sources:
        if o.status != "built":
            lines.append(f"| {o.config} | {o.name} | {', '.join(o.splits)} | not built: {o.reason} | | | "
                         f"{_number(o.paper_images)} | {o.license} |")
            continue
        lines.append(f"| {o.config} | {o.name} | {', '.join(o.splits)} | {o.images:,} | {o.removed:,} | "
                     f"{o.kept:,} | {_number(o.paper_images)} | {o.license} |")
    report = _corpus_report(result)
    for name, c in report["configs"].items():
        lines.append(f"| **{name}** | | | {c['images']:,} | {c['removed']:,} | {c['kept']:,} | "
                     f"{_number(c['paper_images'] or None)} | |")
    lines += ["", "The paper's counts are those of RemoteCLIP (Liu, Chen et al., IEEE TGRS 2024), Table I.", "",
              "## Test sets checked for leakage", ""]
    for o in result.test_sets:
        state = f"{o.images:,} images" if o.status == "built" else f"not available: {o.reason}"
        lines.append(f"- {o.name} ({', '.join(o.splits)}): {state}")
    lines += ["", "## Removed near-duplicates", "",
              f"{len(result.removed):,} image(s) removed; all of them are listed in `{DEDUP_REPORT}`."]
    if result.removed:
        lines += ["", "| source | split | image | reason | repeats | distance |", "|---|---|---|---|---|---:|"]
        for removal in result.removed[:50]:
            lines.append(f"| {removal.source} | {removal.split} | {removal.image_path} | {removal.reason} | "
                         f"{removal.match_source}: {removal.match_image_path} | {removal.distance} |")
        if len(result.removed) > 50:
            lines.append(f"| ... {len(result.removed) - 50:,} more in `{DEDUP_REPORT}` | | | | | |")
    lines += _paper_counts_section(result)
    lines += ["", "## Licences", "", "Each row keeps its source's licence in the `license` column. Sources and "
              "their terms:", ""]
    for o in result.sources:
        if o.status == "built":
            lines.append(f"- {o.name}: {o.license}")
    card = DatasetCard(f"---\n{data.to_yaml()}\n---\n\n" + "\n".join(lines) + "\n")
    return str(card)


def _paper_counts_section(result: CorpusResult) -> list[str]:
    """The card's "Table I, source by source" section (:func:`rsdata.corpus_plan.plan_card_lines`)."""
    return ["", *plan_card_lines(result.plan)] if result.plan is not None else []


def _number(value: int | None) -> str:
    return f"{value:,}" if value is not None else "-"


def _say(progress: bool, message: str) -> None:
    if progress:
        import sys

        print(message, file=sys.stderr)


def summary(result: CorpusResult) -> str:
    """A few lines saying what the corpus build did."""
    report = _corpus_report(result)
    configs = ", ".join(f"{name} {c['kept']:,}" for name, c in report["configs"].items())
    lines = [f"Built corpus {result.recipe.name} in {result.output}: {report['images']:,} images ({configs}); "
             f"removed {len(result.removed):,} near-duplicate(s) ({result.seconds:.1f} s)."]
    if result.only:
        left_out = [o.name for o in result.sources if o.status == "not_selected"]
        lines.append(f"  built only {', '.join(result.only)} (--only); not selected: {', '.join(left_out) or 'none'}")
    for o in result.sources + result.test_sets:
        if o.status == "unavailable":
            lines.append(f"  not built (optional): {o.name}: {o.reason}")
    return "\n".join(lines)
