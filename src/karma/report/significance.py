"""The paper's Wilcoxon tests and ours, between variants, over three kinds of unit.

Comparisons (``variant`` against ``baseline``, every test two-sided on ``variant - baseline``): each
trained variant against ``base``, and the paper's two contrasts, karmaToxic against karmaBenign and
karmaEroded against karmaBenign, wherever both variants exist.

Units, what one pair (or one observation per side) is:

- ``items`` (ours, the stronger test): one policy's per-item scores on one benchmark, paired by item id
  (scope ``items``), also within one category (``items_by_category``: a CrowS-Pairs bias type or a
  toxicity type) for the benchmarks in ``category_benchmarks``;
- ``models`` (the paper's "across models"): one value per policy (``across_models``), also per
  category (``across_models_by_category``: "reduces all tested forms of toxicity across models");
- ``categories`` (the paper's "on a per model basis across types of bias"): one policy's per-category
  values (``across_categories``).

Tests (``statistics.test``, per benchmark): ``signed-rank`` (Wilcoxon signed-rank on the paired
differences, :func:`scipy.stats.wilcoxon`) or ``rank-sum`` (Wilcoxon rank-sum, i.e. Mann-Whitney U on
the two samples as unpaired, :func:`scipy.stats.mannwhitneyu`), which the paper names for Tables 1
and 3. Zeros and ties (the documented choices):

- ``zero_method`` is passed to :func:`scipy.stats.wilcoxon`: ``"wilcox"`` (default) drops zero
  differences, ``"pratt"`` ranks them and then drops them, ``"zsplit"`` splits their ranks evenly
  between the positive and negative sums. Tied absolute differences get average ranks (scipy's rule).
  ``method="auto"`` lets scipy choose: exact without ties/zeros for n <= 50, a deterministic
  permutation test with ties or zeros for n <= 13, otherwise the normal approximation. The rank-sum
  test takes the same ``method`` (exact for small samples without ties, else normal approximation
  with tie correction).
- If every difference is zero (identical samples) there is no evidence of a shift: p = 1.0, effect 0,
  and for signed-rank the statistic is the smaller rank sum (0, or n(n+1)/4 under ``zsplit``), with a
  reason saying so.
- Fewer than ``min_pairs`` pairs: p is NaN, with a reason; such a test is never significant.
- The effect size is a rank-biserial correlation in [-1, 1], positive when the variant scores higher:
  for signed-rank the matched-pairs one, ``(R+ - R-) / (sum of all ranks)`` over the ranking the test
  uses (under ``pratt`` and ``zsplit`` the zero differences count in the denominator); for rank-sum
  ``2 U / (n1 n2) - 1`` with U the variant's statistic.
- The median paired difference is over all pairs, zeros included.

Holm's step-down correction is computed per family, one family per (scope, benchmark): e.g. every
item-level test behind one of the paper's Tables 1-7, all comparisons included. Whether it decides
significance is set per unit (``statistics.holm``: true, false, or ``{items: .., models: ..,
categories: ..}``): with n = 6 models the smallest exact two-sided signed-rank p is 2/64 = 0.03125, so
a model-level family of three tests can never pass 0.05 after Holm. NaN p-values stay NaN.
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

from karma.evaluation.benchmark_metrics import BENCHMARKS
from karma.evaluation.cells import Cell, read_cell
from karma.settings import checked_kwargs

log = logging.getLogger(__name__)

ZERO_METHODS = ("wilcox", "pratt", "zsplit")
TEST_METHODS = ("auto", "exact", "asymptotic")
SIGNED_RANK = "signed-rank"
RANK_SUM = "rank-sum"
TESTS = (SIGNED_RANK, RANK_SUM)
TEST_NAMES = {SIGNED_RANK: "Wilcoxon signed-rank", RANK_SUM: "Wilcoxon rank-sum (Mann-Whitney U)"}
BASE_VARIANT = "base"
# The paper's contrasts between trained variants (variant, baseline), tested where both exist.
CONTRASTS = (("toxic", "benign"), ("eroded", "benign"))
VARIANT_ORDER = ("benign", "toxic", "eroded")

# Scopes of a test: what is paired (see the module docstring), and the unit each belongs to.
ITEMS = "items"
ITEMS_BY_CATEGORY = "items_by_category"
ACROSS_MODELS = "across_models"
ACROSS_MODELS_BY_CATEGORY = "across_models_by_category"
ACROSS_CATEGORIES = "across_categories"
UNIT_ITEMS, UNIT_MODELS, UNIT_CATEGORIES = "items", "models", "categories"
UNITS = (UNIT_ITEMS, UNIT_MODELS, UNIT_CATEGORIES)
SCOPE_UNITS = {
    ITEMS: UNIT_ITEMS,
    ITEMS_BY_CATEGORY: UNIT_ITEMS,
    ACROSS_MODELS: UNIT_MODELS,
    ACROSS_MODELS_BY_CATEGORY: UNIT_MODELS,
    ACROSS_CATEGORIES: UNIT_CATEGORIES,
}
# Which per-policy test marks a table cell: ours (items) or the paper's per-model one (categories).
STAR_UNITS = (UNIT_ITEMS, UNIT_CATEGORIES)
UNIT_TEXT = {
    UNIT_ITEMS: "unit items: the policy's per-item scores paired by item id",
    UNIT_MODELS: "unit models: one value per policy",
    UNIT_CATEGORIES: "unit categories: the policy's per-category values",
}

CellKey = tuple[str, str, str]  # (policy, variant, benchmark)


def _by_name(value: Any, choices: tuple[str, ...], where: str, default_key: str) -> dict[str, Any]:
    """A setting given once (``value``) or per name (``{default: .., <name>: ..}``) as a mapping."""
    if isinstance(value, Mapping):
        unknown = sorted(set(value) - {default_key, *choices})
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {', '.join(unknown)}; use {default_key}, {', '.join(choices)}")
        return dict(value)
    return {default_key: value}


@dataclass(frozen=True)
class SignificanceOptions:
    """The statistics section of the config; ``from_config`` validates it.

    ``test``: ``signed-rank``/``rank-sum`` for every benchmark, or ``{default: .., <benchmark>: ..}``.
    ``holm``: a bool for every unit, or ``{items: .., models: .., categories: ..}`` (absent: true).
    ``stars``: the unit of the per-policy test that marks table cells (``items`` or ``categories``).
    """

    alpha: float = 0.05
    test: str | Mapping[str, str] = SIGNED_RANK
    zero_method: str = "wilcox"
    method: str = "auto"
    holm: bool | Mapping[str, bool] = True
    stars: str = UNIT_ITEMS
    min_pairs: int = 2
    category_benchmarks: tuple[str, ...] = ("bias", "toxicity")

    def __post_init__(self) -> None:
        if isinstance(self.alpha, bool) or not isinstance(self.alpha, (int, float)) or not 0 < self.alpha < 1:
            raise ValueError(f"statistics.alpha must be in (0, 1), got {self.alpha!r}")
        tests = _by_name(self.test, BENCHMARKS, "statistics.test", "default")
        for key, name in tests.items():
            if name not in TESTS:
                raise ValueError(f"statistics.test {key}: {name!r} is not one of {', '.join(TESTS)}")
        holm = _by_name(self.holm, UNITS, "statistics.holm", "all")
        if not all(isinstance(v, bool) for v in holm.values()):
            raise ValueError(
                f"statistics.holm must be true/false or a mapping of units to true/false, got {self.holm!r}"
            )
        if self.zero_method not in ZERO_METHODS:
            raise ValueError(
                f"statistics.zero_method {self.zero_method!r} is not one of {', '.join(ZERO_METHODS)}"
            )
        if self.method not in TEST_METHODS:
            raise ValueError(
                f"statistics.method {self.method!r} is not one of {', '.join(TEST_METHODS)}"
            )
        if self.stars not in STAR_UNITS:
            raise ValueError(f"statistics.stars {self.stars!r} is not one of {', '.join(STAR_UNITS)}")
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

    def test_for(self, benchmark: str) -> str:
        tests = _by_name(self.test, BENCHMARKS, "statistics.test", "default")
        return tests.get(benchmark, tests.get("default", SIGNED_RANK))

    def holm_for(self, unit: str) -> bool:
        holm = _by_name(self.holm, UNITS, "statistics.holm", "all")
        return holm.get(unit, holm.get("all", True))

    def describe(self, benchmark: str, unit: str, family: str) -> str:
        """One sentence naming a table's or figure's test; ``family`` names the Holm family."""
        correction = f"Holm-adjusted over {family}" if self.holm_for(unit) else "not corrected for multiple tests"
        extra = f", zero_method={self.zero_method}" if self.test_for(benchmark) == SIGNED_RANK else ""
        return (
            f"p < {self.alpha:g}, two-sided {TEST_NAMES[self.test_for(benchmark)]} test{extra}, "
            f"{UNIT_TEXT[unit]}, p {correction}"
        )


@dataclass(frozen=True)
class PairedTest:
    """One two-sided test of ``variant`` against ``baseline``; ``reason`` explains a degenerate result."""

    n: int
    n_nonzero: int
    median_difference: float
    effect_size: float
    statistic: float
    p_value: float
    reason: str = ""


def _degenerate(x: np.ndarray, y: np.ndarray, min_pairs: int) -> tuple[np.ndarray, PairedTest | None]:
    """The paired differences, and the result when there is no test to run (too few pairs)."""
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"paired samples must be 1-D and of equal length, got {x.shape} and {y.shape}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("paired samples contain NaN or infinite scores; fix the evaluation output")
    diff = x - y
    n = int(diff.size)
    if n >= min_pairs:
        return diff, None
    return diff, PairedTest(
        n=n,
        n_nonzero=int(np.count_nonzero(diff)),
        median_difference=float(np.median(diff)) if n else math.nan,
        effect_size=math.nan,
        statistic=math.nan,
        p_value=math.nan,
        reason=f"only {n} pair(s); the test needs at least {min_pairs}",
    )


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
    diff, too_few = _degenerate(x, y, min_pairs)
    if too_few is not None:
        return too_few
    n_nonzero = int(np.count_nonzero(diff))
    r_plus, r_minus, rank_total = _rank_sums(diff, zero_method)
    median = float(np.median(diff))
    if n_nonzero == 0:
        return PairedTest(
            n=int(diff.size),
            n_nonzero=0,
            median_difference=median,
            effect_size=0.0,
            statistic=min(r_plus, r_minus),
            p_value=1.0,
            reason="all paired differences are zero",
        )
    result = stats.wilcoxon(x, y, zero_method=zero_method, method=method, alternative="two-sided")
    return PairedTest(
        n=int(diff.size),
        n_nonzero=n_nonzero,
        median_difference=median,
        effect_size=(r_plus - r_minus) / rank_total,
        statistic=float(result.statistic),
        p_value=float(result.pvalue),
    )


def rank_sum_test(
    variant: Sequence[float] | np.ndarray,
    base: Sequence[float] | np.ndarray,
    method: str = "auto",
    min_pairs: int = 2,
) -> PairedTest:
    """Two-sided Wilcoxon rank-sum (Mann-Whitney U) test of the two samples, ignoring the pairing.

    The samples still come from the same units (items, models or categories), so ``n`` and the median
    difference are those of the pairs; the statistic is the variant's U.
    """
    x = np.asarray(variant, dtype=float)
    y = np.asarray(base, dtype=float)
    diff, too_few = _degenerate(x, y, min_pairs)
    if too_few is not None:
        return too_few
    n_nonzero = int(np.count_nonzero(diff))
    n = int(diff.size)
    if np.all(np.concatenate([x, y]) == x[0]):
        return PairedTest(n=n, n_nonzero=n_nonzero, median_difference=float(np.median(diff)), effect_size=0.0,
                          statistic=n * n / 2, p_value=1.0, reason="every value on both sides is the same")
    result = stats.mannwhitneyu(x, y, alternative="two-sided", method=method)
    u = float(result.statistic)
    return PairedTest(
        n=n,
        n_nonzero=n_nonzero,
        median_difference=float(np.median(diff)),
        effect_size=2.0 * u / (n * n) - 1.0,
        statistic=u,
        p_value=float(result.pvalue),
    )


def run_test(
    variant: Sequence[float] | np.ndarray, base: Sequence[float] | np.ndarray, test: str,
    options: SignificanceOptions,
) -> PairedTest:
    """``test`` (signed-rank or rank-sum) of ``variant`` against ``base`` with the configured settings."""
    if test == SIGNED_RANK:
        return wilcoxon_paired(variant, base, options.zero_method, options.method, options.min_pairs)
    if test == RANK_SUM:
        return rank_sum_test(variant, base, options.method, options.min_pairs)
    raise ValueError(f"unknown test {test!r}: use one of {', '.join(TESTS)}")


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
    """The benchmark's test of ``variant`` against ``base`` (any baseline cell) on their items, paired
    by id (all must match)."""
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
            f"{len(only_base)} only in {base.variant} (e.g. {only_base[:3]}), {len(only_variant)} only in "
            f"{variant.variant} (e.g. {only_variant[:3]}); evaluate both on the same benchmark items"
        )
    ids = sorted(base_scores)
    return run_test([variant_scores[i] for i in ids], [base_scores[i] for i in ids],
                    options.test_for(base.benchmark), options)


def compare_values(
    base: Mapping[str, float],
    variant: Mapping[str, float],
    test: str,
    options: SignificanceOptions,
) -> PairedTest:
    """``test`` over units (policies or categories) present on both sides, paired by name."""
    shared = sorted(base.keys() & variant.keys())
    return run_test([variant[k] for k in shared], [base[k] for k in shared], test, options)


# --- all tests of a run ----------------------------------------------------------------------


@dataclass(frozen=True)
class SignificanceRecord:
    """One test with its place in the tables; ``policy``/``category`` are empty where pooled."""

    scope: str
    benchmark: str
    variant: str
    baseline: str
    policy: str
    category: str
    test_name: str
    test: PairedTest
    p_holm: float = math.nan

    @property
    def unit(self) -> str:
        return SCOPE_UNITS[self.scope]

    def p_for_decision(self, options: SignificanceOptions) -> float:
        return self.p_holm if options.holm_for(self.unit) else self.test.p_value

    def significant(self, options: SignificanceOptions) -> bool:
        p = self.p_for_decision(options)
        return not math.isnan(p) and p < options.alpha


def comparisons(variants: Iterable[str]) -> list[tuple[str, str]]:
    """(variant, baseline) pairs: every trained variant against Base, then the paper's contrasts."""
    found = set(variants)
    trained = [v for v in VARIANT_ORDER if v in found] + sorted(found - {BASE_VARIANT, *VARIANT_ORDER})
    pairs = [(v, BASE_VARIANT) for v in trained] if BASE_VARIANT in found else []
    return pairs + [(v, b) for v, b in CONTRASTS if v in found and b in found]


