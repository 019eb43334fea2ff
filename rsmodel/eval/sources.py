"""Where the evaluated model and the evaluation datasets come from, and their identities for the embedding cache.

- A model is a ``CLIPModel`` folder (``config.json``, safetensors weights, processor and tokenizer files) or a Hub
  model id, optionally at a revision; a Hub model is fetched with ``snapshot_download`` (model files only) and
  then read like a folder. Its identity is the sha256 over its model files (:data:`MODEL_FILES`), so a retrained
  or re-converted model never meets the embeddings of another, whatever its path.
- A dataset is a local rsdata output folder or a Hub dataset id at a revision. A folder's split is read by
  :func:`rsmodel.datafolder.load_local_split`: exactly the split's data files on disk now (resolved as
  ``datasets`` resolves them: the card's ``configs:``, else ``data/<split>-*`` and the other standard layouts),
  never an earlier build cached under the same folder name. A split's identity is
  ``hub:<repo>@<commit sha>:<split>`` (the revision is resolved to its commit) or
  ``local:<sha256 over the contents of the split's data files>:<split>``.
- Content digests are remembered in ``<cache>/digests.json`` by (resolved path, size, modification time), so an
  unchanged file is read once, not on every run.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from rsdata.atomic import write_json_atomic
from rsmodel.datafolder import FolderLayout, LocalSplit, folder_layout, load_local_split
from rsmodel.errors import CheckpointError, DatasetFolderError, EvalDatasetError, OptionError
from rsmodel.eval.registry import DATASET_KINDS
from rsmodel.eval.suite import DatasetSource, SuiteDataset

# Files that make a CLIPModel folder what it is: weights, config, preprocessing and tokenizer.
MODEL_FILES = ("config.json", "*.safetensors", "model.safetensors.index.json", "preprocessor_config.json",
               "processor_config.json", "tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt",
               "special_tokens_map.json", "added_tokens.json")
_REPO = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


class ContentDigests:
    """sha256 of file contents, remembered in a JSON memo by (resolved path, size, mtime_ns)."""

    def __init__(self, memo: Path | None = None):
        self.memo = memo
        self._known: dict[str, dict] = {}
        if memo is not None and memo.is_file():
            try:
                self._known = json.loads(memo.read_text())
            except (OSError, ValueError):
                self._known = {}  # a damaged memo only costs re-reading the files
        self._dirty = False

    def file(self, path: Path) -> str:
        resolved = Path(path).resolve()
        stat = resolved.stat()
        known = self._known.get(str(resolved))
        if known and known["size"] == stat.st_size and known["mtime_ns"] == stat.st_mtime_ns:
            return known["sha256"]
        digest = hashlib.sha256()
        with open(resolved, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 22), b""):
                digest.update(block)
        self._known[str(resolved)] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns,
                                      "sha256": digest.hexdigest()}
        self._dirty = True
        return digest.hexdigest()

    def files(self, paths: Iterable[Path], root: Path) -> str:
        """One digest over ``(path relative to root, content digest)`` of every file, in sorted order."""
        digest = hashlib.sha256()
        for path in sorted(paths):
            digest.update(f"{path.relative_to(root).as_posix()}\0{self.file(path)}\n".encode())
        return digest.hexdigest()

    def save(self) -> None:
        if self.memo is None or not self._dirty:
            return
        write_json_atomic(self.memo, self._known, indent=0)
        self._dirty = False


# ---------------------------------------------------------------------------------------------------- models

@dataclass(frozen=True)
class ModelHandle:
    source: str  # as the user gave it: a folder or a Hub id
    path: Path  # the local folder holding the files
    revision: str | None  # the requested Hub revision
    commit: str | None  # the Hub commit it resolved to
    digest: str  # sha256 over MODEL_FILES

    def describe(self) -> dict[str, Any]:
        return {"source": self.source, "revision": self.revision, "commit": self.commit, "digest": self.digest}


def model_files(folder: Path) -> list[Path]:
    return sorted({p for pattern in MODEL_FILES for p in folder.glob(pattern) if p.is_file()})


def resolve_model(model: str, revision: str | None, digests: ContentDigests) -> ModelHandle:
    """The model ``model`` (a folder, or a Hub id fetched at ``revision``) with its content digest."""
    folder, commit = Path(model), None
    if folder.exists():
        if revision is not None:
            raise OptionError(f"--revision {revision!r} applies to a Hub model id, and {model} is a local folder")
    elif _REPO.match(model):
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

        try:
            folder = Path(snapshot_download(model, revision=revision, allow_patterns=list(MODEL_FILES)))
        except (RepositoryNotFoundError, RevisionNotFoundError, HfHubHTTPError, OSError) as error:
            raise CheckpointError(model, f"cannot fetch the model from the Hub at revision {revision or 'main'}: "
                                  f"{str(error).splitlines()[0]}") from None
        commit = folder.name  # the Hub cache keeps a snapshot per commit, named by its sha
    else:
        raise CheckpointError(model, "no such model folder, and not a Hub model id (USER/NAME)")
    if not (folder / "config.json").is_file():
        raise CheckpointError(folder, "not a CLIPModel folder (no config.json)")
    files = model_files(folder)
    if not any(p.suffix == ".safetensors" for p in files):
        raise CheckpointError(folder, "holds no safetensors weights (model.safetensors); rsmodel reads weights "
                              "only from safetensors")
    return ModelHandle(model, folder, revision, commit, digests.files(files, folder))


# -------------------------------------------------------------------------------------------------- datasets

@dataclass
class ResolvedDataset:
    """One suite dataset at its resolved location; splits are loaded once, on first use."""

    entry: SuiteDataset
    source: DatasetSource  # after overrides
    location: str  # absolute folder, or the Hub repo id
    commit: str | None = None
    _files: FolderLayout | None = field(default=None, repr=False)  # local: the data files per split
    _splits: dict[str, Any] = field(default_factory=dict, repr=False)  # loaded splits by name
    _read: dict[str, LocalSplit] = field(default_factory=dict, repr=False)  # local: what each split read
    _hub: Any = field(default=None, repr=False)  # Hub: the DatasetDict

    @property
    def is_hub(self) -> bool:
        return self.source.repo is not None

    def describe(self) -> dict[str, Any]:
        return {"name": self.entry.name, "title": self.entry.title, "kind": self.entry.kind,
                "source": self.location, "revision": self.source.revision, "commit": self.commit,
                "splits": dict(self.entry.splits)}

    def split_identity(self, split: str, digests: ContentDigests) -> str:
        if self.is_hub:
            return f"hub:{self.location}@{self.commit}:{split}"
        folder = Path(self.location)
        return f"local:{digests.files([f.path for f in self._local_split(split).files], folder)}:{split}"

    def split_names(self) -> list[str]:
        if self.is_hub:
            return list(self._hub_splits())
        return list(self._layout().splits)

    def has_split(self, role: str) -> bool:
        return role in self.entry.splits and self.entry.splits[role] in self.split_names()

    def split(self, role: str):
        """The ``datasets.Dataset`` of the split that plays ``role`` (checked for the kind's columns)."""
        name = self.entry.splits[role]
        splits = self.split_names()
        if name not in splits:
            raise EvalDatasetError(f"{self.entry.name} ({self.location}): no split {name!r} (role {role}); splits: "
                                   f"{', '.join(splits) or 'none'}. Set datasets.{self.entry.name}.splits in the "
                                   "suite")
        dataset = self._loaded(name)
        check_columns(self.entry, self.location, name, dataset)
        return dataset

    def _loaded(self, name: str):
        if name not in self._splits:
            if self.is_hub:
                self._splits[name] = self._hub_splits()[name]
            else:
                try:
                    self._splits[name], self._read[name] = load_local_split(self._layout(), name)
                except DatasetFolderError as error:
                    raise EvalDatasetError(f"{self.entry.name}: cannot load split {name!r}: {error}") from None
        return self._splits[name]

    def _local_split(self, name: str) -> LocalSplit:
        self._loaded(name)
        return self._read[name]

    def _layout(self) -> FolderLayout:
        """The local folder's data files per split, resolved once (datasets would key its cache on the card's
        patterns and the folder's name, so the files are resolved here and read as they are: rsmodel.datafolder)."""
        if self._files is None:
            try:
                self._files = folder_layout(self.location)
            except DatasetFolderError as error:
                raise EvalDatasetError(f"{self.entry.name}: cannot load as a dataset: {error}") from None
        return self._files

    def _hub_splits(self):
        if self._hub is None:
            import datasets

            try:
                self._hub = datasets.load_dataset(self.location, revision=self.commit)
            except Exception as error:  # noqa: BLE001 - datasets raises many unrelated types for "cannot load"
                first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
                raise EvalDatasetError(f"{self.entry.name} ({self.location}): cannot load as a dataset: "
                                       f"{first}") from None
        return self._hub


def check_columns(entry: SuiteDataset, location: str, split: str, dataset) -> None:
    from datasets import ClassLabel, Image

    needed = DATASET_KINDS[entry.kind]
    missing = [c for c in needed if c not in dataset.column_names]
    where = f"{entry.name} ({location}) split {split}"
    if missing:
        raise EvalDatasetError(f"{where}: a {entry.kind} set needs columns {', '.join(needed)}; missing "
                               f"{', '.join(missing)} (columns: {', '.join(dataset.column_names)})")
    if not isinstance(dataset.features["image"], Image):
        raise EvalDatasetError(f"{where}: column 'image' must be an Image() feature, got {dataset.features['image']}")
    if entry.kind == "classification" and not isinstance(dataset.features["label"], ClassLabel):
        raise EvalDatasetError(f"{where}: column 'label' must be a ClassLabel (its names are the classes), got "
                               f"{dataset.features['label']}")


def parse_dataset_override(text: str) -> tuple[str, DatasetSource]:
    """``NAME=PATH_OR_REPO[@REV]`` -> (name, source): an existing path is local, else ``USER/NAME[@REV]``."""
    name, sep, value = text.partition("=")
    if not sep or not name or not value:
        raise OptionError(f"--dataset {text!r}: expected NAME=PATH_OR_REPO[@REV]")
    if Path(value).exists():  # a folder named on the command line is relative to the current one, not data_root
        return name, DatasetSource(path=str(Path(value).resolve()))
    repo, _, revision = value.partition("@")
    if not _REPO.match(repo):
        raise OptionError(f"--dataset {text!r}: {value} is no existing folder and not a Hub dataset id "
                          "(USER/NAME[@REV])")
    return name, DatasetSource(repo=repo, revision=revision or None)


def resolve_dataset(entry: SuiteDataset, data_root: Path, override: DatasetSource | None = None) \
        -> ResolvedDataset:
    """The dataset's location (``override`` first, else the suite's source; local paths under ``data_root``).

    Raises :class:`EvalDatasetError` when a local folder is missing or a Hub repo/revision cannot be resolved.
    """
    source = override or entry.source
    if source.repo is not None:
        from huggingface_hub import HfApi
        from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError, RevisionNotFoundError

        try:
            commit = HfApi().dataset_info(source.repo, revision=source.revision).sha
        except (RepositoryNotFoundError, RevisionNotFoundError, HfHubHTTPError, OSError) as error:
            raise EvalDatasetError(f"{entry.name}: Hub dataset {source.describe()} cannot be resolved: "
                                   f"{str(error).splitlines()[0]}") from None
        return ResolvedDataset(entry, source, source.repo, commit)
    folder = Path(source.path)
    folder = folder if folder.is_absolute() else data_root / folder
    if not folder.is_dir():
        raise EvalDatasetError(f"{entry.name}: no dataset folder {folder}; build it with rsdata convert (e.g. "
                               f"`rsdata convert recipe:{entry.name} SOURCE {folder}`), or point "
                               f"--data-root or --dataset {entry.name}=PATH_OR_REPO[@REV] at it")
    return ResolvedDataset(entry, source, str(folder.resolve()))
