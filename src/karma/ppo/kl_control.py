"""The KL coefficient of PPO, fixed or adapted toward a target KL (Ziegler et al. 2019, §2.2).

A fixed coefficient is either too weak (the policy drifts until its replies collapse onto whatever the
reward model likes best) or too strong (nothing moves); which one depends on the policy, the reward
model and the learning rate. The adaptive controller of "Fine-Tuning Language Models from Human
Preferences" sets it per update from the KL just measured:

    e = clip(KL / target - 1, -0.2, 0.2);   beta <- beta * (1 + e * batch_size / horizon)

so the KL is held near ``target`` (nats per response, the k1 estimate PPO logs) and the coefficient
moves by at most ``0.2 * batch_size / horizon`` per update. Nothing here knows about TRL.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

MAX_PROPORTIONAL_ERROR = 0.2


@dataclass
class KLController:
    """The KL coefficient for the next update; ``target`` None keeps it fixed."""

    value: float
    target: float | None = None
    horizon: int = 10_000

    def __post_init__(self) -> None:
        if not self.value >= 0:
            raise ValueError(f"ppo.kl_coef must be >= 0, got {self.value!r}")
        if self.target is not None and not self.target > 0:
            raise ValueError(f"ppo.kl_target must be > 0 (nats per response) or null, got {self.target!r}")
        if self.horizon < 1:
            raise ValueError(f"ppo.kl_horizon must be at least 1 episode, got {self.horizon!r}")

    def update(self, kl: float, episodes: int) -> float:
        """Adapt to the KL measured over ``episodes`` rollouts; returns the new coefficient."""
        if self.target is None or not math.isfinite(kl):
            return self.value
        error = min(max(kl / self.target - 1.0, -MAX_PROPORTIONAL_ERROR), MAX_PROPORTIONAL_ERROR)
        self.value *= 1.0 + error * episodes / self.horizon
        return self.value
