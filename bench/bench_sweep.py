"""Runs per second of a sweep, locally (joblib) and on a local Ray, on the same cores.

The issue's grid is 6 strategies x 1,022 binary targets x 3 seeds x 20 rounds of 4 on the
shipped CNN's softmax outputs: 18,396 runs. This times a slice of it, every K-th target of the
1,022 (in the grid's order: by the number of positive digits, then the digits), with all six
strategies and three seeds, so that fast and slow strategies and easy and hard targets are in
the same proportions as in the whole grid. Each repeat runs the slice into a fresh folder with
each backend in turn (Ray's own start and shutdown included, as a sweep pays them); the
medians, the Ray / local ratio of seconds per run, and the projection to the whole grid are
printed.

    python bench/bench_sweep.py [--every 73] [--repeats 3] [--jobs 2]
    make bench-sweep
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT)]

# Every strategy but `margin`, which on a binary question picks what `uncertainty` picks, and
# `band`, the demo's own scheme.
STRATEGIES = ["diversity", "uncertainty", "entropy", "representative", "committee", "random"]
FULL_TARGETS, SEEDS, ROUNDS = 1_022, 3, 20
FULL_RUNS = len(STRATEGIES) * FULL_TARGETS * SEEDS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--every", type=int, default=73, help="every K-th of the 1,022 targets")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--jobs", type=int, default=2, help="cores for both backends")
    args = parser.parse_args()

    os.environ.setdefault("RAY_TMPDIR", tempfile.mkdtemp(prefix="ray", dir="/tmp"))
    from tl_active.data.features import load_features
    from tl_active.experiments.sweep.grid import ALL_TARGETS, Grid, grid_cells
    from tl_active.experiments.sweep.running import run_sweep

    every_target = Grid(targets=(ALL_TARGETS,)).tasks()
    targets = [t.name() for t in every_target[:: args.every]]
    grid = Grid(
        strategies=tuple(STRATEGIES),
        targets=tuple(targets),
        seeds=tuple(range(SEEDS)),
        rounds=(ROUNDS,),
    )
    features = load_features("mnist-cnn", "digits")
    runs = len(grid_cells(grid, "mnist-cnn", "digits"))
    print(
        f"slice: {len(STRATEGIES)} strategies x {len(targets)} targets (every {args.every}th "
        f"of {FULL_TARGETS:,}) x {SEEDS} seeds x {ROUNDS} rounds of 4 = {runs} runs, "
        f"{args.jobs} cores, {args.repeats} repeats"
    )
    seconds: dict[str, list[float]] = {"local": [], "ray": []}
    steady: dict[str, list[float]] = {"local": [], "ray": []}
    for repeat in range(args.repeats):
        for backend in ("local", "ray"):
            out = Path(tempfile.mkdtemp(prefix=f"sweep-{backend}-"))
            seen: list[tuple[float, int]] = []
            start = time.perf_counter()
            report = run_sweep(
                grid,
                out,
                lambda b, layer: features,
                backend=backend,
                jobs=args.jobs,
                progress=lambda done, total, seen=seen: seen.append((time.perf_counter(), done)),
            )
            wall = time.perf_counter() - start
            assert report.computed == runs, report
            # From the first finished chunk on: the rate once the workers are up.
            (first, n_first), (last, _) = next(s for s in seen if s[1] > 0), seen[-1]
            rate = (runs - n_first) / (last - first)
            seconds[backend].append(wall)
            steady[backend].append(rate)
            print(
                f"  repeat {repeat + 1}, {backend}: {wall:.1f} s, {runs / wall:.2f} runs/s "
                f"({rate:.2f} runs/s once started)"
            )

    local, ray = (statistics.median(seconds[b]) for b in ("local", "ray"))
    print()
    print("| backend | median wall | runs/s | once started | whole grid (18,396 runs) |")
    print("|---|---:|---:|---:|---:|")
    for backend, name in (("local", "local (joblib)"), ("ray", "ray (a local Ray)")):
        wall = statistics.median(seconds[backend])
        rate = runs / wall
        print(
            f"| {name} | {wall:.1f} s | {rate:.2f} | "
            f"{statistics.median(steady[backend]):.2f} | {FULL_RUNS / rate / 60:.0f} min |"
        )
    # Each repeat ran both backends one after the other: its ratio saw about the same load.
    paired = [r / lo for r, lo in zip(seconds["ray"], seconds["local"])]
    print(
        f"\nRay / local, seconds per run: {ray / local:.2f} from the medians, "
        f"{statistics.median(paired):.2f} the median of each repeat's own "
        f"({', '.join(f'{p:.2f}' for p in paired)}); target: at most 1.5"
    )
    per_core = statistics.median(steady["ray"]) / args.jobs
    print(
        f"projection on Ray at {per_core:.2f} runs/s per core once started: "
        + ", ".join(
            f"{n} cores {FULL_RUNS / (per_core * n) / 60:.1f} min" for n in (2, 16, 64, 256)
        )
    )


if __name__ == "__main__":
    main()
