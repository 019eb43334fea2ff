"""``rsmodel train``: the only place a ``Trainer`` is built.

:func:`train` runs a :class:`~rsmodel.train_recipe.TrainRecipe` on one process or under ``torchrun`` (one process
per GPU, DistributedDataParallel): the model of :mod:`rsmodel.modeling`, the sample stream, augmentation and
collator of :mod:`rsmodel.data`, and :class:`ContrastiveTrainer`, a ``Trainer`` whose loss is the symmetric
InfoNCE over the *global* batch (:mod:`rsmodel.loss`: features gathered across processes with their gradients,
``logit_scale`` clamped at ln(100)). ``transformers``' own ``CLIPModel(return_loss=True)`` under ``Trainer`` would
use only each GPU's local batch as negatives (transformers issue 22252) and leave the temperature unbounded.

Run folder (``RUN_DIR`` = ``training.output_dir``)::

    RUN_DIR/rsmodel_train.json         the resolved run (below); written at the start with "status": "running",
                                       rewritten with "status": "complete" and the results at the end
    RUN_DIR/checkpoint-<step>/         Trainer checkpoints (model, optimizer, scheduler, RNG states,
                                       trainer_state.json with the log history, processor files) and
                                       ``rsmodel_checkpoint_complete``, written once every process has saved
    RUN_DIR/config.json                the final model: CLIPModel.from_pretrained(RUN_DIR)
    RUN_DIR/model.safetensors
    RUN_DIR/processor_config.json, tokenizer.json, tokenizer_config.json, ...
                                       the processor: CLIPProcessor.from_pretrained(RUN_DIR)
    RUN_DIR/training_args.bin          the TrainingArguments, as Trainer saves them
    RUN_DIR/trainer_state.json         the final Trainer state with the whole log history

The final model and processor are written into ``RUN_DIR/.rsmodel-final/`` and moved into place file by file
(``os.replace``); ``rsmodel_train.json`` with ``"status": "complete"`` is written last, so a folder whose record
says complete holds a whole model. ``rsmodel_train.json`` (format ``rsmodel-train/1``) holds: ``recipe`` (the
resolved recipe, overrides applied), ``model_source`` (``name_or_path``, ``revision`` and the resolved ``commit``,
or the ``config`` and ``tokenizer`` of a fresh model), ``data_sources`` (path, config, split, revision, weight,
resolved Hub ``commit``, or for a local folder the ``fingerprint`` and number of the data ``files`` read
(:mod:`rsmodel.datafolder`), the ``rows`` of the split as loaded, usable rows, skipped rows by reason), ``seed``,
``data_seed``, ``world_size``, the batch sizes, ``epoch_size`` and ``data_epochs``, ``training_arguments`` (every
TrainingArguments field as resolved), ``versions``, ``started``/``finished`` (UTC), ``resumed_from`` and ``result``
(global_step, train_loss, final_loss, logit_scale, runtime_s, samples_per_second and per device).

Resume: running the same recipe into the same ``RUN_DIR`` again continues from the last checkpoint marked complete
(optimizer, scheduler and RNG states restored; the sample stream is a pure function of the sample number, so the
data order, caption choices and augmentations continue as if never interrupted). A different recipe (other than
logging, checkpointing and data-loader settings) is refused, naming the fields that differ; a complete run is
never overwritten.

Logged every ``logging_steps``: ``loss`` (the global-batch loss, averaged over the steps since the last log),
``logit_scale`` (the multiplier exp(logit_scale), at most 100), ``samples_per_second`` (samples of optimizer steps
since the last log over the wall time), ``samples_per_second_per_device`` (the same over the number of
processes), ``data_epoch`` (samples seen / epoch size), beside Trainer's ``learning_rate`` and ``grad_norm``.

Weight decay applies to parameters with two or more dimensions (weights and embeddings), not to biases, norms,
``class_embedding`` or ``logit_scale`` (open_clip's rule; transformers' default would decay ``logit_scale``).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import torch
from transformers import Trainer, TrainerCallback

from rsmodel.data import (
    ContrastiveCollator,
    CropFlipRotate,
    PixelNormalizer,
    StreamingTrainingStream,
    TrainingStream,
    open_sources,
)
from rsdata.atomic import write_json_atomic, write_text_atomic
from rsmodel.errors import OutputFolderError, TrainRecipeError
from rsmodel.loss import clip_contrastive_loss
from rsmodel.train_recipe import MAX_LOGIT_SCALE, TrainRecipe

RUN_RECORD = "rsmodel_train.json"
RECORD_FORMAT = "rsmodel-train/1"
CHECKPOINT_MARKER = "rsmodel_checkpoint_complete"
FINAL_STAGING = ".rsmodel-final"
# Settings that change how a run is watched, saved or fed, not what it computes: a resumed run may change them.
RESUMABLE_CHANGES = frozenset({
    "training.logging_steps", "training.logging_first_step", "training.logging_strategy", "training.save_steps",
    "training.save_strategy", "training.save_total_limit", "training.dataloader_num_workers",
    "training.dataloader_prefetch_factor", "training.dataloader_persistent_workers", "training.dataloader_pin_memory",
    "training.report_to", "training.disable_tqdm", "training.run_name", "training.logging_dir",
    "training.per_device_train_batch_size", "data.cache_dir", "description", "path", "overrides",
})


@dataclass
class TrainResult:
    """What :func:`train` did."""

    run_dir: Path
    global_step: int
    train_loss: float  # mean loss over the steps this invocation trained
    final_loss: float | None  # the last logged loss
    logit_scale: float  # exp(logit_scale) at the end
    runtime_s: float
    samples_per_second: float
    samples_per_second_per_device: float
    world_size: int
    resumed_from: str | None = None
    skipped: dict[str, int] = field(default_factory=dict)


# ------------------------------------------------------------------------------------------------- the Trainer

class ContrastiveTrainer(Trainer):
    """A ``Trainer`` whose loss is the symmetric InfoNCE over the global batch (see :mod:`rsmodel.loss`).

    Batches hold ``uint8`` ``pixel_values``; they are normalised on the device with ``normalizer``. The training
    sampler is sequential: the order is the sample stream's (:mod:`rsmodel.data`).
    """

    def __init__(self, *args, normalizer: PixelNormalizer, samples_per_step: int, epoch_size: int | None = None,
                 **kwargs):
        super().__init__(*args, **kwargs)
        self.normalizer = normalizer
        self.samples_per_step = samples_per_step
        self.epoch_size = epoch_size
        # The loss is a mean over one batch: Trainer divides it by the accumulation steps itself.
        self.model_accepts_loss_kwargs = False
        self.loss_is_scaled_for_ga = False
        self._throughput_mark: tuple[float, int] | None = None
        self._param_counts: tuple[int, int] | None = None

    def get_resumed_dataloader(self, dataloader, num_batches: int):
        # A stream starts at the resumed sample itself: its rows before it are read but, unlike Trainer's
        # skipping of collated batches, never decoded. num_batches counts this process's loader batches.
        dataset = self.train_dataset
        if isinstance(dataset, StreamingTrainingStream):
            dataset.start_at(num_batches * dataset.block_size)
            return dataloader
        return super().get_resumed_dataloader(dataloader, num_batches)

    def _get_train_sampler(self, train_dataset=None):
        dataset = train_dataset if train_dataset is not None else self.train_dataset
        return torch.utils.data.SequentialSampler(dataset)

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        pixel_values = self.normalizer(inputs["pixel_values"])
        outputs = model(input_ids=inputs["input_ids"], attention_mask=inputs.get("attention_mask"),
                        pixel_values=pixel_values)
        logit_scale = self.accelerator.unwrap_model(model).logit_scale
        loss = clip_contrastive_loss(outputs.image_embeds, outputs.text_embeds, logit_scale)
        return (loss, outputs) if return_outputs else loss

    def get_decay_parameter_names(self, model) -> list[str]:
        return [name for name, parameter in model.named_parameters()
                if parameter.ndim >= 2 and "logit_scale" not in name]

    def floating_point_ops(self, inputs: dict) -> int:
        # 6 x parameters x tokens per tower (forward and backward), the usual transformer estimate.
        if self._param_counts is None:
            unwrapped = self.accelerator.unwrap_model(self.model)
            self._param_counts = (sum(p.numel() for p in unwrapped.vision_model.parameters()),
                                  sum(p.numel() for p in unwrapped.text_model.parameters()))
        vision_params, text_params = self._param_counts
        pixels = inputs["pixel_values"]
        patch = self.accelerator.unwrap_model(self.model).config.vision_config.patch_size
        patches = pixels.shape[0] * ((pixels.shape[-1] // patch) * (pixels.shape[-2] // patch) + 1)
        return 6 * (vision_params * patches + text_params * inputs["input_ids"].numel())

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs:
            now, step = time.perf_counter(), self.state.global_step
            if self._throughput_mark is not None and step > self._throughput_mark[1]:
                elapsed = max(now - self._throughput_mark[0], 1e-9)
                rate = (step - self._throughput_mark[1]) * self.samples_per_step / elapsed
                logs["samples_per_second"] = round(rate, 2)
                logs["samples_per_second_per_device"] = round(rate / max(self.args.world_size, 1), 2)
            self._throughput_mark = (now, step)
            logs["logit_scale"] = round(float(self.accelerator.unwrap_model(self.model).logit_scale.detach()
                                              .float().exp()), 4)
            if self.epoch_size:
                logs["data_epoch"] = round(step * self.samples_per_step / self.epoch_size, 4)
        super().log(logs, start_time)

    def start_throughput_clock(self) -> None:
        self._throughput_mark = (time.perf_counter(), self.state.global_step)


class _RunCallback(TrainerCallback):
    """Clamps logit_scale after every optimizer step, starts the throughput clock, marks finished checkpoints."""

    def __init__(self):
        self.trainer: ContrastiveTrainer | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        self.trainer.start_throughput_clock()

    def on_optimizer_step(self, args, state, control, model=None, **kwargs):
        with torch.no_grad():
            self.trainer.accelerator.unwrap_model(self.trainer.model).logit_scale.clamp_(max=MAX_LOGIT_SCALE)

    def on_save(self, args, state, control, **kwargs):
        _barrier()  # every process has written its RNG state
        if state.is_world_process_zero:
            folder = Path(args.output_dir) / f"checkpoint-{state.global_step}"
            if folder.is_dir():
                write_text_atomic(folder / CHECKPOINT_MARKER, f"{state.global_step}\n")


# ---------------------------------------------------------------------------------------------------- train()

def train(recipe: TrainRecipe, *, callbacks: Sequence[TrainerCallback] = (), progress: bool = True,
          verbose: bool = True) -> TrainResult:
    """Run ``recipe`` (resuming its run folder when it holds an unfinished run of the same recipe). ``progress``:
    the Trainer's progress bar; ``verbose``: the run's plan and, without the bar, the logged values printed."""
    from transformers import TrainingArguments

    # 1. Processes and batch sizes: the contrastive batch is per-device batch x processes.
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    accumulation = int(recipe.training.get("gradient_accumulation_steps", 1))
    per_device = _per_device_batch(recipe, world_size, accumulation)
    samples_per_step = per_device * world_size * accumulation
    training = dict(recipe.training, per_device_train_batch_size=per_device)
    if recipe.data.streaming and world_size > 1:
        # Every process reads the stream and decodes its own slice (rsmodel.data.StreamingTrainingStream);
        # accelerate's default for an IterableDataset would decode all of them in the main process and send them.
        training["accelerator_config"] = {**(training.get("accelerator_config") or {}), "dispatch_batches": False}
    if not progress:
        training.setdefault("disable_tqdm", True)
    if world_size == 1:
        # Meaningless in one process, and accelerate then asks for a process group that was never started.
        training.pop("ddp_backend", None)
    try:
        args = TrainingArguments(**training)
    except (TypeError, ValueError) as error:
        raise TrainRecipeError(f"{recipe.path or '<recipe>'}: training: {error}") from None
    if args.n_gpu > 1:
        raise TrainRecipeError(f"{args.n_gpu} GPUs are visible to one process: launch one process per GPU with "
                               f"torchrun --nproc_per_node {args.n_gpu} -m rsmodel train ... (DistributedDataParallel)")
    run_dir = Path(args.output_dir)

    # 2. The run folder: fresh, or an unfinished run of the same recipe to resume.
    fingerprint = recipe_fingerprint(recipe, per_device * world_size, accumulation)
    resume_from, previous = _prepare_run_dir(run_dir, fingerprint, recipe.as_dict(), args.process_index == 0)
    _barrier()  # every process has looked at the folder before the first process writes into it

    # 3. Model and processor.
    from rsmodel.modeling import load_model

    model, processor, model_source = load_model(recipe.model, seed=args.seed,
                                                max_text_length=recipe.data.max_text_length)
    image_size = model.config.vision_config.image_size

    # 4. Data: the sample stream over the sources, the augmentation, the collator.
    sources = open_sources(recipe.data)
    augment = CropFlipRotate(image_size, recipe.augmentation)
    total_samples = args.max_steps * samples_per_step
    if recipe.data.streaming:
        dataset = StreamingTrainingStream(sources, augment=augment, image_column=recipe.data.image_column,
                                          caption_column=recipe.data.caption_column, data_seed=recipe.data_seed,
                                          loader_batch_size=per_device * world_size,
                                          block_size=per_device * world_size, streams=recipe.data.streams,
                                          shuffle_buffer=recipe.data.shuffle_buffer,
                                          shuffle_buffer_bytes=recipe.data.shuffle_buffer_bytes,
                                          process=(args.process_index, world_size))
        epoch_size = None
    else:
        dataset = TrainingStream(sources, length=total_samples, augment=augment,
                                 image_column=recipe.data.image_column, caption_column=recipe.data.caption_column,
                                 data_seed=recipe.data_seed)
        epoch_size = dataset.epoch_size
    image_processor = processor.image_processor
    normalizer = PixelNormalizer(image_processor.image_mean, image_processor.image_std)
    collator = ContrastiveCollator(processor.tokenizer, recipe.data.max_text_length)

    record = {
        "format": RECORD_FORMAT,
        "status": "running",
        "recipe": recipe.as_dict(),
        "recipe_fingerprint": fingerprint,
        "model_source": _plain(asdict(model_source)),
        "data_sources": [source.record() for source in sources],
        "seed": args.seed,
        "data_seed": recipe.data_seed,
        "world_size": world_size,
        "per_device_train_batch_size": per_device,
        "gradient_accumulation_steps": accumulation,
        "contrastive_batch_size": per_device * world_size,
        "samples_per_step": samples_per_step,
        "epoch_size": epoch_size,
        "data_epochs": round(total_samples / epoch_size, 4) if epoch_size else None,
        "image_size": image_size,
        "training_arguments": json.loads(args.to_json_string()),
        "versions": _versions(),
        "started": (previous or {}).get("started") or _now(),
        "resumed_from": list((previous or {}).get("resumed_from", [])) + ([str(resume_from)] if resume_from else []),
    }
    if args.process_index == 0:
        write_json_atomic(run_dir / RUN_RECORD, record, sort_keys=False)

    # 5. The trainer.
    run_callback = _RunCallback()
    trainer = ContrastiveTrainer(model=model, args=args, data_collator=collator, train_dataset=dataset,
                                 processing_class=processor, callbacks=[run_callback, *callbacks],
                                 normalizer=normalizer, samples_per_step=samples_per_step, epoch_size=epoch_size)
    run_callback.trainer = trainer
    if verbose:
        _announce(args, recipe, sources, samples_per_step, per_device, world_size, epoch_size, resume_from)
    else:
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)  # without the bar, Trainer prints every log; the record keeps them

    # 6. Train.
    output = trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)

    # 7. The final model and processor, moved into RUN_DIR file by file; the record last.
    staging = run_dir / FINAL_STAGING
    if args.process_index == 0 and staging.exists():
        shutil.rmtree(staging)
    trainer.save_model(str(staging))
    if args.process_index == 0:
        trainer.state.save_to_json(str(staging / "trainer_state.json"))
    result = _result(trainer, output, run_dir, world_size, resume_from, sources)
    if args.process_index == 0:
        for path in sorted(staging.iterdir()):
            os.replace(path, run_dir / path.name)
        staging.rmdir()
        record.update(status="complete", finished=_now(), result=_plain(asdict(result)))
        record["result"]["run_dir"] = str(run_dir)
        write_json_atomic(run_dir / RUN_RECORD, record, sort_keys=False)
    _barrier()
    return result


def _per_device_batch(recipe: TrainRecipe, world_size: int, accumulation: int) -> int:
    if recipe.global_batch_size is None:
        return int(recipe.training.get("per_device_train_batch_size", 8))
    share, remainder = divmod(recipe.global_batch_size, world_size * accumulation)
    if remainder or share == 0:
        raise TrainRecipeError(f"{recipe.path or '<recipe>'}: global_batch_size {recipe.global_batch_size} is not a "
                               f"multiple of {world_size} process(es) x {accumulation} accumulation step(s); choose "
                               "a number of processes or training.gradient_accumulation_steps that divides it")
    return share


def _result(trainer: ContrastiveTrainer, output, run_dir: Path, world_size: int, resume_from: Path | None,
            sources) -> TrainResult:
    metrics = output.metrics
    losses = [entry["loss"] for entry in trainer.state.log_history if "loss" in entry]
    skipped: dict[str, int] = {}
    for source in sources:
        for reason, count in source.skipped.items():
            skipped[reason] = skipped.get(reason, 0) + count
    rate = float(metrics.get("train_samples_per_second", 0.0))
    scale = float(trainer.accelerator.unwrap_model(trainer.model).logit_scale.detach().float().exp())
    return TrainResult(run_dir=run_dir, global_step=trainer.state.global_step, train_loss=float(output.training_loss),
                       final_loss=losses[-1] if losses else None, logit_scale=scale,
                       runtime_s=float(metrics.get("train_runtime", 0.0)), samples_per_second=rate,
                       samples_per_second_per_device=rate / max(world_size, 1), world_size=world_size,
                       resumed_from=str(resume_from) if resume_from else None, skipped=skipped)


def _announce(args, recipe, sources, samples_per_step, per_device, world_size, epoch_size, resume_from) -> None:
    if args.process_index != 0:
        return
    lines = [f"rsmodel train {recipe.name}: {args.max_steps} steps of {samples_per_step} samples "
             f"({per_device} per device x {world_size} process(es) x {args.gradient_accumulation_steps} "
             f"accumulation step(s)) into {args.output_dir}"]
    for source in sources:
        usable = "streaming" if source.usable_rows is None else f"{len(source.usable_rows)} usable rows"
        skipped = ", ".join(f"{reason} {count}" for reason, count in sorted(source.skipped.items()))
        lines.append(f"  data {source.source.describe()}, weight {source.source.weight:g}: {usable}"
                     + (f" (skipped: {skipped})" if skipped else ""))
    if epoch_size:
        lines.append(f"  data epoch {epoch_size} samples; the run covers "
                     f"{args.max_steps * samples_per_step / epoch_size:.2f} data epochs")
    if resume_from:
        lines.append(f"  resuming from {resume_from}")
    print("\n".join(lines), flush=True)


# ------------------------------------------------------------------------------------------------ run folder

def recipe_fingerprint(recipe: TrainRecipe, contrastive_batch: int, accumulation: int) -> str:
    """A hash of what determines the run's results (the recipe less :data:`RESUMABLE_CHANGES`, batch sizes)."""
    flat = {key: value for key, value in _flatten(recipe.as_dict()).items() if key not in RESUMABLE_CHANGES}
    flat["contrastive_batch_size"] = contrastive_batch
    flat["gradient_accumulation_steps"] = accumulation
    return hashlib.sha256(json.dumps(flat, sort_keys=True, default=str).encode()).hexdigest()


