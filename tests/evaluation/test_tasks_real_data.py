"""The real benchmark files in /work/shared/data, read through the project's loaders and lm-eval tasks.

Checks item counts and fields, that the karma tasks build the same prompts, choices, targets and
per-item metrics as lm-eval's built-in tasks they mirror, and that each loader gives the same records
for every published layout of its benchmark.
"""

from __future__ import annotations

import csv
import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import datasets  # noqa: E402
import lm_eval.tasks  # noqa: E402
import pyarrow as pa  # noqa: E402
import pyarrow.parquet as pq  # noqa: E402
import pytest  # noqa: E402
from lm_eval.api.task import ConfigurableTask  # noqa: E402
from lm_eval.tasks._yaml_loader import load_yaml  # noqa: E402
from shared_data import SHARED_DATA, needs_shared_data

from karma.evaluation import benchmark_data  # noqa: E402
from karma.evaluation.lm_eval_runner import make_task_manager  # noqa: E402

REAL = SHARED_DATA
pytestmark = needs_shared_data

CROWS = REAL / "crows_pairs" / "crows_pairs_anonymized.csv"
TRUTHFULQA = REAL / "truthfulqa" / "mc_task.json"
HUMOR = REAL / "colbert_humor" / "dev.csv"
MMLU_TEST = REAL / "mmlu" / "test"
SYCOPHANCY = REAL / "anthropic_sycophancy" / "sycophancy_on_political_typology_quiz.from_prerelease.jsonl"
RTP_TOXIC = REAL / "realtoxicityprompts" / "decodingtrust_toxic.jsonl"
RTP_NONTOXIC = REAL / "realtoxicityprompts" / "decodingtrust_nontoxic.jsonl"
BUILTIN = Path(lm_eval.tasks.__file__).parent


@pytest.fixture(scope="module")
def tasks() -> dict[str, Any]:
    """The karma tasks, built by name from the limited task index with the real files as metadata."""
    manager = make_task_manager(
        {
            "crows_pairs_data": str(CROWS),
            "truthfulqa_data": str(TRUTHFULQA),
            "humor_data": str(HUMOR),
            "mmlu_data": str(MMLU_TEST),
            "sycophancy_political_typology_quiz_data": str(SYCOPHANCY),
            "toxicity_data": str(RTP_NONTOXIC),
            "toxicity_prompt_subset": "challenging",
        }
    )
    names = ["karma_crows_pairs_english", "karma_truthfulqa_mc1", "karma_truthfulqa_mc2", "karma_humor",
             "karma_mmlu", "karma_sycophancy_on_political_typology_quiz", "karma_toxicity"]
    return manager.load(names)["tasks"]


def test_item_counts_through_the_tasks(tasks: dict[str, Any]) -> None:
    counts = {name: len(task.eval_docs) for name, task in tasks.items()}
    assert counts == {
        "karma_crows_pairs_english": 1508,
        "karma_truthfulqa_mc1": 817,
        "karma_truthfulqa_mc2": 817,
        "karma_humor": 40000,
        "karma_mmlu": 14042,
        "karma_sycophancy_on_political_typology_quiz": 10200,
        "karma_toxicity": 4,  # the challenging prompts among DecodingTrust's non-toxic sample
    }


def test_fields_and_categories_through_the_tasks(tasks: dict[str, Any]) -> None:
    crows = tasks["karma_crows_pairs_english"].eval_docs
    assert Counter(crows["bias_type"]).keys() == set(benchmark_data.CROWS_PAIRS_BIAS_TYPES)  # original release
    assert crows[0]["item_id"] == "0" and crows[1507]["item_id"] == "1507"
    assert len(set(crows["item_id"])) == 1508
    humor = tasks["karma_humor"].eval_docs
    assert Counter(humor["humor"]) == {True: 20082, False: 19918}
    mmlu = tasks["karma_mmlu"].eval_docs
    assert len(set(mmlu["subject"])) == 57
    assert Counter(mmlu["subject"])["high_school_psychology"] == 545
    assert mmlu[0]["item_id"] == "abstract_algebra:0" and len(mmlu[0]["choices"]) == 4
    assert set(mmlu["answer"]) == {0, 1, 2, 3}
    assert len(set(mmlu["item_id"])) == 14042
    tqa = tasks["karma_truthfulqa_mc2"].eval_docs[0]
    assert tqa["question"] == "What happens if you eat a pomegranate?"
    assert tqa["mc2_targets"]["labels"] == [1, 1, 1, 0, 0, 0]
    syco = tasks["karma_sycophancy_on_political_typology_quiz"].eval_docs
    assert syco[0]["item_id"] == "political_typology_quiz:0"
    assert syco[0]["answer_matching_behavior"] == " (B)" and syco[0]["answer_not_matching_behavior"] == [" (A)"]
    assert all(doc["challenging"] for doc in tasks["karma_toxicity"].eval_docs)


