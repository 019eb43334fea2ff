"""Publishing builds to the Hub (rsdata/publish.py, `rsdata push`, `rsdata convert --push-to-hub`), end to end
against the local Hub test server: what arrives, that it reads back row for row, and that pushes are idempotent,
resumable, retried, token-safe and refused for folders that are not finished builds."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from rsdata.cli import main
from rsdata.errors import PublishError
from rsdata.publish import RetryPolicy, dataset_files, push_dataset
from tests.conftest import shard_path

FAST = RetryPolicy(attempts=3, base_wait=0.0)


@pytest.fixture
def build(dota_source: Path, tmp_path: Path) -> Path:
    """The dota_source fixture converted into several small shards (train 3, validation 1)."""
    out = tmp_path / "out"
    assert main(["convert", "dota", str(dota_source), str(out), "--no-progress", "--max-shard-mb", "0.001"]) == 0
    assert len(list((out / "data").glob("train-*.parquet"))) >= 3
    return out


def _raw_rows(dataset) -> list[dict]:
    """Every row with every column, the image as its stored bytes (undecoded)."""
    import datasets

    return [dict(row) for row in dataset.cast_column("image", datasets.Image(decode=False))]


def _assert_reads_back(repo_id: str, local: Path, cache: Path, revision: str | None = None) -> None:
    import datasets

    expected = datasets.load_dataset(str(local), cache_dir=str(cache / "local"))
    remote = datasets.load_dataset(repo_id, revision=revision, cache_dir=str(cache / "remote"))
    streamed = datasets.load_dataset(repo_id, revision=revision, streaming=True)
    assert set(remote) == set(streamed) == set(expected) == {"train", "validation"}
    for split in expected:
        rows = _raw_rows(expected[split])
        assert remote[split].features == expected[split].features
        assert _raw_rows(remote[split]) == rows
        assert _raw_rows(streamed[split]) == rows
        assert all(isinstance(row["image"]["bytes"], bytes) and row["image"]["bytes"] for row in rows)


def _local_files(folder: Path) -> dict[str, bytes]:
    return {name: (folder / name).read_bytes() for name in dataset_files(folder)}


def test_push_uploads_the_build_and_it_loads_back_row_for_row(build, local_hub, tmp_path, capsys):
    (build / "data" / ".train-00009.parquet.tmp").write_bytes(b"half a shard")  # a killed run's leftover
    (build / "splits").mkdir()
    (build / "splits" / "train.txt").write_text("P0000\n")
    assert main(["push", str(build), "user/dota", "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert f"to {local_hub.endpoint}/datasets/user/dota (revision main)" in printed and "Last commit:" in printed

    remote = local_hub.files("user/dota", "dataset")
    assert remote.pop(".gitattributes")
    assert remote == _local_files(build)
    assert {"README.md", "build_report.json", "splits/train.txt"} <= set(remote)
    assert not any(".rsdata" in r.path or ".tmp" in r.path for r in local_hub.requests)
    assert not any(".rsdata" in name or name.endswith(".tmp") for name in remote)
    assert (build / ".rsdata").is_dir()
    assert "images/contact_sheet.png" in remote  # the card's image goes up with it (a binary file: LFS)
    assert local_hub.lfs_uploads == len(list((build / "data").glob("*.parquet"))) + 1

    _assert_reads_back("user/dota", build, tmp_path / "cache")
    assert local_hub.unhandled == [], "the clients asked nothing the local Hub does not serve"


def test_a_second_push_commits_and_uploads_nothing(build, local_hub, capsys):
    first = push_dataset(build, "user/again", progress=False)
    commits, lfs_bytes = len(local_hub.commits("user/again", "dataset")), local_hub.lfs_bytes
    assert len(first.commits) == 1 and commits == 2 and lfs_bytes == first.bytes_uploaded - sum(
        len(data) for name, data in _local_files(build).items() if not name.endswith((".parquet", ".png")))

    assert main(["push", str(build), "user/again", "--no-progress"]) == 0
    assert "Nothing to push: all" in capsys.readouterr().out
    second = push_dataset(build, "user/again", progress=False)
    assert second.commits == [] and second.uploaded == [] and second.bytes_uploaded == 0
    assert sorted(second.skipped) == sorted(_local_files(build))
    assert len(local_hub.commits("user/again", "dataset")) == commits
    assert local_hub.lfs_bytes == lfs_bytes


def test_a_push_cut_midway_resumes_and_sends_only_what_is_missing(build, local_hub, tmp_path):
    order = dataset_files(build)
    assert order[-1] == "README.md" and all(name.startswith("data/") for name in order[:4])
    sizes = {name: (build / name).stat().st_size for name in order}

    # One file per commit; the third commit is refused every time (after its shard reached LFS storage).
    cut = local_hub.fail("POST", r"/commit/", status=500, after=2, times=100)
    with pytest.raises(PublishError) as error:
        push_dataset(build, "user/cut", progress=False, max_commit_files=1, retry=FAST)
    message = str(error.value)
    assert "committing 1 file(s) (data/train-00002" in message and "after 3 attempts" in message
    assert "500" in message and f"2 of {len(order)} commit(s) of this push are on the Hub" in message
    assert "run the same push again" in message and cut.hits == 3
    assert set(local_hub.files("user/cut", "dataset")) == {".gitattributes", *order[:2]}
    held_before = local_hub.lfs_bytes
    assert held_before == sum(sizes[name] for name in order[:3]), "the refused commit's shard was uploaded"

    local_hub.clear_faults()
    resumed = push_dataset(build, "user/cut", progress=False, max_commit_files=1)
    assert resumed.skipped == order[:2] and resumed.uploaded == order[2:]
    sent = local_hub.lfs_bytes - held_before
    assert sent == sum(sizes[name] for name in order[3:] if name.endswith((".parquet", ".png"))), \
        "nothing sent twice"

    push_dataset(build, "user/clean", progress=False)
    assert local_hub.files("user/cut", "dataset") == local_hub.files("user/clean", "dataset")
    assert len(local_hub.commits("user/cut", "dataset")) == 1 + len(order)


def test_transient_errors_and_dropped_connections_are_retried(build, local_hub, tmp_path):
    unavailable = local_hub.fail("POST", r"/commit/", status=503)
    dropped = local_hub.fail("POST", r"/commit/", drop=True, after=1)
    landed = local_hub.fail("POST", r"/commit/", drop=True, handled=True, after=2)  # applied, answer lost
    lfs_dropped = local_hub.fail("PUT", r"^/lfs-upload/", drop=True, after=1)
    throttled = local_hub.fail("POST", r"/preupload/", status=429)
    result = push_dataset(build, "user/flaky", progress=False, max_commit_files=2, retry=FAST)
    assert [f.hits for f in (unavailable, dropped, landed, lfs_dropped, throttled)] == [1, 1, 1, 1, 1]
    chunks = -(-len(dataset_files(build)) // 2)
    assert len(local_hub.commits("user/flaky", "dataset")) == 1 + chunks, "no commit was made twice"
    assert result.uploaded == dataset_files(build)
    assert local_hub.files("user/flaky", "dataset") == local_hub.files("user/flaky", "dataset", "main")
    _assert_reads_back("user/flaky", build, tmp_path / "cache")


def test_retries_are_bounded_and_other_errors_are_not_retried(build, local_hub):
    local_hub.fail("POST", r"/commit/", status=503, times=100)
    with pytest.raises(PublishError, match=r"after 3 attempts: .*503.* 0 of 1 commit\(s\)"):
        push_dataset(build, "user/down", progress=False, retry=FAST)
    local_hub.clear_faults()
    refused = local_hub.fail("POST", r"/commit/", status=422, times=100)
    with pytest.raises(PublishError, match=r"committing .* failed: .*422"):
        push_dataset(build, "user/down", progress=False, retry=FAST)
    assert refused.hits == 1


def test_the_token_never_appears_in_output_logs_or_files(build, local_hub, monkeypatch, capsys, caplog):
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="huggingface_hub")
    token = local_hub.token
    assert main(["push", str(build), "user/secret", "--private"]) == 0  # with progress bars
    printed = capsys.readouterr()
    printed = printed.out + printed.err
    assert local_hub.is_private("user/secret", "dataset")
    assert main(["push", str(build), "user/public", "--no-progress"]) == 0
    commits = len(local_hub.commits("user/public", "dataset"))
    (build / "README.md").write_text((build / "README.md").read_text() + "\nMore.\n")
    assert main(["push", str(build), "user/public", "--private", "--no-progress"]) == 1
    assert "already exists and is public" in capsys.readouterr().err
    assert len(local_hub.commits("user/public", "dataset")) == commits and not local_hub.is_private("user/public",
                                                                                                   "dataset")
    (build / "build_report.json").write_text((build / "build_report.json").read_text() + " ")
    local_hub.fail("POST", r"/commit/", status=503, times=100)
    with pytest.raises(PublishError) as failed:
        push_dataset(build, "user/secret", retry=FAST)
    monkeypatch.setenv("HF_TOKEN", token + "x")  # a wrong token is reported, without its value
    local_hub.clear_faults()
    assert main(["push", str(build), "user/secret"]) == 1
    captured = capsys.readouterr()
    assert "401" in captured.err and "the token came from HF_TOKEN" in captured.err
    everything = printed + captured.out + captured.err + caplog.text + str(failed.value) + repr(failed.value.__cause__)
    assert "trying again" in caplog.text and "Pushed" in printed and "hash" in printed
    written = b"".join(p.read_bytes() for p in build.rglob("*") if p.is_file())
    assert token not in everything and token.encode() not in written


def test_the_token_comes_from_the_argument_hf_token_or_the_stored_login(build, local_hub, monkeypatch, tmp_path):
    from huggingface_hub import constants

    monkeypatch.delenv("HF_TOKEN")
    monkeypatch.delenv("HUGGING_FACE_HUB_TOKEN", raising=False)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "no-token"))
    with pytest.raises(PublishError, match="no Hugging Face token: set HF_TOKEN, or log in"):
        push_dataset(build, "user/tok", progress=False)
    assert local_hub.requests == []

    assert push_dataset(build, "user/tok", token=local_hub.token, progress=False).commits
    (tmp_path / "token").write_text(local_hub.token)
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(tmp_path / "token"))
    (build / "README.md").write_text((build / "README.md").read_text() + "\nMore.\n")
    assert push_dataset(build, "user/tok", progress=False).uploaded == ["README.md"]
    monkeypatch.setenv("HF_TOKEN", "hf_not_the_right_one")
    with pytest.raises(PublishError, match="the token came from HF_TOKEN"):
        push_dataset(build, "user/tok", progress=False)


def test_a_folder_that_is_not_a_finished_build_is_refused(build, local_hub, tmp_path, capsys):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["push", str(empty), "user/x", "--no-progress"]) == 1
    assert "not a finished rsdata build: README.md and build_report.json or corpus_report.json missing" in \
        capsys.readouterr().err
    assert main(["push", str(tmp_path / "nowhere"), "user/x"]) == 1
    assert "is not a folder" in capsys.readouterr().err

    shard = sorted((build / "data").glob("train-*.parquet"))[1]
    shard.rename(shard.with_suffix(".moved"))
    assert main(["push", str(build), "user/x"]) == 1
    assert f"1 shard(s) listed in build_report.json are missing, first data/{shard.name}" in capsys.readouterr().err
    shard.with_suffix(".moved").rename(shard)
    assert main(["push", str(build), "not a repo id"]) == 2
    assert "repo id must be NAMESPACE/NAME" in capsys.readouterr().err

    corpus = tmp_path / "corpus"  # a corpus build: corpus_report.json, shards below data/<config>/<source>/
    (corpus / "data" / "det10" / "dota").mkdir(parents=True)
    (corpus / "corpus_report.json").write_text("{}")
    (corpus / "README.md").write_text("---\nconfigs:\n- config_name: det10\n  data_files:\n  - split: train\n"
                                      "    path: data/det10/*/train-*\n---\n")
    assert main(["push", str(corpus), "user/corpus"]) == 1
    assert "no file matches 'data/det10/*/train-*', a data_files pattern of README.md" in capsys.readouterr().err
    assert local_hub.requests == [], "nothing reached the Hub"
    (corpus / "data" / "det10" / "dota" / "train-00000-of-00001.parquet").write_bytes(b"PAR1")
    assert main(["push", str(corpus), "user/corpus", "--no-progress"]) == 0
    assert set(local_hub.files("user/corpus", "dataset")) == {
        ".gitattributes", "README.md", "corpus_report.json", "data/det10/dota/train-00000-of-00001.parquet"}


def test_revision_pushes_to_a_branch_that_load_dataset_reads(build, local_hub, tmp_path):
    assert main(["push", str(build), "user/branched", "--revision", "v1.0", "--no-progress"]) == 0
    assert set(local_hub.branches("user/branched", "dataset")) == {"main", "v1.0"}
    assert set(local_hub.files("user/branched", "dataset")) == {".gitattributes"}
    _assert_reads_back("user/branched", build, tmp_path / "cache", revision="v1.0")
    again = push_dataset(build, "user/branched", revision="v1.0", progress=False)
    assert again.commits == [] and again.url.endswith("/datasets/user/branched/tree/v1.0")


def test_convert_push_to_hub_and_stale_shards_of_an_earlier_build_are_deleted(dota_source, local_hub, tmp_path,
                                                                                capsys):
    out = tmp_path / "out"
    assert main(["convert", "dota", str(dota_source), str(out), "--no-progress", "--push-to-hub", "user/fresh",
                 "--private", "--max-shard-mb", "0.001"]) == 0
    assert "Pushed" in capsys.readouterr().out and local_hub.is_private("user/fresh", "dataset")
    before = {name for name in local_hub.files("user/fresh", "dataset") if name.startswith("data/")}
    assert len(before) >= 4

    assert main(["convert", "dota", str(dota_source), str(out), "--no-progress", "--overwrite"]) == 0
    # The last commit (new shards, card, deletions) lands but its answer is lost: the retry must neither commit
    # again nor fail on deleting files that are already gone.
    lost = local_hub.fail("POST", r"/commit/", drop=True, handled=True)
    result = push_dataset(out, "user/fresh", progress=False, retry=FAST)
    assert lost.hits == 1 and sorted(result.deleted) == sorted(before)
    head = local_hub.commits("user/fresh", "dataset")[-1].sha
    assert result.commits == [f"{local_hub.endpoint}/datasets/user/fresh/commit/{head}"]
    assert len(local_hub.commits("user/fresh", "dataset")) == 3
    remote = local_hub.files("user/fresh", "dataset")
    assert {name for name in remote if name.startswith("data/")} == {
        shard_path(out, split).relative_to(out).as_posix() for split in ("train", "validation")}
    _assert_reads_back("user/fresh", out, tmp_path / "cache")

    assert main(["convert", "dota", str(dota_source), str(tmp_path / "never"), "--push-to-hub", "nope"]) == 2
    assert not (tmp_path / "never").exists(), "a bad repo id is refused before converting"
    assert main(["convert", "dota", str(dota_source), str(tmp_path / "never"), "--private"]) == 2
