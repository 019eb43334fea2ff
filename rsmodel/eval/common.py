"""Numeric helpers shared by the task modules: normalisation, accuracies, ranks with a fixed tie rule.

Conventions:

- Metrics are percentages (0-100), as the paper reports them.
- Embeddings are float32 arrays ``(rows, dim)``; similarities are dot products of L2-normalised rows.
- Ties are broken by index, the way a stable descending sort orders them: among equal scores the item with the
  lower index ranks first. :func:`stable_rank` gives that position without sorting, so every ranking metric is
  independent of the sort algorithm and of the device.
"""

from __future__ import annotations

import numpy as np


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Rows scaled to unit L2 norm (float32); an all-zero row stays zero instead of becoming NaN."""
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms == 0, 1, norms)


def percent(fraction: float) -> float:
    return float(100.0 * fraction)


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Top-1 accuracy in percent."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if len(labels) == 0:
        raise ValueError("accuracy of an empty set")
    return percent(np.mean(predictions == labels))


def per_class_recall(predictions: np.ndarray, labels: np.ndarray) -> dict[int, float]:
    """Recall (percent) of each class that occurs in ``labels``, keyed by class index."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    return {int(c): percent(np.mean(predictions[labels == c] == c)) for c in np.unique(labels)}


def mean_per_class_recall(predictions: np.ndarray, labels: np.ndarray) -> float:
    """The mean over the classes present in ``labels`` of each class's recall, in percent."""
    return float(np.mean(list(per_class_recall(predictions, labels).values())))


def stable_rank(scores, target):
    """0-based position of column ``target[i]`` in row ``i`` of ``scores`` sorted by descending score, ties broken
    by lower column index first (a stable sort of ``-scores``). Works on numpy arrays and torch tensors."""
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a dependency of rsmodel
        torch = None
    if torch is not None and isinstance(scores, torch.Tensor):
        rows = torch.arange(scores.shape[0], device=scores.device)
        value = scores[rows, target].unsqueeze(1)
        columns = torch.arange(scores.shape[1], device=scores.device).unsqueeze(0)
        ahead = (scores > value) | ((scores == value) & (columns < target.unsqueeze(1)))
        return ahead.sum(dim=1)
    scores, target = np.asarray(scores), np.asarray(target)
    value = scores[np.arange(scores.shape[0]), target][:, None]
    columns = np.arange(scores.shape[1])[None, :]
    ahead = (scores > value) | ((scores == value) & (columns < target[:, None]))
    return ahead.sum(axis=1)


def first_argmax(scores: np.ndarray) -> np.ndarray:
    """Row-wise argmax; among equal maxima the lowest index (numpy's rule, stated here because metrics rely on it)."""
    return np.argmax(np.asarray(scores), axis=1)
