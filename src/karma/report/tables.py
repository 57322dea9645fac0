"""The paper's tables from cell files: CSV (numbers), Markdown and LaTeX/booktabs (for reading).

Every public writer takes input paths and an output folder, writes ``<stem>.csv/.md/.tex`` there and
returns the paths, so a Snakemake rule can name its outputs with the same stem functions:

- Tables 1-7 (``benchmark_table_stem``): rows policies, columns Base / karmaBenign / karmaToxic (and
  Control, our negative control, where evaluated), the benchmark's primary metric, ``*`` where the
  item-level Wilcoxon against Base is significant;
- the karma reward on held-out prompts (``KARMA_REWARD_TABLE_STEM``, ours): every policy x variant;
- Table 8 (``ERODED_TABLE_STEM``): Base / karma (= benign) / karmaEroded for policies with the
  eroded variant, every benchmark it was evaluated on;
- the reward model table (``REWARD_TABLE_STEM``): generalized vs conditioned (and the permuted-label
  control model where trained);
- ours against the paper (``COMPARISON_TABLE_STEM``) for policies mapped to the paper's names;
- every significance test (``SIGNIFICANCE_STEM``, CSV only).
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from karma.evaluation.cells import KARMA_REWARD_BENCHMARK, Cell
from karma.report.layout import (
    BENCHMARK_TITLES,
    COMPARISON_TABLE_STEM,
    ERODED_TABLE_STEM,
    KARMA_REWARD_TABLE_STEM,
    REWARD_TABLE_STEM,
    SIGNIFICANCE_STEM,
    TABLE_NUMBERS,
    benchmark_table_stem,
    ordered_benchmarks,
)
from karma.report.published import (
    load_published,
    paper_policies,
    published_cells,
    published_reward_metrics,
)
from karma.report.rendering import (
    MISSING,
    Entry,
    RenderedTable,
    Value,
    fmt,
    write_csv,
    write_table_formats,
)
from karma.report.significance import (
    ACROSS_MODELS,
    BASE_VARIANT,
    ITEMS,
    CellKey,
    RecordKey,
    SignificanceOptions,
    SignificanceRecord,
    cell_label,
    index_records,
    load_cells,
    run_all_tests,
    tested_cells,
)

log = logging.getLogger(__name__)

VARIANT_LABELS = {"base": "Base", "benign": "karmaBenign", "toxic": "karmaToxic", "eroded": "karmaEroded",
                  "control": "Control"}
MAIN_VARIANTS = ("base", "benign", "toxic")
# The negative control (PPO against a permuted-label reward model, ours): a column where present.
CONTROL_VARIANT = "control"
ERODED_VARIANTS = ("base", "benign", "eroded")
ERODED_LABELS = {"base": "Base", "benign": "karma", "eroded": "karmaEroded"}
REWARD_SETTINGS = ("generalized", "conditioned")
REWARD_REQUIRED = ("accuracy", "f1", "roc_auc")
REWARD_COLUMNS = (
    ("accuracy", "Accuracy"),
    ("f1", "F1"),
    ("roc_auc", "ROC AUC"),
    ("pr_auc", "PR AUC"),
    ("label_positive_rate", "Rewarding share"),
)

# --- shared helpers ---------------------------------------------------------------------------


def order_policies(present: Iterable[str], policy_order: Sequence[str] | None) -> list[str]:
    """Policies in the configured order, then any others alphabetically."""
    present = set(present)
    ordered = [p for p in (policy_order or ()) if p in present]
    return ordered + sorted(present - set(ordered))


def _benchmark_metric(cells: Mapping[CellKey, Cell], benchmark: str) -> tuple[str, bool]:
    """The one primary metric and direction all cells of a benchmark share."""
    seen = {(c.primary_metric, c.higher_is_better): c for c in cells.values() if c.benchmark == benchmark}
    if len(seen) != 1:
        listed = "; ".join(f"{cell_label(c)}: {m} (higher is better: {h})" for (m, h), c in seen.items())
        raise ValueError(
            f"cells of benchmark {benchmark!r} disagree on the primary metric ({listed}); "
            "re-run their evaluation with one task configuration"
        )
    return next(iter(seen))


def _direction(higher_is_better: bool) -> str:
    return "higher is better" if higher_is_better else "lower is better"


def _p_text(record: SignificanceRecord | None, options: SignificanceOptions) -> str:
    if record is None:
        return MISSING
    p = record.p_for_decision(options)
    if math.isnan(p):
        return f"{MISSING} ({record.test.reason})"
    return f"{p:.3g}" + ("*" if record.significant(options) else "")


def _record_columns(record: SignificanceRecord | None, options: SignificanceOptions) -> list[Any]:
    if record is None:
        return [math.nan, math.nan, ""]
    return [record.test.p_value, record.p_holm, record.significant(options)]


def _degenerate_notes(
    records: Iterable[SignificanceRecord | None], labels: Mapping[str, str]
) -> list[str]:
    notes = []
    for record in records:
        if record is not None and record.test.reason:
            who = record.policy or "across models"
            notes.append(f"{who}, {labels.get(record.variant, record.variant)}: {record.test.reason}.")
    return notes


def paper_benchmarks(benchmarks: Iterable[str]) -> list[str]:
    """The paper's benchmarks among ``benchmarks`` in table order; the karma reward has its own table."""
    return ordered_benchmarks(b for b in benchmarks if b != KARMA_REWARD_BENCHMARK)


