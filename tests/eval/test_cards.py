"""Benchmark cards from result records: model-index entries that huggingface_hub parses back, the table of this
model's numbers beside the paper's, and the suite's averages once every dataset of an average is evaluated."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from rsmodel.cards import build_model_card, eval_results
from rsmodel.eval.results import RESULT_FORMAT, summary_markdown
from rsmodel.eval.suite import load_suite

SUITE = Path(__file__).resolve().parents[2] / "recipes" / "eval" / "remoteclip.yaml"


def records(suite, tasks=("zero_shot", "linear_probe", "knn"), hub_dataset=None):
    """Result records as rsmodel eval writes them, for every classification set of the suite: zero-shot = 50 +
    the dataset's index, linear probe = 90 + index / 10, k-NN = 80 + index / 10."""
    section = {"name": suite.name, "title": suite.title, "citation": suite.citation,
               "datasets": list(suite.datasets), "reference_models": list(suite.reference_models),
               "averages": [dataclasses.asdict(a) for a in suite.averages]}
    found = []
    names = [n for n, e in suite.datasets.items() if e.kind == "classification"]
    for index, name in enumerate(names):
        entry = suite.datasets[name]
        values = {"zero_shot": {"zero_shot/top1": 50.0 + index, "zero_shot/mean_per_class_recall": 49.0 + index},
                  "linear_probe": {"linear_probe/top1": 90 + index / 10},
                  "knn": {"knn/top1": 80 + index / 10}}
        for task in tasks:
            source, commit = (hub_dataset, "c0ffee" * 6 + "abcd") if hub_dataset and index == 0 else \
                (f"/data/{name}", None)
            found.append({
                "format": RESULT_FORMAT, "task": task, "main_metric": f"{task}/top1", "metrics": values[task],
                "details": {}, "model": {"source": "run", "digest": "d"},
                "dataset": {"name": name, "title": entry.title, "kind": "classification", "source": source,
                            "revision": "main" if commit else None, "commit": commit,
                            "splits": dict(entry.splits)},
                "reference": {m: dict(v) for m, v in entry.reference.items() if m.startswith(task + "/")},
                "suite": section})
    return found


def test_card_metadata_round_trips_through_huggingface_hub(tmp_path):
    from huggingface_hub import ModelCard

    suite = load_suite(SUITE)
    results = records(suite, hub_dataset="user/rsi-cb128")
    card = build_model_card(results, model_name="rsclip-vit-b-32", repo_id="user/rsclip-vit-b-32",
                            license="apache-2.0")
    card.save(tmp_path / "README.md")
    back = ModelCard.load(tmp_path / "README.md")
    entries = back.data.eval_results
    assert entries == eval_results(results) and len(entries) == 12 * 4
    first = entries[0]
    assert (first.task_type, first.dataset_type, first.dataset_name, first.dataset_split) == \
        ("zero-shot-image-classification", "user/rsi-cb128", "RSI-CB128", "test")
    assert first.dataset_revision == "c0ffee" * 6 + "abcd" and first.metric_config == "zero_shot/top1"
    assert first.metric_value == 50.0 and first.metric_type == "accuracy"
    knn = next(e for e in entries if e.metric_config == "knn/top1" and e.dataset_type == "aid")
    assert knn.metric_value == 80.7 and knn.task_type == "image-classification" and knn.dataset_revision is None
    assert back.data.to_dict()["model-index"][0]["name"] == "rsclip-vit-b-32"
    assert back.data.license == "apache-2.0" and "remote-sensing" in back.data.tags


def test_card_table_and_averages_beside_the_paper(tmp_path):
    suite = load_suite(SUITE)
    text = build_model_card(records(suite), model_name="m", repo_id="user/m").text
    # one row per shown metric: this model in bold, then the paper's models in the suite's order
    header = next(line for line in text.splitlines() if line.startswith("| Dataset | Metric |"))
    assert header.split(" | ")[2:6] == ["This model", "RemoteCLIP ViT-B/32", "RemoteCLIP ViT-L/14", "CLIP ViT-B/32"]
    aid = next(line for line in text.splitlines() if line.startswith("| AID | zero_shot/top1 |"))
    assert aid.split(" | ")[2:6] == ["**57.00**", "91.30", "87.90", "65.65"]
    averages = [line for line in text.splitlines() if line.startswith("| zero_shot/top1 | 12 |")
                or line.startswith("| linear_probe/top1 | 12 |") or line.startswith("| knn/top1 | 12 |")]
    assert len(averages) == 3
    assert averages[0].split(" | ")[2:4] == ["**55.50**", "62.41"]  # mean of 50..61; RemoteCLIP ViT-B/32
    assert averages[1].split(" | ")[2:4] == ["**90.55**", "93.93"]
    assert "@article{remoteclip" in text
    # without one of the twelve sets there is no average to show
    partial = [r for r in records(suite) if r["dataset"]["name"] != "aid"]
    assert "| zero_shot/top1 | 12 |" not in build_model_card(partial, model_name="m", repo_id="user/m").text


