"""The offline demo's benchmark fixtures, written by the project in the real datasets' file schemas.

The demo cannot download benchmarks, and the real files must not be copied into the project, so this
module writes each benchmark's items (:mod:`karma.demo.benchmark_items`, in the demo corpus's own domain)
in the layout of the real file (ColBERT ``dataset.csv``, MSAD ``test_df.csv``, RealToxicityPrompts
``prompts.jsonl``, CrowS-Pairs ``crows_pairs_anonymized.csv``, TruthfulQA ``mc_task.json``, MMLU
per-subject CSVs in the original headerless A-D layout, Anthropic sycophancy JSONL). They are read
through the same loaders and lm-eval tasks as the real data. The texts are synthetic and say nothing
about any real population or fact; what each fixture measures in the demo, and what we predict for
each variant, is in ``docs/demo-data.md`` ("Benchmark fixtures").
"""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path
from typing import Any

from karma.demo.benchmark_items import (
    PlantedItem,
    crows_pairs_items,
    humor_items,
    mmlu_items,
    sentiment_items,
    sycophancy_items,
    toxicity_prompts,
    truthfulqa_items,
)
from karma.evaluation.benchmark_data import SYCOPHANCY_SUBSETS
from karma.evaluation.toxicity import LexiconScorer

log = logging.getLogger(__name__)

HUMOR_HEADER = ["text", "humor"]
SENTIMENT_HEADER = ["id", "text", "label", "sentiment"]
CROWS_HEADER = ["", "sent_more", "sent_less", "stereo_antistereo", "bias_type", "annotations", "anon_writer",
                "anon_annotators"]
FIXTURE_SEED = 0


def _write_csv(path: Path, header: list[str], items: list[PlantedItem], *, write_header: bool = True) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        if write_header:
            writer.writerow(header)
        writer.writerows([item.record[key] for key in header] for item in items)


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def _rtp_scores(text: str) -> dict[str, float]:
    """Attribute values in the RTP record layout, from the demo lexicon (real files hold Perspective
    scores; these fill the schema, and ``challenging`` follows the prompt's)."""
    scores = LexiconScorer().score([text])[0]
    return {
        "toxicity": scores["toxicity"], "severe_toxicity": scores["severe_toxicity"],
        "profanity": scores["obscene"], "sexually_explicit": 0.0, "identity_attack": scores["identity_attack"],
        "flirtation": 0.0, "threat": scores["threat"], "insult": scores["insult"],
    }


def rtp_rows(seed: int = FIXTURE_SEED) -> list[dict[str, Any]]:
    """The toxicity prompts as RealToxicityPrompts ``prompts.jsonl`` records."""
    rows = []
    for number, (item, continuation) in enumerate(toxicity_prompts(seed)):
        prompt_text = item.record["text"]
        prompt_scores = _rtp_scores(prompt_text)
        rows.append({
            "filename": f"{number:07d}-karma-demo.txt",
            "begin": 100 * number,
            "end": 100 * number + len(prompt_text) + len(continuation),
            "challenging": prompt_scores["toxicity"] >= 0.5,
            "prompt": {"text": prompt_text, **prompt_scores},
            "continuation": {"text": continuation, **_rtp_scores(continuation)},
        })
    return rows


def benchmark_fixture_paths(out_dir: str | Path) -> dict[str, Any]:
    """Where :func:`write_benchmark_fixtures` puts each fixture, in the form
    :func:`karma.evaluation.lm_eval_runner.benchmark_specs` takes (sycophancy maps subsets to files); MMLU is a
    folder of per-subject CSVs."""
    out = Path(out_dir)
    return {
        "humor": out / "colbert_humor" / "dataset.csv",
        "sentiment": out / "msad" / "test_df.csv",
        "toxicity": out / "realtoxicityprompts" / "prompts.jsonl",
        "bias": out / "crows_pairs" / "crows_pairs_anonymized.csv",
        "truthfulqa": out / "truthfulqa" / "mc_task.json",
        "mmlu": out / "mmlu" / "test",
        "sycophancy": {
            subset: out / "sycophancy" / f"sycophancy_on_{subset}.jsonl" for subset in SYCOPHANCY_SUBSETS
        },
    }


def write_benchmark_fixtures(out_dir: str | Path, seed: int = FIXTURE_SEED) -> dict[str, Any]:
    """Write the seven demo fixtures under ``out_dir`` (the same seed, the same bytes); returns
    :func:`benchmark_fixture_paths`."""
    paths = benchmark_fixture_paths(out_dir)
    _write_csv(paths["humor"], HUMOR_HEADER, humor_items(seed))
    _write_csv(paths["sentiment"], SENTIMENT_HEADER, sentiment_items(seed))
    _write_jsonl(paths["toxicity"], rtp_rows(seed))
    _write_csv(paths["bias"], CROWS_HEADER, crows_pairs_items(seed))
    paths["truthfulqa"].parent.mkdir(parents=True, exist_ok=True)
    paths["truthfulqa"].write_text(
        json.dumps([item.record for item in truthfulqa_items(seed)], indent=2), encoding="utf-8")
    for subject, items in mmlu_items(seed).items():
        _write_csv(paths["mmlu"] / f"{subject}_test.csv", ["question", "A", "B", "C", "D", "answer"], items,
                   write_header=False)
    for subset, items in sycophancy_items(seed).items():
        _write_jsonl(paths["sycophancy"][subset], [item.record for item in items])
    log.info("wrote demo benchmark fixtures for %d benchmarks under %s", len(paths), out_dir)
    return paths


def check_fixture_outputs(written: dict[str, Any], expected: list[str]) -> None:
    """The workflow names the fixture files in its config: they must be the ones written."""
    paths = set()
    for value in written.values():
        paths.update(map(str, value.values() if isinstance(value, dict) else [value]))
    missing = sorted(set(map(str, expected)) - paths)
    if missing:
        raise ValueError(
            f"config benchmarks.data names {missing}, which the fixture writer does not produce; "
            f"use the layout of karma.demo.benchmark_fixtures.benchmark_fixture_paths: {sorted(paths)}"
        )
