"""The partnership overview as one self-contained HTML page, and as JSON.

:func:`render_overview_html` and :func:`render_overview_json` only display an
:class:`~governance.overview.Overview`: every number they show is a number the overview
holds, formatted by the ``fmt_*`` functions here. The page embeds its figures as base64 PNG
and its style inline (the fairness report's house style), so it opens offline; the service
serves the same string at ``/ui/overview``.
"""

from __future__ import annotations

import html
import json
from typing import Any

import pandas as pd

from fairness.page import render_page
from fairness.plots import data_uri
from fairness.policy import LABELS
from governance.overview_plots import trend_figure
from governance.overview_result import REASONS, SCHEMA, Overview

GROUPING_NAMES = {
    "area": "Area",
    "age_band": "Age band",
    "sex": "Sex",
    "ethnicity": "Ethnicity",
    "send": "SEND",
}
METRIC_NAMES = {**LABELS, "disproportionality": "disproportionality ratio"}

EXTRA_STYLE = """
tr.alert td, tr.alert th { background: #fbe3e4; }
tr.alert th { border-left: 5px solid #b2182b; color: #8b0000; }
tr.standing th { border-left: 5px solid #f0a500; }
td.marks { white-space: normal; min-width: 11rem; text-align: left; }
.mark { font-size: 0.8rem; font-weight: bold; }
.mark.alert { color: #8b0000; }
.mark.standing { color: #5c4300; }
ul.alerts li { color: #8b0000; margin-bottom: 0.4rem; }
td.suppressed { color: #595959; }
.soft { background: #fff8e1; border-left: 5px solid #f0a500; padding: 0.6rem 1rem; }
caption { text-align: left; font-weight: bold; padding: 0.3rem 0; }
details { margin: 0.6rem 0 1.2rem; }
summary { cursor: pointer; }
"""

STANDING_CAVEAT = (
    "A standing difference is not by itself evidence of bias. Where a group's recorded "
    "outcomes are more frequent, a model that follows them flags the group more often, so "
    "each row shows the group's recorded base-rate ratio beside its disproportionality "
    "ratio. Flags well above the recorded outcomes ask why the model singles the group out; "
    "flags that follow the recorded outcomes still leave open whether the records themselves "
    "are even-handed, which only a comparison with what happened (the fairness audit, where "
    "it had true outcomes) or an independent source can show."
)

ADVISORY = (
    "Lantern's prompts are advisory: a flag starts a professional conversation and never "
    "decides anything about a child. This overview is for analysts and the ethics board, to "
    "see who the prompts reach and to query any difference between groups of children."
)

RECORDED_CAVEAT = (
    "Outcomes here are what agencies recorded, which is not the same as what happened: a "
    "group that is watched more is recorded more for the same behaviour. Every snapshot is "
    "scored by today's model, so a change over time comes from the children's records, not "
    "from a change of model; snapshots the model was trained on are scored too."
)


# --------------------------------------------------------------------------- formatting


def fmt_count(value: Any) -> str:
    """A whole number with thousands separators."""
    return f"{int(value):,}"


def fmt_rate(value: Any) -> str:
    """A rate or share as a percentage to one decimal place."""
    return f"{100 * float(value):.1f}%"


def fmt_ratio(value: Any) -> str:
    """A ratio to two decimal places."""
    return f"{float(value):.2f}"


def fmt_percent(value: Any) -> str:
    """A setting given as a share (a level, a capacity) as a plain percentage."""
    return f"{100 * float(value):g}%"


def fmt_date(value: Any) -> str:
    """A date as YYYY-MM-DD."""
    return f"{pd.Timestamp(value):%Y-%m-%d}"


def fmt_capacity(value: Any) -> str:
    """A team's capacity: a share of the cohort or a number of children."""
    value = float(value)
    return f"the {fmt_percent(value) if value < 1 else fmt_count(value)} highest-scored"


def _missing(value: Any) -> bool:
    """Whether a scalar is missing (None, NaN, NA, NaT)."""
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or tuple is a value
        return False


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _band(overview: Overview) -> str:
    lo, hi = overview.settings.tolerance
    return f"{lo:g}&ndash;{hi:g}"


def _level(overview: Overview) -> str:
    return fmt_percent(overview.settings.level)


