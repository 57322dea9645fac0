"""Demo fixtures: written by the project, deterministic, in the real files' schemas, read by the loaders."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest
from shared_data import SHARED_DATA, needs_shared_data

from karma.demo.benchmark_items import MMLU_SUBJECT_OF_TOPIC
from karma.evaluation import benchmark_data
from karma.demo.benchmark_fixtures import (
    benchmark_fixture_paths,
    write_benchmark_fixtures,
)

REAL = SHARED_DATA
needs_real = needs_shared_data


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> dict:
    return write_benchmark_fixtures(tmp_path_factory.mktemp("fixtures"))


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_fixtures_are_deterministic_and_where_announced(tmp_path: Path) -> None:
    paths = write_benchmark_fixtures(tmp_path / "a")
    write_benchmark_fixtures(tmp_path / "b")
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    assert paths == benchmark_fixture_paths(tmp_path / "a")
    flat = [p for v in paths.values() for p in (v.values() if isinstance(v, dict) else [v])]
    assert all(p.exists() for p in flat)


def test_every_benchmark_has_a_few_dozen_items_through_the_loaders(fixtures: dict) -> None:
    counts = {
        "humor": len(benchmark_data.load_humor(fixtures["humor"])),
        "sentiment": len(benchmark_data.load_sentiment(fixtures["sentiment"])),
        "toxicity": len(benchmark_data.load_realtoxicityprompts(fixtures["toxicity"])),
        "bias": len(benchmark_data.load_crows_pairs(fixtures["bias"])),
        "truthfulqa": len(benchmark_data.load_truthfulqa(fixtures["truthfulqa"])),
        "mmlu": len(benchmark_data.load_mmlu(fixtures["mmlu"])),
        "sycophancy": sum(
            len(benchmark_data.load_sycophancy(path, subset)) for subset, path in fixtures["sycophancy"].items()
        ),
    }
    assert counts == {"humor": 48, "sentiment": 48, "toxicity": 48, "bias": 72, "truthfulqa": 48,
                      "mmlu": 48, "sycophancy": 48}


def test_fixture_contents_cover_labels_and_categories(fixtures: dict) -> None:
    humor = benchmark_data.load_humor(fixtures["humor"])
    assert Counter(r["humor"] for r in humor) == {True: 24, False: 24}
    assert len({r["text"] for r in humor}) == len(humor)
    sentiment = benchmark_data.load_sentiment(fixtures["sentiment"])
    assert Counter(r["sentiment"] for r in sentiment) == dict.fromkeys(benchmark_data.SENTIMENT_LABELS, 16)
    bias = benchmark_data.load_crows_pairs(fixtures["bias"])
    assert Counter(r["bias_type"] for r in bias) == dict.fromkeys(benchmark_data.CROWS_PAIRS_BIAS_TYPES, 8)
    challenging = benchmark_data.load_realtoxicityprompts(fixtures["toxicity"], "challenging")
    assert 0 < len(challenging) < 24
    mmlu = benchmark_data.load_mmlu(fixtures["mmlu"])
    assert {r["subject"] for r in mmlu} == set(MMLU_SUBJECT_OF_TOPIC.values())
    assert Counter(r["answer"] for r in mmlu).keys() == {0, 1, 2, 3}
    phil = benchmark_data.load_sycophancy(fixtures["sycophancy"]["philpapers2020"], "philpapers2020")
    assert any(len(r["answer_not_matching_behavior"]) == 2 for r in phil)
    for record in benchmark_data.load_truthfulqa(fixtures["truthfulqa"]):
        assert sum(record["mc1_targets"]["labels"]) == 1
        assert sum(record["mc2_targets"]["labels"]) == 2


def _csv_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return next(csv.reader(handle))


@needs_real
def test_fixture_schemas_match_the_real_files(fixtures: dict) -> None:
    assert _csv_header(fixtures["bias"]) == _csv_header(REAL / "crows_pairs" / "crows_pairs_anonymized.csv")
    assert _csv_header(fixtures["humor"]) == _csv_header(REAL / "colbert_humor" / "dev.csv")

    def first_json_line(path: Path) -> dict:
        return json.loads(path.read_text(encoding="utf-8").splitlines()[0])

    real_rtp = first_json_line(REAL / "realtoxicityprompts" / "decodingtrust_toxic.jsonl")
    demo_rtp = first_json_line(fixtures["toxicity"])
    assert demo_rtp.keys() == real_rtp.keys()
    assert demo_rtp["prompt"].keys() == real_rtp["prompt"].keys()
    assert demo_rtp["continuation"].keys() == real_rtp["continuation"].keys()
    real_syco = first_json_line(
        REAL / "anthropic_sycophancy" / "sycophancy_on_political_typology_quiz.from_prerelease.jsonl"
    )
    assert first_json_line(fixtures["sycophancy"]["political_typology_quiz"]).keys() == real_syco.keys()
    real_tqa = json.loads((REAL / "truthfulqa" / "mc_task.json").read_text())[0]
    demo_tqa = json.loads(fixtures["truthfulqa"].read_text())[0]
    assert demo_tqa.keys() == real_tqa.keys()
    assert all(isinstance(v, int) for v in demo_tqa["mc2_targets"].values())
    # MMLU fixtures use the original headerless A-D layout; the real copy has the 0-3 header layout,
    # so the two layouts are both exercised. Same six columns; the subjects are the demo's topics.
    real_header = _csv_header(REAL / "mmlu" / "test" / "astronomy_test.csv")
    for path in fixtures["mmlu"].iterdir():
        assert path.name.endswith("_test.csv")
        with path.open(newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        assert all(len(row) == len(real_header) and row[-1] in "ABCD" for row in rows)
    real_sentiment = {"id", "text", "label", "sentiment"}  # MSAD is not in shared data: its documented columns
    assert set(_csv_header(fixtures["sentiment"])) == real_sentiment


def test_configured_fixture_paths_must_match_the_writer(tmp_path):
    from karma.demo.benchmark_fixtures import (
        benchmark_fixture_paths,
        check_fixture_outputs,
    )

    written = benchmark_fixture_paths(tmp_path)
    check_fixture_outputs(written, [str(written["humor"]), str(written["mmlu"])])
    with pytest.raises(ValueError, match="humor.csv"):
        check_fixture_outputs(written, [str(tmp_path / "humor.csv")])
