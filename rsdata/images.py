"""Reading source images and deciding the bytes that go into the ``image`` column.

Policy:
- JPEG and PNG files whose longer side is within ``max_side`` pass through byte for byte (``encoding`` =
  "original"): no decode, no quality loss, and conversion runs at close to file-copy speed.
- Everything else (TIFF, BMP, ...; or any image over ``max_side``) is decoded and re-encoded, PNG by default
  (``encoding`` = "png" or "jpeg"), after resizing so that the longer side is ``max_side`` (Lanczos).
- ``image_format="jpeg"`` (the training-ready builds, see :data:`IMAGE_PROFILES`) stores every image as JPEG
  (quality ``jpeg_quality``, default 95): JPEG files within ``max_side`` still pass through byte for byte; every
  other image (PNG, TIFF, BMP, 16-bit, palette, or any image over ``max_side``) is decoded, converted to 8-bit
  RGB or grey (:func:`jpeg_ready_pixels`: 16-bit and float bands through a 2-98 percentile stretch, palettes
  expanded, alpha composited over black) and encoded JPEG once.
- A JPEG over ``max_side`` is decoded with DCT scaling (Pillow's ``Image.draft``: libjpeg decodes at 1/2, 1/4 or
  1/8 of the size, the smallest scale whose result is still at least the target size), then resized to the
  target with Lanczos; the resize maps the exact source extent (the ``box`` ``draft`` returns), so boxes scaled
  by ``image_scale`` stay on the pixels. ``PreparedImage.dct_reduction`` says which scale was used.
- Integrity: ``verify="structure"`` (default) checks what can be checked without decoding: the JPEG marker
  segments must lead to a frame header and the file must end with the end-of-image marker; every PNG chunk's
  CRC-32 must match and the file must end with IEND. That catches truncated and garbled files at copy speed.
  ``verify="decode"`` decodes every image (slower; catches damage inside JPEG entropy data too). Re-encoded
  images are always fully decoded.
- Decompression bombs: nothing is decoded before its size is known from the header, and two checks refuse it
  first (reason ``image_too_large``, naming the file, the claimed size and the limit):
  ``max_pixels`` bounds width x height (default :data:`DEFAULT_MAX_PIXELS`; ``--max-pixels`` or a recipe's
  ``max_pixels`` raise it for sources of very large scenes), and, above :data:`PLAUSIBLE_CHECK_MIN_PIXELS`, a
  header must not claim more than :data:`MAX_PIXELS_PER_BYTE` pixels per byte of file (:func:`check_plausible_size`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

from rsdata import errors
from rsdata.errors import OptionError, RecordError

#: The default pixel limit: an RGB image of 150 Mpx (12,247 pixels a side) decodes to 450 MB. It is under Pillow's
#: own decompression-bomb error (2 x ``PIL.Image.MAX_IMAGE_PIXELS``, about 179 Mpx), so every image of a build with
#: the default limit opens in readers that keep Pillow's default. Sources of larger scenes raise it in their recipe
#: (DOTA's largest images are 20,000 x 20,000; DOTA-v2.0's 29,200 x 27,620 need 810,000,000).
DEFAULT_MAX_PIXELS = 150_000_000
#: Images claiming more pixels than this must also pass the plausibility check (smaller ones never decode to more
#: than 64 MB per band, and small near-uniform masks legitimately compress beyond any useful ratio: Pillow writes a
#: uniform 1024 x 1024 palette mask as a 1-bit PNG of 222 bytes, 4,700 pixels per byte).
PLAUSIBLE_CHECK_MIN_PIXELS = 64_000_000
#: Above PLAUSIBLE_CHECK_MIN_PIXELS, a file may claim at most this many pixels per byte. Deflate cannot compress
#: better than about 1,032:1, so no PNG of 8 bits per pixel or more, however uniform, exceeds about 1,030 pixels
#: per byte (a uniform 8,192 x 8,192 8-bit mask: 1,029); LZW TIFF tops out near 1,300 and JPEG near 200 (a uniform
#: progressive JPEG: 170). Only headers claiming far more than their bytes could hold (forged sizes; 1-bit images
#: of nothing, which reach 8,200) go over: the margin is about 2x.
MAX_PIXELS_PER_BYTE = 2_000
PASS_THROUGH_FORMATS = ("JPEG", "PNG")
REENCODE_FORMATS = ("png", "jpeg")
#: ``published``: JPEG and PNG files pass through (within ``max_side``), others are re-encoded (``reencode_format``);
#: ``jpeg``: every image is stored as JPEG (JPEG files within ``max_side`` still pass through byte for byte).
IMAGE_FORMATS = ("published", "jpeg")
VERIFY_MODES = ("structure", "decode")
JPEG_QUALITY = 95


@dataclass(frozen=True)
class ImageProfile:
    """A named way of storing a build's images: ``rsdata convert ... --images NAME``.

    ``max_side``: longer side in pixels at most (None: as published); ``image_format``: one of
    :data:`IMAGE_FORMATS`; ``jpeg_quality``: 1-100, for every JPEG the build encodes.
    """

    max_side: int | None
    image_format: str = "jpeg"
    jpeg_quality: int = JPEG_QUALITY

    def options(self) -> dict:
        """The :class:`~rsdata.build.ConvertOptions` fields the profile sets."""
        return {"max_side": self.max_side, "image_format": self.image_format, "jpeg_quality": self.jpeg_quality}


#: The image profiles every build knows; a corpus recipe may add its own (``image_profiles``). ``train448`` is the
#: training-ready build of the 224-px models (the random resized crop of 0.9-1.0 of the area then samples from
#: about twice the model's resolution); ``train672`` that of the 336-px models.
IMAGE_PROFILES = {
    "train448": ImageProfile(max_side=448),
    "train672": ImageProfile(max_side=672),
}

_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"


@dataclass(frozen=True)
class PreparedImage:
    """The bytes for the ``image`` column and what was done to them.

    ``width``/``height`` describe ``data``; ``source_width``/``source_height`` the file read; ``scale`` is
    (x, y) output pixels per source pixel; ``source_format`` is Pillow's name of the file's format.
    """

    data: bytes
    width: int
    height: int
    source_width: int
    source_height: int
    source_format: str
    encoding: str
    scale: tuple[float, float]
    dct_reduction: int = 1  # a JPEG decoded at 1/2, 1/4 or 1/8 of its size before the resize (1: full size)


def check_image_options(max_side: int | None, max_pixels: int, reencode_format: str | None, verify: str,
                        image_format: str = "published", jpeg_quality: int = JPEG_QUALITY) -> None:
    if isinstance(max_side, bool) or (max_side is not None and (not isinstance(max_side, int) or max_side < 1)):
        raise OptionError(f"--max-side must be a positive number of pixels, got {max_side!r}")
    if max_pixels < 1:
        raise OptionError(f"--max-pixels must be positive, got {max_pixels}")
    if reencode_format is not None and reencode_format not in REENCODE_FORMATS:
        raise OptionError(f"re-encode format {reencode_format!r} is not one of {', '.join(REENCODE_FORMATS)}")
    if image_format not in IMAGE_FORMATS:
        raise OptionError(f"--image-format {image_format!r} is not one of {', '.join(IMAGE_FORMATS)}")
    if image_format == "jpeg" and reencode_format == "png":
        raise OptionError("--reencode-format png contradicts --image-format jpeg, which stores every image as JPEG")
    if isinstance(jpeg_quality, bool) or not isinstance(jpeg_quality, int) or not 1 <= jpeg_quality <= 100:
        raise OptionError(f"--jpeg-quality must be an integer from 1 to 100, got {jpeg_quality!r}")
    if verify not in VERIFY_MODES:
        raise OptionError(f"verify mode {verify!r} is not one of {', '.join(VERIFY_MODES)}")


def image_profile(name: str, profiles: Mapping[str, ImageProfile] | None = None) -> ImageProfile:
    """The profile ``name`` among ``profiles`` (a corpus recipe's) and :data:`IMAGE_PROFILES`; an unknown name is
    an :class:`OptionError` listing the known ones."""
    known = {**IMAGE_PROFILES, **(profiles or {})}
    if name not in known:
        from rsdata.errors import did_you_mean

        raise OptionError(f"--images: no image profile named {name!r}{did_you_mean(name, list(known))}; profiles: "
                          + ", ".join(f"{key} ({describe_storage(**value.options())})" for key, value in known.items()))
    return known[name]


def describe_storage(max_side: int | None = None, image_format: str = "published", jpeg_quality: int = JPEG_QUALITY,
                     reencode_format: str | None = None, **_ignored) -> str:
    """How a build stores its images, in words (for cards, reports and plans): "JPEG q95, longer side <= 448 px"."""
    size = f"longer side <= {max_side} px" if max_side is not None else "at their published size"
    if image_format == "jpeg":
        return f"JPEG q{jpeg_quality}, {size} (JPEG sources within that size kept byte for byte)"
    reencoded = reencode_format or "png"
    quality = f" q{jpeg_quality}" if reencoded == "jpeg" else ""
    return (f"as published, {size} (JPEG and PNG files kept byte for byte; other formats"
            f"{' and larger images' if max_side is not None else ''} re-encoded as {reencoded.upper()}{quality})")


def prepare_image(path: str | Path, *, data: bytes | None = None, max_side: int | None = None,
                  max_pixels: int = DEFAULT_MAX_PIXELS, reencode_format: str | None = None,
                  verify: str = "structure", image_format: str = "published",
                  jpeg_quality: int = JPEG_QUALITY) -> PreparedImage:
    """Read ``path`` (or take ``data``, the encoded image that ``path`` names) and return the bytes to store;
    raise :class:`RecordError` for missing or bad images.

    The one function per image behind every build (the module docstring has the policy). A training-ready image
    of one file: ``prepare_image(path, max_side=448, image_format="jpeg").data`` (JPEG q95 bytes).
    ``reencode_format`` (None: PNG, or JPEG with ``image_format="jpeg"``) is the encoding of images that cannot
    pass through under ``image_format="published"``.
    """
    path = Path(path)
    check_image_options(max_side, max_pixels, reencode_format, verify, image_format, jpeg_quality)
    reencode_format = reencode_format or ("jpeg" if image_format == "jpeg" else "png")
    passes = PASS_THROUGH_FORMATS if image_format == "published" else ("JPEG",)
    data = _read(path, data)
    header = read_jpeg_or_png_header(data)
    if header is not None:
        source_format, width, height = header
        check_pixels(path, width, height, max_pixels, file_bytes=len(data))
        if source_format in passes and (max_side is None or max(width, height) <= max_side):
            _check_structure(path, data, source_format)
            if verify == "decode":
                with _pixel_limit_lifted():
                    _decode(path, _open(path, data))
            return PreparedImage(data, width, height, width, height, source_format, "original", (1.0, 1.0))
    with _pixel_limit_lifted():
        image = _open(path, data)
        width, height = image.size
        check_pixels(path, width, height, max_pixels, file_bytes=len(data))
        source_format = image.format or "unknown"
        if source_format in passes and (max_side is None or max(width, height) <= max_side):
            # A JPEG or PNG whose header the fast reader could not follow but Pillow can: still passed through.
            _check_structure(path, data, source_format)
            if verify == "decode":
                _decode(path, image)
            return PreparedImage(data, width, height, width, height, source_format, "original", (1.0, 1.0))
        reduction, box = 1, None
        if source_format == "JPEG" and max_side is not None and max(width, height) > max_side:
            # DCT scaling: libjpeg skips most of the inverse DCT work, and the Lanczos resize that follows starts
            # from at most twice the target instead of the full image. One JPEG re-encode, no other loss.
            drafted = image.draft(None, _target_size(width, height, max_side))
            if drafted is not None:
                box = drafted[1]
                reduction = round(width / box[2])
        _decode(path, image)
        prepared = _reencode(image, source_format, max_side, reencode_format, jpeg_quality,
                             source_size=(width, height), box=box)
        return dataclasses.replace(prepared, dct_reduction=reduction) if reduction != 1 else prepared


def decode_image(path: Path, *, data: bytes | None = None, max_pixels: int = DEFAULT_MAX_PIXELS):
    """Read and fully decode an image (for cropping tiles); returns ``(Pillow image, Pillow format name)``."""
    data = _read(path, data)
    with _pixel_limit_lifted():
        image = _open(path, data)
        check_pixels(path, *image.size, max_pixels, file_bytes=len(data))
        _decode(path, image)
    return image, image.format or "unknown"


def encode_window(image, source_format: str, window: tuple[int, int, int, int], *, max_side: int | None = None,
                  reencode_format: str = "png", jpeg_quality: int = JPEG_QUALITY) -> PreparedImage:
    """Crop ``window`` (x, y, w, h) out of a decoded image and encode it (resized to ``max_side`` if larger).

    ``source_width``/``source_height`` of the result are the window's size: a tile is its own source image. For
    JPEG tiles, pass the image through :func:`jpeg_ready_pixels` first, so that all tiles share one stretch.
    """
    x, y, w, h = window
    return _reencode(image.crop((x, y, x + w, y + h)), source_format, max_side, reencode_format, jpeg_quality)


def _read(path: Path, data: bytes | None) -> bytes:
    if data is None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise RecordError(path, "image file does not exist", reason=errors.MISSING_IMAGE) from None
        except IsADirectoryError:
            raise RecordError(path, "expected an image file, found a folder", reason=errors.MISSING_IMAGE) from None
    if not data:
        raise RecordError(path, "image file is empty (0 bytes)", reason=errors.CORRUPT_IMAGE)
    return data


def _open(path: Path, data: bytes):
    from PIL import Image, UnidentifiedImageError

    try:
        return Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise RecordError(path, "not an image file Pillow can read (unknown or damaged header)",
                          reason=errors.CORRUPT_IMAGE) from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise RecordError(path, f"damaged image header ({exc})", reason=errors.CORRUPT_IMAGE) from None


def check_pixels(path: Path, width: int, height: int, max_pixels: int, *, file_bytes: int | None = None) -> None:
    """Refuse (``image_too_large``) an image over ``max_pixels``, or, given its file's size ``file_bytes``, one
    whose header is implausible for that size (:func:`check_plausible_size`). Call before decoding anything."""
    if width * height > max_pixels:
        raise RecordError(path, f"image is {width} x {height} = {width * height:,} pixels, over the limit of "
                          f"{max_pixels:,} (raise it with --max-pixels N, or max_pixels in the dataset recipe)",
                          reason=errors.IMAGE_TOO_LARGE)
    if file_bytes is not None:
        check_plausible_size(path, width, height, file_bytes)


def check_plausible_size(path: Path, width: int, height: int, file_bytes: int) -> None:
    """Refuse (``image_too_large``) a header claiming over :data:`PLAUSIBLE_CHECK_MIN_PIXELS` pixels and more than
    :data:`MAX_PIXELS_PER_BYTE` pixels per byte of its ``file_bytes``-byte file: a decompression bomb (a forged
    size, or a huge image of nothing) that would take memory for every pixel in every reader that decodes it."""
    pixels = width * height
    if pixels > PLAUSIBLE_CHECK_MIN_PIXELS and pixels > MAX_PIXELS_PER_BYTE * max(file_bytes, 1):
        raise RecordError(path, f"image header claims {width} x {height} = {pixels:,} pixels in a file of only "
                          f"{file_bytes:,} bytes ({pixels / max(file_bytes, 1):,.0f} pixels per byte); over "
                          f"{PLAUSIBLE_CHECK_MIN_PIXELS:,} pixels the limit is {MAX_PIXELS_PER_BYTE:,} pixels per "
                          "byte, so this is refused as a likely decompression bomb whatever --max-pixels says",
                          reason=errors.IMAGE_TOO_LARGE)


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic); C4, C8 and CC are not frames.
_JPEG_FRAME_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_JPEG_STANDALONE_MARKERS = frozenset(range(0xD0, 0xD9)) | {0x01}


def read_jpeg_or_png_header(data: bytes) -> tuple[str, int, int] | None:
    """(format, width, height) of JPEG or PNG bytes, read from the frame header without a decoder.

    Pass-through images are never decoded, so this is the per-image cost of learning their size: a walk over
    the JPEG marker segments up to the start-of-frame, or the PNG ``IHDR`` chunk. Returns None for other formats
    and for headers it cannot follow (Pillow then reads them and reports what is wrong).
    """
    if data.startswith(_PNG_SIGNATURE):
        if data[12:16] != b"IHDR" or len(data) < 24:
            return None
        width, height = struct.unpack(">II", data[16:24])
        return ("PNG", width, height) if width and height else None
    if not data.startswith(b"\xff\xd8"):
        return None
    position, end = 2, len(data)
    while position + 4 <= end:
        if data[position] != 0xFF:
            return None
        marker = data[position + 1]
        if marker == 0xFF:  # fill byte before a marker
            position += 1
            continue
        if marker in _JPEG_STANDALONE_MARKERS:
            position += 2
            continue
        if marker in _JPEG_FRAME_MARKERS:
            if position + 9 > end:
                return None
            height, width = struct.unpack(">HH", data[position + 5:position + 9])
            return ("JPEG", width, height) if width and height else None
        if marker == 0xDA:  # start of scan before any frame header: not a valid JPEG
            return None
        position += 2 + struct.unpack(">H", data[position + 2:position + 4])[0]
    return None


def _check_structure(path: Path, data: bytes, source_format: str) -> None:
    if source_format == "JPEG":
        # Writers may pad after the end-of-image marker with zero bytes; anything else there means damage.
        if not data.rstrip(b"\x00").endswith(b"\xff\xd9"):
            raise RecordError(path, "JPEG is truncated (no end-of-image marker)", reason=errors.CORRUPT_IMAGE)
        return
    if not data.endswith(_PNG_IEND):
        raise RecordError(path, "PNG is truncated (no IEND chunk at the end)", reason=errors.CORRUPT_IMAGE)
    position, end = len(_PNG_SIGNATURE), len(data)
    while position < end:  # every chunk: length, type, data, CRC-32 of type and data
        if position + 12 > end:
            raise RecordError(path, f"PNG is damaged (chunk at byte {position} runs past the end)",
                              reason=errors.CORRUPT_IMAGE)
        (length,) = struct.unpack(">I", data[position:position + 4])
        chunk_end = position + 8 + length
        if chunk_end + 4 > end:
            raise RecordError(path, f"PNG is damaged (chunk at byte {position} runs past the end)",
                              reason=errors.CORRUPT_IMAGE)
        (crc,) = struct.unpack(">I", data[chunk_end:chunk_end + 4])
        if zlib.crc32(data[position + 4:chunk_end]) != crc:
            kind = data[position + 4:position + 8].decode("latin-1")
            raise RecordError(path, f"PNG is damaged (checksum of the {kind} chunk at byte {position} is wrong)",
                              reason=errors.CORRUPT_IMAGE)
        position = chunk_end + 4


def _decode(path: Path, image) -> None:
    try:
        image.load()
    except Exception as exc:  # Pillow raises OSError, SyntaxError, ValueError, struct.error on damaged data
        raise RecordError(path, f"image data is damaged ({exc})", reason=errors.CORRUPT_IMAGE) from None


def _target_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """The size of a ``width`` x ``height`` image resized so that its longer side is ``max_side``."""
    factor = max_side / max(width, height)
    return max(1, round(width * factor)), max(1, round(height * factor))


def jpeg_ready_pixels(image):
    """``image`` as 8-bit pixels a JPEG can hold: ``L`` for grey sources, else ``RGB``.

    Palette images are expanded; 16-bit, 32-bit and float bands are mapped to 8 bits by their own 2nd-98th
    percentile (:data:`rsdata.raster.DEFAULT_PERCENTILES`, as GeoTIFF rasters are), not clipped at 255; an alpha
    band (RGBA, LA, or a palette's transparency) is composited over black: JPEG has no alpha, and a transparent
    pixel is a pixel without data, which black shows in the remote-sensing sources (image borders, no-data).
    """
    from PIL import Image

    mode = image.mode
    if mode in ("L", "RGB"):
        return image
    if mode == "1":
        return image.convert("L")
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        import numpy as np

        from rsdata.raster import DEFAULT_PERCENTILES

        values = np.asarray(image, dtype=np.float64)
        low, high = np.percentile(values, DEFAULT_PERCENTILES)
        high = high if high > low else low + 1.0
        scaled = np.clip(np.rint((values - low) * (255.0 / (high - low))), 0, 255).astype(np.uint8)
        return Image.fromarray(scaled, "L")
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode == "PA":
        image = image.convert("RGBA")
    if image.mode in ("LA", "La", "RGBA", "RGBa"):
        grey = image.mode in ("LA", "La")
        rgba = image.convert("RGBA")
        flat = Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba).convert("RGB")
        return flat.convert("L") if grey else flat
    return image if image.mode == "RGB" else image.convert("RGB")


def _reencode(image, source_format: str, max_side: int | None, reencode_format: str,
              jpeg_quality: int = JPEG_QUALITY, *, source_size: tuple[int, int] | None = None,
              box: tuple[float, float, float, float] | None = None) -> PreparedImage:
    """Resize (to ``max_side``) and encode a decoded image. ``source_size``/``box``: the image was decoded with
    DCT scaling, ``box`` being the source's extent in its (reduced) pixels; the output size follows the source's
    size, so the scale in ``image_scale`` is exact whatever reduction was used."""
    from PIL import Image

    source_width, source_height = source_size or image.size
    if reencode_format == "jpeg":
        image = jpeg_ready_pixels(image)
    elif image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    width, height = source_width, source_height
    if max_side is not None and max(width, height) > max_side:
        width, height = _target_size(width, height, max_side)
        if image.mode in ("1", "P", "I;16"):
            image = image.convert("RGB" if image.mode == "P" else "L" if image.mode == "1" else "I")
        image = image.resize((width, height), Image.Resampling.LANCZOS, box=box)
        if image.mode == "I":
            image = image.convert("I;16")
    buffer = io.BytesIO()
    if reencode_format == "jpeg":
        image.save(buffer, "JPEG", quality=jpeg_quality)
    else:
        image.save(buffer, "PNG")
    return PreparedImage(buffer.getvalue(), width, height, source_width, source_height, source_format,
                         reencode_format, (width / source_width, height / source_height))


@contextlib.contextmanager
def _pixel_limit_lifted():
    """Let Pillow open large scenes: rsdata applies its own ``max_pixels`` limit from the header."""
    from PIL import Image

    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = previous
