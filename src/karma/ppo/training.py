"""PPO stage orchestration: one policy x variant from inputs to model directory and train log.

Nothing here imports TRL (that lives in :mod:`karma.ppo.trl_backend`, imported only when a policy
trains), so a later switch of trainer touches one module. The backend gets callbacks, never this
module. What the orchestrator owns:

* **Safety rails**: a KL band whose violations are warned about in the log, the train log and the
  summary (a reward-hacking sign), and the same-family check of :mod:`karma.ppo.variants`.
* **Resume**: :mod:`karma.ppo.checkpoints` every N updates; a killed job re-run with the same inputs
  and config continues from the newest one.
* **Outputs**: the model directory (safetensors, tokenizer with the prompt format's chat template,
  model card, provenance) and ``train_log.jsonl``, one row per update.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from torch import nn

from karma.formats import CHAT_TEMPLATE, SETTINGS
from karma.model_cards import ModelCard, write_model_card
from karma.ppo.card import base_policy_card, ppo_policy_card
from karma.ppo.checkpoints import CheckpointStore, TrainingState, run_fingerprint
from karma.ppo.settings import PolicyTrainingConfig
from karma.ppo.state import TrainLog, UpdateStats, read_prompts
from karma.ppo.variants import check_same_family, resolve_families
from karma.progress import Progress
from karma.provenance import collect_provenance

log = logging.getLogger(__name__)


def save_model_dir(
    model: nn.Module, tokenizer: Any, out_dir: str | Path, write_card: Callable[[Path], Any]
) -> Path:
    """Model (safetensors), tokenizer with the chat template of the prompt format, and the card
    (``write_card(directory)``) into ``out_dir``, atomically (written aside, then renamed)."""
    out = Path(out_dir)
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    model.save_pretrained(tmp, safe_serialization=True)
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(tmp)
    write_card(tmp)
    if out.exists():
        shutil.rmtree(out)
    tmp.rename(out)
    return out


def _card_writer(card: ModelCard, run_config: Mapping[str, Any] | None) -> Callable[[Path], Any]:
    provenance = collect_provenance(run_config)
    return lambda directory: write_model_card(directory, card, provenance)


def export_base_policy(
    policy_dir: str | Path,
    out_model_dir: str | Path,
    *,
    policy_name: str | None = None,
    source: str | None = None,
    run_config: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The ``base`` variant: the policy itself in its stored dtype, re-saved as a self-contained
    safetensors directory (a copy, not a link, so deleting resources never breaks a result).
    ``source`` says where the policy came from (hub repository or config spec), for the card."""
    from karma.backbones import load_causal_lm, load_tokenizer

    name = policy_name or Path(policy_dir).name
    model = load_causal_lm(policy_dir)
    card = base_policy_card(policy=name, source=source or "source not recorded", policy_dir=policy_dir)
    save_model_dir(model, load_tokenizer(policy_dir), out_model_dir, _card_writer(card, run_config))
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
        "kl_coef": stats.kl_coef,
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
    source: str | None = None,
    run_config: Mapping[str, Any] | None = None,
    policy_family: str | None = None,
    reward_family: str | None = None,
) -> dict[str, Any]:
    """PPO-train one policy for one variant; returns the run summary (also fine to write as JSON).

    ``policy_family``/``reward_family`` are the configured model families for the same-family check
    (:func:`karma.ppo.variants.check_same_family`); absent, each model's ``model_type`` stands in.

    ``checkpoint_dir`` must survive a failed job (it must not be a Snakemake output, which Snakemake
    deletes); re-running after a kill continues from its newest checkpoint and rewrites
    ``train_log.jsonl`` from the rows saved with it. ``source`` (where the policy came from) and
    ``run_config`` (the workflow config, as provenance) go into the model card.
    """
    cfg = config if isinstance(config, PolicyTrainingConfig) else PolicyTrainingConfig.from_mapping(config)
    if setting not in SETTINGS:
        raise ValueError(f"variant {variant!r}: reward setting {setting!r} is not one of {', '.join(SETTINGS)}")
    name = policy_name or Path(policy_dir).name
    check_same_family(name, *resolve_families(policy_dir, reward_model_dir, policy_family, reward_family),
                      cfg.same_family_intended)
    prompts = read_prompts(prompts_path)
    fingerprint = run_fingerprint(
        cfg, {"policy": policy_dir, "reward_model": reward_model_dir, "prompts": prompts_path},
        variant=variant, setting=setting,
    )
    store = CheckpointStore(checkpoint_dir, fingerprint)
    resume = store.latest()
    train_log = TrainLog(train_log_path, resume.log_rows() if resume is not None else ())
    from karma.reward.model import RewardScorer

    scorer = RewardScorer.from_pretrained(reward_model_dir, device=cfg.device)
    started = time.perf_counter()
    total = cfg.ppo.total_updates
    progress = Progress(
        f"PPO {name}/{variant}", total, unit="updates", done=len(train_log.rows), logger=log,
        detail=lambda: f"reward {train_log.rows[-1]['mean_reward']:.4f}" if train_log.rows else "",
    )

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
        progress.update(stats.update)

    def on_checkpoint(state: TrainingState) -> None:
        store.save(state, train_log.rows)

    from karma.ppo.trl_backend import run_ppo

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
    progress.finish()
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
    summary = {
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
        "prompts_truncated": result.prompts_truncated,
        "prompts_dropped_too_long": result.prompts_dropped_too_long,
        "prompts_dropped_duplicate": result.prompts_dropped_duplicate,
        "seconds": round(time.perf_counter() - started, 2),
    }
    card = ppo_policy_card(
        policy=name, variant=variant, setting=setting, source=source or "source not recorded",
        reward_model_dir=reward_model_dir, prompts_path=prompts_path,
        training_config=cfg.to_dict(), summary=summary,
    )
    save_model_dir(result.model, result.tokenizer, out_model_dir, _card_writer(card, run_config))
    if not cfg.keep_checkpoints:
        store.remove()
    return summary
