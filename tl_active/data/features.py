"""A frozen backbone's outputs at one layer for every image, computed once and cached on disk.

The backbone never changes while people label, so the outputs of the layer under the head are
computed once per backbone, layer and data file and stored under `.cache/`, outside git. The
cache key holds the model file's checksum, the layer and the data file's checksum, so a
retrained model, another layer or another data file never reuses stale features; a damaged
cache file is recomputed. Reading a cached file needs no TensorFlow, which keeps start-up short.

A `FeatureSet` is the whole data set as the backbone sees it. A task (see `task.py`) looks at
part of it through a `TaskData`: the pool and test images of its classes, the answer each should
get, and the clusters of the pool that the spreading strategies work from (k-means on the
features, one cluster per class present, since the backbone's own argmax means nothing on a
backbone that never saw the classes).
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import os
import re
import reprlib
import tempfile
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from tl_active.core.head import on_simplex
from tl_active.core.task import DIGITS, Task
from tl_active.data.backbones import Backbone, default_layer, resolve_backbone
from tl_active.data.images import ImageSource
from tl_active.data.kinds import DataKind, ImageFolderKind, MnistKind
from tl_active.data.mnist import file_checksum, load_mnist
from tl_active.errors import DataError, ModelError
from tl_active.paths import CACHE_DIR, MNIST_PATH, file_in_the_way

Progress = Callable[[int, int], None]
_WHOLE_POOL = "clustering of the whole pool"


@dataclass(frozen=True)
class FeatureSet:
    """One backbone's view of the data at one layer: everything a session needs, as arrays."""

    pool: np.ndarray  # (n_pool, width) float32: what the head reads for each pool image
    test: np.ndarray  # (n_test, width) float32, held out for evaluation
    y_pool: np.ndarray  # (n_pool,) class indices, used by auto-labelling, checks and the oracle
    y_test: np.ndarray  # (n_test,) class indices
    class_names: tuple[str, ...] = DIGITS
    backbone: str = "mnist-cnn"
    layer: str = "digits"
    key: str = ""  # model checksum, layer and data checksum the features were computed from
    # A person's image folder (None: MNIST): its path, checksum and the path of each image.
    source: ImageSource | None = None
    # What the items are (see `kinds`), as the loader gives it; None: it follows from `source`.
    data_kind: DataKind | None = field(default=None, repr=False, compare=False)
    _tasks: dict = field(default_factory=dict, repr=False, compare=False)
    _derived: dict = field(default_factory=dict, repr=False, compare=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def __post_init__(self) -> None:
        # What is made from the arrays starts afresh, also in a set that `dataclasses.replace`
        # makes from another (which would otherwise share the other's per-task views).
        for name, empty in (("_tasks", {}), ("_derived", {}), ("_lock", threading.Lock())):
            object.__setattr__(self, name, empty)
        # A NaN or infinite output would become a NaN score that every strategy ranks, and a head
        # that fits nothing: such features are a broken model's, never served.
        for name in ("pool", "test"):
            values = np.asarray(getattr(self, name))
            if not np.isfinite(values).all():
                rows = int((~np.isfinite(values.reshape(len(values), -1))).any(axis=1).sum())
                raise ModelError(
                    f"layer {self.layer!r} of {self.backbone} gives NaN or infinite outputs for "
                    f"{rows:,} of the {len(values):,} {name} images: the model or its cached "
                    "features are broken; check the model file or choose another layer"
                )

    @property
    def pool_size(self) -> int:
        return len(self.pool)

    @property
    def width(self) -> int:
        return self.pool.shape[1]

    @cached_property
    def kind(self) -> DataKind:
        """What the items are, how people see them, what their truth is called (see `kinds`)."""
        if self.data_kind is not None:
            return self.data_kind
        # A set made without its loader (a test's, or one given another source): a folder's
        # images if it has a folder, else MNIST's digits.
        if self.source is None:
            return MnistKind(class_names=self.class_names)
        return ImageFolderKind(self.source, self.class_names)

    @property
    def has_truth(self) -> bool:
        """Whether the images have known classes (MNIST, a folder of class folders)."""
        return self.kind.has_truth

    @property
    def model_checksum(self) -> str:
        return self.key.split("-")[0] if self.key else ""

    @cached_property
    def simplex(self) -> bool:
        """Whether every row is a probability distribution (a softmax layer's outputs).

        On such inputs a head's bias is the same as adding it to every weight, so heads hold it
        at 0 (see `head.py`).
        """
        return on_simplex(self.pool) and on_simplex(self.test)

    def task_data(self, task: Task) -> TaskData:
        """The part of the data a task looks at; made once per task and shared (thread-safe)."""
        with self._lock:
            if task not in self._tasks:
                # Every binary task reads the whole pool, so one clustering serves them all: a
                # sweep over the 1,022 binary targets runs k-means once, not once per target.
                shared = self._derived.setdefault(_WHOLE_POOL, {}) if task.is_binary else {}
                self._tasks[task] = TaskData.of(self, task, shared)
            return self._tasks[task]

    def derived(self, name: str, make: Callable[[FeatureSet], object]):
        """`make(self)`, made once per feature set under `name` and shared (thread-safe).

        For what modules above this one learn from the features, such as the layer check of
        `quality.py`, without this module depending on them.
        """
        with self._lock:
            if name not in self._derived:
                self._derived[name] = make(self)
            return self._derived[name]

    def fork(self) -> FeatureSet:
        """A copy that shares the arrays and every view made so far, but keeps new ones its own.

        For a worker that runs many tasks one after another (a sweep's 1,022 targets): each
        run reads a fork, so the task views it makes are dropped with it rather than kept by
        the one shared set, while the clusterings made beforehand are still shared.
        """
        clone = copy.copy(self)  # through __getstate__: a lock of its own
        object.__setattr__(clone, "_tasks", dict(self._tasks))
        return clone

    def __getstate__(self) -> dict:
        # The lock cannot be pickled (joblib sends feature sets to its workers); the per-task
        # views travel with it so that workers do not recompute the clusters.
        state = dict(self.__dict__)
        state.pop("_lock")
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state, _lock=threading.Lock())


