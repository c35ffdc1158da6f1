"""How the pool-taught head's teacher computes: the same numbers as the plain sparse products.

Spreading runs through a compiled pass over the graph renumbered for locality, two or three
answers at a time, skipping rows no mass has reached; the pseudo-labels are picked by walking
the fixed order of the pool rather than sorting; the fit runs on one BLAS thread. Each is
checked here against the straightforward computation it replaces: the spread mass to the last bit, the pseudo-labels
exactly, the head within the fit's own tolerance, and a reopened pool-taught session round by
round against the live one.
"""

import json

import numpy as np
import pytest
from pools import blobs, handmade_features

from tl_active.core.head import SoftmaxHead
from tl_active.core.pool_teacher import (
    PoolTeacher,
    clear_answers,
    one_blas_thread,
    pseudo_labels,
    spread,
    spreading_operator,
    training_set,
)
from tl_active.core.task import Task
from tl_active.data.features import FeatureSet
from tl_active.data.neighbour_graph import find_neighbours
from tl_active.sessions.records import PLAIN_HEAD, POOL_HEAD, SessionSettings
from tl_active.sessions.session import LabellingSession


def sparse_product_spread(operator, labelled, labels, n_outputs, teacher):
    """F <- alpha S F + (1 - alpha) Y by one scipy sparse product per answer and step."""
    matrix = operator.matrix.astype(np.float64)
    seeds = np.zeros((n_outputs, matrix.shape[0]))
    np.add.at(seeds, (np.asarray(labels, np.intp), np.asarray(labelled, np.intp)), 1.0)
    mass = seeds.copy()
    start = (1.0 - teacher.alpha) * seeds
    for _ in range(teacher.steps):
        for k in range(n_outputs):
            column = matrix @ mass[k]
            column *= teacher.alpha
            column += start[k]
            mass[k] = column
    return mass.T


def sorted_pseudo_labels(operator, labelled, labels, n_outputs, teacher):
    """The pseudo-labels by sorting each answer's clear images by a rank in the fixed order."""
    mass = sparse_product_spread(operator, labelled, labels, n_outputs, teacher)
    answer, clear = clear_answers(mass, teacher)
    clear[labelled] = False
    rank = np.empty(len(answer), np.intp)
    rank[np.random.default_rng(0).permutation(len(answer))] = np.arange(len(answer))
    chosen = []
    for k in range(n_outputs):
        candidates = np.flatnonzero(clear & (answer == k))
        chosen.append(candidates[np.argsort(rank[candidates], kind="stable")][: teacher.per_answer])
    positions = np.sort(np.concatenate(chosen))
    return positions, answer[positions]


@pytest.mark.parametrize(
    "n_outputs, teacher",
    [
        (1, PoolTeacher()),
        (2, PoolTeacher()),
        (3, PoolTeacher(alpha=0.5, steps=7)),
        (4, PoolTeacher()),
        (5, PoolTeacher()),
        (7, PoolTeacher(alpha=0.3, steps=12)),
        (5, PoolTeacher(alpha=0.9, steps=60)),
        (10, PoolTeacher(alpha=0.05, steps=1)),
    ],
)
def test_spread_is_the_sparse_products_to_the_last_bit(n_outputs, teacher):
    x, y = blobs(classes=max(n_outputs, 2))
    operator = spreading_operator(find_neighbours(x, 10))
    rng = np.random.default_rng(n_outputs)
    labelled = rng.choice(len(x), 12, replace=False)
    labels = rng.integers(0, n_outputs, len(labelled))
    mass = spread(operator, labelled, labels, n_outputs, teacher)
    want = sparse_product_spread(operator, labelled, labels, n_outputs, teacher)
    assert mass.shape == (len(x), n_outputs)
    assert np.array_equal(mass, want)
    # The same image twice counts twice, as the sums of seeds did.
    twice = np.append(labelled, labelled[0]), np.append(labels, labels[0])
    assert np.array_equal(
        spread(operator, *twice, n_outputs, teacher),
        sparse_product_spread(operator, *twice, n_outputs, teacher),
    )


