"""The pool-taught head's round: this checkout against an earlier commit, alternating.

One process per side and repeat (the earlier commit's files taken with `git archive`) runs a
session of `diversity` (or `--strategy`), seed 0, answered by the oracle, on each of `make bench`'s two
configurations (odd/even on the demo's 60,000 x 10, batch 4; digits 0-4 on the 5-9 network's
30,596 x 128 embedding, batch 5), with the plain head and with the pool-taught one, and times
each round (submit, refit, rescore, next batch). The neighbour graph is made, or read from the
cache, before the timing. The sides alternate so that both see about the same load; it prints
the medians of every round of every repeat (wall and CPU time), the ratio, and whether both sides' sessions asked
for the same images and counted the same pseudo-labels in every round, or from which round on
they did not. (The number of BLAS threads moves a fit's last bits: run both sides with
`OPENBLAS_NUM_THREADS=1`, as `make run` serves the app, to compare the computations alone.)

    python bench/bench_pool_round.py --against ddb0e2c [--rounds 15] [--repeats 3] \
        [--strategy phased]
"""

from __future__ import annotations

import argparse
import statistics

from alternating import alternating

TIMED = """
import json, sys, time
sys.path[:0] = [{root!r}]
import numpy as np
from pathlib import Path
from tl_active.core.task import Task
from tl_active.data.features import load_features
from tl_active.sessions.records import PLAIN_HEAD, POOL_HEAD, SessionSettings
from tl_active.sessions.session import LabellingSession

configurations = {{
    "odd/even": ("mnist-cnn", "digits", Task.binary("odd"), 4),
    "digits 0-4": ("mnist-cnn-5to9", "embedding", Task.multiclass("0-4"), 5),
}}
out = {{}}
for name, (backbone, layer, task, batch) in configurations.items():
    features = load_features(backbone, layer, cache_dir=Path({cache!r}))
    for head in (PLAIN_HEAD, POOL_HEAD):
        settings = SessionSettings(
            task=task, strategy={strategy!r}, seed=0, batch_size=batch, layer=layer, head=head
        )
        session = LabellingSession(features, settings)
        # What `phased` keeps per pool (the settled share of each prefix of answers) is dropped:
        # the plain session's would serve the same answers, and a person's session starts cold.
        session.data.shared.pop(("derived", "phased prefix shares"), None)
        session.next_batch()
        session.training_set(np.zeros(0, np.intp), np.zeros(0, np.intp))  # the graph
        seconds, cpu, trail = [], [], []
        for _ in range({rounds}):
            answers = session.truth([p.index for p in session.pending])
            started, used = time.perf_counter(), time.process_time()
            session.submit(answers)
            session.next_batch()
            seconds.append(time.perf_counter() - started)
            cpu.append(time.process_time() - used)
            trail.append([[p.index for p in session.pending], session.pseudo_count])
        out[f"{{name}}, {{head}}"] = {{"seconds": seconds, "cpu": cpu, "trail": trail}}
print(json.dumps(out))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--against", required=True, help="the earlier commit (any git name)")
    parser.add_argument("--rounds", type=int, default=15, help="rounds timed per session")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--strategy", default="diversity", help="the sessions' strategy (default diversity)"
    )
    args = parser.parse_args()

    seconds: dict[tuple[str, str], list[float]] = {}
    cpu: dict[tuple[str, str], list[float]] = {}
    trails: dict[tuple[str, str], list] = {}
    for repeat, side, runs in alternating(
        TIMED, args.against, args.repeats, rounds=args.rounds, strategy=args.strategy
    ):
        for run, result in runs.items():
            seconds.setdefault((run, side), []).extend(result["seconds"])
            cpu.setdefault((run, side), []).extend(result["cpu"])
            trails.setdefault((run, side), []).append(result["trail"])
        print(f"  repeat {repeat + 1}, {side}: done", flush=True)

    print(
        f"\none round, median (p95) ms over {args.repeats} x {args.rounds} rounds, "
        f"alternating; {args.against} against this checkout"
    )
    for run in dict.fromkeys(run for run, _ in seconds):
        times = {side: seconds[(run, side)] for side in ("earlier", "this")}
        shown = "  ".join(
            f"{side} {1000 * statistics.median(t):8.1f} "
            f"({1000 * sorted(t)[int(0.95 * (len(t) - 1))]:.1f})"
            for side, t in times.items()
        )
        ratio = statistics.median(times["earlier"]) / statistics.median(times["this"])
        print(f"  {run:24s} {shown}  {ratio:5.1f} x  {_agreement(trails, run)}")
    print("the same rounds' CPU time, median ms (a round's time with a core to itself)")
    for run in dict.fromkeys(run for run, _ in cpu):
        shown = "  ".join(
            f"{side} {1000 * statistics.median(cpu[(run, side)]):8.1f}"
            for side in ("earlier", "this")
        )
        print(f"  {run:24s} {shown}")


def _agreement(trails: dict, run: str) -> str:
    """Whether every repeat of both sides asked for the same batches and counted the same
    pseudo-labels, round by round, or the first round where one did not."""
    runs = trails[(run, "earlier")] + trails[(run, "this")]
    for number, rounds in enumerate(zip(*runs), start=1):
        if any(r != rounds[0] for r in rounds):
            return f"the same batches and pseudo-labels before round {number}, not from it"
    return "the same batches and pseudo-labels"


if __name__ == "__main__":
    main()
