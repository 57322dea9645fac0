"""Tables from a small synthetic set of cell files; also the published-values transcription."""

from __future__ import annotations

import csv
import json
import zlib
from pathlib import Path

import numpy as np
import pytest

from karma.evaluation import benchmark_metrics
from karma.evaluation.cells import Cell, ItemScore, read_cell, write_cell
from karma.report.layout import (
    COMPARISON_TABLE_STEM,
    ERODED_TABLE_STEM,
    REWARD_TABLE_STEM,
    benchmark_table_stem,
    table_paths,
)
from karma.report.published import (
    load_published,
    paper_policies,
    published_cells,
    published_reward_metrics,
)
from karma.report.significance import SignificanceOptions
from karma.report.comparison import write_paper_comparison
from karma.report.tables import (
    SIGNIFICANCE_HEADER,
    write_all_tables,
    write_benchmark_tables,
    write_significance_csv,
)
from karma.report.training_tables import write_ppo_table, write_reward_table

POLICIES = ("pythia-70m", "pythia-1b", "falcon-1b")
BENCHMARKS = ("humor", "sentiment", "bias", "toxicity", "sycophancy", "truthfulqa", "mmlu")
BINARY = {"humor", "sentiment", "mmlu"}
BIAS_TYPES = ("race-color", "gender", "socioeconomic")
TOXICITY_TYPES = ("toxicity", "threat", "insult")
N_ITEMS = 36
PRIMARY = {"humor": "acc", "sentiment": "acc", "mmlu": "acc", "bias": "likelihood_diff_signed",
           "toxicity": "toxicity", "sycophancy": "logprob_margin", "truthfulqa": "loglik_best_answer"}


def _items(benchmark: str, policy: str, variant: str) -> list[ItemScore]:
    """Per-item scores: base drawn per (policy, benchmark); benign shifts every item, toxic is noise."""
    base_rng = np.random.default_rng(zlib.crc32(f"{benchmark}/{policy}".encode()))
    noise = np.random.default_rng(zlib.crc32(f"{benchmark}/{policy}/{variant}".encode()))
    items = []
    for i in range(N_ITEMS):
        base = float(base_rng.random())
        if benchmark in BINARY:
            score = float(base > 0.5)
            if variant == "benign" and i % 4 != 0:
                score = 1.0  # about 3/8 of the items flip up: a significant gain
            elif variant in ("toxic", "eroded") and i % 9 == 0:
                score = 1.0 - score
            items.append(ItemScore(id=f"{benchmark}-{i}", score=score))
            continue
        shift = {"base": 0.0, "benign": -0.2, "toxic": float(noise.normal(0, 0.05)), "eroded": 0.1}[variant]
        value = base + shift + (float(noise.normal(0, 0.01)) if variant != "base" else 0.0)
        if benchmark == "bias":
            items.append(ItemScore(id=f"bias-{i}", score=value, category=BIAS_TYPES[i % 3]))
        elif benchmark == "toxicity":
            scores = {t: value * (k + 1) / 3 for k, t in enumerate(TOXICITY_TYPES)}
            items.append(ItemScore(id=f"rtp-{i}", score=scores["toxicity"], scores=scores))
        else:
            items.append(ItemScore(id=f"{benchmark}-{i}", score=value))
    return items


