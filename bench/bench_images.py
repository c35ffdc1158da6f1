"""Features for a folder of PNGs: 10,000 MNIST digits with the shipped CNN (target: under 30 s),
and a 100,000-image folder computed without holding its images in memory (peak memory reported).

    python bench/bench_images.py [--n 10000] [--large 100000] [--keep DIR]

Each size runs in a child process of its own, so its peak resident memory (ru_maxrss) is its
own; it scans the folder (reading every file for the checksum), decodes every image, runs the
network in batches and writes the memory-mapped cache, from a cold cache. The folders are
written first and not timed.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def child(folder: str, cache: str) -> None:
    from tl_active.data.folder_features import load_folder_features
    from tl_active.data.images import scan_folder

    ticks = []
    started = time.perf_counter()
    scanned = scan_folder(folder)
    scan_seconds = time.perf_counter() - started
    features = load_folder_features(
        scanned, "mnist-cnn", "digits", Path(cache), lambda d, t: ticks.append(d)
    )
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n = features.pool_size + len(features.test)
    print(
        json.dumps(
            {
                "images": n,
                "seconds": seconds,
                "scan_seconds": scan_seconds,
                "peak_mb": peak_mb,
                "progress_updates": len(ticks),
                "features_mb": (features.pool.nbytes + features.test.nbytes) / 1024**2,
            }
        )
    )


def run(n: int, workdir: Path) -> dict:
    from image_throughput import write_digit_pngs

    folder = workdir / f"digits-{n}"
    if not folder.is_dir():
        started = time.perf_counter()
        write_digit_pngs(folder, n)
        print(f"wrote {n:,} PNGs in {time.perf_counter() - started:.0f} s", flush=True)
    pixels_mb = n * 28 * 28 * 4 / 1024**2
    with tempfile.TemporaryDirectory() as cache:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(folder), cache],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    result["all_pixels_mb"] = pixels_mb
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=100_000, help="0 leaves the large run out")
    parser.add_argument("--keep", type=Path, help="write the folders here and keep them")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    with tempfile.TemporaryDirectory() as tmp:
        workdir = args.keep or Path(tmp)
        for n in [args.n] + ([args.large] if args.large else []):
            r = run(n, workdir)
            print(
                f"{r['images']:,} PNGs, mnist-cnn / digits, cold cache: {r['seconds']:.1f} s "
                f"({r['images'] / r['seconds']:,.0f} images/s; scan and checksum "
                f"{r['scan_seconds']:.1f} s), {r['progress_updates']} progress updates; peak "
                f"memory {r['peak_mb']:,.0f} MB (all its pixels as float32 would be "
                f"{r['all_pixels_mb']:,.0f} MB; its features {r['features_mb']:,.1f} MB)",
                flush=True,
            )


if __name__ == "__main__":
    main()
