"""What the pool's own geometry says, made once per pool and kept with it.

The strategies of the field read the frozen features' neighbourhoods: who lies near whom, how
dense the pool is around an image, which images a ball of some radius holds. Each is made once
per pool through `PoolView.cached` (the session keeps it with the task's data, so every round,
seed and strategy share it) and none is quadratic in the pool: a 60,000-image pool has a
60,000 x 20 table of nearest neighbours, never a 60,000 x 60,000 matrix of distances.
"""

from __future__ import annotations

import numpy as np

NEIGHBOURS = 20  # TypiClust's typicality reads this many neighbours (Hacohen et al. 2022)
EDGE_BUDGET = 20_000_000  # entries of a ball graph: 160 MB with its column indices


def nearest_neighbours(features: np.ndarray, k: int = NEIGHBOURS) -> tuple[np.ndarray, np.ndarray]:
    """Each image's `k` nearest other images: (distances, positions), both (n, k), nearest first."""
    from sklearn.neighbors import NearestNeighbors

    k = min(k, len(features) - 1)
    if k < 1:
        return np.zeros((len(features), 0)), np.zeros((len(features), 0), np.intp)
    # Without an argument, kneighbors leaves each image out of its own neighbours, duplicates too.
    distances, positions = NearestNeighbors(n_neighbors=k).fit(features).kneighbors()
    return distances, positions.astype(np.intp)


def find_neighbours(features: np.ndarray, k: int, standardised: bool = False) -> np.ndarray:
    """Each image's `k` nearest other images' positions, (n, k) int32, nearest first; exact.

    The table the pool-taught head's spreading graph is made from, by the session and by
    `phased` alike (`spreading_table`). Asked for `k` neighbours, the search can order tied
    images otherwise than the first `k` of a longer search: on a pool with duplicate rows the
    two tables differed in most rows, so one maker serves both. `standardised`: the distances
    are those of the features scaled to mean 0 and standard deviation 1 over these images, so
    every unit of the layer has the same say (see `standardise`).
    """
    from sklearn.neighbors import NearestNeighbors

    k = min(k, len(features) - 1)
    if k < 1:
        return np.zeros((len(features), 0), np.int32)
    if standardised:
        features = standardise(features)
    found = NearestNeighbors(n_neighbors=k).fit(features).kneighbors(return_distance=False)
    return found.astype(np.int32)


def standardise(features: np.ndarray) -> np.ndarray:
    """The features scaled to mean 0 and standard deviation 1 per unit, over these rows; a unit
    that never varies is left at 0 rather than divided by 0."""
    x = np.asarray(features, np.float64)
    spread = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(spread > 0, spread, 1.0)


def spreading_table(pool, k: int, standardised: bool = False):
    """`find_neighbours(features, k, standardised)` of a `PoolView`, kept under the name the
    session keeps it under (`data/neighbour_graph.task_neighbours`), so that whichever of them
    comes first makes it, and both read the same table."""
    return pool.cached(table_name(k, standardised), lambda x: find_neighbours(x, k, standardised))


def table_name(k: int, standardised: bool = False) -> str:
    """The name a pool's table of `k` neighbours is kept under."""
    return f"neighbour table {k}" + (", standardised" if standardised else "")


def pool_neighbours(pool) -> tuple[np.ndarray, np.ndarray]:
    """`nearest_neighbours` of a `PoolView`'s features, made once per pool and shared by the
    strategies that read them (TypiClust's typicality, MaxHerding's kernel, `phased`)."""
    return pool.cached("neighbours", nearest_neighbours)


def typicality(distances: np.ndarray) -> np.ndarray:
    """1 / the mean distance to an image's nearest neighbours: high where the pool is dense."""
    if distances.shape[1] == 0:
        return np.ones(len(distances))
    return 1.0 / (distances.mean(axis=1) + 1e-12)


def kmeans_clusters(features: np.ndarray, k: int) -> np.ndarray:
    """Seeded k-means into `k` clusters; mini-batch above 50 clusters, as TypiClust's code does."""
    from sklearn.cluster import KMeans, MiniBatchKMeans

    k = max(1, min(k, len(features)))
    if k <= 50:
        model = KMeans(k, n_init=1, random_state=0)
    else:
        model = MiniBatchKMeans(k, n_init=1, random_state=0, batch_size=4_096)
    return model.fit(features).labels_.astype(np.intp)


def distance_to_another_class(features: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Each image's distance to the nearest image of another (pseudo-)class.

    One nearest-neighbour search per class against the images outside it: the whole pool is
    read once per class, and nothing larger than a search index is held.
    """
    from sklearn.neighbors import NearestNeighbors

    result = np.full(len(features), np.inf)
    for label in np.unique(classes):
        inside = classes == label
        if inside.all():
            continue
        search = NearestNeighbors(n_neighbors=1).fit(features[~inside])
        result[inside] = search.kneighbors(features[inside])[0][:, 0]
    return result


def pure_radius(features: np.ndarray, classes: np.ndarray, purity: float) -> float:
    """The largest radius whose balls stay pure for at least `purity` of the images.

    A ball is pure when every image in it has its centre's (pseudo-)class: the ball of radius
    delta around an image is pure exactly when delta is below its distance to another class,
    so the radius is that distance's (1 - purity) quantile (ProbCover, Yehuda et al. 2022).
    """
    nearest_other = distance_to_another_class(features, classes)
    finite = nearest_other[np.isfinite(nearest_other)]
    if len(finite) == 0:  # a single class: every ball is pure; one spanning the pool will do
        return float(np.linalg.norm(features.max(axis=0) - features.min(axis=0))) + 1.0
    return float(np.quantile(nearest_other, 1.0 - purity))


def ball_graph(features: np.ndarray, radius: float, budget: int = EDGE_BUDGET):
    """The pool's balls as a sparse matrix: row i marks the images within `radius` of image i.

    Each image is in its own ball; the entries are float32 ones, so a product with the
    uncovered images counts what each ball would newly cover. Where the balls are large (the
    softmax outputs of a network that knows the classes put thousands of images in each), the
    whole graph would pass `budget` entries: then the columns are a seeded sample of the pool,
    as many as the budget holds, and a ball's count is an estimate (times n / the sample).
    """
    from sklearn.neighbors import NearestNeighbors

    n = len(features)
    search = NearestNeighbors(radius=radius).fit(features)
    sampler = np.random.default_rng(0)
    probe = features[sampler.choice(n, min(n, 500), replace=False)]
    ball_size = np.mean([len(i) for i in search.radius_neighbors(probe, return_distance=False)])
    columns = n
    if n * ball_size > budget:
        columns = max(1, int(budget / ball_size))
        targets = np.sort(sampler.choice(n, columns, replace=False))
        search = NearestNeighbors(radius=radius).fit(features[targets])
    graph = search.radius_neighbors_graph(features)
    graph.data = graph.data.astype(np.float32)
    graph.indices = graph.indices.astype(np.int32)
    return graph
