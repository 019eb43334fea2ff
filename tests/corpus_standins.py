"""Generated stand-ins for every source of a corpus recipe (RemoteCLIP's RET-3 + DET-10 + SEG-4 and its test
sets), for tests of corpus builds: tiny source trees in each publisher's layout, with pictures that are all
different from each other in perceptual-hash terms.

``write_standin(recipe_name, root)`` writes one dataset recipe's stand-in (``recipes/datasets/<name>.yaml``: its
format, ``format_options`` and ``splits``); ``write_corpus_standins(corpus_recipe, sources_root)`` writes every
folder a corpus recipe names (``sources_root/<folder>``, one folder serving every recipe and split that names
it); ``plant_duplicate(src, dst)`` overwrites an image with a near-duplicate of another, for de-duplication tests.

Annotations come from the format generators in ``tests/formats/generators/`` (called, then their folders and
files moved or renamed into the publisher's layout); nothing here writes annotation lines of its own, except the
split lists of list-based layouts and label renames where a generator's label is not the publisher's spelling.
Every split the recipe names is written, ``num_images`` images each (64 x 48 pixels, the generators' size; the
caption and classification sets' are 64 x 64; a classification set, whose split the format makes, gets
``2 * num_images + 2`` images in all), with annotations, except:

- the test splits published without labels (DOTA and iSAID ``test``, VisDrone ``test-challenge``, LoveDA
  ``Test``; :data:`UNLABELLED_SPLITS`, read by those four writers only): images only, as the publisher ships them;
- ``trainval`` lists (HRRSD, HRSC2016): the union of ``train`` and ``val``, as published.

A generator is run again with the next seed when a labelled split came out with nothing to describe (no object
outside the recipe's ``ignore`` classes), so that every labelled split converts to at least one row whatever
``seed`` is; DOTA splits must also hold an image that RemoteCount's rule counts.

Layouts written (``<root>`` is the folder passed; see each recipe's ``layout`` field)::

    dota            <root>/{train,val}/images/G00000.jpg + <split>/labelTxt-v1.0/labelTxt/G00000.txt;
                    <root>/test/images/ only
    remotecount     the DOTA layout (it reads DOTA's val split)
    dior            <root>/JPEGImages-trainval/, JPEGImages-test/, Annotations/Horizontal Bounding Boxes/*.xml,
                    ImageSets/Main/{train,val,test}.txt
    hrrsd           <root>/ (the OPT2017 folder) JPEGImages/, Annotations/, ImageSets/Main/{train,val,trainval,
                    test}.txt and a per-class list (ship_train.txt, not a split)
    rsod            <root>/{aircraft,oiltank,overpass,playground}/JPEGImages/ + Annotation/labels/
    levir           <root>/imageWithLabel/00001.jpg + 00001.txt
    hrsc2016        <root>/FullDataSet/{AllImages/*.bmp,Annotations/*.xml,sysdata.xml},
                    <root>/ImageSets/{train,val,trainval,test}.txt
    auair           <root>/auair2019annotations/annotations.json + auair2019data/images/frame_*.jpg
    carpk, pucpr    <root>/data/{Images/*.png,Annotations/*.txt,ImageSets/{train,test}.txt}
    stanford_drone  <root>/annotations/<scene>/<video>/annotations.txt + videos/<scene>/<video>/video.mov
                    (H.264 or MPEG-4, 30 fps; needs PyAV)
    visdrone        <root>/VisDrone2019-DET-{train,val,test-dev}/{images,annotations}/,
                    VisDrone2019-DET-test-challenge/images/
    isaid           <root>/{train,val}/images/G00000.png + G00000_instance_color_RGB.png +
                    G00000_instance_id_RGB.png; <root>/test/images/ without masks
    loveda          <root>/{Train,Val}/{Urban,Rural}/{images_png,masks_png}/; <root>/Test/{Urban,Rural}/images_png/
    potsdam         <root>/2_Ortho_RGB/top_potsdam_2_10_RGB.tif + 5_Labels_all/top_potsdam_2_10_label.tif (TIFF)
    vaihingen       <root>/top/top_mosaic_09cm_area1.tif + gts_for_participants/top_mosaic_09cm_area1.tif (TIFF)
    rsicd           <root>/dataset_rsicd.json (Karpathy-style, splits train/val/test) + RSICD_images/scene_0.jpg
    rsitmd          <root>/dataset_RSITMD.json + images/scene_0.tif (train/test)
    ucm_captions    <root>/dataset.json + imgs/1.tif (train/val/test); sydney_captions alike
    aid, eurosat,   <root>/<Class>/<class>_<k>.jpg, the folder that holds the class folders (64 x 64 JPEGs;
    mlrsnet, ...    the format makes the train/test split); every class_folders recipe: aid, eurosat, mlrsnet,
                    optimal31, patternnet, resisc45, rs2800, rsc11, rsi_cb128, rsi_cb256, whu_earth, whu_rs19

Distinct pictures: the generators draw one picture for every file, so each picture (and each sampled video
frame) is overwritten with a smooth random texture of the same size and file format, seeded by the recipe name,
the file's path in the tree and ``seed``; two textures' 64-bit pHashes differ in about 32 bits. The same
arguments give the same bytes (video files: the same frames; encoders are deterministic in practice).

Not written: the Vaihingen tiles without labels (the real folder has 17, which a build reports as
``missing_annotation`` and which stop a build unless ``--on-error skip``), DOTA's ``Train_Task2_gt`` copy.
"""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable
from pathlib import Path

