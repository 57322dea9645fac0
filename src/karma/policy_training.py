"""PPO stage orchestration: variants, config, safety rails, resume bookkeeping and the train log.

Nothing here imports TRL (that lives in :mod:`karma.trl_ppo`, imported only when a policy trains), so
config validation is cheap and a later switch of trainer touches one module. What this module owns:

* **Variants** (``base``/``benign``/``toxic``/``eroded`` in the paper): a reward setting and a prompt source.
* **Safety rails**: a KL band whose violations are warned about in the log, the train log and the
  summary (a reward-hacking sign), and a same-family check that refuses a policy of the reward model's
  own architecture family unless the config says this is intended (the paper excluded Llama-1B).
* **Resume**: atomic checkpoints every N updates (trainable weights of policy and value model,
  optimizer, scheduler, RNG, update count, train-log rows); a killed job re-run with the same inputs
  and config continues from the newest one. Checkpoints of other inputs or config are discarded.
* **Outputs**: the model directory (safetensors + tokenizer) and ``train_log.jsonl``, one row per update.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import os
import random
import shutil
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn

from karma.formats import SETTINGS, Conversation, Setting
from karma.parquet_io import read_stage_table
from karma.settings import checked_kwargs

log = logging.getLogger(__name__)

PROMPT_SOURCES = ("reddit", "ultrachat")
PROMPT_COLUMNS = ("prompt_id", "source", "title", "body", "parents", "siblings", "subreddit", "created_utc")
SAME_FAMILY_KEY = "same_family_intended"


# --------------------------------------------------------------------------------------------------
# Config


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
    kl_coef                 0.05        per-token KL penalty against the frozen base (TRL default)
    response_length         64          new tokens per response: Reddit replies are short
    temperature             0.7         sampling temperature (TRL default)
    max_prompt_tokens       256         longer prompts are dropped (counted in the summary)
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
                    "response_length", "max_prompt_tokens", "rollout_batch_size")
        for name in positive:
            if getattr(self, name) < 1:
                raise ValueError(f"ppo.{name} must be at least 1, got {getattr(self, name)}")
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
    ``bf16``: bf16 mixed precision (GPU only). ``gradient_checkpointing``: trade compute for memory.
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
        for name in ("checkpoint_every", "sample_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
        if self.samples_per_row < 0:
            raise ValueError(f"samples_per_row must be >= 0, got {self.samples_per_row}")

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> PolicyTrainingConfig:
        """Build from a plain config mapping (YAML); nested sections are mappings too."""
        kwargs = checked_kwargs(cls, raw, "policy training config")
        if "ppo" in kwargs:
            kwargs["ppo"] = PPOSettings(**checked_kwargs(PPOSettings, kwargs["ppo"], "ppo"))
        if "lora" in kwargs:
            lora = checked_kwargs(LoRASettings, kwargs["lora"], "lora")
            if isinstance(lora.get("target_modules"), list):
                lora["target_modules"] = tuple(lora["target_modules"])
            kwargs["lora"] = LoRASettings(**lora)
        if "kl_band" in kwargs:
            kwargs["kl_band"] = KLBand(**checked_kwargs(KLBand, kwargs["kl_band"], "kl_band"))
        return cls(**kwargs)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# --------------------------------------------------------------------------------------------------
# Variants


@dataclass(frozen=True)
class Variant:
    """A PPO variant: which reward model setting scores which prompts (``base``: no training)."""

    name: str
    reward_setting: Setting | None
    prompt_source: str | None
    policies: tuple[str, ...]

    @property
    def trains(self) -> bool:
        return self.reward_setting is not None


def variants_from_config(raw: Mapping[str, Mapping[str, Any]]) -> dict[str, Variant]:
    """Parse ``{name: {setting, prompts, policies}}``; a variant without setting/prompts is untrained.

    Example: ``{"benign": {"setting": "generalized", "prompts": "ultrachat", "policies": ["pythia"]}}``.
    """
    variants: dict[str, Variant] = {}
    for name, spec in raw.items():
        kwargs = checked_kwargs(_VariantSpec, spec, f"variant {name!r}")
        spec_ = _VariantSpec(**kwargs)
        if (spec_.setting is None) != (spec_.prompts is None):
            raise ValueError(
                f"variant {name!r}: set both 'setting' and 'prompts' (a trained variant) or neither "
                "(the untrained base)"
            )
        if spec_.setting is not None and spec_.setting not in SETTINGS:
            raise ValueError(
                f"variant {name!r}: setting {spec_.setting!r} is not one of {', '.join(SETTINGS)}"
            )
        if spec_.prompts is not None and spec_.prompts not in PROMPT_SOURCES:
            raise ValueError(
                f"variant {name!r}: prompts {spec_.prompts!r} is not one of {', '.join(PROMPT_SOURCES)}"
            )
        if isinstance(spec_.policies, str) or not spec_.policies:
            raise ValueError(f"variant {name!r}: 'policies' must be a non-empty list of policy names")
        variants[name] = Variant(name, spec_.setting, spec_.prompts, tuple(spec_.policies))
    return variants


@dataclass(frozen=True)
class _VariantSpec:
    policies: Sequence[str]
    setting: str | None = None
    prompts: str | None = None


# --------------------------------------------------------------------------------------------------
# Same-family check


def model_family(model_dir: str | Path) -> str:
    """The architecture family (``model_type``) of a model directory; for a karma reward model, its
    backbone's family."""
    config_path = Path(model_dir) / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(f"{model_dir} has no config.json: not a model directory")
    config = json.loads(config_path.read_text())
    text_config = config.get("text_config")
    if isinstance(text_config, Mapping) and "model_type" in text_config:
        return str(text_config["model_type"])
    if "model_type" not in config:
        raise ValueError(f"{config_path} names no model_type; cannot tell the model's family")
    return str(config["model_type"])