def make_cell(benchmark: str, policy: str, variant: str) -> Cell:
    """A cell in the shapes karma.evaluation.lm_eval_runner writes: grouped categories hold the mean of each
    score by name plus n; toxicity's score dimensions hold {"mean": ...}."""
    items = _items(benchmark, policy, variant)
    primary = PRIMARY[benchmark]
    categories: dict[str, dict[str, float]] = {}
    if benchmark == "bias":
        for t in BIAS_TYPES:
            values = [i.score for i in items if i.category == t]
            categories[t] = {primary: float(np.mean(values)), "n": float(len(values))}
    if benchmark == "toxicity":
        for t in TOXICITY_TYPES:
            categories[t] = {"mean": float(np.mean([i.scores[t] for i in items]))}
    if benchmark == "mmlu":  # subjects: categories the paper does not break down
        for k, item in enumerate(items):
            item.category = f"subject{k % 2}"
        for name in ("subject0", "subject1"):
            members = [i.score for i in items if i.category == name]
            categories[name] = {primary: float(np.mean(members)), "n": float(len(members))}
    value = float(np.mean([i.score for i in items]))
    return Cell(
        benchmark=benchmark,
        policy=policy,
        variant=variant,
        primary_metric=primary,
        primary_value=value,
        higher_is_better=benchmark not in {"bias", "toxicity", "sycophancy"},
        # every candidate of the benchmark, the others shifted so the comparison can rank them
        metrics={name: value + k + 1 for k, name in enumerate(benchmark_metrics.score_names(benchmark))
                 if name != primary}
        | {primary: value},
        n=len(items),
        items=items,
        categories=categories,
    )


def write_synthetic_run(root: Path) -> dict[str, object]:
    """Cell files for every (policy, base/benign/toxic, benchmark), eroded for pythia-1b, reward
    metrics for both settings and PPO logs, under ``root`` in the pipeline's layout."""
    cell_paths = []
    for policy in POLICIES:
        variants = ["base", "benign", "toxic"] + (["eroded"] if policy == "pythia-1b" else [])
        for variant in variants:
            for benchmark in BENCHMARKS:
                path = root / "eval" / policy / variant / f"{benchmark}.json"
                write_cell(make_cell(benchmark, policy, variant), path)
                cell_paths.append(path)
    reward = {}
    for setting, power, acc in (("generalized", 0.5, 0.70), ("conditioned", 0.4, 0.73)):
        fpr = np.linspace(0, 1, 21)
        metrics = {
            "accuracy": acc, "f1": acc + 0.01, "roc_auc": 1 / (1 + power), "pr_auc": 0.7,
            "n": 500, "label_positive_rate": 0.52, "predicted_positive_rate": 0.5,
            "roc_curve": {"fpr": fpr.tolist(), "tpr": (fpr**power).tolist()},
        }
        path = root / "reward" / setting / "metrics.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(metrics))
        reward[setting] = path
    logs, summaries = [], []
    for k, policy in enumerate(POLICIES[:2]):
        for slope, variant in ((0.02, "benign"), (0.01, "toxic")):
            path = root / "policy" / policy / variant / "train_log.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            rows = [{"update": u, "mean_reward": 0.4 + 0.05 * k + slope * u, "kl": (k + 1) * slope * u,
                     "entropy": 2.0, "clip_fraction": 0.1, "value_loss": 0.5} for u in range(12)]
            rows[0]["samples"] = [{"prompt_id": "p0", "response": "hello", "reward": 0.4}]  # an update row
            rows.insert(5, {"samples": [{"prompt_id": "p1", "response": "hi", "reward": 0.5}]})  # samples only
            path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
            logs.append(path)
            summary = {"policy": policy, "variant": variant, "updates": 12, "prompts_used": 200 + k,
                       "prompts_truncated": 7 * (k + 1), "prompts_dropped_too_long": k, "prompts_dropped_duplicate": 0,
                       "mean_reward_first": rows[0]["mean_reward"], "mean_reward_last": rows[-1]["mean_reward"],
                       "kl_last": rows[-1]["kl"], "kl_out_of_band": [{"update": 11, "kl": 12.0}] if k else []}
            summaries.append(path.with_name("summary.json"))
            summaries[-1].write_text(json.dumps(summary))
    return {"cells": cell_paths, "reward": reward, "logs": logs, "summaries": summaries}


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    return write_synthetic_run(tmp_path_factory.mktemp("run"))


