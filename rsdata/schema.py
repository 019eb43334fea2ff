"""The output columns, declared once.

One row per image. Columns (``datasets`` feature types):

- ``image``: ``Image()``, stored as struct {bytes, path}; ``path`` is the source image's path relative to the
  source root (provenance: for a tile, the scene it was cut from, which ``tile_offset`` locates it in; its file
  ending need not be the bytes' format, which ``image_encoding`` gives).
- ``width``, ``height`` (int32): pixel size of the stored image.
- ``captions``: list of 5 strings; ``caption_rule``: the id of the rule that made them ("b2c/1");
  ``caption_templates``: the template id behind each caption (see :mod:`rsdata.captions.templates`).
- ``objects``: list of {category (the source's label), bbox [x_min, y_min, x_max, y_max] (float32 pixels of the
  stored image), polygon (flat float32 list, empty for boxes), difficult (bool)}.
- provenance: ``source_dataset``, ``source_split`` (as the source names it, e.g. "val"), ``source_id``,
  ``tile_offset`` [x, y] (int32, pixels in the source image), ``license``; for georeferenced sources ``crs``
  (``EPSG:<code>`` or WKT), ``geo_transform`` (GDAL's six affine numbers of the stored image) and
  ``footprint_wgs84`` (the image's outline as WKT in longitude/latitude), null otherwise.
- ``source_image_format`` (Pillow's name of the source file's format, e.g. "PNG", "TIFF" for a GeoTIFF),
  ``image_encoding`` ("original" only when the bytes are the source file's, byte for byte; else the format they
  were encoded to: "png" or "jpeg", as for every tile cut out of a larger image), ``image_scale`` [x, y] (stored /
  source pixels); a tile's ``width``, ``height``, ``geo_transform`` and ``footprint_wgs84`` are the tile's own.

Rows whose captions come from people (retrieval sets) have those captions as written, ``caption_rule`` "human"
and no templates; scene-classification rows have no captions (``caption_rule`` "none") and no objects.

Extra columns: a format may declare columns of its own after these (:meth:`SourceFormat.extra_features
<rsdata.formats.base.SourceFormat.extra_features>`, e.g. a ``label`` ``ClassLabel`` whose names are known once
the source is listed); they follow the base columns in the order declared, and their features (ClassLabel names
included) go into the same metadata.

The Parquet files carry these features in their ``huggingface`` schema metadata, so ``datasets`` reads them back
with the same types.
"""

from __future__ import annotations

from array import array
from functools import lru_cache
from itertools import accumulate
from typing import Any, Mapping

#: Rows per Parquet row group: small groups let streaming readers fetch a few images at a time (the value
#: ``datasets`` itself uses for image datasets).
ROW_GROUP_SIZE = 100
#: Image bytes per row group, at most: a row group closes before the row that would take it over this (a single
#: larger image is a group of its own). 100 DOTA-size PNGs would make a 2 GB group that writers and readers hold
#: in memory whole (``datasets`` caps its own groups at 100 MB). Writing holds several copies of a group (the rows'
#: bytes, the Arrow table, the Parquet page, the group written before it on the writer thread): on 20 MB PNGs a
#: 64 MiB cap peaked at 540-590 MiB, 32 MiB at 340 MiB (docs/benchmarks.md). 100 800 x 800 JPEGs are 17 MB.
ROW_GROUP_MAX_BYTES = 32 * 1024 * 1024


#: The base columns in a small declarative form from which both the ``datasets`` features and, without importing
#: ``datasets`` (about 1.4 s of a conversion's serial start-up, paid before any worker starts), the Arrow schema
#: with its ``huggingface`` metadata and the card's ``dataset_info`` features are derived. A spec is ``"image"``
#: (``Image()``), a ``Value`` dtype name, ``("list", spec, length or None)`` or a dict of named specs (a struct).
#: tests/test_schema_declared.py checks every derived form against what ``datasets`` makes of :func:`base_features`.
BASE_COLUMNS: tuple[tuple[str, Any], ...] = (
    ("image", "image"),
    ("width", "int32"),
    ("height", "int32"),
    ("captions", ("list", "string", None)),
    ("caption_rule", "string"),
    ("caption_templates", ("list", "string", None)),
    ("objects", ("list", {"category": "string", "bbox": ("list", "float32", 4), "polygon": ("list", "float32", None),
                          "difficult": "bool"}, None)),
    ("source_dataset", "string"),
    ("source_split", "string"),
    ("source_id", "string"),
    ("tile_offset", ("list", "int32", 2)),
    ("license", "string"),
    ("crs", "string"),
    ("geo_transform", ("list", "float64", None)),
    ("footprint_wgs84", "string"),
    ("source_image_format", "string"),
    ("image_encoding", "string"),
    ("image_scale", ("list", "float32", 2)),
)