# --- Tables 1-7 -------------------------------------------------------------------------------


def _benchmark_table(
    cells: Mapping[CellKey, Cell],
    records: Mapping[RecordKey, SignificanceRecord],
    benchmark: str,
    options: SignificanceOptions,
    policy_order: Sequence[str] | None,
    decimals: int,
) -> tuple[RenderedTable, list[str], list[list[Any]]]:
    metric, higher = _benchmark_metric(cells, benchmark)
    policies = order_policies((p for (p, _, b) in cells if b == benchmark), policy_order)
    shown = MAIN_VARIANTS + ((CONTROL_VARIANT,) if any(
        v == CONTROL_VARIANT for (_, v, b) in cells if b == benchmark) else ())
    compared = shown[1:]
    rows: list[list[Entry]] = []
    csv_rows: list[list[Any]] = []
    item_records = []
    for policy in policies:
        row: list[Entry] = [policy]
        csv_row: list[Any] = [policy, metric]
        for variant in shown:
            cell = cells.get((policy, variant, benchmark))
            value = cell.primary_value if cell else math.nan
            record = records.get((ITEMS, benchmark, variant, policy, ""))
            row.append(Value(fmt(value, decimals), record is not None and record.significant(options)))
            csv_row.append(value)
            if variant != BASE_VARIANT:
                item_records.append(record)
        for variant in compared:
            csv_row += _record_columns(records.get((ITEMS, benchmark, variant, policy, "")), options)
        rows.append(row)
        csv_rows.append(csv_row)
    across = {v: records.get((ACROSS_MODELS, benchmark, v, "", "")) for v in compared}
    across_text = "; ".join(f"{VARIANT_LABELS[v]} p = {_p_text(r, options)}" for v, r in across.items())
    n_models = max((r.test.n for r in across.values() if r is not None), default=0)
    table = RenderedTable(
        title=f"Table {TABLE_NUMBERS[benchmark]}: {BENCHMARK_TITLES[benchmark]}, {metric} "
        f"({_direction(higher)})",
        header=["Model"] + [VARIANT_LABELS[v] for v in shown],
        rows=rows,
        align="l" + "r" * len(shown),
        marker_note=f"{options.describe()}; per-item scores paired by item id.",
        notes=[f"Across models (Wilcoxon over {n_models} policies' values against Base): {across_text}."]
        + _degenerate_notes(item_records, VARIANT_LABELS),
    )
    header = ["policy", "primary_metric", *shown]
    for variant in compared:
        header += [f"{variant}_p", f"{variant}_p_holm", f"{variant}_significant"]
    return table, header, csv_rows


