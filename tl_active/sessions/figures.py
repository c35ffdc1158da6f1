"""The figures a session draws and records: per round, and for the head it has now.

After each round the session fills the round's record with what the app's charts read: the
head's weights and biases, its figures (test accuracy, precision, recall and F1, or, without a
test set, cross-validated ones), the distribution of its p over the pool (`p_histogram`) and
the mean p per class (`p_by_class`). The frozen-head ceiling, the figures of a head fitted on
every pool label of a task, is here too, memoised per feature set and task.

A rare answer (`metrics.rare_output`) is read by its PR-AUC and how many of it are found, which a
round does not record (its record keeps the figures every question has): both are read back
from what it does record, the head's weights and the answers (`rare_curve`).
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

from tl_active.core.head import L2_SIMPLEX, make_head
from tl_active.core.metrics import Metrics, average_precision, binary_metrics, task_metrics
from tl_active.core.task import Task
from tl_active.data.features import FeatureSet
from tl_active.sessions.records import RoundRecord

if TYPE_CHECKING:
    from tl_active.sessions.session import LabellingSession

HISTOGRAM_BINS = 20


def p_histogram(p: np.ndarray) -> list[int]:
    """Counts of p in HISTOGRAM_BINS equal bins over [0, 1] (p = 1 falls in the last)."""
    bins = np.minimum((p * HISTOGRAM_BINS).astype(np.intp), HISTOGRAM_BINS - 1)
    return np.bincount(bins, minlength=HISTOGRAM_BINS).tolist()


# Per feature set and task: the ceiling's figures, and the PR-AUC of each output of a question
# with two answers (none for more).
_CEILINGS: dict[tuple, tuple[Metrics, tuple[float, ...]]] = {}


def _ceiling(features: FeatureSet, task: Task) -> tuple[Metrics, tuple[float, ...]]:
    key = (features.key, id(features) if not features.key else 0, task)
    if key not in _CEILINGS:
        data = features.task_data(task)
        # Tens of thousands of labels need only the small penalty of the demo's head (the larger
        # one of a wide layer is for few labels), and a gradient within 1e-6 moves no answer.
        head = make_head(task.n_outputs, "converge", not features.simplex, l2=L2_SIMPLEX, tol=1e-6)
        head.fit(data.pool, data.truth_pool)
        proba = head.predict_proba(data.test)
        pr_auc = (
            tuple(average_precision(data.truth_test == k, proba[:, k]) for k in (0, 1))
            if task.n_outputs == 2
            else ()
        )
        _CEILINGS[key] = (task_metrics(data.truth_test, proba), pr_auc)
    return _CEILINGS[key]


def frozen_head_ceiling(features: FeatureSet, task: Task) -> Metrics:
    """The test figures of the head fitted on every pool label of the task: the frozen ceiling.

    Memoised per feature set and task, since a fit on the whole pool takes up to seconds.
    """
    return _ceiling(features, task)[0]


def frozen_head_ceiling_pr_auc(features: FeatureSet, task: Task, output: int = 1) -> float:
    """The frozen ceiling's PR-AUC for one answer of a two-answer question's test set (fitted
    once, as above)."""
    return _ceiling(features, task)[1][output]


CV_FOLDS = 5


def cross_validated_metrics(
    x: np.ndarray, labels: np.ndarray, n_outputs: int, fit_intercept: bool, seed: int = 0
) -> Metrics:
    """The figures of a head fitted on part of the labels and scored on the rest, k-fold.

    What can honestly be said of a head where there is no test set: each label is predicted
    by a head that never saw it (up to `CV_FOLDS` folds, drawn with `seed`). With fewer than
    two labels nothing can be held out, and the figures are those of an untrained head.
    """
    n = len(labels)
    if n == 0:
        return Metrics(0.0, 0.0, 0.0, 0.0)
    if n < 2:
        return task_metrics(labels, np.full((n, n_outputs), 1.0 / n_outputs))
    folds = np.random.default_rng(seed).permutation(n) % min(CV_FOLDS, n)
    proba = np.empty((n, n_outputs))
    for fold in range(min(CV_FOLDS, n)):
        held = folds == fold
        head = make_head(n_outputs, "converge", fit_intercept=fit_intercept)
        head.fit(x[~held], labels[~held])
        proba[held] = head.predict_proba(x[held])
    return task_metrics(labels, proba)


def p_by_class(session: LabellingSession) -> np.ndarray:
    """Per class of the data (binary) or of the task: the mean p the figures show.

    Binary: mean p(positive) over pool images of each true class, so a confused digit
    stands out. K classes: mean p of the true class over its pool images.
    """
    data, n = session.data, len(session.features.class_names)
    proba_pool = session.proba_pool
    if not session.has_test:
        # No truth: the mean p of each answer over the images the head gives it.
        k, said = session.task.n_outputs, proba_pool.argmax(axis=1)
        right = proba_pool[np.arange(data.size), said]
        counts = np.bincount(said, minlength=k)
        return np.bincount(said, weights=right, minlength=k) / np.maximum(counts, 1)
    if session.task.is_binary:
        counts = np.bincount(data.y_pool, minlength=n)
        sums = np.bincount(data.y_pool, weights=proba_pool[:, 1], minlength=n)
        return sums / np.maximum(counts, 1)
    k = session.task.n_outputs
    right = proba_pool[np.arange(data.size), data.truth_pool]
    counts = np.bincount(data.truth_pool, minlength=k)
    return np.bincount(data.truth_pool, weights=right, minlength=k) / np.maximum(counts, 1)


def fill_figures(record: RoundRecord, session: LabellingSession) -> None:
    """Record the session's head as it is after the round, and the figures it gives."""
    head = session.head
    record.weights = head.coef_.tolist()
    record.bias = [float(b) for b in head.intercept_]
    record.metrics = session.metrics().as_dict()
    if session.charts:
        record.p_histogram = p_histogram(session.p_pool)
        record.mean_p_by_class = p_by_class(session).tolist()
    state = head.state_
    if state.adam_m is not None:
        record.adam_m, record.adam_v = state.adam_m.tolist(), state.adam_v.tolist()
        record.adam_t = int(state.adam_t)


