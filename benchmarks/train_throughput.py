"""Training throughput of ``rsmodel train`` against baselines on the same model, batch and data.

Data: a synthetic captioned set (``rsdata.demo.run_demo``: drawn DOTA-style shapes, five captions per image) of
``--images`` JPEG/PNG images of ``--image-px`` pixels, cached in the work folder; every run reads it through
rsmodel's sample stream (same samples, same augmentation and caption draws for every variant).

``--part cpu`` (default; any machine): a small ViT CLIP (vision 192 wide x 4 layers at 64 px / patch 8, text
128 x 4), batch 32, fp32, compared with a bare PyTorch loop doing the same work: DataLoader over the same stream
and collator, forward, the same global-batch loss, backward, gradient clipping at 1.0, AdamW, cosine schedule,
logit_scale clamp. Target: rsmodel / bare >= 0.9.

``--part gpu`` (needs CUDA; prints why and exits with status 2 without it): ViT-B/32 at 224 px (QuickGELU, as
OpenAI's), batch 256, bf16 autocast, against open_clip's own training loop (``open_clip_train.train
.train_one_epoch``, its ``ClipLoss`` and cosine schedule, the same architecture from
``open_clip.create_model("ViT-B-32-quickgelu", precision="amp_bf16")``) fed the same stream (normalised on the CPU
and tokenised to 77 tokens by open_clip's tokenizer, as open_clip does). Target: rsmodel / open_clip >= 0.95.
It also times rsmodel's data pipeline alone (same workers, no model) and checks that it delivers at least 1.5x
the samples per second that the GPU consumes. Install on the GPU machine: ``pip install -e '.[model]'`` and
``pip install --no-deps open_clip_torch ftfy regex`` (torchvision must be there for open_clip's import).

Throughput is measured in steady state: the first ``--warmup-steps`` steps (worker start-up, allocator warm-up)
are excluded; GPU timings are taken after ``torch.cuda.synchronize()``. Variants alternate ``--repeats`` times
and the best run of each counts, so that a slow spell of a shared machine does not fall on one side only.

    python benchmarks/train_throughput.py --part cpu
    python benchmarks/train_throughput.py --part gpu --workers 12
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rsmodel.data import (  # noqa: E402
    ContrastiveCollator,
    CropFlipRotate,
    PixelNormalizer,
    TrainingStream,
    open_sources,
)
from rsmodel.loss import clip_contrastive_loss  # noqa: E402
from rsmodel.train_recipe import MAX_LOGIT_SCALE, AugmentationSpec, DataSource, DataSpec  # noqa: E402

CPU_MODEL = {"projection_dim": 128,
             "text_config": dict(hidden_size=128, intermediate_size=512, num_hidden_layers=4, num_attention_heads=4,
                                 max_position_embeddings=77, vocab_size=49408),
             "vision_config": dict(hidden_size=192, intermediate_size=768, num_hidden_layers=4, num_attention_heads=3,
                                   image_size=64, patch_size=8)}
# OpenAI's ViT-B/32 (the numbers of rsmodel.convert.BUILTIN_ARCHS["ViT-B-32"]), QuickGELU.
GPU_MODEL = {"projection_dim": 512,
             "text_config": dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=8,
                                 max_position_embeddings=77, vocab_size=49408, hidden_act="quick_gelu",
                                 layer_norm_eps=1e-5),
             "vision_config": dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                   num_attention_heads=12, image_size=224, patch_size=32, hidden_act="quick_gelu",
                                   layer_norm_eps=1e-5)}
OPTIMIZER = dict(learning_rate=4e-5, weight_decay=0.2, adam_beta1=0.9, adam_beta2=0.98, adam_epsilon=1e-6,
                 max_grad_norm=1.0)


PART_DEFAULTS = {"gpu": dict(images=2048, image_px=512, batch=256, steps=100, warmup_steps=20, workers=12),
                 "cpu": dict(images=64, image_px=256, batch=32, steps=12, warmup_steps=3, workers=0)}
#: What the GPU part imports beyond rsclip's own requirements, with where it comes from.
GPU_MODULES = {"open_clip": "pip install --no-deps open_clip_torch ftfy regex",
               "open_clip_train.train": "pip install --no-deps open_clip_torch ftfy regex",
               "torchvision": "torchvision (CUDA build, matching torch; open_clip imports it)",
               "datasets": "pip install -e '.[model]'", "transformers": "pip install -e '.[model]'"}


def parse_args(argv=None) -> argparse.Namespace:
    """The arguments, with every size the user left out set to the part's default (:data:`PART_DEFAULTS`)."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--work-dir", type=Path, default=Path(tempfile.gettempdir()) / "rsmodel-bench-train")
    parser.add_argument("--images", type=int, default=None, help="images in the data set (cpu 64, gpu 2048)")
    parser.add_argument("--image-px", type=int, default=None, help="their size in pixels (cpu 256, gpu 512)")
    parser.add_argument("--batch", type=int, default=None, help="global batch (cpu 32, gpu 256)")
    parser.add_argument("--steps", type=int, default=None, help="timed steps (cpu 12, gpu 100)")
    parser.add_argument("--warmup-steps", type=int, default=None, help="untimed first steps (cpu 3, gpu 20)")
    parser.add_argument("--workers", type=int, default=None, help="DataLoader workers (cpu 0, gpu 12)")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args(argv)
    for key, value in PART_DEFAULTS[args.part].items():
        if getattr(args, key) is None:
            setattr(args, key, value)
    for key in ("images", "image_px", "batch", "steps", "repeats"):
        if getattr(args, key) < 1:
            parser.error(f"--{key.replace('_', '-')} must be at least 1")
    return args


