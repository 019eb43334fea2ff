"""Plots of evaluation results: PNG files beside the result JSON, drawn with matplotlib (Agg backend, imported
only when a plot is drawn).

``OUT/<dataset>/<task>-<plot>.png``, one file per plot a result has data for (file names are fixed, so the
summary, model cards and ``rsmodel compare`` find them):

- ``counting-confusion.png``: true count x predicted count (and the digits candidates beside, when evaluated);
- ``counting-topk.png``: top-k accuracy for k = 1..10 (words, digits);
- ``zero_shot-per-class.png``, ``linear_probe-per-class.png``, ``knn-per-class.png``: per-class recall on test
  (the accuracy of each class), one bar per class, with the top-1 accuracy marked;
- ``few_shot-curve.png``: top-1 against shots per class, mean with a band of +-1 std and each run's point;
- ``retrieval-recall.png``: image->text and text->image recall at each k.

:func:`plot_names` says which files a result has (no matplotlib needed); :func:`write_plots` draws them.
A task that did not run has no result, hence no plot. Drawing is deterministic: the same result gives the same
bytes with the same matplotlib version.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Sequence

from rsmodel.errors import RsmodelError

INSTALL_HINT = "pip install 'matplotlib>=3.7' (or rsclip[model])"
DPI = 100


def plot_names(record: dict) -> list[str]:
    """The plot files of ``record`` (paths relative to the results folder: ``<dataset>/<task>-<plot>.png``)."""
    dataset = record["dataset"]["name"]
    return [f"{dataset}/{record['task']}-{name}.png" for name, (applies, _) in _PLOTS.get(record["task"], {}).items()
            if applies(record)]


def matplotlib_available() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def write_plots(record: dict, output: str | Path) -> list[Path]:
    """Draw every plot of ``record`` into ``output`` (the results folder); returns the files written."""
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        import matplotlib.pyplot as plt
    except ImportError:
        raise RsmodelError(f"plots need matplotlib: {INSTALL_HINT}") from None
    written = []
    for name, (applies, draw) in _PLOTS.get(record["task"], {}).items():
        if not applies(record):
            continue
        path = Path(output) / record["dataset"]["name"] / f"{record['task']}-{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        figure = draw(plt, record)
        try:
            temporary = path.with_name(f".{path.name}.tmp")
            # no Software/date metadata: the same result gives the same bytes
            figure.savefig(temporary, format="png", dpi=DPI, metadata={"Software": None})
            temporary.replace(path)
        finally:
            plt.close(figure)
        written.append(path)
    return written


def _title(record: dict, what: str) -> str:
    return f"{record['dataset'].get('title') or record['dataset']['name']}: {what}"


def _confusion(plt, record: dict):
    details = record["details"]
    panels = [(key, label) for key, label in (("confusion_matrix", "count words"),
                                              ("digits_confusion_matrix", "count digits")) if key in details]
    figure, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 4.6), squeeze=False)
    for axis, (key, label) in zip(axes[0], panels):
        matrix = details[key]
        size = len(matrix)
        image = axis.imshow(matrix, cmap="Blues")
        peak = max((max(row) for row in matrix), default=0)
        for i, row in enumerate(matrix):
            for j, value in enumerate(row):
                if value:
                    axis.text(j, i, str(value), ha="center", va="center", fontsize=8,
                              color="white" if value > peak / 2 else "black")
        axis.set_xticks(range(size), [str(k + 1) for k in range(size)])
        axis.set_yticks(range(size), [str(k + 1) for k in range(size)])
        axis.set_xlabel("predicted count")
        axis.set_ylabel("true count")
        axis.set_title(label)
        figure.colorbar(image, ax=axis, fraction=0.046, pad=0.04)
    figure.suptitle(_title(record, "counting confusion matrix"))
    figure.tight_layout()
    return figure


def _topk_series(record: dict) -> list[tuple[str, list[int], list[float]]]:
    metrics, series = record["metrics"], []
    for prefix, label in (("counting/top", "words"), ("counting/digits_top", "digits")):
        ks = sorted(int(name[len(prefix):]) for name in metrics
                    if name.startswith(prefix) and name[len(prefix):].isdigit())
        if ks:
            series.append((label, ks, [metrics[f"{prefix}{k}"] for k in ks]))
    return series


def _topk(plt, record: dict):
    figure, axis = plt.subplots(figsize=(6, 4))
    for label, ks, values in _topk_series(record):
        axis.plot(ks, values, marker="o", label=label)
    axis.set_xticks(range(1, 11))
    axis.set_xlabel("k")
    axis.set_ylabel("top-k accuracy (%)")
    axis.set_ylim(0, 103)
    axis.grid(alpha=0.3)
    axis.legend()
    axis.set_title(_title(record, "counting top-k accuracy"))
    figure.tight_layout()
    return figure


def _per_class(plt, record: dict):
    recall = record["details"]["per_class_recall"]
    names = list(recall)
    figure, axis = plt.subplots(figsize=(7, max(2.5, 0.28 * len(names) + 1.2)))
    axis.barh(range(len(names)), [recall[n] for n in names], color="#4363d8")
    axis.set_yticks(range(len(names)), names, fontsize=8 if len(names) > 20 else 10)
    axis.invert_yaxis()
    axis.set_xlim(0, 103)
    axis.set_xlabel("recall on test (%)")
    main = record["metrics"].get(record["main_metric"])
    if main is not None:
        axis.axvline(main, color="#e6194b", linestyle="--", label=f"{record['main_metric']} {main:.2f}")
        axis.legend(loc="lower right", fontsize=8)
    axis.set_title(_title(record, f"{record.get('task_title', record['task'])}, per class"))
    figure.tight_layout()
    return figure


def _few_shot(plt, record: dict):
    runs = {int(k): v for k, v in record["details"]["runs"].items()}
    shots = sorted(runs)
    means = [record["metrics"][f"few_shot/top1_{k}shot_mean"] for k in shots]
    stds = [record["metrics"].get(f"few_shot/top1_{k}shot_std", 0.0) for k in shots]
    figure, axis = plt.subplots(figsize=(6, 4))
    axis.fill_between(shots, [m - s for m, s in zip(means, stds)], [m + s for m, s in zip(means, stds)],
                      alpha=0.2, color="#4363d8", label="mean +- std")
    axis.plot(shots, means, marker="o", color="#4363d8", label="mean top-1")
    for k in shots:
        axis.scatter([k] * len(runs[k]), runs[k], s=10, color="#808080", zorder=3)
    axis.set_xscale("log", base=2)
    axis.set_xticks(shots, [str(k) for k in shots])
    axis.set_xlabel("shots per class")
    axis.set_ylabel("top-1 accuracy (%)")
    axis.set_ylim(0, 103)
    axis.grid(alpha=0.3)
    axis.legend(loc="lower right")
    axis.set_title(_title(record, "few-shot"))
    figure.tight_layout()
    return figure


def _recall_series(metrics: dict) -> tuple[list[int], dict[str, list[float]]]:
    ks = sorted({int(name.split("@")[1]) for name in metrics if name.startswith("retrieval/i2t_r@")})
    return ks, {label: [metrics.get(f"retrieval/{d}_r@{k}", 0.0) for k in ks]
                for d, label in (("i2t", "image -> text"), ("t2i", "text -> image"))}


def _retrieval(plt, record: dict):
    ks, series = _recall_series(record["metrics"])
    figure, axis = plt.subplots(figsize=(6, 4))
    width = 0.38
    for offset, (label, values) in zip((-width / 2, width / 2), series.items()):
        bars = axis.bar([i + offset for i in range(len(ks))], values, width, label=label)
        axis.bar_label(bars, fmt="%.1f", fontsize=8)
    axis.set_xticks(range(len(ks)), [f"R@{k}" for k in ks])
    axis.set_ylabel("recall (%)")
    axis.set_ylim(0, 105)
    mean = record["metrics"].get("retrieval/mean_recall")
    if mean is not None:
        axis.axhline(mean, color="#e6194b", linestyle="--", label=f"mean recall {mean:.2f}")
    axis.legend(loc="upper left", fontsize=8)
    axis.set_title(_title(record, "retrieval recall at k"))
    figure.tight_layout()
    return figure


def _has_detail(key: str) -> Callable[[dict], bool]:
    return lambda record: bool(record.get("details", {}).get(key))


_PER_CLASS = {"per-class": (_has_detail("per_class_recall"), _per_class)}
#: task -> plot name -> (does the result have the data, draw(pyplot, record) -> figure); in file-name order.
_PLOTS: dict[str, dict[str, tuple[Callable[[dict], bool], Callable]]] = {
    "counting": {"confusion": (_has_detail("confusion_matrix"), _confusion),
                 "topk": (lambda r: bool(_topk_series(r)), _topk)},
    "zero_shot": _PER_CLASS,
    "linear_probe": _PER_CLASS,
    "knn": _PER_CLASS,
    "few_shot": {"curve": (_has_detail("runs"), _few_shot)},
    "retrieval": {"recall": (lambda r: bool(_recall_series(r["metrics"])[0]), _retrieval)},
}


def plot_links(results: Sequence[dict], output: str | Path) -> list[tuple[str, str]]:
    """``(label, relative path)`` of every plot file of ``results`` that exists in ``output``."""
    links = []
    for record in results:
        for name in plot_names(record):
            if (Path(output) / name).is_file():
                what = name.rsplit("/", 1)[1][:-len(".png")]
                links.append((f"{record['dataset'].get('title') or record['dataset']['name']}: {what}", name))
    return links
