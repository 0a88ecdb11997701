"""The transparency record's pure builder and renderer: every ATRS section, nothing invented."""

from __future__ import annotations

import json

import pytest
from governance_checks import BANNED, empty_fields, not_supplied_paths

from features.outcomes import load_outcomes
from governance.partnership import (
    EXAMPLE_FILE,
    NOT_SUPPLIED,
    PartnershipSettings,
    load_partnership,
    not_supplied,
)
from governance.transparency import (
    PARTNERSHIP_FIELDS,
    TIER_1_FIELDS,
    TIER_2_SECTIONS,
    TITLES,
    render_markdown,
    transparency_record,
)
from training.card import model_card
from training.config import load_training_settings

NAME = "serious_violence"
SENSITIVE = "sen_support"
METRICS = {
    "auc": 0.81,
    "auc_low": 0.78,
    "auc_high": 0.84,
    "precision_at_k": 0.31,
    "recall_at_k": 0.12,
    "indicator_count.auc": 0.71,
    "indicator_count.auc_low": 0.68,
    "indicator_count.auc_high": 0.74,
    "indicator_count.precision_at_k": 0.18,
    "logistic.auc": 0.83,
    "logistic.precision_at_k": 0.3,
    "oracle.auc": 0.86,
    "auc_within_age": 0.74,
    "auc_within_age_low": 0.70,
    "auc_within_age_high": 0.78,
    "indicator_count.auc_within_age": 0.66,
    "logistic.auc_within_age": 0.73,
    "vs.indicator_count.auc_within_age": 0.08,
    "vs.indicator_count.auc_within_age_low": 0.05,
    "vs.indicator_count.auc_within_age_high": 0.11,
    "vs.logistic.auc_within_age": 0.01,
    "vs.logistic.auc_within_age_low": -0.01,
    "vs.logistic.auc_within_age_high": 0.03,
}
FAIRNESS = {
    "passed": True,
    "reasons": ["every checked group is within the band"],
    "flags": [],
    "audited_at": "2026-03-01T10:00:00+00:00",
}
VERSION = {
    "name": NAME,
    "version": "3",
    "run_id": "abc123",
    "tags": {
        "lantern.promotion.decision": "forced",
        "lantern.promotion.at": "2026-03-02T09:00:00+00:00",
        "lantern.promotion.reason": "the audit was rerun by hand",
        "lantern.promotion.previous_champion": "2",
        "lantern.promotion.gates": json.dumps(
            [{"name": "auc", "passed": False, "reason": "AUC 0.70 vs champion 0.80"}]
        ),
    },
}


@pytest.fixture(scope="module")
def card(governance_registry):
    """A model card made by the pipeline's own card builder, for a few real features."""
    names = [n for n, s in governance_registry.items() if not s.sensitive][:6] + [SENSITIVE]
    features = [
        {
            "name": n,
            "description": governance_registry[n].description,
            "agency": governance_registry[n].agency,
            "window": governance_registry[n].window,
            "unit": governance_registry[n].unit,
            "sensitive": governance_registry[n].sensitive,
        }
        for n in names
    ]
    settings = load_training_settings()
    return model_card(
        name=NAME,
        version=None,
        outcome=load_outcomes()[NAME].model_dump(),
        data={
            "train": {"snapshots": ["2022-09-01"], "rows": 900, "children": 800, "base_rate": 0.03},
            "test": {"snapshot": "2023-09-01", "rows": 300, "children": 300, "base_rate": 0.04},
        },
        metrics={"lantern": {"ROC AUC": "0.810 (0.780-0.840)", "children flagged": "6"}},
        features=features,
        sensitive={SENSITIVE: settings.features.sensitive[SENSITIVE]},
        settings=settings.model_dump(exclude={"features"}),
        trained_at="2026-02-28 12:00 UTC",
    )


def build(card, registry, partnership, **changes):
    inputs = dict(
        card=card,
        fairness=FAIRNESS,
        registry=registry,
        partnership=partnership,
        version=VERSION,
        metrics=METRICS,
    )
    return transparency_record(**{**inputs, **changes})