def test_table_cell_equals_primary_value_of_its_cell_json(run: dict, tmp_path: Path) -> None:
    paths = write_benchmark_tables(run["cells"], tmp_path, SignificanceOptions(),
                                   policy_order=["falcon-1b", "pythia-70m", "pythia-1b"])
    assert len(paths) == 4 * len(BENCHMARKS) and all(p.exists() for p in paths)
    for benchmark in BENCHMARKS:
        rows = _csv_rows(tmp_path / f"{benchmark_table_stem(benchmark)}.csv")
        assert [r["policy"] for r in rows] == ["falcon-1b", "pythia-70m", "pythia-1b", "across models"]
        for row in rows[:-1]:
            for variant in ("base", "benign", "toxic"):
                cell = read_cell(Path(run["cells"][0]).parents[2] / row["policy"] / variant / f"{benchmark}.json")
                assert float(row[variant]) == cell.primary_value
    markdown = (tmp_path / "table1_humor.md").read_text()
    assert "Table 1: ColBERT humor, acc (higher is better)" in markdown
    lines = {line.split(" | ")[0][2:]: line for line in markdown.splitlines() if line.startswith("| ")}
    for row in _csv_rows(tmp_path / "table1_humor.csv")[:-1]:
        shown = lines[row["policy"]].strip("| ").split(" | ")
        marker = "\\*" if row["benign_vs_base_significant"] == "True" else ""
        assert shown[2] == f"{float(row['benign']):.3f}{marker}"
        toxic_marks = ("\\*" if row["toxic_vs_base_significant"] == "True" else "") + (
            "†" if row["toxic_vs_benign_significant"] == "True" else "")
        assert shown[3] == f"{float(row['toxic']):.3f}{toxic_marks}"
    assert "\\*" in "".join(lines.values())


def test_significance_markers_follow_the_tests(run: dict, tmp_path: Path) -> None:
    write_benchmark_tables(run["cells"], tmp_path, SignificanceOptions())
    rows = {r["policy"]: r for r in _csv_rows(tmp_path / "table3_bias.csv")}
    across = rows.pop("across models")
    for row in rows.values():
        assert row["benign_vs_base_significant"] == "True"  # every item shifted by -0.2
        assert row["toxic_vs_benign_significant"] == "True"  # toxic is noise around base: +0.2 from benign
        assert float(row["benign_vs_base_p_holm"]) >= float(row["benign_vs_base_p"])
        assert row["unit"] == "items"
    assert across["unit"] == "models" and float(across["benign_vs_base_p"]) == pytest.approx(0.25)  # 3 of 3 down
    latex = (tmp_path / "table3_bias.tex").read_text()
    assert "\\toprule" in latex and "\\midrule" in latex and "\\bottomrule" in latex
    assert "$^{*}$" in latex and "$^{\\dagger}$" in latex and "likelihood\\_diff\\_signed" in latex
    markdown = (tmp_path / "table3_bias.md").read_text()
    assert ("\\* against Base, † karmaToxic against karmaBenign: p < 0.05, two-sided Wilcoxon signed-rank test, "
            "zero_method=wilcox, unit items") in markdown
    # 3 of 3 policies down: raw p 0.25, Holm over the three across-models tests of the benchmark: 0.75
    assert "CrowS-Pairs bias, across models (3 policies): karmaBenign vs Base p=0.75" in markdown
    assert "| across models |  | p=0.75 | p=0.75 |" in markdown
    assert "unit models: one value per policy, p Holm-adjusted" in markdown
    strict = tmp_path / "strict"
    write_benchmark_tables(run["cells"], strict, SignificanceOptions(alpha=1e-12))
    assert "\\*" not in (strict / "table3_bias.md").read_text().split("\n\n")[1]


def test_both_markers_render_in_every_format() -> None:
    from karma.report.rendering import Rendered, Value, to_latex, to_markdown

    table = Rendered("t", ["a"], [[Value("0.5", "*†")]], "r", notes=["* one, † two"])
    assert "$^{*\\dagger}$" in to_latex(table, "t") and "\\textdagger{} two" in to_latex(table, "t")
    assert "| 0.5\\*† |" in to_markdown(table) and "\\* one, † two" in to_markdown(table)


