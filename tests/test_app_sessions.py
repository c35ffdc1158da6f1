"""Sessions that outlive the tab, driven through the app with AppTest: each on a fresh database.

Resume from `?session=<id>`, refuse unknown or malformed ids, reopen from the recent list, export
(the files the download buttons would serve), import good and bad manifests, and two tabs on one
session. Two `AppTest`s in one process share the app's cached store, as two tabs share a server.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np
import pytest
from grid_apptest import grid_props_of, submit_grid
from streamlit.runtime.media_file_manager import MediaFileManager
from streamlit.testing.v1 import AppTest
from test_app import answer_all_truthfully, progress, session, truth

from tl_active.sessions.exchange import manifest_json
from tl_active.sessions.store import SessionStore
from ui import keys
from ui.support import escape_markdown, features_for

pytestmark = [pytest.mark.model, pytest.mark.usefixtures("app_db")]

TEST_BROWSER = "test-browser-0001"
APP = str(Path(__file__).resolve().parent.parent / "app.py")


def open_app(session_id: str | None = None) -> AppTest:
    """A new tab: the app opened at `/?session=<id>`, or at `/`."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[keys.BROWSER_ID] = TEST_BROWSER  # as if the page had said it
    if session_id is not None:
        at.query_params["session"] = session_id
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def url_id(at: AppTest) -> str:
    return at.query_params["session"]


def submit_truthfully(at: AppTest) -> None:
    answer_all_truthfully(at)


def auto_label(at: AppTest, n: int) -> None:
    at.number_input(key="auto_rounds").set_value(n)
    at.button(key="auto_label").click().run()
    assert not at.exception, [e.value for e in at.exception]


def click_label(at: AppTest, label: str) -> None:
    at.button[[b.label for b in at.button].index(label)].click().run()


@pytest.fixture
def store(app_db) -> SessionStore:
    s = SessionStore(app_db)
    yield s
    s.close()


@pytest.fixture
def served_files(monkeypatch) -> dict:
    """What each download button built on demand would serve, by file name."""
    made = {}
    original = MediaFileManager.add_deferred

    def record(self, data_callable, mimetype, coordinates, file_name=None, **kwargs):
        made[file_name] = data_callable
        return original(self, data_callable, mimetype, coordinates, file_name, **kwargs)

    monkeypatch.setattr(MediaFileManager, "add_deferred", record)
    return made


def test_each_round_is_stored_and_the_url_resumes_the_session(store):
    first = open_app()
    assert "session" not in first.query_params  # nothing stored before the first answer
    assert store.recent(100) == []
    submit_truthfully(first)
    session_id = url_id(first)
    assert first.session_state[keys.SESSION_ID] == session_id
    assert [s.id for s in store.recent(100)] == [session_id]
    assert store.round_count(session_id) == 1
    auto_label(first, 2)
    assert store.round_count(session_id) == 3
    first.button(key="undo").click().run()
    assert store.round_count(session_id) == 2
    assert [h.undone for h in store.history(session_id)] == [False, False, True]

    # A new tab (or a refresh) on the same URL finds the same session, charts and history.
    second = open_app(session_id)
    assert url_id(second) == session_id
    theirs, ours = session(first), session(second)
    assert progress(second) == progress(first)
    assert progress(second).startswith("**8 labels** in **2 rounds** (1 auto-labelled)")
    assert [r.indices for r in ours.rounds] == [r.indices for r in theirs.rounds]
    np.testing.assert_allclose(ours.head.coef_, theirs.head.coef_, atol=1e-9)
    history = second.dataframe[0].value
    assert history["answered by"].tolist() == ["MNIST (auto)"] * 4 + ["person"] * 4


