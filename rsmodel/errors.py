"""The one error family of rsmodel.

Every error names where the problem is (a file or folder), what was wrong, and what would be accepted or what to
do next. The command line prints the message and returns a non-zero exit status instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path


class RsmodelError(Exception):
    """Base class of every error rsmodel raises on purpose."""


class OptionError(RsmodelError):
    """A command-line or API option has a value outside what is accepted (names the option and valid values)."""


class CheckpointError(RsmodelError):
    """A checkpoint or model folder cannot be read or converted: ``path`` says which, the message says why."""

    def __init__(self, path: str | Path, message: str):
        self.path = str(path)
        self.message = message
        super().__init__(f"{self.path}: {message}")

    def __reduce__(self):
        return (CheckpointError, (self.path, self.message))


class OutputFolderError(RsmodelError):
    """The output folder cannot be used as asked (it exists and is not empty, or is not a folder)."""


class SuiteError(RsmodelError):
    """An evaluation suite file is malformed: names the file, the field and what is accepted."""


class EvalDatasetError(RsmodelError):
    """An evaluation dataset cannot be used: names the dataset and its source, and the split, column or row at
    fault, with what the task expects (see contract 1 in the README)."""


class PublishError(RsmodelError):
    """A model folder cannot be published as asked: names the folder or repository and what is missing."""


class TrainRecipeError(RsmodelError):
    """A training recipe or an ``--override`` is malformed: names the file, the field and what is accepted."""


class TrainingDataError(RsmodelError):
    """A training dataset cannot be used: names the source (path, config, split) and the column or row at fault."""


class DatasetFolderError(RsmodelError):
    """A local dataset folder cannot be read as asked: names the folder, the file when one is at fault, and what
    was wrong. Training and evaluation re-raise it as their own error, naming the source or dataset."""
