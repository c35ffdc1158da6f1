"""Strategies that cover the pool: they ask across the clusters of the frozen features.

`representative` and `diversity` work from clusters of the frozen features (k-means, see
`features.TaskData`), not from the backbone's own argmax, which means nothing on a backbone that
never saw the classes. Both still know what to ask while the head is untrained and every p is
equal, because the clusters do not depend on the head.

`diversity`, the default, is the smallest margin spread over those clusters, with ties broken
towards the most typical image of a cluster: its first batch is one typical image from each of
several clusters rather than a random draw. Margin rather than least confidence because, for K
classes, the question a label settles is between the two answers the head hesitates over (on
the 5-9 network's embedding, digits 0-4, margin reached 95.3 % at 50 labels where least
confidence reached 89.9 %); for a binary task the two are the same order.
"""

from __future__ import annotations

import numpy as np

from tl_active.core.strategies.pool import Pick, PoolView, check_room, ranked, top_picks
from tl_active.core.strategies.uncertainty import least_confidence, margin_score, unsure_reason


def representative_strategy(pool: PoolView, n: int, rng: np.random.Generator) -> list[Pick]:
    """First the most typical image of each cluster nobody has labelled, then uncertainty.

    A cluster (k-means on the frozen features) counts as covered once any image in it is
    labelled; its most typical image is the one nearest its centre. Uncovered clusters are taken
    in a seeded random order; once every cluster is covered this is `uncertainty`.
    """
    candidates = check_room(pool, n)
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
        order = ranked(rest, score[rest], rng, top=n - len(picks))
        picks += top_picks(order, score, n - len(picks), unsure_reason(pool, "least confident"))
    return picks


def diversity_strategy(pool: PoolView, n: int, rng: np.random.Generator) -> list[Pick]:
    """The smallest margins spread over clusters: no two picks share one while others remain.

    Naive top-n batches are redundant: the n least sure images are often n images of the same
    unseen digit. This takes the least sure image of each cluster, most unsure first; a cluster
    gives a second image only when every cluster with images left has given one. Equal scores
    (all of them, before the first round) go to the most typical image of a cluster first.
    """
    candidates = check_room(pool, n)
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
