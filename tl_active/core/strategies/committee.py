"""Query by committee: ask where heads trained on resamples of the labels disagree.

The committee is `COMMITTEE_SIZE` copies of the session's head, each refitted on a bootstrap
resample of the labels so far; the pool view lends the copies (`new_head`). With no labels every
member stays untrained and abstains, and the batch is a seeded random draw.
"""

from __future__ import annotations

import numpy as np

from tl_active.core.rows import row_argmax, row_max, row_min
from tl_active.core.strategies.pool import Pick, PoolView, check_room, ranked, top_picks
from tl_active.core.strategies.uncertainty import least_confidence

COMMITTEE_SIZE = 5


def committee_strategy(pool: PoolView, n: int, rng: np.random.Generator) -> list[Pick]:
    """Query by committee: where heads trained on bootstrap resamples of the labels disagree most.

    Five copies of the session's head are each refitted (warm-started from it) on a resample of
    the labels so far. The score is the share of the committee outside the largest vote on an
    image (0 when all agree; a member whose answers are all equally likely abstains), plus a
    thousandth of the least confidence of their mean p as a tie-break. Hard votes, not the spread
    of p: the spread favoured odd, blurry images that every member calls the same way but with
    different confidence, and learnt nothing from them. With no labels all members stay
    untrained and the batch is a seeded random draw.
    """
    candidates = check_room(pool, n)
    k = pool.n_outputs
    x = pool.features[candidates]
    if k == 2 and pool.new_head is not None and len(pool.labelled):
        score = _binary_committee_score(pool, candidates, x, rng)
        order = ranked(candidates, score[candidates], rng, top=n)
        return top_picks(order, score, n, "committee disagrees")
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
    order = ranked(candidates, score[candidates], rng, top=n)
    return top_picks(order, score, n, "committee disagrees")


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
