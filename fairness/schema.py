"""The ``lantern.fairness/1`` JSON document: every field, as pydantic models.

``fairness.json`` is :meth:`fairness.result.AuditResult.to_dict` plus the report's context,
the policy's verdict and the changes since the last audit. Validate a document with
:func:`validate_document`; print its JSON Schema with ``python -m fairness.schema``.

Top-level fields
----------------
schema
    ``"lantern.fairness/1"``. A reader must refuse any other value.
generated_at, generator
    When and by which Lantern version the document was written.
score, label, true_label, n
    The audited score column, the recorded outcome column (0/1), the true outcome column
    (synthetic data only, else null) and the number of rows audited.
operating_point
    ``rule`` ("threshold" or "top_k"), ``requested`` (the threshold, or k as a count or
    share), ``threshold`` (lowest score flagged), ``n_flagged``, ``share_flagged``,
    ``ties_at_cut`` (rows tied at a top-k cut left unflagged; chosen at random).
settings
    ``n_boot``, ``level`` (interval coverage), ``seed``, ``tolerance`` [low, high],
    ``min_cell`` (suppression minimum), ``bins`` (score bins asked for), ``cluster``.
groupings
    Each grouping (a group column, or an intersection ``"a × b"``): its ``columns``, its
    ``reference`` group and its ``groups`` (label and value per column), in report order.
groups
    One row per group (grouping ``"all"`` is everyone): ``n``, ``flagged``,
    ``is_reference``, ``suppressed``, ``reason``.
metrics
    One row per (grouping, group, outcome, metric): ``value``, ``low``, ``high`` (the
    bootstrap interval), ``suppressed``, ``reason``. ``outcome`` is ``"recorded"``,
    ``"true"`` or ``"any"`` (metrics that need no label). Metrics: population_share,
    mean_score, selection_rate, flagged_share, base_rate, tpr, fpr, fnr, precision, auc.
disparities
    One row per (grouping, group, outcome, metric): ``ratio`` to the ``reference`` group,
    ``low``/``high`` (interval of the ratio), ``flag`` (the whole interval lies outside
    the tolerance band), ``suppressed``, ``reason``.
calibration
    One row per (grouping, group, score bin, outcome): ``n``, ``mean_score``, ``observed``
    rate with ``low``/``high``, ``suppressed``, ``reason``. Bins are numbered from 1
    (lowest scores).
bins
    Each score bin's ``lowest`` and ``highest`` score.
flags, suppressed
    Derived lists, for readers: every flagged disparity row, and every suppressed number
    (``table``, grouping, group, outcome, metric, reason).
baseline
    The same audit (without context, verdict or changes) of the baseline score, or null.
context
    The report's words: ``title``, ``population``, ``purpose``, ``label_definition``,
    ``intended_uses``, ``prohibited_uses``, ``threshold_rationale``, ``source`` (the file,
    filters and rows kept).
verdict, passed, reasons
    The fairness policy's verdict (``passed``, ``reasons``, ``flags``, ``not_checked``,
    ``policy``, ``gated``: what it gated, in words); ``passed`` and ``reasons`` are repeated at the top level so the document
    can be stored as a model run's ``fairness/result.json``, which ``lantern promote`` reads.
changes
    Ratios of the previous audit beside these (``notes``, ``rows``), or null at a first
    audit.

Numbers that are suppressed or undefined are null, never a placeholder; a suppression
``reason`` is one of ``group_size``, ``positives``, ``negatives``, ``flagged``,
``cell_size``, ``reference``, ``undefined``, ``events`` (a ratio resting on too few events,
observed or expected at the reference rate, to be judged).
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from fairness.result import SCHEMA

Reason = Literal[
    "group_size",
    "positives",
    "negatives",
    "flagged",
    "cell_size",
    "reference",
    "undefined",
    "events",
]
Outcome = Literal["recorded", "true", "any"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class OperatingPointDoc(_Strict):
    rule: Literal["threshold", "top_k"]
    requested: float
    threshold: float | None = Field(description="Lowest score flagged; null if none is.")
    n_flagged: int = Field(ge=0)
    share_flagged: float | None
    ties_at_cut: int = Field(ge=0)


class SettingsDoc(_Strict):
    n_boot: int = Field(ge=0)
    level: float = Field(gt=0, lt=1)
    seed: int
    tolerance: tuple[float, float]
    min_cell: int = Field(ge=1)
    bins: int = Field(ge=1)
    cluster: str | None


class GroupEntry(_Strict):
    group: str
    values: dict[str, str] = Field(description="The group's value in each column.")


class GroupingDoc(_Strict):
    name: str
    columns: list[str]
    reference: str
    groups: list[GroupEntry]


class GroupRow(_Strict):
    grouping: str
    group: str
    is_reference: bool
    n: int | None = Field(description="Null when the group is suppressed.")
    flagged: int | None
    suppressed: bool
    reason: Reason | None


class MetricRow(_Strict):
    grouping: str
    group: str
    outcome: Outcome
    metric: str
    value: float | None
    low: float | None
    high: float | None
    suppressed: bool
    reason: Reason | None


class DisparityRow(_Strict):
    grouping: str
    group: str
    reference: str
    outcome: Outcome
    metric: str
    ratio: float | None
    low: float | None
    high: float | None
    flag: bool
    suppressed: bool
    reason: Reason | None


class CalibrationRow(_Strict):
    grouping: str
    group: str
    bin: int = Field(ge=1)
    outcome: Outcome
    n: int | None
    mean_score: float | None
    observed: float | None
    low: float | None
    high: float | None
    suppressed: bool
    reason: Reason | None


class BinRow(_Strict):
    bin: int = Field(ge=1)
    lowest: float
    highest: float


class SuppressedRow(_Strict):
    table: Literal["groups", "metrics", "disparities", "calibration"]
    grouping: str
    group: str
    outcome: Outcome
    metric: str
    reason: Reason | None


class AuditDoc(_Strict):
    """An :class:`~fairness.result.AuditResult` in JSON form."""

    schema_: Literal["lantern.fairness/1"] = Field(alias="schema")
    score: str
    label: str
    true_label: str | None
    n: int = Field(ge=0)
    operating_point: OperatingPointDoc
    settings: SettingsDoc
    groupings: list[GroupingDoc]
    groups: list[GroupRow]
    metrics: list[MetricRow]
    disparities: list[DisparityRow]
    calibration: list[CalibrationRow]
    bins: list[BinRow]
    flags: list[DisparityRow]
    suppressed: list[SuppressedRow]
    baseline: AuditDoc | None
    recording_n: int | None = Field(
        default=None,
        description="Rows the recording ratio was measured on, when not the audited rows.",
    )


class PolicyFlag(_Strict):
    grouping: str
    group: str
    reference: str
    metric: str
    outcome: Outcome
    ratio: float
    low: float
    high: float
    direction: Literal["above", "below"]
    tolerance: tuple[float, float]


class VerdictDoc(_Strict):
    passed: bool
    reasons: list[str]
    flags: list[PolicyFlag]
    not_checked: list[str]
    policy: dict[str, Any]
    gated: str | None = Field(None, description="What the policy gated, in one sentence.")


class ContextDoc(_Strict):
    title: str
    population: str
    purpose: str
    label_definition: str | None
    intended_uses: list[str]
    prohibited_uses: list[str]
    threshold_rationale: str | None
    source: str | None = Field(description="Where the audited rows came from.")


class ChangeRow(_Strict):
    grouping: str
    group: str
    outcome: Outcome
    metric: str
    previous: float | None
    current: float | None
    change: float | None
    previous_flag: bool
    current_flag: bool
    status: str


class ChangesDoc(_Strict):
    notes: list[str]
    rows: list[ChangeRow]


class CrossCheckRow(_Strict):
    grouping: str
    group: str
    reference: str
    people: int
    numerator: int
    denominator: int
    ratio: float | None
    ratio_low: float | None
    ratio_high: float | None
    disparity: float | None
    low: float | None
    high: float | None
    judged: bool
    flag: bool
    detectable: float | None = Field(
        description="The smallest disparity above the band this group's numbers could show."
    )
    note: str


class RecordPairDoc(_Strict):
    name: str
    numerator: str
    denominator: str
    assumes: str


class CrossCheckDoc(_Strict):
    """Two agencies' records of one harm compared by group (:mod:`fairness.triangulation`)."""

    pair: RecordPairDoc
    band: list[float]
    min_events: int
    n_boot: int
    window: list[str]
    rows: list[CrossCheckRow]


