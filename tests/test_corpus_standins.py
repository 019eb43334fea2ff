"""The corpus stand-ins (tests/corpus_standins.py): each converts through its dataset recipe and the CLI, every
split the RemoteCLIP corpus recipe uses gives rows, labels are the recipe's, pictures are pairwise distinct by
pHash, the corpus writer is deterministic, and planted duplicates are near-duplicates."""

from __future__ import annotations

import io
import itertools
from pathlib import Path

import pytest


from rsdata.cli import main
from rsdata.corpus_recipe import load_corpus_recipe
from rsdata.dataset_files import SHARD_NAME
from rsdata.formats.base import hub_split_name
from rsdata.recipe import load_dataset_recipe
from tests.corpus_standins import (
    RECIPES_DIR,
    plant_duplicate,
    write_corpus_standins,
    write_standin,
)

CORPUS = RECIPES_DIR / "remoteclip.yaml"
#: Hamming distance above which two pHashes count as different pictures (the corpus removes <= 1).
DISTINCT_ABOVE = 4


def _corpus_uses() -> dict[str, list[str]]:
    """Recipe name -> every split the corpus recipe reads with it (training sources and test sets), in order."""
    corpus = load_corpus_recipe(CORPUS)
    uses: dict[str, list[str]] = {}
    for source in [s for _, s in corpus.training_sources()] + list(corpus.test_sets):
        splits = uses.setdefault(source.recipe.name, [])
        splits += [split for split in source.splits if split not in splits]
    return uses


def _corpus_folders() -> dict[str, str]:
    """Folder -> the recipe that writes it (the first naming it)."""
    corpus = load_corpus_recipe(CORPUS)
    folders: dict[str, str] = {}
    for source in [s for _, s in corpus.training_sources()] + list(corpus.test_sets):
        folders.setdefault(source.folder, source.recipe.name)
    return folders


def _corpus_format_options() -> dict[str, dict]:
    """Folder -> the format options over its recipe's that the first source naming it gives (write_corpus_standins
    writes the folders those options name)."""
    corpus = load_corpus_recipe(CORPUS)
    options: dict[str, dict] = {}
    for source in [s for _, s in corpus.training_sources()] + list(corpus.test_sets):
        options.setdefault(source.folder, dict(source.format_options))
    return options


USES = _corpus_uses()


def _needs_video(recipe_name: str) -> None:
    if load_dataset_recipe(RECIPES_DIR / f"{recipe_name}.yaml").format == "stanford_drone":
        pytest.importorskip("av", reason="Stanford Drone stand-ins are videos; PyAV (rsclip[video]) decodes them")


def _rows_per_split(output: Path) -> dict[str, int]:
    import pyarrow.parquet as pq

    rows: dict[str, int] = {}
    for shard in sorted((output / "data").glob("*.parquet")):
        split = SHARD_NAME.match(shard.name)["split"]
        rows[split] = rows.get(split, 0) + pq.ParquetFile(shard).metadata.num_rows
    return rows


def _named_labels(output: Path) -> set[str]:
    """The labels a recipe's name map must cover: the class folders of a classification set (its ClassLabel
    names), the counted category of a counting set (its objects keep every DOTA label, vehicles included), else
    every object's category."""
    import json

    import pyarrow.parquet as pq

    found = set()
    for shard in sorted((output / "data").glob("*.parquet")):
        table = pq.read_table(shard)
        features = json.loads(table.schema.metadata[b"huggingface"])["info"]["features"]
        if "label" in features:
            found.update(features["label"]["names"])
        elif "count_category" in table.column_names:
            found.update(table.column("count_category").to_pylist())
        else:
            for objects in table.column("objects").to_pylist():
                found.update(obj["category"] for obj in objects)
    return found


@pytest.mark.parametrize("recipe_name", sorted(USES))
def test_standin_converts_every_split_the_corpus_uses(recipe_name, tmp_path):
    _needs_video(recipe_name)
    standin, output = tmp_path / "source", tmp_path / "out"
    write_standin(recipe_name, standin, num_images=2)
    splits = USES[recipe_name]
    args = ["convert", str(RECIPES_DIR / f"{recipe_name}.yaml"), str(standin), str(output), "--no-progress"]
    for split in splits:
        args += ["--split", split]
    assert main(args) == 0
    rows = _rows_per_split(output)
    assert set(rows) == {hub_split_name(split) for split in splits}
    assert all(n >= 1 for n in rows.values()), rows
    # The stand-in speaks the publisher's labels: every label is one the recipe names (sets whose default names
    # serve, captions and most classification sets, have no name map).
    names = load_dataset_recipe(RECIPES_DIR / f"{recipe_name}.yaml").names
    if names:
        assert _named_labels(output) <= set(names)


@pytest.fixture(scope="module")
def corpus_pictures(tmp_path_factory) -> tuple[Path, dict[str, list[Path]]]:
    """Every corpus folder written with write_standin (folder -> pictures), as write_corpus_standins should.
    Tests copy what they modify."""
    pytest.importorskip("av", reason="the corpus includes Stanford Drone videos; PyAV decodes them")
    root = tmp_path_factory.mktemp("standins")
    options = _corpus_format_options()
    return root, {folder: write_standin(recipe, root / folder, format_options=options[folder])
                  for folder, recipe in _corpus_folders().items()}