@dataclass(frozen=True)
class TaskData:
    """A task's pool and test set: features, the answer each image should get, and clusters."""

    task: Task
    pool_index: np.ndarray  # (n,) index of each task pool image in the whole pool
    pool: np.ndarray  # (n, width)
    test: np.ndarray  # (n_test, width)
    y_pool: np.ndarray  # (n,) data classes
    y_test: np.ndarray
    truth_pool: np.ndarray  # (n,) output index each pool image should get
    truth_test: np.ndarray
    class_names: tuple[str, ...]
    # Holds the clustering once made, shared with other tasks over the same pool.
    shared: dict = field(default_factory=dict, repr=False, compare=False)
    has_truth: bool = True

    @classmethod
    def of(cls, features: FeatureSet, task: Task, shared: dict | None = None) -> TaskData:
        if not features.has_truth:
            # A folder without classes: every image is in the pool, none has a known answer,
            # and there is no test set.
            n = features.pool_size
            return cls(
                task,
                np.arange(n),
                features.pool,
                features.test,
                features.y_pool,
                features.y_test,
                np.full(n, -1, np.intp),
                np.full(len(features.test), -1, np.intp),
                features.class_names,
                shared={} if shared is None else shared,
                has_truth=False,
            )
        n_classes = len(features.class_names)
        outside = [c for c in task.classes if not 0 <= c < n_classes]
        if outside:
            raise ValueError(
                f"classes {reprlib.repr(outside)} are not in this data set (it has "
                f"{n_classes} classes, 0 to {n_classes - 1})"
            )
        if task.is_binary and len(task.classes) == n_classes:
            raise ValueError("a binary task must leave some classes negative")
        in_pool, in_test = task.in_task(features.y_pool), task.in_task(features.y_test)
        if in_pool.all():  # a binary task: the whole pool, no copy
            pool_index, pool, y_pool = np.arange(features.pool_size), features.pool, features.y_pool
        else:
            pool_index = np.flatnonzero(in_pool)
            pool, y_pool = features.pool[pool_index], features.y_pool[pool_index]
        test, y_test = (
            (features.test, features.y_test)
            if in_test.all()
            else (features.test[in_test], features.y_test[in_test])
        )
        return cls(
            task,
            pool_index,
            pool,
            test,
            y_pool,
            y_test,
            task.truth(y_pool),
            task.truth(y_test),
            features.class_names,
            {} if shared is None else shared,
        )

    @property
    def size(self) -> int:
        return len(self.pool)

    @cached_property
    def _position_of(self) -> np.ndarray:
        # Made once: a session looks up every round's images, and a pool is 60,000 long.
        lookup = np.full(int(self.pool_index.max(initial=-1)) + 1, -1, np.intp)
        lookup[self.pool_index] = np.arange(len(self.pool_index))
        return lookup

    def local(self, pool_indices) -> np.ndarray:
        """Positions in this task's pool of whole-pool indices (-1 where not in the task)."""
        lookup = self._position_of
        wanted = np.asarray(pool_indices, np.intp)
        inside = (wanted >= 0) & (wanted < len(lookup))
        return np.where(inside, lookup[np.clip(wanted, 0, len(lookup) - 1)], -1)

    @cached_property
    def n_clusters(self) -> int:
        """One cluster per data class present in the pool (10 for MNIST, K for K classes).

        Without truth, one per answer the person named.
        """
        if not self.has_truth:
            return max(2, self.task.n_outputs)
        return max(2, len(np.unique(self.y_pool)))

    @cached_property
    def _clustering(self) -> tuple[np.ndarray, np.ndarray]:
        def cluster() -> tuple[np.ndarray, np.ndarray]:
            from sklearn.cluster import KMeans

            kmeans = KMeans(self.n_clusters, n_init=3, random_state=0).fit(self.pool)
            clusters = kmeans.labels_.astype(np.intp)
            distance = np.linalg.norm(self.pool - kmeans.cluster_centers_[clusters], axis=1)
            return clusters, -distance

        return made_once(self.shared, "clustering", cluster)

    @property
    def clusters(self) -> np.ndarray:
        """The k-means cluster of each pool image (seeded: the same every time)."""
        return self._clustering[0]

    @property
    def typicality(self) -> np.ndarray:
        """Minus each pool image's distance to its cluster's centre: the highest is most typical."""
        return self._clustering[1]

    @cached_property
    def typical_rank(self) -> np.ndarray:
        """Typicality as a rank in [0, 1): a tie-break for strategies, sorted once."""
        return np.argsort(np.argsort(self.typicality)) / max(self.size, 1)

    def derived(self, name: str, make: Callable[[np.ndarray], object]):
        """`make(pool)`, made once under `name` and shared with the other tasks on this pool.

        For what strategies learn from the pool's geometry (a neighbour table, a ball graph),
        without this module knowing them. Sessions asking at once wait for one to make it
        (`made_once`).
        """
        return made_once(self.shared, ("derived", name), lambda: make(self.pool))


