"""The labelling grid in a real browser: keys as fast as a person types, clicks, undo, submit.

`tests/grid_harness.py` (four MNIST digits, nothing else) served by a real `streamlit run` and
driven in Debian's Chromium. Each test opens its own tab, so its own Streamlit session at round 1.
"""

from __future__ import annotations

import io
import statistics

import pytest
from browser_support import StreamlitServer
from conftest import ARTIFACTS
from PIL import Image
from playwright.sync_api import expect

pytestmark = [pytest.mark.server, pytest.mark.browser]

ODD, EVEN, SKIP = "positive", "negative", "skip"
# Where the page scrolls: the window, and Streamlit's main column (its own scroll container).
SCROLL_POSITIONS = (
    "() => [window.scrollY, document.scrollingElement.scrollTop,"
    " document.querySelector('[data-testid=\"stMain\"]').scrollTop]"
)


@pytest.fixture(scope="module")
def grid_server():
    server = StreamlitServer(ARTIFACTS / "grid-server.log", script="tests/grid_harness.py")
    server.start()
    yield server
    server.stop()


@pytest.fixture
def open_grid(grid_server, chromium):
    contexts = []

    def open_page(query: str = "", viewport: tuple[int, int] = (1400, 900)):
        context = chromium.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        contexts.append(context)
        page = context.new_page()
        page.goto(grid_server.url + query)
        page.get_by_role("button", name="Submit batch (0/4)").wait_for(timeout=60_000)
        expect(page.get_by_role("gridcell")).to_have_count(4)
        return page

    yield open_page
    for context in contexts:
        context.close()


def answers(page) -> list[str]:
    """Each tile's answer as the page holds it ('' for none)."""
    return page.get_by_role("gridcell").evaluate_all("cells => cells.map(c => c.dataset.answer)")


def outlined(page) -> list[int]:
    """The positions of the tiles marked as the active one."""
    return page.get_by_role("gridcell").evaluate_all(
        "cells => cells.flatMap((c, i) => c.getAttribute('aria-current') === 'true' ? [i] : [])"
    )


def focused_tile(page) -> int | None:
    """The tile that has the keyboard focus (inside the component's shadow root), if any."""
    return page.evaluate(
        "() => { let e = document.activeElement;"
        " while (e && e.shadowRoot && e.shadowRoot.activeElement) e = e.shadowRoot.activeElement;"
        " return e && e.dataset && e.dataset.index !== undefined ? Number(e.dataset.index) : null; }"
    )


def result_lines(page) -> list[str]:
    return page.locator(".st-key-result").inner_text().splitlines()


def expect_state(page, expected_answers: list[str], active: int) -> None:
    page.wait_for_function(
        "([want, active]) => { const cells = Array.from(document.querySelector("
        "'.stBidiComponent [data-testid=stBidiComponentIsolated]').shadowRoot"
        ".querySelectorAll('[role=gridcell]'));"
        " return JSON.stringify(cells.map(c => c.dataset.answer)) === JSON.stringify(want)"
        " && cells[active].getAttribute('aria-current') === 'true'; }",
        arg=[expected_answers, active],
        timeout=5_000,
    )
    assert answers(page) == expected_answers
    assert outlined(page) == [active]


@pytest.mark.parametrize("gap_ms", [20, 0], ids=["20ms-apart", "no-gap"])
def test_keys_pressed_fast_are_all_kept_and_submitted_once_in_order(open_grid, gap_ms):
    page = open_grid()
    assert focused_tile(page) == 0  # the grid took the keys when it appeared
    for key in "oeeo":
        page.keyboard.press(key)
        page.wait_for_timeout(gap_ms)
    page.keyboard.press("Enter")

    submitted = "round 1: positive, negative, negative, positive"
    expect(page.locator(".st-key-result")).to_contain_text(f"callback: {submitted}")
    lines = result_lines(page)
    assert lines[:2] == [f"returned: {submitted}", f"callback: {submitted}"]
    # The next round starts afresh, outlined on its first tile, with the keys.
    expect(page.get_by_role("grid")).to_have_attribute("aria-label", "Round 2: 4 images to answer")
    expect(page.get_by_role("button", name="Submit batch (0/4)")).to_be_disabled()
    assert answers(page) == [""] * 4
    assert outlined(page) == [0]
    assert focused_tile(page) == 0
    assert page.evaluate("window.__tlGrid.submissions") == 1
    page.keyboard.press("e")  # one answer per key in the new round too
    expect_state(page, [EVEN, "", "", ""], active=1)


