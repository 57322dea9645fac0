"""One result-table cell: a (policy, variant, benchmark) evaluation, stored as one JSON file.

Evaluation writes cells; statistics and reporting read only cells. Keeping the schema in one place
means neither side can drift from the other.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CELL_SCHEMA_VERSION = 1
# The benchmark name of the karma reward on held-out prompts (karma.evaluation.karma_reward): not one
# of the paper's seven, so it has its own table.
KARMA_REWARD_BENCHMARK = "reward"


@dataclass
class ItemScore:
    """One benchmark item; ``score`` is the per-item value the primary metric aggregates."""

    id: str
    score: float
    scores: dict[str, float] = field(default_factory=dict)
    category: str | None = None


@dataclass
class Cell:
    benchmark: str
    policy: str
    variant: str
    primary_metric: str
    primary_value: float
    higher_is_better: bool
    metrics: dict[str, float]
    n: int
    items: list[ItemScore]
    categories: dict[str, dict[str, float]] = field(default_factory=dict)
    lm_eval_version: str | None = None
    task_config: dict[str, Any] = field(default_factory=dict)
    # git commit, dirty flag, packages and the run's config (karma.provenance); {} in older cells
    provenance: dict[str, Any] = field(default_factory=dict)
    schema_version: int = CELL_SCHEMA_VERSION

    def __post_init__(self) -> None:
        if self.n != len(self.items):
            raise ValueError(
                f"cell {self.policy}/{self.variant}/{self.benchmark}: n={self.n} but "
                f"{len(self.items)} per-item records; every item must be kept"
            )
        if not math.isfinite(self.primary_value):
            raise ValueError(
                f"cell {self.policy}/{self.variant}/{self.benchmark}: primary value "
                f"{self.primary_value!r} is not finite"
            )


def write_cell(cell: Cell, path: str | Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(asdict(cell), indent=1, sort_keys=True))
    tmp.replace(path)


def read_cell(path: str | Path) -> Cell:
    path = Path(path)
    try:
        raw = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read cell file {path}: {err}; re-run its evaluation job") from err
    version = raw.get("schema_version")
    if version != CELL_SCHEMA_VERSION:
        raise ValueError(
            f"cell file {path} has schema version {version!r}, expected {CELL_SCHEMA_VERSION}; "
            "re-run its evaluation job"
        )
    raw["items"] = [ItemScore(**item) for item in raw["items"]]
    return Cell(**raw)
