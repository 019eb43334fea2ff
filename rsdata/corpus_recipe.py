"""Corpus recipes: one YAML file that assembles many dataset recipes into one de-duplicated dataset.

A corpus is built from named configs (``load_dataset(repo, "det10")``), each a list of sources; every source is a
dataset recipe of the same folder (``recipes/datasets/<recipe>.yaml``) applied to a source folder. Test sets are
converted too, only to find near-duplicates of their images on the training side. Fields::

    kind: corpus                        # marks the file as a corpus recipe (dataset recipes have no "kind")
    name: remoteclip                    # lower case letters, digits, "-" and "_"; the file is <name>.yaml
    title: RemoteCLIP pretraining corpus
    description: |                      # shown on the dataset card
      ...
    seed: 0                             # caption seed of every source
    dedup:
      rule: robust                      # the test-set check: paper (pHash within max_distance of a test image) or
                                        # robust (default: also flipped, rotated, 3-5 % cropped copies; rsdata.dedup)
      max_distance: 1                   # near-duplicates: pHash Hamming distance <= this ("below 2" = 1)
    configs:                            # config name -> what it holds, in priority order (earlier sources keep
      ret3:                             # an image when a later one repeats it)
        description: human captions of the three retrieval sets
        sources:
          - recipe: rsicd               # recipes/datasets/rsicd.yaml
            folder: RSICD               # the source folder, relative to the sources root (--sources)
            splits: [train]             # optional: default = the recipe's "pretraining" splits
            paper_images: 8483          # optional: the paper's image count, shown beside the built count
            paper_note: ...             # optional: how the sources' settings match that count, or why they
                                        # cannot (shown by the plan, `--plan`, and on the card)
            paper_row: carpk            # optional: the source whose paper count this one's images count towards
                                        # (PUCPR+ in CARPK's row of Table I)
            format_options: {}          # optional: format options over the dataset recipe's (the paper's
                                        # preprocessing: e.g. which classes are not described, `ignore`)
            optional: false             # optional: a missing folder is reported and skipped instead of fatal
            options: {}                 # optional: conversion options (limit, max_side, tile, tile_overlap,
                                        # tile_keep_share, reencode_format, image_format, on_error:
                                        # raise|skip, default: the command's --on-error), over the recipe's
                                        # convert_options; --images PROFILE sets max_side and image_format
    test_sets:                          # evaluation test sets: never modified, never part of a config
      - recipe: rsitmd
        folder: RSITMD
        splits: [test]                  # optional: default = the recipe's "evaluation" splits
        optional: true
    image_profiles:                     # optional: named ways to store the images, built with --images NAME
      train448:                         #   into their own OUT, beside the build as published (no --images);
        max_side: 448                   #   rsdata.images.IMAGE_PROFILES (train448, train672) are always known,
        image_format: jpeg              #   and a profile here of the same name replaces it. Fields: max_side
        jpeg_quality: 95                #   (pixels or null), image_format (published or jpeg), jpeg_quality

Errors name the file, the field (as a path such as ``configs.det10.sources[2].folder``) and what is accepted.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from rsdata.dedup import DEFAULT_RULE, RULES
from rsdata.errors import RsdataError
from rsdata.images import IMAGE_FORMATS, ImageProfile
from rsdata.recipe import DatasetRecipe, RecipeError, load_dataset_recipe, read_recipe_yaml, resolve_recipe_file

_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
#: Conversion options a corpus source may set (the rest are the corpus's: seed, names, licence, source name).
SOURCE_OPTIONS = {"limit": int, "max_side": int, "tile": int, "tile_overlap": float, "tile_stride": int,
                  "tile_keep_share": float, "reencode_format": str, "image_format": str, "on_error": str}


@dataclass(frozen=True)
class CorpusSource:
    """One dataset recipe applied to one source folder, for a config or as a test set."""

    recipe: DatasetRecipe
    folder: str
    splits: tuple[str, ...]
    paper_images: int | None = None
    optional: bool = False
    options: Mapping[str, Any] = field(default_factory=dict)
    paper_note: str = ""
    paper_row: str | None = None  # another source's name: this one's images count towards its paper count
    format_options: Mapping[str, str] = field(default_factory=dict)  # over the recipe's

    @property
    def name(self) -> str:
        return self.recipe.name

    @property
    def all_format_options(self) -> dict[str, str]:
        """The recipe's format options with the corpus source's over them."""
        return {**self.recipe.format_options, **self.format_options}

    def source_format(self):
        """The source's format, built with :attr:`all_format_options`."""
        from rsdata.formats import get_format

        return get_format(self.recipe.format).from_option_strings(self.all_format_options)


