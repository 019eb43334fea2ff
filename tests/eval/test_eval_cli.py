"""``rsmodel eval`` end to end on a tiny CLIPModel and small generated datasets (one per dataset kind), through the
shipped suite (recipes/eval/remoteclip.yaml) with fast settings: results, values against a direct computation,
the embedding cache (a second run encodes nothing and writes the same bytes; a killed run resumes), errors, and
models and datasets read from the (local) Hub."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from rsmodel.cli import main  # noqa: E402
from tests.eval.test_metrics import naive_retrieval, unit  # noqa: E402
from tests.eval.tiny import (  # noqa: E402
    write_classification_set,
    write_counting_set,
    write_retrieval_set,
    write_tiny_model,
)

SUITE = Path(__file__).resolve().parents[2] / "recipes" / "eval" / "remoteclip.yaml"
FAST = ["-o", "linear_probe.epochs=5", "-o", "linear_probe.trials=2", "-o", "linear_probe.batch_size=8",
        "-o", "few_shot.shots=[1, 2]", "-o", "few_shot.runs=2", "-o", "few_shot.epochs=5",
        "-o", "inference.batch_size=4", "-o", "inference.num_workers=0", "-o", "inference.chunk_rows=8"]
TASK_FILES = ["aid/few_shot.json", "aid/knn.json", "aid/linear_probe.json", "aid/zero_shot.json",
              "remotecount/counting.json", "rsicd/retrieval.json"]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("eval")
    write_tiny_model(root / "model")
    write_classification_set(root / "data" / "aid")
    write_retrieval_set(root / "data" / "rsicd")
    write_counting_set(root / "data" / "remotecount")
    return root


def eval_args(root: Path, out: Path, cache: Path, *extra: str) -> list[str]:
    return ["eval", str(root / "model"), "--suite", str(SUITE), "--data-root", str(root / "data"),
            "--datasets", "aid,rsicd,remotecount", "--cache-dir", str(cache), "--output", str(out),
            "--no-progress", *FAST, *extra]


class ForwardCounter:
    """Counts CLIPModel image and text forward calls (the embedding work)."""

    def __init__(self, monkeypatch):
        from transformers import CLIPModel

        self.calls = 0
        for name in ("get_image_features", "get_text_features"):
            original = getattr(CLIPModel, name)

            def counted(model, *args, _original=original, **kwargs):
                self.calls += 1
                return _original(model, *args, **kwargs)

            monkeypatch.setattr(CLIPModel, name, counted)


@pytest.fixture(scope="module")
def first_run(workspace, tmp_path_factory):
    out, cache = workspace / "out", workspace / "cache"
    assert main(eval_args(workspace, out, cache)) == 0
    return out, cache


def test_every_task_runs_end_to_end(first_run, capsys):
    out, _ = first_run
    assert sorted(p.relative_to(out).as_posix() for p in out.glob("*/*.json")) == TASK_FILES
    metrics = {name: json.loads((out / name).read_text())["metrics"] for name in TASK_FILES}
    assert set(metrics["aid/zero_shot.json"]) == {"zero_shot/top1", "zero_shot/mean_per_class_recall"}
    assert set(metrics["aid/linear_probe.json"]) == {"linear_probe/top1", "linear_probe/mean_per_class_recall"}
    assert set(metrics["aid/knn.json"]) == {"knn/top1", "knn/mean_per_class_recall"}
    assert set(metrics["aid/few_shot.json"]) == {f"few_shot/top1_{k}shot_{s}" for k in (1, 2) for s in ("mean", "std")}
    assert set(metrics["rsicd/retrieval.json"]) == {"retrieval/mean_recall"} | {
        f"retrieval/{d}_r@{k}" for d in ("i2t", "t2i") for k in (1, 5, 10)}
    assert set(metrics["remotecount/counting.json"]) == {f"counting/{p}top{k}" for p in ("", "digits_")
                                                         for k in range(1, 11)}
    record = json.loads((out / "rsicd" / "retrieval.json").read_text())
    assert record["dataset"]["rows"] == {"test": 7} and record["details"]["images"] == 6
    assert record["reference"]["retrieval/mean_recall"]["RemoteCLIP ViT-B/32"] == 35.26  # from the suite
    assert record["settings"] == {"ks": [1, 5, 10], "chunk_rows": 1024}
    summary = (out / "summary.md").read_text()
    assert summary.splitlines()[0] == ("| dataset | zero_shot/top1 | linear_probe/top1 | knn/top1 | "
                                       "few_shot/top1_2shot_mean | retrieval/mean_recall | counting/top1 |")
    table = summary.split("\n\n")[0].splitlines()
    assert [line.split(" | ")[0] for line in table[2:]] == ["| AID", "| RSICD", "| RemoteCount"]


def test_plots_are_drawn_beside_the_results_and_linked(first_run):
    pytest.importorskip("matplotlib")
    from PIL import Image

    out, _ = first_run
    plots = sorted(p.relative_to(out).as_posix() for p in out.glob("*/*.png"))
    assert plots == ["aid/few_shot-curve.png", "aid/knn-per-class.png", "aid/linear_probe-per-class.png",
                     "aid/zero_shot-per-class.png", "remotecount/counting-confusion.png",
                     "remotecount/counting-topk.png", "rsicd/retrieval-recall.png"]
    for name in plots:
        image = Image.open(out / name).convert("RGB")
        assert image.width >= 500 and len(image.getcolors(1 << 20)) > 20, name  # drawn, not blank
    summary = (out / "summary.md").read_text()
    assert "- [RemoteCount: counting-confusion](remotecount/counting-confusion.png)" in summary
    assert all(f"]({name})" in summary for name in plots)
    assert json.loads((out / "summary.json").read_text())["plots"] == plots


def direct_embeddings(model_dir: Path, images, texts):
    """Embeddings computed here with transformers alone (one batch each), without rsmodel's encoder or cache."""
    from transformers import CLIPModel, CLIPProcessor

    model = CLIPModel.from_pretrained(model_dir).eval()
    processor = CLIPProcessor.from_pretrained(model_dir)
    with torch.no_grad():
        pixels = processor(images=[image.convert("RGB") for image in images], return_tensors="pt")["pixel_values"]
        image = model.get_image_features(pixel_values=pixels)
        tokens = processor.tokenizer(texts, padding=True, return_tensors="pt")
        text = model.get_text_features(**tokens)
    return getattr(image, "pooler_output", image).numpy(), getattr(text, "pooler_output", text).numpy()


