"""The HTML report of an audit: a self-contained page, one section per heading of
:data:`fairness.templates.SECTIONS`.

Rendered from an :class:`~fairness.report.AuditReport` and computing nothing: every number is
one the :class:`~fairness.result.AuditResult` holds, formatted. Figures are embedded as base64
PNG and the style inline, so the page opens offline; the words are :mod:`fairness.templates`'.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

from fairness import templates as t
from fairness.html_cells import (
    _e,
    _img,
    _metric_cell,
    _num,
    _plots,
    _ratio_cell,
    _reason,
    _suppressed_cell,
    _table,
)
from fairness.page import render_page
from fairness.policy import LABELS, FairnessPolicy
from fairness.report_summary import _summary
from fairness.result import ANY, OVERALL, RECORDED, SCHEMA, TRUE, AuditResult

if TYPE_CHECKING:
    from fairness.report import AuditReport

__all__ = ["COLUMN_NAMES", "DEFAULT_PLOT_METRICS", "render_html"]

COLUMN_NAMES = {
    "population_share": "share of all",
    "mean_score": "mean score",
    "selection_rate": "selection rate",
    "flagged_share": "share of flagged",
    "base_rate": "base rate",
    "tpr": "recall (TPR)",
    "fpr": "FPR",
    "fnr": "FNR",
    "precision": "precision",
    "auc": "AUC",
    "recording_ratio": "recorded / true base rate",
}
RESULT_COLUMNS = [
    "base_rate",
    "selection_rate",
    "tpr",
    "fnr",
    "fpr",
    "precision",
    "auc",
    "mean_score",
]
TRUTH_COLUMNS = ["base_rate", "tpr", "fnr", "fpr", "precision"]
DEFAULT_PLOT_METRICS = ["fnr", "tpr", "selection_rate", "fpr"]


def _metric_lookup(result: AuditResult, grouping: str) -> dict:
    m = result.metrics[result.metrics["grouping"] == grouping]
    return {(r["group"], r["metric"], r["outcome"]): r for _, r in m.iterrows()}


def _ratio_lookup(result: AuditResult, grouping: str) -> dict:
    d = result.disparities[result.disparities["grouping"] == grouping]
    return {(r["group"], r["metric"], r["outcome"]): r for _, r in d.iterrows()}


def _get(lookup: dict, group: str, metric: str, outcome: str):
    """A metric's row: label-free metrics are stored under outcome "any"."""
    row = lookup.get((group, metric, ANY))
    return lookup.get((group, metric, outcome)) if row is None else row


def _group_rows(result: AuditResult, grouping: str) -> pd.DataFrame:
    return result.groups[result.groups["grouping"] == grouping].set_index("group")


def _policy_metrics(report: AuditReport) -> list[str]:
    return list(report.policy.metrics) if report.policy else list(DEFAULT_PLOT_METRICS)


# --------------------------------------------------------------------------- sections


def _purpose(report: AuditReport) -> str:
    c = report.context
    label = f"<code>{_e(report.result.label)}</code>"
    if c.label_definition:
        definition = f"The outcome column {label} records: {_e(c.label_definition)}"
    else:
        definition = f"{_e(t.NO_LABEL_DEFINITION)} (Outcome column: {label}.)"
    return (
        f"<p>{_e(c.words(c.purpose))}</p>"
        f"<p><strong>Label (outcome) definition.</strong> {definition}</p>"
        + (f"<p><strong>Data.</strong> {_e(c.source)}</p>" if c.source else "")
    )


def _uses(report: AuditReport) -> str:
    c = report.context
    intended = "".join(f"<li>{_e(c.words(u))}</li>" for u in c.intended_uses)
    prohibited = "".join(f"<li>{_e(c.words(u))}</li>" for u in c.prohibited_uses)
    return f"<h3>Intended uses</h3><ul>{intended}</ul><h3>Prohibited uses</h3><ul>{prohibited}</ul>"


