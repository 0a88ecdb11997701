"""Honest evaluation: discrimination, calibration and the top of the list, with intervals.

Every metric is computed by one weighted engine. A bootstrap replicate is the test set with
each row repeated as often as it was drawn, so a replicate is a row of integer weights over the
original rows and every replicate is computed at once, without copying the data. The point
estimate is the same engine with every weight 1.

A replicate is taken to list its rows in the original row order. That order only matters for
breaking ties at the top-k cut, and it makes them break the same way as in the point estimate:
among equal scores, the row that comes first in the data is flagged first.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from fairness.stats import cumsum0, percentile_interval, ratio, wilson_interval

if TYPE_CHECKING:
    from matplotlib.figure import Figure

Strategy = Literal["quantile", "uniform"]

METRICS = (
    "auc",
    "average_precision",
    "brier",
    "ece",
    "precision_at_k",
    "recall_at_k",
    "n_flagged",
    "n",
    "positives",
    "base_rate",
)
"""The keys of :func:`point_metrics`, in the order they are reported."""

COUNTS = frozenset({"n_flagged", "n", "positives"})
"""Metrics that count rows, formatted as whole numbers."""

_CHUNK_CELLS = 1_000_000
"""Replicates are processed in chunks of about this many (replicate, row) cells."""

_MLFLOW_NAME = re.compile(r"^[\w./ -]*$")


# --------------------------------------------------------------------------- inputs


def _as_arrays(y, p) -> tuple[np.ndarray, np.ndarray]:
    """Check and convert labels (0/1) and scores (finite) to float arrays of one length."""
    y = np.asarray(y, dtype=float).ravel()
    p = np.asarray(p, dtype=float).ravel()
    if y.shape != p.shape:
        raise ValueError(f"y has {y.size} rows but p has {p.size}")
    if y.size == 0:
        raise ValueError("no rows to evaluate")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValueError("y must hold only 0 and 1")
    if not np.isfinite(p).all():
        raise ValueError("p must be finite (no NaN or infinity)")
    return y, p


def _is_probability(p: np.ndarray) -> bool:
    """Whether every score lies in [0, 1], so calibration metrics mean something."""
    return bool(p.min() >= 0.0 and p.max() <= 1.0)


def n_flagged(n: int | np.ndarray, share: float) -> int | np.ndarray:
    """How many of ``n`` rows the top ``share`` flags: ``ceil(share * n)``.

    A tolerance of 1e-9 keeps floating-point noise from adding a row (``0.07 * 100`` is
    ``7.000000000000001`` in floating point; 7 rows are flagged, not 8).
    """
    if not 0.0 < share <= 1.0:
        raise ValueError(f"share must be in (0, 1], got {share}")
    flagged = np.ceil(np.asarray(n) * share - 1e-9).astype(int)
    return int(flagged) if flagged.ndim == 0 else flagged


# --------------------------------------------------------------------------- the engine


@dataclass(frozen=True)
class _Ranked:
    """The rows sorted by descending score, ties kept in their original order."""

    y: np.ndarray
    p: np.ndarray
    order: np.ndarray
    starts: np.ndarray  # the first position of each distinct score

    @classmethod
    def of(cls, y: np.ndarray, p: np.ndarray) -> _Ranked:
        """Sort with a stable sort, so equal scores stay in row order."""
        order = np.argsort(-p, kind="stable")
        ps = p[order]
        starts = np.flatnonzero(np.r_[True, ps[1:] != ps[:-1]])
        return cls(y=y[order], p=ps, order=order, starts=starts)


def _auc(gpos: np.ndarray, gneg: np.ndarray) -> np.ndarray:
    """Mann-Whitney AUC from per-score positive and negative weights (scores descending).

    A positive beats each negative scored strictly lower and ties half of those scored equal.
    """
    negatives = gneg.sum(axis=1, keepdims=True)
    below = negatives - np.cumsum(gneg, axis=1)
    wins = (gpos * (below + 0.5 * gneg)).sum(axis=1)
    return ratio(wins, gpos.sum(axis=1) * negatives[:, 0])


def _average_precision(gpos: np.ndarray, gneg: np.ndarray) -> np.ndarray:
    """Sum over distinct thresholds of (recall gained) x (precision there), as scikit-learn.

    NaN unless both classes occur (scikit-learn gives 1 without negatives).
    """
    tp = np.cumsum(gpos, axis=1)
    precision = ratio(tp, tp + np.cumsum(gneg, axis=1))
    gained = np.where(gpos > 0, gpos * np.nan_to_num(precision), 0.0)
    # NaN without negatives too: every ranking then scores 1, which says nothing
    both = np.where(gneg.sum(axis=1) > 0, gpos.sum(axis=1), 0.0)
    return ratio(gained.sum(axis=1), both)


def _searchsorted_rows(c: np.ndarray, v: np.ndarray, side: Literal["left", "right"]):
    """``np.searchsorted(c[i], v[i], side)`` for each row ``i``."""
    return np.stack([np.searchsorted(ci, vi, side=side) for ci, vi in zip(c, v, strict=True)])


def _lerp(a: np.ndarray, b: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Linear interpolation exactly as ``np.quantile`` computes it."""
    diff = b - a
    return np.where(t >= 0.5, b - diff * (1 - t), a + diff * t)


