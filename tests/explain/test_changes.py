"""What would change: the model's own estimate on the record with one actionable part at a
typical level, on real models of the shared small partnership."""

from __future__ import annotations

import math

import numpy as np
import pytest

from explain import wording
from explain.changes import changed_records, what_would_change
from features.registry import default_registry
from models.scoring import as_matrix

OUTCOMES = ("exclusion_neet", "serious_violence")
REGISTRY = default_registry()
ACTIONABLE = {
    "attendance": {
        "attendance_last_term",
        "attendance_12m",
        "attendance_change",
        "unauthorised_absence_12m",
        "persistently_absent_12m",
    },
    "suspensions": {"suspensions_12m", "suspension_days_12m"},
    "neet": {"neet_now", "activity_not_known_now"},
    "missing": {"missing_episodes_12m", "missing_episodes_3m"},
}


def test_only_records_that_can_change_are_actionable():
    levers = {}
    for name, spec in REGISTRY.items():
        if spec.lever:
            levers.setdefault(spec.lever, set()).add(name)
            assert spec.typical is not None and spec.lever in wording.LEVERS, name
        else:
            assert spec.typical is None, name
    assert levers == ACTIONABLE  # not history ("ever"), area or age
    assert REGISTRY["attendance_12m"].typical == 0.95 and REGISTRY["suspensions_12m"].typical == 0


def by_hand(x: np.ndarray, features: list[str], lever: str) -> np.ndarray:
    """The record with the lever's recorded features at their registry typical levels."""
    changed = x.copy()
    for j, name in enumerate(features):
        if name in ACTIONABLE[lever] and not math.isnan(x[j]):
            changed[j] = REGISTRY[name].typical
    return changed


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_the_estimate_shown_is_the_models_on_the_changed_record(
    outcome, explain_models, explain_latest
):
    model = explain_models[outcome]
    X = as_matrix(explain_latest, model.features)
    p = model.predict_proba(X)
    attendance = X[:, model.features.index("attendance_12m")]
    low = np.flatnonzero(attendance < 0.85)
    assert len(low) >= 5
    seen = 0
    for i in low[np.argsort(-p[low])][:20]:
        changes = {c.lever: c for c in what_would_change(model, X[i], REGISTRY, float(p[i]))}
        change = changes["attendance"]
        expected = model.predict_proba(by_hand(X[i], model.features, "attendance")[None, :])[0]
        assert change.probability == pytest.approx(expected, abs=1e-12)
        assert change.probability <= p[i] + 1e-12  # held to its directions, it cannot rise
        assert change.sentence.startswith("If the records showed attendance back at 95%: ")
        assert set(change.features) <= ACTIONABLE["attendance"]
        assert not wording.find_banned(change.sentence + change.to_dict()["note"])
        seen += change.probability < p[i] - 1e-9
    assert seen  # some children's estimates do fall: the check can tell


def test_no_line_where_the_record_is_already_typical_or_not_recorded(explain_models):
    model = explain_models["serious_violence"]
    features = model.features
    x = np.full(len(features), np.nan)
    x[features.index("attendance_12m")] = 0.97  # better than typical
    x[features.index("suspensions_12m")] = 0.0
    assert changed_records(x, features, REGISTRY) == {}
    x[features.index("missing_episodes_12m")] = 2.0
    records = changed_records(x, features, REGISTRY)
    assert list(records) == ["missing"]
    moved, changed = records["missing"]
    assert moved == ["missing_episodes_12m"]  # the 3-month count is not recorded: left alone
    assert changed[features.index("missing_episodes_12m")] == 0.0
    assert math.isnan(changed[features.index("missing_episodes_3m")])


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_scoring_the_changes_from_the_served_explainer_gives_the_boosters_number(
    outcome, explain_models, explain_latest
):
    from explain.batch import explainer_for

    model = explain_models[outcome]
    X = as_matrix(explain_latest, model.features)
    p = model.predict_proba(X)
    explainer = explainer_for(model.booster)
    compared = 0
    for i in np.argsort(-p)[:30]:
        by_booster = what_would_change(model, X[i], REGISTRY, float(p[i]))
        served = what_would_change(model, X[i], REGISTRY, float(p[i]), explainer=explainer)
        assert [c.lever for c in served] == [c.lever for c in by_booster]
        for a, b in zip(served, by_booster, strict=True):
            assert a.probability == pytest.approx(b.probability, abs=1e-12)
            compared += 1
    assert compared
