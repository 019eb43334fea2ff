"""Models side by side, as the RemoteCLIP paper tabulates them: ``rsmodel compare RESULT_DIR... [--paper]``.

Each RESULT_DIR is an ``rsmodel eval`` output folder (``<dataset>/<task>.json`` files), or a model folder whose
``eval/`` holds them; ``NAME=DIR`` names the model (default: the model folder's name). The tables:

- **Table II, retrieval**: one row per (test set, model), columns image->text R@1/5/10, text->image R@1/5/10 and
  mean recall;
- **Table III, zero-shot**: one row per model, one column per classification set (top-1), and the average;
- **Table IV, linear probe and k-NN**: the same layout, top-1 of each protocol.

Columns follow the suite's dataset order. An average is shown where the suite defines one (its metric and
datasets) and the model has every one of its datasets. With ``paper`` (an :class:`~rsmodel.eval.suite.EvalSuite`,
by default ``recipes/eval/remoteclip.yaml``, where the paper's numbers live) its reference numbers are extra rows
named ``<model> (paper)``, and its datasets extra columns. A table none of the models has a result for is left
out unless the paper's rows fill it.

:func:`write_comparison` writes ``compare.md``, ``compare.json`` and one grouped bar chart per table
(``compare-retrieval.png``: mean recall; ``compare-zero_shot.png``, ``compare-linear_probe.png``,
``compare-knn.png``: top-1 per dataset) when matplotlib is installed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from rsmodel.errors import OptionError

RETRIEVAL_METRICS = ("retrieval/i2t_r@1", "retrieval/i2t_r@5", "retrieval/i2t_r@10", "retrieval/t2i_r@1",
                     "retrieval/t2i_r@5", "retrieval/t2i_r@10", "retrieval/mean_recall")
RETRIEVAL_HEADERS = ("I2T R@1", "I2T R@5", "I2T R@10", "T2I R@1", "T2I R@5", "T2I R@10", "mean recall")
#: (key, title, metric) of the tables laid out as models x datasets.
DATASET_TABLES = (("zero_shot", "Table III: zero-shot top-1 accuracy (%)", "zero_shot/top1"),
                  ("linear_probe", "Table IV: linear probe top-1 accuracy (%)", "linear_probe/top1"),
                  ("knn", "Table IV: k-NN top-1 accuracy (%)", "knn/top1"))
PAPER_SUFFIX = " (paper)"


@dataclass
class ModelResults:
    name: str
    folder: Path
    values: dict[tuple[str, str], float]  # (dataset, metric) -> value
    titles: dict[str, str]  # dataset -> title
    order: list[str]  # the suite's dataset order, as the results carry it
    averages: list[dict]  # the suite's averages, as the results carry them
    reference: str | None = None  # for the paper's rows: the reference model's name in the suite

    @property
    def paper(self) -> bool:
        return self.reference is not None


@dataclass
class Table:
    key: str
    title: str
    headers: list[str]
    rows: list[list[str]]  # cells, formatted
    plot_series: dict[str, dict[str, float]] = field(default_factory=dict)  # model -> label -> value

    def markdown(self) -> str:
        lines = [f"### {self.title}", "", "| " + " | ".join(self.headers) + " |",
                 "|" + "---|" * len(self.headers)]
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        return "\n".join(lines) + "\n"


@dataclass
class Comparison:
    models: list[ModelResults]
    tables: list[Table]
    paper_suite: str | None = None

    def markdown(self) -> str:
        names = ", ".join(f"{m.name} ({m.folder})" for m in self.models if not m.paper)
        head = f"## Comparison: {names}\n\nAll numbers are percentages."
        if self.paper_suite:
            head += f" Rows marked (paper) are the paper's numbers, from the suite {self.paper_suite}."
        return head + "\n\n" + "\n".join(table.markdown() for table in self.tables)


def results_folder(path: Path) -> Path:
    """``path`` when it holds result files, else ``path/eval`` (a model folder); refuses a folder with neither."""
    from rsmodel.eval.results import read_results

    if read_results(path):
        return path
    if read_results(path / "eval"):
        return path / "eval"
    raise OptionError(f"{path}: no rsmodel eval results (<dataset>/<task>.json) there or in {path / 'eval'}; give "
                      "the --output folder of rsmodel eval, or a model folder that it evaluated")


def load_model_results(spec: str) -> ModelResults:
    """Read ``DIR`` or ``NAME=DIR`` (see the module docstring)."""
    from rsmodel.eval.results import read_results

    name, sep, folder = spec.partition("=")
    if not sep or not name or Path(spec).exists():
        name, folder = "", spec
    folder_path = results_folder(Path(folder))
    if not name:
        name = (folder_path.parent if folder_path.name == "eval" else folder_path).resolve().name
    results = read_results(folder_path)
    suite = next((r["suite"] for r in results if r.get("suite")), {})
    return ModelResults(
        name=name, folder=folder_path,
        values={(r["dataset"]["name"], metric): value for r in results for metric, value in r["metrics"].items()},
        titles={r["dataset"]["name"]: r["dataset"].get("title") or r["dataset"]["name"] for r in results},
        order=list(suite.get("datasets", [])), averages=list(suite.get("averages", [])))


def paper_models(suite) -> list[ModelResults]:
    """The suite's reference numbers as one :class:`ModelResults` per reference model, in its listed order."""
    order = list(suite.reference_models)
    found = {model for entry in suite.datasets.values() for values in entry.reference.values() for model in values}
    found |= {model for average in suite.averages for model in average.reference}
    names = [m for m in order if m in found] + sorted(found - set(order))
    averages = [{"metric": a.metric, "datasets": list(a.datasets), "reference": dict(a.reference)}
                for a in suite.averages]
    models = []
    for model in names:
        values = {(dataset, metric): per_model[model] for dataset, entry in suite.datasets.items()
                  for metric, per_model in entry.reference.items() if model in per_model}
        name = model if model.endswith(PAPER_SUFFIX) else model + PAPER_SUFFIX  # "previous best (paper)"
        models.append(ModelResults(name=name, folder=Path(str(suite.path)), values=values,
                                   titles={name: entry.title for name, entry in suite.datasets.items()},
                                   order=list(suite.datasets), averages=averages, reference=model))
    return models