def write_benchmark_tables(
    cell_paths: Sequence[str | Path],
    out_dir: str | Path,
    options: SignificanceOptions,
    policy_order: Sequence[str] | None = None,
    decimals: int = 3,
) -> list[Path]:
    """Tables 1-7, one per benchmark among the cells."""
    cells, records = tested_cells(cell_paths, options)
    return _write_benchmark_tables(cells, records, Path(out_dir), options, policy_order, decimals)


def _write_benchmark_tables(
    cells: Mapping[CellKey, Cell],
    records: Mapping[RecordKey, SignificanceRecord],
    out_dir: Path,
    options: SignificanceOptions,
    policy_order: Sequence[str] | None,
    decimals: int,
) -> list[Path]:
    paths: list[Path] = []
    for benchmark in paper_benchmarks(b for (_, _, b) in cells):
        table, header, rows = _benchmark_table(cells, records, benchmark, options, policy_order, decimals)
        paths += write_table_formats(out_dir, benchmark_table_stem(benchmark), table, header, rows)
    return paths


# --- Table 8 ----------------------------------------------------------------------------------


def write_eroded_table(
    cell_paths: Sequence[str | Path],
    out_dir: str | Path,
    options: SignificanceOptions,
    policy_order: Sequence[str] | None = None,
    decimals: int = 3,
) -> list[Path]:
    """Table 8: Base, karma (benign) and karmaEroded for the policies that have the eroded variant."""
    cells, records = tested_cells(cell_paths, options)
    return _write_eroded_table(cells, records, Path(out_dir), options, policy_order, decimals)


def _write_eroded_table(
    cells: Mapping[CellKey, Cell],
    records: Mapping[RecordKey, SignificanceRecord],
    out_dir: Path,
    options: SignificanceOptions,
    policy_order: Sequence[str] | None,
    decimals: int,
) -> list[Path]:
    eroded = [key for key in cells if key[1] == "eroded"]
    if not eroded:
        raise ValueError(
            "no cell of the 'eroded' variant among the inputs; Table 8 needs at least one policy "
            "evaluated with the conditioned reward model"
        )
    rows: list[list[Entry]] = []
    csv_rows: list[list[Any]] = []
    item_records = []
    for policy in order_policies({p for (p, _, _) in eroded}, policy_order):
        for benchmark in paper_benchmarks(b for (p, _, b) in eroded if p == policy):
            metric, higher = _benchmark_metric(cells, benchmark)
            row: list[Entry] = [policy, BENCHMARK_TITLES[benchmark], f"{metric} ({_direction(higher)})"]
            csv_row: list[Any] = [policy, benchmark, metric, higher]
            for variant in ERODED_VARIANTS:
                cell = cells.get((policy, variant, benchmark))
                value = cell.primary_value if cell else math.nan
                record = records.get((ITEMS, benchmark, variant, policy, ""))
                row.append(Value(fmt(value, decimals), record is not None and record.significant(options)))
                csv_row.append(value)
                if variant != BASE_VARIANT:
                    item_records.append(record)
            for variant in ERODED_VARIANTS[1:]:
                csv_row += _record_columns(records.get((ITEMS, benchmark, variant, policy, "")), options)
            rows.append(row)
            csv_rows.append(csv_row)
    table = RenderedTable(
        title="Table 8: reward model inputs; karma uses the generalized reward model, karmaEroded the "
        "conditioned one",
        header=["Model", "Benchmark", "Metric"] + [ERODED_LABELS[v] for v in ERODED_VARIANTS],
        rows=rows,
        align="lll" + "r" * len(ERODED_VARIANTS),
        marker_note=f"{options.describe()}; per-item scores paired by item id.",
        notes=_degenerate_notes(item_records, ERODED_LABELS),
    )
    header = ["policy", "benchmark", "primary_metric", "higher_is_better", *ERODED_VARIANTS]
    for variant in ERODED_VARIANTS[1:]:
        header += [f"{variant}_p", f"{variant}_p_holm", f"{variant}_significant"]
    return write_table_formats(out_dir, ERODED_TABLE_STEM, table, header, csv_rows)


# --- reward model -----------------------------------------------------------------------------


