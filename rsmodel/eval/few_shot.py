"""Few-shot classification (RemoteCLIP protocol): 1, 4, 8, 16 and 32 shots per class, several random draws.

For every shot count ``k`` and run ``r`` (0 .. ``runs``-1): ``rng = numpy.random.default_rng([seed, k, r])``;
for each class in index order, its train rows (dataset order) are permuted with ``rng.permutation`` and the first
``k`` are taken. The probe of :mod:`rsmodel.eval.classifier` (the linear probe's classifier; batch order seeded
with ``seed + r``) is trained on those ``k * classes`` L2-normalised image embeddings and scored by top-1
accuracy on the whole test split.

Hyperparameters are fixed (defaults: the paper's linear-probe lr 0.8, weight decay 4e-5, 1000 epochs): no search,
because a hold-out cannot be taken from one shot per class. When some class has fewer than ``k`` train images,
that ``k`` is skipped and the reason recorded in the details.

Reported per ``k``: ``few_shot/top1_<k>shot_mean`` and ``few_shot/top1_<k>shot_std`` (sample standard deviation,
ddof 1, over the runs; 0 with a single run), in percent; the per-run accuracies are in the details.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rsmodel.eval.classifier import ProbeHyperparameters, train_logistic_regression
from rsmodel.eval.common import accuracy, l2_normalize
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

    def check(self) -> list[str]:
        problems = []
        if not self.shots or any(k < 1 for k in self.shots) or len(set(self.shots)) != len(self.shots):
            problems.append(f"shots must be distinct counts >= 1, got {list(self.shots)}")
        if self.runs < 1 or self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            problems.append("runs, epochs and batch_size must be >= 1 and lr > 0")
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
    hyper = ProbeHyperparameters(lr=settings.lr, weight_decay=settings.weight_decay, epochs=settings.epochs,
                                 batch_size=settings.batch_size, momentum=settings.momentum)
    counts = np.bincount(train_y, minlength=num_classes)
    present = np.unique(train_y)
    metrics, runs, skipped = {}, {}, {}
    for shots in settings.shots:
        smallest = int(present[np.argmin(counts[present])])
        if counts[smallest] < shots:
            skipped[str(shots)] = (f"class {inputs.label_names()[smallest]!r} has {counts[smallest]} train "
                                   f"images, fewer than {shots}")
            continue
        scores = []
        for index in range(settings.runs):
            rows = sample_shots(train_y, shots, np.random.default_rng([inputs.seed, shots, index]))
            probe = train_logistic_regression(train_x[rows], train_y[rows], num_classes, hyper,
                                              seed=inputs.seed + index, device=inputs.device)
            scores.append(accuracy(probe.predict(test_x), test_y))
        metrics[f"few_shot/top1_{shots}shot_mean"] = float(np.mean(scores))
        metrics[f"few_shot/top1_{shots}shot_std"] = float(np.std(scores, ddof=1)) if len(scores) > 1 else 0.0
        runs[str(shots)] = scores
    largest = max((int(k) for k in runs), default=None)
    return TaskResult(metrics=metrics, details={"runs": runs, "skipped_shots": skipped, "test_rows": len(test_y)},
                      main_metric=f"few_shot/top1_{largest}shot_mean" if largest is not None else None)


TASK = register(Task(
    name="few_shot", title="Few-shot", dataset_kind="classification", splits=("train", "test"),
    settings=FewShotSettings, run=run, main_metric="few_shot/top1_32shot_mean",
    card_metrics=tuple(f"few_shot/top1_{k}shot_mean" for k in DEFAULT_SHOTS), hub_task_type="image-classification",
    description="1/4/8/16/32 random train images per class, linear-probe classifier, mean and std over runs"))
