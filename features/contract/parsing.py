"""Read raw column values (text from CSV, or Parquet's own types) as the contract's types.

Every parser is vectorised and returns the typed values together with a mask of the cells that
held something that could not be read; empty cells are left empty (null) and are judged later
by the schema's nullability.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

_TRUE = ("true", "1")
_FALSE = ("false", "0")
_EARLIEST = pd.Timestamp("1678-01-01")
_LATEST = pd.Timestamp("2261-12-31")
_INT_LIMIT = 2.0**63


@dataclass(frozen=True)
class Parsed:
    """Typed values of one column and the cells that could not be read."""

    values: pd.Series
    bad: pd.Series


def parse_column(kind: str, raw: pd.Series) -> Parsed:
    """Read one column as a contract kind.

    Parameters
    ----------
    kind : str
        A key of :data:`features.contract.schemas.KINDS`.
    raw : pandas.Series
        The column as read from a file or given in memory.

    Returns
    -------
    Parsed
        ``values`` in the in-memory type (``Int64`` or ``boolean`` while empty cells remain,
        so they can be reported) and ``bad``, True where a non-empty cell could not be read.
    """
    return _PARSERS[kind](raw)


def _nothing_bad(raw: pd.Series) -> pd.Series:
    return pd.Series(False, index=raw.index)


def as_text(raw: pd.Series) -> pd.Series:
    """Return a column as ``str`` dtype, keeping empty cells empty."""
    if raw.dtype == "str":
        return raw
    return raw.astype("str")


def _parse_text(raw: pd.Series) -> Parsed:
    values = as_text(raw)
    return Parsed(values, _nothing_bad(raw))


def _parse_dates(raw: pd.Series, text_format: str, month: bool) -> Parsed:
    if isinstance(raw.dtype, pd.DatetimeTZDtype):
        raw = raw.dt.tz_localize(None)
    if pd.api.types.is_datetime64_dtype(raw.dtype):
        values = raw
        whole = values == values.dt.normalize()
        if month:
            whole &= values.dt.day == 1
        bad = values.notna() & ~whole
    else:
        text = as_text(raw)
        values = pd.to_datetime(text, format=text_format, errors="coerce")
        bad = text.notna() & values.isna()
    bad |= (values < _EARLIEST) | (values > _LATEST)
    values = values.where(~bad).astype("datetime64[ns]")
    return Parsed(values, bad)


def _parse_date(raw: pd.Series) -> Parsed:
    return _parse_dates(raw, "%Y-%m-%d", month=False)


def _parse_month(raw: pd.Series) -> Parsed:
    return _parse_dates(raw, "%Y-%m", month=True)


def _numbers(raw: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Return a column as float64 and a mask of non-empty cells that are not finite numbers."""
    if pd.api.types.is_numeric_dtype(raw.dtype) and not pd.api.types.is_bool_dtype(raw.dtype):
        numbers = raw.astype("float64")
        present = raw.notna()
    else:
        text = as_text(raw)
        numbers = pd.to_numeric(text, errors="coerce").astype("float64")
        present = text.notna()
    bad = present & ~np.isfinite(numbers)
    return numbers.where(~bad), bad


def _parse_count(raw: pd.Series) -> Parsed:
    if pd.api.types.is_integer_dtype(raw.dtype):
        return Parsed(raw.astype("Int64" if raw.hasnans else "int64"), _nothing_bad(raw))
    numbers, bad = _numbers(raw)
    bad |= numbers.notna() & ((numbers != numbers.round()) | (numbers.abs() >= _INT_LIMIT))
    numbers = numbers.where(~bad)
    values = numbers.astype("Int64")
    return Parsed(values if values.hasnans else values.astype("int64"), bad)


def _parse_number(raw: pd.Series) -> Parsed:
    numbers, bad = _numbers(raw)
    return Parsed(numbers, bad)


def _parse_bool(raw: pd.Series) -> Parsed:
    if pd.api.types.is_bool_dtype(raw.dtype):
        values = raw.astype("boolean")
        return Parsed(values if values.hasnans else values.astype(bool), _nothing_bad(raw))
    if pd.api.types.is_numeric_dtype(raw.dtype):
        present = raw.notna()
        is_true = (raw == 1).fillna(False).to_numpy(bool)
        is_false = (raw == 0).fillna(False).to_numpy(bool)
    else:
        text = as_text(raw)
        present = text.notna()
        lower = text.str.lower()
        is_true = lower.isin(_TRUE).to_numpy(bool)
        is_false = lower.isin(_FALSE).to_numpy(bool)
    known = is_true | is_false
    bad = present & ~known
    values = pd.Series(pd.arrays.BooleanArray(is_true, ~known), index=raw.index)
    return Parsed(values if values.hasnans else values.astype(bool), bad)


_PARSERS = {
    "text": _parse_text,
    "category": _parse_text,
    "date": _parse_date,
    "month": _parse_month,
    "bool": _parse_bool,
    "count": _parse_count,
    "number": _parse_number,
}


def format_dates(values: pd.Series, unit: str) -> pd.Series:
    """Format datetimes as ISO text to day (``unit="D"``) or month (``"M"``); nulls stay null.

    Parameters
    ----------
    values : pandas.Series
        A ``datetime64`` column.
    unit : {"D", "M"}
        ``"D"`` gives ``YYYY-MM-DD``, ``"M"`` gives ``YYYY-MM``.

    Returns
    -------
    pandas.Series
        ``str`` dtype.
    """
    stamps = values.to_numpy(dtype="datetime64[ns]").astype(f"datetime64[{unit}]")
    text = pd.Series(np.datetime_as_string(stamps, unit=unit), index=values.index, dtype="str")
    return text.where(values.notna())


def format_bools(values: pd.Series) -> pd.Series:
    """Format a bool column as ``true`` / ``false`` text; nulls stay null."""
    text = pd.Series(np.where(values.fillna(False), "true", "false"), index=values.index)
    return text.astype("str").where(values.notna())
