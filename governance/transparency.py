"""The transparency record of a model version, after the UK Algorithmic Transparency
Recording Standard (ATRS) v3.0: Tier 1 for the public, Tier 2's five sections for those who
want the detail.

``transparency_record`` builds the record (a dict, logged as JSON) from the version's model
card, fairness result, training metrics and datasheet, the feature registry and what the
partnership has supplied; ``render_markdown`` writes it for people and computes nothing. What
only the partnership can say (owners, contact, impact assessments, lawful basis...) is shown as
not supplied until its partnership file says it: never invented. ``log_transparency_record`` is
the edge: it reads the inputs from MLflow and logs the record to the version's run.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from governance.alternatives import alternatives_considered, measured
from governance.datasheet import markdown_fields
from governance.partnership import PartnershipSettings, supplied
from models.artifacts import RECORD_JSON, RECORD_MD

if TYPE_CHECKING:
    from features.registry import FeatureSpec
    from models.tracking import TrackingSettings

STANDARD = "UK Algorithmic Transparency Recording Standard (ATRS)"
STANDARD_VERSION = "3.0"
SCHEMA = "lantern.record/1"

TIER_1_FIELDS = {
    "name": "Name",
    "description": "Description",
    "website": "Website",
    "contact_email": "Contact email",
}
"""Tier 1 (the overview for the public): keys and headings."""

TIER_2_SECTIONS = {
    "owner_and_responsibility": "1. Owner and responsibility",
    "description_and_rationale": "2. Description and rationale",
    "decision_making_process": "3. Decision making process",
    "tool_specification": "4. Tool specification",
    "risks_mitigations_and_impact_assessments": "5. Risks, mitigations and impact assessments",
}
"""Tier 2's five sections: keys and headings."""

TITLES = {
    "organisation": "1.1 Organisation",
    "team": "1.2 Team",
    "accountable_role": "1.3 Accountable role",
    "senior_responsible_owner": "1.4 Senior responsible owner",
    "third_party_involvement": "1.5 Third party involvement",
    "detailed_description": "2.1 Detailed description",
    "scope": "2.2 Scope",
    "benefit": "2.3 Benefit",
    "previous_process": "2.4 Previous process",
    "alternatives_considered": "2.5 Alternatives considered",
    "process_integration": "3.1 Process integration",
    "provided_information": "3.2 Provided information",
    "frequency_and_scale_of_usage": "3.3 Frequency and scale of usage",
    "human_decisions_and_review": "3.4 Human decisions and review (the human in the loop)",
    "required_training": "3.5 Required training",
    "appeals_and_review": "3.6 Appeals and review",
    "system_architecture": "4.1 System architecture",
    "phase": "4.2 Phase",
    "maintenance": "4.3 Maintenance",
    "model_specification": "4.4 Model specification",
    "model_name": "Model name",
    "model_version": "Model version",
    "model_task": "Model task",
    "model_input": "Model input",
    "model_output": "Model output",
    "model_architecture": "Model architecture",
    "model_performance": "Model performance (test period, 95% intervals)",
    "datasets": "Datasets",
    "dataset_purposes": "Dataset purposes",
    "data_specification": "4.5 Data specification",
    "source_data_name": "Source data",
    "data_modality": "Data modality",
    "data_description": "Data description",
    "data_quantities": "Data quantities",
    "fields": "Fields the model uses",
    "sensitive_attributes": "Sensitive attributes",
    "data_completeness_and_representativeness": "Data completeness and representativeness",
    "data_collection": "Data collection",
    "data_sharing_agreements": "Data sharing agreements",
    "lawful_basis": "Lawful basis",
    "data_access_and_storage": "Data access and storage",
    "retention": "Retention",
    "impact_assessments": "5.1 Impact assessments",
    "risks_and_mitigations": "5.2 Risks and mitigations",
}

