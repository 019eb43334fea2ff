"""``rsdata show`` through the CLI on the demo dataset: the gallery rendered in headless Chromium (the DOM after
its script ran, and a screenshot), the contact sheet, deterministic sampling, filters and refusals."""

from __future__ import annotations

import shutil
from html.parser import HTMLParser
from pathlib import Path

import pytest

from rsdata.cli import main
from tests.browser import Browser, chromium


@pytest.fixture(scope="session")
def browser(tmp_path_factory) -> Browser:
    return Browser(chromium(), tmp_path_factory.mktemp("chromium-profile"))


class Cards(HTMLParser):
    """The gallery's cards as the browser left them: split, row, categories, image, captions and template ids."""

    def __init__(self):
        super().__init__()
        self.cards, self.body, self._into = [], {}, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "body":
            self.body = attrs
        elif tag == "article":
            self.cards.append({"split": attrs["data-split"], "row": int(attrs["data-row"]), "images": [],
                               "categories": attrs["data-categories"], "captions": [], "templates": []})
        elif tag == "img" and self.cards:
            self.cards[-1]["images"].append(attrs["src"])
        elif tag == "span" and attrs.get("class") in ("caption", "template"):
            self._into = attrs["class"] + "s"

    def handle_data(self, data):
        if self._into:
            self.cards[-1][self._into].append(data)
            self._into = None


def parse(dom: str) -> Cards:
    cards = Cards()
    cards.feed(dom)
    return cards


def test_gallery_renders_every_sampled_image_and_caption(rsdata_demo_dataset, browser, tmp_path, capsys):
    import datasets
    from PIL import Image

    gallery = tmp_path / "gallery"
    assert main(["show", str(rsdata_demo_dataset), "--num", "8", "--seed", "3", "-o", str(gallery)]) == 0
    assert "showed 8 of 50 matching row(s)" in capsys.readouterr().out

    page = parse(browser.dump_dom(gallery / "index.html"))
    assert len(page.cards) == 8
    assert page.body["data-images-loaded"] == "8" and page.body["data-images-broken"] == "0"
    dataset = datasets.load_dataset(str(rsdata_demo_dataset))
    for card in page.cards:
        row = dataset[card["split"]][card["row"]]
        assert card["captions"] == row["captions"] and len(card["captions"]) == 5
        assert card["templates"] == [f"[{t}]" for t in row["caption_templates"]]
        assert card["categories"].split("|") == sorted({obj["category"] for obj in row["objects"]})
        assert card["images"] == [f"images/{card['split']}-{card['row']:05d}.png"]
        assert Image.open(gallery / card["images"][0]).size == (512, 512)  # 256 px demo images, scaled up
    assert [(c["split"], c["row"]) for c in page.cards] == sorted(
        (c["split"], c["row"]) for c in page.cards)  # listing order: split, then row

    shot = Image.open(browser.screenshot(gallery / "index.html", tmp_path / "shot.png")).convert("RGB")
    assert shot.size == (1280, 1600)
    colours = shot.getcolors(maxcolors=1 << 20)
    assert len(colours) > 1000  # imagery and text, not a blank or error page
    background = max(colours)[0] / (shot.width * shot.height)
    assert background < 0.7, f"the most common colour covers {background:.0%} of the screenshot"
    sheet = Image.open(gallery / "contact_sheet.png")
    assert sheet.size == (4 * 258 - 2, 2 * 258 - 2) and len(sheet.convert("RGB").getcolors(1 << 20)) > 1000

    before = (gallery / "index.html").read_bytes()
    assert main(["show", str(rsdata_demo_dataset), "--num", "8", "--seed", "3", "-o", str(gallery)]) == 0
    assert (gallery / "index.html").read_bytes() == before  # same options, same rows, same page
    assert len(list((gallery / "images").iterdir())) == 8


def test_filters_by_split_and_category(rsdata_demo_dataset, tmp_path):
    gallery = tmp_path / "ships"
    assert main(["show", str(rsdata_demo_dataset.parent), "--split", "validation", "--category", "ship",
                 "-o", str(gallery)]) == 0  # the demo folder itself: its dataset/ is read
    cards = parse((gallery / "index.html").read_text()).cards
    assert cards and all(c["split"] == "validation" and "ship" in c["categories"].split("|") for c in cards)


def test_refusals_name_the_problem(rsdata_demo_dataset, tmp_path, capsys):
    from rsdata.dataset_files import mark_unfinished

    assert main(["show", str(rsdata_demo_dataset), "--split", "test", "-o", str(tmp_path / "a")]) == 2
    assert "no such split; its splits: train, validation" in capsys.readouterr().err
    assert main(["show", str(rsdata_demo_dataset), "--category", "castle", "-o", str(tmp_path / "b")]) == 2
    assert "categories: plane, ship," in capsys.readouterr().err
    other = tmp_path / "mine"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert main(["show", str(rsdata_demo_dataset), "-o", str(other)]) == 2
    assert "did not write" in capsys.readouterr().err

    unfinished = tmp_path / "unfinished"
    shutil.copytree(rsdata_demo_dataset, unfinished)
    mark_unfinished(unfinished, "Run the same command again.")
    assert main(["show", str(unfinished)]) == 1
    assert "has not finished" in capsys.readouterr().err and not (tmp_path / "unfinished-show").exists()
