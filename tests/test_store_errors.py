"""The session store when its database cannot be had: every failure is one clear message.

A PostgreSQL address that accepts connections but never answers, a database whose folder is a
file, a URL whose driver is not installed, and a database that fails mid-query: each raises a
`TlActiveError` that says what is wrong and what to do, and none shows SQL or its parameters.
No PostgreSQL server is needed: the silent one is a socket this test opens and never answers.
"""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import text
from synthetic import synthetic_features

from tl_active.errors import TlActiveError
from tl_active.sessions.database import StoreError
from tl_active.sessions.schema import rounds
from tl_active.sessions.session import LabellingSession
from tl_active.sessions.store import SessionStore

FEATURES = synthetic_features(400, 200, model="tinymodel")


def test_a_database_that_accepts_but_never_answers_is_reported_within_seconds(silent_server):
    url = f"postgresql+psycopg://labeller:secret@127.0.0.1:{silent_server}/tl"
    outcome: dict = {}

    def open_store() -> None:
        start = time.perf_counter()
        try:
            SessionStore(url)
        except Exception as error:  # collected: a thread's exception would otherwise vanish
            outcome["error"] = error
        outcome["seconds"] = time.perf_counter() - start

    # In a thread, so that a store which hangs fails this test instead of hanging the run.
    worker = threading.Thread(target=open_store, daemon=True)
    worker.start()
    worker.join(10)
    assert not worker.is_alive(), "opening the store still hangs after 10 s"
    error = outcome["error"]
    assert isinstance(error, TlActiveError)
    assert outcome["seconds"] < 5
    message = str(error)
    assert f"127.0.0.1:{silent_server}" in message and "timeout" in message
    assert "TL_ACTIVE_DB" in message
    assert "secret" not in message  # the password is never shown
    assert "\n" not in message


def test_a_database_whose_folder_is_a_file_says_so(tmp_path):
    blocker = tmp_path / "data"
    blocker.write_text("not a folder")
    for path in (blocker / "sessions.db", blocker / "deeper" / "sessions.db"):
        with pytest.raises(StoreError) as refused:
            SessionStore(f"sqlite:///{path}")
        message = str(refused.value)
        assert f"{blocker} is a file, not a folder" in message
        assert "TL_ACTIVE_DB" in message


@pytest.mark.parametrize(
    ("url", "needs"),
    [
        ("mysql://labeller@db.example/tl", "pip install mysqlclient"),
        ("mysql+pymysql://labeller@db.example/tl", "pip install PyMySQL"),
        ("postgresql+pg8000://labeller@db.example/tl", "pip install pg8000"),
    ],
)
def test_a_url_whose_driver_is_missing_names_the_package_to_install(url, needs):
    with pytest.raises(StoreError) as refused:
        SessionStore(url)
    message = str(refused.value)
    assert url in message and needs in message


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("nosuchdb://labeller@db.example/tl", "no database kind 'nosuchdb'"),
        ("not a url://", "is not a database URL"),
    ],
)
def test_an_unknown_kind_of_database_or_a_malformed_url_is_refused_clearly(url, reason):
    with pytest.raises(StoreError, match=reason):
        SessionStore(url)


def test_database_errors_name_the_reason_but_never_the_sql_or_its_parameters(tmp_path):
    store = SessionStore(f"sqlite:///{tmp_path / 'sessions.db'}")
    session = LabellingSession(FEATURES)
    session_id = store.create(session)
    record = session.answer_by_truth()
    with store.engine.begin() as conn:
        conn.execute(text(f"DROP TABLE {rounds.name}"))

    with pytest.raises(StoreError) as failed_write:
        store.append_round(session_id, record)
    with pytest.raises(StoreError) as failed_read:
        store.history(session_id)
    store.close()

    for error in (failed_write.value, failed_read.value):
        message = str(error)
        assert f"no such table: {rounds.name}" in message
        for leak in ("SQL", "SELECT", "INSERT", "UPDATE", "parameters", "sqlalche.me"):
            assert leak not in message
        assert "\n" not in message
