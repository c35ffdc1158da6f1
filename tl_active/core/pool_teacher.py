"""The pool-taught head's teacher: label spreading over the frozen features' neighbour graph.

With a few labels, a linear head sees only those few images; the pool it never sees still
says which images belong together. Label spreading (Zhou et al., Learning with Local and
Global Consistency, NeurIPS 2003) lets each answer flow along a k-nearest-neighbour graph of
the frozen features; an unlabelled image whose spread answer is clear becomes a pseudo-label.
The head stays a linear head on the layer (its weights are still what the page shows): it is
fitted on the person's answers plus those pseudo-labels, each pseudo-label weighing a tenth of
an answer.

Nothing here is quadratic in the pool: the graph is the neighbour table (n x k) made
symmetric, a sparse matrix of about 2nk entries, and spreading is a fixed number of sparse
products. The fixed number matters twice: a round stays fast, and the pseudo-labels depend on
the answers so far alone, so a session replays exactly. The neighbour table itself is made
once per feature set (see `data/neighbour_graph.py`).

Settings, chosen on validation splits of MNIST's training pool, never on a test set
(`bench/bench_pool_validation.py`; the grid and its figures are in docs/compare-and-sweeps.md):
10 neighbours; alpha 0.9 and 30 steps (a long walk, so an answer reaches the far side of its
cluster); a pseudo-label needs 70 % of its spread mass on one answer and weighs a tenth of an
answer (ten agreeing pseudo-labels outweigh one answer, never one alone); at most `PER_ANSWER`
per answer, an even sample of the confident ones (a fixed order of the pool, not the most
confident, which crowd around the labelled images and teach the head nothing new), so a fit
stays small. The safeguard (`safeguard`) keeps only the pseudo-labels in a cluster someone
answered that the plain head agrees with: without it, a digit nobody had answered took its
neighbours' answer, and on odd/even the head fell from 99.9 to 84 % at 12 labels (validation).

A session stores the number of the rules it was labelled under (`TEACHERS`), so it replays
under them after the defaults move on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

# Which of some candidate pseudo-labels (pool positions, spread answers) to keep: a bool each.
Keep = Callable[[np.ndarray, np.ndarray], np.ndarray]

NEIGHBOURS = 10
PER_ANSWER = 2_000


@dataclass(frozen=True)
class PoolTeacher:
    """How answers spread over the pool and which spread answers become pseudo-labels."""

    alpha: float = 0.9  # how much of the mass a step passes on (the rest stays at the answers)
    steps: int = 30
    confidence: float = 0.7  # a pseudo-label's least share of spread mass on its answer
    weight: float = 0.1  # a pseudo-label's weight; a person's answer weighs 1
    per_answer: int = PER_ANSWER
    guarded: bool = True  # keep only the pseudo-labels `safeguard` vouches for

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha < 1.0:
            raise ValueError(f"alpha is between 0 and 1, not {self.alpha}")
        if not 0.5 <= self.confidence <= 1.0:
            raise ValueError(f"confidence is from 0.5 to 1, not {self.confidence}")
        if not 0.0 < self.weight < 1.0:
            raise ValueError(
                f"a pseudo-label weighs less than an answer (0 to 1), not {self.weight}"
            )
        if self.steps < 1 or self.per_answer < 1:
            raise ValueError("steps and per_answer are whole numbers of 1 or more")


# The rules a session was labelled under, by number (stored with a pool-taught session, so a
# session replays under its own rules when the defaults move on). 1: the first rules, before
# the safeguard; 2: today's defaults.
TEACHERS = {
    1: PoolTeacher(alpha=0.2, steps=30, confidence=0.9, weight=0.1, per_answer=400, guarded=False),
    2: PoolTeacher(),
}
POOL_RULES = max(TEACHERS)


def spreading_operator(neighbours: np.ndarray):
    """The normalised graph D^-1/2 W D^-1/2 of a neighbour table (n, k) of positions.

    W links i and j when either is among the other's neighbours (symmetric, unweighted), so
    a dense region and a sparse one pass answers on alike.
    """
    import scipy.sparse as sparse

    n, k = neighbours.shape
    rows = np.repeat(np.arange(n, dtype=np.int32), k)
    links = sparse.csr_matrix(
        (np.ones(n * k, np.float32), (rows, neighbours.ravel().astype(np.int32))), shape=(n, n)
    )
    links = links.maximum(links.T).tocsr()
    links.data[:] = 1.0
    degree = np.asarray(links.sum(axis=1)).ravel()
    scale = 1.0 / np.sqrt(np.maximum(degree, 1.0))
    links = sparse.diags(scale) @ links @ sparse.diags(scale)
    return links.astype(np.float64).tocsr()


def spread(
    operator, labelled: np.ndarray, labels: np.ndarray, n_outputs: int, teacher: PoolTeacher
) -> np.ndarray:
    """Each pool image's spread answer mass, (n, n_outputs): F <- alpha S F + (1 - alpha) Y."""
    # One column per answer, each spread by its own sparse product with a vector: scipy's
    # product with a narrow matrix took six times as long as the same columns one by one. In
    # float64: the mass that reaches an image 20 steps away is about (alpha / degree)^20,
    # below float32's normal numbers, and arithmetic on subnormals took ten times as long.
    seeds = np.zeros((n_outputs, operator.shape[0]), np.float64)
    np.add.at(seeds, (np.asarray(labels, np.intp), np.asarray(labelled, np.intp)), 1.0)
    mass = seeds.copy()
    start = (1.0 - teacher.alpha) * seeds
    for _ in range(teacher.steps):
        for k in range(n_outputs):
            column = operator @ mass[k]
            column *= teacher.alpha
            column += start[k]
            mass[k] = column
    return mass.T


