"""The one error family of rsdata.

Every error names where the problem is (file, and line or record when there is one), what was wrong, and what
would be accepted. Record-level errors carry a stable ``reason`` slug: with ``--on-error skip`` the build counts
skips by that slug in its report and dataset card, so the slugs are part of the output format and never change
meaning.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Iterable

# Reasons a record (one source image) can be rejected. Stable identifiers: they appear in build reports and cards.
MALFORMED_LINE = "malformed_line"
BAD_NUMBER = "bad_number"
OBJECT_OUTSIDE_IMAGE = "object_outside_image"
MISSING_IMAGE = "missing_image"
MISSING_ANNOTATION = "missing_annotation"
CORRUPT_IMAGE = "corrupt_image"
UNSUPPORTED_IMAGE = "unsupported_image"
IMAGE_TOO_LARGE = "image_too_large"
EMPTY_LABEL_FILE = "empty_label_file"
NOT_UTF8 = "not_utf8"
UNKNOWN_CLASS = "unknown_class"  # a class id, colour or index that the class table does not list
SIZE_MISMATCH = "size_mismatch"  # an annotation raster whose size differs from its image's
# A file reached through a symbolic link that leads out of the source folder (allowed by --allow-outside-links).
LINK_OUTSIDE_SOURCE = "link_outside_source"
# Not an error: an image whose annotations describe nothing is not captioned (captions.md, b2c/1).
NO_OBJECTS = "no_objects"

RECORD_ERROR_REASONS = (
    MALFORMED_LINE,
    BAD_NUMBER,
    OBJECT_OUTSIDE_IMAGE,
    MISSING_IMAGE,
    MISSING_ANNOTATION,
    CORRUPT_IMAGE,
    UNSUPPORTED_IMAGE,
    IMAGE_TOO_LARGE,
    EMPTY_LABEL_FILE,
    NOT_UTF8,
    UNKNOWN_CLASS,
    SIZE_MISMATCH,
    LINK_OUTSIDE_SOURCE,
)


class RsdataError(Exception):
    """Base class of every error rsdata raises on purpose."""


class SourceLayoutError(RsdataError):
    """The source folder does not have the layout the format expects (names the folder and the next step)."""


class OutputFolderError(RsdataError):
    """The output folder cannot be used as asked (it holds a different build, or is not a folder)."""


class EmptyBuildError(RsdataError):
    """A build left every source record out: its report lists why, and the output holds no loadable dataset."""


class OptionError(RsdataError):
    """A command-line or API option has a value outside what is accepted (names the option and valid values)."""


class PublishError(RsdataError):
    """Publishing to the Hub failed or was refused: names the folder or repo, what went wrong, and the next step
    (a push that failed midway is resumed by running it again). Never carries the token."""


class RecordError(RsdataError):
    """One source record is bad: ``path`` (and ``line``, 1-based, when known) says where, ``reason`` what kind.

    ``reason`` is one of :data:`RECORD_ERROR_REASONS`.
    """

    def __init__(self, path: str | Path, message: str, *, reason: str, line: int | None = None):
        self.path = str(path)
        self.message = message
        self.reason = reason
        self.line = line
        super().__init__(self.location + ": " + message)

    @property
    def location(self) -> str:
        return f"{self.path}:{self.line}" if self.line is not None else self.path

    def __reduce__(self):
        # Worker processes send errors back to the parent by pickling; keyword-only arguments need this.
        return (_rebuild_record_error, (self.path, self.message, self.reason, self.line))


def _rebuild_record_error(path: str, message: str, reason: str, line: int | None) -> RecordError:
    return RecordError(path, message, reason=reason, line=line)


def close_names(name: str, choices: Iterable[str], count: int = 3) -> list[str]:
    """The ``choices`` nearest to ``name``, best first: those equal to it but for case, then difflib's close
    matches (compared case-insensitively, so ``DOTA`` finds ``dota``)."""
    choices = list(dict.fromkeys(choices))
    folded = {}
    for choice in choices:
        folded.setdefault(choice.casefold(), []).append(choice)
    found = [c for c in choices if c.casefold() == name.casefold() and c != name]
    for match in difflib.get_close_matches(name.casefold(), list(folded), n=count, cutoff=0.6):
        found += [c for c in folded[match] if c not in found and c != name]
    return found[:count]


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """``" (did you mean 'dota'?)"`` (or ``'a' or 'b'``) for an unknown ``name``, or "" when nothing is close:
    what every "unknown NAME" message appends right after the bad value."""
    found = close_names(name, choices)
    return f" (did you mean {' or '.join(repr(c) for c in found)}?)" if found else ""