RECIPES_DIR = Path(__file__).resolve().parents[1] / "recipes" / "datasets"
#: Frames between the sampled ones of the Stanford Drone videos (the recipe's ``frame_stride``), and their rate.
SDD_FRAME_STRIDE = 30
SDD_FPS = 30
#: Split folders published without labels, for the writers of split-folder layouts (DOTA and iSAID ``test``,
#: VisDrone ``test_challenge``, LoveDA ``Test``): images only, whatever a recipe uses them for. List-based
#: layouts (DIOR, HRRSD, HRSC2016, CARPK, the caption sets) have labelled test splits.
UNLABELLED_SPLITS = frozenset({"test", "test_challenge", "Test"})
#: A split is regenerated with the next generator seed at most this many times when it has nothing to describe.
GENERATOR_ATTEMPTS = 20


# ---------------------------------------------------------------------------------------------------------------
# Public API


def write_standin(recipe_name: str, root: Path, *, num_images: int = 3, seed: int = 0,
                  recipes_dir: Path = RECIPES_DIR, format_options: dict | None = None) -> list[Path]:
    """Write the stand-in source of ``recipes_dir/<recipe_name>.yaml`` into ``root`` (absent or empty):
    ``num_images`` images per split, in the layout the recipe's format and options read (``format_options`` over
    the recipe's, as a corpus source gives them: folder names, ignored classes). Returns the picture
    files written (videos for Stanford Drone), sorted; masks and annotation files are not among them.

    The tree is built in a temporary folder beside ``root`` and renamed into place when complete."""
    from rsdata.recipe import load_dataset_recipe

    if num_images < 1:
        raise ValueError(f"num_images must be at least 1, got {num_images}")
    writer = _WRITERS.get(recipe_name)
    if writer is None:
        raise ValueError(f"no stand-in for recipe {recipe_name!r}; stand-ins exist for: {', '.join(sorted(_WRITERS))}")
    root = Path(root)
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        raise FileExistsError(f"stand-in folder {root} exists and is not an empty folder")
    recipe = load_dataset_recipe(Path(recipes_dir) / f"{recipe_name}.yaml")
    if format_options:
        import dataclasses

        recipe = dataclasses.replace(recipe, format_options={**recipe.format_options, **format_options})
    root.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=f".{root.name}.", suffix=".standin", dir=root.parent))
    try:
        job = _Job(recipe_name, recipe, building, num_images, seed)
        pictures = sorted(set(writer(job)))
        for path in pictures:
            key = f"{recipe_name}/{path.relative_to(building).as_posix()}/{seed}"
            if path.suffix.lower() in VIDEO_SUFFIXES:
                _texture_video(path, key)
            else:
                _texture_image(path, key)
        relative = [path.relative_to(building) for path in pictures]
        if root.exists():
            root.rmdir()
        os.replace(building, root)
    except BaseException:
        shutil.rmtree(building, ignore_errors=True)
        raise
    return [root / path for path in relative]


