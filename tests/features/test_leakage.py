"""THE leakage test: features on a snapshot date ``t`` are blind to every record after ``t``.

On a small synthetic partnership, records dated after ``t`` are moved further into the future,
moved to the very next day, deleted or given other values: the features on ``t`` must not
change at all. Then a future record is moved to ``t`` or just before it: a feature must change
(so this test can fail), and moving it back after ``t`` must restore the features exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from features.build import build_snapshot
from features.pointintime import DATE_COLUMN, cohort_on, index_records

EVENT_TABLES = list(DATE_COLUMN)
DAY = pd.Timedelta(days=1)


def features_at(tables: dict[str, pd.DataFrame], t: pd.Timestamp) -> pd.DataFrame:
    """Every feature of every cohort child on ``t``, built from ``tables``."""
    return build_snapshot(index_records(tables), t)


def edited(
    tables: dict[str, pd.DataFrame], table: str, change: Callable[[pd.DataFrame], pd.DataFrame]
) -> dict[str, pd.DataFrame]:
    """A copy of the partnership with one table changed (the original is left alone)."""
    out = dict(tables)
    out[table] = change(tables[table].copy())
    return out


def _future(frame: pd.DataFrame, table: str, t: pd.Timestamp) -> pd.Series:
    return frame[DATE_COLUMN[table]] > t


def _other_values(column: pd.Series) -> pd.Series:
    """Every value replaced by a different one of the same type."""
    if column.dtype == bool:
        return ~column
    if column.dtype.kind in "if":
        return column * 3 + 1
    values = sorted(column.dropna().unique())
    if len(values) < 2:
        values = [*values, "something_else"]
    following = {v: values[(i + 1) % len(values)] for i, v in enumerate(values)}
    return column.map(following).astype(column.dtype)


# ---------------------------------------------------------------------- (a) future records


def _later(table, t, frame):
    future = _future(frame, table, t)
    for column in (DATE_COLUMN[table], "end") if table == "social_care" else (DATE_COLUMN[table],):
        frame.loc[future, column] = frame.loc[future, column] + pd.Timedelta(days=400)
    return frame


def _next_day(table, t, frame):
    """Every future record dated the day after ``t``: as close to ``t`` as the future gets."""
    future = _future(frame, table, t)
    frame.loc[future, DATE_COLUMN[table]] = t + DAY
    if table == "social_care":
        frame.loc[future, "end"] = frame.loc[future, "end"].where(
            frame.loc[future, "end"].isna(), t + DAY
        )
    return frame


def _deleted(table, t, frame):
    return frame[~_future(frame, table, t)]


def _other(table, t, frame):
    future = _future(frame, table, t)
    skip = {"child_id", DATE_COLUMN[table], "end"}
    for column in frame.columns.difference(list(skip)):
        frame.loc[future, column] = _other_values(frame.loc[future, column])
    return frame


FUTURE_CHANGES = {
    "moved_400_days_later": _later,
    "moved_to_the_next_day": _next_day,
    "deleted": _deleted,
    "values_changed": _other,
}


@pytest.fixture(scope="module")
def baseline(partnership, snapshot) -> pd.DataFrame:
    """The features on the snapshot date, from the partnership as generated."""
    return features_at(partnership.tables, snapshot)


@pytest.mark.parametrize("change", list(FUTURE_CHANGES))
@pytest.mark.parametrize("table", EVENT_TABLES)
def test_changing_future_records_leaves_features_identical(
    partnership, snapshot, baseline, table, change
):
    t = snapshot
    original = partnership.tables[table]
    assert _future(original, table, t).sum() > 0, "the partnership has no future records here"
    changed = edited(partnership.tables, table, lambda f: FUTURE_CHANGES[change](table, t, f))
    assert not changed[table].equals(original)  # the change did something
    pd.testing.assert_frame_equal(features_at(changed, t), baseline)


def test_changing_every_future_record_at_once_leaves_features_identical(
    partnership, snapshot, baseline
):
    t = snapshot
    tables = dict(partnership.tables)
    for table in EVENT_TABLES:
        tables = edited(
            tables, table, lambda f, table=table: _other(table, t, _next_day(table, t, f))
        )
    pd.testing.assert_frame_equal(features_at(tables, t), baseline)


def test_police_roles_flipped_after_t_leave_features_identical(partnership, snapshot, baseline):
    flip = {"victim": "suspect", "suspect": "victim", "missing_person": "stop_search"}

    def change(frame):
        future = frame["date"] > snapshot
        frame.loc[future, "role"] = frame.loc[future, "role"].map(lambda r: flip.get(r, r))
        frame.loc[future, "serious_violence"] = True
        return frame

    changed = edited(partnership.tables, "police", change)
    pd.testing.assert_frame_equal(features_at(changed, snapshot), baseline)


def _ends_after(frame: pd.DataFrame, t: pd.Timestamp) -> pd.Series:
    return frame["end"] > t


@pytest.mark.parametrize(
    "new_end",
    [
        lambda t, end: t + DAY,
        lambda t, end: end + pd.Timedelta(days=365),
        lambda t, end: pd.Series(pd.NaT, index=end.index, dtype=end.dtype),
    ],
    ids=["the_next_day", "a_year_later", "blank"],
)
def test_changing_a_social_care_end_after_t_leaves_features_identical(
    partnership, snapshot, baseline, new_end
):
    t = snapshot
    episodes = partnership.tables["social_care"]
    open_on_t = (episodes["start"] <= t) & _ends_after(episodes, t)
    assert open_on_t.sum() > 0, "no episode started by t and ended after it"

    def change(frame):
        ends = _ends_after(frame, t)
        frame.loc[ends, "end"] = new_end(t, frame.loc[ends, "end"])
        return frame

    changed = edited(partnership.tables, "social_care", change)
    pd.testing.assert_frame_equal(features_at(changed, t), baseline)


# ---------------------------------------------------------------------- (b) the test can fail


def _cohort_ids(partnership, t) -> set[str]:
    records = index_records(partnership.tables)
    return set(records.children["child_id"].to_numpy()[cohort_on(records, t)])


# Which future record to move to t, and the feature it must change for its child. A count
# feature must go up by exactly one.
MOVE_IN = {
    "school_census": (lambda f: f["sessions_possible"] > 0, "attendance_12m", False),
    "exclusions": (lambda f: f["kind"] == "suspension", "suspensions_12m", True),
    "social_care": (lambda f: f["kind"].isin(["cin", "cp", "cla"]), "social_care_starts_24m", True),
    "police": (lambda f: f["role"] == "suspect", "suspect_12m", True),
    "health": (lambda f: f["setting"] == "emergency_department", "ed_attendances_12m", True),
    "youth_justice": (lambda f: f["child_id"].notna(), "youth_justice_outcomes_24m", True),
    "education_status": (lambda f: f["activity"] == "NEET", "neet_months_12m", True),
}


def _value(features: pd.DataFrame, child: str, column: str) -> float:
    return float(features.loc[features["child_id"] == child, column].iloc[0])


def _pick(partnership, t, baseline, table) -> int:
    """The first future record of a cohort child that moving to ``t`` must show up in."""
    frame = partnership.tables[table]
    selects, feature, _ = MOVE_IN[table]
    candidates = (
        _future(frame, table, t)
        & frame["child_id"].isin(_cohort_ids(partnership, t))
        & selects(frame)
    )
    if table == "school_census":
        # Attendance changes unless the term's attendance equals the child's 12-month figure.
        rate = 1 - frame["sessions_missed"] / frame["sessions_possible"].where(candidates)
        now = frame["child_id"].map(baseline.set_index("child_id")["attendance_12m"])
        candidates &= ~np.isclose(rate, now, equal_nan=False)
    assert candidates.any(), f"no future {table} record to move"
    return int(np.flatnonzero(candidates)[0])


def _move(tables, table, row, to):
    date_col = DATE_COLUMN[table]

    def change(frame):
        frame.loc[frame.index[row], date_col] = to
        return frame

    return edited(tables, table, change)


@pytest.mark.parametrize("days_before", [0, 30])
@pytest.mark.parametrize("table", EVENT_TABLES)
def test_a_future_record_moved_to_t_changes_features_and_moving_it_back_restores_them(
    partnership, snapshot, baseline, table, days_before
):
    t = snapshot
    row = _pick(partnership, t, baseline, table)
    child = partnership.tables[table]["child_id"].iloc[row]
    _, feature, is_count = MOVE_IN[table]

    moved_in = features_at(
        _move(partnership.tables, table, row, t - pd.Timedelta(days_before, "D")), t
    )
    assert not moved_in.equals(baseline)
    before, after = _value(baseline, child, feature), _value(moved_in, child, feature)
    if is_count:
        assert after == np.nan_to_num(before) + 1, f"{feature} of {child}: {before} -> {after}"
    else:
        assert after != before and not np.isnan(after), f"{feature} of {child}: {before} -> {after}"

    moved_back = features_at(_move(partnership.tables, table, row, t + DAY), t)
    pd.testing.assert_frame_equal(moved_back, baseline)


@pytest.mark.parametrize("table", EVENT_TABLES)
def test_every_future_record_moved_to_t_changes_features(partnership, snapshot, baseline, table):
    def change(frame):
        frame.loc[_future(frame, table, snapshot), DATE_COLUMN[table]] = snapshot
        return frame

    moved = features_at(edited(partnership.tables, table, change), snapshot)
    assert not moved.equals(baseline)


OPEN_FLAG = {
    "early_help": "early_help_open",
    "cin": "child_in_need_open",
    "cp": "protection_plan_open",
    "cla": "looked_after_open",
}


def test_a_social_care_end_moved_to_t_closes_the_episode_and_moving_it_back_reopens_it(
    partnership, snapshot, baseline
):
    t = snapshot
    episodes = partnership.tables["social_care"]
    open_on_t = (
        (episodes["start"] <= t)
        & _ends_after(episodes, t)
        & episodes["child_id"].isin(_cohort_ids(partnership, t))
    )
    row = int(np.flatnonzero(open_on_t)[0])
    child, kind = episodes["child_id"].iloc[row], episodes["kind"].iloc[row]
    others_open = (
        (episodes["child_id"] == child)
        & (episodes["kind"] == kind)
        & (episodes["start"] <= t)
        & ~(episodes["end"] <= t)
    )
    assert others_open.sum() == 1, "pick an episode that is the child's only open one of its kind"

    def set_end(to):
        def change(frame):
            frame.loc[frame.index[row], "end"] = to
            return frame

        return edited(partnership.tables, "social_care", change)

    assert _value(baseline, child, OPEN_FLAG[kind]) == 1.0
    closed = features_at(set_end(t), t)
    assert _value(closed, child, OPEN_FLAG[kind]) == 0.0
    pd.testing.assert_frame_equal(features_at(set_end(t + DAY), t), baseline)


# ---------------------------------------------------------------------- extracts as they stood


def as_on(tables: dict[str, pd.DataFrame], t: pd.Timestamp, blank_ends: bool) -> dict:
    """The extracts as a partnership would have held them on ``t``."""
    out = dict(tables)
    for table in EVENT_TABLES:
        frame = tables[table]
        out[table] = frame[frame[DATE_COLUMN[table]] <= t].copy()
    if blank_ends:
        ends = out["social_care"]["end"]
        out["social_care"]["end"] = ends.mask(ends > t)
    return out


@pytest.mark.parametrize("blank_ends", [False, True], ids=["rows_dropped", "ends_blanked_too"])
def test_features_from_the_final_extracts_equal_features_from_extracts_as_they_stood(
    partnership, blank_ends
):
    dates = [*partnership.anchors, pd.Timestamp("2024-02-29"), pd.Timestamp("2025-12-17")]
    full = index_records(partnership.tables)
    for t in dates:
        then = build_snapshot(index_records(as_on(partnership.tables, t, blank_ends)), t)
        assert len(then) > 0
        pd.testing.assert_frame_equal(build_snapshot(full, t), then, obj=f"features on {t.date()}")
