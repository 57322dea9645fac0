"""Reward-training settings parse and check without torch (the workflow checks them at start-up)."""

import pytest

from karma.reward.settings import RewardTrainingConfig


def test_config_defaults_and_validation():
    default = RewardTrainingConfig()
    assert (default.learning_rate, default.weight_decay, default.batch_size) == (1e-5, 0.01, 16)
    parsed = RewardTrainingConfig.from_dict(
        {"learning_rate": "2e-3", "warmup_ratio": 0, "micro_batch_size": 4, "max_steps": "1e3"}
    )
    assert parsed.learning_rate == 2e-3 and parsed.accumulation_steps == 4 and parsed.max_steps == 1000
    with pytest.raises(ValueError, match="'learnig_rate'"):
        RewardTrainingConfig.from_dict({"learnig_rate": 1e-3})
    with pytest.raises(ValueError, match="multiple of micro_batch_size"):
        RewardTrainingConfig.from_dict({"micro_batch_size": 5})
    with pytest.raises(ValueError, match="'bf16'"):
        RewardTrainingConfig.from_dict({"bf16": "yes"})
    with pytest.raises(ValueError, match="reward.training.learning_rate: 'fast' is not a number"):
        RewardTrainingConfig.from_dict({"learning_rate": "fast"})
