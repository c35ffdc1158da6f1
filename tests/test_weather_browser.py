"""A weather session in a real browser at 1440 x 900: three rounds answered with the keys.

The server starts on weather windows (`TL_ACTIVE_WEATHER=snow-today`); Chromium answers each
batch with S (snow), N (no snow) and K (skip, as S is snow's), and checks after every round that
the tiles' charts are in view at a readable size, that their captions (city and day) are not
cut, and that the batch, the weights and the learning curve stay on screen unscrolled.
"""

from __future__ import annotations

import re

import pytest
from browser_support import ELEMENT_TEXTS, StreamlitServer
from conftest import ARTIFACTS
from playwright.sync_api import expect

from tl_active.core.strategies import allowed_strategies
from tl_active.core.task import BINARY, Task

pytestmark = [pytest.mark.server, pytest.mark.browser]

IN_VIEW = (".st-key-batch_grid", ".st-key-weights_chart", ".st-key-curve_chart")
WEIGHT_TEXTS = ".st-key-weights_chart .vega-embed svg text"
MIN_CHART_PX = 100  # a window's 14 days, four lines: about 7 px a day
CITY_AND_DAY = re.compile(r"^(Auckland|Beijing|Chicago|Mumbai|San Diego) 2016-\d\d-\d\d$")


@pytest.fixture(scope="module")
def weather_server(tmp_path_factory):
    db = tmp_path_factory.mktemp("weather-db") / "sessions.db"
    server = StreamlitServer(
        ARTIFACTS / "weather-server.log",
        env={"TL_ACTIVE_DB": str(db), "TL_ACTIVE_WEATHER": "snow-today"},
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture
def page(weather_server, chromium):
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(weather_server.url)
    page.get_by_role("button", name="Submit batch").wait_for(timeout=60_000)
    # Attached, not visible: 32 units leave cells too narrow for their values, which the page
    # then draws at no size (they stay in the tooltips).
    page.locator(WEIGHT_TEXTS).first.wait_for(state="attached", timeout=30_000)
    yield page
    context.close()


def tiles(page) -> list[dict]:
    """Each tile's chart and caption as drawn: boxes, whether text is cut, what it says."""
    # The grid's elements live in the component's own tree, which locators reach.
    return page.locator(".st-key-batch_grid .tl-tile").evaluate_all(
        """(cells) => cells.map(tile => {
            const img = tile.querySelector('img').getBoundingClientRect();
            const caption = tile.querySelector('.tl-caption');
            const title = tile.querySelector('.tl-title');
            const box = (el) => el.getBoundingClientRect();
            const cut = (el) => el.scrollWidth > el.clientWidth + 1
                || el.scrollHeight > el.clientHeight + 1
                || box(el).right > box(tile).right || box(el).bottom > box(tile).bottom;
            return {
                width: img.width, height: img.height, top: img.top, bottom: img.bottom,
                left: img.left, right: img.right,
                natural: tile.querySelector('img').naturalWidth,
                title: title ? title.textContent : null,
                titleCut: title ? cut(title) : true,
                titleFont: title ? parseFloat(getComputedStyle(title).fontSize) : 0,
                captionCut: cut(caption),
            };
        })"""
    )


def out_of_view(page) -> list[str]:
    return page.evaluate(
        """(selectors) => selectors.filter(sel => {
            const box = document.querySelector(sel).getBoundingClientRect();
            return !(box.height > 0 && box.top >= 0 && box.left >= 0
                && box.bottom <= window.innerHeight && box.right <= window.innerWidth);
        })""",
        list(IN_VIEW),
    )


def check_tiles(page) -> list[dict]:
    shown = tiles(page)
    assert len(shown) == 4, shown
    for tile in shown:
        # The chart at its own size (no blurry scaling), readable, wholly on screen.
        assert tile["width"] >= MIN_CHART_PX and tile["height"] >= MIN_CHART_PX, tile
        assert tile["natural"] == round(tile["width"]), tile
        assert tile["top"] >= 0 and tile["bottom"] <= 900 and tile["right"] <= 1440, tile
        # The caption names the window by city and day, whole, at a readable size.
        assert CITY_AND_DAY.match(tile["title"] or ""), tile
        assert not tile["titleCut"] and not tile["captionCut"], tile
        assert tile["titleFont"] >= 12, tile
    return shown


def test_three_keyed_rounds_on_weather_windows_with_readable_charts(page):
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "weather-round-0.png"))
    assert out_of_view(page) == [] and page.evaluate("window.scrollY") == 0
    keys_hint = page.locator(".st-key-batch_grid .tl-keys").inner_text()
    assert keys_hint.startswith("Keys: S snow, N no snow, K skip"), keys_hint
    first = check_tiles(page)
    print(
        "weather tiles at 1440 x 900: charts "
        + ", ".join(f"{t['width']:.0f} x {t['height']:.0f} px" for t in first)
        + f"; captions at {first[0]['titleFont']:.1f} px, none cut; lowest chart ends at "
        f"{max(t['bottom'] for t in first):.0f} px"
    )

    seen = {t["title"] for t in first}
    for number, presses in enumerate(("nnnn", "nskn", "nnnk"), start=1):
        for key in presses:
            page.keyboard.press(key)
            page.wait_for_timeout(20)
        expect(page.get_by_role("button", name="Submit batch (4/4)")).to_be_enabled(timeout=2_000)
        page.keyboard.press("Enter")
        page.get_by_text(f"Round {number} learned").wait_for(timeout=15_000)
        page.get_by_role("button", name="Submit batch (0/4)").wait_for(timeout=15_000)
        page.wait_for_function(
            "(sel) => Array.from(document.querySelectorAll(sel))"
            f".some(t => t.textContent.startsWith('Weights after round {number}'))",
            arg=WEIGHT_TEXTS,
            timeout=15_000,
        )
        now = check_tiles(page)
        titles = {t["title"] for t in now}
        assert not titles & seen, titles  # a new batch of windows each round
        seen |= titles
        assert out_of_view(page) == [] and page.evaluate("window.scrollY") == 0

    progress = page.get_by_text("labels in").first.inner_text()
    assert progress.startswith("10 labels in 3 rounds"), progress
    assert "session=" in page.url
    weights = page.evaluate(ELEMENT_TEXTS, WEIGHT_TEXTS)
    assert "Weights after round 3: 10 labels" in weights
    # The curve is snow's: PR-AUC and the snow found, its key whole inside its column.
    curve_texts = page.evaluate(ELEMENT_TEXTS, ".st-key-curve_chart .vega-embed svg text")
    assert {"PR-AUC", "snow found", "at random"} <= set(curve_texts), curve_texts
    # The picture docs/weather.md shows: the round's toast gone, two tiles answered by key.
    page.locator("[data-testid=stToast]").first.wait_for(state="detached", timeout=20_000)
    page.keyboard.press("n")
    page.keyboard.press("s")
    page.screenshot(path=str(ARTIFACTS / "weather-round-3.png"))
    # No MNIST or image words on the page (the grid's own tree included), but for the data
    # chooser, which offers them.
    words = re.compile(r"MNIST|\bimages?\b|\bdigits?\b", re.IGNORECASE)
    grid_text = page.locator(".st-key-batch_grid .tl-grid").inner_text()
    assert not words.search(grid_text), grid_text
    said = page.evaluate(
        """() => {
            const chooser = document.querySelector('.st-key-set_data');
            const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
            const found = [];
            while (walker.nextNode()) {
                const node = walker.currentNode;
                if (chooser && chooser.contains(node)) continue;
                // Scripts, and icons drawn from a font by name (":material/image:").
                if (node.parentElement.closest('script, style, [data-testid=stIconMaterial]'))
                    continue;
                const text = node.textContent.replace(/data:image\\/png;base64,\\S*/g, "");
                if (/MNIST|\\bimages?\\b|\\bdigits?\\b/i.test(text))
                    found.push(node.parentElement.tagName + ": " + text.slice(0, 160));
            }
            return found;
        }"""
    )
    assert said == []
    # Last, as it scrolls: the history's chart beside its picker at a readable size (the 56 px
    # of a digit's thumbnail was not).
    thumbnail = page.locator(".st-key-change_label [data-testid=stImage] img").first
    thumbnail.scroll_into_view_if_needed()
    box = thumbnail.bounding_box()
    assert box["width"] == 104 and box["height"] == pytest.approx(73, abs=1), box
    page.screenshot(path=str(ARTIFACTS / "weather-history.png"))