def write_corpus_standins(corpus_recipe_path: Path, sources_root: Path, *, num_images: int = 3) -> dict[str, Path]:
    """Write the stand-in of every source and test-set folder the corpus recipe names, as
    ``sources_root/<folder>``; returns folder name -> path.

    A folder named by several recipes (RSICD's train and test splits; DOTA, whose val split RemoteCount reads) is
    written once, by the first recipe naming it (training sources before test sets); each recipe's splits are then
    checked to be listed from it by that recipe's format, so a stand-in that cannot serve every use fails here."""
    from rsdata.corpus_recipe import load_corpus_recipe

    corpus = load_corpus_recipe(corpus_recipe_path)
    uses: dict[str, list] = {}
    for _, source in corpus.training_sources():
        uses.setdefault(source.folder, []).append(source)
    for source in corpus.test_sets:
        uses.setdefault(source.folder, []).append(source)
    recipes_dir = Path(corpus_recipe_path).parent
    written: dict[str, Path] = {}
    for folder, sources in uses.items():
        root = Path(sources_root) / folder
        write_standin(sources[0].recipe.name, root, num_images=num_images, recipes_dir=recipes_dir,
                      format_options=dict(sources[0].format_options))
        for source in sources[1:]:
            _check_serves(source, root, sources[0].recipe.name)
        written[folder] = root
    return written


def plant_duplicate(src_image: Path, dst_image: Path) -> None:
    """Overwrite ``dst_image`` (an existing picture) with a near-duplicate of ``src_image``: the source re-encoded
    as a JPEG of quality 90, resized to the destination's size when they differ, and saved in the destination's
    file format. The result's pHash is within Hamming distance 1 of the source's (checked; when the JPEG round trip
    moves it further, the source's own pixels are encoded instead, and a ValueError says when even they are)."""
    import imagehash
    from PIL import Image

    with Image.open(dst_image) as current:
        size, file_format = current.size, current.format
    with Image.open(src_image) as source:
        picture = source.convert("RGB")
    target = imagehash.phash(picture)
    for candidate in (_jpeg_round_trip(picture, quality=90), picture):
        if candidate.size != size:
            candidate = candidate.resize(size, Image.Resampling.BICUBIC)
        data = _encode(candidate, file_format, quality=90)
        with Image.open(io.BytesIO(data)) as written:
            if imagehash.phash(written) - target <= 1:
                _write_atomic(dst_image, data)
                return
    raise ValueError(f"cannot plant a near-duplicate of {src_image} into {dst_image} ({size[0]} x {size[1]} "
                     f"{file_format}): every candidate's pHash is more than 1 bit away")


# ---------------------------------------------------------------------------------------------------------------
# Pictures: seeded smooth textures


VIDEO_SUFFIXES = (".mov", ".mp4", ".avi")


def texture(key: str, width: int, height: int):
    """A smooth random RGB picture (PIL image) seeded by ``key``, made for perceptual hashing.

    The picture is built from its own pHash spectrum: the 8 x 8 lowest DCT frequencies of a 32 x 32 grey pattern
    (what ``imagehash.phash`` looks at) are given random signs, exactly 31 of the 63 non-constant ones positive,
    with magnitudes between 1 and 1.5 times a common amplitude; higher frequencies are zero. The pHash is then
    that sign pattern (its median lies between the positive and the negative coefficients), far from every other
    key's (about 32 bits) and stable: re-encoding, a small resize or video compression moves the coefficients by
    much less than their distance from the median. Colour is a random tint and offset of the grey pattern per
    channel (which scales the grey, keeping the signs), upsampled bicubically to ``width`` x ``height``, plus a
    little grain so that encoders do real work."""
    import numpy as np
    from PIL import Image
    from scipy.fft import idctn

    rng = np.random.default_rng(_seed(key))
    signs = np.array([1.0] * 31 + [-1.0] * 32)
    rng.shuffle(signs)
    spectrum = np.zeros((32, 32))
    spectrum[:8, :8] = np.concatenate([[0.0], signs * rng.uniform(1.0, 1.5, size=63)]).reshape(8, 8)
    grey = idctn(spectrum, norm="ortho")
    grey *= 60.0 / np.abs(grey).max()
    colours = 128.0 + rng.uniform(-30, 30, size=3) + grey[..., None] * rng.uniform(0.5, 1.5, size=3)
    small = Image.fromarray(np.round(colours).astype(np.uint8), "RGB")
    picture = np.asarray(small.resize((width, height), Image.Resampling.BICUBIC), dtype=np.int16)
    grain = rng.integers(-2, 3, size=picture.shape, dtype=np.int16)
    return Image.fromarray(np.clip(picture + grain, 0, 255).astype(np.uint8), "RGB")


