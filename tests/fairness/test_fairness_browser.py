"""The HTML report in a real browser: it renders offline, with no console errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from fairness import FairnessPolicy, ReportContext, audit, prepare_report, write_reports
from fairness.snapshot import CHROMIUM, CHROMIUM_ARGS
from fairness.templates import SECTIONS

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
ARGS = CHROMIUM_ARGS

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="no /usr/bin/chromium: install it with `make browser` (apt-get install chromium)",
)


@pytest.fixture(scope="module")
def report_file(compas, tmp_path_factory):
    result = audit(
        compas,
        score="decile_score",
        label="two_year_recid",
        groups=["race", "sex"],
        threshold=5,
        references={"race": "Caucasian"},
        n_boot=100,
    )
    context = ReportContext(population="people", purpose="Reproduce ProPublica's analysis.")
    report = prepare_report(result, context=context, policy=FairnessPolicy(group_columns=["race"]))
    _, html = write_reports(report, tmp_path_factory.mktemp("browser"))
    return html


def test_report_renders_in_headless_chromium_without_errors(report_file):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    problems, requests = [], []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(report_file.as_uri(), wait_until="load")
            headings = page.locator("h2").all_inner_texts()
            images = page.evaluate(
                "Array.from(document.images).map(i => i.complete && i.naturalWidth > 0)"
            )
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "fairness_report.png"), full_page=True)
        finally:
            browser.close()
    assert problems == []
    assert headings == list(SECTIONS.values())
    assert images and all(images)
    assert all(url.startswith(("file:", "data:")) for url in requests)
    assert (ARTIFACTS / "fairness_report.png").stat().st_size > 10_000
