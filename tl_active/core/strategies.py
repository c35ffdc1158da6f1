"""Query strategies: which pool images to ask a person about next.

A strategy is one function, `strategy(pool, n, rng) -> list[Pick]`, and one entry in
`STRATEGIES`. Every strategy returns `n` unique pool positions that were never labelled or
skipped, breaks ties with the seeded generator it is given, and says for each pick why it was
chosen (its score and its rank in the pool under that score), which the app shows on each tile.
Asking for more than the pool has left raises `PoolExhaustedError`.

The head's answer probabilities are `pool.proba`, (n, K), with K = 2 (negative, positive) for
a binary task. Three measures of "least sure", each scaled to [0, 1]:

- least confidence, 1 - max p (`uncertainty`);
- margin, 1 - (p of the best class - p of the second) (`margin`);
- entropy of p, over log K (`entropy`).

For a binary head all three order the pool by |p - 0.5|, so they pick the same images there;
they differ from K = 3 on.

`representative` and `diversity` work from clusters of the frozen features (k-means, see
`features.TaskData`), not from the backbone's own argmax, which means nothing on a backbone that
never saw the classes. `diversity`, the default, is the smallest margin spread over those
clusters, with ties broken towards the most typical image of a cluster: its first batch is one
typical image from each of several clusters rather than a random draw. Margin rather than least
confidence because, for K classes, the question a label settles is between the two answers the
head hesitates over (on the 5-9 network's embedding, digits 0-4, margin reached 95.3 % at 50
labels where least confidence reached 89.9 %); for a binary task the two are the same order.

While the head is still untrained, every p is equal. Then `uncertainty`, `margin`, `entropy`
and `committee` (whose members all agree) are seeded random draws; `band` draws at random from
the whole pool, as the demo's first round did; `representative` and `diversity` still know what
to ask, because they work from the frozen features' clusters.
"""

from __future__ import annotations

import reprlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tl_active.core.rows import row_argmax, row_max, row_min
from tl_active.errors import PoolExhaustedError


