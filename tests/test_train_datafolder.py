"""Local dataset folders are read exactly as they are on disk (rsmodel.datafolder), through ``rsmodel train``:
two folders with the same name, a rebuild in place, folders rsdata did not write, and every folder ``datasets``
refuses (a clear ``error:`` line, never a traceback); a model folder whose weights are only a pickle.

These tests use ``datasets``' default cache location (one folder for the whole test, like a user's
``~/.cache/huggingface/datasets``): a cache per load would hide the stale-cache bug they guard against."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
datasets = pytest.importorskip("datasets")
pytest.importorskip("transformers")

from rsmodel.cli import main  # noqa: E402
from rsmodel.datafolder import load_local_split  # noqa: E402
from rsmodel.training import RUN_RECORD  # noqa: E402
from tests.test_train import TINY, tokenizer_available  # noqa: E402,F401 - a fixture
from tests.test_train_data import coloured_rows, write_dataset  # noqa: E402

# The card rsdata writes (rsdata/card.py): a config whose data_files are patterns, not files.
CARD = """---
configs:
- config_name: default
  data_files:
  - split: train
    path: data/train-*
---
# {name}
"""


@pytest.fixture
def default_cache(tmp_path, monkeypatch) -> Path:
    """One datasets cache for the whole test, used the way the default location is (no cache_dir anywhere)."""
    cache = tmp_path / "hf-datasets-cache"
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(cache))
    return cache


def rsdata_like(folder: Path, rows: int, prefix: str) -> Path:
    """A folder as rsdata writes it: data/train-00000-of-00001.parquet and a README.md card with configs."""
    for old in (folder / "data").glob("*") if (folder / "data").is_dir() else ():
        old.unlink()
    write_dataset(folder, coloured_rows(rows, prefix))
    (folder / "README.md").write_text(CARD.format(name=prefix))
    return folder


def captions(dataset) -> set[str]:
    return {caption.split()[0] for row in dataset["captions"] for caption in row}


def error_line(err: str) -> str:
    """The ``error: ...`` line of stderr (progress bars may precede it)."""
    return next((line for line in err.replace("\r", "\n").splitlines() if line.startswith("error: ")), err)


def train_args(dataset: Path, run_dir: Path, *extra: str) -> list[str]:
    return ["train", str(TINY), "--no-progress", "--output-dir", str(run_dir), "-o", f"data.path={dataset}",
            "-o", "training.max_steps=1", "-o", "training.save_steps=100", "-o", "training.logging_steps=1",
            *extra]


# ----------------------------------------------------------------------------------- exactly the rows on disk

def test_two_folders_with_the_same_name_and_a_rebuild_read_their_own_rows(tmp_path, default_cache):
    first = rsdata_like(tmp_path / "one" / "dataset", 12, "first")
    second = rsdata_like(tmp_path / "two" / "dataset", 20, "second")
    table, read = load_local_split(first, "train")
    assert (len(table), read.rows, captions(table)) == (12, 12, {"first"})
    table, read = load_local_split(second, "train")
    assert (len(table), read.rows, captions(table)) == (20, 20, {"second"})
    before = read.fingerprint()
    rsdata_like(second, 7, "rebuilt")  # rebuilt in place: same folder, same shard name, other rows
    table, read = load_local_split(second, "train")
    assert (len(table), read.rows, captions(table)) == (7, 7, {"rebuilt"})
    assert read.fingerprint() != before
    # an unchanged folder is read from the cache, not prepared again
    cached = {p for p in default_cache.rglob("*.arrow")}
    table, _ = load_local_split(first, "train")
    assert len(table) == 12 and {p for p in default_cache.rglob("*.arrow")} == cached


def test_folders_rsdata_did_not_write(tmp_path, default_cache):
    plain = tmp_path / "a" / "dataset"
    plain.mkdir(parents=True)
    datasets.Dataset.from_dict({"x": list(range(5))}).to_parquet(str(plain / "train.parquet"))
    custom = tmp_path / "b" / "dataset"
    (custom / "shards").mkdir(parents=True)
    datasets.Dataset.from_dict({"x": list(range(9))}).to_parquet(str(custom / "shards" / "part-0.parquet"))
    (custom / "README.md").write_text("---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n"
                                      "    path: shards/*.parquet\n---\n")
    assert len(load_local_split(plain, "train")[0]) == 5
    assert len(load_local_split(custom, "train")[0]) == 9
    datasets.Dataset.from_dict({"x": list(range(3))}).to_parquet(str(plain / "train.parquet"))
    assert len(load_local_split(plain, "train")[0]) == 3


def test_train_records_the_rows_it_read(tmp_path, default_cache, tokenizer_available):
    other = rsdata_like(tmp_path / "old" / "dataset", 12, "other")
    assert main(train_args(other, tmp_path / "run-other")) == 0
    demo = rsdata_like(tmp_path / "demo" / "dataset", 20, "demo")
    assert main(train_args(demo, tmp_path / "run-demo")) == 0
    source = json.loads((tmp_path / "run-demo" / RUN_RECORD).read_text())["data_sources"][0]
    assert (source["rows"], source["usable_rows"]) == (20, 20) and source.get("files") == 1
    assert source["fingerprint"] == load_local_split(demo, "train")[1].fingerprint()
    rsdata_like(demo, 9, "demo")
    assert main(train_args(demo, tmp_path / "run-rebuilt")) == 0
    rebuilt = json.loads((tmp_path / "run-rebuilt" / RUN_RECORD).read_text())["data_sources"][0]
    assert rebuilt["rows"] == 9 and rebuilt["fingerprint"] != source["fingerprint"]


# ------------------------------------------------------------------------- folders datasets refuses: error lines

def write_empty_shard(folder: Path, name: str) -> Path:
    """A Parquet file with the dataset's schema and one empty row group, as pyarrow writes an empty table."""
    import pyarrow.parquet as pq

    reference = next((folder / "data").glob("*.parquet"))
    path = folder / "data" / name
    pq.write_table(pq.read_table(reference).slice(0, 0), path)
    return path


