"""Reasons from contributions, on real LightGBM models and the real registry."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest

from explain import wording
from explain.prompt import unrecorded_dict
from explain.reasons import (
    PROTECTED,
    additivity_gap,
    calibrated_log_odds,
    check_additivity,
    explain_row,
    reads_against,
)
from features.build import AUDIT_COLUMNS
from models.scoring import ScoringModel, as_matrix
from training.config import LightGBMSettings
from training.model import fit_booster, fit_platt

OUTCOMES = ("exclusion_neet", "serious_violence")
PROTECTED_WORDS = re.compile(r"\b(ethnicity|ethnic|sex|religion|religious)\b", re.IGNORECASE)
VICTIM = ("victim_of_crime_12m", "serious_violence_victim_12m")
SUSPECT = ("suspect_12m", "suspect_ever", "serious_violence_suspect_12m")


def _X(table, model):
    return as_matrix(table, model.features)


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_contributions_add_up_to_the_raw_and_calibrated_output(
    outcome, explain_models, explain_latest
):
    model = explain_models[outcome]
    X = _X(explain_latest, model)
    contributions = model.contributions(X)
    assert additivity_gap(model, X, contributions).max() <= 1e-9
    raw = model.booster.predict(X, raw_score=True)
    np.testing.assert_allclose(contributions.sum(axis=1), raw, rtol=0, atol=1e-9)
    np.testing.assert_allclose(
        calibrated_log_odds(model, contributions), model.log_odds(X), rtol=0, atol=1e-9
    )
    check_additivity(model, X, contributions)


def test_contributions_of_other_rows_fail_the_additivity_check(explain_models, explain_latest):
    model = explain_models["serious_violence"]
    X = _X(explain_latest, model)[:50]
    shuffled = model.contributions(X)[::-1]
    with pytest.raises(ValueError, match="do not add up to the model's output"):
        check_additivity(model, X, shuffled)
    with pytest.raises(ValueError, match="expected \\(50, "):
        check_additivity(model, X, shuffled[:, :-1])


@pytest.mark.parametrize("outcome", OUTCOMES)
def test_reasons_are_signed_sorted_and_their_weights_add_up(
    outcome, explain_models, explain_latest, explain_registry
):
    model = explain_models[outcome]
    X = _X(explain_latest, model)
    log_odds = model.log_odds(X)
    rows = np.argsort(log_odds)[-40:]
    contributions = model.contributions(X[rows])
    for x, c, expected in zip(X[rows], contributions, log_odds[rows], strict=True):
        explanation = explain_row(x, c, model, explain_registry)
        weights = model.slope * c[:-1]
        assert explanation.log_odds == pytest.approx(expected, abs=1e-9)
        assert explanation.base_log_odds == pytest.approx(
            model.slope * c[-1] + model.intercept, abs=1e-12
        )
        assert len(explanation.concerns) <= 5 and len(explanation.protective) <= 5
        for reasons, sign, label in (
            (explanation.concerns, 1, wording.RAISES_CONCERN),
            (explanation.protective, -1, wording.PROTECTIVE),
        ):
            sizes = [abs(r.weight) for r in reasons]
            assert sizes == sorted(sizes, reverse=True)
            for r in reasons:
                i = model.features.index(r.feature)
                assert r.weight == pytest.approx(weights[i]) and np.sign(r.weight) == sign
                assert abs(r.weight) > 0.01
                assert r.direction == label
                assert r.share == pytest.approx(abs(weights[i]) / np.abs(weights).sum())
        # the strongest concern is the largest positive weight of the features that may be
        # named: not context (age, given with its weight as context), recorded, material and
        # saying something
        total = np.abs(weights).sum()
        nameable = [
            w
            for n, v, w in zip(model.features, x, weights, strict=True)
            if not explain_registry[n].context
            and not np.isnan(v)
            and abs(w) >= 0.05 * total
            and not (explain_registry[n].unit == "points" and abs(v) < 0.5)
            and not reads_against(explain_registry[n], v, w)
        ]
        if nameable and max(nameable) > 0.01:
            assert explanation.concerns[0].weight == pytest.approx(max(nameable))
        context = {r.feature: r.weight for r in explanation.context}
        assert context == pytest.approx(
            {
                n: w
                for n, w in zip(model.features, weights, strict=True)
                if explain_registry[n].context
            }
        )


def test_reason_sentences_are_the_registry_description_with_the_value(
    explain_models, explain_latest, explain_registry
):
    model = explain_models["exclusion_neet"]
    X = _X(explain_latest, model)
    row = int(np.argmax(model.log_odds(X)))
    explanation = explain_row(
        X[row], model.contributions(X[row : row + 1])[0], model, explain_registry
    )
    reasons = explanation.concerns + explanation.protective
    assert reasons
    for r in reasons:
        spec = explain_registry[r.feature]
        value = X[row, model.features.index(r.feature)]
        assert r.agency == spec.agency
        assert np.array_equal(r.value, value, equal_nan=True)
        assert not np.isnan(value)  # an unrecorded value is never a reason
        assert r.sentence == spec.reads(value)
        if spec.unit != "flag":
            assert r.formatted_value in r.sentence


def test_agencies_sum_their_features_weights(explain_models, explain_latest, explain_registry):
    model = explain_models["serious_violence"]
    X = _X(explain_latest, model)
    row = int(np.argmax(model.log_odds(X)))
    c = model.contributions(X[row : row + 1])[0]
    explanation = explain_row(X[row], c, model, explain_registry)
    weights = model.slope * c[:-1]
    by_agency = {}
    for name, w in zip(model.features, weights, strict=True):
        if explain_registry[name].context:
            continue  # age is context, not an agency's record
        agency = explain_registry[name].agency
        by_agency[agency] = by_agency.get(agency, 0.0) + w
    assert explanation.agencies
    for a in explanation.agencies:
        assert a.weight == pytest.approx(by_agency[a.agency])
    top = max(by_agency, key=lambda k: abs(by_agency[k]))
    assert explanation.agencies[0].agency == top
    assert explanation.summary.startswith("Where the picture comes from: " + top)


@pytest.mark.parametrize("outcome", ["exclusion_neet", "serious_violence"])
def test_age_is_never_a_reason_even_where_it_weighs_most(
    outcome, explain_models, explain_latest, explain_registry
):
    model = explain_models[outcome]
    X = _X(explain_latest, model)
    age = model.features.index("age_years")
    contributions = model.contributions(X)
    weights = model.slope * contributions[:, :-1]
    heaviest = np.abs(weights).argmax(axis=1) == age
    if outcome == "exclusion_neet":
        assert heaviest.any()  # the case the issue saw: age carried most of the weight
    else:
        heaviest = np.abs(weights[:, age]) > 0.01  # age weighs enough to have been a reason
        assert heaviest.any()
    for row in np.flatnonzero(heaviest)[:20]:
        explanation = explain_row(X[row], contributions[row], model, explain_registry)
        named = {r.feature for r in explanation.concerns + explanation.protective}
        assert "age_years" not in named
        assert [c.feature for c in explanation.context] == ["age_years"]
        assert "Partnership records" not in {a.agency for a in explanation.agencies}


def test_no_reason_ever_names_a_protected_characteristic(
    explain_models, explain_latest, explain_registry
):
    for model in explain_models.values():
        X = _X(explain_latest, model)[::5]
        for x, c in zip(X, model.contributions(X), strict=True):
            e = explain_row(x, c, model, explain_registry, top_n=100, threshold=0.0)
            for r in e.concerns + e.protective:
                assert r.feature not in AUDIT_COLUMNS and r.feature not in PROTECTED
                assert not PROTECTED_WORDS.search(r.sentence), r.sentence
            assert not PROTECTED_WORDS.search(e.summary)


def test_a_model_reading_a_protected_characteristic_is_refused(
    explain_models, explain_latest, explain_registry
):
    model = explain_models["serious_violence"]
    x = _X(explain_latest, model)[0]
    c = model.contributions(x[None, :])[0]
    for name in ("ethnicity", "sex", "religion", "area", "send"):
        leaky = dataclasses.replace(model, features=[*model.features[:-1], name])
        with pytest.raises(ValueError, match=f"protected characteristics \\['{name}'\\]"):
            explain_row(x, c, leaky, explain_registry)


def test_victim_and_suspect_reasons_keep_harmed_apart_from_harming(
    explain_models, explain_registry
):
    """Every police feature gets a weight; each sentence says which side the record is on."""
    model = explain_models["serious_violence"]
    x = np.zeros(len(model.features))
    c = np.zeros(len(model.features) + 1)
    for i, name in enumerate(model.features):
        if name in VICTIM + SUSPECT:
            x[i], c[i] = 2.0, (0.5 if name in VICTIM else -0.5)
    e = explain_row(x, c, model, explain_registry, top_n=10)
    sentences = {r.feature: r.sentence.lower() for r in e.concerns + e.protective}
    assert set(sentences) == set(VICTIM + SUSPECT)
    for name in VICTIM:
        assert "victim" in sentences[name] and "suspect" not in sentences[name]
    for name in SUSPECT:
        assert "suspect" in sentences[name] and "victim" not in sentences[name]


def test_victim_and_suspect_wording_holds_in_real_reasons(explain_table, explain_registry):
    """A real model of serious violence on the police's victim and suspect records alone."""
    features = list(VICTIM + SUSPECT)
    latest = explain_table["snapshot_date"].max()
    known = explain_table[explain_table["label_serious_violence"].notna()]
    train, valid = known.iloc[::2], known.iloc[1::2]
    settings = LightGBMSettings(
        n_estimators=40, learning_rate=0.2, min_child_samples=20, colsample_bytree=1.0
    )
    booster = fit_booster(
        as_matrix(train, features),
        train["label_serious_violence"].to_numpy(),
        as_matrix(valid, features),
        valid["label_serious_violence"].to_numpy(),
        settings,
        features=features,
        seed=3,
    )
    X_valid = as_matrix(valid, features)
    slope, intercept = fit_platt(
        booster.predict(X_valid, raw_score=True), valid["label_serious_violence"].to_numpy()
    )
    model = ScoringModel(booster, features, slope, intercept, "serious_violence")
    X = as_matrix(explain_table[explain_table["snapshot_date"] == latest], features)
    seen = set()
    for x, c in zip(X, model.contributions(X), strict=True):
        e = explain_row(x, c, model, explain_registry, top_n=100)
        for r in e.concerns + e.protective:
            seen.add(r.feature)
            side, other = ("victim", "suspect") if r.feature in VICTIM else ("suspect", "victim")
            assert side in r.sentence and other not in r.sentence, r.sentence
    assert seen & set(VICTIM) and seen & set(SUSPECT)


