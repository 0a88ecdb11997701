"""Find, read, check and load a folder of raw extracts."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.contract.problems import ContractError, Problem
from features.contract.schemas import REQUIRED_TABLES, SCHEMAS, TABLES
from features.contract.validation import check_tables

FORMATS = ("parquet", "csv")
"""File formats a table may come in, as file-name suffixes."""

EXTRACTS_SUBFOLDER = "extracts"
"""A folder holding this subfolder is read from it (the synthetic generator's layout)."""

_SNIFF_BYTES = 64 * 1024


@dataclass(frozen=True, eq=False)
class Extracts:
    """A loaded, valid set of raw extracts: one DataFrame per table.

    Ids and categories are ``str`` columns, dates ``datetime64[ns]``, flags ``bool``, counts
    ``int64`` and ``days`` ``float64``; columns are in contract order. ``relationships`` is
    None when the optional table was not supplied.
    """

    children: pd.DataFrame
    school_census: pd.DataFrame
    exclusions: pd.DataFrame
    social_care: pd.DataFrame
    police: pd.DataFrame
    health: pd.DataFrame
    youth_justice: pd.DataFrame
    education_status: pd.DataFrame
    relationships: pd.DataFrame | None = None

    def tables(self) -> dict[str, pd.DataFrame]:
        """Return the tables by name, in contract order, leaving out an absent optional one."""
        found = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: frame for name, frame in found.items() if frame is not None}


def extracts_folder(path: str | Path) -> Path:
    """Return the folder the extracts are read from: ``path/extracts`` if it exists, else path."""
    path = Path(path)
    inner = path / EXTRACTS_SUBFOLDER
    return inner if inner.is_dir() else path


def validate_extracts(path: str | Path, *, today: date | None = None) -> list[Problem]:
    """Check a folder of extracts against the data contract.

    Parameters
    ----------
    path : str or pathlib.Path
        Folder holding ``<table>.parquet`` or ``<table>.csv`` files, or a folder holding such
        a folder named ``extracts``.
    today : datetime.date, optional
        The day the data are judged on (dates after it are in the future). Default: today.

    Returns
    -------
    list of Problem
        Every problem found, in table order; empty if the extracts keep the contract.
    """
    return _read_and_check(path, today)[1]


def load_extracts(path: str | Path, *, today: date | None = None) -> Extracts:
    """Load and check a folder of extracts; nothing is returned unless all of it is valid.

    Parameters
    ----------
    path : str or pathlib.Path
        As for :func:`validate_extracts`.
    today : datetime.date, optional
        The day the data are judged on. Default: today.

    Returns
    -------
    Extracts
        The tables in their in-memory types, extra columns dropped.

    Raises
    ------
    ContractError
        If any problem is found; ``.problems`` lists them all.
    """
    frames, problems = _read_and_check(path, today)
    if problems:
        raise ContractError(problems)
    return Extracts(**frames)


def _read_and_check(path: str | Path, today: date | None) -> tuple[dict, list[Problem]]:
    folder = extracts_folder(path)
    if not folder.is_dir():
        what = "is not a folder" if folder.exists() else "does not exist"
        problem = Problem(
            "",
            None,
            (),
            f"{folder} {what}",
            "Give the folder holding the extract files (<table>.parquet or <table>.csv).",
        )
        return {}, [problem]
    raw, problems = read_folder(folder)
    checked = check_tables(raw, today=today, report_missing=False)
    everything = problems + checked.problems
    everything.sort(key=lambda p: TABLES.index(p.table) if p.table in TABLES else -1)
    return checked.frames, everything


def read_folder(folder: Path) -> tuple[dict[str, pd.DataFrame], list[Problem]]:
    """Read every table file in a folder as it is, reporting missing and unreadable files.

    Parameters
    ----------
    folder : pathlib.Path
        The folder holding the table files.

    Returns
    -------
    tables : dict of str to pandas.DataFrame
        The tables that could be read: CSV columns as text, Parquet columns as stored.
    problems : list of Problem
        Missing required tables, tables present in both formats, and unreadable files.
    """
    tables, problems = {}, []
    for name in TABLES:
        files = [folder / f"{name}.{fmt}" for fmt in FORMATS if (folder / f"{name}.{fmt}").exists()]
        if len(files) > 1:
            problems.append(
                Problem(
                    name,
                    None,
                    (),
                    f"both {files[0].name} and {files[1].name} are present",
                    f"Keep one file per table: remove {files[0].name} or {files[1].name}.",
                )
            )
        elif not files:
            if name in REQUIRED_TABLES:
                problems.append(_missing_file(name, folder))
        else:
            try:
                tables[name] = _read_file(files[0])
            except _Unreadable as err:
                problems.append(
                    Problem(
                        name,
                        None,
                        (),
                        f"{files[0].name} cannot be read: {err}",
                        "Export the table again from its source system, as UTF-8 CSV or as "
                        "Parquet.",
                    )
                )
    return tables, problems


def _missing_file(name: str, folder: Path) -> Problem:
    return Problem(
        name,
        None,
        (),
        f"no {name}.parquet or {name}.csv in {folder}",
        f"Add {name}.parquet or {name}.csv: {_lower_first(SCHEMAS[name].description)}",
    )


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


class _Unreadable(Exception):
    """A table file that cannot be read; the message says why."""


def _read_file(file: Path) -> pd.DataFrame:
    if file.suffix == ".csv":
        return _read_csv(file)
    return _read_parquet(file)


def _read_csv(file: Path) -> pd.DataFrame:
    try:
        with file.open("rb") as handle:
            head = handle.read(_SNIFF_BYTES)
        if b"\x00" in head:
            raise _Unreadable("it holds binary data, not text")
        return pd.read_csv(
            file,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            encoding="utf-8-sig",
        )
    except UnicodeDecodeError as err:
        raise _Unreadable(f"it is not UTF-8 text ({err.reason} at byte {err.start})") from err
    except pd.errors.EmptyDataError as err:
        raise _Unreadable("it is empty; even a table with no rows needs its header line") from err
    except (OSError, ValueError) as err:
        raise _Unreadable(_first_line(err)) from err


def _read_parquet(file: Path) -> pd.DataFrame:
    try:
        table = pq.read_table(file)
        for i, column in enumerate(table.schema):
            if pa.types.is_date(column.type):
                table = table.set_column(i, column.name, table.column(i).cast(pa.timestamp("ms")))
        return table.to_pandas()
    except (OSError, ValueError, pa.ArrowException) as err:
        raise _Unreadable(_first_line(err)) from err


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return text[0] if text else type(err).__name__
