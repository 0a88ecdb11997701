"""Fairness audit of any scores, labels and groups.

``fairness`` needs only scores, labels and group columns, so it can audit any tool, not just
Lantern's models:

- :func:`audit` -> :class:`AuditResult`, every number with its interval, ratio and flag;
- :class:`FairnessPolicy` and its ``verdict(result)``, read by ``lantern promote``;
- :func:`prepare_report`, :func:`write_reports`: the JSON (schema ``lantern.fairness/1``,
  :mod:`fairness.schema`) and self-contained HTML reports, rendered from the result.
"""

from fairness.audit import audit
from fairness.changes import AuditChanges, compare_audits
from fairness.policy import FairnessPolicy
from fairness.report import (
    AuditReport,
    ReportContext,
    load_previous,
    prepare_report,
    render_html,
    render_json,
    to_document,
    write_reports,
)
from fairness.result import SCHEMA, AuditResult, OperatingPoint

__all__ = [
    "SCHEMA",
    "AuditChanges",
    "AuditReport",
    "AuditResult",
    "FairnessPolicy",
    "OperatingPoint",
    "ReportContext",
    "audit",
    "compare_audits",
    "load_previous",
    "prepare_report",
    "render_html",
    "render_json",
    "to_document",
    "write_reports",
]
