"""`rsmodel train` end to end on the demo dataset: learning, the run folder, reloading, resuming, refusals."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from transformers import TrainerCallback  # noqa: E402

from rsmodel.cli import main  # noqa: E402
from rsmodel.errors import OutputFolderError  # noqa: E402
from rsmodel.training import CHECKPOINT_MARKER, RUN_RECORD, train  # noqa: E402
from rsmodel.train_recipe import load_train_recipe  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "recipes" / "train" / "tiny-cpu.yaml"
SENTENCES = ["a satellite photo with three planes.", "two ships at the edge of the picture.",
             "There are 5 storage tanks in the picture.", "a tennis court and a swimming pool."]


@pytest.fixture(scope="module")
def tokenizer_available():
    from rsmodel.convert import load_tokenizer

    try:
        load_tokenizer(None)
    except Exception as error:  # noqa: BLE001 - the tiny recipe's tokenizer comes from open_clip's vocabulary
        pytest.skip(f"the tiny recipe's CLIP tokenizer is unavailable: {error}")


def tiny_overrides(dataset: Path, tmp_path: Path, **training) -> list[str]:
    overrides = [f"data.path={dataset}", f"data.cache_dir={tmp_path / 'cache'}"]
    return overrides + [f"training.{key}={value}" for key, value in training.items()]


def logged_losses(run_dir: Path) -> dict[int, float]:
    state = json.loads((run_dir / "trainer_state.json").read_text())
    return {entry["step"]: entry["loss"] for entry in state["log_history"] if "loss" in entry}


class _Capture(TrainerCallback):
    """Keeps the model object at the end of training, to compare with what was saved."""

    def on_train_end(self, args, state, control, model=None, **kwargs):
        self.model = model


class _Kill(TrainerCallback):
    """Stops the run like a kill would: an exception in the middle of the step loop."""

    def __init__(self, at_step: int):
        self.at_step = at_step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.at_step:
            raise KeyboardInterrupt(f"simulated kill at step {state.global_step}")


def test_demo_training_learns_saves_and_reloads(rsdata_demo_dataset, tmp_path, tokenizer_available, capsys):
    from transformers import CLIPModel, CLIPProcessor

    run_dir = tmp_path / "run"
    recipe = load_train_recipe(TINY, tiny_overrides(rsdata_demo_dataset, tmp_path, logging_steps=1,
                                                    output_dir=run_dir))
    capture = _Capture()
    result = train(recipe, callbacks=[capture], progress=False)
    printed = capsys.readouterr().out
    assert "40 usable rows" in printed and "data epoch 40 samples" in printed

    # The loss falls well below its start and below chance (ln 16) on this learnable task.
    losses = [loss for _, loss in sorted(logged_losses(run_dir).items())]
    assert len(losses) == 100 == result.global_step
    start, end = sum(losses[:3]) / 3, sum(losses[-5:]) / 5
    assert end < 0.75 * start and end < math.log(16) - 0.4, (start, end)

    # The run folder: the final model and processor, the record, checkpoints marked complete.
    record = json.loads((run_dir / RUN_RECORD).read_text())
    assert record["status"] == "complete" and record["format"] == "rsmodel-train/1"
    assert record["model_source"]["config"]["vision_config"]["image_size"] == 64
    assert record["data_sources"][0]["path"] == str(rsdata_demo_dataset)
    assert record["data_sources"][0]["usable_rows"] == 40 and record["epoch_size"] == 40
    assert record["seed"] == 0 and record["training_arguments"]["learning_rate"] == 2e-3
    assert record["result"]["global_step"] == 100 and record["result"]["final_loss"] == pytest.approx(losses[-1])
    assert (run_dir / "checkpoint-100" / CHECKPOINT_MARKER).is_file()
    assert not (run_dir / ".rsmodel-final").exists()
    logged = [e for e in json.loads((run_dir / "trainer_state.json").read_text())["log_history"] if "loss" in e]
    assert all(0 < e["logit_scale"] <= 100 and e["samples_per_second"] > 0 and e["samples_per_second_per_device"]
               == e["samples_per_second"] for e in logged[1:])

    # Reloading gives the very outputs of the model that was trained.
    model = CLIPModel.from_pretrained(run_dir).eval()
    processor = CLIPProcessor.from_pretrained(run_dir)
    from datasets import load_dataset

    images = [row["image"] for row in load_dataset(str(rsdata_demo_dataset), split="validation",
                                                   cache_dir=str(tmp_path / "cache")).select(range(4))]
    inputs = processor(text=SENTENCES, images=images, return_tensors="pt", padding=True)
    trained = capture.model.eval()
    with torch.no_grad():
        expected, reloaded = trained(**inputs), model(**inputs)
    assert torch.equal(expected.logits_per_image, reloaded.logits_per_image)
    assert torch.equal(expected.image_embeds, reloaded.image_embeds)
    assert inputs["pixel_values"].shape[-1] == 64


def test_a_killed_run_resumes_with_the_same_data_order(rsdata_demo_dataset, tmp_path, tokenizer_available, capsys):
    from safetensors.torch import load_file

    # logit_scale starts above ln(100): the clamp after every optimizer step must hold it there.
    settings = dict(max_steps=12, save_steps=4, logging_steps=1, learning_rate=5e-3, warmup_steps=2)
    extra = ["model.config.logit_scale_init_value=4.8"]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert main(["train", str(TINY), "--no-progress", "--output-dir", str(whole), *_flags(
        tiny_overrides(rsdata_demo_dataset, tmp_path, **settings) + extra)]) == 0

    recipe = load_train_recipe(TINY, tiny_overrides(rsdata_demo_dataset, tmp_path, output_dir=killed, **settings)
                               + extra)
    with pytest.raises(KeyboardInterrupt):
        train(recipe, callbacks=[_Kill(at_step=7)], progress=False)
    assert json.loads((killed / RUN_RECORD).read_text())["status"] == "running"
    assert not (killed / "config.json").exists(), "no final model from a killed run"
    # A checkpoint cut short while being written (no completion marker) must not be resumed from.
    (killed / "checkpoint-6").mkdir()
    (killed / "checkpoint-6" / "config.json").write_text("{}")

    capsys.readouterr()
    assert main(["train", str(TINY), "--no-progress", "--output-dir", str(killed), *_flags(
        tiny_overrides(rsdata_demo_dataset, tmp_path, **settings) + extra)]) == 0
    out = capsys.readouterr().out
    assert f"resuming from {killed / 'checkpoint-4'}" in out
    record = json.loads((killed / RUN_RECORD).read_text())
    assert record["status"] == "complete" and record["resumed_from"] == [str(killed / "checkpoint-4")]

    # Same data order and augmentations: every step's loss and the final weights are those of the whole run.
    assert logged_losses(killed) == pytest.approx(logged_losses(whole), abs=1e-6)
    assert len(logged_losses(killed)) == 12
    weights = load_file(killed / "model.safetensors"), load_file(whole / "model.safetensors")
    for name, tensor in weights[1].items():
        torch.testing.assert_close(weights[0][name], tensor, atol=1e-6, rtol=1e-6,
                                   msg=lambda m, name=name: f"{name}: {m}")
    assert float(weights[0]["logit_scale"]) <= math.log(100) + 1e-6


def _flags(overrides: list[str]) -> list[str]:
    return [flag for override in overrides for flag in ("--override", override)]


def test_a_run_folder_is_never_reused_for_something_else(rsdata_demo_dataset, tmp_path, tokenizer_available,
                                                          capsys):
    run_dir = tmp_path / "run"
    base = tiny_overrides(rsdata_demo_dataset, tmp_path, max_steps=6, save_steps=3, logging_steps=3)
    recipe = load_train_recipe(TINY, base + [f"training.output_dir={run_dir}"])
    with pytest.raises(KeyboardInterrupt):
        train(recipe, callbacks=[_Kill(at_step=4)], progress=False)

    # An unfinished run is resumed only with the same recipe; the fields that differ are named.
    changed = ["train", str(TINY), "--no-progress", "--output-dir", str(run_dir), *_flags(base),
               "-o", "training.learning_rate=1e-3"]
    assert main(changed) == 1
    err = capsys.readouterr().err
    assert "holds an unfinished run of a different recipe" in err and "training.learning_rate: 0.002 -> 0.001" in err
    # Logging and data-loader settings may change on resume.
    assert main(["train", str(TINY), "--no-progress", "--output-dir", str(run_dir), *_flags(base),
                 "-o", "training.logging_steps=1"]) == 0
    # A finished run is never overwritten.
    assert main(["train", str(TINY), "--no-progress", "--output-dir", str(run_dir), *_flags(base)]) == 1
    assert "holds a finished run" in capsys.readouterr().err
    # A folder rsmodel did not write is refused.
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    with pytest.raises(OutputFolderError, match="not an rsmodel run folder"):
        train(load_train_recipe(TINY, base + [f"training.output_dir={other}"]), progress=False)
    assert (other / "notes.txt").read_text() == "mine"


def test_a_bad_data_source_stops_before_training(tmp_path, tokenizer_available, capsys):
    assert main(["train", str(TINY), "--no-progress", "--output-dir", str(tmp_path / "run"),
                 "-o", f"data.path={tmp_path / 'missing'}", "-o", f"data.cache_dir={tmp_path / 'cache'}"]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: data source {tmp_path / 'missing'}, split train: cannot be loaded")


def test_streaming_sources_train_through_the_same_command(rsdata_demo_dataset, tmp_path, tokenizer_available):
    run_dir = tmp_path / "run"
    assert main(["train", str(TINY), "--no-progress", "--output-dir", str(run_dir), *_flags(tiny_overrides(
        rsdata_demo_dataset, tmp_path, max_steps=4, logging_steps=1, save_steps=100)), "-o", "data.streaming=true",
        "-o", "data.shuffle_buffer=16", "-o", "data.shuffle_buffer_bytes=1000000", "-o", "data.streams=4"]) == 0
    record = json.loads((run_dir / RUN_RECORD).read_text())
    assert record["status"] == "complete" and record["recipe"]["data"]["streaming"] is True
    assert record["recipe"]["data"]["shuffle_buffer_bytes"] == 1000000 and record["recipe"]["data"]["streams"] == 4
    assert record["epoch_size"] is None and record["data_sources"][0]["usable_rows"] is None
    assert record["data_sources"][0]["rows"] == 40 and record["data_sources"][0]["fingerprint"]
    assert len(logged_losses(run_dir)) == 4


def test_a_killed_streaming_run_resumes_with_the_same_data_order(rsdata_demo_dataset, tmp_path, tokenizer_available,
                                                                 monkeypatch):
    """The resumed stream starts at the checkpoint's sample (rsmodel.data.StreamingTrainingStream.start_at): the
    same losses and weights as the whole run, and no skipped sample is decoded."""
    from safetensors.torch import load_file

    import rsmodel.data as rsmodel_data

    settings = dict(max_steps=8, save_steps=4, logging_steps=1, dataloader_num_workers=0)
    extra = ["data.streaming=true", "data.streams=3", "data.shuffle_buffer_bytes=2000000"]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert main(["train", str(TINY), "--no-progress", "--output-dir", str(whole), *_flags(
        tiny_overrides(rsdata_demo_dataset, tmp_path, **settings) + extra)]) == 0
    recipe = load_train_recipe(TINY, tiny_overrides(rsdata_demo_dataset, tmp_path, output_dir=killed, **settings)
                               + extra)
    with pytest.raises(KeyboardInterrupt):
        train(recipe, callbacks=[_Kill(at_step=6)], progress=False)

    decoded = []
    real_example = rsmodel_data._Sampler.example

    def example(self, row, k, where):
        decoded.append(k)
        return real_example(self, row, k, where)

    monkeypatch.setattr(rsmodel_data._Sampler, "example", example)
    assert main(["train", str(TINY), "--no-progress", "--output-dir", str(killed), *_flags(
        tiny_overrides(rsdata_demo_dataset, tmp_path, **settings) + extra)]) == 0
    assert min(decoded) == 4 * 16, "the samples of the four steps before the checkpoint are not decoded again"
    assert logged_losses(killed) == pytest.approx(logged_losses(whole), abs=1e-6)
    weights = load_file(killed / "model.safetensors"), load_file(whole / "model.safetensors")
    for name, tensor in weights[1].items():
        torch.testing.assert_close(weights[0][name], tensor, atol=1e-6, rtol=1e-6,
                                   msg=lambda m, name=name: f"{name}: {m}")


def test_model_and_data_from_the_hub_with_revisions(rsdata_demo_dataset, tmp_path, tokenizer_available, local_hub):
    """A Hub model id and a Hub dataset repo at a pinned revision; the record names the commits they resolved to."""
    import shutil

    from rsdata.publish import push_dataset
    from rsmodel.modeling import model_from_config

    folder = tmp_path / "dataset"
    shutil.copytree(rsdata_demo_dataset, folder)
    pushed = push_dataset(folder, "user/demo", progress=False)
    data_commit = local_hub.branches("user/demo", "dataset")["main"]
    config = load_train_recipe(TINY).model.config
    model, processor = model_from_config(config, seed=3)
    model.push_to_hub("user/tiny-start")
    processor.push_to_hub("user/tiny-start")
    model_commit = local_hub.branches("user/tiny-start", "model")["main"]

    run_dir = tmp_path / "run"
    assert main(["train", str(TINY), "--no-progress", "--output-dir", str(run_dir), "-o", "model.config=null",
                 "-o", "model.tokenizer=null", "-o", "model.name_or_path=user/tiny-start",
                 "-o", f"model.revision={model_commit}", "-o", "data.path=user/demo",
                 "-o", f"data.revision={data_commit}", "-o", f"data.cache_dir={tmp_path / 'cache'}",
                 "-o", "training.max_steps=3", "-o", "training.save_steps=100"]) == 0
    record = json.loads((run_dir / RUN_RECORD).read_text())
    assert record["model_source"] == {"name_or_path": "user/tiny-start", "revision": model_commit,
                                      "commit": model_commit, "config": None, "tokenizer": None}
    source = record["data_sources"][0]
    assert (source["path"], source["revision"], source["commit"]) == ("user/demo", data_commit, data_commit)
    assert source["usable_rows"] == 40 and pushed is not None
