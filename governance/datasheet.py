"""The datasheet for a model's training data (Gebru et al., 2021), from the run's own facts.

``datasheet`` gathers the training run's data summary, a profile of its feature table, the
data contract and what the partnership has supplied into a dict (logged as JSON), by Gebru et
al.'s sections; ``render_markdown`` writes it for people. ``log_datasheet`` is the edge: it
reads the facts a training run logged (its data summary and profile) and logs both files to
that run. The command that trains (``lantern train``, ``lantern retrain``) calls it.

The Markdown helpers (:func:`markdown_fields`) are shared with the transparency record: a
field's value is text, a list of texts (bullets), a list of rows (a table) or a dict (a
subsection).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from governance.partnership import PartnershipSettings, supplied
from models.artifacts import (
    DATA_PROFILE,
    DATA_SUMMARY,
    DATASHEET_JSON,
    DATASHEET_MD,
    LINKAGE_REPORT,
)

if TYPE_CHECKING:
    from models.tracking import TrackingSettings

SCHEMA = "lantern.datasheet/1"

SECTIONS = {
    "motivation": "Motivation",
    "composition": "Composition",
    "collection_process": "Collection process",
    "preprocessing": "Preprocessing, cleaning and labelling",
    "uses": "Uses",
    "distribution": "Distribution",
    "maintenance": "Maintenance",
}
"""Gebru et al.'s sections, in order: the keys of a datasheet and their headings."""

TITLES = {
    "purpose": "For what purpose was the data set created?",
    "data_owner": "Who holds the records?",
    "instances": "What does each row represent?",
    "counts": "How many rows and children, by part of the split?",
    "snapshot_dates": "Snapshot dates",
    "label": "What is the label?",
    "features": "What data does each row hold?",
    "missing_values": "Is any information missing?",
    "protected_characteristics": "Protected characteristics",
    "group_composition": "Rows by audit group (the whole feature table)",
    "sensitive_data": "Sensitive data",
    "identifiers": "Can a child be identified?",
    "synthetic": "Real or synthetic?",
    "sources": "Where do the records come from?",
    "how_collected": "How were the data collected?",
    "validation": "How were the records checked?",
    "timeframe": "Over what time?",
    "lawful_basis": "Lawful basis",
    "feature_building": "How were features computed?",
    "labelling": "How were labels assigned?",
    "split": "How was the data split?",
    "raw_data": "Is the raw data kept?",
    "used_for": "What are the data used for?",
    "not_for": "What must the data not be used for?",
    "composition_risks": "Could the composition of the data harm some children?",
    "shared": "Are the data shared outside the partnership?",
    "stored_with_run": "What is stored with the run?",
    "access": "Where are the data stored, and who can see them?",
    "maintainer": "Who maintains the data?",
    "contact": "How can the owner be contacted?",
    "updates": "Will the data be updated?",
    "retention": "How long are the data kept?",
    "errors": "How are errors corrected?",
}


# --------------------------------------------------------------------------- inputs


