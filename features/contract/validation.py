"""Check tables against the contract and report every problem as a :class:`Problem`.

Checking happens in three vectorised steps:

1. each column is read as its contract type; cells that cannot be read are reported;
2. each table is validated by its pandera schema (nullability, allowed values, ranges,
   uniqueness and the named rules); pandera's failure cases become problems;
3. checks across tables and against today's date: ids known in ``children``, dates neither
   after today nor before the child's birth month, and ages within 0-25.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as arrow
import pyarrow.compute as pc

from features.contract.parsing import parse_column
from features.contract.problems import Problem, describe_values
from features.contract.schemas import (
    REQUIRED_TABLES,
    RULES,
    SCHEMAS,
    TABLES,
    column_kind,
    date_columns,
)

MIN_AGE = 0
MAX_AGE = 25
"""Ages (in whole years on ``today``) a child in the extracts may have."""

ID_COLUMNS = ("child_id", "related_child_id")
"""Columns holding ids that must be known in ``children``."""

CROSS_TABLE_RULES: tuple[str, ...] = (
    "Every `child_id` (and `related_child_id`) in another table is a `child_id` in `children`.",
    "No date is after the day the extracts are validated (today, unless told otherwise).",
    "No date in another table is before the first day of the child's `birth_month`.",
    f"Every child's age on the day of validation, from `birth_month`, is {MIN_AGE} to {MAX_AGE}.",
)
"""The checks across tables and against today's date, as written in the documentation."""

_CONTRACT_DOC = "docs/data-contract.md"

_UNREADABLE = {
    "count": ("values that are not whole numbers", "Write {column} as a whole number, e.g. 12."),
    "number": ("values that are not numbers", "Write {column} as a number, e.g. 2 or 2.5."),
    "date": (
        "values that are not dates in the form YYYY-MM-DD",
        "Write {column} as an ISO date, YYYY-MM-DD (e.g. 2024-03-12).",
    ),
    "month": (
        "values that are not months in the form YYYY-MM",
        "Write {column} as an ISO month, YYYY-MM (e.g. 2011-04).",
    ),
    "bool": ("values that are not true or false", "Write {column} as true or false."),
}


@dataclass
class Checked:
    """Tables read as the contract's types (extra columns dropped) and the problems found."""

    frames: dict[str, pd.DataFrame] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


def validate_tables(
    tables: Mapping[str, pd.DataFrame | None], *, today: date | None = None
) -> list[Problem]:
    """Check in-memory tables against the data contract.

    Parameters
    ----------
    tables : mapping of str to pandas.DataFrame
        Tables by name. Columns may hold the in-memory types or text as read from a CSV file.
        Row numbers in problems count from 1 in each frame's current order.
    today : datetime.date, optional
        The day the data are judged on (dates after it are in the future). Default: today.

    Returns
    -------
    list of Problem
        Every problem found, in table order; empty if the tables keep the contract.
    """
    return check_tables(tables, today=today).problems


def check_tables(
    tables: Mapping[str, pd.DataFrame | None],
    *,
    today: date | None = None,
    report_missing: bool = True,
) -> Checked:
    """Read tables as the contract's types and check them.

    Parameters
    ----------
    tables : mapping of str to pandas.DataFrame
        Tables by name; None or an absent key means the table was not supplied.
    today : datetime.date, optional
        The day the data are judged on. Default: today.
    report_missing : bool
        Report a required table that is absent (the file reader reports its own).

    Returns
    -------
    Checked
        The typed tables and every problem found.
    """
    unknown = sorted(set(tables) - set(TABLES))
    if unknown:
        raise ValueError(f"unknown tables {unknown}; the contract's tables are {list(TABLES)}")
    today_ts = pd.Timestamp(today or date.today())
    checked = Checked()
    for name in TABLES:
        frame = tables.get(name)
        if frame is None:
            if report_missing and name in REQUIRED_TABLES:
                checked.problems.append(_missing_table(name))
            continue
        typed, problems = _check_table(name, frame)
        checked.frames[name] = typed
        checked.problems += problems
    checked.problems += _check_across(checked.frames, today_ts)
    checked.problems.sort(key=lambda p: TABLES.index(p.table) if p.table in TABLES else -1)
    return checked


