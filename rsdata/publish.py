"""Publishing to the Hugging Face Hub: the only rsdata module that talks to the Hub (rsmodel reuses it).

:func:`upload_tree` uploads a list of files below a local folder to a repo of any type, and is built to be run
again:

- unchanged files are not sent: each local file's sha256 (LFS files) and git blob id (regular files) are compared
  with the remote tree at the revision; when nothing changed there is no commit at all;
- files are committed in chunks (at most ``max_commit_bytes`` and ``max_commit_files`` per commit), in the order
  given, so a push that stops midway leaves its finished chunks committed; running it again sends only what is
  missing, and LFS objects the Hub already holds (uploaded before the failed commit) are not sent again;
- transient failures (HTTP 408, 429, 5xx, dropped connections, timeouts) are retried with exponential backoff
  (:class:`RetryPolicy`), a bounded number of times, then reported as a :class:`~rsdata.errors.PublishError` that
  says how far the push got; every retry first re-reads the remote tree, so a commit that landed but whose answer
  was lost is not made twice;
- ``revision`` names a branch, created from ``main`` when missing;
- the token comes from the argument, else ``HF_TOKEN``, else the stored login (``hf auth login``); it is never
  printed, logged or written anywhere (error messages are scrubbed of it).

:func:`push_dataset` pushes a finished rsdata build (``rsdata push`` / ``rsdata convert --push-to-hub``): the
shards under ``data/`` first, then the other outputs (``build_report.json``, split lists, reports), the card
``README.md`` last, so that a repo whose push was cut never shows a card for shards it does not have. Hidden
paths (the ``.rsdata/`` state folder, temporary ``.*.tmp`` files) and ``*.tmp`` files are never uploaded. Remote
files under ``data/`` that the build no longer has (shards of an earlier, differently cut build) are deleted in
the last commit.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import logging
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Callable, Iterable, Sequence, TypeVar
from urllib.parse import quote

from rsdata.errors import OptionError, PublishError

logger = logging.getLogger(__name__)

DEFAULT_MAX_COMMIT_BYTES = 1024 ** 3
DEFAULT_MAX_COMMIT_FILES = 50  # what datasets' push_to_hub puts in one commit too
BUILD_REPORTS = ("build_report.json", "corpus_report.json")  # one of them marks a finished build or corpus
HASH_CACHE_NAME = "publish-hashes.json"  # in the build's .rsdata/ folder: hashes of files already hashed
TRANSIENT_STATUS_CODES = frozenset({408, 429, 500, 502, 503, 504})
REPO_TYPES = ("dataset", "model", "space")
_REPO_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*")

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a failed request is tried again: ``attempts`` in all, waiting
    ``base_wait * 2 ** (n - 1)`` seconds (at most ``max_wait``) after the n-th failure."""

    attempts: int = 5
    base_wait: float = 2.0
    max_wait: float = 60.0

    def wait(self, failures: int) -> float:
        return min(self.max_wait, self.base_wait * 2 ** (failures - 1))


@dataclass
class PushResult:
    """What one push did. ``bytes_uploaded`` counts the files committed by this push (LFS objects the Hub already
    held are not sent again, so the bytes on the wire can be fewer); ``commits`` are the urls of its commits."""

    repo_id: str
    repo_type: str
    revision: str
    url: str  # the repo's page at the revision
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already on the Hub with the same content
    deleted: list[str] = field(default_factory=list)
    bytes_uploaded: int = 0
    commits: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def commit_url(self) -> str | None:
        return self.commits[-1] if self.commits else None


@dataclass(frozen=True)
class _LocalFile:
    path_in_repo: str
    local_path: Path
    size: int
    sha256: str
    git_oid: str


# ---------------------------------------------------------------------------------------------------------------
# Datasets


