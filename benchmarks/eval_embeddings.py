"""Embedding throughput and cache payoff of `rsmodel eval`, against a bare transformers loop in the same run.

It builds a small CLIP ViT (random weights; --image-size, --patch-size, --width, --layers) and a classification
set of --images generated PNGs (--source-size px) in the rsdata layout (contract 1), then measures, each
--repeats times (interleaved, keeping the fastest):

- bare:      ``datasets.load_dataset`` + ``CLIPProcessor`` + ``CLIPModel.get_image_features`` in batches of
             --batch-size, no cache (the floor any evaluation pays);
- rsmodel:   the image embeddings of the same split through rsmodel's encoder and an empty embedding cache
             (DataLoader with --num-workers, resumable parts, atomic writes);
- cached:    the same call again with the cache filled (what every later task and run pays);

and a whole ``rsmodel eval`` of zero-shot, k-NN and linear probe (10 epochs) run twice on one cache (cold, warm).
Prints images/s and the ratios the project targets: rsmodel at least 0.9x the bare loop, and a warm run many
times faster than a cold one.

    python benchmarks/eval_embeddings.py [--images 512] [--num-workers 2] [--device cuda]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def make_model(folder: Path, image_size: int, patch_size: int, width: int, layers: int) -> Path:
    import torch
    from transformers import CLIPConfig, CLIPModel

    from tests.eval.tiny import tiny_processor

    torch.manual_seed(0)
    text = dict(vocab_size=514, hidden_size=width, intermediate_size=4 * width, num_hidden_layers=layers,
                num_attention_heads=width // 32, max_position_embeddings=77, bos_token_id=512, eos_token_id=513,
                pad_token_id=513, projection_dim=width)
    vision = dict(hidden_size=width, intermediate_size=4 * width, num_hidden_layers=layers,
                  num_attention_heads=width // 32, image_size=image_size, patch_size=patch_size, projection_dim=width)
    CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=width)).save_pretrained(folder)
    tiny_processor(image_size).save_pretrained(folder)
    return folder


def make_dataset(folder: Path, images: int, source_size: int) -> Path:
    from tests.eval.tiny import write_classification_set

    per_class = max(1, images // 3)
    return write_classification_set(folder, train_per_class=per_class, test_per_class=max(1, per_class // 4),
                                    image_size=source_size)


def bare_loop(model_dir: Path, data: Path, batch_size: int, device: str) -> int:
    import datasets
    import torch
    from transformers import CLIPModel, CLIPProcessor

    model = CLIPModel.from_pretrained(model_dir).eval().to(device)
    processor = CLIPProcessor.from_pretrained(model_dir)
    rows = datasets.load_dataset(str(data), split="train")
    with torch.inference_mode():
        for start in range(0, rows.num_rows, batch_size):
            batch = rows[start:start + batch_size]["image"]
            pixels = processor(images=[image.convert("RGB") for image in batch], return_tensors="pt")["pixel_values"]
            model.get_image_features(pixel_values=pixels.to(device))
    return rows.num_rows


def rsmodel_embeddings(model_dir: Path, data: Path, cache: Path, batch_size: int, workers: int, device: str) -> int:
    from rsmodel.eval.embeddings import ClipEncoder, EmbeddingCache
    from rsmodel.eval.runner import DatasetInputs
    from rsmodel.eval.sources import ContentDigests, resolve_dataset, resolve_model
    from rsmodel.eval.suite import DatasetSource, InferenceSettings, SuiteDataset

    digests = ContentDigests(cache / "digests.json")
    handle = resolve_model(str(model_dir), None, digests)
    entry = SuiteDataset(name="bench", title="bench", kind="classification", tasks=("knn",),
                         source=DatasetSource(path=str(data)), splits={"train": "train", "test": "test"})
    inference = InferenceSettings(batch_size=batch_size, num_workers=workers)
    encoder = ClipEncoder(handle.path, device=device, batch_size=batch_size, num_workers=workers,
                          precision="fp32")
    inputs = DatasetInputs(resolve_dataset(entry, Path(".")), handle=handle, encoder=encoder,
                           cache=EmbeddingCache(cache), digests=digests, inference=inference, seed=0,
                           device=device, progress=False)
    return len(inputs.image_embeddings("train"))


def timed(function, *args) -> tuple[float, int]:
    began = time.perf_counter()
    rows = function(*args)
    return time.perf_counter() - began, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--image-size", type=int, default=224, help="model input size")
    parser.add_argument("--patch-size", type=int, default=32)
    parser.add_argument("--source-size", type=int, default=256, help="side of the generated PNGs")
    parser.add_argument("--width", type=int, default=128)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--num-workers", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    import shutil

    import datasets
    import torch

    from rsmodel.cli import main as rsmodel

    work = Path(tempfile.mkdtemp(prefix="rsmodel-bench-eval-"))
    datasets.config.HF_DATASETS_CACHE = str(work / "hf-datasets")  # never the user's cache
    try:
        model = make_model(work / "model", args.image_size, args.patch_size, args.width, args.layers)
        data = make_dataset(work / "data" / "aid", args.images, args.source_size)
        print(f"{3 * max(1, args.images // 3)} train images of {args.source_size} px, ViT {args.width} x "
              f"{args.layers} layers at {args.image_size}/{args.patch_size} px, batch "
              f"{args.batch_size}, {args.num_workers} workers, {args.device}, torch {torch.__version__} with "
              f"{torch.get_num_threads()} threads", flush=True)
        bare_loop(model, data, args.batch_size, args.device)  # warm-up: imports, dataset arrow cache
        best = {"bare": float("inf"), "rsmodel": float("inf"), "cached": float("inf")}
        for repeat in range(args.repeats):
            seconds, rows = timed(bare_loop, model, data, args.batch_size, args.device)
            best["bare"] = min(best["bare"], seconds)
            cache = work / f"cache-{repeat}"
            seconds, _ = timed(rsmodel_embeddings, model, data, cache, args.batch_size, args.num_workers,
                               args.device)
            best["rsmodel"] = min(best["rsmodel"], seconds)
            seconds, _ = timed(rsmodel_embeddings, model, data, cache, args.batch_size, args.num_workers,
                               args.device)
            best["cached"] = min(best["cached"], seconds)
        for name, seconds in best.items():
            print(f"  {name:<8} {seconds:7.2f} s  {rows / seconds:9.1f} images/s")
        print(f"ratio rsmodel / bare throughput: {best['bare'] / best['rsmodel']:.2f} (target >= 0.9)")
        print(f"cached call / computing call: {best['cached'] / best['rsmodel']:.3f} of the time")

        common = ["eval", str(model), "--suite", str(Path(__file__).resolve().parents[1] / "recipes" / "eval" /
                                                       "remoteclip.yaml"), "--data-root", str(work / "data"),
                  "--datasets", "aid", "--tasks", "zero_shot,knn,linear_probe", "--cache-dir", str(work / "eval-cache"),
                  "--no-progress", "-o", "linear_probe.epochs=10", "-o", f"inference.batch_size={args.batch_size}",
                  "-o", f"inference.num_workers={args.num_workers}", "--device", args.device]
        runs = []
        for label in ("cold", "warm"):
            began = time.perf_counter()
            assert rsmodel(common + ["--output", str(work / f"out-{label}")]) == 0
            runs.append(time.perf_counter() - began)
        print(f"rsmodel eval zero_shot+knn+linear_probe: cold {runs[0]:.2f} s, warm {runs[1]:.2f} s, "
              f"ratio warm / cold {runs[1] / runs[0]:.3f}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
