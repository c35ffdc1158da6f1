"""Corrections and undo: changing an earlier answer, "Check my labels", taking a round back.

A correction is a round of its own, stored like a batch. Callbacks of widgets inside a fragment
(the label check) that change the head end with `redraw_page()`, so that the whole page, charts
included, is drawn again rather than only the fragment.
"""

from __future__ import annotations

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from tl_active.errors import TlActiveError
from tl_active.sessions.store import StaleSessionError
from ui import keys
from ui.labelling.answers import answer_word, session_options
from ui.labelling.opening import reload_stored
from ui.labelling.rounds import after_change
from ui.labelling.state import current_id, current_session, flash, on_session_changed, redraw_page
from ui.labelling.storing import store_rounds
from ui.support import escape_markdown, session_store


def on_correct(index: int, answer: str, number: int, looked_again: bool = False) -> None:
    """Change the answer to an image answered earlier: a correction round, stored like a batch.

    `number` is the round the correction was offered for, so a stale page changes nothing;
    `looked_again` marks a correction made from the Look again panel.
    """
    session, session_id = current_session(), current_id()
    try:
        record = session.correct(index, answer, round_number=number, looked_again=looked_again)
    except TlActiveError as error:
        flash("warning", f"Nothing changed: {escape_markdown(error)}.")
        return
    if store_rounds(session, [record]):
        # Named as the page names them: the image as its data kind does, the answer by its label.
        kind = session.features.kind
        words = session_options(session)
        after_change(
            record,
            f"Changed: {escape_markdown(kind.short_name(index))} is now "
            f"{escape_markdown(answer_word(answer, words))} (round {record.number})",
        )
    if (current_session(), current_id()) != (session, session_id):  # reloaded from the store
        redraw_page()


def on_check_fix(index: int, answer: str, number: int) -> None:
    """ "Check my labels"' one-click fix: from its fragment, so the whole page is drawn again."""
    on_correct(index, answer, number)
    redraw_page()


def on_change_form(number: int) -> None:
    """The history's change form: the chosen image gets the chosen answer.

    The form is a fragment of its own (its picker redraws the image being changed), so the
    whole page is drawn again after it, charts and batch included.
    """
    index = st.session_state.get(keys.FIX_IMAGE)
    answer = st.session_state.get(keys.FIX_ANSWER)
    if index is None or answer is None:
        item = current_session().features.kind.item
        flash(
            "warning",
            f"Choose {'an' if item[0] in 'aeiou' else 'a'} {item} and its new answer first.",
        )
        redraw_page()
        return
    on_correct(int(index), answer, number)
    redraw_page()


def on_undo() -> None:
    session = current_session()
    if not session.rounds:
        flash("warning", "There is no round to undo.")
        return
    try:
        session_store().undo_round(current_id(), session.rounds[-1])
    except StaleSessionError:
        reload_stored("This session changed in another tab or window; nothing was undone")
        redraw_page()
    except (TlActiveError, SQLAlchemyError) as error:
        flash(
            "error",
            f"The undo could not be stored, so nothing was taken back: {escape_markdown(error)}",
        )
        return
    record = session.undo()
    if record.is_correction:
        st.session_state.pop(keys.DRAFT, None)
        on_session_changed()
        flash(
            "info",
            f"Round {record.number} undone: "
            f"{escape_markdown(session.features.kind.short_name(record.indices[0]))} has its "
            "answer back.",
        )
        redraw_page()  # from the label check's fragment: the batch and every chart change
    if record.is_bulk:
        st.session_state.pop(keys.DRAFT, None)
        on_session_changed()
        flash(
            "info",
            f"Round {record.number} undone: its {len(record.indices):,} "
            f"{session.features.kind.items} from the map are "
            "unlabelled again.",
        )
        redraw_page()
        return
    # The same batch comes back (its query is seeded by the round); offer it with its answers.
    st.session_state[keys.DRAFT] = {
        "round": record.number,
        "indices": list(record.indices),
        "answers": list(record.answers),
    }
    on_session_changed()
    flash("info", f"Round {record.number} undone: its answers are back on the tiles to change.")
    redraw_page()


def on_check() -> None:
    st.session_state[keys.SHOW_CHECK] = not st.session_state.get(keys.SHOW_CHECK, False)
