"""``rsmodel publish`` on the local Hub test server: a tiny model run folder (weights, processor,
rsmodel_train.json, evaluation results) goes up with its card and comes back identical through transformers."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from rsmodel.cli import main  # noqa: E402
from tests.eval.test_eval_cli import FAST, SUITE  # noqa: E402
from tests.eval.tiny import write_classification_set, write_retrieval_set, write_run_dir  # noqa: E402

REPO = "user/tiny-rsclip"
# The evaluation writes a plot beside each result (rsmodel.eval.plots); publishing carries them.
EXPECTED_FILES = ["README.md", "config.json", "eval/aid/zero_shot-per-class.png", "eval/aid/zero_shot.json",
                  "eval/rsicd/retrieval-recall.png", "eval/rsicd/retrieval.json",
                  "eval/summary.json", "eval/summary.md", "model.safetensors", "preprocessor_config.json",
                  "processor_config.json", "rsmodel_train.json", "tokenizer.json", "tokenizer_config.json"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A finished run folder with evaluation results in RUN_DIR/eval and what training leaves beside them."""
    root = tmp_path_factory.mktemp("publish")
    run = write_run_dir(root / "run")
    write_classification_set(root / "data" / "aid")
    write_retrieval_set(root / "data" / "rsicd")
    assert main(["eval", str(run), "--suite", str(SUITE), "--data-root", str(root / "data"), "--datasets",
                 "aid,rsicd", "--tasks", "zero_shot,retrieval", "--cache-dir", str(root / "cache"),
                 "--no-progress", *FAST]) == 0
    (run / "checkpoint-5").mkdir()
    shutil.copy(run / "model.safetensors", run / "checkpoint-5" / "model.safetensors")
    (run / "training_args.bin").write_bytes(b"pickled TrainingArguments")
    (run / "trainer_state.json").write_text("{}")
    return run


def test_hub_files_of_a_published_run(local_hub, run_dir, capsys):
    assert main(["publish", str(run_dir), "--repo-id", REPO, "--no-progress", "--license", "apache-2.0"]) == 0
    printed = capsys.readouterr().out
    assert f"/{REPO}" in printed and "card with 2 evaluation result(s)" in printed
    files = local_hub.files(REPO, "model")
    assert sorted(p for p in files if p != ".gitattributes") == EXPECTED_FILES
    assert files["model.safetensors"] == (run_dir / "model.safetensors").read_bytes()
    assert files["eval/aid/zero_shot.json"] == (run_dir / "eval" / "aid" / "zero_shot.json").read_bytes()
    assert not (run_dir / ".rsmodel-publish").exists()  # the staging tree is gone


def test_published_model_reads_back_identically(local_hub, run_dir):
    from PIL import Image
    from transformers import CLIPImageProcessor, CLIPModel, CLIPProcessor, pipeline

    assert main(["publish", str(run_dir), "--repo-id", REPO, "--no-progress"]) == 0
    local, hub = CLIPModel.from_pretrained(run_dir).eval(), CLIPModel.from_pretrained(REPO).eval()
    local_processor, hub_processor = CLIPProcessor.from_pretrained(run_dir), CLIPProcessor.from_pretrained(REPO)
    images = [Image.new("RGB", (40, 30), (30 * i, 90, 200 - 30 * i)) for i in range(3)]
    texts = ["a satellite photo of storage tanks.", "many planes parked beside a runway"]
    local_inputs = local_processor(text=texts, images=images, return_tensors="pt", padding=True)
    hub_inputs = hub_processor(text=texts, images=images, return_tensors="pt", padding=True)
    assert local_inputs.keys() == hub_inputs.keys()
    for key in local_inputs:
        assert torch.equal(local_inputs[key], hub_inputs[key]), key
    with torch.no_grad():
        a, b = local(**local_inputs), hub(**hub_inputs)
    assert torch.equal(a.logits_per_image, b.logits_per_image)
    assert torch.equal(a.image_embeds, b.image_embeds) and torch.equal(a.text_embeds, b.text_embeds)
    # a reader that takes the image processor from preprocessor_config.json alone gets the same pixels
    from huggingface_hub import hf_hub_download

    config = json.loads(Path(hf_hub_download(REPO, "preprocessor_config.json")).read_text())
    older = CLIPImageProcessor.from_dict(config)
    assert torch.equal(older(images=images, return_tensors="pt")["pixel_values"], local_inputs["pixel_values"])
    # the zero-shot pipeline runs on the Hub model and agrees with the local folder
    labels = ["airport", "storage tanks", "dense residential"]
    scores = pipeline("zero-shot-image-classification", model=REPO)(
        images[0], candidate_labels=labels, hypothesis_template="a satellite photo of {}.")
    reference = pipeline("zero-shot-image-classification", model=str(run_dir))(
        images[0], candidate_labels=labels, hypothesis_template="a satellite photo of {}.")
    assert sorted(s["label"] for s in scores) == sorted(labels) and sum(s["score"] for s in scores) == \
        pytest.approx(1.0, abs=1e-5)
    assert {s["label"]: s["score"] for s in scores} == {s["label"]: s["score"] for s in reference}


