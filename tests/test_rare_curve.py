"""A rare answer is read by PR-AUC and the positives found: which questions are rare (by their
base rate, whatever the data), the PR-AUC of each round's recorded head, the positives the
labels hold after corrections and undo, and the chart's two panels."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score
from synthetic import synthetic_features

from tl_active import plots
from tl_active.core.metrics import average_precision, is_rare
from tl_active.core.task import BINARY, Task
from tl_active.sessions.figures import rare_curve
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
    assert is_rare(np.array([1] + [0] * 9)) and not is_rare(np.array([1, 1] + [0] * 8))
    assert not is_rare(np.array([], int))
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
    # A snapshot of fewer rounds is read as it was then.
    assert rare_curve(session, session.rounds[:2])["labels"] == [0, 5, 10]


def test_the_chart_puts_the_figures_beside_the_positives_found_against_random():
    session = session_of(ZERO, "uncertainty")
    session.auto_label(3)
    curve = rare_curve(session)
    start = session.start_metrics().as_dict()
    rate = float(np.mean(session.data.truth_pool == 1))
    columns = plots.rare_curve_columns(curve, session.rounds, start)
    assert columns["metric"][:3] == ["PR-AUC", "precision", "recall"]
    assert columns["value"][3::3] == pytest.approx(curve["pr_auc"][1:])
    assert columns["value"][-1] == session.rounds[-1].metrics["recall"]
    assert columns["answered_by"][-1] == "ground truth (auto)"
    found = plots.found_columns(curve, rate)
    assert found["found"] == curve["positives"]
    assert found["at_random"] == pytest.approx([rate * n for n in (0, 5, 10, 15)])

    live = plots.rare_curve_live(curve, session.rounds, start, 0.97, rate, "{0}", height=200)
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
    assert found_line["encoding"]["color"]["datum"] == "{0} found"
    assert at_random["encoding"]["color"]["datum"] == "at random"
    assert figures["layer"][0]["encoding"]["color"]["scale"]["domain"] == [
        "PR-AUC",
        "precision",
        "recall",
        "{0} found",
        "at random",
    ]
    # The export draws the same chart with its data in it, as a PNG.
    chart = plots.rare_learning_curve(curve, session.rounds, start, 0.97, rate, "{0}")
    assert plots.to_png(chart.properties(width=600))[:8] == b"\x89PNG\r\n\x1a\n"
