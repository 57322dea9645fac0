"""A resumable, deterministic optimizer loop shared by every from-data training job (reward model, demo
warm-start).

What makes a run resumable and reproducible lives here once:

* **Data order.** Each epoch's order is a permutation drawn from (seed, epoch) alone, so the step says
  which examples come next; a resumed run sees exactly what the uninterrupted run would have seen.
* **Checkpoints.** Every ``checkpoint_every_steps`` optimizer steps the weights (safetensors),
  optimizer, scheduler, the python/numpy/torch RNG states and the step go to
  ``<checkpoint_dir>/step-<N>``, written to a temporary directory and renamed, so a checkpoint exists
  whole or not at all. A checkpoint records the run's fingerprint; one of another run is refused.
* **Signals.** On SIGTERM (what SLURM sends before a kill) the loop checkpoints at once and stops with
  :class:`TrainingInterrupted`; re-running the job resumes.
* **Accumulation.** A batch is cut into micro-batches whose losses sum to the batch loss, so gradient
  accumulation reproduces the gradient of one large batch.

The caller owns the model, its loss and everything it writes at the end.
"""

from __future__ import annotations

import json
import logging
import os
import random
import re
import shutil
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_model, save_model

from karma.progress import Progress

log = logging.getLogger(__name__)

_CHECKPOINT_RE = re.compile(r"^step-(\d+)$")


class TrainingInterrupted(RuntimeError):
    """Raised after SIGTERM once a checkpoint is safely written; re-running the job resumes."""


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The example order of one epoch: fixed by (seed, epoch) alone, so a resumed run sees the same."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def collate(ids: list[list[int]], pad_token_id: int) -> dict[str, torch.Tensor]:
    """Right-padded input ids and attention mask for one micro-batch."""
    width = max(len(row) for row in ids)
    input_ids = torch.full((len(ids), width), pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(ids), width), dtype=torch.long)
    for i, row in enumerate(ids):
        input_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        attention_mask[i, : len(row)] = 1
    return {"input_ids": input_ids, "attention_mask": attention_mask}