def check_same_family(policy_name: str, policy_family: str, reward_family: str, intended: bool) -> None:
    """Refuse a policy of the reward model's own family unless the config says it is intended.

    A policy that shares the reward model's architecture (and usually its pretraining and tokenizer)
    can exploit the reward model's blind spots: the paper excluded Llama-1B for this reason.
    """
    if policy_family != reward_family:
        return
    if intended:
        log.warning(
            "policy %s is of the reward model's family (%s); allowed because %s is set",
            policy_name, reward_family, SAME_FAMILY_KEY,
        )
        return
    raise ValueError(
        f"policy {policy_name!r} has the reward model's architecture family ({reward_family}): PPO "
        f"against a reward model of its own family invites reward hacking (the paper excluded "
        f"Llama-1B). Set {SAME_FAMILY_KEY}: true in this policy's PPO config if this is intended."
    )


# --------------------------------------------------------------------------------------------------
# Prompts


@dataclass(frozen=True)
class Prompt:
    prompt_id: str
    conversation: Conversation


def read_prompts(path: str | Path) -> list[Prompt]:
    """PPO prompts from the data stage's Parquet file (one structured conversation per row)."""
    table = read_stage_table(path, PROMPT_COLUMNS, "prompt file")
    prompts = []
    for row in table.select(list(PROMPT_COLUMNS)).to_pylist():
        conversation = Conversation(
            title=row["title"] or "",
            body=row["body"] or "",
            parents=tuple(row["parents"] or ()),
            siblings=tuple(row["siblings"] or ()),
            subreddit=row["subreddit"],
            created_utc=row["created_utc"],
        )
        prompts.append(Prompt(str(row["prompt_id"]), conversation))
    if not prompts:
        raise ValueError(f"prompt file {path} has no rows; PPO needs prompts")
    return prompts


# --------------------------------------------------------------------------------------------------
# Train log


