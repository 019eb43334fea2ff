"""The shared check behind every bad-input table (``tests/bad_input/test_<format>.py``).

A :class:`BadCase` writes a whole small source (good records plus exactly one bad one) and says what the CLI must
report about the bad one. :func:`check_case` runs ``rsdata convert`` on it twice, the way a user would:

1. with the default ``--on-error raise``: the exit status is ``case.exit_raise``; stderr names the file
   (``case.file``), the line or record (``case.where``) and carries the reason slug as ``[<slug>]``; and OUT
   holds nothing ``datasets.load_dataset`` can load;
2. with ``--on-error skip`` into a fresh folder: exit 0; ``build_report.json`` counts exactly one skip, under
   ``case.reason`` (``skipped_per_reason``, see :mod:`rsdata.report`); the output loads (the default datasets cache)
   and holds exactly ``case.good_rows`` rows, none of them the bad record's (``case.bad_record``).

Sources are written with ``make(root)``; helpers below write the traps every format shares (bomb headers,
corrupt images, links that leave the source).
"""

from __future__ import annotations

import json
import os
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rsdata.cli import main

#: Reason of a file or folder reached through a link that resolves outside SOURCE (contract of issue 12, not yet
#: in :mod:`rsdata.errors` when these tables were written).
LINK_OUTSIDE_SOURCE = "link_outside_source"


@dataclass(frozen=True)
class BadCase:
    id: str                       # pytest id, e.g. "dota-nan"
    reason: str                   # expected reason slug (rsdata.errors, or LINK_OUTSIDE_SOURCE)
    file: str                     # regex the error message must contain naming the file (relative or basename)
    where: str | None             # regex naming the line or record (r":3:", r"annotation id 7"); None only where
                                  # the file is the record (an image file) — say why in the table
    make: Callable[[Path], None]  # writes the WHOLE source under root: good record(s) plus the one bad record
    args: tuple[str, ...] = ()    # extra CLI args (e.g. ("-o", "classes=loveda"))
    fmt: str = ""                 # format name or recipe path passed to `rsdata convert`
    exit_raise: int = 1           # exit status expected with the default --on-error raise
    good_rows: int = 1            # rows the skip build must hold (the good records `make` writes)
    bad_record: str | None = None  # regex: no skip-build row's source_id or image path may match it


def check_case(case: BadCase, tmp_path: Path, capsys) -> None:
    """Run ``rsdata convert`` on ``case``'s source in raise mode, then in skip mode; see the module docstring.

    Every check runs even after one fails, and the test fails once with all of them listed, so a table shows at a
    glance which contracts a format misses."""
    assert case.fmt, f"{case.id}: BadCase.fmt is empty"
    source = tmp_path / "source"
    source.mkdir()
    case.make(source)
    problems: list[str] = []

    # 1. Raise mode: stops with the file, the line or record and the reason; nothing loadable is left.
    out = tmp_path / "out"
    capsys.readouterr()
    status = main(["convert", case.fmt, str(source), str(out), "--no-progress", *case.args])
    err = capsys.readouterr().err
    if status != case.exit_raise:
        problems.append(f"raise: exit status {status}, expected {case.exit_raise}")
    if not re.search(case.file, err):
        problems.append(f"raise: stderr does not name the file /{case.file}/")
    if case.where is not None and not re.search(case.where, err):
        problems.append(f"raise: stderr does not name the line or record /{case.where}/")
    if f"[{case.reason}]" not in err:
        problems.append(f"raise: stderr lacks the reason slug [{case.reason}]")
    loadable = _load_error(out)
    if loadable is not None:
        problems.append(f"raise: the stopped build left a loadable dataset: {loadable}")
    raise_err = err

    # 2. Skip mode: one skip under the reason; the good records load, the bad one is not among them.
    out2 = tmp_path / "out_skip"
    status = main(["convert", case.fmt, str(source), str(out2), "--no-progress", "--on-error", "skip", *case.args])
    err = capsys.readouterr().err
    if status != 0:
        problems.append(f"skip: exit status {status}, expected 0; stderr: {err.strip()}")
    else:
        report = json.loads((out2 / "build_report.json").read_text(encoding="utf-8"))
        if report["skipped_per_reason"] != {case.reason: 1}:
            problems.append(f"skip: skips by reason {report['skipped_per_reason']}, expected {{{case.reason!r}: 1}}; "
                            f"skipped: {report['skipped']}")
        try:
            rows = _rows(out2)
        except Exception as exc:  # noqa: BLE001 - reported with the other problems
            problems.append(f"skip: the output does not load: {type(exc).__name__}: {exc}")
        else:
            if len(rows) != case.good_rows:
                problems.append(f"skip: {len(rows)} rows loaded, expected {case.good_rows}: {rows}")
            if case.bad_record is not None:
                leaked = [r for r in rows if re.search(case.bad_record, r["source_id"] or "")
                          or re.search(case.bad_record, r["image_path"] or "")]
                if leaked:
                    problems.append(f"skip: the bad record /{case.bad_record}/ was written: {leaked}")
    assert not problems, (f"{case.id} ({case.reason}):\n  - " + "\n  - ".join(problems)
                          + f"\n  raise-mode stderr:\n{raise_err}")