def _quantile_edges(r: _Ranked, cw: np.ndarray, bins: int) -> np.ndarray:
    """Per-replicate ``np.quantile(p, linspace(0, 1, bins + 1))`` of the weighted sample."""
    total = cw[:, -1:]
    h = (total - 1) * np.linspace(0.0, 1.0, bins + 1)
    lo = np.floor(h)
    hi = np.minimum(lo + 1, total - 1)

    def kth_smallest(k: np.ndarray) -> np.ndarray:
        # The k-th smallest (0-based) is the (total - 1 - k)-th largest; positions run largest
        # first, and position i holds the j-th largest for cw[i] <= j < cw[i + 1].
        return r.p[_searchsorted_rows(cw, total - 1 - k, "right") - 1]

    return _lerp(kth_smallest(lo), kth_smallest(hi), h - lo)


def _bin_cuts(r: _Ranked, inner_edges: np.ndarray) -> np.ndarray:
    """Positions splitting the descending scores into bins ``[e_j, e_j+1)``, top bin first.

    A score equal to an edge belongs to the bin above it, as ``np.digitize`` would place it.
    """
    at_or_above = np.searchsorted(-r.p, -inner_edges, side="right")  # rows with p >= edge
    n = r.p.size
    zeros = np.zeros(at_or_above.shape[:-1] + (1,), dtype=int)
    return np.concatenate([zeros, at_or_above[..., ::-1], zeros + n], axis=-1)


def _ece(r, w, cw, bins: int, strategy: Strategy) -> np.ndarray:
    """Expected calibration error of each weighted replicate (rows of ``w``)."""
    if strategy == "quantile":
        inner = _quantile_edges(r, cw, bins)[:, 1:-1]
    elif strategy == "uniform":
        inner = np.broadcast_to(np.linspace(0.0, 1.0, bins + 1)[1:-1], (w.shape[0], bins - 1))
    else:
        raise ValueError(f"strategy must be 'quantile' or 'uniform', got {strategy!r}")
    cuts = _bin_cuts(r, inner)
    gap = cumsum0(w * (r.y - r.p), axis=1)
    per_bin = np.diff(np.take_along_axis(gap, cuts, axis=1), axis=1)
    return np.abs(per_bin).sum(axis=1) / cw[:, -1]


def _top_k(r, w, cw, share: float) -> dict[str, np.ndarray]:
    """Precision, recall, count and threshold of the top ``share`` of each replicate."""
    k = n_flagged(cw[:, -1], share).astype(float)
    # the last flagged position j has cw[j] < k <= cw[j + 1]
    last = _searchsorted_rows(cw, k[:, None], "left")[:, 0] - 1
    cy = cumsum0(w * r.y, axis=1)
    rows = np.arange(w.shape[0])
    tp = cy[rows, last] + r.y[last] * (k - cw[rows, last])
    return {
        "precision_at_k": tp / k,
        "recall_at_k": ratio(tp, cy[:, -1]),
        "n_flagged": k,
        "threshold": r.p[last],
    }


def _weighted(
    r: _Ranked, w: np.ndarray, *, share: float, bins: int = 10, strategy: Strategy = "quantile"
) -> dict[str, np.ndarray]:
    """Every metric for each row of weights ``w`` (replicates x rows, in ranked order)."""
    pos = w * r.y
    gpos = np.add.reduceat(pos, r.starts, axis=1)
    gneg = np.add.reduceat(w - pos, r.starts, axis=1)
    cw = cumsum0(w, axis=1)
    n = cw[:, -1]
    calibrated = _is_probability(r.p)
    nan = np.full(w.shape[0], np.nan)
    top = _top_k(r, w, cw, share)
    return {
        "auc": _auc(gpos, gneg),
        "average_precision": _average_precision(gpos, gneg),
        "brier": (w @ (r.p - r.y) ** 2) / n if calibrated else nan,
        "ece": _ece(r, w, cw, bins, strategy) if calibrated else nan,
        "precision_at_k": top["precision_at_k"],
        "recall_at_k": top["recall_at_k"],
        "n_flagged": top["n_flagged"],
        "n": n,
        "positives": gpos.sum(axis=1),
        "base_rate": gpos.sum(axis=1) / n,
        "threshold": top["threshold"],
    }


