"""Point estimates with bootstrap intervals, and paired differences between two scores.

:func:`evaluate` measures one score with :mod:`training.metrics`' engine and keeps every
replicate, so that two scores evaluated on the same rows with the same seed can be compared
replicate by replicate (:func:`paired_difference`): the interval of a difference, not two
intervals side by side.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fairness.stats import percentile_interval
from training.metrics import COUNTS, METRICS, bootstrap_replicates, point_metrics

_MLFLOW_NAME = re.compile(r"^[\w./ -]*$")


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
    replicates : dict of str to ndarray
        Each metric's value in each replicate, for paired comparisons
        (:func:`paired_difference`).
    draws : tuple
        What identifies the replicates' draws (rows, replicates, seed, clusters): two
        summaries with equal ``draws`` resampled the same rows the same way.
    """

    point: dict[str, float]
    low: dict[str, float]
    high: dict[str, float]
    n_boot: int
    replicates: dict[str, np.ndarray] = field(default_factory=dict, repr=False, compare=False)
    draws: tuple = field(default=(), repr=False, compare=False)

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
    ages=None,
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
    ages : array-like of float, optional
        Age in years of each row, for the headline ``auc_within_age``.

    Returns
    -------
    MetricSummary
        Interval percentiles skip replicates where a metric is undefined (e.g. AUC of a
        replicate without positives). ECE is biased upwards in small samples and more so in
        resamples, so its interval can sit above the point estimate.
    """
    point = point_metrics(y, p, top_k_share, ages=ages)
    reps = bootstrap_replicates(
        y, p, top_k_share=top_k_share, n_boot=n_boot, seed=seed, groups=groups, ages=ages
    )
    low, high = {}, {}
    for key in METRICS:
        low[key], high[key] = (float(b) for b in percentile_interval(reps[key], level))
    clusters = None if groups is None else pd.util.hash_array(np.asarray(groups).ravel()).sum()
    return MetricSummary(
        point=point,
        low=low,
        high=high,
        n_boot=n_boot,
        replicates=reps,
        draws=(len(np.ravel(y)), n_boot, seed, clusters, level),
    )


@dataclass(frozen=True)
class Difference:
    """One metric of ``a`` minus the same metric of ``b``, on the same rows, with the interval
    of the paired bootstrap (the same replicate of each, differenced).

    Attributes
    ----------
    metric : str
        The metric, a key of :data:`METRICS`.
    point, low, high : float
        The difference and its interval bounds.
    """

    metric: str
    point: float
    low: float
    high: float

    @property
    def reading(self) -> str:
        """``"higher"`` or ``"lower"`` when the interval excludes 0, else ``"within noise"``."""
        if self.low > 0:
            return "higher"
        if self.high < 0:
            return "lower"
        return "within noise"

    def format(self, digits: int = 3) -> str:
        """E.g. ``"+0.051 (+0.032 to +0.070)"``."""

        def fmt(value: float) -> str:
            return "n/a" if math.isnan(value) else f"{value:+.{digits}f}"

        return f"{fmt(self.point)} ({fmt(self.low)} to {fmt(self.high)})"


def paired_difference(a: MetricSummary, b: MetricSummary, metric: str) -> Difference:
    """``a - b`` on ``metric`` with its paired-bootstrap interval.

    Raises
    ------
    ValueError
        If the two summaries were not resampled the same way (other rows, replicates, seed
        or clusters): their replicates cannot be paired.
    """
    if not a.draws or a.draws != b.draws:
        raise ValueError(
            "these summaries were not bootstrapped on the same rows with the same seed; "
            "evaluate both scores with one call's y, n_boot, seed and groups to compare them"
        )
    level = a.draws[-1]
    low, high = percentile_interval(a.replicates[metric] - b.replicates[metric], level)
    return Difference(metric, a.point[metric] - b.point[metric], float(low), float(high))