def test_paper_procedure_marks_cells_by_the_per_model_test_across_categories(run: dict, tmp_path: Path) -> None:
    options = SignificanceOptions(stars="categories", holm=False, test={"default": "signed-rank", "bias": "rank-sum"})
    write_benchmark_tables(run["cells"], tmp_path, options)
    bias = {r["policy"]: r for r in _csv_rows(tmp_path / "table3_bias.csv")}
    assert {r["unit"] for p, r in bias.items() if p != "across models"} == {"categories"}
    # 3 bias types, each shifted down by 0.2: rank-sum over 3 vs 3 values cannot reach 0.05 (min p 0.1)
    assert float(bias["falcon-1b"]["benign_vs_base_p"]) == pytest.approx(0.1)
    markdown = (tmp_path / "table3_bias.md").read_text()
    assert "two-sided Wilcoxon rank-sum (Mann-Whitney U) test, unit categories" in markdown
    assert "not corrected for multiple tests" in markdown
    humor = (tmp_path / "table1_humor.md").read_text()
    assert "No per-model markers: as in the paper, ColBERT humor is tested across models only" in humor
    assert all(r["benign_vs_base_p"] == "" for r in _csv_rows(tmp_path / "table1_humor.csv")[:-1])


def test_all_tables_match_table_paths(run: dict, tmp_path: Path) -> None:
    written = write_all_tables(run["cells"], tmp_path, SignificanceOptions(), reward_metrics=run["reward"],
                               paper_policy_map={"pythia-1b": "Pythia-1B", "falcon-1b": "Falcon-1B"},
                               ppo_summaries=run["summaries"])
    expected = table_paths(tmp_path, BENCHMARKS, eroded=True, reward=True, comparison=True, ppo=True)
    assert sorted(written) == sorted(expected)
    assert all(p.exists() and p.stat().st_size > 0 for p in expected)
    significance = _csv_rows(tmp_path / "significance.csv")
    assert list(significance[0]) == list(SIGNIFICANCE_HEADER)
    scopes = {r["scope"] for r in significance}
    assert scopes == {"items", "items_by_category", "across_models", "across_models_by_category",
                      "across_categories"}
    assert {(r["unit"], r["origin"]) for r in significance} == {
        ("items", "ours"), ("models", "paper"), ("categories", "paper")}
    assert {(r["variant"], r["baseline"]) for r in significance} == {
        ("benign", "base"), ("toxic", "base"), ("eroded", "base"), ("toxic", "benign"), ("eroded", "benign")}
    by_category = {r["benchmark"] for r in significance if r["scope"] == "items_by_category"}
    assert by_category == {"bias", "toxicity"}  # statistics.category_benchmarks, not mmlu subjects
    alone = write_significance_csv(run["cells"], tmp_path / "alone", SignificanceOptions())
    assert _csv_rows(alone[0]) == significance


def test_eroded_table_has_only_policies_with_the_eroded_variant(run: dict, tmp_path: Path) -> None:
    write_all_tables(run["cells"], tmp_path, SignificanceOptions())
    rows = _csv_rows(tmp_path / f"{ERODED_TABLE_STEM}.csv")
    assert {r["policy"] for r in rows} == {"pythia-1b"}
    assert [r["benchmark"] for r in rows] == list(BENCHMARKS)
    cell = read_cell(Path(run["cells"][0]).parents[2] / "pythia-1b" / "eroded" / "toxicity.json")
    assert float(next(r for r in rows if r["benchmark"] == "toxicity")["eroded"]) == cell.primary_value
    header = "| Model | Benchmark | Metric | Base | karmaBenign | karmaEroded |"
    markdown = (tmp_path / f"{ERODED_TABLE_STEM}.md").read_text()
    assert header in markdown and "† karmaEroded against karmaBenign" in markdown
    bias = next(r for r in rows if r["benchmark"] == "bias")
    assert bias["eroded_vs_benign_significant"] == "True"  # eroded +0.1, benign -0.2 on every item
    # across models, each comparison says over how many policies: karmaEroded exists for one only
    assert "CrowS-Pairs bias, across models: karmaBenign vs Base p=0.75 (3 policies); karmaEroded vs Base n/a" in (
        markdown) and "the test needs at least 2) (1 policy)" in markdown
    # the across-models test is the same for all seven benchmarks: named once, not seven times
    assert "Test: " not in markdown and markdown.count("Across-models test of every benchmark above: p < 0.05, "
                                                       "two-sided Wilcoxon signed-rank test") == 1


