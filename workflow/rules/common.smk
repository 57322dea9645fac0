# Helpers, target functions and wildcard constraints, all derived from the validated config.
import copy
import math
import os
import re
from pathlib import Path

from snakemake.utils import update_config

from karma.backbone_specs import checked_spec
from karma.config_checks import (
    SectionParsers,
    check_workflow_config,
    configured_dumps,
    stop_on_config_errors,
)
from karma.evaluation.toxicity import ToxicityConfig
from karma.hub_fetch import DETOXIFY_CONFIG_REPO, ULTRACHAT_REPO
from karma.ppo.settings import PolicyTrainingConfig
from karma.evaluation.benchmark_metrics import primary_metrics
from karma.report.layout import figure_paths, report_entry, report_title, table_paths
from karma.reward.settings import RewardTrainingConfig

RESULTS = f"results/{config['run']}"
LOGS = f"{RESULTS}/logs"
BENCH = f"{RESULTS}/benchmarks"
SETTINGS = ["generalized", "conditioned"]
PROMPT_SOURCES = ["reddit", "ultrachat"]


def policy_settings(policy):
    """The shared PPO settings with the policy's own overrides merged in: what its job gets."""
    settings = copy.deepcopy(config["ppo"])
    update_config(settings, copy.deepcopy(config["policies"][policy]))
    settings.setdefault("ppo", {}).setdefault("seed", config["seed"])
    return settings


def policy_training_params(wildcards):
    return policy_settings(wildcards.policy)


def reward_training_params(wildcards=None):
    return {"seed": config["seed"], **config["reward"]["training"]}


# Every section and entry is checked as its job would check it, before the DAG exists: a job that
# refuses its settings comes too late, after Snakemake has deleted its previous outputs.
with stop_on_config_errors():
    SUBMISSION_DUMPS = configured_dumps("submissions", config["reddit"]["submissions"])
    COMMENT_DUMPS = configured_dumps("comments", config["reddit"]["comments"])
    check_workflow_config(
        config,
        policy_settings={
            policy: policy_settings(policy) for policy in config["policies"]
        },
        reward_training=reward_training_params(),
        parsers=SectionParsers(
            reward_training=RewardTrainingConfig.from_dict,
            policy_training=PolicyTrainingConfig.from_mapping,
            toxicity=ToxicityConfig.from_mapping,
            backbone_spec=checked_spec,
        ),
    )


def _dump_checksums():
    """reddit.sha256 by dump name. A file name that is no configured dump is an error: a typo
    would otherwise leave that dump unverified without a word."""
    by_file = {
        Path(path).name: name
        for dumps in (SUBMISSION_DUMPS, COMMENT_DUMPS)
        for name, path in dumps.items()
    }
    checksums = {}
    for file_name, digest in config["reddit"].get("sha256", {}).items():
        if file_name not in by_file:
            raise ValueError(
                f"config reddit.sha256: {file_name!r} is not the file name of a configured "
                f"dump (configured: {', '.join(sorted(by_file))})"
            )
        checksums[by_file[file_name]] = digest.lower()
    return checksums


DUMP_SHA256 = _dump_checksums()


def dump_verification(name):
    """The SHA-256 record a data-stage job waits for, when the dump has a reddit.sha256 entry."""
    return [f"resources/checksums/{name}.sha256.json"] if name in DUMP_SHA256 else []


VARIANTS = config["variants"]
TRAINED_VARIANTS = [name for name, spec in VARIANTS.items() if "setting" in spec]
POLICIES = list(config["policies"])
# The karma reward on held-out prompts is its own job (sampling + reward models); the rest run in lm-eval.
KARMA_REWARD = "reward"
EVAL_REWARD = KARMA_REWARD in config["benchmarks"]["names"]
BENCHMARKS = [name for name in config["benchmarks"]["names"] if name != KARMA_REWARD]
# Checked here, before the DAG is built: a metric that is not one of the benchmark's per-item scores.
PRIMARY_METRICS = primary_metrics(config["benchmarks"].get("metrics"), BENCHMARKS)
PERMUTED_SUFFIX = "-permuted"
# Demo: tiny spec policies are warm-started as language models before PPO (karma.demo.pretraining).
PRETRAIN = config["demo"].get("pretrain")


