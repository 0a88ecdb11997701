"""Every metric of every group against an independent computation (pandas, scikit-learn,
Fairlearn), and the bootstrap intervals against resampling by brute force."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import confusion_matrix, roc_auc_score

from fairness import audit
from fairness.weighted import replicate_chunks

THRESHOLD = 0.45
GROUPS = ["ethnicity", "send", "sex"]
TOL = 1e-9


@pytest.fixture(scope="module")
def result(frame):
    return audit(
        frame,
        score="score",
        label="y",
        groups=GROUPS,
        threshold=THRESHOLD,
        true_label="y_true",
        baseline="baseline",
        baseline_threshold=3,
        n_boot=40,
        seed=5,
    )


def _expected(rows: pd.DataFrame, everyone: pd.DataFrame, label: str, score: str, cut) -> dict:
    """Every metric of one group, from a confusion matrix and roc_auc_score."""
    y = rows[label].to_numpy()
    s = rows[score].to_numpy()
    f = (s >= cut).astype(int)
    tn, fp, fn, tp = confusion_matrix(y, f, labels=[0, 1]).ravel()
    flagged_total = (everyone[score] >= cut).sum()

    def div(a, b):
        return a / b if b else math.nan

    both = 0 < y.sum() < len(y)
    return {
        "population_share": len(rows) / len(everyone),
        "mean_score": s.mean(),
        "selection_rate": f.mean(),
        "flagged_share": div(f.sum(), flagged_total),
        "base_rate": y.mean(),
        "tpr": div(tp, tp + fn),
        "fnr": div(fn, tp + fn),
        "fpr": div(fp, fp + tn),
        "precision": div(tp, tp + fp),
        "auc": roc_auc_score(y, s) if both else math.nan,
        "_counts": {"n": len(rows), "positives": tp + fn, "negatives": fp + tn, "flagged": tp + fp},
    }


NEEDS = {
    "tpr": ("positives",),
    "fnr": ("positives",),
    "fpr": ("negatives",),
    "precision": ("flagged",),
    "auc": ("positives", "negatives"),
}


def _check_result(result, frame, score, cut):
    checked = 0
    for g in result.groupings:
        for group, values in zip(g.groups, g.values, strict=True):
            mask = np.ones(len(frame), dtype=bool)
            for column, value in zip(g.columns, values, strict=True):
                mask &= frame[column].astype(str).to_numpy() == value
            for outcome, label in (("recorded", "y"), ("true", "y_true")):
                want = _expected(frame[mask], frame, label, score, cut)
                got = result.by_group(g.name, outcome)
                counts = want.pop("_counts")
                for metric, value in want.items():
                    small = counts["n"] < 10 or any(
                        counts[need] < 10 for need in NEEDS.get(metric, ())
                    )
                    if small:
                        assert math.isnan(got.loc[group, metric]), (g.name, group, metric)
                    else:
                        assert got.loc[group, metric] == pytest.approx(value, abs=TOL, rel=0), (
                            g.name,
                            group,
                            outcome,
                            metric,
                        )
                        checked += 1
    return checked


def test_every_metric_of_every_group_matches_sklearn_and_pandas(result, frame):
    assert _check_result(result, frame, "score", THRESHOLD) > 500


def test_the_baseline_is_audited_the_same_way(result, frame):
    assert result.baseline.operating_point.n_flagged == int((frame["baseline"] >= 3).sum())
    assert _check_result(result.baseline, frame, "baseline", 3) > 400


def test_overall_and_group_sizes(result, frame):
    overall = result.overall()
    assert overall["base_rate"] == pytest.approx(frame["y"].mean(), abs=TOL)
    sizes = result.groups[result.groups["grouping"] == "ethnicity"].set_index("group")["n"]
    counts = frame["ethnicity"].value_counts()
    for group, n in sizes.items():
        assert n is pd.NA or n == counts[group]


def test_ratios_are_group_over_reference(result):
    for g in result.groupings:
        for outcome in result.outcomes:
            values = result.by_group(g.name, outcome)
            ratios = result.ratios(g.name, outcome)
            for metric in ratios.columns:
                expected = values[metric] / values.loc[g.reference, metric]
                got = ratios[metric]
                both = got.notna()
                assert np.allclose(got[both], expected[both], atol=TOL, rtol=0)


def test_calibration_cells_match_pandas(result, frame):
    bins = result.bins
    edges = bins["lowest"].to_numpy()
    which = np.searchsorted(edges, frame["score"].to_numpy(), side="right")
    cal = result.calibration
    for g in ("all", "send"):
        key = np.zeros(len(frame), dtype=object) if g == "all" else frame[g].to_numpy()
        observed = frame.assign(key=key, bin=which).groupby(["key", "bin"])
        stats = observed.agg(n=("y", "size"), observed=("y", "mean"), mean=("score", "mean"))
        rows = cal[(cal["grouping"] == g) & (cal["outcome"] == "recorded")]
        for row in rows.itertuples():
            want = stats.loc[(0 if g == "all" else row.group, row.bin)]
            if row.suppressed:
                assert want["n"] < 10 and pd.isna(row.n)
            else:
                assert row.n == want["n"]
                assert row.observed == pytest.approx(want["observed"], abs=TOL)
                assert row.mean_score == pytest.approx(want["mean"], abs=TOL)


def test_fairlearn_metricframe_agrees(result, frame):
    flagged = (frame["score"] >= THRESHOLD).astype(int)
    mf = MetricFrame(
        metrics={
            "selection_rate": selection_rate,
            "tpr": true_positive_rate,
            "fpr": false_positive_rate,
            "fnr": false_negative_rate,
        },
        y_true=frame["y"],
        y_pred=flagged,
        sensitive_features=frame[["ethnicity", "send"]],
    )
    ours = result.by_group("ethnicity × send")
    compared = 0
    for (eth, send), row in mf.by_group.dropna(how="all").iterrows():
        for metric, value in row.items():
            got = ours.loc[f"{eth} × {send}", metric]
            if not math.isnan(got):
                assert got == pytest.approx(value, abs=1e-12, rel=0)
                compared += 1
    assert compared > 40


def _replicate_metrics(frame: pd.DataFrame, weights: np.ndarray) -> pd.DataFrame:
    """Metrics of ethnicity groups on the resampled rows themselves (rows repeated)."""
    rows = frame.loc[np.repeat(frame.index.to_numpy(), weights.astype(int))]
    f = rows["score"] >= THRESHOLD
    y = rows["y"] == 1
    g = rows.assign(f=f, tp=f & y, fn=~f & y, fp=f & ~y, neg=~y).groupby("ethnicity")
    s = g[["f", "tp", "fn", "fp", "neg"]].sum()
    return pd.DataFrame(
        {
            "selection_rate": s["f"] / g.size(),
            "fnr": s["fn"] / (s["tp"] + s["fn"]),
            "fpr": s["fp"] / s["neg"],
            "auc": g.apply(
                lambda d: roc_auc_score(d["y"], d["score"]) if 0 < d["y"].sum() < len(d) else np.nan
            ),
        }
    )


def test_bootstrap_intervals_equal_brute_force_resampling(frame):
    n_boot, seed = 25, 11
    result = audit(
        frame,
        score="score",
        label="y",
        groups=["ethnicity"],
        threshold=THRESHOLD,
        n_boot=n_boot,
        seed=seed,
        references={"ethnicity": "White"},
    )
    weights = np.concatenate(list(replicate_chunks(len(frame), n_boot, seed=seed)), axis=1)
    assert (weights.sum(axis=0) == len(frame)).all()
    reps = [_replicate_metrics(frame, weights[:, j]) for j in range(n_boot)]
    low = result.by_group("ethnicity", column="low")
    high = result.by_group("ethnicity", column="high")
    ratio_low = result.ratios("ethnicity", column="low")
    for metric in ("selection_rate", "fnr", "fpr", "auc"):
        table = pd.concat([r[metric] for r in reps], axis=1)
        ratios = table / table.loc["White"]
        for group in table.index:
            if math.isnan(low.loc[group, metric]):
                continue
            lo, hi = np.nanpercentile(table.loc[group].to_numpy(dtype=float), [2.5, 97.5])
            assert low.loc[group, metric] == pytest.approx(lo, abs=TOL)
            assert high.loc[group, metric] == pytest.approx(hi, abs=TOL)
            if group != "White" and not math.isnan(ratio_low.loc[group, metric]):
                r_lo = np.nanpercentile(ratios.loc[group].to_numpy(dtype=float), 2.5)
                assert ratio_low.loc[group, metric] == pytest.approx(r_lo, abs=TOL)
