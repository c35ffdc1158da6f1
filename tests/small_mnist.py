"""A slice of MNIST as a data file of its own (the first 600 pool and 400 test images), so that
a network's features over it take a second rather than the whole file's half a minute."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tl_active.data import mnist as data
from tl_active.paths import MNIST_PATH

SIZES = {"x_train": 600, "y_train": 600, "x_test": 400, "y_test": 400}


def write_small_mnist(path: Path) -> Path:
    raw = data.load_raw(MNIST_PATH)
    np.savez(path, **{key: raw[key][:n] for key, n in SIZES.items()})
    return path


def accept_small_mnist(monkeypatch) -> None:
    """The loader checks MNIST's sizes: for the test, they are the slice's."""
    monkeypatch.setattr(
        data,
        "_EXPECTED",
        {key: ((SIZES[key], *shape[1:]), dtype) for key, (shape, dtype) in data._EXPECTED.items()},
    )
