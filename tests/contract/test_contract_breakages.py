"""Each way extracts can break the contract is reported with its table, column and rows.

Every test starts from the valid hand-made folder (in CSV and in Parquet), breaks one thing,
and asserts the exact set of problems reported, so a missing check and a spurious or repeated
report both fail.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from contract_fixtures import TODAY, Files

from features.contract import (
    ContractError,
    Problem,
    load_extracts,
    validate_extracts,
    vocabulary,
)


def places(problems: list[Problem]) -> set[tuple[str, str | None, tuple[int, ...]]]:
    """Where each problem is: (table, column, rows)."""
    return {(p.table, p.column, p.rows) for p in problems}


def check(folder: Path, *expected: tuple[str, str | None, tuple[int, ...]]) -> list[Problem]:
    """Assert that loading refuses the folder with exactly the expected problems.

    ``validate_extracts`` is the same check without the refusal (one function serves both:
    :func:`test_validating_reports_what_loading_refuses` holds them together).
    """
    with pytest.raises(ContractError) as raised:
        load_extracts(folder, today=TODAY)
    problems = raised.value.problems
    assert places(problems) == set(expected), "\n".join(str(p) for p in problems)
    assert len(problems) == len(expected), "a problem was reported twice"
    for p in problems:
        assert p.message and p.action
    return problems


def test_valid_folder_has_no_problems(folder: Path):
    assert validate_extracts(folder, today=TODAY) == []


def test_validating_reports_what_loading_refuses(folder: Path, files: Files):
    files.path("police").unlink()
    (folder / "health.csv").write_text("child_id,date\nC1,not a date\n")
    reported = validate_extracts(folder, today=TODAY)
    with pytest.raises(ContractError) as raised:
        load_extracts(folder, today=TODAY)
    assert reported == raised.value.problems and len(reported) >= 2


# -- tables and files --------------------------------------------------------------------------


def test_missing_required_table(folder: Path, files: Files):
    files.path("police").unlink()
    (problem,) = check(folder, ("police", None, ()))
    assert "police.parquet or police.csv" in problem.message


def test_missing_folder(tmp_path: Path):
    (problem,) = validate_extracts(tmp_path / "nowhere", today=TODAY)
    assert (problem.table, problem.column, problem.rows) == ("", None, ())
    assert "does not exist" in problem.message


def test_corrupt_file(folder: Path, files: Files):
    files.path("health").write_bytes(b"PAR1\x00\x15\x04garbage\xff\xfe" * 20)
    (problem,) = check(folder, ("health", None, ()))
    assert "cannot be read" in problem.message


def test_binary_junk_in_csv(folder: Path, files: Files):
    files.path("health").unlink()
    (folder / "health.csv").write_bytes(bytes(range(256)) * 4)
    (problem,) = check(folder, ("health", None, ()))
    assert "binary" in problem.message


def test_csv_that_is_not_utf8(folder: Path, files: Files):
    files.path("health").unlink()
    (folder / "health.csv").write_bytes("child_id,date\nC00\xe9,2024-01-01\n".encode("latin-1"))
    (problem,) = check(folder, ("health", None, ()))
    assert "UTF-8" in problem.message


def test_empty_csv_file(folder: Path, files: Files):
    files.path("youth_justice").unlink()
    (folder / "youth_justice.csv").write_bytes(b"")
    (problem,) = check(folder, ("youth_justice", None, ()))
    assert "header" in problem.message


def test_table_in_both_formats(folder: Path, files: Files, fmt: str):
    other = "csv" if fmt == "parquet" else "parquet"
    (folder / f"exclusions.{other}").write_bytes(files.path("exclusions").read_bytes())
    (problem,) = check(folder, ("exclusions", None, ()))
    assert "exclusions.csv" in problem.message and "exclusions.parquet" in problem.message


def test_unreadable_children_skips_checks_across_tables(folder: Path, files: Files):
    files.path("children").write_bytes(b"\x00\x01\x02 not a table")
    files.set("police", "child_id", {3: "C999"})
    check(folder, ("children", None, ()))


# -- columns and types -------------------------------------------------------------------------


@pytest.mark.parametrize("column", ["sen_status", "term_start", "sessions_missed"])
def test_missing_column(folder: Path, files: Files, column: str):
    files.edit("school_census", lambda t: t.drop(columns=[column]))
    (problem,) = check(folder, ("school_census", column, ()))
    assert "missing" in problem.message


def test_missing_column_names_a_near_miss(folder: Path, files: Files):
    files.edit("health", lambda t: t.rename(columns={"setting": "Setting"}))
    (problem,) = check(folder, ("health", "setting", ()))
    assert "'Setting'" in problem.message


def test_extra_columns_are_ignored_and_dropped(folder: Path, files: Files):
    files.edit("police", lambda t: t.assign(officer="PC 101", notes="x"))
    assert validate_extracts(folder, today=TODAY) == []
    assert "officer" not in load_extracts(folder, today=TODAY).police.columns


def test_text_in_a_count(folder: Path, files: Files):
    files.set("school_census", "sessions_missed", {2: "abc", 5: "12.5"})
    (problem,) = check(folder, ("school_census", "sessions_missed", (2, 5)))
    assert "'abc'" in problem.message and "'12.5'" in problem.message
    assert "whole number" in problem.message


def test_unparseable_dates(folder: Path, files: Files):
    files.set("exclusions", "date", {1: "2023-13-45", 3: "12/03/2024"})
    (problem,) = check(folder, ("exclusions", "date", (1, 3)))
    assert "'12/03/2024'" in problem.message and "YYYY-MM-DD" in problem.action


def test_unparseable_birth_month(folder: Path, files: Files):
    files.set("children", "birth_month", {1: "March 2009"})
    (problem,) = check(folder, ("children", "birth_month", (1,)))
    assert "YYYY-MM" in problem.message


def test_unreadable_flag(folder: Path, files: Files):
    files.set("police", "knife", {2: "maybe"})
    (problem,) = check(folder, ("police", "knife", (2,)))
    assert "'maybe'" in problem.message


def test_empty_cells(folder: Path, files: Files):
    files.set("exclusions", "child_id", {2: None})
    files.set("school_census", "on_roll", {4: None, 9: None})
    check(folder, ("exclusions", "child_id", (2,)), ("school_census", "on_roll", (4, 9)))


def test_empty_ids_are_empty_not_duplicated(folder: Path, files: Files):
    def add_two_without_ids(children: pd.DataFrame) -> pd.DataFrame:
        extra = children.iloc[[0, 1]].copy()
        extra["child_id"] = None
        return pd.concat([children, extra], ignore_index=True)

    files.edit("children", add_two_without_ids)
    (problem,) = check(folder, ("children", "child_id", (8, 9)))
    assert problem.message == "empty cells"


def test_empty_text(folder: Path, files: Files):
    files.set("children", "area", {3: ""})
    check(folder, ("children", "area", (3,)))


# -- values ------------------------------------------------------------------------------------


def test_unknown_category(folder: Path, files: Files):
    files.set("children", "ethnicity", {2: "Purple"})
    files.set("police", "role", {1: "witness", 4: "witness"})
    problems = check(folder, ("children", "ethnicity", (2,)), ("police", "role", (1, 4)))
    ethnicity = next(p for p in problems if p.column == "ethnicity")
    assert "'Purple'" in ethnicity.message
    assert all(value in ethnicity.message for value in vocabulary.ETHNICITY)


def test_duplicated_child_id(folder: Path, files: Files):
    files.edit("children", lambda t: pd.concat([t, t.iloc[[0]]], ignore_index=True))
    (problem,) = check(folder, ("children", "child_id", (1, 8)))
    assert "'C001'" in problem.message


def test_child_id_not_in_children(folder: Path, files: Files):
    files.set("police", "child_id", {3: "C999"})
    files.set("relationships", "related_child_id", {2: "C404"})
    problems = check(
        folder,
        ("police", "child_id", (3,)),
        ("relationships", "related_child_id", (2,)),
    )
    assert any("'C999'" in p.message for p in problems)


def test_child_linked_to_itself(folder: Path, files: Files):
    files.set("relationships", "related_child_id", {1: "C002"})
    check(folder, ("relationships", "related_child_id", (1,)))


def test_end_before_start(folder: Path, files: Files):
    files.set("social_care", "end", {1: "2022-01-01"})
    check(folder, ("social_care", "end", (1,)))


def test_more_missed_than_possible(folder: Path, files: Files):
    files.set("school_census", "sessions_missed", {4: 200})
    check(folder, ("school_census", "sessions_missed", (4,)))


def test_more_unauthorised_than_missed(folder: Path, files: Files):
    files.set("school_census", "sessions_unauthorised", {6: 61})
    check(folder, ("school_census", "sessions_unauthorised", (6,)))


def test_negative_days(folder: Path, files: Files):
    files.set("exclusions", "days", {2: -1.0})
    check(folder, ("exclusions", "days", (2,)))


def test_suspension_without_days(folder: Path, files: Files):
    files.set("exclusions", "days", {1: None})
    check(folder, ("exclusions", "days", (1,)))


def test_two_census_rows_for_one_child_and_date(folder: Path, files: Files):
    files.set("school_census", "term_start", {2: "2023-09-01"})
    check(folder, ("school_census", "term_start", (1, 2)))


def test_month_not_first_day(folder: Path, files: Files):
    files.set("education_status", "month", {1: "2023-09-15"})
    check(folder, ("education_status", "month", (1,)))


# -- dates and ages ----------------------------------------------------------------------------


def test_date_in_the_future(folder: Path, files: Files):
    files.set("health", "date", {2: "2030-01-01"})
    (problem,) = check(folder, ("health", "date", (2,)))
    assert "2030-01-01" in problem.message and TODAY.isoformat() in problem.message


def test_today_decides_the_future(folder: Path):
    assert places(validate_extracts(folder, today=pd.Timestamp("2024-06-01").date())) >= {
        ("youth_justice", "date", (1, 2)),
        ("education_status", "month", (7, 8)),
    }


def test_date_before_birth_month(folder: Path, files: Files):
    files.set("police", "date", {1: "2009-01-01"})
    (problem,) = check(folder, ("police", "date", (1,)))
    assert "birth" in problem.message


def test_age_outside_0_to_25(folder: Path, files: Files):
    files.set("children", "birth_month", {7: "1990-01", 6: "2026-01"})
    files.edit("health", lambda t: t[t["child_id"] != "C006"])
    files.edit("school_census", lambda t: t[t["child_id"] != "C006"])
    files.edit("social_care", lambda t: t[t["child_id"] != "C006"])
    (problem,) = check(folder, ("children", "birth_month", (6, 7)))
    assert "1990-01" in problem.message and "2026-01" in problem.message


# -- everything at once ------------------------------------------------------------------------


def test_every_breakage_at_once_is_reported(folder: Path, files: Files):
    files.path("police").unlink()
    files.path("health").write_bytes(b"\x00junk\x00" * 50)
    files.edit("school_census", lambda t: t.drop(columns=["sen_status"]))
    files.set("school_census", "sessions_missed", {2: "abc", 4: 200})
    files.set("school_census", "sessions_unauthorised", {6: 61})
    files.set("exclusions", "date", {3: "12/03/2024", 4: "2007-01-01"})
    files.set("exclusions", "days", {2: -1.0})
    files.set("children", "ethnicity", {2: "Purple"})
    files.set("children", "birth_month", {7: "1990-01"})
    files.edit("children", lambda t: pd.concat([t, t.iloc[[0]]], ignore_index=True))
    files.set("youth_justice", "child_id", {1: "C999"})
    files.set("social_care", "end", {1: "2022-01-01"})
    files.set("education_status", "month", {8: "2030-10-01"})
    files.set("relationships", "related_child_id", {1: "C002"})
    check(
        folder,
        ("children", "child_id", (1, 8)),
        ("children", "ethnicity", (2,)),
        ("children", "birth_month", (7,)),
        ("school_census", "sen_status", ()),
        ("school_census", "sessions_missed", (2,)),
        ("school_census", "sessions_missed", (4,)),
        ("school_census", "sessions_unauthorised", (6,)),
        ("exclusions", "date", (3,)),
        ("exclusions", "date", (4,)),
        ("exclusions", "days", (2,)),
        ("social_care", "end", (1,)),
        ("police", None, ()),
        ("health", None, ()),
        ("youth_justice", "child_id", (1,)),
        ("education_status", "month", (8,)),
        ("relationships", "related_child_id", (1,)),
    )
