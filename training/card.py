"""The model card (Mitchell et al., 2019), built from a training run's own facts.

``model_card`` gathers the facts into a dict (logged as JSON); ``render_markdown`` writes
them for people. Nothing here computes a metric.
"""

from __future__ import annotations

from typing import Any

INTENDED_USE = (
    "To prompt a professional conversation: a practitioner in the partnership (a school "
    "safeguarding lead, social worker, youth justice or ED navigator) sees which children the "
    "partnership's records suggest may need support, with the reasons, so that they can check "
    "with the child and the family and record their own judgement."
)
OUT_OF_SCOPE = [
    "Any decision about a child without a practitioner's own judgement: the prompt is advisory.",
    "Enforcement, sanctions, exclusion decisions, or listing children as suspects.",
    "Children outside the partnership the model was trained on, or ages outside 10-17.",
    "Ranking or comparing schools, neighbourhoods or groups of children.",
    "Sharing a score outside the purposes recorded in the audit log.",
]
ETHICAL = [
    "Advisory only: every prompt says so, shows its uncertainty and reasons, and asks for the "
    "practitioner's judgement.",
    "Ethnicity, sex and religion are never features; they are kept beside the data only to "
    "audit the model.",
    "Recorded outcomes carry the bias of the agencies that record them: a child more often "
    "stopped or recorded is more often 'positive'. The fairness report compares recorded and "
    "(on synthetic data) true outcomes.",
    "Children harmed by violence and children who harm others are largely the same children: "
    "the model predicts involvement, "
    "and prompts keep 'harmed' and 'harmed others' apart.",
]
CAVEATS = [
    "Performance is measured on the latest complete year; risk is fluid, so retrain quarterly "
    "and watch drift.",
    "A missing agency record is not 'no concern': missing data is shown on every prompt.",
    "Intervals are bootstrap 95% intervals over children in the test period.",
]


