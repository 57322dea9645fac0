"""The cross-tokenizer PPO reward: a rollout's reward is the reward model on the formatted text.

Also home of the tiny offline "world" (two different tokenizers, tiny policies, a tiny reward model,
a prompt file) that the PPO tests in test_trl_backend.py and test_ppo_training.py build on.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from karma.backbones import build_causal_lm
from karma.demo.tokenizer_training import SpecialTokens, train_bpe_tokenizer
from karma.formats import SETTINGS, Conversation, render_example
from karma.ppo.cross_tokenizer import (
    CrossTokenizerReward,
    decode_response,
    response_token_ids,
)
from karma.reward.model import KarmaRewardModel, RewardScorer, save_reward_model

WORDS = (
    "the cat dog runs fast slow happy sad reddit karma post reply funny good bad why how what is "
    "are you me we they upvote thread joke story"
).split()

SPECS = {
    "llama": {"architecture": "llama", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
              "num_attention_heads": 2, "num_key_value_heads": 2, "max_position_embeddings": 512},
    "gpt_neox": {"architecture": "gpt_neox", "hidden_size": 32, "intermediate_size": 64,
                 "num_hidden_layers": 1, "num_attention_heads": 2, "max_position_embeddings": 512},
    "falcon": {"architecture": "falcon", "hidden_size": 32, "num_hidden_layers": 1,
               "num_attention_heads": 2, "max_position_embeddings": 512},
    # Falcon3's shape (tiiuae/Falcon3-1B-Base config.json): the Llama architecture with grouped-query
    # attention, a head_dim wider than hidden_size / heads, untied embeddings and rope_theta 1000042.
    "falcon3": {"architecture": "llama", "hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 1,
                "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 32, "tie_word_embeddings": False,
                "rope_parameters": {"rope_type": "default", "rope_theta": 1000042.0}, "max_position_embeddings": 512},
}


def sentence(rng: random.Random, n: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def policy_tokenizer():
    texts = [sentence(random.Random(i), 12) for i in range(200)]
    return train_bpe_tokenizer(texts, vocab_size=360, min_frequency=1)


def reward_tokenizer():
    """Other vocabulary size, other merges, other special-token names: ids never line up."""
    texts = [sentence(random.Random(1000 + i), 7) for i in range(120)]
    special = SpecialTokens(bos="<s>", eos="</s>", pad="<pad>", unk="<unk>")
    return train_bpe_tokenizer(texts, vocab_size=300, min_frequency=1, special=special)


def write_policy(out: Path, architecture: str, seed: int = 1) -> Path:
    tokenizer = policy_tokenizer()
    build_causal_lm(SPECS[architecture], tokenizer, seed=seed).save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out


def write_reward_model(out: Path, architecture: str = "llama") -> Path:
    tokenizer = reward_tokenizer()
    backbone = build_causal_lm(SPECS[architecture], tokenizer, seed=2).base_model  # without the LM head
    save_reward_model(KarmaRewardModel.from_backbone(backbone, max_input_tokens=384, seed=3), tokenizer, out)
    return out


def write_prompts(path: Path, n: int = 24) -> Path:
    rng = random.Random(7)
    rows = [
        {
            "prompt_id": f"p{i}",
            "source": "reddit",
            "title": sentence(rng, 4),
            "body": sentence(rng, 6),
            "parents": [sentence(rng, 3)] if i % 3 == 0 else [],
            "siblings": [sentence(rng, 3)],
            "subreddit": "jokes" if i % 2 else None,
            "created_utc": 1_600_000_000 + 3600 * i if i % 2 else None,
        }
        for i in range(n)
    ]
    pq.write_table(pa.Table.from_pylist(rows), path)
    return path


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
