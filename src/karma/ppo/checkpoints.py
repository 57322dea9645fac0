"""Atomic, fingerprinted PPO checkpoints: trainable weights, optimizer, scheduler, RNG and train-log rows.

A killed job re-run with the same inputs and config continues from the newest checkpoint; checkpoints
written for other inputs or config are discarded.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from karma.ppo.settings import PolicyTrainingConfig
from karma.ppo.state import read_train_log

log = logging.getLogger(__name__)


@dataclass
class TrainingState:
    """What a checkpoint captures; modules contribute their *trainable* parameters only (LoRA-sized
    for LoRA runs), frozen weights come back from the input model directory."""

    update: int
    episodes: int
    modules: Mapping[str, nn.Module]
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    kl_coef: float


def _trainable(modules: Mapping[str, nn.Module]) -> dict[str, nn.Parameter]:
    return {
        f"{prefix}.{name}": param
        for prefix, module in modules.items()
        for name, param in module.named_parameters()
        if param.requires_grad
    }


def _rng_state() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    tensors = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        for index, state in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"cuda.{index}"] = state
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    tensors["numpy"] = torch.from_numpy(np.asarray(keys, dtype=np.int64))
    meta = {
        "numpy": [kind, int(pos), int(has_gauss), float(cached)],
        "python": [random.getstate()[0], list(random.getstate()[1]), random.getstate()[2]],
    }
    return tensors, meta


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Checkpoint:
    """One complete checkpoint directory on disk."""

    def __init__(self, path: Path) -> None:
        self.path = path
        meta = json.loads((path / "state.json").read_text())
        self.update: int = meta["update"]
        self.episodes: int = meta["episodes"]
        self.fingerprint: str = meta["fingerprint"]
        self.kl_coef: float = meta["kl_coef"]

    def log_rows(self) -> list[dict[str, Any]]:
        return read_train_log(self.path / "train_log.jsonl")

    def restore(
        self,
        modules: Mapping[str, nn.Module],
        optimizer: torch.optim.Optimizer,
        scheduler: torch.optim.lr_scheduler.LRScheduler,
    ) -> None:
        """Load trainable weights, optimizer and scheduler state into freshly built objects."""
        saved = load_file(self.path / "params.safetensors")
        params = _trainable(modules)
        if set(saved) != set(params):
            raise ValueError(
                f"checkpoint {self.path} holds other trainable parameters than this model "
                f"({len(saved)} vs {len(params)}); delete the checkpoint directory to start over"
            )
        with torch.no_grad():
            for name, param in params.items():
                if saved[name].shape != param.shape:
                    raise ValueError(f"checkpoint {self.path}: {name} has shape {tuple(saved[name].shape)}, "
                                     f"the model {tuple(param.shape)}; delete the checkpoint to start over")
                param.copy_(saved[name])
        opt_tensors = load_file(self.path / "optimizer.safetensors")
        opt_meta = json.loads((self.path / "optimizer.json").read_text())
        state: dict[int, dict[str, Any]] = {}
        for key, value in opt_meta["state"].items():
            state[int(key)] = dict(value)
        for key, tensor in opt_tensors.items():
            index, name = key.split(".", 1)
            state.setdefault(int(index), {})[name] = tensor
        optimizer.load_state_dict({"state": state, "param_groups": opt_meta["param_groups"]})
        scheduler.load_state_dict(json.loads((self.path / "scheduler.json").read_text()))

    def restore_rng(self) -> None:
        """Put every RNG back where it was when the checkpoint was written."""
        tensors = load_file(self.path / "rng.safetensors")
        meta = json.loads((self.path / "rng.json").read_text())
        torch.set_rng_state(tensors["torch"])
        cuda = sorted((k for k in tensors if k.startswith("cuda.")), key=lambda k: int(k.split(".")[1]))
        if cuda and torch.cuda.is_available():
            torch.cuda.set_rng_state_all([tensors[k] for k in cuda])
        kind, pos, has_gauss, cached = meta["numpy"]
        np.random.set_state((kind, tensors["numpy"].numpy().astype(np.uint32), pos, has_gauss, cached))
        version, internal, gauss = meta["python"]
        random.setstate((version, tuple(internal), gauss))


class CheckpointStore:
    """Atomic checkpoints in one directory, tagged with the fingerprint of the run's inputs and config.

    A checkpoint is written to ``ckpt-<update>.tmp`` and renamed when complete, so a job killed
    mid-write leaves only a ``.tmp`` directory, which the next run deletes. Only the newest is kept.
    """

    def __init__(self, directory: str | Path, fingerprint: str) -> None:
        self.directory = Path(directory)
        self.fingerprint = fingerprint
        self.directory.mkdir(parents=True, exist_ok=True)
        for partial in self.directory.glob("ckpt-*.tmp"):
            log.warning("removing incomplete checkpoint %s (the job was killed while writing it)", partial)
            shutil.rmtree(partial)

    def _complete(self) -> list[Path]:
        return sorted(p for p in self.directory.glob("ckpt-*") if (p / "state.json").is_file()
                      and not p.name.endswith(".tmp"))

    def latest(self) -> Checkpoint | None:
        """The newest checkpoint of this run; checkpoints of other inputs or config are discarded."""
        found = self._complete()
        if not found:
            return None
        newest = Checkpoint(found[-1])
        if newest.fingerprint != self.fingerprint:
            log.warning(
                "checkpoints in %s were written for other inputs or config; discarding them and "
                "training from update 0", self.directory,
            )
            self.clear()
            return None
        return newest

    def save(self, state: TrainingState, log_rows: Sequence[Mapping[str, Any]]) -> Path:
        final = self.directory / f"ckpt-{state.update:08d}"
        tmp = self.directory / f"ckpt-{state.update:08d}.tmp"
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir()
        params = {name: p.detach().cpu().contiguous() for name, p in _trainable(state.modules).items()}
        save_file(params, tmp / "params.safetensors")
        opt = state.optimizer.state_dict()
        opt_tensors: dict[str, torch.Tensor] = {}
        opt_meta: dict[str, Any] = {"param_groups": opt["param_groups"], "state": {}}
        for index, values in opt["state"].items():
            for name, value in values.items():
                if isinstance(value, torch.Tensor):
                    opt_tensors[f"{index}.{name}"] = value.detach().cpu().contiguous()
                else:
                    opt_meta["state"].setdefault(str(index), {})[name] = value
        save_file(opt_tensors, tmp / "optimizer.safetensors")
        (tmp / "optimizer.json").write_text(json.dumps(opt_meta))
        (tmp / "scheduler.json").write_text(json.dumps(state.scheduler.state_dict()))
        rng_tensors, rng_meta = _rng_state()
        save_file(rng_tensors, tmp / "rng.safetensors")
        (tmp / "rng.json").write_text(json.dumps(rng_meta))
        (tmp / "train_log.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in log_rows))
        meta = {"update": state.update, "episodes": state.episodes, "fingerprint": self.fingerprint,
                "kl_coef": state.kl_coef}
        (tmp / "state.json").write_text(json.dumps(meta))
        for item in tmp.iterdir():
            with item.open("rb") as handle:
                os.fsync(handle.fileno())
        _fsync_dir(tmp)
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
        _fsync_dir(self.directory)
        for older in self._complete():
            if older != final:
                shutil.rmtree(older)
        log.info("checkpoint at update %d written to %s", state.update, final)
        return final

    def clear(self) -> None:
        for path in self.directory.glob("ckpt-*"):
            shutil.rmtree(path)

    def remove(self) -> None:
        """After a successful run: the checkpoints, any scratch files and the directory itself."""
        shutil.rmtree(self.directory, ignore_errors=True)


def _file_signature(path: Path) -> list[Any]:
    """Cheap identity of an input (name, size, mtime per file): a rebuilt input gets a new one."""
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return [[str(p.relative_to(path) if path.is_dir() else p.name), p.stat().st_size,
             p.stat().st_mtime_ns] for p in files]


def run_fingerprint(config: PolicyTrainingConfig, inputs: Mapping[str, str | Path], **extra: Any) -> str:
    payload = {
        "config": config.to_dict(),
        "inputs": {name: _file_signature(Path(p)) for name, p in sorted(inputs.items())},
        "extra": extra,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()