def test_toxicity_prompt_subsets() -> None:
    toxic = benchmark_data.load_realtoxicityprompts(RTP_TOXIC)
    assert len(toxic) == 1196
    assert len(benchmark_data.load_realtoxicityprompts(RTP_TOXIC, "challenging")) == 1196
    assert len(benchmark_data.load_realtoxicityprompts(RTP_NONTOXIC)) == 1200
    assert toxic[0]["prompt"]["text"].startswith("People think that we")


def _builtin(relative: str, split: str, records: list[dict[str, Any]], extra: dict | None = None) -> Any:
    """lm-eval's own task from its YAML, fed ``records`` instead of its hub dataset."""
    cfg = load_yaml(BUILTIN / relative, resolve_func=True)
    splits = {split: datasets.Dataset.from_list(records)} | (extra or {})
    cfg["custom_dataset"] = lambda **_: datasets.DatasetDict(splits)
    return ConfigurableTask(config=cfg)


def _assert_same_requests(builtin: Any, ours: Any, n: int = 12) -> None:
    for theirs_doc, our_doc in zip(list(builtin.eval_docs)[:n], list(ours.eval_docs)[:n], strict=True):
        assert ours.fewshot_context(doc=our_doc, num_fewshot=0) == builtin.fewshot_context(
            doc=theirs_doc, num_fewshot=0
        )
        assert ours.doc_to_choice(our_doc) == builtin.doc_to_choice(theirs_doc)
        assert ours.doc_to_target(our_doc) == builtin.doc_to_target(theirs_doc)
        assert ours.config.target_delimiter == builtin.config.target_delimiter


def test_crows_pairs_mirrors_builtin(tasks: dict[str, Any]) -> None:
    ours = tasks["karma_crows_pairs_english"]
    builtin = _builtin("crows_pairs/crows_pairs_english.yaml", "test", list(ours.eval_docs))
    _assert_same_requests(builtin, ours)
    doc = ours.eval_docs[0]
    for results in ([(-12.5, False), (-14.0, False)], [(-20.0, False), (-3.25, False)]):
        theirs = builtin.process_results(doc, results)
        mine = ours.process_results(doc, results)
        assert {key: mine[key] for key in theirs} == theirs
        assert mine["likelihood_diff_signed"] == results[0][0] - results[1][0]


def test_truthfulqa_mirrors_builtin(tasks: dict[str, Any]) -> None:
    for variant in ("mc1", "mc2"):
        ours = tasks[f"karma_truthfulqa_{variant}"]
        builtin = _builtin(f"truthfulqa/truthfulqa_{variant}.yaml", "validation", list(ours.eval_docs))
        _assert_same_requests(builtin, ours)
    doc = tasks["karma_truthfulqa_mc2"].eval_docs[0]
    results = [(-float(k), False) for k in range(len(doc["mc2_targets"]["choices"]))]
    mine = tasks["karma_truthfulqa_mc2"].process_results(doc, results)["acc"]
    assert mine == pytest.approx(builtin.process_results(doc, results)["acc"], rel=1e-12)
    mc1 = tasks["karma_truthfulqa_mc1"]
    builtin = _builtin("truthfulqa/truthfulqa_mc1.yaml", "validation", list(mc1.eval_docs))
    for doc in list(mc1.eval_docs)[:12]:
        n = len(doc["mc1_targets"]["choices"])
        for results in ([(-float(k), False) for k in range(n)], [(-float(n - k), False) for k in range(n)]):
            mine = mc1.process_results(doc, results)
            assert mine["acc"] == builtin.process_results(doc, results)["acc"]
            assert mine["loglik_best_answer"] == results[doc["mc1_targets"]["labels"].index(1)][0]


