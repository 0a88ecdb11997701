"""Who an outcome can happen to, and the ages its headline figures are measured within.

NEET is possible only from 16 and permanent exclusion only while a child is at school, so a
score can rank 10-17 year olds well on such an outcome by their age alone. Lantern's headline
AUC is therefore measured within each year of age and pooled, weighted by each year's
positives (:func:`within_age_auc`): a score that knows only the child's age earns exactly 0.5
on it. This module holds that one definition; the synthetic partnership's report and training
both use it (training through a vectorised equivalent that its tests compare with this one).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score

AGE_BANDS: tuple[tuple[int, int], ...] = ((10, 13), (14, 15), (16, 17))
"""The age bands figures are also reported by (inclusive, in whole years at the snapshot)."""


def band_label(band: tuple[int, int]) -> str:
    """``(10, 13)`` as ``"10-13"``."""
    return f"{band[0]}-{band[1]}"


def age_bands(ages, bands: tuple[tuple[int, int], ...] = AGE_BANDS) -> np.ndarray:
    """Each age's band label (:func:`band_label`) by its whole year, ``""`` for an age in no
    band or not known."""
    ages = np.floor(np.asarray(ages, dtype=float))
    labels = np.full(ages.shape, "", dtype=object)
    for band in bands:
        labels[(ages >= band[0]) & (ages <= band[1])] = band_label(band)
    return labels


def age_strata(ages) -> np.ndarray:
    """The stratum of each row for :func:`within_age_auc`: its whole year of age (-1 if
    not known)."""
    ages = np.asarray(ages, dtype=float)
    return np.where(np.isfinite(ages), np.floor(np.nan_to_num(ages, nan=-1.0)), -1).astype(int)


def within_age_auc(y, p, ages) -> float:
    """ROC AUC within each year of age, pooled with each year's positives as weights.

    A year with no positive or no negative adds nothing (it cannot rank anyone); rows of
    unknown age are left out. NaN when no year can be ranked.

    Parameters
    ----------
    y : array-like of {0, 1}
        Outcomes.
    p : array-like of float
        Scores; higher means more likely.
    ages : array-like of float
        Age in years at the snapshot; the whole year is the stratum.
    """
    y, p = np.asarray(y, dtype=float), np.asarray(p, dtype=float)
    strata = age_strata(ages)
    aucs, weights = [], []
    for stratum in np.unique(strata[strata >= 0]):
        rows = strata == stratum
        positives = y[rows].sum()
        if 0 < positives < rows.sum():
            aucs.append(roc_auc_score(y[rows], p[rows]))
            weights.append(positives)
    return float(np.average(aucs, weights=weights)) if aucs else float("nan")
