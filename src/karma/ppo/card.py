"""Model cards of the policies: the PPO-trained variants and the untrained ``base`` export."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from karma.data.labels import LABEL_LIMITS, LabelRule
from karma.model_cards import ModelCard, json_block

PROMPTING = """The tokenizer carries a chat template of the workflow's prompt format
(`karma.formats`): tags `<|user|>`, `<|assistant|>`, `<|meta|>` (a `system` message: subreddit and
time, conditioned format only) and `<|context|>` (a `context` message: other replies), each followed
by a newline. `tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)`
gives exactly the prompt the policy saw in PPO (`karma.formats.render_prompt`);
`karma.formats.chat_messages(conversation, setting)` builds the messages. Benchmarks in this
workflow prompt zero-shot without the template, as lm-eval does by default."""

METADATA = {"library_name": "transformers", "pipeline_tag": "text-generation"}


def _reward_model_rule(reward_model_dir: Path) -> tuple[str, str]:
    """The reward model's input format and its label rule, as its config records them."""
    config = json.loads((reward_model_dir / "config.json").read_text())
    rule = config.get("label_rule")
    described = LabelRule(**rule).describe() if rule else "Not recorded with the reward model."
    return config.get("input_format") or "not recorded", described


def ppo_policy_card(
    *,
    policy: str,
    variant: str,
    setting: str,
    source: str,
    reward_model_dir: str | Path,
    prompts_path: str | Path,
    training_config: Mapping[str, Any],
    summary: Mapping[str, Any],
) -> ModelCard:
    reward_dir = Path(reward_model_dir)
    reward_format, rule = _reward_model_rule(reward_dir)
    return ModelCard(
        title=f"{policy}, karma variant {variant}",
        summary=(
            f"The policy `{policy}` ({source}) after PPO against the karma reward model "
            f"`{reward_dir}` ({reward_format} format): responses to the prompts in "
            f"`{prompts_path}` were scored by the reward model's P(rewarding), rendered in the "
            f"**{setting}** format, with a KL penalty towards the untrained policy."
        ),
        sections={
            "Prompting": PROMPTING,
            "Reward and its label rule": rule,
            "Limits": LABEL_LIMITS
            + "\n- PPO maximises a learned reward: watch for reward hacking (the KL band and the "
            "sampled responses in the train log), above all when the policy shares the reward "
            "model's family.",
            "Data": f"PPO prompts: `{prompts_path}` (the data stage's prompt file).",
            "Training": json_block(dict(training_config)),
            "Training summary": "From the PPO run (per-update rows are in `train_log.jsonl`; "
            "benchmark results are the cells under `eval/`).\n\n" + json_block(dict(summary)),
        },
        metadata={**METADATA, "tags": ["karma", "ppo", variant]},
    )


def base_policy_card(*, policy: str, source: str, policy_dir: str | Path) -> ModelCard:
    return ModelCard(
        title=f"{policy}, karma variant base",
        summary=(
            f"The policy `{policy}` ({source}) exactly as it was in `{policy_dir}`, re-saved as a "
            "self-contained safetensors directory with the workflow's chat template: the "
            "untrained reference of every comparison."
        ),
        sections={
            "Prompting": PROMPTING,
            "Reward and its label rule": "None: this variant is not trained. The other variants "
            "are PPO-trained against karma reward models; their cards state the label rule.",
            "Limits": "Those of the original model (see its own model card). The karma label's "
            "limits concern the trained variants compared against this one:\n\n" + LABEL_LIMITS,
            "Data": "No training data of this workflow.",
            "Training": "None.",
        },
        metadata={**METADATA, "tags": ["karma", "base"]},
    )
