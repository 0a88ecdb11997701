"""The advisory prompt and the cohort list, built from real models and a real feature table."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from explain import wording
from explain.prompt import (
    EXPECTED_AGES,
    ServedModel,
    advisory_prompt,
    age_sentence,
    cohort_list,
    missing_records,
    model_prompt,
    outcome_title,
)
from explain.standing import BAND_EDGES, band_for, frequency_words, rank_in_cohort
from explain.wording import find_banned
from features.outcomes import Outcome
from models.scoring import as_matrix

OUTCOMES = ("exclusion_neet", "serious_violence")
PROMPT_KEYS = {
    "prompt_id",
    "child_id",
    "snapshot_date",
    "purpose",
    "issued_at",
    "advisory_notice",
    "linkage",
    "judgement_invitation",
    "models",
}
MODEL_KEYS = {
    "model",
    "title",
    "version",
    "trained_at",
    "probability",
    "band",
    "rank",
    "reasons",
    "protective",
    "agencies",
    "where_from",
    "context",
    "missing",
    "unrecorded",
    "what_would_change",
}


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


@pytest.fixture(scope="module")
def served(explain_models, explain_outcomes):
    return {
        name: ServedModel(
            model, version="4", outcome=explain_outcomes[name], trained_at="2026-08-01 09:00 UTC"
        )
        for name, model in explain_models.items()
    }


@pytest.fixture(scope="module")
def cohort(explain_models, explain_latest):
    """Each model's features and sorted cohort scores at the latest snapshot."""
    out = {}
    for name, model in explain_models.items():
        X = as_matrix(explain_latest, model.features)
        out[name] = (X, np.sort(model.predict_proba(X)))
    return out


def _prompt(child, served, cohort, explain_latest, explain_registry, outcomes=OUTCOMES):
    sections = []
    for name in outcomes:
        X, scores = cohort[name]
        model = served[name].model
        sections.append(
            model_prompt(
                served[name],
                X[child],
                model.contributions(X[child : child + 1])[0],
                explain_registry,
                scores,
                snapshot_date=explain_latest["snapshot_date"].iloc[child],
            )
        )
    return advisory_prompt(
        prompt_id="p-1",
        child_id=explain_latest["child_id"].iloc[child],
        snapshot_date=explain_latest["snapshot_date"].iloc[child],
        purpose="Multi-agency team meeting: who might need early help",
        issued_at="2026-09-02T10:15:00+00:00",
        models=sections,
    )


# --- bands --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "probability, name",
    [
        (0.0, "under 1 in 100"),
        (0.009, "under 1 in 100"),
        (0.01, "1 in 100 to 1 in 20"),
        (0.049, "1 in 100 to 1 in 20"),
        (0.05, "1 in 20 to 1 in 8"),
        (0.125, "1 in 8 to 1 in 3"),
        (0.34, "over 1 in 3"),
        (1.0, "over 1 in 3"),
    ],
)
def test_bands_are_fixed_and_named_in_one_in_n(probability, name):
    assert band_for(probability).name == name


def test_the_band_meaning_reads_as_a_friendly_frequency():
    assert band_for(0.125).meaning == (
        "about 1 in 8 children with a similar record had this outcome within 12 months"
    )
    assert band_for(0.042, window_months=6).meaning.endswith("within 6 months")
    assert frequency_words(0.42) == "about 4 in 10"
    assert frequency_words(0.0004) == "fewer than 1 in 1,000"
    assert frequency_words(0.99) == "more than 9 in 10"
    assert frequency_words(1 / 230) == "about 1 in 230"


@given(st.floats(min_value=0.0, max_value=1.0))
def test_every_probability_has_one_band_that_holds_it(p):
    band = band_for(p)
    assert band.low <= p and (p < band.high or band.high == 1.0)
    edges = [0.0, *(1 / n for n in BAND_EDGES), 1.0]
    assert (band.low, band.high) in list(zip(edges[:-1], edges[1:], strict=True))


