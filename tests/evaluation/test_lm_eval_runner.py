"""evaluate_policy end to end on a tiny model: one cell per benchmark, per-item scores, determinism."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import pytest  # noqa: E402
import torch  # noqa: E402
from shared_data import SHARED_DATA, needs_shared_data

from karma.evaluation import benchmark_data  # noqa: E402
from karma.backbones import (  # noqa: E402
    build_causal_lm,
    load_causal_lm,
    load_tokenizer,
)
from karma.demo.benchmark_fixtures import write_benchmark_fixtures  # noqa: E402
from karma.demo.benchmark_items import MMLU_SUBJECT_OF_TOPIC  # noqa: E402
from karma.demo.tokenizer_training import train_bpe_tokenizer  # noqa: E402
from karma.evaluation import benchmark_metrics  # noqa: E402
from karma.evaluation.cells import read_cell  # noqa: E402
from karma.evaluation import lm_eval_runner  # noqa: E402
from karma.evaluation.lm_eval_runner import (  # noqa: E402
    BENCHMARKS,
    TASKS_DIR,
    benchmark_specs,
    evaluate_policy,
    force_offline,
    make_task_manager,
    stable_record,
)

REAL = SHARED_DATA
# A limit caps each of a benchmark's tasks: per sycophancy subset, per MMLU subject (eight in the fixtures).
LIMITS = {"humor": 6, "sentiment": 6, "toxicity": 4, "bias": None, "truthfulqa": 5, "mmlu": 2, "sycophancy": 4}
EXPECTED_N = {"humor": 6, "sentiment": 6, "toxicity": 4, "bias": 72, "truthfulqa": 5, "mmlu": 16, "sycophancy": 12}
MMLU_FIXTURE_SUBJECTS = set(MMLU_SUBJECT_OF_TOPIC.values())
TOXICITY = {"scorer": "lexicon", "continuations_per_prompt": 3, "prompt_subset": "all", "max_new_tokens": 8}


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread() -> Any:
    """Tiny models on a shared 2-core machine run many times faster on one thread."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return write_benchmark_fixtures(tmp_path_factory.mktemp("benchmarks"))


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory, fixtures: dict[str, Any]) -> Path:
    """A tiny GPT-NeoX with a BPE tokenizer trained on the fixture texts, saved like a demo policy."""
    texts = [r["text"] for r in benchmark_data.load_humor(fixtures["humor"])]
    texts += [r["question"] for r in benchmark_data.load_truthfulqa(fixtures["truthfulqa"])]
    texts += [r["sent_more"] for r in benchmark_data.load_crows_pairs(fixtures["bias"])]
    tokenizer = train_bpe_tokenizer(texts, vocab_size=800, min_frequency=1)
    spec = {"architecture": "gpt_neox", "hidden_size": 32, "num_hidden_layers": 2, "num_attention_heads": 2,
            "intermediate_size": 64, "max_position_embeddings": 1024}
    out = tmp_path_factory.mktemp("policy")
    build_causal_lm(spec, tokenizer, seed=3).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def _run(model_dir: Path, fixtures: dict, out: Path, benchmarks: dict[str, Any] | None = None,
         limits: dict | None = None) -> dict[str, Path]:
    specs = benchmark_specs(benchmarks or fixtures)
    paths = {name: out / f"{name}.json" for name in specs}
    evaluate_policy(model_dir, "tiny-neox", "base", specs, paths, batch_size=4, threads=1,
                    limits={k: v for k, v in (limits or LIMITS).items() if k in specs}, toxicity_cfg=TOXICITY)
    return paths


@pytest.fixture(scope="module")
def cells(model_dir: Path, fixtures: dict, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return _run(model_dir, fixtures, tmp_path_factory.mktemp("eval"))


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values)


def test_one_cell_per_benchmark_with_every_item(cells: dict[str, Path]) -> None:
    assert set(cells) == set(BENCHMARKS)
    for benchmark, path in cells.items():
        cell = read_cell(path)
        assert (cell.benchmark, cell.policy, cell.variant) == (benchmark, "tiny-neox", "base")
        assert cell.n == EXPECTED_N[benchmark] == len(cell.items), benchmark
        assert len({item.id for item in cell.items}) == cell.n
        assert cell.lm_eval_version == "0.4.13"
        assert cell.task_config["limit"] == LIMITS[benchmark] and cell.task_config["num_fewshot"] == 0
        # every metric here is defined as the mean of its per-item score
        assert cell.primary_value == pytest.approx(_mean([item.score for item in cell.items]), abs=1e-12)
        for name, value in cell.metrics.items():
            assert value == pytest.approx(_mean([item.scores[name] for item in cell.items]), abs=1e-12)
        assert all(item.score == item.scores[cell.primary_metric] for item in cell.items)


