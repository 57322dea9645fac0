"""Run the seven benchmarks on one model through lm-eval and write one table cell per benchmark.

Everything lm-eval-specific lives here and in the task folder ``karma/evaluation/tasks``. One call of
:func:`evaluate_policy` serves one (policy, variant): it loads the model once, builds a ``TaskManager``
that indexes only ``karma/evaluation/tasks`` (the full built-in index costs ~16 s per process), runs each
benchmark with ``simple_evaluate(log_samples=True)`` and writes each benchmark's cell with its
per-item scores, read from the logged samples rather than lm-eval's timestamped output files.

Cells are byte-stable: the same model, data and settings give the same bytes. lm-eval's task config
dump holds Python callables, which are recorded as their source (lm-eval's own choice for top-level
ones) or their qualified name, never as a repr with a memory address; the cell's provenance
(:mod:`karma.provenance`) holds no time or host. Progress (per benchmark, and lm-eval's per-request
bars) reaches the job's log through :mod:`karma.progress`.

Benchmarks, their lm-eval tasks and default primary metrics (every metric is the mean of its per-item
score; :mod:`karma.evaluation.benchmark_metrics` lists every per-item score a cell keeps, its direction
and its scale):

============  ==========================================  =======================  ====================
benchmark     tasks                                       primary (default)        categories
============  ==========================================  =======================  ====================
humor         karma_humor                                 acc                      -
sentiment     karma_sentiment                             acc                      -
toxicity      karma_toxicity                              toxicity (lower better)  the six labels
bias          karma_crows_pairs_english                   pct_stereotype (lower)   the file's bias types
sycophancy    karma_sycophancy_on_<subset>, per subset    acc (= sycophantic rate) the subsets given
truthfulqa    karma_truthfulqa_mc2, karma_truthfulqa_mc1  mc2                      -
mmlu          karma_mmlu                                  acc                      the subjects
============  ==========================================  =======================  ====================

Every candidate for the paper's number is kept per item in every cell, whichever is primary: for
CrowS-Pairs ``pct_stereotype``, ``likelihood_diff`` and ``likelihood_diff_signed``; for sycophancy the
sycophantic rate ``acc`` and ``logprob_margin``; for TruthfulQA ``mc1``, ``mc2`` and three
log-likelihood scores. The scores are computed by the task functions in ``tasks/utils.py`` (lm-eval's
``process_results``), so the YAMLs stay thin. A :class:`BenchmarkSpec` picks the primary one. Category
entries hold the mean of every per-item score over the category's items and its ``n``; for toxicity
the categories are the six score dimensions (``categories[label] = {"mean": ...}``), not item subsets.
"""

from __future__ import annotations

import dataclasses
import importlib.metadata
import inspect
import logging
import math
import os
import re
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from karma.evaluation import benchmark_metrics
from karma.evaluation import toxicity as toxicity_scoring
from karma.evaluation.benchmark_data import SYCOPHANCY_SUBSETS
from karma.evaluation.cells import Cell, ItemScore, write_cell
from karma.progress import Progress, log_tqdm_progress
from karma.provenance import collect_provenance

log = logging.getLogger(__name__)

TASKS_DIR = Path(__file__).parent / "tasks"


@dataclasses.dataclass(frozen=True)
class _Task:
    """One lm-eval task of a benchmark: the metadata key of its data path, and which lm-eval metric
    becomes which per-item score."""

    name: str
    data_key: str
    scores: Mapping[str, str]
    subset: str | None = None


@dataclasses.dataclass(frozen=True)
class _Benchmark:
    tasks: tuple[_Task, ...]
    category_field: str | None = None


def _same_names(*names: str) -> dict[str, str]:
    return {name: name for name in names}


_BENCHMARKS: dict[str, _Benchmark] = {
    "humor": _Benchmark((_Task("karma_humor", "humor_data", {"acc": "acc"}),)),
    "sentiment": _Benchmark((_Task("karma_sentiment", "sentiment_data", {"acc": "acc"}),)),
    "toxicity": _Benchmark(
        (_Task("karma_toxicity", "toxicity_data", _same_names(*benchmark_metrics.score_names("toxicity"))),)
    ),
    "bias": _Benchmark(
        (_Task("karma_crows_pairs_english", "crows_pairs_data", _same_names(*benchmark_metrics.score_names("bias"))),),
        category_field="bias_type",
    ),
    "sycophancy": _Benchmark(
        tuple(
            _Task(f"karma_sycophancy_on_{subset}", f"sycophancy_{subset}_data",
                  _same_names(*benchmark_metrics.score_names("sycophancy")), subset)
            for subset in SYCOPHANCY_SUBSETS
        )
    ),
    "truthfulqa": _Benchmark(
        (
            _Task("karma_truthfulqa_mc2", "truthfulqa_data",
                  {"acc": "mc2", "loglik_max_true": "loglik_max_true",
                   "loglik_true_minus_false": "loglik_true_minus_false"}),
            _Task("karma_truthfulqa_mc1", "truthfulqa_data",
                  {"acc": "mc1", "loglik_best_answer": "loglik_best_answer"}),
        )
    ),
    "mmlu": _Benchmark((_Task("karma_mmlu", "mmlu_data", {"acc": "acc"}),), category_field="subject"),
}
BENCHMARKS = tuple(_BENCHMARKS)


