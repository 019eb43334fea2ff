"""The 64-bit perceptual hash of an image and the search for pairs of hashes within a Hamming distance.

**The hash.** :func:`perceptual_hash` is ``imagehash.phash(image, hash_size=8)``: the image decoded by Pillow,
converted to grayscale and resized to 32 x 32 (Lanczos) by imagehash, the 8 x 8 lowest frequencies of its 2-D DCT,
each bit set when its coefficient is above their median. The 64 bits are returned as an unsigned integer whose
most significant bit is the first element of imagehash's row-major 8 x 8 array (the DC coefficient) and whose
least significant bit is the last (the highest frequency in both directions), so that
``perceptual_hash(data) == int(str(imagehash.phash(Image.open(...))), 16)`` and ``f"{h:016x}"`` is imagehash's own
string. The threshold is the median of 64 coefficients, so almost every hash has exactly 32 bits set and the
distance between two hashes is almost always even: "distance < 2" in practice means "the same hash". (A JPEG
re-encoding or a slight resize keeps the hash of most images and moves it by 2 bits for the others; a larger
``max_distance``, 2 or 4, catches those too.)

**The threshold convention.** ``max_distance`` is inclusive: two hashes are near-duplicates when their Hamming
distance is at most ``max_distance``. RemoteCLIP's "Hamming distance < 2" is ``max_distance=1``, the default.

**The search.** :class:`HashIndex` is a multi-index bucket search, never all pairs: the 64 bits are cut into
``m = max_distance + 1`` contiguous chunks (widths differ by at most one bit, the first chunks taking the extra
bits; chunk 0 holds the most significant bits). When two hashes differ in at most ``max_distance`` bits, one of the
``m`` chunks holds none of the differing bits (pigeonhole), so the two hashes share that chunk's value exactly.
Each chunk's values are sorted once; the hashes sharing a chunk value with a query are its candidates, and every
candidate is checked exactly by a popcount of the XOR (``np.bitwise_count``). With the default ``max_distance=1``
that is ``m = 2`` chunks of 32 bits. :func:`brute_force_pairs` compares every hash with every other in NumPy,
block by block: the oracle of the tests and the baseline of ``benchmarks/dedup.py``.

**Variants for the leakage check.** :func:`variant_hashes` gives one image's pHash under every geometric variant in
:data:`VARIANTS`: each of the 19 :data:`CROP_WINDOWS` (the whole image; and windows keeping 97 % and 95 % of the
width and height, each at the 3 x 3 positions left/centre/right by top/middle/bottom) under each of the 8
:data:`DIHEDRAL_TRANSFORMS` (flips, rotations by 90-degree steps, transposes): 152 hashes, column 0 (whole image,
identity) being :func:`perceptual_hash` exactly. Each window is cut from the grayscale image and resized to 32 x 32
(Lanczos) as imagehash does (for speed, the windows of an image whose short side exceeds 511 pixels are cut from it
reduced by an integer box factor to a short side of 256 to 511 pixels); the dihedral transforms act on that 32 x 32
array before the DCT, so a flipped or rotated copy's own pHash differs from its variant only by resampling rounding
(0 or 2 bits). A training image that is a flip, rotation, 3-5 % crop, re-encoding or resize of a test image lies
within Hamming distance 4 of one of that image's variants (``benchmarks/dedup_leakage.py`` measures it).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from rsdata.errors import OptionError, RsdataError

HASH_SIZE = 8
HASH_BITS = HASH_SIZE * HASH_SIZE
#: The paper's "Hamming distance < 2".
DEFAULT_MAX_DISTANCE = 1
#: Above this the chunks get shorter than 8 bits and the buckets so full that the search nears all pairs.
MAX_SEARCH_DISTANCE = 7
HASH_DEFINITION = f"phash/imagehash/hash_size={HASH_SIZE}"

#: The 8 symmetries of the square, named as the copy relates to the original: ``rot90`` is the original turned
#: 90 degrees counter-clockwise (Pillow's ``ROTATE_90``), ``transpose`` mirrors across the main diagonal,
#: ``transverse`` across the other one. Each maps a 2-D array (rows, columns) to its transformed array.
DIHEDRAL_TRANSFORMS = {
    "identity": lambda a: a,
    "flip_h": lambda a: a[:, ::-1],
    "flip_v": lambda a: a[::-1, :],
    "rot90": lambda a: np.rot90(a, 1),
    "rot180": lambda a: np.rot90(a, 2),
    "rot270": lambda a: np.rot90(a, 3),
    "transpose": lambda a: a.T,
    "transverse": lambda a: np.rot90(a, 2).T,
}
_POSITIONS = {"nw": (0.0, 0.0), "n": (0.5, 0.0), "ne": (1.0, 0.0), "w": (0.0, 0.5), "c": (0.5, 0.5),
              "e": (1.0, 0.5), "sw": (0.0, 1.0), "s": (0.5, 1.0), "se": (1.0, 1.0)}
#: Window name -> (share of width and height cut off, x and y of the window's place in the slack: 0 left/top,
#: 0.5 centred, 1 right/bottom). A crop of 3 to 5 % anywhere lies within about 1 % of one of these windows.
CROP_WINDOWS = {"full": (0.0, 0.0, 0.0), **{f"crop{round(cut * 100)}-{where}": (cut, x, y)
                                            for cut in (0.03, 0.05) for where, (x, y) in _POSITIONS.items()}}
#: (window, transform) of each column of :func:`variant_hashes`: window-major, transform-minor.
VARIANTS = tuple((window, transform) for window in CROP_WINDOWS for transform in DIHEDRAL_TRANSFORMS)
VARIANTS_DEFINITION = (f"{HASH_DEFINITION}/variants=dihedral8xwindows{len(CROP_WINDOWS)}(3%,5%;3x3)"
                       "/reduce_to_min_side256")
# Crop windows are resized from the image reduced (box filter, integer factor) to a short side of at least this.
_WINDOW_MIN_SIDE = 256

# Candidate pairs are expanded at most this many at a time, so a crowded bucket never needs more than ~100 MB.
_CANDIDATE_BATCH = 1 << 22
# Elements of one brute-force block (a rows x b rows), about 32 MiB of uint64.
_BRUTE_FORCE_BLOCK = 1 << 22


class DedupInputError(RsdataError):
    """A dataset folder cannot be de-duplicated as it is: names the shard, the row and what was wrong."""


# ---------------------------------------------------------------------------------------------------------------
# The hash


def perceptual_hash(image_bytes: bytes, *, where: str = "image") -> int:
    """The 64-bit pHash of an encoded image as an unsigned integer (bit order in the module docstring).

    ``where`` names the image in the error raised when Pillow cannot decode it.
    """
    import imagehash
    from PIL import Image

    from rsdata.errors import RecordError
    from rsdata.images import _pixel_limit_lifted, check_plausible_size

    # Large scenes (DOTA-v2's reach 29,200 pixels a side) were admitted by the build's own pixel limit (recipes
    # raise it); a header no real image could have (a decompression bomb) is still refused before decoding.
    with _pixel_limit_lifted():
        try:
            with Image.open(io.BytesIO(image_bytes)) as image:
                check_plausible_size(where, *image.size, len(image_bytes))
                bits = imagehash.phash(image, hash_size=HASH_SIZE).hash
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
            raise DedupInputError(f"{where}: the image cannot be decoded ({error})") from None
        except RecordError as error:
            raise DedupInputError(str(error)) from None
    return int.from_bytes(np.packbits(np.asarray(bits, dtype=bool).reshape(-1)).tobytes(), "big")


def variant_hashes(image_bytes: bytes, *, where: str = "image") -> np.ndarray:
    """The pHash of an encoded image under each of :data:`VARIANTS` (uint64, one per variant; column 0 is
    :func:`perceptual_hash`)."""
    from PIL import Image

    gray = _decode_gray(image_bytes, where)
    exact = gray.resize((HASH_SIZE * 4, HASH_SIZE * 4), Image.LANCZOS)
    width, height = gray.size
    reduced, scale = gray, 1.0
    factor = min(width, height) // _WINDOW_MIN_SIDE
    if factor >= 2:
        reduced, scale = gray.reduce(factor), 1.0 / factor
    stack = []
    for cut, x, y in CROP_WINDOWS.values():
        if cut == 0:
            pixels = exact
        else:
            w, h = width * scale, height * scale
            left, top = x * cut * w, y * cut * h
            pixels = reduced.resize(exact.size, Image.LANCZOS, box=(left, top, left + (1 - cut) * w,
                                                                    top + (1 - cut) * h))
        pixels = np.asarray(pixels, dtype=np.float64)
        stack += [transform(pixels) for transform in DIHEDRAL_TRANSFORMS.values()]
    return _dct_hashes(np.stack(stack))


def _dct_hashes(pixels: np.ndarray) -> np.ndarray:
    """imagehash's pHash of each 32 x 32 grayscale array of ``pixels`` (n, 32, 32), as uint64 (bit order of
    :func:`perceptual_hash`)."""
    import scipy.fftpack

    dct = scipy.fftpack.dct(scipy.fftpack.dct(pixels, axis=1), axis=2)[:, :HASH_SIZE, :HASH_SIZE]
    low = dct.reshape(len(pixels), -1)
    bits = low > np.median(low, axis=1, keepdims=True)
    return np.packbits(bits, axis=1).view(">u8").reshape(-1).astype(np.uint64)


def _decode_gray(image_bytes: bytes, where: str):
    """The image decoded by Pillow and converted to grayscale, as imagehash does; errors as
    :class:`DedupInputError` naming ``where``."""
    from PIL import Image

    from rsdata.errors import RecordError
    from rsdata.images import _pixel_limit_lifted, check_plausible_size

    with _pixel_limit_lifted():
        try:
            with Image.open(io.BytesIO(image_bytes)) as image:
                check_plausible_size(where, *image.size, len(image_bytes))
                return image.convert("L")
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
            raise DedupInputError(f"{where}: the image cannot be decoded ({error})") from None
        except RecordError as error:
            raise DedupInputError(str(error)) from None


def hash_hex(value: int) -> str:
    """The 16 hex digits of a hash (imagehash's string form)."""
    return f"{int(value):016x}"


def popcount64(values: np.ndarray) -> np.ndarray:
    """Set bits of each uint64 (as uint8); ``np.bitwise_count`` on NumPy 2, a byte table before it."""
    values = np.asarray(values, dtype=np.uint64)
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(values)
    table = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
    as_bytes = np.ascontiguousarray(values).view(np.uint8).reshape(values.shape + (8,))
    return table[as_bytes].sum(axis=-1, dtype=np.uint8)


# ---------------------------------------------------------------------------------------------------------------
# Searching pairs


@dataclass(frozen=True, eq=False)  # arrays have no single truth value: compare with as_set()
class Pairs:
    """Pairs of row numbers within ``max_distance``, sorted by (left, right); ``distance`` is their Hamming distance.

    For :meth:`HashIndex.query` ``left`` numbers the query hashes and ``right`` the indexed ones; for self pairs
    ``left < right`` number the same hashes.
    """

    left: np.ndarray  # int64
    right: np.ndarray  # int64
    distance: np.ndarray  # uint8

    def __len__(self) -> int:
        return int(self.left.size)

    def as_set(self) -> set[tuple[int, int, int]]:
        return set(zip(self.left.tolist(), self.right.tolist(), self.distance.tolist()))


def as_hash_array(hashes: Iterable[int] | np.ndarray, *, what: str = "hashes") -> np.ndarray:
    """``hashes`` as a 1-D uint64 array; Python ints must lie in [0, 2**64)."""
    if isinstance(hashes, np.ndarray) and hashes.dtype == np.uint64:
        array = hashes
    else:
        try:
            array = np.asarray(list(hashes) if not isinstance(hashes, np.ndarray) else hashes, dtype=np.uint64)
        except (OverflowError, TypeError, ValueError) as error:
            raise OptionError(f"{what} must be unsigned 64-bit integers: {error}") from None
    if array.ndim != 1:
        raise OptionError(f"{what} must be a flat sequence, got shape {array.shape}")
    return array


def check_max_distance(max_distance: int) -> int:
    if isinstance(max_distance, bool) or not isinstance(max_distance, (int, np.integer)) \
            or not 0 <= max_distance <= MAX_SEARCH_DISTANCE:
        raise OptionError(f"--max-distance must be an integer from 0 to {MAX_SEARCH_DISTANCE} (inclusive Hamming "
                          f"distance; the paper's 'distance < 2' is 1), got {max_distance!r}")
    return int(max_distance)


def chunk_layout(chunks: int) -> list[tuple[int, int]]:
    """(shift, width) of each of ``chunks`` contiguous bit chunks of a 64-bit hash, most significant first."""
    base, extra = divmod(HASH_BITS, chunks)
    layout, high = [], HASH_BITS
    for index in range(chunks):
        width = base + (1 if index < extra else 0)
        high -= width
        layout.append((high, width))
    return layout


def _chunk_values(hashes: np.ndarray, shift: int, width: int) -> np.ndarray:
    mask = np.uint64((1 << width) - 1) if width < 64 else np.uint64(0xFFFFFFFFFFFFFFFF)
    return (hashes >> np.uint64(shift)) & mask


class HashIndex:
    """Multi-index bucket search over a fixed set of 64-bit hashes (see the module docstring).

    The sorted chunk tables for ``m`` chunks are built on the first search that needs them and kept.
    """

    def __init__(self, hashes: Iterable[int] | np.ndarray):
        self.hashes = as_hash_array(hashes)
        self._tables: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}

    def __len__(self) -> int:
        return int(self.hashes.size)

    def _chunk_tables(self, chunks: int) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per chunk: (the chunk values sorted, the row of each sorted value)."""
        if chunks not in self._tables:
            tables = []
            for shift, width in chunk_layout(chunks):
                values = _chunk_values(self.hashes, shift, width)
                order = np.argsort(values, kind="stable")
                tables.append((values[order], order))
            self._tables[chunks] = tables
        return self._tables[chunks]

    def query(self, hashes: Iterable[int] | np.ndarray, max_distance: int = DEFAULT_MAX_DISTANCE) -> Pairs:
        """Every (query row, indexed row) whose hashes are within ``max_distance`` (inclusive)."""
        max_distance = check_max_distance(max_distance)
        queries = as_hash_array(hashes, what="query hashes")
        found = []
        for (shift, width), (sorted_values, order) in zip(chunk_layout(max_distance + 1),
                                                           self._chunk_tables(max_distance + 1)):
            values = _chunk_values(queries, shift, width)
            first = np.searchsorted(sorted_values, values, side="left")
            # Most queries match nothing: the bucket's end is looked up only for those that do.
            matched = np.flatnonzero(sorted_values[np.minimum(first, max(len(self) - 1, 0))] == values) \
                if len(self) else np.empty(0, dtype=np.int64)
            counts = np.zeros(queries.size, dtype=np.int64)
            counts[matched] = np.searchsorted(sorted_values, values[matched], side="right") - first[matched]
            for rows, positions in _expand_buckets(np.arange(queries.size, dtype=np.int64), first, counts):
                found.append(_within(queries, rows, self.hashes, order[positions], max_distance))
        return _merge(found, len(self))

    def self_pairs(self, max_distance: int = DEFAULT_MAX_DISTANCE) -> Pairs:
        """Every pair of indexed rows ``left < right`` whose hashes are within ``max_distance`` (inclusive)."""
        max_distance = check_max_distance(max_distance)
        n = len(self)
        found = []
        for sorted_values, order in self._chunk_tables(max_distance + 1):
            # Each sorted position pairs with the positions after it that hold the same chunk value.
            positions = np.arange(n, dtype=np.int64)
            run_end = np.searchsorted(sorted_values, sorted_values, side="right")
            for starts, partners in _expand_buckets(positions, positions + 1, run_end - positions - 1):
                a, b = order[starts], order[partners]
                left, right = np.minimum(a, b), np.maximum(a, b)
                found.append(_within(self.hashes, left, self.hashes, right, max_distance))
        return _merge(found, n)


def _expand_buckets(rows: np.ndarray, first: np.ndarray, counts: np.ndarray):
    """Yield (row, position) arrays: row ``rows[i]`` with positions ``first[i] .. first[i] + counts[i] - 1``,
    in batches of about :data:`_CANDIDATE_BATCH` pairs (one row at least)."""
    ends = np.cumsum(counts)
    start = 0
    while start < rows.size:
        done_before = ends[start - 1] if start else 0
        stop = max(start + 1, int(np.searchsorted(ends, done_before + _CANDIDATE_BATCH, side="right")))
        batch_counts = counts[start:stop]
        total = int(batch_counts.sum())
        if total:
            offsets = np.cumsum(batch_counts) - batch_counts
            repeated_rows = np.repeat(rows[start:stop], batch_counts)
            positions = np.arange(total, dtype=np.int64) + np.repeat(first[start:stop] - offsets, batch_counts)
            yield repeated_rows, positions
        start = stop


def _within(left_hashes, left, right_hashes, right, max_distance: int):
    distance = popcount64(left_hashes[left] ^ right_hashes[right])
    keep = distance <= max_distance
    return left[keep], right[keep], distance[keep]


def _merge(found: list, n_right: int) -> Pairs:
    """One sorted, duplicate-free :class:`Pairs` from the pieces found (a pair may come from several chunks)."""
    if not found:
        empty = np.empty(0, dtype=np.int64)
        return Pairs(empty, empty.copy(), np.empty(0, dtype=np.uint8))
    left = np.concatenate([f[0] for f in found]).astype(np.int64)
    right = np.concatenate([f[1] for f in found]).astype(np.int64)
    distance = np.concatenate([f[2] for f in found]).astype(np.uint8)
    _, first = np.unique(left * max(n_right, 1) + right, return_index=True)
    return Pairs(left[first], right[first], distance[first])


def brute_force_pairs(a: Iterable[int] | np.ndarray, b: Iterable[int] | np.ndarray | None = None,
                      max_distance: int = DEFAULT_MAX_DISTANCE) -> Pairs:
    """All pairs within ``max_distance`` by comparing every hash with every other, block by block.

    With ``b`` given: pairs (row of ``a``, row of ``b``), as :meth:`HashIndex.query` with ``a`` as the queries.
    Without: pairs ``left < right`` of ``a``, as :meth:`HashIndex.self_pairs`.
    """
    if isinstance(max_distance, bool) or not isinstance(max_distance, (int, np.integer)) or max_distance < 0:
        raise OptionError(f"max_distance must be a non-negative integer, got {max_distance!r}")
    a = as_hash_array(a)
    same = b is None
    b = a if same else as_hash_array(b)
    found = []
    block = max(1, _BRUTE_FORCE_BLOCK // max(b.size, 1))
    for start in range(0, a.size, block):
        stop = min(start + block, a.size)
        # Self pairs need only the columns after the block's first row.
        column_start = start + 1 if same else 0
        distance = popcount64(a[start:stop, None] ^ b[None, column_start:])
        rows, columns = np.nonzero(distance <= max_distance)
        rows_global, columns_global = rows + start, columns + column_start
        keep = columns_global > rows_global if same else slice(None)
        found.append((rows_global[keep], columns_global[keep], distance[rows, columns][keep]))
    return _merge(found, b.size)