class TrainLog:
    """``train_log.jsonl``: one JSON object per line, appended and flushed per update."""

    def __init__(self, path: str | Path, rows: Sequence[Mapping[str, Any]] = ()) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.rows: list[dict[str, Any]] = [dict(r) for r in rows]
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in self.rows))
        tmp.replace(self.path)

    def append(self, row: Mapping[str, Any]) -> None:
        self.rows.append(dict(row))
        with self.path.open("a") as handle:
            handle.write(json.dumps(row, sort_keys=True) + "\n")
            handle.flush()


def read_train_log(path: str | Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


# --------------------------------------------------------------------------------------------------
# Checkpoints


@dataclass
class TrainingState:
    """What a checkpoint captures; modules contribute their *trainable* parameters only (LoRA-sized
    for LoRA runs), frozen weights come back from the input model directory."""

    update: int
    episodes: int
    modules: Mapping[str, nn.Module]
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler


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
        meta = {"update": state.update, "episodes": state.episodes, "fingerprint": self.fingerprint}
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


# --------------------------------------------------------------------------------------------------
# Training entry points


@dataclass(frozen=True)
class UpdateStats:
    """One PPO update as the trainer reports it; ``samples`` are all rollouts of the update.

    ``kl`` is the mean per-response KL to the base policy (nats, summed over response tokens);
    ``entropy`` the mean per-token entropy of the policy during the update; ``mean_reward`` the mean
    score the trainer optimised (the reward-model probability, less ``missing_eos_penalty`` if set).
    """

    update: int
    episodes: int
    mean_reward: float
    kl: float
    entropy: float
    clip_fraction: float
    value_loss: float
    policy_loss: float
    approx_kl: float
    learning_rate: float
    seconds: float
    samples: list[dict[str, Any]]


def save_model_dir(model: nn.Module, tokenizer: Any, out_dir: str | Path) -> Path:
    """Model (safetensors) and tokenizer into ``out_dir``, atomically (written aside, then renamed)."""
    out = Path(out_dir)
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.save_pretrained(tmp)
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out


def export_base_policy(policy_dir: str | Path, out_model_dir: str | Path) -> dict[str, Any]:
    """The ``base`` variant: the policy itself, re-saved as a self-contained safetensors directory
    (a copy, not a link, so deleting resources never breaks a result)."""
    from karma.backbones import load_causal_lm, load_tokenizer

    model = load_causal_lm(policy_dir)
    save_model_dir(model, load_tokenizer(policy_dir), out_model_dir)
    log.info("exported untrained base policy %s to %s", policy_dir, out_model_dir)
    return {"variant": "base", "policy_dir": str(policy_dir), "updates": 0}


def _row(stats: UpdateStats) -> dict[str, Any]:
    return {
        "update": stats.update,
        "episodes": stats.episodes,
        "mean_reward": stats.mean_reward,
        "kl": stats.kl,
        "entropy": stats.entropy,
        "clip_fraction": stats.clip_fraction,
        "value_loss": stats.value_loss,
        "policy_loss": stats.policy_loss,
        "approx_kl": stats.approx_kl,
        "learning_rate": stats.learning_rate,
        "seconds": round(stats.seconds, 4),
    }


def train_policy(
    policy_dir: str | Path,
    reward_model_dir: str | Path,
    prompts_path: str | Path,
    variant: str,
    setting: str,
    out_model_dir: str | Path,
    train_log_path: str | Path,
    checkpoint_dir: str | Path,
    config: PolicyTrainingConfig | Mapping[str, Any],
    *,
    policy_name: str | None = None,
) -> dict[str, Any]:
    """PPO-train one policy for one variant; returns the run summary (also fine to write as JSON).

    ``checkpoint_dir`` must survive a failed job (it must not be a Snakemake output, which Snakemake
    deletes); re-running after a kill continues from its newest checkpoint and rewrites
    ``train_log.jsonl`` from the rows saved with it.
    """
    cfg = config if isinstance(config, PolicyTrainingConfig) else PolicyTrainingConfig.from_mapping(config)
    if setting not in SETTINGS:
        raise ValueError(f"variant {variant!r}: reward setting {setting!r} is not one of {', '.join(SETTINGS)}")
    name = policy_name or Path(policy_dir).name
    check_same_family(name, model_family(policy_dir), model_family(reward_model_dir), cfg.same_family_intended)
    prompts = read_prompts(prompts_path)
    fingerprint = run_fingerprint(
        cfg, {"policy": policy_dir, "reward_model": reward_model_dir, "prompts": prompts_path},
        variant=variant, setting=setting,
    )
    store = CheckpointStore(checkpoint_dir, fingerprint)
    resume = store.latest()
    train_log = TrainLog(train_log_path, resume.log_rows() if resume is not None else ())
    from karma.reward_model import RewardScorer

    scorer = RewardScorer.from_pretrained(reward_model_dir, device=cfg.device)
    started = time.perf_counter()
    total = cfg.ppo.total_updates

    def on_update(stats: UpdateStats) -> None:
        row = _row(stats)
        if not cfg.kl_band.contains(stats.kl):
            row["kl_out_of_band"] = True
            log.warning(
                "%s/%s update %d: KL %.3f outside the band [%g, %g] (a reward-hacking sign)",
                name, variant, stats.update, stats.kl, cfg.kl_band.low, cfg.kl_band.high,
            )
        if cfg.samples_per_row and (stats.update == 1 or stats.update % cfg.sample_every == 0):
            row["samples"] = stats.samples[: cfg.samples_per_row]
        train_log.append(row)
        log.info(
            "%s/%s update %d/%d: reward %.4f kl %.4f entropy %.3f (%.2f s/update, %.1f episodes/s)",
            name, variant, stats.update, total, stats.mean_reward, stats.kl, stats.entropy,
            stats.seconds, cfg.ppo.batch_size / max(stats.seconds, 1e-9),
        )

    def on_checkpoint(state: TrainingState) -> None:
        store.save(state, train_log.rows)

    from karma.trl_ppo import run_ppo

    scratch_dir = Path(checkpoint_dir) / "trainer"

    result = run_ppo(
        policy_dir=Path(policy_dir),
        scorer=scorer,
        prompts=prompts,
        setting=setting,  # type: ignore[arg-type]
        config=cfg,
        scratch_dir=scratch_dir,
        resume=resume,
        on_update=on_update,
        on_checkpoint=on_checkpoint,
    )
    save_model_dir(result.model, result.tokenizer, out_model_dir)
    rows = train_log.rows
    out_of_band = [{"update": r["update"], "kl": r["kl"]} for r in rows if r.get("kl_out_of_band")]
    warning = None
    if out_of_band:
        warning = (
            f"KL left the band [{cfg.kl_band.low}, {cfg.kl_band.high}] in {len(out_of_band)} of "
            f"{len(rows)} updates (max {max(r['kl'] for r in out_of_band):.3f}): check the samples "
            "in the train log for reward hacking"
        )
        log.warning("%s/%s: %s", name, variant, warning)
    if not cfg.keep_checkpoints:
        store.clear()
        shutil.rmtree(scratch_dir, ignore_errors=True)
    return {
        "policy": name,
        "variant": variant,
        "setting": setting,
        "updates": rows[-1]["update"] if rows else 0,
        "episodes": rows[-1]["episodes"] if rows else 0,
        "resumed_from_update": result.resumed_from_update,
        "mean_reward_first": rows[0]["mean_reward"] if rows else None,
        "mean_reward_last": rows[-1]["mean_reward"] if rows else None,
        "kl_last": rows[-1]["kl"] if rows else None,
        "kl_band": [cfg.kl_band.low, cfg.kl_band.high],
        "kl_out_of_band": out_of_band,
        "warning": warning,
        "prompts_used": result.prompts_used,
        "prompts_dropped_too_long": result.prompts_dropped_too_long,
        "prompts_dropped_duplicate": result.prompts_dropped_duplicate,
        "seconds": round(time.perf_counter() - started, 2),
    }


# --------------------------------------------------------------------------------------------------
# Memory estimate


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