def test_top_n_and_threshold_limit_the_reasons(explain_models, explain_latest, explain_registry):
    model = explain_models["exclusion_neet"]
    X = _X(explain_latest, model)
    row = int(np.argmax(model.log_odds(X)))
    c = model.contributions(X[row : row + 1])[0]
    every = dict(threshold=0.0, min_share=0.0)
    full = explain_row(X[row], c, model, explain_registry, top_n=100, **every)
    short = explain_row(X[row], c, model, explain_registry, top_n=2, **every)
    for part in ("concerns", "protective"):
        names = [r.feature for r in getattr(full, part)]
        assert [r.feature for r in getattr(short, part)] == names[:2]
    # age is context, an unrecorded value is not a reason, a flag's part against its
    # declared direction is not shown
    named = [
        not explain_registry[n].context
        and not np.isnan(v)
        and not reads_against(explain_registry[n], v, w)
        and not (explain_registry[n].unit == "points" and abs(v) < 0.5)
        for n, v, w in zip(model.features, X[row], model.slope * c[:-1], strict=True)
    ]
    weights = (model.slope * c[:-1])[named]
    assert len(full.concerns) == int(np.sum(weights > 0))
    strict = explain_row(X[row], c, model, explain_registry, top_n=100, threshold=0.2, min_share=0)
    assert len(strict.concerns) + len(strict.protective) == int(np.sum(np.abs(weights) > 0.2))


