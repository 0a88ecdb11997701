"""Declarative mappings from an agency's extract format to the data contract.

A mapping is a YAML file per source (``linkage/mappings/<source>.yaml`` by default; a
partnership whose export differs writes its own). It names the agency, the specification
its field names and codes follow, and for each file: the agency's own person reference,
the contract table its rows become, the identity fields it carries and how each contract
column is read from it. :func:`read_source` applies one; nothing here writes a file.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from features.contract import SCHEMAS, Problem
from features.contract.parsing import parse_column
from features.contract.schemas import column_kind

DEFAULT_MAPPINGS = Path(__file__).parent / "mappings"

IDENTITY_FIELDS = (
    "forename",
    "surname",
    "dob",
    "sex",
    "postcode",
    "upn",
    "nhs_number",
    "ethnicity",
)
"""What a file may say of a person's identity."""


class Column(BaseModel):
    """A contract value read from one raw column."""

    model_config = ConfigDict(extra="forbid")
    column: str
    codes: dict[str, Any] | None = None
    others: Literal["report", "skip"] = "report"
    empty: Any = None
    date: str | None = None
    scale: float | None = None

    @model_validator(mode="before")
    @classmethod
    def _codes_as_text(cls, data):
        if isinstance(data, dict) and isinstance(data.get("codes"), dict):
            data = {**data, "codes": {_key(k): v for k, v in data["codes"].items()}}
        return data


class Sum(BaseModel):
    """The sum of several numeric columns."""

    model_config = ConfigDict(extra="forbid")
    sum: list[str]


class OpenPeriod(BaseModel):
    """True where a period (start, end; an empty end is open) covers the date in ``on``."""

    model_config = ConfigDict(extra="forbid")
    open_period: tuple[str, str]
    on: str
    date: str


class FirstOf(BaseModel):
    """The first of several readings that gives a value."""

    model_config = ConfigDict(extra="forbid")
    first_of: list[Column]


class Value(BaseModel):
    """The same value on every row."""

    model_config = ConfigDict(extra="forbid")
    value: Any


Spec = Column | Sum | OpenPeriod | FirstOf | Value


def _key(k: object) -> str:
    return str(k)


def _spec(raw: object) -> Spec:
    if isinstance(raw, str):
        return Column(column=raw)
    if not isinstance(raw, dict):
        raise ValueError(f"expected a column name or a mapping, got {raw!r}")
    for name, model in (("sum", Sum), ("open_period", OpenPeriod), ("first_of", FirstOf)):
        if name in raw:
            return model.model_validate(raw)
    if "value" in raw:
        return Value.model_validate(raw)
    return Column.model_validate(raw)


class FileMapping(BaseModel):
    """How one raw file becomes contract rows and identity records."""

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)
    name: str
    pattern: str | None = None
    optional: bool = False
    record_id: str
    table: str | None = None
    dated_by: str | None = None
    identity: dict[str, Any] = {}
    fields: dict[str, Any] = {}

    @model_validator(mode="after")
    def _check(self):
        unknown = sorted(set(self.identity) - set(IDENTITY_FIELDS))
        if unknown:
            raise ValueError(
                f"file {self.name}: unknown identity fields {', '.join(unknown)}; "
                f"use any of {', '.join(IDENTITY_FIELDS)}"
            )
        if self.table is None:
            if self.fields:
                raise ValueError(f"file {self.name}: fields are given but no table")
            return self
        if self.table not in SCHEMAS:
            raise ValueError(f"file {self.name}: {self.table!r} is not a table of the contract")
        wanted = [c for c in SCHEMAS[self.table].columns if c != "child_id"]
        missing = [c for c in wanted if c not in self.fields]
        extra = sorted(set(self.fields) - set(wanted))
        if missing or extra:
            said = []
            if missing:
                said.append(f"no reading for {', '.join(missing)}")
            if extra:
                said.append(f"{', '.join(extra)} not in {self.table}")
            raise ValueError(f"file {self.name} ({self.table}): {'; '.join(said)}")
        if self.dated_by is not None and self.dated_by not in wanted:
            raise ValueError(f"file {self.name}: dated_by {self.dated_by!r} is not a field")
        return self

    def specs(self) -> dict[str, Spec]:
        """Each contract column's reading."""
        return {name: _spec(raw) for name, raw in self.fields.items()}

    def identity_specs(self) -> dict[str, Spec]:
        """Each identity field's reading."""
        return {name: _spec(raw) for name, raw in self.identity.items()}

    def files(self, folder: Path) -> list[Path]:
        """The files of ``folder`` this mapping reads, in name order."""
        return sorted(folder.glob(self.pattern or f"{self.name}.csv"))


class Mapping(BaseModel):
    """One agency's extract format: its files and how each is read."""

    model_config = ConfigDict(extra="forbid")
    source: str
    follows: str
    files: list[FileMapping]