def test_values_match_a_direct_computation(workspace, first_run):
    import datasets

    out, _ = first_run
    # zero-shot on AID
    test = datasets.load_dataset(str(workspace / "data" / "aid"), split="test")
    names = ["airport", "storage tanks", "dense residential"]  # class_name of labels 0, 1, 2 (sorted folders)
    image, text = direct_embeddings(workspace / "model", test["image"],
                                     [f"a satellite photo of {name}." for name in names])
    predicted = [int(np.argmax([unit(i) @ unit(t) for t in text])) for i in image]
    top1 = 100 * np.mean(np.asarray(predicted) == np.asarray(test["label"]))
    assert json.loads((out / "aid" / "zero_shot.json").read_text())["metrics"]["zero_shot/top1"] == \
        pytest.approx(top1)
    # retrieval on RSICD: rows 1 and 2 are one image (same file name), holding 2 + 3 captions
    rows = datasets.load_dataset(str(workspace / "data" / "rsicd"), split="test")
    captions = [c for row in rows["captions"] for c in row]
    image, text = direct_embeddings(workspace / "model", rows["image"], captions)
    first_rows = [0, 1, 3, 4, 5, 6]
    owners = [0] * 5 + [1] * 2 + [1] * 3 + [2] * 5 + [3] * 5 + [4] * 5 + [5] * 5
    per_image = [[text[j] for j, o in enumerate(owners) if o == i] for i in range(6)]
    expected = naive_retrieval([image[r] for r in first_rows], per_image)
    got = json.loads((out / "rsicd" / "retrieval.json").read_text())["metrics"]
    for name, value in expected.items():
        assert got[name] == pytest.approx(value), name
    # counting: top-1 with the paper's candidates (only the number word changed) on images padded to square
    from transformers import CLIPModel

    from tests.eval.test_preprocess import oracle

    rows = datasets.load_dataset(str(workspace / "data" / "remotecount"), split="validation")
    words = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
    candidates = [[row[count - 1].replace(words[count - 1], word) for word in words]
                  for row, count in zip(rows["count_candidates"], rows["count"])]
    distinct = list(dict.fromkeys(c for row in candidates for c in row))
    _, text = direct_embeddings(workspace / "model", rows["image"][:1], distinct)
    model = CLIPModel.from_pretrained(workspace / "model").eval()
    with torch.no_grad():
        pixels = torch.from_numpy(np.stack([oracle(im, 32, "pad_square") for im in rows["image"]]))
        image = model.get_image_features(pixel_values=pixels)
    image = getattr(image, "pooler_output", image).numpy()
    hits = [int(np.argmax([unit(i) @ unit(text[distinct.index(c)]) for c in row])) == count - 1
            for i, row, count in zip(image, candidates, rows["count"])]
    got = json.loads((out / "remotecount" / "counting.json").read_text())
    assert got["metrics"]["counting/top1"] == pytest.approx(100 * np.mean(hits))
    assert got["details"]["candidates"] == "number_only" and got["image_preprocessing"]["test"]["fit"] == "pad_square"


