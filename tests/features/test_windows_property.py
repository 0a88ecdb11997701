"""Property tests of window boundaries against brute-force definitions.

Event dates are drawn around a random snapshot date ``t``, crowding the edges that matter:
``t`` itself, ``t - months`` for look-back windows and ``t + window`` for outcome windows.
"""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pandas as pd
import pytest
from feature_fixtures import born_aged, child_ids, shift_months, tables
from hypothesis import given, settings
from hypothesis import strategies as st

from features.outcomes import Component, Outcome, label, outcome_dates
from features.pointintime import AsOf, index_records

N_CHILDREN = 3
ROLES = ("victim", "suspect")
SETTINGS = settings(max_examples=60, deadline=None)

snapshot_dates = st.dates(dt.date(2016, 1, 1), dt.date(2026, 12, 31)).map(pd.Timestamp)
window_months = st.sampled_from([1, 3, 6, 12, 24, 36])


def _dates_near(anchors: list[pd.Timestamp]) -> st.SearchStrategy[pd.Timestamp]:
    """Dates a few days either side of one of ``anchors``, or anywhere within four years."""
    near = st.tuples(st.sampled_from(anchors), st.integers(-3, 3)).map(
        lambda a: a[0] + pd.Timedelta(days=a[1])
    )
    anywhere = st.integers(-1460, 1460).map(lambda d: anchors[0] + pd.Timedelta(days=d))
    return st.one_of(near, anywhere)


def _partnership(t: pd.Timestamp, **event_rows) -> dict[str, pd.DataFrame]:
    """Children aged 10, 13 and 17 on ``t`` (all in the cohort) and the given events."""
    births = [born_aged(t, age) for age in (10, 13, 17)]
    return tables(births, **event_rows)


@st.composite
def police_around(draw, around_boundary: bool = True):
    """A snapshot date, a window length and police records near ``t`` and ``t - months``."""
    t = draw(snapshot_dates)
    months = draw(window_months)
    anchors = [t, shift_months(t, -months)] if around_boundary else [t]
    events = draw(
        st.lists(
            st.tuples(st.integers(0, N_CHILDREN - 1), _dates_near(anchors), st.sampled_from(ROLES)),
            max_size=12,
        )
    )
    return t, months, events


def _police(events) -> list[dict]:
    ids = child_ids(N_CHILDREN)
    return [{"child_id": ids[c], "date": d, "role": r} for c, d, r in events]


@SETTINGS
@given(police_around())
def test_count_is_events_in_the_half_open_window(case):
    t, months, events = case
    asof = AsOf(index_records(_partnership(t, police=_police(events))), t)
    start = shift_months(t, -months)
    expected = [sum(1 for c, d, _ in events if c == i and start < d <= t) for i in range(3)]
    np.testing.assert_array_equal(asof.count("police", months=months), expected)
    suspects = [
        sum(1 for c, d, r in events if c == i and r == "suspect" and start < d <= t)
        for i in range(3)
    ]
    np.testing.assert_array_equal(asof.count("police", months=months, role="suspect"), suspects)
    ever = [sum(1 for c, d, _ in events if c == i and d <= t) for i in range(3)]
    np.testing.assert_array_equal(asof.count("police"), ever)


@SETTINGS
@given(police_around(around_boundary=False))
def test_months_since_latest_is_whole_months_since_the_last_known_event(case):
    t, _, events = case
    asof = AsOf(index_records(_partnership(t, police=_police(events))), t)
    expected = []
    for i in range(N_CHILDREN):
        known = [d for c, d, r in events if c == i and r == "victim" and d <= t]
        expected.append(math.floor((t - max(known)).days / 30.4375) if known else np.nan)
    got = asof.months_since_latest("police", role="victim")
    np.testing.assert_array_equal(got, expected)
    assert (got[~np.isnan(got)] >= 0).all()


