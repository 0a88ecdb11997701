"""The temporal split on a real (small synthetic) feature table: nothing leaks across it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.build import build_features, default_snapshot_dates, label_column
from features.pointintime import index_records
from features.synth import SynthConfig, generate
from training.split import SplitError, held_out, temporal_split

YEAR = pd.DateOffset(months=12)
OUTCOMES = ("exclusion_neet", "serious_violence")


def complete_anchors(table: pd.DataFrame, label: str) -> list[pd.Timestamp]:
    """Annual (September) snapshot dates whose every label is known, computed here."""
    known = table[label].notna().groupby(table["snapshot_date"]).all()
    return sorted(pd.Timestamp(d) for d, ok in known.items() if ok and d.month == 9)


def at_dates(table: pd.DataFrame, *dates: str) -> pd.DataFrame:
    """The rows of ``table`` at the given snapshot dates."""
    return table[table["snapshot_date"].isin(pd.to_datetime(list(dates)))]


@pytest.fixture(scope="module", params=OUTCOMES)
def split_of(request, feature_table):
    label = label_column(request.param)
    return label, temporal_split(feature_table, label)


def test_no_child_is_in_both_training_and_test(feature_table, split_of):
    _, split = split_of
    children = feature_table["child_id"].to_numpy()
    fitted = set(children[split.train]) | set(children[split.validation])
    tested = set(children[split.test])
    assert tested and fitted
    assert not fitted & tested
    # and every held-out child's row on the test date is in the test set, none elsewhere
    held = held_out(feature_table["child_id"], 0.3, 7)
    on_test_date = feature_table["snapshot_date"].to_numpy() == np.datetime64(split.test_date)
    np.testing.assert_array_equal(split.test, np.flatnonzero(held & on_test_date))
    assert not held[split.train].any() and not held[split.validation].any()


def test_label_windows_do_not_overlap(feature_table, split_of):
    label, split = split_of
    when = pd.to_datetime(feature_table["snapshot_date"])
    train_dates = set(when.iloc[split.train])
    assert train_dates == set(split.train_dates)
    # every training label window (t, t + 12m] ends on or before the validation date ...
    assert all(t + YEAR <= split.validation_date for t in train_dates)
    # ... and validation's window ends on or before the test date
    assert set(when.iloc[split.validation]) == {split.validation_date}
    assert split.validation_date + YEAR <= split.test_date
    assert set(when.iloc[split.test]) == {split.test_date}
    # no part uses a row whose label is not yet known
    for rows in (split.train, split.validation, split.test):
        assert feature_table[label].iloc[rows].notna().all()


def test_test_date_is_the_latest_complete_anchor(feature_table, split_of):
    label, split = split_of
    anchors = complete_anchors(feature_table, label)
    assert split.test_date == anchors[-1] == pd.Timestamp("2025-09-01")
    # later snapshots exist, but their labels run past the end of the records
    assert pd.to_datetime(feature_table["snapshot_date"]).max() > split.test_date
    assert split.validation_date == split.test_date - YEAR
    assert split.train_dates and max(split.train_dates) <= split.validation_date - YEAR


def test_held_out_share_is_near_the_setting(feature_table):
    ids = pd.Series(feature_table["child_id"].unique())
    for share in (0.1, 0.3, 0.5):
        assert held_out(ids, share, seed=7).mean() == pytest.approx(share, abs=0.03)
    label = label_column("serious_violence")
    split = temporal_split(feature_table, label, test_child_share=0.3)
    on_test_date = feature_table[feature_table["snapshot_date"] == split.test_date]
    assert len(split.test) / len(on_test_date) == pytest.approx(0.3, abs=0.03)


def test_split_is_deterministic_and_seeded(feature_table):
    label = label_column("exclusion_neet")
    first = temporal_split(feature_table, label, seed=7)
    again = temporal_split(feature_table.copy(), label, seed=7)
    for part in ("train", "validation", "test"):
        np.testing.assert_array_equal(getattr(first, part), getattr(again, part))
    assert first.describe() == again.describe()
    other = temporal_split(feature_table, label, seed=8)
    assert not np.array_equal(first.test, other.test)  # the seed picks the held-out children


def test_records_too_short_for_a_split_are_refused():
    partnership = generate(SynthConfig(children=200, years=1, seed=3))
    records = index_records(partnership.tables)
    table = build_features(records, default_snapshot_dates(records))
    with pytest.raises(SplitError) as caught:
        temporal_split(table, label_column("serious_violence"))
    message = str(caught.value)
    assert "too short for an honest temporal split" in message
    assert "training needs snapshots on or before" in message
    assert "validation on" in message and "a test on" in message
    assert "at least three years of records" in message and "--years 3" in message


def test_two_snapshots_are_not_enough(feature_table):
    label = label_column("exclusion_neet")
    two = at_dates(feature_table, "2024-09-01", "2025-09-01")
    assert len(two)
    with pytest.raises(SplitError, match="training needs snapshots on or before 2023-09-01"):
        temporal_split(two, label)
    # the quarter before the last possible training snapshot is not enough either ...
    with pytest.raises(SplitError, match="too short"):
        temporal_split(at_dates(feature_table, "2023-12-01", "2024-09-01", "2025-09-01"), label)
    # ... but with it back, the split works again
    three = at_dates(feature_table, "2023-09-01", "2024-09-01", "2025-09-01")
    assert temporal_split(three, label).train_dates == (pd.Timestamp("2023-09-01"),)


def test_an_empty_table_is_refused(feature_table):
    with pytest.raises(SplitError, match="no snapshot has a complete 12-month"):
        temporal_split(feature_table.iloc[:0], label_column("exclusion_neet"))


def test_no_complete_label_is_refused(feature_table):
    label = label_column("exclusion_neet")
    recent = feature_table[feature_table["snapshot_date"] > "2025-09-01"]
    assert recent[label].isna().all()
    with pytest.raises(SplitError, match="no snapshot has a complete 12-month"):
        temporal_split(recent, label)
