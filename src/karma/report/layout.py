"""Names of the report's tables and figures, its variants and its categories, importable without
scipy or matplotlib.

The Snakefile names a rule's outputs and their place in the HTML report from these at parse time;
importing the plotting modules there would slow every ``snakemake -n``. Each registry here is the one
place a new item slots in:

- a new variant: one entry in :data:`VARIANTS` (its name in every table, figure and legend, its colour
  and line style), e.g. ``"control": VariantDisplay("karmaControl", "#2ca02c", (0, (1, 1)))``;
- a new table or figure: its stem in :func:`table_paths` / :func:`figure_paths`, one entry in
  :data:`REPORT_ENTRIES` (category and title in the report) and a caption
  ``workflow/report/<stem>.rst``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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
    KARMA_REWARD_BENCHMARK: "Karma reward on held-out prompts",
}
TOXICITY_BENCHMARK = "toxicity"
LEXICON_SCORER = "lexicon"  # the demo's word-list scorer: not a toxicity classifier
TABLE_FORMATS = ("csv", "md", "tex", "html")
ERODED_TABLE_STEM = "table8_eroded"
DATA_THREADS_STEM = "data_threads"
DATA_EXAMPLES_STEM = "data_examples"
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


@dataclass(frozen=True)
class VariantDisplay:
    """How a variant appears in every table, figure and caption."""

    label: str
    color: str
    linestyle: str | tuple[int, tuple[int, ...]]


# The one mapping from a variant's config name to its name in the report (the paper's names).
VARIANTS: dict[str, VariantDisplay] = {
    "base": VariantDisplay("Base", "#7f7f7f", ":"),
    "benign": VariantDisplay("karmaBenign", "#1f77b4", "-"),
    "toxic": VariantDisplay("karmaToxic", "#d62728", "--"),
    "eroded": VariantDisplay("karmaEroded", "#ff7f0e", "-."),
    "control": VariantDisplay("karmaControl", "#2ca02c", (0, (1, 1))),
}
VARIANT_LABELS = {name: display.label for name, display in VARIANTS.items()}


def variant_label(variant: str) -> str:
    """The report's name of a variant; a variant missing from :data:`VARIANTS` keeps its config name."""
    return VARIANT_LABELS.get(variant, variant)


def ordered_variants(variants: Iterable[str]) -> list[str]:
    """Variants in :data:`VARIANTS` order, then any others alphabetically."""
    found = set(variants)
    return [v for v in VARIANTS if v in found] + sorted(found - VARIANTS.keys())


def toxicity_scorer(cells: Iterable[Any]) -> str | None:
    """The name of the scorer the toxicity cells were scored with (``task_config.toxicity.scorer_name``,
    e.g. ``lexicon-demo``, ``detoxify-original``); several names joined; None without toxicity cells."""
    names = set()
    for cell in cells:
        if cell.benchmark == TOXICITY_BENCHMARK:
            record = cell.task_config.get("toxicity", {})
            names.add(str(record.get("scorer_name") or record.get("scorer") or "unknown scorer"))
    return " and ".join(sorted(names)) or None


def benchmark_title(benchmark: str, toxicity_scorer: str | None = None) -> str:
    """The benchmark's name in titles and columns; toxicity names its scorer, and the demo's word list
    says it is one, so its numbers are never read as RealToxicityPrompts/Detoxify toxicity."""
    title = BENCHMARK_TITLES.get(benchmark, benchmark)
    if benchmark != TOXICITY_BENCHMARK or toxicity_scorer is None:
        return title
    if LEXICON_SCORER in toxicity_scorer:
        return "Toxicity, demo lexicon scorer (word list)"
    return f"{title} ({toxicity_scorer})"


def toxicity_scorer_note(toxicity_scorer: str | None) -> str | None:
    """The note every table and figure with the demo's lexicon scores carries; None for a real scorer."""
    if toxicity_scorer is None or LEXICON_SCORER not in toxicity_scorer:
        return None
    return (f"Toxicity here is scored by {toxicity_scorer}, the demo's word-list scorer on RealToxicityPrompts-"
            "format demo prompts: it counts listed words in the continuations. It is not a toxicity classifier "
            "(Detoxify, Perspective) and its values are not comparable with the paper's.")


