"""Evaluation suites: one YAML file (e.g. ``recipes/eval/remoteclip.yaml``), typed and validated.

Fields (unknown fields are rejected everywhere; errors name the file, the field and what is accepted)::

    name: remoteclip                    # the suite's id (results and cards name it)
    title: RemoteCLIP benchmark ...     # what the protocols are
    citation: |                         # BibTeX of the paper whose protocols and numbers these are
      @article{...}
    data_root: eval-data                # where local dataset paths are resolved (relative: to the current folder;
                                        # --data-root overrides it)
    seed: 0                             # every random choice of every task derives from it
    inference:                          # how embeddings are computed (not part of the protocols)
      batch_size: 256
      num_workers: 4                    # DataLoader workers decoding and preprocessing images
      precision: fp32                   # fp32 | bf16 | fp16 (autocast on CUDA; part of the cache key)
      chunk_rows: 8192                  # rows per cache part: a killed embedding job resumes from the last part
    tasks:                              # protocol settings per task: the fields of each task's settings
      zero_shot: {templates: ["a satellite photo of {class_name}."]}
      linear_probe: {lr: 0.8, weight_decay: 4.0e-5, epochs: 1000, batch_size: 10000, trials: 5, ...}
      knn: {k: 20, temperature: 0.07}
      few_shot: {shots: [1, 4, 8, 16, 32], runs: 5, ...}
      retrieval: {ks: [1, 5, 10]}
      counting: {digits: true}
    reference_models: [RemoteCLIP ViT-B/32, ...]   # column order of reference numbers in cards
    averages:                           # averages over several datasets, with the paper's values
      - metric: zero_shot/top1
        datasets: [rsi_cb128, ...]
        reference: {RemoteCLIP ViT-B/32: 62.41, ...}
    datasets:
      aid:                              # the dataset's name (also its folder under data_root by default)
        title: AID
        kind: classification            # classification | retrieval | counting (contract 1's columns)
        tasks: [zero_shot, linear_probe, knn, few_shot]
        source: {path: aid}             # a local rsdata output (relative to data_root), or
                                        # {repo: USER/NAME, revision: REV} on the Hub
        splits: {train: train, test: test}   # split role -> split name
        reference:                      # metric -> {model: the paper's number}
          zero_shot/top1: {RemoteCLIP ViT-B/32: 91.30, ...}
        reference_test_images: 2000     # optional: the test images behind the paper's numbers (cards flag a
                                        # result computed on another number as not comparable)

A task's settings not given in the file keep the task's defaults (the paper's settings). ``--override
KEY=VALUE`` changes one value after loading (``linear_probe.epochs=10``, ``inference.batch_size=32``,
``seed=1``); the value is parsed as YAML and checked like the file.
"""

from __future__ import annotations

import collections.abc
import dataclasses
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from rsdata.errors import did_you_mean
from rsmodel.errors import SuiteError
from rsmodel.eval.registry import DATASET_KINDS, list_tasks

PRECISIONS = ("fp32", "bf16", "fp16")
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]*$")
_REPO = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class InferenceSettings:
    batch_size: int = 256
    num_workers: int = 4
    precision: str = "fp32"
    chunk_rows: int = 8192

    def check(self) -> list[str]:
        problems = []
        if self.precision not in PRECISIONS:
            problems.append(f"precision {self.precision!r}: expected one of {', '.join(PRECISIONS)}")
        if self.batch_size < 1 or self.chunk_rows < 1 or self.num_workers < 0:
            problems.append("batch_size and chunk_rows must be >= 1, num_workers >= 0")
        return problems


