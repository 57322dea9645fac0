"""Names of the report's tables and figures, importable without scipy or matplotlib.

The Snakefile names a rule's outputs from these at parse time; importing the plotting modules there
would slow every ``snakemake -n``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from karma.evaluation.cells import KARMA_REWARD_BENCHMARK

TABLE_NUMBERS = {
    "humor": 1,
    "sentiment": 2,
    "bias": 3,
    "toxicity": 4,
    "sycophancy": 5,
    "truthfulqa": 6,
    "mmlu": 7,
}
BENCHMARK_TITLES = {
    "humor": "ColBERT humor",
    "sentiment": "MSAD sentiment",
    "bias": "CrowS-Pairs bias",
    "toxicity": "RealToxicityPrompts toxicity",
    "sycophancy": "Anthropic sycophancy",
    "truthfulqa": "TruthfulQA",
    "mmlu": "MMLU",
}
TABLE_FORMATS = ("csv", "md", "tex")
ERODED_TABLE_STEM = "table8_eroded"
REWARD_TABLE_STEM = "reward_model"
KARMA_REWARD_TABLE_STEM = "karma_reward"
PPO_TABLE_STEM = "ppo_summary"
COMPARISON_TABLE_STEM = "paper_comparison"
SIGNIFICANCE_STEM = "significance"

BIAS_FIGURE_STEM = "figure2_crows_pairs_shift"
TOXICITY_FIGURE_STEM = "figure3_toxicity_categories"
ROC_FIGURE_STEM = "reward_roc"
PPO_FIGURE_STEM = "ppo_training"
FIGURE_FORMATS = ("svg", "png")


def benchmark_table_stem(benchmark: str) -> str:
    """File stem of the paper table for ``benchmark``, e.g. ``table1_humor``."""
    if benchmark not in TABLE_NUMBERS:
        raise ValueError(
            f"benchmark {benchmark!r} has no table in the paper; known: {', '.join(TABLE_NUMBERS)}"
        )
    return f"table{TABLE_NUMBERS[benchmark]}_{benchmark}"


def ordered_benchmarks(benchmarks: Iterable[str]) -> list[str]:
    found = set(benchmarks)
    unknown = sorted(found - TABLE_NUMBERS.keys())
    if unknown:
        raise ValueError(
            f"benchmark(s) {', '.join(unknown)} have no table in the paper; known: {', '.join(TABLE_NUMBERS)}"
        )
    return [b for b in TABLE_NUMBERS if b in found]


def paper_benchmarks(benchmarks: Iterable[str]) -> list[str]:
    """The paper's benchmarks among ``benchmarks`` in table order; the karma reward (ours) has its own table."""
    return ordered_benchmarks(b for b in benchmarks if b != KARMA_REWARD_BENCHMARK)


def table_paths(
    out_dir: str | Path,
    benchmarks: Iterable[str],
    eroded: bool,
    reward: bool,
    comparison: bool,
    karma_reward: bool = False,
    ppo: bool = False,
) -> list[Path]:
    """Every file ``write_all_tables`` writes for these options, for a rule's ``output``."""
    out = Path(out_dir)
    stems = [benchmark_table_stem(b) for b in ordered_benchmarks(benchmarks)]
    optional = ((karma_reward, KARMA_REWARD_TABLE_STEM), (eroded, ERODED_TABLE_STEM), (reward, REWARD_TABLE_STEM),
                (ppo, PPO_TABLE_STEM), (comparison, COMPARISON_TABLE_STEM))
    stems += [stem for wanted, stem in optional if wanted]
    paths = [out / f"{stem}.{fmt}" for stem in stems for fmt in TABLE_FORMATS]
    return paths + [out / f"{SIGNIFICANCE_STEM}.csv"]


def figure_paths(out_dir: str | Path, categories: bool, roc: bool, ppo: bool) -> list[Path]:
    """Every file ``write_all_figures`` writes for these options, for a rule's ``output``."""
    optional = ((categories, BIAS_FIGURE_STEM), (categories, TOXICITY_FIGURE_STEM), (roc, ROC_FIGURE_STEM),
                (ppo, PPO_FIGURE_STEM))
    stems = [stem for wanted, stem in optional if wanted]
    return [Path(out_dir) / f"{stem}.{fmt}" for stem in stems for fmt in FIGURE_FORMATS]
