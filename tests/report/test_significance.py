"""The Wilcoxon wrapper against scipy, the documented edge cases, Holm, and cell pairing."""

from __future__ import annotations

import math
import random
import warnings
from dataclasses import replace

import numpy as np
import pytest
from scipy import stats

from karma.evaluation.cells import Cell, ItemScore
from karma.report.significance import (
    ACROSS_CATEGORIES,
    ACROSS_MODELS,
    ACROSS_MODELS_BY_CATEGORY,
    ITEMS,
    ITEMS_BY_CATEGORY,
    SignificanceOptions,
    category_value,
    compare_cells,
    holm_adjust,
    index_records,
    rank_sum_test,
    run_all_tests,
    wilcoxon_paired,
)


def _fixture(name: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    if name == "continuous_n10":  # no ties, no zeros: scipy's exact distribution
        base = rng.normal(size=10)
        return base + rng.normal(0.4, 1.0, size=10), base
    if name == "ties_zeros_n12":  # ties and zeros, small: scipy's permutation test
        base = np.array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12], dtype=float)
        return base + np.array([0, 0, 1, 1, -1, 2, 3, 0, 2, -2, 4, 5], dtype=float), base
    if name == "binary_n40":  # 0/1 accuracy scores: many zeros and ties, normal approximation
        base = rng.integers(0, 2, size=40).astype(float)
        variant = base.copy()
        variant[rng.choice(40, size=9, replace=False)] = 1.0
        variant[rng.choice(40, size=3, replace=False)] = 0.0
        return variant, base
    if name == "rounded_n80":  # many tied magnitudes, large n
        base = np.round(rng.normal(size=80), 1)
        return np.round(base + rng.normal(0.1, 0.3, size=80), 1), base
    raise KeyError(name)


FIXTURES = ["continuous_n10", "ties_zeros_n12", "binary_n40", "rounded_n80"]


@pytest.mark.parametrize("zero_method", ["wilcox", "pratt", "zsplit"])
@pytest.mark.parametrize("fixture", FIXTURES)
@pytest.mark.parametrize("method", ["auto", "asymptotic"])
def test_wrapper_matches_scipy(fixture: str, zero_method: str, method: str) -> None:
    variant, base = _fixture(fixture)
    ours = wilcoxon_paired(variant, base, zero_method=zero_method, method=method)
    ref = stats.wilcoxon(variant, base, zero_method=zero_method, method=method)
    assert ours.statistic == pytest.approx(float(ref.statistic), rel=1e-12)
    assert ours.p_value == pytest.approx(float(ref.pvalue), rel=1e-12)
    diff = variant - base
    assert ours.n == diff.size
    assert ours.n_nonzero == int(np.count_nonzero(diff))
    assert ours.median_difference == pytest.approx(float(np.median(diff)))
    assert ours.reason == ""


def test_fixtures_really_contain_ties_and_zeros() -> None:
    for name in ("ties_zeros_n12", "binary_n40", "rounded_n80"):
        variant, base = _fixture(name)
        diff = variant - base
        nonzero = np.abs(diff[diff != 0])
        assert np.any(diff == 0), name
        assert len(np.unique(nonzero)) < len(nonzero), name


def test_rank_biserial_hand_computed() -> None:
    # |d| = 1, 2, 3, 4 -> ranks 1..4; R+ = 1 + 2 + 4 = 7, R- = 3; r = (7 - 3) / 10
    result = wilcoxon_paired([1.0, 2.0, -3.0, 4.0], [0.0, 0.0, 0.0, 0.0])
    assert result.effect_size == pytest.approx(0.4)
    # with a zero: wilcox drops it (ranks 1, 2, 3 -> (4 - 2) / 6); pratt ranks it (ranks 2, 3, 4 of 1..4)
    variant, base = [0.0, 1.0, -2.0, 3.0], [0.0, 0.0, 0.0, 0.0]
    assert wilcoxon_paired(variant, base, zero_method="wilcox").effect_size == pytest.approx(1 / 3)
    assert wilcoxon_paired(variant, base, zero_method="pratt").effect_size == pytest.approx(0.3)
    assert wilcoxon_paired(variant, base, zero_method="zsplit").effect_size == pytest.approx(0.3)
    assert wilcoxon_paired([2.0, 3.0, 5.0], [1.0, 1.0, 1.0]).effect_size == pytest.approx(1.0)
    assert wilcoxon_paired([0.0, 0.0, 0.0], [1.0, 1.0, 1.0]).effect_size == pytest.approx(-1.0)