def variant_reward_model(variant):
    """The reward model a trained variant is PPO-trained against: its setting, or the permuted-label
    model of its setting (the negative control)."""
    spec = VARIANTS[variant]
    permuted = spec.get("labels", "observed") == "permuted"
    return spec["setting"] + (PERMUTED_SUFFIX if permuted else "")


# Reward models: both settings always (the reward table compares them), permuted ones when used.
REWARD_MODELS = SETTINGS + sorted(
    {
        variant_reward_model(name)
        for name in TRAINED_VARIANTS
        if VARIANTS[name]["policies"]
    }
    - set(SETTINGS)
)


def _check_variant_metadata():
    """Sampled metadata only means something where the reward model reads it (conditioned)."""
    for name, spec in VARIANTS.items():
        if (
            spec.get("metadata", "none") != "none"
            and spec.get("setting") != "conditioned"
        ):
            raise ValueError(
                f"variant {name!r} sets metadata: {spec['metadata']}, but its setting "
                f"{spec.get('setting')!r} renders no subreddit or time; remove the key or use conditioned"
            )


_check_variant_metadata()


def prompts_path(variant):
    """A trained variant's PPO prompts: as built, or with sampled subreddit and time (metadata: sampled)."""
    spec = VARIANTS[variant]
    suffix = ".sampled_metadata" if spec.get("metadata", "none") == "sampled" else ""
    return f"{RESULTS}/data/prompts/{spec['prompts']}{suffix}.parquet"


def _benchmark_paths():
    """Flat list of every configured benchmark data path (sycophancy maps subsets to files)."""
    paths = []
    for name in BENCHMARKS:
        value = config["benchmarks"]["data"][name]
        paths.extend(value.values() if isinstance(value, dict) else [value])
    return paths


BENCHMARK_FOLDERS = [p for p in _benchmark_paths() if not os.path.splitext(p)[1]]
BENCHMARK_FILES = [p for p in _benchmark_paths() if os.path.splitext(p)[1]]


DEMO_OUTPUTS = (
    [
        f"resources/demo/pushshift/{kind}_{month}.zst"
        for kind in ("RS", "RC")
        for month in config["demo"]["months"]
    ]
    if config["demo"]["enabled"]
    else []
)


def _alternatives(values):
    return "|".join(re.escape(v) for v in values)


wildcard_constraints:
    submissions_dump=_alternatives(SUBMISSION_DUMPS),
    comments_dump=_alternatives(COMMENT_DUMPS),
    setting=_alternatives(SETTINGS),
    reward_model=_alternatives(REWARD_MODELS),
    source=_alternatives(PROMPT_SOURCES),
    shard=r"\d+",
    model=_alternatives(config["models"]),
    tokenizer=_alternatives(config["tokenizers"]) or "$^",
    policy=_alternatives(POLICIES),
    variant=_alternatives(VARIANTS),
    benchmark=_alternatives(BENCHMARKS),


def shard_paths():
    return [
        f"{RESULTS}/data/threads/shard-{k}.parquet"
        for k in range(config["reddit"]["shards"])
    ]


def post_files():
    return [f"{RESULTS}/data/posts/{name}.parquet" for name in SUBMISSION_DUMPS]


def post_counts():
    return [f"{RESULTS}/data/posts/{name}.counts.json" for name in SUBMISSION_DUMPS]


def comment_files():
    return [f"{RESULTS}/data/comments/{name}.parquet" for name in COMMENT_DUMPS]


def comment_counts():
    return [f"{RESULTS}/data/comments/{name}.counts.json" for name in COMMENT_DUMPS]


