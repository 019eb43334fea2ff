"""Benchmark model cards: a ``README.md`` made with huggingface_hub's card classes from a model's evaluation
results (``rsmodel eval`` result files) and, for a training run, its ``rsmodel_train.json``.

The card's metadata (``ModelCardData``) carries ``model-index`` eval results (``EvalResult``) for each (task,
dataset) result: its task's card metrics (the registry's ``card_metrics``), those with reference numbers, and its
main metric, each with:

- ``task_type``: the task's Hub task id (zero-shot-image-classification, image-classification,
  image-feature-extraction for retrieval); ``task_name``: its title, except that linear probe, k-NN and few-shot,
  which model-index files under one (task type, dataset) group, share the name "Image classification on frozen
  features (linear probe, k-NN, few-shot)";
- ``dataset_type``: the Hub dataset id the result was computed on, or the suite's dataset name for a local folder;
  ``dataset_name``: its title; ``dataset_split`` and ``dataset_revision`` (the resolved commit when from the Hub);
- ``metric_type``: ``accuracy`` (top-k) or ``recall``; ``metric_config``: the flat rsclip metric name
  (``zero_shot/top1``), which is how a reader maps an entry back; ``metric_name``: the same;
  ``metric_value``: the percentage rounded to 2 decimals; ``metric_args``: ``{"suite": <suite name>}``.

Also ``base_model`` (the Hub model a run started from), ``datasets`` (the Hub datasets it trained on),
``library_name: transformers``, ``pipeline_tag: zero-shot-image-classification``. The text has a usage snippet,
a table of this model's numbers beside the paper's reference numbers (from the suite, carried in each result
file), the suite's averages where every dataset of an average was evaluated, the training data, seed and
arguments, and the citation.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Sequence

from rsmodel.errors import PublishError

CARD_TAGS = ("clip", "remote-sensing", "rsclip", "zero-shot-image-classification")
_REPO = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# TrainingArguments worth showing in the card (the whole record is uploaded as rsmodel_train.json).
TRAINING_ARGUMENTS = ("learning_rate", "lr_scheduler_type", "warmup_steps", "warmup_ratio", "weight_decay",
                      "adam_beta1", "adam_beta2", "adam_epsilon", "max_steps", "num_train_epochs",
                      "per_device_train_batch_size", "gradient_accumulation_steps", "bf16", "fp16", "seed")

TEMPLATE = """---
{{ card_data }}
---

# {{ model_name }}

{{ description }}

## Use

```python
from transformers import CLIPModel, CLIPProcessor, pipeline

model = CLIPModel.from_pretrained("{{ repo_id }}")
processor = CLIPProcessor.from_pretrained("{{ repo_id }}")
classify = pipeline("zero-shot-image-classification", model="{{ repo_id }}")
classify("scene.jpg", candidate_labels=["airport", "storage tanks", "dense residential"],
         hypothesis_template="a satellite photo of {}.")
```
{% if results_table %}
## Evaluation

{{ suite_title }}, evaluated with `rsmodel eval` (protocols: zero-shot with the template "a satellite photo of
{class name}.", linear probe, k-NN with k = 20 and T = 0.07, few-shot, retrieval recall, counting; each protocol
is stated exactly in the rsclip source, `rsmodel/eval/`). All numbers are percentages. The reference columns are
the numbers reported in the paper.

{{ results_table }}

"Test images" is the number of test images each result was computed on, beside the number behind the paper's
numbers; a result on another number of images is not comparable with the paper's.
{% if differing %}
> **Not comparable with the paper:** the results on {{ differing | join(", ") }} were computed on another number
> of test images than the paper's (see the "Test images" column).
{% endif %}
{% if averages_table %}
Averages over the datasets of the paper's tables:

{{ averages_table }}
{% endif %}
Result files with every metric and the settings used are in `eval/` in this repository.
{% if plots %}
### Plots

{% for plot in plots -%}
![{{ plot }}]({{ plot }})

{% endfor -%}
{% endif %}
{% endif %}
{% if training %}
## Training

{{ training }}
{% endif %}
{% if citation %}
## Citation

