"""Our results next to the KARMA paper's published values, with the candidate metric compared.

The paper does not define three of its metrics, so each of our rows names the candidate it compares
(the table's primary metric, ``benchmarks.metrics``) and says whether that candidate can take the
values the paper publishes for that benchmark at all (its scale). Every cell keeps every candidate,
so the notes rank the candidates by how close they come to the published values: on a real run that
shows which quantity the paper most likely reported.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from karma.evaluation import benchmark_metrics
from karma.evaluation.cells import Cell
from karma.report.layout import (
    COMPARISON_TABLE_STEM,
    TABLE_NUMBERS,
    VARIANTS,
    benchmark_title,
    paper_benchmarks,
    toxicity_scorer,
    variant_label,
)
from karma.report.published import (
    PublishedValue,
    load_published,
    paper_policies,
    published_cells,
    published_reward_metrics,
)
from karma.report.rendering import Entry, Rendered, fmt, write_formats
from karma.report.significance import load_cells
from karma.report.training_tables import REWARD_COLUMNS, ordered_settings, read_reward_metrics, reward_metric

log = logging.getLogger(__name__)

HEADER = ("table", "benchmark", "policy", "paper_policy", "variant", "our_metric", "on_published_scale", "ours",
          "paper", "difference", "candidates")


def published_scale(values: Sequence[PublishedValue], benchmark: str) -> list[float]:
    """The values the paper prints in the benchmark's own table (Tables 1-7): what a candidate must fit."""
    number = str(TABLE_NUMBERS[benchmark])
    return [v.value for v in values if v.table == number and v.benchmark == benchmark]


def _candidate_values(cell: Cell) -> dict[str, float]:
    """Each candidate's value in the cell: the mean of its per-item score (``Cell.metrics``)."""
    return {name: cell.metrics[name] for name in benchmark_metrics.score_names(cell.benchmark) if name in cell.metrics}


def _closeness_note(
    benchmark: str, pairs: list[tuple[Cell, float]], scale: list[float], primary: str, title: str
) -> str:
    """Mean |ours - paper| per candidate over the benchmark's rows, closest first."""
    gaps: dict[str, list[float]] = {}
    for cell, theirs in pairs:
        for name, value in _candidate_values(cell).items():
            gaps.setdefault(name, []).append(abs(value - theirs))
    ranked = sorted(gaps, key=lambda name: math.fsum(gaps[name]) / len(gaps[name]))
    parts = []
    for name in ranked:
        fits = benchmark_metrics.candidate(benchmark, name).fits(scale)
        parts.append(f"{name} {math.fsum(gaps[name]) / len(gaps[name]):.3g}" + ("" if fits else " (off scale)"))
    return (f"{title}: compared {primary}; mean |ours - paper| over {len(pairs)} rows per "
            f"candidate, closest first: {', '.join(parts)}.")


def write_paper_comparison(
    cell_paths: Sequence[str | Path],
    out_dir: str | Path,
    policy_map: Mapping[str, str],
    reward_metrics: Mapping[str, str | Path] | None = None,
    published_path: str | Path | None = None,
    decimals: int = 3,
) -> list[Path]:
    """Our values next to the paper's for policies mapped to paper names (``{ours: paper}``)."""
    published = load_published(published_path)
    known = paper_policies(published)
    unknown = sorted(set(policy_map.values()) - set(known))
    if unknown:
        raise ValueError(
            f"paper policy name(s) {', '.join(unknown)} are not in the paper's tables; use one of "
            f"{', '.join(known)}"
        )
    paper = published_cells(published)
    cells = load_cells(cell_paths)
    ours_present = {p for (p, _, _) in cells}
    for policy in sorted(set(policy_map) - ours_present):
        log.warning("policy %s is mapped to %s but has no cells; left out", policy, policy_map[policy])
    rows: list[list[Entry]] = []
    csv_rows: list[list[Any]] = []
    notes: list[str] = []
    scorer = toxicity_scorer(cells.values())
    for benchmark in paper_benchmarks(b for (_, _, b) in cells):
        title = benchmark_title(benchmark, scorer)
        scale = published_scale(published, benchmark)
        pairs: list[tuple[Cell, float]] = []
        for policy, paper_policy in policy_map.items():
            for variant in VARIANTS:
                cell = cells.get((policy, variant, benchmark))
                theirs = paper.get((benchmark, paper_policy, variant))
                if cell is None or theirs is None:
                    continue
                pairs.append((cell, theirs))
                number = 8 if variant == "eroded" else TABLE_NUMBERS[benchmark]
                on_scale = benchmark_metrics.candidate(benchmark, cell.primary_metric).fits(scale)
                diff = cell.primary_value - theirs
                rows.append([str(number), title, policy, paper_policy, variant_label(variant),
                             f"{cell.primary_metric} ({'on' if on_scale else 'off'} scale)",
                             fmt(cell.primary_value, decimals), fmt(theirs, decimals), fmt(diff, decimals)])
                candidates = "; ".join(f"{k}={v:.6g}" for k, v in _candidate_values(cell).items())
                csv_rows.append([number, benchmark, policy, paper_policy, variant, cell.primary_metric, on_scale,
                                 cell.primary_value, theirs, diff, candidates])
        if pairs:
            notes.append(_closeness_note(benchmark, pairs, scale, pairs[0][0].primary_metric, title))
    if reward_metrics:
        paper_reward = published_reward_metrics(published)
        for setting in ordered_settings(reward_metrics):
            ours = read_reward_metrics(reward_metrics[setting])
            for key, label in REWARD_COLUMNS[:3]:
                theirs = paper_reward.get(setting, {}).get(key)
                if theirs is None:
                    continue
                value = reward_metric(ours, key)
                rows.append(["RM", f"reward model {label}", setting, "LLaMA-1B", setting, key,
                             fmt(value, 4), fmt(theirs, 4), fmt(value - theirs, 4)])
                csv_rows.append(["RM", "reward_model", setting, "LLaMA-1B", setting, key, True, value, theirs,
                                 value - theirs, ""])
    table = Rendered(
        title="Our results against the KARMA paper's published values",
        header=["Table", "Benchmark", "Our model", "Paper model", "Variant", "Metric compared", "Ours", "Paper",
                "Ours - paper"],
        rows=rows,
        align="llllllrrr",
        notes=[
            "Paper values transcribed by hand from the paper's tables (karma/report/published_results.csv).",
            "The paper does not define its CrowS-Pairs, sycophancy and TruthfulQA metrics. 'Metric compared' is "
            "our table's primary metric (benchmarks.metrics); 'on scale' means that metric can take every value "
            "the paper prints in that benchmark's table, 'off scale' that it cannot (e.g. a rate in [0, 1] "
            "against negative published values). The CSV column candidates holds every candidate's value.",
            *notes,
        ],
    )
    return write_formats(Path(out_dir), COMPARISON_TABLE_STEM, table, HEADER, csv_rows)
