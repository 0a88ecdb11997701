"""Reports of an audit: the ``lantern.fairness/1`` JSON document and a self-contained HTML page.

Both are rendered from an :class:`AuditReport` (the audit's result, the words around it, the
policy's verdict and the changes since the last audit) and compute nothing: every number
they show is a number the :class:`~fairness.result.AuditResult` holds, formatted. This module
holds the report object, its JSON document and the writer of both files; the HTML page is
:mod:`fairness.report_html`.

Typical use::

    report = prepare_report(result, context=ReportContext(label_definition="..."),
                            policy=FairnessPolicy(), previous=last_json)
    write_reports(report, "out/")  # out/fairness.json, out/fairness.html
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from string import Template
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from fairness import templates as t
from fairness.changes import AuditChanges, compare_audits
from fairness.page import write_whole
from fairness.policy import FairnessPolicy
from fairness.report_html import render_html
from fairness.result import SCHEMA, AuditResult
from fairness.triangulation import Triangulation

JSON_NAME, HTML_NAME = "fairness.json", "fairness.html"


# --------------------------------------------------------------------------- inputs


class ReportContext(BaseModel):
    """The words around the numbers, passed in by whoever runs the audit.

    Attributes
    ----------
    title : str
        The report's title.
    population : str
        Plural noun for the people scored: "children" (Lantern) or "people" (an adult tool).
    purpose : str
        What the score is for.
    label_definition : str or None
        Exactly what the outcome column records (e.g. the outcome definition's text).
    intended_uses, prohibited_uses : list of str
        Uses, with ``$population`` standing for :attr:`population`.
    threshold_rationale : str or None
        Why this threshold or capacity.
    source : str or None
        Where the audited rows came from (file, filters, rows kept).
    """

    model_config = ConfigDict(extra="forbid")

    title: str = "Fairness audit"
    population: str = "children"
    purpose: str = t.DEFAULT_PURPOSE
    label_definition: str | None = None
    intended_uses: list[str] = Field(default_factory=lambda: list(t.DEFAULT_INTENDED))
    prohibited_uses: list[str] = Field(default_factory=lambda: list(t.DEFAULT_PROHIBITED))
    threshold_rationale: str | None = None
    source: str | None = None

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides: Any) -> ReportContext:
        """A context from a YAML file of the fields above; ``overrides`` that are not None win."""
        import yaml

        data = yaml.safe_load(Path(path).read_text()) or {}
        data.update({k: v for k, v in overrides.items() if v is not None})
        return cls.model_validate(data)

    def words(self, text: str) -> str:
        """``text`` with ``$population`` filled in."""
        return Template(text).safe_substitute(population=self.population)


@dataclass(frozen=True, eq=False)
class AuditReport:
    """Everything a report shows; renderers read it and compute nothing.

    Attributes
    ----------
    result : AuditResult
    context : ReportContext
    policy : FairnessPolicy or None
    verdict : dict or None
        ``policy.verdict(result)``.
    changes : AuditChanges or None
        Against the previous audit; None at a first audit.
    generated_at, generator : str
    cross_checks : tuple of Triangulation
        The label-bias check from recorded data alone, when there is one.
    linkage : dict or None
        The linkage report of the extracts the model was trained on (``lantern link``'s
        ``report.json``), when Lantern linked them.
    """

    result: AuditResult
    context: ReportContext
    policy: FairnessPolicy | None
    verdict: dict[str, Any] | None
    changes: AuditChanges | None
    generated_at: str
    generator: str
    cross_checks: tuple[Triangulation, ...] = ()
    linkage: Mapping[str, Any] | None = None


def prepare_report(
    result: AuditResult,
    *,
    context: ReportContext | None = None,
    policy: FairnessPolicy | None = None,
    previous: AuditResult | Mapping | None = None,
    cross_checks: Sequence[Triangulation] = (),
    linkage: Mapping[str, Any] | None = None,
) -> AuditReport:
    """Bundle a result with its words, its policy's verdict and the changes since last time.

    Parameters
    ----------
    result : AuditResult
    context : ReportContext, optional
        Defaults describe Lantern and its children.
    policy : FairnessPolicy, optional
        Without one the report carries no verdict.
    previous : AuditResult or mapping, optional
        The last audit (or its ``fairness.json``), for "what changed since the last audit".
    cross_checks : sequence of Triangulation, optional
        The label-bias check of the same outcome from recorded data alone
        (:func:`fairness.triangulation.triangulate`), shown beside the true-outcome view.
    linkage : mapping, optional
        The linkage report of the extracts (``lantern link``): its missed and false matches
        (or, without ground truth, records linked to nothing) by group are shown.
    """
    try:
        generator = f"lantern {metadata.version('lantern')}"
    except metadata.PackageNotFoundError:
        generator = "lantern"
    return AuditReport(
        result=result,
        context=context or ReportContext(),
        policy=policy,
        verdict=None if policy is None else policy.verdict(result),
        changes=None if previous is None else compare_audits(result, previous),
        generated_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        generator=generator,
        cross_checks=tuple(cross_checks),
        linkage=linkage,
    )


def load_previous(path: str | Path) -> dict[str, Any]:
    """A previous audit's ``fairness.json``, checked to be one this version can compare."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"previous audit {path} does not exist; give the last fairness.json")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(
            f"previous audit {path} is not JSON ({err}); give a fairness.json"
        ) from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else None
        raise ValueError(
            f"previous audit {path} has schema {found!r}, not {SCHEMA!r}; "
            "give a fairness.json written by `lantern audit`"
        )
    return data


# --------------------------------------------------------------------------- JSON


def to_document(report: AuditReport) -> dict[str, Any]:
    """The ``lantern.fairness/1`` document (see :mod:`fairness.schema`)."""
    doc = report.result.to_dict()
    verdict = None
    if report.verdict is not None:
        verdict = {**report.verdict, "policy": report.policy.model_dump(mode="json")}
    doc |= {
        "generated_at": report.generated_at,
        "generator": report.generator,
        "context": report.context.model_dump(mode="json")
        | {
            "intended_uses": [report.context.words(u) for u in report.context.intended_uses],
            "prohibited_uses": [report.context.words(u) for u in report.context.prohibited_uses],
        },
        "verdict": verdict,
        "passed": None if verdict is None else verdict["passed"],
        "reasons": None if verdict is None else verdict["reasons"],
        "changes": None if report.changes is None else report.changes.to_dict(),
        "cross_checks": [c.to_dict() for c in report.cross_checks],
        "linkage": None
        if report.linkage is None
        else {k: report.linkage.get(k) for k in ("records", "children", "truth", "flagged")},
    }
    return doc


def render_json(report: AuditReport) -> str:
    """The JSON document as text (no NaN: missing numbers are null)."""
    return json.dumps(to_document(report), indent=1, ensure_ascii=False, allow_nan=False)


# --------------------------------------------------------------------------- files


def write_reports(report: AuditReport, out: str | Path) -> tuple[Path, Path]:
    """Write ``fairness.json`` and ``fairness.html`` to ``out``, each whole or not at all.

    Both are rendered before either is written, and each is written to a temporary file
    that is then renamed (:func:`fairness.page.write_whole`), so a failure never leaves a
    half-written report.
    """
    out = Path(out)
    json_text, html_text = render_json(report), render_html(report)
    return write_whole(out / JSON_NAME, json_text), write_whole(out / HTML_NAME, html_text)
