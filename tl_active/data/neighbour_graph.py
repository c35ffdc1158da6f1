"""Each pool image's nearest neighbours in the frozen features, made once and kept on disk.

The pool-taught head spreads answers along this table (`core/pool_teacher.py`). Finding the
neighbours of 30,000 images of a 128-wide layer takes seconds (an exact search, never an
n x n matrix in memory), too long for a round and too long to repeat at every start: the
table is kept beside the features under `.cache/`, named by the features' cache key, the
task's pool (a digest of its images' indices) and k, and in memory with the task's data.
A damaged or foreign file is computed again; an unwritable cache only warns. A pool of fewer
than `KEPT_FROM` images is searched in well under a second, and kept in memory only.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

from tl_active.core.strategies.neighbours import find_neighbours, table_name
from tl_active.data.features import FeatureSet, TaskData
from tl_active.paths import CACHE_DIR

KEPT_FROM = 5_000


def neighbours_path(
    features: FeatureSet, data: TaskData, k: int, cache_dir: Path, standardised: bool = False
) -> Path:
    """Where the table of this task's pool is kept: beside the features, named by their key."""
    pool = hashlib.sha256(np.ascontiguousarray(data.pool_index, np.int64).tobytes()).hexdigest()
    scaled = "-standardised" if standardised else ""
    return Path(cache_dir) / f"knn-{features.key}-{pool[:12]}-k{k}{scaled}.npz"


def task_neighbours(
    features: FeatureSet,
    data: TaskData,
    k: int,
    cache_dir: Path = CACHE_DIR,
    standardised: bool = False,
) -> np.ndarray:
    """The neighbour table of a task's pool: from memory, from the cache, or found and kept.
    `standardised`: found on the features scaled per unit (`neighbours.standardise`)."""

    def make(pool: np.ndarray) -> np.ndarray:
        kept = bool(features.key) and len(pool) >= KEPT_FROM
        path = neighbours_path(features, data, k, cache_dir, standardised)
        found = _read(path, features.key, len(pool), k) if kept else None
        if found is None:
            found = find_neighbours(pool, k, standardised)
            if kept:
                _write(path, features.key, found)
        return found

    return data.derived(table_name(k, standardised), make)


def _read(path: Path, key: str, n: int, k: int) -> np.ndarray | None:
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            table = archive["neighbours"]
            if str(archive["key"]) != key or table.shape != (n, min(k, n - 1)):
                return None
            if len(table) and not (0 <= table.min() and table.max() < n):
                return None
            return table
    except Exception:
        # A damaged file fails in many ways inside numpy and zipfile: it is found again.
        return None


def _write(path: Path, key: str, table: np.ndarray) -> None:
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
        os.close(handle)
        np.savez(tmp, key=np.array(key), neighbours=table)
        os.replace(tmp, path)
        tmp = None
    except OSError as error:
        print(
            f"warning: the neighbour table could not be kept at {path} "
            f"({error.strerror or error}); it will be found again next time",
            file=sys.stderr,
        )
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.remove(tmp)
