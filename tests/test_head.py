"""The heads: the logistic head's two training modes and the softmax head, without TensorFlow."""

import numpy as np
import pytest
from synthetic import synthetic_features

from tl_active.core.head import LogisticHead, SoftmaxHead, make_head

FEATURES = synthetic_features()
X = FEATURES.pool[:50].astype(float)
Y = (FEATURES.y_pool[:50] % 2).astype(float)


def test_starts_at_zero_and_predicts_half():
    head = LogisticHead()
    assert head.n_features_in_ is None and head.intercept_[0] == 0.0
    assert np.allclose(head.positive_proba(X), 0.5)
    assert head.fit(X[:0], Y[:0]) is head and head.n_features_in_ == 10
    assert not head.coef_[0].any()


def test_converge_reaches_the_penalised_optimum():
    head = LogisticHead("converge", l2=1e-3).fit(X, Y)
    p = head.positive_proba(X)
    gradient = X.T @ (p - Y) / len(Y) + 1e-3 * head.coef_[0]
    assert np.abs(gradient).max() < 1e-8
    assert head.intercept_[0] == 0.0  # redundant with the weights on softmax inputs: held at 0
    assert ((p > 0.5) == Y).mean() > 0.95


def test_converge_is_warm_started_and_independent_of_the_start():
    cold = LogisticHead().fit(X, Y)
    warm = LogisticHead().fit(X[:20], Y[:20]).fit(X, Y)
    assert np.allclose(cold.coef_[0], warm.coef_[0], atol=1e-6)


def test_converge_leaves_an_unlabelled_digit_at_one_half():
    seen = FEATURES.y_pool[:200] != 7
    x = np.eye(10)[FEATURES.y_pool[:200][seen]]
    head = LogisticHead().fit(x, (FEATURES.y_pool[:200][seen] % 2).astype(float))
    assert head.coef_[0][7] == 0.0
    assert head.positive_proba(np.eye(10)[[7]])[0] == 0.5
    assert (head.coef_[0][[1, 3, 5, 9]] > 1).all() and (head.coef_[0][[0, 2, 4, 6, 8]] < -1).all()


def test_converge_stays_finite_on_one_class():
    head = LogisticHead().fit(X[:5], np.ones(5))
    assert np.isfinite(head.coef_[0]).all() and abs(head.intercept_[0]) < 1e4
    assert (head.positive_proba(X) > 0.5).all()


def test_demo_mode_takes_one_adam_step_of_size_learning_rate():
    head = LogisticHead("demo").fit(X, Y)
    # Adam's first step moves every parameter by ~learning_rate against its gradient's sign.
    gradient = X.T @ (0.5 - Y) / len(Y)
    assert np.allclose(head.coef_[0], -0.1 * np.sign(gradient), atol=1e-4)


def test_demo_mode_learns_slower_than_converge():
    demo = LogisticHead("demo")
    converge = LogisticHead("converge")
    for n in range(4, 24, 4):
        demo.fit(X[:n], Y[:n])
        converge.fit(X[:n], Y[:n])
    truth = FEATURES.y_test % 2
    accuracy = {
        name: ((h.positive_proba(FEATURES.test) > 0.5) == truth).mean()
        for name, h in (("demo", demo), ("converge", converge))
    }
    assert accuracy["converge"] > accuracy["demo"]


def test_unknown_mode():
    with pytest.raises(ValueError, match="converge, demo"):
        LogisticHead("sgd")


EMBEDDING = synthetic_features(layer="embedding")
XE = EMBEDDING.pool[:300].astype(float)


def test_logistic_head_learns_its_intercept_on_an_embedding():
    # Positives are rare: the intercept carries the prior, which the weights alone cannot.
    y = (EMBEDDING.y_pool[:300] == 3).astype(float)
    head = LogisticHead(fit_intercept=True).fit(XE, y)
    assert head.n_features_in_ == 128 and head.intercept_[0] < -1.0
    theta = np.append(head.coef_[0], head.intercept_[0])
    xb = np.column_stack([XE, np.ones(len(XE))])
    gradient = xb.T @ (head.positive_proba(XE) - y) / len(y) + 1e-3 * theta
    assert np.abs(gradient).max() < 1e-8


def test_softmax_head_reaches_the_penalised_optimum():
    low = EMBEDDING.y_pool[:600] < 5
    x, y = EMBEDDING.pool[:600][low].astype(float), EMBEDDING.y_pool[:600][low]
    head = SoftmaxHead(5).fit(x, y)
    assert head.coef_.shape == (5, 128) and head.intercept_.shape == (5,)
    p = head.predict_proba(x)
    onehot = np.eye(5)[y]
    xb = np.column_stack([x, np.ones(len(x))])
    theta = np.column_stack([head.coef_, head.intercept_])
    gradient = (p - onehot).T @ xb / len(y) + 1e-3 * theta
    assert np.abs(gradient).max() < 1e-5
    assert np.allclose(p.sum(axis=1), 1.0)
    held_out = EMBEDDING.y_test < 5
    predicted = head.predict_proba(EMBEDDING.test[held_out]).argmax(axis=1)
    assert (predicted == EMBEDDING.y_test[held_out]).mean() > 0.9


def test_softmax_head_starts_uniform_and_holds_bias_on_a_simplex():
    head = SoftmaxHead(3, fit_intercept=False)
    assert np.allclose(head.predict_proba(X), 1 / 3)
    head.fit(X, FEATURES.y_pool[:50] % 3)
    assert head.coef_.shape == (3, 10) and not head.intercept_.any()


def test_softmax_head_is_warm_started_to_the_same_optimum():
    y = EMBEDDING.y_pool[:300] % 4
    cold = SoftmaxHead(4).fit(XE, y)
    warm = SoftmaxHead(4).fit(XE[:40], y[:40]).fit(XE, y)
    assert np.allclose(cold.coef_, warm.coef_, atol=2e-3)  # both within the tolerance's reach


def test_make_head_chooses_by_answers():
    assert isinstance(make_head(2, "demo", False), LogisticHead)
    assert isinstance(make_head(5, "converge", True), SoftmaxHead)
    with pytest.raises(ValueError, match="binary demo"):
        make_head(5, "demo", True)
