"""Recipes and the tokenizer vocabulary ship with the package and are found by name (rsdata.recipes_index): name
resolution for each recipe kind, the one rule for a name that is both a format and a recipe, ``rsdata recipes`` and
``rsmodel recipes``, and the wheel itself (built here, then read from an unpacked copy outside the repository)."""

from __future__ import annotations

import configparser
import hashlib
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from rsdata.recipes_index import (
    UnknownRecipeError,
    find_recipe,
    format_or_recipe,
    is_recipe_path,
    list_recipes,
    recipes_root,
    resolve_recipe,
)

ROOT = Path(__file__).resolve().parents[1]
RECIPES = ROOT / "recipes"
FORMATS = ("dota", "pascal_voc", "auair")


# ------------------------------------------------------------------------------------------ names and paths

def test_a_source_checkout_reads_its_own_recipes_folder():
    assert recipes_root() == RECIPES


@pytest.mark.parametrize("text, is_path", [
    ("dior", False), ("remoteclip-vit-b-32", False), ("dior.yaml", True), ("DIOR.YML", True),
    ("recipes/datasets/dior", True), ("./dior", True), (Path("dior"), True),
])
def test_path_or_name(text, is_path):
    assert is_recipe_path(text) is is_path


@pytest.mark.parametrize("name, kinds, relative", [
    ("dior", ("dataset",), "datasets/dior.yaml"),
    ("remoteclip", ("corpus",), "datasets/remoteclip.yaml"),
    ("remoteclip-vit-b-32", ("train",), "train/remoteclip-vit-b-32.yaml"),
    ("tiny-cpu", ("train",), "train/tiny-cpu.yaml"),
    ("remoteclip", ("eval",), "eval/remoteclip.yaml"),
    ("demo", ("eval",), "eval/demo.yaml"),
])
def test_each_kind_resolves_by_name(name, kinds, relative):
    assert resolve_recipe(name, kinds) == RECIPES / relative


def test_a_name_of_another_kind_is_not_found_and_the_error_lists_the_names():
    assert find_recipe("dior", ("corpus",)) is None  # a dataset recipe is not a corpus recipe
    assert find_recipe("remoteclip", ("dataset",)) is None  # nor the other way round
    with pytest.raises(UnknownRecipeError, match=r"'dior' is neither a file path .* training recipe or evaluation "
                                                 r"suite .*known: remoteclip-vit-b-32, .*tiny-cpu, demo, remoteclip"):
        resolve_recipe("dior", ("train", "eval"))


def test_a_path_is_taken_as_written():
    assert resolve_recipe("nowhere/dior.yaml", ("dataset",)) == Path("nowhere/dior.yaml")


def test_the_loaders_take_names():
    from rsdata.corpus_recipe import load_corpus_recipe
    from rsdata.recipe import RecipeError, load_dataset_recipe
    from rsmodel.errors import SuiteError, TrainRecipeError
    from rsmodel.eval.suite import load_suite
    from rsmodel.train_recipe import load_train_recipe

    assert load_dataset_recipe("dior").path == RECIPES / "datasets" / "dior.yaml"
    corpus = load_corpus_recipe("remoteclip")
    assert corpus.name == "remoteclip" and corpus.configs
    assert load_train_recipe("remoteclip-vit-b-32").name == "remoteclip-vit-b-32"
    assert load_train_recipe("tiny-cpu", ["training.max_steps=3"]).training["max_steps"] == 3
    assert load_suite("remoteclip").name == "remoteclip" and load_suite("demo").name == "demo"
    with pytest.raises(RecipeError, match="known: aid, "):
        load_dataset_recipe("nosuch")
    with pytest.raises(RecipeError, match=r"name of a corpus recipe shipped .*known: remoteclip$"):
        load_corpus_recipe("dior")
    with pytest.raises(TrainRecipeError, match="known: remoteclip-vit-b-32"):
        load_train_recipe("remoteclip")  # the suite's name is not a training recipe
    with pytest.raises(SuiteError, match="known: demo, remoteclip"):
        load_suite("tiny-cpu")


