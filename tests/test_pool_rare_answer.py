"""The pool-taught head and a rare answer: nothing is spread until a second answer is given.

One answer alone, spread over the pool, says only that every image near an answered one shares
it; a head fitted on that is sure of the common answer everywhere and never asks about the
rare one. On snow today (2.7 % of the pool) that head found no snow in 40 labels. Here a
hand-made pool of a large cloud and a small far one stands in for it.
"""

import numpy as np

from tl_active.core.pool_teacher import TEACHERS, pseudo_labels, spreading_operator
from tl_active.core.task import Task
from tl_active.data.features import FeatureSet
from tl_active.data.neighbour_graph import find_neighbours
from tl_active.sessions.records import PLAIN_HEAD, POOL_HEAD, SessionSettings
from tl_active.sessions.session import LabellingSession


def rare_pool(n_common: int, n_rare: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A broad cloud of 0s around the origin and a tight cloud of rare 1s at x = 6."""
    rng = np.random.default_rng(seed)
    common = rng.normal(0.0, 1.0, (n_common, 2))
    rare = rng.normal(0.0, 0.3, (n_rare, 2)) + [6.0, 0.0]
    y = np.repeat([0, 1], [n_common, n_rare])
    return np.vstack([common, rare]).astype(np.float32), y.astype(np.uint8)


def rare_features() -> FeatureSet:
    pool, y_pool = rare_pool(394, 6, 0)
    test, y_test = rare_pool(97, 3, 1)
    return FeatureSet(
        pool=pool,
        test=test,
        y_pool=y_pool,
        y_test=y_test,
        layer="embedding",
        key="rare-embedding-handmade",
    )


def test_one_answer_gives_no_pseudo_labels_under_todays_rules_and_some_under_rules_2():
    x, y = rare_pool(394, 6, 0)
    operator = spreading_operator(find_neighbours(x, 10))
    labelled = np.array([0, 1, 2, 3])  # four answers, all the common one
    assert all(len(part) == 0 for part in pseudo_labels(operator, labelled, y[labelled], 2))
    # Rules 2 spread the lone answer (a replayed session keeps them).
    positions, answers = pseudo_labels(operator, labelled, y[labelled], 2, TEACHERS[2])
    assert len(positions) > 300 and set(answers) == {0}
    # A second answer, and spreading starts.
    labelled = np.array([0, 1, 2, 396])
    positions, answers = pseudo_labels(operator, labelled, y[labelled], 2)
    assert set(answers) == {0, 1}


def session(features: FeatureSet, head: str, rules: int = max(TEACHERS)) -> LabellingSession:
    settings = SessionSettings(
        task=Task.binary("1"),
        strategy="uncertainty",
        batch_size=4,
        layer="embedding",
        head=head,
        pool_rules=rules,
    )
    return LabellingSession(features, settings)


def test_until_the_rare_answer_is_found_the_pool_taught_head_asks_what_the_plain_head_asks():
    features = rare_features()
    plain, pooled, old = (
        session(features, PLAIN_HEAD),
        session(features, POOL_HEAD),
        session(features, POOL_HEAD, rules=2),
    )
    rounds_to_rare = {}
    for number in range(1, 16):
        for name, each in (("plain", plain), ("pooled", pooled), ("old", old)):
            if name not in rounds_to_rare:
                each.answer_by_truth()
                if 1 in each.labels:
                    rounds_to_rare[name] = number
        if "plain" not in rounds_to_rare:
            # Only the common answer so far: the same head, so the same next questions.
            assert pooled.pseudo_count == 0
            assert np.allclose(pooled.head.coef_, plain.head.coef_)
            assert np.array_equal(pooled.labelled, plain.labelled)
            # Rules 2 taught the head the common answer all over the pool.
            assert old.pseudo_count > 300
    assert rounds_to_rare["pooled"] == rounds_to_rare["plain"] <= 6
    assert rounds_to_rare.get("old", 99) > rounds_to_rare["plain"]
    # Once both answers are in, the pool-taught head learns from the pool again.
    pooled.answer_by_truth()
    assert pooled.pseudo_count > 0


def test_a_pool_taught_session_makes_its_spreading_operator_before_the_first_round():
    import threading

    from tl_active.sessions.session import READY_THREAD

    features = rare_features()
    pooled = session(features, POOL_HEAD)
    for thread in threading.enumerate():
        if thread.name == READY_THREAD:
            thread.join()
    assert ("derived", pooled.teacher.operator_name) in pooled.data.shared
    assert pooled.rounds == []
    # An oracle run (no charts) and a plain session make nothing ahead.
    other = rare_features()
    plain = session(other, PLAIN_HEAD)
    assert not any("spreading operator" in key[1] for key in plain.data.shared)
