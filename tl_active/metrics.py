"""Test-set figures for a binary target, and the ceiling the frozen CNN allows.

The ceiling is what reading the target off the CNN's own argmax gives: a head on the softmax
outputs can match it but, the CNN being frozen, hardly beat it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


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


def is_positive(digits: np.ndarray, target: frozenset[int]) -> np.ndarray:
    """Whether each digit belongs to the positive class."""
    return np.isin(digits, sorted(target))


def ceiling(test_probs: np.ndarray, y_test: np.ndarray, target: frozenset[int]) -> Metrics:
    """The figures of reading the target off the frozen CNN's argmax on the test set."""
    return binary_metrics(
        is_positive(y_test, target), is_positive(test_probs.argmax(axis=1), target)
    )
