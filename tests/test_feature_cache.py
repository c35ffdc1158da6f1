"""The feature cache on disk when it is damaged or cannot be written: never a failure.

A damaged or forged cache file is treated as no cache (the features are computed again); a cache
folder that cannot take the file (it is a file, lies under one, is read-only or full) costs a
warning, once, and the features computed are used all the same. The CNN is replaced by the
synthetic feature set, so no TensorFlow runs here.
"""

from __future__ import annotations

import errno
import os
import warnings
from dataclasses import replace

import numpy as np
import pytest
from forged_npz import FORGED_HEADERS, write_forged_npz
from synthetic import synthetic_features

from tl_active.data import features as features_module
from tl_active.data.features import _read_cache, _write_cache, cache_path, load_features

FEATURES = synthetic_features(300, 100)


@pytest.fixture
def files(tmp_path, monkeypatch):
    """A model and a data file to key the cache on, and a CNN run that keeps what it computed."""
    model, data = tmp_path / "model.keras", tmp_path / "mnist.npz"
    model.write_bytes(b"model")
    data.write_bytes(b"data")
    runs = []

    def compute(backbone, layer, data_path, progress=None):
        key = features_module.cache_key(backbone.path, layer, data_path)
        runs.append(replace(FEATURES, backbone=backbone.name, layer=layer, key=key))
        return runs[-1]

    monkeypatch.setattr(features_module, "compute_features", compute)
    # Warnings are said once per process; each test starts as a new process would.
    monkeypatch.setattr(features_module, "_warned_unwritable", set(), raising=False)
    return model, data, runs


def cache_warnings(record) -> list[str]:
    return [str(w.message) for w in record if "feature cache" in str(w.message)]


@pytest.mark.parametrize("header", FORGED_HEADERS.values(), ids=FORGED_HEADERS.keys())
def test_a_forged_header_in_the_cache_is_a_damaged_cache_and_is_recomputed(tmp_path, files, header):
    model, data, runs = files
    key = features_module.cache_key(model, "digits", data)
    path = cache_path(key, tmp_path / "cache")
    path.parent.mkdir()
    arrays = {name: np.array(text) for name, text in (("key", key), ("layer", "digits"))}
    arrays |= {"backbone": np.array(str(model)), "class_names": np.array(FEATURES.class_names)}
    arrays |= {name: np.zeros((3, 2)) for name in features_module._ARRAYS}
    write_forged_npz(path, arrays, "pool", header)

    assert _read_cache(path, key) is None
    assert load_features(model, "digits", data, tmp_path / "cache") is runs[0]
    assert len(runs) == 1
    with np.load(path) as rewritten:  # the forged file was replaced by a readable one
        assert str(rewritten["key"]) == key


@pytest.mark.parametrize("where", ["cache is a file", "cache under a file"])
def test_a_cache_folder_that_is_a_file_costs_one_warning_not_the_features(tmp_path, files, where):
    model, data, runs = files
    blocker = tmp_path / ".cache"
    blocker.write_text("in the way")
    cache_dir = blocker if where == "cache is a file" else blocker / "features"

    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        first = load_features(model, "digits", data, cache_dir)
        second = load_features(model, "digits", data, cache_dir)

    assert [first, second] == runs  # nothing could be kept: the second load computes again
    said = cache_warnings(record)
    assert len(said) == 1
    assert str(cache_path(first.key, cache_dir)) in said[0]
    assert "computed again at the next start" in said[0] and "TL_ACTIVE_CACHE" in said[0]
    assert blocker.read_text() == "in the way"


def test_a_full_disk_costs_one_warning_and_leaves_no_half_file(tmp_path, files, monkeypatch):
    model, data, runs = files
    cache_dir = tmp_path / "cache"

    def disk_full(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(features_module.np, "savez", disk_full)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        computed = load_features(model, "digits", data, cache_dir)
        _write_cache(cache_path(computed.key, cache_dir), computed)

    assert computed is runs[0]
    said = cache_warnings(record)
    assert len(said) == 1 and "No space left on device" in said[0]
    assert list(cache_dir.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_a_read_only_cache_folder_costs_one_warning(tmp_path, files):
    model, data, runs = files
    cache_dir = tmp_path / "cache"
    cache_dir.mkdir()
    cache_dir.chmod(0o500)
    try:
        with pytest.warns(UserWarning, match="could not be written.*Permission denied"):
            assert load_features(model, "digits", data, cache_dir) is runs[0]
    finally:
        cache_dir.chmod(0o700)


def test_a_cache_file_holding_nan_features_is_damaged_and_recomputed(tmp_path, files):
    model, data, runs = files
    cache_dir = tmp_path / "cache"
    key = features_module.cache_key(model, "digits", data)
    path = cache_path(key, cache_dir)
    cache_dir.mkdir()
    pool = FEATURES.pool.copy()
    pool[7, 3] = np.nan  # one output of one image, as a broken model or a bad disk may leave
    np.savez(
        path,
        key=np.array(key),
        class_names=np.array(FEATURES.class_names),
        backbone=np.array(str(model)),
        layer=np.array("digits"),
        pool=pool,
        test=FEATURES.test,
        y_pool=FEATURES.y_pool,
        y_test=FEATURES.y_test,
    )

    assert _read_cache(path, key) is None
    loaded = load_features(model, "digits", data, cache_dir)
    assert loaded is runs[0] and np.isfinite(loaded.pool).all()
    with np.load(path) as rewritten:  # the damaged file was replaced by the computed features
        assert np.isfinite(rewritten["pool"]).all()


def test_what_sessions_ask_for_at_once_is_made_once_and_shared():
    import threading
    import time

    from tl_active.core.task import Task

    features = synthetic_features()
    # Two binary questions share the whole pool's view, as a room's sessions do.
    views = [features.task_data(Task.binary("odd")), features.task_data(Task.binary("even"))]
    made = []

    def make(pool):
        made.append(len(pool))
        time.sleep(0.2)  # long enough that every thread asks while the first is making it
        return object()

    got = []
    threads = [
        threading.Thread(target=lambda view=view: got.append(view.derived("slow", make)))
        for view in views * 4
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(made) == 1 and len(got) == 8
    assert all(each is got[0] for each in got)
    # No lock is left behind (other tests' threads may be making their own tables now).
    assert (id(views[0].shared), ("derived", "slow")) not in features_module._MAKING


def test_a_failed_make_is_made_again_by_the_next_to_ask():
    shared = {}

    def broken():
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        features_module.made_once(shared, "table", broken)
    assert features_module.made_once(shared, "table", lambda: 7) == 7
    assert shared == {"table": 7}
    assert (id(shared), "table") not in features_module._MAKING
