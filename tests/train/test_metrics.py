"""``train.metrics.auc_interval``: the bootstrap AUC (and paired difference) intervals."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from train.metrics import auc, auc_interval


@pytest.fixture(scope="module")
def scores():
    rng = np.random.default_rng(0)
    y = np.r_[np.zeros(150), np.ones(400)]
    return y, rng.normal(size=len(y)) + y, rng


def test_one_resample_equals_sklearn_on_those_indices_ties_included():
    y = np.array([0, 0, 0, 1, 1, 1, 1])
    s = np.array([0.1, 0.5, 0.5, 0.5, 0.9, 0.3, 0.5])  # ties across classes
    rng = np.random.default_rng(3)  # the draws auc_interval makes with seed 3 and n=1
    idx = np.r_[rng.choice([0, 1, 2], (1, 3))[0], rng.choice([3, 4, 5, 6], (1, 4))[0]]
    want = roc_auc_score(y[idx], s[idx])
    assert auc_interval(y, s, n=1, seed=3) == pytest.approx((want, want))


def test_interval_holds_the_estimate_and_narrows_with_more_data(scores):
    y, s, _ = scores
    lo, hi = auc_interval(y, s)
    assert lo < auc(y, s) < hi and 0.04 < hi - lo < 0.15
    big = np.tile(np.arange(len(y)), 4)
    lo4, hi4 = auc_interval(y[big], s[big])
    assert hi4 - lo4 < 0.6 * (hi - lo)  # four times the data: about half the width


def test_paired_difference(scores):
    y, s, rng = scores
    assert auc_interval(y, s, against=s) == (0.0, 0.0)
    better = s + 0.4 * y + rng.normal(0, 0.1, len(y))  # the same model, pushed apart a little more
    lo, hi = auc_interval(y, better, against=s)
    assert 0 < lo < auc(y, better) - auc(y, s) < hi
    single = auc_interval(y, better)
    assert hi - lo < 0.5 * (single[1] - single[0])  # pairing removes the shared sampling noise


def test_edge_cases():
    y = np.r_[np.zeros(5), np.ones(5)]
    assert auc_interval(y, y) == (1.0, 1.0)
    lo, hi = auc_interval(np.zeros(4), np.arange(4.0))
    assert np.isnan(lo) and np.isnan(hi)