def _load_error(out: Path) -> str | None:
    """None when ``out`` holds nothing loadable (missing, or ``load_dataset`` raises), else what loaded."""
    import datasets

    if not out.exists():
        return None
    try:
        loaded = datasets.load_dataset(str(out))
    except Exception:  # noqa: BLE001 - any failure to load is what we want here
        return None
    return repr(loaded)


def _rows(out: Path) -> list[dict]:
    """source_id and image path of every row of every split, read with ``load_dataset`` and the default cache
    (the test session's one, shared by every test's folders named ``out_skip``: a user's case, and the one where
    an earlier rsdata returned another folder's rows)."""
    import datasets

    loaded = datasets.load_dataset(str(out))
    rows = []
    for split in loaded.values():
        plain = split.cast_column("image", datasets.Image(decode=False))
        for source_id, image in zip(plain["source_id"], plain["image"]):
            rows.append({"source_id": source_id, "image_path": image["path"]})
    return rows


# ---------------------------------------------------------------------------------------------------------------
# Shared traps.

def image_bytes(width: int = 64, height: int = 48, fmt: str = "JPEG", color=(90, 120, 60)) -> bytes:
    """A small valid image (see :func:`tests.conftest.image_bytes`)."""
    from tests.conftest import image_bytes as _image_bytes

    return _image_bytes(width, height, fmt, color)


def bomb_png(width: int = 30000, height: int = 30000) -> bytes:
    """A few-KB PNG whose IHDR claims ``width`` x ``height`` pixels (an image bomb): valid chunks and CRCs, one
    small compressed IDAT that would expand to gigabytes."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    idat = zlib.compress(b"\x00" * 65536, 9)  # the first rows of zeros; the rest is missing, never decoded
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def corrupt_jpeg() -> bytes:
    """A JPEG cut in half (no end-of-image marker): caught by the default structure check."""
    data = image_bytes()
    return data[: len(data) // 2]


def corrupt_png() -> bytes:
    """A PNG with one flipped byte inside its IDAT (checksum mismatch)."""
    data = bytearray(image_bytes(fmt="PNG"))
    at = data.index(b"IDAT") + 8
    data[at] ^= 0xFF
    return bytes(data)


def link_outside(link: Path, target_dir: Path, name: str, data: bytes) -> None:
    """Write ``data`` to ``target_dir/name`` (a folder outside the source) and make ``link`` a symlink to it."""
    target_dir.mkdir(parents=True, exist_ok=True)
    target = target_dir / name
    target.write_bytes(data)
    link.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, link)


def outside(root: Path) -> Path:
    """A folder beside the source root (outside SOURCE) for link targets."""
    return root.parent / "elsewhere"


LATIN1 = "caf\xe9".encode("latin-1")  # bytes that are not UTF-8
