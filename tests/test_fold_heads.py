"""K-class fold heads fitted together (`core/fold_heads.py`) are the heads fitted fold by fold.

Their losses share no weight, so one L-BFGS run over all of them must end where `SoftmaxHead`
ends on each fold's labels alone, with and without a bias, from zeros or from a warm start.
"""

from __future__ import annotations

import numpy as np
import pytest

from tl_active.core.fold_heads import fit_fold_heads, fold_proba
from tl_active.core.head import SoftmaxHead

FOLDS, CLASSES = 5, 4


def labelled_set(n: int = 120, width: int = 6, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, CLASSES, n)
    x = np.eye(CLASSES, width)[labels] * 1.5 + rng.normal(0, 0.8, (n, width))
    return x, labels, rng.integers(0, FOLDS, n)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_the_heads_fitted_together_are_the_heads_fitted_one_by_one(fit_intercept):
    x, labels, fold = labelled_set()
    start = np.zeros((FOLDS, CLASSES, x.shape[1] + fit_intercept))
    theta = fit_fold_heads(x, labels, fold, CLASSES, start, 1e-2, fit_intercept, 1e-9)
    for f in range(FOLDS):
        alone = SoftmaxHead(CLASSES, l2=1e-2, fit_intercept=fit_intercept, tol=1e-9)
        alone.fit(x[fold != f], labels[fold != f])
        assert np.allclose(theta[f, :, : x.shape[1]], alone.coef_, atol=1e-5)
        if fit_intercept:
            assert np.allclose(theta[f, :, -1], alone.intercept_, atol=1e-5)
        held = x[fold == f]
        assert np.allclose(fold_proba(held, theta[f], fit_intercept), alone.predict_proba(held))


def test_a_warm_start_ends_where_a_cold_one_does():
    x, labels, fold = labelled_set(seed=1)
    cold = fit_fold_heads(x, labels, fold, CLASSES, np.zeros((FOLDS, CLASSES, 7)), 1e-2, True, 1e-9)
    earlier = fit_fold_heads(
        x[:90], labels[:90], fold[:90], CLASSES, np.zeros((FOLDS, CLASSES, 7)), 1e-2, True, 1e-9
    )
    warm = fit_fold_heads(x, labels, fold, CLASSES, earlier, 1e-2, True, 1e-9)
    assert np.abs(earlier - cold).max() > 1e-2  # the new labels moved the heads
    assert np.allclose(warm, cold, atol=1e-5)
