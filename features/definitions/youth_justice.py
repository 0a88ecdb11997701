"""Youth justice features: out-of-court and court outcomes."""

import numpy as np

from features.pointintime import AsOf
from features.registry import feature


@feature(source="youth_justice", window="24 months", unit="count")
def youth_justice_outcomes_24m(asof: AsOf) -> np.ndarray:
    """Youth justice outcomes in the last 24 months."""
    return asof.count("youth_justice", months=24)


@feature(source="youth_justice", window="12 months", unit="count")
def community_resolutions_12m(asof: AsOf) -> np.ndarray:
    """Community resolutions in the last 12 months."""
    return asof.count("youth_justice", months=12, outcome="community_resolution")


@feature(source="youth_justice", window="ever", unit="flag")
def caution_or_conviction_ever(asof: AsOf) -> np.ndarray:
    """Has had a caution or a court outcome."""
    return asof.any("youth_justice", outcome=("caution", "court_order", "custody"))


@feature(source="youth_justice", window="ever", unit="flag")
def custody_ever(asof: AsOf) -> np.ndarray:
    """Has been in custody."""
    return asof.any("youth_justice", outcome="custody")