def _unit(y, p) -> tuple[_Ranked, np.ndarray]:
    """The ranked rows and a single replicate of unit weights."""
    y, p = _as_arrays(y, p)
    return _Ranked.of(y, p), np.ones((1, y.size))


# --------------------------------------------------------------------------- point metrics


def fast_auc(y, p) -> float:
    """ROC AUC by the Mann-Whitney rank-sum, ties given their average rank.

    Parameters
    ----------
    y : array-like of {0, 1}
        Outcomes.
    p : array-like of float
        Scores; higher means more likely.

    Returns
    -------
    float
        The AUC, equal to ``sklearn.metrics.roc_auc_score``; NaN when only one class occurs.
    """
    y, p = _as_arrays(y, p)
    values, inverse, counts = np.unique(p, return_inverse=True, return_counts=True)
    midrank = np.cumsum(counts) - (counts - 1) / 2.0
    positives = y.sum()
    negatives = y.size - positives
    if positives == 0 or negatives == 0:
        return math.nan
    rank_sum = midrank[inverse][y == 1].sum()
    return float((rank_sum - positives * (positives + 1) / 2.0) / (positives * negatives))


def expected_calibration_error(y, p, bins: int = 10, strategy: Strategy = "quantile") -> float:
    """Expected calibration error: ``sum over bins of n_bin / n * |mean(y) - mean(p)|``.

    Quantile bins (the default) hold equal numbers of rows, so every bin's gap is measured on
    a similar sample; uniform bins on a low base rate put almost every row in the first bin.
    Bin edges are ``np.quantile(p, linspace(0, 1, bins + 1))`` (or ``linspace(0, 1, bins + 1)``
    for ``"uniform"``); a score on an edge falls in the bin above; empty bins count zero.

    Parameters
    ----------
    y : array-like of {0, 1}
        Outcomes.
    p : array-like of float
        Predicted probabilities in [0, 1].
    bins : int, default 10
        Number of bins.
    strategy : {"quantile", "uniform"}, default "quantile"
        Equal-count or equal-width bins.

    Returns
    -------
    float
        The ECE, in probability units.
    """
    r, w = _unit(y, p)
    if not _is_probability(r.p):
        raise ValueError("expected calibration error needs probabilities in [0, 1]")
    if bins < 1:
        raise ValueError(f"bins must be at least 1, got {bins}")
    return float(_ece(r, w, cumsum0(w, axis=1), bins, strategy)[0])


def top_k(y, p, share: float = 0.02) -> dict[str, float]:
    """Precision and recall among the ``ceil(share * n)`` highest-scored rows.

    Rows are ordered by a stable sort on descending score, so among equal scores the row that
    comes first in the data is flagged first.

    Parameters
    ----------
    y : array-like of {0, 1}
        Outcomes.
    p : array-like of float
        Scores.
    share : float, default 0.02
        The share of rows flagged, in (0, 1].

    Returns
    -------
    dict
        ``precision``, ``recall`` (NaN with no positives), ``n_flagged`` and ``threshold``,
        the score of the last row flagged.
    """
    r, w = _unit(y, p)
    top = _top_k(r, w, cumsum0(w, axis=1), share)
    return {
        "precision": float(top["precision_at_k"][0]),
        "recall": float(top["recall_at_k"][0]),
        "n_flagged": int(top["n_flagged"][0]),
        "threshold": float(top["threshold"][0]),
    }


def point_metrics(y, p, top_k_share: float = 0.02) -> dict[str, float]:
    """Discrimination, calibration and top-of-list metrics of one set of scores.

    Parameters
    ----------
    y : array-like of {0, 1}
        Outcomes.
    p : array-like of float
        Scores. Brier score and ECE are NaN unless every score is a probability in [0, 1]
        (a checklist count ranks children but is not a probability).
    top_k_share : float, default 0.02
        Share of rows flagged for ``precision_at_k``, ``recall_at_k`` and ``n_flagged``.

    Returns
    -------
    dict of str to float
        The keys of :data:`METRICS`. AUC and average precision are NaN when only one class
        occurs; ``ece`` uses 10 quantile bins.
    """
    r, w = _unit(y, p)
    values = _weighted(r, w, share=top_k_share)
    return {key: float(values[key][0]) for key in METRICS}