def _reason(code: Any, overview: Overview) -> str:
    return REASONS.get(str(code), "suppressed").format(m=overview.settings.min_cell)


def _absent(code: Any, overview: Overview) -> str:
    word = "not yet known" if code == "not_yet_known" else "suppressed"
    return f'<td class="suppressed" title="{_e(_reason(code, overview))}">{word}</td>'


def _interval(value: Any, low: Any, high: Any) -> str:
    if _missing(low) or _missing(high):
        return fmt_ratio(value)
    return (
        f'{fmt_ratio(value)} <span class="small">({fmt_ratio(low)}&ndash;{fmt_ratio(high)})</span>'
    )


def _table(caption: str, head: list[str], rows: list[str], text: int = 1) -> str:
    """A table with a caption; the first ``text`` columns hold words, the rest numbers."""
    cells = "".join(
        f'<th scope="col" class="text">{_e(h)}</th>'
        if i < text
        else f'<th scope="col">{_e(h)}</th>'
        for i, h in enumerate(head)
    )
    return (
        f'<div class="scroll"><table><caption>{_e(caption)}</caption><thead><tr>{cells}</tr>'
        f"</thead><tbody>{''.join(rows)}</tbody></table></div>"
    )


def _where(name: str, grouping: str, group: str) -> str:
    return f"{name} &middot; {_e(GROUPING_NAMES.get(grouping, grouping))} = {_e(group)}"


# --------------------------------------------------------------------------- sentences


def _times(row: pd.Series, overview: Overview, of: str = "") -> str:
    """A ratio row in words: 1.66 times White's (95% interval 1.52-1.84)."""
    of = f" {_e(of)}'s" if of else ""
    if _missing(row["low"]) or _missing(row["high"]):
        return f"{fmt_ratio(row['ratio'])} times{of}"
    return (
        f"{fmt_ratio(row['ratio'])} times{of} ({_level(overview)} interval "
        f"{fmt_ratio(row['low'])}&ndash;{fmt_ratio(row['high'])})"
    )


def _verdict_sentence(row: pd.Series, overview: Overview) -> str:
    info = overview.models.set_index("model").loc[row["model"]]
    policy = ", ".join(METRIC_NAMES.get(m, m) for m in info["audit_policy"])
    reasons = "; ".join(info["audit_reasons"])
    return (
        f"{_e(row['model'])}: the champion's latest fairness audit did not pass its fairness "
        f"policy ({_e(policy)}): {_e(reasons)}. See the model's audit below."
    )


def _change_sentence(row: pd.Series, overview: Overview) -> str:
    model = overview.models.set_index("model").loc[row["model"]]
    verb = "rose" if row["direction"] == "rise" else "fell"
    return (
        f"{_where(row['model'], row['grouping'], row['group'])}: the disproportionality ratio "
        f"{verb} from {fmt_ratio(row['ratio_then'])} on {fmt_date(row['since'])} to "
        f"{fmt_ratio(row['ratio_now'])} on {fmt_date(model['latest_snapshot'])} "
        f"({fmt_count(row['quarters_back'])} quarters), a change of {_times(row, overview)}, "
        f"wholly outside the band {_band(overview)}. Someone should ask why."
    )


def _audit_sentence(row: pd.Series, overview: Overview) -> str:
    side = "above" if row["direction"] == "above" else "below"
    where = _where(row["model"], row["grouping"], row["group"])
    ratio = _times(row, overview, row["reference"])
    if row["metric"] == "recording_ratio":
        meaning = "over-state" if side == "above" else "under-state"
        return (
            f"{where}: the champion's fairness audit compared the records with what happened "
            f"and found this group's recorded-to-true base rate {ratio}, wholly {side} the band "
            f"{_band(overview)}. The records {meaning} this group's outcomes, and a model "
            "trained on them carries that forward."
        )
    outcome = "" if row["outcome"] in ("any", "recorded") else f" ({_e(row['outcome'])} outcome)"
    return (
        f"{where}: the champion's fairness audit found the "
        f"{_e(METRIC_NAMES[row['metric']])}{outcome} {ratio}, wholly {side} the band "
        f"{_band(overview)}, which its fairness policy does not allow."
    )


def _ratio_cells(row: pd.Series, value: str, low: str, high: str) -> str:
    if _missing(row[value]):
        return "<td>n/a</td>"
    return f"<td>{_interval(row[value], row[low], row[high])}</td>"