def test_mmlu_mirrors_builtin_subject_tasks(tasks: dict[str, Any]) -> None:
    """Our one task renders each item with its own subject, as the built-in per-subject tasks do."""
    ours = tasks["karma_mmlu"]
    dev = datasets.Dataset.from_list(benchmark_data.load_mmlu(REAL / "mmlu" / "dev"))
    for subject in ("anatomy", "high_school_us_history"):
        docs = [doc for doc in ours.eval_docs if doc["subject"] == subject]
        builtin = _builtin(f"mmlu/default/mmlu_{subject}.yaml", "test", docs, {"dev": dev})
        for theirs_doc, our_doc in zip(list(builtin.eval_docs)[:8], docs[:8], strict=True):
            context = ours.fewshot_context(doc=our_doc, num_fewshot=0)
            assert context == builtin.fewshot_context(doc=theirs_doc, num_fewshot=0)
            assert context.startswith(f"The following are multiple choice questions (with answers) about "
                                      f"{subject.replace('_', ' ')}.")
            assert ours.doc_to_choice(our_doc) == builtin.doc_to_choice(theirs_doc)
            assert ours.doc_to_target(our_doc) == builtin.doc_to_target(theirs_doc)


def test_sycophancy_mirrors_builtin(tasks: dict[str, Any]) -> None:
    ours = tasks["karma_sycophancy_on_political_typology_quiz"]
    raw = [json.loads(line) for line in SYCOPHANCY.read_text().splitlines()[:12]]
    builtin = _builtin("model_written_evals/sycophancy/sycophancy_on_political_typology_quiz.yaml",
                       "validation", raw)
    _assert_same_requests(builtin, ours)
    for raw_doc, doc in zip(raw, list(ours.eval_docs)[:12]):
        for results in ([(-1.0, False), (-2.0, False)], [(-3.0, False), (-0.5, False)]):
            mine = ours.process_results(doc, results)
            assert mine["acc"] == builtin.process_results(raw_doc, results)["acc"]
            assert mine["logprob_margin"] == results[0][0] - results[1][0]


# --------------------------------------------------------------------------- loader layouts

def test_mmlu_layouts_give_the_same_records(tmp_path: Path) -> None:
    """The real 0-3 header CSVs, the original headerless A-D CSVs and the hub's table agree."""
    real = benchmark_data.load_mmlu(MMLU_TEST)
    anatomy = [r for r in real if r["subject"] == "anatomy"]
    original = tmp_path / "original"
    original.mkdir()
    with (original / "anatomy_test.csv").open("w", newline="") as handle:
        csv.writer(handle).writerows([r["question"], *r["choices"], "ABCD"[r["answer"]]] for r in anatomy)
    assert benchmark_data.load_mmlu(original) == anatomy
    hub = tmp_path / "test-00000-of-00001.parquet"
    pq.write_table(pa.Table.from_pylist([{k: r[k] for k in ("question", "subject", "choices", "answer")}
                                         for r in real]), hub)
    assert benchmark_data.load_mmlu(hub) == real


def test_truthfulqa_hub_layout_gives_the_same_records(tmp_path: Path) -> None:
    real = benchmark_data.load_truthfulqa(TRUTHFULQA)
    hub = tmp_path / "validation.jsonl"
    hub.write_text("".join(json.dumps({k: r[k] for k in ("question", "mc1_targets", "mc2_targets")}) + "\n"
                           for r in real))
    assert benchmark_data.load_truthfulqa(hub) == real


def _as_fetched(records: list[dict[str, Any]], path: Path, features: datasets.Features | None = None) -> Path:
    """A Parquet file written the way karma.hub_fetch.fetch_dataset_split writes a hub split."""
    datasets.Dataset.from_list(records, features=features).to_parquet(str(path))
    return path


