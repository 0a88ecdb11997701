"""Neighbourhood features, from the child's area code; and age."""

import numpy as np

from features.definitions.relationships import _serious_violence_12m
from features.pointintime import AsOf
from features.registry import feature


# Context, never a reason: who the outcome can happen to (NEET from 16), not a finding.
@feature(
    source="children",
    window="at the date",
    unit="years",
    context=True,
    direction="either",
    why="Context, never a reason: who the outcome can happen to (NEET from 16)",
)
def age_years(asof: AsOf) -> np.ndarray:
    """Age in years."""
    return asof.age


@feature(
    source="area",
    window="12 months",
    unit="rate",
    direction="raises",
    why="Knife-crime victimisation is 6 times higher in the most vulnerable areas (seed 002, L217)",
)
def area_serious_violence_12m(asof: AsOf) -> np.ndarray:
    """Share of children in the neighbourhood involved in serious violence in the last year."""
    involved = (_serious_violence_12m(asof) > 0).astype(float)
    return asof.area_mean(involved)


@feature(
    source="area",
    window="at the last census",
    unit="rate",
    direction="raises",
    why="Poverty is a named risk factor (seed 004, L56-60)",
)
def area_free_school_meals(asof: AsOf) -> np.ndarray:
    """Share of children in the neighbourhood eligible for free school meals."""
    fsm = asof.latest("school_census", "fsm_eligible", months=12, everyone=True)
    return asof.area_mean(fsm, among=~np.isnan(fsm))
