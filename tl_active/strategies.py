"""Query strategies: which pool images to ask a person about next.

A strategy is one function, `strategy(pool, n, rng) -> list[Pick]`, and one entry in
`STRATEGIES`. Every strategy returns `n` unique pool indices that were never labelled or skipped,
breaks ties with the seeded generator it is given, and says for each pick why it was chosen (its
score and its rank in the pool under that score), which the app shows on each tile. Asking for more
than the pool has left raises `PoolExhaustedError`.

For a binary head, least-confidence (1 - max(p, 1-p)), margin (|p - (1-p)|) and entropy all
order samples by |p - 0.5|, so they are one strategy here: `uncertainty`.

While the head is still at zero, every p is 0.5. Then `uncertainty`, `diversity` (whose
scores all tie) and `committee` (whose members all agree) are random draws from the generator;
`band` draws at random from the whole pool, as the demo's first round did; `representative`
still knows what to ask, because it works from the frozen CNN's predictions, not the head's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from tl_active.errors import PoolExhaustedError
from tl_active.features import typicality as typicality_of
from tl_active.head import SigmoidHead, sigmoid


@dataclass(frozen=True)
class PoolView:
    """What a strategy may look at: the pool as the frozen CNN and the current head see it."""

    p_positive: np.ndarray  # (n_pool,) the head's p(positive) now
    probs: np.ndarray  # (n_pool, 10) frozen softmax outputs
    embedding: np.ndarray  # (n_pool, 128) frozen embedding
    available: np.ndarray  # (n_pool,) bool: never labelled, never skipped
    labelled: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # pool indices
    labels: np.ndarray = field(default_factory=lambda: np.zeros(0))  # 0/1 answers for them
    round: int = 0  # rounds submitted so far
    l2: float = 1e-3  # the head's penalty, for the committee's members
    predicted: np.ndarray | None = None  # (n_pool,) the CNN's digit; derived from probs if absent
    typicality: np.ndarray | None = None  # (n_pool,) see FeatureSet.pool_typicality

    def digits(self) -> np.ndarray:
        return self.probs.argmax(axis=1) if self.predicted is None else self.predicted


@dataclass(frozen=True)
class Pick:
    """One image chosen for labelling, and why."""

    index: int  # pool index
    score: float  # the strategy's score: higher means more wanted
    rank: int  # 1 = the pool's most wanted available image under that score
    reason: str  # one line for the tile, e.g. "closest to p = 0.5"


Strategy = Callable[[PoolView, int, np.random.Generator], list[Pick]]


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
    a random but reproducible order; `top` lets a partial sort do the work of a full one.
    """
    shuffle = rng.permutation(len(candidates))
    shuffled, negated = candidates[shuffle], -scores[shuffle]
    if top is not None and top < len(shuffled):
        head = np.argpartition(negated, top)[:top]
        return shuffled[head[np.argsort(negated[head], kind="stable")]]
    return shuffled[np.argsort(negated, kind="stable")]


def _top(order: np.ndarray, score: np.ndarray, n: int, reason: str) -> list[Pick]:
    return [Pick(int(i), float(score[i]), rank + 1, reason) for rank, i in enumerate(order[:n])]


def uncertainty_score(p: np.ndarray) -> np.ndarray:
    """1 at p = 0.5, 0 at p = 0 or 1: the same order as least-confidence, margin and entropy."""
    return 1.0 - 2.0 * np.abs(p - 0.5)


def random_strategy(pool: PoolView, n: int, rng: np.random.Generator) -> list[Pick]:
    """The baseline: n images drawn uniformly from what is left (score: the chance of each)."""
    candidates = _check_room(pool, n)
    drawn = rng.choice(candidates, size=n, replace=False)
    chance = 1.0 / len(candidates)
    return [Pick(int(i), chance, rank + 1, "random draw") for rank, i in enumerate(drawn)]


def uncertainty_strategy(pool: PoolView, n: int, rng: np.random.Generator) -> list[Pick]:
    """The n images whose p(positive) is closest to 0.5."""
    candidates = _check_room(pool, n)
    score = uncertainty_score(pool.p_positive)
    order = _ranked(candidates, score[candidates], rng, top=n)
    return _top(order, score, n, "closest to p = 0.5")


def band_strategy(pool: PoolView, n: int, rng: np.random.Generator) -> list[Pick]:
    """The demo's own scheme: a random draw inside a band around 0.5 that narrows each round.

    In round t (from 0) the band is [min(0.4, 0.1 t), max(0.6, 1 - 0.1 t)]: the whole pool in
    round 0, (0.4, 0.6) from round 4 on. Where the demo silently trained on unchanged data when
    the band held too few images, this fills the batch with the next closest to 0.5, and says so.
    """
    candidates = _check_room(pool, n)
    low, high = min(0.4, 0.1 * pool.round), max(0.6, 1.0 - 0.1 * pool.round)
    p = pool.p_positive[candidates]
    inside = candidates[(p >= low) & (p <= high)]
    score = uncertainty_score(pool.p_positive)
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
    """First one typical image of each digit the CNN predicts and nobody has labelled, then uncertainty.

    A digit counts as covered once any image the CNN assigns to it is labelled. Its most typical
    image is the one nearest the mean embedding of all images predicted as that digit. Uncovered
    digits are taken in a seeded random order; once every digit is covered this is `uncertainty`.
    """
    candidates = _check_room(pool, n)
    predicted = pool.digits()
    typicality = pool.typicality
    if typicality is None:
        typicality = typicality_of(predicted, pool.embedding)
    covered = set(predicted[pool.labelled].tolist())
    picks: list[Pick] = []
    for digit in rng.permutation(10):
        if len(picks) == n:
            break
        if digit in covered:
            continue
        free = np.flatnonzero((predicted == digit) & pool.available)
        if len(free) == 0:
            continue
        best = int(free[np.argmax(typicality[free])])
        picks.append(Pick(best, float(typicality[best]), 1, f"most typical predicted {digit}"))
    if len(picks) < n:
        chosen = {p.index for p in picks}
        rest = np.array([i for i in candidates if i not in chosen]) if chosen else candidates
        score = uncertainty_score(pool.p_positive)
        order = _ranked(rest, score[rest], rng, top=n - len(picks))
        picks += _top(order, score, n - len(picks), "closest to p = 0.5")
    return picks


