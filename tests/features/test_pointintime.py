"""Unit tests of each step of the point-in-time chain, on tiny hand-built frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from feature_fixtures import as_float, rows, tables

from features.pointintime import (
    DATE_COLUMN,
    AsOf,
    cohort_on,
    hide_future_ends,
    index_records,
    known_by,
    months_before,
    within_months,
)

T = pd.Timestamp("2024-06-15")
DAY = pd.Timedelta(days=1)


def _dated(*dates: str | pd.Timestamp) -> pd.DataFrame:
    return pd.DataFrame(
        {"id": range(len(dates)), "date": pd.to_datetime(list(dates)).astype("datetime64[ns]")}
    )


# ---------------------------------------------------------------------- known_by


def test_nothing_from_the_future_known_by_drops_every_row_dated_after_t():
    """The "nothing from the future" filter on its own: no row dated after t survives it."""
    frame = _dated(
        T + DAY,
        T - pd.Timedelta(days=400),
        T + pd.Timedelta(days=3650),
        T,
        T + pd.Timedelta(hours=1),
        T - DAY,
        T + pd.Timedelta(days=31),
    )
    kept = known_by(frame, "date", T)
    assert (kept["date"] <= T).all()
    assert sorted(kept["id"]) == [1, 3, 5]
    assert not (frame.loc[~frame["id"].isin(kept["id"]), "date"] <= T).any()


def test_known_by_keeps_rows_dated_exactly_t_and_drops_the_day_after():
    frame = _dated(T - DAY, T, T + DAY)
    kept = known_by(frame, "date", T)
    assert list(kept["date"]) == [T - DAY, T]


def test_known_by_keeps_columns_and_does_not_change_its_input():
    frame = _dated(T, T + DAY)
    before = frame.copy()
    kept = known_by(frame, "date", T)
    assert list(kept.columns) == ["id", "date"]
    pd.testing.assert_frame_equal(frame, before)


def test_known_by_on_an_empty_table_is_empty():
    assert known_by(_dated(), "date", T).empty


# ---------------------------------------------------------------------- within_months


def test_within_months_excludes_the_boundary_day_and_includes_the_day_after():
    boundary = pd.Timestamp("2023-06-15")  # t - 12 months
    frame = _dated(boundary - DAY, boundary, boundary + DAY, T - DAY, T)
    kept = within_months(frame, "date", T, 12)
    assert list(kept["date"]) == [boundary + DAY, T - DAY, T]


@pytest.mark.parametrize(
    ("t", "months", "boundary"),
    [
        (pd.Timestamp("2024-03-31"), 1, pd.Timestamp("2024-02-29")),
        (pd.Timestamp("2024-02-29"), 12, pd.Timestamp("2023-02-28")),
        (pd.Timestamp("2024-09-01"), 3, pd.Timestamp("2024-06-01")),
        (pd.Timestamp("2025-01-31"), 24, pd.Timestamp("2023-01-31")),
    ],
)
def test_within_months_window_is_calendar_months_back(t, months, boundary):
    assert months_before(t, months) == boundary
    kept = within_months(_dated(boundary, boundary + DAY, t), "date", t, months)
    assert list(kept["date"]) == [boundary + DAY, t]


def test_within_months_after_known_by_is_the_half_open_window():
    frame = _dated("2023-06-14", "2023-06-15", "2023-06-16", "2024-06-15", "2024-06-16")
    kept = within_months(known_by(frame, "date", T), "date", T, 12)
    assert list(kept["date"].dt.strftime("%Y-%m-%d")) == ["2023-06-16", "2024-06-15"]


# ---------------------------------------------------------------------- hide_future_ends


def test_hide_future_ends_blanks_only_ends_after_t():
    episodes = pd.DataFrame(
        {
            "start": pd.to_datetime(["2020-01-01"] * 5),
            "end": pd.to_datetime([T - DAY, T, T + DAY, None, T + pd.Timedelta(days=900)]),
        }
    )
    before = episodes.copy()
    seen = hide_future_ends(episodes, T)
    assert list(seen["end"][:2]) == [T - DAY, T]
    assert seen["end"][2:].isna().all()
    assert (seen["start"] == episodes["start"]).all()
    pd.testing.assert_frame_equal(episodes, before)


def test_hide_future_ends_leaves_episodes_without_later_ends_alone():
    episodes = pd.DataFrame({"end": pd.to_datetime([T - DAY, T, None])})
    pd.testing.assert_frame_equal(hide_future_ends(episodes, T), episodes)


# ---------------------------------------------------------------------- cohort_on


def test_cohort_on_ages_10_to_17_inclusive_by_birth_month():
    t = pd.Timestamp("2024-09-01")
    births = [
        "2014-09-01",  # 10 on t: birthday on the 1st of the month, so today
        "2014-10-01",  # 9 on t, 10 next month
        "2006-10-01",  # 17 on t, 18 next month
        "2006-09-01",  # 18 on t
        "2010-03-01",  # 14
        "2015-01-01",  # 9
        "2007-08-01",  # 17
        "2006-08-01",  # 18
    ]
    records = index_records(tables(births))
    assert list(records.ages_on(t)) == [10, 9, 17, 18, 14, 9, 17, 18]
    assert list(cohort_on(records, t)) == [0, 2, 4, 6]


def test_cohort_on_the_day_before_a_birthday_month():
    records = index_records(tables(["2014-09-01", "2006-09-01"]))
    day_before = pd.Timestamp("2024-08-31")
    assert list(records.ages_on(day_before)) == [9, 17]
    assert list(cohort_on(records, day_before)) == [1]
    mid_month = pd.Timestamp("2024-09-30")
    assert list(cohort_on(records, mid_month)) == [0]


def test_cohort_on_other_ages():
    records = index_records(tables(["2014-09-01", "2010-09-01", "2004-09-01"]))
    t = pd.Timestamp("2024-09-01")
    assert list(cohort_on(records, t, ages=(14, 20))) == [1, 2]


# ---------------------------------------------------------------------- index_records


def test_index_records_gives_child_positions_and_sorts_by_date():
    parts = tables(
        ["2010-01-01", "2011-01-01"],
        police=[
            {"child_id": "C001", "date": "2024-03-01"},
            {"child_id": "C000", "date": "2024-01-01"},
            {"child_id": "C001", "date": "2023-12-01"},
        ],
    )
    records = index_records(parts)
    police = records.tables["police"]
    assert list(police["date"].dt.strftime("%Y-%m-%d")) == [
        "2023-12-01",
        "2024-01-01",
        "2024-03-01",
    ]
    assert list(police["_child"]) == [1, 0, 1]
    assert set(records.tables) == set(DATE_COLUMN)
    assert records.n_children == 2
    assert records.links.empty
    assert records.data_end() == pd.Timestamp("2024-03-01")


def test_index_records_links_siblings_and_peers_by_position():
    parts = tables(["2010-01-01", "2011-01-01", "2012-01-01"])
    parts["relationships"] = pd.DataFrame(
        {
            "child_id": ["C002", "C000"],
            "related_child_id": ["C000", "C001"],
            "relationship": ["sibling", "peer"],
        }
    )
    links = index_records(parts).links
    assert list(links["_child"]) == [2, 0]
    assert list(links["_related"]) == [0, 1]
    assert list(links["relationship"]) == ["sibling", "peer"]


# ---------------------------------------------------------------------- AsOf: the chain together


def test_asof_rows_chains_the_steps():
    parts = tables(
        ["2010-01-01"],
        social_care=[
            {"child_id": "C000", "kind": "cin", "start": "2020-01-01", "end": "2021-01-01"},
            {"child_id": "C000", "kind": "cp", "start": "2024-01-01", "end": "2024-12-01"},
            {"child_id": "C000", "kind": "cla", "start": "2024-06-16", "end": None},
            {"child_id": "C000", "kind": "cin", "start": T, "end": T},
        ],
    )
    asof = AsOf(index_records(parts), T)
    seen = asof.rows("social_care")
    assert list(seen["kind"]) == ["cin", "cp", "cin"]  # the episode starting after t is unknown
    assert list(seen["end"].isna()) == [False, True, False]  # cp's end in 2024-12 is not known
    assert list(asof.rows("social_care", months=12)["kind"]) == ["cp", "cin"]
    assert list(asof.rows("social_care", kind=("cp", "cla"))["kind"]) == ["cp"]
    assert list(asof.open_on_date(kind="cp")) == [1.0]
    assert list(asof.open_on_date(kind="cin")) == [0.0]  # ended on t: closed on t
    assert list(asof.open_on_date(kind="cla")) == [0.0]


def test_asof_aggregations_on_a_tiny_partnership():
    births = ["2010-01-01", "2011-01-01", "2012-01-01", "2000-01-01"]  # the last is 24: no cohort
    parts = tables(
        births,
        police=[
            {"child_id": "C000", "date": "2024-06-15", "role": "suspect"},
            {"child_id": "C000", "date": "2023-06-15", "role": "suspect"},  # boundary: out of 12m
            {"child_id": "C000", "date": "2024-06-16", "role": "suspect"},  # future
            {"child_id": "C001", "date": "2024-01-10", "role": "victim"},
            {"child_id": "C003", "date": "2024-01-10", "role": "suspect"},
        ],
        exclusions=[
            {"child_id": "C001", "date": "2024-02-01", "days": 2.0},
            {"child_id": "C001", "date": "2024-05-01", "days": 3.0},
            {"child_id": "C001", "date": "2024-07-01", "days": 50.0},  # future
        ],
    )
    asof = AsOf(index_records(parts), T)
    assert list(asof.cohort) == [0, 1, 2]
    np.testing.assert_array_equal(asof.age, [14.0, 13.0, 12.0])
    np.testing.assert_array_equal(asof.count("police", months=12, role="suspect"), [1, 0, 0])
    np.testing.assert_array_equal(asof.count("police", role="suspect"), [2, 0, 0])
    np.testing.assert_array_equal(asof.count("police", role="suspect", everyone=True), [2, 0, 0, 1])
    np.testing.assert_array_equal(asof.any("police", months=12), [1, 1, 0])
    np.testing.assert_array_equal(as_float(asof.total("exclusions", "days")), [np.nan, 5.0, np.nan])
    np.testing.assert_array_equal(asof.latest("exclusions", "days"), [np.nan, 3.0, np.nan])
    np.testing.assert_array_equal(asof.latest("exclusions", "days", skip=1), [np.nan, 2.0, np.nan])
    np.testing.assert_array_equal(asof.latest_is("police", "role", "victim"), [0.0, 1.0, np.nan])
    # 2024-06-15 is 0 days before t; 2024-05-01 is 45 days: one month of 30.4375 days.
    np.testing.assert_array_equal(asof.months_since_latest("police"), [0.0, 5.0, np.nan])
    np.testing.assert_array_equal(asof.months_since_latest("exclusions"), [np.nan, 1.0, np.nan])


def test_active_within_counts_episodes_open_at_any_time_in_the_window():
    parts = tables(
        ["2010-01-01"] * 4,
        social_care=[
            {"child_id": "C000", "kind": "early_help", "start": "2021-01-01", "end": "2022-06-15"},
            {"child_id": "C001", "kind": "early_help", "start": "2021-01-01", "end": "2022-06-16"},
            {"child_id": "C002", "kind": "early_help", "start": "2021-01-01", "end": None},
            {"child_id": "C003", "kind": "early_help", "start": "2024-06-16", "end": None},
        ],
    )
    asof = AsOf(index_records(parts), T)
    np.testing.assert_array_equal(asof.active_within("social_care", 24), [0, 1, 1, 0])


def test_linked_any_is_missing_without_links_and_follows_links_with_them():
    parts = tables(
        ["2010-01-01", "2011-01-01", "2012-01-01"],
        police=[{"child_id": "C002", "date": "2024-01-01"}],
    )
    flags = AsOf(index_records(parts), T).count("police", everyone=True)
    assert np.isnan(AsOf(index_records(parts), T).linked_any(flags, "sibling")).all()
    parts["relationships"] = pd.DataFrame(
        {
            "child_id": ["C000", "C001"],
            "related_child_id": ["C002", "C002"],
            "relationship": ["sibling", "peer"],
        }
    )
    asof = AsOf(index_records(parts), T)
    np.testing.assert_array_equal(asof.linked_any(flags, "sibling"), [1.0, 0.0, 0.0])
    np.testing.assert_array_equal(asof.linked_any(flags, "peer"), [0.0, 1.0, 0.0])


def test_area_mean_averages_over_the_cohort_children_of_each_area():
    parts = tables(["2010-01-01", "2011-01-01", "2012-01-01", "2013-01-01"])
    asof = AsOf(index_records(parts), T)  # areas alternate: children 0, 2 and 1, 3
    values = np.array([1.0, 0.0, 0.0, np.nan])
    np.testing.assert_array_equal(asof.area_mean(values), [0.5, 0.0, 0.5, 0.0])


def test_rows_filter_matches_a_value_or_any_of_several():
    frame = rows(
        "police",
        [
            {"child_id": "C000", "date": "2024-01-01", "role": "victim"},
            {"child_id": "C000", "date": "2024-01-02", "role": "suspect"},
            {"child_id": "C000", "date": "2024-01-03", "role": "stop_search"},
        ],
    )
    parts = tables(["2010-01-01"])
    parts["police"] = frame
    asof = AsOf(index_records(parts), T)
    assert list(asof.rows("police", role="victim")["role"]) == ["victim"]
    assert list(asof.rows("police", role=("victim", "suspect"))["role"]) == ["victim", "suspect"]
