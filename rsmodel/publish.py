"""``rsmodel publish``: a model folder (a training RUN_DIR, or any CLIPModel folder) to a Hub model repo, with its
benchmark card. The only rsmodel module that talks to the Hub; the upload itself is rsdata's
:func:`rsdata.publish.upload_tree` (resumable chunked commits, retries, unchanged files skipped, token never shown).

What is uploaded, in this order (the card last, so a repo whose push was cut never shows a card for weights it
does not have):

1. the weights as safetensors (``model.safetensors``, or the shards and ``model.safetensors.index.json``) and
   ``config.json``;
2. the processor and tokenizer files as ``CLIPProcessor.save_pretrained`` writes them (``processor_config.json``,
   ``tokenizer.json``, ``tokenizer_config.json``...), plus ``preprocessor_config.json`` for readers that look for the
   image processor there (transformers 5 writes it inside ``processor_config.json`` only; when the folder has no
   ``preprocessor_config.json`` it is written from that nested section);
3. ``rsmodel_train.json`` (the resolved training run) when the folder has one;
4. the evaluation results of this model under ``eval/`` (``MODEL/eval/<dataset>/<task>.json`` as ``rsmodel eval``
   writes them, and a fresh ``eval/summary.md``/``summary.json``); results computed on other weights (another
   model digest) are left out and counted;
5. ``README.md``: the benchmark card of :mod:`rsmodel.cards`.

Never uploaded: ``checkpoint-*/``, ``training_args.bin`` and other pickles, trainer state, logs, hidden files.
The tree is assembled in ``MODEL/.rsmodel-publish/`` (hard links, so no weights are copied) and removed after the
push; file hashes are kept in ``MODEL/.rsmodel-publish-hashes.json`` so that a second push does not read the
weights again. ``--dry-run DIR`` writes the same tree to DIR (as copies) and uploads nothing.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from rsmodel.errors import OptionError, OutputFolderError, PublishError

RUN_RECORD = "rsmodel_train.json"
EVAL_DIR = "eval"
STAGING = ".rsmodel-publish"
HASH_CACHE = ".rsmodel-publish-hashes.json"
PROCESSOR_FILES = ("processor_config.json", "preprocessor_config.json", "tokenizer.json", "tokenizer_config.json",
                   "vocab.json", "merges.txt", "special_tokens_map.json", "added_tokens.json")


@dataclass
class PublishPlan:
    """The upload tree of one model folder: ``files`` (relative to ``folder``) in upload order."""

    source: Path
    folder: Path
    files: list[str]
    results: list[dict] = field(default_factory=list)
    stale_results: list[str] = field(default_factory=list)  # left out: computed on other weights
    wrote_preprocessor_config: bool = False


@dataclass
class PublishOutcome:
    plan: PublishPlan
    push: object | None = None  # rsdata.publish.PushResult; None for a dry run


def _weights(folder: Path) -> list[str]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        try:
            shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (OSError, ValueError, KeyError) as error:
            raise PublishError(f"{index}: not a readable safetensors index ({error})") from None
        missing = [name for name in shards if not (folder / name).is_file()]
        if missing:
            raise PublishError(f"{folder}: the safetensors index lists missing shards {', '.join(missing)}")
        return shards + [index.name]
    if (folder / "model.safetensors").is_file():
        return ["model.safetensors"]
    pickled = [p.name for p in folder.glob("*.bin") if p.name != "training_args.bin"]
    hint = (f" (it holds {', '.join(pickled)}: load it and save again with save_pretrained(safe_serialization="
            "True))") if pickled else ""
    raise PublishError(f"{folder}: no model.safetensors: rsmodel publishes weights only as safetensors{hint}")


def check_model_folder(folder: Path) -> list[str]:
    """The model files of ``folder`` to upload (weights, config, processor, tokenizer), or a PublishError naming
    what is missing."""
    folder = Path(folder)
    if not folder.is_dir():
        raise PublishError(f"{folder}: no such model folder")
    config = folder / "config.json"
    if not config.is_file():
        raise PublishError(f"{folder}: not a CLIPModel folder (no config.json); a training run writes the final "
                           "model into RUN_DIR when it completes")
    try:
        model_type = json.loads(config.read_text()).get("model_type")
    except (OSError, ValueError) as error:
        raise PublishError(f"{config}: not readable JSON ({error})") from None
    if model_type != "clip":
        raise PublishError(f"{config}: model_type is {model_type!r}; rsmodel publishes CLIPModel folders ('clip')")
    files = _weights(folder) + ["config.json"]
    present = [name for name in PROCESSOR_FILES if (folder / name).is_file()]
    if not {"processor_config.json", "preprocessor_config.json"} & set(present):
        raise PublishError(f"{folder}: no processor_config.json or preprocessor_config.json: save the CLIPProcessor "
                           "into the folder (processor.save_pretrained(folder))")
    if "tokenizer.json" not in present and not {"vocab.json", "merges.txt"} <= set(present):
        raise PublishError(f"{folder}: no tokenizer files (tokenizer.json, or vocab.json and merges.txt)")
    return files + present


def _image_processor_config(folder: Path) -> dict:
    nested = json.loads((folder / "processor_config.json").read_text()).get("image_processor")
    if not isinstance(nested, dict):
        raise PublishError(f"{folder / 'processor_config.json'}: has no image_processor section to write "
                           "preprocessor_config.json from")
    return dict(nested, processor_class="CLIPProcessor")


def _place(source: Path, target: Path, copy: bool) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if not copy:
        try:
            os.link(source, target)
            return
        except OSError:
            pass  # another file system, or no hard links: copy instead
    shutil.copy2(source, target)


def plan_upload(model_dir: str | Path, out: str | Path, *, repo_id: str, model_name: str | None = None,
                license: str | None = None, copy: bool = False, progress: bool = False) -> PublishPlan:
    """Assemble the upload tree of ``model_dir`` in ``out`` (see the module docstring) and return its plan."""
    from rsmodel.cards import build_model_card, read_train_record
    from rsmodel.eval.results import read_results, write_json, write_summary
    from rsmodel.eval.sources import ContentDigests, model_files

    source, out = Path(model_dir), Path(out)
    model = check_model_folder(source)
    record = read_train_record(source)
    digest = ContentDigests().files(model_files(source), source)
    plan = PublishPlan(source, out, [])
    for result in read_results(source / EVAL_DIR):
        if result["model"]["digest"] == digest:
            plan.results.append(result)
        else:
            plan.stale_results.append(f"{result['dataset']['name']}/{result['task']}")
    out.mkdir(parents=True, exist_ok=True)
    for name in model:
        _place(source / name, out / name, copy)
    plan.files += model
    if "preprocessor_config.json" not in model:
        write_json(out / "preprocessor_config.json", _image_processor_config(source))
        plan.files.append("preprocessor_config.json")
        plan.wrote_preprocessor_config = True
    if record is not None:
        _place(source / RUN_RECORD, out / RUN_RECORD, copy)
        plan.files.append(RUN_RECORD)
    for result in plan.results:
        path = Path(EVAL_DIR) / result["dataset"]["name"] / f"{result['task']}.json"
        _place(source / path, out / path, copy)
        plan.files.append(path.as_posix())
    if plan.results:
        order = next((r["suite"].get("datasets", []) for r in plan.results if r.get("suite")), [])
        write_summary(out / EVAL_DIR, order)
        plan.files += [f"{EVAL_DIR}/summary.md", f"{EVAL_DIR}/summary.json"]
    plots = evaluation_plots(source / EVAL_DIR, plan.results)
    for plot in plots:
        _place(source / plot, out / plot, copy)
    plan.files += plots
    card = build_model_card(plan.results, model_name=model_name or repo_id.split("/")[-1], repo_id=repo_id,
                            train_record=record, license=license, plots=plots)
    card.save(str(out / "README.md"))
    plan.files.append("README.md")
    return plan


def evaluation_plots(eval_dir: Path, results: list[dict]) -> list[str]:
    """The PNG plots beside this model's results (``eval/*.png`` and ``eval/<dataset>/*.png`` of the datasets with
    a current result), as sorted paths relative to the model folder; plots of other weights' results are left
    out with those results."""
    if not eval_dir.is_dir():
        return []
    current = {result["dataset"]["name"] for result in results}
    found = [path for path in eval_dir.rglob("*.png") if path.is_file() and
             (path.parent == eval_dir or path.relative_to(eval_dir).parts[0] in current)]
    return sorted(Path(EVAL_DIR, path.relative_to(eval_dir)).as_posix() for path in found)


def publish_model(model_dir: str | Path, repo_id: str, *, private: bool = False, revision: str | None = None,
                  token: str | None = None, commit_message: str | None = None, model_name: str | None = None,
                  license: str | None = None, dry_run: str | Path | None = None, progress: bool = True,
                  retry=None) -> PublishOutcome:
    """Publish ``model_dir`` to the model repo ``repo_id`` (created when missing; ``revision`` is a branch,
    created from main when missing), or with ``dry_run`` write the upload tree there and upload nothing.

    Running it again uploads only what changed (nothing, and no commit, when nothing did); a push cut midway
    resumes. Raises :class:`~rsmodel.errors.PublishError` naming the folder or repo and the problem.
    """
    from rsdata import errors as rsdata_errors
    from rsdata.publish import check_repo_id, upload_tree

    source = Path(model_dir)
    try:
        check_repo_id(repo_id)
    except rsdata_errors.OptionError as error:
        raise OptionError(f"--repo-id: {error}") from None
    if dry_run is not None:
        out = Path(dry_run)
        if out.exists() and (not out.is_dir() or any(out.iterdir())):
            raise OutputFolderError(f"{out}: the dry-run folder exists and is not empty; choose a new folder")
        return PublishOutcome(plan_upload(source, out, repo_id=repo_id, model_name=model_name, license=license,
                                          copy=True))
    staging = source / STAGING
    if staging.exists():
        shutil.rmtree(staging)  # left by a killed publish: rebuilt from the folder
    try:
        plan = plan_upload(source, staging, repo_id=repo_id, model_name=model_name, license=license)
        try:
            push = upload_tree(staging, plan.files, repo_id, "model", revision=revision, token=token,
                               private=private, commit_message=commit_message or f"Upload {source.name} with rsmodel",
                               delete_stale=(f"{EVAL_DIR}/",), progress=progress, retry=retry,
                               hash_cache=source / HASH_CACHE)
        except (rsdata_errors.PublishError, rsdata_errors.OptionError) as error:
            raise PublishError(str(error)) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return PublishOutcome(plan, push)