def bad_folders(root: Path) -> dict[str, tuple[Path, list[str]]]:
    """name -> (folder, fragments its error line must hold)."""
    empty = write_dataset(root / "empty", coloured_rows(3, "e"))
    write_empty_shard(empty, "train-00000-of-00001.parquet")  # replaces the only shard
    nothing = root / "nothing"
    (nothing / "data").mkdir(parents=True)
    corrupt = root / "corrupt"
    (corrupt / "data").mkdir(parents=True)
    broken = corrupt / "data" / "train-00000-of-00001.parquet"
    broken.write_bytes(b"PAR1 this is not a parquet file" * 4)
    other_split = write_dataset(root / "other_split", coloured_rows(3, "v"), split="validation")
    return {
        "empty shard": (empty, [str(empty), "data/train-00000-of-00001.parquet", "holds no rows"]),
        "no data files": (nothing, [str(nothing), "doesn't contain any data files"]),
        "corrupt parquet": (corrupt, [str(broken), "not a readable Parquet file"]),
        "missing split": (other_split, [str(other_split), "no split 'train'", "its splits: validation"]),
    }


@pytest.mark.parametrize("case", ["empty shard", "no data files", "corrupt parquet", "missing split"])
def test_train_refuses_unreadable_folders_with_an_error_line(tmp_path, default_cache, tokenizer_available, capsys,
                                                            case):
    folder, fragments = bad_folders(tmp_path)[case]
    assert main(train_args(folder, tmp_path / "run")) == 1
    err = capsys.readouterr().err
    line = error_line(err)
    assert line.startswith(f"error: data source {folder}, split train: cannot be loaded: ")
    assert all(fragment in line for fragment in fragments), line
    assert "Traceback" not in err


def test_an_empty_shard_beside_others_adds_no_rows(tmp_path, default_cache):
    folder = rsdata_like(tmp_path / "dataset", 6, "kept")
    write_empty_shard(folder, "train-00001-of-00002.parquet")  # datasets alone: "BatchSize must be greater than 0"
    table, read = load_local_split(folder, "train")
    assert len(table) == 6 and [f.path.name for f in read.empty] == ["train-00001-of-00002.parquet"]


# ---------------------------------------------------------------------------------------- pickle-only weights

@pytest.mark.parametrize("extra", [False, True], ids=["state-dict", "with-a-non-tensor-object"])
def test_a_model_folder_with_only_pickled_weights_is_refused(tmp_path, default_cache, capsys, extra):
    import numpy as np
    from safetensors.torch import load_file

    from tests.eval.tiny import write_tiny_model

    model = write_tiny_model(tmp_path / "model")
    state = load_file(model / "model.safetensors")
    if extra:
        state["meta"] = np.arange(3)  # torch.load(weights_only=True) refuses it: a raw UnpicklingError before
    torch.save(state, model / "pytorch_model.bin")
    (model / "model.safetensors").unlink()
    data = rsdata_like(tmp_path / "dataset", 4, "d")
    assert main(train_args(data, tmp_path / "run", "-o", "model.config=null", "-o", "model.tokenizer=null",
                           "-o", f"model.name_or_path={model}")) == 1
    err = error_line(capsys.readouterr().err)
    assert err.startswith(f"error: {model}: model.name_or_path: no safetensors weights (model.safetensors); its "
                          "weights are only in pickle file(s) pytorch_model.bin")
    assert "save_pretrained(" in err and "safe_serialization=True" in err and "rsmodel convert openclip" in err
