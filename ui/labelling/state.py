"""The tab's session and its messages: where the page finds the session, and how a callback
speaks to the next run.

The session and its id live in `st.session_state`; a callback says what happened with `flash`,
and the next run shows it as a toast (an error stays on the page). Every change to the session
bumps a revision, which tells the chart and history caches to draw again.
"""

from __future__ import annotations

import streamlit as st

from tl_active.sessions.session import LabellingSession
from ui import keys


def redraw_page() -> None:
    """From a callback in a fragment: rerun the whole page, not only the fragment."""
    st.rerun()


def plural(n: int, word: str) -> str:
    return f"{n} {word}{'s' * (n != 1)}"


def current_session() -> LabellingSession:
    return st.session_state[keys.SESSION]  # `ensure_session` makes sure there is one


def current_id() -> str | None:
    """The session's id in the store, or None while it has no answer (and is not stored)."""
    return st.session_state.get(keys.SESSION_ID)


# Material icons, not emoji: a browser without an emoji font draws those as boxes.
TOAST_ICONS = {
    "success": ":material/check_circle:",
    "info": ":material/info:",
    "warning": ":material/warning:",
}


def flash(kind: str, text: str) -> None:
    """A message for the next run (text from people or files must be escaped by the caller)."""
    st.session_state[keys.FLASH] = (kind, text)


def show_flash() -> None:
    """The message as a toast, which floats over the page instead of pushing it down.

    An error also stays on the page, where it cannot be missed: errors come on opening a
    session or when the store fails, not while the person is answering.
    """
    kind, text = st.session_state.pop(keys.FLASH, (None, None))
    if kind == "error":
        st.error(text)
    elif kind:
        st.toast(text, icon=TOAST_ICONS[kind])


def on_session_changed() -> None:
    """After every submitted round, undo, auto-labelling, new, opened or reloaded session.

    By then the change is already in the store (the callbacks write first). The revision
    counter tells the chart cache that the figures must be drawn again.
    """
    st.session_state[keys.REVISION] = st.session_state.get(keys.REVISION, 0) + 1
    # The change form starts again from the newest image, with no answer chosen: a choice kept
    # from before would name an old image, or an answer it no longer has.
    for key in (keys.FIX_IMAGE, keys.FIX_ANSWER):
        st.session_state.pop(key, None)