def test_card_eval_results_parse_back(local_hub, run_dir):
    from huggingface_hub import ModelCard

    from rsmodel.cards import eval_results
    from rsmodel.eval.results import read_results

    assert main(["publish", str(run_dir), "--repo-id", REPO, "--no-progress"]) == 0
    card = ModelCard.load(REPO)
    expected = eval_results(read_results(run_dir / "eval"))
    assert card.data.eval_results == expected and len(expected) == 2 + 7
    assert card.data.base_model == "openai/clip-vit-base-patch32" and card.data.datasets == ["user/remoteclip-corpus"]
    assert card.data.library_name == "transformers" and card.data.pipeline_tag == "zero-shot-image-classification"
    zero_shot = json.loads((run_dir / "eval" / "aid" / "zero_shot.json").read_text())["metrics"]["zero_shot/top1"]
    row = next(line for line in card.text.splitlines() if line.startswith("| AID | zero_shot/top1 |"))
    assert row.split(" | ")[2:4] == [f"**{zero_shot:.2f}**", "91.30"]  # this model, then RemoteCLIP ViT-B/32
    assert "Fine-tuned from `openai/clip-vit-base-patch32`" in card.text and "| learning_rate | 4e-05 |" in card.text


def test_second_publish_sends_nothing_and_the_token_never_shows(local_hub, run_dir, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    assert main(["publish", str(run_dir), "--repo-id", REPO]) == 0
    commits, uploads = len(local_hub.commits(REPO, "model")), local_hub.lfs_uploads
    assert main(["publish", str(run_dir), "--repo-id", REPO]) == 0
    assert len(local_hub.commits(REPO, "model")) == commits and local_hub.lfs_uploads == uploads
    captured = capsys.readouterr()
    assert "Nothing to push" in captured.out
    assert local_hub.token not in captured.out + captured.err + caplog.text


def test_branch_and_private_repo(local_hub, run_dir):
    from transformers import CLIPModel

    assert main(["publish", str(run_dir), "--repo-id", REPO, "--revision", "dev", "--private", "--no-progress"]) == 0
    assert "dev" in local_hub.branches(REPO, "model") and local_hub.is_private(REPO, "model")
    model = CLIPModel.from_pretrained(REPO, revision="dev")
    assert model.config.vision_config.image_size == 32


def test_dry_run_writes_the_upload_tree(run_dir, tmp_path, capsys):
    out = tmp_path / "tree"
    assert main(["publish", str(run_dir), "--repo-id", REPO, "--dry-run", str(out)]) == 0
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == EXPECTED_FILES
    assert "nothing was uploaded" in capsys.readouterr().out
    written = json.loads((out / "preprocessor_config.json").read_text())
    nested = json.loads((run_dir / "processor_config.json").read_text())["image_processor"]
    assert written == dict(nested, processor_class="CLIPProcessor")
    assert main(["publish", str(run_dir), "--repo-id", REPO, "--dry-run", str(out)]) == 1  # not empty
    assert "exists and is not empty" in capsys.readouterr().err


def test_unpublishable_folders_are_refused(run_dir, tmp_path, capsys):
    bare = tmp_path / "bare"
    shutil.copytree(run_dir, bare)
    (bare / "model.safetensors").unlink()
    (bare / "pytorch_model.bin").write_bytes(b"x")
    assert main(["publish", str(bare), "--repo-id", REPO, "--dry-run", str(tmp_path / "t1")]) == 1
    assert f"{bare}: no model.safetensors: rsmodel publishes weights only as safetensors (it holds " \
           "pytorch_model.bin" in capsys.readouterr().err
    running = tmp_path / "running"
    shutil.copytree(run_dir, running)
    record = json.loads((running / "rsmodel_train.json").read_text())
    (running / "rsmodel_train.json").write_text(json.dumps(dict(record, status="running")))
    assert main(["publish", str(running), "--repo-id", REPO, "--dry-run", str(tmp_path / "t2")]) == 1
    assert "the training run has status 'running', not complete" in capsys.readouterr().err
    assert main(["publish", str(run_dir), "--repo-id", "no-namespace", "--dry-run", str(tmp_path / "t3")]) == 2
    assert not any((tmp_path / name).exists() for name in ("t1", "t2", "t3"))


def test_results_of_other_weights_stay_off_the_card(run_dir, tmp_path, capsys):
    from safetensors.torch import load_file, save_file

    changed = tmp_path / "changed"
    shutil.copytree(run_dir, changed)
    weights = load_file(changed / "model.safetensors")
    weights["logit_scale"] = weights["logit_scale"] + 1
    save_file(weights, changed / "model.safetensors", metadata={"format": "pt"})
    assert main(["publish", str(changed), "--repo-id", REPO, "--dry-run", str(tmp_path / "tree")]) == 0
    printed = capsys.readouterr().out
    assert "card with 0 evaluation result(s); 2 result(s) computed on other weights left out: aid/zero_shot, " \
           "rsicd/retrieval" in printed
    assert not (tmp_path / "tree" / "eval").exists()
    assert "model-index" not in (tmp_path / "tree" / "README.md").read_text()
    assert np.isfinite(float(weights["logit_scale"]))


def test_a_trained_run_is_evaluated_published_and_read_back(local_hub, tmp_path):
    """The whole route on a real RUN_DIR: rsmodel train (tiny recipe, 3 steps on the rsdata demo set), rsmodel
    eval into RUN_DIR/eval, rsmodel publish, and CLIPModel.from_pretrained from the Hub."""
    from rsmodel.convert import BPE_VOCAB_FILE, openclip_package_dir

    package = openclip_package_dir()
    if package is None or not (package / BPE_VOCAB_FILE).is_file():
        pytest.skip("the tiny training recipe's tokenizer needs open_clip's vocabulary (pip install --no-deps "
                    "open_clip_torch)")
    from transformers import CLIPModel

    from rsdata.cli import main as rsdata

    recipe = Path(__file__).resolve().parents[2] / "recipes" / "train" / "tiny-cpu.yaml"
    assert rsdata(["demo", str(tmp_path / "demo")]) == 0
    run = tmp_path / "run"
    assert main(["train", str(recipe), "--override", f"data.path={tmp_path / 'demo' / 'dataset'}", "--override",
                 "training.max_steps=3", "--override", "training.save_steps=3", "--output-dir", str(run),
                 "--no-progress"]) == 0
    write_classification_set(tmp_path / "data" / "aid")
    assert main(["eval", str(run), "--suite", str(SUITE), "--data-root", str(tmp_path / "data"), "--datasets", "aid",
                 "--tasks", "zero_shot", "--cache-dir", str(tmp_path / "cache"), "--no-progress", *FAST]) == 0
    assert main(["publish", str(run), "--repo-id", REPO, "--no-progress"]) == 0
    files = set(local_hub.files(REPO, "model"))
    assert {"model.safetensors", "preprocessor_config.json", "rsmodel_train.json", "eval/aid/zero_shot.json",
            "README.md"} <= files
    assert not any(name.startswith("checkpoint-") or name.endswith(".bin") for name in files)
    local, hub = CLIPModel.from_pretrained(run).eval(), CLIPModel.from_pretrained(REPO).eval()
    pixels = torch.rand(2, 3, 64, 64)
    ids = torch.tensor([[49406, 320, 1125, 49407], [49406, 1125, 49407, 49407]])
    with torch.no_grad():
        for method, inputs in (("get_image_features", {"pixel_values": pixels}), ("get_text_features",
                                                                                 {"input_ids": ids})):
            mine, theirs = getattr(local, method)(**inputs), getattr(hub, method)(**inputs)
            # transformers 5 returns an output object, 4 a tensor
            assert torch.equal(getattr(mine, "pooler_output", mine), getattr(theirs, "pooler_output", theirs))
    from huggingface_hub import ModelCard

    card = ModelCard.load(REPO)
    assert [e.metric_config for e in card.data.eval_results] == ["zero_shot/top1", "zero_shot/mean_per_class_recall"]
    assert "Trained from a fresh initialisation" in card.text


def test_a_failed_push_is_reported_and_the_next_run_completes_it(local_hub, run_dir):
    from rsdata.publish import RetryPolicy
    from rsmodel.errors import PublishError
    from rsmodel.publish import publish_model

    local_hub.fail("POST", r"/commit/", status=503, times=1)
    with pytest.raises(PublishError, match=r"model repo user/tiny-rsclip \(revision main\)"):
        publish_model(run_dir, REPO, progress=False, retry=RetryPolicy(attempts=1))
    assert not (run_dir / ".rsmodel-publish").exists()
    outcome = publish_model(run_dir, REPO, progress=False, retry=RetryPolicy(attempts=1))
    assert sorted(outcome.push.uploaded) == EXPECTED_FILES
    assert sorted(p for p in local_hub.files(REPO, "model") if p != ".gitattributes") == EXPECTED_FILES


def test_dry_run_carries_and_embeds_evaluation_plots(run_dir, tmp_path):
    """PNG plots beside the results (any name) go up and into the card; those of a dataset without a current
    result stay off."""
    from huggingface_hub import ModelCard

    changed = tmp_path / "run"
    shutil.copytree(run_dir, changed)
    (changed / "eval" / "aid" / "confusion.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (changed / "eval" / "overview.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    (changed / "eval" / "old_set").mkdir()
    (changed / "eval" / "old_set" / "plot.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    out = tmp_path / "tree"
    assert main(["publish", str(changed), "--repo-id", REPO, "--dry-run", str(out)]) == 0
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == sorted(EXPECTED_FILES + ["eval/aid/confusion.png", "eval/overview.png"])
    card = ModelCard.load(out / "README.md")
    assert "![eval/aid/confusion.png](eval/aid/confusion.png)" in card.text
    assert "old_set" not in card.text
    entry = next(e for e in card.data.eval_results if e.dataset_type == "rsicd")
    assert entry.metric_args["reference_test_images"] == 1093 and entry.metric_args["test_images"] < 1093
    assert "not comparable" in card.text
