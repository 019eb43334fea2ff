"""Issue 16: every layout variant of the detection recipes, as a generated fixture in that variant's layout (after
its framework's documented converter output), converted through the recipe with the variant's format options and
read back; the objects per split and category are compared with an independent parse of the fixture's files.
Also: each variant's ``match`` globs match its own fixture, and no other variant of the recipe matches it."""

from __future__ import annotations

import glob
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

import pytest

from rsdata.cli import main
from tests.variant_fixtures import (SIZE, assert_only_this_variant_matches, boxes, recipe, write_image,
                                     write_text)



# ---- DOTA -----------------------------------------------------------------------------------------------------

DOTA_OBJECTS = [["plane", "ship"], ["storage-tank", "ship", "ship"], ["harbor"]]


def dota_lines(categories, *, header: bool, floats: bool) -> str:
    lines = ["imagesource:GoogleEarth", "gsd:0.146343590398"] if header else []
    for category, (x1, y1, x2, y2) in zip(categories, boxes(len(categories))):
        corners = (x1, y1, x2, y1, x2, y2, x1, y2)
        text = " ".join(f"{v + 0.5:.1f}" if floats else str(v) for v in corners)
        lines.append(f"{text} {category} 0")
    return "\n".join(lines) + "\n"


def make_dota(root: Path, variant: str) -> None:
    if variant == "devkit-split":
        for k, categories in enumerate(DOTA_OBJECTS):
            stem = f"P000{k}__1__0___{k * 824}"
            write_image(root / "images" / f"{stem}.png")
            write_text(root / "labelTxt" / f"{stem}.txt", dota_lines(categories, header=False, floats=True))
        return
    splits = {"trainval": DOTA_OBJECTS} if variant == "mmrotate-split" else {"train": DOTA_OBJECTS[:2],
                                                                           "val": DOTA_OBJECTS[2:]}
    labels = {"publisher": "labelTxt-v1.0/labelTxt", "mmrotate": "labelTxt", "mmrotate-split": "annfiles"}[variant]
    for split, objects in splits.items():
        for k, categories in enumerate(objects):
            stem = f"P{split[:1]}00{k}" + ("__1024__0___0" if variant == "mmrotate-split" else "")
            write_image(root / split / "images" / f"{stem}.png")
            header = variant == "publisher" or (variant == "mmrotate" and k == 0)  # mmrotate: either
            write_text(root / split / labels / f"{stem}.txt",
                       dota_lines(categories, header=header, floats=variant == "mmrotate-split"))
            if variant == "publisher":  # the horizontal-box copy beside it, not read
                write_text(root / split / "labelTxt-v1.0" / "Train_Task2_gt" / f"{stem}.txt",
                           dota_lines(["plane"], header=True, floats=False))
    write_image(root / "test" / "images" / "P9999.png")  # no public labels: left out with a note


def parse_dota(root: Path, variant: str) -> Counter:
    labels = {"publisher": "labelTxt-v1.0/labelTxt", "mmrotate": "labelTxt", "mmrotate-split": "annfiles",
              "devkit-split": "labelTxt"}[variant]
    pattern = f"{labels}/*.txt" if variant == "devkit-split" else f"*/{labels}/*.txt"
    counts = Counter()
    for path in glob.glob(str(root / pattern)):
        split = "train" if variant == "devkit-split" else Path(path).relative_to(root).parts[0]
        for line in Path(path).read_text().splitlines():
            fields = line.split()
            if len(fields) >= 9:
                counts[(split, fields[8])] += 1
    return counts


# ---- Pascal VOC (DIOR, HRRSD) -----------------------------------------------------------------------------------

def voc_xml(filename: str, objects, *, oriented: bool) -> str:
    parts = [f"<annotation><filename>{filename}</filename><size><width>{SIZE}</width><height>{SIZE}</height>"
             "<depth>3</depth></size>"]
    for category, (x1, y1, x2, y2) in objects:
        if oriented:
            box = (f"<robndbox><x_left_top>{x1}</x_left_top><y_left_top>{y1}</y_left_top><x_right_top>{x2}"
                   f"</x_right_top><y_right_top>{y1}</y_right_top><x_right_bottom>{x2}</x_right_bottom>"
                   f"<y_right_bottom>{y2}</y_right_bottom><x_left_bottom>{x1}</x_left_bottom><y_left_bottom>{y2}"
                   "</y_left_bottom></robndbox>")
        else:
            box = f"<bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin><xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox>"
        parts.append(f"<object><name>{category}</name><pose>Unspecified</pose><truncated>0</truncated>"
                     f"<difficult>0</difficult>{box}</object>")
    return "".join(parts) + "</annotation>\n"


