"""Strategies for a small budget: ask about typical images, and cover the pool with them.

At a few labels per class, the images worth asking about are the typical ones, the dense middle
of each region of the frozen features, not the ones the head is unsure of (Hacohen et al.
2022). Both strategies here work from the pool's geometry alone, so they know what to ask
before the head has learnt anything:

- `typiclust`: k-means into as many clusters as there will be labels; the clusters with the
  fewest labels first, larger ones first among those, and in each its most typical image
  (typicality: 1 / the mean distance to its 20 nearest neighbours in the cluster);
- `probcover`: balls of one radius around every image; each pick is the image whose ball holds
  the most images no labelled ball holds yet. The radius comes from the features: the largest
  whose balls stay 95 % pure against k-means pseudo-classes (one per class of the data).

The neighbour table, the radius and the ball graph are made once per pool and kept with it
(`PoolView.cached`); TypiClust's clustering once per number of clusters, which grows with the
labels: each round runs a k-means (seconds on a 30,000 x 128 pool), the price of its picks. Where the balls are
so large that the graph would not fit its budget (the 10 softmax outputs of a network that
knows the digits put 6,000 images in a ball: 360 million entries), coverage is counted on a
seeded sample of the pool instead (`neighbours.ball_graph`).
"""

from __future__ import annotations

import numpy as np

from tl_active.core.strategies.neighbours import (
    NEIGHBOURS,
    ball_graph,
    kmeans_clusters,
    nearest_neighbours,
    pool_neighbours,
    pure_radius,
    typicality,
)
from tl_active.core.strategies.pool import Pick, PoolView, check_room

MAX_CLUSTERS = 500  # TypiClust's cap on clusters: beyond it, k-means costs more than it tells
MIN_CLUSTER_SIZE = 5  # smaller clusters are outliers, never asked about first (as TypiClust)
PURITY = 0.95  # the share of pure balls ProbCover's radius keeps (Yehuda et al. 2022)


def pool_typicality(pool: PoolView) -> np.ndarray:
    """Each image's typicality from its 20 nearest neighbours, made once per pool."""
    return pool.cached("typicality", lambda x: typicality(pool_neighbours(pool)[0]))


def cluster_typicality(pool: PoolView, k: int, clusters: np.ndarray, cluster: int):
    """The members of one of the k clusters, and their typicality among themselves.

    As TypiClust's code does: each member's neighbours are looked up inside its cluster (at
    most 20, at most half the cluster), so a member on the edge of a denser cluster is not
    called typical for its neighbours there. Made for the clusters a strategy visits, once.
    """
    table = pool.cached(f"typiclust-{k}-typicality", lambda x: {})
    members = np.flatnonzero(clusters == cluster)
    if cluster not in table:
        neighbours = max(1, min(NEIGHBOURS, len(members) // 2))
        table[cluster] = typicality(nearest_neighbours(pool.features[members], neighbours)[0])
    return members, table[cluster]


def typiclust_strategy(pool: PoolView, n: int, rng: np.random.Generator) -> list[Pick]:
    """TypiClust: the most typical image of each cluster with the fewest labels.

    The pool is cut into (labels so far + n) clusters, at most 500. Each pick goes to the
    cluster of at least 5 images with the fewest labels (counting this batch's picks), the
    larger first on a tie, and is its most typical free image, typicality measured inside the
    cluster. With no such cluster left, the most typical free image of the pool.
    """
    check_room(pool, n)
    k = min(len(pool.labelled) + n, MAX_CLUSTERS, len(pool.available))
    clusters = pool.cached(f"typiclust-{k}", lambda x: kmeans_clusters(x, k))
    sizes = np.bincount(clusters, minlength=k)
    labels_in = np.bincount(clusters[pool.labelled], minlength=k)
    free = pool.available.copy()
    picks: list[Pick] = []
    while len(picks) < n:
        open_clusters = np.flatnonzero(np.bincount(clusters[free], minlength=k) > 0)
        open_clusters = open_clusters[sizes[open_clusters] >= MIN_CLUSTER_SIZE]
        if len(open_clusters):
            # Fewest labels first, then the largest, then the lowest number (all seeded).
            order = np.lexsort((open_clusters, -sizes[open_clusters], labels_in[open_clusters]))
            cluster = int(open_clusters[order[0]])
            members, typical = cluster_typicality(pool, k, clusters, cluster)
            reason = f"most typical of cluster {cluster} ({labels_in[cluster]} labelled)"
            labels_in[cluster] += 1
        else:
            members, typical = np.arange(len(free)), pool_typicality(pool)
            reason = "most typical left"
        score = np.where(free[members], typical, -np.inf)
        best = int(np.argmax(score))
        rank = int((score > score[best]).sum()) + 1  # among the free images of its cluster
        picks.append(Pick(int(members[best]), float(typical[best]), rank, reason))
        free[members[best]] = False
    return picks


def probcover_radius(pool: PoolView) -> float:
    """ProbCover's radius on this pool: 95 % of its balls pure against the k-means classes."""
    clusters = pool.clusters_and_typicality()[0]
    return pool.cached("probcover-radius", lambda x: pure_radius(x, clusters, PURITY))


def probcover_strategy(pool: PoolView, n: int, rng: np.random.Generator) -> list[Pick]:
    """ProbCover: each pick the image whose ball covers the most still-uncovered images.

    Labelled images cover their balls first. Once every image is covered, ProbCover has nothing
    more to say and the rest of the batch is a seeded random draw, as in its paper.
    """
    candidates = check_room(pool, n)
    radius = probcover_radius(pool)
    graph = pool.cached("probcover-balls", lambda x: ball_graph(x, radius))
    covered = np.zeros(graph.shape[1], bool)  # the pool, or the sample its balls are counted on
    scale = graph.shape[0] / graph.shape[1]
    if len(pool.labelled):
        covered[graph[pool.labelled].indices] = True
    free = pool.available.copy()
    picks: list[Pick] = []
    while len(picks) < n:
        gain = (graph @ (~covered).astype(np.float32)) * scale
        options = np.flatnonzero(free)
        best_gain = gain[options].max()
        if best_gain > 0:
            best = int(options[np.argmax(gain[options])])
            rank = int((gain[candidates] > gain[best]).sum()) + 1
            about = "" if scale == 1 else "about "
            reason = f"covers {about}{gain[best]:.0f} new images (radius {radius:.3g})"
        else:
            best, rank, reason = int(rng.choice(options)), 1, "pool covered: random draw"
        picks.append(Pick(best, float(gain[best]), rank, reason))
        covered[graph.indices[graph.indptr[best] : graph.indptr[best + 1]]] = True
        free[best] = False
    return picks
