"""write_extracts writes the contract's file formats, all at once or not at all."""

from __future__ import annotations

import tempfile
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from contract_fixtures import TODAY, valid_tables
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import features.contract.writing as writing
from features.contract import (
    SCHEMAS,
    TABLES,
    ContractError,
    load_extracts,
    validate_tables,
    vocabulary,
    write_extracts,
)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_csv_format(tmp_path: Path, tables: dict[str, pd.DataFrame]):
    folder = write_extracts(tables, tmp_path / "x", format="csv", today=TODAY)
    children = (folder / "children.csv").read_text().splitlines()
    assert children[0] == "child_id,birth_month,sex,ethnicity,area"
    assert children[1] == "C001,2009-03,F,White,E01000001"
    exclusions = (folder / "exclusions.csv").read_text().splitlines()
    assert exclusions[3] == "C002,2024-05-20,permanent,,use_or_threat_of_weapon"
    police = (folder / "police.csv").read_text().splitlines()
    assert police[2] == "C002,2024-03-10,victim,violence_with_injury,true,true"
    social_care = (folder / "social_care.csv").read_text().splitlines()
    assert social_care[2] == "C002,cp,2024-01-15,,extra_familial_harm"


def test_parquet_holds_dates_as_dates(tmp_path: Path, tables: dict[str, pd.DataFrame]):
    import pyarrow.parquet as pq

    folder = write_extracts(tables, tmp_path / "x", format="parquet", today=TODAY)
    assert str(pq.read_schema(folder / "police.parquet").field("date").type) == "date32[day]"
    assert str(pq.read_schema(folder / "children.parquet").field("birth_month").type) in (
        "string",
        "large_string",
    )


def test_invalid_tables_are_not_written(tmp_path: Path, tables: dict[str, pd.DataFrame]):
    tables["police"].loc[0, "role"] = "witness"
    with pytest.raises(ContractError) as raised:
        write_extracts(tables, tmp_path / "x", today=TODAY)
    assert [(p.table, p.column, p.rows) for p in raised.value.problems] == [
        ("police", "role", (1,))
    ]
    assert list(tmp_path.iterdir()) == []


def _fail_on_fourth_table(monkeypatch: pytest.MonkeyPatch) -> None:
    real = writing._write_table
    calls = []

    def flaky(*args, **kwargs):
        calls.append(args[0])
        if len(calls) == 4:
            raise OSError("disk full")
        return real(*args, **kwargs)

    monkeypatch.setattr(writing, "_write_table", flaky)


def test_failure_mid_write_leaves_nothing(tmp_path: Path, tables, monkeypatch, fmt: str):
    _fail_on_fourth_table(monkeypatch)
    with pytest.raises(OSError, match="disk full"):
        write_extracts(tables, tmp_path / "x", format=fmt, today=TODAY)
    assert list(tmp_path.iterdir()) == []


def test_failure_mid_write_leaves_old_extracts_as_they_were(tmp_path: Path, tables, monkeypatch):
    folder = write_extracts(tables, tmp_path / "x", format="csv", today=TODAY)
    before = snapshot(folder)
    _fail_on_fourth_table(monkeypatch)
    with pytest.raises(OSError, match="disk full"):
        write_extracts(valid_tables(), folder, format="parquet", today=TODAY)
    assert snapshot(folder) == before
    assert [p.name for p in tmp_path.iterdir()] == ["x"]


def test_failure_while_swapping_restores_old_extracts(tmp_path: Path, tables, monkeypatch):
    folder = write_extracts(tables, tmp_path / "x", format="csv", today=TODAY)
    before = snapshot(folder)
    real_rename = Path.rename

    def rename(self: Path, target):
        if self.name.endswith(".partial"):
            raise OSError("interrupted")
        return real_rename(self, target)

    monkeypatch.setattr(Path, "rename", rename)
    with pytest.raises(OSError, match="interrupted"):
        write_extracts(tables, folder, format="parquet", today=TODAY)
    assert snapshot(folder) == before
    assert [p.name for p in tmp_path.iterdir()] == ["x"]


def test_rewriting_replaces_the_whole_set(tmp_path: Path, tables: dict[str, pd.DataFrame]):
    folder = write_extracts(tables, tmp_path / "x", format="csv", today=TODAY)
    write_extracts(tables, folder, format="parquet", today=TODAY)
    assert sorted(p.suffix for p in folder.iterdir()) == [".parquet"] * len(TABLES)
    assert load_extracts(folder, today=TODAY).children.equals(tables["children"])


def test_will_not_replace_a_folder_holding_other_files(tmp_path: Path, tables):
    (tmp_path / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="notes.txt"):
        write_extracts(tables, tmp_path, today=TODAY)
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]


def test_unknown_format_is_an_error(tmp_path: Path, tables):
    with pytest.raises(ValueError, match="format"):
        write_extracts(tables, tmp_path / "x", format="xlsx")


# -- round trip, for generated tables ---------------------------------------------------------

_TEXT = st.text(
    st.characters(blacklist_categories=("Cs", "Cc"), whitelist_characters="\n"),
    min_size=1,
    max_size=6,
)
_EPOCH = pd.Timestamp("2000-01-01")
_TODAY = pd.Timestamp(TODAY)


