"""Whole-config checks, run when the workflow is parsed, before Snakemake builds its DAG.

A config error found inside a job comes too late: Snakemake has already deleted that job's previous
outputs (a typo in one policy's PPO settings once destroyed a trained policy). Everything a job
would refuse is therefore refused here, with every problem listed at once, each naming its key.

The stage settings are parsed by the stages' own (torch-free) parsers, handed in as
:class:`SectionParsers`: this core module imports no stage. Merging a policy's overrides over the
``ppo`` section is the workflow's business (``snakemake.utils.update_config``); the merged
mappings come in ready, so the check sees exactly what the job will get.
"""

from __future__ import annotations

import glob as globbing
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from karma.settings import NumberKind, parse_number

GLOB_CHARS = re.compile(r"[*?\[]")
# karma.evaluation.cells.KARMA_REWARD_BENCHMARK (core cannot import evaluation; tests/evaluation/test_karma_reward.py
# keeps them equal):
# its items are held-out prompts, built by the data stage, not a benchmark file.
KARMA_REWARD = "reward"
# A dump's file name up to its first '.' names its jobs and outputs (results/<run>/data/posts/<name>...).
DUMP_NAME = re.compile(r"^R[SC]_[A-Za-z0-9_-]+$")
DUMP_PREFIX = {"submissions": "RS_", "comments": "RC_"}
# libyaml's loader where PyYAML was built with it: six times faster, and this runs at every parse.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class ConfigError(ValueError):
    """One or more config problems; the message lists them all, one per line."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        count = f"{len(self.problems)} problem{'s' if len(self.problems) != 1 else ''}"
        lines = "\n".join(f"  - {problem}" for problem in self.problems)
        super().__init__(f"Config error ({count}; nothing was run):\n{lines}")


@contextmanager
def stop_on_config_errors() -> Iterator[None]:
    """For entry points such as the Snakefile: a :class:`ConfigError` ends the program with its
    message alone (exit status 1), since a traceback would only hide the list of problems."""
    try:
        yield
    except ConfigError as error:
        raise SystemExit(str(error)) from None


# --------------------------------------------------------------------------- numbers


def coerce_numeric_strings(config: dict[str, Any], schema_path: str | Path) -> None:
    """Turn numeric strings into numbers, in place, wherever the JSON schema asks for a number.

    YAML 1.1 reads ``1e-5`` as text; without this the schema would refuse ``learning_rate: 1e-5``
    with a type error. A non-numeric string in a number-only key is a :class:`ConfigError` saying
    what to write. Sections the schema leaves open (``ppo``, ``policies``, ``models.*.spec``,
    ``benchmarks.toxicity``) are parsed by their own settings classes, which do the same.
    """
    schema = yaml.load(Path(schema_path).read_text(), Loader=_YAML_LOADER)
    problems: list[str] = []
    _coerce(config, schema, schema, "", problems)
    if problems:
        raise ConfigError(problems)


def _resolve(node: Any, root: Mapping[str, Any]) -> Any:
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
        target: Any = root
        for part in node["$ref"][2:].split("/"):
            target = target[part]
        node = target
    return node


def _branches(node: Mapping[str, Any], root: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """``node`` and the alternatives of its oneOf/anyOf, references resolved."""
    found = [node]
    for key in ("oneOf", "anyOf"):
        for branch in node.get(key, ()):
            found.extend(_branches(_resolve(branch, root), root))
    return found


def _number_kind(node: Mapping[str, Any], root: Mapping[str, Any], text: str) -> NumberKind | None:
    """The number kind to parse ``text`` as, or None where the schema also takes this string."""
    types: set[str] = set()
    for branch in _branches(node, root):
        if text in branch.get("enum", ()) or branch.get("const") == text:
            return None
        declared = branch.get("type", ())
        types.update([declared] if isinstance(declared, str) else declared)
    if "string" in types:
        return None
    if "number" in types:
        return "float"
    return "int" if "integer" in types else None


def _coerce(value: Any, node: Any, root: Mapping[str, Any], where: str, problems: list[str]) -> Any:
    node = _resolve(node, root)
    if not isinstance(node, Mapping):
        return value
    if isinstance(value, str):
        kind = _number_kind(node, root, value)
        if kind is None:
            return value
        try:
            return parse_number(value, kind, where)
        except ValueError as error:
            problems.append(str(error))
            return value
    if isinstance(value, dict):
        properties = node.get("properties", {})
        extra = node.get("additionalProperties")
        for key, item in value.items():
            child = properties.get(key, extra if isinstance(extra, Mapping) else None)
            if child is not None:
                value[key] = _coerce(item, child, root, f"{where}.{key}" if where else key, problems)
    elif isinstance(value, list) and isinstance(node.get("items"), Mapping):
        for index, item in enumerate(value):
            value[index] = _coerce(item, node["items"], root, f"{where}[{index}]", problems)
    return value


# --------------------------------------------------------------------------- dumps


def configured_dumps(key: str, entries: Sequence[str], glob: Callable[[str], list[str]] = globbing.glob
                     ) -> dict[str, str]:
    """Dump name (file name up to its first '.', e.g. ``RS_2019-01``) -> path, for ``reddit.<key>``.

    Globs are expanded against existing files; literal paths pass through, existing or not (the
    workflow decides what a missing one means). Names must be distinct, start with the prefix of
    their kind (``RS_``/``RC_``) and be safe as a path component.
    """
    problems: list[str] = []
    by_name: dict[str, str] = {}
    for entry in entries:
        paths = sorted(glob(entry)) if GLOB_CHARS.search(entry) else [entry]
        if not paths:
            problems.append(
                f"reddit.{key}: the pattern {entry!r} matches no file; download the dumps first "
                "(see config/README.md) or list the files explicitly"
            )
        for path in paths:
            name = Path(path).name.split(".")[0]
            if not DUMP_NAME.match(name):
                problems.append(
                    f"reddit.{key}: {path!r} is not a Pushshift dump name: it must start with "
                    f"{DUMP_PREFIX[key]} and hold only letters, digits, '_' and '-' before its first '.'"
                )
            elif not name.startswith(DUMP_PREFIX[key]):
                problems.append(
                    f"reddit.{key}: {name!r} is not an {DUMP_PREFIX[key]} ({key}) dump"
                )
            elif name in by_name:
                problems.append(
                    f"reddit.{key}: two dumps share the name {name!r} ({by_name[name]} and {path}); "
                    "each dump needs a distinct file name"
                )
            else:
                by_name[name] = path
    if problems:
        raise ConfigError(problems)
    return by_name


# --------------------------------------------------------------------------- the whole config


@dataclass(frozen=True)
class SectionParsers:
    """The stages' settings parsers; each raises ValueError/TypeError naming the bad key."""

    reward_training: Callable[[Mapping[str, Any]], object]
    policy_training: Callable[[Mapping[str, Any], str], object]
    toxicity: Callable[[Mapping[str, Any]], object]
    backbone_spec: Callable[[Mapping[str, Any], str], object]