@given(st.floats(min_value=0.001, max_value=0.299))
def test_the_one_in_n_is_close_to_the_probability(p):
    n = int(re.fullmatch(r"about 1 in ([\d,]+)", frequency_words(p)).group(1).replace(",", ""))
    assert abs(n - 1 / p) <= 0.125 * (1 / p) + 0.5


def test_a_probability_outside_0_to_1_is_refused():
    with pytest.raises(ValueError, match="not between 0 and 1"):
        band_for(1.2)


# --- rank ---------------------------------------------------------------------------------


def test_rank_counts_higher_scores_and_ties_share_a_place():
    scores = np.array([0.1, 0.2, 0.2, 0.3])
    tied = rank_in_cohort(0.2, scores, "2026-09-01")
    assert (tied.position, tied.cohort_size, tied.percent_higher) == (2, 4, 25.0)
    assert tied.meaning.startswith(
        "1 of the 4 children in the partnership's records on 1 September 2026 has a higher"
    )
    top = rank_in_cohort(0.3, scores, "2026-09-01")
    assert top.position == 1 and top.meaning.startswith("None of the 4 children")
    assert rank_in_cohort(0.05, scores, "2026-09-01").meaning.startswith("4 of the 4 children")


@given(
    st.lists(st.floats(0, 1), min_size=1, max_size=60),
    st.floats(0, 1),
)
def test_rank_position_is_one_more_than_the_children_scored_higher(scores, p):
    rank = rank_in_cohort(p, np.sort(scores), "2026-09-01")
    higher = sum(s > p + 1e-12 for s in scores)
    assert rank.position == higher + 1
    assert rank.percent_higher == pytest.approx(100 * higher / len(scores))


def test_rank_refuses_unsorted_or_empty_scores():
    with pytest.raises(ValueError, match="sorted ascending"):
        rank_in_cohort(0.2, np.array([0.3, 0.1]), "2026-09-01")
    with pytest.raises(ValueError, match="every cohort child's calibrated probability"):
        rank_in_cohort(0.2, np.array([]), "2026-09-01")


# --- missing records ----------------------------------------------------------------------


def _first(table, mask):
    rows = np.flatnonzero(mask)
    assert rows.size, "the synthetic partnership has no such child"
    return int(rows[0])


def test_a_school_age_child_without_attendance_figures_has_them_listed_as_unknown(
    explain_table, explain_models, explain_registry
):
    features = explain_models["exclusion_neet"].features
    X = as_matrix(explain_table, features)
    row = _first(
        explain_table,
        explain_table["attendance_12m"].isna()
        & explain_table["off_roll"].notna()
        & (explain_table["age_years"] <= 15),
    )
    missing = {m.source: m for m in missing_records(X[row], features, explain_registry)}
    school = missing["school_census"]
    assert school.agency == "School"
    assert {"attendance_12m", "attendance_last_term"} <= set(school.features)
    assert "off_roll" not in school.features
    assert school.sentence.startswith(
        "Not known from School records at this date: attendance over the last school term; "
    )
    assert school.sentence.endswith("Unknown is not the same as no concern.")
    assert "education_status" not in missing  # the careers service tracks from 16


def test_a_record_without_any_school_census_data_says_so(
    explain_latest, explain_models, explain_registry
):
    features = explain_models["exclusion_neet"].features
    row = _first(explain_latest, explain_latest["age_years"] == 14)
    x = as_matrix(explain_latest, features)[row].copy()
    school = [i for i, n in enumerate(features) if explain_registry[n].source == "school_census"]
    x[school] = np.nan
    (missing,) = missing_records(x, features, explain_registry)
    assert missing.source == "school_census"
    assert missing.features == [features[i] for i in school]
    assert missing.sentence == (
        "No school census record at this date: attendance and school details are unknown, "
        "not reassuring."
    )


