"""Tables of the training stages: the reward models' held-out metrics and the PPO runs' summaries."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from karma.report.layout import PPO_TABLE_STEM, REWARD_TABLE_STEM, ordered_variants, variant_label
from karma.report.rendering import (
    MISSING,
    Entry,
    Rendered,
    fmt,
    order_policies,
    write_formats,
)

REWARD_SETTINGS = ("generalized", "conditioned")
REWARD_REQUIRED = ("accuracy", "f1", "roc_auc")
REWARD_COLUMNS = (
    ("accuracy", "Accuracy"),
    ("f1", "F1"),
    ("roc_auc", "ROC AUC"),
    ("pr_auc", "PR AUC"),
    ("label_positive_rate", "Rewarding share"),
)
PPO_REQUIRED = ("policy", "variant", "updates", "prompts_used", "prompts_truncated", "prompts_dropped_too_long",
                "prompts_dropped_duplicate", "mean_reward_first", "mean_reward_last", "kl_last", "kl_out_of_band")


# --- reward model -----------------------------------------------------------------------------


def _read_checked(path: str | Path, required: Iterable[str], what: str, lack: str, job: str) -> dict[str, Any]:
    """A job's JSON output, checked for the keys a table needs; the error says which job to re-run."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise ValueError(f"cannot read {what} {path}: {err}; re-run its {job} job") from err
    missing = [key for key in required if key not in data]
    if missing:
        raise ValueError(f"{what} {path} {lack} {', '.join(missing)}; re-run its {job} job")
    return data


def read_reward_metrics(path: str | Path) -> dict[str, Any]:
    """A reward model's ``metrics.json``, checked for the keys the tables and figures need."""
    return _read_checked(path, REWARD_REQUIRED, "reward metrics", "lack", "training")


def reward_metric(metrics: Mapping[str, Any], key: str) -> float:
    """A metric as float; NaN where absent or null (e.g. AUCs when the held-out labels hold one class)."""
    value = metrics.get(key)
    if value is None and key == "label_positive_rate":
        value = metrics.get("positive_rate")
    return math.nan if value is None else float(value)


def ordered_settings(settings: Iterable[str]) -> list[str]:
    found = set(settings)
    return [s for s in REWARD_SETTINGS if s in found] + sorted(found - set(REWARD_SETTINGS))


def write_reward_table(
    reward_metrics: Mapping[str, str | Path], out_dir: str | Path, decimals: int = 4
) -> list[Path]:
    """Reward model held-out metrics, one row per setting (``{setting: metrics.json}``)."""
    if not reward_metrics:
        raise ValueError("no reward metrics given; pass {setting: path to metrics.json}")
    metrics = {s: read_reward_metrics(p) for s, p in reward_metrics.items()}
    settings = ordered_settings(metrics)
    rows: list[list[Entry]] = []
    csv_rows: list[list[Any]] = []
    for setting in settings:
        m = metrics[setting]
        values = [reward_metric(m, key) for key, _ in REWARD_COLUMNS]
        rows.append([setting, *[fmt(v, decimals) for v in values], str(m.get("n", MISSING))])
        csv_rows.append([setting, *values, m.get("n", "")])
    notes = []
    if {"generalized", "conditioned"} <= metrics.keys():
        gen, con = metrics["generalized"], metrics["conditioned"]
        pairs = [(label, reward_metric(gen, key), reward_metric(con, key)) for key, label in REWARD_COLUMNS[:3]]
        changes = ", ".join(
            f"{label} {100 * (c - g) / g:+.1f}%" for label, g, c in pairs if g and not math.isnan(c)
        )
        if changes:
            notes.append(f"Conditioned relative to generalized: {changes} (paper: about +3-4%).")
    table = Rendered(
        title="Reward model on the held-out split: generalized vs conditioned inputs",
        header=["Setting", *[label for _, label in REWARD_COLUMNS], "n"],
        rows=rows,
        align="l" + "r" * (len(REWARD_COLUMNS) + 1),
        notes=notes,
    )
    header = ["setting", *[key for key, _ in REWARD_COLUMNS], "n"]
    return write_formats(Path(out_dir), REWARD_TABLE_STEM, table, header, csv_rows)


# --- PPO runs ---------------------------------------------------------------------------------


def read_ppo_summary(path: str | Path) -> dict[str, Any]:
    """A PPO run's ``summary.json``, checked for the keys the PPO table needs."""
    return _read_checked(path, PPO_REQUIRED, "PPO summary", "lacks", "PPO")


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def write_ppo_table(
    summaries: Sequence[str | Path], out_dir: str | Path, policy_order: Sequence[str] | None = None,
    decimals: int = 4,
) -> list[Path]:
    """One row per PPO run: updates, prompts used, truncated (left-truncated to fit the policy's
    prompt budget) and dropped, reward of the first and last update, final KL and its band alarms."""
    if not summaries:
        raise ValueError("no PPO summaries given; pass the summary.json files of the PPO runs")
    runs = [read_ppo_summary(path) for path in summaries]
    policies = order_policies({r["policy"] for r in runs}, policy_order)
    variants = ordered_variants(r["variant"] for r in runs)
    runs.sort(key=lambda r: (policies.index(r["policy"]), variants.index(r["variant"])))
    rows: list[list[Entry]] = []
    csv_rows: list[list[Any]] = []
    for r in runs:
        values = [r["updates"], r["prompts_used"], r["prompts_truncated"], r["prompts_dropped_too_long"],
                  r["prompts_dropped_duplicate"]]
        rewards = [_number(r["mean_reward_first"]), _number(r["mean_reward_last"]), _number(r["kl_last"])]
        alarms = len(r["kl_out_of_band"])
        rows.append([r["policy"], variant_label(r["variant"]), *map(str, values),
                     *[fmt(v, decimals) for v in rewards], str(alarms)])
        csv_rows.append([r["policy"], r["variant"], *values, *rewards, alarms])
    truncated = sum(r["prompts_truncated"] for r in runs)
    used = sum(r["prompts_used"] for r in runs)
    table = Rendered(
        title="PPO runs: prompts, reward and KL",
        header=["Model", "Variant", "Updates", "Prompts", "Truncated", "Dropped (too long)", "Dropped (duplicate)",
                "Reward, first update", "Reward, last update", "KL, last update", "KL alarms"],
        rows=rows,
        align="ll" + "r" * 9,
        notes=[f"Prompts over the policy's token budget (ppo.max_prompt_tokens) are truncated from the left, "
               f"keeping the post and the newest turns: {truncated} of {used} prompts in all runs. A prompt "
               "is dropped only if even its post and final turn cannot be made to fit.",
               "KL alarms: updates whose per-response KL left the configured band (a reward-hacking sign)."],
    )
    header = ["policy", "variant", "updates", "prompts_used", "prompts_truncated", "prompts_dropped_too_long",
              "prompts_dropped_duplicate", "mean_reward_first", "mean_reward_last", "kl_last", "kl_out_of_band"]
    return write_formats(Path(out_dir), PPO_TABLE_STEM, table, header, csv_rows)
