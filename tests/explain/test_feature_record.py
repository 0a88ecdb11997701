"""Checking feature records sent by other systems."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from explain.feature_record import RANGES, FeatureRecordError, validate_feature_record
from features.build import AUDIT_COLUMNS
from features.registry import default_registry

REGISTRY = default_registry()
FEATURES = list(REGISTRY)
UNIT = {name: REGISTRY[name].unit for name in FEATURES}


def _valid(unit: str) -> st.SearchStrategy:
    if unit == "flag":
        return st.sampled_from([0, 1, 0.0, 1.0])
    if unit == "count":
        return st.integers(0, 500)
    low, high = RANGES[unit]
    return st.floats(low, min(high, 1e6), allow_nan=False)


def _invalid(unit: str) -> st.SearchStrategy:
    low, high = RANGES[unit]
    wrong_type = st.sampled_from(["3", "yes", [1], {"a": 1}, True, False])
    not_finite = st.sampled_from([math.nan, math.inf, -math.inf])
    below = st.floats(-1e6, low, exclude_max=True, allow_nan=False)
    extra = {
        "flag": st.floats(0, 1, exclude_min=True, exclude_max=True),
        "count": st.floats(0.01, 500).filter(lambda v: not float(v).is_integer()),
    }
    above = st.floats(high, 1e6, exclude_min=True) if math.isfinite(high) else st.nothing()
    return st.one_of(wrong_type, not_finite, below, above, extra.get(unit, st.nothing()))


@st.composite
def valid_records(draw):
    names = draw(st.lists(st.sampled_from(FEATURES), unique=True))
    return {n: draw(st.one_of(st.none(), _valid(UNIT[n]))) for n in names}


@given(valid_records())
def test_a_valid_record_comes_back_in_model_order_with_nan_for_not_recorded(record):
    values = validate_feature_record(record, FEATURES, REGISTRY)
    assert values.shape == (len(FEATURES),) and values.dtype == np.float64
    for i, name in enumerate(FEATURES):
        if record.get(name) is None:
            assert np.isnan(values[i])
        else:
            assert values[i] == float(record[name])


@st.composite
def records_with_one_bad_value(draw):
    record = draw(valid_records())
    bad = draw(st.sampled_from(FEATURES))
    record[bad] = draw(_invalid(UNIT[bad]))
    return record, bad


@given(records_with_one_bad_value())
def test_one_bad_value_is_named_with_a_hint(case):
    record, bad = case
    with pytest.raises(FeatureRecordError) as caught:
        validate_feature_record(record, FEATURES, REGISTRY)
    assert [p["field"] for p in caught.value.problems] == [bad]
    (problem,) = caught.value.problems
    assert problem["problem"] and problem["hint"]
    assert repr(bad) in str(caught.value)


def test_every_problem_is_collected_and_named():
    record = {
        "atendance_12m": 0.9,
        "ethnicity": "White British",
        "sex": "F",
        "religion": "none",
        "area": "E01000001",
        "send": "ehcp",
        "fsm_eligible": True,
        "suspensions_12m": "3",
        "attendance_last_term": 71,
        "attendance_12m": math.nan,
        "off_roll": 2,
        "school_moves_24m": 1.5,
        "missing_episodes_12m": -1,
        "age_years": 30,
        "attendance_change": 150.0,
        "ed_attendances_12m": math.inf,
        "neet_now": None,
    }
    with pytest.raises(FeatureRecordError) as caught:
        validate_feature_record(record, FEATURES, REGISTRY)
    problems = {p["field"]: p for p in caught.value.problems}
    assert set(problems) == set(record) - {"neet_now"}
    message = str(caught.value)
    assert message.startswith(f"the feature record has {len(problems)} problems: ")
    for field in problems:
        assert repr(field) in message
    assert problems["atendance_12m"]["hint"] == "did you mean 'attendance_12m'?"
    for protected in ("ethnicity", "sex", "religion", *AUDIT_COLUMNS):
        assert "protected characteristic" in problems[protected]["problem"]
    assert problems["fsm_eligible"]["problem"] == "is true, but a number is expected"
    assert problems["fsm_eligible"]["hint"].startswith("send 1 for yes or 0 for no")
    assert problems["suspensions_12m"]["problem"] == "is '3', not a number"
    assert problems["attendance_last_term"]["hint"] == (
        "it looks like a percentage: send 0.71 for 71%"
    )
    assert problems["off_roll"]["problem"] == "is 2, but a flag is 0 or 1"
    assert problems["school_moves_24m"]["problem"] == (
        "is 1.5, but a count is a whole number of 0 or more"
    )
    assert problems["missing_episodes_12m"]["problem"] == (
        "is -1, but a count is a whole number of 0 or more"
    )
    assert problems["age_years"]["problem"] == "is 30, but an age in years is from 0 to 25"
    assert problems["attendance_change"]["problem"] == (
        "is 150, but a change in percentage points is from -100 to 100"
    )
    assert "not a finite number" in problems["attendance_12m"]["problem"]
    assert "not a finite number" in problems["ed_attendances_12m"]["problem"]


def test_a_registry_feature_the_model_does_not_read_is_refused():
    features = ["attendance_12m", "suspensions_12m"]
    with pytest.raises(
        FeatureRecordError, match="'neet_now': is a feature this model does not read"
    ):
        validate_feature_record({"neet_now": 1}, features, REGISTRY)


def test_an_empty_record_is_all_not_recorded_and_a_non_object_is_refused():
    assert np.isnan(validate_feature_record({}, FEATURES, REGISTRY)).all()
    with pytest.raises(FeatureRecordError, match="not an object of feature values"):
        validate_feature_record([0.9, 1], FEATURES, REGISTRY)


def test_every_row_of_a_real_feature_table_passes(explain_table, explain_registry):
    features = list(explain_registry)
    rows = explain_table[features].iloc[:: max(1, len(explain_table) // 400)]
    for row in rows.to_dict("records"):
        record = {k: (None if np.isnan(v) else v) for k, v in row.items()}
        values = validate_feature_record(record, features, explain_registry)
        np.testing.assert_array_equal(values, np.array([row[f] for f in features], dtype=float))
    # every unit's range holds the whole table, not just the sample
    for name in features:
        column = explain_table[name].dropna()
        low, high = RANGES[explain_registry[name].unit]
        assert column.between(low, high).all(), name