@pytest.mark.parametrize("zero_method", ["wilcox", "pratt", "zsplit"])
def test_all_zero_differences_give_p_one(zero_method: str) -> None:
    scores = [0.2, 0.5, 0.5, 0.9, 1.0, 0.0, 0.3, 0.7]
    result = wilcoxon_paired(scores, scores, zero_method=zero_method)
    assert result.p_value == 1.0
    assert result.effect_size == 0.0
    assert result.n == 8 and result.n_nonzero == 0
    assert result.median_difference == 0.0
    assert "zero" in result.reason
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = stats.wilcoxon(scores, scores, zero_method=zero_method)
    assert result.statistic == pytest.approx(float(ref.statistic))
    assert float(ref.pvalue) == 1.0


def test_too_few_pairs_give_nan_with_reason() -> None:
    result = wilcoxon_paired([1.0], [0.0], min_pairs=2)
    assert math.isnan(result.p_value) and math.isnan(result.effect_size)
    assert "only 1 pair" in result.reason
    empty = wilcoxon_paired([], [], min_pairs=1)
    assert math.isnan(empty.p_value) and "only 0 pair" in empty.reason


def test_bad_samples_are_rejected() -> None:
    with pytest.raises(ValueError, match="equal length"):
        wilcoxon_paired([1.0, 2.0], [1.0])
    with pytest.raises(ValueError, match="NaN"):
        wilcoxon_paired([1.0, float("nan")], [1.0, 2.0])


