"""Image folders for tests: MNIST digits written out as PNG files, as a person's folder would be.

The real loading code (Pillow, the zip reader, the feature cache) runs on them, offline.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from tl_active.data.mnist import load_raw
from tl_active.paths import MNIST_PATH


@cache
def _digits() -> tuple[np.ndarray, np.ndarray]:
    raw = load_raw(MNIST_PATH)
    return raw["x_test"], raw["y_test"]


def digit_images(digit: int, n: int, start: int = 0) -> np.ndarray:
    """`n` test images of one digit, (n, 28, 28) uint8."""
    x, y = _digits()
    return x[np.flatnonzero(y == digit)[start : start + n]]


def write_class_folder(root: Path, counts: dict[str, tuple[int, int]]) -> Path:
    """`root/<name>/<i>.png` for each class name: `counts[name] = (digit, n images)`."""
    for name, (digit, n) in counts.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for i, pixels in enumerate(digit_images(digit, n)):
            Image.fromarray(pixels).save(folder / f"{i:04d}.png")
    return root


def write_flat_folder(root: Path, digits: dict[int, int]) -> Path:
    """`root/<digit>-<i>.png`: `digits[d]` images of each digit, no class folders."""
    root.mkdir(parents=True, exist_ok=True)
    for digit, n in digits.items():
        for i, pixels in enumerate(digit_images(digit, n)):
            Image.fromarray(pixels).save(root / f"d{digit}-{i:04d}.png")
    return root