def gpu_preflight() -> str | None:
    """Why the GPU part cannot run here (no CUDA, a missing package), or None; checked before any work starts."""
    if not torch.cuda.is_available():
        return (f"the GPU part needs CUDA, and torch.cuda.is_available() is False on this machine (torch "
                f"{torch.__version__}, CUDA build {torch.version.cuda or 'none'}); run it on a machine with an NVIDIA "
                "GPU, or run --part cpu here")
    import importlib

    for module, hint in GPU_MODULES.items():
        try:
            importlib.import_module(module)
        except Exception as error:  # noqa: BLE001 - any import failure (missing, or a broken build) stops the part
            return f"the GPU part needs {module}, which does not import here ({error}); install: {hint}"
    return None


def main(argv=None) -> int:
    started = time.perf_counter()
    args = parse_args(argv)
    gpu = args.part == "gpu"
    if gpu:
        problem = gpu_preflight()
        if problem:
            print(problem, file=sys.stderr)
            return 2
        import transformers

        print(f"{torch.cuda.get_device_name()}; torch {torch.__version__} (CUDA {torch.version.cuda}), transformers "
              f"{transformers.__version__}, {os.cpu_count()} CPUs", flush=True)
    torch.manual_seed(0)
    dataset_dir = make_dataset(args.work_dir, args.images, args.image_px)
    model_config = GPU_MODEL if gpu else CPU_MODEL
    print(f"{args.part}: {args.images} images of {args.image_px} px (ready after {time.perf_counter() - started:.0f} s)"
          f"; model vision {model_config['vision_config']}; batch {args.batch}; {args.warmup_steps} + {args.steps} "
          f"steps; {args.workers} workers", flush=True)

    variants = {"rsmodel": run_rsmodel, ("open_clip" if gpu else "bare"): run_open_clip if gpu else run_bare}
    best: dict[str, float] = {}
    for repeat in range(args.repeats):
        for name, run in variants.items():
            rate = run(dataset_dir, model_config, args, gpu)
            best[name] = max(best.get(name, 0.0), rate)
            print(f"  repeat {repeat + 1}: {name:<9} {rate:8.1f} images/s ({time.perf_counter() - started:.0f} s "
                  "so far)", flush=True)
    baseline = "open_clip" if gpu else "bare"
    ratio = best["rsmodel"] / best[baseline]
    target = 0.95 if gpu else 0.9
    print(f"rsmodel {best['rsmodel']:.1f} images/s, {baseline} {best[baseline]:.1f} images/s: ratio {ratio:.3f} "
          f"(target >= {target}: {'met' if ratio >= target else 'NOT met'})")
    if gpu:
        supply = run_data_pipeline(dataset_dir, model_config, args)
        headroom = supply / best["rsmodel"]
        print(f"data pipeline alone {supply:.1f} images/s = {headroom:.2f}x what the GPU consumes (target >= 1.5: "
              f"{'met' if headroom >= 1.5 else 'NOT met'})")
    print(f"done in {time.perf_counter() - started:.0f} s")
    return 0


# ---------------------------------------------------------------------------------------------------------- data

