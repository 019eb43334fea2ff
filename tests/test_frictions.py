"""Issue 14's frictions, through the command lines and the Python API: "did you mean" for format, recipe, task and
dataset names; ``rsdata formats NAME``; split names as the source writes them or as the output names them; corpus
``--only`` and ``--allow-missing``; ``--no-progress`` and ``--quiet``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import rsdata
from rsdata.cli import main
from rsdata.errors import OptionError, close_names, did_you_mean
from rsdata.recipe import RecipeError, find_recipe
from rsdata.synthetic import write_synthetic_dota

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def dota_source(tmp_path_factory) -> Path:
    source = tmp_path_factory.mktemp("dota") / "source"
    write_synthetic_dota(source, num_images=8, seed=0)
    return source


# ------------------------------------------------------------------------------------------------ did you mean

def test_close_names_are_case_insensitive():
    assert close_names("DOTA", ["dota", "isaid"]) == ["dota"]
    assert close_names("retrival", ["retrieval", "knn"]) == ["retrieval"]
    assert did_you_mean("zzz", ["dota"]) == ""


def test_unknown_format_names_the_close_format_and_recipe(capsys, tmp_path):
    assert main(["convert", "DOTA", str(tmp_path), str(tmp_path / "out")]) == 2
    error = capsys.readouterr().err
    assert "unknown format or dataset recipe 'DOTA' (did you mean format 'dota' or recipe 'dota'?)" in error
    with pytest.raises(OptionError, match=r"unknown format 'DOTA' \(did you mean 'dota'\?\)"):
        rsdata.convert(tmp_path, tmp_path / "out", format="DOTA")
    with pytest.raises(RecipeError, match=r"no dataset recipe named 'diro' \(did you mean 'dior'\?\)"):
        rsdata.convert(tmp_path, tmp_path / "out", recipe="diro")
    with pytest.raises(RecipeError, match=r"no train recipe named 'tiny-cup' \(did you mean 'tiny-cpu'\?\)"):
        find_recipe("tiny-cup", "train")
    with pytest.raises(OptionError, match=r"unknown conversion option 'tiles' \(did you mean 'tile'"):
        rsdata.convert(tmp_path, tmp_path / "out", format="dota", tiles=512)


def test_recipes_are_found_by_name_or_path():
    assert find_recipe("dior", "dataset") == ROOT / "recipes" / "datasets" / "dior.yaml"
    assert find_recipe("demo", "eval").name == "demo.yaml"
    path = ROOT / "recipes" / "train" / "tiny-cpu.yaml"
    assert find_recipe(str(path), "train") == path
    with pytest.raises(RecipeError, match="no such recipe file"):
        find_recipe("elsewhere/dior.yaml", "dataset")


def test_unknown_task_and_dataset_names_get_a_suggestion(capsys):
    pytest.importorskip("torch")
    from rsmodel.cli import main as rsmodel_main

    assert rsmodel_main(["eval", "model", "--suite", "demo", "--tasks", "retrival"]) == 2
    assert "unknown task(s) retrival (did you mean 'retrieval'?)" in capsys.readouterr().err
    assert rsmodel_main(["eval", "model", "--suite", "demo", "--datasets", "dmeo"]) == 2
    assert "--datasets: dmeo (did you mean 'demo'?) not in suite demo" in capsys.readouterr().err
    assert rsmodel_main(["eval", "model", "--suite", "remoteclp"]) == 1
    assert "no eval recipe named 'remoteclp' (did you mean 'remoteclip'?)" in capsys.readouterr().err


# ------------------------------------------------------------------------------------------ formats NAME

def test_formats_name_prints_the_specification(capsys):
    assert main(["formats", "index_mask"]) == 0
    printed = capsys.readouterr().out
    import rsdata.formats.index_mask as module

    assert printed.startswith("index_mask: ") and module.__doc__.strip().splitlines()[0] in printed
    assert "ann_dir" in printed  # the layout section of the spec
    assert main(["formats", "index_msk"]) == 2
    assert "(did you mean 'index_mask'?)" in capsys.readouterr().err


# -------------------------------------------------------------------------------------------- split names

@pytest.mark.parametrize("asked", ["val", "validation", "VAL"])
def test_dota_split_as_in_the_source_or_the_output(dota_source, tmp_path, asked):
    result = rsdata.convert(dota_source, tmp_path / "out", format="dota", splits=[asked], progress=False)
    assert list(result.report.splits) == ["validation"]


def test_dota_split_on_the_command_line(dota_source, tmp_path, capsys):
    assert main(["convert", "dota", str(dota_source), str(tmp_path / "out"), "--split", "validation",
                 "--no-progress"]) == 0
    report = json.loads((tmp_path / "out" / "build_report.json").read_text())
    assert list(report["splits"]) == ["validation"]
    assert main(["convert", "dota", str(dota_source), str(tmp_path / "o2"), "--split", "vall"]) == 2
    assert "split(s) vall not found" in capsys.readouterr().err


def _class_folder_source(root: Path) -> Path:
    from PIL import Image

    for split in ("train", "val"):
        for label, colour in (("Forest", (0, 120, 0)), ("River", (0, 0, 200))):
            folder = root / split / label
            folder.mkdir(parents=True)
            for index in range(2):
                Image.new("RGB", (16, 16), colour).save(folder / f"{label}_{index}.png")
    return root


@pytest.mark.parametrize("asked", ["val", "validation"])
def test_class_folders_split_as_in_the_source_or_the_output(tmp_path, asked):
    source = _class_folder_source(tmp_path / "src")
    result = rsdata.convert(source, tmp_path / "out", format="class_folders", splits=asked, progress=False)
    assert result.report.splits["validation"]["images"] == 4 and list(result.report.splits) == ["validation"]


# ---------------------------------------------------------------------------------- corpus --only, missing

def _mini_corpus(tmp_path: Path) -> Path:
    from tests.corpus_standins import write_standin

    folder = tmp_path / "recipes"
    folder.mkdir()
    for name in ("dota", "dior"):
        (folder / f"{name}.yaml").write_text((ROOT / "recipes" / "datasets" / f"{name}.yaml").read_text())
    path = folder / "mini.yaml"
    path.write_text("kind: corpus\nname: mini\ntitle: Mini\nconfigs:\n  det:\n    sources:\n"
                    "      - {recipe: dota, folder: DOTA}\n      - {recipe: dior, folder: DIOR}\n")
    write_standin("dota", tmp_path / "src" / "DOTA")  # DIOR's folder is missing, and required
    return path


def test_corpus_only_builds_the_named_sources_and_says_so(tmp_path, capsys):
    path = _mini_corpus(tmp_path)
    out = tmp_path / "out"
    args = ["convert", "--recipe", str(path), str(out), "--sources", str(tmp_path / "src"), "--no-progress"]
    assert main(args) == 1
    assert "required source folder(s) missing" in capsys.readouterr().err
    assert main(args + ["--only", "dot"]) == 2
    assert "'dot' is not a source of corpus mini (did you mean 'dota'?)" in capsys.readouterr().err

    assert main(args + ["--only", "dota"]) == 0
    assert "built only dota (--only); not selected: dior" in capsys.readouterr().out
    report = json.loads((out / "corpus_report.json").read_text())
    assert report["only"] == ["dota"] and report["allow_missing"] is False
    assert [(s["name"], s["status"]) for s in report["sources"]] == [("dota", "built"), ("dior", "not_selected")]
    card = (out / "README.md").read_text()
    assert "Only some of the recipe's sources were built: dota" in card and "not selected (--only dota)" in card


def test_corpus_allow_missing_treats_every_source_as_optional(tmp_path, capsys):
    path = _mini_corpus(tmp_path)
    result = rsdata.build_corpus(path, tmp_path / "out", sources=tmp_path / "src", allow_missing=True,
                                 progress=False)
    assert [(o.name, o.status) for o in result.sources] == [("dota", "built"), ("dior", "unavailable")]
    report = json.loads((tmp_path / "out" / "corpus_report.json").read_text())
    assert report["allow_missing"] is True and report["images"] > 0


# -------------------------------------------------------------------------------- --no-progress, --quiet

def test_rsdata_no_progress_and_quiet(dota_source, tmp_path, capfd):
    import datasets

    # format:dota, explicitly the format: no note that the bare name is both a format and a recipe
    assert main(["convert", "format:dota", str(dota_source), str(tmp_path / "a")]) == 0
    assert "convert" in capfd.readouterr().err  # the bar, when asked for
    assert main(["convert", "format:dota", str(dota_source), str(tmp_path / "b"), "--no-progress"]) == 0
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out.startswith("Converted ")
    assert main(["demo", str(tmp_path / "demo"), "--num-images", "6", "--quiet"]) == 0
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out.startswith("Converted ")  # the summary only
    assert "The source is synthetic" not in captured.out
    assert datasets.is_progress_bar_enabled()  # the libraries' switches are restored after the command


def test_rsmodel_eval_no_progress_silences_the_datasets_bars(tmp_path, capfd, monkeypatch):
    pytest.importorskip("torch")
    from rsmodel.cli import main as rsmodel_main
    from tests.eval.tiny import write_retrieval_set, write_tiny_model

    write_tiny_model(tmp_path / "model")
    write_retrieval_set(tmp_path / "data" / "rsicd")
    base = ["eval", str(tmp_path / "model"), "--suite", "remoteclip", "--datasets", "rsicd",
            "--dataset", f"rsicd={tmp_path / 'data' / 'rsicd'}", "--cache-dir", str(tmp_path / "cache"),
            "-o", "inference.batch_size=4", "-o", "inference.num_workers=0"]
    for run, flag in enumerate(("", "--no-progress", "--quiet")):
        # a fresh datasets cache each time: loading the folder is what draws the datasets bars
        monkeypatch.setenv("HF_DATASETS_CACHE", str(tmp_path / f"hf{run}"))
        assert rsmodel_main(base + ["--output", str(tmp_path / f"out{run}")] + ([flag] if flag else [])) == 0
        captured = capfd.readouterr()
        if not flag:
            assert "it/s]" in captured.err or "%|" in captured.err  # bars, when asked for
            assert "rsicd/retrieval:" in captured.out
        else:
            assert "%|" not in captured.err and "it/s]" not in captured.err, captured.err
            assert "rsicd/retrieval:" not in captured.out and captured.out.rstrip().splitlines()[-1].startswith(
                "evaluated 1 (task, dataset) results")