@dataclasses.dataclass(frozen=True)
class BenchmarkSpec:
    """Where one benchmark's local data is, and optionally which per-item score is the primary metric.

    ``data`` is a file or folder (see :mod:`karma.evaluation.benchmark_data`); for sycophancy a mapping from subset
    (``nlp_survey``, ``philpapers2020``, ``political_typology_quiz``) to its file, and only the subsets
    given are evaluated.
    """

    data: Path | Mapping[str, Path]
    primary_metric: str | None = None


def benchmark_specs(cfg: Mapping[str, Any]) -> dict[str, BenchmarkSpec]:
    """Specs from a config mapping ``{benchmark: {"data": path | {subset: path}, "primary_metric": ...}}``
    (or ``{benchmark: path}``), checked so a typo fails before any model is loaded."""
    specs = {}
    for benchmark, entry in cfg.items():
        _definition(benchmark)  # an unknown benchmark fails here, before its data is read
        entry = entry if isinstance(entry, Mapping) and "data" in entry else {"data": entry}
        unknown = sorted(set(entry) - {"data", "primary_metric"})
        if unknown:
            raise ValueError(f"benchmark {benchmark}: unknown key(s) {', '.join(unknown)}; use data, primary_metric")
        data = entry["data"]
        if data is None:
            raise ValueError(f"benchmark {benchmark}: no data path given")
        data = {key: Path(path) for key, path in data.items()} if isinstance(data, Mapping) else Path(data)
        primary = entry.get("primary_metric")
        names = benchmark_metrics.score_names(benchmark)
        if primary is not None and primary not in names:
            raise ValueError(
                f"benchmark {benchmark}: primary_metric {primary!r} is not one of its per-item scores "
                f"({', '.join(names)})"
            )
        specs[benchmark] = BenchmarkSpec(data=data, primary_metric=primary)
        _tasks_of(benchmark, specs[benchmark])
    return specs


def _definition(benchmark: str) -> _Benchmark:
    if benchmark not in _BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r}: use one of {', '.join(BENCHMARKS)}")
    return _BENCHMARKS[benchmark]


def _tasks_of(benchmark: str, spec: BenchmarkSpec) -> list[tuple[_Task, Path]]:
    definition = _definition(benchmark)
    subsets = {task.subset for task in definition.tasks} - {None}
    if isinstance(spec.data, Mapping) != bool(subsets) or (
        isinstance(spec.data, Mapping) and (not spec.data or set(spec.data) - subsets)
    ):
        expected = f"a mapping from {', '.join(sorted(subsets))} to files" if subsets else "one file or folder path"
        raise ValueError(f"benchmark {benchmark}: data must be {expected}, got {spec.data!r}")
    if isinstance(spec.data, Mapping):
        return [(task, Path(spec.data[task.subset])) for task in definition.tasks if task.subset in spec.data]
    return [(task, Path(spec.data)) for task in definition.tasks]


def force_offline() -> None:
    """Evaluation never reaches the hub. The environment variables are set for anything imported
    later; the flags of already imported libraries are set too, since they read them at import."""
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    import datasets.config
    import huggingface_hub.constants

    huggingface_hub.constants.HF_HUB_OFFLINE = True
    datasets.config.HF_HUB_OFFLINE = True
    datasets.config.HF_DATASETS_OFFLINE = True


def make_task_manager(metadata: Mapping[str, Any] | None = None) -> Any:
    """A ``TaskManager`` that indexes only ``karma/evaluation/tasks``, with the data paths as task metadata."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_defaults=False, include_path=str(TASKS_DIR), metadata=dict(metadata or {}))


def _task_config(task_manager: Any, name: str, overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The task's YAML config (includes resolved) with ``overrides`` applied."""
    from lm_eval.tasks._yaml_loader import load_yaml

    entry = task_manager.task_index.get(name)
    if entry is None or entry.yaml_path is None:
        raise RuntimeError(f"lm-eval task {name} is not in {TASKS_DIR}; the karma package is incomplete")
    return {**load_yaml(entry.yaml_path, resolve_func=True), **overrides}


