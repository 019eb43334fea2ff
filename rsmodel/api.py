"""The Python API: ``rsmodel.train`` and ``rsmodel.evaluate``, taking recipe names or paths, returning result objects.

``rsmodel.train("tiny-cpu", overrides={"data.path": "demo/dataset"})`` runs ``rsmodel train`` and returns a
:class:`TrainRun`; ``rsmodel.evaluate(run.run_dir, suite="demo", datasets={"demo": "demo/dataset"})`` runs
``rsmodel eval`` and returns an :class:`EvalRun`. Both raise the :class:`~rsmodel.errors.RsmodelError` family
where the command line prints ``error: ...``. The Trainer-level code is :mod:`rsmodel.training`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence


@dataclass
class TrainRun:
    """What :func:`train` did: where the model is, the run's numbers and its record (``rsmodel_train.json``)."""

    run_dir: Path  # CLIPModel.from_pretrained(run_dir), CLIPProcessor.from_pretrained(run_dir)
    recipe: Any  # the resolved rsmodel.train_recipe.TrainRecipe, overrides applied
    result: Any  # rsmodel.training.TrainResult: global_step, train_loss, final_loss, logit_scale, throughput, skips
    record: dict = field(default_factory=dict)  # the run record, as written to RUN_DIR/rsmodel_train.json

    @property
    def global_step(self) -> int:
        return self.result.global_step

    @property
    def final_loss(self) -> float | None:
        return self.result.final_loss


@dataclass
class EvalRun:
    """What :func:`evaluate` did: the results folder, each result, and the summary."""

    output: Path  # OUT/<dataset>/<task>.json, OUT/summary.md, OUT/summary.json
    metrics: dict[str, dict[str, float]]  # dataset -> {"<task>/<metric>": value} over the results written
    records: list[dict]  # the result files written, as read back
    skipped: dict[str, str]  # dataset (or DATASET/TASK) -> why it was skipped
    table: str  # the summary table (Markdown), as printed
    summary: Any  # the rsmodel.eval.EvalSummary (cache statistics, timings)

    def main_metrics(self) -> dict[str, float]:
        """``"<dataset>/<task>/<metric>"`` -> value for each result's main metric."""
        return {f"{record['dataset']['name']}/{record['main_metric']}": record["metrics"][record["main_metric"]]
                for record in self.records if record["main_metric"] in record["metrics"]}


def train(recipe: Any, *, overrides: Mapping[str, Any] | Sequence[str] = (), output_dir: str | Path | None = None,
          progress: bool = True, verbose: bool = True, callbacks: Sequence = ()) -> TrainRun:
    """Train from ``recipe`` (a name such as ``"tiny-cpu"``, a recipe file, or a loaded
    :class:`~rsmodel.train_recipe.TrainRecipe`), resuming its run folder when it holds an unfinished run of the same
    recipe. ``overrides``: ``{"training.max_steps": 20}`` (values as Python values) or ``["training.max_steps=20"]``
    (as ``--override``, VALUE read as YAML); ``output_dir``: the run folder (``training.output_dir``)."""
    from rsdata.recipe import find_recipe
    from rsmodel.training import RUN_RECORD
    from rsmodel.training import train as run
    from rsmodel.train_recipe import TrainRecipe, load_train_recipe, recipe_from_dict

    given = _override_strings(overrides)
    if output_dir is not None:
        given.append(f"training.output_dir={json.dumps(str(output_dir))}")
    if isinstance(recipe, TrainRecipe):
        if given:  # applied to the resolved recipe, whose record keeps the earlier overrides too
            data = {key: value for key, value in recipe.as_dict().items() if key not in ("path", "overrides")}
            recipe = recipe_from_dict(data, path=recipe.path, overrides=given)
    else:
        recipe = load_train_recipe(_find(recipe, "train", find_recipe), given)
    result = run(recipe, callbacks=callbacks, progress=progress, verbose=verbose)
    record_path = Path(result.run_dir) / RUN_RECORD
    record = json.loads(record_path.read_text(encoding="utf-8")) if record_path.is_file() else {}
    return TrainRun(Path(result.run_dir), recipe, result, record)