@dataclass(frozen=True)
class CorpusConfig:
    name: str
    description: str
    sources: tuple[CorpusSource, ...]


@dataclass(frozen=True)
class CorpusRecipe:
    name: str
    title: str
    description: str
    seed: int
    max_distance: int
    configs: tuple[CorpusConfig, ...]
    test_sets: tuple[CorpusSource, ...]
    path: Path | None = None
    dedup_rule: str = "robust"
    image_profiles: Mapping[str, ImageProfile] = field(default_factory=dict)  # over rsdata.images.IMAGE_PROFILES

    def training_sources(self) -> list[tuple[str, CorpusSource]]:
        """(config name, source) in priority order."""
        return [(config.name, source) for config in self.configs for source in config.sources]

    def source_options(self, source: CorpusSource, images: str | None = None) -> dict[str, Any]:
        """The :class:`~rsdata.build.ConvertOptions` fields ``source`` is converted with: its dataset recipe's
        ``convert_options``, the source's ``options`` over them, and the image profile ``images`` (``--images``;
        :attr:`image_profiles` or :data:`rsdata.images.IMAGE_PROFILES`) over both."""
        from rsdata.build import apply_image_profile, override_convert_options

        return apply_image_profile(override_convert_options(source.recipe.convert_options, source.options), images,
                                   self.image_profiles)

    def image_storage(self, images: str | None = None) -> str:
        """How a build with the image profile ``images`` (None: as published) stores its images, in words."""
        from rsdata.images import describe_storage, image_profile

        if images is None:
            return "as published (each source's images as its dataset recipe converts them)"
        return f"{describe_storage(**image_profile(images, self.image_profiles).options())} (image profile {images})"


def is_corpus_recipe(path: str | Path) -> bool:
    """Whether a YAML file is a corpus recipe (has ``kind: corpus``) rather than a dataset recipe."""
    import yaml

    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return False
    return isinstance(data, dict) and data.get("kind") == "corpus"


