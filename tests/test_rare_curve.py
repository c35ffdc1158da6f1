"""A rare answer is read by PR-AUC and the positives found: which questions are rare (by their
base rate, whatever the data), the PR-AUC of each round's recorded head, the positives the
labels hold after corrections and undo, and the chart's two panels."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from sklearn.metrics import average_precision_score
from synthetic import synthetic_features

from tl_active import plots
from tl_active.core.metrics import average_precision, binary_metrics, rare_output
from tl_active.core.task import BINARY, MULTICLASS, Task
from tl_active.sessions.figures import pr_auc_by_round, rare_curve
from tl_active.sessions.records import SessionSettings
from tl_active.sessions.session import LabellingSession

FEATURES = synthetic_features(600, 300, layer="embedding")
ZERO = Task(BINARY, (0,))  # "is it a 0?": a tenth of the test set


def session_of(task: Task, strategy: str = "random") -> LabellingSession:
    return LabellingSession(
        FEATURES,
        SessionSettings(task=task, strategy=strategy, batch_size=5, seed=2, layer="embedding"),
    )


def test_average_precision_is_scikit_learns_ties_and_all():
    rng = np.random.default_rng(0)
    for _ in range(200):
        n = int(rng.integers(2, 80))
        truth = rng.random(n) < 0.2
        truth[0] = True
        scores = np.round(rng.random(n), int(rng.integers(0, 3)))  # many ties at 0 decimals
        assert average_precision(truth, scores) == pytest.approx(
            average_precision_score(truth, scores), abs=1e-12
        )
    # Scores that rank nothing give the base rate; the perfect ranking 1; no positive 0.
    assert average_precision([1, 0, 0, 0], [0.5] * 4) == 0.25
    assert average_precision([0, 1, 1], [0.1, 0.8, 0.9]) == 1.0
    assert average_precision([0, 0], [0.3, 0.4]) == 0.0


def test_rare_is_decided_by_the_base_rate_not_by_the_data():
    assert rare_output(np.array([1] + [0] * 9), 2) == 1
    assert rare_output(np.array([0] + [1] * 9), 2) == 0  # either answer may be the rare one
    assert rare_output(np.array([1, 1] + [0] * 8), 2) is None  # a fifth is not rare
    assert rare_output(np.array([0] * 10), 2) is None  # absent is not rare
    assert rare_output(np.array([], int), 2) is None
    assert rare_output(np.array([2] + [0] * 9), 3) is None  # K classes keep accuracy
    zero = session_of(ZERO)
    share = float(np.mean(zero.data.truth_test == 1))
    assert 0.05 < share < 0.2 and zero.rare  # MNIST-like digits: the share decides
    assert not session_of(Task.binary("odd")).rare
    assert not session_of(Task.multiclass("0-4")).rare


def test_each_rounds_pr_auc_is_that_of_its_recorded_head_from_the_base_rate_on():
    session = session_of(ZERO, "uncertainty")
    seen = []
    for _ in range(5):
        session.submit(session.truth([p.index for p in session.next_batch()]))
        seen.append(session.pr_auc())
    curve = rare_curve(session)
    truth = session.data.truth_test == 1
    assert curve["round"] == [0, 1, 2, 3, 4, 5]
    assert curve["labels"] == [0, 5, 10, 15, 20, 25]
    assert curve["pr_auc"][0] == pytest.approx(truth.mean())  # every p equal: the base rate
    # Each round's figure is its own head's, as the session scored it then.
    assert curve["pr_auc"][1:] == pytest.approx(seen, abs=1e-5)
    # Seven zeros among 25 labels: the ranking is several times better than the base rate.
    assert curve["pr_auc"][-1] > 5 * truth.mean()
    positives = [int((FEATURES.y_pool[np.asarray(r.indices)] == 0).sum()) for r in session.rounds]
    assert curve["positives"] == [0, *np.cumsum(positives).tolist()]
    assert curve["simulated"] == [False] * 6
    assert session.ceiling_pr_auc() == pytest.approx(0.851, abs=1e-3)  # every pool label


def test_the_positives_follow_a_correction_and_an_undo():
    session = session_of(ZERO)
    for _ in range(4):
        session.submit(session.truth([p.index for p in session.next_batch()]))
    found = rare_curve(session)["positives"][-1]
    negative = next(
        i for r in session.rounds for i, a in zip(r.indices, r.answers) if a == "negative"
    )
    session.correct(negative, "positive")
    assert rare_curve(session)["positives"][-1] == found + 1
    session.undo()
    assert rare_curve(session)["positives"][-1] == found
    # Figures kept per round across the changes are those of the rounds as they are now.
    session.submit(session.truth([p.index for p in session.next_batch()]))
    kept = rare_curve(session)["pr_auc"][1:]
    data = session.data
    assert kept == pytest.approx(pr_auc_by_round(data.test, data.truth_test, session.rounds))
    assert kept[-1] == pytest.approx(session.pr_auc(), abs=1e-6)
    # A snapshot of fewer rounds is read as it was then.
    assert rare_curve(session, session.rounds[:2])["labels"] == [0, 5, 10]


def test_the_chart_puts_the_figures_beside_the_positives_found_against_random():
    session = session_of(ZERO, "uncertainty")
    session.auto_label(3)
    curve = rare_curve(session)
    rate = float(np.mean(session.data.truth_pool == 1))
    columns = plots.rare_curve_columns(curve)
    assert columns["metric"][:3] == ["PR-AUC", "precision", "recall"]
    assert columns["value"][3::3] == pytest.approx(curve["pr_auc"][1:])
    # Output 1 is the rare one: its precision and recall are those each round recorded.
    assert curve["recall"][1:] == pytest.approx([r.metrics["recall"] for r in session.rounds])
    assert curve["precision"][0] == curve["recall"][0] == 0  # p = 0.5 says no one is a 0
    assert columns["value"][-1] == pytest.approx(session.rounds[-1].metrics["recall"])
    assert columns["answered_by"][-1] == "ground truth (auto)"
    found = plots.found_columns(curve, rate)
    assert found["found"] == curve["positives"]
    assert found["at_random"] == pytest.approx([rate * n for n in (0, 5, 10, 15)])

    live = plots.rare_curve_live(curve, session.rounds, 0.97, rate, "{0}", height=200)
    spec = plots.live_spec(live)
    figures, positives = spec["layer"]
    assert spec["height"] == 200 and spec["resolve"] == {"scale": {"y": "independent"}}
    assert spec["datasets"]["rare_ceiling"].to_pylist() == [
        {"value": 0.97, "text": "frozen-head ceiling PR-AUC 0.97"}
    ]
    # The positives on the right axis, in the key beside the figures.
    floor, at_random, found_line = positives["layer"]
    assert floor["encoding"]["y"]["datum"] == 1  # the right axis reaches 1 at least
    assert found_line["encoding"]["y"]["title"] == "{0} found"
    assert found_line["encoding"]["y"]["axis"]["orient"] == "right"
    # The figures' axis from 0 to 1 has its end labels on their ticks (`style.FLUSHLESS`).
    assert figures["layer"][0]["encoding"]["y"]["axis"] == {"labelFlush": False}
    assert found_line["encoding"]["color"]["datum"] == "{0} found"
    assert at_random["encoding"]["color"]["datum"] == "at random"
    assert figures["layer"][0]["encoding"]["color"]["scale"]["domain"] == [
        "PR-AUC",
        "precision",
        "recall",
        "{0} found",
        "at random",
    ]
    assert spec["padding"]["right"] == 10  # the right axis's title inside the page's column
    # The export draws the same chart with its data in it, in the page's figures as a PNG.
    chart = plots.rare_learning_curve(curve, session.rounds, 0.97, rate, "{0}")
    units = tuple(str(i) for i in range(FEATURES.width))
    layout = plots.head_layout(session.task, FEATURES.class_names, units, "unit", True)
    weights = plots.weights_figure(session.rounds, 3, layout, "Weights after round 3")
    task, y, proba = session.task, session.data.y_pool, session.proba_pool
    png = plots.figures_png(
        weights,
        plots.p_histogram(task, FEATURES.class_names, y, proba),
        plots.p_by_class_chart(task, FEATURES.class_names, y, proba),
        chart,
        title="a rare answer",
    )
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_rare_class_of_two_is_read_by_its_own_pr_auc_whichever_output_it_is():
    """Two classes of a folder (a K-class question of two) where the first is rare: its
    PR-AUC, precision, recall and count come from output 0, not from output 1's figures."""
    y_pool, y_test = FEATURES.y_pool.copy(), FEATURES.y_test.copy()
    # Most zeros become twos, outside the question: zeros are a small share of {0, 1}.
    for y in (y_pool, y_test):
        zeros = np.flatnonzero(y == 0)
        y[zeros[len(zeros) // 6 :]] = 2
    features = dataclasses.replace(FEATURES, y_pool=y_pool, y_test=y_test, _tasks={})
    task = Task(MULTICLASS, (0, 1))
    session = LabellingSession(
        features,
        SessionSettings(task=task, strategy="uncertainty", batch_size=5, seed=2, layer="embedding"),
    )
    assert session.rare_output == 0 and session.rare_answer == "0"
    truth = session.data.truth_test == 0
    assert 0 < truth.mean() < 0.2
    session.auto_label(4)
    proba = session.proba_test
    assert session.pr_auc() == pytest.approx(average_precision_score(truth, proba[:, 0]))
    assert session.ceiling_pr_auc() > session.pr_auc() - 0.3
    curve = rare_curve(session)
    assert curve["pr_auc"][0] == pytest.approx(truth.mean())
    assert curve["pr_auc"][-1] == pytest.approx(session.pr_auc(), abs=1e-6)
    # Before any label every p is 0.5, which says the first class: all of the zeros found.
    assert (curve["recall"][0], curve["precision"][0]) == (1.0, pytest.approx(truth.mean()))
    now = binary_metrics(truth, proba.argmax(axis=1) == 0)
    assert (curve["precision"][-1], curve["recall"][-1]) == pytest.approx(
        (now.precision, now.recall)
    )
    answers = session.live_answers().values()
    assert curve["positives"][-1] == sum(a == "0" for a in answers) >= 1
