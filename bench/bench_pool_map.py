"""The pool map's targets: how long UMAP takes on MNIST's 60,000-image pool the first time and from
the cache, whether the map keeps neighbours, and `python -m tl_active map` on a folder of
10,000 images.

    python bench/bench_pool_map.py [--repeats 5] [--folder-images 10000] [--skip-folder]

The first UMAP runs in a fresh process with an empty numba cache, so its time includes numba
compiling UMAP's functions; the second backbone's map follows in the same process, compiled.
Then a second fresh process maps the first backbone again with the numba cache the first one
left (`$NUMBA_CACHE_DIR`, as the app keeps it under `.cache/numba`): what every later server
process or `map` meets. The folder's `map` is timed the same two ways. The maps go into
temporary caches; the features come from the usual one. Each timing gives wall and CPU seconds
and the load average: on a shared machine it says how much of the two cores the measurement had.

    python bench/bench_pool_map.py --skip-warm     # the cold runs only
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAIRS = (("mnist-cnn", "embedding"), ("mnist-cnn-5to9", "embedding"))


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def children_cpu() -> float:
    """CPU seconds of this process's finished children, user and system."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def first_maps(cache: Path, pairs: int) -> list[dict]:
    """In this (fresh) process: the first `pairs` pairs' UMAP computed into `cache`, timed, with
    their accuracy."""
    from tl_active.data.features import load_features
    from tl_active.data.pool_map import PCA, UMAP, load_map, neighbour_accuracy

    results = []
    for backbone, layer in PAIRS[:pairs]:
        features = load_features(backbone, layer)
        before = load()
        start, start_cpu = time.perf_counter(), time.process_time()
        made = load_map(features, UMAP, cache)
        seconds, cpu = time.perf_counter() - start, time.process_time() - start_cpu
        start = time.perf_counter()
        pca = load_map(features, PCA, cache)
        pca_seconds = time.perf_counter() - start
        results.append(
            {
                "backbone": backbone,
                "layer": layer,
                "n_pool": features.pool_size,
                "umap_seconds": seconds,
                "umap_cpu": cpu,
                "load_before": before,
                "load_after": load(),
                "umap_knn5": neighbour_accuracy(made.xy, features.y_pool),
                "pca_seconds": pca_seconds,
                "pca_knn5": neighbour_accuracy(pca.xy, features.y_pool),
            }
        )
        print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    return results


def cached_reads(cache: Path, repeats: int) -> list[dict]:
    from tl_active.data.features import load_features
    from tl_active.data.pool_map import UMAP, load_map

    out = []
    for backbone, layer in PAIRS:
        features = load_features(backbone, layer)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            load_map(features, UMAP, cache)
            times.append(time.perf_counter() - start)
        out.append(
            {
                "backbone": backbone,
                "layer": layer,
                "cached_median": statistics.median(times),
                "cached_max": max(times),
                "load": load(),
            }
        )
    return out


def update_cost(rounds: int = 7) -> dict:
    """Server CPU of the map's update after a round, on MNIST's pool (60,000 images, 10,000 drawn
    plus the labelled and the batch): the table, the spec from its template and the Arrow bytes
    the page sends, as `ui/label/pool_map.py` makes them. Medians over `rounds` rounds of 16 answers."""
    import numpy as np
    import pyarrow as pa

    from tl_active import plots
    from tl_active.core.task import Task
    from tl_active.data.features import load_features
    from tl_active.data.pool_map import MAX_DRAWN, PCA, drawn_points, load_map
    from tl_active.sessions.records import SessionSettings
    from tl_active.sessions.session import LabellingSession

    features = load_features("mnist-cnn", "embedding")
    pool_map = load_map(features, PCA, Path(tempfile.mkdtemp()))
    session = LabellingSession(
        features,
        SessionSettings(task=Task.multiclass("0-9"), batch_size=16, layer="embedding"),
    )
    kind = features.kind
    base = drawn_points(session.data.size, (), MAX_DRAWN)
    base_names = pa.array([kind.short_name(int(i)) for i in base], pa.string())
    cpu, wall, sizes = [], [], []
    for _ in range(rounds):
        session.answer_by_truth()
        start_cpu, start = time.process_time(), time.perf_counter()
        batch = [p.index for p in session.next_batch()]
        labelled = {
            int(i): session.answer_values[k] for i, k in zip(session.labelled, session.labels)
        }
        must = session.data.local([*labelled, *batch])
        extra = np.setdiff1d(must[must >= 0], base)
        positions = np.concatenate([base, extra])
        names = pa.concat_arrays(
            [base_names, pa.array([kind.short_name(int(i)) for i in extra], pa.string())]
        )
        whole = session.data.pool_index[positions]
        points = plots.MapPoints(
            positions, whole, pool_map.xy[whole, 0], pool_map.xy[whole, 1], names
        )
        live = plots.map_live(
            points,
            session.proba_pool,
            session.p_pool,
            session.answer_values,
            labelled,
            batch,
            "umap",
        )
        spec = plots.live_spec(live)
        sink = pa.BufferOutputStream()
        table = spec["datasets"]["pool_map"]
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
        sizes.append(sink.getvalue().size)
        cpu.append(time.process_time() - start_cpu)
        wall.append(time.perf_counter() - start)
    return {
        "cpu_median": statistics.median(cpu[1:]),  # the first round makes the spec's template
        "wall_median": statistics.median(wall[1:]),
        "bytes": sizes[-1],
        "points": len(positions),
        "load": load(),
    }


