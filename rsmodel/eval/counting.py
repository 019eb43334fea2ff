"""Object counting (RemoteCount protocol): 10 candidate captions per image, "one" ... "ten".

Every row has ``count`` (1..10) and ``count_candidates``: its true caption with the number replaced by "one" ...
"ten" (index i says i + 1; the true caption is candidate ``count - 1``); ``count_candidates_digits`` is the same
with "1" ... "10". Each image's normalised embedding is scored by dot product against the normalised embeddings
of its own 10 candidates; the true candidate's rank follows :func:`rsmodel.eval.common.stable_rank` (ties: the
smaller number first).

Reported (percent): ``counting/top1`` ... ``counting/top10`` (the true caption among the k best-scored
candidates; top10 is 100 by construction) and the same for the digits variant as ``counting/digits_top1`` ...
``counting/digits_top10``. Details: the confusion matrices (``confusion_matrix[true - 1][predicted - 1]``, where
the prediction is the best-scored candidate, ties to the smaller number) and the number of rows per count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rsmodel.errors import EvalDatasetError
from rsmodel.eval.common import first_argmax, l2_normalize, percent, stable_rank
from rsmodel.eval.registry import Task, TaskInputs, TaskResult, register

CANDIDATES = 10


@dataclass(frozen=True)
class CountingSettings:
    digits: bool = True  # also score the digits variant

    def check(self) -> list[str]:
        return []


def candidate_scores(images: np.ndarray, candidates: list[list[str]], encode) -> np.ndarray:
    """``(rows, 10)`` dot products of each normalised image with its own normalised candidates; ``encode(texts)``
    returns text embeddings (each distinct text is encoded once)."""
    distinct = list(dict.fromkeys(text for row in candidates for text in row))
    position = {text: i for i, text in enumerate(distinct)}
    texts = l2_normalize(encode(distinct)).astype(np.float64)
    index = np.asarray([[position[text] for text in row] for row in candidates], dtype=np.int64)
    return np.einsum("nd,nkd->nk", l2_normalize(images).astype(np.float64), texts[index])


def counting_metrics(scores: np.ndarray, counts: np.ndarray, prefix: str) -> tuple[dict[str, float], list]:
    ranks = stable_rank(scores, counts - 1)
    metrics = {f"{prefix}top{k}": percent(np.mean(ranks < k)) for k in range(1, CANDIDATES + 1)}
    confusion = np.zeros((CANDIDATES, CANDIDATES), dtype=np.int64)
    np.add.at(confusion, (counts - 1, first_argmax(scores)), 1)
    return metrics, confusion.tolist()


def check_rows(inputs: TaskInputs, counts: list, candidates: dict[str, list]) -> None:
    for row, count in enumerate(counts):
        if not isinstance(count, (int, np.integer)) or not 1 <= count <= CANDIDATES:
            raise EvalDatasetError(f"{inputs.dataset_name}: test row {row}: count {count!r} is not an integer "
                                   f"from 1 to {CANDIDATES}")
        for column, rows in candidates.items():
            if len(rows[row]) != CANDIDATES:
                raise EvalDatasetError(f"{inputs.dataset_name}: test row {row}: {column} has {len(rows[row])} "
                                       f"captions, expected {CANDIDATES} (one per count 1..10)")


def run(inputs: TaskInputs, settings: CountingSettings) -> TaskResult:
    counts = inputs.column("test", "count")
    columns = ["count_candidates"] + (["count_candidates_digits"] if settings.digits else [])
    candidates = {column: inputs.column("test", column) for column in columns}
    check_rows(inputs, counts, candidates)
    counts = np.asarray(counts, dtype=np.int64)
    images = inputs.image_embeddings("test")
    metrics, details = {}, {"rows": len(counts),
                            "rows_per_count": np.bincount(counts, minlength=CANDIDATES + 1)[1:].tolist()}
    for column, prefix, detail in (("count_candidates", "counting/", "confusion_matrix"),
                                   ("count_candidates_digits", "counting/digits_", "digits_confusion_matrix")):
        if column in candidates:
            scores = candidate_scores(images, candidates[column], inputs.text_embeddings)
            found, details[detail] = counting_metrics(scores, counts, prefix)
            metrics.update(found)
    return TaskResult(metrics=metrics, details=details)


TASK = register(Task(
    name="counting", title="Object counting", dataset_kind="counting", splits=("test",),
    settings=CountingSettings, run=run, main_metric="counting/top1",
    card_metrics=("counting/top1", "counting/digits_top1"), hub_task_type="zero-shot-image-classification",
    description='10 candidate captions "one".."ten" per image; top-1..top-10 accuracy, confusion matrix; digits'))