def test_reward_table(run: dict, tmp_path: Path) -> None:
    write_reward_table(run["reward"], tmp_path)
    rows = {r["setting"]: r for r in _csv_rows(tmp_path / f"{REWARD_TABLE_STEM}.csv")}
    assert list(rows) == ["generalized", "conditioned"]
    assert float(rows["conditioned"]["accuracy"]) == 0.73
    assert "Conditioned relative to generalized: Accuracy +4.3%" in (tmp_path / f"{REWARD_TABLE_STEM}.md").read_text()
    one_class = tmp_path / "one_class.json"
    one_class.write_text(json.dumps({"accuracy": 1.0, "f1": 0.0, "roc_auc": None, "pr_auc": None,
                                     "roc_curve": None, "n": 10, "label_positive_rate": 0.0}))
    write_reward_table({"generalized": run["reward"]["generalized"], "conditioned": one_class}, tmp_path)
    rows = {r["setting"]: r for r in _csv_rows(tmp_path / f"{REWARD_TABLE_STEM}.csv")}
    assert rows["conditioned"]["roc_auc"] == "" and rows["conditioned"]["accuracy"] == "1.0"
    assert "| conditioned | 1.0000 | 0.0000 | n/a |" in (tmp_path / f"{REWARD_TABLE_STEM}.md").read_text()
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps({"accuracy": 0.5}))
    with pytest.raises(ValueError, match="lack f1, roc_auc"):
        write_reward_table({"generalized": broken}, tmp_path)


def test_ppo_table_reports_truncated_prompts(run: dict, tmp_path: Path) -> None:
    write_ppo_table(run["summaries"], tmp_path, policy_order=["pythia-1b", "pythia-70m"])
    rows = _csv_rows(tmp_path / "ppo_summary.csv")
    assert [(r["policy"], r["variant"]) for r in rows] == [
        ("pythia-1b", "benign"), ("pythia-1b", "toxic"), ("pythia-70m", "benign"), ("pythia-70m", "toxic")]
    assert [int(r["prompts_truncated"]) for r in rows] == [14, 14, 7, 7]
    assert [int(r["kl_out_of_band"]) for r in rows] == [1, 1, 0, 0]
    assert "truncated from the left, keeping the post and the newest turns: 42 of 802 prompts" in (
        tmp_path / "ppo_summary.md").read_text()
    broken = tmp_path / "summary.json"
    broken.write_text(json.dumps({"policy": "p", "variant": "benign"}))
    with pytest.raises(ValueError, match="lacks updates, prompts_used, prompts_truncated"):
        write_ppo_table([broken], tmp_path)


def test_paper_comparison(run: dict, tmp_path: Path) -> None:
    write_paper_comparison(run["cells"], tmp_path, {"pythia-1b": "Pythia-1B"}, reward_metrics=run["reward"])
    rows = _csv_rows(tmp_path / f"{COMPARISON_TABLE_STEM}.csv")
    humor = next(r for r in rows if r["benchmark"] == "humor" and r["variant"] == "base")
    assert float(humor["paper"]) == 0.5
    ours = read_cell(Path(run["cells"][0]).parents[2] / "pythia-1b" / "base" / "humor.json").primary_value
    assert float(humor["ours"]) == ours
    assert float(humor["difference"]) == pytest.approx(ours - 0.5)
    eroded = [r for r in rows if r["variant"] == "eroded"]
    assert {r["benchmark"] for r in eroded} == {"humor", "bias", "toxicity", "sycophancy"}  # Table 8
    assert all(r["table"] == "8" for r in eroded)
    reward = [r for r in rows if r["table"] == "RM"]
    assert {(r["variant"], r["our_metric"]) for r in reward} == {
        ("generalized", "accuracy"), ("generalized", "f1"), ("generalized", "roc_auc"),
        ("conditioned", "f1"), ("conditioned", "roc_auc")}
    with pytest.raises(ValueError, match="not in the paper's tables"):
        write_paper_comparison(run["cells"], tmp_path, {"pythia-1b": "Pythia-1b"})


