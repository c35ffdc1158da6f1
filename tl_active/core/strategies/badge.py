"""BADGE: uncertainty and diversity at once, through the head's gradient embeddings.

Ash et al. (2020) embed each image as the gradient of the loss its head would have if its
predicted answer were right, with respect to the last layer's weights, and seed k-means++ on
those embeddings: a batch of images that are both unsure (long gradients) and unlike one
another (far apart). For a linear head the gradient is the outer product (p - onehot(argmax
p)) x features, and the distance between two of them needs only the two factors' dot
products: ||g_i - g_j||^2 = |e_i|^2 |x_i|^2 + |e_j|^2 |x_j|^2 - 2 (e_i . e_j)(x_i . x_j). So
nothing of size K x width per image is ever made, and a pick costs one pass over the pool.
"""

from __future__ import annotations

import numpy as np

from tl_active.core.strategies.pool import Pick, PoolView, check_room, ranked


def badge_strategy(pool: PoolView, n: int, rng: np.random.Generator) -> list[Pick]:
    """BADGE: k-means++ seeding over the head's gradient embeddings of the free images.

    The first pick has the longest gradient; each next one is drawn (seeded) with chance in
    proportion to its squared gradient distance from the nearest pick so far.
    """
    candidates = check_room(pool, n)
    proba = np.asarray(pool.proba, np.float64)
    x = np.asarray(pool.features, np.float64)
    error = proba.copy()
    error[np.arange(len(proba)), proba.argmax(axis=1)] -= 1.0
    error_norm = np.einsum("ij,ij->i", error, error)
    x_norm = np.einsum("ij,ij->i", x, x)
    length = error_norm * x_norm  # squared length of each gradient embedding
    first = int(ranked(candidates, length[candidates], rng, top=1)[0])
    picks = [Pick(first, float(np.sqrt(length[first])), 1, "longest gradient")]
    nearest = np.full(len(proba), np.inf)
    free = pool.available.copy()
    free[first] = False
    chosen = first
    while len(picks) < n:
        gap = length + length[chosen] - 2.0 * (error @ error[chosen]) * (x @ x[chosen])
        nearest = np.minimum(nearest, np.maximum(gap, 0.0))
        options = np.flatnonzero(free)
        weight = nearest[options]
        if weight.sum() > 0:
            chosen = int(rng.choice(options, p=weight / weight.sum()))
        else:  # every free gradient equals a pick: any of them
            chosen = int(rng.choice(options))
        rank = int((nearest[candidates] > nearest[chosen]).sum()) + 1
        picks.append(
            Pick(chosen, float(np.sqrt(nearest[chosen])), rank, "gradient far from the picks")
        )
        free[chosen] = False
    return picks