def load_mapping(path: str | Path) -> Mapping:
    """Read and check one mapping file.

    Raises
    ------
    ValueError
        Naming the file and what is wrong in it.
    """
    path = Path(path)
    try:
        mapping = Mapping.model_validate(yaml.safe_load(path.read_text()))
        for file in mapping.files:
            file.specs(), file.identity_specs()
    except (ValidationError, ValueError, yaml.YAMLError) as err:
        raise ValueError(f"{path}: {err}. Correct the mapping and run again.") from None
    return mapping


def load_mappings(folder: str | Path | None = None) -> list[Mapping]:
    """Every mapping in ``folder`` (the package's unless given), one per source."""
    folder = Path(folder or DEFAULT_MAPPINGS)
    mappings = [load_mapping(p) for p in sorted(folder.glob("*.yaml"))]
    if not mappings:
        raise ValueError(f"no mappings (*.yaml) in {folder}; give the folder that holds them")
    return mappings


@dataclass
class SourceRows:
    """What one agency's extract says, in the contract's terms.

    Attributes
    ----------
    tables : dict of str to pd.DataFrame
        Contract rows by table, with ``source`` and ``source_record_id`` in place of
        ``child_id``.
    identities : pd.DataFrame
        One row per identity reading: ``source, source_record_id, seen`` and the
        :data:`IDENTITY_FIELDS` a file gave (missing where it gave none).
    problems : list of Problem
        Unmapped codes, unreadable values and missing columns: any one stops the linkage.
    dropped : list of Problem
        Rows left out (no person reference), with where they are and what to do.
    rows_read : dict of str to int
        Data rows read per file.
    """

    tables: dict[str, list[pd.DataFrame]] = field(default_factory=dict)
    identities: list[pd.DataFrame] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    dropped: list[Problem] = field(default_factory=list)
    rows_read: dict[str, int] = field(default_factory=dict)


def read_source(mapping: Mapping, raw_dir: Path, rows: SourceRows | None = None) -> SourceRows:
    """Read every file of one agency's extract with its mapping.

    Parameters
    ----------
    mapping : Mapping
    raw_dir : pathlib.Path
        The folder of raw extracts; this agency's files are in ``raw_dir/<source>/``.
    rows : SourceRows, optional
        Add to these (to gather every agency's rows in one place).
    """
    rows = rows or SourceRows()
    folder = Path(raw_dir) / mapping.source
    for file_mapping in mapping.files:
        found = file_mapping.files(folder)
        if not found and file_mapping.optional:
            continue
        if not found:
            rows.problems.append(
                Problem(
                    f"{mapping.source}/{file_mapping.pattern or file_mapping.name + '.csv'}",
                    None,
                    (),
                    f"no such file in {folder}",
                    "Add the agency's extract there, or remove the file from its mapping",
                )
            )
            continue
        for path in found:
            _read_file(mapping.source, file_mapping, path, rows)
    return rows


def _read_file(source: str, fm: FileMapping, path: Path, rows: SourceRows) -> None:
    where = f"{source}/{path.name}"
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    rows.rows_read[where] = len(frame)
    needed = _columns_read(fm)
    absent = [c for c in needed if c not in frame.columns]
    for column in absent:
        rows.problems.append(
            Problem(
                where,
                column,
                (),
                "the file has no such column",
                f"Add it to the extract, or change the mapping of {source}",
            )
        )
    if absent:
        return
    record = frame[fm.record_id].str.strip()
    no_id = record == ""
    if no_id.any():
        rows.dropped.append(
            Problem(
                where,
                fm.record_id,
                _rows(no_id),
                f"{int(no_id.sum())} rows have no person reference and were left out",
                "Ask the agency to fill the reference, or accept that these rows are not linked",
            )
        )
    frame, record = frame[~no_id], record[~no_id]
    problems = rows.problems
    out = pd.DataFrame({"source": source, "source_record_id": record}, index=frame.index)
    if fm.table:
        for name, spec in fm.specs().items():
            out[name] = _read(spec, frame, column_kind(fm.table, name), where, name, problems)
        rows.tables.setdefault(fm.table, []).append(out.reset_index(drop=True))
    ident = pd.DataFrame({"source": source, "source_record_id": record}, index=frame.index)
    ident["seen"] = out[fm.dated_by] if fm.dated_by else pd.NaT
    for name, spec in fm.identity_specs().items():
        kind = "date" if name == "dob" else "text"
        ident[name] = _read(spec, frame, kind, where, name, problems)
    rows.identities.append(ident.reset_index(drop=True))