def _missing_table(name: str) -> Problem:
    return Problem(
        name,
        None,
        (),
        "the table is missing",
        f"Supply the {name} table: {SCHEMAS[name].description[:1].lower()}"
        f"{SCHEMAS[name].description[1:]}",
    )


# -- one table ------------------------------------------------------------------------------


def _check_table(name: str, frame: pd.DataFrame) -> tuple[pd.DataFrame, list[Problem]]:
    """Read one table as its contract types and validate it with its schema."""
    schema = SCHEMAS[name]
    frame = frame.reset_index(drop=True)
    missing = [c for c in schema.columns if c not in frame.columns]
    problems = [_missing_column(name, c, frame.columns) for c in missing]
    twice = frame.columns.duplicated()
    problems += [_repeated_column(name, c) for c in frame.columns[twice] if c in schema.columns]
    frame = frame.loc[:, ~twice]
    typed, bad = {}, {}
    for column in schema.columns:
        if column in missing:
            continue
        parsed = parse_column(column_kind(name, column), frame[column])
        typed[column], bad[column] = parsed.values, parsed.bad
        if parsed.bad.any():
            problems.append(_unreadable(name, column, frame[column], parsed.bad))
    table = pd.DataFrame(typed, index=frame.index)
    problems += _schema_problems(name, _without(schema, missing), table, bad)
    return _final_types(table), problems


def _missing_column(table: str, column: str, present: pd.Index) -> Problem:
    near = [c for c in present if str(c).strip().lower() == column]
    hint = f" (found {near[0]!r}; names are case-sensitive)" if near else ""
    meta = SCHEMAS[table].columns[column].metadata
    return Problem(
        table,
        column,
        (),
        f"the column {column} is missing{hint}",
        f"Add the column {column}: {meta['description']} See {_CONTRACT_DOC}.",
    )


def _repeated_column(table: str, column: str) -> Problem:
    return Problem(
        table,
        column,
        (),
        f"the column {column} appears more than once",
        f"Keep one column named {column}.",
    )


def _rows(mask: pd.Series | np.ndarray) -> tuple[int, ...]:
    """1-based row numbers of the True cells of a mask over a 0..n-1 index."""
    return tuple((np.flatnonzero(np.asarray(mask, dtype=bool)) + 1).tolist())


def _unreadable(table: str, column: str, raw: pd.Series, bad: pd.Series) -> Problem:
    message, action = _UNREADABLE[column_kind(table, column)]
    values = describe_values(pd.unique(raw[bad].astype("str")))
    return Problem(table, column, _rows(bad), f"{message}: {values}", action.format(column=column))


def _without(schema: pa.DataFrameSchema, missing: list[str]) -> pa.DataFrameSchema:
    """The schema less the missing columns (they are reported already)."""
    if not missing:
        return schema
    reduced = schema.remove_columns(missing)  # a copy
    if reduced.unique and set(reduced.unique) & set(missing):
        reduced.unique = None
    return reduced


def _final_types(table: pd.DataFrame) -> pd.DataFrame:
    """Turn nullable extension columns without nulls into plain numpy columns."""
    for column in table.columns:
        dtype = table[column].dtype
        if dtype in ("Int64", "boolean") and not table[column].hasnans:
            table[column] = table[column].astype("int64" if dtype == "Int64" else bool)
    return table


# -- pandera failure cases -> problems -------------------------------------------------------


