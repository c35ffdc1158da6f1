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
# Text the heatmap always shows (its cells' values go where the cells are too narrow).
WEIGHTS_TITLE = f"{WEIGHT_TEXTS} >> text=/^Weights after round/"


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
    page.locator(WEIGHTS_TITLE).wait_for(timeout=30_000)
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
    form = page.locator(".st-key-change_label")
    # The image being changed is shown beside its picker, whole, not cut by the form's edge.
    thumbnail = form.locator("[data-testid='stImage'] img")
    expect(thumbnail).to_be_visible()
    assert thumbnail.evaluate("e => e.naturalWidth > 0 && e.getBoundingClientRect().width >= 40")
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


# --- everything in view, for every kind of question and three screens --------------------------

# The screens a demo meets: a laptop, a smaller laptop, a projector.
SCREENS = {"1440x900": (1440, 900), "1280x800": (1280, 800), "1024x700": (1024, 700)}
# The key that answers every tile with the question's first answer.
FIRST_KEY = {"binary": "o", "classes": "0", "folders": "e", "weather": "n"}
# What must stay put when a round lands: the batch, the head's panel and the progress line.
STILL = (".st-key-batch_grid", ".st-key-weights_chart", ".st-key-curve_chart")


def stored_session(kind: str, folder) -> object:
    """A session of each kind of question with two rounds answered by its truth."""
    from tl_active import paths
    from tl_active.core.task import MULTICLASS, Task
    from tl_active.data.features import load_features
    from tl_active.data.folder_features import load_folder_features
    from tl_active.data.images import scan_folder
    from tl_active.sessions.records import WEATHER_TASK, SessionSettings
    from tl_active.sessions.session import LabellingSession

    if kind == "binary":
        settings = SessionSettings(task=Task.binary("odd"))
        features = load_features(settings.backbone, settings.layer)
    elif kind == "weather":
        from tl_active.data.weather_features import load_weather_features

        settings = SessionSettings(
            task=WEATHER_TASK, backbone="weather-cnn", layer="dense", weather="snow-today"
        )
        features = load_weather_features("snow-today", settings.backbone, settings.layer)
    elif kind == "classes":
        settings = SessionSettings(
            task=Task.multiclass("0-4"), backbone="mnist-cnn-5to9", layer="embedding"
        )
        features = load_features(settings.backbone, settings.layer)
    else:
        scanned = scan_folder(str(folder))
        settings = SessionSettings(
            task=Task(MULTICLASS, (0, 1)),
            head_mode="converge",
            images=str(folder),
            images_checksum=scanned.checksum,
        )
        features = load_folder_features(scanned, settings.backbone, settings.layer, paths.CACHE_DIR)
    session = LabellingSession(features, settings)
    session.auto_label(2)
    return session


@pytest.fixture(scope="module")
def session_links(streamlit_server, tmp_path_factory):
    """Stores a new binary, classes or folder session in the server's database; its address."""
    from image_folders import write_class_folder

    from tl_active import paths
    from tl_active.sessions.store import SessionStore

    folder = write_class_folder(
        tmp_path_factory.mktemp("images") / "mine", {"eight": (8, 20), "three": (3, 20)}
    )
    store = SessionStore(paths.db_url(streamlit_server.env["TL_ACTIVE_DB"]))

    def link(kind: str) -> str:
        return f"{streamlit_server.url}?session={store.create(stored_session(kind, folder))}"

    yield link
    store.close()


def boxes(page, selectors) -> dict[str, list[float]]:
    """Each selector's bounding box in the viewport: [left, top, right, bottom], or None."""
    return page.evaluate(
        """(selectors) => Object.fromEntries(selectors.map(sel => {
            const e = document.querySelector(sel);
            if (!e) return [sel, null];
            const r = e.getBoundingClientRect();
            return [sel, [r.left, r.top, r.right, r.bottom]];
        }))""",
        list(selectors),
    )


TILES = ".st-key-batch_grid .tl-tiles"
KEYS_HINT = ".st-key-batch_grid .tl-keys"
# Each answer's key said once: a digit that is its own answer is not said twice ("0 0, 1 1").
KEYS_SAID = {
    "binary": "Keys: O odd, E even, S skip; ←/→ move; U undo; Enter submits.",
    "classes": "Keys: 0–4 answer, S skip; ←/→ move; U undo; Enter submits.",
    "folders": "Keys: E eight, T three, S skip; ←/→ move; U undo; Enter submits.",
    "weather": "Keys: S snow, N no snow, K skip; ←/→ move; U undo; Enter submits.",
}


