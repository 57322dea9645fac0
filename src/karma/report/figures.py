"""The paper's figures and the training diagnostics, as SVG and PNG.

Built on ``matplotlib.figure.Figure`` without pyplot, so nothing depends on a display or on global
backend state: PNGs are drawn by Agg, SVGs by the SVG backend. Every writer returns
``[<stem>.svg, <stem>.png]`` in ``out_dir``; the stems are module constants for a rule's ``output``.
"""

from __future__ import annotations

import json
import logging
import math
import textwrap
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from karma.evaluation.cells import Cell
from karma.report.layout import (
    BENCHMARK_TITLES,
    BIAS_FIGURE_STEM,
    PPO_FIGURE_STEM,
    ROC_FIGURE_STEM,
    TOXICITY_FIGURE_STEM,
)
from karma.report.rendering import VARIANT_LABELS, order_policies
from karma.report.significance import (
    ACROSS_MODELS_BY_CATEGORY,
    BASE_VARIANT,
    ITEMS_BY_CATEGORY,
    UNIT_ITEMS,
    UNIT_MODELS,
    CellKey,
    RecordKey,
    SignificanceOptions,
    SignificanceRecord,
    category_value,
    tested_cells,
)
from karma.report.training_tables import read_reward_metrics

log = logging.getLogger(__name__)


VARIANT_COLORS = {"base": "#7f7f7f", "benign": "#1f77b4", "toxic": "#d62728", "eroded": "#ff7f0e",
                  "control": "#2ca02c"}
VARIANT_LINESTYLES = {"base": ":", "benign": "-", "toxic": "--", "eroded": "-.", "control": (0, (1, 1))}
PPO_REQUIRED = ("update", "mean_reward", "kl")


def _save(fig: Figure, out_dir: str | Path, stem: str) -> list[Path]:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    svg, png = out / f"{stem}.svg", out / f"{stem}.png"
    # A fixed hash salt and no date keep the SVG identical across reruns.
    with matplotlib.rc_context({"svg.hashsalt": stem}):
        fig.savefig(svg, metadata={"Date": None})
    fig.savefig(png, dpi=150)
    log.info("wrote figure %s (svg, png) in %s", stem, out)
    return [svg, png]


def _label(variant: str) -> str:
    return VARIANT_LABELS.get(variant, variant)


# --- per-category figures (paper Figures 2 and 3) --------------------------------------------