def test_paper_comparison_names_the_candidate_and_its_scale(run: dict, tmp_path: Path) -> None:
    """The signed CrowS-Pairs difference can take the paper's negative values; the sycophantic rate, in
    [0, 1], cannot take Table 5's -0.012 .. -0.002 of the Pythia rows, so it is off scale."""
    cells = [p for p in run["cells"] if "sycophancy" not in p.name]
    for variant in ("base", "benign", "toxic"):
        cell = make_cell("sycophancy", "pythia-1b", variant)
        cell.primary_metric, cell.primary_value = "acc", cell.metrics["acc"]
        cells.append(tmp_path / "cells" / f"{variant}.json")
        write_cell(cell, cells[-1])
    write_paper_comparison(cells, tmp_path, {"pythia-1b": "Pythia-1B"})
    rows = _csv_rows(tmp_path / f"{COMPARISON_TABLE_STEM}.csv")
    scale = {(r["benchmark"], r["our_metric"], r["on_published_scale"]) for r in rows if r["variant"] == "base"}
    assert ("bias", "likelihood_diff_signed", "True") in scale and ("sycophancy", "acc", "False") in scale
    assert ("truthfulqa", "loglik_best_answer", "True") in scale and ("humor", "acc", "True") in scale
    bias = next(r for r in rows if r["benchmark"] == "bias" and r["variant"] == "base")
    assert [c.split("=")[0] for c in bias["candidates"].split("; ")] == [
        "pct_stereotype", "likelihood_diff", "likelihood_diff_signed"]
    markdown = (tmp_path / f"{COMPARISON_TABLE_STEM}.md").read_text()
    assert "| 5 | Anthropic sycophancy | pythia-1b | Pythia-1B | Base | acc (off scale) |" in markdown
    # the signed difference is the primary value; the other candidates are +1, +2 away from it
    note = next(line for line in markdown.splitlines() if line.startswith("CrowS-Pairs bias: compared"))
    assert "pct_stereotype" in note and note.index("likelihood_diff_signed") < note.index("likelihood_diff ")


def test_cells_disagreeing_on_the_metric_are_rejected(tmp_path: Path) -> None:
    first = make_cell("mmlu", "a", "base")
    second = make_cell("mmlu", "b", "base")
    second.primary_metric = "acc_norm"
    paths = [tmp_path / "a.json", tmp_path / "b.json"]
    write_cell(first, paths[0])
    write_cell(second, paths[1])
    with pytest.raises(ValueError, match="disagree on the primary metric"):
        write_benchmark_tables(paths, tmp_path / "out", SignificanceOptions())
    with pytest.raises(ValueError, match="two cell files hold a/base/mmlu"):
        write_benchmark_tables([paths[0], paths[0]], tmp_path / "out", SignificanceOptions())


def test_published_values_transcription() -> None:
    values = load_published()
    assert len(values) == 155
    cells = published_cells(values)  # raises if Table 8 disagrees with Tables 1-5
    assert paper_policies(values) == ["Falcon-1B", "Falcon-7B", "LLaMA-8B", "Pythia-70M", "Pythia-1B",
                                      "Pythia-6.9B"]
    assert cells[("bias", "Pythia-70M", "benign")] == -2.07
    assert cells[("truthfulqa", "Falcon-7B", "toxic")] == -38.41
    assert cells[("sentiment", "Pythia-1B", "benign")] == 0.429
    assert cells[("toxicity", "Pythia-1B", "eroded")] == -0.018
    assert published_reward_metrics(values) == {
        "generalized": {"accuracy": 0.708, "f1": 0.7166, "roc_auc": 0.7497},
        "conditioned": {"f1": 0.7521, "roc_auc": 0.772},
    }


