"""SIGKILL in the middle of a submit, 0 to 400 ms after it starts: no round lost, none half stored.

A child process (`submit_writer.py`) labels and stores rounds on a pool the size of MNIST's, as
fast as it can, so that whenever it is killed it is inside a submit: retraining the head,
rescoring the pool, or writing the round. The test waits for it to announce round 3, sleeps
the delay, kills it, and opens the database as a restarted server would. Every round the child
finished storing is there, field for field as an unkilled run makes it; the round in flight is
there entirely or not at all; the session replays, lists and exports, and goes on.

`test_store_restart.py` kills a writer between rounds it reported and resumes it twice; this
one kills at set times inside a round and checks the round in flight.
"""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import text
from submit_writer import FEATURES, SETTINGS
from synthetic import synthetic_features

from tl_active.sessions.exchange import labels_csv
from tl_active.sessions.session import LabellingSession
from tl_active.sessions.store import SessionStore

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
WAIT_FOR_ROUND = 3
FEATURE_SET = synthetic_features(**FEATURES)


def unkilled_rounds(n: int) -> list:
    """The first n rounds as a writer that is never killed makes them."""
    session = LabellingSession(FEATURE_SET, SETTINGS)
    return [session.answer_by_truth() for _ in range(n)]


def start_writer(url: str, *options: str) -> subprocess.Popen:
    # The package of this checkout, whichever one the virtual env was installed from.
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, str(TESTS / "submit_writer.py"), url, *options],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": path},
    )


def read_line(writer: subprocess.Popen) -> str:
    line = writer.stdout.readline()
    assert line, f"the writer stopped: {writer.stderr.read()}"
    return line.strip()


@pytest.mark.parametrize("delay_ms", [0, 10, 50, 150, 400])
def test_a_writer_killed_during_a_submit_loses_no_round_and_stores_none_by_half(tmp_path, delay_ms):
    url = f"sqlite:///{tmp_path / 'sessions.db'}"
    writer = start_writer(url)
    try:
        session_id = read_line(writer).removeprefix("session ")
        while read_line(writer) != f"storing {WAIT_FOR_ROUND}":
            pass
        time.sleep(delay_ms / 1000)
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(10)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait(10)
    assert writer.returncode == -signal.SIGKILL
    said = [
        line.split()
        for line in [f"storing {WAIT_FOR_ROUND}", *writer.stdout.read().split("\n")]
        if line
    ]
    stored = max((int(n) for word, n in said if word == "stored"), default=WAIT_FOR_ROUND - 1)
    in_flight = max(int(n) for word, n in said if word == "storing")
    assert in_flight in (stored, stored + 1)

    store = SessionStore(url)
    try:
        with store.engine.connect() as conn:
            assert conn.execute(text("PRAGMA integrity_check")).scalar_one() == "ok"
        n = store.round_count(session_id)
        assert stored <= n <= in_flight  # every finished round; the one in flight whole or not
        resumed = store.load(session_id, FEATURE_SET)  # replays and checks the head weights
        expected = unkilled_rounds(n + 1)
        assert len(resumed.rounds) == n
        for got, want in zip(resumed.rounds, expected[:n], strict=True):
            assert [got.number, got.indices, got.answers, got.n_labels] == [
                want.number,
                want.indices,
                want.answers,
                want.n_labels,
            ]
            np.testing.assert_allclose(got.weights, want.weights, rtol=0, atol=1e-12)
            assert got.metrics == pytest.approx(want.metrics, abs=1e-12)
        [listed] = [s for s in store.recent() if s.id == session_id]
        assert (listed.n_rounds, listed.n_labels) == (n, 4 * n)
        rows = list(csv.DictReader(io.StringIO(labels_csv(resumed))))
        assert [int(r["round"]) for r in rows] == [k for k in range(1, n + 1) for _ in range(4)]

        # The session goes on from where the killed writer left it.
        record = resumed.answer_by_truth()
        store.append_round(session_id, record, previous=resumed.rounds[-2] if n else None)
        assert record.indices == expected[n].indices
        assert store.round_count(session_id) == n + 1
    finally:
        store.close()
    print(
        f"killed {delay_ms} ms after round {WAIT_FOR_ROUND} began: {stored} stored, "
        f"round {in_flight} {'in flight' if in_flight > stored else 'done'}, {n} in the database"
    )


def test_a_writer_killed_inside_the_transaction_of_a_round_stores_none_of_it(tmp_path):
    url = f"sqlite:///{tmp_path / 'sessions.db'}"
    writer = start_writer(url, "pause-in-write")
    try:
        session_id = read_line(writer).removeprefix("session ")
        while read_line(writer) != f"writing {WAIT_FOR_ROUND}":
            pass
        # The round's row is inserted and the session's count moved on; nothing is committed.
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(10)
    finally:
        if writer.poll() is None:
            writer.kill()
            writer.wait(10)

    store = SessionStore(url)
    try:
        assert store.round_count(session_id) == WAIT_FOR_ROUND - 1
        assert len(store.history(session_id)) == WAIT_FOR_ROUND - 1
        resumed = store.load(session_id, FEATURE_SET)
        assert [r.indices for r in resumed.rounds] == [
            r.indices for r in unkilled_rounds(WAIT_FOR_ROUND - 1)
        ]
    finally:
        store.close()