def read_reward_metrics(path: str | Path) -> dict[str, Any]:
    """A reward model's ``metrics.json``, checked for the keys the tables and figures need."""
    path = Path(path)
    try:
        metrics = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read reward metrics {path}: {err}; re-run its training job") from err
    missing = [key for key in REWARD_REQUIRED if key not in metrics]
    if missing:
        raise ValueError(f"reward metrics {path} lack {', '.join(missing)}; re-run its training job")
    return metrics


def reward_metric(metrics: Mapping[str, Any], key: str) -> float:
    """A metric as float; NaN where absent or null (e.g. AUCs when the held-out labels hold one class)."""
    value = metrics.get(key)
    if value is None and key == "label_positive_rate":
        value = metrics.get("positive_rate")
    return math.nan if value is None else float(value)


def _ordered_settings(settings: Iterable[str]) -> list[str]:
    found = set(settings)
    return [s for s in REWARD_SETTINGS if s in found] + sorted(found - set(REWARD_SETTINGS))


def write_reward_table(
    reward_metrics: Mapping[str, str | Path], out_dir: str | Path, decimals: int = 4
) -> list[Path]:
    """Reward model held-out metrics, one row per setting (``{setting: metrics.json}``)."""
    if not reward_metrics:
        raise ValueError("no reward metrics given; pass {setting: path to metrics.json}")
    metrics = {s: read_reward_metrics(p) for s, p in reward_metrics.items()}
    settings = _ordered_settings(metrics)
    rows: list[list[Entry]] = []
    csv_rows: list[list[Any]] = []
    for setting in settings:
        m = metrics[setting]
        values = [reward_metric(m, key) for key, _ in REWARD_COLUMNS]
        rows.append([setting, *[fmt(v, decimals) for v in values], str(m.get("n", MISSING))])
        csv_rows.append([setting, *values, m.get("n", "")])
    notes = []
    if {"generalized", "conditioned"} <= metrics.keys():
        gen, con = metrics["generalized"], metrics["conditioned"]
        pairs = [(label, reward_metric(gen, key), reward_metric(con, key)) for key, label in REWARD_COLUMNS[:3]]
        changes = ", ".join(
            f"{label} {100 * (c - g) / g:+.1f}%" for label, g, c in pairs if g and not math.isnan(c)
        )
        if changes:
            notes.append(f"Conditioned relative to generalized: {changes} (paper: about +3-4%).")
    table = RenderedTable(
        title="Reward model on the held-out split: generalized vs conditioned inputs",
        header=["Setting", *[label for _, label in REWARD_COLUMNS], "n"],
        rows=rows,
        align="l" + "r" * (len(REWARD_COLUMNS) + 1),
        notes=notes,
    )
    header = ["setting", *[key for key, _ in REWARD_COLUMNS], "n"]
    return write_table_formats(Path(out_dir), REWARD_TABLE_STEM, table, header, csv_rows)


# --- the karma reward on held-out prompts ------------------------------------------------------


def _variant_order(variants: Iterable[str]) -> list[str]:
    found = set(variants)
    return [v for v in VARIANT_LABELS if v in found] + sorted(found - VARIANT_LABELS.keys())


def write_karma_reward_table(
    cell_paths: Sequence[str | Path],
    out_dir: str | Path,
    options: SignificanceOptions,
    policy_order: Sequence[str] | None = None,
    decimals: int = 3,
) -> list[Path]:
    """The PPO objective as a benchmark: each policy x variant's karma reward on held-out prompts."""
    cells, records = tested_cells(cell_paths, options)
    return _write_karma_reward_table(cells, records, Path(out_dir), options, policy_order, decimals)