def test_primary_metrics_and_directions(cells: dict[str, Path]) -> None:
    expected = {"humor": ("acc", True), "sentiment": ("acc", True), "toxicity": ("toxicity", False),
                "bias": ("pct_stereotype", False), "sycophancy": ("acc", False), "truthfulqa": ("mc2", True),
                "mmlu": ("acc", True)}
    for benchmark, path in cells.items():
        cell = read_cell(path)
        assert (cell.primary_metric, cell.higher_is_better) == expected[benchmark]
    for benchmark, path in cells.items():
        # every candidate of the benchmark is kept per item, whichever is primary
        assert set(read_cell(path).metrics) == set(benchmark_metrics.score_names(benchmark)), benchmark
    for item in read_cell(cells["truthfulqa"]).items:
        scores = item.scores
        assert scores["mc1"] in (0.0, 1.0) and 0.0 <= scores["mc2"] <= 1.0
        assert scores["loglik_best_answer"] < 0.0 and scores["loglik_max_true"] < 0.0
    for item in read_cell(cells["sycophancy"]).items:
        assert item.scores["acc"] == float(item.scores["logprob_margin"] >= 0.0)


def test_tasks_cover_exactly_the_registered_candidates() -> None:
    for benchmark in BENCHMARKS:
        assert lm_eval_runner._definition(benchmark).score_names() == set(
            benchmark_metrics.score_names(benchmark)), benchmark


def test_categories(cells: dict[str, Path]) -> None:
    bias = read_cell(cells["bias"])
    assert set(bias.categories) == set(benchmark_data.CROWS_PAIRS_BIAS_TYPES)
    for bias_type, values in bias.categories.items():
        members = [item for item in bias.items if item.category == bias_type]
        assert values["n"] == len(members) == 8
        assert values["pct_stereotype"] == pytest.approx(_mean([m.scores["pct_stereotype"] for m in members]))
    mmlu = read_cell(cells["mmlu"])
    assert {item.category for item in mmlu.items} == MMLU_FIXTURE_SUBJECTS  # one built-in task per subject
    assert [item.id for item in mmlu.items[:3]] == ["astronomy:0", "astronomy:1", "clinical_knowledge:0"]
    assert {name: v["n"] for name, v in mmlu.categories.items()} == dict.fromkeys(MMLU_FIXTURE_SUBJECTS, 2.0)
    sycophancy = read_cell(cells["sycophancy"])
    assert {name: v["n"] for name, v in sycophancy.categories.items()} == {
        "nlp_survey": 4.0, "philpapers2020": 4.0, "political_typology_quiz": 4.0}
    toxicity = read_cell(cells["toxicity"])
    assert toxicity.categories == {label: {"mean": toxicity.metrics[label]}
                                   for label in ("toxicity", "severe_toxicity", "obscene", "threat", "insult",
                                                 "identity_attack")}
    assert read_cell(cells["humor"]).categories == {}


def test_toxicity_cell_keeps_generation_settings_and_rtp_scores(cells: dict[str, Path]) -> None:
    cell = read_cell(cells["toxicity"])
    assert cell.task_config["toxicity"]["scorer_name"] == "lexicon-demo"
    lm_cfg = cell.task_config["lm_eval_tasks"]["karma_toxicity"]
    assert lm_cfg["repeats"] == 3 and lm_cfg["generation_kwargs"]["max_gen_toks"] == 8
    for item in cell.items:
        assert set(item.scores) == {"toxicity", "severe_toxicity", "obscene", "threat", "insult",
                                    "identity_attack", "max_toxicity", "toxic"}
        assert item.scores["max_toxicity"] >= item.scores["toxicity"]
        assert item.scores["toxic"] == float(item.scores["max_toxicity"] >= 0.5)


def _sentence_loglikelihood(model: Any, tokenizer: Any, text: str) -> float:
    """log p(text | bos): lm-eval's loglikelihood of a continuation after an empty context."""
    ids = [tokenizer.bos_token_id, *tokenizer(text, add_special_tokens=False)["input_ids"]]
    with torch.no_grad():
        logits = model(torch.tensor([ids])).logits[0, :-1].float()
    return float(torch.log_softmax(logits, -1).gather(1, torch.tensor(ids[1:])[:, None]).sum())


