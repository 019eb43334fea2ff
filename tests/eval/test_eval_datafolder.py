"""``rsmodel eval`` reads local dataset folders exactly as they are on disk (rsmodel.datafolder): two folders with
the same name and a rebuild in place give their own rows; folders ``datasets`` refuses give an ``error:`` line
naming the folder and file; ``--skip-unavailable`` skips a task whose split the dataset lacks and goes on.

One ``datasets`` cache for each whole test, used like the default location (see tests/test_train_datafolder.py)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
datasets = pytest.importorskip("datasets")
pytest.importorskip("transformers")

from rsmodel.cli import main  # noqa: E402
from tests.eval.test_eval_cli import FAST, SUITE  # noqa: E402
from tests.eval.tiny import write_classification_set, write_tiny_model  # noqa: E402
from tests.test_train_datafolder import error_line, write_empty_shard  # noqa: E402

CARD = """---
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*
  - split: test
    path: data/test-*
---
"""


@pytest.fixture
def default_cache(tmp_path, monkeypatch) -> Path:
    cache = tmp_path / "hf-datasets-cache"
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(cache))
    return cache


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return write_tiny_model(tmp_path_factory.mktemp("eval-model") / "model")


def aid(folder: Path, test_per_class: int) -> Path:
    """A classification set as rsdata writes it (shards and a card with configs), rebuilt from scratch."""
    for old in (folder / "data").glob("*") if (folder / "data").is_dir() else ():
        old.unlink()
    write_classification_set(folder, train_per_class=2, test_per_class=test_per_class)
    (folder / "README.md").write_text(CARD)
    return folder


def eval_args(model: Path, dataset: Path, out: Path, tasks: str, *extra: str) -> list[str]:
    return ["eval", str(model), "--suite", str(SUITE), "--datasets", "aid", "--tasks", tasks, "--dataset",
            f"aid={dataset}", "--cache-dir", str(out.parent / "embeddings"), "--output", str(out), "--no-progress",
            *FAST, *extra]


def test_same_named_folders_and_a_rebuild_are_evaluated_on_their_own_rows(tmp_path, default_cache, model):
    first, second = aid(tmp_path / "one" / "aid", 3), aid(tmp_path / "two" / "aid", 5)
    rows = {}
    for name, folder in (("first", first), ("second", second)):
        assert main(eval_args(model, folder, tmp_path / name, "zero_shot")) == 0
        rows[name] = json.loads((tmp_path / name / "aid" / "zero_shot.json").read_text())["dataset"]["rows"]
    assert rows == {"first": {"test": 9}, "second": {"test": 15}}
    aid(second, 4)
    assert main(eval_args(model, second, tmp_path / "rebuilt", "zero_shot")) == 0
    record = json.loads((tmp_path / "rebuilt" / "aid" / "zero_shot.json").read_text())
    assert record["dataset"]["rows"] == {"test": 12}


def test_folders_datasets_refuses_give_an_error_line(tmp_path, default_cache, model, capsys):
    empty = aid(tmp_path / "empty" / "aid", 2)
    write_empty_shard(empty, "test-00000-of-00001.parquet")
    corrupt = aid(tmp_path / "corrupt" / "aid", 2)
    broken = corrupt / "data" / "test-00000-of-00001.parquet"
    broken.write_bytes(b"PAR1 not parquet" * 8)
    nothing = tmp_path / "nothing" / "aid"
    nothing.mkdir(parents=True)
    cases = [(empty, ["aid: cannot load split 'test'", "data/test-00000-of-00001.parquet", "holds no rows"]),
             (corrupt, [f"aid: cannot load split 'test': {broken}: not a readable Parquet file"]),
             (nothing, [f"aid: cannot load as a dataset: {nothing}", "doesn't contain any data files"])]
    for folder, fragments in cases:
        assert main(eval_args(model, folder, tmp_path / "out", "zero_shot")) == 1
        err = capsys.readouterr().err
        line = error_line(err)
        assert all(fragment in line for fragment in fragments), line
        assert "Traceback" not in err


def test_skip_unavailable_skips_a_task_whose_split_is_missing_and_goes_on(tmp_path, default_cache, model, capsys):
    folder = aid(tmp_path / "aid", 3)
    (folder / "data" / "train-00000-of-00001.parquet").unlink()  # linear_probe needs train; zero_shot only test
    (folder / "README.md").write_text(CARD.replace("  - split: train\n    path: data/train-*\n", ""))
    out = tmp_path / "out"
    assert main(eval_args(model, folder, out, "zero_shot,linear_probe")) == 1
    assert "no split 'train' (role train); splits: test" in error_line(capsys.readouterr().err)
    assert main(eval_args(model, folder, out, "zero_shot,linear_probe", "--skip-unavailable")) == 0
    printed = capsys.readouterr().out
    assert f"skipped 1 tasks (aid/linear_probe: no split 'train' (role train) in {folder}; its splits: test)" \
        in printed
    assert sorted(p.relative_to(out).as_posix() for p in out.glob("*/*.json")) == ["aid/zero_shot.json"]
    assert "- aid/linear_probe: no split 'train'" in (out / "summary.md").read_text()
    assert json.loads((out / "summary.json").read_text())["skipped"] == {
        "aid/linear_probe": f"no split 'train' (role train) in {folder}; its splits: test"}
