"""Metrics against scikit-learn and brute force; the bootstrap's determinism and coverage."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from fairness.stats import wilson_interval
from features.populations import within_age_auc
from training.intervals import MetricSummary, evaluate, paired_difference
from training.metrics import (
    METRICS,
    bootstrap_replicates,
    bootstrap_weights,
    expected_calibration_error,
    fast_auc,
    n_flagged,
    point_metrics,
    replicate_weights,
    top_k,
)
from training.reliability import reliability_table

SETTINGS = settings(max_examples=80, deadline=None)


@st.composite
def labelled(draw, min_size: int = 2, max_size: int = 60, both_classes: bool = True):
    """Outcomes and probabilities, the scores often tied (drawn from a coarse grid)."""
    n = draw(st.integers(min_size, max_size))
    y = draw(arrays(np.int64, n, elements=st.integers(0, 1)))
    if both_classes:
        assume(0 < y.sum() < n)
    grid = draw(st.sampled_from([4, 20, 10_000]))
    p = draw(arrays(np.int64, n, elements=st.integers(0, grid))) / grid
    return y, p


def synthetic(n: int, seed: int = 0, base_rate: float = 0.1):
    """Outcomes and informative, roughly calibrated probabilities."""
    rng = np.random.default_rng(seed)
    logit = rng.normal(np.log(base_rate / (1 - base_rate)), 1.2, n)
    p = 1 / (1 + np.exp(-logit))
    y = (rng.random(n) < p).astype(int)
    return y, np.round(p, 3)


def brute_ece(y, p, bins=10, strategy="quantile"):
    """ECE by looping over bins defined with np.quantile / np.linspace and np.digitize."""
    if strategy == "quantile":
        edges = np.quantile(p, np.linspace(0, 1, bins + 1))
    else:
        edges = np.linspace(0, 1, bins + 1)
    which = np.digitize(p, edges[1:-1])
    total = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            total += inside.sum() / len(y) * abs(y[inside].mean() - p[inside].mean())
    return total


def brute_top_k(y, p, share):
    """Top-k by sorting (score descending, row ascending) with Python's sort."""
    k = math.ceil(round(share * len(y), 9))
    order = sorted(range(len(y)), key=lambda i: (-p[i], i))[:k]
    hits = sum(y[i] for i in order)
    return {
        "precision": hits / k,
        "recall": hits / y.sum() if y.sum() else math.nan,
        "n_flagged": k,
        "threshold": p[order[-1]],
    }


# ------------------------------------------------------------------ point metrics


@SETTINGS
@given(labelled())
def test_fast_auc_equals_sklearn_with_ties(data):
    y, p = data
    assert fast_auc(y, p) == pytest.approx(roc_auc_score(y, p), abs=1e-12)


@SETTINGS
@given(labelled())
def test_point_metrics_agree_with_sklearn(data):
    y, p = data
    m = point_metrics(y, p)
    assert m["auc"] == pytest.approx(roc_auc_score(y, p), abs=1e-12)
    assert m["average_precision"] == pytest.approx(average_precision_score(y, p), abs=1e-9)
    assert m["brier"] == pytest.approx(brier_score_loss(y, p), abs=1e-9)
    assert m["n"] == len(y)
    assert m["positives"] == y.sum()
    assert m["base_rate"] == pytest.approx(y.mean(), abs=1e-12)
    assert list(m) == list(METRICS)


@SETTINGS
@given(labelled(min_size=1, both_classes=False), st.sampled_from([1, 3, 10]))
def test_ece_equals_brute_force(data, bins):
    y, p = data
    for strategy in ("quantile", "uniform"):
        expected = brute_ece(y, p, bins, strategy)
        assert expected_calibration_error(y, p, bins, strategy) == pytest.approx(expected, abs=1e-9)


@SETTINGS
@given(labelled(min_size=1, both_classes=False), st.sampled_from([0.01, 0.02, 0.07, 0.3, 1.0]))
def test_top_k_equals_brute_force(data, share):
    y, p = data
    got, expected = top_k(y, p, share), brute_top_k(y, p, share)
    assert got["n_flagged"] == expected["n_flagged"]
    assert got["threshold"] == expected["threshold"]
    assert got["precision"] == pytest.approx(expected["precision"], abs=1e-12)
    assert got["recall"] == pytest.approx(expected["recall"], abs=1e-12, nan_ok=True)


