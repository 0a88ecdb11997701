"""The practitioner page at ``/ui/`` in headless Chromium, against the real service.

A practitioner signs in with a key, asks for a child's prompt, reads its reasons and records a
judgement; the store holds what the page showed and what was recorded. Wrong keys and unknown
children are answered in words. The happy path's full-page screenshot is saved to
``tests/artifacts/ui_prompt.png`` for a person to look at.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from access.config import StoreSettings
from access.store import Store
from fairness.snapshot import CHROMIUM, CHROMIUM_ARGS

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
TIMEOUT_MS = 20_000
NETWORK_REFUSAL = re.compile(r"^Failed to load resource: the server responded with a status of ")


@pytest.fixture(scope="module")
def browser() -> Iterator:
    """Debian's Chromium, headless, for this module (skips, saying why, when missing)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Page:
    """A fresh browser tab on the page, collecting the console errors it raises."""

    def __init__(self, browser, url: str) -> None:
        self.context = browser.new_context(viewport={"width": 1100, "height": 900})
        self.tab = self.context.new_page()
        self.tab.set_default_timeout(TIMEOUT_MS)
        self.errors: list[str] = []
        self.tab.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        self.tab.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.tab.goto(f"{url}/ui/")

    def sign_in(self, key: str) -> None:
        self.tab.get_by_label("Your Lantern API key").fill(key)
        self.tab.get_by_label("Your Lantern API key").press("Enter")

    def ask(self, child_id: str, purpose: str) -> None:
        self.tab.get_by_label("Child's id").fill(child_id)
        self.tab.get_by_label("Purpose of this request").fill(purpose)
        self.tab.get_by_label("Purpose of this request").press("Enter")

    def alert(self) -> str:
        alert = self.tab.get_by_role("alert")
        alert.locator("p").wait_for()
        return alert.inner_text().strip()

    def script_errors(self) -> list[str]:
        """Console errors other than the browser's own note of an HTTP refusal."""
        return [e for e in self.errors if not NETWORK_REFUSAL.match(e)]


ACCESSIBILITY_PROBLEMS = r"""() => {
  const problems = [];
  const luminance = (rgb) => {
    const [r, g, b] = rgb.map((v) => {
      const c = v / 255;
      return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const parse = (css) => (css.match(/[\d.]+/g) || []).map(Number);
  const background = (node) => {
    for (let n = node; n; n = n.parentElement) {
      const c = parse(getComputedStyle(n).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] === 1)) return c.slice(0, 3);
    }
    return [255, 255, 255];
  };
  for (const node of document.querySelectorAll("body *")) {
    const own = [...node.childNodes].some((c) => c.nodeType === 3 && c.textContent.trim());
    if (!own || !node.getClientRects().length) continue;
    const fg = luminance(parse(getComputedStyle(node).color).slice(0, 3));
    const bg = luminance(background(node));
    const ratio = (Math.max(fg, bg) + 0.05) / (Math.min(fg, bg) + 0.05);
    if (ratio < 4.5) problems.push(`contrast ${ratio.toFixed(2)} on ${node.textContent.trim()}`);
  }
  for (const input of document.querySelectorAll("input, textarea, select")) {
    if (!input.labels || !input.labels.length) problems.push(`no label for #${input.id}`);
  }
  let level = 0;
  for (const h of document.querySelectorAll("h1, h2, h3, h4, h5, h6")) {
    if (!h.getClientRects().length) continue;
    const next = Number(h.tagName[1]);
    if (next > level + 1) problems.push(`heading h${next} after h${level}: ${h.textContent}`);
    level = next;
  }
  if (document.documentElement.lang !== "en") problems.push("the page's lang is not en");
  return problems;
}"""
"""Contrast under 4.5:1, inputs without labels, skipped heading levels, a missing lang."""


@pytest.fixture
def page(browser, live_service) -> Iterator[Page]:
    """A fresh tab (own session storage) on the live service's page."""
    opened = Page(browser, live_service.url)
    try:
        yield opened
    finally:
        opened.context.close()


def child_with_reasons(live_service) -> str:
    """A child whose prompt names reasons on both sides, found through the API itself."""
    for child_id in live_service.home.child_ids[:40]:
        answer = httpx.post(
            f"{live_service.url}/prompt",
            json={"child_id": child_id, "purpose": "test: choosing a child for the page test"},
            headers=live_service.headers("practitioner"),
            timeout=30,
        )
        assert answer.status_code == 200, answer.text
        models = answer.json()["models"]
        if any(m["reasons"] for m in models) and any(m["protective"] for m in models):
            return child_id
    pytest.fail("none of the first 40 children has reasons on both sides: check the fixture")