def test_second_run_encodes_nothing_and_writes_the_same_bytes(workspace, first_run, tmp_path, monkeypatch,
                                                              capsys):
    out, cache = first_run
    before = {name: (out / name).read_bytes() for name in TASK_FILES}
    counter = ForwardCounter(monkeypatch)
    capsys.readouterr()
    assert main(eval_args(workspace, tmp_path / "again", cache)) == 0
    assert counter.calls == 0
    printed = capsys.readouterr().out
    assert "embeddings: 0 images and 0 texts encoded, 8 read from the cache" in printed
    assert {name: (tmp_path / "again" / name).read_bytes() for name in TASK_FILES} == before
    plots = sorted(p.relative_to(out).as_posix() for p in out.glob("*/*.png"))
    assert {n: (tmp_path / "again" / n).read_bytes() for n in plots} == {n: (out / n).read_bytes() for n in plots}
    # another cache: everything is computed again, and the results are the same bytes
    assert main(eval_args(workspace, tmp_path / "fresh", tmp_path / "cache")) == 0
    assert counter.calls > 0
    assert {name: (tmp_path / "fresh" / name).read_bytes() for name in TASK_FILES} == before


def test_killed_embedding_job_resumes_where_it_stopped(workspace, first_run, tmp_path, monkeypatch):
    from rsmodel.eval import EvalOptions, evaluate, load_suite
    from rsmodel.eval.embeddings import ClipEncoder

    suite = load_suite(SUITE, [FAST[i + 1] for i in range(0, len(FAST), 2)])
    options = EvalOptions(tasks=["knn"], datasets=["aid"], data_root=workspace / "data", cache_dir=tmp_path / "c",
                          output=tmp_path / "out", progress=False)
    original = ClipEncoder.encode_images
    calls = []

    def dies_on_third_part(self, dataset, start, stop, advance, **kwargs):
        calls.append((start, stop))
        if len(calls) == 3:
            raise KeyboardInterrupt  # a kill: nothing after it runs
        return original(self, dataset, start, stop, advance, **kwargs)

    monkeypatch.setattr(ClipEncoder, "encode_images", dies_on_third_part)
    with pytest.raises(KeyboardInterrupt):
        evaluate(str(workspace / "model"), suite, options)
    assert calls == [(0, 8), (8, 16), (16, 18)]  # train split (18 rows) in parts of 8
    parts = sorted(p.name for p in (tmp_path / "c" / "images").glob("*.partial/*.npy"))
    assert parts == ["000000000000-000000000008.npy", "000000000008-000000000016.npy"]
    monkeypatch.setattr(ClipEncoder, "encode_images", original)
    summary = evaluate(str(workspace / "model"), suite, options)
    assert summary.stats.images_encoded == 2 + 9  # the rest of train, then test
    assert not list((tmp_path / "c" / "images").glob("*.partial"))
    _, first_cache = first_run
    for path in (tmp_path / "c" / "images").glob("*.npy"):  # same arrays as the uninterrupted first run
        assert path.read_bytes() == (first_cache / "images" / path.name).read_bytes()
    assert (tmp_path / "out" / "aid" / "knn.json").read_bytes() == (first_run[0] / "aid" / "knn.json").read_bytes()


def test_worker_processes_do_not_change_the_embeddings(workspace, first_run, tmp_path):
    assert main(eval_args(workspace, tmp_path / "out", tmp_path / "cache", "--tasks", "zero_shot",
                          "-o", "inference.num_workers=2")) == 0
    _, first_cache = first_run
    arrays = sorted((tmp_path / "cache" / "images").glob("*.npy"))
    assert arrays and all(p.read_bytes() == (first_cache / "images" / p.name).read_bytes() for p in arrays)


