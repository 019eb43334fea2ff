"""Training recipes: one YAML file per training run, typed and validated (unknown fields are rejected).

A recipe says which model starts, on which data, with which augmentation and which ``TrainingArguments``::

    name: remoteclip-vit-b-32           # the run's id: lower case, digits, "-", "_" and "."
    description: ...                    # free text, copied into rsmodel_train.json
    model:                              # exactly one of name_or_path and config
      name_or_path: openai/clip-vit-base-patch32   # a Hub id or a local CLIPModel folder (with its processor)
      revision: main                    # Hub revision (branch, tag or commit); recorded with the resolved commit
      config:                           # or: a fresh CLIPModel from CLIPConfig keyword arguments (tiny in tests)
        projection_dim: 16
        text_config: {hidden_size: 32, ...}
        vision_config: {image_size: 32, patch_size: 8, ...}
      tokenizer: openclip               # config models only: "openclip" (CLIP's BPE vocabulary, the file open_clip
                                        # ships, shipped with rsmodel), a tokenizer folder or a
                                        # bpe_simple_vocab_16e6.txt.gz
    data:
      path: corpus/remoteclip-448       # default for every source: a local folder or a Hub dataset repo id
      revision: null                    # default Hub revision of every source
      split: train                      # default split of every source
      sources:                          # one or several (config, weight) pairs; each may set path/revision/split
        - {config: ret3, weight: 1.0}
        - {config: det10, weight: 1.0}
      streaming: false                  # read the sources' Parquet files as streams (Hub or local) instead of
                                        # map-style tables (see rsmodel.data for the order)
      shuffle_buffer: 10000             # streaming only: most rows in the shuffle buffers, all streams together
      shuffle_buffer_bytes: 268435456   # streaming only: most bytes (image bytes + caption characters) in the
                                        # shuffle buffers, all streams together (256 MiB), per training process
      streams: 12                       # streaming only: logical streams; dataloader_num_workers should divide it
      image_column: image               # an Image() column (rsdata's "image")
      caption_column: captions          # a list of strings (one is drawn per image per step) or a string
      max_text_length: 77               # tokens per caption, padded to the longest of the batch
      cache_dir: null                   # datasets cache folder (default: the datasets library's)
    augmentation:                       # the RemoteCLIP paper's augmentation, at the model's image size
      crop_scale: [0.9, 1.0]            # random resized crop: share of the image area kept ...
      crop_ratio: [0.75, 1.3333333]     # ... and aspect ratio range of the crop
      horizontal_flip: 0.5              # probability of a horizontal flip
      rotate90: true                    # rotation by 0, 90, 180 or 270 degrees, uniformly
    global_batch_size: 256              # optional: per_device_train_batch_size = this / (processes x accumulation)
    training:                           # TrainingArguments keyword arguments, passed as they are
      output_dir: runs/remoteclip-vit-b-32
      max_steps: 108215
      learning_rate: 4.0e-5
      ...

Conventions:

- ``training`` keys must be ``TrainingArguments`` fields; ``max_steps`` (> 0) is required, because the data stream
  is laid out step by step (see :mod:`rsmodel.data`); ``remove_unused_columns`` may only be false (the collator
  needs the raw captions) and is set so; with ``global_batch_size``, ``per_device_train_batch_size`` must be left
  out. The seed of everything (model initialisation of a config model, data order, augmentation, caption choice)
  is ``training.seed`` (TrainingArguments' default 42 when absent); ``training.data_seed``, when given, seeds the
  data order, augmentation and caption choice instead.
- ``--override KEY=VALUE`` sets one field by its dotted path before validation (``training.learning_rate=1e-4``,
  ``data.sources.0.path=user/corpus``, ``model.config.vision_config.image_size=64``); VALUE is read as YAML
  (``null``, ``true``, numbers, ``[0.8, 1.0]``); numbers in exponent notation (``1e-4``) are numbers, in the
  files too (plain YAML 1.1 would read them as text).
- Errors name the file (or the override) and the field, and list what is accepted.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from rsmodel.errors import TrainRecipeError

#: logit_scale is clamped at ln(100): the logits are never scaled by more than 100 (CLIP, RemoteCLIP, open_clip).
MAX_LOGIT_SCALE = math.log(100)
TOKENIZER_OPENCLIP = "openclip"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]*$")
# rsmodel sets these itself; a recipe may not change them.
_MANAGED_TRAINING_KEYS = {"remove_unused_columns": False}


@dataclass(frozen=True)
class ModelSpec:
    """Where the model starts: a Hub id or local folder (``name_or_path``) or a fresh ``config``."""

    name_or_path: str | None = None
    revision: str | None = None
    config: Mapping[str, Any] | None = None
    tokenizer: str | None = None  # config models only; TOKENIZER_OPENCLIP when not given


@dataclass(frozen=True)
class DataSource:
    """One dataset config in the mixture. ``weight`` is how many times each row is seen per data epoch (0.5: a
    seeded half of the rows, a different half each epoch; 2: every row twice)."""

    path: str
    config: str | None = None
    split: str = "train"
    revision: str | None = None
    weight: float = 1.0

    def describe(self) -> str:
        parts = [self.path]
        if self.config:
            parts.append(f"config {self.config}")
        parts.append(f"split {self.split}")
        if self.revision:
            parts.append(f"revision {self.revision}")
        return ", ".join(parts)


@dataclass(frozen=True)
class DataSpec:
    sources: tuple[DataSource, ...]
    streaming: bool = False
    shuffle_buffer: int = 10000
    shuffle_buffer_bytes: int = 256 << 20
    streams: int = 12
    image_column: str = "image"
    caption_column: str = "captions"
    max_text_length: int = 77
    cache_dir: str | None = None


@dataclass(frozen=True)
class AugmentationSpec:
    crop_scale: tuple[float, float] = (0.9, 1.0)
    crop_ratio: tuple[float, float] = (3 / 4, 4 / 3)
    horizontal_flip: float = 0.5
    rotate90: bool = True


@dataclass(frozen=True)
class TrainRecipe:
    name: str
    model: ModelSpec
    data: DataSpec
    training: Mapping[str, Any]
    augmentation: AugmentationSpec = field(default_factory=AugmentationSpec)
    global_batch_size: int | None = None
    description: str = ""
    path: Path | None = None
    overrides: tuple[str, ...] = ()

    @property
    def output_dir(self) -> Path:
        return Path(self.training["output_dir"])

    @property
    def seed(self) -> int:
        return int(self.training.get("seed", 42))

    @property
    def data_seed(self) -> int:
        value = self.training.get("data_seed")
        return self.seed if value is None else int(value)

    def as_dict(self) -> dict:
        """The resolved recipe as plain JSON-able data (what rsmodel_train.json records)."""
        return {
            "name": self.name,
            "description": self.description,
            "path": str(self.path) if self.path else None,
            "overrides": list(self.overrides),
            "model": _plain(dataclasses.asdict(self.model)),
            "data": _plain(dataclasses.asdict(self.data)),
            "augmentation": _plain(dataclasses.asdict(self.augmentation)),
            "global_batch_size": self.global_batch_size,
            "training": _plain(dict(self.training)),
        }


# ------------------------------------------------------------------------------------------------- loading

def load_train_recipe(path: str | Path, overrides: Sequence[str] = ()) -> TrainRecipe:
    """Read, override and check one training recipe, a file path or the name of a shipped one
    (``"remoteclip-vit-b-32"``, see :mod:`rsdata.recipes_index`); raise :class:`TrainRecipeError` naming the file
    and field."""
    from rsdata.recipes_index import UnknownRecipeError, resolve_recipe

    try:
        path = resolve_recipe(path, ("train",))
    except UnknownRecipeError as error:
        raise TrainRecipeError(str(error)) from None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise TrainRecipeError(f"{path}: cannot read the recipe ({error})") from None
    data = _parse_yaml(text, str(path))
    if not isinstance(data, dict):
        raise TrainRecipeError(f"{path}: a recipe is a mapping of fields, got {type(data).__name__}")
    return recipe_from_dict(data, path=path, overrides=overrides)


def recipe_from_dict(data: Mapping[str, Any], *, path: str | Path | None = None,
                     overrides: Sequence[str] = ()) -> TrainRecipe:
    """A checked :class:`TrainRecipe` from already-parsed YAML ``data`` (``path`` only names it in errors)."""
    where = str(path) if path else "<recipe>"
    data = copy.deepcopy(dict(data))
    for override in overrides:
        apply_override(data, override, where)
    recipe = _build(data, where, Path(path) if path else None, tuple(overrides))
    return recipe


def apply_override(data: dict, override: str, where: str = "<recipe>") -> None:
    """Set the field at the dotted path of ``override`` (``KEY=VALUE``, VALUE read as YAML) in ``data``."""
    key, sep, raw = override.partition("=")
    if not sep or not key.strip():
        raise TrainRecipeError(f"--override {override!r}: expected KEY=VALUE with a dotted KEY, e.g. "
                               "training.learning_rate=1e-4")
    value = _parse_yaml(raw, f"--override {override!r}") if raw.strip() else None
    parts = key.strip().split(".")
    node: Any = data
    for depth, part in enumerate(parts[:-1]):
        node = _child(node, part, parts[:depth + 1], override, create=True)
    last = parts[-1]
    if isinstance(node, list):
        node[_list_index(node, last, parts, override)] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise TrainRecipeError(f"--override {override!r}: {'.'.join(parts[:-1])} is a value, not a mapping")


def _child(node: Any, part: str, trail: list[str], override: str, *, create: bool) -> Any:
    if isinstance(node, list):
        return node[_list_index(node, part, trail, override)]
    if not isinstance(node, dict):
        raise TrainRecipeError(f"--override {override!r}: {'.'.join(trail[:-1])} is a value, not a mapping")
    if part not in node or node[part] is None:
        if not create:
            raise TrainRecipeError(f"--override {override!r}: no field {'.'.join(trail)}")
        node[part] = {}
    return node[part]


def _list_index(node: list, part: str, trail: list[str], override: str) -> int:
    if not part.isdigit() or int(part) >= len(node):
        raise TrainRecipeError(f"--override {override!r}: {'.'.join(trail)}: {part!r} is not an index of that list "
                               f"(0..{len(node) - 1})")
    return int(part)


# ------------------------------------------------------------------------------------------------ checking

_TOP = {"name", "description", "model", "data", "augmentation", "global_batch_size", "training"}


def _build(data: dict, where: str, path: Path | None, overrides: tuple[str, ...]) -> TrainRecipe:
    _no_unknown(data, _TOP, where, "")
    for required in ("name", "model", "data", "training"):
        if required not in data:
            raise TrainRecipeError(f"{where}: missing field {required!r}")
    name = _text(data, "name", where, "")
    if not _NAME.match(name):
        raise TrainRecipeError(f"{where}: name {name!r} must be lower case letters, digits, '.', '-' and '_'")
    if path is not None and path.suffix in (".yaml", ".yml") and path.stem != name:
        raise TrainRecipeError(f"{where}: the file must be named after the recipe ({name}.yaml)")
    description = _text(data, "description", where, "", default="")
    model = _model(_mapping(data, "model", where, ""), where)
    data_spec = _data(_mapping(data, "data", where, ""), where)
    augmentation = _augmentation(_mapping(data, "augmentation", where, "", default={}), where)
    global_batch = data.get("global_batch_size")
    if global_batch is not None and (not _is_int(global_batch) or global_batch < 1):
        raise TrainRecipeError(f"{where}: global_batch_size must be a positive integer, got {global_batch!r}")
    training = _training(_mapping(data, "training", where, ""), where, global_batch)
    return TrainRecipe(name=name, description=description, model=model, data=data_spec, training=training,
                       augmentation=augmentation, global_batch_size=global_batch, path=path, overrides=overrides)


def _model(raw: dict, where: str) -> ModelSpec:
    _no_unknown(raw, {f.name for f in dataclasses.fields(ModelSpec)}, where, "model.")
    has_name, has_config = raw.get("name_or_path") is not None, raw.get("config") is not None
    if has_name == has_config:
        raise TrainRecipeError(f"{where}: model needs exactly one of name_or_path (a Hub id or a local CLIPModel "
                               "folder) and config (CLIPConfig keyword arguments for a fresh model)")
    if has_name:
        _text(raw, "name_or_path", where, "model.")
        if raw.get("tokenizer") is not None:
            raise TrainRecipeError(f"{where}: model.tokenizer is only for model.config; a pretrained model brings "
                                   "its own processor")
    else:
        _mapping(raw, "config", where, "model.")
        if raw.get("revision") is not None:
            raise TrainRecipeError(f"{where}: model.revision is only for model.name_or_path")
    revision = _text(raw, "revision", where, "model.", default=None)
    if has_name:
        return ModelSpec(name_or_path=raw["name_or_path"], revision=revision)
    return ModelSpec(config=raw["config"], tokenizer=_text(raw, "tokenizer", where, "model.",
                                                           default=TOKENIZER_OPENCLIP))


_DATA_DEFAULT_KEYS = {"path", "revision", "split"}


def _data(raw: dict, where: str) -> DataSpec:
    allowed = {f.name for f in dataclasses.fields(DataSpec)} | _DATA_DEFAULT_KEYS
    _no_unknown(raw, allowed, where, "data.")
    defaults = {key: raw[key] for key in _DATA_DEFAULT_KEYS if raw.get(key) is not None}
    sources_raw = raw.get("sources")
    if sources_raw is None:
        sources_raw = [{}] if "path" in defaults else []
    if not isinstance(sources_raw, list) or not sources_raw:
        raise TrainRecipeError(f"{where}: data.sources must be a non-empty list of sources (each with path, config, "
                               "split, revision, weight), or give data.path for a single source")
    sources = []
    source_fields = {f.name for f in dataclasses.fields(DataSource)}
    for index, item in enumerate(sources_raw):
        prefix = f"data.sources.{index}."
        if not isinstance(item, dict):
            raise TrainRecipeError(f"{where}: {prefix[:-1]} must be a mapping, got {item!r}")
        _no_unknown(item, source_fields, where, prefix)
        merged = {**defaults, **{k: v for k, v in item.items() if v is not None}}
        if "path" not in merged:
            raise TrainRecipeError(f"{where}: {prefix}path is missing (and there is no data.path default)")
        for key in ("path", "config", "split", "revision"):
            _text(merged, key, where, prefix, default=None)
        weight = merged.get("weight", 1.0)
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0 < weight < math.inf:
            raise TrainRecipeError(f"{where}: {prefix}weight must be a positive number, got {weight!r}")
        merged["weight"] = float(weight)
        sources.append(DataSource(**merged))
    rest = {k: v for k, v in raw.items() if k not in _DATA_DEFAULT_KEYS and k != "sources"}
    for key in ("image_column", "caption_column"):
        _text(rest, key, where, "data.", default=None)
    _text(rest, "cache_dir", where, "data.", default=None)
    if not isinstance(rest.get("streaming", False), bool):
        raise TrainRecipeError(f"{where}: data.streaming must be true or false, got {rest['streaming']!r}")
    for key, low in (("max_text_length", 2), ("shuffle_buffer", 1), ("shuffle_buffer_bytes", 1), ("streams", 1)):
        if key in rest and (not _is_int(rest[key]) or rest[key] < low):
            raise TrainRecipeError(f"{where}: data.{key} must be an integer of at least {low}, got {rest[key]!r}")
    return DataSpec(sources=tuple(sources), **rest)


def _augmentation(raw: dict, where: str) -> AugmentationSpec:
    _no_unknown(raw, {f.name for f in dataclasses.fields(AugmentationSpec)}, where, "augmentation.")
    values = {}
    for key, low, high in (("crop_scale", 0.0, 1.0), ("crop_ratio", 0.0, math.inf)):
        if key not in raw:
            continue
        pair = raw[key]
        if not (isinstance(pair, list) and len(pair) == 2 and all(_is_number(v) for v in pair)
                and low < pair[0] <= pair[1] <= high):
            raise TrainRecipeError(f"{where}: augmentation.{key} must be [low, high] with {low} < low <= high "
                                   f"<= {high}, got {pair!r}")
        values[key] = (float(pair[0]), float(pair[1]))
    if "horizontal_flip" in raw:
        value = raw["horizontal_flip"]
        if not _is_number(value) or not 0 <= value <= 1:
            raise TrainRecipeError(f"{where}: augmentation.horizontal_flip is a probability in [0, 1], got {value!r}")
        values["horizontal_flip"] = float(value)
    if "rotate90" in raw:
        if not isinstance(raw["rotate90"], bool):
            raise TrainRecipeError(f"{where}: augmentation.rotate90 must be true or false, got {raw['rotate90']!r}")
        values["rotate90"] = raw["rotate90"]
    return AugmentationSpec(**values)


def _training(raw: dict, where: str, global_batch: int | None) -> dict:
    names = training_argument_names()
    unknown = sorted(set(raw) - names)
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, sorted(names), n=1)
            hints.append(f"training.{key}" + (f" (did you mean {close[0]}?)" if close else ""))
        raise TrainRecipeError(f"{where}: {', '.join(hints)}: not a TrainingArguments field (see "
                               "transformers.TrainingArguments for the accepted fields)")
    if not raw.get("output_dir"):
        raise TrainRecipeError(f"{where}: training.output_dir is missing: the run folder (RUN_DIR), e.g. "
                               "--override training.output_dir=runs/my-run")
    steps = raw.get("max_steps")
    if not _is_int(steps) or steps <= 0:
        raise TrainRecipeError(f"{where}: training.max_steps must be a positive integer (rsmodel trains for a number "
                               f"of optimizer steps; the RemoteCLIP paper: 108215), got {steps!r}")
    for key, value in _MANAGED_TRAINING_KEYS.items():
        if key in raw and raw[key] != value:
            raise TrainRecipeError(f"{where}: training.{key} must be {value!r} (rsmodel's collator needs the raw "
                                   "captions); leave it out")
    if global_batch is not None and "per_device_train_batch_size" in raw:
        raise TrainRecipeError(f"{where}: give either global_batch_size or training.per_device_train_batch_size, "
                               "not both (with global_batch_size the per-device batch is derived from the number of "
                               "processes and gradient_accumulation_steps)")
    training = dict(raw)
    training["output_dir"] = str(training["output_dir"])
    training.update(_MANAGED_TRAINING_KEYS)
    return training


def training_argument_names() -> set[str]:
    from transformers import TrainingArguments

    return {f.name for f in dataclasses.fields(TrainingArguments) if f.init}


# --------------------------------------------------------------------------------------------------- helpers

def _no_unknown(raw: Mapping, allowed: set[str], where: str, prefix: str) -> None:
    unknown = sorted(set(raw) - allowed)
    if unknown:
        raise TrainRecipeError(f"{where}: unknown field(s) {', '.join(prefix + k for k in unknown)}; valid fields: "
                               f"{', '.join(prefix + k for k in sorted(allowed))}")


def _mapping(raw: Mapping, key: str, where: str, prefix: str, default: Any = ...) -> dict:
    if key not in raw or raw[key] is None:
        if default is ...:
            raise TrainRecipeError(f"{where}: missing field {prefix}{key}")
        return default
    if not isinstance(raw[key], dict):
        raise TrainRecipeError(f"{where}: field {prefix}{key} must be a mapping, got {raw[key]!r}")
    return raw[key]


def _text(raw: Mapping, key: str, where: str, prefix: str, default: Any = ...) -> Any:
    if key not in raw or raw[key] is None:
        if default is ...:
            raise TrainRecipeError(f"{where}: missing field {prefix}{key}")
        return default
    if not isinstance(raw[key], str) or not raw[key].strip():
        raise TrainRecipeError(f"{where}: field {prefix}{key} must be non-empty text, got {raw[key]!r}")
    return raw[key]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


_FLOAT = re.compile(r"^[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)$")


def _loader():
    """PyYAML's SafeLoader, also reading ``1e-4`` (no dot) as a number, as YAML 1.2 and every user expect."""
    import yaml

    class RecipeLoader(yaml.SafeLoader):
        pass

    RecipeLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))
    return RecipeLoader


def _parse_yaml(text: str, where: str) -> Any:
    import yaml

    try:
        return yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as error:
        raise TrainRecipeError(f"{where}: not valid YAML ({error})") from None
