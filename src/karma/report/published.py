"""The KARMA paper's published numbers, for side-by-side tables of ours against theirs.

The values live in ``published_results.csv`` next to this module, transcribed by hand from the
paper's tables (see that file's header); this module only reads and checks them.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

REWARD_TABLE = "RM"
COLUMNS = ("table", "benchmark", "policy", "variant", "metric", "value")


@dataclass(frozen=True)
class PublishedValue:
    table: str
    benchmark: str
    policy: str
    variant: str
    metric: str
    value: float


def _read_rows(path: Path | None) -> tuple[str, list[dict[str, str]]]:
    if path is None:
        text = resources.files("karma.report").joinpath("published_results.csv").read_text()
        name = "karma/report/published_results.csv"
    else:
        text = Path(path).read_text()
        name = str(path)
    lines = [line for line in text.splitlines() if line.strip() and not line.startswith("#")]
    reader = csv.DictReader(lines)
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise ValueError(f"{name}: header must be {','.join(COLUMNS)}, got {reader.fieldnames}")
    return name, list(reader)


def load_published(path: str | Path | None = None) -> list[PublishedValue]:
    """All published values; ``path`` overrides the packaged transcription."""
    name, rows = _read_rows(Path(path) if path is not None else None)
    values: list[PublishedValue] = []
    for line, row in enumerate(rows, start=1):
        try:
            value = float(row["value"])
        except ValueError as err:
            raise ValueError(f"{name}: data row {line} has non-numeric value {row['value']!r}") from err
        if not math.isfinite(value):
            raise ValueError(f"{name}: data row {line} has non-finite value {value!r}")
        values.append(PublishedValue(**{**row, "value": value}))
    return values


def published_cells(values: list[PublishedValue]) -> dict[tuple[str, str, str], float]:
    """(benchmark, paper policy, variant) -> value over Tables 1-8.

    Table 8 repeats Tables 1-5's base and benign values; a disagreement means a transcription error.
    """
    cells: dict[tuple[str, str, str], float] = {}
    for v in values:
        if v.table == REWARD_TABLE:
            continue
        key = (v.benchmark, v.policy, v.variant)
        if key in cells and cells[key] != v.value:
            raise ValueError(
                f"published value for {'/'.join(key)} is both {cells[key]} and {v.value} "
                f"(table {v.table}); fix the transcription"
            )
        cells[key] = v.value
    return cells


def published_reward_metrics(values: list[PublishedValue]) -> dict[str, dict[str, float]]:
    """setting -> {metric: value} for the reward model (only what the paper states)."""
    metrics: dict[str, dict[str, float]] = {}
    for v in values:
        if v.table == REWARD_TABLE:
            metrics.setdefault(v.variant, {})[v.metric] = v.value
    return metrics


def paper_policies(values: list[PublishedValue]) -> list[str]:
    """Paper model names in the order of the paper's tables."""
    return list(dict.fromkeys(v.policy for v in values if v.table != REWARD_TABLE))
