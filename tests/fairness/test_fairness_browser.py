"""The HTML report in a real browser: it renders offline, with no console errors."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from fairness import FairnessPolicy, ReportContext, audit, prepare_report, write_reports
from fairness.snapshot import CHROMIUM, CHROMIUM_ARGS, screenshot
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
            summary = page.locator("#summary").bounding_box()
        finally:
            browser.close()
    assert problems == []
    assert headings == list(SECTIONS.values())
    assert images and all(images)
    assert all(url.startswith(("file:", "data:")) for url in requests)
    assert summary is not None and summary["height"] > 0


def test_the_picture_is_the_reports_opening_down_to_its_summary(report_file):
    ARTIFACTS.mkdir(exist_ok=True)
    png = ARTIFACTS / "fairness_report.png"
    assert screenshot(report_file, png) == []
    width, height = Image.open(png).size
    assert width == 1200
    # the title, contents and summary (its verdict and flags), not the 30,000-pixel page
    assert 600 < height <= 3000, height


def test_a_picture_is_capped_and_reports_the_pages_errors(tmp_path):
    page = tmp_path / "long.html"
    page.write_text(
        "<html><body><div style='height:9000px'>no summary here</div>"
        "<script>console.error('broken chart')</script></body></html>"
    )
    errors = screenshot(page, tmp_path / "long.png", width=800, max_height=1000)
    assert errors == ["broken chart"]
    assert Image.open(tmp_path / "long.png").size == (800, 1000)
