"""Policy directories: a chat template of the prompt format, a model card, provenance; PPO progress."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest
from tiny_world import (
    SPECS,
    reward_tokenizer,
    write_policy,
    write_prompts,
)

from karma.backbones import build_causal_lm, load_tokenizer
from karma.formats import chat_messages, render_prompt
from karma.ppo.state import read_prompts
from karma.ppo.training import export_base_policy, train_policy
from karma.reward.model import KarmaRewardModel, save_reward_model

RUN_CONFIG = {"run": "unit", "label": {"ratio": 0.4}}
PPO = {"ppo": {"batch_size": 2, "mini_batch_size": 2, "micro_batch_size": 1, "ppo_epochs": 1,
               "response_length": 4, "rollout_batch_size": 2, "max_prompt_tokens": 512,
               "total_episodes": 6}}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("policy-outputs")
    tokenizer = reward_tokenizer()
    backbone = build_causal_lm(SPECS["llama"], tokenizer, seed=2).base_model
    reward = KarmaRewardModel.from_backbone(backbone, max_input_tokens=384, seed=3)
    reward.config.input_format = "generalized"
    reward.config.label_rule = {"ratio": 0.4, "nonpositive_parent": "positive_score"}
    save_reward_model(reward, tokenizer, root / "rm")
    return {"policy": write_policy(root / "falcon-tiny", "falcon"), "reward_model": root / "rm",
            "prompts": write_prompts(root / "prompts.parquet")}


def check_chat_template(model_dir: Path, prompts_path: Path) -> None:
    tokenizer = load_tokenizer(model_dir)
    for prompt in read_prompts(prompts_path)[:6]:
        for setting in ("generalized", "conditioned"):
            rendered = tokenizer.apply_chat_template(
                chat_messages(prompt.conversation, setting), add_generation_prompt=True, tokenize=False)
            assert rendered == render_prompt(prompt.conversation, setting)


def test_ppo_policy_directory(world, tmp_path, caplog):
    out = tmp_path
    with caplog.at_level(logging.INFO, logger="karma.ppo.training"):
        summary = train_policy(world["policy"], world["reward_model"], world["prompts"], "benign",
                               "generalized", out / "model", out / "train_log.jsonl", out / "ckpt", PPO,
                               policy_name="falcon-tiny", source="hub: org/falcon-tiny",
                               run_config=RUN_CONFIG)
    check_chat_template(out / "model", world["prompts"])
    card = (out / "model/README.md").read_text()
    assert card.startswith("---\n") and "pipeline_tag: text-generation" in card
    assert "# falcon-tiny, karma variant benign" in card and "hub: org/falcon-tiny" in card
    assert "at least 0.4 times its parent's score" in card and "reward hacking" in card
    assert f'"mean_reward_last": {json.dumps(summary["mean_reward_last"])}' in card
    assert '"total_episodes": 6' in card
    assert json.loads((out / "model/provenance.json").read_text())["config"] == RUN_CONFIG
    lines = [r.getMessage() for r in caplog.records if r.name == "karma.ppo.training"]
    assert any(line.startswith("PPO falcon-tiny/benign: 0.0% (0 of 3 updates)") for line in lines)
    done = [line for line in lines if line.startswith("PPO falcon-tiny/benign: 100.0% (3 of 3 updates)")]
    assert done and "ETA 0:00:00 (done); reward " in done[-1]


def test_base_export_directory(world, tmp_path):
    export_base_policy(world["policy"], tmp_path / "base", policy_name="falcon-tiny",
                       source="built from the config spec models.falcon-tiny.spec", run_config=RUN_CONFIG)
    check_chat_template(tmp_path / "base", world["prompts"])
    card = (tmp_path / "base/README.md").read_text()
    assert "# falcon-tiny, karma variant base" in card and "models.falcon-tiny.spec" in card
    assert "None: this variant is not trained" in card and "## Provenance" in card
    assert json.loads((tmp_path / "base/provenance.json").read_text())["config"] == RUN_CONFIG
