"""K-class heads for the folds of a labelled set, fitted together as one problem.

Look again (`sessions/suspects.py`) needs, for each of k folds, the softmax head that learned
every label outside the fold. Fitted one by one, that is k L-BFGS runs, each paying the
optimiser's own per-step cost on a small problem. Their losses do not share a weight, so their
sum is minimised where each one is: one L-BFGS run over all k heads' weights, with one matrix
product a step for all of them, ends at the same heads (the stopping test is on the largest
gradient component, so every head is held to the tolerance it would have alone).

The loss is `SoftmaxHead`'s (`core/head.py`): the mean cross-entropy over the head's labels plus
`l2 / 2` times the squared weights, bias included; `tests/test_fold_heads.py` checks the heads
against `SoftmaxHead` fitted fold by fold.
"""

from __future__ import annotations

import numpy as np


def fit_fold_heads(
    x: np.ndarray,
    labels: np.ndarray,
    fold: np.ndarray,
    n_classes: int,
    start: np.ndarray,
    l2: float,
    fit_intercept: bool,
    tol: float,
) -> np.ndarray:
    """(folds, n_classes, width + fit_intercept) weights, bias last: fold f's head learned every
    label whose `fold` is not f, from `start` (the same shape) to a gradient under `tol`."""
    from scipy.optimize import minimize

    x = np.asarray(x, np.float64)
    labels = np.asarray(labels, np.intp)
    n = len(labels)
    folds, k, cols = start.shape
    if fit_intercept:
        x = np.column_stack([x, np.ones(n)])
    onehot = np.zeros((n, 1, k))
    onehot[np.arange(n), 0, labels] = 1.0
    # Each label's weight in each head's mean: 1 / (the head's labels), 0 in its own fold.
    weight = (np.asarray(fold)[:, None] != np.arange(folds)[None, :]).astype(np.float64)
    weight /= np.maximum(weight.sum(axis=0), 1.0)
    weight = weight[:, :, None]

    def loss_and_grad(flat: np.ndarray) -> tuple[float, np.ndarray]:
        theta = flat.reshape(folds * k, cols)
        z = (x @ theta.T).reshape(n, folds, k)
        z -= z.max(axis=2, keepdims=True)
        e = np.exp(z)
        total = e.sum(axis=2, keepdims=True)
        per_label = np.log(total) - (z * onehot).sum(axis=2, keepdims=True)
        loss = float((weight * per_label).sum()) + 0.5 * l2 * float(flat @ flat)
        residual = (e / total - onehot) * weight
        grad = residual.reshape(n, folds * k).T @ x + l2 * theta
        return loss, grad.ravel()

    result = minimize(
        loss_and_grad,
        np.asarray(start, np.float64).ravel(),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": 1000, "gtol": tol, "ftol": tol * 1e-5},
    )
    return result.x.reshape(folds, k, cols)


def fold_proba(x: np.ndarray, theta: np.ndarray, fit_intercept: bool) -> np.ndarray:
    """(n, n_classes) probabilities of one fold's head, `theta` (n_classes, width + bias)."""
    z = np.asarray(x, np.float64) @ theta[:, : x.shape[1]].T
    if fit_intercept:
        z += theta[:, -1]
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


__all__ = ["fit_fold_heads", "fold_proba"]