def data_targets():
    return [
        *shard_paths(),
        f"{RESULTS}/data/threads/manifest.json",
        *expand(
            f"{RESULTS}/data/reward/{{setting}}/{{split}}.parquet",
            setting=SETTINGS,
            split=["train", "test"],
        ),
        *expand(f"{RESULTS}/data/prompts/{{source}}.parquet", source=PROMPT_SOURCES),
        *([f"{RESULTS}/data/prompts/heldout.parquet"] if EVAL_REWARD else []),
    ]


def tokenizer_dir(name):
    return f"{RESULTS}/tokenizers/{name}"


def warm_started(name):
    """A policy built from a spec (demo) is warm-started when demo.pretrain is set."""
    return (
        bool(PRETRAIN)
        and name in config["policies"]
        and "spec" in config["models"][name]
    )


def model_dir(name):
    """A hub model is fetched into resources/; a spec model is built (with its tokenizer) per run
    into models/<name>/init, and a warm-started policy is trained from there into .../pretrained.
    """
    if name not in config["models"]:
        raise ValueError(f"model {name!r} is not defined under config key 'models'")
    if "hub" in config["models"][name]:
        return f"resources/models/{name}"
    if warm_started(name):
        return f"{RESULTS}/models/{name}/pretrained"
    return f"{RESULTS}/models/{name}/init"


def pretrain_params(wildcards):
    return {"seed": config["seed"], **PRETRAIN}


def pretrain_targets():
    return [f"{RESULTS}/models/{p}/pretrain.json" for p in POLICIES if warm_started(p)]


def policy_model(policy, variant):
    return f"{RESULTS}/policy/{policy}/{variant}/model"


def model_families(wildcards):
    """The configured lineages of a policy and of the reward model, for the same-family check."""
    return {
        "policy": config["models"][wildcards.policy]["family"],
        "reward": config["models"][config["reward"]["backbone"]]["family"],
    }


def _benchmark_inputs(names):
    files = []
    for name in names:
        value = config["benchmarks"]["data"][name]
        files.extend(value.values() if isinstance(value, dict) else [value])
    return files


def _scorer_inputs(names):
    """Detoxify's checkpoint and config, for the toxicity benchmark when it scores with Detoxify."""
    toxicity = config["benchmarks"]["toxicity"]
    if "toxicity" not in names or toxicity.get("scorer", "detoxify") != "detoxify":
        return []
    return [
        toxicity[key]
        for key in ("detoxify_checkpoint", "detoxify_config_dir")
        if key in toxicity
    ]


def _job_benchmarks(wildcards):
    """The benchmarks one evaluation job runs: its cell's, or all of a policy x variant's."""
    return [wildcards.benchmark] if "benchmark" in wildcards.keys() else BENCHMARKS


def evaluation_inputs(wildcards):
    names = _job_benchmarks(wildcards)
    return {
        "model": policy_model(wildcards.policy, wildcards.variant),
        "data": _benchmark_inputs(names),
        "scorer": _scorer_inputs(names),
    }


def evaluation_params(wildcards):
    bench = config["benchmarks"]
    names = _job_benchmarks(wildcards)
    return {
        "data": {name: bench["data"][name] for name in names},
        "metrics": {name: PRIMARY_METRICS[name] for name in names},
        "limits": {name: n for name, n in bench["limits"].items() if name in names},
        "batch_size": bench["batch_size"],
        "device": bench["device"],
        "dtype": bench["dtype"],
        "toxicity": bench["toxicity"],
    }


def policy_variant_pairs():
    return [
        (policy, name) for name, spec in VARIANTS.items() for policy in spec["policies"]
    ]


def ppo_targets():
    targets = []
    for policy, variant in policy_variant_pairs():
        targets.append(policy_model(policy, variant))
        if variant in TRAINED_VARIANTS:
            targets.append(f"{RESULTS}/policy/{policy}/{variant}/train_log.jsonl")
    return targets


def cell_path(policy, variant, benchmark):
    return f"{RESULTS}/eval/{policy}/{variant}/{benchmark}.json"


def eval_targets():
    names = BENCHMARKS + ([KARMA_REWARD] if EVAL_REWARD else [])
    return [cell_path(p, v, b) for p, v in policy_variant_pairs() for b in names]


