"""Groupings of the audited rows: each group column, and intersections of pairs of them.

A grouping splits every row into exactly one group. Missing values form their own group,
:data:`MISSING`, so no row is silently dropped. An intersection's groups are the observed
combinations of its columns' values, labelled ``"Black × ehcp"``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd

MISSING = "(missing)"
"""The group of rows whose group column is empty."""

JOIN = " × "
"""Joins column names (``"ethnicity × send"``) and values (``"Black × ehcp"``)."""


@dataclass(frozen=True)
class Grouping:
    """One way of splitting the rows into groups.

    Attributes
    ----------
    name : str
        The column, or the columns joined by :data:`JOIN`.
    columns : tuple of str
        The group columns it is made of.
    labels : tuple of str
        Each group's label, in report order.
    values : tuple of tuple of str
        Each group's value in each column.
    codes : ndarray of int
        Each row's group, an index into ``labels``.
    """

    name: str
    columns: tuple[str, ...]
    labels: tuple[str, ...]
    values: tuple[tuple[str, ...], ...]
    codes: np.ndarray

    @property
    def n_groups(self) -> int:
        """Number of groups."""
        return len(self.labels)

    def sizes(self) -> np.ndarray:
        """Rows in each group."""
        return np.bincount(self.codes, minlength=self.n_groups)


def _as_strings(column: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each row's value as a string (:data:`MISSING` if empty) and the values in report order.

    A categorical column keeps its categories' order; otherwise values are sorted, with
    :data:`MISSING` last.
    """
    missing = column.isna().to_numpy()
    text = column.astype(object).where(~missing, MISSING).astype(str).to_numpy()
    present = set(np.unique(text))
    if isinstance(column.dtype, pd.CategoricalDtype):
        ordered = [str(c) for c in column.cat.categories if str(c) in present]
    else:
        ordered = sorted(present - {MISSING})
    if MISSING in present:
        ordered.append(MISSING)
    return text, ordered


def _grouping(frame: pd.DataFrame, columns: tuple[str, ...]) -> Grouping:
    """The grouping of ``frame`` by ``columns`` (one column, or a pair)."""
    texts, orders = zip(*(_as_strings(frame[c]) for c in columns), strict=True)
    ranks = [
        pd.Categorical(text, categories=order).codes
        for text, order in zip(texts, orders, strict=True)
    ]
    key = np.zeros(len(frame), dtype=np.int64)
    for rank, order in zip(ranks, orders, strict=True):
        key = key * len(order) + rank
    observed, codes = np.unique(key, return_inverse=True)
    values = []
    for k in observed:
        parts = []
        for order in reversed(orders):
            k, r = divmod(int(k), len(order))
            parts.append(order[r])
        values.append(tuple(reversed(parts)))
    return Grouping(
        name=JOIN.join(columns),
        columns=columns,
        labels=tuple(JOIN.join(v) for v in values),
        values=tuple(values),
        codes=codes.astype(np.int64),
    )


def make_groupings(
    frame: pd.DataFrame,
    intersections: bool | Sequence[tuple[str, str]] = True,
) -> list[Grouping]:
    """Every group column of ``frame``, then the intersections asked for.

    Parameters
    ----------
    frame : pandas.DataFrame
        One column per group column, one row per audited row.
    intersections : bool or sequence of (str, str), default True
        True: every pair of columns, in column order; False: none; or the pairs to use.

    Returns
    -------
    list of Grouping
    """
    columns = [str(c) for c in frame.columns]
    if len(set(columns)) != len(columns):
        raise ValueError(f"group columns must be distinct, got {columns}")
    if intersections is True:
        pairs = list(combinations(columns, 2))
    elif intersections is False:
        pairs = []
    else:
        pairs = [tuple(p) for p in intersections]
        unknown = sorted({c for p in pairs for c in p} - set(columns))
        if unknown or any(len(p) != 2 or p[0] == p[1] for p in pairs):
            raise ValueError(
                f"intersections must be pairs of distinct group columns {columns}; "
                f"got {list(intersections)}"
            )
    frame = frame.set_axis(columns, axis=1)
    return [_grouping(frame, (c,)) for c in columns] + [_grouping(frame, p) for p in pairs]


def reference_of(grouping: Grouping, sizes: np.ndarray, requested: Mapping[str, str] | None) -> int:
    """The reference group: the one requested, else the largest (the first of equals).

    An intersection's reference is the largest of its groups that agree with the references
    requested for its columns (``race=Caucasian`` makes ``race × sex``'s reference the larger
    of Caucasian × Female and Caucasian × Male), or exactly the one requested by its own name.

    Raises
    ------
    ValueError
        If a requested value does not occur, naming the values that do.
    """
    requested = {str(k): str(v) for k, v in (requested or {}).items()}
    if grouping.name in requested:
        wanted = tuple(requested[grouping.name].split(JOIN))
        if wanted not in grouping.values:
            raise ValueError(
                f"reference {grouping.name}={requested[grouping.name]!r} does not occur in the "
                f"data; its groups are: {', '.join(grouping.labels)}"
            )
        return grouping.values.index(wanted)
    agree = np.ones(grouping.n_groups, dtype=bool)
    for i, column in enumerate(grouping.columns):
        if column in requested:
            agree &= np.array([v[i] == requested[column] for v in grouping.values])
            if not agree.any():
                seen = sorted({v[i] for v in grouping.values})
                raise ValueError(
                    f"reference {column}={requested[column]!r} does not occur in the data; "
                    f"its groups are: {', '.join(seen)}"
                )
    return int(np.flatnonzero(agree)[np.argmax(sizes[agree])])