@dataclass(frozen=True)
class DatasetSource:
    """A local folder (``path``, relative paths resolved against the data root) or a Hub dataset repo."""

    path: str | None = None
    repo: str | None = None
    revision: str | None = None

    def check(self) -> list[str]:
        if (self.path is None) == (self.repo is None):
            return ["give exactly one of path (a local rsdata output) or repo (a Hub dataset id)"]
        if self.repo is not None and not _REPO.match(self.repo):
            return [f"repo {self.repo!r} is not a Hub repo id (USER/NAME)"]
        if self.path is not None and self.revision is not None:
            return ["revision applies to a Hub repo, not to a local path"]
        return []

    def describe(self) -> str:
        if self.repo is not None:
            return self.repo + (f"@{self.revision}" if self.revision else "")
        return str(self.path)


@dataclass(frozen=True)
class SuiteDataset:
    name: str
    title: str
    kind: str
    tasks: tuple[str, ...]
    source: DatasetSource
    splits: Mapping[str, str]
    reference: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    reference_test_images: int | None = None  # the test images behind the paper's numbers; None: not stated


@dataclass(frozen=True)
class Average:
    metric: str
    datasets: tuple[str, ...]
    reference: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalSuite:
    name: str
    title: str
    citation: str
    data_root: str
    seed: int
    inference: InferenceSettings
    task_settings: Mapping[str, Any]
    datasets: Mapping[str, SuiteDataset]
    averages: tuple[Average, ...] = ()
    reference_models: tuple[str, ...] = ()
    path: Path | None = None

    def settings_for(self, task: str):
        return self.task_settings[task]


_TOP_FIELDS = ("name", "title", "citation", "data_root", "seed", "inference", "tasks", "datasets", "averages",
               "reference_models")
_REQUIRED_TOP = ("name", "title", "datasets")
_DATASET_FIELDS = ("title", "kind", "tasks", "source", "splits", "reference", "reference_test_images")


def load_suite(path: str | Path, overrides: Sequence[str] = ()) -> EvalSuite:
    """Read, check and return the suite in ``path`` (a file path or the name of a shipped suite, ``"remoteclip"``,
    see :mod:`rsdata.recipes_index`) with ``overrides`` (``KEY=VALUE``) applied."""
    import yaml

    from rsdata.recipes_index import UnknownRecipeError, resolve_recipe

    try:
        path = resolve_recipe(path, ("eval",))
    except UnknownRecipeError as error:
        raise SuiteError(str(error)) from None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise SuiteError(f"{path}: cannot read the suite ({error})") from None
    except yaml.YAMLError as error:
        raise SuiteError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(data, dict):
        raise SuiteError(f"{path}: a suite is a mapping of fields, got {type(data).__name__}")
    for override in overrides:
        _apply_override(data, override, path)
    return parse_suite(data, path)


def parse_suite(data: Mapping, path: Path | str = "<suite>") -> EvalSuite:
    path = Path(path)
    _check_keys(data, _TOP_FIELDS, _REQUIRED_TOP, path, "the suite")
    tasks = {task.name: task for task in list_tasks()}
    name = _coerce(str, data["name"], path, "name")
    if not _NAME.match(name):
        raise SuiteError(f"{path}: name {name!r} must be lower case letters, digits, '-' and '_'")
    raw_settings = data.get("tasks") or {}
    if not isinstance(raw_settings, dict):
        raise SuiteError(f"{path}: field 'tasks' must be a mapping of task name to settings")
    unknown = sorted(set(raw_settings) - set(tasks))
    if unknown:
        raise SuiteError(f"{path}: tasks: unknown task(s) {', '.join(unknown)}{did_you_mean(unknown[0], tasks)}; "
                         f"tasks: {', '.join(tasks)}")
    settings = {name: typed(task.settings, raw_settings.get(name) or {}, path, f"tasks.{name}")
                for name, task in tasks.items()}
    datasets_raw = data["datasets"]
    if not isinstance(datasets_raw, dict) or not datasets_raw:
        raise SuiteError(f"{path}: field 'datasets' must be a non-empty mapping of dataset name to its entry")
    datasets = {key: _parse_dataset(key, value, tasks, path) for key, value in datasets_raw.items()}
    averages = tuple(_parse_average(i, item, datasets, path) for i, item in enumerate(data.get("averages") or []))
    return EvalSuite(
        name=name, title=_coerce(str, data["title"], path, "title"),
        citation=_coerce(str, data.get("citation", ""), path, "citation"),
        data_root=_coerce(str, data.get("data_root", "."), path, "data_root"),
        seed=_coerce(int, data.get("seed", 0), path, "seed"),
        inference=typed(InferenceSettings, data.get("inference") or {}, path, "inference"),
        task_settings=settings, datasets=datasets, averages=averages,
        reference_models=_coerce(tuple[str, ...], data.get("reference_models", []), path, "reference_models"),
        path=path)


