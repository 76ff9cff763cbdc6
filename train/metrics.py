"""Detection metrics: AUC (with bootstrap intervals), threshold choice, accuracy, EER, AP."""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata
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
    """AUC, accuracy at ``threshold``, EER and average precision; ``tnr`` / ``tpr``: the share of
    reals called real and of fakes called fake at ``threshold`` (which way a shifted score errs)."""
    labels, scores = np.asarray(labels), np.asarray(scores)
    called = scores >= threshold
    acc = float((called == labels.astype(bool)).mean()) if len(labels) else float("nan")
    out = {"n": len(labels), "n_fake": int(labels.sum()), "auc": auc(labels, scores), "acc": acc}
    for key, label in (("tnr", 0), ("tpr", 1)):
        if (labels == label).any():
            out[key] = float((called[labels == label] == bool(label)).mean())
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


def auc_interval(labels: np.ndarray, scores: np.ndarray, against: np.ndarray | None = None,
                 n: int = 2000, level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """Bootstrap interval of the AUC of ``scores``, or, with ``against`` (another model's scores
    on the same images), of the paired difference ``AUC(scores) - AUC(against)``.

    Reals and fakes are resampled separately (each resample keeps both counts) and, when paired,
    with the same indices for both models. Percentile interval at ``level``; NaNs for one class.
    """
    labels, scores = np.asarray(labels), np.asarray(scores, np.float64)
    real, fake = np.flatnonzero(labels == 0), np.flatnonzero(labels == 1)
    if not len(real) or not len(fake):
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    idx = np.hstack([rng.choice(real, (n, len(real))), rng.choice(fake, (n, len(fake)))])

    def boot(s: np.ndarray) -> np.ndarray:  # Mann-Whitney U from mid-ranks, one AUC per resample
        ranks = rankdata(s[idx], axis=1)[:, len(real):]
        return (ranks.sum(axis=1) - len(fake) * (len(fake) + 1) / 2) / (len(real) * len(fake))

    stats = boot(scores) if against is None else boot(scores) - boot(np.asarray(against, np.float64))
    lo, hi = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)
