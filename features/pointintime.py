"""Point-in-time views of the partnership's records: nothing from the future.

The chain, for one snapshot date ``t``:

1. :func:`index_records` — once per partnership: give every row its child's position and sort
   each table by its date, so later steps are array operations.
2. :func:`cohort_on` — the children the snapshot is about (aged 10-17 on ``t``).
3. :func:`known_by` — only rows dated on or before ``t``: the "nothing from the future" filter.
4. :func:`hide_future_ends` — an episode that ends after ``t`` is, on ``t``, still open.
5. :func:`within_months` — rows in the look-back window ``(t - months, t]``.

:class:`AsOf` strings these together and gives feature functions a few vectorised
aggregations (count, total, latest, open episodes, links to siblings and peers).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

DATE_COLUMN = {
    "school_census": "term_start",
    "exclusions": "date",
    "social_care": "start",
    "police": "date",
    "health": "date",
    "youth_justice": "date",
    "education_status": "month",
}
"""The column that dates each event table's rows: a row is known from that date on."""

COHORT_AGES = (10, 17)
"""The partnership's children for a snapshot: aged 10 to 17 on the snapshot date."""


@dataclass(frozen=True)
class Records:
    """A partnership's tables, indexed by child position and sorted by date.

    Attributes
    ----------
    children : pd.DataFrame
        The children table; its row order defines each child's position.
    tables : dict of str to pd.DataFrame
        Each event table with an integer ``_child`` column (the child's position), sorted
        by its date column.
    links : pd.DataFrame
        ``_child``, ``_related`` positions and ``relationship`` (empty if no links table).
    area : np.ndarray
        Integer area code per child position.
    """

    children: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    links: pd.DataFrame
    area: np.ndarray

    @property
    def n_children(self) -> int:
        """How many children the partnership holds."""
        return len(self.children)

    @cached_property
    def _birth_year_month(self) -> tuple[np.ndarray, np.ndarray]:
        birth = pd.DatetimeIndex(self.children["birth_month"])
        return birth.year.to_numpy(), birth.month.to_numpy()

    def ages_on(self, t: pd.Timestamp) -> np.ndarray:
        """Each child's age in whole years on ``t`` (birthdays fall on the 1st of the month)."""
        year, month = self._birth_year_month
        return (t.year - year) - (t.month < month).astype(int)

    def data_end(self) -> pd.Timestamp:
        """The latest date in any event table: labels need their whole window before it."""
        ends = [frame[DATE_COLUMN[name]].max() for name, frame in self.tables.items() if len(frame)]
        return max(ends) if ends else pd.NaT


def index_records(tables: Mapping[str, pd.DataFrame]) -> Records:
    """Index a partnership's validated tables for point-in-time lookups.

    Parameters
    ----------
    tables : mapping of str to pd.DataFrame
        At least ``children`` and the event tables of :data:`DATE_COLUMN`; ``relationships``
        is optional.

    Returns
    -------
    Records
    """
    children = tables["children"].reset_index(drop=True)
    position = pd.Index(children["child_id"])
    indexed = {}
    for name, date_col in DATE_COLUMN.items():
        frame = tables[name]
        frame = frame.assign(_child=position.get_indexer(frame["child_id"]))
        indexed[name] = frame.sort_values([date_col, "_child"], kind="stable").reset_index(
            drop=True
        )
    rel = tables.get("relationships")
    if rel is None or not len(rel):
        links = pd.DataFrame(
            {"_child": np.array([], int), "_related": np.array([], int), "relationship": []}
        )
    else:
        links = pd.DataFrame(
            {
                "_child": position.get_indexer(rel["child_id"]),
                "_related": position.get_indexer(rel["related_child_id"]),
                "relationship": rel["relationship"].to_numpy(),
            }
        )
    area = pd.factorize(children["area"])[0]
    return Records(children=children, tables=indexed, links=links, area=area)


def cohort_on(records: Records, t: pd.Timestamp, ages: tuple[int, int] = COHORT_AGES) -> np.ndarray:
    """Positions of the children aged ``ages[0]`` to ``ages[1]`` on ``t``."""
    age = records.ages_on(t)
    return np.flatnonzero((age >= ages[0]) & (age <= ages[1]))


def known_by(rows: pd.DataFrame, date_col: str, t: pd.Timestamp) -> pd.DataFrame:
    """Rows dated on or before ``t``: what the partnership could have known on ``t``."""
    return rows[rows[date_col].to_numpy() <= np.datetime64(t)]


