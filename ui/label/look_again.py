"""Look again: the Label page's panel of answers the person most likely got wrong.

The suspects come from `sessions/suspects.py` (k-fold heads through cleanlab and the nearest
labelled neighbours, no ground truth), so the panel is the same for MNIST and for a folder with
or without class folders. Each suspect shows its image, the answer given, the one suggested and
why; one click applies the suggestion as a correction round (the controller's `on_correct`,
stored, exported and replayed like any other), or keeps the answer, which clears the suspicion
for that image until its answer changes: kept on the session and in the store at once, so a
reload, another tab opened after or an imported manifest keeps it cleared. The fold heads are kept in the tab's state from round
to round, so each round refits them on its new labels only.
"""

from __future__ import annotations

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from tl_active.errors import TlActiveError
from tl_active.sessions.session import LabellingSession
from tl_active.sessions.suspects import (
    MIN_LABELS,
    Suspect,
    find_suspects,
    session_scores,
    witnesses_for,
)
from ui import keys
from ui.labelling import (
    AnswerOption,
    answer_word,
    current_id,
    current_session,
    flash,
    on_correct,
)
from ui.labelling.state import redraw_page
from ui.support import escape_markdown, session_store
from ui.tiles import THUMB_SCALE, tile_png

SHOWN = 5  # suspects on the panel at once


def suspects_now(session: LabellingSession, words: dict[str, str]) -> list[Suspect]:
    """This revision's suspects, found once per round; the fold heads carried over.

    A revision is the rounds' count and the last one's time: an undo and a new round after it
    make another revision, though the count is the same.
    """
    last = session.rounds[-1].answered_at if session.rounds else 0.0
    session_id, revision = current_id(), (len(session.rounds), last)
    state = st.session_state.get(keys.LOOK_STATE)
    if state is None or state[0] != (session_id, id(session)):
        state = [(session_id, id(session)), None, witnesses_for(session), None]
    if state[1] != revision:
        state[1], state[3] = revision, session_scores(session, state[2])
    st.session_state[keys.LOOK_STATE] = state
    return find_suspects(session, session.kept_now(), scores=state[3], words=words)


def on_toggle() -> None:
    st.session_state[keys.LOOK_SHOWN] = not st.session_state.get(keys.LOOK_SHOWN, False)


def on_apply(index: int, answer: str, number: int) -> None:
    """The suggestion, as a correction round; from a fragment, so the page is drawn again."""
    on_correct(index, answer, number, looked_again=True)
    redraw_page()


def on_keep(index: int, answer: str) -> None:
    """The answer stays and stops being a suspect: kept on the session, then in the store.

    A session not stored yet keeps it in memory and stores it with its first answers; if the
    store refuses the write, the suspicion comes back and the person is told.
    """
    session, session_id = current_session(), current_id()
    new = (int(index), answer) not in session.kept
    try:
        session.keep(index, answer)
    except TlActiveError as error:
        flash("warning", f"Nothing was kept: {escape_markdown(error)}.")
        redraw_page()  # the message shows on the page, outside this fragment
        return
    if session_id is None:
        return
    try:
        session_store().keep_answer(session_id, index, answer)
    except (TlActiveError, SQLAlchemyError) as error:
        if new:
            session.kept.discard((int(index), answer))
        flash(
            "error",
            f"Your answer could not be kept, so it is still a suspect: {escape_markdown(error)}",
        )
        redraw_page()


@st.fragment
def look_again_panel(session: LabellingSession, options: list[AnswerOption]) -> None:
    """The "Look again" button and, when open, the top suspects with their one-click fixes."""
    kind = session.features.kind
    st.button(
        "Look again",
        key=keys.LOOK_TOGGLE,
        on_click=on_toggle,
        disabled=not session.rounds,
        help=f"Your answers the head and the nearest labelled {kind.items} doubt, without any "
        "ground truth: each with the answer they suggest and why.",
    )
    if not st.session_state.get(keys.LOOK_SHOWN):
        return
    words = {o.value: o.label for o in options}
    suspects = suspects_now(session, words)
    number = len(session.rounds) + 1
    with st.container(border=True, key="look_again_panel"):
        if not suspects:
            st.success(
                "Nothing to look at again: the head and the nearest labelled neighbours agree "
                f"with your answers (they speak from {MIN_LABELS} labels and two answers given "
                "on)."
            )
            return
        st.warning(
            f"{len(suspects)} of your answers look doubtful"
            + (f"; the first {SHOWN}:" if len(suspects) > SHOWN else ":")
        )
        for position, suspect in enumerate(suspects[:SHOWN]):
            picture, text, fix = st.columns([1, 5, 3], vertical_alignment="center")
            picture.image(tile_png(session, suspect.index, THUMB_SCALE))
            # An image's path and a class's name are the person's: shown as written.
            name = escape_markdown(kind.short_name(suspect.index))
            text.caption(
                f"{name}: you said {escape_markdown(answer_word(suspect.answer, options))}; "
                f"{escape_markdown(suspect.reason)}"
            )
            fix.button(
                f"Make it {answer_word(suspect.suggested, options)}",
                wrap=True,
                key=f"look_fix_{suspect.index}",
                on_click=on_apply,
                args=(suspect.index, suspect.suggested, number),
                shortcut="Alt+A" if position == 0 else None,
                help="A correction round, as the history's form makes it"
                + (" (Alt+A for the first)" if position == 0 else ""),
            )
            fix.button(
                f"Keep {answer_word(suspect.answer, options)}",
                wrap=True,
                key=f"look_keep_{suspect.index}",
                on_click=on_keep,
                args=(suspect.index, suspect.answer),
                shortcut="Alt+K" if position == 0 else None,
            )