# --------------------------------------------------------------------------- sections


def _alerts(overview: Overview) -> str:
    h = overview.highlights
    alerts = h[h["alert"]]
    out = [f"<p>{_e(ADVISORY)}</p>"]
    if alerts.empty:
        out.append(
            f"<p><strong>No alerts.</strong> No group's disproportionality ratio moved beyond "
            f"the band {_band(overview)} over the trend window, and no champion's fairness audit "
            "failed its policy or flagged a recording disparity.</p>"
        )
    else:
        sentence = {
            "verdict": _verdict_sentence,
            "change": _change_sentence,
            "audit": _audit_sentence,
        }
        items = "".join(
            f"<li>{sentence[row['kind']](row, overview)}</li>" for _, row in alerts.iterrows()
        )
        out.append(
            "<p><strong>These need a query.</strong> Each is marked in the tables below.</p>"
            f'<ul class="alerts">{items}</ul>'
        )
    for note in overview.notes:
        out.append(f'<p class="callout">{_e(note)}</p>')
    return "\n".join(out)


def _standing(overview: Overview) -> str:
    h = overview.highlights
    rows = h[h["kind"] == "standing"]
    out = [f'<p class="soft">{_e(STANDING_CAVEAT)}</p>']
    if rows.empty:
        out.append(
            "<p>At the latest snapshot no group's disproportionality ratio has its whole "
            f"interval outside the band {_band(overview)}.</p>"
        )
        return "\n".join(out)
    body = []
    for _, r in rows.iterrows():
        when = "" if _missing(r["base_rate_date"]) else fmt_date(r["base_rate_date"])
        body.append(
            f'<tr class="standing" data-model="{_e(r["model"])}" '
            f'data-grouping="{_e(r["grouping"])}" data-group="{_e(r["group"])}">'
            f'<th scope="row" class="text">{_e(r["model"])}</th>'
            f'<td class="text">{_e(GROUPING_NAMES.get(r["grouping"], r["grouping"]))}</td>'
            f'<td class="text">{_e(r["group"])}</td><td class="text">{_e(r["direction"])}</td>'
            + _ratio_cells(r, "ratio", "low", "high")
            + _ratio_cells(r, "base_rate_ratio", "base_rate_low", "base_rate_high")
            + f'<td class="text">{when}</td></tr>'
        )
    out.append(
        f"<p>Groups flagged more or less often than their share of children, with the whole "
        f"{_level(overview)} interval outside the band {_band(overview)}, at the latest "
        "snapshot. n/a: the recorded base rate is suppressed or not yet known.</p>"
    )
    out.append(
        _table(
            "Standing differences at the latest snapshot, beside the recorded outcomes",
            [
                "model",
                "grouping",
                "group",
                "side of the band",
                f"disproportionality ({_level(overview)} interval)",
                f"recorded base-rate ratio ({_level(overview)} interval)",
                "outcomes known on",
            ],
            body,
            text=4,
        )
    )
    return "\n".join(out)


def _marks(overview: Overview, model: str) -> dict[tuple[str, str], list[tuple[str, str]]]:
    """(grouping, group) -> [(css, words)] of every highlight of ``model``."""
    found: dict[tuple[str, str], list[tuple[str, str]]] = {}
    h = overview.highlights
    for _, row in h[(h["model"] == model) & (h["kind"] != "verdict")].iterrows():
        if row["kind"] == "change":
            mark = ("alert", f"alert: change since {fmt_date(row['since'])}")
        elif row["kind"] == "audit":
            if not row["alert"]:
                continue  # listed under the model's audit, not marked in the tables
            what = (
                "recording disparity" if row["metric"] == "recording_ratio" else "fairness policy"
            )
            mark = ("alert", f"alert: {what} (audit)")
        else:
            mark = ("standing", "standing difference")
        found.setdefault((row["grouping"], row["group"]), []).append(mark)
    return found


