"""Writing new rounds to the store, before the page moves on.

A submitted round (or a corrected label) is written, in one transaction, inside its callback. A
session's first answers store it and name it in the URL. On a write that another tab overtook
(`StaleSessionError`) the tab reloads; on one the database refuses, the rounds are taken back in
memory and the person is told.
"""

from __future__ import annotations

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from tl_active.errors import TlActiveError
from tl_active.sessions.session import LabellingSession
from tl_active.sessions.store import StaleSessionError
from ui import keys
from ui.browser import browser_id
from ui.labelling.opening import reload_stored
from ui.labelling.state import current_id, flash, on_session_changed
from ui.support import escape_markdown, session_store


def store_rounds(session: LabellingSession, records: list) -> bool:
    """Write rounds just made in memory, oldest first, each in its own transaction.

    On a failure the tab goes back to what is stored: behind another tab, it reloads; if the
    database refuses the write, the unstored rounds are taken back in memory. Either way the
    person is told, and nothing already stored is touched.
    """
    session_id = current_id()
    if session_id is None:
        return store_new(session, records)
    for k, record in enumerate(records):
        previous = session.rounds[record.number - 2] if record.number > 1 else None
        try:
            session_store().append_round(session_id, record, previous=previous)
        except StaleSessionError:
            reload_stored(
                f"This session changed in another tab or window; round {record.number} "
                "was not stored"
            )
            return False
        except (TlActiveError, SQLAlchemyError) as error:
            for _ in records[k:]:
                session.undo()
            if k:
                on_session_changed()
            flash(
                "error",
                f"Round {record.number} could not be stored, so it was taken back (your answers "
                f"are kept; submit again): {escape_markdown(error)}",
            )
            return False
    return True


def store_new(session: LabellingSession, records: list) -> bool:
    """The first answers of a session: store it, rounds and all, in one transaction; name it in
    the URL. On a failure the rounds are taken back in memory and the person is told."""
    try:
        session_id = session_store().create(session, browser_id=browser_id())
    except (TlActiveError, SQLAlchemyError) as error:
        for _ in records:
            session.undo()
        flash(
            "error",
            "The session store cannot be written, so this round was taken back (your answers "
            f"are kept; submit again): {escape_markdown(error)}",
        )
        return False
    st.session_state[keys.SESSION_ID] = session_id
    st.query_params[keys.URL_PARAM] = session_id
    return True
