"""Training recipes: the shipped ones hold the paper's settings; bad recipes and overrides fail naming the field."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

pytest.importorskip("transformers")

from rsmodel.cli import main  # noqa: E402
from rsmodel.errors import TrainRecipeError  # noqa: E402
from rsmodel.train_recipe import apply_override, load_train_recipe, recipe_from_dict  # noqa: E402

RECIPES = Path(__file__).resolve().parents[1] / "recipes" / "train"


def minimal(**changes) -> dict:
    recipe = {"name": "t", "model": {"config": {"projection_dim": 8}}, "data": {"path": "some/dataset"},
              "training": {"output_dir": "runs/t", "max_steps": 3}}
    for key, value in changes.items():
        apply_override(recipe, f"{key}={value}")
    return recipe


def test_every_shipped_recipe_is_valid():
    names = sorted(path.stem for path in RECIPES.glob("*.yaml"))
    assert names == ["remoteclip-vit-b-32", "remoteclip-vit-l-14", "tiny-cpu"]
    for path in RECIPES.glob("*.yaml"):
        recipe = load_train_recipe(path)
        assert recipe.training["remove_unused_columns"] is False


@pytest.mark.parametrize("name, model, lr, batch", [
    ("remoteclip-vit-b-32", "openai/clip-vit-base-patch32", 4e-5, 256),
    ("remoteclip-vit-l-14", "openai/clip-vit-large-patch14", 1e-4, 28),
])
def test_paper_settings(name, model, lr, batch):
    recipe = load_train_recipe(RECIPES / f"{name}.yaml")
    training = recipe.training
    assert recipe.model.name_or_path == model
    assert training["learning_rate"] == lr and recipe.global_batch_size == batch
    assert training["max_steps"] == 108215
    assert training["lr_scheduler_type"] == "cosine" and training["warmup_steps"] > 0
    assert training["bf16"] is True
    aug = recipe.augmentation
    assert aug.rotate90 and aug.horizontal_flip == 0.5 and aug.crop_scale[1] == 1.0
    assert [s.config for s in recipe.data.sources] == ["ret3", "det10", "seg4"]
    text = (RECIPES / f"{name}.yaml").read_text()
    assert "this project's choice" in text, "what the paper leaves open is stated as the project's choice"


def test_training_section_goes_to_training_arguments_as_it_is():
    from transformers import TrainingArguments

    recipe = load_train_recipe(RECIPES / "remoteclip-vit-b-32.yaml")
    args = TrainingArguments(**dict(recipe.training, bf16=False, per_device_train_batch_size=4))
    assert args.learning_rate == 4e-5 and args.adam_beta2 == 0.98 and args.max_steps == 108215


def test_overrides_are_typed_and_reach_nested_fields():
    recipe = recipe_from_dict(minimal(), overrides=[
        "training.learning_rate=1e-4", "training.bf16=true", "data.sources=[{path: a}, {path: b, weight: 2}]",
        "data.sources.1.weight=0.5", "model.config.vision_config.image_size=64", "augmentation.crop_scale=[0.8, 1]",
        "global_batch_size=32"])
    assert recipe.training["learning_rate"] == 1e-4 and isinstance(recipe.training["learning_rate"], float)
    assert recipe.training["bf16"] is True
    assert [(s.path, s.weight) for s in recipe.data.sources] == [("a", 1.0), ("b", 0.5)]
    assert recipe.model.config["vision_config"] == {"image_size": 64}
    assert recipe.augmentation.crop_scale == (0.8, 1.0) and recipe.global_batch_size == 32
    assert recipe.overrides[0] == "training.learning_rate=1e-4"


def test_data_defaults_apply_to_every_source():
    recipe = recipe_from_dict(minimal(**{"data.revision": "abc", "data.split": "validation",
                                         "data.sources": "[{config: x}, {config: y, path: other/one}]"}))
    assert [(s.path, s.config, s.split, s.revision) for s in recipe.data.sources] == [
        ("some/dataset", "x", "validation", "abc"), ("other/one", "y", "validation", "abc")]


@pytest.mark.parametrize("changes, message", [
    ({"colour": "red"}, "unknown field(s) colour"),
    ({"training.lerning_rate": "1"}, "training.lerning_rate (did you mean learning_rate?)"),
    ({"training.max_steps": "null"}, "training.max_steps must be a positive integer"),
    ({"training.remove_unused_columns": "true"}, "training.remove_unused_columns must be False"),
    ({"global_batch_size": "16", "training.per_device_train_batch_size": "4"}, "not both"),
    ({"global_batch_size": "0"}, "global_batch_size must be a positive integer"),
    ({"model.name_or_path": "openai/clip-vit-base-patch32"}, "exactly one of name_or_path"),
    ({"data.sources": "[{config: a, weight: 0}]"}, "data.sources.0.weight must be a positive number"),
    ({"data.sources": "[{config: a, wieght: 2}]"}, "unknown field(s) data.sources.0.wieght"),
    ({"data.path": "null", "data.sources": "[{config: a}]"}, "data.sources.0.path is missing"),
    ({"augmentation.crop_scale": "[0.5, 1.5]"}, "augmentation.crop_scale must be [low, high]"),
    ({"augmentation.horizontal_flip": "2"}, "augmentation.horizontal_flip is a probability"),
    ({"data.max_text_length": "1"}, "data.max_text_length must be an integer of at least 2"),
    ({"training.output_dir": "null"}, "training.output_dir is missing"),
])
def test_bad_recipes_name_the_field(changes, message):
    with pytest.raises(TrainRecipeError) as error:
        recipe_from_dict(minimal(**changes), path="t.yaml")
    assert message in str(error.value) and str(error.value).startswith("t.yaml: ")


@pytest.mark.parametrize("override, message", [
    ("training.learning_rate", "expected KEY=VALUE"),
    ("data.sources.5.path=x", "'5' is not an index of that list"),
    ("name.sub=x", "name is a value, not a mapping"),
    ("training.learning_rate=[1", "not valid YAML"),
])
def test_bad_overrides(override, message):
    with pytest.raises(TrainRecipeError, match="--override") as error:
        recipe_from_dict(minimal(**{"data.sources": "[{config: a}]"}), overrides=[override])
    assert message in str(error.value)


def test_recipe_file_errors(tmp_path):
    wrong_name = tmp_path / "other.yaml"
    wrong_name.write_text("name: t\nmodel: {config: {}}\ndata: {path: x}\ntraining: {output_dir: o, max_steps: 1}\n")
    with pytest.raises(TrainRecipeError, match=r"other.yaml: the file must be named after the recipe \(t.yaml\)"):
        load_train_recipe(wrong_name)
    broken = tmp_path / "t.yaml"
    broken.write_text("name: [t\n")
    with pytest.raises(TrainRecipeError, match="t.yaml: not valid YAML"):
        load_train_recipe(broken)
    with pytest.raises(TrainRecipeError, match="cannot read the recipe"):
        load_train_recipe(tmp_path / "missing.yaml")


def test_cli_reports_recipe_errors_with_exit_status_1(tmp_path, capsys):
    bad = tmp_path / "t.yaml"
    bad.write_text("name: t\nmodel: {config: {}}\ndata: {path: x}\ntraining: {output_dir: o, max_steps: 1, lr: 1}\n")
    assert main(["train", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: {bad}: training.lr") and "TrainingArguments" in err


def test_exponent_numbers_without_a_dot_are_numbers():
    recipe = recipe_from_dict(minimal(**{"training.weight_decay": "2e-1", "training.adam_epsilon": "1e-6"}))
    assert math.isclose(recipe.training["weight_decay"], 0.2) and recipe.training["adam_epsilon"] == 1e-6