def _prepare_run_dir(run_dir: Path, fingerprint: str, current: dict, is_main: bool) \
        -> tuple[Path | None, dict | None]:
    """``(checkpoint to resume from or None, the previous record or None)``; refuses folders it must not touch."""
    record_path = run_dir / RUN_RECORD
    if run_dir.exists() and not run_dir.is_dir():
        raise OutputFolderError(f"{run_dir}: training.output_dir exists and is not a folder")
    if not record_path.is_file():
        if run_dir.exists() and any(run_dir.iterdir()):
            raise OutputFolderError(f"{run_dir}: training.output_dir is not empty and holds no {RUN_RECORD}: not an "
                                    "rsmodel run folder; choose a new folder")
        if is_main:
            run_dir.mkdir(parents=True, exist_ok=True)
        return None, None
    try:
        previous = json.loads(record_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise OutputFolderError(f"{record_path}: unreadable run record ({error}); choose a new folder") from None
    if previous.get("status") == "complete":
        raise OutputFolderError(f"{run_dir}: holds a finished run (status complete in {RUN_RECORD}); choose a new "
                                "training.output_dir")
    if previous.get("recipe_fingerprint") != fingerprint:
        differing = _differences(previous.get("recipe", {}), current)
        raise OutputFolderError(f"{run_dir}: holds an unfinished run of a different recipe"
                                f"{' (' + differing + ')' if differing else ''}; resume it with the same recipe and "
                                "overrides, or choose a new training.output_dir")
    return latest_checkpoint(run_dir), previous


def _differences(previous_recipe: dict, current: dict) -> str:
    old, new = _flatten(previous_recipe), _flatten(current)
    keys = sorted(k for k in set(old) | set(new) if k not in RESUMABLE_CHANGES and old.get(k) != new.get(k))
    shown = [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in keys[:5]]
    return "; ".join(shown) + (f"; and {len(keys) - 5} more" if len(keys) > 5 else "")



def latest_checkpoint(run_dir: Path) -> Path | None:
    """The ``checkpoint-N`` folder of ``run_dir`` with the largest N that is marked complete, or None."""
    best, best_step = None, -1
    for folder in run_dir.glob("checkpoint-*"):
        suffix = folder.name.rpartition("-")[2]
        if suffix.isdigit() and (folder / CHECKPOINT_MARKER).is_file() and int(suffix) > best_step:
            best, best_step = folder, int(suffix)
    return best


# ---------------------------------------------------------------------------------------------------- helpers

def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            out.update(_flatten(item, f"{prefix}{key}."))
        return out if out or not prefix else {prefix[:-1]: {}}
    if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out = {}
        for index, item in enumerate(value):
            out.update(_flatten(item, f"{prefix}{index}."))
        return out
    return {prefix[:-1]: value}


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _barrier() -> None:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


def _versions() -> dict[str, str]:
    import transformers

    from rsmodel import __version__

    return {"rsmodel": __version__, "torch": torch.__version__, "transformers": transformers.__version__}


def _now() -> str:
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()