def test_careers_records_are_missing_from_16_and_school_records_not_at_17(
    explain_table, explain_models, explain_registry
):
    features = explain_models["exclusion_neet"].features
    X = as_matrix(explain_table, features)
    row = _first(
        explain_table,
        explain_table["neet_now"].isna()
        & explain_table["attendance_12m"].isna()
        & (explain_table["age_years"] == 17),
    )
    missing = {m.source: m for m in missing_records(X[row], features, explain_registry)}
    assert missing["education_status"].sentence == wording.MISSING_RECORD["education_status"]
    assert "school_census" not in missing
    assert EXPECTED_AGES["school_census"][1] < 17


def test_partly_missing_records_name_what_is_unknown(
    explain_table, explain_models, explain_registry
):
    features = explain_models["exclusion_neet"].features
    X = as_matrix(explain_table, features)
    row = _first(
        explain_table,
        explain_table["attendance_change"].isna()
        & explain_table["attendance_last_term"].notna()
        & (explain_table["age_years"] == 16),
    )
    (school,) = [
        m
        for m in missing_records(X[row], features, explain_registry)
        if m.source == "school_census"
    ]
    assert school.features == ["attendance_change"]
    assert school.sentence == (
        "Not known from School records at this date: change in attendance from the term before "
        "to the last term. Unknown is not the same as no concern."
    )


def test_no_suspension_is_not_a_missing_record(explain_table, explain_models, explain_registry):
    features = explain_models["exclusion_neet"].features
    X = as_matrix(explain_table, features)
    never = explain_table["months_since_suspension"].isna().to_numpy()
    assert never.any()
    for x in X[never][:300]:
        for m in missing_records(x, features, explain_registry):
            assert "months_since_suspension" not in m.features


# --- the prompt ---------------------------------------------------------------------------


def test_a_prompt_for_both_models_has_every_field_and_is_json(
    served, cohort, explain_latest, explain_registry, explain_models
):
    X, scores = cohort["serious_violence"]
    child = int(np.argmax(explain_models["serious_violence"].predict_proba(X)))
    data = _prompt(child, served, cohort, explain_latest, explain_registry).to_dict()
    text = json.dumps(data, allow_nan=False)
    data = json.loads(text)
    assert set(data) == PROMPT_KEYS
    assert data["linkage"] is None  # no linkage given: the prompt says nothing of it
    assert data["advisory_notice"] == wording.ADVISORY_NOTICE
    assert data["judgement_invitation"] == wording.JUDGEMENT_INVITATION
    assert data["snapshot_date"] == f"{explain_latest['snapshot_date'].iloc[child]:%Y-%m-%d}"
    assert [m["model"] for m in data["models"]] == list(OUTCOMES)
    for section in data["models"]:
        assert set(section) == MODEL_KEYS
        model = explain_models[section["model"]]
        Xm, sorted_scores = cohort[section["model"]]
        p = float(model.predict_proba(Xm[child : child + 1])[0])
        assert section["probability"] == pytest.approx(p, abs=1e-4)
        assert section["band"] == band_for(p).to_dict()
        assert "12 months" in section["title"]
        assert section["rank"]["position"] == int(np.sum(sorted_scores > p + 1e-12)) + 1
        assert section["rank"]["cohort_size"] == len(explain_latest)
        assert all(r["direction"] == wording.RAISES_CONCERN for r in section["reasons"])
        assert all(r["direction"] == wording.PROTECTIVE for r in section["protective"])
        assert section["where_from"].startswith("Where the picture comes from:")
        age = explain_latest["age_years"].iloc[child]
        (context,) = section["context"]
        assert context["feature"] == "age_years" and context["value"] == age
        assert context["sentence"].startswith(f"Aged {age:.0f}")
        assert context["note"] == wording.CONTEXT_NOTE
        named = [r["feature"] for r in section["reasons"] + section["protective"]]
        assert "age_years" not in named
    top = data["models"][1]
    assert top["rank"]["position"] == 1 and top["reasons"]