def _average(model: ModelResults, metric: str, datasets: Sequence[str]) -> float | None:
    """The model's average of ``metric``: the paper's number for a paper row, else the mean when it has every
    dataset of the suite's average."""
    for average in model.averages:
        if average["metric"] != metric:
            continue
        if model.paper:
            return average["reference"].get(model.reference)
        mine = [model.values.get((name, metric)) for name in average["datasets"]]
        if mine and all(v is not None for v in mine):
            return sum(mine) / len(mine)
    return None


def _cell(value: float | None) -> str:
    return "" if value is None else f"{value:.2f}"


def compare(specs: Sequence[str], paper=None) -> Comparison:
    """Read the result folders ``specs`` and build the tables; ``paper``: a suite whose numbers are added."""
    if not specs:
        raise OptionError("give at least one RESULT_DIR")
    runs = [load_model_results(spec) for spec in specs]
    seen: dict[str, int] = {}
    for run in runs:  # two folders of one name: tell them apart by their path
        seen[run.name] = seen.get(run.name, 0) + 1
    for run in runs:
        if seen[run.name] > 1:
            run.name = str(run.folder)
    papers = paper_models(paper) if paper is not None else []
    models = runs + papers
    order: list[str] = []
    for model in runs + papers:
        order += [name for name in model.order if name not in order]
    titles: dict[str, str] = {}
    for model in reversed(models):
        titles.update(model.titles)
    for model in models:  # datasets a suite does not list go last, by name
        order += sorted({d for d, _ in model.values} - set(order))

    tables = []
    retrieval_sets = [d for d in order if any((d, "retrieval/mean_recall") in m.values for m in models)]
    if retrieval_sets:
        table = Table("retrieval", "Table II: image-text retrieval recall (%)",
                      ["Test set", "Model", *RETRIEVAL_HEADERS], [])
        for dataset in retrieval_sets:
            for model in models:
                if any((dataset, metric) in model.values for metric in RETRIEVAL_METRICS):
                    table.rows.append([titles.get(dataset, dataset), model.name] +
                                      [_cell(model.values.get((dataset, m))) for m in RETRIEVAL_METRICS])
                    if (dataset, "retrieval/mean_recall") in model.values:
                        table.plot_series.setdefault(model.name, {})[titles.get(dataset, dataset)] = \
                            model.values[(dataset, "retrieval/mean_recall")]
        tables.append(table)
    for key, title, metric in DATASET_TABLES:
        # the paper gives some numbers as averages only (linear probe, k-NN): its columns are then the average's
        averaged = {d for m in papers for a in m.averages if a["metric"] == metric and a["reference"]
                    for d in a["datasets"]}
        datasets = [d for d in order if d in averaged or any((d, metric) in m.values for m in models)]
        if not datasets or (not papers and not any((d, metric) in run.values for run in runs for d in datasets)):
            continue
        averages = {model.name: _average(model, metric, datasets) for model in models}
        show_average = any(v is not None for v in averages.values())
        table = Table(key, title, ["Model", *(titles.get(d, d) for d in datasets)] +
                      (["average"] if show_average else []), [])
        for model in models:
            cells = [_cell(model.values.get((d, metric))) for d in datasets]
            if model.paper and not any(cells) and averages[model.name] is None:
                continue  # a reference model the paper gives no number of in this table
            table.rows.append([model.name, *cells] + ([_cell(averages[model.name])] if show_average else []))
            series = {titles.get(d, d): model.values[(d, metric)] for d in datasets if (d, metric) in model.values}
            if series:
                table.plot_series[model.name] = series
        tables.append(table)
    return Comparison(runs + papers, tables, str(paper.path) if paper is not None else None)


