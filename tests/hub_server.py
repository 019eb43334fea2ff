"""A local stand-in for the Hugging Face Hub, for tests: a stdlib HTTP server on 127.0.0.1 that answers the calls
huggingface_hub (2.4), datasets (5.2) and transformers (5.23) make to upload and download model and dataset repos.

Using it in a test (the ``local_hub`` fixture of ``tests/conftest.py`` does the wiring)::

    def test_round_trip(local_hub, tmp_path):
        from huggingface_hub import HfApi

        HfApi().upload_folder(folder_path=..., repo_id="user/name", repo_type="dataset")  # token: HF_TOKEN
        datasets.load_dataset("user/name", cache_dir=str(tmp_path / "cache"))             # reads it back
        assert len(local_hub.commits("user/name", "dataset")) == 2                       # creation + upload

What the fixture guarantees: the client libraries were imported with ``HF_ENDPOINT`` pointing at this server,
``HF_HUB_DISABLE_XET=1`` (so uploads go through plain LFS) and a temporary ``HF_HOME`` (never ``~/.cache``);
``HF_TOKEN`` is the fake token :attr:`LocalHub.token` for the duration of the test; the server's state is empty
at the start of every test. :func:`configure_client_environment` must run before anything imports those
libraries, which is why ``tests/conftest.py`` calls it when it is imported.

What it serves (state is in memory; file contents are stored once, by sha256; repos are kept per repo type)

- ``POST /api/repos/create`` (the repo starts with one commit holding ``.gitattributes``, as on the Hub; an
  existing repo answers 409 with its url), ``DELETE /api/repos/delete``, ``PUT /api/{type}s/{repo}/settings``
  (``private``), ``POST /api/validate-yaml``, ``GET /api/whoami-v2``;
- ``GET /api/{type}s/{repo}[/revision/{rev}]`` (repo info with ``sha`` and ``siblings``), ``.../tree/{rev}[/{path}]``
  (``recursive``, ``expand``; a missing path is 404 ``X-Error-Code: EntryNotFound``), ``POST .../paths-info/{rev}``,
  ``GET .../refs``, ``GET .../commits/{rev}``, ``POST``/``DELETE .../branch/{name}``;
- uploads: ``POST .../preupload/{rev}`` ("lfs" for binary, large or usual binary-suffix files, "regular" for small
  text; ``oid`` of the file already at that path, so the client skips unchanged files), LFS batch
  ``POST /{prefix}{repo}.git/info/lfs/objects/batch`` (objects the repo holds get no ``actions``), the ``PUT`` of
  the bytes to the returned href (sha256 and size checked), ``POST .../commit/{branch}`` (NDJSON: ``header``,
  ``file``, ``lfsFile``, ``deletedFile``, ``deletedFolder``; every commit gets a new sha);
- downloads: ``HEAD``/``GET /{prefix}{repo}/resolve/{rev}/{path}`` with ``ETag``, ``X-Repo-Commit``,
  ``X-Linked-Etag``/``X-Linked-Size`` (LFS files), ``Content-Length`` and ``Range`` (206);
- anything else: 404 (listed in :attr:`LocalHub.unhandled`, to see what a client asked for).

``{prefix}`` is ``""`` for models, ``"datasets/"`` and ``"spaces/"`` for the others; ``{rev}`` is a branch name or a
commit sha; repo ids are ``namespace/name``. Writes need ``Authorization: Bearer <token>`` (401 otherwise); private
repos are invisible (401 ``RepoNotFound``) without it. LFS upload hrefs carry a one-time ticket instead, like the
Hub's signed storage URLs.

Inspection and fault injection for tests:

- :meth:`LocalHub.commits` (a repo's commits, oldest first), :meth:`LocalHub.files` (path -> bytes at a revision),
  :meth:`LocalHub.branches`, :meth:`LocalHub.is_private`; :attr:`LocalHub.lfs_uploads` and
  :attr:`LocalHub.lfs_bytes` (LFS objects and bytes received); :attr:`LocalHub.requests` (method, path, status);
- :meth:`LocalHub.fail` fails requests whose method and path match: with a status (``status=503``) or by dropping
  the connection without an answer (``drop=True``), ``times`` times after letting ``after`` matching requests
  through; ``handled=True`` applies the request first and then loses the answer (a commit that landed but whose
  answer never arrived). :meth:`LocalHub.clear_faults` removes them.
"""

from __future__ import annotations

import atexit
import base64
import hashlib
import json
import os
import re
import secrets
import shutil
import socket
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

DEFAULT_TOKEN = "hf_localTestHubFakeToken0123456789"
DEFAULT_USER = "user"
REPO_TYPES = ("model", "dataset", "space")
URL_PREFIXES = {"model": "", "dataset": "datasets/", "space": "spaces/"}
# Files the Hub's default .gitattributes sends to LFS, whatever their size or content.
LFS_SUFFIXES = (".parquet", ".arrow", ".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".h5", ".msgpack", ".onnx",
                ".npy", ".npz", ".pkl", ".pickle", ".zip", ".gz", ".tar", ".zst", ".png", ".jpg", ".jpeg", ".tif",
                ".tiff", ".model", ".ot", ".tflite")
