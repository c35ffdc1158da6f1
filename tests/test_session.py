"""The labelling protocol, the figures a round records, undo, and the JSON round trip."""

import json

import numpy as np
import pytest
from old_formats import as_version_1
from synthetic import synthetic_features

from tl_active.core.metrics import binary_metrics
from tl_active.core.task import EVEN, ODD, Task
from tl_active.errors import PoolExhaustedError, ProtocolError, SessionFileError
from tl_active.sessions.records import Answer, SessionSettings, parse_target, target_name
from tl_active.sessions.session import LabellingSession

FEATURES = synthetic_features()


def session(**settings) -> LabellingSession:
    return LabellingSession(FEATURES, SessionSettings(**settings))


def test_next_batch_is_stable_until_answered():
    s = session()
    first = s.next_batch()
    assert len(first) == 4
    assert s.next_batch() == first
    s.submit(s.truth([p.index for p in first]))
    assert {p.index for p in s.next_batch()}.isdisjoint({p.index for p in first})


def test_submit_needs_exactly_one_answer_per_image():
    s = session()
    with pytest.raises(ProtocolError, match="no batch"):
        s.submit(["positive"] * 4)
    s.next_batch()
    with pytest.raises(ProtocolError, match="4 images but 3 answers"):
        s.submit(["positive"] * 3)
    with pytest.raises(ProtocolError, match="answers must be"):
        s.submit(["yes"] * 4)
    assert s.rounds == [] and s.pending is not None  # nothing lost by a bad submit


def test_a_double_submit_is_refused():
    s = session()
    s.next_batch()
    s.submit(["positive", "negative", "skip", "positive"], round_number=1)
    s.next_batch()
    with pytest.raises(ProtocolError, match="round 1, but round 2"):
        s.submit(["positive"] * 4, round_number=1)
    assert len(s.rounds) == 1


def test_a_round_records_labels_head_and_figures():
    s = session(seed=3)
    batch = s.next_batch()
    answers = [Answer.POSITIVE, Answer.NEGATIVE, Answer.SKIP, Answer.POSITIVE]
    record = s.submit(answers)
    assert record.number == 1
    assert record.indices == [p.index for p in batch]
    assert record.answers == ["positive", "negative", "skip", "positive"]
    assert record.n_labels == 3
    assert list(s.labelled) == [batch[0].index, batch[1].index, batch[3].index]
    assert list(s.labels) == [1, 0, 1]
    assert list(s.skipped) == [batch[2].index]
    assert np.shape(record.weights) == (1, 10) and any(record.weights[0])
    assert np.allclose(record.weights, s.head.coef_)
    assert record.bias == [0.0]  # held at 0 on the softmax outputs
    assert sum(record.p_histogram) == FEATURES.pool_size
    truth = np.isin(FEATURES.y_test, sorted(ODD))
    expected = binary_metrics(truth, s.head.positive_proba(FEATURES.test) > 0.5)
    assert record.metrics == pytest.approx(expected.as_dict())
    by_digit = [s.p_pool[FEATURES.y_pool == d].mean() for d in range(10)]
    assert record.mean_p_by_class == pytest.approx(by_digit)


@pytest.mark.parametrize("task", ["odd", Task.multiclass("0-4")])
def test_a_session_without_charts_records_the_same_rounds_but_the_charts(task):
    settings = SessionSettings(task=task, strategy="committee", seed=2)
    with_charts = LabellingSession(FEATURES, settings)
    without = LabellingSession(FEATURES, settings, charts=False)
    for _ in range(4):
        a, b = with_charts.answer_by_truth(), without.answer_by_truth()
        assert a.indices == b.indices and a.weights == b.weights
        assert a.metrics == b.metrics and a.stopping == b.stopping
        assert len(a.p_histogram) > 0 and b.p_histogram == [] and b.mean_p_by_class == []


def test_skipped_images_are_never_offered_again():
    s = session(batch_size=16, strategy="uncertainty")
    skipped = {p.index for p in s.next_batch()}
    s.submit(["skip"] * 16)
    assert s.labelled.size == 0
    for _ in range(20):
        batch = s.next_batch()
        assert skipped.isdisjoint(p.index for p in batch)
        s.submit(["skip"] * 16)


def test_ground_truth_teaches_the_head_the_target():
    s = session(strategy="representative")
    s.auto_label(5)
    weights = np.array(s.rounds[-1].weights[0])
    assert (weights[[1, 3, 5, 7, 9]] > weights[[0, 2, 4, 6, 8]].max()).all()
    assert s.metrics().accuracy > 0.85
    assert all(r.simulated for r in s.rounds)


def test_undo_restores_head_and_offers_the_batch_again():
    s = session(seed=5)
    s.answer_by_truth()
    weights_after_one = list(s.head.coef_[0])
    second = s.next_batch()
    s.answer_by_truth()
    undone = s.undo()
    assert undone.number == 2 and undone.indices == [p.index for p in second]
    assert list(s.head.coef_[0]) == weights_after_one
    assert s.next_batch() == second  # same seed, same state: the same batch comes back
    s.undo()
    assert s.rounds == [] and not any(s.head.coef_[0])
    with pytest.raises(ProtocolError, match="no round to undo"):
        s.undo()