# One lock per (shared dict, name) while it is being made: a room's sessions share one task
# view, and thirty people sending their first batch together each built the pool-taught
# head's spreading operator (half a second each) when one had to. Kept outside the dicts so
# that nothing unpicklable lands in them.
_MAKING_GUARD = threading.Lock()
_MAKING: dict[tuple[int, object], threading.RLock] = {}


def made_once(shared: dict, key, make: Callable[[], object]):
    """`shared[key]`, made by `make()` the first time: a thread that asks while another is
    making it waits for that one rather than making its own."""
    if key in shared:
        return shared[key]
    with _MAKING_GUARD:
        lock = _MAKING.setdefault((id(shared), key), threading.RLock())
    try:
        with lock:
            if key not in shared:
                shared[key] = make()
    finally:
        with _MAKING_GUARD:
            _MAKING.pop((id(shared), key), None)
    return shared[key]


def _layer_tag(layer: str) -> str:
    # A layer name becomes part of a file name: keep it readable, and unique by a short hash.
    safe = re.sub(r"[^A-Za-z0-9_]", "_", layer)[:40]
    return f"{safe}.{hashlib.sha256(layer.encode()).hexdigest()[:6]}"


def cache_key(model_path: Path, layer: str, data_path: Path) -> str:
    """`<model sha256>-<layer>-<data sha256>`, shortened: a change to any of them changes it."""
    return f"{file_checksum(model_path)[:16]}-{_layer_tag(layer)}-{file_checksum(data_path)[:16]}"


def cache_path(key: str, cache_dir: Path = CACHE_DIR) -> Path:
    return Path(cache_dir) / f"features-{key}.npz"


_ARRAYS = ("pool", "test", "y_pool", "y_test")


