"""MNIST loading: the real file, and every way a file can be wrong."""

import shutil

import numpy as np
import pytest
from forged_npz import FORGED_HEADERS, write_forged_npz

from tl_active.data.mnist import load_mnist, load_raw
from tl_active.errors import DataError
from tl_active.paths import MNIST_PATH


def test_real_mnist_loads_scaled_and_split():
    mnist = load_mnist()
    assert mnist.x_pool.shape == (60_000, 28, 28) and mnist.x_test.shape == (10_000, 28, 28)
    assert mnist.x_pool.dtype == np.float32
    assert 0.0 == mnist.x_pool.min() and mnist.x_pool.max() == 1.0
    assert mnist.x_pool.mean() == pytest.approx(0.1307, abs=1e-4)
    assert np.bincount(mnist.y_test).tolist() == [
        980,
        1135,
        1032,
        1010,
        982,
        892,
        958,
        1028,
        974,
        1009,
    ]
    assert mnist.checksum.startswith("06af5dfe73b70e3b")


def test_missing_file(tmp_path):
    with pytest.raises(DataError, match=r"not found: .*nothing\.npz.*git checkout"):
        load_raw(tmp_path / "nothing.npz")


def test_truncated_file(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_bytes(MNIST_PATH.read_bytes()[:100_000])
    with pytest.raises(DataError, match="unreadable, truncated or damaged"):
        load_raw(path)


def test_not_an_npz_at_all(tmp_path):
    path = tmp_path / "mnist.npz"
    path.write_text("hello")
    with pytest.raises(DataError, match=str(path)):
        load_raw(path)


def test_foreign_keys(tmp_path):
    path = tmp_path / "mnist.npz"
    np.savez(path, images=np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(DataError, match="lacks x_test, x_train, y_test, y_train.*has images"):
        load_raw(path)


@pytest.mark.parametrize(
    "key, array",
    [
        ("x_train", np.zeros((60_000, 28, 28), np.float32)),
        ("y_test", np.zeros((9_999,), np.uint8)),
    ],
)
def test_wrong_shape_or_dtype(tmp_path, key, array):
    path = tmp_path / "mnist.npz"
    arrays = dict(load_raw())
    arrays[key] = array
    np.savez(path, **arrays)
    with pytest.raises(DataError, match=f"{key} has shape"):
        load_raw(path)


def test_labels_out_of_range(tmp_path):
    path = tmp_path / "mnist.npz"
    arrays = dict(load_raw())
    arrays["y_train"] = arrays["y_train"].copy()
    arrays["y_train"][0] = 12
    np.savez(path, **arrays)
    with pytest.raises(DataError, match="labels above 9"):
        load_raw(path)


def test_a_copy_is_as_good_as_the_original(tmp_path):
    shutil.copy(MNIST_PATH, tmp_path / "copy.npz")
    assert load_mnist(tmp_path / "copy.npz").checksum == load_mnist().checksum


@pytest.mark.parametrize("header", FORGED_HEADERS.values(), ids=FORGED_HEADERS.keys())
def test_a_forged_array_header_is_a_clear_error(tmp_path, header):
    path = tmp_path / "mnist.npz"
    write_forged_npz(path, dict(load_raw()), "x_train", header)
    with pytest.raises(
        DataError, match=f"{path} is unreadable, truncated or damaged.*git checkout"
    ):
        load_raw(path)