PARTNERSHIP_FIELDS = (
    "website",
    "contact_email",
    "owner_organisation",
    "owner_team",
    "owner_role",
    "senior_responsible_owner",
    "third_party_involvement",
    "previous_process",
    "frequency_and_scale",
    "required_training",
    "complaints_route",
    "phase",
    "dpia_reference",
    "dpia_date",
    "equality_impact_assessment_reference",
    "equality_impact_assessment_date",
    "data_sharing_agreement_reference",
    "lawful_basis",
    "retention_summary",
    "data_access_and_storage",
)
"""The partnership's fields a record shows."""

# --------------------------------------------------------------------------- helpers


def _fields(features: list[dict[str, Any]], registry: Mapping[str, FeatureSpec]):
    return [
        {
            "feature": f["name"],
            "agency": f["agency"],
            "source table": registry[f["name"]].source
            if f["name"] in registry
            else "not in the current feature registry",
            "window": f["window"],
            "sensitive": "yes" if f["sensitive"] else "no",
            "phrase": f["description"],
        }
        for f in features
    ]


def _sources(features: list[dict[str, Any]], registry: Mapping[str, FeatureSpec]) -> list[str]:
    counts: dict[str, int] = {}
    for f in features:
        spec = registry.get(f["name"])
        key = f"`{spec.source}` ({spec.agency})" if spec else "not in the current registry"
        counts[key] = counts.get(key, 0) + 1
    return [f"{source}: {n} feature{'s' * (n != 1)}" for source, n in counts.items()]


def _promotion(version: Mapping[str, Any]) -> str:
    tags = version.get("tags") or {}
    decision = tags.get("lantern.promotion.decision")
    if decision is None:
        return f"Version {version['version']} has not been through the promotion gate."
    text = f"Version {version['version']}: {decision} on {tags.get('lantern.promotion.at')}"
    if tags.get("lantern.promotion.previous_champion"):
        text += f", replacing version {tags['lantern.promotion.previous_champion']}"
    if tags.get("lantern.promotion.reason"):
        text += f"; the analyst's reason for overriding a gate: {tags['lantern.promotion.reason']}"
    gates = json.loads(tags.get("lantern.promotion.gates", "[]"))
    if gates:
        text += ". Gates: " + "; ".join(
            f"{g['name']} {'passed' if g['passed'] else 'FAILED'} ({g['reason']})" for g in gates
        )
    return text + "."


def _fairness_summary(fairness: Mapping[str, Any] | None) -> str:
    if fairness is None:
        return "No fairness audit was found for this version."
    verdict = "passed" if fairness.get("passed") else "did not pass"
    reasons = "; ".join(str(r) for r in fairness.get("reasons") or []) or "no reasons given"
    policy = fairness.get("gated")
    gated = f" The policy {policy}." if policy else ""
    return f"The audit {verdict} the fairness policy: {reasons}.{gated}"


# --------------------------------------------------------------------------- sections


def _owner(p: PartnershipSettings) -> dict[str, Any]:
    return {
        "organisation": supplied(p, "owner_organisation"),
        "team": supplied(p, "owner_team"),
        "accountable_role": supplied(p, "owner_role"),
        "senior_responsible_owner": supplied(p, "senior_responsible_owner"),
        "third_party_involvement": supplied(p, "third_party_involvement"),
    }


def _description(card, metrics, p, top_k: str, n_features: int) -> dict[str, Any]:
    d = card["model_details"]
    precision = measured(metrics, "precision_at_k")
    rule = measured(metrics, "indicator_count.precision_at_k")
    return {
        "detailed_description": f"{d['type']}, trained on {n_features} features from the "
        f"partnership's records ({', '.join(card['factors']['instrumentation'])}). For each "
        "child at a snapshot date it estimates the probability of the outcome: "
        f"{d['outcome']['description']} Each estimate comes with its reasons (TreeSHAP "
        "contributions turned into plain-English phrases, strongest first, raising concern "
        "or protective) and the records that are missing.",
        "scope": [card["intended_use"], *[f"Out of scope: {u}" for u in card["out_of_scope_uses"]]],
        "benefit": f"A team can see early, and with reasons, which children the records suggest "
        f"may need support, sized to its capacity. In the test period, among the top {top_k} "
        f"of children by score, the share who had the recorded outcome was {precision}; for the "
        f"indicator-count rule it was {rule}.",
        "previous_process": supplied(p, "previous_process"),
        "alternatives_considered": alternatives_considered(metrics, top_k),
    }


