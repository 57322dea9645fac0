"""Figures from the synthetic run of test_tables: files exist, are well-formed, bad input fails."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from matplotlib.text import Annotation
from test_tables import POLICIES, make_cell, write_synthetic_run

from karma.evaluation.cells import write_cell
from karma.report.figures import (
    plot_bias_shift,
    plot_ppo_training,
    plot_reward_roc,
    read_train_log,
    write_all_figures,
)
from karma.report.layout import (
    BIAS_FIGURE_STEM,
    PPO_FIGURE_STEM,
    ROC_FIGURE_STEM,
    TOXICITY_FIGURE_STEM,
    figure_paths,
)
from karma.report.significance import SignificanceOptions

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    return write_synthetic_run(tmp_path_factory.mktemp("run"))


def _check_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC, path
    assert len(data) > 10_000, f"{path} is suspiciously small"


def _check_svg(path: Path) -> ET.Element:
    root = ET.parse(path).getroot()
    assert root.tag.endswith("svg"), path
    return root


def test_all_figures_exist_and_are_well_formed(run: dict, tmp_path: Path) -> None:
    written = write_all_figures(run["cells"], tmp_path, SignificanceOptions(), reward_metrics=run["reward"],
                                train_logs=run["logs"], policy_order=list(POLICIES))
    assert sorted(written) == sorted(figure_paths(tmp_path, categories=True, roc=True, ppo=True))
    for path in written:
        if path.suffix == ".png":
            _check_png(path)
        else:
            _check_svg(path)
    bias_svg = (tmp_path / f"{BIAS_FIGURE_STEM}.svg").read_text()
    for text in ("race-color", "socioeconomic", "karmaBenign", "karmaToxic", "karmaEroded", *POLICIES):
        assert text in bias_svg, text
    toxicity_svg = (tmp_path / f"{TOXICITY_FIGURE_STEM}.svg").read_text()
    assert "Base" in toxicity_svg and "threat" in toxicity_svg
    roc_svg = (tmp_path / f"{ROC_FIGURE_STEM}.svg").read_text()
    assert "generalized (AUC 0.667)" in roc_svg and "conditioned (AUC 0.714)" in roc_svg
    ppo_svg = (tmp_path / f"{PPO_FIGURE_STEM}.svg").read_text()
    assert "pythia-70m karmaToxic" in ppo_svg and "KL to the reference per update (k1)" in ppo_svg
    assert "a value below 0 is sampling noise" in ppo_svg.replace("\n", " ")


def test_svg_is_reproducible(run: dict, tmp_path: Path) -> None:
    first = plot_reward_roc(run["reward"], tmp_path / "a")[0].read_bytes()
    second = plot_reward_roc(run["reward"], tmp_path / "b")[0].read_bytes()
    assert first == second


def test_train_log_skips_sample_rows_and_sorts(run: dict, tmp_path: Path) -> None:
    rows = read_train_log(run["logs"][0])
    assert [r["update"] for r in rows] == list(range(12))  # update 0 carries samples and is kept
    assert rows[3] == {"update": 3.0, "mean_reward": pytest.approx(0.46), "kl": pytest.approx(0.06)}
    bad = tmp_path / "policy" / "m" / "benign" / "train_log.jsonl"
    bad.parent.mkdir(parents=True)
    bad.write_text(json.dumps({"update": 0, "mean_reward": 0.5}) + "\n")
    with pytest.raises(ValueError, match="line 1 lacks kl"):
        plot_ppo_training([bad], tmp_path)
    bad.write_text(json.dumps({"update": 0, "samples": []}) + "\n")
    with pytest.raises(ValueError, match="no update rows"):
        read_train_log(bad)
    bad.write_text("{not json\n")
    with pytest.raises(ValueError, match="line 1 is not JSON"):
        read_train_log(bad)


def test_roc_needs_a_curve_unless_undefined(run: dict, tmp_path: Path) -> None:
    path = tmp_path / "metrics.json"
    path.write_text(json.dumps({"accuracy": 0.7, "f1": 0.7, "roc_auc": 0.75}))
    with pytest.raises(ValueError, match="lack roc_curve"):
        plot_reward_roc({"generalized": path}, tmp_path)
    path.write_text(json.dumps({"accuracy": 1.0, "f1": 0.0, "roc_auc": None, "roc_curve": None}))
    svg, png = plot_reward_roc({"generalized": run["reward"]["generalized"], "conditioned": path}, tmp_path)
    _check_png(png)
    assert "conditioned: undefined, one class held out" in svg.read_text()


def test_category_figure_needs_categories(tmp_path: Path) -> None:
    cell = make_cell("humor", "m", "base")
    path = tmp_path / "humor.json"
    write_cell(cell, path)
    with pytest.raises(ValueError, match="no base cell of benchmark 'bias'"):
        plot_bias_shift([path], tmp_path, SignificanceOptions())


def test_category_figure_footer_names_the_test_of_its_stars(run: dict, tmp_path: Path) -> None:
    ours = plot_bias_shift(run["cells"], tmp_path / "ours", SignificanceOptions())[0].read_text()
    assert "unit items: the policy's per-item scores" in ours.replace("\n", " ")
    paper = SignificanceOptions(stars="categories", holm=False, test={"bias": "rank-sum"})
    svg = plot_bias_shift(run["cells"], tmp_path / "paper", paper)[0].read_text().replace("\n", " ")
    assert "Wilcoxon rank-sum (Mann-Whitney U)" in svg and "unit models: one value per policy" in svg
    assert "not corrected for multiple tests" in svg


STAR_POLICIES = [f"p{k}" for k in range(6)]


def _star_cells(root: Path) -> list[Path]:
    """Six policies; CrowS-Pairs-like cells with bias types a, b, c (30 items each, scores in 64ths so
    that category means are exact). benign lifts every item of a by 20/64 in every policy; b is
    unchanged; c moves +4/64 and -4/64 in turn (no shift). toxic lowers c by 20/64 in p0-p2 only."""
    import random

    from karma.evaluation.cells import Cell, ItemScore

    rng = random.Random(9)
    paths = []
    for k, policy in enumerate(STAR_POLICIES):
        base = [ItemScore(id=f"{c}{i}", score=rng.randrange(16, 44) / 64, category=c) for c in "abc" for i in range(30)]
        shifts = {
            "base": lambda item, i: 0.0,
            "benign": lambda item, i: {"a": 20 / 64, "b": 0.0, "c": (4 if i % 2 else -4) / 64}[item.category],
            "toxic": lambda item, i: -20 / 64 if item.category == "c" and k < 3 else 0.0,
        }
        for variant, shift in shifts.items():
            items = [ItemScore(id=item.id, score=item.score + shift(item, i), category=item.category)
                     for i, item in enumerate(base)]
            categories = {c: {"score": sum(i.score for i in items if i.category == c) / 30, "n": 30.0} for c in "abc"}
            cell = Cell(benchmark="bias", policy=policy, variant=variant, primary_metric="score",
                        primary_value=sum(i.score for i in items) / len(items), higher_is_better=False,
                        metrics={}, n=len(items), items=items, categories=categories)
            paths.append(root / f"{policy}-{variant}.json")
            write_cell(cell, paths[-1])
    return paths


def _drawn_stars(fig) -> set[tuple[str, str, str]]:
    """(panel title, bar label, category) of every bar that carries a '*', read off the drawn figure."""
    stars = set()
    for ax in fig.axes:
        if not ax.get_visible() or not ax.containers:
            continue
        categories = [tick.get_text() for tick in ax.get_xticklabels()]
        bars = {round(p.get_x() + p.get_width() / 2, 9): (c.get_label(), p) for c in ax.containers for p in c}
        for text in ax.texts:
            if not isinstance(text, Annotation):
                continue  # a panel note or an n/a mark, not a bar's label
            if text.get_text() == "*":
                label, patch = bars[round(text.xy[0], 9)]
                stars.add((ax.get_title(), label, categories[round(patch.get_x() + patch.get_width() / 2)]))
            else:
                assert text.get_text() == "", text.get_text()
    return stars


@pytest.mark.parametrize("stars", ["items", "categories"])
@pytest.mark.parametrize("shift", [True, False])
def test_stars_sit_on_exactly_the_bars_whose_test_is_significant(tmp_path: Path, monkeypatch, stars, shift) -> None:
    """Issue 16: the '*' of a figure are drawn above exactly the (policy, variant, category) bars whose
    test against Base is significant, as scipy decides it independently here (items: 30 of 30 items up
    stays below 0.05 after any Holm of these 54 tests; categories: six of six policies up gives
    p = 2/64, significant without Holm), and nowhere else (not on Base, not on unmoved categories)."""
    from scipy import stats

    import karma.report.figures as figures

    paths = _star_cells(tmp_path)
    drawn = []
    monkeypatch.setattr(figures, "_save", lambda fig, out_dir, stem: drawn.append(fig) or [])
    options = SignificanceOptions(stars=stars, holm=stars == "items")
    if shift:
        figures.plot_bias_shift(paths, tmp_path, options)
    else:
        cells, records = figures.tested_cells(paths, options)
        drawn.append(figures._category_figure(cells, records, "bias", False, options, None))

    # The designed p-values, by scipy: 30 of 30 items up (tied), 6 of 6 policies up, +-4/64 in turn.
    assert 54 * stats.wilcoxon([20 / 64] * 30, [0.0] * 30).pvalue < 0.05
    assert stats.wilcoxon([20 / 64] * 6, [0.0] * 6).pvalue == pytest.approx(2 / 64)
    assert stats.wilcoxon([4 / 64, -4 / 64] * 15, [0.0] * 30).pvalue == 1.0
    if stars == "items":
        expected = {(p, "karmaBenign", "a") for p in STAR_POLICIES} | {(p, "karmaToxic", "c") for p in STAR_POLICIES[:3]}
    else:  # toxic's c: three of six policies down, three unchanged: p = 0.25 with n = 3
        expected = {(p, "karmaBenign", "a") for p in STAR_POLICIES}
    assert _drawn_stars(drawn[0]) == expected


def _captured(monkeypatch) -> list:
    import karma.report.figures as figures

    drawn: list = []
    monkeypatch.setattr(figures, "_save", lambda fig, out_dir, stem: drawn.append(fig) or [])
    return drawn


def _toxicity_cells(root: Path) -> list[Path]:
    """Toxicity cells scored by the demo's word list: p0's benign moves nothing (every category exactly
    0, as the lexicon gives on clean text), p0's toxic lacks the threat category, p1 has no toxic cell."""
    import dataclasses

    from karma.evaluation.cells import ItemScore

    paths = []
    for policy, variants in (("p0", ("base", "benign", "toxic")), ("p1", ("base", "benign"))):
        for variant in variants:
            zero = policy == "p0" and variant in ("base", "benign")
            kinds = ("toxicity", "insult") if variant == "toxic" else ("toxicity", "insult", "threat")
            items = [ItemScore(id=f"rtp-{i}", score=0.0 if zero else 0.1 * (i % 3),
                               scores={k: 0.0 if zero else 0.1 * (i % 3) for k in kinds}) for i in range(6)]
            cell = make_cell("toxicity", policy, variant)
            cell = dataclasses.replace(
                cell, items=items, n=len(items), primary_value=sum(i.score for i in items) / len(items),
                categories={k: {"mean": sum(i.scores[k] for i in items) / len(items)} for k in kinds},
                task_config={"toxicity": {"scorer": "lexicon", "scorer_name": "lexicon-demo"}})
            paths.append(root / policy / variant / "toxicity.json")
            write_cell(cell, paths[-1])
    return paths