@pytest.mark.parametrize(
    ("bad_id", "reason"),
    [
        ("abcdefgh12345678", "there is no stored session 'abcdefgh12345678'"),
        ("../../etc/passwd", "is not a session id"),
        ("x", "is not a session id"),
    ],
)
def test_an_unknown_or_malformed_id_says_so_and_starts_a_fresh_session(store, bad_id, reason):
    at = open_app(bad_id)
    message = at.error[0].value
    assert message.startswith("That session link cannot be opened")
    # The reason quotes the link, so it is shown escaped.
    assert escape_markdown(reason) in message and message.endswith("A fresh session was started.")
    assert "session" not in at.query_params  # the bad link is gone from the address
    assert session(at).rounds == []
    assert progress(at).startswith("**0 labels** in **0 rounds**")
    assert store.recent(100) == []  # a visit, even on a bogus link, stores nothing
    submit_truthfully(at)
    assert [s.id for s in store.recent(100)] == [url_id(at)]


def test_the_recent_list_reopens_an_earlier_session_and_updates_the_url(store):
    at = open_app()
    auto_label(at, 3)
    earlier = url_id(at)
    at.selectbox(key="set_strategy").set_value("random")
    at.button(key="new_session").click().run()
    click_label(at, "Start it")
    assert "session" not in at.query_params and session(at).rounds == []
    assert session(at).settings.strategy == "random"
    auto_label(at, 1)  # stored at its first round
    later = url_id(at)
    assert later != earlier

    listed = {b.key: b for b in at.sidebar.button if (b.key or "").startswith("reopen_")}
    assert listed[f"reopen_{later}"].disabled  # this session, marked
    assert listed[f"reopen_{earlier}"].label.startswith(
        escape_markdown("odd, diversity, batch 4, converge, seed 0 (mnist-cnn/digits)")
        + ": 3 rounds, 12 labels, "
    )
    listed[f"reopen_{earlier}"].click().run()
    assert url_id(at) == earlier and at.session_state[keys.SESSION_ID] == earlier
    assert len(session(at).rounds) == 3
    assert at.toast[0].value == f"Reopened session {earlier}: 3 rounds."
    # The sidebar's settings follow the session opened.
    assert at.selectbox(key="set_strategy").value == "diversity"
    assert progress(at).startswith("**12 labels** in **3 rounds**")


def test_exports_hold_the_labels_with_undone_rounds_the_manifest_and_the_head(served_files):
    at = open_app()
    submit_truthfully(at)
    session_id = url_id(at)
    undone = session(at).rounds[0]
    at.button(key="undo").click().run()
    auto_label(at, 2)
    s = session(at)
    files = {
        name.removeprefix(f"tl-active-{session_id}"): build for name, build in served_files.items()
    }
    assert {"-labels.csv", ".json", "-head.keras", "tl-active-evolution.gif"} <= set(files)

    rows = list(csv.DictReader(io.StringIO(files["-labels.csv"]())))
    live = [r for r in rows if r["status"] == "live"]
    taken_back = [r for r in rows if r["status"] == "undone"]
    assert [int(r["pool_index"]) for r in live] == [i for r in s.rounds for i in r.indices]
    assert [int(r["pool_index"]) for r in taken_back] == undone.indices
    assert {r["round"] for r in taken_back} == {"1"}
    assert all(r["agrees"] == "True" for r in rows)  # every answer given was MNIST's own
    assert [int(r["true_digit"]) for r in live[:4]] == [
        int(features_for("mnist-cnn", "digits").y_pool[i]) for i in s.rounds[0].indices
    ]

    manifest = json.loads(files[".json"]())
    assert manifest["format"] == "tl-active-session"
    assert manifest["settings"] == s.settings.as_dict()
    assert [r["indices"] for r in manifest["rounds"]] == [r.indices for r in s.rounds]
    assert manifest["model_checksum"] == features_for("mnist-cnn", "digits").model_checksum

    keras_file = files["-head.keras"]()
    assert keras_file[:2] == b"PK"  # a .keras file is a zip archive


