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
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from karma.evaluation.cells import Cell
from karma.report.layout import (
    BIAS_FIGURE_STEM,
    PPO_FIGURE_STEM,
    ROC_FIGURE_STEM,
    TOXICITY_FIGURE_STEM,
    VARIANTS,
    benchmark_title,
    ordered_variants,
    toxicity_scorer,
    toxicity_scorer_note,
    variant_label,
)
from karma.report.rendering import MISSING, order_policies
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


PPO_REQUIRED = ("update", "mean_reward", "kl")
KL_EXPLANATION = (
    "KL is TRL's k1 estimate: per response, the sum over its tokens of log pi(token) - log pi_ref(token), "
    "averaged over the update's responses. Its expectation is KL(pi || pi_ref) >= 0, but single values are "
    "noisy and can be negative, mostly while the policy is still close to its reference; a value below 0 "
    "is sampling noise, not an error. The PPO table's KL alarms flag updates outside the configured band."
)


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


def _color(variant: str) -> str | None:
    return VARIANTS[variant].color if variant in VARIANTS else None


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
    the category values of every variant including Base. A value of exactly 0 is drawn as a diamond on
    the zero line, so it cannot be mistaken for a missing one; a missing value (the variant has no
    cell for the policy, or its cell lacks the category) is written ``n/a``, and a panel whose values
    are all 0 says so. ``*`` marks a category where the variant differs from Base: by the policy's
    item-level test within the category when ``statistics.stars`` is ``items`` (ours), else by the
    paper's test across models within the category (the same star in every panel).
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
    variants = [v for v in ordered_variants(v for (_, v, b) in cells if b == benchmark) if v != BASE_VARIANT]
    shown = variants if shift else [BASE_VARIANT, *variants]
    ncols = min(3, len(policies))
    nrows = math.ceil(len(policies) / ncols)
    fig = Figure(figsize=(5.4 * ncols + 1.6, 4.0 * nrows + 1.2), layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False, sharey=True)
    metric = cells[(policies[0], BASE_VARIANT, benchmark)].primary_metric
    width = 0.8 / max(1, len(shown))
    drawn: list[float] = []
    for index, policy in enumerate(policies):
        ax = axes[index // ncols][index % ncols]
        drawn += _category_panel(ax, cells, records, benchmark, policy, shown, shift, width, options)
        if index % ncols == 0:
            ax.set_ylabel(f"{metric}: variant - Base" if shift else metric)
    if drawn and not any(drawn):
        # Every value is 0 (nothing moved, or the scorer found nothing): a fixed range instead of
        # matplotlib zooming into floating-point noise. Only then: the panels share their y axis, so one
        # all-zero panel must not flatten the bars of the others.
        axes[0][0].set_ylim(-1.0 if shift else -0.05, 1.0)
    for index in range(len(policies), nrows * ncols):
        axes[index // ncols][index % ncols].set_visible(False)
    handles = [Patch(color=_color(v), label=variant_label(v)) for v in shown]
    if 0.0 in drawn:
        handles.append(Line2D([], [], linestyle="", marker="D", markersize=6, color="0.25", label="exactly 0"))
    fig.legend(handles=handles, loc="outside right upper")
    scorer = toxicity_scorer(c for c in cells.values() if c.benchmark == benchmark)
    what = "shift from Base per category" if shift else "value per category and variant"
    fig.suptitle(f"{benchmark_title(benchmark, scorer)}: {what}")
    # supxlabel, unlike fig.text, gets its own row in the constrained layout.
    unit = UNIT_ITEMS if options.stars == UNIT_ITEMS else UNIT_MODELS
    described = options.describe(benchmark, unit, "all per-category tests of the benchmark at this unit")
    footer = [f"* against Base, per category: {described}. {MISSING}: no value for that variant and category."]
    note = toxicity_scorer_note(scorer)
    if note:
        footer.append(note)
    fig.supxlabel("\n".join(textwrap.fill(line, 95 * ncols) for line in footer), fontsize=7)
    return fig


def _category_panel(
    ax: Any,
    cells: Mapping[CellKey, Cell],
    records: Mapping[RecordKey, SignificanceRecord],
    benchmark: str,
    policy: str,
    shown: Sequence[str],
    shift: bool,
    width: float,
    options: SignificanceOptions,
) -> list[float]:
    """One policy's bars; zeros as diamonds, missing values as ``n/a``, an all-zero panel labelled.
    Returns the values drawn."""
    base = cells[(policy, BASE_VARIANT, benchmark)]
    categories = list(base.categories)
    values: list[float] = []
    absent = []
    for offset, variant in enumerate(shown):
        cell = cells.get((policy, variant, benchmark))
        if cell is None:
            absent.append(variant_label(variant))
            continue
        xs, heights, marks, zeros, missing = [], [], [], [], []
        for position, category in enumerate(categories):
            x = position + (offset - (len(shown) - 1) / 2) * width
            if category not in cell.categories:
                missing.append(x)
                continue
            value = category_value(cell, category) - (category_value(base, category) if shift else 0.0)
            xs.append(x)
            heights.append(value)
            if value == 0.0:
                zeros.append(x)
            key = ((ITEMS_BY_CATEGORY, benchmark, variant, BASE_VARIANT, policy, category)
                   if options.stars == UNIT_ITEMS
                   else (ACROSS_MODELS_BY_CATEGORY, benchmark, variant, BASE_VARIANT, "", category))
            record = records.get(key)
            marks.append(record is not None and record.significant(options))
        values += heights
        bars = ax.bar(xs, heights, width, color=_color(variant), label=variant_label(variant))
        ax.bar_label(bars, labels=["*" if m else "" for m in marks], fontsize=11)
        ax.plot(zeros, [0.0] * len(zeros), linestyle="", marker="D", markersize=max(3.0, 40 * width),
                color=_color(variant), markeredgecolor="0.15", markeredgewidth=0.6, zorder=3)
        for x in missing:
            ax.text(x, 0.0, MISSING, rotation=90, ha="center", va="bottom", fontsize=6, color="0.45")
    ax.axhline(0.0, color="black", linewidth=0.8, zorder=2)
    # room for the significance stars above and below the bars, and for the whole zero diamonds: the
    # bars' sticky edge at 0 would otherwise cut the axis, and the diamonds, at 0
    ax.use_sticky_edges = False
    ax.margins(y=0.15)
    notes = []
    if values and not any(values):
        notes.append("no shift in any category" if shift else "all values are 0")
    if absent:
        notes.append(f"no cells for this policy: {', '.join(absent)}")
    if notes:
        ax.text(0.5, 0.97, "; ".join(notes), transform=ax.transAxes, ha="center", va="top", fontsize=8,
                color="0.3", bbox={"boxstyle": "round", "facecolor": "white", "edgecolor": "0.8"})
    ax.set_title(policy)
    ax.set_xticks(range(len(categories)), [c.replace("_", " ") for c in categories],
                  rotation=40, ha="right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return values


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
    fig = Figure(figsize=(12.5, 4.4), layout="constrained")
    reward_ax, kl_ax = fig.subplots(1, 2, sharex=True)
    labelled = sorted((_log_label(Path(p)), Path(p)) for p in log_paths)
    policies = order_policies((policy for (policy, _), _ in labelled), policy_order)
    variants = ordered_variants(variant for (_, variant), _ in labelled)
    labelled.sort(key=lambda entry: (policies.index(entry[0][0]), variants.index(entry[0][1])))
    palette = matplotlib.colormaps["tab10"]
    for (policy, variant), path in labelled:
        rows = read_train_log(path)
        updates = [r["update"] for r in rows]
        style = {
            "color": palette(policies.index(policy) % 10),
            "linestyle": VARIANTS[variant].linestyle if variant in VARIANTS else "-",
            "marker": "o" if len(rows) <= 30 else None,
            "markersize": 3,
            "label": f"{policy} {variant_label(variant)}",
        }
        reward_ax.plot(updates, [r["mean_reward"] for r in rows], **style)
        kl_ax.plot(updates, [r["kl"] for r in rows], **style)
    reward_ax.set_ylabel("mean reward (reward model probability)")
    kl_ax.set_ylabel("KL estimate k1 per response (nats)")
    kl_ax.axhline(0.0, color="black", linewidth=0.8)
    for ax, title in ((reward_ax, "Reward per update"), (kl_ax, "KL to the reference per update (k1)")):
        ax.set_xlabel("PPO update")
        ax.set_title(title)
        ax.grid(alpha=0.3)
    # beside the panels, not over the curves; handles long enough to show the dash pattern
    fig.legend(*kl_ax.get_legend_handles_labels(), loc="outside right upper", fontsize=7, handlelength=4)
    fig.suptitle("PPO training")
    fig.supxlabel(textwrap.fill(KL_EXPLANATION, 190), fontsize=7.5)
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
