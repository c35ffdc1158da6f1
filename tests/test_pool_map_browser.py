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
    # The UMAP map (cached): a page may draw the PCA map for a moment first, then run again.
    page.get_by_text("drag a box to label every image in it at once").wait_for(timeout=60_000)
    # Opened, it is below them: back at the top of the page (the click scrolled down to the
    # expander), the batch, the weights and the curve are wholly on screen as before.
    for _ in range(30):  # the scroll settles in its own time on a busy machine
        page.evaluate(TO_TOP)
        page.wait_for_timeout(300)
        if out_of_view(page) == []:
            break
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


def drag(page, box: dict, start: tuple[float, float], end: tuple[float, float]) -> None:
    """A drag across the chart, from and to fractions of its width and height."""
    page.mouse.move(box["x"] + box["width"] * start[0], box["y"] + box["height"] * start[1])
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * end[0], box["y"] + box["height"] * end[1], steps=12)
    page.mouse.up()


def test_a_box_dragged_on_the_map_labels_its_images_in_one_round_and_undo_takes_it_back(
    streamlit_server, chromium
):
    from tl_active.paths import db_url
    from tl_active.sessions.store import SessionStore

    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(streamlit_server.url)
    page.get_by_role("button", name="Submit batch").wait_for(timeout=60_000)
    page.get_by_text("Pool map: the pool as the frozen network sees it").click()
    # The UMAP map (cached), not the PCA one a page may draw for a moment before it.
    page.get_by_text("drag a box to label every image in it at once").wait_for(timeout=60_000)
    page.locator(f"{MAP} canvas, {MAP} svg").first.wait_for(timeout=60_000)
    chart = page.locator(MAP)
    chart.scroll_into_view_if_needed()
    page.wait_for_timeout(500)

    # Hovering a point names its image.
    box = chart.bounding_box()
    tooltip = page.locator("#vg-tooltip-element")
    for step in range(40):
        page.mouse.move(
            box["x"] + box["width"] * (0.2 + 0.015 * step), box["y"] + box["height"] * 0.5
        )
        page.wait_for_timeout(30)
        if tooltip.count() and tooltip.is_visible() and "image name" in tooltip.inner_text():
            break
    assert "image name" in tooltip.inner_text()

    # A box over a part of the plot: its confirmation says how many and shows some of them.
    confirm = page.locator(".st-key-bulk_confirm")
    count, items = 0, ""
    for size in (0.2, 0.3, 0.45):
        drag(page, box, (0.3, 0.3), (0.3 + size, 0.3 + size))
        confirm.wait_for(timeout=30_000)
        page.wait_for_timeout(500)
        said = confirm.inner_text()
        # In the data kind's own words: "digits" on MNIST.
        found = re.search(r"Label the ([\d,]+) unanswered (\w+) drawn in the box", said)
        count = int(found.group(1).replace(",", "")) if found else 0
        items = found.group(2) if found else ""
        if count >= 50:
            break
    assert count >= 50, said
    assert confirm.locator("img").count() == 8
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "pool-map-box.png"))

    confirm.locator("[data-testid='stButtonGroup'] button", has_text="Odd").click()
    if count >= 1_000:  # a box of thousands asks for a tick beside its count
        confirm.get_by_text(f"Yes, label all {count:,} {items} at once").click()
    label = confirm.get_by_role("button", name=f"Label {count:,} as Odd")
    label.wait_for(timeout=30_000)
    label.click()
    toast = page.locator("[data-testid='stToast']")
    toast.filter(has_text=f"{count:,} {items} from the map labelled Odd").wait_for(timeout=60_000)
    # The box goes with its round, once the page has run again.
    page.locator(".st-key-bulk_confirm").wait_for(state="detached", timeout=60_000)

    session_id = re.search(r"session=([\w-]+)", page.url).group(1)
    store = SessionStore(db_url(streamlit_server.env["TL_ACTIVE_DB"]))
    (record,) = [h.record for h in store.history(session_id)]
    assert record.is_bulk and len(record.indices) == count and set(record.answers) == {"positive"}

    page.get_by_role("button", name="Undo last batch").click()
    toast.filter(has_text=f"its {count:,} {items} from the map are unlabelled again").wait_for(
        timeout=60_000
    )
    assert [h.undone for h in store.history(session_id)] == [True]
    store.close()
    context.close()
