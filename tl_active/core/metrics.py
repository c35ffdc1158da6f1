"""Test-set figures of a head's answers, binary or K-class, and the ceiling a frozen layer allows.

For a binary task precision, recall and F1 are those of the positive class; for K classes they
are macro-averaged (the mean over classes, each class counting once), as scikit-learn's
`average="macro"` does. For a rare positive answer (snow on 2 % of days) accuracy says little:
the head that never says "yes" scores 98 %; its **PR-AUC** (average precision over the test
set's ranking by p) starts at the base rate and rises only as the head finds the positives, so
that is the figure such a question is read by. The **ceiling** of a backbone, layer and task is the frozen-head
ceiling: the same head fitted on every pool label, scored on the test set. A head trained on a
few labels can approach it; the layer being frozen, it can hardly pass it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from tl_active.core.rows import row_argmax


@dataclass(frozen=True)
class Metrics:
    accuracy: float
    precision: float
    recall: float
    f1: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def binary_metrics(truth: np.ndarray, predicted: np.ndarray) -> Metrics:
    """Accuracy, precision, recall and F1 of 0/1 predictions (0 where a ratio has no denominator)."""
    truth = np.asarray(truth, bool)
    predicted = np.asarray(predicted, bool)
    true_pos = int(np.count_nonzero(truth & predicted))
    predicted_pos = int(np.count_nonzero(predicted))
    actual_pos = int(np.count_nonzero(truth))
    precision = true_pos / predicted_pos if predicted_pos else 0.0
    recall = true_pos / actual_pos if actual_pos else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return Metrics(float(np.mean(truth == predicted)), precision, recall, f1)


def multiclass_metrics(truth: np.ndarray, predicted: np.ndarray, n_classes: int) -> Metrics:
    """Accuracy and macro-averaged precision, recall and F1 over `n_classes` classes."""
    truth = np.asarray(truth, np.intp)
    predicted = np.asarray(predicted, np.intp)
    confusion = np.bincount(truth * n_classes + predicted, minlength=n_classes**2).reshape(
        n_classes, n_classes
    )
    hits = np.diag(confusion).astype(float)
    said, real = confusion.sum(axis=0), confusion.sum(axis=1)
    precision = np.divide(hits, said, out=np.zeros(n_classes), where=said > 0)
    recall = np.divide(hits, real, out=np.zeros(n_classes), where=real > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros(n_classes), where=both > 0)
    return Metrics(
        float(hits.sum() / max(len(truth), 1)),
        float(precision.mean()),
        float(recall.mean()),
        float(f1.mean()),
    )


def task_metrics(truth: np.ndarray, proba: np.ndarray) -> Metrics:
    """The figures of a head's class probabilities `proba` (n, outputs) against output indices.

    Binary heads (2 outputs) call p(positive) > 0.5 positive, so an untrained head (every p =
    0.5) calls nothing positive.
    """
    if proba.shape[1] == 2:
        return binary_metrics(truth == 1, proba[:, 1] > 0.5)
    return multiclass_metrics(truth, row_argmax(proba), proba.shape[1])


# A two-answer question one of whose answers is rarer than this in the test set (snow: 2 %) is
# read by that answer's PR-AUC and how many of it are found: accuracy says "98 %" for a head
# that finds none.
RARE_SHARE = 0.2


def rare_output(truth_test: np.ndarray, n_outputs: int) -> int | None:
    """The output of a two-answer question that is rare in its test set (present, but under
    RARE_SHARE of it), or None: snow's 1, or either class of a folder of two. Decided by the
    base rate alone, whatever the data."""
    truth_test = np.asarray(truth_test, np.intp)
    if n_outputs != 2 or not len(truth_test):
        return None
    shares = np.bincount(truth_test, minlength=2)[:2] / len(truth_test)
    rare = int(np.argmin(shares))
    return rare if 0 < shares[rare] < RARE_SHARE else None


def average_precision(truth: np.ndarray, scores: np.ndarray) -> float:
    """The area under the precision-recall curve, as scikit-learn's `average_precision_score`:
    the precision at each distinct score, weighted by the recall it adds (tied scores count as
    one step). The base rate for scores that rank nothing; 0 without a positive.
    """
    truth = np.asarray(truth, bool)
    scores = np.asarray(scores, np.float64)
    n_positive = int(np.count_nonzero(truth))
    if not n_positive:
        return 0.0
    order = np.argsort(-scores, kind="mergesort")
    scores, truth = scores[order], truth[order]
    # The last item of each run of equal scores: where the ranking can be cut.
    cuts = np.r_[np.flatnonzero(np.diff(scores)), len(scores) - 1]
    true_pos = np.cumsum(truth)[cuts]
    precision = true_pos / (cuts + 1)
    recall_added = np.diff(np.r_[0, true_pos]) / n_positive
    return float(np.sum(precision * recall_added))


def is_positive(classes: np.ndarray, target: frozenset[int]) -> np.ndarray:
    """Whether each class belongs to the positive set."""
    return np.isin(classes, sorted(target))
