"""What the room needs from the store: every curve in one query, and sessions kept per browser."""

import sqlite3
import time

import pytest
from store_db import TEST_DB, db_url
from synthetic import synthetic_features

from tl_active.errors import TlActiveError
from tl_active.sessions.records import SessionSettings
from tl_active.sessions.session import LabellingSession
from tl_active.sessions.store import SessionStore

FEATURES = synthetic_features(400, 200, model="tinymodel")


def labelled(rounds: int, seed: int = 0) -> LabellingSession:
    session = LabellingSession(FEATURES, SessionSettings(seed=seed))
    session.auto_label(rounds)
    return session


def test_room_curves_are_the_live_rounds_of_recent_sessions(store):
    three, two = labelled(3), labelled(2, seed=1)
    first = store.create(three)
    second = store.create(two)
    store.undo_round(second, two.rounds[-1])
    points = store.room_curves(since=time.time() - 60)

    by_session = {}
    for p in points:
        by_session.setdefault(p.session_id, []).append(p)
    assert [p.number for p in by_session[first]] == [1, 2, 3]
    assert [p.number for p in by_session[second]] == [1]  # the undone round is not drawn
    assert [p.n_labels for p in by_session[first]] == [r.n_labels for r in three.rounds]
    assert [p.accuracy for p in by_session[first]] == pytest.approx(
        [r.metrics["accuracy"] for r in three.rounds]
    )
    assert by_session[first][0].settings == three.settings.as_dict()
    assert store.room_curves(since=time.time() + 60) == []


def test_recent_can_be_scoped_to_the_browser_that_made_the_sessions(store):
    mine = store.create(labelled(1), browser_id="browser-aaaaaaaa")
    theirs = store.create(labelled(1), browser_id="browser-bbbbbbbb")
    nobodys = store.create(labelled(1))

    assert [s.id for s in store.recent(browser_id="browser-aaaaaaaa")] == [mine]
    assert {s.id for s in store.recent()} == {mine, theirs, nobodys}
    assert store.recent(browser_id="browser-cccccccc") == []


def test_a_session_is_claimed_once_by_the_first_browser_that_names_itself(store):
    session_id = store.create(labelled(1))
    assert store.claim(session_id, "browser-aaaaaaaa") == "browser-aaaaaaaa"
    assert store.claim(session_id, "browser-bbbbbbbb") == "browser-aaaaaaaa"  # the first's
    assert store.claim("notstored00", "browser-bbbbbbbb") is None
    assert [s.id for s in store.recent(browser_id="browser-aaaaaaaa")] == [session_id]
    assert store.recent(browser_id="browser-bbbbbbbb") == []


def test_a_browser_id_that_is_not_one_is_refused(store):
    with pytest.raises(TlActiveError):
        store.create(labelled(1), browser_id="'; drop table sessions; --")


@pytest.mark.skipif(bool(TEST_DB), reason="builds an old SQLite file")
def test_a_database_without_browser_ids_gets_the_column_and_keeps_its_sessions(tmp_path):
    url = db_url(tmp_path)
    old = SessionStore(url)
    session_id = old.create(labelled(2))
    old.close()
    path = tmp_path / "sessions.db"
    with sqlite3.connect(path) as conn:
        conn.execute("ALTER TABLE sessions DROP COLUMN browser_id")

    reopened = SessionStore(url)
    assert [s.id for s in reopened.recent()] == [session_id]
    assert reopened.load(session_id, FEATURES).rounds[-1].n_labels == 8
    assert reopened.claim(session_id, "browser-aaaaaaaa") == "browser-aaaaaaaa"
    reopened.close()
