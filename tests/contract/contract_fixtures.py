"""Shared by the contract tests: a small, hand-made valid set of extracts, and a file editor."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

TODAY = date(2025, 6, 30)
"""The day the hand-made extracts are judged on."""


def _dates(*values: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values), format="%Y-%m-%d")).astype("datetime64[ns]")


def _text(*values: str | None) -> pd.Series:
    return pd.Series(list(values), dtype="str")


def _bools(*values: int) -> pd.Series:
    return pd.Series(np.array(values, dtype=bool))


def _counts(*values: int) -> pd.Series:
    return pd.Series(np.array(values, dtype="int64"))


def valid_tables() -> dict[str, pd.DataFrame]:
    """Seven children aged 10-17 and a few records of each kind, in the in-memory types."""
    children = pd.DataFrame(
        {
            "child_id": _text("C001", "C002", "C003", "C004", "C005", "C006", "C007"),
            "birth_month": _dates(
                "2009-03-01",
                "2010-11-01",
                "2008-06-01",
                "2011-01-01",
                "2007-09-01",
                "2012-04-01",
                "2013-08-01",
            ),
            "sex": _text("F", "M", "M", "F", "M", "F", "M"),
            "ethnicity": _text("White", "Black", "Asian", "Mixed", "Unknown", "Other", "White"),
            "area": _text(
                "E01000001",
                "E01000002",
                "E01000003",
                "E05000010",
                "E01000002",
                "E01000005",
                "E05000011",
            ),
        }
    )
    terms = ["2023-09-01", "2024-01-02", "2024-04-15"]
    pupils = ["C001", "C002", "C003", "C004", "C006"]
    school_census = pd.DataFrame(
        {
            "child_id": _text(*[c for c in pupils for _ in terms]),
            "term_start": _dates(*(terms * len(pupils))),
            "school_id": _text(
                *["URN100001"] * 3
                + ["URN100002"] * 3
                + ["URN100003"] * 3
                + ["URN100001"] * 3
                + ["URN100004"] * 3
            ),
            "fsm_eligible": _bools(0, 0, 0, 1, 1, 1, 0, 0, 1, 1, 1, 1, 0, 0, 0),
            "sen_status": _text(
                "none",
                "none",
                "none",
                "sen_support",
                "sen_support",
                "ehcp",
                "none",
                "none",
                "none",
                "sen_support",
                "sen_support",
                "sen_support",
                "none",
                "none",
                "none",
            ),
            "sessions_possible": _counts(
                140, 120, 118, 140, 120, 118, 140, 120, 118, 140, 120, 0, 140, 120, 118
            ),
            "sessions_missed": _counts(4, 6, 2, 31, 44, 60, 12, 9, 20, 18, 35, 0, 0, 3, 5),
            "sessions_unauthorised": _counts(0, 1, 0, 20, 30, 41, 2, 4, 11, 6, 20, 0, 0, 0, 1),
            "on_roll": _bools(1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1),
            "alternative_provision": _bools(0, 0, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0),
            "elective_home_education": _bools(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0),
        }
    )
    exclusions = pd.DataFrame(
        {
            "child_id": _text("C002", "C002", "C002", "C003"),
            "date": _dates("2023-10-12", "2024-02-06", "2024-05-20", "2024-03-01"),
            "kind": _text("suspension", "suspension", "permanent", "suspension"),
            "days": pd.Series([3.0, 5.0, np.nan, 1.5]),
            "reason": _text(
                "persistent_disruptive_behaviour",
                "physical_assault_pupil",
                "use_or_threat_of_weapon",
                "verbal_abuse",
            ),
        }
    )
    social_care = pd.DataFrame(
        {
            "child_id": _text("C002", "C002", "C004", "C006"),
            "kind": _text("cin", "cp", "early_help", "cla"),
            "start": _dates("2022-05-01", "2024-01-15", "2023-11-01", "2021-07-19"),
            "end": _dates("2023-03-31", None, "2024-04-30", None),
            "category": _text(
                "domestic_abuse",
                "extra_familial_harm",
                "family_in_acute_stress",
                "abuse_or_neglect",
            ),
        }
    )
    police = pd.DataFrame(
        {
            "child_id": _text("C002", "C002", "C003", "C005"),
            "date": _dates("2023-12-02", "2024-03-10", "2024-04-22", "2023-08-14"),
            "role": _text("stop_search", "victim", "suspect", "missing_person"),
            "offence_group": _text("none", "violence_with_injury", "robbery", "none"),
            "serious_violence": _bools(0, 1, 1, 0),
            "knife": _bools(0, 1, 0, 0),
        }
    )
    health = pd.DataFrame(
        {
            "child_id": _text("C002", "C006", "C003"),
            "date": _dates("2024-03-10", "2023-10-05", "2022-12-24"),
            "setting": _text("emergency_department", "camhs_referral", "emergency_department"),
            "assault_related": _bools(1, 0, 0),
        }
    )
    youth_justice = pd.DataFrame(
        {
            "child_id": _text("C003", "C002"),
            "date": _dates("2024-06-20", "2024-07-02"),
            "outcome": _text("caution", "community_resolution"),
        }
    )
    months = ["2023-09-01", "2023-10-01", "2023-11-01", "2023-12-01", "2024-01-01", "2024-02-01"]
    education_status = pd.DataFrame(
        {
            "child_id": _text(*["C005"] * 6, "C003", "C003"),
            "month": _dates(*months, "2024-09-01", "2024-10-01"),
            "activity": _text("EET", "EET", "NEET", "NEET", "not_known", "EET", "EET", "NEET"),
        }
    )
    relationships = pd.DataFrame(
        {
            "child_id": _text("C002", "C004", "C002", "C003"),
            "related_child_id": _text("C004", "C002", "C003", "C002"),
            "relationship": _text("sibling", "sibling", "peer", "peer"),
        }
    )
    return {
        "children": children,
        "school_census": school_census,
        "exclusions": exclusions,
        "social_care": social_care,
        "police": police,
        "health": health,
        "youth_justice": youth_justice,
        "education_status": education_status,
        "relationships": relationships,
    }


class Files:
    """Edit one table file of a folder in place, keeping its format."""

    def __init__(self, folder: Path):
        self.folder = folder

    def path(self, table: str) -> Path:
        (found,) = [p for p in self.folder.iterdir() if p.stem == table]
        return found

    def read(self, table: str) -> pd.DataFrame:
        path = self.path(table)
        if path.suffix == ".csv":
            return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])
        return pd.read_parquet(path)

    def write(self, table: str, frame: pd.DataFrame) -> None:
        path = self.path(table)
        if path.suffix == ".csv":
            frame.to_csv(path, index=False)
        else:
            frame.to_parquet(path, index=False)

    def edit(self, table: str, change: Callable[[pd.DataFrame], pd.DataFrame | None]) -> None:
        """Apply `change` to the table as stored; it may edit in place or return a frame."""
        frame = self.read(table)
        changed = change(frame)
        self.write(table, frame if changed is None else changed)

    def set(self, table: str, column: str, rows: dict[int, object]) -> None:
        """Set cells by 1-based data-row number; the column is turned to text if need be."""

        def change(frame: pd.DataFrame) -> None:
            for row, value in rows.items():
                if isinstance(value, str) and frame[column].dtype != "str":
                    frame[column] = frame[column].astype("str")
                elif value is None and frame[column].dtype.kind in "bi":
                    frame[column] = frame[column].astype(object)
                if frame[column].dtype == "str" and value is not None:
                    value = str(value)
                frame.loc[row - 1, column] = value

        self.edit(table, change)
