"""The operating point: which rows are flagged (score at or above a threshold, or the top k),
and the score bins calibration is read in."""

from __future__ import annotations

import math
from dataclasses import asdict

import numpy as np
import pandas as pd

from fairness.result import OperatingPoint


def operating_point(
    scores: np.ndarray,
    *,
    threshold: float | None = None,
    top_k: float | None = None,
    seed: int = 0,
) -> tuple[np.ndarray, OperatingPoint]:
    """Who is flagged: ``score >= threshold``, or the ``top_k`` highest scores.

    Parameters
    ----------
    scores : ndarray
        Scores; higher means more concern.
    threshold : float, optional
        Flag every row scored at least this.
    top_k : float, optional
        Flag this many rows (an integer >= 1) or this share of them (in (0, 1), rounded up).
        Rows tied at the cut are chosen at random (seeded), so that no group gains from the
        order of the file.
    seed : int, default 0
        Seed of that choice.

    Returns
    -------
    flagged : ndarray of bool
    OperatingPoint
    """
    n = scores.size
    if (threshold is None) == (top_k is None):
        raise ValueError("give exactly one operating point: a threshold or a top k")
    if threshold is not None:
        flagged = scores >= threshold
        lowest = float(scores[flagged].min()) if flagged.any() else math.nan
        point = OperatingPoint("threshold", float(threshold), lowest, int(flagged.sum()), 0.0)
    else:
        k = _k(top_k, n)
        tiebreak = np.random.default_rng(seed).permutation(n)
        order = np.lexsort((tiebreak, -scores))
        flagged = np.zeros(n, dtype=bool)
        flagged[order[:k]] = True
        lowest = float(scores[order[k - 1]]) if k else math.nan
        ties = int(((scores == lowest) & ~flagged).sum()) if k else 0
        point = OperatingPoint("top_k", float(top_k), lowest, k, 0.0, ties)
    share = point.n_flagged / n if n else math.nan
    return flagged, OperatingPoint(**{**asdict(point), "share_flagged": share})


def _k(top_k: float, n: int) -> int:
    """The number flagged by ``top_k``: a count, or a share of ``n`` rounded up."""
    if 0 < top_k < 1:
        return min(n, int(math.ceil(top_k * n - 1e-9)))
    if top_k >= 1 and float(top_k).is_integer():
        return min(n, int(top_k))
    raise ValueError(
        f"top_k must be a whole number of rows (>= 1) or a share in (0, 1), got {top_k}"
    )


def score_bins(scores: np.ndarray, bins: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Each row's score bin (0 = lowest scores) and the bins' lowest and highest scores.

    Deciles (for ``bins=10``) of the whole population's scores, so every group is binned
    alike; a score on an edge goes to the bin above. A score with at most ``bins`` distinct
    values (e.g. COMPAS deciles 1-10) gets one bin per value.
    """
    distinct = np.unique(scores)
    if distinct.size <= bins:
        which = np.searchsorted(distinct, scores)
    else:
        edges = np.unique(np.quantile(scores, np.linspace(0.0, 1.0, bins + 1))[1:-1])
        which = np.searchsorted(edges, scores, side="right")
    used, which = np.unique(which, return_inverse=True)
    frame = pd.DataFrame({"bin": which, "score": scores}).groupby("bin")["score"]
    table = pd.DataFrame(
        {
            "bin": pd.array(np.arange(used.size) + 1, dtype="Int64"),
            "lowest": frame.min().to_numpy(),
            "highest": frame.max().to_numpy(),
        }
    )
    return which, table
