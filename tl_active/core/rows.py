"""Per-row maximum and minimum of a tall, narrow table of probabilities.

NumPy reduces `p.max(axis=1)` row by row, paying a loop's set-up for every one of the pool's
60,000 rows of 2 to 10 numbers: about 2 ms a call, which the head's softmax, the strategies and
the charts pay many times a round. Going across the columns instead is one vectorised step
per column, 10 to 40 times faster, and gives the same values (a maximum is exact).
"""

from __future__ import annotations

import functools

import numpy as np


def row_max(table: np.ndarray) -> np.ndarray:
    """Each row's largest value (`table.max(axis=1)`)."""
    return functools.reduce(np.maximum, table.T)


def row_min(table: np.ndarray) -> np.ndarray:
    """Each row's smallest value (`table.min(axis=1)`)."""
    return functools.reduce(np.minimum, table.T)


def row_argmax(table: np.ndarray) -> np.ndarray:
    """Each row's column of its largest value, the first one on a tie (`table.argmax(axis=1)`)."""
    best = np.zeros(len(table), np.intp)
    top = table[:, 0].copy()
    for column in range(1, table.shape[1]):
        values = table[:, column]
        larger = values > top
        best[larger] = column
        np.maximum(top, values, out=top)
    return best
