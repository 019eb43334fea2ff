"""Counting what a build wrote and what it skipped, per shard and in total.

Per-shard statistics are saved next to the output (``.rsdata/shards/*.json``) as soon as a shard is final, so a
resumed build reports the whole run. The total goes to ``build_report.json`` and to the dataset card. Nothing
here depends on timing or on the number of processes: the same inputs give the same report, byte for byte.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Mapping


@dataclass
class SkippedRecord:
    """One source image left out: ``path`` relative to the source root, ``line`` 1-based or None."""

    reason: str
    path: str
    message: str
    line: int | None = None


@dataclass
class ShardStats:
    split: str
    filename: str
    rows: int = 0
    captions: int = 0
    objects: int = 0
    objects_per_category: dict[str, int] = field(default_factory=dict)
    encodings: dict[str, int] = field(default_factory=dict)
    skipped: list[SkippedRecord] = field(default_factory=list)
    objects_dropped: dict[str, int] = field(default_factory=dict)  # reason -> objects a rule left out
    caption_rules: dict[str, int] = field(default_factory=dict)  # caption rule -> rows
    value_counts: dict[str, dict[str, int]] = field(default_factory=dict)  # counted column -> value -> rows
    arrow_bytes: int = 0  # the shard's size as Arrow data once loaded (what datasets records as num_bytes)
    sha256: str = ""  # of the shard file, hashed by the worker that wrote it ("" in state from before it was kept)

    def add_dropped(self, dropped: dict[str, int]) -> None:
        for reason, count in dropped.items():
            self.objects_dropped[reason] = self.objects_dropped.get(reason, 0) + count

    def add_row(self, categories: list[str], n_captions: int, encoding: str, *, rule: str | None = None,
                counted: Mapping[str, str] | None = None) -> None:
        """Count one written row: its objects' categories, captions, image encoding, caption rule and the values
        of the format's counted columns (``counted``: column -> value as shown)."""
        self.rows += 1
        self.captions += n_captions
        self.objects += len(categories)
        for category in categories:
            self.objects_per_category[category] = self.objects_per_category.get(category, 0) + 1
        self.encodings[encoding] = self.encodings.get(encoding, 0) + 1
        if rule is not None:
            self.caption_rules[rule] = self.caption_rules.get(rule, 0) + 1
        for column, value in (counted or {}).items():
            values = self.value_counts.setdefault(column, {})
            values[value] = values.get(value, 0) + 1

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> "ShardStats":
        skipped = [SkippedRecord(**s) for s in data.pop("skipped")]
        return cls(**data, skipped=skipped)


@dataclass
class BuildReport:
    """What a whole build produced. ``settings`` echoes every option that shaped the output.

    ``caption_rule`` is the format's rule; ``caption_rules`` counts the rows of each rule actually written (human
    captions keep rule ``human`` in any format). ``extra_columns`` names the format's own columns;
    ``value_counts`` counts the values of its counted columns per split, as ``{column: [{"value": v, "splits":
    {split: rows}}, ...]}`` in the column's order (class labels in label order, numbers by value, text sorted);
    ``source_facts`` holds the format's tables about the source (e.g. classes and prompt names);
    ``split_lists`` the split list files written when the format made the splits itself.
    """

    source_dataset: str
    format: str
    caption_rule: str
    settings: dict
    splits: dict[str, dict] = field(default_factory=dict)  # split -> {"images": n, "shards": k}
    images: int = 0
    captions: int = 0
    objects: int = 0
    objects_per_category: dict[str, int] = field(default_factory=dict)
    encodings: dict[str, int] = field(default_factory=dict)
    skipped_per_reason: dict[str, int] = field(default_factory=dict)
    skipped: list[SkippedRecord] = field(default_factory=list)
    objects_dropped: dict[str, int] = field(default_factory=dict)
    shards: list[str] = field(default_factory=list)
    caption_rules: dict[str, int] = field(default_factory=dict)
    extra_columns: list[str] = field(default_factory=list)
    value_counts: dict[str, list[dict]] = field(default_factory=dict)
    source_facts: dict[str, list[dict]] = field(default_factory=dict)
    split_lists: list[str] = field(default_factory=list)
    content_digest: str = ""  # the digest in the shard names (rsdata.dataset_files); "" when nothing was written

    @classmethod
    def from_shards(cls, shards: list[ShardStats], value_order: Mapping[str, list[str]] | None = None,
                    **header) -> "BuildReport":
        """Add up the shards' statistics; ``value_order`` gives the value order of counted columns that have one
        (a class label's names)."""
        report = cls(**header)
        per_category: Counter = Counter()
        encodings: Counter = Counter()
        reasons: Counter = Counter()
        dropped: Counter = Counter()
        rules: Counter = Counter()
        values: dict[str, dict[str, dict[str, int]]] = {}
        for shard in shards:
            if shard.rows:  # a shard whose every record was left out has no file
                split = report.splits.setdefault(shard.split, {"images": 0, "shards": 0})
                split["images"] += shard.rows
                split["shards"] += 1
                report.shards.append(shard.filename)
            report.images += shard.rows
            report.captions += shard.captions
            report.objects += shard.objects
            per_category.update(shard.objects_per_category)
            encodings.update(shard.encodings)
            reasons.update(s.reason for s in shard.skipped)
            dropped.update(shard.objects_dropped)
            rules.update(shard.caption_rules)
            for column, counts in shard.value_counts.items():
                for value, n in counts.items():
                    per_split = values.setdefault(column, {}).setdefault(value, {})
                    per_split[shard.split] = per_split.get(shard.split, 0) + n
            report.skipped.extend(shard.skipped)
        report.caption_rules = dict(sorted(rules.items()))
        report.value_counts = {column: [{"value": value, "splits": counts[value]}
                                        for value in _ordered(counts, (value_order or {}).get(column))]
                               for column, counts in sorted(values.items())}
        report.objects_per_category = dict(sorted(per_category.items()))
        report.encodings = dict(sorted(encodings.items()))
        report.skipped_per_reason = dict(sorted(reasons.items()))
        report.objects_dropped = dict(sorted(dropped.items()))
        return report

    @property
    def skipped_total(self) -> int:
        return len(self.skipped)

    def to_json(self) -> dict:
        return asdict(self)


def _ordered(counts: Mapping[str, object], order: list[str] | None) -> list[str]:
    """The values of ``counts`` in ``order`` (values it lacks last, sorted), by number when all are integers,
    else sorted as text."""
    if order is not None:
        rank = {value: i for i, value in enumerate(order)}
        return sorted(counts, key=lambda v: (rank.get(v, len(rank)), v))
    if all(v.lstrip("-").isdigit() for v in counts):
        return sorted(counts, key=int)
    return sorted(counts)