def _category_figure(
    cells: Mapping[CellKey, Cell],
    records: Mapping[RecordKey, SignificanceRecord],
    benchmark: str,
    shift: bool,
    options: SignificanceOptions,
    policy_order: Sequence[str] | None,
) -> Figure:
    """One panel per policy; grouped bars per category, one bar per variant.

    ``shift`` plots variant minus Base per category (Base itself is then the zero line); otherwise
    the category values of every variant including Base. ``*`` marks a category where the variant
    differs from Base: by the policy's item-level test within the category when ``statistics.stars``
    is ``items`` (ours), else by the paper's test across models within the category (the same star
    in every panel).
    """
    policies = [
        p
        for p in order_policies((p for (p, _, b) in cells if b == benchmark), policy_order)
        if (p, BASE_VARIANT, benchmark) in cells and cells[(p, BASE_VARIANT, benchmark)].categories
    ]
    if not policies:
        raise ValueError(
            f"no base cell of benchmark {benchmark!r} with per-category values among the inputs; "
            "the figure needs each policy's base cell and its categories"
        )
    found = {v for (_, v, b) in cells if b == benchmark and v != BASE_VARIANT}
    variants = [v for v in VARIANT_LABELS if v in found] + sorted(found - VARIANT_LABELS.keys())
    shown = variants if shift else [BASE_VARIANT, *variants]
    ncols = min(3, len(policies))
    nrows = math.ceil(len(policies) / ncols)
    fig = Figure(figsize=(5.2 * ncols, 3.8 * nrows + 0.9), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    metric = cells[(policies[0], BASE_VARIANT, benchmark)].primary_metric
    width = 0.8 / max(1, len(shown))
    all_heights: list[float] = []
    for index, policy in enumerate(policies):
        ax = axes[index // ncols][index % ncols]
        base = cells[(policy, BASE_VARIANT, benchmark)]
        categories = list(base.categories)
        for offset, variant in enumerate(shown):
            cell = cells.get((policy, variant, benchmark))
            if cell is None:
                continue
            xs, heights, marks = [], [], []
            for position, category in enumerate(categories):
                if category not in cell.categories:
                    continue
                value = category_value(cell, category)
                if shift:
                    value -= category_value(base, category)
                xs.append(position + (offset - (len(shown) - 1) / 2) * width)
                heights.append(value)
                if options.stars == UNIT_ITEMS:
                    key = (ITEMS_BY_CATEGORY, benchmark, variant, BASE_VARIANT, policy, category)
                else:
                    key = (ACROSS_MODELS_BY_CATEGORY, benchmark, variant, BASE_VARIANT, "", category)
                record = records.get(key)
                marks.append(record is not None and record.significant(options))
            all_heights += heights
            bars = ax.bar(xs, heights, width, color=VARIANT_COLORS.get(variant), label=_label(variant))
            ax.bar_label(bars, labels=["*" if m else "" for m in marks], fontsize=11)
        ax.axhline(0.0, color="black", linewidth=0.8)
        ax.margins(y=0.12)  # room for the significance stars above and below the bars
        ax.set_title(policy)
        ax.set_xticks(range(len(categories)), [c.replace("_", " ") for c in categories],
                      rotation=40, ha="right", fontsize=8)
        ax.grid(axis="y", alpha=0.3)
        if index % ncols == 0:
            ax.set_ylabel(f"{metric}: variant - Base" if shift else metric)
    for index in range(len(policies), nrows * ncols):
        axes[index // ncols][index % ncols].set_visible(False)
    legend: dict[str, Any] = {}  # one entry per variant, even if the first panel lacks some
    for ax in axes.flat:
        for handle, label in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(label, handle)
    fig.legend(legend.values(), legend.keys(), loc="outside right upper")
    if not any(all_heights):
        # All bars are zero (e.g. no variant moved, or nothing scored as toxic): say so instead of
        # letting matplotlib zoom into floating-point noise around zero.
        for ax in axes.flat:
            ax.set_ylim(-1.0 if shift else 0.0, 1.0)
            ax.text(0.5, 0.5, "all values are 0", transform=ax.transAxes, ha="center",
                    va="center", color="0.4")
    what = "shift from Base per category" if shift else "value per category and variant"
    fig.suptitle(f"{BENCHMARK_TITLES.get(benchmark, benchmark)}: {what}")
    # supxlabel, unlike fig.text, gets its own row in the constrained layout.
    unit = UNIT_ITEMS if options.stars == UNIT_ITEMS else UNIT_MODELS
    described = options.describe(benchmark, unit, "all per-category tests of the benchmark at this unit")
    fig.supxlabel(textwrap.fill(f"* against Base, per category: {described}", 90 * ncols), fontsize=7)
    return fig


def plot_bias_shift(
    cell_paths: Sequence[str | Path],
    out_dir: str | Path,
    options: SignificanceOptions,
    policy_order: Sequence[str] | None = None,
) -> list[Path]:
    """Paper Figure 2: CrowS-Pairs shift from Base per bias type, per variant and policy."""
    cells, records = tested_cells(cell_paths, options)
    return _save(_category_figure(cells, records, "bias", True, options, policy_order), out_dir,
                 BIAS_FIGURE_STEM)


def plot_toxicity_categories(
    cell_paths: Sequence[str | Path],
    out_dir: str | Path,
    options: SignificanceOptions,
    policy_order: Sequence[str] | None = None,
) -> list[Path]:
    """Paper Figure 3: RealToxicityPrompts toxicity per category, per variant and policy."""
    cells, records = tested_cells(cell_paths, options)
    return _save(_category_figure(cells, records, "toxicity", False, options, policy_order), out_dir,
                 TOXICITY_FIGURE_STEM)


# --- reward model ROC -------------------------------------------------------------------------


def _roc_curve(metrics: Mapping[str, Any], source: str) -> tuple[list[float], list[float]] | None:
    """The curve, or None where the metrics say it is undefined (held-out labels of one class)."""
    if "roc_curve" in metrics and metrics["roc_curve"] is None:
        return None
    curve = metrics.get("roc_curve")
    if not isinstance(curve, Mapping) or "fpr" not in curve or "tpr" not in curve:
        raise ValueError(f"reward metrics {source} lack roc_curve {{fpr, tpr}}; re-run its training job")
    fpr, tpr = [float(v) for v in curve["fpr"]], [float(v) for v in curve["tpr"]]
    if len(fpr) != len(tpr) or len(fpr) < 2:
        raise ValueError(
            f"reward metrics {source}: roc_curve needs fpr and tpr of equal length >= 2, "
            f"got {len(fpr)} and {len(tpr)}"
        )
    return fpr, tpr


def plot_reward_roc(reward_metrics: Mapping[str, str | Path], out_dir: str | Path) -> list[Path]:
    """ROC curves of the reward models on their held-out split (``{setting: metrics.json}``)."""
    if not reward_metrics:
        raise ValueError("no reward metrics given; pass {setting: path to metrics.json}")
    fig = Figure(figsize=(5.0, 4.6), layout="constrained")
    ax = fig.subplots()
    colors = {"generalized": "#1f77b4", "conditioned": "#ff7f0e", "generalized-permuted": "#7f7f7f",
              "conditioned-permuted": "#bcbd22"}
    for setting, path in reward_metrics.items():
        metrics = read_reward_metrics(path)
        curve = _roc_curve(metrics, str(path))
        if curve is None:
            log.warning("reward metrics %s have no ROC curve (one class in the held-out labels)", path)
            ax.plot([], [], color=colors.get(setting), label=f"{setting}: undefined, one class held out")
            continue
        ax.plot(*curve, color=colors.get(setting), linewidth=1.8,
                label=f"{setting} (AUC {float(metrics['roc_auc']):.3f})")
    ax.plot([0, 1], [0, 1], color="grey", linestyle="--", linewidth=0.8, label="chance")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.01)
    ax.set_aspect("equal")
    ax.set_xlabel("false positive rate")
    ax.set_ylabel("true positive rate")
    ax.set_title("Reward models on the held-out split")
    ax.legend(loc="lower right")
    ax.grid(alpha=0.3)
    return _save(fig, out_dir, ROC_FIGURE_STEM)


# --- PPO training curves ----------------------------------------------------------------------


def read_train_log(path: str | Path) -> list[dict[str, float]]:
    """Update, mean reward and KL of each row of a PPO ``train_log.jsonl``, sorted by update.

    Update rows may carry a ``samples`` list, which is ignored; a row with ``samples`` but no update
    fields holds only samples and is skipped.
    """
    path = Path(path)
    rows: list[dict[str, float]] = []
    try:
        lines = path.read_text().splitlines()
    except OSError as err:
        raise ValueError(f"cannot read PPO log {path}: {err}; re-run its PPO job") from err
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"PPO log {path} line {number} is not JSON: {err}") from err
        missing = [key for key in PPO_REQUIRED if key not in row]
        if missing and "samples" in row:
            continue
        if missing:
            raise ValueError(f"PPO log {path} line {number} lacks {', '.join(missing)}")
        rows.append({key: float(row[key]) for key in PPO_REQUIRED})
    if not rows:
        raise ValueError(f"PPO log {path} has no update rows; did its PPO job finish?")
    return sorted(rows, key=lambda r: r["update"])


def _log_label(path: Path) -> tuple[str, str]:
    """(policy, variant) from ``.../policy/<policy>/<variant>/train_log.jsonl``."""
    return path.parent.parent.name, path.parent.name


def plot_ppo_training(
    log_paths: Sequence[str | Path],
    out_dir: str | Path,
    policy_order: Sequence[str] | None = None,
) -> list[Path]:
    """Mean reward and KL per PPO update, one line per policy and variant (read from the path)."""
    if not log_paths:
        raise ValueError("no PPO logs given; pass the train_log.jsonl files of the PPO runs")
    fig = Figure(figsize=(11.0, 4.2), layout="constrained")
    reward_ax, kl_ax = fig.subplots(1, 2, sharex=True)
    labelled = sorted((_log_label(Path(p)), Path(p)) for p in log_paths)
    policies = order_policies((policy for (policy, _), _ in labelled), policy_order)
    labelled.sort(key=lambda entry: policies.index(entry[0][0]))
    palette = matplotlib.colormaps["tab10"]
    for (policy, variant), path in labelled:
        rows = read_train_log(path)
        updates = [r["update"] for r in rows]
        style = {
            "color": palette(policies.index(policy) % 10),
            "linestyle": VARIANT_LINESTYLES.get(variant, "-"),
            "marker": "o" if len(rows) <= 30 else None,
            "markersize": 3,
            "label": f"{policy} {_label(variant)}",
        }
        reward_ax.plot(updates, [r["mean_reward"] for r in rows], **style)
        kl_ax.plot(updates, [r["kl"] for r in rows], **style)
    reward_ax.set_ylabel("mean reward (reward model probability)")
    kl_ax.set_ylabel("KL(policy || reference)")
    for ax, title in ((reward_ax, "Reward per update"), (kl_ax, "KL per update")):
        ax.set_xlabel("PPO update")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    kl_ax.legend(fontsize=7, loc="best", handlelength=4)  # long enough to show the dash pattern
    fig.suptitle("PPO training")
    return _save(fig, out_dir, PPO_FIGURE_STEM)


# --- everything -------------------------------------------------------------------------------


def write_all_figures(
    cell_paths: Sequence[str | Path],
    out_dir: str | Path,
    options: SignificanceOptions,
    reward_metrics: Mapping[str, str | Path] | None = None,
    train_logs: Sequence[str | Path] | None = None,
    policy_order: Sequence[str] | None = None,
) -> list[Path]:
    """Figures 2 and 3 from the cells, plus ROC and PPO curves when their inputs are given.

    Matches :func:`figure_paths` with ``categories=True``.
    """
    cells, records = tested_cells(cell_paths, options)
    paths = _save(_category_figure(cells, records, "bias", True, options, policy_order), out_dir,
                  BIAS_FIGURE_STEM)
    paths += _save(_category_figure(cells, records, "toxicity", False, options, policy_order), out_dir,
                   TOXICITY_FIGURE_STEM)
    if reward_metrics:
        paths += plot_reward_roc(reward_metrics, out_dir)
    if train_logs:
        paths += plot_ppo_training(train_logs, out_dir, policy_order)
    return paths