def test_time_since_an_event_that_never_happened_reads_none_on_record(
    explain_models, explain_registry
):
    model = explain_models["exclusion_neet"]
    x = np.zeros(len(model.features))
    c = np.zeros(len(model.features) + 1)
    i = model.features.index("months_since_suspension")
    x[i], c[i] = np.nan, -0.3
    (reason,) = explain_row(x, c, model, explain_registry).protective
    assert reason.sentence == "Months since the most recent suspension from school: none on record"
    assert reason.to_dict()["value"] is None


def test_wrong_shapes_are_refused_with_a_clear_message(explain_models, explain_registry):
    model = explain_models["exclusion_neet"]
    n = len(model.features)
    with pytest.raises(ValueError, match="one child's values in the model's feature order"):
        explain_row(np.zeros(n - 1), np.zeros(n + 1), model, explain_registry)
    with pytest.raises(ValueError, match="base value last"):
        explain_row(np.zeros(n), np.zeros(n), model, explain_registry)


def test_a_flag_reads_against_its_direction_only_when_its_part_contradicts_it(explain_registry):
    abuse = explain_registry["abuse_or_neglect_recorded"]  # declared: raises concern
    assert reads_against(abuse, 1.0, -0.3)  # "recorded: yes" going well
    assert reads_against(abuse, 0.0, 0.3)  # "none recorded" raising concern
    assert not reads_against(abuse, 1.0, 0.3) and not reads_against(abuse, 0.0, -0.3)
    assert not reads_against(abuse, float("nan"), -0.3)
    assert reads_against(dataclasses.replace(abuse, direction="protective"), 1.0, 0.3)
    assert not reads_against(explain_registry["alternative_provision"], 1.0, -0.3)  # either
    assert not reads_against(explain_registry["suspensions_12m"], 0.0, 0.3)  # not a flag