@dataclass(frozen=True)
class PoolView:
    """What a strategy may look at: the task's pool as the frozen layer and the current head see it.

    `clustering` gives (clusters, typicality, typical rank) of the pool, made once per task
    (k-means); it is a function so that strategies that do not need it never pay for it.
    """

    proba: np.ndarray  # (n_pool, K) the head's answer probabilities now
    features: np.ndarray  # (n_pool, width) the frozen layer's outputs
    available: np.ndarray  # (n_pool,) bool: never labelled, never skipped
    labelled: np.ndarray = field(default_factory=lambda: np.zeros(0, np.intp))  # positions
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0, np.intp))  # output indices
    round: int = 0  # rounds submitted so far
    clustering: Callable[[], tuple[np.ndarray, np.ndarray, np.ndarray]] | None = None
    new_head: Callable[[], object] | None = None  # a copy of the session's head (committee)

    @property
    def n_outputs(self) -> int:
        return self.proba.shape[1]

    def clusters_and_typicality(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each image's cluster, its typicality, and that typicality as a rank in [0, 1)."""
        if self.clustering is None:
            raise ValueError("this strategy needs the pool's clusters, and none were given")
        return self.clustering()


@dataclass(frozen=True)
class Pick:
    """One image chosen for labelling, and why."""

    index: int  # position in the task's pool
    score: float  # the strategy's score: higher means more wanted
    rank: int  # 1 = the pool's most wanted available image under that score
    reason: str  # one line for the tile, e.g. "closest to p = 0.5"


Strategy = Callable[[PoolView, int, np.random.Generator], list[Pick]]
SAMPLE_FOR_TOP = 1_024  # scores sampled to find a floor for the best few (see `_unique_top`)


def _check_room(pool: PoolView, n: int) -> np.ndarray:
    if n < 1:
        raise ValueError(f"batch size must be at least 1, not {n}")
    candidates = np.flatnonzero(pool.available)
    if len(candidates) < n:
        raise PoolExhaustedError(
            f"only {len(candidates)} unlabelled images remain in the pool, a batch needs {n}"
        )
    return candidates


def _ranked(
    candidates: np.ndarray, scores: np.ndarray, rng: np.random.Generator, top: int | None = None
) -> np.ndarray:
    """Candidates from highest to lowest score (only the first `top`, when given).

    The candidates are shuffled by the seeded generator first, so that equal scores come out in
    a random but reproducible order; `top` lets a partial sort do the work of a full one. Where
    the first `top` scores are all different, and above the rest, no order of the candidates
    changes them: then the shuffle is left out (the generator is not read after this).
    """
    if top is not None and top < len(candidates):
        unique = _unique_top(scores, top)
        if unique is not None:
            return candidates[unique]
    shuffle = rng.permutation(len(candidates))
    shuffled, negated = candidates[shuffle], -scores[shuffle]
    if top is not None and top < len(shuffled):
        head = np.argpartition(negated, top)[:top]
        return shuffled[head[np.argsort(negated[head], kind="stable")]]
    return shuffled[np.argsort(negated, kind="stable")]


def _unique_top(scores: np.ndarray, top: int) -> np.ndarray | None:
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


def _top(order: np.ndarray, score: np.ndarray, n: int, reason: str) -> list[Pick]:
    return [Pick(int(i), float(score[i]), rank + 1, reason) for rank, i in enumerate(order[:n])]


# --- how unsure the head is ------------------------------------------------------------------


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


def _unsure_reason(pool: PoolView, what: str) -> str:
    return "closest to p = 0.5" if pool.n_outputs == 2 else what


def _measure_strategy(measure: Callable[[np.ndarray], np.ndarray], reason: str) -> Strategy:
    def strategy(pool: PoolView, n: int, rng: np.random.Generator) -> list[Pick]:
        candidates = _check_room(pool, n)
        score = measure(pool.proba)
        order = _ranked(candidates, score[candidates], rng, top=n)
        return _top(order, score, n, _unsure_reason(pool, reason))

    return strategy


uncertainty_strategy = _measure_strategy(least_confidence, "least confident")
uncertainty_strategy.__doc__ = "The n images the head is least confident about (1 - max p)."
margin_strategy = _measure_strategy(margin_score, "smallest margin")
margin_strategy.__doc__ = "The n images whose two most likely answers are closest."
entropy_strategy = _measure_strategy(entropy_score, "highest entropy")
entropy_strategy.__doc__ = "The n images whose answer probabilities have the highest entropy."


def random_strategy(pool: PoolView, n: int, rng: np.random.Generator) -> list[Pick]:
    """The baseline: n images drawn uniformly from what is left (score: the chance of each)."""
    candidates = _check_room(pool, n)
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
    candidates = _check_room(pool, n)
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
    order = _ranked(outside, score[outside], rng, top=n - len(drawn))
    return picks_inside + [
        Pick(int(i), float(score[i]), len(inside) + rank + 1, "band empty: next closest to 0.5")
        for rank, i in enumerate(order)
    ]


def representative_strategy(pool: PoolView, n: int, rng: np.random.Generator) -> list[Pick]:
    """First the most typical image of each cluster nobody has labelled, then uncertainty.

    A cluster (k-means on the frozen features) counts as covered once any image in it is
    labelled; its most typical image is the one nearest its centre. Uncovered clusters are taken
    in a seeded random order; once every cluster is covered this is `uncertainty`.
    """
    candidates = _check_room(pool, n)
    clusters, typicality, _ = pool.clusters_and_typicality()
    covered = set(clusters[pool.labelled].tolist())
    picks: list[Pick] = []
    for cluster in rng.permutation(int(clusters.max()) + 1):
        if len(picks) == n:
            break
        if cluster in covered:
            continue
        free = np.flatnonzero((clusters == cluster) & pool.available)
        if len(free) == 0:
            continue
        best = int(free[np.argmax(typicality[free])])
        picks.append(Pick(best, float(typicality[best]), 1, f"most typical of cluster {cluster}"))
    if len(picks) < n:
        chosen = np.array([p.index for p in picks], np.intp)
        rest = np.setdiff1d(candidates, chosen, assume_unique=True) if len(chosen) else candidates
        score = least_confidence(pool.proba)
        order = _ranked(rest, score[rest], rng, top=n - len(picks))
        picks += _top(order, score, n - len(picks), _unsure_reason(pool, "least confident"))
    return picks


def diversity_strategy(pool: PoolView, n: int, rng: np.random.Generator) -> list[Pick]:
    """The smallest margins spread over clusters: no two picks share one while others remain.

    Naive top-n batches are redundant: the n least sure images are often n images of the same
    unseen digit. This takes the least sure image of each cluster, most unsure first; a cluster
    gives a second image only when every cluster with images left has given one. Equal scores
    (all of them, before the first round) go to the most typical image of a cluster first.
    """
    candidates = _check_room(pool, n)
    clusters, _, typical_rank = pool.clusters_and_typicality()
    score = margin_score(pool.proba)
    # Typicality as a tie-break far below any real difference in margin.
    key = (score + 1e-9 * typical_rank)[candidates]
    member = clusters[candidates]
    taken = np.zeros(len(candidates), bool)
    chosen: list[int] = []
    while len(chosen) < n:
        # One pass per cluster over the pool (a handful of clusters) instead of a full sort.
        best = []
        for cluster in np.flatnonzero(np.bincount(member[~taken])):
            inside = np.flatnonzero((member == cluster) & ~taken)
            best.append(inside[np.argmax(key[inside])])
        best.sort(key=lambda j: -key[j])
        for j in best[: n - len(chosen)]:
            taken[j] = True
            chosen.append(j)
    return [
        Pick(
            int(candidates[j]),
            float(score[candidates[j]]),
            int((key > key[j]).sum()) + 1,  # its rank in the whole pool
            f"unsure, cluster {int(member[j])}",
        )
        for j in chosen
    ]


COMMITTEE_SIZE = 5


def committee_strategy(pool: PoolView, n: int, rng: np.random.Generator) -> list[Pick]:
    """Query by committee: where heads trained on bootstrap resamples of the labels disagree most.

    Five copies of the session's head are each refitted (warm-started from it) on a resample of
    the labels so far. The score
    is the share of the committee outside the largest vote on an image (0 when all agree; a
    member whose answers are all equally likely abstains), plus a thousandth of the least
    confidence of their mean p as a tie-break. Hard votes, not the spread of p: the spread favoured odd, blurry images that every
    member calls the same way but with different confidence, and learnt nothing from them. With
    no labels all members stay untrained and the batch is a seeded random draw.
    """
    candidates = _check_room(pool, n)
    k = pool.n_outputs
    x = pool.features[candidates]
    if k == 2 and pool.new_head is not None and len(pool.labelled):
        score = _binary_committee_score(pool, candidates, x, rng)
        order = _ranked(candidates, score[candidates], rng, top=n)
        return _top(order, score, n, "committee disagrees")
    votes = np.zeros((k, len(candidates)))  # answers by rows: each count is one fast pass
    mean_p = np.zeros((len(candidates), k))
    for _ in range(COMMITTEE_SIZE):
        member = pool.new_head() if pool.new_head else None
        if member is not None and len(pool.labelled):
            sample = rng.integers(0, len(pool.labelled), len(pool.labelled))
            member.fit(pool.features[pool.labelled[sample]], pool.labels[sample])
            p = member.predict_proba(x)
        else:
            p = np.full((len(candidates), k), 1.0 / k)
        mean_p += p / COMMITTEE_SIZE
        # An untrained member (all p equal) votes for no one.
        vote = np.where(row_max(p) > row_min(p), row_argmax(p), -1)
        for answer in range(k):
            votes[answer] += vote == answer
    # An abstaining member is not in the majority: where all abstain, the committee knows nothing.
    outvoted = 1.0 - votes.max(axis=0) / COMMITTEE_SIZE
    score = np.zeros(len(pool.available))
    score[candidates] = outvoted + 1e-3 * least_confidence(mean_p)
    order = _ranked(candidates, score[candidates], rng, top=n)
    return _top(order, score, n, "committee disagrees")


def _binary_committee_score(
    pool: PoolView, candidates: np.ndarray, x: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """`committee_strategy`'s score for a binary head, on p(positive) alone.

    The same members, draws and sums as the K-answer loop, so the same score to the last bit,
    with half the passes over the pool: a member votes positive where p(positive) > p(negative)
    and negative where it is below (it abstains on a tie), and the mean p of the two answers
    is kept as two columns.
    """
    votes_negative = np.zeros(len(x))
    votes_positive = np.zeros(len(x))
    mean_negative = np.zeros(len(x))
    mean_positive = np.zeros(len(x))
    for _ in range(COMMITTEE_SIZE):
        member = pool.new_head()
        sample = rng.integers(0, len(pool.labelled), len(pool.labelled))
        member.fit(pool.features[pool.labelled[sample]], pool.labels[sample])
        positive = member.positive_proba(x)
        negative = 1.0 - positive  # as `predict_proba` gives it
        mean_negative += negative / COMMITTEE_SIZE
        mean_positive += positive / COMMITTEE_SIZE
        votes_negative += negative > positive
        votes_positive += positive > negative
    outvoted = 1.0 - np.maximum(votes_negative, votes_positive) / COMMITTEE_SIZE
    # `least_confidence` of the two-column mean p: (1 - its larger p) * K / (K - 1), K = 2.
    least_confident = (1.0 - np.maximum(mean_negative, mean_positive)) * 2.0
    score = np.zeros(len(pool.available))
    score[candidates] = outvoted + 1e-3 * least_confident
    return score


STRATEGIES: dict[str, Strategy] = {
    "diversity": diversity_strategy,
    "uncertainty": uncertainty_strategy,
    "margin": margin_strategy,
    "entropy": entropy_strategy,
    "representative": representative_strategy,
    "committee": committee_strategy,
    "band": band_strategy,
    "random": random_strategy,
}
DEFAULT_STRATEGY = "diversity"
# Strategies that can only answer a binary question.
BINARY_ONLY = frozenset({"band"})

DESCRIPTIONS = {
    "diversity": "smallest margin first, spread over clusters of the features (the default)",
    "uncertainty": "least confident (1 - max p; p closest to 0.5 for a binary task)",
    "margin": "smallest gap between the two most likely answers (= uncertainty when binary)",
    "entropy": "highest entropy of the answer probabilities (= uncertainty's order when binary)",
    "representative": "the most typical image of each unlabelled cluster first, then uncertainty",
    "committee": "largest vote split of 5 heads trained on bootstrap resamples",
    "band": "the demo's scheme: random inside a band around 0.5 that narrows each round",
    "random": "uniform draw from the pool (the baseline)",
}


def get_strategy(name: str) -> Strategy:
    """The registered strategy of that name, or a ValueError listing the names there are."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(
            f"unknown strategy {reprlib.repr(name)}; choose one of {', '.join(STRATEGIES)}"
        ) from None
