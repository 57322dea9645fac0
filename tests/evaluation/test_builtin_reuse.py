"""Reusing lm-eval's built-in tasks gives the same requests and per-item scores as karma's own tasks did.

``reference_tasks/`` holds the own tasks that the groups in ``karma/evaluation/tasks`` replaced, frozen
as they were. For each converted benchmark (CrowS-Pairs; TruthfulQA mc1 and mc2; sycophancy nlp_survey
and political_typology_quiz; MMLU) a tiny model is evaluated by both paths on the same data, the demo
fixtures and real rows from ``/work/shared/data``, and every item must get the same requests (context
and continuation, in order), the same target, the same log-likelihoods and the same per-item scores,
bit for bit.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
from shared_data import SHARED_DATA, needs_shared_data

from karma.backbones import build_causal_lm, load_causal_lm, load_tokenizer  # noqa: E402
from karma.demo.benchmark_fixtures import write_benchmark_fixtures  # noqa: E402
from karma.demo.tokenizer_training import train_bpe_tokenizer  # noqa: E402
from karma.evaluation import benchmark_data  # noqa: E402
from karma.evaluation.lm_eval_runner import _lm_eval_spec, make_task_manager  # noqa: E402

REFERENCE = Path(__file__).parent / "reference_tasks"
OLD_TASKS = {  # benchmark -> the own tasks it had
    "bias": ["karma_crows_pairs_english"],
    "truthfulqa": ["karma_truthfulqa_mc2", "karma_truthfulqa_mc1"],
    "mmlu": ["karma_mmlu"],
}
SAMPLE_FIELDS = ("arguments", "target", "resps")


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return write_benchmark_fixtures(tmp_path_factory.mktemp("benchmarks"))


@pytest.fixture(scope="module")
def lm(tmp_path_factory: pytest.TempPathFactory, fixtures: dict[str, Any]) -> Any:
    """A tiny GPT-NeoX with a BPE tokenizer trained on fixture texts, wrapped as lm-eval's HFLM."""
    from lm_eval.models.huggingface import HFLM

    texts = [r["question"] for r in benchmark_data.load_truthfulqa(fixtures["truthfulqa"])]
    texts += [r["sent_more"] for r in benchmark_data.load_crows_pairs(fixtures["bias"])]
    tokenizer = train_bpe_tokenizer(texts, vocab_size=600, min_frequency=1)
    spec = {"architecture": "gpt_neox", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
            "intermediate_size": 64, "max_position_embeddings": 4096}
    out = tmp_path_factory.mktemp("policy")
    build_causal_lm(spec, tokenizer, seed=5).save_pretrained(out)
    tokenizer.save_pretrained(out)
    torch.set_num_threads(1)
    return HFLM(pretrained=load_causal_lm(out).eval(), tokenizer=load_tokenizer(out), batch_size=16)


def _items(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per item id and task (by its position in the benchmark): requests, target, log-likelihoods, scores."""
    items: dict[str, dict[str, Any]] = {}
    for task, samples in results["samples"].items():
        for sample in samples:
            record = {field: json.dumps(sample[field]) for field in SAMPLE_FIELDS}
            record |= {metric: sample[metric] for metric in sample["metrics"]}
            items.setdefault(sample["doc"]["item_id"], {})[_role(task)] = record
    return items


def _role(task: str) -> str:
    """The part a task plays in its benchmark, the same for the old and the new name."""
    name = task.removeprefix("karma_")
    return "mmlu" if name.startswith("mmlu") else name


def _evaluate_both(lm: Any, benchmark: str, data: dict[str, Path]) -> tuple[dict, dict]:
    from lm_eval.evaluator import simple_evaluate
    from lm_eval.tasks import TaskManager

    metadata = {key: str(path) for key, path in data.items()}
    old = TaskManager(include_defaults=False, include_path=str(REFERENCE), metadata=metadata)
    subsets = [key.removeprefix("sycophancy_").removesuffix("_data") for key in data]
    old_tasks = [f"karma_sycophancy_on_{s}" for s in subsets] if benchmark == "sycophancy" else OLD_TASKS[benchmark]
    spec, _ = _lm_eval_spec(benchmark, data, {})
    runs = []
    for tasks, manager in ((old_tasks, old), ([spec], make_task_manager(metadata))):
        runs.append(_items(simple_evaluate(model=lm, tasks=tasks, task_manager=manager, bootstrap_iters=0,
                                           log_samples=True)))
    return runs[0], runs[1]


def _assert_same(lm: Any, benchmark: str, data: dict[str, Path], expected_items: int) -> None:
    old, new = _evaluate_both(lm, benchmark, data)
    assert len(old) == expected_items
    assert old.keys() == new.keys()
    for item_id in old:
        assert old[item_id] == new[item_id], (benchmark, item_id)


# --------------------------------------------------------------------------- the demo's fixtures


def test_fixtures_same_requests_and_scores(lm: Any, fixtures: dict[str, Any]) -> None:
    syco = fixtures["sycophancy"]
    cases = {
        "bias": ({"crows_pairs_data": fixtures["bias"]}, 72),
        "truthfulqa": ({"truthfulqa_data": fixtures["truthfulqa"]}, 48),
        "sycophancy": ({"sycophancy_nlp_survey_data": syco["nlp_survey"],
                        "sycophancy_political_typology_quiz_data": syco["political_typology_quiz"]}, 32),
        "mmlu": ({"mmlu_data": fixtures["mmlu"]}, 48),
    }
    for benchmark, (data, n) in cases.items():
        _assert_same(lm, benchmark, data, n)


# --------------------------------------------------------------------------- real rows


def _head_csv(source: Path, target: Path, rows: int, header: bool) -> Path:
    with source.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        kept = [next(reader) for _ in range(rows + int(header))]
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("w", newline="", encoding="utf-8") as handle:
        csv.writer(handle).writerows(kept)
    return target


@needs_shared_data
def test_real_rows_same_requests_and_scores(lm: Any, tmp_path: Path) -> None:
    crows = _head_csv(SHARED_DATA / "crows_pairs" / "crows_pairs_anonymized.csv", tmp_path / "crows.csv", 40, True)
    truthfulqa = tmp_path / "mc_task.json"
    truthfulqa.write_text(json.dumps(json.loads((SHARED_DATA / "truthfulqa" / "mc_task.json").read_text())[:12]))
    political = tmp_path / "political.jsonl"
    lines = (SHARED_DATA / "anthropic_sycophancy" / "sycophancy_on_political_typology_quiz.from_prerelease.jsonl")
    political.write_text("".join(line + "\n" for line in lines.read_text().splitlines()[:40]))
    mmlu = tmp_path / "mmlu"
    for subject in ("anatomy", "high_school_us_history", "virology"):
        source = SHARED_DATA / "mmlu" / "test" / f"{subject}_test.csv"
        header = source.open(encoding="utf-8").readline().startswith("question,")
        _head_csv(source, mmlu / source.name, 6, header)
    _assert_same(lm, "bias", {"crows_pairs_data": crows}, 40)
    _assert_same(lm, "truthfulqa", {"truthfulqa_data": truthfulqa}, 12)
    _assert_same(lm, "sycophancy", {"sycophancy_political_typology_quiz_data": political}, 40)
    _assert_same(lm, "mmlu", {"mmlu_data": mmlu}, 18)
