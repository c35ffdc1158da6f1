"""The Label page's Look again panel under AppTest, on the real cached features of `mnist-cnn`.

A wrong answer planted among right ones is offered first, with its image, the answer given,
the suggestion and why (on MNIST, and on a folder by path and class name); one click makes the correction round, which is stored, exported (the
labels CSV marks it) and replayed like any other; keeping an answer clears its suspicion, and
it stays cleared after a reload (stored) and an export and import (the manifest); a keep the
store refuses leaves the suspect and says why.
"""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest
from grid_apptest import submit_grid
from image_folders import write_class_folder
from streamlit.testing.v1 import AppTest
from test_app import session, truth
from test_app_folder_kind import APP, mnist_words, plain, settle
from test_app_sessions import auto_label, open_app, url_id

from tl_active import paths
from tl_active.errors import TlActiveError
from tl_active.sessions.exchange import labels_csv, manifest, manifest_json
from tl_active.sessions.session import LabellingSession
from tl_active.sessions.store import SessionStore
from tl_active.sessions.suspects import find_suspects
from ui import keys

pytestmark = [pytest.mark.model, pytest.mark.usefixtures("app_db")]


def plant_wrong_answer(at) -> int:
    """Answer the first batch right but for its clearest image (the CNN's surest), flipped;
    then 8 rounds answered by MNIST's truth. (The first batch is one typical image per digit;
    later ones are where the CNN itself is unsure, which no witness can judge.)"""
    s = session(at)
    picks = s.next_batch()
    answers = truth(at)
    sure = [float(s.features.pool[p.index].max()) for p in picks]
    k = int(np.argmax(sure))
    answers[k] = {"positive": "negative", "negative": "positive"}[answers[k]]
    submit_grid(at, len(s.rounds) + 1, answers)
    assert not at.exception, [e.value for e in at.exception]
    auto_label(at, 8)
    return picks[k].index


def open_panel(at) -> None:
    at.button(key=keys.LOOK_TOGGLE).click().run()
    assert not at.exception, [e.value for e in at.exception]


def test_a_suspect_fixed_from_the_panel_is_stored_exported_and_replayed(store):
    at = open_app()
    index = plant_wrong_answer(at)
    given = session(at).answer_of(index)
    open_panel(at)
    fixes = [b for b in at.button if b.key.startswith("look_fix_")]
    assert fixes and fixes[0].key == f"look_fix_{index}"
    right = {"positive": "Odd", "negative": "Even"}[session(at).truth([index])[0]]
    assert fixes[0].label == f"Make it {right}"
    line = next(c.value for c in at.caption if c.value.startswith(f"image {index}:"))
    assert f"you said {'Odd' if given == 'positive' else 'Even'}" in line
    assert line.endswith(f"nearest labelled neighbours say {right}")
    assert at.button(key=f"look_keep_{index}").label.startswith("Keep ")

    fixes[0].click().run()
    assert not at.exception, [e.value for e in at.exception]
    s = session(at)
    assert s.answer_of(index) == s.truth([index])[0]
    last = s.rounds[-1]
    assert last.is_correction and last.looked_again and last.indices == [index]
    # Stored: a new tab on the session's link has the same correction round.
    session_id = url_id(at)
    assert store.round_count(session_id) == len(s.rounds) == 10
    reopened = session(open_app(session_id))
    assert reopened.rounds[-1].looked_again and reopened.answer_of(index) == s.answer_of(index)
    # Exported: the labels CSV marks the correction, and only it.
    rows = list(csv.DictReader(io.StringIO(labels_csv(s))))
    marked = [r for r in rows if r["looked_again"] == "True"]
    assert [(int(r["pool_index"]), r["round"]) for r in marked] == [(index, "10")]
    assert next(r for r in rows if int(r["pool_index"]) == index)["status"] == "corrected"
    # Replayed: the manifest rebuilds the session, every recorded head checked.
    replayed = LabellingSession.from_dict(manifest(s), s.features)
    assert replayed.rounds[-1].looked_again
    assert replayed.live_answers() == s.live_answers()


def test_keeping_an_answer_clears_its_suspicion_and_a_reload_keeps_it_cleared(store):
    at = open_app()
    index = plant_wrong_answer(at)
    given = session(at).answer_of(index)
    open_panel(at)
    rounds = len(session(at).rounds)
    at.button(key=f"look_keep_{index}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert f"look_fix_{index}" not in [b.key for b in at.button]
    assert len(session(at).rounds) == rounds  # nothing changed but the suspicion
    session_id = url_id(at)
    assert store.round_count(session_id) == rounds
    assert store.session_dict(session_id)["kept"] == [[index, given]]

    # Reloaded: a new tab on the session's link reads the kept answer from the store.
    again = open_app(session_id)
    assert session(again).kept == {(index, given)}
    open_panel(again)
    assert f"look_fix_{index}" not in [b.key for b in again.button]
    # Still a suspect to the witnesses, who do not know what was kept: only the panel hides it.
    assert index in [s.index for s in find_suspects(session(again))]

    # Exported and imported: the manifest carries it, and a new session from it keeps it.
    imported = store.import_manifest(manifest_json(session(again)), session(again).features)
    assert store.load(imported, session(again).features).kept_now() == {index}


def test_on_a_folder_the_panel_names_images_by_path_and_answers_by_class(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "CACHE_DIR", tmp_path / "cache")
    folder = write_class_folder(tmp_path / "mine", {"eight": (8, 20), "three": (3, 20)})
    monkeypatch.setenv("TL_ACTIVE_IMAGES", str(folder))
    at = settle(AppTest.from_file(APP, default_timeout=180).run())
    s = session(at)
    picks = s.next_batch()
    answers = s.truth([p.index for p in picks])
    answers[0] = "three" if answers[0] == "eight" else "eight"
    settle(submit_grid(at, 1, answers))
    auto_label(at, 3)
    open_panel(at)
    planted = picks[0].index
    path = s.features.kind.short_name(planted)
    fix = at.button(key=f"look_fix_{planted}")
    assert fix.label == f"Make it {s.truth([planted])[0]}"
    line = next(plain(c.value) for c in at.caption if c.value.startswith(path.split("/")[0]))
    assert line.startswith(f"{path}: you said {answers[0]}; ")
    assert mnist_words(at) == []
    settle(fix.click().run())
    rows = list(csv.DictReader(io.StringIO(labels_csv(session(at)))))
    assert [r["path"] for r in rows if r["looked_again"] == "True"] == [path]


def test_a_keep_the_store_refuses_leaves_the_suspect_and_says_so(store, monkeypatch):
    at = open_app()
    index = plant_wrong_answer(at)
    open_panel(at)

    def refuse(self, *args):
        raise TlActiveError("the session store is read-only")

    monkeypatch.setattr(SessionStore, "keep_answer", refuse)
    at.button(key=f"look_keep_{index}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert plain(at.error[0].value) == (
        "Your answer could not be kept, so it is still a suspect: the session store is read-only"
    )
    assert session(at).kept == set()
    assert f"look_fix_{index}" in [b.key for b in at.button]
    assert "kept" not in store.session_dict(url_id(at))
