"""Rules 5: on a layer of features the answers spread over a directed graph of the standardised
features, and on a question of three answers or more a pseudo-label needs only a cluster someone
answered; on class probabilities the rules stay rules 4's."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import scipy.sparse as sparse
from pools import blobs, handmade_features, two_clusters

from tl_active.core.head import on_simplex
from tl_active.core.pool_teacher import (
    DIRECTED,
    POOL_RULES,
    SYMMETRIC,
    TEACHERS,
    PoolTeacher,
    clear_answers,
    pseudo_labels,
    safeguard,
    spread,
    spreading_operator,
    teacher_for,
)
from tl_active.core.strategies.neighbours import find_neighbours, standardise, table_name
from tl_active.core.task import Task
from tl_active.data.neighbour_graph import task_neighbours
from tl_active.sessions.records import POOL_HEAD, SessionSettings
from tl_active.sessions.session import LabellingSession


def plain_iteration(neighbours, labelled, labels, n_outputs, teacher):
    """F <- alpha S F + (1 - alpha) Y by scipy's products, S the directed graph written out:
    row i reads its own neighbours j, each at 1 / sqrt(d_i d_j), d counting an image's readers."""
    n, k = neighbours.shape
    links = sparse.csr_matrix(
        (np.ones(n * k), (np.repeat(np.arange(n), k), neighbours.ravel())), shape=(n, n)
    )
    readers = np.maximum(np.asarray(links.sum(axis=0)).ravel(), 1.0)
    scale = 1.0 / np.sqrt(readers)
    graph = sparse.diags(scale) @ links @ sparse.diags(scale)
    seeds = np.zeros((n, n_outputs))
    seeds[labelled, labels] = 1.0
    mass = seeds.copy()
    for _ in range(teacher.steps):
        mass = teacher.alpha * (graph @ mass) + (1 - teacher.alpha) * seeds
    return mass


def test_the_directed_graph_spreads_as_its_plain_iteration():
    x = np.random.default_rng(3).normal(size=(800, 6))
    table = find_neighbours(x, 10)
    teacher = PoolTeacher(graph=DIRECTED)
    labelled, labels = np.array([4, 90, 300, 555, 701]), np.array([0, 1, 2, 1, 0])
    operator = spreading_operator(table, directed=True)
    mass = spread(operator, labelled, labels, 3, teacher)
    expected = plain_iteration(table, labelled, labels, 3, teacher)
    # The weights are float32 numbers; the rest is float64, as the plain iteration.
    assert np.allclose(mass, expected, rtol=1e-5, atol=1e-12)
    assert (mass.sum(axis=1) > 0).all()
    # Not the symmetric graph's spreading.
    symmetric = spread(spreading_operator(table), labelled, labels, 3, teacher)
    assert not np.allclose(symmetric, mass, rtol=1e-3)


def test_an_image_no_one_reads_still_reads_its_neighbours():
    # A far image: its neighbours are the cloud's, but it is no cloud image's neighbour. Its
    # row reads them; the pass must wake it when they get mass (it walks each link both ways).
    cloud = np.random.default_rng(0).normal(size=(60, 2))
    x = np.vstack([cloud, [[40.0, 0.0]]])
    table = find_neighbours(x, 5)
    assert 60 not in table[:60]
    operator = spreading_operator(table, directed=True)
    # Stored both ways, a reverse link at weight 0: the far image's readers are none.
    assert operator.matrix[:, 60].sum() == 0 and operator.matrix[60].nnz == 5
    mass = spread(operator, np.array([0]), np.array([1]), 2, PoolTeacher(graph=DIRECTED))
    assert mass[60, 1] > 0 and mass[60, 0] == 0
    assert np.allclose(
        mass, plain_iteration(table, [0], [1], 2, PoolTeacher()), rtol=1e-5, atol=1e-12
    )


def test_a_hub_passes_less_on_to_each_reader():
    # Images 1 to 4 each read image 0 and one other; image 0 (four readers) passes each of them
    # 1 / sqrt(d_i * 4), the others 1 / sqrt(d_i * 1).
    table = np.array([[1, 2], [0, 2], [0, 3], [0, 4], [0, 1]])
    operator = spreading_operator(table, directed=True)
    readers = np.array([4, 2, 2, 1, 1])
    for i, row in enumerate(table):
        for j in row:
            assert operator.matrix[i, j] == pytest.approx(1 / np.sqrt(readers[i] * readers[j]))


def test_rules_five_differ_by_the_kind_of_layer():
    assert POOL_RULES == 5
    on_probabilities, on_features = teacher_for(5, True), teacher_for(5, False)
    assert on_probabilities == TEACHERS[4] and on_probabilities.graph == SYMMETRIC
    assert not on_probabilities.standardised
    assert all(on_probabilities.asks_agreement(k) for k in (2, 3, 10))
    assert on_features.graph == DIRECTED and on_features.standardised and on_features.guarded
    # The plain head's agreement on two answers only.
    assert on_features.asks_agreement(2) and not on_features.asks_agreement(3)
    # Nothing else moved: the walk, the confidence, the weights, the fit.
    same = dataclasses.replace(
        on_features, graph=SYMMETRIC, standardised=False, agreement_up_to=None
    )
    assert same == TEACHERS[4]
    # Earlier rules are one teacher on every layer.
    assert teacher_for(4, True) == teacher_for(4, False) == TEACHERS[4]
    with pytest.raises(ValueError, match="graph is one of"):
        PoolTeacher(graph="mutual")
    with pytest.raises(ValueError, match="agreement_up_to"):
        PoolTeacher(agreement_up_to=0)