def _parse_dataset(key: str, value: Any, tasks: Mapping, path: Path) -> SuiteDataset:
    where = f"datasets.{key}"
    if not _NAME.match(str(key)):
        raise SuiteError(f"{path}: {where}: a dataset name is lower case letters, digits, '-' and '_'")
    if not isinstance(value, dict):
        raise SuiteError(f"{path}: {where} must be a mapping with fields {', '.join(_DATASET_FIELDS)}")
    _check_keys(value, _DATASET_FIELDS, ("kind", "tasks", "source", "splits"), path, where)
    kind = _coerce(str, value["kind"], path, f"{where}.kind")
    if kind not in DATASET_KINDS:
        raise SuiteError(f"{path}: {where}.kind {kind!r}: expected one of {', '.join(DATASET_KINDS)}")
    names = _coerce(tuple[str, ...], value["tasks"], path, f"{where}.tasks")
    for task_name in names:
        if task_name not in tasks:
            raise SuiteError(f"{path}: {where}.tasks: unknown task {task_name!r}{did_you_mean(task_name, tasks)}; "
                             f"tasks: {', '.join(tasks)}")
        if tasks[task_name].dataset_kind != kind:
            raise SuiteError(f"{path}: {where}.tasks: {task_name} needs a {tasks[task_name].dataset_kind} dataset, "
                             f"and this one is {kind}")
    splits = _coerce(dict[str, str], value["splits"], path, f"{where}.splits")
    needed = sorted({role for task_name in names for role in tasks[task_name].splits})
    missing = [role for role in needed if role not in splits]
    if missing:
        raise SuiteError(f"{path}: {where}.splits: no split named for role(s) {', '.join(missing)} (its tasks "
                         f"read {', '.join(needed)})")
    source = typed(DatasetSource, value["source"], path, f"{where}.source")
    reference = _coerce(dict[str, dict[str, float]], value.get("reference", {}), path, f"{where}.reference")
    for metric in reference:
        if metric.split("/")[0] not in names:
            raise SuiteError(f"{path}: {where}.reference: metric {metric!r} belongs to none of its tasks "
                             f"({', '.join(names)})")
    return SuiteDataset(name=key, title=_coerce(str, value.get("title", key), path, f"{where}.title"), kind=kind,
                        tasks=names, source=source, splits=splits, reference=reference,
                        reference_test_images=_test_images(value.get("reference_test_images"), path, where))


