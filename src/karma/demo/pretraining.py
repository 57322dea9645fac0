"""Warm-start the demo's tiny policies as causal LMs on the demo corpus's training threads.

A random-init policy writes gibberish, so PPO on it shows plumbing, not the method. Here each tiny
policy learns the demo's language in exactly the text form PPO feeds it: the generalized example text
``render_prompt(conversation, "generalized") + reply`` (the ``text`` column of the generalized reward
split, see :mod:`karma.formats`), tokenized as the PPO trainer tokenizes a prompt (bos first) and
closed by eos, so the policy also learns where a reply stops. Only training-split threads are used;
the held-out perplexity is measured on the test split's threads, before and after training.

The loop is :mod:`karma.resumable_training` (deterministic order, atomic checkpoints, resume after a
kill, SIGTERM), the same as reward training. The demo text is very repetitive (templates), so the
budget is small and chosen by measurement (``docs/paper-choices.md``); ``pretrain.json`` records
held-out perplexity, sample replies and their diversity, so overfitting or collapse is visible.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import random
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from transformers import PreTrainedModel, PreTrainedTokenizerBase, get_scheduler

from karma.backbones import load_causal_lm, load_tokenizer
from karma.formats import ASSISTANT_TAG, split_example
from karma.model_cards import ModelCard, json_block, write_model_card
from karma.parquet_io import read_stage_table
from karma.provenance import collect_provenance
from karma.resumable_training import (
    LoopPlan,
    collate,
    decay_param_groups,
    epoch_order,
    run_training_loop,
    write_atomically,
)
from karma.settings import checked_kwargs, require_positive_ints

log = logging.getLogger(__name__)

SCHEDULES = ("linear", "cosine", "constant_with_warmup")
LOSS_TARGETS = ("all", "reply")
# Keys that change how a run is watched, not what it computes: they may differ after a resume.
_OPERATIONAL_KEYS = frozenset({"checkpoint_every_steps", "keep_checkpoints", "log_every_steps",
                               "eval_batch_size", "samples", "samples_logged", "sample_max_new_tokens",
                               "sample_temperature"})


@dataclass(frozen=True)
class PretrainConfig:
    """Warm-start hyperparameters (config ``demo.pretrain``); every value is ours, see
    ``docs/paper-choices.md`` (the paper starts from pretrained hub models)."""

    learning_rate: float = 3e-3
    weight_decay: float = 0.01
    batch_size: int = 16
    micro_batch_size: int = 16
    epochs: int = 1
    max_steps: int | None = None
    max_length: int = 320
    warmup_ratio: float = 0.05
    lr_schedule: str = "cosine"
    max_grad_norm: float | None = 1.0
    loss_on: str = "all"
    seed: int = 0
    checkpoint_every_steps: int = 100
    keep_checkpoints: int = 1
    log_every_steps: int = 20
    eval_batch_size: int = 32
    samples: int = 48
    samples_logged: int = 4
    sample_max_new_tokens: int = 32
    sample_temperature: float = 0.7

    def __post_init__(self) -> None:
        require_positive_ints(self, ("batch_size", "micro_batch_size", "epochs", "max_length",
                                     "checkpoint_every_steps", "keep_checkpoints", "log_every_steps",
                                     "eval_batch_size", "sample_max_new_tokens"), "demo.pretrain")
        for key in ("samples", "samples_logged"):
            if isinstance(getattr(self, key), bool) or getattr(self, key) < 0:
                raise ValueError(f"demo.pretrain.{key} must be >= 0, got {getattr(self, key)!r}")
        if self.max_steps is not None and (isinstance(self.max_steps, bool) or self.max_steps < 1):
            raise ValueError(f"demo.pretrain.max_steps must be a positive integer or null, got {self.max_steps!r}")
        if self.batch_size % self.micro_batch_size:
            raise ValueError(f"demo.pretrain.batch_size {self.batch_size} is not a multiple of "
                             f"micro_batch_size {self.micro_batch_size}")
        if not self.learning_rate > 0 or not 0.0 <= self.warmup_ratio < 1.0 or self.sample_temperature <= 0:
            raise ValueError("demo.pretrain: learning_rate and sample_temperature must be > 0 and "
                             "warmup_ratio in [0, 1)")
        if self.lr_schedule not in SCHEDULES:
            raise ValueError(f"demo.pretrain.lr_schedule {self.lr_schedule!r} is not one of {', '.join(SCHEDULES)}")
        if self.loss_on not in LOSS_TARGETS:
            raise ValueError(f"demo.pretrain.loss_on {self.loss_on!r} is not one of {', '.join(LOSS_TARGETS)}")

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> PretrainConfig:
        return cls(**checked_kwargs(cls, raw, "demo.pretrain"))


# --- data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TokenizedTexts:
    """Token ids (bos ... eos) per text and where each text's reply starts (an index into its ids)."""

    ids: list[list[int]]
    reply_start: list[int]

    def __len__(self) -> int:
        return len(self.ids)