The evaluation protocols and reference numbers are those of:

```bibtex
{{ citation }}
```
{% endif %}
"""


def _metric_type(metric: str) -> str:
    return "accuracy" if "/top" in metric or "_top" in metric or "shot" in metric else "recall"


def _value(value: float) -> float:
    return round(float(value), 2)


def _dataset_type(record: dict) -> str:
    dataset = record["dataset"]
    return dataset["source"] if dataset.get("commit") else dataset["name"]


def _test_split(record: dict) -> str | None:
    splits = record["dataset"].get("splits", {})
    return splits.get("test") or next(iter(splits.values()), None)


def eval_results(results: Sequence[dict], suite_name: str | None = None):
    """``EvalResult`` entries for the card metrics of ``results`` (see the module docstring)."""
    from huggingface_hub import EvalResult

    from rsmodel.eval.registry import get_task

    entries = []
    for record in _ordered(results):
        task = get_task(record["task"])
        suite = suite_name or record.get("suite", {}).get("name", "")
        for metric in _shown_metrics(record, task):
            entries.append(EvalResult(
                task_type=task.hub_task_type, task_name=_hub_task_name(task), dataset_type=_dataset_type(record),
                dataset_name=record["dataset"].get("title") or record["dataset"]["name"],
                dataset_split=_test_split(record), dataset_revision=record["dataset"].get("commit"),
                metric_type=_metric_type(metric), metric_name=metric, metric_config=metric,
                metric_value=_value(record["metrics"][metric]), metric_args=_metric_args(record, suite)))
    return entries


def _metric_args(record: dict, suite: str) -> dict | None:
    """The suite, and the test images used beside the paper's (model-index has no field of its own for them)."""
    used, paper = test_images(record)
    args = {"suite": suite} if suite else {}
    if used is not None:
        args["test_images"] = used
    if paper is not None:
        args["reference_test_images"] = paper
    return args or None


def _hub_task_name(task) -> str:
    # model-index groups entries by (task type, dataset): the three probes share one group and so one name
    if task.hub_task_type == "image-classification":
        return "Image classification on frozen features (linear probe, k-NN, few-shot)"
    return task.title


def _shown_metrics(record: dict, task) -> list[str]:
    """The card's metrics of one result: the task's card metrics, then those with reference numbers, then the
    main metric."""
    wanted = list(task.card_metrics) + sorted(record.get("reference", {})) + [record["main_metric"]]
    return [m for m in dict.fromkeys(wanted) if m in record["metrics"]]


def _ordered(results: Sequence[dict]) -> list[dict]:
    """Results in suite dataset order (then by name) and registry task order."""
    from rsmodel.eval.registry import TASK_MODULES

    order: dict[str, int] = {}
    for record in results:
        for name in record.get("suite", {}).get("datasets", []):
            order.setdefault(name, len(order))
    return sorted(results, key=lambda r: (order.get(r["dataset"]["name"], len(order)), r["dataset"]["name"],
                                          TASK_MODULES.index(r["task"]) if r["task"] in TASK_MODULES else 99))


def _reference_models(results: Sequence[dict]) -> list[str]:
    preferred = next((r["suite"].get("reference_models", []) for r in results if r.get("suite")), [])
    found = {model for r in results for values in r.get("reference", {}).values() for model in values}
    found |= {model for r in results for a in r.get("suite", {}).get("averages", []) for model in a["reference"]}
    return [m for m in preferred if m in found] + sorted(found - set(preferred))


def test_images(record: dict) -> tuple[int | None, int | None]:
    """(test images this result used, test images behind the paper's numbers); None where not known."""
    used = (record["dataset"].get("rows") or {}).get("test")
    return used, record.get("reference_test_images")


def test_size_note(record: dict) -> str:
    """The result's test-set size beside the paper's, flagged when they differ (Markdown)."""
    used, paper = test_images(record)
    if used is None:
        return "unknown"
    if paper is None:
        return f"{used:,} (paper: not stated)"
    if used != paper:
        kind = "subset" if used < paper else "superset"
        return f"**{kind}: {used:,} of {paper:,} images — not comparable**"
    return f"{used:,} (as the paper)"


