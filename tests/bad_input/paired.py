"""Sources of the formats that pair an image and a text label file by stem (RSOD, NWPU VHR-10, LEVIR, CARPK,
VisDrone-DET): one good item ``good`` and one bad item ``bad``, and the generic bad cases they share."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rsdata import errors
from tests.bad_input.harness import (
    LINK_OUTSIDE_SOURCE, BadCase, bomb_png, corrupt_jpeg, image_bytes, link_outside, outside,
)


@dataclass(frozen=True)
class PairedLayout:
    images: str          # images folder, relative to the root
    labels: str          # labels folder, relative to the root
    suffix: str          # label file ending (".txt")
    good: Callable[[str], str]  # stem -> the text of a good label file for that stem's 64 x 48 image

    def source(self, bad_label: str | bytes | None, *, bad_image: bytes | None = None, image_name: str = "bad.jpg",
               extra: Callable[[Path], None] | None = None) -> Callable[[Path], None]:
        """``make`` for a source with the good item and a bad one: ``bad_label`` (None: no label file),
        ``bad_image`` (None: a good JPEG, b"": no image) stored as ``image_name``; ``extra(root)`` runs last."""
        def make(root: Path) -> None:
            images, labels = root / self.images, root / self.labels
            images.mkdir(parents=True, exist_ok=True)
            labels.mkdir(parents=True, exist_ok=True)
            (images / "good.jpg").write_bytes(image_bytes())
            (labels / f"good{self.suffix}").write_text(self.good("good"), encoding="utf-8")
            if bad_image != b"":
                (images / image_name).write_bytes(image_bytes() if bad_image is None else bad_image)
            if bad_label is not None:
                data = bad_label if isinstance(bad_label, bytes) else bad_label.encode("utf-8")
                (labels / f"bad{self.suffix}").write_bytes(data)
            if extra is not None:
                extra(root)
        return make

    def generic_cases(self, prefix: str, *, missing_image_reason: str = errors.MISSING_IMAGE) -> list[BadCase]:
        """Missing image / annotation, corrupt image, bomb header and links out of SOURCE: the cases whose record
        is a whole file (an image, or a label file without its image), so they name no line."""
        label = rf"{self.labels}/bad\{self.suffix}".replace("./", "")
        image = rf"{self.images}/bad\.jpg".replace("./", "")
        good_bad = self.good("bad")

        def link_image(root: Path) -> None:
            link_outside(root / self.images / "bad.jpg", outside(root), "bad.jpg", image_bytes())

        def link_label(root: Path) -> None:
            link_outside(root / self.labels / f"bad{self.suffix}", outside(root), f"bad{self.suffix}",
                         good_bad.encode())

        return [
            # A label file with no image: the label file is the record (no line to name).
            BadCase(f"{prefix}-missing-image", missing_image_reason, label, r"bad",
                    self.source(good_bad, bad_image=b"")),
            # An image with no label file: the image is the record.
            BadCase(f"{prefix}-missing-annotation", errors.MISSING_ANNOTATION, image, None, self.source(None)),
            # Image errors name the image file, which is the record; images have no lines.
            BadCase(f"{prefix}-corrupt-image", errors.CORRUPT_IMAGE, image, None,
                    self.source(good_bad, bad_image=corrupt_jpeg())),
            BadCase(f"{prefix}-bomb-header", errors.IMAGE_TOO_LARGE, image.replace("jpg", "png"), None,
                    self.source(good_bad, bad_image=bomb_png(), image_name="bad.png")),
            BadCase(f"{prefix}-link-outside-image", LINK_OUTSIDE_SOURCE, image, None,
                    self.source(good_bad, bad_image=b"", extra=link_image)),
            BadCase(f"{prefix}-link-outside-label", LINK_OUTSIDE_SOURCE, label, None,
                    self.source(None, extra=link_label)),
        ]
