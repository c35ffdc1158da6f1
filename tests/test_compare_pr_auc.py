"""A rare answer in a comparison: each run's PR-AUC after each round, the same figure the Label
page reads, its value at each budget in the summary, and the one rule (the test set's base rate)
that decides which questions are read by it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import average_precision_score
from synthetic import synthetic_features

from tl_active.core.task import BINARY, Task
from tl_active.experiments.compare import (
    CURVE_COLUMNS,
    format_summary,
    found_rates,
    is_rare,
    run_comparison,
    simulate_run,
    summarise,
    summary_columns,
)
from tl_active.sessions.records import SessionSettings
from tl_active.sessions.session import LabellingSession

FEATURES = synthetic_features(600, 300)
ZERO = Task(BINARY, (0,))  # "is it a 0?": yes is rare (a tenth)
NOT_ZERO = Task(BINARY, tuple(range(1, 10)))  # "is it not a 0?": no is rare


def replayed(task: Task, strategy: str, rounds: int) -> list[tuple[LabellingSession, float]]:
    """The session a run replays, with scikit-learn's average precision of the rare answer on
    the test set after each round."""
    session = LabellingSession(
        FEATURES, SessionSettings(task=task, strategy=strategy, batch_size=5, seed=2)
    )
    output = session.rare_output
    truth = session.data.truth_test == output
    figures = []
    for _ in range(rounds):
        session.submit(session.truth([p.index for p in session.next_batch()]), simulated=True)
        figures.append(average_precision_score(truth, session.proba_test[:, output]))
    return session, figures


def test_each_round_carries_the_heads_pr_auc_for_the_rare_answer():
    rows = simulate_run(FEATURES, "uncertainty", seed=2, rounds=5, batch=5, task=ZERO)
    _, expected = replayed(ZERO, "uncertainty", 5)
    assert [r["pr_auc"] for r in rows] == pytest.approx(expected, abs=1e-12)
    # The head learns the zeros: far above the base rate after 25 labels.
    base_rate = float(np.mean(FEATURES.y_test == 0))
    assert base_rate < 0.2 and rows[-1]["pr_auc"] > 3 * base_rate


def test_a_rare_no_is_read_and_counted_as_the_rare_answer():
    rows = simulate_run(FEATURES, "random", seed=2, rounds=4, batch=5, task=NOT_ZERO)
    session, expected = replayed(NOT_ZERO, "random", 4)
    assert session.rare_output == 0
    assert [r["pr_auc"] for r in rows] == pytest.approx(expected, abs=1e-12)
    # The positives found are the rare answer's: the zeros among the labels.
    zeros = int(np.count_nonzero(FEATURES.y_pool[np.asarray(session.labelled)] == 0))
    assert rows[-1]["positives"] == zeros


def test_a_question_without_a_rare_answer_has_no_pr_auc_and_no_such_columns():
    curves = run_comparison(FEATURES, ["random"], seeds=1, rounds=3, batch=5, task="odd", jobs=1)
    assert list(curves.columns) == CURVE_COLUMNS
    assert curves["pr_auc"].isna().all() and not is_rare(curves)
    assert list(summarise(curves, 1.0, (10,)).columns) == summary_columns((10,))
    assert found_rates(FEATURES, Task.binary("odd")).rare is False


def test_the_summary_gives_the_mean_pr_auc_at_each_budget():
    curves = pd.DataFrame(
        {
            "strategy": ["a"] * 6,
            "seed": [0, 0, 0, 1, 1, 1],
            "round": [1, 2, 3] * 2,
            "n_labels": [5, 10, 15] * 2,
            "accuracy": [0.9] * 6,
            "can_stop": [False] * 6,
            "pr_auc": [0.1, 0.3, 0.5, 0.2, 0.2, 0.7],
        }
    )
    summary = summarise(curves, 1.0, (12, 15, 40))
    assert list(summary.columns) == summary_columns((12, 15, 40), rare=True)
    row = summary.iloc[0]
    # At 12 labels the runs stand after round 2: (0.3 + 0.2) / 2; at 15, (0.5 + 0.7) / 2.
    assert row["pr_auc_at_12"] == pytest.approx(0.25)
    assert row["pr_auc_at_15"] == pytest.approx(0.6)
    assert np.isnan(row["pr_auc_at_40"])  # beyond the runs
    text = format_summary(summary, 0.97, ceiling_pr_auc=0.369)
    assert "PR-AUC 0.369" in text.splitlines()[0]
    assert "PR-AUC at 12" in text and "0.250" in text and "0.600" in text
    # Curves written before there was a PR-AUC column summarise as they did.
    old = summarise(curves.drop(columns="pr_auc"), 1.0, (12,))
    assert list(old.columns) == summary_columns((12,))
    assert old.loc[0, "accuracy_at_12"] == pytest.approx(0.9)


def test_the_rare_rule_is_the_test_sets_base_rate_whatever_the_answer():
    zero, not_zero = found_rates(FEATURES, ZERO), found_rates(FEATURES, NOT_ZERO)
    share = float(np.mean(FEATURES.y_test == 0))
    assert zero.rare and zero.output == 1 and zero.test == pytest.approx(share)
    assert not_zero.rare and not_zero.output == 0 and not_zero.test == pytest.approx(share)
    assert zero.pool == pytest.approx(float(np.mean(FEATURES.y_pool == 0)))
    assert found_rates(FEATURES, Task.multiclass("0-4")) is None
