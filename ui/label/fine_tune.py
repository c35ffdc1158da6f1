"""Fine-tuning on the session's labels: the sidebar's button and progress, and the curve of the
session a fine-tuned one continues, drawn beside its own.
"""

from __future__ import annotations

import streamlit as st
from sqlalchemy.exc import SQLAlchemyError

from tl_active import paths, plots
from tl_active.data.backbones import resolve_backbone
from tl_active.data.keras_file import weighted_layers_up_to
from tl_active.errors import TlActiveError
from tl_active.experiments import fine_tune
from tl_active.sessions.figures import pr_auc_by_round
from tl_active.sessions.records import RoundRecord, SessionSettings
from tl_active.sessions.session import LabellingSession
from ui import keys
from ui.labelling import current_id, fine_tuned, on_fine_tune_cancel
from ui.labelling.opening import features_of
from ui.support import escape_markdown, session_store

FINE_TUNE_LAYERS = (1, 2, 3, 4)  # at most; a network with fewer offers only what it has


def layer_choices(session: LabellingSession) -> tuple[int, ...]:
    """The counts of layers to fine-tune a session's network offers: 1 up to its layers with
    weights at or below the head's layer (the weather network's two), read from its file
    without loading it; all of `FINE_TUNE_LAYERS` where the file cannot say."""
    try:
        path = resolve_backbone(session.settings.backbone).path
    except ValueError:
        return FINE_TUNE_LAYERS
    weighted = weighted_layers_up_to(path, session.settings.layer)
    if not weighted:
        return FINE_TUNE_LAYERS
    return tuple(n for n in FINE_TUNE_LAYERS if n <= len(weighted))


def fine_tune_blocked(session: LabellingSession) -> str:
    """Why the session cannot be fine-tuned on now ('' when it can)."""
    why_not = fine_tune.readiness(session)
    if not why_not and current_id() is None:
        why_not = "Fine-tuning needs the session stored: submit a round first."
    return why_not


def fine_tune_sidebar(session: LabellingSession) -> None:
    """Fine-tune on my labels: the backbone's last layers, with a progress bar and a Cancel.

    The training runs in this script run, on the button's click. Any click reruns the page:
    Streamlit starts the new run at once and stops the running one at its next element call,
    here the progress bar's after each epoch and each chunk of 2,000 images, where the core
    removes what it saved (seen in Chromium: a Cancel while the network was being saved left
    nothing once the first chunk of its features was done, 7 s later on a loaded machine).
    """
    st.header("Fine-tune on my labels")
    why_not = fine_tune_blocked(session)
    st.session_state[keys.FT_SHOWN] = why_not
    choices = layer_choices(session)
    if st.session_state.get(keys.FT_LAYERS, choices[0]) not in choices:
        del st.session_state[keys.FT_LAYERS]  # chosen for a deeper network than this one
    st.selectbox(
        "Layers to fine-tune",
        choices,
        index=choices.index(min(fine_tune.DEFAULT_LAYERS, choices[-1])),
        key=keys.FT_LAYERS,
        help="The backbone's last N layers with weights, up to the layer the head reads "
        f"({escape_markdown(session.settings.layer)}), trained with the head on your labels at "
        "a tenth of the transfer lab's learning rate; a fifth of the labels pick the best epoch.",
    )
    run = st.button(
        "Fine-tune on my labels",
        key=keys.FT_RUN,
        disabled=bool(why_not),
        help="A new session continues on the fine-tuned backbone with your labels, if it "
        "answers the held-out test set better; this one stays as it is.",
        width="stretch",
    )
    if why_not:
        st.caption(escape_markdown(why_not))
        return
    if not run:
        last_outcome()
        return
    st.session_state.pop(keys.FT_OUTCOME, None)
    # In a slot, so that the Cancel goes once the run has ended.
    cancel = st.empty()
    cancel.button("Cancel fine-tuning", key=keys.FT_CANCEL, on_click=on_fine_tune_cancel)
    bar = st.progress(0.0, text="fine-tuning: loading the backbone")
    try:
        outcome = fine_tune.fine_tune_session(
            session,
            current_id(),
            int(st.session_state[keys.FT_LAYERS]),
            folder=paths.FINE_TUNED_DIR,
            data_path=paths.MNIST_PATH,
            cache_dir=paths.CACHE_DIR,
            progress=lambda done, what: bar.progress(min(done, 1.0), text=what),
        )
    except (TlActiveError, ValueError) as error:
        outcome = None
        st.session_state[keys.FT_OUTCOME] = (
            current_id(),
            "error",
            f"Fine-tuning failed, nothing changed: {escape_markdown(error)}",
        )
    bar.empty()
    cancel.empty()
    if outcome is not None and fine_tuned(outcome):
        st.rerun()  # the whole page, for the session it now shows
    last_outcome()


OUTCOME_BOXES = {"success": st.success, "info": st.info, "warning": st.warning, "error": st.error}


def last_outcome() -> None:
    """What the last fine-tuning of the session on the page came to, in full, until the next."""
    session_id, kind, text = st.session_state.get(keys.FT_OUTCOME) or (None, None, None)
    if kind and session_id == current_id():
        OUTCOME_BOXES[kind](text)


def parent_rounds(parent_id: str) -> tuple[list[RoundRecord], SessionSettings] | None:
    """The live rounds and settings of the session a fine-tuned one continues (read once per
    tab), or None."""
    kept = st.session_state.get(keys.FT_PARENT)
    if kept and kept[0] == parent_id:
        return kept[1]
    try:
        stored = session_store().session_dict(parent_id)
        parent = (
            [RoundRecord.from_dict(r) for r in stored["rounds"]],
            SessionSettings.from_dict(stored["settings"]),
        )
    except (TlActiveError, SQLAlchemyError, KeyError, TypeError, ValueError):
        parent = None  # e.g. a manifest imported from another store
    st.session_state[keys.FT_PARENT] = (parent_id, parent)
    return parent


def before_after(session: LabellingSession) -> None:
    """A continued session's curve beside that of the session it continues, before fine-tuning:
    by accuracy, or by PR-AUC for a rare answer (each side's rounds read on its own features)."""
    parent_id = session.settings.continued_from
    if not parent_id:
        return
    parent = parent_rounds(parent_id)
    if parent is None:
        st.caption(
            f"Continued from session {escape_markdown(parent_id)} after fine-tuning (that "
            "session is not in this store)."
        )
        return
    before, settings = parent
    st.markdown(
        f"**Before and after fine-tuning**: continued from session {escape_markdown(parent_id)}, whose "
        f"{before[-1].n_labels if before else 0} labels this session starts with"
    )
    names = ("before: the backbone it had", "after: fine-tuned on its labels")
    figure, values = "accuracy", None
    if session.rare:
        old = features_of(settings).task_data(session.task)
        data = session.data
        figure = "pr_auc"
        output = session.rare_output
        values = (
            pr_auc_by_round(old.test, old.truth_test, before, output),
            pr_auc_by_round(data.test, data.truth_test, session.rounds, output),
        )
    frame = plots.before_after_frame(before, session.rounds, names, figure, values)
    st.altair_chart(
        plots.before_after_chart(frame, before[-1].n_labels if before else 0, figure),
        width="stretch",
    )
