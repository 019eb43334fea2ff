"""Shared fixtures: the real samples in ../shared/realdata (skipped with the reason when absent) and small
generated DOTA source trees."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

REALDATA = Path(__file__).resolve().parents[2] / "shared" / "realdata"


def realdata(name: str) -> Path:
    """The real-sample folder ``name``; skips the calling test when the shared samples are not present."""
    folder = REALDATA / name
    if not folder.is_dir():
        pytest.skip(f"real samples {folder} are not present (they live in ../shared/realdata, beside the checkout)")
    return folder


def shard_path(folder: Path, split: str = "train", index: int = 0) -> Path:
    """The published shard ``index`` of ``split`` in an rsdata output ``folder`` (its name ends in the build's
    content digest, so tests find it by its split and number)."""
    matches = sorted((Path(folder) / "data").glob(f"{split}-{index:05d}-of-*.parquet"))
    assert len(matches) == 1, f"expected one shard {split} #{index} in {folder}/data, found {matches}"
    return matches[0]


def image_bytes(width: int = 64, height: int = 48, fmt: str = "JPEG", color=(90, 120, 60)) -> bytes:
    """A small image in ``fmt`` with a little structure (so JPEG and PNG encoders do real work)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), color)
    ImageDraw.Draw(image).rectangle((width // 4, height // 4, width // 2, height // 2), fill=(200, 30, 30))
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def write_dota_item(root: Path, stem: str, lines: list[str] | str | bytes | None, *, split: str | None = None,
                    image: bytes | None = None, suffix: str = ".jpg", header: bool = True) -> None:
    """Write one DOTA image and label file below ``root`` (``root/<split>/...`` when ``split`` is given).

    ``lines`` may be object lines (a header is added unless ``header=False``), raw text or bytes written as they
    are, or None for no label file; ``image=None`` writes a 64 x 48 JPEG, ``image=b""`` no image at all.
    """
    base = root / split if split else root
    (base / "images").mkdir(parents=True, exist_ok=True)
    (base / "labelTxt").mkdir(parents=True, exist_ok=True)
    if image != b"":
        (base / "images" / f"{stem}{suffix}").write_bytes(image if image is not None else image_bytes())
    if lines is None:
        return
    label = base / "labelTxt" / f"{stem}.txt"
    if isinstance(lines, bytes):
        label.write_bytes(lines)
    elif isinstance(lines, str):
        label.write_text(lines, encoding="utf-8")
    else:
        head = ["imagesource:GoogleEarth", "gsd:0.5"] if header else []
        label.write_text("\n".join(head + lines) + "\n", encoding="utf-8")


@pytest.fixture
def dota_source(tmp_path: Path) -> Path:
    """A small valid two-split DOTA source: 6 train images, 2 val images, several categories."""
    root = tmp_path / "dota"
    objects = [
        ["10 10 20 10 20 20 10 20 plane 0", "30 30 40 30 40 40 30 40 ship 1"],
        ["5 5 15 5 15 15 5 15 small-vehicle 0"] * 3,
        ["20 15 40 15 40 30 20 30 storage-tank 0", "1 1 5 1 5 5 1 5 storage-tank 0", "50 2 60 2 60 9 50 9 plane 0"],
        ["25 20 35 20 35 28 25 28 harbor 0"],
        ["2 2 12 2 12 12 2 12 ship 0"] * 12,
        ["0 0 63 0 63 47 0 47 ground-track-field 0"],
    ]
    for index, lines in enumerate(objects):
        write_dota_item(root, f"P{index:04d}", lines, split="train",
                        suffix=".png" if index % 2 else ".jpg",
                        image=image_bytes(fmt="PNG" if index % 2 else "JPEG", color=(10 * index, 100, 50)))
    for index in range(2):
        write_dota_item(root, f"V{index:04d}", ["10 10 30 10 30 30 10 30 tennis-court 0"], split="val")
    return root


# ---------------------------------------------------------------------------------------------------------------
# The local Hub (tests/hub_server.py). The Hugging Face clients read HF_ENDPOINT and friends once, when they are
# first imported, so the port is reserved and the variables set here, as this file is imported before any test
# module; the server itself starts the first time a test asks for `local_hub`.

from tests import hub_server as _hub_server  # noqa: E402

_HUB_SOCKET = _hub_server.configure_client_environment()


@pytest.fixture(scope="session")
def _local_hub_server():
    hub = _hub_server.LocalHub(_HUB_SOCKET).start()
    yield hub
    hub.stop()


@pytest.fixture
def local_hub(_local_hub_server, monkeypatch):
    """The local Hub (:class:`tests.hub_server.LocalHub`), empty, with huggingface_hub / datasets / transformers
    in this process talking to it and ``HF_TOKEN`` set to its fake token (``local_hub.token``)."""
    hub = _local_hub_server
    hub.reset()
    monkeypatch.setenv("HF_TOKEN", hub.token)
    _hub_server.point_clients_at(hub, monkeypatch)
    yield hub
    hub.reset()
    _hub_server.forget_client_state()


@pytest.fixture(scope="session")
def rsdata_demo_dataset(tmp_path_factory) -> Path:
    """The `rsdata demo` dataset (50 synthetic images, train 40 / validation 10), built once per test session."""
    from rsdata.demo import run_demo

    out = tmp_path_factory.mktemp("rsdata-demo")
    run_demo(out, progress=False)
    return out / "dataset"
