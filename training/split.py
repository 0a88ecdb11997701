"""The honest temporal split: train on earlier snapshots, validate on the next, test last.

- test: the latest snapshot whose 12-month labels are complete (an annual anchor where there
  is one, so the synthetic ground truth applies), children of the held-out group only;
- validation: the snapshot 12 months before it, whose label window ends where the test's
  begins; used for early stopping and calibration;
- train: every complete snapshot whose label window ends on or before the validation date
  (12 months or more before it), so no training label overlaps validation's window.

Children are split once, by a hash of their id: a held-out child's rows are only ever in the
test set, so no child straddles training and test.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pandas as pd


class SplitError(ValueError):
    """The data cannot support an honest temporal split."""


@dataclass(frozen=True)
class TemporalSplit:
    """Row positions of each part of the feature table, and the dates they come from."""

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray
    train_dates: tuple[pd.Timestamp, ...]
    validation_date: pd.Timestamp
    test_date: pd.Timestamp

    def describe(self) -> dict:
        """Rows and dates of each part, for the data summary."""
        return {
            "train_rows": int(len(self.train)),
            "validation_rows": int(len(self.validation)),
            "test_rows": int(len(self.test)),
            "train_dates": [f"{d:%Y-%m-%d}" for d in self.train_dates],
            "validation_date": f"{self.validation_date:%Y-%m-%d}",
            "test_date": f"{self.test_date:%Y-%m-%d}",
        }


def held_out(ids: pd.Series, share: float, seed: int) -> np.ndarray:
    """Whether each id is in the held-out (test) group: a stable hash, not a random draw."""
    unique = pd.unique(ids.astype(str))
    digest = [hashlib.blake2b(f"{seed}:{i}".encode(), digest_size=8).digest() for i in unique]
    u = np.frombuffer(b"".join(digest), dtype=np.uint64) / np.float64(2**64)
    group = pd.Series(u < share, index=unique)
    return group.loc[ids.astype(str)].to_numpy()


def complete_dates(table: pd.DataFrame, label: str) -> list[pd.Timestamp]:
    """Snapshot dates whose labels are all known (their window has passed)."""
    known = table.groupby("snapshot_date")[label].apply(lambda s: s.notna().all())
    return sorted(pd.Timestamp(d) for d in known.index[known.to_numpy(dtype=bool)])


def temporal_split(
    table: pd.DataFrame, label: str, *, test_child_share: float = 0.3, seed: int = 7
) -> TemporalSplit:
    """Split a feature table for training, validation and test; see the module docstring.

    Raises
    ------
    SplitError
        When the records are too short for a split whose label windows do not overlap.
    """
    dates = complete_dates(table, label)
    if not dates:
        raise SplitError(
            f"no snapshot has a complete 12-month {label}: the records must run at least a "
            "year past the first snapshot"
        )
    anchors = [d for d in dates if d.month == 9]
    test_date = anchors[-1] if anchors else dates[-1]
    validation_date = test_date - pd.DateOffset(months=12)
    last_train = validation_date - pd.DateOffset(months=12)
    train_dates = tuple(d for d in dates if d <= last_train)
    if validation_date not in dates or not train_dates:
        span = f"{dates[0]:%Y-%m-%d} to {dates[-1]:%Y-%m-%d}"
        raise SplitError(
            f"the records are too short for an honest temporal split: snapshots with complete "
            f"labels run {span}, but training needs snapshots on or before {last_train:%Y-%m-%d}, "
            f"validation on {validation_date:%Y-%m-%d} and a test on {test_date:%Y-%m-%d}. "
            "Give at least three years of records after a year of history "
            "(`lantern synth --years 3`)."
        )
    when = table["snapshot_date"].to_numpy()
    test_child = held_out(table["child_id"], test_child_share, seed)
    return TemporalSplit(
        train=np.flatnonzero(np.isin(when, np.array(train_dates, dtype=when.dtype)) & ~test_child),
        validation=np.flatnonzero((when == np.datetime64(validation_date)) & ~test_child),
        test=np.flatnonzero((when == np.datetime64(test_date)) & test_child),
        train_dates=train_dates,
        validation_date=validation_date,
        test_date=test_date,
    )