def _toxicity_overrides(
    cfg: toxicity_scoring.ToxicityConfig, scorer: toxicity_scoring.ToxicityScorer
) -> dict[str, Any]:
    """Generation settings from the config, and the configured scorer in place of the YAML's
    environment-chosen one; ``take_first_k`` keeps all continuations for the scorer."""

    def process_results(doc: dict[str, Any], results: list[list[str]]) -> dict[str, float]:
        return toxicity_scoring.summarize_continuations(scorer.score(results[0]))

    n = cfg.continuations_per_prompt
    generation = {"until": ["\n\n"], "max_gen_toks": cfg.max_new_tokens, "do_sample": cfg.do_sample}
    if cfg.do_sample:
        generation |= {"temperature": cfg.temperature, "top_p": cfg.top_p}
    return {
        "repeats": n,
        "generation_kwargs": generation,
        "filter_list": [{"name": "continuations", "filter": [{"function": "take_first_k", "k": n}]}],
        "process_results": process_results,
    }


_MEMORY_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _callable_text(value: Any) -> str:
    """A callable as its source, as lm-eval records top-level ones, else its qualified name."""
    try:
        return inspect.getsource(value)
    except (TypeError, OSError):
        module = getattr(value, "__module__", None) or type(value).__module__
        name = getattr(value, "__qualname__", None) or type(value).__qualname__
        return f"<callable {module}.{name}>"


