"""Fine-tuning's callbacks: its Cancel, and its outcome (a continued session, or why not).

The outcome is said twice: as a toast, and under the sidebar's button for as long as the
session it concerns is on the page (a toast is gone in seconds, and cut short when long).
"""

from __future__ import annotations

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from tl_active.errors import TlActiveError
from tl_active.experiments.fine_tune import FineTuneOutcome
from ui import keys
from ui.browser import browser_id
from ui.labelling.opening import use_session
from ui.labelling.state import current_id, flash
from ui.support import escape_markdown, session_store


def said(kind: str, text: str, session_id: str | None = None) -> None:
    """A fine-tune's outcome, as a toast and under the sidebar's button (text escaped)."""
    flash(kind, text)
    st.session_state[keys.FT_OUTCOME] = (session_id or current_id(), kind, text)


def on_fine_tune_cancel() -> None:
    """Its click reruns the page, which stops the fine-tuning at its next progress step."""
    # Said by the new run while the old one is still stopping: what it saved goes within an
    # epoch or a chunk of images.
    said("info", "Fine-tuning stopped: nothing changed, the session goes on as it was.")


def fine_tuned(outcome: FineTuneOutcome) -> bool:
    """A fine-tune's outcome: the continued session stored and opened, or why the old one stays.

    Returns whether the page now shows another session (and must be drawn again).
    """
    message = escape_markdown(outcome.message)
    if outcome.continued is None:
        said("warning", message)
        return False
    parent = current_id()
    try:
        session_id = session_store().create(outcome.continued, browser_id=browser_id())
    except (TlActiveError, SQLAlchemyError) as error:
        said(
            "error",
            f"{message} The new session could not be stored, so this one goes on as it was: "
            f"{escape_markdown(error)}",
        )
        return False
    use_session(outcome.continued, session_id, widgets_drawn=True)
    said("success", f"{message} Session {session_id} continues session {parent} on it.", session_id)
    return True
