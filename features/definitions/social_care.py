"""Children's social care features: early help, child in need, child protection, looked after.

Episodes are read as they stood on the snapshot date: one that ended later is still open.
"""

import numpy as np

from features.pointintime import AsOf
from features.registry import feature

STATUTORY = ("cin", "cp", "cla")


@feature(
    source="social_care",
    window="at the date",
    unit="flag",
    direction="raises",
    why="Early help answers needs in the family, which are risk factors (seed 004, L56-60)",
    no="Not receiving early help from the partnership",
)
def early_help_open(asof: AsOf) -> np.ndarray:
    """Receiving early help from the partnership."""
    return asof.open_on_date(kind="early_help")


@feature(
    source="social_care",
    window="24 months",
    unit="flag",
    direction="raises",
    why="Early help answers needs in the family, which are risk factors (seed 004, L56-60)",
    no="Has not received early help in the last 24 months",
)
def early_help_24m(asof: AsOf) -> np.ndarray:
    """Received early help in the last 24 months."""
    return asof.active_within("social_care", 24, kind="early_help")


@feature(
    source="social_care",
    window="at the date",
    unit="flag",
    direction="raises",
    why="Most children involved in serious violence had a social care history (seed 002, L496)",
    no="Not open to children's social care as a child in need",
)
def child_in_need_open(asof: AsOf) -> np.ndarray:
    """Open to children's social care as a child in need."""
    return asof.open_on_date(kind="cin")


@feature(
    source="social_care",
    window="ever",
    unit="flag",
    direction="raises",
    why="Most children involved in serious violence had a social care history (seed 002, L496)",
    no="Has never been a child in need",
)
def child_in_need_ever(asof: AsOf) -> np.ndarray:
    """Has been a child in need."""
    return asof.any("social_care", kind="cin")


@feature(
    source="social_care",
    window="at the date",
    unit="flag",
    direction="raises",
    why="Two in five of the YOT cohort had been on a protection plan (seed 002, L478)",
    no="Not on a child protection plan",
)
def protection_plan_open(asof: AsOf) -> np.ndarray:
    """On a child protection plan."""
    return asof.open_on_date(kind="cp")


@feature(
    source="social_care",
    window="ever",
    unit="flag",
    direction="raises",
    why="Two in five of the YOT cohort had been on a protection plan (seed 002, L478)",
    no="Has never been on a child protection plan",
)
def protection_plan_ever(asof: AsOf) -> np.ndarray:
    """Has been on a child protection plan."""
    return asof.any("social_care", kind="cp")


@feature(
    source="social_care",
    window="at the date",
    unit="flag",
    direction="raises",
    why="Nearly half of the YOT cohort had been looked after (seed 002, L496; 003, L145)",
    no="Not looked after by the local authority",
)
def looked_after_open(asof: AsOf) -> np.ndarray:
    """Looked after by the local authority."""
    return asof.open_on_date(kind="cla")


@feature(
    source="social_care",
    window="ever",
    unit="flag",
    direction="raises",
    why="Nearly half of the YOT cohort had been looked after (seed 002, L496; 003, L145)",
    no="Has never been looked after by the local authority",
)
def looked_after_ever(asof: AsOf) -> np.ndarray:
    """Has been looked after by the local authority."""
    return asof.any("social_care", kind="cla")


@feature(
    source="social_care",
    window="24 months",
    unit="count",
    direction="raises",
    why="Repeated social care episodes mark needs that persist (seed 002, L496)",
)
def social_care_starts_24m(asof: AsOf) -> np.ndarray:
    """Social care episodes started in the last 24 months."""
    return asof.count("social_care", months=24, kind=STATUTORY)


@feature(
    source="social_care",
    window="ever",
    unit="flag",
    direction="raises",
    why="Domestic abuse at home is a named risk factor (seed 004, L56-60; 002, L474)",
    no="No domestic abuse recorded at a social care assessment",
)
def domestic_abuse_recorded(asof: AsOf) -> np.ndarray:
    """Domestic abuse recorded at a social care assessment."""
    return asof.any("social_care", category="domestic_abuse")


@feature(
    source="social_care",
    window="ever",
    unit="flag",
    direction="raises",
    why="Neglect is a named risk factor (seed 004, L56-60)",
    no="No abuse or neglect recorded at a social care assessment",
)
def abuse_or_neglect_recorded(asof: AsOf) -> np.ndarray:
    """Abuse or neglect recorded at a social care assessment."""
    return asof.any("social_care", category="abuse_or_neglect")


@feature(
    source="social_care",
    window="ever",
    unit="flag",
    direction="raises",
    why="Harm outside the family marked a third of the YOT cohort (seed 002, L484)",
    no="No harm outside the home recorded by social care",
)
def harm_outside_home_recorded(asof: AsOf) -> np.ndarray:
    """Harm outside the home (exploitation or harm from peers) recorded by social care."""
    return asof.any("social_care", category="extra_familial_harm")


@feature(
    source="social_care",
    window="ever",
    unit="flag",
    sensitive=True,
    direction="raises",
    why="Most of the YOT cohort had recorded mental health needs (seed 002, L512)",
    no="No mental health need recorded at a social care assessment",
)
def mental_health_need_recorded(asof: AsOf) -> np.ndarray:
    """A mental health need recorded at a social care assessment."""
    return asof.any("social_care", category="child_mental_health")


@feature(
    source="social_care",
    window="ever",
    unit="flag",
    sensitive=True,
    direction="either",
    why="Under-recorded and varied in kind (seed 000, L137-145): no one direction",
    no="No disability recorded at a social care assessment",
)
def disability_recorded(asof: AsOf) -> np.ndarray:
    """A disability recorded at a social care assessment."""
    return asof.any("social_care", category="child_disability")
