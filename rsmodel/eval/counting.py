"""Object counting (RemoteCount protocol): 10 candidate captions per image, "one" ... "ten".

Every row has ``count`` (1..10) and ``count_candidates`` (index i says i + 1; its true caption is
``count_candidates[count - 1]``), ``count_candidates_digits`` the same with "1" ... "10". rsdata's
``remotecount/1`` sets write those columns grammatically ("There is one harbor", "There are two harbors").

Candidates (setting ``candidates``; the result's settings name the one that ran):

- ``number_only`` (default, the paper's: "replace the number"): the ten candidates are the true caption with only
  its number word replaced by "one" ... "ten" (digits variant: "1" ... "10"); verb and noun stay as they are,
  so a caption of three harbors gives "There are one harbors in the picture." The number word is the count's
  word (``one`` ... ``ten``, any case; a capital first letter is kept) and must occur exactly once as a whole
  word in the true caption, else the row is refused.
- ``grammatical``: the dataset's ``count_candidates`` / ``count_candidates_digits`` columns as they are (verb
  and noun agree with each number).

Images (settings ``image_fit`` and ``pad_fill``): ``pad_square`` (default) resizes the longer side to the crop
size and pads the image to a square with grey level ``pad_fill`` (default 0, black), so no counted object is cut
off a non-square RemoteCount image; ``center_crop`` is CLIP's usual validation crop
(:mod:`rsmodel.eval.preprocess`). The result's ``image_preprocessing`` states which ran.

Each image's normalised embedding is scored by dot product against the normalised embeddings of its own 10
candidates; the true candidate's rank follows :func:`rsmodel.eval.common.stable_rank` (ties: the smaller number
first).

Reported (percent): ``counting/top1`` ... ``counting/top10`` (the true caption among the k best-scored
candidates; top10 is 100 by construction) and the same for the digits variant as ``counting/digits_top1`` ...
``counting/digits_top10``. Details: the confusion matrices (``confusion_matrix[true - 1][predicted - 1]``, where
the prediction is the best-scored candidate, ties to the smaller number), the number of rows per count and the
candidates of the first row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from rsmodel.errors import EvalDatasetError
from rsmodel.eval.common import first_argmax, l2_normalize, percent, stable_rank
from rsmodel.eval.registry import Task, TaskInputs, TaskResult, register

CANDIDATES = 10
NUMBER_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
CANDIDATE_RULES = ("number_only", "grammatical")
IMAGE_FITS = ("pad_square", "center_crop")


@dataclass(frozen=True)
class CountingSettings:
    digits: bool = True  # also score the digits variant
    candidates: str = "number_only"  # or "grammatical": the dataset's candidate columns
    image_fit: str = "pad_square"  # or "center_crop"
    pad_fill: int = 0  # grey level of the padding (pad_square)

    def check(self) -> list[str]:
        problems = []
        if self.candidates not in CANDIDATE_RULES:
            problems.append(f"candidates {self.candidates!r}: expected one of {', '.join(CANDIDATE_RULES)}")
        if self.image_fit not in IMAGE_FITS:
            problems.append(f"image_fit {self.image_fit!r}: expected one of {', '.join(IMAGE_FITS)}")
        if not 0 <= self.pad_fill <= 255:
            problems.append(f"pad_fill {self.pad_fill}: expected a grey level 0..255")
        return problems


def number_only_candidates(caption: str, count: int, *, digits: bool = False) -> list[str]:
    """The ten candidates of ``caption`` (which states ``count`` in words) with only the number changed; raises
    ValueError when the count's word is not in the caption exactly once."""
    word = NUMBER_WORDS[count - 1]
    found = list(re.finditer(rf"\b{word}\b", caption, flags=re.IGNORECASE))
    if len(found) != 1:
        raise ValueError(f"caption {caption!r} (count {count}) holds the word {word!r} {len(found)} times, expected "
                         "once")
    start, stop = found[0].span()
    capital = caption[start].isupper()
    numbers = [str(n) for n in range(1, CANDIDATES + 1)] if digits else list(NUMBER_WORDS)
    return [caption[:start] + (n.capitalize() if capital else n) + caption[stop:] for n in numbers]


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
    if settings.candidates == "number_only":
        captions = [row[count - 1] for row, count in zip(candidates["count_candidates"], counts)]
        try:
            candidates = {column: [number_only_candidates(caption, count, digits=column.endswith("_digits"))
                                   for caption, count in zip(captions, counts)] for column in columns}
        except ValueError as error:
            raise EvalDatasetError(f"{inputs.dataset_name}: candidates number_only: {error}; use candidates: "
                                   "grammatical for captions without the count's word") from None
    counts = np.asarray(counts, dtype=np.int64)
    images = inputs.image_embeddings("test", fit=settings.image_fit, fill=settings.pad_fill)
    metrics, details = {}, {"rows": len(counts),
                            "rows_per_count": np.bincount(counts, minlength=CANDIDATES + 1)[1:].tolist(),
                            "candidates": settings.candidates,
                            "first_row_candidates": {column: rows[0] for column, rows in candidates.items()}}
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
    description='10 candidate captions "one".."ten" per image (only the number changed, or grammatical); images '
                'padded to square; top-1..top-10 accuracy, confusion matrix; digits'))
