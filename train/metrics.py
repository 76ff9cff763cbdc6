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
        fpr, tpr, _ = roc_curve(labels, scores)
        fnr = 1 - tpr
        i = int(np.nanargmin(np.abs(fnr - fpr)))
        out["eer"] = float((fpr[i] + fnr[i]) / 2)
        out["ap"] = float(average_precision_score(labels, scores))
    return out
