"""Model cards: a ``README.md`` in every model directory the workflow writes, with its provenance.

One writer for every kind of model (reward models, PPO and base policies, demo backbones), so each
stage only says what its model is; the layout, the Hugging Face metadata header and the provenance
section are the same everywhere. The card is Markdown with a YAML header, as the Hugging Face hub
reads it; ``provenance.json`` beside it holds the full record (config snapshot included).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from karma.provenance import PROVENANCE_FILE, write_provenance

CARD_FILE = "README.md"


@dataclass(frozen=True)
class ModelCard:
    """What a model is, in the card's order: a summary, then one Markdown body per heading.

    ``metadata`` is the YAML header (``library_name``, ``pipeline_tag``, ``tags``, ...).
    """

    title: str
    summary: str
    sections: Mapping[str, str]
    metadata: Mapping[str, Any] = field(default_factory=dict)


def json_block(value: Any) -> str:
    """A fenced JSON block, keys sorted: training settings and metrics as they were used."""
    return "```json\n" + json.dumps(value, indent=1, sort_keys=True, default=str) + "\n```"


def _provenance_section(record: Mapping[str, Any]) -> str:
    git = record.get("git") or {}
    commit = git.get("commit") or "unknown (not run from a git checkout)"
    dirty = {True: "yes", False: "no", None: "unknown"}[git.get("dirty")]
    packages = record.get("packages") or {}
    rows = "\n".join(f"| {name} | {version or 'not installed'} |" for name, version in packages.items())
    return (
        f"- git commit: `{commit}`\n- uncommitted changes: {dirty}\n"
        f"- python: {record.get('python')}\n"
        f"- configuration: the run's whole config is in `{PROVENANCE_FILE}` (`config`)\n\n"
        f"| package | version |\n|---|---|\n{rows}"
    )


def render_model_card(card: ModelCard, provenance: Mapping[str, Any]) -> str:
    header = yaml.safe_dump(dict(card.metadata), sort_keys=True).strip() if card.metadata else ""
    parts = [f"---\n{header}\n---\n"] if header else []
    parts.append(f"# {card.title}\n\n{card.summary.strip()}\n")
    for heading, body in card.sections.items():
        parts.append(f"## {heading}\n\n{body.strip()}\n")
    parts.append(f"## Provenance\n\n{_provenance_section(provenance)}\n")
    return "\n".join(parts)


def write_model_card(
    model_dir: str | Path, card: ModelCard, provenance: Mapping[str, Any]
) -> Path:
    """``README.md`` and ``provenance.json`` into an existing model directory; returns the card."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise FileNotFoundError(f"{model_dir} is not a directory: save the model before its card")
    path = model_dir / CARD_FILE
    path.write_text(render_model_card(card, provenance))
    write_provenance(model_dir, provenance)
    return path
