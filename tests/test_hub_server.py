"""The local Hub test server (tests/hub_server.py) against the real clients: huggingface_hub, datasets and
transformers talk to it through the ``local_hub`` fixture exactly as they talk to the Hub."""

from __future__ import annotations

import hashlib
import json
import urllib.error
import urllib.request

import pytest

from tests.hub_server import git_blob_sha1


def _request(url: str, *, method: str = "GET", data: bytes | None = None, headers: dict | None = None):
    """(status, headers, body) of a raw HTTP request, error statuses included."""
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def _tiny_images(count: int):
    import numpy as np
    from PIL import Image

    return [Image.fromarray((np.random.RandomState(i).rand(12, 10, 3) * 255).astype("uint8")) for i in range(count)]


def test_datasets_push_to_hub_and_load_dataset_round_trip(local_hub, tmp_path):
    import datasets

    features = datasets.Features({"image": datasets.Image(), "text": datasets.Value("string")})
    local = datasets.Dataset.from_dict({"image": _tiny_images(3), "text": ["a", "b", "c"]}, features=features)
    local.push_to_hub("user/tiny", private=True)
    assert local_hub.is_private("user/tiny", "dataset")
    assert [c.title for c in local_hub.commits("user/tiny", "dataset")] == ["initial commit", "Upload dataset"]
    assert local_hub.lfs_uploads == 1 and local_hub.lfs_bytes > 0, "the parquet shard goes through LFS"

    remote = datasets.load_dataset("user/tiny", split="train", cache_dir=str(tmp_path / "cache"))
    streamed = datasets.load_dataset("user/tiny", split="train", streaming=True)
    raw = datasets.Image(decode=False)
    expected = local.cast_column("image", raw)
    for rows in (remote.cast_column("image", raw), streamed.cast_column("image", raw)):
        got = [{"image": r["image"]["bytes"], "text": r["text"]} for r in rows]
        assert got == [{"image": r["image"]["bytes"], "text": r["text"]} for r in expected]
    assert all(isinstance(r["image"]["bytes"], bytes) for r in expected)
    assert local_hub.unhandled == []


def _tiny_clip():
    import torch
    from transformers import CLIPConfig, CLIPImageProcessor, CLIPModel, CLIPProcessor, CLIPTokenizer

    from rsmodel.convert import bytes_to_unicode

    units = list(bytes_to_unicode().values())
    vocab = {token: i for i, token in enumerate(units + [u + "</w>" for u in units] +
                                                 ["<|startoftext|>", "<|endoftext|>"])}
    text = dict(hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2, vocab_size=514,
                max_position_embeddings=64, bos_token_id=512, eos_token_id=513, pad_token_id=513)
    vision = dict(hidden_size=32, intermediate_size=37, num_attention_heads=4, num_hidden_layers=2, image_size=32,
                  patch_size=8)
    torch.manual_seed(0)
    model = CLIPModel(CLIPConfig(text_config=text, vision_config=vision, projection_dim=16)).eval()
    processor = CLIPProcessor(
        image_processor=CLIPImageProcessor(size={"shortest_edge": 32}, crop_size={"height": 32, "width": 32}),
        tokenizer=CLIPTokenizer(vocab=vocab, merges=[], model_max_length=64))
    return model, processor


def test_tiny_clip_model_push_from_pretrained_and_zero_shot_pipeline(local_hub):
    import torch
    from PIL import Image
    from transformers import CLIPModel, pipeline

    model, processor = _tiny_clip()
    model.push_to_hub("user/tiny-clip")
    processor.push_to_hub("user/tiny-clip")
    files = local_hub.files("user/tiny-clip")
    assert {"config.json", "model.safetensors", "tokenizer_config.json"} <= set(files)

    back = CLIPModel.from_pretrained("user/tiny-clip")
    assert back.state_dict().keys() == model.state_dict().keys()
    assert all(torch.equal(back.state_dict()[k], v) for k, v in model.state_dict().items())

    classify = pipeline("zero-shot-image-classification", model="user/tiny-clip")
    scores = classify(Image.new("RGB", (40, 30), (30, 90, 60)), candidate_labels=["plane", "ship", "harbor"])
    assert sorted(s["label"] for s in scores) == ["harbor", "plane", "ship"]
    assert abs(sum(s["score"] for s in scores) - 1) < 1e-4


