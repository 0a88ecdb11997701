"""The JSON document (schema, round trip) and the HTML report (self-contained, every section,
plain words), and what changed since the last audit."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pandas as pd
import pytest
from fairness_fixtures import BANNED_WORDS

import fairness.templates as templates
from fairness import (
    AuditResult,
    FairnessPolicy,
    ReportContext,
    audit,
    load_previous,
    prepare_report,
    render_html,
    to_document,
    write_reports,
)
from fairness.schema import json_schema, validate_document

TABLES = ["groups", "metrics", "disparities", "calibration", "bins"]


@pytest.fixture(scope="module")
def result(frame):
    return audit(
        frame,
        score="score",
        label="y",
        groups=["ethnicity", "send", "sex"],
        intersections=[("ethnicity", "send"), ("ethnicity", "sex")],
        top_k=0.1,
        true_label="y_true",
        baseline="baseline",
        cluster="child_id",
        n_boot=100,
    )


@pytest.fixture(scope="module")
def written(result, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    context = ReportContext(label_definition="recorded as victim or suspect of serious violence")
    report = prepare_report(result, context=context, policy=FairnessPolicy())
    json_path, html_path = write_reports(report, out)
    return json.loads(json_path.read_text()), html_path.read_text(), out


def test_json_validates_against_its_schema_version(written):
    doc, _, _ = written
    assert doc["schema"] == "lantern.fairness/1"
    validate_document(doc)
    assert isinstance(doc["passed"], bool) and doc["reasons"] == doc["verdict"]["reasons"]
    assert doc["verdict"]["policy"]["metrics"] == ["fnr", "tpr", "selection_rate"]
    assert doc["settings"]["cluster"] == "child_id"
    assert json_schema()["$id"] == "lantern.fairness/1"


def test_a_wrong_or_broken_document_is_refused(written):
    doc, _, _ = written
    with pytest.raises(ValueError, match="expected schema"):
        validate_document({**doc, "schema": "lantern.fairness/0"})
    broken = {**doc, "metrics": [{**doc["metrics"][0], "suppressed": "perhaps"}]}
    with pytest.raises(ValueError, match="suppressed"):
        validate_document(broken)
    with pytest.raises(ValueError, match="re-run the audit"):
        AuditResult.from_dict({**doc, "schema": "other"})


def test_json_round_trips_to_the_same_result(result, written):
    doc, _, _ = written
    again = AuditResult.from_dict(doc)
    assert again.to_dict() == result.to_dict()
    for table in TABLES:
        pd.testing.assert_frame_equal(getattr(again, table), getattr(result, table))
        pd.testing.assert_frame_equal(
            getattr(again.baseline, table), getattr(result.baseline, table)
        )
    assert again.operating_point == result.operating_point
    assert again.groupings == result.groupings


def test_html_is_self_contained(written):
    _, html, _ = written
    assert "http" not in html and 'src="//' not in html
    assert "<script" not in html and "<link" not in html and "url(" not in html
    sources = re.findall(r'src="([^"]*)"', html)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    assert all(h.startswith("#") for h in re.findall(r'href="([^"]*)"', html))


def test_html_has_every_required_section(written):
    _, html, _ = written
    headings = re.findall(r"<h2[^>]*>(.*?)</h2>", html)
    assert headings == list(templates.SECTIONS.values())
    for heading in (
        "Purpose and label definition",
        "Intended and prohibited uses",
        "What recorded outcomes can and cannot show",
        "Group sizes and base rates",
        "Results by group",
        "Disparities against the reference group",
        "Calibration by group",
        "Choice of fairness criterion",
        "Comparison with a baseline",
        "Operating point and threshold rationale",
        "What changed since the last audit",
    ):
        assert heading in headings
    assert "recorded as victim or suspect of serious violence" in html
    assert "First audit" in html
    assert "baseline" in html.split('id="baseline"')[1].split("</section>")[0]


def test_report_templates_use_plain_words():
    source = Path(templates.__file__).read_text().lower()
    for word in BANNED_WORDS:
        assert word not in source, word
    for module in ("report", "plots", "policy"):
        text = (Path(templates.__file__).parent / f"{module}.py").read_text().lower()
        assert not any(word in text for word in BANNED_WORDS), module


def visible_text(html: str) -> str:
    """The report's words, without the embedded images' base64."""
    return re.sub(r'src="data:[^"]*"', "", html).lower()


def test_rendered_report_uses_plain_words(written):
    _, html, _ = written
    text = visible_text(html)
    assert [word for word in BANNED_WORDS if word in text] == []
    assert "children" in text


def test_adult_population_is_called_people(frame):
    small = audit(frame, score="score", label="y", groups=["sex"], threshold=0.5, n_boot=20)
    context = ReportContext(population="people", purpose="Reproduce a published analysis.")
    html = visible_text(render_html(prepare_report(small, context=context)))
    assert "people" in html and "children" not in html


def test_changes_since_the_last_audit(frame, result, written):
    doc, _, out = written
    later = audit(
        frame.assign(score=frame["score"] + 0.05 * (frame["ethnicity"] == "Black")),
        score="score",
        label="y",
        groups=["ethnicity", "send", "sex"],
        intersections=[("ethnicity", "send"), ("ethnicity", "sex")],
        top_k=0.1,
        true_label="y_true",
        n_boot=100,
    )
    previous = load_previous(out / "fairness.json")
    report = prepare_report(later, policy=FairnessPolicy(), previous=previous)
    table = report.changes.table.set_index(["grouping", "group", "outcome", "metric"])
    key = ("ethnicity", "Black", "any", "selection_rate")
    before = result.disparities.set_index(["grouping", "group", "outcome", "metric"])
    now = later.disparities.set_index(["grouping", "group", "outcome", "metric"])
    assert table.loc[key, "previous"] == before.loc[key, "ratio"]
    assert table.loc[key, "change"] == pytest.approx(
        now.loc[key, "ratio"] - before.loc[key, "ratio"]
    )
    html = render_html(report)
    section = html.split('id="changes"')[1].split("</section>")[0]
    assert "First audit" not in section and "ratio before" in section
    validate_document(to_document(report))


def test_load_previous_refuses_what_it_cannot_compare(tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        load_previous(tmp_path / "none.json")
    (tmp_path / "x.json").write_text('{"schema": "other"}')
    with pytest.raises(ValueError, match="written by `lantern audit`"):
        load_previous(tmp_path / "x.json")


def test_writing_leaves_no_temporary_files_and_readable_reports(written):
    _, _, out = written
    assert sorted(p.name for p in out.iterdir()) == ["fairness.html", "fairness.json"]
    mask = os.umask(0o022)
    os.umask(mask)
    assert all(p.stat().st_mode & 0o777 == 0o666 & ~mask for p in out.iterdir())


def test_a_rebuilt_result_keeps_its_recording_rows_and_their_sentence(frame):
    recording = pd.concat([frame, frame.assign(child_id=frame["child_id"] + len(frame))])
    result = audit(
        frame,
        score="score",
        label="y",
        groups=["ethnicity"],
        top_k=0.1,
        true_label="y_true",
        cluster="child_id",
        n_boot=50,
        recording_rows=recording,
    )
    assert result.recording_n == len(recording)
    again = AuditResult.from_dict(json.loads(json.dumps(result.to_dict())))
    assert again.recording_n == len(recording)
    html = render_html(prepare_report(again, policy=FairnessPolicy()))
    assert f"every labelled record available ({len(recording):,} rows" in " ".join(html.split())