def overlapping_values(page) -> list:
    """Pairs of the weights heatmap's cell values whose drawn text overlaps (none may), or that
    stick out of their cell."""
    return page.evaluate(
        r"""(sel) => {
            const texts = Array.from(document.querySelectorAll(sel))
                .filter(t => /^[+−-]\d\.\d\d$/.test(t.textContent))
                .filter(t => parseFloat(getComputedStyle(t).fontSize) > 0)  // 0: left out
                .map(t => { const r = t.getBoundingClientRect();
                    return [t.textContent, r.left, r.top, r.right, r.bottom]; });
            const cells = Array.from(document.querySelectorAll(
                '.st-key-weights_chart .vega-embed svg path[aria-roledescription="rect mark"]'));
            const width = cells.length ? cells[0].getBoundingClientRect().width : 0;
            const bad = [];
            texts.forEach((a, i) => {
                if (a[3] - a[1] > width) bad.push(['wider than its cell', a, width]);
                texts.slice(i + 1).forEach(b => {
                    if (a[1] < b[3] && b[1] < a[3] && a[2] < b[4] && b[2] < a[4]) bad.push([a, b]);
                });
            });
            return bad;
        }""",
        WEIGHT_TEXTS,
    )


def cut_from_the_curve(page) -> list:
    """The learning curve's texts (axes, key, notes) drawn outside its box, where they are cut.

    Vega draws the y axis's title a few pixels left of the box, where nothing cuts it: 4 px
    are allowed on the left."""
    return page.evaluate(
        """(sel) => {
            const box = document.querySelector('.st-key-curve_chart').getBoundingClientRect();
            return Array.from(document.querySelectorAll(sel + ' text'))
                .filter(t => t.textContent.trim())
                .map(t => [t.textContent, t.getBoundingClientRect()])
                .filter(([, r]) => r.width > 0 && (r.left < box.left - 4 || r.right > box.right + 1))
                .map(([text, r]) => [text, r.left, r.right, box.left, box.right]);
        }""",
        CURVE_SVG,
    )


SUBMIT = ".st-key-batch_grid .tl-submit"


def box_of(page, selector: str) -> list[float]:
    """The box of an element inside the grid, whose elements live in the component's own tree
    (which Playwright's locators reach and `document.querySelector` does not)."""
    return page.locator(selector).evaluate(
        "e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]; }"
    )


def overlaps(a, b) -> bool:
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


@pytest.mark.parametrize("screen", list(SCREENS))
@pytest.mark.parametrize("kind", list(FIRST_KEY))
def test_every_question_fits_the_screen_and_nothing_moves_when_a_round_lands(
    streamlit_server, chromium, session_links, kind, screen
):
    """At 1440 x 900 and 1280 x 800 the batch, the weights and the learning curve are in view
    without scrolling; at 1024 x 700 the batch and its Submit are. A round's toast covers none of
    the progress line, and nothing in view moves by more than 2 px when the round lands."""
    width, height = SCREENS[screen]
    context = chromium.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        page.goto(session_links(kind))
        page.get_by_role("button", name="Submit batch (0/4)").wait_for(timeout=120_000)
        page.locator(CURVE_SVG).wait_for(timeout=60_000)
        page.locator(WEIGHTS_TITLE).wait_for(timeout=60_000)
        page.wait_for_timeout(500)  # the charts' first layout
        before = boxes(page, (*STILL, ".st-key-progress_line"))
        seen = {**before, "tiles": box_of(page, TILES), "submit": box_of(page, SUBMIT)}
        # The tiles and their Submit everywhere; from 800 px up the weights, the curve and the
        # key hint beside Submit too.
        wanted = ("tiles", "submit")
        if height >= 800:
            wanted += (".st-key-weights_chart", ".st-key-curve_chart", "keys")
        seen["keys"] = box_of(page, KEYS_HINT)
        out = {k: seen[k] for k in wanted if not (seen[k] and seen[k][3] <= height)}
        assert out == {}, f"below the fold of {screen}: {out}"
        assert page.evaluate("[window.scrollY, document.documentElement.scrollWidth]") == [
            0,
            width,
        ]

        press_fast(page, FIRST_KEY[kind] * 4)
        page.get_by_text("All 4 answered").wait_for(timeout=5_000)
        # Neither the line that says so nor a caption three lines long moves the batch's edge.
        page.locator(".tl-caption").first.evaluate(
            "e => { e.textContent = 'a caption far longer than two lines of a tile '.repeat(4); }"
        )
        answered = boxes(page, STILL)
        grown = {
            sel: (before[sel], answered[sel])
            for sel in STILL
            if max(abs(a - b) for a, b in zip(before[sel], answered[sel], strict=True)) > 2
        }
        assert grown == {}, grown
        page.keyboard.press("Enter")
        page.get_by_text("Round 3 learned").wait_for(timeout=20_000)
        toast = page.locator("[data-testid='stToast']").first.bounding_box()
        line = boxes(page, (".st-key-progress_line",))[".st-key-progress_line"]
        toast_box = [
            toast["x"],
            toast["y"],
            toast["x"] + toast["width"],
            toast["y"] + toast["height"],
        ]
        assert not overlaps(toast_box, line), (toast_box, line)
        page.get_by_text("labels in 3 rounds").first.wait_for(timeout=20_000)
        page.get_by_role("button", name="Submit batch (0/4)").wait_for(timeout=20_000)
        page.wait_for_timeout(500)
        after = boxes(page, (*STILL, ".st-key-progress_line"))
        moved = {
            sel: (before[sel], after[sel])
            for sel in before
            if max(abs(a - b) for a, b in zip(before[sel], after[sel], strict=True)) > 2
        }
        assert moved == {}, moved
        assert page.locator(KEYS_HINT).inner_text() == KEYS_SAID[kind]
        assert overlapping_values(page) == []
        assert cut_from_the_curve(page) == []
    finally:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"in-view-{kind}-{screen}.png"))
        context.close()


