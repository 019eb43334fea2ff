"""The dataset card (``README.md``) of a build, made with huggingface_hub's card classes.

The YAML header carries what the Hub and ``datasets.load_dataset`` read: ``configs`` with ``data_files`` per
split, licence, task categories (by caption rule: captioned data, a classification set, a counting set), source
datasets, size category and tags. The body says what the captions are (by caption rule), states the statistics
(images, captions, objects per category, skips by reason, the values of the format's counted columns per split),
the format's tables about the source (e.g. classes and their prompt names), the split lists when the format made
the splits, and the settings, so the card alone says how the data were made. It contains nothing that varies
between identical runs.
"""

from __future__ import annotations

from rsdata.dataset_files import DATA_DIR, split_pattern
from rsdata.records import HUMAN_RULE, NO_CAPTION_RULE
from rsdata.report import BuildReport

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
from the `{{ report.format }}` annotations of **{{ report.source_dataset }}**. {{ rule_sentence }}

```python
from datasets import load_dataset
dataset = load_dataset("path/to/this/folder")  # or the Hub repository it was pushed to
```

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

{% for encoding, count in report.encodings.items() -%}
- `{{ encoding }}`: {{ count }} image(s){% if encoding == "original" %} (the source file's bytes, untouched){% endif %}
{% endfor %}
## Settings

| setting | value |
|---|---|
{% for key, value in report.settings.items() -%}
| {{ key }} | `{{ value }}` |
{% endfor %}
Licence: `{{ license }}`; the images keep the licence of their source dataset.
"""


def write_dataset_card(report: BuildReport, license: str) -> str:
    """Return the card text for ``report``."""
    from huggingface_hub import DatasetCard, DatasetCardData

    card_data = DatasetCardData(
        license=license,
        task_categories=TASK_CATEGORIES_BY_RULE.get(report.caption_rule, TASK_CATEGORIES),
        source_datasets=[report.source_dataset],
        size_categories=[size_category(report.images)],
        pretty_name=f"{report.source_dataset} (rsdata, {report.caption_rule})",
        tags=["remote-sensing", "image-text", "clip", "rsdata"],
        configs=[{
            "config_name": "default",
            "data_files": [{"split": split, "path": split_pattern(DATA_DIR, split, report.content_digest)}
                           for split in report.splits],
        }],
    )
    sentence = RULE_SENTENCES.get(report.caption_rule, "Each image has the captions of rule `{rule}`.")
    fact_tables = [(title, markdown_table(rows)) for title, rows in report.source_facts.items() if rows]
    count_tables = [(column, _count_table(column, entries, list(report.splits)))
                    for column, entries in report.value_counts.items()]
    card = DatasetCard.from_template(card_data, template_str=_TEMPLATE, report=report, license=license,
                                     pretty_name=card_data.pretty_name,
                                     rule_sentence=sentence.format(rule=report.caption_rule),
                                     fact_tables=fact_tables, count_tables=count_tables)
    return str(card)


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
