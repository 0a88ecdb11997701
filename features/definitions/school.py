"""School census features: attendance, school place, free school meals and SEND.

A census row records the child's status on the census date and the attendance of the term
just ended. Children past compulsory school age have no census row: their school features
are missing, not zero.
"""

import numpy as np

from features.pointintime import AsOf
from features.registry import feature


def _attendance(missed: np.ndarray, possible: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(possible > 0, 1.0 - missed / possible, np.nan)


@feature(
    source="school_census",
    window="last term",
    unit="rate",
    direction="protective",
    why="Education is a protective factor (seed 000, L571); absence a risk (004, L56-60)",
    lever="attendance",
    typical=0.95,
)
def attendance_last_term(asof: AsOf) -> np.ndarray:
    """Attendance over the last school term."""
    missed = asof.latest("school_census", "sessions_missed", months=12)
    possible = asof.latest("school_census", "sessions_possible", months=12)
    return _attendance(missed, possible)


@feature(
    source="school_census",
    window="12 months",
    unit="rate",
    direction="protective",
    why="Education is a protective factor (seed 000, L571); absence a risk (004, L56-60)",
    lever="attendance",
    typical=0.95,
)
def attendance_12m(asof: AsOf) -> np.ndarray:
    """Attendance over the last 12 months."""
    missed = asof.total("school_census", "sessions_missed", months=12)
    possible = asof.total("school_census", "sessions_possible", months=12)
    return _attendance(missed, possible)


@feature(
    source="school_census",
    window="last two terms",
    unit="points",
    direction="protective",
    why="Falling attendance is the early sign of persistent absence (seed 004, L56-60)",
    lever="attendance",
    typical=0.0,
)
def attendance_change(asof: AsOf) -> np.ndarray:
    """Change in attendance from the term before to the last term."""
    now = attendance_last_term(asof)
    missed = asof.latest("school_census", "sessions_missed", months=12, skip=1)
    possible = asof.latest("school_census", "sessions_possible", months=12, skip=1)
    return 100.0 * (now - _attendance(missed, possible))


@feature(
    source="school_census",
    window="12 months",
    unit="rate",
    direction="raises",
    why="Persistent absence is a named risk factor (seed 004, L56-60); education protects (000, L571)",
    lever="attendance",
    typical=0.02,
)
def unauthorised_absence_12m(asof: AsOf) -> np.ndarray:
    """Share of school sessions missed without authorisation in the last 12 months."""
    unauthorised = asof.total("school_census", "sessions_unauthorised", months=12)
    possible = asof.total("school_census", "sessions_possible", months=12)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(possible > 0, unauthorised / possible, np.nan)


@feature(
    source="school_census",
    window="12 months",
    unit="flag",
    direction="raises",
    why="Persistent absence is a named risk factor (seed 004, L56-60); education protects (000, L571)",
    no="Not persistently absent over the last 12 months",
    lever="attendance",
    typical=0.0,
)
def persistently_absent_12m(asof: AsOf) -> np.ndarray:
    """Persistently absent (attendance below 90%) over the last 12 months."""
    attendance = attendance_12m(asof)
    return np.where(np.isnan(attendance), np.nan, (attendance < 0.9).astype(float))


@feature(
    source="school_census",
    window="at the last census",
    unit="flag",
    direction="raises",
    why="Poverty and family unemployment are named risk factors (seed 004, L56-60)",
    no="Not eligible for free school meals",
)
def fsm_eligible(asof: AsOf) -> np.ndarray:
    """Eligible for free school meals."""
    return asof.latest("school_census", "fsm_eligible", months=12)


@feature(
    source="school_census",
    window="at the last census",
    unit="flag",
    sensitive=True,
    direction="raises",
    why="Special educational needs are a named risk factor (seed 004, L56-60)",
    no="Does not receive SEN support at school",
)
def sen_support(asof: AsOf) -> np.ndarray:
    """Receives SEN support at school."""
    return asof.latest_is("school_census", "sen_status", "sen_support", months=12)


@feature(
    source="school_census",
    window="at the last census",
    unit="flag",
    sensitive=True,
    direction="raises",
    why="Special educational needs are a named risk factor (seed 004, L56-60)",
    no="Does not have an education, health and care plan",
)
def ehcp(asof: AsOf) -> np.ndarray:
    """Has an education, health and care plan."""
    return asof.latest_is("school_census", "sen_status", "ehcp", months=12)


@feature(
    source="school_census",
    window="at the last census",
    unit="flag",
    direction="either",
    why="Raises the need a placement answers but ends exclusion from a mainstream roll: no one direction",
    no="Not placed in alternative provision",
)
def alternative_provision(asof: AsOf) -> np.ndarray:
    """Placed in alternative provision."""
    return asof.latest("school_census", "alternative_provision", months=12)


@feature(
    source="school_census",
    window="at the last census",
    unit="flag",
    direction="either",
    why="Out of school, yet a home-educated child cannot be excluded: no one direction",
    no="Not electively home educated",
)
def elective_home_education(asof: AsOf) -> np.ndarray:
    """Electively home educated."""
    return asof.latest("school_census", "elective_home_education", months=12)


@feature(
    source="school_census",
    window="at the last census",
    unit="flag",
    direction="either",
    why="Out of school, yet a child on no roll cannot be excluded: no one direction",
    no="On a school roll at the last census",
)
def off_roll(asof: AsOf) -> np.ndarray:
    """Not on a school roll at the last census."""
    on_roll = asof.latest("school_census", "on_roll", months=12)
    return 1.0 - on_roll


@feature(
    source="school_census",
    window="24 months",
    unit="count",
    direction="raises",
    why="Domain knowledge: moves break the ties school gives (seed 000, L571) and follow concern",
)
def school_moves_24m(asof: AsOf) -> np.ndarray:
    """School moves in the last 24 months."""
    rows = asof.rows("school_census", months=24)
    child = rows["_child"].to_numpy()
    school = rows["school_id"].to_numpy()
    order = np.lexsort((rows["term_start"].to_numpy(), child))
    child, school = child[order], school[order]
    moved = (child[1:] == child[:-1]) & (school[1:] != school[:-1])
    moves = np.bincount(child[1:][moved], minlength=asof.records.n_children).astype(float)
    seen = np.bincount(child, minlength=asof.records.n_children) > 0
    return np.where(seen, moves, np.nan)[asof.cohort]
