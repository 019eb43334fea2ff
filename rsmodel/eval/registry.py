"""The evaluation task registry: every task is a declaration (name, dataset kind, splits, settings, main metric).

A task module builds one :class:`Task` and registers it at import; :func:`list_tasks` imports the task modules and
returns them in the order of :data:`TASK_MODULES`, which is also the order of columns in summary tables. The
runner never dispatches on task names: it asks the registry.

A task's ``run(inputs, settings)`` receives :class:`TaskInputs` (cached embeddings and label columns of one
dataset) and a settings dataclass (defaults = the paper's protocol, typed fields validated by the suite loader),
and returns a :class:`TaskResult`: flat metrics named ``<task>/<metric>`` (percentages, 0-100) plus details that
are not single numbers (confusion matrices, trials, per-class recall).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

import numpy as np

from rsdata.errors import did_you_mean
from rsmodel.errors import OptionError

# Dataset kinds (contract 1): the columns each kind must have.
DATASET_KINDS = {
    "classification": ("image", "label", "class_name"),
    "retrieval": ("image", "captions", "source_id"),
    "counting": ("image", "captions", "count", "count_candidates", "count_candidates_digits"),
}

# Task modules, in the order tasks are listed and tabulated.
TASK_MODULES = ("zero_shot", "linear_probe", "knn", "few_shot", "retrieval", "counting")


class TaskInputs(Protocol):
    """What a task sees of one dataset: split roles ("train", "test") map to the suite's split names."""

    dataset_name: str
    seed: int
    device: str

    def num_rows(self, role: str) -> int: ...

    def column(self, role: str, name: str) -> list: ...

    def label_names(self) -> list[str]: ...

    def image_embeddings(self, role: str, *, fit: str = "center_crop", fill: int = 0) -> np.ndarray:
        """Embeddings of the split's images; ``fit``: ``center_crop`` (CLIP's) or ``pad_square`` (fill 0..255)."""

    def text_embeddings(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass
class TaskResult:
    """``metrics``: flat ``<task>/<name>`` -> float (percent unless the name says otherwise); ``details``: the
    rest (JSON-serialisable); ``main_metric``: set when the task's usual main metric was not computed (e.g.
    few-shot without 32 shots)."""

    metrics: dict[str, float]
    details: dict[str, Any] = field(default_factory=dict)
    main_metric: str | None = None


@dataclass(frozen=True)
class Task:
    """One evaluation protocol.

    ``splits`` are the split roles it reads (the suite maps them to split names); ``settings`` is a frozen
    dataclass whose defaults are the paper's settings; ``card_metrics`` are the metrics that go into a model
    card's model-index (``hub_task_type`` is the Hub task id they are filed under).
    """

    name: str
    title: str
    dataset_kind: str
    splits: tuple[str, ...]
    settings: type
    run: Callable[[TaskInputs, Any], TaskResult]
    main_metric: str
    card_metrics: tuple[str, ...]
    hub_task_type: str
    description: str


_REGISTRY: dict[str, Task] = {}


def register(task: Task) -> Task:
    if task.dataset_kind not in DATASET_KINDS:
        raise ValueError(f"task {task.name}: unknown dataset kind {task.dataset_kind!r}")
    _REGISTRY[task.name] = task
    return task


def list_tasks() -> list[Task]:
    """Every registered task, in :data:`TASK_MODULES` order."""
    for module in TASK_MODULES:
        importlib.import_module(f"rsmodel.eval.{module}")
    return [_REGISTRY[name] for name in TASK_MODULES if name in _REGISTRY]


def get_task(name: str) -> Task:
    tasks = {task.name: task for task in list_tasks()}
    if name not in tasks:
        raise OptionError(f"unknown task {name!r}{did_you_mean(name, tasks)}; tasks: {', '.join(tasks)}")
    return tasks[name]
