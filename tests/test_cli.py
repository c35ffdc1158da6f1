"""The command line, `python -m tl_active ...`, run in-process through `__main__.main`.

A refusal is one line on stderr and status 2, said before any work starts and with nothing
written. The frozen CNN is replaced by a synthetic feature set, so no TensorFlow runs here; the
sessions go to a database file of the test's own.
"""

from __future__ import annotations

import csv
import json
import sys
from dataclasses import replace

import numpy as np
import pytest
from synthetic import synthetic_features

from tl_active.cli.main import main
from tl_active.cli.sessions import APP_URL
from tl_active.sessions.exchange import manifest_json
from tl_active.sessions.records import SessionSettings
from tl_active.sessions.session import LabellingSession
from tl_active.sessions.store import SessionStore

FEATURES = synthetic_features(400, 200, model="tinymodel")


@pytest.fixture
def features_loads(monkeypatch) -> list:
    """Stands in for the feature loader, which no refused command should ever reach."""
    loads = []

    def load(*args, **kwargs):
        loads.append(args)
        raise AssertionError("features were loaded for a command that should have been refused")

    monkeypatch.setattr("tl_active.data.features.load_features", load)
    return loads


def one_error_line(capsys) -> str:
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize("where", ["out is a file", "out under a file"])
def test_compare_refuses_an_out_folder_it_cannot_write_before_computing(
    tmp_path, capsys, features_loads, where
):
    blocker = tmp_path / "results"
    blocker.write_text("in the way")
    out = blocker if where == "out is a file" else blocker / "compare"

    status = main(["compare", "--strategies", "random", "--seeds", "1", "--out", str(out)])

    assert status == 2
    line = one_error_line(capsys)
    assert str(out) in line and f"{blocker} is a file, not a folder" in line
    assert features_loads == []
    assert blocker.read_text() == "in the way"


@pytest.mark.parametrize("seeds", ["-1", "0"])
def test_compare_refuses_fewer_than_one_seed_without_contradicting_itself(
    tmp_path, capsys, features_loads, seeds
):
    status = main(["compare", "--seeds", seeds, "--out", str(tmp_path / "out")])

    assert status == 2
    line = one_error_line(capsys)
    assert f"--seeds must be at least 1, not {seeds}" in line
    assert "0 or more" not in line
    assert features_loads == []


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--seeds", "100000000"], "--seeds 100000000: a comparison runs at most 10,000 seeds"),
        (["--rounds", "1000000000"], "rounds must be a whole number from 1 to 10,000"),
    ],
)
def test_compare_refuses_unbounded_work_in_one_line_before_any_work(
    tmp_path, capsys, features_loads, option, message
):
    status = main(["compare", *option, "--out", str(tmp_path / "out")])

    assert status == 2
    assert message in one_error_line(capsys)
    assert features_loads == []
    assert not (tmp_path / "out").exists()


# --- import and export ------------------------------------------------------------------------


@pytest.fixture
def requested() -> list:
    """The (backbone, layer) of every feature set the command line asked for."""
    return []


@pytest.fixture
def db(tmp_path, monkeypatch, requested) -> str:
    """A fresh session database, and the CLI's feature loader serving the synthetic features."""

    def load(backbone=None, layer=None, *args, **kwargs):
        requested.append((backbone, layer))
        return FEATURES

    monkeypatch.setattr("tl_active.data.features.load_features", load)
    return str(tmp_path / "sessions.db")


def stored(db: str) -> list[tuple[str, int]]:
    store = SessionStore(f"sqlite:///{db}")
    try:
        return sorted((s.id, s.n_rounds) for s in store.recent(1000))
    finally:
        store.close()


def labelled_session(n_rounds: int = 3) -> LabellingSession:
    session = LabellingSession(FEATURES, SessionSettings(seed=3))
    session.auto_label(n_rounds - 1)
    picks = session.next_batch()
    answers = session.truth([p.index for p in picks])
    answers[0] = "skip"
    session.submit(answers)
    return session


def test_import_stores_the_manifest_as_a_new_session_and_prints_its_link(tmp_path, capsys, db):
    original = labelled_session()
    path = tmp_path / "mine.json"
    path.write_text(manifest_json(original))

    assert main(["import", str(path), "--db", db]) == 0

    printed = capsys.readouterr().out.strip().splitlines()
    [(session_id, n_rounds)] = stored(db)
    assert n_rounds == 3
    assert printed == [
        f"imported {path}: session {session_id}, 3 rounds replayed",
        f"{APP_URL}/?session={session_id}",
    ]
    store = SessionStore(f"sqlite:///{db}")
    imported = store.load(session_id, FEATURES)
    store.close()
    np.testing.assert_allclose(imported.head.coef_, original.head.coef_, atol=1e-12)
    assert [r.indices for r in imported.rounds] == [r.indices for r in original.rounds]


