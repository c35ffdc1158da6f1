"""Look again in a real browser: a wrong answer given by key, found, and fixed by its key.

Debian's Chromium, driven by Playwright, against a real `streamlit run` started by a fixture.
The first batch (one typical image per digit) is answered Odd throughout, so its even digits
are wrong; rounds answered by MNIST's truth follow, and Alt+A applies the first suspect's
suggestion as a correction round.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = [pytest.mark.server, pytest.mark.browser]


def test_a_suspect_is_fixed_by_its_key(streamlit_server, chromium):
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        page.goto(streamlit_server.url)
        page.get_by_role("button", name="Submit batch").wait_for(timeout=60_000)
        for key in "oooo":
            page.keyboard.press(key)
            page.wait_for_timeout(50)
        page.keyboard.press("Enter")
        page.get_by_text("Round 1 learned: 4 labels").wait_for(timeout=30_000)
        page.get_by_role("button", name="Auto-label 5 rounds").click()
        page.get_by_text(re.compile(r"24 labels")).first.wait_for(timeout=60_000)
        page.get_by_role("button", name="Look again").click()
        fix = page.get_by_role("button", name=re.compile(r"^Make it Even"))
        fix.first.wait_for(timeout=30_000)
        page.keyboard.press("Alt+a")
        expect(page.get_by_text(re.compile(r"is now Even \(round 7\)"))).to_be_visible(
            timeout=30_000
        )
    finally:
        context.close()
