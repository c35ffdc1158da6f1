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
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

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


def timed(root: Path, cells: int) -> dict:
    script = TIMED.format(root=str(root), cache=str(ROOT / ".cache"), cells=cells)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--against", required=True, help="the earlier commit (any git name)")
    parser.add_argument("--cells", type=int, default=60, help="the slice's first N cells")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    earlier = Path(tempfile.mkdtemp(prefix="oracle-runs-"))
    try:
        archive = subprocess.run(
            ["git", "archive", args.against], cwd=ROOT, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(earlier)], input=archive.stdout, check=True)
        seconds: dict[str, list[float]] = {"earlier": [], "this": []}
        digests: dict[str, set[str]] = {"earlier": set(), "this": set()}
        for repeat in range(args.repeats):
            for name, root in (("earlier", earlier), ("this", ROOT)):
                result = timed(root, args.cells)
                seconds[name].append(result["seconds"])
                digests[name].add(result["digest"])
                print(f"  repeat {repeat + 1}, {name}: {result['seconds']:.2f} s")
    finally:
        shutil.rmtree(earlier)

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
