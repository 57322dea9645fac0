"""Where an output came from: code version, software and configuration, recorded beside it.

Every model directory (``provenance.json``, summarised in its model card) and every evaluation cell
(its ``provenance`` field) carries this record. It holds nothing that differs between two runs of
the same checkout on the same inputs: no time, host, user or absolute path. An output rebuilt from
unchanged inputs is therefore byte-identical, and Snakemake's checksums see no change downstream.
"""

from __future__ import annotations

import functools
import importlib.metadata
import json
import platform
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

DISTRIBUTION = "karma-workflow"
PROVENANCE_FILE = "provenance.json"
_REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@functools.cache
def git_state(source_dir: str | None = None) -> dict[str, Any]:
    """The commit of the checkout the library runs from and whether its tracked or untracked
    (not ignored) files differ from it; both ``None`` when the library is not in a git checkout."""
    where = Path(source_dir) if source_dir else Path(__file__).resolve().parent

    def git(*args: str) -> subprocess.CompletedProcess[str] | None:
        try:
            return subprocess.run(
                ["git", "-C", str(where), *args], capture_output=True, text=True, timeout=60
            )
        except (OSError, subprocess.TimeoutExpired):
            return None

    head = git("rev-parse", "HEAD")
    if head is None or head.returncode != 0:
        return {"commit": None, "dirty": None}
    status = git("status", "--porcelain", "--untracked-files=normal")
    dirty = None if status is None or status.returncode != 0 else bool(status.stdout.strip())
    return {"commit": head.stdout.strip(), "dirty": dirty}


@functools.cache
def package_versions() -> dict[str, str | None]:
    """Installed versions of the library's own distribution and of each of its direct runtime
    dependencies (``None`` for one that is not installed, e.g. in a slimmer conda env)."""
    try:
        requirements = importlib.metadata.requires(DISTRIBUTION) or []
        versions: dict[str, str | None] = {DISTRIBUTION: importlib.metadata.version(DISTRIBUTION)}
    except importlib.metadata.PackageNotFoundError:
        return {DISTRIBUTION: None}
    for line in requirements:
        if "extra ==" in line.replace('"', " ").replace("'", " "):
            continue  # optional groups (tests), not what a job runs with
        match = _REQUIREMENT_NAME.match(line)
        if match is None:
            continue
        name = match.group(0)
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return dict(sorted(versions.items()))


def _plain(value: Any, where: str) -> Any:
    """``value`` as JSON types; anything else is an error rather than a repr that may vary."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, Mapping):
        return {str(key): _plain(item, f"{where}.{key}") for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item, f"{where}[{i}]") for i, item in enumerate(value)]
    if isinstance(value, Path):
        return str(value)
    raise TypeError(
        f"config snapshot: {where} is a {type(value).__name__}, not a plain config value; "
        "pass the configuration as loaded from YAML"
    )


def collect_provenance(config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Git state, Python, package versions and ``config`` (the run's configuration, as given)."""
    return {
        "git": dict(git_state()),
        "python": platform.python_version(),
        "packages": dict(package_versions()),
        "config": None if config is None else _plain(config, "config"),
    }


def write_provenance(out_dir: str | Path, record: Mapping[str, Any]) -> Path:
    """``provenance.json`` in ``out_dir``, keys sorted, so equal records give equal bytes."""
    path = Path(out_dir) / PROVENANCE_FILE
    path.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n")
    return path