def test_the_compare_page_reads_snow_by_its_pr_auc_at_1280_by_800(weather_server, chromium):
    context = chromium.new_context(viewport={"width": 1280, "height": 800})
    page = context.new_page()
    page.goto(f"{weather_server.url}compare")
    sidebar = page.locator("[data-testid=stSidebar]")
    sidebar.get_by_text("Weather windows").click()
    seeds = sidebar.get_by_label("Seeds per strategy")
    seeds.wait_for(timeout=30_000)
    seeds.fill("2")
    seeds.press("Enter")
    page.wait_for_timeout(500)
    page.get_by_role("button", name="Run comparison").click()
    heading = page.get_by_text("PR-AUC of the rare answer (means over seeds)")
    heading.wait_for(timeout=120_000)
    charts = page.locator(".vega-embed")
    charts.nth(2).wait_for(timeout=30_000)
    page.wait_for_timeout(1_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "compare-weather-1280.png"))
    # The PR-AUC chart comes first, whole in the window's width, every strategy in its key.
    first = charts.first
    texts = page.evaluate(
        "(el) => Array.from(el.querySelectorAll('svg text')).map(t => t.textContent)",
        first.element_handle(),
    )
    assert "test PR-AUC" in texts and any(t.startswith("frozen-head ceiling 0.") for t in texts)
    box = first.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 1280, box
    legend = page.evaluate(
        "(el) => Array.from(el.querySelectorAll('.role-legend-label text')).map(t => t.textContent)",
        first.element_handle(),
    )
    assert legend == allowed_strategies(Task(BINARY, (1,))), legend
    # Nothing wider than the window; the heading in view once the run is done.
    assert page.evaluate("document.scrollingElement.scrollWidth") <= 1280
    heading_box = heading.bounding_box()
    assert 0 <= heading_box["y"] < 800, heading_box
    # The summary gives the PR-AUC at each budget, before the accuracies.
    page.get_by_text("Summary (means over seeds)").scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    page.screenshot(path=str(ARTIFACTS / "compare-weather-1280-summary.png"))
    context.close()
