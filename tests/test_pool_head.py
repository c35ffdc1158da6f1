"""The pool-taught head on a hand-made pool of two clusters, where the right pseudo-labels are known.

Answers spread along the neighbour graph stay inside their cluster, so the pseudo-labels are
the clusters; a person's answer weighs more than a pseudo-label; the session's `head` setting
is stored, replayed (its heads checked against the answers and the pseudo-labels they give)
and exported without a pseudo-label among the answers; a session stored before the choice
reads as the plain head.
"""

import json

import numpy as np
import pytest
from pools import blobs, handmade_features, two_clusters

from tl_active.core.head import LogisticHead, SoftmaxHead
from tl_active.core.pool_teacher import (
    POOL_RULES,
    TEACHERS,
    PoolTeacher,
    pseudo_labels,
    safeguard,
    spreading_operator,
    teacher_for,
    training_set,
)
from tl_active.core.task import Task
from tl_active.data.features import FeatureSet
from tl_active.data.neighbour_graph import find_neighbours, task_neighbours
from tl_active.errors import SessionFileError
from tl_active.sessions.exchange import labels_csv, read_manifest
from tl_active.sessions.records import PLAIN_HEAD, POOL_HEAD, SessionSettings
from tl_active.sessions.session import LabellingSession


def cluster_features(seed: int = 0) -> FeatureSet:
    return handmade_features(two_clusters(200, seed), two_clusters(60, seed + 1), f"clusters{seed}")


def test_pseudo_labels_follow_the_clusters():
    x, y = two_clusters()
    operator = spreading_operator(find_neighbours(x, 10))
    labelled = np.array([0, 119])  # one answer in each cluster
    positions, answers = pseudo_labels(operator, labelled, y[labelled], 2)
    # Every other image is confidently its cluster's, and none is a labelled one.
    assert len(positions) == 118
    assert not set(positions) & set(labelled)
    assert np.array_equal(answers, y[positions])


def test_pseudo_labels_are_capped_per_answer_and_repeat_exactly():
    x, y = two_clusters()
    operator = spreading_operator(find_neighbours(x, 10))
    teacher = PoolTeacher(per_answer=7)
    first = pseudo_labels(operator, np.array([3, 100]), np.array([0, 1]), 2, teacher)
    again = pseudo_labels(operator, np.array([3, 100]), np.array([0, 1]), 2, teacher)
    assert np.bincount(first[1]).tolist() == [7, 7]
    assert all(np.array_equal(a, b) for a, b in zip(first, again))


def test_a_wide_layer_gets_fewer_pseudo_labels_per_answer_so_its_fit_stays_small():
    teacher = PoolTeacher(per_answer=2_000, fit_cells=256_000)
    # The demo's 10 softmax outputs and two answers keep the whole 2,000 per answer; the 5-9
    # network's 128-wide embedding with five classes gets 400 (2,000 rows of 128 in all).
    assert teacher.per_answer_for(10, 2) == 2_000
    assert teacher.per_answer_for(128, 5) == 400
    assert teacher.per_answer_for(10**9, 5) == 1
    assert PoolTeacher(per_answer=2_000, fit_cells=None).per_answer_for(128, 5) == 2_000
    with pytest.raises(ValueError, match="fit_cells"):
        PoolTeacher(fit_cells=0)


def test_training_set_caps_the_pseudo_labels_by_the_layers_width():
    x, y = two_clusters()
    operator = spreading_operator(find_neighbours(x, 10))
    labelled = np.array([3, 100])
    # Two inputs and two answers: 24 numbers allow 6 pseudo-labels per answer.
    teacher = PoolTeacher(per_answer=50, fit_cells=24, guarded=False)
    _, y_fit, weights, count = training_set(x, operator, labelled, y[labelled], 2, teacher)
    assert x.shape[1] == 2
    assert count == 12
    assert np.bincount(y_fit[2:]).tolist() == [6, 6]
    assert weights[2:].tolist() == [teacher.weight] * 12


def test_no_answers_no_pseudo_labels():
    x, _ = two_clusters()
    operator = spreading_operator(find_neighbours(x, 10))
    positions, answers = pseudo_labels(operator, np.zeros(0, np.intp), np.zeros(0, np.intp), 2)
    assert len(positions) == len(answers) == 0


def test_a_cluster_nobody_answered_gets_no_pseudo_labels():
    x, y = two_clusters()
    operator = spreading_operator(find_neighbours(x, 10))
    # One answer, spread (today's rules wait for a second: see test_pool_rare_answer.py).
    lone = PoolTeacher(two_answers_first=False)
    positions, answers = pseudo_labels(operator, np.array([0]), np.array([0]), 2, lone)
    # The graph has no edge between the clouds: the answer stays in its own.
    assert set(y[positions]) == {0} and set(answers) == {0}
    assert len(positions) == 59


