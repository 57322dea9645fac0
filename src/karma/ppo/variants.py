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
SAME_FAMILY_KEY = "same_family_intended"


@dataclass(frozen=True)
class Variant:
    """A PPO variant: which reward model setting scores which prompts (``base``: no training).

    ``permuted_labels``: the reward model is trained on the setting's examples with labels permuted
    within the training split (the negative control). No policies: the variant is defined but off.
    """

    name: str
    reward_setting: Setting | None
    prompt_source: str | None
    policies: tuple[str, ...]
    permuted_labels: bool = False

    @property
    def trains(self) -> bool:
        return self.reward_setting is not None


def variants_from_config(raw: Mapping[str, Mapping[str, Any]]) -> dict[str, Variant]:
    """Parse ``{name: {setting, prompts, labels, policies}}``; a variant without setting/prompts is
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
        variants[name] = Variant(name, spec_.setting, spec_.prompts, tuple(spec_.policies),
                                 permuted_labels=spec_.labels == "permuted")
    return variants


@dataclass(frozen=True)
class _VariantSpec:
    policies: Sequence[str]
    setting: str | None = None
    prompts: str | None = None
    labels: str = "observed"


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

    A policy that shares the reward model's architecture (and usually its pretraining and tokenizer)
    can exploit the reward model's blind spots: the paper excluded Llama-1B for this reason.
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
        f"policy {policy_name!r} has the reward model's architecture family ({reward_family}): PPO "
        f"against a reward model of its own family invites reward hacking (the paper excluded "
        f"Llama-1B). Set {SAME_FAMILY_KEY}: true in this policy's PPO config if this is intended."
    )
