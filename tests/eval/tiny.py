"""Seeded generators for the evaluation tests: a tiny CLIPModel folder and small evaluation sets in the layout of
contract 1 (Parquet shards ``data/<split>-00000-of-00001.parquet`` carrying their ``datasets`` features, so that
``datasets.load_dataset(folder)`` reads ClassLabel, Image and list columns back with their types).

The tokenizer is a byte-level CLIP tokenizer without merges (the 512 byte symbols of CLIP's BPE alphabet plus
``<|startoftext|>`` 512 and ``<|endoftext|>`` 513): real CLIP tokenisation rules, no vocabulary file needed.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np

NUMBER_WORDS = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
CLASS_FOLDERS = ("Airport", "StorageTanks", "dense_residential")
CLASS_NAMES = ("airport", "storage tanks", "dense residential")


def tiny_tokenizer():
    from transformers import CLIPTokenizer

    from rsmodel.convert import bytes_to_unicode

    units = list(bytes_to_unicode().values())
    tokens = units + [unit + "</w>" for unit in units] + ["<|startoftext|>", "<|endoftext|>"]
    return CLIPTokenizer(vocab={token: i for i, token in enumerate(tokens)}, merges=[], model_max_length=77)


def tiny_processor(image_size: int = 32):
    from transformers import CLIPImageProcessor, CLIPProcessor

    image = CLIPImageProcessor(size={"shortest_edge": image_size},
                               crop_size={"height": image_size, "width": image_size})
    return CLIPProcessor(image_processor=image, tokenizer=tiny_tokenizer())


def tiny_config(image_size: int = 32):
    from transformers import CLIPConfig

    text = dict(vocab_size=514, hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                max_position_embeddings=77, bos_token_id=512, eos_token_id=513, pad_token_id=513,
                projection_dim=16)
    vision = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
                  image_size=image_size, patch_size=16, projection_dim=16)
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)


def write_tiny_model(folder: Path, seed: int = 0) -> Path:
    """A randomly initialised tiny CLIPModel (seeded) with its processor, saved as ``save_pretrained`` does."""
    import torch
    from transformers import CLIPModel

    torch.manual_seed(seed)
    model = CLIPModel(tiny_config()).eval()
    model.save_pretrained(folder, safe_serialization=True)
    tiny_processor().save_pretrained(folder)
    return Path(folder)


def write_run_dir(folder: Path, seed: int = 0) -> Path:
    """A training run folder as rsmodel train leaves it: the tiny model, its processor and ``rsmodel_train.json``."""
    write_tiny_model(folder, seed)
    record = {
        "format": "rsmodel-train/1", "status": "complete", "seed": seed, "data_seed": seed, "world_size": 1,
        "model_source": {"name_or_path": "openai/clip-vit-base-patch32", "revision": "main",
                         "commit": "3d74acf9a28c67741b2f4f2ea7635f0aaf6f0268"},
        "data_sources": [{"path": "user/remoteclip-corpus", "split": "train", "revision": "v1", "weight": 1.0,
                          "commit": "0123456789abcdef0123456789abcdef01234567", "rows": 828725}],
        "recipe": {"name": "remoteclip-vit-b-32", "training": {"learning_rate": 4e-5, "max_steps": 108215}},
        "training_arguments": {"learning_rate": 4e-5, "per_device_train_batch_size": 256, "max_steps": 108215,
                               "lr_scheduler_type": "cosine", "bf16": True, "seed": seed},
        "result": {"global_step": 108215, "train_loss": 1.23, "final_loss": 0.98, "logit_scale": 100.0},
    }
    (Path(folder) / "rsmodel_train.json").write_text(json.dumps(record, indent=2))
    return Path(folder)


def image_png(color: tuple[int, int, int], seed: int, size: int = 40) -> bytes:
    """A small PNG: a coloured field with a seeded square on it (so images of one class differ)."""
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    image = Image.new("RGB", (size, size + 8), color)
    x, y = (int(v) for v in rng.integers(0, size // 2, 2))
    ImageDraw.Draw(image).rectangle((x, y, x + size // 3, y + size // 3),
                                    fill=tuple(int(v) for v in rng.integers(0, 256, 3)))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _write(folder: Path, splits: dict[str, dict], features) -> Path:
    from datasets import Dataset

    (folder / "data").mkdir(parents=True, exist_ok=True)
    for split, columns in splits.items():
        Dataset.from_dict(columns, features=features).to_parquet(
            str(folder / "data" / f"{split}-00000-of-00001.parquet"))
    return folder


def write_classification_set(folder: Path, *, train_per_class: int = 6, test_per_class: int = 3,
                             seed: int = 0, image_size: int = 40) -> Path:
    """Three classes (folders Airport, StorageTanks, dense_residential), splits train and test."""
    from datasets import ClassLabel, Features, Image, Value

    features = Features({"image": Image(), "label": ClassLabel(names=sorted(CLASS_FOLDERS)),
                         "class_name": Value("string"), "source_id": Value("string")})
    names = sorted(CLASS_FOLDERS)
    colours = {"Airport": (200, 200, 200), "StorageTanks": (30, 60, 200), "dense_residential": (150, 80, 40)}
    splits = {}
    for offset, (split, count) in enumerate((("train", train_per_class), ("test", test_per_class))):
        columns = {"image": [], "label": [], "class_name": [], "source_id": []}
        for folder_name in names:
            for index in range(count):
                stem = f"{folder_name}/{split}_{index:03d}.png"
                image_seed = seed + 1000 * offset + len(columns["label"])
                columns["image"].append({"bytes": image_png(colours[folder_name], image_seed, image_size),
                                         "path": stem})
                columns["label"].append(names.index(folder_name))
                columns["class_name"].append(CLASS_NAMES[CLASS_FOLDERS.index(folder_name)])
                columns["source_id"].append(stem)
        splits[split] = columns
    return _write(folder, splits, features)


def write_retrieval_set(folder: Path, *, images: int = 6, seed: int = 0) -> Path:
    """``images`` test images with 5 captions each (one image has two rows with the same file name, whose
    captions together are its five)."""
    from datasets import Features, Image, List, Value

    features = Features({"image": Image(), "captions": List(Value("string")), "source_id": Value("string")})
    columns = {"image": [], "captions": [], "source_id": []}
    things = ("planes", "ships", "tanks", "houses", "trees", "roads", "cars", "fields")
    for index in range(images):
        name = f"img_{index:03d}.jpg"
        captions = [f"{things[index % len(things)]} number {index} view {k}" for k in range(5)]
        png = image_png((20 * index, 100, 200 - 20 * index), seed + index)
        if index == 1:  # the same image twice, captions split over the rows
            columns["image"] += [{"bytes": png, "path": name}] * 2
            columns["captions"] += [captions[:2], captions[2:]]
            columns["source_id"] += [name, name]
        else:
            columns["image"].append({"bytes": png, "path": name})
            columns["captions"].append(captions)
            columns["source_id"].append(name)
    return _write(folder, {"test": columns}, features)


def counting_candidates(category: str, plural: str, count: int) -> tuple[str, list[str], list[str]]:
    def caption(number: str, n: int) -> str:
        return f"There {'is' if n == 1 else 'are'} {number} {category if n == 1 else plural} in the picture."

    words = [caption(NUMBER_WORDS[n - 1], n) for n in range(1, 11)]
    digits = [caption(str(n), n) for n in range(1, 11)]
    return words[count - 1], words, digits


def write_counting_set(folder: Path, *, rows: int = 12, seed: int = 0) -> Path:
    """A RemoteCount-style set: split ``validation``, counts 1..10, two categories."""
    from datasets import Features, Image, List, Value

    features = Features({"image": Image(), "captions": List(Value("string")), "count": Value("int32"),
                         "count_category": Value("string"), "count_candidates": List(Value("string")),
                         "count_candidates_digits": List(Value("string"))})
    columns = {name: [] for name in features}
    for index in range(rows):
        count = index % 10 + 1
        category, plural = ("plane", "planes") if index % 2 else ("tennis court", "tennis courts")
        true, words, digits = counting_candidates(category, plural, count)
        columns["image"].append({"bytes": image_png((10 * count, 120, 90), seed + index), "path": f"P{index}.png"})
        columns["captions"].append([true])
        columns["count"].append(count)
        columns["count_category"].append(category)
        columns["count_candidates"].append(words)
        columns["count_candidates_digits"].append(digits)
    return _write(folder, {"validation": columns}, features)
