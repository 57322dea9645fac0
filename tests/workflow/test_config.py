"""Both shipped configs validate; a wrong or missing key stops the run with a message naming it."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = str(ROOT / "workflow" / "schemas" / "config.schema.yaml")
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))


def load(name: str) -> dict:
    return yaml.safe_load((ROOT / "config" / name).read_text())


@pytest.mark.parametrize("name", ["config.yaml", "paper.yaml"])
def test_shipped_configs_validate(name):
    validate(load(name), SCHEMA)


def test_missing_key_is_named():
    config = load("config.yaml")
    del config["label"]["ratio"]
    with pytest.raises(WorkflowError, match="ratio"):
        validate(config, SCHEMA)


def test_unknown_key_is_named():
    config = copy.deepcopy(load("config.yaml"))
    config["reddit"]["max_post"] = 3
    with pytest.raises(WorkflowError, match="max_post"):
        validate(config, SCHEMA)


def test_a_hub_model_needs_its_size():
    """Without params_b, a 7B model's jobs would be sized like a tiny demo model's."""
    config = copy.deepcopy(load("paper.yaml"))
    del config["models"]["falcon-7b"]["params_b"]
    with pytest.raises(WorkflowError, match="params_b"):
        validate(config, SCHEMA)


@pytest.mark.parametrize("fraction", [0, 1.5, "half"])
def test_candidate_fraction_must_be_a_share(fraction):
    config = copy.deepcopy(load("config.yaml"))
    config["reddit"]["candidate_fraction"] = fraction
    with pytest.raises(WorkflowError, match="candidate_fraction"):
        validate(config, SCHEMA)


def test_snakemake_stops_on_a_typo(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("split:\n  test_fraktion: 0.2\n")
    result = subprocess.run([SNAKEMAKE, "-n", "--configfile", "config/config.yaml", str(bad)], cwd=ROOT,
                            capture_output=True, text=True)
    assert result.returncode != 0
    assert "test_fraktion" in result.stdout + result.stderr


def test_paper_dry_run_needs_no_dumps_or_network():
    result = subprocess.run([SNAKEMAKE, "-n", "--configfile", "config/paper.yaml"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "pushshift_dump" in out and "collect_comments" in out and "build_examples" in out


HOSTILE_NAMES = ["..", ".", "../../../../tmp/x", "a/b", "/abs", "", "x y", "{wildcard}"]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
@pytest.mark.parametrize("where", ["run", "models", "tokenizers", "policies", "variants", "downloads"])
def test_names_that_become_paths_are_constrained(where, name):
    """Issue 14 defect 6: no name may lead outside results/ or resources/."""
    config = copy.deepcopy(load("paper.yaml"))
    if where == "run":
        config["run"] = name
    elif where == "downloads":
        config["benchmarks"]["downloads"][name] = {"repo": "a/b", "file": "x.csv"}
    else:
        section = config[where]
        section[name] = copy.deepcopy(next(iter(section.values()), {"vocab_size": 300}))
    with pytest.raises(WorkflowError):
        validate(config, SCHEMA)


@pytest.mark.parametrize("name", ["../x", "a/b"])
def test_names_that_refer_to_other_sections_are_constrained(name):
    for edit in (
        lambda c: c["reward"].update(backbone=name),
        lambda c: c["variants"]["base"]["policies"].append(name),
        lambda c: c["models"]["tiny-pythia"].update(tokenizer=name),
    ):
        config = copy.deepcopy(load("config.yaml"))
        edit(config)
        with pytest.raises(WorkflowError):
            validate(config, SCHEMA)


@pytest.mark.parametrize("entry", ["resources/RS_{x}.zst", "resources/RS_a b.zst", "RS_../x.zst"])
def test_dump_file_names_must_be_safe_job_names(entry):
    config = copy.deepcopy(load("paper.yaml"))
    config["reddit"]["submissions"] = [entry]
    with pytest.raises(WorkflowError):
        validate(config, SCHEMA)


def test_safe_names_pass():
    config = copy.deepcopy(load("paper.yaml"))
    config["run"] = "paper-v2.1_rerun"
    config["reddit"]["submissions"] = ["/data/dumps/RS_2023-0*.zst"]
    validate(config, SCHEMA)