def push_dataset(folder: str | Path, repo_id: str, *, private: bool = False, revision: str | None = None,
                 token: str | None = None, commit_message: str | None = None, progress: bool = True,
                 retry: RetryPolicy | None = None, max_commit_bytes: int = DEFAULT_MAX_COMMIT_BYTES,
                 max_commit_files: int = DEFAULT_MAX_COMMIT_FILES, endpoint: str | None = None) -> PushResult:
    """Push the finished rsdata build in ``folder`` to the dataset repo ``repo_id`` (created when missing).

    Raises :class:`~rsdata.errors.PublishError` when ``folder`` is not a finished build (naming what is missing)
    or when the push fails; running the same push again resumes it.
    """
    from rsdata.build import STATE_DIR

    folder = Path(folder)
    check_repo_id(repo_id)
    check_finished_build(folder)
    return upload_tree(folder, dataset_files(folder), repo_id, "dataset", private=private, revision=revision,
                       token=token, commit_message=commit_message or f"Upload {folder.name} with rsdata",
                       delete_stale=("data/",), progress=progress, retry=retry, max_commit_bytes=max_commit_bytes,
                       max_commit_files=max_commit_files, hash_cache=folder / STATE_DIR / HASH_CACHE_NAME,
                       endpoint=endpoint)


def check_finished_build(folder: Path) -> None:
    """Raise :class:`PublishError` unless ``folder`` holds a finished rsdata output: the card, a build report
    (``build_report.json``, or ``corpus_report.json`` for a corpus), every shard the report lists, a card that
    does not mark the build unfinished, and at least one file for every ``data_files`` pattern of the card's
    configs."""
    from rsdata.build import CARD_NAME, DATA_DIR, REPORT_NAME
    from rsdata.dataset_files import is_placeholder_card

    if not folder.is_dir():
        raise PublishError(f"{folder} is not a folder; push the output folder of `rsdata convert`")
    if is_placeholder_card(folder / CARD_NAME):
        raise PublishError(f"{folder} is not a finished rsdata build: its {CARD_NAME} marks it unfinished or empty "
                           "(an interrupted build is finished by running the same rsdata command again)")
    reports = [name for name in BUILD_REPORTS if (folder / name).is_file()]
    missing = ([CARD_NAME] if not (folder / CARD_NAME).is_file() else []) + \
        ([" or ".join(BUILD_REPORTS)] if not reports else [])
    if missing:
        raise PublishError(f"{folder} is not a finished rsdata build: {' and '.join(missing)} missing (an "
                           "interrupted conversion is finished by running the same `rsdata convert` command again)")
    shards: list[str] = []
    for name in reports:
        try:
            report = json.loads((folder / name).read_text(encoding="utf-8"))
        except ValueError as error:
            raise PublishError(f"{folder / name}: not a readable rsdata report ({error})") from None
        if name == REPORT_NAME and isinstance(report, dict):
            shards += [str(shard) for shard in report.get("shards") or []]
    absent = [shard for shard in shards if not (folder / shard).is_file()]
    if absent:
        raise PublishError(f"{folder} is not a finished rsdata build: {len(absent)} shard(s) listed in {REPORT_NAME} "
                           f"are missing, first {absent[0]}")
    patterns = _card_data_files(folder / CARD_NAME) or [f"{DATA_DIR}/**/*"]
    visible = set(visible_files(folder))
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(name, pattern) for name in visible):
            raise PublishError(f"{folder} is not a finished rsdata build: no file matches {pattern!r}, a data_files "
                               f"pattern of {CARD_NAME}")


def _card_data_files(card: Path) -> list[str]:
    """The ``data_files`` path patterns of the configs in a dataset card's YAML header."""
    import yaml

    text = card.read_text(encoding="utf-8", errors="replace")
    match = re.match(r"---\s*\n(.*?)\n---\s*(\n|$)", text, re.S)
    try:
        header = yaml.safe_load(match.group(1)) if match else None
    except yaml.YAMLError as error:
        raise PublishError(f"{card}: the YAML header does not parse ({error})") from None
    configs = header.get("configs") if isinstance(header, dict) else None
    patterns = []
    for config in configs if isinstance(configs, list) else []:
        data_files = config.get("data_files") if isinstance(config, dict) else None
        items = data_files if isinstance(data_files, list) else [data_files] if data_files else []
        for item in items:
            paths = item.get("path") if isinstance(item, dict) else item
            patterns += [paths] if isinstance(paths, str) else [p for p in paths or [] if isinstance(p, str)]
    return patterns


