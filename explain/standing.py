"""Where a child's estimate stands: its fixed band, what that means, and its rank in the cohort.

Bands
-----
Five fixed bands, with edges read as "1 in N": under 1 in 100; 1 in 100 to 1 in 20; 1 in 20
to 1 in 8; 1 in 8 to 1 in 3; over 1 in 3. Both outcomes are rare (a base rate of about 1-3%
a year), so the lowest band sits below the average child, the second spans the average, and
the upper three separate the few children a team has capacity to see. Each band is 2.5 to 5
times the one below, so a calibration error of tens of percent moves a child one band at
most, and "1 in N" edges are fractions people read well. Within a band, the meaning sentence
gives the child's own frequency, rounded to a friendly N.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from explain import wording

BAND_EDGES = (100, 20, 8, 3)
"""Band edges as "1 in N", lowest probability first (see the module docstring)."""

TIE_TOLERANCE = 1e-12
"""Cohort scores this close to the child's count as ties, not as higher."""


@dataclass(frozen=True)
class Band:
    """A fixed probability band and what the child's probability means within it."""

    name: str
    low: float
    high: float
    meaning: str

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {"name": self.name, "low": self.low, "high": self.high, "meaning": self.meaning}


@dataclass(frozen=True)
class Rank:
    """The child's place among the partnership's children at the same snapshot."""

    position: int
    cohort_size: int
    percent_higher: float
    meaning: str

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return {
            "position": self.position,
            "cohort_size": self.cohort_size,
            "percent_higher": round(self.percent_higher, 2),
            "meaning": self.meaning,
        }


def frequency_words(probability: float) -> str:
    """How often the outcome follows, in friendly words: "about 1 in 8", "about 4 in 10"."""
    p = float(probability)
    if p > 0.95:
        return wording.FREQUENCY_MOST
    if p >= 0.3:
        return wording.FREQUENCY_TENTHS.format(k=math.floor(10 * p + 0.5))
    if p < 1 / 1000:
        return wording.FREQUENCY_RARE.format(n=1000)
    n = 1 / p
    step = 1 if n < 20 else 5 if n < 100 else 10
    return wording.FREQUENCY_ONE_IN.format(n=max(2, step * math.floor(n / step + 0.5)))


def band_for(probability: float, window_months: int = 12) -> Band:
    """The fixed band a calibrated probability falls in, with its meaning sentence.

    Parameters
    ----------
    probability : float
        Calibrated probability of the outcome within the window.
    window_months : int, default 12
        The outcome's window, for the meaning sentence.

    Returns
    -------
    Band
    """
    p = float(probability)
    if not 0.0 <= p <= 1.0:
        raise ValueError(
            f"probability {probability!r} is not between 0 and 1: pass a calibrated one"
        )
    meaning = wording.BAND_MEANING.format(frequency=frequency_words(p), months=window_months)
    edges = [1 / n for n in BAND_EDGES]
    if p < edges[0]:
        return Band(wording.BAND_LOWEST.format(n=BAND_EDGES[0]), 0.0, edges[0], meaning)
    for i in range(len(edges) - 1):
        if p < edges[i + 1]:
            name = wording.BAND_BETWEEN.format(low=BAND_EDGES[i], high=BAND_EDGES[i + 1])
            return Band(name, edges[i], edges[i + 1], meaning)
    return Band(wording.BAND_HIGHEST.format(n=BAND_EDGES[-1]), edges[-1], 1.0, meaning)


def rank_in_cohort(
    probability: float, cohort_scores: np.ndarray, snapshot_date, *, checked: bool = False
) -> Rank:
    """The child's position among the cohort's calibrated probabilities (1 = highest).

    Parameters
    ----------
    probability : float
        The child's calibrated probability.
    cohort_scores : np.ndarray
        Every cohort child's calibrated probability at the same snapshot, sorted ascending.
    snapshot_date : date-like
        The snapshot, for the meaning sentence.
    checked : bool, default False
        The caller has already checked that ``cohort_scores`` is sorted and free of NaN
        (a service does it once when it loads the cohort, not on every prompt).

    Returns
    -------
    Rank
        Children tied with this one share its position (the best of the tied places).
    """
    scores = np.asarray(cohort_scores, dtype=float)
    if scores.ndim != 1 or scores.size == 0:
        raise ValueError(
            "the cohort scores are empty or not 1-D: pass every cohort child's calibrated "
            "probability at this snapshot"
        )
    if not checked and (np.isnan(scores).any() or np.any(np.diff(scores) < 0)):
        raise ValueError(
            "the cohort scores must be sorted ascending and hold no NaN: pass np.sort(scores)"
        )
    size = int(scores.size)
    higher = size - int(np.searchsorted(scores, probability + TIE_TOLERANCE, side="right"))
    percent = 100.0 * higher / size
    when = format_date(snapshot_date)
    if higher == 0:
        meaning = wording.RANK_MEANING_TOP.format(size=size, date=when)
    else:
        meaning = wording.RANK_MEANING.format(
            higher=higher,
            size=size,
            date=when,
            verb="has" if higher == 1 else "have",
            percent=f"{percent:.1f}%" if percent >= 0.1 else "under 0.1%",
        )
    return Rank(position=higher + 1, cohort_size=size, percent_higher=percent, meaning=meaning)


def format_date(value) -> str:
    """A date as a person reads it: "1 September 2025"."""
    return _format_timestamp(pd.Timestamp(value))


@functools.lru_cache(maxsize=256)
def _format_timestamp(t: pd.Timestamp) -> str:
    return f"{t.day} {t:%B %Y}"


def iso_date(value) -> str:
    """A date as ``YYYY-MM-DD``."""
    return f"{pd.Timestamp(value):%Y-%m-%d}"