def _schema_problems(
    name: str, schema: pa.DataFrameSchema, table: pd.DataFrame, bad: dict[str, pd.Series]
) -> list[Problem]:
    try:
        schema.validate(table, lazy=True, inplace=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
    else:
        return []
    cases = _drop_reported(cases, table, bad)
    # A check on the whole table has a failure case per column of each failing row.
    whole = cases["schema_context"] == "DataFrameSchema"
    cases.loc[whole, ["column", "failure_case"]] = None
    cases = cases.drop_duplicates(["schema_context", "column", "check", "check_number", "index"])
    problems = []
    keys = ["schema_context", "column", "check", "check_number"]
    for key, group in cases.groupby(keys, sort=False, dropna=False):
        problems.append(_problem_from_cases(name, schema, dict(zip(keys, key, strict=True)), group))
    order = list(SCHEMAS[name].columns)
    return sorted(problems, key=lambda p: order.index(p.column))


def _drop_reported(
    cases: pd.DataFrame, table: pd.DataFrame, bad: dict[str, pd.Series]
) -> pd.DataFrame:
    """Drop failure cases that restate a problem reported already.

    Cells that could not be read are empty after reading; their emptiness, and the nullable
    dtype that empty cells force on flags and counts, are not reported again.
    """
    keep = pd.Series(True, index=cases.index)
    for column, mask in bad.items():
        here = cases["column"] == column
        if not here.any():
            continue
        rows = cases.loc[here, "index"]
        unread = rows.isin(np.flatnonzero(mask.to_numpy()))
        keep[here] &= ~(unread & (cases.loc[here, "check"] == "not_nullable"))
        if table[column].hasnans:
            keep[here] &= ~cases.loc[here, "check"].astype(str).str.startswith("dtype(")
    return cases[keep]


def _problem_from_cases(
    name: str, schema: pa.DataFrameSchema, key: dict, cases: pd.DataFrame
) -> Problem:
    rows = tuple(sorted(int(i) + 1 for i in pd.unique(cases["index"].dropna())))
    check, number = key["check"], key["check_number"]
    if key["schema_context"] == "DataFrameSchema":
        return _table_check_problem(name, schema, check, number, rows)
    column = key["column"]
    values = pd.unique(cases["failure_case"].dropna())
    if pd.notna(number):
        check_obj = schema.columns[column].checks[int(number)]
        message, action = _column_check_text(name, column, check_obj, values)
    else:
        message, action = _builtin_text(name, column, str(check), values)
    return Problem(name, column, rows, message, action)


def _table_check_problem(
    name: str,
    schema: pa.DataFrameSchema,
    check: str,
    number: object,
    rows: tuple[int, ...],
) -> Problem:
    if check == "multiple_fields_uniqueness":
        fields = list(schema.unique)
        return Problem(
            name,
            fields[-1],
            rows,
            f"more than one row for the same {' and '.join(fields)}",
            f"Keep one row per {' and '.join(fields)}: merge or remove the duplicates.",
        )
    rule = RULES[schema.checks[int(number)].name]
    return Problem(name, rule.column, rows, rule.message, rule.action)


def _column_check_text(
    name: str, column: str, check: pa.Check, values: np.ndarray
) -> tuple[str, str]:
    shown = describe_values(_display(values))
    if check.name == "isin":
        allowed = ", ".join(check.statistics["allowed_values"])
        return (
            f"unknown values {shown}; allowed: {allowed}",
            "Use one of the allowed values; if the partnership records another value, add it "
            "to features/contract/vocabulary.py.",
        )
    if check.name == "greater_than_or_equal_to":
        least = check.statistics["min_value"]
        return f"values below {least}: {shown}", f"Correct {column}: it cannot be below {least}."
    if check.name == "str_length":
        return "empty text", f"Fill in {column} on these rows, or remove the rows."
    if check.name in RULES:
        rule = RULES[check.name]
        return f"{rule.message}: {shown}", rule.action
    return f"values failing {check.name}: {shown}", f"See {_CONTRACT_DOC} for {name}.{column}."


def _builtin_text(name: str, column: str, check: str, values: np.ndarray) -> tuple[str, str]:
    shown = describe_values(_display(values))
    if check == "not_nullable":
        return "empty cells", f"Fill in {column} on these rows, or remove the rows."
    if check == "field_uniqueness":
        return (
            f"{column} values on more than one row: {shown}",
            f"Keep one row per {column} in {name}: merge or remove the duplicates.",
        )
    return f"failed {check}: {shown}", f"See {_CONTRACT_DOC} for {name}.{column}."


def _display(values: np.ndarray) -> list[object]:
    """Values as people write them: dates as YYYY-MM-DD."""
    return [v.strftime("%Y-%m-%d") if isinstance(v, pd.Timestamp) else v for v in values.tolist()]


# -- across tables ---------------------------------------------------------------------------


def _check_across(frames: dict[str, pd.DataFrame], today: pd.Timestamp) -> list[Problem]:
    problems = []
    for name, frame in frames.items():
        for column in date_columns(name):
            if column in frame and name != "children":
                problems += _after_today(name, column, frame[column], today)
    children = frames.get("children")
    if children is None or "child_id" not in children:
        return problems
    if "birth_month" in children:
        problems += _ages(children["birth_month"], today)
    known = children["child_id"].dropna()
    birth = _birth_months(children)
    for name, frame in frames.items():
        if name == "children":
            continue
        for column in ID_COLUMNS:
            if column in frame:
                problems += _unknown_ids(name, column, frame[column], known)
        if birth is not None and "child_id" in frame:
            born = pd.Series(birth.reindex(frame["child_id"]).to_numpy(), index=frame.index)
            for column in date_columns(name):
                if column in frame:
                    problems += _before_birth(name, column, frame[column], born)
    return problems


def _birth_months(children: pd.DataFrame) -> pd.Series | None:
    if "birth_month" not in children:
        return None
    ids = children.dropna(subset=["child_id"]).drop_duplicates("child_id")
    return ids.set_index("child_id")["birth_month"]


def _isin(values: pd.Series, known: pd.Series) -> np.ndarray:
    """``values.isin(known)`` by hashing in Arrow (pandas' isin on str loops in Python)."""
    text = arrow.large_string()
    found = pc.is_in(arrow.array(values, type=text), value_set=arrow.array(known, type=text))
    return found.fill_null(False).to_numpy(zero_copy_only=False)


def _unknown_ids(table: str, column: str, ids: pd.Series, known: pd.Series) -> list[Problem]:
    unknown = ids.notna().to_numpy() & ~_isin(ids, known)
    if not unknown.any():
        return []
    return [
        Problem(
            table,
            column,
            _rows(unknown),
            f"ids not in children: {describe_values(pd.unique(ids[unknown]))}",
            "Correct the ids, or add these children to children: every record must link to a "
            "child in children.",
        )
    ]


def _after_today(table: str, column: str, dates: pd.Series, today: pd.Timestamp) -> list[Problem]:
    future = dates > today
    if not future.any():
        return []
    return [
        Problem(
            table,
            column,
            _rows(future),
            f"dates after today ({today:%Y-%m-%d}): {_some_dates(dates[future])}",
            "Correct the dates: a record cannot be dated after the day it is checked.",
        )
    ]


def _before_birth(table: str, column: str, dates: pd.Series, born: pd.Series) -> list[Problem]:
    early = dates < born
    if not early.any():
        return []
    return [
        Problem(
            table,
            column,
            _rows(early),
            f"dates before the child's birth month: {_some_dates(dates[early])}",
            "Check these dates and the child's birth_month in children: a record cannot "
            "precede the child's birth.",
        )
    ]


def _ages(birth: pd.Series, today: pd.Timestamp) -> list[Problem]:
    years = today.year - birth.dt.year - (today.month < birth.dt.month)
    outside = birth.notna() & ((years < MIN_AGE) | (years > MAX_AGE))
    if not outside.any():
        return []
    months = describe_values(pd.unique(birth[outside].dt.strftime("%Y-%m")))
    return [
        Problem(
            "children",
            "birth_month",
            _rows(outside),
            f"ages outside {MIN_AGE}-{MAX_AGE} on {today:%Y-%m-%d}: born {months}",
            f"Correct birth_month: the extracts cover children and young people aged "
            f"{MIN_AGE} to {MAX_AGE}.",
        )
    ]


def _some_dates(dates: pd.Series) -> str:
    return describe_values(pd.unique(dates.dt.strftime("%Y-%m-%d")))
