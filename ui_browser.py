"""Which browser this is: an id the browser keeps, so that its recent list shows only its own.

At a room demo everyone uses one server; a server-wide list of recent sessions would show
everyone's sessions to everyone. So each browser makes itself a random id once (96 bits, in
localStorage, and in a cookie that reaches the server with the page's first request), every
session it makes is recorded with it in the store (`SessionStore.claim`), and the recent list
asks for that browser's sessions only. A browser seen for the first time has made nothing yet:
its list holds only the session it is on.

The id is made by a tiny components-v2 component (inline JavaScript, nothing fetched, no
iframe). It is not a secret or a login: anyone with a session's link can still open it.
"""

from __future__ import annotations

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

import ui_keys as keys
from tl_active.errors import TlActiveError
from tl_active.store import SESSION_ID_PATTERN, SessionSummary
from ui_support import session_store

COOKIE = "tl_active_browser"

_JS = """
export default function ({ data, setStateValue }) {
  const KEY = "tl-active-browser";
  const shape = /^[A-Za-z0-9_-]{8,64}$/;
  let id = null;
  try { id = window.localStorage.getItem(KEY); } catch (e) { /* storage off: a cookie only */ }
  if (!id || !shape.test(id)) {
    const match = document.cookie.match(/(?:^|; )tl_active_browser=([A-Za-z0-9_-]{8,64})/);
    if (match) {
      id = match[1];
    } else {
      const bytes = new Uint8Array(12);
      crypto.getRandomValues(bytes);
      id = btoa(String.fromCharCode(...bytes)).replace(/\\+/g, "-").replace(/\\//g, "_");
    }
    try { window.localStorage.setItem(KEY, id); } catch (e) { /* a cookie only */ }
  }
  document.cookie = `tl_active_browser=${id}; path=/; max-age=31536000; SameSite=Strict`;
  if (data.known !== id) setStateValue("id", id);
}
"""

_BROWSER = st.components.v2.component("tl_active_browser", html="<span hidden></span>", js=_JS)


def _valid(value: object) -> str | None:
    return value if isinstance(value, str) and SESSION_ID_PATTERN.fullmatch(value) else None


def browser_id() -> str | None:
    """This browser's id, once known: from its cookie, or from the component on a first visit."""
    return _valid(st.session_state.get(keys.BROWSER_ID)) or _valid(st.context.cookies.get(COOKIE))


def remember_browser() -> None:
    """Learn this browser's id, and record it as the maker of the tab's session if none is.

    Called by the entry script after the page, on every run: sessions started once the id is
    known are stored with it (`ui_session.start_session`); this catches the one a browser's
    very first page started, with one small `UPDATE`, until that session has a maker.
    """
    known = browser_id()
    with st.sidebar:
        reported = _BROWSER(key=keys.BROWSER_COMPONENT, data={"known": known}, height=0)
    known = _valid((reported or {}).get("id")) or known
    if known is None:
        return
    st.session_state[keys.BROWSER_ID] = known
    session_id = st.session_state.get(keys.SESSION_ID)
    if session_id is None or st.session_state.get(keys.BROWSER_CLAIMED) == session_id:
        return
    try:
        owner = session_store().claim(session_id, known)
    except (TlActiveError, SQLAlchemyError):
        return  # the page itself says when the store cannot be reached
    if owner is not None:  # None: not stored yet, try again on the next run
        st.session_state[keys.BROWSER_CLAIMED] = session_id


def recent_sessions(limit: int) -> list[SessionSummary]:
    """The sessions this browser made, most recently changed first; none if it is not known yet."""
    known = browser_id()
    return session_store().recent(limit=limit, browser_id=known) if known else []
