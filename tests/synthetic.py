"""A small, fake `FeatureSet` for fast tests: no TensorFlow, no MNIST, known answers.

Each image gets a digit. On the `digits` layer its "softmax" puts most mass on that digit (a
few are ambiguous, split between two digits); on the `embedding` layer it is a noisy one-hot of
the digit in 128 dimensions, so typical images are the ones closest to their digit's centre.
"""

from __future__ import annotations

import numpy as np

from tl_active.data.features import FeatureSet


def fake_probs(digits: np.ndarray, rng: np.random.Generator, ambiguous: float = 0.1) -> np.ndarray:
    n = len(digits)
    probs = rng.dirichlet(np.full(10, 0.3), size=n) * 0.1
    probs[np.arange(n), digits] += 0.9
    confused = rng.random(n) < ambiguous
    other = (digits + rng.integers(1, 10, n)) % 10
    probs[confused] *= 0.5
    probs[np.flatnonzero(confused), other[confused]] += 0.5
    return (probs / probs.sum(axis=1, keepdims=True)).astype(np.float32)


def fake_embedding(digits: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return (np.eye(10, 128)[digits] + rng.normal(0, 0.3, (len(digits), 128))).astype(np.float32)


def synthetic_features(
    n_pool: int = 2_000, n_test: int = 500, seed: int = 0, model: str = "", layer: str = "digits"
) -> FeatureSet:
    """`model` names the fake network: two names, two model checksums (for refusal tests)."""
    rng = np.random.default_rng(seed)
    y_pool = rng.integers(0, 10, n_pool).astype(np.uint8)
    y_test = rng.integers(0, 10, n_test).astype(np.uint8)
    make = fake_probs if layer == "digits" else fake_embedding
    pool, test = make(y_pool, rng), make(y_test, rng)
    return FeatureSet(
        pool=pool,
        test=test,
        y_pool=y_pool,
        y_test=y_test,
        layer=layer,
        key=f"{model or f'synthetic{seed:08d}'}-{layer}-synthetic",
    )
