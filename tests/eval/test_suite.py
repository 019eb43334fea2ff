"""The suite file: the shipped RemoteCLIP suite (datasets, protocol settings, the paper's numbers) and the
validation of bad suites, each error naming the file and the field."""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
import yaml

from rsmodel.errors import SuiteError
from rsmodel.eval.suite import load_suite, parse_suite

ROOT = Path(__file__).resolve().parents[2]
SUITE = ROOT / "recipes" / "eval" / "remoteclip.yaml"
SPEC = ROOT.parent / "shared" / "specs" / "evaluation.md"
ZERO_SHOT_ORDER = ["rsi_cb128", "rsi_cb256", "whu_earth", "eurosat", "mlrsnet", "patternnet", "resisc45", "aid",
                   "rs2800", "optimal31", "rsc11", "whu_rs19"]


def test_shipped_suite_has_the_sixteen_datasets_and_the_paper_settings():
    suite = load_suite(SUITE)
    kinds = {name: entry.kind for name, entry in suite.datasets.items()}
    assert [n for n, k in kinds.items() if k == "classification"] == ZERO_SHOT_ORDER
    assert [n for n, k in kinds.items() if k == "retrieval"] == ["rsitmd", "rsicd", "ucm_captions"]
    assert [n for n, k in kinds.items() if k == "counting"] == ["remotecount"]
    for name in ZERO_SHOT_ORDER:
        assert suite.datasets[name].tasks == ("zero_shot", "linear_probe", "knn", "few_shot")
        assert suite.datasets[name].splits == {"train": "train", "test": "test"}
    assert suite.datasets["remotecount"].splits == {"test": "validation"}
    probe = suite.settings_for("linear_probe")
    assert (probe.lr, probe.weight_decay, probe.epochs, probe.batch_size, probe.trials) == (0.8, 4e-5, 1000, 10000, 5)
    knn = suite.settings_for("knn")
    assert (knn.k, knn.temperature) == (20, 0.07)
    assert suite.settings_for("few_shot").shots == (1, 4, 8, 16, 32)
    assert suite.settings_for("zero_shot").templates == ("a satellite photo of {class_name}.",)
    assert suite.settings_for("retrieval").ks == (1, 5, 10)
    # the task defaults are the paper's settings too
    assert type(probe)() == probe and type(knn)() == knn


def test_reference_numbers_are_consistent():
    suite = load_suite(SUITE)
    for average in suite.averages:
        if average.metric != "zero_shot/top1":
            continue
        for model, value in average.reference.items():
            values = [suite.datasets[name].reference["zero_shot/top1"][model] for name in average.datasets]
            assert sum(values) / len(values) == pytest.approx(value, abs=0.006), model
    for name in ("rsitmd", "rsicd", "ucm_captions"):
        reference = suite.datasets[name].reference
        parts = [reference[f"retrieval/{d}_r@{k}"]["RemoteCLIP ViT-B/32"] for d in ("i2t", "t2i") for k in (1, 5, 10)]
        assert sum(parts) / 6 == pytest.approx(reference["retrieval/mean_recall"]["RemoteCLIP ViT-B/32"], abs=0.006)


def test_reference_numbers_match_the_spec():
    if not SPEC.is_file():
        pytest.skip(f"{SPEC} is not present (the shared specs live beside the checkout)")
    suite = load_suite(SUITE)
    text = SPEC.read_text()
    for model in ("CLIP ViT-B/32", "RemoteCLIP ViT-B/32", "CLIP ViT-L/14", "RemoteCLIP ViT-L/14"):
        row = re.search(rf"^\| {re.escape(model)} \| ([\d. ]+) \| ([\d.]+) \|$", text, re.M)
        values = [float(v) for v in row.group(1).split()]
        assert [suite.datasets[n].reference["zero_shot/top1"][model] for n in ZERO_SHOT_ORDER] == values
        assert suite.averages[0].reference[model] == float(row.group(2))
    for title, name in (("RSITMD", "rsitmd"), ("RSICD", "rsicd"), ("UCM", "ucm_captions")):
        row = re.search(rf"^\| {title} \| ([\d.]+) \| ([\d.]+) \(([\d. ]+) / ([\d. ]+)\) \| ([\d.]+) \| ([\d.]+) \|$",
                        text, re.M)
        reference = suite.datasets[name].reference
        mean = reference["retrieval/mean_recall"]
        assert [mean["RemoteCLIP RN50"], mean["RemoteCLIP ViT-B/32"], mean["RemoteCLIP ViT-L/14"],
                mean["previous best (paper)"]] == [float(row.group(i)) for i in (1, 2, 5, 6)]
        parts = [float(v) for v in (row.group(3) + " " + row.group(4)).split()]
        assert [reference[f"retrieval/{d}_r@{k}"]["RemoteCLIP ViT-B/32"] for d in ("i2t", "t2i")
                for k in (1, 5, 10)] == parts