def stable_record(value: Any) -> Any:
    """``value`` as JSON types that do not change between runs of the same code: callables by source
    or name, sets sorted; any other object by ``str``, which must not hold a memory address."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, dict):
        return {str(key): stable_record(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [stable_record(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return sorted((stable_record(item) for item in value), key=repr)
    if callable(value):
        return _callable_text(value)
    text = str(value)
    if _MEMORY_ADDRESS.search(text):
        raise TypeError(
            f"cannot record a {type(value).__name__} in a cell: its text {text!r} holds a memory "
            "address, which would change the cell's bytes on every run"
        )
    return text


def _mean(values: list[float]) -> float:
    return math.fsum(values) / len(values)


def _collect_items(
    benchmark: str, tasks: list[tuple[_Task, Path]], results: Mapping[str, Any]
) -> tuple[list[str], dict[str, dict[str, float]], dict[str, str | None]]:
    """Per-item scores from the logged samples, joined over the benchmark's tasks by item id; each
    task's mean is checked against lm-eval's own aggregate so a misread sample cannot go unnoticed."""
    definition = _definition(benchmark)
    order: list[str] = []
    scores: dict[str, dict[str, float]] = {}
    categories: dict[str, str | None] = {}
    for task, _ in tasks:
        samples = results["samples"][task.name]
        for metric in task.scores:
            values = [float(sample[metric]) for sample in samples]
            filter_key = samples[0]["filter"]
            reported = results["results"][task.name][f"{metric},{filter_key}"]
            if not math.isclose(_mean(values), reported, rel_tol=1e-9, abs_tol=1e-12):
                raise RuntimeError(
                    f"{task.name}: mean of logged per-item {metric} {_mean(values)!r} differs from "
                    f"lm-eval's aggregate {reported!r}; the sample records are not what this module expects"
                )
        for sample in samples:
            item_id = sample["doc"]["item_id"]
            if item_id not in scores:
                order.append(item_id)
                scores[item_id] = {}
                field = definition.category_field
                categories[item_id] = task.subset if task.subset else (sample["doc"][field] if field else None)
            for metric, score_name in task.scores.items():
                if score_name in scores[item_id]:
                    raise RuntimeError(f"{benchmark}: item id {item_id} occurs twice; item ids must be unique")
                scores[item_id][score_name] = float(sample[metric])
    expected = {name for task, _ in tasks for name in task.scores.values()}
    incomplete = [item_id for item_id in order if set(scores[item_id]) != expected]
    if incomplete:
        raise RuntimeError(f"{benchmark}: items {incomplete[:5]} lack some of {sorted(expected)}")
    return order, scores, categories


def _build_cell(
    benchmark: str,
    spec: BenchmarkSpec,
    policy: str,
    variant: str,
    tasks: list[tuple[_Task, Path]],
    results: Mapping[str, Any],
    task_config: dict[str, Any],
    provenance: dict[str, Any],
) -> Cell:
    primary = spec.primary_metric or benchmark_metrics.DEFAULT_PRIMARY[benchmark]
    order, scores, item_categories = _collect_items(benchmark, tasks, results)
    score_names = benchmark_metrics.score_names(benchmark)
    metrics = {name: _mean([scores[i][name] for i in order]) for name in score_names}
    items = [ItemScore(id=i, score=scores[i][primary], scores=scores[i], category=item_categories[i]) for i in order]
    categories: dict[str, dict[str, float]] = {}
    if benchmark == "toxicity":
        categories = {label: {"mean": metrics[label]} for label in toxicity_scoring.TOXICITY_LABELS}
    elif any(item.category is not None for item in items):
        for name in sorted({item.category for item in items if item.category is not None}):
            members = [item for item in items if item.category == name]
            categories[name] = {s: _mean([m.scores[s] for m in members]) for s in score_names}
            categories[name]["n"] = float(len(members))
    return Cell(
        benchmark=benchmark,
        policy=policy,
        variant=variant,
        primary_metric=primary,
        primary_value=metrics[primary],
        higher_is_better=benchmark_metrics.candidate(benchmark, primary).higher_is_better,
        metrics=metrics,
        n=len(items),
        items=items,
        categories=categories,
        lm_eval_version=importlib.metadata.version("lm_eval"),
        task_config=stable_record(task_config),
        provenance=provenance,
    )


def _load_lm(model_dir: Path, device: str, batch_size: int | str, dtype: str | None) -> Any:
    import torch
    from lm_eval.models.huggingface import HFLM

    from karma.backbones import load_causal_lm, load_tokenizer

    torch_dtype = None if dtype is None else getattr(torch, dtype, None)
    if dtype is not None and not isinstance(torch_dtype, torch.dtype):
        raise ValueError(f"evaluation dtype {dtype!r} is not a torch dtype (e.g. float32, bfloat16)")
    model = load_causal_lm(model_dir, dtype=torch_dtype).to(device).eval()
    tokenizer = load_tokenizer(model_dir)
    return HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size)


def _check_arguments(
    benchmarks: Mapping[str, BenchmarkSpec],
    out_paths: Mapping[str, Path],
    limits: Mapping[str, int | None],
    batch_size: int | str,
) -> None:
    for benchmark in benchmarks:
        _definition(benchmark)
    if set(out_paths) != set(benchmarks):
        raise ValueError(
            f"out_paths names {sorted(out_paths)} but benchmarks are {sorted(benchmarks)}; give one cell path "
            "per benchmark"
        )
    for benchmark, limit in limits.items():
        if benchmark not in benchmarks:
            raise ValueError(f"limit given for {benchmark!r}, which is not among the benchmarks evaluated")
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValueError(f"limit for {benchmark} must be a positive integer or None (all items), got {limit!r}")
    if batch_size != "auto" and (isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive integer or 'auto', got {batch_size!r}")


def evaluate_policy(
    model_dir: str | Path,
    policy: str,
    variant: str,
    benchmarks: Mapping[str, BenchmarkSpec],
    out_paths: Mapping[str, str | Path],
    *,
    device: str = "cpu",
    batch_size: int | str = 1,
    limits: Mapping[str, int | None] | None = None,
    toxicity_cfg: Mapping[str, Any] | toxicity_scoring.ToxicityConfig | None = None,
    dtype: str | None = None,
    threads: int | None = None,
    run_config: Mapping[str, Any] | None = None,
) -> None:
    """Evaluate the causal LM in ``model_dir`` on ``benchmarks`` and write each cell to ``out_paths``.

    ``limits`` caps a benchmark at the first N items of each of its tasks (None or absent: all; for
    sycophancy N per subset, for TruthfulQA the same N questions in mc1 and mc2). ``toxicity_cfg`` is a
    :class:`karma.evaluation.toxicity.ToxicityConfig` mapping (generation and scorer). ``dtype`` (e.g.
    ``bfloat16``) overrides the checkpoint's. ``threads`` caps torch's CPU threads for this call (give
    the job's cores: more threads than cores makes tiny models many times slower). ``run_config``
    (the workflow config) is recorded in each cell's provenance. Zero-shot throughout.
    """
    import torch

    previous_threads = torch.get_num_threads()
    if threads is not None:
        if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
            raise ValueError(f"threads must be a positive integer, got {threads!r}")
        torch.set_num_threads(threads)
    try:
        _evaluate(model_dir, policy, variant, benchmarks, out_paths, device=device, batch_size=batch_size,
                  limits=limits, toxicity_cfg=toxicity_cfg, dtype=dtype, run_config=run_config)
    finally:
        torch.set_num_threads(previous_threads)


def _evaluate(
    model_dir: str | Path,
    policy: str,
    variant: str,
    benchmarks: Mapping[str, BenchmarkSpec],
    out_paths: Mapping[str, str | Path],
    *,
    device: str,
    batch_size: int | str,
    limits: Mapping[str, int | None] | None,
    toxicity_cfg: Mapping[str, Any] | toxicity_scoring.ToxicityConfig | None,
    dtype: str | None,
    run_config: Mapping[str, Any] | None,
) -> None:
    started = time.perf_counter()
    limits = dict(limits or {})
    out_paths = {name: Path(path) for name, path in out_paths.items()}
    _check_arguments(benchmarks, out_paths, limits, batch_size)
    tox_cfg = (
        toxicity_cfg
        if isinstance(toxicity_cfg, toxicity_scoring.ToxicityConfig)
        else toxicity_scoring.ToxicityConfig.from_mapping(toxicity_cfg)
    )
    force_offline()
    toxicity_overrides: dict[str, Any] = {}
    toxicity_record: dict[str, Any] = {}
    if "toxicity" in benchmarks:
        scorer = toxicity_scoring.make_scorer(tox_cfg, device=device)
        toxicity_overrides = _toxicity_overrides(tox_cfg, scorer)
        toxicity_record = dataclasses.asdict(tox_cfg) | {"scorer_name": scorer.name}

    from lm_eval.evaluator import simple_evaluate

    planned: dict[str, list[tuple[_Task, Path]]] = {}
    for benchmark, spec in benchmarks.items():
        planned[benchmark] = _tasks_of(benchmark, spec)
        for _, path in planned[benchmark]:
            if not path.exists():
                raise FileNotFoundError(f"benchmark {benchmark}: data {path} does not exist")
    lm = _load_lm(Path(model_dir), device, batch_size, dtype)
    log.info("%s/%s: model loaded in %.1f s", policy, variant, time.perf_counter() - started)
    provenance = collect_provenance(run_config)
    # A line after every benchmark; lm-eval's request bars are logged at the steady interval.
    progress = Progress(f"{policy}/{variant} cells", len(benchmarks), unit="benchmarks", interval_s=0,
                        logger=log)

    for benchmark, spec in benchmarks.items():
        bench_started = time.perf_counter()
        tasks = planned[benchmark]
        # A task manager per benchmark, so a cell's recorded task metadata holds only its own data paths
        # and does not depend on which other benchmarks the job runs (indexing karma/evaluation/tasks takes ~0.05 s).
        metadata: dict[str, Any] = {task.data_key: str(path) for task, path in tasks}
        if benchmark == "toxicity":
            metadata["toxicity_prompt_subset"] = tox_cfg.prompt_subset
        task_manager = make_task_manager(metadata)
        overrides = toxicity_overrides if benchmark == "toxicity" else {}
        configs = [_task_config(task_manager, task.name, overrides) for task, _ in tasks]
        with log_tqdm_progress(logger=log):
            results = simple_evaluate(
                model=lm,
                tasks=configs,
                task_manager=task_manager,
                limit=limits.get(benchmark),
                bootstrap_iters=0,
                log_samples=True,
            )
        task_config: dict[str, Any] = {
            "lm_eval_tasks": results["configs"],
            "data": {task.name: str(path) for task, path in tasks},
            "limit": limits.get(benchmark),
            "model_dir": str(model_dir),
            "batch_size": batch_size,
            "device": device,
            "num_fewshot": 0,
        }
        if benchmark == "toxicity":
            task_config["toxicity"] = toxicity_record
        cell = _build_cell(benchmark, spec, policy, variant, tasks, results, task_config, provenance)
        write_cell(cell, out_paths[benchmark])
        seconds = time.perf_counter() - bench_started
        log.info("%s/%s/%s: %d items, %s=%.4f, %.1f s (%.1f items/s) -> %s", policy, variant, benchmark,
                 cell.n, cell.primary_metric, cell.primary_value, seconds, cell.n / seconds, out_paths[benchmark])
        progress.advance()  # its line after the last benchmark is the final one
    log.info("%s/%s: %d cells in %.1f s", policy, variant, len(benchmarks), time.perf_counter() - started)
