"""`python -m tl_active bench` (`make bench`): how long a labelling round takes, against the demo's
way, in the same run.

The benchmark itself is the checkout's `bench/bench_round.py`, beside the other benchmarks; this
command declares its options and runs it. An installed package without its checkout has no
`bench/` folder, and the command says so in one line.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from tl_active.errors import TlActiveError
from tl_active.paths import PROJECT_ROOT

BENCH_DIR = PROJECT_ROOT / "bench"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=30, help="rounds timed per strategy")
    parser.add_argument("--demo-repeats", type=int, default=3, help="timed demo-way rounds")
    parser.add_argument("--seeds", type=int, default=5, help="seeds for the head-mode comparison")
    parser.add_argument(
        "--no-images", action="store_true", help="leave out the image-folder throughput"
    )


def run(args: argparse.Namespace) -> None:
    if not (BENCH_DIR / "bench_round.py").is_file():
        raise TlActiveError(
            f"the benchmarks live in a checkout's bench/ folder, and {BENCH_DIR} is not one: "
            "run `python -m tl_active bench` from a clone of tl-active"
        )
    # The benchmarks import each other by file name (bench_round reads image_throughput).
    if str(BENCH_DIR) not in sys.path:
        sys.path.insert(0, str(BENCH_DIR))
    importlib.import_module("bench_round").main(args)
