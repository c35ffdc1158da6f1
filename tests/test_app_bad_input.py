"""The app faced with bad input: it says what is wrong, in its own words, and goes on.

Text a person or a file chooses is shown as written, never acted on as Markdown: a `?session=`
link or an uploaded file's name is quoted in the app's own messages, and Markdown in it must not
become a live link (a "log in again" that leads elsewhere) or an image (which makes every
browser that shows it fetch an address). A database that accepts connections and never answers
is reported within seconds instead of hanging the page. The app runs under AppTest on the
synthetic feature set, so no TensorFlow is needed.
"""

from __future__ import annotations

import string
import time
from pathlib import Path

import pytest
from markdown_it import MarkdownIt  # comes with keras (through rich)
from streamlit.testing.v1 import AppTest
from synthetic import synthetic_features

from tl_active import paths
from tl_active.sessions.exchange import manifest_json
from tl_active.sessions.records import SessionSettings
from tl_active.sessions.session import LabellingSession
from ui import keys
from ui import support as ui_support
from ui.support import escape_markdown

TEST_BROWSER = "test-browser-0001"
APP = str(Path(__file__).resolve().parent.parent / "app.py")
LINK = "[Your session expired: log in again](https://evil.example/login)"
IMAGE = "![x](http://127.0.0.1:1/p.png)"
HOSTILE = [
    LINK,
    IMAGE,
    "<img src=x onerror=alert(1)>",
    "**bold** _it_ `code` # heading | table | $x^2$ ~~gone~~ :red[red] www.evil.example a@b.example",
    "[ref]\n\n[ref]: https://evil.example/",
    "\\[still escaped?](https://evil.example/)",
]


def html_text(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


@pytest.mark.parametrize("text", [*HOSTILE, string.punctuation])
def test_escaped_markdown_renders_as_the_text_itself(text):
    commonmark = MarkdownIt("commonmark").enable(["table", "strikethrough"])
    rendered = commonmark.render(escape_markdown(text))
    assert "<a" not in rendered and "<img" not in rendered
    # Every character is shown as it was written, in HTML's own escapes as markdown-it writes them.
    paragraphs = [html_text(p) for p in text.split("\n\n")]
    assert rendered == "".join(f"<p>{p}</p>\n" for p in paragraphs)


def test_escaped_text_has_no_autolink_left_for_gfm():
    # GitHub's Markdown (which Streamlit speaks) also links bare addresses; the escapes break them.
    escaped = escape_markdown(HOSTILE[3] + " " + LINK)
    for bare in ("://", "www.", "a@b"):
        assert bare not in escaped


@pytest.fixture
def synthetic_app(app_db, monkeypatch):
    """The app on a fresh database, its shared features the synthetic ones (for this test only)."""
    features = synthetic_features(2_000, 500)
    monkeypatch.setattr(ui_support, "load_features", lambda *args, **kwargs: features)
    ui_support.shared_features.clear()
    yield features
    ui_support.shared_features.clear()


def open_app(session_id: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[keys.BROWSER_ID] = TEST_BROWSER  # as if the page had said it
    if session_id is not None:
        at.query_params["session"] = session_id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("bad_id", [LINK, IMAGE], ids=["link", "image"])
def test_a_session_link_with_markdown_is_quoted_inert_in_the_error(synthetic_app, bad_id):
    at = open_app(bad_id)
    [error] = at.error
    assert error.value.startswith("That session link cannot be opened: ")
    assert escape_markdown(repr(bad_id)) in error.value
    assert "](" not in error.value and "://" not in error.value
    # The bad link is dropped: a fresh session gets its own link at its first answer.
    assert at.query_params.get("session") != bad_id


@pytest.mark.parametrize("outcome", ["refused", "imported"])
def test_an_uploaded_file_name_with_markdown_is_quoted_inert(synthetic_app, outcome):
    session = LabellingSession(synthetic_app)
    session.auto_label(1)
    content = b'{"hello": "world"}' if outcome == "refused" else manifest_json(session).encode()
    name = f"{IMAGE}.json"

    at = open_app()
    at.file_uploader(key="import_file").set_value((name, content, "application/json")).run()

    assert not at.exception, [e.value for e in at.exception]
    [message] = at.error if outcome == "refused" else at.toast  # success floats as a toast
    assert escape_markdown(name) in message.value
    assert "](" not in message.value and "://" not in message.value


def test_a_database_that_never_answers_is_reported_on_the_page_within_seconds(
    synthetic_app, silent_server, monkeypatch
):
    monkeypatch.setattr(paths, "DB_URL", f"postgresql+psycopg://tl@127.0.0.1:{silent_server}/tl")
    start = time.perf_counter()
    at = open_app()
    seconds = time.perf_counter() - start

    # Nothing is written before the first answer, so the page draws and says the store is down.
    assert any("cannot connect to the session database" in e.value for e in at.error)
    assert seconds < 10


def test_a_stored_session_whose_settings_hold_markdown_is_listed_inert(synthetic_app, app_db):
    # A manifest chooses its settings' backbone name; the recent list shows it in a button.
    store = ui_support.session_store()
    session = LabellingSession(synthetic_app, SessionSettings(backbone=LINK))
    session.auto_label(1)
    stored_id = store.create(session, browser_id=TEST_BROWSER)

    at = open_app()

    [button] = [b for b in at.sidebar.button if b.key == f"reopen_{stored_id}"]
    assert escape_markdown(session.settings.summary()) in button.label
    assert "](" not in button.label and "://" not in button.label


def test_a_layer_that_tells_the_classes_apart_no_better_than_chance_is_said(app_db, monkeypatch):
    """An untrained network with the right layer names gives features of the right shape."""
    import dataclasses

    import numpy as np

    good = synthetic_features(2_000, 500)
    rng = np.random.default_rng(0)
    noise = rng.dirichlet(np.ones(10), size=len(good.pool) + len(good.test)).astype(np.float32)
    untrained = dataclasses.replace(
        good, pool=noise[: len(good.pool)], test=noise[len(good.pool) :]
    )
    monkeypatch.setattr(ui_support, "load_features", lambda *args, **kwargs: untrained)
    ui_support.shared_features.clear()
    try:
        at = open_app()
        assert any("Check the model file" in w.value for w in at.sidebar.warning)
    finally:
        ui_support.shared_features.clear()