def dataset_files(folder: Path) -> list[str]:
    """The files of a build to upload, in commit order: shards (``data/``), other outputs, the card last.
    Hidden paths (``.rsdata/``, ``.*.tmp``) and ``*.tmp`` files are left out."""
    from rsdata.build import CARD_NAME, DATA_DIR

    files = visible_files(folder)
    data = [p for p in files if p.startswith(DATA_DIR + "/")]
    others = [p for p in files if not p.startswith(DATA_DIR + "/") and p != CARD_NAME]
    return data + others + ([CARD_NAME] if CARD_NAME in files else [])


def visible_files(folder: str | Path) -> list[str]:
    """Every file below ``folder`` that is part of an upload, as sorted ``/``-separated relative paths: hidden
    files and folders (``.rsdata/``, ``.*.tmp``), ``*.tmp``, ``*~`` and ``__pycache__`` are left out."""
    folder = Path(folder)
    found = []
    for root, dirs, names in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        for name in sorted(names):
            if name.startswith(".") or name.endswith((".tmp", "~")):
                continue
            found.append((Path(root) / name).relative_to(folder).as_posix())
    return sorted(found)


# ---------------------------------------------------------------------------------------------------------------
# Any tree of files


def upload_tree(local_root: str | Path, files: Sequence[str], repo_id: str, repo_type: str, *,
                revision: str | None = None, token: str | None = None, private: bool = False,
                commit_message: str = "Upload with rsdata", delete_stale: Sequence[str] = (),
                progress: bool = True, retry: RetryPolicy | None = None,
                max_commit_bytes: int = DEFAULT_MAX_COMMIT_BYTES, max_commit_files: int = DEFAULT_MAX_COMMIT_FILES,
                hash_cache: str | Path | None = None, endpoint: str | None = None) -> PushResult:
    """Upload ``files`` (paths relative to ``local_root``, ``/``-separated; committed in this order) to
    ``repo_type`` repo ``repo_id`` at branch ``revision`` (default ``main``; created when missing).

    The repo is created when missing (``private`` applies only then). Remote files below a prefix in
    ``delete_stale`` (e.g. ``"data/"``) that are not in ``files`` are deleted in the last commit. ``hash_cache``
    is a JSON file where file hashes are kept between runs (keyed by size, mtime and inode), so a resumed push of
    a large folder does not read it all again. Returns a :class:`PushResult`; raises
    :class:`~rsdata.errors.PublishError` naming the repo, what failed and how far the push got.
    """
    started = time.perf_counter()
    from huggingface_hub import HfApi

    if repo_type not in REPO_TYPES:
        raise OptionError(f"repo type must be one of {', '.join(REPO_TYPES)}, got {repo_type!r}")
    if max_commit_bytes < 1 or max_commit_files < 1:
        raise OptionError("max_commit_bytes and max_commit_files must be positive")
    check_repo_id(repo_id)
    root = Path(local_root)
    retry = retry or RetryPolicy()
    revision = revision or "main"
    token, source = resolve_token(token)
    api = HfApi(endpoint=endpoint, token=token, library_name="rsclip")
    where = f"{repo_type} repo {repo_id} (revision {revision})"
    result = PushResult(repo_id, repo_type, revision, _repo_url(api.endpoint, repo_type, repo_id, revision))

    def call(action: str, function: Callable[[int], T], resume_hint: str = "") -> T:
        return _with_retries(f"{action} {where}", function, retry, token, token_source=source,
                             resume_hint=resume_hint)

    # 1. What there is to send: local hashes, the repo (created when missing) and the branch, the remote tree.
    local = _hash_files(root, files, hash_cache, progress)
    call("creating", lambda _: api.create_repo(repo_id, repo_type=repo_type, private=private, exist_ok=True))
    if private and not call("reading", lambda _: api.repo_info(repo_id, repo_type=repo_type)).private:
        raise PublishError(f"{where} already exists and is public, and --private only applies to new repos: make "
                           "it private on the Hub first, or push without --private")
    if revision != "main":
        call("creating the branch of", lambda _: api.create_branch(repo_id, branch=revision, repo_type=repo_type,
                                                                    exist_ok=True))
    remote = call("listing", lambda _: _remote_files(api, repo_id, repo_type, revision))

    # 2. Only files whose content differs are committed, in chunks; stale files go in the last commit.
    pending = [f for f in local if not _same_content(f, remote.get(f.path_in_repo))]
    sending = {f.path_in_repo for f in pending}
    result.skipped = [f.path_in_repo for f in local if f.path_in_repo not in sending]
    names = {f.path_in_repo for f in local}
    stale = sorted(p for p in remote if p not in names and any(p.startswith(prefix) for prefix in delete_stale))
    chunks = _chunks(pending, max_commit_bytes, max_commit_files)
    if stale and not chunks:
        chunks = [[]]

    # 3. Commit chunk by chunk, each with retries, so that what is committed stays committed.

    from tqdm.auto import tqdm

    total = sum(f.size for f in pending)
    with _hub_progress_bars(progress), tqdm(total=total, unit="B", unit_scale=True, unit_divisor=1024,
                                            desc=f"push {repo_id}", disable=not progress or not chunks) as bar:
        for number, chunk in enumerate(chunks, 1):
            deletions = stale if number == len(chunks) else []
            message = commit_message if len(chunks) == 1 else f"{commit_message} ({number}/{len(chunks)})"
            hint = (f"{number - 1} of {len(chunks)} commit(s) of this push are on the Hub; run the same push again to "
                    "send the rest (files already there are not sent again)")
            commit = call(f"committing {len(chunk)} file(s) ({_first(chunk, deletions)}) to",
                          lambda attempt: _commit_chunk(api, repo_id, repo_type, revision, chunk, deletions,
                                                        message, attempt), resume_hint=hint)
            if commit not in result.commits:
                result.commits.append(commit)
            result.uploaded.extend(f.path_in_repo for f in chunk)
            result.deleted.extend(deletions)
            result.bytes_uploaded += sum(f.size for f in chunk)
            bar.update(sum(f.size for f in chunk))
    result.seconds = time.perf_counter() - started
    return result