def bridged_clusters() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Three clouds on a line, 40 images each at x = 0, 3 and 6: close enough that answers
    spread from one cloud into the next. Returns the images, their cloud and their class
    (the middle cloud is class 1, the outer ones class 0)."""
    rng = np.random.default_rng(3)
    cloud = np.repeat([0, 1, 2], 40)
    x = np.column_stack([3.0 * cloud, np.zeros(120)]) + rng.normal(0, 0.6, (120, 2))
    return x.astype(np.float32), cloud, (cloud == 1).astype(np.intp)


def test_the_safeguard_leaves_a_cloud_nobody_answered_to_the_person():
    x, cloud, y = bridged_clusters()
    operator = spreading_operator(find_neighbours(x, 10))
    labelled = np.array([0, 45])  # answers in the first two clouds, none in the third
    # Unguarded, the middle cloud's answer leaks into the third cloud, whose truth is 0.
    loose, loose_answers = pseudo_labels(operator, labelled, y[labelled], 2, PoolTeacher())
    third = cloud[loose] == 2
    assert third.sum() > 20 and np.all(loose_answers[third] == 1)
    # Guarded: nothing in the third cloud; a plain head that agrees everywhere keeps the rest.
    keep = safeguard(cloud, labelled, lambda where: y[where])
    positions, answers = pseudo_labels(operator, labelled, y[labelled], 2, PoolTeacher(), keep)
    assert np.array_equal(positions, loose[~third])
    assert np.array_equal(answers, y[positions]) and len(positions) > 60


def test_the_safeguard_drops_the_pseudo_labels_the_plain_head_disputes():
    x, cloud, y = bridged_clusters()
    operator = spreading_operator(find_neighbours(x, 10))
    labelled = np.array([0, 45, 90])
    plain = np.where(x[:, 0] < 1.0, 1, y)  # a plain head wrong on the left of the first cloud
    keep = safeguard(cloud, labelled, lambda where: plain[where])
    positions, answers = pseudo_labels(operator, labelled, y[labelled], 2, PoolTeacher(), keep)
    loose, loose_answers = pseudo_labels(operator, labelled, y[labelled], 2, PoolTeacher())
    # Every cloud has an answer, so only the disputed ones go, and all of them go.
    assert np.array_equal(positions, loose[plain[loose] == loose_answers])
    assert np.array_equal(answers, y[positions])
    assert not np.any(x[positions, 0] < 1.0) and np.any(x[loose, 0] < 1.0)


def test_training_set_weighs_pseudo_labels_below_answers():
    x, y = two_clusters()
    operator = spreading_operator(find_neighbours(x, 10))
    rows, labels, weights, count = training_set(x, operator, np.array([0, 119]), y[[0, 119]], 2)
    assert count == 118 and len(rows) == len(labels) == len(weights) == 120
    assert weights[:2].tolist() == [1.0, 1.0]
    assert np.all(weights[2:] == PoolTeacher().weight)


@pytest.mark.parametrize("head", [LogisticHead(l2=1e-3, fit_intercept=True), SoftmaxHead(2)])
def test_an_answer_outweighs_a_few_pseudo_labels_against_it(head):
    # One answer says 1 at a point; four pseudo-labels at the same point say 0 at weight 0.1.
    x = np.array([[1.0, 2.0]] * 5 + [[-1.0, -2.0]])
    y = np.array([1, 0, 0, 0, 0, 0])
    weights = np.array([1.0, 0.1, 0.1, 0.1, 0.1, 1.0])
    head.fit(x, y, weights)
    assert head.predict_proba(x[:1])[0, 1] > 0.5
    # Unweighted, the four outvote it.
    assert head.clone().fit(x, y).predict_proba(x[:1])[0, 1] < 0.5
    assert head.max_gradient(x, y, weights) < 1e-5


def test_sample_weights_are_checked():
    with pytest.raises(ValueError, match="sample weights must be 2 numbers"):
        LogisticHead().fit(np.ones((2, 3)), np.array([0, 1]), np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="Adam steps take no sample weights"):
        LogisticHead("demo").fit(np.ones((2, 3)), np.array([0, 1]), np.ones(2))


def pool_session(features, head=POOL_HEAD, rounds=3):
    settings = SessionSettings(
        task=Task.multiclass("0-1"), strategy="random", batch_size=2, layer="embedding", head=head
    )
    session = LabellingSession(features, settings)
    session.auto_label(rounds)
    return session


def test_the_pool_taught_session_counts_its_pseudo_labels_and_learns_the_clusters():
    features = cluster_features()
    session = pool_session(features)
    plain = pool_session(features, PLAIN_HEAD)
    assert plain.pseudo_count == 0
    # 6 answers; every other pool image is confidently its cluster's (at most 2,000 per answer).
    assert session.pseudo_count == 200 - 6
    assert session.metrics().accuracy == 1.0
    assert session.settings.summary().startswith("0,1, random, batch 2, converge, pool-taught")


def test_the_head_setting_is_stored_replayed_and_checked():
    features = cluster_features()
    session = pool_session(features)
    data = session.to_dict()
    assert data["settings"]["head"] == POOL_HEAD
    reopened = LabellingSession.from_dict(json.loads(json.dumps(data)), features)
    assert reopened.settings.head == POOL_HEAD
    assert np.array_equal(reopened.head.coef_, session.head.coef_)
    assert reopened.pseudo_count == session.pseudo_count
    # The next round goes on as in the first session.
    assert [p.index for p in reopened.next_batch()] == [p.index for p in session.next_batch()]
    # A head that is not the fit on the answers and their pseudo-labels is refused.
    data["rounds"][1]["weights"][0][0] += 0.5
    with pytest.raises(SessionFileError, match="round 2 gives other head weights"):
        LabellingSession.from_dict(data, features)


def test_the_plain_fit_is_not_taken_for_the_pool_taught_one():
    features = cluster_features()
    data = pool_session(features, PLAIN_HEAD).to_dict()
    data["settings"]["head"] = POOL_HEAD
    with pytest.raises(SessionFileError, match="gives other head weights"):
        LabellingSession.from_dict(data, features)


def test_a_pool_taught_session_keeps_the_rules_it_was_labelled_under():
    features = cluster_features()
    session = pool_session(features)
    data = session.to_dict()
    assert data["settings"]["pool_rules"] == POOL_RULES
    # The hand-made clusters are features, not class probabilities: today's rules for them.
    assert not features.simplex
    assert session.teacher == teacher_for(POOL_RULES, False) and session.teacher.guarded
    # A session stored before the rules were numbered has none: it reads as the first rules,
    # and replays under them.
    first = LabellingSession(
        features, SessionSettings(**{**vars(session.settings), "pool_rules": 1})
    )
    first.auto_label(3)
    old = first.to_dict()
    del old["settings"]["pool_rules"]
    reopened = LabellingSession.from_dict(json.loads(json.dumps(old)), features)
    assert reopened.settings.pool_rules == 1 and reopened.teacher == TEACHERS[1]
    assert not reopened.teacher.guarded and reopened.teacher.per_answer == 400
    assert np.array_equal(reopened.head.coef_, first.head.coef_)
    # A plain session writes no rules, and reads back equal.
    plain = pool_session(features, PLAIN_HEAD).to_dict()["settings"]
    assert "pool_rules" not in plain
    assert SessionSettings.from_dict(plain).pool_rules == POOL_RULES


@pytest.mark.parametrize("rules", [0, POOL_RULES + 1, True, "2"])
def test_unknown_pool_rules_are_refused(rules):
    data = SessionSettings(head=POOL_HEAD).as_dict()
    data["pool_rules"] = rules
    with pytest.raises(ValueError, match="pool_rules must be a whole number|unknown pool-taught"):
        SessionSettings.from_dict(data)


def test_a_session_stored_before_the_choice_reads_as_the_plain_head():
    features = cluster_features()
    data = pool_session(features, PLAIN_HEAD).to_dict()
    assert "head" not in data["settings"]
    assert LabellingSession.from_dict(data, features).settings.head == PLAIN_HEAD


def test_undo_and_the_manifest_keep_the_count_and_the_answers_the_persons():
    features = cluster_features()
    session = pool_session(features)
    text = labels_csv(session)
    assert len(text.strip().splitlines()) == 1 + 6  # the answers only, no pseudo-label
    imported = read_manifest(json.dumps(session.to_dict()), features)
    assert imported.settings.head == POOL_HEAD and imported.pseudo_count == 194
    session.undo()
    assert session.pseudo_count == pool_session(features, rounds=2).pseudo_count


@pytest.mark.parametrize(
    "settings, message",
    [
        (dict(head="pooled"), "unknown head 'pooled'; choose one of plain, pool"),
        (dict(head=POOL_HEAD, head_mode="demo"), "fitted to convergence"),
    ],
)
def test_bad_head_settings_are_refused(settings, message):
    with pytest.raises(ValueError, match=message):
        SessionSettings(**settings)


def test_a_stored_head_must_be_text():
    data = SessionSettings(head=POOL_HEAD).as_dict()
    data["head"] = 1
    with pytest.raises(ValueError, match="head must be text"):
        SessionSettings.from_dict(data)


def test_the_neighbour_table_is_kept_beside_the_features(tmp_path, monkeypatch):
    import tl_active.data.neighbour_graph as graph

    monkeypatch.setattr(graph, "KEPT_FROM", 10)
    features = cluster_features()
    data = features.task_data(Task.multiclass("0-1"))
    table = task_neighbours(features, data, 10, tmp_path)
    (path,) = tmp_path.glob("knn-*.npz")
    assert path.name.startswith(f"knn-{features.key}-") and path.name.endswith("-k10.npz")
    assert table.shape == (200, 10)
    # Read back by a new feature set of the same key; a damaged file is found again.
    again = cluster_features()
    assert np.array_equal(
        task_neighbours(again, again.task_data(Task.multiclass("0-1")), 10, tmp_path), table
    )
    path.write_bytes(b"not an npz")
    fresh = cluster_features()
    assert np.array_equal(
        task_neighbours(fresh, fresh.task_data(Task.multiclass("0-1")), 10, tmp_path), table
    )


def test_compare_runs_the_pool_taught_head_from_the_command_line(tmp_path, monkeypatch, capsys):
    import pandas as pd

    from tl_active.cli import compare as compare_command
    from tl_active.cli.main import build_parser

    features = cluster_features()
    monkeypatch.setattr("tl_active.data.features.load_features", lambda *args, **kw: features)
    argv = ["compare", "--strategies", "random", "--seeds", "2", "--rounds", "3", "--batch", "2"]
    argv += ["--classes", "0-1", "--layer", "embedding", "--head", "pool", "--jobs", "1"]
    args = build_parser().parse_args([*argv, "--out", str(tmp_path)])
    compare_command.run(args)
    curves = pd.read_csv(tmp_path / "curves.csv")
    # Two clouds: one answer in each and every pseudo-label teaches the head the rest.
    assert len(curves) == 2 * 3 and curves["accuracy"].iloc[-1] == 1.0
    assert "random" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        build_parser().parse_args([*argv[:-4], "--head", "pooled", "--out", str(tmp_path)])


def test_rules_4_fit_the_k_class_head_with_a_longer_memory_to_the_same_head(monkeypatch):
    import scipy.optimize

    evaluations = []
    minimize = scipy.optimize.minimize

    def counted(*args, **kwargs):
        result = minimize(*args, **kwargs)
        evaluations.append(result.nfev)
        return result

    monkeypatch.setattr(scipy.optimize, "minimize", counted)
    x, y = blobs(3_000, classes=5, seed=1)
    x = np.hstack([x, np.random.default_rng(0).normal(size=(3_000, 8))]).astype(np.float32)
    features = handmade_features((x, y), (x[:500], y[:500]), "memory")
    heads, spent = {}, {}
    for rules in (3, 4):
        settings = SessionSettings(
            task=Task.multiclass("0-4"),
            strategy="margin",
            batch_size=5,
            layer="embedding",
            head=POOL_HEAD,
            pool_rules=rules,
        )
        evaluations.clear()
        session = LabellingSession(features, settings, charts=False)
        session.auto_label(6)
        spent[rules] = sum(evaluations)
        heads[rules] = session
        assert session.head.memory == (10 if rules == 3 else 40)
        assert session.pseudo_count > 400
        # Each replays under its own rules.
        reopened = LabellingSession.from_dict(json.loads(json.dumps(session.to_dict())), features)
        assert reopened.teacher == TEACHERS[rules] and reopened.head.memory == session.head.memory
    # On one session's answers and pseudo-labels, the longer memory reaches the same head
    # within the fit's tolerance in fewer evaluations of the loss.
    session = heads[3]
    positions = np.array(session.ledger.labelled, np.intp)
    x, y, weights, count = session.training_set(positions, session.labels)
    assert count > 400
    fitted = {}
    for memory in (10, 40):
        evaluations.clear()
        fitted[memory] = session.fresh_head(memory).fit(x, y, weights)
        spent[memory] = sum(evaluations)
    assert np.allclose(fitted[10].coef_, fitted[40].coef_, atol=1e-3)
    assert np.allclose(fitted[10].intercept_, fitted[40].intercept_, atol=1e-3)
    assert spent[40] < 0.9 * spent[10], spent
    # A plain session's K-class head keeps scipy's 10.
    plain = LabellingSession(
        features, SessionSettings(task=Task.multiclass("0-4"), layer="embedding")
    )
    assert plain.head.memory == 10
    for memory in (0, 1_001, True, 2.5):
        with pytest.raises(ValueError, match="correction pairs"):
            SoftmaxHead(5, memory=memory)
