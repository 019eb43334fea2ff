"""Linear probe (RemoteCLIP protocol): logistic regression on frozen image features of the full train split.

Features: the model's projected image embeddings, L2-normalised. Classifier and training: see
:mod:`rsmodel.eval.classifier` (SGD, cosine annealing, weight decay on the weights). Paper settings, the defaults
here: lr 0.8, weight decay 4e-5, 1000 epochs, batch 10,000, best of 5 random-search trials over lr and weight decay.

How the trials are chosen and validated (the paper does not say; this project's rule):

1. ``rng = numpy.random.default_rng(seed)``. The hold-out: for each class in index order, its train rows (in
   dataset order) are permuted with ``rng.permutation``; the first ``floor(validation_fraction * n_class)`` go to
   the hold-out, the rest to the fit set (a class with one train row keeps it in the fit set).
2. Trial 1 uses the configured ``lr`` and ``weight_decay`` (the paper's). Trials 2..``trials`` draw, from the
   same ``rng`` after the hold-out, ``lr`` log-uniformly from ``lr_range`` and then ``weight_decay``
   log-uniformly from ``weight_decay_range``.
3. Each trial trains on the fit set and is scored by top-1 accuracy on the hold-out; the best trial wins (ties:
   the earlier trial).
4. The winning ``lr`` and ``weight_decay`` are trained again on the whole train split, and that probe is scored on
   the test split: ``linear_probe/top1`` and ``linear_probe/mean_per_class_recall`` (percent).

With ``trials: 1`` there is no hold-out: the configured settings are trained on the whole train split.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rsmodel.eval.classifier import ProbeHyperparameters, train_logistic_regression
from rsmodel.eval.common import accuracy, l2_normalize, per_class_recall
from rsmodel.eval.registry import Task, TaskInputs, TaskResult, register


@dataclass(frozen=True)
class LinearProbeSettings:
    lr: float = 0.8
    weight_decay: float = 4e-5
    epochs: int = 1000
    batch_size: int = 10000
    momentum: float = 0.0
    trials: int = 5
    validation_fraction: float = 0.2
    lr_range: tuple[float, float] = (0.1, 3.2)
    weight_decay_range: tuple[float, float] = (4e-6, 4e-4)

    def check(self) -> list[str]:
        problems = []
        if self.lr <= 0 or self.epochs < 1 or self.batch_size < 1 or self.trials < 1:
            problems.append("lr must be > 0, epochs, batch_size and trials >= 1")
        if not 0 < self.validation_fraction < 1:
            problems.append(f"validation_fraction must be in (0, 1), got {self.validation_fraction}")
        for name in ("lr_range", "weight_decay_range"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                problems.append(f"{name} must be [low, high] with 0 < low <= high, got {[low, high]}")
        return problems

    def hyperparameters(self, lr: float, weight_decay: float) -> ProbeHyperparameters:
        return ProbeHyperparameters(lr=lr, weight_decay=weight_decay, epochs=self.epochs,
                                    batch_size=self.batch_size, momentum=self.momentum)


def hold_out_split(labels: np.ndarray, fraction: float, rng: np.random.Generator, *,
                   at_least_one: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """``(fit_rows, validation_rows)``, both sorted, by the per-class rule of the module docstring; with
    ``at_least_one`` (few-shot) a class of two or more rows gives at least one row to the hold-out."""
    fit, validation = [], []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        shuffled = rows[rng.permutation(len(rows))]
        count = math.floor(fraction * len(rows))
        if at_least_one and len(rows) >= 2:
            count = max(1, count)
        validation.extend(shuffled[:count])
        fit.extend(shuffled[count:])
    return np.sort(np.asarray(fit, dtype=np.int64)), np.sort(np.asarray(validation, dtype=np.int64))


def log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(math.exp(rng.uniform(math.log(low), math.log(high))))


def search_and_fit(features: np.ndarray, labels: np.ndarray, num_classes: int, settings: LinearProbeSettings, *,
                   seed: int, device: str, rng: np.random.Generator | None = None, at_least_one: bool = False):
    """Run the trials of the module docstring; returns ``(classifier fitted on all rows, trials, best index)``.

    ``seed`` orders the batches of every training; ``rng`` (default ``numpy.random.default_rng(seed)``) draws the
    hold-out and the trials; ``at_least_one``: see :func:`hold_out_split`."""
    if settings.trials == 1:
        hyper = settings.hyperparameters(settings.lr, settings.weight_decay)
        trials = [{"lr": settings.lr, "weight_decay": settings.weight_decay, "validation_top1": None}]
        return train_logistic_regression(features, labels, num_classes, hyper, seed=seed, device=device), trials, 0
    rng = np.random.default_rng(seed) if rng is None else rng
    fit, validation = hold_out_split(labels, settings.validation_fraction, rng, at_least_one=at_least_one)
    if len(validation) == 0:
        raise ValueError(f"the hold-out of {settings.validation_fraction} of the train split is empty (classes too "
                         "small); use trials: 1 or a larger validation_fraction")
    candidates = [(settings.lr, settings.weight_decay)]
    for _ in range(settings.trials - 1):
        lr = log_uniform(rng, *settings.lr_range)
        candidates.append((lr, log_uniform(rng, *settings.weight_decay_range)))
    trials = []
    for lr, weight_decay in candidates:
        probe = train_logistic_regression(features[fit], labels[fit], num_classes,
                                          settings.hyperparameters(lr, weight_decay), seed=seed, device=device)
        trials.append({"lr": lr, "weight_decay": weight_decay,
                       "validation_top1": accuracy(probe.predict(features[validation]), labels[validation])})
    best = max(range(len(trials)), key=lambda i: (trials[i]["validation_top1"], -i))
    hyper = settings.hyperparameters(trials[best]["lr"], trials[best]["weight_decay"])
    return train_logistic_regression(features, labels, num_classes, hyper, seed=seed, device=device), trials, best


def run(inputs: TaskInputs, settings: LinearProbeSettings) -> TaskResult:
    num_classes = len(inputs.label_names())
    train_x, test_x = l2_normalize(inputs.image_embeddings("train")), l2_normalize(inputs.image_embeddings("test"))
    train_y = np.asarray(inputs.column("train", "label"), dtype=np.int64)
    test_y = np.asarray(inputs.column("test", "label"), dtype=np.int64)
    probe, trials, best = search_and_fit(train_x, train_y, num_classes, settings, seed=inputs.seed,
                                         device=inputs.device)
    predictions = probe.predict(test_x)
    recall = per_class_recall(predictions, test_y)
    return TaskResult(
        metrics={"linear_probe/top1": accuracy(predictions, test_y),
                 "linear_probe/mean_per_class_recall": float(np.mean(list(recall.values())))},
        details={"train_rows": len(train_y), "test_rows": len(test_y), "trials": trials, "best_trial": best + 1,
                 "per_class_recall": {inputs.label_names()[c]: r for c, r in recall.items()}})


TASK = register(Task(
    name="linear_probe", title="Linear probe", dataset_kind="classification", splits=("train", "test"),
    settings=LinearProbeSettings, run=run, main_metric="linear_probe/top1",
    card_metrics=("linear_probe/top1",), hub_task_type="image-classification",
    description="logistic regression (SGD, cosine, paper lr/wd, best of N trials on a train hold-out) on frozen "
                "normalised image features; top-1 on test"))