def push_summary(result: PushResult) -> str:
    """One or two lines saying what a push did (never the token)."""
    if not result.commits:
        return (f"Nothing to push: all {len(result.skipped)} file(s) are already at {result.url} "
                f"(revision {result.revision}).")
    line = (f"Pushed {len(result.uploaded)} file(s) ({_size(result.bytes_uploaded)}) in {len(result.commits)} "
            f"commit(s) to {result.url} (revision {result.revision}); {len(result.skipped)} unchanged file(s) "
            "skipped")
    if result.deleted:
        line += f", {len(result.deleted)} stale file(s) deleted"
    return f"{line} ({result.seconds:.1f} s).\nLast commit: {result.commit_url}"


def check_repo_id(repo_id: str) -> None:
    if not isinstance(repo_id, str) or not _REPO_ID.fullmatch(repo_id) or ".." in repo_id or \
            repo_id.endswith((".git", ".")) or len(repo_id) > 96:
        raise OptionError(f"repo id must be NAMESPACE/NAME (letters, digits, '-', '_', '.'), got {repo_id!r}")


def resolve_token(token: str | None = None) -> tuple[str, str]:
    """``(token, where it came from)``: the argument, else ``HF_TOKEN``, else the stored login."""
    if token:
        return token, "the token argument"
    from huggingface_hub import get_token

    found = get_token()
    if not found:
        raise PublishError("no Hugging Face token: set HF_TOKEN, or log in once with `hf auth login` (a token "
                           "with write access), or pass token= to the API")
    source = "HF_TOKEN" if (os.environ.get("HF_TOKEN") or os.environ.get("HUGGING_FACE_HUB_TOKEN")) == found \
        else "the stored login"
    return found, source


# ---------------------------------------------------------------------------------------------------------------
# Helpers


def _hash_files(root: Path, files: Iterable[str], hash_cache: str | Path | None, progress: bool) -> list[_LocalFile]:
    from tqdm.auto import tqdm

    entries = []
    for name in files:
        path = root / PurePosixPath(name)
        if not path.is_file():
            raise PublishError(f"{path}: no such file to upload")
        entries.append((name, path, path.stat()))
    cache_path = Path(hash_cache) if hash_cache else None
    cache = _read_hash_cache(cache_path)
    hashed, changed = [], False
    todo = sum(stat.st_size for name, _, stat in entries if not _cached(cache, name, stat))
    with tqdm(total=todo, unit="B", unit_scale=True, unit_divisor=1024, desc="hash",
              disable=not progress or todo == 0) as bar:
        for name, path, stat in entries:
            known = _cached(cache, name, stat)
            if known is None:
                known = _file_hashes(path, stat.st_size, bar.update)
                cache[name] = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "inode": stat.st_ino, **known}
                changed = True
            hashed.append(_LocalFile(name, path, stat.st_size, known["sha256"], known["git_oid"]))
    if cache_path is not None and changed and cache_path.parent.is_dir():
        from rsdata.atomic import write_json_atomic

        write_json_atomic(cache_path, {"version": 1, "files": cache})
    return hashed