# ----------------------------------------------------------------------------------- format or recipe (convert)

@pytest.mark.parametrize("text, fmt, recipe, note", [
    ("dota", "dota", None, "both a format and a dataset recipe: converting with the format dota"),  # format wins
    ("recipe:dota", None, "datasets/dota.yaml", None),
    ("format:dota", "dota", None, None),
    ("pascal_voc", "pascal_voc", None, None),
    ("dior", None, "datasets/dior.yaml", "is the dataset recipe"),
    ("recipes/datasets/dior.yaml", None, "datasets/dior.yaml", None),
    ("nosuch", "nosuch", None, None),  # neither: the format lookup reports it with the list of formats
])
def test_the_rule_for_a_name_that_is_a_format_a_recipe_or_both(text, fmt, recipe, note):
    target = format_or_recipe(text, FORMATS)
    assert target.format == fmt
    if recipe is None:
        assert target.recipe is None
    else:
        assert target.recipe.resolve() == (RECIPES / recipe).resolve()
    assert (target.note is None) if note is None else (note in target.note)
    if text == "dota":
        assert "rsdata convert recipe:dota" in target.note


def test_every_recipe_named_like_a_format_is_listed_in_the_readme_rule():
    """The README names the overlap; the rule matters for each of these names."""
    from rsdata.formats import available_formats

    both = {f.name for f in available_formats()} & {e.name for e in list_recipes(("dataset",))}
    assert "dota" in both
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    rule = re.search(r"A name that is both a format and a recipe \((.*?)\) is the format", readme, re.S)
    assert rule and set(re.findall(r"`(\w+)`", rule.group(1))) == both
    assert "recipe:NAME" in readme


def write_dior_like(root: Path) -> None:
    """Two DIOR images in DIOR's layout (JPEGImages-trainval, Annotations/Horizontal Bounding Boxes, ImageSets)."""
    from tests.conftest import image_bytes

    xml = root / "Annotations" / "Horizontal Bounding Boxes"
    for folder in (root / "JPEGImages-trainval", xml, root / "ImageSets" / "Main"):
        folder.mkdir(parents=True)
    for number, split, label in ((1, "train", "airplane"), (2, "val", "Expressway-toll-station")):
        stem = f"{number:05d}"
        (root / "JPEGImages-trainval" / f"{stem}.jpg").write_bytes(image_bytes(64, 64))
        (xml / f"{stem}.xml").write_text(
            f"<annotation><filename>{stem}.jpg</filename><object><name>{label}</name>"
            "<bndbox><xmin>5</xmin><ymin>6</ymin><xmax>30</xmax><ymax>40</ymax></bndbox></object></annotation>")
        (root / "ImageSets" / "Main" / f"{split}.txt").write_text(stem + "\n")


def test_convert_with_the_dior_recipe_by_name(tmp_path, capsys):
    import pyarrow.parquet as pq

    from rsdata.cli import main

    write_dior_like(tmp_path / "DIOR")
    assert main(["convert", "dior", str(tmp_path / "DIOR"), str(tmp_path / "out"), "--no-progress"]) == 0
    assert "'dior' is the dataset recipe" in capsys.readouterr().err
    rows = pq.read_table(tmp_path / "out" / "data").to_pylist()
    assert {r["source_dataset"] for r in rows} == {"dior"}
    assert "expressway toll station" in " ".join(c for r in rows for c in r["captions"])  # the recipe's names


def test_convert_dota_by_name_takes_the_format_and_says_so(tmp_path, dota_source, capsys):
    from rsdata.cli import main

    # The format reads labelTxt/ (the recipe would look in labelTxt-v1.0/labelTxt) and keeps its open class list.
    assert main(["convert", "dota", str(dota_source), str(tmp_path / "out"), "--split", "val", "--no-progress"]) == 0
    assert "recipe:dota" in capsys.readouterr().err
    # The recipe's published layout is DOTA v1.0's labelTxt-v1.0/labelTxt; this labelTxt/ copy is its mmrotate
    # variant, which the recipe detects and says it took.
    assert main(["convert", "recipe:dota", str(dota_source), str(tmp_path / "out2"), "--split", "val",
                 "--no-progress"]) == 0
    assert "layout: mmrotate (mmrotate)" in capsys.readouterr().err


