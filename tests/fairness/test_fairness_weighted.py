"""The weighted engine: AUC, sums, percentiles, replicates and the operating point."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import roc_auc_score

from fairness.stats import percentile_interval
from fairness.threshold import operating_point, score_bins
from fairness.weighted import CellSums, RankedCells, replicate_chunks, unit_weights


@st.composite
def cells(draw):
    """Rows in 1-3 cells with coarse (often tied) or fine scores, and two outcomes."""
    n = draw(st.integers(4, 60))
    k = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 10_000))
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, k, n)
    codes[:k] = np.arange(k)
    coarse = draw(st.booleans())
    scores = rng.integers(0, 4, n).astype(float) if coarse else rng.random(n)
    labels = rng.integers(0, 2, (n, 2))
    return codes, k, scores, labels, seed


@settings(max_examples=60, deadline=None)
@given(cells())
def test_weighted_auc_equals_sklearn_with_sample_weights(case):
    codes, k, scores, labels, seed = case
    n = codes.size
    weights = np.c_[unit_weights(n), next(replicate_chunks(n, 4, seed=seed))]
    auc = RankedCells.of(codes, k, scores, labels)(weights)
    for c in range(k):
        for o in range(2):
            for j in range(weights.shape[1]):
                keep = (codes == c) & (weights[:, j] > 0)
                y = labels[keep, o]
                if 0 < y.sum() < y.size:
                    want = roc_auc_score(y, scores[keep], sample_weight=weights[keep, j])
                    assert auc[c, o, j] == pytest.approx(want, abs=1e-12)
                else:
                    assert math.isnan(auc[c, o, j])


def test_cell_sums_equal_bincount():
    rng = np.random.default_rng(0)
    n = 500
    codes = rng.integers(0, 7, n)
    values = np.c_[np.ones(n), rng.random(n), rng.integers(0, 2, n)]
    weights = next(replicate_chunks(n, 6, seed=1))
    sums = CellSums.of([(codes, 7, values), (np.zeros(n, int), 1, values)])(weights)
    for j in range(6):
        for v in range(3):
            want = np.bincount(codes, weights=values[:, v] * weights[:, j], minlength=7)
            assert np.allclose(sums[0][:, v, j], want, atol=1e-9)
            assert sums[1][0, v, j] == pytest.approx((values[:, v] * weights[:, j]).sum())


def test_percentile_interval_equals_nanpercentile():
    rng = np.random.default_rng(2)
    values = rng.random((50, 97))
    values[rng.random(values.shape) < 0.2] = np.nan
    values[3] = np.nan
    low, high = percentile_interval(values, 0.95)
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        want = np.nanpercentile(values, [2.5, 97.5], axis=1)
    assert np.allclose(low, want[0], equal_nan=True, atol=1e-12)
    assert np.allclose(high, want[1], equal_nan=True, atol=1e-12)


def test_replicates_are_reproducible_and_cluster_rows_move_together():
    a = np.concatenate(list(replicate_chunks(300, 30, seed=4)), axis=1)
    b = np.concatenate(list(replicate_chunks(300, 30, seed=4)), axis=1)
    assert np.array_equal(a, b) and (a.sum(axis=0) == 300).all()
    cluster = np.repeat(np.arange(100), 3)
    w = np.concatenate(list(replicate_chunks(300, 30, seed=4, cluster=cluster)), axis=1)
    assert (w.reshape(100, 3, 30) == w.reshape(100, 3, 30)[:, :1]).all()
    assert (w.sum(axis=0) == 300).all()


def test_threshold_flags_scores_at_or_above():
    scores = np.array([0.1, 0.5, 0.5, 0.9])
    flagged, point = operating_point(scores, threshold=0.5)
    assert flagged.tolist() == [False, True, True, True]
    assert point.n_flagged == 3 and point.threshold == 0.5 and point.share_flagged == 0.75


@pytest.mark.parametrize("k, expected", [(2, 2), (0.25, 3), (0.5, 5)])
def test_top_k_flags_exactly_k_and_breaks_ties_at_random(k, expected):
    scores = np.array([9, 8, 7, 7, 7, 7, 1, 1, 1, 1], dtype=float)
    flagged, point = operating_point(scores, top_k=k, seed=3)
    assert flagged.sum() == expected == point.n_flagged
    assert scores[flagged].min() >= scores[~flagged].max()
    if expected == 3:
        assert point.ties_at_cut == 3 and point.threshold == 7
    picks = {tuple(operating_point(scores, top_k=3, seed=s)[0]) for s in range(20)}
    assert len(picks) > 1  # which tied row is flagged depends on the seed, not the file order


def test_operating_point_errors_say_what_to_give():
    with pytest.raises(ValueError, match="exactly one"):
        operating_point(np.ones(3))
    with pytest.raises(ValueError, match="whole number"):
        operating_point(np.ones(3), top_k=2.5)


def test_score_bins_are_deciles_or_distinct_values():
    which, table = score_bins(np.arange(1, 11, dtype=float), 10)
    assert which.tolist() == list(range(10)) and table["lowest"].tolist() == list(range(1, 11))
    which, table = score_bins(np.linspace(0, 1, 1000), 10)
    assert len(table) == 10 and np.bincount(which).tolist() == [100] * 10