def _parsed(where: str, parse: Callable[[], object]) -> str | None:
    """None when ``parse`` succeeds, else its message, prefixed with ``where`` unless it names it."""
    try:
        parse()
    except (ValueError, TypeError) as error:
        message = str(error)
        return message if message.startswith(where) else f"{where}: {message}"
    return None


def _known(names: Mapping[str, Any] | Sequence[str]) -> str:
    return ", ".join(sorted(names)) or "none"


def _karma_reward_problems(config: Mapping[str, Any]) -> list[str]:
    """The karma reward benchmark samples replies to held-out prompts: it needs its settings, not a file."""
    problems = []
    if "reward" not in config["benchmarks"]:
        problems.append("benchmarks.reward: missing; benchmarks.names runs 'reward', so give its sampling "
                        "settings (samples_per_prompt, max_new_tokens, temperature, ...; see config/README.md)")
    if "heldout" not in config["prompts"]:
        problems.append("prompts.heldout: missing; benchmarks.names runs 'reward', so give how many held-out "
                        "prompts it scores ({reddit: N, ultrachat: N}; see config/README.md)")
    return problems


def reference_problems(config: Mapping[str, Any]) -> list[str]:
    """Names that must refer to something defined elsewhere in the config, and the family rule."""
    models, policies = config["models"], config["policies"]
    problems: list[str] = []
    backbone = config["reward"]["backbone"]
    if backbone not in models:
        problems.append(
            f"reward.backbone: {backbone!r} is not a key of models; known models: {_known(models)}"
        )
    for name, model in models.items():
        if "tokenizer" in model and model["tokenizer"] not in config["tokenizers"]:
            problems.append(
                f"models.{name}.tokenizer: {model['tokenizer']!r} is not a key of tokenizers; "
                f"known tokenizers: {_known(config['tokenizers'])}"
            )
    for name in policies:
        if name not in models:
            problems.append(f"policies.{name}: {name!r} is not a key of models; known models: {_known(models)}")
    for variant, spec in config["variants"].items():
        for policy in spec["policies"]:
            if policy not in policies:
                problems.append(
                    f"variants.{variant}.policies: {policy!r} is not a key of policies; "
                    f"known policies: {_known(policies)}"
                )
    for policy in config["report"]["paper_policy_map"]:
        if policy not in policies:
            problems.append(
                f"report.paper_policy_map: {policy!r} is not a key of policies; known policies: {_known(policies)}"
            )
    benchmarks = config["benchmarks"]
    for name in benchmarks["names"]:
        if name == KARMA_REWARD:
            problems += _karma_reward_problems(config)
        elif name not in benchmarks["data"]:
            problems.append(
                f"benchmarks.data.{name}: missing; benchmarks.names runs {name!r}, so give its data path"
            )
    toxicity = benchmarks["toxicity"]
    if "toxicity" in benchmarks["names"] and toxicity.get("scorer", "detoxify") == "detoxify":
        for key in ("detoxify_checkpoint", "detoxify_config_dir"):
            if not toxicity.get(key):
                problems.append(
                    f"benchmarks.toxicity.{key}: missing; the detoxify scorer needs it "
                    "(see config/README.md, benchmarks.toxicity)"
                )
    if backbone in models:
        family = models[backbone]["family"]
        for name, overrides in policies.items():
            same = name in models and models[name]["family"] == family
            if same and not (overrides or {}).get("same_family_intended", False):
                problems.append(
                    f"policies.{name}: of the reward model's family ({family!r}); PPO against a reward "
                    "model of its own family invites reward hacking (the paper excluded Llama-1B for "
                    f"this). Set policies.{name}.same_family_intended: true if intended"
                )
    return problems


