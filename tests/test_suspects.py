"""Look again: suspect answers found without ground truth (`sessions/suspects.py`).

A hand-made labelled set (tight groups in feature space, a few answers planted wrong) and a
session on the synthetic features: the planted wrong answers rank first, each with the answer
its witnesses give and a reason in words.
"""

from __future__ import annotations

import numpy as np
import pytest
from synthetic import synthetic_features

from tl_active.core.task import Task
from tl_active.sessions.records import SessionSettings
from tl_active.sessions.session import LabellingSession
from tl_active.sessions.suspects import (
    MIN_LABELS,
    Witnesses,
    find_suspects,
    fold_of,
    reason,
    score_labels,
    witnesses_for,
)


def grouped(n_per_group: int, groups: int, width: int = 8, seed: int = 0):
    """Tight groups around the first `groups` axes, labelled by group."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(groups), n_per_group)
    x = np.eye(groups, width)[labels] * 3.0 + rng.normal(0, 0.3, (len(labels), width))
    return x, labels


@pytest.mark.parametrize("groups", [2, 4])
def test_planted_wrong_answers_rank_first_with_the_right_answer_suggested(groups):
    x, truth = grouped(15, groups)
    given = truth.copy()
    planted = np.array([3, 17, 29])
    given[planted] = (truth[planted] + 1) % groups
    scores = score_labels(
        x, given, np.arange(len(given)) * 7, Witnesses(groups, True, seed=0), warm=None
    )
    top = scores.ranking()[: len(planted)]
    assert sorted(top.tolist()) == planted.tolist()
    assert scores.flagged[planted].all()
    assert scores.suggested[planted].tolist() == truth[planted].tolist()
    # The head and every neighbour say so.
    assert scores.neighbours_say[planted].tolist() == [5, 5, 5]
    assert (scores.head_says[planted] == truth[planted]).all()
    # No right answer is flagged in groups this clear.
    assert scores.flagged.sum() == len(planted)


def test_too_few_labels_or_one_answer_says_nothing():
    x, labels = grouped(4, 2)
    assert len(labels) < MIN_LABELS
    assert score_labels(x, labels, np.arange(8), Witnesses(2, True, 0)) is None
    x, labels = grouped(12, 2)
    same = np.zeros_like(labels)
    assert score_labels(x, same, np.arange(24), Witnesses(2, True, 0)) is None


def test_folds_come_from_the_image_and_the_seed_alone():
    indices = np.arange(1_000)
    folds = fold_of(indices, seed=3)
    assert set(folds.tolist()) == {0, 1, 2, 3, 4}
    assert np.bincount(folds).min() > 150  # about a fifth each
    assert (fold_of(indices[::-1], seed=3) == folds[::-1]).all()
    assert (fold_of(indices, seed=4) != folds).any()


def test_reason_reads_as_a_sentence():
    assert reason("even", 0.93, "even", 4, 5) == (
        "the head (93% sure) and 4 of its 5 nearest labelled neighbours say even"
    )
    assert reason("odd", 0.6, "even", 3, 5) == (
        "3 of its 5 nearest labelled neighbours say even; the head says odd (60% sure)"
    )


@pytest.mark.parametrize("question", ["odd", "0-4"])
def test_a_sessions_wrong_answers_are_its_first_suspects(question):
    features = synthetic_features()
    task = Task.binary(question) if question == "odd" else Task.multiclass(question)
    session = LabellingSession(features, SessionSettings(task=task, strategy="random", seed=2))
    session.auto_label(10)
    # Plant two wrong answers among the 40 right ones, as corrections, on clear images (the
    # synthetic pool's ambiguous images split their mass between two digits).
    clear = [int(i) for i in session.labelled if features.pool[i].max() > 0.8]
    victims = [clear[5], clear[20]]
    values = session.answer_values
    for index in victims:
        right = session.answer_of(index)
        session.correct(index, next(v for v in values if v != right))
    witnesses = witnesses_for(session)
    suspects = find_suspects(session)
    assert {s.index for s in suspects[:2]} == set(victims)
    for suspect in suspects[:2]:
        assert suspect.suggested == session.truth([suspect.index])[0]
        assert suspect.answer != suspect.suggested
        assert "nearest labelled neighbours say" in suspect.reason
    # Kept answers are no longer suspects; a limit cuts the list.
    assert victims[0] not in {s.index for s in find_suspects(session, kept={victims[0]})}
    assert len(find_suspects(session, limit=1)) == 1
    # Witnesses kept from call to call give the same suspects as fresh ones.
    session.auto_label(1)
    again = find_suspects(
        session,
        scores=witnesses.scores(
            session.data.pool[np.array(session.ledger.labelled)], session.labels, session.labelled
        ),
    )
    assert {s.index for s in again[:2]} == set(victims)


def test_words_name_the_answers_in_the_reason():
    features = synthetic_features()
    session = LabellingSession(
        features, SessionSettings(task=Task.binary("odd"), strategy="random", seed=1)
    )
    session.auto_label(8)
    index = next(int(i) for i in session.labelled[3:] if features.pool[i].max() > 0.8)
    wrong = "negative" if session.answer_of(index) == "positive" else "positive"
    session.correct(index, wrong)
    suspects = find_suspects(session, words={"positive": "odd", "negative": "not odd"})
    (first,) = [s for s in suspects if s.index == index]
    assert first.answer == wrong  # the value, as the session keeps it
    assert first.reason.endswith(("say odd", "say not odd"))
