"""Police features: missing episodes, searches, and records as a victim or a suspect.

Victim and suspect records are kept apart, so a prompt says whether a child was harmed or
is thought to have harmed others.
"""

import numpy as np

from features.pointintime import AsOf
from features.registry import feature


@feature(
    source="police",
    window="12 months",
    unit="count",
    direction="raises",
    why="Going missing from home or care is a named risk factor (seed 004, L56-60)",
    lever="missing",
    typical=0.0,
)
def missing_episodes_12m(asof: AsOf) -> np.ndarray:
    """Times reported missing to the police in the last 12 months."""
    return asof.count("police", months=12, role="missing_person")


@feature(
    source="police",
    window="3 months",
    unit="count",
    direction="raises",
    why="Going missing from home or care is a named risk factor (seed 004, L56-60)",
    lever="missing",
    typical=0.0,
)
def missing_episodes_3m(asof: AsOf) -> np.ndarray:
    """Times reported missing to the police in the last 3 months."""
    return asof.count("police", months=3, role="missing_person")


@feature(
    source="police",
    window="12 months",
    unit="count",
    direction="raises",
    why="Domain knowledge: stops mark time where violence happens; links to drug activity (seed 004, L56-60)",
)
def stop_search_12m(asof: AsOf) -> np.ndarray:
    """Police stop and search records in the last 12 months."""
    return asof.count("police", months=12, role="stop_search")


@feature(
    source="police",
    window="12 months",
    unit="count",
    direction="raises",
    why="Previous victims of violence are a named risk group (seed 004, L56-60)",
)
def victim_of_crime_12m(asof: AsOf) -> np.ndarray:
    """Recorded by the police as a victim of crime in the last 12 months."""
    return asof.count("police", months=12, role="victim")


@feature(
    source="police",
    window="12 months",
    unit="count",
    direction="raises",
    why="Previous suspects of violence are a named risk group (seed 004, L56-60)",
)
def suspect_12m(asof: AsOf) -> np.ndarray:
    """Recorded by the police as a suspect in the last 12 months."""
    return asof.count("police", months=12, role="suspect")


@feature(
    source="police",
    window="ever",
    unit="count",
    direction="raises",
    why="Previous suspects of violence are a named risk group (seed 004, L56-60)",
)
def suspect_ever(asof: AsOf) -> np.ndarray:
    """Times recorded by the police as a suspect."""
    return asof.count("police", role="suspect")


@feature(
    source="police",
    window="12 months",
    unit="count",
    direction="raises",
    why="Previous victims of serious violence are a named risk group (seed 004, L56-60)",
)
def serious_violence_victim_12m(asof: AsOf) -> np.ndarray:
    """Recorded as a victim of serious violence in the last 12 months."""
    return asof.count("police", months=12, role="victim", serious_violence=True)


@feature(
    source="police",
    window="12 months",
    unit="count",
    direction="raises",
    why="Previous suspects of serious violence are a named risk group (seed 004, L56-60)",
)
def serious_violence_suspect_12m(asof: AsOf) -> np.ndarray:
    """Recorded as a suspect in serious violence in the last 12 months."""
    return asof.count("police", months=12, role="suspect", serious_violence=True)


@feature(
    source="police",
    window="ever",
    unit="flag",
    direction="raises",
    why="Previous victims or suspects of serious violence are a named risk group (seed 004, L56-60)",
    no="Never recorded by the police as harmed by, or suspected of, serious violence",
)
def serious_violence_ever(asof: AsOf) -> np.ndarray:
    """Recorded by the police as harmed by, or suspected of, serious violence."""
    return asof.any("police", serious_violence=True)


@feature(
    source="police",
    window="24 months",
    unit="count",
    direction="raises",
    why="Domain knowledge: carrying or facing a knife is the step before serious injury",
)
def knife_related_24m(asof: AsOf) -> np.ndarray:
    """Police records involving a knife in the last 24 months."""
    return asof.count("police", months=24, knife=True)
