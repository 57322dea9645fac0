"""Hub fetches are pinned to commits and recorded (issue 14, defect 7); the hub itself is mocked."""

import hashlib
import io
import json
import logging
from pathlib import Path

import huggingface_hub
import pytest

from karma import hub_fetch
from karma.file_digest import ChecksumError
from karma.hub_fetch import HubPinError, fetch_dataset_file, fetch_model, fetch_url

MAIN = "a" * 40
PINNED = "b" * 40


@pytest.fixture
def hub(tmp_path, monkeypatch):
    """A fake hub: records each download's revision; `main` resolves to MAIN."""
    monkeypatch.chdir(tmp_path)
    calls = {"resolved": [], "downloads": []}

    def resolve(repo, repo_type, revision):
        calls["resolved"].append((repo, repo_type, revision))
        return MAIN

    def snapshot_download(repo_id, revision, local_dir, allow_patterns):
        calls["downloads"].append((repo_id, revision))
        Path(local_dir).mkdir(parents=True, exist_ok=True)
        (Path(local_dir) / "model.safetensors").write_bytes(b"weights")
        return local_dir

    def hf_hub_download(repo_id, filename, repo_type, revision):
        calls["downloads"].append((repo_id, revision))
        cached = tmp_path / "cache" / filename
        cached.parent.mkdir(exist_ok=True)
        cached.write_text("text,humor\nx,True\n")
        return str(cached)

    monkeypatch.setattr(hub_fetch, "resolve_revision", resolve)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", snapshot_download)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", hf_hub_download)
    return calls


def lock() -> dict:
    return json.loads(Path("resources/hub.lock.json").read_text())


def test_an_unpinned_fetch_locks_and_records_the_commit_it_got(hub, caplog):
    with caplog.at_level(logging.WARNING):
        fetch_model("org/model", "resources/models/m")
    assert "model:org/model is NOT PINNED" in caplog.text and f"revision: {MAIN}" in caplog.text
    assert hub["downloads"] == [("org/model", MAIN)]
    assert lock() == {"model:org/model": MAIN}
    source = json.loads(Path("resources/models/m/.hub-source.json").read_text())
    assert source["repo"] == "org/model" and source["revision"] == MAIN
    # a later fetch (files deleted, say) takes the locked commit, whatever main is by then
    hub["resolved"].clear()
    fetch_model("org/model", "resources/models/m2")
    assert hub["resolved"] == [] and hub["downloads"][-1] == ("org/model", MAIN)


def test_a_pinned_fetch_uses_the_pin_and_a_pin_that_differs_from_the_lock_is_refused(hub):
    fetch_dataset_file("org/data", "dataset.csv", "resources/benchmarks/d.csv", PINNED)
    assert hub["resolved"] == [] and hub["downloads"] == [("org/data", PINNED)]
    record = json.loads(Path("resources/benchmarks/d.csv.hub-source.json").read_text())
    assert record == {"repo": "org/data", "repo_type": "dataset", "revision": PINNED,
                      "file": "dataset.csv"}
    with pytest.raises(HubPinError, match=f"pins {'c' * 40} but .*hub.lock.json recorded {PINNED}"):
        fetch_dataset_file("org/data", "dataset.csv", "resources/benchmarks/d.csv", "c" * 40)


def test_a_branch_name_is_no_pin(hub):
    with pytest.raises(HubPinError, match="'main' is not a commit hash"):
        fetch_model("org/model", "resources/models/m", revision="main")


def test_a_dataset_split_is_loaded_at_the_commit(hub, monkeypatch):
    import datasets

    loaded = {}

    class Split(list):
        def to_parquet(self, path):
            Path(path).write_bytes(b"parquet")

    def load_dataset(repo, config_name, split, revision):
        loaded.update(repo=repo, config=config_name, split=split, revision=revision)
        return Split([1, 2])

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    hub_fetch.fetch_dataset_split("org/mmlu", "test", "resources/benchmarks/m.parquet", "all",
                                  PINNED)
    assert loaded == {"repo": "org/mmlu", "config": "all", "split": "test", "revision": PINNED}
    assert json.loads(Path("resources/benchmarks/m.parquet.hub-source.json").read_text())[
        "revision"] == PINNED


def test_a_release_file_is_verified_before_it_is_moved_into_place(tmp_path, monkeypatch):
    import urllib.request

    payload = b"pickled checkpoint"
    prefix = hashlib.sha256(payload).hexdigest()[:8]
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: io.BytesIO(payload))
    good = f"https://example.org/v1/toxic_original-{prefix}.ckpt"
    fetch_url(good, tmp_path / "ok.ckpt", None, "benchmarks.toxicity.detoxify_sha256")
    assert (tmp_path / "ok.ckpt").read_bytes() == payload
    with pytest.raises(ChecksumError):
        fetch_url("https://example.org/v1/toxic_original-00000000.ckpt", tmp_path / "bad.ckpt",
                  None, "benchmarks.toxicity.detoxify_sha256")
    assert not (tmp_path / "bad.ckpt").exists() and not (tmp_path / "bad.ckpt.part").exists()
    with pytest.raises(ChecksumError):
        fetch_url(good, tmp_path / "bad.ckpt", "0" * 64, "benchmarks.toxicity.detoxify_sha256")


def test_split_source_passes_its_pinned_commit_and_writes_parquet(hub, tmp_path, monkeypatch):
    import datasets

    calls = []

    def load_dataset(repo, name, split, revision):
        calls.append((repo, name, split, revision))
        return datasets.Dataset.from_list([{"sent_more": "a", "sent_less": "b", "bias_type": "autre"}])

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    out = tmp_path / "crows.parquet"
    source = {"repo": "jannalu/crows_pairs_multilingual", "config": "english", "split": "test",
              "revision": PINNED}
    hub_fetch.fetch_benchmark_source(source, out)
    assert calls == [("jannalu/crows_pairs_multilingual", "english", "test", PINNED)]
    assert datasets.Dataset.from_parquet(str(out))[0]["bias_type"] == "autre"


def test_script_only_dataset_names_the_fix(hub, tmp_path, monkeypatch):
    import datasets

    def load_dataset(*args, **kwargs):
        raise RuntimeError("Dataset scripts are no longer supported, but found sycophancy.py")

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    with pytest.raises(RuntimeError, match=r"commit of the hub's Parquet export \(the branch refs/convert/parquet\)"):
        hub_fetch.fetch_benchmark_source({"repo": "EleutherAI/sycophancy", "split": "validation"},
                                         tmp_path / "x.parquet")
    assert not (tmp_path / "x.parquet").exists()
