"""The conda environments in workflow/envs pin exactly what pyproject.toml pins.

Clusters run the rules in these envs (`--sdm conda`); developers and CI run them in the venv
built from pyproject.toml. If the two drift, a result on the cluster comes from different code
than the one tested here, so every package an env names must carry pyproject's own specifier.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[2]
ENV_DIR = REPO / "workflow" / "envs"
RULE_FAMILIES = {"data", "reward", "ppo", "eval", "report"}
CONDA_TOOLS = {"python", "pip"}  # conda-level entries; everything else comes through pip


def pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def pyproject_specifiers() -> dict[str, SpecifierSet]:
    """Package -> specifier, from the dependencies and every optional group."""
    project = pyproject()["project"]
    lines = list(project["dependencies"])
    for group in project.get("optional-dependencies", {}).values():
        lines.extend(group)
    specifiers: dict[str, SpecifierSet] = {}
    for line in lines:
        requirement = Requirement(line)
        specifiers[canonicalize_name(requirement.name)] = requirement.specifier
    return specifiers


def env_files() -> list[Path]:
    return sorted(ENV_DIR.glob("*.yaml"))


def split_env(path: Path) -> tuple[list[str], list[Requirement]]:
    """(conda entries, pip requirements) of one environment file."""
    env = yaml.safe_load(path.read_text())
    conda, pip = [], []
    for entry in env["dependencies"]:
        if isinstance(entry, dict):
            pip.extend(Requirement(line) for line in entry["pip"])
        else:
            conda.append(str(entry))
    return conda, pip


def test_one_env_per_rule_family():
    assert {path.stem for path in env_files()} == RULE_FAMILIES


@pytest.mark.parametrize("path", env_files(), ids=lambda p: p.stem)
def test_env_pins_agree_with_pyproject(path):
    pins = pyproject_specifiers()
    conda, pip = split_env(path)
    names = [canonicalize_name(r.name) for r in pip]
    assert len(names) == len(set(names)), f"{path.name} lists a package twice"
    for requirement in pip:
        name = canonicalize_name(requirement.name)
        assert name in pins, (
            f"{path.name} installs {name}, which pyproject.toml does not pin; add it there first"
        )
        assert requirement.specifier == pins[name], (
            f"{path.name} has {name}{requirement.specifier}, pyproject.toml has "
            f"{name}{pins[name]}"
        )
        assert not requirement.extras and requirement.marker is None, requirement


@pytest.mark.parametrize("path", env_files(), ids=lambda p: p.stem)
def test_env_python_matches_requires_python(path):
    conda, _ = split_env(path)
    names = {entry.split("=")[0] for entry in conda}
    assert names == CONDA_TOOLS, f"{path.name}: conda entries other than python/pip: {conda}"
    python = next(entry for entry in conda if entry.startswith("python="))
    version = python.split("=", 1)[1]
    requires = SpecifierSet(pyproject()["project"]["requires-python"])
    assert requires.contains(f"{version}.0"), f"{path.name}: python {version} vs {requires}"


def test_envs_cover_the_pinned_runtime_packages():
    """Every runtime package of pyproject is in some env, except those the host runs."""
    host_only = {"snakemake", "snakemake-executor-plugin-slurm", "jsonschema"}
    in_envs = {canonicalize_name(r.name) for path in env_files() for r in split_env(path)[1]}
    runtime = {
        canonicalize_name(Requirement(line).name) for line in pyproject()["project"]["dependencies"]
    }
    assert runtime - host_only <= in_envs, f"pinned but in no env: {runtime - host_only - in_envs}"