def _caveat(report: AuditReport) -> str:
    truth = t.CAVEAT_WITH_TRUTH if report.result.true_label else t.CAVEAT_WITHOUT_TRUTH
    return t.CAVEAT.substitute(population=_e(report.context.population), truth=truth)


def _sizes(report: AuditReport) -> str:
    r = report.result
    out = []
    for g in r.groupings:
        look = _metric_lookup(r, g.name)
        groups = _group_rows(r, g.name)
        head = [
            g.name,
            "n",
            "share of all",
            *[f"base rate ({o})" for o in r.outcomes],
            "flagged",
            "share of flagged",
        ]
        rows = []
        for group in g.groups:
            row = groups.loc[group]
            css = ' class="reference"' if row["is_reference"] else ""
            if row["suppressed"]:
                cells = "".join(_suppressed_cell("group_size", report) for _ in head[1:])
            else:
                cells = (
                    f"<td>{int(row['n']):,}</td>"
                    + _metric_cell(look.get((group, "population_share", ANY)), report)
                    + "".join(
                        _metric_cell(look.get((group, "base_rate", o)), report) for o in r.outcomes
                    )
                    + f"<td>{int(row['flagged']):,}</td>"
                    + _metric_cell(look.get((group, "flagged_share", ANY)), report)
                )
            label = f"{group} (reference)" if row["is_reference"] else group
            rows.append(f'<tr{css}><td class="text">{_e(label)}</td>{cells}</tr>')
        out.append(f"<h3>{_e(g.name)}</h3>" + _table(head, rows))
        out.append(
            _img(
                _plots().composition_figure(r, g.name),
                f"{g.name}: share flagged against share audited",
            )
        )
    overall = r.overall(RECORDED)
    intro = (
        f"<p>{r.n:,} {_e(report.context.population)}; recorded base rate "
        f"{_num(overall['base_rate'], 'base_rate')}"
        + (
            f", true base rate {_num(r.overall(TRUE)['base_rate'], 'base_rate')}"
            if r.true_label
            else ""
        )
        + ". Each group's share of everyone audited is set beside its share of everyone "
        "flagged: a group that makes up far more of the list than of the population is the "
        "pattern this audit exists to catch.</p>"
    )
    return intro + "\n".join(out)


def _operating(report: AuditReport) -> str:
    r, op = report.result, report.result.operating_point
    if op.rule == "threshold":
        rule = f"Flagged = score {_e(r.score)} &ge; {op.requested:g}."
    else:
        asked = f"{op.requested:.0%} of them" if op.requested < 1 else f"{int(op.requested):,}"
        rule = f"Flagged = the highest-scored {asked} (capacity, top k); the lowest score flagged is {op.threshold:g}."
    ties = (
        f"{op.ties_at_cut:,} more were tied at the cut and left unflagged, chosen at random so "
        "that no group gains from the order of the file."
        if op.ties_at_cut
        else ""
    )
    return t.OPERATING.substitute(
        rule_text=rule,
        n_flagged=f"{op.n_flagged:,}",
        n=f"{r.n:,}",
        population=_e(report.context.population),
        share=f"{op.share_flagged:.1%}",
        ties=ties,
        rationale=_e(report.context.threshold_rationale or t.NO_RATIONALE),
    )


def _results(report: AuditReport) -> str:
    r = report.result
    out = [
        f"<p>Against the recorded outcome. Each figure is followed by its "
        f"{r.settings.level:.0%} interval. Hover over 'suppressed' for the reason.</p>"
    ]
    for g in [None, *r.groupings]:
        name = OVERALL if g is None else g.name
        groups = [OVERALL] if g is None else list(g.groups)
        look = _metric_lookup(r, name)
        rows = []
        for group in groups:
            cells = "".join(
                _metric_cell(_get(look, group, m, RECORDED), report) for m in RESULT_COLUMNS
            )
            rows.append(f'<tr><td class="text">{_e(group)}</td>{cells}</tr>')
        title = "Everyone" if g is None else g.name
        out.append(
            f"<h3>{_e(title)}</h3>"
            + _table([title, *[COLUMN_NAMES[m] for m in RESULT_COLUMNS]], rows)
        )
    return "\n".join(out)