def _write_karma_reward_table(
    cells: Mapping[CellKey, Cell],
    records: Mapping[RecordKey, SignificanceRecord],
    out_dir: Path,
    options: SignificanceOptions,
    policy_order: Sequence[str] | None,
    decimals: int,
) -> list[Path]:
    benchmark = KARMA_REWARD_BENCHMARK
    keys = [key for key in cells if key[2] == benchmark]
    if not keys:
        raise ValueError(f"no {benchmark!r} cell among the inputs; the karma reward table needs them")
    variants = _variant_order(v for (_, v, _) in keys)
    rows: list[list[Entry]] = []
    csv_rows: list[list[Any]] = []
    item_records = []
    for policy in order_policies({p for (p, _, _) in keys}, policy_order):
        base = cells.get((policy, BASE_VARIANT, benchmark))
        for variant in variants:
            cell = cells.get((policy, variant, benchmark))
            if cell is None:
                continue
            record = records.get((ITEMS, benchmark, variant, policy, ""))
            if variant != BASE_VARIANT:
                item_records.append(record)
            delta = cell.primary_value - base.primary_value if base is not None else math.nan
            conditioned = cell.metrics.get("karma_reward_conditioned", math.nan)
            eos_rate = cell.metrics.get("eos_rate", math.nan)
            rows.append([
                policy, VARIANT_LABELS.get(variant, variant),
                Value(fmt(cell.primary_value, decimals), record is not None and record.significant(options)),
                MISSING if variant == BASE_VARIANT or math.isnan(delta) else f"{delta:+.{decimals}f}",
                "" if variant == BASE_VARIANT else _p_text(record, options),
                fmt(conditioned, decimals), fmt(eos_rate, 2), str(cell.n),
            ])
            csv_rows.append([policy, variant, cell.primary_value, delta, *_record_columns(record, options),
                             record.test.effect_size if record else math.nan, conditioned, eos_rate, cell.n])
    across = {v: records.get((ACROSS_MODELS, benchmark, v, "", "")) for v in variants if v != BASE_VARIANT}
    across_text = "; ".join(f"{VARIANT_LABELS.get(v, v)} p = {_p_text(r, options)}" for v, r in across.items())
    table = RenderedTable(
        title="Karma reward of each policy's replies to held-out prompts (generalized reward model, "
        "higher is better)",
        header=["Model", "Variant", "Karma reward", "vs Base", "p", "Conditioned RM", "EOS rate", "n"],
        rows=rows,
        align="llrrrrrr",
        marker_note=f"{options.describe()}; per-prompt scores paired by prompt id.",
        notes=[
            "An item is a held-out prompt (Reddit test-split threads, UltraChat prompts kept out of PPO); "
            "its score is the mean reward of the sampled replies. Control: PPO like karmaBenign against a "
            "reward model trained on permuted labels.",
            f"Across models (Wilcoxon over policies' values against Base): {across_text}.",
        ] + _degenerate_notes(item_records, VARIANT_LABELS),
    )
    header = ["policy", "variant", "karma_reward", "difference_vs_base", "p", "p_holm", "significant",
              "effect_size", "karma_reward_conditioned", "eos_rate", "n"]
    return write_table_formats(out_dir, KARMA_REWARD_TABLE_STEM, table, header, csv_rows)


