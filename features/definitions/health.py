"""Health features: emergency department attendances and CAMHS referrals."""

import numpy as np

from features.pointintime import AsOf
from features.registry import feature


@feature(
    source="health",
    window="12 months",
    unit="count",
    direction="raises",
    why="Domain knowledge: injuries and crises bring children to hospital before violence does",
)
def ed_attendances_12m(asof: AsOf) -> np.ndarray:
    """Emergency department attendances in the last 12 months."""
    return asof.count("health", months=12, setting="emergency_department")


@feature(
    source="health",
    window="12 months",
    unit="count",
    direction="raises",
    why="A quarter of victims had attended hospital for a violence injury before (seed 002, L359)",
)
def ed_assault_12m(asof: AsOf) -> np.ndarray:
    """Emergency department attendances for an assault injury in the last 12 months."""
    return asof.count("health", months=12, setting="emergency_department", assault_related=True)


@feature(
    source="health",
    window="ever",
    unit="flag",
    direction="raises",
    why="A quarter of victims had attended hospital for a violence injury before (seed 002, L359)",
    no="Has never attended an emergency department with an assault injury",
)
def ed_assault_ever(asof: AsOf) -> np.ndarray:
    """Has attended an emergency department with an assault injury."""
    return asof.any("health", setting="emergency_department", assault_related=True)


@feature(
    source="health",
    window="24 months",
    unit="flag",
    sensitive=True,
    direction="raises",
    why="Mental health needs are common among children involved in violence (seed 002, L512-514)",
    no="Not referred to child and adolescent mental health services in the last 24 months",
)
def camhs_referral_24m(asof: AsOf) -> np.ndarray:
    """Referred to child and adolescent mental health services in the last 24 months."""
    return asof.any("health", months=24, setting="camhs_referral")
