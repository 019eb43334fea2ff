"""Zero-shot scene classification (RemoteCLIP protocol).

Protocol: every class gets the prompt ``"a satellite photo of {class_name}."`` (the single template of the paper;
other template lists may be configured, in which case each class's prompt embeddings are L2-normalised, averaged
and normalised again, as CLIP does). A test image is assigned the class whose normalised prompt embedding has the
largest dot product with its normalised image embedding (ties: the lower class index). Reported on the test
split: ``zero_shot/top1`` (accuracy) and ``zero_shot/mean_per_class_recall`` (mean over the classes present in the
test split of each class's recall), both in percent.

Class names: the ``class_name`` column of the dataset (contract 1: the prompt name of the row's ``label``). A
class with no test row still competes; its name comes from the train split when there is one, else from its
``ClassLabel`` name by the dataset rule (``_`` and CamelCase split into lower-case words).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from rsmodel.errors import EvalDatasetError
from rsmodel.eval.common import accuracy, first_argmax, l2_normalize, per_class_recall
from rsmodel.eval.registry import Task, TaskInputs, TaskResult, register

PLACEHOLDER = "{class_name}"


@dataclass(frozen=True)
class ZeroShotSettings:
    templates: tuple[str, ...] = ("a satellite photo of {class_name}.",)

    def check(self) -> list[str]:
        problems = [f"template {t!r} lacks {PLACEHOLDER}" for t in self.templates if PLACEHOLDER not in t]
        return problems + (["templates is empty"] if not self.templates else [])


def prompt_name_from_folder(name: str) -> str:
    """``"StorageTanks"`` -> ``"storage tanks"``, ``"dense_residential"`` -> ``"dense residential"``."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", name.replace("_", " "))
    return " ".join(spaced.lower().split())


def class_prompt_names(inputs: TaskInputs, roles: tuple[str, ...] = ("test", "train")) -> list[str]:
    """The prompt name of every class index, from the ``class_name`` column (checked for consistency)."""
    label_names = inputs.label_names()
    found: dict[int, tuple[str, str, int]] = {}
    for role in roles:
        try:
            labels, names = inputs.column(role, "label"), inputs.column(role, "class_name")
        except KeyError:
            continue
        for row, (label, name) in enumerate(zip(labels, names)):
            if label in found and found[label][0] != name:
                raise EvalDatasetError(
                    f"{inputs.dataset_name}: {role} row {row} has class_name {name!r} for label {label} "
                    f"({label_names[label]}), but {found[label][1]} row {found[label][2]} has {found[label][0]!r}; "
                    "every row of a class must carry the same class_name")
            found.setdefault(label, (name, role, row))
    return [found[i][0] if i in found else prompt_name_from_folder(n) for i, n in enumerate(label_names)]


def classifier_weights(prompt_embeddings: np.ndarray, num_classes: int) -> np.ndarray:
    """Class weights ``(classes, dim)`` from prompt embeddings in class-major order (class 0's templates first)."""
    per_class = l2_normalize(prompt_embeddings).reshape(num_classes, -1, prompt_embeddings.shape[1])
    return l2_normalize(per_class.mean(axis=1))


def predict(image_embeddings: np.ndarray, weights: np.ndarray) -> np.ndarray:
    return first_argmax(l2_normalize(image_embeddings).astype(np.float64) @ weights.astype(np.float64).T)


def run(inputs: TaskInputs, settings: ZeroShotSettings) -> TaskResult:
    names = class_prompt_names(inputs)
    prompts = [template.replace(PLACEHOLDER, name) for name in names for template in settings.templates]
    weights = classifier_weights(inputs.text_embeddings(prompts), len(names))
    labels = np.asarray(inputs.column("test", "label"))
    predictions = predict(inputs.image_embeddings("test"), weights)
    recall = per_class_recall(predictions, labels)
    return TaskResult(
        metrics={"zero_shot/top1": accuracy(predictions, labels),
                 "zero_shot/mean_per_class_recall": float(np.mean(list(recall.values())))},
        details={"test_rows": len(labels), "classes": len(names), "prompts": prompts,
                 "per_class_recall": {inputs.label_names()[c]: r for c, r in recall.items()}})


TASK = register(Task(
    name="zero_shot", title="Zero-shot classification", dataset_kind="classification", splits=("test",),
    settings=ZeroShotSettings, run=run, main_metric="zero_shot/top1",
    card_metrics=("zero_shot/top1", "zero_shot/mean_per_class_recall"),
    hub_task_type="zero-shot-image-classification",
    description='prompt "a satellite photo of {class_name}." per class; top-1 and mean per-class recall on test'))