def _columns_read(fm: FileMapping) -> list[str]:
    cols = [fm.record_id]
    for spec in [*fm.specs().values(), *fm.identity_specs().values()]:
        if isinstance(spec, Column):
            cols.append(spec.column)
        elif isinstance(spec, Sum):
            cols += spec.sum
        elif isinstance(spec, OpenPeriod):
            cols += [*spec.open_period, spec.on]
        elif isinstance(spec, FirstOf):
            cols += [c.column for c in spec.first_of]
    return list(dict.fromkeys(cols))


def _rows(mask: pd.Series) -> tuple[int, ...]:
    return tuple(int(i) + 1 for i in np.flatnonzero(mask.to_numpy()))


def _read(spec: Spec, frame: pd.DataFrame, kind: str, where: str, name: str, problems) -> pd.Series:
    """One contract column (or identity field) from the raw frame, in its contract type."""
    if isinstance(spec, Value):
        return _typed(
            pd.Series([spec.value] * len(frame), index=frame.index, dtype=object),
            kind,
            where,
            name,
            name,
            problems,
        )
    if isinstance(spec, Sum):
        parts = [_typed(frame[c], "number", where, c, name, problems) for c in spec.sum]
        total = sum(p.astype("float64") for p in parts)
        return _typed(total, kind, where, "+".join(spec.sum), name, problems)
    if isinstance(spec, OpenPeriod):
        start, end = (_date(frame[c], spec.date, where, c, problems) for c in spec.open_period)
        on = _date(frame[spec.on], spec.date, where, spec.on, problems)
        covered = start.notna() & (start <= on) & (end.isna() | (end >= on))
        return covered.astype(bool)
    if isinstance(spec, FirstOf):
        values = pd.Series([None] * len(frame), index=frame.index, dtype=object)
        for reading in spec.first_of:
            got = _column_values(reading, frame, where, name, problems)
            values = values.where(values.notna(), got)
        return _typed(values, kind, where, spec.first_of[-1].column, name, problems)
    values = _column_values(spec, frame, where, name, problems)
    if spec.date is not None:
        return values
    return _typed(values, kind, where, spec.column, name, problems)


def _column_values(spec: Column, frame: pd.DataFrame, where: str, name: str, problems) -> pd.Series:
    text = frame[spec.column].str.strip()
    empty = text == ""
    if spec.date is not None:
        values = _date(text, spec.date, where, spec.column, problems)
    elif spec.codes is not None:
        known = text.isin(list(spec.codes))
        unmapped = ~empty & ~known
        if unmapped.any() and spec.others == "report":
            codes = ", ".join(repr(c) for c in sorted(text[unmapped].unique())[:8])
            problems.append(
                Problem(
                    where,
                    spec.column,
                    _rows(unmapped),
                    f"codes {codes} have no meaning in the mapping of {name}",
                    f"Add them to the codes of {name} in the mapping, or correct the extract",
                )
            )
        values = text.map(spec.codes).astype(object)
        values[~known] = None
    else:
        values = text.astype(object)
        values[empty] = None
    if spec.empty is not None:
        values[empty] = spec.empty
    if spec.scale is not None:
        numbers = pd.to_numeric(values, errors="coerce")
        values = (numbers * spec.scale).astype(object)
        values[numbers.isna()] = None
    return values


def _date(text: pd.Series, fmt: str, where: str, column: str, problems) -> pd.Series:
    text = text.astype(str).str.strip()
    empty = text == ""
    parsed = pd.to_datetime(text.where(~empty), format=fmt, errors="coerce")
    bad = ~empty & parsed.isna()
    if bad.any():
        shown = ", ".join(repr(v) for v in text[bad].unique()[:5])
        example = dt.date(2026, 9, 1).strftime(fmt)
        problems.append(
            Problem(
                where,
                column,
                _rows(bad),
                f"dates {shown} do not read as {fmt} (e.g. {example})",
                "Correct the dates, or the date format in the mapping",
            )
        )
    return parsed


def _typed(values: pd.Series, kind: str, where: str, column: str, name: str, problems) -> pd.Series:
    if kind in ("text", "category"):
        return values.astype(object).where(values.notna(), None)
    if kind == "bool" and values.map(lambda v: v is None or isinstance(v, bool | np.bool_)).all():
        return values
    as_text = values.map(
        lambda v: (
            ""
            if v is None or (isinstance(v, float) and np.isnan(v))
            else str(v).lower()
            if isinstance(v, bool | np.bool_)
            else str(v)
        )
    )
    parsed = parse_column(kind, as_text.where(as_text != "", None).astype("str"))
    if parsed.bad.any():
        shown = ", ".join(repr(v) for v in as_text[parsed.bad].unique()[:5])
        problems.append(
            Problem(
                where,
                column,
                _rows(parsed.bad),
                f"values {shown} do not read as {kind} for {name}",
                "Correct the extract, or how the mapping reads this column",
            )
        )
    return parsed.values
