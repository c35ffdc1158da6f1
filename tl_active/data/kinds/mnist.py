"""MNIST as a data kind: 60,000 pool digits named by their index, 10,000 held-out test digits.

Its items are drawn from the raw file the features were computed from (ink dark on white,
scaled up without blur), and its truth is MNIST's own label of each digit.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image

from tl_active import paths
from tl_active.core.task import DIGITS
from tl_active.data.kinds.base import DataKind
from tl_active.data.mnist import load_raw


@lru_cache(maxsize=2)
def pool_images(path: str) -> np.ndarray:
    """The pool's images of an MNIST file as uint8 (0 = background), read once per file."""
    images = load_raw(Path(path))["x_train"]
    images.setflags(write=False)
    return images


@dataclass(frozen=True)
class MnistKind(DataKind):
    """MNIST's digits; `path` is the file the features came from (None: the project's own)."""

    path: str | None = None
    class_names: tuple[str, ...] = DIGITS

    name = "MNIST"
    items = "digits"
    class_word = "digit"
    truth = "MNIST's ground truth"
    true_class = "MNIST's true class"
    auto_answerer = "MNIST (auto)"
    item_column = "pool index"
    indexed_csv = True
    fine_tunable = True

    @property
    def has_truth(self) -> bool:
        return True

    @property
    def file(self) -> Path:
        # Looked up when drawn, not when made, so that the project's file can be pointed elsewhere.
        return Path(self.path) if self.path else paths.MNIST_PATH

    def item_id(self, index: int) -> int:
        return int(index)

    def item_name(self, index: int) -> str:
        # Written as the history table and the CSV write it (4211, not 4,211): one number, one form.
        return f"pool image {index}"

    def short_name(self, index: int) -> str:
        return f"image {index}"

    def test_item_id(self, index: int) -> int:
        return int(index)

    def thumbnail_png(self, index: int, size: int) -> bytes:
        image = Image.fromarray(255 - pool_images(str(self.file))[index])
        image = image.resize((size, size), Image.NEAREST)
        buffer = io.BytesIO()
        image.save(buffer, format="PNG")
        return buffer.getvalue()

    def network_inputs(self, indices) -> np.ndarray:
        # Scaled as `mnist.load_mnist` scales them for the network, only the items asked for.
        return pool_images(str(self.file))[np.asarray(indices, np.intp)].astype(np.float32) / 255.0

    def says(self, class_name: str) -> str:
        return f"MNIST says {class_name}"

    def test_split(self, n_test: int) -> str:
        return f"held-out test split: MNIST's own {n_test:,} test images"
