"""The report's registries: variant names, benchmark titles, the toxicity scorer, report entries."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from karma.report.layout import (
    DATA_CATEGORY,
    FIGURES_CATEGORY,
    REPORT_ENTRIES,
    SIGNIFICANCE_STEM,
    TABLE_NUMBERS,
    TABLES_CATEGORY,
    benchmark_table_stem,
    benchmark_title,
    figure_paths,
    ordered_variants,
    report_entry,
    report_title,
    table_paths,
    toxicity_scorer,
    toxicity_scorer_note,
    variant_label,
)

REPORT_CAPTIONS = Path(__file__).resolve().parents[2] / "workflow" / "report"


def _cell(benchmark: str, **toxicity: str) -> SimpleNamespace:
    return SimpleNamespace(benchmark=benchmark, task_config={"toxicity": toxicity} if toxicity else {})


def test_one_name_per_variant() -> None:
    assert [variant_label(v) for v in ("base", "benign", "toxic", "eroded")] == [
        "Base", "karmaBenign", "karmaToxic", "karmaEroded"]
    assert variant_label("control") == "control"  # unregistered: its config name, never a crash
    assert ordered_variants(["zeta", "eroded", "base", "alpha", "toxic"]) == ["base", "toxic", "eroded", "alpha", "zeta"]


def test_toxicity_names_its_scorer() -> None:
    cells = [_cell("humor"), _cell("toxicity", scorer_name="lexicon-demo")]
    assert toxicity_scorer(cells) == "lexicon-demo"
    assert toxicity_scorer([_cell("humor")]) is None
    assert toxicity_scorer([_cell("toxicity", scorer="detoxify"), _cell("toxicity", scorer_name="lexicon-demo")]) == (
        "detoxify and lexicon-demo")
    lexicon = benchmark_title("toxicity", "lexicon-demo")
    assert "lexicon" in lexicon and "RealToxicityPrompts" not in lexicon
    assert benchmark_title("toxicity", "detoxify-original") == "RealToxicityPrompts toxicity (detoxify-original)"
    assert benchmark_title("toxicity") == "RealToxicityPrompts toxicity"
    assert benchmark_title("humor", "lexicon-demo") == "ColBERT humor"
    assert "not a toxicity classifier" in toxicity_scorer_note("lexicon-demo")
    assert toxicity_scorer_note("detoxify-original") is None and toxicity_scorer_note(None) is None


def test_one_report_entry_per_table_and_figure_each_with_a_caption() -> None:
    tables = table_paths("t", TABLE_NUMBERS, eroded=True, reward=True, comparison=True, ppo=True, data=True)
    figures = figure_paths("f", categories=True, roc=True, ppo=True)
    shown = [p for p in tables + figures if report_entry(p) is not None]
    stems = {p.stem for p in tables + figures}
    assert sorted(p.stem for p in shown) == sorted(stems)  # exactly one shown file per table or figure
    assert {p.suffix for p in shown} == {".html", ".png", ".csv"}
    assert [p for p in shown if p.suffix == ".csv"] == [Path("t") / f"{SIGNIFICANCE_STEM}.csv"]
    for path in tables + figures:
        if path.suffix in (".md", ".tex", ".svg") or (path.suffix == ".csv" and path.stem != SIGNIFICANCE_STEM):
            assert report_entry(path) is None, path  # a download inside the table's page, or a file beside it
    assert stems == set(REPORT_ENTRIES)  # nothing shown falls back to an unregistered entry
    for stem in REPORT_ENTRIES:
        assert (REPORT_CAPTIONS / f"{stem}.rst").is_file(), f"caption of {stem}"
    categories = {entry.category for entry in REPORT_ENTRIES.values()}
    assert len(categories) == 6 and "Other" not in categories
    assert sorted(categories)[0] == DATA_CATEGORY  # numbered: the report sorts categories by name


def test_report_titles_name_the_lexicon_scorer_and_unregistered_items_still_show() -> None:
    toxicity = Path("t") / f"{benchmark_table_stem('toxicity')}.html"
    assert report_title(toxicity, "lexicon") == "Table 4: Toxicity, demo lexicon scorer (word list)"
    assert report_title(toxicity, "detoxify") == "Table 4: RealToxicityPrompts toxicity (detoxify)"
    assert report_title("f/figure3_toxicity_categories.png", "lexicon").startswith("Figure 3: Toxicity, demo lexicon")
    assert report_title("t/table8_eroded.html") == "Table 8: karmaEroded against karmaBenign"
    new_table = report_entry("t/karma_reward.html")
    assert new_table is not None and new_table.category == TABLES_CATEGORY and new_table.title == "karma reward"
    assert report_entry("f/new_figure.png").category == FIGURES_CATEGORY
    assert report_entry("t/karma_reward.tex") is None
    with pytest.raises(ValueError, match="not shown in the report"):
        report_title("t/table1_humor.md")


@pytest.mark.parametrize("config_file", ["config.yaml", "paper.yaml"])
def test_captions_render_cleanly_for_demo_and_paper(config_file: str) -> None:
    """Every caption and workflow.rst, rendered as `snakemake --report` does (Jinja with trim_blocks and
    lstrip_blocks, then docutils), gives no docutils warning: a Jinja tag at the start of an indented
    line once broke workflow.rst's list into 'System Message: WARNING' blocks. Toxicity names the
    demo's lexicon scorer only under the demo config."""
    from types import SimpleNamespace

    import yaml
    from docutils.core import publish_parts
    from jinja2 import Environment, StrictUndefined

    config = yaml.safe_load((REPORT_CAPTIONS.parents[1] / "config" / config_file).read_text())
    env = Environment(trim_blocks=True, lstrip_blocks=True, undefined=StrictUndefined)
    rendered = {}
    for path in sorted(REPORT_CAPTIONS.glob("*.rst")):
        text = env.from_string(path.read_text()).render(snakemake=SimpleNamespace(config=config))
        parts = publish_parts(text, writer="html", settings_overrides={"report_level": 2, "halt_level": 5})
        assert "System Message" not in parts["html_body"], (path.name, parts["html_body"])
        rendered[path.stem] = text
    lexicon = config["benchmarks"]["toxicity"]["scorer"] == "lexicon"
    assert lexicon == (config_file == "config.yaml")
    for stem in ("table4_toxicity", "figure3_toxicity_categories"):
        assert ("lexicon scorer" in rendered[stem]) == lexicon, stem
    assert ("evaluate_cell" in rendered["workflow"]) == (config["benchmarks"]["job_per"] == "cell")
    assert ("offline demo" in rendered["workflow"]) == lexicon