@pytest.mark.parametrize(
    ("age", "sentence"),
    [
        (16, "Aged 16: NEET is possible at this age; permanent exclusion is not"),
        (14, "Aged 14: permanent exclusion is possible at this age; NEET is not"),
    ],
)
def test_age_reads_as_who_the_outcome_can_happen_to(age, sentence, explain_outcomes):
    assert age_sentence(age, explain_outcomes["exclusion_neet"]) == sentence
    assert age_sentence(age, explain_outcomes["serious_violence"]) == f"Aged {age}"


def test_a_prompt_for_one_model(served, cohort, explain_latest, explain_registry):
    prompt = _prompt(7, served, cohort, explain_latest, explain_registry, ("exclusion_neet",))
    data = prompt.to_dict()
    assert [m["model"] for m in data["models"]] == ["exclusion_neet"]
    assert data["models"][0]["title"] == outcome_title(served["exclusion_neet"].outcome)


def test_every_string_in_generated_prompts_is_free_of_banned_phrases(
    served, cohort, explain_latest, explain_registry, explain_models
):
    X, _ = cohort["exclusion_neet"]
    p = explain_models["exclusion_neet"].predict_proba(X)
    children = [*np.argsort(p)[-15:], *np.argsort(p)[:5], *range(0, len(p), 200)]
    for child in children:
        data = _prompt(int(child), served, cohort, explain_latest, explain_registry).to_dict()
        for text in _strings(data):
            assert find_banned(text) == [], text


def test_contributions_for_another_child_are_refused_when_verifying(
    served, cohort, explain_latest, explain_registry
):
    X, scores = cohort["exclusion_neet"]
    model = served["exclusion_neet"].model
    other = model.contributions(X[1:2])[0]
    with pytest.raises(ValueError, match="do not add up"):
        model_prompt(
            served["exclusion_neet"],
            X[0],
            other,
            explain_registry,
            scores,
            snapshot_date="2026-09-01",
            verify=True,
        )


def test_the_probability_shown_is_the_models_own(served, cohort, explain_registry):
    for name in OUTCOMES:
        X, scores = cohort[name]
        model = served[name].model
        rows = X[:50]
        shown = [
            model_prompt(
                served[name],
                x,
                c,
                explain_registry,
                scores,
                snapshot_date="2026-09-01",
            ).probability
            for x, c in zip(rows, model.contributions(rows), strict=True)
        ]
        np.testing.assert_allclose(shown, model.predict_proba(rows), rtol=0, atol=1e-12)


def test_a_prompt_needs_a_purpose_and_one_section_per_model(
    served, cohort, explain_latest, explain_registry
):
    section = _prompt(3, served, cohort, explain_latest, explain_registry).models[0]
    common = dict(prompt_id="p", child_id="C1", snapshot_date="2026-09-01", issued_at="now")
    with pytest.raises(ValueError, match="no stated purpose"):
        advisory_prompt(purpose="  ", models=[section], **common)
    with pytest.raises(ValueError, match="one section per model"):
        advisory_prompt(purpose="review", models=[section, section], **common)
    with pytest.raises(ValueError, match="at least one model_prompt"):
        advisory_prompt(purpose="review", models=[], **common)


def test_a_title_gains_its_window_when_the_description_lacks_it():
    outcome = Outcome.model_validate(
        {
            "description": "Permanently excluded from school.",
            "window_months": 6,
            "any_of": [{"table": "exclusions", "where": {"kind": "permanent"}}],
        }
    )
    assert outcome_title(outcome) == "Permanently excluded from school (within 6 months)"


# --- the cohort list ----------------------------------------------------------------------


