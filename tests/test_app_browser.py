"""Recent sessions are the browser's own: two browsers on one server, driven with AppTest.

AppTest runs no JavaScript, so each "browser" says its id the way the page's component would
have left it, in `st.session_state`; the component itself runs in `test_browser_id.py`.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tl_active.sessions.store import SessionStore
from ui import keys

pytestmark = [pytest.mark.model, pytest.mark.usefixtures("app_db")]

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def browser(browser_id: str | None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    if browser_id is not None:
        at.session_state[keys.BROWSER_ID] = browser_id
    at.run()
    at.number_input(key="auto_rounds").set_value(1)
    at.button(key="auto_label").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def listed(at: AppTest) -> set[str]:
    at.run()
    return {b.key.removeprefix("reopen_") for b in at.sidebar.button if b.key.startswith("reopen_")}


def test_each_browser_lists_only_the_sessions_it_made(app_db):
    alice, bob = browser("browser-alice-01"), browser("browser-bob-0001")
    alice_id, bob_id = alice.session_state[keys.SESSION_ID], bob.session_state[keys.SESSION_ID]

    assert listed(alice) == {alice_id}
    assert listed(bob) == {bob_id}
    store = SessionStore(app_db)
    assert store.claim(alice_id, "browser-bob-0001") == "browser-alice-01"  # recorded as hers
    assert {s.id for s in store.recent()} == {alice_id, bob_id}  # the store still has both
    store.close()


def test_a_browser_without_a_cookie_gets_an_id_and_lists_only_its_own_sessions(app_db):
    alice = browser("browser-alice-01")
    stranger = browser(None)  # no cookie, no id yet: a first visit
    made = stranger.session_state[keys.BROWSER_ID]
    assert re.fullmatch(r"[A-Za-z0-9_-]{16}", made)  # the shape the browser's own would have
    # Its session is stored with the id made for it from the first run: no claim needed.
    own = stranger.session_state[keys.SESSION_ID]
    assert listed(stranger) == {own}
    store = SessionStore(app_db)
    assert store.claim(own, "browser-alice-01") == made
    assert {s.id for s in store.recent(browser_id=made)} == {own}
    store.close()
    assert alice.session_state[keys.SESSION_ID] != own
