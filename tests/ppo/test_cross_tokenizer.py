"""The cross-tokenizer PPO reward: a rollout's reward is the reward model on the formatted text."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
from tiny_world import policy_tokenizer, write_reward_model

from karma.formats import SETTINGS, Conversation, render_example
from karma.ppo.cross_tokenizer import (
    CrossTokenizerReward,
    decode_response,
    response_token_ids,
)
from karma.reward.model import RewardScorer

CONVERSATION = Conversation(
    title="why is the cat happy",
    body="my cat runs fast and is happy",
    parents=("the dog is sad",),
    siblings=("funny post", "good reply"),
    subreddit="cats",
    created_utc=1_650_000_000,
)


@pytest.fixture(scope="module")
def scorer(tmp_path_factory) -> RewardScorer:
    return RewardScorer.from_pretrained(write_reward_model(tmp_path_factory.mktemp("rm")), device="cpu")


@pytest.mark.parametrize("setting", SETTINGS)
def test_reward_is_reward_model_on_formatted_text_across_tokenizers(scorer, setting):
    policy_tok = policy_tokenizer()
    reward_tok = scorer.tokenizer
    text = "the dog is funny and we upvote"
    policy_ids = policy_tok(text, add_special_tokens=False)["input_ids"]
    assert policy_ids != reward_tok(text, add_special_tokens=False)["input_ids"], "tokenizers must differ"
    # What the policy generated: the response, its eos, then padding TRL appends after the stop.
    rollout = policy_ids + [policy_tok.eos_token_id, policy_tok.pad_token_id, policy_tok.pad_token_id]
    adapter = CrossTokenizerReward(scorer, policy_tok, setting)
    [scored] = adapter.score([CONVERSATION], [rollout])
    expected_text = render_example(CONVERSATION, text, setting)
    direct = float(scorer.score([expected_text])[0])
    assert scored.reward_text == expected_text
    assert scored.reward == pytest.approx(direct, abs=1e-7)
    # Feeding the policy's ids to the reward model as if they were its own (TRL's default) reads
    # another text entirely: the adapter is what makes the reward mean anything.
    assert reward_tok.decode(policy_ids, skip_special_tokens=True) != text


def test_batched_rewards_keep_rollout_order(scorer):
    policy_tok = policy_tokenizer()
    responses = ["happy cat", "sad dog runs slow", "why"]
    convs = [CONVERSATION, Conversation(title="what is karma"), CONVERSATION]
    rollouts = [policy_tok(r, add_special_tokens=False)["input_ids"] for r in responses]
    scored = CrossTokenizerReward(scorer, policy_tok, "generalized").score(convs, rollouts)
    direct = scorer.score([render_example(c, r, "generalized") for c, r in zip(convs, responses)])
    np.testing.assert_allclose([s.reward for s in scored], direct, atol=1e-7)
    with pytest.raises(ValueError, match="each rollout needs its own prompt"):
        CrossTokenizerReward(scorer, policy_tok, "generalized").score(convs[:2], rollouts)


def test_response_stops_at_first_eos_or_pad():
    assert response_token_ids([5, 6, 1, 7], eos_token_id=1, pad_token_id=2) == [5, 6]
    assert response_token_ids([5, 2, 1], eos_token_id=1, pad_token_id=2) == [5]
    assert response_token_ids([5, 6], eos_token_id=1, pad_token_id=2) == [5, 6]
    tok = policy_tokenizer()
    ids = tok("good reply", add_special_tokens=False)["input_ids"]
    assert decode_response(ids + [tok.eos_token_id] + ids, tok) == "good reply"


def test_unknown_setting_is_refused(scorer):
    with pytest.raises(ValueError, match="unknown reward setting"):
        CrossTokenizerReward(scorer, policy_tokenizer(), "subreddit")
