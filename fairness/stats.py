"""Small statistics shared by the fairness audit and training's metrics: safe ratios, cumulative
sums, percentile and Wilson intervals. One copy, here at the bottom floor."""

from __future__ import annotations

import numpy as np

Z95 = 1.959963984540054
"""The standard normal quantile for a two-sided 95% interval."""


def cumsum0(a: np.ndarray, axis: int = 0) -> np.ndarray:
    """Cumulative sums along ``axis`` with a leading zero: index ``i`` sums the first ``i``."""
    a = np.moveaxis(np.asarray(a, dtype=float), axis, 0)
    out = np.zeros((a.shape[0] + 1, *a.shape[1:]))
    np.cumsum(a, axis=0, out=out[1:])
    return np.moveaxis(out, 0, axis)


def ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """``num / den``, NaN where ``den`` is 0 (an undefined rate, not an infinite one)."""
    num, den = np.broadcast_arrays(np.asarray(num, dtype=float), np.asarray(den, dtype=float))
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den != 0)
    return out


def percentile_interval(values: np.ndarray, level: float) -> tuple[np.ndarray, np.ndarray]:
    """The central ``level`` percentile interval along the last axis, ignoring NaN.

    Equal to ``np.nanpercentile(values, [tail, 100 - tail], axis=-1)`` with linear
    interpolation, but vectorised (``nanpercentile`` loops in Python over rows with NaN).
    Rows with no defined value give NaN.
    """
    values = np.asarray(values, dtype=float)
    if values.shape[-1] == 0:
        empty = np.full(values.shape[:-1], np.nan)
        return empty, empty.copy()
    ordered = np.sort(values, axis=-1)  # NaN sorts last
    k = np.sum(~np.isnan(values), axis=-1, keepdims=True)
    tail = (1.0 - level) / 2.0
    bounds = []
    for q in (tail, 1.0 - tail):
        h = np.maximum(k - 1, 0) * q
        lo = np.floor(h).astype(int)
        hi = np.minimum(lo + 1, np.maximum(k - 1, 0))
        a = np.take_along_axis(ordered, lo, axis=-1)
        b = np.take_along_axis(ordered, hi, axis=-1)
        t = h - lo
        value = np.where(t >= 0.5, b - (b - a) * (1 - t), a + (b - a) * t)
        bounds.append(np.where(k > 0, value, np.nan)[..., 0])
    return bounds[0], bounds[1]


def wilson_interval(events, n, z: float = Z95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for ``events`` out of ``n`` (arrays, ``n`` > 0)."""
    events = np.asarray(events, dtype=float)
    n = np.asarray(n, dtype=float)
    rate = events / n
    denom = 1.0 + z**2 / n
    centre = (rate + z**2 / (2 * n)) / denom
    half = z / denom * np.sqrt(rate * (1 - rate) / n + z**2 / (4 * n**2))
    # Rounding can put a bound a hair past the rate (0 events: low ~ +1e-17); it never should.
    low = np.minimum(np.clip(centre - half, 0.0, 1.0), rate)
    high = np.maximum(np.clip(centre + half, 0.0, 1.0), rate)
    return low, high