def results_table(results: Sequence[dict]) -> str:
    """Markdown: one row per (dataset, metric) shown, this model's value beside the paper's reference values, and
    the number of test images beside the paper's (flagged when they differ)."""
    models = _reference_models(results)
    used = [m for m in models if any(m in values for r in results for values in r.get("reference", {}).values())]
    lines = ["| Dataset | Metric | This model | " + " | ".join(used) + (" | " if used else "") + "Test images |",
             "|---|---|---|" + "---|" * len(used) + "---|"]
    from rsmodel.eval.registry import get_task

    for record in _ordered(results):
        for metric in _shown_metrics(record, get_task(record["task"])):
            reference = record.get("reference", {}).get(metric, {})
            cells = [f"{reference[m]:.2f}" if m in reference else "" for m in used]
            lines.append(f"| {record['dataset'].get('title', record['dataset']['name'])} | {metric} | "
                         f"**{record['metrics'][metric]:.2f}** | " + "".join(c + " | " for c in cells)
                         + test_size_note(record) + " |")
    return "\n".join(lines)


def differing_test_sets(results: Sequence[dict]) -> list[str]:
    """The datasets whose results used another number of test images than the paper's numbers."""
    found = []
    for record in _ordered(results):
        used, paper = test_images(record)
        name = record["dataset"].get("title", record["dataset"]["name"])
        if used is not None and paper is not None and used != paper and name not in found:
            found.append(name)
    return found