def _decisions(p: PartnershipSettings, top_k: str, n_flagged: str) -> dict[str, Any]:
    return {
        "process_integration": "A practitioner (a school safeguarding lead, social worker, "
        "youth justice worker or emergency department navigator) asks for an explained prompt "
        "about one child, or for a cohort list sized to the team's capacity (the top "
        f"{top_k} of children by score). A prompt starts a professional conversation with the "
        "child and family; what follows goes through the partnership's usual early help and "
        "safeguarding routes.",
        "provided_information": [
            "That the prompt is advisory, and what it is for.",
            "The estimated probability of the outcome with its uncertainty.",
            "The reasons, strongest first, each marked as raising concern or protective.",
            "Which agencies' records are missing for the child.",
            "A place for the practitioner to record their own judgement.",
        ],
        "frequency_and_scale_of_usage": [
            supplied(p, "frequency_and_scale"),
            f"At the operating point (the top {top_k}) the model flagged {n_flagged} children "
            "in the test period.",
        ],
        "human_decisions_and_review": [
            "Lantern decides nothing about a child: every prompt is advisory, and the "
            "practitioner decides whether and how to act, using their own knowledge of the "
            "child.",
            "No endpoint returns a bare score: each prompt carries its reasons and uncertainty.",
            "Each request is authenticated, authorised by role and written to an append-only "
            "audit log (who, when, which child, the stated purpose, the model version).",
            "An analyst promotes a model only after the performance and fairness gates; an "
            "override needs a written reason, kept with the version.",
        ],
        "required_training": supplied(p, "required_training"),
        "appeals_and_review": [
            supplied(p, "complaints_route"),
            "Every prompt is in the audit log, so a question about a prompt can be traced to "
            "the practitioner, the purpose and the model version.",
        ],
    }


