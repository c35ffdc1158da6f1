"""The bulk round: one answer to every image of a region of the pool map, as a round of its own,
through the session, undo, the store, the labels CSV, the manifest and its replay."""

import csv
import io
import json

import numpy as np
import pytest
from synthetic import synthetic_features

from tl_active.core.task import Task
from tl_active.errors import ProtocolError, SessionFileError
from tl_active.sessions.exchange import labels_csv, manifest_json, read_manifest
from tl_active.sessions.records import BULK, SessionSettings
from tl_active.sessions.session import BULK_REASON, LabellingSession

FEATURES = synthetic_features(1_500, 200, model="tinymodel")


def region(session: LabellingSession, digit: int, n: int = 60) -> list[int]:
    """Unanswered pool images of one digit: what a box around its island on the map holds."""
    of_digit = np.flatnonzero(FEATURES.y_pool == digit).tolist()
    return session.unanswered(of_digit)[:n]


def state(session: LabellingSession) -> dict:
    """Everything undo must give back, and the batch the session would offer next."""
    return {
        "file": json.dumps(session.to_dict()),
        "coef": session.head.coef_.copy(),
        "intercept": np.array(session.head.intercept_, float).copy(),
        "p_pool": session.p_pool.copy(),
        "available": session.ledger.available.copy(),
        "next": [p.index for p in session.next_batch()],
    }


def same_state(a: dict, b: dict) -> bool:
    return (
        a["file"] == b["file"]
        and a["next"] == b["next"]
        and all(
            np.array_equal(a[name], b[name])
            for name in ("coef", "intercept", "p_pool", "available")
        )
    )


def bulk_session(head_mode: str = "converge", **settings) -> LabellingSession:
    """Two rounds by the truth, a bulk round of 60 sevens as odd, then a round by the truth."""
    session = LabellingSession(FEATURES, SessionSettings(head_mode=head_mode, seed=4, **settings))
    session.auto_label(2)
    session.label_bulk(region(session, 7), "positive")
    session.auto_label(1)
    return session


def test_a_bulk_round_labels_sixty_images_at_once_and_the_head_learns_them():
    session = LabellingSession(FEATURES, SessionSettings(seed=1))
    session.auto_label(1)
    offered = session.next_batch()
    chosen = region(session, 3)
    assert len(chosen) == 60
    p_before = session.p_of(chosen).mean()

    record = session.label_bulk(chosen, "positive", round_number=2)

    assert record.kind == BULK and record.is_bulk and not record.is_correction
    assert record.number == 2 and record.indices == chosen
    assert record.answers == ["positive"] * 60 and record.reasons == [BULK_REASON] * 60
    assert record.n_labels == 4 + 60 and len(session.labelled) == 64
    assert not record.simulated and record.asked_at == record.answered_at
    assert "prior_right" not in record.stopping  # the person chose these, not the strategy
    assert all(session.answer_of(i) == "positive" for i in chosen)
    assert session.p_of(chosen).mean() > max(p_before, 0.9)  # threes are odd: learned
    assert record.metrics["accuracy"] > 0.5
    # The batch on offer was dropped; the next one is new and avoids every labelled image.
    assert session.pending is None
    assert not {p.index for p in session.next_batch()} & {*chosen, *session.rounds[0].indices}
    assert offered  # there was one before the bulk round


def test_a_bulk_round_refuses_bad_selections_and_changes_nothing():
    session = LabellingSession(FEATURES, SessionSettings(seed=2))
    session.auto_label(1)
    before = state(session)
    answered = session.rounds[0].indices[0]
    fresh = region(session, 5, 10)
    cases = [
        ([], "positive", None, "no images were chosen"),
        ([*fresh, answered], "positive", None, "1 of these images are answered already"),
        ([*fresh, FEATURES.pool_size + 3], "positive", None, "outside the task"),
        ([fresh[0], fresh[0]], "positive", None, "more than once"),
        (fresh, "maybe", None, "answers must be"),
        (fresh, "positive", 1, "round 1, but round 2"),
    ]
    for indices, answer, number, message in cases:
        with pytest.raises(ProtocolError, match=message):
            session.label_bulk(indices, answer, round_number=number)
        assert same_state(state(session), before)
    # What the map offers: only the unanswered images of a selection.
    assert session.unanswered([answered, *fresh, FEATURES.pool_size + 3]) == fresh


@pytest.mark.parametrize("head_mode", ["converge", "demo"])
def test_undo_of_a_bulk_round_restores_the_state_before_it(head_mode):
    session = LabellingSession(FEATURES, SessionSettings(head_mode=head_mode, seed=3))
    session.auto_label(2)
    before = state(session)
    session.label_bulk(region(session, 4, 80), "negative")
    assert not same_state(state(session), before)
    undone = session.undo()
    assert undone.is_bulk and len(undone.indices) == 80
    assert same_state(state(session), before)
    # And the session goes on as if the bulk round had never been.
    twin = LabellingSession(FEATURES, SessionSettings(head_mode=head_mode, seed=3))
    twin.auto_label(3)
    session.auto_label(1)
    assert session.to_dict()["rounds"][-1]["indices"] == twin.to_dict()["rounds"][-1]["indices"]
    assert np.array_equal(session.head.coef_, twin.head.coef_)


