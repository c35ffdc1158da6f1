"""Test-set figures of a head's answers, binary or K-class, and the ceiling a frozen layer allows.

For a binary task precision, recall and F1 are those of the positive class; for K classes they
are macro-averaged (the mean over classes, each class counting once), as scikit-learn's
`average="macro"` does. The **ceiling** of a backbone, layer and task is the frozen-head
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


def is_positive(classes: np.ndarray, target: frozenset[int]) -> np.ndarray:
    """Whether each class belongs to the positive set."""
    return np.isin(classes, sorted(target))
