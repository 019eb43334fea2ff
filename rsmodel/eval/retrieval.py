"""Image-text retrieval (RemoteCLIP protocol, as its official retrieval script scores it).

Images are unique by file name (``source_id``): rows sharing a ``source_id`` are one image (the first row's
embedding) whose captions are all those rows' captions, in row order. Captions are the entries of the
``captions`` lists (normally 5 per image); every caption is one text query, duplicates included.

Scores are dot products of L2-normalised embeddings (float32, on the evaluation device), with no re-ranking.
Ranks follow :func:`rsmodel.eval.common.stable_rank` (ties: lower index first).

- Image -> text R@k: the fraction of images with at least one of their own captions among the k best-scored
  captions of all captions.
- Text -> image R@k: the fraction of captions whose image is among the k best-scored images.
- k = 1, 5, 10; ``retrieval/mean_recall`` is the mean of these 6 numbers (all in percent).

Metric names: ``retrieval/i2t_r@1`` ... ``retrieval/t2i_r@10``, ``retrieval/mean_recall``. An image without any
caption cannot be scored image -> text: it stays a candidate for text -> image, is left out of the image -> text
denominator, and is counted in the details.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from rsmodel.eval.common import l2_normalize, percent, stable_rank
from rsmodel.eval.registry import Task, TaskInputs, TaskResult, register


@dataclass(frozen=True)
class RetrievalSettings:
    ks: tuple[int, ...] = (1, 5, 10)
    chunk_rows: int = 1024

    def check(self) -> list[str]:
        return [] if self.ks and all(k >= 1 for k in self.ks) and self.chunk_rows >= 1 else \
            [f"ks must be counts >= 1 and chunk_rows >= 1, got ks {list(self.ks)}"]


def group_by_image(source_ids: Sequence[str], captions: Sequence[Sequence[str]]):
    """``(first row of each image, caption texts, image index of each caption)``; images in order of first row."""
    first_rows: list[int] = []
    image_of: dict[str, int] = {}
    texts, text_image = [], []
    for row, (source_id, row_captions) in enumerate(zip(source_ids, captions)):
        if source_id not in image_of:
            image_of[source_id] = len(first_rows)
            first_rows.append(row)
        for caption in row_captions or ():
            texts.append(caption)
            text_image.append(image_of[source_id])
    return np.asarray(first_rows, np.int64), texts, np.asarray(text_image, np.int64)


def caption_ranks(images: np.ndarray, texts: np.ndarray, text_image: np.ndarray, *, device: str = "cpu",
                  chunk_rows: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """``(best rank of an own caption per image (len(texts) when it has none), rank of each caption's image)``;
    ``images`` and ``texts`` are L2-normalised rows."""
    import torch

    image_t = torch.as_tensor(np.ascontiguousarray(images, np.float32), device=device)
    text_t = torch.as_tensor(np.ascontiguousarray(texts, np.float32), device=device)
    owner = torch.as_tensor(text_image, device=device)
    own_caption_rank = np.full(len(images), len(texts), dtype=np.int64)
    image_rank = np.empty(len(texts), dtype=np.int64)
    for start in range(0, len(texts), chunk_rows):
        stop = min(start + chunk_rows, len(texts))
        captions = torch.arange(start, stop, device=device)
        # image -> text: the row of each caption's image over all captions, and the caption's place in it
        rows = image_t[owner[start:stop]] @ text_t.T
        np.minimum.at(own_caption_rank, text_image[start:stop], stable_rank(rows, captions).cpu().numpy())
        # text -> image: the caption's row over all images, and its image's place in it
        image_rank[start:stop] = stable_rank(text_t[start:stop] @ image_t.T, owner[start:stop]).cpu().numpy()
    return own_caption_rank, image_rank


def recall_metrics(own_caption_rank: np.ndarray, image_rank: np.ndarray, has_caption: np.ndarray,
                   ks: Sequence[int]) -> dict[str, float]:
    metrics = {}
    for k in ks:
        metrics[f"retrieval/i2t_r@{k}"] = percent(np.mean(own_caption_rank[has_caption] < k))
    for k in ks:
        metrics[f"retrieval/t2i_r@{k}"] = percent(np.mean(image_rank < k))
    metrics["retrieval/mean_recall"] = float(np.mean(list(metrics.values())))
    return metrics


def run(inputs: TaskInputs, settings: RetrievalSettings) -> TaskResult:
    first_rows, texts, text_image = group_by_image(inputs.column("test", "source_id"),
                                                   inputs.column("test", "captions"))
    if not texts:
        raise ValueError("the test split has no captions")
    images = l2_normalize(inputs.image_embeddings("test")[first_rows])
    captions = l2_normalize(inputs.text_embeddings(texts))
    own_rank, image_rank = caption_ranks(images, captions, text_image, device=inputs.device,
                                         chunk_rows=settings.chunk_rows)
    has_caption = np.bincount(text_image, minlength=len(images)) > 0
    return TaskResult(
        metrics=recall_metrics(own_rank, image_rank, has_caption, settings.ks),
        details={"images": len(images), "captions": len(texts), "rows": inputs.num_rows("test"),
                 "images_without_captions": int((~has_caption).sum())})


TASK = register(Task(
    name="retrieval", title="Image-text retrieval", dataset_kind="retrieval", splits=("test",),
    settings=RetrievalSettings, run=run, main_metric="retrieval/mean_recall",
    card_metrics=("retrieval/i2t_r@1", "retrieval/i2t_r@5", "retrieval/i2t_r@10", "retrieval/t2i_r@1",
                  "retrieval/t2i_r@5", "retrieval/t2i_r@10", "retrieval/mean_recall"),
    hub_task_type="image-feature-extraction",  # the Hub has no retrieval task id for images
    description="images unique by file name; I2T: any own caption in top k; T2I; R@1/5/10 and mean recall"))
