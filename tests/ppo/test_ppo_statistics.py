"""PPO's reported statistics against an independent recomputation of one update.

One tiny PPO update (4 rollouts, mini-batches of 2, micro-batches of 1, two PPO epochs: 8 optimizer
steps) runs through ``run_ppo``. The test records what the models saw and said (the generated ids
and their sampling logits, the value head's outputs, the policy's logits at every training forward)
and recomputes from those tensors, in NumPy and following PPO as TRL 1.12 defines it, the rewards
(score at the last response token, k1 KL penalty against a copy of the starting policy), GAE
advantages and returns, and per micro-batch the clipped policy loss, the clipped value loss, the
clip fraction, the entropy and the approximate KL. Their means over the 8 micro-batches must be what
:class:`karma.ppo.state.UpdateStats` reports: a wrong field, a wrong sign or a wrong average (TRL
averages over unfilled slots, which ``trl_backend`` undoes) fails here.
"""

from __future__ import annotations

import copy
import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import torch
from tiny_world import write_policy, write_prompts, write_reward_model

import karma.ppo.trl_backend as trl_backend
from karma.ppo.settings import PolicyTrainingConfig, PPOSettings
from karma.ppo.state import read_prompts
from karma.reward.model import RewardScorer

INVALID_LOGPROB = 1.0  # what TRL writes at masked positions before they are masked out


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(-1, keepdims=True))


def _gather(logprobs: np.ndarray, ids: np.ndarray) -> np.ndarray:
    return np.take_along_axis(logprobs, ids[..., None], -1)[..., 0]


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> float:
    return float((values * mask).sum() / mask.sum())