def section_problems(config: Mapping[str, Any], policy_settings: Mapping[str, Mapping[str, Any]],
                     reward_training: Mapping[str, Any], parsers: SectionParsers) -> list[str]:
    """Every settings section and entry parsed as its job will parse it.

    ``ppo`` must be valid on its own (it is the shared base); each policy's merged settings are then
    checked under ``policies.<name>``, so a problem is reported once, where it was written.
    """
    checks: list[tuple[str, Callable[[], object]]] = [
        ("reward.training", lambda: parsers.reward_training(reward_training)),
        ("benchmarks.toxicity", lambda: parsers.toxicity(config["benchmarks"]["toxicity"])),
    ]
    for name, model in config["models"].items():
        if "spec" in model:
            where = f"models.{name}.spec"
            checks.append((where, lambda spec=model["spec"], where=where: parsers.backbone_spec(spec, where)))
    problems = [message for where, parse in checks if (message := _parsed(where, parse))]
    shared = _parsed("ppo", lambda: parsers.policy_training(config["ppo"], "ppo"))
    if shared:
        return [*problems, shared]
    for name, settings in policy_settings.items():
        where = f"policies.{name}"
        message = _parsed(where, lambda settings=settings, where=where: parsers.policy_training(settings, where))
        if message:
            problems.append(f"{message} (its overrides merged over ppo)")
    return problems


def check_workflow_config(config: Mapping[str, Any], *, policy_settings: Mapping[str, Mapping[str, Any]],
                          reward_training: Mapping[str, Any], parsers: SectionParsers) -> None:
    """Raise one :class:`ConfigError` listing every problem of a schema-valid config."""
    problems = reference_problems(config) + section_problems(config, policy_settings, reward_training, parsers)
    if problems:
        raise ConfigError(problems)