def test_writes_need_the_token_and_private_repos_hide_without_it(local_hub, monkeypatch, tmp_path):
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError, RepositoryNotFoundError

    with pytest.raises(HfHubHTTPError) as refused:
        HfApi(token=False).create_repo("user/nope")
    assert refused.value.response.status_code == 401
    with pytest.raises(HfHubHTTPError) as wrong:
        HfApi(token="hf_wrong").create_repo("user/nope")
    assert wrong.value.response.status_code == 401 and local_hub.requests[-1].authorized

    api = HfApi()  # HF_TOKEN
    api.create_repo("user/secret", private=True)
    api.upload_file(path_or_fileobj=b"hello", path_in_repo="hello.txt", repo_id="user/secret")
    with pytest.raises(RepositoryNotFoundError):
        HfApi(token=False).repo_info("user/secret")
    assert not HfApi(token=False).file_exists("user/secret", "hello.txt")
    assert api.file_exists("user/secret", "hello.txt")
    status, _, _ = _request(f"{local_hub.endpoint}/user/secret/resolve/main/hello.txt")
    assert status == 401


def test_unchanged_files_are_skipped_and_held_lfs_objects_not_resent(local_hub, tmp_path):
    from huggingface_hub import HfApi

    folder = tmp_path / "folder"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "blob.parquet").write_bytes(b"PAR1" + bytes(range(256)) * 40)
    (folder / "notes.txt").write_text("small text\n")
    api = HfApi()
    api.create_repo("user/skip", repo_type="dataset")
    api.upload_folder(folder_path=folder, repo_id="user/skip", repo_type="dataset")
    assert len(local_hub.commits("user/skip", "dataset")) == 2
    assert (local_hub.lfs_uploads, local_hub.lfs_bytes) == (1, 4 + 256 * 40)

    api.upload_folder(folder_path=folder, repo_id="user/skip", repo_type="dataset")
    assert len(local_hub.commits("user/skip", "dataset")) == 2, "nothing changed: no commit"
    assert local_hub.lfs_uploads == 1

    (folder / "notes.txt").write_text("changed\n")
    (folder / "data" / "copy.parquet").write_bytes((folder / "data" / "blob.parquet").read_bytes())
    api.upload_folder(folder_path=folder, repo_id="user/skip", repo_type="dataset")
    assert len(local_hub.commits("user/skip", "dataset")) == 3
    assert local_hub.lfs_uploads == 1, "the copy's content is already held: not sent again"
    files = local_hub.files("user/skip", "dataset")
    assert files["notes.txt"] == b"changed\n" and files["data/copy.parquet"] == files["data/blob.parquet"]


def test_tree_paths_info_download_headers_and_ranges(local_hub):
    from huggingface_hub import HfApi, get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import EntryNotFoundError

    api = HfApi()
    api.create_repo("user/tree", repo_type="dataset")
    blob = bytes(range(256)) * 8
    api.upload_file(path_or_fileobj=blob, path_in_repo="data/a/x.parquet", repo_id="user/tree", repo_type="dataset")
    api.upload_file(path_or_fileobj=b"text\n", path_in_repo="data/notes.md", repo_id="user/tree",
                    repo_type="dataset")

    top = {e.path: type(e).__name__ for e in api.list_repo_tree("user/tree", repo_type="dataset")}
    assert top == {".gitattributes": "RepoFile", "data": "RepoFolder"}
    below = {e.path for e in api.list_repo_tree("user/tree", "data", recursive=True, repo_type="dataset")}
    assert below == {"data/a", "data/a/x.parquet", "data/notes.md"}
    with pytest.raises(EntryNotFoundError):
        list(api.list_repo_tree("user/tree", "missing", repo_type="dataset"))
    info = {e.path: e for e in api.get_paths_info("user/tree", ["data/a/x.parquet", "data/notes.md", "nope"],
                                                  repo_type="dataset", expand=True)}
    assert set(info) == {"data/a/x.parquet", "data/notes.md"}
    assert info["data/a/x.parquet"].lfs.sha256 == hashlib.sha256(blob).hexdigest()
    assert info["data/notes.md"].blob_id == git_blob_sha1(b"text\n") and info["data/notes.md"].lfs is None
    assert info["data/notes.md"].last_commit.title == "Upload data/notes.md with huggingface_hub"

    url = hf_hub_url("user/tree", "data/a/x.parquet", repo_type="dataset")
    meta = get_hf_file_metadata(url)
    assert (meta.etag, meta.size) == (hashlib.sha256(blob).hexdigest(), len(blob))
    assert meta.commit_hash == api.dataset_info("user/tree").sha
    status, headers, body = _request(url, headers={"Range": "bytes=10-19"})
    assert (status, body, headers["Content-Range"]) == (206, blob[10:20], f"bytes 10-19/{len(blob)}")
    assert _request(url, headers={"Range": "bytes=-4"})[2] == blob[-4:]
    assert _request(url, headers={"Range": f"bytes={len(blob)}-"})[0] == 416
    status, headers, _ = _request(hf_hub_url("user/tree", "nope.txt", repo_type="dataset"), method="HEAD")
    assert (status, headers["X-Error-Code"]) == (404, "EntryNotFound")
    assert _request(f"{local_hub.endpoint}/api/not-a-route")[0] == 404
    assert local_hub.unhandled == ["GET /api/not-a-route"]


