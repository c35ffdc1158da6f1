"""What decoding every image costs a folder's scan: `python bench/bench_scan.py [--pngs N]
[--jpegs M] [--repeats R]`.

`scan_folder` decodes each image once (a JPEG at an eighth of its size), so that a file damaged
after a sound header is skipped rather than counted. The baseline, in the same run on the same
folder, reads each file and its header only, as the scan did before. Medians over the repeats,
alternating the two, on a folder of MNIST digits as PNGs (28 px) and of photo-sized JPEGs
(1024 x 768) written first and not timed.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from image_folders import write_class_folder  # noqa: E402

from tl_active.data.images import IMAGE_SUFFIXES, scan_folder  # noqa: E402


def headers_only(root: Path) -> int:
    """The baseline: every candidate's bytes read and checksummed and its header parsed, as the
    scan did before; nothing decoded."""
    n = 0
    for path in sorted(root.rglob("*")):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            data = path.read_bytes()
            hashlib.sha256(data).digest()
            with Image.open(io.BytesIO(data)) as image:
                image.size  # noqa: B018
            n += 1
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pngs", type=int, default=1000)
    parser.add_argument("--jpegs", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "folder"
        half = args.pngs // 2
        write_class_folder(root, {"one": (1, half), "seven": (7, args.pngs - half)})
        (root / "photos").mkdir()
        rng = np.random.default_rng(0)
        for i in range(args.jpegs):
            pixels = rng.integers(0, 255, (768, 1024, 3), np.uint8)
            Image.fromarray(pixels).save(root / "photos" / f"{i:04d}.jpg", quality=85)
        timings: dict[str, list[float]] = {"headers only (before)": [], "decoded (scan_folder)": []}
        for _ in range(args.repeats):
            for name, scan in (
                ("headers only (before)", headers_only),
                ("decoded (scan_folder)", scan_folder),
            ):
                start = time.perf_counter()
                scan(root)
                timings[name].append(time.perf_counter() - start)
        n = len(scan_folder(root))
        print(f"{n:,} images ({args.pngs:,} PNGs of 28 px, {args.jpegs:,} JPEGs of 1024 x 768):")
        for name, seconds in timings.items():
            print(f"  {name:24s} median {statistics.median(seconds) * 1000:7.0f} ms")


if __name__ == "__main__":
    main()