def test_median_key_to_outline_latency_is_under_30_ms(open_grid):
    page = open_grid()
    keys = ["o", "ArrowRight", "ArrowLeft", "e", "End", "Home", "s", "u", "Backspace", "o"] * 3
    for key in keys:
        page.keyboard.press(key)
        page.wait_for_timeout(30)
    page.wait_for_function(f"window.__tlGrid.latencies.length >= {len(keys)}", timeout=5_000)
    latencies = page.evaluate("window.__tlGrid.latencies")
    median = statistics.median(latencies)
    (ARTIFACTS / "grid-latency.txt").write_text(
        f"key to outline, {len(latencies)} keys: median {median:.1f} ms, "
        f"max {max(latencies):.1f} ms\n"
    )
    assert len(latencies) == len(keys)
    assert median < 30, latencies


def outline_pixel(page, position: int) -> int:
    """The darkness (0 white, 255 black) drawn 4 px outside a tile's left border, mid-height."""
    box = page.get_by_role("gridcell").nth(position).bounding_box()
    x, y = box["x"] - 4, box["y"] + box["height"] / 2
    shot = page.screenshot(clip={"x": x - 1, "y": y - 1, "width": 3, "height": 3})
    return 255 - Image.open(io.BytesIO(shot)).convert("L").getpixel((1, 1))


def test_the_active_tile_is_outlined_and_the_outline_follows_the_keys(open_grid):
    page = open_grid()
    cells = page.get_by_role("gridcell")
    style = cells.nth(0).evaluate(
        "c => { const s = getComputedStyle(c); return [s.outlineStyle, parseFloat(s.outlineWidth)]; }"
    )
    assert style[0] == "solid" and style[1] >= 4
    assert outlined(page) == [0]
    assert outline_pixel(page, 0) > 150  # a dark outline on the light page
    assert max(outline_pixel(page, k) for k in (1, 2, 3)) < 60  # the others have none
    assert "no answer yet" in cells.nth(0).get_attribute("aria-label")

    page.keyboard.press("o")
    expect_state(page, [ODD, "", "", ""], active=1)
    assert outline_pixel(page, 1) > 150 and outline_pixel(page, 0) < 60
    assert focused_tile(page) == 1
    assert cells.nth(0).get_attribute("aria-label").startswith("Image 1 of 4, Odd.")
    # The answer's label is written on the tile, in its class colour.
    expect(cells.nth(0).locator(".tl-answer")).to_have_text("Odd")
    page.keyboard.press("ArrowRight")
    expect_state(page, [ODD, "", "", ""], active=2)
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    expect_state(page, [ODD, "", "", ""], active=0)
    page.keyboard.press("ArrowLeft")  # wraps round
    expect_state(page, [ODD, "", "", ""], active=3)
    page.screenshot(path=ARTIFACTS / "grid-outline.png")


def test_the_mouse_answers_and_selects_tiles(open_grid):
    page = open_grid()
    page.get_by_role("button", name="Even: image 3").click()
    expect_state(page, ["", "", EVEN, ""], active=3)  # on to the next unanswered tile
    page.get_by_role("gridcell").nth(0).click()
    expect_state(page, ["", "", EVEN, ""], active=0)
    page.get_by_role("button", name="Odd: image 1").click()
    expect_state(page, [ODD, "", EVEN, ""], active=1)
    page.get_by_role("button", name="Skip: image 2").click()
    page.get_by_role("button", name="Odd: image 4").click()
    expect_state(page, [ODD, SKIP, EVEN, ODD], active=3)
    expect(page.get_by_role("button", name="Odd: image 4")).to_have_attribute(
        "aria-pressed", "true"
    )
    submit = page.get_by_role("button", name="Submit batch (4/4)")
    expect(submit).to_be_enabled()
    submit.click()
    expect(page.locator(".st-key-result")).to_contain_text(
        "returned: round 1: positive, skip, negative, positive"
    )


