"""The session's files: the evolution as a GIF, the figures as a PNG, the labels, the
predictions, the manifest and the head. Each is built when its button is clicked, from a
snapshot of the session taken when the page was drawn.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from tl_active import plots
from tl_active.sessions.exchange import head_keras_bytes, labels_csv, manifest_json, predictions_csv
from tl_active.sessions.figures import rare_curve
from tl_active.sessions.session import LabellingSession
from ui.labelling import current_id, rare_answer_name
from ui.support import session_store


def downloads(session: LabellingSession, layout: plots.HeadLayout) -> None:
    """Files built when their button is clicked, from a snapshot of the session taken now."""
    task, names, data = session.task, session.features.class_names, session.data
    kind = session.features.kind
    rounds, proba = list(session.rounds), session.proba_pool
    start = session.start_metrics().as_dict()
    ceiling = session.ceiling().as_dict() if session.has_test else None
    session_id = current_id()
    name = session_id or "new"

    def figures_png() -> bytes:
        weights = plots.weights_figure(
            rounds, len(rounds), layout, f"Weights after round {len(rounds)}"
        )
        if not session.has_test:
            return plots.figures_png(
                weights,
                plots.p_by_answer_histogram(session.answer_values, proba),
                plots.learning_curve(rounds, start, None),
                title=session.settings.summary(names),
            )
        curve = (
            plots.rare_learning_curve(
                rare_curve(session, rounds),
                rounds,
                session.ceiling_pr_auc(),
                float(np.mean(data.truth_pool == session.rare_output)),
                rare_answer_name(session),
            )
            if session.rare
            else plots.learning_curve(rounds, start, ceiling)
        )
        return plots.figures_png(
            weights,
            plots.p_histogram(task, names, data.y_pool, proba),
            plots.p_by_class_chart(task, names, data.y_pool, proba),
            curve,
            title=session.settings.summary(names),
        )

    def labels_with_undone() -> str:
        # The store is reached only when the file is asked for: a page whose database is down
        # still draws (the sidebar says why nothing can be stored).
        history = session_store().history(session_id) if session_id else []
        undone = [h.record for h in history if h.undone]
        return labels_csv(session, undone=undone)

    row = st.container(horizontal=True)
    row.download_button(
        "Evolution as GIF",
        data=lambda: plots.evolution_gif(
            rounds, layout, plots.p_label(task, names), data.size, start["accuracy"]
        ),
        file_name="tl-active-evolution.gif",
        mime="image/gif",
        on_click="ignore",
        icon=":material/movie:",
        help="One frame per round (about a fifth of a second each to draw).",
    )
    row.download_button(
        "Figures as PNG",
        data=figures_png,
        file_name="tl-active-figures.png",
        mime="image/png",
        on_click="ignore",
        icon=":material/image:",
    )
    # Built when clicked, not on every run: the CSV reads the taken-back rounds from the store,
    # and the .keras file needs TensorFlow, which takes seconds to load.
    row.download_button(
        "Labels as CSV",
        data=labels_with_undone,
        file_name=f"tl-active-{name}-labels.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/table:",
        help=kind.in_own_words(
            "One row per answered image: "
            + (
                "pool index (a folder's: the image's path)"
                if kind.item == "image"
                else kind.item_column
            )
            + ", answer, round, time, who answered, the true class where known; rounds taken "
            "back with undo are included, marked undone."
        ),
    )
    row.download_button(
        "Predict the rest as CSV",
        data=lambda: predictions_csv(session),
        file_name=f"tl-active-{name}-predictions.csv",
        mime="text/csv",
        on_click="ignore",
        icon=":material/table:",
        help=kind.in_own_words(
            "Every image nobody labelled (and the held-out test images), with the head's "
            "answer and its p: the rest of the data set, labelled by the head."
        ),
    )
    row.download_button(
        "Session as JSON manifest",
        data=lambda: manifest_json(session),
        file_name=f"tl-active-{name}.json",
        mime="application/json",
        on_click="ignore",
        icon=":material/data_object:",
        help="Settings, seed, model checksum and every round: import it to replay the session.",
    )
    row.download_button(
        "Head as .keras",
        data=lambda: head_keras_bytes(session),
        file_name=f"tl-active-{name}-head.keras",
        mime="application/octet-stream",
        on_click="ignore",
        icon=":material/download:",
        help="The head's weights and biases as a Keras Dense model (takes a few seconds).",
    )
