"""Which browser this is: an id the browser keeps, so that its recent list shows only its own.

At a room demo everyone uses one server; a server-wide list of recent sessions would show
everyone's sessions to everyone. So each browser keeps a random id (96 bits, in localStorage,
and in a cookie that reaches the server with the page's first request), every session it makes
is recorded with it in the store (`SessionStore.claim`), and the recent list asks for that
browser's sessions only.

A returning browser's cookie names it in the page's first run. A request without the cookie (a
first visit) gets an id made here, in the same shape the browser would make, and a tiny
components-v2 component (inline JavaScript, nothing fetched, no iframe) stores it in the
browser; the page reruns only if the browser already kept another one (its cookie lost, its
localStorage not), so a new visitor costs one page run, not two. It is not a secret or a
login: anyone with a session's link can still open it.
"""

from __future__ import annotations

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from tl_active.errors import TlActiveError
from tl_active.sessions.store import SESSION_ID_PATTERN, SessionSummary, new_session_id
from ui import keys
from ui.support import session_store

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
    } else if (data.known && shape.test(data.known)) {
      id = data.known;  // made by the server for this first visit: keep it
    } else {
      const bytes = new Uint8Array(12);
      do {  // never beginning with "-", as the server's ids (new_session_id)
        crypto.getRandomValues(bytes);
        id = btoa(String.fromCharCode(...bytes)).replace(/\\+/g, "-").replace(/\\//g, "_");
      } while (id.startsWith("-"));
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


def new_browser_id() -> str:
    """A new browser id, as the browser would make it: 12 random bytes, URL-safe base64."""
    return new_session_id()


def browser_id() -> str:
    """This browser's id: kept by the tab, else from its cookie, else made now (a first visit).

    One made now is kept by the tab and handed to the browser by `remember_browser`, which
    stores it, so a first visit's page, its recent list and the session it stores all use it
    from the first run.
    """
    known = _valid(st.session_state.get(keys.BROWSER_ID))
    if known is None:
        known = _valid(st.context.cookies.get(COOKIE)) or new_browser_id()
        st.session_state[keys.BROWSER_ID] = known
    return known


def remember_browser() -> None:
    """Hand the browser its id, learn the one it keeps, record it as the maker of the session.

    Called by the entry script after the page, on every full run. The component stores the id
    the server knows (from the cookie, or made for a first visit) and reports back only one
    that differs: the browser's own, kept from an earlier visit whose cookie is gone, which
    then reruns the page once. Sessions are stored with the id (`ui.labelling.start_session`);
    this claims one stored before the browser's own id was known, with one small `UPDATE`,
    until that session has a maker.
    """
    known = browser_id()
    with st.sidebar:
        reported = _BROWSER(key=keys.BROWSER_COMPONENT, data={"known": known}, height=0)
    known = _valid((reported or {}).get("id")) or known
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
    """The sessions this browser made, most recently changed first."""
    return session_store().recent(limit=limit, browser_id=browser_id())
