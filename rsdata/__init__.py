"""rsdata: remote-sensing annotations -> captioned image-text datasets in the Hugging Face ``datasets`` layout.

The Python API (:mod:`rsdata.api`), one function per command, each taking recipe names or paths and returning a
result object: :func:`rsdata.convert` (``rsdata convert``: ``rsdata.convert(SOURCE, OUT, recipe="dior")`` or
``format="dota"``), :func:`rsdata.build_corpus` (``rsdata convert --recipe``), :func:`rsdata.deduplicate`
(``rsdata dedup``) and :func:`rsdata.push` (``rsdata push``). Beside them: the canonical record types in
:mod:`rsdata.records`, the caption rules in :mod:`rsdata.captions` and the format registry in
:mod:`rsdata.formats`. Names are imported on first use, so ``import rsdata`` stays light.
"""

__version__ = "0.1.0"

# name -> the module that defines it, imported on first use (PEP 562)
_LAZY = {
    "convert": "rsdata.api", "build_corpus": "rsdata.api", "deduplicate": "rsdata.api", "push": "rsdata.api",
    "ConvertOptions": "rsdata.build", "ConvertResult": "rsdata.build",
}

__all__ = [*_LAZY, "__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'rsdata' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY])