def test_practitioner_signs_in_reads_a_prompt_and_records_a_judgement(page, live_service):
    child_id = child_with_reasons(live_service)
    purpose = "Team around the child meeting <b>review</b>"
    note = "Known to school: attendance improved since a new mentor started."
    tab = page.tab

    page.sign_in(live_service.home.keys["practitioner"])
    tab.get_by_label("Child's id").wait_for()
    assert tab.evaluate("document.activeElement.id") == "child-id"
    assert (
        tab.evaluate("sessionStorage.getItem('lantern.apiKey')")
        == (live_service.home.keys["practitioner"])
    )
    assert tab.evaluate("localStorage.length") == 0
    assert live_service.home.keys["practitioner"] not in tab.url

    page.ask(child_id, purpose)
    heading = tab.get_by_role("heading", name=f"Advisory prompt for child {child_id}")
    heading.wait_for()
    prompt_id = tab.locator("dt:text-is('Prompt reference') + dd").inner_text()

    store = Store(StoreSettings(url=live_service.home.database_url))
    try:
        issued = store.get_prompt(prompt_id)
    finally:
        store.close()
    shown = issued.prompt
    assert issued.child_id == child_id
    assert issued.purpose == purpose
    assert tab.locator("#advisory-text").inner_text() == shown["advisory_notice"]
    assert tab.get_by_text(shown["judgement_invitation"]).is_visible()
    # API text is shown as text, never run as HTML.
    assert tab.locator("dt:text-is('Purpose you gave') + dd").inner_text() == purpose
    assert tab.locator("#prompt-facts b").count() == 0

    sections = tab.locator("section.model")
    assert sections.count() == len(shown["models"])
    for section, model in zip(sections.all(), shown["models"], strict=True):
        assert (
            section.get_by_role("heading", level=3).inner_text().lower() == model["title"].lower()
        )
        assert model["band"]["name"] in section.locator(".band").inner_text()
        assert model["band"]["meaning"].lower() in section.locator(".band").inner_text().lower()
        assert section.get_by_text(model["rank"]["meaning"]).is_visible()
        reasons = section.locator(".reason")
        expected = model["reasons"] + model["protective"]
        assert reasons.locator(".reason-sentence").all_inner_texts() == [
            r["sentence"] for r in expected
        ]
        for item, reason in zip(reasons.all(), expected, strict=True):
            assert item.locator(".reason-meta").inner_text() == (
                f"{reason['agency']} records · {reason['direction']}"
            )
            share = math.floor(100 * reason["share"] + 0.5)
            share_text = f"{share}%" if share >= 1 else "under 1%"
            words = item.locator(".bar-text").inner_text()
            assert words == f"{share_text} of the weight behind this estimate"
            # The bar is decorative: its width repeats the words, which carry the meaning.
            assert item.locator(".bar").get_attribute("aria-hidden") == "true"
            width = item.locator(".bar-fill").evaluate("e => e.style.width")
            assert width == (f"{share}%" if share >= 1 else "1%")
        for missing in model["missing"]:
            assert section.get_by_text(missing["sentence"]).is_visible()
        assert f"Model version {model['version']}" in section.locator(".model-version").inner_text()
    assert tab.get_by_role("heading", name="What is going well").first.is_visible()

    assert tab.evaluate(ACCESSIBILITY_PROBLEMS) == []

    # By keyboard alone: arrow through the radio group, Tab to the note and the button.
    tab.get_by_label("I agree with this prompt").focus()
    tab.keyboard.press("ArrowDown")
    assert tab.get_by_label("I disagree with this prompt").is_checked()
    tab.keyboard.press("Tab")
    assert tab.evaluate("document.activeElement.id") == "note"
    tab.keyboard.type(note)
    tab.keyboard.press("Tab")
    button = tab.get_by_role("button", name="Record my judgement")
    assert button.evaluate("e => e === document.activeElement")
    assert button.evaluate("e => getComputedStyle(e).outlineStyle") == "solid"
    tab.keyboard.press("Enter")
    done = tab.locator("#judgement-done")
    done.wait_for()
    assert "you disagree with this prompt" in done.inner_text()

    store = Store(StoreSettings(url=live_service.home.database_url))
    try:
        judgements = store.get_prompt(prompt_id).judgements
    finally:
        store.close()
    assert [(j.view, j.note, j.key_name) for j in judgements] == [
        ("disagree", note, "test-practitioner")
    ]

    ARTIFACTS.mkdir(exist_ok=True)
    tab.screenshot(path=str(ARTIFACTS / "ui_prompt.png"), full_page=True)
    assert page.errors == []

    tab.get_by_role("button", name="Sign out").click()
    tab.get_by_label("Your Lantern API key").wait_for()
    assert tab.evaluate("sessionStorage.getItem('lantern.apiKey')") is None
    assert tab.locator("#prompt").is_hidden()


def test_a_wrong_key_is_refused_in_words(page):
    page.sign_in("not-a-lantern-key")
    message = page.alert()
    assert message.startswith("Unknown API key: Lantern did not issue this key")
    assert "ask your Lantern administrator" in message
    assert page.tab.get_by_label("Child's id").is_hidden()
    assert page.tab.evaluate("sessionStorage.length") == 0
    assert page.script_errors() == []


def test_an_unknown_child_is_answered_in_words(page, live_service):
    page.sign_in(live_service.home.keys["practitioner"])
    page.tab.get_by_label("Child's id").wait_for()
    page.ask("no-such-child-000", "Team around the child meeting")
    message = page.alert()
    assert message.startswith("Unknown child: ")
    assert "no-such-child-000" in message
    assert page.tab.locator("#prompt").is_hidden()
    assert page.script_errors() == []


def test_the_purpose_is_required_and_the_page_says_why(page, live_service):
    page.sign_in(live_service.home.keys["practitioner"])
    page.tab.get_by_label("Child's id").wait_for()
    page.ask(live_service.home.child_ids[0], "  ")
    message = page.alert()
    assert "Enter the purpose of this request" in message
    assert "recorded in the audit log" in message
    purpose = page.tab.get_by_label("Purpose of this request")
    assert purpose.get_attribute("aria-invalid") == "true"
    assert page.tab.evaluate("document.activeElement.id") == "purpose"
    assert page.errors == []
