"""MaxHerding: cover the pool in a kernel's sense, each pick the largest gain in generalised coverage.

Bae, Noh and Sutherland (Generalized Coverage for More Robust Low-Budget Active Learning, ECCV
2024) replace ProbCover's hard balls with a kernel: the coverage of the pool by a set S is the
sum over images x of max over s in S of k(x, s), and each greedy pick adds the image that
raises it most. Their kernel is a Gaussian over the whole pool, an n x n matrix (14 GB for
60,000 images); here it is kept on each image's 20 nearest neighbours (a sparse n x 21 table,
itself included), where a Gaussian of the features' own scale is all but zero beyond them
anyway. The scale is a rule, not a setting: the median distance to the 20th neighbour.
A pick costs one pass over the table's entries.
"""

from __future__ import annotations

import numpy as np

from tl_active.core.strategies.neighbours import pool_neighbours
from tl_active.core.strategies.pool import Pick, PoolView, check_room


def neighbour_kernel(distances: np.ndarray, positions: np.ndarray):
    """The Gaussian kernel on each image's k nearest neighbours and itself, as CSR (n x n).

    `distances` and `positions` are the neighbour table, (n, k) each. Row x holds k(x, j)
    for j among x's neighbours: a pick j raises x's coverage to at most that. The bandwidth
    is the median distance to the k-th neighbour.
    """
    import scipy.sparse as sparse

    n, k = positions.shape
    scale = float(np.median(distances[:, -1])) if k else 1.0
    weights = np.exp(-(distances**2) / (2.0 * max(scale, 1e-12) ** 2))
    rows = np.repeat(np.arange(n), k + 1)
    columns = np.column_stack([np.arange(n), positions]).ravel()
    values = np.column_stack([np.ones(n), weights]).ravel().astype(np.float32)
    return sparse.csr_matrix((values, (rows, columns)), shape=(n, n))


def maxherding_strategy(pool: PoolView, n: int, rng: np.random.Generator) -> list[Pick]:
    """Each pick the free image whose kernel adds the most coverage of the pool.

    The labelled images cover first. Once no free image adds any coverage (a tiny pool),
    the rest of the batch is a seeded random draw.
    """
    candidates = check_room(pool, n)
    kernel, by_column, rows = pool.cached(
        "herding-kernel", lambda x: _kernel_tables(*pool_neighbours(pool))
    )
    covered = np.zeros(kernel.shape[0], np.float32)
    for j in pool.labelled:
        _cover(by_column, covered, int(j))
    free = pool.available.copy()
    picks: list[Pick] = []
    while len(picks) < n:
        gains = np.maximum(kernel.data - covered[rows], 0.0)
        gain = np.bincount(kernel.indices, weights=gains, minlength=kernel.shape[1])
        options = np.flatnonzero(free)
        best = int(options[np.argmax(gain[options])])
        if gain[best] > 0:
            rank = int((gain[candidates] > gain[best]).sum()) + 1
            reason = f"adds {gain[best]:.1f} to the pool's kernel coverage"
        else:
            best, rank, reason = int(rng.choice(options)), 1, "pool covered: random draw"
        picks.append(Pick(best, float(gain[best]), rank, reason))
        _cover(by_column, covered, best)
        free[best] = False
    return picks


def _kernel_tables(distances: np.ndarray, positions: np.ndarray):
    """The kernel by rows and by columns, and each entry's row: made once per pool."""
    kernel = neighbour_kernel(distances, positions)
    rows = np.repeat(np.arange(kernel.shape[0]), np.diff(kernel.indptr))
    return kernel, kernel.tocsc(), rows


def _cover(by_column, covered: np.ndarray, j: int) -> None:
    """Raise each image's coverage to its kernel value with image j, where that is higher."""
    start, end = by_column.indptr[j], by_column.indptr[j + 1]
    images = by_column.indices[start:end]
    covered[images] = np.maximum(covered[images], by_column.data[start:end])
