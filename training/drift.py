"""Drift between two periods: population stability index per feature, and base-rate change."""

from __future__ import annotations

import numpy as np
import pandas as pd

PSI_BANDS = ((0.1, "stable"), (0.25, "moderate shift"), (np.inf, "major shift"))
"""Conventional reading of the PSI: under 0.1 stable, 0.1-0.25 moderate, above major."""


def psi(reference: np.ndarray, current: np.ndarray, bins: int = 10, floor: float = 1e-4) -> float:
    """Population stability index of ``current`` against ``reference``.

    Bins are the reference's deciles (fewer where values repeat); missing values are their
    own bin, so a feature that goes missing more often shows as drift.
    """
    reference = np.asarray(reference, dtype=float)
    current = np.asarray(current, dtype=float)
    known = reference[~np.isnan(reference)]
    edges = np.unique(np.quantile(known, np.linspace(0, 1, bins + 1))) if len(known) else []
    inner = edges[1:-1] if len(edges) > 2 else np.array([])

    def shares(values: np.ndarray) -> np.ndarray:
        missing = np.isnan(values)
        counts = np.bincount(
            np.searchsorted(inner, values[~missing], side="right"), minlength=len(inner) + 1
        )
        out = np.append(counts, missing.sum()).astype(float)
        return np.maximum(out / max(len(values), 1), floor)

    ref, cur = shares(reference), shares(current)
    return float(np.sum((cur - ref) * np.log(cur / ref)))


def reading(value: float) -> str:
    """The conventional reading of a PSI value."""
    return next(label for limit, label in PSI_BANDS if value < limit)


def feature_drift(
    reference: pd.DataFrame, current: pd.DataFrame, features: list[str]
) -> pd.DataFrame:
    """PSI of each feature, largest first, with its reading."""
    rows = [
        {"feature": f, "psi": psi(reference[f].to_numpy(float), current[f].to_numpy(float))}
        for f in features
    ]
    frame = pd.DataFrame(rows).sort_values("psi", ascending=False, ignore_index=True)
    frame["reading"] = frame["psi"].map(reading)
    return frame


def base_rate_change(reference: pd.Series, current: pd.Series) -> dict[str, float]:
    """The outcome's base rate in each period and the change in percentage points."""
    before, after = float(reference.mean()), float(current.mean())
    return {"reference": before, "current": after, "change_points": 100 * (after - before)}
