"""The two baselines a strategy is measured against: a uniform draw, and the demo's band.

`random` is passive learning: what labelling without a strategy gives. `band` is the scheme of
the odd-number demo this app grew from, kept so that the app can be compared with it: a random
draw inside a band of p(positive) around 0.5 that narrows each round. It needs a binary head;
while that head is untrained it draws from the whole pool, as the demo's first round did.
"""

from __future__ import annotations

import numpy as np

from tl_active.core.strategies.pool import Pick, PoolView, check_room, ranked
from tl_active.core.strategies.uncertainty import uncertainty_score


def random_strategy(pool: PoolView, n: int, rng: np.random.Generator) -> list[Pick]:
    """The baseline: n images drawn uniformly from what is left (score: the chance of each)."""
    candidates = check_room(pool, n)
    drawn = rng.choice(candidates, size=n, replace=False)
    chance = 1.0 / len(candidates)
    return [Pick(int(i), chance, rank + 1, "random draw") for rank, i in enumerate(drawn)]


def band_strategy(pool: PoolView, n: int, rng: np.random.Generator) -> list[Pick]:
    """The demo's own scheme (binary tasks): a random draw in a band around 0.5 that narrows.

    In round t (from 0) the band is [min(0.4, 0.1 t), max(0.6, 1 - 0.1 t)]: the whole pool in
    round 0, (0.4, 0.6) from round 4 on. Where the demo silently trained on unchanged data when
    the band held too few images, this fills the batch with the next closest to 0.5, and says so.
    """
    if pool.n_outputs != 2:
        raise ValueError("band is the binary demo's scheme: it needs a binary task")
    candidates = check_room(pool, n)
    p_positive = pool.proba[:, 1]
    low, high = min(0.4, 0.1 * pool.round), max(0.6, 1.0 - 0.1 * pool.round)
    p = p_positive[candidates]
    inside = candidates[(p >= low) & (p <= high)]
    score = uncertainty_score(p_positive)
    drawn = rng.permutation(inside)[:n]
    picks_inside = [
        Pick(int(i), float(score[i]), rank + 1, f"random in band [{low:.1f}, {high:.1f}]")
        for rank, i in enumerate(drawn)
    ]
    if len(drawn) == n:
        return picks_inside
    outside = np.setdiff1d(candidates, inside)
    order = ranked(outside, score[outside], rng, top=n - len(drawn))
    return picks_inside + [
        Pick(int(i), float(score[i]), len(inside) + rank + 1, "band empty: next closest to 0.5")
        for rank, i in enumerate(order)
    ]
