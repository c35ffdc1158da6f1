"""How long the store takes: `python bench/bench_store.py [DB_URL] [N_ROUNDS]`.

Labels N rounds (default 100) of the real 60,000-image pool by the ground truth, storing each
round as the app does, and prints the median and p95 of `append_round`, then the time to resume
the session (`load`, which replays every round) and to read the recent-sessions list. Without a
URL it uses a fresh SQLite file in a temporary folder, never the app's own database.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tl_active.data.features import load_features  # noqa: E402
from tl_active.sessions.records import SessionSettings  # noqa: E402
from tl_active.sessions.session import LabellingSession  # noqa: E402
from tl_active.sessions.store import SessionStore  # noqa: E402


def main(argv: list[str]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        url = argv[0] if argv else f"sqlite:///{folder}/bench.db"
        n_rounds = int(argv[1]) if len(argv) > 1 else 100
        features = load_features()
        session = LabellingSession(features, SessionSettings())
        store = SessionStore(url)
        session_id = store.create(session)
        took = []
        for _ in range(n_rounds):
            record = session.answer_by_truth()
            previous = session.rounds[-2] if len(session.rounds) > 1 else None
            start = time.perf_counter()
            store.append_round(session_id, record, previous=previous)
            took.append(time.perf_counter() - start)
        ms = np.array(took) * 1000
        print(f"store: {store.engine.url.get_backend_name()}, {n_rounds} rounds of 4 images")
        print(f"append_round: median {np.median(ms):.1f} ms, p95 {np.percentile(ms, 95):.1f} ms")
        start = time.perf_counter()
        resumed = store.load(session_id, features)
        print(f"load (replays {len(resumed.rounds)} rounds): {time.perf_counter() - start:.2f} s")
        start = time.perf_counter()
        store.recent(10)
        print(f"recent(10): {(time.perf_counter() - start) * 1000:.1f} ms")
        store.delete(session_id)
        store.close()


if __name__ == "__main__":
    main(sys.argv[1:])