def _snapshots(overview: Overview, model: str) -> str:
    s = overview.snapshots[overview.snapshots["model"] == model]
    info = overview.models.set_index("model").loc[model]
    rows = []
    for _, r in s.iterrows():
        base = (
            _absent("not_yet_known", overview)
            if _missing(r["base_rate"])
            else f"<td>{fmt_rate(r['base_rate'])}</td>"
        )
        rows.append(
            f'<tr><th scope="row" class="text">{fmt_date(r["snapshot_date"])}</th>'
            f"<td>{fmt_count(r['children'])}</td><td>{fmt_count(r['flagged'])}</td>"
            f"<td>{fmt_rate(r['share_flagged'])}</td><td>{fmt_count(r['labelled'])}</td>{base}</tr>"
        )
    intro = (
        f"<p>Scored by {_e(info['source'] or model)}. At each snapshot the team's capacity, "
        f"{fmt_capacity(info['capacity'])} children of the cohort, are flagged.</p>"
    )
    return intro + _table(
        f"{model}: children flagged at the team's capacity, per snapshot",
        ["snapshot", "children", "flagged", "share flagged", "outcome known", "recorded base rate"],
        rows,
    )


def _audit(overview: Overview, model: str) -> str:
    info = overview.models.set_index("model").loc[model]
    if _missing(info["audit_generated_at"]):
        return "<p>No fairness audit of this model was found: run <code>lantern audit</code>.</p>"
    passed = info["audit_passed"]
    word = "no verdict" if _missing(passed) else ("PASSED" if passed else "FAILED")
    css = "none" if _missing(passed) else ("passed" if passed else "failed")
    reasons = "".join(f"<li>{_e(r)}</li>" for r in info["audit_reasons"])
    policy = ", ".join(METRIC_NAMES.get(m, m) for m in info["audit_policy"])
    out = [
        f"<p>From the champion's latest fairness audit, <em>{_e(info['audit_title'])}</em>, "
        f"written {_e(info['audit_generated_at'])}"
        + (f" ({_e(info['audit_source'])})" if not _missing(info["audit_source"]) else "")
        + ". The full report is <code>fairness/fairness.html</code> in the champion's MLflow "
        "run.</p>",
        f'<div class="verdict {css}"><strong>Fairness policy ({_e(policy or "none")}): '
        f"{word}.</strong><ul>{reasons}</ul></div>",
    ]
    a = overview.audit[overview.audit["model"] == model]
    if not info["audit_true_outcomes"]:
        out.append(
            "<p>The audit had no true outcomes (only synthetic data has them), so it cannot "
            "say whether the records themselves are even-handed.</p>"
        )
    else:
        # Single groupings in full; intersections where the audit flagged them.
        recording = a[(a["kind"] == "recording") & (~a["grouping"].str.contains("×") | a["flag"])]
        n = info["audit_recording_n"]
        measured = "" if _missing(n) else f", measured on {fmt_count(n)} labelled child-snapshots"
        out.append(
            "<p>Recording disparity: each group's recorded base rate over its true one, against "
            f"the reference group's{measured}. A ratio of one means the records treat the group as they treat "
            "the reference group. Intersections are listed where flagged; all are in the "
            "JSON.</p>"
        )
        out.append(_audit_table(overview, recording, f"{model}: recording disparity by group"))
    other = a[(a["kind"] != "recording") & a["flag"]]
    if not other.empty:
        out.append(
            "<details><summary>Other ratios the audit flagged</summary><p>Ratios the fairness policy checks are "
            "alerts; the others describe, on the audit's held-out children, the same "
            "differences as the tables below (who is flagged, who has a recorded outcome): "
            "read them with the caveat on recorded outcomes.</p>"
            + _audit_table(overview, other, f"{model}: other ratios the fairness audit flagged")
            + "</details>"
        )
    return "\n".join(out)


def _audit_table(overview: Overview, rows: pd.DataFrame, caption: str) -> str:
    body = []
    for _, r in rows.iterrows():
        css = ' class="alert"' if r["alert"] else ""
        if r["suppressed"] or _missing(r["ratio"]):
            cell = _absent(r["reason"] if not _missing(r["reason"]) else "group_size", overview)
        else:
            cell = f"<td>{_interval(r['ratio'], r['low'], r['high'])}</td>"
        outcome = "" if r["outcome"] in ("any", "recorded") else f" ({r['outcome']} outcome)"
        flag = "ALERT" if r["alert"] else ("flagged" if r["flag"] else "")
        body.append(
            f'<tr{css}><th scope="row" class="text">{_e(r["grouping"])}</th>'
            f'<td class="text">{_e(r["group"])}</td><td class="text">{_e(r["reference"])}</td>'
            f'<td class="text">{_e(METRIC_NAMES.get(r["metric"], r["metric"]) + outcome)}</td>'
            f'{cell}<td class="text">{flag}</td></tr>'
        )
    head = ["grouping", "group", "reference", "ratio of", f"ratio ({_level(overview)} interval)"]
    return _table(caption, [*head, "flag"], body, text=4)