def _texture_image(path: Path, key: str) -> None:
    from PIL import Image

    with Image.open(path) as current:
        size, file_format = current.size, current.format
    _write_atomic(path, _encode(texture(key, *size), file_format))


def _texture_video(path: Path, key: str) -> None:
    """Re-encode ``path`` with the same frame count and size, every block of ``SDD_FRAME_STRIDE`` frames showing
    the texture of its first (sampled) frame."""
    import av
    import numpy as np

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        width, height = stream.codec_context.width, stream.codec_context.height
        frames = sum(1 for _ in container.decode(stream))
    temporary = path.with_name(f".{path.name}.tmp")
    with av.open(str(temporary), "w", format="mov") as container:
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        stream = container.add_stream(codec, rate=SDD_FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if codec == "libx264":  # one thread: the same bytes on every run
            stream.options = {"crf": "10", "g": "12", "bf": "2", "threads": "1"}
        picture = None
        for index in range(frames):
            if index % SDD_FRAME_STRIDE == 0:
                picture = np.asarray(texture(f"{key}/frame{index}", width, height))
            for packet in stream.encode(av.VideoFrame.from_ndarray(picture, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    os.replace(temporary, path)


def _jpeg_round_trip(picture, quality: int):
    from PIL import Image

    with Image.open(io.BytesIO(_encode(picture, "JPEG", quality=quality))) as decoded:
        return decoded.convert("RGB")


def _encode(picture, file_format: str, quality: int = 85) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, file_format, **({"quality": quality} if file_format == "JPEG" else {}))
    return buffer.getvalue()


def _write_atomic(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


def _seed(*parts: object) -> int:
    """A 63-bit seed from ``parts`` (stable across processes, unlike ``hash``)."""
    digest = hashlib.sha256("\x1f".join(map(str, parts)).encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") >> 1


# ---------------------------------------------------------------------------------------------------------------
# Layouts, one writer per recipe. A writer fills ``job.root`` and returns the picture files to texture.


class _Job:
    """What a writer needs: the recipe, the folder being filled, images per split, and seeds."""

    def __init__(self, name: str, recipe, root: Path, num_images: int, seed: int):
        self.name, self.recipe, self.root, self.num_images, self.seed = name, recipe, root, num_images, seed
        ignore = str(recipe.format_options.get("ignore", ""))
        self.ignored = {label.strip() for label in ignore.split(",") if label.strip()}

    @property
    def options(self):
        return self.recipe.format_options

    def splits(self, *uses: str) -> list[str]:
        """The recipe's splits with one of ``uses``, in the recipe's order."""
        return [split for split, use in self.recipe.splits.items() if use in uses]

    def used_splits(self) -> list[str]:
        """The pretraining and evaluation splits: list-based writers deal their ids out to these."""
        return self.splits("pretraining", "evaluation")

    def generate(self, write_source: Callable[..., Counter], folder: Path, count: int, part: str, *,
                 accept: Callable[[Path], bool] | None = None, **kwargs) -> Counter:
        """Run a generator into ``folder`` until what it wrote includes something the recipe describes and
        ``accept(folder)`` holds, so that no split converts to zero rows. Generators return label -> what they
        wrote of it (object counts, or a class's file names); labels in the recipe's ``ignore`` option do not
        count. Seeds come from the recipe name, ``part`` (the split), ``seed`` and the attempt."""
        for attempt in range(GENERATOR_ATTEMPTS):
            shutil.rmtree(folder, ignore_errors=True)
            counts = write_source(folder, count, seed=_seed(self.name, part, self.seed, attempt), **kwargs)
            if any(n for label, n in counts.items() if label not in self.ignored) and (
                    accept is None or accept(folder)):
                return counts
        raise RuntimeError(f"{self.name}: the generator wrote nothing to describe for {part} in "
                           f"{GENERATOR_ATTEMPTS} attempts")

    def scratch(self) -> Path:
        """An empty folder for a generator's output, inside the tree being built (removed by :meth:`tidy`)."""
        return Path(tempfile.mkdtemp(prefix=".generated-", dir=self.root))

    def tidy(self) -> None:
        for folder in self.root.glob(".generated-*"):
            shutil.rmtree(folder)


def _move(source: Path, destination: Path) -> Path:
    destination.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, destination)
    return destination


def _rename_labels(folder: Path, suffix: str, renames: dict[str, str]) -> None:
    """Replace generator labels by the publisher's spelling in every ``suffix`` annotation file below ``folder``
    (VOC ``<name>`` elements)."""
    for path in sorted(folder.rglob(f"*{suffix}")):
        text = path.read_text(encoding="utf-8")
        for old, new in renames.items():
            text = text.replace(f"<name>{old}</name>", f"<name>{new}</name>")
        path.write_text(text, encoding="utf-8")


def _write_list(path: Path, ids: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{i}\n" for i in ids), encoding="utf-8")


def _split_ids(job: _Job, ids: list[str], splits: list[str]) -> dict[str, list[str]]:
    """Consecutive runs of ``job.num_images`` ids per split; ``trainval`` (when the recipe names it) is the union
    of ``train`` and ``val``, as the publishers' lists are."""
    per_split = {split: ids[i * job.num_images:(i + 1) * job.num_images] for i, split in enumerate(splits)}
    if "trainval" in job.recipe.splits:
        per_split["trainval"] = sorted(per_split.get("train", []) + per_split.get("val", []))
    return per_split


def _dota(job: _Job) -> list[Path]:
    """DOTA and RemoteCount (which reads DOTA's val split): every labelled split has an image RemoteCount can
    count, so that any of them serves as a counting set."""
    from tests.formats.generators import dota

    labels = job.options.get("labels", "labelTxt")
    pictures = []
    for split in job.recipe.splits:
        folder = job.root / split
        job.generate(dota.write_source, folder, job.num_images, split, accept=_has_countable_image)
        if split in UNLABELLED_SPLITS:  # DOTA's test split: no public labels
            shutil.rmtree(folder / "labelTxt")
        elif labels != "labelTxt":
            _move(folder / "labelTxt", folder / labels)
        pictures += sorted((folder / "images").iterdir())
    return pictures


def _has_countable_image(folder: Path) -> bool:
    """Whether the DOTA tree at ``folder`` (one split) has an image that rule ``remotecount/1`` counts."""
    from rsdata.formats.dota import DotaFormat
    from rsdata.formats.remotecount import CATEGORIES, MAX_COUNT, MIN_COUNT

    source = DotaFormat()
    for item in source.list_items(folder, None):
        counts = Counter(obj.category for obj in source.parse(item).objects)
        if any(MIN_COUNT <= counts[category] <= MAX_COUNT for category in CATEGORIES):
            return True
    return False


def _pascal_voc(job: _Job, renames: dict[str, str], image_folders: Callable[[str], str]) -> list[Path]:
    """DIOR / HRRSD: one generated Pascal VOC tree, its ids dealt out to the recipe's labelled splits in runs;
    images moved to ``image_folders(split)``, annotations to the recipe's ``annotations`` folder."""
    from tests.formats.generators import pascal_voc

    splits = job.used_splits()
    job.generate(pascal_voc.write_source, job.root, job.num_images * len(splits), "all")
    lists = job.root / "ImageSets" / "Main"
    for name in ("train.txt", "val.txt", "trainval.txt"):  # the generator's lists; the per-class list stays
        (lists / name).unlink()
    ids = sorted(path.stem for path in (job.root / "JPEGImages").iterdir())
    pictures = []
    for split, members in _split_ids(job, ids, splits).items():
        _write_list(lists / f"{split}.txt", members)
        if split in splits:
            for stem in members:
                image = job.root / "JPEGImages" / f"{stem}.jpg"
                pictures.append(_move(image, job.root / image_folders(split) / image.name))
    annotations = job.options.get("annotations", "Annotations")
    if annotations != "Annotations":
        staged = _move(job.root / "Annotations", job.root / ".annotations")
        _move(staged, job.root / annotations)
    if not any((job.root / "JPEGImages").iterdir()):
        (job.root / "JPEGImages").rmdir()
    _rename_labels(job.root / annotations, ".xml", renames)
    return pictures


def _dior(job: _Job) -> list[Path]:
    # DIOR spells storage tanks "storagetank" and has no T junctions (HRRSD's class).
    return _pascal_voc(job, {"storage tank": "storagetank", "T junction": "windmill"},
                       lambda split: "JPEGImages-test" if split == "test" else "JPEGImages-trainval")


def _hrrsd(job: _Job) -> list[Path]:
    # HRRSD has no expressway service areas (DIOR's class).
    return _pascal_voc(job, {"Expressway-Service-area": "crossroad"}, lambda split: "JPEGImages")


def _hrsc2016(job: _Job) -> list[Path]:
    from tests.formats.generators import hrsc2016

    splits = job.used_splits()
    job.generate(hrsc2016.write_source, job.root, job.num_images * len(splits), "all")
    lists = job.root / "ImageSets"
    for path in lists.glob("*.txt"):
        path.unlink()
    ids = sorted(path.stem for path in (job.root / "FullDataSet" / "AllImages").iterdir())
    for split, members in _split_ids(job, ids, splits).items():
        _write_list(lists / f"{split}.txt", members)
    return sorted((job.root / "FullDataSet" / "AllImages").iterdir())


def _carpk(job: _Job) -> list[Path]:
    from tests.formats.generators import carpk

    splits = job.used_splits()
    job.generate(carpk.write_source, job.root, job.num_images * len(splits), "all")
    data = job.root / "data"
    ids = sorted(path.stem for path in (data / "Images").iterdir())
    for split, members in _split_ids(job, ids, splits).items():
        _write_list(data / "ImageSets" / f"{split}.txt", members)
    return sorted((data / "Images").iterdir())


def _single_split(module_name: str, pictures: Callable[[Path], list[Path]]):
    """A writer for sources without split folders (the whole tree is one split): the generator's tree as it is."""

    def write(job: _Job) -> list[Path]:
        import importlib

        generator = importlib.import_module(f"tests.formats.generators.{module_name}")
        job.generate(generator.write_source, job.root, job.num_images, "all")
        return pictures(job.root)

    return write


def _rsod_pictures(root: Path) -> list[Path]:
    return sorted(root.glob("*/JPEGImages/*.jpg"))


def _stanford_drone(job: _Job) -> list[Path]:
    """The generator's annotations and videos (flat grey frames, retextured by :func:`_texture_video`)."""
    from tests.formats.generators import stanford_drone

    if int(job.options.get("frame_stride", SDD_FRAME_STRIDE)) != SDD_FRAME_STRIDE:
        raise ValueError(f"{job.name}: the generator samples every {SDD_FRAME_STRIDE}th frame, the recipe "
                         f"every {job.options['frame_stride']}th")
    job.generate(stanford_drone.write_source, job.root, job.num_images, "all", images=False, video=True)
    return sorted(job.root.glob("videos/*/*/video.mov"))


def _visdrone(job: _Job) -> list[Path]:
    """One generator run per split; the generator spreads a run over its train, val and test-dev folders, so
    every folder's files are gathered into the split's folder (stems are unique within a run)."""
    from tests.formats.generators import visdrone_det

    pictures = []
    for split in job.recipe.splits:
        folder = job.root / f"VisDrone2019-DET-{split.replace('_', '-')}"
        scratch = job.scratch()
        job.generate(visdrone_det.write_source, scratch, job.num_images, split)
        kinds = ("images",) if split in UNLABELLED_SPLITS else ("images", "annotations")
        for kind in kinds:
            for path in sorted(scratch.glob(f"*/{kind}/*")):
                moved = _move(path, folder / kind / path.name)
                if kind == "images":
                    pictures.append(moved)
    job.tidy()
    return pictures


def _isaid(job: _Job) -> list[Path]:
    from tests.formats.generators import isaid

    pictures = []
    for split in job.recipe.splits:
        scratch = job.scratch()
        job.generate(isaid.write_source, scratch, job.num_images, split)
        folder = _move(scratch / "train" / "images", job.root / split / "images")
        if split in UNLABELLED_SPLITS:
            for mask in sorted(folder.glob("*_instance_*_RGB.png")):
                mask.unlink()
        pictures += [p for p in sorted(folder.iterdir()) if "_instance_" not in p.name]
    job.tidy()
    return pictures


def _loveda(job: _Job) -> list[Path]:
    """One generator run per split; its first half of images goes to ``Urban``, the rest to ``Rural`` (LoveDA's
    two domains), with the recipe's images and masks folder names."""
    from tests.formats.generators import index_mask

    images_name, masks_name = job.options.get("images", "img_dir"), job.options.get("masks", "ann_dir")
    pictures = []
    for split in job.recipe.splits:
        scratch = job.scratch()
        job.generate(index_mask.write_source, scratch, job.num_images, split)
        images = sorted((scratch / "img_dir").iterdir())
        for index, image in enumerate(images):
            domain = "Urban" if index < (len(images) + 1) // 2 else "Rural"
            pictures.append(_move(image, job.root / split / domain / images_name / image.name))
            if split not in UNLABELLED_SPLITS:
                _move(scratch / "ann_dir" / image.name, job.root / split / domain / masks_name / image.name)
    job.tidy()
    return pictures


def _isprs(tile_name: Callable[[int], str]):
    """Potsdam / Vaihingen: the colour-mask generator's PNGs as GeoTIFF-less TIFF tiles named as the publisher
    names them, in the recipe's folders with its file endings."""

    def write(job: _Job) -> list[Path]:
        from PIL import Image

        from tests.formats.generators import rgb_mask

        scratch = job.scratch()
        job.generate(rgb_mask.write_source, scratch, job.num_images, "all")
        images_dir, masks_dir = job.root / job.options["images"], job.root / job.options["masks"]
        image_suffix = job.options.get("image_suffix", ".tif")
        mask_suffix = job.options.get("mask_suffix", ".png")
        images_dir.mkdir(parents=True)
        masks_dir.mkdir(parents=True)
        pictures = []
        for index, mask in enumerate(sorted((scratch / "gts_for_participants").iterdir())):
            stem = tile_name(index)
            with Image.open(scratch / "top" / mask.name) as picture:
                picture.save(images_dir / f"{stem}{image_suffix}", "TIFF")
            with Image.open(mask) as colours:
                colours.save(masks_dir / f"{stem}{mask_suffix}", "TIFF")
            pictures.append(images_dir / f"{stem}{image_suffix}")
        job.tidy()
        return pictures

    return write


def _potsdam_tile(index: int) -> str:
    return f"top_potsdam_{2 + index // 3}_{10 + index % 3}"


def _vaihingen_tile(index: int) -> str:
    return f"top_mosaic_09cm_area{index + 1}"




def _captions(json_name: str, images_dir: str, suffix: str, file_format: str,
              file_name: Callable[[int, str], str]):
    """RSICD / RSITMD / UCM / Sydney captions: the rs_captions generator's Karpathy JSON, renamed to the
    publisher's file name, its images moved to the publisher's folder as ``file_format`` pictures of 64 x 64
    (square, as the real ones are) named by ``file_name(index, generator stem)``; the records are dealt to the
    recipe's labelled splits in runs of ``num_images`` (the JSON's ``split`` field), file names changed alike."""

    def write(job: _Job) -> list[Path]:
        import json

        from PIL import Image

        from tests.formats.generators import rs_captions

        splits = job.used_splits()
        scratch = job.scratch()
        rs_captions.write_source(scratch, job.num_images * len(splits), seed=_seed(job.name, "all", job.seed))
        document = json.loads((scratch / "dataset_gen.json").read_text(encoding="utf-8"))
        folder = job.root / images_dir
        folder.mkdir(parents=True)
        pictures = []
        for index, record in enumerate(document["images"]):
            name = file_name(index, Path(record["filename"]).stem) + suffix
            with Image.open(scratch / "images" / record["filename"]) as picture:
                picture.convert("RGB").resize((64, 64)).save(folder / name, file_format)
            record["filename"], record["split"] = name, splits[index // job.num_images]
            pictures.append(folder / name)
        document["dataset"] = job.name
        (job.root / json_name).write_text(json.dumps(document), encoding="utf-8")
        job.tidy()
        return pictures

    return write


def _class_folders(job: _Job) -> list[Path]:
    """Scene-classification sets (no official split: the format takes the first 80% of each class by file name as
    train): ``2 * num_images + 2`` images over the generator's five classes, regenerated until the format lists every
    split of the recipe; re-saved as 64 x 64 JPEGs. A recipe with a name map gets its class folders named as the
    map's first folder names (RSSCN7's "aGrass", "bField", ...) so that the map is exercised."""
    from PIL import Image

    from rsdata.formats.class_folders import ClassFoldersFormat
    from tests.formats.generators import class_folders

    def lists_every_split(folder: Path) -> bool:
        found = {item.split for item in ClassFoldersFormat().list_items(folder, None)}
        return set(job.recipe.splits) <= found

    scratch = job.scratch()
    written = job.generate(class_folders.write_source, scratch, 2 * job.num_images + 2, "all", accept=lists_every_split)
    folder_names = sorted(job.recipe.names)[:len(written)] if job.recipe.names else sorted(written)
    pictures = []
    for class_name, folder_name in zip(sorted(written), folder_names):
        for name in written[class_name]:
            with Image.open(scratch / class_name / name) as picture:
                target = job.root / folder_name / name
                target.parent.mkdir(parents=True, exist_ok=True)
                picture.convert("RGB").resize((64, 64)).save(target, "JPEG")
            pictures.append(target)
    job.tidy()
    return pictures


_WRITERS: dict[str, Callable[[_Job], list[Path]]] = {
    "dota": _dota,
    "remotecount": _dota,
    "dior": _dior,
    "hrrsd": _hrrsd,
    "rsod": _single_split("rsod", _rsod_pictures),
    "levir": _single_split("levir", lambda root: sorted((root / "imageWithLabel").glob("*.jpg"))),
    "hrsc2016": _hrsc2016,
    "auair": _single_split("auair", lambda root: sorted((root / "auair2019data" / "images").iterdir())),
    "carpk": _carpk,
    "pucpr": _carpk,  # PUCPR+ ships in CARPK's devkit layout
    "stanford_drone": _stanford_drone,
    "visdrone": _visdrone,
    "isaid": _isaid,
    "loveda": _loveda,
    "potsdam": _isprs(_potsdam_tile),
    "vaihingen": _isprs(_vaihingen_tile),
    "rsicd": _captions("dataset_rsicd.json", "RSICD_images", ".jpg", "JPEG", lambda index, stem: stem),
    "rsitmd": _captions("dataset_RSITMD.json", "images", ".tif", "TIFF", lambda index, stem: stem),
    "ucm_captions": _captions("dataset.json", "imgs", ".tif", "TIFF", lambda index, stem: str(index + 1)),
    "sydney_captions": _captions("dataset.json", "imgs", ".tif", "TIFF", lambda index, stem: str(index + 1)),
    **{name: _class_folders for name in ("aid", "eurosat", "mlrsnet", "optimal31", "patternnet", "resisc45",
                                         "rs2800", "rsc11", "rsi_cb128", "rsi_cb256", "whu_earth", "whu_rs19")},
}


def _check_serves(source, root: Path, written_for: str) -> None:
    """Raise ValueError when ``source``'s recipe cannot list every split it uses from the stand-in at ``root``
    (written for recipe ``written_for``)."""
    from rsdata.errors import RsdataError

    problem = f"the stand-in {root}, written for recipe {written_for!r}, cannot serve recipe {source.recipe.name!r}"
    try:
        items = source.source_format().list_items(root, list(source.splits))
    except RsdataError as error:
        raise ValueError(f"{problem}: {error}") from error
    found = Counter(item.split for item in items)
    missing = [split for split in source.splits if not found[split]]
    if missing:
        raise ValueError(f"{problem}: it holds no image of split(s) {', '.join(missing)}")
