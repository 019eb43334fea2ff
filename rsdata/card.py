"""The dataset card (``README.md``) of a build, made with huggingface_hub's card classes.

The YAML header carries what the Hub and ``datasets.load_dataset`` read: ``configs`` with ``data_files`` per
split, licence, task categories (by caption rule: captioned data, a classification set, a counting set), source
datasets, size category and tags. The body says what the captions are (by caption rule), states the statistics
(images, captions, objects per category, skips by reason, the values of the format's counted columns per split),
the format's tables about the source (e.g. classes and their prompt names), the split lists when the format made
the splits, how the images are stored (encoding, quality, longest side: "Images stored JPEG q95, longer side
<= 448 px ..."), and the settings, so the card alone says how the data were made. It contains nothing that varies
between identical runs.

Built from a dataset recipe (:class:`DatasetMeta`), the card also carries the recipe's title, homepage, BibTeX
citation and licence note; for licence ``other`` the header names it (``license_name``, ``license_link``: the
homepage). ``dataset_info`` states the features (those of :func:`rsdata.schema.output_features`) and, per split,
``num_examples`` and ``num_bytes``: the split's size as Arrow data once loaded, what ``datasets`` records itself
(``Dataset.push_to_hub`` writes the same), while ``download_size`` is the Parquet files' total size. The body
shows the captions of the first images of the first split and a contact sheet of them with their boxes
(:data:`CONTACT_SHEET`, beside the card).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

from rsdata.dataset_files import DATA_DIR, SHARD_NAME, split_pattern
from rsdata.records import HUMAN_RULE, NO_CAPTION_RULE
from rsdata.report import BuildReport

#: The contact sheet of the first images, relative to the dataset root (outside ``data/``: no loader reads it).
CONTACT_SHEET = "images/contact_sheet.png"
#: How many of the first split's first images the contact sheet shows, and how many have their captions shown.
CONTACT_SHEET_IMAGES = 12
EXAMPLE_ROWS = 3
#: The language of the captions (the Hub's ``language`` field: ISO 639-1).
LANGUAGE = ["en"]


@dataclass(frozen=True)
class DatasetMeta:
    """What the card says about the source dataset, from its recipe: shapes the card, never the shards."""

    title: str = ""
    homepage: str = ""
    citation: str = ""  # BibTeX
    license_note: str = ""  # what the licence means, above all "other"

    @classmethod
    def from_recipe(cls, recipe) -> "DatasetMeta":
        """The card facts of a :class:`rsdata.recipe.DatasetRecipe`."""
        return cls(title=recipe.title, homepage=recipe.homepage, citation=recipe.citation.strip(),
                   license_note=" ".join(recipe.license_note.split()))


TASK_CATEGORIES = ["zero-shot-image-classification", "image-to-text", "text-to-image", "object-detection"]
#: Task categories of datasets whose rows are not box-captioned, by caption rule.
TASK_CATEGORIES_BY_RULE = {
    HUMAN_RULE: ["zero-shot-image-classification", "image-to-text", "text-to-image"],
    NO_CAPTION_RULE: ["image-classification", "zero-shot-image-classification"],
    "remotecount/1": ["zero-shot-image-classification", "text-to-image"],
}

#: What the captions are, by caption rule (Markdown; ``{rule}`` is the rule id).
RULE_SENTENCES = {
    "b2c/1": "Each image has 5 captions made from its object boxes by the caption rule `{rule}` (RemoteCLIP's "
             "Box-to-Caption, with every open point fixed; the `caption_templates` column names the template behind "
             "each caption), plus its objects and its provenance.",
    HUMAN_RULE: "Each image keeps the captions its annotators wrote (rule `{rule}`), exactly as published and in the "
                "published order, with its provenance; `source_id` is the image's file name.",
    NO_CAPTION_RULE: "A scene-classification set: each image has its class (`label`, a `ClassLabel` whose names are "
                     "the class folder names, sorted) and the class's prompt name (`class_name`), no captions (rule "
                     "`{rule}`), and its provenance.",
    "remotecount/1": "A RemoteCount-style counting set (rule `{rule}`): each image has one caption stating how many "
                     "objects of one category it shows (`count` 1 to 10, `count_category`), the ten candidate "
                     "captions with the count in words (`count_candidates`, index i = count i + 1) and in digits "
                     "(`count_candidates_digits`), plus all its objects and its provenance.",
}

_TEMPLATE = """---
{{ card_data }}
---

