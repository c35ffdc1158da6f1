"""A process killed with SIGKILL in the middle of a session loses no round it reported stored."""

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from synthetic import synthetic_features

from tl_active.sessions.store import SessionStore

TESTS = Path(__file__).resolve().parent

WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[3])
    from synthetic import synthetic_features
    from tl_active.sessions.session import LabellingSession
    from tl_active.sessions.records import SessionSettings
    from tl_active.sessions.store import SessionStore

    store = SessionStore(sys.argv[1])
    session_id = sys.argv[2]
    session = store.load(session_id, synthetic_features(400, 200, model="tinymodel"))
    while True:
        record = session.answer_by_truth()
        store.append_round(session_id, record)
        print(record.number, flush=True)
    """
)


def start_writer(url: str, session_id: str, script: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(script), url, session_id, str(TESTS)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.server
def test_a_killed_writer_loses_no_reported_round_and_a_new_process_resumes(tmp_path):
    from tl_active.sessions.records import SessionSettings
    from tl_active.sessions.session import LabellingSession

    features = synthetic_features(400, 200, model="tinymodel")
    url = f"sqlite:///{tmp_path / 'sessions.db'}"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    store = SessionStore(url)
    session_id = store.create(LabellingSession(features, SessionSettings(batch_size=2, seed=3)))
    store.close()

    reported = 0
    for kill_after in (7, 19):  # two kills: the second process resumes the first one's session
        writer = start_writer(url, session_id, script)
        while reported < kill_after:
            line = writer.stdout.readline()
            assert line, writer.stderr.read()
            reported = int(line)
        # Killed while it goes on writing: the round in flight may or may not land, whole.
        os.kill(writer.pid, signal.SIGKILL)
        writer.wait(10)
        assert writer.returncode == -signal.SIGKILL

        fresh = SessionStore(url)
        stored = fresh.round_count(session_id)
        assert stored >= reported
        resumed = fresh.load(session_id, synthetic_features(400, 200, model="tinymodel"))
        assert [r.number for r in resumed.rounds] == list(range(1, stored + 1))
        assert resumed.rounds[-1].n_labels == 2 * stored
        fresh.close()
        reported = stored