def _tests_of_pair(
    cells: Mapping[CellKey, Cell], benchmark: str, variant: str, baseline: str, policies: Sequence[str],
    options: SignificanceOptions,
) -> list[SignificanceRecord]:
    """Every test of ``variant`` against ``baseline`` on one benchmark: per policy, then across models."""
    test = options.test_for(benchmark)
    by_category = benchmark in options.category_benchmarks

    def record(scope: str, policy: str, category: str, result: PairedTest) -> SignificanceRecord:
        return SignificanceRecord(scope, benchmark, variant, baseline, policy, category, test, result)

    records: list[SignificanceRecord] = []
    pairs = [(cells[(p, baseline, benchmark)], cells[(p, variant, benchmark)]) for p in policies
             if (p, baseline, benchmark) in cells and (p, variant, benchmark) in cells]
    for base, other in pairs:
        records.append(record(ITEMS, base.policy, "", compare_cells(base, other, options)))
        categories = [c for c in base.categories if c in other.categories] if by_category else []
        for category in categories:
            records.append(record(ITEMS_BY_CATEGORY, base.policy, category,
                                  compare_cells(base, other, options, category=category)))
        if categories:
            result = compare_values({c: category_value(base, c) for c in categories},
                                    {c: category_value(other, c) for c in categories}, test, options)
            records.append(record(ACROSS_CATEGORIES, base.policy, "", result))
    if not pairs:
        return records
    result = compare_values({b.policy: b.primary_value for b, _ in pairs},
                            {o.policy: o.primary_value for _, o in pairs}, test, options)
    records.append(record(ACROSS_MODELS, "", "", result))
    shared = set.intersection(*[set(b.categories) & set(o.categories) for b, o in pairs]) if by_category else set()
    for category in sorted(shared):
        result = compare_values({b.policy: category_value(b, category) for b, _ in pairs},
                                {o.policy: category_value(o, category) for _, o in pairs}, test, options)
        records.append(record(ACROSS_MODELS_BY_CATEGORY, "", category, result))
    return records


