"""What a command shows while it works: progress bars (ours and the libraries') and informational lines.

``--no-progress`` turns off every progress bar: rsdata's and rsmodel's own (each takes ``progress=False``) and
those that ``datasets`` (loading, ``map``), ``huggingface_hub`` (downloads, uploads) and ``transformers``
(``Trainer``) draw on their own. ``--quiet`` implies it and also drops the informational lines (what is being
converted, the training plan, per-step logs, per-result lines, library warnings below errors): what remains is
the errors and the closing summary that every command prints to standard output.

The switches are global in those libraries, so :func:`output_switches` restores them when the command ends
(commands run as ``main([...])`` inside a longer process leave no trace).
"""

from __future__ import annotations

import logging
import sys
from contextlib import contextmanager
from typing import Iterator

# Loggers of the libraries whose informational messages --quiet drops (their warnings stay at ERROR).
LIBRARY_LOGGERS = ("datasets", "huggingface_hub", "transformers", "accelerate")


@contextmanager
def output_switches(*, progress: bool = True, quiet: bool = False, transformers: bool = False,
                    datasets: bool = True) -> Iterator[None]:
    """Within the block, no library progress bar unless ``progress`` (and not ``quiet``), and with ``quiet`` no
    library message below ERROR. ``transformers``: switch its bar too (imports it; rsmodel only). ``datasets``:
    the command may draw ``datasets``' bars, so import it to switch them (about 1.4 s; a conversion never draws
    them and passes False: its bars are then switched only if it is imported already). The libraries are imported
    before their loggers are set: on import they set their own level."""
    undo = []
    if not progress or quiet:
        undo += _disable_bars(transformers, datasets or "datasets" in sys.modules)
    if quiet:
        for name in LIBRARY_LOGGERS:
            logger = logging.getLogger(name)
            undo.append(lambda logger=logger, level=logger.level: logger.setLevel(level))
            logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for restore in reversed(undo):
            restore()


def _disable_bars(transformers: bool, datasets_bars: bool) -> list:
    import huggingface_hub.utils as hub_utils

    undo = []
    if datasets_bars:
        import datasets

        if datasets.is_progress_bar_enabled():
            datasets.disable_progress_bars()
            undo.append(datasets.enable_progress_bars)
    if not hub_utils.are_progress_bars_disabled():
        hub_utils.disable_progress_bars()
        undo.append(hub_utils.enable_progress_bars)
    if transformers:
        from transformers.utils import logging as transformers_logging

        if transformers_logging.is_progress_bar_enabled():
            transformers_logging.disable_progress_bar()
            undo.append(transformers_logging.enable_progress_bar)
    return undo
