"""The headline AUC within each year of age, the age bands, and eligible populations."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from features.outcomes import load_outcomes
from features.populations import age_bands, age_strata, within_age_auc


def test_a_score_that_knows_only_age_earns_exactly_half():
    rng = np.random.default_rng(0)
    ages = rng.integers(10, 18, 5000).astype(float)
    y = (rng.random(5000) < np.where(ages >= 16, 0.25, 0.02)).astype(int)
    assert roc_auc_score(y, ages) > 0.8  # across ages, age alone looks like a good model
    assert within_age_auc(y, ages, ages) == 0.5


def test_the_pool_weights_each_year_by_its_positives():
    # age 14: 1 positive ranked perfectly; age 16: 3 positives, ranked perfectly wrong
    y = np.array([1, 0, 0, 1, 1, 1, 0])
    p = np.array([0.9, 0.1, 0.2, 0.1, 0.1, 0.1, 0.8])
    ages = np.array([14, 14, 14, 16, 16, 16, 16], dtype=float)
    assert within_age_auc(y, p, ages) == pytest.approx((1 * 1.0 + 3 * 0.0) / 4)


def test_years_that_cannot_be_ranked_and_unknown_ages_add_nothing():
    y = np.array([1, 0, 1, 1, 0])
    p = np.array([0.9, 0.1, 0.5, 0.4, 0.95])
    ages = np.array([14.2, 14.9, 15.0, 15.0, np.nan])  # 15 has no negative; NaN left out
    assert within_age_auc(y, p, ages) == 1.0
    assert math.isnan(within_age_auc([1, 1], [0.2, 0.3], [16, 17]))
    assert age_strata([14.7, np.nan]).tolist() == [14, -1]


def test_age_bands_label_each_age():
    assert age_bands([10, 13.9, 14, 15, 16, 17, 18, np.nan]).tolist() == [
        "10-13",
        "10-13",
        "14-15",
        "14-15",
        "16-17",
        "16-17",
        "",
        "",
    ]


def test_each_outcome_names_who_it_can_happen_to():
    outcomes = load_outcomes()
    neet = outcomes["exclusion_neet"]
    assert neet.eligible(np.array([4, 5, 15, 16, 17, 18])).tolist() == [
        False,
        True,
        True,
        True,
        True,
        False,
    ]
    assert neet.possible_at(16) == (["NEET"], ["permanent exclusion"])
    assert neet.possible_at(14) == (["permanent exclusion"], ["NEET"])
    assert "NEET: ages 16-17" in neet.population()
    violence = outcomes["serious_violence"]
    assert violence.eligible(np.array([10, 17])).all()
    assert violence.possible_at(16) == ([], [])


def test_ages_must_be_ordered():
    from features.outcomes import Component

    with pytest.raises(ValueError, match="youngest"):
        Component(table="exclusions", ages=(16, 5))
