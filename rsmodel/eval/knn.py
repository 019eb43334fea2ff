"""Weighted k-nearest-neighbour classification (RemoteCLIP protocol): k = 20, temperature T = 0.07.

Each test image's L2-normalised embedding is compared by dot product with every train image's; its ``k`` most
similar train images (ties: the lower train index first; ``k`` is capped at the train size) vote for their
labels with weight ``exp(similarity / T)``; the class with the largest summed weight wins (ties: the lower class
index). Reported: ``knn/top1`` and ``knn/mean_per_class_recall`` on the test split (percent).

Similarities are float32 (computed in chunks of test rows on the evaluation device); weights and vote sums are
float64.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rsmodel.eval.common import accuracy, l2_normalize, per_class_recall
from rsmodel.eval.registry import Task, TaskInputs, TaskResult, register


@dataclass(frozen=True)
class KnnSettings:
    k: int = 20
    temperature: float = 0.07
    chunk_rows: int = 1024

    def check(self) -> list[str]:
        return [] if self.k >= 1 and self.temperature > 0 and self.chunk_rows >= 1 else \
            ["k and chunk_rows must be >= 1 and temperature > 0"]


def knn_predict(train: np.ndarray, train_labels: np.ndarray, test: np.ndarray, num_classes: int, *, k: int,
                temperature: float, device: str = "cpu", chunk_rows: int = 1024) -> np.ndarray:
    """Predicted class of every ``test`` row (rows L2-normalised beforehand)."""
    import torch

    memory = torch.as_tensor(np.ascontiguousarray(train, np.float32), device=device)
    memory_labels = torch.as_tensor(np.asarray(train_labels, np.int64), device=device)
    k = min(k, memory.shape[0])
    predictions = []
    for start in range(0, len(test), chunk_rows):
        queries = torch.as_tensor(np.ascontiguousarray(test[start:start + chunk_rows], np.float32), device=device)
        similarity = queries @ memory.T
        top_values, top_index = torch.sort(similarity, dim=1, descending=True, stable=True)
        weights = torch.exp(top_values[:, :k].double() / temperature)
        votes = torch.zeros(len(queries), num_classes, dtype=torch.float64, device=device)
        votes.scatter_add_(1, memory_labels[top_index[:, :k]], weights)
        predictions.append(torch.argmax(votes, dim=1).cpu().numpy())
    return np.concatenate(predictions) if predictions else np.zeros(0, np.int64)


def run(inputs: TaskInputs, settings: KnnSettings) -> TaskResult:
    train_y = np.asarray(inputs.column("train", "label"), dtype=np.int64)
    test_y = np.asarray(inputs.column("test", "label"), dtype=np.int64)
    predictions = knn_predict(l2_normalize(inputs.image_embeddings("train")), train_y,
                              l2_normalize(inputs.image_embeddings("test")), len(inputs.label_names()),
                              k=settings.k, temperature=settings.temperature, device=inputs.device,
                              chunk_rows=settings.chunk_rows)
    recall = per_class_recall(predictions, test_y)
    return TaskResult(
        metrics={"knn/top1": accuracy(predictions, test_y),
                 "knn/mean_per_class_recall": float(np.mean(list(recall.values())))},
        details={"train_rows": len(train_y), "test_rows": len(test_y), "k": min(settings.k, len(train_y)),
                 "per_class_recall": {inputs.label_names()[c]: r for c, r in recall.items()}})


TASK = register(Task(
    name="knn", title="k-NN", dataset_kind="classification", splits=("train", "test"), settings=KnnSettings,
    run=run, main_metric="knn/top1", card_metrics=("knn/top1",), hub_task_type="image-classification",
    description="k = 20 nearest train images, votes weighted exp(sim / 0.07) on normalised features; top-1 on test"))
