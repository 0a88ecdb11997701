"""Label bias seen from recorded data alone: two agencies' records of the same harm, by group.

A recorded outcome carries the recording practice of the agency that records it. Where a
second agency records the same harm under a different practice, the ratio of the two
agencies' records should not depend on the group: police-recorded victims of serious
violence against emergency-department assault attendances, for instance, since an ED sees an
injury whoever the police are more or less likely to record. :func:`triangulate` measures,
for every group, the ratio of the numerator agency's records to the denominator agency's,
and its disparity against a reference group, with a stratified bootstrap interval (whole
people resampled within their group: one person's records are not independent), and flags a
group whose interval lies wholly outside the band. No ground truth is needed.

What it assumes, and a board must read with it: the denominator agency's recording does not
itself differ by group. A flag says the two agencies disagree for that group, not which one
is right; no flag says only that a disparity of the size given as ``detectable`` would have
been seen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from fairness.groups import make_groupings, reference_of
from fairness.stats import percentile_interval, ratio

NUMERATOR = "numerator"
DENOMINATOR = "denominator"
SIDES = (NUMERATOR, DENOMINATOR)

ROW_COLUMNS = [
    "grouping",
    "group",
    "reference",
    "people",
    NUMERATOR,
    DENOMINATOR,
    "ratio",
    "ratio_low",
    "ratio_high",
    "disparity",
    "low",
    "high",
    "judged",
    "flag",
    "detectable",
    "note",
]


@dataclass(frozen=True)
class RecordPair:
    """Two agencies' records of one harm, as a board reads them.

    Attributes
    ----------
    name : str
        What is compared, e.g. ``"serious_violence"``.
    numerator, denominator : str
        What each side's records are, in words ("police-recorded victims of serious
        violence", "emergency department assault attendances").
    assumes : str
        Why the ratio should not depend on the group, and when it might.
    """

    name: str
    numerator: str
    denominator: str
    assumes: str = ""


@dataclass(frozen=True)
class Triangulation:
    """One comparison of two agencies' records, by group: the result :func:`triangulate` gives.

    Attributes
    ----------
    pair : RecordPair
        What was compared.
    rows : pandas.DataFrame
        One row per group of every grouping (:data:`ROW_COLUMNS`): people with a record,
        each side's records, their ratio and its interval, the disparity against the
        reference group and its interval, whether it was judged (enough records on both
        sides, observed and expected at the reference's ratio), the flag, and the smallest
        disparity above the band this group's numbers could have shown.
    band : tuple of float
        Disparities inside it are not flagged.
    min_events : int
        Records each side needs, observed and expected, for a group to be judged.
    n_boot : int
        Bootstrap replicates behind each interval.
    window : tuple of str
        First and last day of the records compared (ISO dates), or empty.
    """

    pair: RecordPair
    rows: pd.DataFrame
    band: tuple[float, float]
    min_events: int
    n_boot: int
    window: tuple[str, str] | tuple[()] = field(default=())

    def flagged(self) -> pd.DataFrame:
        """The rows whose disparity interval lies wholly outside the band."""
        return self.rows[self.rows["flag"]].reset_index(drop=True)

    def row(self, grouping: str, group: str) -> pd.Series:
        """One group's row, e.g. ``row("ethnicity", "Black")``."""
        hit = self.rows[(self.rows["grouping"] == grouping) & (self.rows["group"] == group)]
        if hit.empty:
            known = ", ".join(
                f"{g}={v}" for g, v in self.rows[["grouping", "group"]].itertuples(index=False)
            )
            raise KeyError(f"no group {grouping}={group!r} in this comparison; there are {known}")
        return hit.iloc[0]

    def to_dict(self) -> dict:
        """A JSON-ready copy (NaN as None)."""
        rows = self.rows.astype(object).where(self.rows.notna(), None)
        return {
            "pair": {
                "name": self.pair.name,
                "numerator": self.pair.numerator,
                "denominator": self.pair.denominator,
                "assumes": self.pair.assumes,
            },
            "band": list(self.band),
            "min_events": self.min_events,
            "n_boot": self.n_boot,
            "window": list(self.window),
            "rows": rows.to_dict(orient="records"),
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> Triangulation:
        """The comparison :meth:`to_dict` wrote."""
        rows = pd.DataFrame(list(data["rows"]), columns=ROW_COLUMNS)
        for column in ("flag", "judged"):
            rows[column] = rows[column].astype(bool)
        floats = [c for c in ROW_COLUMNS[6:] if c not in ("judged", "flag", "note")]
        rows[floats] = rows[floats].astype(float)
        return cls(
            pair=RecordPair(**data["pair"]),
            rows=rows,
            band=tuple(data["band"]),
            min_events=int(data["min_events"]),
            n_boot=int(data["n_boot"]),
            window=tuple(data.get("window") or ()),
        )


def _people_counts(records: pd.DataFrame, person: str, side: str) -> pd.DataFrame:
    """Each person's records on each side (people with none on either side are absent)."""
    unknown = sorted(set(records[side].unique()) - set(SIDES))
    if unknown:
        raise ValueError(
            f"the {side!r} column must be {NUMERATOR!r} or {DENOMINATOR!r}; found {unknown}"
        )
    counts = pd.crosstab(records[person], records[side])
    return counts.reindex(columns=list(SIDES), fill_value=0)


def triangulate(
    records: pd.DataFrame,
    people: pd.DataFrame,
    pair: RecordPair,
    *,
    groups: Sequence[str],
    person: str = "child_id",
    side: str = "side",
    intersections: bool | Sequence[tuple[str, str]] = False,
    reference: Mapping[str, str] | None = None,
    band: tuple[float, float] = (0.8, 1.25),
    min_events: int = 10,
    n_boot: int = 1000,
    seed: int = 0,
    window: tuple[str, str] | tuple[()] = (),
) -> Triangulation:
    """Compare two agencies' records of the same harm, group by group.

    Parameters
    ----------
    records : pandas.DataFrame
        One row per record: ``person`` and ``side`` (``"numerator"`` or ``"denominator"``).
    people : pandas.DataFrame
        One row per person: ``person`` and the ``groups`` columns. Its group sizes choose
        the reference group (the largest) unless ``reference`` names one.
    pair : RecordPair
        What the two sides are, in words.
    groups : sequence of str
        Group columns of ``people``.
    intersections : bool or sequence of (str, str), default False
        Pairs of group columns to compare too.
    reference : mapping, optional
        Reference group per grouping, e.g. ``{"ethnicity": "White"}``.
    band : (float, float), default (0.8, 1.25)
        Disparities inside it are not flagged.
    min_events : int, default 10
        Records each side needs in a group, observed and expected at the reference's ratio,
        for the group to be judged; a group below it is reported, never flagged.
    n_boot : int, default 1000
        Bootstrap replicates.
    seed : int, default 0
        Seed of the bootstrap.
    window : (str, str), optional
        The records' first and last day, as the report names them.

    Returns
    -------
    Triangulation

    Raises
    ------
    ValueError
        If a column is missing, a person's group is unknown, or a side is neither.
    """
    for frame, name, needed in (
        (records, "records", [person, side]),
        (people, "people", [person, *groups]),
    ):
        missing = [c for c in needed if c not in frame.columns]
        if missing:
            raise ValueError(
                f"{name} has no column {', '.join(map(repr, missing))}; its columns are "
                f"{', '.join(map(str, frame.columns))}"
            )
    if not 0 < band[0] <= 1 <= band[1]:
        raise ValueError(f"band must be (low, high) with 0 < low <= 1 <= high; got {band}")
    people = people.drop_duplicates(person).set_index(person)
    strangers = pd.Index(records[person].unique()).difference(people.index)
    if len(strangers):
        raise ValueError(
            f"{len(strangers)} people in the records are not in the people table (e.g. "
            f"{strangers[0]!r}); give every recorded person their groups"
        )
    counts = _people_counts(records, person, side)
    rng = np.random.default_rng(seed)
    rows = []
    for grouping in make_groupings(people[list(groups)], intersections):
        codes = pd.Series(grouping.codes, index=people.index)
        who = codes.reindex(counts.index).to_numpy()
        ref = reference_of(grouping, grouping.sizes(), reference)
        reps, point = {}, {}
        for g in range(grouping.n_groups):
            mine = counts.to_numpy()[who == g]
            point[g] = mine.sum(axis=0)
            if len(mine):
                draws = rng.integers(0, len(mine), (n_boot, len(mine)))
                totals = mine[draws].sum(axis=1)
                reps[g] = ratio(totals[:, 0], totals[:, 1])
            else:
                reps[g] = np.full(n_boot, np.nan)
        ref_ratio = ratio(point[ref][0], point[ref][1])
        for g in range(grouping.n_groups):
            rows.append(
                _row(
                    grouping.name,
                    grouping.labels[g],
                    grouping.labels[ref],
                    int(grouping.sizes()[g]),
                    point[g],
                    reps[g],
                    ref_ratio,
                    point[ref],
                    None if g == ref else reps[ref],
                    band=band,
                    min_events=min_events,
                )
            )
    return Triangulation(
        pair=pair,
        rows=pd.DataFrame(rows, columns=ROW_COLUMNS),
        band=(float(band[0]), float(band[1])),
        min_events=int(min_events),
        n_boot=int(n_boot),
        window=tuple(window),
    )


def _row(
    grouping,
    group,
    reference,
    people,
    sums,
    reps,
    ref_ratio,
    ref_sums,
    ref_reps,
    *,
    band,
    min_events,
) -> dict:
    """One group's figures, judgement and note."""
    num, den = int(sums[0]), int(sums[1])
    own = float(ratio(num, den))
    own_low, own_high = percentile_interval(reps, 0.95)
    out = {
        "grouping": grouping,
        "group": group,
        "reference": reference,
        "people": people,
        NUMERATOR: num,
        DENOMINATOR: den,
        "ratio": own,
        "ratio_low": float(own_low),
        "ratio_high": float(own_high),
        "disparity": np.nan,
        "low": np.nan,
        "high": np.nan,
        "judged": False,
        "flag": False,
        "detectable": np.nan,
        "note": "",
    }
    if ref_reps is None:
        out.update(disparity=1.0, note="reference group")
        return out
    disparity = own / ref_ratio if ref_ratio and np.isfinite(ref_ratio) else np.nan
    low, high = percentile_interval(reps / ref_reps, 0.95)
    out.update(disparity=disparity, low=float(low), high=float(high))
    expected_num = den * ref_ratio if np.isfinite(ref_ratio) else 0.0
    fewest = min(num, den, expected_num, int(ref_sums[0]), int(ref_sums[1]))
    if not np.isfinite(disparity) or fewest < min_events:
        out["note"] = f"not judged: under {min_events} records"
        return out
    flag = bool(low > band[1] or high < band[0])
    out.update(judged=True, flag=flag)
    if low > 0:
        # the disparity whose interval, as wide as this one, would just clear the band
        out["detectable"] = float(band[1] * disparity / low)
    return out
