"""The sigmoid head's two training modes, without TensorFlow."""

import numpy as np
import pytest
from synthetic import synthetic_features

from tl_active.head import SigmoidHead

FEATURES = synthetic_features()
X = FEATURES.pool_probs[:50].astype(float)
Y = (FEATURES.y_pool[:50] % 2).astype(float)


def test_starts_at_zero_and_predicts_half():
    head = SigmoidHead()
    assert not head.weights_.any() and head.bias_ == 0.0
    assert np.allclose(head.predict_proba(X), 0.5)
    assert head.fit(X[:0], Y[:0]) is head and not head.weights_.any()


def test_converge_reaches_the_penalised_optimum():
    head = SigmoidHead("converge", l2=1e-3).fit(X, Y)
    p = head.predict_proba(X)
    gradient = X.T @ (p - Y) / len(Y) + 1e-3 * head.weights_
    assert np.abs(gradient).max() < 1e-8
    assert head.bias_ == 0.0  # redundant with the weights on softmax inputs: held at 0
    assert ((p > 0.5) == Y).mean() > 0.95


def test_converge_is_warm_started_and_independent_of_the_start():
    cold = SigmoidHead().fit(X, Y)
    warm = SigmoidHead().fit(X[:20], Y[:20]).fit(X, Y)
    assert np.allclose(cold.weights_, warm.weights_, atol=1e-6)


def test_converge_leaves_an_unlabelled_digit_at_one_half():
    seen = FEATURES.y_pool[:200] != 7
    x = np.eye(10)[FEATURES.y_pool[:200][seen]]
    head = SigmoidHead().fit(x, (FEATURES.y_pool[:200][seen] % 2).astype(float))
    assert head.weights_[7] == 0.0
    assert head.predict_proba(np.eye(10)[[7]])[0] == 0.5
    assert (head.weights_[[1, 3, 5, 9]] > 1).all() and (head.weights_[[0, 2, 4, 6, 8]] < -1).all()


def test_converge_stays_finite_on_one_class():
    head = SigmoidHead().fit(X[:5], np.ones(5))
    assert np.isfinite(head.weights_).all() and abs(head.bias_) < 1e4
    assert (head.predict_proba(X) > 0.5).all()


def test_demo_mode_takes_one_adam_step_of_size_learning_rate():
    head = SigmoidHead("demo").fit(X, Y)
    # Adam's first step moves every parameter by ~learning_rate against its gradient's sign.
    gradient = X.T @ (0.5 - Y) / len(Y)
    assert np.allclose(head.weights_, -0.1 * np.sign(gradient), atol=1e-4)


def test_demo_mode_learns_slower_than_converge():
    demo = SigmoidHead("demo")
    converge = SigmoidHead("converge")
    for n in range(4, 24, 4):
        demo.fit(X[:n], Y[:n])
        converge.fit(X[:n], Y[:n])
    truth = FEATURES.y_test % 2
    accuracy = {
        name: ((h.predict_proba(FEATURES.test_probs) > 0.5) == truth).mean()
        for name, h in (("demo", demo), ("converge", converge))
    }
    assert accuracy["converge"] > accuracy["demo"]


def test_unknown_mode():
    with pytest.raises(ValueError, match="converge, demo"):
        SigmoidHead("sgd")