def make_dataset(work_dir: Path, images: int, image_px: int) -> Path:
    """The synthetic demo set with ``images`` images of ``image_px`` pixels, generated once per size."""
    from rsdata.build import ConvertOptions, convert
    from rsdata.synthetic import write_synthetic_dota

    folder = work_dir / f"data-{images}-{image_px}"
    dataset = folder / "dataset"
    if (dataset / "README.md").is_file():
        return dataset
    import shutil

    shutil.rmtree(folder, ignore_errors=True)
    write_synthetic_dota(folder / "source", num_images=images, image_size=image_px, splits={"train": 1.0}, seed=0)
    # The output is byte-identical whatever num_proc is; a GPU node has the cores to build it quickly.
    num_proc = max(1, min(8, os.cpu_count() or 1))
    convert("dota", folder / "source", dataset, ConvertOptions(seed=0, num_proc=num_proc, progress=False))
    return dataset


def make_stream(dataset_dir: Path, image_size: int, samples: int, cache_dir: Path) -> TrainingStream:
    spec = DataSpec(sources=(DataSource(str(dataset_dir)),), cache_dir=str(cache_dir))
    return TrainingStream(open_sources(spec), length=samples, augment=CropFlipRotate(image_size, AugmentationSpec()),
                          image_column="image", caption_column="captions", data_seed=0)


def tokenizer():
    from rsmodel.convert import load_tokenizer

    return load_tokenizer(None)


# -------------------------------------------------------------------------------------------------- the variants

def run_rsmodel(dataset_dir: Path, model_config: dict, args, gpu: bool) -> float:
    import shutil

    from transformers import TrainerCallback

    from rsmodel.training import train
    from rsmodel.train_recipe import recipe_from_dict

    run_dir = args.work_dir / "run-rsmodel"
    shutil.rmtree(run_dir, ignore_errors=True)
    total = args.warmup_steps + args.steps
    training = dict(output_dir=str(run_dir), max_steps=total, lr_scheduler_type="cosine", warmup_steps=2,
                    optim="adamw_torch_fused" if gpu else "adamw_torch", seed=0, save_strategy="no",
                    logging_steps=10 ** 6, report_to="none", dataloader_num_workers=args.workers,
                    ddp_find_unused_parameters=False, logging_nan_inf_filter=False, **OPTIMIZER)
    if gpu:
        training.update(bf16=True, dataloader_pin_memory=True, dataloader_persistent_workers=True,
                        dataloader_prefetch_factor=4, accelerator_config={"non_blocking": True})
    else:
        training.update(use_cpu=True, dataloader_pin_memory=False)
    recipe = recipe_from_dict({
        "name": "throughput", "model": {"config": model_config},
        "data": {"path": str(dataset_dir), "cache_dir": str(args.work_dir / "cache")},
        "global_batch_size": args.batch, "training": training})

    class Clock(TrainerCallback):
        start = end = None

        def on_step_end(self, train_args, state, control, **kwargs):
            if state.global_step in (args.warmup_steps, total):
                if gpu:
                    torch.cuda.synchronize()
                if state.global_step == args.warmup_steps:
                    self.start = time.perf_counter()
                else:
                    self.end = time.perf_counter()

    clock = Clock()
    train(recipe, callbacks=[clock], progress=False)
    return args.steps * args.batch / (clock.end - clock.start)


def _decay_groups(model, no_decay):
    decay = [p for n, p in model.named_parameters() if not no_decay(n, p)]
    rest = [p for n, p in model.named_parameters() if no_decay(n, p)]
    return [{"params": decay, "weight_decay": OPTIMIZER["weight_decay"]}, {"params": rest, "weight_decay": 0.0}]


def run_bare(dataset_dir: Path, model_config: dict, args, gpu: bool) -> float:
    """The same work as rsmodel's step, written as a plain PyTorch loop (CPU part)."""
    from transformers import CLIPConfig, CLIPModel, get_cosine_schedule_with_warmup

    from rsmodel.modeling import clip_image_processor

    total = args.warmup_steps + args.steps
    torch.manual_seed(0)
    model = CLIPModel(CLIPConfig(**model_config)).train()
    processor = clip_image_processor(model_config["vision_config"]["image_size"])
    normalizer = PixelNormalizer(processor.image_mean, processor.image_std)
    stream = make_stream(dataset_dir, model_config["vision_config"]["image_size"], total * args.batch,
                         args.work_dir / "cache")
    loader = torch.utils.data.DataLoader(stream, batch_size=args.batch, sampler=torch.utils.data.SequentialSampler(
        stream), collate_fn=ContrastiveCollator(tokenizer()), num_workers=args.workers)
    optimizer = torch.optim.AdamW(_decay_groups(model, lambda n, p: p.ndim < 2 or "logit_scale" in n),
                                  lr=OPTIMIZER["learning_rate"], betas=(OPTIMIZER["adam_beta1"],
                                                                        OPTIMIZER["adam_beta2"]),
                                  eps=OPTIMIZER["adam_epsilon"])
    scheduler = get_cosine_schedule_with_warmup(optimizer, 2, total)
    start = None
    for step, batch in enumerate(loader):
        if step == args.warmup_steps:
            start = time.perf_counter()
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                    pixel_values=normalizer(batch["pixel_values"]))
        loss = clip_contrastive_loss(out.image_embeds, out.text_embeds, model.logit_scale)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), OPTIMIZER["max_grad_norm"])
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():
            model.logit_scale.clamp_(max=MAX_LOGIT_SCALE)
    return args.steps * args.batch / (time.perf_counter() - start)