def test_u_and_backspace_take_back_the_last_answers(open_grid):
    page = open_grid()
    for key in "oes":
        page.keyboard.press(key)
    expect_state(page, [ODD, EVEN, SKIP, ""], active=3)
    page.keyboard.press("u")
    expect_state(page, [ODD, EVEN, "", ""], active=2)  # back to the tile it took back
    page.keyboard.press("Backspace")
    expect_state(page, [ODD, "", "", ""], active=1)
    expect(page.get_by_role("button", name="Submit batch (1/4)")).to_be_disabled()
    # Undoing a changed answer brings the earlier one back.
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("e")
    expect_state(page, [EVEN, "", "", ""], active=1)
    page.keyboard.press("u")
    expect_state(page, [ODD, "", "", ""], active=0)
    page.keyboard.press("u")
    page.keyboard.press("u")  # nothing left to take back: said, not an error
    expect_state(page, ["", "", "", ""], active=0)
    expect(page.get_by_role("status")).to_have_text("No answer of this batch to take back.")


def test_digit_keys_answer_a_five_class_grid(open_grid):
    page = open_grid("?task=digits")
    cells = page.get_by_role("gridcell")
    expect(cells.nth(0).get_by_role("button")).to_have_count(6)  # digits 0-4 and Skip
    page.keyboard.press("7")  # not an option: nothing happens
    expect_state(page, ["", "", "", ""], active=0)
    for key in "0412":  # the four images are MNIST's first 0, 4, 1 and 2
        page.keyboard.press(key)
    expect_state(page, ["0", "4", "1", "2"], active=3)
    expect(cells.nth(1).locator(".tl-answer")).to_have_text("Digit 4")
    page.keyboard.press("Enter")
    expect(page.locator(".st-key-result")).to_contain_text("returned: round 1: 0, 4, 1, 2")


def test_enter_before_every_tile_is_answered_submits_nothing(open_grid):
    page = open_grid()
    page.keyboard.press("o")
    page.keyboard.press("o")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text(
        "Answer every image before submitting: 2 of 4 answered."
    )
    expect(page.get_by_role("button", name="Submit batch (2/4)")).to_be_disabled()
    page.wait_for_timeout(500)
    # The server never heard of it: no submission and not even a rerun.
    assert result_lines(page) == ["returned: nothing yet", "callback: nothing yet", "runs: 1"]
    assert page.evaluate("window.__tlGrid.submissions") == 0
    expect_state(page, [ODD, ODD, "", ""], active=2)


def test_keys_never_scroll_a_page_taller_than_the_window(open_grid):
    page = open_grid("?tall=1", viewport=(1200, 600))
    main_height = page.evaluate(
        "() => document.querySelector('[data-testid=\"stMain\"]').scrollHeight"
    )
    assert main_height > 3 * 600
    box = page.get_by_role("gridcell").nth(0).bounding_box()
    assert box["y"] + box["height"] > 600  # the tiles reach below the fold...
    assert page.evaluate(SCROLL_POSITIONS) == [0, 0, 0]  # ...and taking the focus scrolled nothing
    assert focused_tile(page) == 0
    keys = ["o", " ", "ArrowRight", "ArrowLeft", "e", "End", " ", "Home", "ArrowRight"]
    for key in [*keys, "ArrowRight", "s", "Enter"]:
        page.keyboard.press(key)
        page.wait_for_timeout(30)
        assert page.evaluate(SCROLL_POSITIONS) == [0, 0, 0], key
    expect_state(page, [ODD, EVEN, SKIP, ""], active=3)
    page.keyboard.press("Backspace")
    page.wait_for_timeout(30)
    assert page.evaluate(SCROLL_POSITIONS) == [0, 0, 0]


def test_a_rerun_keeps_the_answers_in_progress(open_grid):
    page = open_grid()
    page.keyboard.press("o")
    page.keyboard.press("e")
    page.get_by_role("button", name="Rerun").click()
    expect(page.locator(".st-key-result")).to_contain_text("runs: 2")
    # The page got the batch again (its captions say so) and kept what was answered.
    expect(page.get_by_role("gridcell").nth(0)).to_contain_text("page run 2")
    expect_state(page, [ODD, EVEN, "", ""], active=2)
    expect(page.get_by_role("button", name="Submit batch (2/4)")).to_be_visible()
    # The focus is on the button just clicked: the answer keys still reach the grid.
    page.keyboard.press("s")
    expect_state(page, [ODD, EVEN, SKIP, ""], active=3)
    assert focused_tile(page) == 3
