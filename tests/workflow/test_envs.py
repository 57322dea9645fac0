"""The conda environments in workflow/envs pin exactly what pyproject.toml pins, and all of it.

Clusters run the rules in these envs (`--sdm conda`); developers and CI run them in the venv
built from pyproject.toml. If the two drift, a result on the cluster comes from different code
than the one tested here. So each env lists its direct dependencies with pyproject's own exact
pins, then every package those depend on (their closure, read from the installed packages'
metadata for this platform) at the version installed in the venv the tests run in. Not pinned:
Python's patch release and pip (conda's choice within python=3.11), and the CUDA runtime wheels
(nvidia-*, triton) that torch's Linux wheel from PyPI pulls in, which that wheel pins exactly.

After changing pyproject.toml and reinstalling, regenerate the envs' pip lists with
`.venv/bin/python tests/workflow/test_envs.py --write`.
"""

from __future__ import annotations

import importlib.metadata
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

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


def installed_closure(names: list[str]) -> dict[str, str]:
    """Package -> installed version for ``names`` and everything they require on this platform
    (markers evaluated here, extras followed), local version labels such as ``+cpu`` dropped."""
    versions: dict[str, str] = {}
    seen: set[tuple[str, frozenset[str]]] = set()
    stack = [(name, frozenset[str]()) for name in names]
    while stack:
        name, extras = stack.pop()
        key = canonicalize_name(name)
        if (key, extras) in seen:
            continue
        seen.add((key, extras))
        distribution = importlib.metadata.distribution(name)
        versions[key] = Version(distribution.version).public
        for line in distribution.requires or []:
            requirement = Requirement(line)
            marker = requirement.marker
            if marker is None or any(marker.evaluate({"extra": extra}) for extra in extras or {""}):
                stack.append((requirement.name, frozenset(requirement.extras)))
    return versions


def direct_names(path: Path) -> list[str]:
    """The env's direct dependencies: its pip entries that pyproject.toml names."""
    pins = pyproject_specifiers()
    return [r.name for r in split_env(path)[1] if canonicalize_name(r.name) in pins]


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
        if name not in pins:
            continue  # a dependency of a direct pin: test_env_pins_every_dependency_exactly
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


@pytest.mark.parametrize("path", env_files(), ids=lambda p: p.stem)
def test_env_pins_every_dependency_exactly(path):
    """The whole closure of the direct pins, each at the version the tests ran with, no more."""
    _, pip = split_env(path)
    pinned = {canonicalize_name(r.name): str(r.specifier) for r in pip}
    assert all(spec.startswith("==") for spec in pinned.values()), f"{path.name}: not all exact: {pinned}"
    expected = {name: f"=={version}" for name, version in installed_closure(direct_names(path)).items()}
    assert pinned == expected, (
        f"{path.name} differs from the installed closure of its direct pins "
        f"(missing or other version: {sorted(set(expected.items()) - set(pinned.items()))}; "
        f"extra: {sorted(set(pinned) - set(expected))}); run `.venv/bin/python "
        "tests/workflow/test_envs.py --write` after installing the pinned versions"
    )


def write_envs() -> None:
    """Rewrite each env's pip list: its direct pins (pyproject's), then their installed closure."""
    pins = pyproject_specifiers()
    for path in env_files():
        text = path.read_text()
        head = text[: text.index("  - pip:\n") + len("  - pip:\n")]
        direct = sorted(direct_names(path), key=canonicalize_name)
        closure = installed_closure(direct)
        lines = ["      # direct dependencies of this rule family, pinned as in pyproject.toml"]
        lines += [f"      - {canonicalize_name(name)}{pins[canonicalize_name(name)]}" for name in direct]
        lines.append("      # everything they depend on, as installed where the tests passed")
        lines += [f"      - {name}=={version}" for name, version in sorted(closure.items())
                  if name not in {canonicalize_name(d) for d in direct}]
        path.write_text(head + "\n".join(lines) + "\n")


def test_pyproject_pins_every_dependency_exactly():
    loose = [line for line in pyproject()["project"]["dependencies"]
             if not str(Requirement(line).specifier).startswith("==")]
    assert not loose, f"pyproject.toml dependencies without an exact pin: {loose}"


def test_envs_cover_the_pinned_runtime_packages():
    """Every runtime package of pyproject is in some env, except those the host runs."""
    host_only = {"snakemake", "snakemake-executor-plugin-slurm", "jsonschema"}
    in_envs = {canonicalize_name(r.name) for path in env_files() for r in split_env(path)[1]}
    runtime = {
        canonicalize_name(Requirement(line).name) for line in pyproject()["project"]["dependencies"]
    }
    assert runtime - host_only <= in_envs, f"pinned but in no env: {runtime - host_only - in_envs}"


if __name__ == "__main__" and sys.argv[1:] == ["--write"]:
    write_envs()
