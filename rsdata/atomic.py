"""Writing files so that no reader ever sees half of one: write to a hidden temporary name beside the target
(``.<name>.<pid>.tmp``, so concurrent processes never share one), then ``os.replace`` it onto the final name.
The parent folder is created when missing. Used by every rsdata and rsmodel module that writes state or results.
"""

from __future__ import annotations

import json
import os
from pathlib import Path


def temporary_name(path: Path) -> Path:
    """The hidden temporary file a write of ``path`` goes through."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_text_atomic(path: Path, text: str, *, errors: str = "strict") -> None:
    """``text`` as UTF-8; ``errors="surrogateescape"`` writes file names that are no UTF-8 back as their bytes."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_name(path)
    try:
        temporary.write_text(text, encoding="utf-8", errors=errors)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """``data`` as they are."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_name(path)
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data, *, sort_keys: bool = True, indent: int | None = 2) -> None:
    """``data`` as JSON (sorted keys unless ``sort_keys=False`` keeps a deliberate order), UTF-8, final newline."""
    write_text_atomic(path, json.dumps(data, indent=indent, sort_keys=sort_keys, ensure_ascii=False) + "\n")


def save_array_atomic(path: Path, array) -> None:
    """A NumPy array as ``.npy`` (no pickles)."""
    import numpy as np

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = temporary_name(path)
    try:
        with open(temporary, "wb") as handle:
            np.save(handle, array, allow_pickle=False)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