# --- ours against the paper -------------------------------------------------------------------


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
    for benchmark in paper_benchmarks(b for (_, _, b) in cells):
        for policy, paper_policy in policy_map.items():
            for variant in VARIANT_LABELS:
                cell = cells.get((policy, variant, benchmark))
                theirs = paper.get((benchmark, paper_policy, variant))
                if cell is None or theirs is None:
                    continue
                number = 8 if variant == "eroded" else TABLE_NUMBERS[benchmark]
                diff = cell.primary_value - theirs
                rows.append(
                    [
                        str(number),
                        BENCHMARK_TITLES[benchmark],
                        policy,
                        paper_policy,
                        VARIANT_LABELS[variant],
                        fmt(cell.primary_value, decimals),
                        fmt(theirs, decimals),
                        fmt(diff, decimals),
                    ]
                )
                csv_rows.append(
                    [number, benchmark, policy, paper_policy, variant, cell.primary_metric,
                     cell.primary_value, theirs, diff]
                )
    if reward_metrics:
        paper_reward = published_reward_metrics(published)
        for setting in _ordered_settings(reward_metrics):
            ours = read_reward_metrics(reward_metrics[setting])
            for key, label in REWARD_COLUMNS[:3]:
                theirs = paper_reward.get(setting, {}).get(key)
                if theirs is None:
                    continue
                value = reward_metric(ours, key)
                diff = value - theirs
                rows.append(
                    ["RM", f"reward model {label}", setting, "LLaMA-1B", setting,
                     fmt(value, 4), fmt(theirs, 4), fmt(diff, 4)]
                )
                csv_rows.append(["RM", "reward_model", setting, "LLaMA-1B", setting, key, value, theirs, diff])
    table = RenderedTable(
        title="Our results against the KARMA paper's published values",
        header=["Table", "Benchmark", "Our model", "Paper model", "Variant", "Ours", "Paper", "Ours - paper"],
        rows=rows,
        align="lllllrrr",
        notes=[
            "Paper values transcribed by hand from the paper's tables (karma/published_results.csv).",
            "The paper does not define its CrowS-Pairs, sycophancy and TruthfulQA metrics, so those rows "
            "may compare different quantities; our metric is in the CSV column our_metric.",
        ],
    )
    header = ["table", "benchmark", "policy", "paper_policy", "variant", "our_metric", "ours", "paper",
              "difference"]
    return write_table_formats(Path(out_dir), COMPARISON_TABLE_STEM, table, header, csv_rows)


# --- significance CSV -------------------------------------------------------------------------

SIGNIFICANCE_HEADER = (
    "scope", "benchmark", "variant", "policy", "category", "n", "n_nonzero", "median_difference",
    "effect_size", "statistic", "p_value", "p_holm", "significant", "alpha", "holm", "zero_method",
    "method", "reason",
)


def _significance_rows(records: Iterable[SignificanceRecord], options: SignificanceOptions) -> list[list[Any]]:
    return [
        [r.scope, r.benchmark, r.variant, r.policy, r.category, r.test.n, r.test.n_nonzero,
         r.test.median_difference, r.test.effect_size, r.test.statistic, r.test.p_value, r.p_holm,
         r.significant(options), options.alpha, options.holm, options.zero_method, options.method,
         r.test.reason]
        for r in records
    ]


def write_significance_csv(
    cell_paths: Sequence[str | Path], out_dir: str | Path, options: SignificanceOptions
) -> list[Path]:
    """Every test (per item, per category, across models, across categories) as one CSV."""
    records = run_all_tests(load_cells(cell_paths), options)
    path = Path(out_dir) / f"{SIGNIFICANCE_STEM}.csv"
    write_csv(path, SIGNIFICANCE_HEADER, _significance_rows(records, options))
    return [path]


# --- everything -------------------------------------------------------------------------------


def write_all_tables(
    cell_paths: Sequence[str | Path],
    out_dir: str | Path,
    options: SignificanceOptions,
    reward_metrics: Mapping[str, str | Path] | None = None,
    policy_order: Sequence[str] | None = None,
    paper_policy_map: Mapping[str, str] | None = None,
    decimals: int = 3,
) -> list[Path]:
    """All tables at once (tests run once); Table 8 only if eroded cells exist, the comparison only
    with a non-empty ``paper_policy_map``. Matches :func:`table_paths`."""
    out = Path(out_dir)
    cells = load_cells(cell_paths)
    all_records = run_all_tests(cells, options)
    records = index_records(all_records)
    paths = _write_benchmark_tables(cells, records, out, options, policy_order, decimals)
    if any(b == KARMA_REWARD_BENCHMARK for (_, _, b) in cells):
        paths += _write_karma_reward_table(cells, records, out, options, policy_order, decimals)
    if any(v == "eroded" for (_, v, _) in cells):
        paths += _write_eroded_table(cells, records, out, options, policy_order, decimals)
    if reward_metrics:
        paths += write_reward_table(reward_metrics, out)
    if paper_policy_map:
        paths += write_paper_comparison(cell_paths, out, paper_policy_map, reward_metrics, decimals=decimals)
    significance = out / f"{SIGNIFICANCE_STEM}.csv"
    write_csv(significance, SIGNIFICANCE_HEADER, _significance_rows(all_records, options))
    return paths + [significance]