DIOR_SPLITS = {"train": {"00001": ["airplane", "ship"], "00002": ["Expressway-Service-area"]},
               "val": {"00003": ["vehicle", "vehicle", "windmill"]},
               "test": {"11726": ["dam", "storagetank"]}}


def make_dior(root: Path, variant: str) -> None:
    annotations = {"publisher": ["Annotations/Horizontal Bounding Boxes", "Annotations/Oriented Bounding Boxes"],
                   "publisher-2019": ["Annotations"], "dior-r": ["Annotations/Oriented Bounding Boxes"],
                   "mmrotate-jpegimage": ["Annotations/Horizontal Bounding Boxes"]}[variant]
    for split, images in DIOR_SPLITS.items():
        write_text(root / "ImageSets" / "Main" / f"{split}.txt", "".join(f"{stem}\n" for stem in images))
        for stem, categories in images.items():
            folder = "JPEGImage" if variant == "mmrotate-jpegimage" else (
                "JPEGImages-test" if split == "test" else "JPEGImages-trainval")
            write_image(root / folder / f"{stem}.jpg")
            for annotation_folder in annotations:
                oriented = annotation_folder.endswith("Oriented Bounding Boxes")
                write_text(root / annotation_folder / f"{stem}.xml",
                           voc_xml(f"{stem}.jpg", list(zip(categories, boxes(len(categories)))), oriented=oriented))


def parse_voc(root: Path, annotations: str, image_sets: str) -> Counter:
    counts = Counter()
    for listing in glob.glob(str(root / image_sets / "*.txt")):
        split = Path(listing).stem
        if "_" in split:  # HRRSD's per-class lists (<class>_<split>.txt) are not splits
            continue
        for stem in (line.split()[0] for line in Path(listing).read_text().splitlines() if line.strip()):
            tree = ET.parse(root / annotations / f"{stem}.xml")
            for obj in tree.getroot().iter("object"):
                counts[(split, obj.findtext("name").strip())] += 1
    return counts


HRRSD_SPLITS = {"train": {"00001": ["airplane", "T junction"]}, "val": {"00002": ["crossroad", "ship", "ship"]},
                "test": {"00003": ["parking lot"]}}


def make_hrrsd(root: Path, variant: str) -> None:
    base = root / "OPT2017" if variant == "repository" else root
    for split, images in HRRSD_SPLITS.items():
        write_text(base / "ImageSets" / "Main" / f"{split}.txt", "".join(f"{stem}\n" for stem in images))
        write_text(base / "ImageSets" / "Main" / f"ship_{split}.txt", "".join(f"{s} 1\n" for s in images))
        for stem, categories in images.items():
            write_image(base / "JPEGImages" / f"{stem}.jpg")
            write_text(base / "Annotations" / f"{stem}.xml",
                       voc_xml(f"{stem}.jpg", list(zip(categories, boxes(len(categories)))), oriented=False))
    if variant == "repository":
        write_text(root / "README.md", "TGRS-HRRSD-Dataset\n")


def parse_hrrsd(root: Path, variant: str) -> Counter:
    base = root / "OPT2017" if variant == "repository" else root
    return parse_voc(base, "Annotations", "ImageSets/Main")


# ---- HRSC2016 ---------------------------------------------------------------------------------------------------

HRSC_SPLITS = {"train": {"100000001": ["100000002", "100000001"]}, "val": {"100000002": ["100000007"]},
               "test": {"100000003": ["100000018", "100000018"]}}


def make_hrsc2016(root: Path, variant: str) -> None:
    for split, images in HRSC_SPLITS.items():
        write_text(root / "ImageSets" / f"{split}.txt", "".join(f"{stem}\n" for stem in images))
        for stem, classes in images.items():
            write_image(root / "FullDataSet" / "AllImages" / f"{stem}.bmp")
            objects = "".join(
                f"<HRSC_Object><Object_ID>{k}</Object_ID><Class_ID>{class_id}</Class_ID><truncated>0</truncated>"
                f"<difficult>0</difficult><box_xmin>{x1}</box_xmin><box_ymin>{y1}</box_ymin><box_xmax>{x2}</box_xmax>"
                f"<box_ymax>{y2}</box_ymax><mbox_cx>{(x1 + x2) / 2}</mbox_cx><mbox_cy>{(y1 + y2) / 2}</mbox_cy>"
                f"<mbox_w>{x2 - x1}</mbox_w><mbox_h>{y2 - y1}</mbox_h><mbox_ang>0.0</mbox_ang></HRSC_Object>"
                for k, (class_id, (x1, y1, x2, y2)) in enumerate(zip(classes, boxes(len(classes)))))
            write_text(root / "FullDataSet" / "Annotations" / f"{stem}.xml",
                       f"<HRSC_Image><Img_ID>{stem}</Img_ID><Img_FileName>{stem}</Img_FileName><Img_FileFmt>bmp"
                       f"</Img_FileFmt><Img_SizeWidth>{SIZE}</Img_SizeWidth><Img_SizeHeight>{SIZE}</Img_SizeHeight>"
                       f"<HRSC_Objects>{objects}</HRSC_Objects></HRSC_Image>\n")