def contract_summary(schemas: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The data contract's tables and columns, with their descriptions and marks.

    Parameters
    ----------
    schemas : mapping of str to pandera.DataFrameSchema, optional
        The contract; defaults to :data:`features.contract.SCHEMAS`.

    Returns
    -------
    dict
        ``{table: {"description", "required", "columns": {column: {"description",
        "protected", "sensitive", "nullable"}}}}``.
    """
    from features.contract import OPTIONAL_TABLES, SCHEMAS

    schemas = SCHEMAS if schemas is None else schemas
    return {
        table: {
            "description": schema.description,
            "required": table not in OPTIONAL_TABLES,
            "columns": {
                name: {
                    "description": column.metadata["description"],
                    "protected": bool(column.metadata.get("protected")),
                    "sensitive": bool(column.metadata.get("sensitive")),
                    "nullable": bool(column.nullable),
                }
                for name, column in schema.columns.items()
            },
        }
        for table, schema in schemas.items()
    }


# --------------------------------------------------------------------------- the datasheet


def _percent(share: float) -> str:
    return f"{share:.1%}"


def _counts(summary: dict[str, Any]) -> list[dict[str, str]]:
    parts = [
        ("train", "train", ", ".join(summary["train"]["snapshots"])),
        ("validation", "validation", summary["validation"]["snapshot"]),
        ("test", "test (held-out children only)", summary["test"]["snapshot"]),
    ]
    return [
        {
            "part": label,
            "snapshot dates": dates,
            "rows": f"{summary[key]['rows']:,}",
            "children": f"{summary[key]['children']:,}",
            "outcome rate": _percent(summary[key]["base_rate"]),
        }
        for key, label, dates in parts
    ]


def _either(value: Any) -> str:
    return " or ".join(map(str, value)) if isinstance(value, list) else str(value)


def _protected(contract: dict[str, Any]) -> list[str]:
    return [
        f"`{table}.{name}`: {column['description']}"
        for table, spec in contract.items()
        for name, column in spec["columns"].items()
        if column["protected"]
    ]


def _sensitive(contract: dict[str, Any], features: list[dict[str, Any]]) -> list[str]:
    columns = [
        f"Contract column `{table}.{name}`: {column['description']}"
        for table, spec in contract.items()
        for name, column in spec["columns"].items()
        if column["sensitive"]
    ]
    used = [f"Feature `{f['name']}`: {f['description']}" for f in features if f["sensitive"]]
    return columns + (used or ["The model uses no sensitive feature."])


def _missing_values(profile: dict[str, Any] | None) -> list[str]:
    note = (
        "A feature is empty (NaN) where its value is not known; the model treats it as "
        "missing, not as zero, and prompts show it as not recorded."
    )
    if profile is None:
        return [note, "Missing values were not measured for this run."]
    gaps = sorted(((s, n) for n, s in profile["missing"].items() if s > 0), reverse=True)
    listed = [f"`{name}`: {_percent(share)} of rows empty" for share, name in gaps]
    return [note, *(listed or ["No feature has an empty value."])]


def _group_rows(profile: dict[str, Any] | None) -> list[dict[str, str]] | str:
    if profile is None or not profile["groups"]:
        return "Not measured for this run."
    return [
        {"audit column": column, "group": value, "rows": f"{n:,}" if isinstance(n, int) else n}
        for column, counts in profile["groups"].items()
        for value, n in counts.items()
    ]


def linkage_summary(report: dict[str, Any]) -> str:
    """How the extracts were linked and how well, in a paragraph, from a linkage report."""
    settings = report.get("settings", {})
    text = (
        f"The agencies' records were linked by Lantern (`lantern link`): {report['records']:,} "
        f"person records into {report['children']:,} children, exact rules on the UPN and "
        "NHS number first, then a probabilistic model (Splink, trained without labels) on "
        "names, date of birth, postcode and sex"
        + (
            f", a link at a match probability of {settings['threshold']} or more"
            if settings
            else ""
        )
        + "."
    )
    alone = [
        r for r in report.get("unlinked", []) if r["agency"] == "all" and r["group"] == "ethnicity"
    ]
    if alone:
        text += (
            " Records linked to no other record, by ethnicity: "
            + ", ".join(f"{r['value']} {100 * r['rate']:.1f}%" for r in alone)
            + "."
        )
    truth = report.get("truth")
    if truth:
        text += (
            f" Against the synthetic truth: pairwise precision {truth['precision']:.4f}, "
            f"recall {truth['recall']:.4f}; {100 * truth['missed']:.2f}% of records missed a "
            f"match and {100 * truth['false']:.2f}% were falsely matched."
        )
        flags = report.get("flagged") or []
        text += (
            f" Groups linked worse than the rest: {'; '.join(flags)}."
            if flags
            else " No group was linked worse than the rest beyond chance."
        )
    return text


def datasheet(
    summary: dict[str, Any],
    contract: dict[str, Any],
    *,
    profile: dict[str, Any] | None = None,
    ground_truth: bool = False,
    partnership: PartnershipSettings | None = None,
    created_at: str | None = None,
    linkage: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The datasheet's facts, by Gebru et al.'s sections.

    Parameters
    ----------
    summary : dict
        The run's data summary (:func:`training.pipeline.data_summary`).
    contract : dict
        :func:`contract_summary`.
    profile : dict, optional
        :func:`data_profile` of the feature table; without it missing values and group
        sizes are shown as not measured.
    ground_truth : bool, default False
        Whether the run had the synthetic generator's ground truth (the data are synthetic).
    partnership : PartnershipSettings, optional
        What the partnership has supplied; missing fields are shown as not supplied.
    created_at : str, optional
        When the datasheet was written.
    linkage : dict, optional
        The linkage report (``report.json`` of ``lantern link``) of the extracts, when
        Lantern linked them.

    Returns
    -------
    dict
        ``schema``, ``outcome``, ``created_at`` and one dict per key of :data:`SECTIONS`.
    """
    p = partnership or PartnershipSettings()
    definition = summary["definition"]
    window = definition["window_months"]
    features = summary["features"]
    dates = summary["snapshot_dates"]
    synthetic = (
        "Synthetic: generated by Lantern's seeded synthetic partnership (features/synth), "
        "with no real child's records. The run had the generator's ground truth."
        if ground_truth
        else "The run had no synthetic ground truth: these are the partnership's extracts, or "
        "synthetic data given without its ground truth."
    )
    return {
        "schema": SCHEMA,
        "outcome": summary["outcome"],
        "created_at": created_at,
        "motivation": {
            "purpose": f"To train, calibrate and test Lantern's `{summary['outcome']}` model, "
            f"which gives practitioners advisory prompts. Its outcome: "
            f"{definition['description']}",
            "data_owner": supplied(p, "owner_organisation"),
        },
        "composition": {
            "instances": "One row per child per snapshot date: each child known to the "
            "partnership on that date, with features from records dated on or before it and "
            f"the outcome recorded in the {window} months after it.",
            "counts": _counts(summary),
            "snapshot_dates": f"{len(dates)} snapshot dates, {dates[0]} to {dates[-1]}",
            "label": [
                definition["description"],
                *[
                    f"Counted from `{c['table']}`"
                    + (
                        " where " + ", ".join(f"{k} = {_either(v)}" for k, v in c["where"].items())
                        if c["where"]
                        else ""
                    )
                    for c in definition["any_of"]
                ],
            ],
            "features": [
                {
                    "feature": f["name"],
                    "agency": f["agency"],
                    "window": f["window"],
                    "unit": f["unit"],
                    "sensitive": "yes" if f["sensitive"] else "no",
                    "phrase": f["description"],
                }
                for f in features
            ],
            "missing_values": _missing_values(profile),
            "protected_characteristics": [
                *_protected(contract),
                "These, and SEND status, are kept beside the features for the fairness audit "
                "only; they are never model features.",
            ],
            "group_composition": _group_rows(profile),
            "sensitive_data": _sensitive(contract, features),
            "identifiers": "Children are known only by a pseudonymised `child_id`. The "
            f"contract's `children` table holds: {', '.join(contract['children']['columns'])}"
            " (birth month only, and the home area as an LSOA or ward code).",
            "synthetic": synthetic,
        },
        "collection_process": {
            "sources": [
                {
                    "table": table,
                    "required": "yes" if spec["required"] else "optional",
                    "what it holds": spec["description"],
                }
                for table, spec in contract.items()
            ],
            "how_collected": (
                synthetic
                if ground_truth
                else "Extracts from the partnership's agencies' own case records, one table per "
                "source, linked by the pseudonymised `child_id`."
            )
            + (" " + linkage_summary(linkage) if linkage else ""),
            "validation": "Every table is checked against the data contract when it is loaded "
            "(docs/data-contract.md); each problem is reported with its table, column and rows, "
            "and nothing is loaded until there are none.",
            "timeframe": f"Snapshots from {dates[0]} to {dates[-1]}; outcomes up to {window} "
            "months after each.",
            "lawful_basis": "Not applicable: synthetic records of invented children."
            if ground_truth
            else supplied(p, "lawful_basis"),
        },
        "preprocessing": {
            "feature_building": "Point in time: each feature reads only records dated on or "
            "before the snapshot date (features/pointintime.py), one small function per "
            "feature (features/definitions); a leakage test checks that none reads the future.",
            "labelling": f"1 when the outcome is recorded in the {window} months after the "
            "snapshot date, else 0. While that window is still open the label is unknown (not "
            "0), and such snapshots are not used for training or testing.",
            "split": f"Trained on {', '.join(summary['train']['snapshots'])}, calibrated on "
            f"{summary['validation']['snapshot']}, tested on {summary['test']['snapshot']}; the "
            "children in the test period were never in training.",
            "raw_data": "The raw extracts are not changed: features and labels are recomputed "
            "from them.",
        },
        "uses": {
            "used_for": "Training, calibrating and testing the model logged in this run, "
            "comparing it with the indicator-count rule and a logistic regression, and the "
            "model's fairness audit.",
            "not_for": [
                "Any decision about a child: these data train an advisory model only.",
                "Judging or ranking schools, areas, agencies or groups of children.",
                "Any purpose outside the partnership's data sharing agreement.",
            ],
            "composition_risks": "Outcomes and police-sourced features are as recorded by "
            "agencies, so they carry those agencies' recording practice: a group that is "
            "stopped or recorded more often looks more at risk at equal need. Audit every "
            "model trained on these data by ethnicity, SEND and sex (`lantern audit`).",
        },
        "distribution": {
            "shared": "Synthetic: may be shared; they hold no real child's records."
            if ground_truth
            else supplied(p, "data_sharing_agreement_reference"),
            "stored_with_run": "The test rows (features, audit columns, labels and scores) are "
            "logged with this run (evaluation/test_rows.parquet), so a later model is compared "
            "on the same rows. Each row's child_id is replaced by a row key, keyed by a secret "
            "made for the run and never stored: no one can link a key back to a child, so a "
            "request for a child's records cannot find these rows, but they still hold each "
            "child's features, and the model store must be kept like the feature table. The "
            "feature table itself is not logged.",
            "access": supplied(p, "data_access_and_storage"),
        },
        "maintenance": {
            "maintainer": supplied(p, "owner_team"),
            "contact": supplied(p, "contact_email"),
            "updates": "Every training run writes its own datasheet; Lantern is designed to be "
            "retrained each quarter on the latest extracts.",
            "retention": supplied(p, "retention_summary"),
            "errors": "Errors in the records are corrected by the agency that holds them, in "
            "its own system; the next extract and training run pick up the correction.",
        },
    }


# --------------------------------------------------------------------------- Markdown


def _title(key: str, titles: Mapping[str, str]) -> str:
    return titles.get(key, key.replace("_", " ").capitalize())


def _table(rows: list[dict[str, Any]]) -> list[str]:
    head = list(rows[0])
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    return lines + [
        "| " + " | ".join(str(r.get(h, "")).replace("|", "\\|") for h in head) + " |" for r in rows
    ]


def markdown_fields(fields: Mapping[str, Any], titles: Mapping[str, str], level: int) -> list[str]:
    """Markdown lines for a section's fields.

    Parameters
    ----------
    fields : mapping
        Field key to value: text (a paragraph), a list of texts (bullets), a list of dicts
        (a table) or a dict (a subsection at ``level``).
    titles : mapping of str to str
        Each key's heading; others are the key in words.
    level : int
        Heading level of subsections.

    Returns
    -------
    list of str
    """
    lines: list[str] = []
    for key, value in fields.items():
        title = _title(key, titles)
        if isinstance(value, Mapping):
            lines += [f"{'#' * level} {title}", "", *markdown_fields(value, titles, level + 1)]
        elif isinstance(value, list) and value and isinstance(value[0], Mapping):
            lines += [f"**{title}**", "", *_table(value), ""]
        elif isinstance(value, list):
            lines += [f"**{title}**", "", *[f"- {v}" for v in value], ""]
        else:
            lines += [f"**{title}{'' if title.endswith('?') else ':'}** {value}", ""]
    return lines


def render_markdown(sheet: dict[str, Any]) -> str:
    """The datasheet for people."""
    lines = [
        f"# Datasheet: training data of `{sheet['outcome']}`",
        "",
        "After Gebru et al., *Datasheets for Datasets* (2021)."
        + (f" Written {sheet['created_at']}." if sheet["created_at"] else ""),
        "",
    ]
    for key, heading in SECTIONS.items():
        lines += [f"## {heading}", "", *markdown_fields(sheet[key], TITLES, 3)]
    return "\n".join(lines).rstrip() + "\n"


# --------------------------------------------------------------------------- the edge


def log_datasheet(
    run_id: str,
    settings: TrackingSettings,
    partnership: PartnershipSettings,
    linkage: dict[str, Any] | None = None,
) -> list[str]:
    """Write the datasheet of a training run from the facts it logged, and log it to that run.

    Parameters
    ----------
    run_id : str
        The training run (it logged :data:`models.artifacts.DATA_SUMMARY` and
        :data:`models.artifacts.DATA_PROFILE`).
    settings : TrackingSettings
        The store.
    partnership : PartnershipSettings
        What the partnership has supplied (:func:`governance.partnership.load_partnership`).
    linkage : dict, optional
        The linkage report of the extracts the run read: logged with the run
        (:data:`models.artifacts.LINKAGE_REPORT`) and described in the datasheet.

    Returns
    -------
    list of str
        The artifact paths logged: :data:`DATASHEET_MD` and :data:`DATASHEET_JSON` (and
        the linkage report, when given).

    Raises
    ------
    ValueError
        When the run logged no data summary or profile (not a Lantern training run).
    """
    from datetime import UTC, datetime

    from models.tracking import load_run_artifact_json

    summary = load_run_artifact_json(run_id, DATA_SUMMARY, settings)
    profile = load_run_artifact_json(run_id, DATA_PROFILE, settings)
    if summary is None or profile is None:
        raise ValueError(
            f"run {run_id} has no {DATA_SUMMARY} or {DATA_PROFILE}: only a Lantern training "
            "run (`lantern train`) has the facts a datasheet is written from"
        )
    sheet = datasheet(
        summary,
        contract_summary(),
        profile=profile["profile"],
        ground_truth=profile["ground_truth"],
        partnership=partnership,
        created_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        linkage=linkage,
    )
    client = settings.client()
    logged = [DATASHEET_MD, DATASHEET_JSON]
    if linkage:
        client.log_dict(run_id, linkage, LINKAGE_REPORT)
        logged.append(LINKAGE_REPORT)
    client.log_dict(run_id, sheet, DATASHEET_JSON)
    client.log_text(run_id, render_markdown(sheet), DATASHEET_MD)
    return logged