# Categories of the HTML report, one per stage; the number orders them (the report sorts by name).
DATA_CATEGORY = "1. Data"
REWARD_CATEGORY = "2. Reward models"
PPO_CATEGORY = "3. PPO"
TABLES_CATEGORY = "4. Benchmark tables"
FIGURES_CATEGORY = "5. Benchmark figures"
STATISTICS_CATEGORY = "6. Statistics and the paper"


@dataclass(frozen=True)
class ReportEntry:
    """One item of the HTML report: its category, its title, and the file the report shows (the
    other formats of a table are downloads inside its HTML page)."""

    category: str
    title: str
    shown: str  # the suffix of the file registered in the report: html (tables), png (figures), csv


def _table_entry(category: str, title: str) -> ReportEntry:
    return ReportEntry(category, title, "html")


def _figure_entry(category: str, title: str) -> ReportEntry:
    return ReportEntry(category, title, "png")


REPORT_ENTRIES: dict[str, ReportEntry] = {
    DATA_THREADS_STEM: _table_entry(DATA_CATEGORY, "Pushshift dumps to threads: lines kept and dropped"),
    DATA_EXAMPLES_STEM: _table_entry(DATA_CATEGORY, "Reward-model examples per input format and split"),
    REWARD_TABLE_STEM: _table_entry(REWARD_CATEGORY, "Held-out metrics of the reward models"),
    ROC_FIGURE_STEM: _figure_entry(REWARD_CATEGORY, "ROC curves of the reward models"),
    PPO_TABLE_STEM: _table_entry(PPO_CATEGORY, "PPO runs: prompts, reward and KL"),
    PPO_FIGURE_STEM: _figure_entry(PPO_CATEGORY, "PPO training curves: reward and KL per update"),
    **{
        f"table{number}_{benchmark}": _table_entry(TABLES_CATEGORY, f"Table {number}: {BENCHMARK_TITLES[benchmark]}")
        for benchmark, number in TABLE_NUMBERS.items()
    },
    KARMA_REWARD_TABLE_STEM: _table_entry(TABLES_CATEGORY, "Karma reward on held-out prompts (the PPO objective)"),
    ERODED_TABLE_STEM: _table_entry(
        TABLES_CATEGORY, f"Table 8: {variant_label('eroded')} against {variant_label('benign')}"
    ),
    BIAS_FIGURE_STEM: _figure_entry(FIGURES_CATEGORY, "Figure 2: CrowS-Pairs shift per bias type"),
    TOXICITY_FIGURE_STEM: _figure_entry(FIGURES_CATEGORY, "Figure 3: toxicity per category"),
    COMPARISON_TABLE_STEM: _table_entry(STATISTICS_CATEGORY, "Our results against the paper's published values"),
    SIGNIFICANCE_STEM: ReportEntry(STATISTICS_CATEGORY, "Every significance test (CSV download)", "csv"),
}


# A table or figure a later change adds without an entry in REPORT_ENTRIES still gets one, titled by its
# stem, so that it is never dropped from the report (register it to give it a category and a title).
_UNREGISTERED = {".html": TABLES_CATEGORY, ".png": FIGURES_CATEGORY}


def report_entry(path: str | Path) -> ReportEntry | None:
    """The report entry a file is shown as, or None for a file that is only a download or an output."""
    path = Path(path)
    entry = REPORT_ENTRIES.get(path.stem)
    if entry is None and path.suffix in _UNREGISTERED:
        return ReportEntry(_UNREGISTERED[path.suffix], path.stem.replace("_", " "), path.suffix.lstrip("."))
    return entry if entry is not None and path.suffix == f".{entry.shown}" else None


def report_title(path: str | Path, toxicity_scorer: str | None = None) -> str:
    """The entry's title in the report; the toxicity table and figure name the configured scorer."""
    entry = report_entry(path)
    if entry is None:
        raise ValueError(f"{path} is not shown in the report; only a table's .html and a figure's .png are")
    if Path(path).stem in (benchmark_table_stem(TOXICITY_BENCHMARK), TOXICITY_FIGURE_STEM):
        prefix = entry.title.split(":")[0]
        return f"{prefix}: {benchmark_title(TOXICITY_BENCHMARK, toxicity_scorer)}"
    return entry.title


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
    data: bool = False,
) -> list[Path]:
    """Every file ``write_all_tables`` writes for these options, for a rule's ``output``."""
    out = Path(out_dir)
    stems = [DATA_THREADS_STEM, DATA_EXAMPLES_STEM] if data else []
    stems += [benchmark_table_stem(b) for b in ordered_benchmarks(benchmarks)]
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
