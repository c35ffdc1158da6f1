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
`herding.py`), but first the most typical image of each cluster nobody has answered
(TypiClust's pick: MaxHerding's own best image in a cluster can sit on its edge, another
class's); from there on, the smallest margins spread over clusters (`diversity`). Each pick's
reason says the phase and the coverage it was chosen at.

The switch, once made, stays made. The settled share is not monotone (a new answer can make a
region less clear: on digits 0-4 it moved between 86 and 91 % from 10 to 50 labels), so
`phased` switches once any prefix of the answers, in the order given, settled `COVERED` of
the pool. That is derived from the labels alone, so a session replays exactly and stores
nothing new. Spreading is linear in the answers, so every prefix costs one spread of its
newest answer, three answers to a pass of the graph, and once the switch is made none
(`PrefixShares`, kept per pool and by prefix, so the sessions sharing a pool each go on from
their own answers).

`COVERED` was chosen on validation splits (`bench/bench_pool_validation.py`, stage 2). Under
the pool-taught rules 5, of 70, 80, 90, 95 and 98 %, 90 % gave the best mean on digits 0-4
(93.91 / 95.52 / 96.16 % at 10 / 20 / 50 labels, 3 splits; on 9 splits 0.14 point above 95 %,
standard error 0.05) and stayed at the reference on odd/even (99.89 % at 12 labels); 70 or
80 % switch after the first round and are `diversity`. (Under rules 2 to 4 the same rule had
chosen 95 %.)

(ProbCover's own coverage, the share of the pool inside its balls around the labels, was the
first candidate: on the 5-9 network's embedding for digits 0-4 its pure radius is so small
that 60 labels cover 30 % of the pool, so it says little about when to switch.)
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict

import numpy as np

from tl_active.core.head import on_simplex
from tl_active.core.pool_teacher import (
    NEIGHBOURS,
    POOL_RULES,
    PoolTeacher,
    clear_answers,
    spread,
    spreading_operator,
    teacher_for,
)
from tl_active.core.strategies.coverage import diversity_strategy
from tl_active.core.strategies.herding import herd
from tl_active.core.strategies.neighbours import spreading_table
from tl_active.core.strategies.pool import Pick, PoolView, check_room

# The share of the pool settled from which the head's doubts teach more than covering: chosen
# on validation splits of MNIST's training pool, never on its test set (see above).
COVERED = 0.90


def _teacher(pool: PoolView) -> PoolTeacher:
    """Today's pool-taught rules on this pool's kind of layer (`pool_teacher.teacher_for`)."""
    return teacher_for(POOL_RULES, pool.cached("on the simplex", on_simplex))


def _operator(pool: PoolView, teacher: PoolTeacher):
    # The session's own operator, made from the same table the same way (`spreading_table`):
    # whichever of the two comes first makes it for both.
    return pool.cached(
        teacher.operator_name,
        lambda x: spreading_operator(
            spreading_table(pool, NEIGHBOURS, teacher.standardised), directed=teacher.directed
        ),
    )


def _share(pool: PoolView, mass: np.ndarray, labelled: np.ndarray, teacher: PoolTeacher) -> float:
    clear = clear_answers(mass, teacher)[1]
    if pool.clustering is not None:
        clusters = pool.clusters_and_typicality()[0]
        clear &= np.isin(clusters, clusters[labelled])
    return float(clear.mean())


def settled_share(pool: PoolView) -> float:
    """The share of the pool whose answer, spread from the labels over the neighbour graph, is
    clear, inside the clusters someone has answered (0 with no labels).

    Spread as today's pool-taught head spreads (`pool_teacher.teacher_for`); a region nobody
    has answered is not settled, however clear the answer that leaked into it.
    """
    if len(pool.labelled) == 0:
        return 0.0
    teacher = _teacher(pool)
    mass = spread(_operator(pool, teacher), pool.labelled, pool.labels, pool.n_outputs, teacher)
    return _share(pool, mass, pool.labelled, teacher)


class PrefixShares:
    """The settled share of every prefix of a pool's answers, kept between rounds.

    Keyed by the prefix itself (its positions and answers) and the teacher, so a cache hit
    is the very figure a fresh computation would give. One is kept per pool and shared by
    every session on it, so the spread masses are kept by prefix too (the most recently
    used, up to `KEPT_BYTES`): a session's next round starts from its own longest prefix and
    spreads only its new answers. (Keeping only the last prefix seen, a room's thirty
    sessions took turns to evict each other's, and every round spread all of a session's
    answers again.)
    """

    KEPT_BYTES = 256 * 2**20

    def __init__(self) -> None:
        self.shares: dict[tuple, float] = {}
        self.masses: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()  # sessions are threads of one server

    def __getstate__(self) -> dict:
        # Sent to `compare`'s workers with the pool's other tables: the shares travel, the
        # lock cannot and the masses (up to KEPT_BYTES) are not worth sending.
        return {"shares": self.shares}

    def __setstate__(self, state: dict) -> None:
        self.__init__()
        self.shares.update(state["shares"])

    def first_covered(self, pool: PoolView, teacher: PoolTeacher) -> tuple[int, float]:
        """The length of the first prefix that settled `COVERED` of the pool, and its share;
        else (0, the share of all the answers)."""
        keys = []
        digest = hashlib.sha1(repr(teacher).encode())
        for position, label in zip(pool.labelled, pool.labels):
            digest.update(np.asarray([position, label], np.int64).tobytes())
            keys.append((teacher, digest.hexdigest()))
        # Prefix by prefix, up to the first that settled COVERED: the masses of the prefixes
        # not seen yet come, in order, from one walk that spreads their answers.
        share, masses = 0.0, None
        try:
            for k, key in enumerate(keys, start=1):
                if masses is not None or key not in self.shares:
                    if masses is None:
                        masses = self._masses(pool, teacher, keys, k)
                    mass = next(masses)
                    if key not in self.shares:
                        self.shares[key] = _share(pool, mass, pool.labelled[:k], teacher)
                share = self.shares[key]
                if share >= COVERED:
                    return k, share
            return 0, share
        finally:
            if masses is not None:
                masses.close()

    def _masses(self, pool: PoolView, teacher: PoolTeacher, keys: list, first: int):
        """The spread mass of the first k answers for k = `first`, `first` + 1, ... (as many
        as are asked for), from the kept mass of the longest shorter prefix; the last one
        asked for is kept.

        Spreading is linear, so each answer spreads alone into a column of its own, and a
        prefix's mass is the sum of its answers' columns, added in the order of the answers.
        The answers spread up to three in one pass of the graph (each in its own column, so
        each column is what a pass of its own would give, to the last bit).
        """
        done, mass = 0, None
        with self._lock:
            for j in range(first - 1, 0, -1):
                if keys[j - 1] in self.masses:
                    self.masses.move_to_end(keys[j - 1])
                    done, mass = j, self.masses[keys[j - 1]].copy()
                    break
        if mass is None:
            mass = np.zeros((pool.features.shape[0], pool.n_outputs))
        operator = _operator(pool, teacher)
        given = 0  # the longest prefix whose mass was handed out
        try:
            for group in range(done, len(keys), 3):
                answers = np.arange(group, min(group + 3, len(keys)))
                alone = spread(
                    operator, pool.labelled[answers], answers - group, len(answers), teacher
                )
                for column, i in enumerate(answers):
                    mass[:, pool.labels[i]] += alone[:, column]
                    if i + 1 >= first:
                        given = i + 1
                        yield mass
        finally:
            if given:  # the walk stops at a hand-out: the mass is that prefix's
                self._keep(keys[given - 1], mass)

    def _keep(self, key: tuple, mass: np.ndarray) -> None:
        with self._lock:
            self.masses[key] = mass
            kept = sum(each.nbytes for each in self.masses.values())
            while kept > self.KEPT_BYTES and len(self.masses) > 1:
                kept -= self.masses.popitem(last=False)[1].nbytes


def phased_strategy(pool: PoolView, n: int, rng: np.random.Generator) -> list[Pick]:
    """MaxHerding's picks, each unanswered cluster first, until some prefix of the answers
    settled `COVERED` of the pool; diversity's from then on."""
    check_room(pool, n)
    switched_at, coverage = _phase(pool)
    if switched_at:
        phase = f"margin (switched at {switched_at} labels, {coverage:.0%} settled)"
        return _told(phase, diversity_strategy(pool, n, rng))
    return _covering(pool, n, rng, coverage)


def phased_ahead(pool: PoolView, n: int, rng: np.random.Generator) -> list[Pick] | None:
    """The batch while `phased` covers, which reads the answers and the features but never
    the head, so it is made while the head refits; None once it has switched (margins read the
    head). Either way the prefix shares are made, and kept for the call that follows.

    On digits 0-4 of the 5-9 embedding the shares and the herding are two thirds of a
    pool-taught round's own work beside the refit (about 50 and 25 ms of 150).
    """
    check_room(pool, n)
    switched_at, coverage = _phase(pool)
    return None if switched_at else _covering(pool, n, rng, coverage)


def _phase(pool: PoolView) -> tuple[int, float]:
    prefixes = pool.cached("phased prefix shares", lambda x: PrefixShares())
    return prefixes.first_covered(pool, _teacher(pool))


def _covering(pool: PoolView, n: int, rng: np.random.Generator, coverage: float) -> list[Pick]:
    clusters = None if pool.clustering is None else pool.clusters_and_typicality()[:2]
    return _told(f"covering ({coverage:.0%} settled)", herd(pool, n, rng, clusters))


def _told(phase: str, picks: list[Pick]) -> list[Pick]:
    return [Pick(p.index, p.score, p.rank, f"{phase}: {p.reason}") for p in picks]
