import json

import numpy as np
import pytest
from sklearn import metrics as sk

from karma.reward.metrics import binary_metrics


def fixed_scores(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 2, n)
    # Rounded so that many scores tie, the case where ROC/PR implementations most often differ.
    scores = np.round(np.clip(0.5 + 0.25 * (labels - 0.5) + rng.normal(0, 0.25, n), 0, 1), 2)
    return labels, scores


@pytest.mark.parametrize("n,seed", [(50, 0), (1000, 1)])
def test_metrics_equal_scikit_learn(n, seed):
    labels, scores = fixed_scores(n, seed)
    got = binary_metrics(labels, scores, threshold=0.5)
    predicted = (scores >= 0.5).astype(int)
    assert got["n"] == n
    assert got["label_positive_rate"] == pytest.approx(labels.mean())
    assert got["predicted_positive_rate"] == pytest.approx(predicted.mean())
    assert got["accuracy"] == pytest.approx(sk.accuracy_score(labels, predicted))
    assert got["precision"] == pytest.approx(sk.precision_score(labels, predicted))
    assert got["recall"] == pytest.approx(sk.recall_score(labels, predicted))
    assert got["f1"] == pytest.approx(sk.f1_score(labels, predicted))
    assert got["roc_auc"] == pytest.approx(sk.roc_auc_score(labels, scores), abs=1e-12)
    assert got["pr_auc"] == pytest.approx(sk.average_precision_score(labels, scores), abs=1e-12)
    fpr, tpr, _ = sk.roc_curve(labels, scores, drop_intermediate=False)
    curve = got["roc_curve"]
    assert len(curve["fpr"]) <= 200
    assert (curve["fpr"][0], curve["tpr"][0]) == (0.0, 0.0)
    assert (curve["fpr"][-1], curve["tpr"][-1]) == (1.0, 1.0)
    reference = set(zip(np.round(fpr, 12), np.round(tpr, 12), strict=True))
    assert (
        set(zip(np.round(curve["fpr"], 12), np.round(curve["tpr"], 12), strict=True)) <= reference
    )
    if len(fpr) <= 200:
        assert curve["fpr"] == pytest.approx(fpr.tolist()) and curve["tpr"] == pytest.approx(
            tpr.tolist()
        )
    json.dumps(got, allow_nan=False)


def test_long_curve_is_downsampled_to_200_points():
    rng = np.random.default_rng(2)
    labels, scores = rng.integers(0, 2, 5000), rng.random(5000)
    curve = binary_metrics(labels, scores)["roc_curve"]
    assert len(curve["fpr"]) == len(curve["tpr"]) == len(curve["threshold"]) <= 200
    assert curve["threshold"][0] is None and curve["threshold"][-1] == pytest.approx(scores.min())
    assert np.all(np.diff(curve["threshold"][1:]) < 0)
    assert np.all(np.diff(curve["fpr"]) >= 0)


def test_threshold_is_inclusive_and_documented_default():
    got = binary_metrics([0, 1, 1, 0], [0.49, 0.5, 0.9, 0.1])
    assert got["threshold"] == 0.5
    assert got["confusion"] == {"tp": 2, "fp": 0, "fn": 0, "tn": 2}
    assert got["f1"] == 1.0 and got["roc_auc"] == 1.0


def test_single_class_has_no_auc_and_stays_json():
    got = binary_metrics([1, 1, 1], [0.2, 0.7, 0.9])
    assert got["roc_auc"] is None and got["pr_auc"] is None and got["roc_curve"] is None
    assert got["recall"] == pytest.approx(2 / 3)
    json.dumps(got, allow_nan=False)


def test_bad_input_is_rejected():
    with pytest.raises(ValueError, match="equally long"):
        binary_metrics([0, 1], [0.5])
    with pytest.raises(ValueError, match="0 or 1"):
        binary_metrics([0, 2], [0.5, 0.5])
    with pytest.raises(ValueError, match="NaN"):
        binary_metrics([0, 1], [0.5, float("nan")])
    with pytest.raises(ValueError, match="empty"):
        binary_metrics([], [])
