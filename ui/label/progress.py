"""The progress line above the batch: labels, rounds, accuracy, the ceiling and when to stop.

With a test set the line gives the test accuracy beside the frozen-head ceiling (for a rare
positive answer such as snow, its PR-AUC and how many of it the head finds first); without one
(a folder without class folders) the cross-validated accuracy on the person's own labels. The
stopping recommendation ends the line, its reasons in the line's help. `layer_note` warns of a
layer that cannot answer the question well, in the sidebar and above the batch.
"""

from __future__ import annotations

import numpy as np
import streamlit as st

from tl_active.core import stopping
from tl_active.core.task import Task
from tl_active.data.backbones import DIGITS_LAYER
from tl_active.sessions.figures import CV_FOLDS
from tl_active.sessions.session import LabellingSession
from ui.labelling import plural, rare_answer_name
from ui.support import escape_markdown

# The line's container, which the page's style keeps clear of toasts and tests find.
PROGRESS_KEY = "progress_line"


def layer_note(backbone: str, layer: str, task: Task | None, ceiling: float | None = None) -> str:
    """A warning for a layer that cannot answer the question well, or ''.

    The 5-9 network's softmax outputs only say which of 5-9 an image looks like, so a head on
    them tells digits it never saw apart badly: about 61 % in the measurement that asked for
    this warning. Once a session runs on that layer, its own frozen-head ceiling is the figure.
    """
    if backbone != "mnist-cnn-5to9" or layer != DIGITS_LAYER or not task or task.is_binary:
        return ""
    peak = (
        f"its frozen-head ceiling for this question is {ceiling:.1%}"
        if ceiling is not None
        else "it peaks near 61 % (the frozen-head ceiling gives the figure once it runs)"
    )
    return (
        "mnist-cnn-5to9's `digits` layer is its 5 softmax outputs, which only say which of 5-9 "
        f"an image looks like: read for digits it never saw, {peak}. Its `embedding` layer "
        "keeps far more of what tells them apart."
    )


def stopping_status(session: LabellingSession) -> tuple[str, str]:
    """The stopping recommendation after the last round, for the progress line, and its help."""
    if not session.rounds:
        return "", ""
    last = session.rounds[-1]
    text = stopping.recommendation(last.stopping, last.can_stop)
    first = session.stop_round()
    fired = (
        f" It first said so after round {first.number}, at {first.n_labels} labels (the green "
        "line on the learning curve)."
        if first is not None
        else ""
    )
    why = (
        f"\n\nWhen to stop, without the test set: after each round the head's answer for every "
        f"pool {session.features.kind.item} is compared with the round before (Cohen's kappa). Once the mean of the "
        f"last {stopping.KAPPA_WINDOW} rounds reaches {stopping.KAPPA_THRESHOLD} and every "
        "answer has been given, more labels seldom change what the head says (Bloodgood & "
        f"Vijay-Shanker 2009).{fired} After round {last.number}: "
        + stopping.signals_note(last.stopping)
    )
    return (f" · **{text}**" if last.can_stop else f" · {text}"), why


def progress_line_without_truth(session: LabellingSession) -> None:
    """What can honestly be said where the images have no classes: no test set, no ceiling."""
    counts = np.bincount(session.labels, minlength=len(session.answer_values))
    given = ", ".join(f"{a} {n}" for a, n in zip(session.answer_values, counts))
    stop_text, stop_help = stopping_status(session)
    st.container(key=PROGRESS_KEY).markdown(
        f"**{len(session.labelled)} labels** in **{plural(len(session.rounds), 'round')}** "
        f"({escape_markdown(given)}) · cross-validated accuracy on your labels "
        f"**{session.metrics().accuracy:.1%}** · no test set{stop_text}",
        help="These images have no class folders, so there is no ground truth and no test set. "
        "The accuracy is the head's on each of your labels when fitted on the others "
        f"({CV_FOLDS}-fold): what can be said without a truth." + stop_help,
    )


def rare_answer_note(session: LabellingSession) -> str:
    """' · finds 3 of the 37 snow test windows (precision 25%)' for a rare answer."""
    if not session.rare:
        return ""
    output = session.rare_output
    truth = session.data.truth_test == output
    said = session.proba_test.argmax(axis=1) == output
    found = int(np.count_nonzero(truth & said))
    precision = found / max(int(np.count_nonzero(said)), 1)
    answer = rare_answer_name(session)
    return (
        f" · finds **{found}** of the {int(truth.sum())} {escape_markdown(answer)} test "
        f"{session.features.kind.items} (precision {precision:.0%})"
    )


def progress_line(session: LabellingSession, ceiling: float) -> None:
    rounds = session.rounds
    simulated = sum(r.simulated for r in rounds)
    auto = f" ({simulated} auto-labelled)" if simulated else ""
    stop_text, stop_help = stopping_status(session)
    items = session.features.kind.items
    if session.rare:
        # PR-AUC first: accuracy stays near the share of negatives whatever the head learns.
        figures = (
            f"test PR-AUC now **{session.pr_auc():.2f}**{rare_answer_note(session)} · "
            f"frozen-head ceiling {session.ceiling_pr_auc():.2f} · accuracy "
            f"{session.metrics().accuracy:.1%}"
        )
        about = (
            f"PR-AUC on the {len(session.data.test):,} held-out test {items} of the question, "
            "never offered for labelling: how well the head's p ranks them, from the base rate "
            "(p the same for all) to 1 (every positive first). The frozen-head ceiling is the "
            "same head fitted on every pool label of this backbone, layer and question."
        )
    else:
        figures = (
            f"test accuracy now **{session.metrics().accuracy:.1%}** · "
            f"frozen-head ceiling {ceiling:.1%}"
        )
        about = (
            f"Accuracy on the {len(session.data.test):,} held-out test {items} of the question, "
            "never offered for labelling. The frozen-head ceiling is the same head fitted on "
            "every pool label of this backbone, layer and question: what a few labels can "
            "approach."
        )
    st.container(key=PROGRESS_KEY).markdown(
        f"**{len(session.labelled)} labels** in **{plural(len(rounds), 'round')}**{auto} · "
        f"{figures}{stop_text}",
        help=about + stop_help,
    )
