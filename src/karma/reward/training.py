"""Train and evaluate a karma reward model: full fine-tuning with BCE, resumable after a kill.

Method (paper §4): binary cross-entropy on the reward model's logit, AdamW with weight decay 0.01,
effective batch size 16, full fine-tuning of backbone and head. The paper does not state its learning
rate; the default here, 1e-5 with 3% linear warm-up and linear decay, is the usual full fine-tuning rate
for ~1B-parameter reward models (the demo's tiny random-init backbone needs a far higher one, set in
its config). Weight decay applies to matrices only, not to biases and norm gains (the transformers
Trainer convention). Gradients are clipped to norm 1.0.

Resumption: every ``checkpoint_every_steps`` optimizer steps the weights (safetensors), optimizer,
scheduler, the python/numpy/torch RNG states and the step go to ``<checkpoint_dir>/step-<N>``, written
to a temporary directory and renamed, so a checkpoint either exists whole or not at all. The data order
of each epoch is a permutation drawn from (seed, epoch), so the step alone says which examples come next;
a job killed at any point (SIGKILL, preemption, time limit) and started again continues from its last
checkpoint and ends with the weights an uninterrupted run would have had. On SIGTERM (what SLURM sends
before a kill) the loop writes a checkpoint at once and stops with :class:`TrainingInterrupted`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import random
import re
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_model, save_model
from transformers import PreTrainedTokenizerBase, get_scheduler

from karma.backbones import causal_lm_config, load_tokenizer
from karma.model_cards import write_model_card
from karma.parquet_io import read_stage_table
from karma.progress import Progress
from karma.provenance import collect_provenance
from karma.reward.card import reward_model_card
from karma.reward.metrics import binary_metrics
from karma.reward.model import (
    KarmaRewardConfig,
    KarmaRewardModel,
    RewardScorer,
    pick_device,
    save_reward_model,
)
from karma.reward.settings import RewardTrainingConfig

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("example_id", "label", "text")
# Keys that change how a run is watched, not what it computes: they may differ after a resume.
_OPERATIONAL_KEYS = frozenset(
    {"checkpoint_every_steps", "keep_checkpoints", "log_every_steps", "eval_batch_size", "device"}
)


class TrainingInterrupted(RuntimeError):
    """Raised after SIGTERM once a checkpoint is safely written; re-running the job resumes."""


# --- data ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    example_ids: list[str]
    labels: np.ndarray
    texts: list[str]

    def __len__(self) -> int:
        return len(self.texts)


def read_split(path: str | Path) -> Split:
    """Read a reward split written by the data stage, checking the columns this stage relies on."""
    table = read_stage_table(path, REQUIRED_COLUMNS, "reward split")
    labels = np.asarray(table.column("label").to_pylist())
    if len(labels) == 0:
        raise ValueError(f"{path} holds no examples")
    if not np.isin(labels, (0, 1)).all():
        raise ValueError(f"{path}: column 'label' must hold 0/1 only")
    return Split(
        example_ids=[str(x) for x in table.column("example_id").to_pylist()],
        labels=labels.astype(np.int64),
        texts=table.column("text").to_pylist(),
    )


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The example order of one epoch: fixed by (seed, epoch) alone, so a resumed run sees the same."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def tokenize_split(
    tokenizer: PreTrainedTokenizerBase, texts: list[str], max_length: int
) -> list[list[int]]:
    """Token ids per text, truncated from the left (the candidate response is at the end)."""
    tokenizer.truncation_side = "left"
    return tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]


def collate(ids: list[list[int]], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Right-padded input ids and attention mask for one micro-batch."""
    width = max(len(row) for row in ids)
    input_ids = torch.full((len(ids), width), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, row in enumerate(ids):
        input_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        attention_mask[i, : len(row)] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def micro_batch_loss(
    logits: torch.Tensor, labels: torch.Tensor, batch_examples: int
) -> torch.Tensor:
    """This micro-batch's share of the optimizer batch's mean BCE.

    Summing over micro-batches gives exactly the mean over the whole batch, whatever the split, so
    gradient accumulation reproduces the gradient of one large batch.
    """
    loss = F.binary_cross_entropy_with_logits(logits.float(), labels.float(), reduction="sum")
    return loss / batch_examples


# --- checkpoints --------------------------------------------------------------------------------

_CHECKPOINT_RE = re.compile(r"^step-(\d+)$")


def _rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    return {
        "python": random.getstate(),
        "numpy": (np_state[0], np_state[1].tolist(), *np_state[2:]),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def _set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    name, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((name, np.asarray(keys, dtype=np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def latest_checkpoint(checkpoint_dir: str | Path) -> Path | None:
    """The complete checkpoint with the highest step (temporary, half-written ones are ignored)."""
    root = Path(checkpoint_dir)
    if not root.is_dir():
        return None
    steps = [
        (int(match.group(1)), path)
        for path in root.iterdir()
        if (match := _CHECKPOINT_RE.match(path.name)) and (path / "state.json").is_file()
    ]
    return max(steps)[1] if steps else None


def save_checkpoint(
    checkpoint_dir: Path,
    *,
    step: int,
    model: KarmaRewardModel,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    state: dict[str, Any],
    keep: int,
) -> Path:
    """Write step ``step`` to a temporary directory, then rename it into place; prune old ones."""
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    final = checkpoint_dir / f"step-{step:08d}"
    tmp = checkpoint_dir / f".tmp-step-{step:08d}-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    save_model(model, str(tmp / "model.safetensors"))
    torch.save(optimizer.state_dict(), tmp / "optimizer.pt")
    torch.save(scheduler.state_dict(), tmp / "scheduler.pt")
    torch.save(_rng_state(), tmp / "rng.pt")
    (tmp / "state.json").write_text(json.dumps({**state, "step": step}, indent=1, sort_keys=True))
    for path in tmp.iterdir():
        with open(path, "rb") as handle:
            os.fsync(handle.fileno())
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    complete = sorted(
        p for p in checkpoint_dir.iterdir() if _CHECKPOINT_RE.match(p.name) and p != final
    )
    for old in complete[: max(0, len(complete) - (keep - 1))]:
        shutil.rmtree(old)
    return final


def load_checkpoint(
    path: Path,
    *,
    model: KarmaRewardModel,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
) -> dict[str, Any]:
    """Restore weights, optimizer, scheduler and RNG from ``path``; returns its state record."""
    load_model(model, str(path / "model.safetensors"), device=str(next(model.parameters()).device))
    optimizer.load_state_dict(torch.load(path / "optimizer.pt", weights_only=True))
    scheduler.load_state_dict(torch.load(path / "scheduler.pt", weights_only=True))
    _set_rng_state(torch.load(path / "rng.pt", weights_only=True))
    return json.loads((path / "state.json").read_text())


def _clear_stale_tmp(checkpoint_dir: Path) -> None:
    if checkpoint_dir.is_dir():
        for path in checkpoint_dir.glob(".tmp-step-*"):
            shutil.rmtree(path, ignore_errors=True)


# --- training -----------------------------------------------------------------------------------


def _fingerprint(
    config: RewardTrainingConfig, backbone: str | Path | Mapping[str, Any], train: Split
) -> str:
    """What a checkpoint must agree with to be resumed: the computation's inputs, not its logging."""
    settings = {k: v for k, v in dataclasses.asdict(config).items() if k not in _OPERATIONAL_KEYS}
    record = {
        "config": settings,
        "backbone": dict(backbone)
        if isinstance(backbone, Mapping)
        else str(Path(backbone).resolve()),
        "examples": hashlib.sha256("\n".join(train.example_ids).encode()).hexdigest(),
        "labels": hashlib.sha256(train.labels.tobytes()).hexdigest(),
    }
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()


def _build_model(
    backbone: str | Path | Mapping[str, Any],
    tokenizer: PreTrainedTokenizerBase,
    config: RewardTrainingConfig,
) -> KarmaRewardModel:
    """A head (seeded) on a backbone: a causal-LM directory, or a spec built from scratch (demo)."""
    if isinstance(backbone, Mapping):
        model_config = KarmaRewardConfig(
            text_config=causal_lm_config(backbone, tokenizer),
            head_hidden_size=config.head_hidden_size,
            head_dropout=config.head_dropout,
            max_input_tokens=config.max_length,
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            return KarmaRewardModel(model_config)
    model = KarmaRewardModel.from_backbone(
        backbone,
        head_hidden_size=config.head_hidden_size,
        head_dropout=config.head_dropout,
        max_input_tokens=config.max_length,
        seed=config.seed,
    )
    rows = model.backbone.get_input_embeddings().num_embeddings
    if len(tokenizer) > rows:
        raise ValueError(
            f"tokenizer has {len(tokenizer)} tokens but backbone {backbone} embeds only {rows}; "
            "use the tokenizer saved with that backbone"
        )
    return model


def _param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def _use_bf16(config: RewardTrainingConfig, device: torch.device) -> bool:
    if config.bf16 == "auto":
        return device.type == "cuda" and torch.cuda.is_bf16_supported()
    return bool(config.bf16)


@contextmanager
def _sigterm_requests_stop() -> Iterator[dict[str, bool]]:
    """While training, SIGTERM sets a flag instead of killing, so the loop can checkpoint first."""
    flag = {"stop": False}
    if threading.current_thread() is not threading.main_thread():
        yield flag  # signal handlers can only be installed from the main thread
        return

    def handler(signum: int, frame: Any) -> None:
        log.warning("SIGTERM received: checkpointing after the current step, then stopping")
        flag["stop"] = True

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield flag
    finally:
        signal.signal(signal.SIGTERM, previous)


def _write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def _save_model_atomically(
    model: KarmaRewardModel,
    tokenizer: PreTrainedTokenizerBase,
    model_dir: Path,
    write_card: Callable[[Path], Any],
) -> None:
    """Model, tokenizer and card (``write_card(directory)``) written aside, then renamed."""
    tmp = model_dir.with_name(model_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    save_reward_model(model, tokenizer, tmp)
    write_card(tmp)
    if model_dir.exists():
        shutil.rmtree(model_dir)
    tmp.rename(model_dir)


def train_reward_model(
    train_path: str | Path,
    test_path: str | Path,
    model_dir: str | Path,
    metrics_path: str | Path,
    checkpoint_dir: str | Path,
    config: RewardTrainingConfig | Mapping[str, Any],
    *,
    backbone: str | Path | Mapping[str, Any],
    tokenizer_dir: str | Path | None = None,
    threads: int | None = None,
    on_step: Callable[[int], None] | None = None,
    examples_stats: str | Path | None = None,
    run_config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Train on ``train_path``, save to ``model_dir``, evaluate on ``test_path`` into ``metrics_path``.

    ``backbone`` is a causal-LM directory (paper: Llama-3.2-1B; its tokenizer is used unless
    ``tokenizer_dir`` is given) or a backbone spec for :func:`karma.backbones.causal_lm_config`
    (demo; needs ``tokenizer_dir``). Resumes from the latest checkpoint in ``checkpoint_dir``, which
    is removed once the model and metrics are written. ``on_step(step)`` is called after every
    optimizer step (and its checkpoint, if any). ``examples_stats`` (the data stage's stats.json:
    input format, label rule, counts) and ``run_config`` (the workflow config, as provenance) go
    into the model's config and card. Returns the metrics written.
    """
    cfg = (
        config
        if isinstance(config, RewardTrainingConfig)
        else RewardTrainingConfig.from_dict(config)
    )
    if threads is not None:
        torch.set_num_threads(threads)
    if tokenizer_dir is None:
        if isinstance(backbone, Mapping):
            raise ValueError("a backbone spec has no tokenizer of its own: pass tokenizer_dir")
        tokenizer_dir = backbone
    checkpoint_root = Path(checkpoint_dir)
    device = pick_device(cfg.device)
    use_bf16 = _use_bf16(cfg, device)

    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)

    train = read_split(train_path)
    test = read_split(test_path)
    tokenizer = load_tokenizer(tokenizer_dir)
    model = _build_model(backbone, tokenizer, cfg).to(device)
    if cfg.gradient_checkpointing:
        model.activation_checkpointing_enable(
            activation_checkpointing_kwargs={"use_reentrant": False}
        )
    model.train()

    steps_per_epoch = math.ceil(len(train) / cfg.batch_size)
    total_steps = steps_per_epoch * cfg.epochs
    if cfg.max_steps is not None:
        total_steps = min(total_steps, cfg.max_steps)
    optimizer = torch.optim.AdamW(_param_groups(model, cfg.weight_decay), lr=cfg.learning_rate)
    scheduler = get_scheduler(
        cfg.lr_schedule,
        optimizer,
        num_warmup_steps=round(cfg.warmup_ratio * total_steps),
        num_training_steps=total_steps,
    )
    fingerprint = _fingerprint(cfg, backbone, train)

    _clear_stale_tmp(checkpoint_root)
    start_step = 0
    resume = latest_checkpoint(checkpoint_root)
    if resume is not None:
        saved = json.loads((resume / "state.json").read_text())
        if saved.get("fingerprint") != fingerprint:
            raise ValueError(
                f"checkpoint {resume} was written for another config, backbone or training split; "
                f"delete {checkpoint_root} to start this run from scratch"
            )
        start_step = load_checkpoint(resume, model=model, optimizer=optimizer, scheduler=scheduler)[
            "step"
        ]
        log.info("resumed from checkpoint %s at step %d of %d", resume, start_step, total_steps)
    else:
        log.info("starting reward training from step 0 of %d", total_steps)

    ids = tokenize_split(tokenizer, train.texts, cfg.max_length)
    labels = torch.tensor(train.labels, dtype=torch.float32)
    log.info(
        "%d training examples, %d steps/epoch, %d epochs, batch %d (micro %d x %d), lr %g, bf16 %s, device %s",
        len(train),
        steps_per_epoch,
        cfg.epochs,
        cfg.batch_size,
        cfg.micro_batch_size,
        cfg.accumulation_steps,
        cfg.learning_rate,
        use_bf16,
        device,
    )
    state = {
        "fingerprint": fingerprint,
        "steps_per_epoch": steps_per_epoch,
        "total_steps": total_steps,
    }

    def checkpoint(done: int) -> None:
        path = save_checkpoint(
            checkpoint_root,
            step=done,
            model=model,
            optimizer=optimizer,
            scheduler=scheduler,
            state=state,
            keep=cfg.keep_checkpoints,
        )
        log.info("checkpoint written: %s", path)

    started = time.perf_counter()
    window = {"loss": 0.0, "steps": 0, "examples": 0, "tokens": 0, "since": time.perf_counter()}
    last_loss = float("nan")
    order_epoch, order = -1, np.empty(0, dtype=np.int64)
    progress = Progress(
        "reward training", total_steps, unit="steps", done=start_step, logger=log,
        detail=lambda: f"last step loss {last_loss:.4f}",
    )
    with _sigterm_requests_stop() as stop:
        for step in range(start_step, total_steps):
            epoch, offset = divmod(step, steps_per_epoch)
            if epoch != order_epoch:
                order_epoch, order = epoch, epoch_order(cfg.seed, epoch, len(train))
            batch = order[offset * cfg.batch_size : (offset + 1) * cfg.batch_size]
            step_loss = 0.0
            for start in range(0, len(batch), cfg.micro_batch_size):
                rows = batch[start : start + cfg.micro_batch_size]
                inputs = {
                    k: v.to(device)
                    for k, v in collate([ids[i] for i in rows], tokenizer.pad_token_id).items()
                }
                with torch.autocast(
                    device_type=device.type, dtype=torch.bfloat16, enabled=use_bf16
                ):
                    logits = model(**inputs).logits.squeeze(-1)
                loss = micro_batch_loss(logits, labels[rows].to(device), len(batch))
                loss.backward()
                step_loss += loss.item()
                window["tokens"] += int(inputs["attention_mask"].sum())
            if cfg.max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            done = step + 1
            last_loss = step_loss
            progress.update(done)
            window["loss"] += step_loss
            window["steps"] += 1
            window["examples"] += len(batch)
            if done % cfg.log_every_steps == 0 or done == total_steps:
                elapsed = max(time.perf_counter() - window["since"], 1e-9)
                log.info(
                    "step %d/%d epoch %d loss %.4f lr %.3g %.1f examples/s %.0f tokens/s",
                    done,
                    total_steps,
                    epoch,
                    window["loss"] / window["steps"],
                    scheduler.get_last_lr()[0],
                    window["examples"] / elapsed,
                    window["tokens"] / elapsed,
                )
                window = {
                    "loss": 0.0,
                    "steps": 0,
                    "examples": 0,
                    "tokens": 0,
                    "since": time.perf_counter(),
                }
            if done % cfg.checkpoint_every_steps == 0 or done == total_steps:
                checkpoint(done)
            if on_step is not None:
                on_step(done)
            if stop["stop"] and done < total_steps:
                if done % cfg.checkpoint_every_steps:
                    checkpoint(done)
                raise TrainingInterrupted(
                    f"stopped by SIGTERM after step {done} of {total_steps}; checkpoint in "
                    f"{checkpoint_root}; re-run the job to resume"
                )
    progress.finish()
    train_seconds = time.perf_counter() - started

    model.eval()
    log.info("scoring %d held-out examples", len(test))
    scorer = RewardScorer(model, tokenizer, device=device)
    with (
        torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_bf16),
        Progress("held-out scoring", len(test), unit="examples", logger=log) as scoring,
    ):
        scores = scorer.score(test.texts, batch_size=cfg.eval_batch_size, progress=scoring)
    metrics = binary_metrics(test.labels, scores, threshold=cfg.threshold)
    metrics["training"] = {
        "steps": total_steps,
        "resumed_from_step": start_step,
        "train_examples": len(train),
        "epochs": cfg.epochs,
        "seconds_this_run": round(train_seconds, 3),
        "last_step_loss": last_loss if start_step < total_steps else None,
        "config": dataclasses.asdict(cfg),
    }
    stats = json.loads(Path(examples_stats).read_text()) if examples_stats else None
    if stats:
        model.config.input_format = stats.get("setting")
        model.config.label_rule = stats.get("label_rule")
    card = reward_model_card(
        model,
        backbone=f"{backbone.get('architecture')} built from a config spec"
        if isinstance(backbone, Mapping)
        else Path(backbone).name,
        training_config=dataclasses.asdict(cfg),
        metrics=metrics,
        examples=stats,
    )
    provenance = collect_provenance(run_config)
    model_out = Path(model_dir)
    _save_model_atomically(
        model, tokenizer, model_out, lambda out: write_model_card(out, card, provenance)
    )
    log.info("model and its card saved to %s", model_out)
    _write_atomically(Path(metrics_path), json.dumps(metrics, indent=1, sort_keys=True))
    log.info(
        "held-out: n=%d accuracy %.4f F1 %.4f ROC AUC %s",
        metrics["n"],
        metrics["accuracy"],
        metrics["f1"],
        "n/a" if metrics["roc_auc"] is None else f"{metrics['roc_auc']:.4f}",
    )
    shutil.rmtree(checkpoint_root, ignore_errors=True)
    return metrics