def diversity_strategy(pool: PoolView, n: int, rng: np.random.Generator) -> list[Pick]:
    """Uncertainty, but no two picks of one batch share a predicted digit while others remain.

    Naive top-n batches are redundant: the n most uncertain images are often n copies of the
    same confusion. Walking down the uncertainty order and skipping digits already in the batch
    spreads it; a digit repeats only when the remaining pool has no other.
    """
    candidates = _check_room(pool, n)
    score = uncertainty_score(pool.p_positive)
    # Ten digits are nearly always found near the top; the full sort is the rare fallback.
    order = _ranked(candidates, score[candidates], rng, top=max(100 * n, 2_000))
    predicted = pool.digits()
    picks = _spread_over_digits(order, predicted, candidates, score, n)
    if len(picks) < n:
        order = _ranked(candidates, score[candidates], rng)
        picks = _spread_over_digits(order, predicted, candidates, score, n)
    return picks


def _spread_over_digits(
    order: np.ndarray, predicted: np.ndarray, candidates: np.ndarray, score: np.ndarray, n: int
) -> list[Pick]:
    picks: list[Pick] = []
    used_digits: set[int] = set()
    digits_left = set(np.unique(predicted[candidates]).tolist())
    for rank, i in enumerate(order, start=1):
        digit = int(predicted[i])
        if digit in used_digits and digits_left - used_digits:
            continue
        used_digits.add(digit)
        picks.append(Pick(int(i), float(score[i]), rank, f"uncertain, predicted {digit}"))
        if len(picks) == n:
            break
        if not digits_left - used_digits:
            used_digits.clear()  # every digit is in the batch once: start a new sweep
    return picks


COMMITTEE_SIZE = 5
N_MEMBERS_INPUTS = 11  # 10 weights and a bias


def committee_strategy(pool: PoolView, n: int, rng: np.random.Generator) -> list[Pick]:
    """Query by committee: where heads trained on bootstrap resamples of the labels disagree most.

    Five heads are each fitted (to convergence) on a resample of the labels so far. The score is
    the share of the committee outvoted on an image (0 when all agree, 1 at a 50/50 split of
    hard votes), plus a thousandth of the uncertainty of their mean p as a tie-break. Hard votes,
    not the spread of p: the spread favoured odd, blurry images that every member calls the same
    way but with different confidence, and learnt nothing from them. With no labels all members
    stay at zero and the batch is a seeded random draw.
    """
    candidates = _check_room(pool, n)
    x = pool.probs[pool.labelled]
    members = np.zeros((N_MEMBERS_INPUTS, COMMITTEE_SIZE))  # weights and bias, one column each
    if len(pool.labelled):
        for member in range(COMMITTEE_SIZE):
            sample = rng.integers(0, len(pool.labelled), len(pool.labelled))
            head = SigmoidHead("converge", l2=pool.l2).fit(x[sample], pool.labels[sample])
            members[:, member] = np.append(head.weights_, head.bias_)
    # All members score the pool in one product: (n, 10) x (10, 5).
    logits = pool.probs @ members[:-1].astype(pool.probs.dtype) + members[-1]
    p_members = sigmoid(logits[candidates]).T
    positive_share = (p_members > 0.5).mean(axis=0)
    outvoted = 2.0 * np.minimum(positive_share, 1.0 - positive_share)
    score = np.zeros(len(pool.available))
    score[candidates] = outvoted + 1e-3 * uncertainty_score(p_members.mean(axis=0))
    order = _ranked(candidates, score[candidates], rng, top=n)
    return _top(order, score, n, "committee disagrees")


STRATEGIES: dict[str, Strategy] = {
    "random": random_strategy,
    "uncertainty": uncertainty_strategy,
    "band": band_strategy,
    "representative": representative_strategy,
    "diversity": diversity_strategy,
    "committee": committee_strategy,
}

DESCRIPTIONS = {
    "random": "uniform draw from the pool (the baseline)",
    "uncertainty": "p(positive) closest to 0.5 (= least confidence, margin and entropy here)",
    "band": "the demo's scheme: random inside a band around 0.5 that narrows each round",
    "representative": "one typical image per digit the CNN predicts first, then uncertainty",
    "diversity": "uncertainty, one predicted digit per batch while others remain",
    "committee": "largest vote split of 5 heads trained on bootstrap resamples",
}


def get_strategy(name: str) -> Strategy:
    """The registered strategy of that name, or a ValueError listing the names there are."""
    try:
        return STRATEGIES[name]
    except KeyError:
        raise ValueError(
            f"unknown strategy {name!r}; choose one of {', '.join(STRATEGIES)}"
        ) from None
