"""``rsmodel compare`` and the demo's evaluation plots, through the CLI: two tiny models evaluated on the demo
dataset by the demo suite, and hand-written results on the paper's classification sets for Tables III and IV."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rsmodel.cli import main

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "recipes" / "eval" / "remoteclip.yaml"
DEMO_SUITE = ROOT / "recipes" / "eval" / "demo.yaml"
CLASSIFICATION_SETS = ["rsi_cb128", "rsi_cb256", "whu_earth", "eurosat", "mlrsnet", "patternnet", "resisc45", "aid",
                       "rs2800", "optimal31", "rsc11", "whu_rs19"]


@pytest.fixture(scope="module")
def demo_runs(rsdata_demo_dataset, tmp_path_factory) -> list[Path]:
    """Two tiny CLIPModels (seeds 0 and 1), each evaluated by the demo suite as scripts/demo.sh does."""
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tests.eval.tiny import write_tiny_model

    root = tmp_path_factory.mktemp("compare")
    runs = []
    for seed in (0, 1):
        model = write_tiny_model(root / f"tiny-{seed}", seed=seed)
        assert main(["eval", str(model), "--suite", str(DEMO_SUITE), "--dataset", f"demo={rsdata_demo_dataset}",
                     "--cache-dir", str(root / "cache"), "--no-progress"]) == 0
        runs.append(model)
    return runs


def test_demo_evaluation_writes_a_plot_that_summary_links(demo_runs):
    pytest.importorskip("matplotlib")
    from PIL import Image

    out = demo_runs[0] / "eval"
    assert (out / "demo" / "retrieval-recall.png").is_file()
    assert Image.open(out / "demo" / "retrieval-recall.png").size == (600, 400)
    assert "- [rsdata demo (synthetic DOTA-format shapes): retrieval-recall](demo/retrieval-recall.png)" in \
        (out / "summary.md").read_text()


def test_compare_prints_the_tables_of_two_runs(demo_runs, tmp_path, capsys):
    capsys.readouterr()
    assert main(["compare", *map(str, demo_runs), "--out", str(tmp_path / "cmp")]) == 0
    printed = capsys.readouterr().out
    assert "### Table II: image-text retrieval recall (%)" in printed
    assert "| Test set | Model | I2T R@1 | I2T R@5 | I2T R@10 | T2I R@1 | T2I R@5 | T2I R@10 | mean recall |" in printed
    records = [json.loads((run / "eval" / "demo" / "retrieval.json").read_text())["metrics"] for run in demo_runs]
    for run, metrics in zip(demo_runs, records):
        row = f"| rsdata demo (synthetic DOTA-format shapes) | {run.name} | {metrics['retrieval/i2t_r@1']:.2f} |"
        assert row in printed
    assert "Table III" not in printed and "(paper)" not in printed  # no zero-shot results, no --paper
    written = sorted(p.name for p in (tmp_path / "cmp").iterdir())
    assert written == ["compare-retrieval.png", "compare.json", "compare.md"] or \
        written == ["compare.json", "compare.md"]  # the plot needs matplotlib
    assert (tmp_path / "cmp" / "compare.md").read_text() in printed

    assert main(["compare", f"small={demo_runs[0]}", str(demo_runs[1] / "eval"), "--paper", "--suite", str(SUITE)]) == 0
    printed = capsys.readouterr().out
    assert "| RSITMD | RemoteCLIP ViT-B/32 (paper) | 27.88 | 50.66 | 65.71 | 22.17 | 56.46 | 73.41 | 49.38 |" in printed
    assert "| UCM-captions | previous best (paper) |  |  |  |  |  |  | 54.12 |" in printed
    assert "| rsdata demo (synthetic DOTA-format shapes) | small |" in printed
    assert "| small |" + "  |" * 13 in printed  # Table III: the paper's columns, nothing evaluated on them
    assert "| RemoteCLIP ViT-B/32 (paper) | 24.18 | 39.50 |" in printed and "| 96.12 | 62.41 |" in printed


def write_result(out: Path, dataset: str, task: str, metrics: dict) -> None:
    suite = {"name": "remoteclip", "datasets": CLASSIFICATION_SETS,
             "averages": [{"metric": m, "datasets": CLASSIFICATION_SETS, "reference": {}}
                          for m in ("zero_shot/top1", "linear_probe/top1", "knn/top1")]}
    record = {"format": "rsclip-eval/1", "task": task, "main_metric": f"{task}/top1", "metrics": metrics,
              "details": {}, "dataset": {"name": dataset, "title": dataset.upper()}, "suite": suite}
    (out / dataset).mkdir(parents=True, exist_ok=True)
    (out / dataset / f"{task}.json").write_text(json.dumps(record))


def test_tables_three_and_four_with_averages(tmp_path, capsys):
    for model, offset in (("alpha", 0.0), ("beta", 10.0)):
        for index, dataset in enumerate(CLASSIFICATION_SETS):
            for task in ("zero_shot", "linear_probe", "knn"):
                if model == "beta" and dataset == "aid" and task == "knn":
                    continue  # beta lacks one k-NN set: no k-NN average for it
                write_result(tmp_path / model / "eval", dataset, task, {f"{task}/top1": 50.0 + index + offset})
    assert main(["compare", str(tmp_path / "alpha"), str(tmp_path / "beta"), "--paper", "--suite", str(SUITE),
                 "--out", str(tmp_path / "cmp")]) == 0
    printed = capsys.readouterr().out
    assert "| Model | RSI_CB128 | RSI_CB256 |" in printed  # the results' titles, in the suite's order
    assert "| alpha | 50.00 | 51.00 |" in printed and "| 61.00 | 55.50 |" in printed  # average of 50..61
    assert "### Table IV: linear probe top-1 accuracy (%)" in printed
    assert "| RemoteCLIP ViT-B/32 (paper) |" + "  |" * 12 + " 93.93 |" in printed
    knn = printed.split("### Table IV: k-NN")[1]
    assert "| beta | 60.00 | 61.00 | 62.00 | 63.00 | 64.00 | 65.00 | 66.00 |  | 68.00 |" in knn
    assert knn.split("| beta |")[1].splitlines()[0].endswith("|  |")  # no average without every set
    tables = [t["key"] for t in json.loads((tmp_path / "cmp" / "compare.json").read_text())["tables"]]
    assert tables == ["retrieval", "zero_shot", "linear_probe", "knn"]  # retrieval: the paper's rows alone


def test_a_folder_without_results_is_refused(tmp_path, capsys):
    assert main(["compare", str(tmp_path)]) == 2
    assert "no rsmodel eval results" in capsys.readouterr().err
