"""Training keeps each feature to its registry direction, and the direction check sees a
model that does not.

Real LightGBM fits on the shared small partnership (2,500 children), with the pipeline's own
settings, checked over the newest snapshot's children.
"""

from __future__ import annotations

import pytest

from features.build import label_column
from features.registry import default_registry
from models.scoring import ScoringModel, as_matrix
from training.config import load_training_settings
from training.directions import check_directions
from training.model import constraint_params, fit_booster, monotone_constraints
from training.pipeline import train_outcome
from training.split import temporal_split

OUTCOMES = ("exclusion_neet", "serious_violence")
SETTINGS = load_training_settings()
FEATURES = SETTINGS.features.select(default_registry())


def fitted(table, outcome: str, monotone) -> ScoringModel:
    """The booster as training fits it, with ``monotone`` as its constraints (uncalibrated)."""
    split = temporal_split(table, label_column(outcome), test_child_share=0.3, seed=7)
    y = table[label_column(outcome)].to_numpy()  # NaN outside the labelled snapshots
    booster = fit_booster(
        as_matrix(table.iloc[split.train], FEATURES),
        y[split.train].astype(int),
        as_matrix(table.iloc[split.validation], FEATURES),
        y[split.validation].astype(int),
        SETTINGS.lightgbm,
        features=FEATURES,
        seed=7,
        monotone=monotone,
    )
    return ScoringModel(booster, FEATURES, 1.0, 0.0, outcome)


@pytest.fixture(scope="module")
def newest(feature_table):
    latest = feature_table[feature_table["snapshot_date"] == feature_table["snapshot_date"].max()]
    return as_matrix(latest, FEATURES)


def test_constraints_are_the_registry_directions():
    registry = default_registry()
    constraints = monotone_constraints(FEATURES)
    assert constraints == [registry[name].monotone for name in FEATURES]
    assert constraints[FEATURES.index("attendance_12m")] == -1
    assert constraints[FEATURES.index("suspensions_12m")] == 1
    assert constraints[FEATURES.index("age_years")] == 0
    assert monotone_constraints(["age_years", "priors_count"]) == [0, 0]  # not in the registry
    off = SETTINGS.lightgbm.model_copy(update={"monotone": False})
    assert constraint_params(off, constraints) == {}
    assert constraint_params(SETTINGS.lightgbm, constraints) == {
        "monotone_constraints": constraints,
        "monotone_constraints_method": SETTINGS.lightgbm.monotone_method,
    }


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_a_trained_model_keeps_every_constrained_feature_to_its_direction(
    outcome, feature_table, fast_settings, newest
):
    result = train_outcome(feature_table, outcome, fast_settings)
    assert result.constraints == dict(zip(FEATURES, monotone_constraints(FEATURES), strict=True))
    assert result.directions is not None and result.directions.contrary() == []
    check = check_directions(result.model, newest)
    assert check.contrary() == []
    judged = check.rows[check.rows["judged"] & (check.rows["declared"] != "either")]
    assert len(judged) >= 10  # the check judged the features the model uses: it could fail


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_a_flipped_constraint_is_caught_by_the_direction_check(outcome, feature_table, newest):
    flipped = [
        -c if name == "attendance_12m" else c
        for name, c in zip(FEATURES, monotone_constraints(FEATURES), strict=True)
    ]
    check = check_directions(fitted(feature_table, outcome, flipped), newest)
    assert check.contrary() == ["attendance_12m"]
    row = check.rows.set_index("feature").loc["attendance_12m"]
    assert row["declared"] == "protective" and row["association"] > 0.05
