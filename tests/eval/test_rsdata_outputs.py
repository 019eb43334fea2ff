"""Contract 1 end to end: evaluation sets built by ``rsdata convert`` (formats class_folders, rs_captions and
remotecount on small generated sources) are what ``rsmodel eval`` reads, under the suite's dataset names."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")

from rsdata.cli import main as rsdata  # noqa: E402
from rsmodel.cli import main as rsmodel  # noqa: E402
from tests.conftest import write_dota_item  # noqa: E402
from tests.eval.test_eval_cli import FAST, SUITE  # noqa: E402
from tests.eval.tiny import image_png, write_tiny_model  # noqa: E402


def box(x: int, y: int, label: str) -> str:
    return f"{x} {y} {x + 6} {y} {x + 6} {y + 6} {x} {y + 6} {label} 0"


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    from rsdata.formats import get_format

    for name in ("class_folders", "rs_captions", "remotecount"):
        get_format(name)  # the formats of the evaluation sets
    root = tmp_path_factory.mktemp("rsdata-eval")
    for index, (folder, colour) in enumerate((("Airport", (200, 200, 200)), ("StorageTanks", (30, 60, 200)),
                                              ("dense_residential", (150, 80, 40)))):
        (root / "scenes" / folder).mkdir(parents=True)
        for i in range(5):
            (root / "scenes" / folder / f"{folder.lower()}_{i}.png").write_bytes(image_png(colour, 10 * index + i))
    (root / "captions" / "images").mkdir(parents=True)
    captions, files = [], []
    for i in range(4):
        (root / "captions" / "images" / f"im{i}.png").write_bytes(image_png((40 * i, 50, 90), i))
        captions += [f"caption {k} of image {i}" for k in range(5)]
        files += [f"im{i}.png"] * 5
    (root / "captions" / "test_caps.txt").write_text("\n".join(captions) + "\n")
    (root / "captions" / "test_filename.txt").write_text("\n".join(files) + "\n")
    for i, count in enumerate((1, 3, 7)):
        write_dota_item(root / "dota", f"P{i:04d}", [box(4 * k % 40, 4 * k // 40 * 8, "plane") for k in range(count)],
                        split="val", image=image_png((90, 90, 20 * i), i, size=64), suffix=".png")
    data = root / "data"
    assert rsdata(["convert", "class_folders", str(root / "scenes"), str(data / "aid")]) == 0
    assert rsdata(["convert", "rs_captions", str(root / "captions"), str(data / "rsicd")]) == 0
    assert rsdata(["convert", "remotecount", str(root / "dota"), str(data / "remotecount")]) == 0
    write_tiny_model(root / "model")
    return root


def test_rsdata_outputs_evaluate_through_the_suite(built):
    out = built / "out"
    assert rsmodel(["eval", str(built / "model"), "--suite", str(SUITE), "--data-root", str(built / "data"),
                    "--datasets", "aid,rsicd,remotecount", "--cache-dir", str(built / "cache"), "--output",
                    str(out), "--no-progress", *FAST, "-o", "linear_probe.validation_fraction=0.25"]) == 0
    results = {p.relative_to(out).as_posix(): json.loads(p.read_text()) for p in out.glob("*/*.json")}
    assert sorted(results) == ["aid/few_shot.json", "aid/knn.json", "aid/linear_probe.json", "aid/zero_shot.json",
                               "remotecount/counting.json", "rsicd/retrieval.json"]
    # 5 images per class: 4 train + 1 test (floor(0.8 n) train)
    assert results["aid/knn.json"]["dataset"]["rows"] == {"train": 12, "test": 3}
    assert results["aid/zero_shot.json"]["details"]["prompts"] == [
        "a satellite photo of airport.", "a satellite photo of storage tanks.",
        "a satellite photo of dense residential."]
    assert results["rsicd/retrieval.json"]["details"]["images"] == 4
    assert results["rsicd/retrieval.json"]["details"]["captions"] == 20
    assert results["remotecount/counting.json"]["details"]["rows_per_count"] == [1, 0, 1, 0, 0, 0, 1, 0, 0, 0]
