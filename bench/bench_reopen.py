"""How long a long session takes to import and to reopen: `python bench/bench_reopen.py [N]`.

Makes (once, then keeps under `.cache/`) an N-round session (default 10,000 rounds of 4, the
`random` strategy answered by the ground truth) on the shipped CNN's `digits` layer, with the
head converged and in the demo's Adam mode, and times, with one BLAS thread as `make run`
serves the app, medians of a few runs:

- import: reading its manifest, checking every round's recorded head, and storing it in a
  fresh SQLite store (`SessionStore.import_manifest`);
- reopen: loading it from the store by its id (`SessionStore.load`, the page's `?session=`);

for the first quarter, half and all of the rounds (a prefix of a session is a session), so the
growth shows. The baseline, in the same run: a demo-mode manifest written before the Adam state
was kept in the rounds, which is rebuilt step by step.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from threadpoolctl import threadpool_limits

from tl_active.data.features import FeatureSet, load_features
from tl_active.paths import CACHE_DIR
from tl_active.sessions.exchange import manifest_json
from tl_active.sessions.records import ADAM_FIELDS, SessionSettings
from tl_active.sessions.session import LabellingSession
from tl_active.sessions.store import SessionStore


def long_manifest(features: FeatureSet, head_mode: str, n_rounds: int) -> dict:
    path = CACHE_DIR / f"bench-reopen-{features.model_checksum}-{head_mode}-{n_rounds}.json"
    if path.exists():
        return json.loads(path.read_text())
    print(f"making a {n_rounds:,}-round {head_mode} session (once; kept in {path})", flush=True)
    session = LabellingSession(features, SessionSettings(strategy="random", head_mode=head_mode))
    start = time.perf_counter()
    for k in range(n_rounds):
        session.answer_by_truth()
        if (k + 1) % 1000 == 0:
            print(f"  {k + 1:,} rounds, {time.perf_counter() - start:.0f} s", flush=True)
    text = manifest_json(session)
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return json.loads(text)


def prefix(data: dict, n_rounds: int) -> str:
    return json.dumps({**data, "rounds": data["rounds"][:n_rounds]})


def median_seconds(run, repeats: int) -> float:
    took = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        took.append(time.perf_counter() - start)
    return statistics.median(took)


def main(argv: list[str]) -> None:
    n_rounds = int(argv[0]) if argv else 10_000
    features = load_features()
    with tempfile.TemporaryDirectory() as folder, threadpool_limits(1, user_api="blas"):
        store = SessionStore(f"sqlite:///{Path(folder) / 'bench.db'}")
        print(f"{'session':<40} {'manifest':>9} {'import':>9} {'reopen':>9}")
        for head_mode in ("converge", "demo"):
            data = long_manifest(features, head_mode, n_rounds)
            for n in (n_rounds // 4, n_rounds // 2, n_rounds):
                raw = prefix(data, n)
                ids: list[str] = []
                imported = median_seconds(
                    lambda raw=raw, ids=ids: ids.append(store.import_manifest(raw, features)), 3
                )
                reopened = median_seconds(lambda last=ids[-1]: store.load(last, features), 5)
                name = f"{n:,} rounds of 4, {head_mode}"
                print(
                    f"{name:<40} {len(raw) / 1e6:>7.1f}MB {imported:>8.2f}s {reopened:>8.3f}s",
                    flush=True,
                )
        # The baseline: the same demo session as written before rounds kept Adam's state.
        data = long_manifest(features, "demo", n_rounds)
        for record in data["rounds"]:
            for name in ADAM_FIELDS:
                record.pop(name, None)
        raw = prefix(data, n_rounds)
        started = time.perf_counter()
        legacy_id = store.import_manifest(raw, features)
        imported = time.perf_counter() - started
        reopened = median_seconds(lambda: store.load(legacy_id, features), 3)
        name = f"{n_rounds:,} rounds, demo, no Adam state"
        print(f"{name:<40} {len(raw) / 1e6:>7.1f}MB {imported:>8.2f}s {reopened:>8.3f}s")
        store.close()


if __name__ == "__main__":
    main(sys.argv[1:])