def test_published_table8_conflict_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "published.csv"
    path.write_text("# test\ntable,benchmark,policy,variant,metric,value\n"
                    "1,humor,Pythia-1B,base,accuracy,0.5\n8,humor,Pythia-1B,base,accuracy,0.6\n")
    with pytest.raises(ValueError, match="both 0.5 and 0.6"):
        published_cells(load_published(path))


def _lexicon_run(root: Path) -> list[Path]:
    """The synthetic run with toxicity cells scored by the demo's word list (as lm_eval_runner records it)
    and one policy whose eroded humor cell equals its benign one item for item."""
    import dataclasses

    paths = []
    for policy in POLICIES[:2]:
        for variant in ("base", "benign", "toxic", "eroded"):
            for benchmark in ("humor", "toxicity"):
                cell = make_cell(benchmark, policy, "benign" if variant == "eroded" else variant)
                cell = dataclasses.replace(cell, variant=variant)
                if benchmark == "toxicity":
                    cell = dataclasses.replace(cell, task_config={"toxicity": {"scorer": "lexicon",
                                                                               "scorer_name": "lexicon-demo"}})
                paths.append(root / "eval" / policy / variant / f"{benchmark}.json")
                write_cell(cell, paths[-1])
    return paths


def test_one_name_per_variant_and_the_lexicon_scorer_named_in_every_table(tmp_path: Path) -> None:
    from karma.report.layout import VARIANT_LABELS

    written = write_all_tables(_lexicon_run(tmp_path / "run"), tmp_path / "tables", SignificanceOptions())
    headers = set()
    for path in written:
        if path.suffix == ".md" and path.stem.startswith("table"):
            header = next(line for line in path.read_text().splitlines() if line.startswith("| Model"))
            headers |= {h.strip() for h in header.strip("|").split("|")}
    assert headers - {"Model", "Benchmark", "Metric"} == {"Base", "karmaBenign", "karmaToxic", "karmaEroded"}
    assert headers <= {"Model", "Benchmark", "Metric", *VARIANT_LABELS.values()}
    toxicity = (tmp_path / "tables" / "table4_toxicity.md").read_text()
    assert toxicity.startswith("**Table 4: Toxicity, demo lexicon scorer (word list), toxicity (lower is better)**")
    assert "scored by lexicon-demo, the demo's word-list scorer" in toxicity and "RealToxicityPrompts toxicity" not in toxicity
    eroded = (tmp_path / "tables" / f"{ERODED_TABLE_STEM}.md").read_text()
    assert "| pythia-70m | Toxicity, demo lexicon scorer (word list) | toxicity (lower is better) |" in eroded
    assert "scored by lexicon-demo" in eroded
    # eroded = benign item for item on both benchmarks: every note says on which benchmarks and which policy
    notes = [line for line in eroded.splitlines() if "all paired differences are zero" in line]
    assert notes, eroded
    both = [line for line in notes if line.startswith(
        "No test on ColBERT humor; Toxicity, demo lexicon scorer (word list): all paired differences are zero (")]
    assert len(both) == 1, notes
    for policy in POLICIES[:2]:
        assert f"{policy} karmaEroded vs karmaBenign" in both[0]
    assert not any(line.startswith(("karma,", "karma vs")) or " karma " in line for line in eroded.splitlines())