def clear_answers(mass: np.ndarray, teacher: PoolTeacher) -> tuple[np.ndarray, np.ndarray]:
    """Each image's spread answer, and whether it is clear: at least `teacher.confidence` of
    the mass that reached it, on that answer (an image no answer reached is not clear)."""
    total = mass.sum(axis=1)
    answer = mass.argmax(axis=1)
    share = mass[np.arange(len(mass)), answer] / np.maximum(total, 1e-30)
    return answer, (total > 0) & (share >= teacher.confidence)


def pseudo_labels(
    operator,
    labelled: np.ndarray,
    labels: np.ndarray,
    n_outputs: int,
    teacher: PoolTeacher = PoolTeacher(),
    keep: Keep | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The pool positions the spread answers are clear about, and those answers.

    Images already labelled are left out (their answer is the person's), and so are those
    `keep` refuses (see `safeguard`). Among the confident rest, at most `per_answer` of each
    answer, the first in a fixed order of the pool (an even sample of them), so the same
    answers always give the same pseudo-labels.
    """
    empty = np.zeros(0, np.intp)
    if len(labelled) == 0:
        return empty, empty
    answer, clear = clear_answers(spread(operator, labelled, labels, n_outputs, teacher), teacher)
    clear[np.asarray(labelled, np.intp)] = False
    if keep is not None:
        candidates = np.flatnonzero(clear)
        clear[candidates[~keep(candidates, answer[candidates])]] = False
    order = _pool_order(len(answer))
    chosen = []
    for k in range(n_outputs):
        candidates = np.flatnonzero(clear & (answer == k))
        chosen.append(
            candidates[np.argsort(order[candidates], kind="stable")][: teacher.per_answer]
        )
    positions = np.sort(np.concatenate(chosen)) if chosen else empty
    return positions.astype(np.intp), answer[positions].astype(np.intp)


def training_set(
    pool: np.ndarray,
    operator,
    labelled: np.ndarray,
    labels: np.ndarray,
    n_outputs: int,
    teacher: PoolTeacher = PoolTeacher(),
    keep: Keep | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """What the pool-taught head is fitted on: (x, y, weights, pseudo-label count).

    The person's answers first, each of weight 1, then the pseudo-labels at `teacher.weight`.
    """
    labelled = np.asarray(labelled, np.intp)
    positions, answers = pseudo_labels(operator, labelled, labels, n_outputs, teacher, keep)
    x = pool[np.concatenate([labelled, positions])]
    y = np.concatenate([np.asarray(labels, np.intp), answers])
    weights = np.concatenate([np.ones(len(labelled)), np.full(len(positions), teacher.weight)])
    return x, y, weights, len(positions)


def safeguard(
    clusters: np.ndarray, labelled: np.ndarray, plain_answers: Callable[[np.ndarray], np.ndarray]
) -> Keep:
    """Keep a pseudo-label only where the person's answers vouch for it twice over.

    - Its image's cluster (`clusters`, the pool's k-means clusters, one per class) holds one
      of the person's answers: a region nobody has answered is left to the person to ask
      about, rather than handed the answer of the region next to it.
    - The plain head, fitted on the answers alone, gives the same answer there
      (`plain_answers(positions)`): where the answers themselves point elsewhere, a walk
      along the graph is not trusted over them.

    Neither needs the truth, so a session can always apply it.
    """
    answered = np.zeros(int(clusters.max(initial=0)) + 1, bool)
    answered[clusters[np.asarray(labelled, np.intp)]] = True

    def keep(positions: np.ndarray, answers: np.ndarray) -> np.ndarray:
        inside = answered[clusters[positions]]
        agree = np.zeros(len(positions), bool)
        agree[inside] = plain_answers(positions[inside]) == answers[inside]
        return agree

    return keep


@functools.lru_cache(maxsize=8)
def _pool_order(n: int) -> np.ndarray:
    """A fixed rank for each of n pool positions: a seeded permutation, the same every call
    (made once per pool size: a round should not draw 60,000 numbers again)."""
    rank = np.empty(n, np.intp)
    rank[np.random.default_rng(0).permutation(n)] = np.arange(n)
    rank.flags.writeable = False
    return rank