def decay_param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on matrices only, not on biases and norm gains (the transformers Trainer rule)."""
    decay = [p for p in model.parameters() if p.requires_grad and p.ndim >= 2]
    no_decay = [p for p in model.parameters() if p.requires_grad and p.ndim < 2]
    return [
        {"params": decay, "weight_decay": weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
    ]


def write_atomically(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


# --- checkpoints --------------------------------------------------------------------------------


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
    model: torch.nn.Module,
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
    model: torch.nn.Module,
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


# --- the loop -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoopPlan:
    """The shape of one run: how many examples, how they are batched and how often to report."""

    n_examples: int
    batch_size: int
    micro_batch_size: int
    epochs: int
    max_steps: int | None
    seed: int
    max_grad_norm: float | None
    checkpoint_every_steps: int
    keep_checkpoints: int
    log_every_steps: int

    @property
    def steps_per_epoch(self) -> int:
        return -(-self.n_examples // self.batch_size)

    @property
    def total_steps(self) -> int:
        total = self.steps_per_epoch * self.epochs
        return total if self.max_steps is None else min(total, self.max_steps)


# (rows of one micro-batch, rows of its whole optimizer batch) -> (its share of the batch loss, tokens
# it holds); the shares of a batch's micro-batches sum to the batch's mean loss.
MicroBatchLoss = Callable[[np.ndarray, np.ndarray], tuple[torch.Tensor, int]]


@dataclass(frozen=True)
class LoopResult:
    total_steps: int
    resumed_from_step: int
    last_step_loss: float | None
    seconds: float


def run_training_loop(
    plan: LoopPlan,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: torch.optim.lr_scheduler.LRScheduler,
    micro_batch_loss: MicroBatchLoss,
    checkpoint_dir: str | Path,
    fingerprint: str,
    on_step: Callable[[int], None] | None = None,
    what: str = "training",
    logger: logging.Logger | None = None,
) -> LoopResult:
    """Run (or resume) the optimizer steps of ``plan``; see the module docstring.

    ``on_step(step)`` is called after every optimizer step (and its checkpoint, if any); ``what`` names
    the job in its progress lines, which go to ``logger`` (the caller's; default this module's). The
    checkpoints are left in place: the caller removes them once its outputs are written.
    """
    root = Path(checkpoint_dir)
    total_steps = plan.total_steps
    _clear_stale_tmp(root)
    start_step = 0
    resume = latest_checkpoint(root)
    if resume is not None:
        saved = json.loads((resume / "state.json").read_text())
        if saved.get("fingerprint") != fingerprint:
            raise ValueError(
                f"checkpoint {resume} was written for another config, model or training data; "
                f"delete {root} to start this run from scratch"
            )
        start_step = load_checkpoint(resume, model=model, optimizer=optimizer, scheduler=scheduler)["step"]
        log.info("resumed from checkpoint %s at step %d of %d", resume, start_step, total_steps)
    else:
        log.info("starting training from step 0 of %d", total_steps)
    state = {"fingerprint": fingerprint, "steps_per_epoch": plan.steps_per_epoch, "total_steps": total_steps}

    def checkpoint(done: int) -> None:
        path = save_checkpoint(root, step=done, model=model, optimizer=optimizer, scheduler=scheduler,
                               state=state, keep=plan.keep_checkpoints)
        log.info("checkpoint written: %s", path)

    started = time.perf_counter()
    last_loss: float | None = None
    progress = Progress(what, total_steps, unit="steps", done=start_step, logger=logger or log,
                        detail=lambda: "" if last_loss is None else f"last step loss {last_loss:.4f}")
    window = {"loss": 0.0, "steps": 0, "examples": 0, "tokens": 0, "since": time.perf_counter()}
    order_epoch, order = -1, np.empty(0, dtype=np.int64)
    with _sigterm_requests_stop() as stop:
        for step in range(start_step, total_steps):
            epoch, offset = divmod(step, plan.steps_per_epoch)
            if epoch != order_epoch:
                order_epoch, order = epoch, epoch_order(plan.seed, epoch, plan.n_examples)
            batch = order[offset * plan.batch_size : (offset + 1) * plan.batch_size]
            step_loss = 0.0
            for start in range(0, len(batch), plan.micro_batch_size):
                loss, tokens = micro_batch_loss(batch[start : start + plan.micro_batch_size], batch)
                loss.backward()
                step_loss += loss.item()
                window["tokens"] += tokens
            if plan.max_grad_norm is not None:
                torch.nn.utils.clip_grad_norm_(model.parameters(), plan.max_grad_norm)
            optimizer.step()
            scheduler.step()
            optimizer.zero_grad(set_to_none=True)
            done = step + 1
            last_loss = step_loss
            progress.update(done)
            window["loss"] += step_loss
            window["steps"] += 1
            window["examples"] += len(batch)
            if done % plan.log_every_steps == 0 or done == total_steps:
                elapsed = max(time.perf_counter() - window["since"], 1e-9)
                log.info(
                    "step %d/%d, epoch %d, loss %.4f, lr %.3g, %.1f examples/s, %.0f tokens/s",
                    done, total_steps, epoch, window["loss"] / window["steps"],
                    scheduler.get_last_lr()[0], window["examples"] / elapsed, window["tokens"] / elapsed,
                )
                window = {"loss": 0.0, "steps": 0, "examples": 0, "tokens": 0, "since": time.perf_counter()}
            if done % plan.checkpoint_every_steps == 0 or done == total_steps:
                checkpoint(done)
            if on_step is not None:
                on_step(done)
            if stop["stop"] and done < total_steps:
                if done % plan.checkpoint_every_steps:
                    checkpoint(done)
                raise TrainingInterrupted(
                    f"stopped by SIGTERM after step {done} of {total_steps}; checkpoint in {root}; "
                    "re-run the job to resume"
                )
    progress.finish()
    return LoopResult(total_steps, start_step, last_loss if start_step < total_steps else None,
                      time.perf_counter() - started)
