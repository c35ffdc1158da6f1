"""This checkout against an earlier commit, in alternating processes.

The benchmarks that compare two commits (`bench_oracle_runs.py`, `bench_pool_round.py`) take
the earlier commit's files with `git archive` into a temporary folder, then run the same
script once per side and repeat, each in a fresh process with its side's checkout first on
`sys.path`, the sides alternating so that both see about the same load. The script prints its
result as JSON on its last line.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SIDES = ("earlier", "this")


def timed(template: str, root: Path, **fields) -> dict:
    """The JSON that `template` prints, run in a fresh process in `root`; the template is
    filled with `root`, the shared feature cache `cache` and `fields`."""
    script = template.format(root=str(root), cache=str(ROOT / ".cache"), **fields)
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=root, capture_output=True, text=True, check=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def alternating(
    template: str, against: str, repeats: int, **fields
) -> Iterator[tuple[int, str, dict]]:
    """Each repeat's result for the earlier commit `against` (any git name), then for this
    checkout: (repeat, "earlier" or "this", the result). The earlier files are removed at the
    end, or when the caller stops early."""
    earlier = Path(tempfile.mkdtemp(prefix="bench-earlier-"))
    try:
        archive = subprocess.run(
            ["git", "archive", against], cwd=ROOT, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(earlier)], input=archive.stdout, check=True)
        for repeat in range(repeats):
            for side, root in zip(SIDES, (earlier, ROOT)):
                yield repeat, side, timed(template, root, **fields)
    finally:
        shutil.rmtree(earlier)
