"""The adaptive KL coefficient (Ziegler et al. 2019) and its place in the PPO config."""

import math

import pytest

from karma.ppo.kl_control import KLController
from karma.ppo.settings import PolicyTrainingConfig


def test_fixed_coefficient_never_moves():
    controller = KLController(0.05)
    assert controller.update(100.0, 64) == 0.05 and controller.value == 0.05


def test_coefficient_rises_above_the_target_and_falls_below_it_by_at_most_the_clip():
    controller = KLController(0.1, target=4.0, horizon=100)
    assert controller.update(4.0, 10) == pytest.approx(0.1)  # on target: unchanged
    assert controller.update(6.0, 10) == pytest.approx(0.1 * (1 + 0.2 * 10 / 100))  # error clipped at +0.2
    value = controller.value
    assert controller.update(3.6, 10) == pytest.approx(value * (1 - 0.1 * 10 / 100))  # error -0.1
    assert controller.update(-5.0, 10) == pytest.approx(value * (1 - 0.1 * 0.1) * (1 - 0.02))  # clipped at -0.2
    before = controller.value
    assert controller.update(math.nan, 10) == before  # a broken measurement changes nothing


def test_held_on_target_over_many_updates():
    """A KL that responds to the coefficient settles near the target (a toy plant: KL = 0.4 / beta)."""
    controller = KLController(0.05, target=4.0, horizon=64)
    for _ in range(400):
        controller.update(0.4 / controller.value, 16)
    assert 0.4 / controller.value == pytest.approx(4.0, rel=0.05)


def test_config_validation():
    config = PolicyTrainingConfig.from_mapping({"ppo": {"kl_target": 3, "kl_horizon": 500}})
    assert config.ppo.kl_target == 3.0 and config.ppo.kl_horizon == 500
    with pytest.raises(ValueError, match="kl_target"):
        PolicyTrainingConfig.from_mapping({"ppo": {"kl_target": 0}})
    with pytest.raises(ValueError, match="kl_horizon"):
        PolicyTrainingConfig.from_mapping({"ppo": {"kl_horizon": 0}})
    with pytest.raises(ValueError, match="kl_coef"):
        KLController(-1.0)