# {{ pretty_name }}

{{ "Captioned remote-sensing" if report.captions else "Remote-sensing" }} images made by [rsdata](https://pypi.org/project/rsclip/) {{ report.settings.rsdata_version }}
from the `{{ report.format }}` annotations of {{ source_line }}. {{ rule_sentence }}

```python
from datasets import load_dataset
dataset = load_dataset("path/to/this/folder")  # or the Hub repository it was pushed to
```

{% if examples -%}
## Examples

{% if contact_sheet -%}
![The first {{ sheet_images }} images of split {{ example_split }}, with their object boxes]({{ contact_sheet }})

{% endif -%}
The first {{ examples | length }} images of split `{{ example_split }}`:

{{ examples_table }}
{% endif -%}
## Statistics

| split | images | shards |
|---|---:|---:|
{% for name, split in report.splits.items() -%}
| {{ name }} | {{ split.images }} | {{ split.shards }} |
{% endfor %}
Images: {{ report.images }}. Captions: {{ report.captions }}. Objects: {{ report.objects }}.
{% if report.split_lists %}
The splits were made by the format (no official split); the images of each split are listed, one path relative
to the source per line, in {% for name in report.split_lists %}`{{ name }}`{% if not loop.last %}, {% endif %}{% endfor %}.
{% endif %}
{% for title, table in fact_tables -%}
### {{ title }}

{{ table }}
{% endfor -%}
{% for column, table in count_tables -%}
### Images per `{{ column }}`

{{ table }}
{% endfor -%}
{% if report.objects_per_category -%}
### Objects per category

| category | objects |
|---|---:|
{% for category, count in report.objects_per_category.items() -%}
| {{ category }} | {{ count }} |
{% endfor %}
{% endif -%}
### Images left out, by reason

{% if report.skipped_per_reason -%}
| reason | images |
|---|---:|
{% for reason, count in report.skipped_per_reason.items() -%}
| {{ reason }} | {{ count }} |
{% endfor %}
Every left-out image is listed with its file, line and message in `build_report.json`.
{%- else -%}
None.
{%- endif %}

{% if report.objects_dropped -%}
### Objects left out by the rules

| reason | objects |
|---|---:|
{% for reason, count in report.objects_dropped.items() -%}
| {{ reason }} | {{ count }} |
{% endfor %}
{% endif -%}
### Image bytes

{% if storage_line -%}
{{ storage_line }}

{% endif -%}
{% for encoding, count in report.encodings.items() -%}
- `{{ encoding }}`: {{ count }} image(s){% if encoding == "original" %} (the source file's bytes, untouched){% endif %}
{% endfor %}
## Settings

| setting | value |
|---|---|
{% for key, value in report.settings.items() -%}
| {{ key }} | `{{ value }}` |
{% endfor %}
## Licence

Licence: `{{ license }}`{% if meta.license_note %}: {{ meta.license_note }}{% else %}.{% endif %}
The images keep the licence of their source dataset{% if meta.homepage %} (terms: {{ meta.homepage }}){% endif %}.
{% if meta.citation %}
## Citation

If you use this dataset, cite its source:

```bibtex
{{ meta.citation }}
```
{% endif -%}
"""


def write_dataset_card(report: BuildReport, license: str, meta: DatasetMeta | None = None, *,
                       features=None, split_bytes: Mapping[str, int] | None = None,
                       download_size: int | None = None, examples: Sequence[Mapping[str, Any]] = (),
                       contact_sheet: str | None = None) -> str:
    """Return the card text for ``report``.

    ``meta``: the source dataset's recipe facts; ``features``: the output ``datasets.Features`` (or their card
    form, :func:`rsdata.schema.base_features_yaml`) and
    ``split_bytes``: each split's Arrow size (with ``download_size``, the Parquet files' total) for
    ``dataset_info`` (left out without ``features``); ``examples``: the first rows of the first split, whose
    captions are shown; ``contact_sheet``: the path of their contact sheet relative to the card.
    """
    from huggingface_hub import DatasetCard, DatasetCardData

    meta = meta or DatasetMeta()
    card_data = DatasetCardData(
        language=list(LANGUAGE),
        license=license,
        task_categories=TASK_CATEGORIES_BY_RULE.get(report.caption_rule, TASK_CATEGORIES),
        source_datasets=[report.source_dataset],
        size_categories=[size_category(report.images)],
        pretty_name=f"{meta.title or report.source_dataset} (rsdata, {report.caption_rule})",
        tags=["remote-sensing", "image-text", "clip", "rsdata"],
        configs=[{
            "config_name": "default",
            "data_files": [{"split": split, "path": split_pattern(DATA_DIR, split, report.content_digest)}
                           for split in report.splits],
        }],
    )
    if license == "other":
        # The Hub's fields for a licence outside its list: an id, and where the terms are.
        card_data.license_name = f"{report.source_dataset}-license"
        card_data.license_link = meta.homepage or "README.md"
    if features is not None:
        _add_dataset_info(card_data, report, features, split_bytes or {}, download_size)
    sentence = RULE_SENTENCES.get(report.caption_rule, "Each image has the captions of rule `{rule}`.")
    fact_tables = [(title, markdown_table(rows)) for title, rows in report.source_facts.items() if rows]
    count_tables = [(column, _count_table(column, entries, list(report.splits)))
                    for column, entries in report.value_counts.items()]
    name = f"{meta.title} (`{report.source_dataset}`)" if meta.title else f"**{report.source_dataset}**"
    if meta.title and meta.homepage:
        name = f"[{meta.title}]({meta.homepage}) (`{report.source_dataset}`)"
    shown = list(examples)[:EXAMPLE_ROWS]
    storage_line = ""
    if report.settings.get("image_storage"):  # how the images are stored: resolution and encoding
        profile = report.settings.get("image_profile")
        storage_line = f"Images stored {report.settings['image_storage']}" + (
            f" (image profile `{profile}`)." if profile else ".")
    card = DatasetCard.from_template(card_data, template_str=_TEMPLATE, report=report, license=license, meta=meta,
                                     pretty_name=card_data.pretty_name, source_line=name,
                                     rule_sentence=sentence.format(rule=report.caption_rule),
                                     fact_tables=fact_tables, count_tables=count_tables,
                                     examples=shown, examples_table=_examples_table(shown) if shown else "",
                                     example_split=next(iter(report.splits), ""),
                                     sheet_images=len(examples), contact_sheet=contact_sheet,
                                     storage_line=storage_line)
    return str(card)


def first_rows(output: Path, report: BuildReport, count: int = CONTACT_SHEET_IMAGES, *,
               images: bool = True) -> list[dict]:
    """The first ``count`` rows of the first split of the build in ``output`` (shard order, then row order),
    with the columns the card and the contact sheet show (``images=False``: without the image column)."""
    return list(iter_first_rows(output, report, count, images=images))


def iter_first_rows(output: Path, report: BuildReport, count: int = CONTACT_SHEET_IMAGES, *,
                    images: bool = True) -> Iterator[dict]:
    """:func:`first_rows` one row at a time, read one row group at a time: the contact sheet of a build of large
    images decodes them one by one instead of holding every image's bytes at once."""
    import pyarrow.parquet as pq

    split = next(iter(report.splits), None)
    given = 0
    for filename in report.shards:
        if given >= count:
            return
        match = SHARD_NAME.match(filename.rsplit("/", 1)[-1])
        if match is None or match.group("split") != split:
            continue
        parquet = pq.ParquetFile(Path(output) / filename)
        columns = [c for c in _PREVIEW_COLUMNS if c in parquet.schema_arrow.names and (images or c != "image")]
        for group in range(parquet.num_row_groups):
            batch = parquet.read_row_group(group, columns=columns).slice(0, count - given)
            for index in range(batch.num_rows):
                yield batch.slice(index, 1).to_pylist()[0]
                given += 1
            del batch
            if given >= count:
                return


