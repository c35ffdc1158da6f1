"""What a `.keras` file says about its layers, read without loading Keras.

A page that offers to fine-tune "the last N layers with weights" needs only how many a network
has up to the layer a head reads: the weather network two (`conv`, `dense`), the MNIST CNN
seven. Loading the network for that would cost seconds of TensorFlow on a page's first draw, so
this reads the file as the zip it is: the layers in order from `config.json`, and which of them
hold weights from `model.weights.h5`, whose groups Keras names by each layer's class in snake
case, numbered in order ("conv2d", "conv2d_1", ...). Read once per file and version.
"""

from __future__ import annotations

import functools
import io
import json
import re
import zipfile
from pathlib import Path


def weighted_layers_up_to(path: Path | str, layer: str) -> tuple[str, ...] | None:
    """The names of the layers with weights from the input up to `layer` (itself included),
    in order; None where the file cannot say (not a `.keras` zip, no such layer, a network
    within the network), for a caller to fall back on its own choices."""
    path = Path(path)
    try:
        stat = path.stat()
    except OSError:
        return None
    layers = _weighted_layers(str(path), stat.st_mtime_ns, stat.st_size)
    if layers is None:
        return None
    names = [name for name, _ in layers]
    if layer not in names:
        return None
    return tuple(name for name, weighted in layers[: names.index(layer) + 1] if weighted)


@functools.lru_cache(maxsize=32)
def _weighted_layers(path: str, mtime_ns: int, size: int) -> tuple[tuple[str, bool], ...] | None:
    """Each layer's name and whether it holds weights, in the model's order (cached per file
    version: the modification time and size are part of the key)."""
    import h5py

    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
            weights = h5py.File(io.BytesIO(archive.read("model.weights.h5")), "r")
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
    with weights:
        groups = weights.get("layers")
        if groups is None:
            return None
        used: dict[str, int] = {}
        layers = []
        for entry in config.get("config", {}).get("layers", []):
            kind = entry.get("class_name", "")
            if kind in ("Functional", "Sequential", "Model"):
                return None  # a nested network: its own layers are not counted here
            key = _snake_case(kind)
            count = used.get(key, 0)
            used[key] = count + 1
            group = groups.get(key if not count else f"{key}_{count}")
            if group is None:
                return None
            held = group.get("vars")
            layers.append(
                (entry.get("config", {}).get("name", key), bool(held is not None and len(held)))
            )
    return tuple(layers)


def _snake_case(name: str) -> str:
    """A class name as Keras names its weights' group ("MaxPooling1D" -> "max_pooling1d")."""
    name = re.sub(r"\W+", "", name)
    name = re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