def test_the_graph_is_renumbered_but_each_row_keeps_its_links_in_order():
    x, _ = blobs()
    operator = spreading_operator(find_neighbours(x, 10))
    matrix = operator.matrix
    assert sorted(operator.order) == list(range(len(x)))
    assert np.array_equal(operator.rank[operator.order], np.arange(len(x)))
    for row in (0, 17, len(x) - 1):
        original = operator.order[row]
        links = slice(int(operator.indptr[row]), int(operator.indptr[row + 1]))
        mine = slice(matrix.indptr[original], matrix.indptr[original + 1])
        assert np.array_equal(operator.order[operator.indices[links]], matrix.indices[mine])
        assert np.array_equal(operator.weights[links], matrix.data[mine])
    vector = np.arange(len(x), dtype=np.float64)
    assert np.array_equal(operator @ vector, matrix @ vector)
    # Neighbours get nearby numbers: the mean gap between linked rows shrinks.
    rows = np.repeat(np.arange(len(x)), np.diff(operator.indptr))
    before = np.repeat(np.arange(len(x)), np.diff(matrix.indptr))
    assert np.abs(rows - operator.indices.astype(np.intp)).mean() < 0.5 * (
        np.abs(before - matrix.indices).mean()
    )


def test_an_image_no_answer_reaches_gets_no_mass_at_all():
    # Two clouds with no link between them, and an answer in the first only.
    rng = np.random.default_rng(3)
    x = np.vstack([rng.normal(0, 0.5, (60, 2)), rng.normal(50, 0.5, (60, 2))])
    operator = spreading_operator(find_neighbours(x, 5))
    mass = spread(operator, np.array([4]), np.array([1]), 2, PoolTeacher())
    assert np.all(mass[60:] == 0.0) and np.all(mass[:60, 1] > 0.0)
    assert np.all(mass[:, 0] == 0.0)


@pytest.mark.parametrize("per_answer", [1, 25, 400])
def test_pseudo_labels_are_the_first_clear_ones_in_the_fixed_order(per_answer):
    x, _ = blobs(600, 4, seed=2)
    operator = spreading_operator(find_neighbours(x, 10))
    rng = np.random.default_rng(per_answer)
    labelled = rng.choice(len(x), 20, replace=False)
    labels = rng.integers(0, 4, len(labelled))
    teacher = PoolTeacher(per_answer=per_answer, confidence=0.6)
    positions, answers = pseudo_labels(operator, labelled, labels, 4, teacher)
    want_positions, want_answers = sorted_pseudo_labels(operator, labelled, labels, 4, teacher)
    assert len(positions) > 0
    assert np.array_equal(positions, want_positions)
    assert np.array_equal(answers, want_answers)


def test_answers_beyond_the_outputs_are_refused():
    x, _ = blobs(100, 2)
    operator = spreading_operator(find_neighbours(x, 10))
    with pytest.raises(ValueError, match="answers are output indices 0 to 1"):
        spread(operator, np.array([0, 1]), np.array([0, 2]), 2, PoolTeacher())
    with pytest.raises(ValueError, match="answers are output indices 0 to 1"):
        spread(operator, np.array([0]), np.array([-1]), 2, PoolTeacher())


def test_the_fit_on_one_blas_thread_is_the_same_head():
    from threadpoolctl import threadpool_info

    x, y = blobs(2000, 5, seed=4)
    operator = spreading_operator(find_neighbours(x, 10))
    labelled = np.flatnonzero(np.r_[True, np.diff(y) != 0])[:15]
    rows, answers, weights, count = training_set(x, operator, labelled, y[labelled], 5)
    assert count > 100
    with one_blas_thread():
        assert {
            pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"
        } == {1}
        single = SoftmaxHead(5, l2=1e-2).fit(rows, answers, weights)
    threaded = SoftmaxHead(5, l2=1e-2).fit(rows, answers, weights)
    assert np.allclose(single.coef_, threaded.coef_, atol=1e-6)
    assert np.allclose(single.intercept_, threaded.intercept_, atol=1e-6)


def three_blobs_features() -> FeatureSet:
    return handmade_features(blobs(300, 3, seed=5), blobs(90, 3, seed=5), "blobs5")


