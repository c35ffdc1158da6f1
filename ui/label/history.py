"""The person's answers: every round's in a table, a form to change any one, and "Check my
labels" (each answer the truth disagrees with, and its fix in one click).

A change is a correction round of its own, stored, exported and replayed like a batch.
"""

from __future__ import annotations

import pyarrow as pa
import streamlit as st

from tl_active.core.task import SKIP
from tl_active.sessions.figures import rare_curve
from tl_active.sessions.session import LabellingSession
from ui import keys
from ui.labelling import answer_word, on_change_form, on_check, on_check_fix, on_undo
from ui.support import escape_markdown
from ui.tiles import THUMB_SCALE, image_name, image_uri, thumb_scale, tile_png


def accuracy_column(session: LabellingSession) -> str:
    """The heading of the figure after each round: a rare answer's PR-AUC, else accuracy."""
    if session.rare:
        return "test PR-AUC after"
    return "test accuracy after" if session.has_test else "cross-validated accuracy after"


def history_rows(session: LabellingSession, options: list) -> pa.Table:
    """Every answer of every round, newest first, with its image: built once per revision."""
    revision = (id(session), st.session_state.get(keys.REVISION, 0))
    kept = st.session_state.get(keys.HISTORY)
    if kept and kept[0] == revision:
        return kept[1]
    # The picture's column is named as the kind names its items ("image", "window").
    picture = session.features.kind.item
    columns: dict[str, list] = {
        "round": [],
        picture: [],
        session.features.kind.item_column: [],
        "answer": [],
        "answered by": [],
        accuracy_column(session): [],
    }
    kind = session.features.kind
    words = {o.value: o.label for o in options}
    # A rare answer's PR-AUC after each round, read from its recorded head; else its accuracy.
    figures = (
        rare_curve(session)["pr_auc"][1:]
        if session.rare
        else [r.metrics["accuracy"] for r in session.rounds]
    )
    for r, figure in zip(reversed(session.rounds), reversed(figures), strict=True):
        who = kind.auto_answerer if r.simulated else "person"
        who = f"{who}, correction" if r.is_correction else f"{who}, bulk" if r.is_bulk else who
        n = len(r.indices)
        columns["round"] += [r.number] * n
        columns[picture] += [image_uri(session, i, thumb_scale(kind)) for i in r.indices]
        columns[kind.item_column] += [kind.item_id(i) for i in r.indices]
        columns["answer"] += [words[a] for a in r.answers]
        columns["answered by"] += [who] * n
        columns[accuracy_column(session)] += [figure] * n
    # An Arrow table straight from the columns, made once per revision: `st.dataframe` sends it
    # without converting, and no pandas frame is built on the way.
    frame = pa.table(columns)
    st.session_state[keys.HISTORY] = (revision, frame)
    return frame


def history(session: LabellingSession, options: list) -> None:
    """Every answer, and a form to change any one of them (or skip it): a correction round."""
    st.markdown("**History**: every answer; change any one below")
    if not session.rounds:
        st.caption("No rounds yet.")
        return
    kind = session.features.kind
    st.dataframe(
        history_rows(session, options),
        hide_index=True,
        height=300,
        key="history_table",
        row_height=kind.history_row_px,
        column_config={
            kind.item: st.column_config.ImageColumn(
                # Wide enough for the picture at the row's height (a window's chart is wider
                # than high); a digit or a photo keeps the narrow column.
                width="small" if kind.history_row_px is None else "medium"
            ),
            accuracy_column(session): st.column_config.NumberColumn(
                format="%.3f" if session.rare else "percent"
            ),
        },
    )
    change_form(session, options)


@st.fragment
def change_form(session: LabellingSession, options: list) -> None:
    """Which image, shown as the batch showed it, and its new answer: a correction round.

    A fragment, not an `st.form`: choosing an image redraws its thumbnail beside the picker
    (and nothing else), so the person sees what they are about to change.
    """
    answered = [i for r in reversed(session.rounds) for i in r.indices]
    answered = list(dict.fromkeys(answered))  # each image once, most recent first
    words = {o.value: o.label for o in options}
    now = session.live_answers()  # one pass, not a search per image listed
    with st.container(border=True, key="change_label"):
        kind = session.features.kind
        # The picture's column as wide as the history shows it (a 56 px digit: a sixth).
        share = max(1, round(kind.history_px / 56))
        picker, thumbnail = st.columns([5, share], vertical_alignment="bottom")
        with picker:
            index = st.selectbox(
                session.features.kind.in_own_words("Image to change (the newest first)"),
                answered,
                key=keys.FIX_IMAGE,
                format_func=lambda i: f"{image_name(session, i)}: now {words[now[i]]}",
            )
        if index is not None:
            with thumbnail:
                st.image(
                    tile_png(session, index, thumb_scale(kind)),
                    caption=f"now {words[now[index]]}",
                    width=kind.history_px,
                )
        # One above the other: beside the picker, five classes and Skip ran out of room.
        st.segmented_control("New answer", list(words), key=keys.FIX_ANSWER, format_func=words.get)
        st.button(
            "Change this label",
            key="change_label_button",
            on_click=on_change_form,
            args=(len(session.rounds) + 1,),
            help="The head is retrained on the corrected labels; the change is a round of its "
            "own (stored, exported, replayed; undo takes it back).",
        )


@st.fragment
def label_check(session: LabellingSession, options: list) -> None:
    """ "Check my labels" and its panel, each disagreement with its fix in one click.

    A fragment, so opening and closing it redraws nothing else; a fix reruns the whole page.
    """
    kind = session.features.kind
    disagrees = "disagree" if kind.truth_is_plural else "disagrees"
    row = st.container(horizontal=True)
    row.button(
        "Undo last batch",
        key="undo",
        on_click=on_undo,
        disabled=not session.rounds,
        help="Take back the last round submitted (a batch, a correction or an auto-labelled "
        "round); a batch comes back with its answers, to change.",
    )
    row.button(
        "Check my labels",
        key="check",
        on_click=on_check,
        disabled=not session.has_test,
        help=f"Which of your answers {kind.truth} {disagrees} with, each with its fix.",
    )
    if not st.session_state.get(keys.SHOW_CHECK):
        return
    wrong = session.disagreements()
    given = sum(a != SKIP for r in session.rounds if not r.simulated for a in r.answers)
    number = len(session.rounds) + 1
    with st.container(border=True, key="check_panel"):
        if not wrong:
            st.success(f"All {given} of your answers agree with {kind.truth}.")
            return
        st.warning(f"{len(wrong)} of your {given} answers disagree with {kind.truth}:")
        for item in wrong:
            picture, text, fix = st.columns([1, 5, 3], vertical_alignment="center")
            picture.image(tile_png(session, item["index"], THUMB_SCALE))
            # An image's path and a class's name are the person's: shown as written.
            name = escape_markdown(kind.short_name(item["index"]))
            text.caption(
                f"{name}, round {item['round']}: you said "
                f"{answer_word(item['answer'], options)}, "
                f"{escape_markdown(kind.says(kind.class_name(item['digit'])))}"
            )
            fix.button(
                f"Make it {answer_word(item['truth'], options)}",
                wrap=True,  # a class's name in full, never cut to "Make it..."
                key=f"fix_{item['index']}",
                on_click=on_check_fix,
                args=(item["index"], item["truth"], number),
            )