class LinkageDoc(BaseModel):
    """How the audited model's extracts were linked (``lantern link``), when Lantern linked them."""

    model_config = ConfigDict(extra="forbid")
    records: int = Field(description="Agency person records linked.")
    children: int = Field(description="Children they were linked into.")
    truth: dict[str, float | int] | None = Field(
        description="Against synthetic ground truth: pairwise precision, recall and F1, "
        "purity, record-level missed and false match rates with 95% intervals; null on real "
        "data."
    )
    flagged: list[str] | None = Field(
        description="Groups linked worse than the rest of their grouping, e.g. "
        "'ethnicity Black: missed'."
    )


class FairnessDocument(AuditDoc):
    """The whole ``fairness.json`` document."""

    generated_at: str = Field(description="ISO 8601 time the document was written (UTC).")
    generator: str = Field(description="e.g. 'lantern 0.1.0'.")
    context: ContextDoc
    verdict: VerdictDoc | None
    passed: bool | None = Field(description="The verdict's 'passed', for lantern promote.")
    reasons: list[str] | None = Field(description="The verdict's 'reasons'.")
    changes: ChangesDoc | None = Field(description="Null at a first audit.")
    cross_checks: list[CrossCheckDoc] = Field(
        default_factory=list,
        description="The label-bias check from recorded data alone, when the audited model's "
        "run logged one (empty otherwise).",
    )
    linkage: LinkageDoc | None = Field(
        default=None,
        description="How the extracts were linked, when Lantern linked them (null otherwise).",
    )


def validate_document(document: dict[str, Any]) -> FairnessDocument:
    """Check a ``fairness.json`` document against ``lantern.fairness/1``.

    Raises
    ------
    ValueError
        If ``schema`` is another version (re-run the audit), or pydantic's
        ``ValidationError`` (a ``ValueError``) naming each field that is wrong.
    """
    if document.get("schema") != SCHEMA:
        raise ValueError(
            f"expected schema {SCHEMA!r}, got {document.get('schema')!r}: "
            "re-run the audit with this version of Lantern"
        )
    return FairnessDocument.model_validate(document)


def json_schema() -> dict[str, Any]:
    """The JSON Schema of ``fairness.json``."""
    schema = FairnessDocument.model_json_schema(by_alias=True)
    schema["$id"] = SCHEMA
    return schema


if __name__ == "__main__":
    print(json.dumps(json_schema(), indent=2))