def _tool(card, metrics, registry, p, version, datasheet, top_k: str) -> dict[str, Any]:
    d = card["model_details"]
    features = card["features"]
    lantern = card["quantitative_analyses"].get("lantern", {})
    train, test = card["training_data"], card["evaluation_data"]
    collection = (
        datasheet["collection_process"]["how_collected"]
        if datasheet
        else "No datasheet was logged with this version's training run; retrain to write one."
    )
    return {
        "system_architecture": "Raw extracts are checked against the data contract; point-in-"
        "time features are built from them; the model is trained and tracked in MLflow, "
        "registered as challenger, audited and promoted to champion through gates. A BentoML "
        "service loads the champion from the MLflow registry and serves explained prompts to "
        "authenticated practitioners, logging every request.",
        "phase": supplied(p, "phase"),
        "maintenance": [
            "Retrained each quarter on the latest extracts; the new model is compared with the "
            "champion on the same test rows, with feature drift and base-rate change reported.",
            _promotion(version),
        ],
        "model_specification": {
            "model_name": version["name"],
            "model_version": f"{version['version']} (MLflow run {version['run_id']}, "
            f"trained {d['trained_at']})",
            "model_task": "Binary classification: the probability that the outcome is recorded "
            f"within {d['outcome']['window_months']} months of the snapshot date.",
            "model_input": f"{len(features)} features of one child at a snapshot date (see the "
            "data specification). Protected characteristics are never inputs.",
            "model_output": "A calibrated probability, and per-feature contributions that "
            "become the prompt's reasons.",
            "model_architecture": d["type"],
            "model_performance": [{"metric": k, "value": v} for k, v in lantern.items()]
            or "No performance figures in the model card.",
            "datasets": [
                f"Training: {train.get('rows', '?')} rows, {train.get('children', '?')} "
                f"children, snapshots {', '.join(train.get('snapshots', []))}.",
                f"Test: {test.get('rows', '?')} rows, {test.get('children', '?')} held-out "
                f"children at {test.get('snapshot', '?')}.",
            ],
            "dataset_purposes": "Earlier snapshots train the model, the next one calibrates it "
            "and chooses when to stop, the latest complete year tests it on children never "
            "seen in training.",
        },
        "data_specification": {
            "source_data_name": _sources(features, registry),
            "data_modality": "Tabular",
            "data_description": "Records the partnership's agencies already hold about "
            "children, linked by a pseudonymised id, as set out in the data contract "
            "(docs/data-contract.md).",
            "data_quantities": f"Training {train.get('rows', '?')} rows "
            f"({train.get('children', '?')} children); test {test.get('rows', '?')} rows "
            f"({test.get('children', '?')} children).",
            "fields": _fields(features, registry),
            "sensitive_attributes": [
                "Ethnicity, sex and religion are never features; ethnicity and sex are kept "
                "beside the data only to audit the model.",
                *[f"`{k}` is used because: {v}" for k, v in card["sensitive_features"].items()],
            ],
            "data_completeness_and_representativeness": "Missing values and the rows in each "
            "audit group are in the training run's datasheet (datasheet/datasheet.md). Records "
            "reflect who agencies see and record, not every child's need.",
            "data_collection": collection,
            "data_sharing_agreements": supplied(p, "data_sharing_agreement_reference"),
            "lawful_basis": supplied(p, "lawful_basis"),
            "data_access_and_storage": supplied(p, "data_access_and_storage"),
            "retention": supplied(p, "retention_summary"),
        },
    }


def _risks(card, fairness, p) -> dict[str, Any]:
    audit_date = fairness.get("audited_at", "date not recorded") if fairness else "not audited"
    return {
        "impact_assessments": [
            {
                "assessment": "Data protection impact assessment (DPIA)",
                "reference": supplied(p, "dpia_reference"),
                "completed": supplied(p, "dpia_date"),
            },
            {
                "assessment": "Equality impact assessment",
                "reference": supplied(p, "equality_impact_assessment_reference"),
                "completed": supplied(p, "equality_impact_assessment_date"),
            },
            {
                "assessment": "Fairness audit by ethnicity, SEND, sex and their intersections",
                "reference": "fairness/fairness.html and fairness/fairness.json in this "
                "version's MLflow run",
                "completed": audit_date,
            },
        ],
        "risks_and_mitigations": [
            {
                "risk": "Recorded outcomes and police-sourced features carry the recording "
                "practice of the agencies: a group stopped or recorded more often can look "
                "more at risk at equal need.",
                "mitigation": "A fairness audit before promotion, by group, with the recorded "
                "and (on synthetic data) true outcomes side by side. "
                + _fairness_summary(fairness),
            },
            {
                "risk": "Some groups of children could be missed more often than others.",
                "mitigation": "The promotion gate fails a model that misses any group more "
                "often than the reference group (false negative rate and recall ratios).",
            },
            {
                "risk": "A prompt could be read as a decision or a label about a child.",
                "mitigation": "Every prompt says it is advisory, shows its reasons and "
                "uncertainty, and asks for the practitioner's own judgement; uses out of scope "
                "are listed in the model card.",
            },
            {
                "risk": "Sensitive information (special educational needs, health) could "
                "be used without good reason.",
                "mitigation": "A sensitive feature is used only where the feature set's "
                "configuration gives a written justification, shown in the model card: "
                + (", ".join(f"`{k}`" for k in card["sensitive_features"]) or "none is used")
                + ".",
            },
            {
                "risk": "Risk is fluid, and the model can drift out of date.",
                "mitigation": "Quarterly retraining, drift reports, and promotion only when the "
                "new model is no worse than the champion on the same rows.",
            },
            {
                "risk": "Children wrongly flagged could not be traced if the tool were withdrawn.",
                "mitigation": "Every prompt is written to an append-only audit log with the "
                "model version, so the children a version flagged can be found.",
            },
            {
                "risk": "Records about children are personal and sensitive.",
                "mitigation": "Children are known only by pseudonymised ids; the audit log "
                "holds pseudonymised ids only; access is by role. The partnership's own "
                "safeguards: " + supplied(p, "data_access_and_storage"),
            },
        ],
    }