def test_unavailable_and_bad_datasets_are_reported(workspace, tmp_path, capsys):
    args = eval_args(workspace, tmp_path / "out", tmp_path / "cache", "--tasks", "zero_shot,retrieval,counting",
                     "--data-root", str(tmp_path / "nowhere"), "--dataset", f"aid={workspace / 'data' / 'aid'}")
    assert main(args) == 1
    error = capsys.readouterr().err
    assert f"rsicd: no dataset folder {tmp_path / 'nowhere' / 'rsicd'}" in error
    assert "rsdata convert recipe:rsicd SOURCE" in error
    assert main(args + ["--skip-unavailable"]) == 0
    printed = capsys.readouterr().out
    assert "skipped 2 datasets (rsicd: no dataset folder" in printed and "remotecount: no dataset folder" in printed
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in (tmp_path / "out").glob("*/*.json")) == \
        ["aid/zero_shot.json"]
    # a retrieval set where a classification set is expected: the missing columns are named
    assert main(eval_args(workspace, tmp_path / "o2", tmp_path / "cache", "--tasks", "zero_shot",
                          "--dataset", f"aid={workspace / 'data' / 'rsicd'}")) == 1
    error = capsys.readouterr().err
    assert "aid (" in error and "a classification set needs columns image, label, class_name; missing label, " \
        "class_name" in error
    assert main(eval_args(workspace, tmp_path / "o3", tmp_path / "cache", "--tasks", "zero_shoot")) == 2
    assert "unknown task(s) zero_shoot (did you mean 'zero_shot'" in capsys.readouterr().err
    assert main(eval_args(workspace, tmp_path / "o3", tmp_path / "cache", "--datasets", "imagenet")) == 2
    assert "--datasets: imagenet not in suite remoteclip" in capsys.readouterr().err
    args = eval_args(workspace, tmp_path / "o3", tmp_path / "cache", "--tasks", "counting")
    args[args.index("--datasets") + 1] = "aid"
    assert main(args) == 2
    assert "--tasks counting: none of them applies to the selected datasets (aid: zero_shot, linear_probe, " \
        "knn, few_shot)" in capsys.readouterr().err
    assert main(eval_args(workspace, tmp_path / "o3", tmp_path / "cache", "-o", "knn.k=twenty")) == 1
    assert "remoteclip.yaml: tasks.knn.k must be an integer, got 'twenty'" in capsys.readouterr().err
    assert not (tmp_path / "o2").exists() and not (tmp_path / "o3").exists()


def test_model_and_dataset_from_the_hub(local_hub, workspace, first_run, tmp_path):
    from huggingface_hub import HfApi

    api = HfApi()
    api.create_repo("user/tiny-clip")
    api.upload_folder(folder_path=str(workspace / "model"), repo_id="user/tiny-clip", ignore_patterns=["eval/*"])
    api.create_repo("user/rsicd-eval", repo_type="dataset")
    api.upload_folder(folder_path=str(workspace / "data" / "rsicd"), repo_id="user/rsicd-eval", repo_type="dataset")
    commit = api.dataset_info("user/rsicd-eval").sha
    out = tmp_path / "out"
    assert main(["eval", "user/tiny-clip", "--suite", str(SUITE), "--datasets", "rsicd", "--dataset",
                 "rsicd=user/rsicd-eval@main", "--cache-dir", str(tmp_path / "cache"), "--output", str(out),
                 "--no-progress", *FAST]) == 0
    record = json.loads((out / "rsicd" / "retrieval.json").read_text())
    assert record["dataset"]["fingerprints"] == {"test": f"hub:user/rsicd-eval@{commit}:test"}
    assert record["dataset"]["revision"] == "main" and record["dataset"]["commit"] == commit
    assert record["model"]["source"] == "user/tiny-clip" and len(record["model"]["commit"]) == 40
    local = json.loads((first_run[0] / "rsicd" / "retrieval.json").read_text())
    assert record["model"]["digest"] == local["model"]["digest"]  # same files, same identity
    assert record["metrics"] == local["metrics"]


def test_list_names_every_task_and_every_dataset_of_the_suite(capsys):
    from rsmodel.cli import main as rsmodel_main
    from rsmodel.eval.registry import TASK_MODULES

    assert rsmodel_main(["eval", "--list"]) == 0
    printed = capsys.readouterr().out
    for task in TASK_MODULES:
        assert f"\n  {task} " in printed
    for name in ("rsi_cb128", "eurosat", "aid", "whu_rs19", "rsitmd", "rsicd", "ucm_captions", "remotecount"):
        assert f"\n  {name} " in printed
