"""Raw agency extracts: each agency's copy of the partnership's events, as that agency holds it.

Each agency's files use the field names and code lists of its published specification
(``linkage/mappings/<source>.yaml`` reads them back into contract rows), its own person
reference and its own noisy copy of each child's identity
(:func:`linkage.synth.noise.agency_records`). One module per agency writes its files.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from linkage.synth.raw import careers, health, police, school, social_care, youth_justice
from linkage.synth.raw.common import assign, identities

SOURCES = ("school", "social_care", "police", "health", "youth_justice", "careers")
"""The agencies, as named in ``agency_records``' ``source``."""

COLUMNS = {
    "school": school.COLUMNS,
    "social_care": social_care.COLUMNS,
    "police": police.COLUMNS,
    "health": health.COLUMNS,
    "youth_justice": youth_justice.COLUMNS,
    "careers": careers.COLUMNS,
}
"""For each source, each file's columns."""

Tables = dict[str, pd.DataFrame]


def _school(tables: Tables, who: pd.DataFrame, rng) -> dict[str, pd.DataFrame]:
    census, excluded = tables["school_census"], tables["exclusions"]
    return {
        "census_pupils": school.census_pupils(census, assign(census["child_id"], who, rng), rng),
        "exclusions": school.exclusions(excluded, assign(excluded["child_id"], who, rng), rng),
        "siblings": school.siblings(_relationships(tables), who, rng),
    }


def _social_care(tables: Tables, who: pd.DataFrame, rng) -> dict[str, pd.DataFrame]:
    rows = tables["social_care"]
    return social_care.social_care_files(rows, who, assign(rows["child_id"], who, rng), rng)


def _police(tables: Tables, who: pd.DataFrame, rng) -> dict[str, pd.DataFrame]:
    rows = tables["police"]
    return {
        "involvements": police.involvements(rows, assign(rows["child_id"], who, rng)),
        "associates": police.associates(_relationships(tables), who, rng),
    }


def _relationships(tables: Tables) -> pd.DataFrame:
    empty = pd.DataFrame(columns=["child_id", "related_child_id", "relationship"])
    return tables.get("relationships", empty)


def _health(tables: Tables, who: pd.DataFrame, rng) -> dict[str, pd.DataFrame]:
    rows = tables["health"].reset_index(drop=True)
    unknown = sorted(set(rows["setting"]) - set(health.SETTINGS.values()))
    if unknown:
        raise ValueError(f"no health file for setting {unknown}")
    writers = {
        "ecds_attendances": health.ecds_attendances,
        "mhsds_referrals": health.mhsds_referrals,
    }
    out = {}
    for name, write in writers.items():
        part = rows[rows["setting"] == health.SETTINGS[name]].reset_index(drop=True)
        out[name] = write(part, assign(part["child_id"], who, rng))
    return out


def _youth_justice(tables: Tables, who: pd.DataFrame, rng) -> dict[str, pd.DataFrame]:
    rows = tables["youth_justice"]
    return {"outcomes": youth_justice.outcomes(rows, assign(rows["child_id"], who, rng), rng)}


def _careers(tables: Tables, who: pd.DataFrame, rng) -> dict[str, pd.DataFrame]:
    rows = tables["education_status"]
    return {"nccis": careers.nccis(rows, assign(rows["child_id"], who, rng), rng)}


BUILDERS: dict[str, Callable[[Tables, pd.DataFrame, np.random.Generator], Tables]] = {
    "school": _school,
    "social_care": _social_care,
    "police": _police,
    "health": _health,
    "youth_justice": _youth_justice,
    "careers": _careers,
}


def raw_extracts(
    tables: dict[str, pd.DataFrame], records: pd.DataFrame, rng: np.random.Generator
) -> dict[str, dict[str, pd.DataFrame]]:
    """Every agency's raw extract files.

    Parameters
    ----------
    tables : dict of str to pd.DataFrame
        The partnership's contract tables (``school_census``, ``exclusions``,
        ``social_care``, ``police``, ``health``, ``youth_justice``, ``education_status``).
    records : pd.DataFrame
        The person records every agency holds (:func:`linkage.synth.noise.agency_records`);
        every child with an event in a source must have a record there.
    rng : numpy.random.Generator

    Returns
    -------
    dict of str to dict of str to pd.DataFrame
        For each source of :data:`SOURCES`, each file's name (no ``.csv``) and its rows:
        text columns (:data:`COLUMNS`), an empty string for a missing value. Each event row
        is in exactly one file, under one of its child's records in that source (chosen at
        random per row when the agency holds the child twice).

    Raises
    ------
    ValueError
        If a child has events in a source but no record there, or a contract value has no
        code in its agency's list.
    """
    out = {}
    for source in SOURCES:
        who = identities(records[records["source"] == source], rng)
        out[source] = BUILDERS[source](tables, who, rng)
    return out


def write_raw(raw: dict[str, dict[str, pd.DataFrame]], lookup: pd.DataFrame, out: Path) -> Path:
    """Write the raw extracts and the postcode directory, replacing ``out`` whole.

    Parameters
    ----------
    raw : dict of str to dict of str to pd.DataFrame
        :func:`raw_extracts`' files, written to ``out/<source>/<file>.csv``.
    lookup : pd.DataFrame
        The postcode directory (``postcode, area``), written to
        ``out/reference/postcodes.csv``.
    out : pathlib.Path
        The folder to write. The files go to ``out.parent/.<out.name>.partial`` first,
        which is renamed to ``out`` once complete; an existing ``out`` is removed only then.

    Returns
    -------
    pathlib.Path
        ``out``.
    """
    out = Path(out)
    staging = out.parent / f".{out.name}.partial"
    if staging.exists():
        shutil.rmtree(staging)
    try:
        for source, files in raw.items():
            (staging / source).mkdir(parents=True)
            for name, rows in files.items():
                rows.to_csv(staging / source / f"{name}.csv", index=False, encoding="utf-8")
        (staging / "reference").mkdir(parents=True)
        lookup[["postcode", "area"]].to_csv(
            staging / "reference" / "postcodes.csv", index=False, encoding="utf-8"
        )
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _replace(staging, out)
    return out


def _replace(staging: Path, out: Path) -> None:
    """Move the complete ``staging`` folder to ``out``, removing any earlier ``out`` after."""
    if not out.exists():
        staging.rename(out)
        return
    old = out.parent / f".{out.name}.old"
    if old.exists():
        shutil.rmtree(old)
    out.rename(old)
    try:
        staging.rename(out)
    except BaseException:
        old.rename(out)
        raise
    shutil.rmtree(old)