def _read_hash_cache(path: Path | None) -> dict:
    if path is None or not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return dict(data["files"]) if data.get("version") == 1 else {}
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}  # a damaged cache only costs re-hashing


def _cached(cache: dict, name: str, stat: os.stat_result) -> dict | None:
    known = cache.get(name)
    if isinstance(known, dict) and (known.get("size"), known.get("mtime_ns"), known.get("inode")) == \
            (stat.st_size, stat.st_mtime_ns, stat.st_ino) and "sha256" in known and "git_oid" in known:
        return known
    return None


def _file_hashes(path: Path, size: int, on_bytes: Callable[[int], object]) -> dict:
    """sha256 (the LFS oid) and the git blob id of a file, in one read."""
    sha256, sha1 = hashlib.sha256(), hashlib.sha1(b"blob %d\0" % size)
    with open(path, "rb") as handle:
        while block := handle.read(8 * 1024 * 1024):
            sha256.update(block)
            sha1.update(block)
            on_bytes(len(block))
    return {"sha256": sha256.hexdigest(), "git_oid": sha1.hexdigest()}


def _remote_files(api, repo_id: str, repo_type: str, revision: str) -> dict:
    from huggingface_hub.hf_api import RepoFile

    return {entry.path: entry for entry in api.list_repo_tree(repo_id, recursive=True, revision=revision,
                                                              repo_type=repo_type) if isinstance(entry, RepoFile)}


def _same_content(local: _LocalFile, remote) -> bool:
    if remote is None or remote.size != local.size:
        return False
    if remote.lfs is not None:
        return remote.lfs.sha256 == local.sha256
    return remote.blob_id == local.git_oid


def _chunks(files: list[_LocalFile], max_bytes: int, max_files: int) -> list[list[_LocalFile]]:
    chunks, current, current_bytes = [], [], 0
    for item in files:
        if current and (current_bytes + item.size > max_bytes or len(current) >= max_files):
            chunks.append(current)
            current, current_bytes = [], 0
        current.append(item)
        current_bytes += item.size
    if current:
        chunks.append(current)
    return chunks


def _commit_chunk(api, repo_id: str, repo_type: str, revision: str, chunk: list[_LocalFile], deletions: list[str],
                  message: str, attempt: int) -> str:
    """Commit one chunk and return the commit's url (a retry that finds the chunk committed returns the head's)."""
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete

    if attempt > 1:  # the failed attempt may have landed (answer lost): commit only what is still missing
        remote = _remote_files(api, repo_id, repo_type, revision)
        chunk = [f for f in chunk if not _same_content(f, remote.get(f.path_in_repo))]
        deletions = [path for path in deletions if path in remote]
        if not chunk and not deletions:  # it had landed: report the commit it made
            head = api.repo_info(repo_id, repo_type=repo_type, revision=revision).sha
            return f"{_repo_url(api.endpoint, repo_type, repo_id, 'main')}/commit/{head}"
    operations = []
    for item in chunk:
        operation = CommitOperationAdd(path_in_repo=item.path_in_repo, path_or_fileobj=str(item.local_path))
        if hasattr(type(operation.upload_info), "is_hashed"):  # lazily hashed: reuse the hash computed already
            operation.upload_info.sha256 = bytes.fromhex(item.sha256)
        operations.append(operation)
    operations += [CommitOperationDelete(path_in_repo=path) for path in deletions]
    info = api.create_commit(repo_id, operations, commit_message=message, revision=revision, repo_type=repo_type)
    return info.commit_url


