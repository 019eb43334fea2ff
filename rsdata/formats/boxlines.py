"""Helpers for text formats that write one box per line (NWPU VHR-10, LEVIR, RSOD, ...): box conventions,
number fields and column orders. Every error names the file, the line and the field.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

from rsdata import errors
from rsdata.errors import OptionError, RecordError
from rsdata.records import Box

#: How the corners ``(x1, y1)``, ``(x2, y2)`` of a text label become a record box (exclusive ``x_max``/``y_max``).
BOX_CONVENTIONS = {
    "corners": "the numbers are the box's corner points: (x1, y1, x2, y2) as written",
    "pixels0": "0-based inclusive pixel indices: (x1, y1, x2 + 1, y2 + 1)",
    "pixels1": "1-based inclusive pixel indices, as PASCAL VOC: (x1 - 1, y1 - 1, x2, y2)",
}
# (offset added to x1/y1, offset added to x2/y2) per convention.
_BOX_OFFSETS = {"corners": (0.0, 0.0), "pixels0": (0.0, 1.0), "pixels1": (-1.0, 0.0)}


def check_box_convention(option: str, value: str) -> None:
    """Raise :class:`OptionError` unless ``value`` is one of :data:`BOX_CONVENTIONS`."""
    if value not in BOX_CONVENTIONS:
        accepted = "; ".join(f"{name} ({meaning})" for name, meaning in BOX_CONVENTIONS.items())
        raise OptionError(f"option {option}={value!r} is not a box convention; accepted: {accepted}")


def corner_box(x1: float, y1: float, x2: float, y2: float, convention: str) -> Box:
    """The record box of the two corners read under ``convention`` (one of :data:`BOX_CONVENTIONS`)."""
    low, high = _BOX_OFFSETS[convention]
    return (x1 + low, y1 + low, x2 + high, y2 + high)


def parse_coordinate(raw: str, name: str, path: Path, number: int) -> float:
    """``raw`` as a finite float, or a ``bad_number`` :class:`RecordError` naming the field ``name``."""
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise RecordError(path, f"{name} is {raw!r}, not a finite number", reason=errors.BAD_NUMBER, line=number)
    return value


def class_id_reason(raw: str) -> str:
    """The reason of a class id that the class table does not list: ``unknown_class`` for a whole number (a class
    the table lacks), ``bad_number`` for text that is not one."""
    try:
        int(raw)
    except ValueError:
        return errors.BAD_NUMBER
    return errors.UNKNOWN_CLASS


def check_corner_order(x1: float, y1: float, x2: float, y2: float, path: Path, number: int) -> None:
    """A bottom-right corner above or left of the top-left one is a ``bad_number`` error (swapped values)."""
    if x2 < x1 or y2 < y1:
        raise RecordError(path, f"bottom-right corner ({x2:g}, {y2:g}) lies left of or above the top-left corner "
                          f"({x1:g}, {y1:g})", reason=errors.BAD_NUMBER, line=number)


def parse_columns(option: str, value: str, names: Sequence[str]) -> tuple[int, ...]:
    """The position of each of ``names`` in the comma-separated column order ``value`` (a permutation of
    ``names``), or an :class:`OptionError` naming the option, the value and what is accepted."""
    given = [part.strip() for part in value.split(",")]
    if sorted(given) != sorted(names):
        raise OptionError(f"option {option}={value!r} must name each of the columns {', '.join(names)} once, "
                          f"separated by commas (for example {option}={','.join(names)})")
    return tuple(given.index(name) for name in names)
