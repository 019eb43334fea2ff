"""Dataset recipes: one YAML file per source dataset, typed and validated (unknown fields are rejected).

A recipe says what a dataset is, over a format that says how to read it. Fields::

    name: dior                          # the dataset's id: lower case, digits, "-" and "_"
    title: DIOR                         # its usual name
    format: pascal_voc                  # a registered format (``rsdata formats``)
    format_options: {}                  # that format's options, as ``-o KEY=VALUE`` would give them
    convert_options:                    # optional: conversion options the dataset is built with (the command
      tile: 512                         #   line's --tile, --overlap, --tile-keep-share, --max-pixels win)
      tile_overlap: 0.0                 #   (or tile_stride: PIXELS, the step between tiles, e.g. iSAID's 896/512)
      max_pixels: 810000000             #   a larger pixel limit for sources of very large scenes (the default is
                                        #   rsdata.images.DEFAULT_MAX_PIXELS)
      image_format: jpeg                #   every image stored as JPEG (video frames; default published), with
      jpeg_quality: 95                  #   this quality (--image-format, --jpeg-quality and --images win)
    layout: |                           # the folder layout as the publisher ships it
      DIOR/JPEGImages-trainval/*.jpg ...
    splits:                             # each source split and its use: pretraining, evaluation or unused
      trainval: pretraining
      test: evaluation
    names:                              # source label -> caption name: a singular, or {singular, plural}
      airplane: airplane                #   (class_folders: class folder -> prompt name, e.g. aGrass: grass)
      Expressway-Service-area: expressway service area
    variants:                           # optional: the layouts the dataset circulates in (rsdata detect)
      - name: mmrotate                  #   id; description, framework (publisher, mmrotate, mmsegmentation, ...)
        description: ...
        framework: mmrotate
        match: ["train/labelTxt/*.txt"] #   globs relative to SOURCE, each must match; exclude: none may match
        format_options: {labels: labelTxt}
    closed_names: true                  # optional (default true): names lists every class the dataset has, so a
                                        #   label outside it is unknown_class; false when names only renames some
    license: other                      # a Hub licence id
    license_note: academic use only     # optional: what "other" means
    homepage: https://...
    citation: |                         # BibTeX
      @article{...}
    notes: ...                          # optional free text

Errors name the file, the field and what is accepted.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from rsdata.errors import RsdataError

SPLIT_USES = ("pretraining", "evaluation", "unused")
#: Conversion options (:class:`rsdata.build.ConvertOptions` fields) a dataset recipe may set, and their types.
RECIPE_CONVERT_OPTIONS = {"tile": int, "tile_overlap": float, "tile_stride": int, "tile_keep_share": float,
                          "max_pixels": int, "image_format": str, "jpeg_quality": int}
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")


class RecipeError(RsdataError):
    """A recipe file is malformed: names the file, the field and what is accepted."""


#: Frameworks whose copies of a dataset a recipe variant may describe.
VARIANT_FRAMEWORKS = ("publisher", "mmrotate", "mmdetection", "mmsegmentation", "torchgeo", "DOTA_devkit",
                      "yolo-obb", "kaggle", "huggingface", "other")


@dataclass(frozen=True)
class RecipeVariant:
    """One layout a dataset circulates in (recipe field ``variants``, a list): how to recognise it in a source
    folder and the format options that read it.

    ``match``: glob patterns relative to SOURCE (``**`` allowed), each of which must match at least one file or
    folder for the variant to apply; ``exclude``: patterns none of which may match (to tell apart variants whose
    files overlap). ``format_options`` are applied over the recipe's own when the variant is taken.
    """

    name: str
    description: str
    framework: str
    match: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    format_options: Mapping[str, str] = field(default_factory=dict)


def _variants(path: Path, raw) -> tuple[RecipeVariant, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise RecipeError(f"{path}: field 'variants' must be a list of variants, got {raw!r}")
    variants, names = [], set()
    allowed = {f.name for f in dataclasses.fields(RecipeVariant)}
    for number, entry in enumerate(raw):
        where = f"{path}: variants[{number}]"
        if not isinstance(entry, dict):
            raise RecipeError(f"{where} must be a mapping, got {entry!r}")
        unknown = sorted(set(entry) - allowed)
        missing = sorted({"name", "description", "framework", "match"} - set(entry))
        if unknown or missing:
            raise RecipeError(f"{where}: unknown field(s) {unknown or 'none'}, missing {missing or 'none'}; fields: "
                              f"{', '.join(sorted(allowed))}")
        if entry["framework"] not in VARIANT_FRAMEWORKS:
            raise RecipeError(f"{where}: framework {entry['framework']!r}; expected one of "
                              f"{', '.join(VARIANT_FRAMEWORKS)}")
        for key in ("match", "exclude"):
            value = entry.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value) or \
                    (key == "match" and not value):
                raise RecipeError(f"{where}: {key} must be a list of glob patterns, got {value!r}")
        options = entry.get("format_options", {})
        if not isinstance(options, dict) or not all(isinstance(v, str) for v in options.values()):
            raise RecipeError(f"{where}: format_options must map option names to text, got {options!r}")
        if entry["name"] in names:
            raise RecipeError(f"{where}: a second variant named {entry['name']!r}")
        names.add(entry["name"])
        variants.append(RecipeVariant(str(entry["name"]), str(entry["description"]), entry["framework"],
                                      tuple(entry["match"]), tuple(entry.get("exclude", [])), dict(options)))
    return tuple(variants)


@dataclass(frozen=True)
class DatasetRecipe:
    name: str
    title: str
    format: str
    layout: str
    splits: Mapping[str, str]
    license: str
    homepage: str
    citation: str
    format_options: Mapping[str, str] = field(default_factory=dict)
    convert_options: Mapping[str, Any] = field(default_factory=dict)
    names: Mapping[str, Any] = field(default_factory=dict)
    closed_names: bool = True
    variants: tuple = ()  # the layouts the dataset circulates in (RecipeVariant), detected by rsdata detect
    license_note: str = ""
    notes: str = ""
    path: Path | None = None

    def source_format(self):
        """The recipe's format, built with its options."""
        from rsdata.formats import get_format

        return get_format(self.format).from_option_strings(self.format_options)

    @property
    def lists_classes(self) -> bool:
        """Whether the name map lists every class (closed): not when it is empty or ``closed_names: false``."""
        return self.closed_names and bool(self.names)

    def vocabulary(self):
        """The caption vocabulary of the recipe's name map (closed when :attr:`lists_classes`)."""
        from rsdata.captions import CategoryVocabulary

        return CategoryVocabulary(self.names, closed=self.lists_classes)


