"""The summary of the fairness report: the verdict, the ratios the gate judged drawn against
the band, the model's other error disparities, base-rate and selection differences as
context, and every flag in one table. Renders; computes nothing."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from fairness import templates as t
from fairness.html_cells import _e, _flag_sentence, _img, _plots, _table, _with_interval
from fairness.policy import LABELS
from fairness.result import ANY, TRUE, AuditResult

if TYPE_CHECKING:
    from fairness.report import AuditReport

ERROR_METRICS = ("fnr", "tpr", "fpr", "precision", "auc")
"""Ratios of the model's errors (and ranking): what a gate judges."""


def _summary(report: AuditReport) -> str:
    """The verdict, then the gated ratios drawn against the band, then the model's error
    disparities the gate did not judge, then base-rate and selection differences as context;
    every flag in one table at the end."""
    r, v = report.result, report.verdict
    op = r.operating_point
    parts = []
    if v is None:
        parts.append(f'<div class="verdict none">{t.NO_VERDICT}</div>')
    else:
        word = "PASSED" if v["passed"] else "FAILED"
        items = "".join(f"<li>{_e(x)}</li>" for x in v["reasons"])
        parts.append(
            f'<div class="verdict {word.lower()}"><strong>Fairness policy: {word}.</strong>'
            f"<ul>{items}</ul></div>"
        )
    parts.append(
        f"<p>{r.n:,} {_e(report.context.population)} audited; {op.n_flagged:,} flagged "
        f"({op.share_flagged:.1%}). Score <code>{_e(r.score)}</code>, recorded outcome "
        f"<code>{_e(r.label)}</code>.</p>"
    )
    if report.cross_checks:
        from fairness.triangulation_report import finding

        items = "".join(f"<li>{_e(finding(c))}</li>" for c in report.cross_checks)
        parts.append(
            "<h3>Label bias from recorded data</h3>"
            f"<ul>{items}</ul><p class='small'>See <a href=\"#label_bias\">"
            f"{t.SECTIONS['label_bias']}</a> for each group and what the check assumes.</p>"
        )
    band = r.settings.tolerance
    gated = _gated_rows(report)
    if report.policy is not None:
        parts.append(f"<h3>What the gate judged</h3><p>The policy {_e(v['gated'])}.</p>")
        if gated.empty:
            parts.append("<p>No ratio the policy names could be judged in this audit.</p>")
        else:
            title = (
                f"Ratios the gate judged ({len(gated)}), against the band "
                f"{band[0]:g}-{band[1]:g}; red fails the policy"
            )
            parts.append(
                _img(_plots().gated_figure(gated, band, title), "The ratios the policy gated")
            )
        if v["not_checked"]:
            parts.append(
                f"<p class='small'>{len(v['not_checked'])} ratio(s) were not judged (too few "
                'children or events): see <a href="#suppressed">'
                f"{t.SECTIONS['suppressed']}</a>.</p>"
            )
    flags = r.flags
    if flags.empty:
        parts.append(t.SUMMARY_NO_FLAGS)
        return "\n".join(parts) + _suppressed_note(r)
    judged = set(zip(gated["grouping"], gated["group"], gated["metric"], strict=True))
    key = list(zip(flags["grouping"], flags["group"], flags["metric"], strict=True))
    outside_gate = np.array([k not in judged for k in key], dtype=bool)
    error = flags["metric"].isin(ERROR_METRICS).to_numpy()
    errors, context = flags[error & outside_gate], flags[~error & outside_gate]
    level = r.settings.level
    if len(errors):
        parts.append(
            f"<h3>The model's other error disparities</h3><p>{len(errors)} ratio(s) of the "
            "model's errors lie wholly outside the band where the policy does not gate them (another "
            "measure or grouping, or the other side of the band):</p>"
            + _flag_list(errors.head(8), level, band)
            + (
                f"<p class='small'>and {len(errors) - 8} more in the table below.</p>"
                if len(errors) > 8
                else ""
            )
        )
    if len(context):
        by_metric = context["metric"].value_counts()
        counts = ", ".join(f"{n} of {LABELS[m]}" for m, n in by_metric.items())
        parts.append(
            "<h3>Context: base rates and selection</h3><p>"
            f"{len(context)} ratio(s) outside the band are differences in who has the recorded "
            f"outcome or who is flagged ({counts}), not errors of the model: a group with a "
            "higher recorded base rate is flagged more often by any score that finds the "
            "outcome. They are context for the error figures above, and every one is in the "
            "table below.</p>"
        )
    parts.append(
        t.SUMMARY_FLAGS.substitute(count=len(flags), band=f"{band[0]:g}&ndash;{band[1]:g}")
    )
    parts.append(_flag_table(flags, gated))
    return "\n".join(parts) + _suppressed_note(r)


def _gated_rows(report: AuditReport) -> pd.DataFrame:
    """The disparity rows the policy judged, with ``fails`` from its verdict."""
    if report.policy is None:
        return pd.DataFrame(columns=["grouping", "group", "metric", "ratio", "low", "high"])
    p, d = report.policy, report.result.disparities
    rows = d[
        d["grouping"].isin(p.groupings())
        & d["metric"].isin(p.metrics)
        & d["outcome"].isin([ANY, p.outcome])
        & (d["group"] != d["reference"])
        & ~d["suppressed"].astype(bool)
        & d["ratio"].notna()
    ].copy()
    failing = {(f["grouping"], f["group"], f["metric"]) for f in report.verdict["flags"]}
    rows["fails"] = [
        (g, x, m) in failing
        for g, x, m in zip(rows["grouping"], rows["group"], rows["metric"], strict=True)
    ]
    return rows.reset_index(drop=True)


def _flag_list(rows: pd.DataFrame, level: float, band) -> str:
    items = "".join(
        f"<li>{_e(_flag_sentence(row, level, band))}</li>" for _, row in rows.iterrows()
    )
    return f'<ul class="flags">{items}</ul>'


def _flag_table(flags: pd.DataFrame, gated: pd.DataFrame) -> str:
    failing = (
        set(
            zip(
                *(
                    gated.loc[gated["fails"].astype(bool), c]
                    for c in ("grouping", "group", "metric")
                ),
                strict=True,
            )
        )
        if len(gated)
        else set()
    )
    rows = []
    for row in flags.itertuples(index=False):
        kind = (
            "fails the policy"
            if (row.grouping, row.group, row.metric) in failing
            else "model error"
            if row.metric in ERROR_METRICS
            else "context"
        )
        outcome = " (true)" if row.outcome == TRUE else ""
        rows.append(
            f'<tr><td class="text">{_e(row.grouping)}</td><td class="text">{_e(row.group)}</td>'
            f'<td class="text">{_e(LABELS[row.metric])}{outcome}</td>'
            f'<td class="flag">{_with_interval(row.ratio, row.low, row.high, "ratio")}</td>'
            f'<td class="text">{_e(row.reference)}</td><td class="text">{kind}</td></tr>'
        )
    head = ["grouping", "group", "measure", "ratio to reference", "reference", "kind"]
    return f'<div id="all-flags">{_table(head, rows, text=2)}</div>'


def _suppressed_note(r: AuditResult) -> str:
    n_supp = int(r.groups["suppressed"].sum())
    if not n_supp:
        return ""
    return (
        f"\n<p>{n_supp} group(s) are too small to report and are suppressed: see "
        f'<a href="#suppressed">{t.SECTIONS["suppressed"]}</a>.</p>'
    )