def _disparity_tables(report: AuditReport, result: AuditResult, grouping, metrics, outcomes) -> str:
    look = _ratio_lookup(result, grouping.name)
    head = [grouping.name]
    keys = []
    for m in metrics:
        for o in [ANY] if m in ("selection_rate", "mean_score") else outcomes:
            keys.append((m, o))
            head.append(COLUMN_NAMES[m] + ("" if o in (ANY, RECORDED) else " (true)"))
    rows = []
    for group in grouping.groups:
        cells = "".join(_ratio_cell(look.get((group, m, o)), report) for m, o in keys)
        css = ' class="reference"' if group == grouping.reference else ""
        rows.append(f'<tr{css}><td class="text">{_e(group)}</td>{cells}</tr>')
    return _table(head, rows)


def _disparities(report: AuditReport) -> str:
    r = report.result
    lo, hi = r.settings.tolerance
    out = [
        f"<p>Each group's figure divided by its reference group's. The grey band is the "
        f"tolerance {lo:g}&ndash;{hi:g}; a ratio is flagged (red) only when its whole "
        f"{r.settings.level:.0%} interval lies outside it.</p>"
    ]
    metrics = _policy_metrics(report)
    all_metrics = [
        "selection_rate",
        "tpr",
        "fnr",
        "fpr",
        "precision",
        "base_rate",
        "auc",
        "mean_score",
    ]
    for g in r.groupings:
        out.append(f"<h3>{_e(g.name)} (reference: {_e(g.reference)})</h3>")
        out.append(
            _img(
                _plots().disparity_figure(r, g.name, metrics, list(r.outcomes)),
                f"{g.name}: disparity ratios",
            )
        )
        out.append(_disparity_tables(report, r, g, all_metrics, [RECORDED]))
    return "\n".join(out)


def _calibration(report: AuditReport) -> str:
    r = report.result
    bins = ", ".join(
        f"{int(b['bin'])}: {b['lowest']:.3g}"
        + ("" if b["lowest"] == b["highest"] else f"&ndash;{b['highest']:.3g}")
        for _, b in r.bins.iterrows()
    )
    out = [
        "<p>For each score bin, the observed rate of the outcome against the mean score, per "
        "group. Lines that sit apart mean the same score carries a different risk in "
        "different groups. Bins with fewer than "
        f"{r.settings.min_cell} {_e(report.context.population)} in a group are not drawn.</p>",
        f'<p class="small">Score bins (lowest&ndash;highest score): {bins}. Calibration of '
        "intersections is in the JSON.</p>",
    ]
    for g in r.groupings:
        if len(g.columns) != 1:
            continue
        for outcome in r.outcomes:
            out.append(
                _img(
                    _plots().calibration_figure(r, g.name, outcome),
                    f"{g.name}: calibration ({outcome})",
                )
            )
    return "\n".join(out)


def _label_bias(report: AuditReport) -> str:
    checks = _cross_checks(report)
    r = report.result
    if not r.true_label:
        return t.NO_TRUTH.substitute() + checks
    out = [t.LABEL_BIAS_INTRO.substitute(true_label=f"<code>{_e(r.true_label)}</code>")]
    if r.recording_n is not None:
        out.append(t.RECORDING_ROWS.substitute(n=f"{r.recording_n:,}", audited=f"{r.n:,}"))
    for g in r.groupings:
        look, ratios = _metric_lookup(r, g.name), _ratio_lookup(r, g.name)
        head = [g.name]
        for m in TRUTH_COLUMNS:
            head += [f"{COLUMN_NAMES[m]} recorded", f"{COLUMN_NAMES[m]} true"]
        head += [
            "FNR ratio recorded",
            "FNR ratio true",
            "recorded / true base rate",
            "recording disparity",
        ]
        rows = []
        for group in g.groups:
            cells = "".join(
                _metric_cell(look.get((group, m, o)), report)
                for m in TRUTH_COLUMNS
                for o in (RECORDED, TRUE)
            )
            cells += "".join(
                _ratio_cell(ratios.get((group, "fnr", o)), report) for o in (RECORDED, TRUE)
            )
            cells += _metric_cell(look.get((group, "recording_ratio", TRUE)), report)
            cells += _ratio_cell(ratios.get((group, "recording_ratio", TRUE)), report)
            rows.append(f'<tr><td class="text">{_e(group)}</td>{cells}</tr>')
        out.append(f"<h3>{_e(g.name)}</h3>" + _table(head, rows))
    return "\n".join(out) + checks