# --------------------------------------------------------------------------- the record


def transparency_record(
    *,
    card: Mapping[str, Any],
    fairness: Mapping[str, Any] | None,
    registry: Mapping[str, FeatureSpec],
    partnership: PartnershipSettings,
    version: Mapping[str, Any],
    metrics: Mapping[str, float],
    datasheet: Mapping[str, Any] | None = None,
    generated_at: str | None = None,
) -> dict[str, Any]:
    """The ATRS record of one model version.

    Parameters
    ----------
    card : dict
        The version's model card (:func:`training.card.model_card`).
    fairness : dict or None
        The version's fairness result (``fairness/result.json``), None if not audited.
    registry : mapping of str to FeatureSpec
        The feature registry (each feature's source table).
    partnership : PartnershipSettings
        What the partnership has supplied; the rest is shown as not supplied.
    version : dict
        ``name``, ``version``, ``run_id`` and ``tags`` of the registered version.
    metrics : dict of str to float
        The training run's metrics: Lantern's unprefixed, the alternatives' prefixed
        (``indicator_count.auc``, ``logistic.auc``, ...).
    datasheet : dict, optional
        The training run's datasheet (:func:`governance.datasheet.datasheet`).
    generated_at : str, optional
        When the record was made.

    Returns
    -------
    dict
        ``standard``, ``standard_version``, ``schema``, ``generated_at``, ``model``,
        ``not_supplied`` (the partnership's missing fields), ``tier_1`` (keys of
        :data:`TIER_1_FIELDS`) and ``tier_2`` (keys of :data:`TIER_2_SECTIONS`).
    """
    d = card["model_details"]
    top_k = f"{d['settings'].get('top_k_share', 0.02):.0%}"
    n_flagged = card["quantitative_analyses"].get("lantern", {}).get("children flagged", "?")
    partnership_name = partnership.name or "the partnership"
    tier_1 = {
        "name": f"Lantern advisory prompts: {version['name']}",
        "description": f"Lantern helps practitioners in {partnership_name} notice, early, "
        "children who may need support. From records the partnership's agencies already hold "
        f"({', '.join(card['factors']['instrumentation'])}), it estimates each child's chance "
        f"of this outcome: {d['outcome']['description']} A practitioner sees the estimate with "
        "its uncertainty and its reasons, as a prompt to talk with the child and family and to "
        "record their own judgement. It is advisory only: it decides nothing about a child.",
        "website": supplied(partnership, "website"),
        "contact_email": supplied(partnership, "contact_email"),
    }
    tags = version.get("tags") or {}
    return {
        "standard": STANDARD,
        "standard_version": STANDARD_VERSION,
        "schema": SCHEMA,
        "generated_at": generated_at,
        "model": {
            "name": version["name"],
            "version": str(version["version"]),
            "run_id": version["run_id"],
            "promotion": tags.get("lantern.promotion.decision", "not yet considered"),
            "fairness_audit_passed": None if fairness is None else fairness.get("passed"),
        },
        "not_supplied": [f for f in PARTNERSHIP_FIELDS if getattr(partnership, f) is None],
        "tier_1": tier_1,
        "tier_2": {
            "owner_and_responsibility": _owner(partnership),
            "description_and_rationale": _description(
                card, metrics, partnership, top_k, len(card["features"])
            ),
            "decision_making_process": _decisions(partnership, top_k, n_flagged),
            "tool_specification": _tool(
                card, metrics, registry, partnership, version, datasheet, top_k
            ),
            "risks_mitigations_and_impact_assessments": _risks(card, fairness, partnership),
        },
    }


