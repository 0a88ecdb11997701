"""Children's social care features: early help, child in need, child protection, looked after.

Episodes are read as they stood on the snapshot date: one that ended later is still open.
"""

import numpy as np

from features.pointintime import AsOf
from features.registry import feature

STATUTORY = ("cin", "cp", "cla")


@feature(source="social_care", window="at the date", unit="flag")
def early_help_open(asof: AsOf) -> np.ndarray:
    """Receiving early help from the partnership."""
    return asof.open_on_date(kind="early_help")


@feature(source="social_care", window="24 months", unit="flag")
def early_help_24m(asof: AsOf) -> np.ndarray:
    """Received early help in the last 24 months."""
    return asof.active_within("social_care", 24, kind="early_help")


@feature(source="social_care", window="at the date", unit="flag")
def child_in_need_open(asof: AsOf) -> np.ndarray:
    """Open to children's social care as a child in need."""
    return asof.open_on_date(kind="cin")


@feature(source="social_care", window="ever", unit="flag")
def child_in_need_ever(asof: AsOf) -> np.ndarray:
    """Has been a child in need."""
    return asof.any("social_care", kind="cin")


@feature(source="social_care", window="at the date", unit="flag")
def protection_plan_open(asof: AsOf) -> np.ndarray:
    """On a child protection plan."""
    return asof.open_on_date(kind="cp")


@feature(source="social_care", window="ever", unit="flag")
def protection_plan_ever(asof: AsOf) -> np.ndarray:
    """Has been on a child protection plan."""
    return asof.any("social_care", kind="cp")


@feature(source="social_care", window="at the date", unit="flag")
def looked_after_open(asof: AsOf) -> np.ndarray:
    """Looked after by the local authority."""
    return asof.open_on_date(kind="cla")


@feature(source="social_care", window="ever", unit="flag")
def looked_after_ever(asof: AsOf) -> np.ndarray:
    """Has been looked after by the local authority."""
    return asof.any("social_care", kind="cla")


@feature(source="social_care", window="24 months", unit="count")
def social_care_starts_24m(asof: AsOf) -> np.ndarray:
    """Social care episodes started in the last 24 months."""
    return asof.count("social_care", months=24, kind=STATUTORY)


@feature(source="social_care", window="ever", unit="flag")
def domestic_abuse_recorded(asof: AsOf) -> np.ndarray:
    """Domestic abuse recorded at a social care assessment."""
    return asof.any("social_care", category="domestic_abuse")


@feature(source="social_care", window="ever", unit="flag")
def abuse_or_neglect_recorded(asof: AsOf) -> np.ndarray:
    """Abuse or neglect recorded at a social care assessment."""
    return asof.any("social_care", category="abuse_or_neglect")


@feature(source="social_care", window="ever", unit="flag")
def harm_outside_home_recorded(asof: AsOf) -> np.ndarray:
    """Harm outside the home (exploitation or harm from peers) recorded by social care."""
    return asof.any("social_care", category="extra_familial_harm")


@feature(source="social_care", window="ever", unit="flag", sensitive=True)
def mental_health_need_recorded(asof: AsOf) -> np.ndarray:
    """A mental health need recorded at a social care assessment."""
    return asof.any("social_care", category="child_mental_health")


@feature(source="social_care", window="ever", unit="flag", sensitive=True)
def disability_recorded(asof: AsOf) -> np.ndarray:
    """A disability recorded at a social care assessment."""
    return asof.any("social_care", category="child_disability")
