"""The evaluation runner: a model x a suite's datasets x their tasks -> result files and a summary table.

Steps of :func:`evaluate`:

1. Resolve the model (folder or Hub id) and its content digest; the model itself is loaded only when some
   embedding is missing from the cache.
2. For every selected dataset of the suite, in suite order: resolve its source (``--dataset`` override, else the
   suite's ``source`` under the data root); an unavailable source stops the run, or with ``skip_unavailable`` is
   counted with its reason.
3. For every selected task of that dataset: run it on :class:`DatasetInputs` (embeddings through the cache) and
   write ``OUT/<dataset>/<task>.json`` (see :mod:`rsmodel.eval.results`). A split the task needs that the
   dataset lacks stops the run, or with ``skip_unavailable`` skips that task, counted as ``DATASET/TASK`` with
   the reason.
   Then draw its plots beside it, ``OUT/<dataset>/<task>-<plot>.png`` (:mod:`rsmodel.eval.plots`; none when
   matplotlib is not installed, which the closing line says).
4. Write ``OUT/summary.md`` (linking the plots) and ``OUT/summary.json`` over all results in OUT (with this
   run's skips noted), and return an :class:`EvalSummary` (its ``line()`` is the closing summary line).
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Mapping, Sequence

import numpy as np

from rsdata.errors import did_you_mean
from rsmodel.errors import EvalDatasetError, OptionError
from rsmodel.eval.embeddings import CacheStats, ClipEncoder, EmbeddingCache, default_cache_dir, texts_digest
from rsmodel.eval.plots import INSTALL_HINT, matplotlib_available, write_plots
from rsmodel.eval.registry import Task, list_tasks
from rsmodel.eval.results import RESULT_FORMAT, result_path, write_json, write_summary
from rsmodel.eval.sources import (
    ContentDigests,
    ModelHandle,
    ResolvedDataset,
    resolve_dataset,
    resolve_model,
)
from rsmodel.eval.suite import DatasetSource, EvalSuite, InferenceSettings


@dataclass
class EvalOptions:
    tasks: Sequence[str] | None = None  # None: every task of each dataset
    datasets: Sequence[str] | None = None  # None: every dataset of the suite
    data_root: Path | None = None  # None: the suite's data_root
    dataset_sources: Mapping[str, DatasetSource] = field(default_factory=dict)
    output: Path | None = None
    cache_dir: Path | None = None
    device: str = "auto"
    revision: str | None = None  # of a Hub model
    skip_unavailable: bool = False
    progress: bool = True  # tqdm bars while embedding
    on_result: Callable[[Path, dict], None] | None = None  # called after each result file is written


@dataclass
class EvalSummary:
    output: Path
    written: list[Path]
    skipped: dict[str, str]
    stats: CacheStats
    forward_calls: int
    table: str
    seconds: float
    plots: list[Path] = field(default_factory=list)
    plots_missing: str | None = None  # why no plot was drawn (matplotlib missing)

    def line(self) -> str:
        datasets = len({path.parent.name for path in self.written})
        text = (f"evaluated {len(self.written)} (task, dataset) results on {datasets} datasets in "
                f"{self.seconds:.1f} s; embeddings: {self.stats.images_encoded} images and "
                f"{self.stats.texts_encoded} texts encoded, {self.stats.hits} read from the cache")
        # keys: a dataset name (the dataset is unavailable) or DATASET/TASK (the dataset lacks the task's split)
        for noun, chosen in (("datasets", [k for k in self.skipped if "/" not in k]),
                             ("tasks", [k for k in self.skipped if "/" in k])):
            if chosen:
                text += f"; skipped {len(chosen)} {noun} (" + "; ".join(
                    f"{key}: {self.skipped[key]}" for key in chosen) + ")"
        if self.plots:
            text += f"; {len(self.plots)} plot(s)"
        elif self.plots_missing:
            text += f"; no plots ({self.plots_missing})"
        return text + f"; results in {self.output}"


class DatasetInputs:
    """:class:`rsmodel.eval.registry.TaskInputs` for one resolved dataset: columns, and embeddings through the
    cache (each split's image embeddings are computed or read once and shared by the dataset's tasks)."""

    def __init__(self, resolved: ResolvedDataset, *, handle: ModelHandle, encoder: ClipEncoder,
                 cache: EmbeddingCache, digests: ContentDigests, inference: InferenceSettings, seed: int,
                 device: str, progress: bool):
        self.resolved = resolved
        self.dataset_name = resolved.entry.name
        self.handle, self.encoder, self.cache, self.digests = handle, encoder, cache, digests
        self.inference, self.seed, self.device, self.progress = inference, seed, device, progress
        self._images: dict[tuple, np.ndarray] = {}
        self._identity: dict[str, str] = {}
        self.preprocessing_used: dict[str, dict] = {}  # role -> the image preprocessing of the current task

    def _dataset(self, role: str):
        """The split of ``role``; KeyError when the suite names none or the dataset lacks it (tasks use this to
        look for optional splits; the runner checks the splits a task needs before running it)."""
        if role not in self.resolved.entry.splits or not self.resolved.has_split(role):
            raise KeyError(role)
        return self.resolved.split(role)

    def num_rows(self, role: str) -> int:
        return self._dataset(role).num_rows

    def column(self, role: str, name: str) -> list:
        dataset = self._dataset(role)
        if name not in dataset.column_names:
            raise KeyError(name)
        return dataset.select_columns([name]).to_dict()[name]

    def label_names(self) -> list[str]:
        names = None
        for role in self.resolved.entry.splits:
            if not self.resolved.has_split(role):
                continue
            current = self._dataset(role).features["label"].names
            if names is not None and current != names:
                raise EvalDatasetError(f"{self.dataset_name}: the splits' label ClassLabels differ ({names} vs "
                                       f"{current}); every split must share one class list")
            names = current
        return list(names or [])

    def split_identity(self, role: str) -> str:
        if role not in self._identity:
            self._identity[role] = self.resolved.split_identity(self.resolved.entry.splits[role], self.digests)
        return self._identity[role]

    def _chunk_rows(self) -> int:
        batch = self.inference.batch_size
        return max(1, self.inference.chunk_rows // batch) * batch  # parts hold whole batches

    def image_embeddings(self, role: str, *, fit: str = "center_crop", fill: int = 0) -> np.ndarray:
        """The split's image embeddings through the pinned evaluation transform (:mod:`rsmodel.eval.preprocess`),
        fitted to the square by ``fit`` (``center_crop`` or ``pad_square`` with grey ``fill``)."""
        transform = self.encoder.image_transform(fit, fill)
        preprocessing = transform.describe()
        self.preprocessing_used[role] = preprocessing
        key = (role, fit, fill if fit == "pad_square" else None)
        if key not in self._images:
            dataset = self._dataset(role)
            split = self.resolved.entry.splits[role]
            if dataset.num_rows == 0:
                raise EvalDatasetError(f"{self.dataset_name} ({self.resolved.location}): split {split} is empty")
            fields = {"kind": "images", "model": self.handle.digest, "split": self.split_identity(role),
                      "preprocessing": preprocessing, "precision": self.inference.precision}
            self._images[key] = self.cache.get(
                "images", fields, dataset.num_rows,
                lambda start, stop, advance: self.encoder.encode_images(dataset, start, stop, advance,
                                                                        transform=transform),
                chunk_rows=self._chunk_rows(), desc=f"{self.dataset_name}/{split} images", progress=self.progress)
        return self._images[key]

    def text_embeddings(self, texts: Sequence[str]) -> np.ndarray:
        distinct = list(dict.fromkeys(texts))
        position = {text: i for i, text in enumerate(distinct)}
        fields = {"kind": "texts", "model": self.handle.digest, "texts": texts_digest(distinct),
                  "count": len(distinct), "preprocessing": self.encoder.text_preprocessing(),
                  "precision": self.inference.precision}
        array = self.cache.get(
            "texts", fields, len(distinct),
            lambda start, stop, advance: self.encoder.encode_texts(distinct, start, stop, advance),
            chunk_rows=self._chunk_rows(), desc=f"{self.dataset_name} texts", progress=self.progress)
        return array[[position[text] for text in texts]]


def default_output(model: str) -> Path:
    return Path(model) / "eval" if Path(model).exists() else Path("eval-results") / model.replace("/", "--")


def resolve_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise OptionError(f"--device {device}: CUDA is not available on this machine (rsmodel env shows why)")
    if device != "cpu" and not device.startswith("cuda"):
        raise OptionError(f"--device {device!r}: expected auto, cpu, cuda or cuda:N")
    return device


def _check_selection(suite: EvalSuite, options: EvalOptions) -> tuple[list[str], set[str]]:
    known_tasks = [task.name for task in list_tasks()]
    tasks = set(options.tasks or known_tasks)
    unknown = sorted(tasks - set(known_tasks))
    if unknown:
        raise OptionError(f"--tasks: unknown task(s) {', '.join(unknown)}{did_you_mean(unknown[0], known_tasks)}; "
                          f"tasks: {', '.join(known_tasks)}")
    names = list(options.datasets or suite.datasets)
    for label, given in (("--datasets", names), ("--dataset", list(options.dataset_sources))):
        missing = [name for name in given if name not in suite.datasets]
        if missing:
            raise OptionError(f"{label}: {', '.join(missing)}{did_you_mean(missing[0], suite.datasets)} not in suite "
                              f"{suite.name}; its datasets: {', '.join(suite.datasets)}")
    chosen = [name for name in suite.datasets if name in names]
    if not any(task in tasks for name in chosen for task in suite.datasets[name].tasks):
        offered = "; ".join(f"{name}: {', '.join(suite.datasets[name].tasks)}" for name in chosen)
        raise OptionError(f"--tasks {', '.join(sorted(tasks))}: none of them applies to the selected datasets "
                          f"({offered})")
    return chosen, tasks


def evaluate(model: str, suite: EvalSuite, options: EvalOptions | None = None) -> EvalSummary:
    """Evaluate ``model`` on ``suite`` (see the module docstring); returns what was written and counted."""
    from rsmodel import __version__

    options = options or EvalOptions()
    began = time.perf_counter()
    dataset_names, selected_tasks = _check_selection(suite, options)
    cache_dir = Path(options.cache_dir) if options.cache_dir else default_cache_dir()
    cache = EmbeddingCache(cache_dir)
    digests = ContentDigests(cache_dir / "digests.json")
    handle = resolve_model(model, options.revision, digests)
    output = Path(options.output) if options.output else default_output(model)
    device = resolve_device(options.device)
    inference = suite.inference
    encoder = ClipEncoder(handle.path, device=device, batch_size=inference.batch_size,
                          num_workers=inference.num_workers, precision=inference.precision)
    data_root = Path(options.data_root) if options.data_root else Path(suite.data_root)
    tasks = {task.name: task for task in list_tasks()}
    suite_section = {"name": suite.name, "title": suite.title, "citation": suite.citation,
                     "datasets": list(suite.datasets),
                     "reference_models": list(suite.reference_models),
                     "averages": [dataclasses.asdict(a) for a in suite.averages]}
    written, skipped, plots = [], {}, []
    draw_plots = matplotlib_available()
    try:
        for name in dataset_names:
            entry = suite.datasets[name]
            chosen = [tasks[t] for t in entry.tasks if t in selected_tasks]
            if not chosen:
                continue
            try:
                resolved = resolve_dataset(entry, data_root, options.dataset_sources.get(name))
            except EvalDatasetError as error:
                if not options.skip_unavailable:
                    raise
                skipped[name] = str(error).partition(": ")[2] or str(error)
                continue
            inputs = DatasetInputs(resolved, handle=handle, encoder=encoder, cache=cache, digests=digests,
                                   inference=inference, seed=suite.seed, device=device, progress=options.progress)
            for task in chosen:
                missing = _missing_split(task, resolved) if options.skip_unavailable else None
                if missing:
                    skipped[f"{name}/{task.name}"] = missing
                    continue
                record = _run_task(task, suite, inputs, resolved, handle, suite_section, __version__)
                path = result_path(output, name, task.name)
                write_json(path, record)
                written.append(path)
                if draw_plots:
                    plots += write_plots(record, output)
                if options.on_result is not None:
                    options.on_result(path, record)
    finally:
        digests.save()
    table = write_summary(output, list(suite.datasets), skipped) if written or output.is_dir() else ""
    return EvalSummary(output, written, skipped, cache.stats, encoder.forward_calls, table,
                       time.perf_counter() - began, plots,
                       None if draw_plots or not written else f"matplotlib is not installed: {INSTALL_HINT}")


def _missing_split(task: Task, resolved: ResolvedDataset) -> str | None:
    """Why ``task`` cannot run on ``resolved`` for want of a split, or None when it has every split it needs."""
    for role in task.splits:
        if not resolved.has_split(role):
            name = resolved.entry.splits[role]
            return (f"no split {name!r} (role {role}) in {resolved.location}; its splits: "
                    f"{', '.join(resolved.split_names()) or 'none'}")
    return None


def _run_task(task: Task, suite: EvalSuite, inputs: DatasetInputs, resolved: ResolvedDataset,
              handle: ModelHandle, suite_section: dict, version: str) -> dict:
    settings = suite.settings_for(task.name)
    for role in task.splits:
        resolved.split(role)  # a missing split or column stops here, named
    inputs.preprocessing_used = {}
    try:
        result = task.run(inputs, settings)
    except (ValueError, KeyError) as error:
        raise EvalDatasetError(f"{resolved.entry.name} ({resolved.location}) / {task.name}: {error}") from None
    dataset = resolved.describe()
    dataset["rows"] = {role: inputs.num_rows(role) for role in task.splits}
    dataset["fingerprints"] = {role: inputs.split_identity(role) for role in task.splits}
    reference = {metric: dict(values) for metric, values in resolved.entry.reference.items()
                 if metric.startswith(task.name + "/")}
    return {"format": RESULT_FORMAT, "task": task.name, "task_title": task.title,
            "main_metric": result.main_metric or task.main_metric,
            "metrics": result.metrics, "details": result.details, "model": handle.describe(), "dataset": dataset,
            "settings": dataclasses.asdict(settings),
            # the image preprocessing of each split the task embedded (implementation, sizes, crop or padding)
            "image_preprocessing": dict(inputs.preprocessing_used),
            # num_workers and chunk_rows change how, not what, is computed: left out so results stay byte-identical
            "inference": {"precision": suite.inference.precision, "batch_size": suite.inference.batch_size},
            "seed": suite.seed, "reference": reference,
            "reference_test_images": resolved.entry.reference_test_images, "suite": suite_section,
            "rsclip_version": version}
