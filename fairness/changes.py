"""What changed since the last audit: the disparity ratios of two audits, side by side."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from fairness.result import AuditResult

CHANGE_COLUMNS = [
    "grouping",
    "group",
    "outcome",
    "metric",
    "previous",
    "current",
    "change",
    "previous_flag",
    "current_flag",
    "status",
]


@dataclass(frozen=True, eq=False)
class AuditChanges:
    """Deltas of disparity ratios between a previous audit and this one.

    Attributes
    ----------
    table : pandas.DataFrame
        :data:`CHANGE_COLUMNS`, one row per (grouping, group, outcome, metric) in either
        audit. ``status`` is ``"new flag"``, ``"flag cleared"``, ``"still flagged"``,
        ``"new group"``, ``"no longer present"``, ``"suppressed"`` or ``""``.
    notes : list of str
        Differences in the audits' set-up (rows, operating point, references, band) that a
        reader must weigh before reading the deltas.
    """

    table: pd.DataFrame
    notes: list[str]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (NaN becomes None)."""
        rows = self.table.astype(object).where(self.table.notna(), None)
        return {"notes": list(self.notes), "rows": rows.to_dict("records")}


def compare_audits(current: AuditResult, previous: AuditResult | Mapping) -> AuditChanges:
    """The change in every disparity ratio since ``previous`` (a result or its JSON form).

    Parameters
    ----------
    current : AuditResult
        This audit.
    previous : AuditResult or mapping
        The last audit, or its ``fairness.json`` document.

    Returns
    -------
    AuditChanges
    """
    if not isinstance(previous, AuditResult):
        previous = AuditResult.from_dict(previous)
    keys = ["grouping", "group", "outcome", "metric"]
    now = current.disparities[[*keys, "ratio", "flag"]]
    before = previous.disparities[[*keys, "ratio", "flag"]]
    table = before.merge(now, on=keys, how="outer", suffixes=("_previous", "_current"))
    table = table.rename(
        columns={
            "ratio_previous": "previous",
            "ratio_current": "current",
            "flag_previous": "previous_flag",
            "flag_current": "current_flag",
        }
    )
    present_before = table["previous_flag"].notna()
    present_now = table["current_flag"].notna()
    table["previous_flag"] = table["previous_flag"].astype("boolean").fillna(False).astype(bool)
    table["current_flag"] = table["current_flag"].astype("boolean").fillna(False).astype(bool)
    table["change"] = table["current"] - table["previous"]
    table["status"] = [
        _status(b, n, pf, cf, pr, cr)
        for b, n, pf, cf, pr, cr in zip(
            present_before,
            present_now,
            table["previous_flag"],
            table["current_flag"],
            table["previous"],
            table["current"],
            strict=True,
        )
    ]
    order = {g.name: i for i, g in enumerate(current.groupings)}
    table = table.sort_values(keys, key=lambda c: c.map(order) if c.name == "grouping" else c)
    return AuditChanges(table[CHANGE_COLUMNS].reset_index(drop=True), _notes(current, previous))


def _status(before: bool, now: bool, was_flag: bool, is_flag: bool, prev, cur) -> str:
    """How one ratio changed, in a word or two."""
    if not before:
        return "new group"
    if not now:
        return "no longer present"
    if is_flag and was_flag:
        return "still flagged"
    if is_flag:
        return "new flag"
    if was_flag:
        return "flag cleared"
    if pd.isna(prev) or pd.isna(cur):
        return "suppressed"
    return ""


def _notes(current: AuditResult, previous: AuditResult) -> list[str]:
    """Set-up differences between the audits."""
    notes = []
    if previous.n != current.n:
        notes.append(f"rows audited: {previous.n:,} before, {current.n:,} now")
    a, b = previous.operating_point, current.operating_point
    if (a.rule, a.requested) != (b.rule, b.requested):
        notes.append(
            f"operating point: {a.rule} {a.requested:g} before, {b.rule} {b.requested:g} now"
        )
    if a.n_flagged != b.n_flagged:
        notes.append(f"number flagged: {a.n_flagged:,} before, {b.n_flagged:,} now")
    if previous.settings.tolerance != current.settings.tolerance:
        notes.append(
            f"tolerance band: {previous.settings.tolerance} before, "
            f"{current.settings.tolerance} now"
        )
    before = {g.name: g.reference for g in previous.groupings}
    for g in current.groupings:
        if g.name in before and before[g.name] != g.reference:
            notes.append(
                f"reference group for {g.name}: {before[g.name]} before, {g.reference} now "
                "(ratios are not directly comparable)"
            )
    if previous.score != current.score or previous.label != current.label:
        notes.append(
            f"score/label: {previous.score}/{previous.label} before, "
            f"{current.score}/{current.label} now"
        )
    return notes