@st.composite
def episodes_around(draw):
    """A snapshot date, a look-back and social care episodes starting and ending near them."""
    t = draw(snapshot_dates)
    months = draw(window_months)
    near = _dates_near([t, shift_months(t, -months)])
    episodes = []
    for _ in range(draw(st.integers(0, 8))):
        child = draw(st.integers(0, N_CHILDREN - 1))
        kind = draw(st.sampled_from(["cin", "cp"]))
        start = draw(near)
        end = draw(st.one_of(st.none(), st.integers(0, 800)))
        if end is not None:
            end = draw(st.one_of(st.just(start + pd.Timedelta(days=end)), near))
            end = max(end, start)
        episodes.append((child, kind, start, end))
    return t, months, episodes


def _social_care(episodes) -> list[dict]:
    ids = child_ids(N_CHILDREN)
    return [
        {"child_id": ids[c], "kind": k, "start": s, "end": pd.NaT if e is None else e}
        for c, k, s, e in episodes
    ]


@SETTINGS
@given(episodes_around())
def test_open_on_date_is_an_episode_started_by_t_and_not_ended_by_t(case):
    t, _, episodes = case
    asof = AsOf(index_records(_partnership(t, social_care=_social_care(episodes))), t)
    for kind in ("cin", "cp"):
        expected = [
            float(
                any(
                    c == i and k == kind and s <= t and (e is None or e > t)
                    for c, k, s, e in episodes
                )
            )
            for i in range(N_CHILDREN)
        ]
        np.testing.assert_array_equal(asof.open_on_date(kind=kind), expected)


@SETTINGS
@given(episodes_around())
def test_active_within_is_an_episode_open_at_some_time_in_the_window(case):
    t, months, episodes = case
    asof = AsOf(index_records(_partnership(t, social_care=_social_care(episodes))), t)
    start = shift_months(t, -months)
    expected = [
        float(any(c == i and s <= t and (e is None or e > start) for c, _, s, e in episodes))
        for i in range(N_CHILDREN)
    ]
    np.testing.assert_array_equal(asof.active_within("social_care", months), expected)


@st.composite
def outcomes_around(draw):
    """A snapshot date, an outcome window, records near ``t`` and ``t + window``, and the
    last date the records cover, near the window's end."""
    t = draw(snapshot_dates)
    months = draw(window_months)
    end = shift_months(t, months)
    events = draw(
        st.lists(
            st.tuples(
                st.integers(0, N_CHILDREN - 1),
                _dates_near([t, end]),
                st.sampled_from(ROLES + ("stop_search",)),
            ),
            max_size=12,
        )
    )
    observed_until = end + pd.Timedelta(days=draw(st.integers(-3, 3)))
    return t, months, events, observed_until


@SETTINGS
@given(outcomes_around())
def test_label_is_an_outcome_record_in_the_window_after_t(case):
    t, months, events, observed_until = case
    records = index_records(_partnership(t, police=_police(events)))
    outcome = Outcome(
        description="victim or suspect",
        window_months=months,
        any_of=[Component(table="police", where={"role": ["victim", "suspect"]})],
    )
    cohort = AsOf(records, t).cohort
    got = label(
        outcome_dates(records, outcome), cohort, t, months, observed_until, records.n_children
    )
    end = shift_months(t, months)
    if end > observed_until:
        assert np.isnan(got).all()
        return
    expected = [
        float(any(c == i and r != "stop_search" and t < d <= end for c, d, r in events))
        for i in range(N_CHILDREN)
    ]
    np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize(
    ("t", "months", "expected"),
    [
        ("2024-03-31", -1, "2024-02-29"),
        ("2024-02-29", -12, "2023-02-28"),
        ("2024-02-29", 12, "2025-02-28"),
        ("2023-12-15", 1, "2024-01-15"),
        ("2024-01-31", -13, "2022-12-31"),
    ],
)
def test_the_brute_force_month_shift(t, months, expected):
    """The oracle the properties use: calendar months, the day clipped to the month's end."""
    assert shift_months(pd.Timestamp(t), months) == pd.Timestamp(expected)