def resolve_recipe_file(path: str | Path, kinds: tuple[str, ...]) -> Path:
    """``path`` itself, or the shipped recipe it names; an unknown name is a :class:`RecipeError`."""
    from rsdata.recipes_index import UnknownRecipeError, resolve_recipe

    try:
        return resolve_recipe(path, kinds)
    except UnknownRecipeError as error:
        raise RecipeError(str(error)) from None


def read_recipe_yaml(path: Path):
    """The parsed YAML of a recipe file; an unreadable file or invalid YAML is a :class:`RecipeError`."""
    import yaml

    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise RecipeError(f"{path}: cannot read the recipe ({error})") from None
    except yaml.YAMLError as error:
        raise RecipeError(f"{path}: not valid YAML ({error})") from None


def load_dataset_recipe(path: str | Path) -> DatasetRecipe:
    """Read and check one dataset recipe, a file path or the name of a shipped recipe (``"dior"``, see
    :mod:`rsdata.recipes_index`); raise :class:`RecipeError` naming the file and field on any problem."""
    path = resolve_recipe_file(path, ("dataset", "corpus"))
    data = read_recipe_yaml(path)
    if not isinstance(data, dict):
        raise RecipeError(f"{path}: a recipe is a mapping of fields, got {type(data).__name__}")
    if data.get("kind") == "corpus":
        raise RecipeError(f"{path}: this is a corpus recipe (kind: corpus); build it with "
                          f"`rsdata convert --recipe {path} OUT`")
    fields = {f.name: f for f in dataclasses.fields(DatasetRecipe) if f.name != "path"}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise RecipeError(f"{path}: unknown field(s) {', '.join(unknown)}; valid fields: {', '.join(sorted(fields))}")
    required = [name for name, f in fields.items()
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    missing = [name for name in required if name not in data]
    if missing:
        raise RecipeError(f"{path}: missing field(s) {', '.join(missing)}")
    for name in ("name", "title", "format", "layout", "license", "homepage", "citation", "license_note", "notes"):
        if name in data and not isinstance(data[name], str):
            raise RecipeError(f"{path}: field {name!r} must be text, got {data[name]!r}")
    if "closed_names" in data and not isinstance(data["closed_names"], bool):
        raise RecipeError(f"{path}: field 'closed_names' must be true or false, got {data['closed_names']!r}")
    for name in ("splits", "format_options", "convert_options", "names"):
        if name in data and not isinstance(data[name], dict):
            raise RecipeError(f"{path}: field {name!r} must be a mapping, got {data[name]!r}")
    if "variants" in data:
        data = {**data, "variants": _variants(path, data["variants"])}
    recipe = DatasetRecipe(**data, path=path)
    _check(recipe, path)
    return recipe


def _check(recipe: DatasetRecipe, path: Path) -> None:
    from rsdata.build import ConvertOptions

    if not _NAME.match(recipe.name):
        raise RecipeError(f"{path}: name {recipe.name!r} must be lower case letters, digits, '-' and '_'")
    if path.stem != recipe.name:
        raise RecipeError(f"{path}: the file must be named after the recipe ({recipe.name}.yaml)")
    for split, use in recipe.splits.items():
        if use not in SPLIT_USES:
            raise RecipeError(f"{path}: split {split!r} has use {use!r}; expected one of {', '.join(SPLIT_USES)}")
    if not recipe.splits:
        raise RecipeError(f"{path}: field 'splits' names no split")
    if not recipe.citation.lstrip().startswith("@"):
        raise RecipeError(f"{path}: field 'citation' must be a BibTeX entry (starting with '@')")
    try:
        recipe.source_format()
        recipe.vocabulary()
    except RsdataError as error:
        raise RecipeError(f"{path}: {error}") from None
    for key, value in recipe.convert_options.items():
        expected = RECIPE_CONVERT_OPTIONS.get(key)
        if expected is None:
            raise RecipeError(f"{path}: convert_options has no option {key!r}; valid options: "
                              f"{', '.join(RECIPE_CONVERT_OPTIONS)}")
        if isinstance(value, bool) or not isinstance(value, (int, float) if expected is float else expected):
            raise RecipeError(f"{path}: convert_options.{key} must be {expected.__name__}, got {value!r}")
    try:
        ConvertOptions(**recipe.convert_options).check()
    except RsdataError as error:
        raise RecipeError(f"{path}: convert_options: {error}") from None
    for variant in recipe.variants:
        try:
            recipe.source_format().from_option_strings({**recipe.format_options, **variant.format_options})
        except RsdataError as error:
            raise RecipeError(f"{path}: variant {variant.name!r}: {error}") from None
    options = {k: str(v) for k, v in recipe.format_options.items()}
    if options != dict(recipe.format_options):
        raise RecipeError(f"{path}: format_options values must be text, got {dict(recipe.format_options)!r}")


# ---------------------------------------------------------------------------------------------------------------
# Finding a recipe by name or path.
def recipe_names(kind: str) -> list[str]:
    """The names of the shipped recipes of ``kind`` (``dataset``, ``corpus``, ``train`` or ``eval``), sorted."""
    from rsdata.recipes_index import recipe_names as shipped

    return shipped(kind)


def find_recipe(name_or_path: str | Path, kind: str) -> Path:
    """The recipe file of ``name_or_path``: a path (a ``/`` or a ``.yaml`` ending, which must exist), else the
    shipped recipe of ``kind`` by name (:mod:`rsdata.recipes_index`); an unknown name is a :class:`RecipeError`
    with the names that come close."""
    from rsdata.errors import did_you_mean
    from rsdata.recipes_index import UnknownRecipeError, resolve_recipe

    try:
        path = resolve_recipe(name_or_path, (kind,))
    except UnknownRecipeError as error:
        raise RecipeError(f"no {kind} recipe named {str(name_or_path)!r}"
                          f"{did_you_mean(str(name_or_path), recipe_names(kind))}: {error}") from None
    if not path.is_file():
        raise RecipeError(f"{path}: no such recipe file")
    return path


def dataset_recipes(folder: str | Path) -> list[DatasetRecipe]:
    """Every ``*.yaml`` dataset recipe in ``folder``, sorted by file name (corpus recipes, ``kind: corpus``, are
    not dataset recipes and are left out)."""
    return [load_dataset_recipe(path) for path in sorted(Path(folder).glob("*.yaml"))
            if not _is_corpus(path)]


def _is_corpus(path: Path) -> bool:
    from rsdata.corpus_recipe import is_corpus_recipe

    return is_corpus_recipe(path)
