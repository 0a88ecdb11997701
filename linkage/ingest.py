"""Read a partnership's raw agency extracts into contract rows and person records."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from features.contract import Problem
from linkage.mapping import IDENTITY_FIELDS, Mapping, SourceRows, load_mappings, read_source

REFERENCE = "reference"
"""The folder of the raw extracts that holds the partnership's lookups, not an agency's."""

POSTCODES = "postcodes.csv"
"""The postcode directory (``postcode``, ``area``) in :data:`REFERENCE`: where each lives."""


@dataclass
class Ingested:
    """Every agency's extract, read and not yet linked.

    Attributes
    ----------
    tables : dict of str to pd.DataFrame
        Contract rows by table, keyed by ``source`` and ``source_record_id``.
    people : pd.DataFrame
        One row per person record (``source``, ``source_record_id``): its identity fields,
        each the newest an extract gave, and ``last_seen``, its newest dated row.
    postcodes : pd.DataFrame or None
        The postcode directory, if the raw extracts have one.
    problems : list of Problem
        What stops the linkage: nothing is written while there are any.
    dropped : list of Problem
        Rows left out, with what to do.
    rows_read : dict of str to int
    mappings : list of Mapping
    """

    tables: dict[str, pd.DataFrame]
    people: pd.DataFrame
    postcodes: pd.DataFrame | None
    problems: list[Problem]
    dropped: list[Problem]
    rows_read: dict[str, int]
    mappings: list[Mapping]


def ingest(raw_dir: str | Path, mappings: list[Mapping] | None = None) -> Ingested:
    """Read every agency's extract under ``raw_dir`` with its mapping.

    Parameters
    ----------
    raw_dir : path
        One folder per agency (``raw_dir/<source>/``), and ``reference/postcodes.csv``.
    mappings : list of Mapping, optional
        The package's mappings unless given.
    """
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise FileNotFoundError(
            f"{raw_dir} is not a folder of raw extracts; give the folder "
            "that holds one folder per agency"
        )
    mappings = mappings if mappings is not None else load_mappings()
    rows = SourceRows()
    for mapping in mappings:
        read_source(mapping, raw_dir, rows)
    unmapped = sorted(
        p.name
        for p in raw_dir.iterdir()
        if p.is_dir() and p.name != REFERENCE and p.name not in {m.source for m in mappings}
    )
    for name in unmapped:
        rows.problems.append(
            Problem(
                name,
                None,
                (),
                "this agency's folder has no mapping",
                "Write a mapping for it (linkage/mappings holds examples)",
            )
        )
    tables = {name: pd.concat(parts, ignore_index=True) for name, parts in rows.tables.items()}
    people = person_records(rows.identities)
    blank = people[list(IDENTITY_FIELDS)].isna().all(axis=1)
    if blank.any():
        # A reference no file gives an identity for (only named in a relationship, say)
        # cannot be linked to anyone: its rows are left out.
        nameless = people.loc[blank, ["source", "source_record_id"]]
        for source, refs in nameless.groupby("source")["source_record_id"]:
            rows.dropped.append(
                Problem(
                    source,
                    None,
                    (),
                    f"{len(refs)} person references have no identity in any file (e.g. "
                    f"{', '.join(map(repr, refs.head(3)))}); their rows were left out",
                    "Check the agency's extract gives each person it names an identity",
                )
            )
        people = people[~blank].reset_index(drop=True)
        known = pd.MultiIndex.from_frame(people[["source", "source_record_id"]])
        for name, table in tables.items():
            keep = pd.MultiIndex.from_frame(table[["source", "source_record_id"]]).isin(known)
            if name == "relationships":
                other = pd.MultiIndex.from_arrays([table["source"], table["related_child_id"]])
                keep &= other.isin(known)
            tables[name] = table[keep].reset_index(drop=True)
    return Ingested(
        tables=tables,
        people=people,
        postcodes=_postcodes(raw_dir),
        problems=rows.problems,
        dropped=rows.dropped,
        rows_read=rows.rows_read,
        mappings=mappings,
    )


def person_records(readings: list[pd.DataFrame]) -> pd.DataFrame:
    """One row per person record: each identity field from its newest reading that has one."""
    columns = ["source", "source_record_id", "seen", *IDENTITY_FIELDS]
    if not readings:
        return pd.DataFrame(columns=[*columns, "last_seen"])
    frame = pd.concat(readings, ignore_index=True).reindex(columns=columns)
    frame["seen"] = pd.to_datetime(frame["seen"])
    frame = frame.sort_values("seen", ascending=False, na_position="last", kind="stable")
    people = frame.groupby(["source", "source_record_id"], sort=True).first()
    people = people.rename(columns={"seen": "last_seen"}).reset_index()
    return people


def _postcodes(raw_dir: Path) -> pd.DataFrame | None:
    path = raw_dir / REFERENCE / POSTCODES
    if not path.exists():
        return None
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    table["postcode"] = table["postcode"].map(normal_postcode)
    return table.drop_duplicates("postcode")


def normal_postcode(text: object) -> str | None:
    """A postcode in one form: upper case, one space before the last three characters."""
    if not isinstance(text, str):
        return None
    squeezed = "".join(text.split()).upper()
    if len(squeezed) < 5:
        return squeezed or None
    return f"{squeezed[:-3]} {squeezed[-3:]}"
