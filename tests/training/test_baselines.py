"""The checklist rule against a brute-force count; the logistic baseline on data with NaN."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.pandas import column, data_frames

from features.populations import within_age_auc
from features.registry import default_registry
from training.baselines import (
    AGE_ITEMS,
    DOUBLE_WEIGHT,
    AgeRate,
    Indicator,
    IndicatorCountRule,
    default_rule,
    logistic_baseline,
)

RULE = IndicatorCountRule(
    {
        "absent": Indicator("absence", 1.0, 1.0, "Persistently absent"),
        "suspended": Indicator("suspensions", 1.0, 1.0, "Suspended at least once"),
        "suspended_often": Indicator("suspensions", 3.0, 2.0, "Suspended three times or more"),
        "excluded": Indicator("excluded", 1.0, 2.0, "Permanently excluded"),
    }
)


def brute_score(rule: IndicatorCountRule, X: pd.DataFrame) -> list[float]:
    """Loop over rows and items, adding each met item's weight."""
    scores = []
    for _, row in X.iterrows():
        total = 0.0
        for item in rule.indicators.values():
            value = row[item.feature]
            if not math.isnan(value) and value >= item.threshold:
                total += item.weight
        scores.append(total)
    return scores


def test_score_equals_a_brute_force_count():
    X = pd.DataFrame(
        {
            "absence": [0, 1, 1, np.nan, 0],
            "suspensions": [0, 1, 4, 3, np.nan],
            "excluded": [0, 0, 1, 1, np.nan],
            "unused": [9, 9, 9, 9, 9],
        },
        dtype=float,
    )
    score = RULE.score(X)
    assert score.dtype == float
    assert score.tolist() == [0.0, 2.0, 6.0, 5.0, 0.0]
    assert score.tolist() == brute_score(RULE, X)
    assert RULE.max_score == 6.0


@settings(max_examples=60, deadline=None)
@given(
    data_frames(
        [
            column(name, elements=st.one_of(st.just(np.nan), st.integers(0, 5).map(float)))
            for name in ("absence", "suspensions", "excluded")
        ]
    )
)
def test_score_equals_brute_force_property(X):
    X = X.astype(float)
    assert RULE.score(X).tolist() == brute_score(RULE, X)


def test_nan_is_not_met():
    X = pd.DataFrame({"absence": [np.nan], "suspensions": [np.nan], "excluded": [np.nan]})
    assert RULE.score(X).tolist() == [0.0]
    assert not RULE.met(X).to_numpy().any()


def test_nullable_columns_are_read_as_missing():
    X = pd.DataFrame(
        {
            "absence": pd.array([1, None], dtype="Int64"),
            "suspensions": pd.array([None, 3], dtype="Int64"),
            "excluded": pd.array([0, 1], dtype="Int64"),
        }
    )
    assert RULE.score(X).tolist() == [1.0, 5.0]


def test_unknown_feature_raises_key_error_naming_it():
    X = pd.DataFrame({"absence": [1.0], "suspensions": [0.0]})
    with pytest.raises(KeyError, match="'excluded'") as raised:
        RULE.score(X)
    assert "lantern registry" in str(raised.value)


def test_registry_check_at_construction():
    items = {"typo": Indicator("suspensions_12", 1.0, 1.0, "Suspended")}
    with pytest.raises(KeyError, match="suspensions_12.*lantern registry"):
        IndicatorCountRule(items, registry=default_registry())


def test_indicators_are_validated():
    with pytest.raises(ValueError):
        IndicatorCountRule({})
    with pytest.raises(ValueError):
        Indicator("absence", math.nan, 1.0, "Absent")


