"""A backbone's layer over a folder of images: computed in batches into a memory-mapped cache.

A folder may be larger than memory, so its images are read a batch at a time (the next batch
is decoded while the network runs the current one) and each batch's outputs are written
straight into a memory-mapped `.npy` file under `.cache/images-<key>/`. A status file marks
each row done (or unreadable) only after its outputs are flushed, so a computation that is
stopped (Ctrl-C, a closed tab, a killed process) resumes from the first row not done instead
of starting over. The key holds the model file's checksum, the backbone's name, the layer and
the folder's content checksum: a changed folder or model is never served stale features.

The rows are written in pool-then-test order (the held-out split is made before any image is
read, see `images.ImageFolder.test_split`), so the pool and the test set of a finished cache
are two slices of one memory-mapped file: nothing is copied unless an image failed to decode.
The split is recorded beside the features as `split.csv`.
"""

from __future__ import annotations

import csv
import json
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from tl_active.data.backbones import Backbone, default_layer, resolve_backbone
from tl_active.data.features import FeatureSet, Progress, _layer_tag
from tl_active.data.images import (
    UNREADABLE,
    ImageFolder,
    ImageSource,
    Preprocessing,
    Skipped,
    first_image_size,
    read_batch,
    scan_folder,
)
from tl_active.data.kinds import ImageFolderKind
from tl_active.data.mnist import file_checksum
from tl_active.errors import DataError, ModelError
from tl_active.paths import CACHE_DIR

BATCH_SIZE = 256
TODO, DONE, FAILED = 0, 1, 2  # a row's status
FORMAT = 1
# How images are turned into pixels (`images.upright`: EXIF orientation, 16-bit and alpha read
# as a person sees them since 2). Part of the key, so features of an older reading are not served.
DECODING = 2


def folder_cache_key(backbone: Backbone, layer: str, folder: ImageFolder) -> str:
    """`<model sha256>-<backbone>-<layer>-<folder sha256>-d<decoding>`, shortened."""
    if not backbone.path.is_file():
        raise ModelError(
            f"Model file not found: {backbone.path}. Give the path of your .keras file, or "
            "of the weights file of an architecture, or a shipped backbone."
        )
    return (
        f"{file_checksum(backbone.path)[:16]}-{_layer_tag(backbone.name)}-"
        f"{_layer_tag(layer)}-{folder.checksum[:16]}-d{DECODING}"
    )


def extraction_order(folder: ImageFolder) -> tuple[np.ndarray, int]:
    """The folder's image indices in the order their rows are written (pool first), and n_pool."""
    held_out = folder.test_split()
    pool, test = np.flatnonzero(~held_out), np.flatnonzero(held_out)
    return np.concatenate([pool, test]), len(pool)


def _write_json(path: Path, data: dict) -> None:
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)