# --------------------------------------------------------------------------- bootstrap


def bootstrap_weights(
    n: int, n_boot: int, seed: int = 0, groups=None
) -> tuple[np.ndarray, np.ndarray | None]:
    """The draws of a row or cluster bootstrap, made at once from ``default_rng(seed)``.

    Parameters
    ----------
    n : int
        Number of rows.
    n_boot : int
        Number of replicates.
    seed : int, default 0
        Seed of ``np.random.default_rng``.
    groups : array-like, optional
        A cluster id per row. Whole clusters are drawn with replacement (as many draws as
        there are clusters), so a cluster's rows always appear together.

    Returns
    -------
    draws : ndarray of int, shape (n_boot, n) or (n_boot, n_clusters)
        The row (or cluster) drawn at each position of each replicate.
    cluster_of_row : ndarray of int or None
        Each row's cluster number (an index into the clusters), None for the row bootstrap.
    """
    rng = np.random.default_rng(seed)
    if groups is None:
        return rng.integers(0, n, size=(n_boot, n)), None
    groups = np.asarray(groups).ravel()
    if groups.size != n:
        raise ValueError(f"groups has {groups.size} rows but there are {n}")
    _, cluster_of_row = np.unique(groups, return_inverse=True)
    n_clusters = int(cluster_of_row.max()) + 1
    return rng.integers(0, n_clusters, size=(n_boot, n_clusters)), cluster_of_row


def replicate_weights(draws: np.ndarray, cluster_of_row: np.ndarray | None) -> np.ndarray:
    """How many times each row appears in each replicate (replicates x rows), as floats."""
    b, m = draws.shape
    offsets = (np.arange(b) * m)[:, None]
    counts = np.bincount((draws + offsets).ravel(), minlength=b * m).reshape(b, m)
    if cluster_of_row is not None:
        counts = counts[:, cluster_of_row]
    return counts.astype(float)


