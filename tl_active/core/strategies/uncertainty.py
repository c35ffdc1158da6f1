"""Uncertainty sampling: ask about the images the head is least sure of.

The head's answer probabilities are `pool.proba`, (n, K), with K = 2 (negative, positive) for
a binary task. Three measures of "least sure", each scaled to [0, 1]:

- least confidence, 1 - max p (`uncertainty`);
- margin, 1 - (p of the best class - p of the second) (`margin`);
- entropy of p, over log K (`entropy`).

For a binary head all three order the pool by |p - 0.5|, so they pick the same images there;
they differ from K = 3 on. While the head is still untrained every p is equal, and each of
them is a seeded random draw.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from tl_active.core.rows import row_max
from tl_active.core.strategies.pool import Pick, PoolView, Strategy, check_room, ranked, top_picks


def least_confidence(proba: np.ndarray) -> np.ndarray:
    """1 - max p, scaled so that 1 is "every answer equally likely" (1 - 2|p - 0.5| for K = 2)."""
    k = proba.shape[1]
    return (1.0 - row_max(proba)) * (k / (k - 1))


def margin_score(proba: np.ndarray) -> np.ndarray:
    """1 - (p of the most likely answer - p of the second): 1 where the two tie."""
    if proba.shape[1] == 2:
        return 1.0 - np.abs(proba[:, 1] - proba[:, 0])
    top_two = np.partition(proba, -2, axis=1)[:, -2:]
    return 1.0 - (top_two[:, 1] - top_two[:, 0])


def entropy_score(proba: np.ndarray) -> np.ndarray:
    """The entropy of p over log K: 1 when every answer is equally likely, 0 when one is sure."""
    clipped = np.clip(proba, 1e-12, 1.0)
    return -(proba * np.log(clipped)).sum(axis=1) / np.log(proba.shape[1])


def uncertainty_score(p: np.ndarray) -> np.ndarray:
    """For a binary head's p(positive): 1 at p = 0.5, 0 at p = 0 or 1."""
    return 1.0 - 2.0 * np.abs(p - 0.5)


def unsure_reason(pool: PoolView, what: str) -> str:
    """The tile's reason for an unsure pick: for a binary head every measure is |p - 0.5|."""
    return "closest to p = 0.5" if pool.n_outputs == 2 else what


def _measure_strategy(measure: Callable[[np.ndarray], np.ndarray], reason: str) -> Strategy:
    def strategy(pool: PoolView, n: int, rng: np.random.Generator) -> list[Pick]:
        candidates = check_room(pool, n)
        score = measure(pool.proba)
        order = ranked(candidates, score[candidates], rng, top=n)
        return top_picks(order, score, n, unsure_reason(pool, reason))

    return strategy


uncertainty_strategy = _measure_strategy(least_confidence, "least confident")
uncertainty_strategy.__doc__ = "The n images the head is least confident about (1 - max p)."
margin_strategy = _measure_strategy(margin_score, "smallest margin")
margin_strategy.__doc__ = "The n images whose two most likely answers are closest."
entropy_strategy = _measure_strategy(entropy_score, "highest entropy")
entropy_strategy.__doc__ = "The n images whose answer probabilities have the highest entropy."