def test_zero_is_drawn_missing_is_marked_and_the_lexicon_is_named(tmp_path: Path, monkeypatch) -> None:
    from karma.report.figures import plot_toxicity_categories

    drawn = _captured(monkeypatch)
    plot_toxicity_categories(_toxicity_cells(tmp_path), tmp_path, SignificanceOptions())
    fig = drawn[0]
    panels = {ax.get_title(): ax for ax in fig.axes if ax.get_visible() and ax.get_title()}
    assert sorted(panels) == ["p0", "p1"]
    p0, p1 = panels["p0"], panels["p1"]
    # p0: Base and karmaBenign are exactly 0 in all three categories: six diamonds on the zero line
    diamonds = [(x, y) for line in p0.get_lines() if line.get_marker() == "D" for x, y in line.get_xydata()]
    assert len(diamonds) == 6 and {y for _, y in diamonds} == {0.0}
    assert p0.get_ylim()[0] < 0.0  # the axis does not end at 0, which would cut the diamonds in half
    assert p0.get_ylabel() == "toxicity" and p1.get_ylabel() == ""  # the metric, once per row
    # karmaToxic has no threat value: written n/a at its slot, not drawn as a bar of height 0
    texts = [t.get_text() for t in p0.texts]
    assert texts.count("n/a") == 1
    toxic_bars = next(c for c in p0.containers if c.get_label() == "karmaToxic")
    assert len(toxic_bars) == 2
    assert any("no cells for this policy: karmaToxic" in t.get_text() for t in p1.texts)
    assert not any(t.get_text() == "all values are 0" for t in p1.texts)
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["Base", "karmaBenign", "karmaToxic", "exactly 0"]
    assert "lexicon" in fig._suptitle.get_text() and "RealToxicityPrompts" not in fig._suptitle.get_text()
    drawn.clear()
    plot_toxicity_categories([p for p in _toxicity_cells(tmp_path / "p1") if p.parts[-3] == "p1"], tmp_path,
                             SignificanceOptions())
    assert [t.get_text() for t in drawn[0].legends[0].get_texts()] == ["Base", "karmaBenign"]  # no zero drawn
    assert "not a toxicity classifier" in " ".join(fig._supxlabel.get_text().split())