LFS_THRESHOLD_BYTES = 10 * 1024 * 1024
GITATTRIBUTES = "".join(f"*{suffix} filter=lfs diff=lfs merge=lfs -text\n" for suffix in LFS_SUFFIXES).encode()


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob with content ``data`` (what the Hub calls a regular file's ``oid``)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def lfs_pointer(sha256: str, size: int) -> bytes:
    return f"version https://git-lfs.github.com/spec/v1\noid sha256:{sha256}\nsize {size}\n".encode()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# ---------------------------------------------------------------------------------------------------------------
# State


@dataclass
class Commit:
    sha: str
    parent: str | None
    files: dict[str, "FileEntry"]
    title: str
    description: str
    date: str


@dataclass(frozen=True)
class FileEntry:
    """One file at one revision. ``git_oid`` is the blob id (of the LFS pointer for LFS files)."""

    size: int
    sha256: str
    git_oid: str
    lfs: bool
    last_commit: str


@dataclass
class Repo:
    repo_type: str
    repo_id: str
    private: bool
    created_at: str
    branches: dict[str, str] = field(default_factory=dict)  # branch -> head commit sha
    commits: dict[str, Commit] = field(default_factory=dict)  # in creation order
    lfs_objects: set[str] = field(default_factory=set)  # sha256 of the LFS objects this repo holds

    def resolve(self, revision: str) -> Commit | None:
        sha = self.branches.get(revision, revision)
        return self.commits.get(sha)


@dataclass
class Fault:
    """Fail requests matching ``method`` and the regular expression ``path`` (searched in the URL path)."""

    method: str
    path: str
    status: int = 503
    times: int = 1
    after: int = 0
    drop: bool = False
    handled: bool = False
    seen: int = 0  # matching requests so far
    hits: int = 0  # requests this fault failed

    def take(self, method: str, path: str) -> bool:
        if method != self.method or not re.search(self.path, path):
            return False
        self.seen += 1
        if self.seen <= self.after or self.hits >= self.times:
            return False
        self.hits += 1
        return True


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    status: int  # 0 for a dropped connection
    authorized: bool


class HubError(Exception):
    """An error answer: status, Hub error code (``X-Error-Code``) and message."""

    def __init__(self, status: int, message: str, code: str | None = None, body: dict | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.body = status, message, code, body


def _not_found_repo(repo_type: str, repo_id: str) -> HubError:
    return HubError(404, f"Repository Not Found: {repo_type} {repo_id}", "RepoNotFound")


# ---------------------------------------------------------------------------------------------------------------
# The server


class LocalHub:
    """The in-memory Hub and its HTTP server (see the module docstring).

    ``sock`` is an already bound socket to serve on (conftest reserves one before the client libraries are
    imported, so that ``HF_ENDPOINT`` can name its port); without it a free port is taken at :meth:`start`.
    """

    def __init__(self, sock: socket.socket | None = None, *, token: str = DEFAULT_TOKEN, user: str = DEFAULT_USER):
        self.token, self.user = token, user
        self._socket = sock
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.RLock()
        self.reset()

    # -- life cycle ------------------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        sock = self._socket if self._server is None else self._server.socket
        if sock is None:
            raise RuntimeError("the local Hub has no port yet; call start() first")
        host, port = sock.getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self) -> "LocalHub":
        if self._server is not None:
            return self
        hub = self

        class Handler(_Handler):
            local_hub = hub

        if self._socket is None:
            self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        else:
            self._server = ThreadingHTTPServer(self._socket.getsockname()[:2], Handler, bind_and_activate=False)
            self._server.socket.close()
            self._server.socket = self._socket
            self._server.server_activate()
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="local-hub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = self._thread = None
            self._socket = None

    def __enter__(self) -> "LocalHub":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget every repo, object, fault, counter and request."""
        with self._lock:
            self._repos: dict[tuple[str, str], Repo] = {}
            self._blobs: dict[str, bytes] = {}  # sha256 -> content
            self._tickets: dict[str, tuple[tuple[str, str], str, int]] = {}  # upload ticket -> (repo, oid, size)
            self.faults: list[Fault] = []
            self.requests: list[RequestRecord] = []
            self.unhandled: list[str] = []
            self.lfs_uploads = 0
            self.lfs_bytes = 0

    # -- test helpers ----------------------------------------------------------------------------------------

    def fail(self, method: str, path: str, *, status: int = 503, times: int = 1, after: int = 0,
             drop: bool = False, handled: bool = False) -> Fault:
        """Fail the next ``times`` requests with ``method`` whose URL path matches the regular expression ``path``,
        after letting ``after`` of them through: answer ``status``, or close the connection unanswered
        (``drop=True``); with ``handled=True`` the request takes effect before its answer is lost."""
        fault = Fault(method.upper(), path, status, times, after, drop, handled)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def commits(self, repo_id: str, repo_type: str = "model") -> list[Commit]:
        """Every commit of the repo (all branches), oldest first; the first is the repo's creation."""
        with self._lock:
            return list(self._repo(repo_type, repo_id).commits.values())

    def files(self, repo_id: str, repo_type: str = "model", revision: str = "main") -> dict[str, bytes]:
        """The repo's files at ``revision``: path -> content."""
        with self._lock:
            commit = self._commit(self._repo(repo_type, repo_id), revision)
            return {path: self._blobs[entry.sha256] for path, entry in sorted(commit.files.items())}

    def branches(self, repo_id: str, repo_type: str = "model") -> dict[str, str]:
        with self._lock:
            return dict(self._repo(repo_type, repo_id).branches)

    def is_private(self, repo_id: str, repo_type: str = "model") -> bool:
        with self._lock:
            return self._repo(repo_type, repo_id).private

    # -- state access (under the lock) -----------------------------------------------------------------------

    def _repo(self, repo_type: str, repo_id: str) -> Repo:
        repo = self._repos.get((repo_type, repo_id))
        if repo is None:
            raise _not_found_repo(repo_type, repo_id)
        return repo

    def _commit(self, repo: Repo, revision: str) -> Commit:
        commit = repo.resolve(revision)
        if commit is None:
            raise HubError(404, f"Revision Not Found: {revision!r} in {repo.repo_id}", "RevisionNotFound")
        return commit

    def _store(self, data: bytes) -> str:
        sha256 = hashlib.sha256(data).hexdigest()
        self._blobs.setdefault(sha256, data)
        return sha256

    def _entry(self, data: bytes, commit_sha: str, lfs: bool) -> FileEntry:
        sha256 = self._store(data)
        git_oid = git_blob_sha1(lfs_pointer(sha256, len(data))) if lfs else git_blob_sha1(data)
        return FileEntry(len(data), sha256, git_oid, lfs, commit_sha)

    def _new_commit(self, repo: Repo, branch: str, parent: Commit | None, changes, deletions, title: str,
                    description: str = "") -> Commit:
        """``changes``: path -> (bytes, lfs); ``deletions``: (path, is_folder) pairs already checked."""
        sha = hashlib.sha1(uuid.uuid4().bytes).hexdigest()  # unique across resets: client caches key on it
        files = dict(parent.files) if parent else {}
        for path, is_folder in deletions:
            if is_folder:
                prefix = path.rstrip("/") + "/"
                for name in [name for name in files if name.startswith(prefix)]:
                    del files[name]
            else:
                files.pop(path, None)
        for path, (data, lfs) in changes.items():
            files[path] = self._entry(data, sha, lfs)
        commit = Commit(sha, parent.sha if parent else None, files, title, description, _now())
        repo.commits[sha] = commit
        repo.branches[branch] = sha
        return commit

    def _check_token(self, authorization: str | None, required: bool) -> bool:
        """True when the request carries the right token; 401 when it carries another, or none where needed."""
        if not authorization:
            if required:
                raise HubError(401, "Authorization header is required for this request (Bearer token)")
            return False
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not secrets.compare_digest(value.strip(), self.token):
            raise HubError(401, "Invalid credentials in Authorization header")
        return True

    def _url(self, repo: Repo) -> str:
        return f"{self.endpoint}/{URL_PREFIXES[repo.repo_type]}{repo.repo_id}"


class _Handler(BaseHTTPRequestHandler):
    """Routes one request to the :class:`LocalHub` it belongs to."""

    local_hub: LocalHub
    protocol_version = "HTTP/1.1"
    timeout = 60  # idle keep-alive connections end
    server_version = "LocalHub/1"

    def log_message(self, format, *args):  # quiet: pytest shows failures, not access logs
        pass

    def do_GET(self):
        self._dispatch("GET")

    def do_HEAD(self):
        self._dispatch("HEAD")

    def do_POST(self):
        self._dispatch("POST")

    def do_PUT(self):
        self._dispatch("PUT")

    def do_DELETE(self):
        self._dispatch("DELETE")

    # -- plumbing --------------------------------------------------------------------------------------------

    def _dispatch(self, method: str) -> None:
        hub = self.local_hub
        url = urlsplit(self.path)
        self.query = parse_qs(url.query)
        self.body = self._read_body()
        with hub._lock:
            fault = next((f for f in hub.faults if f.take(method, url.path)), None)
        authorized = bool(self.headers.get("Authorization"))
        if fault is not None and not fault.handled:
            return self._fail(fault, method, url.path, authorized)
        try:
            status, headers, body = self._route(method, url.path)
        except HubError as error:
            status, headers = error.status, {"X-Error-Message": error.message}
            if error.code:
                headers["X-Error-Code"] = error.code
            body = json.dumps(error.body or {"error": error.message}).encode()
            headers["Content-Type"] = "application/json"
        if fault is not None:
            return self._fail(fault, method, url.path, authorized)
        with hub._lock:
            hub.requests.append(RequestRecord(method, url.path, status, authorized))
        self._send(status, headers, body, head=method == "HEAD")

    def _fail(self, fault: Fault, method: str, path: str, authorized: bool) -> None:
        with self.local_hub._lock:
            self.local_hub.requests.append(RequestRecord(method, path, 0 if fault.drop else fault.status, authorized))
        if fault.drop:
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        message = f"injected fault: {fault.status} for {method} {path}"
        self._send(fault.status, {"X-Error-Message": message, "Content-Type": "application/json"},
                   json.dumps({"error": message}).encode())

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, headers: dict, body: bytes, head: bool = False) -> None:
        self.send_response(status)
        headers = dict(headers)
        headers.setdefault("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not head and body:
            self.wfile.write(body)

    def _json_body(self) -> dict:
        try:
            return json.loads(self.body or b"{}")
        except ValueError as error:
            raise HubError(400, f"request body is not JSON: {error}") from None

    def _authorize(self, required: bool) -> bool:
        return self.local_hub._check_token(self.headers.get("Authorization"), required)

    def _readable_repo(self, repo_type: str, repo_id: str) -> Repo:
        hub = self.local_hub
        authorized = self._authorize(required=False)
        repo = hub._repo(repo_type, repo_id)
        if repo.private and not authorized:
            raise HubError(401, f"Repository Not Found: {repo_type} {repo_id} (private)", "RepoNotFound")
        return repo

    @staticmethod
    def _json(data, status: int = 200, headers: dict | None = None):
        return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(data).encode()

    # -- routing ---------------------------------------------------------------------------------------------

    def _route(self, method: str, path: str):
        segments = [unquote(s) for s in path.split("/")[1:]]
        hub = self.local_hub
        with hub._lock:
            if segments[:1] == ["api"]:
                routed = self._route_api(method, segments[1:])
            elif segments[:1] == ["lfs-upload"] and method == "PUT" and len(segments) == 2:
                routed = self._lfs_put(segments[1])
            else:
                routed = self._route_repo_url(method, segments)
            if routed is None:
                hub.unhandled.append(f"{method} {self.path}")
                raise HubError(404, f"Not Found: {method} {path} (the local test Hub does not serve this)")
            return routed

    def _route_api(self, method: str, segments: list[str]):
        if segments == ["repos", "create"] and method == "POST":
            return self._create_repo()
        if segments == ["repos", "delete"] and method == "DELETE":
            return self._delete_repo()
        if segments == ["validate-yaml"] and method == "POST":
            return self._json({"errors": [], "warnings": []})
        if segments == ["whoami-v2"] and method == "GET":
            self._authorize(required=True)
            user = self.local_hub.user
            return self._json({"type": "user", "id": "0", "name": user, "fullname": user, "orgs": [],
                               "auth": {"type": "access_token", "accessToken": {"displayName": "local-test",
                                                                                "role": "write"}}})
        if len(segments) < 3 or segments[0] not in ("models", "datasets", "spaces"):
            return None
        repo_type, repo_id, rest = segments[0][:-1], "/".join(segments[1:3]), segments[3:]
        if not rest and method == "GET":
            return self._repo_info(repo_type, repo_id, "main")
        if not rest:
            return None
        action, args = rest[0], rest[1:]
        if action == "revision" and args and method == "GET":
            return self._repo_info(repo_type, repo_id, "/".join(args))
        if action == "tree" and args and method == "GET":
            return self._tree(repo_type, repo_id, args[0], "/".join(args[1:]))
        if action == "paths-info" and len(args) == 1 and method == "POST":
            return self._paths_info(repo_type, repo_id, args[0])
        if action == "preupload" and len(args) == 1 and method == "POST":
            return self._preupload(repo_type, repo_id, args[0])
        if action == "commit" and len(args) == 1 and method == "POST":
            return self._commit(repo_type, repo_id, args[0])
        if action == "branch" and len(args) == 1 and method in ("POST", "DELETE"):
            return self._branch(method, repo_type, repo_id, args[0])
        if action == "refs" and not args and method == "GET":
            return self._refs(repo_type, repo_id)
        if action == "commits" and len(args) == 1 and method == "GET":
            return self._list_commits(repo_type, repo_id, args[0])
        if action == "settings" and not args and method == "PUT":
            return self._settings(repo_type, repo_id)
        return None

    def _route_repo_url(self, method: str, segments: list[str]):
        repo_type = "model"
        if segments[:1] in (["datasets"], ["spaces"]):
            repo_type, segments = segments[0][:-1], segments[1:]
        if len(segments) == 6 and segments[1].endswith(".git") and segments[2:] == ["info", "lfs", "objects",
                                                                                      "batch"]:
            if method == "POST":
                return self._lfs_batch(repo_type, f"{segments[0]}/{segments[1][:-4]}")
            return None
        if len(segments) >= 5 and segments[2] == "resolve" and method in ("GET", "HEAD"):
            return self._resolve(repo_type, "/".join(segments[:2]), segments[3], "/".join(segments[4:]))
        return None

    # -- repos -----------------------------------------------------------------------------------------------

    def _create_repo(self):
        hub = self.local_hub
        self._authorize(required=True)
        payload = self._json_body()
        name, namespace = payload.get("name"), payload.get("organization") or hub.user
        repo_type = payload.get("type") or "model"
        if not name or repo_type not in REPO_TYPES:
            raise HubError(400, f"create: need a name and a type in {REPO_TYPES}, got {payload!r}")
        repo_id = f"{namespace}/{name}"
        existing = hub._repos.get((repo_type, repo_id))
        url = f"{hub.endpoint}/{URL_PREFIXES[repo_type]}{repo_id}"
        if existing is not None:
            raise HubError(409, "You already created this repo", None, {"error": "You already created this repo",
                                                                          "url": url})
        private = payload.get("private")
        if "visibility" in payload:
            private = payload["visibility"] == "private"
        repo = Repo(repo_type, repo_id, bool(private), _now())
        hub._repos[(repo_type, repo_id)] = repo
        hub._new_commit(repo, "main", None, {".gitattributes": (GITATTRIBUTES, False)}, (), "initial commit")
        return self._json({"url": url, "name": repo_id, "id": repo_id})

    def _delete_repo(self):
        self._authorize(required=True)
        payload = self._json_body()
        repo_type = payload.get("type") or "model"
        repo_id = f"{payload.get('organization') or self.local_hub.user}/{payload.get('name')}"
        self.local_hub._repo(repo_type, repo_id)
        del self.local_hub._repos[(repo_type, repo_id)]
        return self._json({})

    def _settings(self, repo_type: str, repo_id: str):
        self._authorize(required=True)
        repo = self.local_hub._repo(repo_type, repo_id)
        payload = self._json_body()
        if "private" in payload:
            repo.private = bool(payload["private"])
        if "visibility" in payload:
            repo.private = payload["visibility"] == "private"
        return self._json({"private": repo.private})

    def _repo_info(self, repo_type: str, repo_id: str, revision: str):
        repo = self._readable_repo(repo_type, repo_id)
        commit = self.local_hub._commit(repo, revision)
        siblings = [{"rfilename": path, "size": entry.size,
                     **({"lfs": {"sha256": entry.sha256, "size": entry.size,
                                 "pointerSize": len(lfs_pointer(entry.sha256, entry.size))}} if entry.lfs else {})}
                    for path, entry in sorted(commit.files.items())]
        namespace = repo_id.split("/")[0]
        return self._json({
            "_id": hashlib.sha1(f"{repo_type}/{repo_id}".encode()).hexdigest()[:24], "id": repo_id,
            "author": namespace, "sha": commit.sha, "lastModified": commit.date, "createdAt": repo.created_at,
            "private": repo.private, "gated": False, "disabled": False, "downloads": 0, "likes": 0, "tags": [],
            "siblings": siblings, "usedStorage": sum(e.size for e in commit.files.values()),
        })

    def _branch(self, method: str, repo_type: str, repo_id: str, branch: str):
        hub = self.local_hub
        self._authorize(required=True)
        repo = hub._repo(repo_type, repo_id)
        if method == "DELETE":
            if branch not in repo.branches or branch == "main":
                raise HubError(404 if branch not in repo.branches else 403, f"cannot delete branch {branch!r}",
                               "RevisionNotFound" if branch not in repo.branches else None)
            del repo.branches[branch]
            return self._json({})
        if branch in repo.branches:
            raise HubError(409, f"Reference already exists: refs/heads/{branch}")
        start = self._json_body().get("startingPoint") or "main"
        repo.branches[branch] = hub._commit(repo, start).sha
        return self._json({})

    def _refs(self, repo_type: str, repo_id: str):
        repo = self._readable_repo(repo_type, repo_id)
        branches = [{"name": name, "ref": f"refs/heads/{name}", "targetCommit": sha}
                    for name, sha in sorted(repo.branches.items())]
        return self._json({"branches": branches, "converts": [], "tags": [], "pullRequests": []})

    def _list_commits(self, repo_type: str, repo_id: str, revision: str):
        hub = self.local_hub
        repo = self._readable_repo(repo_type, repo_id)
        commit, history = hub._commit(repo, revision), []
        while commit is not None:
            history.append({"id": commit.sha, "title": commit.title, "message": commit.description,
                            "authors": [{"user": hub.user}], "date": commit.date})
            commit = repo.commits.get(commit.parent) if commit.parent else None
        return self._json(history)

    # -- listing ---------------------------------------------------------------------------------------------

    def _file_info(self, repo: Repo, path: str, entry: FileEntry, expand: bool) -> dict:
        info = {"type": "file", "oid": entry.git_oid, "size": entry.size, "path": path}
        if entry.lfs:
            info["lfs"] = {"oid": entry.sha256, "size": entry.size,
                           "pointerSize": len(lfs_pointer(entry.sha256, entry.size))}
        if expand:
            last = repo.commits[entry.last_commit]
            info["lastCommit"] = {"id": last.sha, "title": last.title, "date": last.date}
        return info

    def _folder_info(self, repo: Repo, commit: Commit, path: str, expand: bool) -> dict:
        below = sorted((name, entry) for name, entry in commit.files.items() if name.startswith(path + "/"))
        tree_id = hashlib.sha1("".join(f"{name}:{entry.git_oid}" for name, entry in below).encode()).hexdigest()
        info = {"type": "directory", "oid": tree_id, "size": 0, "path": path}
        if expand:
            last = max((repo.commits[entry.last_commit] for _, entry in below), key=lambda c: c.date)
            info["lastCommit"] = {"id": last.sha, "title": last.title, "date": last.date}
        return info

    @staticmethod
    def _folders(commit: Commit) -> set[str]:
        folders = set()
        for name in commit.files:
            parts = name.split("/")[:-1]
            folders.update("/".join(parts[:i]) for i in range(1, len(parts) + 1))
        return folders

    def _flag(self, name: str) -> bool:
        return any(value.lower() in ("1", "true") for value in self.query.get(name, []))

    def _tree(self, repo_type: str, repo_id: str, revision: str, path: str):
        repo = self._readable_repo(repo_type, repo_id)
        commit = self.local_hub._commit(repo, revision)
        path = path.strip("/")
        recursive, expand = self._flag("recursive"), self._flag("expand")
        folders = self._folders(commit)
        if path and path not in folders:
            if path in commit.files:
                return self._json([self._file_info(repo, path, commit.files[path], expand)])
            raise HubError(404, f"Entry not found: {path!r} at {revision}", "EntryNotFound")
        prefix = path + "/" if path else ""
        entries = []
        for folder in sorted(folders):
            if folder.startswith(prefix) and (recursive or "/" not in folder[len(prefix):]):
                entries.append(self._folder_info(repo, commit, folder, expand))
        for name, entry in sorted(commit.files.items()):
            if name.startswith(prefix) and (recursive or "/" not in name[len(prefix):]):
                entries.append(self._file_info(repo, name, entry, expand))
        return self._json(entries)

    def _paths_info(self, repo_type: str, repo_id: str, revision: str):
        repo = self._readable_repo(repo_type, repo_id)
        commit = self.local_hub._commit(repo, revision)
        if (self.headers.get("Content-Type") or "").startswith("application/json"):
            payload = self._json_body()
            paths, expand = payload.get("paths", []), bool(payload.get("expand"))
        else:
            form = parse_qs(self.body.decode())
            paths = form.get("paths", [])
            expand = any(v.lower() in ("1", "true") for v in form.get("expand", []))
        folders, answer = self._folders(commit), []
        for path in paths:
            path = path.strip("/")
            if path in commit.files:
                answer.append(self._file_info(repo, path, commit.files[path], expand))
            elif path in folders:
                answer.append(self._folder_info(repo, commit, path, expand))
        return self._json(answer)

    # -- uploads ---------------------------------------------------------------------------------------------

    def _preupload(self, repo_type: str, repo_id: str, revision: str):
        hub = self.local_hub
        self._authorize(required=True)
        repo = hub._repo(repo_type, repo_id)
        if self.query.get("create_pr"):
            raise HubError(400, "pull requests are not supported by the local test Hub")
        commit = repo.resolve(revision)  # a branch about to be created has no files yet
        answers = []
        for item in self._json_body().get("files", []):
            path, size = item["path"], int(item["size"])
            sample = base64.b64decode(item.get("sample", ""))
            lfs = size > LFS_THRESHOLD_BYTES or path.lower().endswith(LFS_SUFFIXES) or not _is_text(sample)
            remote = commit.files.get(path) if commit else None
            oid = None
            if remote is not None:
                oid = remote.sha256 if remote.lfs else remote.git_oid
            answers.append({"path": path, "uploadMode": "lfs" if lfs else "regular", "shouldIgnore": False,
                            "oid": oid})
        return self._json({"files": answers, "commitOid": commit.sha if commit else None})

    def _lfs_batch(self, repo_type: str, repo_id: str):
        hub = self.local_hub
        self._authorize(required=True)
        repo = hub._repo(repo_type, repo_id)
        payload = self._json_body()
        if payload.get("operation") != "upload":
            raise HubError(400, f"LFS batch: only 'upload' is served, got {payload.get('operation')!r}")
        objects = []
        for item in payload.get("objects", []):
            oid, size = item.get("oid"), item.get("size")
            if not (isinstance(oid, str) and re.fullmatch(r"[0-9a-f]{64}", oid) and isinstance(size, int)):
                objects.append({"oid": str(oid), "size": size if isinstance(size, int) else 0,
                                "error": {"code": 422, "message": "oid must be a sha256 hex digest, size an int"}})
                continue
            answer = {"oid": oid, "size": size, "authenticated": True}
            if oid not in repo.lfs_objects:
                ticket = secrets.token_urlsafe(16)
                hub._tickets[ticket] = ((repo_type, repo_id), oid, size)
                answer["actions"] = {"upload": {"href": f"{hub.endpoint}/lfs-upload/{ticket}"}}
            objects.append(answer)
        return 200, {"Content-Type": "application/vnd.git-lfs+json"}, json.dumps(
            {"transfer": "basic", "objects": objects, "hash_algo": "sha256"}).encode()

    def _lfs_put(self, ticket: str):
        hub = self.local_hub
        if ticket not in hub._tickets:
            raise HubError(403, "LFS upload: unknown or used ticket (ask the batch endpoint for a new href)")
        (repo_key, oid, size) = hub._tickets[ticket]
        data = self.body
        if len(data) != size or hashlib.sha256(data).hexdigest() != oid:
            raise HubError(400, f"LFS upload: content does not match the announced sha256 {oid} and size {size} "
                                f"(got {len(data)} bytes)")
        del hub._tickets[ticket]
        hub._store(data)
        repo = hub._repos.get(repo_key)
        if repo is not None:
            repo.lfs_objects.add(oid)
        hub.lfs_uploads += 1
        hub.lfs_bytes += len(data)
        return 200, {}, b""

    def _commit(self, repo_type: str, repo_id: str, revision: str):
        hub = self.local_hub
        self._authorize(required=True)
        repo = hub._repo(repo_type, repo_id)
        if self.query.get("create_pr"):
            raise HubError(400, "pull requests are not supported by the local test Hub")
        if revision not in repo.branches:
            raise HubError(404, f"Revision Not Found: branch {revision!r} of {repo_id} (commits go to branches)",
                           "RevisionNotFound")
        parent = repo.resolve(revision)
        header, changes, deletions = None, {}, []
        existing = set(parent.files)
        for number, line in enumerate(self.body.splitlines(), 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                key, value = item["key"], item["value"]
            except (ValueError, KeyError, TypeError):
                raise HubError(400, f"commit: line {number} is not a {{key, value}} JSON object") from None
            if key == "header":
                header = value
            elif key == "file":
                if value.get("encoding", "base64") != "base64":
                    raise HubError(400, f"commit: line {number}: encoding {value.get('encoding')!r} unsupported")
                changes[value["path"]] = (base64.b64decode(value["content"]), False)
            elif key == "lfsFile":
                oid = value.get("oid")
                if oid not in repo.lfs_objects:
                    raise HubError(422, f"commit: line {number}: LFS object {oid} for {value.get('path')!r} was "
                                        "never uploaded to this repo")
                changes[value["path"]] = (hub._blobs[oid], True)
            elif key in ("deletedFile", "deletedFolder"):
                path = value["path"].rstrip("/")
                is_folder = key == "deletedFolder"
                known = any(name.startswith(path + "/") for name in existing) if is_folder else path in existing
                if not known:
                    raise HubError(404, f"commit: line {number}: A file with this name doesn't exist: {path!r}",
                                   "EntryNotFound")
                deletions.append((path, is_folder))
            else:
                raise HubError(400, f"commit: line {number}: unknown key {key!r}")
        if header is None:
            raise HubError(400, "commit: the first line must be the header")
        expected_parent = header.get("parentCommit")
        if expected_parent and expected_parent != parent.sha:
            raise HubError(412, f"commit: parent {expected_parent} is not the head of {revision} ({parent.sha})")
        commit = hub._new_commit(repo, revision, parent, changes, deletions, header.get("summary") or "",
                                 header.get("description") or "")
        return self._json({"commitUrl": f"{hub._url(repo)}/commit/{commit.sha}", "commitOid": commit.sha,
                           "pullRequestUrl": None, "success": True})

    # -- downloads -------------------------------------------------------------------------------------------

    def _resolve(self, repo_type: str, repo_id: str, revision: str, path: str):
        hub = self.local_hub
        repo = self._readable_repo(repo_type, repo_id)
        commit = hub._commit(repo, revision)
        entry = commit.files.get(path)
        if entry is None:
            raise HubError(404, f"Entry not found: {path!r} at {revision} of {repo_id}", "EntryNotFound")
        data = hub._blobs[entry.sha256]
        etag = f'"{entry.sha256 if entry.lfs else entry.git_oid}"'
        headers = {"ETag": etag, "X-Repo-Commit": commit.sha, "Accept-Ranges": "bytes",
                   "Content-Type": "application/octet-stream", "Content-Disposition": f"inline; filename*=UTF-8''"
                   f"{quote(path.rsplit('/', 1)[-1])}"}
        if entry.lfs:
            headers.update({"X-Linked-Etag": etag, "X-Linked-Size": str(entry.size)})
        ranged = self.headers.get("Range")
        if ranged and self.command == "GET":
            span = _parse_range(ranged, len(data))
            if span is None:
                return 416, {**headers, "Content-Range": f"bytes */{len(data)}"}, b""
            start, end = span
            headers["Content-Range"] = f"bytes {start}-{end}/{len(data)}"
            return 206, headers, data[start:end + 1]
        return 200, headers, data


def _parse_range(header: str, size: int) -> tuple[int, int] | None:
    """The (first, last) byte of a single ``bytes=`` range, or None when it cannot be satisfied."""
    match = re.fullmatch(r"\s*bytes=(\d*)-(\d*)\s*", header)
    if not match or (not match.group(1) and not match.group(2)):
        return None
    first, last = match.groups()
    if not first:
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        return None
    return start, end


def _is_text(sample: bytes) -> bool:
    if b"\0" in sample:
        return False
    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as error:
        return error.start >= len(sample) - 3  # a character cut at the end of the 512-byte sample
    return True


# ---------------------------------------------------------------------------------------------------------------
# Client environment


def configure_client_environment() -> socket.socket:
    """Reserve a port on 127.0.0.1 and point the Hugging Face clients of this process at it.

    Must run before huggingface_hub, datasets or transformers are imported (they read the variables once, at
    import). Sets ``HF_ENDPOINT``, ``HF_HUB_DISABLE_XET=1`` (hf_xet would bypass LFS), ``HF_HOME`` and the cache
    variables to a temporary folder removed at exit, and turns telemetry off. Returns the bound (not yet listening)
    socket for :class:`LocalHub`; until the server starts, connections to it are refused at once.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    home = tempfile.mkdtemp(prefix="rsclip-hf-home-")
    atexit.register(shutil.rmtree, home, ignore_errors=True)
    host, port = sock.getsockname()[:2]
    os.environ.update({
        "HF_ENDPOINT": f"http://{host}:{port}",
        "HF_HUB_DISABLE_XET": "1",
        "HF_HOME": home,
        "HF_HUB_CACHE": os.path.join(home, "hub"),
        "HF_DATASETS_CACHE": os.path.join(home, "datasets"),
        "HF_XET_CACHE": os.path.join(home, "xet"),
        "HF_TOKEN_PATH": os.path.join(home, "token"),
        "HF_HUB_DISABLE_TELEMETRY": "1",
    })
    for name in ("HUGGINGFACE_HUB_CACHE", "TRANSFORMERS_CACHE", "HF_HUB_ENABLE_HF_TRANSFER"):
        os.environ.pop(name, None)
    return sock


def point_clients_at(hub: LocalHub, monkeypatch) -> None:
    """Make sure the already imported clients talk to ``hub``; patch their copies of the endpoint if a library was
    imported before :func:`configure_client_environment` ran (e.g. by a pytest plugin), and turn offline mode off
    (loopback is all these tests reach)."""
    import sys

    endpoint = hub.endpoint
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:
        if constants.ENDPOINT != endpoint:
            monkeypatch.setattr(constants, "ENDPOINT", endpoint)
            monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE",
                                endpoint + "/{repo_id}/resolve/{revision}/{filename}")
        monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(constants, "HF_HUB_DISABLE_XET", True)
    config = sys.modules.get("datasets.config")
    if config is not None:
        if config.HF_ENDPOINT != endpoint:
            monkeypatch.setattr(config, "HF_ENDPOINT", endpoint)
            monkeypatch.setattr(config, "HUB_DATASETS_URL", endpoint + "/datasets/{repo_id}/resolve/{revision}/{path}")
        monkeypatch.setattr(config, "HF_HUB_OFFLINE", False)
        monkeypatch.setattr(config, "HF_DATASETS_OFFLINE", False)
    forget_client_state()


def forget_client_state() -> None:
    """Drop what the clients keep in memory between calls: fsspec keeps HfFileSystem instances, and their listings,
    across tests, and a listing of a repo the server has since forgotten would be served from there."""
    import sys

    file_system = sys.modules.get("huggingface_hub.hf_file_system")
    if file_system is not None:
        file_system.HfFileSystem.clear_instance_cache()
