"""Where the recipes are, and how a recipe is found by name: the one resolver rsdata and rsmodel share.

The recipes live in the repository's top-level ``recipes/`` folder (``datasets/``, ``train/``, ``eval/``). The wheel
ships that folder as the package data ``rsdata/_recipes/`` (``setup.cfg`` maps the package ``rsdata._recipes`` onto
``recipes/`` with ``package_dir``), so an installed rsclip finds every recipe without a clone. Which folder is read:

1. a source checkout (the folder holding ``rsdata/`` also holds ``setup.cfg`` and ``recipes/``: an editable
   install, or ``PYTHONPATH`` pointing at a clone): its ``recipes/``, so an edited recipe counts at once;
2. otherwise the installed package data, ``rsdata/_recipes/``.

Name rule, the same wherever a recipe is accepted (``rsdata convert``, ``rsdata convert --recipe``, ``rsmodel
train``, ``rsmodel eval --suite``, and the loaders ``load_dataset_recipe``, ``load_corpus_recipe``,
``load_train_recipe``, ``load_suite``): a :class:`~pathlib.Path`, or text that holds a ``/`` or ends in ``.yaml`` or
``.yml``, is a file path (relative to the current folder, as before); any other text is a recipe name, the file
``<kind folder>/<name>.yaml``. ``rsdata convert`` also takes format names; where a name is both a format and a
dataset recipe (``dota``), the format wins and ``recipe:NAME`` takes the recipe (:func:`split_format_or_recipe`).

Kinds: ``dataset`` and ``corpus`` (both in ``datasets/``; a corpus recipe says ``kind: corpus``), ``train`` and
``eval``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

#: recipe kind -> its folder under the recipes root
KIND_FOLDERS = {"dataset": "datasets", "corpus": "datasets", "train": "train", "eval": "eval"}
KIND_TITLES = {"dataset": "dataset recipes", "corpus": "corpus recipes", "train": "training recipes",
               "eval": "evaluation suites"}
_SUFFIXES = (".yaml", ".yml")


class UnknownRecipeError(LookupError):
    """No recipe of the asked kinds has this name; the message lists the names there are. Each loader re-raises
    it as its own error (``RecipeError``, ``TrainRecipeError``, ``SuiteError``)."""


@dataclass(frozen=True)
class RecipeEntry:
    """One recipe file: its name, kind, path and a one-line description."""

    name: str
    kind: str
    path: Path
    description: str


def recipes_root() -> Path:
    """The folder holding ``datasets/``, ``train/`` and ``eval/``: a source checkout's ``recipes/``, else the
    installed package data ``rsdata/_recipes/`` (see the module docstring)."""
    package = Path(__file__).resolve().parent
    checkout = package.parent
    if (checkout / "setup.cfg").is_file() and (checkout / "recipes" / "datasets").is_dir():
        return checkout / "recipes"
    return package / "_recipes"


def is_recipe_path(text: str | os.PathLike) -> bool:
    """Whether ``text`` names a file (a Path, a ``/``, a ``.yaml``/``.yml`` ending) rather than a recipe name."""
    if isinstance(text, os.PathLike):
        return True
    return "/" in text or os.sep in text or text.lower().endswith(_SUFFIXES)


def recipe_names(kind: str) -> list[str]:
    """The names of the recipes of ``kind``, sorted."""
    return [entry.name for entry in list_recipes((kind,))]


def find_recipe(name: str, kinds: Iterable[str]) -> Path | None:
    """The file of the recipe ``name`` among ``kinds``, or None; a file whose kind is not asked is not found."""
    kinds = tuple(kinds)
    for folder in dict.fromkeys(KIND_FOLDERS[kind] for kind in kinds):
        path = recipes_root() / folder / f"{name}.yaml"
        if path.is_file() and _kind(path) in kinds:
            return path
    return None


def resolve_recipe(text: str | os.PathLike, kinds: Iterable[str]) -> Path:
    """The recipe file ``text`` means: itself when it is a path (:func:`is_recipe_path`), else the recipe of that
    name among ``kinds``; raise :class:`UnknownRecipeError` listing the known names when there is none."""
    if is_recipe_path(text):
        return Path(text)
    kinds = tuple(kinds)
    found = find_recipe(str(text), kinds)
    if found is not None:
        return found
    what = " or ".join(KIND_TITLES[kind][:-1] for kind in kinds)
    known = ", ".join(entry.name for entry in list_recipes(kinds)) or "none"
    raise UnknownRecipeError(f"{text!r} is neither a file path (a '/' or a .yaml ending) nor the name of a "
                             f"{what} shipped with rsclip (in {recipes_root()}); known: {known}")


def list_recipes(kinds: Iterable[str] | None = None) -> list[RecipeEntry]:
    """Every shipped recipe of ``kinds`` (default: all), by kind in the order asked, then by name."""
    kinds = tuple(kinds) if kinds is not None else tuple(KIND_FOLDERS)
    entries = []
    for folder in dict.fromkeys(KIND_FOLDERS[kind] for kind in kinds):
        for path in sorted((recipes_root() / folder).glob("*.yaml")):
            data = _read(path)
            kind = _kind(path, data)
            if kind in kinds:
                entries.append(RecipeEntry(path.stem, kind, path, _describe(kind, data)))
    return sorted(entries, key=lambda entry: (kinds.index(entry.kind), entry.name))


def format_listing(entries: Iterable[RecipeEntry]) -> str:
    """``rsdata recipes`` / ``rsmodel recipes``: one heading per kind, then ``name  description`` lines."""
    entries = list(entries)
    width = max((len(entry.name) for entry in entries), default=0)
    lines, kind = [], None
    for entry in entries:
        if entry.kind != kind:
            if kind is not None:
                lines.append("")
            kind = entry.kind
            lines.append(f"{KIND_TITLES[kind]} ({KIND_FOLDERS[kind]}/):")
        lines.append(f"  {entry.name:<{width}}  {entry.description}")
    return "\n".join(lines)


def show_recipe(name: str, kinds: Iterable[str]) -> str:
    """``... recipes NAME``: the recipe's path as a comment line, then its YAML text as shipped."""
    path = resolve_recipe(name, kinds)
    return f"# {path}\n{path.read_text(encoding='utf-8')}"


