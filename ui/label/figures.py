"""What the head has learned: its weights (with a scrubber back through the rounds), the
learning curve beside them, and below the fold the weights' evolution and the distribution of p.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from tl_active import plots
from tl_active.sessions.figures import rare_curve
from tl_active.sessions.session import LabellingSession
from ui.label.charts import chart
from ui.label.history import history
from ui.labelling import rare_answer_name
from ui.support import escape_markdown


@st.fragment
def weights_panel(session: LabellingSession, layout: plots.HeadLayout) -> None:
    """The head's weights after a round, newest first, with a scrubber back through the rounds.

    The scrubber is always there (disabled before the first round), so that the figures under it
    keep their place when the first round lands.
    """
    rounds = session.rounds
    record_at = len(rounds)
    with st.container(key="weights_slot"):
        title_slot = st.empty()
        chart_slot = st.empty()
    # The key follows the number of rounds, so a new round shows the newest weights.
    selected = st.slider(
        "Scrub through the rounds (0 = start)",
        0,
        max(record_at, 1),
        record_at,
        key=f"scrub_{record_at}",
        disabled=not rounds,
        label_visibility="collapsed",  # said in the heading's help: a line less above the curve
    )
    record = rounds[selected - 1] if selected else None
    n_labels = record.n_labels if record else 0
    auto = " (auto-labelled)" if record and record.simulated else ""
    title = f"Weights after round {selected}: {n_labels} labels{auto}"
    with chart_slot.container():
        weights_note = chart(
            "weights",
            lambda at: plots.weights_live(rounds, at, layout, title),
            selected,
            width="stretch",
        )
    if session.task.is_binary:
        what = (
            f"one weight per {layout.unit_title.split(' (')[0]} to the sigmoid: blue pushes "
            f"towards {plots.answer_name(session.task)}, red away"
        )
    else:
        what = "one row per class, one column per unit: blue pushes towards the class, red away"
    note = (
        f"{what[0].upper()}{what[1:]}; the scale is symmetric around 0 and reaches the largest "
        "|value|. Where a cell is too narrow for its value, the value is left out: point at "
        "the cell to read it. The slider under it scrubs back through the rounds (0 = the start)."
    )
    heading = "**What the head has learned**"
    if session.pool_taught:
        # The pool-taught head's weights come from pseudo-labels too: how many, on the heading.
        heading += f" · with {session.pseudo_count:,} pseudo-labels"
        note += session.features.kind.in_own_words(
            " This head is fitted on your answers and on pseudo-labels: images whose answer "
            "label spreading over the pool's neighbour graph is sure of, each weighing a tenth "
            "of an answer (never written as answers)."
        )
    title_slot.markdown(heading, help=f"{note} {weights_note}".strip())


# The learning curve beside the batch is shorter than its export (260 px), so that it ends
# above the fold at 1280 x 800 under a heatmap of five classes.
CURVE_HEIGHT = 200


def learning_curve(session: LabellingSession) -> None:
    """The curve under the weights; its title on one line, its key in the title's help, so that
    the curve does not move down a line on a narrower screen."""
    start = session.start_metrics().as_dict()
    if not session.has_test:
        st.markdown(
            "**Learning curve**, cross-validated on your labels",
            help="There is no test set: the accuracy is the head's on each of your labels when "
            "fitted on the others. Circles: rounds you answered. Green: you can stop.",
        )
        chart(
            "curve",
            lambda: plots.curve_live(session.rounds, start, None),
            spec_height=CURVE_HEIGHT,
        )
        return
    truth = session.features.kind.truth
    if session.rare:
        answer = rare_answer_name(session)
        kind = session.features.kind
        st.markdown(
            f"**Learning curve** on the held-out test set, and the {escape_markdown(answer)} found",
            help=f"{escape_markdown(answer).capitalize()} is rare ({rare_share(session):.1%} of "
            f"the test {kind.items}), so accuracy says little: a head that never answers "
            f"{escape_markdown(answer)} scores {1 - rare_share(session):.1%}. On the left axis: "
            f"the head's PR-AUC on the test {kind.items} (how well its p ranks them; it starts at "
            "the base rate), and its precision and recall at p > 0.5; the dashed line is the "
            "frozen head's PR-AUC. On the right axis: your "
            f"{escape_markdown(answer)} answers among the labels given (orange), and (grey, "
            "dashed) how many as many labels drawn at random would hold. "
            f"Circles: rounds you answered; triangles: rounds answered by {truth}. Green: you "
            "can stop.",
        )
        chart("curve", lambda: rare_curve_live(session, answer), spec_height=CURVE_HEIGHT)
        return
    ceiling = session.ceiling().as_dict()
    st.markdown(
        "**Learning curve** on the held-out test set",
        help=f"Circles: rounds you answered; triangles: rounds answered by {truth}. "
        "Green: you can stop.",
    )
    chart(
        "curve",
        lambda: plots.curve_live(session.rounds, start, ceiling),
        spec_height=CURVE_HEIGHT,
    )


def rare_share(session: LabellingSession) -> float:
    """The rare answer's share of the test set."""
    return float(np.mean(session.data.truth_test == session.rare_output))


def rare_curve_live(session: LabellingSession, answer: str) -> plots.LiveChart:
    """The rare answer's curve (`plots.rare_curve_live`) from what the session recorded."""
    return plots.rare_curve_live(
        rare_curve(session),
        session.rounds,
        session.ceiling_pr_auc(),
        float(np.mean(session.data.truth_pool == session.rare_output)),
        answer,
    )


def figures(session: LabellingSession, layout: plots.HeadLayout, options: list) -> None:
    """What lies below the fold: the evolution, the distribution of p, the history."""
    task, names, data = session.task, session.features.class_names, session.data
    rounds = session.rounds

    left, right = st.columns(2)
    with left:
        st.markdown("**Evolution of the weights over the rounds**")
        evolution_note = chart(
            "evolution",
            lambda: plots.evolution_live(rounds, layout, len(rounds)),
            width="stretch",
        )
        if evolution_note:
            st.caption(evolution_note)
    with right:
        history(session, options)

    if not session.has_test:
        st.markdown("**p of the head's answer over the pool**, by the answer it would give")
        chart(
            "hist",
            lambda: plots.answer_histogram_live(session.answer_values, session.proba_pool),
        )
        return
    left, right = st.columns(2)
    with left:
        if task.is_binary:
            st.markdown(
                f"**{plots.p_label(task, names)} over the pool**, by "
                f"{session.features.kind.true_class}"
            )
        else:
            st.markdown("**p of the head's top answer over the pool**, right or wrong")
        chart("hist", lambda: plots.histogram_live(task, names, data.y_pool, session.proba_pool))
    with right:
        if task.is_binary:
            st.markdown(
                f"**{plots.p_label(task, names)} per true {session.features.kind.class_word}**: "
                "which are confused"
            )
        else:
            st.markdown("**p of the true class per class**: which classes are still confused")
        chart("digit", lambda: plots.by_class_live(task, names, data.y_pool, session.proba_pool))