EMPTY = PartnershipSettings()
EXAMPLE = load_partnership(EXAMPLE_FILE)


@pytest.mark.parametrize("partnership", [EMPTY, EXAMPLE], ids=["nothing supplied", "example"])
def test_every_section_is_present_and_filled_or_marked_not_supplied(
    card, governance_registry, partnership
):
    record = build(card, governance_registry, partnership)
    assert list(record["tier_1"]) == list(TIER_1_FIELDS)
    assert list(record["tier_2"]) == list(TIER_2_SECTIONS)
    for key in TIER_2_SECTIONS:
        assert record["tier_2"][key], key
        assert empty_fields(record["tier_2"][key]) == [], key
    assert empty_fields(record["tier_1"]) == []


def test_what_the_partnership_has_not_supplied_is_shown_as_missing_never_invented(
    card, governance_registry
):
    record = build(card, governance_registry, EMPTY)
    assert record["not_supplied"] == list(PARTNERSHIP_FIELDS)
    text = json.dumps(record)
    for field in PARTNERSHIP_FIELDS:
        assert not_supplied(field) in text, field
    assert record["tier_1"]["contact_email"] == not_supplied("contact_email")
    owner = record["tier_2"]["owner_and_responsibility"]
    assert all(value.startswith(NOT_SUPPLIED) for value in owner.values())
    # The phase's allowed values are named in its "what to add" text, so it is left out.
    example_values = [str(v) for k, v in EXAMPLE.model_dump().items() if k != "phase"]
    assert not [v for v in example_values if v in text]
    assert "@" not in text, "no contact address was supplied, so none may appear"


def test_what_the_partnership_supplies_is_used_as_given(card, governance_registry):
    record = build(card, governance_registry, EXAMPLE)
    assert record["not_supplied"] == []
    assert not_supplied_paths(record) == []
    text = json.dumps(record)
    for field in PARTNERSHIP_FIELDS:
        assert str(getattr(EXAMPLE, field)) in text, field
    assert EXAMPLE.name in record["tier_1"]["description"]
    assert NOT_SUPPLIED not in render_markdown(record)


def test_a_partly_filled_file_marks_only_the_rest(card, governance_registry):
    partial = PartnershipSettings(contact_email="team@council.example")
    record = build(card, governance_registry, partial)
    assert record["tier_1"]["contact_email"] == "team@council.example"
    assert record["tier_1"]["website"] == not_supplied("website")
    assert "contact_email" not in record["not_supplied"]
    assert len(record["not_supplied"]) == len(PARTNERSHIP_FIELDS) - 1


def test_alternatives_considered_come_from_the_runs_metrics(card, governance_registry):
    record = build(card, governance_registry, EMPTY)
    rows = {
        r["option"]: r
        for r in record["tier_2"]["description_and_rationale"]["alternatives_considered"]
    }
    rule = rows["Indicator-count rule"]
    assert rule["test AUC"].startswith(f"{METRICS['indicator_count.auc']:.3f} (")
    assert f"{METRICS['indicator_count.auc_low']:.3f}" in rule["test AUC"]
    assert rule["AUC within each year of age"] == "0.660"
    # every verdict is the paired difference on the headline, with its interval
    assert rule["compared with Lantern"].startswith("Lantern is higher.")
    assert "+0.080 (95% CI +0.050 to +0.110)" in rule["compared with Lantern"]
    logistic = rows["Logistic regression"]["compared with Lantern"]
    assert logistic.startswith("The difference is within noise")
    assert "simpler option is a real choice" in logistic
    assert rows["Logistic regression"]["test AUC"] == f"{METRICS['logistic.auc']:.3f}"
    assert rows["Age alone"]["compared with Lantern"].startswith("Not compared")
    assert "Oracle (synthetic data only)" in rows