def parse_hrsc2016(root: Path, variant: str) -> Counter:
    counts = Counter()
    for listing in glob.glob(str(root / "ImageSets" / "*.txt")):
        for stem in Path(listing).read_text().split():
            tree = ET.parse(root / "FullDataSet" / "Annotations" / f"{stem}.xml")
            for obj in tree.getroot().iter("HRSC_Object"):
                counts[(Path(listing).stem, obj.findtext("Class_ID"))] += 1
    return counts


# ---- VisDrone-DET -----------------------------------------------------------------------------------------------

VISDRONE_CLASSES = {1: "pedestrian", 2: "people", 3: "bicycle", 4: "car", 5: "van", 6: "truck", 7: "tricycle",
                    8: "awning-tricycle", 9: "bus", 10: "motor"}
VISDRONE_SPLITS = {"train": {"0000002_00005_d_0000014": [4, 4, 1, 0, 11]},
                   "val": {"0000001_02999_d_0000005": [2, 10, 9]},
                   "test-dev": {"9999938_00000_d_0000021": [5]}}


def visdrone_rows(classes) -> str:
    rows = []
    for class_id, (x1, y1, x2, y2) in zip(classes, boxes(len(classes))):
        score = 0 if class_id == 0 else 1
        rows.append(f"{x1},{y1},{x2 - x1},{y2 - y1},{score},{class_id},0,0")
    return "\n".join(rows) + "\n"


def make_visdrone(root: Path, variant: str) -> None:
    splits = {"val": VISDRONE_SPLITS["val"]} if variant == "publisher-one-split" else VISDRONE_SPLITS
    for split, images in splits.items():
        folder = root if variant == "publisher-one-split" else root / f"VisDrone2019-DET-{split}"
        for stem, classes in images.items():
            write_image(folder / "images" / f"{stem}.jpg")
            write_text(folder / "annotations" / f"{stem}.txt", visdrone_rows(classes))
            if variant == "ultralytics":  # YOLO txt beside it: class x_center y_center w h, normalised
                write_text(folder / "labels" / f"{stem}.txt", "3 0.1 0.1 0.05 0.05\n")
    if variant != "publisher-one-split":
        write_image(root / "VisDrone2019-DET-test-challenge" / "images" / "0000006_00159_d_0000001.jpg")


def parse_visdrone(root: Path, variant: str) -> Counter:
    counts = Counter()
    for path in glob.glob(str(root / "**" / "annotations" / "*.txt"), recursive=True):
        folder = Path(path).parents[1].name
        split = "val" if variant == "publisher-one-split" else folder.replace("VisDrone2019-DET-", "")
        for row in Path(path).read_text().splitlines():
            values = [int(v) for v in row.split(",") if v]
            if values[4] == 1 and values[5] in VISDRONE_CLASSES:
                counts[(split.replace("-", "_"), VISDRONE_CLASSES[values[5]])] += 1
    return counts


def parse_dior(root: Path, variant: str) -> Counter:
    annotations = {"publisher": "Annotations/Horizontal Bounding Boxes", "publisher-2019": "Annotations",
                   "dior-r": "Annotations/Oriented Bounding Boxes",
                   "mmrotate-jpegimage": "Annotations/Horizontal Bounding Boxes"}[variant]
    return parse_voc(root, annotations, "ImageSets/Main")


# ---- RemoteCount (DOTA's val split) ----------------------------------------------------------------------------

def make_remotecount(root: Path, variant: str) -> None:
    make_dota(root, variant)


def parse_remotecount(root: Path, variant: str) -> Counter:
    return Counter({key: n for key, n in parse_dota(root, variant).items() if key[0] == "val"})


# ---- CARPK, PUCPR+ ---------------------------------------------------------------------------------------------

