"""Honest evaluation: discrimination, calibration and the top of the list, and the bootstrap.

Every metric is computed by one weighted engine. A bootstrap replicate is the test set with
each row repeated as often as it was drawn, so a replicate is a row of integer weights over the
original rows and every replicate is computed at once, without copying the data. The point
estimate is the same engine with every weight 1.

A replicate is taken to list its rows in the original row order. That order only matters for
breaking ties at the top-k cut, and it makes them break the same way as in the point estimate:
among equal scores, the row that comes first in the data is flagged first.

:mod:`training.intervals` turns replicates into intervals and paired differences;
:mod:`training.reliability` draws the reliability table and plot.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from fairness.stats import cumsum0, ratio
from features.populations import age_strata

Strategy = Literal["quantile", "uniform"]

METRICS = (
    "auc_within_age",
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
"""The keys of :func:`point_metrics`, in the order they are reported. ``auc_within_age`` is
the headline (:func:`features.populations.within_age_auc`): NaN when no ages are given."""

COUNTS = frozenset({"n_flagged", "n", "positives"})
"""Metrics that count rows, formatted as whole numbers."""

_CHUNK_CELLS = 1_000_000
"""Replicates are processed in chunks of about this many (replicate, row) cells."""

# --------------------------------------------------------------------------- inputs


def as_arrays(y, p) -> tuple[np.ndarray, np.ndarray]:
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
    strata: tuple[tuple[np.ndarray, np.ndarray], ...] = ()  # (positions, starts) per stratum

    @classmethod
    def of(cls, y: np.ndarray, p: np.ndarray, strata: np.ndarray | None = None) -> _Ranked:
        """Sort with a stable sort, so equal scores stay in row order; ``strata`` (a code per
        row, -1 for none) gives each stratum's ranked positions and distinct scores."""
        order = np.argsort(-p, kind="stable")
        ps = p[order]
        ranked = ()
        if strata is not None:
            codes = np.asarray(strata)[order]
            ranked = tuple(
                (positions, _distinct_starts(ps[positions]))
                for code in np.unique(codes[codes >= 0])
                for positions in [np.flatnonzero(codes == code)]
            )
        return cls(y=y[order], p=ps, order=order, starts=_distinct_starts(ps), strata=ranked)


def _distinct_starts(descending: np.ndarray) -> np.ndarray:
    """The first position of each distinct value of a sorted array."""
    return np.flatnonzero(np.r_[True, descending[1:] != descending[:-1]])


def _auc(gpos: np.ndarray, gneg: np.ndarray) -> np.ndarray:
    """Mann-Whitney AUC from per-score positive and negative weights (scores descending).

    A positive beats each negative scored strictly lower and ties half of those scored equal.
    """
    negatives = gneg.sum(axis=1, keepdims=True)
    below = negatives - np.cumsum(gneg, axis=1)
    wins = (gpos * (below + 0.5 * gneg)).sum(axis=1)
    return ratio(wins, gpos.sum(axis=1) * negatives[:, 0])


def _auc_within(r: _Ranked, w: np.ndarray) -> np.ndarray:
    """AUC within each stratum, pooled with each stratum's positive weight (NaN: no strata).

    A stratum without positives or negatives in a replicate adds nothing to it.
    """
    if not r.strata:
        return np.full(w.shape[0], np.nan)
    wins = np.zeros(w.shape[0])
    positives = np.zeros(w.shape[0])
    for positions, starts in r.strata:
        ws = w[:, positions]
        pos = ws * r.y[positions]
        gpos = np.add.reduceat(pos, starts, axis=1)
        auc = _auc(gpos, np.add.reduceat(ws - pos, starts, axis=1))
        ranked = np.isfinite(auc)
        weight = np.where(ranked, gpos.sum(axis=1), 0.0)
        wins += np.where(ranked, auc, 0.0) * weight
        positives += weight
    return ratio(wins, positives)


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
        "auc_within_age": _auc_within(r, w),
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


def _unit(y, p, ages=None) -> tuple[_Ranked, np.ndarray]:
    """The ranked rows and a single replicate of unit weights."""
    y, p = as_arrays(y, p)
    return _ranked(y, p, ages), np.ones((1, y.size))


def _ranked(y: np.ndarray, p: np.ndarray, ages) -> _Ranked:
    if ages is None:
        return _Ranked.of(y, p)
    strata = age_strata(np.asarray(ages, dtype=float).ravel())
    if strata.size != y.size:
        raise ValueError(f"ages has {strata.size} rows but y has {y.size}")
    return _Ranked.of(y, p, strata)


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
    y, p = as_arrays(y, p)
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


def point_metrics(y, p, top_k_share: float = 0.02, ages=None) -> dict[str, float]:
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
    ages : array-like of float, optional
        Age in years of each row, for ``auc_within_age`` (NaN without).

    Returns
    -------
    dict of str to float
        The keys of :data:`METRICS`. AUC and average precision are NaN when only one class
        occurs; ``ece`` uses 10 quantile bins.
    """
    r, w = _unit(y, p, ages)
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
    y, p, *, top_k_share: float = 0.02, n_boot: int = 200, seed: int = 0, groups=None, ages=None
) -> dict[str, np.ndarray]:
    """Every metric of every bootstrap replicate.

    Replicate ``b`` equals :func:`point_metrics` on the resampled rows (kept in their original
    row order). See :func:`evaluate` for the parameters.

    Returns
    -------
    dict of str to ndarray
        For each key of :data:`METRICS` (and ``threshold``), an array of ``n_boot`` values.
    """
    y, p = as_arrays(y, p)
    r = _ranked(y, p, ages)
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
