"""`rsdata demo`: the README's first command, end to end."""

from __future__ import annotations

import json

from rsdata.cli import main
from rsdata.synthetic import CATEGORIES
from tests.conftest import shard_path


def test_demo_generates_converts_and_prints_the_load_line(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "Converted 50 image(s) (train 40, validation 10)" in printed
    assert f"datasets.load_dataset('{(out / 'dataset').resolve()}')" in printed
    assert "synthetic" in (out / "source" / "README.md").read_text().lower()

    import datasets

    dataset = datasets.load_dataset(str(out / "dataset"), cache_dir=str(tmp_path / "cache"))
    assert (len(dataset["train"]), len(dataset["validation"])) == (40, 10)
    row = dataset["train"][0]
    assert row["source_dataset"] == "rsdata-synthetic-demo" and row["license"] == "cc0-1.0"
    assert len(row["captions"]) == 5 and row["image"].size == (row["width"], row["height"])
    report = json.loads((out / "dataset" / "build_report.json").read_text())
    assert set(report["objects_per_category"]) == set(CATEGORIES)
    assert report["skipped"] == []

    first = shard_path(out / "dataset").read_bytes()
    assert main(["demo", str(out), "--no-progress"]) == 0, "running the demo again works and gives the same data"
    assert shard_path(out / "dataset").read_bytes() == first


def test_demo_refuses_a_folder_it_did_not_write(tmp_path, capsys):
    (tmp_path / "source").mkdir()
    (tmp_path / "source" / "thesis.tex").write_text("precious")
    assert main(["demo", str(tmp_path), "--no-progress"]) == 1
    assert "was not written by `rsdata demo`" in capsys.readouterr().err
    assert (tmp_path / "source" / "thesis.tex").read_text() == "precious"


def test_demo_script_steps_train_and_evaluate_on_the_demo_dataset(rsdata_demo_dataset, tmp_path, capsys,
                                                                  monkeypatch):
    """The three steps of scripts/demo.sh, with the recipes it names (shortened training)."""
    import re
    from pathlib import Path

    import pytest

    pytest.importorskip("torch")
    from rsmodel.cli import main as rsmodel_main

    root = Path(__file__).resolve().parents[1]
    script = (root / "scripts" / "demo.sh").read_text()
    # The recipes by name (rsdata.recipes_index), so that the script runs against an installed wheel too.
    assert "rsmodel\" train tiny-cpu " in script and "--suite demo " in script
    run = tmp_path / "run"
    assert rsmodel_main(["train", "tiny-cpu", "-o", f"data.path={rsdata_demo_dataset}",
                         "-o", f"training.output_dir={run}", "-o", "training.max_steps=20",
                         "-o", f"data.cache_dir={tmp_path / 'cache'}"]) == 0
    # As the script does: the dataset named relative to the current folder (not to the suite's data_root).
    monkeypatch.chdir(rsdata_demo_dataset.parent)
    assert rsmodel_main(["eval", str(run), "--suite", "demo", "--dataset",
                         f"demo={rsdata_demo_dataset.name}", "--cache-dir", str(tmp_path / "embeddings"),
                         "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"\| rsdata demo \(synthetic DOTA-format shapes\) \| \d+\.\d\d \|", printed)
    result = json.loads((run / "eval" / "demo" / "retrieval.json").read_text())
    assert 0 <= result["metrics"]["retrieval/mean_recall"] <= 100
