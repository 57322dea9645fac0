"""Reward-model training settings, parsed and checked without importing torch or transformers.

The workflow checks ``reward.training`` when it starts, before any job runs; the training job builds
the same :class:`RewardTrainingConfig` from the same mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from karma.settings import checked_kwargs, require_positive_ints

DEFAULT_THRESHOLD = 0.5
SCHEDULES = ("linear", "cosine", "constant_with_warmup")


@dataclass(frozen=True)
class RewardTrainingConfig:
    """Training hyperparameters; :meth:`from_dict` builds one from the workflow config and checks it."""

    learning_rate: float = 1e-5
    weight_decay: float = 0.01
    batch_size: int = 16
    micro_batch_size: int = 16
    epochs: int = 1
    max_steps: int | None = None
    max_length: int = 512
    warmup_ratio: float = 0.03
    lr_schedule: str = "linear"
    max_grad_norm: float | None = 1.0
    bf16: bool | str = "auto"
    gradient_checkpointing: bool = False
    head_hidden_size: int | None = None
    head_dropout: float = 0.0
    seed: int = 0
    checkpoint_every_steps: int = 100
    keep_checkpoints: int = 1
    log_every_steps: int = 10
    eval_batch_size: int = 32
    threshold: float = DEFAULT_THRESHOLD
    device: str = "auto"

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RewardTrainingConfig:
        """Reject unknown keys by name; accept ints and numeric strings (YAML reads ``1e-5`` as text)
        where a float is expected."""
        return cls(**checked_kwargs(cls, raw, "reward.training"))

    def __post_init__(self) -> None:
        positive_ints = (
            "batch_size",
            "micro_batch_size",
            "epochs",
            "max_length",
            "checkpoint_every_steps",
            "keep_checkpoints",
            "log_every_steps",
            "eval_batch_size",
        )
        require_positive_ints(self, positive_ints, "reward.training")
        if self.max_steps is not None and (
            not isinstance(self.max_steps, int) or self.max_steps < 1
        ):
            raise ValueError(
                f"reward training key 'max_steps' must be a positive integer or null, got {self.max_steps!r}"
            )
        if self.batch_size % self.micro_batch_size:
            raise ValueError(
                f"batch_size {self.batch_size} is not a multiple of micro_batch_size "
                f"{self.micro_batch_size}; gradient accumulation needs whole micro-batches"
            )
        if not (isinstance(self.learning_rate, float) and self.learning_rate > 0):
            raise ValueError(
                f"reward training key 'learning_rate' must be a positive number, got {self.learning_rate!r}"
            )
        if not 0.0 <= self.warmup_ratio < 1.0:
            raise ValueError(
                f"reward training key 'warmup_ratio' must be in [0, 1), got {self.warmup_ratio!r}"
            )
        if self.lr_schedule not in SCHEDULES:
            raise ValueError(
                f"reward training key 'lr_schedule' is {self.lr_schedule!r}; use one of {', '.join(SCHEDULES)}"
            )
        if self.bf16 not in (True, False, "auto"):
            raise ValueError(
                f"reward training key 'bf16' must be true, false or 'auto', got {self.bf16!r}"
            )
        if not 0.0 <= self.head_dropout < 1.0:
            raise ValueError(
                f"reward training key 'head_dropout' must be in [0, 1), got {self.head_dropout!r}"
            )

    @property
    def accumulation_steps(self) -> int:
        return self.batch_size // self.micro_batch_size