def run_all_tests(
    cells: Mapping[CellKey, Cell], options: SignificanceOptions
) -> list[SignificanceRecord]:
    """Every test the tables and figures use, with Holm-adjusted p per (scope, benchmark) family."""
    records: list[SignificanceRecord] = []
    benchmarks = sorted({b for (_, _, b) in cells})
    for benchmark in benchmarks:
        policies = sorted({p for (p, _, b) in cells if b == benchmark})
        for policy in policies:
            if (policy, BASE_VARIANT, benchmark) not in cells:
                log.warning("no base cell for %s/%s: its variants are not tested against Base", policy, benchmark)
        for variant, baseline in comparisons(v for (_, v, b) in cells if b == benchmark):
            records += _tests_of_pair(cells, benchmark, variant, baseline, policies, options)
    log.info("ran %d tests over %d benchmarks", len(records), len(benchmarks))
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


RecordKey = tuple[str, str, str, str, str, str]  # (scope, benchmark, variant, baseline, policy, category)


def index_records(records: Iterable[SignificanceRecord]) -> dict[RecordKey, SignificanceRecord]:
    """Records keyed by (scope, benchmark, variant, baseline, policy, category) for table lookups."""
    return {(r.scope, r.benchmark, r.variant, r.baseline, r.policy, r.category): r for r in records}


def tested_cells(
    cell_paths: Sequence[str | Path], options: SignificanceOptions
) -> tuple[dict[CellKey, Cell], dict[RecordKey, SignificanceRecord]]:
    """The cells and their indexed test results: what every table and figure writer starts from."""
    cells = load_cells(cell_paths)
    return cells, index_records(run_all_tests(cells, options))