def render_markdown(record: Mapping[str, Any]) -> str:
    """The transparency record for people."""
    m = record["model"]
    lines = [
        f"# Algorithmic transparency record: {m['name']} v{m['version']}",
        "",
        f"Following the {record['standard']} v{record['standard_version']}. Model version "
        f"{m['version']} (MLflow run {m['run_id']}); promotion: {m['promotion']}."
        + (f" Generated {record['generated_at']}." if record["generated_at"] else ""),
        "",
        "## Tier 1: overview",
        "",
    ]
    lines += markdown_fields(record["tier_1"], TIER_1_FIELDS, 3)
    lines += ["## Tier 2: detail", ""]
    for key, heading in TIER_2_SECTIONS.items():
        lines += [f"## {heading}", "", *markdown_fields(record["tier_2"][key], TITLES, 3)]
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------- the edge


def gather_transparency_record(
    name: str,
    version: str | None,
    settings: TrackingSettings,
    partnership: PartnershipSettings,
) -> dict[str, Any]:
    """Build a version's record from what MLflow holds, without logging it.

    Parameters
    ----------
    name : str
        The registered model.
    version : str or None
        The version; None for the champion.
    settings : TrackingSettings
        The store.
    partnership : PartnershipSettings
        What the partnership has supplied.

    Returns
    -------
    dict
        :func:`transparency_record`.

    Raises
    ------
    LookupError
        If ``version`` is None and the model has no champion.
    ValueError
        If the version's run has no model card.
    """
    from datetime import UTC, datetime

    from features.registry import default_registry
    from models.artifacts import DATASHEET_JSON, FAIRNESS_ARTIFACT
    from models.tracking import CHAMPION, load_run_artifact_json
    from models.versions import find_version

    found = find_version(name, CHAMPION if version is None else str(version), settings)
    run_id = found.run_id
    card = load_run_artifact_json(run_id, "model_card/model_card.json", settings)
    if card is None:
        raise ValueError(
            f"version {found.version} of {name} has no model card (model_card/model_card.json "
            f"in run {run_id}); retrain it with `lantern train --model {name}`"
        )
    return transparency_record(
        card=card,
        fairness=load_run_artifact_json(run_id, FAIRNESS_ARTIFACT, settings),
        registry=default_registry(),
        partnership=partnership,
        version={
            "name": name,
            "version": str(found.version),
            "run_id": run_id,
            "tags": dict(found.tags),
        },
        metrics=settings.client().get_run(run_id).data.metrics,
        datasheet=load_run_artifact_json(run_id, DATASHEET_JSON, settings),
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    )


def log_transparency_record(
    name: str,
    version: str | None,
    settings: TrackingSettings,
    partnership: PartnershipSettings,
) -> dict[str, Any]:
    """Build a version's record and log it to the version's run.

    Parameters
    ----------
    name : str
        The registered model.
    version : str or None
        The version; None for the champion.
    settings : TrackingSettings
        The store.
    partnership : PartnershipSettings
        What the partnership has supplied.

    Returns
    -------
    dict
        The record, also logged as :data:`RECORD_JSON` and :data:`RECORD_MD`.
    """
    record = gather_transparency_record(name, version, settings, partnership)
    client = settings.client()
    run_id = record["model"]["run_id"]
    client.log_dict(run_id, record, RECORD_JSON)
    client.log_text(run_id, render_markdown(record), RECORD_MD)
    return record