def test_convert_recipe_option_takes_a_corpus_name(tmp_path, capsys):
    from rsdata.cli import main

    assert main(["convert", "--recipe", "dior", str(tmp_path / "out")]) == 1
    assert re.search(r"name of a corpus recipe shipped .*known: remoteclip$", capsys.readouterr().err, re.M)


# --------------------------------------------------------------------------------------- recipes subcommands

def test_rsdata_recipes_lists_every_dataset_and_corpus_recipe_with_a_line(capsys):
    from rsdata.cli import main

    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    listed = re.findall(r"^  (\S+)  +\S", out, re.M)
    assert sorted(listed) == sorted(p.stem for p in (RECIPES / "datasets").glob("*.yaml"))
    assert re.search(r"^  dior +DIOR \(format pascal_voc, licence other\)$", out, re.M)
    assert "corpus recipes (datasets/):\n  remoteclip" in out


def test_recipes_name_prints_it_and_an_unknown_name_is_refused(capsys):
    from rsdata.cli import main as rsdata
    from rsmodel.cli import main as rsmodel

    assert rsdata(["recipes", "dior"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].endswith("dior.yaml") and "\n".join(out.splitlines()[1:]) + "\n" == \
        (RECIPES / "datasets" / "dior.yaml").read_text(encoding="utf-8")
    assert rsmodel(["recipes", "tiny-cpu"]) == 0
    assert "name: tiny-cpu" in capsys.readouterr().out
    assert rsdata(["recipes", "tiny-cpu"]) == 2 and "known: aid," in capsys.readouterr().err
    assert rsmodel(["recipes", "dior"]) == 2 and "known: remoteclip-vit-b-32" in capsys.readouterr().err


def test_rsmodel_recipes_lists_training_recipes_and_suites(capsys):
    from rsmodel.cli import main

    assert main(["recipes"]) == 0
    out = capsys.readouterr().out
    listed = re.findall(r"^  (\S+)  +\S", out, re.M)
    expected = [p.stem for kind in ("train", "eval") for p in sorted((RECIPES / kind).glob("*.yaml"))]
    assert listed == expected
    assert "evaluation suites (eval/):" in out


def test_eval_list_defaults_to_the_remoteclip_suite_from_any_folder(tmp_path, monkeypatch, capsys):
    from rsmodel.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["eval", "--list"]) == 0
    assert "datasets of suite remoteclip" in capsys.readouterr().out


# --------------------------------------------------------------------------------------------- the vocabulary

def test_the_shipped_vocabulary_is_clips_and_builds_the_tokenizer(monkeypatch):
    from rsmodel import convert

    vocab = convert.shipped_bpe_vocab()
    digest = hashlib.sha256(vocab.read_bytes()).hexdigest()
    assert digest in (vocab.parent / "LICENSE").read_text(encoding="utf-8")
    package = convert.openclip_package_dir()
    if package is not None and (package / convert.BPE_VOCAB_FILE).is_file():
        assert digest == hashlib.sha256((package / convert.BPE_VOCAB_FILE).read_bytes()).hexdigest()
    monkeypatch.setattr(convert, "openclip_package_dir", lambda: None)  # as in a venv without open_clip
    tokenizer = convert.load_tokenizer(None)
    ids = tokenizer("a satellite photo of a plane.")["input_ids"]
    assert ids[0] == convert.BOS_TOKEN_ID and ids[-1] == convert.EOS_TOKEN_ID and len(ids) == 9


