"""The linkage report: :class:`linkage.quality.LinkageQuality` as HTML that opens offline.

It renders the result object and computes nothing.
"""

from __future__ import annotations

import html

import pandas as pd

from linkage.quality import LinkageQuality, flagged

STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222; }
table { border-collapse: collapse; margin: 0.5rem 0 1.5rem; }
th, td { border: 1px solid #ccc; padding: 0.2rem 0.5rem; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
.bar { background: #4a6fa5; height: 0.8rem; display: inline-block; }
.note { color: #555; }
"""


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def _table(frame: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in frame.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
        for row in frame.itertuples(index=False)
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def render_html(quality: LinkageQuality, *, threshold: float, seconds: dict | None = None) -> str:
    """The report page."""
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Linkage report</title><style>{STYLE}</style></head><body>",
        "<h1>Linkage report</h1>",
        f"<p>{quality.records:,} agency records linked into {quality.children:,} children "
        f"(a pair is a link at a match probability of {threshold} or more; a shared UPN or "
        "NHS number with a compatible year of birth always is).</p>",
    ]
    if quality.truth:
        t = quality.truth
        parts += [
            "<h2>Against the ground truth</h2>",
            "<p class='note'>A synthetic partnership's truth of who is who. A false match puts "
            "another child's records behind a prompt; a missed match scatters a child's "
            "records, so the child looks less known to services than they are.</p>",
            _table(
                pd.DataFrame(
                    [
                        {
                            "pairwise precision": f"{t['precision']:.4f}",
                            "pairwise recall": f"{t['recall']:.4f}",
                            "F1": f"{t['f1']:.4f}",
                            "cluster purity": f"{t['purity']:.4f}",
                            "records missing a match": f"{_pct(t['missed'])} ({_pct(t['missed_low'])}"
                            f"-{_pct(t['missed_high'])})",
                            "records falsely matched": f"{_pct(t['false'])} ({_pct(t['false_low'])}"
                            f"-{_pct(t['false_high'])})",
                        }
                    ]
                )
            ),
        ]
    if quality.by_group is not None and len(quality.by_group):
        g = quality.by_group
        shown = pd.DataFrame({
            "group": g["group"], "value": g["value"], "records": g["records"],
            "precision": g["precision"].map("{:.4f}".format),
            "recall": g["recall"].map("{:.4f}".format), "F1": g["f1"].map("{:.4f}".format),
            "missed (95% interval)": [f"{_pct(m)} ({_pct(lo)}-{_pct(hi)})" for m, lo, hi in
                                      zip(g["missed"], g["missed_low"], g["missed_high"],
                                          strict=True)],
            "false (95% interval)": [f"{_pct(m)} ({_pct(lo)}-{_pct(hi)})" for m, lo, hi in
                                     zip(g["false"], g["false_low"], g["false_high"],
                                         strict=True)],
        })  # fmt: skip
        shown["flag"] = [
            ", ".join(
                f"{rate} more often than the rest"
                for rate in ("missed", "false")
                if getattr(r, f"{rate}_flag")
            )
            for r in g.itertuples()
        ]
        flags = flagged(g)
        said = (
            "<p><strong>Flagged</strong> (a rate whose interval lies wholly above the rest of "
            f"its grouping's): {html.escape('; '.join(flags))}.</p>"
            if flags
            else "<p>No group is flagged: no group's missed or false match rate lies wholly "
            "above the rest of its grouping's.</p>"
        )
        parts += ["<h3>By group (the child's true group)</h3>", said, _table(shown)]
    links = quality.agency_links.map(lambda v: "" if pd.isna(v) else _pct(v))
    links.insert(0, "records of", links.index)
    parts += [
        "<h2>Links between agencies</h2>",
        "<p class='note'>Of each row agency's records, the share whose child also has a record "
        "with the column agency.</p>",
        _table(links),
    ]
    alone = quality.unlinked
    overall = alone[alone["agency"] == "all"]
    by_agency = alone[(alone["agency"] != "all") & (alone["group"] == "ethnicity")]
    fmt = lambda f: pd.DataFrame({  # noqa: E731
        "agency": f["agency"], "group": f["group"], "value": f["value"], "records": f["records"],
        "linked to no other record": [f"{_pct(r)} ({_pct(lo)}-{_pct(hi)})" for r, lo, hi in
                                      zip(f["rate"], f["low"], f["high"], strict=True)],
    })  # fmt: skip
    parts += [
        "<h2>Records linked to no other record</h2>",
        "<p class='note'>By the linked child's group; on real data this is the check that "
        "needs no ground truth. A child known to one agency only is alone rightly.</p>",
        _table(fmt(overall)),
        "<h3>By agency and ethnicity</h3>",
        _table(fmt(by_agency)),
    ]
    w = quality.weights
    if len(w):
        top = max(int(w["pairs"].max()), 1)
        rows = "".join(
            f"<tr><td>{r.low:.0f} to {r.high:.0f}</td><td>{int(r.pairs):,}</td><td style='text-align:left'><span class='bar' "
            f"style='width:{20 * r.pairs / top:.2f}rem'></span></td></tr>"
            for r in w.itertuples()
        )
        parts += [
            "<h2>Match weights of the scored pairs</h2>",
            "<table><tr><th>match weight</th><th>pairs</th><th></th></tr>" + rows + "</table>",
            f"<p>{quality.exact_pairs:,} pairs share a UPN or NHS number (the exact rules).</p>",
        ]
    if seconds:
        parts += [
            "<h2>Time</h2>",
            _table(pd.DataFrame([{"step": k, "seconds": f"{v:.1f}"} for k, v in seconds.items()])),
        ]
    parts.append("</body></html>")
    return "\n".join(parts)
