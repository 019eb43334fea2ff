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

Exact ties (details; the recalls above break them by index, as a stable sort does, and these counts say how many
queries that rule decided): identical captions are common (659 of UCM's 1,050 test captions repeat another),
and identical texts have identical embeddings, so they score exactly alike against every image.

- ``text_to_image_tied_queries``: captions whose own image's score equals, exactly, the score of some other
  image (the caption's rank of its image depends on the tie rule).
- ``image_to_text_tied_queries``: images (with captions) whose best own caption's score equals, exactly, the
  score of some caption of another image (typically the same text written for another image).
- ``captions_with_identical_text``: captions whose text is, character for character, also the text of another
  caption of the test split (every copy counted).
"""

from __future__ import annotations

from collections import Counter
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
                  chunk_rows: int = 1024) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(best rank of an own caption per image (len(texts) when it has none), rank of each caption's image,
    image -> text tie of each image, text -> image tie of each caption)`` (ties as the module docstring defines
    them); ``images`` and ``texts`` are L2-normalised rows."""
    import torch

    image_t = torch.as_tensor(np.ascontiguousarray(images, np.float32), device=device)
    text_t = torch.as_tensor(np.ascontiguousarray(texts, np.float32), device=device)
    owner = torch.as_tensor(text_image, device=device)
    own_caption_rank = np.full(len(images), len(texts), dtype=np.int64)
    image_rank = np.empty(len(texts), dtype=np.int64)
    own_score = np.empty(len(texts), dtype=np.float32)  # score of each caption with its own image
    i2t_tie = np.zeros(len(texts), dtype=bool)  # ...equalled by a caption of another image
    t2i_tie = np.zeros(len(texts), dtype=bool)  # ...equalled by another image
    image_columns = torch.arange(len(images), device=device)
    for start in range(0, len(texts), chunk_rows):
        stop = min(start + chunk_rows, len(texts))
        captions = torch.arange(start, stop, device=device)
        mine = owner[start:stop].unsqueeze(1)
        # image -> text: the row of each caption's image over all captions, and the caption's place in it
        rows = image_t[owner[start:stop]] @ text_t.T
        np.minimum.at(own_caption_rank, text_image[start:stop], stable_rank(rows, captions).cpu().numpy())
        value = rows.gather(1, captions.unsqueeze(1))
        own_score[start:stop] = value.squeeze(1).cpu().numpy()
        i2t_tie[start:stop] = ((rows == value) & (owner.unsqueeze(0) != mine)).any(dim=1).cpu().numpy()
        # text -> image: the caption's row over all images, and its image's place in it
        scores = text_t[start:stop] @ image_t.T
        image_rank[start:stop] = stable_rank(scores, owner[start:stop]).cpu().numpy()
        value = scores.gather(1, mine)
        t2i_tie[start:stop] = ((scores == value) & (image_columns.unsqueeze(0) != mine)).any(dim=1).cpu().numpy()
    # an image is tied when a caption holding its best own score is (equal own scores share the same ties)
    best = np.full(len(images), -np.inf, dtype=np.float32)
    np.maximum.at(best, text_image, own_score)
    image_tie = np.zeros(len(images), dtype=bool)
    at_best = own_score == best[text_image]
    np.logical_or.at(image_tie, text_image[at_best], i2t_tie[at_best])
    return own_caption_rank, image_rank, image_tie, t2i_tie


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
    own_rank, image_rank, image_tie, caption_tie = caption_ranks(images, captions, text_image, device=inputs.device,
                                                                 chunk_rows=settings.chunk_rows)
    has_caption = np.bincount(text_image, minlength=len(images)) > 0
    copies = Counter(texts)
    return TaskResult(
        metrics=recall_metrics(own_rank, image_rank, has_caption, settings.ks),
        details={"images": len(images), "captions": len(texts), "rows": inputs.num_rows("test"),
                 "images_without_captions": int((~has_caption).sum()),
                 "text_to_image_tied_queries": int(caption_tie.sum()),
                 "image_to_text_tied_queries": int(image_tie[has_caption].sum()),
                 "captions_with_identical_text": sum(n for n in copies.values() if n > 1)})


TASK = register(Task(
    name="retrieval", title="Image-text retrieval", dataset_kind="retrieval", splits=("test",),
    settings=RetrievalSettings, run=run, main_metric="retrieval/mean_recall",
    card_metrics=("retrieval/i2t_r@1", "retrieval/i2t_r@5", "retrieval/i2t_r@10", "retrieval/t2i_r@1",
                  "retrieval/t2i_r@5", "retrieval/t2i_r@10", "retrieval/mean_recall"),
    hub_task_type="image-feature-extraction",  # the Hub has no retrieval task id for images
    description="images unique by file name; I2T: any own caption in top k; T2I; R@1/5/10 and mean recall"))