def averages_table(results: Sequence[dict]) -> str:
    from rsmodel.eval.results import averages

    found = averages(list(results))
    if not found:
        return ""
    models = [m for m in _reference_models(results) if any(m in a["reference"] for a in found)]
    lines = ["| Metric | Datasets | This model | " + " | ".join(models) + " |", "|---|---|---|" + "---|" * len(models)]
    for average in found:
        cells = [f"{average['reference'][m]:.2f}" if m in average["reference"] else "" for m in models]
        lines.append(f"| {average['metric']} | {len(average['datasets'])} | **{average['value']:.2f}** | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


def _is_hub_id(value: Any) -> bool:
    return isinstance(value, str) and bool(_REPO.match(value)) and not Path(value).exists()


def training_section(record: dict) -> str:
    """Markdown describing a training run from its ``rsmodel_train.json`` record."""
    source = record.get("model_source") or {}
    if source.get("name_or_path"):
        base = f"`{source['name_or_path']}`"
        if source.get("revision") or source.get("commit"):
            base += f" (revision {source.get('revision') or 'main'}, commit `{source.get('commit') or 'unknown'}`)"
        base = "Fine-tuned from " + base + "."
    else:
        base = "Trained from a fresh initialisation (configuration in `rsmodel_train.json`)."
    lines = [base, "", f"Seed {record.get('seed')}, data seed {record.get('data_seed')}, "
             f"{record.get('world_size', 1)} process(es); the full resolved recipe, data sources and training "
             "arguments are in `rsmodel_train.json` in this repository.", ""]
    sources = record.get("data_sources") or []
    if sources:
        licences = _data_licences(record)
        lines += ["| Data | Config | Split | Revision | Weight | Rows | Licence |", "|---|---|---|---|---|---|---|"]
        for item in sources:
            revision = item.get("commit") or item.get("fingerprint") or item.get("revision") or ""
            lines.append(f"| {item.get('path', '')} | {item.get('config') or ''} | {item.get('split') or ''} | "
                         f"{revision} | {item.get('weight', '')} | {item.get('rows', '')} | "
                         f"{licences.get(item.get('path'), 'not stated')} |")
        lines.append("")
    arguments = record.get("training_arguments") or {}
    shown = {k: arguments[k] for k in TRAINING_ARGUMENTS if arguments.get(k) not in (None, "", 0, False)}
    if shown:
        lines += ["Training arguments:", "", "| Argument | Value |", "|---|---|"]
        lines += [f"| {k} | {v} |" for k, v in shown.items()]
        lines.append("")
    result = record.get("result") or {}
    if result:
        parts = [f"{k} {result[k]:.4g}" if isinstance(result[k], float) else f"{k} {result[k]}"
                 for k in ("global_step", "final_loss", "logit_scale") if result.get(k) is not None]
        lines.append("Result: " + ", ".join(parts) + ".")
    return "\n".join(lines).strip()


def build_model_card(results: Sequence[dict], *, model_name: str, repo_id: str,
                     train_record: dict | None = None, license: str | None = None, plots: Sequence[str] = ()):
    """The ``huggingface_hub.ModelCard`` of a model (see the module docstring). ``license`` overrides the one
    drawn from the training data (:func:`training_licence`); ``plots`` are image paths relative to the card."""
    from huggingface_hub import ModelCard, ModelCardData

    record = train_record or {}
    suite = next((r["suite"] for r in results if r.get("suite")), {})
    licence, licence_name = (license, None) if license else training_licence(record)
    card_data = ModelCardData(
        model_name=model_name, base_model=base_model(record), datasets=training_datasets(record) or None,
        library_name="transformers", pipeline_tag="zero-shot-image-classification", tags=list(CARD_TAGS),
        license=licence, eval_results=eval_results(results) or None)
    if licence_name:
        card_data.license_name = licence_name
        card_data.license_link = "README.md"
    if train_record:
        description = ("A remote-sensing CLIP model (transformers `CLIPModel`) trained with `rsmodel train` "
                       "(rsclip).")
    else:
        description = "A remote-sensing CLIP model (transformers `CLIPModel`)."
    return ModelCard.from_template(
        card_data, template_str=TEMPLATE, model_name=model_name, repo_id=repo_id, description=description,
        suite_title=suite.get("title", ""), results_table=results_table(results) if results else "",
        averages_table=averages_table(results) if results else "", differing=differing_test_sets(results),
        plots=list(plots), training=training_section(record) if train_record else "",
        citation=(suite.get("citation") or "").strip())


def base_model(record: dict) -> str | None:
    """The Hub model a run started from (``model_source.name_or_path`` when it is a Hub id), or None."""
    base = (record.get("model_source") or {}).get("name_or_path")
    return base if _is_hub_id(base) else None


def training_datasets(record: dict) -> list[str]:
    """The training data of a run, in the order trained on: Hub dataset ids, and the folder names of local
    datasets (the Hub links only the ids; a local name is what the training table lists)."""
    names = []
    for item in record.get("data_sources") or []:
        path = item.get("path")
        if isinstance(path, str) and path:
            names.append(path if _is_hub_id(path) else Path(path).name)
    return list(dict.fromkeys(names))


def training_licence(record: dict) -> tuple[str | None, str | None]:
    """``(license, license_name)`` from the training data's dataset cards (local folders that have one): their
    licence when they all share one; ``("other", "training-data-licences")`` when they differ (the training
    section lists each); ``(None, None)`` when none is known."""
    found = _data_licences(record)
    values = set(found.values())
    if not values:
        return None, None
    if len(values) == 1:
        return values.pop(), None
    return "other", "training-data-licences"


def _data_licences(record: dict) -> dict[str, str]:
    """Training data path -> the licence its local dataset card states (sources without one left out)."""
    from huggingface_hub import DatasetCard

    found = {}
    for item in record.get("data_sources") or []:
        card = Path(str(item.get("path") or "")) / "README.md"
        if not item.get("path") or not card.is_file():
            continue
        try:
            licence = DatasetCard.load(card).data.license
        except Exception:  # an unreadable card states nothing; the run record still lists the source
            continue
        if isinstance(licence, str) and licence:
            found[item["path"]] = licence
    return found


def read_train_record(folder: Path) -> dict | None:
    """``folder/rsmodel_train.json``, or None; a run that has not finished is refused."""
    path = Path(folder) / "rsmodel_train.json"
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise PublishError(f"{path}: not a readable training record ({error})") from None
    if record.get("status", "complete") != "complete":
        raise PublishError(f"{path}: the training run has status {record.get('status')!r}, not complete; finish or "
                           "resume it (rsmodel train) before publishing")
    return record