def _frame(table: str, rows: list[dict]) -> pd.DataFrame:
    """A frame with the contract's in-memory dtypes, even when it has no rows."""
    columns = SCHEMAS[table].columns
    data = {}
    for name, column in columns.items():
        values = [row[name] for row in rows]
        dtype = column.metadata["kind"]
        if dtype in ("date", "month"):
            data[name] = pd.Series(pd.to_datetime(values), dtype="datetime64[ns]")
        elif dtype == "bool":
            data[name] = pd.Series(np.array(values, dtype=bool))
        elif dtype == "count":
            data[name] = pd.Series(np.array(values, dtype="int64"))
        elif dtype == "number":
            data[name] = pd.Series(np.array(values, dtype="float64"))
        else:
            data[name] = pd.Series(values, dtype="str")
    return pd.DataFrame(data)


@st.composite
def partnerships(draw) -> dict[str, pd.DataFrame]:
    """Small valid sets of extracts with awkward text, floats, nulls and empty tables."""
    ids = draw(st.lists(_TEXT, max_size=4, unique=True))
    births = {i: _EPOCH + pd.DateOffset(months=draw(st.integers(0, 15 * 12 + 5))) for i in ids}
    children = [
        {
            "child_id": i,
            "birth_month": births[i],
            "sex": draw(st.sampled_from(vocabulary.SEX)),
            "ethnicity": draw(st.sampled_from(vocabulary.ETHNICITY)),
            "area": draw(_TEXT),
        }
        for i in ids
    ]

    def some(make) -> list[dict]:
        return (
            [make(draw(st.sampled_from(ids))) for _ in range(draw(st.integers(0, 3)))]
            if ids
            else []
        )

    def day(child: str) -> pd.Timestamp:
        return births[child] + timedelta(days=draw(st.integers(0, (_TODAY - births[child]).days)))

    def census(child: str) -> dict:
        possible = draw(st.integers(0, 200))
        missed = draw(st.integers(0, possible))
        return {
            "child_id": child,
            "term_start": day(child),
            "school_id": draw(_TEXT),
            "fsm_eligible": draw(st.booleans()),
            "sen_status": draw(st.sampled_from(vocabulary.SEN_STATUS)),
            "sessions_possible": possible,
            "sessions_missed": missed,
            "sessions_unauthorised": draw(st.integers(0, missed)),
            "on_roll": draw(st.booleans()),
            "alternative_provision": draw(st.booleans()),
            "elective_home_education": draw(st.booleans()),
        }

    def exclusion(child: str) -> dict:
        kind = draw(st.sampled_from(vocabulary.EXCLUSION_KIND))
        days = draw(st.floats(0, 500, allow_nan=False))
        if kind == "permanent" and draw(st.booleans()):
            days = np.nan
        return {
            "child_id": child,
            "date": day(child),
            "kind": kind,
            "days": days,
            "reason": draw(st.sampled_from(vocabulary.EXCLUSION_REASON)),
        }

    def episode(child: str) -> dict:
        start = day(child)
        end = start + timedelta(days=draw(st.integers(0, max(0, (_TODAY - start).days))))
        return {
            "child_id": child,
            "kind": draw(st.sampled_from(vocabulary.SOCIAL_CARE_KIND)),
            "start": start,
            "end": end if draw(st.booleans()) else pd.NaT,
            "category": draw(st.sampled_from(vocabulary.SOCIAL_CARE_CATEGORY)),
        }

    def month(child: str) -> pd.Timestamp:
        months = (_TODAY.year - births[child].year) * 12 + _TODAY.month - births[child].month
        return births[child] + pd.DateOffset(months=draw(st.integers(0, months)))

    def link(child: str) -> dict:
        other = draw(st.sampled_from([i for i in ids if i != child] or [None]))
        return {
            "child_id": child,
            "related_child_id": other,
            "relationship": draw(st.sampled_from(vocabulary.RELATIONSHIP)),
        }

    tables = {
        "children": children,
        "school_census": list({(r["child_id"], r["term_start"]): r for r in some(census)}.values()),
        "exclusions": some(exclusion),
        "social_care": some(episode),
        "police": some(
            lambda c: {
                "child_id": c,
                "date": day(c),
                "role": draw(st.sampled_from(vocabulary.POLICE_ROLE)),
                "offence_group": draw(st.sampled_from(vocabulary.OFFENCE_GROUP)),
                "serious_violence": draw(st.booleans()),
                "knife": draw(st.booleans()),
            }
        ),
        "health": some(
            lambda c: {
                "child_id": c,
                "date": day(c),
                "setting": draw(st.sampled_from(vocabulary.HEALTH_SETTING)),
                "assault_related": draw(st.booleans()),
            }
        ),
        "youth_justice": some(
            lambda c: {
                "child_id": c,
                "date": day(c),
                "outcome": draw(st.sampled_from(vocabulary.YOUTH_JUSTICE_OUTCOME)),
            }
        ),
        "education_status": some(
            lambda c: {
                "child_id": c,
                "month": month(c),
                "activity": draw(st.sampled_from(vocabulary.ACTIVITY)),
            }
        ),
        "relationships": [r for r in some(link) if r["related_child_id"] is not None],
    }
    return {name: _frame(name, rows) for name, rows in tables.items()}


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables=partnerships(), fmt=st.sampled_from(["csv", "parquet"]))
def test_round_trip_preserves_the_tables(tables: dict[str, pd.DataFrame], fmt: str):
    assert validate_tables(tables, today=TODAY) == []
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_extracts(tables, Path(tmp) / "x", format=fmt, validate=False)
        loaded = load_extracts(folder, today=TODAY).tables()
    assert list(loaded) == list(tables)
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(loaded[name], frame, check_exact=True, obj=name)
