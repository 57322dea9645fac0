"""A rough peak-GPU-memory estimate of one PPO run, for sizing cluster jobs and choosing LoRA."""

from __future__ import annotations

from dataclasses import dataclass

from karma.ppo.settings import PolicyTrainingConfig


@dataclass(frozen=True)
class ModelShape:
    """What the memory estimate needs to know about a model; ``kv_width`` is the key/value width
    (smaller than ``hidden_size`` under grouped- or multi-query attention)."""

    params: float
    hidden_size: int
    layers: int
    vocab_size: int
    kv_width: int | None = None


def estimate_ppo_memory_gib(
    policy: ModelShape,
    reward: ModelShape,
    config: PolicyTrainingConfig,
    *,
    lora_fraction: float = 0.006,
) -> dict[str, float]:
    """Rough peak GPU memory (GiB) of one PPO run, by component; good to about +-30%.

    Full fine-tuning keeps fp32 weights (bf16 only as autocast), so policy and value model each cost
    16 bytes/parameter (weights, gradients, two AdamW moments) and the frozen reference 4 more. LoRA
    in bf16 keeps policy and value weights at 2 bytes/parameter, reuses the policy with adapters
    disabled as the reference, and trains only the adapters (``lora_fraction`` of the weights; r=16
    on all linear layers of a Llama-8B is ~0.5%) at 16 bytes each. Activations follow Korthikanti et
    al. (2022), ``s*b*h*(34 + 5*s/128)`` bytes per layer in 16-bit (head size 128), twice that in fp32,
    for policy and value model together; with checkpointing only each layer's input is kept plus one
    layer being recomputed. Generation holds the KV cache and TRL's per-step fp32 logits for a whole
    rollout batch; training holds fp32 logits (three copies) per micro-batch.
    """
    ppo = config.ppo
    gib = 1024**3
    lora = config.finetune == "lora"
    weight_bytes = 2 if (lora and config.bf16) else 4
    act_bytes = 2 if config.bf16 else 4
    p = policy.params
    seq = ppo.max_prompt_tokens + ppo.response_length
    parts: dict[str, float] = {}
    parts["policy_and_value_weights"] = 2 * p * weight_bytes
    parts["reference_policy"] = 0.0 if lora else p * 4
    parts["gradients_and_optimizer"] = 2 * (lora_fraction * p if lora else p) * 12 + (
        2 * lora_fraction * p * 4 if lora else 0.0
    )
    parts["reward_model"] = reward.params * (2 if config.bf16 else 4)
    kv_width = policy.kv_width or policy.hidden_size
    parts["generation_kv_cache"] = ppo.rollout_batch_size * seq * policy.layers * 2 * kv_width * act_bytes
    parts["generation_logits"] = ppo.rollout_batch_size * ppo.response_length * policy.vocab_size * 4
    b, h = ppo.micro_batch_size, policy.hidden_size
    per_layer = seq * b * h * (34 + 5 * seq / 128) * act_bytes / 2
    if config.gradient_checkpointing:
        hidden = policy.layers * seq * b * h * act_bytes + per_layer
    else:
        hidden = policy.layers * per_layer
    parts["training_activations"] = 2 * hidden + 3 * b * seq * policy.vocab_size * 4
    parts["runtime_overhead"] = 2 * gib  # CUDA context, allocator fragmentation
    out = {name: round(value / gib, 2) for name, value in parts.items()}
    out["total"] = round(sum(parts.values()) / gib, 1)
    return out