def test_bias_scores_are_the_models_loglikelihoods(cells: dict[str, Path], model_dir: Path, fixtures: dict) -> None:
    """Recompute every pair's log-likelihood difference with transformers directly."""
    model, tokenizer = load_causal_lm(model_dir).eval(), load_tokenizer(model_dir)
    pairs = {r["item_id"]: r for r in benchmark_data.load_crows_pairs(fixtures["bias"])}
    for item in read_cell(cells["bias"]).items:
        pair = pairs[item.id]
        diff = _sentence_loglikelihood(model, tokenizer, pair["sent_more"]) - _sentence_loglikelihood(
            model, tokenizer, pair["sent_less"])
        assert item.scores["likelihood_diff_signed"] == pytest.approx(diff, abs=1e-3)
        assert item.scores["likelihood_diff"] == pytest.approx(abs(diff), abs=1e-3)
        assert item.scores["pct_stereotype"] == float(diff > 0)
        assert item.category == pair["bias_type"]


def test_scoring_the_same_model_twice_is_identical(
    cells: dict[str, Path], model_dir: Path, fixtures: dict, tmp_path: Path
) -> None:
    """Sampling (toxicity) included: lm-eval seeds every run, so a rerun rebuilds the same cell."""
    again = _run(model_dir, fixtures, tmp_path, {b: fixtures[b] for b in ("toxicity", "truthfulqa", "sentiment")})
    for benchmark, path in again.items():
        assert path.read_text() == cells[benchmark].read_text(), benchmark


IN_A_FRESH_PROCESS = """
import json, sys
from karma.evaluation.lm_eval_runner import benchmark_specs, evaluate_policy
from karma.job_logging import setup_job_logging

args = json.loads(sys.argv[1])
setup_job_logging(args["log"])
evaluate_policy(args["model"], "tiny-neox", "base", benchmark_specs(args["data"]), args["out"],
                batch_size=4, threads=1, limits=args["limits"], toxicity_cfg=args["toxicity"],
                run_config={"run": "unit", "benchmarks": {"limits": args["limits"]}})
"""


def test_two_evaluations_write_byte_identical_cells(model_dir: Path, fixtures: dict, tmp_path: Path) -> None:
    """Two processes (new memory addresses, new start times) evaluate all seven benchmarks into
    identical bytes; the log shows per-benchmark and per-request progress."""
    data = {name: ({k: str(v) for k, v in path.items()} if isinstance(path, dict) else str(path))
            for name, path in fixtures.items()}
    texts = {}
    for run in ("first", "second"):
        out = {name: str(tmp_path / run / f"{name}.json") for name in BENCHMARKS}
        args = {"model": str(model_dir), "data": data, "out": out, "limits": LIMITS, "toxicity": TOXICITY,
                "log": str(tmp_path / f"{run}.log")}
        # Interval 0: lm-eval's request bars are polled at the 10 ms floor. At 0.2 s an idle machine
        # finished every request loop between two polls and no request line reached the log.
        result = subprocess.run([sys.executable, "-c", IN_A_FRESH_PROCESS, json.dumps(args)], capture_output=True,
                                text=True, timeout=600, env={**os.environ, "KARMA_PROGRESS_SECONDS": "0"})
        assert result.returncode == 0, result.stderr[-3000:]
        texts[run] = {name: Path(path).read_bytes() for name, path in out.items()}
    for name in BENCHMARKS:
        assert texts["first"][name] == texts["second"][name], name
        assert not re.search(rb" at 0x[0-9a-f]+", texts["first"][name]), name
    cell = read_cell(tmp_path / "first" / "truthfulqa.json")
    assert cell.provenance["config"] == {"run": "unit", "benchmarks": {"limits": LIMITS}}
    assert cell.provenance["packages"]["lm-eval"] == "0.4.13" and "commit" in cell.provenance["git"]
    process_results = cell.task_config["lm_eval_tasks"]["truthfulqa_mc1"]["process_results"]
    assert process_results.startswith("def truthfulqa_mc1_results(")  # a function recorded by its source
    log = (tmp_path / "first.log").read_text()
    assert "tiny-neox/base cells: 100.0% (7 of 7 benchmarks)" in log
    assert re.search(r"Running loglikelihood requests: \d+\.\d% \(\d+ of \d+ it\), .* ETA", log)


def test_stable_record_names_callables_and_refuses_addresses() -> None:
    class Opaque:
        pass

    record = stable_record({"f": _mean, "s": {3, 1}, "p": Path("a/b"), "lambda": lambda x: x})
    assert record["f"].startswith("def _mean(") and record["s"] == [1, 3] and record["p"] == "a/b"
    assert record["lambda"].strip().startswith('record = stable_record({"f": _mean')  # its source line
    assert stable_record(max) == "<callable builtins.max>"
    with pytest.raises(TypeError, match="memory address"):
        stable_record({"x": Opaque()})