def _latest_table(
    overview: Overview, model: str, grouping: str, marks: dict[tuple[str, str], list]
) -> str:
    info = overview.models.set_index("model").loc[model]
    latest, known = info["latest_snapshot"], info["latest_known"]
    g = overview.groups
    g = g[(g["model"] == model) & (g["grouping"] == grouping)]
    now = g[g["snapshot_date"] == latest]
    base = g[g["snapshot_date"] == known].set_index("group") if not _missing(known) else None
    c = overview.changes
    c = c[(c["model"] == model) & (c["grouping"] == grouping)]
    lags = list(overview.settings.lags)
    changes = {(r["group"], r["quarters_back"]): r for _, r in c.iterrows()}
    if grouping == "area":
        now = now[now["flag_reason"].isna()]
    head = ["group", "children", "share of children", "flagged", "share of flagged"]
    head += [f"disproportionality ({_level(overview)} interval)"]
    since = {q: c.loc[c["quarters_back"] == q, "since"] for q in lags}
    head += [
        f"change since {fmt_date(since[q].iloc[0])}" if len(since[q]) else f"change, {q} quarters"
        for q in lags
    ]
    known_text = "not yet known" if _missing(known) else fmt_date(known)
    head += [f"recorded base rate ({known_text})", "base-rate ratio", "marked"]
    rows = []
    for _, r in now.iterrows():
        group = r["group"]
        found = marks.get((grouping, group), [])
        css = "alert" if any(m[0] == "alert" for m in found) else ("standing" if found else "")
        attrs = (
            f' class="{css}"' if css else ""
        ) + f' data-model="{_e(model)}" data-grouping="{_e(grouping)}" data-group="{_e(group)}"'
        if r["suppressed"]:
            cells = "".join(_absent("group_size", overview) for _ in head[1:-1])
        else:
            cells = f"<td>{fmt_count(r['n'])}</td><td>{fmt_rate(r['population_share'])}</td>"
            if _missing(r["flag_reason"]):
                cells += (
                    f"<td>{fmt_count(r['flagged'])}</td><td>{fmt_rate(r['flagged_share'])}</td>"
                    f"<td>{_interval(r['ratio'], r['ratio_low'], r['ratio_high'])}</td>"
                )
            else:
                cells += "".join(_absent(r["flag_reason"], overview) for _ in range(3))
            for q in lags:
                ch = changes.get((group, q))
                if ch is None or not _missing(ch["reason"]):
                    cells += _absent(None if ch is None else ch["reason"], overview)
                else:
                    text = _interval(ch["change"], ch["low"], ch["high"])
                    cells += (
                        f'<td class="flag">{text} ALERT</td>'
                        if ch["highlight"]
                        else f"<td>{text}</td>"
                    )
            b = None if base is None or group not in base.index else base.loc[group]
            if b is None:
                cells += _absent("not_yet_known", overview) * 2
            elif not _missing(b["base_reason"]):
                cells += _absent(b["base_reason"], overview) * 2
            else:
                cells += (
                    f"<td>{fmt_rate(b['base_rate'])}</td>"
                    f"<td>{_interval(b['base_rate_ratio'], b['base_rate_low'], b['base_rate_high'])}</td>"
                )
        words = "; ".join(dict.fromkeys(w for _, w in found))
        mark = f'<span class="mark {css}">{_e(words)}</span>' if words else ""
        rows.append(
            f'<tr{attrs}><th scope="row" class="text">{_e(group)}</th>{cells}'
            f'<td class="marks">{mark}</td></tr>'
        )
    caption = (
        f"{model}: {GROUPING_NAMES[grouping].lower()} groups at the latest snapshot, "
        f"{fmt_date(latest)}"
    )
    return _table(caption, head, rows, text=1)


