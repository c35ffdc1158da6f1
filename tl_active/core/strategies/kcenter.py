"""k-center greedy, the coreset strategy: ask about the image farthest from everything labelled.

Sener and Savarese (2018) read active learning as covering the pool with balls around the
labelled images, as small as possible: each pick is the free image farthest from its nearest
labelled (or already picked) image, which halves the largest hole in the coverage. At tiny
budgets the farthest images are outliers, which is why it is not a default; it is here to be
compared. Distances are those of the frozen features, to the labelled images only: a pool of
n images and m labels costs n x m distances, in blocks, never n x n.
"""

from __future__ import annotations

import numpy as np

from tl_active.core.strategies.pool import Pick, PoolView, check_room

CENTRES_PER_BLOCK = 256  # labelled images measured against the whole pool at a time


def squared_distances_to(features: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Each image's squared distance to its nearest centre (rows of `centres`)."""
    x = np.asarray(features, np.float64)
    x_norm = np.einsum("ij,ij->i", x, x)
    nearest = np.full(len(x), np.inf)
    for start in range(0, len(centres), CENTRES_PER_BLOCK):
        block = np.asarray(centres[start : start + CENTRES_PER_BLOCK], np.float64)
        d = x_norm[:, None] - 2.0 * (x @ block.T) + np.einsum("ij,ij->i", block, block)[None, :]
        nearest = np.minimum(nearest, d.min(axis=1))
    return np.maximum(nearest, 0.0)


def kcenter_strategy(pool: PoolView, n: int, rng: np.random.Generator) -> list[Pick]:
    """k-center greedy: each pick the free image farthest from every labelled or picked image.

    With nothing labelled, the first pick is the image nearest the pool's mean, the centre a
    single ball would have; then farthest first.
    """
    candidates = check_room(pool, n)
    features = pool.features
    picks: list[Pick] = []
    if len(pool.labelled):
        nearest = squared_distances_to(features, features[pool.labelled])
    else:
        to_mean = squared_distances_to(features, features.mean(axis=0, keepdims=True))
        first = int(candidates[np.argmin(to_mean[candidates])])
        picks.append(Pick(first, 0.0, 1, "nearest the pool's centre"))
        nearest = squared_distances_to(features, features[[first]])
    free = pool.available.copy()
    free[[p.index for p in picks]] = False
    while len(picks) < n:
        options = np.flatnonzero(free)
        best = int(options[np.argmax(nearest[options])])
        distance = float(np.sqrt(nearest[best]))
        rank = int((nearest[candidates] > nearest[best]).sum()) + 1
        picks.append(Pick(best, distance, rank, f"farthest from the labelled ({distance:.3g})"))
        nearest = np.minimum(nearest, squared_distances_to(features, features[[best]]))
        free[best] = False
    return picks
