"""The corpus recipe: validation, and the RemoteCLIP corpus built end to end from generated stand-ins of every
source, with planted near-duplicates across sources and against a test set."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rsdata.cli import main
from rsdata.corpus_recipe import load_corpus_recipe
from rsdata.recipe import RecipeError

RECIPES = Path(__file__).resolve().parents[1] / "recipes" / "datasets"
REMOTECLIP = RECIPES / "remoteclip.yaml"

# Table I of the RemoteCLIP paper (image counts per source), independent of the recipe file.
PAPER_TABLE_I = {
    "rsicd": 8483, "rsitmd": 3603, "ucm_captions": 1676, "auair": 32823, "carpk": 1568, "dior": 23463,
    "dota": 1409, "hrrsd": 21761, "hrsc2016": 1055, "levir": 3791, "rsod": 936, "stanford_drone": 17351,
    "visdrone": 6471, "isaid": 30821, "loveda": 4187, "potsdam": 5421, "vaihingen": 742,
}


def test_remoteclip_recipe_names_ret3_det10_seg4_with_the_papers_counts():
    recipe = load_corpus_recipe(REMOTECLIP)
    configs = {c.name: [s.name for s in c.sources] for c in recipe.configs}
    assert configs == {
        "ret3": ["rsicd", "rsitmd", "ucm_captions"],
        "det10": ["dota", "dior", "hrrsd", "rsod", "levir", "hrsc2016", "auair", "carpk", "pucpr", "stanford_drone",
                  "visdrone"],
        "seg4": ["isaid", "loveda", "potsdam", "vaihingen"],
    }
    counted = {s.name: s.paper_images for _, s in recipe.training_sources() if s.paper_row is None}
    assert counted == PAPER_TABLE_I
    assert {s.name: s.paper_row for _, s in recipe.training_sources() if s.paper_row} == {"pucpr": "carpk"}
    assert recipe.max_distance == 1
    tests = {s.name: s.splits for s in recipe.test_sets}
    assert tests["rsicd"] == ("test",) and tests["rsitmd"] == ("test",) and tests["ucm_captions"] == ("test",)
    tested = {(s.folder, split) for s in recipe.test_sets for split in s.splits}
    for _, source in recipe.training_sources():
        # Table I counts whole datasets for some sources (DIOR, HRRSD, HRSC2016, LoveDA's Val, CARPK's test): a
        # source reads a split its dataset recipe keeps for evaluation only where its note says why, and never one
        # a test set of the corpus evaluates on.
        assert source.paper_note, source.name
        assert not {(source.folder, split) for split in source.splits} & tested, source.name
    whole = {s.name: s.splits for _, s in recipe.training_sources()}
    assert whole["dior"] == whole["hrrsd"] == whole["hrsc2016"] == ("train", "val", "test")
    assert whole["loveda"] == ("Train", "Val") and whole["carpk"] == whole["pucpr"] == ("train", "test")
    assert {s.name: s.recipe.convert_options.get("tile_stride") for _, s in recipe.training_sources()
            if s.recipe.convert_options.get("tile")} == {"isaid": 512, "potsdam": None, "vaihingen": None}
    for name in ("potsdam", "vaihingen"):  # Table I's 4 classes [I]
        source = next(s for _, s in recipe.training_sources() if s.name == name)
        ignored = set(source.all_format_options["ignore"].split(","))
        described = set(source.recipe.names) - ignored
        assert described == {"building", "low_vegetation", "tree", "car"}, name


def _write_corpus(tmp_path: Path, body: str) -> Path:
    """A corpus recipe beside copies of two real dataset recipes."""
    folder = tmp_path / "recipes"
    folder.mkdir(exist_ok=True)
    for name in ("dota", "dior"):
        (folder / f"{name}.yaml").write_text((RECIPES / f"{name}.yaml").read_text())
    path = folder / "mini.yaml"
    path.write_text("kind: corpus\nname: mini\ntitle: Mini\n" + body)
    return path


@pytest.mark.parametrize("body, message", [
    ("configs: {a: {sources: [{recipe: dota, folder: D}]}}\ncolour: red\n", "unknown field(s) colour"),
    ("configs: {a: {sources: [{recipe: nope, folder: D}]}}\n", "configs.a.sources[0].recipe: no dataset recipe"),
    ("configs: {a: {sources: [{recipe: dota}]}}\n", "configs.a.sources[0]: missing field(s) folder"),
    ("configs: {a: {sources: [{recipe: dota, folder: D, splits: [nope]}]}}\n", "nope not among recipe 'dota'"),
    ("configs: {a: {sources: [{recipe: dota, folder: D}]}, b: {sources: [{recipe: dota, folder: E}]}}\n",
     "appears in both configs 'a' and 'b'"),
    ("configs: {a: {sources: [{recipe: dota, folder: D, options: {tile: big}}]}}\n",
     "configs.a.sources[0].options.tile' must be int"),
    ("configs: {a: {sources: [{recipe: dota, folder: D, paper_images: -1}]}}\n", "paper_images"),
    ("configs: {}\n", "names no config"),
    ("configs: {a: {sources: [{recipe: dota, folder: D, paper_row: dior}]}}\n", "names no other training source"),
    ("configs: {a: {sources: [{recipe: dota, folder: D, format_options: {colour: red}}]}}\n",
     "configs.a.sources[0].format_options: format 'dota' has no option 'colour'"),
    ("configs: {a: {sources: [{recipe: dota, folder: D, splits: [val]}]}}\ntest_sets: [{recipe: dota, folder: D}]\n",
     "trains on split(s) val, which test_sets evaluate on"),
    ("configs: {a: {sources: [{recipe: dota, folder: D}]}}\ndedup: {max_distance: 1.5}\n", "dedup.max_distance"),
])
def test_bad_corpus_recipes_name_the_file_and_field(tmp_path, body, message):
    path = _write_corpus(tmp_path, body)
    with pytest.raises(RecipeError) as caught:
        load_corpus_recipe(path)
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_a_corpus_recipe_is_not_a_dataset_recipe(tmp_path):
    from rsdata.recipe import load_dataset_recipe

    with pytest.raises(RecipeError, match="corpus recipe"):
        load_dataset_recipe(REMOTECLIP)


def test_missing_required_source_stops_before_any_work_and_optional_one_is_reported(tmp_path, capsys, local_hub):
    from tests.corpus_standins import write_standin

    path = _write_corpus(tmp_path, "configs:\n  det:\n    sources:\n      - {recipe: dota, folder: DOTA}\n"
                                   "      - {recipe: dior, folder: DIOR, optional: OPT}\n".replace("OPT", "false"))
    write_standin("dota", tmp_path / "src" / "DOTA")
    out = tmp_path / "out"
    assert main(["convert", "--recipe", str(path), str(out), "--sources", str(tmp_path / "src"),
                 "--no-progress"]) == 1
    error = capsys.readouterr().err
    assert "dior" in error and str(tmp_path / "src" / "DIOR") in error and "optional" in error
    assert not list(out.glob("data/**/*.parquet")) and not (out / ".rsdata" / "corpus" / "sources").exists()

    path.write_text(path.read_text().replace("optional: false", "optional: true"))
    assert main(["convert", "--recipe", str(path), str(out), "--sources", str(tmp_path / "src"),
                 "--no-progress", "--push-to-hub", "user/mini"]) == 0
    printed = capsys.readouterr().out
    assert "not built (optional): dior" in printed
    remote = local_hub.files("user/mini", "dataset")  # the corpus, pushed after the build
    assert {"README.md", "corpus_report.json", "dedup_report.json"} <= set(remote)
    assert remote["corpus_report.json"] == (out / "corpus_report.json").read_bytes()
    assert any(name.startswith("data/det/dota/") for name in remote) and not any(".rsdata" in n for n in remote)
    report = json.loads((out / "corpus_report.json").read_text())
    assert [(s["name"], s["status"]) for s in report["sources"]] == [("dota", "built"), ("dior", "unavailable")]
    assert "dior" in (out / "README.md").read_text() and "not built" in (out / "README.md").read_text()


def _items(recipe_name: str, root: Path, splits):
    from rsdata.recipe import load_dataset_recipe

    recipe = load_dataset_recipe(RECIPES / f"{recipe_name}.yaml")
    return [i for i in recipe.source_format().list_items(root, tuple(splits)) if i.image_path is not None]


@pytest.fixture(scope="module")
def remoteclip_build(tmp_path_factory):
    """The RemoteCLIP corpus built from stand-ins, with three planted near-duplicates:
    a DOTA training image repeating an RSITMD test image, a DIOR image repeating a DOTA image (kept: DOTA comes
    first), and a LoveDA image repeating a UCM test image."""
    from tests.corpus_standins import plant_duplicate, write_corpus_standins

    root = tmp_path_factory.mktemp("corpus")
    sources = root / "sources"
    write_corpus_standins(REMOTECLIP, sources, num_images=3)
    rsitmd_test = _items("rsitmd", sources / "RSITMD", ["test"])[0]
    ucm_test = _items("ucm_captions", sources / "UCM_captions", ["test"])[0]
    dota = _items("dota", sources / "DOTA", ["train"])
    dior = _items("dior", sources / "DIOR", ["train"])
    loveda = _items("loveda", sources / "LoveDA", ["Train"])
    plant_duplicate(rsitmd_test.image_path, dota[0].image_path)
    plant_duplicate(dota[1].image_path, dior[0].image_path)
    plant_duplicate(ucm_test.image_path, loveda[0].image_path)
    planted = {("dota", dota[0].image_name, "near_duplicate_of_test", "rsitmd-test"),
               ("dior", dior[0].image_name, "near_duplicate_in_corpus", "dota"),
               ("loveda", loveda[0].image_name, "near_duplicate_of_test", "ucm_captions-test")}
    out = root / "out"
    args = ["convert", "--recipe", str(REMOTECLIP), str(out), "--sources", str(sources), "--no-progress"]
    assert main(args) == 0
    return out, planted, args


def test_remoteclip_corpus_builds_from_stand_ins_and_removes_planted_duplicates(remoteclip_build):
    import datasets

    out, planted, _ = remoteclip_build
    report = json.loads((out / "corpus_report.json").read_text())
    dedup = json.loads((out / "dedup_report.json").read_text())
    removed = {(r["source"], r["path"], r["reason"], r["match"]["source"]) for r in dedup["removed_images"]}
    assert removed == planted
    assert all(s["status"] == "built" and s["images"] > 0 for s in report["sources"]), report["sources"]
    per_source = {s["name"]: s for s in report["sources"]}
    assert per_source["dota"]["removed"] == 1 and per_source["dior"]["removed"] == 1
    assert per_source["loveda"]["removed"] == 1 and per_source["rsicd"]["removed"] == 0

    for config in ("ret3", "det10", "seg4"):
        rows = datasets.load_dataset(str(out), config, split="train")
        expected = sum(s["kept"] for s in report["sources"] if s["config"] == config)
        assert rows.num_rows == expected == report["configs"][config]["kept"]
        assert set(rows["source_dataset"]) == {s["name"] for s in report["sources"] if s["config"] == config}
        paths = {(r["source_dataset"], r["image"]["path"]) for r in
                 rows.cast_column("image", datasets.Image(decode=False))}
        for source, path, _, _ in planted:
            assert (source, path) not in paths
    everything = datasets.load_dataset(str(out), split="train")  # the default config: all of them
    assert everything.num_rows == report["images"]
    ret3 = datasets.load_dataset(str(out), "ret3", split="train")
    assert all(len(c) == 5 for c in ret3["captions"]) and set(ret3["caption_rule"]) == {"human"}


def test_remoteclip_corpus_card_and_test_sets(remoteclip_build):
    from huggingface_hub import DatasetCard

    out, planted, _ = remoteclip_build
    card = DatasetCard.load(out / "README.md")
    names = [c["config_name"] for c in card.data.configs]
    assert names == ["all", "ret3", "det10", "seg4"]
    text = card.text
    for source, path, _, _ in planted:
        assert path in text
    assert "23,463" in text and "Table I" in text  # the paper's DIOR count beside the built one
    # Test sets are converted only to be compared against; they never enter the corpus.
    assert not (out / "data" / "rsitmd").exists()
    assert {p.name for p in (out / "data").iterdir()} == {"ret3", "det10", "seg4"}
    assert not any(".rsdata" in p.parts for p in (out / "data").rglob("*"))


def test_remoteclip_corpus_rerun_gives_the_same_bytes(remoteclip_build, capsys):
    out, _, args = remoteclip_build
    before = {p.relative_to(out): p.read_bytes() for p in (out / "data").rglob("*.parquet")}
    reports = [(out / name).read_bytes() for name in ("dedup_report.json", "corpus_report.json", "README.md")]
    assert main(args) == 0
    after = {p.relative_to(out): p.read_bytes() for p in (out / "data").rglob("*.parquet")}
    assert before == after
    assert reports == [(out / name).read_bytes() for name in ("dedup_report.json", "corpus_report.json", "README.md")]


def test_remoteclip_corpus_pushes_and_reads_back_by_config(remoteclip_build, local_hub, tmp_path):
    import datasets

    from rsdata.publish import push_dataset

    out, _, _ = remoteclip_build
    result = push_dataset(out, "user/remoteclip", progress=False)
    remote = set(local_hub.files("user/remoteclip", "dataset"))
    assert {"README.md", "corpus_report.json", "dedup_report.json"} <= remote
    assert not any(".rsdata" in path for path in remote) and result.uploaded
    for config in ("det10", "seg4"):
        local = datasets.load_dataset(str(out), config, split="train")
        hub = datasets.load_dataset("user/remoteclip", config, split="train", cache_dir=str(tmp_path / "cache"))
        assert hub.num_rows == local.num_rows
        assert hub["source_id"] == local["source_id"] and hub["captions"] == local["captions"]


def test_a_stopped_corpus_rebuild_is_not_loadable_and_a_finished_one_reads_afresh(tmp_path, monkeypatch):
    import datasets

    from rsdata import dedup
    from tests.corpus_standins import write_standin

    path = _write_corpus(tmp_path, "configs:\n  det:\n    sources:\n      - {recipe: dota, folder: DOTA}\n")
    write_standin("dota", tmp_path / "src" / "DOTA", num_images=2)
    out = tmp_path / "out"
    args = ["convert", "--recipe", str(path), str(out), "--sources", str(tmp_path / "src"), "--no-progress"]
    assert main(args) == 0
    before = datasets.load_dataset(str(out), "det", split="train").num_rows  # the default cache

    # More source images, and a rebuild that stops after converting: the folder reads as unfinished, neither the
    # earlier corpus nor a part of the new one.
    import shutil

    shutil.rmtree(tmp_path / "src" / "DOTA")
    write_standin("dota", tmp_path / "src" / "DOTA", num_images=4)

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(dedup, "find_duplicates", stop)
    with pytest.raises(KeyboardInterrupt):
        main(args)
    with pytest.raises(FileNotFoundError, match="rsdata build unfinished"):
        datasets.load_dataset(str(out), "det", split="train")
    monkeypatch.undo()

    assert main(args) == 0
    after = datasets.load_dataset(str(out), "det", split="train")
    report = json.loads((out / "corpus_report.json").read_text())
    assert after.num_rows == report["configs"]["det"]["kept"] > before
