"""rsmodel: train, evaluate and publish transformers ``CLIPModel`` models for remote sensing.

``rsmodel train`` (a transformers ``Trainer`` with the global contrastive loss), ``rsmodel eval`` (the RemoteCLIP
protocols on cached embeddings), ``rsmodel publish`` (weights, processor and a benchmark card to the Hub),
``rsmodel convert`` (open_clip checkpoints to and from ``CLIPModel``) and ``rsmodel env`` (what the machine offers).

From Python (:mod:`rsmodel.api`): ``rsmodel.train("tiny-cpu", overrides={...})`` returns a
:class:`~rsmodel.api.TrainRun` and ``rsmodel.evaluate(model, suite="demo", datasets={...})`` an
:class:`~rsmodel.api.EvalRun`. They are imported on first use, so ``import rsmodel`` loads neither torch nor
transformers.
"""

__version__ = "0.1.0"

__all__ = ["EvalRun", "TrainRun", "evaluate", "train", "__version__"]


def __getattr__(name: str):
    import importlib

    if name in ("train", "evaluate", "TrainRun", "EvalRun"):
        value = getattr(importlib.import_module("rsmodel.api"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rsmodel' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), "train", "evaluate", "TrainRun", "EvalRun"])