CARPK_SPLITS = {"train": {"20160331_NTU_00001": 3, "20160331_NTU_00002": 1}, "test": {"20161225_TPZ_00001": 2}}


def make_carpk(root: Path, variant: str) -> None:
    data = root if variant == "publisher-data" else root / "data"
    for split, images in CARPK_SPLITS.items():
        write_text(data / "ImageSets" / f"{split}.txt", "\n".join(images))  # no newline after the last
        for stem, n in images.items():
            write_image(data / "Images" / f"{stem}.png")
            write_text(data / "Annotations" / f"{stem}.txt",
                       "".join(f"{x1} {y1} {x2 - 1} {y2 - 1} 1\n" for x1, y1, x2, y2 in boxes(n)))


def parse_carpk(root: Path, variant: str) -> Counter:
    data = root if variant == "publisher-data" else root / "data"
    counts = Counter()
    for listing in glob.glob(str(data / "ImageSets" / "*.txt")):
        for stem in Path(listing).read_text().split():
            lines = (data / "Annotations" / f"{stem}.txt").read_text().splitlines()
            counts[(Path(listing).stem, "car")] += sum(1 for line in lines if line.split()[-1:] == ["1"])
    return counts


# ---- NWPU VHR-10 -----------------------------------------------------------------------------------------------

NWPU_CLASSES = {1: "airplane", 2: "ship", 3: "storage tank", 4: "baseball diamond", 5: "tennis court",
                6: "basketball court", 7: "ground track field", 8: "harbor", 9: "bridge", 10: "vehicle"}
NWPU_IMAGES = {"001": [1, 1, 10], "002": [3, 6]}


def make_nwpu_vhr10(root: Path, variant: str) -> None:
    for stem, classes in NWPU_IMAGES.items():
        write_image(root / "positive image set" / f"{stem}.jpg")
        write_text(root / "ground truth" / f"{stem}.txt", "".join(
            f"({x1:>3},{y1}),({x2},{y2}), {c} \n" for c, (x1, y1, x2, y2) in zip(classes, boxes(len(classes)))))
    write_image(root / "negative image set" / "001.jpg")
    write_text(root / "readme.txt", "NWPU VHR-10\n")


def parse_nwpu_vhr10(root: Path, variant: str) -> Counter:
    counts = Counter()
    for path in glob.glob(str(root / "ground truth" / "*.txt")):
        for line in Path(path).read_text().splitlines():
            if line.strip():
                counts[("train", NWPU_CLASSES[int(line.rsplit(",", 1)[1])])] += 1
    return counts


# ---- RSOD, LEVIR -----------------------------------------------------------------------------------------------

RSOD_IMAGES = {"aircraft": {"aircraft_1": 3}, "oiltank": {"oiltank_1": 2, "oiltank_2": 1}, "playground": {
    "playground_1": 1}}


def make_rsod(root: Path, variant: str) -> None:
    for category, images in RSOD_IMAGES.items():
        for stem, n in images.items():
            write_image(root / category / "JPEGImages" / f"{stem}.jpg")
            write_text(root / category / "Annotation" / "labels" / f"{stem}.txt", "".join(
                f"{stem}.jpg\t{category}\t{x1}\t{y1}\t{x2}\t{y2}\n" for x1, y1, x2, y2 in boxes(n)))
            write_text(root / category / "Annotation" / "xml" / f"{stem}.xml",
                       voc_xml(f"{stem}.jpg", [(category, b) for b in boxes(n)], oriented=False))


def parse_rsod(root: Path, variant: str) -> Counter:
    counts = Counter()
    for path in glob.glob(str(root / "*" / "Annotation" / "labels" / "*.txt")):
        for line in Path(path).read_text().splitlines():
            counts[("train", line.split("\t")[1])] += 1
    return counts


LEVIR_CLASSES = {1: "plane", 2: "ship", 3: "oil tank"}
LEVIR_IMAGES = {"00001": [1, 1], "00002": [2, 3, 3]}


def make_levir(root: Path, variant: str) -> None:
    for stem, classes in LEVIR_IMAGES.items():
        write_image(root / "imageWithLabel" / f"{stem}.jpg")
        write_text(root / "imageWithLabel" / f"{stem}.txt", "".join(
            f"{c} {x1} {y1} {x2} {y2}\n" for c, (x1, y1, x2, y2) in zip(classes, boxes(len(classes)))))