def model_card(
    *,
    name: str,
    version: str | None,
    outcome: dict[str, Any],
    data: dict[str, Any],
    metrics: dict[str, dict[str, str]],
    features: list[dict[str, Any]],
    sensitive: dict[str, str],
    settings: dict[str, Any],
    trained_at: str,
    population: str = "every child",
    bands: dict[str, dict[str, str]] | None = None,
    comparisons: dict[str, dict[str, str]] | None = None,
    headline: str = "ROC AUC",
    registration: dict[str, Any] | None = None,
    directions: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The model card's facts, by Mitchell et al.'s sections.

    ``directions`` is the direction check (:func:`training.directions.check_directions`) of
    the test children, with the LightGBM ``method`` the constraints used (None: off)."""
    return {
        "model_details": {
            "name": name,
            "version": version,
            "trained_at": trained_at,
            "type": "LightGBM gradient-boosted trees, Platt-calibrated on the validation period",
            "outcome": outcome,
            "settings": settings,
        },
        "intended_use": INTENDED_USE,
        "out_of_scope_uses": OUT_OF_SCOPE,
        "factors": {
            "audited_groups": [
                "ethnicity (DfE major groups)",
                "SEND",
                "sex",
                "their intersections",
            ],
            "instrumentation": sorted({f["agency"] for f in features}),
        },
        "metrics": {
            "headline": headline,
            "chosen": [
                "ROC AUC within each year of age, pooled by positives (the headline: a score "
                "that knows only a child's age earns 0.5 on it)",
                "ROC AUC over all ages and average precision (ranking)",
                "Brier score and expected calibration error (are the probabilities right?)",
                "precision, recall and number flagged at the team's capacity (top-k)",
            ],
            "why": "Practitioners act on a short list sized to their capacity, and read the "
            "probability in the prompt; both must be right.",
        },
        "evaluation_data": {**data["test"], "eligible population": population},
        "training_data": data["train"],
        "quantitative_analyses": metrics,
        "comparisons": comparisons or {},
        "registration": registration,
        "by_age_band": bands or {},
        "features": features,
        "directions": directions,
        "sensitive_features": sensitive,
        "ethical_considerations": ETHICAL,
        "caveats_and_recommendations": CAVEATS,
    }


def _direction(feature: dict[str, Any]) -> str:
    """A feature's declared direction, and whether the model was held to it."""
    direction = feature.get("direction")
    if direction is None:
        return ""
    if direction == "either":
        return "either (free)"
    return f"{direction} (kept to it)" if feature.get("constrained") else f"{direction} (free)"


def _directions(card: dict[str, Any]) -> list[str]:
    """The constraints and the check of the test children's contributions against them."""
    check = card.get("directions")
    if not check:
        return []
    kept = [f for f in card["features"] if f.get("constrained")]
    if check.get("method"):
        lines = [
            f"{len(kept)} of {len(card['features'])} features are kept to the direction the "
            "registry declares for them, with its reason (LightGBM monotone constraints, "
            f"method {check['method']}): a higher value may only raise the estimate, or only "
            "lower it. Features declared 'either' are free."
        ]
    else:
        lines = ["The model was trained without the registry's direction constraints."]
    contrary = check.get("contrary", [])
    lines.append(
        "Features whose contributions run against their declared direction over the test "
        f"children: {', '.join(contrary) if contrary else 'none'}."
    )
    return [*lines, ""]


def _table(rows: list[list[str]]) -> list[str]:
    head, *body = rows
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    return lines + ["| " + " | ".join(r) + " |" for r in body]


def render_markdown(card: dict[str, Any]) -> str:
    """The model card for people."""
    d = card["model_details"]
    lines = [
        f"# Model card: {d['name']}" + (f" v{d['version']}" if d["version"] else ""),
        "",
        "## Model details",
        f"- Type: {d['type']}",
        f"- Trained: {d['trained_at']}",
        f"- Outcome: {d['outcome']['description']}",
        f"- Window: {d['outcome']['window_months']} months after the snapshot date",
        "",
        "## Intended use",
        card["intended_use"],
        "",
        "## Out-of-scope uses",
        *[f"- {u}" for u in card["out_of_scope_uses"]],
        "",
        "## Factors",
        f"- Audited groups: {', '.join(card['factors']['audited_groups'])}",
        f"- Records from: {', '.join(card['factors']['instrumentation'])}",
        "",
        "## Metrics",
        *[f"- {m}" for m in card["metrics"]["chosen"]],
        card["metrics"]["why"],
        "",
        "## Evaluation data",
        *[f"- {k.replace('_', ' ')}: {v}" for k, v in card["evaluation_data"].items()],
        "",
        "## Training data",
        *[f"- {k.replace('_', ' ')}: {v}" for k, v in card["training_data"].items()],
        "",
        "## Quantitative analyses",
        "Test period, 95% bootstrap intervals. The indicator count is the additive checklist "
        "partnerships use today; the oracle (synthetic data only) is the best any model of "
        "these records could do.",
        "",
    ]
    names = list(card["quantitative_analyses"])
    metric_names = list(next(iter(card["quantitative_analyses"].values())))
    rows = [["metric", *names]]
    for metric in metric_names:
        rows.append([metric, *[card["quantitative_analyses"][n].get(metric, "") for n in names]])
    lines += _table(rows)
    if card.get("comparisons"):
        lines += [
            "",
            f"### Paired differences on the headline ({card['metrics']['headline']})",
            "Each is measured on the same children with the same bootstrap replicates; "
            "'within noise' means its 95% interval includes 0.",
            "",
            *_table(
                [["comparison", "difference (95% CI)", "reading"]]
                + [[k, v["difference"], v["reading"]] for k, v in card["comparisons"].items()]
            ),
        ]
    if card.get("by_age_band"):
        bands = card["by_age_band"]
        columns = list(next(iter(bands.values())))
        lines += [
            "",
            "### By age band (ROC AUC within the band, 95% CI)",
            "",
            *_table(
                [["ages", *columns]] + [[b, *[v[c] for c in columns]] for b, v in bands.items()]
            ),
        ]
    if card.get("registration"):
        lines += ["", "### Registration", card["registration"]["reason"]]
    lines += [
        "",
        "## Sensitive features used, and why",
        *([f"- **{k}**: {v}" for k, v in card["sensitive_features"].items()] or ["- none"]),
        "",
        "## Features",
        *_directions(card),
        *_table(
            [["feature", "agency", "window", "phrase", "direction"]]
            + [
                [f["name"], f["agency"], f["window"], f["description"], _direction(f)]
                for f in card["features"]
            ]
        ),
        "",
        "## Ethical considerations",
        *[f"- {e}" for e in card["ethical_considerations"]],
        "",
        "## Caveats and recommendations",
        *[f"- {c}" for c in card["caveats_and_recommendations"]],
        "",
    ]
    return "\n".join(lines)