def test_top_k_breaks_ties_by_row_order():
    y = np.array([0, 1, 0, 1])
    p = np.array([0.5, 0.5, 0.5, 0.5])
    assert top_k(y, p, share=0.25)["precision"] == 0.0  # row 0 is flagged first
    assert top_k(y[::-1], p, share=0.25)["precision"] == 1.0


def test_n_flagged_ignores_floating_point_noise():
    assert 0.07 * 100 > 7
    assert n_flagged(100, 0.07) == 7
    assert n_flagged(40_000, 0.02) == 800
    assert n_flagged(101, 0.02) == 3
    assert n_flagged(1, 0.02) == 1
    with pytest.raises(ValueError):
        n_flagged(10, 0.0)


def test_one_class_gives_nan_not_an_error():
    p = np.linspace(0, 1, 20)
    for y in (np.zeros(20), np.ones(20)):
        m = point_metrics(y, p)
        assert math.isnan(m["auc"]) and math.isnan(m["average_precision"])
        assert math.isnan(fast_auc(y, p))
        assert np.isfinite(m["brier"]) and np.isfinite(m["ece"])
    assert math.isnan(point_metrics(np.zeros(20), p)["recall_at_k"])
    summary = evaluate(np.zeros(20), p, n_boot=20)
    assert math.isnan(summary.point["auc"]) and math.isnan(summary.low["auc"])
    assert summary.format("auc") == "n/a (n/a-n/a)"


def test_scores_outside_unit_interval_have_no_calibration_metrics():
    y = np.array([0, 1, 0, 1, 1])
    counts = np.array([0.0, 3.0, 1.0, 2.0, 5.0])
    m = point_metrics(y, counts)
    assert math.isnan(m["brier"]) and math.isnan(m["ece"])
    assert m["auc"] == pytest.approx(roc_auc_score(y, counts))
    with pytest.raises(ValueError, match="probabilities"):
        expected_calibration_error(y, counts)