def load_corpus_recipe(path: str | Path) -> CorpusRecipe:
    """Read and check a corpus recipe, a file path or the name of a shipped one (``"remoteclip"``), and the dataset
    recipes it names (looked up beside it)."""
    path = resolve_recipe_file(path, ("corpus",))
    data = read_recipe_yaml(path)
    check = _Checker(path)
    data = check.mapping(data, "the recipe",
                         required=("kind", "name", "title", "configs"),
                         allowed=("kind", "name", "title", "description", "seed", "dedup", "configs", "test_sets",
                                  "image_profiles"))
    if data["kind"] != "corpus":
        raise RecipeError(f"{path}: field 'kind' must be 'corpus', got {data['kind']!r}")
    name = check.text(data["name"], "name")
    if not _NAME.match(name):
        raise RecipeError(f"{path}: name {name!r} must be lower case letters, digits, '-' and '_'")
    if path.stem != name:
        raise RecipeError(f"{path}: the file must be named after the recipe ({name}.yaml)")
    dedup = check.mapping(data.get("dedup", {}), "dedup", allowed=("rule", "max_distance"))
    max_distance = check.integer(dedup.get("max_distance", 1), "dedup.max_distance", minimum=0)
    dedup_rule = dedup.get("rule", DEFAULT_RULE)
    if dedup_rule not in RULES:
        raise RecipeError(f"{path}: field 'dedup.rule' must be one of {', '.join(RULES)}, got {dedup_rule!r}")
    configs_data = check.mapping(data["configs"], "configs")
    if not configs_data:
        raise RecipeError(f"{path}: field 'configs' names no config")
    configs, seen = [], {}
    for config_name, config_data in configs_data.items():
        where = f"configs.{config_name}"
        if not isinstance(config_name, str) or not _NAME.match(config_name) or config_name == "default":
            raise RecipeError(f"{path}: config name {config_name!r} must be lower case letters, digits, '-' and "
                              "'_' (and not 'default')")
        config_data = check.mapping(config_data, where, required=("sources",), allowed=("description", "sources"))
        sources = tuple(check.source(item, f"{where}.sources[{i}]", "pretraining")
                        for i, item in enumerate(check.sequence(config_data["sources"], f"{where}.sources")))
        if not sources:
            raise RecipeError(f"{path}: {where}.sources is empty")
        for source in sources:
            if source.name in seen:
                raise RecipeError(f"{path}: source {source.name!r} appears in both configs {seen[source.name]!r} "
                                  f"and {config_name!r}; a source belongs to one config")
            seen[source.name] = config_name
        configs.append(CorpusConfig(config_name, check.text(config_data.get("description", ""),
                                                            f"{where}.description"), sources))
    test_sets = tuple(check.source(item, f"test_sets[{i}]", "evaluation")
                      for i, item in enumerate(check.sequence(data.get("test_sets", []), "test_sets")))
    rows = {name: source for name, source in ((s.name, s) for c in configs for s in c.sources)}
    for where, source in ((f"configs.{c.name}", s) for c in configs for s in c.sources):
        if source.paper_row is not None and (source.paper_row not in rows or source.paper_row == source.name):
            raise RecipeError(f"{path}: {where}: source {source.name!r} has paper_row {source.paper_row!r}, which "
                              f"names no other training source ({', '.join(rows)})")
        if source.paper_row is not None and source.paper_images is not None:
            raise RecipeError(f"{path}: {where}: source {source.name!r} gives both paper_images and paper_row; its "
                              f"images count towards {source.paper_row!r}'s paper count")
        # Training on an image a test set holds would be leakage that de-duplication cannot undo.
        tested = {split for t in test_sets if t.name == source.name and t.folder == source.folder
                  for split in t.splits}
        if tested & set(source.splits):
            raise RecipeError(f"{path}: {where}: source {source.name!r} trains on split(s) "
                              f"{', '.join(sorted(tested & set(source.splits)))}, which test_sets evaluate on")
    return CorpusRecipe(
        name=name, title=check.text(data["title"], "title"),
        description=check.text(data.get("description", ""), "description"),
        seed=check.integer(data.get("seed", 0), "seed", minimum=0), max_distance=max_distance,
        configs=tuple(configs), test_sets=test_sets, path=path, dedup_rule=dedup_rule,
        image_profiles=check.image_profiles(data.get("image_profiles", {})))


