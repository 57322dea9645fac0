"""Hub downloads without the hub: split sources pass their revision; script-only datasets get a fix."""

from __future__ import annotations

from pathlib import Path

import datasets
import pytest

from karma.hub_fetch import fetch_benchmark_source


def test_split_source_passes_revision_and_writes_parquet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []

    def load_dataset(repo, name, split, revision):
        calls.append((repo, name, split, revision))
        return datasets.Dataset.from_list([{"sent_more": "a", "sent_less": "b", "bias_type": "autre"}])

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    out = tmp_path / "crows.parquet"
    source = {"repo": "jannalu/crows_pairs_multilingual", "config": "english", "split": "test",
              "revision": "refs/convert/parquet"}
    fetch_benchmark_source(source, out)
    assert calls == [("jannalu/crows_pairs_multilingual", "english", "test", "refs/convert/parquet")]
    assert datasets.Dataset.from_parquet(str(out))[0]["bias_type"] == "autre"


def test_script_only_dataset_names_the_fix(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def load_dataset(*args, **kwargs):
        raise RuntimeError("Dataset scripts are no longer supported, but found sycophancy.py")

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    with pytest.raises(RuntimeError, match="set revision: refs/convert/parquet on its benchmarks.downloads entry"):
        fetch_benchmark_source({"repo": "EleutherAI/sycophancy", "split": "validation"}, tmp_path / "x.parquet")
    assert not (tmp_path / "x.parquet").exists()
