"""The PPO objective as a benchmark: the karma reward of a policy's replies to held-out prompts.

The most direct evidence that alignment did what it was asked to do. Items are held-out prompts
(Reddit contexts of test-split threads and UltraChat prompts kept out of PPO, see
:func:`karma.data.prompts.build_heldout_prompts`); an item's score is the mean reward of ``k``
sampled replies. Every step is the one PPO used, so what is measured is what PPO optimised:

* the policy sees ``render_prompt(conversation, "generalized")`` (bos first, as PPO tokenizes it) and
  samples with PPO's settings (temperature, no top-k/top-p, at most ``max_new_tokens``);
* each reply is cut at the first eos or pad and scored through
  :class:`karma.ppo.cross_tokenizer.CrossTokenizerReward` (decode with the policy's tokenizer, render
  the reward-model text, score), by the generalized reward model (the item score every variant is
  compared on) and the conditioned one (kept as a second per-item score, ``conditioned``).

Every variant is prompted in the generalized format, the one its Base policy knows; ``eroded``
policies, trained on conditioned prompts, are therefore measured off their training format.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from karma.backbones import load_causal_lm, load_tokenizer
from karma.evaluation.cells import KARMA_REWARD_BENCHMARK, Cell, ItemScore, write_cell
from karma.formats import SETTINGS, render_prompt
from karma.ppo.cross_tokenizer import CrossTokenizerReward, TextScorer, response_token_ids
from karma.ppo.state import Prompt, read_prompts
from karma.progress import Progress
from karma.settings import checked_kwargs, require_positive_ints

log = logging.getLogger(__name__)

BENCHMARK = KARMA_REWARD_BENCHMARK
PRIMARY_METRIC = "karma_reward"
PRIMARY_SCORER = "generalized"
PROMPT_SETTING = "generalized"


@dataclass(frozen=True)
class RewardBenchmarkConfig:
    """Config ``benchmarks.reward``. ``max_new_tokens`` and ``temperature`` should equal PPO's
    ``response_length`` and ``temperature``, so the benchmark samples as PPO did; prompts over
    ``max_prompt_tokens`` policy tokens are left out (as PPO leaves them out) and counted."""

    samples_per_prompt: int = 4
    max_new_tokens: int = 64
    temperature: float = 0.7
    max_prompt_tokens: int = 256
    batch_size: int = 16
    seed: int = 0
    device: str = "auto"

    def __post_init__(self) -> None:
        require_positive_ints(self, ("samples_per_prompt", "max_new_tokens", "max_prompt_tokens", "batch_size"),
                              "benchmarks.reward")
        if not self.temperature > 0:
            raise ValueError(f"benchmarks.reward.temperature must be > 0, got {self.temperature!r}")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RewardBenchmarkConfig:
        return cls(**checked_kwargs(cls, raw, "benchmarks.reward"))


@dataclass(frozen=True)
class SampledReply:
    prompt_id: str
    response_ids: list[int]
    stopped: bool


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@torch.no_grad()
def sample_replies(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Prompt],
    config: RewardBenchmarkConfig,
) -> list[SampledReply]:
    """``samples_per_prompt`` replies per prompt, in prompt order, sampled as PPO samples (seeded)."""
    model.eval()
    device = next(model.parameters()).device
    saved_side, tokenizer.padding_side = tokenizer.padding_side, "left"
    stops = {tokenizer.eos_token_id, tokenizer.pad_token_id} - {None}
    replies: list[SampledReply] = []
    progress = Progress("sampling replies", len(prompts), unit="prompts", logger=log)
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            torch.manual_seed(config.seed)
            for start in range(0, len(prompts), config.batch_size):
                chunk = prompts[start : start + config.batch_size]
                texts = [render_prompt(p.conversation, PROMPT_SETTING) for p in chunk]
                encoded = tokenizer(texts, return_tensors="pt", padding=True).to(device)
                generated = model.generate(
                    **encoded, do_sample=True, temperature=config.temperature, top_k=0, top_p=1.0,
                    max_new_tokens=config.max_new_tokens, num_return_sequences=config.samples_per_prompt,
                    pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id,
                )[:, encoded["input_ids"].shape[1] :].tolist()
                for index, row in enumerate(generated):
                    prompt = chunk[index // config.samples_per_prompt]
                    replies.append(SampledReply(prompt.prompt_id, row, any(t in stops for t in row)))
                progress.update(min(start + config.batch_size, len(prompts)))
    finally:
        tokenizer.padding_side = saved_side
    progress.finish()
    return replies


def _usable_prompts(prompts: Sequence[Prompt], tokenizer: PreTrainedTokenizerBase,
                    max_tokens: int) -> tuple[list[Prompt], int]:
    kept = [p for p in prompts
            if len(tokenizer(render_prompt(p.conversation, PROMPT_SETTING))["input_ids"]) <= max_tokens]
    return kept, len(prompts) - len(kept)


def score_items(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    prompts: Sequence[Prompt],
    scorers: Mapping[str, TextScorer],
    config: RewardBenchmarkConfig,
) -> tuple[list[ItemScore], list[dict[str, Any]]]:
    """Per-prompt items: the mean reward of its replies under ``scorers[PRIMARY_SCORER]`` as ``score``,
    under every scorer by name in ``scores``, plus the replies' eos rate and length; and a few replies
    with their rewards for reading."""
    if PRIMARY_SCORER not in scorers or not set(scorers) <= set(SETTINGS):
        raise ValueError(f"the reward benchmark needs a {PRIMARY_SCORER!r} scorer and scorers named by reward "
                         f"setting ({', '.join(SETTINGS)}), got {sorted(scorers)}")
    replies = sample_replies(model, tokenizer, prompts, config)
    by_id = {p.prompt_id: p for p in prompts}
    conversations = [by_id[r.prompt_id].conversation for r in replies]
    rewards: dict[str, np.ndarray] = {}
    for name, scorer in scorers.items():
        started = time.perf_counter()
        scored = CrossTokenizerReward(scorer, tokenizer, name)
        rewards[name] = np.array([s.reward for s in scored.score(conversations, [r.response_ids for r in replies])])
        log.info("scored %d replies with the %s reward model in %.1f s", len(replies), name,
                 time.perf_counter() - started)
    lengths = np.array([len(response_token_ids(r.response_ids, eos_token_id=tokenizer.eos_token_id,
                                               pad_token_id=tokenizer.pad_token_id)) for r in replies])
    stopped = np.array([r.stopped for r in replies], dtype=float)
    k = config.samples_per_prompt
    items = []
    for index, prompt in enumerate(prompts):
        part = slice(index * k, (index + 1) * k)
        scores = {name: float(values[part].mean()) for name, values in rewards.items()}
        scores.update(eos_rate=float(stopped[part].mean()), response_tokens=float(lengths[part].mean()))
        items.append(ItemScore(id=prompt.prompt_id, score=scores[PRIMARY_SCORER], scores=scores,
                               category=prompt.source))
    examples = [
        {"prompt_id": r.prompt_id, "response": tokenizer.decode(
            response_token_ids(r.response_ids, eos_token_id=tokenizer.eos_token_id,
                               pad_token_id=tokenizer.pad_token_id), skip_special_tokens=True),
         **{name: float(values[i]) for name, values in rewards.items()}}
        for i, r in enumerate(replies[: 3 * k : k])
    ]
    return items, examples


def build_cell(policy: str, variant: str, items: list[ItemScore], config: RewardBenchmarkConfig,
               extra: Mapping[str, Any]) -> Cell:
    """The table cell: mean item scores overall and per prompt source."""
    def means(selected: list[ItemScore]) -> dict[str, float]:
        return {name: float(np.mean([i.scores[name] for i in selected])) for name in selected[0].scores}

    overall = means(items)
    metrics = {PRIMARY_METRIC: overall.pop(PRIMARY_SCORER)}
    metrics.update({f"{PRIMARY_METRIC}_{name}" if name in SETTINGS else name: value
                    for name, value in overall.items()})
    categories = {}
    for source in sorted({i.category for i in items if i.category}):
        selected = [i for i in items if i.category == source]
        categories[source] = {"value": means(selected)[PRIMARY_SCORER], **means(selected), "n": len(selected)}
    return Cell(
        benchmark=BENCHMARK, policy=policy, variant=variant, primary_metric=PRIMARY_METRIC,
        primary_value=metrics[PRIMARY_METRIC], higher_is_better=True, metrics=metrics, n=len(items),
        items=items, categories=categories, task_config={**dataclasses.asdict(config), **extra},
    )


def evaluate_karma_reward(
    policy_dir: str | Path,
    prompts_path: str | Path,
    reward_models: Mapping[str, str | Path],
    out_path: str | Path,
    *,
    policy: str,
    variant: str,
    config: RewardBenchmarkConfig | Mapping[str, Any],
    threads: int | None = None,
) -> Cell:
    """Write the ``reward`` cell of one policy x variant. ``reward_models`` maps a reward setting to
    its model directory and must hold ``generalized``; each setting's score is kept per item."""
    from karma.reward.model import RewardScorer  # torch-heavy; imported when a cell is evaluated

    cfg = config if isinstance(config, RewardBenchmarkConfig) else RewardBenchmarkConfig.from_dict(config)
    if threads is not None:
        torch.set_num_threads(threads)
    started = time.perf_counter()
    device = _device(cfg.device)
    tokenizer = load_tokenizer(policy_dir)
    model = load_causal_lm(policy_dir).to(device)
    prompts, dropped = _usable_prompts(read_prompts(prompts_path), tokenizer, cfg.max_prompt_tokens)
    if not prompts:
        raise ValueError(f"no held-out prompt of {prompts_path} fits benchmarks.reward.max_prompt_tokens="
                         f"{cfg.max_prompt_tokens}; raise it")
    scorers = {name: RewardScorer.from_pretrained(path, device=str(device)) for name, path in reward_models.items()}
    items, examples = score_items(model, tokenizer, prompts, scorers, cfg)
    cell = build_cell(policy, variant, items, cfg, {
        "prompts_dropped_too_long": dropped,
        "reward_models": {name: str(path) for name, path in reward_models.items()},
        "examples": examples,
    })
    write_cell(cell, out_path)
    log.info("%s/%s/reward: %d prompts x %d replies, karma reward %.4f (conditioned %s), %.1f s -> %s",
             policy, variant, cell.n, cfg.samples_per_prompt, cell.primary_value,
             f"{cell.metrics.get('karma_reward_conditioned', float('nan')):.4f}",
             time.perf_counter() - started, out_path)
    return cell
