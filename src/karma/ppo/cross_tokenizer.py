"""The PPO reward for a policy whose tokenizer is not the reward model's.

A rollout arrives as token ids of the *policy's* tokenizer. The reward model was trained on
:func:`karma.formats.render_example` texts tokenized with *its own* tokenizer, so feeding it policy ids
(what TRL does by default) would score gibberish whenever the two tokenizers differ (the paper's Llama
reward model against Falcon and Pythia policies). This adapter goes through text instead: decode the
response with the policy tokenizer, cut it where the policy stopped, rebuild the exact reward-model
input for that prompt in the variant's setting, and score that text with the reward model. Nothing here
knows about TRL; :mod:`karma.ppo.trl_backend` plugs it into the trainer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from transformers import PreTrainedTokenizerBase

from karma.formats import SETTINGS, Conversation, Setting, render_example


class TextScorer(Protocol):
    """Texts in, P(rewarding) out, in input order (:class:`karma.reward.model.RewardScorer`)."""

    def score(self, texts: Sequence[str]) -> np.ndarray: ...


def response_token_ids(
    token_ids: Sequence[int], *, eos_token_id: int | None, pad_token_id: int | None
) -> list[int]:
    """The generated tokens up to (not including) the first eos or pad: where the policy stopped.

    Pad counts as a stop because the PPO trainer masks everything from the first pad onwards.
    """
    stops = {t for t in (eos_token_id, pad_token_id) if t is not None}
    kept: list[int] = []
    for token in token_ids:
        if int(token) in stops:
            break
        kept.append(int(token))
    return kept


def decode_response(token_ids: Sequence[int], tokenizer: PreTrainedTokenizerBase) -> str:
    """The response text as the policy's tokenizer reads it, cut at eos/pad, special tokens dropped."""
    kept = response_token_ids(
        token_ids, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id
    )
    return tokenizer.decode(kept, skip_special_tokens=True)


@dataclass(frozen=True)
class ScoredRollout:
    """One scored response: what the reward model saw (``reward_text``) and what it said."""

    response: str
    reward_text: str
    reward: float


class CrossTokenizerReward:
    """Scores policy rollouts with a reward model of any tokenizer, in one reward setting."""

    def __init__(
        self, scorer: TextScorer, policy_tokenizer: PreTrainedTokenizerBase, setting: Setting
    ) -> None:
        self.scorer = scorer
        self.policy_tokenizer = policy_tokenizer
        if setting not in SETTINGS:
            raise ValueError(f"unknown reward setting {setting!r}: use one of {', '.join(SETTINGS)}")
        self.setting = setting

    def reward_text(self, conversation: Conversation, response_ids: Sequence[int]) -> str:
        """The exact reward-model input for this rollout."""
        response = decode_response(response_ids, self.policy_tokenizer)
        return render_example(conversation, response, self.setting)

    def score(
        self, conversations: Sequence[Conversation], responses_ids: Sequence[Sequence[int]]
    ) -> list[ScoredRollout]:
        """One :class:`ScoredRollout` per (conversation, response ids) pair, in order."""
        if len(conversations) != len(responses_ids):
            raise ValueError(
                f"{len(conversations)} conversations but {len(responses_ids)} responses: "
                "each rollout needs its own prompt"
            )
        responses = [decode_response(ids, self.policy_tokenizer) for ids in responses_ids]
        texts = [
            render_example(conv, response, self.setting)
            for conv, response in zip(conversations, responses, strict=True)
        ]
        rewards = np.asarray(self.scorer.score(texts), dtype=np.float64)
        if rewards.shape != (len(texts),):
            raise ValueError(
                f"reward scorer returned shape {rewards.shape} for {len(texts)} texts; "
                "it must return one probability per text"
            )
        return [
            ScoredRollout(response=response, reward_text=text, reward=float(reward))
            for response, text, reward in zip(responses, texts, rewards, strict=True)
        ]