def evaluate(model: str | Path, *, suite: Any = "remoteclip", tasks: Sequence[str] | str | None = None,
             datasets: Mapping[str, Any] | Sequence[str] | str | None = None, data_root: str | Path | None = None,
             output: str | Path | None = None, cache_dir: str | Path | None = None, device: str = "auto",
             revision: str | None = None, overrides: Mapping[str, Any] | Sequence[str] = (),
             skip_unavailable: bool = False, progress: bool = True) -> EvalRun:
    """Evaluate ``model`` (a CLIPModel folder, e.g. a :class:`TrainRun`'s ``run_dir``, or a Hub model id) on
    ``suite`` (a name such as ``"remoteclip"`` or ``"demo"``, a suite file, or a loaded
    :class:`~rsmodel.eval.EvalSuite`).

    ``tasks``: only these tasks; ``datasets``: only these datasets of the suite, by name, or a mapping of name to
    where to read it (a folder, or ``USER/NAME[@REV]`` on the Hub; the ``--dataset NAME=...`` of the command line);
    ``overrides``: suite values (``{"linear_probe.epochs": 10}``). The other arguments are ``rsmodel eval``'s.
    """
    from rsdata.recipe import find_recipe
    from rsmodel.eval import EvalOptions, EvalSuite, load_suite
    from rsmodel.eval import evaluate as run
    from rsmodel.eval.sources import parse_dataset_override

    if not isinstance(suite, EvalSuite):
        suite = load_suite(_find(suite, "eval", find_recipe), _override_strings(overrides))
    elif overrides:
        from rsmodel.errors import OptionError

        raise OptionError("overrides apply to a suite read from a name or file, not to a loaded EvalSuite")
    sources = {}
    if isinstance(datasets, Mapping):
        sources = dict(parse_dataset_override(f"{name}={location}") for name, location in datasets.items())
        datasets = list(datasets)
    options = EvalOptions(tasks=_names(tasks), datasets=_names(datasets),
                          data_root=Path(data_root) if data_root else None, dataset_sources=sources,
                          output=Path(output) if output else None, cache_dir=Path(cache_dir) if cache_dir else None,
                          device=device, revision=revision, skip_unavailable=skip_unavailable, progress=progress)
    summary = run(str(model), suite, options)
    records = [json.loads(Path(path).read_text(encoding="utf-8")) for path in summary.written]
    metrics: dict[str, dict[str, float]] = {}
    for record in records:
        metrics.setdefault(record["dataset"]["name"], {}).update(record["metrics"])
    return EvalRun(Path(summary.output), metrics, records, dict(summary.skipped), summary.table, summary)


def _find(name_or_path: Any, kind: str, find_recipe) -> Path:
    """A recipe or suite file from its name or path, with rsmodel's error family for an unknown one."""
    from rsdata.recipe import RecipeError
    from rsmodel.errors import SuiteError, TrainRecipeError

    try:
        return find_recipe(name_or_path, kind)
    except RecipeError as error:
        raise (SuiteError if kind == "eval" else TrainRecipeError)(str(error)) from None


def _override_strings(overrides: Mapping[str, Any] | Sequence[str]) -> list[str]:
    """``KEY=VALUE`` strings; a mapping's values are written as JSON, which YAML reads back as the same value."""
    if isinstance(overrides, Mapping):
        return [f"{key}={json.dumps(str(value) if isinstance(value, Path) else value)}"
                for key, value in overrides.items()]
    if isinstance(overrides, str):
        return [overrides]
    return list(overrides)


def _names(values: Sequence[str] | str | None) -> list[str] | None:
    if values is None:
        return None
    values = [values] if isinstance(values, str) else list(values)
    names = [name.strip() for value in values for name in str(value).split(",") if name.strip()]
    return names or None