def run_open_clip(dataset_dir: Path, model_config: dict, args, gpu: bool) -> float:
    """open_clip's own training loop on the same architecture and samples (GPU part)."""
    import open_clip
    from open_clip_train.scheduler import cosine_lr
    from open_clip_train.train import train_one_epoch

    total = args.warmup_steps + args.steps
    torch.manual_seed(0)
    model = open_clip.create_model("ViT-B-32-quickgelu", precision="amp_bf16", device="cuda",
                                   output_dict=True)  # open_clip_train's main builds it so
    mean, std = model.visual.image_mean, model.visual.image_std
    normalizer = PixelNormalizer(mean or (0.48145466, 0.4578275, 0.40821073), std or (0.26862954, 0.26130258,
                                                                                          0.27577711))
    tokenize = open_clip.get_tokenizer("ViT-B-32-quickgelu")

    def collate(examples):  # open_clip's way: float images normalised on the CPU, 77-token contexts
        pixels = torch.from_numpy(__import__("numpy").stack([e["pixels"] for e in examples]))
        return normalizer(pixels), tokenize([e["caption"] for e in examples])

    stream = make_stream(dataset_dir, 224, total * args.batch, args.work_dir / "cache")
    loader = torch.utils.data.DataLoader(stream, batch_size=args.batch, sampler=torch.utils.data.SequentialSampler(
        stream), collate_fn=collate, num_workers=args.workers, pin_memory=True, persistent_workers=args.workers > 0,
        prefetch_factor=4 if args.workers else None)
    clock = SimpleNamespace(start=None)

    class TimedLoader:
        num_batches = total
        num_samples = total * args.batch

        def __iter__(self):
            for index, batch in enumerate(loader):
                if index == args.warmup_steps:
                    torch.cuda.synchronize()
                    clock.start = time.perf_counter()
                yield batch

    class Data:
        dataloader = TimedLoader()

        def set_epoch(self, epoch):
            pass

    exclude = lambda n, p: p.ndim < 2 or "bn" in n or "ln" in n or "bias" in n or "logit_scale" in n  # noqa: E731
    optimizer = torch.optim.AdamW(_decay_groups(model, exclude), lr=OPTIMIZER["learning_rate"],
                                  betas=(OPTIMIZER["adam_beta1"], OPTIMIZER["adam_beta2"]),
                                  eps=OPTIMIZER["adam_epsilon"])
    scheduler = cosine_lr(optimizer, OPTIMIZER["learning_rate"], 2, total)
    loop_args = SimpleNamespace(device="cuda", precision="amp_bf16", distill=False, accum_freq=1,
                                skip_scheduler=False, horovod=False, grad_clip_norm=OPTIMIZER["max_grad_norm"],
                                log_every_n_steps=10 ** 9, batch_size=args.batch, world_size=1, rank=0,
                                local_rank=0, wandb=False, save_logs=False)
    train_one_epoch(model, {"train": Data()}, open_clip.ClipLoss(), 0, optimizer, None, scheduler, None, loop_args)
    torch.cuda.synchronize()
    return args.steps * args.batch / (time.perf_counter() - clock.start)


def run_data_pipeline(dataset_dir: Path, model_config: dict, args) -> float:
    """rsmodel's DataLoader alone (stream, augmentation, collator, pinned memory): images per second."""
    total = args.warmup_steps + args.steps
    stream = make_stream(dataset_dir, model_config["vision_config"]["image_size"], total * args.batch,
                         args.work_dir / "cache")
    loader = torch.utils.data.DataLoader(stream, batch_size=args.batch, sampler=torch.utils.data.SequentialSampler(
        stream), collate_fn=ContrastiveCollator(tokenizer()), num_workers=args.workers, pin_memory=True,
        prefetch_factor=4 if args.workers else None)
    start = None
    for index, _ in enumerate(loader):
        if index == args.warmup_steps:
            start = time.perf_counter()
    return args.steps * args.batch / (time.perf_counter() - start)


if __name__ == "__main__":
    sys.exit(main())