def _read_cache(path: Path, key: str, kind: DataKind | None = None) -> FeatureSet | None:
    """The cached features, or None when the file is absent, stale or damaged."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            if str(archive["key"]) != key:
                return None
            arrays = {name: archive[name] for name in _ARRAYS}
            names = tuple(str(n) for n in archive["class_names"])
            backbone, layer = str(archive["backbone"]), str(archive["layer"])
    except Exception:
        # A damaged or forged file fails in many ways inside numpy and zipfile (a header that
        # claims terabytes raises MemoryError, one that is no literal tokenize.TokenError, ...);
        # whichever, the cache is no good and the features are computed again.
        return None
    pool, test = arrays["pool"], arrays["test"]
    if (
        pool.ndim != 2
        or test.ndim != 2
        or pool.shape[1] != test.shape[1]
        or arrays["y_pool"].shape != (len(pool),)
        or arrays["y_test"].shape != (len(test),)
    ):
        return None
    try:
        return FeatureSet(
            **arrays, class_names=names, backbone=backbone, layer=layer, key=key, data_kind=kind
        )
    except ModelError:
        return None  # NaN or infinite features: damaged, so computed again


_warned_unwritable: set[Path] = set()


def _warn_unwritable(path: Path, error: OSError) -> None:
    """Say once per cache folder that the features could not be kept, and how to fix that."""
    folder = path.parent
    if folder in _warned_unwritable:
        return
    _warned_unwritable.add(folder)
    if isinstance(error, FileExistsError | NotADirectoryError):
        reason = f"{file_in_the_way(folder) or folder} is a file, not a folder"
    else:
        reason = f"{error.strerror or error}: {error.filename or folder}"
    warnings.warn(
        f"the feature cache {path} could not be written ({reason}). "
        "The features just computed are used, but they will be computed again at the next "
        f"start. Make {folder} a writable folder with some free space (or remove the file in "
        "its way), or point TL_ACTIVE_CACHE at one.",
        stacklevel=3,
    )


def _write_cache(path: Path, features: FeatureSet) -> None:
    """Keep the features at `path`; if the folder cannot take them, warn once and carry on.

    The features are already computed and correct: a read-only, full or missing cache folder
    only costs the next start its time, so it must not cost this one its features.
    """
    # Write beside the target and rename, so a killed process never leaves half a file behind.
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
        os.close(handle)
        np.savez(
            tmp,
            key=np.array(features.key),
            class_names=np.array(features.class_names),
            backbone=np.array(features.backbone),
            layer=np.array(features.layer),
            **{name: getattr(features, name) for name in _ARRAYS},
        )
        os.replace(tmp, path)
        tmp = None
    except OSError as error:
        _warn_unwritable(path, error)
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.remove(tmp)


def compute_features(
    backbone: Backbone, layer: str, data_path: Path, progress: Progress | None = None
) -> FeatureSet:
    """Run every image through the frozen backbone once (the slow path: seconds to minutes)."""
    from tl_active.data.network import extract_layer, load_backbone

    mnist = load_mnist(data_path)
    model = load_backbone(backbone.path)
    images = np.concatenate([mnist.x_pool, mnist.x_test])
    outputs = extract_layer(model, layer, images, progress)
    # A feature set refuses NaN or infinite outputs (ModelError), naming layer and backbone.
    n_pool = len(mnist.x_pool)
    return FeatureSet(
        pool=outputs[:n_pool],
        test=outputs[n_pool:],
        y_pool=mnist.y_pool,
        y_test=mnist.y_test,
        class_names=DIGITS,
        backbone=backbone.name,
        layer=layer,
        key=cache_key(backbone.path, layer, data_path),
        data_kind=MnistKind(str(data_path)),
    )


def load_features(
    backbone: Backbone | str | None = None,
    layer: str | None = None,
    data_path: Path = MNIST_PATH,
    cache_dir: Path = CACHE_DIR,
    progress: Progress | None = None,
) -> FeatureSet:
    """The frozen features of this backbone's layer on this data: cached, or computed and cached.

    `backbone` is a `Backbone`, a shipped name or a `.keras` path (default: `TL_ACTIVE_BACKBONE`
    or `mnist-cnn`); `layer` defaults to `TL_ACTIVE_LAYER` or the backbone's own. A damaged data
    or model file changes its checksum, so it misses the cache and fails with its own clear
    error while the features are computed.
    """
    if not isinstance(backbone, Backbone):
        backbone = resolve_backbone(backbone)
    layer = layer or default_layer(backbone)
    data_path = Path(data_path)
    if not data_path.is_file():
        raise DataError(
            f"MNIST file not found: {data_path}. Restore it with `git checkout -- data/`."
        )
    if not backbone.path.is_file():
        raise ModelError(
            f"Model file not found: {backbone.path}. Restore a shipped one with "
            "`git checkout -- models/`, retrain it with `python -m tl_active pretrain`, or "
            "give the path of your own .keras file."
        )
    key = cache_key(backbone.path, layer, data_path)
    path = cache_path(key, cache_dir)
    cached = _read_cache(path, key, MnistKind(str(data_path)))
    if cached is not None:
        return cached
    features = compute_features(backbone, layer, data_path, progress)
    _write_cache(path, features)
    return features
