"""The ``rsdata`` command line: argument parsing and printing only; the work is in the library.

Every command is callable as ``main([...])`` and returns the exit status: 0 done, 1 stopped by bad input or a
refused output folder (the message names the file, line and problem), 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Sequence

from rsdata.errors import OptionError, RecordError, RsdataError


def main(argv: Sequence[str] | None = None) -> int:
    from rsdata.verbosity import output_switches

    parser = _parser()
    args = parser.parse_args(argv)
    quiet = getattr(args, "quiet", False)
    if quiet:
        args.progress = False
    try:
        with output_switches(progress=getattr(args, "progress", True), quiet=quiet,
                             datasets=getattr(args, "datasets_bars", True)):
            return args.run(args)
    except RecordError as error:
        print(f"error: {error} [{error.reason}]", file=sys.stderr)
        print(f"       (run with --on-error skip to leave such records out and count them in the report, under "
              f"{error.reason})", file=sys.stderr)
        return 1
    except OptionError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except RsdataError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    from rsdata import __version__

    parser = argparse.ArgumentParser(prog="rsdata", description="Turn remote-sensing annotations into captioned "
                                     "image-text datasets in the Hugging Face datasets layout.")
    parser.add_argument("--version", action="version", version=f"rsdata {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    convert = commands.add_parser("convert", help="convert a source folder of one format into Parquet shards",
                                  description="Convert SOURCE (a folder in FORMAT's layout) into a captioned "
                                  "dataset in OUT: data/<split>-NNNNN-of-NNNNN-<digest>.parquet, README.md "
                                  "(dataset card) and build_report.json. Running the same command again resumes a "
                                  "killed run.")
    convert.add_argument("format", metavar="FORMAT", help="source format (see `rsdata formats`), or a dataset recipe "
                         "by name (see `rsdata recipes`) or file (its format, format options, caption names and "
                         "licence). A name that is both is the format; recipe:NAME takes the recipe, format:NAME "
                         "the format. With --recipe, the output folder alone")
    convert.add_argument("source", metavar="SOURCE", type=Path, nargs="?",
                         help="the source folder, as its publisher ships it")
    convert.add_argument("output", metavar="OUT", type=Path, nargs="?", help="the output folder (new, empty, or a "
                         "build to resume)")
    convert.add_argument("--recipe", metavar="NAME_OR_FILE",
                         help="build a corpus recipe (kind: corpus; a name such as remoteclip, or a file) into OUT: "
                         "`rsdata convert --recipe remoteclip OUT [--sources DIR]`")
    convert.add_argument("--sources", type=Path, metavar="DIR", default=Path("."),
                         help="with --recipe: the folder holding one folder per source, named as in the recipe "
                         "(default: the current folder)")
    convert.add_argument("--plan", action="store_true",
                         help="with --recipe: a dry run that writes nothing; print per source the images the build "
                         "would produce (tiles counted from image headers) beside the paper's count")
    convert.add_argument("--only", nargs="+", action="extend", metavar="NAME", default=[],
                         help="with --recipe: build only these sources of the corpus (names, or NAME,NAME; after "
                         "OUT; the card and report say so; every test set is still checked for leakage)")
    convert.add_argument("--allow-missing", action="store_true",
                         help="with --recipe: leave out, and report, every source folder that is missing, as if "
                         "each source were marked optional")
    _add_build_options(convert)
    _add_push_to_hub_options(convert)
    convert.set_defaults(run=_run_convert, datasets_bars=False)  # never draws them; importing datasets: 1.4 s

    formats = commands.add_parser("formats", help="list the source formats, or print one format's specification",
                                  description="List the source formats; with NAME, print that format's "
                                  "specification (layout, annotations, options, splits).")
    formats.add_argument("name", metavar="NAME", nargs="?", help="a format (e.g. index_mask)")
    formats.set_defaults(run=_run_formats)

    recipes = commands.add_parser(
        "recipes", help="list the dataset and corpus recipes shipped with rsclip, or print one",
        description="Without NAME: every dataset and corpus recipe shipped with rsclip, one line each. With NAME: "
        "that recipe's YAML. A recipe name goes wherever a recipe file does: `rsdata convert dior SOURCE OUT`, "
        "`rsdata convert --recipe remoteclip OUT`.")
    recipes.add_argument("name", metavar="NAME", nargs="?", help="print this recipe")
    recipes.set_defaults(run=_run_recipes)

    detect = commands.add_parser(
        "detect", help="say which dataset recipe and layout variant a source folder is, and how to convert it",
        description="Inspect SOURCE (folder and file names, a few annotation files, image headers; no image is "
        "decoded) and name the dataset recipe and layout variant it matches, with a confidence and how it was "
        "computed, the command that converts it, the splits found and what is missing (images, splits, "
        "annotations, a class table). Exit status 1 when no recipe variant matches, naming the closest.")
    detect.add_argument("source", metavar="SOURCE", type=Path, help="the source folder")
    detect.add_argument("--all", action="store_true", help="list every matching candidate, not only the best")
    detect.add_argument("--json", action="store_true", help="print the whole detection as JSON")
    detect.set_defaults(run=_run_detect)

    demo = commands.add_parser("demo", help="generate a small synthetic DOTA source and convert it",
                               description="Write a clearly labelled synthetic DOTA-format source tree (about 50 "
                               "images) to OUT/source and convert it to OUT/dataset.")
    demo.add_argument("output", metavar="OUT", type=Path)
    demo.add_argument("--num-images", type=int, default=50)
    demo.add_argument("--seed", type=int, metavar="N", default=0)
    demo.add_argument("--num-proc", type=int, metavar="N", default=1)
    _add_progress_options(demo)
    demo.set_defaults(run=_run_demo)
    _add_dedup(commands)
    _add_push(commands)
    _add_show(commands)
    return parser


def _add_build_options(parser: argparse.ArgumentParser) -> None:
    from rsdata.build import DEFAULT_MAX_SHARD_BYTES
    from rsdata.images import DEFAULT_MAX_PIXELS, IMAGE_FORMATS, IMAGE_PROFILES, JPEG_QUALITY

    parser.add_argument("--split", action="append", dest="splits", metavar="NAME",
                        help="convert only this split folder (repeatable); names a single-split source")
    parser.add_argument("--max-side", type=int, metavar="N",
                        help="resize (re-encode) images whose longer side is larger")
    parser.add_argument("--max-pixels", type=int, metavar="N",
                        help="images with more pixels are bad input, image_too_large (default: the recipe's "
                        f"convert_options.max_pixels, else {DEFAULT_MAX_PIXELS:,}); above 64 Mpx a header "
                        "claiming more than 2,000 pixels per byte of file is refused too (a decompression bomb)")
    parser.add_argument("--allow-outside-links", action="store_true",
                        help="read files that symbolic links inside SOURCE lead out of it (images kept on another "
                        "disk); by default such a file is bad input, link_outside_source")
    parser.add_argument("--num-proc", type=int, metavar="N", default=1, help="worker processes (output is identical)")
    parser.add_argument("--seed", type=int, metavar="N", default=0, help="seed of the caption choices (default 0)")
    parser.add_argument("--limit", type=int, metavar="N", help="at most this many images per split (the first, sorted)")
    parser.add_argument("--on-error", choices=("raise", "skip"), default="raise",
                        help="stop at the first bad record (default) or skip it and count it in the report")
    parser.add_argument("--reencode-format", choices=("png", "jpeg"),
                        help="format for images that cannot pass through (default png; jpeg with --image-format "
                        "jpeg)")
    parser.add_argument("--image-format", choices=IMAGE_FORMATS,
                        help="published (default): JPEG and PNG files within --max-side kept byte for byte, others "
                        "re-encoded; jpeg: every image stored as JPEG (JPEG files within --max-side kept byte for "
                        "byte, larger JPEGs decoded with DCT scaling, the rest converted to 8-bit RGB or grey)")
    parser.add_argument("--jpeg-quality", type=int, metavar="Q",
                        help=f"quality (1-100) of the JPEGs the build encodes (default {JPEG_QUALITY})")
    parser.add_argument("--images", metavar="PROFILE",
                        help="store the images by a named profile instead of --max-side/--image-format/"
                        "--jpeg-quality: " + ", ".join(f"{name} (JPEG q{profile.jpeg_quality}, longer side <= "
                                                       f"{profile.max_side} px)"
                                                       for name, profile in IMAGE_PROFILES.items())
                        + "; a corpus recipe may define more (image_profiles). Build it beside the published "
                        "build, in its own OUT")
    parser.add_argument("--verify", choices=("structure", "decode"), default="structure",
                        help="image integrity check: structure (fast, default) or a full decode")
    parser.add_argument("--max-shard-mb", type=float, metavar="MIB", default=DEFAULT_MAX_SHARD_BYTES / 2 ** 20,
                        help="largest shard size in MiB (default %(default)s)")
    parser.add_argument("--tile", type=int, metavar="SIZE",
                        help="cut images into SIZE x SIZE tiles, any format (re-encoded; mask formats compute "
                        "each tile's boxes from its mask; default: whole images, as RemoteCLIP, or the recipe's)")
    parser.add_argument("--overlap", type=float, metavar="FRACTION",
                        help="with --tile: share of a tile's side shared with the next tile (default 0)")
    parser.add_argument("--tile-stride", type=int, metavar="PIXELS",
                        help="with --tile: pixels from one tile's start to the next, instead of --overlap "
                        "(mmsegmentation's iSAID patches: --tile 896 --tile-stride 512)")
    parser.add_argument("--tile-keep-share", type=float, metavar="FRACTION",
                        help="with --tile, box formats: an object belongs to a tile when this share of its box "
                        "lies inside (default 0.5)")
    parser.add_argument("--source-name", metavar="NAME",
                        help="name of the source dataset in provenance (default: the format)")
    parser.add_argument("--license", metavar="ID", help="licence id for the card and rows (default: the format's)")
    parser.add_argument("-o", "--option", action="append", default=[], metavar="KEY=VALUE",
                        help="a format option (see the format's documentation)")
    parser.add_argument("--overwrite", action="store_true", help="replace a different rsdata build in OUT")
    _add_progress_options(parser)


def _add_progress_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--no-progress", dest="progress", action="store_false",
                        help="no progress bars (neither rsdata's nor those of datasets and huggingface_hub)")
    parser.add_argument("--quiet", "-q", action="store_true", help="print only errors and the closing summary "
                        "(implies --no-progress)")


def _run_convert(args: argparse.Namespace) -> int:
    from rsdata.build import conversion, convert

    if args.plan and (args.recipe is None or args.push_to_hub):
        raise OptionError("--plan is a dry run of a corpus recipe: rsdata convert --recipe FILE OUT --sources DIR "
                          "--plan (it writes and pushes nothing)")
    _check_push_target(args)
    if args.recipe is not None:
        status = _run_convert_corpus(args)
        return _push_after_convert(args, Path(args.format)) if status == 0 else status
    if args.source is None or args.output is None:
        raise OptionError("convert expects FORMAT SOURCE OUT (or --recipe FILE OUT for a corpus recipe)")
    if args.only or args.allow_missing:
        raise OptionError("--only and --allow-missing go with --recipe (a corpus recipe)")
    format_options = {}
    for pair in args.option:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise OptionError(f"-o expects KEY=VALUE, got {pair!r}")
        format_options[key] = value
    quiet = getattr(args, "quiet", False)
    format_name, format_options, options = conversion(
        **_format_or_recipe(args.format, quiet=quiet), format_options=format_options, source=args.source,
        say=None if quiet else lambda line: print(line, file=sys.stderr),
        splits=args.splits, limit=args.limit, seed=args.seed, max_side=args.max_side,
        allow_outside_links=args.allow_outside_links, reencode_format=args.reencode_format, verify=args.verify,
        image_format=args.image_format, jpeg_quality=args.jpeg_quality, images=args.images,
        max_shard_bytes=int(args.max_shard_mb * 2 ** 20), tile=args.tile, tile_overlap=args.overlap,
        tile_stride=args.tile_stride, tile_keep_share=args.tile_keep_share, max_pixels=args.max_pixels,
        source_name=args.source_name, license=args.license, on_error=args.on_error, num_proc=args.num_proc,
        overwrite=args.overwrite, progress=args.progress)
    result = convert(format_name, args.source, args.output, options, format_options)
    print(summary(result))
    return _push_after_convert(args, result.output)


def _format_or_recipe(text: str, quiet: bool = False) -> dict[str, str]:
    """FORMAT on the command line, by the one rule of :func:`rsdata.recipes_index.format_or_recipe` (a bare name
    is the format when there is one, else the dataset recipe; ``format:NAME`` / ``recipe:NAME`` choose), said on
    stderr when a name was looked up; an unknown name lists the close formats and recipes."""
    from rsdata.errors import close_names
    from rsdata.formats import available_formats
    from rsdata.recipe import recipe_names
    from rsdata.recipes_index import UnknownRecipeError, format_or_recipe

    formats = [source_format.name for source_format in available_formats()]
    try:
        target = format_or_recipe(text, formats)
    except UnknownRecipeError as error:
        raise OptionError(str(error)) from None
    if target.note and not quiet:
        print(f"note: {target.note}", file=sys.stderr)
    if target.recipe is not None:
        return {"recipe": str(target.recipe)}
    if target.format in formats:
        return {"format": target.format}
    hints = [f"format {name!r}" for name in close_names(target.format, formats)]
    hints += [f"recipe {name!r}" for name in close_names(target.format, recipe_names("dataset"))]
    raise OptionError(f"unknown format or dataset recipe {text!r}"
                      + (f" (did you mean {' or '.join(hints)}?)" if hints else "")
                      + f"; known formats: {', '.join(formats)}; or a dataset recipe: its name "
                      f"({', '.join(recipe_names('dataset'))}) or its file")


def _run_convert_corpus(args: argparse.Namespace) -> int:
    from rsdata.corpus import build_corpus, summary as corpus_summary
    from rsdata.corpus_recipe import load_corpus_recipe
    from rsdata.recipe import find_recipe

    if args.source is not None or args.output is not None:
        raise OptionError("with --recipe, convert expects only the output folder: rsdata convert --recipe FILE OUT")
    ignored = [flag for flag, value in (("--split", args.splits), ("--limit", args.limit), ("--tile", args.tile),
                                        ("--overlap", args.overlap), ("--tile-stride", args.tile_stride),
                                        ("--tile-keep-share", args.tile_keep_share),
                                        ("--source-name", args.source_name), ("--license", args.license),
                                        ("-o", args.option), ("--max-pixels", args.max_pixels),
                                        ("--max-side", args.max_side), ("--image-format", args.image_format),
                                        ("--jpeg-quality", args.jpeg_quality),
                                        ("--reencode-format", args.reencode_format)) if value]
    if ignored:
        raise OptionError(f"{', '.join(ignored)} cannot be used with --recipe: a corpus recipe sets them per source "
                          "(max_pixels: in the dataset recipe's convert_options; image size and encoding: "
                          "--images PROFILE, e.g. --images train448)")
    recipe = load_corpus_recipe(find_recipe(args.recipe, "corpus"))
    if args.plan:
        from rsdata.corpus import plan_corpus, plan_text

        print(plan_text(plan_corpus(recipe, args.sources, allow_outside_links=args.allow_outside_links,
                                    images=args.images)))
        return 0
    result = build_corpus(recipe, args.sources, Path(args.format), images=args.images, num_proc=args.num_proc,
                          on_error=args.on_error,
                          progress=args.progress, overwrite=args.overwrite,
                          allow_outside_links=args.allow_outside_links,
                          only=[name for text in args.only for name in text.split(",") if name],
                          allow_missing=args.allow_missing)
    print(corpus_summary(result))
    return 0


def _run_detect(args: argparse.Namespace) -> int:
    from rsdata.detect import NoLayoutMatched, detect

    detection = detect(args.source)
    if args.json:
        print(detection.to_json())
        return 0 if detection.best is not None else 1
    if detection.best is None:
        raise NoLayoutMatched(detection.no_match_message())
    print(detection.text(all=args.all))
    return 0


def _run_recipes(args: argparse.Namespace) -> int:
    from rsdata.recipes_index import UnknownRecipeError, recipes_command_text

    try:
        print(recipes_command_text(args.name, ("dataset", "corpus")), end="")
    except UnknownRecipeError as error:
        raise OptionError(str(error)) from None
    return 0


def _run_formats(args: argparse.Namespace) -> int:
    from rsdata.formats import available_formats, get_format

    if args.name is not None:
        print(format_specification(get_format(args.name)))
        return 0
    formats = available_formats()
    width = max(len(f.name) for f in formats)
    for source_format in formats:
        print(f"{source_format.name:<{width}}  {source_format.description}")
    return 0


def format_specification(source_format) -> str:
    """A format's specification: its name and description, then its module's docstring (the spec)."""
    import inspect

    module = sys.modules[source_format.__module__]
    spec = inspect.cleandoc(module.__doc__ or "") or "(this format's module has no specification)"
    return f"{source_format.name}: {source_format.description}\n\n{spec}"


def _run_demo(args: argparse.Namespace) -> int:
    from rsdata.demo import run_demo

    result = run_demo(args.output, num_images=args.num_images, seed=args.seed, num_proc=args.num_proc,
                      progress=args.progress)
    print(summary(result))
    if args.quiet:
        return 0
    print()
    print("The source is synthetic (generated shapes, CC0-1.0): "
          f"{args.output / 'source'} (see its README.md). Read the dataset with:")
    print(f"    {sys.executable} -c \"import datasets; print(datasets.load_dataset('{result.output.resolve()}'))\"")
    return 0


def summary(result) -> str:
    """A few lines saying what a conversion did."""
    report = result.report
    splits = ", ".join(f"{name} {split['images']}" for name, split in report.splits.items())
    lines = [
        f"Converted {report.images} image(s) ({splits}) with {report.captions} captions and {report.objects} "
        f"objects into {len(report.shards)} shard(s) in {result.output} "
        f"({result.seconds:.1f} s; {result.shards_resumed} shard(s) already done).",
    ]
    for layout in report.source_facts.get("Source layout", []):  # the mask formats say which layout they read
        lines.append(f"Source layout: {layout['layout']} ({layout['what']}; asked: {layout['asked']}): images in "
                     f"{layout['images']}, masks in {layout['masks']} (*{layout['mask_ending']}), class table "
                     f"{layout['classes']}.")
    for left_out in report.source_facts.get("Splits left out", []):
        lines.append(f"Left out split {left_out['split']} ({left_out['images']} image(s)): {left_out['reason']}.")
    if report.objects_per_category:
        top = sorted(report.objects_per_category.items(), key=lambda kv: (-kv[1], kv[0]))
        shown = ", ".join(f"{name} {count}" for name, count in top[:8])
        more = f" and {len(top) - 8} more" if len(top) > 8 else ""
        lines.append(f"Objects per category: {shown}{more}.")
    if report.skipped:
        reasons = ", ".join(f"{reason} {count}" for reason, count in report.skipped_per_reason.items())
        lines.append(f"Left out {len(report.skipped)} image(s): {reasons}. First ones:")
        for skipped in report.skipped[:5]:
            where = f"{skipped.path}:{skipped.line}" if skipped.line else skipped.path
            lines.append(f"  {skipped.reason}: {where}: {skipped.message}")
        lines.append(f"All of them are listed in {result.output / 'build_report.json'}.")
    return "\n".join(lines)


def _add_dedup(commands) -> None:
    from rsdata.dedup import DEFAULT_RULE, RULES
    from rsdata.phash import DEFAULT_MAX_DISTANCE

    dedup = commands.add_parser(
        "dedup", help="remove near-duplicate images (perceptual hash) from training datasets",
        description="Remove from the TRAIN datasets (rsdata outputs, in priority order) every image whose pHash is "
        "within --max-distance of an image of the --against test sets, then every later repeat of an earlier "
        "kept training image; write a copy of each to OUT/<name>/ and every removal to OUT/dedup_report.json. "
        "The test sets are not modified. Hashes are cached in each dataset's .rsdata/phash/.")
    dedup.add_argument("training", metavar="TRAIN", nargs="+",
                       help="a training dataset folder, or NAME=FOLDER (default name: the folder's name)")
    dedup.add_argument("--against", metavar="TEST", nargs="+", required=True,
                       help="evaluation test set folders (FOLDER or NAME=FOLDER)")
    dedup.add_argument("--against-split", metavar="SPLIT", action="append", dest="against_splits",
                       help="compare with this split of the test sets only (repeatable; default: every split)")
    dedup.add_argument("--out", metavar="OUT", type=Path, required=True, help="output folder")
    dedup.add_argument("--max-distance", type=int, metavar="D", default=DEFAULT_MAX_DISTANCE,
                       help="largest Hamming distance of a near-duplicate, inclusive (default %(default)s: the "
                       "paper's 'distance < 2')")
    dedup.add_argument("--rule", choices=list(RULES), default=DEFAULT_RULE,
                       help="the test-set check: 'paper' (RemoteCLIP's: pHash within --max-distance of a test "
                       "image) or 'robust' (also flipped, rotated, 3-5 %% cropped copies: within distance 4 of a "
                       "test image's 152 variant hashes); default %(default)s. Within the corpus both compare "
                       "plain pHashes within --max-distance")
    dedup.add_argument("--num-proc", type=int, metavar="N", default=1, help="hashing processes (same result)")
    _add_progress_options(dedup)
    dedup.set_defaults(run=_run_dedup)


def _run_dedup(args: argparse.Namespace) -> int:
    from rsdata.dedup import deduplicate, parse_side, summary as dedup_summary

    training = [parse_side(spec) for spec in args.training]
    test = [parse_side(spec, args.against_splits) for spec in args.against]
    run = deduplicate(training, test, args.out, max_distance=args.max_distance, rule=args.rule, num_proc=args.num_proc,
                      progress=args.progress)
    print(dedup_summary(run))
    return 0


def _add_push_to_hub_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--push-to-hub", metavar="USER/NAME", help="after a successful build, push OUT to this "
                        "Hub dataset repo (as `rsdata push`; token from HF_TOKEN or `hf auth login`)")
    parser.add_argument("--private", action="store_true", help="with --push-to-hub: create the repo private")
    parser.add_argument("--revision", metavar="BRANCH", help="with --push-to-hub: push to this branch (created "
                        "from main when missing)")


def _add_push(commands) -> None:
    push = commands.add_parser(
        "push", help="push a finished build to a Hugging Face Hub dataset repo",
        description="Push the rsdata build in OUT (shards, card, reports; never .rsdata/) to the dataset repo "
        "USER/NAME, created when missing. Files already on the Hub are not sent again; a push that failed midway "
        "is resumed by running it again. The token comes from HF_TOKEN or the stored login (`hf auth login`).")
    push.add_argument("output", metavar="OUT", type=Path, help="a finished `rsdata convert` output folder")
    push.add_argument("repo_id", metavar="USER/NAME", help="the dataset repo")
    push.add_argument("--private", action="store_true", help="create the repo private (an existing repo is kept)")
    push.add_argument("--revision", metavar="BRANCH", help="push to this branch (created from main when missing)")
    push.add_argument("--message", metavar="TEXT", help="commit message")
    _add_progress_options(push)
    push.set_defaults(run=_run_push)


def _run_push(args: argparse.Namespace) -> int:
    from rsdata.publish import push_dataset, push_summary

    result = push_dataset(args.output, args.repo_id, private=args.private, revision=args.revision,
                          commit_message=args.message, progress=args.progress)
    print(push_summary(result))
    return 0


def _check_push_target(args: argparse.Namespace) -> None:
    """Refuse a bad --push-to-hub before the conversion rather than after it."""
    if args.push_to_hub is None:
        if args.private or args.revision:
            raise OptionError("--private and --revision go with --push-to-hub USER/NAME")
        return
    from rsdata.publish import check_repo_id, resolve_token

    check_repo_id(args.push_to_hub)
    resolve_token()


def _push_after_convert(args: argparse.Namespace, output: Path) -> int:
    if args.push_to_hub is None:
        return 0
    from rsdata.publish import push_dataset, push_summary

    result = push_dataset(output, args.push_to_hub, private=args.private, revision=args.revision,
                          progress=args.progress)
    print(push_summary(result))
    return 0


def _add_show(commands) -> None:
    from rsdata.show import DEFAULT_NUM

    show = commands.add_parser(
        "show", help="write an HTML gallery and a PNG contact sheet of sampled rows",
        description="Sample rows of the dataset in OUT (an `rsdata convert` output, or an `rsdata demo` folder) "
        "and write HTML_DIR/index.html (each image with its boxes and category names drawn, its captions with "
        "their template ids, its provenance; filters by split and category in the page), the images beside it "
        "and HTML_DIR/contact_sheet.png. Works offline. The same options draw the same rows.")
    show.add_argument("output", metavar="OUT", type=Path, help="the dataset folder")
    show.add_argument("--split", metavar="NAME", help="sample from this split only (default: every split)")
    show.add_argument("--category", metavar="NAME", help="sample only rows with an object of this category")
    show.add_argument("--num", type=int, metavar="N", default=DEFAULT_NUM,
                      help="rows to show (default %(default)s)")
    show.add_argument("--seed", type=int, metavar="N", default=0, help="seed of the sample (default 0)")
    show.add_argument("-o", "--html-dir", type=Path, metavar="HTML_DIR",
                      help="the gallery folder (default: OUT-show, beside OUT)")
    show.set_defaults(run=_run_show)


def _run_show(args: argparse.Namespace) -> int:
    from rsdata.show import show_dataset

    result = show_dataset(args.output, args.html_dir, split=args.split, category=args.category, num=args.num,
                          seed=args.seed)
    print(result.line())
    return 0


if __name__ == "__main__":
    sys.exit(main())
