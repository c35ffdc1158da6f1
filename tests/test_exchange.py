"""Export and import: labels CSV, the session manifest and its replay, the head as `.keras`."""

import csv
import io
import json
import os
import time

import numpy as np
import pytest
from old_formats import as_version_1
from sqlalchemy import func, select
from synthetic import synthetic_features

from tl_active.core.task import Task
from tl_active.errors import SessionFileError
from tl_active.sessions.exchange import (
    LABEL_COLUMNS,
    head_keras_bytes,
    labels_csv,
    manifest,
    manifest_json,
    read_manifest,
    read_manifest_file,
)
from tl_active.sessions.records import SessionSettings
from tl_active.sessions.schema import rounds, sessions
from tl_active.sessions.session import LabellingSession
from tl_active.sessions.store import SessionStore

FEATURES = synthetic_features(400, 200, model="tinymodel")


def labelled_session(n_rounds: int = 5, **settings) -> LabellingSession:
    session = LabellingSession(FEATURES, SessionSettings(**settings))
    for number in range(n_rounds):
        picks = session.next_batch()
        answers = session.truth([p.index for p in picks])
        if number == 1:
            answers[0] = "skip"
        if number == 2:  # one wrong answer, so the CSV has a disagreement
            answers[1] = "negative" if answers[1] == "positive" else "positive"
        session.submit(answers)
    return session


def stored_rows(store: SessionStore) -> tuple[int, int]:
    with store.engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(sessions)).scalar_one(),
            conn.execute(select(func.count()).select_from(rounds)).scalar_one(),
        )


def test_labels_csv_has_one_row_per_answer_with_the_ground_truth():
    session = labelled_session()
    rows = list(csv.DictReader(io.StringIO(labels_csv(session))))
    assert tuple(rows[0]) == LABEL_COLUMNS
    assert len(rows) == 5 * 4
    assert [int(r["pool_index"]) for r in rows] == [i for r in session.rounds for i in r.indices]
    assert [int(r["round"]) for r in rows] == [n for n in range(1, 6) for _ in range(4)]
    for row in rows:
        digit = int(FEATURES.y_pool[int(row["pool_index"])])
        assert int(row["true_digit"]) == digit
        if row["answer"] == "skip":
            assert row["agrees"] == ""
        else:
            assert row["agrees"] == str((row["answer"] == "positive") == (digit % 2 == 1))
        assert row["status"] == "live" and row["answered_at"].endswith("+00:00")
    assert [r["agrees"] for r in rows].count("False") == 1
    assert [r["answer"] for r in rows].count("skip") == 1
    no_skips = list(csv.DictReader(io.StringIO(labels_csv(session, include_skips=False))))
    assert len(no_skips) == 19


def test_labels_csv_can_show_rounds_taken_back(store):
    session = labelled_session(3)
    session_id = store.create(session)
    store.undo_round(session_id, session.rounds[-1])
    session.undo()
    undone = [h.record for h in store.history(session_id) if h.undone]
    rows = list(csv.DictReader(io.StringIO(labels_csv(session, undone=undone))))
    assert [r["status"] for r in rows] == ["live"] * 8 + ["undone"] * 4
    assert {r["round"] for r in rows if r["status"] == "undone"} == {"3"}


def test_a_manifest_replays_to_the_same_head_weights(store):
    session = labelled_session(8, strategy="committee", seed=11, head_mode="demo")
    raw = manifest_json(session)
    data = json.loads(raw)
    assert data["settings"]["seed"] == 11 and data["model_checksum"] == "tinymodel"
    assert len(data["rounds"]) == 8 and "exported_at" in data

    replayed = read_manifest(raw.encode(), FEATURES)
    assert np.array_equal(replayed.head.coef_, session.head.coef_)
    assert replayed.head.intercept_ == session.head.intercept_
    assert replayed.head.state_.adam_t == session.head.state_.adam_t == 8
    assert [r.weights for r in replayed.rounds] == [r.weights for r in session.rounds]

    session_id = store.import_manifest(raw, FEATURES)
    loaded = store.load(session_id, FEATURES)
    assert loaded.to_dict() == session.to_dict()
    assert manifest(loaded)["rounds"] == data["rounds"]


