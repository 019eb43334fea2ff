"""Few-shot classification (RemoteCLIP protocol): 1, 4, 8, 16 and 32 shots per class, several random draws.

For every shot count ``k`` and run ``r`` (0 .. ``runs``-1): ``rng = numpy.random.default_rng([seed, k, r])``;
for each class in index order, its train rows (dataset order) are permuted with ``rng.permutation`` and the first
``k`` are taken. The probe of :mod:`rsmodel.eval.classifier` (the linear probe's classifier; batch order seeded
with ``seed + r``) is trained on those ``k * classes`` L2-normalised image embeddings and scored by top-1
accuracy on the whole test split.

Hyper-parameters: the paper reports the best of 5 random-search trials, and so does this task, with the linear
probe's search (:func:`rsmodel.eval.linear_probe.search_and_fit`, same settings: trial 1 is lr 0.8 and weight
decay 4e-5, trials 2..``trials`` log-uniform from ``lr_range`` and ``weight_decay_range``) run on the draw alone:

1. after the draw, the same ``rng`` splits the ``k`` drawn rows of each class into a hold-out of
   ``max(1, floor(validation_fraction * k))`` rows and a fit set of the rest (the test split is never looked
   at), then draws trials 2..``trials``;
2. each trial trains on the fit set and is scored on the hold-out (ties: the earlier trial);
3. the winner's lr and weight decay are trained again on all ``k * classes`` drawn rows, and that probe is
   scored on the test split.

A 1-shot draw has no row to hold out, so ``k = 1`` trains trial 1's settings (the paper's) without search and
the details say so; ``trials: 1`` turns the search off for every ``k``.

Reported per ``k``: ``few_shot/top1_<k>shot_mean`` and ``few_shot/top1_<k>shot_std`` (sample standard deviation,
ddof 1, over the runs; 0 with a single run), in percent; the per-run accuracies are in the details.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from rsmodel.eval.common import accuracy, l2_normalize
from rsmodel.eval.linear_probe import LinearProbeSettings, search_and_fit
from rsmodel.eval.registry import Task, TaskInputs, TaskResult, register

DEFAULT_SHOTS = (1, 4, 8, 16, 32)


@dataclass(frozen=True)
class FewShotSettings:
    shots: tuple[int, ...] = DEFAULT_SHOTS
    runs: int = 5
    lr: float = 0.8
    weight_decay: float = 4e-5
    epochs: int = 1000
    batch_size: int = 10000
    momentum: float = 0.0
    trials: int = 5
    validation_fraction: float = 0.2
    lr_range: tuple[float, float] = (0.1, 3.2)
    weight_decay_range: tuple[float, float] = (4e-6, 4e-4)

    def probe_settings(self) -> LinearProbeSettings:
        return LinearProbeSettings(lr=self.lr, weight_decay=self.weight_decay, epochs=self.epochs,
                                   batch_size=self.batch_size, momentum=self.momentum, trials=self.trials,
                                   validation_fraction=self.validation_fraction, lr_range=self.lr_range,
                                   weight_decay_range=self.weight_decay_range)

    def check(self) -> list[str]:
        problems = self.probe_settings().check()
        if not self.shots or any(k < 1 for k in self.shots) or len(set(self.shots)) != len(self.shots):
            problems.append(f"shots must be distinct counts >= 1, got {list(self.shots)}")
        if self.runs < 1:
            problems.append(f"runs must be >= 1, got {self.runs}")
        return problems


def sample_shots(labels: np.ndarray, shots: int, rng: np.random.Generator) -> np.ndarray:
    """Rows of ``shots`` train images per class (classes in index order), by the module docstring's rule."""
    chosen = []
    for label in np.unique(labels):
        rows = np.flatnonzero(labels == label)
        chosen.extend(rows[rng.permutation(len(rows))[:shots]])
    return np.asarray(chosen, dtype=np.int64)


def run(inputs: TaskInputs, settings: FewShotSettings) -> TaskResult:
    num_classes = len(inputs.label_names())
    train_x, test_x = l2_normalize(inputs.image_embeddings("train")), l2_normalize(inputs.image_embeddings("test"))
    train_y = np.asarray(inputs.column("train", "label"), dtype=np.int64)
    test_y = np.asarray(inputs.column("test", "label"), dtype=np.int64)
    probe_settings = settings.probe_settings()
    fixed = dataclasses.replace(probe_settings, trials=1)
    counts = np.bincount(train_y, minlength=num_classes)
    present = np.unique(train_y)
    metrics, runs, skipped, searches = {}, {}, {}, {}
    for shots in settings.shots:
        smallest = int(present[np.argmin(counts[present])])
        if counts[smallest] < shots:
            skipped[str(shots)] = (f"class {inputs.label_names()[smallest]!r} has {counts[smallest]} train "
                                   f"images, fewer than {shots}")
            continue
        scores, search = [], []
        for index in range(settings.runs):
            rng = np.random.default_rng([inputs.seed, shots, index])
            rows = sample_shots(train_y, shots, rng)
            chosen = probe_settings if shots >= 2 else fixed
            probe, trials, best = search_and_fit(train_x[rows], train_y[rows], num_classes, chosen,
                                                 seed=inputs.seed + index, device=inputs.device, rng=rng,
                                                 at_least_one=True)
            scores.append(accuracy(probe.predict(test_x), test_y))
            search.append({"trials": trials, "best_trial": best + 1})
        metrics[f"few_shot/top1_{shots}shot_mean"] = float(np.mean(scores))
        metrics[f"few_shot/top1_{shots}shot_std"] = float(np.std(scores, ddof=1)) if len(scores) > 1 else 0.0
        runs[str(shots)] = scores
        searches[str(shots)] = search
    largest = max((int(k) for k in runs), default=None)
    no_search = {"1": "1 shot per class leaves no row to hold out: the paper's lr and weight decay, no search"} \
        if settings.trials > 1 and "1" in runs else {}
    return TaskResult(metrics=metrics, details={"runs": runs, "skipped_shots": skipped, "test_rows": len(test_y),
                                                "search": searches, "no_search": no_search},
                      main_metric=f"few_shot/top1_{largest}shot_mean" if largest is not None else None)


TASK = register(Task(
    name="few_shot", title="Few-shot", dataset_kind="classification", splits=("train", "test"),
    settings=FewShotSettings, run=run, main_metric="few_shot/top1_32shot_mean",
    card_metrics=tuple(f"few_shot/top1_{k}shot_mean" for k in DEFAULT_SHOTS), hub_task_type="image-classification",
    description="1/4/8/16/32 random train images per class, linear-probe classifier with best-of-5 search on a "
                "hold-out of the draw, mean and std over runs"))