def _pct_interval(rate: float, low: float, high: float) -> str:
    return f"{100 * rate:.2f}% ({100 * low:.2f}&ndash;{100 * high:.2f}%)"


def _linkage(report: AuditReport) -> str:
    link = report.linkage
    if not link:
        return (
            "<p>No linkage report was logged with the training run: the extracts came "
            "already linked (by the partnership), so how well they were linked is not known "
            "here.</p>"
        )
    out = [
        f"<p>The agencies' records were linked by Lantern (<code>lantern link</code>): "
        f"{link['records']:,} person records into {link['children']:,} children. A false "
        "match puts another child's records behind a prompt; a missed match scatters a "
        "child's records, so the child looks less known to services than they are, and is "
        "less likely to be flagged.</p>"
    ]
    flags = link.get("flagged") or []
    groups = link.get("by_group")
    if link.get("truth") and groups:
        said = (
            f"<p class='flag'><strong>Flagged:</strong> {_e('; '.join(flags))} (a rate whose "
            "interval lies wholly above the rest of its grouping's).</p>"
            if flags
            else "<p>No group is linked worse than the rest of its grouping beyond chance.</p>"
        )
        rows = [
            f'<tr><td class="text">{_e(g["group"])}</td><td class="text">{_e(g["value"])}</td>'
            f"<td>{g['records']:,}</td>"
            f"<td>{_pct_interval(g['missed'], g['missed_low'], g['missed_high'])}</td>"
            f"<td>{_pct_interval(g['false'], g['false_low'], g['false_high'])}</td>"
            f"<td class='text'>{'flagged' if g.get('missed_flag') or g.get('false_flag') else ''}"
            "</td></tr>"
            for g in groups
        ]
        head = ["grouping", "group", "records", "missed matches", "false matches", ""]
        out += [said, "<p>Against the synthetic truth of who is who:</p>", _table(head, rows)]
    else:
        alone = [u for u in link.get("unlinked", []) if u["agency"] == "all"]
        rows = [
            f'<tr><td class="text">{_e(u["group"])}</td><td class="text">{_e(u["value"])}</td>'
            f"<td>{u['records']:,}</td><td>{_pct_interval(u['rate'], u['low'], u['high'])}</td>"
            "</tr>"
            for u in alone
        ]
        out += [
            "<p>Without ground truth, records linked to no other record, by group (a child "
            "known to one agency is alone rightly; a group alone far more often may be missed "
            "more often):</p>",
            _table(["grouping", "group", "records", "linked to no other record"], rows),
        ]
    return "\n".join(out)


def _cross_checks(report: AuditReport) -> str:
    """The label-bias check from recorded data alone, when the report carries one."""
    if not report.cross_checks:
        return ""
    from fairness.triangulation_report import section

    return t.CROSS_CHECKS_INTRO + "".join(section(c, level=3) for c in report.cross_checks)