def _test_images(value, path: Path, where: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise SuiteError(f"{path}: {where}.reference_test_images must be a positive number of images, got {value!r}")
    return value


def _parse_average(index: int, item: Any, datasets: Mapping[str, SuiteDataset], path: Path) -> Average:
    where = f"averages[{index}]"
    if not isinstance(item, dict):
        raise SuiteError(f"{path}: {where} must be a mapping with metric, datasets and reference")
    average = typed(Average, item, path, where)
    unknown = [name for name in average.datasets if name not in datasets]
    if unknown:
        raise SuiteError(f"{path}: {where}.datasets: {', '.join(unknown)} not in the suite's datasets")
    return average


def typed(cls: type, data: Any, path: Path, where: str):
    """An instance of dataclass ``cls`` from mapping ``data``: unknown fields rejected, each value checked against
    the field's type; ``check()`` of the instance (when defined) lists further problems."""
    if not isinstance(data, dict):
        raise SuiteError(f"{path}: {where} must be a mapping, got {data!r}")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    required = [n for n, f in fields.items()
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    _check_keys(data, tuple(fields), tuple(required), path, where)
    hints = typing.get_type_hints(cls)
    instance = cls(**{key: _coerce(hints[key], value, path, f"{where}.{key}") for key, value in data.items()})
    problems = instance.check() if hasattr(instance, "check") else []
    if problems:
        raise SuiteError(f"{path}: {where}: {'; '.join(problems)}")
    return instance


def _check_keys(data: Mapping, allowed: Sequence[str], required: Sequence[str], path: Path, where: str) -> None:
    unknown = sorted(str(k) for k in set(data) - set(allowed))
    if unknown:
        raise SuiteError(f"{path}: {where}: unknown field(s) {', '.join(unknown)}; valid fields: "
                         f"{', '.join(sorted(allowed))}")
    missing = [name for name in required if name not in data]
    if missing:
        raise SuiteError(f"{path}: {where}: missing field(s) {', '.join(missing)}")


def _coerce(kind: Any, value: Any, path: Path, where: str) -> Any:
    """``value`` as type ``kind`` (int, float, str, bool, X | None, tuple[X, ...], tuple[X, Y], dict[K, V],
    Mapping[K, V]) or a :class:`SuiteError` naming the field and the value."""
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        return _coerce(inner[0], value, path, where)
    if kind is bool:
        if isinstance(value, bool):
            return value
        raise SuiteError(f"{path}: {where} must be true or false, got {value!r}")
    if kind is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise SuiteError(f"{path}: {where} must be an integer, got {value!r}")
    if kind is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise SuiteError(f"{path}: {where} must be a number, got {value!r}")
    if kind is str:
        if isinstance(value, str):
            return value
        raise SuiteError(f"{path}: {where} must be text, got {value!r}")
    if origin is tuple:
        if not isinstance(value, (list, tuple)):
            raise SuiteError(f"{path}: {where} must be a list, got {value!r}")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_coerce(args[0], item, path, f"{where}[{i}]") for i, item in enumerate(value))
        if len(value) != len(args):
            raise SuiteError(f"{path}: {where} must be a list of {len(args)} values, got {value!r}")
        return tuple(_coerce(a, item, path, f"{where}[{i}]") for i, (a, item) in enumerate(zip(args, value)))
    if origin in (dict, collections.abc.Mapping):
        if not isinstance(value, dict):
            raise SuiteError(f"{path}: {where} must be a mapping, got {value!r}")
        return {_coerce(args[0], k, path, where): _coerce(args[1], v, path, f"{where}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(kind):
        return typed(kind, value, path, where)
    raise TypeError(f"no coercion for {kind!r}")  # a bug in a settings declaration, not bad input


def _apply_override(data: dict, override: str, path: Path) -> None:
    import yaml

    key, sep, raw = override.partition("=")
    if not sep or not key:
        raise SuiteError(f"--override {override!r}: expected KEY=VALUE, e.g. linear_probe.epochs=10")
    parts = key.split(".")
    value = yaml.safe_load(raw) if raw else ""
    if parts[0] in ("seed", "data_root", "title") and len(parts) == 1:
        data[parts[0]] = value
        return
    if parts[0] == "inference" and len(parts) == 2:
        data.setdefault("inference", {})[parts[1]] = value
        return
    task_names = [task.name for task in list_tasks()]
    if parts[0] in task_names and len(parts) == 2:
        tasks = data.setdefault("tasks", {})
        tasks[parts[0]] = dict(tasks.get(parts[0]) or {}, **{parts[1]: value})
        return
    raise SuiteError(f"{path}: --override {key!r}: expected seed, data_root, inference.FIELD or TASK.FIELD with "
                     f"TASK one of {', '.join(task_names)}")