def test_demo_mode_keeps_adam_state_through_undo():
    s = session(head_mode="demo", seed=1)
    s.auto_label(3)
    reference = [list(r.weights) for r in s.rounds]
    s.undo()
    s.answer_by_truth()
    assert [list(r.weights) for r in s.rounds] == reference


def test_the_pool_runs_out_with_a_named_error():
    small = synthetic_features(n_pool=10, n_test=50)
    s = LabellingSession(small, SessionSettings(batch_size=4))
    assert len(s.auto_label(10)) == 2
    with pytest.raises(PoolExhaustedError):
        s.next_batch()


def test_disagreements_list_the_persons_wrong_answers():
    s = session()
    batch = s.next_batch()
    truth = s.truth([p.index for p in batch])
    wrong = [Answer.NEGATIVE if t == Answer.POSITIVE else Answer.POSITIVE for t in truth[:1]]
    s.submit(wrong + truth[1:])
    found = s.disagreements()
    assert [(d["index"], d["digit"]) for d in found] == [
        (batch[0].index, FEATURES.y_pool[batch[0].index])
    ]


def test_json_round_trip_replays_to_the_same_weights(tmp_path):
    s = session(strategy="committee", seed=11, batch_size=3)
    s.auto_label(4)
    s.next_batch()
    s.submit(["skip", "positive", "negative"])
    path = tmp_path / "session.json"
    s.save_json(path)
    again = LabellingSession.load_json(path, FEATURES)
    assert again.settings == s.settings
    assert [r.indices for r in again.rounds] == [r.indices for r in s.rounds]
    assert np.allclose(again.rounds[-1].weights, s.rounds[-1].weights, atol=1e-12, rtol=0)
    assert again.next_batch() == s.next_batch()  # the session goes on exactly where it was


def test_loading_refuses_foreign_and_tampered_files(tmp_path):
    s = session()
    s.auto_label(2)
    data = s.to_dict()
    with pytest.raises(SessionFileError, match="not a tl-active session"):
        LabellingSession.from_dict({"rounds": []}, FEATURES)
    other_model = dict(data, model_checksum="0" * 16)
    with pytest.raises(SessionFileError, match="another network"):
        LabellingSession.from_dict(other_model, FEATURES)
    tampered = json.loads(json.dumps(data))
    tampered["rounds"][1]["weights"][0][3] += 1.0
    with pytest.raises(SessionFileError, match="other head weights"):
        LabellingSession.from_dict(tampered, FEATURES)
    repeated = json.loads(json.dumps(data))
    repeated["rounds"][1]["indices"] = repeated["rounds"][0]["indices"]
    with pytest.raises(SessionFileError, match="already answered"):
        LabellingSession.from_dict(repeated, FEATURES)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SessionFileError, match="cannot read"):
        LabellingSession.load_json(tmp_path / "bad.json", FEATURES)


@pytest.mark.parametrize(
    "text, expected",
    [("odd", ODD), ("EVEN", EVEN), ("2,3,5,7", frozenset({2, 3, 5, 7})), ([0], frozenset({0}))],
)
def test_parse_target(text, expected):
    assert parse_target(text) == expected


@pytest.mark.parametrize("text", ["", "prime", "1,11", "0,1,2,3,4,5,6,7,8,9"])
def test_parse_target_refuses(text):
    with pytest.raises(ValueError, match="target"):
        parse_target(text)


def test_target_names():
    assert [target_name(ODD), target_name(EVEN), target_name(frozenset({7, 2}))] == [
        "odd",
        "even",
        "2,7",
    ]


@pytest.mark.parametrize(
    "bad, message",
    [
        ({"batch_size": 0}, "batch size"),
        ({"batch_size": 17}, "batch size"),
        ({"strategy": "best"}, "unknown strategy"),
        ({"head_mode": "sgd"}, "unknown head mode"),
        ({"seed": -1}, "seed"),
    ],
)
def test_bad_settings_are_refused(bad, message):
    with pytest.raises(ValueError, match=message):
        SessionSettings(**bad)


def test_a_custom_target_labels_by_its_digits():
    s = session(task=frozenset({2, 3, 5, 7}), strategy="representative")
    s.auto_label(4)
    weights = np.array(s.rounds[-1].weights[0])
    assert min(weights[[2, 3, 5, 7]]) > max(weights[[0, 1, 4, 6, 8, 9]])


EMBEDDING = synthetic_features(layer="embedding")


def test_a_multiclass_task_asks_only_about_its_classes():
    task = Task.multiclass("0-4")
    s = LabellingSession(EMBEDDING, SessionSettings(task=task, layer="embedding", batch_size=5))
    assert s.answer_values == ("0", "1", "2", "3", "4")
    assert s.data.size == int((EMBEDDING.y_pool < 5).sum())
    s.auto_label(6)
    asked = [i for r in s.rounds for i in r.indices]
    assert (EMBEDDING.y_pool[asked] < 5).all()
    record = s.rounds[-1]
    assert np.shape(record.weights) == (5, 128) and len(record.bias) == 5
    assert any(record.bias)  # an embedding is no simplex: the head fits its intercepts
    assert len(record.mean_p_by_class) == 5
    assert record.metrics["accuracy"] > 0.6  # chance is 0.2
    assert record.metrics["accuracy"] < s.ceiling().accuracy <= 1