def test_no_reason_says_nothing_is_unrecorded_immaterial_or_contrary(
    explain_models, explain_latest, explain_registry
):
    model = explain_models["serious_violence"]
    names = model.features
    x = _X(explain_latest, model)[0].copy()
    weights = np.zeros(len(names) + 1)
    planted = {
        "attendance_change": (0.0, 0.9),  # "+0 percentage points" raising concern
        "attendance_12m": (np.nan, 0.8),  # not recorded
        "abuse_or_neglect_recorded": (1.0, -0.7),  # "recorded" going well
        "suspensions_12m": (2.0, 0.6),  # a real reason
        "fsm_eligible": (1.0, 0.03),  # under 5% of the total weight
        "looked_after_ever": (0.0, -0.5),  # "has never been looked after", going well
    }
    for name, (value, weight) in planted.items():
        x[names.index(name)] = value
        weights[names.index(name)] = weight / model.slope
    e = explain_row(x, weights, model, explain_registry, top_n=10)
    assert [r.feature for r in e.concerns] == ["suspensions_12m"]
    assert [r.feature for r in e.protective] == ["looked_after_ever"]
    assert e.protective[0].sentence == "Has never been looked after by the local authority"
    assert e.concerns[0].sentence == "Suspensions from school in the last 12 months: 2"
    [gap] = e.unrecorded
    assert gap.feature == "attendance_12m" and gap.weight == pytest.approx(0.8)
    sentence = unrecorded_dict(gap)["sentence"]
    assert sentence.startswith("Attendance over the last 12 months: not recorded. The gap raised")
    assert "unknown is not the same as no concern" in sentence
    # with no minimum share the small part is named, and nothing else changes
    every = explain_row(x, weights, model, explain_registry, top_n=10, min_share=0.0)
    assert [r.feature for r in every.concerns] == ["suspensions_12m", "fsm_eligible"]