def test_the_model_extra_needs_no_repository_step():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    model = config["options.extras_require"]["model"]
    assert "open_clip" not in model and "torchvision" not in model and "timm" not in model
    setup = (ROOT / "scripts" / "setup.sh").read_text(encoding="utf-8")
    assert '*",model,"* ]]; then\n  # The conversion' not in setup  # open_clip is the tests' reference only


# ------------------------------------------------------------------------------------------------- the wheel

def test_every_package_folder_is_listed_in_setup_cfg():
    config = configparser.ConfigParser()
    config.read(ROOT / "setup.cfg")
    listed = set(config["options"]["packages"].split())
    folders = {".".join(p.parent.relative_to(ROOT).parts) for top in ("rsdata", "rsmodel")
               for p in (ROOT / top).rglob("__init__.py")}
    assert listed == folders | {"rsdata._recipes"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """The wheel built from this tree's files (tracked and untracked, not ignored), as scripts/check_wheel.sh
    builds it: about 10 s, with the build backend from the package index or pip's cache."""
    work = tmp_path_factory.mktemp("wheel")
    files = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                           capture_output=True)
    if files.returncode != 0:
        pytest.skip(f"not a git checkout, so the tree's files are unknown: {files.stderr.decode().strip()}")
    for name in files.stdout.decode().split("\0"):
        if name and (ROOT / name).is_file():
            (work / "src" / name).parent.mkdir(parents=True, exist_ok=True)
            (work / "src" / name).write_bytes((ROOT / name).read_bytes())
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(work / "dist"),
                            str(work / "src")], capture_output=True, text=True)
    if built.returncode != 0:
        if re.search(r"(No matching distribution|Could not find a version).*setuptools", built.stderr, re.S):
            pytest.skip(f"the build backend is not available offline: {built.stderr.strip()[-300:]}")
        pytest.fail(f"pip wheel failed:\n{built.stderr}")
    (path,) = (work / "dist").glob("rsclip-*.whl")
    return path


def test_the_wheel_holds_every_recipe_module_and_the_vocabulary(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    recipes = {f"rsdata/_recipes/{p.relative_to(RECIPES).as_posix()}" for p in RECIPES.rglob("*")
               if p.is_file() and p.suffix in (".yaml", ".md")}
    assert len(recipes) > 40 and recipes <= names
    modules = {p.relative_to(ROOT).as_posix() for top in ("rsdata", "rsmodel") for p in (ROOT / top).rglob("*.py")}
    assert modules <= names
    assert {"rsmodel/vocab/bpe_simple_vocab_16e6.txt.gz", "rsmodel/vocab/LICENSE"} <= names


def test_the_unpacked_wheel_finds_recipes_and_vocabulary_outside_the_repository(wheel, tmp_path):
    site, empty = tmp_path / "site", tmp_path / "empty"
    zipfile.ZipFile(wheel).extractall(site)
    empty.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    script = """
import rsdata, rsmodel
from rsdata.recipes_index import recipes_root
from rsdata.recipe import load_dataset_recipe
from rsmodel.eval.suite import load_suite
from rsmodel.train_recipe import load_train_recipe
from rsmodel.convert import load_tokenizer
print(rsdata.__file__)
print(recipes_root())
print(load_dataset_recipe("dior").path, load_suite("remoteclip").name, load_train_recipe("tiny-cpu").name)
print(load_tokenizer(None)("a plane")["input_ids"])
"""
    run = subprocess.run([sys.executable, "-c", script], cwd=empty, env=env, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    module, root, loaded, ids = run.stdout.splitlines()
    assert module.startswith(str(site)) and root == str(site / "rsdata" / "_recipes")
    assert loaded == f"{site / 'rsdata' / '_recipes' / 'datasets' / 'dior.yaml'} remoteclip tiny-cpu"
    assert ids.startswith("[49406,") and ids.endswith("49407]")
    listing = subprocess.run([sys.executable, "-m", "rsdata", "recipes"], cwd=empty, env=env, capture_output=True,
                             text=True)
    assert listing.returncode == 0 and re.search(r"^  dior ", listing.stdout, re.M), listing.stderr