def test_import_reads_the_backbone_a_manifest_names_only_if_it_is_shipped(
    tmp_path, capsys, db, requested
):
    data = json.loads(manifest_json(labelled_session()))
    path = tmp_path / "theirs.json"
    path.write_text(json.dumps(data))
    assert main(["import", str(path), "--db", db]) == 0
    assert requested == [("mnist-cnn", "digits")]  # the manifest's own, shipped
    capsys.readouterr()

    data["settings"]["backbone"] = own = str(tmp_path / "elsewhere.keras")
    path.write_text(json.dumps(data))
    before = stored(db)
    assert main(["import", str(path), "--db", db]) == 2
    assert "give its .keras file with --backbone" in one_error_line(capsys)
    assert stored(db) == before and len(requested) == 1  # nothing opened, nothing stored

    assert main(["import", str(path), "--db", db, "--backbone", own]) == 0
    assert requested[-1] == (own, "digits")


def forged_manifest(kind: str) -> bytes:
    data = labelled_session().to_dict()
    if kind == "another model":
        data["model_checksum"] = "0" * 64
    elif kind == "damaged round":
        data["rounds"][1]["indices"] = [-1, 2, 3, 4]
    return json.dumps(data).encode()


@pytest.mark.parametrize(
    ("kind", "reason"),
    [
        ("missing", "cannot read"),
        ("a folder", "cannot read"),
        ("not json", "not JSON"),
        ("another model", "made with another network"),
        ("damaged round", "round 2 of the manifest"),
    ],
)
def test_import_refuses_a_bad_file_in_one_line_and_writes_nothing(
    tmp_path, capsys, db, kind, reason
):
    earlier = SessionStore(f"sqlite:///{db}")
    earlier.create(labelled_session(1))
    earlier.close()
    before = stored(db)
    path = tmp_path / "theirs.json"
    if kind == "a folder":
        path.mkdir()
    elif kind == "not json":
        path.write_bytes(b"\x89PNG\r\n\x1a\n not json")
    elif kind != "missing":
        path.write_bytes(forged_manifest(kind))

    assert main(["import", str(path), "--db", db]) == 2

    line = one_error_line(capsys)
    assert str(path) in line and reason in line
    assert capsys.readouterr().out == ""
    assert stored(db) == before


def test_export_writes_the_labels_with_undone_rounds_and_a_manifest_that_imports_back(
    tmp_path, capsys, db
):
    store = SessionStore(f"sqlite:///{db}")
    session = labelled_session()
    session_id = store.create(session)
    store.undo_round(session_id, session.rounds[-1])
    store.close()
    out = tmp_path / "exported"

    assert main(["export", session_id, "--out", str(out), "--db", db]) == 0

    labels = out / f"tl-active-{session_id}-labels.csv"
    manifest = out / f"tl-active-{session_id}.json"
    assert capsys.readouterr().out.strip() == f"wrote {labels} and {manifest}"
    rows = list(csv.DictReader(labels.open()))
    assert [r["status"] for r in rows] == ["live"] * 8 + ["undone"] * 4
    assert [int(r["pool_index"]) for r in rows] == [i for r in session.rounds for i in r.indices]
    data = json.loads(manifest.read_text())
    assert [r["indices"] for r in data["rounds"]] == [r.indices for r in session.rounds[:2]]

    assert main(["import", str(manifest), "--db", db]) == 0
    assert sorted(n for _, n in stored(db)) == [2, 2]


@pytest.mark.parametrize("where", ["plain", "after --", "before the options"])
def test_export_takes_a_session_id_that_begins_with_a_dash(tmp_path, capsys, db, where):
    store = SessionStore(f"sqlite:///{db}")
    session = labelled_session()
    # Ids are random: one in 64 made by the old code began with "-". Store one such id.
    store.create(session, "-dashed-id-1234")
    store.close()
    out = tmp_path / "exported"
    argv = {
        "plain": ["export", "-dashed-id-1234", "--out", str(out), "--db", db],
        "after --": ["export", "--out", str(out), "--db", db, "--", "-dashed-id-1234"],
        "before the options": ["export", "--db", db, "-dashed-id-1234", "--out", str(out)],
    }[where]

    assert main(argv) == 0
    assert (out / "tl-active--dashed-id-1234-labels.csv").is_file()
    assert (out / "tl-active--dashed-id-1234.json").is_file()


@pytest.mark.parametrize(
    ("session_id", "reason"),
    [
        ("abcdefgh12345678", "there is no stored session 'abcdefgh12345678'"),
        ("../../etc/passwd", "is not a session id"),
    ],
)
def test_export_refuses_an_unknown_id_in_one_line_and_writes_nothing(
    tmp_path, capsys, db, session_id, reason
):
    out = tmp_path / "exported"
    assert main(["export", session_id, "--out", str(out), "--db", db]) == 2
    assert reason in one_error_line(capsys)
    assert not out.exists()


def test_export_with_a_folder_in_the_way_writes_nothing(tmp_path, capsys, db):
    store = SessionStore(f"sqlite:///{db}")
    session_id = store.create(labelled_session())
    store.close()
    out = tmp_path / "exported"
    (out / f"tl-active-{session_id}.json").mkdir(parents=True)

    assert main(["export", session_id, "--out", str(out), "--db", db]) == 2
    assert "something that is not a file has its name" in one_error_line(capsys)
    assert sorted(p.name for p in out.iterdir()) == [f"tl-active-{session_id}.json"]


