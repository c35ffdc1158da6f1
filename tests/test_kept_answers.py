"""Answers kept on looking again: on the session, in the store and in the manifest.

Keeping an answer changes no label, so it is no round: the session holds the (image, answer)
pairs, the store a row per pair (a database made before them gains the table), and the manifest
a `kept` list, so that a reload or an import keeps the suspicion cleared. A pair counts while
its answer is the image's live one; the rounds replay as they did.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text
from store_db import TEST_DB, db_url
from synthetic import synthetic_features

from tl_active.errors import ProtocolError, SessionFileError
from tl_active.sessions.exchange import manifest, manifest_json, read_manifest
from tl_active.sessions.records import SessionSettings
from tl_active.sessions.session import LabellingSession
from tl_active.sessions.store import SessionStore, UnknownSessionError

FEATURES = synthetic_features(400, 200, model="tinymodel")


def answered(rounds: int = 3) -> LabellingSession:
    session = LabellingSession(FEATURES, SessionSettings(strategy="diversity", seed=2))
    session.auto_label(rounds)
    return session


def test_a_kept_answer_counts_while_it_is_the_live_one():
    session = answered()
    index = int(session.labelled[0])
    given = session.answer_of(index)
    other = "negative" if given == "positive" else "positive"
    with pytest.raises(ProtocolError, match=f"answered {given!r}, not {other!r}"):
        session.keep(index, other)
    unanswered = next(i for i in range(400) if session.answer_of(i) is None)
    with pytest.raises(ProtocolError, match="has not been answered"):
        session.keep(unanswered, given)
    assert session.kept == set()

    session.keep(index, given)
    assert session.kept == {(index, given)} and session.kept_now() == {index}
    session.correct(index, other)
    assert session.kept_now() == set()  # a new answer is judged afresh
    session.undo()
    assert session.kept_now() == {index}  # the kept answer is back, and so is its keeping


def test_the_manifest_carries_kept_answers_and_the_rounds_replay_as_before():
    session = answered()
    before = manifest(session)
    assert "kept" not in before  # a session that kept nothing writes what it always did
    index = int(session.labelled[1])
    session.keep(index, session.answer_of(index))
    data = manifest(session)
    assert data["kept"] == [[index, session.answer_of(index)]]
    assert data["rounds"] == before["rounds"]

    imported = read_manifest(manifest_json(session), FEATURES)
    assert imported.kept == session.kept and imported.kept_now() == {index}
    assert imported.to_dict()["rounds"] == session.to_dict()["rounds"]


@pytest.mark.parametrize(
    "kept, why",
    [
        ({"3": "positive"}, "kept answers are not a list"),
        ([[3]], "keeps [3], which is not an image of this pool"),
        ([[3, "maybe"]], "keeps [3, 'maybe'], which is not an image of this pool"),
        ([[400_000, "positive"]], "keeps [400000, 'positive']"),
        ([[True, "positive"]], "keeps [True, 'positive']"),
    ],
)
def test_a_manifest_with_damaged_kept_answers_is_refused_in_one_line(kept, why):
    data = manifest(answered())
    data["kept"] = kept
    with pytest.raises(SessionFileError, match=why.replace("[", r"\[")) as refused:
        read_manifest(json.dumps(data), FEATURES)
    assert "\n" not in str(refused.value)


def test_a_control_character_in_a_kept_answer_is_refused_as_any_text():
    data = manifest(answered())
    data["kept"] = [[3, "posi\x1btive"]]
    with pytest.raises(SessionFileError, match="kept"):
        read_manifest(json.dumps(data), FEATURES)


def test_the_store_keeps_an_answer_across_a_reload_and_an_import(tmp_path, store):
    session = answered()
    session_id = store.create(session)
    index = int(session.labelled[2])
    given = session.answer_of(index)
    store.keep_answer(session_id, index, given)
    store.keep_answer(session_id, index, given)  # twice: one row
    assert store.session_dict(session_id)["kept"] == [[index, given]]
    assert store.round_count(session_id) == 3  # no round, no version moved

    fresh = SessionStore(db_url(tmp_path))
    loaded = fresh.load(session_id, FEATURES)
    assert loaded.kept_now() == {index}
    assert loaded.to_dict()["rounds"] == session.to_dict()["rounds"]
    # `create` stores what the session kept (a manifest's import goes through it).
    copy = fresh.import_manifest(manifest_json(loaded), FEATURES)
    assert fresh.load(copy, FEATURES).kept == {(index, given)}
    fresh.delete(copy)
    assert fresh.session_dict(session_id)["kept"] == [[index, given]]
    fresh.close()

    with pytest.raises(UnknownSessionError, match="no stored session"):
        store.keep_answer("nosuchsession", index, given)


@pytest.mark.skipif(bool(TEST_DB), reason="SQLite settings")
def test_a_database_made_before_kept_answers_gains_their_table(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = SessionStore(url)
    session = answered(2)
    session_id = store.create(session)
    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE kept_answers"))
    store.close()

    upgraded = SessionStore(url)
    assert "kept" not in upgraded.session_dict(session_id)
    index = int(session.labelled[0])
    upgraded.keep_answer(session_id, index, session.answer_of(index))
    assert upgraded.load(session_id, FEATURES).kept_now() == {index}
    upgraded.close()


def test_a_session_continued_on_other_features_keeps_what_was_kept():
    session = answered()
    index = int(session.labelled[0])
    session.keep(index, session.answer_of(index))
    other = synthetic_features(400, 200, seed=1, model="othermodel")
    continued = session.continued_on(other, session.settings)
    assert continued.kept == session.kept and continued.kept_now() == {index}