def test_holm_hand_computed() -> None:
    # sorted: 0.005*4 = 0.02, 0.01*3 = 0.03, 0.03*2 = 0.06, 0.04*1 = 0.04 -> monotone 0.06
    assert holm_adjust([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    adjusted = holm_adjust([0.01, float("nan"), 0.04, 0.03, 0.005])
    assert math.isnan(adjusted[1])
    assert [adjusted[i] for i in (0, 2, 3, 4)] == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm_adjust([0.5, 0.6]) == pytest.approx([1.0, 1.0])
    assert holm_adjust([]) == []
    with pytest.raises(ValueError, match="outside"):
        holm_adjust([1.5])


def test_options_from_config() -> None:
    options = SignificanceOptions.from_config({"alpha": 0.01, "zero_method": "pratt", "holm": False})
    assert (options.alpha, options.zero_method, options.holm) == (0.01, "pratt", False)
    assert SignificanceOptions.from_config(None) == SignificanceOptions()
    with pytest.raises(ValueError, match="statistics: unknown key"):
        SignificanceOptions.from_config({"alfa": 0.05})
    with pytest.raises(ValueError, match="zero_method"):
        SignificanceOptions.from_config({"zero_method": "drop"})
    with pytest.raises(ValueError, match="alpha"):
        SignificanceOptions.from_config({"alpha": 5})


def _cell(policy: str, variant: str, benchmark: str, items: list[ItemScore]) -> Cell:
    categories: dict[str, dict[str, float]] = {}
    names = {i.category for i in items if i.category} or {k for i in items for k in i.scores}
    for name in sorted(names):
        values = [i.score for i in items if i.category == name] or [i.scores[name] for i in items]
        categories[name] = {"n": len(values), "value": float(np.mean(values))}
    return Cell(
        benchmark=benchmark,
        policy=policy,
        variant=variant,
        primary_metric="score",
        primary_value=float(np.mean([i.score for i in items])),
        higher_is_better=True,
        metrics={},
        n=len(items),
        items=items,
        categories=categories,
    )


def test_compare_cells_pairs_by_id_not_order() -> None:
    rng = random.Random(3)
    base_items = [ItemScore(id=f"q{i}", score=rng.random()) for i in range(20)]
    shifted = [ItemScore(id=i.id, score=i.score + rng.uniform(-0.1, 0.4)) for i in base_items]
    rng.shuffle(shifted)
    base, variant = _cell("m", "base", "humor", base_items), _cell("m", "benign", "humor", shifted)
    by_id = {i.id: i.score for i in shifted}
    expected = stats.wilcoxon([by_id[i.id] for i in base_items], [i.score for i in base_items])
    result = compare_cells(base, variant, SignificanceOptions())
    assert result.p_value == pytest.approx(float(expected.pvalue))
    assert result.n == 20


def test_mismatched_item_ids_name_both_cells() -> None:
    base = _cell("m", "base", "mmlu", [ItemScore(id="a", score=1.0), ItemScore(id="b", score=0.0)])
    variant = _cell("m", "toxic", "mmlu", [ItemScore(id="a", score=1.0), ItemScore(id="c", score=0.0)])
    with pytest.raises(ValueError, match=r"m/base/mmlu and m/toxic/mmlu.*1 only in base"):
        compare_cells(base, variant, SignificanceOptions())


def test_per_category_uses_item_category_or_per_item_scores() -> None:
    rng = random.Random(5)
    bias_base = [ItemScore(id=str(i), score=rng.random(), category="ab"[i % 2]) for i in range(30)]
    bias_variant = [ItemScore(id=i.id, score=i.score - rng.random() * 0.3, category=i.category) for i in bias_base]
    base, variant = _cell("m", "base", "bias", bias_base), _cell("m", "benign", "bias", bias_variant)
    result = compare_cells(base, variant, SignificanceOptions(), category="a")
    subset = [(v.score, b.score) for v, b in zip(bias_variant, bias_base) if b.category == "a"]
    expected = stats.wilcoxon([v for v, _ in subset], [b for _, b in subset])
    assert result.n == 15 and result.p_value == pytest.approx(float(expected.pvalue))

    tox_base = [ItemScore(id=str(i), score=0.0, scores={"threat": rng.random(), "insult": rng.random()})
                for i in range(25)]
    tox_variant = [ItemScore(id=i.id, score=0.0, scores={k: v * 0.5 for k, v in i.scores.items()})
                   for i in tox_base]
    base, variant = _cell("m", "base", "toxicity", tox_base), _cell("m", "benign", "toxicity", tox_variant)
    result = compare_cells(base, variant, SignificanceOptions(), category="threat")
    expected = stats.wilcoxon([i.scores["threat"] for i in tox_variant], [i.scores["threat"] for i in tox_base])
    assert result.n == 25 and result.p_value == pytest.approx(float(expected.pvalue))
    with pytest.raises(ValueError, match="category 'obscene'"):
        compare_cells(base, variant, SignificanceOptions(), category="obscene")


def test_run_all_tests_across_models_and_holm_families() -> None:
    rng = random.Random(11)
    cells = {}
    for k, policy in enumerate(["p1", "p2", "p3", "p4", "p5", "p6"]):
        base_items = [ItemScore(id=str(i), score=rng.random(), category="xy"[i % 2]) for i in range(16)]
        variant_items = [ItemScore(id=i.id, score=i.score + 0.05 * (k + 1) * (i.category == "x"),
                                   category=i.category) for i in base_items]
        cells[(policy, "base", "bias")] = _cell(policy, "base", "bias", base_items)
        cells[(policy, "benign", "bias")] = _cell(policy, "benign", "bias", variant_items)
    options = SignificanceOptions()
    records = run_all_tests(cells, options)
    index = index_records(records)
    across = index[(ACROSS_MODELS, "bias", "benign", "base", "", "")]
    policies = sorted({p for (p, _, _) in cells})
    expected = stats.wilcoxon(
        [cells[(p, "benign", "bias")].primary_value for p in policies],
        [cells[(p, "base", "bias")].primary_value for p in policies],
    )
    assert across.test.n == 6
    assert across.test.p_value == pytest.approx(float(expected.pvalue))  # 6 of 6 up: 2/64
    assert across.test.effect_size == pytest.approx(1.0)
    item_records = [r for r in records if r.scope == ITEMS]
    assert len(item_records) == 6
    assert [r.p_holm for r in item_records] == pytest.approx(holm_adjust([r.test.p_value for r in item_records]))
    assert index[(ITEMS_BY_CATEGORY, "bias", "benign", "base", "p1", "y")].test.p_value == 1.0
    assert (ACROSS_MODELS_BY_CATEGORY, "bias", "benign", "base", "", "x") in index
    assert index[(ACROSS_CATEGORIES, "bias", "benign", "base", "p3", "")].test.n == 2


def test_category_value_accepts_the_documented_forms() -> None:
    cell = _cell("m", "base", "bias", [ItemScore(id="1", score=0.25, category="a")])
    cell.categories = {
        "given": {"value": 0.1, "n": 3},
        "grouped": {"score": 0.2, "other": 9.0, "n": 3.0},
        "dimension": {"mean": 0.3},
        "broken": {"n": 3},
    }
    assert category_value(cell, "given") == 0.1
    assert category_value(cell, "grouped") == 0.2  # the primary metric's per-group mean
    assert category_value(cell, "dimension") == 0.3
    with pytest.raises(ValueError, match="m/base/bias category 'broken' has none of"):
        category_value(cell, "broken")
    with pytest.raises(ValueError, match="has no category 'absent'"):
        category_value(cell, "absent")


def test_category_benchmarks_option() -> None:
    options = SignificanceOptions.from_config({"category_benchmarks": ["mmlu"]})
    assert options.category_benchmarks == ("mmlu",)
    with pytest.raises(ValueError, match="category_benchmarks"):
        SignificanceOptions.from_config({"category_benchmarks": "mmlu"})


def _matrix(seed: int = 11, n_items: int = 16) -> dict:
    """Six policies with base, benign, toxic and (two of them) eroded bias cells; per-item scores with
    categories x/y. benign moves category x up by policy-dependent steps, toxic is noise around benign."""
    rng = random.Random(seed)
    cells = {}
    for k, policy in enumerate(["p1", "p2", "p3", "p4", "p5", "p6"]):
        base_items = [ItemScore(id=str(i), score=rng.random(), category="xy"[i % 2]) for i in range(n_items)]
        shifted = {
            "benign": [ItemScore(id=i.id, score=i.score + 0.05 * (k + 1) * (i.category == "x"), category=i.category)
                       for i in base_items],
        }
        shifted["toxic"] = [ItemScore(id=i.id, score=i.score + rng.uniform(-0.2, 0.1), category=i.category)
                            for i in shifted["benign"]]
        if k < 2:
            shifted["eroded"] = [ItemScore(id=i.id, score=i.score - 0.3, category=i.category) for i in base_items]
        cells[(policy, "base", "bias")] = _cell(policy, "base", "bias", base_items)
        for variant, items in shifted.items():
            cells[(policy, variant, "bias")] = _cell(policy, variant, "bias", items)
    return cells


def test_benign_vs_toxic_and_eroded_vs_benign_are_tested_as_scipy_does() -> None:
    cells = _matrix()
    index = index_records(run_all_tests(cells, SignificanceOptions()))
    pairs = {(v, b) for (_, _, v, b, _, _) in index}
    assert pairs == {("benign", "base"), ("toxic", "base"), ("eroded", "base"), ("toxic", "benign"),
                     ("eroded", "benign")}
    toxic, benign = cells[("p4", "toxic", "bias")], cells[("p4", "benign", "bias")]
    expected = stats.wilcoxon([i.score for i in toxic.items], [i.score for i in benign.items])
    record = index[(ITEMS, "bias", "toxic", "benign", "p4", "")]
    assert record.test.p_value == pytest.approx(float(expected.pvalue), rel=1e-12)
    assert record.test.statistic == pytest.approx(float(expected.statistic))
    policies = ["p1", "p2", "p3", "p4", "p5", "p6"]
    expected = stats.wilcoxon([cells[(p, "toxic", "bias")].primary_value for p in policies],
                              [cells[(p, "benign", "bias")].primary_value for p in policies])
    across = index[(ACROSS_MODELS, "bias", "toxic", "benign", "", "")]
    assert across.test.n == 6 and across.test.p_value == pytest.approx(float(expected.pvalue), rel=1e-12)
    eroded = index[(ACROSS_MODELS, "bias", "eroded", "benign", "", "")]
    assert eroded.test.n == 2  # only p1 and p2 have the eroded variant
    assert index[(ITEMS, "bias", "eroded", "benign", "p1", "")].test.median_difference < 0
    assert (ITEMS, "bias", "eroded", "benign", "p3", "") not in index


def test_rank_sum_is_mann_whitney_u_on_the_two_samples() -> None:
    variant, base = [0.9, 0.4, 0.75, 0.6, 0.8], [0.1, 0.5, 0.2, 0.3, 0.35]
    ours = rank_sum_test(variant, base)
    ref = stats.mannwhitneyu(variant, base, alternative="two-sided")
    assert ours.statistic == float(ref.statistic) == 24.0  # 0.4 loses only to 0.5
    assert ours.p_value == pytest.approx(float(ref.pvalue), rel=1e-12)
    assert ours.effect_size == pytest.approx(2 * 24 / 25 - 1)
    same = rank_sum_test([1.0, 1.0, 1.0], [1.0, 1.0, 1.0])
    assert same.p_value == 1.0 and same.effect_size == 0.0 and "same" in same.reason
    assert math.isnan(rank_sum_test([1.0], [0.0]).p_value)
    # the configured test reaches the cells: rank-sum on the items of one policy
    cells = _matrix()
    options = SignificanceOptions(test={"default": "signed-rank", "bias": "rank-sum"})
    index = index_records(run_all_tests(cells, options))
    record = index[(ITEMS, "bias", "benign", "base", "p2", "")]
    ref = stats.mannwhitneyu([i.score for i in cells[("p2", "benign", "bias")].items],
                             [i.score for i in cells[("p2", "base", "bias")].items], alternative="two-sided")
    assert record.test_name == "rank-sum" and record.test.p_value == pytest.approx(float(ref.pvalue), rel=1e-12)


def test_holm_is_set_per_unit() -> None:
    """Six of six policies up: exact two-sided p = 2/64 = 0.03125, the smallest there is at n = 6. With
    Holm over the across-models family (three tests against Base, two contrasts) it cannot pass 0.05."""
    cells = _matrix()
    for policy in ["p1", "p2", "p3", "p4", "p5", "p6"]:  # toxic above benign everywhere, by a margin
        toxic = cells[(policy, "toxic", "bias")]
        toxic.primary_value = cells[(policy, "benign", "bias")].primary_value + 1.0
    corrected = index_records(run_all_tests(cells, SignificanceOptions(holm=True)))
    uncorrected = index_records(run_all_tests(cells, SignificanceOptions(holm={"models": False})))
    key = (ACROSS_MODELS, "bias", "toxic", "benign", "", "")
    assert corrected[key].test.p_value == pytest.approx(0.03125)
    assert corrected[key].p_holm > 0.05 and not corrected[key].significant(SignificanceOptions(holm=True))
    options = SignificanceOptions(holm={"models": False})
    assert uncorrected[key].significant(options)  # models: raw p decides
    family = [r for r in uncorrected.values() if r.scope == ACROSS_MODELS]
    assert [r.p_holm for r in family] == pytest.approx(holm_adjust([r.test.p_value for r in family]))
    items = [r for r in uncorrected.values() if r.scope == ITEMS]
    for record in items:  # items: still Holm (absent from the mapping means true)
        assert record.significant(options) == (record.p_holm < 0.05)
    assert SignificanceOptions(holm=False).holm_for("items") is False


def test_options_test_holm_and_stars_are_checked() -> None:
    options = SignificanceOptions.from_config({"test": {"default": "rank-sum", "humor": "signed-rank"},
                                               "holm": {"items": True, "models": False}, "stars": "categories"})
    assert (options.test_for("humor"), options.test_for("bias")) == ("signed-rank", "rank-sum")
    assert (options.holm_for("items"), options.holm_for("models"), options.holm_for("categories")) == (
        True, False, True)
    assert "Wilcoxon rank-sum (Mann-Whitney U)" in options.describe("bias", "models", "f")
    assert "not corrected" in options.describe("bias", "models", "f")
    with pytest.raises(ValueError, match="statistics.test: unknown key.*humour"):
        SignificanceOptions(test={"humour": "rank-sum"})
    with pytest.raises(ValueError, match="statistics.test default: 'sign' is not one of"):
        SignificanceOptions(test="sign")
    with pytest.raises(ValueError, match="statistics.holm: unknown key.*policies"):
        SignificanceOptions(holm={"policies": True})
    with pytest.raises(ValueError, match="statistics.holm must be"):
        SignificanceOptions(holm={"items": "yes"})
    with pytest.raises(ValueError, match="statistics.stars 'models'"):
        SignificanceOptions(stars="models")


def _hand_signed_rank_effect(variant: list[float], base: list[float]) -> float:
    """Matched-pairs rank-biserial, by hand: rank |d| (ties averaged) without the zero differences,
    then (sum of ranks of positive d - sum of ranks of negative d) / sum of all ranks."""
    d = np.array(variant) - np.array(base)
    d = d[d != 0]
    magnitudes = np.abs(d)
    ranks = np.array([(magnitudes < m).sum() + ((magnitudes == m).sum() + 1) / 2 for m in magnitudes])
    return float((ranks[d > 0].sum() - ranks[d < 0].sum()) / ranks.sum())


def _hand_rank_sum_effect(variant: list[float], base: list[float]) -> float:
    """2 U / (n1 n2) - 1, U counted pair by pair: the share of (variant, base) pairs the variant wins."""
    x, y = np.array(variant)[:, None], np.array(base)[None, :]
    wins = (x > y).sum() + 0.5 * (x == y).sum()
    return float(2 * wins / (x.size * y.size) - 1)


def _swapped(cells: dict) -> dict:
    """The same scores with the base and benign cells trading places."""
    rename = {"base": "benign", "benign": "base"}
    out = {}
    for (policy, variant, benchmark), cell in cells.items():
        if variant in rename:
            out[(policy, rename[variant], benchmark)] = replace(cell, variant=rename[variant])
    return out


@pytest.mark.parametrize("test", ["signed-rank", "rank-sum"])
def test_effect_sizes_point_from_base_to_variant_and_flip_when_swapped(test: str) -> None:
    """Issue 16: every effect size and median difference is the variant's side minus Base's, as an
    independent computation gives it (items paired by id, not by position), at each unit; swapping the
    two cells flips every sign and leaves every p-value as it was."""
    rng = random.Random(23)
    cells = {}
    for k, policy in enumerate(["p1", "p2", "p3", "p4", "p5", "p6"]):
        base_items = [ItemScore(id=f"q{i}", score=round(rng.random(), 2), category="xy"[i % 2]) for i in range(30)]
        lift = 0.04 * (k - 1)  # p1 goes down, p2 stays, the others go up, category x more than y
        variant_items = [ItemScore(id=i.id, score=round(i.score + lift * (2 if i.category == "x" else 1)
                                                        + rng.uniform(-0.1, 0.1), 2), category=i.category)
                         for i in base_items]
        rng.shuffle(variant_items)  # pairing must be by item id
        cells[(policy, "base", "bias")] = _cell(policy, "base", "bias", base_items)
        cells[(policy, "benign", "bias")] = _cell(policy, "benign", "bias", variant_items)
    options = SignificanceOptions(test=test)
    hand = _hand_signed_rank_effect if test == "signed-rank" else _hand_rank_sum_effect
    index = index_records(run_all_tests(cells, options))
    swapped = index_records(run_all_tests(_swapped(cells), options))

    def values(policy: str, variant: str, category: str | None = None) -> list[float]:
        items = sorted(cells[(policy, variant, "bias")].items, key=lambda i: i.id)
        return [i.score for i in items if category is None or i.category == category]

    checked = 0
    for key, record in index.items():
        scope, _, _, _, policy, category = key
        if scope == ITEMS:
            variant, base = values(policy, "benign"), values(policy, "base")
        elif scope == ITEMS_BY_CATEGORY:
            variant, base = values(policy, "benign", category), values(policy, "base", category)
        elif scope == ACROSS_CATEGORIES:
            variant = [float(np.mean(values(policy, "benign", c))) for c in "xy"]
            base = [float(np.mean(values(policy, "base", c))) for c in "xy"]
        elif scope == ACROSS_MODELS:
            variant = [float(np.mean(values(p, "benign"))) for p in ["p1", "p2", "p3", "p4", "p5", "p6"]]
            base = [float(np.mean(values(p, "base"))) for p in ["p1", "p2", "p3", "p4", "p5", "p6"]]
        else:  # ACROSS_MODELS_BY_CATEGORY
            variant = [float(np.mean(values(p, "benign", category))) for p in ["p1", "p2", "p3", "p4", "p5", "p6"]]
            base = [float(np.mean(values(p, "base", category))) for p in ["p1", "p2", "p3", "p4", "p5", "p6"]]
        assert record.test.effect_size == pytest.approx(hand(variant, base), abs=1e-12), key
        assert record.test.median_difference == pytest.approx(float(np.median(np.subtract(variant, base))),
                                                              abs=1e-12), key
        mirror = swapped[key]
        assert mirror.test.effect_size == pytest.approx(-record.test.effect_size, abs=1e-12), key
        assert mirror.test.median_difference == pytest.approx(-record.test.median_difference, abs=1e-12), key
        assert mirror.test.p_value == pytest.approx(record.test.p_value, rel=1e-12), key
        checked += 1
    assert checked == 6 * 4 + 1 + 2  # per policy: items, two categories, across categories; pooled: 3
    signs = {policy: np.sign(index[(ITEMS, "bias", "benign", "base", policy, "")].test.effect_size)
             for policy in ["p1", "p3", "p6"]}
    assert signs == {"p1": -1.0, "p3": 1.0, "p6": 1.0}