def test_a_multiclass_session_takes_class_names_and_refuses_others():
    s = LabellingSession(
        EMBEDDING, SessionSettings(task=Task.multiclass([2, 4, 6]), layer="embedding")
    )
    batch = s.next_batch()
    with pytest.raises(ProtocolError, match="answers must be 2, 4, 6, skip"):
        s.submit(["positive"] * len(batch))
    truth = s.truth([p.index for p in batch])
    assert set(truth) <= {"2", "4", "6"}
    s.submit(truth[:-1] + ["skip"])
    assert list(s.labels) == [[2, 4, 6].index(int(a)) for a in truth[:-1]]


def test_a_multiclass_session_replays_exactly(tmp_path):
    settings = SessionSettings(
        task=Task.multiclass("0-4"), layer="embedding", strategy="committee", batch_size=5
    )
    s = LabellingSession(EMBEDDING, settings)
    s.auto_label(3)
    again = LabellingSession.from_dict(json.loads(json.dumps(s.to_dict())), EMBEDDING)
    assert again.settings == settings
    assert np.allclose(again.rounds[-1].weights, s.rounds[-1].weights, atol=1e-12, rtol=0)
    assert again.next_batch() == s.next_batch()


def test_a_version_1_session_file_still_opens():
    s = session(seed=2)
    s.auto_label(2)
    data = json.loads(json.dumps(s.to_dict()))
    as_version_1(data, seed=2)
    again = LabellingSession.from_dict(data, FEATURES)
    assert again.settings == s.settings
    assert np.allclose(again.rounds[-1].weights, s.rounds[-1].weights, atol=1e-12, rtol=0)


def test_features_of_another_layer_are_refused():
    with pytest.raises(ValueError, match="layer 'digits'"):
        LabellingSession(FEATURES, SessionSettings(layer="embedding"))


def test_k_class_settings_refuse_binary_only_choices():
    with pytest.raises(ValueError, match="binary"):
        SessionSettings(task=Task.multiclass("0-4"), strategy="band")
    with pytest.raises(ValueError, match="binary"):
        SessionSettings(task=Task.multiclass("0-4"), head_mode="demo")


def test_any_earlier_answer_can_be_corrected_and_undone():
    s = session(seed=6)
    first = s.next_batch()
    truth = s.truth([p.index for p in first])
    wrong = ["negative" if t == "positive" else "positive" for t in truth]
    s.submit(wrong[:3] + ["skip"])
    s.answer_by_truth()
    before = s.head.state_.copy()
    labels_before = list(s.labels)
    image = first[0].index
    fixed = s.correct(image, truth[0])
    assert fixed.is_correction and fixed.number == 3 and fixed.previous == [wrong[0]]
    assert fixed.indices == [image] and fixed.n_labels == 7
    assert s.answer_of(image) == truth[0] and s.pending is None
    assert not np.allclose(s.head.coef_, before.weights)  # retrained on the corrected label
    # a skipped image can be given an answer, and an answer can become a skip
    s.correct(first[3].index, truth[3])
    s.correct(first[1].index, "skip")
    assert s.rounds[-1].n_labels == 7 and s.answer_of(first[1].index) == "skip"
    # Every answered image's live answer at once, as `answer_of` gives it one by one.
    answered = {i for r in s.rounds for i in r.indices}
    assert s.live_answers() == {i: s.answer_of(i) for i in answered}
    assert s.live_answers()[first[1].index] == "skip" and len(answered) == 8
    for _ in range(3):
        s.undo()
    assert list(s.labels) == labels_before and np.allclose(s.head.coef_, before.weights)
    with pytest.raises(ProtocolError, match="already answered"):
        s.correct(image, wrong[0])
    with pytest.raises(ProtocolError, match="nothing to correct"):
        s.correct(next(p.index for p in s.next_batch()), "positive")


def test_corrections_replay_exactly_fast_or_step_by_step():
    for mode in ("converge", "demo"):
        s = session(seed=8, head_mode=mode)
        s.auto_label(3)
        image = s.rounds[0].indices[1]
        s.correct(image, "skip")
        s.answer_by_truth()
        s.correct(image, s.truth([image])[0])
        data = json.loads(json.dumps(s.to_dict()))
        again = LabellingSession.from_dict(data, FEATURES)
        assert [r.kind for r in again.rounds] == ["batch"] * 3 + [
            "correction",
            "batch",
            "correction",
        ]
        assert np.allclose(again.head.coef_, s.head.coef_, atol=1e-12, rtol=0)
        assert again.next_batch() == s.next_batch()
        forged = json.loads(json.dumps(data))
        forged["rounds"][3]["previous"] = [
            "negative" if s.truth([image])[0] == "positive" else "positive"
        ]
        with pytest.raises(SessionFileError, match="was not answered"):
            LabellingSession.from_dict(forged, FEATURES)