@pytest.mark.parametrize("outcome", sorted(DOUBLE_WEIGHT))
def test_default_rules_use_registry_features(outcome):
    rule = default_rule(outcome)
    registry = default_registry()
    table = rule.table()
    ages = AGE_ITEMS.get(outcome, {})
    assert len(table) == 20 + len(ages)
    assert set(table["feature"]) <= set(registry)
    assert set(table["weight"]) == {1.0, 2.0}
    checklist = table[~table["name"].isin(ages)]
    doubled = set(checklist.loc[checklist["weight"] == 2.0, "feature"])
    assert doubled == set(DOUBLE_WEIGHT[outcome])
    assert "permanently_excluded_ever" in doubled
    assert table["description"].str.len().gt(10).all()

    X = pd.DataFrame(np.full((2, len(registry)), 17.0), columns=list(registry))
    X.iloc[1] = np.nan
    assert rule.score(X).tolist() == [rule.max_score, 0.0]


def test_the_neet_checklist_counts_the_age_from_which_neet_is_possible():
    item = AGE_ITEMS["exclusion_neet"]["aged_16_or_over"]
    rule = default_rule("exclusion_neet")
    X = pd.DataFrame(0.0, index=range(3), columns=list(default_registry()))
    X["age_years"] = [15.0, 16.0, 17.0]
    assert rule.score(X).tolist() == [0.0, item.weight, item.weight]
    assert "age_years" not in set(default_rule("serious_violence").table()["feature"])


def test_age_rate_scores_each_year_by_its_shrunk_training_rate():
    ages = np.array([14] * 10 + [16] * 10, dtype=float)
    y = np.array([0] * 10 + [1] * 5 + [0] * 5)
    baseline = AgeRate(prior=10).fit(ages, y)
    overall = 5 / 20
    assert baseline.score([14.0, 16.9, 12.0, np.nan]) == pytest.approx(
        [(0 + 10 * overall) / 20, (5 + 10 * overall) / 20, overall, overall]
    )
    assert AgeRate(prior=0).fit(ages, y).score([14.0, 16.0]).tolist() == [0.0, 0.5]


def test_age_rate_earns_exactly_half_on_the_within_age_headline():
    rng = np.random.default_rng(3)
    ages = rng.integers(10, 18, 3000).astype(float)
    y = (rng.random(3000) < np.where(ages >= 16, 0.2, 0.02)).astype(int)
    scores = AgeRate().fit(ages, y).score(ages)
    assert within_age_auc(y, scores, ages) == 0.5
    assert roc_auc(y, scores) > 0.75  # across ages, age alone ranks well


def roc_auc(y, p) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def test_age_rate_needs_fitting_and_rows_with_ages():
    with pytest.raises(ValueError, match="call fit"):
        AgeRate().score([14.0])
    with pytest.raises(ValueError, match="no training rows with a known age"):
        AgeRate().fit([np.nan], [1])


def test_default_rules_differ_by_outcome():
    sv = default_rule("serious_violence").table().set_index("feature")["weight"]
    neet = default_rule("exclusion_neet").table().set_index("feature")["weight"]
    assert sv["serious_violence_ever"] == 2 and neet["serious_violence_ever"] == 1
    assert neet["neet_now"] == 2 and sv["neet_now"] == 1


def test_default_rule_for_an_unknown_outcome():
    with pytest.raises(KeyError, match="exclusion_neet"):
        default_rule("truancy")


def test_logistic_baseline_fits_and_predicts_with_nan():
    rng = np.random.default_rng(0)
    n = 400
    X = pd.DataFrame(rng.normal(size=(n, 4)), columns=["a", "b", "c", "d"])
    y = (X["a"] + 0.5 * X["b"] + rng.normal(size=n) > 1).astype(int)
    X = X.mask(rng.random(X.shape) < 0.2)  # 20% missing, NaN
    model = logistic_baseline(seed=3).fit(X, y)
    proba = model.predict_proba(X)[:, 1]
    assert proba.shape == (n,) and np.isfinite(proba).all()
    assert ((proba > 0) & (proba < 1)).all()
    assert np.corrcoef(proba, y)[0, 1] > 0.3
    assert model.named_steps["model"].random_state == 3
    again = logistic_baseline(seed=3).fit(X, y).predict_proba(X)[:, 1]
    np.testing.assert_array_equal(proba, again)
