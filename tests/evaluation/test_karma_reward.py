"""The karma reward benchmark: PPO's sampling and reward path on held-out prompts, one cell per run."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
from tiny_world import write_policy, write_prompts, write_reward_model

from karma.backbones import load_causal_lm, load_tokenizer
from karma.evaluation.cells import KARMA_REWARD_BENCHMARK, read_cell
from karma.evaluation.karma_reward import (
    RewardBenchmarkConfig,
    evaluate_karma_reward,
    sample_replies,
    score_items,
)
from karma.formats import render_example, render_prompt, split_example
from karma.ppo.cross_tokenizer import decode_response
from karma.ppo.state import read_prompts
from karma.reward.model import RewardScorer

CONFIG = RewardBenchmarkConfig(samples_per_prompt=3, max_new_tokens=6, batch_size=4, seed=11, device="cpu")


class RecordingScorer:
    """Scores a text by its reply's length, and remembers every text it was given."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def score(self, texts):
        self.texts.extend(texts)
        return np.array([min(len(split_example(t)[1]) / 40, 1.0) for t in texts])


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("karma_reward")
    return {
        "policy": write_policy(root / "policy", "gpt_neox"),
        "rm": write_reward_model(root / "rm", "llama"),
        "prompts": write_prompts(root / "heldout.parquet", n=10),
        "root": root,
    }


def test_items_are_prompts_scored_through_the_ppo_reward_path(world):
    model, tokenizer = load_causal_lm(world["policy"]), load_tokenizer(world["policy"])
    prompts = read_prompts(world["prompts"])
    scorer = RecordingScorer()
    items, examples = score_items(model, tokenizer, prompts, {"generalized": scorer}, CONFIG)
    replies = sample_replies(model, tokenizer, prompts, CONFIG)
    assert [i.id for i in items] == [p.prompt_id for p in prompts]
    # What the scorer saw is exactly PPO's reward text: the prompt's conversation with the reply cut
    # at eos/pad, decoded by the policy's tokenizer (karma.ppo.cross_tokenizer).
    by_id = {p.prompt_id: p for p in prompts}
    expected = [render_example(by_id[r.prompt_id].conversation, decode_response(r.response_ids, tokenizer),
                               "generalized") for r in replies]
    assert scorer.texts == expected
    rewards = scorer.score(expected)
    for index, item in enumerate(items):
        assert item.score == pytest.approx(rewards[3 * index : 3 * index + 3].mean())
        assert item.scores["generalized"] == item.score and item.category == "reddit"
        assert 0 <= item.scores["eos_rate"] <= 1 and item.scores["response_tokens"] <= 6
    assert len(examples) == 3 and {"prompt_id", "response", "generalized"} <= set(examples[0])
    # Seeded: the same call samples the same replies.
    assert sample_replies(model, tokenizer, prompts, CONFIG) == replies
    with pytest.raises(ValueError, match="'generalized' scorer"):
        score_items(model, tokenizer, prompts, {"conditioned": scorer}, CONFIG)


def test_cell_holds_both_reward_models_scores(world, tmp_path):
    out = tmp_path / "reward.json"
    cell = evaluate_karma_reward(world["policy"], world["prompts"],
                                 {"generalized": world["rm"], "conditioned": world["rm"]}, out,
                                 policy="tiny", variant="base", config=CONFIG)
    assert read_cell(out) == cell
    assert cell.benchmark == KARMA_REWARD_BENCHMARK and cell.higher_is_better and cell.n == 10
    assert cell.primary_value == pytest.approx(np.mean([i.score for i in cell.items]))
    assert cell.metrics["karma_reward_conditioned"] == pytest.approx(
        np.mean([i.scores["conditioned"] for i in cell.items]))
    assert cell.categories["reddit"]["n"] == 10
    # The conditioned model reads the subreddit and time block, so its scores differ per item.
    assert any(i.scores["conditioned"] != pytest.approx(i.score) for i in cell.items)
    scorer = RewardScorer.from_pretrained(world["rm"], device="cpu")
    first = cell.task_config["examples"][0]
    prompt = next(p for p in read_prompts(world["prompts"]) if p.prompt_id == first["prompt_id"])
    direct = scorer.score([render_example(prompt.conversation, first["response"], "generalized")])[0]
    assert first["generalized"] == pytest.approx(direct, abs=1e-6)


def test_long_prompts_are_left_out_and_counted(world, tmp_path):
    tokenizer = load_tokenizer(world["policy"])
    lengths = [len(tokenizer(render_prompt(p.conversation, "generalized"))["input_ids"])
               for p in read_prompts(world["prompts"])]
    limit = sorted(lengths)[len(lengths) // 2]
    assert min(lengths) <= limit < max(lengths), "the fixture's prompts must differ in length"
    config = RewardBenchmarkConfig(samples_per_prompt=1, max_new_tokens=2, max_prompt_tokens=limit, device="cpu")
    cell = evaluate_karma_reward(world["policy"], world["prompts"], {"generalized": world["rm"]},
                                 tmp_path / "reward.json", policy="tiny", variant="base", config=config)
    assert cell.n == sum(n <= limit for n in lengths)
    assert cell.task_config["prompts_dropped_too_long"] == sum(n > limit for n in lengths)
    with pytest.raises(ValueError, match="unknown key"):
        RewardBenchmarkConfig.from_dict({"samples": 2})


def test_the_config_check_knows_the_benchmark_name():
    from karma.config_checks import KARMA_REWARD

    assert KARMA_REWARD == KARMA_REWARD_BENCHMARK
