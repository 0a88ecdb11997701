"""A PNG picture of an HTML report's opening, taken in headless Chromium (Debian's), when it is
there.

The picture is what a reader sees first in MLflow's artifact view: the title, the contents and
the ``#summary`` section (the verdict and every flagged disparity), down to ``max_height``
pixels. The whole report is the HTML beside it; a full-page picture of a 37,000-pixel report
was 5 to 8 MB per audit and most of the audit's time.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


SUMMARY = "#summary"


def screenshot(html: Path, png: Path, *, width: int = 1200, max_height: int = 3000) -> list[str]:
    """Render ``html`` in headless Chromium and save a PNG of its opening.

    The picture runs from the top of the page to the end of the ``#summary`` section (the
    whole page when it has none), and at most ``max_height`` pixels.

    Returns
    -------
    list of str
        Console errors the page raised (empty when it rendered cleanly).

    Raises
    ------
    FileNotFoundError
        When Chromium is not installed (``make browser`` installs it).
    """
    if not CHROMIUM.exists():
        raise FileNotFoundError(f"{CHROMIUM} is missing: `make browser` installs Debian's chromium")
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return _screenshot(html, png, width, max_height)
    # Playwright's sync API refuses to run inside an event loop (a notebook's kernel, a
    # server): take the picture from a thread of its own.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_screenshot, html, png, width, max_height).result()


def _screenshot(html: Path, png: Path, width: int, max_height: int) -> list[str]:
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(Path(html).resolve().as_uri())
            summary = page.query_selector(SUMMARY)
            box = summary.bounding_box() if summary is not None else None
            page_height = page.evaluate("document.documentElement.scrollHeight")
            bottom = box["y"] + box["height"] + 16 if box else page_height
            height = max(1, min(bottom, page_height, max_height))
            clip = {"x": 0, "y": 0, "width": width, "height": height}
            page.screenshot(path=str(png), clip=clip, full_page=True)
        finally:
            browser.close()
    return errors