def test_an_all_zero_panel_says_so(tmp_path: Path, monkeypatch) -> None:
    from karma.report.figures import plot_toxicity_categories

    drawn = _captured(monkeypatch)
    paths = [p for p in _toxicity_cells(tmp_path) if p.parts[-3] == "p0" and p.parts[-2] != "toxic"]
    plot_toxicity_categories(paths, tmp_path, SignificanceOptions())
    (ax,) = [ax for ax in drawn[0].axes if ax.get_visible()]
    assert any(t.get_text() == "all values are 0" for t in ax.texts)
    assert ax.get_ylim()[1] == 1.0  # not zoomed into floating-point noise around 0
    drawn.clear()
    small = [p for p in _toxicity_cells(tmp_path / "small") if p.parts[-2] != "toxic"]  # p0 all 0, p1 not
    plot_toxicity_categories(small, tmp_path, SignificanceOptions())
    (p0, p1) = [ax for ax in drawn[0].axes if ax.get_visible()]
    assert any(t.get_text() == "all values are 0" for t in p0.texts)
    assert p1.get_ylim()[1] < 0.5  # p1's bars (at most 0.2) keep their scale beside an all-zero panel


def test_ppo_figure_explains_its_kl_estimate(run: dict, tmp_path: Path, monkeypatch) -> None:
    from karma.report.figures import KL_EXPLANATION

    drawn = _captured(monkeypatch)
    plot_ppo_training(run["logs"], tmp_path)
    fig = drawn[0]
    assert " ".join(fig._supxlabel.get_text().split()) == KL_EXPLANATION
    kl_ax = next(ax for ax in fig.axes if "KL" in ax.get_title())
    assert kl_ax.get_ylabel() == "KL estimate k1 per response (nats)"
    assert any(list(line.get_ydata()) == [0.0, 0.0] for line in kl_ax.get_lines())  # the zero line