def test_primary_metric_override(model_dir: Path, fixtures: dict, tmp_path: Path) -> None:
    benchmarks: dict[str, Any] = {"bias": {"data": fixtures["bias"], "primary_metric": "likelihood_diff_signed"}}
    paths = _run(model_dir, fixtures, tmp_path, benchmarks, limits={"bias": 5})
    bias = read_cell(paths["bias"])
    assert bias.primary_metric == "likelihood_diff_signed" and bias.n == 5 and not bias.higher_is_better
    assert [item.score for item in bias.items] == [item.scores["likelihood_diff_signed"] for item in bias.items]


@needs_shared_data
def test_real_mmlu_files_through_the_runner(model_dir: Path, fixtures: dict, tmp_path: Path) -> None:
    paths = _run(model_dir, fixtures, tmp_path, {"mmlu": REAL / "mmlu" / "test"}, limits={"mmlu": 3})
    mmlu = read_cell(paths["mmlu"])
    assert mmlu.n == 3 * 57 and len(mmlu.categories) == 57  # lm-eval's 57 subject tasks, 3 items each
    assert [item.id for item in mmlu.items[:4]] == ["abstract_algebra:0", "abstract_algebra:1",
                                                    "abstract_algebra:2", "anatomy:0"]


def test_tasks_run_standalone_by_name(model_dir: Path, fixtures: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    """The YAMLs as lm_eval --include_path uses them: by name, data paths as metadata, the toxicity
    scorer from the environment, the YAML's own generation settings."""
    from lm_eval.evaluator import simple_evaluate

    monkeypatch.setenv("KARMA_TOXICITY_SCORER", "lexicon")
    manager = make_task_manager({"humor_data": str(fixtures["humor"]), "toxicity_data": str(fixtures["toxicity"])})
    results = simple_evaluate(model="hf", model_args={"pretrained": str(model_dir)}, device="cpu", batch_size=8,
                              tasks=["karma_humor", "karma_toxicity"], task_manager=manager, limit=2,
                              bootstrap_iters=0, log_samples=True)
    assert 0.0 <= results["results"]["karma_humor"]["acc,none"] <= 1.0
    toxicity = results["samples"]["karma_toxicity"]
    assert len(toxicity) == 2 and all(s["doc"]["challenging"] for s in toxicity)  # YAML default subset
    assert len(toxicity[0]["filtered_resps"][0]) == 25  # YAML default: 25 continuations
    assert 0.0 <= results["results"]["karma_toxicity"]["toxicity,continuations"] <= 1.0


OWN_TASKS = {"karma_humor", "karma_sentiment", "karma_toxicity", "karma_sycophancy_on_philpapers2020"}
GROUPS = {"karma_bias", "karma_truthfulqa", "karma_sycophancy", "karma_mmlu"}


def test_limited_task_index_is_fast_and_holds_karma_and_the_reused_builtins() -> None:
    started = time.perf_counter()
    manager = make_task_manager()
    assert time.perf_counter() - started < 3.0  # lm-eval's full index takes ~15 s
    own = {p.stem for p in TASKS_DIR.glob("*.yaml")}
    assert own == OWN_TASKS | GROUPS
    assert OWN_TASKS <= set(manager.all_subtasks) and GROUPS <= set(manager.all_groups)
    builtin = set(manager.all_subtasks) - OWN_TASKS
    assert {"crows_pairs_english", "truthfulqa_mc1", "truthfulqa_mc2", "sycophancy_on_nlp_survey",
            "sycophancy_on_political_typology_quiz", "mmlu_anatomy"} <= builtin
    assert all(name.startswith(("crows_pairs_", "truthfulqa_", "sycophancy_on_", "mmlu_")) for name in builtin)
    assert "hellaswag" not in manager.all_tasks


def test_karma_mmlu_lists_every_builtin_subject_task() -> None:
    """The group's members are exactly lm-eval's default mmlu_<subject> tasks, each told its subject."""
    import lm_eval.tasks
    from lm_eval.tasks._yaml_loader import load_yaml

    builtin = Path(lm_eval.tasks.__file__).parent / "mmlu" / "default"
    subjects = sorted(p.stem.removeprefix("mmlu_") for p in builtin.glob("mmlu_*.yaml"))
    members = load_yaml(TASKS_DIR / "karma_mmlu.yaml", resolve_func=False)["task"]
    assert len(subjects) == 57
    assert members == [{"task": f"mmlu_{s}", "dataset_kwargs": {"subject": s}} for s in subjects]


def test_groups_run_standalone_by_name(model_dir: Path, fixtures: dict) -> None:
    """A group as lm_eval --include_path uses it: built-in tasks with karma's data and per-item scores."""
    from lm_eval.evaluator import simple_evaluate

    metadata = {"crows_pairs_data": str(fixtures["bias"])} | {
        f"sycophancy_{subset}_data": str(path) for subset, path in fixtures["sycophancy"].items()}
    results = simple_evaluate(model="hf", model_args={"pretrained": str(model_dir)}, device="cpu", batch_size=8,
                              tasks=["karma_bias", "karma_sycophancy"], task_manager=make_task_manager(metadata),
                              limit=3, bootstrap_iters=0, log_samples=True)
    assert set(results["samples"]) == {"crows_pairs_english", "sycophancy_on_nlp_survey",
                                       "karma_sycophancy_on_philpapers2020", "sycophancy_on_political_typology_quiz"}
    assert "likelihood_diff_signed,none" in results["results"]["crows_pairs_english"]
    assert "logprob_margin,none" in results["results"]["karma_sycophancy"]  # the group's aggregate
    assert results["samples"]["crows_pairs_english"][0]["doc"]["item_id"] == "0"


def test_bad_arguments_fail_before_the_model_is_loaded(fixtures: dict, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown benchmark 'humour'"):
        benchmark_specs({"humour": fixtures["humor"]})
    with pytest.raises(ValueError, match="sycophancy: data must be a mapping from nlp_survey"):
        benchmark_specs({"sycophancy": fixtures["humor"]})
    with pytest.raises(ValueError, match="sycophancy: data must be a mapping"):
        benchmark_specs({"sycophancy": {"politics": fixtures["humor"]}})
    with pytest.raises(ValueError, match="mmlu: data must be one file or folder path"):
        benchmark_specs({"mmlu": {"test": fixtures["mmlu"]}})
    with pytest.raises(ValueError, match="primary_metric 'accuracy'"):
        benchmark_specs({"mmlu": {"data": fixtures["mmlu"], "primary_metric": "accuracy"}})
    specs = benchmark_specs({"humor": fixtures["humor"]})
    no_model = tmp_path / "no-model"
    cell = {"humor": tmp_path / "humor.json"}
    with pytest.raises(ValueError, match="one cell path per benchmark"):
        evaluate_policy(no_model, "p", "base", specs, {})
    with pytest.raises(ValueError, match="limit for humor"):
        evaluate_policy(no_model, "p", "base", specs, cell, limits={"humor": 0})
    with pytest.raises(ValueError, match="batch_size"):
        evaluate_policy(no_model, "p", "base", specs, cell, batch_size="big")
    with pytest.raises(FileNotFoundError, match="data .*missing.csv does not exist"):
        evaluate_policy(no_model, "p", "base", benchmark_specs({"humor": tmp_path / "missing.csv"}), cell)
    with pytest.raises(FileNotFoundError, match="no config.json"):
        evaluate_policy(no_model, "p", "base", specs, cell)
    assert not cell["humor"].exists()


def test_force_offline_sets_already_imported_libraries(monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets.config
    import huggingface_hub.constants

    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "0")
    force_offline()
    assert huggingface_hub.constants.HF_HUB_OFFLINE is True and datasets.config.HF_HUB_OFFLINE is True
    assert os.environ["HF_HUB_OFFLINE"] == "1" and os.environ["HF_DATASETS_OFFLINE"] == "1"


def test_auto_batch_size_on_the_cpu_skips_the_gpu_memory_probe(model_dir: Path, monkeypatch) -> None:
    """paper.yaml's ``batch_size: auto``: on a CPU lm-eval's probe can only return its cap (nothing
    runs out of memory) after a full-length forward pass; the runner takes the cap directly."""
    from lm_eval.models.huggingface import HFLM

    from karma.evaluation.lm_eval_runner import CPU_AUTO_BATCH_SIZE, _load_lm

    def no_probe(*args: Any, **kwargs: Any) -> int:
        raise AssertionError("the GPU-memory probe ran on the CPU")

    monkeypatch.setattr(HFLM, "_detect_batch_size", no_probe)
    lm = _load_lm(model_dir, "cpu", "auto", None)
    assert lm.batch_size_per_gpu == CPU_AUTO_BATCH_SIZE == lm.max_batch_size
    assert _load_lm(model_dir, "cpu", 3, None).batch_size_per_gpu == 3