def write_comparison(comparison: Comparison, out: str | Path) -> list[Path]:
    """Write ``compare.md``, ``compare.json`` and the plots (when matplotlib is installed) to ``out``."""
    from rsdata.atomic import write_json_atomic, write_text_atomic
    from rsmodel.eval.plots import matplotlib_available

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "compare.md", out / "compare.json"]
    write_text_atomic(written[0], comparison.markdown())
    write_json_atomic(written[1], {
        "models": [{"name": m.name, "folder": str(m.folder), "paper": m.paper} for m in comparison.models],
        "tables": [{"key": t.key, "title": t.title, "headers": t.headers, "rows": t.rows} for t in comparison.tables],
        "paper_suite": comparison.paper_suite})
    if matplotlib_available():
        for table in comparison.tables:
            if table.plot_series:
                written.append(_bar_chart(table, out / f"compare-{table.key}.png"))
    return written


def _bar_chart(table: Table, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    labels: list[str] = []
    for series in table.plot_series.values():
        labels += [label for label in series if label not in labels]
    models = list(table.plot_series)
    width = 0.8 / len(models)
    figure, axis = plt.subplots(figsize=(max(6.0, 0.9 * len(labels) * max(1, len(models)) ** 0.5 + 2), 4.5))
    for index, model in enumerate(models):
        series = table.plot_series[model]
        positions = [i - 0.4 + width * (index + 0.5) for i, label in enumerate(labels) if label in series]
        axis.bar(positions, [series[label] for label in labels if label in series], width, label=model,
                 hatch="//" if model.endswith(PAPER_SUFFIX) else None)
    axis.set_xticks(range(len(labels)), labels, rotation=30 if len(labels) > 4 else 0, ha="right"
                    if len(labels) > 4 else "center")
    axis.set_ylabel("mean recall (%)" if table.key == "retrieval" else "top-1 accuracy (%)")
    axis.set_ylim(0, 103)
    axis.grid(axis="y", alpha=0.3)
    axis.legend(fontsize=7, ncol=2 if len(models) > 4 else 1)
    axis.set_title(table.title)
    figure.tight_layout()
    temporary = path.with_name(f".{path.name}.tmp")
    try:
        figure.savefig(temporary, format="png", dpi=100, metadata={"Software": None})
        temporary.replace(path)
    finally:
        plt.close(figure)
    return path
