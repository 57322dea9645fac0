"""The paper's tables from cell files: CSV (numbers), Markdown and LaTeX/booktabs (for reading).

Every public writer takes input paths and an output folder, writes ``<stem>.csv/.md/.tex`` there and
returns the paths, so a Snakemake rule can name its outputs with the same stem functions:

- Tables 1-7 (``benchmark_table_stem``): rows policies, columns Base / karmaBenign / karmaToxic (and
  Control, our negative control, where evaluated), the benchmark's primary metric; ``*`` where the variant differs from Base and ``†`` where
  karmaToxic differs from karmaBenign, by the per-policy test of ``statistics.stars`` (items: ours;
  categories: the paper's per-model test across bias or toxicity types); a last row holds the test
  across models, the paper's other unit;
- the karma reward on held-out prompts (``KARMA_REWARD_TABLE_STEM``, ours): every policy x variant;
- Table 8 (``ERODED_TABLE_STEM``): Base / karmaBenign / karmaEroded for policies with the eroded
  variant, every benchmark it was evaluated on; ``†`` compares karmaEroded with karmaBenign (the paper
  calls that column "karma");
- the reward model and PPO tables (:mod:`karma.report.training_tables`), ours against the paper
  (:mod:`karma.report.comparison`);
- every significance test (``SIGNIFICANCE_STEM``, CSV only), with its baseline, unit and test.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from karma.evaluation.cells import KARMA_REWARD_BENCHMARK, Cell
from karma.report.comparison import write_paper_comparison
from karma.report.data_tables import write_examples_table, write_threads_table
from karma.report.layout import (
    ERODED_TABLE_STEM,
    KARMA_REWARD_TABLE_STEM,
    SIGNIFICANCE_STEM,
    TABLE_NUMBERS,
    benchmark_table_stem,
    benchmark_title,
    ordered_benchmarks,
    ordered_variants,
    paper_benchmarks,
    toxicity_scorer,
    toxicity_scorer_note,
    variant_label,
)
from karma.report.rendering import (
    BASE_MARK,
    CONTRAST_MARK,
    MISSING,
    Entry,
    Rendered,
    Value,
    fmt,
    order_policies,
    write_csv,
    write_formats,
)
from karma.report.significance import (
    ACROSS_CATEGORIES,
    ACROSS_MODELS,
    BASE_VARIANT,
    CONTRASTS,
    ITEMS,
    UNIT_CATEGORIES,
    UNIT_ITEMS,
    UNIT_MODELS,
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
from karma.report.training_tables import write_ppo_table, write_reward_table

log = logging.getLogger(__name__)

MAIN_VARIANTS = ("base", "benign", "toxic")
# The negative control (PPO against a permuted-label reward model, ours): a column where present.
CONTROL_VARIANT = "control"
ERODED_VARIANTS = ("base", "benign", "eroded")
CONTRAST_OF = dict(CONTRASTS)  # variant -> the trained variant the paper contrasts it with
ACROSS_MODELS_ROW = "across models"


# --- shared helpers ---------------------------------------------------------------------------


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


def _comparisons(variants: Sequence[str]) -> list[tuple[str, str]]:
    """(variant, baseline) pairs a table shows: each trained column against Base, then its contrast."""
    pairs = [(v, BASE_VARIANT) for v in variants if v != BASE_VARIANT]
    return pairs + [(v, CONTRAST_OF[v]) for v in variants if CONTRAST_OF.get(v) in variants]


def _star_record(
    records: Mapping[RecordKey, SignificanceRecord], options: SignificanceOptions, benchmark: str, variant: str,
    baseline: str, policy: str,
) -> SignificanceRecord | None:
    """The per-policy test that marks a cell: item-level (ours) or across categories (the paper's)."""
    scope = ITEMS if options.stars == UNIT_ITEMS else ACROSS_CATEGORIES
    return records.get((scope, benchmark, variant, baseline, policy, ""))


def _markers(
    records: Mapping[RecordKey, SignificanceRecord], options: SignificanceOptions, benchmark: str, variant: str,
    policy: str, shown: Sequence[str],
) -> str:
    marks = ""
    for baseline, mark in ((BASE_VARIANT, BASE_MARK), (CONTRAST_OF.get(variant), CONTRAST_MARK)):
        if variant == baseline or baseline not in shown:
            continue
        record = _star_record(records, options, benchmark, variant, baseline, policy)
        if record is not None and record.significant(options):
            marks += mark
    return marks


def _star_note(options: SignificanceOptions, benchmark: str, contrast: str, title: str) -> str:
    """The one line that says which test the table's markers come from."""
    if options.stars == UNIT_CATEGORIES and benchmark not in options.category_benchmarks:
        return (f"No per-model markers: as in the paper, {title} is tested across models "
                "only (last row); item-level tests (ours) are in significance.csv.")
    family = ("all item-level tests of the benchmark" if options.stars == UNIT_ITEMS
              else "all per-model tests of the benchmark")
    return f"* against Base, † {contrast}: {options.describe(benchmark, options.stars, family)}."


def _p_text(record: SignificanceRecord | None, options: SignificanceOptions) -> str:
    if record is None:
        return MISSING
    p = record.p_for_decision(options)
    if math.isnan(p):
        return f"{MISSING} ({record.test.reason})"
    return f"p={p:.3g}" + ("*" if record.significant(options) else "")


def _record_columns(record: SignificanceRecord | None, options: SignificanceOptions) -> list[Any]:
    if record is None:
        return [math.nan, math.nan, ""]
    return [record.test.p_value, record.p_holm, record.significant(options)]


def _comparison_header(pairs: Iterable[tuple[str, str]]) -> list[str]:
    return [f"{v}_vs_{b}_{column}" for v, b in pairs for column in ("p", "p_holm", "significant")]


def _degenerate_notes(records: Iterable[SignificanceRecord | None], titles: Mapping[str, str]) -> list[str]:
    """Tests that could not be run, one note per reason and set of benchmarks, naming both and every
    comparison (policy, variant vs baseline) it applies to."""
    benchmarks_of: dict[tuple[str, str, str, str], list[str]] = {}
    for record in records:
        if record is not None and record.test.reason:
            key = (record.policy or ACROSS_MODELS_ROW, record.variant, record.baseline, record.test.reason)
            names = benchmarks_of.setdefault(key, [])
            if titles[record.benchmark] not in names:
                names.append(titles[record.benchmark])
    grouped: dict[tuple[tuple[str, ...], str], list[str]] = {}
    for (who, variant, baseline, reason), names in benchmarks_of.items():
        grouped.setdefault((tuple(names), reason), []).append(
            f"{who} {variant_label(variant)} vs {variant_label(baseline)}")
    return [f"No test on {'; '.join(names)}: {reason} ({', '.join(pairs)})."
            for (names, reason), pairs in grouped.items()]


def _policies(n: int) -> str:
    return f"{n} polic{'y' if n == 1 else 'ies'}"


def _across_models_tests(options: SignificanceOptions, benchmark: str) -> str:
    return options.describe(benchmark, UNIT_MODELS, "the benchmark's across-models tests")


def _across_models_note(
    records: Mapping[RecordKey, SignificanceRecord], options: SignificanceOptions, benchmark: str,
    pairs: Sequence[tuple[str, str]], title: str, with_test: bool = True,
) -> str:
    """The across-models p-values of one benchmark; ``with_test`` appends which test gave them."""
    found = {pair: records.get((ACROSS_MODELS, benchmark, *pair, "", "")) for pair in pairs}
    sizes = {r.test.n for r in found.values() if r is not None}
    per_pair = len(sizes) > 1  # e.g. Table 8: karmaEroded exists for fewer policies than karmaBenign
    listed = "; ".join(
        f"{variant_label(v)} vs {variant_label(b)} {_p_text(r, options)}"
        + (f" ({_policies(r.test.n)})" if per_pair and r is not None else "")
        for (v, b), r in found.items()
    )
    counted = "" if per_pair else f" ({_policies(max(sizes, default=0))})"
    test = f" Test: {_across_models_tests(options, benchmark)}." if with_test else ""
    return f"{title}, across models{counted}: {listed}.{test}"


def _across_models_notes(
    records: Mapping[RecordKey, SignificanceRecord], options: SignificanceOptions, benchmarks: Sequence[str],
    pairs: Sequence[tuple[str, str]], titles: Mapping[str, str],
) -> list[str]:
    """One note per benchmark; the test is named once when every benchmark has the same."""
    tests = {_across_models_tests(options, b) for b in benchmarks}
    shared = len(tests) == 1
    notes = [_across_models_note(records, options, b, pairs, titles[b], with_test=not shared) for b in benchmarks]
    return notes + ([f"Across-models test of every benchmark above: {tests.pop()}."] if shared else [])


def _titles(cells: Mapping[CellKey, Cell]) -> dict[str, str]:
    """Each benchmark's title, toxicity naming the scorer its cells were scored with."""
    scorer = toxicity_scorer(cells.values())
    return {benchmark: benchmark_title(benchmark, scorer) for benchmark in {b for (_, _, b) in cells}}


def _scorer_notes(cells: Mapping[CellKey, Cell], benchmarks: Iterable[str]) -> list[str]:
    note = toxicity_scorer_note(toxicity_scorer(cells.values())) if "toxicity" in set(benchmarks) else None
    return [note] if note else []


# --- Tables 1-7 -------------------------------------------------------------------------------


def _benchmark_table(
    cells: Mapping[CellKey, Cell],
    records: Mapping[RecordKey, SignificanceRecord],
    benchmark: str,
    options: SignificanceOptions,
    policy_order: Sequence[str] | None,
    decimals: int,
) -> tuple[Rendered, list[str], list[list[Any]]]:
    metric, higher = _benchmark_metric(cells, benchmark)
    titles = _titles(cells)
    policies = order_policies((p for (p, _, b) in cells if b == benchmark), policy_order)
    shown = MAIN_VARIANTS + ((CONTROL_VARIANT,) if any(
        v == CONTROL_VARIANT for (_, v, b) in cells if b == benchmark) else ())
    pairs = _comparisons(shown)
    rows: list[list[Entry]] = []
    csv_rows: list[list[Any]] = []
    star_records = []
    for policy in policies:
        row: list[Entry] = [policy]
        csv_row: list[Any] = [policy, metric, options.stars]
        for variant in shown:
            cell = cells.get((policy, variant, benchmark))
            value = cell.primary_value if cell else math.nan
            row.append(Value(fmt(value, decimals), _markers(records, options, benchmark, variant, policy, shown)))
            csv_row.append(value)
        for variant, baseline in pairs:
            record = _star_record(records, options, benchmark, variant, baseline, policy)
            star_records.append(record)
            csv_row += _record_columns(record, options)
        rows.append(row)
        csv_rows.append(csv_row)
    across = {pair: records.get((ACROSS_MODELS, benchmark, *pair, "", "")) for pair in pairs}
    rows.append([ACROSS_MODELS_ROW, "", *[_p_text(across[(v, BASE_VARIANT)], options) for v in shown[1:]]])
    csv_rows.append([ACROSS_MODELS_ROW, metric, UNIT_MODELS, *[math.nan] * len(shown),
                     *[c for pair in pairs for c in _record_columns(across[pair], options)]])
    contrast = f"{variant_label('toxic')} against {variant_label('benign')}"
    table = Rendered(
        title=f"Table {TABLE_NUMBERS[benchmark]}: {titles[benchmark]}, {metric} ({_direction(higher)})",
        header=["Model"] + [variant_label(v) for v in shown],
        rows=rows,
        align="l" + "r" * len(shown),
        notes=_scorer_notes(cells, [benchmark])
        + [_star_note(options, benchmark, contrast, titles[benchmark]),
           _across_models_note(records, options, benchmark, pairs, titles[benchmark])]
        + _degenerate_notes([*star_records, *across.values()], titles),
    )
    header = ["policy", "primary_metric", "unit", *shown, *_comparison_header(pairs)]
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
        paths += write_formats(out_dir, benchmark_table_stem(benchmark), table, header, rows)
    return paths


# --- Table 8 ----------------------------------------------------------------------------------


def write_eroded_table(
    cell_paths: Sequence[str | Path],
    out_dir: str | Path,
    options: SignificanceOptions,
    policy_order: Sequence[str] | None = None,
    decimals: int = 3,
) -> list[Path]:
    """Table 8: Base, karmaBenign and karmaEroded for the policies that have the eroded variant."""
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
    pairs = _comparisons(ERODED_VARIANTS)
    titles = _titles(cells)
    rows: list[list[Entry]] = []
    csv_rows: list[list[Any]] = []
    star_records = []
    benchmarks = paper_benchmarks(b for (_, _, b) in eroded)
    for policy in order_policies({p for (p, _, _) in eroded}, policy_order):
        for benchmark in paper_benchmarks(b for (p, _, b) in eroded if p == policy):
            metric, higher = _benchmark_metric(cells, benchmark)
            row: list[Entry] = [policy, titles[benchmark], f"{metric} ({_direction(higher)})"]
            csv_row: list[Any] = [policy, benchmark, metric, higher, options.stars]
            for variant in ERODED_VARIANTS:
                cell = cells.get((policy, variant, benchmark))
                value = cell.primary_value if cell else math.nan
                row.append(Value(fmt(value, decimals), _markers(records, options, benchmark, variant, policy,
                                                                 ERODED_VARIANTS)))
                csv_row.append(value)
            for variant, baseline in pairs:
                record = _star_record(records, options, benchmark, variant, baseline, policy)
                star_records.append(record)
                csv_row += _record_columns(record, options)
            rows.append(row)
            csv_rows.append(csv_row)
    contrast = f"{variant_label('eroded')} against {variant_label('benign')}"
    star_lines = sorted({_star_note(options, b, contrast, titles[b]) for b in benchmarks})
    table = Rendered(
        title=f"Table 8: reward model inputs; {variant_label('benign')} uses the generalized reward model, "
        f"{variant_label('eroded')} the conditioned one",
        header=["Model", "Benchmark", "Metric"] + [variant_label(v) for v in ERODED_VARIANTS],
        rows=rows,
        align="lll" + "r" * len(ERODED_VARIANTS),
        notes=_scorer_notes(cells, benchmarks)
        + [f"{variant_label('benign')} is the paper's \"karma\" column of Table 8: the same cells as in Tables 1-7."]
        + star_lines
        + _across_models_notes(records, options, benchmarks, pairs, titles)
        + _degenerate_notes(star_records, titles),
    )
    header = ["policy", "benchmark", "primary_metric", "higher_is_better", "unit", *ERODED_VARIANTS,
              *_comparison_header(pairs)]
    return write_formats(out_dir, ERODED_TABLE_STEM, table, header, csv_rows)


# --- the karma reward on held-out prompts ------------------------------------------------------


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
    variants = ordered_variants(v for (_, v, _) in keys)
    rows: list[list[Entry]] = []
    csv_rows: list[list[Any]] = []
    item_records = []
    for policy in order_policies({p for (p, _, _) in keys}, policy_order):
        base = cells.get((policy, BASE_VARIANT, benchmark))
        for variant in variants:
            cell = cells.get((policy, variant, benchmark))
            if cell is None:
                continue
            record = records.get((ITEMS, benchmark, variant, BASE_VARIANT, policy, ""))
            if variant != BASE_VARIANT:
                item_records.append(record)
            delta = cell.primary_value - base.primary_value if base is not None else math.nan
            conditioned = cell.metrics.get("karma_reward_conditioned", math.nan)
            eos_rate = cell.metrics.get("eos_rate", math.nan)
            marks = BASE_MARK if record is not None and record.significant(options) else ""
            rows.append([
                policy, variant_label(variant), Value(fmt(cell.primary_value, decimals), marks),
                MISSING if variant == BASE_VARIANT or math.isnan(delta) else f"{delta:+.{decimals}f}",
                "" if variant == BASE_VARIANT else _p_text(record, options),
                fmt(conditioned, decimals), fmt(eos_rate, 2), str(cell.n),
            ])
            csv_rows.append([policy, variant, cell.primary_value, delta, *_record_columns(record, options),
                             record.test.effect_size if record else math.nan, conditioned, eos_rate, cell.n])
    pairs = [(v, BASE_VARIANT) for v in variants if v != BASE_VARIANT]
    title = benchmark_title(benchmark)
    table = Rendered(
        title="Karma reward of each policy's replies to held-out prompts (generalized reward model, "
        "higher is better)",
        header=["Model", "Variant", "Karma reward", "vs Base", "p", "Conditioned RM", "EOS rate", "n"],
        rows=rows,
        align="llrrrrrr",
        notes=[
            f"* against Base: {options.describe(benchmark, UNIT_ITEMS, 'all item-level tests of the benchmark')}; "
            "per-prompt scores paired by prompt id.",
            "An item is a held-out prompt (Reddit test-split threads, UltraChat prompts kept out of PPO); "
            "its score is the mean reward of the sampled replies. "
            f"{variant_label('control')}: PPO like {variant_label('benign')} against a "
            "reward model trained on permuted labels.",
            _across_models_note(records, options, benchmark, pairs, title),
        ] + _degenerate_notes(item_records, {benchmark: title}),
    )
    header = ["policy", "variant", "karma_reward", "difference_vs_base", "p", "p_holm", "significant",
              "effect_size", "karma_reward_conditioned", "eos_rate", "n"]
    return write_formats(out_dir, KARMA_REWARD_TABLE_STEM, table, header, csv_rows)


# --- significance CSV -------------------------------------------------------------------------

SIGNIFICANCE_HEADER = (
    "unit", "scope", "benchmark", "variant", "baseline", "policy", "category", "test", "origin", "n", "n_nonzero",
    "median_difference", "effect_size", "statistic", "p_value", "p_holm", "holm", "significant", "alpha",
    "zero_method", "method", "reason",
)


def _significance_rows(records: Iterable[SignificanceRecord], options: SignificanceOptions) -> list[list[Any]]:
    return [
        [r.unit, r.scope, r.benchmark, r.variant, r.baseline, r.policy, r.category, r.test_name,
         "ours" if r.unit == UNIT_ITEMS else "paper", r.test.n, r.test.n_nonzero, r.test.median_difference,
         r.test.effect_size, r.test.statistic, r.test.p_value, r.p_holm, options.holm_for(r.unit),
         r.significant(options), options.alpha, options.zero_method, options.method, r.test.reason]
        for r in records
    ]


def write_significance_csv(
    cell_paths: Sequence[str | Path], out_dir: str | Path, options: SignificanceOptions
) -> list[Path]:
    """Every test (each comparison, per item, per category, across models, across categories) as one CSV."""
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
    ppo_summaries: Sequence[str | Path] | None = None,
    threads_manifest: str | Path | None = None,
    example_stats: Mapping[str, str | Path] | None = None,
    decimals: int = 3,
) -> list[Path]:
    """All tables at once (tests run once); the data tables only with the threads manifest and the
    example statistics, the karma reward table only with its cells, Table 8 only if eroded cells exist,
    the PPO table only with PPO summaries, the comparison only with a non-empty ``paper_policy_map``.
    Matches :func:`table_paths`."""
    out = Path(out_dir)
    cells = load_cells(cell_paths)
    all_records = run_all_tests(cells, options)
    records = index_records(all_records)
    paths: list[Path] = []
    if threads_manifest is not None and example_stats:
        paths += write_threads_table(threads_manifest, out) + write_examples_table(example_stats, out)
    paths += _write_benchmark_tables(cells, records, out, options, policy_order, decimals)
    if any(b == KARMA_REWARD_BENCHMARK for (_, _, b) in cells):
        paths += _write_karma_reward_table(cells, records, out, options, policy_order, decimals)
    if any(v == "eroded" for (_, v, _) in cells):
        paths += _write_eroded_table(cells, records, out, options, policy_order, decimals)
    if reward_metrics:
        paths += write_reward_table(reward_metrics, out)
    if ppo_summaries:
        paths += write_ppo_table(ppo_summaries, out, policy_order)
    if paper_policy_map:
        paths += write_paper_comparison(cell_paths, out, paper_policy_map, reward_metrics, decimals=decimals)
    significance = out / f"{SIGNIFICANCE_STEM}.csv"
    write_csv(significance, SIGNIFICANCE_HEADER, _significance_rows(all_records, options))
    return paths + [significance]
