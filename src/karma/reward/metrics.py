"""Held-out metrics of a binary scorer, as a JSON-ready dict (the reward stage's metrics.json).

Written with numpy (scikit-learn is the reference the tests compare against). Conventions:
a prediction is positive when ``score >= threshold`` (default 0.5, i.e. P(rewarding) at least one half);
F1, precision and recall are 0 when undefined (no predicted or no actual positives); ROC AUC and PR AUC
are ``None`` when the labels hold one class only, since no ranking can then be judged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np

from karma.reward.settings import DEFAULT_THRESHOLD

log = logging.getLogger(__name__)

MAX_CURVE_POINTS = 200


def _validate(
    labels: Sequence[int] | np.ndarray, scores: Sequence[float] | np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(labels)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 1 or s.ndim != 1 or len(y) != len(s):
        raise ValueError(
            f"labels and scores must be 1-D and equally long, got shapes {y.shape} and {s.shape}"
        )
    if len(y) == 0:
        raise ValueError("no examples to evaluate: the test split is empty")
    if not np.isin(y, (0, 1)).all():
        raise ValueError(
            f"labels must be 0 or 1, found {sorted(set(np.unique(y).tolist()) - {0, 1})[:5]}"
        )
    if not np.isfinite(s).all():
        raise ValueError(
            f"{int((~np.isfinite(s)).sum())} scores are NaN or infinite; check the model output"
        )
    return y.astype(np.int64), s


def _ranking_counts(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True/false positives when the threshold is set at each distinct score, highest first."""
    order = np.argsort(-s, kind="mergesort")
    s_sorted, y_sorted = s[order], y[order]
    last_of_each_value = np.r_[np.flatnonzero(np.diff(s_sorted)), len(s_sorted) - 1]
    tps = np.cumsum(y_sorted)[last_of_each_value]
    fps = last_of_each_value + 1 - tps
    return tps.astype(np.float64), fps.astype(np.float64), s_sorted[last_of_each_value]


def _downsample(n: int, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` evenly spaced points, both ends kept."""
    if n <= max_points:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64))


def binary_metrics(
    labels: Sequence[int] | np.ndarray,
    scores: Sequence[float] | np.ndarray,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    max_curve_points: int = MAX_CURVE_POINTS,
) -> dict[str, Any]:
    """Positive rates, accuracy/precision/recall/F1 at ``threshold``, ROC AUC, PR AUC, ROC curve."""
    y, s = _validate(labels, scores)
    n = len(y)
    predicted = s >= threshold
    tp = int(np.sum(predicted & (y == 1)))
    fp = int(np.sum(predicted & (y == 0)))
    fn = int(np.sum(~predicted & (y == 1)))
    tn = n - tp - fp - fn
    n_pos = tp + fn
    n_neg = n - n_pos

    result: dict[str, Any] = {
        "n": n,
        "n_positive": n_pos,
        "label_positive_rate": n_pos / n,
        "predicted_positive_rate": (tp + fp) / n,
        "threshold": threshold,
        "accuracy": (tp + tn) / n,
        "precision": tp / (tp + fp) if tp + fp else 0.0,
        "recall": tp / n_pos if n_pos else 0.0,
        "f1": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0,
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
        "roc_auc": None,
        "pr_auc": None,
        "roc_curve": None,
    }
    if n_pos == 0 or n_neg == 0:
        log.warning(
            "held-out labels hold one class only (%d of %d positive): AUCs undefined", n_pos, n
        )
        return result

    tps, fps, cut = _ranking_counts(y, s)
    tpr = np.r_[0.0, tps / n_pos]
    fpr = np.r_[0.0, fps / n_neg]
    result["roc_auc"] = float(np.trapezoid(tpr, fpr))
    # Average precision: precision at each threshold weighted by the recall it adds.
    precision_at = tps / (tps + fps)
    recall_gain = np.diff(np.r_[0.0, tps / n_pos])
    result["pr_auc"] = float(np.sum(recall_gain * precision_at))

    keep = _downsample(len(fpr), max_curve_points)
    # The first point (nothing predicted positive) has no finite threshold: JSON null.
    thresholds: list[float | None] = [None, *cut.tolist()]
    result["roc_curve"] = {
        "fpr": fpr[keep].tolist(),
        "tpr": tpr[keep].tolist(),
        "threshold": [thresholds[i] for i in keep],
    }
    return result