def test_a_reopened_pool_taught_session_is_the_live_one_round_by_round():
    features = three_blobs_features()
    settings = SessionSettings(
        task=Task.multiclass("0-2"),
        strategy="margin",
        batch_size=3,
        layer="embedding",
        head=POOL_HEAD,
    )
    live = LabellingSession(features, settings)
    live.auto_label(6)
    counts = [record.n_labels for record in live.rounds]
    assert counts == [3, 6, 9, 12, 15, 18]
    reopened = LabellingSession.from_dict(
        json.loads(json.dumps(live.to_dict())), features, check="every"
    )
    for mine, theirs in zip(reopened.rounds, live.rounds):
        assert np.array_equal(mine.weights, theirs.weights)
        assert np.array_equal(mine.bias, theirs.bias)
        assert mine.metrics == theirs.metrics
    assert reopened.pseudo_count == live.pseudo_count > 0
    # Both go on alike: the same batches, pseudo-labels and heads.
    for _ in range(2):
        assert [p.index for p in reopened.next_batch()] == [p.index for p in live.next_batch()]
        for session in (reopened, live):
            session.submit(session.truth([p.index for p in session.pending]))
        assert reopened.pseudo_count == live.pseudo_count
        assert np.array_equal(reopened.head.coef_, live.head.coef_)


@pytest.mark.model
def test_spread_on_the_demo_pool_is_the_sparse_products_to_the_last_bit():
    from tl_active.data.features import load_features
    from tl_active.data.neighbour_graph import task_neighbours

    features = load_features("mnist-cnn", "digits")
    data = features.task_data(Task.binary("odd"))
    operator = spreading_operator(task_neighbours(features, data, 10))
    rng = np.random.default_rng(0)
    labelled = rng.choice(data.size, 24, replace=False)
    labels = features.y_pool[data.pool_index[labelled]].astype(np.intp) % 2
    teacher = PoolTeacher()
    want = sparse_product_spread(operator, labelled, labels, 2, teacher)
    assert np.array_equal(spread(operator, labelled, labels, 2, teacher), want)
    assert all(
        np.array_equal(a, b)
        for a, b in zip(
            pseudo_labels(operator, labelled, labels, 2, teacher),
            sorted_pseudo_labels(operator, labelled, labels, 2, teacher),
        )
    )


def test_the_bench_times_the_pool_taught_round_s_parts(monkeypatch):
    from pathlib import Path

    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "bench"))
    from bench_round import time_pool_parts

    parts = time_pool_parts(three_blobs_features(), 3, task=Task.multiclass("0-2"), batch=3)
    assert set(parts) == {"spreading", "choosing", "fit", "rows"}
    assert all(values.shape == (3,) for values in parts.values())
    assert (parts["spreading"] > 0).all() and (parts["fit"] > 0).all()
    # Each round's fit is on its answers (3 more a round) and their pseudo-labels.
    assert np.all(parts["rows"] > [3, 6, 9])


def tied_features(name: str) -> FeatureSet:
    """Blobs rounded to whole numbers: most rows have exact twins, so neighbours tie."""
    x, y = blobs(600, classes=3, seed=4)
    x_test, y_test = blobs(150, classes=3, seed=5)
    return handmade_features((np.round(x), y), (np.round(x_test), y_test), name)


def test_phased_and_the_session_spread_over_one_table_whichever_makes_it_first(tmp_path):
    from tl_active.core.strategies.neighbours import find_neighbours as one_maker
    from tl_active.core.strategies.neighbours import nearest_neighbours

    x = np.round(blobs(600, classes=3, seed=4)[0])
    # The first 10 of a 20-neighbour search is not the 10-neighbour search where rows tie:
    # phased once made the shared operator from the former, the session from the latter.
    assert (nearest_neighbours(x)[1][:, :10] != one_maker(x, 10)).any(axis=1).mean() > 0.5
    assert find_neighbours is one_maker

    def operator_after(first: str):
        features = tied_features(f"tied-{first}")
        settings = SessionSettings(
            task=Task.multiclass("0-2"),
            strategy="phased",
            batch_size=5,
            layer="embedding",
            head=POOL_HEAD if first == "session" else PLAIN_HEAD,
        )
        session = LabellingSession(features, settings, charts=False)
        if first == "session":  # the pool-taught head's first fit makes it
            session.training_set(np.zeros(0, np.intp), np.zeros(0, np.intp))
        name = session.teacher.operator_name
        assert ("derived", name) in session.data.shared or first == "phased"
        session.answer_by_truth()
        session.next_batch()  # phased's settled share reads the operator, or makes it
        return session.data.derived(name, None).matrix

    by_session, by_phased = operator_after("session"), operator_after("phased")
    assert (by_session != by_phased).nnz == 0
    assert by_session.nnz > 0