def test_branches_deletions_and_commit_history(local_hub, tmp_path):
    from huggingface_hub import HfApi, hf_hub_download
    from huggingface_hub.errors import EntryNotFoundError

    api = HfApi()
    api.create_repo("user/branchy")
    api.upload_file(path_or_fileobj=b"v1", path_in_repo="sub/a.txt", repo_id="user/branchy")
    api.create_branch("user/branchy", branch="dev")
    api.upload_file(path_or_fileobj=b"v2", path_in_repo="sub/a.txt", repo_id="user/branchy", revision="dev")
    assert set(local_hub.branches("user/branchy")) == {"main", "dev"}
    assert local_hub.files("user/branchy")["sub/a.txt"] == b"v1"
    path = hf_hub_download("user/branchy", "sub/a.txt", revision="dev", cache_dir=tmp_path / "cache")
    assert open(path, "rb").read() == b"v2"
    assert [c.title for c in api.list_repo_commits("user/branchy", revision="dev")][-1] == "initial commit"
    assert len(api.list_repo_commits("user/branchy", revision="dev")) == 3

    api.delete_folder("sub", repo_id="user/branchy", revision="dev")
    assert "sub/a.txt" not in local_hub.files("user/branchy", revision="dev")
    with pytest.raises(EntryNotFoundError):
        api.delete_file("nope.txt", repo_id="user/branchy")


def test_faults_fail_drop_or_lose_the_answer(local_hub):
    from huggingface_hub import HfApi
    from huggingface_hub.errors import HfHubHTTPError

    api = HfApi()
    api.create_repo("user/faulty")
    retried = local_hub.fail("POST", r"/preupload/", status=503)
    api.upload_file(path_or_fileobj=b"one", path_in_repo="one.txt", repo_id="user/faulty")
    assert retried.hits == 1 and local_hub.files("user/faulty")["one.txt"] == b"one"

    local_hub.fail("POST", r"/commit/", status=500)
    with pytest.raises(HfHubHTTPError) as failed:
        api.upload_file(path_or_fileobj=b"two", path_in_repo="two.txt", repo_id="user/faulty")
    assert failed.value.response.status_code == 500 and "two.txt" not in local_hub.files("user/faulty")

    local_hub.fail("POST", r"/commit/", drop=True)
    with pytest.raises(Exception, match="(?i)disconnect|closed|reset"):
        api.upload_file(path_or_fileobj=b"two", path_in_repo="two.txt", repo_id="user/faulty")
    assert "two.txt" not in local_hub.files("user/faulty")

    lost = local_hub.fail("POST", r"/commit/", drop=True, handled=True)
    with pytest.raises(Exception, match="(?i)disconnect|closed|reset"):
        api.upload_file(path_or_fileobj=b"two", path_in_repo="two.txt", repo_id="user/faulty")
    assert lost.hits == 1 and local_hub.files("user/faulty")["two.txt"] == b"two", "applied, answer lost"
    assert [r.status for r in local_hub.requests if "/commit/" in r.path] == [200, 500, 0, 0]


def test_lfs_upload_checks_content_and_held_objects_get_no_actions(local_hub):
    from huggingface_hub import HfApi

    HfApi().create_repo("user/lfs")
    data = b"\0binary" * 100
    oid = hashlib.sha256(data).hexdigest()
    batch_url = f"{local_hub.endpoint}/user/lfs.git/info/lfs/objects/batch"
    payload = json.dumps({"operation": "upload", "objects": [{"oid": oid, "size": len(data)}]}).encode()
    auth = {"Authorization": f"Bearer {local_hub.token}", "Content-Type": "application/json"}

    assert _request(batch_url, method="POST", data=payload)[0] == 401
    status, _, body = _request(batch_url, method="POST", data=payload, headers=auth)
    href = json.loads(body)["objects"][0]["actions"]["upload"]["href"]
    assert _request(href, method="PUT", data=data[:-1] + b"x")[0] == 400
    assert _request(href, method="PUT", data=data)[0] == 200
    assert _request(href, method="PUT", data=data)[0] == 403, "an href is good for one upload"
    again = json.loads(_request(batch_url, method="POST", data=payload, headers=auth)[2])
    assert "actions" not in again["objects"][0]
    assert (local_hub.lfs_uploads, local_hub.lfs_bytes) == (1, len(data))
