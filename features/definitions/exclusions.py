"""Exclusion features: suspensions and permanent exclusions from school."""

import numpy as np

from features.pointintime import AsOf
from features.registry import feature


@feature(
    source="exclusions",
    window="12 months",
    unit="count",
    direction="raises",
    why="Exclusion from mainstream school is a named risk factor (seed 004, L56-60)",
    lever="suspensions",
    typical=0.0,
)
def suspensions_12m(asof: AsOf) -> np.ndarray:
    """Suspensions from school in the last 12 months."""
    return asof.count("exclusions", months=12, kind="suspension")


@feature(
    source="exclusions",
    window="12 to 24 months ago",
    unit="count",
    direction="raises",
    why="Exclusion from mainstream school is a named risk factor (seed 004, L56-60)",
)
def suspensions_prior_year(asof: AsOf) -> np.ndarray:
    """Suspensions from school in the year before the last 12 months."""
    return asof.count("exclusions", months=24, kind="suspension") - suspensions_12m(asof)


@feature(
    source="exclusions",
    window="12 months",
    unit="days",
    direction="raises",
    why="Exclusion from mainstream school is a named risk factor (seed 004, L56-60)",
    lever="suspensions",
    typical=0.0,
)
def suspension_days_12m(asof: AsOf) -> np.ndarray:
    """School days lost to suspension in the last 12 months."""
    days = asof.total("exclusions", "days", months=12, kind="suspension")
    return np.nan_to_num(days, nan=0.0)


@feature(
    source="exclusions",
    window="ever",
    unit="months",
    direction="protective",
    why="The longer since a suspension, the less it says about now: risk is fluid (seed 004, L64)",
)
def months_since_suspension(asof: AsOf) -> np.ndarray:
    """Months since the most recent suspension from school."""
    return asof.months_since_latest("exclusions", kind="suspension")


@feature(
    source="exclusions",
    window="ever",
    unit="flag",
    direction="raises",
    why="Excluded and alternative-provision pupils are a named risk group (seed 004, L56-60)",
    no="Has never been permanently excluded from a school",
)
def permanently_excluded_ever(asof: AsOf) -> np.ndarray:
    """Has been permanently excluded from a school."""
    return asof.any("exclusions", kind="permanent")
