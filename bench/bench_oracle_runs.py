"""Oracle runs per second: this checkout against an earlier commit, on the same cells.

A sweep's time is its oracle runs (`compare.oracle_run`: a session's rounds, each a strategy's
batch, a head refit, a rescore of the pool and the round's figures). This times one process
running the first N cells of `bench_sweep.py`'s slice one after another (one core, no joblib
or Ray), for this checkout and for the commit given (its files taken with `git archive`),
alternating so that both see about the same load, and prints the medians, each pair's ratio,
and whether both gave the same rows (a digest of every row of every run).

    python bench/bench_oracle_runs.py --against 6c79731 [--cells 60] [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics

from alternating import alternating

# Run in a fresh process with the checkout under test first on sys.path. The sweep's names have
# lived in three places (tl_active/sweep.py, tl_active/experiments/sweep.py, and the package
# tl_active/experiments/sweep/): each is taken from the first module this checkout has.
TIMED = """
import hashlib, importlib, json, sys, time
from pathlib import Path
sys.path[:0] = [{root!r}]

def module(*names):
    for name in names:
        try:
            return importlib.import_module(name)
        except ModuleNotFoundError:
            continue
    raise ModuleNotFoundError(f"none of {{names}}")

grids = module("tl_active.experiments.sweep.grid", "tl_active.experiments.sweep", "tl_active.sweep")
running = module(
    "tl_active.experiments.sweep.running", "tl_active.experiments.sweep", "tl_active.sweep"
)
load_features = module("tl_active.data.features", "tl_active.features").load_features

strategies = ("diversity", "uncertainty", "entropy", "representative", "committee", "random")
targets = [t.name() for t in grids.Grid(targets=(grids.ALL_TARGETS,)).tasks()[::73]]
grid = grids.Grid(strategies=strategies, targets=tuple(targets), seeds=(0, 1, 2), rounds=(20,))
features = load_features("mnist-cnn", "digits", cache_dir=Path({cache!r}))
cells = grids.grid_cells(grid, "mnist-cnn", "digits")[: {cells}]
shared = running._shareable(features, list(dict.fromkeys(c.task for c in cells)))
running._run_cells(shared, cells[:1])  # imports and first-call costs out of the timing
start = time.perf_counter()
done = running._run_cells(shared, cells)
seconds = time.perf_counter() - start
rows = [row for _, run in done for row in run]
digest = hashlib.sha256(json.dumps(rows, default=str).encode()).hexdigest()[:16]
print(json.dumps({{"seconds": seconds, "digest": digest}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--against", required=True, help="the earlier commit (any git name)")
    parser.add_argument("--cells", type=int, default=60, help="the slice's first N cells")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    seconds: dict[str, list[float]] = {"earlier": [], "this": []}
    digests: dict[str, set[str]] = {"earlier": set(), "this": set()}
    for repeat, side, result in alternating(TIMED, args.against, args.repeats, cells=args.cells):
        seconds[side].append(result["seconds"])
        digests[side].add(result["digest"])
        print(f"  repeat {repeat + 1}, {side}: {result['seconds']:.2f} s")

    print(f"\n{args.cells} runs, {args.repeats} repeats, alternating; one core each")
    for name, label in (("earlier", args.against), ("this", "this checkout")):
        median = statistics.median(seconds[name])
        print(f"{label}: median {median:.2f} s, {args.cells / median:.2f} runs/s")
    ratios = [e / t for e, t in zip(seconds["earlier"], seconds["this"])]
    print(
        f"earlier / this, per repeat: {', '.join(f'{r:.2f}' for r in ratios)}; "
        f"median {statistics.median(ratios):.2f}"
    )
    same = digests["earlier"] == digests["this"] and len(digests["this"]) == 1
    print("rows: the same to the last bit" if same else f"rows differ: {digests}")


if __name__ == "__main__":
    main()