def reward_benchmark_params(wildcards):
    """The reward benchmark's settings (their presence is checked with the config, karma.config_checks)."""
    return {
        "seed": config["seed"],
        "device": config["benchmarks"]["device"],
        **config["benchmarks"]["reward"],
    }


def train_log_targets():
    return [
        f"{RESULTS}/policy/{p}/{v}/train_log.jsonl"
        for p, v in policy_variant_pairs()
        if v in TRAINED_VARIANTS
    ]


def ppo_summary_targets():
    return [
        f"{RESULTS}/policy/{p}/{v}/summary.json"
        for p, v in policy_variant_pairs()
        if v in TRAINED_VARIANTS
    ]


def table_outputs():
    has_eroded = any(v == "eroded" for _, v in policy_variant_pairs())
    return [
        str(p)
        for p in table_paths(
            f"{RESULTS}/tables",
            BENCHMARKS,
            eroded=has_eroded,
            reward=True,
            karma_reward=EVAL_REWARD,
            comparison=bool(config["report"]["paper_policy_map"]),
            ppo=bool(TRAINED_VARIANTS),
            data=True,
        )
    ]


def figure_outputs():
    return [
        str(p)
        for p in figure_paths(
            f"{RESULTS}/figures", categories=True, roc=True, ppo=bool(TRAINED_VARIANTS)
        )
    ]


def report_caption(path):
    """Captions live in workflow/report/<stem>.rst, one per table or figure."""
    return os.path.join(
        workflow.basedir, "workflow", "report", f"{Path(path).stem}.rst"
    )


def reported(paths):
    """The outputs, those the HTML report shows flagged with report(): one entry per table (its
    HTML page, which carries the CSV, LaTeX and Markdown as downloads) or figure (its PNG), in its
    stage's category (karma.report.layout.REPORT_ENTRIES)."""
    scorer = config["benchmarks"]["toxicity"]["scorer"]
    flagged = []
    for path in paths:
        entry = report_entry(path)
        if entry is None:
            flagged.append(path)
            continue
        shown = report(
            path,
            caption=report_caption(path),
            category=entry.category,
            # one label only: Snakemake's report turns a second label with two values in a category
            # of two entries (Data, Reward models, PPO) into a toggle, and then shows nothing
            labels={"entry": report_title(path, scorer)},
        )
        flagged.append(shown)
    return flagged


def example_stats_targets():
    return expand(f"{RESULTS}/data/reward/{{setting}}/stats.json", setting=SETTINGS)


def _params_b(model):
    """Billions of parameters (config ``models.<name>.params_b``); tiny spec models count as 0."""
    return float(config["models"][model].get("params_b", 0.0))


def _lora(policy):
    return (
        config["policies"][policy].get("finetune", config["ppo"].get("finetune"))
        == "lora"
    )


def model_source(wildcards):
    """Where a policy comes from, for its model card: hub repository or config spec."""
    spec = config["models"][wildcards.policy]
    if "hub" in spec:
        revision = spec.get("revision")
        return f"hub: {spec['hub']}" + (f" at revision {revision}" if revision else "")
    return f"built from the config spec models.{wildcards.policy}.spec"


# Resource functions of every rule that loads a model. Host memory (mem_mb, what sbatch --mem asks)
# is a fixed base plus bytes per parameter for the copies of the weights a job holds in host memory;
# sizes come from the config's models.<name>.params_b, so profiles/slurm holds only cluster facts.
# The base covers a Python process with torch and transformers (the demo's jobs peak at 0.2-0.8 GB
# RSS: results/demo/benchmarks/*); GPU jobs on hub models add the CUDA context mapped into host
# memory. Tiny demo models (params_b 0) thus ask for 2 GB. Runtimes (minutes) double on retry.
BASE_MB = 2000
CUDA_HOST_MB = 3000


def _mem_mb(weights_gb, gpu):
    """Whole GB: the base, ``weights_gb`` (bytes per parameter x billions), the CUDA context."""
    megabytes = BASE_MB + 1000 * weights_gb
    megabytes += CUDA_HOST_MB if gpu and weights_gb > 0 else 0
    return int(math.ceil(megabytes / 1000) * 1000)