def test_new_session_and_its_confirmation_are_in_view_without_scrolling_the_sidebar(
    streamlit_server, chromium, session_links
):
    """The button sticks to the sidebar's bottom edge; its confirmation appears there, whole."""
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        page.goto(session_links("binary"))
        page.get_by_role("button", name="Submit batch").wait_for(timeout=120_000)
        new = page.get_by_role("button", name="New session with these settings")
        assert box_of(page, ".st-key-new_session_bar")[3] <= 900  # reachable as it is
        new.click()
        start = page.get_by_role("button", name="Start it")
        stay = page.get_by_role("button", name="Stay on this one")
        stay.wait_for(timeout=15_000)
        for button in (start, stay):
            left, top, right, bottom = button.evaluate(
                "e => { const r = e.getBoundingClientRect(); "
                "return [r.left, r.top, r.right, r.bottom]; }"
            )
            assert top >= 0 and bottom <= 900, (top, bottom)
            # The label whole, not cut off: the button is as wide as its text needs.
            assert button.evaluate("e => e.scrollWidth <= e.clientWidth")
        stay.click()
        stay.wait_for(state="detached", timeout=15_000)
    finally:
        context.close()


@pytest.mark.parametrize("address", ["label?session=", "?session=", "label"])
def test_the_label_pages_addresses_open_it_with_the_session_they_name(
    streamlit_server, chromium, session_links, address
):
    """`/label?session=...` (the page's name) opens that session as `/?session=...` does; plain
    `/label` opens the Label page, a new session, instead of "Page not found"."""
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        link = session_links("binary")
        session_id = link.split("session=")[1]
        page.goto(streamlit_server.url + address + (session_id if "session" in address else ""))
        page.get_by_role("button", name="Submit batch").wait_for(timeout=60_000)
        assert page.get_by_text("Page not found").count() == 0
        progress = page.locator(".st-key-progress_line").inner_text()
        if "session" in address:
            assert progress.startswith("8 labels in 2 rounds"), progress
            assert page.url.endswith(f"?session={session_id}")
        else:
            assert progress.startswith("0 labels"), progress
    finally:
        context.close()


def test_a_reload_mid_batch_keeps_the_answers_given_and_says_so(
    streamlit_server, chromium, session_links
):
    """Two of four tiles answered, then the page reloaded: the same batch comes back with those
    two answers, the grid says it kept them, and the other two complete the round."""
    context = chromium.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    try:
        page.goto(session_links("binary"))
        page.get_by_role("button", name="Submit batch (0/4)").wait_for(timeout=60_000)
        press_fast(page, "oe")
        expect(page.get_by_role("button", name="Submit batch (2/4)")).to_be_visible()
        page.reload()
        page.get_by_role("button", name="Submit batch (2/4)").wait_for(timeout=60_000)
        page.get_by_text("2 of 4 answers kept from before the page was reloaded.").wait_for(
            timeout=5_000
        )
        pressed = page.locator(".tl-choices button[aria-pressed='true']").all_inner_texts()
        assert [t.split()[0] for t in pressed] == ["Odd", "Even"]
        press_fast(page, "oe")
        page.keyboard.press("Enter")
        page.get_by_text("labels in 3 rounds").first.wait_for(timeout=20_000)
        # Submitted: a reload now offers the next batch with nothing kept.
        page.reload()
        page.get_by_role("button", name="Submit batch (0/4)").wait_for(timeout=60_000)
        assert page.get_by_text("kept from before").count() == 0
    finally:
        context.close()


@pytest.mark.parametrize("screen", ["1280x800", "1024x700"])
def test_the_rooms_leader_board_is_whole(streamlit_server, chromium, session_links, screen):
    """The board sits under its chart and shows every column: no cut, no sideways scroll, and
    words ("not yet"), not None, for a session still on its way."""
    width, height = SCREENS[screen]
    session_links("binary")  # at least one stored session with rounds
    context = chromium.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    try:
        page.goto(streamlit_server.url + "room")
        board = page.locator("[data-testid='stDataFrame']").first
        board.wait_for(timeout=60_000)
        page.wait_for_timeout(1_000)  # the grid's first layout
        right = board.evaluate("e => e.getBoundingClientRect().right")
        main = page.locator("[data-testid='stMainBlockContainer']").evaluate(
            "e => e.getBoundingClientRect().right"
        )
        assert right <= main + 1, (right, main)
        scroller = board.locator(".dvn-scroller").first
        assert scroller.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
        assert page.evaluate("document.documentElement.scrollWidth") == width
    finally:
        context.close()
