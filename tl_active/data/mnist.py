"""MNIST, loaded offline from the project's own `data/mnist.npz`.

The 60,000 training images are the pool a person may be asked to label; the 10,000 test images
are held out for evaluation and are never offered. Anything wrong with the file (missing,
truncated, foreign keys, shapes or dtypes) becomes one `DataError` that names the file and says
how to fix it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tl_active.errors import DataError
from tl_active.paths import MNIST_PATH

POOL_SIZE = 60_000
TEST_SIZE = 10_000
IMAGE_SHAPE = (28, 28)

_EXPECTED = {
    "x_train": ((POOL_SIZE, *IMAGE_SHAPE), np.uint8),
    "y_train": ((POOL_SIZE,), np.uint8),
    "x_test": ((TEST_SIZE, *IMAGE_SHAPE), np.uint8),
    "y_test": ((TEST_SIZE,), np.uint8),
}

_FIX = (
    "Copy a fresh MNIST file there (the repository ships one at data/mnist.npz; "
    "`git checkout -- data/mnist.npz` restores it)."
)


@dataclass(frozen=True)
class Mnist:
    """MNIST as float32 images in [0, 1] and uint8 digit labels."""

    x_pool: np.ndarray  # (60000, 28, 28) float32, the images that can be offered for labelling
    y_pool: np.ndarray  # (60000,) uint8 digits
    x_test: np.ndarray  # (10000, 28, 28) float32, held out
    y_test: np.ndarray  # (10000,) uint8 digits
    checksum: str  # sha256 of the file the arrays came from


def short_error(error: BaseException, limit: int = 160) -> str:
    """An exception as one short line: its type, and the start of its first line of text."""
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    text = text if len(text) <= limit else text[: limit - 3] + "..."
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def file_checksum(path: Path) -> str:
    """The sha256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def load_raw(path: Path | str = MNIST_PATH) -> dict[str, np.ndarray]:
    """The four uint8 arrays of an MNIST `.npz`, checked for keys, shapes and dtypes."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"MNIST file not found: {path}. {_FIX}")
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = sorted(set(_EXPECTED) - set(archive.files))
            if missing:
                raise DataError(
                    f"{path} is not an MNIST file: it lacks {', '.join(missing)} "
                    f"(it has {', '.join(sorted(archive.files)) or 'nothing'}). {_FIX}"
                )
            arrays = {key: archive[key] for key in _EXPECTED}
    except DataError:
        raise
    except Exception as error:
        # A truncated or forged file fails in many ways inside numpy and zipfile: a header that
        # claims terabytes (MemoryError), a shape past a C long (OverflowError), a header that
        # is no Python literal (tokenize.TokenError), bad compressed data (zlib.error), ...
        # Each means the same to a person: this file cannot be MNIST.
        raise DataError(
            f"{path} is unreadable, truncated or damaged ({short_error(error)}). {_FIX}"
        ) from None
    for key, (shape, dtype) in _EXPECTED.items():
        array = arrays[key]
        if array.shape != shape or array.dtype != dtype:
            raise DataError(
                f"{path}: {key} has shape {array.shape} and dtype {array.dtype}, "
                f"expected {shape} and {np.dtype(dtype)}. {_FIX}"
            )
    for key in ("y_train", "y_test"):
        if arrays[key].max() > 9:
            raise DataError(f"{path}: {key} holds labels above 9; digits are 0-9. {_FIX}")
    return arrays


def load_mnist(path: Path | str = MNIST_PATH) -> Mnist:
    """MNIST with pixels scaled to float32 in [0, 1]."""
    arrays = load_raw(path)
    return Mnist(
        x_pool=arrays["x_train"].astype(np.float32) / 255.0,
        y_pool=arrays["y_train"],
        x_test=arrays["x_test"].astype(np.float32) / 255.0,
        y_test=arrays["y_test"],
        checksum=file_checksum(Path(path)),
    )