def folder_map(n_images: int, work: Path, warm: bool) -> dict:
    """`features` then `map` on a folder of `n_images` MNIST PNGs, each a fresh process: `map`
    with an empty numba cache, again with the cache it left (the map's files removed between),
    and with the map cached."""
    sys.path.insert(0, str(ROOT / "bench"))
    from image_throughput import write_digit_pngs

    folder = write_digit_pngs(work / "digits", n_images)
    cache = work / "cache"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_CACHE_DIR": str(work / "numba-folder")}
    timings = {}
    runs = [
        ("features", ["features"]),
        ("map, numba cold", ["map", "--out", str(work / "map.parquet")]),
        *([("map, numba warm", ["map", "--out", str(work / "map.parquet")])] if warm else []),
        ("map, map cached", ["map", "--out", str(work / "map.csv")]),
    ]
    for name, command in runs:
        if name == "map, numba warm":
            for made in cache.glob("map-*"):
                made.unlink()  # the map computed again, with numba's functions kept
        before = load()
        cpu = children_cpu()
        start = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "tl_active",
                "--cache",
                str(cache),
                *command,
                "--images",
                str(folder),
            ],  # fmt: skip
            env=env,
            capture_output=True,
            text=True,
        )
        timings[name] = {
            "seconds": time.perf_counter() - start,
            "cpu": children_cpu() - cpu,
            "load_before": before,
            "load_after": load(),
            "status": done.returncode,
            "said": done.stdout.strip().splitlines()[-3:],
        }
        print(json.dumps({name: timings[name]}), file=sys.stderr, flush=True)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--folder-images", type=int, default=10_000)
    parser.add_argument("--skip-folder", action="store_true")
    parser.add_argument("--folder-only", action="store_true", help="only the folder's timings")
    parser.add_argument(
        "--skip-warm", action="store_true", help="no second run with numba's cache warm"
    )
    parser.add_argument(
        "--update-only", action="store_true", help="only the server CPU of a round's update"
    )
    parser.add_argument("--first-into", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--pairs", type=int, default=len(PAIRS), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.first_into:  # the fresh process
        print(json.dumps(first_maps(args.first_into, args.pairs)))
        return
    if not args.folder_only:
        row = update_cost()
        print(
            f"the map's update after a round ({row['points']:,} points, "
            f"{row['bytes'] / 1e3:.0f} kB of Arrow): server CPU median "
            f"{row['cpu_median'] * 1000:.0f} ms, wall {row['wall_median'] * 1000:.0f} ms "
            f"(load {row['load']})"
        )
    if args.update_only:
        return
    with tempfile.TemporaryDirectory() as work:
        numba_cache = Path(work) / "numba"
        runs = [("numba cold", Path(work) / "maps", len(PAIRS))]
        if not args.skip_warm:
            runs.append(("numba warm", Path(work) / "maps-again", 1))
        if args.folder_only:
            runs = []
        for name, cache, pairs in runs:
            started = time.perf_counter()
            child = subprocess.run(
                [sys.executable, __file__, "--first-into", str(cache), "--pairs", str(pairs)],
                env={**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_CACHE_DIR": str(numba_cache)},
                capture_output=True,
                text=True,
            )
            if child.returncode:
                sys.exit(child.stderr)
            first = json.loads(child.stdout.strip().splitlines()[-1])
            print(f"fresh process, {name}, {time.perf_counter() - started:.0f} s in all")
            for row in first:
                print(
                    f"{row['backbone']} / {row['layer']} ({row['n_pool']:,} images): UMAP "
                    f"{row['umap_seconds']:.1f} s, CPU {row['umap_cpu']:.1f} s (load "
                    f"{row['load_before']} -> {row['load_after']}), "
                    f"5-NN on the map {row['umap_knn5']:.2%}; PCA {row['pca_seconds']:.2f} s, "
                    f"5-NN {row['pca_knn5']:.2%}"
                )
        cache = Path(work) / "maps"
        for row in [] if args.folder_only else cached_reads(cache, args.repeats):
            print(
                f"{row['backbone']} / {row['layer']}: from the cache, median "
                f"{row['cached_median'] * 1000:.0f} ms of {args.repeats} (max "
                f"{row['cached_max'] * 1000:.0f} ms; load {row['load']})"
            )
        if not args.skip_folder:
            timings = folder_map(args.folder_images, Path(work), not args.skip_warm)
            for name, row in timings.items():
                print(
                    f"folder of {args.folder_images:,} PNGs, `{name}`: {row['seconds']:.1f} s, "
                    f"CPU {row['cpu']:.1f} s (load {row['load_before']} -> "
                    f"{row['load_after']}), exit {row['status']}: "
                    f"{' | '.join(row['said'])}"
                )


if __name__ == "__main__":
    main()