def read_texts(path: str | Path) -> tuple[list[str], list[str]]:
    """(example ids, texts) of a generalized reward split: the PPO text form of every reply."""
    table = read_stage_table(path, ("example_id", "text"), "generalized reward split")
    if table.num_rows == 0:
        raise ValueError(f"{path} holds no examples to warm-start on")
    return [str(x) for x in table.column("example_id").to_pylist()], table.column("text").to_pylist()


def tokenize_texts(tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], max_length: int) -> TokenizedTexts:
    """``tokenizer(text) + [eos]`` per text, as PPO sees a prompt and the reply it should write.

    Over-long texts keep their end (the reply) and lose the start of their context.
    """
    if tokenizer.eos_token_id is None:
        raise ValueError("the policy tokenizer has no eos token: a warm-started policy could not learn to stop")
    assistant = tokenizer.convert_tokens_to_ids(ASSISTANT_TAG)
    if assistant is None or assistant == tokenizer.unk_token_id:
        raise ValueError(f"the policy tokenizer has no single token for {ASSISTANT_TAG!r}; "
                         "train it with karma.demo.tokenizer_training")
    ids, starts = [], []
    for text in texts:
        row = tokenizer(text)["input_ids"] + [tokenizer.eos_token_id]
        row = row[-max_length:]
        positions = [i for i, token in enumerate(row) if token == assistant]
        if not positions:
            raise ValueError(f"text has no {ASSISTANT_TAG} token within max_length={max_length}: {text[:80]!r}")
        ids.append(row)
        starts.append(positions[-1] + 1)
    return TokenizedTexts(ids, starts)


def _target_positions(texts: TokenizedTexts, rows: Sequence[int], reply_only: bool) -> list[tuple[int, int]]:
    """(row in batch, position) of every logit that predicts a target token: position t predicts t+1."""
    positions = []
    for b, i in enumerate(rows):
        first = max(texts.reply_start[i], 1) if reply_only else 1
        positions.extend((b, t - 1) for t in range(first, len(texts.ids[i])))
    return positions


def _target_count(texts: TokenizedTexts, rows: Sequence[int], reply_only: bool) -> int:
    return sum(len(texts.ids[i]) - (max(texts.reply_start[i], 1) if reply_only else 1) for i in rows)


def _position_nll(model: PreTrainedModel, texts: TokenizedTexts, rows: Sequence[int], pad: int,
                  reply_only: bool) -> tuple[torch.Tensor, list[tuple[int, int]]]:
    """Next-token negative log-likelihood at every position that predicts a target, and the positions.

    The LM head (the bulk of a tiny model's compute: a 3k vocabulary on 64 dimensions) runs only on
    these positions, not on padding or, under ``loss_on: reply``, the context.
    """
    inputs = collate([texts.ids[i] for i in rows], pad)
    hidden = getattr(model, model.base_model_prefix)(**inputs).last_hidden_state
    where = _target_positions(texts, rows, reply_only)
    index_b = torch.tensor([b for b, _ in where])
    index_t = torch.tensor([t for _, t in where])
    logits = model.get_output_embeddings()(hidden[index_b, index_t])
    targets = inputs["input_ids"][index_b, index_t + 1]
    return F.cross_entropy(logits.float(), targets, reduction="none"), where