@lru_cache(maxsize=None)
def base_features():
    """The columns every rsdata output has (see the module docstring), as ``datasets.Features``."""
    from datasets import Features, Image, List, Value

    def feature(spec):
        if spec == "image":
            return Image()
        if isinstance(spec, str):
            return Value(spec)
        if isinstance(spec, dict):
            return {name: feature(inner) for name, inner in spec.items()}
        _, inner, length = spec
        return List(feature(inner)) if length is None else List(feature(inner), length=length)

    return Features({name: feature(spec) for name, spec in BASE_COLUMNS})


def check_extra_columns(extra: Mapping[str, Any] | None) -> None:
    """Raise ``ValueError`` when an extra column has the name of a base column."""
    clash = sorted(set(extra or {}) & {name for name, _ in BASE_COLUMNS})
    if clash:
        raise ValueError(f"extra column(s) {', '.join(clash)} would replace base output columns; choose other names")


def output_features(extra: Mapping[str, Any] | None = None):
    """The output features: the base columns, then the ``extra`` columns (name -> ``datasets`` feature) in order.

    Raises ``ValueError`` when an extra column has the name of a base column.
    """
    check_extra_columns(extra)
    base = base_features()
    if not extra:
        return base
    from datasets import Features

    return Features({**base, **extra})


def output_arrow_schema(extra: Mapping[str, Any] | None = None):
    """The Arrow schema of the shards, with the ``huggingface`` features metadata (without extra columns, made
    without importing ``datasets``)."""
    if not extra:
        return base_arrow_schema()
    return output_features(extra).arrow_schema


@lru_cache(maxsize=None)
def base_arrow_schema():
    """:func:`output_arrow_schema` of the base columns from :data:`BASE_COLUMNS`: equal, metadata included, to
    ``base_features().arrow_schema``."""
    import json

    import pyarrow as pa

    scalars = {"int32": pa.int32(), "float32": pa.float32(), "float64": pa.float64(), "bool": pa.bool_(),
               "string": pa.string()}

    def arrow_type(spec):
        if spec == "image":
            return pa.struct([("bytes", pa.binary()), ("path", pa.string())])
        if isinstance(spec, str):
            return scalars[spec]
        if isinstance(spec, dict):
            return pa.struct([(name, arrow_type(inner)) for name, inner in spec.items()])
        _, inner, length = spec
        return pa.list_(arrow_type(inner)) if length is None else pa.list_(arrow_type(inner), length)

    def feature_json(spec):
        if spec == "image":
            return {"_type": "Image"}
        if isinstance(spec, str):
            return {"dtype": spec, "_type": "Value"}
        if isinstance(spec, dict):
            return {name: feature_json(inner) for name, inner in spec.items()}
        _, inner, length = spec
        return {"feature": feature_json(inner), **({} if length is None else {"length": length}), "_type": "List"}

    metadata = json.dumps({"info": {"features": {name: feature_json(spec) for name, spec in BASE_COLUMNS}}})
    return pa.schema([(name, arrow_type(spec)) for name, spec in BASE_COLUMNS], metadata={"huggingface": metadata})


def base_features_yaml() -> list[dict]:
    """The base columns as a dataset card's ``dataset_info.features`` list (``datasets``' YAML form of
    :func:`base_features`), made without importing ``datasets``."""
    def entry(spec) -> dict:
        # The forms BASE_COLUMNS uses: image, a Value, a list of Values, a list of structs of those.
        if isinstance(spec, str):
            return {"dtype": spec}  # "image" included: datasets writes Image() as dtype image
        _, inner, length = spec
        listed = {"list": inner} if isinstance(inner, str) else \
            {"list": [{"name": name, **entry(value)} for name, value in inner.items()]}
        return listed if length is None else {**listed, "length": length}

    return [{"name": name, **entry(spec)} for name, spec in BASE_COLUMNS]


def parquet_writer_options(schema) -> dict:
    """Keyword arguments for ``pyarrow.parquet.ParquetWriter``.

    Image bytes are already compressed (JPEG/PNG): compressing or dictionary-encoding them costs time and saves
    nothing, so only the other columns get zstd and, where values repeat, dictionaries. Column statistics are
    off: nothing reads them here, and computing them over image bytes triples the writing time.
    """
    import pyarrow as pa

    leaves = _leaf_fields(schema)
    extra = set(schema.names) - {name for name, _ in BASE_COLUMNS}
    # Text in extra columns (class names, count categories) repeats like the base columns' labels do.
    dictionary = [path for path, data_type in leaves if path in _DICTIONARY_COLUMNS
                  or (path.split(".", 1)[0] in extra and pa.types.is_string(data_type))]
    return {
        "compression": {path: ("NONE" if path == "image.bytes" else "zstd") for path, _ in leaves},
        "use_dictionary": dictionary,
        "write_statistics": False,
    }


