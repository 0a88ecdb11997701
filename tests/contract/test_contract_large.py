"""Validating a large partnership (50,000 children, over a million rows) finds exactly the
broken rows, in memory and on disk.

These are correctness tests at scale; they time nothing. How long validation takes is
measured by ``make bench`` (its "validate" stage loads and validates every extract of the
benchmark partnership, with its target).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from contract_fixtures import TODAY

from features.contract import validate_extracts, validate_tables, vocabulary, write_extracts

CHILDREN = 50_000
TERMS = 10
MONTHS = 20
BROKEN_ROWS = [10, 20_000]
"""Police rows (by position) given a child that is not in ``children``."""


def _text(values: np.ndarray) -> pd.Series:
    return pd.Series(values, dtype="str")


def _partnership(seed: int = 0) -> dict[str, pd.DataFrame]:
    """50,000 children, 500,000 census rows, 400,000 CCIS rows and events of every kind."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"C{i:06d}" for i in range(CHILDREN)])
    birth = pd.to_datetime("2008-01-01") + pd.to_timedelta(rng.integers(0, 6 * 365, CHILDREN), "D")
    children = pd.DataFrame(
        {
            "child_id": _text(ids),
            "birth_month": birth.to_period("M").to_timestamp().astype("datetime64[ns]"),
            "sex": _text(rng.choice(vocabulary.SEX, CHILDREN)),
            "ethnicity": _text(rng.choice(vocabulary.ETHNICITY, CHILDREN)),
            "area": _text(rng.choice([f"E0100{i:04d}" for i in range(300)], CHILDREN)),
        }
    )
    rows = CHILDREN * TERMS
    possible = rng.integers(0, 150, rows)
    missed = (possible * rng.random(rows)).astype("int64")
    terms = pd.date_range("2021-09-01", periods=TERMS, freq="4MS").astype("datetime64[ns]")
    census = pd.DataFrame(
        {
            "child_id": _text(np.repeat(ids, TERMS)),
            "term_start": np.tile(terms.to_numpy(), CHILDREN),
            "school_id": _text(rng.choice([f"URN{i}" for i in range(100)], rows)),
            "fsm_eligible": rng.random(rows) < 0.2,
            "sen_status": _text(rng.choice(vocabulary.SEN_STATUS, rows)),
            "sessions_possible": possible,
            "sessions_missed": missed,
            "sessions_unauthorised": (missed * rng.random(rows)).astype("int64"),
            "on_roll": rng.random(rows) < 0.95,
            "alternative_provision": rng.random(rows) < 0.02,
            "elective_home_education": rng.random(rows) < 0.01,
        }
    )

    def events(n: int, **columns) -> pd.DataFrame:
        dates = pd.Timestamp("2022-06-01") + pd.to_timedelta(rng.integers(0, 700, n), "D")
        frame = {"child_id": _text(ids[rng.integers(0, CHILDREN, n)])}
        for name, values in columns.items():
            frame[name] = dates.astype("datetime64[ns]") if values == "date" else values(n)
        return pd.DataFrame(frame)

    def pick(values):
        return lambda n: _text(rng.choice(values, n))

    ccis = 20_000
    months = pd.date_range("2023-01-01", periods=MONTHS, freq="MS").astype("datetime64[ns]")
    return {
        "children": children,
        "school_census": census,
        "exclusions": events(
            20_000,
            date="date",
            kind=lambda n: _text(np.full(n, "suspension")),
            days=lambda n: rng.random(n) * 5,
            reason=pick(vocabulary.EXCLUSION_REASON),
        ),
        "social_care": events(
            30_000,
            kind=pick(vocabulary.SOCIAL_CARE_KIND),
            start="date",
            end=lambda n: pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns]"),
            category=pick(vocabulary.SOCIAL_CARE_CATEGORY),
        ),
        "police": events(
            60_000,
            date="date",
            role=pick(vocabulary.POLICE_ROLE),
            offence_group=pick(vocabulary.OFFENCE_GROUP),
            serious_violence=lambda n: rng.random(n) < 0.1,
            knife=lambda n: rng.random(n) < 0.05,
        ),
        "health": events(
            40_000,
            date="date",
            setting=pick(vocabulary.HEALTH_SETTING),
            assault_related=lambda n: rng.random(n) < 0.1,
        ),
        "youth_justice": events(5_000, date="date", outcome=pick(vocabulary.YOUTH_JUSTICE_OUTCOME)),
        "education_status": pd.DataFrame(
            {
                "child_id": _text(np.repeat(ids[:ccis], MONTHS)),
                "month": np.tile(months.to_numpy(), ccis),
                "activity": _text(rng.choice(vocabulary.ACTIVITY, ccis * MONTHS)),
            }
        ),
    }


@pytest.fixture(scope="module")
def partnership() -> dict[str, pd.DataFrame]:
    return _partnership()


def _broken(partnership: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The partnership with :data:`BROKEN_ROWS` of ``police`` naming an unknown child."""
    broken = dict(partnership)
    broken["police"] = partnership["police"].copy()
    broken["police"].loc[BROKEN_ROWS, "child_id"] = "NOBODY"
    return broken


EXPECTED = [("police", "child_id", tuple(i + 1 for i in BROKEN_ROWS))]
"""The one problem the broken partnership has: its rows are counted from 1."""


def _found(problems) -> list[tuple]:
    return [(p.table, p.column, p.rows) for p in problems]


def test_validating_a_large_partnership_in_memory_finds_exactly_the_broken_rows(partnership):
    assert validate_tables(partnership, today=TODAY) == []
    assert _found(validate_tables(_broken(partnership), today=TODAY)) == EXPECTED


def test_validating_a_large_partnership_on_disk_finds_exactly_the_broken_rows(
    partnership, tmp_path: Path
):
    folder = write_extracts(partnership, tmp_path / "x", format="csv", validate=False)
    assert validate_extracts(folder, today=TODAY) == []
    # the same folder with its police extract replaced by the broken one
    police = {"police": _broken(partnership)["police"]}
    scratch = write_extracts(police, tmp_path / "police", format="csv", validate=False)
    shutil.copyfile(scratch / "police.csv", folder / "police.csv")
    assert _found(validate_extracts(folder, today=TODAY)) == EXPECTED
