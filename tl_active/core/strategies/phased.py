"""A budget-aware strategy: cover the pool while the answers leave much of it unclear, then ask
where the head hesitates.

Low budgets and high budgets want opposite strategies (Hacohen et al. 2022): with a few labels
the typical images that cover the pool teach most; once the labels cover it, the images the
head is unsure of do. `phased` switches between the two on a measured signal, never on a label
count, as DCoM (Mishal and Weinshall, 2024) and TCM (Doucet et al., 2024) switch on coverage.
Its coverage is the share of the pool the answers so far settle: spread over the pool's
neighbour graph as the pool-taught head spreads them (`core/pool_teacher.py`), the share of
images whose spread answer is clear. Below `COVERED` it asks what MaxHerding asks (the largest
gain in kernel coverage, `herding.py`); from there on, the smallest margins spread over
clusters (`diversity`). Each pick's reason says the phase and the coverage it was chosen at.

(ProbCover's own coverage, the share of the pool inside its balls around the labels, was the
first candidate: on the 5-9 network's embedding for digits 0-4 its pure radius is so small
that 60 labels cover 30 % of the pool, so it says little about when to switch.)
"""

from __future__ import annotations

import numpy as np

from tl_active.core.pool_teacher import (
    NEIGHBOURS,
    PoolTeacher,
    clear_answers,
    spread,
    spreading_operator,
)
from tl_active.core.strategies.coverage import diversity_strategy
from tl_active.core.strategies.herding import maxherding_strategy
from tl_active.core.strategies.neighbours import pool_neighbours
from tl_active.core.strategies.pool import Pick, PoolView, check_room

# The share of the pool whose spread answer is clear from which the head's doubts teach more
# than covering: the same 90 % a pseudo-label asks of its own spread answer.
COVERED = PoolTeacher().confidence


def settled_share(pool: PoolView) -> float:
    """The share of the pool whose answer, spread from the labels over the neighbour graph, is
    clear (0 with no labels)."""
    if len(pool.labelled) == 0:
        return 0.0
    operator = pool.cached(
        "spreading operator", lambda x: spreading_operator(pool_neighbours(pool)[1][:, :NEIGHBOURS])
    )
    teacher = PoolTeacher()
    mass = spread(operator, pool.labelled, pool.labels, pool.n_outputs, teacher)
    return float(clear_answers(mass, teacher)[1].mean())


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