def tiny_model_mem_mb(wildcards, attempt):
    return _mem_mb(0.0, gpu=False)


def export_mem_mb(wildcards, attempt):
    # weights as stored (at most fp32), or bf16/fp16 weights plus one serialisation copy
    return _mem_mb(4 * _params_b(wildcards.policy), gpu=False)


def export_runtime(wildcards, attempt):
    # reads and writes the weights once: ~3 min per billion parameters on a slow shared file system
    return int((10 + 3 * _params_b(wildcards.policy)) * attempt)


def reward_mem_mb(wildcards, attempt):
    # fp32 weights, and AdamW's two fp32 moments copied to host memory at each checkpoint
    return _mem_mb(12 * _params_b(config["reward"]["backbone"]), gpu=True)


def reward_runtime(wildcards, attempt):
    return int((60 + 600 * _params_b(config["reward"]["backbone"])) * attempt)


def policy_mem_mb(wildcards, attempt):
    # full: policy, frozen reference and value model in fp32 plus checkpoint copies (16 B/param);
    # LoRA: policy and value model in bf16, no reference copy (6 B/param); the fp32 reward model
    policy = _params_b(wildcards.policy) * (6 if _lora(wildcards.policy) else 16)
    return _mem_mb(policy + 4 * _params_b(config["reward"]["backbone"]), gpu=True)


def policy_runtime(wildcards, attempt):
    # LoRA steps on 7B/8B models cost about as much as full steps on a 2B model.
    size = _params_b(wildcards.policy) * (0.3 if _lora(wildcards.policy) else 1.0)
    return int(min(60 + 600 * size, 2880) * attempt)


def eval_mem_mb(wildcards, attempt):
    # the weights while loading (at most fp32; bf16 afterwards when benchmarks.dtype says so)
    return _mem_mb(4 * _params_b(wildcards.policy), gpu=True)


def _cell_minutes(benchmark, params_b):
    """Minutes for one cell. Toxicity generates continuations_per_prompt samples of every prompt: the
    full RealToxicityPrompts (99,442 prompts x 25) is ~50-100 times the work of its challenging subset
    (estimate in docs/paper-choices.md)."""
    if benchmark != "toxicity":
        return 30 + 60 * params_b
    toxicity = config["benchmarks"]["toxicity"]
    share = 1.0 if toxicity.get("prompt_subset", "challenging") == "all" else 0.015
    samples = toxicity.get("continuations_per_prompt", 25) / 25
    return 30 + (90 + 60 * params_b) * share * samples


def reward_eval_runtime(wildcards, attempt):
    return int(_cell_minutes(KARMA_REWARD, _params_b(wildcards.policy)) * attempt)


def eval_runtime(wildcards, attempt):
    minutes = sum(
        _cell_minutes(name, _params_b(wildcards.policy))
        for name in _job_benchmarks(wildcards)
    )
    return int(minutes * attempt)


def reward_targets():
    """Held-out metrics of every reward model, in REWARD_MODELS order (the report names them so)."""
    return expand(f"{RESULTS}/reward/{{name}}/metrics.json", name=REWARD_MODELS)


def reward_training_data(wildcards):
    """A permuted-label reward model trains on the permuted split, and is tested on the real one."""
    name = wildcards.reward_model
    setting = name.removesuffix(PERMUTED_SUFFIX)
    train = "train_permuted" if name.endswith(PERMUTED_SUFFIX) else "train"
    return {
        "train": f"{RESULTS}/data/reward/{setting}/{train}.parquet",
        "test": f"{RESULTS}/data/reward/{setting}/test.parquet",
        "stats": f"{RESULTS}/data/reward/{setting}/stats.json",
    }


def all_targets():
    return (
        data_targets()
        + pretrain_targets()
        + reward_targets()
        + ppo_targets()
        + eval_targets()
        + table_outputs()
        + figure_outputs()
    )