def test_without_the_agreement_the_safeguard_keeps_every_answered_cluster():
    clusters = np.array([0, 0, 1, 1, 2, 2])
    keep = safeguard(clusters, np.array([0, 2]), None)
    positions = np.array([1, 3, 4, 5])
    assert keep(positions, np.array([1, 0, 0, 1])).tolist() == [True, True, False, False]
    # With it, the plain head's disagreement drops one.
    agreeing = safeguard(clusters, np.array([0, 2]), lambda where: np.zeros(len(where), int))
    assert agreeing(positions, np.array([1, 0, 0, 1])).tolist() == [False, True, False, False]


def test_standardising_gives_every_unit_the_same_say():
    x = np.array([[0.0, 100.0, 5.0], [1.0, 300.0, 5.0], [2.0, 200.0, 5.0]])
    scaled = standardise(x)
    assert np.allclose(scaled.mean(axis=0), 0) and np.allclose(scaled.std(axis=0)[:2], 1)
    assert (scaled[:, 2] == 0).all()  # a unit that never varies: 0, not a division by 0
    # The neighbours follow: by raw distance unit 1 decides, scaled both units count alike.
    pairs = np.array([[0.0, 0.0], [0.0, 10.0], [3.0, 0.0], [3.0, 10.0], [1.0, 30.0]])
    assert find_neighbours(pairs, 1)[0, 0] == 2
    assert find_neighbours(pairs, 1, standardised=True)[0, 0] == 1
    assert table_name(10, True) == "neighbour table 10, standardised" != table_name(10)


def test_the_standardised_table_is_kept_in_a_file_of_its_own(tmp_path, monkeypatch):
    import tl_active.data.neighbour_graph as graph

    monkeypatch.setattr(graph, "KEPT_FROM", 10)
    features = handmade_features(two_clusters(200), two_clusters(60, 1), "kept-std")
    data = features.task_data(Task.multiclass("0-1"))
    raw = task_neighbours(features, data, 10, tmp_path)
    scaled = task_neighbours(features, data, 10, tmp_path, standardised=True)
    names = sorted(path.name for path in tmp_path.glob("knn-*.npz"))
    assert len(names) == 2
    assert names[0].endswith("-k10-standardised.npz") and names[1].endswith("-k10.npz")
    assert np.array_equal(scaled, find_neighbours(data.pool, 10, standardised=True))
    assert not np.array_equal(raw, scaled)
    # Read back from its file by a new feature set of the same key.
    again = handmade_features(two_clusters(200), two_clusters(60, 1), "kept-std")
    assert np.array_equal(
        task_neighbours(
            again, again.task_data(Task.multiclass("0-1")), 10, tmp_path, standardised=True
        ),
        scaled,
    )


def pool_taught(features, classes: str, batch: int, rounds: int) -> LabellingSession:
    """A pool-taught `margin` session on these features' `embedding`, answered by the truth for
    `rounds` rounds."""
    settings = SessionSettings(
        task=Task.multiclass(classes),
        strategy="margin",
        batch_size=batch,
        layer="embedding",
        head=POOL_HEAD,
    )
    session = LabellingSession(features, settings, charts=False)
    session.auto_label(rounds)
    return session


def softmax_rows(x: np.ndarray) -> np.ndarray:
    z = np.exp(x - x.max(axis=1, keepdims=True))
    return (z / z.sum(axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("layer", ["features", "probabilities"])
def test_a_session_spreads_by_its_layers_rules(layer):
    x, y = two_clusters(200)
    x_test, y_test = two_clusters(60, 1)
    if layer == "probabilities":
        x, x_test = softmax_rows(3 * x), softmax_rows(3 * x_test)
    features = handmade_features((x, y), (x_test, y_test), f"rules-five-{layer}")
    assert features.simplex == on_simplex(x) == (layer == "probabilities")
    session = pool_taught(features, "0-1", batch=2, rounds=3)
    teacher = session.teacher
    assert session.settings.pool_rules == 5 and teacher == teacher_for(5, layer != "features")
    assert ("derived", teacher.operator_name) in session.data.shared
    standardised = ("derived", table_name(10, True)) in session.data.shared
    assert standardised == (layer == "features")
    assert session.pseudo_count > 0
    # The pseudo-labels are those of the layer's graph and safeguard.
    positions = np.array(session.ledger.labelled, np.intp)
    operator = session.data.derived(teacher.operator_name, None)
    mass = spread(operator, positions, session.labels, 2, teacher)
    answer, clear = clear_answers(mass, teacher)
    clear[positions] = False
    assert session.pseudo_count <= clear.sum()


@pytest.mark.parametrize("classes", ["0-1", "0-2"])
def test_the_plain_heads_agreement_is_asked_on_two_answers_only(classes):
    x, y = blobs(600, classes=3, seed=4)
    x_test, y_test = blobs(150, classes=3, seed=5)
    features = handmade_features((x, y), (x_test, y_test), f"agreement-{classes}")
    session = pool_taught(features, classes, batch=3, rounds=2)
    positions, labels = np.array(session.ledger.labelled, np.intp), session.labels
    teacher, data, n_outputs = session.teacher, session.data, session.task.n_outputs
    operator = data.derived(teacher.operator_name, None)
    plain = session.fresh_head().fit(data.pool[positions], labels)
    keeps = {
        "agreement": safeguard(
            data.clusters, positions, lambda where: plain.predict_proba(data.pool[where]).argmax(1)
        ),
        "answered clusters": safeguard(data.clusters, positions, None),
    }
    counts = {
        name: len(pseudo_labels(operator, positions, labels, n_outputs, teacher, keep)[0])
        for name, keep in keeps.items()
    }
    assert counts["agreement"] < counts["answered clusters"]  # the plain head disputes some
    asked = "agreement" if classes == "0-1" else "answered clusters"
    assert session.training_set(positions, labels)[3] == counts[asked]