def _token_nll(model: PreTrainedModel, texts: TokenizedTexts, rows: Sequence[int], pad: int,
               reply_only: bool) -> torch.Tensor:
    """Summed next-token negative log-likelihood of the rows' targets."""
    return _position_nll(model, texts, rows, pad, reply_only)[0].sum()


@torch.no_grad()
def heldout_perplexity(model: PreTrainedModel, texts: TokenizedTexts, pad: int, batch_size: int) -> dict[str, float]:
    """Perplexity over every predicted token and over the reply tokens (reply + eos) alone, in one pass."""
    model.eval()
    nll = {"all": 0.0, "reply": 0.0}
    count = {"all": 0, "reply": 0}
    for start in range(0, len(texts), batch_size):
        rows = list(range(start, min(start + batch_size, len(texts))))
        losses, where = _position_nll(model, texts, rows, pad, reply_only=False)
        # position t predicts token t+1, which is a reply token from the reply's first position on
        in_reply = torch.tensor([t + 1 >= texts.reply_start[rows[b]] for b, t in where])
        nll["all"] += float(losses.sum())
        nll["reply"] += float(losses[in_reply].sum())
        count["all"] += len(where)
        count["reply"] += int(in_reply.sum())
    return {name: math.exp(nll[name] / count[name]) for name in nll}


# --- samples ------------------------------------------------------------------------------------


