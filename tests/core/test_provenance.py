"""Provenance records hold code version, packages and config, and nothing that varies run to run."""

import json
import subprocess
import sys

import pytest

from karma.model_cards import ModelCard, render_model_card, write_model_card
from karma.provenance import collect_provenance, git_state, package_versions, write_provenance


def test_record_names_commit_packages_and_config():
    record = collect_provenance({"run": "demo", "nested": {"a": [1, 2.5, None, "x"]}})
    assert set(record) == {"git", "python", "packages", "config"}
    assert record["packages"]["karma-workflow"] == "0.1.0" and record["packages"]["torch"].startswith("2.13.0")
    assert "pytest" not in record["packages"]  # test extras are not what jobs run with
    commit = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert record["git"]["commit"] == commit and isinstance(record["git"]["dirty"], bool)
    assert record["config"] == {"run": "demo", "nested": {"a": [1, 2.5, None, "x"]}}


def test_two_processes_write_identical_bytes(tmp_path):
    code = ("import sys; from karma.provenance import collect_provenance, write_provenance\n"
            "write_provenance(sys.argv[1], collect_provenance({'seed': 1, 'models': {'m': {'x': 2}}}))")
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        subprocess.run([sys.executable, "-c", code, str(tmp_path / name)], check=True)
    assert (tmp_path / "a/provenance.json").read_bytes() == (tmp_path / "b/provenance.json").read_bytes()


def test_dirty_flag_and_outside_a_checkout(tmp_path):
    git_state.cache_clear()
    assert git_state(str(tmp_path)) == {"commit": None, "dirty": None}
    repo = tmp_path / "repo"
    repo.mkdir()
    run = lambda *a: subprocess.run(["git", "-C", str(repo), *a], check=True, capture_output=True)  # noqa: E731
    run("init", "-q")
    (repo / "f.txt").write_text("1")
    run("add", "f.txt")
    run("-c", "user.email=a@b", "-c", "user.name=a", "commit", "-qm", "c")
    assert git_state(str(repo))["dirty"] is False
    git_state.cache_clear()
    (repo / "f.txt").write_text("2")
    assert git_state(str(repo))["dirty"] is True
    git_state.cache_clear()


def test_config_snapshot_must_be_plain_values():
    with pytest.raises(TypeError, match=r"config\.models\.m is a object"):
        collect_provenance({"models": {"m": object()}})
    assert package_versions() is package_versions()  # read once per process


def test_model_card_layout(tmp_path):
    card = ModelCard(title="T", summary="What it is.", sections={"Data": "d", "Training": "t"},
                     metadata={"library_name": "transformers", "tags": ["karma"]})
    record = collect_provenance({"run": "x"})
    text = render_model_card(card, record)
    assert text.startswith("---\nlibrary_name: transformers\ntags:\n- karma\n---\n\n# T\n\nWhat it is.\n")
    assert text.index("## Data") < text.index("## Training") < text.index("## Provenance")
    assert f"`{record['git']['commit']}`" in text and "| transformers | 5.24.0 |" in text
    with pytest.raises(FileNotFoundError, match="save the model before its card"):
        write_model_card(tmp_path / "missing", card, record)
    write_model_card(tmp_path, card, record)
    assert json.loads((tmp_path / "provenance.json").read_text()) == record
    assert write_provenance(tmp_path, record).read_text().endswith("}\n")
