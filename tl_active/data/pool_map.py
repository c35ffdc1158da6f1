"""The pool map: every pool image as a point on a plane, laid out as the frozen network sees it.

The map is a 2-D projection of the features the head reads. UMAP keeps each image near its
neighbours in the layer's space, so the classes the network tells apart become islands; it is
seeded, so the same features always give the same map, and it is computed once per backbone,
layer and data (the features' cache key) and cached beside the features under `.cache/`, in
two stages: each image's nearest neighbours, then the layout. A stopped computation resumes
from the neighbours, and a damaged file is computed again. PCA's two leading components give a
map at once, for while UMAP computes (seconds, against UMAP's minutes on MNIST's pool).

The map covers the whole pool, so any image can be placed; what a page draws of it is a
seeded sample (`drawn_points`) plus every image it must show.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tl_active.data.features import FeatureSet
from tl_active.errors import DataError
from tl_active.paths import CACHE_DIR

UMAP, PCA = "umap", "pca"
METHODS = (UMAP, PCA)
# umap-learn's own defaults, written out: they are part of the cache key, so a change to any of
# them makes a new map rather than serving an old one under new settings.
UMAP_SETTINGS = {
    "n_neighbors": 15,
    "min_dist": 0.1,
    "metric": "euclidean",
    "seed": 0,
    "neighbours": "exact",  # each image's neighbours found exactly (see `_neighbours`)
}
MAX_DRAWN = 10_000  # points a page draws, besides the labelled and the open batch
FORMAT = 1

# (fraction done in [0, 1], what is being done now)
MapProgress = Callable[[float, str], None]


@dataclass(frozen=True)
class PoolMap:
    """Where each pool image lies on the map: `xy[i]` is pool image i's point."""

    xy: np.ndarray  # (n_pool, 2) float32
    method: str  # UMAP or PCA
    key: str  # the features' cache key it was computed from
    seconds: float  # how long computing it took (not reading it from the cache)

    @property
    def size(self) -> int:
        return len(self.xy)


def _settings_tag(method: str) -> str:
    settings = UMAP_SETTINGS if method == UMAP else {}
    text = json.dumps({"method": method, "format": FORMAT, **settings}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:8]


def map_path(features: FeatureSet, method: str = UMAP, cache_dir: Path = CACHE_DIR) -> Path:
    """Where the map of these features is cached: beside them, named by their key."""
    if method not in METHODS:
        raise ValueError(f"a map is made with {' or '.join(METHODS)}, not {method!r}")
    return Path(cache_dir) / f"map-{features.key}-{method}.{_settings_tag(method)}.npz"


def neighbours_path(features: FeatureSet, cache_dir: Path = CACHE_DIR) -> Path:
    """Where the first stage of a UMAP map (each image's nearest neighbours) is kept."""
    return Path(cache_dir) / f"map-{features.key}-neighbours.{_settings_tag(UMAP)}.npz"


