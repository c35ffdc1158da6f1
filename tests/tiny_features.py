"""A small synthetic `FeatureSet` for the store and exchange tests: no TensorFlow, no MNIST.

Each image's "softmax" is close to the one-hot of its digit, so the head learns a target fast.
"""

from __future__ import annotations

import numpy as np

from tl_active.features import FeatureSet


def _probs(digits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    probs = rng.dirichlet(np.full(10, 0.5), size=len(digits)) * 0.2
    probs[np.arange(len(digits)), digits] += 0.8
    return (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)


def tiny_features(
    n_pool: int = 400, n_test: int = 200, seed: int = 0, model: str = "tinymodel"
) -> FeatureSet:
    rng = np.random.default_rng(seed)
    y_pool = rng.integers(0, 10, n_pool).astype(np.uint8)
    y_test = rng.integers(0, 10, n_test).astype(np.uint8)
    return FeatureSet(
        pool_probs=_probs(y_pool, rng),
        pool_embedding=(np.eye(10, 128)[y_pool] + rng.normal(0, 0.3, (n_pool, 128))).astype(
            np.float32
        ),
        y_pool=y_pool,
        test_probs=_probs(y_test, rng),
        y_test=y_test,
        key=f"{model}-tinydata",
    )