def bootstrap_replicates(
    y, p, *, top_k_share: float = 0.02, n_boot: int = 200, seed: int = 0, groups=None
) -> dict[str, np.ndarray]:
    """Every metric of every bootstrap replicate.

    Replicate ``b`` equals :func:`point_metrics` on the resampled rows (kept in their original
    row order). See :func:`evaluate` for the parameters.

    Returns
    -------
    dict of str to ndarray
        For each key of :data:`METRICS` (and ``threshold``), an array of ``n_boot`` values.
    """
    y, p = _as_arrays(y, p)
    r = _Ranked.of(y, p)
    draws, cluster_of_row = bootstrap_weights(y.size, n_boot, seed, groups)
    step = max(1, _CHUNK_CELLS // y.size)
    parts = [
        _weighted(
            r, replicate_weights(draws[i : i + step], cluster_of_row)[:, r.order], share=top_k_share
        )
        for i in range(0, n_boot, step)
    ]
    if not parts:
        return {key: np.empty(0) for key in (*METRICS, "threshold")}
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


@dataclass(frozen=True)
class MetricSummary:
    """Point estimates with bootstrap intervals.

    Attributes
    ----------
    point : dict of str to float
        :func:`point_metrics` of the full data.
    low, high : dict of str to float
        Interval bounds for each metric (NaN when no replicate defines it).
    n_boot : int
        Number of bootstrap replicates behind the intervals.
    """

    point: dict[str, float]
    low: dict[str, float]
    high: dict[str, float]
    n_boot: int

    def as_flat(self, prefix: str = "") -> dict[str, float]:
        """``{"auc": .., "auc_low": .., "auc_high": .., ...}``, keys valid MLflow metric names."""
        if not _MLFLOW_NAME.match(prefix):
            raise ValueError(f"prefix {prefix!r} is not valid in an MLflow metric name")
        flat = {}
        for key, value in self.point.items():
            flat[f"{prefix}{key}"] = value
            flat[f"{prefix}{key}_low"] = self.low[key]
            flat[f"{prefix}{key}_high"] = self.high[key]
        return flat

    def format(self, name: str, digits: int = 3) -> str:
        """The metric with its interval, e.g. ``"0.812 (0.790-0.833)"``; counts as integers."""
        places = 0 if name in COUNTS else digits

        def fmt(value: float) -> str:
            return "n/a" if math.isnan(value) else f"{value:.{places}f}"

        return f"{fmt(self.point[name])} ({fmt(self.low[name])}-{fmt(self.high[name])})"


def evaluate(
    y,
    p,
    *,
    top_k_share: float = 0.02,
    n_boot: int = 200,
    seed: int = 0,
    groups=None,
    level: float = 0.95,
) -> MetricSummary:
    """Point metrics with percentile bootstrap intervals.

    Parameters
    ----------
    y : array-like of {0, 1}
        Outcomes.
    p : array-like of float
        Scores (see :func:`point_metrics` on calibration metrics).
    top_k_share : float, default 0.02
        Share of rows flagged for the top-k metrics.
    n_boot : int, default 200
        Bootstrap replicates; 0 gives NaN intervals.
    seed : int, default 0
        Seed of the replicate draws; the same seed gives the same intervals.
    groups : array-like, optional
        A cluster id per row (e.g. the child's id when a child has several rows). Whole
        clusters are resampled, so rows of one child that move together are not treated as
        independent evidence; without it rows are resampled.
    level : float, default 0.95
        Coverage of the interval: the ``(1 - level) / 2`` and ``(1 + level) / 2`` percentiles.

    Returns
    -------
    MetricSummary
        Interval percentiles skip replicates where a metric is undefined (e.g. AUC of a
        replicate without positives). ECE is biased upwards in small samples and more so in
        resamples, so its interval can sit above the point estimate.
    """
    point = point_metrics(y, p, top_k_share)
    reps = bootstrap_replicates(
        y, p, top_k_share=top_k_share, n_boot=n_boot, seed=seed, groups=groups
    )
    low, high = {}, {}
    for key in METRICS:
        low[key], high[key] = (float(b) for b in percentile_interval(reps[key], level))
    return MetricSummary(point=point, low=low, high=high, n_boot=n_boot)


# --------------------------------------------------------------------------- reliability


def reliability_table(y, p, bins: int = 10, strategy: Strategy = "quantile") -> pd.DataFrame:
    """Mean prediction against observed rate per bin, with a Wilson 95% interval.

    Bins are those of :func:`expected_calibration_error`; empty bins are left out, so
    ``sum(n / n.sum() * |observed_rate - mean_predicted|)`` is the ECE.

    Parameters
    ----------
    y : array-like of {0, 1}
        Outcomes.
    p : array-like of float
        Predicted probabilities.
    bins : int, default 10
        Number of bins.
    strategy : {"quantile", "uniform"}, default "quantile"
        Equal-count or equal-width bins.

    Returns
    -------
    pandas.DataFrame
        Columns ``bin``, ``n``, ``mean_predicted``, ``observed_rate``, ``observed_low``,
        ``observed_high``; one row per non-empty bin, lowest scores first.
    """
    y, p = _as_arrays(y, p)
    if strategy == "quantile":
        edges = np.quantile(p, np.linspace(0.0, 1.0, bins + 1))
    elif strategy == "uniform":
        edges = np.linspace(0.0, 1.0, bins + 1)
    else:
        raise ValueError(f"strategy must be 'quantile' or 'uniform', got {strategy!r}")
    which = np.searchsorted(edges[1:-1], p, side="right")
    frame = pd.DataFrame({"bin": which, "y": y, "p": p})
    table = frame.groupby("bin").agg(
        n=("y", "size"), events=("y", "sum"), mean_predicted=("p", "mean")
    )
    table["observed_rate"] = table["events"] / table["n"]
    table["observed_low"], table["observed_high"] = wilson_interval(table["events"], table["n"])
    return table.drop(columns="events").reset_index()


def reliability_plot(tables: Mapping[str, pd.DataFrame], title: str) -> Figure:
    """Reliability diagram of several models, with the diagonal of perfect calibration.

    Parameters
    ----------
    tables : mapping of str to DataFrame
        :func:`reliability_table` of each model, by the name shown in the legend.
    title : str
        The figure's title.

    Returns
    -------
    matplotlib.figure.Figure
        A figure on the non-interactive Agg canvas (no pyplot, no global backend change);
        save it with ``fig.savefig``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6, 6))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    top = max(
        [0.0] + [max(t["mean_predicted"].max(), t["observed_high"].max()) for t in tables.values()]
    )
    limit = min(1.0, top * 1.05) if top > 0 else 1.0
    ax.plot([0, limit], [0, limit], linestyle="--", color="grey", label="perfectly calibrated")
    for name, table in tables.items():
        err = [
            table["observed_rate"] - table["observed_low"],
            table["observed_high"] - table["observed_rate"],
        ]
        ax.errorbar(
            table["mean_predicted"],
            table["observed_rate"],
            yerr=err,
            marker="o",
            capsize=3,
            label=name,
        )
    ax.set_xlim(0, limit)
    ax.set_ylim(0, limit)
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("observed rate (95% Wilson interval)")
    ax.set_title(title)
    ax.legend(loc="upper left")
    return fig