def rare_curve(
    session: LabellingSession, rounds: Sequence[RoundRecord] | None = None
) -> dict[str, list]:
    """Per round, from 0 labels on, of a two-answer question with a test set: the labels; the
    head's PR-AUC, precision and recall for the rare answer (`session.rare_output`, else output
    1) on the test set; and that answer among the labels (over `rounds`, the session's own by
    default: a snapshot of them, for a file made later).

    The figures are those of the round's recorded head (its weights rank and answer the test
    set as its p does); at 0 labels every p is 0.5, which gives the base rate. The positives
    are the live answers after the round: a correction or an undo changes them as it changes
    the labels the head learns from.
    """
    data = session.data
    output = session.rare_output if session.rare else 1
    positive = session.answer_values[output]
    columns: dict[str, list] = {
        "round": [0],
        "labels": [0],
        "positives": [0],
        "simulated": [False],
    }
    answers: dict[int, str] = {}
    rounds_read = session.rounds if rounds is None else rounds
    for record in rounds_read:
        for index, answer in zip(record.indices, record.answers):
            answers[int(index)] = answer
        columns["round"].append(record.number)
        columns["labels"].append(record.n_labels)
        columns["positives"].append(sum(a == positive for a in answers.values()))
        columns["simulated"].append(record.simulated)
    truth = data.truth_test == output
    # Each round's figures once per session: a record's head never changes, and a page asks
    # for the curve after every round (a test set of 10,000 over 50 rounds took 0.4 s).
    kept = _ROUND_FIGURES.setdefault(session, {})
    figures = [_test_figures(truth, np.zeros(len(truth)), output)]
    for record in rounds_read:
        hit = kept.get(id(record))
        if hit is None or hit[0] is not record:
            score = _output_scores(data.test, [record], output)[0]
            hit = kept[id(record)] = (record, _test_figures(truth, score, output))
        figures.append(hit[1])
    columns["pr_auc"], columns["precision"], columns["recall"] = (list(f) for f in zip(*figures))
    return columns


# Per session, by the id of each round's record (kept with it, so an id is never reused): the
# record's PR-AUC, precision and recall for the rare answer.
_ROUND_FIGURES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _test_figures(truth: np.ndarray, score: np.ndarray, output: int) -> tuple[float, float, float]:
    """PR-AUC of a score for `output`, and the precision and recall of the answers it gives:
    said as the head says it, output 1 where p(1) > 0.5 (`metrics.task_metrics`)."""
    said = score > 0 if output == 1 else score >= 0
    figures = binary_metrics(truth, said)
    return average_precision(truth, score), figures.precision, figures.recall


def _output_scores(test: np.ndarray, rounds: Sequence[RoundRecord], output: int) -> list:
    """Each round's recorded head's logit for `output` of two over the test set: its p ranks
    and answers the test set as this does (p > 0.5 where it is above 0)."""
    scores = []
    for record in rounds:
        weights, bias = np.asarray(record.weights, np.float64), np.asarray(record.bias)
        if len(weights) == 2:  # a softmax over two answers ranks by the difference of its logits
            weights, bias = weights[1:] - weights[:1], bias[1:] - bias[:1]
        logit = test @ weights[0] + bias[0]
        scores.append(logit if output == 1 else -logit)
    return scores


def pr_auc_by_round(
    test: np.ndarray, truth_test: np.ndarray, rounds: Sequence[RoundRecord], output: int = 1
) -> list[float]:
    """The PR-AUC for one answer of a two-answer question's test set of each round's recorded
    head."""
    truth = np.asarray(truth_test) == output
    return [average_precision(truth, s) for s in _output_scores(test, rounds, output)]


def start_metrics(session: LabellingSession) -> Metrics:
    """Test-set figures of the untrained head (every answer equally likely)."""
    k, data = session.task.n_outputs, session.data
    if not session.has_test:
        return cross_validated_metrics(data.pool[:0], np.zeros(0, np.intp), k, False)
    return task_metrics(data.truth_test, np.full((len(data.test), k), 1.0 / k))


__all__ = [
    "CV_FOLDS",
    "HISTOGRAM_BINS",
    "cross_validated_metrics",
    "fill_figures",
    "frozen_head_ceiling",
    "frozen_head_ceiling_pr_auc",
    "p_by_class",
    "p_histogram",
    "pr_auc_by_round",
    "rare_curve",
    "start_metrics",
]