def parse_levir(root: Path, variant: str) -> Counter:
    counts = Counter()
    for path in glob.glob(str(root / "imageWithLabel" / "*.txt")):
        for line in Path(path).read_text().splitlines():
            counts[("train", LEVIR_CLASSES[int(line.split()[0])])] += 1
    return counts


FIXTURES = {
    "dota": (make_dota, parse_dota),
    "dior": (make_dior, parse_dior),
    "hrrsd": (make_hrrsd, parse_hrrsd),
    "hrsc2016": (make_hrsc2016, parse_hrsc2016),
    "visdrone": (make_visdrone, parse_visdrone),
    "remotecount": (make_remotecount, parse_remotecount),
    "carpk": (make_carpk, parse_carpk),
    "pucpr": (make_carpk, parse_carpk),
    "nwpu_vhr10": (make_nwpu_vhr10, parse_nwpu_vhr10),
    "rsod": (make_rsod, parse_rsod),
    "levir": (make_levir, parse_levir),
}
#: Conversion arguments a recipe's layout notes ask for (RemoteCount converts DOTA's val split only).
EXTRA_ARGS = {"remotecount": ["--split", "val"]}

CASES = [(name, variant.name) for name in FIXTURES for variant in recipe(name).variants]


def test_every_variant_of_these_recipes_has_a_fixture():
    assert {name for name, _ in CASES} == set(FIXTURES)
    assert len(CASES) >= 20


@pytest.mark.parametrize("name,variant_name", CASES, ids=[f"{n}-{v}" for n, v in CASES])
def test_variant_fixture_converts_through_the_recipe(tmp_path, capsys, name, variant_name):
    import datasets

    entry = recipe(name)
    variant = next(v for v in entry.variants if v.name == variant_name)
    make, parse = FIXTURES[name]
    # A single VisDrone split folder is named by its folder, as the publisher's zip unpacks it.
    source = tmp_path / ("VisDrone2019-DET-val" if variant_name == "publisher-one-split" else "src")
    make(source, variant_name)

    # The variant's globs recognise its own layout, and no other variant of the recipe claims it.
    assert_only_this_variant_matches(entry, variant, source)

    expected = parse(source, variant_name)
    assert expected, "the fixture has objects"
    args = ["convert", f"recipe:{name}", str(source), str(tmp_path / "out"), "--quiet", "--no-progress"]
    args += EXTRA_ARGS.get(name, [])
    for key, value in variant.format_options.items():
        args += ["-o", f"{key}={value}"]
    assert main(args) == 0
    err = capsys.readouterr().err
    if name in ("dota", "visdrone") and variant_name not in ("devkit-split", "publisher-one-split"):
        assert "note: split test" in err and "left out" in err  # the test split without labels

    loaded = datasets.load_dataset(str(tmp_path / "out"))
    got = Counter()
    for split in loaded:
        for row in loaded[split]:
            for obj in row["objects"]:
                got[(row["source_split"], obj["category"])] += 1
    assert got == expected, f"{name}/{variant_name}: converted {dict(got)}, parsed {dict(expected)}"


#: Recipes that read another recipe's folder: RemoteCount is made from DOTA's val split, so a DOTA folder is named
#: DOTA first and RemoteCount second.
DETECTED_AS = {"remotecount": "dota"}
#: The CARPK and PUCPR+ devkits share one layout: the folder's name, as the devkits are named, tells them apart.
FOLDER_NAMES = {"carpk": "CARPK_devkit", "pucpr": "PUCPR+_devkit", "visdrone": "VisDrone2019-DET-val"}


@pytest.mark.parametrize("name,variant_name", CASES, ids=[f"{n}-{v}" for n, v in CASES])
def test_rsdata_detect_names_the_recipe_and_variant_of_each_fixture(tmp_path, name, variant_name):
    from rsdata.detect import detect

    folder = FOLDER_NAMES.get(name, "src") if (name, variant_name) != ("visdrone", "publisher") else "src"
    source = tmp_path / folder
    FIXTURES[name][0](source, variant_name)
    detection = detect(source)
    ranked = [(c.recipe, c.variant) for c in detection.candidates]
    assert ranked[0] == (DETECTED_AS.get(name, name), variant_name), ranked
    assert (name, variant_name) in ranked
    assert 0.75 <= detection.best.confidence <= 1.0, detection.best.basis


def test_a_split_without_labels_is_an_error_when_asked_for(tmp_path):
    make_dota(tmp_path, "mmrotate")
    assert main(["convert", "recipe:dota", str(tmp_path), str(tmp_path / "out"), "--quiet", "--no-progress",
                 "-o", "labels=labelTxt", "--split", "test"]) != 0
