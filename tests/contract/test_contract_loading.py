"""Valid extracts load into the contract's in-memory types, from either format or from memory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from contract_fixtures import TODAY, Files, valid_tables

from features.contract import (
    OPTIONAL_TABLES,
    REQUIRED_TABLES,
    SCHEMAS,
    TABLES,
    ContractError,
    Extracts,
    Problem,
    describe_rows,
    load_extracts,
    validate_tables,
    write_extracts,
)

EXPECTED_DTYPES = {
    "child_id": "str",
    "birth_month": "datetime64[ns]",
    "term_start": "datetime64[ns]",
    "date": "datetime64[ns]",
    "start": "datetime64[ns]",
    "end": "datetime64[ns]",
    "month": "datetime64[ns]",
    "fsm_eligible": "bool",
    "on_roll": "bool",
    "knife": "bool",
    "sessions_missed": "int64",
    "days": "float64",
    "sex": "str",
    "sen_status": "str",
}


def test_tables_in_order():
    assert TABLES == REQUIRED_TABLES + OPTIONAL_TABLES
    assert OPTIONAL_TABLES == ("relationships",)
    assert list(SCHEMAS) == list(TABLES)


def test_every_column_is_described_and_marked():
    for schema in SCHEMAS.values():
        assert schema.description
        for column in schema.columns.values():
            meta = column.metadata
            assert meta["description"]
            assert isinstance(meta["protected"], bool) and isinstance(meta["sensitive"], bool)
    protected = {
        (t, c)
        for t, s in SCHEMAS.items()
        for c, col in s.columns.items()
        if col.metadata["protected"]
    }
    assert protected == {("children", "sex"), ("children", "ethnicity")}
    assert SCHEMAS["school_census"].columns["sen_status"].metadata["sensitive"]


def test_load_gives_the_contract_types(folder: Path, tables: dict[str, pd.DataFrame]):
    extracts = load_extracts(folder, today=TODAY)
    loaded = extracts.tables()
    assert list(loaded) == list(TABLES)
    for name, frame in loaded.items():
        assert list(frame.columns) == list(SCHEMAS[name].columns)
        for column, dtype in EXPECTED_DTYPES.items():
            if column in frame:
                assert frame[column].dtype == dtype, (name, column, frame[column].dtype)
        pd.testing.assert_frame_equal(frame, tables[name], check_exact=True)
    assert not isinstance(extracts.children["sex"].dtype, pd.CategoricalDtype)
    assert extracts.children["birth_month"].iloc[0] == pd.Timestamp("2009-03-01")


def test_reads_from_an_extracts_subfolder(tmp_path: Path, tables: dict[str, pd.DataFrame]):
    write_extracts(tables, tmp_path / "partnership" / "extracts", today=TODAY)
    (tmp_path / "partnership" / "truth.csv").write_text("not an extract\n")
    extracts = load_extracts(tmp_path / "partnership", today=TODAY)
    assert len(extracts.children) == 7


def test_reads_csv_saved_by_spreadsheet_software(tmp_path: Path, tables):
    folder = write_extracts(tables, tmp_path / "x", format="csv", today=TODAY)
    health = folder / "health.csv"
    health.write_bytes(b"\xef\xbb\xbf" + health.read_bytes().replace(b"\n", b"\r\n"))
    loaded = load_extracts(folder, today=TODAY)
    pd.testing.assert_frame_equal(loaded.health, tables["health"])


def test_reads_parquet_with_timestamps_from_pandas(tmp_path: Path, tables):
    folder = tmp_path / "x"
    folder.mkdir()
    for name, frame in tables.items():
        frame.to_parquet(folder / f"{name}.parquet")
    loaded = load_extracts(folder, today=TODAY).tables()
    for name, frame in tables.items():
        pd.testing.assert_frame_equal(loaded[name], frame)


def test_relationships_are_optional(folder: Path, files: Files):
    files.path("relationships").unlink()
    extracts = load_extracts(folder, today=TODAY)
    assert extracts.relationships is None
    assert "relationships" not in extracts.tables()


def test_tables_with_no_rows_are_valid(tmp_path: Path, fmt: str):
    empty = {name: frame.head(0) for name, frame in valid_tables().items()}
    write_extracts(empty, tmp_path / "x", format=fmt, today=TODAY)
    loaded = load_extracts(tmp_path / "x", today=TODAY).tables()
    for name, frame in loaded.items():
        pd.testing.assert_frame_equal(frame, empty[name])


def test_in_memory_tables_as_text_are_read_like_csv(tables: dict[str, pd.DataFrame]):
    census = tables["school_census"].astype("str")
    census["on_roll"] = np.where(tables["school_census"]["on_roll"], "true", "false")
    assert validate_tables({**tables, "school_census": census}, today=TODAY) == []


def test_in_memory_row_numbers_count_positions(tables: dict[str, pd.DataFrame]):
    police = tables["police"].set_index(pd.Index([10, 20, 30, 40]))
    police.loc[30, "role"] = "witness"
    (problem,) = validate_tables({**tables, "police": police}, today=TODAY)
    assert (problem.table, problem.column, problem.rows) == ("police", "role", (3,))


def test_in_memory_missing_table(tables: dict[str, pd.DataFrame]):
    del tables["health"]
    (problem,) = validate_tables(tables, today=TODAY)
    assert (problem.table, problem.column, problem.rows) == ("health", None, ())


def test_in_memory_repeated_column(tables: dict[str, pd.DataFrame]):
    health = pd.concat([tables["health"], tables["health"][["setting"]]], axis=1)
    (problem,) = validate_tables({**tables, "health": health}, today=TODAY)
    assert (problem.table, problem.column, problem.rows) == ("health", "setting", ())


def test_unknown_table_name_is_an_error(tables: dict[str, pd.DataFrame]):
    with pytest.raises(ValueError, match="unknown tables"):
        validate_tables({**tables, "school": tables["children"]})


def test_extracts_is_frozen(folder: Path):
    extracts = load_extracts(folder, today=TODAY)
    with pytest.raises(AttributeError):
        extracts.children = extracts.police  # type: ignore[misc]
    assert isinstance(extracts, Extracts)


def test_problem_rendering():
    assert describe_rows(()) == ""
    assert describe_rows((3,)) == "row 3"
    assert describe_rows((3, 17)) == "rows 3 and 17"
    assert describe_rows(tuple(range(1, 13)), limit=3) == "rows 1, 2, 3 and 9 more"
    problem = Problem("police", "role", (1, 4), "unknown values 'witness'", "Use one of ...")
    assert str(problem) == "police.role, rows 1 and 4: unknown values 'witness'. Use one of ..."
    error = ContractError([problem, Problem("health", None, (), "missing", "Add it.")])
    assert isinstance(error, ValueError)
    assert "2 problems" in str(error) and "police.role, rows 1 and 4" in str(error)
    assert "health: missing. Add it." in str(error)