def distinct_n(texts: Sequence[str], n: int) -> float:
    """Share of distinct word n-grams among all n-grams of the texts (1.0: no repetition)."""
    grams = [tuple(words[i : i + n]) for text in texts for words in [text.split()]
             for i in range(len(words) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


@torch.no_grad()
def sample_replies(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, prompts: Sequence[str],
                   *, max_new_tokens: int, temperature: float, seed: int, batch_size: int) -> list[dict[str, Any]]:
    """One sampled reply per prompt (seeded, so reruns agree) with whether it stopped by eos."""
    model.eval()
    saved_side, tokenizer.padding_side = tokenizer.padding_side, "left"
    out: list[dict[str, Any]] = []
    try:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            for start in range(0, len(prompts), batch_size):
                chunk = list(prompts[start : start + batch_size])
                encoded = tokenizer(chunk, return_tensors="pt", padding=True)
                generated = model.generate(
                    **encoded, do_sample=True, temperature=temperature, top_k=0, top_p=1.0,
                    max_new_tokens=max_new_tokens, pad_token_id=tokenizer.pad_token_id,
                    eos_token_id=tokenizer.eos_token_id,
                )[:, encoded["input_ids"].shape[1]:]
                for prompt, row in zip(chunk, generated.tolist(), strict=True):
                    stopped = tokenizer.eos_token_id in row
                    kept = row[: row.index(tokenizer.eos_token_id)] if stopped else row
                    kept = [t for t in kept if t != tokenizer.pad_token_id]
                    out.append({"prompt_tail": prompt[-160:], "reply": tokenizer.decode(kept, skip_special_tokens=True),
                                "tokens": len(kept), "stopped": stopped})
    finally:
        tokenizer.padding_side = saved_side
    return out


def sample_summary(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    replies = [s["reply"] for s in samples]
    return {
        "n": len(samples),
        "eos_rate": float(np.mean([s["stopped"] for s in samples])) if samples else None,
        "mean_tokens": float(np.mean([s["tokens"] for s in samples])) if samples else None,
        "distinct_1": distinct_n(replies, 1),
        "distinct_2": distinct_n(replies, 2),
        "unique_replies": len(set(replies)),
    }


# --- training -----------------------------------------------------------------------------------


def tokens_seen(plan: LoopPlan, lengths: Sequence[int]) -> int:
    """Tokens the run's batches hold, from the plan alone (a resumed run reports the same)."""
    per_epoch = sum(lengths)
    full, rest = divmod(plan.total_steps, plan.steps_per_epoch)
    partial = epoch_order(plan.seed, full, plan.n_examples)[: rest * plan.batch_size] if rest else []
    return full * per_epoch + sum(lengths[i] for i in partial)


def _fingerprint(cfg: PretrainConfig, init_dir: Path, example_ids: Sequence[str]) -> str:
    settings = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in _OPERATIONAL_KEYS}
    weights = sorted(init_dir.glob("*.safetensors"))
    record = {
        "config": settings,
        "init": [[p.name, hashlib.sha256(p.read_bytes()).hexdigest()] for p in weights],
        "examples": hashlib.sha256("\n".join(example_ids).encode()).hexdigest(),
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()


def warm_start_card(name: str, report: Mapping[str, Any]) -> ModelCard:
    """What the warm-started demo policy is, for its ``README.md``."""
    return ModelCard(
        title=f"{name} (demo policy, warm-started)",
        summary=(
            f"The demo's tiny {name} trained as a causal LM ({report['parameters']:,} parameters, "
            f"{report['tokens_seen']:,} tokens) on the synthetic demo corpus, so that PPO starts from a "
            "policy that writes on-topic replies. Demo-only: the paper's policies are pretrained hub models."
        ),
        sections={
            "Data": f"{report['train_texts']} conversations of the generalized reward training split, in the "
            "chat form PPO prompts and replies take; no karma label is used.",
            "Training": "Next-token loss, AdamW (karma.demo.pretraining):\n\n" + json_block(report["config"]),
            "Evaluation": (
                f"Perplexity on the {report['heldout_texts']} test-split conversations: "
                f"{report['heldout_perplexity_init']:.1f} before, {report['heldout_perplexity']:.2f} after "
                f"(reply tokens {report['heldout_reply_perplexity_init']:.1f} -> "
                f"{report['heldout_reply_perplexity']:.2f})."
            ),
            "Label rule": "Not applicable: the warm start sees no karma label; PPO policies state theirs.",
        },
        metadata={"library_name": "transformers", "pipeline_tag": "text-generation",
                  "tags": ["karma", "demo", "warm-start"]},
    )


def _save_model_atomically(model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, out: Path,
                           card: ModelCard, provenance: Mapping[str, Any]) -> None:
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    write_model_card(tmp, card, provenance)
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)


def pretrain_policy(
    init_dir: str | Path,
    train_path: str | Path,
    test_path: str | Path,
    out_dir: str | Path,
    report_path: str | Path,
    checkpoint_dir: str | Path,
    config: PretrainConfig | Mapping[str, Any],
    *,
    threads: int | None = None,
    on_step: Callable[[int], None] | None = None,
    run_config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Train the random-init policy in ``init_dir`` as a causal LM on the generalized training split;
    write the warm-started model to ``out_dir`` and its report (``pretrain.json``) to ``report_path``.

    Resumes from ``checkpoint_dir`` (removed once the outputs are written); ``on_step(step)`` is called
    after every optimizer step; ``run_config`` (the workflow config) goes into the model's provenance.
    Returns the report.
    """
    cfg = config if isinstance(config, PretrainConfig) else PretrainConfig.from_dict(config)
    if threads is not None:
        torch.set_num_threads(threads)
    started = time.perf_counter()
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    init_dir = Path(init_dir)
    tokenizer = load_tokenizer(init_dir)
    model = load_causal_lm(init_dir, dtype=torch.float32)
    pad = tokenizer.pad_token_id
    train_ids, train_texts = read_texts(train_path)
    _, test_texts = read_texts(test_path)
    train = tokenize_texts(tokenizer, train_texts, cfg.max_length)
    test = tokenize_texts(tokenizer, test_texts, cfg.max_length)
    before = heldout_perplexity(model, test, pad, cfg.eval_batch_size)
    log.info("held-out perplexity before warm-start: %.1f (all tokens), %.1f (reply tokens)",
             before["all"], before["reply"])

    plan = LoopPlan(
        n_examples=len(train), batch_size=cfg.batch_size, micro_batch_size=cfg.micro_batch_size,
        epochs=cfg.epochs, max_steps=cfg.max_steps, seed=cfg.seed, max_grad_norm=cfg.max_grad_norm,
        checkpoint_every_steps=cfg.checkpoint_every_steps, keep_checkpoints=cfg.keep_checkpoints,
        log_every_steps=cfg.log_every_steps,
    )
    optimizer = torch.optim.AdamW(decay_param_groups(model, cfg.weight_decay), lr=cfg.learning_rate)
    scheduler = get_scheduler(cfg.lr_schedule, optimizer,
                              num_warmup_steps=round(cfg.warmup_ratio * plan.total_steps),
                              num_training_steps=plan.total_steps)
    reply_only = cfg.loss_on == "reply"

    def batch_loss(rows: np.ndarray, batch: np.ndarray) -> tuple[torch.Tensor, int]:
        loss = _token_nll(model, train, rows, pad, reply_only) / _target_count(train, batch, reply_only)
        return loss, sum(len(train.ids[i]) for i in rows)

    log.info("warm-start: %d training texts (%d tokens), %d steps/epoch, %d steps, batch %d, lr %g, loss on %s",
             len(train), sum(map(len, train.ids)), plan.steps_per_epoch, plan.total_steps, cfg.batch_size,
             cfg.learning_rate, cfg.loss_on)
    model.train()
    result = run_training_loop(plan, model=model, optimizer=optimizer, scheduler=scheduler,
                               micro_batch_loss=batch_loss, checkpoint_dir=checkpoint_dir,
                               fingerprint=_fingerprint(cfg, init_dir, train_ids), on_step=on_step,
                               what="warm-start training", logger=log)
    after = heldout_perplexity(model, test, pad, cfg.eval_batch_size)
    prompts = [split_example(text)[0] for text in test_texts[: cfg.samples]]
    samples = sample_replies(model, tokenizer, prompts, max_new_tokens=cfg.sample_max_new_tokens,
                             temperature=cfg.sample_temperature, seed=cfg.seed, batch_size=cfg.eval_batch_size)
    log.info("sampled %d replies to held-out prompts", len(samples))
    for sample in samples[: cfg.samples_logged]:
        log.info("sample: ...%r -> %r%s", sample["prompt_tail"][-60:], sample["reply"],
                 "" if sample["stopped"] else " (no eos)")
    out = Path(out_dir)
    report = {
        "heldout_perplexity": after["all"],
        "heldout_reply_perplexity": after["reply"],
        "heldout_perplexity_init": before["all"],
        "heldout_reply_perplexity_init": before["reply"],
        "heldout_texts": len(test),
        "vocab_size": len(tokenizer),
        "parameters": sum(p.numel() for p in model.parameters()),
        "train_texts": len(train),
        "steps": result.total_steps,
        "resumed_from_step": result.resumed_from_step,
        "tokens_seen": tokens_seen(plan, [len(row) for row in train.ids]),
        "last_step_loss": result.last_step_loss,
        "seconds": round(time.perf_counter() - started, 2),
        "samples": sample_summary(samples),
        "sample_replies": samples[: cfg.samples_logged],
        "config": dataclasses.asdict(cfg),
    }
    _save_model_atomically(model, tokenizer, out, warm_start_card(out.parent.name, report),
                           collect_provenance(run_config))
    write_atomically(Path(report_path), json.dumps(report, indent=1, sort_keys=True))
    log.info("warm-started policy saved to %s: held-out perplexity %.1f -> %.2f (reply tokens %.1f -> %.2f), "
             "%d tokens in %.0f s", out, before["all"], after["all"], before["reply"], after["reply"],
             report["tokens_seen"], report["seconds"])
    shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return report