_DICTIONARY_COLUMNS = {
    "caption_rule", "caption_templates.list.element", "objects.list.element.category", "source_dataset",
    "source_split", "license", "source_image_format", "image_encoding",
}


class RowBatch:
    """Rows gathered column by column and turned into an Arrow table of :func:`output_arrow_schema` (extra
    columns included: they are plain values, converted to their Arrow type as the table is made).

    Building the nested columns from flat lists (offsets plus values) is several times faster than handing
    ``pyarrow`` a list of row dictionaries, which matters when rows arrive at file-copy speed. The image bytes are
    one contiguous buffer with offsets (:func:`binary_array`), not appended to an Arrow builder value by value.
    :attr:`image_nbytes` is the size of the image bytes gathered so far (what :data:`ROW_GROUP_MAX_BYTES` caps).
    """

    def __init__(self, schema):
        self.schema = schema
        self._simple = {name: [] for name in schema.names if name not in ("image", "objects")}
        self._image_bytes: list[bytes] = []
        self._image_paths: list[str] = []
        self._object_offsets = [0]
        self._categories: list[str] = []
        self._boxes: list[float] = []
        self._polygon_offsets = [0]
        self._polygons: list[float] = []
        self._difficult: list[bool] = []
        self.image_nbytes = 0

    def __len__(self) -> int:
        return len(self._image_bytes)

    def append(self, *, image_bytes: bytes, image_path: str, objects, **columns) -> None:
        """Add one row. ``objects`` are :class:`~rsdata.records.ObjectAnnotation`; ``columns`` the rest."""
        self._image_bytes.append(image_bytes)
        self.image_nbytes += len(image_bytes)
        self._image_paths.append(image_path)
        for obj in objects:
            self._categories.append(obj.category)
            self._boxes.extend(obj.bbox)
            self._polygons.extend(obj.polygon)
            self._polygon_offsets.append(len(self._polygons))
            self._difficult.append(obj.difficult)
        self._object_offsets.append(len(self._categories))
        for name, values in self._simple.items():
            values.append(columns[name])

    def to_table(self):
        import pyarrow as pa

        arrays = []
        for field in self.schema:
            if field.name == "image":
                arrays.append(pa.StructArray.from_arrays(
                    [binary_array(self._image_bytes), pa.array(self._image_paths, pa.string())],
                    fields=list(field.type)))
            elif field.name == "objects":
                struct_type = field.type.value_type
                parts = {
                    "category": pa.array(self._categories, pa.string()),
                    "bbox": pa.FixedSizeListArray.from_arrays(pa.array(self._boxes, pa.float32()), 4),
                    "polygon": pa.ListArray.from_arrays(pa.array(self._polygon_offsets, pa.int32()),
                                                        pa.array(self._polygons, pa.float32())),
                    "difficult": pa.array(self._difficult, pa.bool_()),
                }
                objects = pa.StructArray.from_arrays([parts[f.name].cast(f.type) for f in struct_type],
                                                     fields=list(struct_type))
                arrays.append(pa.ListArray.from_arrays(pa.array(self._object_offsets, pa.int32()), objects)
                              .cast(field.type))
            else:
                arrays.append(pa.array(self._simple[field.name], field.type))
        return pa.Table.from_arrays(arrays, schema=self.schema)

    def clear(self) -> None:
        self.__init__(self.schema)


def binary_array(values: list[bytes]):
    """``values`` as an Arrow ``binary`` array built from its buffers: 32-bit offsets and the values joined into
    one buffer in a single pass, without an Arrow builder appending (and re-checking) them one by one. The array
    equals ``pa.array(values, pa.binary())``, and Parquet files written from it are byte-identical to files
    written from that (no validity bitmap: every value is present)."""
    import pyarrow as pa

    total = sum(map(len, values))
    if total >= 2 ** 31:  # beyond 32-bit offsets: let Arrow say so in its own words
        return pa.array(values, pa.binary())
    offsets = array("i", [0])
    offsets.extend(accumulate(map(len, values)))
    data = pa.py_buffer(b"".join(values))
    return pa.Array.from_buffers(pa.binary(), len(values), [None, pa.py_buffer(offsets), data])


def _leaf_fields(schema) -> list[tuple[str, Any]]:
    """(Parquet column path, Arrow type) of every leaf column of ``schema``."""
    import pyarrow as pa

    leaves = []

    def visit(prefix: str, data_type) -> None:
        if pa.types.is_struct(data_type):
            for field in data_type:
                visit(f"{prefix}.{field.name}", field.type)
        elif pa.types.is_list(data_type) or pa.types.is_fixed_size_list(data_type) or pa.types.is_large_list(
                data_type):
            visit(f"{prefix}.list.element", data_type.value_type)
        else:
            leaves.append((prefix, data_type))

    for field in schema:
        visit(field.name, field.type)
    return leaves
