"""The pool map in a real browser at 1440 x 900: opened under the batch, it leaves the batch, the
weights and the learning curve where they were, and hovering a point names its image and p.

Debian's Chromium, driven by Playwright, against a real `streamlit run` started by a fixture.
"""

from __future__ import annotations

import re
import time

import pytest
from conftest import ARTIFACTS
from test_browser import CURVE_SVG, WEIGHT_TEXTS, out_of_view

pytestmark = [pytest.mark.server, pytest.mark.browser]

MAP = ".st-key-pool_map_chart .vega-embed"
# Streamlit's main area scrolls in a container of its own, not in the window.
TO_TOP = """() => { window.scrollTo(0, 0);
    document.querySelectorAll('[data-testid="stMain"], .stMain, section.main')
        .forEach(e => e.scrollTo(0, 0)); }"""
BOXES = """() => ['.st-key-batch_grid', '.st-key-weights_chart', '.st-key-curve_chart']
    .map(s => { const b = document.querySelector(s).getBoundingClientRect();
                return [s, b.top, b.bottom, b.height]; })"""


def test_the_pool_map_opens_below_the_batch_and_names_the_point_under_the_pointer(
    streamlit_server, chromium
):
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(streamlit_server.url)
    page.get_by_role("button", name="Submit batch").wait_for(timeout=60_000)
    page.locator(WEIGHT_TEXTS).first.wait_for(timeout=30_000)
    page.locator(CURVE_SVG).wait_for(timeout=30_000)
    assert page.locator(MAP).count() == 0  # closed: not drawn

    start = time.perf_counter()
    page.get_by_text("Pool map: the pool as the frozen network sees it").click()
    page.locator(f"{MAP} canvas, {MAP} svg").first.wait_for(timeout=60_000)
    drawn = time.perf_counter() - start
    # Opened, it is below them: back at the top of the page (the click scrolled down to the
    # expander), the batch, the weights and the curve are wholly on screen as before.
    page.evaluate(TO_TOP)
    page.wait_for_timeout(300)
    assert out_of_view(page) == [], page.evaluate(BOXES)
    assert page.locator(MAP).bounding_box()["y"] > 900 - 60

    chart = page.locator(MAP)
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    tooltip = page.locator("#vg-tooltip-element")
    found = ""
    # Sweep the pointer over the plot until it rests on a point (10,000 of them: soon).
    for row in range(12):
        for column in range(16):
            page.mouse.move(
                box["x"] + box["width"] * (0.1 + 0.7 * column / 15),
                box["y"] + box["height"] * (0.15 + 0.7 * row / 11),
            )
            page.wait_for_timeout(30)
            if tooltip.count() and tooltip.is_visible():
                found = tooltip.inner_text()
                if "image name" in found:
                    break
        if "image name" in found:
            break
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "pool-map.png"))
    assert "image name" in found and "image " in found, found
    assert "head says" in found and re.search(r"(^|\n)p\s+[01]\.\d", found), found
    print(f"the map drawn {drawn:.2f} s after the click (server, PCA or UMAP, and Chromium)")
    context.close()
