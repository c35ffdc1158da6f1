"""The stopping signals one by one, the recommendation, and how a session records them."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import cohen_kappa_score
from synthetic import synthetic_features

from tl_active.core import stopping
from tl_active.core.stopping import (
    KAPPA_THRESHOLD,
    KAPPA_WINDOW,
    can_stop,
    changed_share,
    kappa_average,
    overall_uncertainty,
    predicted_answers,
    prediction_kappa,
    progressive_accuracy,
    round_signals,
)
from tl_active.core.task import Task
from tl_active.errors import SessionFileError
from tl_active.sessions.exchange import labels_csv, manifest_json, read_manifest
from tl_active.sessions.records import SessionSettings
from tl_active.sessions.session import LabellingSession

FEATURES = synthetic_features()


# --- the signals ------------------------------------------------------------------------------


def test_kappa_of_a_known_confusion_matrix():
    # 10 images: 4 both 0, 1 from 0 to 1, 2 from 1 to 0, 3 both 1.
    previous = np.array([0, 0, 0, 0, 0, 1, 1, 1, 1, 1], np.int8)
    current = np.array([0, 0, 0, 0, 1, 0, 0, 1, 1, 1], np.int8)
    # observed 0.7; expected 0.5 * 0.6 + 0.5 * 0.4 = 0.5; kappa (0.7 - 0.5) / 0.5 = 0.4
    assert prediction_kappa(previous, current, 2) == pytest.approx(0.4)
    assert prediction_kappa(previous, previous, 2) == 1.0
    assert changed_share(previous, current) == pytest.approx(0.3)
    assert changed_share(previous, previous) == 0.0


def test_kappa_matches_scikit_learn_for_k_classes():
    rng = np.random.default_rng(3)
    previous = rng.integers(0, 5, 3_000).astype(np.int8)
    current = previous.copy()
    current[:600] = rng.integers(0, 5, 600)
    assert prediction_kappa(previous, current, 5) == pytest.approx(
        cohen_kappa_score(previous, current), abs=1e-12
    )


def test_kappa_is_undefined_when_both_rounds_predict_one_answer_everywhere():
    same = np.zeros(50, np.int8)
    assert math.isnan(prediction_kappa(same, same, 2))
    # One answer before, a mix after: no agreement beyond chance.
    mixed = np.array([0, 1] * 25, np.int8)
    assert prediction_kappa(same, mixed, 2) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="same images"):
        prediction_kappa(same, mixed[:10], 2)


def test_predicted_answers_break_ties_as_argmax_does():
    proba = np.array([[0.5, 0.5], [0.2, 0.8], [0.9, 0.1]])
    assert predicted_answers(proba).tolist() == proba.argmax(axis=1).tolist() == [0, 1, 0]
    three = np.array([[0.2, 0.5, 0.3], [0.6, 0.2, 0.2]])
    assert predicted_answers(three).tolist() == [1, 0]


def test_overall_uncertainty_of_a_sure_float32_head_is_a_number_not_nan():
    # A Keras head's rows are float32, where a row sure of "yes" is exactly 1.
    proba = np.array([[0.0, 1.0], [1.0, 0.0], [0.5, 0.5], [0.5, 0.5]], np.float32)
    assert overall_uncertainty(proba) == pytest.approx(0.5, abs=1e-6)
    assert overall_uncertainty(proba, np.array([2, 3])) == pytest.approx(0.0, abs=1e-6)
    assert overall_uncertainty(proba.astype(np.float64)) == pytest.approx(0.5, abs=1e-9)


def test_overall_uncertainty_is_normalised_entropy_of_the_unlabelled_images():
    sure, unsure = [1.0, 0.0], [0.5, 0.5]
    proba = np.array([unsure, unsure, sure, sure])
    assert overall_uncertainty(proba) == pytest.approx(0.5)
    assert overall_uncertainty(proba, np.array([2, 3])) == pytest.approx(1.0)
    assert overall_uncertainty(proba, np.array([0, 1])) == pytest.approx(0.0, abs=1e-9)
    three = np.array([[1 / 3] * 3, [0.8, 0.1, 0.1]])
    entropy = -(0.8 * math.log(0.8) + 0.2 * math.log(0.1))
    assert overall_uncertainty(three) == pytest.approx((1 + entropy / math.log(3)) / 2)
    assert overall_uncertainty(proba, np.arange(4)) == 0.0


def test_progressive_accuracy_pools_the_batches_labels():
    assert progressive_accuracy([3, 1], [4, 4]) == pytest.approx(0.5)
    assert math.isnan(progressive_accuracy([], []))


def test_the_recommendation_needs_a_full_window_of_steady_rounds_and_every_answer():
    steady = [0.5, 0.995, 0.992, 0.999]
    assert kappa_average(steady) == pytest.approx((0.995 + 0.992 + 0.999) / 3)
    assert can_stop(steady, every_answer_given=True)
    assert not can_stop(steady, every_answer_given=False)
    assert not can_stop([1.0] * (KAPPA_WINDOW - 1), True)  # too few rounds
    assert not can_stop([0.97, 1.0, 1.0], True)  # mean 0.99 - 0.01 / 3
    assert math.isnan(kappa_average([1.0, float("nan"), 1.0]))
    assert not can_stop([1.0, float("nan"), 1.0], True)


def test_round_signals_leave_undefined_values_out_of_the_record():
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6]])
    now = predicted_answers(proba)
    signals = round_signals(
        np.zeros(3, np.int8), now, proba, np.array([0]), [], float("nan"), [], 1, True
    )
    record = signals.as_record()
    assert "prior_right" not in record and "progressive_accuracy" not in record
    assert "kappa_average" not in record  # one round is not a window
    assert record["changed_share"] == pytest.approx(2 / 3)
    assert set(record) <= set(stopping.SIGNALS) and not signals.can_stop


def test_the_recommendation_reads_as_a_sentence():
    fired = stopping.recommendation({"kappa_average": 0.996, "changed_share": 0.0003}, True)
    assert fired == "you can stop: predictions on the pool have barely changed for 3 rounds"
    assert stopping.recommendation({"kappa_average": 0.9}, False) == (
        "keep labelling: pool kappa 0.900, stop at 0.99"
    )
    assert stopping.recommendation({}, False) == (
        "keep labelling: the predictions are still settling"
    )
    note = stopping.signals_note({"kappa": 0.5, "changed_share": 0.0003, "uncertainty": 0.25})
    assert note == (
        "kappa against the round before 0.5000; 0.03% of the pool changed its answer; "
        "uncertainty over the unlabelled pool 0.250 (0 to 1)."
    )
    assert stopping.signals_note({}) == "No signals yet."


# --- in a session -----------------------------------------------------------------------------


def run(rounds: int, **settings) -> LabellingSession:
    session = LabellingSession(FEATURES, SessionSettings(**settings))
    session.auto_label(rounds)
    return session


def test_every_round_records_its_signals_and_the_head_settles():
    session = run(12, strategy="representative")
    first = session.rounds[0].stopping
    assert first["kappa"] == pytest.approx(0.0)  # against the untrained head's one answer
    for record in session.rounds:
        assert 0 <= record.stopping["changed_share"] <= 1
        assert 0 <= record.stopping["uncertainty"] <= 1
        assert 0 <= record.stopping["prior_right"] <= session.settings.batch_size
    # The kappa recorded is the kappa between the predictions before and after the round.
    before = predicted_answers(session.proba_pool)
    record = session.answer_by_truth()
    after = predicted_answers(session.proba_pool)
    assert record.stopping["kappa"] == pytest.approx(prediction_kappa(before, after, 2))
    stop = session.stop_round()
    assert stop is not None and stop.number >= KAPPA_WINDOW
    assert stop.stopping["kappa_average"] >= KAPPA_THRESHOLD
    assert all(not r.can_stop for r in session.rounds[: stop.number - 1])


def test_undo_gives_the_next_round_the_same_signals():
    session = run(4)
    again = run(4)
    session.answer_by_truth()
    session.undo()
    assert session.answer_by_truth().stopping == again.answer_by_truth().stopping


def test_a_correction_never_says_stop_and_starts_the_window_again():
    """A session that may stop; then a correction that makes a right answer wrong (no label
    added): no "you can stop" on it, nor until a full window of batches after it has settled."""
    session = run(1, strategy="representative")
    while not session.rounds[-1].can_stop and len(session.rounds) < 60:
        session.answer_by_truth()
    assert session.rounds[-1].can_stop  # settled before the change
    index = session.rounds[-1].indices[0]
    wrong = "negative" if session.answer_of(index) == "positive" else "positive"
    fixed = session.correct(index, wrong, round_number=len(session.rounds) + 1)
    assert fixed.is_correction and fixed.n_labels == session.rounds[-2].n_labels
    assert fixed.stopping["kappa"] > KAPPA_THRESHOLD  # one answer barely moves the pool ...
    assert not fixed.can_stop  # ... yet it says nothing about the labels being settled
    assert "kappa_average" not in fixed.stopping
    after = [session.answer_by_truth() for _ in range(KAPPA_WINDOW)]
    assert [r.can_stop for r in after[:-1]] == [False] * (KAPPA_WINDOW - 1)
    # The window of the batches after the change alone.
    assert after[-1].stopping["kappa_average"] == pytest.approx(
        np.mean([r.stopping["kappa"] for r in after])
    )
    assert after[-1].can_stop == (after[-1].stopping["kappa_average"] >= KAPPA_THRESHOLD)


def test_a_k_class_session_waits_for_every_class():
    session = run(3, task=Task.multiclass("0-4"), batch_size=1, layer="digits")
    given = set(session.labels.tolist())
    assert len(given) < 5 and not any(r.can_stop for r in session.rounds)


def test_signals_survive_the_json_round_trip_the_manifest_and_the_csv():
    session = run(8)
    data = json.loads(manifest_json(session))
    assert [r["can_stop"] for r in data["rounds"]] == [r.can_stop for r in session.rounds]
    reopened = read_manifest(json.dumps(data), FEATURES)
    assert [r.stopping for r in reopened.rounds] == [r.stopping for r in session.rounds]
    assert LabellingSession.from_dict(session.to_dict(), FEATURES).stop_round() == (
        session.stop_round()
    )
    rows = labels_csv(session).splitlines()
    assert ",pool_kappa,can_stop," in rows[0]  # then Look again's mark
    last = dict(zip(rows[0].split(","), rows[-1].split(",")))
    assert last["can_stop"] == str(session.rounds[-1].can_stop)
    assert float(last["pool_kappa"]) == pytest.approx(
        session.rounds[-1].stopping["kappa_average"], abs=1e-6
    )


def test_a_manifest_without_signals_still_imports_and_bad_signals_are_refused():
    session = run(3)
    data = json.loads(manifest_json(session))
    for record in data["rounds"]:
        del record["stopping"], record["can_stop"]
    old = read_manifest(json.dumps(data), FEATURES)
    assert [r.stopping for r in old.rounds] == [{}] * 3 and old.stop_round() is None
    header, first = labels_csv(old).splitlines()[:2]
    first = dict(zip(header.split(","), first.split(",")))
    assert (first["pool_kappa"], first["can_stop"]) == ("", "False")
    for bad in ({"kappa": "high"}, {"luck": 0.5}, []):
        data["rounds"][0]["stopping"] = bad
        with pytest.raises(SessionFileError, match="stopping must"):
            read_manifest(json.dumps(data), FEATURES)
    data["rounds"][0]["stopping"] = {}
    data["rounds"][0]["can_stop"] = "yes"
    with pytest.raises(SessionFileError, match="can_stop must"):
        read_manifest(json.dumps(data), FEATURES)


def test_the_bench_times_what_a_round_adds_for_the_signals(monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parent.parent / "bench"))
    from bench_round import time_signals

    ours, sklearn = time_signals(FEATURES, 4)
    assert ours.shape == sklearn.shape == (4,)
    assert (ours > 0).all() and (sklearn > 0).all()