def hide_future_ends(episodes: pd.DataFrame, t: pd.Timestamp) -> pd.DataFrame:
    """Episodes as seen on ``t``: an end date after ``t`` is not yet known, so it is blank."""
    ends_later = episodes["end"].to_numpy() > np.datetime64(t)
    if not ends_later.any():
        return episodes
    return episodes.assign(end=episodes["end"].mask(ends_later))


def within_months(rows: pd.DataFrame, date_col: str, t: pd.Timestamp, months: int) -> pd.DataFrame:
    """Rows dated in ``(t - months, t]``; rows must already be :func:`known_by` ``t``."""
    start = np.datetime64(t - pd.DateOffset(months=months))
    return rows[rows[date_col].to_numpy() > start]


def months_before(t: pd.Timestamp, months: int) -> pd.Timestamp:
    """The date ``months`` calendar months before ``t``."""
    return t - pd.DateOffset(months=months)


class AsOf:
    """The partnership's records as they stood on one snapshot date.

    Aggregations return one float per child in the cohort (``everyone=True``: per child in the
    partnership, for sibling, peer and neighbourhood features), NaN where nothing is known.
    Keyword filters select rows: ``role="suspect"`` or ``kind=("cp", "cla")``.

    Parameters
    ----------
    records : Records
        The indexed partnership.
    t : pd.Timestamp
        The snapshot date.
    cohort : np.ndarray, optional
        Child positions; default: :func:`cohort_on` ``t``.
    """

    def __init__(self, records: Records, t: pd.Timestamp, cohort: np.ndarray | None = None):
        self.records = records
        self.t = pd.Timestamp(t)
        self.cohort = cohort_on(records, self.t) if cohort is None else cohort
        self._cache: dict[tuple, pd.DataFrame] = {}

    @property
    def n(self) -> int:
        """How many children the snapshot is about."""
        return len(self.cohort)

    @cached_property
    def age(self) -> np.ndarray:
        """Each cohort child's age in whole years on the snapshot date."""
        return self.records.ages_on(self.t)[self.cohort].astype(float)

    def rows(self, table: str, months: int | None = None, **where) -> pd.DataFrame:
        """The table's rows known on ``t``, within ``months`` if given, matching ``where``."""
        key = (table, months)
        if key not in self._cache:
            date_col = DATE_COLUMN[table]
            rows = known_by(self.records.tables[table], date_col, self.t)
            if table == "social_care":
                rows = hide_future_ends(rows, self.t)
            if months is not None:
                rows = within_months(rows, date_col, self.t, months)
            self._cache[key] = rows
        rows = self._cache[key]
        if where:
            mask = np.ones(len(rows), dtype=bool)
            for column, value in where.items():
                values = rows[column].to_numpy()
                if isinstance(value, tuple | list | set | frozenset):
                    mask &= np.isin(values, list(value))
                else:
                    mask &= values == value
            rows = rows[mask]
        return rows

    def _per_child(self, values: np.ndarray, everyone: bool) -> np.ndarray:
        return values if everyone else values[self.cohort]

    def count(
        self, table: str, months: int | None = None, *, everyone=False, **where
    ) -> np.ndarray:
        """How many matching rows each child has."""
        child = self.rows(table, months, **where)["_child"].to_numpy()
        counts = np.bincount(child, minlength=self.records.n_children).astype(float)
        return self._per_child(counts, everyone)

    def any(self, table: str, months: int | None = None, *, everyone=False, **where) -> np.ndarray:
        """1 where the child has a matching row, else 0."""
        return (self.count(table, months, everyone=everyone, **where) > 0).astype(float)

    def total(
        self, table: str, column: str, months: int | None = None, *, everyone=False, **where
    ) -> np.ndarray:
        """The sum of ``column`` over each child's matching rows (NaN where there are none)."""
        rows = self.rows(table, months, **where)
        child = rows["_child"].to_numpy()
        n = self.records.n_children
        sums = np.bincount(child, weights=rows[column].to_numpy(float), minlength=n)
        seen = np.bincount(child, minlength=n) > 0
        return self._per_child(np.where(seen, sums, np.nan), everyone)

    def _latest_rows(
        self, table: str, months: int | None, skip: int, where: dict
    ) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """Matching rows, the children found, and each one's most recent row (after ``skip``)."""
        rows = self.rows(table, months, **where)
        child = rows["_child"].to_numpy()
        keep = np.ones(len(child), dtype=bool)
        found = last = np.array([], dtype=int)
        for _ in range(skip + 1):
            idx = np.flatnonzero(keep)
            found, first = np.unique(child[idx][::-1], return_index=True)
            last = idx[len(idx) - 1 - first]
            keep[last] = False
        return rows, found, last

    def latest(
        self,
        table: str,
        column: str,
        months: int | None = None,
        *,
        skip: int = 0,
        everyone=False,
        **where,
    ) -> np.ndarray:
        """``column`` on each child's most recent matching row (``skip=1``: the one before)."""
        rows, found, last = self._latest_rows(table, months, skip, where)
        out = np.full(self.records.n_children, np.nan)
        out[found] = rows[column].to_numpy()[last].astype(float)
        return self._per_child(out, everyone)

    def latest_is(
        self, table: str, column: str, value, months: int | None = None, *, everyone=False
    ) -> np.ndarray:
        """1 where ``column`` equals ``value`` on the child's most recent row, 0 if it does
        not, NaN if the child has no row."""
        rows, found, last = self._latest_rows(table, months, 0, {})
        out = np.full(self.records.n_children, np.nan)
        out[found] = (rows[column].to_numpy()[last] == value).astype(float)
        return self._per_child(out, everyone)

    def months_since_latest(self, table: str, *, everyone=False, **where) -> np.ndarray:
        """Whole months since each child's most recent matching row (NaN if none)."""
        date_col = DATE_COLUMN[table]
        rows = self.rows(table, None, **where)
        child = rows["_child"].to_numpy()
        days = (np.datetime64(self.t) - rows[date_col].to_numpy()) / np.timedelta64(1, "D")
        out = np.full(self.records.n_children, np.inf)
        np.minimum.at(out, child, days)
        out[np.isinf(out)] = np.nan
        return self._per_child(np.floor(out / 30.4375), everyone)

    def open_on_date(self, table: str = "social_care", *, everyone=False, **where) -> np.ndarray:
        """1 where the child has a matching episode open on the snapshot date, else 0."""
        rows = self.rows(table, None, **where)
        open_rows = rows[rows["end"].isna().to_numpy()]
        child = open_rows["_child"].to_numpy()
        flags = (np.bincount(child, minlength=self.records.n_children) > 0).astype(float)
        return self._per_child(flags, everyone)

    def active_within(self, table: str, months: int, *, everyone=False, **where) -> np.ndarray:
        """1 where a matching episode was open at any time in the last ``months``, else 0."""
        rows = self.rows(table, None, **where)
        start = np.datetime64(months_before(self.t, months))
        end = rows["end"].to_numpy()
        active = np.isnat(end) | (end > start)
        child = rows["_child"].to_numpy()[active]
        flags = (np.bincount(child, minlength=self.records.n_children) > 0).astype(float)
        return self._per_child(flags, everyone)

    def linked_any(self, flags: np.ndarray, relationship: str) -> np.ndarray:
        """1 where any sibling (or peer) of the child has ``flags`` set; NaN without links.

        Parameters
        ----------
        flags : np.ndarray
            One value per child in the partnership (``everyone=True``).
        relationship : {"sibling", "peer"}
        """
        links = self.records.links
        if not len(links):
            return np.full(self.n, np.nan)
        links = links[links["relationship"].to_numpy() == relationship]
        child = links["_child"].to_numpy()
        hit = flags[links["_related"].to_numpy()] > 0
        out = (np.bincount(child[hit], minlength=self.records.n_children) > 0).astype(float)
        return out[self.cohort]

    def area_mean(self, values: np.ndarray, among: np.ndarray | None = None) -> np.ndarray:
        """The mean of ``values`` over the children of each cohort child's neighbourhood.

        Parameters
        ----------
        values : np.ndarray
            One value per child in the partnership; NaN values are left out.
        among : np.ndarray of bool, optional
            Which children count (default: the snapshot's cohort).
        """
        area = self.records.area
        if among is None:
            among = np.zeros(self.records.n_children, dtype=bool)
            among[self.cohort] = True
        use = among & ~np.isnan(values)
        n_areas = area.max() + 1 if len(area) else 0
        sums = np.bincount(area[use], weights=values[use], minlength=n_areas)
        counts = np.bincount(area[use], minlength=n_areas)
        with np.errstate(invalid="ignore", divide="ignore"):
            means = sums / counts
        return means[area[self.cohort]]
