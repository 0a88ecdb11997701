"""The overview's page and JSON: they show the overview's numbers and compute none."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from html.parser import HTMLParser

import numpy as np
import pytest
from governance_checks import BANNED
from overview_fixtures import CAPACITY, MODEL, make_table, recording_doc

from fairness.page import write_whole
from governance.overview import partnership_overview
from governance.overview_report import (
    fmt_count,
    fmt_percent,
    fmt_rate,
    fmt_ratio,
    render_overview_html,
    render_overview_json,
)
from governance.overview_result import SCHEMA


@pytest.fixture(scope="module")
def overview():
    """Group B's flags rise beyond the band; the audit flags a recording disparity for Y."""
    table, scores = make_table()
    table["ethnicity"] = table["ethnicity"].replace({"A": "X", "B": "Y"})
    doc = recording_doc()
    return partnership_overview(
        table,
        {MODEL: scores, "exclusion_neet": scores[::-1].copy()},
        {MODEL: CAPACITY, "exclusion_neet": 0.05},
        audits={MODEL: doc},
        sources={MODEL: f"{MODEL} v3 (champion)"},
        notes=["exclusion_neet has no fairness audit: run `lantern audit`"],
    )


@pytest.fixture(scope="module")
def page(overview) -> str:
    return render_overview_html(overview)


class _Text(HTMLParser):
    """The page's visible text: no style, no attributes (so no embedded images)."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag, attrs):
        self._skip += tag in ("style", "script")

    def handle_endtag(self, tag):
        self._skip -= tag in ("style", "script")

    def handle_data(self, data):
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


def leaves(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from leaves(v)
    else:
        yield value


def test_every_number_on_the_page_is_a_number_of_the_overview(overview, page):
    data = json.loads(render_overview_json(overview))
    values = list(leaves(data))
    text = visible_text(page)
    # Strings the overview holds (dates, group names, the generator) are words, not figures.
    for s in sorted({v for v in values if isinstance(v, str)}, key=len, reverse=True):
        if re.search(r"\d", s):
            text = text.replace(s, " ")
    numbers = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool)]
    allowed = set()
    for v in numbers:
        allowed |= {fmt_ratio(v), fmt_rate(v), fmt_percent(v), f"{v:g}", str(v)}
        if float(v).is_integer():
            allowed.add(fmt_count(v))
    shown = re.findall(r"\d[\d,]*(?:\.\d+)?%?", text)
    assert shown, "the page shows numbers"
    assert [n for n in shown if n not in allowed] == []


def test_the_page_shows_what_the_overview_holds(overview, page):
    g = overview.groups
    latest = g["snapshot_date"].max()
    row = (g["model"] == MODEL) & (g["snapshot_date"] == latest) & (g["group"] == "Y")
    changed = g.copy()
    changed.loc[row & (g["grouping"] == "ethnicity"), ["ratio", "ratio_low", "ratio_high"]] = [
        7.77,
        6.66,
        8.88,
    ]
    shown = render_overview_html(replace(overview, groups=changed))
    assert "7.77" in shown and "6.66" in shown and "8.88" in shown
    assert "7.77" not in page


def test_alerts_lead_the_page_and_mark_their_rows(page):
    alerts = page.split('id="alerts"')[1].split("</section>")[0]
    assert "Ethnicity = Y: the disproportionality ratio rose from" in alerts
    assert "Ethnicity = X: the disproportionality ratio fell from" in alerts
    assert "recorded-to-true base rate" in alerts and "over-state" in alerts
    assert f"{MODEL}: the champion's latest fairness audit did not pass its fairness" in alerts
    section = page.split(f'id="model-{MODEL}"')[1].split("</section>")[0]
    row = re.search(
        rf'<tr class="(\w+)" data-model="{MODEL}" data-grouping="ethnicity" data-group="Y">',
        section,
    )
    assert row and row.group(1) == "alert"
    steady = re.search(
        rf'<tr class="(\w+)" data-model="{MODEL}" data-grouping="ethnicity" data-group="C">',
        section,
    )
    assert steady and steady.group(1) == "standing"


def test_standing_differences_come_with_the_caveat_and_the_base_rate_ratio(page):
    standing = page.split('id="standing"')[1].split("</section>")[0]
    assert "not by itself evidence of bias" in standing
    assert "recorded base-rate ratio" in standing
    assert 'data-grouping="ethnicity" data-group="C"' in standing


def test_suppressed_cells_are_said_to_be_suppressed(page):
    assert 'title="fewer than 10 children in the group">suppressed</td>' in page
    assert 'title="fewer than 10 children with the recorded outcome">suppressed</td>' in page
    assert ">not yet known</td>" in page
    assert 'id="suppressed"' in page and "fewer than 10 children is" in page


def test_page_is_self_contained_and_accessible(page):
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)
    assert page.startswith("<!DOCTYPE html>") and '<html lang="en">' in page
    tables, captions = page.count("<table>"), page.count("<caption>")
    assert tables and tables == captions
    images = re.findall(r"<img [^>]*>", page)
    assert images and all('src="data:image/png;base64,' in i and 'alt="' in i for i in images)
    assert all(re.search(r'alt="[^"]{40,}"', i) for i in images)
    headings = re.findall(r"<h2[^>]*>([^<]+)</h2>", page)
    assert headings == [
        "What needs a query",
        "Standing differences",
        f"Model: {MODEL}",
        "Model: exclusion_neet",
        "Suppressed cells",
        "How the numbers were made",
    ]


def test_page_uses_plain_words(page):
    text = visible_text(page)
    assert BANNED.findall(text) == []
    assert "children" in text and "advisory" in text


def test_notes_and_a_missing_audit_are_shown(page):
    assert "exclusion_neet has no fairness audit" in page
    section = page.split('id="model-exclusion_neet"')[1].split("</section>")[0]
    assert "No fairness audit of this model was found" in section


def test_json_has_every_table_and_no_nan(overview, tmp_path):
    text = render_overview_json(overview)
    assert "NaN" not in text
    data = json.loads(text)
    assert data["schema"] == SCHEMA
    assert data["settings"]["lags"] == [4, 8]
    for name in ("models", "snapshots", "groups", "changes", "audit", "highlights"):
        assert len(data[name]) == len(getattr(overview, name))
    suppressed = [r for r in data["groups"] if r["suppressed"]]
    assert suppressed and all(r["n"] is None and r["ratio"] is None for r in suppressed)
    first = data["groups"][0]
    assert first["snapshot_date"] == f"{overview.groups['snapshot_date'].iloc[0]:%Y-%m-%d}"
    path = write_whole(tmp_path / "out" / "overview.json", text)
    assert path.read_text() == text and [p.name for p in path.parent.iterdir()] == [path.name]


def test_an_overview_without_alerts_says_so():
    table, scores = make_table(latest_b=115)
    quiet = partnership_overview(
        table, {MODEL: np.where(table["ethnicity"] == "C", 0.0, scores)}, {MODEL: CAPACITY}
    )
    assert not quiet.highlights["alert"].any()
    assert "<strong>No alerts.</strong>" in render_overview_html(quiet)
