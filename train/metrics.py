"""Detection metrics: AUC, threshold choice, accuracy, EER, AP."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """ROC AUC; NaN when only one class is present."""
    labels = np.asarray(labels)
    if len(np.unique(labels)) < 2:
        return float("nan")
    return float(roc_auc_score(labels, scores))


def choose_threshold(labels: np.ndarray, scores: np.ndarray) -> float:
    """Threshold maximising balanced accuracy (Youden's J) on *validation* scores."""
    fpr, tpr, thr = roc_curve(labels, scores)
    best = int(np.argmax(tpr - fpr))
    return float(np.clip(thr[best], 0.0, 1.0))


def summary(labels: np.ndarray, scores: np.ndarray, threshold: float) -> dict:
    """AUC, accuracy at ``threshold``, EER and average precision."""
    labels, scores = np.asarray(labels), np.asarray(scores)
    acc = float(((scores >= threshold) == labels.astype(bool)).mean()) if len(labels) else float("nan")
    out = {"n": len(labels), "n_fake": int(labels.sum()), "auc": auc(labels, scores), "acc": acc}
    if len(np.unique(labels)) == 2:
        out["eer"] = eer(labels, scores)
        out["ap"] = float(average_precision_score(labels, scores))
    return out


def eer(labels: np.ndarray, scores: np.ndarray) -> float:
    """Equal error rate: where FNR = FPR on the full ROC curve, linearly interpolated.

    Uses every threshold (``drop_intermediate=False``): with the dropped points, the nearest
    remaining one can sit far from the crossing on a small set.
    """
    fpr, tpr, _ = roc_curve(labels, scores, drop_intermediate=False)
    d = (1 - tpr) - fpr  # FNR - FPR: from +1 down to -1, non-increasing
    i = int(np.argmax(d <= 0))
    if i == 0:
        return float(fpr[0])
    t = d[i - 1] / (d[i - 1] - d[i])
    return float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1]))
