"""The session store: round trip, two writers on one session, undo history, ids, recent list."""

import multiprocessing
import os
import subprocess
import sys
import threading

import numpy as np
import pytest
from sqlalchemy import func, select, text
from store_db import TEST_DB, db_url
from synthetic import synthetic_features

from tl_active.errors import SessionFileError, TlActiveError
from tl_active.sessions.records import SessionSettings
from tl_active.sessions.schema import rounds
from tl_active.sessions.session import LabellingSession
from tl_active.sessions.store import (
    SessionStore,
    StaleSessionError,
    UnknownSessionError,
    check_session_id,
    new_session_id,
)

FEATURES = synthetic_features(400, 200, model="tinymodel")


def row_count(store: SessionStore, session_id: str, live_only: bool = False) -> int:
    query = select(func.count()).select_from(rounds).where(rounds.c.session_id == session_id)
    if live_only:
        query = query.where(rounds.c.undone_at.is_(None))
    with store.engine.connect() as conn:
        return conn.execute(query).scalar_one()


def answer_some(session: LabellingSession):
    """Answer the next batch by the ground truth, but skip its last image."""
    picks = session.next_batch()
    answers = session.truth([p.index for p in picks])
    answers[-1] = "skip"
    return session.submit(answers)


def test_round_trip_restores_rounds_weights_and_next_batch(tmp_path, store):
    session = LabellingSession(FEATURES, SessionSettings(strategy="diversity", seed=7))
    session_id = store.create(session)
    for _ in range(6):
        store.append_round(session_id, answer_some(session))
    fresh = SessionStore(db_url(tmp_path))
    loaded = fresh.load(session_id, FEATURES)

    assert loaded.settings == session.settings
    assert loaded.to_dict() == session.to_dict()
    assert np.array_equal(loaded.head.coef_, session.head.coef_)
    assert loaded.head.intercept_ == session.head.intercept_
    assert np.array_equal(loaded.p_pool, session.p_pool)
    assert [p.index for p in loaded.next_batch()] == [p.index for p in session.next_batch()]
    assert len(loaded.skipped) == 6 and len(loaded.labelled) == 18
    assert fresh.round_count(session_id) == 6
    fresh.close()


def test_create_stores_the_rounds_a_session_already_has(store):
    session = LabellingSession(FEATURES, SessionSettings(seed=1))
    session.auto_label(3)
    session_id = store.create(session)
    assert store.round_count(session_id) == 3
    assert store.load(session_id, FEATURES).to_dict() == session.to_dict()
    with pytest.raises(StaleSessionError, match="already exists"):
        store.create(session, session_id=session_id)


@pytest.mark.skipif(bool(TEST_DB), reason="SQLite settings")
def test_sqlite_runs_in_wal_mode_with_a_busy_timeout(store):
    with store.engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA busy_timeout")).scalar() == 15_000
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_a_tab_that_is_behind_is_told_and_writes_nothing(tmp_path, store):
    session_id = store.create(LabellingSession(FEATURES, SessionSettings(seed=2)))
    other_store = SessionStore(db_url(tmp_path))
    tab_a = store.load(session_id, FEATURES)
    tab_b = other_store.load(session_id, FEATURES)

    store.append_round(session_id, tab_a.answer_by_truth())
    record_b = tab_b.answer_by_truth()
    with pytest.raises(StaleSessionError, match="reload"):
        other_store.append_round(session_id, record_b)
    assert row_count(store, session_id) == 1
    assert other_store.round_count(session_id) == 1 != len(tab_b.rounds) - 1

    # The behind tab reloads and goes on from the stored state.
    tab_b = other_store.load(session_id, FEATURES)
    assert tab_b.to_dict() == tab_a.to_dict()
    other_store.append_round(session_id, tab_b.answer_by_truth())
    assert store.round_count(session_id) == 2
    assert len(store.recent()) == 1 and store.recent()[0].n_labels == 8
    other_store.close()


def _append_when_ready(url: str, session_id: str, record, barrier) -> str:
    """Store `record` once every writer is ready: 'stored' if it won, 'stale' if another did."""
    store = SessionStore(url)
    barrier.wait()
    try:
        store.append_round(session_id, record)
        return "stored"
    except StaleSessionError:
        return "stale"
    finally:
        store.close()