def test_alternatives_not_in_the_run_are_not_made_up(card, governance_registry):
    lantern_only = {k: v for k, v in METRICS.items() if "." not in k}
    record = build(card, governance_registry, EMPTY, metrics=lantern_only)
    rows = record["tier_2"]["description_and_rationale"]["alternatives_considered"]
    assert [r["option"] for r in rows] == [
        "Indicator-count rule",
        "Age alone",
        "Logistic regression",
        "Lantern (LightGBM, calibrated)",
    ]
    for row in rows[:3]:
        assert row["test AUC"] == "not measured in this run"
        assert row["compared with Lantern"].startswith("Not compared on the same children")


def test_the_fairness_audit_is_reported_or_its_absence_said(card, governance_registry):
    audited = build(card, governance_registry, EMPTY)["tier_2"]
    risks = audited["risks_mitigations_and_impact_assessments"]
    assert risks["impact_assessments"][2]["completed"] == FAIRNESS["audited_at"]
    assert FAIRNESS["reasons"][0] in json.dumps(risks["risks_and_mitigations"])
    missing = build(card, governance_registry, EMPTY, fairness=None)["tier_2"]
    risks = missing["risks_mitigations_and_impact_assessments"]
    assert risks["impact_assessments"][2]["completed"] == "not audited"
    assert "No fairness audit was found" in json.dumps(risks["risks_and_mitigations"])


def test_the_promotion_decision_and_sensitive_features_are_recorded(card, governance_registry):
    tool = build(card, governance_registry, EMPTY)["tier_2"]["tool_specification"]
    promotion = tool["maintenance"][1]
    assert "forced" in promotion and "the audit was rerun by hand" in promotion
    assert "replacing version 2" in promotion and "auc FAILED" in promotion
    sensitive = " ".join(tool["data_specification"]["sensitive_attributes"])
    assert f"`{SENSITIVE}`" in sensitive and card["sensitive_features"][SENSITIVE] in sensitive


def test_fields_name_their_source_table_from_the_registry(card, governance_registry):
    fields = build(card, governance_registry, EMPTY)["tier_2"]["tool_specification"][
        "data_specification"
    ]["fields"]
    assert [f["feature"] for f in fields] == [f["name"] for f in card["features"]]
    for row in fields:
        assert row["source table"] == governance_registry[row["feature"]].source
    without_one = {n: s for n, s in governance_registry.items() if n != SENSITIVE}
    fields = build(card, without_one, EMPTY)["tier_2"]["tool_specification"]["data_specification"][
        "fields"
    ]
    assert fields[-1]["source table"] == "not in the current feature registry"


def test_the_markdown_has_every_heading_in_order(card, governance_registry):
    text = render_markdown(build(card, governance_registry, EMPTY))
    headings = [
        "## Tier 1: overview",
        *[f"**{t}:**" for t in TIER_1_FIELDS.values()],
        "## Tier 2: detail",
        "## 1. Owner and responsibility",
        "## 2. Description and rationale",
        f"**{TITLES['alternatives_considered']}**",
        "## 3. Decision making process",
        f"**{TITLES['human_decisions_and_review']}**",
        "## 4. Tool specification",
        f"### {TITLES['model_specification']}",
        f"### {TITLES['data_specification']}",
        "## 5. Risks, mitigations and impact assessments",
        f"**{TITLES['impact_assessments']}**",
        f"**{TITLES['risks_and_mitigations']}**",
    ]
    positions = [text.find(h) for h in headings]
    assert -1 not in positions, [h for h, p in zip(headings, positions, strict=True) if p < 0]
    assert positions == sorted(positions)
    for field in PARTNERSHIP_FIELDS:
        assert not_supplied(field) in text, field


@pytest.mark.parametrize("partnership", [EMPTY, EXAMPLE], ids=["nothing supplied", "example"])
def test_no_banned_words(card, governance_registry, partnership):
    record = build(card, governance_registry, partnership)
    for text in (json.dumps(record), render_markdown(record)):
        assert BANNED.findall(text) == []
