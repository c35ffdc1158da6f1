"""The frozen CNN's outputs for all 70,000 images, computed once and cached on disk.

The CNN never changes while people label, so its 10 softmax outputs (what the sigmoid head
reads) and its 128-wide embedding (what the representative and diversity strategies measure
distances in) are computed once and stored under `.cache/`, outside git. The cache key is made
from the model file's and the data file's checksums, so a retrained model or another data file
never reuses stale features; a corrupt cache file is recomputed. Reading a cached file needs
no TensorFlow, which keeps the app's start-up short.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import numpy as np

from tl_active.data import POOL_SIZE, TEST_SIZE, file_checksum, load_mnist
from tl_active.errors import DataError, ModelError
from tl_active.paths import CACHE_DIR, MNIST_PATH, MODEL_PATH

EMBEDDING_WIDTH = 128

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class FeatureSet:
    """The frozen CNN's view of MNIST: everything a labelling session needs, as plain arrays."""

    pool_probs: np.ndarray  # (n_pool, 10) float32 softmax outputs
    pool_embedding: np.ndarray  # (n_pool, 128) float32, the Dense(128, tanh) layer
    y_pool: np.ndarray  # (n_pool,) digits, used by auto-labelling, checks and the oracle
    test_probs: np.ndarray  # (n_test, 10) float32
    y_test: np.ndarray  # (n_test,) digits, held out for evaluation
    key: str = ""  # model and data checksums the features were computed from

    @property
    def pool_size(self) -> int:
        return len(self.pool_probs)

    @cached_property
    def pool_predicted(self) -> np.ndarray:
        """The CNN's own digit for each pool image (argmax of its softmax)."""
        return self.pool_probs.argmax(axis=1)

    @cached_property
    def pool_typicality(self) -> np.ndarray:
        """How typical each pool image is of the digit the CNN predicts for it.

        Minus its distance to the mean embedding of all pool images predicted as that digit:
        the most typical image of a digit has the highest value. Computed once per feature set.
        """
        return typicality(self.pool_predicted, self.pool_embedding)

    @property
    def model_checksum(self) -> str:
        return self.key.split("-")[0] if self.key else ""


def typicality(predicted: np.ndarray, embedding: np.ndarray) -> np.ndarray:
    """Minus each image's distance to the mean embedding of the images given the same digit."""
    result = np.empty(len(predicted))
    for digit in range(10):
        members = np.flatnonzero(predicted == digit)
        emb = embedding[members]
        result[members] = -np.linalg.norm(emb - emb.mean(axis=0), axis=1)
    return result


def cache_key(model_path: Path, data_path: Path) -> str:
    """`<model sha256>-<data sha256>`, both shortened: any change to either file changes it."""
    return f"{file_checksum(model_path)[:16]}-{file_checksum(data_path)[:16]}"


def cache_path(key: str, cache_dir: Path = CACHE_DIR) -> Path:
    return Path(cache_dir) / f"features-{key}.npz"


_ARRAYS = {
    "pool_probs": (POOL_SIZE, 10),
    "pool_embedding": (POOL_SIZE, EMBEDDING_WIDTH),
    "test_probs": (TEST_SIZE, 10),
    "y_pool": (POOL_SIZE,),
    "y_test": (TEST_SIZE,),
}


def _read_cache(path: Path, key: str) -> FeatureSet | None:
    """The cached features, or None when the file is absent, stale or damaged."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as archive:
            if str(archive["key"]) != key:
                return None
            arrays = {name: archive[name] for name in _ARRAYS}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    for name, shape in _ARRAYS.items():
        if arrays[name].shape != shape:
            return None
    probs = (arrays["pool_probs"], arrays["test_probs"])
    if not all(np.isfinite(p).all() and np.allclose(p.sum(axis=1), 1.0, atol=1e-3) for p in probs):
        return None
    return FeatureSet(key=key, **arrays)


def _write_cache(path: Path, features: FeatureSet) -> None:
    # Write beside the target and rename, so a killed process never leaves half a file behind.
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp.npz")
    os.close(handle)
    try:
        np.savez(
            tmp,
            key=np.array(features.key),
            **{name: getattr(features, name) for name in _ARRAYS},
        )
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def compute_features(
    model_path: Path, data_path: Path, progress: Progress | None = None, chunk: int = 2_000
) -> FeatureSet:
    """Run every MNIST image through the frozen CNN once (the slow path: tens of seconds)."""
    from tl_active.network import feature_extractor, load_shared_network

    mnist = load_mnist(data_path)
    extractor = feature_extractor(load_shared_network(model_path))
    images = np.concatenate([mnist.x_pool, mnist.x_test])[..., None]
    embedding = np.empty((len(images), EMBEDDING_WIDTH), np.float32)
    probs = np.empty((len(images), 10), np.float32)
    for start in range(0, len(images), chunk):
        stop = min(start + chunk, len(images))
        emb, prob = extractor(images[start:stop], training=False)
        embedding[start:stop], probs[start:stop] = np.asarray(emb), np.asarray(prob)
        if progress:
            progress(stop, len(images))
    n_pool = len(mnist.x_pool)
    return FeatureSet(
        pool_probs=probs[:n_pool],
        pool_embedding=embedding[:n_pool],
        y_pool=mnist.y_pool,
        test_probs=probs[n_pool:],
        y_test=mnist.y_test,
        key=cache_key(model_path, data_path),
    )


def load_features(
    model_path: Path = MODEL_PATH,
    data_path: Path = MNIST_PATH,
    cache_dir: Path = CACHE_DIR,
    progress: Progress | None = None,
) -> FeatureSet:
    """The frozen features for this model and data file: from the cache, or computed and cached.

    A damaged data or model file changes its checksum, so it misses the cache and fails with
    its own clear error while the features are computed.
    """
    model_path, data_path = Path(model_path), Path(data_path)
    if not data_path.is_file():
        raise DataError(
            f"MNIST file not found: {data_path}. Restore it with `git checkout -- data/`."
        )
    if not model_path.is_file():
        raise ModelError(
            f"Model file not found: {model_path}. Restore it with `git checkout -- models/` "
            "or retrain it with `python -m tl_active pretrain`."
        )
    key = cache_key(model_path, data_path)
    path = cache_path(key, cache_dir)
    cached = _read_cache(path, key)
    if cached is not None:
        return cached
    features = compute_features(model_path, data_path, progress)
    _write_cache(path, features)
    return features
