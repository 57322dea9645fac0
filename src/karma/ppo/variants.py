"""PPO variants (a reward setting and a prompt source) and the same-family safety rail."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from karma.formats import SETTINGS, Setting
from karma.settings import checked_kwargs

log = logging.getLogger(__name__)

PROMPT_SOURCES = ("reddit", "ultrachat")
LABEL_KINDS = ("observed", "permuted")
PROMPT_METADATA = ("none", "sampled")
SAME_FAMILY_KEY = "same_family_intended"


@dataclass(frozen=True)
class Variant:
    """A PPO variant: which reward model setting scores which prompts (``base``: no training), and
    whether prompts without subreddit and time get them drawn from the training data (``sampled``).

    ``permuted_labels``: the reward model is trained on the setting's examples with labels permuted
    within the training split (the negative control). No policies: the variant is defined but off.
    """

    name: str
    reward_setting: Setting | None
    prompt_source: str | None
    policies: tuple[str, ...]
    permuted_labels: bool = False
    metadata: str = "none"

    @property
    def trains(self) -> bool:
        return self.reward_setting is not None


def variants_from_config(raw: Mapping[str, Mapping[str, Any]]) -> dict[str, Variant]:
    """Parse ``{name: {setting, prompts, labels, metadata, policies}}``; a variant without setting/prompts is
    untrained; ``labels: permuted`` trains against the permuted-label reward model.

    Example: ``{"benign": {"setting": "generalized", "prompts": "ultrachat", "policies": ["pythia"]}}``.
    """
    variants: dict[str, Variant] = {}
    for name, spec in raw.items():
        kwargs = checked_kwargs(_VariantSpec, spec, f"variant {name!r}")
        spec_ = _VariantSpec(**kwargs)
        if (spec_.setting is None) != (spec_.prompts is None):
            raise ValueError(
                f"variant {name!r}: set both 'setting' and 'prompts' (a trained variant) or neither "
                "(the untrained base)"
            )
        if spec_.setting is not None and spec_.setting not in SETTINGS:
            raise ValueError(
                f"variant {name!r}: setting {spec_.setting!r} is not one of {', '.join(SETTINGS)}"
            )
        if spec_.prompts is not None and spec_.prompts not in PROMPT_SOURCES:
            raise ValueError(
                f"variant {name!r}: prompts {spec_.prompts!r} is not one of {', '.join(PROMPT_SOURCES)}"
            )
        if spec_.labels not in LABEL_KINDS:
            raise ValueError(f"variant {name!r}: labels {spec_.labels!r} is not one of {', '.join(LABEL_KINDS)}")
        if spec_.labels == "permuted" and spec_.setting is None:
            raise ValueError(f"variant {name!r}: permuted labels need a trained variant (setting and prompts)")
        if isinstance(spec_.policies, str) or not isinstance(spec_.policies, Sequence):
            raise ValueError(f"variant {name!r}: 'policies' must be a list of policy names (empty: off)")
        if spec_.metadata not in PROMPT_METADATA:
            raise ValueError(
                f"variant {name!r}: metadata {spec_.metadata!r} is not one of {', '.join(PROMPT_METADATA)}"
            )
        if spec_.metadata != "none" and spec_.setting != "conditioned":
            raise ValueError(
                f"variant {name!r}: metadata {spec_.metadata!r} needs the conditioned setting, the only one "
                "that renders a subreddit and time"
            )
        variants[name] = Variant(name, spec_.setting, spec_.prompts, tuple(spec_.policies),
                                 permuted_labels=spec_.labels == "permuted", metadata=spec_.metadata)
    return variants


@dataclass(frozen=True)
class _VariantSpec:
    policies: Sequence[str]
    setting: str | None = None
    prompts: str | None = None
    labels: str = "observed"
    metadata: str = "none"


# --------------------------------------------------------------------------------------------------
# Same-family check


def model_family(model_dir: str | Path) -> str:
    """The architecture family (``model_type``) of a model directory; for a karma reward model, its
    backbone's family."""
    config_path = Path(model_dir) / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{model_dir} has no config.json: not a model directory")
    config = json.loads(config_path.read_text())
    text_config = config.get("text_config")
    if isinstance(text_config, Mapping) and "model_type" in text_config:
        return str(text_config["model_type"])
    if "model_type" not in config:
        raise ValueError(f"{config_path} names no model_type; cannot tell the model's family")
    return str(config["model_type"])


def check_same_family(policy_name: str, policy_family: str, reward_family: str, intended: bool) -> None:
    """Refuse a policy of the reward model's own family unless the config says it is intended.

    A policy that shares the reward model's lineage (pretraining data and usually tokenizer) can
    exploit the reward model's blind spots: the paper excluded Llama-1B for this reason. The family is
    the lineage named in the config (``models.<name>.family``), not the architecture: Falcon3 is a
    Llama-architecture model (``model_type: llama``) trained by TII on its own data with its own
    tokenizer, and the paper ran its Falcon models without flagging them.
    """
    if policy_family != reward_family:
        return
    if intended:
        log.warning(
            "policy %s is of the reward model's family (%s); allowed because %s is set",
            policy_name, reward_family, SAME_FAMILY_KEY,
        )
        return
    raise ValueError(
        f"policy {policy_name!r} is of the reward model's family ({reward_family}): PPO against a "
        f"reward model of its own family invites reward hacking (the paper excluded Llama-1B). "
        f"Set {SAME_FAMILY_KEY}: true in this policy's PPO config if this is intended."
    )


def resolve_families(
    policy_dir: str | Path, reward_model_dir: str | Path, policy_family: str | None, reward_family: str | None
) -> tuple[str, str]:
    """The two families the same-family check compares: the configured lineages where given, else each
    model's ``model_type``. Logs when the architectures match but the lineages do not."""
    policy_type, reward_type = model_family(policy_dir), model_family(reward_model_dir)
    families = (policy_family or policy_type, reward_family or reward_type)
    if policy_type == reward_type and families[0] != families[1]:
        log.info(
            "policy and reward model share the %s architecture but not the family (%s vs %s): not the "
            "same-family case", policy_type, *families,
        )
    return families
