"""Held-out metrics of a binary scorer, as a JSON-ready dict (the reward stage's metrics.json).

The numbers come from scikit-learn; this module only fixes the conventions and the output format.
A prediction is positive when ``score >= threshold`` (default 0.5, i.e. P(rewarding) at least one
half); F1, precision and recall are 0 when undefined (no predicted or no actual positives); ROC AUC
and PR AUC (average precision) are ``None`` when the labels hold one class only, since no ranking
can then be judged. The ROC curve keeps every distinct threshold, evenly thinned to at most
``max_curve_points`` points with both ends kept.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn import metrics as sk

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
    predicted = (s >= threshold).astype(np.int64)
    tn, fp, fn, tp = (int(v) for v in sk.confusion_matrix(y, predicted, labels=[0, 1]).ravel())
    n_pos = tp + fn
    result: dict[str, Any] = {
        "n": n,
        "n_positive": n_pos,
        "label_positive_rate": n_pos / n,
        "predicted_positive_rate": (tp + fp) / n,
        "threshold": threshold,
        "accuracy": float(sk.accuracy_score(y, predicted)),
        "precision": float(sk.precision_score(y, predicted, zero_division=0.0)),
        "recall": float(sk.recall_score(y, predicted, zero_division=0.0)),
        "f1": float(sk.f1_score(y, predicted, zero_division=0.0)),
        "confusion": {"tp": tp, "fp": fp, "fn": fn, "tn": tn},
        "roc_auc": None,
        "pr_auc": None,
        "roc_curve": None,
    }
    if n_pos in (0, n):
        log.warning(
            "held-out labels hold one class only (%d of %d positive): AUCs undefined", n_pos, n
        )
        return result

    result["roc_auc"] = float(sk.roc_auc_score(y, s))
    result["pr_auc"] = float(sk.average_precision_score(y, s))
    fpr, tpr, cut = sk.roc_curve(y, s, drop_intermediate=False)
    keep = _downsample(len(fpr), max_curve_points)
    # The first point (nothing predicted positive) has threshold +inf in scikit-learn: JSON null.
    thresholds = [None if np.isinf(value) else float(value) for value in cut]
    result["roc_curve"] = {
        "fpr": fpr[keep].tolist(),
        "tpr": tpr[keep].tolist(),
        "threshold": [thresholds[i] for i in keep],
    }
    return result
