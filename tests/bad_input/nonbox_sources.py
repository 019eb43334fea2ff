"""What the non-box formats' bad-input tables (auair, stanford_drone, index_mask, rgb_mask, isaid, rs_captions,
class_folders, remotecount) need beyond :mod:`tests.bad_input.harness`: masks and images written from arrays, and
a file writer that makes its folders."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np


def png_of(array: np.ndarray, mode: str | None = None) -> bytes:
    """PNG bytes of ``array``: h x w (grey or class indices; uint16 gives a 16-bit PNG), h x w x 2 (grey + alpha),
    h x w x 3 (RGB) or h x w x 4 (RGBA)."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(array, mode=mode).save(buffer, "PNG")
    return buffer.getvalue()


def cut_in_half(data: bytes) -> bytes:
    """The first half of an encoded file: its header intact, its data and end marker gone."""
    return data[:len(data) // 2]


def write(path: Path, data: bytes | str) -> None:
    """Write ``data`` (text as UTF-8) to ``path``, making its folders."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)


def check_stops_build(case, tmp_path: Path, capsys) -> None:
    """For a bad input no record can be skipped around (a damaged file that every record shares): with
    ``--on-error raise`` and with ``--on-error skip`` the build stops with ``case.exit_raise``, stderr names the
    file (``case.file``), the line or record (``case.where``) and, when ``case.reason`` is set, the reason slug;
    neither OUT holds anything loadable. ``case`` is a :class:`~tests.bad_input.harness.BadCase`."""
    import re

    from rsdata.cli import main
    from tests.bad_input.harness import _load_error

    source = tmp_path / "source"
    source.mkdir()
    case.make(source)
    for mode in ("raise", "skip"):
        out = tmp_path / f"out_{mode}"
        capsys.readouterr()
        status = main(["convert", case.fmt, str(source), str(out), "--no-progress", "--on-error", mode, *case.args])
        err = capsys.readouterr().err
        assert status == case.exit_raise, f"{case.id} ({mode}): exit status {status}, expected {case.exit_raise}:\n{err}"
        assert re.search(case.file, err), f"{case.id} ({mode}): stderr does not name the file /{case.file}/:\n{err}"
        if case.where is not None:
            assert re.search(case.where, err), f"{case.id} ({mode}): stderr does not name /{case.where}/:\n{err}"
        if case.reason:
            assert f"[{case.reason}]" in err, f"{case.id} ({mode}): stderr lacks [{case.reason}]:\n{err}"
        loaded = _load_error(out)
        assert loaded is None, f"{case.id} ({mode}): the stopped build left a loadable dataset: {loaded}"


def png16_rgb(array: np.ndarray) -> bytes:
    """A 16-bit RGB PNG of an h x w x 3 array (Pillow cannot write one; GDAL's PNG driver can)."""
    import warnings

    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.io import MemoryFile

    height, width, _ = array.shape
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with MemoryFile() as memory:
            with memory.open(driver="PNG", width=width, height=height, count=3, dtype="uint16") as dataset:
                dataset.write(np.moveaxis(array.astype(np.uint16), -1, 0))
            return memory.read()
