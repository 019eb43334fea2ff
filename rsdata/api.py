"""The Python API: each ``rsdata`` command as one function taking recipe names or paths, returning a result object.

:func:`convert` (``rsdata convert``), :func:`build_corpus` (``rsdata convert --recipe``), :func:`deduplicate`
(``rsdata dedup``) and :func:`push` (``rsdata push``), exported as ``rsdata.convert`` and so on. They take the
command line's settings as keyword arguments with the same names and defaults, and raise the
:class:`~rsdata.errors.RsdataError` family where the command line prints ``error: ...``. The work stays in the
library modules; these functions only resolve names and fill in defaults, as the command line does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

from rsdata.build import ConvertResult


def convert(source: str | Path, output: str | Path, *, recipe: Any = None, format: str | None = None,
            format_options: Mapping[str, Any] | None = None, **options: Any) -> ConvertResult:
    """Convert the source folder ``source`` into a captioned dataset in ``output``; returns its
    :class:`~rsdata.build.ConvertResult` (``report``: the build report, ``output``: the folder).

    Give a dataset ``recipe`` (a name such as ``"dior"``, a recipe file, or a loaded
    :class:`~rsdata.recipe.DatasetRecipe`: format, format options, caption names, licence and its conversion
    settings) or a ``format`` (``"dota"``; see ``rsdata formats``). ``format_options`` are the format's own options
    (``-o KEY=VALUE``); ``options`` are :class:`~rsdata.build.ConvertOptions` fields (``splits=["val"]``,
    ``limit=10``, ``tile=512``, ``on_error="skip"``, ``progress=False``, ``image_format="jpeg"``, ...) and win over
    the recipe's; ``images="train448"`` applies an image profile (JPEG q95, longer side at most 448 px). A recipe
    with layout variants reads ``source`` with the options of the variant found there (:mod:`rsdata.detect`).
    """
    from rsdata.build import conversion, convert as run

    format_name, merged_format_options, convert_options = conversion(recipe=recipe, format=format,
                                                                     format_options=format_options,
                                                                     source=source, **options)
    return run(format_name, source, output, convert_options, merged_format_options)


def build_corpus(recipe: Any, output: str | Path, *, sources: str | Path = ".", only: Sequence[str] = (),
                 allow_missing: bool = False, num_proc: int = 1, on_error: str = "raise", progress: bool = True,
                 overwrite: bool = False, allow_outside_links: bool = False, images: str | None = None):
    """Build a corpus ``recipe`` (a name such as ``"remoteclip"``, a file, or a loaded
    :class:`~rsdata.corpus_recipe.CorpusRecipe`) from the source folders under ``sources`` into ``output``; returns
    the :class:`~rsdata.corpus.CorpusResult`. ``only``: build only these sources; ``allow_missing``: leave out
    every missing source folder; ``images``: an image profile such as ``"train448"`` (the training-ready build:
    JPEG q95, longer side at most 448 px), built into its own ``output`` (see :func:`rsdata.corpus.build_corpus`)."""
    from rsdata.corpus import build_corpus as run
    from rsdata.corpus_recipe import CorpusRecipe, load_corpus_recipe
    from rsdata.recipe import find_recipe

    if not isinstance(recipe, CorpusRecipe):
        recipe = load_corpus_recipe(find_recipe(recipe, "corpus"))
    return run(recipe, sources, output, num_proc=num_proc, on_error=on_error, progress=progress,
               overwrite=overwrite, allow_outside_links=allow_outside_links, only=_names(only),
               allow_missing=allow_missing, images=images)


def deduplicate(training: Any, against: Any, output: str | Path, *, against_splits: Sequence[str] | None = None,
                max_distance: int | None = None, rule: str | None = None, num_proc: int = 1, progress: bool = True):
    """Remove from the ``training`` datasets every near-duplicate of an image of the ``against`` test sets, then
    every later repeat of a kept training image; write a copy of each into ``output/<name>/``; returns the
    :class:`~rsdata.dedup.DedupRun`. Each side is a folder, ``"NAME=FOLDER"``, a ``(name, folder)`` pair, a list of
    these, or a mapping of name to folder (training sources in priority order)."""
    from rsdata.dedup import DEFAULT_MAX_DISTANCE, DEFAULT_RULE, deduplicate as run, parse_side

    def sides(value: Any, splits: Sequence[str] | None) -> list:
        if isinstance(value, (str, Path)):
            value = [value]
        elif isinstance(value, Mapping):
            value = list(value.items())
        return [parse_side(str(item), splits) if isinstance(item, (str, Path))
                else (item[0], Path(item[1]), tuple(splits) if splits else None) for item in value]

    return run(sides(training, None), sides(against, against_splits), output,
               max_distance=DEFAULT_MAX_DISTANCE if max_distance is None else max_distance,
               rule=rule or DEFAULT_RULE, num_proc=num_proc, progress=progress)


def push(output: str | Path, repo_id: str, *, private: bool = False, revision: str | None = None,
         message: str | None = None, progress: bool = True, token: str | None = None):
    """Push the finished build in ``output`` (a dataset or a corpus) to the Hub dataset repo ``repo_id``; returns
    the :class:`~rsdata.publish.PushResult`. Running it again resumes a push cut midway."""
    from rsdata.publish import push_dataset

    return push_dataset(output, repo_id, private=private, revision=revision, token=token, commit_message=message,
                        progress=progress)


def _names(values: Sequence[str] | str) -> list[str]:
    values = [values] if isinstance(values, str) else list(values)
    return [name for text in values for name in str(text).split(",") if name]
