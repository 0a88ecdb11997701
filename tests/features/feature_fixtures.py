"""Shared by the feature tests: tiny hand-built partnerships, a calendar-month helper, and the
size and seed of the small synthetic partnership."""

from __future__ import annotations

import calendar
import functools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

SYNTH_CHILDREN = 600
"""Children in the small synthetic partnership the tests share (about a second to generate)."""

SYNTH_SEED = 11
"""Its seed."""

COLUMNS = {
    "school_census": {
        "child_id": "str",
        "term_start": "datetime64[ns]",
        "school_id": "str",
        "fsm_eligible": "bool",
        "sen_status": "str",
        "sessions_possible": "int64",
        "sessions_missed": "int64",
        "sessions_unauthorised": "int64",
        "on_roll": "bool",
        "alternative_provision": "bool",
        "elective_home_education": "bool",
    },
    "exclusions": {
        "child_id": "str",
        "date": "datetime64[ns]",
        "kind": "str",
        "days": "float64",
        "reason": "str",
    },
    "social_care": {
        "child_id": "str",
        "kind": "str",
        "start": "datetime64[ns]",
        "end": "datetime64[ns]",
        "category": "str",
    },
    "police": {
        "child_id": "str",
        "date": "datetime64[ns]",
        "role": "str",
        "offence_group": "str",
        "serious_violence": "bool",
        "knife": "bool",
    },
    "health": {
        "child_id": "str",
        "date": "datetime64[ns]",
        "setting": "str",
        "assault_related": "bool",
    },
    "youth_justice": {"child_id": "str", "date": "datetime64[ns]", "outcome": "str"},
    "education_status": {"child_id": "str", "month": "datetime64[ns]", "activity": "str"},
}
"""Each event table's columns and in-memory types, as in the data contract."""

DEFAULTS = {
    "school_census": {
        "school_id": "URN100001",
        "fsm_eligible": False,
        "sen_status": "none",
        "sessions_possible": 120,
        "sessions_missed": 0,
        "sessions_unauthorised": 0,
        "on_roll": True,
        "alternative_provision": False,
        "elective_home_education": False,
    },
    "exclusions": {"kind": "suspension", "days": 1.0, "reason": "other"},
    "social_care": {"kind": "cin", "end": pd.NaT, "category": "domestic_abuse"},
    "police": {
        "role": "suspect",
        "offence_group": "theft",
        "serious_violence": False,
        "knife": False,
    },
    "health": {"setting": "emergency_department", "assault_related": False},
    "youth_justice": {"outcome": "caution"},
    "education_status": {"activity": "EET"},
}
"""Values a hand-built row takes for the columns a test does not set."""


def child_ids(n: int) -> list[str]:
    """``C000``, ``C001``, ... for ``n`` children."""
    return [f"C{i:03d}" for i in range(n)]


@functools.cache
def _empty(table: str) -> pd.DataFrame:
    columns = COLUMNS[table]
    return pd.DataFrame({c: pd.Series([], dtype=d) for c, d in columns.items()})


def rows(table: str, records: Sequence[Mapping[str, object]]) -> pd.DataFrame:
    """A frame of ``table`` from row dicts; unset columns take :data:`DEFAULTS`."""
    if not records:
        return _empty(table).copy()
    columns = COLUMNS[table]
    data = {
        column: [row.get(column, DEFAULTS[table].get(column)) for row in records]
        for column in columns
    }
    frame = pd.DataFrame(data, columns=list(columns))
    return frame.astype(columns)


def children(birth_months: Sequence[str | pd.Timestamp]) -> pd.DataFrame:
    """A children table, one child per birth month, ids from :func:`child_ids`."""
    n = len(birth_months)
    return pd.DataFrame(
        {
            "child_id": pd.Series(child_ids(n), dtype="str"),
            "birth_month": pd.to_datetime(list(birth_months)).astype("datetime64[ns]"),
            "sex": pd.Series(["F", "M"] * n, dtype="str")[:n],
            "ethnicity": pd.Series(["White"] * n, dtype="str"),
            "area": pd.Series([f"E0100000{i % 2}" for i in range(n)], dtype="str"),
        }
    )


def tables(
    birth_months: Sequence[str | pd.Timestamp], **event_rows: Sequence[Mapping[str, object]]
) -> dict[str, pd.DataFrame]:
    """A whole partnership: children and every event table (empty unless rows are given)."""
    out = {"children": children(birth_months)}
    for table in COLUMNS:
        out[table] = rows(table, event_rows.get(table, []))
    return out


def shift_months(t: pd.Timestamp, months: int) -> pd.Timestamp:
    """``t`` moved by calendar months, the day clipped to the month's end (brute force)."""
    index = t.year * 12 + (t.month - 1) + months
    year, month0 = divmod(index, 12)
    day = min(t.day, calendar.monthrange(year, month0 + 1)[1])
    return pd.Timestamp(year, month0 + 1, day)


def born_aged(t: pd.Timestamp, years: int) -> pd.Timestamp:
    """A birth month that makes a child exactly ``years`` old (in whole years) on ``t``."""
    return pd.Timestamp(t.year - years, t.month, 1)


def as_float(values) -> np.ndarray:
    """Values as a float array, for comparisons with NaN."""
    return np.asarray(values, dtype=float)
