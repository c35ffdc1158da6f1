"""Small hand-made pools of clustered points, where the right pseudo-labels are known.

The pool-taught head's tests draw their images from these: two tight clouds far apart, or
overlapping clouds whose spread answers are mixed at the edges; `handmade_features` makes a
feature set of such points for a labelling session.
"""

from __future__ import annotations

import numpy as np

from tl_active.data.features import FeatureSet


def two_clusters(n: int = 120, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two tight clouds far apart on a line: class 0 around x = 0, class 1 around x = 10."""
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1], n // 2)
    x = np.column_stack([10.0 * y, np.zeros(n)]) + rng.normal(0, 0.5, (n, 2))
    return x.astype(np.float32), y


def blobs(n: int = 400, classes: int = 5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Overlapping clouds in 3-d, one per class, so the spread answers are mixed at the edges."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, classes, n)
    centres = rng.normal(0, 3, (classes, 3))
    return (centres[y] + rng.normal(0, 1.5, (n, 3))).astype(np.float32), y


def handmade_features(
    pool: tuple[np.ndarray, np.ndarray], test: tuple[np.ndarray, np.ndarray], name: str
) -> FeatureSet:
    """A feature set of clustered points and their classes on an `embedding` layer; `name`
    makes its key (`<name>-embedding-handmade`), which the neighbour cache is kept under."""
    (x_pool, y_pool), (x_test, y_test) = pool, test
    return FeatureSet(
        pool=x_pool,
        test=x_test,
        y_pool=y_pool.astype(np.uint8),
        y_test=y_test.astype(np.uint8),
        layer="embedding",
        key=f"{name}-embedding-handmade",
    )