class _Checker:
    """Field checks whose errors name the recipe file and the field path."""

    def __init__(self, path: Path):
        self.path = path
        self._recipes: dict[str, DatasetRecipe] = {}

    def fail(self, message: str):
        raise RecipeError(f"{self.path}: {message}")

    def mapping(self, value, where: str, *, required=(), allowed=None) -> dict:
        if not isinstance(value, dict):
            self.fail(f"{where} must be a mapping, got {value!r}")
        missing = [k for k in required if k not in value]
        if missing:
            self.fail(f"{where}: missing field(s) {', '.join(missing)}")
        if allowed is not None:
            unknown = sorted(str(k) for k in set(value) - set(allowed))
            if unknown:
                self.fail(f"{where}: unknown field(s) {', '.join(unknown)}; valid fields: {', '.join(allowed)}")
        return value

    def sequence(self, value, where: str) -> list:
        if not isinstance(value, list):
            self.fail(f"{where} must be a list, got {value!r}")
        return value

    def text(self, value, where: str) -> str:
        if not isinstance(value, str):
            self.fail(f"field {where!r} must be text, got {value!r}")
        return value

    def integer(self, value, where: str, minimum: int | None = None) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or (minimum is not None and value < minimum):
            bound = f" >= {minimum}" if minimum is not None else ""
            self.fail(f"field {where!r} must be an integer{bound}, got {value!r}")
        return value

    def source(self, value, where: str, default_use: str) -> CorpusSource:
        value = self.mapping(value, where, required=("recipe", "folder"),
                             allowed=("recipe", "folder", "splits", "paper_images", "paper_note", "paper_row",
                                      "optional", "options", "format_options"))
        recipe = self.dataset_recipe(self.text(value["recipe"], f"{where}.recipe"), where)
        folder = self.text(value["folder"], f"{where}.folder")
        if "splits" in value:
            splits = tuple(self.text(s, f"{where}.splits") for s in self.sequence(value["splits"], f"{where}.splits"))
            unknown = [s for s in splits if s not in recipe.splits]
            if unknown:
                self.fail(f"{where}.splits: {', '.join(unknown)} not among recipe {recipe.name!r}'s splits "
                          f"({', '.join(recipe.splits)})")
        else:
            splits = tuple(s for s, use in recipe.splits.items() if use == default_use)
        if not splits:
            self.fail(f"{where}: recipe {recipe.name!r} has no {default_use!r} split; name the splits")
        paper = value.get("paper_images")
        if paper is not None:
            paper = self.integer(paper, f"{where}.paper_images", minimum=0)
        optional = value.get("optional", False)
        if not isinstance(optional, bool):
            self.fail(f"field '{where}.optional' must be true or false, got {optional!r}")
        options = self.mapping(value.get("options", {}), f"{where}.options", allowed=tuple(SOURCE_OPTIONS))
        for key, kind in SOURCE_OPTIONS.items():
            if key in options and options[key] is not None and not (
                    isinstance(options[key], kind) or (kind is float and isinstance(options[key], int))):
                self.fail(f"field '{where}.options.{key}' must be {kind.__name__}, got {options[key]!r}")
        if options.get("on_error") not in (None, "raise", "skip"):
            self.fail(f"field '{where}.options.on_error' must be raise or skip, got {options['on_error']!r}")
        if options.get("image_format") not in (None, *IMAGE_FORMATS):
            self.fail(f"field '{where}.options.image_format' must be one of {', '.join(IMAGE_FORMATS)}, got "
                      f"{options['image_format']!r}")
        note = self.text(value.get("paper_note", ""), f"{where}.paper_note").strip()
        row = value.get("paper_row")
        if row is not None:
            row = self.text(row, f"{where}.paper_row")
        format_options = self.mapping(value.get("format_options", {}), f"{where}.format_options")
        if any(not isinstance(v, str) for v in format_options.values()):
            self.fail(f"{where}.format_options values must be text, got {format_options!r}")
        source = CorpusSource(recipe, folder, splits, paper, optional, dict(options), note, row, dict(format_options))
        try:
            source.source_format()
        except RsdataError as error:
            self.fail(f"{where}.format_options: {error}")
        return source

    def image_profiles(self, value) -> dict[str, ImageProfile]:
        from rsdata.images import JPEG_QUALITY, check_image_options

        profiles = {}
        for name, entry in self.mapping(value, "image_profiles").items():
            where = f"image_profiles.{name}"
            if not isinstance(name, str) or not _NAME.match(name):
                self.fail(f"image profile name {name!r} must be lower case letters, digits, '-' and '_'")
            entry = self.mapping(entry, where, required=("max_side",),
                                 allowed=("max_side", "image_format", "jpeg_quality"))
            profile = ImageProfile(entry["max_side"], entry.get("image_format", "jpeg"),
                                   entry.get("jpeg_quality", JPEG_QUALITY))
            try:
                check_image_options(profile.max_side, 1, None, "structure", profile.image_format,
                                    profile.jpeg_quality)
            except RsdataError as error:
                self.fail(f"{where}: {error} (fields: max_side: pixels or null, image_format: "
                          f"{' or '.join(IMAGE_FORMATS)}, jpeg_quality: 1-100)")
            profiles[name] = profile
        return profiles

    def dataset_recipe(self, name: str, where: str) -> DatasetRecipe:
        if name not in self._recipes:
            candidate = self.path.parent / f"{name}.yaml"
            if not candidate.is_file():
                self.fail(f"{where}.recipe: no dataset recipe {candidate.name} beside the corpus recipe")
            self._recipes[name] = load_dataset_recipe(candidate)
        return self._recipes[name]
