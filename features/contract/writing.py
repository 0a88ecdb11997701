"""Write a set of extracts atomically: all of it, or none of it."""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from features.contract.extracts import FORMATS, Extracts
from features.contract.parsing import format_bools, format_dates
from features.contract.problems import ContractError
from features.contract.schemas import SCHEMAS, TABLES
from features.contract.validation import check_tables


def write_extracts(
    extracts: Extracts | Mapping[str, pd.DataFrame | None],
    path: str | Path,
    *,
    format: str = "parquet",
    validate: bool = True,
    today: date | None = None,
) -> Path:
    """Write a set of extracts to a folder, atomically.

    The files are written into a temporary folder beside `path`, which is then renamed into
    place, so a failure part-way leaves `path` absent or as it was. An existing `path` is
    replaced only if it holds nothing but extract files.

    Parameters
    ----------
    extracts : Extracts or mapping of str to pandas.DataFrame
        The tables; a None or absent optional table is not written.
    path : str or pathlib.Path
        The folder to write, e.g. ``OUT/extracts``.
    format : {"parquet", "csv"}
        File format. CSV holds dates as ``YYYY-MM-DD``, ``birth_month`` as ``YYYY-MM``, flags
        as ``true``/``false`` and empty cells for nulls; Parquet holds dates as dates and
        ``birth_month`` as ``YYYY-MM`` text.
    validate : bool
        Check the tables first and write nothing if any problem is found. Pass False only
        for tables already checked with :func:`validate_tables`.
    today : datetime.date, optional
        The day the data are judged on when validating. Default: today.

    Returns
    -------
    pathlib.Path
        The folder written.

    Raises
    ------
    ContractError
        If `validate` and the tables break the contract.
    FileExistsError
        If `path` exists and holds anything other than extract files.
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, not {format!r}")
    tables = extracts.tables() if isinstance(extracts, Extracts) else dict(extracts)
    tables = {name: frame for name, frame in tables.items() if frame is not None}
    unknown = sorted(set(tables) - set(TABLES))
    if unknown:
        raise ValueError(f"unknown tables {unknown}; the contract's tables are {list(TABLES)}")
    if validate:
        checked = check_tables(tables, today=today)
        if checked.problems:
            raise ContractError(checked.problems)
        tables = checked.frames
    dest = Path(path)
    _ensure_replaceable(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    try:
        for name in TABLES:
            if name in tables:
                _write_table(name, tables[name], staging / f"{name}.{format}", format)
        _swap_into_place(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest


def _ensure_replaceable(dest: Path) -> None:
    if not dest.exists():
        return
    if not dest.is_dir():
        raise FileExistsError(f"{dest} is a file; give a folder to write the extracts into.")
    ours = {f"{name}.{fmt}" for name in TABLES for fmt in FORMATS}
    foreign = sorted(p.name for p in dest.iterdir() if p.name not in ours)
    if foreign:
        raise FileExistsError(
            f"{dest} holds files that are not extracts ({', '.join(foreign[:5])}); refusing to "
            "replace it. Write to a new or empty folder."
        )


def _swap_into_place(staging: Path, dest: Path) -> None:
    """Rename the staged folder to `dest`, replacing an existing one only once it is complete."""
    if not dest.exists():
        staging.rename(dest)
        return
    retired = dest.with_name(f".{dest.name}.old-{uuid.uuid4().hex}")
    dest.rename(retired)
    try:
        staging.rename(dest)
    except BaseException:
        retired.rename(dest)
        raise
    shutil.rmtree(retired, ignore_errors=True)


def _write_table(name: str, frame: pd.DataFrame, file: Path, format: str) -> None:
    if format == "csv":
        _for_csv(name, frame).to_csv(file, index=False, lineterminator="\n", encoding="utf-8")
    else:
        pq.write_table(_for_parquet(name, frame), file)
    with file.open("rb") as handle:
        os.fsync(handle.fileno())


def _kinds(name: str, frame: pd.DataFrame) -> dict[str, str]:
    columns = SCHEMAS[name].columns
    return {c: columns[c].metadata["kind"] for c in frame.columns if c in columns}


def _for_csv(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    out = frame.copy()
    for column, kind in _kinds(name, frame).items():
        values = frame[column]
        if kind in ("date", "month") and pd.api.types.is_datetime64_any_dtype(values.dtype):
            out[column] = format_dates(values, "D" if kind == "date" else "M")
        elif kind == "bool" and pd.api.types.is_bool_dtype(values.dtype):
            out[column] = format_bools(values)
    return out


def _for_parquet(name: str, frame: pd.DataFrame) -> pa.Table:
    out = frame.copy()
    kinds = _kinds(name, frame)
    for column, kind in kinds.items():
        if kind == "month" and pd.api.types.is_datetime64_any_dtype(out[column].dtype):
            out[column] = format_dates(out[column], "M")
    table = pa.Table.from_pandas(out, preserve_index=False)
    for i, field in enumerate(table.schema):
        if kinds.get(field.name) == "date" and pa.types.is_timestamp(field.type):
            table = table.set_column(i, field.name, table.column(i).cast(pa.date32()))
    return table.replace_schema_metadata(None)
