"""rsmodel evaluation: the RemoteCLIP protocols on cached embeddings.

- :mod:`~rsmodel.eval.registry`: the tasks (``list_tasks()``), each a registered declaration; one module per task:
  :mod:`~rsmodel.eval.zero_shot`, :mod:`~rsmodel.eval.linear_probe`, :mod:`~rsmodel.eval.knn`,
  :mod:`~rsmodel.eval.few_shot`, :mod:`~rsmodel.eval.retrieval`, :mod:`~rsmodel.eval.counting` (their docstrings
  state each protocol exactly); :mod:`~rsmodel.eval.classifier` is the probe the linear-probe and few-shot tasks
  share.
- :mod:`~rsmodel.eval.suite`: suite YAML files (``recipes/eval/remoteclip.yaml``), typed and validated.
- :mod:`~rsmodel.eval.sources`: models and datasets (local or Hub) and their identities.
- :mod:`~rsmodel.eval.embeddings`: the embedding cache and batched inference.
- :mod:`~rsmodel.eval.runner`: ``evaluate(model, suite, options)``; :mod:`~rsmodel.eval.results`: the result
  files and the summary table.

Datasets follow contract 1 of the README (classification: ``image``, ``label`` ClassLabel, ``class_name``;
retrieval: ``image``, ``captions``, ``source_id``; counting: ``image``, ``captions``, ``count``,
``count_candidates``, ``count_candidates_digits``).
"""

from rsmodel.eval.registry import Task, TaskResult, get_task, list_tasks
from rsmodel.eval.runner import EvalOptions, EvalSummary, evaluate
from rsmodel.eval.suite import EvalSuite, load_suite

__all__ = ["EvalOptions", "EvalSuite", "EvalSummary", "Task", "TaskResult", "evaluate", "get_task", "list_tasks",
           "load_suite"]
