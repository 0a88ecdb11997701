"""The pieces every section of the fairness report is made of: numbers as shown, cells,
tables, figures and the one-line sentence of a flag. Renders; computes nothing."""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

import pandas as pd

from fairness.policy import LABELS
from fairness.result import REASONS, TRUE

if TYPE_CHECKING:
    from fairness.report import AuditReport

PERCENT = {
    "population_share",
    "selection_rate",
    "flagged_share",
    "base_rate",
    "tpr",
    "fpr",
    "fnr",
    "precision",
}


def _plots():
    """:mod:`fairness.plots`, imported when a report is drawn (matplotlib is slow to load)."""
    from fairness import plots

    return plots


# --------------------------------------------------------------------------- formatting


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _num(value: float, metric: str) -> str:
    """A number as shown: rates as percentages, ratios and scores to 2-3 places."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if metric in PERCENT:
        return f"{100 * value:.1f}%"
    if metric == "ratio":
        return f"{value:.2f}"
    return f"{value:.3g}" if abs(value) >= 1000 else f"{value:.3f}"


def _with_interval(value: float, low: float, high: float, metric: str) -> str:
    point = _num(value, metric)
    if low is None or math.isnan(low):
        return point
    lo, hi = _num(low, metric).rstrip("%"), _num(high, metric)
    return f'{point} <span class="small">({lo}&ndash;{hi})</span>'


def _reason(code: str | None, report: AuditReport) -> str:
    m = report.result.settings.min_cell
    return REASONS.get(code or "", "suppressed").format(m=m)


def _suppressed_cell(code: str | None, report: AuditReport) -> str:
    return f'<td class="suppressed" title="{_e(_reason(code, report))}">suppressed</td>'


def _table(head: list[str], rows: list[str], text: int = 1) -> str:
    """A table; the first ``text`` columns hold words (left-aligned), the rest numbers."""
    cells = "".join(
        f'<th class="text">{_e(h)}</th>' if i < text else f"<th>{_e(h)}</th>"
        for i, h in enumerate(head)
    )
    body = "".join(rows)
    return f'<div class="scroll"><table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table></div>'


def _img(fig, alt: str) -> str:
    return f'<img src="{_plots().data_uri(fig)}" alt="{_e(alt)}">'


def _metric_cell(row: pd.Series | None, report: AuditReport) -> str:
    if row is None:
        return "<td>n/a</td>"
    if row["suppressed"]:
        return _suppressed_cell(row["reason"], report)
    return f"<td>{_with_interval(row['value'], row['low'], row['high'], row['metric'])}</td>"


def _ratio_cell(row: pd.Series | None, report: AuditReport) -> str:
    if row is None:
        return "<td>n/a</td>"
    if row["suppressed"]:
        return _suppressed_cell(row["reason"], report)
    if row["group"] == row["reference"]:
        return "<td>1 (reference)</td>"
    text = _with_interval(row["ratio"], row["low"], row["high"], "ratio")
    if row["flag"]:
        return f'<td class="flag">{text} FLAG</td>'
    return f"<td>{text}</td>"


def _flag_sentence(row: pd.Series, level: float, band: tuple[float, float]) -> str:
    outcome = " (true outcome)" if row["outcome"] == TRUE else ""
    side = "above" if row["low"] > band[1] else "below"
    return (
        f"{row['grouping']} = {row['group']}: {LABELS[row['metric']]}{outcome} is "
        f"{row['ratio']:.2f} times {row['reference']}'s ({level:.0%} interval "
        f"{row['low']:.2f}\u2013{row['high']:.2f}), wholly {side} the band"
    )
