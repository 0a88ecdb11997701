"""Build the point-in-time feature table: one row per child per snapshot date.

Each row's features come only from records dated on or before its snapshot date; its labels
from records in the outcome window after it. Protected characteristics ride along as audit
columns, never as features.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from features.outcomes import Outcomes, label, load_outcomes, outcome_dates
from features.pointintime import DATE_COLUMN, AsOf, Records, index_records
from features.registry import Registry, default_registry

KEY_COLUMNS = ("child_id", "snapshot_date")
AUDIT_COLUMNS = ("sex", "ethnicity", "send", "area")
"""Kept beside the features for the fairness audit only; never model inputs."""

SNAPSHOT_MONTHS = {"quarterly": (9, 12, 3, 6), "termly": (9, 1, 4), "annual": (9,)}
"""Snapshot months for each frequency; the year is anchored on 1 September, as schools are."""


def label_column(outcome: str) -> str:
    """The feature table's column holding ``outcome``'s label."""
    return f"label_{outcome}"


def snapshot_dates(
    start: pd.Timestamp, end: pd.Timestamp, frequency: str = "quarterly"
) -> list[pd.Timestamp]:
    """Snapshot dates (1st of the frequency's months) from ``start`` to ``end`` inclusive."""
    try:
        months = SNAPSHOT_MONTHS[frequency]
    except KeyError:
        raise ValueError(
            f"unknown snapshot frequency {frequency!r}; use one of {sorted(SNAPSHOT_MONTHS)}"
        ) from None
    first = pd.Timestamp(start).to_period("M").to_timestamp()
    candidates = pd.date_range(first, pd.Timestamp(end), freq="MS")
    return [t for t in candidates if t.month in months]


def coverage_start(records: Records) -> pd.Timestamp:
    """The month from which the extracts cover the partnership: the median of the tables'
    first dates, floored to the month.

    The median ignores both histories that reach far back (old social care episodes) and
    sparse tables whose first record comes late by chance (youth justice outcomes).
    """
    firsts = [
        frame[DATE_COLUMN[name]].min() for name, frame in records.tables.items() if len(frame)
    ]
    if not firsts:
        raise ValueError("the extracts hold no dated records: there is nothing to build from")
    return (
        pd.Series(firsts).sort_values().iloc[(len(firsts) - 1) // 2].to_period("M").to_timestamp()
    )


def default_snapshot_dates(records: Records, frequency: str = "quarterly") -> list[pd.Timestamp]:
    """Snapshot dates from a year after :func:`coverage_start` to the records' end."""
    start = coverage_start(records) + pd.DateOffset(months=12)
    return snapshot_dates(start, records.data_end(), frequency)


def audit_columns(asof: AsOf) -> dict[str, np.ndarray]:
    """Sex, ethnicity, SEND group and area of each cohort child, for auditing only."""
    children = asof.records.children.iloc[asof.cohort]
    rows, found, last = asof._latest_rows("school_census", None, 0, {})
    send = np.full(asof.records.n_children, "unknown", dtype=object)
    send[found] = rows["sen_status"].to_numpy()[last]
    return {
        "sex": children["sex"].to_numpy(),
        "ethnicity": children["ethnicity"].to_numpy(),
        "send": send[asof.cohort],
        "area": children["area"].to_numpy(),
    }


def build_snapshot(
    records: Records, t: pd.Timestamp, registry: Registry | None = None
) -> pd.DataFrame:
    """Features of every child in the cohort on ``t``, from records dated on or before ``t``.

    Parameters
    ----------
    records : Records
        The indexed partnership (:func:`features.pointintime.index_records`).
    t : pd.Timestamp
        The snapshot date.
    registry : Registry, optional
        The features to compute; default: all of :func:`features.registry.default_registry`.

    Returns
    -------
    pd.DataFrame
        ``child_id``, ``snapshot_date``, the audit columns and one float column per feature.
    """
    registry = default_registry() if registry is None else registry
    return snapshot_frame(AsOf(records, t), registry)


def snapshot_frame(asof: AsOf, registry: Registry) -> pd.DataFrame:
    """The features of ``asof``'s cohort (see :func:`build_snapshot`)."""
    columns: dict[str, np.ndarray] = {
        "child_id": asof.records.children["child_id"].to_numpy()[asof.cohort],
        "snapshot_date": np.full(asof.n, np.datetime64(asof.t, "ns")),
        **audit_columns(asof),
    }
    for name, spec in registry.items():
        values = np.asarray(spec.func(asof), dtype=float)
        if values.shape != (asof.n,):
            raise ValueError(
                f"feature {name} returned shape {values.shape}, expected ({asof.n},): a feature "
                "function must return one value per child in the snapshot's cohort"
            )
        columns[name] = values
    return pd.DataFrame(columns)


def build_features(
    tables: Mapping[str, pd.DataFrame] | Records,
    dates: Iterable[pd.Timestamp],
    *,
    registry: Registry | None = None,
    outcomes: Outcomes | None = None,
    observed_until: pd.Timestamp | None = None,
    progress=None,
) -> pd.DataFrame:
    """Build the feature table for several snapshot dates, with a label per outcome.

    Parameters
    ----------
    tables : mapping or Records
        The partnership's validated tables, or already indexed records.
    dates : iterable of pd.Timestamp
        Snapshot dates.
    registry : Registry, optional
        Features to compute (default: all).
    outcomes : Outcomes, optional
        Outcome definitions (default: the package's ``outcomes.yaml``).
    observed_until : pd.Timestamp, optional
        The last date the records cover; a label whose window runs past it is NaN.
        Default: the latest date in any event table.
    progress : callable, optional
        Called with each snapshot date as it is done (for a progress bar).

    Returns
    -------
    pd.DataFrame
        One row per child per snapshot: keys, audit columns, features, ``label_*`` columns.
    """
    records = tables if isinstance(tables, Records) else index_records(tables)
    registry = default_registry() if registry is None else registry
    outcomes = outcomes or load_outcomes()
    observed_until = pd.Timestamp(observed_until or records.data_end())
    events = {name: outcome_dates(records, outcome) for name, outcome in outcomes.items()}
    frames = []
    for t in dates:
        t = pd.Timestamp(t)
        asof = AsOf(records, t)
        frame = snapshot_frame(asof, registry)
        for name, outcome in outcomes.items():
            frame[label_column(name)] = label(
                events[name],
                asof.cohort,
                t,
                outcome.window_months,
                observed_until,
                records.n_children,
            )
        frames.append(frame)
        if progress:
            progress(t)
    if not frames:
        raise ValueError("no snapshot dates: the records cover no snapshot date")
    return pd.concat(frames, ignore_index=True)


def write_table(frame: pd.DataFrame, path: Path) -> Path:
    """Write a Parquet (or ``.csv``) file atomically: a crash leaves no half-written file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    try:
        if path.suffix == ".csv":
            frame.to_csv(partial, index=False)
        else:
            frame.to_parquet(partial, index=False)
        partial.replace(path)
    finally:
        partial.unlink(missing_ok=True)
    return path