def test_a_bulk_round_is_marked_in_the_labels_csv():
    session = bulk_session()
    rows = list(csv.DictReader(io.StringIO(labels_csv(session))))
    bulk_rows = [r for r in rows if r["bulk"] == "True"]
    assert len(rows) == 4 + 4 + 60 + 4
    assert [int(r["pool_index"]) for r in bulk_rows] == session.rounds[2].indices
    assert {(r["round"], r["answer"], r["agrees"], r["status"]) for r in bulk_rows} == {
        ("3", "positive", "True", "live")
    }
    assert all(r["bulk"] == "False" for r in rows if r["round"] != "3")


@pytest.mark.parametrize("head_mode", ["converge", "demo"])
def test_a_bulk_round_travels_in_the_manifest_and_replays_exactly(head_mode, store):
    session = bulk_session(head_mode)
    raw = manifest_json(session)
    data = json.loads(raw)
    assert [r.get("kind") for r in data["rounds"]] == ["batch", "batch", "bulk", "batch"]
    assert len(data["rounds"][2]["indices"]) == 60

    replayed = read_manifest(raw.encode(), FEATURES)
    assert replayed.to_dict() == session.to_dict()
    assert np.array_equal(replayed.head.coef_, session.head.coef_)
    assert [p.index for p in replayed.next_batch()] == [p.index for p in session.next_batch()]

    session_id = store.import_manifest(raw, FEATURES)
    loaded = store.load(session_id, FEATURES)
    assert loaded.rounds[2].is_bulk and loaded.to_dict() == session.to_dict()


def test_a_multiclass_bulk_round_replays_from_the_manifest():
    session = LabellingSession(
        FEATURES, SessionSettings(task=Task.multiclass("0-9"), strategy="margin", seed=8)
    )
    session.auto_label(3)
    session.label_bulk(region(session, 6, 55), "6")
    replayed = read_manifest(manifest_json(session), FEATURES)
    assert replayed.rounds[-1].is_bulk and replayed.rounds[-1].answers == ["6"] * 55
    assert np.allclose(replayed.head.coef_, session.head.coef_, atol=1e-12, rtol=0)


def _tampered(change) -> str:
    data = json.loads(manifest_json(bulk_session()))
    change(data["rounds"][2])
    return json.dumps(data)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda r: r["answers"].__setitem__(5, "negative"), "more than one answer"),
        (lambda r: r.update(kind="heap"), "kind must be one of"),
        (lambda r: r.update(indices=r["indices"][:-1]), "59 images but 60 answers"),
        (lambda r: r["indices"].__setitem__(0, r["indices"][1]), "round 3 is malformed"),
        (lambda r: r["weights"][0].__setitem__(0, 3.0), "other head weights"),
    ],
    ids=["two answers", "unknown kind", "short", "an image twice", "tampered head"],
)
def test_a_tampered_bulk_round_is_refused(change, message, store):
    with pytest.raises(SessionFileError, match=message):
        read_manifest(_tampered(change), FEATURES)
    with pytest.raises(SessionFileError):
        store.import_manifest(_tampered(change), FEATURES)
    assert store.recent() == []


def test_a_bulk_round_is_stored_undone_in_the_store_and_reloaded(store):
    session = LabellingSession(FEATURES, SessionSettings(seed=9))
    session_id = store.create(session)
    for record in session.auto_label(2):
        store.append_round(session_id, record)
    before = state(session)
    store.append_round(session_id, session.label_bulk(region(session, 1, 70), "positive"))
    loaded = store.load(session_id, FEATURES)
    assert loaded.rounds[-1].is_bulk and loaded.to_dict() == session.to_dict()
    assert store.recent()[0].n_labels == session.rounds[-1].n_labels == 8 + 70

    store.undo_round(session_id, session.rounds[-1])
    session.undo()
    assert same_state(state(session), before)
    reopened = store.load(session_id, FEATURES)
    assert same_state(state(reopened), before)
    history = store.history(session_id)
    assert [(h.record.kind, h.undone) for h in history] == [
        ("batch", False),
        ("batch", False),
        ("bulk", True),
    ]


def test_a_continued_session_keeps_its_bulk_rounds():
    session = bulk_session()
    continued = session.continued_on(FEATURES, session.settings)
    assert [r.kind for r in continued.rounds] == [r.kind for r in session.rounds]
    assert continued.rounds[2].indices == session.rounds[2].indices
    assert np.allclose(continued.head.coef_, session.head.coef_, atol=1e-12, rtol=0)


def test_a_bulk_round_on_a_flat_folder_names_its_images_by_path_and_replays():
    """A folder without classes: no truth, so the figures are cross-validated on the labels."""
    from test_folder_session import flat_features, flat_settings

    features, digits = flat_features()
    session = LabellingSession(features, flat_settings())
    session.submit([session.answer_values[int(digits[p.index]) % 2] for p in session.next_batch()])
    sixes = session.unanswered(np.flatnonzero(digits == 6).tolist())[:30]
    record = session.label_bulk(sixes, "even")
    assert record.is_bulk and record.n_labels == 4 + 30 and 0 <= record.metrics["accuracy"] <= 1
    rows = list(csv.DictReader(io.StringIO(labels_csv(session))))
    bulk_rows = [r for r in rows if r["bulk"] == "True"]
    assert [r["path"] for r in bulk_rows] == [features.source.pool_paths[i] for i in sixes]
    assert {(r["answer"], r["who"], r["round"]) for r in bulk_rows} == {("even", "person", "2")}
    replayed = read_manifest(manifest_json(session), features)
    assert replayed.to_dict() == session.to_dict()
