"""How fast features come out of an image folder: images per second, from PNG files to the cache.

Used by `make bench` (throughput of the shipped CNN and of a MobileNetV2-size network at
96 x 96) and by `bench/bench_images.py` (10,000 and 100,000 PNGs). The folders are MNIST
digits written out as PNG files; the MobileNetV2 has random weights saved to a file, which
costs what ImageNet weights cost to run.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from tl_active.data.mnist import load_raw
from tl_active.paths import MNIST_PATH


def write_digit_pngs(root: Path, n: int, n_classes: int = 10, data_path: Path = MNIST_PATH) -> Path:
    """`n` MNIST pool images as `root/<digit>/<i>.png`, cycling through the pool if n > 60,000."""
    raw = load_raw(data_path)
    x, y = raw["x_train"], raw["y_train"]
    for d in range(n_classes):
        (root / str(d)).mkdir(parents=True, exist_ok=True)
    keep = np.flatnonzero(y < n_classes)
    for i in range(n):
        j = keep[i % len(keep)]
        Image.fromarray(x[j]).save(root / str(int(y[j])) / f"{i:06d}.png", compress_level=1)
    return root


def mobilenet_weights(path: Path, size: int = 96) -> Path:
    """A MobileNetV2 (width 1.0, the ImageNet size) with random weights, saved to `path`."""
    import keras

    keras.utils.set_random_seed(0)
    network = keras.applications.MobileNetV2(
        input_shape=(size, size, 3), include_top=False, weights=None
    )
    network.save_weights(path)
    return path


def time_features(folder: Path, backbone: str, layer: str | None = None) -> tuple[float, int]:
    """Seconds to scan the folder and compute its features from scratch, and the image count."""
    from tl_active.data.folder_features import load_folder_features

    with tempfile.TemporaryDirectory() as cache:
        started = time.perf_counter()
        features = load_folder_features(folder, backbone, layer, Path(cache))
        seconds = time.perf_counter() - started
    return seconds, features.pool_size + len(features.test)


def throughput(n_cnn: int = 2_000, n_mobilenet: int = 256, repeats: int = 3) -> dict[str, float]:
    """Median images per second, folder to cache, for the shipped CNN and MobileNetV2 at 96 x 96."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        small = write_digit_pngs(tmp / "cnn", n_cnn)
        few = write_digit_pngs(tmp / "mobilenet", n_mobilenet)
        weights = mobilenet_weights(tmp / "mobilenet_v2.weights.h5")
        rates = {}
        for name, folder, backbone in (
            ("mnist-cnn (28 x 28 grayscale)", small, "mnist-cnn"),
            ("MobileNetV2 1.0 (96 x 96 RGB)", few, f"mobilenetv2@96:{weights}"),
        ):
            time_features(folder, backbone)  # warm: TensorFlow's first call traces the graph
            runs = [time_features(folder, backbone) for _ in range(repeats)]
            rates[name] = float(np.median([n / s for s, n in runs]))
    return rates