_PREVIEW_COLUMNS = ("image", "objects", "captions", "source_id", "class_name", "label", "count_category")


def _add_dataset_info(card_data, report: BuildReport, features, split_bytes: Mapping[str, int],
                      download_size: int | None) -> None:
    """``dataset_info`` as ``datasets`` writes and reads it (``DatasetInfosDict.to_dataset_card_data``).
    ``features``: ``datasets.Features``, or already their card form (a list, :func:`rsdata.schema.base_features_yaml`),
    which is written as ``datasets`` would write it without importing it."""
    if isinstance(features, list):
        info = {
            "features": features,
            "splits": [{"name": name, "num_bytes": int(split_bytes.get(name, 0)), "num_examples": split["images"]}
                       for name, split in report.splits.items()],
            "download_size": download_size,
            "dataset_size": sum(int(split_bytes.get(name, 0)) for name in report.splits),
        }
        card_data["dataset_info"] = {key: value for key, value in info.items() if value is not None}
        return
    from datasets import DatasetInfo
    from datasets.info import DatasetInfosDict
    from datasets.splits import SplitDict, SplitInfo

    splits = SplitDict()
    for name, split in report.splits.items():
        splits.add(SplitInfo(name=name, num_bytes=int(split_bytes.get(name, 0)), num_examples=split["images"]))
    info = DatasetInfo(features=features, splits=splits, download_size=download_size,
                       dataset_size=sum(int(split_bytes.get(name, 0)) for name in report.splits))
    DatasetInfosDict({"default": info}).to_dataset_card_data(card_data)