def recipes_command_text(name: str | None, kinds: Iterable[str]) -> str:
    """What ``rsdata recipes [NAME]`` / ``rsmodel recipes [NAME]`` print: the listing of ``kinds``, or the recipe
    ``name`` (:class:`UnknownRecipeError` when there is none)."""
    kinds = tuple(kinds)
    if name is None:
        return format_listing(list_recipes(kinds)) + "\n"
    return show_recipe(name, kinds)


def _read(path: Path) -> dict:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError):
        return {}
    return data if isinstance(data, dict) else {}


def _kind(path: Path, data: dict | None = None) -> str:
    folder = path.parent.name
    if folder == "datasets":
        data = _read(path) if data is None else data
        return "corpus" if data.get("kind") == "corpus" else "dataset"
    return {"train": "train", "eval": "eval"}.get(folder, "")


def _describe(kind: str, data: dict) -> str:
    def line(value) -> str:
        return " ".join(str(value or "").split())

    if kind == "dataset":
        return f"{line(data.get('title'))} (format {data.get('format')}, licence {data.get('license', '?')})"
    if kind == "corpus":
        return f"{line(data.get('title'))} ({len(data.get('configs') or {})} configs)"
    if kind == "train":
        text = line(data.get("description") or data.get("title"))
        return text if len(text) <= 100 else text[:99].rstrip() + "…"
    count = len(data.get('datasets') or {})
    return f"{line(data.get('title'))} ({count} dataset{'' if count == 1 else 's'})"


@dataclass(frozen=True)
class ConvertTarget:
    """What ``rsdata convert``'s first argument means: a format name, or a dataset recipe file; ``note`` says
    which was taken when a name was looked up (None for an explicit path or prefix)."""

    format: str | None = None
    recipe: Path | None = None
    note: str | None = None


FORMAT_PREFIX, RECIPE_PREFIX = "format:", "recipe:"


def format_or_recipe(text: str, formats: Iterable[str]) -> ConvertTarget:
    """The one rule for ``rsdata convert FORMAT_OR_RECIPE``:

    - ``format:NAME`` is the format NAME; ``recipe:NAME`` (or ``recipe:PATH``) is the dataset recipe;
    - a path (a ``/`` or a ``.yaml`` ending) is a dataset recipe file;
    - a bare name is the format of that name when there is one, else the dataset recipe of that name. The format
      wins so that a recipe added later never changes what an existing command does, and because a format takes
      every version of its layout while the recipe of the same name describes one release (``dota``: the format
      reads DOTA v1.0, v1.5 and 2.0 in ``labelTxt/``; the recipe is DOTA v1.0 in ``labelTxt-v1.0/labelTxt`` with
      its closed class list); the note then names ``recipe:NAME``.
    """
    if text.startswith(FORMAT_PREFIX):
        return ConvertTarget(format=text[len(FORMAT_PREFIX):])
    if text.startswith(RECIPE_PREFIX):
        return ConvertTarget(recipe=resolve_recipe(text[len(RECIPE_PREFIX):], ("dataset", "corpus")))
    if is_recipe_path(text):
        return ConvertTarget(recipe=Path(text))
    recipe = find_recipe(text, ("dataset", "corpus"))
    if text in set(formats):
        note = None if recipe is None else (
            f"{text!r} is both a format and a dataset recipe: converting with the format {text} (its own layout "
            f"and class names); `rsdata convert {RECIPE_PREFIX}{text} ...` takes the recipe ({recipe})")
        return ConvertTarget(format=text, note=note)
    if recipe is not None:
        return ConvertTarget(recipe=recipe, note=f"{text!r} is the dataset recipe {recipe}")
    return ConvertTarget(format=text)  # neither: the format lookup's error lists the formats