def _trend_figure(overview: Overview, model: str, grouping: str) -> str:
    g = overview.groups
    lo, hi = overview.settings.tolerance
    name = GROUPING_NAMES[grouping].lower()
    fig = trend_figure(
        g[(g["model"] == model) & (g["grouping"] == grouping)],
        tolerance=overview.settings.tolerance,
        title=f"{model}: disproportionality by {name}",
        date_label=fmt_date,
    )
    alt = (
        f"{model}: disproportionality ratio of each {name} group at "
        f"each snapshot, with {_level(overview)} intervals, against the band {lo:g} to {hi:g}; "
        "suppressed figures are not drawn. The figures are in the tables beside it."
    )
    return f'<img src="{data_uri(fig)}" alt="{_e(alt)}">'


def _trend_tables(overview: Overview, model: str, grouping: str) -> str:
    g = overview.groups
    g = g[(g["model"] == model) & (g["grouping"] == grouping)]
    dates = sorted(g["snapshot_date"].unique())
    groups = list(dict.fromkeys(g["group"]))
    at = g.set_index(["group", "snapshot_date"])
    out = []
    for title, value, fmt, reason in (
        ("disproportionality ratio", "ratio", fmt_ratio, "flag_reason"),
        ("flag rate", "flag_rate", fmt_rate, "flag_reason"),
        ("recorded base rate", "base_rate", fmt_rate, "base_reason"),
    ):
        rows = []
        for group in groups:
            cells = ""
            for d in dates:
                if (group, d) not in at.index:
                    cells += _absent("group_size", overview)
                    continue
                r = at.loc[(group, d)]
                if r["suppressed"]:
                    cells += _absent("group_size", overview)
                elif not _missing(r[reason]):
                    cells += _absent(r[reason], overview)
                else:
                    cells += f"<td>{fmt(r[value])}</td>"
            rows.append(f'<tr><th scope="row" class="text">{_e(group)}</th>{cells}</tr>')
        out.append(
            _table(
                f"{model}: {title} by {GROUPING_NAMES[grouping].lower()} and snapshot",
                ["group", *[fmt_date(d) for d in dates]],
                rows,
            )
        )
    return (
        "<details><summary>Trend tables: each group at each snapshot</summary>"
        + "".join(out)
        + "</details>"
    )


def _grouping_section(
    overview: Overview, model: str, grouping: str, marks: dict[tuple[str, str], list]
) -> str:
    name = GROUPING_NAMES[grouping]
    out = [f'<h3 id="{_e(model)}-{grouping}">{_e(name)}</h3>']
    if grouping == "area":
        s = overview.suppression
        s = s[(s["model"] == model) & (s["grouping"] == grouping)].iloc[0]
        out.append(
            f"<p>{fmt_count(s['flag_cells_suppressed'])} of {fmt_count(s['groups'])} areas have "
            f"fewer than {fmt_count(overview.settings.min_cell)} children flagged at the latest "
            "snapshot; their figures are suppressed and they are left out of this table (the "
            "JSON lists every area, suppressed figures empty). Area trends are in the JSON.</p>"
        )
        out.append(_latest_table(overview, model, grouping, marks))
        return "\n".join(out)
    out.append(_latest_table(overview, model, grouping, marks))
    out.append(_trend_figure(overview, model, grouping))
    out.append(_trend_tables(overview, model, grouping))
    return "\n".join(out)


def _model_section(overview: Overview, model: str) -> str:
    groupings = list(dict.fromkeys(overview.groups["grouping"]))
    marks = _marks(overview, model)
    parts = [
        f'<h3 id="{_e(model)}-snapshots">Flagged at the team\'s capacity</h3>',
        _snapshots(overview, model),
        f'<h3 id="{_e(model)}-audit">Fairness audit of the champion</h3>',
        _audit(overview, model),
        *[_grouping_section(overview, model, g, marks) for g in groupings],
    ]
    return "\n".join(parts)


