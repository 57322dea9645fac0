"""The whole demo DAG, shrunk, through Snakemake: data -> reward -> PPO -> cells -> tables -> report."""

import csv
import json
import re
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from workflow_runner import planned_jobs, snakemake

from karma.evaluation.cells import read_cell

SMALL = """\
run: e2e
demo: {n_posts: 300}
reddit: {max_posts: 200, shards: 2}
reward:
  training: {epochs: 1, max_length: 128}
prompts:
  heldout: {reddit: 12, ultrachat: 6}
ppo:
  ppo: {total_episodes: 16, batch_size: 8, mini_batch_size: 4, micro_batch_size: 4, kl_horizon: 40}
benchmarks:
  limits: {humor: 6, sentiment: 6, toxicity: 4, bias: 6, sycophancy: 3, truthfulqa: 5, mmlu: 6}
  toxicity: {continuations_per_prompt: 2}
  reward: {samples_per_prompt: 2}
"""
POLICIES = {"tiny-pythia", "tiny-falcon", "tiny-llama"}
BENCHMARKS = ["humor", "sentiment", "toxicity", "bias", "sycophancy", "truthfulqa", "mmlu"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("demo")
    (workdir / "small.yaml").write_text(SMALL)
    result = snakemake(workdir)
    assert result.returncode == 0, result.stderr[-4000:]
    return workdir


def test_every_cell_of_every_policy_and_variant(demo):
    cells = sorted((demo / "results/e2e/eval").glob("*/*/*.json"))
    pairs = {(c.parent.parent.name, c.parent.name) for c in cells}
    expected = {(p, v) for p in POLICIES for v in ("base", "benign", "toxic")}
    expected |= {("tiny-pythia", "eroded"), ("tiny-falcon", "eroded")}
    expected |= {(p, "control") for p in POLICIES}  # the negative control: permuted-label reward model
    assert pairs == expected
    assert len(cells) == len(expected) * (len(BENCHMARKS) + 1)  # + the karma reward on held-out prompts
    humor = read_cell(demo / "results/e2e/eval/tiny-pythia/benign/humor.json")
    assert humor.n == 6 and humor.primary_value == pytest.approx(
        sum(i.score for i in humor.items) / humor.n)


def test_reward_models_and_ppo_logs(demo):
    for setting in ("generalized", "conditioned"):
        metrics = json.loads((demo / f"results/e2e/reward/{setting}/metrics.json").read_text())
        assert 0.0 <= metrics["roc_auc"] <= 1.0 and metrics["n"] > 0
        assert list((demo / f"results/e2e/reward/{setting}/model").glob("*.safetensors"))
    rows = [json.loads(line) for line in
            (demo / "results/e2e/policy/tiny-falcon/toxic/train_log.jsonl").read_text().splitlines()]
    assert [r["update"] for r in rows] == [1, 2]
    assert all({"mean_reward", "kl", "entropy", "clip_fraction", "value_loss"} <= r.keys()
               for r in rows)


def test_cells_report_the_configured_metrics_and_keep_every_candidate(demo):
    from karma.evaluation.benchmark_metrics import score_names

    primary = {"bias": "likelihood_diff_signed", "sycophancy": "logprob_margin", "truthfulqa": "loglik_best_answer",
               "humor": "acc", "mmlu": "acc"}
    for benchmark, metric in primary.items():
        cell = read_cell(demo / f"results/e2e/eval/tiny-falcon/benign/{benchmark}.json")
        assert cell.primary_metric == metric and set(cell.metrics) == set(score_names(benchmark))


def test_significance_has_the_papers_comparisons_and_units(demo):
    with (demo / "results/e2e/tables/significance.csv").open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    pairs = {(r["variant"], r["baseline"]) for r in rows}
    assert {("benign", "base"), ("toxic", "base"), ("eroded", "base"), ("toxic", "benign"),
            ("eroded", "benign")} <= pairs
    assert {r["unit"] for r in rows} == {"items", "models", "categories"}
    across = [r for r in rows
              if r["scope"] == "across_models" and (r["variant"], r["baseline"]) == ("toxic", "benign")]
    assert {r["benchmark"] for r in across} == {*BENCHMARKS, "reward"} and all(r["n"] == "3" for r in across)


def test_eroded_prompts_carry_sampled_metadata_and_ppo_reports_truncation(demo):
    prompts = pq.read_table(demo / "results/e2e/data/prompts/ultrachat.sampled_metadata.parquet").to_pylist()
    assert prompts and all(p["subreddit"] and p["created_utc"] for p in prompts)
    for policy, variant in (("tiny-falcon", "eroded"), ("tiny-pythia", "toxic")):
        summary = json.loads((demo / f"results/e2e/policy/{policy}/{variant}/summary.json").read_text())
        assert summary["prompts_truncated"] >= 0 and summary["prompts_used"] > 0
    with (demo / "results/e2e/tables/ppo_summary.csv").open(newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 11


def test_tables_figures_and_report(demo):
    tables = demo / "results/e2e/tables"
    for stem in ("table1_humor", "table4_toxicity", "table7_mmlu", "table8_eroded", "reward_model", "ppo_summary",
                 "karma_reward"):
        for fmt in ("csv", "md", "tex"):
            assert (tables / f"{stem}.{fmt}").stat().st_size > 0
    figures = demo / "results/e2e/figures"
    assert {p.name for p in figures.glob("*.png")} == {
        "figure2_crows_pairs_shift.png", "figure3_toxicity_categories.png", "reward_roc.png",
        "ppo_training.png"}
    report = snakemake(demo, "--report", "results/e2e/report.html")
    assert report.returncode == 0, report.stderr[-2000:]
    html = (demo / "results/e2e/report.html").read_text()
    assert len(html) > 10_000
    check_report_entries(html, "results/e2e")


def check_report_entries(html: str, results: str) -> None:
    """One entry per table (its HTML page) and figure (its PNG) in its stage's category; no .md/.tex/.svg."""
    from karma.report.layout import COMPARISON_TABLE_STEM, REPORT_ENTRIES

    categories = json.loads(re.search(r"var categories = (\{.*?\});\n", html, flags=re.DOTALL).group(1))
    shown = {path: category for category, subcategories in categories.items()
             for paths in subcategories.values() for path in paths}
    assert {Path(p).suffix for p in shown} == {".html", ".png", ".csv"}
    expected = set(REPORT_ENTRIES) - {COMPARISON_TABLE_STEM}  # the demo maps no policy to the paper's
    assert sorted(Path(p).stem for p in shown) == sorted(expected)  # each once, none missing
    for path, category in shown.items():
        assert path.startswith(results) and category == REPORT_ENTRIES[Path(path).stem].category, path
    assert "Toxicity, demo lexicon scorer (word list)" in html
    assert "System Message" not in html  # docutils' warnings, rendered into the page


def test_model_directories_carry_cards_provenance_and_chat_templates(demo):
    results = demo / "results/e2e"
    model_dirs = [results / "reward/generalized/model", results / "policy/tiny-falcon/benign/model",
                  results / "policy/tiny-falcon/base/model", results / "models/tiny-falcon/init",
                  results / "models/tiny-falcon/pretrained"]
    for model_dir in model_dirs:
        assert (model_dir / "README.md").read_text().startswith("---\n"), model_dir
        provenance = json.loads((model_dir / "provenance.json").read_text())
        assert provenance["config"]["run"] == "e2e" and provenance["packages"]["transformers"]
    for policy_dir in model_dirs[1:3]:
        assert "<|assistant|>" in json.loads((policy_dir / "tokenizer_config.json").read_text()).get(
            "chat_template", "") or (policy_dir / "chat_template.jinja").is_file()
    card = (results / "reward/conditioned/model/README.md").read_text()
    assert "karma reward model (conditioned)" in card and "at least 0.4 times" in card
    log = (results / "logs/reward/generalized.log").read_text()
    assert "reward training: 100.0%" in log and "ETA" in log


def test_a_rerun_evaluation_writes_the_same_bytes_and_reruns_nothing_downstream(demo):
    cells = sorted((demo / "results/e2e/eval/tiny-falcon/benign").glob("*.json"))
    before = {cell.name: cell.read_bytes() for cell in cells}
    rerun = snakemake(demo, "--force", str(cells[0].relative_to(demo)))
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    assert "evaluate_policy" in rerun.stderr
    assert {cell.name: cell.read_bytes() for cell in cells} == before
    assert "cells: 100.0% (7 of 7 benchmarks)" in (
        demo / "results/e2e/logs/eval/tiny-falcon/benign.log").read_text()
    plan = snakemake(demo, "-n")
    assert plan.returncode == 0 and planned_jobs(plan.stdout) == set(), plan.stdout[-3000:]


def test_deleting_a_cell_reruns_only_its_evaluation(demo):
    cell = demo / "results/e2e/eval/tiny-llama/toxic/mmlu.json"
    cell.unlink()
    plan = snakemake(demo, "-n", str(cell.relative_to(demo)))
    assert planned_jobs(plan.stdout) == {"evaluate_policy"}, plan.stdout[-2000:]
    assert snakemake(demo, str(cell.relative_to(demo))).returncode == 0
    # benchmarks.limits.mmlu caps each lm-eval task, i.e. each MMLU subject (built-in mmlu_<subject>)
    subjects = sorted(p.name.removesuffix("_test.csv")
                      for p in (demo / "resources/demo/benchmarks/mmlu/test").glob("*_test.csv"))
    items = read_cell(cell).items
    assert len(subjects) > 1 and Counter(item.category for item in items) == {s: 6 for s in subjects}


def test_in_cell_mode_deleting_a_cell_reevaluates_exactly_that_cell(demo):
    """The paper's mode (benchmarks.job_per: cell), on the demo's outputs: one job, one cell."""
    (demo / "cells.yaml").write_text(SMALL + "  job_per: cell\n")
    cell = demo / "results/e2e/eval/tiny-pythia/eroded/bias.json"
    cell.unlink()
    target = str(cell.relative_to(demo))
    # mtime only: the cells on disk were written by the other rule, which is not a reason to redo them
    plan = snakemake(demo, "-n", target, "--rerun-triggers", "mtime", overrides="cells.yaml")
    assert plan.returncode == 0, plan.stderr[-2000:]
    # (the plan prints its job-stats table twice)
    assert set(re.findall(r"^(\w+)\s+(\d+)$", plan.stdout, flags=re.MULTILINE)) == {
        ("evaluate_cell", "1"), ("total", "1")}, plan.stdout[-2000:]
    run = snakemake(demo, target, "--rerun-triggers", "mtime", overrides="cells.yaml")
    assert run.returncode == 0, run.stderr[-2000:]
    assert read_cell(cell).n == 6 and read_cell(cell).benchmark == "bias"