def _tampered(change) -> str:
    data = manifest(labelled_session(3))
    change(data)
    return json.dumps(data)


def _set(path, value):
    def change(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return change


REFUSED = {
    "not json": (b"\x89PNG\r\n\x1a\n not a manifest", "not JSON"),
    "not utf-8": ("ok".encode("utf-16"), "not JSON"),
    "a json list": ("[1, 2, 3]", "not a tl-active session manifest"),
    "foreign json": ('{"format": "something-else", "rounds": []}', "not a tl-active"),
    "another version": (_tampered(_set(["version"], 99)), "version 99"),
    "another model": (_tampered(_set(["model_checksum"], "0123abcd")), "another network"),
    "no rounds": (_tampered(_set(["rounds"], "none")), "no list of rounds"),
    "bad settings": (
        _tampered(_set(["settings", "strategy"], "psychic")),
        "settings are not valid",
    ),
    "no settings": (_tampered(_set(["settings"], None)), "no settings"),
    "index out of range": (_tampered(_set(["rounds", 1, "indices", 0], 10**6)), "outside 0..399"),
    "negative index": (_tampered(_set(["rounds", 0, "indices", 2], -1)), "outside"),
    "index as text": (_tampered(_set(["rounds", 0, "indices", 0], "7")), "list of int"),
    "answers too short": (_tampered(_set(["rounds", 2, "answers"], ["positive"])), "1 answers"),
    "unknown answer": (_tampered(_set(["rounds", 0, "answers", 0], "maybe")), "answers must"),
    "round missing a field": (_tampered(lambda d: d["rounds"][0].pop("weights")), "lacks weights"),
    "rounds out of order": (_tampered(_set(["rounds", 1, "number"], 3)), "numbered 3"),
    "tampered weights": (
        _tampered(_set(["rounds", 2, "weights", 0, 0], 9.0)),
        "other head weights",
    ),
    "a repeated image": (
        _tampered(lambda d: d["rounds"][1]["indices"].__setitem__(0, d["rounds"][0]["indices"][0])),
        "already answered",
    ),
    "not a number": (_tampered(_set(["rounds", 0, "bias"], "NaN")), "bias must be a list of float"),
    "an integer of 5,000 digits": (
        _tampered(_set(["settings", "seed"], 0)).replace('"seed": 0', '"seed": ' + "9" * 5000),
        "not JSON",
    ),
    "an infinite seed": (
        _tampered(_set(["settings", "seed"], 0)).replace('"seed": 0', '"seed": Infinity'),
        "not JSON",
    ),
    "a time in the year 10^292": (
        _tampered(_set(["rounds", 0, "answered_at"], 1e300)),
        "between 1970 and 2100",
    ),
    "no weights recorded": (_tampered(_set(["rounds", 1, "weights"], [])), "weights must be"),
    "a round larger than its batch": (
        _tampered(lambda d: d["rounds"][0]["indices"].append(399)),
        "each round of this session has 4",
    ),
    "more rounds than the pool holds": (
        _tampered(lambda d: d["rounds"].extend(d["rounds"][-1:] * 100)),
        "at most 100 rounds of 4",
    ),
    # Found by tests/test_manifest_fuzz.py: each was imported, or refused in a way it should not.
    "metrics without accuracy": (
        _tampered(lambda d: d["rounds"][0]["metrics"].pop("accuracy")),
        "metrics must give accuracy, precision, recall, f1",
    ),
    "a histogram of 19 bins": (
        _tampered(lambda d: d["rounds"][1]["p_histogram"].pop()),
        "p_histogram must count the 400 pool images in 20 bins",
    ),
    "the mean p of 9 classes": (
        _tampered(lambda d: d["rounds"][2]["mean_p_by_class"].pop()),
        "mean_p_by_class must hold 10 numbers",
    ),
    "a label count the answers do not make": (
        _tampered(_set(["rounds", 1, "n_labels"], 10**9)),
        "counts 1000000000 labels so far; its answers make 7",
    ),
    "a field no round has": (_tampered(_set(["rounds", 0, "note"], "hi")), "fields no round has"),
    "a key no manifest has": (_tampered(_set(["comment"], "hi")), "which no manifest has"),
    "a name twice in one object": (
        _tampered(lambda d: None).replace('"seed": 0', '"seed": 0, "seed": 1'),
        "names 'seed' twice in one object",
    ),
    "a weight of 2**64 + 1": (
        _tampered(_set(["rounds", 0, "weights", 0, 3], 2**64 + 1)),
        "weights must be the head's weights",
    ),
    "a backbone that is not text": (
        _tampered(_set(["settings", "backbone"], 5)),
        "backbone must be text, not 5",
    ),
    "a backbone with a line break": (
        _tampered(_set(["settings", "backbone"], "mnist-cnn\n[link](https://evil.example)")),
        "backbone must be a name or a path of 1 to 4,096 printable characters",
    ),
    "a batch size of 4.0": (
        _tampered(_set(["settings", "batch_size"], 4.0)),
        "batch_size must be a whole number, not 4.0",
    ),
    "a seed of true": (_tampered(_set(["settings", "seed"], True)), "seed must be a whole number"),
    "a seed of 2**64": (
        _tampered(_set(["settings", "seed"], 2**64)),
        "seed must be a whole number",
    ),
    "classes out of order": (
        _tampered(_set(["settings", "task", "classes"], [3, 1, 5, 7, 9])),
        "in increasing order",
    ),
    "classes named as text": (
        _tampered(_set(["settings", "task", "classes"], ["1", "3", "5", "7", "9"])),
        "classes must be whole numbers",
    ),
    "every class positive": (
        _tampered(_set(["settings", "task", "classes"], list(range(10)))),
        "must leave some classes negative",
    ),
    "a class the data does not have": (
        _tampered(_set(["settings", "task", "classes"], [-1])),
        r"classes \[-1\] are not in this data set",
    ),
    "a setting no session has": (
        _tampered(_set(["settings", "colour"], "blue")),
        "'colour'] is not one of them",
    ),
    "version 1 with today's settings": (
        _tampered(lambda d: d.update(version=1, rounds=[])),
        "settings must name target, strategy",
    ),
    "a lone surrogate in a reason": (
        _tampered(_set(["rounds", 1, "reasons", 0], "\ud800")),
        r"round 2 of the manifest: reasons is not well-formed Unicode \(a lone surrogate",
    ),
    "a NUL in a reason": (
        _tampered(_set(["rounds", 0, "reasons", 2], "closest\x00")),
        r"round 1 of the manifest: reasons holds a control character \(U\+0000\)",
    ),
    "a right-to-left override in a reason": (
        _tampered(_set(["rounds", 2, "reasons", 0], "\u202eclosest")),
        r"round 3 of the manifest: reasons holds a control character \(U\+202E\)",
    ),
    "a reason of 201 characters": (
        _tampered(_set(["rounds", 0, "reasons", 0], "x" * 201)),
        "reasons is 201 characters long; at most 200 are taken",
    ),
    "a lone surrogate in the folder's path": (
        _tampered(_set(["settings", "images"], "/home/me/\udcff")),
        r"the manifest's settings: images is not well-formed Unicode",
    ),
    "a terminal escape in exported_at": (
        _tampered(_set(["exported_at"], "\x1b[2J")),
        r"the manifest's exported_at holds a control character \(U\+001B\)",
    ),
    # A database keeps whole numbers in 64 bits: this one would come back as a float.
    "a rank past 64 bits": (
        _tampered(_set(["rounds", 0, "ranks", 0], -(2**63) - 1)),
        "ranks must be a list of int values",
    ),
}


@pytest.mark.parametrize("name", REFUSED)
def test_a_bad_manifest_is_refused_and_nothing_is_written(store, name):
    raw, message = REFUSED[name]
    before = stored_rows(store)
    with pytest.raises(SessionFileError, match=message):
        store.import_manifest(raw, FEATURES)
    assert stored_rows(store) == before == (0, 0)


@pytest.mark.parametrize("field", ["strategy", "head_mode", "layer", "backbone"])
def test_a_huge_name_in_the_settings_is_refused_in_a_short_message(field):
    raw = _tampered(_set(["settings", field], "x" * 100_000))
    with pytest.raises(SessionFileError) as refused:
        read_manifest(raw, FEATURES)
    assert "xxx..." in str(refused.value) or "4,096" in str(refused.value)
    assert len(str(refused.value)) < 200


def test_a_version_1_manifest_still_imports():
    session = labelled_session(3, seed=2)
    data = manifest(session)
    as_version_1(data, seed=2)
    imported = read_manifest(json.dumps(data), FEATURES)
    assert imported.settings == session.settings
    assert imported.to_dict() == session.to_dict()


def test_an_empty_session_manifest_imports_as_a_fresh_session(store):
    session = LabellingSession(FEATURES, SessionSettings(batch_size=3, seed=4))
    session_id = store.import_manifest(manifest_json(session), FEATURES)
    assert store.round_count(session_id) == 0
    assert store.load(session_id, FEATURES).settings == session.settings
    assert stored_rows(store) == (1, 0)


@pytest.mark.model
def test_the_head_exports_as_a_keras_file_with_its_weights(tmp_path):
    import keras

    session = labelled_session(4)
    raw = head_keras_bytes(session)
    assert raw[:2] == b"PK"  # a .keras file is a zip archive
    path = tmp_path / "head.keras"
    path.write_bytes(raw)
    model = keras.saving.load_model(path, safe_mode=True)
    kernel, bias = model.get_layer("head").get_weights()
    assert np.allclose(kernel.T, session.head.coef_, atol=1e-6)
    assert np.isclose(bias[0], session.head.intercept_[0], atol=1e-6)
    p = model.predict(FEATURES.test[:50], verbose=0).ravel()
    assert np.allclose(p, session.head.positive_proba(FEATURES.test[:50]), atol=1e-5)


@pytest.mark.model
def test_a_softmax_head_exports_as_a_keras_file(tmp_path):
    import keras

    embedding = synthetic_features(400, 200, layer="embedding")
    settings = SessionSettings(task=Task.multiclass("0-4"), layer="embedding", batch_size=5)
    session = LabellingSession(embedding, settings)
    session.auto_label(3)
    path = tmp_path / "head.keras"
    path.write_bytes(head_keras_bytes(session))
    model = keras.saving.load_model(path, safe_mode=True)
    kernel, bias = model.get_layer("head").get_weights()
    assert kernel.shape == (128, 5) and np.allclose(bias, session.head.intercept_, atol=1e-6)
    x = session.data.test[:20]
    assert np.allclose(model.predict(x, verbose=0), session.head.predict_proba(x), atol=1e-5)


LONG = synthetic_features(1_200, 200, seed=4, model="tinymodel")


def long_session(head_mode: str, n_rounds: int = 300) -> LabellingSession:
    """A long session with a skip and a correction in it, so labels are not just a prefix."""
    session = LabellingSession(LONG, SessionSettings(batch_size=2, seed=1, head_mode=head_mode))
    session.auto_label(n_rounds // 2)
    first = session.rounds[0].indices[0]
    session.correct(first, "skip")
    session.auto_label(n_rounds - n_rounds // 2 - 1)
    return session


def _fits(monkeypatch) -> list[int]:
    from tl_active.core import head as head_module

    fits: list[int] = []
    real_fit = head_module.LogisticHead.fit

    def counting_fit(self, x, y):
        fits.append(len(y))
        return real_fit(self, x, y)

    monkeypatch.setattr(head_module.LogisticHead, "fit", counting_fit)
    return fits


@pytest.mark.parametrize("head_mode", ["converge", "demo"])
def test_one_tampered_weight_in_the_middle_of_a_long_manifest_is_refused(head_mode, store):
    session = long_session(head_mode)
    data = manifest(session)
    assert len(data["rounds"]) == 300 and data["rounds"][150]["kind"] == "correction"
    for number, change in [(120, 1e-3), (151, -1e-3), (217, 1e-4)]:
        tampered = json.loads(json.dumps(data))
        tampered["rounds"][number - 1]["weights"][0][3] += change
        with pytest.raises(SessionFileError, match=f"replaying round {number} gives other head"):
            store.import_manifest(json.dumps(tampered), LONG)
    if head_mode == "demo":  # Adam's state is checked too: it moves every later step
        tampered = json.loads(json.dumps(data))
        tampered["rounds"][99]["adam_v"][2] *= 1.01
        with pytest.raises(SessionFileError, match="replaying round 100 gives other head"):
            store.import_manifest(json.dumps(tampered), LONG)
    assert stored_rows(store) == (0, 0)
    session_id = store.import_manifest(json.dumps(data), LONG)
    assert store.load(session_id, LONG).to_dict() == session.to_dict()


@pytest.mark.parametrize("head_mode", ["converge", "demo"])
def test_import_checks_every_round_without_refitting_and_the_store_reopens_without_replay(
    head_mode, store, monkeypatch
):
    """Each round is checked on its own, blocks at a time; reopening checks the last round."""
    session = long_session(head_mode)
    raw = manifest_json(session)
    fits = _fits(monkeypatch)
    imported = read_manifest(raw, LONG)
    assert [n for n in fits if n] == []  # no round refit: every check passed as recorded
    session_id = store.create(imported)
    reopened = store.load(session_id, LONG)
    assert [n for n in fits if n] == []
    assert np.array_equal(reopened.head.coef_, session.head.coef_)
    assert reopened.head.state_.adam_t == session.head.state_.adam_t
    assert reopened.next_batch() == session.next_batch()
    # Undo, then labelling on, gives what the session that was never saved gives.
    for s in (reopened, session):
        s.undo()
        s.undo()
        s.auto_label(3)
    assert [r.weights for r in reopened.rounds[-3:]] == [r.weights for r in session.rounds[-3:]]
    assert reopened.head.state_.adam_t == session.head.state_.adam_t


def test_a_stored_session_is_taken_as_stored_after_a_check_of_its_last_round(store):
    """The store is the app's own: a round changed in it (not the last) is not looked for."""
    session = long_session("converge", 40)
    data = manifest(session)
    data["rounds"][10]["weights"][0][3] += 1e-3
    session_id = store.create(LabellingSession.from_dict(data, LONG, check="last"))
    assert store.load(session_id, LONG).rounds[10].weights == data["rounds"][10]["weights"]
    data["rounds"][-1]["weights"][0][3] += 1e-3
    with pytest.raises(SessionFileError, match="replaying round 40 gives other head"):
        LabellingSession.from_dict(data, LONG, check="last")


def test_a_demo_manifest_without_adam_state_is_rebuilt_step_by_step_and_gets_it(store):
    session = long_session("demo", 60)
    data = manifest(session)
    for record in data["rounds"]:
        del record["adam_m"], record["adam_v"], record["adam_t"]
    session_id = store.import_manifest(json.dumps(data), LONG)
    loaded = store.load(session_id, LONG)
    assert loaded.to_dict() == session.to_dict()  # the Adam state the replay gave is stored
    data["rounds"][30]["weights"][0][3] += 1e-3
    with pytest.raises(SessionFileError, match="replaying round 31 gives other head"):
        read_manifest(json.dumps(data), LONG)


def test_a_converged_round_that_records_adam_state_is_refused():
    data = manifest(long_session("converge", 6))
    data["rounds"][2]["adam_t"] = 3
    with pytest.raises(SessionFileError, match="round 3 records an Adam state"):
        read_manifest(json.dumps(data), LONG)


def test_corrections_travel_in_the_csv_and_the_manifest(store):
    session = LabellingSession(FEATURES, SessionSettings(batch_size=3, seed=2))
    session.auto_label(2)
    image = session.rounds[0].indices[0]
    right = session.truth([image])[0]
    wrong = "negative" if right == "positive" else "positive"
    session.correct(image, wrong)
    rows = list(csv.DictReader(io.StringIO(labels_csv(session))))
    about = [r for r in rows if r["pool_index"] == str(image)]
    assert [(r["answer"], r["round"], r["status"]) for r in about] == [
        (right, "1", "corrected"),
        (wrong, "3", "live"),
    ]
    assert about[1]["agrees"] == "False"
    session_id = store.import_manifest(manifest_json(session), FEATURES)
    loaded = store.load(session_id, FEATURES)
    assert loaded.rounds[-1].is_correction and loaded.answer_of(image) == wrong
    assert np.allclose(loaded.head.coef_, session.head.coef_, atol=1e-12, rtol=0)


def test_one_tampered_weight_of_a_five_class_head_is_refused(store):
    embedding = synthetic_features(600, 200, seed=5, model="tinymodel", layer="embedding")
    settings = SessionSettings(task=Task.multiclass("0-4"), layer="embedding", batch_size=2)
    session = LabellingSession(embedding, settings)
    session.auto_label(24)
    data = manifest(session)
    data["rounds"][14]["weights"][2][7] += 1e-3
    with pytest.raises(SessionFileError, match="replaying round 15 gives other head"):
        store.import_manifest(json.dumps(data), embedding)
    assert stored_rows(store) == (0, 0)


def test_a_40_mb_reason_is_refused_in_one_line_within_seconds(store):
    raw = _tampered(_set(["rounds", 0, "reasons", 0], "x" * 40_000_000))
    assert len(raw) < 50_000_000  # under the file's own limit
    start = time.perf_counter()
    with pytest.raises(SessionFileError, match="^round 1 of the manifest: reasons is 40,000,000"):
        store.import_manifest(raw, FEATURES)
    assert time.perf_counter() - start < 5
    assert stored_rows(store) == (0, 0)


def test_an_imported_session_holds_only_text_it_can_export_again(store):
    # Well-formed text outside ASCII is text like any other.
    raw = _tampered(_set(["settings", "images"], "/home/me/Müll 🙂"))
    session_id = store.import_manifest(raw, FEATURES)
    exported = manifest_json(store.load(session_id, FEATURES)).encode("utf-8")
    assert "Müll 🙂" in json.loads(exported)["settings"]["images"]


def test_a_manifest_file_is_read_only_if_it_is_a_regular_file(tmp_path):
    (tmp_path / "mine.json").write_text(manifest_json(labelled_session(2)))
    assert read_manifest(read_manifest_file(tmp_path / "mine.json"), FEATURES).rounds
    os.mkfifo(tmp_path / "fifo.json")
    start = time.perf_counter()
    with pytest.raises(SessionFileError, match="fifo.json: not a regular file \\(a FIFO\\)$"):
        read_manifest_file(tmp_path / "fifo.json")
    assert time.perf_counter() - start < 1
    with pytest.raises(SessionFileError, match="a folder, not a file"):
        read_manifest_file(tmp_path)
    with pytest.raises(SessionFileError, match="no such file"):
        read_manifest_file(tmp_path / "\x1b[2Jgone.json")
    # Over the limit: one byte more than it is read, for the reader to refuse.
    with open(tmp_path / "big.json", "wb") as handle:
        handle.truncate(60_000_000)
    with pytest.raises(SessionFileError, match="over 50 MB: not a manifest"):
        read_manifest(read_manifest_file(tmp_path / "big.json"), FEATURES)
