"""The access log as a file an auditor opens: CSV that a spreadsheet shows and never runs."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from typing import Any

from access.schema import AUDIT_COLUMNS

__all__ = ["FORMULA_STARTS", "audit_log_csv", "spreadsheet_safe"]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a cell as a formula (OWASP's list)."""


def spreadsheet_safe(value: Any) -> Any:
    """``value``, with a text that a spreadsheet would run as a formula prefixed by ``'``.

    Anyone can put text in the log (a caller's child id or purpose is recorded as sent, even
    when refused), so ``=HYPERLINK(...)`` must reach the auditor as text. Numbers and None
    pass unchanged.
    """
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def audit_log_csv(rows: Iterable[Mapping[str, Any]]) -> str:
    """Audit rows (``AuditRow.as_dict()``) as CSV text, columns in the table's order, every
    text cell :func:`spreadsheet_safe`."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(AUDIT_COLUMNS), lineterminator="\n")
    writer.writeheader()
    writer.writerows({k: spreadsheet_safe(v) for k, v in row.items()} for row in rows)
    return buffer.getvalue()