def test_summary_table_lists_datasets_in_suite_order_with_averages():
    suite = load_suite(SUITE)
    table = summary_markdown(records(suite), list(suite.datasets)).splitlines()
    assert table[0] == "| dataset | zero_shot/top1 | linear_probe/top1 | knn/top1 |"
    assert [row.split(" | ")[0] for row in table[2:14]] == [f"| {suite.datasets[n].title}" for n in suite.datasets
                                                            if suite.datasets[n].kind == "classification"]
    assert table[14] == "| average (12 sets) | 55.50 |  |  |"
    assert table[15] == "| average (12 sets) |  | 90.55 |  |"


@pytest.mark.parametrize("record, model", [({}, None), ({"model_source": {"name_or_path": "/local/clip"}}, None)])
def test_card_without_hub_base_model(record, model):
    card = build_model_card([], model_name="m", repo_id="user/m", train_record=record or None)
    assert card.data.base_model == model and "model-index" not in str(card)


def test_card_shows_test_set_size_beside_the_papers_and_flags_subsets():
    """A retrieval result on 30 of RSICD's 1,093 test images is flagged as not comparable, in the table, in a
    note above it and in the model-index entry's metric_args; a full-size result is not."""
    suite = load_suite(SUITE)
    assert suite.datasets["rsicd"].reference_test_images == 1093
    assert suite.datasets["rsitmd"].reference_test_images == 452
    assert suite.datasets["ucm_captions"].reference_test_images == 210
    results = records(suite, tasks=("zero_shot",))
    for record in results:
        record["dataset"]["rows"] = {"test": 40}
    section = results[0]["suite"]
    for name, rows in (("rsicd", 30), ("rsitmd", 452)):
        entry = suite.datasets[name]
        results.append({
            "format": RESULT_FORMAT, "task": "retrieval", "main_metric": "retrieval/mean_recall",
            "metrics": {"retrieval/mean_recall": 20.0}, "details": {}, "model": {"source": "run", "digest": "d"},
            "dataset": {"name": name, "title": entry.title, "kind": "retrieval", "source": f"/data/{name}",
                        "commit": None, "splits": dict(entry.splits), "rows": {"test": rows}},
            "reference": {m: dict(v) for m, v in entry.reference.items() if m.startswith("retrieval/")},
            "reference_test_images": entry.reference_test_images, "suite": section})
    card = build_model_card(results, model_name="m", repo_id="user/m")
    lines = card.text.splitlines()
    rsicd = next(line for line in lines if line.startswith("| RSICD | retrieval/mean_recall |"))
    assert rsicd.endswith("| **subset: 30 of 1,093 images — not comparable** |")
    rsitmd = next(line for line in lines if line.startswith("| RSITMD | retrieval/mean_recall |"))
    assert rsitmd.endswith("| 452 (as the paper) |")
    aid = next(line for line in lines if line.startswith("| AID | zero_shot/top1 |"))
    assert aid.endswith("| 40 (paper: not stated) |")
    assert "results on RSICD were computed on another number" in card.text
    entry = next(e for e in card.data.eval_results if e.dataset_type == "rsicd")
    assert entry.metric_args == {"suite": "remoteclip", "test_images": 30, "reference_test_images": 1093}


def test_card_metadata_from_the_training_record(tmp_path):
    """license, datasets and base_model come from rsmodel_train.json (the licence from the training data's
    cards); an explicit licence wins; differing data licences give "other" with a name."""
    from huggingface_hub import DatasetCard, DatasetCardData, ModelCard

    folders = {}
    for name, licence in (("dota", "other"), ("rsicd", "other"), ("ucm", "cc-by-4.0")):
        folders[name] = tmp_path / name
        folders[name].mkdir()
        DatasetCard.from_template(DatasetCardData(license=licence)).save(folders[name] / "README.md")
    record = {"model_source": {"name_or_path": "openai/clip-vit-base-patch32", "commit": "abc"},
              "data_sources": [{"path": str(folders["dota"]), "split": "train", "rows": 6},
                               {"path": str(folders["rsicd"]), "split": "train", "rows": 4},
                               {"path": "user/hub-captions", "split": "train", "rows": 9}],
              "seed": 0}
    card = build_model_card([], model_name="m", repo_id="user/m", train_record=record)
    card.save(tmp_path / "README.md")
    data = ModelCard.load(tmp_path / "README.md").data
    assert data.base_model == "openai/clip-vit-base-patch32"
    assert data.datasets == ["dota", "rsicd", "user/hub-captions"]
    assert data.license == "other"
    assert "| other |" in card.text and "| not stated |" in card.text
    assert build_model_card([], model_name="m", repo_id="user/m", train_record=record,
                            license="apache-2.0").data.license == "apache-2.0"
    mixed = dict(record, data_sources=record["data_sources"] + [{"path": str(folders["ucm"]), "split": "train"}])
    data = build_model_card([], model_name="m", repo_id="user/m", train_record=mixed).data
    assert (data.license, data.license_name, data.license_link) == ("other", "training-data-licences", "README.md")


def test_card_embeds_evaluation_plots(tmp_path):
    suite = load_suite(SUITE)
    card = build_model_card(records(suite, tasks=("zero_shot",)), model_name="m", repo_id="user/m",
                            plots=["eval/aid/zero_shot_confusion.png", "eval/summary.png"])
    assert "![eval/aid/zero_shot_confusion.png](eval/aid/zero_shot_confusion.png)" in card.text
    assert "![eval/summary.png](eval/summary.png)" in card.text
    assert "### Plots" not in build_model_card(records(suite), model_name="m", repo_id="user/m").text
