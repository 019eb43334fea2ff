"""Reading source images and deciding the bytes that go into the ``image`` column.

Policy:
- JPEG and PNG files whose longer side is within ``max_side`` pass through byte for byte (``encoding`` =
  "original"): no decode, no quality loss, and conversion runs at close to file-copy speed.
- Everything else (TIFF, BMP, ...; or any image over ``max_side``) is decoded and re-encoded, PNG by default
  (``encoding`` = "png" or "jpeg"), after resizing so that the longer side is ``max_side`` (Lanczos).
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
import io
import struct
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

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
VERIFY_MODES = ("structure", "decode")
JPEG_QUALITY = 95

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


def check_image_options(max_side: int | None, max_pixels: int, reencode_format: str, verify: str) -> None:
    if max_side is not None and max_side < 1:
        raise OptionError(f"--max-side must be a positive number of pixels, got {max_side}")
    if max_pixels < 1:
        raise OptionError(f"--max-pixels must be positive, got {max_pixels}")
    if reencode_format not in REENCODE_FORMATS:
        raise OptionError(f"re-encode format {reencode_format!r} is not one of {', '.join(REENCODE_FORMATS)}")
    if verify not in VERIFY_MODES:
        raise OptionError(f"verify mode {verify!r} is not one of {', '.join(VERIFY_MODES)}")


def prepare_image(path: Path, *, data: bytes | None = None, max_side: int | None = None,
                  max_pixels: int = DEFAULT_MAX_PIXELS, reencode_format: str = "png",
                  verify: str = "structure") -> PreparedImage:
    """Read ``path`` (or take ``data``, the encoded image that ``path`` names) and return the bytes to store;
    raise :class:`RecordError` for missing or bad images."""
    data = _read(path, data)
    header = read_jpeg_or_png_header(data)
    if header is not None:
        source_format, width, height = header
        check_pixels(path, width, height, max_pixels, file_bytes=len(data))
        if max_side is None or max(width, height) <= max_side:
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
        if source_format in PASS_THROUGH_FORMATS and (max_side is None or max(width, height) <= max_side):
            # A JPEG or PNG whose header the fast reader could not follow but Pillow can: still passed through.
            _check_structure(path, data, source_format)
            if verify == "decode":
                _decode(path, image)
            return PreparedImage(data, width, height, width, height, source_format, "original", (1.0, 1.0))
        _decode(path, image)
        return _reencode(image, source_format, max_side, reencode_format)


def decode_image(path: Path, *, data: bytes | None = None, max_pixels: int = DEFAULT_MAX_PIXELS):
    """Read and fully decode an image (for cropping tiles); returns ``(Pillow image, Pillow format name)``."""
    data = _read(path, data)
    with _pixel_limit_lifted():
        image = _open(path, data)
        check_pixels(path, *image.size, max_pixels, file_bytes=len(data))
        _decode(path, image)
    return image, image.format or "unknown"


def encode_window(image, source_format: str, window: tuple[int, int, int, int], *, max_side: int | None = None,
                  reencode_format: str = "png") -> PreparedImage:
    """Crop ``window`` (x, y, w, h) out of a decoded image and encode it (resized to ``max_side`` if larger).

    ``source_width``/``source_height`` of the result are the window's size: a tile is its own source image.
    """
    x, y, w, h = window
    return _reencode(image.crop((x, y, x + w, y + h)), source_format, max_side, reencode_format)


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


def _reencode(image, source_format: str, max_side: int | None, reencode_format: str) -> PreparedImage:
    from PIL import Image

    source_width, source_height = image.size
    if reencode_format == "jpeg":
        image = image.convert("L" if image.mode in ("1", "L", "I;16", "I", "F") else "RGB")
    elif image.mode not in ("1", "L", "LA", "P", "RGB", "RGBA", "I;16"):
        image = image.convert("RGBA" if "A" in image.getbands() else "RGB")
    width, height = source_width, source_height
    if max_side is not None and max(width, height) > max_side:
        factor = max_side / max(width, height)
        width, height = max(1, round(width * factor)), max(1, round(height * factor))
        if image.mode in ("1", "P", "I;16"):
            image = image.convert("RGB" if image.mode == "P" else "L" if image.mode == "1" else "I")
        image = image.resize((width, height), Image.Resampling.LANCZOS)
        if image.mode == "I":
            image = image.convert("I;16")
    buffer = io.BytesIO()
    if reencode_format == "jpeg":
        image.save(buffer, "JPEG", quality=JPEG_QUALITY)
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
