# Helpers, target functions and wildcard constraints, all derived from the validated config.
import glob
import os
import re
from pathlib import Path

from karma.evaluation.benchmark_metrics import primary_metrics
from karma.report.layout import figure_paths, table_paths

RESULTS = f"results/{config['run']}"
LOGS = f"{RESULTS}/logs"
BENCH = f"{RESULTS}/benchmarks"
SETTINGS = ["generalized", "conditioned"]
PROMPT_SOURCES = ["reddit", "ultrachat"]
GLOB_CHARS = re.compile(r"[*?\[]")


def expand_dump_paths(key):
    """Config paths, with globs expanded against existing files; literal paths pass through so
    that a missing dump becomes the target of a rule that explains how to get it."""
    paths = []
    for entry in config["reddit"][key]:
        if GLOB_CHARS.search(entry):
            matched = sorted(glob.glob(entry))
            if not matched:
                raise ValueError(
                    f"config reddit.{key}: the pattern {entry!r} matches no file; "
                    "download the dumps first (see config/README.md) or list files explicitly"
                )
            paths.extend(matched)
        else:
            paths.append(entry)
    return paths


def dumps_by_name(key):
    """Dump file stem (e.g. RS_2019-01) -> path; stems name the per-dump jobs."""
    by_name = {}
    for path in expand_dump_paths(key):
        name = Path(path).name.split(".")[0]
        if name in by_name:
            raise ValueError(
                f"config reddit.{key}: two dumps share the name {name!r} "
                f"({by_name[name]} and {path}); each dump needs a distinct file name"
            )
        by_name[name] = path
    return by_name


SUBMISSION_DUMPS = dumps_by_name("submissions")
COMMENT_DUMPS = dumps_by_name("comments")
for _name in SUBMISSION_DUMPS.keys() & COMMENT_DUMPS.keys():
    raise ValueError(
        f"dump {_name!r} is listed as both a submissions and a comments dump"
    )
for _name in SUBMISSION_DUMPS:
    if not _name.startswith("RS_"):
        raise ValueError(
            f"config reddit.submissions: {_name!r} is not an RS_ (submissions) dump"
        )
for _name in COMMENT_DUMPS:
    if not _name.startswith("RC_"):
        raise ValueError(
            f"config reddit.comments: {_name!r} is not an RC_ (comments) dump"
        )


def _deep_merge(base, override):
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


VARIANTS = config["variants"]
TRAINED_VARIANTS = [name for name, spec in VARIANTS.items() if "setting" in spec]
POLICIES = list(config["policies"])
BENCHMARKS = list(config["benchmarks"]["names"])
# Checked here, before the DAG is built: a metric that is not one of the benchmark's per-item scores.
PRIMARY_METRICS = primary_metrics(config["benchmarks"].get("metrics"), BENCHMARKS)


def _check_policies():
    """Every policy is a model; a policy of the reward model's family needs an explicit opt-in."""
    reward_family = config["models"][config["reward"]["backbone"]]["family"]
    for name, variant in VARIANTS.items():
        for policy in variant["policies"]:
            if policy not in config["policies"]:
                raise ValueError(
                    f"variant {name!r} lists policy {policy!r}, which is not under 'policies'"
                )
    for policy, settings in config["policies"].items():
        if policy not in config["models"]:
            raise ValueError(f"policy {policy!r} is not defined under 'models'")
        family = config["models"][policy]["family"]
        if family == reward_family and not settings.get("same_family_intended", False):
            raise ValueError(
                f"policy {policy!r} is of the reward model's family ({family!r}): PPO against a "
                "reward model of its own family invites reward hacking (the paper excluded "
                f"Llama-1B for this). Set policies.{policy}.same_family_intended: true if intended."
            )


_check_policies()


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
    ]


def tokenizer_dir(name):
    return f"{RESULTS}/tokenizers/{name}"


def model_dir(name):
    """A hub model is fetched into resources/; a spec model is built (with its tokenizer) per run."""
    if name not in config["models"]:
        raise ValueError(f"model {name!r} is not defined under config key 'models'")
    if "hub" in config["models"][name]:
        return f"resources/models/{name}"
    return f"{RESULTS}/models/{name}"


def policy_model(policy, variant):
    return f"{RESULTS}/policy/{policy}/{variant}/model"


def model_families(wildcards):
    """The configured lineages of a policy and of the reward model, for the same-family check."""
    return {
        "policy": config["models"][wildcards.policy]["family"],
        "reward": config["models"][config["reward"]["backbone"]]["family"],
    }


def policy_training_params(wildcards):
    """The shared PPO settings with the policy's own overrides merged in."""
    settings = _deep_merge(config["ppo"], config["policies"][wildcards.policy])
    settings.setdefault("ppo", {}).setdefault("seed", config["seed"])
    return settings


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
    return [cell_path(p, v, b) for p, v in policy_variant_pairs() for b in BENCHMARKS]


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
            comparison=bool(config["report"]["paper_policy_map"]),
            ppo=bool(TRAINED_VARIANTS),
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


def _params_b(model):
    """Billions of parameters (config ``models.<name>.params_b``); tiny spec models count as 0."""
    return float(config["models"][model].get("params_b", 0.0))


def _lora(policy):
    return (
        config["policies"][policy].get("finetune", config["ppo"].get("finetune"))
        == "lora"
    )


# Resource functions: size-dependent GPU-job resources come from the config's model sizes, so
# profiles/slurm holds only cluster facts (partitions, GPU model, account). Runtimes double on retry.
def reward_mem_mb(wildcards, attempt):
    return int(16000 + 16000 * _params_b(config["reward"]["backbone"]))


def reward_runtime(wildcards, attempt):
    return int((60 + 600 * _params_b(config["reward"]["backbone"])) * attempt)


def policy_mem_mb(wildcards, attempt):
    return int(32000 + 8000 * _params_b(wildcards.policy))


def policy_runtime(wildcards, attempt):
    # LoRA steps on 7B/8B models cost about as much as full steps on a 2B model.
    size = _params_b(wildcards.policy) * (0.3 if _lora(wildcards.policy) else 1.0)
    return int(min(60 + 600 * size, 2880) * attempt)


def eval_mem_mb(wildcards, attempt):
    return int(16000 + 4000 * _params_b(wildcards.policy))


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


def eval_runtime(wildcards, attempt):
    minutes = sum(
        _cell_minutes(name, _params_b(wildcards.policy))
        for name in _job_benchmarks(wildcards)
    )
    return int(minutes * attempt)


def reward_training_params(wildcards):
    return {"seed": config["seed"], **config["reward"]["training"]}


def reward_targets():
    return expand(f"{RESULTS}/reward/{{setting}}/metrics.json", setting=SETTINGS)


def all_targets():
    return (
        data_targets()
        + reward_targets()
        + ppo_targets()
        + eval_targets()
        + table_outputs()
        + figure_outputs()
    )