def test_importing_a_manifest_replays_it_as_a_new_session(store):
    source = open_app()
    auto_label(source, 2)
    submit_truthfully(source)
    original = session(source)
    raw = manifest_json(original).encode()

    at = open_app()
    auto_label(at, 1)
    before = url_id(at)
    at.file_uploader(key="import_file").set_value(("mine.json", raw, "application/json")).run()
    assert not at.exception
    imported = url_id(at)
    assert imported not in (before, url_id(source))
    assert at.toast[0].value.startswith(
        f"Imported {escape_markdown('mine.json')}: 3 rounds replayed"
    )
    assert store.round_count(imported) == 3
    s = session(at)
    np.testing.assert_allclose(s.head.coef_, original.head.coef_, atol=1e-9)
    assert [r.simulated for r in s.rounds] == [True, True, False]
    assert progress(at).startswith("**12 labels** in **3 rounds** (2 auto-labelled)")


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"\x89PNG\r\n\x1a\n not json", "not JSON"),
        (b'{"hello": "world"}', "not a tl-active session manifest"),
        ("other-model", "made with another network"),
        ("damaged-round", "round 1 of the manifest"),
    ],
)
def test_a_bad_manifest_is_refused_and_nothing_is_written(store, content, reason):
    at = open_app()
    auto_label(at, 1)
    if isinstance(content, str):
        data = session(at).to_dict()
        if content == "other-model":
            data["model_checksum"] = "0" * 64
        else:
            data["rounds"][0]["indices"] = [-1, 2, 3, 4]
        content = json.dumps(data).encode()
    here = url_id(at)
    before = [(s.id, s.n_rounds) for s in store.recent(100)]
    at.file_uploader(key="import_file").set_value(("theirs.json", content, "application/json"))
    at.run()
    assert not at.exception
    message = at.error[0].value
    assert message.startswith(
        f"{escape_markdown('theirs.json')} was not imported, nothing was stored:"
    )
    assert escape_markdown(reason) in message
    assert url_id(at) == here
    assert [(s.id, s.n_rounds) for s in store.recent(100)] == before


def test_a_tab_left_behind_is_told_and_reloads_and_no_round_is_lost_or_doubled(store):
    ahead = open_app()
    auto_label(ahead, 1)  # stored from the first round on
    session_id = url_id(ahead)
    behind = open_app(session_id)

    # Both tabs answer the same batch; the first to submit wins.
    given = truth(behind)
    submit_truthfully(ahead)
    submit_grid(behind, 2, given)
    assert not behind.exception
    assert behind.toast[0].value.startswith(
        "This session changed in another tab or window; round 2 was not stored: reloaded, "
        "now 2 rounds as stored."
    )
    assert store.round_count(session_id) == 2
    assert [h.record.number for h in store.history(session_id)] == [1, 2]
    assert progress(behind).startswith("**8 labels** in **2 rounds**")

    # A plain rerun notices rounds stored elsewhere, too.
    auto_label(behind, 2)
    ahead.run()
    assert ahead.toast[0].value == (
        "This session changed in another tab or window: reloaded, now 4 rounds as stored."
    )
    assert len(session(ahead).rounds) == 4
    # An undo from the tab that is behind is refused, and it reloads.
    behind.button(key="undo").click().run()  # now 3 rounds stored, the other tab still has 4
    ahead.button(key="undo").click().run()
    assert ahead.toast[0].value.startswith(
        "This session changed in another tab or window; nothing was undone"
    )
    assert store.round_count(session_id) == 3 and len(session(ahead).rounds) == 3
    numbers = [(h.record.number, h.undone) for h in store.history(session_id)]
    assert numbers == [(1, False), (2, False), (3, False), (4, True)]