def _read_meta(folder_cache: Path, key: str) -> dict | None:
    try:
        meta = json.loads((folder_cache / "meta.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("key") != key or meta.get("format") != FORMAT:
        return None
    return meta


def _write_split(path: Path, folder: ImageFolder, order: np.ndarray, n_pool: int) -> None:
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    with open(tmp, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["path", "class", "part"])
        for row, index in enumerate(order):
            label = folder.labels[index]
            writer.writerow(
                [
                    folder.paths[index],
                    folder.class_names[label] if label >= 0 else "",
                    "pool" if row < n_pool else "test",
                ]
            )
    os.replace(tmp, path)


def compute_folder_features(
    folder: ImageFolder,
    backbone: Backbone,
    layer: str,
    folder_cache: Path,
    key: str,
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
) -> None:
    """Run the network over every image not yet done, batch by batch, into the cache folder."""
    from tl_active.data.network import check_fits, layer_extractor, load_network, preprocessing_for

    order, n_pool = extraction_order(folder)
    total = len(order)
    folder_cache.mkdir(parents=True, exist_ok=True)
    meta = _read_meta(folder_cache, key)
    model = load_network(backbone)
    preprocessing = preprocessing_for(
        model, backbone, lambda: first_image_size(folder.root, folder.paths)
    )
    check_fits(model, (preprocessing.height, preprocessing.width, preprocessing.channels))
    # A large input's intermediate tensors are large: fewer images a batch keep memory bounded
    # (256 at 28 x 28, 21 at 96 x 96, 8 at 224 x 224).
    batch_size = max(8, min(batch_size, 200_000 // (preprocessing.height * preprocessing.width)))
    extractor = layer_extractor(model, layer)
    status_path, features_path = folder_cache / "status.npy", folder_cache / "features.npy"
    if meta is None or meta.get("preprocessing") != preprocessing.__dict__:
        for stale in (status_path, features_path):
            stale.unlink(missing_ok=True)
        meta = {
            "format": FORMAT,
            "key": key,
            "backbone": backbone.name,
            "layer": layer,
            "n_pool": n_pool,
            "total": total,
            "preprocessing": dict(preprocessing.__dict__),
            "complete": False,
        }
        _write_split(folder_cache / "split.csv", folder, order, n_pool)
        _write_json(folder_cache / "meta.json", meta)
    try:
        status = np.load(status_path, mmap_mode="r+")
        if status.shape != (total,):
            raise ValueError("another folder's status")
    except (OSError, ValueError):
        status = np.lib.format.open_memmap(status_path, "w+", np.int8, (total,))
    outputs = None
    if features_path.is_file():
        try:
            outputs = np.load(features_path, mmap_mode="r+")
            if outputs.ndim != 2 or len(outputs) != total or outputs.dtype != np.float32:
                outputs = None
        except (OSError, ValueError):
            outputs = None
    if outputs is None:
        status[:] = TODO  # no features to go with them: every row is to do again

    todo = np.flatnonzero(status == TODO)
    done = total - len(todo)
    if progress and done:
        progress(done, total)
    batches = [todo[i : i + batch_size] for i in range(0, len(todo), batch_size)]

    def read(rows: np.ndarray):
        return read_batch(folder.root, [folder.paths[i] for i in order[rows]], preprocessing)

    # One thread decodes the next batch while the network runs this one (Pillow and TensorFlow
    # both let go of the GIL while they work).
    with ThreadPoolExecutor(1) as reader:
        pending = reader.submit(read, batches[0]) if batches else None
        for n, rows in enumerate(batches):
            pixels, readable = pending.result()
            if n + 1 < len(batches):
                pending = reader.submit(read, batches[n + 1])
            values = np.asarray(extractor(pixels, training=False), np.float32)
            values = values.reshape(len(values), -1)
            if outputs is None:
                # The width is known only once a batch has run (a conv layer's depends on H, W).
                outputs = np.lib.format.open_memmap(
                    features_path, "w+", np.float32, (total, values.shape[1])
                )
            outputs[rows] = np.where(readable[:, None], values, 0.0)
            outputs.flush()
            # Marked done only once the outputs are on disk: a stop in between redoes the batch.
            status[rows] = np.where(readable, DONE, FAILED)
            status.flush()
            done += len(rows)
            if progress:
                progress(done, total)
    _write_json(folder_cache / "meta.json", {**meta, "complete": True})


def _feature_set(
    folder: ImageFolder, folder_cache: Path, meta: dict, backbone: Backbone, layer: str, key: str
) -> FeatureSet | None:
    """The finished cache as a `FeatureSet` over memory-mapped arrays, or None if it is not whole."""
    try:
        outputs = np.load(folder_cache / "features.npy", mmap_mode="r")
        status = np.load(folder_cache / "status.npy")
    except (OSError, ValueError):
        return None
    order, n_pool = extraction_order(folder)
    if (
        outputs.ndim != 2
        or len(outputs) != len(order)
        or status.shape != (len(order),)
        or (status == TODO).any()
        or n_pool != meta.get("n_pool")
    ):
        return None
    readable = status == DONE
    unreadable = tuple(Skipped(folder.paths[i], UNREADABLE) for i in order[~readable])
    parts = {}
    for name, rows in (("pool", slice(0, n_pool)), ("test", slice(n_pool, len(order)))):
        ok = readable[rows]
        # Two slices of the file when every image decoded; a copy of the good rows otherwise.
        parts[name] = (
            outputs[rows] if ok.all() else np.asarray(outputs[rows][ok]),
            order[rows][ok],
        )
    (pool, pool_images), (test, test_images) = parts["pool"], parts["test"]
    if len(pool) == 0:
        raise DataError(f"no image of {folder.root} could be decoded")
    preprocessing = Preprocessing(**meta["preprocessing"])
    source = ImageSource(
        root=str(folder.root),
        checksum=folder.checksum,
        pool_paths=tuple(folder.paths[i] for i in pool_images),
        test_paths=tuple(folder.paths[i] for i in test_images),
        has_truth=folder.has_truth,
        preprocessing=preprocessing.describe(),
        skipped=folder.skipped + unreadable,
        split_file=str(folder_cache / "split.csv"),
    )
    try:
        return FeatureSet(
            pool=pool,
            test=test,
            y_pool=folder.labels[pool_images],
            y_test=folder.labels[test_images],
            class_names=folder.class_names,
            backbone=backbone.name,
            layer=layer,
            key=key,
            source=source,
            data_kind=ImageFolderKind(source, folder.class_names),
        )
    except ModelError:
        raise
    except Exception:
        return None


def load_folder_features(
    folder: ImageFolder | Path | str,
    backbone: Backbone | str | None = None,
    layer: str | None = None,
    cache_dir: Path = CACHE_DIR,
    progress: Progress | None = None,
    batch_size: int = BATCH_SIZE,
) -> FeatureSet:
    """The features of a backbone's layer over an image folder: cached, resumed or computed.

    `folder` is a scanned `ImageFolder` or a folder's path (scanned here). A finished cache is
    read without TensorFlow; an unfinished one is completed from where it stopped.
    """
    if not isinstance(folder, ImageFolder):
        folder = scan_folder(folder)
    if not isinstance(backbone, Backbone):
        backbone = resolve_backbone(backbone)
    layer = layer or default_layer(backbone)
    key = folder_cache_key(backbone, layer, folder)
    folder_cache = Path(cache_dir) / f"images-{key}"
    meta = _read_meta(folder_cache, key)
    if meta is not None and meta.get("complete"):
        features = _feature_set(folder, folder_cache, meta, backbone, layer, key)
        if features is not None:
            return features
    compute_folder_features(folder, backbone, layer, folder_cache, key, progress, batch_size)
    meta = _read_meta(folder_cache, key)
    features = _feature_set(folder, folder_cache, meta or {}, backbone, layer, key)
    if features is None:
        raise DataError(
            f"the features of {folder.root} could not be read back from {folder_cache}; "
            "remove that folder and try again"
        )
    return features