def _whiten(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    mean = _masked_mean(values, mask)
    var = _masked_mean((values - mean) ** 2, mask) * mask.sum() / (mask.sum() - 1)
    return (values - mean) / np.sqrt(var + 1e-8)


class Probe:
    """Hooks on the models ``run_ppo`` builds: generation outputs, value-head outputs, training logits."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.generated: list[tuple[np.ndarray, np.ndarray]] = []  # (sequences, stacked scores)
        self.rollout_values: list[np.ndarray] = []
        self.train_values: list[np.ndarray] = []
        self.train_forwards: list[tuple[np.ndarray, np.ndarray]] = []  # (input ids, logits)
        build = trl_backend.build_models

        def probed_build(*args, **kwargs):
            policy, value, tokenizer = build(*args, **kwargs)
            self.start_policy = copy.deepcopy(policy).eval()  # what TRL copies as the KL reference
            self.tokenizer = tokenizer
            generate = policy.generate

            def recording_generate(*g_args, **g_kwargs):
                output = generate(*g_args, **g_kwargs)
                sequences = output.sequences.numpy().copy()
                prompt_mask = g_kwargs["attention_mask"].numpy()  # TRL passes pads as 0 with this mask
                width = prompt_mask.shape[1]
                sequences[:, :width] = np.where(prompt_mask, sequences[:, :width], tokenizer.pad_token_id)
                self.generated.append((sequences, torch.stack(output.scores, 1).numpy()))
                return output

            policy.generate = recording_generate

            def on_policy(module, inputs, kwargs, output):
                if module is policy and torch.is_grad_enabled():
                    self.train_forwards.append((kwargs["input_ids"].numpy().copy(), output.logits.detach().numpy().copy()))

            def on_value(module, inputs, output):
                target = self.train_values if torch.is_grad_enabled() else self.rollout_values
                target.append(output.detach()[..., 0].numpy().copy())

            policy.register_forward_hook(on_policy, with_kwargs=True)
            value.score.register_forward_hook(on_value)
            return policy, value, tokenizer

        monkeypatch.setattr(trl_backend, "build_models", probed_build)


def _recompute(probe: Probe, ppo: PPOSettings, rewards: list[float]) -> dict[str, float]:
    tok = probe.tokenizer
    pad, eos = tok.pad_token_id, tok.eos_token_id
    [(sequences, sampling_logits)] = probe.generated
    [values_full] = probe.rollout_values
    queries_len = sequences.shape[1] - sampling_logits.shape[1]
    responses = sequences[:, queries_len:]
    temperature = ppo.temperature + 1e-7
    # The starting policy's log-probabilities: old (from the sampling logits) and reference (a forward).
    old = _gather(_log_softmax(sampling_logits), responses)
    mask = sequences != pad
    with torch.no_grad():
        ref_logits = probe.start_policy(
            input_ids=torch.tensor(np.where(mask, sequences, 0)), attention_mask=torch.tensor(mask),
            position_ids=torch.tensor(mask.cumsum(1) - mask)).logits.numpy()
    ref = _gather(_log_softmax(ref_logits[:, queries_len - 1:-1] / temperature), responses)

    length = responses.shape[1]
    stopped = [np.flatnonzero(row == eos) for row in responses]
    # the last response token: the eos if there is one, else the last generated token
    last = np.array([s[0] if s.size else length - 1 for s in stopped])
    index = np.arange(length)[None, :]
    padding = index > last[:, None]
    padding_p1 = index > (last + 1)[:, None]
    old, ref = np.where(padding, INVALID_LOGPROB, old), np.where(padding, INVALID_LOGPROB, ref)
    values = np.where(padding_p1, 0.0, values_full[:, queries_len - 1:-1])
    scores = np.array(rewards)
    if ppo.missing_eos_penalty is not None:
        scores = scores - ppo.missing_eos_penalty * np.array([s.size == 0 for s in stopped])

    reward = -ppo.kl_coef * (old - ref)  # k1: kl = log pi - log pi_ref
    end = np.where(last + 1 < length, last + 1, last)
    reward[np.arange(len(scores)), end] += scores
    advantages = np.zeros_like(reward)
    running = 0.0
    for t in reversed(range(length)):
        following = values[:, t + 1] if t < length - 1 else 0.0
        running = reward[:, t] + ppo.gamma * following - values[:, t] + ppo.gamma * ppo.lam * running
        advantages[:, t] = running
    returns = advantages + values
    advantages = np.where(padding, 0.0, _whiten(advantages, ~padding))

    rows_of = {tuple(np.where(mask, sequences, 0)[r]): r for r in range(len(sequences))}
    assert len(rows_of) == len(sequences), "rollouts must be distinct to be told apart"
    per_step: dict[str, list[float]] = {k: [] for k in ("entropy", "clip", "pg", "vf", "approxkl")}
    assert len(probe.train_forwards) == len(probe.train_values) == ppo.ppo_epochs * ppo.batch_size // ppo.micro_batch_size
    for (ids, logits), vpred_full in zip(probe.train_forwards, probe.train_values, strict=True):
        rows = [rows_of[tuple(row)] for row in ids]
        step_logits = logits[:, queries_len - 1:-1] / temperature
        new = np.where(padding[rows], INVALID_LOGPROB, _gather(_log_softmax(step_logits), responses[rows]))
        vpred = np.where(padding_p1[rows], 0.0, vpred_full[:, queries_len - 1:-1])
        clipped = np.clip(vpred, values[rows] - ppo.cliprange_value, values[rows] + ppo.cliprange_value)
        vf = np.maximum((vpred - returns[rows]) ** 2, (clipped - returns[rows]) ** 2)
        ratio = np.exp(new - old[rows])
        pg1 = -advantages[rows] * ratio
        pg2 = -advantages[rows] * np.clip(ratio, 1 - ppo.cliprange, 1 + ppo.cliprange)
        probs = np.exp(_log_softmax(step_logits))
        entropy = -(probs * _log_softmax(step_logits)).sum(-1)
        per_step["vf"].append(0.5 * _masked_mean(vf, ~padding_p1[rows]))
        per_step["pg"].append(_masked_mean(np.maximum(pg1, pg2), ~padding[rows]))
        per_step["clip"].append(_masked_mean(pg2 > pg1, ~padding[rows]))
        per_step["entropy"].append(float(entropy.mean()))
        per_step["approxkl"].append(float(0.5 * ((new - old[rows]) ** 2).mean()))
    return {name: float(np.mean(values)) for name, values in per_step.items()}


def test_update_statistics_match_a_recomputation_from_the_models_outputs(tmp_path, monkeypatch):
    ppo = PPOSettings(total_episodes=4, batch_size=4, mini_batch_size=2, micro_batch_size=1, ppo_epochs=2,
                      response_length=6, rollout_batch_size=4, learning_rate=3e-2, max_prompt_tokens=512,
                      kl_coef=0.2, vf_coef=0.5, seed=4)
    config = PolicyTrainingConfig(ppo=ppo, checkpoint_every=100, device="cpu")
    probe = Probe(monkeypatch)
    stats = []
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        trl_backend.run_ppo(
            policy_dir=write_policy(tmp_path / "policy", "gpt_neox"),
            scorer=RewardScorer.from_pretrained(write_reward_model(tmp_path / "rm"), device="cpu"),
            prompts=read_prompts(write_prompts(tmp_path / "prompts.parquet")), setting="generalized",
            config=config, scratch_dir=tmp_path / "scratch", resume=None, on_update=stats.append,
            on_checkpoint=lambda state: None)
    finally:
        torch.set_num_threads(threads)
    [update] = stats
    expected = _recompute(probe, ppo, [sample["reward"] for sample in update.samples])
    print("recomputed:", expected, "reported:", update)  # shown by pytest -rP
    assert expected["clip"] > 0.05, "the step size must be large enough for clipping to happen"
    assert update.entropy == pytest.approx(expected["entropy"], rel=1e-5)
    assert update.clip_fraction == pytest.approx(expected["clip"], rel=1e-5)
    assert update.policy_loss == pytest.approx(expected["pg"], rel=1e-4, abs=1e-6)
    assert update.value_loss == pytest.approx(expected["vf"], rel=1e-4)
    assert update.approx_kl == pytest.approx(expected["approxkl"], rel=1e-4)