def _with_retries(action: str, function: Callable[[int], T], retry: RetryPolicy, secret: str | None, *,
                  token_source: str = "", resume_hint: str = "") -> T:
    attempt = 0
    while True:
        attempt += 1
        try:
            return function(attempt)
        except Exception as error:  # noqa: BLE001 - every failure is either retried or reported as PublishError
            transient = _is_transient(error)
            if transient and attempt < retry.attempts:
                wait = retry.wait(attempt)
                logger.warning("%s: %s; trying again in %.1f s (attempt %d of %d)", action,
                               _describe(error, secret), wait, attempt + 1, retry.attempts)
                time.sleep(wait)
                continue
            tries = f" after {attempt} attempts" if attempt > 1 else ""
            message = f"{action} failed{tries}: {_describe(error, secret)}"
            if token_source and _status(error) in (401, 403):
                message += f"; the token came from {token_source}"
            if resume_hint:
                message += f". {resume_hint}"
            raise PublishError(message) from error


def _causes(error: BaseException) -> Iterable[BaseException]:
    seen = set()
    while error is not None and id(error) not in seen and len(seen) < 8:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


def _status(error: BaseException) -> int | None:
    for cause in _causes(error):
        status = getattr(getattr(cause, "response", None), "status_code", None)
        if isinstance(status, int):
            return status
    return None


def _transport_errors() -> tuple[type[BaseException], ...]:
    """Connection-level failure classes of whichever HTTP client huggingface_hub uses."""
    types: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module, names in (("httpx2", ("TransportError",)), ("httpx", ("TransportError",)),
                          ("requests.exceptions", ("ConnectionError", "Timeout", "ChunkedEncodingError"))):
        try:
            imported = __import__(module, fromlist=list(names))
        except ImportError:
            continue
        types.extend(getattr(imported, name) for name in names if hasattr(imported, name))
    return tuple(types)


def _is_transient(error: BaseException) -> bool:
    status = _status(error)
    if status is not None:
        return status in TRANSIENT_STATUS_CODES
    transport = _transport_errors()
    return any(isinstance(cause, transport) for cause in _causes(error))


def _describe(error: BaseException, secret: str | None) -> str:
    """The error in a line: the HTTP status, request and the Hub's message when there is an answer, else the
    outermost and innermost exceptions; never the token."""
    causes = list(_causes(error))
    response = next((c.response for c in causes if isinstance(getattr(getattr(c, "response", None), "status_code",
                                                                        None), int)), None)
    if response is not None:
        request = getattr(response, "request", None)
        where = f" from {request.method} {request.url}" if request is not None else ""
        server = response.headers.get("X-Error-Message")
        if not server:
            try:
                server = response.json().get("error")
            except Exception:  # noqa: BLE001 - no JSON body: the status says enough
                server = None
        text = f"HTTP {response.status_code}{where}" + (f": {server}" if server else "")
    else:
        shown = [causes[0]] + ([causes[-1]] if len(causes) > 1 else [])
        text = " <- ".join(f"{type(e).__name__}: {str(e).strip()}" if str(e).strip() else type(e).__name__
                           for e in shown)
    text = re.sub(r"\s*\n\s*", " ", text)
    if secret:
        text = text.replace(secret, "***")
    if response is not None and response.status_code == 401:
        text += " (the Hub did not accept the token)"
    elif response is not None and response.status_code == 403:
        text += " (the token may not have write access to this namespace)"
    return text[:1000]


def _first(chunk: list[_LocalFile], deletions: list[str]) -> str:
    names = [f.path_in_repo for f in chunk] + [f"delete {path}" for path in deletions]
    return names[0] + (f" and {len(names) - 1} more" if len(names) > 1 else "") if names else "nothing"


def _repo_url(endpoint: str, repo_type: str, repo_id: str, revision: str) -> str:
    prefix = {"dataset": "datasets/", "space": "spaces/"}.get(repo_type, "")
    url = f"{endpoint.rstrip('/')}/{prefix}{repo_id}"
    return url if revision == "main" else f"{url}/tree/{quote(revision, safe='')}"


def _size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


class _hub_progress_bars:
    """Show huggingface_hub's own per-file upload bars only when progress is wanted (their global switch is put
    back as it was)."""

    def __init__(self, progress: bool):
        self.progress = progress
        self.was_disabled: bool | None = None

    def __enter__(self):
        from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars

        self.was_disabled = are_progress_bars_disabled()
        if not self.progress:
            disable_progress_bars()
        return self

    def __exit__(self, *exc):
        from huggingface_hub.utils import disable_progress_bars, enable_progress_bars

        if self.was_disabled:
            disable_progress_bars()
        else:
            enable_progress_bars()
