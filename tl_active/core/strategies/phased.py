"""A budget-aware strategy: cover the pool while the answers leave much of it unclear, then ask
where the head hesitates.

Low budgets and high budgets want opposite strategies (Hacohen et al. 2022): with a few labels
the typical images that cover the pool teach most; once the labels cover it, the images the
head is unsure of do. `phased` switches between the two on a measured signal, never on a label
count, as DCoM (Mishal and Weinshall, 2024) and TCM (Doucet et al., 2024) switch on coverage.
Its coverage is the share of the pool the answers so far settle: spread over the pool's
neighbour graph as the pool-taught head spreads them (`core/pool_teacher.py`), the share of
images whose spread answer is clear and whose cluster someone has answered (an answer that
leaked into a cluster nobody answered settles nothing, as the pool-taught head's safeguard
says). Below `COVERED` it asks what MaxHerding asks (the largest gain in kernel coverage,
`herding.py`); from there on, the smallest margins spread over clusters (`diversity`). Each
pick's reason says the phase and the coverage it was chosen at.

`COVERED` was chosen on validation splits (`bench/bench_pool_validation.py`): of 50, 70 and
90 %, 90 % gave the best accuracy on digits 0-4 and on odd/even alike; switching earlier cost
up to 4.6 points on 0-4 at 10 labels and 6.7 on odd/even at 12.

(ProbCover's own coverage, the share of the pool inside its balls around the labels, was the
first candidate: on the 5-9 network's embedding for digits 0-4 its pure radius is so small
that 60 labels cover 30 % of the pool, so it says little about when to switch.)
"""

from __future__ import annotations

import numpy as np

from tl_active.core.pool_teacher import (
    NEIGHBOURS,
    POOL_RULES,
    TEACHERS,
    clear_answers,
    spread,
    spreading_operator,
)
from tl_active.core.strategies.coverage import diversity_strategy
from tl_active.core.strategies.herding import maxherding_strategy
from tl_active.core.strategies.neighbours import pool_neighbours
from tl_active.core.strategies.pool import Pick, PoolView, check_room

# The share of the pool settled from which the head's doubts teach more than covering: chosen
# on validation splits of MNIST's training pool, never on its test set (see above).
COVERED = 0.9


def settled_share(pool: PoolView) -> float:
    """The share of the pool whose answer, spread from the labels over the neighbour graph, is
    clear, inside the clusters someone has answered (0 with no labels).

    Spread as today's pool-taught head spreads (`pool_teacher.TEACHERS`); a region nobody has
    answered is not settled, however clear the answer that leaked into it.
    """
    if len(pool.labelled) == 0:
        return 0.0
    operator = pool.cached(
        "spreading operator", lambda x: spreading_operator(pool_neighbours(pool)[1][:, :NEIGHBOURS])
    )
    teacher = TEACHERS[POOL_RULES]
    mass = spread(operator, pool.labelled, pool.labels, pool.n_outputs, teacher)
    clear = clear_answers(mass, teacher)[1]
    if pool.clustering is not None:
        clusters = pool.clusters_and_typicality()[0]
        clear &= np.isin(clusters, clusters[pool.labelled])
    return float(clear.mean())


def phased_strategy(pool: PoolView, n: int, rng: np.random.Generator) -> list[Pick]:
    """MaxHerding's picks while the labels settle less than `COVERED` of the pool, then
    diversity's."""
    check_room(pool, n)
    coverage = settled_share(pool)
    if coverage < COVERED:
        phase, picks = "covering", maxherding_strategy(pool, n, rng)
    else:
        phase, picks = "margin", diversity_strategy(pool, n, rng)
    return [
        Pick(p.index, p.score, p.rank, f"{phase} ({coverage:.0%} settled): {p.reason}")
        for p in picks
    ]
