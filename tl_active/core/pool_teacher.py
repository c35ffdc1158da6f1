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
products (one compiled pass over the graph per step, see `SpreadingOperator`). The fixed
number matters twice: a round stays fast, and the pseudo-labels depend on the answers so far
alone, so a session replays exactly. The neighbour table itself is made once per feature set
(see `data/neighbour_graph.py`).

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
Nor are there pseudo-labels while every answer so far is the same one: on a rare answer the
head would be taught the common one everywhere and never ask about the rare one.

The rules differ by layer (`ByLayer`, rules 5). On a softmax layer's class probabilities they
are as above. On a layer of features, the neighbours are found on the features scaled per unit,
the graph is directed (each image reads its own neighbours, and an image many others read
passes less on to each, as scikit-learn's `LabelSpreading` builds it), and a pseudo-label needs
only a cluster someone answered, not the plain head's agreement, on a question of three answers
or more. On 9 validation splits of digits 0-4 on the 5-9 network's embedding that gave 0.73
point more than rules 4 on the same picks (standard error 0.08); the plain head's agreement
alone had cost 0.48 of it, by dropping the pseudo-labels where the few answers' own head was
wrong. On two answers the clusters are halves of the pool and the agreement is the check that
counts (weather's "wet today" lost 2.2 points at 12 labels on 2016's folds without it), and on
class probabilities it keeps a digit nobody has answered from taking its neighbours' answer,
so it stays in both.

A session stores the number of the rules it was labelled under (`TEACHERS`), so it replays
under them after the defaults move on.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tl_active.core.head import LBFGS_MEMORY

# Which of some candidate pseudo-labels (pool positions, spread answers) to keep: a bool each.
Keep = Callable[[np.ndarray, np.ndarray], np.ndarray]

NEIGHBOURS = 10
SYMMETRIC, DIRECTED = "symmetric", "directed"
GRAPHS = (SYMMETRIC, DIRECTED)
PER_ANSWER = 2_000
# A fit's time grows with its rows times the layer's width: 2,000 rows of 128 inputs (400 per
# answer on digits 0-4) keep a round on the wide layer near 100 ms, where 2,000 per answer took
# 255 ms (bench/bench_pool_round.py) for 0.18 point on validation. The demo's 10 inputs keep
# their 2,000 per answer.
FIT_CELLS = 256_000


@dataclass(frozen=True)
class PoolTeacher:
    """How answers spread over the pool and which spread answers become pseudo-labels."""

    alpha: float = 0.9  # how much of the mass a step passes on (the rest stays at the answers)
    steps: int = 30
    confidence: float = 0.7  # a pseudo-label's least share of spread mass on its answer
    weight: float = 0.1  # a pseudo-label's weight; a person's answer weighs 1
    per_answer: int = PER_ANSWER
    guarded: bool = True  # keep only the pseudo-labels `safeguard` vouches for
    # The fit's size: at most this many numbers (pseudo-labels x the layer's width) in all,
    # shared evenly among the answers (None: `per_answer` alone). See `per_answer_for`.
    fit_cells: int | None = FIT_CELLS
    # No pseudo-labels until the answers hold two different answers: one answer alone, spread,
    # only says that every image near an answered one shares it, and a head taught that is
    # sure of it everywhere. On a rare answer (snow on 2.7 % of days) the pool-taught head
    # then never asked about snow: 0 snow days among 40 labels, where the plain head found 13.
    two_answers_first: bool = True
    # The K-class fit's L-BFGS correction pairs (`SoftmaxHead.memory`). With 40 rather than
    # scipy's 10, the fit on digits 0-4's 2,000 pseudo-labels takes a third fewer evaluations
    # (32 against 48 a fit) and the round 82 ms rather than 93 (bench/bench_pool_round.py,
    # docs/benchmarks.md). It reaches the same optimum within the fit's tolerance, not to the
    # last bit, so it is a rule of its own (rules 4).
    fit_memory: int = 40
    # The graph the answers spread over (`spreading_operator`): SYMMETRIC links an image to its
    # neighbours and to the images it is a neighbour of; DIRECTED, each image reads its own
    # neighbours only, and an image many others read (a hub) passes less on to each.
    graph: str = "symmetric"
    # Whether the neighbours are found on the features scaled per unit (`neighbours.standardise`)
    standardised: bool = False
    # On questions of at most this many answers `safeguard` also asks the plain head to agree
    # with a pseudo-label, not only that its cluster holds an answer (None: on every question).
    agreement_up_to: int | None = None

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
        if self.fit_cells is not None and self.fit_cells < 1:
            raise ValueError(f"fit_cells is a whole number of 1 or more, not {self.fit_cells}")
        if not 1 <= self.fit_memory <= 1_000:
            raise ValueError(f"fit_memory is from 1 to 1,000 pairs, not {self.fit_memory}")
        if self.graph not in GRAPHS:
            raise ValueError(f"graph is one of {', '.join(GRAPHS)}, not {self.graph!r}")
        if self.agreement_up_to is not None and self.agreement_up_to < 1:
            raise ValueError(f"agreement_up_to is 1 or more answers, not {self.agreement_up_to}")

    @property
    def directed(self) -> bool:
        return self.graph == DIRECTED

    def asks_agreement(self, n_outputs: int) -> bool:
        """Whether a pseudo-label of a question of `n_outputs` answers needs the plain head's
        agreement (`safeguard`)."""
        return self.agreement_up_to is None or n_outputs <= self.agreement_up_to

    @property
    def operator_name(self) -> str:
        """The name a pool keeps this teacher's spreading operator under: one per graph."""
        return f"spreading operator, {self.graph}" + (", standardised" if self.standardised else "")

    def per_answer_for(self, width: int, n_outputs: int) -> int:
        """Pseudo-labels per answer on a layer `width` wide: `per_answer`, or fewer where the
        fit would otherwise pass `fit_cells` numbers (at least one each)."""
        if self.fit_cells is None:
            return self.per_answer
        return max(1, min(self.per_answer, self.fit_cells // max(1, width * n_outputs)))


@dataclass(frozen=True)
class ByLayer:
    """Rules that differ by the kind of layer the head reads: a softmax layer's class
    probabilities, or any other layer's features (`head.on_simplex`)."""

    probabilities: PoolTeacher
    features: PoolTeacher

    def on(self, simplex: bool) -> PoolTeacher:
        return self.probabilities if simplex else self.features


# The rules a session was labelled under, by number (stored with a pool-taught session, so a
# session replays under its own rules when the defaults move on). 1: the first rules, before
# the safeguard; 2: the safeguard and the settings chosen on validation; 3: 2's, waiting for a
# second answer (`two_answers_first`); 4: 3's with a longer L-BFGS memory (`fit_memory`);
# 5: today's, 4's on class probabilities, and on a layer of features a directed graph of the
# standardised features whose pseudo-labels need only an answered cluster (chosen on 9
# validation splits, docs/compare-and-sweeps.md, "Rules 5").
TEACHERS: dict[int, PoolTeacher | ByLayer] = {
    1: PoolTeacher(
        alpha=0.2,
        steps=30,
        confidence=0.9,
        weight=0.1,
        per_answer=400,
        guarded=False,
        fit_cells=None,
        two_answers_first=False,
        fit_memory=LBFGS_MEMORY,
    ),
    2: PoolTeacher(two_answers_first=False, fit_memory=LBFGS_MEMORY),
    3: PoolTeacher(fit_memory=LBFGS_MEMORY),
    4: PoolTeacher(),
}
TEACHERS[5] = ByLayer(
    probabilities=TEACHERS[4],
    # On class probabilities the plain head's agreement is what keeps a digit nobody has
    # answered (weight 0, "not known yet") from taking its neighbours' answer: without it
    # odd/even fell from 99.9 to 84 % at 12 labels (validation, rules 2). On features it stays
    # for two answers, whose clusters (one per answer) are halves of the pool that vouch for
    # little: without it weather's "wet today" lost 2.2 points at 12 labels on 2016's folds.
    features=PoolTeacher(graph=DIRECTED, standardised=True, agreement_up_to=2),
)
POOL_RULES = max(TEACHERS)


def teacher_for(rules: int, simplex: bool) -> PoolTeacher:
    """The teacher of rules number `rules` on a layer of class probabilities (`simplex`) or of
    features."""
    rule = TEACHERS[rules]
    return rule.on(simplex) if isinstance(rule, ByLayer) else rule


class SpreadingOperator:
    """The normalised graph S = D^-1/2 W D^-1/2 of a pool's neighbour table, kept for spreading.

    `matrix` is S in the pool's order (scipy CSR). Spreading reads a copy renumbered in reverse
    Cuthill-McKee order (neighbours get nearby numbers, so the mass a row reads sits in a few
    cache lines rather than all over a 60,000-row array: a third of the time on the demo's
    pool), each row's links kept in their order in `matrix`, so every sum adds the same terms in
    the same order and the spread mass is the same to the last bit.
    """

    def __init__(self, matrix) -> None:
        from scipy.sparse.csgraph import reverse_cuthill_mckee

        self.matrix = matrix
        self.shape = matrix.shape
        n = matrix.shape[0]
        self.order = reverse_cuthill_mckee(matrix, symmetric_mode=True).astype(np.intp)
        self.rank = np.empty(n, np.intp)  # each pool position's row in the spreading order
        self.rank[self.order] = np.arange(n)
        counts = np.diff(matrix.indptr)[self.order]
        indptr = np.zeros(n + 1, np.int64)
        np.cumsum(counts, out=indptr[1:])
        # Row r's links are row order[r]'s, in their order: source = its start + offset in row.
        source = np.arange(indptr[-1]) - np.repeat(indptr[:-1] - matrix.indptr[self.order], counts)
        # Unsigned positions: the kernel then needs no check for Python's negative indexing.
        unsigned = np.uint32 if n < 2**32 and indptr[-1] < 2**32 else np.uint64
        self.indptr = indptr.astype(unsigned)
        self.indices = self.rank[matrix.indices[source]].astype(unsigned)
        # The weights are float32 products (see `spreading_operator`), kept as such: exactly the
        # same numbers, read in 4 bytes rather than 8.
        self.weights = matrix.data[source].astype(np.float32)
        if not np.array_equal(self.weights, matrix.data[source]):
            raise ValueError("a spreading operator's weights are float32 numbers")

    def __matmul__(self, other: np.ndarray) -> np.ndarray:
        """S @ x in the pool's order, for a product of one's own (spreading has its own pass)."""
        return self.matrix @ other


def spreading_operator(neighbours: np.ndarray, directed: bool = False) -> SpreadingOperator:
    """The normalised graph D^-1/2 W D^-1/2 of a neighbour table (n, k) of positions.

    Symmetric (the default): W links i and j when either is among the other's neighbours
    (unweighted), D counts each image's links, so a dense region and a sparse one pass answers
    on alike. `directed`: W links i to its own k neighbours only (row i reads them), and D
    counts how many images read each one, as scikit-learn's `LabelSpreading` builds its k-NN
    graph: an image many others count among their neighbours (a hub, often between two
    classes) passes less on to each.
    """
    import scipy.sparse as sparse

    n, k = neighbours.shape
    rows = np.repeat(np.arange(n, dtype=np.int32), k)
    links = sparse.csr_matrix(
        (np.ones(n * k, np.float32), (rows, neighbours.ravel().astype(np.int32))), shape=(n, n)
    )
    links.data[:] = 1.0
    if directed:
        degree = np.asarray(links.sum(axis=0)).ravel()
    else:
        links = links.maximum(links.T).tocsr()
        links.data[:] = 1.0
        degree = np.asarray(links.sum(axis=1)).ravel()
    scale = 1.0 / np.sqrt(np.maximum(degree, 1.0))
    # In float32, each weight the float32 product of its two scales.
    weights = (sparse.diags(scale) @ links @ sparse.diags(scale)).astype(np.float32).tocsr()
    if directed:
        weights = _both_ways(weights)
    operator = SpreadingOperator(weights)
    for width in (2, 3):
        _spreading_kernel(width)  # compiled (or read from numba's cache) now, not in a round
    return operator


def _both_ways(weights):
    """A directed graph with each link stored both ways, a reverse link that is not a link of
    its own at weight 0.

    The pass over the graph (`_spread_two`) wakes the rows that read a row with mass by walking
    that row's links, which on a symmetric graph are the rows reading it. Stored both ways, a
    directed graph's are too; a weight of 0 adds exactly nothing to a row's sum.
    """
    import scipy.sparse as sparse

    weights.sort_indices()
    pattern = (weights + weights.T).tocsr()
    pattern.sort_indices()
    n = weights.shape[0]

    def keys(matrix) -> np.ndarray:
        row = np.repeat(np.arange(n, dtype=np.int64), np.diff(matrix.indptr))
        return row * n + matrix.indices.astype(np.int64)

    # Both key lists are in row-major order; every link of `weights` is in the pattern.
    values = np.zeros(pattern.nnz, np.float32)
    values[np.searchsorted(keys(pattern), keys(weights))] = weights.data
    return sparse.csr_matrix((values, pattern.indices, pattern.indptr), shape=weights.shape)


def spread(
    operator: SpreadingOperator,
    labelled: np.ndarray,
    labels: np.ndarray,
    n_outputs: int,
    teacher: PoolTeacher,
) -> np.ndarray:
    """Each pool image's spread answer mass, (n, n_outputs): F <- alpha S F + (1 - alpha) Y."""
    # A few answers at a time, through one compiled pass over the graph per group: a row's
    # links are read once for the group, and the group's numbers of mass of a row lie
    # together. Per answer, a group of three took 0.85 of the time of a pair and a pair 0.65
    # of one answer alone; four or more took longer again (the mass no longer stays in the
    # cache). In float64: the mass that reaches an image 20 steps away is about
    # (alpha / degree)^20, below float32's normal numbers, where arithmetic on subnormals
    # took ten times as long.
    n = operator.shape[0]
    rows = operator.rank[np.asarray(labelled, np.intp)]
    labels = np.asarray(labels, np.intp)
    if len(labels) and not (0 <= labels.min() and labels.max() < n_outputs):
        raise ValueError(f"answers are output indices 0 to {n_outputs - 1}")
    # Answer-major, returned transposed, as the products per answer made it: `clear_answers`
    # then sums each image's mass in the same order, to the same last bit.
    mass = np.empty((n_outputs, n), np.float64)
    first = 0
    for width in _groups(n_outputs):
        # A lone answer is spread as a pair with no answer (a pass of its own costs as much).
        seeds = np.zeros((n, max(width, 2)), np.float64)
        mine = (labels >= first) & (labels < first + width)
        np.add.at(seeds, (rows[mine], labels[mine] - first), 1.0)
        group = _spreading_kernel(seeds.shape[1])(
            operator.indptr,
            operator.indices,
            operator.weights,
            seeds,
            float(teacher.alpha),
            int(teacher.steps),
        )
        mass[first : first + width, operator.order] = group[:, :width].T
        first += width
    return mass.T


def _groups(n_outputs: int) -> list[int]:
    """How many answers each pass spreads: threes, and a pair or two where three do not fit."""
    if n_outputs <= 3:
        return [n_outputs]
    threes = n_outputs // 3 - (1 if n_outputs % 3 == 1 else 0)
    return [3] * threes + [2] * ((n_outputs - 3 * threes) // 2)


def _spread_two(indptr, indices, weights, seeds, alpha, steps):
    """`steps` of F <- alpha S F + (1 - alpha) Y for two answers (the columns of `seeds`, Y).

    The same arithmetic as a sparse product per answer, term by term: each row sums
    weight x mass over its links in order, times alpha, plus its share of the seeds. A row
    none of whose links has mass yet would sum zeros to zero, so it is left at zero until one
    of its neighbours is reached (on the demo's pool, about half of the pool is still
    unreached half-way through); what is computed is computed exactly as before.
    (`_spread_three` is the same for three answers: numba keeps each answer's sum in a
    register only when their number is written in the code.)
    """
    n = seeds.shape[0]
    mass = seeds.copy()
    after = np.zeros_like(seeds)
    start = (1.0 - alpha) * seeds
    live = np.zeros(n, np.bool_)  # rows whose mass may not be zero after the next step
    passed = np.zeros(n, np.bool_)  # rows with mass, whose neighbours are live
    for i in range(n):
        if seeds[i, 0] != 0.0 or seeds[i, 1] != 0.0:
            live[i] = True
            passed[i] = True
            for p in range(indptr[i], indptr[i + 1]):
                live[indices[p]] = True
    for _ in range(steps):
        for i in range(n):
            if not live[i]:
                continue
            a = 0.0
            b = 0.0
            for p in range(indptr[i], indptr[i + 1]):
                j = indices[p]
                weight = np.float64(weights[p])
                a += weight * mass[j, 0]
                b += weight * mass[j, 1]
            a = a * alpha + start[i, 0]
            b = b * alpha + start[i, 1]
            after[i, 0] = a
            after[i, 1] = b
            if not passed[i] and (a != 0.0 or b != 0.0):
                passed[i] = True
                for p in range(indptr[i], indptr[i + 1]):
                    live[indices[p]] = True
        mass, after = after, mass
    return mass


def _spread_three(indptr, indices, weights, seeds, alpha, steps):
    """`_spread_two` for three answers."""
    n = seeds.shape[0]
    mass = seeds.copy()
    after = np.zeros_like(seeds)
    start = (1.0 - alpha) * seeds
    live = np.zeros(n, np.bool_)
    passed = np.zeros(n, np.bool_)
    for i in range(n):
        if seeds[i, 0] != 0.0 or seeds[i, 1] != 0.0 or seeds[i, 2] != 0.0:
            live[i] = True
            passed[i] = True
            for p in range(indptr[i], indptr[i + 1]):
                live[indices[p]] = True
    for _ in range(steps):
        for i in range(n):
            if not live[i]:
                continue
            a = 0.0
            b = 0.0
            c = 0.0
            for p in range(indptr[i], indptr[i + 1]):
                j = indices[p]
                weight = np.float64(weights[p])
                a += weight * mass[j, 0]
                b += weight * mass[j, 1]
                c += weight * mass[j, 2]
            a = a * alpha + start[i, 0]
            b = b * alpha + start[i, 1]
            c = c * alpha + start[i, 2]
            after[i, 0] = a
            after[i, 1] = b
            after[i, 2] = c
            if not passed[i] and (a != 0.0 or b != 0.0 or c != 0.0):
                passed[i] = True
                for p in range(indptr[i], indptr[i + 1]):
                    live[indices[p]] = True
        mass, after = after, mass
    return mass


@functools.cache
def _spreading_kernel(width: int):
    """The pass for `width` (2 or 3) answers, compiled by numba once per process (and kept in
    numba's cache on disk)."""
    import numba

    kernel = numba.njit(cache=True, nogil=True)({2: _spread_two, 3: _spread_three}[width])
    # One small call compiles it for the operator's array types (or reads it from the cache).
    kernel(
        np.zeros(2, np.uint32),
        np.zeros(0, np.uint32),
        np.zeros(0, np.float32),
        np.zeros((1, width)),
        0.5,
        1,
    )
    return kernel


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
    mass: np.ndarray | None = None,
    per_answer: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The pool positions the spread answers are clear about, and those answers.

    None while the answers hold a single answer, under rules that wait for a second
    (`PoolTeacher.two_answers_first`). Images already labelled are left out (their answer is
    the person's), and so are those `keep` refuses (see `safeguard`). Among the confident
    rest, at most `per_answer` of each answer, the first in a fixed order of the pool (an even
    sample of them), so the same answers always give the same pseudo-labels. `mass` is these
    answers' `spread`, when it is already at hand; `per_answer` overrides the teacher's (see
    `PoolTeacher.per_answer_for`).
    """
    empty = np.zeros(0, np.intp)
    if len(labelled) == 0:
        return empty, empty
    if teacher.two_answers_first and len(np.unique(labels)) < 2:
        return empty, empty
    if mass is None:
        mass = spread(operator, labelled, labels, n_outputs, teacher)
    answer, clear = clear_answers(mass, teacher)
    clear[np.asarray(labelled, np.intp)] = False
    if keep is not None:
        candidates = np.flatnonzero(clear)
        clear[candidates[~keep(candidates, answer[candidates])]] = False
    # The clear images in the fixed order, then the first `per_answer` of each answer: the
    # same as sorting each answer's candidates by their rank, without a sort per round.
    sequence = _pool_sequence(len(answer))
    in_order = sequence[clear[sequence]]
    answered = answer[in_order]
    cap = teacher.per_answer if per_answer is None else per_answer
    chosen = [in_order[answered == k][:cap] for k in range(n_outputs)]
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
    cap = teacher.per_answer_for(pool.shape[1], n_outputs)
    positions, answers = pseudo_labels(
        operator, labelled, labels, n_outputs, teacher, keep, per_answer=cap
    )
    x = pool[np.concatenate([labelled, positions])]
    y = np.concatenate([np.asarray(labels, np.intp), answers])
    weights = np.concatenate([np.ones(len(labelled)), np.full(len(positions), teacher.weight)])
    return x, y, weights, len(positions)


def safeguard(
    clusters: np.ndarray,
    labelled: np.ndarray,
    plain_answers: Callable[[np.ndarray], np.ndarray] | None,
) -> Keep:
    """Keep a pseudo-label only where the person's answers vouch for it.

    - Its image's cluster (`clusters`, the pool's k-means clusters, one per class) holds one
      of the person's answers: a region nobody has answered is left to the person to ask
      about, rather than handed the answer of the region next to it.
    - Unless `plain_answers` is None (`PoolTeacher.asks_agreement`): the plain head, fitted on
      the answers alone, gives the same answer there (`plain_answers(positions)`), so where the
      answers themselves point elsewhere, a walk along the graph is not trusted over them.

    Neither needs the truth, so a session can always apply it.
    """
    answered = np.zeros(int(clusters.max(initial=0)) + 1, bool)
    answered[clusters[np.asarray(labelled, np.intp)]] = True

    def keep(positions: np.ndarray, answers: np.ndarray) -> np.ndarray:
        inside = answered[clusters[positions]]
        if plain_answers is None:
            return inside
        agree = np.zeros(len(positions), bool)
        agree[inside] = plain_answers(positions[inside]) == answers[inside]
        return agree

    return keep


def one_blas_thread():
    """A context in which BLAS runs on one thread: for the fit on a training set.

    The answers and their pseudo-labels are a few thousand rows, enough for OpenBLAS to split
    each of the fit's small products over every core, and on a busy machine the threads wait
    for each other: the 5-class fit on 2,000 rows took 2 to 6 s there on two threads and 40 ms
    on one. (The plain head's few answers stay under the size where BLAS splits its work.)
    """
    return _thread_pools().limit(limits=1, user_api="blas")


@functools.cache
def _thread_pools():
    # Found once (tens of milliseconds); SciPy, the softmax head's optimiser, is imported first
    # so that its own BLAS is among them.
    import scipy.optimize  # noqa: F401
    from threadpoolctl import ThreadpoolController

    return ThreadpoolController()


@functools.lru_cache(maxsize=8)
def _pool_sequence(n: int) -> np.ndarray:
    """A fixed order of n pool positions: a seeded permutation, the same every call (made once
    per pool size: a round should not draw 60,000 numbers again)."""
    sequence = np.random.default_rng(0).permutation(n)
    sequence.flags.writeable = False
    return sequence
