"""The page shell both HTML reports share (`fairness.page`), and writing a file whole."""

from __future__ import annotations

import os
import re

import pytest

from fairness.page import render_page, write_whole


def _page(**overrides):
    words = {
        "title": "Audit <of> scores",
        "meta": "<code>score</code>",
        "sections": [("summary", "Summary & verdict", "<p>body one</p>"), ("method", "Method", "")],
        "schema": "lantern.test/1",
        "generated": "2026-12-06T00:00:00+00:00",
        "generator": "lantern 0",
    }
    return render_page(**(words | overrides))


def test_the_page_escapes_text_and_keeps_html_bodies():
    page = _page()
    assert "<title>Audit &lt;of&gt; scores</title>" in page
    assert '<p class="meta"><code>score</code></p>' in page
    assert '<h2 id="summary-h">Summary &amp; verdict</h2>\n<p>body one</p>' in page
    assert "Schema lantern.test/1. Generated 2026-12-06T00:00:00+00:00 by lantern 0." in page


def test_every_section_is_listed_in_the_contents_and_labelled_by_its_heading():
    page = _page()
    anchors = re.findall(r'<section id="([^"]+)" aria-labelledby="\1-h">', page)
    listed = re.findall(r'<li><a href="#([^"]+)">', page)
    assert anchors == listed == ["summary", "method"]


def test_extra_style_follows_the_house_style():
    page = _page(extra_style=".extra { color: red; }")
    style = page.split("<style>")[1].split("</style>")[0]
    assert style.rstrip().endswith(".extra { color: red; }") and "font-family" in style


def test_write_whole_replaces_the_file_and_leaves_no_temporary(tmp_path):
    path = write_whole(tmp_path / "out" / "page.html", "first")
    write_whole(path, "second")
    assert path.read_text() == "second"
    assert [p.name for p in path.parent.iterdir()] == ["page.html"]
    assert path.stat().st_mode & 0o777 == 0o666 & ~_umask()


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path):
    path = write_whole(tmp_path / "page.html", "kept")
    with pytest.raises(UnicodeEncodeError):
        write_whole(path, "\udc80 lone surrogate")
    assert path.read_text() == "kept"
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask
