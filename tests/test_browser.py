"""The app in a real browser: label a batch with the keyboard, submit, see the figures change.

Debian's Chromium, driven by Playwright, against a real `streamlit run` started by a fixture.
"""

from __future__ import annotations

import re

import pytest
from browser_support import ELEMENT_TEXTS
from conftest import ARTIFACTS
from playwright.sync_api import expect

pytestmark = [pytest.mark.server, pytest.mark.browser]

WEIGHT_TEXTS = ".st-key-weights_chart .vega-embed svg text"
CURVE_SVG = ".st-key-curve_chart .vega-embed svg"


IN_VIEW = (".st-key-batch_grid", ".st-key-weights_chart", ".st-key-curve_chart")


def chart_state(page) -> tuple[list[str], str]:
    """The weights heatmap's texts and the learning curve's drawing, as the browser shows them."""
    return page.evaluate(ELEMENT_TEXTS, WEIGHT_TEXTS), page.inner_html(CURVE_SVG)


def out_of_view(page) -> list[str]:
    """What of the batch, the weights and the learning curve is not wholly on screen."""
    return page.evaluate(
        """(selectors) => selectors.filter(sel => {
            const box = document.querySelector(sel).getBoundingClientRect();
            return !(box.height > 0 && box.top >= 0 && box.left >= 0
                && box.bottom <= window.innerHeight && box.right <= window.innerWidth);
        })""",
        list(IN_VIEW),
    )


@pytest.fixture
def page(streamlit_server, chromium):
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.goto(streamlit_server.url)
    page.get_by_role("button", name="Submit batch").wait_for(timeout=60_000)
    page.locator(WEIGHT_TEXTS).first.wait_for(timeout=30_000)
    page.locator(CURVE_SVG).wait_for(timeout=30_000)
    yield page
    context.close()


def press_fast(page, keys: str) -> None:
    """Keys 20 ms apart, without waiting for anything: faster than a person types."""
    for key in keys:
        page.keyboard.press(key)
        page.wait_for_timeout(20)


def test_label_a_batch_with_the_keyboard_and_watch_the_head_learn(page):
    weights_before, curve_before = chart_state(page)
    assert "Weights after round 0: 0 labels" in weights_before
    assert weights_before[:10] == ["+0.00"] * 10  # the head starts at zero
    assert out_of_view(page) == []  # 1440 x 900: the batch beside the head, no scrolling
    assert page.evaluate("window.scrollY") == 0

    assert page.get_by_role("button", name="Submit batch (0/4)").is_disabled()
    press_fast(page, "oeoe")  # no key may be lost
    submit = page.get_by_role("button", name="Submit batch (4/4)")
    expect(submit).to_be_enabled(timeout=2_000)
    pressed = page.locator(".tl-choices button[aria-pressed='true']")
    assert pressed.all_inner_texts() == ["Odd O", "Even E", "Odd O", "Even E"] or [
        t.split()[0] for t in pressed.all_inner_texts()
    ] == ["Odd", "Even", "Odd", "Even"]
    latencies = page.evaluate("window.__tlGrid.latencies")
    assert len(latencies) >= 4 and max(latencies) < 100, latencies

    page.keyboard.press("Enter")
    page.get_by_text("Round 1 learned: 4 labels").wait_for(timeout=15_000)
    page.wait_for_function(
        "([sel, before]) => !Array.from(document.querySelectorAll(sel))"
        ".some(t => t.textContent.startsWith('Weights after round 0'))",
        arg=[WEIGHT_TEXTS, weights_before],
        timeout=15_000,
    )
    page.wait_for_function(
        "([sel, before]) => { const svg = document.querySelector(sel); "
        "return svg !== null && svg.innerHTML !== before; }",
        arg=[CURVE_SVG, curve_before],
        timeout=15_000,
    )
    weights_after, curve_after = chart_state(page)
    assert "Weights after round 1: 4 labels" in weights_after
    assert any(abs(float(text.replace("−", "-"))) >= 0.01 for text in weights_after[:10])
    assert curve_after != curve_before  # the learning curve gained its first round
    progress = page.get_by_text("labels in").first.inner_text()
    assert progress.startswith("4 labels in 1 round")
    assert "session=" in page.url  # stored at its first answer
    # Nothing moved away: after the round, all three are still on screen, unscrolled.
    assert out_of_view(page) == []
    assert page.evaluate("window.scrollY") == 0
    page.get_by_role("button", name="Submit batch (0/4)").wait_for(timeout=10_000)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "after-first-round.png"))

    # Change one label through the history: a correction round, the head retrained.
    page.get_by_role("button", name="Change this label").scroll_into_view_if_needed()
    form = page.locator("[data-testid='stForm']")
    # The newest image first: the first tile, answered Odd; make it Even.
    form.locator("[data-testid='stButtonGroup'] button", has_text="Even").click()
    form.get_by_role("button", name="Change this label").click()
    page.get_by_text("labels in 2 rounds").first.wait_for(timeout=15_000)
    page.get_by_text("(round 2)").first.wait_for(timeout=15_000)


def test_a_multiclass_round_answered_with_the_digit_keys(page):
    """Digits 0-4 on the embedding of the network that never saw them, chosen in the sidebar,
    answered with the keys 0-4. On a fresh clone the server first runs that network over MNIST."""
    from tl_active.core.task import Task
    from tl_active.data.features import load_features
    from tl_active.sessions.records import SessionSettings
    from tl_active.sessions.session import LabellingSession

    page.locator(".st-key-set_backbone").click()
    page.get_by_role("option", name="mnist-cnn-5to9").click()
    backbone = page.get_by_role("combobox", name="Backbone: the frozen network")
    expect(backbone).to_have_value(re.compile(r"^mnist-cnn-5to9"))
    page.locator(".st-key-set_layer").click()
    page.get_by_role("option", name="embedding").click()
    expect(page.get_by_role("combobox", name="Layer the head reads")).to_have_value("embedding")
    page.locator(".st-key-set_kind").get_by_text("classes", exact=True).click()
    expect(page.locator(".st-key-set_kind input[type='radio']:checked")).to_have_value("3")
    page.get_by_role("button", name="New session with these settings").click()
    # The grid offers the classes' digits; the heatmap has the bias column a head on an
    # embedding trains (and 16 of the layer's 128 units, said in its title's help).
    page.locator(".tl-choices button", has_text="0").first.wait_for(timeout=180_000)
    page.wait_for_function(
        "sel => Array.from(document.querySelectorAll(sel)).some(t => t.textContent === 'bias')",
        arg=WEIGHT_TEXTS,
        timeout=30_000,
    )
    assert page.get_by_text("mnist-cnn-5to9 / embedding · classes 0-4").count() == 1
    assert page.get_by_text("peaks near 61 %").count() == 0  # only its softmax outputs do

    # The batch is seeded: the same session here tells which digits the four tiles show.
    settings = SessionSettings(
        task=Task.multiclass("0-4"), backbone="mnist-cnn-5to9", layer="embedding"
    )
    twin = LabellingSession(load_features("mnist-cnn-5to9", "embedding"), settings)
    truth = twin.truth([p.index for p in twin.next_batch()])
    press_fast(page, "".join(truth))
    expect(page.get_by_role("button", name="Submit batch (4/4)")).to_be_enabled(timeout=2_000)
    # Each tile shows the class its key gave it, in the browser, before anything is sent.
    cells = page.locator(".st-key-batch_grid").get_by_role("gridcell")
    expect(cells.locator(".tl-answer")).to_have_text(truth)
    assert cells.evaluate_all("cells => cells.map(c => c.dataset.answer)") == truth
    page.keyboard.press("Enter")
    page.get_by_text("Round 1 learned: 4 labels").wait_for(timeout=15_000)
    page.wait_for_function(
        "sel => Array.from(document.querySelectorAll(sel))"
        ".some(t => t.textContent === 'Weights after round 1: 4 labels')",
        arg=WEIGHT_TEXTS,
        timeout=15_000,
    )
    texts = page.evaluate(ELEMENT_TEXTS, WEIGHT_TEXTS)
    cells = [t for t in texts if len(t) > 1 and t[0] in "+−-" and t[-3] == "."]
    assert len(cells) == 5 * (16 + 1)  # 5 classes x (16 units + the bias)
    assert any(abs(float(t.replace("−", "-"))) >= 0.01 for t in cells)
    assert {"0", "1", "2", "3", "4", "bias"} <= set(texts)
    progress = page.get_by_text("labels in").first.inner_text()
    assert progress.startswith("4 labels in 1 round")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "multiclass-first-round.png"))
