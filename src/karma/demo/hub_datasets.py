"""The paper config's hub datasets as the rehearsal's local hub serves them, from the demo's fixtures.

``config/paper.yaml`` fetches its benchmarks in two ways (``karma.hub_fetch``): a file of a dataset
repository copied as it is (ColBERT ``dataset.csv``, MSAD ``test_df.csv``, RealToxicityPrompts
``prompts.jsonl``), or one split of a dataset loaded with ``datasets`` and saved as Parquet (MMLU,
TruthfulQA, sycophancy, CrowS-Pairs). This module turns the demo's fixtures
(:mod:`karma.demo.benchmark_fixtures`, synthetic, the real files' schemas) into those hub shapes: the
files as they are, the splits as ``datasets.Dataset`` objects with the hub's features (MMLU's answer a
``ClassLabel`` A-D, TruthfulQA's targets ``{choices, labels}`` lists, philpapers2020's non-matching
answers a list, CrowS-Pairs' revised English table with ``stereo``/``antistereo`` spelled out and the
extra bias type ``autre``). UltraChat's ``train_sft`` split comes from the demo's UltraChat generator.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import datasets
import pyarrow.parquet as pq

from karma.demo.benchmark_fixtures import write_benchmark_fixtures
from karma.demo.ultrachat import write_demo_ultrachat

# Pairs relabelled "autre" in the revised CrowS-Pairs table: every ninth (the revised English file of
# Neveol et al. 2022, which lm-eval's crows_pairs_english reads, has a bias type beyond the original nine).
AUTRE_EVERY = 9


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _jsonl_rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _crows_pairs(fixtures: dict[str, Any]) -> datasets.Dataset:
    rows = [{"sent_more": row["sent_more"], "sent_less": row["sent_less"],
             "stereo_antistereo": row["stereo_antistereo"],
             "bias_type": "autre" if number % AUTRE_EVERY == AUTRE_EVERY - 1 else row["bias_type"]}
            for number, row in enumerate(_csv_rows(fixtures["bias"]))]
    return datasets.Dataset.from_list(rows)


def _truthfulqa(fixtures: dict[str, Any]) -> datasets.Dataset:
    targets = datasets.Features({"choices": datasets.Sequence(datasets.Value("string")),
                                 "labels": datasets.Sequence(datasets.Value("int32"))})
    features = datasets.Features({"question": datasets.Value("string"), "mc1_targets": targets,
                                  "mc2_targets": targets})
    rows = [{"question": item["question"],
             **{key: {"choices": list(item[key]), "labels": list(item[key].values())}
                for key in ("mc1_targets", "mc2_targets")}}
            for item in json.loads(fixtures["truthfulqa"].read_text(encoding="utf-8"))]
    return datasets.Dataset.from_list(rows, features=features)


def _mmlu(fixtures: dict[str, Any]) -> datasets.Dataset:
    features = datasets.Features({"question": datasets.Value("string"), "subject": datasets.Value("string"),
                                  "choices": datasets.Sequence(datasets.Value("string")),
                                  "answer": datasets.ClassLabel(names=["A", "B", "C", "D"])})
    rows = []
    for file in sorted(fixtures["mmlu"].glob("*_test.csv")):
        with file.open(newline="", encoding="utf-8") as handle:
            for question, *choices, answer in csv.reader(handle):
                rows.append({"question": question, "subject": file.stem.removesuffix("_test"),
                             "choices": choices, "answer": "ABCD".index(answer)})
    return datasets.Dataset.from_list(rows, features=features)


def _sycophancy(subset: str) -> Callable[[dict[str, Any]], datasets.Dataset]:
    return lambda fixtures: datasets.Dataset.from_list(_jsonl_rows(fixtures["sycophancy"][subset]))


# (repo, config) of a split source -> its dataset; file sources -> the fixture key of the file.
SPLITS: dict[tuple[str, str | None], Callable[[dict[str, Any]], datasets.Dataset]] = {
    ("jannalu/crows_pairs_multilingual", "english"): _crows_pairs,
    ("truthfulqa/truthful_qa", "multiple_choice"): _truthfulqa,
    ("cais/mmlu", "all"): _mmlu,
    ("EleutherAI/sycophancy", "sycophancy_on_nlp_survey"): _sycophancy("nlp_survey"),
    ("EleutherAI/sycophancy", "sycophancy_on_philpapers2020"): _sycophancy("philpapers2020"),
    ("EleutherAI/sycophancy", "sycophancy_on_political_typology_quiz"): _sycophancy("political_typology_quiz"),
}
FILES: dict[tuple[str, str], str] = {
    ("CreativeLang/ColBERT_Humor_Detection", "dataset.csv"): "humor",
    ("Sp1786/multiclass-sentiment-analysis-dataset", "test_df.csv"): "sentiment",
    ("allenai/real-toxicity-prompts", "prompts.jsonl"): "toxicity",
}


class HubDatasets:
    """The datasets of the rehearsal's local hub, built from the demo fixtures written to ``work_dir``."""

    def __init__(self, work_dir: str | Path, *, seed: int, n_ultrachat: int) -> None:
        work_dir = Path(work_dir)
        self._fixtures = write_benchmark_fixtures(work_dir / "fixtures")
        self._ultrachat = work_dir / "ultrachat" / "train_sft.parquet"
        write_demo_ultrachat(self._ultrachat, seed=seed, n_prompts=n_ultrachat)

    def file(self, repo: str, filename: str) -> Path:
        if (repo, filename) not in FILES:
            raise ValueError(f"the rehearsal's hub has no file {filename!r} in dataset {repo!r}; it has "
                             f"{sorted(FILES)} (karma.demo.hub_datasets.FILES)")
        return Path(self._fixtures[FILES[repo, filename]])

    def split(self, repo: str, config_name: str | None, split: str) -> datasets.Dataset:
        if (repo, config_name) == ("HuggingFaceH4/ultrachat_200k", None) and split == "train_sft":
            # in memory: Dataset.from_parquet would fill the datasets cache under HF_HOME
            return datasets.Dataset.from_list(pq.read_table(self._ultrachat).to_pylist())
        if (repo, config_name) not in SPLITS:
            raise ValueError(f"the rehearsal's hub has no config {config_name!r} of dataset {repo!r}; it has "
                             f"{sorted(SPLITS, key=str)} (karma.demo.hub_datasets.SPLITS)")
        return SPLITS[repo, config_name](self._fixtures)
