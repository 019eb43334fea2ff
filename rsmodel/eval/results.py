"""Results files: one JSON per (model, task, dataset), and a summary table over them.

Layout of an output folder (``rsmodel eval --output``; by default ``MODEL/eval`` for a model folder, so that
``rsmodel publish`` finds the results beside the weights, and ``eval-results/<user>--<name>`` for a Hub id)::

    OUT/<dataset>/<task>.json     one result (format below)
    OUT/<dataset>/<task>-<plot>.png   its plots (rsmodel.eval.plots)
    OUT/summary.md                the summary table (markdown), also printed, then links to the plots in OUT
    OUT/summary.json              {"rows": [{"dataset": ..., "<metric>": value, ...}], "averages": {...}}

A result file (``format: rsclip-eval/1``; keys sorted, so equal runs give equal bytes)::

    {"format": "rsclip-eval/1", "task": "zero_shot", "task_title": ..., "main_metric": "zero_shot/top1",
     "metrics": {"zero_shot/top1": 91.3, ...},          # flat, stable names "<task>/<metric>", percent
     "details": {...},                                   # confusion matrices, trials, per-class recall...
     "model": {"source", "revision", "commit", "digest"},
     "dataset": {"name", "title", "kind", "source", "revision", "commit", "splits", "rows", "fingerprints"},
     "settings": {...}, "inference": {...}, "seed": 0,
     "image_preprocessing": {"test": {"implementation", "size", "crop_size", "mean", "std", "fit", ...}},
     "reference": {"zero_shot/top1": {"RemoteCLIP ViT-B/32": 91.3, ...}},   # the paper's numbers (suite)
     "suite": {"name", "title", "citation", "datasets" (in suite order), "reference_models",
               "averages": [{metric, datasets, reference}]},
     "rsclip_version": "..."}
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from rsdata.atomic import write_json_atomic, write_text_atomic

RESULT_FORMAT = "rsclip-eval/1"


def result_path(output: Path, dataset: str, task: str) -> Path:
    return Path(output) / dataset / f"{task}.json"


def write_json(path: Path, payload: Any) -> None:
    write_json_atomic(path, payload)


def write_text(path: Path, text: str) -> None:
    write_text_atomic(path, text)


def read_results(output: Path) -> list[dict]:
    """Every result file in ``output`` (``<dataset>/<task>.json`` with the rsclip-eval format), sorted by path."""
    results = []
    for path in sorted(Path(output).glob("*/*.json")):
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("format") == RESULT_FORMAT:
            results.append(record)
    return results


def format_value(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def summary_rows(results: Iterable[dict], dataset_order: Sequence[str] = ()) -> tuple[list[str], list[dict]]:
    """``(metric columns, rows)``: one row per dataset with the main metric of each task evaluated on it."""
    from rsmodel.eval.registry import list_tasks

    order = {task.name: i for i, task in enumerate(list_tasks())}
    rows: dict[str, dict] = {}
    columns: dict[str, int] = {}
    for record in results:
        name = record["dataset"]["name"]
        row = rows.setdefault(name, {"dataset": name, "title": record["dataset"].get("title", name)})
        metric = record["main_metric"]
        if metric in record["metrics"]:
            row[metric] = record["metrics"][metric]
            columns[metric] = order.get(record["task"], len(order))
    position = {name: i for i, name in enumerate(dataset_order)}
    ordered = sorted(rows.values(), key=lambda r: (position.get(r["dataset"], len(position)), r["dataset"]))
    return sorted(columns, key=lambda m: (columns[m], m)), ordered


def averages(results: Sequence[dict]) -> list[dict]:
    """The suite's averages (from the results' suite section) that every listed dataset has a value for."""
    values = {(r["dataset"]["name"], metric): value for r in results for metric, value in r["metrics"].items()}
    seen, found = set(), []
    for record in results:
        for average in record.get("suite", {}).get("averages", []):
            if average["metric"] in seen:
                continue
            seen.add(average["metric"])
            mine = [values.get((name, average["metric"])) for name in average["datasets"]]
            if mine and all(v is not None for v in mine):
                found.append({"metric": average["metric"], "datasets": list(average["datasets"]),
                              "value": sum(mine) / len(mine), "reference": dict(average.get("reference", {}))})
    return found


def summary_markdown(results: Sequence[dict], dataset_order: Sequence[str] = ()) -> str:
    columns, rows = summary_rows(results, dataset_order)
    lines = ["| dataset | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for row in rows:
        lines.append(f"| {row['title']} | " + " | ".join(format_value(row.get(m)) for m in columns) + " |")
    for average in averages(results):
        cells = [format_value(average["value"]) if m == average["metric"] else "" for m in columns]
        lines.append(f"| average ({len(average['datasets'])} sets) | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_summary(output: Path, dataset_order: Sequence[str] = (),
                  skipped: Mapping[str, str] | None = None) -> str:
    """Write ``summary.md`` and ``summary.json`` over every result in ``output``; return the markdown table.

    ``skipped`` (this run's skips, ``DATASET`` or ``DATASET/TASK`` -> reason) is listed under the table and kept
    in ``summary.json`` as ``"skipped"``; without skips both files are as before. The plot files of the results
    that exist in ``output`` are linked under the table (and listed in ``summary.json`` as ``"plots"``)."""
    from rsmodel.eval.plots import plot_links

    results = read_results(output)
    table = summary_markdown(results, dataset_order)
    columns, rows = summary_rows(results, dataset_order)
    summary = {"columns": columns, "rows": rows, "averages": averages(results)}
    if skipped:
        table += "\nSkipped:\n\n" + "".join(f"- {key}: {reason}\n" for key, reason in skipped.items())
        summary["skipped"] = dict(skipped)
    links = plot_links(results, output)
    if links:
        table += "\nPlots:\n\n" + "".join(f"- [{label}]({path})\n" for label, path in links)
        summary["plots"] = [path for _, path in links]
    write_text(Path(output) / "summary.md", table)
    write_json(Path(output) / "summary.json", summary)
    return table