def _examples_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """One line per example row: the image's source id and its captions (or its class, for classification)."""
    def cell(text: Any) -> str:
        return " ".join(str(text).split()).replace("|", "\\|")

    lines = ["| image | captions |", "|---|---|"]
    for row in rows:
        captions = list(row.get("captions") or [])
        shown = "<br>".join(cell(c) for c in captions) if captions else \
            f"class: {cell(row.get('class_name') or row.get('label', ''))}"
        lines.append(f"| `{cell(row.get('source_id', ''))}` | {shown} |")
    return "\n".join(lines) + "\n"


def markdown_table(rows: list[dict]) -> str:
    """A Markdown table of ``rows`` (dicts with the same keys), numbers right-aligned; "|" in cells escaped."""
    columns = list(rows[0])
    numeric = [all(isinstance(row[c], (int, float)) and not isinstance(row[c], bool) for row in rows)
               for c in columns]
    lines = ["| " + " | ".join(columns) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(row[c]).replace("|", "\\|") for c in columns) + " |")
    return "\n".join(lines) + "\n"


def _count_table(column: str, entries: list[dict], splits: list[str]) -> str:
    rows = [{column: entry["value"], **{split: entry["splits"].get(split, 0) for split in splits}}
            for entry in entries]
    return markdown_table(rows)


def size_category(n: int) -> str:
    """The Hub's ``size_categories`` bucket for ``n`` examples."""
    bounds = [(1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"),
              (10_000_000, "1M<n<10M"), (100_000_000, "10M<n<100M"), (1_000_000_000, "100M<n<1B")]
    for bound, name in bounds:
        if n < bound:
            return name
    return "n>1T" if n > 10 ** 12 else "1B<n<10B"