def test_export_on_a_full_disk_leaves_no_half_written_file(tmp_path, capsys, db, monkeypatch):
    import errno
    import os

    store = SessionStore(f"sqlite:///{db}")
    session_id = store.create(labelled_session())
    store.close()
    out = tmp_path / "exported"
    out.mkdir()
    fsyncs = []

    def full_disk(fd):
        fsyncs.append(fd)
        if len(fsyncs) == 2:  # the labels CSV went down whole; the manifest finds the disk full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full_disk)
    assert main(["export", session_id, "--out", str(out), "--db", db]) == 2
    line = one_error_line(capsys)
    assert "No space left on device; nothing was written" in line
    assert list(out.iterdir()) == []


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_import_refuses_a_database_that_vanishes_when_the_command_ends(tmp_path, capsys, db, url):
    manifest = tmp_path / "m.json"
    manifest.write_text(manifest_json(labelled_session()), encoding="utf-8")

    assert main(["import", str(manifest), "--db", url]) == 2
    line = one_error_line(capsys)
    assert "vanishes when the command ends" in line and "give a file" in line


def test_import_notices_a_database_file_deleted_during_the_import(
    tmp_path, capsys, db, monkeypatch
):
    import os

    manifest = tmp_path / "m.json"
    manifest.write_text(manifest_json(labelled_session()), encoding="utf-8")
    real = SessionStore.import_manifest

    def import_then_delete(self, raw, features):
        session_id = real(self, raw, features)
        os.unlink(db)  # as a careless `rm` in another terminal would
        return session_id

    monkeypatch.setattr(SessionStore, "import_manifest", import_then_delete)
    assert main(["import", str(manifest), "--db", db]) == 2
    line = one_error_line(capsys)
    assert f"the database file {db} vanished during the import" in line
    assert "imported" not in capsys.readouterr().out


def test_an_escape_sequence_in_a_file_name_is_shown_not_obeyed(tmp_path, capsys, db):
    name = tmp_path / "clear\x1b[2Jscreen.json"

    assert main(["import", str(name), "--db", db]) == 2
    line = one_error_line(capsys)
    assert "\x1b" not in line and "clear\\x1b[2Jscreen.json" in line


# --- features -------------------------------------------------------------------------------


def test_features_says_how_well_a_head_learns_from_the_layer(capsys, monkeypatch):
    monkeypatch.setattr("tl_active.data.features.load_features", lambda *args, **kwargs: FEATURES)

    assert main(["features"]) == 0

    out, err = capsys.readouterr()
    lines = out.strip().splitlines()
    assert lines[0].startswith("features tinymodel-digits-synthetic (mnist-cnn / digits)")
    assert lines[1].startswith("layer check: a head on 400 labelled pool images answers ")
    assert err == ""


def test_features_warns_about_a_layer_a_head_learns_nothing_from(capsys, monkeypatch):
    rng = np.random.default_rng(0)
    noise = rng.dirichlet(np.ones(10) * 1000, len(FEATURES.pool) + len(FEATURES.test))
    useless = replace(
        FEATURES,
        pool=noise[: len(FEATURES.pool)].astype(np.float32),
        test=noise[len(FEATURES.pool) :].astype(np.float32),
        key="untrained-digits-synthetic",
    )
    monkeypatch.setattr("tl_active.data.features.load_features", lambda *args, **kwargs: useless)

    assert main(["features"]) == 0  # a warning, not a refusal: the person may go on

    out, err = capsys.readouterr()
    assert "layer check: a head on 400 labelled pool images" in out
    [warning] = err.strip().splitlines()
    assert warning.startswith("warning: Layer 'digits' of mnist-cnn looks untrained")
    assert warning.endswith(
        "Check the model file (is it the trained network?) or choose another layer."
    )


def test_bench_runs_the_checkouts_benchmark_with_the_commands_options(
    tmp_path, capsys, monkeypatch
):
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "bench_round.py").write_text(
        "def main(args):\n"
        "    print(f'rounds {args.rounds}, demo {args.demo_repeats}, seeds {args.seeds}, '\n"
        "          f'images {not args.no_images}')\n"
    )
    monkeypatch.setattr("tl_active.cli.bench.BENCH_DIR", bench)
    # Imported afresh here, and gone afterwards (undone in reverse: set, then restored).
    monkeypatch.setitem(sys.modules, "bench_round", None)
    monkeypatch.delitem(sys.modules, "bench_round")
    monkeypatch.setattr(sys, "path", list(sys.path))

    assert main(["bench", "--rounds", "3", "--seeds", "2", "--no-images"]) == 0
    assert capsys.readouterr().out == "rounds 3, demo 3, seeds 2, images False\n"


def test_bench_without_the_checkouts_bench_folder_says_so_in_one_line(
    tmp_path, capsys, monkeypatch
):
    monkeypatch.setattr("tl_active.cli.bench.BENCH_DIR", tmp_path / "bench")

    assert main(["bench"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line == (
        f"error: the benchmarks live in a checkout's bench/ folder, and {tmp_path / 'bench'} is "
        "not one: run `python -m tl_active bench` from a clone of tl-active"
    )
