# Helpers, target functions and wildcard constraints, all derived from the validated config.
import glob
import os
import re
from pathlib import Path

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
# The karma reward on held-out prompts is its own job (sampling + reward models); the rest run in lm-eval.
KARMA_REWARD = "reward"
EVAL_REWARD = KARMA_REWARD in config["benchmarks"]["names"]
BENCHMARKS = [name for name in config["benchmarks"]["names"] if name != KARMA_REWARD]
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
    if "reward" not in config["benchmarks"]:
        raise ValueError(
            "benchmarks.names lists 'reward' but the config has no benchmarks.reward section "
            "(samples_per_prompt, max_new_tokens, temperature, ...; see config/README.md)"
        )
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


def _eval_minutes(policy, cells, attempt):
    return int((30 + 60 * _params_b(policy)) * cells * attempt)


def eval_runtime(wildcards, attempt):
    cells = 1 if "benchmark" in wildcards.keys() else len(BENCHMARKS)
    return _eval_minutes(wildcards.policy, cells, attempt)


def reward_eval_runtime(wildcards, attempt):
    return _eval_minutes(wildcards.policy, 1, attempt)


def reward_training_params(wildcards):
    return {"seed": config["seed"], **config["reward"]["training"]}


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