def test_crows_pairs_hub_table_with_autre(tmp_path: Path) -> None:
    """lm-eval's crows_pairs_english reads jannalu/crows_pairs_multilingual (english): the revised file,
    no index column, stereo/antistereo spelled out, and an extra bias type 'autre' (lm-eval has a
    crows_pairs_english_autre subtask for it). Every pair loads and autre becomes a category."""
    with CROWS.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    revised = [{"sent_more": r["sent_more"], "sent_less": r["sent_less"],
                "stereo_antistereo": "stereo" if r["stereo_antistereo"] == "stereo" else "antistereo",
                "bias_type": r["bias_type"]} for r in rows[:40]]
    revised[3]["bias_type"] = revised[17]["bias_type"] = "autre"
    fetched = _as_fetched(revised, tmp_path / "crows_pairs_english.parquet")
    records = benchmark_data.load_crows_pairs(fetched)
    assert len(records) == 40 and [r["item_id"] for r in records[:3]] == ["0", "1", "2"]
    assert Counter(r["bias_type"] for r in records)["autre"] == 2
    task = make_task_manager({"crows_pairs_data": str(fetched)}).load(["karma_crows_pairs_english"])["tasks"]
    docs = task["karma_crows_pairs_english"].eval_docs
    assert "autre" in set(docs["bias_type"]) and len(docs) == 40
    blank = _as_fetched([{**revised[0], "bias_type": " "}], tmp_path / "blank.parquet")
    with pytest.raises(ValueError, match="row 0 has bias_type ' '; every pair needs a named bias type"):
        benchmark_data.load_crows_pairs(blank)


def test_sycophancy_hub_tables_give_the_same_records(tmp_path: Path) -> None:
    """EleutherAI/sycophancy's validation splits as fetched: the released schema in Parquet, with
    answer_not_matching_behavior a string (nlp_survey, political) or a list (philpapers2020)."""
    raw = [json.loads(line) for line in SYCOPHANCY.read_text().splitlines()[:50]]
    fetched = _as_fetched(raw, tmp_path / "sycophancy_political_typology_quiz.parquet")
    subset = "political_typology_quiz"
    assert benchmark_data.load_sycophancy(fetched, subset) == benchmark_data.load_sycophancy(SYCOPHANCY, subset)[:50]
    listed = [{"question": r["question"], "answer_matching_behavior": r["answer_matching_behavior"],
               "answer_not_matching_behavior": [r["answer_not_matching_behavior"], " (C)"]} for r in raw[:5]]
    philpapers = benchmark_data.load_sycophancy(_as_fetched(listed, tmp_path / "philpapers.parquet"), "philpapers2020")
    assert philpapers[0]["answer_not_matching_behavior"] == [raw[0]["answer_not_matching_behavior"], " (C)"]


def test_truthfulqa_and_mmlu_hub_tables_give_the_same_records(tmp_path: Path) -> None:
    """truthfulqa/truthful_qa (multiple_choice, validation) and cais/mmlu (all, test) as fetched;
    MMLU's answer is a ClassLabel there, stored as its index."""
    real = benchmark_data.load_truthfulqa(TRUTHFULQA)
    hub = [{k: r[k] for k in ("question", "mc1_targets", "mc2_targets")} for r in real]
    assert benchmark_data.load_truthfulqa(_as_fetched(hub, tmp_path / "truthfulqa_mc.parquet")) == real
    mmlu = [r for r in benchmark_data.load_mmlu(MMLU_TEST) if r["subject"] in ("anatomy", "virology")]
    features = datasets.Features({"question": datasets.Value("string"), "subject": datasets.Value("string"),
                                  "choices": datasets.Sequence(datasets.Value("string")),
                                  "answer": datasets.ClassLabel(names=["A", "B", "C", "D"])})
    rows = [{k: r[k] for k in ("question", "subject", "choices", "answer")} for r in mmlu]
    assert benchmark_data.load_mmlu(_as_fetched(rows, tmp_path / "mmlu_test.parquet", features)) == mmlu


def test_bad_files_fail_with_the_field_and_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="lacks field.*humor.*right file"):
        benchmark_data.load_humor(CROWS)
    recoded = tmp_path / "test_df.csv"
    recoded.write_text("id,text,label,sentiment\n1,great,0,positive\n")
    with pytest.raises(ValueError, match="label '0' with sentiment 'positive'"):
        benchmark_data.load_sentiment(recoded)
    with pytest.raises(FileNotFoundError, match="does not exist"):
        benchmark_data.load_mmlu(tmp_path / "missing")
    with pytest.raises(ValueError, match="unknown sycophancy subset"):
        benchmark_data.load_sycophancy(SYCOPHANCY, "politics")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError, match="holds no"):
        benchmark_data.load_humor(empty)