def _suppressed(overview: Overview) -> str:
    m = fmt_count(overview.settings.min_cell)
    rows = []
    for _, r in overview.suppression.iterrows():
        known = "" if _missing(r["known_date"]) else fmt_date(r["known_date"])
        rows.append(
            f'<tr><th scope="row" class="text">{_e(r["model"])}</th>'
            f'<td class="text">{_e(GROUPING_NAMES[r["grouping"]])}</td>'
            f"<td>{fmt_count(r['groups'])}</td><td>{fmt_count(r['groups_suppressed'])}</td>"
            f"<td>{fmt_count(r['flag_cells_suppressed'])}</td>"
            f'<td class="text">{known}</td><td>{fmt_count(r["base_cells_suppressed"])}</td></tr>'
        )
    return (
        f"<p>As official statistics do, any figure resting on fewer than {m} children is "
        f"suppressed: a group of fewer than {m} shows nothing but its name; its flags, flag rate "
        f"and disproportionality need {m} flagged, and its recorded base rate {m} with the "
        "outcome. Suppressed figures are absent from this page and empty in the JSON, not "
        "hidden. Suppression is primary only. Where the outcome window has not closed yet the "
        "base rate is shown as not yet known.</p>"
        + _table(
            "Groups and cells suppressed at the latest snapshot (base rates: the latest snapshot "
            "with known outcomes)",
            [
                "model",
                "grouping",
                "groups",
                "groups suppressed",
                "flag figures suppressed",
                "outcomes known on",
                "base rates suppressed",
            ],
            rows,
            text=2,
        )
    )


def _method(overview: Overview) -> str:
    s = overview.settings
    lags = " and ".join(fmt_count(q) for q in s.lags)
    return f"""<p>At each snapshot each model scores every child in the cohort and the team's
capacity of the highest-scored children is flagged (children tied at the cut are chosen at
random). A group's <strong>disproportionality ratio</strong> is its share of the flagged
children over its share of the cohort: a ratio of one means it is flagged as often as children
overall, two that it is flagged twice as often. Its {_level(overview)} interval is the Wilson interval of the group's flag
rate, divided by the cohort's flag rate (which the capacity fixes). The <strong>recorded
base-rate ratio</strong> is the same ratio for recorded outcomes, at snapshots whose outcome
window has closed.</p>
<p>The trend window is the {fmt_count(s.quarters)} quarters before the latest snapshot. A
<strong>change</strong> compares the latest ratio with the ratio {lags} quarters before;
its interval treats the two snapshots as independent, which overstates the spread because
the same children recur, so the interval is cautious. A change is an alert when its whole
interval lies outside the band {_band(overview)}: the group's place among the flagged has
moved further than the tolerance allows, and someone should ask why.</p>
<p>A <strong>standing difference</strong> is a latest ratio whose whole interval lies
outside the band. It is shown, in a softer style, with the recorded base-rate ratio beside
it; it is not by itself evidence of bias.</p>
<p>The <strong>fairness audit</strong> rows come from each champion's latest audit, on its
held-out children. A flagged recording disparity (records that over- or under-state a
group's outcomes compared with what happened; only an audit with true outcomes can see it)
and a flag the audit's fairness policy checks are alerts; other flagged ratios are listed
under the model.</p>
<p>{_e(RECORDED_CAVEAT)}</p>"""


def _sections(overview: Overview) -> list[tuple[str, str, str]]:
    sections = [
        ("alerts", "What needs a query", _alerts(overview)),
        ("standing", "Standing differences", _standing(overview)),
    ]
    for model in overview.models["model"]:
        sections.append((f"model-{model}", f"Model: {model}", _model_section(overview, model)))
    sections += [
        ("suppressed", "Suppressed cells", _suppressed(overview)),
        ("method", "How the numbers were made", _method(overview)),
    ]
    return sections


TITLE = "Partnership overview"


def render_overview_html(overview: Overview) -> str:
    """The overview as one self-contained HTML page (also served at ``/ui/overview``)."""
    m = overview.models
    meta = (
        f"Snapshots from {fmt_date(m['first_snapshot'].min())} to "
        f"{fmt_date(m['latest_snapshot'].max())} &middot; models: "
        f"{_e(', '.join(m['model']))} &middot; band {_band(overview)} &middot; cells under "
        f"{fmt_count(overview.settings.min_cell)} children suppressed"
    )
    return render_page(
        title=TITLE,
        meta=meta,
        sections=_sections(overview),
        schema=SCHEMA,
        generated=overview.generated_at,
        generator=overview.generator,
        extra_style=EXTRA_STYLE,
    )


def render_overview_json(overview: Overview) -> str:
    """The overview as JSON text (schema ``lantern.overview/1``; missing numbers are null)."""
    return json.dumps(overview.to_dict(), indent=1, ensure_ascii=False, allow_nan=False)
