"""Time of pushing a build with ``rsdata.publish.push_dataset`` against ``HfApi.upload_folder``, in the same run,
both against the local Hub test server (``tests/hub_server.py``, in process, on 127.0.0.1).

The build: ``--shards`` Parquet shards of ``--shard-mb`` MiB of random bytes each under ``data/`` (random so that
every shard is a distinct LFS object), plus a card and a build report, written to a temporary folder. What
is timed, each route on its own repo:

- first push: everything is sent (hashing, preupload, LFS uploads, commit);
- second push: nothing changed (the route must find out and make no commit);
- resumed push: the first push of a third repo is cut at its last commit, then run again (push_dataset only:
  upload_folder has no resume; its "resume" is a whole new upload_folder call, timed for comparison).

The server runs in the same process, so the figures measure client-side work (hashing, requests, copies) over
loopback, not a network. Prints seconds per route and the ratio push_dataset / upload_folder (time; < 1 is
faster). ``--max-commit-mb`` sets push_dataset's commit chunk size (upload_folder makes one commit).

    python benchmarks/publish.py [--shards 8] [--shard-mb 16] [--max-commit-mb 32]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests import hub_server  # noqa: E402  (must set HF_ENDPOINT before huggingface_hub is imported)

_SOCKET = hub_server.configure_client_environment()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shards", type=int, default=8)
    parser.add_argument("--shard-mb", type=float, default=16)
    parser.add_argument("--max-commit-mb", type=float, default=32)
    args = parser.parse_args()

    hub = hub_server.LocalHub(_SOCKET).start()
    os.environ["HF_TOKEN"] = hub.token
    from huggingface_hub import HfApi
    from huggingface_hub.utils import disable_progress_bars

    from rsdata.publish import RetryPolicy, push_dataset

    disable_progress_bars()
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_build(Path(tmp) / "build", args.shards, int(args.shard_mb * 2 ** 20))
        total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        print(f"build: {args.shards} shards of {args.shard_mb:g} MiB, {total / 2 ** 20:.1f} MiB in all; "
              f"push_dataset commits of at most {args.max_commit_mb:g} MiB")
        api = HfApi()
        max_commit = int(args.max_commit_mb * 2 ** 20)

        def ours(repo: str, retry: RetryPolicy | None = None) -> float:
            started = time.perf_counter()
            push_dataset(folder, repo, progress=False, max_commit_bytes=max_commit, retry=retry)
            return time.perf_counter() - started

        def baseline(repo: str) -> float:
            started = time.perf_counter()
            api.create_repo(repo, repo_type="dataset", exist_ok=True)
            api.upload_folder(folder_path=folder, repo_id=repo, repo_type="dataset", ignore_patterns=[".rsdata/*"])
            return time.perf_counter() - started

        rows = [("first push", ours("user/ours"), baseline("user/baseline")),
                ("second push (no change)", ours("user/ours"), baseline("user/baseline"))]
        commits = (len(hub.commits("user/ours", "dataset")), len(hub.commits("user/baseline", "dataset")))

        # The cut run fails at once (one attempt); upload_folder does not retry a refused commit either.
        resumed, resent = resume_after_cut(hub, lambda repo: ours(repo, RetryPolicy(attempts=1)), ours,
                                           "user/ours-resume", commits[0] - 2)
        resumed_baseline, resent_baseline = resume_after_cut(hub, baseline, baseline, "user/baseline-resume", 0)
        rows.append(("resume after a cut at the last commit", resumed, resumed_baseline))

    print(f"{'route':<40} {'push_dataset':>13} {'upload_folder':>14} {'ratio':>7}")
    for name, mine, theirs in rows:
        print(f"{name:<40} {mine:>12.2f}s {theirs:>13.2f}s {mine / theirs:>7.2f}")
    print(f"commits after two pushes: push_dataset {commits[0]}, upload_folder {commits[1]} (1 = repo creation)")
    print(f"LFS data sent again by the resumed push: push_dataset {resent / 2 ** 20:.1f} MiB, upload_folder "
          f"{resent_baseline / 2 ** 20:.1f} MiB")
    hub.stop()


def resume_after_cut(hub, cut_push, push, repo: str, commits_before_cut: int) -> tuple[float, int]:
    """Run ``cut_push(repo)`` with every commit after the first ``commits_before_cut`` refused (HTTP 500), then
    time ``push(repo)``; returns (its seconds, the LFS bytes it sent)."""
    hub.fail("POST", r"/commit/", status=500, after=commits_before_cut, times=10 ** 6)
    try:
        cut_push(repo)
    except Exception:  # noqa: BLE001 - the cut is the point
        pass
    hub.clear_faults()
    sent_before = hub.lfs_bytes
    seconds = push(repo)
    return seconds, hub.lfs_bytes - sent_before


def make_build(folder: Path, shards: int, shard_bytes: int) -> Path:
    """A folder shaped like an rsdata build (card, report, shards, state folder) with random-byte shards."""
    import json

    (folder / "data").mkdir(parents=True)
    (folder / ".rsdata").mkdir()
    names = [f"data/train-{i:05d}-of-{shards:05d}.parquet" for i in range(shards)]
    for name in names:
        (folder / name).write_bytes(b"PAR1" + os.urandom(shard_bytes - 8) + b"PAR1")
    (folder / "build_report.json").write_text(json.dumps({"shards": names}))
    (folder / "README.md").write_text("---\nconfigs:\n- config_name: default\n  data_files:\n  - split: train\n"
                                      "    path: data/train-*\n---\n# benchmark build\n")
    (folder / ".rsdata" / "plan.json").write_text(json.dumps({"shards": names}))
    return folder


if __name__ == "__main__":
    main()