BASE = yaml.safe_load(SUITE.read_text())


def broken(change) -> dict:
    data = copy.deepcopy(BASE)
    change(data)
    return data


@pytest.mark.parametrize("change, message", [
    (lambda d: d.update(colour="red"), r"the suite: unknown field\(s\) colour; valid fields: averages, citation"),
    (lambda d: d.pop("datasets"), r"the suite: missing field\(s\) datasets"),
    (lambda d: d["tasks"]["knn"].update(kk=3), r"tasks\.knn: unknown field\(s\) kk; valid fields: chunk_rows, k, "),
    (lambda d: d["tasks"]["knn"].update(k="20"), r"tasks\.knn\.k must be an integer, got '20'"),
    (lambda d: d["tasks"].update(segmentation={}), r"tasks: unknown task\(s\) segmentation; tasks: zero_shot"),
    (lambda d: d["tasks"]["linear_probe"].update(lr_range=[1]), r"tasks\.linear_probe\.lr_range must be a list of 2"),
    (lambda d: d["tasks"]["linear_probe"].update(validation_fraction=1.5), r"validation_fraction must be in \(0, 1\)"),
    (lambda d: d["tasks"]["zero_shot"].update(templates=["a photo of {}."]), r"lacks \{class_name\}"),
    (lambda d: d["inference"].update(precision="fp8"), r"inference: precision 'fp8': expected one of fp32, bf16"),
    (lambda d: d["datasets"]["aid"].update(kind="retrieval"),
     r"datasets\.aid\.tasks: zero_shot needs a classification dataset, and this one is retrieval"),
    (lambda d: d["datasets"]["aid"].update(splits={"test": "test"}),
     r"datasets\.aid\.splits: no split named for role\(s\) train"),
    (lambda d: d["datasets"]["aid"].update(source={"path": "aid", "repo": "user/aid"}), r"exactly one of path"),
    (lambda d: d["datasets"]["aid"].update(source={"repo": "aid"}), r"repo 'aid' is not a Hub repo id"),
    (lambda d: d["datasets"]["aid"]["reference"].update({"retrieval/mean_recall": {"x": 1.0}}),
     r"datasets\.aid\.reference: metric 'retrieval/mean_recall' belongs to none of its tasks"),
    (lambda d: d["datasets"]["aid"]["reference"]["zero_shot/top1"].update({"x": "high"}),
     r"datasets\.aid\.reference\.zero_shot/top1\.x must be a number, got 'high'"),
    (lambda d: d["datasets"].update(AID=d["datasets"]["aid"]), r"datasets\.AID: a dataset name is lower case"),
    (lambda d: d["averages"][0]["datasets"].append("imagenet"), r"averages\[0\]\.datasets: imagenet not in"),
])
def test_bad_suites_are_refused_naming_file_and_field(change, message):
    with pytest.raises(SuiteError, match=r"^my-suite\.yaml: .*" + message):
        parse_suite(broken(change), "my-suite.yaml")


def test_overrides(tmp_path):
    suite = load_suite(SUITE, ["linear_probe.epochs=7", "few_shot.shots=[1, 2]", "inference.batch_size=3",
                               "seed=5"])
    assert suite.settings_for("linear_probe").epochs == 7 and suite.settings_for("few_shot").shots == (1, 2)
    assert suite.inference.batch_size == 3 and suite.seed == 5
    with pytest.raises(SuiteError, match=r"--override 'epochs7': expected KEY=VALUE"):
        load_suite(SUITE, ["epochs7"])
    with pytest.raises(SuiteError, match=r"--override 'probe.epochs': expected seed, data_root, inference.FIELD"):
        load_suite(SUITE, ["probe.epochs=7"])
    with pytest.raises(SuiteError, match=r"tasks\.linear_probe\.epochs must be an integer, got 'many'"):
        load_suite(SUITE, ["linear_probe.epochs=many"])
    (tmp_path / "bad.yaml").write_text("name: [unclosed\n")
    with pytest.raises(SuiteError, match=r"bad\.yaml: not valid YAML"):
        load_suite(tmp_path / "bad.yaml")