def _read(path: Path, key: str, fields: Sequence[str]) -> dict | None:
    """The arrays of a cache file, or None when it is absent, another key's or damaged."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            if str(archive["key"]) != key:
                return None
            return {name: archive[name] for name in fields}
    except Exception:
        # A damaged file fails in many ways inside numpy and zipfile; whichever, it is
        # recomputed (as the feature cache does).
        return None


def _write(path: Path, key: str, **arrays: np.ndarray) -> None:
    """Keep `arrays` at `path`, written beside it and renamed; an unwritable cache only warns."""
    if not key:
        return  # features made without a cache key (a test's) are never cached
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
        os.close(handle)
        np.savez(tmp, key=np.array(key), **arrays)
        os.replace(tmp, path)
        tmp = None
    except OSError as error:
        print(
            f"warning: the pool map could not be cached at {path} ({error.strerror or error}); "
            "it will be computed again next time",
            file=sys.stderr,
        )
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.remove(tmp)


def _valid_xy(xy: np.ndarray, n_pool: int) -> bool:
    return xy.shape == (n_pool, 2) and bool(np.isfinite(xy).all())


def cached_map(
    features: FeatureSet, method: str = UMAP, cache_dir: Path = CACHE_DIR
) -> PoolMap | None:
    """The cached map of these features, or None if it has not been computed (or is damaged)."""
    if not features.key:
        return None
    found = _read(map_path(features, method, cache_dir), features.key, ("xy", "seconds"))
    if found is None or not _valid_xy(found["xy"], features.pool_size):
        return None
    return PoolMap(found["xy"], method, features.key, float(found["seconds"]))


def pca_xy(pool: np.ndarray, seed: int = 0) -> np.ndarray:
    """The pool on its two leading principal components (randomised SVD: fast on any width)."""
    from sklearn.decomposition import PCA as _PCA

    if len(pool) < 3:
        raise DataError(f"a map needs at least 3 pool images, not {len(pool)}")
    x = np.asarray(pool, np.float32)
    return _PCA(2, svd_solver="randomized", random_state=seed).fit_transform(x).astype(np.float32)


NUMBA_FOLDER = "numba"  # under the cache folder: UMAP's compiled functions, kept between processes


def _import_umap(cache_dir: Path = CACHE_DIR):
    """umap, with its compiled functions kept in `cache_dir/numba` (or `$NUMBA_CACHE_DIR`).

    numba compiles UMAP's functions in every new process (tens of seconds of CPU) unless they
    are cached, and umap-learn marks few of them `cache=True`; caching is turned on here for the
    rest of them, as `cache=True` does, before any is compiled. The folder is numba's own cache
    (keyed by each function's source file and the CPU), so a new umap-learn compiles afresh.
    """
    folder = os.environ.get("NUMBA_CACHE_DIR") or str(Path(cache_dir) / NUMBA_FOLDER)
    if "numba" not in sys.modules:
        # Read by numba on import; pynndescent's functions, cached on import, go there too.
        os.environ["NUMBA_CACHE_DIR"] = folder
    # umap's package imports its ParametricUMAP, which imports TensorFlow (seconds and hundreds
    # of megabytes) when it is installed; the map never uses it, so that import is refused
    # (a None in sys.modules makes it an ImportError, which umap catches).
    if "umap" not in sys.modules:
        sys.modules.setdefault("umap.parametric_umap", None)
    import numba
    import umap

    if not numba.config.CACHE_DIR:
        numba.config.CACHE_DIR = folder
    # pynndescent marks what it can cache itself (its neighbour descent uses dynamic globals,
    # which numba cannot keep); umap leaves its layout and fuzzy set functions unmarked.
    _cache_compiled(("umap",))
    return umap


def _cache_compiled(packages: Sequence[str]) -> None:
    """Turn on numba's on-disk cache for the jitted functions of these packages' modules."""
    from numba.core.caching import NullCache
    from numba.core.registry import CPUDispatcher

    for name, module in list(sys.modules.items()):
        if module is None or name.split(".")[0] not in packages:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, CPUDispatcher) and isinstance(value._cache, NullCache):
                with contextlib.suppress(Exception):
                    # A function numba cannot cache (no source file, say) stays uncached.
                    value.enable_caching()


def _neighbours(pool: np.ndarray, path: Path, key: str) -> tuple[np.ndarray, np.ndarray]:
    found = _read(path, key, ("indices", "distances"))
    k = UMAP_SETTINGS["n_neighbors"]
    if found is not None and found["indices"].shape == (len(pool), k) == found["distances"].shape:
        return found["indices"], found["distances"]
    from sklearn.neighbors import NearestNeighbors

    # Exact neighbours by scikit-learn (BLAS distances, or a tree on a narrow layer), where umap
    # would ask pynndescent for approximate ones: its neighbour descent is compiled by numba
    # in every process (it cannot be cached), about 30 s of CPU, against well under a second
    # for an exact search of 8,000 images; on MNIST's pool the two agree on all but 1 in 40,000.
    search = NearestNeighbors(n_neighbors=k, metric=UMAP_SETTINGS["metric"], n_jobs=1)
    distances, indices = search.fit(pool).kneighbors(pool)
    indices, distances = indices.astype(np.int32), distances.astype(np.float32)
    _write(path, key, indices=indices, distances=distances)
    return indices, distances


def umap_xy(
    features: FeatureSet, cache_dir: Path = CACHE_DIR, progress: MapProgress | None = None
) -> np.ndarray:
    """The pool laid out by UMAP, seeded (one thread: a seeded UMAP runs on one anyway)."""
    pool = np.asarray(features.pool, np.float32)
    if len(pool) <= UMAP_SETTINGS["n_neighbors"]:
        raise DataError(
            f"a UMAP map needs more than {UMAP_SETTINGS['n_neighbors']} pool images, "
            f"not {len(pool)}"
        )
    say = progress or (lambda done, what: None)
    say(0.0, "loading UMAP")
    umap = _import_umap(cache_dir)
    say(0.05, "finding each image's nearest neighbours")
    indices, distances = _neighbours(pool, neighbours_path(features, cache_dir), features.key)
    say(0.5, "laying out the map")
    reducer = umap.UMAP(
        n_neighbors=UMAP_SETTINGS["n_neighbors"],
        min_dist=UMAP_SETTINGS["min_dist"],
        metric=UMAP_SETTINGS["metric"],
        random_state=UMAP_SETTINGS["seed"],
        n_jobs=1,
        precomputed_knn=(indices, distances, None),
    )
    import warnings

    with warnings.catch_warnings():
        # "n_jobs overridden by setting random_state" and "no knn_search_index": both are what
        # is asked for here (one seeded thread; a map that is never asked to place new images).
        warnings.simplefilter("ignore", UserWarning)
        xy = reducer.fit_transform(pool).astype(np.float32)
    say(1.0, "done")
    return xy


_locks: dict[Path, threading.Lock] = {}
_locks_lock = threading.Lock()


def _lock_for(path: Path) -> threading.Lock:
    with _locks_lock:
        return _locks.setdefault(path, threading.Lock())


def load_map(
    features: FeatureSet,
    method: str = UMAP,
    cache_dir: Path = CACHE_DIR,
    progress: MapProgress | None = None,
) -> PoolMap:
    """The map of these features: cached, or computed and cached (one computation at a time
    per map in a process, so two sessions that ask at once share it)."""
    path = map_path(features, method, cache_dir)
    with _lock_for(path):
        found = cached_map(features, method, cache_dir)
        if found is not None:
            if progress:
                progress(1.0, "read from the cache")
            return found
        start = time.perf_counter()
        if method == PCA:
            xy = pca_xy(features.pool)
        else:
            xy = umap_xy(features, cache_dir, progress)
        seconds = time.perf_counter() - start
        _write(path, features.key, xy=xy, seconds=np.array(seconds))
        return PoolMap(xy, method, features.key, seconds)


def drawn_points(
    n_pool: int, must: Sequence[int] = (), limit: int = MAX_DRAWN, seed: int = 0
) -> np.ndarray:
    """The pool indices a page draws: a seeded sample of at most `limit`, plus every one of
    `must` (the labelled images, the open batch), sorted.

    The sample depends only on the pool's size, the limit and the seed, so it stays the same
    from round to round and only the points of newly labelled images join it.
    """
    if n_pool <= limit:
        base = np.arange(n_pool)
    else:
        base = np.sort(np.random.default_rng(seed).choice(n_pool, limit, replace=False))
    extra = np.asarray(must, np.intp)
    extra = extra[(extra >= 0) & (extra < n_pool)]
    return np.union1d(base, extra)


def neighbour_accuracy(
    xy: np.ndarray, y: np.ndarray, k: int = 5, folds: int = 5, seed: int = 0
) -> float:
    """How well a map keeps neighbours: the accuracy of a k-nearest-neighbour classifier on the
    map's points, cross-validated (`folds` shuffled folds)."""
    from sklearn.model_selection import KFold, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    split = KFold(folds, shuffle=True, random_state=seed)
    return float(cross_val_score(KNeighborsClassifier(k), xy, y, cv=split).mean())


# The page's UMAP runs in a process of its own: numba holds the GIL through each step of the
# layout and of the neighbour search (up to seconds on a busy machine), which would stall every
# other session of the server for as long. Tests that stand in for UMAP turn it off.
SEPARATE_PROCESS = True


def _compute_in_child(folder: Path, cache_dir: Path) -> None:
    """In the map's own process: compute and cache the map of the pool saved in `folder`,
    saying how far it got on stdout, one line a message (`python -m tl_active.data.pool_map`)."""

    def say(*message) -> None:
        print(json.dumps(message), flush=True)

    try:
        meta = json.loads((folder / "features.json").read_text(encoding="utf-8"))
        pool = np.load(folder / "pool.npy", allow_pickle=False)
        features = FeatureSet(
            pool=pool,
            test=pool[:0],
            y_pool=np.zeros(len(pool), np.intp),
            y_test=np.zeros(0, np.intp),
            backbone=meta["backbone"],
            layer=meta["layer"],
            key=meta["key"],
        )
        load_map(features, UMAP, cache_dir, lambda done, what: say("progress", done, what))
        say("done")
    except Exception as error:
        say("error", f"{error}")


class MapJob:
    """A UMAP map computed in the background, for a page that draws the PCA map meanwhile.

    `progress` is the last (fraction, what) said; `result` the map once done; `error` what went
    wrong, in one line. One job per map in a process (`map_in_background`), so the sessions that
    open the same features share it.
    """

    def __init__(self, features: FeatureSet, cache_dir: Path = CACHE_DIR):
        self.progress: tuple[float, str] = (0.0, "waiting to start")
        self.result: PoolMap | None = None
        self.error: str | None = None
        self._done = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(features, cache_dir), name="pool-map", daemon=True
        )
        self._thread.start()

    def _run(self, features: FeatureSet, cache_dir: Path) -> None:
        try:
            if SEPARATE_PROCESS and features.key and cached_map(features, UMAP, cache_dir) is None:
                self._run_in_child(features, cache_dir)
            # The child's map, from the cache (computed here only if it could not be kept).
            self.result = load_map(features, UMAP, cache_dir, self._say)
        except Exception as error:  # shown on the page; the PCA map stays
            self.error = f"the UMAP map could not be computed: {error}"
        finally:
            self._done.set()

    def _run_in_child(self, features: FeatureSet, cache_dir: Path) -> None:
        import subprocess

        # A fresh interpreter, not a fork of a server that holds threads and TensorFlow, and not
        # multiprocessing's spawn, which runs the parent's __main__ again in the child: in a
        # Streamlit server (and under AppTest) that is a page script. Only what the map needs
        # travels: the pool and its names, through a temporary folder beside the cache.
        cache_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".map-job-") as folder:
            folder = Path(folder)
            np.save(folder / "pool.npy", np.asarray(features.pool, np.float32))
            (folder / "features.json").write_text(
                json.dumps(
                    {"backbone": features.backbone, "layer": features.layer, "key": features.key}
                ),
                encoding="utf-8",
            )
            child = subprocess.Popen(
                [sys.executable, "-m", "tl_active.data.pool_map", str(folder), str(cache_dir)],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            outcome = None
            try:
                for line in child.stdout:
                    try:
                        message = json.loads(line)
                    except ValueError:
                        continue  # a library's own print, not one of ours
                    if not isinstance(message, list) or not message:
                        continue
                    if message[0] == "progress":
                        self._say(message[1], message[2])
                    else:
                        outcome = message
            finally:
                child.stdout.close()
                code = child.wait()
        if outcome is None:
            raise DataError(f"the process computing the map stopped (exit code {code})")
        if outcome[0] == "error":
            raise DataError(outcome[1])

    def _say(self, done: float, what: str) -> None:
        self.progress = (done, what)

    @property
    def done(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        return self._done.wait(timeout)


_jobs: dict[Path, MapJob] = {}


def map_in_background(features: FeatureSet, cache_dir: Path = CACHE_DIR) -> MapJob:
    """The job that computes (or has computed) the UMAP map of these features in this process."""
    path = map_path(features, UMAP, cache_dir)
    with _locks_lock:
        job = _jobs.get(path)
        if job is None:  # a failed job stays, with its error: the page says it once
            job = _jobs[path] = MapJob(features, cache_dir)
        return job


if __name__ == "__main__":
    _compute_in_child(Path(sys.argv[1]), Path(sys.argv[2]))