def _criterion(report: AuditReport) -> str:
    r = report.result
    policy = report.policy or FairnessPolicy(
        group_columns=[g.name for g in r.groupings if len(g.columns) == 1]
    )
    lo, hi = policy.tolerance
    intro = t.CRITERION_INTRO.substitute(
        metrics=_e(", ".join(LABELS[m] for m in policy.metrics)),
        groupings=_e(", ".join(policy.groupings())),
        band=f"{lo:g}&ndash;{hi:g}",
        level=f"{r.settings.level:.0%}",
    )
    if report.policy is None:
        intro = "<p>No policy was applied; the default criterion is described.</p>" + intro
    why = "".join(f"<li>{_e(report.context.words(t.METRIC_WHY[m]))}</li>" for m in policy.metrics)
    return intro + f"<ul>{why}</ul>" + t.CRITERION_TRADEOFF.substitute()


def _baseline(report: AuditReport) -> str:
    r, b = report.result, report.result.baseline
    if b is None:
        return t.NO_BASELINE.substitute()
    op = b.operating_point
    capacity = f"It flags {op.n_flagged:,} ({op.share_flagged:.1%}), " + (
        f"score &ge; {op.requested:g}."
        if op.rule == "threshold"
        else "as many as the score (equal capacity)."
    )
    out = [t.BASELINE_INTRO.substitute(baseline=_e(b.score), capacity=capacity)]
    head = ["everyone", "score", "baseline"]
    rows = []
    for m in ["auc", "selection_rate", "tpr", "fnr", "fpr", "precision"]:
        cells = "".join(
            _metric_cell(_get(_metric_lookup(x, OVERALL), OVERALL, m, RECORDED), report)
            for x in (r, b)
        )
        rows.append(f'<tr><td class="text">{COLUMN_NAMES[m]}</td>{cells}</tr>')
    out.append(_table(head, rows))
    metrics = _policy_metrics(report)
    for g in r.groupings:
        mine, theirs = _ratio_lookup(r, g.name), _ratio_lookup(b, g.name)
        head = [g.name]
        keys = [(m, ANY if m in ("selection_rate", "mean_score") else RECORDED) for m in metrics]
        for m, _ in keys:
            head += [f"{COLUMN_NAMES[m]} ratio: score", f"{COLUMN_NAMES[m]} ratio: baseline"]
        rows = []
        for group in g.groups:
            cells = "".join(
                _ratio_cell(mine.get((group, m, o)), report)
                + _ratio_cell(theirs.get((group, m, o)), report)
                for m, o in keys
            )
            rows.append(f'<tr><td class="text">{_e(group)}</td>{cells}</tr>')
        out.append(f"<h3>{_e(g.name)}</h3>" + _table(head, rows))
        if len(g.columns) == 1:
            out.append(
                _img(
                    _plots().disparity_figure(b, g.name, metrics, [RECORDED]),
                    f"baseline {g.name}: disparity ratios",
                )
            )
    return "\n".join(out)


def _changes(report: AuditReport) -> str:
    c = report.changes
    if c is None:
        return t.FIRST_AUDIT.substitute()
    notes = "Differences in set-up: " + "; ".join(_e(n) for n in c.notes) + "." if c.notes else ""
    out = [t.CHANGES_INTRO.substitute(notes=notes)]
    metrics = _policy_metrics(report)
    table = c.table[c.table["metric"].isin(metrics) | (c.table["status"] != "")]
    rows = []
    for _, row in table.iterrows():
        change = "n/a" if pd.isna(row["change"]) else f"{row['change']:+.2f}"
        status = _e(row["status"])
        css = ' class="flag"' if row["status"] in ("new flag", "still flagged") else ""
        rows.append(
            f'<tr><td class="text">{_e(row["grouping"])}</td><td class="text">{_e(row["group"])}</td>'
            f'<td class="text">{_e(LABELS[row["metric"]])}</td><td class="text">{_e(row["outcome"])}</td>'
            f"<td>{_num(row['previous'], 'ratio')}</td><td>{_num(row['current'], 'ratio')}</td>"
            f"<td>{change}</td><td{css}>{status}</td></tr>"
        )
    out.append(
        _table(
            [
                "grouping",
                "group",
                "metric",
                "outcome",
                "ratio before",
                "ratio now",
                "change",
                "status",
            ],
            rows,
            text=4,
        )
    )
    return "\n".join(out)


