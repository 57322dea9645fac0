"""Wilcoxon signed-rank tests of each variant against ``base``, as the paper's tables claim them.

Three kinds of pairing, all two-sided and all ``variant - base``:

- per item: one policy's per-item scores on one benchmark, paired by item id (the table cells);
- per category: the same, restricted to one category (CrowS-Pairs bias type, toxicity type), for
  the benchmarks in ``category_benchmarks`` (default bias and toxicity, the paper's Figures 2 and 3);
- across units: one value per unit on each side, e.g. each policy's benchmark value ("significant
  across models") or one policy's per-category values ("across types of bias").

Zeros and ties (the documented choices):

- ``zero_method`` is passed to :func:`scipy.stats.wilcoxon`: ``"wilcox"`` (default) drops zero
  differences, ``"pratt"`` ranks them and then drops them, ``"zsplit"`` splits their ranks evenly
  between the positive and negative sums. Tied absolute differences get average ranks (scipy's rule).
  ``method="auto"`` lets scipy choose: exact without ties/zeros for n <= 50, a deterministic
  permutation test with ties or zeros for n <= 13, otherwise the normal approximation.
- If every difference is zero there is no evidence of a shift: p = 1.0, effect 0, and the
  statistic is the smaller rank sum (0, or n(n+1)/4 under ``zsplit``), with a reason saying so.
- Fewer than ``min_pairs`` pairs: p is NaN, with a reason; such a test is never significant.
- The effect size is the matched-pairs rank-biserial correlation ``(R+ - R-) / (sum of all ranks)``
  over the same ranking the test uses, in [-1, 1]; positive means the variant scores higher. Under
  ``pratt`` and ``zsplit`` the zero differences count in the denominator and so shrink the effect.
- The median paired difference is over all pairs, zeros included.

Holm's step-down correction is applied per family: one family per (scope, benchmark), e.g. the 12
item-level tests behind one of the paper's Tables 1-7. NaN p-values stay NaN and are not counted.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from karma.evaluation.cells import Cell, read_cell
from karma.settings import checked_kwargs

log = logging.getLogger(__name__)

ZERO_METHODS = ("wilcox", "pratt", "zsplit")
TEST_METHODS = ("auto", "exact", "asymptotic")
BASE_VARIANT = "base"

# Scopes of a test: what is paired (see the module docstring).
ITEMS = "items"
ITEMS_BY_CATEGORY = "items_by_category"
ACROSS_MODELS = "across_models"
ACROSS_MODELS_BY_CATEGORY = "across_models_by_category"
ACROSS_CATEGORIES = "across_categories"

CellKey = tuple[str, str, str]  # (policy, variant, benchmark)


@dataclass(frozen=True)
class SignificanceOptions:
    """The statistics section of the config; ``from_config`` validates it."""

    alpha: float = 0.05
    zero_method: str = "wilcox"
    method: str = "auto"
    holm: bool = True
    min_pairs: int = 2
    category_benchmarks: tuple[str, ...] = ("bias", "toxicity")

    def __post_init__(self) -> None:
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float)) or not 0 < self.alpha < 1:
            raise ValueError(f"statistics.alpha must be in (0, 1), got {self.alpha!r}")
        if self.zero_method not in ZERO_METHODS:
            raise ValueError(
                f"statistics.zero_method {self.zero_method!r} is not one of {', '.join(ZERO_METHODS)}"
            )
        if self.method not in TEST_METHODS:
            raise ValueError(
                f"statistics.method {self.method!r} is not one of {', '.join(TEST_METHODS)}"
            )
        if not isinstance(self.holm, bool):
            raise ValueError(f"statistics.holm must be true or false, got {self.holm!r}")
        if isinstance(self.min_pairs, bool) or not isinstance(self.min_pairs, int) or self.min_pairs < 1:
            raise ValueError(f"statistics.min_pairs must be an integer >= 1, got {self.min_pairs!r}")
        if isinstance(self.category_benchmarks, str) or not all(
            isinstance(b, str) for b in self.category_benchmarks
        ):
            raise ValueError(
                "statistics.category_benchmarks must be a list of benchmark names, got "
                f"{self.category_benchmarks!r}"
            )

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> SignificanceOptions:
        section = checked_kwargs(cls, section, "statistics")
        if "category_benchmarks" in section and isinstance(section["category_benchmarks"], list):
            section["category_benchmarks"] = tuple(section["category_benchmarks"])
        return cls(**section)

    def describe(self, family: str = "all variant-vs-Base item tests of the benchmark") -> str:
        """One sentence for table notes and figure footers; ``family`` names the Holm family."""
        correction = f"Holm-adjusted over {family}" if self.holm else "not adjusted"
        return (
            f"p < {self.alpha:g}, two-sided Wilcoxon signed-rank test against Base "
            f"(zero_method={self.zero_method}), p {correction}"
        )


@dataclass(frozen=True)
class PairedTest:
    """One paired Wilcoxon test; ``reason`` explains a degenerate result (else empty)."""

    n: int
    n_nonzero: int
    median_difference: float
    effect_size: float
    statistic: float
    p_value: float
    reason: str = ""


def wilcoxon_paired(
    variant: Sequence[float] | np.ndarray,
    base: Sequence[float] | np.ndarray,
    zero_method: str = "wilcox",
    method: str = "auto",
    min_pairs: int = 2,
) -> PairedTest:
    """Two-sided signed-rank test of ``variant - base``; see the module docstring for edge cases."""
    if zero_method not in ZERO_METHODS:
        raise ValueError(f"zero_method {zero_method!r} is not one of {', '.join(ZERO_METHODS)}")
    x = np.asarray(variant, dtype=float)
    y = np.asarray(base, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired samples must be 1-D and of equal length, got {x.shape} and {y.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("paired samples contain NaN or infinite scores; fix the evaluation output")
    diff = x - y
    n = int(diff.size)
    nonzero = diff != 0
    n_nonzero = int(nonzero.sum())
    if n < min_pairs:
        return PairedTest(
            n=n,
            n_nonzero=n_nonzero,
            median_difference=float(np.median(diff)) if n else math.nan,
            effect_size=math.nan,
            statistic=math.nan,
            p_value=math.nan,
            reason=f"only {n} pair(s); the test needs at least {min_pairs}",
        )
    r_plus, r_minus, rank_total = _rank_sums(diff, zero_method)
    median = float(np.median(diff))
    if n_nonzero == 0:
        return PairedTest(
            n=n,
            n_nonzero=0,
            median_difference=median,
            effect_size=0.0,
            statistic=min(r_plus, r_minus),
            p_value=1.0,
            reason="all paired differences are zero",
        )
    result = stats.wilcoxon(x, y, zero_method=zero_method, method=method, alternative="two-sided")
    return PairedTest(
        n=n,
        n_nonzero=n_nonzero,
        median_difference=median,
        effect_size=(r_plus - r_minus) / rank_total,
        statistic=float(result.statistic),
        p_value=float(result.pvalue),
    )


def _rank_sums(diff: np.ndarray, zero_method: str) -> tuple[float, float, float]:
    """R+, R- and the total rank sum, ranking |d| the way ``scipy.stats.wilcoxon`` does."""
    ranked = diff[diff != 0] if zero_method == "wilcox" else diff
    if ranked.size == 0:
        return 0.0, 0.0, 0.0
    ranks = stats.rankdata(np.abs(ranked))
    r_plus = float(ranks[ranked > 0].sum())
    r_minus = float(ranks[ranked < 0].sum())
    if zero_method == "zsplit":
        half_zero = float(ranks[ranked == 0].sum()) / 2
        r_plus += half_zero
        r_minus += half_zero
    return r_plus, r_minus, float(ranks.sum())


def holm_adjust(p_values: Sequence[float]) -> list[float]:
    """Holm step-down adjusted p-values, in input order; NaN stays NaN and is not counted."""
    finite = [(p, i) for i, p in enumerate(p_values) if not math.isnan(p)]
    for p, _ in finite:
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p-value {p!r} is outside [0, 1]")
    m = len(finite)
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, (p, index) in enumerate(sorted(finite)):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[index] = running
    return adjusted


# --- cells ------------------------------------------------------------------------------------


def cell_label(cell: Cell) -> str:
    return f"{cell.policy}/{cell.variant}/{cell.benchmark}"


def load_cells(paths: Iterable[str | Path]) -> dict[CellKey, Cell]:
    """Read cell files, keyed by (policy, variant, benchmark); a key seen twice is an error."""
    cells: dict[CellKey, Cell] = {}
    origin: dict[CellKey, Path] = {}
    for path in map(Path, paths):
        cell = read_cell(path)
        key = (cell.policy, cell.variant, cell.benchmark)
        if key in cells:
            raise ValueError(
                f"two cell files hold {cell_label(cell)}: {origin[key]} and {path}; pass each cell once"
            )
        cells[key] = cell
        origin[key] = path
    log.info("read %d cell files", len(cells))
    return cells


def category_value(cell: Cell, name: str) -> float:
    """A category's aggregate value in ``cell.categories[name]``.

    Accepted forms: ``{"value": v, "n": k}``; per-group means of every score keyed by score name, of
    which the primary metric's is taken (``{"pct_stereotype": v, ..., "n": k}``); or a score dimension
    ``{"mean": v}`` (toxicity labels).
    """
    entry = cell.categories.get(name)
    if entry is None:
        raise ValueError(f"cell {cell_label(cell)} has no category {name!r}")
    for key in ("value", cell.primary_metric, "mean"):
        if key in entry:
            return float(entry[key])
    raise ValueError(
        f"cell {cell_label(cell)} category {name!r} has none of 'value', {cell.primary_metric!r} or "
        f"'mean' (keys: {sorted(entry)}); re-run its evaluation job"
    )


def _scores_by_id(cell: Cell, category: str | None) -> dict[str, float]:
    """Per-item scores, optionally of one category.

    A category selects the items whose ``category`` equals it (CrowS-Pairs bias types); if no item
    has that category, it selects the per-item ``scores[category]`` of every item (toxicity types,
    where each continuation is scored on every type).
    """
    scores: dict[str, float] = {}
    items = cell.items
    use_subscore = False
    if category is not None:
        grouped = [item for item in items if item.category == category]
        if grouped:
            items = grouped
        elif items and all(category in item.scores for item in items):
            use_subscore = True
        else:
            raise ValueError(
                f"cell {cell_label(cell)} lists category {category!r} but no item has that category "
                "or a per-item score of that name; re-run its evaluation job"
            )
    for item in items:
        if item.id in scores:
            raise ValueError(f"cell {cell_label(cell)} has item id {item.id!r} twice; ids must be unique")
        value = float(item.scores[category]) if use_subscore else float(item.score)
        if not math.isfinite(value):
            raise ValueError(f"cell {cell_label(cell)} item {item.id!r} has non-finite score {value!r}")
        scores[item.id] = value
    return scores


def compare_cells(
    base: Cell,
    variant: Cell,
    options: SignificanceOptions,
    category: str | None = None,
) -> PairedTest:
    """Wilcoxon of ``variant`` against ``base`` on the items they share by id (all must match)."""
    if base.benchmark != variant.benchmark:
        raise ValueError(f"cannot pair {cell_label(base)} with {cell_label(variant)}: benchmarks differ")
    base_scores = _scores_by_id(base, category)
    variant_scores = _scores_by_id(variant, category)
    if base_scores.keys() != variant_scores.keys():
        only_base = sorted(base_scores.keys() - variant_scores.keys())
        only_variant = sorted(variant_scores.keys() - base_scores.keys())
        where = f" (category {category!r})" if category else ""
        raise ValueError(
            f"item ids of {cell_label(base)} and {cell_label(variant)}{where} do not match: "
            f"{len(only_base)} only in base (e.g. {only_base[:3]}), {len(only_variant)} only in the "
            f"variant (e.g. {only_variant[:3]}); evaluate both on the same benchmark items"
        )
    ids = sorted(base_scores)
    return wilcoxon_paired(
        [variant_scores[i] for i in ids],
        [base_scores[i] for i in ids],
        zero_method=options.zero_method,
        method=options.method,
        min_pairs=options.min_pairs,
    )


def compare_values(
    base: Mapping[str, float],
    variant: Mapping[str, float],
    options: SignificanceOptions,
) -> PairedTest:
    """Wilcoxon over units (policies or categories) present on both sides, paired by name."""
    shared = sorted(base.keys() & variant.keys())
    return wilcoxon_paired(
        [variant[k] for k in shared],
        [base[k] for k in shared],
        zero_method=options.zero_method,
        method=options.method,
        min_pairs=options.min_pairs,
    )


# --- all tests of a run ----------------------------------------------------------------------


@dataclass(frozen=True)
class SignificanceRecord:
    """One test with its place in the tables; ``policy``/``category`` are empty where pooled."""

    scope: str
    benchmark: str
    variant: str
    policy: str
    category: str
    test: PairedTest
    p_holm: float = math.nan

    def p_for_decision(self, options: SignificanceOptions) -> float:
        return self.p_holm if options.holm else self.test.p_value

    def significant(self, options: SignificanceOptions) -> bool:
        p = self.p_for_decision(options)
        return not math.isnan(p) and p < options.alpha


def run_all_tests(
    cells: Mapping[CellKey, Cell], options: SignificanceOptions
) -> list[SignificanceRecord]:
    """Every test the tables and figures use, Holm-adjusted per (scope, benchmark) family."""
    records: list[SignificanceRecord] = []
    benchmarks = sorted({b for (_, _, b) in cells})
    for benchmark in benchmarks:
        policies = sorted({p for (p, _, b) in cells if b == benchmark})
        variants = sorted({v for (_, v, b) in cells if b == benchmark and v != BASE_VARIANT})
        for policy in policies:
            base = cells.get((policy, BASE_VARIANT, benchmark))
            if base is None:
                log.warning("no base cell for %s/%s: its variants are not tested", policy, benchmark)
                continue
            for variant_name in variants:
                variant = cells.get((policy, variant_name, benchmark))
                if variant is None:
                    continue
                records.append(
                    SignificanceRecord(
                        ITEMS, benchmark, variant_name, policy, "", compare_cells(base, variant, options)
                    )
                )
                categories = (
                    [c for c in base.categories if c in variant.categories]
                    if benchmark in options.category_benchmarks
                    else []
                )
                for category in categories:
                    test = compare_cells(base, variant, options, category=category)
                    records.append(
                        SignificanceRecord(ITEMS_BY_CATEGORY, benchmark, variant_name, policy, category, test)
                    )
                if categories:
                    test = compare_values(
                        {c: category_value(base, c) for c in categories},
                        {c: category_value(variant, c) for c in categories},
                        options,
                    )
                    records.append(
                        SignificanceRecord(ACROSS_CATEGORIES, benchmark, variant_name, policy, "", test)
                    )
        for variant_name in variants:
            pairs = [
                (cells[(p, BASE_VARIANT, benchmark)], cells[(p, variant_name, benchmark)])
                for p in policies
                if (p, BASE_VARIANT, benchmark) in cells and (p, variant_name, benchmark) in cells
            ]
            test = compare_values(
                {b.policy: b.primary_value for b, _ in pairs},
                {v.policy: v.primary_value for _, v in pairs},
                options,
            )
            records.append(SignificanceRecord(ACROSS_MODELS, benchmark, variant_name, "", "", test))
            shared_categories = sorted(
                set.intersection(*[set(b.categories) & set(v.categories) for b, v in pairs])
                if pairs and benchmark in options.category_benchmarks
                else set()
            )
            for category in shared_categories:
                test = compare_values(
                    {b.policy: category_value(b, category) for b, _ in pairs},
                    {v.policy: category_value(v, category) for _, v in pairs},
                    options,
                )
                records.append(
                    SignificanceRecord(ACROSS_MODELS_BY_CATEGORY, benchmark, variant_name, "", category, test)
                )
    log.info("ran %d Wilcoxon tests over %d benchmarks", len(records), len(benchmarks))
    return _with_holm(records)


def _with_holm(records: list[SignificanceRecord]) -> list[SignificanceRecord]:
    families: dict[tuple[str, str], list[int]] = {}
    for index, record in enumerate(records):
        families.setdefault((record.scope, record.benchmark), []).append(index)
    adjusted = list(records)
    for members in families.values():
        p_holm = holm_adjust([records[i].test.p_value for i in members])
        for index, p in zip(members, p_holm):
            adjusted[index] = replace(records[index], p_holm=p)
    return adjusted


RecordKey = tuple[str, str, str, str, str]  # (scope, benchmark, variant, policy, category)


def index_records(records: Iterable[SignificanceRecord]) -> dict[RecordKey, SignificanceRecord]:
    """Records keyed by (scope, benchmark, variant, policy, category) for table lookups."""
    return {(r.scope, r.benchmark, r.variant, r.policy, r.category): r for r in records}


def tested_cells(
    cell_paths: Sequence[str | Path], options: SignificanceOptions
) -> tuple[dict[CellKey, Cell], dict[RecordKey, SignificanceRecord]]:
    """The cells and their indexed test results: what every table and figure writer starts from."""
    cells = load_cells(cell_paths)
    return cells, index_records(run_all_tests(cells, options))
