"""Submitting rounds: the batch on offer, its answers from the grid, auto-labelling, and a
region of the pool map labelled at once.

The batch is answered in the browser (`labelling_grid`) and reaches the server once, at its
submit: the session retrains, the round is stored, and the page's fragment draws it. A box
dragged on the pool map gives one answer to every unanswered image in it: a bulk round, stored
and undone like any other.
"""

from __future__ import annotations

import streamlit as st

from tl_active.errors import TlActiveError
from tl_active.sessions.session import LabellingSession
from ui import keys
from ui.labelling.answers import answer_word, rare_answer_name, session_options
from ui.labelling.state import current_session, flash, on_session_changed, redraw_page
from ui.labelling.storing import store_rounds
from ui.support import escape_markdown

# A box holding this many images to label asks for a tick beside their count first.
LARGE_REGION = 1_000


def open_batch(session: LabellingSession):
    """The batch on offer, and the answers to show on it: none, or those of an undone round.

    The answers in progress live in the browser (`labelling_grid`) until the batch is submitted;
    only an undone round's answers come from here, so that they can be changed and sent again.
    """
    picks = session.next_batch()
    indices = [p.index for p in picks]
    draft = st.session_state.get(keys.DRAFT)
    if draft and draft["round"] == len(session.rounds) + 1 and draft["indices"] == indices:
        return picks, list(draft["answers"])
    return picks, None


def headline(session: LabellingSession, record) -> str:
    """The figure a round is told by: a rare answer's PR-AUC and how many of it the labels hold
    (accuracy says 98 % for a head that never answers snow); else the accuracy."""
    if session.rare:
        answer = rare_answer_name(session)
        found = sum(a == session.rare_answer for a in session.live_answers().values())
        return f"test PR-AUC {session.pr_auc():.2f}, {found} {escape_markdown(answer)} among them"
    which = "test" if session.has_test else "cross-validated"
    return f"{which} accuracy {record.metrics['accuracy']:.1%}"


def after_change(record, message: str) -> None:
    """A round (a batch or a correction) is learned and stored: tell the person, redraw charts."""
    st.session_state.pop(keys.DRAFT, None)
    on_session_changed()
    flash(
        "success",
        f"{message}: {record.n_labels} labels, {headline(current_session(), record)}.",
    )


def on_grid_submit(submission: dict) -> None:
    """The batch's answers, sent once by the grid: retrain, store the round, then the page draws.

    The grid sends the round it showed; the session refuses answers for any other (a second
    tab, a double submit), and the person is told rather than a batch being answered unseen.
    """
    session = current_session()
    try:
        record = session.submit(submission["answers"], round_number=submission["round"])
    except TlActiveError as error:
        flash("warning", f"Nothing submitted: {escape_markdown(error)}.")
        return
    if store_rounds(session, [record]):
        after_change(record, f"Round {record.number} learned")
    elif len(session.rounds) < record.number:  # taken back: offer the batch with its answers
        st.session_state[keys.DRAFT] = {
            "round": record.number,
            "indices": list(record.indices),
            "answers": list(record.answers),
        }
    # The grid is in the page's fragment, which a round reruns alone. A session reloaded from
    # the store changes the sidebar too. One stored for the first time does not need it: its
    # link is in the address at once, and the sidebar lists it from its next full run (a whole
    # page run per person's first round is what a room's first minute cannot afford).
    if current_session() is not session:
        redraw_page()


def on_auto_label() -> None:
    session = current_session()
    if not session.has_test:
        flash("warning", "These images have no class folders: there is no truth to answer with.")
        return
    done = session.auto_label(int(st.session_state[keys.AUTO_ROUNDS]))
    if not store_rounds(session, done):
        return
    st.session_state.pop(keys.DRAFT, None)
    on_session_changed()
    if done:
        truth = session.features.kind.truth
        flash("success", f"{len(done)} rounds answered by {truth} (marked 'auto').")
    else:
        items = current_session().features.kind.items
        flash("warning", f"The pool has no unlabelled {items} left for another round.")


def clear_box() -> None:
    """Forget the box on the map and its answer: the chart is drawn with a fresh selection."""
    st.session_state[keys.MAP_BOX_GENERATION] = st.session_state.get(keys.MAP_BOX_GENERATION, 0) + 1
    for key in (keys.MAP_REGION, keys.BULK_ANSWER, keys.BULK_SURE):
        st.session_state.pop(key, None)


def on_bulk_label(indices: list[int], number: int) -> None:
    """The map's box: every unanswered image in it gets the answer chosen, as one bulk round.

    `number` is the round the box was offered for, so a stale page labels nothing; a box of
    `LARGE_REGION` images or more needs its "label all" ticked.
    """
    session = current_session()
    answer = st.session_state.get(keys.BULK_ANSWER)
    if answer is None:
        items = session.features.kind.items
        flash("warning", f"Choose the answer for the {items} in the box first: nothing labelled.")
        return
    if len(indices) >= LARGE_REGION and not st.session_state.get(keys.BULK_SURE):
        flash("warning", f"Tick 'label all {len(indices):,}' first: nothing labelled.")
        return
    try:
        record = session.label_bulk(indices, answer, round_number=number)
    except TlActiveError as error:
        flash("warning", f"Nothing labelled: {escape_markdown(error)}.")
        return
    clear_box()
    if store_rounds(session, [record]):
        kind = session.features.kind
        words = session_options(session)
        after_change(
            record,
            f"{len(record.indices):,} {kind.items} from the map labelled "
            f"{escape_markdown(answer_word(answer, words))} (round {record.number}, bulk)",
        )
    redraw_page()  # from the map's fragment: the batch and every chart change
