"""Train and evaluate a karma reward model: full fine-tuning with BCE, resumable after a kill.

Method (paper §4): binary cross-entropy on the reward model's logit, AdamW with weight decay 0.01,
effective batch size 16, full fine-tuning of backbone and head. The paper does not state its learning
rate; the default here, 1e-5 with 3% linear warm-up and linear decay, is the usual full fine-tuning rate
for ~1B-parameter reward models (the demo's tiny random-init backbone needs a far higher one, set in
its config). Weight decay applies to matrices only, not to biases and norm gains (the transformers
Trainer convention). Gradients are clipped to norm 1.0.

Resumption (:mod:`karma.resumable_training`): a job killed at any point (SIGKILL, preemption, time
limit) and started again continues from its last checkpoint and ends with the weights an uninterrupted
run would have had. On SIGTERM (what SLURM sends before a kill) the loop writes a checkpoint at once and
stops with :class:`karma.resumable_training.TrainingInterrupted`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import random
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from transformers import PreTrainedTokenizerBase, get_scheduler

from karma.backbones import causal_lm_config, load_tokenizer
from karma.model_cards import write_model_card
from karma.parquet_io import read_stage_table
from karma.progress import Progress
from karma.provenance import collect_provenance
from karma.resumable_training import (
    LoopPlan,
    collate,
    decay_param_groups,
    run_training_loop,
    write_atomically,
)
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


def tokenize_split(
    tokenizer: PreTrainedTokenizerBase, texts: list[str], max_length: int
) -> list[list[int]]:
    """Token ids per text, truncated from the left (the candidate response is at the end)."""
    tokenizer.truncation_side = "left"
    return tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]


def micro_batch_loss(
    logits: torch.Tensor, labels: torch.Tensor, batch_examples: int
) -> torch.Tensor:
    """This micro-batch's share of the optimizer batch's mean BCE.

    Summing over micro-batches gives exactly the mean over the whole batch, whatever the split, so
    gradient accumulation reproduces the gradient of one large batch.
    """
    loss = F.binary_cross_entropy_with_logits(logits.float(), labels.float(), reduction="sum")
    return loss / batch_examples


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


def _use_bf16(config: RewardTrainingConfig, device: torch.device) -> bool:
    if config.bf16 == "auto":
        return device.type == "cuda" and torch.cuda.is_bf16_supported()
    return bool(config.bf16)


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

    plan = LoopPlan(
        n_examples=len(train),
        batch_size=cfg.batch_size,
        micro_batch_size=cfg.micro_batch_size,
        epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        seed=cfg.seed,
        max_grad_norm=cfg.max_grad_norm,
        checkpoint_every_steps=cfg.checkpoint_every_steps,
        keep_checkpoints=cfg.keep_checkpoints,
        log_every_steps=cfg.log_every_steps,
    )
    optimizer = torch.optim.AdamW(decay_param_groups(model, cfg.weight_decay), lr=cfg.learning_rate)
    scheduler = get_scheduler(
        cfg.lr_schedule,
        optimizer,
        num_warmup_steps=round(cfg.warmup_ratio * plan.total_steps),
        num_training_steps=plan.total_steps,
    )
    ids = tokenize_split(tokenizer, train.texts, cfg.max_length)
    labels = torch.tensor(train.labels, dtype=torch.float32)
    log.info(
        "%d training examples, %d steps/epoch, %d epochs, batch %d (micro %d x %d), lr %g, bf16 %s, device %s",
        len(train),
        plan.steps_per_epoch,
        cfg.epochs,
        cfg.batch_size,
        cfg.micro_batch_size,
        cfg.accumulation_steps,
        cfg.learning_rate,
        use_bf16,
        device,
    )

    def batch_loss(rows: np.ndarray, batch: np.ndarray) -> tuple[torch.Tensor, int]:
        inputs = {
            k: v.to(device) for k, v in collate([ids[i] for i in rows], tokenizer.pad_token_id).items()
        }
        with torch.autocast(device_type=device.type, dtype=torch.bfloat16, enabled=use_bf16):
            logits = model(**inputs).logits.squeeze(-1)
        loss = micro_batch_loss(logits, labels[rows].to(device), len(batch))
        return loss, int(inputs["attention_mask"].sum())

    result = run_training_loop(
        plan,
        model=model,
        optimizer=optimizer,
        scheduler=scheduler,
        micro_batch_loss=batch_loss,
        checkpoint_dir=checkpoint_root,
        fingerprint=_fingerprint(cfg, backbone, train),
        on_step=on_step,
        what="reward training",
        logger=log,
    )

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
        "steps": result.total_steps,
        "resumed_from_step": result.resumed_from_step,
        "train_examples": len(train),
        "epochs": cfg.epochs,
        "seconds_this_run": round(result.seconds, 3),
        "last_step_loss": result.last_step_loss,
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
    write_atomically(Path(metrics_path), json.dumps(metrics, indent=1, sort_keys=True))
    log.info(
        "held-out: n=%d accuracy %.4f F1 %.4f ROC AUC %s",
        metrics["n"],
        metrics["accuracy"],
        metrics["f1"],
        "n/a" if metrics["roc_auc"] is None else f"{metrics['roc_auc']:.4f}",
    )
    shutil.rmtree(checkpoint_root, ignore_errors=True)
    return metrics
