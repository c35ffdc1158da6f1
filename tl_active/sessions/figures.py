"""The figures a session draws and records: per round, and for the head it has now.

After each round the session fills the round's record with what the app's charts read: the
head's weights and biases, its figures (test accuracy, precision, recall and F1, or, without a
test set, cross-validated ones), the distribution of its p over the pool (`p_histogram`) and
the mean p per class (`p_by_class`). The frozen-head ceiling, the figures of a head fitted on
every pool label of a task, is here too, memoised per feature set and task.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from tl_active.core.head import L2_SIMPLEX, make_head
from tl_active.core.metrics import Metrics, task_metrics
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


_CEILINGS: dict[tuple, Metrics] = {}


def frozen_head_ceiling(features: FeatureSet, task: Task) -> Metrics:
    """The test figures of the head fitted on every pool label of the task: the frozen ceiling.

    Memoised per feature set and task, since a fit on the whole pool takes up to seconds.
    """
    key = (features.key, id(features) if not features.key else 0, task)
    if key not in _CEILINGS:
        data = features.task_data(task)
        # Tens of thousands of labels need only the small penalty of the demo's head (the larger
        # one of a wide layer is for few labels), and a gradient within 1e-6 moves no answer.
        head = make_head(task.n_outputs, "converge", not features.simplex, l2=L2_SIMPLEX, tol=1e-6)
        head.fit(data.pool, data.truth_pool)
        _CEILINGS[key] = task_metrics(data.truth_test, head.predict_proba(data.test))
    return _CEILINGS[key]


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
    "p_by_class",
    "p_histogram",
    "start_metrics",
]
