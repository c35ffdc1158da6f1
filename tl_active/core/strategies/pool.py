"""What a strategy sees and what it gives back, and the ranking every strategy shares.

A strategy looks at a `PoolView` (the head's answer probabilities, the frozen features, which
images are still free) and returns `Pick`s: pool positions with their score, their rank in the
pool under that score and a one-line reason for the tile. `check_room` refuses a batch the pool
cannot fill with the named `PoolExhaustedError`; `ranked` orders candidates by score with ties
broken by the seeded generator, so that a session replays exactly from its seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tl_active.errors import PoolExhaustedError


@dataclass(frozen=True)
class PoolView:
    """What a strategy may look at: the task's pool as the frozen layer and the current head see it.

    `clustering` gives (clusters, typicality, typical rank) of the pool, made once per task
    (k-means); it is a function so that strategies that do not need it never pay for it.
    `derived(name, make)` is the task's cache of what strategies make from the features (a
    neighbour table, a ball graph): `make(features)` once per pool, kept under `name`.
    """

    proba: np.ndarray  # (n_pool, K) the head's answer probabilities now
    features: np.ndarray  # (n_pool, width) the frozen layer's outputs
    available: np.ndarray  # (n_pool,) bool: never labelled, never skipped
    labelled: np.ndarray = field(default_factory=lambda: np.zeros(0, np.intp))  # positions
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.intp))  # output indices
    round: int = 0  # rounds submitted so far
    clustering: Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
    new_head: Callable[[], object] | None = None  # a copy of the session's head (committee)
    derived: Callable[[str, Callable[[np.ndarray], object]], object] | None = None

    @property
    def n_outputs(self) -> int:
        return self.proba.shape[1]

    def clusters_and_typicality(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each image's cluster, its typicality, and that typicality as a rank in [0, 1)."""
        if self.clustering is None:
            raise ValueError("this strategy needs the pool's clusters, and none were given")
        return self.clustering()

    def cached(self, name: str, make: Callable[[np.ndarray], object]):
        """`make(features)`, made once per pool when the view lends a cache, else made now."""
        if self.derived is None:
            return make(self.features)
        return self.derived(name, make)


@dataclass(frozen=True)
class Pick:
    """One image chosen for labelling, and why."""

    index: int  # position in the task's pool
    score: float  # the strategy's score: higher means more wanted
    rank: int  # 1 = the pool's most wanted available image under that score
    reason: str  # one line for the tile, e.g. "closest to p = 0.5"


Strategy = Callable[[PoolView, int, np.random.Generator], list[Pick]]
SAMPLE_FOR_TOP = 1_024  # scores sampled to find a floor for the best few (see `unique_top`)


def check_room(pool: PoolView, n: int) -> np.ndarray:
    """The free pool positions, or a `PoolExhaustedError` when fewer than `n` are left."""
    if n < 1:
        raise ValueError(f"batch size must be at least 1, not {n}")
    candidates = np.flatnonzero(pool.available)
    if len(candidates) < n:
        raise PoolExhaustedError(
            f"only {len(candidates)} unlabelled images remain in the pool, a batch needs {n}"
        )
    return candidates


def ranked(
    candidates: np.ndarray, scores: np.ndarray, rng: np.random.Generator, top: int | None = None
) -> np.ndarray:
    """Candidates from highest to lowest score (only the first `top`, when given).

    The candidates are shuffled by the seeded generator first, so that equal scores come out in
    a random but reproducible order; `top` lets a partial sort do the work of a full one. Where
    the first `top` scores are all different, and above the rest, no order of the candidates
    changes them: then the shuffle is left out (the generator is not read after this).
    """
    if top is not None and top < len(candidates):
        unique = unique_top(scores, top)
        if unique is not None:
            return candidates[unique]
    shuffle = rng.permutation(len(candidates))
    shuffled, negated = candidates[shuffle], -scores[shuffle]
    if top is not None and top < len(shuffled):
        head = np.argpartition(negated, top)[:top]
        return shuffled[head[np.argsort(negated[head], kind="stable")]]
    return shuffled[np.argsort(negated, kind="stable")]


def unique_top(scores: np.ndarray, top: int) -> np.ndarray | None:
    """Positions of the `top` highest scores, highest first; None if a tie would decide them.

    A sparse sample's `top`-th highest score is a floor that at least `top` scores reach, and
    few others: the partial sort then runs over a few hundred scores instead of the pool.
    """
    n = len(scores)
    sample = scores[:: max(1, n // SAMPLE_FOR_TOP)]
    near = None
    if len(sample) > top:
        floor = np.partition(sample, len(sample) - top)[len(sample) - top]
        if np.isfinite(floor):
            near = np.flatnonzero(scores >= floor)
    if near is None or len(near) > n // 4:  # scores that tie in bulk: the full partial sort
        near = np.arange(n)
    negated = -scores[near]
    if len(near) > top:
        part = np.argpartition(negated, top)
        head, below = part[:top], negated[part[top]]
    else:
        head, below = np.arange(len(near)), np.inf
    best = negated[head]
    order = np.argsort(best, kind="stable")
    if best.max() < below and np.all(np.diff(best[order]) > 0):
        return near[head[order]]
    return None


def top_picks(order: np.ndarray, score: np.ndarray, n: int, reason: str) -> list[Pick]:
    """The first `n` of a ranked order as picks, ranked 1 to n, each with the same reason."""
    return [Pick(int(i), float(score[i]), rank + 1, reason) for rank, i in enumerate(order[:n])]
