"""PPO settings: the hyperparameters, LoRA, the KL band and the per-policy training config.

Shared by the orchestrator (:mod:`karma.ppo.training`) and the TRL backend (:mod:`karma.ppo.trl_backend`)
so that neither imports the other; parsing a config here costs no TRL or torch import.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from karma.settings import checked_kwargs, require_positive_ints


@dataclass(frozen=True)
class PPOSettings:
    """PPO hyperparameters. The paper gives ~100k episodes and elides the rest; our defaults:

    ======================  ==========  =========================================================
    key                     default     why
    ======================  ==========  =========================================================
    total_episodes          100000      the paper's "approximately 100k training examples"
    learning_rate           1.0e-6      full fine-tuning of 1B-class policies (TRL's 3e-6 is the
                                        upper end); LoRA policies want ~1e-5, set per policy
    batch_size              64          rollouts per PPO update (=> 1563 updates for 100k)
    mini_batch_size         16          rollouts per optimizer step (4 steps per PPO epoch)
    micro_batch_size        4           rollouts per forward/backward (gradient accumulation)
    ppo_epochs              4           passes over each batch (TRL default)
    kl_coef                 0.05        per-token KL penalty against the frozen base (TRL default);
                                        the starting value when ``kl_target`` is set
    kl_target               null        adapt kl_coef toward this KL (nats per response; Ziegler
                                        et al. 2019); null keeps kl_coef fixed (TRL's behaviour)
    kl_horizon              10000       episodes over which the controller may move kl_coef by
                                        about e^0.2 (Ziegler et al.'s value)
    response_length         64          new tokens per response: Reddit replies are short
    temperature             0.7         sampling temperature (TRL default)
    max_prompt_tokens       256         longer prompts are cut from the left, keeping the post and
                                        the newest turn (counted in the summary)
    cliprange               0.2         PPO ratio clip (TRL default)
    cliprange_value         0.2         value clip (TRL default)
    vf_coef                 0.1         value-loss weight (TRL default)
    gamma / lam             1.0 / 0.95  GAE (TRL defaults)
    missing_eos_penalty     null        no penalty for responses without eos
    rollout_batch_size      64          rollouts per no-grad forward while generating
    seed                    0           model init of the value head, sampling, data order
    ======================  ==========  =========================================================
    """

    total_episodes: int = 100_000
    learning_rate: float = 1.0e-6
    batch_size: int = 64
    mini_batch_size: int = 16
    micro_batch_size: int = 4
    ppo_epochs: int = 4
    kl_coef: float = 0.05
    kl_target: float | None = None
    kl_horizon: int = 10_000
    response_length: int = 64
    temperature: float = 0.7
    max_prompt_tokens: int = 256
    cliprange: float = 0.2
    cliprange_value: float = 0.2
    vf_coef: float = 0.1
    gamma: float = 1.0
    lam: float = 0.95
    missing_eos_penalty: float | None = None
    rollout_batch_size: int = 64
    seed: int = 0

    def __post_init__(self) -> None:
        positive = ("total_episodes", "batch_size", "mini_batch_size", "micro_batch_size", "ppo_epochs",
                    "response_length", "max_prompt_tokens", "rollout_batch_size", "kl_horizon")
        require_positive_ints(self, positive, "ppo")
        if self.batch_size % self.mini_batch_size:
            raise ValueError(
                f"ppo.batch_size={self.batch_size} must be a multiple of ppo.mini_batch_size="
                f"{self.mini_batch_size}"
            )
        if self.mini_batch_size % self.micro_batch_size:
            raise ValueError(
                f"ppo.mini_batch_size={self.mini_batch_size} must be a multiple of ppo.micro_batch_size="
                f"{self.micro_batch_size}"
            )
        if self.learning_rate <= 0 or self.temperature <= 0 or self.kl_coef < 0:
            raise ValueError("ppo.learning_rate and ppo.temperature must be > 0 and ppo.kl_coef >= 0")
        if self.kl_target is not None and self.kl_target <= 0:
            raise ValueError(f"ppo.kl_target must be > 0 (nats per response) or null, got {self.kl_target}")

    @property
    def total_updates(self) -> int:
        """PPO updates in the whole run (the last batch may overshoot ``total_episodes``)."""
        return math.ceil(self.total_episodes / self.batch_size)


@dataclass(frozen=True)
class LoRASettings:
    """LoRA adapters for policy and value model; only adapters and the value head train."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: str | tuple[str, ...] = "all-linear"


@dataclass(frozen=True)
class KLBand:
    """The per-response KL to the base policy (nats, summed over tokens) a healthy run stays within.

    Above ``high`` the policy has drifted far from its base: the classic reward-hacking sign. Below
    ``low`` the (unbiased but noisy) k1 estimator has gone negative by more than noise explains.
    """

    low: float = -0.5
    high: float = 10.0

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ValueError(f"kl_band needs low < high, got low={self.low}, high={self.high}")

    def contains(self, kl: float) -> bool:
        return self.low <= kl <= self.high


@dataclass(frozen=True)
class PolicyTrainingConfig:
    """Everything that decides how one policy is PPO-trained (one config per policy and variant).

    ``finetune``: ``full`` trains every weight; ``lora`` (7B/8B policies on one 80 GB GPU) trains LoRA
    adapters on policy and value model, with weights held in bf16 when ``bf16`` is set.
    ``bf16``: bf16 mixed precision (CPU autocast where there is no GPU, as in the rehearsal).
    ``gradient_checkpointing``: trade compute for memory.
    ``same_family_intended``: allow a policy of the reward model's architecture family.
    ``checkpoint_every``: updates between resume checkpoints. ``sample_every``/``samples_per_row``:
    how often and how many sample completions go into the train log. ``keep_checkpoints``: keep the
    resume checkpoints after a successful run (they are deleted by default). ``device``: ``auto``
    (GPU when present), ``cpu`` or ``cuda``.
    """

    ppo: PPOSettings = field(default_factory=PPOSettings)
    finetune: Literal["full", "lora"] = "full"
    lora: LoRASettings = field(default_factory=LoRASettings)
    bf16: bool = False
    gradient_checkpointing: bool = False
    same_family_intended: bool = False
    kl_band: KLBand = field(default_factory=KLBand)
    checkpoint_every: int = 50
    sample_every: int = 10
    samples_per_row: int = 3
    keep_checkpoints: bool = False
    device: str = "auto"

    def __post_init__(self) -> None:
        if self.finetune not in ("full", "lora"):
            raise ValueError(f"finetune must be 'full' or 'lora', got {self.finetune!r}")
        require_positive_ints(self, ("checkpoint_every", "sample_every"), "ppo")
        if self.samples_per_row < 0:
            raise ValueError(f"samples_per_row must be >= 0, got {self.samples_per_row}")

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], where: str = "ppo") -> PolicyTrainingConfig:
        """Build from a plain config mapping (YAML); nested sections are mappings too. ``where`` names
        the config section in errors (``ppo``, or ``policies.<name>`` for a policy's merged settings)."""
        kwargs = checked_kwargs(cls, raw, where)
        if "ppo" in kwargs:
            kwargs["ppo"] = PPOSettings(**checked_kwargs(PPOSettings, kwargs["ppo"], f"{where}.ppo"))
        if "lora" in kwargs:
            lora = checked_kwargs(LoRASettings, kwargs["lora"], f"{where}.lora")
            if isinstance(lora.get("target_modules"), list):
                lora["target_modules"] = tuple(lora["target_modules"])
            kwargs["lora"] = LoRASettings(**lora)
        if "kl_band" in kwargs:
            kwargs["kl_band"] = KLBand(**checked_kwargs(KLBand, kwargs["kl_band"], f"{where}.kl_band"))
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)