def _suppressed(report: AuditReport) -> str:
    r = report.result
    m = r.settings.min_cell
    out = [t.SUPPRESSED_INTRO.substitute(m=m, population=_e(report.context.population))]
    for name, result in (("score", r), ("baseline", r.baseline)):
        if result is None:
            continue
        s = result.suppressed
        if s.empty:
            out.append(t.NOTHING_SUPPRESSED.substitute(name=name.capitalize()))
            continue
        groups = s[s["table"] == "groups"]
        small = set(zip(groups["grouping"], groups["group"], strict=True))
        rows = [
            f'<tr><td class="text">{_e(g)}</td><td class="text">{_e(x)}</td>'
            f'<td class="text">all figures</td><td class="text">{_e(_reason("group_size", report))}</td></tr>'
            for g, x in sorted(small)
        ]
        metrics = s[(s["table"] == "metrics")]
        metrics = metrics[
            [
                (g, x) not in small
                for g, x in zip(metrics["grouping"], metrics["group"], strict=True)
            ]
        ]
        for _, row in metrics.iterrows():
            what = COLUMN_NAMES.get(row["metric"], row["metric"]) + (
                "" if row["outcome"] in (ANY, RECORDED) else " (true)"
            )
            rows.append(
                f'<tr><td class="text">{_e(row["grouping"])}</td><td class="text">{_e(row["group"])}</td>'
                f'<td class="text">{_e(what)}</td><td class="text">{_e(_reason(row["reason"], report))}</td></tr>'
            )
        cal = s[s["table"] == "calibration"]
        out.append(f"<h3>{name.capitalize()}</h3>")
        out.append(_table(["grouping", "group", "suppressed", "why"], rows, text=4))
        if not cal.empty:
            counts = cal.groupby("grouping").size()
            listed = "; ".join(f"{_e(g)}: {n}" for g, n in counts.items())
            out.append(
                f"<p>Calibration cells suppressed (fewer than {m} in a group's score bin): {listed}. Ratios whose group or reference is suppressed are not shown either.</p>"
            )
    return "\n".join(out)


def _method(report: AuditReport) -> str:
    s = report.result.settings
    return t.METHOD.substitute(
        level=f"{s.level:.0%}",
        n_boot=f"{s.n_boot:,}",
        population=_e(report.context.population),
        cluster=f" (whole clusters of <code>{_e(s.cluster)}</code>)" if s.cluster else "",
        band=f"{s.tolerance[0]:g}&ndash;{s.tolerance[1]:g}",
    )


SECTION_BODIES = {
    "summary": _summary,
    "purpose": _purpose,
    "uses": _uses,
    "caveat": _caveat,
    "sizes": _sizes,
    "operating": _operating,
    "results": _results,
    "disparities": _disparities,
    "calibration": _calibration,
    "label_bias": _label_bias,
    "linkage": _linkage,
    "criterion": _criterion,
    "baseline": _baseline,
    "changes": _changes,
    "suppressed": _suppressed,
    "method": _method,
}


def render_html(report: AuditReport) -> str:
    """The self-contained HTML report: every section of :data:`templates.SECTIONS`."""
    r = report.result
    meta = (
        f"Score <code>{_e(r.score)}</code> &middot; outcome <code>{_e(r.label)}</code> &middot; "
        f"{r.n:,} {_e(report.context.population)} &middot; groupings: "
        f"{_e(', '.join(g.name for g in r.groupings))}"
    )
    return render_page(
        title=report.context.title,
        meta=meta,
        sections=[
            (key, heading, SECTION_BODIES[key](report)) for key, heading in t.SECTIONS.items()
        ],
        schema=SCHEMA,
        generated=report.generated_at,
        generator=report.generator,
    )