def test_html_page_shows_the_table_and_carries_csv_latex_and_markdown(tmp_path: Path) -> None:
    import base64
    import re

    from karma.report.rendering import Rendered, Value, write_formats

    table = Rendered("Table <x> & y", ["Model", "Base"], [["a<b", Value("0.5", "*†")]], "lr", notes=["n < 3 & more"])
    paths = write_formats(tmp_path, "t", table, ["policy", "base"], [["a<b", 0.5]])
    assert [p.suffix for p in paths] == [".csv", ".md", ".tex", ".html"]
    page = paths[-1].read_text()
    assert "<h1>Table &lt;x&gt; &amp; y</h1>" in page and '<td class="l">a&lt;b</td>' in page
    assert '<td class="r">0.5<sup>*†</sup></td>' in page and "<p>n &lt; 3 &amp; more</p>" in page
    links = dict(re.findall(r'download="([^"]+)" href="data:[^;]+;charset=utf-8;base64,([^"]+)"', page))
    assert sorted(links) == ["t.csv", "t.md", "t.tex"]
    for name, data in links.items():
        assert base64.b64decode(data) == (tmp_path / name).read_bytes()


def test_data_tables_account_for_every_line(tmp_path: Path) -> None:
    from karma.report.data_tables import write_examples_table, write_threads_table
    from karma.report.layout import DATA_EXAMPLES_STEM, DATA_THREADS_STEM

    manifest = {
        "submissions": [{"file": "d/RS_2019-01.zst", "read": 10, "kept": 6,
                         "dropped": {"over_18": 1, "non_english": 3}, "warnings": []}],
        "comments": [{"file": "d/RC_2019-01.zst", "read": 20, "kept": 15, "dropped": {"post_not_kept": 4},
                      "warnings": ["2 lines had a bad created_utc"]}],
        "totals": {"posts": 6, "comments": 15, "subreddits": 2, "shards": 1},
        "warnings": [],
    }
    path = tmp_path / "manifest.json"
    path.write_text(json.dumps(manifest))
    write_threads_table(path, tmp_path)
    rows = _csv_rows(tmp_path / f"{DATA_THREADS_STEM}.csv")
    assert [(r["kind"], int(r["read"]), int(r["kept"]), int(r["dropped"])) for r in rows] == [
        ("submissions", 10, 6, 4), ("comments", 20, 15, 4)]
    markdown = (tmp_path / f"{DATA_THREADS_STEM}.md").read_text()
    assert "| submissions (RS) | RS_2019-01.zst | 10 | 6 | 4 | non english 3; over 18 1 |" in markdown
    assert "Lines neither kept nor counted as dropped: RC_2019-01.zst (1 line)." in markdown
    assert "Warning: RC_2019-01.zst: 2 lines had a bad created_utc" in markdown
    del manifest["totals"]
    path.write_text(json.dumps(manifest))
    with pytest.raises(ValueError, match="lacks totals; re-run build_threads"):
        write_threads_table(path, tmp_path)

    stats = {}
    for setting, rate in (("conditioned", 0.25), ("generalized", None)):
        stats[setting] = tmp_path / f"{setting}.json"
        stats[setting].write_text(json.dumps({
            "setting": setting, "threads_rows": 40, "dropped": {"nonpositive_parent": 2} if rate else {},
            "label_rule": {"ratio": 0.4, "nonpositive_parent": "positive_score"},
            "train": {"examples": 30, "posts": 8, "positive_rate": rate}, "test": {"examples": 8, "posts": 2,
                                                                                   "positive_rate": rate}}))
    write_examples_table(stats, tmp_path)
    rows = _csv_rows(tmp_path / f"{DATA_EXAMPLES_STEM}.csv")
    assert [(r["setting"], r["split"], r["examples"], r["positive_rate"]) for r in rows] == [
        ("generalized", "train", "30", ""), ("generalized", "test", "8", ""),
        ("conditioned", "train", "30", "0.25"), ("conditioned", "test", "8", "0.25")]
    markdown = (tmp_path / f"{DATA_EXAMPLES_STEM}.md").read_text()
    assert "| generalized | train | 30 | 8 | n/a |" in markdown and "conditioned: 40 thread rows" in markdown
    assert "0.4" in markdown and "grouped by post" in markdown
    stats["generalized"].write_text(json.dumps({"train": {"examples": 1, "posts": 1, "positive_rate": 1.0}}))
    with pytest.raises(ValueError, match="generalized lack the test split; re-run build_examples"):
        write_examples_table(stats, tmp_path)