def _picture_hashes(path: Path) -> list[tuple[str, int]]:
    """(name, 64-bit pHash) of a picture, or of every sampled frame (multiples of 30) of a video."""
    import imagehash
    from PIL import Image

    if path.suffix == ".mov":
        import av

        with av.open(str(path)) as container:
            return [(f"{path}#frame={index}", int(str(imagehash.phash(frame.to_image())), 16))
                    for index, frame in enumerate(container.decode(video=0)) if index % 30 == 0]
    with Image.open(path) as picture:
        return [(str(path), int(str(imagehash.phash(picture)), 16))]


def test_corpus_pictures_are_pairwise_distinct(corpus_pictures):
    _, pictures = corpus_pictures
    assert set(pictures) == set(_corpus_folders())
    hashes = [entry for paths in pictures.values() for path in paths for entry in _picture_hashes(path)]
    assert len(hashes) >= 3 * len(pictures)
    close = [(a, b, (ha ^ hb).bit_count()) for (a, ha), (b, hb) in itertools.combinations(hashes, 2)
             if (ha ^ hb).bit_count() <= DISTINCT_ABOVE]
    assert close == []


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_write_corpus_standins_writes_every_folder_deterministically(corpus_pictures, tmp_path):
    reference_root, _ = corpus_pictures
    written = write_corpus_standins(CORPUS, tmp_path / "sources")
    assert written == {folder: tmp_path / "sources" / folder for folder in _corpus_folders()}
    for folder, root in written.items():
        assert _tree(root) == _tree(reference_root / folder), folder
        assert not list(root.parent.glob(f".{root.name}.*")), "no temporary folder is left behind"


def test_write_corpus_standins_refuses_a_folder_two_layouts_share(tmp_path):
    import shutil

    recipes = tmp_path / "recipes"
    recipes.mkdir()
    for name in ("levir", "rsod"):
        shutil.copy(RECIPES_DIR / f"{name}.yaml", recipes)
    (recipes / "mixed.yaml").write_text(
        "kind: corpus\nname: mixed\ntitle: LEVIR and RSOD in one folder\nconfigs:\n  det:\n    sources:\n"
        "      - {recipe: levir, folder: SHARED}\n      - {recipe: rsod, folder: SHARED}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"SHARED, written for recipe 'levir', cannot serve recipe 'rsod': "
                                         r"no 'JPEGImages/' folder"):
        write_corpus_standins(recipes / "mixed.yaml", tmp_path / "sources")


def test_plant_duplicate_is_a_near_duplicate_in_the_destination_format(corpus_pictures, tmp_path):
    import shutil

    import imagehash
    from PIL import Image

    _, pictures = corpus_pictures
    by_format: dict[str, list[Path]] = {}
    for path in (p for paths in pictures.values() for p in paths if p.suffix != ".mov"):
        with Image.open(path) as picture:
            by_format.setdefault(picture.format, []).append(path)
    formats = ["JPEG", "PNG", "BMP", "TIFF"]
    assert all(len(by_format.get(name, [])) >= 2 for name in formats)
    # Each format's first picture is planted into the next format's second one (JPEG -> PNG -> BMP -> TIFF -> JPEG).
    for source_format, destination_format in zip(formats, formats[1:] + formats[:1]):
        src = by_format[source_format][0]
        original_dst = by_format[destination_format][1]
        dst = Path(shutil.copy(original_dst, tmp_path / original_dst.name))
        with Image.open(dst) as before, Image.open(src) as original:
            size = before.size
            assert imagehash.phash(before) - imagehash.phash(original) > DISTINCT_ABOVE
        plant_duplicate(src, dst)
        with Image.open(dst) as after, Image.open(src) as original:
            assert (after.format, after.size) == (destination_format, size)
            assert imagehash.phash(after) - imagehash.phash(original) <= 1
        assert dst.read_bytes() != src.read_bytes()


def test_plant_duplicate_resizes_to_the_destination(tmp_path):
    import imagehash
    from PIL import Image

    from tests.corpus_standins import texture

    src, dst = tmp_path / "src.png", tmp_path / "dst.jpg"
    texture("src", 64, 48).save(src)
    texture("dst", 60, 45).save(dst)
    plant_duplicate(src, dst)
    with Image.open(dst) as after:
        assert (after.format, after.size) == ("JPEG", (60, 45))
        assert imagehash.phash(after) - imagehash.phash(Image.open(src)) <= 1


def test_texture_hashes_survive_reencoding_and_differ_between_keys():
    import imagehash
    from PIL import Image

    from tests.corpus_standins import texture

    hashes = []
    for index in range(40):
        picture = texture(f"key-{index}", 64, 48)
        buffer = io.BytesIO()
        picture.save(buffer, "JPEG", quality=75)
        reencoded = Image.open(io.BytesIO(buffer.getvalue()))
        assert imagehash.phash(reencoded) - imagehash.phash(picture) == 0
        hashes.append(imagehash.phash(picture))
    assert min(a - b for a, b in itertools.combinations(hashes, 2)) > DISTINCT_ABOVE
    assert texture("same", 64, 48).tobytes() == texture("same", 64, 48).tobytes()


def test_write_standin_refuses_unknown_recipes_and_used_folders(tmp_path):
    with pytest.raises(ValueError, match=r"no stand-in for recipe 'nope'; stand-ins exist for: .*dota"):
        write_standin("nope", tmp_path / "x")
    used = tmp_path / "used"
    used.mkdir()
    (used / "file.txt").write_text("x")
    with pytest.raises(FileExistsError, match="not an empty folder"):
        write_standin("levir", used)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["used"]
