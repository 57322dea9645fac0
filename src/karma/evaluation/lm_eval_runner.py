"""Run the seven benchmarks on one model through lm-eval and write one table cell per benchmark.

Everything lm-eval-specific lives here and in the task folder ``karma/evaluation/tasks``. Where lm-eval
has a built-in task that runs offline, that folder holds a group YAML reusing it (overriding only its
data loader and, for the extra per-item scores, ``process_results``); elsewhere karma's own task, whose
YAML says why. One call of :func:`evaluate_policy` serves one (policy, variant): it loads the model once,
builds a ``TaskManager`` that indexes only the built-in folders the groups name and karma's folder (the
full built-in index costs ~15 s per process), runs each benchmark with
``simple_evaluate(log_samples=True)`` and writes each benchmark's cell with its per-item scores, read
from the logged samples rather than lm-eval's timestamped output files.

Cells are byte-stable: the same model, data and settings give the same bytes. lm-eval's task config
dump holds Python callables, which are recorded as their source (lm-eval's own choice for top-level
ones) or their qualified name, never as a repr with a memory address; the cell's provenance
(:mod:`karma.provenance`) holds no time or host. Progress (per benchmark, and lm-eval's per-request
bars) reaches the job's log through :mod:`karma.progress`.

Benchmarks, their lm-eval tasks and default primary metrics (every metric is the mean of its per-item
score; :mod:`karma.evaluation.benchmark_metrics` lists every per-item score a cell keeps, its direction
and its scale):

============  =================================================  =======================  ===================
benchmark     YAML: lm-eval tasks (built-in unless karma_*)      primary (default)        categories
============  =================================================  =======================  ===================
humor         karma_humor                                        acc                      -
sentiment     karma_sentiment                                    acc                      -
toxicity      karma_toxicity                                     toxicity (lower better)  the six labels
bias          karma_bias: crows_pairs_english                    pct_stereotype (lower)   the file's bias types
sycophancy    karma_sycophancy: sycophancy_on_nlp_survey,        acc (= sycophantic rate) the subsets given
              karma_sycophancy_on_philpapers2020,
              sycophancy_on_political_typology_quiz
truthfulqa    karma_truthfulqa: truthfulqa_mc2, truthfulqa_mc1   mc2                      -
mmlu          karma_mmlu: mmlu_<subject>, the subjects present   acc                      the subjects
============  =================================================  =======================  ===================

Every candidate for the paper's number is kept per item in every cell, whichever is primary: for
CrowS-Pairs ``pct_stereotype``, ``likelihood_diff`` and ``likelihood_diff_signed``; for sycophancy the
sycophantic rate ``acc`` and ``logprob_margin``; for TruthfulQA ``mc1``, ``mc2`` and three
log-likelihood scores. The scores are computed by the functions in ``tasks/utils.py`` (lm-eval's
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

from karma.evaluation import benchmark_data, benchmark_metrics
from karma.evaluation import toxicity as toxicity_scoring
from karma.evaluation.benchmark_data import SYCOPHANCY_SUBSETS
from karma.evaluation.cells import Cell, ItemScore, write_cell
from karma.progress import Progress, log_tqdm_progress
from karma.provenance import collect_provenance

log = logging.getLogger(__name__)

# lm-eval's default cap for batch_size "auto" (HFLM's max_batch_size), also the batch "auto" means on a CPU.
CPU_AUTO_BATCH_SIZE = 64

TASKS_DIR = Path(__file__).parent / "tasks"


# lm-eval's built-in task folders that karma's groups reuse: the task manager indexes only these and
# karma/evaluation/tasks (~0.3 s), not lm-eval's whole tree (~15 s per process).
BUILTIN_TASK_FOLDERS = ("crows_pairs", "truthfulqa", "model_written_evals/sycophancy", "mmlu/default")


@dataclasses.dataclass(frozen=True)
class _Benchmark:
    """A benchmark's task or group in ``karma/evaluation/tasks`` (its YAML's stem), the metadata key of
    its data path, and which lm-eval metric of its tasks becomes which per-item score (``task_scores``
    per task where they differ, e.g. TruthfulQA's mc1 and mc2 both report ``acc``)."""

    spec: str
    data_key: str
    scores: Mapping[str, str] = dataclasses.field(default_factory=dict)
    task_scores: Mapping[str, Mapping[str, str]] = dataclasses.field(default_factory=dict)
    category_field: str | None = None
    subsets: tuple[str, ...] = ()  # sycophancy: one task per subset, its data under data_key.format(subset=...)

    def scores_of(self, task: str) -> Mapping[str, str]:
        return self.task_scores.get(task, self.scores)

    def score_names(self) -> set[str]:
        return {name for scores in (self.scores, *self.task_scores.values()) for name in scores.values()}


def _same_names(*names: str) -> dict[str, str]:
    return {name: name for name in names}


_BENCHMARKS: dict[str, _Benchmark] = {
    "humor": _Benchmark("karma_humor", "humor_data", {"acc": "acc"}),
    "sentiment": _Benchmark("karma_sentiment", "sentiment_data", {"acc": "acc"}),
    "toxicity": _Benchmark("karma_toxicity", "toxicity_data", _same_names(*benchmark_metrics.score_names("toxicity"))),
    "bias": _Benchmark("karma_bias", "crows_pairs_data", _same_names(*benchmark_metrics.score_names("bias")),
                       category_field="bias_type"),
    "sycophancy": _Benchmark("karma_sycophancy", "sycophancy_{subset}_data",
                             _same_names(*benchmark_metrics.score_names("sycophancy")), subsets=SYCOPHANCY_SUBSETS),
    "truthfulqa": _Benchmark(
        "karma_truthfulqa", "truthfulqa_data",
        task_scores={
            "truthfulqa_mc2": {"acc": "mc2", "loglik_max_true": "loglik_max_true",
                               "loglik_true_minus_false": "loglik_true_minus_false"},
            "truthfulqa_mc1": {"acc": "mc1", "loglik_best_answer": "loglik_best_answer"},
        },
    ),
    "mmlu": _Benchmark("karma_mmlu", "mmlu_data", {"acc": "acc"}, category_field="subject"),
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
        _data_paths(benchmark, specs[benchmark])
    return specs


def _definition(benchmark: str) -> _Benchmark:
    if benchmark not in _BENCHMARKS:
        raise ValueError(f"unknown benchmark {benchmark!r}: use one of {', '.join(BENCHMARKS)}")
    return _BENCHMARKS[benchmark]


def _data_paths(benchmark: str, spec: BenchmarkSpec) -> dict[str, Path]:
    """The data path of each of the benchmark's metadata keys (per subset for sycophancy)."""
    definition = _definition(benchmark)
    subsets = set(definition.subsets)
    if isinstance(spec.data, Mapping) != bool(subsets) or (
        isinstance(spec.data, Mapping) and (not spec.data or set(spec.data) - subsets)
    ):
        expected = f"a mapping from {', '.join(sorted(subsets))} to files" if subsets else "one file or folder path"
        raise ValueError(f"benchmark {benchmark}: data must be {expected}, got {spec.data!r}")
    if isinstance(spec.data, Mapping):
        return {definition.data_key.format(subset=s): Path(spec.data[s]) for s in definition.subsets if s in spec.data}
    return {definition.data_key: Path(spec.data)}


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
    """A ``TaskManager`` that indexes only the built-in folders karma reuses and ``karma/evaluation/tasks``,
    with the data paths as task metadata."""
    import lm_eval.tasks
    from lm_eval.tasks import TaskManager

    builtin = Path(lm_eval.tasks.__file__).parent
    folders = [str(builtin / folder) for folder in BUILTIN_TASK_FOLDERS] + [str(TASKS_DIR)]
    return TaskManager(include_defaults=False, include_path=folders, metadata=dict(metadata or {}))


def _task_member_name(member: Mapping[str, Any]) -> str:
    return str(member["task"])


def _mmlu_subject(member: Mapping[str, Any]) -> str:
    return str(member["dataset_kwargs"]["subject"])


def _select_members(
    benchmark: str, members: list[dict[str, Any]], data: Mapping[str, Path]
) -> list[dict[str, Any]]:
    """The group members the data covers: the given sycophancy subsets, the MMLU subjects the data holds."""
    definition = _definition(benchmark)
    if definition.subsets:
        given = {s for s in definition.subsets if definition.data_key.format(subset=s) in data}
        return [m for m in members if _task_member_name(m).rsplit("_on_", 1)[-1] in given]
    if benchmark == "mmlu":
        held = {record["subject"] for record in benchmark_data.load_mmlu(data[definition.data_key])}
        unknown = sorted(held - {_mmlu_subject(m) for m in members})
        if unknown:
            raise ValueError(
                f"mmlu: {data[definition.data_key]} holds subject(s) {', '.join(unknown)}, which are not "
                "among lm-eval's 57 mmlu_<subject> tasks; check the file's subject column or file names"
            )
        return [m for m in members if _mmlu_subject(m) in held]
    return members


def _lm_eval_spec(
    benchmark: str, data: Mapping[str, Path], overrides: Mapping[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    """The benchmark's task or group config from its YAML (functions resolved, ``overrides`` applied
    to a task), with a group's members cut to what the data covers; and the names of its tasks."""
    from lm_eval.tasks._yaml_loader import load_yaml

    path = TASKS_DIR / f"{_definition(benchmark).spec}.yaml"
    if not path.is_file():
        raise RuntimeError(f"lm-eval task file {path} is missing; the karma package is incomplete")
    config = load_yaml(path, resolve_func=True)
    if "group" not in config:
        return {**config, **overrides}, [config["task"]]
    members = [{"task": m} if isinstance(m, str) else m for m in config["task"]]
    members = _select_members(benchmark, members, data)
    # lm-eval 0.4.13 passes every key of a group given as a dict on to its tasks (a member given by
    # name alone would take the group's task list as its name), and tasks reject aggregate_metric_list;
    # the cell computes its own means over all items anyway.
    group = {key: value for key, value in config.items() if key != "aggregate_metric_list"}
    return {**group, "task": members}, [_task_member_name(m) for m in members]


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
    benchmark: str, task_names: list[str], results: Mapping[str, Any]
) -> tuple[list[str], dict[str, dict[str, float]], dict[str, str | None]]:
    """Per-item scores from the logged samples, joined over the benchmark's tasks by item id; each
    task's mean is checked against lm-eval's own aggregate so a misread sample cannot go unnoticed."""
    definition = _definition(benchmark)
    order: list[str] = []
    scores: dict[str, dict[str, float]] = {}
    categories: dict[str, str | None] = {}
    for task in task_names:
        samples = results["samples"][task]
        task_scores = definition.scores_of(task)
        for metric in task_scores:
            values = [float(sample[metric]) for sample in samples]
            filter_key = samples[0]["filter"]
            reported = results["results"][task][f"{metric},{filter_key}"]
            if not math.isclose(_mean(values), reported, rel_tol=1e-9, abs_tol=1e-12):
                raise RuntimeError(
                    f"{task}: mean of logged per-item {metric} {_mean(values)!r} differs from "
                    f"lm-eval's aggregate {reported!r}; the sample records are not what this module expects"
                )
        subset = task.rsplit("_on_", 1)[-1] if definition.subsets else None
        for sample in samples:
            item_id = sample["doc"]["item_id"]
            if item_id not in scores:
                order.append(item_id)
                scores[item_id] = {}
                field = definition.category_field
                categories[item_id] = subset if subset else (sample["doc"][field] if field else None)
            for metric, score_name in task_scores.items():
                if score_name in scores[item_id]:
                    raise RuntimeError(f"{benchmark}: item id {item_id} occurs twice; item ids must be unique")
                scores[item_id][score_name] = float(sample[metric])
    expected = {name for task in task_names for name in definition.scores_of(task).values()}
    incomplete = [item_id for item_id in order if set(scores[item_id]) != expected]
    if incomplete:
        raise RuntimeError(f"{benchmark}: items {incomplete[:5]} lack some of {sorted(expected)}")
    return order, scores, categories


def _build_cell(
    benchmark: str,
    spec: BenchmarkSpec,
    policy: str,
    variant: str,
    task_names: list[str],
    results: Mapping[str, Any],
    task_config: dict[str, Any],
    provenance: dict[str, Any],
) -> Cell:
    primary = spec.primary_metric or benchmark_metrics.DEFAULT_PRIMARY[benchmark]
    order, scores, item_categories = _collect_items(benchmark, task_names, results)
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
    if batch_size == "auto" and torch.device(device).type == "cpu":
        # lm-eval's "auto" probes for the largest batch that fits GPU memory, from its cap down, with a
        # forward pass at full context length. A CPU does not run out, so the probe returns the cap,
        # after minutes of (emulated) bf16 work per job: take the cap without the probe.
        log.info("batch_size auto on the CPU: lm-eval's cap %d, without its GPU-memory probe", CPU_AUTO_BATCH_SIZE)
        batch_size = CPU_AUTO_BATCH_SIZE
    return HFLM(pretrained=model, tokenizer=tokenizer, batch_size=batch_size, max_batch_size=CPU_AUTO_BATCH_SIZE)


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
    sycophancy N per subset, for MMLU N per subject, for TruthfulQA the same N questions in mc1 and mc2). ``toxicity_cfg`` is a
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
    from karma.backbones import pick_device

    started = time.perf_counter()
    device = str(pick_device(device))  # the configs' "auto"; torch takes only a concrete device
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

    planned: dict[str, tuple[dict[str, Path], dict[str, Any], list[str]]] = {}
    for benchmark, spec in benchmarks.items():
        data = _data_paths(benchmark, spec)
        for path in data.values():
            if not path.exists():
                raise FileNotFoundError(f"benchmark {benchmark}: data {path} does not exist")
        overrides = toxicity_overrides if benchmark == "toxicity" else {}
        planned[benchmark] = (data, *_lm_eval_spec(benchmark, data, overrides))
    lm = _load_lm(Path(model_dir), device, batch_size, dtype)
    log.info("%s/%s: model loaded in %.1f s", policy, variant, time.perf_counter() - started)
    provenance = collect_provenance(run_config)
    # A line after every benchmark; lm-eval's request bars are logged at the steady interval.
    progress = Progress(f"{policy}/{variant} cells", len(benchmarks), unit="benchmarks", interval_s=0,
                        logger=log)

    for benchmark, spec in benchmarks.items():
        bench_started = time.perf_counter()
        data, lm_eval_spec, task_names = planned[benchmark]
        # A task manager per benchmark, so a cell's recorded task metadata holds only its own data paths
        # and does not depend on which other benchmarks the job runs (indexing takes ~0.3 s).
        metadata: dict[str, Any] = {key: str(path) for key, path in data.items()}
        if benchmark == "toxicity":
            metadata["toxicity_prompt_subset"] = tox_cfg.prompt_subset
        task_manager = make_task_manager(metadata)
        with log_tqdm_progress(logger=log):
            results = simple_evaluate(
                model=lm,
                tasks=[lm_eval_spec],
                task_manager=task_manager,
                limit=limits.get(benchmark),
                bootstrap_iters=0,
                log_samples=True,
            )
        task_config: dict[str, Any] = {
            "lm_eval_tasks": results["configs"],
            "data": {key: str(path) for key, path in data.items()},
            "limit": limits.get(benchmark),
            "model_dir": str(model_dir),
            "batch_size": batch_size,
            "device": device,
            "num_fewshot": 0,
        }
        if benchmark == "toxicity":
            task_config["toxicity"] = toxicity_record
        cell = _build_cell(benchmark, spec, policy, variant, task_names, results, task_config, provenance)
        write_cell(cell, out_paths[benchmark])
        seconds = time.perf_counter() - bench_started
        log.info("%s/%s/%s: %d items, %s=%.4f, %.1f s (%.1f items/s) -> %s", policy, variant, benchmark,
                 cell.n, cell.primary_metric, cell.primary_value, seconds, cell.n / seconds, out_paths[benchmark])
        progress.advance()  # its line after the last benchmark is the final one
    log.info("%s/%s: %d cells in %.1f s", policy, variant, len(benchmarks), time.perf_counter() - started)
