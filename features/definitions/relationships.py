"""Sibling and peer features: risk that a child's family and friends share.

Missing (not zero) where the partnership holds no sibling or peer links.
"""

import numpy as np

from features.pointintime import AsOf
from features.registry import feature


def _serious_violence_12m(asof: AsOf) -> np.ndarray:
    police = asof.count("police", months=12, everyone=True, serious_violence=True)
    ed = asof.count(
        "health", months=12, everyone=True, setting="emergency_department", assault_related=True
    )
    return police + ed


@feature(
    source="relationships",
    window="12 months",
    unit="flag",
    direction="raises",
    why="Partners stress siblings and peer groups (seed 004, L64-68)",
    no="No brother or sister harmed by, or involved in, serious violence in the last 12 months",
)
def sibling_serious_violence_12m(asof: AsOf) -> np.ndarray:
    """A brother or sister harmed by, or involved in, serious violence in the last 12 months."""
    return asof.linked_any(_serious_violence_12m(asof), "sibling")


@feature(
    source="relationships",
    window="12 months",
    unit="flag",
    direction="raises",
    why="Partners stress siblings and peer groups (seed 004, L64-68)",
    no="No close peer harmed by, or involved in, serious violence in the last 12 months",
)
def peer_serious_violence_12m(asof: AsOf) -> np.ndarray:
    """A close peer harmed by, or involved in, serious violence in the last 12 months."""
    return asof.linked_any(_serious_violence_12m(asof), "peer")


@feature(
    source="relationships",
    window="12 months",
    unit="flag",
    direction="raises",
    why="Partners stress siblings and peer groups (seed 004, L64-68)",
    no="No close peer recorded by the police as a suspect in the last 12 months",
)
def peer_suspect_12m(asof: AsOf) -> np.ndarray:
    """A close peer recorded by the police as a suspect in the last 12 months."""
    return asof.linked_any(asof.count("police", months=12, everyone=True, role="suspect"), "peer")


@feature(
    source="relationships",
    window="at the date",
    unit="flag",
    direction="raises",
    why="Needs in the family are shared by its children (seed 004, L64-68)",
    no="No brother or sister open to children's social care",
)
def sibling_in_care_system(asof: AsOf) -> np.ndarray:
    """A brother or sister open to children's social care."""
    open_statutory = asof.open_on_date(everyone=True, kind=("cin", "cp", "cla"))
    return asof.linked_any(open_statutory, "sibling")
