"""Participation features for young people aged 16-17 (CCIS monthly activity)."""

import numpy as np

from features.pointintime import AsOf
from features.registry import feature


@feature(
    source="education_status",
    window="at the last check",
    unit="flag",
    direction="raises",
    why="Risk of NEET is a named risk factor; NEET now is the best sign of NEET later (seed 004, L56-60)",
    no="In education, employment or training at the last monthly check",
    lever="neet",
    typical=0.0,
)
def neet_now(asof: AsOf) -> np.ndarray:
    """Not in education, employment or training at the last monthly check."""
    return asof.latest_is("education_status", "activity", "NEET", months=3)


@feature(
    source="education_status",
    window="at the last check",
    unit="flag",
    direction="raises",
    why="Domain knowledge: a young person the careers service cannot reach is often NEET",
    no="Activity known to the careers service at the last monthly check",
    lever="neet",
    typical=0.0,
)
def activity_not_known_now(asof: AsOf) -> np.ndarray:
    """Activity not known to the careers service at the last monthly check."""
    return asof.latest_is("education_status", "activity", "not_known", months=3)


@feature(
    source="education_status",
    window="12 months",
    unit="count",
    direction="raises",
    why="The longer NEET, the likelier to stay NEET (seed 004, L56-60)",
)
def neet_months_12m(asof: AsOf) -> np.ndarray:
    """Months not in education, employment or training in the last 12 months."""
    months = asof.count("education_status", months=12, activity="NEET")
    checked = asof.count("education_status", months=12)
    return np.where(checked > 0, months, np.nan)
