"""The ``rsmodel`` command line: argument parsing and printing only. Every command is callable as main([...])."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from typing import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    from rsmodel import __version__

    parser = argparse.ArgumentParser(prog="rsmodel", description="Train, evaluate and publish remote-sensing "
                                     "CLIP models (transformers CLIPModel).")
    parser.add_argument("--version", action="version", version=f"rsmodel {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    env = commands.add_parser("env", help="report library versions, CUDA devices and bf16 support")
    env.add_argument("--json", action="store_true", help="print the report as JSON")
    env.set_defaults(run=_run_env)
    _add_convert(commands)
    _add_train(commands)
    _add_eval(commands)
    _add_publish(commands)
    _add_compare(commands)
    _add_recipes(commands)
    args = parser.parse_args(argv)
    from rsmodel.errors import OptionError, RsmodelError

    from rsdata.verbosity import output_switches

    quiet = getattr(args, "quiet", False)
    if quiet:
        args.progress = False
    try:
        with output_switches(progress=getattr(args, "progress", True), quiet=quiet,
                             transformers=hasattr(args, "progress")):
            return args.run(args)
    except OptionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RsmodelError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _add_progress_options(parser, what: str = "no progress bars") -> None:
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help=f"{what} (neither rsmodel's nor those of transformers, datasets and huggingface_hub)")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only errors and the closing summary "
                        "(implies --no-progress)")


def _add_convert(commands) -> None:
    convert = commands.add_parser("convert", help="convert checkpoints between open_clip and transformers CLIPModel")
    kinds = convert.add_subparsers(dest="kind", required=True, metavar="KIND")
    openclip = kinds.add_parser(
        "openclip", help="open_clip checkpoint (e.g. RemoteCLIP, GeoRSCLIP) -> CLIPModel + CLIPProcessor folder",
        description="Convert an open_clip ViT state dict (.pt/.pth/.bin/.ckpt read with torch.load(weights_only="
                    "True), or .safetensors) into a transformers CLIPModel folder with a CLIPProcessor. Nothing "
                    "is written unless the weights match --arch exactly.")
    openclip.add_argument("checkpoint", metavar="CHECKPOINT", help="open_clip state dict file")
    openclip.add_argument("out", metavar="OUT", help="output folder (must not exist, or be empty)")
    openclip.add_argument("--arch", required=True,
                          help="open_clip architecture name, e.g. ViT-B-32, ViT-B-32-quickgelu, ViT-B-16, ViT-L-14 "
                               "(list them with: rsmodel convert archs)")
    openclip.add_argument("--act", choices=("quick_gelu", "gelu"), default=None,
                          help="activation of both towers. Default: quick_gelu for -quickgelu archs and for the "
                               "archs OpenAI released (ViT-B-32, ViT-B-16, ViT-L-14, ViT-L-14-336), because "
                               "RemoteCLIP/GeoRSCLIP are fine-tunes of OpenAI CLIP; gelu otherwise. Use gelu for "
                               "models trained from scratch with open_clip under a plain arch name")
    openclip.add_argument("--tokenizer", default=None, metavar="PATH",
                          help="CLIP tokenizer folder or bpe_simple_vocab_16e6.txt.gz (default: CLIP's BPE "
                               "vocabulary, shipped with rsmodel)")
    openclip.set_defaults(run=_run_convert_openclip)
    back = kinds.add_parser("to-openclip", help="CLIPModel folder -> open_clip state dict + open_clip_config.json")
    back.add_argument("model", metavar="MODEL", help="CLIPModel folder (config.json + weights)")
    back.add_argument("out", metavar="OUT", help="output folder (must not exist, or be empty)")
    back.add_argument("--format", dest="fmt", choices=("safetensors", "pt"), default="safetensors",
                      help="open_clip_model.safetensors (default) or open_clip_pytorch_model.bin (torch.save)")
    back.set_defaults(run=_run_convert_to_openclip)
    archs = kinds.add_parser("archs", help="list the open_clip architectures that can be converted")
    archs.set_defaults(run=_run_convert_archs)


def _add_train(commands) -> None:
    train = commands.add_parser(
        "train", help="train a CLIPModel from a training recipe (one process, or one per GPU under torchrun)",
        description="Train a transformers CLIPModel with the contrastive loss over the global batch, from a recipe "
                    "(a name such as remoteclip-vit-b-32, see `rsmodel recipes`, or a YAML file). Run the same "
                    "command again to resume an interrupted run. Several GPUs: torchrun --nproc_per_node N -m "
                    "rsmodel train RECIPE.")
    train.add_argument("recipe", metavar="RECIPE", help="training recipe: a shipped recipe's name (see `rsmodel "
                       "recipes`) or a YAML file (a path with a '/' or a .yaml ending)")
    train.add_argument("--override", "-o", action="append", default=[], metavar="KEY=VALUE",
                       help="set a recipe field by its dotted path, VALUE read as YAML (repeatable), e.g. "
                            "training.learning_rate=1e-4, data.path=user/corpus, data.sources.0.weight=2")
    train.add_argument("--output-dir", default=None, metavar="RUN_DIR",
                       help="the run folder (same as --override training.output_dir=RUN_DIR)")
    _add_progress_options(train)
    train.set_defaults(run=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    from rsmodel.training import train
    from rsmodel.train_recipe import load_train_recipe

    overrides = list(args.override) + ([f"training.output_dir={args.output_dir}"] if args.output_dir else [])
    recipe = load_train_recipe(_find_recipe(args.recipe, "train"), overrides)
    try:
        result = train(recipe, progress=args.progress, verbose=not args.quiet)
    finally:
        _leave_process_group()
    if int(os.environ.get("RANK", "0")) == 0:
        loss = f"{result.final_loss:.4f}" if result.final_loss is not None else "n/a"
        skipped = ", ".join(f"{reason} {count}" for reason, count in sorted(result.skipped.items()))
        print(f"trained {recipe.name}: step {result.global_step}, last logged loss {loss} (mean {result.train_loss:.4f}"
              f"), logit_scale {result.logit_scale:.2f}, {result.samples_per_second:.1f} samples/s "
              f"({result.samples_per_second_per_device:.1f} per device, {result.world_size} process(es)) in "
              f"{result.runtime_s:.1f} s{'; skipped rows: ' + skipped if skipped else ''}; model and processor in "
              f"{result.run_dir} (CLIPModel.from_pretrained)")
    return 0


def _find_recipe(name_or_path: str, kind: str):
    """A training recipe or suite from its name (``tiny-cpu``, ``remoteclip``) or file."""
    from rsmodel.api import _find
    from rsdata.recipe import find_recipe

    return _find(name_or_path, kind, find_recipe)


def _leave_process_group() -> None:
    """Tear the torchrun process group down before the interpreter exits: a gloo group left to the exit handlers
    can abort one process ("terminate called without an active exception") while another still talks to it."""
    import torch

    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
        torch.distributed.destroy_process_group()


def _run_convert_openclip(args: argparse.Namespace) -> int:
    from rsmodel.convert import convert_openclip_to_hf

    summary = convert_openclip_to_hf(args.checkpoint, args.arch, args.out, act=args.act, tokenizer=args.tokenizer)
    print(f"wrote {summary.out}: CLIPModel {summary.arch}, activation {summary.act}, {summary.tensors} tensors, "
          f"{summary.parameters / 1e6:.1f}M parameters, with CLIPProcessor")
    if summary.ignored_keys:
        print(f"ignored constant entries: {', '.join(summary.ignored_keys)}")
    return 0


def _run_convert_to_openclip(args: argparse.Namespace) -> int:
    from rsmodel.convert import convert_hf_to_openclip

    summary = convert_hf_to_openclip(args.model, args.out, fmt=args.fmt)
    print(f"wrote {summary.out}: open_clip state dict ({summary.tensors} tensors, "
          f"{summary.parameters / 1e6:.1f}M parameters, activation {summary.act}) and open_clip_config.json")
    return 0


def _run_convert_archs(args: argparse.Namespace) -> int:
    from rsmodel.convert import list_archs, resolve_arch

    for name in list_archs():
        arch = resolve_arch(name)
        print(f"{name:<28} image {arch.image_size}/{arch.patch_size}  vision {arch.vision_width}x"
              f"{arch.vision_layers}  text {arch.text_width}x{arch.text_layers}  embed {arch.embed_dim}  "
              f"default act {arch.default_act}")
    return 0


def _run_env(args: argparse.Namespace) -> int:
    from rsmodel.environment import describe_environment, format_environment

    environment = describe_environment()
    if args.json:
        print(json.dumps(asdict(environment), indent=2, sort_keys=True))
    else:
        print(format_environment(environment))
    return 0


def _add_eval(commands) -> None:
    evaluate = commands.add_parser(
        "eval", help="evaluate a CLIPModel by the RemoteCLIP protocols (zero-shot, linear probe, k-NN, few-shot, "
                     "retrieval, counting)",
        description="Evaluate MODEL (a CLIPModel folder or a Hub model id) on the datasets of a suite. Embeddings "
                    "are computed once per (model, dataset split, preprocessing) and cached; every task reads the "
                    "cache. Writes OUT/<dataset>/<task>.json per result and OUT/summary.md, and prints the table.")
    evaluate.add_argument("model", metavar="MODEL", nargs="?", help="CLIPModel folder or Hub model id (USER/NAME)")
    evaluate.add_argument("--suite", default="remoteclip", metavar="NAME_OR_FILE",
                          help="evaluation suite: a shipped suite's name (see `rsmodel recipes`) or a YAML file "
                               "(default: remoteclip, the RemoteCLIP protocols)")
    evaluate.add_argument("--tasks", action="append", default=[], metavar="T1,T2",
                          help="only these tasks (comma-separated, repeatable; see --list)")
    evaluate.add_argument("--datasets", action="append", default=[], metavar="D1,D2",
                          help="only these datasets of the suite (comma-separated, repeatable)")
    evaluate.add_argument("--data-root", default=None, metavar="DIR",
                          help="folder holding one rsdata output per dataset, DIR/<name> (default: the suite's "
                               "data_root)")
    evaluate.add_argument("--dataset", action="append", default=[], metavar="NAME=PATH_OR_REPO[@REV]",
                          help="take dataset NAME from a folder or a Hub dataset revision (repeatable)")
    evaluate.add_argument("--output", default=None, metavar="OUT",
                          help="results folder (default: MODEL/eval for a model folder, eval-results/USER--NAME "
                               "for a Hub id)")
    evaluate.add_argument("--cache-dir", default=None, metavar="DIR",
                          help="embedding cache (default: $RSCLIP_CACHE/embeddings or ~/.cache/rsclip/embeddings)")
    evaluate.add_argument("--revision", default=None, help="revision of a Hub MODEL (branch, tag or commit)")
    evaluate.add_argument("--device", default="auto", help="auto (CUDA when available), cpu, cuda or cuda:N")
    evaluate.add_argument("--override", "-o", action="append", default=[], metavar="KEY=VALUE",
                          help="change a suite value, VALUE read as YAML (repeatable): linear_probe.epochs=100, "
                               "inference.batch_size=64, seed=1")
    evaluate.add_argument("--skip-unavailable", action="store_true",
                          help="skip (and count) datasets whose folder or Hub repo is not available, and tasks "
                               "whose split the dataset lacks, instead of stopping; the skips are listed in the "
                               "summary")
    _add_progress_options(evaluate, "no progress bars or per-task lines")
    evaluate.add_argument("--list", action="store_true", help="list the tasks and the suite's datasets, and exit")
    evaluate.set_defaults(run=_run_eval)


def _print_result(path, record: dict) -> None:
    from tqdm.auto import tqdm

    main_metric = record["main_metric"]
    shown = f"{main_metric} {record['metrics'][main_metric]:.2f}" if main_metric in record["metrics"] else \
        f"{len(record['metrics'])} metrics"
    tqdm.write(f"{record['dataset']['name']}/{record['task']}: {shown} ({path})")


def _split_names(values: Sequence[str]) -> list[str] | None:
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    return names or None


def _run_eval(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rsmodel.errors import OptionError
    from rsmodel.eval import EvalOptions, evaluate, list_tasks, load_suite
    from rsmodel.eval.sources import parse_dataset_override

    suite = load_suite(_find_recipe(args.suite, "eval"), args.override)
    if args.list:
        print("tasks:")
        for task in list_tasks():
            print(f"  {task.name:<13} {task.dataset_kind:<15} main {task.main_metric:<27} {task.description}")
        print(f"datasets of suite {suite.name} (data root {args.data_root or suite.data_root}):")
        for name, entry in suite.datasets.items():
            print(f"  {name:<13} {entry.kind:<15} {','.join(entry.tasks):<38} {entry.source.describe()}")
        return 0
    if not args.model:
        raise OptionError("MODEL is required (a CLIPModel folder or a Hub model id), unless --list is given")
    sources = dict(parse_dataset_override(text) for text in args.dataset)
    options = EvalOptions(tasks=_split_names(args.tasks), datasets=_split_names(args.datasets),
                          data_root=Path(args.data_root) if args.data_root else None, dataset_sources=sources,
                          output=Path(args.output) if args.output else None,
                          cache_dir=Path(args.cache_dir) if args.cache_dir else None, device=args.device,
                          revision=args.revision, skip_unavailable=args.skip_unavailable,
                          progress=args.progress, on_result=_print_result if args.progress else None)
    summary = evaluate(args.model, suite, options)
    if summary.table:
        print(summary.table, end="")
    print(summary.line())
    return 0


def _add_publish(commands) -> None:
    publish = commands.add_parser(
        "publish", help="upload a model folder (training RUN_DIR) with its benchmark card to a Hub model repo",
        description="Upload RUN_DIR's weights (safetensors), config, processor and tokenizer files, "
                    "rsmodel_train.json, its evaluation results (RUN_DIR/eval, from rsmodel eval) and a model card "
                    "with model-index eval results beside the paper's numbers, to the model repo USER/NAME "
                    "(created when missing). Files already on the Hub are not sent again; a push cut midway "
                    "resumes when run again. Token: HF_TOKEN or `hf auth login`.")
    publish.add_argument("model", metavar="RUN_DIR", help="a finished training run folder, or any CLIPModel folder")
    publish.add_argument("--repo-id", required=True, metavar="USER/NAME", help="the model repo")
    publish.add_argument("--private", action="store_true", help="create the repo private (an existing repo is kept)")
    publish.add_argument("--revision", metavar="BRANCH", help="push to this branch (created from main when missing)")
    publish.add_argument("--message", metavar="TEXT", help="commit message")
    publish.add_argument("--model-name", metavar="NAME", help="the name in the card (default: the repo's name)")
    publish.add_argument("--license", metavar="ID", help="licence id for the card metadata, e.g. apache-2.0")
    publish.add_argument("--dry-run", metavar="DIR", help="write the exact upload tree to DIR and upload nothing")
    _add_progress_options(publish)
    publish.set_defaults(run=_run_publish)


def _run_publish(args: argparse.Namespace) -> int:
    from rsmodel.publish import publish_model

    outcome = publish_model(args.model, args.repo_id, private=args.private, revision=args.revision,
                            commit_message=args.message, model_name=args.model_name, license=args.license,
                            dry_run=args.dry_run, progress=args.progress)
    plan = outcome.plan
    card = f"card with {len(plan.results)} evaluation result(s)"
    if plan.stale_results:
        card += (f"; {len(plan.stale_results)} result(s) computed on other weights left out: "
                 f"{', '.join(plan.stale_results)}")
    if outcome.push is None:
        print(f"dry run: wrote the upload tree of {len(plan.files)} file(s) to {plan.folder} ({card}); nothing "
              "was uploaded")
        return 0
    from rsdata.publish import push_summary

    print(push_summary(outcome.push))
    print(card)
    return 0


def _add_compare(commands) -> None:
    compare = commands.add_parser(
        "compare", help="tabulate several models' evaluation results side by side, as the paper's tables",
        description="Print the paper's tables for the models whose rsmodel eval results are in RESULT_DIR...: "
                    "retrieval (Table II), zero-shot (Table III), linear probe and k-NN (Table IV); with --paper, "
                    "the paper's numbers (from the suite) as extra rows. With --out, write compare.md, "
                    "compare.json and the matching bar charts there.")
    compare.add_argument("results", metavar="RESULT_DIR", nargs="+",
                         help="an rsmodel eval output folder, or a model folder with eval/ (NAME=DIR names it)")
    compare.add_argument("--paper", action="store_true", help="add the paper's numbers as extra rows")
    compare.add_argument("--suite", default="remoteclip", metavar="NAME_OR_FILE",
                         help="with --paper: the suite holding the paper's numbers, a name or a file "
                         "(default: %(default)s)")
    compare.add_argument("--out", metavar="DIR", help="write compare.md, compare.json and the plots here")
    compare.set_defaults(run=_run_compare)


def _run_compare(args: argparse.Namespace) -> int:
    from rsmodel.compare import compare, write_comparison
    from rsmodel.eval.suite import load_suite

    comparison = compare(args.results, load_suite(args.suite) if args.paper else None)
    print(comparison.markdown(), end="")
    if args.out:
        written = write_comparison(comparison, args.out)
        print(f"wrote {', '.join(str(path) for path in written)}")
    return 0


def _add_recipes(commands) -> None:
    recipes = commands.add_parser(
        "recipes", help="list the training recipes and evaluation suites shipped with rsclip, or print one",
        description="Without NAME: every training recipe and evaluation suite shipped with rsclip, one line each. "
                    "With NAME: its YAML. A name goes wherever a recipe file does: `rsmodel train tiny-cpu`, "
                    "`rsmodel eval MODEL --suite remoteclip`.")
    recipes.add_argument("name", metavar="NAME", nargs="?", help="print this recipe")
    recipes.set_defaults(run=_run_recipes)


def _run_recipes(args: argparse.Namespace) -> int:
    from rsdata.recipes_index import UnknownRecipeError, recipes_command_text

    from rsmodel.errors import OptionError

    try:
        print(recipes_command_text(args.name, ("train", "eval")), end="")
    except UnknownRecipeError as error:
        raise OptionError(str(error)) from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