def _race(url: str, session_id: str, barrier, results: list) -> None:
    """One writer: load the session, answer the next batch, then store it when all are ready."""
    reader = SessionStore(url)
    try:
        record = reader.load(session_id, FEATURES).answer_by_truth()
    finally:
        reader.close()
    results.append(_append_when_ready(url, session_id, record, barrier))


def test_threads_racing_for_one_round_store_it_exactly_once(tmp_path, store):
    session_id = store.create(LabellingSession(FEATURES, SessionSettings(seed=3)))
    for number in range(1, 6):
        n_writers = 6
        barrier = threading.Barrier(n_writers)
        results: list[str] = []
        threads = [
            threading.Thread(target=_race, args=(db_url(tmp_path), session_id, barrier, results))
            for _ in range(n_writers)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert sorted(results) == ["stale"] * (n_writers - 1) + ["stored"]
        assert row_count(store, session_id) == number
        assert store.round_count(session_id) == number
    assert len(store.load(session_id, FEATURES).rounds) == 5


def _store_race(url: str, session_id: str, record, barrier, queue) -> None:
    """One writer process: store `record` once all are ready, and say whether it won."""
    queue.put(_append_when_ready(url, session_id, record, barrier))


@pytest.mark.server
def test_processes_racing_for_one_round_store_it_exactly_once(tmp_path, store):
    session_id = store.create(LabellingSession(FEATURES, SessionSettings(seed=4)))
    # The round is answered here, before the fork: a forked child that starts scikit-learn's
    # OpenMP k-means after the parent has used it can wait forever on the parent's thread pool.
    context = multiprocessing.get_context("fork")
    for number in (1, 2, 3):
        record = store.load(session_id, FEATURES).answer_by_truth()
        barrier, queue = context.Barrier(4), context.Queue()
        workers = [
            context.Process(
                target=_store_race, args=(db_url(tmp_path), session_id, record, barrier, queue)
            )
            for _ in range(4)
        ]
        for w in workers:
            w.start()
        outcomes = sorted(queue.get(timeout=60) for _ in workers)
        for w in workers:
            w.join(30)
            assert w.exitcode == 0
        assert outcomes == ["stale", "stale", "stale", "stored"]
        assert row_count(store, session_id) == number


def test_undo_keeps_the_round_marked_and_allows_a_new_one(store):
    session = LabellingSession(FEATURES, SessionSettings(seed=5))
    session_id = store.create(session)
    for _ in range(3):
        store.append_round(session_id, session.answer_by_truth())
    taken_back = session.rounds[-1]
    store.undo_round(session_id, taken_back)
    session.undo()
    assert store.round_count(session_id) == 2
    assert store.recent()[0].n_labels == 8
    assert row_count(store, session_id) == 3 and row_count(store, session_id, True) == 2

    answers = ["negative"] * len(session.next_batch())
    store.append_round(session_id, session.submit(answers), previous=session.rounds[-2])
    history = store.history(session_id)
    assert [(h.record.number, h.generation, h.undone) for h in history] == [
        (1, 0, False),
        (2, 0, False),
        (3, 0, True),
        (3, 1, False),
    ]
    assert history[2].record.answers == taken_back.answers
    loaded = store.load(session_id, FEATURES)
    assert loaded.rounds[-1].answers == answers
    assert np.array_equal(loaded.head.coef_, session.head.coef_)

    # Undo down to nothing, then the first round can be answered afresh.
    for number in (3, 2, 1):
        store.undo_round(session_id, number)
    assert store.round_count(session_id) == 0 and store.recent()[0].n_labels == 0
    fresh = store.load(session_id, FEATURES)
    store.append_round(session_id, fresh.answer_by_truth())
    assert [h.generation for h in store.history(session_id) if not h.undone] == [1]


def test_undo_that_is_out_of_date_is_refused(tmp_path, store):
    session = LabellingSession(FEATURES, SessionSettings(seed=6))
    session_id = store.create(session)
    with pytest.raises(StaleSessionError):
        store.undo_round(session_id, 1)
    for _ in range(2):
        store.append_round(session_id, session.answer_by_truth())
    with pytest.raises(StaleSessionError):
        store.undo_round(session_id, 1)  # not the last round
    with pytest.raises(StaleSessionError):
        store.undo_round(session_id, 0)

    # Tab B undoes round 2 and answers it again; tab A, which still shows the old round 2,
    # is refused both when it undoes and when it builds on that round.
    tab_b = store.load(session_id, FEATURES)
    store.undo_round(session_id, tab_b.rounds[-1])
    tab_b.undo()
    tab_b.next_batch()
    store.append_round(session_id, tab_b.submit(["skip"] * 4), previous=tab_b.rounds[-2])
    with pytest.raises(StaleSessionError, match="another tab"):
        store.undo_round(session_id, session.rounds[-1])
    record = session.answer_by_truth()
    with pytest.raises(StaleSessionError, match="another tab"):
        store.append_round(session_id, record, previous=session.rounds[-2])
    assert row_count(store, session_id) == 3 and store.round_count(session_id) == 2
    assert store.load(session_id, FEATURES).rounds[-1].answers == ["skip"] * 4


def test_unknown_and_malformed_ids_are_refused_clearly(store):
    with pytest.raises(UnknownSessionError, match="no stored session"):
        store.load(new_session_id(), FEATURES)
    for bad in ("", "short", "../../etc/passwd", "a b c d e f g h", "x" * 65, None, 12345678):
        with pytest.raises(UnknownSessionError, match="is not a session id"):
            store.load(bad, FEATURES)
    with pytest.raises(UnknownSessionError):
        store.round_count("'; drop table sessions; --")
    with pytest.raises(UnknownSessionError):
        store.append_round(new_session_id(), LabellingSession(FEATURES).answer_by_truth())
    assert not store.exists(new_session_id())
    assert issubclass(UnknownSessionError, TlActiveError)
    assert issubclass(StaleSessionError, TlActiveError)
    ids = {new_session_id() for _ in range(100)}
    assert len(ids) == 100 and all(check_session_id(i) == i and len(i) == 16 for i in ids)


def test_a_new_id_never_begins_with_a_dash_and_one_made_before_still_does(monkeypatch):
    # One token in 64 begins with "-", which a command line reads as an option.
    assert not any(new_session_id().startswith("-") for _ in range(5_000))
    drawn = iter(["-dashfirst012345", "-dashagain012345", "letterfirst01234"])
    monkeypatch.setattr("tl_active.sessions.store.secrets.token_urlsafe", lambda n: next(drawn))
    assert new_session_id() == "letterfirst01234"
    assert check_session_id("-madebefore01234") == "-madebefore01234"


def test_a_session_stored_under_another_model_is_refused_on_load(store):
    other = synthetic_features(400, 200, model="othermodel")
    session = LabellingSession(other, SessionSettings(seed=8))
    session.auto_label(2)
    session_id = store.create(session)
    with pytest.raises(SessionFileError, match="another network"):
        store.load(session_id, FEATURES)


def test_recent_lists_the_latest_changed_first_with_a_summary(store):
    first = LabellingSession(FEATURES, SessionSettings(task=frozenset({2, 3}), batch_size=2))
    second = LabellingSession(FEATURES, SessionSettings(strategy="random", seed=9))
    first_id, second_id = store.create(first), store.create(second)
    store.append_round(first_id, first.answer_by_truth())
    listed = store.recent(limit=5)
    assert [s.id for s in listed] == [first_id, second_id]
    assert listed[0].summary == "2,3, diversity, batch 2, converge, seed 0 (mnist-cnn/digits)"
    assert (listed[0].n_rounds, listed[0].n_labels) == (1, 2)
    assert listed[1].summary == "odd, random, batch 4, converge, seed 9 (mnist-cnn/digits)"
    assert listed[0].updated_at >= listed[0].created_at
    assert len(store.recent(limit=1)) == 1


def test_the_database_location_comes_from_the_environment(tmp_path):
    def db_url_with(value: str) -> str:
        env = {**os.environ, "TL_ACTIVE_DB": value}
        code = "from tl_active.paths import DB_URL; print(DB_URL)"
        return subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()

    assert db_url_with(str(tmp_path / "x.db")) == f"sqlite:///{tmp_path / 'x.db'}"
    url = "postgresql+psycopg://labeller@db.example/tl"
    assert db_url_with(url) == url
    assert db_url_with("").endswith("/data/sessions.db")


def test_writers_on_different_sessions_wait_for_each_other_and_all_succeed(tmp_path, store):
    errors: list[Exception] = []
    ids = [store.create(LabellingSession(FEATURES, SessionSettings(seed=s))) for s in range(4)]

    def label(session_id: str) -> None:
        own = SessionStore(db_url(tmp_path))
        try:
            session = own.load(session_id, FEATURES)
            for _ in range(10):
                own.append_round(session_id, session.answer_by_truth())
        except Exception as error:  # collected: a thread's exception would otherwise vanish
            errors.append(error)
        finally:
            own.close()

    threads = [threading.Thread(target=label, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert errors == []
    assert [store.round_count(i) for i in ids] == [10] * 4


def test_a_version_1_database_is_upgraded_and_its_sessions_replay(tmp_path):
    """A database written by the first format (one column per field of a binary round) opens."""
    import json

    import sqlalchemy

    session = LabellingSession(FEATURES, SessionSettings(batch_size=3, seed=4))
    answer_some(session)
    answer_some(session)
    path = tmp_path / "v1.db"
    engine = sqlalchemy.create_engine(f"sqlite:///{path}")
    columns = (
        "id INTEGER PRIMARY KEY, session_id VARCHAR(64), number INTEGER, generation INTEGER, "
        "indices JSON, answers JSON, scores JSON, ranks JSON, reasons JSON, n_labels INTEGER, "
        "weights JSON, bias FLOAT, metrics JSON, p_histogram JSON, mean_p_by_digit JSON, "
        "simulated BOOLEAN, asked_at FLOAT, answered_at FLOAT, stored_at FLOAT, undone_at FLOAT"
    )
    with engine.begin() as conn:
        conn.execute(
            text(
                "CREATE TABLE sessions (id VARCHAR(64) PRIMARY KEY, settings JSON, "
                "model_checksum VARCHAR(64), format_version INTEGER, created_at FLOAT, "
                "updated_at FLOAT, n_rounds INTEGER, n_labels INTEGER)"
            )
        )
        conn.execute(text(f"CREATE TABLE rounds ({columns})"))
        v1_settings = {
            "target": [1, 3, 5, 7, 9],
            "strategy": "diversity",
            "batch_size": 3,
            "head_mode": "converge",
            "seed": 4,
        }
        conn.execute(
            text("INSERT INTO sessions VALUES ('oldsession1', :s, :m, 1, 1.0, 2.0, 2, :n)"),
            {
                "s": json.dumps(v1_settings),
                "m": FEATURES.model_checksum,
                "n": session.rounds[-1].n_labels,
            },
        )
        for r in session.rounds:
            conn.execute(
                text(
                    "INSERT INTO rounds (session_id, number, generation, indices, answers, scores,"
                    " ranks, reasons, n_labels, weights, bias, metrics, p_histogram,"
                    " mean_p_by_digit, simulated, asked_at, answered_at, stored_at, undone_at)"
                    " VALUES ('oldsession1', :number, 0, :indices, :answers, :scores, :ranks,"
                    " :reasons, :n_labels, :weights, :bias, :metrics, :hist, :by_digit, 0,"
                    " :asked, :answered, 3.0, NULL)"
                ),
                {
                    "number": r.number,
                    "indices": json.dumps(r.indices),
                    "answers": json.dumps(r.answers),
                    "scores": json.dumps(r.scores),
                    "ranks": json.dumps(r.ranks),
                    "reasons": json.dumps(r.reasons),
                    "n_labels": r.n_labels,
                    "weights": json.dumps(r.weights[0]),
                    "bias": r.bias[0],
                    "metrics": json.dumps(r.metrics),
                    "hist": json.dumps(r.p_histogram),
                    "by_digit": json.dumps(r.mean_p_by_class),
                    "asked": r.asked_at,
                    "answered": r.answered_at,
                },
            )
    engine.dispose()

    store = SessionStore(f"sqlite:///{path}")
    loaded = store.load("oldsession1", FEATURES)
    assert loaded.settings == session.settings
    assert [r.indices for r in loaded.rounds] == [r.indices for r in session.rounds]
    assert np.allclose(loaded.rounds[-1].weights, session.rounds[-1].weights, atol=1e-12)
    assert loaded.next_batch() == session.next_batch()
    assert [s.id for s in store.recent()] == ["oldsession1"]
    store.close()
    # Opening it again finds it upgraded: nothing is moved twice.
    again = SessionStore(f"sqlite:///{path}")
    assert len(again.history("oldsession1")) == 2
    again.close()