def test_a_failed_write_takes_the_round_back_and_keeps_the_answers(monkeypatch, store):
    from sqlalchemy.exc import OperationalError

    at = open_app()
    auto_label(at, 1)
    session_id = url_id(at)
    given = truth(at)

    def refuse(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    with monkeypatch.context() as patched:
        patched.setattr(SessionStore, "append_round", refuse)
        submit_grid(at, 2, given)
    assert not at.exception
    assert at.error[0].value.startswith("Round 2 could not be stored, so it was taken back")
    assert len(session(at).rounds) == 1 and store.round_count(session_id) == 1
    assert grid_props_of(at)["answers"] == given  # back on the tiles
    # The database is back: the same answers submitted again are stored.
    submit_grid(at, 2, given)
    assert store.round_count(session_id) == 2 and len(session(at).rounds) == 2


def test_the_first_answer_stores_the_session_and_a_failed_first_write_stores_nothing(
    monkeypatch, store
):
    from sqlalchemy.exc import OperationalError

    at = open_app()
    given = truth(at)

    def refuse(*args, **kwargs):
        raise OperationalError("INSERT", {}, Exception("disk I/O error"))

    with monkeypatch.context() as patched:
        patched.setattr(SessionStore, "create", refuse)
        submit_grid(at, 1, given)
    assert at.error[0].value.startswith("The session store cannot be written")
    assert session(at).rounds == [] and store.recent(100) == []
    assert "session" not in at.query_params
    submit_grid(at, 1, given)
    assert [(s.id, s.n_rounds) for s in store.recent(100)] == [(url_id(at), 1)]


def test_a_label_changed_through_the_history_is_stored_and_reopens(store):
    at = open_app()
    given = truth(at)
    submit_grid(at, 1, given)
    session_id = url_id(at)
    index = session(at).rounds[0].indices[2]
    new = {"positive": "negative", "negative": "positive"}[given[2]]
    at.selectbox(key=keys.FIX_IMAGE).set_value(index).run()
    # The image being changed is shown beside the picker, with its answer now.
    word_now = {"positive": "Odd", "negative": "Even"}[given[2]]
    shown = [image.proto.imgs[0] for image in at.get("image")]
    assert [image.caption for image in shown] == [f"now {word_now}"]
    assert shown[0].url  # the image itself, as the batch showed it
    # Named as the history table names it: one form of the number everywhere.
    assert (
        at.selectbox(key=keys.FIX_IMAGE).format_func(index) == f"pool image {index}: now {word_now}"
    )
    at.segmented_control(key=keys.FIX_ANSWER).set_value(new)
    at.button[[b.label for b in at.button].index("Change this label")].click().run()
    assert not at.exception
    assert session(at).answer_of(index) == new
    # The image and the answer as the page names them (odd is the positive answer).
    word = {"positive": "Odd", "negative": "Even"}[new]
    assert at.toast[0].value.startswith(f"Changed: image {index} is now {word} (round 2)")
    history = at.dataframe[0].value
    assert history["answered by"].tolist()[0] == "person, correction"
    # The form starts again from the newest image (the one just changed), no answer chosen.
    assert at.selectbox(key=keys.FIX_IMAGE).value == index
    assert at.segmented_control(key=keys.FIX_ANSWER).value is None
    # Stored as a round of its own: the session's link shows the corrected label.
    assert store.round_count(session_id) == 2
    reopened = open_app(session_id)
    assert session(reopened).answer_of(index) == new
    assert session(reopened).rounds[-1].is_correction
    # After the next round, the form offers that round's first image.
    submit_grid(at, 3, truth(at))
    assert at.selectbox(key=keys.FIX_IMAGE).value == session(at).rounds[-1].indices[0]


def test_check_my_labels_fixes_a_wrong_answer_in_one_click(store):
    at = open_app()
    answers = truth(at)
    answers[0] = {"positive": "negative", "negative": "positive"}[answers[0]]
    submit_grid(at, 1, answers)
    at.button(key="check").click().run()
    assert at.warning[0].value.startswith("1 of your 4 answers disagree")
    index = session(at).rounds[0].indices[0]
    at.button(key=f"fix_{index}").click().run()
    assert not at.exception
    assert session(at).disagreements() == []
    assert progress(at).startswith("**4 labels** in **2 rounds**")
    reopened = open_app(url_id(at))
    assert session(reopened).disagreements() == []
    assert store.round_count(url_id(at)) == 2
