"""Fine-tuning's callbacks: its Cancel, and its outcome (a continued session, or why not)."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError

from tl_active.errors import TlActiveError
from tl_active.experiments.fine_tune import FineTuneOutcome
from ui.browser import browser_id
from ui.labelling.opening import use_session
from ui.labelling.state import current_id, flash
from ui.support import escape_markdown, session_store


def on_fine_tune_cancel() -> None:
    """Its click reruns the page, which stops the fine-tuning at its next progress step."""
    # Said by the new run while the old one is still stopping: what it saved goes within an
    # epoch or a chunk of images.
    flash("info", "Fine-tuning stopped: nothing changed, the session goes on as it was.")


def fine_tuned(outcome: FineTuneOutcome) -> bool:
    """A fine-tune's outcome: the continued session stored and opened, or why the old one stays.

    Returns whether the page now shows another session (and must be drawn again).
    """
    message = escape_markdown(outcome.message)
    if outcome.continued is None:
        flash("warning", message)
        return False
    parent = current_id()
    try:
        session_id = session_store().create(outcome.continued, browser_id=browser_id())
    except (TlActiveError, SQLAlchemyError) as error:
        flash(
            "error",
            f"{message} The new session could not be stored, so this one goes on as it was: "
            f"{escape_markdown(error)}",
        )
        return False
    use_session(outcome.continued, session_id, widgets_drawn=True)
    flash("success", f"{message} Session {session_id} continues session {parent} on it.")
    return True
