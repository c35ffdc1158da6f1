"""Label: answer the images the head is least sure of, retrain it, watch its weights evolve.

The page reads top to bottom: the tab's session (from the URL, or new), the sidebar's settings,
the progress line, then the batch beside what the head has learned (its weights and its learning
curve), so that at 1440 x 900 a person sees a round land without scrolling; below, the
evolution, the distribution of p, the history (where any label can be changed) and the
downloads. Each section is a module of `ui.label`; each user action is a callback in
`ui.labelling`, which makes one call on the `LabellingSession`; the page draws what the session
knows.

The batch is answered in the browser (`labelling_grid`): keys and clicks cost the server
nothing, and the submit is one rerun of the page's main area (`labelling_area`, a fragment: the
sidebar is not redrawn). The label check and the weights' scrubber are fragments too, so they
redraw only themselves.
"""

from __future__ import annotations

import streamlit as st

from ui import keys
from ui.label.batch import batch_panel
from ui.label.charts import head_layout
from ui.label.downloads import downloads
from ui.label.figures import figures, learning_curve, weights_panel
from ui.label.fine_tune import before_after, fine_tune_blocked, fine_tune_sidebar
from ui.label.history import label_check
from ui.label.layout import BATCH_AND_HEAD, page_style
from ui.label.look_again import look_again_panel
from ui.label.pool_map import pool_map_panel
from ui.label.progress import layer_note, progress_line, progress_line_without_truth
from ui.label.sidebar import live_demo_sidebar, recent_sessions_sidebar, settings_sidebar
from ui.labelling import current_session, ensure_session, session_options, show_flash
from ui.support import escape_markdown


@st.fragment
def labelling_area() -> None:
    """Everything but the sidebar: the progress line, the batch beside the head, the figures.

    A fragment, so a batch submitted from the grid (or a label changed in the history) reruns
    this and not the sidebar, whose settings and list of sessions a round does not change; the
    callbacks rerun the whole page when it does (a session stored for the first time, another
    one opened). It reads the session from the tab's state on each run, never from arguments
    kept from the last full run.
    """
    session = current_session()
    if st.session_state.get(keys.FT_SHOWN) != fine_tune_blocked(session):
        # A round made the session ready to fine-tune on (or an undo made it not): the sidebar,
        # which a round does not redraw, must show it.
        st.rerun()
    options = session_options(session)
    layout = head_layout(session)
    show_flash()
    kind = session.features.kind
    st.markdown(f"#### Label the {kind.items} the head is least sure of")
    # One line, the folder's path and preparation last: it is cut short where the line is full
    # (the sidebar has it whole), so that a long path moves nothing under it down a line.
    with st.container(key="page_caption"):
        st.caption(
            f"{escape_markdown(session.settings.backbone)} / "
            f"{escape_markdown(session.settings.layer)} · "
            + (
                f"answers {escape_markdown(', '.join(session.settings.answers))}"
                if session.settings.answers
                else session.task.describe(session.features.class_names)
            )
            + ": "
            + (
                f"answer the question for each {kind.item}."
                if session.task.is_binary
                else f"say which class each {kind.item} shows."
            )
            + (f" · {escape_markdown(kind.origin)}" if kind.origin else "")
        )
    if session.has_test:
        with st.spinner(
            "Fitting the frozen-head ceiling (once per backbone, layer and question)..."
        ):
            ceiling = session.ceiling().accuracy
        note = layer_note(session.settings.backbone, session.settings.layer, session.task, ceiling)
        if note:
            st.info(note)
        progress_line(session, ceiling)
    else:
        progress_line_without_truth(session)

    # The batch beside the head: answer on the left, watch the weights and the curve move on
    # the right.
    # Two fifths for the batch, so that its tiles sit two abreast down to 1280 px; on a
    # narrower main area the style sheet puts the head's panel under the batch.
    with st.container(key=BATCH_AND_HEAD):
        batch_side, head_side = st.columns([2, 3], gap="medium")
    with batch_side:
        batch_panel(session, options)
        label_check(session, options)
        look_again_panel(session, options)
    with head_side:
        weights_panel(session, layout)
        learning_curve(session)
        before_after(session)

    pool_map_panel()
    figures(session, layout, options)
    downloads(session, layout)


session = ensure_session()
with st.sidebar:
    settings_sidebar(session)
    live_demo_sidebar(session)
    fine_tune_sidebar(session)
    recent_sessions_sidebar()

page_style()
labelling_area()
