"""Embeddings, computed once per (model, dataset split, preprocessing) and cached on disk; every task reads them.

Cache layout (``--cache-dir``, default ``$RSCLIP_CACHE/embeddings`` or ``~/.cache/rsclip/embeddings``)::

    <cache>/images/<key>.npy            float32 (rows, dim): the model's projected image embeddings, in row order
    <cache>/images/<key>.json           what the key stands for (model digest, split identity, preprocessing...)
    <cache>/images/<key>.partial/       parts of an unfinished computation: <start>-<stop>.npy, resumed from
    <cache>/texts/<key>.npy / .json     text embeddings of one list of distinct texts (prompts, captions...)
    <cache>/digests.json                remembered file digests (see rsmodel.eval.sources)

``key`` is the sha256 of the canonical JSON of its fields: for images the model digest, the split identity
(Hub commit or shard digest, and split name), the image preprocessing (:meth:`rsmodel.eval.preprocess.
ClipEvalTransform.describe`: implementation, sizes, statistics, centre crop or padding) and the precision; for texts the
model digest, the sha256 of the text list, the tokenisation settings and the precision. Embeddings are raw
(not normalised); tasks normalise as their protocol says.

Every file is written under a temporary name and renamed, so a killed run leaves whole parts or nothing; a
second run finds the ``.npy`` and computes nothing (:class:`CacheStats` counts hits, misses and encoded rows).
Batches are formed the same way whatever ``num_workers`` is (workers only decode and preprocess), so the cached
arrays do not depend on the number of processes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from rsdata.atomic import save_array_atomic, write_json_atomic

from rsmodel.errors import OptionError
from rsmodel.eval.preprocess import ClipEvalTransform

CACHE_ENV = "RSCLIP_CACHE"


def default_cache_dir() -> Path:
    root = os.environ.get(CACHE_ENV) or os.path.join(os.path.expanduser("~"), ".cache", "rsclip")
    return Path(root) / "embeddings"


def cache_key(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:40]


def texts_digest(texts: Sequence[str]) -> str:
    return hashlib.sha256(json.dumps(list(texts), ensure_ascii=False).encode()).hexdigest()


@dataclass
class CacheStats:
    hits: int = 0
    misses: int = 0
    images_encoded: int = 0
    texts_encoded: int = 0


class EmbeddingCache:
    def __init__(self, root: Path):
        self.root = Path(root)
        self.stats = CacheStats()

    def get(self, kind: str, fields: dict[str, Any], rows: int,
            compute: Callable[[int, int, Callable[[int], None]], np.ndarray], *, chunk_rows: int, desc: str,
            progress: bool = True) -> np.ndarray:
        """The cached array for ``fields`` or, on a miss, ``compute(start, stop, advance)`` part by part
        (``chunk_rows`` rows each, resuming after the parts a killed run left), then joined and stored."""
        from tqdm.auto import tqdm

        folder = self.root / kind
        key = cache_key(fields)
        final = folder / f"{key}.npy"
        if final.is_file():
            array = np.load(final, allow_pickle=False)
            if array.shape[0] == rows:
                self.stats.hits += 1
                return array
        folder.mkdir(parents=True, exist_ok=True)
        partial = folder / f"{key}.partial"
        partial.mkdir(exist_ok=True)
        parts, done = self._finished_parts(partial)
        with tqdm(total=rows, initial=done, desc=desc, unit="img" if kind == "images" else "text",
                  disable=not progress, leave=False) as bar:
            for start in range(done, rows, chunk_rows):
                stop = min(rows, start + chunk_rows)
                array = np.ascontiguousarray(compute(start, stop, bar.update), dtype=np.float32)
                if array.shape[0] != stop - start:
                    raise RuntimeError(f"encoder returned {array.shape[0]} rows for {stop - start}")
                part = partial / f"{start:012d}-{stop:012d}.npy"
                save_array_atomic(part, array)
                parts.append(part)
                if kind == "images":
                    self.stats.images_encoded += stop - start
                else:
                    self.stats.texts_encoded += stop - start
        array = np.concatenate([np.load(p, allow_pickle=False) for p in parts]) if parts else \
            np.zeros((0, 0), np.float32)
        save_array_atomic(final, array)
        meta = dict(fields, rows=rows, dim=int(array.shape[1]) if array.ndim == 2 else 0)
        write_json_atomic(folder / f"{key}.json", meta)
        shutil.rmtree(partial, ignore_errors=True)
        self.stats.misses += 1
        return array

    @staticmethod
    def _finished_parts(partial: Path) -> tuple[list[Path], int]:
        """The contiguous run of parts from row 0 that a killed run left; anything else is stale and removed."""
        parts, done = [], 0
        for path in sorted(partial.glob("*.npy")):
            start, _, stop = path.stem.partition("-")
            if int(start) == done:
                parts.append(path)
                done = int(stop)
            else:
                path.unlink()
        return parts, done


class _ImageBatch:
    """DataLoader collate function: a batch ``{"image": [PIL images]}`` -> pixel values through the pinned
    evaluation transform (module level so worker processes can use it)."""

    def __init__(self, transform: ClipEvalTransform):
        self.transform = transform

    def __call__(self, rows):
        import torch

        return torch.from_numpy(np.stack([self.transform(image) for image in rows["image"]]))


class ClipEncoder:
    """A ``CLIPModel`` folder's image and text towers, loaded on first use (a fully cached run never loads it)."""

    def __init__(self, folder: Path, *, device: str, batch_size: int, num_workers: int, precision: str):
        self.folder = Path(folder)
        self.device = device
        self.batch_size = batch_size
        self.num_workers = num_workers
        self.precision = precision
        self.forward_calls = 0
        self._model = None
        self._processor = None
        self._transform = None
        if precision == "fp16" and not device.startswith("cuda"):
            raise OptionError("precision fp16 needs a CUDA device; use fp32 or bf16 on CPU")

    @property
    def processor(self):
        if self._processor is None:
            from transformers import CLIPProcessor

            self._processor = CLIPProcessor.from_pretrained(str(self.folder))
        return self._processor

    @property
    def model(self):
        if self._model is None:
            from transformers import CLIPModel

            self._model = CLIPModel.from_pretrained(str(self.folder)).eval().to(self.device)
        return self._model

    def _json(self, name: str) -> dict:
        path = self.folder / name
        return json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}

    def image_transform(self, fit: str = "center_crop", fill: int = 0) -> ClipEvalTransform:
        """The pinned evaluation transform with the folder's sizes and statistics (never a transformers image
        processor: which one transformers picks depends on whether torchvision is installed)."""
        if self._transform is None:
            self._transform = ClipEvalTransform.from_model_folder(self.folder)
        return self._transform.with_fit(fit, fill)

    def text_preprocessing(self) -> dict[str, Any]:
        return {"max_length": self.max_text_length(), "padding": "longest", "truncation": True}

    def max_text_length(self) -> int:
        positions = self._json("config.json").get("text_config", {}).get("max_position_embeddings", 77)
        tokenizer_limit = self._json("tokenizer_config.json").get("model_max_length") or positions
        return int(min(positions, tokenizer_limit))

    def _autocast(self):
        import contextlib

        import torch

        if self.precision == "fp32":
            return contextlib.nullcontext()
        dtype = torch.bfloat16 if self.precision == "bf16" else torch.float16
        return torch.autocast(device_type="cuda" if self.device.startswith("cuda") else "cpu", dtype=dtype)

    def encode_images(self, dataset, start: int, stop: int, advance: Callable[[int], None], *,
                      transform: ClipEvalTransform | None = None) -> np.ndarray:
        import torch
        from torch.utils.data import BatchSampler, DataLoader, SequentialSampler

        rows = dataset.select(range(start, stop)).select_columns(["image"])
        # whole batches of indices per fetch: datasets reads and decodes a batch in one call, not row by row
        batches = BatchSampler(SequentialSampler(range(rows.num_rows)), self.batch_size, drop_last=False)
        loader = DataLoader(rows, sampler=batches, batch_size=None, num_workers=self.num_workers,
                            collate_fn=_ImageBatch(transform or self.image_transform()))
        chunks = []
        with torch.inference_mode(), self._autocast():
            for pixels in loader:
                features = self.model.get_image_features(pixel_values=pixels.to(self.device))
                features = getattr(features, "pooler_output", features)  # transformers 5 returns an output object
                chunks.append(features.float().cpu().numpy())
                self.forward_calls += 1
                advance(len(pixels))
        return np.concatenate(chunks)

    def encode_texts(self, texts: Sequence[str], start: int, stop: int, advance: Callable[[int], None]) \
            -> np.ndarray:
        import torch

        tokenizer, length = self.processor.tokenizer, self.max_text_length()
        chunks = []
        with torch.inference_mode(), self._autocast():
            for begin in range(start, stop, self.batch_size):
                batch = list(texts[begin:min(stop, begin + self.batch_size)])
                tokens = tokenizer(batch, padding=True, truncation=True, max_length=length, return_tensors="pt")
                features = self.model.get_text_features(input_ids=tokens["input_ids"].to(self.device),
                                                        attention_mask=tokens["attention_mask"].to(self.device))
                features = getattr(features, "pooler_output", features)
                chunks.append(features.float().cpu().numpy())
                self.forward_calls += 1
                advance(len(batch))
        return np.concatenate(chunks)
