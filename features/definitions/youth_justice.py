"""Youth justice features: out-of-court and court outcomes."""

import numpy as np

from features.pointintime import AsOf
from features.registry import feature


@feature(
    source="youth_justice",
    window="24 months",
    unit="count",
    direction="raises",
    why="Previous suspects of violence are a named risk group (seed 004, L56-60)",
)
def youth_justice_outcomes_24m(asof: AsOf) -> np.ndarray:
    """Youth justice outcomes in the last 24 months."""
    return asof.count("youth_justice", months=24)


@feature(
    source="youth_justice",
    window="12 months",
    unit="count",
    direction="raises",
    why="Previous suspects of violence are a named risk group (seed 004, L56-60)",
)
def community_resolutions_12m(asof: AsOf) -> np.ndarray:
    """Community resolutions in the last 12 months."""
    return asof.count("youth_justice", months=12, outcome="community_resolution")


@feature(
    source="youth_justice",
    window="ever",
    unit="flag",
    direction="raises",
    why="Previous suspects of violence are a named risk group (seed 004, L56-60; 003, L145)",
    no="Has never had a caution or a court outcome",
)
def caution_or_conviction_ever(asof: AsOf) -> np.ndarray:
    """Has had a caution or a court outcome."""
    return asof.any("youth_justice", outcome=("caution", "court_order", "custody"))


@feature(
    source="youth_justice",
    window="ever",
    unit="flag",
    direction="raises",
    why="Domain knowledge: custody follows the most serious involvement and breaks education",
    no="Has never been in custody",
)
def custody_ever(asof: AsOf) -> np.ndarray:
    """Has been in custody."""
    return asof.any("youth_justice", outcome="custody")