def test_the_cohort_list_explains_only_the_top_children(
    explain_models, explain_latest, explain_registry, explain_outcomes
):
    model = explain_models["serious_violence"]
    X = as_matrix(explain_latest, model.features)
    ids = explain_latest["child_id"].tolist()
    calls = []

    def contributions_fn(rows):
        calls.append(rows.copy())
        return model.contributions(rows)

    result = cohort_list(
        model,
        X,
        ids,
        12,
        contributions_fn,
        explain_registry,
        outcome=explain_outcomes["serious_violence"],
    )
    p = model.predict_proba(X)
    expected = np.lexsort((np.asarray(ids, dtype=str), -p))[:12]  # ties in child-id order
    assert len(calls) == 1 and calls[0].shape == (12, len(model.features))
    np.testing.assert_array_equal(calls[0], X[expected])
    assert [c.child_id for c in result.children] == [ids[i] for i in expected]
    assert [c.position for c in result.children] == list(range(1, 13))
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["advisory_notice"] == wording.ADVISORY_NOTICE
    assert data["cohort_size"] == len(ids) and data["capacity"] == 12
    for entry, i in zip(data["children"], expected, strict=True):
        assert entry["probability"] == pytest.approx(p[i], abs=1e-4)
        assert entry["band"] == band_for(p[i]).to_dict()
        assert len(entry["reasons"]) <= 3 and len(entry["protective"]) <= 3
    assert data["children"][0]["reasons"]
    assert "12 months" in data["title"]


def test_the_cohort_list_breaks_ties_by_child_id(explain_models, explain_latest, explain_registry):
    model = explain_models["exclusion_neet"]
    X = as_matrix(explain_latest, model.features)
    best = int(np.argmax(model.predict_proba(X)))
    twins = np.vstack([X[best], X[best], X[:50]])
    ids = ["C-b", "C-a", *explain_latest["child_id"].iloc[:50]]
    result = cohort_list(model, twins, ids, 2, model.contributions, explain_registry)
    assert [c.child_id for c in result.children] == ["C-a", "C-b"]
    assert [c.percent_higher for c in result.children] == [0.0, 0.0]


def test_the_cohort_list_refuses_a_bad_capacity_or_ids(
    explain_models, explain_latest, explain_registry
):
    model = explain_models["exclusion_neet"]
    X = as_matrix(explain_latest, model.features)[:10]
    ids = list(explain_latest["child_id"].iloc[:10])
    for capacity in (0, 2.5, True):
        with pytest.raises(ValueError, match="whole number of children"):
            cohort_list(model, X, ids, capacity, model.contributions, explain_registry)
    with pytest.raises(ValueError, match="one id per row"):
        cohort_list(model, X, ids[:-1], 3, model.contributions, explain_registry)


@pytest.mark.parametrize("age, listed", [(13.0, True), (17.0, False)])
def test_a_material_gap_is_listed_with_its_effect_only_where_the_source_keeps_records(
    age, listed, served, cohort, explain_registry
):
    section = served["serious_violence"]
    features = section.model.features
    X, scores = cohort["serious_violence"]
    x = X[0].copy()
    x[features.index("age_years")] = age
    x[features.index("attendance_12m")] = np.nan
    contributions = np.zeros(len(features) + 1)
    contributions[features.index("attendance_12m")] = 0.6 / section.model.slope
    contributions[features.index("attendance_last_term")] = 0.001 / section.model.slope  # tiny
    x[features.index("attendance_last_term")] = np.nan
    prompt = model_prompt(
        section, x, contributions, explain_registry, scores, snapshot_date="2025-09-01"
    )
    gaps = prompt.to_dict()["unrecorded"]
    # the tiny gap is not listed; the material one only where school keeps records at this age
    assert [g["feature"] for g in gaps] == (["attendance_12m"] if listed else [])
    if listed:
        assert "The gap raised the estimate" in gaps[0]["sentence"]
    reasons = prompt.explanation.concerns + prompt.explanation.protective
    assert "attendance_12m" not in {r.feature for r in reasons}  # never a reason
