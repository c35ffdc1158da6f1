"""A process that labels and stores rounds until it is killed (see test_kill_during_submit.py).

`python tests/submit_writer.py DB_URL` opens the session store at DB_URL, creates a session on
the synthetic features (a pool the size of MNIST's) and prints `session <id>`. Then, round
after round and as fast as it can: it asks for the next batch, prints `storing <n>`, answers
the batch with the ground truth (which retrains the head and rescores the pool), stores the
round and prints `stored <n>`. Every line is flushed before the work it announces.

With `pause-in-write` after the URL, it also prints `writing <n>` once the round's row is
inserted, inside the transaction, and waits there a while before committing.
"""

from __future__ import annotations

import sys
import time

from sqlalchemy import event
from synthetic import synthetic_features

from tl_active.sessions.records import SessionSettings
from tl_active.sessions.session import LabellingSession
from tl_active.sessions.store import SessionStore

FEATURES = {"n_pool": 60_000, "n_test": 10_000, "seed": 3, "model": "killmodel"}
SETTINGS = SessionSettings(strategy="uncertainty", batch_size=4, seed=9)


def main(url: str, pause_in_write: bool = False) -> None:
    store = SessionStore(url)
    number = 0
    if pause_in_write:

        @event.listens_for(store.engine, "after_cursor_execute")
        def pause(conn, cursor, statement, *args) -> None:
            if statement.lstrip().upper().startswith("INSERT INTO ROUND_RECORDS"):
                print(f"writing {number}", flush=True)
                time.sleep(2)

    session = LabellingSession(synthetic_features(**FEATURES), SETTINGS)
    session_id = store.create(session)
    print(f"session {session_id}", flush=True)
    previous = None
    while True:
        picks = session.next_batch()
        number = len(session.rounds) + 1
        print(f"storing {number}", flush=True)
        # As the app's submit: retrain the head, rescore the pool, then store the round.
        truth = session.truth([p.index for p in picks])
        record = session.submit(truth, round_number=number, simulated=True)
        store.append_round(session_id, record, previous=previous)
        previous = record
        print(f"stored {number}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], pause_in_write=sys.argv[2:] == ["pause-in-write"])