def test_inputs_are_checked():
    with pytest.raises(ValueError, match="0 and 1"):
        point_metrics([0, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="finite"):
        point_metrics([0, 1], [0.1, np.nan])
    with pytest.raises(ValueError, match="rows"):
        point_metrics([0, 1], [0.1])


# ------------------------------------------------------------------ bootstrap


@SETTINGS
@given(labelled(), st.integers(0, 10_000))
def test_auc_within_age_is_the_one_definition(data, seed):
    y, p = data
    ages = np.random.default_rng(seed).integers(10, 18, len(y)).astype(float)
    expected = within_age_auc(y, p, ages)
    assert point_metrics(y, p, ages=ages)["auc_within_age"] == pytest.approx(
        expected, abs=1e-12, nan_ok=True
    )
    assert math.isnan(point_metrics(y, p)["auc_within_age"])


@pytest.mark.parametrize("clustered", [False, True])
def test_each_replicate_is_point_metrics_of_the_resampled_rows(clustered):
    y, p = synthetic(300, seed=1)
    ages = np.random.default_rng(3).integers(10, 18, 300).astype(float)
    groups = np.repeat(np.arange(100), 3)[np.random.default_rng(2).permutation(300)]
    groups = groups if clustered else None
    reps = bootstrap_replicates(y, p, n_boot=12, seed=5, groups=groups, ages=ages)
    weights = replicate_weights(*bootstrap_weights(len(y), 12, 5, groups))
    for b in range(12):
        rows = np.repeat(np.arange(len(y)), weights[b].astype(int))  # original row order
        expected = point_metrics(y[rows], p[rows], ages=ages[rows])
        for key in METRICS:
            assert reps[key][b] == pytest.approx(expected[key], abs=1e-9, nan_ok=True), key


@settings(max_examples=25, deadline=None)
@given(labelled(min_size=3, max_size=40, both_classes=False), st.integers(0, 10_000))
def test_replicates_match_point_metrics_property(data, seed):
    y, p = data
    reps = bootstrap_replicates(y, p, n_boot=3, seed=seed, top_k_share=0.1)
    draws, _ = bootstrap_weights(len(y), 3, seed)
    for b in range(3):
        rows = np.sort(draws[b])
        expected = point_metrics(y[rows], p[rows], top_k_share=0.1)
        for key in METRICS:
            assert reps[key][b] == pytest.approx(expected[key], abs=1e-9, nan_ok=True), key


def test_interval_contains_the_point_estimate():
    y, p = synthetic(3000, seed=3)
    s = evaluate(y, p, n_boot=200, seed=0)
    for key in ("auc", "average_precision", "brier", "precision_at_k", "recall_at_k", "base_rate"):
        assert s.low[key] <= s.point[key] <= s.high[key], key
        assert s.low[key] < s.high[key], key


def test_bootstrap_is_deterministic_for_a_seed():
    y, p = synthetic(1000, seed=4)
    first, again = evaluate(y, p, n_boot=50, seed=7), evaluate(y, p, n_boot=50, seed=7)
    np.testing.assert_equal(first.as_flat(), again.as_flat())  # NaN-aware
    assert first.low["auc"] != evaluate(y, p, n_boot=50, seed=8).low["auc"]


def test_interval_narrows_with_more_data():
    small, large = synthetic(500, seed=5), synthetic(8000, seed=5)
    width = {}
    for name, (y, p) in {"small": small, "large": large}.items():
        s = evaluate(y, p, n_boot=200, seed=0)
        width[name] = {k: s.high[k] - s.low[k] for k in ("auc", "brier", "average_precision")}
    for key in width["small"]:
        assert width["large"][key] < width["small"][key] / 2, key


def test_no_replicates_gives_nan_intervals():
    y, p = synthetic(100)
    s = evaluate(y, p, n_boot=0)
    assert s.n_boot == 0 and math.isnan(s.low["auc"]) and not math.isnan(s.point["auc"])


# ------------------------------------------------------------------ cluster bootstrap


def test_cluster_weights_resample_whole_clusters():
    groups = np.array(["a", "b", "a", "c", "b", "a", "d"])
    draws, cluster_of_row = bootstrap_weights(len(groups), 50, seed=1, groups=groups)
    assert draws.shape == (50, 4)
    weights = replicate_weights(draws, cluster_of_row)
    for g in np.unique(groups):
        rows = weights[:, groups == g]
        assert (rows == rows[:, :1]).all()  # a cluster's rows appear together
    sizes = np.array([3, 2, 1, 1])  # clusters a, b, c, d
    drawn = np.stack([np.bincount(d, minlength=4) for d in draws])
    assert (weights.sum(axis=1) == drawn @ sizes).all()


def test_one_row_per_cluster_in_row_order_is_the_row_bootstrap():
    y, p = synthetic(400, seed=6)
    clusters = evaluate(y, p, n_boot=30, seed=2, groups=np.arange(400))
    np.testing.assert_equal(clusters.as_flat(), evaluate(y, p, n_boot=30, seed=2).as_flat())


def test_one_row_per_cluster_matches_the_row_bootstrap_distribution():
    y, p = synthetic(2000, seed=7)
    ids = np.random.default_rng(0).permutation(2000) * 7 + 3  # unique, unordered ids
    rows = bootstrap_replicates(y, p, n_boot=400, seed=1)
    clusters = bootstrap_replicates(y, p, n_boot=400, seed=1, groups=ids)
    for key in ("auc", "brier", "average_precision"):
        assert not np.array_equal(rows[key], clusters[key])
        assert np.std(clusters[key]) / np.std(rows[key]) == pytest.approx(1, abs=0.2), key
        spread = np.std(rows[key])
        assert abs(np.mean(clusters[key]) - np.mean(rows[key])) < 0.3 * spread, key


def test_cluster_bootstrap_does_not_count_copies_as_evidence():
    y, p = synthetic(1500, seed=8)
    copies = 5
    y5, p5, child = np.repeat(y, copies), np.repeat(p, copies), np.repeat(np.arange(1500), copies)
    width = {}
    for name, kwargs in {
        "original": dict(y=y, p=p),
        "copies_rows": dict(y=y5, p=p5),
        "copies_clusters": dict(y=y5, p=p5, groups=child),
    }.items():
        s = evaluate(kwargs.pop("y"), kwargs.pop("p"), n_boot=300, seed=0, **kwargs)
        width[name] = s.high["auc"] - s.low["auc"]
    assert width["copies_rows"] < 0.6 * width["original"]
    assert width["copies_clusters"] == pytest.approx(width["original"], rel=0.2)


def test_a_paired_difference_uses_the_same_replicates():
    y, p = synthetic(2000, seed=9)
    noisy = np.clip(p + np.random.default_rng(1).normal(0, 0.05, len(p)), 0, 1)
    a, b = evaluate(y, p, n_boot=200, seed=3), evaluate(y, noisy, n_boot=200, seed=3)
    d = paired_difference(a, b, "auc")
    assert d.point == pytest.approx(a.point["auc"] - b.point["auc"])
    assert d.low <= d.point <= d.high
    # pairing cancels what the two share: the difference's interval is narrower than either
    assert d.high - d.low < 0.5 * (a.high["auc"] - a.low["auc"])
    same = paired_difference(a, a, "auc")
    assert (same.point, same.low, same.high, same.reading) == (0.0, 0.0, 0.0, "within noise")
    assert d.reading == ("higher" if d.low > 0 else "within noise")
    assert d.format().startswith("+") and " to " in d.format()


def test_summaries_of_other_draws_cannot_be_paired():
    y, p = synthetic(500, seed=2)
    with pytest.raises(ValueError, match="same rows with the same seed"):
        paired_difference(
            evaluate(y, p, n_boot=20, seed=1), evaluate(y, p, n_boot=20, seed=2), "auc"
        )
    with pytest.raises(ValueError, match="same rows"):
        paired_difference(evaluate(y, p, n_boot=20), evaluate(y[:400], p[:400], n_boot=20), "auc")


def test_groups_must_match_rows():
    with pytest.raises(ValueError, match="groups"):
        evaluate([0, 1, 0], [0.1, 0.2, 0.3], groups=[1, 2])


# ------------------------------------------------------------------ summary


def test_summary_flattens_to_mlflow_metric_names():
    from mlflow.utils.validation import _validate_metric_name

    y, p = synthetic(500)
    flat = evaluate(y, p, n_boot=20).as_flat()
    assert set(flat) == {f"{k}{s}" for k in METRICS for s in ("", "_low", "_high")}
    assert flat["auc_low"] <= flat["auc"] <= flat["auc_high"]
    for key in evaluate(y, p, n_boot=20).as_flat(prefix="test/").keys():
        _validate_metric_name(key)
    with pytest.raises(ValueError):
        evaluate(y, p, n_boot=2).as_flat(prefix="a:b")


def test_summary_formats_point_and_interval():
    s = MetricSummary(
        point={"auc": 0.8123, "n_flagged": 800.0},
        low={"auc": 0.79, "n_flagged": 800.0},
        high={"auc": 0.8334, "n_flagged": 800.0},
        n_boot=200,
    )
    assert s.format("auc") == "0.812 (0.790-0.833)"
    assert s.format("n_flagged") == "800 (800-800)"


# ------------------------------------------------------------------ reliability


def test_reliability_table_gives_the_ece():
    y, p = synthetic(2000, seed=9)
    table = reliability_table(y, p, bins=10)
    assert list(table.columns) == [
        "bin",
        "n",
        "mean_predicted",
        "observed_rate",
        "observed_low",
        "observed_high",
    ]
    assert table["n"].sum() == len(y)
    assert table["mean_predicted"].is_monotonic_increasing
    gap = (table["n"] / len(y) * (table["observed_rate"] - table["mean_predicted"]).abs()).sum()
    assert gap == pytest.approx(expected_calibration_error(y, p), abs=1e-12)
    assert (table["observed_low"] <= table["observed_rate"]).all()
    assert (table["observed_rate"] <= table["observed_high"]).all()


def test_wilson_interval_known_values():
    low, high = wilson_interval(np.array([0, 5]), np.array([10, 10]))
    assert low[0] == pytest.approx(0.0, abs=1e-12)
    assert high[0] == pytest.approx(0.2775, abs=1e-4)
    assert (low[1], high[1]) == pytest.approx((0.2366, 0.7634), abs=1e-4)


def test_reliability_plot_needs_no_pyplot(tmp_path):
    script = f"""
import sys
import numpy as np
import training.reliability as m
assert "matplotlib.pyplot" not in sys.modules
rng = np.random.default_rng(0)
p = rng.random(500)
y = (rng.random(500) < p).astype(int)
tables = {{"a": m.reliability_table(y, p), "b": m.reliability_table(y, p ** 2)}}
fig = m.reliability_plot(tables, "Reliability")
fig.savefig({str(tmp_path / "r.png")!r})
assert "matplotlib.pyplot" not in sys.modules
assert len(fig.axes[0].lines) >= 1 and fig.axes[0].get_title() == "Reliability"
"""
    subprocess.run([sys.executable, "-c", script], check=True)
    assert (tmp_path / "r.png").stat().st_size > 1000


def test_importing_metrics_does_not_import_matplotlib():
    script = "import sys, training.intervals, training.reliability; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", script], check=True)
