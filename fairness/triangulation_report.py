"""The label-bias check as a board reads it: sentences, a table, and a self-contained page.

Renders :class:`fairness.triangulation.Triangulation` results; computes nothing.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from pathlib import Path

import pandas as pd

from fairness.templates import STYLE
from fairness.triangulation import Triangulation


def _e(text) -> str:
    return html.escape(str(text))


def _interval(value: float, low: float, high: float) -> str:
    if pd.isna(value):
        return "–"
    if pd.isna(low) or pd.isna(high):
        return f"{value:.2f}"
    return f"{value:.2f} ({low:.2f}–{high:.2f})"


def finding(result: Triangulation) -> str:
    """One sentence: what the comparison found, for the console and the page's lead."""
    pair = result.pair
    flagged = result.flagged()
    if flagged.empty:
        judged = result.rows[result.rows["judged"]]
        least = judged["detectable"].max() if len(judged) else float("nan")
        seen = (
            f"; at these numbers a disparity of about {least:.2f} or more would have been "
            "seen in every group judged"
            if pd.notna(least)
            else ""
        )
        return (
            f"{pair.name}: no group's ratio of {pair.numerator} to {pair.denominator} lies "
            f"wholly outside {result.band[0]:g}–{result.band[1]:g} of its reference group's"
            f"{seen}."
        )
    parts = [
        f"{r.grouping} {r.group} {_interval(r.disparity, r.low, r.high)} times {r.reference}"
        for r in flagged.itertuples(index=False)
    ]
    return (
        f"{pair.name}: FLAG — the ratio of {pair.numerator} to {pair.denominator} differs "
        f"from the reference group's for {len(parts)} group(s): " + "; ".join(parts) + "."
    )


def _table(result: Triangulation) -> str:
    head = [
        "grouping",
        "group",
        "people",
        result.pair.numerator,
        result.pair.denominator,
        "ratio",
        "disparity vs reference",
        "smallest disparity it could show",
        "",
    ]
    rows = []
    for r in result.rows.itertuples(index=False):
        css = ' class="reference"' if r.note == "reference group" else ""
        flag = ' class="flag"' if r.flag else ""
        note = "FLAG" if r.flag else r.note
        rows.append(
            f"<tr{css}><td class='text'>{_e(r.grouping)}</td><td class='text'>{_e(r.group)}</td>"
            f"<td>{r.people:,}</td><td>{r.numerator:,}</td>"
            f"<td>{r.denominator:,}</td>"
            f"<td>{_interval(r.ratio, r.ratio_low, r.ratio_high)}</td>"
            f"<td{flag}>{_interval(r.disparity, r.low, r.high)}</td>"
            f"<td>{'' if pd.isna(r.detectable) else f'{r.detectable:.2f}'}</td>"
            f"<td class='text'>{_e(note)}</td></tr>"
        )
    cells = "".join(f"<th>{_e(h)}</th>" for h in head)
    return (
        f"<div class='scroll'><table><thead><tr>{cells}</tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table></div>"
    )


def section(result: Triangulation, level: int = 2) -> str:
    """One comparison's HTML: the finding, what it assumes, the table, how it was made
    (under an ``h{level}`` heading)."""
    pair = result.pair
    window = f" Records from {result.window[0]} to {result.window[1]}." if result.window else ""
    return (
        f"<h{level} id='{_e(pair.name)}'>{_e(pair.numerator)} against "
        f"{_e(pair.denominator)}</h{level}>"
        f"<p class='callout'>{_e(finding(result))}</p>"
        f"<p><strong>What this assumes.</strong> {_e(pair.assumes)}</p>"
        f"{_table(result)}"
        f"<p class='small'>Ratio: {_e(pair.numerator)} per {_e(pair.denominator)}, counting "
        f"records.{_e(window)} Intervals are 95% percentile intervals from "
        f"{result.n_boot:,} bootstrap replicates resampling whole children within their group. "
        f"A group is judged when each side has at least {result.min_events} records, observed "
        "and expected at the reference group's ratio, and flagged when its disparity's "
        f"interval lies wholly outside {result.band[0]:g}–{result.band[1]:g}. The last "
        "column is the smallest disparity above the band whose interval, as wide as this "
        "group's, would lie wholly above it: a smaller recording difference could be there "
        "unseen.</p>"
    )


def render_page(results: Sequence[Triangulation], *, title: str, source: str) -> str:
    """A self-contained HTML page of every comparison (no scripts, no external files)."""
    body = "".join(section(r) for r in results) or "<p>This outcome has no cross-checks.</p>"
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{_e(title)}</h1><p class='meta'>{_e(source)}</p>"
        "<p>Two agencies record the same harm under different practices. Where the ratio of "
        "their records differs between groups, one agency records that group differently: "
        "the recorded outcome a model learns from carries that difference. This check reads "
        "recorded data only; it needs no true outcomes and no model.</p>"
        f"{body}</body></html>"
    )


SCHEMA = "lantern.label_bias/1"


def to_document(results: Sequence[Triangulation], *, outcome: str, source: str) -> dict:
    """The JSON document of a label-bias check (schema :data:`SCHEMA`)."""
    return {
        "schema": SCHEMA,
        "outcome": outcome,
        "source": source,
        "findings": [finding(r) for r in results],
        "checks": [r.to_dict() for r in results],
    }


def write_label_bias(
    results: Sequence[Triangulation], folder: Path, *, outcome: str, source: str
) -> tuple[Path, Path]:
    """Write ``label_bias.json`` and ``label_bias.html`` into ``folder``; return both paths.

    Both are written to temporary names first and renamed, so a failure leaves neither
    half-written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    doc = json.dumps(to_document(results, outcome=outcome, source=source), indent=2)
    page = render_page(results, title=f"Label-bias check: {outcome}", source=source)
    paths = (folder / "label_bias.json", folder / "label_bias.html")
    temps = [p.with_name(f".{p.name}.tmp") for p in paths]
    try:
        for temp, text in zip(temps, (doc, page), strict=True):
            temp.write_text(text, encoding="utf-8")
        for temp, path in zip(temps, paths, strict=True):
            temp.replace(path)
    finally:
        for temp in temps:
            temp.unlink(missing_ok=True)
    return paths
