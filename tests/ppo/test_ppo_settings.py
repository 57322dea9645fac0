import pytest

from karma.ppo.settings import PolicyTrainingConfig, PPOSettings


@pytest.mark.parametrize("key", ["total_episodes", "batch_size", "response_length", "kl_horizon"])
def test_a_zero_count_is_named_before_any_training(key):
    with pytest.raises(ValueError, match=rf"ppo\.{key} must be a positive integer, got 0"):
        PolicyTrainingConfig.from_mapping({"ppo": {key: 0}})


def test_a_batch_that_mini_batches_do_not_divide_is_rejected():
    with pytest.raises(ValueError, match="ppo.batch_size=12 must be a multiple of ppo.mini_batch_size=8"):
        PPOSettings(batch_size=12, mini_batch_size=8, micro_batch_size=8)


def test_checkpoint_and_sample_intervals_are_counts():
    with pytest.raises(ValueError, match=r"ppo\.sample_every must be a positive integer, got 0"):
        PolicyTrainingConfig.from_mapping({"sample_every": 0})
    config = PolicyTrainingConfig.from_mapping({"ppo": {"batch_size": 16, "mini_batch_size": 8,
                                                        "micro_batch_size": 4}, "checkpoint_every": 5})
    assert (config.ppo.batch_size, config.checkpoint_every) == (16, 5)
