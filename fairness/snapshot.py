"""A PNG picture of an HTML report, taken in headless Chromium (Debian's), when it is there."""

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


def screenshot(html: Path, png: Path, *, width: int = 1200) -> list[str]:
    """Render ``html`` in headless Chromium and save a full-page PNG.

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
        return _screenshot(html, png, width)
    # Playwright's sync API refuses to run inside an event loop (a notebook's kernel, a
    # server): take the picture from a thread of its own.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(_screenshot, html, png, width).result()


def _screenshot(html: Path, png: Path, width: int) -> list[str]:
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(Path(html).resolve().as_uri())
            page.screenshot(path=str(png), full_page=True)
        finally:
            browser.close()
    return errors
